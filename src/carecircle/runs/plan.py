"""From a scenario's layers and reach to the siting model, and back to GeoDataFrames.

This is the run's side of the optimizer: it asks the run's network engine for the
reach of the candidate sites, builds the
:class:`~carecircle.siting.problem.SitingProblem` from the layers
(:meth:`~carecircle.siting.problem.SitingProblem.from_layers`, whose rules are
stated in :mod:`carecircle.siting.layers`), solves it, and returns the proposed
sites, the communities' status after the plan (recomputed from scratch on the
network with the new facilities, not copied from the model), the district table
after the plan, and the plan's cost and subsidies.

Decisions
---------
- Only communities on the walking network enter the model; the others are listed
  as unreachable.  With ``plan.allow_uncoverable`` (default) communities that no
  candidate can reach are exempted and listed, so a plan is still produced.
- New facilities are public (公办/公建民营); a shared building's floor area is split
  60 : 40 between elderly care and childcare.
- A new institution is its district's demonstration home when the district has
  fewer than the target and it is among the largest new eligible institutions there
  (``standards.demonstration_min_beds``).  New facilities say nothing (NaN) about beds,
  nursing beds or demonstration where today's facilities do not, so an indicator
  unknown today stays unknown after the plan.
- Villages (rural communities) are served for elderly care within the rural travel
  limit (``[rural]``): their rows of the elderly reach are computed at that limit.
- One id per site: a proposed site keeps its candidate's id in every table (the
  communities' ``*_facility_after`` columns name it as ``sites.csv`` does); what it hosts
  is the ``kinds`` column of ``sites.csv``.  Its snap distance and the type of the way
  it joins the network (``snap_m``, ``snap_way``) are in ``sites.csv`` too.
- The plan is costed with the scenario profile's subsidy schedule; a profile without
  one (``neutral``) gives no cost tables, only each site's cost.
- Targets the model has no constraint for (floor area per resident always; the bed
  targets where no candidate may host an institution or the facilities lack the data;
  the coverage shares and compliance in budget mode; any target the district targets
  are switched off for; the street share with a kindergarten running a 托班, which is
  assessed, not sited) are listed in the notes with their value after the
  plan: an "optimal" plan may miss them.
"""

from __future__ import annotations

import re
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from carecircle.assess.coverage import KIND_SOURCES, RURAL_SOURCES, status_kwargs
from carecircle.assess.indicators import STATUS_MARKS, district_indicators, value_text
from carecircle.errors import CarecircleError, InfeasibleError
from carecircle.inputs.scenario import Plan, Standards
from carecircle.network.snapping import snap_points, way_labels
from carecircle.outputs.results import RunOutputs
from carecircle.runs.context import Context, additions, committed_facilities
from carecircle.siting.costing import COST_ATTRIBUTES, cost_plan
from carecircle.siting.evaluate import PlanBasis
from carecircle.siting.layers import SHARED_ELDERLY_SHARE, CostParts, cost_parts, hosting
from carecircle.siting.problem import KINDS, SitingProblem
from carecircle.siting.result import SitingResult
from carecircle.siting.solve import solve_siting

SITE_COLUMNS = ["id", "name", "district", "kinds", "floor_area_m2", "acquisition", "cost_yuan",
                "building_yuan", "fitout_yuan", "shared_saving_yuan", "places_added",
                "beds_added", "nursing_beds_added", "demonstration",
                "communities_newly_served", "elderly_residents_newly_served",
                "childcare_residents_newly_served", "residents_newly_served", "snap_m", "snap_way",
                "geometry"]
FACILITY_COLUMNS = ["id", "name", "kind", "floor_area_m2", "beds", "places", "ownership",
                    "district", "nursing_beds", "demonstration", "geometry"]


