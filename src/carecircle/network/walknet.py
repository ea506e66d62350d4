"""The walking network as compact arrays: :class:`WalkNetwork` and its constructors.

A :class:`WalkNetwork` holds node and edge arrays plus a symmetric CSR adjacency
matrix that the shortest-path code in :mod:`carecircle.network.reach` searches.
Every way is two-way (walking ignores ``oneway``); the network is projected to a
metric CRS and reduced to its largest connected component.  Every step that drops
something records it in ``WalkNetwork.report`` so a planner can see what the
network left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from carecircle.errors import InputError, NetworkError, Problem
from carecircle.inputs.coords import choose_metric_crs
from carecircle.network.osm import READ_TAGS, entry_restrictions, walkable_ways, way_types


@dataclass(frozen=True, eq=False)
class WalkNetwork:
    """An undirected walking network in a metric CRS, as arrays.

    Attributes
    ----------
    crs
        Metric CRS of every coordinate and length.
    node_ids
        ``int64 (n,)`` original node ids (OSM ids; negative synthetic ids when
        the reader cannot see them, see ``report["node_ids"]``).  Nodes are
        numbered along a Z-order curve (spatial locality), not by id.
    node_xy
        ``float64 (n, 2)`` node coordinates.
    edge_u, edge_v
        ``int64 (m,)`` node *indices* of each undirected edge (``edge_u <= edge_v``).
    edge_length
        ``float64 (m,)`` metres, the length of ``edge_geometry`` in ``crs``.
    edge_geometry
        ``object (m,)`` shapely LineStrings oriented from ``edge_u`` to ``edge_v``.
    csr
        Symmetric ``(n, n)`` adjacency; data is metres, the shortest of parallel
        edges; self-loops are left out (they never shorten a path).
    report
        What was read and what was dropped: source, format, crs, counts of
        non-walkable ways by reason, tags missing from the input, components,
        nodes and edges dropped, duplicate directed edges merged, cache status.
    edge_way
        ``object (m,)`` the OSM ``highway`` type of each edge (``""`` unknown), or
        ``None`` when the source has no tags.
    edge_restricted
        ``object (m,)`` why a person cannot step onto the edge from the street
        (:func:`carecircle.network.osm.entry_restrictions`: tunnel, layer below 0,
        private access ...), ``""`` when they can; ``None``: every edge can be entered.
    """

    crs: pyproj.CRS
    node_ids: np.ndarray
    node_xy: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length: np.ndarray
    edge_geometry: np.ndarray
    csr: sp.csr_matrix
    report: dict
    edge_way: np.ndarray | None = None
    edge_restricted: np.ndarray | None = None

    def edge_attributes(self, edges: np.ndarray) -> dict[str, np.ndarray]:
        """The per-edge attributes (``edge_way``, ``edge_restricted``) of ``edges``.

        Parameters
        ----------
        edges
            Edge indices or a boolean mask.

        Returns
        -------
        dict
            Only the attributes this network has.
        """
        out = {}
        for name in ("edge_way", "edge_restricted"):
            values = getattr(self, name)
            if values is not None:
                out[name] = values[edges]
        return out

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_ids.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of undirected edges."""
        return int(self.edge_u.shape[0])

    def edges_frame(self) -> Any:
        """Edges as a GeoDataFrame (``u``, ``v``, ``u_id``, ``v_id``, ``length_m``)."""
        import geopandas as gpd

        return gpd.GeoDataFrame(
            {
                "u": self.edge_u,
                "v": self.edge_v,
                "u_id": self.node_ids[self.edge_u],
                "v_id": self.node_ids[self.edge_v],
                "length_m": self.edge_length,
            },
            geometry=self.edge_geometry,
            crs=self.crs,
        )

    def nodes_frame(self) -> Any:
        """Nodes as a GeoDataFrame (``node_id`` and point geometry)."""
        import geopandas as gpd

        return gpd.GeoDataFrame(
            {"node_id": self.node_ids},
            geometry=shapely.points(self.node_xy),
            crs=self.crs,
        )


# --------------------------------------------------------------------------- assembly


