"""Capacity: does the demand fit in the facilities within walking reach?

Coverage (:mod:`carecircle.assess.coverage`) asks whether a community has a facility
within its walk; a 300 m² station would then "serve" any number of people.  Here each
community's **demand** is assigned to the qualifying facilities within its walk
without exceeding any facility's **capacity**: a transportation problem on the sparse
community-facility reach pairs.

Demand per community (whole people)
    elderly care: residents aged 60+ x ``demand.elderly_uptake`` (default 7 %: the
    "9073" pattern of Chinese elderly-care policy, 90 % cared for at home, 7 % by
    community services, 3 % in institutions); childcare: children aged 0-3 x
    ``demand.childcare_enrolment`` (default 16 %: the plan's 4.8 places per 1,000
    residents at its 2025 forecast, 72,000 places for 450,000 children).
Capacity per facility (whole people)
    childcare: its ``places`` (data), else floor area / ``standards.childcare_m2_per_place``;
    community elderly care (stations, street centres): floor area /
    ``standards.elderly_m2_per_user``; institutions: their ``beds``, else as a station.
    Only facilities that qualify (floor-area standard) and join the network take demand.
Villages
    As in coverage (:mod:`carecircle.assess.coverage`), a village's (``urban_rural`` =
    ``rural``) elderly care is reached within the rural travel limit
    (``rural_limit_m``), rural happiness homes (``rural_home``) included at their own
    area standard (their capacity: floor area / ``elderly_m2_per_user``); a rural home
    takes villages' demand only.  (A facility inside a village's polygon but beyond the
    rural limit serves it in coverage; here it takes its demand only within the limit.)
The assignment
    First the most demand that fits is placed (a maximum flow: no demand within reach
    of spare capacity is left out); among the assignments placing that much, the one
    with the least walking (metres x people) is taken, so people go to the nearest
    facility with room.  Both are linear programs solved by HiGHS (scipy's
    ``linprog``); the reach pairs are the only variables, so a whole city (3,223
    communities) is a few seconds.
Over capacity
    A facility's ``load_nearest`` is the demand of the communities whose nearest
    qualifying facility it is (what it carries if everyone goes to the nearest);
    ``over_capacity`` when that exceeds its capacity.  ``load`` is what the assignment
    gives it (never above capacity) and ``utilisation`` = load / capacity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog

from carecircle.assess.coverage import KIND_SOURCES, RURAL_SOURCES
from carecircle.assess.demand import largest_remainder
from carecircle.network.reach import reach_pairs
from carecircle.network.snapping import snap_points
from carecircle.network.walknet import WalkNetwork

KINDS = ("elderly", "childcare")
DEMAND_GROUP = {"elderly": "pop_60plus", "childcare": "pop_0_3"}
UNIT = {"elderly": "users 人", "childcare": "places 托位", "beds": "beds 床位"}
#: The facility table's columns (one row per facility and kind it serves).
FACILITY_COLUMNS = ("id", "name", "kind", "serves", "district", "floor_area_m2", "qualifies",
                    "capacity", "capacity_unit", "communities_in_reach", "load_nearest",
                    "over_capacity", "load", "utilisation", "full")


@dataclass(frozen=True)
class CapacityParameters:
    """The scenario's numbers that turn people and floor area into demand and capacity.

    Attributes
    ----------
    elderly_uptake, childcare_enrolment
        Shares of 60+ and 0-3 residents who use the service (``[demand]``).
    elderly_m2_per_user, childcare_m2_per_place
        Floor area per user or place (``[standards]``).
    min_area_m2
        Floor-area standard per kind (facilities below it take no demand).
    limit_m
        Walking limit per kind, metres.
    sources
        Facility kinds serving each kind.
    rural_limit_m
        Villages' elderly care: the rural travel limit, metres (``None``: villages are
        judged like city blocks).
    rural_home_min_area_m2
        The area standard of a rural happiness home.
    """

    elderly_uptake: float = 0.07
    childcare_enrolment: float = 0.16
    elderly_m2_per_user: float = 6.0
    childcare_m2_per_place: float = 8.0
    min_area_m2: Mapping[str, float] = field(default_factory=lambda: {"elderly": 300.0,
                                                                      "childcare": 200.0})
    limit_m: Mapping[str, float] = field(default_factory=lambda: {"elderly": 900.0,
                                                                  "childcare": 1080.0})
    sources: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(KIND_SOURCES))
    rural_limit_m: float | None = None
    rural_home_min_area_m2: float = 200.0

    @classmethod
    def of(cls, scenario: Any) -> CapacityParameters:
        """The parameters of a :class:`~carecircle.inputs.scenario.Scenario`."""
        from carecircle.assess.coverage import kind_sources

        st, d, w = scenario.standards, scenario.demand, scenario.walking
        return cls(elderly_uptake=d.elderly_uptake, childcare_enrolment=d.childcare_enrolment,
                   elderly_m2_per_user=st.elderly_m2_per_user,
                   childcare_m2_per_place=st.childcare_m2_per_place,
                   min_area_m2={k: st.min_area(k) for k in KINDS},
                   limit_m={k: w.limit_m(k) for k in KINDS},
                   sources=kind_sources(st.kindergarten_tuoban_as_childcare),
                   rural_limit_m=scenario.rural.limit(),
                   rural_home_min_area_m2=st.rural_home_min_area_m2)

    def share(self, kind: str) -> float:
        return self.elderly_uptake if kind == "elderly" else self.childcare_enrolment


def community_demand(communities: pd.DataFrame, kind: str, share: float) -> np.ndarray:
    """Demand per community in whole people: the kind's age group x *share*.

    Parameters
    ----------
    communities
        With ``pop_60plus`` / ``pop_0_3`` and ``district``.
    kind
        ``"elderly"`` or ``"childcare"``.
    share
        Uptake (elderly) or enrolment (childcare) share.

    Returns
    -------
    numpy.ndarray
        Whole people per community; each district's total rounded once (largest
        remainder), so that street and district sums agree.
    """
    raw = np.nan_to_num(communities[DEMAND_GROUP[kind]].to_numpy(dtype=float)) * float(share)
    d = communities["district"].astype(str).to_numpy() if "district" in communities else np.zeros(len(raw))
    out = np.zeros(len(raw))
    for code in pd.unique(d):
        m = d == code
        out[m] = largest_remainder(raw[m])
    return out


def facility_capacity(facilities: pd.DataFrame, kind: str,
                      params: CapacityParameters) -> tuple[np.ndarray, np.ndarray]:
    """Capacity (whole people) and its unit, per facility, for *kind*.

    Parameters
    ----------
    facilities
        With ``kind``, ``floor_area_m2`` and optionally ``places``, ``beds``.
    kind
        ``"elderly"`` or ``"childcare"``.
    params
        The areas per user/place.

    Returns
    -------
    tuple of numpy.ndarray
        Capacity (float, whole numbers) and the unit text per facility.
    """
    area = facilities["floor_area_m2"].to_numpy(dtype=float)
    n = len(facilities)
    if kind == "childcare":
        places = facilities["places"].to_numpy(dtype=float) if "places" in facilities else np.full(n, np.nan)
        by_area = np.floor(area / params.childcare_m2_per_place + 1e-9)
        return np.where(np.isfinite(places), places, by_area), np.full(n, UNIT["childcare"], dtype=object)
    by_area = np.floor(area / params.elderly_m2_per_user + 1e-9)
    beds = facilities["beds"].to_numpy(dtype=float) if "beds" in facilities else np.full(n, np.nan)
    inst = (facilities["kind"] == "institution").to_numpy() & np.isfinite(beds)
    unit = np.where(inst, UNIT["beds"], UNIT["elderly"]).astype(object)
    return np.where(inst, beds, by_area), unit


# ---------------------------------------------------------------- the assignment


@dataclass(frozen=True)
class Assignment:
    """The capacitated assignment of one kind.

    Attributes
    ----------
    placed
        Demand placed per community.
    load
        Demand assigned per facility (never above its capacity).
    amount
        Per reach pair (in the order given): demand assigned over that pair.
    """

    placed: np.ndarray
    load: np.ndarray
    amount: np.ndarray


def assign_demand(
    demand: np.ndarray,
    capacity: np.ndarray,
    origin: np.ndarray,
    site: np.ndarray,
    metres: np.ndarray | None = None,
) -> Assignment:
    """Assign demand to facilities within reach, capacities respected.

    Parameters
    ----------
    demand
        Per community (>= 0).
    capacity
        Per facility (>= 0).
    origin, site
        The reach pairs: community and facility index of each.
    metres
        Walking metres per pair (ties between maximum assignments go to the shorter
        walks); ``None``: all equal.

    Returns
    -------
    Assignment
        The most demand that fits; among such assignments, the least walking.

    Raises
    ------
    RuntimeError
        HiGHS fails on the linear program (it should not: it is always feasible).
    """
    n, m, p = len(demand), len(capacity), len(origin)
    if p == 0:
        return Assignment(np.zeros(n), np.zeros(m), np.zeros(0))
    d = np.asarray(demand, dtype=float)
    cap = np.asarray(capacity, dtype=float)
    o, s = np.asarray(origin, dtype=np.int64), np.asarray(site, dtype=np.int64)
    k = np.arange(p)
    A = sp.vstack([sp.csr_matrix((np.ones(p), (o, k)), shape=(n, p)),
                   sp.csr_matrix((np.ones(p), (s, k)), shape=(m, p))], format="csr")
    b = np.concatenate([d, cap])
    # each pair carries at most what both ends allow: a tighter, equivalent LP
    upper = np.minimum(d[o], cap[s])
    first = linprog(-np.ones(p), A_ub=A, b_ub=b, bounds=np.c_[np.zeros(p), upper], method="highs")
    if first.status != 0:  # pragma: no cover - x = 0 is always feasible
        raise RuntimeError(f"capacity assignment failed: {first.message}")
    x = first.x
    if metres is not None and len(np.unique(metres)) > 1:
        most = -float(first.fun)
        A2 = sp.vstack([A, -sp.csr_matrix(np.ones((1, p)))], format="csr")
        b2 = np.concatenate([b, [-(most - 1e-9 * max(most, 1.0))]])
        second = linprog(np.asarray(metres, dtype=float), A_ub=A2, b_ub=b2,
                         bounds=np.c_[np.zeros(p), upper], method="highs")
        if second.status == 0:
            x = second.x
    x = _whole(np.clip(x, 0.0, None), d, cap, o, s)
    return Assignment(np.bincount(o, weights=x, minlength=n), np.bincount(s, weights=x, minlength=m), x)


def _whole(x: np.ndarray, d: np.ndarray, cap: np.ndarray, o: np.ndarray, s: np.ndarray) -> np.ndarray:
    """*x* in whole people when the data are whole and HiGHS only left tolerance noise.

    (A transportation problem with whole demands and capacities has whole optimal
    vertices; HiGHS may return 59.999995 for 60.)
    """
    whole_data = np.all(d == np.round(d)) and np.all(cap == np.round(cap))
    r = np.round(x)
    if not whole_data or np.abs(x - r).max(initial=0.0) > 1e-3:
        return x
    n, m = len(d), len(cap)
    if (np.bincount(o, r, n) > d + 1e-9).any() or (np.bincount(s, r, m) > cap + 1e-9).any():
        return x
    return r


# ---------------------------------------------------------------- on the network


@dataclass
class CapacityResult:
    """Capacity of one run (today, or after the plan).

    Attributes
    ----------
    communities
        Indexed like the communities given: per kind ``K_demand``, ``K_placed``,
        ``K_placed_share`` (NaN where there is no demand) and ``K_capacity_full``
        (demand within reach of a facility but not placed: the facilities in reach
        are full).
    facilities
        One row per facility and kind it serves (:data:`FACILITY_COLUMNS`).
    """

    communities: pd.DataFrame
    facilities: pd.DataFrame


def assess_capacity(
    net: WalkNetwork,
    communities: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame | None,
    params: CapacityParameters,
    *,
    max_snap_m: float = 300.0,
) -> CapacityResult:
    """Demand, capacity, the assignment and the loads of every facility, both kinds.

    Parameters
    ----------
    net
        The walking network.
    communities
        Community status (``snapped`` says who is on the network; ``district``,
        ``pop_60plus``, ``pop_0_3``), in the network's CRS.
    facilities
        Facilities (``id``, ``kind``, ``floor_area_m2``, ``places``, ``beds``), or ``None``.
    params
        Demand and capacity parameters (:meth:`CapacityParameters.of`).
    max_snap_m
        The snap limit for facilities.

    Returns
    -------
    CapacityResult
    """
    on = communities["snapped"].to_numpy(dtype=bool) if "snapped" in communities else np.ones(len(communities), bool)
    comm_cols: dict[str, np.ndarray] = {}
    rows: list[pd.DataFrame] = []
    for kind in KINDS:
        demand = community_demand(communities, kind, params.share(kind))
        placed = np.zeros(len(communities))
        reached = np.zeros(len(communities), bool)
        if facilities is not None and len(facilities):
            table, placed, reached = _kind_assignment(net, communities, facilities, on, demand,
                                                      kind, params, max_snap_m)
            rows.append(table)
        comm_cols[f"{kind}_demand"] = demand
        comm_cols[f"{kind}_placed"] = placed
        with np.errstate(invalid="ignore", divide="ignore"):
            comm_cols[f"{kind}_placed_share"] = np.where(demand > 0, placed / demand, np.nan)
        comm_cols[f"{kind}_capacity_full"] = reached & (placed < demand - 0.5)
    fac = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=list(FACILITY_COLUMNS))
    return CapacityResult(pd.DataFrame(comm_cols, index=communities.index), fac)


def _kind_assignment(
    net: WalkNetwork,
    communities: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    on: np.ndarray,
    demand: np.ndarray,
    kind: str,
    params: CapacityParameters,
    max_snap_m: float,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The facility rows, the placed demand and who reaches a facility, for one kind."""
    village = _villages(communities, kind, params)
    sources = (*params.sources[kind], "rural_home") if village.any() else params.sources[kind]
    fk = facilities[facilities["kind"].isin(sources)].reset_index(drop=True)
    cap, unit = facility_capacity(fk, kind, params)
    area = fk["floor_area_m2"].to_numpy(dtype=float)
    home = (fk["kind"] == "rural_home").to_numpy()
    qual = area >= np.where(home, params.rural_home_min_area_m2, params.min_area_m2[kind])
    n = len(communities)
    origin, site, metres = _pairs(net, communities, fk, on & ~village, qual & ~home,
                                  params.limit_m[kind], max_snap_m)
    if village.any():
        assert params.rural_limit_m is not None
        far = _pairs(net, communities, fk, on & village,
                     qual & fk["kind"].isin(RURAL_SOURCES).to_numpy(), params.rural_limit_m,
                     max_snap_m)
        origin, site, metres = (np.r_[origin, far[0]], np.r_[site, far[1]], np.r_[metres, far[2]])
    a = assign_demand(demand, np.where(qual, cap, 0.0), origin, site, metres)
    nearest = _nearest(origin, site, metres, n)
    load_nearest = np.bincount(nearest[nearest >= 0], weights=demand[nearest >= 0], minlength=len(fk))
    reach_count = np.bincount(site, minlength=len(fk))
    reached = np.zeros(n, bool)
    reached[origin] = True
    with np.errstate(invalid="ignore", divide="ignore"):
        util = np.where(qual & (cap > 0), a.load / cap, np.nan)
    table = pd.DataFrame({
        "id": fk["id"].astype(str).to_numpy(),
        "name": fk["name"].astype(str).to_numpy() if "name" in fk else "",
        "kind": fk["kind"].to_numpy(), "serves": kind,
        "district": fk["district"].astype(str).to_numpy() if "district" in fk else "",
        "floor_area_m2": area, "qualifies": qual,
        "capacity": np.where(qual, cap, np.nan), "capacity_unit": unit,
        "communities_in_reach": reach_count,
        "load_nearest": np.where(qual, load_nearest, np.nan),
        "over_capacity": qual & (load_nearest > cap + 1e-9),
        "load": np.where(qual, a.load, np.nan),
        "utilisation": util,
        "full": qual & (a.load >= cap - 0.5) & (cap > 0) & (reach_count > 0),
    }, columns=list(FACILITY_COLUMNS))
    return table, a.placed, reached


