"""Tests for carecircle.network.isochrones: reached street segments, cut at the limit, buffered."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from carecircle.network.isochrones import isochrone_segments, isochrones, isochrones_for
from carecircle.network.snapping import snap_points
from carecircle.network.sources import load_network
from carecircle.network.walknet import network_from_graph, to_networkx

SHARED = Path(__file__).parents[2] / "shared" / "data"
XIAN = SHARED / "xian-central" / "roads-osm-2021"
CRS = "EPSG:32649"


def points(xy, crs=CRS):
    return gpd.GeoDataFrame(
        {"id": [f"s{i}" for i in range(len(xy))]},
        geometry=[shapely.Point(p) for p in xy],
        crs=crs,
    )


@pytest.fixture(scope="module")
def tee():
    """A(0,0) - B(100,0) - C(200,0), and B - D(100,100)."""
    G = nx.Graph(crs=CRS)
    for n, (x, y) in {"A": (0, 0), "B": (100, 0), "C": (200, 0), "D": (100, 100)}.items():
        G.add_node(n, x=float(x), y=float(y))
    G.add_edges_from([("A", "B"), ("B", "C"), ("B", "D")])
    return network_from_graph(G)


def total_length(pieces):
    return sum(g.length for g in pieces)


def test_partial_edges_cut_at_the_limit(tee):
    # Site on A-B, 50 m from A, connector 0: all of A-B, then 70 m up B-C and B-D.
    s = snap_points(tee, points([(50, 0)]))
    (pieces,) = isochrone_segments(tee, s, 120.0)
    assert total_length(pieces) == pytest.approx(100 + 70 + 70)
    ends = {tuple(np.round(c, 6)) for g in pieces for c in (g.coords[0], g.coords[-1])}
    assert (170.0, 0.0) in ends and (100.0, 70.0) in ends


def test_connector_counts_and_is_drawn(tee):
    # Site 20 m north of the middle of B-C: 20 m connector, B and C at 70 m.
    s = snap_points(tee, points([(150, 20)]))
    (pieces,) = isochrone_segments(tee, s, 120.0)
    assert total_length(pieces) == pytest.approx(20 + 100 + 50 + 50)
    assert any(g.equals(shapely.LineString([(150, 20), (150, 0)])) for g in pieces)


def test_polygon_is_buffered_street_space_not_hull(tee):
    s = snap_points(tee, points([(50, 0)]))
    iso = isochrones(tee, s, 120.0, buffer_m=10.0)
    assert list(iso.columns) == ["id", "limit_m", "buffer_m", "snapped", "geometry"]
    assert iso.crs == tee.crs and iso["id"].tolist() == ["s0"]
    poly = iso.geometry.iloc[0]
    assert poly.contains(shapely.Point(100, 79))  # 9 m beyond the cut on B-D
    assert not poly.contains(shapely.Point(100, 85))  # 15 m beyond it
    assert not poly.contains(shapely.Point(60, 30))  # inside the hull of reached points
    hull = shapely.MultiPoint([(0, 0), (170, 0), (100, 70)]).convex_hull
    assert hull.contains(shapely.Point(60, 30))
    # area of 240 m of street, 20 m wide, with round caps and joins (polygonal circles)
    assert poly.area == pytest.approx(240 * 20 + np.pi * 100, rel=0.02)


def test_unsnapped_and_too_far_sites_give_empty_polygons(tee):
    s = snap_points(tee, points([(50, 500), (50, 30)]), max_snap_m=300)
    iso = isochrones(tee, s, 20.0)
    assert iso["snapped"].tolist() == [False, True]
    assert iso.geometry.iloc[0].is_empty  # not on the network
    assert iso.geometry.iloc[1].is_empty  # 30 m connector > 20 m limit
    with pytest.raises(ValueError):
        isochrones(tee, s, 20.0, buffer_m=0)


def test_xian_reached_length_matches_networkx():
    if not XIAN.exists():
        pytest.skip(f"shared data not found: {XIAN}")
    net = load_network(XIAN, cache_dir=False)
    rng = np.random.default_rng(2)
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    s = snap_points(net, points(rng.uniform(lo, hi, size=(12, 2)).tolist(), crs=net.crs))
    limit = 900.0
    segs = isochrone_segments(net, s, limit)
    G = to_networkx(net)
    for i in np.flatnonzero(s.ok):
        e, t, c = int(s.edge[i]), float(s.offset[i]), float(s.connector[i])
        u, v, length = int(net.edge_u[e]), int(net.edge_v[e]), float(net.edge_length[e])
        H = nx.MultiGraph(G)
        H.add_edge(u, "snap", length=t)
        H.add_edge("snap", v, length=length - t)
        H.add_edge("snap", "site", length=c)
        d = nx.single_source_dijkstra_path_length(H, "site", weight="length")
        expect = c
        for k in range(net.n_edges):
            a, b, lk = int(net.edge_u[k]), int(net.edge_v[k]), float(net.edge_length[k])
            ra, rb = limit - d.get(a, np.inf), limit - d.get(b, np.inf)
            spans = [(0.0, min(ra, lk))] if ra >= 0 else []
            spans += [(max(lk - rb, 0.0), lk)] if rb >= 0 else []
            if k == e:
                spans.append((max(t - (limit - c), 0.0), min(t + (limit - c), lk)))
            cover = shapely.union_all(
                [shapely.LineString([(x0, 0), (x1, 0)]) for x0, x1 in spans if x1 > x0]
            )
            expect += 0.0 if cover is None or cover.is_empty else cover.length
        assert total_length(segs[i]) == pytest.approx(expect, abs=1e-6)
        # every reached node is inside the polygon
    iso = isochrones(net, s, limit, buffer_m=20.0)
    for i in np.flatnonzero(s.ok):
        poly = iso.geometry.iloc[i]
        assert poly.contains(shapely.Point(s.snap_xy[i]))
        assert (
            poly.area
            < shapely.convex_hull(
                shapely.multipoints(np.vstack([np.asarray(g.coords) for g in segs[i]]))
            )
            .buffer(20.0)
            .area
        )


def test_isochrones_for_file(tmp_path):
    if not XIAN.exists():
        pytest.skip(f"shared data not found: {XIAN}")
    pts = gpd.GeoDataFrame(
        {"编号": ["a", "b"]},
        geometry=[shapely.Point(108.9470, 34.2590), shapely.Point(110.5, 34.2)],
        crs="EPSG:4326",
    )
    path = tmp_path / "sites.geojson"
    pts.to_file(path)
    iso = isochrones_for(
        XIAN, path, minutes=10, speed_mps=1.0, buffer_m=15, cache_dir=tmp_path / "c"
    )
    assert iso["id"].tolist() == ["a", "b"]
    assert iso["limit_m"].tolist() == [600.0, 600.0] and iso["minutes"].tolist() == [10.0, 10.0]
    assert iso["snapped"].tolist() == [True, False]
    assert not iso.geometry.iloc[0].is_empty and iso.geometry.iloc[1].is_empty
    assert iso.crs.to_epsg() == 4545


# ---------------------------------------------------------------- pieces computed for all sites at once


def test_cut_pieces_equal_shapely_substring(xian_roads):
    """The vectorised cut of curved OSM edges gives shapely.ops.substring's lines."""
    from shapely.ops import substring

    from carecircle.network.isochrones import _substrings

    net = load_network(xian_roads, cache_dir=False)
    rng = np.random.default_rng(5)
    edge = rng.choice(np.flatnonzero(shapely.get_num_coordinates(net.edge_geometry) > 3), 200)
    length = net.edge_length[edge]
    a = rng.uniform(0, 0.6, 200) * length
    b = np.minimum(a + rng.uniform(0.01, 0.8, 200) * length, length)
    a[:20], b[:20] = 0.0, length[:20]  # whole edges come back as the network's objects
    lines, whole = _substrings(net, edge, a, b)
    assert whole[:20].all() and not whole[20:].any()
    assert all(lines[i] is net.edge_geometry[edge[i]] for i in range(20))
    for i in range(20, 200):
        expect = substring(net.edge_geometry[edge[i]], a[i], b[i])
        assert lines[i].length == pytest.approx(b[i] - a[i], abs=1e-6)
        assert shapely.equals_exact(lines[i], expect, tolerance=1e-6), i


