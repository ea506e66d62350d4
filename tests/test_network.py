"""Tests for carecircle.network and carecircle.cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest
import scipy.sparse as sp
import shapely

from carecircle.cli import main
from carecircle.errors import InputError, NetworkError
from carecircle.inputs.coords import choose_metric_crs
from carecircle.inputs.scenario import scenario_from_dict
from carecircle.network.osm import walkable_ways
from carecircle.network.sources import _build, load_network
from carecircle.network.walknet import (
    network_from_edges,
    network_from_frames,
    network_from_graph,
    to_networkx,
)
from carecircle.runs.context import prepare

SHARED = Path(__file__).parents[2] / "shared" / "data"
XIAN = SHARED / "xian-central" / "roads-osm-2021"
OSM = SHARED / "osm"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not found: {path}")
    return path


# --------------------------------------------------------------------------- walk filter


def test_walkable_ways_rules():
    tags = pd.DataFrame(
        [
            {"highway": "residential"},  # kept
            {"highway": "motorway"},  # motorway
            {"highway": "motorway_link", "foot": "no"},  # foot=no wins first
            {"highway": "cycleway"},  # osmnx drops cycleways ...
            {"highway": "cycleway", "foot": "designated"},  # ... unless walking is allowed
            {"highway": "service", "access": "private"},
            {"highway": "service", "access": "private", "foot": "yes"},
            {"highway": "footway", "access": "no"},
            {"highway": "construction"},
            {"highway": "pedestrian", "area": "yes"},
            {"highway": "primary", "sidewalk": "separate"},
            {"highway": "service", "service": "private"},
            {"highway": "['primary', 'secondary']"},  # osmnx list-valued tag
            {"highway": None},
            {"highway": "trunk"},  # trunk is walkable in osmnx's filter
            {"highway": "footway", "foot": "no"},
        ]
    )
    keep, reason, missing = walkable_ways(tags)
    assert keep.tolist() == [
        True, False, False, False, True, False, True, False,
        False, False, False, False, True, False, True, False,
    ]  # fmt: skip
    assert reason[1].startswith("highway closed") and reason[2] == "foot=no"
    assert reason[5] == "access=private/no" and reason[8].startswith("highway not built")
    assert reason[9] == "area=yes" and reason[10] == "sidewalk mapped separately"
    assert reason[13] == "no highway tag" and pd.isna(reason[0])
    assert "sidewalk:both" in missing and "foot" not in missing


def test_walkable_ways_without_highway_keeps_all():
    keep, reason, missing = walkable_ways(pd.DataFrame({"name": ["a", "b"]}))
    assert keep.all() and reason.isna().all() and "highway" in missing


# --------------------------------------------------------------------------- OSM XML

TINY_OSM = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6">
  <node id="1" lat="34.2500" lon="108.9500"/>
  <node id="2" lat="34.2500" lon="108.9510"/>
  <node id="3" lat="34.2500" lon="108.9520"/>
  <node id="4" lat="34.2510" lon="108.9510"/>
  <node id="5" lat="34.2490" lon="108.9510"/>
  <node id="6" lat="34.2500" lon="108.9530"/>
  <node id="7" lat="34.2400" lon="108.9000"/>
  <node id="8" lat="34.2401" lon="108.9001"/>
  <node id="10" lat="34.2510" lon="108.9520"/>
  <way id="100">
    <nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="3"/><nd ref="6"/>
    <tag k="highway" v="residential"/><tag k="oneway" v="yes"/>
  </way>
  <way id="101">
    <nd ref="4"/><nd ref="2"/><nd ref="5"/>
    <tag k="highway" v="footway"/>
  </way>
  <way id="102">
    <nd ref="1"/><nd ref="4"/>
    <tag k="highway" v="motorway"/>
  </way>
  <way id="103">
    <nd ref="7"/><nd ref="8"/>
    <tag k="highway" v="service"/>
  </way>
  <way id="104">
    <nd ref="3"/><nd ref="99"/><nd ref="10"/><nd ref="4"/>
    <tag k="highway" v="path"/>
  </way>
  <way id="105">
    <nd ref="4"/><nd ref="10"/>
    <tag k="building" v="yes"/>
  </way>
</osm>
"""


# osmnx refuses ways with nodes missing from the file: leave the clipped way out.
TINY_OSM_COMPLETE = (
    TINY_OSM[: TINY_OSM.index('  <way id="104">')] + TINY_OSM[TINY_OSM.index('  <way id="105">') :]
)


