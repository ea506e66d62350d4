"""Tests for carecircle.network.surface: one served-area surface per set of sites."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from carecircle.network import surface
from carecircle.network.isochrones import isochrones, surface_pieces
from carecircle.network.snapping import snap_points
from carecircle.network.sources import load_network
from carecircle.network.surface import served_area
from carecircle.network.walknet import network_from_graph

CRS = "EPSG:32649"


def points(xy, crs=CRS):
    return gpd.GeoDataFrame({"id": [f"s{i}" for i in range(len(xy))]},
                            geometry=[shapely.Point(p) for p in xy], crs=crs)


def block(spur: bool):
    """A 400 m square block A(0,0) B(400,0) C(400,400) D(0,400), optionally with a 150 m
    dead end from the middle of A-B into the block (E(200,0) - F(200,150))."""
    G = nx.Graph(crs=CRS)
    xy = {"A": (0, 0), "B": (400, 0), "C": (400, 400), "D": (0, 400)}
    if spur:
        xy |= {"E": (200, 0), "F": (200, 150)}
    for n, (x, y) in xy.items():
        G.add_node(n, x=float(x), y=float(y))
    ring = ["A", "E", "B"] if spur else ["A", "B"]
    G.add_edges_from(zip(ring[:-1], ring[1:], strict=True))
    G.add_edges_from([("B", "C"), ("C", "D"), ("D", "A")])
    if spur:
        G.add_edge("E", "F")
    return network_from_graph(G)


@pytest.fixture(scope="module")
def demo(demo_scenario):
    base = demo_scenario.parent
    net = load_network(base / "network.osm", crs="EPSG:4545", cache_dir=False)
    fac = gpd.read_file(base / "facilities.geojson").to_crs(net.crs)
    return net, snap_points(net, fac)


def test_surface_holds_exactly_the_reached_pieces(demo):
    """The demo city's facilities: the surface holds every piece any facility reaches,
    and (blocks not filled) differs from the union of the per-facility street polygons
    only along their edge, within 1.5 grid cells."""
    net, s = demo
    limit = 900.0
    per_site = isochrones(net, s, limit, buffer_m=25.0)
    exact = shapely.union_all(per_site.geometry.to_numpy())
    row = served_area(net, s, limit, buffer_m=25.0, fill_blocks=False)
    surf = row.geometry.iloc[0]
    cell = float(row["cell_m"].iloc[0])
    assert cell == 5.0 and surf.geom_type == "MultiPolygon" and surf.is_valid
    assert row["n_sites"].iloc[0] == int(s.ok.sum())
    pieces = surface_pieces(net, s, limit).lines
    assert row["street_m"].iloc[0] == pytest.approx(shapely.length(pieces).sum())
    assert shapely.covers(surf, shapely.union_all(pieces))
    diff = surf.symmetric_difference(exact)
    assert diff.difference(exact.boundary.buffer(1.5 * cell)).area < 1.0
    assert abs(surf.area - exact.area) < 0.1 * exact.area
    # the blocks the served streets enclose are filled: more area, still every piece
    filled = served_area(net, s, limit, buffer_m=25.0).geometry.iloc[0]
    assert filled.area > surf.area and filled.covers(surf)


def test_a_block_ringed_by_served_streets_is_filled():
    net = block(spur=False)
    s = snap_points(net, points([(0, -10)]))  # at A: the whole 1,600 m ring within 1,000 m
    open_ = served_area(net, s, 1000.0, buffer_m=25.0, fill_blocks=False).geometry.iloc[0]
    full = served_area(net, s, 1000.0, buffer_m=25.0).geometry.iloc[0]
    assert len(open_.geoms) == 1 and len(open_.geoms[0].interiors) == 1  # the block's inside
    assert not open_.contains(shapely.Point(200, 200))
    assert full.contains(shapely.Point(200, 200)) and len(full.geoms[0].interiors) == 0
    # about the 450 m square (street space 25 m outside the ring), corners rounded
    assert full.area == pytest.approx(450 ** 2, rel=0.03)


def test_a_block_with_an_unreached_street_inside_stays_open():
    net = block(spur=True)
    # from A the ring is reached (B at 400, C at 800, D at 400) but of the dead end from
    # E (200 m from A) only 60 of its 150 m within 260 m: F is not reached
    s = snap_points(net, points([(0, -10)]))
    full = served_area(net, s, 260.0 + 10.0, buffer_m=25.0).geometry.iloc[0]
    pieces = surface_pieces(net, s, 270.0)
    assert not pieces.node_reached[np.flatnonzero((net.node_xy == [200, 150]).all(axis=1))].any()
    assert not full.contains(shapely.Point(200, 300))
    # with the whole dead end reached (limit 1,000 m) the block is filled
    full = served_area(net, s, 1000.0, buffer_m=25.0).geometry.iloc[0]
    assert full.contains(shapely.Point(200, 300)) and full.contains(shapely.Point(100, 100))


def test_cell_grows_with_the_extent(monkeypatch):
    net = block(spur=False)
    s = snap_points(net, points([(0, -10)]))
    monkeypatch.setattr(surface, "MAX_CELLS", 2_000)
    row = served_area(net, s, 1000.0, buffer_m=25.0)
    # the ring and the connector (400 x 410 m) padded by 35 m on each side (the buffer
    # and two cells) over 2,000 cells: at least sqrt(470 x 480 / 2,000) = 10.6 m
    assert row["cell_m"].iloc[0] >= 10.6
    assert row.geometry.iloc[0].covers(shapely.union_all(surface_pieces(net, s, 1000.0).lines))


def test_nothing_reached_and_bad_arguments():
    net = block(spur=False)
    s = snap_points(net, points([(200, 200)]), max_snap_m=50)  # 200 m from every street
    row = served_area(net, s, 900.0, name="existing_elderly")
    assert row["name"].iloc[0] == "existing_elderly" and row.geometry.iloc[0].is_empty
    assert row["n_sites"].iloc[0] == 0 and row["street_m"].iloc[0] == 0
    with pytest.raises(ValueError):
        served_area(net, s, 900.0, buffer_m=0)
