"""From a scenario's layers and reach to the siting model, and back to GeoDataFrames.

This is the ``from_geodataframe`` entry of the optimizer: it turns the validated
layers, the walking network and today's coverage into a
:class:`~carecircle.siting.problem.SitingProblem`, solves it, and returns the proposed
sites, the communities' status after the plan (recomputed from scratch on the
network with the new facilities, not copied from the model), the district table
after the plan, and the plan's cost and subsidies.

Decisions
---------
- Only communities on the walking network enter the model; the others are listed
  as unreachable.  With ``plan.allow_uncoverable`` (default) communities that no
  candidate can reach are exempted and listed, so a plan is still produced.
- A candidate hosts a kind only when its floor area meets the kind's standard
  (elderly 300 m², childcare 200 m²; a street centre needs the elderly standard).
- Cost of a candidate: its ``cost_yuan``, else unit cost per m² of its acquisition
  type times its floor area.  Hosting elderly care *and* childcare in one building
  (floor area >= ``shared_min_area_m2``) costs ``shared_building_cost_factor`` x
  (the two costs).  In a shared building elderly care takes 60 % of the floor area
  and childcare 40 % (300 : 200), so both meet the standard at 500 m².
- New childcare places = childcare floor area / ``childcare_m2_per_place``; for a
  candidate that may share, the model counts the shared (40 %) area, a lower bound.
- New facilities are public (公办/公建民营): they count for the public-childcare
  target.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from carecircle.assess.coverage import KIND_SOURCES, status_kwargs
from carecircle.assess.indicators import PUBLIC, district_indicators, street_of_points
from carecircle.outputs.results import RunOutputs
from carecircle.siting.problem import SitingProblem, make_district_targets
from carecircle.siting.result import SitingResult
from carecircle.siting.solve import solve_siting

SHARED_ELDERLY_SHARE = 0.6


def candidate_costs(candidates: pd.DataFrame, unit_costs: dict[str, float]) -> np.ndarray:
    """Cost per candidate: ``cost_yuan``, else unit cost of its acquisition x floor area."""
    cost = candidates["cost_yuan"].to_numpy(dtype=float)
    unit = candidates["acquisition"].map(unit_costs).to_numpy(dtype=float)
    area = candidates["floor_area_m2"].to_numpy(dtype=float)
    return np.where(np.isnan(cost), unit * area, cost)


def _street_of(points: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None, col: str | None):
    if col is not None and col in points.columns and points[col].notna().any():
        return points[col].astype(object).where(points[col].notna(), None).to_numpy()
    if streets is None or not streets.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        return None
    return street_of_points(points, streets).astype(object).to_numpy()


def build_problem(ctx, run: RunOutputs) -> tuple[SitingProblem, dict]:
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
        The problem and a dict of helper arrays (community positions in the full
        table, the candidate frame, places per candidate).
    """
    scen, inputs = ctx.scenario, ctx.inputs
    w, st, t = scen.walking, scen.standards, scen.targets
    comm_all = run.communities
    on_net = comm_all["snapped"].to_numpy(dtype=bool)
    comm = comm_all[on_net]
    cand = inputs.get("candidates")
    if cand is None or not len(cand):
        from carecircle.errors import CarecircleError

        raise CarecircleError("a plan needs candidate sites: add inputs.candidates to the scenario "
                              "规划需要候选场地")
    cand = cand.reset_index(drop=True)
    area = cand["floor_area_m2"].to_numpy(dtype=float)
    kinds = cand["kinds"].astype(str).str.split(";")
    has = {k: kinds.map(lambda ks, k=k: k in ks).to_numpy(dtype=bool) for k in ("elderly", "childcare", "street_centre")}
    can_host = {
        "elderly": has["elderly"] & (area >= st.elderly_min_area_m2),
        "childcare": has["childcare"] & (area >= st.childcare_min_area_m2),
        "street_centre": has["street_centre"] & (area >= st.elderly_min_area_m2),
    }
    cover = ctx.engine.cover(np.flatnonzero(on_net), inputs["communities"], cand,
                             {k: w.limit_m(k) for k in ("elderly", "childcare")})
    base = candidate_costs(cand, scen.plan.unit_costs)
    can_share = can_host["elderly"] & can_host["childcare"] & (area >= st.shared_min_area_m2)
    cost_shared = np.where(can_share, st.shared_building_cost_factor * 2.0 * base, np.nan)
    child_area = np.where(can_share, area * (1.0 - SHARED_ELDERLY_SHARE), area)
    places_new = np.floor(child_area / st.childcare_m2_per_place)
    streets = inputs.get("streets")
    comm_street = _street_of(comm, streets, "street")
    cand_street = _street_of(cand, streets, None)
    fac = inputs.get("facilities")
    centre_streets = np.zeros(0, dtype=object)
    existing_places: dict = {}
    public_childcare: dict = {}
    if fac is not None and len(fac):
        fst = _street_of(fac, streets, None)
        if fst is not None:
            centre_streets = np.unique([s for s, k in zip(fst, fac["kind"], strict=True)
                                        if k == "street_centre" and s is not None])
        child = fac[fac["kind"] == "childcare"]
        existing_places = child.groupby("district")["places"].sum(min_count=1).to_dict()
        pub = child[child["ownership"].isin(PUBLIC)]
        public_childcare = pub.groupby("district").size().astype(float).to_dict()
    extra = getattr(ctx, "extra", {}) or {}
    for d, v in extra.get("places", {}).items():
        existing_places[d] = existing_places.get(d, 0.0) + v
    places_known = fac is not None and "places" in fac and fac["places"].notna().any()
    n_streets = None
    if streets is not None:
        n_streets = streets.groupby(streets["district"].astype(str)).size().astype(float).to_dict()
    problem = SitingProblem(
        community_ids=comm["id"].astype(str).to_numpy(),
        district=comm["district"].astype(str).to_numpy(),
        urban=(comm["urban_rural"] == "urban").to_numpy(),
        weight={k: comm[scen.plan.weights[k]].to_numpy(dtype=float) for k in ("elderly", "childcare")},
        cover=cover,
        candidate_ids=cand["id"].astype(str).to_numpy(),
        candidate_district=cand["district"].astype(str).to_numpy(),
        can_host=can_host,
        cost=dict.fromkeys(("elderly", "childcare", "street_centre"), base),
        existing_served={k: comm[f"{k}_served"].to_numpy(dtype=bool) for k in ("elderly", "childcare")},
        cost_shared=cost_shared,
        places_new=places_new,
        population=comm["population"].to_numpy(dtype=float),
        street=comm_street,
        candidate_street=cand_street,
        streets_with_centre=centre_streets,
        required=list(scen.plan.required) or None,
        excluded=list(scen.plan.excluded) or None,
    )
    if scen.plan.district_targets:
        problem = problem.with_changes(district_targets=make_district_targets(
            problem,
            urban_cov=t.urban_elderly_coverage,
            rural_cov=t.rural_elderly_coverage,
            street_centre_share=t.street_centre_coverage if streets is not None else None,
            places_per_1000=t.childcare_places_per_1000 if places_known else None,
            existing_places=existing_places,
            min_total={"childcare": t.public_childcare_per_district} if fac is not None else None,
            existing_counts={"childcare": public_childcare},
            n_streets=n_streets,
        ))
    return problem, {"candidates": cand, "places_new": places_new, "can_share": can_share,
                     "cost": base}