@pytest.fixture
def tiny_osm(tmp_path):
    p = tmp_path / "tiny.osm"
    p.write_text(TINY_OSM, encoding="utf-8")
    return p


def test_osm_xml_topology_and_report(tiny_osm):
    net = load_network(tiny_osm, cache_dir=False)
    # Way 100 is split at node 2 (shared with 101) but not at 3 (its repeat is
    # dropped); way 104 lost node 99 to clipping, so it is cut there: 10-4
    # remains and 3 is not joined to 10 by a street that does not exist.  The
    # motorway 102 and the building 105 are not walked.
    assert net.crs.to_epsg() == 4545  # 108.95 E lies in the CM 108E zone
    ids = net.node_ids.tolist()
    assert sorted(ids) == [1, 2, 4, 5, 6, 10]
    pairs = sorted((ids[u], ids[v]) for u, v in zip(net.edge_u, net.edge_v, strict=True))
    assert pairs == [(1, 2), (2, 4), (2, 5), (2, 6), (4, 10)]
    r = net.report
    assert r["ways_read"] == 5  # highway ways only
    assert r["ways_dropped_not_walkable"] == {
        "highway closed to walking (motorway/cycleway/...)": 1
    }
    # the service way 7-8 is a separate component
    assert r["components_dropped"] == 1 and r["nodes_dropped"] == 2 and r["edges_dropped"] == 1
    assert r["node_ids"] == "osm" and r["format"] == "osm_xml"
    # geometry oriented u -> v and lengths are metric (about 92 m per 0.001 deg lon at 34.25 N)
    for e in range(net.n_edges):
        g = net.edge_geometry[e]
        assert shapely.Point(g.coords[0]).distance(shapely.Point(net.node_xy[net.edge_u[e]])) < 1e-6
        assert (
            shapely.Point(g.coords[-1]).distance(shapely.Point(net.node_xy[net.edge_v[e]])) < 1e-6
        )
        assert net.edge_length[e] == pytest.approx(g.length)
    assert net.edge_length[0] == pytest.approx(92.0, rel=0.01)  # 1 -> 2, 0.001 deg of longitude


def test_csr_is_symmetric_min_of_parallel(tiny_osm):
    net = load_network(tiny_osm, cache_dir=False)
    assert (net.csr != net.csr.T).nnz == 0
    assert net.csr.shape == (net.n_nodes, net.n_nodes)
    for u, v, w in zip(net.edge_u, net.edge_v, net.edge_length, strict=True):
        assert net.csr[u, v] == pytest.approx(w)


def test_west_oakland_matches_osmnx_graph():
    """Our XML reader vs osmnx's graph_from_xml: same shortest paths between shared nodes."""
    ox = pytest.importorskip("osmnx")
    path = need(OSM / "west-oakland.osm.bz2")
    ours = load_network(path, cache_dir=False)
    G = ox.graph_from_xml(path, simplify=True, retain_all=True)
    theirs = network_from_graph(G, crs=ours.crs)
    assert theirs.report["nodes"] > 10
    common = np.intersect1d(ours.node_ids, theirs.node_ids)
    assert len(common) >= 0.8 * theirs.n_nodes
    # node indices follow a spatial order, not the ids: look them up
    ia = np.array([np.flatnonzero(ours.node_ids == i)[0] for i in common])
    ib = np.array([np.flatnonzero(theirs.node_ids == i)[0] for i in common])
    Ga, Gb = to_networkx(ours), to_networkx(theirs)
    for k in range(0, len(common), 5):
        da = nx.single_source_dijkstra_path_length(Ga, int(ia[k]), weight="length")
        db = nx.single_source_dijkstra_path_length(Gb, int(ib[k]), weight="length")
        for a, b in zip(ia, ib, strict=True):
            assert da[int(a)] == pytest.approx(db[int(b)], abs=1e-6)


# --------------------------------------------------------------------------- PBF


