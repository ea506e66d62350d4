"""A siting problem's arrays from a scenario's layers: who may host what, at what cost.

:meth:`carecircle.siting.problem.SitingProblem.from_layers` composes these; the
reach matrices come from the network stage (the run's engine), not from here.

Decisions
---------
- A candidate hosts a kind only when its ``kinds`` allow it and its floor area
  meets the kind's standard (elderly 300 m², childcare 200 m²; a street centre and
  an elderly institution need the elderly standard).  A candidate whose ``kinds``
  allow a rural happiness home (``rural_home``) and that is too small for a station
  hosts elderly care as a rural home if it meets ``rural_home_min_area_m2``; a rural
  home serves villages only (its reach of urban communities is dropped).
- **Cost: the building once, each kind's fit-out** (:class:`CostParts`).  A
  candidate's ``cost_yuan`` (else unit cost per m² of its acquisition type x floor
  area) is what it costs fitted out as a community station, as the data have always
  given it, so a station alone costs exactly that.  Its *building* part (acquiring,
  building or renovating, or leasing it: once per site) is that less the elderly
  fit-out (``plan.fitout_costs['elderly']`` for its acquisition x floor area, at most
  the whole cost); each other kind costs the building plus its own fit-out per m².
  Hosting elderly care (or a street centre) *and* childcare in one building
  (floor area >= ``shared_min_area_m2``) costs the building once plus the two
  fit-outs of the areas each kind uses, less ``plan.shared_fitout_saving`` x those
  fit-outs: never the building twice.  In a shared building elderly care takes 60 %
  of the floor area and childcare 40 % (300 : 200), so both meet the standard at
  500 m².
- An elderly institution occupies its building alone; its beds are its floor area /
  ``institution_m2_per_bed`` (rounded down), ``institution_nursing_share_new`` of them
  nursing-type (rounded down); with at least ``demonstration_min_beds`` beds it may be
  the district's public demonstration home.
- New childcare places = childcare floor area / ``childcare_m2_per_place``; for a
  candidate that may share, the model counts the shared (40 %) area, a lower bound.
- Street labels: a layer's own ``street`` column when it has one (communities),
  else the street polygon a point lies in; none without polygons.
- New facilities are public (公办/公建民营): they count for the public-childcare
  target, whose existing count is the public and public-private childcare today, and
  a new institution's beds are public beds.
- The bed targets (public beds, nursing share, demonstration home) are planned only
  when some candidate may host an institution and the facilities say what they
  count (beds; nursing beds; demonstration homes): otherwise they are assessed, not
  planned, and the run says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from carecircle.assess.indicators import BED_KINDS, PUBLIC, street_of_points
from carecircle.inputs.scenario import FITOUT_COSTS, Plan, Standards, Targets
from carecircle.siting.problem import HOST_KINDS, KINDS, BedTargets

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


@dataclass(frozen=True)
class CostParts:
    """A candidate's cost split into its building (once) and each kind's fit-out.

    Attributes
    ----------
    building
        Acquiring, building or renovating, or leasing the building, per candidate.
    fitout_rate
        Fit-out per m² of the area a kind uses, ``{kind: per candidate}`` for
        ``elderly`` (a rural happiness home where the candidate hosts one),
        ``street_centre``, ``childcare``, ``institution``.
    area
        Floor area per candidate, m².
    saving
        Share of the two fit-outs saved when two kinds share a building.
    """

    building: np.ndarray
    fitout_rate: dict[str, np.ndarray]
    area: np.ndarray
    saving: float

    def fitout(self, kind: str, share: float = 1.0) -> np.ndarray:
        """Fit-out of *kind* on *share* of each candidate's floor area.

        Parameters
        ----------
        kind
            A key of :attr:`fitout_rate`.
        share
            The share of the floor area the kind uses (1 alone, 0.6/0.4 shared).
        """
        return self.fitout_rate[kind] * self.area * share

    def single(self, kind: str) -> np.ndarray:
        """The cost of hosting *kind* alone: building + its fit-out."""
        return self.building + self.fitout(kind)

    def shared(self, partner: str) -> np.ndarray:
        """Building + *partner*'s fit-out (60 %) + childcare's (40 %), less the saving."""
        fit = self.fitout(partner, SHARED_ELDERLY_SHARE) + self.fitout(
            "childcare", 1.0 - SHARED_ELDERLY_SHARE)
        return self.building + (1.0 - self.saving) * fit


def cost_parts(candidates: pd.DataFrame, plan: Plan, rural_home: np.ndarray | None = None
               ) -> CostParts:
    """Building and fit-out of every candidate (see the module's decisions).

    Parameters
    ----------
    candidates
        With ``cost_yuan`` (NaN where not given), ``acquisition`` and ``floor_area_m2``.
    plan
        ``unit_costs``, ``fitout_costs`` and ``shared_fitout_saving``.
    rural_home
        Candidates whose elderly care is a rural happiness home (default none).

    Returns
    -------
    CostParts
    """
    area = candidates["floor_area_m2"].to_numpy(dtype=float)
    station = candidate_costs(candidates, plan.unit_costs)
    acq = candidates["acquisition"]
    rates = {k: acq.map({**FITOUT_COSTS[k], **plan.fitout_costs.get(k, {})}).to_numpy(dtype=float)
             for k in FITOUT_COSTS}
    rates = {k: np.nan_to_num(v, nan=0.0) for k, v in rates.items()}
    # The given cost is the station fitted out: its elderly fit-out is at most all of it.
    elderly_fit = np.minimum(rates["elderly"] * area, np.nan_to_num(station, nan=0.0))
    building = station - elderly_fit
    with np.errstate(invalid="ignore", divide="ignore"):
        elderly_rate = np.where(area > 0, elderly_fit / area, 0.0)
    if rural_home is not None:
        elderly_rate = np.where(rural_home, rates["rural_home"], elderly_rate)
    return CostParts(
        building=building,
        fitout_rate={"elderly": elderly_rate, "street_centre": rates["street_centre"],
                     "childcare": rates["childcare"], "institution": rates["institution"]},
        area=area,
        saving=float(plan.shared_fitout_saving),
    )


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
        ``{kind: bool per candidate}`` for ``elderly``, ``childcare``, ``street_centre``,
        ``institution``, and ``rural_home``: the candidates whose elderly care is a
        rural happiness home (included in ``elderly``).
    """
    area = candidates["floor_area_m2"].to_numpy(dtype=float)
    kinds = candidates["kinds"].astype(str).str.split(";")
    has = {k: kinds.map(lambda ks, k=k: k in ks).to_numpy(dtype=bool)
           for k in ("elderly", "childcare", "street_centre", "institution", "rural_home")}
    big = area >= standards.elderly_min_area_m2
    station = has["elderly"] & big
    rural_home = ~station & has["rural_home"] & (area >= standards.rural_home_min_area_m2)
    beds = np.floor(area / standards.institution_m2_per_bed + 1e-9)
    return {
        "elderly": station | rural_home,
        "childcare": has["childcare"] & (area >= standards.childcare_min_area_m2),
        "street_centre": has["street_centre"] & big,
        "institution": has["institution"] & big & (beds >= 1),
        "rural_home": rural_home,
    }


def institution_beds(candidates: pd.DataFrame, standards: Standards
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Beds, nursing-type beds and demonstration eligibility of a new institution per candidate.

    Parameters
    ----------
    candidates
        With ``floor_area_m2``.
    standards
        ``institution_m2_per_bed``, ``institution_nursing_share_new``,
        ``demonstration_min_beds``.

    Returns
    -------
    tuple of numpy.ndarray
        Beds, nursing beds, and whether a new institution there may be the district's
        demonstration home.
    """
    area = candidates["floor_area_m2"].to_numpy(dtype=float)
    beds = np.floor(area / standards.institution_m2_per_bed + 1e-9)
    nursing = np.floor(beds * standards.institution_nursing_share_new + 1e-9)
    demo = (beds >= max(standards.demonstration_min_beds, 1))
    return beds, nursing, demo


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
    public_beds, beds, nursing_beds, demonstration
        Per district: public institution beds, all institution beds, nursing-type beds
        and public demonstration homes (:data:`~carecircle.assess.indicators.BED_KINDS`;
        committed additions included).
    beds_known, nursing_known, demonstration_known
        Whether the facilities (or the additions) give beds, nursing beds and the
        demonstration flag at all (else that target is not planned).
    """

    streets_with_centre: np.ndarray
    existing_places: dict[Any, float]
    public_childcare: dict[Any, float]
    places_known: bool
    facilities_known: bool
    n_streets: dict[Any, float] | None
    public_beds: dict[Any, float] = field(default_factory=dict)
    beds: dict[Any, float] = field(default_factory=dict)
    nursing_beds: dict[Any, float] = field(default_factory=dict)
    demonstration: dict[Any, float] = field(default_factory=dict)
    beds_known: bool = False
    nursing_known: bool = False
    demonstration_known: bool = False


def existing_stock(
    facilities: gpd.GeoDataFrame | None,
    streets: gpd.GeoDataFrame | None,
    extra_places: Mapping[Any, float] | None = None,
    extra: Mapping[str, Mapping[Any, float]] | None = None,
    *,
    place_kinds: tuple[str, ...] = ("childcare",),
) -> Stock:
    """Today's street centres, childcare places, public childcare and beds, per district.

    Parameters
    ----------
    facilities
        Existing facilities (``kind``, ``district``, ``places``, ``ownership``, and
        ``beds``, ``nursing_beds``, ``demonstration`` where known) or ``None``.
    streets
        Street/town polygons (``code``, ``district``) or ``None``.
    extra_places
        Childcare places per district to add (e.g. major projects counted as built).
    extra
        More additions per district by name, as in
        :func:`carecircle.assess.indicators.district_indicators`: ``beds`` (public),
        ``all_beds``, ``nursing_beds``, ``demonstration`` (and ``places``).
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
    stock = Stock(
        streets_with_centre=centre_streets,
        existing_places=existing_places,
        public_childcare=public_childcare,
        places_known=places_known,
        facilities_known=facilities is not None,
        n_streets=n_streets,
    )
    return _bed_stock(stock, facilities, extra or {})


def _bed_stock(stock: Stock, facilities: gpd.GeoDataFrame | None,
               extra: Mapping[str, Mapping[Any, float]]) -> Stock:
    """The stock with today's beds, nursing beds and demonstration homes per district."""
    def add(a: dict[Any, float], b: Mapping[Any, float]) -> dict[Any, float]:
        out = dict(a)
        for d, v in b.items():
            out[d] = out.get(d, 0.0) + float(v)
        return out

    fac = facilities if facilities is not None else pd.DataFrame(columns=["kind", "district"])
    has = {c: c in fac and fac[c].notna().any() for c in ("beds", "nursing_beds", "demonstration")}
    bedded = fac[fac["kind"].isin(BED_KINDS)]
    public = bedded["ownership"].isin(PUBLIC) if "ownership" in bedded else np.zeros(len(bedded), bool)
    beds = bedded["beds"].fillna(0.0) if has["beds"] else pd.Series(0.0, index=bedded.index)
    # nursing beds where a facility says (the indicator flags the others as incomplete)
    nursing = bedded["nursing_beds"].fillna(0.0) if has["nursing_beds"] else beds * 0.0
    demo = (bedded["demonstration"].fillna(False).astype(bool) & public
            & (bedded["kind"] == "institution")) if has["demonstration"] else beds * 0.0
    d = bedded["district"].astype(str)
    return replace(
        stock,
        public_beds=add(beds[public].groupby(d[public]).sum().to_dict(), extra.get("beds", {})),
        beds=add(beds.groupby(d).sum().to_dict(), extra.get("all_beds", {})),
        nursing_beds=add(nursing.groupby(d).sum().to_dict(), extra.get("nursing_beds", {})),
        demonstration=add(demo.astype(float).groupby(d).sum().to_dict(),
                          extra.get("demonstration", {})),
        beds_known=has["beds"] or bool(extra.get("beds")),
        nursing_known=has["nursing_beds"],
        demonstration_known=has["demonstration"],
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
    rural_home = can_host.pop("rural_home")
    parts = cost_parts(candidates, plan, rural_home)
    big = area >= standards.shared_min_area_m2
    can_share = can_host["elderly"] & can_host["childcare"] & big
    can_share_centre = can_host["street_centre"] & can_host["childcare"] & big
    child_area = np.where(can_share | can_share_centre, area * (1.0 - SHARED_ELDERLY_SHARE), area)
    beds, nursing, demo = institution_beds(candidates, standards)
    comm = communities
    urban = (comm["urban_rural"] == "urban").to_numpy()
    return {
        "community_ids": comm["id"].astype(str).to_numpy(),
        "district": comm["district"].astype(str).to_numpy(),
        "urban": urban,
        "weight": {k: comm[plan.weights[k]].to_numpy(dtype=float) for k in KINDS},
        "cover": _rural_home_cover(cover, urban, rural_home),
        "candidate_ids": candidates["id"].astype(str).to_numpy(),
        "candidate_district": candidates["district"].astype(str).to_numpy(),
        "can_host": can_host,
        "cost": {k: parts.single(k) for k in ("elderly", "childcare", "street_centre", "institution")},
        "existing_served": {k: comm[f"{k}_served"].to_numpy(dtype=bool) for k in KINDS},
        "cost_shared": np.where(can_share, parts.shared("elderly"), np.nan),
        "cost_shared_centre": np.where(can_share_centre, parts.shared("street_centre"), np.nan),
        "beds_new": np.where(can_host["institution"], beds, 0.0),
        "nursing_new": np.where(can_host["institution"], nursing, 0.0),
        "demonstration_new": can_host["institution"] & demo,
        "places_new": np.floor(child_area / standards.childcare_m2_per_place),
        "population": comm["population"].to_numpy(dtype=float),
        "street": street_labels(comm, streets, "street"),
        "candidate_street": street_labels(candidates, streets),
        "streets_with_centre": stock.streets_with_centre,
        "required": list(plan.required) or None,
        "excluded": list(plan.excluded) or None,
    }


def _rural_home_cover(cover: Mapping[str, sp.csr_matrix], urban: np.ndarray,
                      rural_home: np.ndarray) -> dict[str, sp.csr_matrix]:
    """The reach with rural happiness homes serving villages only (their urban rows dropped).

    The street-centre and institution reach stay the elderly reach as given.
    """
    out = dict(cover)
    if not rural_home.any():
        return out
    M = sp.csr_matrix(cover["elderly"])
    out.setdefault("street_centre", M)
    out.setdefault("institution", M)
    urban_home = sp.diags(urban.astype(float)) @ M @ sp.diags(rural_home.astype(float))
    M = (M - urban_home).tocsr()
    M.eliminate_zeros()
    out["elderly"] = M
    return out


def target_arguments(targets: Targets, stock: Stock, *, plan_beds: bool = False,
                     pop_60plus: Mapping[Any, float] | None = None,
                     population: Mapping[Any, float] | None = None) -> dict[str, Any]:
    """The arguments of :func:`~carecircle.siting.problem.make_district_targets`.

    Parameters
    ----------
    targets
        The scenario's ``[targets]``.
    stock
        From :func:`existing_stock`: a target whose data is missing is left out
        (no street layer: no street-centre share; no places: no places per 1,000;
        no facilities layer: no public-childcare minimum; no beds, nursing beds or
        demonstration flag: no such bed target), and so is a target the scenario's
        profile does not set (``None``).
    plan_beds
        Whether some candidate may host an institution: without one the bed targets
        are assessed, not planned.
    pop_60plus
        Residents aged 60+ per district (all the district's communities, those off the
        network too); default: the model's elderly weight.
    population
        Residents per district, likewise; default: the model's communities'.

    Returns
    -------
    dict
    """
    t = targets
    beds = BedTargets(
        beds_share=t.public_beds_share_of_60plus if plan_beds and stock.beds_known else None,
        pop_60plus=pop_60plus,
        existing_public_beds=stock.public_beds,
        nursing_share=t.nursing_bed_share if plan_beds and stock.nursing_known else None,
        existing_beds=stock.beds,
        existing_nursing_beds=stock.nursing_beds,
        min_demonstration=(float(t.demonstration_homes_per_district)
                           if plan_beds and stock.demonstration_known
                           and t.demonstration_homes_per_district is not None else None),
        existing_demonstration=stock.demonstration,
    )
    return {
        "beds": beds,
        "population": population,
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
