"""Walking isochrones: the street space each site reaches, as pieces and polygons.

What a site reaches is a set of *street pieces*: whole edges where both ends are within
reach and the walk can cover them, partial edges cut exactly where the walking limit
runs out, the site's own edge on both sides of its snap point, and the connector from
the site to the network.  The pieces of all sites are computed at once with array
operations (one bounded search per site, then the edges around the reached nodes, cut
and merged as intervals along each edge), not site by site.

:func:`surface_pieces`
    What a whole set of sites reaches together, from one multi-source search: an
    edge's reached part from its ``u`` end is ``[0, limit - d(u)]``, and the union over
    sites of such intervals is the one with the smallest ``d(u)``; so these pieces are
    exactly the union of every site's pieces.  :func:`carecircle.network.surface.served_area`
    turns them into one surface per kind for the map.

:func:`isochrones` with ``method="streets"`` (the default, and what ``carecircle
isochrones`` writes)
    One polygon per site: its pieces buffered by ``buffer_m`` (street space, not a
    hull: it never covers a block no street reaches).  A whole edge reached by several
    sites is buffered once; the cost left is one union per site (25 ms on central
    Xi'an's streets, about 0.1 s on a dense 60 m grid), spread over the cores.

:func:`isochrones` with ``method="hull"``
    One polygon per site: the concave hull (``shapely.concave_hull``, ratio
    :data:`HULL_RATIO`) of its reached nodes, the ends of its cut pieces and points every
    :data:`HULL_STEP_M` metres along its edges, widened by ``buffer_m``, as r5py and
    pandarm draw isochrones.  A few milliseconds per site
    and a polygon of some 70 vertices instead of 500 to 4,000, so the map of a whole
    city can carry 1,800 of them.  **The trade-off**: the hull also covers what the
    reached streets surround (blocks, courtyards, a park inside the walk; on central
    Xi'an's large blocks about twice the street space) and may cut across a concave
    corner, leaving out a sliver of street space (under 1 % of it on central Xi'an:
    the ends of spurs).  The run's map uses it for the proposed sites' walk zones,
    where a planner looks at how far a site's walk reaches.  Coverage is never computed
    from a polygon (it comes from the network search), so no table depends on it.
"""

from __future__ import annotations

import os
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from carecircle.inputs.points import read_points
from carecircle.network._kernels import multi_source
from carecircle.network.reach import reached_nodes, walk_limit_m
from carecircle.network.snapping import Snapped, snap_points, way_labels
from carecircle.network.sources import load_network
from carecircle.network.walknet import WalkNetwork

__all__ = [
    "HULL_RATIO",
    "HULL_STEP_M",
    "METHODS",
    "isochrone_segments",
    "isochrones",
    "isochrones_for",
    "SurfacePieces",
    "served_segments",
    "surface_pieces",
]

#: The per-site polygon methods of :func:`isochrones`.
METHODS = ("streets", "hull")
#: ``shapely.concave_hull`` ratio of the ``"hull"`` method: the share of the Delaunay
#: edge-length range above which a hull edge is not followed inward.
HULL_RATIO = 0.2
#: Spacing (metres) of the points the ``"hull"`` method samples along the pieces: a hull
#: through the pieces' vertices alone cuts across long straight edges.
HULL_STEP_M = 50.0
#: Tolerance (metres) a hull is simplified to before it is widened.
HULL_SIMPLIFY_M = 5.0

_INCIDENCE: weakref.WeakKeyDictionary[WalkNetwork, tuple[np.ndarray, ...]] = weakref.WeakKeyDictionary()


# ---------------------------------------------------------------- intervals along edges


def _incidence(net: WalkNetwork) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges incident to each node, CSR-style: (ptr, edge index, side 0 = u / 1 = v)."""
    hit = _INCIDENCE.get(net)
    if hit is not None:
        return hit[0], hit[1], hit[2]
    ends = np.r_[net.edge_u, net.edge_v].astype(np.int64)
    edges = np.r_[np.arange(net.n_edges), np.arange(net.n_edges)]
    side = np.r_[np.zeros(net.n_edges, np.int8), np.ones(net.n_edges, np.int8)]
    order = np.argsort(ends, kind="stable")
    ptr = np.zeros(net.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=net.n_nodes), out=ptr[1:])
    out = (ptr, edges[order], side[order])
    _INCIDENCE[net] = out
    return out


def _ranges(starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row of each element, element index) of the concatenated ranges ``starts[i]:stops[i]``."""
    lens = (stops - starts).astype(np.int64)
    row = np.repeat(np.arange(len(lens)), lens)
    first = np.repeat(starts - np.r_[0, np.cumsum(lens)[:-1]], lens)
    return row, first + np.arange(int(lens.sum()))