def test_pbf_read_directly_and_topology_matches_vertex_graph():
    """GDAL-read ways joined at shared vertices: same distances as a graph of all vertices."""
    import pyogrio

    path = need(OSM / "fi-town-test.osm.pbf")
    net = load_network(path, cache_dir=False)
    r = net.report
    assert r["format"] == "osm_pbf" and r["node_ids"].startswith("synthetic")
    assert (net.node_ids < 0).all()
    assert net.crs.to_epsg() == 32635  # UTM 35N at 26.9 E
    assert r["ways_dropped_not_walkable"]["highway closed to walking (motorway/cycleway/...)"] > 0
    assert r["tags_missing"] == []  # foot/access/... come from GDAL's other_tags
    # Independent graph: every consecutive vertex pair of every walkable way.
    df = pyogrio.read_dataframe(path, layer="lines")
    df = df[df["highway"].notna()].reset_index(drop=True)
    tags = pd.DataFrame({"highway": df["highway"]})
    for key in ("foot", "access", "area", "service", "sidewalk"):
        tags[key] = df["other_tags"].str.extract(f'"{key}"=>"([^"]*)"', expand=False)
    keep, _, _ = walkable_ways(tags)
    tr = pyproj.Transformer.from_crs("EPSG:4326", net.crs, always_xy=True)
    G = nx.Graph()
    for geom in df.geometry[keep]:
        xy = np.column_stack(tr.transform(*np.asarray(geom.coords).T))
        keys = [tuple(np.round(p, 6)) for p in xy]
        for a, b, pa, pb in zip(keys[:-1], keys[1:], xy[:-1], xy[1:], strict=True):
            if a != b:
                w = float(np.hypot(*(pb - pa)))
                if not G.has_edge(a, b) or G[a][b]["length"] > w:
                    G.add_edge(a, b, length=w)
    big = max(nx.connected_components(G), key=len)
    node_key = [tuple(np.round(p, 6)) for p in net.node_xy]
    assert all(k in big for k in node_key)
    Gn = to_networkx(net)
    for i in range(0, net.n_nodes, 37):
        dn = nx.single_source_dijkstra_path_length(Gn, i, weight="length")
        dv = nx.single_source_dijkstra_path_length(G, node_key[i], weight="length")
        for j in range(net.n_nodes):
            assert dn[j] == pytest.approx(dv[node_key[j]], abs=1e-6)


# --------------------------------------------------------------------------- osmnx exports


def test_xian_shapefile_export():
    net = load_network(need(XIAN), cache_dir=False)
    r = net.report
    assert net.crs.to_epsg() == 4545
    assert r["edges_read"] == 4774 and r["nodes"] == 2140
    # two-way streets appear twice in the directed export and are merged
    assert r["duplicate_edges_merged"] == 1497 and r["edges"] == 4774 - 1497
    assert r["components_dropped"] == 0 and r["ways_dropped_not_walkable"] == {}
    assert "foot" in r["tags_missing"]  # a drive export: no foot tags, say so
    # the same network from the folder or its edges.shp
    again = load_network(XIAN / "edges.shp", cache_dir=False)
    assert np.array_equal(again.edge_length, net.edge_length)
    # projected lengths agree with osmnx's geodesic 'length' column (GK scale error < 0.1 %)
    import geopandas as gpd

    edges = gpd.read_file(XIAN / "edges.shp")
    key = lambda a, b: (np.minimum(a, b), np.maximum(a, b))  # noqa: E731
    theirs = pd.DataFrame(
        dict(zip("ab", key(edges["u"], edges["v"]), strict=True), w=edges["length"])
    )
    ids = net.node_ids
    ours = pd.DataFrame(
        dict(zip("ab", key(ids[net.edge_u], ids[net.edge_v]), strict=True), w=net.edge_length)
    )
    m = ours.groupby(["a", "b"]).w.min().to_frame("ours").join(theirs.groupby(["a", "b"]).w.min())
    assert len(m) == ours.groupby(["a", "b"]).ngroups and m["w"].notna().all()
    # osmnx's haversine on a sphere differs from the ellipsoid by up to ~0.25 % at 34 N
    long = m["w"] > 5
    assert np.allclose(m.loc[long, "ours"], m.loc[long, "w"], rtol=4e-3)
    # against ellipsoidal geodesic lengths the only difference is the GK scale (< 2e-4 here)
    geod = pyproj.Geod(ellps="GRS80")
    tr = pyproj.Transformer.from_crs(net.crs, "EPSG:4326", always_xy=True)
    for e in range(0, net.n_edges, 25):
        lon, lat = tr.transform(*np.asarray(net.edge_geometry[e].coords).T)
        assert net.edge_length[e] == pytest.approx(geod.line_length(lon, lat), rel=2e-4)


def osm_graph(tmp_path):
    ox = pytest.importorskip("osmnx")
    p = tmp_path / "tiny.osm"
    p.write_text(TINY_OSM_COMPLETE, encoding="utf-8")
    return ox, ox.graph_from_xml(p, simplify=False, retain_all=True)