def _resolve_crs(crs: Any, src_crs: pyproj.CRS, node_xy: np.ndarray, label: str) -> pyproj.CRS:
    """The network's metric CRS: ``crs`` if given, a projected source's own, else chosen.

    The choice is :func:`carecircle.inputs.coords.choose_metric_crs` over the nodes'
    extent, the rule a scenario run applies to its districts, so ``carecircle reach``
    and ``carecircle run`` project an area alike.  (Until that rule was shared, a
    network reaching past 106.5 E or 109.5 E, the whole of Xi'an municipality among
    them, was put in its UTM zone rather than EPSG:4545.)
    """
    if crs is not None:
        target = pyproj.CRS.from_user_input(crs)
        if not target.is_projected:
            raise NetworkError(f"{label}: crs {target.to_string()} is not a projected (metric) CRS")
        return target
    if src_crs.is_projected:
        return src_crs
    lon_min, lat_min = np.nanmin(node_xy, axis=0)
    lon_max, lat_max = np.nanmax(node_xy, axis=0)
    # Coordinates that cannot be degrees (a projected file whose CRS was declared
    # as lon/lat) would get a meaningless zone: refuse them.
    if not (-180.0 <= lon_min <= lon_max <= 180.0 and -90.0 <= lat_min <= lat_max <= 90.0):
        raise NetworkError(
            f"{label}: the network extent {lon_min:.4f},{lat_min:.4f},{lon_max:.4f},{lat_max:.4f} "
            f"is not in degrees, as its CRS {src_crs.to_string()} says; pass crs= explicitly"
        )
    return choose_metric_crs(float(lon_min), float(lat_min), float(lon_max), float(lat_max))