def build_problem(ctx: Context, run: RunOutputs) -> tuple[SitingProblem, dict[str, Any]]:
    """The siting problem of a prepared scenario.

    Parameters
    ----------
    ctx
        A :class:`~carecircle.runs.context.Context` (scenario, inputs, network).
    run
        Today's assessment of the same context.

    Returns
    -------
    tuple
        The problem and a dict of helper arrays: ``candidates`` (the candidate
        frame, index = model column), ``places_new``, ``can_share`` and ``cost``
        per candidate, ``parts`` (:class:`~carecircle.siting.layers.CostParts`) and
        ``rural_home`` (candidates whose elderly care is a rural happiness home).

    Raises
    ------
    CarecircleError
        The scenario has no candidate sites.
    """
    scen, inputs = ctx.scenario, ctx.inputs
    on_net = run.communities["snapped"].to_numpy(dtype=bool)
    cand = inputs.get("candidates")
    if cand is None or not len(cand):
        raise CarecircleError("a plan needs candidate sites: add inputs.candidates to the scenario "
                              "规划需要候选场地")
    cand = cand.reset_index(drop=True)
    cover = _reach(ctx, run.communities, on_net, cand)
    comm = run.communities
    by_district = comm.groupby(comm["district"].astype(str))
    pop60 = by_district["pop_60plus"].sum().to_dict()
    capacity = None
    if scen.plan.capacity:
        from carecircle.runs.accounts import existing_cover
        from carecircle.siting.layers import capacity_arrays

        existing, ex_cover = existing_cover(ctx, comm, on_net)
        capacity = capacity_arrays(
            comm[on_net], cand, existing, ex_cover, standards=scen.standards,
            uptake={"elderly": scen.demand.elderly_uptake, "childcare": scen.demand.childcare_enrolment})
    problem = SitingProblem.from_layers(
        _committed_status(comm)[on_net], cand, cover,
        standards=scen.standards, targets=scen.targets, plan=scen.plan,
        facilities=committed_facilities(ctx), streets=inputs.get("streets"),
        extra_places=(ctx.extra or {}).get("places"), extra=additions(ctx.extra),
        pop_60plus=pop60, population=by_district["population"].sum().to_dict(),
        capacity=capacity,
    )
    rural_home = hosting(cand, scen.standards)["rural_home"]
    aux = {"candidates": cand, "places_new": problem.places_new,
           "can_share": np.isfinite(problem.cost_shared), "cost": problem.cost["elderly"],
           "parts": cost_parts(cand, scen.plan, rural_home), "rural_home": rural_home}
    return problem, aux


def _reach(ctx: Context, comm: pd.DataFrame, on_net: np.ndarray,
           cand: gpd.GeoDataFrame) -> dict[str, Any]:
    """The reach of the candidates: the walk, and the rural limit for villages' elderly care."""
    scen = ctx.scenario
    limits = {k: scen.walking.limit_m(k) for k in KINDS}
    rows = np.flatnonzero(on_net)
    cover = ctx.engine.cover(rows, ctx.inputs["communities"], cand, limits)
    rural = (comm["urban_rural"] != "urban").to_numpy()[rows]
    if rural.any():
        far = ctx.engine.cover(rows[rural], ctx.inputs["communities"], cand,
                               {"elderly": scen.rural.limit()})["elderly"]
        cover["elderly"] = replace_rows(cover["elderly"], np.flatnonzero(rural), far)
    return cover


def replace_rows(M: Any, rows: np.ndarray, new: Any) -> Any:
    """*M* (CSR) with its rows *rows* replaced by the rows of *new*, in order.

    Parameters
    ----------
    M
        A sparse matrix.
    rows
        Row positions in *M*.
    new
        A sparse matrix with ``len(rows)`` rows and *M*'s columns.

    Returns
    -------
    scipy.sparse.csr_matrix
    """
    import scipy.sparse as sp

    keep = np.ones(M.shape[0], bool)
    keep[rows] = False
    old = sp.diags(keep.astype(float)) @ sp.csr_matrix(M)
    moved = sp.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))),
                          shape=(M.shape[0], len(rows))) @ sp.csr_matrix(new)
    out = (old + moved).tocsr()
    out.data[:] = 1
    out.eliminate_zeros()
    return out


