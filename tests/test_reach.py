"""Tests for carecircle.reach (and the snapping it relies on).

Hand-computed small graphs for the edge cases, and an independent cross-check:
networkx's Dijkstra on the same network with every snap point inserted as a
node that splits its edge and every connector as an edge.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from carecircle.errors import InputError
from carecircle.inputs.points import read_points
from carecircle.network.reach import (
    ReachPairs,
    nearest_site,
    reach_pairs,
    reach_table,
    walk_limit_m,
)
from carecircle.network.snapping import snap_points, unsnapped_report
from carecircle.network.sources import load_network
from carecircle.network.walknet import network_from_graph, to_networkx

SHARED = Path(__file__).parents[2] / "shared" / "data"
XIAN = SHARED / "xian-central" / "roads-osm-2021"
OSM = SHARED / "osm"
CRS = "EPSG:32649"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not found: {path}")
    return path


def graph(edges, coords, crs=CRS):
    """A networkx MultiGraph in a metric CRS from straight edges."""
    G = nx.MultiGraph(crs=crs)
    for n, (x, y) in coords.items():
        G.add_node(n, x=float(x), y=float(y))
    for u, v in edges:
        G.add_edge(u, v)
    return G


def points(xy, prefix="p", crs=CRS):
    return gpd.GeoDataFrame(
        {"id": [f"{prefix}{i}" for i in range(len(xy))]},
        geometry=[shapely.Point(x, y) for x, y in xy],
        crs=crs,
    )


def subdivided(net, sets):
    """networkx graph of ``net`` with the snapped points of ``sets`` inserted.

    Each snapped point becomes a node ('pt', set, i) joined by its connector to
    ('snap', set, i), which splits its edge at the snap offset.  A MultiGraph,
    so parallel edges and self-loops stay distinct.
    """
    G = nx.MultiGraph(to_networkx(net))
    rows = []
    for k, s in enumerate(sets):
        for i in np.flatnonzero(s.ok):
            rows.append((int(s.edge[i]), float(s.offset[i]), k, int(i), float(s.connector[i])))
    by_edge: dict[int, list] = {}
    for r in rows:
        by_edge.setdefault(r[0], []).append(r)
    for e, items in by_edge.items():
        items.sort(key=lambda r: r[1])
        u, v, length = int(net.edge_u[e]), int(net.edge_v[e]), float(net.edge_length[e])
        prev, prev_t = u, 0.0
        for _, t, k, i, c in items:
            node = ("snap", k, i)
            G.add_edge(prev, node, length=t - prev_t)
            G.add_edge(node, ("pt", k, i), length=c)
            prev, prev_t = node, t
        G.add_edge(prev, v, length=length - prev_t)
    return G


def nx_pairs(net, origins, sites, limit):
    G = subdivided(net, [origins, sites])
    out = {}
    for i in np.flatnonzero(origins.ok):
        d = nx.single_source_dijkstra_path_length(
            G, ("pt", 0, int(i)), cutoff=limit, weight="length"
        )
        for key, dist in d.items():
            if isinstance(key, tuple) and key[0] == "pt" and key[1] == 1:
                out[(int(i), key[2])] = dist
    return out


def assert_same(pairs: ReachPairs, ref: dict):
    mine = {
        (int(o), int(s)): float(d)
        for o, s, d in zip(pairs.origin, pairs.site, pairs.metres, strict=True)
    }
    assert set(mine) == set(ref)
    for k, d in ref.items():
        assert mine[k] == pytest.approx(d, abs=1e-6), k


# --------------------------------------------------------------------------- hand-built cases


@pytest.fixture(scope="module")
def line():
    """A - B - C - D on the x axis, 100 m apart, plus E 1000 m north of A."""
    coords = {1: (0, 0), 2: (100, 0), 3: (200, 0), 4: (300, 0), 5: (0, 1000)}
    return network_from_graph(graph([(1, 2), (2, 3), (3, 4), (1, 5)], coords), crs=CRS)


def edge_between(net, a, b):
    ia, ib = (int(np.flatnonzero(net.node_ids == x)[0]) for x in (a, b))
    hit = np.flatnonzero(
        ((net.edge_u == ia) & (net.edge_v == ib)) | ((net.edge_u == ib) & (net.edge_v == ia))
    )
    return int(hit[0])


def test_point_exactly_at_limit_is_in(line):
    # origin 10 m south of A; site 10 m north of D: 10 + 300 + 10 = 320 exactly.
    o = snap_points(line, points([(0, -10)], "o"))
    s = snap_points(line, points([(300, 10)], "s"))
    at = reach_pairs(line, o, s, 320.0)
    assert len(at) == 1 and at.metres[0] == 320.0
    below = reach_pairs(line, o, s, np.nextafter(320.0, 0))
    assert len(below) == 0


def test_point_beyond_snap_distance_is_reported_and_reaches_nothing(line):
    s = snap_points(line, points([(150, 0), (150, -400)], "s"), max_snap_m=300, source="sites.csv")
    assert s.ok.tolist() == [True, False]
    assert s.edge[1] == -1 and math.isnan(s.offset[1])
    assert s.connector[1] == pytest.approx(
        400.0
    )  # the distance to the nearest edge, for the report
    rep = unsnapped_report(s, "sites.csv")
    assert rep.to_dict("records") == [
        {"file": "sites.csv", "id": "s1", "distance_m": pytest.approx(400.0), "max_snap_m": 300.0}
    ]
    o = snap_points(line, points([(150, 5)], "o"))
    p = reach_pairs(line, o, s, 1e6)
    assert p.site.tolist() == [0]
    idx, d = nearest_site(line, o, s.subset([1]))
    assert idx.tolist() == [-1] and np.isinf(d).all()


def test_two_points_on_one_edge_walk_directly(line):
    # Both on A-E (1000 m long), 40 m apart along it: direct 40 m, not via A or E.
    o = snap_points(line, points([(3, 400)], "o"))
    s = snap_points(line, points([(-4, 440)], "s"))
    assert o.edge[0] == s.edge[0] == edge_between(line, 1, 5)
    p = reach_pairs(line, o, s, 100.0)
    assert p.metres.tolist() == [pytest.approx(3 + 40 + 4)]
    idx, d = nearest_site(line, o, s)
    assert idx.tolist() == [0] and d[0] == pytest.approx(47.0)


def test_snaps_to_middle_of_edge_not_nearest_node(line):
    # 10 m east of the middle of A-E: nearest node is 500 m away, the edge 10 m.
    s = snap_points(line, points([(10, 500)], "s"))
    e = edge_between(line, 1, 5)
    assert s.edge[0] == e
    assert s.connector[0] == pytest.approx(10.0)
    assert s.offset[0] == pytest.approx(500.0)
    assert s.snap_xy[0] == pytest.approx([0.0, 500.0])
    # From the middle of A-E to D: 10 + 500 (to A) + 300 = 810.
    o = snap_points(line, points([(300, 0)], "o"))
    p = reach_pairs(line, o, s, 810.0)
    assert p.metres.tolist() == [pytest.approx(810.0)]


def test_zero_distance_pair_kept_in_sparse_matrix(line):
    o = snap_points(line, points([(100, 0), (0, 1000)], "o"))
    s = snap_points(line, points([(100, 0)], "s"))
    p = reach_pairs(line, o, s, 50.0)
    assert p.metres.tolist() == [0.0]
    m = p.to_sparse()
    assert m.shape == (2, 1) and m.nnz == 1 and m[0, 0] == 1 and m[1, 0] == 0


def test_to_frame_and_minutes(line):
    o = snap_points(line, points([(0, 0), (300, 0)], "o"))
    s = snap_points(line, points([(100, 0), (200, 0)], "s"))
    p = reach_pairs(line, o, s, 150.0)
    df = p.to_frame(o.ids, s.ids, speed_mps=1.0)
    assert list(df.columns) == ["origin_id", "site_id", "metres", "minutes"]
    assert df.values.tolist() == [
        ["o0", "s0", pytest.approx(100.0), pytest.approx(100 / 60)],
        ["o1", "s1", pytest.approx(100.0), pytest.approx(100 / 60)],
    ]
    assert list(p.to_frame(o.ids, s.ids).columns) == ["origin_id", "site_id", "metres"]
    with pytest.raises(ValueError):
        p.to_frame(o.ids[:1], s.ids)


def test_parallel_edges_and_self_loop():
    # Two parallel A-B streets (straight 100 m, and a 300 m detour) and a loop at B.
    G = nx.MultiGraph(crs=CRS)
    G.add_node(1, x=0.0, y=0.0)
    G.add_node(2, x=100.0, y=0.0)
    G.add_edge(1, 2)
    G.add_edge(1, 2, geometry=shapely.LineString([(0, 0), (0, 100), (100, 100), (100, 0)]))
    G.add_edge(2, 2, geometry=shapely.LineString([(100, 0), (200, -50), (200, 50), (100, 0)]))
    net = network_from_graph(G, crs=CRS)
    assert net.n_edges == 3
    assert net.csr[0, 1] == pytest.approx(100.0) and net.csr[1, 1] == 0
    o = snap_points(net, points([(50, 110)], "o"))  # on the detour, 150 m along it
    s = snap_points(net, points([(205, 0)], "s"))  # on the loop, at its far end
    ref = nx_pairs(net, o, s, 1e4)
    p = reach_pairs(net, o, s, 1e4)
    assert_same(p, ref)
    # detour to B: 10 + 150, then half the loop: hypot(100, 50) + 50
    assert p.metres[0] == pytest.approx(10 + 150 + math.hypot(100, 50) + 50 + 5)


def test_walk_limit_m():
    assert walk_limit_m(15, 1.0) == 900.0
    assert walk_limit_m(15, 1.2) == pytest.approx(1080.0)
    with pytest.raises(ValueError):
        walk_limit_m(15, 0)


# --------------------------------------------------------------------------- cross-checks


def random_points(net, k, rng, prefix, margin=400.0):
    lo = net.node_xy.min(axis=0) - margin
    hi = net.node_xy.max(axis=0) + margin
    xy = rng.uniform(lo, hi, size=(k, 2))
    return points(xy.tolist(), prefix, crs=net.crs)


@pytest.fixture(scope="module")
def xian():
    return load_network(need(XIAN), cache_dir=False)


@pytest.fixture(params=["buckets", "wide-buckets", "heap"])
def queue(request, monkeypatch):
    """Run the search with each priority queue.

    "buckets" is the default; "wide-buckets" makes every bucket 500 m wide, so
    most nodes are improved and expanded again inside their bucket (the
    label-correcting part); "heap" leaves no room for buckets.
    """
    from carecircle.network import reach as R

    if request.param == "wide-buckets":
        monkeypatch.setattr(R, "_bucket_inv", lambda net, limit: 1 / 500.0)
    elif request.param == "heap":
        monkeypatch.setattr(R, "_MAX_BUCKETS", 0)
    return request.param


def test_bucket_queue_is_the_default_for_walking_limits(xian):
    from carecircle.network import reach as R

    inv = R._bucket_inv(xian, 900.0)
    assert 0 < inv <= 2.0  # buckets at least 0.5 m wide
    assert 1 < 900.0 * inv < R._MAX_BUCKETS
    assert R._bucket_inv(xian, np.inf) == 0.0  # no limit: the heap


@pytest.mark.parametrize("n_o,n_s", [(300, 80), (60, 250)])  # search from sites, then from origins
def test_xian_matches_networkx(xian, n_o, n_s, queue):
    rng = np.random.default_rng(n_o)
    o = snap_points(xian, random_points(xian, n_o, rng, "o"))
    s = snap_points(xian, random_points(xian, n_s, rng, "s"))
    assert 0 < o.ok.sum() < n_o  # some random points fall outside the roads' reach
    limit = 1200.0
    p = reach_pairs(xian, o, s, limit)
    assert len(p) > 100
    assert_same(p, nx_pairs(xian, o, s, limit))


def test_xian_threads_give_identical_results(xian):
    rng = np.random.default_rng(7)
    o = snap_points(xian, random_points(xian, 400, rng, "o"))
    s = snap_points(xian, random_points(xian, 300, rng, "s"))
    a = reach_pairs(xian, o, s, 900.0, threads=1)
    b = reach_pairs(xian, o, s, 900.0, threads=2)
    assert np.array_equal(a.origin, b.origin) and np.array_equal(a.site, b.site)
    assert np.array_equal(a.metres, b.metres)


def test_nearest_site_matches_minimum_of_networkx(xian):
    rng = np.random.default_rng(3)
    o = snap_points(xian, random_points(xian, 150, rng, "o"))
    s = snap_points(xian, random_points(xian, 40, rng, "s"))
    ref = nx_pairs(xian, o, s, 2000.0)
    idx, d = nearest_site(xian, o, s, 2000.0)
    for i in range(len(o)):
        cands = {k[1]: v for k, v in ref.items() if k[0] == i}
        if not cands:
            assert idx[i] == -1 and np.isinf(d[i])
        else:
            best = min(cands.values())
            assert d[i] == pytest.approx(best, abs=1e-6)
            assert cands[int(idx[i])] == pytest.approx(best, abs=1e-6)
    # Unbounded: every snapped origin gets a site (one connected component).
    idx_all, d_all = nearest_site(xian, o, s)
    assert (idx_all[o.ok] >= 0).all() and np.isfinite(d_all[o.ok]).all()
    assert (idx_all[~o.ok] == -1).all()


@pytest.mark.parametrize("name", ["west-oakland.osm.bz2", "fi-town-test.osm.pbf"])
def test_osm_files_match_networkx(name, queue):
    net = load_network(need(OSM / name), cache_dir=False)
    rng = np.random.default_rng(11)
    o = snap_points(net, random_points(net, 120, rng, "o", margin=100))
    s = snap_points(net, random_points(net, 60, rng, "s", margin=100))
    limit = 700.0
    p = reach_pairs(net, o, s, limit)
    assert len(p) > 20
    assert_same(p, nx_pairs(net, o, s, limit))


# --------------------------------------------------------------------------- tables


def test_reach_table_from_csv(tmp_path, xian):
    rng = np.random.default_rng(5)
    o = random_points(xian, 40, rng, "c").to_crs("EPSG:4326")
    s = random_points(xian, 15, rng, "f").to_crs("EPSG:4326")
    o_csv = tmp_path / "communities.csv"
    pd.DataFrame({"ID": o["id"], "经度": o.geometry.x, "纬度": o.geometry.y}).to_csv(
        o_csv, index=False
    )
    s_gpkg = tmp_path / "sites.gpkg"
    s.to_file(s_gpkg)
    table, unsnapped = reach_table(xian, o_csv, s_gpkg, minutes=15, speed_mps=1.2)
    assert list(table.columns) == ["origin_id", "site_id", "metres", "minutes"]
    assert (table["metres"] <= 1080.0).all() and len(table) > 0
    assert np.allclose(table["minutes"], table["metres"] / 72.0)
    # the same answer through the library pieces
    os_ = snap_points(xian, read_points(o_csv))
    ss = snap_points(xian, read_points(s_gpkg))
    ref = reach_pairs(xian, os_, ss, 1080.0).to_frame(os_.ids, ss.ids)
    assert (
        table[["origin_id", "site_id"]].values.tolist()
        == ref[["origin_id", "site_id"]].values.tolist()
    )
    assert set(unsnapped["file"]) <= {str(o_csv), str(s_gpkg)}
    assert sorted(unsnapped["id"]) == sorted(list(os_.ids[~os_.ok]) + list(ss.ids[~ss.ok]))
    assert (unsnapped["distance_m"] > 300).all()


def test_read_points_errors(tmp_path):
    bad = tmp_path / "a.csv"
    bad.write_text("name,lon,lat\nx,108.9,34.2\n", encoding="utf-8")
    with pytest.raises(InputError, match="id"):
        read_points(bad)
    bad.write_text("id,x_coord,y_coord\n1,108.9,34.2\n", encoding="utf-8")
    with pytest.raises(InputError, match="coordinate"):
        read_points(bad)
    bad.write_text("id,lon,lat\n1,108.9,abc\n", encoding="utf-8")
    with pytest.raises(InputError, match="row 1"):
        read_points(bad)
    bad.write_text("id,lon,lat\n1,108.9,34.2\n1,108.9,34.3\n", encoding="utf-8")
    with pytest.raises(InputError, match="duplicate"):
        read_points(bad)
    with pytest.raises(InputError, match="not found"):
        read_points(tmp_path / "missing.gpkg")


def test_snap_requires_crs(line):
    g = points([(0, 0)]).set_crs(None, allow_override=True)
    with pytest.raises(InputError, match="CRS"):
        snap_points(line, g)


def test_polygons_snap_from_an_inside_point(line):
    ring = shapely.Polygon([(20, 20), (80, 20), (80, 0.5), (90, 0.5), (90, 60), (20, 60)])
    g = gpd.GeoDataFrame({"id": ["c1"]}, geometry=[ring], crs=CRS)
    s = snap_points(line, g)
    assert s.ok[0] and shapely.Polygon(ring).contains(shapely.Point(s.point_xy[0]))