def csr_from_edges(n: int, u: np.ndarray, v: np.ndarray, length: np.ndarray) -> sp.csr_matrix:
    """The symmetric adjacency of a :class:`WalkNetwork` (``WalkNetwork.csr``).

    Parameters
    ----------
    n
        Number of nodes.
    u, v
        Node indices of each edge.
    length
        Edge lengths, metres.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(n, n)``, the shortest of parallel edges in both directions; self-loops
        left out; zero-length edges kept as explicit zeros.  int32 indices where
        they fit.
    """
    a, b = np.minimum(u, v), np.maximum(u, v)
    keep = a != b
    a, b, w = a[keep], b[keep], length[keep]
    order = np.lexsort((w, b, a))
    a, b, w = a[order], b[order], w[order]
    first = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])] if len(a) else np.zeros(0, bool)
    a, b, w = a[first], b[first], w[first]
    rows, cols, data = np.r_[a, b], np.r_[b, a], np.r_[w, w]
    order = np.lexsort((cols, rows))
    rows, cols, data = rows[order], cols[order], data[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    idx_dtype = np.int32 if n < 2**31 - 1 else np.int64
    return sp.csr_matrix(
        (data.astype(np.float64), cols.astype(idx_dtype), indptr.astype(idx_dtype)), shape=(n, n)
    )


def _morton(xy: np.ndarray) -> np.ndarray:
    """Z-order code of 2-D points (20 bits per axis over their bounding box)."""
    if len(xy) == 0:
        return np.zeros(0, dtype=np.uint64)
    lo = xy.min(axis=0)
    span = float(np.ptp(xy, axis=0).max()) or 1.0
    q = np.clip((xy - lo) / span * (2**20 - 1), 0, 2**20 - 1).astype(np.uint64)

    def spread(v: np.ndarray) -> np.ndarray:
        for shift, mask in (
            (16, 0x0000FFFF0000FFFF),
            (8, 0x00FF00FF00FF00FF),
            (4, 0x0F0F0F0F0F0F0F0F),
            (2, 0x3333333333333333),
            (1, 0x5555555555555555),
        ):
            v = (v | (v << np.uint64(shift))) & np.uint64(mask)
        return v

    return spread(q[:, 0]) | (spread(q[:, 1]) << np.uint64(1))


def _project(
    node_xy: np.ndarray, geoms: np.ndarray, src: pyproj.CRS, target: pyproj.CRS
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and edge geometries in ``target`` (as given when it is ``src``)."""
    if not src.equals(target):
        tr = pyproj.Transformer.from_crs(src, target, always_xy=True)

        def project(c: np.ndarray) -> np.ndarray:
            x, y = tr.transform(c[:, 0], c[:, 1])
            return np.column_stack([x, y])

        node_xy = project(np.asarray(node_xy, dtype=np.float64))
        geoms = shapely.transform(geoms, project)
    return np.asarray(node_xy, dtype=np.float64), geoms


def _merge_duplicates(
    eu: np.ndarray, ev: np.ndarray, geoms: np.ndarray, report: dict, label: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Edges oriented low to high node index, duplicates and zero-length loops dropped.

    Returns the edges' ends, geometries and lengths, and the mask of edges kept.
    """
    length = shapely.length(geoms)
    # Orient every edge from its lower to its higher node index, so that the two
    # directions of a two-way street in a directed export become identical rows.
    flip = eu > ev
    geoms = np.where(flip, shapely.reverse(geoms), geoms)
    a, b = np.where(flip, ev, eu), np.where(flip, eu, ev)
    loop = a == b
    degenerate = loop & (length <= 0)
    wkb = shapely.to_wkb(geoms)
    if loop.any():
        rev = shapely.to_wkb(shapely.reverse(geoms[loop]))
        wkb[loop] = np.where(rev < wkb[loop], rev, wkb[loop])
    dup = pd.DataFrame({"a": a, "b": b, "w": wkb}).duplicated().to_numpy()
    report["duplicate_edges_merged"] = int(dup.sum())
    report["degenerate_loops_dropped"] = int(degenerate.sum())
    keep = ~dup & ~degenerate
    if not keep.any():
        raise NetworkError(f"{label}: no walkable edges left after filtering")
    return a[keep], b[keep], geoms[keep], length[keep], keep


def _largest_component(
    node_ids: np.ndarray,
    node_xy: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    geoms: np.ndarray,
    length: np.ndarray,
    report: dict,
) -> tuple[np.ndarray, ...]:
    """The largest connected component, its nodes numbered along a Z-order curve and
    its edges sorted by (u, v, length): ``node_ids, node_xy, a, b, geoms, length``, and
    the positions of the edges kept, in their new order."""
    n = len(node_ids)
    structure = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)).tocsr()
    ncomp, comp = connected_components(structure, directed=False)
    sizes = np.bincount(comp)
    big = int(np.argmax(sizes))
    in_big = comp == big
    report["components"] = int(ncomp)
    report["components_dropped"] = int(ncomp - 1)
    report["nodes_dropped"] = int(n - in_big.sum())
    report["pieces"] = _dropped_pieces(comp, sizes, big, node_xy)
    ekeep = in_big[a]
    report["edges_dropped"] = int((~ekeep).sum())
    # Number the kept nodes along a Z-order (Morton) curve: nodes near each
    # other in space get near indices, so a bounded search touches few cache
    # lines (1.5x faster searches on a city-sized network than id order).
    kept = np.flatnonzero(in_big)
    node_ids = np.asarray(node_ids, dtype=np.int64)
    kept = kept[np.lexsort((node_ids[kept], _morton(node_xy[kept])))]
    new = np.full(n, -1, dtype=np.int64)
    new[kept] = np.arange(len(kept))
    a, b, geoms, length = new[a[ekeep]], new[b[ekeep]], geoms[ekeep], length[ekeep]
    order = np.lexsort((length, b, a))
    return (node_ids[kept], node_xy[kept], a[order], b[order], geoms[order], length[order],
            np.flatnonzero(ekeep)[order])