def _villages(communities: pd.DataFrame, kind: str, params: CapacityParameters) -> np.ndarray:
    """Per community: a village judged at the rural limit for *kind* (elderly care only)."""
    if kind != "elderly" or params.rural_limit_m is None or "urban_rural" not in communities:
        return np.zeros(len(communities), bool)
    return (communities["urban_rural"] == "rural").to_numpy()


def _pairs(net: WalkNetwork, communities: pd.DataFrame, fk: pd.DataFrame, rows: np.ndarray,
           sites: np.ndarray, limit_m: float, max_snap_m: float
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reach pairs (community, facility, metres) of the *rows* and *sites* (masks) within
    *limit_m*."""
    r_idx, q_idx = np.flatnonzero(rows), np.flatnonzero(sites)
    if not len(r_idx) or not len(q_idx):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    cs = snap_points(net, communities.iloc[r_idx], max_snap_m=max_snap_m, source="communities")
    qs = snap_points(net, fk.iloc[q_idx], max_snap_m=max_snap_m, source="facilities")
    rp = reach_pairs(net, cs, qs, limit_m)
    return r_idx[rp.origin], q_idx[rp.site], rp.metres


def _nearest(origin: np.ndarray, site: np.ndarray, metres: np.ndarray, n: int) -> np.ndarray:
    """The nearest facility of each community (-1: none in reach); ties: the lower index."""
    out = np.full(n, -1, np.int64)
    if not len(origin):
        return out
    order = np.lexsort((site, metres, origin))
    o = origin[order]
    first = np.r_[True, o[1:] != o[:-1]]
    out[o[first]] = site[order][first]
    return out
