"""Community service status: hand-computed cases on a straight street.

The street runs from A (0, 0) to B (1000, 0) to C (2000, 0), offset to Xi'an in
EPSG:4545.  Walking limits: elderly 15 min x 1.0 m/s = 900 m, childcare 15 min x
1.2 m/s = 1080 m.
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from carecircle.assess.coverage import community_status
from carecircle.network.reach import nearest_site
from carecircle.network.snapping import snap_points
from carecircle.network.walknet import network_from_edges

CRS = "EPSG:4545"
X0, Y0 = 587_000.0, 3_790_000.0


def P(x: float, y: float) -> Point:
    return Point(X0 + x, Y0 + y)


@pytest.fixture
def net():
    xy = np.array([[X0, Y0], [X0 + 1000, Y0], [X0 + 2000, Y0]])
    return network_from_edges(xy, np.array([0, 1]), np.array([1, 2]), crs=CRS)


def _communities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "id": ["c1", "c2", "c3", "c4"],
        "name": ["一", "二", "三", "四"],
        "district": ["D"] * 4,
        "urban_rural": ["urban"] * 4,
        "population": [1000.0, 800.0, 600.0, 500.0],
        "pop_60plus": [200.0, 100.0, 90.0, 50.0],
        "pop_0_3": [30.0, 20.0, 10.0, 5.0],
        "households": [350.0, np.nan, 100.0, 10.0],
    }, geometry=[P(0, 10), P(100, -10), P(1800, 0), P(1000, 500)], crs=CRS)


def _facilities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "id": ["f1", "f2", "f3"],
        "kind": ["elderly", "elderly", "childcare"],
        "floor_area_m2": [300.0, 299.0, 200.0],
    }, geometry=[P(890, 0), P(1500, 0), P(2000, 0)], crs=CRS)


@pytest.fixture
def status(net) -> gpd.GeoDataFrame:
    return community_status(net, _communities(), _facilities()).set_index("id")


def test_exactly_at_the_limit_and_exactly_300_m2_count(status):
    # c1: 10 m connector + 890 m along the street = 900 m = the limit; f1 is exactly 300 m².
    assert status.loc["c1", "elderly_m"] == pytest.approx(900.0)
    assert status.loc["c1", "elderly_served"]
    assert status.loc["c1", "elderly_facility"] == "f1"
    assert status.loc["c1", "elderly_min"] == pytest.approx(15.0)


def test_snap_to_the_middle_of_an_edge(status):
    # c2 joins the street at x = 100 (not at node A): 10 + 790 = 800 m.
    assert status.loc["c2", "elderly_m"] == pytest.approx(800.0)
    assert status.loc["c2", "snap_m"] == pytest.approx(10.0)


def test_too_small_facility_is_reported_not_absent(status):
    # c3 at x = 1800: f1 is 910 m away (> 900), f2 (299 m²) is 300 m away but too small.
    assert not status.loc["c3", "elderly_served"]
    assert status.loc["c3", "elderly_substandard"]
    assert np.isnan(status.loc["c3", "elderly_m"])
    # c1 is served, so its substandard flag is off even though f2 is within reach? (1490 m: no)
    assert not status.loc["c1", "elderly_substandard"]


def test_childcare_uses_its_own_speed_and_200_m2_counts(status):
    # f3 (exactly 200 m²) at x = 2000: c3 walks 200 m; c1 walks 10 + 2000 > 1080 m.
    assert status.loc["c3", "childcare_served"]
    assert status.loc["c3", "childcare_m"] == pytest.approx(200.0)
    assert status.loc["c3", "childcare_min"] == pytest.approx(200.0 / 1.2 / 60.0)
    assert not status.loc["c1", "childcare_served"]
    assert not status.loc["c2", "childcare_served"]


def test_statuses(status):
    assert status.loc["c1", "status"] == "elderly_only"
    assert status.loc["c2", "status"] == "elderly_only"
    assert status.loc["c3", "status"] == "childcare_only"
    # c4 is 500 m from the street, beyond the 300 m snap limit.
    assert status.loc["c4", "status"] == "unreachable"
    assert not status.loc["c4", "snapped"]
    assert not status.loc["c4", "elderly_served"]


def test_compound_rule(status):
    # 20 m² per 100 households: c1 needs 70 m² and is served by f1 (300 m²).
    assert status.loc["c1", "compound_need_m2"] == pytest.approx(70.0)
    assert status.loc["c1", "compound_served_m2"] == pytest.approx(300.0)
    assert status.loc["c1", "compound_ok"]
    # c3 needs 20 m²; the nearest elderly facility within reach is f2 (299 m²).
    assert status.loc["c3", "compound_served_m2"] == pytest.approx(299.0)
    assert status.loc["c3", "compound_ok"]
    # c2 has no household count: the rule does not apply.
    assert pd.isna(status.loc["c2", "compound_ok"])


def test_one_minute_less_and_c1_is_no_longer_served(net):
    s = community_status(net, _communities(), _facilities(), minutes=14.99).set_index("id")
    assert not s.loc["c1", "elderly_served"]
    assert s.loc["c2", "elderly_served"]


def test_nearest_matches_networkx_on_a_grid():
    # Independent check: a 6 x 6 grid with 100 m blocks; distances via networkx with the
    # points inserted as nodes.
    rng = np.random.default_rng(7)
    n = 6
    xy = np.array([[X0 + 100 * i, Y0 + 100 * j] for i in range(n) for j in range(n)], float)
    u, v = [], []
    for i in range(n):
        for j in range(n):
            k = i * n + j
            if i + 1 < n:
                u.append(k)
                v.append(k + n)
            if j + 1 < n:
                u.append(k)
                v.append(k + 1)
    net = network_from_edges(xy, np.array(u), np.array(v), crs=CRS)
    pts = [P(*rng.uniform(0, 500, 2)) for _ in range(12)]
    comm = gpd.GeoDataFrame({"id": [f"c{i}" for i in range(8)]}, geometry=pts[:8], crs=CRS)
    fac = gpd.GeoDataFrame({"id": [f"f{i}" for i in range(4)]}, geometry=pts[8:], crs=CRS)
    cs, fs = snap_points(net, comm), snap_points(net, fac)
    idx, dist = nearest_site(net, cs, fs, 10_000.0)
    # The reference graph is built from the network's own arrays (node order is the
    # network's business), each block 100 m long.
    assert np.allclose(net.edge_length, 100.0)
    G = nx.Graph()
    for a, b, length in zip(net.edge_u, net.edge_v, net.edge_length, strict=True):
        G.add_edge(int(a), int(b), length=float(length))

    def attach(G, name, snapped, i):
        e = snapped.edge[i]
        a, b = int(net.edge_u[e]), int(net.edge_v[e])
        t = float(snapped.offset[i])
        L = float(net.edge_length[e])
        G.add_edge(name, a, length=t + snapped.connector[i])
        G.add_edge(name, b, length=L - t + snapped.connector[i])

    for i in range(8):
        best = np.inf
        for f in range(4):
            H = G.copy()
            attach(H, "o", cs, i)
            attach(H, "s", fs, f)
            # two points on one edge may also walk straight along it
            if cs.edge[i] == fs.edge[f]:
                H.add_edge("o", "s", length=abs(cs.offset[i] - fs.offset[f]) + cs.connector[i] + fs.connector[f])
            best = min(best, nx.shortest_path_length(H, "o", "s", weight="length"))
        assert dist[i] == pytest.approx(best, abs=1e-6)
