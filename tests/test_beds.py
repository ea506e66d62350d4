"""Issue 19: beds, money and the plan's own projects, as the plan counts them.

Hand-computed cases:

* a district short of public beds gets an institution, the cheapest set of them;
* the nursing-bed share and the demonstration home bind exactly when the district falls
  short, and not otherwise;
* a shared building costs the building once plus two fit-outs less the saving (a street
  centre with childcare too), never twice the building;
* beds, nursing beds and demonstration eligibility from floor area;
* a village served within the rural limit counts for the rural target, a city block at
  the same distance does not, and a rural happiness home has its own area standard.

Costing, committed projects and the demo city are in ``test_beds_runs.py``.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from shapely.geometry import Point, box

from carecircle.assess.coverage import community_status
from carecircle.assess.indicators import district_indicators
from carecircle.inputs.scenario import Plan, Standards, Targets
from carecircle.network.walknet import network_from_edges
from carecircle.siting.layers import institution_beds
from carecircle.siting.problem import BedTargets, SitingProblem, make_district_targets
from carecircle.siting.result import plan_cost
from carecircle.siting.solve import solve_siting

# ------------------------------------------------------------------ beds in the model


def _bed_problem(*, beds, nursing, cost_i, demo=None, cand_district=None, served=True,
                 targets: BedTargets, cover_i=None) -> SitingProblem:
    """Two communities (districts A and B) served today; institution candidates only."""
    J = len(beds)
    cd = np.array(cand_district if cand_district is not None else ["A"] * J)
    P = SitingProblem.from_arrays(
        community_ids=["c0", "c1"], district=["A", "B"], urban=[True, True],
        weight={"elderly": [15_000.0, 5_000.0], "childcare": [10.0, 10.0]},
        cover={"elderly": sp.csr_matrix((2, J)), "childcare": sp.csr_matrix((2, J)),
               **({"institution": cover_i} if cover_i is not None else {})},
        candidate_ids=[f"s{j}" for j in range(J)], candidate_district=cd,
        can_host={"institution": np.ones(J, bool)},
        cost={"institution": np.asarray(cost_i, float)},
        existing_served={"elderly": [served, True], "childcare": [True, True]},
        beds_new=beds, nursing_new=nursing, demonstration_new=demo,
    )
    return P.with_changes(district_targets=make_district_targets(
        P, urban_cov=None, rural_cov=None, places_per_1000=None, beds=targets))


def test_a_district_short_of_beds_gets_institutions_at_least_cost():
    # A: 60+ 15,000 -> 1 % = 150 beds, 50 public today: 100 short.  B: 5,000 -> 50, has 80.
    targets = BedTargets(beds_share=0.01, pop_60plus={"A": 15_000.0, "B": 5_000.0},
                         existing_public_beds={"A": 50.0, "B": 80.0})
    P = _bed_problem(beds=[50, 80, 120, 200], nursing=[40, 64, 96, 160], cost_i=[5, 7, 13, 1],
                     cand_district=["A", "A", "A", "B"], targets=targets)
    r = solve_siting(P, mode="cover_all", mip_gap=0)
    assert r.status == "optimal"
    # by hand: 50 + 80 = 130 >= 100 for 12; 120 alone for 13; 50 + 120 for 18 -> sites 0 and 1
    assert sorted(r.opened["institution"].tolist()) == [0, 1]
    assert r.objective == pytest.approx(12.0)
    # B is not short: its cheap site stays closed
    assert 3 not in r.opened["institution"]
    row = r.districts.set_index("district").loc["A"]
    assert row["public_beds_before"] == 50 and row["public_beds_after"] == 180
    assert row["new_institution"] == 2
    # The institutions' beds are in the sites table.
    assert r.sites.set_index("candidate_id").loc["s1", "beds_new"] == 80
    # Too few beds among the candidates is explained before any solve.
    short = BedTargets(beds_share=0.01, pop_60plus={"A": 50_000.0},
                       existing_public_beds={"A": 0.0})
    r = solve_siting(_bed_problem(beds=[50, 80], nursing=[0, 0], cost_i=[1, 1], targets=short),
                     mode="cover_all")
    assert r.status == "infeasible" and "public_beds" in r.explanation.targets[0].target
    assert "500" in str(r.explanation) and "130" in str(r.explanation)


def test_an_institution_serves_elderly_care_like_a_station():
    targets = BedTargets()
    cover = sp.csr_matrix(np.array([[1, 0], [0, 0]]))
    P = _bed_problem(beds=[10, 10], nursing=[0, 0], cost_i=[3, 1], served=False,
                     targets=targets, cover_i=cover)
    r = solve_siting(P, mode="cover_all", mip_gap=0)
    assert r.opened["institution"].tolist() == [0]  # the only one reaching c0
    assert bool(r.served.loc["c0", "elderly_after"])


def test_nursing_share_binds_when_the_district_falls_short():
    # A has 200 beds today.  Site 0: 50 beds, 40 nursing (40 - 0.6*50 = +10), cost 3;
    # site 1: 100 beds, 80 nursing (+20), cost 5; site 2: 100 beds, 50 nursing (-10), cost 1.
    beds, nursing, cost = [50, 100, 100], [40, 80, 50], [3, 5, 1]

    def plan(existing_nursing):
        t = BedTargets(nursing_share=0.6, existing_beds={"A": 200.0},
                       existing_nursing_beds={"A": existing_nursing})
        return solve_siting(_bed_problem(beds=beds, nursing=nursing, cost_i=cost, targets=t),
                            mode="cover_all", mip_gap=0)

    # 100 of 200 (50 %): 0.6 x 200 - 100 = 20 more above the share -> site 1 (site 0 gives 10)
    r = plan(100.0)
    assert r.opened["institution"].tolist() == [1] and r.objective == pytest.approx(5.0)
    row = r.districts.set_index("district").loc["A"]
    assert row["nursing_share_before"] == pytest.approx(0.5)
    assert row["nursing_share_after"] == pytest.approx((100 + 80) / 300)
    # 110 of 200: 10 short -> the cheaper site 0 is enough
    r = plan(110.0)
    assert r.opened["institution"].tolist() == [0] and r.objective == pytest.approx(3.0)
    # exactly 60 %: nothing to build (and the cheap site below the share never helps)
    r = plan(120.0)
    assert len(r.opened["institution"]) == 0 and r.objective == 0.0


def test_an_institution_below_the_share_may_not_break_it():
    # A meets the share today (120 of 200 beds nursing-type, 60 %) but needs 90 public beds
    # (1 % of 9,000 aged 60+).  Site 0: 100 beds, 40 nursing, cost 1: enough beds, but
    # (120 + 40) / 300 = 53 % < 60 %.  Site 1: 100 beds, 80 nursing, cost 4: 66.7 %.
    t = BedTargets(beds_share=0.01, pop_60plus={"A": 9000.0, "B": 0.0},
                   existing_public_beds={"A": 0.0}, nursing_share=0.6,
                   existing_beds={"A": 200.0}, existing_nursing_beds={"A": 120.0})
    P = _bed_problem(beds=[100, 100], nursing=[40, 80], cost_i=[1, 4], targets=t)
    r = solve_siting(P, mode="cover_all", mip_gap=0)
    assert r.opened["institution"].tolist() == [1] and r.objective == pytest.approx(4.0)
    row = r.districts.set_index("district").loc["A"]
    assert row["nursing_share_after"] == pytest.approx(200 / 300)


def test_demonstration_home_binds_when_the_district_has_none():
    # Site 0 is cheap but too small to be a demonstration home; site 1 is eligible.
    def plan(existing):
        t = BedTargets(min_demonstration=1.0, existing_demonstration={"A": existing, "B": 1.0})
        return solve_siting(_bed_problem(beds=[60, 150], nursing=[48, 120], cost_i=[1, 10],
                                         demo=[False, True], targets=t),
                            mode="cover_all", mip_gap=0)

    r = plan(0.0)
    assert r.status == "optimal"
    assert r.opened["institution"].tolist() == [1] and r.objective == pytest.approx(10.0)
    assert r.districts.set_index("district").loc["A", "demonstration_after"] == 1
    r = plan(1.0)
    assert r.status == "optimal" and len(r.opened["institution"]) == 0
    # a district with none and no candidate: explained before any solve
    t = BedTargets(min_demonstration=1.0, existing_demonstration={"A": 1.0})
    r = solve_siting(_bed_problem(beds=[60], nursing=[48], cost_i=[1], targets=t),
                     mode="cover_all")
    assert r.status == "infeasible" and r.explanation.targets[0].district == "B"
    assert "公办示范性养老院" in str(r.explanation)


def test_beds_nursing_beds_and_demonstration_from_floor_area():
    cand = pd.DataFrame({"floor_area_m2": [4000.0, 3999.0, 250.0, 10_000.0]})
    beds, nursing, demo = institution_beds(cand, Standards())  # 40 m2 a bed, 80 %, >= 100
    assert beds.tolist() == [100, 99, 6, 250]
    assert nursing.tolist() == [80, 79, 4, 200]
    assert demo.tolist() == [True, False, False, True]
    beds, nursing, demo = institution_beds(cand, Standards(institution_m2_per_bed=50,
                                                           institution_nursing_share_new=0.6,
                                                           demonstration_min_beds=60))
    assert beds.tolist() == [80, 79, 5, 200] and nursing.tolist() == [48, 47, 3, 120]
    assert demo.tolist() == [True, True, False, True]


# ------------------------------------------------------------------ shared buildings

CRS = "EPSG:32649"


def _layers():
    communities = gpd.GeoDataFrame({
        "id": ["c0", "c1"], "district": ["D1", "D1"], "urban_rural": ["urban", "urban"],
        "population": [1000.0, 1000.0], "pop_60plus": [150.0, 150.0], "pop_0_3": [30.0, 30.0],
        "elderly_served": [False, True], "childcare_served": [False, True],
    }, geometry=[Point(10, 50), Point(150, 50)], crs=CRS)
    candidates = gpd.GeoDataFrame({
        "id": ["k0", "k1", "k2"], "district": ["D1"] * 3,
        "kinds": ["elderly;childcare", "elderly", "street_centre;childcare"],
        "floor_area_m2": [600.0, 400.0, 800.0], "acquisition": ["new", "renovate", "new"],
        "cost_yuan": [np.nan, 2_000_000.0, np.nan],
    }, geometry=[Point(20, 50), Point(30, 50), Point(40, 50)], crs=CRS)
    return communities, candidates


def test_a_shared_building_costs_the_building_once_plus_two_fitouts_less_the_saving():
    communities, candidates = _layers()
    cover = {k: sp.csr_matrix(np.array([[1, 1, 0], [0, 0, 0]])) for k in ("elderly", "childcare")}
    plan = Plan(fitout_costs={"childcare": {"new": 1500.0}}, shared_fitout_saving=0.1,
                district_targets=False)
    P = SitingProblem.from_layers(communities, candidates, cover, standards=Standards(),
                                  targets=Targets(), plan=plan)
    building = 7500.0 * 600 - 1000.0 * 600  # the station cost less its elderly fit-out
    shared = building + 0.9 * (1000.0 * 360 + 1500.0 * 240)
    r = solve_siting(P, mode="cover_all", mip_gap=0)
    # k0 alone: elderly 4,500,000 + childcare 3,900,000 + 900,000 would pay the building twice
    assert r.opened["elderly"].tolist() == [0] and r.opened["childcare"].tolist() == [0]
    assert r.total_cost == pytest.approx(shared) == pytest.approx(4_548_000.0)
    assert r.total_cost < 2 * building  # never the building twice
    assert bool(r.sites.loc[0, "shared"])


def test_a_street_centre_shares_a_building_with_childcare_too():
    communities, candidates = _layers()
    cover = {k: sp.csr_matrix(np.array([[0, 0, 1], [0, 0, 0]])) for k in ("elderly", "childcare")}
    plan = Plan(shared_fitout_saving=0.2, district_targets=False)
    P = SitingProblem.from_layers(communities, candidates, cover, standards=Standards(),
                                  targets=Targets(), plan=plan)
    building = 7500.0 * 800 - 1000.0 * 800
    assert P.cost_shared_centre[2] == pytest.approx(building + 0.8 * 1000.0 * 800)
    # only the street centre serves elderly care at k2
    P = P.with_changes(required={"street_centre": ["k2"]})
    r = solve_siting(P, mode="cover_all", mip_gap=0)
    assert r.opened["street_centre"].tolist() == [2] and r.opened["childcare"].tolist() == [2]
    assert r.total_cost == pytest.approx(building + 0.8 * 800_000)
    assert plan_cost(P, r.opened)[2] == pytest.approx(r.total_cost)
    assert r.total_cost < 2 * building


# ------------------------------------------------------------------ villages

X0, Y0 = 587_000.0, 3_790_000.0
GCRS = "EPSG:4545"


def _P(x: float, y: float = 0.0) -> Point:
    return Point(X0 + x, Y0 + y)


def _village_case(home_m2: float, **kw) -> gpd.GeoDataFrame:
    xy = np.array([[X0, Y0], [X0 + 1000, Y0], [X0 + 2000, Y0], [X0 + 3000, Y0]])
    net = network_from_edges(xy, np.array([0, 1, 2]), np.array([1, 2, 3]), crs=GCRS)
    comm = gpd.GeoDataFrame({
        "id": ["v_far", "v_near", "u_far", "v_in"], "name": ["甲村", "乙村", "丙社区", "丁村"],
        "district": ["D"] * 4, "urban_rural": ["rural", "rural", "urban", "rural"],
        "population": [1000.0] * 4, "pop_60plus": [200.0] * 4, "pop_0_3": [20.0] * 4,
    }, geometry=[_P(1500), _P(2900), _P(1500, 1), _P(2950, 350)], crs=GCRS)
    # v_in: 3,300 m from "home" on the network, but a home stands inside its polygon (too far
    # from any street to join the network: only the village rule finds it)
    comm["area_geometry"] = gpd.GeoSeries(
        [None, None, None, box(X0 + 2800, Y0 + 300, X0 + 3300, Y0 + 800)], crs=GCRS).to_wkb()
    fac = gpd.GeoDataFrame({
        "id": ["home", "in_home"], "kind": ["rural_home", "rural_home"],
        "floor_area_m2": [home_m2, home_m2],
    }, geometry=[_P(0), _P(3100, 700)], crs=GCRS)
    return community_status(net, comm, fac, max_snap_m=400, **kw).set_index("id")


def test_a_village_served_within_the_rural_limit_counts_for_the_rural_target():
    s = _village_case(250.0, rural_limit_m=2000.0, rural_home_min_area_m2=200.0)
    # 1,500 m from a 250 m2 rural home: served in the village, not in the city block
    assert bool(s.loc["v_far", "elderly_served"]) and s.loc["v_far", "elderly_m"] == pytest.approx(1500)
    assert s.loc["v_far", "elderly_facility"] == "home"
    assert not s.loc["u_far", "elderly_served"]  # a rural home serves villages only
    assert not s.loc["v_near", "elderly_served"]  # 2,900 m: beyond the rural limit
    assert bool(s.loc["v_in", "elderly_served"])  # a home inside the village polygon
    assert s.loc["v_in", "elderly_facility"] == "in_home"
    table = district_indicators(s.reset_index(), None, pd.DataFrame({"code": ["D"], "name": ["D"]}))
    rural = table[(table["district"] == "D") & (table["indicator"] == "rural_elderly")].iloc[0]
    assert rural["value"] == pytest.approx(2 / 3) and rural["status"] == "fail"
    # With the walk only (no rural limit), the village is not served
    s = _village_case(250.0)
    assert not s.loc["v_far", "elderly_served"] and not s.loc["v_in", "elderly_served"]
    # A home below its own standard does not serve, and shows as below standard
    s = _village_case(150.0, rural_limit_m=2000.0, rural_home_min_area_m2=200.0)
    assert not s.loc["v_far", "elderly_served"] and bool(s.loc["v_far", "elderly_substandard"])
    # Minutes at a stated speed: 10 min by bicycle at 4 m/s = 2,400 m (v_near at 2,900: no)
    s = _village_case(250.0, rural_limit_m=10 * 60 * 4.0, rural_speed_mps=4.0)
    assert bool(s.loc["v_far", "elderly_served"]) and not s.loc["v_near", "elderly_served"]
    assert s.loc["v_far", "elderly_min"] == pytest.approx(1500 / 4.0 / 60.0)


# ------------------------------------------------------------------ inputs


def test_the_default_area_per_bed_is_about_the_plans_projects():
    from carecircle.inputs.projects import load_major_projects

    p = load_major_projects()
    bedded = p[(p["sector"] == "elderly") & p["beds"].notna()
               & (p["build_type_en"] != "safety_retrofit")]
    median = float((bedded["floor_area_m2"] / bedded["beds"]).median())
    assert len(bedded) == 23 and median == pytest.approx(40.6, abs=0.05)
    assert abs(Standards().institution_m2_per_bed - median) < 1


def test_bed_and_subsidy_attributes_are_checked_with_file_row_and_column():
    from carecircle.errors import ProblemLog
    from carecircle.inputs.validate import validate_layer

    fac = gpd.GeoDataFrame({
        "id": ["F1", "F2", "F3"], "kind": ["养老院", "农村幸福院", "institution"],
        "floor_area_m2": [4000.0, 250.0, 900.0], "beds": [100.0, 0.0, 20.0],
        "nursing_beds": [60.0, 0.0, 25.0], "demonstration": ["是", "", "maybe"],
    }, geometry=[_P(0), _P(10), _P(20)], crs=GCRS)
    log = ProblemLog()
    out = validate_layer(fac, "facilities", "f.geojson", log, crs=GCRS)
    text = [str(p) for p in log.errors]
    assert len(text) == 2, text
    assert any("nursing_beds" in t and "F3" in t and "25 > beds 20" in t for t in text)
    assert any("demonstration" in t and "F3" in t and "'maybe'" in t for t in text)
    assert out["kind"].tolist() == ["institution", "rural_home", "institution"]
    assert out["demonstration"].iloc[0] is True and pd.isna(out["demonstration"].iloc[1])
    cand = gpd.GeoDataFrame({
        "id": ["K1", "K2"], "kinds": ["养老机构", "elderly;农村幸福院"],
        "floor_area_m2": [5000.0, 250.0], "meal_point": ["yes", "否"],
        "medical": ["护理站", "ward"], "childcare_star": ["五星", 2],
    }, geometry=[_P(0), _P(10)], crs=GCRS)
    log = ProblemLog()
    out = validate_layer(cand, "candidates", "k.geojson", log, crs=GCRS)
    text = [str(p) for p in log.errors]
    assert len(text) == 2, text
    assert any("medical" in t and "K2" in t and "'ward'" in t for t in text)
    assert any("childcare_star" in t and "K2" in t for t in text)
    assert out["kinds"].tolist() == ["institution", "elderly;rural_home"]
    assert out["meal_point"].tolist() == [True, False]
    assert out["medical"].iloc[0] == "clinic" and out["childcare_star"].iloc[0] == 5
