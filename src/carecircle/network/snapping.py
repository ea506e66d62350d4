"""Snap points (communities, facilities, candidate sites) onto the walking network.

A point joins the network at the nearest point of the nearest edge, not merely
at the nearest node: the snap point splits its edge, and the straight connector
from the point to the snap point counts in every walking distance.  A point
farther than ``max_snap_m`` from every edge is *not* snapped: it is reported
(file, id, distance) and reaches nothing.

Walking starts on the surface.  A point joins the nearest edge a person can step onto
from the street: not a tunnel, not below ground (``layer``/``level`` < 0), not indoor,
not closed to the public (``access=private|destination|no``...; see
:func:`carecircle.network.osm.entry_restrictions`).  Only when no such edge lies within
``max_snap_m`` does it join the nearest edge of any kind, and it is flagged
(``Snapped.restricted``; :func:`restricted_snaps` makes the warnings).  A community
26 m from an underground service road and 27 m from its street joins the street.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from carecircle.errors import InputError, Problem

if TYPE_CHECKING:  # avoid an import cycle at run time
    from carecircle.network.walknet import WalkNetwork

__all__ = ["Snapped", "restricted_snaps", "snap_points", "unsnapped_report", "way_labels"]


@dataclass(frozen=True, eq=False)
class Snapped:
    """Where each point joins the network.

    Attributes
    ----------
    ids
        Feature ids (str), in input order.
    edge
        Edge index of the snap point; ``-1`` where not snapped.
    offset
        Metres along the edge from ``edge_u`` to the snap point (NaN if not snapped).
    connector
        Straight metres from the point to its snap point.  For points beyond
        the limit it is the distance to the nearest edge (NaN for empty
        geometries).
    ok
        True where the point is within ``max_snap_m`` of an edge.
    snap_xy
        ``(k, 2)`` snap point coordinates (NaN if not snapped).
    max_snap_m
        The snap limit that was applied.
    point_xy
        ``(k, 2)`` the points themselves in the network CRS (NaN for empty
        geometry); polygons are represented by an inside point.
    restricted
        True where the point joined an edge that cannot be entered from the street
        (a tunnel, an underground or private way) because no other edge lies within
        ``max_snap_m``; ``None`` means none did.
    """

    ids: np.ndarray
    edge: np.ndarray
    offset: np.ndarray
    connector: np.ndarray
    ok: np.ndarray
    snap_xy: np.ndarray
    max_snap_m: float = np.inf
    point_xy: np.ndarray | None = None
    restricted: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def subset(self, mask_or_index: Any) -> Snapped:
        """The snapped points selected by a boolean mask, an index array or a slice."""
        sel = mask_or_index if isinstance(mask_or_index, slice) else np.asarray(mask_or_index)
        return Snapped(
            ids=self.ids[sel],
            edge=self.edge[sel],
            offset=self.offset[sel],
            connector=self.connector[sel],
            ok=self.ok[sel],
            snap_xy=self.snap_xy[sel],
            max_snap_m=self.max_snap_m,
            point_xy=None if self.point_xy is None else self.point_xy[sel],
            restricted=None if self.restricted is None else self.restricted[sel],
        )


def _point_geometries(points: Any, source: str) -> np.ndarray:
    geoms = np.asarray(points.geometry.values if hasattr(points, "geometry") else points.values)
    types = shapely.get_type_id(geoms)
    # Polygons (community boundaries) join the network at a point that is
    # always inside them, never the centroid (which can fall outside).
    area_like = np.isin(types, [3, 6])
    if area_like.any():
        geoms = geoms.copy()
        geoms[area_like] = shapely.point_on_surface(geoms[area_like])
        types = shapely.get_type_id(geoms)
    bad = ~np.isin(types, [-1, 0]) & ~shapely.is_empty(geoms)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            Problem(
                "error",
                source or "points",
                "geometry is not a point or polygon",
                row=i,
                column="geometry",
                found=str(geoms[i].geom_type),
                expected="Point (or Polygon / MultiPolygon, represented by an inside point)",
            )
        )
    return geoms


def _ids(points: Any, id_column: str) -> np.ndarray:
    cols = getattr(points, "columns", None)
    if cols is not None:
        lower = {str(c).lower(): c for c in cols}
        if id_column.lower() in lower:
            return points[lower[id_column.lower()]].astype(str).to_numpy(dtype=object)
    return np.asarray(points.index.astype(str), dtype=object)


def _nearest_edges(
    net: WalkNetwork, geoms: np.ndarray, present: np.ndarray, edges: np.ndarray | None = None,
    max_distance: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per point, the nearest edge (the lowest index among equally near ones) and the
    distance to it; ``-1`` and NaN where the geometry is not ``present`` (or nothing
    lies within ``max_distance``).  ``edges``: the edge indices to search (default all)."""
    k = len(geoms)
    edge = np.full(k, -1, dtype=np.int64)
    dist = np.full(k, np.nan)
    pool = net.edge_geometry if edges is None else net.edge_geometry[edges]
    if k and present.any() and len(pool):
        tree = shapely.STRtree(pool)
        (pi, ei), d = tree.query_nearest(geoms[present], all_matches=True, return_distance=True,
                                         max_distance=max_distance)
        if edges is not None:
            ei = edges[ei]
        # all_matches returns every equidistant edge: keep the lowest index.
        order = np.lexsort((ei, pi))
        pi, ei, d = pi[order], ei[order], d[order]
        first = np.r_[True, pi[1:] != pi[:-1]] if len(pi) else np.zeros(0, bool)
        idx = np.flatnonzero(present)[pi[first]]
        edge[idx] = ei[first]
        dist[idx] = d[first]
    return edge, dist


