"""Walking isochrones: the street space each site reaches within the limit.

An isochrone is the union of the street segments a site reaches: whole edges
where both ends are within reach, partial edges cut exactly where the walking
limit runs out, the site's own edge on both sides of its snap point, and the
connector from the site to the network, buffered by a stated width.  It is not
a convex hull of reached nodes, which would cover blocks no street reaches.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.ops import substring

from carecircle.inputs.points import read_points
from carecircle.network.reach import reached_nodes, walk_limit_m
from carecircle.network.snapping import Snapped, snap_points, way_labels
from carecircle.network.sources import load_network
from carecircle.network.walknet import WalkNetwork

__all__ = ["isochrone_segments", "isochrones", "isochrones_for"]


def _incidence(net: WalkNetwork) -> tuple[np.ndarray, np.ndarray]:
    """Edges incident to each node, CSR-style (ptr, edge index)."""
    ends = np.r_[net.edge_u, net.edge_v]
    edges = np.r_[np.arange(net.n_edges), np.arange(net.n_edges)]
    order = np.argsort(ends, kind="stable")
    ptr = np.zeros(net.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=net.n_nodes), out=ptr[1:])
    return ptr, edges[order]


def _merge(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def isochrone_segments(
    net: WalkNetwork, sites: Snapped, limit_m: float, *, threads: int | None = None
) -> list[list[Any]]:
    """Reached street segments of each site (unbuffered LineStrings).

    Parameters
    ----------
    net
        The walking network.
    sites
        Snapped sites.
    limit_m
        Walking limit in metres (the site's connector counts).
    threads
        Worker threads for the searches.

    Returns
    -------
    list of list of shapely.LineString
        Per site: the reached parts of edges (oriented along the edge) and the
        connector from the site to its snap point; empty for unsnapped sites
        or sites whose connector alone exceeds the limit.
    """
    limit = float(limit_m)
    src, node, dist = reached_nodes(net, sites, limit, threads=threads)
    ptr, inc = _incidence(net)
    starts = np.searchsorted(src, np.arange(len(sites)), side="left")
    stops = np.searchsorted(src, np.arange(len(sites)), side="right")
    dn = np.full(net.n_nodes, np.inf)
    out: list[list[Any]] = []
    for i in range(len(sites)):
        pieces: list[Any] = []
        if not sites.ok[i] or sites.connector[i] > limit:
            out.append(pieces)
            continue
        nodes = node[starts[i] : stops[i]]
        dn[nodes] = dist[starts[i] : stops[i]]
        spans: dict[int, list[tuple[float, float]]] = {}
        if nodes.size:
            edges = np.unique(np.concatenate([inc[ptr[n] : ptr[n + 1]] for n in nodes]))
            length = net.edge_length[edges]
            ru = limit - dn[net.edge_u[edges]]  # metres left on reaching u (-inf: not reached)
            rv = limit - dn[net.edge_v[edges]]
            for e, lg, a, b in zip(
                edges.tolist(), length.tolist(), ru.tolist(), rv.tolist(), strict=True
            ):
                iv = []
                if a >= 0:
                    iv.append((0.0, min(a, lg)))
                if b >= 0:
                    iv.append((max(lg - b, 0.0), lg))
                spans[e] = iv
        # The site's own edge is walked directly on both sides of its snap point.
        e = int(sites.edge[i])
        r = limit - float(sites.connector[i])
        t = float(sites.offset[i])
        lg = float(net.edge_length[e])
        spans.setdefault(e, []).append((max(t - r, 0.0), min(t + r, lg)))
        for e, iv in spans.items():
            lg = float(net.edge_length[e])
            geom = net.edge_geometry[e]
            for a, b in _merge(iv):
                if b - a <= 0:
                    continue
                if a <= 0 and b >= lg:
                    pieces.append(geom)
                else:
                    pieces.append(substring(geom, a, b))
        if sites.connector[i] > 0 and sites.point_xy is not None:
            pieces.append(shapely.linestrings([sites.point_xy[i], sites.snap_xy[i]]))
        dn[nodes] = np.inf
        out.append(pieces)
    return out


def isochrones(
    net: WalkNetwork,
    sites: Snapped,
    limit_m: float,
    *,
    buffer_m: float = 25.0,
    ids: Any = None,
    threads: int | None = None,
) -> gpd.GeoDataFrame:
    """One walking-isochrone polygon per site.

    Parameters
    ----------
    net
        The walking network.
    sites
        Snapped sites.
    limit_m
        Walking limit in metres.
    buffer_m
        Half-width of street space around the reached segments, metres.
    ids
        Ids for the rows (default ``sites.ids``).
    threads
        Worker threads for the searches.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``id``, ``limit_m``, ``buffer_m``, ``snapped``, ``geometry``
        (Polygon/MultiPolygon, empty for unsnapped sites), in ``net.crs``, in
        the order of ``sites``.
    """
    if buffer_m <= 0:
        raise ValueError(f"buffer_m must be > 0, got {buffer_m}")
    segs = isochrone_segments(net, sites, limit_m, threads=threads)
    geoms = []
    for pieces in segs:
        if not pieces:
            geoms.append(shapely.Polygon())
            continue
        geoms.append(shapely.buffer(shapely.multilinestrings(pieces), buffer_m))
    row_ids = np.asarray(sites.ids if ids is None else ids, dtype=object)
    if len(row_ids) != len(sites):
        raise ValueError(f"expected {len(sites)} ids, got {len(row_ids)}")
    return gpd.GeoDataFrame(
        {
            "id": row_ids,
            "limit_m": np.full(len(sites), float(limit_m)),
            "buffer_m": np.full(len(sites), float(buffer_m)),
            "snapped": np.asarray(sites.ok, dtype=bool),
        },
        geometry=geoms,
        crs=net.crs,
    )


def isochrones_for(
    network_source: Any,
    sites_path_or_gdf: Any,
    *,
    minutes: float = 15,
    speed_mps: float = 1.0,
    buffer_m: float = 25.0,
    max_snap_m: float = 300.0,
    crs: Any = None,
    cache_dir: Any = None,
    progress: bool = False,
    lon: str | None = None,
    lat: str | None = None,
) -> gpd.GeoDataFrame:
    """Isochrones of the sites in a file: the library side of ``carecircle isochrones``.

    Parameters
    ----------
    network_source
        Anything :func:`carecircle.network.sources.load_network` accepts, or a
        :class:`~carecircle.network.walknet.WalkNetwork`.
    sites_path_or_gdf
        Places with an id (GeoDataFrame, vector file, CSV or Parquet with lon/lat, any
        table carecircle writes: :func:`carecircle.inputs.points.read_points`).
    minutes, speed_mps
        The limit is ``minutes * 60 * speed_mps`` metres.
    buffer_m
        Street half-width of the polygons.
    max_snap_m, crs, cache_dir, progress
        As for :func:`carecircle.network.reach.reach_table`.
    lon, lat
        The longitude and latitude columns of a CSV or plain Parquet file.

    Returns
    -------
    geopandas.GeoDataFrame
        ``id``, the input's own columns (a name the output uses gets the prefix
        ``input_``), ``minutes``, ``speed_mps``, ``limit_m``, ``buffer_m``, ``snapped``,
        ``snap_m`` and ``snap_way`` (where and on what way the site joins the network),
        one polygon per site, in the network's CRS.
    """
    net = (
        network_source
        if isinstance(network_source, WalkNetwork)
        else load_network(network_source, crs=crs, cache_dir=cache_dir, progress=progress)
    )
    pts = read_points(sites_path_or_gdf, lon=lon, lat=lat)
    label = sites_path_or_gdf if isinstance(sites_path_or_gdf, str) else "sites"
    snapped = snap_points(net, pts, max_snap_m=max_snap_m, source=str(label))
    gdf = isochrones(net, snapped, walk_limit_m(minutes, speed_mps), buffer_m=buffer_m)
    gdf.insert(1, "minutes", float(minutes))
    gdf.insert(2, "speed_mps", float(speed_mps))
    gdf["snap_m"] = np.where(snapped.ok, snapped.connector, np.nan)
    gdf["snap_way"] = way_labels(net, snapped)
    own = pd.DataFrame(pts.drop(columns=["id", pts.geometry.name])).reset_index(drop=True)
    own = own.rename(columns={c: f"input_{c}" for c in own.columns if c in gdf.columns})
    out = pd.concat([gdf[["id"]], own, pd.DataFrame(gdf.drop(columns=["id"]))], axis=1)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=gdf.crs)