def proposed_facilities(result: SitingResult, cand: pd.DataFrame, places_new: np.ndarray,
                        standards) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The plan's sites (one row per site) and the facilities they add (one per kind)."""
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
            "residents_newly_served": float(s["residents_newly_served"]) if s is not None else 0.0,
            "geometry": c.geometry,
        })
        for k in hosted:
            k_area = area if not shared else area * (SHARED_ELDERLY_SHARE if k != "childcare" else 1 - SHARED_ELDERLY_SHARE)
            facs.append({"id": f"{c['id']}:{k}", "name": c.get("name", ""), "kind": k,
                         "floor_area_m2": k_area, "beds": np.nan,
                         "places": places if k == "childcare" else np.nan,
                         "ownership": "public", "district": c["district"], "geometry": c.geometry})
    crs = cand.crs
    cols = ["id", "name", "district", "kinds", "floor_area_m2", "acquisition", "cost_yuan",
            "places_added", "communities_newly_served", "residents_newly_served", "geometry"]
    site_gdf = gpd.GeoDataFrame(pd.DataFrame(rows, columns=cols), geometry="geometry", crs=crs)
    fcols = ["id", "name", "kind", "floor_area_m2", "beds", "places", "ownership", "district", "geometry"]
    fac_gdf = gpd.GeoDataFrame(pd.DataFrame(facs, columns=fcols), geometry="geometry", crs=crs)
    return site_gdf, fac_gdf