def same(a, b):
    assert np.array_equal(a.node_ids, b.node_ids)
    assert np.array_equal(a.edge_u, b.edge_u) and np.array_equal(a.edge_v, b.edge_v)
    assert np.allclose(a.edge_length, b.edge_length, atol=1e-6)
    assert a.crs == b.crs


def test_graphml_and_geopackage_exports(tmp_path):
    ox, G = osm_graph(tmp_path)
    ref = network_from_graph(G)
    ox.save_graphml(G, tmp_path / "g.graphml")
    same(load_network(tmp_path / "g.graphml", cache_dir=False), ref)
    ox.save_graph_geopackage(G, tmp_path / "g.gpkg")
    same(load_network(tmp_path / "g.gpkg", cache_dir=False), ref)
    # a projected graph keeps its CRS
    P = ox.project_graph(G, to_crs="EPSG:32649")
    proj = network_from_graph(P)
    assert proj.crs.to_epsg() == 32649
    assert np.allclose(
        np.sort(proj.edge_length),
        np.sort(load_network(tmp_path / "g.gpkg", crs="EPSG:32649", cache_dir=False).edge_length),
        atol=1e-6,
    )


def test_network_from_frames_in_memory(tmp_path):
    ox, G = osm_graph(tmp_path)
    nodes, edges = ox.graph_to_gdfs(G)
    net = network_from_frames(nodes, edges, source="gdfs")
    same(net, network_from_graph(G))
    assert net.report["source"] == "gdfs" and net.report["format"] == "frames"
    # nodes in another CRS are brought to the edges'
    same(network_from_frames(nodes.to_crs(32649), edges), net)
    with pytest.raises(InputError, match="has no CRS"):
        network_from_frames(nodes.set_crs(None, allow_override=True), edges)


def test_network_from_graph_string_ids_and_missing_geometry():
    G = nx.Graph(crs="EPSG:32649")
    G.add_node("a", x=0.0, y=0.0)
    G.add_node("b", x=30.0, y=40.0)
    G.add_node("c", x=30.0, y=0.0)
    G.add_edge("a", "b")
    G.add_edge("c", "b", geometry="LINESTRING (30 40, 30 0)")  # WKT, reversed for this edge's u->v
    net = network_from_graph(G)
    assert net.report["node_ids"].startswith("synthetic")
    assert sorted(net.edge_length.tolist()) == [40.0, 50.0]
    for e in range(net.n_edges):
        assert shapely.get_coordinates(net.edge_geometry[e])[0] == pytest.approx(
            net.node_xy[net.edge_u[e]]
        )


def test_to_networkx_round_trip(tiny_osm):
    net = load_network(tiny_osm, cache_dir=False)
    G = to_networkx(net)
    assert G.number_of_nodes() == net.n_nodes
    A = nx.to_scipy_sparse_array(G, nodelist=range(net.n_nodes), weight="length")
    assert abs(sp.csr_matrix(A) - net.csr).max() < 1e-12


# --------------------------------------------------------------------------- CRS, errors


def _lonlat_square(lon_min, lat_min, lon_max, lat_max):
    """A four-node, four-edge ring at the corners of a lon/lat box, as a network."""
    xy = np.array([[lon_min, lat_min], [lon_max, lat_min], [lon_max, lat_max], [lon_min, lat_max]])
    return network_from_edges(xy, [0, 1, 2, 3], [1, 2, 3, 0], crs="EPSG:4326")


@pytest.mark.parametrize(
    ("bounds", "epsg"),
    [
        ((108.92, 34.2, 109.0, 34.28), 4545),  # central Xi'an
        # reaches past 109.5 E but its centre is in the CM 108E zone: the rule a
        # scenario run applies (the network-only rule it replaced gave UTM 49N here)
        ((109.2, 34.2, 109.8, 34.5), 4545),
        ((107.6, 33.7, 109.8, 34.8), 4545),  # the whole municipality (was UTM 49N)
        ((26.9, 60.5, 27.0, 60.6), 32635),
        ((-122.31, 37.8, -122.29, 37.82), 32610),
        ((151.1, -33.95, 151.3, -33.8), 32756),  # southern hemisphere
    ],
)
def test_network_without_crs_takes_the_study_area_rule(bounds, epsg):
    net = _lonlat_square(*bounds)
    assert net.crs.to_epsg() == epsg
    assert net.crs.equals(choose_metric_crs(*bounds))
    # and the lengths are metres in that CRS: the southern edge against the geodesic
    geod = pyproj.Geod(ellps="WGS84").inv(bounds[0], bounds[1], bounds[2], bounds[1])[2]
    south = net.edge_length[np.argmin(net.node_xy[net.edge_u, 1] + net.node_xy[net.edge_v, 1])]
    assert abs(south / geod - 1) < 3e-3