def _surface_first(
    net: WalkNetwork, geoms: np.ndarray, present: np.ndarray, max_snap_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The nearest edge a person can enter from the street within ``max_snap_m``, else
    the nearest edge of any kind: edge, distance, and whether it is a restricted one."""
    restricted_edge = None if net.edge_restricted is None else net.edge_restricted != ""
    if restricted_edge is None or not restricted_edge.any():
        edge, dist = _nearest_edges(net, geoms, present)
        return edge, dist, np.zeros(len(geoms), dtype=bool)
    open_edges = np.flatnonzero(~restricted_edge)
    edge, dist = _nearest_edges(net, geoms, present, open_edges, max_distance=max_snap_m)
    rest = present & (edge < 0)
    if rest.any():
        e2, d2 = _nearest_edges(net, geoms, rest)
        edge[rest], dist[rest] = e2[rest], d2[rest]
    used = edge >= 0
    restricted = np.zeros(len(geoms), dtype=bool)
    restricted[used] = restricted_edge[edge[used]]
    return edge, dist, restricted


def snap_points(
    net: WalkNetwork,
    points: Any,
    *,
    max_snap_m: float = 300.0,
    id_column: str = "id",
    source: str = "",
) -> Snapped:
    """Snap points onto the nearest point of the nearest edge.

    Parameters
    ----------
    net
        The walking network.
    points
        GeoDataFrame or GeoSeries with a CRS; reprojected to ``net.crs``.
        Polygons are represented by ``point_on_surface`` (inside the polygon).
    max_snap_m
        Points farther than this from every edge are not snapped (``ok`` False).
    id_column
        Column with feature ids (case-insensitive); the index is used if absent.
    source
        File name used in error messages.

    Returns
    -------
    Snapped
        Ties between equidistant edges go to the lowest edge index, so the
        result is deterministic.  Edges that cannot be entered from the street
        are used only for points with no other edge within ``max_snap_m``
        (``Snapped.restricted``).

    Raises
    ------
    InputError
        Points without a CRS, or geometries that are neither points nor polygons.
    """
    label = source or "points"
    if getattr(points, "crs", None) is None:
        raise InputError(
            Problem(
                "error", label, "points have no CRS", expected="a declared CRS (e.g. EPSG:4326)"
            )
        )
    if not points.crs.equals(net.crs):
        points = points.to_crs(net.crs)
    ids = _ids(points, id_column)
    geoms = _point_geometries(points, label)
    k = len(geoms)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    edge, dist, restricted = _surface_first(net, geoms, present, float(max_snap_m))
    ok = present & (dist <= max_snap_m)
    offset = np.full(k, np.nan)
    snap_xy = np.full((k, 2), np.nan)
    if ok.any():
        lines = net.edge_geometry[edge[ok]]
        t = shapely.line_locate_point(lines, geoms[ok])
        # Clamp rounding noise so 0 <= offset <= length holds exactly.
        t = np.clip(t, 0.0, net.edge_length[edge[ok]])
        offset[ok] = t
        snap = shapely.line_interpolate_point(lines, t)
        snap_xy[ok] = shapely.get_coordinates(snap)
        dist[ok] = shapely.distance(geoms[ok], snap)
    edge[~ok] = -1
    point_xy = np.full((k, 2), np.nan)
    if present.any():
        point_xy[present] = shapely.get_coordinates(geoms[present])
    return Snapped(
        ids=ids,
        edge=edge,
        offset=offset,
        connector=dist,
        ok=ok,
        snap_xy=snap_xy,
        max_snap_m=float(max_snap_m),
        point_xy=point_xy,
        restricted=restricted & ok,
    )


def unsnapped_report(snapped: Snapped, source: str) -> pd.DataFrame:
    """Points that were not snapped, for the user to fix or accept.

    Parameters
    ----------
    snapped
        Result of :func:`snap_points`.
    source
        File (or layer) name to put in the ``file`` column.

    Returns
    -------
    pandas.DataFrame
        Columns ``file``, ``id``, ``distance_m`` (metres to the nearest edge;
        NaN for empty geometry), ``max_snap_m``; one row per unsnapped point.
    """
    bad = ~snapped.ok
    return pd.DataFrame(
        {
            "file": pd.Series([source] * int(bad.sum()), dtype=object),
            "id": pd.Series(snapped.ids[bad], dtype=object),
            "distance_m": snapped.connector[bad],
            "max_snap_m": np.full(int(bad.sum()), snapped.max_snap_m),
        }
    )


def way_labels(net: WalkNetwork, snapped: Snapped) -> np.ndarray:
    """The type of the way each point joins: ``"residential"``, ``"service (tunnel, layer -3)"``.

    Parameters
    ----------
    net
        The network the points were snapped onto.
    snapped
        Result of :func:`snap_points`.

    Returns
    -------
    numpy.ndarray
        Object array; ``""`` for points not snapped, ``"?"`` where the network has no
        way types (a source without tags).
    """
    out = np.full(len(snapped), "", dtype=object)
    ok = snapped.ok & (snapped.edge >= 0)
    if not ok.any():
        return out
    e = snapped.edge[ok]
    kind = net.edge_way[e] if net.edge_way is not None else np.full(len(e), "?", dtype=object)
    why = net.edge_restricted[e] if net.edge_restricted is not None else np.full(len(e), "", object)
    kind = np.where(kind == "", "?", kind)
    out[ok] = [f"{k} ({w})" if w else str(k) for k, w in zip(kind, why, strict=True)]
    return out


def restricted_snaps(net: WalkNetwork, snapped: Snapped, source: str, layer: str) -> list[Problem]:
    """A warning for each point that joined the network only through a way a person
    cannot enter from the street (no other way within the snap limit).

    Parameters
    ----------
    net
        The network.
    snapped
        Result of :func:`snap_points`.
    source
        The layer's file, for the message.
    layer
        The layer's name (``communities``, ``candidates`` ...).

    Returns
    -------
    list of Problem
        At most 20 warnings, the last one counting the rest.
    """
    if snapped.restricted is None or not snapped.restricted.any():
        return []
    idx = np.flatnonzero(snapped.restricted)
    labels = way_labels(net, snapped)
    out = [Problem(
        "warning", source,
        f"{layer}: joins the walking network only on a way that cannot be entered from the "
        "street (nothing else within the snap limit) 仅能接入隧道/地下/非公共道路",
        feature_id=str(snapped.ids[i]), column="geometry",
        found=f"{labels[i]}, {snapped.connector[i]:.1f} m away",
        expected=f"a street or path within {snapped.max_snap_m:g} m, or check the point")
        for i in idx[:20]]
    if len(idx) > 20:
        out.append(Problem("warning", source, f"{layer}: {len(idx) - 20} more points join only "
                           "such ways 另有点位仅能接入隧道/地下/非公共道路"))
    return out
