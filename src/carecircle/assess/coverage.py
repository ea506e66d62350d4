"""Who is served today: each community's walk to the nearest qualifying facility.

A community is *served* for a kind when a facility of that kind with at least the
standard floor area (elderly >= 300 m², childcare >= 200 m² by default) lies within
the walking limit (minutes x the speed of the people it serves) on the network,
snapping offsets included.  A facility that is within reach but too small is
reported as such (``K_substandard``), never treated as absent.

Decisions
---------
- Elderly care is provided by community stations (``elderly``), street/town
  comprehensive centres (``street_centre``) and institutions (``institution``): any
  of them with the standard floor area serves a community.  Childcare by
  ``childcare`` facilities and, unless the scenario says otherwise, kindergartens
  with a 托班 (``kindergarten_tuoban``, the plan's task 8: kindergartens opening
  2-3-year classes), with the childcare floor-area standard.
- A community that does not join the network within the snap limit, or lies
  outside the network's extent (the convex hull of its nodes: beyond it the
  streets are simply not in the data, so a walk cannot be trusted), is
  ``unreachable``: it is listed, and excluded from coverage percentages.
- Compound rule (task 5): where households are known, the elderly floor area a
  compound needs is 20 m² per 100 households; what serves it is the floor area of
  the nearest elderly-care facility within reach (of any size).
- Villages are not city blocks (:func:`community_status`'s ``rural_limit_m``): a
  rural community is served for elderly care by a qualifying facility inside the
  village (its polygon, where the layer gives one) or within the rural travel limit
  on the network, and rural happiness homes (``rural_home``, 农村幸福院) count there
  with their own area standard.  A rural home serves villages only.  Childcare in
  villages keeps the walking limit.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from carecircle.network.reach import nearest_site
from carecircle.network.snapping import Snapped, snap_points, way_labels
from carecircle.network.walknet import WalkNetwork

if TYPE_CHECKING:
    import shapely

    from carecircle.inputs.scenario import Scenario

KIND_SOURCES: dict[str, tuple[str, ...]] = {
    "elderly": ("elderly", "street_centre", "institution"),
    "childcare": ("childcare", "kindergarten_tuoban"),
}
#: What serves a village's elderly care: any elderly facility, and rural happiness homes.
RURAL_SOURCES: tuple[str, ...] = (*KIND_SOURCES["elderly"], "rural_home")


def kind_sources(tuoban_as_childcare: bool = True) -> dict[str, tuple[str, ...]]:
    """The facility kinds that serve each kind of care.

    A kindergarten with a 托班 (``kindergarten_tuoban``) serves childcare unless the
    scenario says otherwise (``standards.kindergarten_tuoban_as_childcare``).

    Parameters
    ----------
    tuoban_as_childcare
        Count ``kindergarten_tuoban`` facilities as childcare.

    Returns
    -------
    dict
        ``{"elderly": kinds, "childcare": kinds}``.
    """
    if tuoban_as_childcare:
        return dict(KIND_SOURCES)
    return {**KIND_SOURCES, "childcare": ("childcare",)}


def service_status(
    net: WalkNetwork,
    communities: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame | None,
    *,
    kind: str,
    limit_m: float,
    min_area_m2: float,
    speed_mps: float,
    max_snap_m: float = 300.0,
    community_snap: Snapped | None = None,
    sources: tuple[str, ...] | None = None,
    min_area_by_kind: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Walking access of every community to facilities of one kind.

    Parameters
    ----------
    net
        The walking network.
    communities
        Communities (points, ``id`` column) in the network's CRS.
    facilities
        Existing facilities (``id``, ``kind``, ``floor_area_m2``), or ``None``.
    kind
        ``"elderly"`` or ``"childcare"``.
    limit_m
        Walking limit in metres (inclusive).
    min_area_m2
        Floor-area standard a facility must meet to count.
    speed_mps
        Walking speed used to express metres as minutes.
    max_snap_m
        Snap limit for facilities (and communities when ``community_snap`` is None).
    community_snap
        A :class:`~carecircle.network.Snapped` for the communities, to reuse.
    sources
        Facility kinds that serve (default :data:`KIND_SOURCES` of *kind*).
    min_area_by_kind
        Floor-area standards of some facility kinds, instead of *min_area_m2*
        (e.g. ``{"rural_home": 200}``).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``communities``: ``{kind}_m``, ``{kind}_min``, ``{kind}_served``,
        ``{kind}_facility``, ``{kind}_facility_area``, ``{kind}_substandard``,
        ``{kind}_any_area`` (floor area of the nearest facility of any size within reach).
    """
    n = len(communities)
    cs = community_snap if community_snap is not None else snap_points(
        net, communities, max_snap_m=max_snap_m, source="communities"
    )
    out = pd.DataFrame(index=communities.index)
    metres = np.full(n, np.nan)
    fac_id = np.full(n, "", dtype=object)
    fac_area = np.full(n, np.nan)
    substandard = np.zeros(n, dtype=bool)
    any_area = np.full(n, np.nan)
    if facilities is not None and len(facilities):
        fk = facilities[facilities["kind"].isin(sources or KIND_SOURCES[kind])].reset_index(drop=True)
        area = fk["floor_area_m2"].to_numpy(dtype=float)
        need = fk["kind"].map(min_area_by_kind or {}).fillna(min_area_m2).to_numpy(dtype=float)
        qual = fk[area >= need].reset_index(drop=True)
        if len(qual):
            qs = snap_points(net, qual, max_snap_m=max_snap_m, source="facilities")
            idx, dist = nearest_site(net, cs, qs, limit_m)
            hit = idx >= 0
            metres[hit] = dist[hit]
            fac_id[hit] = qual["id"].to_numpy(dtype=object)[idx[hit]]
            fac_area[hit] = qual["floor_area_m2"].to_numpy(dtype=float)[idx[hit]]
        if len(fk):
            fs = snap_points(net, fk, max_snap_m=max_snap_m, source="facilities")
            idx_any, _ = nearest_site(net, cs, fs, limit_m)
            has_any = idx_any >= 0
            any_area[has_any] = area[idx_any[has_any]]
            substandard = has_any & np.isnan(metres)
    out[f"{kind}_m"] = metres
    out[f"{kind}_min"] = metres / speed_mps / 60.0
    out[f"{kind}_served"] = ~np.isnan(metres)
    out[f"{kind}_facility"] = fac_id
    out[f"{kind}_facility_area"] = fac_area
    out[f"{kind}_substandard"] = substandard
    out[f"{kind}_any_area"] = any_area
    return out