def test_coordinates_that_are_not_degrees_are_refused():
    # metres declared as lon/lat (a shapefile with the wrong .prj)
    xy = np.array([[500_000.0, 3_790_000.0], [500_100.0, 3_790_000.0]])
    with pytest.raises(NetworkError, match="not in degrees.*pass crs= explicitly"):
        network_from_edges(xy, [0], [1], crs="EPSG:4326")


# A street grid across 109.5 E (two 3-degree zones), 109.25-109.55 E: the scenario's
# districts and the network share the extent's centre side of 109.5 E.
EDGE_OSM = "\n".join(
    ["<?xml version='1.0' encoding='UTF-8'?>", "<osm version='0.6'>"]
    + [f"<node id='{10 * i + j + 1}' lat='{34.30 + 0.01 * j:.2f}' lon='{109.25 + 0.1 * i:.2f}'/>"
       for i in range(4) for j in range(4)]
    + [f"<way id='{100 + i}'>" + "".join(f"<nd ref='{10 * i + j + 1}'/>" for j in range(4))
       + "<tag k='highway' v='residential'/></way>" for i in range(4)]
    + [f"<way id='{200 + j}'>" + "".join(f"<nd ref='{10 * i + j + 1}'/>" for i in range(4))
       + "<tag k='highway' v='residential'/></way>" for j in range(4)]
    + ["</osm>"]
)


def _geojson(path, features):
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom)}
        for props, geom in features]}
    path.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    return path


def test_cli_network_and_scenario_run_choose_the_same_crs(tmp_path, monkeypatch):
    monkeypatch.setenv("CARECIRCLE_CACHE_DIR", str(tmp_path / "cache"))
    osm = tmp_path / "edge.osm"
    osm.write_text(EDGE_OSM, encoding="utf-8")
    _geojson(tmp_path / "districts.geojson",
             [({"code": "610122", "name": "蓝田县"}, shapely.box(109.24, 34.29, 109.56, 34.34))])
    people = {"district": "610122", "urban_rural": "urban", "population": 1000,
              "pop_60plus": 200, "pop_0_3": 30}
    _geojson(tmp_path / "communities.geojson",
             [({"id": "C1", "name": "甲", **people}, shapely.Point(109.3501, 34.3101)),
              ({"id": "C2", "name": "乙", **people}, shapely.Point(109.4499, 34.3199))])

    # `carecircle isochrones` loads the network with no CRS and writes a GeoPackage in
    # the network's CRS
    out = tmp_path / "iso.gpkg"
    code = main(["isochrones", "--network", str(osm), "--sites",
                 str(tmp_path / "communities.geojson"), "-o", str(out)])
    assert code == 0
    iso = gpd.read_file(out, layer="isochrones")
    assert list(iso["id"]) == ["C1", "C2"] and iso["snapped"].all()
    cli_crs = pyproj.CRS.from_user_input(iso.crs)
    # the library call under `carecircle reach` too
    assert load_network(osm, cache_dir=False).crs.equals(cli_crs)

    scen = scenario_from_dict({"name": "edge", "inputs": {
        "network": "edge.osm", "districts": "districts.geojson",
        "communities": "communities.geojson"}}, tmp_path)
    ctx = prepare(scen, quiet=True)
    assert ctx.inputs.crs.equals(cli_crs) and ctx.net.crs.equals(cli_crs)
    assert cli_crs.to_epsg() == 4545  # centre 109.40 E: CGCS2000 GK CM 108E


def test_errors(tmp_path, tiny_osm):
    with pytest.raises(InputError, match="not found"):
        load_network(tmp_path / "missing.osm.pbf", cache_dir=False)
    (tmp_path / "roads.txt").write_text("x")
    with pytest.raises(InputError, match="unknown network format"):
        load_network(tmp_path / "roads.txt", cache_dir=False)
    d = tmp_path / "shp"
    d.mkdir()
    (d / "edges.shp").write_bytes(b"")
    with pytest.raises(InputError, match="nodes.shp"):
        load_network(d, cache_dir=False)
    with pytest.raises(NetworkError, match="projected"):
        load_network(tiny_osm, crs="EPSG:4326", cache_dir=False)
    broken = tmp_path / "broken.osm"
    broken.write_text("<osm><node id='1' lat='1' lon='1'>", encoding="utf-8")
    with pytest.raises(InputError, match="cannot read OpenStreetMap XML"):
        load_network(broken, cache_dir=False)
    empty = tmp_path / "empty.osm"
    empty.write_text("<osm><node id='1' lat='1' lon='1'/></osm>", encoding="utf-8")
    with pytest.raises(NetworkError, match="no walkable"):
        load_network(empty, cache_dir=False)