def plan_context(ctx, run: RunOutputs, *, quiet: bool = False,
                 problem: tuple[SitingProblem, dict] | None = None) -> RunOutputs:
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
    """
    from carecircle.siting.costing import cost_plan

    scen, inputs = ctx.scenario, ctx.inputs
    problem, aux = build_problem(ctx, run) if problem is None else problem
    p = scen.plan
    result = solve_siting(
        problem, mode=p.mode, budget=p.budget_yuan if p.mode == "budget" else None,
        time_limit=p.time_limit_s, mip_gap=p.mip_gap, allow_uncoverable=p.allow_uncoverable,
    )
    notes = list(run.notes)
    notes.append(f"solver 求解器 HiGHS: status {result.status}, objective {result.objective:,.2f}, "
                 f"bound {result.bound:,.2f}, gap {result.gap:.4%}, {result.seconds:.1f} s")
    red = result.reduction
    details = list(run.details) + [f"problem reduction 问题约简: {red}"]
    if result.status == "infeasible" or not result.has_solution:
        from carecircle.errors import InfeasibleError

        raise InfeasibleError(
            "no siting plan meets the scenario 无可行方案:\n"
            + (str(result.explanation) if result.explanation else result.message)
        )
    if result.status == "time_limit":
        notes.append("the solver stopped at its time limit: this is the best plan found, not proven "
                     "optimal 达到求解时间上限, 为当前最优方案")
    for kind in ("elderly", "childcare"):
        reach = problem.cover[kind].getnnz(axis=1) > 0
        if kind == "elderly":
            reach |= problem.cover["street_centre"].getnnz(axis=1) > 0
        idx = np.flatnonzero(~reach & ~problem.existing_served[kind])
        if len(idx):
            ids = [str(i) for i in problem.community_ids[idx[:20]]]
            notes.append(f"{len(idx)} communities cannot be reached by any {kind} candidate site within "
                         f"the walk and stay unserved 无候选场地可达 ({kind}): {', '.join(ids)}"
                         + (" ..." if len(idx) > 20 else ""))
    sites, new_fac = proposed_facilities(result, aux["candidates"], aux["places_new"], scen.standards)
    fac = inputs.get("facilities")
    all_fac = new_fac if fac is None else pd.concat([fac[new_fac.columns.tolist()], new_fac],
                                                    ignore_index=True)
    all_fac = gpd.GeoDataFrame(all_fac, geometry="geometry", crs=inputs.crs)
    # Recompute the reach from scratch with the new facilities: the plan's claims are checked.
    w = scen.walking
    districts = inputs["districts"]
    after = ctx.engine.community_status(inputs["communities"], all_fac, **status_kwargs(scen))
    comm = run.communities.copy()
    for k in ("elderly", "childcare"):
        comm[f"{k}_served_after"] = after[f"{k}_served"].to_numpy()
        comm[f"{k}_facility_after"] = after[f"{k}_facility"].to_numpy()
    comm["status_after"] = after["status"].to_numpy()
    claimed = result.served
    mismatch = []
    for k in ("elderly", "childcare"):
        col = f"{k}_after"
        if col in claimed.columns:
            model = claimed[col].reindex(comm["id"].astype(str)).fillna(False).to_numpy(dtype=bool)
            bad = model & ~comm[f"{k}_served_after"].to_numpy(dtype=bool)
            mismatch += list(comm["id"].to_numpy()[bad])
    if mismatch:
        notes.append(f"WARNING: {len(mismatch)} communities the model counts as served are not served "
                     f"on recomputation: {mismatch[:10]}")
    extra = getattr(ctx, "extra", {}) or {}
    table_after = district_indicators(
        comm, all_fac, districts, streets=inputs.get("streets"), targets=scen.targets,
        served_col="served_after", extra_beds=extra.get("beds"), extra_places=extra.get("places"),
        extra_area=extra.get("area"), extra_public_childcare=extra.get("public_childcare"),
        stock_known=fac is not None,
    )
    costs = None
    if len(sites):
        cost_in = sites.drop(columns="geometry").rename(columns={"places_added": "places"})
        plan_cost = cost_plan(cost_in, unit_costs=scen.plan.unit_costs,
                              operation_years=scen.plan.operation_years)
        costs = plan_cost.tables()
        details += [f"costing 费用测算: {n}" for n in plan_cost.notes]
    iso = dict(run.isochrones)
    for kind in ("elderly", "childcare"):
        sel = new_fac[new_fac["kind"].isin(KIND_SOURCES[kind])]
        if len(sel):
            iso[f"proposed_{kind}"] = ctx.engine.isochrones(
                sel, w.limit_m(kind), buffer_m=w.isochrone_buffer_m, source="proposed",
                ids=sel["id"].to_numpy())
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
    return RunOutputs(
        scenario=scen, inputs=inputs, communities=comm, districts_before=run.districts_before,
        districts_after=table_after, sites=sites, costs=costs, isochrones=iso, headline=headline,
        notes=notes, details=details, unreachable=run.unreachable,
    )