def _rural_elderly(net: WalkNetwork, comm: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame | None,
                   cs: Snapped, *, limit_m: float, speed_mps: float, min_area_m2: float,
                   home_m2: float, max_snap_m: float) -> None:
    """Villages' elderly columns at the rural limit, rural homes included (in place)."""
    rural = (comm["urban_rural"] == "rural").to_numpy()
    if not rural.any():
        return
    areas = {"rural_home": home_m2}
    part = service_status(
        net, comm[rural], facilities, kind="elderly", limit_m=limit_m, min_area_m2=min_area_m2,
        speed_mps=speed_mps, max_snap_m=max_snap_m, community_snap=cs.subset(rural),
        sources=RURAL_SOURCES, min_area_by_kind=areas)
    inside = _facility_in_village(comm[rural], facilities, min_area_m2, areas)
    take = inside.notna().to_numpy() & ~part["elderly_served"].to_numpy(dtype=bool)
    part.loc[take, "elderly_served"] = True
    part.loc[take, "elderly_facility"] = inside[take].to_numpy()
    part.loc[take, "elderly_substandard"] = False
    for col in part.columns:
        comm.loc[rural, col] = part[col].to_numpy()


def _facility_in_village(villages: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame | None,
                         min_area_m2: float, areas: dict[str, float]) -> pd.Series:
    """Per village, the id of a qualifying elderly facility inside its polygon (else None)."""
    out = pd.Series([None] * len(villages), index=villages.index, dtype=object)
    if facilities is None or not len(facilities) or "area_geometry" not in villages:
        return out
    fk = facilities[facilities["kind"].isin(RURAL_SOURCES)]
    need = fk["kind"].map(areas).fillna(min_area_m2).to_numpy(dtype=float)
    fk = fk[fk["floor_area_m2"].to_numpy(dtype=float) >= need]
    wkb = villages["area_geometry"]
    has = wkb.notna().to_numpy()
    if not len(fk) or not has.any():
        return out
    polys = gpd.GeoDataFrame(geometry=gpd.GeoSeries.from_wkb(wkb[has], crs=villages.crs),
                             index=villages.index[has])
    hit = gpd.sjoin(fk[["id", "geometry"]].to_crs(villages.crs), polys, how="inner",
                    predicate="within")
    first = hit.sort_values("id").groupby("index_right")["id"].first()
    out.loc[first.index] = first.to_numpy()
    return out