def assemble_network(
    node_ids: np.ndarray,
    node_xy: np.ndarray,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    edge_geometry: np.ndarray,
    src_crs: Any,
    crs: Any,
    report: dict,
    edge_attributes: dict[str, np.ndarray] | None = None,
) -> WalkNetwork:
    """A :class:`WalkNetwork` from node and edge arrays: project, merge duplicate
    directed edges, keep the largest component.

    The step every reader ends with (OSM files, osmnx exports and graphs, plain
    arrays).

    Parameters
    ----------
    node_ids
        ``(n,)`` integer node ids, sorted.
    node_xy
        ``(n, 2)`` node coordinates in ``src_crs``.
    edge_u, edge_v
        ``(m,)`` node indices of each edge (either direction; both directions of
        a two-way street may be given, with identical geometry reversed).
    edge_geometry
        ``(m,)`` LineStrings from ``edge_u`` to ``edge_v`` in ``src_crs``.
    src_crs
        CRS of the coordinates.
    crs
        Metric CRS of the result; ``None``: ``src_crs`` if projected, else the
        study-area rule (:func:`carecircle.inputs.coords.choose_metric_crs`).
    report
        What the reader recorded (``source`` labels error messages); the counts of
        this step are added and the dict becomes ``WalkNetwork.report``.
    edge_attributes
        ``edge_way`` and/or ``edge_restricted`` per input edge (see
        :class:`WalkNetwork`), kept for the edges kept.

    Returns
    -------
    WalkNetwork

    Raises
    ------
    NetworkError
        No edge left, a geographic ``crs``, or geographic coordinates that are not
        degrees.
    """
    label = str(report.get("source", "network"))
    src = pyproj.CRS.from_user_input(src_crs)
    target = _resolve_crs(crs, src, node_xy, label)
    node_xy, geoms = _project(node_xy, edge_geometry, src, target)
    a, b, geoms, length, kept = _merge_duplicates(edge_u, edge_v, geoms, report, label)
    node_ids, node_xy, a, b, geoms, length, order = _largest_component(
        node_ids, node_xy, a, b, geoms, length, report
    )
    attrs = {k: np.asarray(v, dtype=object)[kept][order] for k, v in (edge_attributes or {}).items()}
    if "edge_restricted" in attrs:
        report["edges_no_street_entry"] = int((attrs["edge_restricted"] != "").sum())
    report["crs"] = target.to_string()
    report["nodes"] = int(len(node_ids))
    report["edges"] = int(len(a))
    report["length_km"] = round(float(length.sum()) / 1000.0, 3)
    return WalkNetwork(
        crs=target,
        node_ids=node_ids,
        node_xy=node_xy,
        edge_u=a.astype(np.int64),
        edge_v=b.astype(np.int64),
        edge_length=length.astype(np.float64),
        edge_geometry=geoms,
        csr=csr_from_edges(len(node_ids), a, b, length),
        report=report,
        edge_way=attrs.get("edge_way"),
        edge_restricted=attrs.get("edge_restricted"),
    )


#: How many of the largest dropped pieces the network report describes.
MAX_PIECES_REPORTED = 10


def _dropped_pieces(comp: np.ndarray, sizes: np.ndarray, big: int, node_xy: np.ndarray) -> list[dict]:
    """The largest dropped pieces (components): node count and convex hull (WKT, metres).

    Only the largest component is kept; these let validation say which communities a
    network in pieces leaves off it (:mod:`carecircle.network.pieces`).
    """
    order = [int(c) for c in np.argsort(-sizes, kind="stable") if c != big and sizes[c] >= 2]
    out = []
    for c in order[:MAX_PIECES_REPORTED]:
        pts = shapely.multipoints(node_xy[comp == c])
        out.append({"nodes": int(sizes[c]),
                    "hull_wkt": shapely.to_wkt(shapely.convex_hull(pts), rounding_precision=1)})
    return out


