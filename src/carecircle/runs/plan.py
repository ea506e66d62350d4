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
- One id per site: a proposed site keeps its candidate's id in every table (the
  communities' ``*_facility_after`` columns name it as ``sites.csv`` does); what it hosts
  is the ``kinds`` column of ``sites.csv``.  Its snap distance and the type of the way
  it joins the network (``snap_m``, ``snap_way``) are in ``sites.csv`` too.
- The plan is costed with the scenario profile's subsidy schedule; a profile without
  one (``neutral``) gives no cost tables, only each site's cost.
- Targets the model has no constraint for (public beds and floor area per resident
  always; the coverage shares and compliance in budget mode; any target the district
  targets are switched off for; the street share with a kindergarten running a 托班,
  which is assessed, not sited) are listed in the notes with their value after the
  plan: an "optimal" plan may miss them.
"""

from __future__ import annotations

import re
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from carecircle.assess.coverage import KIND_SOURCES, status_kwargs
from carecircle.assess.indicators import STATUS_MARKS, district_indicators, value_text
from carecircle.errors import CarecircleError, InfeasibleError
from carecircle.inputs.scenario import Plan, Standards
from carecircle.network.snapping import snap_points, way_labels
from carecircle.outputs.results import RunOutputs
from carecircle.runs.context import Context
from carecircle.siting.costing import cost_plan
from carecircle.siting.evaluate import PlanBasis
from carecircle.siting.layers import SHARED_ELDERLY_SHARE
from carecircle.siting.problem import KINDS, SitingProblem
from carecircle.siting.result import SitingResult
from carecircle.siting.solve import solve_siting

SITE_COLUMNS = ["id", "name", "district", "kinds", "floor_area_m2", "acquisition", "cost_yuan",
                "places_added", "communities_newly_served", "elderly_residents_newly_served",
                "childcare_residents_newly_served", "residents_newly_served", "snap_m", "snap_way",
                "geometry"]
FACILITY_COLUMNS = ["id", "name", "kind", "floor_area_m2", "beds", "places", "ownership",
                    "district", "geometry"]


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
        per candidate.

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
    limits = {k: scen.walking.limit_m(k) for k in KINDS}
    cover = ctx.engine.cover(np.flatnonzero(on_net), inputs["communities"], cand, limits)
    capacity = None
    if scen.plan.capacity:
        from carecircle.runs.accounts import existing_cover
        from carecircle.siting.layers import capacity_arrays

        existing, ex_cover = existing_cover(ctx, on_net)
        capacity = capacity_arrays(
            run.communities[on_net], cand, existing, ex_cover, standards=scen.standards,
            uptake={"elderly": scen.demand.elderly_uptake, "childcare": scen.demand.childcare_enrolment})
    problem = SitingProblem.from_layers(
        run.communities[on_net], cand, cover,
        standards=scen.standards, targets=scen.targets, plan=scen.plan,
        facilities=inputs.get("facilities"), streets=inputs.get("streets"),
        extra_places=(ctx.extra or {}).get("places"), capacity=capacity,
    )
    problem = _all_residents(problem, run.communities)
    aux = {"candidates": cand, "places_new": problem.places_new,
           "can_share": np.isfinite(problem.cost_shared), "cost": problem.cost["elderly"]}
    return problem, aux


def _all_residents(problem: SitingProblem, communities: pd.DataFrame) -> SitingProblem:
    """The places-per-1,000 target counted on every resident of the district, as the
    district indicators count it, not only those of the communities on the network."""
    dt = problem.district_targets
    if "population" not in dt.columns:
        return problem
    pop = communities.groupby(communities["district"].astype(str))["population"].sum()
    dt = dt.assign(population=pop.reindex(dt.index.astype(str)).fillna(0.0).to_numpy())
    return problem.with_changes(district_targets=dt)


def proposed_facilities(result: SitingResult, cand: pd.DataFrame, places_new: np.ndarray,
                        standards: Standards) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
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

    Returns
    -------
    tuple of GeoDataFrame
        Sites (:data:`SITE_COLUMNS`) and facilities (:data:`FACILITY_COLUMNS`), in
        the candidates' CRS.
    """
    opened = result.opened
    rows, facs = [], []
    sites = result.sites.set_index("candidate_id") if len(result.sites) else None
    for j in sorted(set().union(*[set(map(int, v)) for v in opened.values()])):
        c = cand.iloc[j]
        hosted = [k for k in ("elderly", "street_centre", "childcare") if j in set(map(int, opened.get(k, [])))]
        shared = "childcare" in hosted and len(hosted) > 1
        area = float(c["floor_area_m2"])
        s = sites.loc[str(c["id"])] if sites is not None and str(c["id"]) in sites.index else None
        places = float(np.floor(area * (1 - SHARED_ELDERLY_SHARE) / standards.childcare_m2_per_place)) \
            if shared else float(np.floor(area / standards.childcare_m2_per_place))
        places = places if "childcare" in hosted else 0.0
        rows.append({
            "id": str(c["id"]), "name": c.get("name", ""), "district": c["district"],
            "kinds": ";".join(hosted), "floor_area_m2": area, "acquisition": c["acquisition"],
            "cost_yuan": float(s["cost"]) if s is not None else np.nan,
            "places_added": places,
            "communities_newly_served": int(s["communities_newly_served"]) if s is not None else 0,
            **{col: float(s[col]) if s is not None else 0.0 for col in (
                "elderly_residents_newly_served", "childcare_residents_newly_served",
                "residents_newly_served")},
            "snap_m": np.nan, "snap_way": "",
            "geometry": c.geometry,
        })
        for k in hosted:
            k_area = area if not shared else area * (SHARED_ELDERLY_SHARE if k != "childcare" else 1 - SHARED_ELDERLY_SHARE)
            # the site's own id: one id per site in every table, the kind in its column
            facs.append({"id": str(c["id"]), "name": c.get("name", ""), "kind": k,
                         "floor_area_m2": k_area, "beds": np.nan,
                         "places": places if k == "childcare" else np.nan,
                         "ownership": "public", "district": c["district"], "geometry": c.geometry})
    crs = cand.crs
    site_gdf = gpd.GeoDataFrame(pd.DataFrame(rows, columns=SITE_COLUMNS), geometry="geometry", crs=crs)
    fac_gdf = gpd.GeoDataFrame(pd.DataFrame(facs, columns=FACILITY_COLUMNS), geometry="geometry", crs=crs)
    return site_gdf, fac_gdf


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
    sites, new_fac = proposed_facilities(result, aux["candidates"], aux["places_new"], scen.standards)
    sites = _with_snaps(ctx, sites)
    all_fac = _all_facilities(inputs.get("facilities"), new_fac, inputs.crs)
    comm = _status_after(ctx, run, all_fac)
    notes += _mismatch_notes(result, comm)
    from carecircle.runs.accounts import account_after, site_loads

    sites = _with_street(sites, inputs.get("streets"))
    accounts = account_after(ctx, comm, all_fac, siting, result.mode, sites, run.facilities)
    comm = accounts.communities
    sites = site_loads(sites, accounts.facilities, scen.standards)
    notes += accounts.notes
    extra = ctx.extra or {}
    table_after = district_indicators(
        comm, all_fac, inputs["districts"], streets=inputs.get("streets"), targets=scen.targets,
        served_col="served_after", extra_beds=extra.get("beds"), extra_places=extra.get("places"),
        extra_area=extra.get("area"), extra_public_childcare=extra.get("public_childcare"),
        stock_known=inputs.get("facilities") is not None,
        tuoban_as_childcare=scen.standards.kindergarten_tuoban_as_childcare,
    )
    notes += unenforced_notes(siting, scen.plan.mode, table_after)
    costs = None
    if len(sites) and scen.profile.subsidies is not None:
        cost_in = sites.drop(columns=["geometry", "snap_m", "snap_way"]).rename(
            columns={"places_added": "places"})
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
    "public_childcare": "min_total_childcare", "public_beds": None, "elderly_area": None,
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
    """Today's facilities and the plan's new ones, in one layer."""
    all_fac = new_fac if fac is None else pd.concat([fac[new_fac.columns.tolist()], new_fac],
                                                    ignore_index=True)
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
        sel = new_fac[new_fac["kind"].isin(KIND_SOURCES[kind])]
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