def network_extent(net: WalkNetwork) -> shapely.Geometry | None:
    """The network's extent: convex hull of its nodes plus 1 m (``None`` if degenerate)."""
    import shapely

    hull = shapely.MultiPoint(net.node_xy).convex_hull
    if hull.area == 0:  # a line or a point: no meaningful extent to test
        return None
    return hull.buffer(1.0)


def outside_extent(
    net: WalkNetwork,
    points: gpd.GeoDataFrame,
    extent: shapely.Geometry | Literal[False] | None = None,
) -> np.ndarray:
    """True for points outside ``extent`` (default :func:`network_extent` of ``net``).

    A run split into sub-networks passes the whole network's extent, so that a
    community is judged against the same boundary on every machine.

    Parameters
    ----------
    net
        The walking network (its CRS, and its extent when ``extent`` is None).
    points
        Points or polygons (judged by a representative point).
    extent
        A polygon in ``net.crs``; ``None``: :func:`network_extent`; ``False``: the
        caller found no usable extent, and no point is outside.

    Returns
    -------
    numpy.ndarray
        Boolean, one per point.
    """
    import shapely

    extent = network_extent(net) if extent is None else extent
    if extent is None or extent is False:  # False: the caller found no usable extent
        return np.zeros(len(points), dtype=bool)
    pts = points.to_crs(net.crs).geometry.representative_point()
    return ~shapely.contains(extent, pts.values)


def status_kwargs(scen: Scenario) -> dict[str, Any]:
    """The scenario's parameters of :func:`carecircle.assess.coverage.community_status`."""
    w, st = scen.walking, scen.standards
    return {
        "minutes": w.minutes, "speed_mps": w.speed_mps,
        "min_area_m2": {"elderly": st.elderly_min_area_m2, "childcare": st.childcare_min_area_m2},
        "max_snap_m": w.max_snap_m, "compound_m2_per_100_households": st.compound_m2_per_100_households,
        "kind_sources": kind_sources(st.kindergarten_tuoban_as_childcare),
        "rural_limit_m": scen.rural.limit(), "rural_speed_mps": scen.rural.speed_mps,
        "rural_home_min_area_m2": st.rural_home_min_area_m2,
    }


def status_label(elderly: np.ndarray, childcare: np.ndarray, snapped: np.ndarray) -> np.ndarray:
    """``both`` / ``elderly_only`` / ``childcare_only`` / ``neither`` / ``unreachable``.

    Parameters
    ----------
    elderly, childcare
        Boolean: served by each kind.
    snapped
        Boolean: on the network (else ``unreachable``, whatever the kinds say).

    Returns
    -------
    numpy.ndarray
        Object array of the labels.
    """
    lab = np.where(elderly & childcare, "both",
                   np.where(elderly, "elderly_only", np.where(childcare, "childcare_only", "neither")))
    return np.where(snapped, lab, "unreachable").astype(object)


