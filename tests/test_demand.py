"""Demand: grid assignment and projections to the demand year."""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, Polygon

from carecircle.assess.demand import GROUPS, apply_projection, assign_grid, projection_factors
from carecircle.assess.indicators import district_indicators
from carecircle.inputs.scenario import PLAN_FACTORS_2025, Demand

CRS = "EPSG:4545"


def test_plan_factors_are_the_plans_figures():
    # 2020 census -> 2025 forecast in the plan (section 一(二)).
    assert PLAN_FACTORS_2025["population"] == pytest.approx(15 / 12.9529)
    assert PLAN_FACTORS_2025["pop_60plus"] == pytest.approx(3 / 2.0753)
    assert PLAN_FACTORS_2025["pop_0_3"] == pytest.approx(450 / 412.2)
    comm = pd.DataFrame({"district": ["A", "B"], "population": [1.0, 1.0],
                         "pop_60plus": [1.0, 1.0], "pop_0_3": [1.0, 1.0]})
    proj = projection_factors(comm, Demand())
    assert proj.year == 2025
    for g in GROUPS:
        assert proj.factors.loc["A", g] == pytest.approx(PLAN_FACTORS_2025[g])
    assert "2025" in proj.describe()


def test_base_year_leaves_populations_alone():
    comm = pd.DataFrame({"district": ["A"], "population": [100.0], "pop_60plus": [20.0],
                         "pop_0_3": [3.0]})
    proj = projection_factors(comm, Demand(year=2020))
    out = apply_projection(comm, proj)
    assert out["population"].iloc[0] == 100.0
    assert "as loaded" in proj.describe()


def test_compounded_for_an_intermediate_year():
    comm = pd.DataFrame({"district": ["A"], "population": [1.0], "pop_60plus": [1.0],
                         "pop_0_3": [1.0]})
    proj = projection_factors(comm, Demand(year=2023))
    assert proj.factors.loc["A", "pop_60plus"] == pytest.approx((3 / 2.0753) ** 0.6)


def test_district_factors_and_table(tmp_path):
    comm = pd.DataFrame({"district": ["A", "B"], "population": [1000.0, 2000.0],
                         "pop_60plus": [100.0, 200.0], "pop_0_3": [30.0, 60.0]})
    d = Demand(district_factors={"B": {"population": 1.5, "pop_60plus": 2.0, "pop_0_3": 1.0}})
    proj = projection_factors(comm, d)
    assert proj.factors.loc["B", "pop_60plus"] == pytest.approx(2.0)
    assert proj.factors.loc["A", "pop_60plus"] == pytest.approx(3 / 2.0753)
    table = tmp_path / "proj.csv"
    table.write_text("district,group,year,value\nA,population,2025,1100\nA,pop_0_3,2025,36\n")
    proj = projection_factors(comm, dataclasses.replace(Demand(), projection_table=str(table)))
    assert proj.factors.loc["A", "population"] == pytest.approx(1.1)
    assert proj.factors.loc["A", "pop_0_3"] == pytest.approx(1.2)
    out = apply_projection(comm, proj)
    assert out.loc[0, "population"] == pytest.approx(1100.0)
    assert out.loc[0, "population_base"] == 1000.0


def test_places_per_1000_pass_in_2020_fail_in_2025():
    # 5,000 residents and 25 places: 5.0 per 1,000 passes 4.8 in 2020; in 2025 the plan's
    # growth (x 15/12.9529 = 1.158) gives 5,790 residents, 4.318 per 1,000: fails.
    comm = gpd.GeoDataFrame({
        "id": ["c1"], "district": ["D"], "urban_rural": ["urban"], "snapped": [True],
        "elderly_served": [True], "childcare_served": [True], "population": [5000.0],
        "pop_60plus": [800.0], "pop_0_3": [150.0]}, geometry=[Point(0, 0)], crs=CRS)
    fac = gpd.GeoDataFrame({"id": ["k"], "kind": ["childcare"], "floor_area_m2": [300.0],
                            "beds": [np.nan], "places": [25.0], "ownership": ["public"],
                            "district": ["D"]}, geometry=[Point(1, 1)], crs=CRS)
    districts = pd.DataFrame({"code": ["D"], "name": ["区"]})

    def places(year: int) -> pd.Series:
        proj = projection_factors(comm, Demand(year=year))
        t = district_indicators(apply_projection(comm, proj), fac, districts)
        return t[(t["district"] == "D") & (t["indicator"] == "childcare_places")].iloc[0]

    r2020, r2025 = places(2020), places(2025)
    assert r2020["value"] == pytest.approx(5.0)
    assert r2020["status"] == "pass"
    assert r2025["value"] == pytest.approx(25 * 1000 / (5000 * 15 / 12.9529))
    assert r2025["status"] == "fail"


def test_grid_to_polygon_communities_sums_match():
    # Two square communities and cells inside, on the border of neither, and outside.
    sq1 = Polygon([(0, 0), (100, 0), (100, 100), (0, 100)])
    sq2 = Polygon([(200, 0), (300, 0), (300, 100), (200, 100)])
    comm = gpd.GeoDataFrame({"id": ["a", "b"], "area_geometry": gpd.GeoSeries([sq1, sq2]).to_wkb()},
                            geometry=[sq1.representative_point(), sq2.representative_point()], crs=CRS)
    cells = gpd.GeoDataFrame(
        {"population": [10.0, 20.0, 5.0, 7.0], "pop_60plus": [1.0, 2.0, 0.5, 0.7],
         "pop_0_3": [0.1, 0.2, 0.05, 0.07]},
        geometry=[Point(50, 50), Point(250, 50), Point(60, 60), Point(150, 50)], crs=CRS)
    ga = assign_grid(comm, cells)
    assert list(ga.community_totals["population"]) == [15.0, 20.0]
    assert ga.outside_total["population"] == 7.0
    assert ga.assigned_total["population"] + ga.outside_total["population"] == ga.grid_total["population"]
    assert ga.cells_outside == 1
