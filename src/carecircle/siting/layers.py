"""A siting problem's arrays from a scenario's layers: who may host what, at what cost.

:meth:`carecircle.siting.problem.SitingProblem.from_layers` composes these; the
reach matrices come from the network stage (the run's engine), not from here.

Decisions
---------
- A candidate hosts a kind only when its ``kinds`` allow it and its floor area
  meets the kind's standard (elderly 300 m², childcare 200 m²; a street centre
  needs the elderly standard).
- Cost of a candidate: its ``cost_yuan``, else unit cost per m² of its acquisition
  type times its floor area.  Hosting elderly care *and* childcare in one building
  (floor area >= ``shared_min_area_m2``) costs ``shared_building_cost_factor`` x
  (the two costs).  In a shared building elderly care takes 60 % of the floor area
  and childcare 40 % (300 : 200), so both meet the standard at 500 m².
- New childcare places = childcare floor area / ``childcare_m2_per_place``; for a
  candidate that may share, the model counts the shared (40 %) area, a lower bound.
- Street labels: a layer's own ``street`` column when it has one (communities),
  else the street polygon a point lies in; none without polygons.
- New facilities are public (公办/公建民营): they count for the public-childcare
  target, whose existing count is the public and public-private childcare today.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from carecircle.assess.indicators import PUBLIC, street_of_points
from carecircle.inputs.scenario import Plan, Standards, Targets
from carecircle.siting.problem import HOST_KINDS, KINDS

#: Share of a shared building's floor area that elderly care takes (300 : 200).
SHARED_ELDERLY_SHARE = 0.6


def candidate_costs(candidates: pd.DataFrame, unit_costs: Mapping[str, float]) -> np.ndarray:
    """Cost per candidate: ``cost_yuan``, else unit cost of its acquisition x floor area.

    Parameters
    ----------
    candidates
        With ``cost_yuan`` (NaN where not given), ``acquisition`` and ``floor_area_m2``.
    unit_costs
        Yuan per m² by acquisition type (``new``, ``renovate``, ``lease``).

    Returns
    -------
    numpy.ndarray
        NaN where neither is known.
    """
    cost = candidates["cost_yuan"].to_numpy(dtype=float)
    unit = candidates["acquisition"].map(unit_costs).to_numpy(dtype=float)
    area = candidates["floor_area_m2"].to_numpy(dtype=float)
    return np.where(np.isnan(cost), unit * area, cost)


def street_labels(
    points: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None, column: str | None = None
) -> np.ndarray | None:
    """Street label per point, or ``None`` when the scenario gives no way to know.

    Parameters
    ----------
    points
        Communities, candidates or facilities.
    streets
        Street/town polygons with a ``code``, or ``None``.
    column
        A column of *points* holding the label, used when it has any value.

    Returns
    -------
    numpy.ndarray or None
        Object array of labels (``None`` for a point in no street).
    """
    if column is not None and column in points.columns and points[column].notna().any():
        return points[column].astype(object).where(points[column].notna(), None).to_numpy()
    if streets is None or not streets.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        return None
    return street_of_points(points, streets).astype(object).to_numpy()


def hosting(candidates: pd.DataFrame, standards: Standards) -> dict[str, np.ndarray]:
    """Which kinds each candidate may host: allowed by its ``kinds`` and big enough.

    Parameters
    ----------
    candidates
        With ``kinds`` (``;``-separated) and ``floor_area_m2``.
    standards
        The scenario's floor-area standards.

    Returns
    -------
    dict
        ``{kind: bool per candidate}`` for ``elderly``, ``childcare``, ``street_centre``.
    """
    area = candidates["floor_area_m2"].to_numpy(dtype=float)
    kinds = candidates["kinds"].astype(str).str.split(";")
    has = {k: kinds.map(lambda ks, k=k: k in ks).to_numpy(dtype=bool) for k in HOST_KINDS}
    return {
        "elderly": has["elderly"] & (area >= standards.elderly_min_area_m2),
        "childcare": has["childcare"] & (area >= standards.childcare_min_area_m2),
        "street_centre": has["street_centre"] & (area >= standards.elderly_min_area_m2),
    }


@dataclass(frozen=True)
class Stock:
    """What exists today that the district targets count.

    Attributes
    ----------
    streets_with_centre
        Street labels with a comprehensive centre today.
    existing_places
        Childcare places per district (facilities plus any extra places).
    public_childcare
        Public or public-private childcare facilities per district.
    places_known
        Whether the facilities give places at all (else no places target).
    facilities_known
        Whether the scenario has a facilities layer (else no minimum-count target).
    n_streets
        Streets per district from the street layer, ``None`` without one.
    """

    streets_with_centre: np.ndarray
    existing_places: dict[Any, float]
    public_childcare: dict[Any, float]
    places_known: bool
    facilities_known: bool
    n_streets: dict[Any, float] | None


def existing_stock(
    facilities: gpd.GeoDataFrame | None,
    streets: gpd.GeoDataFrame | None,
    extra_places: Mapping[Any, float] | None = None,
    *,
    place_kinds: tuple[str, ...] = ("childcare",),
) -> Stock:
    """Today's street centres, childcare places and public childcare, per district.

    Parameters
    ----------
    facilities
        Existing facilities (``kind``, ``district``, ``places``, ``ownership``) or ``None``.
    streets
        Street/town polygons (``code``, ``district``) or ``None``.
    extra_places
        Childcare places per district to add (e.g. major projects counted as built).
    place_kinds
        Facility kinds whose places count as childcare places (a kindergarten's 托班
        too, by the scenario's ``kindergarten_tuoban_as_childcare``).

    Returns
    -------
    Stock
    """
    centre_streets = np.zeros(0, dtype=object)
    existing_places: dict[Any, float] = {}
    public_childcare: dict[Any, float] = {}
    if facilities is not None and len(facilities):
        fst = street_labels(facilities, streets)
        if fst is not None:
            centre_streets = np.unique([s for s, k in zip(fst, facilities["kind"], strict=True)
                                        if k == "street_centre" and s is not None])
        child = facilities[facilities["kind"] == "childcare"]
        placed = facilities[facilities["kind"].isin(place_kinds)]
        existing_places = placed.groupby("district")["places"].sum(min_count=1).to_dict()
        pub = child[child["ownership"].isin(PUBLIC)]
        public_childcare = pub.groupby("district").size().astype(float).to_dict()
    for d, v in (extra_places or {}).items():
        existing_places[d] = existing_places.get(d, 0.0) + v
    places_known = bool(
        facilities is not None and "places" in facilities and facilities["places"].notna().any()
    )
    n_streets = None
    if streets is not None:
        n_streets = streets.groupby(streets["district"].astype(str)).size().astype(float).to_dict()
    return Stock(
        streets_with_centre=centre_streets,
        existing_places=existing_places,
        public_childcare=public_childcare,
        places_known=places_known,
        facilities_known=facilities is not None,
        n_streets=n_streets,
    )


def problem_arrays(
    communities: pd.DataFrame,
    candidates: gpd.GeoDataFrame,
    cover: Mapping[str, sp.csr_matrix],
    *,
    standards: Standards,
    plan: Plan,
    streets: gpd.GeoDataFrame | None,
    stock: Stock,
) -> dict[str, Any]:
    """The arguments of :meth:`~carecircle.siting.problem.SitingProblem.from_arrays`.

    Parameters
    ----------
    communities, candidates, cover, standards, plan, streets
        As in :meth:`~carecircle.siting.problem.SitingProblem.from_layers`.
    stock
        From :func:`existing_stock`.

    Returns
    -------
    dict
        Keyword arguments for ``from_arrays`` (district targets apart).
    """
    area = candidates["floor_area_m2"].to_numpy(dtype=float)
    can_host = hosting(candidates, standards)
    base = candidate_costs(candidates, plan.unit_costs)
    can_share = can_host["elderly"] & can_host["childcare"] & (area >= standards.shared_min_area_m2)
    child_area = np.where(can_share, area * (1.0 - SHARED_ELDERLY_SHARE), area)
    comm = communities
    return {
        "community_ids": comm["id"].astype(str).to_numpy(),
        "district": comm["district"].astype(str).to_numpy(),
        "urban": (comm["urban_rural"] == "urban").to_numpy(),
        "weight": {k: comm[plan.weights[k]].to_numpy(dtype=float) for k in KINDS},
        "cover": cover,
        "candidate_ids": candidates["id"].astype(str).to_numpy(),
        "candidate_district": candidates["district"].astype(str).to_numpy(),
        "can_host": can_host,
        "cost": dict.fromkeys(HOST_KINDS, base),
        "existing_served": {k: comm[f"{k}_served"].to_numpy(dtype=bool) for k in KINDS},
        "cost_shared": np.where(can_share, standards.shared_building_cost_factor * 2.0 * base, np.nan),
        "places_new": np.floor(child_area / standards.childcare_m2_per_place),
        "population": comm["population"].to_numpy(dtype=float),
        "street": street_labels(comm, streets, "street"),
        "candidate_street": street_labels(candidates, streets),
        "streets_with_centre": stock.streets_with_centre,
        "required": list(plan.required) or None,
        "excluded": list(plan.excluded) or None,
    }


def target_arguments(targets: Targets, stock: Stock) -> dict[str, Any]:
    """The arguments of :func:`~carecircle.siting.problem.make_district_targets`.

    Parameters
    ----------
    targets
        The scenario's ``[targets]``.
    stock
        From :func:`existing_stock`: a target whose data is missing is left out
        (no street layer: no street-centre share; no places: no places per 1,000;
        no facilities layer: no public-childcare minimum), and so is a target the
        scenario's profile does not set (``None``).

    Returns
    -------
    dict
    """
    t = targets
    return {
        "urban_cov": t.urban_elderly_coverage,
        "rural_cov": t.rural_elderly_coverage,
        "street_centre_share": t.street_centre_coverage if stock.n_streets is not None else None,
        "places_per_1000": t.childcare_places_per_1000 if stock.places_known else None,
        "existing_places": stock.existing_places,
        "min_total": ({"childcare": t.public_childcare_per_district}
                      if stock.facilities_known and t.public_childcare_per_district is not None
                      else None),
        "existing_counts": {"childcare": stock.public_childcare},
        "n_streets": stock.n_streets,
    }


# ---------------------------------------------------------------- capacity


def place_kinds_of(standards: Standards) -> tuple[str, ...]:
    """Facility kinds whose places count as childcare places under *standards*.

    Parameters
    ----------
    standards
        The scenario's ``[standards]`` (``kindergarten_tuoban_as_childcare``).
    """
    from carecircle.assess.indicators import place_kinds

    return place_kinds(standards.kindergarten_tuoban_as_childcare)


def capacity_arrays(
    communities: pd.DataFrame,
    candidates: pd.DataFrame,
    existing: Mapping[str, pd.DataFrame],
    existing_cover: Mapping[str, sp.csr_matrix],
    *,
    standards: Standards,
    uptake: Mapping[str, float],
) -> dict[str, Any]:
    """The capacity arguments of :meth:`~carecircle.siting.problem.SitingProblem.from_arrays`.

    Decisions: a new site's capacity is its floor area / ``elderly_m2_per_user`` (elderly
    care, street centre) or / ``childcare_m2_per_place`` (childcare), rounded down; in a
    shared building each kind has its share of the floor area (60 : 40).  Existing
    facilities keep the capacity of :func:`carecircle.assess.capacity.facility_capacity`.

    Parameters
    ----------
    communities
        The model's communities: their ``elderly_demand`` / ``childcare_demand`` (the
        capacity assessment's), else ``pop_60plus``, ``pop_0_3`` and ``district``.
    candidates
        The candidates (``floor_area_m2``).
    existing
        ``{kind: the existing qualifying facilities serving it}``, in the column order
        of *existing_cover*.
    existing_cover
        ``{kind: communities x existing facilities}`` reach.
    standards
        The scenario's ``[standards]``.
    uptake
        ``{kind: share}``: elderly uptake and childcare enrolment (``[demand]``).

    Returns
    -------
    dict
        ``demand``, ``capacity_new``, ``capacity_shared``, ``existing_capacity``,
        ``existing_cover``.
    """
    from carecircle.assess.capacity import CapacityParameters, community_demand, facility_capacity

    params = CapacityParameters(elderly_m2_per_user=standards.elderly_m2_per_user,
                                childcare_m2_per_place=standards.childcare_m2_per_place)
    area = candidates["floor_area_m2"].to_numpy(dtype=float)
    per = {"elderly": standards.elderly_m2_per_user, "street_centre": standards.elderly_m2_per_user,
           "childcare": standards.childcare_m2_per_place}
    part = {"elderly": SHARED_ELDERLY_SHARE, "street_centre": SHARED_ELDERLY_SHARE,
            "childcare": 1.0 - SHARED_ELDERLY_SHARE}
    return {
        "demand": {k: communities[f"{k}_demand"].to_numpy(dtype=float) if f"{k}_demand" in communities
                   else community_demand(communities, k, uptake[k]) for k in KINDS},
        "capacity_new": {k: np.floor(area / per[k] + 1e-9) for k in HOST_KINDS},
        "capacity_shared": {k: np.floor(area * part[k] / per[k] + 1e-9) for k in HOST_KINDS},
        "existing_capacity": {k: facility_capacity(existing[k], k, params)[0] for k in KINDS},
        "existing_cover": dict(existing_cover),
    }
