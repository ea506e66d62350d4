"""Snap points (communities, facilities, candidate sites) onto the walking network.

A point joins the network at the nearest point of the nearest edge, not merely
at the nearest node: the snap point splits its edge, and the straight connector
from the point to the snap point counts in every walking distance.  A point
farther than ``max_snap_m`` from every edge is *not* snapped: it is reported
(file, id, distance) and reaches nothing.
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

__all__ = ["Snapped", "snap_points", "unsnapped_report"]


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
    """

    ids: np.ndarray
    edge: np.ndarray
    offset: np.ndarray
    connector: np.ndarray
    ok: np.ndarray
    snap_xy: np.ndarray
    max_snap_m: float = np.inf
    point_xy: np.ndarray | None = None

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
    net: WalkNetwork, geoms: np.ndarray, present: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per point, the nearest edge (the lowest index among equally near ones) and the
    distance to it; ``-1`` and NaN where the geometry is not ``present``."""
    k = len(geoms)
    edge = np.full(k, -1, dtype=np.int64)
    dist = np.full(k, np.nan)
    if k and present.any():
        tree = shapely.STRtree(net.edge_geometry)
        (pi, ei), d = tree.query_nearest(geoms[present], all_matches=True, return_distance=True)
        # all_matches returns every equidistant edge: keep the lowest index.
        order = np.lexsort((ei, pi))
        pi, ei, d = pi[order], ei[order], d[order]
        first = np.r_[True, pi[1:] != pi[:-1]]
        idx = np.flatnonzero(present)[pi[first]]
        edge[idx] = ei[first]
        dist[idx] = d[first]
    return edge, dist


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
        result is deterministic.

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
    edge, dist = _nearest_edges(net, geoms, present)
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
