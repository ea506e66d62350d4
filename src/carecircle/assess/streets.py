"""The street/town (街道/镇) table: the plan read street by street.

One row per street or town of the ``streets`` layer, in district order, and one row
``(未分配街道 no street)`` per district for communities, facilities or sites that lie
in no street.  Every count adds up: a district's rows sum to the district (communities,
residents, served communities, places, new sites, cost), so the street table and the
district table agree (``tests/test_streets.py`` checks it).

Columns (``_after`` after a plan):

- who: ``communities``, ``on_network``, ``population``, ``pop_60plus``, ``pop_0_3``;
- coverage: ``elderly_served``, ``childcare_served``, ``both_served`` (communities on the
  network served), ``elderly_coverage``, ``childcare_coverage``, ``compliance`` (their
  shares of the communities on the network; NaN without any);
- street targets: ``street_centre`` (a comprehensive elderly-care centre in the street),
  ``kindergarten_tuoban`` (a kindergarten running a 托班; NaN when the facilities
  layer records no kindergarten at all);
- childcare places: ``childcare_places`` and ``places_per_1000`` (places of childcare
  facilities, and of kindergartens' 托班 unless the scenario says otherwise);
- capacity: ``elderly_demand``, ``elderly_placed``, ``childcare_demand``,
  ``childcare_placed`` (:mod:`carecircle.assess.capacity`);
- the plan: ``new_sites``, ``new_elderly``, ``new_childcare``, ``new_street_centre``,
  ``cost_yuan``, ``unserved_after`` (communities not served by both kinds after it).

A community's street is its own ``street`` column when it has one, else the street
polygon it lies in; a facility's or a site's, the street polygon it lies in.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from carecircle.assess.indicators import place_kinds, street_of_points

NO_STREET = "(未分配街道 no street)"
_SUMMED = ("communities", "on_network", "population", "pop_60plus", "pop_0_3", "elderly_served",
           "childcare_served", "both_served", "elderly_demand", "elderly_placed",
           "childcare_demand", "childcare_placed")


def community_streets(communities: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None) -> pd.Series:
    """The street code of each community: its ``street`` column, else the polygon it is in.

    Parameters
    ----------
    communities
        Communities (points), in the streets' CRS.
    streets
        The street layer (``code``, polygons) or ``None``.

    Returns
    -------
    pandas.Series
        Indexed like *communities*; None where unknown.
    """
    if "street" in communities and communities["street"].notna().any():
        return communities["street"].astype(object).where(communities["street"].notna(), None)
    if streets is None:
        return pd.Series([None] * len(communities), index=communities.index, dtype=object)
    return street_of_points(communities, streets).astype(object)


def _point_streets(points: gpd.GeoDataFrame | None, streets: gpd.GeoDataFrame | None) -> pd.Series:
    if points is None or not len(points):
        return pd.Series([], dtype=object)
    if streets is None and "street" not in points:
        return pd.Series([None] * len(points), index=points.index, dtype=object)
    return street_of_points(points, streets).astype(object)


def _keys(streets: gpd.GeoDataFrame | None, districts: pd.DataFrame,
          used: list[tuple[str, Any]]) -> pd.DataFrame:
    """The rows: every street of the layer, labelled streets it lacks, and no-street rows."""
    names = dict(zip(districts["code"].astype(str), districts["name"].astype(str), strict=True))
    rows = {}
    if streets is not None:
        for code, name, d in zip(streets["code"].astype(str), streets["name"].astype(str),
                                 streets["district"].astype(str), strict=True):
            rows[(d, code)] = name
    for d, s in used:
        key = (d, NO_STREET if s is None else str(s))
        rows.setdefault(key, key[1])
    order = sorted(rows, key=lambda k: (list(names).index(k[0]) if k[0] in names else len(names),
                                        k[0], k[1] == NO_STREET, k[1]))
    return pd.DataFrame({"district": [k[0] for k in order],
                         "district_name": [names.get(k[0], k[0]) for k in order],
                         "street": [k[1] for k in order], "street_name": [rows[k] for k in order]})


def _label(street: Any) -> str:
    return NO_STREET if street is None or (isinstance(street, float) and np.isnan(street)) else str(street)


def street_table(
    communities: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame | None,
    streets: gpd.GeoDataFrame | None,
    districts: pd.DataFrame,
    *,
    facilities_after: gpd.GeoDataFrame | None = None,
    sites: gpd.GeoDataFrame | None = None,
    tuoban_as_childcare: bool = True,
) -> pd.DataFrame:
    """One row per street/town: coverage, street targets, places, capacity, the plan.

    Parameters
    ----------
    communities
        Community status (``district``, ``snapped``, ``*_served`` and, after a plan,
        ``*_served_after``; populations; capacity columns when assessed), in the
        streets' CRS.
    facilities
        Today's facilities (``kind``, ``places``), or ``None``.
    streets
        The street layer (``code``, ``name``, ``district``), or ``None`` (then the
        communities' own ``street`` labels, if any, make the rows).
    districts
        District ``code`` and ``name`` (the row order).
    facilities_after
        Today's and the plan's facilities, after a plan.
    sites
        The plan's sites (``district``, ``street``, ``kinds``, ``cost_yuan``), after a plan.
    tuoban_as_childcare
        Count a kindergarten's 托班 places as childcare places.

    Returns
    -------
    pandas.DataFrame
        The columns of the module docstring; counts are whole numbers.
    """
    comm = pd.DataFrame(communities.drop(columns="geometry", errors="ignore"))
    comm["_street"] = community_streets(communities, streets).map(_label).to_numpy()
    comm["_district"] = comm["district"].astype(str)
    fac_st = _point_streets(facilities, streets).map(_label)
    after_st = _point_streets(facilities_after, streets).map(_label)
    used = list(zip(comm["_district"], comm["_street"], strict=True))
    for f, st in ((facilities, fac_st), (facilities_after, after_st)):
        if f is not None and len(f):
            used += list(zip(f["district"].astype(str), st, strict=True))
    if sites is not None and len(sites):
        used += list(zip(sites["district"].astype(str), sites["street"].map(_label), strict=True))
    out = _keys(streets, districts, [(d, None if s == NO_STREET else s) for d, s in used])
    key = pd.MultiIndex.from_frame(out[["district", "street"]])
    gk = [comm["_district"], comm["_street"]]
    _community_counts(out, comm, gk, key, "")
    if "elderly_served_after" in comm:
        _community_counts(out, comm, gk, key, "_after")
    _facility_columns(out, facilities, fac_st, key, "", tuoban_as_childcare)
    if facilities_after is not None:
        _facility_columns(out, facilities_after, after_st, key, "_after", tuoban_as_childcare)
    if sites is not None:
        _site_columns(out, sites, key)
    counts = [c for c in out.columns if c.startswith(_SUMMED) or c.startswith(("new_", "unserved_"))]
    for c in counts:
        if out[c].notna().all() and (out[c] == np.round(out[c])).all():
            out[c] = out[c].astype(np.int64)
    return out


def _sum_by(values: pd.Series, groups: list[pd.Series], key: pd.MultiIndex) -> np.ndarray:
    s = values.groupby(groups).sum()
    return s.reindex(key).fillna(0).to_numpy(dtype=float)


def _community_counts(out: pd.DataFrame, comm: pd.DataFrame, gk: list[pd.Series],
                      key: pd.MultiIndex, suffix: str) -> None:
    on = comm["snapped"].astype(bool) if "snapped" in comm else pd.Series(True, index=comm.index)
    if not suffix:
        out["communities"] = _sum_by(pd.Series(1, index=comm.index), gk, key)
        out["on_network"] = _sum_by(on.astype(int), gk, key)
        for col in ("population", "pop_60plus", "pop_0_3"):
            out[col] = _sum_by(comm[col].astype(float).fillna(0.0), gk, key)
    served = {}
    for k in ("elderly", "childcare"):
        served[k] = comm[f"{k}_served{suffix}"].astype(bool) & on
        out[f"{k}_served{suffix}"] = _sum_by(served[k].astype(int), gk, key)
    out[f"both_served{suffix}"] = _sum_by((served["elderly"] & served["childcare"]).astype(int), gk, key)
    n_on = out["on_network"].where(out["on_network"] > 0)
    for k in ("elderly", "childcare"):
        out[f"{k}_coverage{suffix}"] = out[f"{k}_served{suffix}"] / n_on
    out[f"compliance{suffix}"] = out[f"both_served{suffix}"] / n_on
    for k in ("elderly", "childcare"):
        for what in ("demand", "placed"):
            col = f"{k}_{what}{suffix}" if what == "placed" else f"{k}_demand"
            if col in comm and not (what == "demand" and suffix):
                out[col] = _sum_by(comm[col].astype(float).fillna(0.0), gk, key)
    if suffix:
        out["unserved_after"] = out["communities"] - out["both_served_after"]


def _facility_columns(out: pd.DataFrame, fac: gpd.GeoDataFrame | None, st: pd.Series,
                      key: pd.MultiIndex, suffix: str, tuoban: bool) -> None:
    pop = out["population"].where(out["population"] > 0)
    if fac is None or not len(fac):
        out[f"street_centre{suffix}"] = False
        if not suffix:
            out["kindergarten_tuoban"] = np.nan
        out[f"childcare_places{suffix}"] = np.nan
        out[f"places_per_1000{suffix}"] = np.nan
        return
    gk = [fac["district"].astype(str), st]
    kind = fac["kind"]
    out[f"street_centre{suffix}"] = _sum_by((kind == "street_centre").astype(int), gk, key) > 0
    out.loc[out["street"] == NO_STREET, f"street_centre{suffix}"] = False
    if not suffix:
        has = (kind == "kindergarten_tuoban").any()
        kt = _sum_by((kind == "kindergarten_tuoban").astype(int), gk, key) > 0
        out["kindergarten_tuoban"] = np.where(out["street"] == NO_STREET, np.nan,
                                              kt.astype(float)) if has else np.nan
    places = fac["places"].astype(float) if "places" in fac else pd.Series(np.nan, index=fac.index)
    if places.notna().any():
        counted = places.where(kind.isin(place_kinds(tuoban)), 0.0).fillna(0.0)
        out[f"childcare_places{suffix}"] = _sum_by(counted, gk, key)
        out[f"places_per_1000{suffix}"] = 1000.0 * out[f"childcare_places{suffix}"] / pop
    else:
        out[f"childcare_places{suffix}"] = np.nan
        out[f"places_per_1000{suffix}"] = np.nan


def _site_columns(out: pd.DataFrame, sites: gpd.GeoDataFrame, key: pd.MultiIndex) -> None:
    if not len(sites):
        for col in ("new_sites", "new_elderly", "new_childcare", "new_street_centre", "cost_yuan"):
            out[col] = 0.0
        return
    gk = [sites["district"].astype(str), sites["street"].map(_label)]
    kinds = sites["kinds"].astype(str).str.split(";")
    out["new_sites"] = _sum_by(pd.Series(1, index=sites.index), gk, key)
    for k in ("elderly", "childcare", "street_centre"):
        out[f"new_{k}"] = _sum_by(kinds.map(lambda ks, k=k: int(k in ks)), gk, key)
    out["cost_yuan"] = _sum_by(sites["cost_yuan"].astype(float).fillna(0.0), gk, key)


def street_sums(table: pd.DataFrame) -> pd.DataFrame:
    """The street table's counts summed per district (for checks against the district table).

    Parameters
    ----------
    table
        From :func:`street_table`.

    Returns
    -------
    pandas.DataFrame
        Indexed by district code: every summable column present.
    """
    cols = [c for c in table.columns if c.startswith(_SUMMED) or c.startswith(("new_", "cost_yuan",
                                                                               "childcare_places"))]
    return table.groupby("district")[cols].sum()