def _from_edge_table(
    node_ids: np.ndarray,
    node_xy: np.ndarray,
    edge_u_ids: np.ndarray,
    edge_v_ids: np.ndarray,
    geoms: np.ndarray,
    tags: pd.DataFrame,
    src_crs: Any,
    crs: Any,
    filter_walkable: bool,
    report: dict,
) -> WalkNetwork:
    """Common path for node/edge tables (osmnx exports and networkx graphs)."""
    label = str(report.get("source", "network"))
    node_ids = np.asarray(node_ids)
    try:
        node_ids = node_ids.astype(np.int64)
        edge_u_ids = np.asarray(edge_u_ids).astype(np.int64)
        edge_v_ids = np.asarray(edge_v_ids).astype(np.int64)
        report["node_ids"] = "osm"
    except (TypeError, ValueError):
        # Non-integer node ids (hand-made graphs): number them in sorted order.
        codes, uniq = pd.factorize(pd.Series(node_ids).astype(str), sort=True)
        lookup = dict(zip(uniq, range(len(uniq)), strict=True))
        node_ids = codes.astype(np.int64)
        edge_u_ids = np.array([lookup.get(str(x), -1) for x in edge_u_ids], dtype=np.int64)
        edge_v_ids = np.array([lookup.get(str(x), -1) for x in edge_v_ids], dtype=np.int64)
        report["node_ids"] = "synthetic: input node ids are not integers (sorted order)"
    node_xy = np.asarray(node_xy, dtype=np.float64)
    order = np.argsort(node_ids, kind="stable")
    node_ids, node_xy = node_ids[order], node_xy[order]
    if len(node_ids) and np.any(node_ids[1:] == node_ids[:-1]):
        raise NetworkError(f"{label}: node ids are not unique")
    report["edges_read"] = int(len(edge_u_ids))
    if filter_walkable:
        keep, reason, missing = walkable_ways(tags)
        report["ways_dropped_not_walkable"] = {
            str(k): int(v) for k, v in reason.dropna().value_counts().sort_index().items()
        }
        report["tags_missing"] = missing
        if "highway" not in tags.columns:
            report["note"] = "input has no highway tags: every edge kept"
    else:
        keep = np.ones(len(edge_u_ids), dtype=bool)
        report["ways_dropped_not_walkable"] = {}
        report["tags_missing"] = []

    def index_of(ids: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(node_ids, ids)
        pos = np.minimum(pos, len(node_ids) - 1)
        return np.where(node_ids[pos] == ids, pos, -1)

    u, v = index_of(edge_u_ids), index_of(edge_v_ids)
    unknown = (u < 0) | (v < 0)
    report["edges_unknown_node"] = int(unknown.sum())
    keep &= ~unknown
    attrs = edge_tag_attributes(tags)
    attrs = {k: val[keep] for k, val in attrs.items()}
    u, v, geoms = u[keep], v[keep], np.asarray(geoms, dtype=object)[keep]
    # Edges without geometry are straight lines between their nodes (osmnx
    # leaves geometry off straight edges).
    missing_geom = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing_geom.any():
        pairs = np.stack([node_xy[u[missing_geom]], node_xy[v[missing_geom]]], axis=1)
        geoms[missing_geom] = shapely.linestrings(pairs)
    # Orient each geometry from u to v (some exports store it reversed).
    start = shapely.get_coordinates(shapely.get_point(geoms, 0))
    d_u = np.hypot(*(start - node_xy[u]).T)
    d_v = np.hypot(*(start - node_xy[v]).T)
    geoms = np.where(d_v < d_u, shapely.reverse(geoms), geoms)
    return assemble_network(node_ids, node_xy, u, v, geoms, src_crs, crs, report, attrs)


def edge_tag_attributes(tags: pd.DataFrame) -> dict[str, np.ndarray]:
    """``edge_way`` and ``edge_restricted`` of each row of ``tags`` (see :class:`WalkNetwork`).

    Parameters
    ----------
    tags
        One row per edge or way, OSM tags as columns (osmnx writes list-valued tags
        as text, ``"['footway', 'steps']"``: the first value is the type).

    Returns
    -------
    dict
        Empty when ``tags`` has no ``highway`` column (the type is unknown and every
        edge can be entered).
    """
    if "highway" not in tags.columns:
        return {}
    clean = tags.copy()
    for col in clean.columns:
        text = clean[col].astype("string")
        listed = text.str.startswith("[", na=False)
        clean[col] = text.where(~listed, text.str.extract(r"^\[\s*'([^']*)'", expand=False))
    return {"edge_way": way_types(clean), "edge_restricted": entry_restrictions(clean)}


def _tags_frame(frame: pd.DataFrame) -> pd.DataFrame:
    cols = {c.lower(): c for c in frame.columns}
    out = pd.DataFrame(index=range(len(frame)))
    for tag in READ_TAGS:
        if tag in cols:
            out[tag] = frame[cols[tag]].to_numpy()
    return out


def _from_frames(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    src_crs: Any,
    crs: Any,
    filter_walkable: bool,
    report: dict,
) -> WalkNetwork:
    label = str(report.get("source", "network"))
    ncols = {c.lower(): c for c in nodes.columns}
    if "osmid" in ncols:
        node_ids = nodes[ncols["osmid"]].to_numpy()
    elif nodes.index.name and nodes.index.name.lower() == "osmid":
        node_ids = nodes.index.to_numpy()
    else:
        raise InputError(
            Problem(
                "error",
                label,
                "nodes layer has no node id",
                column="osmid",
                found=", ".join(map(str, nodes.columns)),
                expected="an 'osmid' column (osmnx export)",
            )
        )
    geom = nodes.geometry.to_numpy() if hasattr(nodes, "geometry") else None
    if geom is not None and not shapely.is_missing(geom).any():
        node_xy = shapely.get_coordinates(geom)
    elif "x" in ncols and "y" in ncols:
        node_xy = np.column_stack(
            [nodes[ncols["x"]].to_numpy(float), nodes[ncols["y"]].to_numpy(float)]
        )
    else:
        raise InputError(
            Problem(
                "error",
                label,
                "nodes layer has no coordinates",
                expected="point geometry or x/y columns",
            )
        )
    ecols = {c.lower(): c for c in edges.columns}
    for need in ("u", "v"):
        if need not in ecols and need not in [str(n).lower() for n in (edges.index.names or [])]:
            raise InputError(
                Problem(
                    "error",
                    label,
                    "edges layer has no end-node column",
                    column=need,
                    found=", ".join(map(str, edges.columns)),
                    expected="'u' and 'v' columns (osmnx export)",
                )
            )
    if "u" not in ecols:
        edges = edges.reset_index()
        ecols = {c.lower(): c for c in edges.columns}
    geoms = (
        edges.geometry.to_numpy()
        if hasattr(edges, "geometry")
        else np.full(len(edges), None, dtype=object)
    )
    return _from_edge_table(
        node_ids,
        node_xy,
        edges[ecols["u"]].to_numpy(),
        edges[ecols["v"]].to_numpy(),
        np.asarray(geoms, dtype=object),
        _tags_frame(edges),
        src_crs,
        crs,
        filter_walkable,
        report,
    )


def network_from_frames(
    nodes: Any,
    edges: Any,
    *,
    crs: Any = None,
    filter_walkable: bool = True,
    source: str = "GeoDataFrames",
) -> WalkNetwork:
    """Build a :class:`WalkNetwork` from osmnx's node and edge GeoDataFrames.

    Parameters
    ----------
    nodes
        GeoDataFrame with an ``osmid`` column (or index) and point geometry (or
        ``x``/``y`` columns), as ``osmnx.graph_to_gdfs`` or an osmnx GeoPackage or
        shapefile export gives it.
    edges
        GeoDataFrame with ``u`` and ``v`` columns (or index levels), LineStrings,
        and OSM tags; its CRS is the input's (``nodes`` are reprojected to it).
    crs
        Metric CRS for the result, as for :func:`network_from_graph`.
    filter_walkable
        Drop ways pedestrians may not use (see :func:`walkable_ways`).
    source
        Label used in the report and in error messages.

    Returns
    -------
    WalkNetwork

    Raises
    ------
    InputError
        A layer without a CRS, node ids, coordinates or end-node columns.
    """
    report: dict[str, Any] = {"source": source, "format": "frames"}
    if getattr(nodes, "crs", None) is None or getattr(edges, "crs", None) is None:
        raise InputError(
            Problem(
                "error", source, "nodes/edges layer has no CRS", expected="a .prj / declared CRS"
            )
        )
    if not nodes.crs.equals(edges.crs):
        nodes = nodes.to_crs(edges.crs)
    return _from_frames(nodes, edges, edges.crs, crs, filter_walkable, report)


def network_from_graph(
    G: Any, *, crs: Any = None, filter_walkable: bool = True, source: str = "networkx graph"
) -> WalkNetwork:
    """Build a :class:`WalkNetwork` from an osmnx/networkx graph.

    Parameters
    ----------
    G
        A networkx graph (directed or not, multi or not) whose nodes carry
        ``x``/``y`` and whose edges may carry ``geometry`` (shapely or WKT) and
        OSM tags; ``G.graph["crs"]`` gives the CRS (default EPSG:4326), as in
        osmnx graphs, lat/lon or projected.
    crs
        Metric CRS for the result; ``None`` keeps a projected input CRS, or
        chooses one for the extent as a scenario run does
        (:func:`carecircle.inputs.coords.choose_metric_crs`).
    filter_walkable
        Drop ways pedestrians may not use (see :func:`walkable_ways`).
    source
        Label used in the report and in error messages.

    Returns
    -------
    WalkNetwork
    """
    report: dict[str, Any] = {"source": source, "format": "networkx"}
    nodes = list(G.nodes(data=True))
    if not nodes:
        raise NetworkError(f"{source}: the graph has no nodes")
    ids = np.array([n for n, _ in nodes], dtype=object)
    try:
        xy = np.array([[float(d["x"]), float(d["y"])] for _, d in nodes])
    except KeyError as exc:
        raise NetworkError(f"{source}: graph nodes need 'x' and 'y' attributes") from exc
    eu, ev, geoms, rows = [], [], [], []
    for u, v, d in G.edges(data=True):
        eu.append(u)
        ev.append(v)
        g = d.get("geometry")
        if isinstance(g, str):
            g = shapely.from_wkt(g)
        geoms.append(g)
        rows.append({k: d[k] for k in READ_TAGS if k in d})
    tags = pd.DataFrame(rows, columns=[t for t in READ_TAGS if any(t in r for r in rows)])
    if ids.size and all(isinstance(i, (int, np.integer)) for i in ids):
        ids = ids.astype(np.int64)
    return _from_edge_table(
        ids,
        xy,
        np.array(eu, dtype=ids.dtype),
        np.array(ev, dtype=ids.dtype),
        np.array(geoms + [None], dtype=object)[:-1],
        tags,
        G.graph.get("crs", "EPSG:4326"),
        crs,
        filter_walkable,
        report,
    )


def network_from_edges(
    node_xy: np.ndarray,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    *,
    crs: Any,
    node_ids: np.ndarray | None = None,
    edge_geometry: np.ndarray | None = None,
    source: str = "arrays",
) -> WalkNetwork:
    """Build a :class:`WalkNetwork` from plain node/edge arrays (synthetic cities, benchmarks).

    Parameters
    ----------
    node_xy
        ``(n, 2)`` node coordinates in ``crs``.
    edge_u, edge_v
        Node indices (``0..n-1``) of each undirected edge.
    crs
        CRS of the coordinates; a geographic CRS is projected as in
        :func:`load_network`.
    node_ids
        Node ids (default ``0..n-1``).
    edge_geometry
        LineStrings from ``edge_u`` to ``edge_v``; straight lines if omitted.
    source
        Label for the report.

    Returns
    -------
    WalkNetwork
        Duplicates merged and the largest component kept, as for files.
    """
    node_xy = np.asarray(node_xy, dtype=np.float64)
    eu = np.asarray(edge_u, dtype=np.int64)
    ev = np.asarray(edge_v, dtype=np.int64)
    ids = (
        np.arange(len(node_xy), dtype=np.int64)
        if node_ids is None
        else np.asarray(node_ids, np.int64)
    )
    if edge_geometry is None:
        geoms = np.asarray(shapely.linestrings(np.stack([node_xy[eu], node_xy[ev]], axis=1)))
    else:
        geoms = np.asarray(edge_geometry, dtype=object)
    order = np.argsort(ids, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    report: dict[str, Any] = {"source": source, "format": "arrays", "node_ids": "given"}
    return assemble_network(ids[order], node_xy[order], rank[eu], rank[ev], geoms, crs, None, report)


def to_networkx(net: WalkNetwork) -> Any:
    """The network as an undirected ``networkx.Graph`` for cross-checks.

    Nodes are the node *indices* ``0..n-1`` (attributes ``osmid``, ``x``, ``y``);
    each edge has ``length`` in metres, the shortest of parallel edges.
    Self-loops are left out.
    """
    import networkx as nx

    G = nx.Graph(crs=net.crs)
    for i in range(net.n_nodes):
        G.add_node(
            i, osmid=int(net.node_ids[i]), x=float(net.node_xy[i, 0]), y=float(net.node_xy[i, 1])
        )
    coo = sp.triu(net.csr, k=1).tocoo()
    G.add_weighted_edges_from(
        zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True), weight="length"
    )
    return G
