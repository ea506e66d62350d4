"""Cut a scenario into pieces that can be assessed apart: cores, halos, sub-networks.

Every community belongs to exactly one partition, its *core* (by district, or by
equal-count pieces along a Hilbert curve for one district or a finer cut).  A
partition's network is the part of the walking network within the *halo* of its
core: every edge that comes within ``halo_m`` of the convex hull of the core
points, with both end nodes.  Facilities and candidate sites within the walking
limit of the core join the partition as well, wherever they lie.

Why the halo loses nothing
--------------------------
Let ``L`` be the walking limit (the largest over the kinds) and ``S`` the snap
limit.  A walking distance is measured along a route: the straight connector
from the community to its snap point, network edges (each at least as long as
the straight line between any two of its points), and the connector from the
site's snap point to the site.  Hence, for every point ``x`` of a route from a
community ``c`` with length ``d``, the straight-line distance ``|x - c| <= d``
(the triangle inequality, segment by segment).  Therefore:

1. A site within reach (``d <= L``) lies within ``L`` of ``c``: the partition's
   sites (within ``L`` of the core hull) hold every site that can serve a core
   community.
2. Every edge a route within the limit touches, even partly, has a point within
   ``L`` of ``c``, so it is within ``L <= halo_m`` of the hull; a wholly walked
   edge has both end nodes within ``L``.  Every such edge is kept, with both
   nodes, so every route within the limit exists in the sub-network with the
   same lengths; the sub-network has no route the full one lacks.  Shortest
   distances within the limit are therefore equal, and so are the floating-point
   values: a Dijkstra computes, per node, the least left-to-right sum over the
   routes (addition is monotone), and the same routes are summed in the same order.
3. A point snaps to its nearest edge, which is within ``S`` of it when it snaps
   at all; for a community that is within ``S <= halo_m`` of the hull, for a site
   within ``L + S`` of it.  All equally near edges are kept too and keep their
   relative order, so the lowest-index tie rule picks the same edge.
4. An isochrone of a site reaches nodes within ``L`` of the site and draws every
   edge incident to them: all of those edges come within ``L`` of the site.
   Sites are therefore added to the hull of one partition (the partition of the
   nearest community) so that ``halo_m >= L + S`` around them holds too.

``halo_m = L + 2 S`` is used: ``L + S`` is what the argument needs; the second
``S`` is a margin that costs a few hundred metres of network per partition.
Tests in ``tests/test_distributed.py`` check the sub-network results against the
whole network, with a partition border through a community's walking circle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pyproj
import scipy.sparse as sp
import shapely

from carecircle.network.walknet import WalkNetwork

__all__ = [
    "Partition",
    "PartitionBy",
    "assign_communities",
    "extract_subnetwork",
    "halo_m",
    "make_partitions",
    "null_network",
    "representative_points",
    "sites_within",
]

PartitionBy = Literal["auto", "district", "tiles"]


def halo_m(limit_m: float, max_snap_m: float) -> float:
    """The halo around a partition's core: ``limit_m + 2 * max_snap_m`` (see the module).

    Parameters
    ----------
    limit_m
        The largest walking limit, metres.
    max_snap_m
        The snap limit, metres.

    Returns
    -------
    float
        Metres of network to keep around a partition's extent.
    """
    if not (limit_m >= 0 and max_snap_m >= 0):
        raise ValueError(f"limit_m and max_snap_m must be >= 0; got {limit_m}, {max_snap_m}")
    return float(limit_m) + 2.0 * float(max_snap_m)


def representative_points(layer: Any, crs: Any = None) -> np.ndarray:
    """One point per feature, as the snapping uses it (polygons: an inside point).

    Parameters
    ----------
    layer
        GeoDataFrame or GeoSeries.
    crs
        Reproject to this CRS first (the network's).

    Returns
    -------
    numpy.ndarray
        Shapely points; ``None`` for missing or empty geometries.
    """
    geo = layer.geometry if hasattr(layer, "geometry") else layer
    if (
        crs is not None
        and geo.crs is not None
        and not pyproj.CRS.from_user_input(crs).equals(geo.crs)
    ):
        geo = geo.to_crs(crs)
    geoms = np.asarray(geo.values, dtype=object)
    out = np.full(len(geoms), None, dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if present.any():
        g = geoms[present]
        area = np.isin(shapely.get_type_id(g), [3, 6])
        g = g.copy()
        g[area] = shapely.point_on_surface(g[area])
        # Lines and other types are rejected by the snapping; their centroid only places them.
        other = ~np.isin(shapely.get_type_id(g), [0])
        g[other] = shapely.centroid(g[other])
        out[present] = g
    return out


@dataclass(frozen=True, eq=False)
class Partition:
    """One piece of the work.

    Attributes
    ----------
    index
        Position in the partition list.
    label
        What it is (``district 610113``, ``tile 3/8``).
    core
        ``int64`` positions (in the community table) of the communities it owns.
    hull
        Convex hull of its core points: sites within ``reach_m`` of it can serve them.
    extent
        Convex hull of the core points and the sites it hosts for isochrones.
    reach_m
        The largest walking limit the partition answers for.
    halo_m
        Distance around ``extent`` within which the network is kept.
    owned
        Layer name -> positions of the sites whose isochrones this partition draws.
    """

    index: int
    label: str
    core: np.ndarray
    hull: Any
    extent: Any
    reach_m: float
    halo_m: float
    owned: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_core(self) -> int:
        return int(self.core.shape[0])


def _hilbert_order(points: np.ndarray) -> np.ndarray:
    """Positions of ``points`` sorted along a Hilbert curve (dask-geopandas), ties by position."""
    import dask_geopandas

    gs = gpd.GeoSeries(points)
    dg = dask_geopandas.from_geopandas(gpd.GeoDataFrame(geometry=gs), npartitions=1)
    # The curve's distance is computed within the points' own bounds at level 16
    # (65,536 cells a side); synchronous: this is driver-side bookkeeping.
    h = dg.hilbert_distance(total_bounds=gs.total_bounds, level=16).compute(scheduler="sync")
    return np.lexsort((np.arange(len(points)), np.asarray(h, dtype=np.int64)))


def _pack(sizes: dict[str, int], n: int) -> list[list[str]]:
    """Districts into ``n`` groups of similar size: largest first into the lightest group."""
    groups: list[list[str]] = [[] for _ in range(n)]
    load = np.zeros(n, dtype=np.int64)
    for key in sorted(sizes, key=lambda k: (-sizes[k], k)):
        g = int(np.argmin(load))
        groups[g].append(key)
        load[g] += sizes[key]
    return [sorted(g) for g in groups if g]


def assign_communities(
    communities: gpd.GeoDataFrame,
    *,
    by: PartitionBy = "auto",
    n_partitions: int | None = None,
    district_column: str = "district",
) -> list[tuple[str, np.ndarray]]:
    """Split the communities into cores: each community in exactly one.

    Parameters
    ----------
    communities
        The community layer.
    by
        ``"district"``: one core per district (with ``n_partitions`` smaller than
        the number of districts, districts are packed into that many groups of
        similar size).  ``"tiles"``: ``n_partitions`` pieces of equal count along
        a Hilbert curve over the community points (dask-geopandas), whatever the
        districts.  ``"auto"``: districts when there are several and
        ``n_partitions`` is not given, else tiles.
    n_partitions
        Number of pieces (default for tiles: 4).
    district_column
        Column with the district code.

    Returns
    -------
    list of (label, positions)
        Non-empty cores in a fixed order; positions are ``int64`` and sorted.
        Communities without a geometry join the first core (they reach nothing).
    """
    n = len(communities)
    if n_partitions is not None and int(n_partitions) < 1:
        raise ValueError(f"n_partitions must be >= 1, got {n_partitions}")
    has_district = district_column in communities.columns
    districts = (
        communities[district_column].astype(str).to_numpy() if has_district else np.full(n, "")
    )
    uniq = np.unique(districts)
    if by == "auto":
        by = "district" if (n_partitions is None and len(uniq) > 1) else "tiles"
    pts = representative_points(communities)
    present = np.array([p is not None for p in pts], dtype=bool)
    cores: list[tuple[str, np.ndarray]] = []
    if by == "district":
        if not has_district:
            raise ValueError(f"partition by district needs a {district_column!r} column")
        sizes = {str(d): int((districts == d).sum()) for d in uniq}
        k = len(sizes) if n_partitions is None else min(int(n_partitions), len(sizes))
        for group in _pack(sizes, k):
            pos = np.flatnonzero(np.isin(districts, group)).astype(np.int64)
            cores.append(("district " + "+".join(group), pos))
    elif by == "tiles":
        k = 4 if n_partitions is None else int(n_partitions)
        idx = np.flatnonzero(present)
        order = idx[_hilbert_order(pts[idx])] if len(idx) else idx
        pieces = [p for p in np.array_split(order, min(k, max(1, len(order)))) if len(p)]
        for i, p in enumerate(pieces):
            cores.append((f"tile {i + 1}/{len(pieces)}", np.sort(p).astype(np.int64)))
        missing = np.flatnonzero(~present)
        if len(missing):
            if cores:
                label, first = cores[0]
                cores[0] = (label, np.sort(np.r_[first, missing]).astype(np.int64))
            else:
                cores.append(("tile 1/1", missing.astype(np.int64)))
    else:
        raise ValueError(f"by must be 'auto', 'district' or 'tiles', got {by!r}")
    # A core without any located community has no hull: merge it into the first one that has.
    located = [c for c in cores if present[c[1]].any()]
    if located and len(located) < len(cores):
        extra = np.concatenate([c[1] for c in cores if not present[c[1]].any()])
        label, first = located[0]
        located[0] = (label, np.sort(np.r_[first, extra]).astype(np.int64))
        cores = located
    return cores


def make_partitions(
    communities: gpd.GeoDataFrame,
    *,
    reach_m: float,
    halo: float,
    sites: Mapping[str, gpd.GeoDataFrame | None] | None = None,
    by: PartitionBy = "auto",
    n_partitions: int | None = None,
    crs: Any = None,
) -> list[Partition]:
    """Partitions with their cores, hulls and the sites each one draws isochrones for.

    Parameters
    ----------
    communities
        The community layer.
    reach_m
        The largest walking limit to be answered (metres).
    halo
        Network kept around each partition's extent (:func:`halo_m`).
    sites
        Layers of sites (facilities, candidates): each site is given to the
        partition of its nearest community and widens that partition's extent.
    by, n_partitions
        See :func:`assign_communities`.
    crs
        The network's CRS (points are reprojected to it).

    Returns
    -------
    list of Partition
    """
    if halo < reach_m:
        raise ValueError(f"the halo ({halo} m) must be at least the walking limit ({reach_m} m)")
    cores = assign_communities(communities, by=by, n_partitions=n_partitions)
    cpts = representative_points(communities, crs)
    owner_of_comm = np.full(len(communities), -1, dtype=np.int64)
    for i, (_, pos) in enumerate(cores):
        owner_of_comm[pos] = i
    located = np.flatnonzero([p is not None for p in cpts])
    tree = shapely.STRtree(cpts[located]) if len(located) else None
    extra_pts: list[list[Any]] = [[] for _ in cores]
    owned: list[dict[str, np.ndarray]] = [{} for _ in cores]
    for name, layer in (sites or {}).items():
        if layer is None or not len(layer):
            continue
        spts = representative_points(layer, crs)
        owner = np.zeros(len(layer), dtype=np.int64)
        ok = np.flatnonzero([p is not None for p in spts])
        if len(ok) and tree is not None:
            nearest = tree.query_nearest(spts[ok], all_matches=False)[1]
            owner[ok] = owner_of_comm[located[nearest]]
        for i in range(len(cores)):
            mine = np.flatnonzero(owner == i)
            owned[i][name] = mine
            extra_pts[i] += [p for p in spts[mine] if p is not None]
    parts = []
    for i, (label, pos) in enumerate(cores):
        core_pts = [p for p in cpts[pos] if p is not None]
        hull = shapely.convex_hull(shapely.multipoints(core_pts)) if core_pts else shapely.Point()
        everything = core_pts + extra_pts[i]
        extent = shapely.convex_hull(shapely.multipoints(everything)) if everything else hull
        parts.append(Partition(i, label, pos, hull, extent, float(reach_m), float(halo), owned[i]))
    return parts


def sites_within(
    part: Partition, layer: Any, distance: float | None = None, crs: Any = None
) -> np.ndarray:
    """Positions (sorted) of the features within ``distance`` (default ``reach_m``) of the core hull.

    The test is exact (``shapely.dwithin`` on the features' geometries), never a
    buffered polygon, whose arcs are chords that fall short of the distance.

    Parameters
    ----------
    part
        The partition.
    layer
        GeoDataFrame or GeoSeries of sites, or None.
    distance
        Metres from the core hull; default the partition's ``reach_m``.
    crs
        The network's CRS (the layer is reprojected to it first).

    Returns
    -------
    numpy.ndarray
        ``int64`` positions in ``layer``; empty for no layer or an empty hull.
    """
    if layer is None or not len(layer):
        return np.zeros(0, dtype=np.int64)
    d = part.reach_m if distance is None else float(distance)
    geo = layer.geometry
    if (
        crs is not None
        and geo.crs is not None
        and not pyproj.CRS.from_user_input(crs).equals(geo.crs)
    ):
        geo = geo.to_crs(crs)
    geoms = np.asarray(geo.values, dtype=object)
    if shapely.is_empty(part.hull):
        return np.zeros(0, dtype=np.int64)
    hit = np.zeros(len(geoms), dtype=bool)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    hit[present] = shapely.dwithin(geoms[present], part.hull, d)
    return np.flatnonzero(hit).astype(np.int64)


def null_network(crs: Any) -> WalkNetwork:
    """A one-edge network far from anything: every point is unsnapped, nothing is reached."""
    far = 1e12
    xy = np.array([[far, far], [far + 1.0, far]])
    geom = np.array([shapely.LineString(xy)], dtype=object)
    csr = sp.csr_matrix((np.array([1.0, 1.0]), np.array([1, 0]), np.array([0, 1, 2])), shape=(2, 2))
    return WalkNetwork(
        crs=pyproj.CRS.from_user_input(crs),
        node_ids=np.array([-1, -2], dtype=np.int64),
        node_xy=xy,
        edge_u=np.array([0], dtype=np.int64),
        edge_v=np.array([1], dtype=np.int64),
        edge_length=np.array([1.0]),
        edge_geometry=geom,
        csr=csr,
        report={"source": "null network (reaches nothing)"},
    )


def extract_subnetwork(net: WalkNetwork, area: Any, distance: float) -> WalkNetwork:
    """The part of ``net`` within ``distance`` of ``area``: edges and both their nodes.

    Parameters
    ----------
    net
        The whole walking network.
    area
        A geometry in ``net.crs`` (a partition's ``extent``).
    distance
        Metres around ``area`` (the halo).

    Returns
    -------
    WalkNetwork
        Every edge whose geometry comes within ``distance`` of ``area``, both of
        its end nodes, and every other edge between kept nodes (parallel edges
        stay together, so the adjacency keeps the same shortest value).  Nodes and
        edges keep their relative order and their lengths, geometries and ids;
        the adjacency rows are the whole network's rows restricted to the kept
        nodes, explicit zeros included.  The largest-component rule of
        :func:`carecircle.network.sources.load_network` is *not* re-applied: a piece may
        be disconnected.  ``report["partition"]`` gives the counts and
        ``report["node_index"]``/``["edge_index"]`` the positions in ``net``.
        A piece with no edge is :func:`null_network`.
    """
    if area is None or shapely.is_empty(area):
        return null_network(net.crs)
    minx, miny, maxx, maxy = shapely.bounds(area)
    eb = shapely.bounds(net.edge_geometry)
    near = (
        (eb[:, 0] <= maxx + distance)
        & (eb[:, 2] >= minx - distance)
        & (eb[:, 1] <= maxy + distance)
        & (eb[:, 3] >= miny - distance)
    )
    cand = np.flatnonzero(near)
    shapely.prepare(area)
    hit = cand[shapely.dwithin(net.edge_geometry[cand], area, distance)]
    if not len(hit):
        return null_network(net.crs)
    keep_node = np.zeros(net.n_nodes, dtype=bool)
    keep_node[net.edge_u[hit]] = True
    keep_node[net.edge_v[hit]] = True
    nodes = np.flatnonzero(keep_node)
    edges = np.flatnonzero(keep_node[net.edge_u] & keep_node[net.edge_v])
    local = np.full(net.n_nodes, -1, dtype=np.int64)
    local[nodes] = np.arange(len(nodes))
    # Rows of the whole adjacency for the kept nodes, columns restricted to them.
    indptr = net.csr.indptr.astype(np.int64)
    starts, stops = indptr[nodes], indptr[nodes + 1]
    counts = stops - starts
    total = int(counts.sum())
    offsets = np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts)
    flat = offsets + np.arange(total)
    cols = local[net.csr.indices[flat]]
    keep = cols >= 0
    row_of = np.repeat(np.arange(len(nodes)), counts)[keep]
    new_ptr = np.zeros(len(nodes) + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_of, minlength=len(nodes)), out=new_ptr[1:])
    csr = sp.csr_matrix(
        (net.csr.data[flat][keep], cols[keep], new_ptr), shape=(len(nodes), len(nodes))
    )
    report = {
        "source": f"{net.report.get('source', 'network')} (partition)",
        "partition": {
            "nodes": int(len(nodes)),
            "edges": int(len(edges)),
            "of_nodes": net.n_nodes,
            "of_edges": net.n_edges,
            "halo_m": float(distance),
        },
        "node_index": nodes,
        "edge_index": edges,
    }
    return WalkNetwork(
        crs=net.crs,
        node_ids=net.node_ids[nodes],
        node_xy=net.node_xy[nodes],
        edge_u=local[net.edge_u[edges]],
        edge_v=local[net.edge_v[edges]],
        edge_length=net.edge_length[edges],
        edge_geometry=net.edge_geometry[edges],
        csr=csr,
        report=report,
        **net.edge_attributes(edges),
    )
