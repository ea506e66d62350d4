"""Capacity: demand, capacity, the assignment (hand-computed and against networkx)."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from carecircle.assess.capacity import (
    CapacityParameters,
    assess_capacity,
    assign_demand,
    community_demand,
    facility_capacity,
)
from carecircle.network.walknet import network_from_edges

CRS = "EPSG:4545"
X0, Y0 = 587_000.0, 3_790_000.0


def P(x: float, y: float) -> Point:
    return Point(X0 + x, Y0 + y)


@pytest.fixture
def net():
    # a straight street A (0,0) - B (1000,0) - C (2000,0)
    xy = np.array([[X0, Y0], [X0 + 1000, Y0], [X0 + 2000, Y0]])
    return network_from_edges(xy, np.array([0, 1]), np.array([1, 2]), crs=CRS)


def test_demand_is_the_age_group_times_the_share_in_whole_people():
    comm = pd.DataFrame({"district": ["A", "A", "B"], "pop_60plus": [714.0, 715.0, 100.0],
                         "pop_0_3": [31.0, 30.0, 0.0]})
    # 714 x 0.07 = 49.98, 715 x 0.07 = 50.05: district total 100.03 -> 100 (50 + 50)
    assert community_demand(comm, "elderly", 0.07).tolist() == [50.0, 50.0, 7.0]
    # 31 x 0.16 = 4.96, 30 x 0.16 = 4.8: total 9.76 -> 10 (5 + 5)
    assert community_demand(comm, "childcare", 0.16).tolist() == [5.0, 5.0, 0.0]


def test_capacity_from_places_area_and_beds():
    fac = pd.DataFrame({"kind": ["childcare", "childcare", "elderly", "institution", "institution"],
                        "floor_area_m2": [200.0, 203.0, 300.0, 1200.0, 1200.0],
                        "places": [40.0, np.nan, np.nan, np.nan, np.nan],
                        "beds": [np.nan, np.nan, np.nan, 150.0, np.nan]})
    p = CapacityParameters()  # 8 m² per place, 6 m² per elderly user
    cap, unit = facility_capacity(fac, "childcare", p)
    assert cap[:2].tolist() == [40.0, 25.0]  # data; floor(203 / 8)
    cap, unit = facility_capacity(fac, "elderly", p)
    assert cap[2:].tolist() == [50.0, 150.0, 200.0]  # 300 / 6; beds; 1200 / 6
    assert "beds" in unit[3] and "users" in unit[4]


def test_assignment_by_hand_fills_the_nearest_first():
    # communities a (demand 30), b (30); facility F (capacity 40) near both, G (capacity
    # 100) reachable from b only, farther.  All 60 fit: a -> F 30, b -> F 10, b -> G 20.
    a = assign_demand(np.array([30.0, 30.0]), np.array([40.0, 100.0]),
                      origin=np.array([0, 1, 1]), site=np.array([0, 0, 1]),
                      metres=np.array([100.0, 100.0, 800.0]))
    assert a.placed.tolist() == pytest.approx([30.0, 30.0])
    assert a.load.tolist() == pytest.approx([40.0, 20.0])
    assert a.amount.tolist() == pytest.approx([30.0, 10.0, 20.0])


def test_assignment_never_exceeds_capacity_and_places_all_when_it_fits():
    rng = np.random.default_rng(1)
    for trial in range(15):
        n, m = rng.integers(2, 9), rng.integers(1, 6)
        reach = rng.random((n, m)) < 0.5
        o, s = np.nonzero(reach)
        metres = rng.integers(1, 1000, len(o)).astype(float)
        demand = rng.integers(0, 40, n).astype(float)
        cap = rng.integers(0, 60, m).astype(float)
        got = assign_demand(demand, cap, o, s, metres)
        assert (got.load <= cap + 1e-6).all()
        assert (got.placed <= demand + 1e-6).all()
        assert np.allclose(np.bincount(o, got.amount, n), got.placed)
        # independent: networkx's min-cost maximum flow on the same pairs
        G = nx.DiGraph()
        for i in range(n):
            G.add_edge("src", ("c", i), capacity=int(demand[i]), weight=0)
        for j in range(m):
            G.add_edge(("f", j), "snk", capacity=int(cap[j]), weight=0)
        for i, j, w in zip(o, s, metres, strict=True):
            G.add_edge(("c", i), ("f", j), capacity=10**6, weight=int(w))
        flow = nx.max_flow_min_cost(G, "src", "snk")
        total = sum(flow["src"].values())
        assert got.placed.sum() == pytest.approx(total), trial
        walked = sum(flow[("c", i)][("f", j)] * w for i, j, w in zip(o, s, metres, strict=True))
        assert float(got.amount @ metres) == pytest.approx(walked, rel=1e-6, abs=1e-3), trial
        # and when every community reaches a facility able to take all demand, all is placed
        if reach.any(axis=1).all():
            roomy = assign_demand(demand, np.full(m, demand.sum()), o, s, metres)
            assert roomy.placed.tolist() == pytest.approx(demand.tolist(), abs=1e-6)


def test_assignment_against_linprog_on_a_dense_formulation():
    # The same LP written densely (every community x facility, forbidden pairs bounded
    # at 0): the most demand placed must agree.
    from scipy.optimize import linprog

    rng = np.random.default_rng(5)
    n, m = 6, 4
    reach = rng.random((n, m)) < 0.45
    demand, cap = rng.integers(1, 30, n).astype(float), rng.integers(1, 30, m).astype(float)
    o, s = np.nonzero(reach)
    got = assign_demand(demand, cap, o, s)
    A = np.zeros((n + m, n * m))
    for i in range(n):
        for j in range(m):
            A[i, i * m + j] = 1
            A[n + j, i * m + j] = 1
    bounds = [(0, None if reach[i, j] else 0) for i in range(n) for j in range(m)]
    ref = linprog(-np.ones(n * m), A_ub=A, b_ub=np.r_[demand, cap], bounds=bounds)
    assert got.placed.sum() == pytest.approx(-ref.fun)


def _comm():
    return gpd.GeoDataFrame({
        "id": ["a", "b", "c"], "district": ["D"] * 3, "snapped": [True, True, False],
        "population": [5000.0, 5000.0, 5000.0],
        "pop_60plus": [500.0, 500.0, 500.0],  # 35 users each at 7 %
        "pop_0_3": [100.0, 100.0, 100.0],  # 16 children each at 16 %
    }, geometry=[P(0, 10), P(300, 10), P(50, 10)], crs=CRS)


def test_a_facility_over_capacity_is_reported_with_its_load(net):
    # One 300 m² station (50 users at 6 m²) near a and b: 70 users want it.
    fac = gpd.GeoDataFrame({"id": ["f"], "name": ["站"], "kind": ["elderly"], "district": ["D"],
                            "floor_area_m2": [300.0], "places": [np.nan], "beds": [np.nan]},
                           geometry=[P(150, 0)], crs=CRS)
    res = assess_capacity(net, _comm(), fac, CapacityParameters())
    row = res.facilities[res.facilities["serves"] == "elderly"].iloc[0]
    assert row["capacity"] == 50 and row["load_nearest"] == 70
    assert bool(row["over_capacity"]) and row["load"] == pytest.approx(50.0)
    assert row["utilisation"] == pytest.approx(1.0) and bool(row["full"])
    c = res.communities
    assert c["elderly_demand"].tolist() == [35.0, 35.0, 35.0]
    assert c["elderly_placed"].sum() == pytest.approx(50.0)
    # c is off the network: nothing placed, and not "capacity full" (no facility reached)
    assert c.loc[2, "elderly_placed"] == 0 and not c.loc[2, "elderly_capacity_full"]
    assert c.loc[:1, "elderly_capacity_full"].any()
    # no childcare facility: nothing placed, nobody reached
    assert c["childcare_placed"].sum() == 0 and not c["childcare_capacity_full"].any()


def test_a_substandard_facility_takes_no_demand(net):
    fac = gpd.GeoDataFrame({"id": ["f"], "name": [""], "kind": ["childcare"], "district": ["D"],
                            "floor_area_m2": [150.0], "places": [100.0], "beds": [np.nan]},
                           geometry=[P(150, 0)], crs=CRS)
    res = assess_capacity(net, _comm(), fac, CapacityParameters())
    row = res.facilities.iloc[-1]
    assert not row["qualifies"] and np.isnan(row["capacity"])
    assert res.communities["childcare_placed"].sum() == 0


def test_villages_reach_elderly_care_at_the_rural_limit_and_rural_homes_serve_them_only(net):
    # Issue 19's villages in the capacity assessment: the village v (x = 1300) reaches the
    # 600 m² station at x = 0 (100 users at 6 m²) 1,300 m away, within the 1,500 m rural
    # limit but beyond the 900 m walk, and a 240 m² rural happiness home (40 users; 200 m²
    # standard) 100 m away; the urban community u sits at the station.
    comm = gpd.GeoDataFrame({
        "id": ["u", "v"], "district": ["D", "D"], "snapped": [True, True],
        "urban_rural": ["urban", "rural"], "population": [5000.0, 5000.0],
        "pop_60plus": [1000.0, 1000.0], "pop_0_3": [0.0, 0.0]},  # 70 users each
        geometry=[P(0, 10), P(1300, 10)], crs=CRS)
    fac = gpd.GeoDataFrame({
        "id": ["s", "h"], "name": ["站", "幸福院"], "kind": ["elderly", "rural_home"],
        "district": ["D", "D"], "floor_area_m2": [600.0, 240.0], "places": [np.nan] * 2,
        "beds": [np.nan] * 2}, geometry=[P(0, 0), P(1400, 0)], crs=CRS)
    walk = CapacityParameters()  # villages judged like city blocks: no rural home counts
    res = assess_capacity(net, comm, fac, walk)
    assert res.communities["elderly_placed"].tolist() == [70.0, 0.0]
    assert "h" not in set(res.facilities["id"])
    rural = CapacityParameters(rural_limit_m=1500.0)
    res = assess_capacity(net, comm, fac, rural)
    # u takes 70 of the station's 100; v takes the home's 40 and the station's other 30
    assert res.communities["elderly_placed"].tolist() == [70.0, 70.0]
    row = res.facilities.set_index("id")
    assert row.loc["h", "capacity"] == 40 and row.loc["h", "load"] == pytest.approx(40.0)
    assert row.loc["s", "load"] == pytest.approx(100.0)
    # a rural home below its own standard takes nothing
    small = CapacityParameters(rural_limit_m=1500.0, rural_home_min_area_m2=300.0)
    assert not assess_capacity(net, comm, fac, small).facilities.set_index("id").loc["h", "qualifies"]