def community_status(
    net: WalkNetwork,
    communities: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame | None,
    *,
    minutes: float = 15.0,
    speed_mps: dict[str, float] | None = None,
    min_area_m2: dict[str, float] | None = None,
    max_snap_m: float = 300.0,
    compound_m2_per_100_households: float = 20.0,
    district_names: dict[str, str] | None = None,
    extent: shapely.Geometry | Literal[False] | None = None,
    kind_sources: dict[str, tuple[str, ...]] | None = None,
    rural_limit_m: float | None = None,
    rural_speed_mps: float = 1.0,
    rural_home_min_area_m2: float = 200.0,
) -> gpd.GeoDataFrame:
    """The service status of every community for both kinds.

    Parameters
    ----------
    net
        The walking network.
    communities, facilities
        Validated layers in the network's CRS.
    minutes
        Walking time limit.
    speed_mps
        Walking speed per kind (``elderly``, ``childcare``), m/s.
    min_area_m2
        Floor-area standard per kind.
    max_snap_m
        Points farther than this from the network are unreachable.
    compound_m2_per_100_households
        The compound rule's floor area per 100 households.
    district_names
        District code -> name, to add ``district_name``.
    extent
        The study network's extent (shapely polygon); default: that of ``net``;
        ``False``: none (no community is outside).  Communities outside it are
        ``unreachable``.
    kind_sources
        The facility kinds that serve each kind (default :data:`KIND_SOURCES`).
    rural_limit_m
        Villages' elderly care: served within this network distance (metres) or by a
        facility inside the village, rural happiness homes counting at
        *rural_home_min_area_m2*; ``None``: villages are judged like city blocks.
    rural_speed_mps
        The speed of the rural travel mode, to express metres as minutes.
    rural_home_min_area_m2
        The area standard of a rural happiness home.

    Returns
    -------
    geopandas.GeoDataFrame
        The community table described in :mod:`carecircle.outputs.results`.
    """
    speed_mps = speed_mps or {"elderly": 1.0, "childcare": 1.2}
    min_area_m2 = min_area_m2 or {"elderly": 300.0, "childcare": 200.0}
    comm = communities.copy()
    cs = snap_points(net, comm, max_snap_m=max_snap_m, source="communities")
    outside = outside_extent(net, comm, extent)
    if outside.any():
        cs = dataclasses.replace(cs, ok=cs.ok & ~outside, edge=np.where(outside, -1, cs.edge))
    comm["outside_extent"] = outside
    comm["snapped"] = cs.ok
    comm["snap_m"] = np.where(cs.ok, cs.connector, np.nan)
    comm["snap_way"] = way_labels(net, cs)
    for kind in ("elderly", "childcare"):
        part = service_status(
            net, comm, facilities, kind=kind, limit_m=minutes * 60.0 * speed_mps[kind],
            min_area_m2=min_area_m2[kind], speed_mps=speed_mps[kind], max_snap_m=max_snap_m,
            community_snap=cs, sources=(kind_sources or KIND_SOURCES)[kind],
        )
        for col in part.columns:
            comm[col] = part[col]
    if rural_limit_m is not None:
        _rural_elderly(net, comm, facilities, cs, limit_m=rural_limit_m, speed_mps=rural_speed_mps,
                       min_area_m2=min_area_m2["elderly"], home_m2=rural_home_min_area_m2,
                       max_snap_m=max_snap_m)
    comm["status"] = status_label(
        comm["elderly_served"].to_numpy(), comm["childcare_served"].to_numpy(), cs.ok
    )
    hh = comm["households"].to_numpy(dtype=float) if "households" in comm else np.full(len(comm), np.nan)
    need = hh / 100.0 * compound_m2_per_100_households
    served_area = np.nan_to_num(comm["elderly_any_area"].to_numpy(dtype=float), nan=0.0)
    comm["compound_need_m2"] = need
    comm["compound_served_m2"] = np.where(np.isnan(need), np.nan, served_area)
    comm["compound_ok"] = pd.array(
        np.where(np.isnan(need), None, served_area >= np.nan_to_num(need)), dtype="boolean"
    )
    if district_names is not None:
        comm["district_name"] = comm["district"].map(district_names).fillna(comm["district"])
    return comm