def proposed_facilities(result: SitingResult, cand: pd.DataFrame, places_new: np.ndarray,
                        standards: Standards, *, problem: SitingProblem | None = None,
                        aux: dict[str, Any] | None = None,
                        known: dict[str, bool] | None = None,
                        ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The plan's sites (one row per site) and the facilities they add (one per kind).

    Parameters
    ----------
    result
        The solved plan.
    cand
        The candidate frame of :func:`build_problem` (index = model column).
    places_new
        Places per candidate as the model counted them (kept for callers; the
        places of a site are recomputed from what it hosts).
    standards
        The scenario's standards (floor area per childcare place).
    problem
        The solved problem (beds of new institutions, the demonstration target);
        without it a site adds no beds.
    aux
        The helper arrays of :func:`build_problem` (the cost split, rural homes);
        without them a site's cost is not split.
    known
        Whether today's facilities give ``beds``, ``nursing_beds`` and
        ``demonstration``: where they do not, the new facilities leave them empty too.

    Returns
    -------
    tuple of GeoDataFrame
        Sites (:data:`SITE_COLUMNS`) and facilities (:data:`FACILITY_COLUMNS`), in
        the candidates' CRS.
    """
    opened = {k: set(map(int, v)) for k, v in result.opened.items()}
    sites = result.sites.set_index("candidate_id") if len(result.sites) else None
    aux = aux or {}
    known = {"beds": True, "nursing_beds": True, "demonstration": True, **(known or {})}
    rural_home = aux.get("rural_home", np.zeros(len(cand), bool))
    money = _SiteMoney(aux.get("parts"))
    demo = _demonstration_sites(problem, result.opened) if problem is not None else set()
    rows, facs = [], []
    for j in sorted(set().union(*opened.values())):
        c = cand.iloc[j]
        hosted = [k for k in ("elderly", "street_centre", "institution", "childcare")
                  if j in opened.get(k, set())]
        shared = "childcare" in hosted and len(hosted) > 1
        area = float(c["floor_area_m2"])
        s = sites.loc[str(c["id"])] if sites is not None and str(c["id"]) in sites.index else None
        places = float(np.floor(area * (1 - SHARED_ELDERLY_SHARE) / standards.childcare_m2_per_place)) \
            if shared else float(np.floor(area / standards.childcare_m2_per_place))
        places = places if "childcare" in hosted else 0.0
        inst = "institution" in hosted and problem is not None
        beds = float(problem.beds_new[j]) if inst and problem is not None else 0.0
        nursing = float(problem.nursing_new[j]) if inst and problem is not None else 0.0
        labels = ["rural_home" if k == "elderly" and rural_home[j] else k for k in hosted]
        rows.append({
            "id": str(c["id"]), "name": c.get("name", ""), "district": c["district"],
            "kinds": ";".join(labels), "floor_area_m2": area, "acquisition": c["acquisition"],
            "cost_yuan": float(s["cost"]) if s is not None else np.nan,
            **money.split(j, hosted, shared),
            "places_added": places, "beds_added": beds, "nursing_beds_added": nursing,
            "demonstration": j in demo,
            "communities_newly_served": int(s["communities_newly_served"]) if s is not None else 0,
            **{col: float(s[col]) if s is not None else 0.0 for col in (
                "elderly_residents_newly_served", "childcare_residents_newly_served",
                "residents_newly_served")},
            "snap_m": np.nan, "snap_way": "",
            "geometry": c.geometry,
        })
        for k, label in zip(hosted, labels, strict=True):
            k_area = area if not shared else area * (SHARED_ELDERLY_SHARE if k != "childcare" else 1 - SHARED_ELDERLY_SHARE)
            is_inst = k == "institution"
            # the site's own id: one id per site in every table, the kind in its column
            facs.append({"id": str(c["id"]), "name": c.get("name", ""), "kind": label,
                         "floor_area_m2": k_area,
                         "beds": beds if is_inst and known["beds"] else np.nan,
                         "places": places if k == "childcare" else np.nan,
                         "ownership": "public", "district": c["district"],
                         "nursing_beds": nursing if is_inst and known["nursing_beds"] else np.nan,
                         "demonstration": (j in demo) if is_inst and known["demonstration"] else np.nan,
                         "geometry": c.geometry})
    crs = cand.crs
    site_gdf = gpd.GeoDataFrame(pd.DataFrame(rows, columns=SITE_COLUMNS), geometry="geometry", crs=crs)
    fac_gdf = gpd.GeoDataFrame(pd.DataFrame(facs, columns=FACILITY_COLUMNS), geometry="geometry", crs=crs)
    return site_gdf, fac_gdf


class _SiteMoney:
    """A site's cost split: the building once, the fit-out of what it hosts, the saving."""

    def __init__(self, parts: CostParts | None) -> None:
        self.parts = parts
        self.fit = {} if parts is None else {k: parts.fitout(k) for k in parts.fitout_rate}

    def split(self, j: int, hosted: list[str], shared: bool) -> dict[str, float]:
        if self.parts is None:
            return dict.fromkeys(("building_yuan", "fitout_yuan", "shared_saving_yuan"), np.nan)
        if shared:
            partner = hosted[0]
            fit = float(self.fit[partner][j] * SHARED_ELDERLY_SHARE
                        + self.fit["childcare"][j] * (1 - SHARED_ELDERLY_SHARE))
            saving = self.parts.saving * fit
        else:
            fit, saving = float(sum(self.fit[k][j] for k in hosted)), 0.0
        return {"building_yuan": round(float(self.parts.building[j]), 2),
                "fitout_yuan": round(fit, 2), "shared_saving_yuan": round(saving, 2)}


def _demonstration_sites(problem: SitingProblem, opened: dict[str, np.ndarray]) -> set[int]:
    """New institutions that are their district's demonstration home: where the district has
    fewer than the target, the largest eligible ones (then by candidate order)."""
    out: set[int] = set()
    inst = np.asarray(opened.get("institution", []), dtype=np.int64)
    for d in pd.unique(problem.candidate_district[inst]):
        mn = problem.target(d, "min_demonstration")
        if mn is None:
            continue
        need = int(np.ceil(mn - (problem.target(d, "existing_demonstration") or 0.0) - 1e-9))
        ok = [j for j in inst if problem.candidate_district[j] == d and problem.demonstration_new[j]]
        ok.sort(key=lambda j: (-problem.beds_new[j], j))
        out.update(int(j) for j in ok[:max(need, 0)])
    return out


def plan_context(ctx: Context, run: RunOutputs, *, quiet: bool = False,
                 problem: tuple[SitingProblem, dict[str, Any]] | None = None) -> RunOutputs:
    """Solve the siting plan for a prepared context and fill the run's plan outputs.

    Parameters
    ----------
    ctx
        The prepared :class:`~carecircle.runs.context.Context`.
    run
        Today's assessment (:func:`carecircle.runs.pipeline.assess_context`).
    quiet
        No progress output.
    problem
        The result of :func:`build_problem` for this ``ctx`` and ``run``, to reuse
        (a budget sweep changes only the budget, not the reach); default: built here.

    Returns
    -------
    RunOutputs
        ``run`` with ``sites``, ``districts_after``, ``costs``, the ``*_after``
        community columns, the proposed isochrones and headline numbers.

    Raises
    ------
    InfeasibleError
        No plan meets the scenario (the explanation says why).
    """
    scen, inputs = ctx.scenario, ctx.inputs
    siting, aux = build_problem(ctx, run) if problem is None else problem
    result = _solve(siting, scen.plan)
    notes = list(run.notes) + _solver_notes(siting, result)
    details = list(run.details) + [f"problem reduction 问题约简: {result.reduction}"]
    start_fac = committed_facilities(ctx)
    sites, new_fac = proposed_facilities(result, aux["candidates"], aux["places_new"],
                                         scen.standards, problem=siting, aux=aux,
                                         known=_known(start_fac))
    sites = _with_snaps(ctx, sites)
    all_fac = _all_facilities(start_fac, new_fac, inputs.crs)
    comm = _status_after(ctx, run, all_fac)
    notes += _mismatch_notes(result, comm) + _bed_notes(siting, run)
    from carecircle.runs.accounts import account_after, site_loads

    sites = _with_street(sites, inputs.get("streets"))
    accounts = account_after(ctx, comm, all_fac, siting, result.mode, sites, run.facilities)
    comm = accounts.communities
    sites = site_loads(sites, accounts.facilities, scen.standards)
    notes += accounts.notes
    table_after = district_indicators(
        comm, all_fac, inputs["districts"], streets=inputs.get("streets"), targets=scen.targets,
        served_col="served_after", extra=additions(ctx.extra),
        stock_known=inputs.get("facilities") is not None,
        tuoban_as_childcare=scen.standards.kindergarten_tuoban_as_childcare,
    )
    notes += unenforced_notes(siting, scen.plan.mode, table_after)
    costs = None
    if len(sites) and scen.profile.subsidies is not None:
        cost_in = _with_cost_attributes(sites.drop(columns=["geometry", "snap_m", "snap_way"]).rename(
            columns={"places_added": "places", "beds_added": "beds"}), aux["candidates"])
        priced = cost_plan(cost_in, unit_costs=scen.plan.unit_costs,
                           schedule=scen.profile.subsidies,
                           operation_years=scen.plan.operation_years)
        costs = priced.tables()
        details += [f"costing 费用测算: {n}" for n in priced.notes]
    elif len(sites):
        notes.append(f"profile {scen.profile.name}: no subsidy schedule, costs are the sites' own "
                     "规划参数无补助表, 费用为场地造价")
    return RunOutputs(
        scenario=scen, inputs=inputs, communities=comm, districts_before=run.districts_before,
        districts_after=table_after, sites=sites, costs=costs,
        isochrones=_isochrones_after(ctx, run, new_fac),
        headline={**_headline(run, comm, sites, result, costs, scen.plan), **accounts.headline},
        notes=notes, details=details, unreachable=run.unreachable, network=run.network,
        facilities=accounts.facilities, streets=accounts.streets,
        districts_committed=run.districts_committed,
        basis=PlanBasis(siting, result.opened, aux["candidates"]),
    )


def _with_street(sites: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """The sites with the street/town (``street``) each lies in (None outside every street)."""
    from carecircle.assess.indicators import street_of_points

    out = sites.copy()
    pos = list(out.columns).index("district") + 1 if "district" in out else len(out.columns)
    street = street_of_points(out, streets).astype(object) if len(out) else pd.Series([], dtype=object)
    out.insert(pos, "street", street.where(street.notna(), None).to_numpy() if len(out) else [])
    return out


def _with_cost_attributes(sites: pd.DataFrame, cand: pd.DataFrame) -> pd.DataFrame:
    """The sites with the candidates' attributes some subsidies need (meal point, care-home
    upgrade, medical service, childcare star rating ...), where the candidates give them."""
    cols = [c for c in COST_ATTRIBUTES if c in cand.columns]
    if not cols or not len(sites):
        return sites
    attrs = cand.drop_duplicates("id").set_index(cand["id"].astype(str))[cols]
    return sites.join(attrs, on="id")


def _known(fac: gpd.GeoDataFrame | None) -> dict[str, bool]:
    """Which bed columns today's (and the committed) facilities give at all."""
    cols = ("beds", "nursing_beds", "demonstration")
    if fac is None:
        return dict.fromkeys(cols, False)
    return {c: bool(c in fac and fac[c].notna().any()) for c in cols}


def _committed_status(comm: pd.DataFrame) -> pd.DataFrame:
    """The communities as the plan starts: served as in the committed state when there is one."""
    if "elderly_served_committed" not in comm:
        return comm
    return comm.assign(**{f"{k}_served": comm[f"{k}_served_committed"] for k in KINDS})


def _bed_notes(problem: SitingProblem, run: RunOutputs) -> list[str]:
    """Why the bed targets were not planned, when they fail and no candidate may host an
    institution."""
    if problem.can_host["institution"].any():
        return []
    t = run.districts_committed if run.districts_committed is not None else run.districts_before
    failing = t[t["indicator"].isin(("public_beds", "nursing_share", "demonstration_home"))
                & (t["status"] == "fail") & (t["district"] != "city")]
    if not len(failing):
        return []
    return ["bed targets (public beds, nursing share, demonstration home) fail in "
            f"{failing['district'].nunique()} district(s) but no candidate may host an elderly "
            "institution (kinds 'institution'): they are assessed, not planned "
            "床位类目标未达标, 但无可建养老机构的候选场地, 仅评估未规划"]


def _with_snaps(ctx: Context, sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The sites with where they join the network: ``snap_m`` and ``snap_way``."""
    if not len(sites):
        return sites
    snapped = snap_points(ctx.net, sites, max_snap_m=ctx.scenario.walking.max_snap_m,
                          source="candidates")
    out = sites.copy()
    out["snap_m"] = np.where(snapped.ok, snapped.connector, np.nan)
    out["snap_way"] = way_labels(ctx.net, snapped)
    return out


#: District indicator -> the model's target column that enforces it (see
#: :func:`carecircle.siting.problem.make_district_targets`); ``None``: no constraint.
_ENFORCED_BY: dict[str, str | None] = {
    "urban_elderly": "urban_cov", "rural_elderly": "rural_cov", "compliance": None,
    "street_centre": "street_centre_share", "childcare_places": "places_per_1000",
    "public_childcare": "min_total_childcare", "public_beds": "beds_share",
    "nursing_share": "nursing_share", "demonstration_home": "min_demonstration",
    "elderly_area": None,
    # assessed, not sited: a 托班 opens in an existing kindergarten (docs/plan.md)
    "kindergarten_tuoban": None,
}


def unenforced_notes(problem: SitingProblem, mode: str, table: pd.DataFrame) -> list[str]:
    """The targets the model did not enforce, each with its value after the plan.

    Parameters
    ----------
    problem
        The siting problem solved (its ``district_targets`` are the constraints).
    mode
        ``cover_all`` (every reachable community served: the coverage shares and
        compliance are implied) or ``budget``.
    table
        The district indicators after the plan.

    Returns
    -------
    list of str
        One note per indicator with a target the model has no constraint for: its
        target, and each district's value and status after the plan.
    """
    columns = set(problem.district_targets.columns)
    notes = []
    for key in dict.fromkeys(table["indicator"]):
        col = _ENFORCED_BY.get(key)
        implied = mode == "cover_all" and key in ("urban_elderly", "rural_elderly", "compliance")
        if implied or (col is not None and col in columns):
            continue
        rows = table[table["indicator"] == key]
        first = rows.iloc[0]
        cells = []
        for r in rows.itertuples():
            # a target in people (beds) differs per district: show it beside the value
            need = f" / {value_text(r.target, r.unit)}" if r.unit == "beds" else ""
            cells.append(f"{r.district_name} {value_text(r.value, r.unit)}{need} "
                         f"{STATUS_MARKS.get(str(r.status), r.status)}")
        target = re.sub(r" \(.*\)$", "", str(first["target_text"]))
        notes.append(f"not enforced by the plan 规划模型未约束: {first['label']} (target 目标 "
                     f"{target}), after the plan 规划后: {'; '.join(cells)}")
    return notes


def _solve(problem: SitingProblem, p: Plan) -> SitingResult:
    """Solve with the scenario's ``[plan]``; no plan at all is an error that says why."""
    result = solve_siting(
        problem, mode=p.mode, budget=p.budget_yuan if p.mode == "budget" else None,
        time_limit=p.time_limit_s, mip_gap=p.mip_gap, allow_uncoverable=p.allow_uncoverable,
        method=p.method, gap_target=p.gap_target, exact_max_columns=p.exact_max_columns,
    )
    if result.status == "infeasible" or not result.has_solution:
        raise InfeasibleError(
            "no siting plan meets the scenario 无可行方案:\n"
            + (str(result.explanation) if result.explanation else result.message)
        )
    return result


def _solver_notes(problem: SitingProblem, result: SitingResult) -> list[str]:
    """The solver's outcome, and the communities no candidate can reach."""
    notes = [f"solver 求解器 HiGHS ({result.method}): status {result.status}, objective "
             f"{result.objective:,.2f}, bound {result.bound:,.2f} ({result.bound_source}), "
             f"gap {result.gap:.4%}, {result.seconds:.1f} s"]
    if result.status == "time_limit":
        notes.append("the solver stopped at its time limit: this is the best plan found, not proven "
                     "optimal; the optimum lies between the bound and the plan "
                     "达到求解时间上限, 为当前最优方案, 最优值介于下界与本方案之间")
    elif result.status == "gap_target":
        notes.append(f"the plan is proved within {result.gap:.2%} of the best possible (the bound) "
                     "and the solver stopped there (plan.gap_target) 已证明方案与最优值之差不超过目标差距")
    for kind in KINDS:
        reach = problem.cover[kind].getnnz(axis=1) > 0
        if kind == "elderly":
            reach |= problem.cover["street_centre"].getnnz(axis=1) > 0
        idx = np.flatnonzero(~reach & ~problem.existing_served[kind])
        if len(idx):
            ids = [str(i) for i in problem.community_ids[idx[:20]]]
            notes.append(f"{len(idx)} communities cannot be reached by any {kind} candidate site within "
                         f"the walk and stay unserved 无候选场地可达 ({kind}): {', '.join(ids)}"
                         + (" ..." if len(idx) > 20 else ""))
    return notes


def _all_facilities(fac: gpd.GeoDataFrame | None, new_fac: gpd.GeoDataFrame,
                    crs: Any) -> gpd.GeoDataFrame:
    """Today's (and the committed) facilities and the plan's new ones, in one layer."""
    all_fac = new_fac if fac is None else pd.concat(
        [fac.reindex(columns=new_fac.columns.tolist()), new_fac], ignore_index=True)
    return gpd.GeoDataFrame(all_fac, geometry="geometry", crs=crs)


def _status_after(ctx: Context, run: RunOutputs, all_fac: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The communities with their ``*_after`` columns, recomputed on the network from scratch:
    the plan's claims are checked, not copied."""
    after = ctx.engine.community_status(ctx.inputs["communities"], all_fac,
                                          **status_kwargs(ctx.scenario))
    comm = run.communities.copy()
    for k in KINDS:
        comm[f"{k}_served_after"] = after[f"{k}_served"].to_numpy()
        comm[f"{k}_facility_after"] = after[f"{k}_facility"].to_numpy()
    comm["status_after"] = after["status"].to_numpy()
    return comm


def _mismatch_notes(result: SitingResult, comm: pd.DataFrame) -> list[str]:
    """A warning when the recomputation serves fewer communities than the model claims."""
    claimed = result.served
    mismatch: list[Any] = []
    for k in KINDS:
        col = f"{k}_after"
        if col in claimed.columns:
            model = claimed[col].reindex(comm["id"].astype(str)).fillna(False).to_numpy(dtype=bool)
            bad = model & ~comm[f"{k}_served_after"].to_numpy(dtype=bool)
            mismatch += list(comm["id"].to_numpy()[bad])
    if not mismatch:
        return []
    return [f"WARNING: {len(mismatch)} communities the model counts as served are not served "
            f"on recomputation: {mismatch[:10]}"]


def _isochrones_after(ctx: Context, run: RunOutputs,
                      new_fac: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    """Today's served areas plus one walk zone per proposed facility (``proposed_<kind>``).

    The zones are concave hulls of what each site reaches (``method="hull"``, see
    :mod:`carecircle.network.isochrones`): a few milliseconds and some 70 vertices per
    site, so 1,800 proposed sites make a map that still opens; no table depends on them.
    """
    w = ctx.scenario.walking
    iso = dict(run.isochrones)
    for kind in KINDS:
        sel = new_fac[new_fac["kind"].isin(RURAL_SOURCES if kind == "elderly" else KIND_SOURCES[kind])]
        if len(sel):
            iso[f"proposed_{kind}"] = ctx.engine.isochrones(
                sel, w.limit_m(kind), buffer_m=w.isochrone_buffer_m, source="proposed",
                ids=sel["id"].to_numpy(), method="hull")
    return iso


def _headline(run: RunOutputs, comm: pd.DataFrame, sites: gpd.GeoDataFrame, result: SitingResult,
              costs: dict[str, pd.DataFrame] | None, p: Plan) -> dict[str, Any]:
    """The run's headline numbers with the plan's."""
    headline = dict(run.headline)
    headline.update({
        "served_both_after": int((comm["status_after"] == "both").sum()),
        "served_elderly_after": int(comm["elderly_served_after"].sum()),
        "served_childcare_after": int(comm["childcare_served_after"].sum()),
        "sites": int(len(sites)),
        "cost_yuan": float(sites["cost_yuan"].sum()) if len(sites) else 0.0,
        "beds_added": float(sites["beds_added"].sum()) if len(sites) else 0.0,
        "solver_status": result.status,
        "gap": float(result.gap),
        "mode": p.mode,
    })
    if costs is not None:
        tot = costs["total"].iloc[0]
        headline["subsidy_yuan"] = float(tot.get("subsidy_total_yuan", np.nan))
        headline["subsidy_city_yuan"] = float(tot.get("city_yuan", np.nan))
    if p.mode == "budget":
        headline["budget_yuan"] = float(p.budget_yuan)
    return headline
