"""Where a walking network comes from: files, osmnx queries, and the on-disk cache.

:func:`load_network` reads a street network from OpenStreetMap data (``.osm``
XML, ``.osm.pbf``, an osmnx query), or from an osmnx export (GraphML, GeoPackage
``nodes``/``edges`` layers, the ``nodes.shp``/``edges.shp`` pair), keeps the ways
pedestrians may use and returns a :class:`~carecircle.network.walknet.WalkNetwork`.
Built networks are cached on disk (:mod:`carecircle.network.cache`) keyed by the
input's bytes and the build parameters.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyproj
import shapely

from carecircle.errors import InputError, NetworkError, Problem
from carecircle.network import cache as _cache
from carecircle.network.osm import OSM_XML_SUFFIXES, read_osm_pbf, read_osm_xml, ways_to_edges
from carecircle.network.walknet import (
    WalkNetwork,
    assemble_network,
    csr_from_edges,
    edge_tag_attributes,
    network_from_frames,
    network_from_graph,
)

SourceKind = Literal["osm_xml", "osm_pbf", "graphml", "gpkg", "shapefile", "online"]


# --------------------------------------------------------------------------- sources


def _source_kind(source: Any) -> tuple[SourceKind, list[Path] | None, str]:
    """Classify a source; return its kind, the files that define it, a label."""
    if isinstance(source, Mapping):
        return (
            "online",
            None,
            "osmnx query " + json.dumps(_query_json(source), sort_keys=True)[:200],
        )
    path = Path(os.fspath(source))
    label = str(path)
    if path.is_dir():
        folder = path
    elif path.suffix.lower() == ".shp":
        folder = path.parent
    else:
        folder = None
    if folder is not None:
        members = [p for p in folder.iterdir() if p.stem.lower() in ("nodes", "edges")]
        if not {"nodes.shp", "edges.shp"} <= {p.name.lower() for p in members}:
            raise InputError(
                Problem(
                    "error",
                    label,
                    "not an osmnx shapefile export",
                    found=", ".join(sorted(p.name for p in members)) or "no nodes/edges files",
                    expected="nodes.shp and edges.shp in one folder",
                )
            )
        return "shapefile", sorted(members), label
    if not path.is_file():
        raise InputError(
            Problem("error", label, "network file not found", expected="an existing file")
        )
    name = path.name.lower()
    if name.endswith(".pbf"):
        return "osm_pbf", [path], label
    if name.endswith(OSM_XML_SUFFIXES):
        return "osm_xml", [path], label
    if name.endswith(".graphml"):
        return "graphml", [path], label
    if name.endswith(".gpkg"):
        return "gpkg", [path], label
    raise InputError(
        Problem(
            "error",
            label,
            "unknown network format",
            found=path.suffix or path.name,
            expected=".osm, .osm.bz2, .osm.pbf, .graphml, .gpkg, or an osmnx nodes/edges shapefile folder",
        )
    )


def _query_json(query: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in query.items():
        if hasattr(v, "wkt"):
            out[k] = v.wkt
        elif isinstance(v, tuple):
            out[k] = list(v)
        else:
            out[k] = v
    return out


def _graph_online(query: Mapping[str, Any]) -> Any:
    """Download a walk graph with osmnx (needs internet; osmnx caches responses)."""
    import osmnx as ox

    keys = set(query) & {"place", "bbox", "polygon"}
    if len(keys) != 1:
        raise InputError(
            Problem(
                "error",
                "network query",
                "an online network query needs exactly one key",
                found=", ".join(map(str, query)) or "none",
                expected="{'place': ...}, {'bbox': [w, s, e, n]} or {'polygon': shapely geometry}",
            )
        )
    kw: dict[str, Any] = {"network_type": "walk", "simplify": True, "retain_all": True}
    if "place" in keys:
        return ox.graph_from_place(query["place"], **kw)
    if "bbox" in keys:
        bbox = tuple(float(x) for x in query["bbox"])
        if len(bbox) != 4 or not (bbox[0] < bbox[2] and bbox[1] < bbox[3]):
            raise InputError(
                Problem(
                    "error",
                    "network query",
                    "bad bbox",
                    column="bbox",
                    found=str(query["bbox"]),
                    expected="[west, south, east, north] in degrees, west < east, south < north",
                )
            )
        return ox.graph_from_bbox(bbox, **kw)
    poly = query["polygon"]
    if not hasattr(poly, "geom_type") or poly.geom_type not in ("Polygon", "MultiPolygon"):
        raise InputError(
            Problem(
                "error",
                "network query",
                "polygon must be a shapely Polygon/MultiPolygon in EPSG:4326",
                column="polygon",
                found=type(poly).__name__,
            )
        )
    return ox.graph_from_polygon(poly, **kw)


def _build(
    kind: SourceKind, source: Any, crs: Any, filter_walkable: bool, label: str
) -> WalkNetwork:
    """Build a network from a classified source (no cache)."""
    report: dict[str, Any] = {"source": label, "format": kind}
    if kind in ("osm_xml", "osm_pbf"):
        ways = read_osm_xml(Path(source)) if kind == "osm_xml" else read_osm_pbf(Path(source))
        parts = ways_to_edges(ways, filter_walkable, report)
        if parts is None:
            raise NetworkError(f"{label}: no walkable ways found")
        node_ids, node_ll, eu, ev, geoms, edge_way = parts
        attrs = {k: v[edge_way] for k, v in edge_tag_attributes(ways.tags).items()}
        return assemble_network(node_ids, node_ll, eu, ev, geoms, "EPSG:4326", crs, report, attrs)
    if kind == "online":
        G = _graph_online(source)
        net = network_from_graph(G, crs=crs, filter_walkable=filter_walkable, source=label)
        net.report["format"] = "online"
        return net
    if kind == "graphml":
        import osmnx as ox

        try:
            G = ox.load_graphml(source)
        except Exception as exc:  # malformed XML, missing attributes
            raise InputError(
                Problem("error", label, "cannot read GraphML", found=str(exc))
            ) from exc
        net = network_from_graph(G, crs=crs, filter_walkable=filter_walkable, source=label)
        net.report["format"] = "graphml"
        return net
    nodes, edges = _read_frames(kind, source, label)
    net = network_from_frames(
        nodes, edges, crs=crs, filter_walkable=filter_walkable, source=label
    )
    net.report["format"] = kind
    return net


def _read_frames(kind: SourceKind, source: Any, label: str) -> tuple[Any, Any]:
    """The ``nodes`` and ``edges`` GeoDataFrames of an osmnx GeoPackage or shapefile export."""
    import geopandas as gpd

    if kind == "gpkg":
        import pyogrio

        layers = {str(name).lower(): str(name) for name, _ in pyogrio.list_layers(source)}
        if not {"nodes", "edges"} <= set(layers):
            raise InputError(
                Problem(
                    "error",
                    label,
                    "GeoPackage lacks osmnx layers",
                    found=", ".join(layers) or "none",
                    expected="layers 'nodes' and 'edges' (osmnx.save_graph_geopackage)",
                )
            )
        nodes = gpd.read_file(source, layer=layers["nodes"])
        edges = gpd.read_file(source, layer=layers["edges"])
    else:  # shapefile folder
        folder = Path(source) if Path(source).is_dir() else Path(source).parent
        nodes = gpd.read_file(folder / "nodes.shp")
        edges = gpd.read_file(folder / "edges.shp")
    return nodes, edges


def _to_cache(net: WalkNetwork) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    _typ, coords, offsets = shapely.to_ragged_array(net.edge_geometry)
    arrays = {
        "node_ids": net.node_ids,
        "node_xy": net.node_xy,
        "edge_u": net.edge_u,
        "edge_v": net.edge_v,
        "edge_length": net.edge_length,
        "geom_coords": coords,
        "geom_offsets": offsets[0],
    }
    meta = {"crs_wkt": net.crs.to_wkt(), "crs_epsg": net.crs.to_epsg(), "report": net.report}
    # Text per edge as codes into a list of values (nothing is pickled).
    for name, values in net.edge_attributes(np.arange(net.n_edges)).items():
        cats, codes = np.unique(values.astype(str), return_inverse=True)
        arrays[name] = codes.astype(np.int32)
        meta[name] = cats.tolist()
    return arrays, meta


def _from_cache(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> WalkNetwork:
    crs = (
        pyproj.CRS.from_epsg(meta["crs_epsg"])
        if meta.get("crs_epsg")
        else pyproj.CRS.from_wkt(meta["crs_wkt"])
    )
    geoms = shapely.from_ragged_array(
        shapely.GeometryType.LINESTRING, arrays["geom_coords"], (arrays["geom_offsets"],)
    )
    n = len(arrays["node_ids"])
    return WalkNetwork(
        crs=crs,
        node_ids=arrays["node_ids"],
        node_xy=arrays["node_xy"],
        edge_u=arrays["edge_u"],
        edge_v=arrays["edge_v"],
        edge_length=arrays["edge_length"],
        edge_geometry=np.asarray(geoms, dtype=object),
        csr=csr_from_edges(n, arrays["edge_u"], arrays["edge_v"], arrays["edge_length"]),
        report=dict(meta["report"]),
        **{name: np.asarray(meta[name], dtype=object)[arrays[name]]
           for name in ("edge_way", "edge_restricted") if name in arrays},
    )


def _cache_file(
    source: Any,
    files: list[Path] | None,
    kind: SourceKind,
    crs_key: str | None,
    filter_walkable: bool,
    cache_dir: str | os.PathLike[str] | Literal[False] | None,
) -> Path | None:
    """The cache file of a build: keyed by the input's bytes (an online query: by the
    query) and the build parameters; ``None`` when the cache is off."""
    if cache_dir is False:
        return None
    if isinstance(source, Mapping):
        digest = _cache.params_key("online", _query_json(source))
    else:
        digest = _cache.files_digest(files or [])
    key = _cache.params_key(
        digest, {"kind": kind, "crs": crs_key, "filter_walkable": filter_walkable}
    )
    folder = _cache.default_cache_dir() if cache_dir is None else Path(cache_dir)
    return _cache.cache_path(folder, key)


def _progress_bar(kind: SourceKind, label: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=2,
        desc=f"network {Path(label).name if kind != 'online' else 'online'}",
        unit="step",
    )


def load_network(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    crs: Any = None,
    cache_dir: str | os.PathLike[str] | Literal[False] | None = None,
    progress: bool = False,
    filter_walkable: bool = True,
) -> WalkNetwork:
    """Load (or build and cache) the walking network.

    Parameters
    ----------
    source
        ``.osm`` / ``.osm.bz2`` / ``.osm.gz`` XML; ``.osm.pbf`` (read directly by
        GDAL's OSM driver); ``.graphml``; a GeoPackage with osmnx's ``nodes`` and
        ``edges`` layers; a folder (or its ``edges.shp``/``nodes.shp``) of an
        osmnx shapefile export; or an online osmnx query ``{"place": "..."}``,
        ``{"bbox": [w, s, e, n]}`` or ``{"polygon": shapely geometry}``.
    crs
        Metric CRS of the result.  ``None``: a projected input keeps its CRS;
        otherwise the CRS is chosen for the network's extent by
        :func:`carecircle.inputs.coords.choose_metric_crs`, the rule a scenario
        run applies to its districts: EPSG:4545 (CGCS2000 3-degree GK, CM 108E)
        when the extent's centre lies within 106.5-109.5 E (and 18-54 N), else the
        UTM zone of the centre.  Before that rule was shared, an extent reaching
        past 106.5 E or 109.5 E (the whole of Xi'an municipality, 107.6-109.8 E)
        was put in its UTM zone (EPSG:32649 for Xi'an) rather than EPSG:4545.
    cache_dir
        Cache folder; ``None`` uses :func:`carecircle.network.cache.default_cache_dir`,
        ``False`` disables the cache.
    progress
        Show a tqdm progress bar of the stages.
    filter_walkable
        Drop ways pedestrians may not use (see :func:`walkable_ways`).

    Returns
    -------
    WalkNetwork
        ``report["cache"]`` is ``"hit"``, ``"miss"`` (built and stored) or ``"off"``.

    Raises
    ------
    InputError
        Missing, unreadable or unrecognised source.
    NetworkError
        No walkable edges, a non-metric ``crs``, or (``crs`` not given) a
        geographic input whose coordinates are not degrees.
    """
    kind, files, label = _source_kind(source)
    crs_key = None if crs is None else pyproj.CRS.from_user_input(crs).to_wkt()
    bar = _progress_bar(kind, label) if progress else None
    try:
        path = _cache_file(source, files, kind, crs_key, filter_walkable, cache_dir)
        hit = None if path is None else _cache.load_arrays(path)
        if hit is not None:
            net = _from_cache(*hit)
            net.report.update(cache="hit", cache_file=str(path), source=label)
            return net
        if bar is not None:
            bar.set_postfix_str("building")
            bar.update(1)
        net = _build(kind, source, crs, filter_walkable, label)
        if path is not None:
            arrays, meta = _to_cache(net)
            _cache.save_arrays(path, arrays, meta)
            net.report.update(cache="miss", cache_file=str(path))
        else:
            net.report["cache"] = "off"
        return net
    finally:
        if bar is not None:
            bar.update(bar.total - bar.n)
            bar.close()


def describe_network(net: WalkNetwork) -> list[str]:
    """What the loader kept and what it dropped, as lines for ``carecircle validate``.

    Parameters
    ----------
    net
        A loaded network (its ``report``).

    Returns
    -------
    list of str
        The kept counts, then one line per kind of thing dropped (ways not for walking by
        reason, pieces not connected to the rest, duplicate edges), and the ways kept for
        walking through but not for joining the network (tunnels, underground, private).
    """
    r = net.report
    lines = [f"network 步行路网: {net.n_nodes:,} nodes, {net.n_edges:,} edges, "
             f"{float(np.sum(net.edge_length)) / 1000:,.1f} km (largest connected piece 最大连通部分)"]
    dropped = r.get("ways_dropped_not_walkable") or {}
    if dropped:
        read = r.get("ways_read", r.get("edges_read"))
        what = "ways" if "ways_read" in r else "edges"
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(dropped.items(), key=lambda kv: -kv[1]))
        lines.append(f"  dropped 已剔除: {sum(dropped.values()):,} of {read:,} {what} not for walking "
                     f"不可步行 ({reasons})")
    if r.get("components_dropped"):
        lines.append(f"  dropped 已剔除: {r['components_dropped']:,} pieces not connected to the rest "
                     f"与主路网不连通 ({r.get('nodes_dropped', 0):,} nodes, "
                     f"{r.get('edges_dropped', 0):,} edges)")
    if r.get("duplicate_edges_merged"):
        lines.append(f"  merged 已合并: {r['duplicate_edges_merged']:,} duplicate edges 重复路段")
    if r.get("tags_missing") and "highway" in r["tags_missing"]:
        lines.append("  note 注意: the source has no highway tags, every edge was kept 无道路类型标签")
    entry = r.get("ways_no_street_entry") or {}
    n_edges = r.get("edges_no_street_entry", 0)
    if entry or n_edges:
        kinds = ", ".join(f"{k} {v:,}" for k, v in entry.items())
        lines.append(f"  kept for walking through, not for joining the network 可通行但不作接入点: "
                     f"{n_edges:,} edges" + (f" (ways 道路: {kinds})" if kinds else "")
                     + " — tunnels, underground, indoor or private ways")
    return lines