def test_polygons_equal_the_buffered_pieces(tee):
    """Street polygons are the per-site union of buffered pieces (the old one-buffer result)."""
    s = snap_points(tee, points([(50, 0), (150, 20), (100, 60)]))
    segs = isochrone_segments(tee, s, 120.0)
    iso = isochrones(tee, s, 120.0, buffer_m=10.0)
    for i, pieces in enumerate(segs):
        old = shapely.buffer(shapely.multilinestrings(pieces), 10.0)
        assert iso.geometry.iloc[i].symmetric_difference(old).area < 1e-6 * old.area


def test_hull_method_covers_the_streets_and_is_light(xian_roads):
    net = load_network(xian_roads, cache_dir=False)
    rng = np.random.default_rng(11)
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    s = snap_points(net, points(rng.uniform(lo + 0.25 * (hi - lo), hi - 0.25 * (hi - lo),
                                            size=(25, 2)).tolist(), crs=net.crs))
    streets = isochrones(net, s, 900.0, buffer_m=25.0)
    hull = isochrones(net, s, 900.0, buffer_m=25.0, method="hull")
    assert list(hull.columns) == list(streets.columns)
    for i in range(len(s)):
        st, hu = streets.geometry.iloc[i], hull.geometry.iloc[i]
        if not s.ok[i]:
            assert hu.is_empty and st.is_empty
            continue
        assert hu.contains(shapely.Point(s.snap_xy[i]))
        # it covers the street space but for the slivers of concave corners (module notes) ...
        assert st.difference(hu).area < 0.02 * st.area
        # ... and what the streets surround: never less than them, in far fewer vertices
        assert hu.area > st.area
        assert shapely.get_num_coordinates(hu) < shapely.get_num_coordinates(st)
    with pytest.raises(ValueError, match="method"):
        isochrones(net, s, 900.0, method="convex")


