"""Every community and every place accounted for, in a run: capacity, reasons, streets.

The run's side of :mod:`carecircle.assess.capacity`, :mod:`carecircle.assess.reasons`,
:mod:`carecircle.assess.streets` and :mod:`carecircle.siting.reasons`: today's
assessment gets each community's demand, what of it fits, and why it is or is not
served, a facility table (capacity and load) and the street table; after a plan the
same are recomputed from scratch with the new facilities (checked, not copied from the
model), and the plan's reasons come from the siting problem.  The capacity reach of
existing facilities for a capacitated plan (``[plan] capacity = true``) is built here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from carecircle.assess.capacity import KINDS, CapacityParameters, assess_capacity
from carecircle.assess.reasons import add_reasons
from carecircle.assess.streets import street_table
from carecircle.runs.context import Context

if TYPE_CHECKING:
    import scipy.sparse as sp

    from carecircle.siting.problem import SitingProblem


@dataclass
class Accounts:
    """What a run adds to the community table, and its facility and street tables."""

    communities: gpd.GeoDataFrame
    facilities: pd.DataFrame
    streets: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    headline: dict[str, Any] = field(default_factory=dict)


def _capacity_columns(comm: gpd.GeoDataFrame, cap: pd.DataFrame, suffix: str) -> gpd.GeoDataFrame:
    out = comm.copy()
    for col in cap.columns:
        if suffix and col.endswith("_demand"):
            continue  # demand does not change with the plan
        out[f"{col}{suffix}"] = cap[col].to_numpy()
    return out


def _capacity_notes(fac: pd.DataFrame, comm: pd.DataFrame, suffix: str) -> list[str]:
    when = "after the plan 规划后" if suffix else "today 现状"
    notes = []
    # Over capacity (everyone at the nearest) is today's question; after a plan the
    # assignment spreads demand over the new sites, and what does not fit is the measure.
    over = fac[fac["over_capacity"].astype(bool)] if len(fac) and not suffix else fac.iloc[0:0]
    if len(over):
        shown = ", ".join(f"{r.id} ({r.load_nearest:,.0f}/{r.capacity:,.0f})" for r in over.head(10).itertuples())
        more = f" (+{len(over) - 10} more)" if len(over) > 10 else ""
        notes.append(f"{len(over)} facilit(ies) over capacity {when} 设施超负荷 (demand of the "
                     f"communities nearest to each / capacity): {shown}{more}; facilities.csv has them all")
    on = comm["snapped"].to_numpy(dtype=bool)
    for k, zh in (("elderly", "养老"), ("childcare", "托育")):
        d = comm.loc[on, f"{k}_demand"].sum()
        p = comm.loc[on, f"{k}_placed{suffix}"].sum()
        if d > 0 and p < d - 0.5:
            notes.append(f"{zh} {k} demand that fits {when} 需求落位 (communities on the network 路网上社区): "
                         f"{p:,.0f} of {d:,.0f} people ({p / d:.0%}); the rest has no facility with "
                         f"room within its walk")
    return notes


def account_today(ctx: Context, comm: gpd.GeoDataFrame) -> Accounts:
    """Capacity, reasons and streets of today's assessment.

    Parameters
    ----------
    ctx
        The prepared run.
    comm
        Today's community status.

    Returns
    -------
    Accounts
    """
    scen, inputs = ctx.scenario, ctx.inputs
    fac = inputs.get("facilities")
    cap = assess_capacity(ctx.net, comm, fac, CapacityParameters.of(scen),
                          max_snap_m=scen.walking.max_snap_m)
    comm = add_reasons(_capacity_columns(comm, cap.communities, ""), rural_limit_m=scen.rural.limit())
    streets = street_table(comm, fac, inputs.get("streets"), inputs["districts"],
                           tuoban_as_childcare=scen.standards.kindergarten_tuoban_as_childcare)
    notes = _capacity_notes(cap.facilities, comm, "")
    headline: dict[str, Any] = {"unserved_before": _unserved(comm, "")}
    if len(cap.facilities):
        headline["over_capacity"] = int(cap.facilities["over_capacity"].sum())
    headline.update(_placed_headline(comm, ""))
    return Accounts(comm, cap.facilities, streets, notes, headline)


def _placed_headline(comm: pd.DataFrame, suffix: str) -> dict[str, str]:
    """Demand that fits per kind (communities on the network), as text: ``placed / demand (share)``."""
    out = {}
    on = comm["snapped"].to_numpy(dtype=bool)
    for k in KINDS:
        d, p = comm.loc[on, f"{k}_demand"].sum(), comm.loc[on, f"{k}_placed{suffix}"].sum()
        if d > 0:
            out[f"{k}_placed_{'after' if suffix else 'before'}"] = f"{p:,.0f} / {d:,.0f} ({p / d:.0%})"
    return out


def _unserved(comm: pd.DataFrame, suffix: str) -> int:
    """Communities not fully served (either kind; off the network included)."""
    return int(((comm[f"elderly_reason{suffix}"] != "served")
                | (comm[f"childcare_reason{suffix}"] != "served")).sum())


def existing_cover(ctx: Context, comm: pd.DataFrame, on_net: np.ndarray
                   ) -> tuple[dict[str, pd.DataFrame], dict[str, sp.csr_matrix]]:
    """The qualifying facilities the plan starts from (today's and the committed projects
    placed on the map) of each kind and their reach from the model's communities.

    Villages reach elderly care within the rural travel limit, rural happiness homes
    included, as in the capacity assessment and the candidates' reach.

    Parameters
    ----------
    ctx
        The prepared run.
    comm
        The communities (``urban_rural``), one per row of the run.
    on_net
        Boolean per community: on the network (the model's rows).

    Returns
    -------
    tuple
        ``{kind: facilities}`` and ``{kind: communities x facilities}`` 0/1 reach.
    """
    import scipy.sparse as sp

    from carecircle.runs.context import committed_facilities
    from carecircle.runs.plan import replace_rows

    params = CapacityParameters.of(ctx.scenario)
    fac = committed_facilities(ctx)
    rows = np.flatnonzero(on_net)
    village = (comm["urban_rural"] == "rural").to_numpy()[rows] if "urban_rural" in comm \
        else np.zeros(len(rows), bool)
    existing, cover = {}, {}
    for k in KINDS:
        far = k == "elderly" and params.rural_limit_m is not None and village.any()
        if fac is None:
            sel = pd.DataFrame(columns=["id", "kind", "floor_area_m2", "places", "beds"])
        else:
            kinds = (*params.sources[k], "rural_home") if far else params.sources[k]
            need = np.where(fac["kind"] == "rural_home", params.rural_home_min_area_m2,
                            params.min_area_m2[k])
            sel = fac[fac["kind"].isin(kinds) & (fac["floor_area_m2"] >= need)].reset_index(drop=True)
        existing[k] = sel
        if not len(sel) or not len(rows):
            cover[k] = sp.csr_matrix((len(rows), len(sel)))
            continue
        C = ctx.engine.cover(rows, ctx.inputs["communities"], sel, {k: params.limit_m[k]})[k]
        if far:
            assert params.rural_limit_m is not None
            urban_src = ~(sel["kind"] == "rural_home").to_numpy()
            C = sp.csr_matrix(C) @ sp.diags(urban_src.astype(float))  # a rural home: villages only
            V = ctx.engine.cover(rows[village], ctx.inputs["communities"], sel,
                                 {k: params.rural_limit_m})[k]
            C = replace_rows(C, np.flatnonzero(village), V)
        cover[k] = sp.csr_matrix(C)
    return existing, cover


def account_after(
    ctx: Context,
    comm: gpd.GeoDataFrame,
    all_fac: gpd.GeoDataFrame,
    problem: SitingProblem,
    mode: str,
    sites: gpd.GeoDataFrame,
    today: pd.DataFrame | None,
) -> Accounts:
    """Capacity, reasons and streets after a plan, recomputed with the new facilities.

    Parameters
    ----------
    ctx
        The prepared run.
    comm
        Communities with today's columns and the recomputed ``*_served_after``.
    all_fac
        Today's and the plan's facilities.
    problem
        The siting problem (its rows: the communities on the network, in order).
    mode
        The plan's mode.
    sites
        The plan's sites (``id``, ``street``).
    today
        Today's facility table (:class:`Accounts`), to set beside the one after.

    Returns
    -------
    Accounts
    """
    from carecircle.siting.reasons import plan_reasons

    scen, inputs = ctx.scenario, ctx.inputs
    cap = assess_capacity(ctx.net, comm, all_fac, CapacityParameters.of(scen),
                          max_snap_m=scen.walking.max_snap_m)
    comm = _capacity_columns(comm, cap.communities, "_after")
    on = comm["snapped"].to_numpy(dtype=bool)
    served = {k: comm[f"{k}_served_after"].to_numpy(dtype=bool)[on] for k in KINDS}
    codes = {k: np.full(len(comm), "", dtype=object) for k in KINDS}
    for k, c in plan_reasons(problem, served, mode).items():
        codes[k][on] = c
    comm = add_reasons(comm, plan_codes=codes, rural_limit_m=scen.rural.limit())
    streets = street_table(comm, inputs.get("facilities"), inputs.get("streets"), inputs["districts"],
                           facilities_after=all_fac, sites=sites,
                           tuoban_as_childcare=scen.standards.kindergarten_tuoban_as_childcare)
    facilities = _facilities_after(today, cap.facilities)
    headline = {"unserved_after": _unserved(comm, "_after"), **_placed_headline(comm, "_after")}
    return Accounts(comm, facilities, streets, _capacity_notes(cap.facilities, comm, "_after"), headline)


AFTER_COLUMNS = ("communities_in_reach", "load_nearest", "over_capacity", "load", "utilisation", "full")


def _facilities_after(today: pd.DataFrame | None, after: pd.DataFrame) -> pd.DataFrame:
    """Today's facility rows with the plan's values beside (``*_after``), new ones appended."""
    cols = ["id", "serves", *AFTER_COLUMNS]
    right = after[cols].rename(columns={c: f"{c}_after" for c in AFTER_COLUMNS})
    if today is None or not len(today):
        base = after.drop(columns=list(AFTER_COLUMNS))
        return base.merge(right, on=["id", "serves"], how="left")
    new = after[~after.set_index(["id", "serves"]).index.isin(today.set_index(["id", "serves"]).index)]
    # the plan's new facilities have no values today (flags: False, numbers: empty)
    blank = {c: (False if c in ("over_capacity", "full") else np.nan) for c in AFTER_COLUMNS}
    base = pd.concat([today, new.assign(**blank)], ignore_index=True)
    return base.merge(right, on=["id", "serves"], how="left", validate="one_to_one")


def site_loads(sites: gpd.GeoDataFrame, facilities: pd.DataFrame, standards: Any) -> gpd.GeoDataFrame:
    """The plan's sites with what they take after the plan, and the floor area that needs.

    Parameters
    ----------
    sites
        The plan's sites (``id``, ``kinds``).
    facilities
        The facility table after the plan (new facilities' ids are ``<site id>:<kind>``).
    standards
        The scenario's standards (area per user and place, the floor-area minima).

    Returns
    -------
    geopandas.GeoDataFrame
        *sites* with ``elderly_load``, ``childcare_load`` (people assigned after the
        plan) and ``floor_area_needed_m2``: per kind hosted, the larger of the
        standard and load x area per user or place (what the site should be built at);
        a rural happiness home at its own standard, an institution its beds x the area
        per bed.
    """
    out = sites.copy()
    if not len(out):
        for c in ("elderly_load", "childcare_load", "floor_area_needed_m2"):
            out[c] = pd.Series(dtype=float)
        return out
    col = "load_after" if "load_after" in facilities else "load"
    site_of = facilities["id"].astype(str).str.rsplit(":", n=1).str[0]
    load = facilities.assign(site=site_of).groupby(["site", "serves"])[col].sum()
    per = {"elderly": standards.elderly_m2_per_user, "childcare": standards.childcare_m2_per_place}
    kinds = out["kinds"].astype(str).str.split(";")
    need = np.zeros(len(out))
    for k in KINDS:
        v = np.array([float(load.get((str(s), k), 0.0)) for s in out["id"]])
        out[f"{k}_load"] = np.round(v, 6)
        hosts = kinds.map(lambda ks, k=k: any(
            h in ks for h in (("elderly", "street_centre") if k == "elderly" else ("childcare",))))
        need += np.where(hosts.to_numpy(dtype=bool), np.maximum(standards.min_area(k), v * per[k]), 0.0)
    # a rural happiness home: its own standard; an institution: its beds at the area per bed
    home = kinds.map(lambda ks: "rural_home" in ks).to_numpy(dtype=bool)
    v = out["elderly_load"].to_numpy(dtype=float)
    need += np.where(home, np.maximum(standards.rural_home_min_area_m2, v * per["elderly"]), 0.0)
    if "beds_added" in out:
        beds = np.nan_to_num(out["beds_added"].to_numpy(dtype=float))
        need += beds * standards.institution_m2_per_bed
    out["floor_area_needed_m2"] = np.ceil(need - 1e-9)
    return out