def test_online_query_arguments_checked_without_network(monkeypatch):
    with pytest.raises(InputError, match="exactly one key"):
        load_network({"city": "Xi'an"}, cache_dir=False)
    with pytest.raises(InputError, match="bbox"):
        load_network({"bbox": [108.9, 34.2]}, cache_dir=False)
    with pytest.raises(InputError, match="bbox"):
        load_network({"bbox": [109.0, 34.2, 108.9, 34.3]}, cache_dir=False)
    with pytest.raises(InputError, match="polygon"):
        load_network({"polygon": "not a polygon"}, cache_dir=False)


def test_online_query_is_cached(monkeypatch, tmp_path):
    ox, G = osm_graph(tmp_path)
    calls = []

    def fake(place, **kw):
        calls.append((place, kw))
        return G

    monkeypatch.setattr(ox, "graph_from_place", fake)
    a = load_network({"place": "碑林区, 西安市"}, cache_dir=tmp_path / "c")
    b = load_network({"place": "碑林区, 西安市"}, cache_dir=tmp_path / "c")
    assert len(calls) == 1 and calls[0][1]["network_type"] == "walk"
    assert a.report["cache"] == "miss" and b.report["cache"] == "hit"
    same(a, b)


# --------------------------------------------------------------------------- cache


def test_cache_second_load_does_not_rebuild(monkeypatch, tmp_path, tiny_osm):
    builds = []
    real = _build

    def counting(*args, **kw):
        builds.append(args[0])
        return real(*args, **kw)

    monkeypatch.setattr("carecircle.network.sources._build", counting)
    cache = tmp_path / "cache"
    a = load_network(tiny_osm, cache_dir=cache)
    b = load_network(tiny_osm, cache_dir=cache)
    assert len(builds) == 1 and a.report["cache"] == "miss" and b.report["cache"] == "hit"
    same(a, b)
    assert all(
        g1.equals_exact(g2, 0) for g1, g2 in zip(a.edge_geometry, b.edge_geometry, strict=True)
    )
    assert (a.csr != b.csr).nnz == 0 and b.report["duplicate_edges_merged"] == a.report[
        "duplicate_edges_merged"
    ]
    assert len(list(cache.glob("network-*.npz"))) == 1
    # a parameter that shapes the network is part of the key
    load_network(tiny_osm, cache_dir=cache, crs="EPSG:32649")
    load_network(tiny_osm, cache_dir=cache, filter_walkable=False)
    assert len(builds) == 3
    # so is the content: same name, one changed byte
    tiny_osm.write_text(TINY_OSM.replace('lat="34.2490"', 'lat="34.2491"'), encoding="utf-8")
    c = load_network(tiny_osm, cache_dir=cache)
    assert len(builds) == 4 and c.report["cache"] == "miss"
    # a copied file with the same bytes hits the cache
    copy = tmp_path / "copy.osm"
    shutil.copy(tiny_osm, copy)
    load_network(copy, cache_dir=cache)
    assert len(builds) == 4
    # cache_dir=False never reads or writes the cache
    load_network(tiny_osm, cache_dir=False)
    assert len(builds) == 5


def test_corrupt_cache_file_is_a_miss(tmp_path, tiny_osm):
    cache = tmp_path / "cache"
    load_network(tiny_osm, cache_dir=cache)
    (f,) = cache.glob("network-*.npz")
    f.write_bytes(b"not a zip")
    again = load_network(tiny_osm, cache_dir=cache)
    assert (
        again.report["cache"] == "miss"
        and again.n_edges == 5
        and sorted(again.node_ids.tolist()) == [1, 2, 4, 5, 6, 10]
    )


def test_xian_filter_off_keeps_everything():
    a = load_network(need(XIAN), cache_dir=False, filter_walkable=False)
    assert a.report["edges"] == 3277 and a.report["ways_dropped_not_walkable"] == {}