# ---------------------------------------------------------------- what a set of sites reaches together


def reached_letters(net, reached):
    """The tee's node letters (A B C D by position) that ``reached`` marks."""
    names = {(0, 0): "A", (100, 0): "B", (200, 0): "C", (100, 100): "D"}
    return "".join(sorted(names[tuple(np.round(net.node_xy[i]).astype(int).tolist())]
                          for i in np.flatnonzero(reached)))


def test_surface_pieces_by_hand(tee):
    """Two sites on the tee, limit 120: their pieces together, each stretch once."""
    from carecircle.network.isochrones import surface_pieces

    # s0 on A-B, 50 m from A: A-B whole, B-C [0, 70] and B-D [0, 70] from B (at 50 m).
    # s1 20 m north of B-C at x = 190: connector 20, 100 m left along its edge from
    # x = 190: B-C from x = 90 (cut at B) to C; C at 30 m; A-B from B at 110 m: 10 m.
    s = snap_points(tee, points([(50, 0), (190, 20)]))
    sp = surface_pieces(tee, s, 120.0)
    union = shapely.union_all(sp.lines)
    # A-B 100, B-C 100 (s0's 70 merged into s1's whole), B-D 70, connector 20
    assert union.length == pytest.approx(100 + 100 + 70 + 20)
    assert sum(g.length for g in sp.lines) == pytest.approx(union.length)  # no overlaps
    assert reached_letters(tee, sp.node_reached) == "ABC"
    assert sp.gap_xy.shape == (0, 2)