def _end_intervals(
    length: np.ndarray, side: np.ndarray, left: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The part of an edge walked in from one end with ``left`` metres to go."""
    a = np.where(side == 0, 0.0, np.maximum(length - left, 0.0))
    b = np.where(side == 0, np.minimum(left, length), length)
    return a, b


def _own_edge(
    net: WalkNetwork, sites: Snapped, limit: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(site, edge, start, end): each site walks its own edge directly both ways."""
    i = np.flatnonzero(sites.ok & (sites.connector <= limit))
    e = sites.edge[i].astype(np.int64)
    r = limit - sites.connector[i]
    t = sites.offset[i]
    return i, e, np.maximum(t - r, 0.0), np.minimum(t + r, net.edge_length[e])


def _merge(key: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Union of intervals per key: (key, start, end), sorted, overlapping or touching
    intervals merged, empty ones (``end <= start``) left out."""
    if not len(key):
        return key, a, b
    order = np.lexsort((a, key))
    key, a, b = key[order], a[order], b[order]
    ends = pd.Series(b).groupby(key).cummax().to_numpy()
    prev = np.r_[-np.inf, ends[:-1]]
    new = np.r_[True, key[1:] != key[:-1]] | (a > prev)
    out_key, out_a = key[new], a[new]
    out_b = np.maximum.reduceat(b, np.flatnonzero(new))
    keep = out_b > out_a
    return out_key[keep], out_a[keep], out_b[keep]


def _site_intervals(
    net: WalkNetwork, sites: Snapped, limit: float, threads: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merged (site, edge, start, end) of every site's reached street pieces, and the
    (site, node) pairs of its reached nodes."""
    src, node, dist = reached_nodes(net, sites, limit, threads=threads)
    ptr, inc, inc_side = _incidence(net)
    row, k = _ranges(ptr[node], ptr[node + 1])
    edge, side = inc[k], inc_side[k]
    a, b = _end_intervals(net.edge_length[edge], side, limit - dist[row])
    o_site, o_edge, o_a, o_b = _own_edge(net, sites, limit)
    site = np.r_[src[row], o_site].astype(np.int64)
    edge = np.r_[edge, o_edge].astype(np.int64)
    key = site * np.int64(max(net.n_edges, 1)) + edge
    key, a, b = _merge(key, np.r_[a, o_a], np.r_[b, o_b])
    return key // max(net.n_edges, 1), key % max(net.n_edges, 1), a, b, src, node


def _surface_intervals(
    net: WalkNetwork, sites: Snapped, limit: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merged (edge, start, end) of the pieces any site reaches, and the nodes' walking
    metres from the nearest site (``inf`` beyond the limit): one multi-source search."""
    ok = np.flatnonzero(sites.ok)
    e = sites.edge[ok].astype(np.int64)
    c, t = sites.connector[ok], sites.offset[ok]
    u, v = net.edge_u[e].astype(np.int64), net.edge_v[e].astype(np.int64)
    # the seeds' distances in the order reached_nodes sums them: connector first
    du, dv = c + t, c + (net.edge_length[e] - t)
    csr = net.csr
    dist, _ = multi_source(csr.indptr, csr.indices, np.asarray(csr.data, dtype=np.float64),
                           net.n_nodes, np.r_[u, v], np.r_[du, dv],
                           np.r_[np.arange(len(ok)), np.arange(len(ok))].astype(np.int64), limit)
    pieces = []
    for side, ends in ((0, net.edge_u), (1, net.edge_v)):
        edges = np.flatnonzero(np.isfinite(dist[ends]))
        a, b = _end_intervals(net.edge_length[edges], np.full(len(edges), side),
                              limit - dist[ends[edges]])
        pieces.append((edges, a, b))
    _, o_edge, o_a, o_b = _own_edge(net, sites, limit)
    edge = np.concatenate([p[0] for p in pieces] + [o_edge]).astype(np.int64)
    edge, a, b = _merge(edge, np.concatenate([p[1] for p in pieces] + [o_a]),
                        np.concatenate([p[2] for p in pieces] + [o_b]))
    return edge, a, b, dist


# ---------------------------------------------------------------- geometry of the pieces


def _substrings(
    net: WalkNetwork, edge: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The part ``[a, b]`` (metres from ``u``) of each edge's geometry, as LineStrings.

    Whole edges (``a <= 0`` and ``b >= length``, flagged in the second array returned)
    are the network's own objects; the others are cut in one pass over all their
    vertices (what ``shapely.ops.substring`` does one line at a time).
    """
    out = np.empty(len(edge), dtype=object)
    whole = (a <= 0) & (b >= net.edge_length[edge])
    out[whole] = net.edge_geometry[edge[whole]]
    part = np.flatnonzero(~whole)
    if not len(part):
        return out, whole
    geoms = net.edge_geometry[edge[part]]
    pa, pb = a[part], b[part]
    xy, gi = shapely.get_coordinates(geoms, return_index=True)
    step = np.r_[0.0, np.hypot(*np.diff(xy, axis=0).T)]
    first = np.r_[True, gi[1:] != gi[:-1]]
    step[first] = 0.0
    cum = np.cumsum(step)
    cum -= np.repeat(cum[first], np.bincount(gi, minlength=len(geoms)))
    # a vertex within a micrometre of a cut is the cut point itself: not kept twice
    # (the lengths summed here and GEOS's differ in the last bits)
    inner = (cum > pa[gi] + 1e-6) & (cum < pb[gi] - 1e-6)
    start = shapely.get_coordinates(shapely.line_interpolate_point(geoms, pa))
    stop = shapely.get_coordinates(shapely.line_interpolate_point(geoms, pb))
    n = len(geoms)
    coords = np.vstack([start, xy[inner], stop])
    owner = np.r_[np.arange(n), gi[inner], np.arange(n)]
    rank = np.r_[np.full(n, -1.0), cum[inner], np.full(n, np.inf)]
    order = np.lexsort((rank, owner))
    out[part] = shapely.linestrings(coords[order], indices=owner[order])
    return out, whole


def _connectors(sites: Snapped, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """(site, LineString) from each site to its snap point, where it has length."""
    if sites.point_xy is None:
        return np.zeros(0, np.int64), np.zeros(0, dtype=object)
    i = np.flatnonzero(sites.ok & (sites.connector > 0) & (sites.connector <= limit))
    lines = shapely.linestrings(np.stack([sites.point_xy[i], sites.snap_xy[i]], axis=1))
    return i, np.asarray(lines, dtype=object).reshape(-1)


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
        Per site: the reached parts of edges (oriented along the edge, in edge order)
        and the connector from the site to its snap point; empty for unsnapped sites
        or sites whose connector alone exceeds the limit.
    """
    site, geoms = _site_pieces(net, sites, float(limit_m), threads)
    out: list[list[Any]] = [[] for _ in range(len(sites))]
    for i, g in zip(site.tolist(), geoms, strict=True):
        out[i].append(g)
    return out


def _site_pieces(
    net: WalkNetwork, sites: Snapped, limit: float, threads: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """(site, LineString) of every site's pieces, grouped by site, connector last."""
    site, edge, a, b, _, _ = _site_intervals(net, sites, limit, threads)
    lines, _ = _substrings(net, edge, a, b)
    c_site, c_line = _connectors(sites, limit)
    site = np.r_[site, c_site]
    order = np.argsort(site, kind="stable")
    return site[order], np.r_[lines, c_line][order]


@dataclass(frozen=True, eq=False)
class SurfacePieces:
    """What a set of sites reaches together (see :func:`surface_pieces`).

    Attributes
    ----------
    lines
        LineStrings: the reached parts of edges (one per merged stretch of an edge, in
        edge order), then the sites' connectors.
    node_reached
        ``bool (n_nodes,)``: the node is within the limit of some site.
    gap_xy
        ``(k, 2)`` middle points of the unreached gaps inside edges reached from both
        sides (a street the walk does not cover although it reaches both its ends).
    """

    lines: np.ndarray
    node_reached: np.ndarray
    gap_xy: np.ndarray


def surface_pieces(net: WalkNetwork, sites: Snapped, limit_m: float) -> SurfacePieces:
    """Every street piece at least one site reaches, each stretch once, by one search.

    Parameters
    ----------
    net
        The walking network.
    sites
        Snapped sites (unsnapped ones reach nothing).
    limit_m
        Walking limit in metres.

    Returns
    -------
    SurfacePieces
        The pieces (their union equals the union of :func:`isochrone_segments` over
        the sites), which nodes are reached, and the unreached gaps inside edges.
    """
    limit = float(limit_m)
    edge, a, b, dist = _surface_intervals(net, sites, limit)
    _, conn = _connectors(sites, limit)
    inner = np.flatnonzero(edge[1:] == edge[:-1])  # a gap between two stretches of an edge
    gap_xy = shapely.get_coordinates(shapely.line_interpolate_point(
        net.edge_geometry[edge[inner]], (b[inner] + a[inner + 1]) / 2)).reshape(-1, 2)
    return SurfacePieces(np.r_[_substrings(net, edge, a, b)[0], conn], dist <= limit, gap_xy)


def served_segments(net: WalkNetwork, sites: Snapped, limit_m: float) -> np.ndarray:
    """Every street piece at least one site reaches (``surface_pieces(...).lines``).

    Parameters
    ----------
    net
        The walking network.
    sites
        Snapped sites.
    limit_m
        Walking limit in metres.

    Returns
    -------
    numpy.ndarray
        LineStrings, see :class:`SurfacePieces`.
    """
    return surface_pieces(net, sites, limit_m).lines


# ---------------------------------------------------------------- polygons


def _threads(threads: int | None) -> int:
    if threads is not None:
        return max(1, int(threads))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _buffered(lines: np.ndarray, whole: np.ndarray, edge: np.ndarray, buffer_m: float) -> np.ndarray:
    """``lines`` buffered; a whole edge (``whole``) reached by many sites is buffered once."""
    out = np.empty(len(lines), dtype=object)
    _, first, inv = np.unique(edge[whole], return_index=True, return_inverse=True)
    out[whole] = shapely.buffer(lines[whole][first], buffer_m)[inv]
    out[~whole] = shapely.buffer(lines[~whole], buffer_m)
    return out


def _union_groups(polys: np.ndarray, group: np.ndarray, n_groups: int, threads: int | None) -> np.ndarray:
    """One union per group (empty polygon for a group without members), on all cores."""
    order = np.argsort(group, kind="stable")
    polys, group = polys[order], group[order]
    bounds = np.searchsorted(group, np.arange(n_groups + 1))

    def one(i: int) -> Any:
        part = polys[bounds[i]:bounds[i + 1]]
        return shapely.union_all(part) if len(part) else shapely.Polygon()

    n = _threads(threads)
    if n == 1 or n_groups < 2:
        return np.array([one(i) for i in range(n_groups)], dtype=object)
    with ThreadPoolExecutor(n) as pool:
        return np.array(list(pool.map(one, range(n_groups))), dtype=object)


def _samples(lines: np.ndarray, step: float, ends: bool) -> tuple[np.ndarray, np.ndarray]:
    """(line, xy) of points along ``lines``: their vertices and points at most ``step``
    apart between them (what ``shapely.segmentize`` adds, without building geometries);
    each line's first and last vertex only when ``ends``."""
    xy, gi = shapely.get_coordinates(lines, return_index=True)
    if not len(xy):
        return gi, xy
    same = gi[1:] == gi[:-1]
    a, b, seg_line = xy[:-1][same], xy[1:][same], gi[:-1][same]
    n = np.ceil(np.hypot(*(b - a).T) / step).astype(np.int64) - 1  # points inside each segment
    n = np.maximum(n, 0)
    row = np.repeat(np.arange(len(a)), n)
    f = (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n) + 1) / np.repeat(n + 1, n)
    inner = a[row] + (b[row] - a[row]) * f[:, None]
    keep = np.ones(len(xy), dtype=bool)
    if not ends:
        keep &= np.r_[False, same] & np.r_[same, False]
    return np.r_[gi[keep], seg_line[row]], np.vstack([xy[keep], inner])


def _hull_points(net: WalkNetwork, sites: Snapped, limit: float,
                 reach: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(site, xy) of the points a site's hull is drawn through, grouped by site.

    Its reached nodes, points every :data:`HULL_STEP_M` along its cut pieces and inside
    its whole edges (these sampled once per edge of the network, however many sites
    reach it), and its snap point and location.
    """
    site, edge, lines, whole, src, node = reach
    parts_site, parts_xy = [src], [net.node_xy[node]]
    gi, xy = _samples(lines[~whole], HULL_STEP_M, ends=True)
    parts_site.append(site[~whole][gi])
    parts_xy.append(xy)
    uniq, inv = np.unique(edge[whole], return_inverse=True)
    gi, xy = _samples(net.edge_geometry[uniq], HULL_STEP_M, ends=False)
    order = np.argsort(gi, kind="stable")
    gi, xy = gi[order], xy[order]
    ptr = np.searchsorted(gi, np.arange(len(uniq) + 1))
    row, k = _ranges(ptr[inv], ptr[inv + 1])
    parts_site.append(site[whole][row])
    parts_xy.append(xy[k])
    ok = np.flatnonzero(sites.ok & (sites.connector <= limit))
    parts_site += [ok, ok]
    parts_xy += [sites.snap_xy[ok], sites.snap_xy[ok] if sites.point_xy is None else sites.point_xy[ok]]
    owner = np.concatenate(parts_site).astype(np.int64)
    order = np.argsort(owner, kind="stable")
    return owner[order], np.vstack(parts_xy)[order]


def _hulls(net: WalkNetwork, sites: Snapped, limit: float, reach: tuple[np.ndarray, ...],
           buffer_m: float, threads: int | None) -> np.ndarray:
    """Concave hull of each site's points (:func:`_hull_points`), simplified and widened."""
    owner, xy = _hull_points(net, sites, limit, reach)
    out = np.array([shapely.Polygon()] * len(sites), dtype=object)
    has = np.unique(owner)
    if not len(has):
        return out
    # A LineString through a site's points: concave_hull reads only its vertices, and
    # making one object per site costs far less than one Point per vertex.
    carriers = np.asarray(shapely.linestrings(xy, indices=np.searchsorted(has, owner)),
                          dtype=object).reshape(-1)

    def hull(chunk: np.ndarray) -> np.ndarray:
        h = shapely.simplify(shapely.concave_hull(chunk, ratio=HULL_RATIO), HULL_SIMPLIFY_M)
        # quad_segs 2: a hull's corners need no finer arcs than a map shows
        return shapely.buffer(h, buffer_m, quad_segs=2)

    n = min(_threads(threads), len(has))
    if n == 1:
        out[has] = hull(carriers)
    else:
        with ThreadPoolExecutor(n) as pool:  # GEOS releases the GIL
            out[has] = np.concatenate(list(pool.map(hull, np.array_split(carriers, n))))
    return out


def isochrones(
    net: WalkNetwork,
    sites: Snapped,
    limit_m: float,
    *,
    buffer_m: float = 25.0,
    ids: Any = None,
    threads: int | None = None,
    method: str = "streets",
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
        Worker threads for the searches and the unions.
    method
        ``"streets"``: the reached street space (exact); ``"hull"``: the concave hull
        of the reached pieces, widened by ``buffer_m`` (fast and light; covers the
        blocks the walk surrounds).  See the module's notes for the trade-off.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``id``, ``limit_m``, ``buffer_m``, ``snapped``, ``geometry``
        (Polygon/MultiPolygon, empty for unsnapped sites), in ``net.crs``, in
        the order of ``sites``.
    """
    if buffer_m <= 0:
        raise ValueError(f"buffer_m must be > 0, got {buffer_m}")
    if method not in METHODS:
        raise ValueError(f"method must be 'streets' or 'hull', got {method!r}")
    row_ids = np.asarray(sites.ids if ids is None else ids, dtype=object)
    if len(row_ids) != len(sites):
        raise ValueError(f"expected {len(sites)} ids, got {len(row_ids)}")
    limit = float(limit_m)
    site, edge, a, b, src, node = _site_intervals(net, sites, limit, threads)
    lines, whole = _substrings(net, edge, a, b)
    if method == "hull":
        geoms = _hulls(net, sites, limit, (site, edge, lines, whole, src, node), buffer_m, threads)
    else:
        c_site, c_line = _connectors(sites, limit)
        polys = np.r_[_buffered(lines, whole, edge, buffer_m), shapely.buffer(c_line, buffer_m)]
        geoms = _union_groups(polys, np.r_[site, c_site], len(sites), threads)
    return gpd.GeoDataFrame(
        {
            "id": row_ids,
            "limit_m": np.full(len(sites), limit),
            "buffer_m": np.full(len(sites), float(buffer_m)),
            "snapped": np.asarray(sites.ok, dtype=bool),
        },
        geometry=list(geoms),
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
    method: str = "streets",
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
    method
        ``"streets"`` (default) or ``"hull"``, see :func:`isochrones`.

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
    gdf = isochrones(net, snapped, walk_limit_m(minutes, speed_mps), buffer_m=buffer_m,
                     method=method)
    gdf.insert(1, "minutes", float(minutes))
    gdf.insert(2, "speed_mps", float(speed_mps))
    gdf["snap_m"] = np.where(snapped.ok, snapped.connector, np.nan)
    gdf["snap_way"] = way_labels(net, snapped)
    own = pd.DataFrame(pts.drop(columns=["id", pts.geometry.name])).reset_index(drop=True)
    own = own.rename(columns={c: f"input_{c}" for c in own.columns if c in gdf.columns})
    out = pd.concat([gdf[["id"]], own, pd.DataFrame(gdf.drop(columns=["id"]))], axis=1)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=gdf.crs)