def test_surface_pieces_gap_inside_an_edge(tee):
    from carecircle.network.isochrones import surface_pieces

    # Sites at x = 20 and x = 80 on A-B, limit 25: A-B reached on [0, 45] and [55, 100],
    # A and B at 20 m; the middle of A-B (x = 50) is an unreached gap; C, D unreached.
    sp = surface_pieces(tee, snap_points(tee, points([(20, 0), (80, 0)])), 25.0)
    assert reached_letters(tee, sp.node_reached) == "AB"
    assert sp.gap_xy.tolist() == [[50.0, 0.0]]
    assert shapely.union_all(sp.lines).length == pytest.approx(45 + 45 + 5 + 5)
    # Limit 31: the two stretches meet (x = 51 and x = 49): no gap
    sp = surface_pieces(tee, snap_points(tee, points([(20, 0), (80, 0)])), 31.0)
    assert sp.gap_xy.shape == (0, 2)
    # A site beyond every limit reaches nothing
    sp = surface_pieces(tee, snap_points(tee, points([(150, 40)])), 30.0)
    assert len(sp.lines) == 0 and not sp.node_reached.any()


def test_surface_pieces_are_the_union_of_every_site_pieces(demo_scenario):
    """On the demo city: one multi-source search gives exactly what the facilities reach."""
    from carecircle.network.isochrones import surface_pieces

    base = demo_scenario.parent
    net = load_network(base / "network.osm", crs="EPSG:4545", cache_dir=False)
    fac = gpd.read_file(base / "facilities.geojson").to_crs(net.crs)
    s = snap_points(net, fac)
    for limit in (900.0, 1080.0):
        per_site = [g for pieces in isochrone_segments(net, s, limit) for g in pieces]
        together = surface_pieces(net, s, limit).lines
        a, b = shapely.union_all(per_site), shapely.union_all(together)
        # each stretch once: the pieces' lengths add up to their union's ...
        assert sum(g.length for g in together) == pytest.approx(b.length, rel=1e-9)
        # ... which is the union of the per-site pieces (GEOS's union of overlapping
        # collinear pieces keeps sub-millimetre slivers, hence the 1 cm tolerance)
        assert shapely.union_all(per_site, grid_size=1e-3).length == pytest.approx(
            shapely.union_all(together, grid_size=1e-3).length, rel=1e-9)
        assert a.buffer(0.01).covers(b) and b.buffer(0.01).covers(a)


def test_command_writes_street_or_hull_polygons(xian_roads, tmp_path, monkeypatch):
    """`carecircle isochrones` keeps giving one polygon per site; --method hull the hulls."""
    from carecircle.cli import main

    monkeypatch.setenv("CARECIRCLE_CACHE_DIR", str(tmp_path / "cache"))
    sites = gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=[shapely.Point(108.9470, 34.2590),
                                                           shapely.Point(108.9600, 34.2650)],
                             crs="EPSG:4326")
    sites.to_file(tmp_path / "sites.geojson")
    out = {}
    for method in ("streets", "hull"):
        path = tmp_path / f"{method}.geojson"
        assert main(["-q", "isochrones", "--network", str(xian_roads), "--sites",
                     str(tmp_path / "sites.geojson"), "--minutes", "10", "--method", method,
                     "-o", str(path)]) == 0
        out[method] = gpd.read_file(path).to_crs(4545)
    assert list(out["streets"]["id"]) == list(out["hull"]["id"]) == ["a", "b"]
    for st, hu in zip(out["streets"].geometry, out["hull"].geometry, strict=True):
        assert hu.area > st.area and st.difference(hu).area < 0.02 * st.area
    with pytest.raises(SystemExit) as exc:
        main(["-q", "isochrones", "--network", str(xian_roads), "--sites",
              str(tmp_path / "sites.geojson"), "--method", "convex", "-o", str(tmp_path / "x.geojson")])
    assert exc.value.code == 2
