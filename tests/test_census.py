"""Demand that is right: one-band grids, census totals, whole people (hand-computed)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, Polygon

from carecircle.assess.census import read_census, scale_to_census, spread
from carecircle.assess.demand import (
    PLAN_SHARES_2020,
    age_groups_note,
    apply_grid,
    assign_grid,
    largest_remainder,
    whole_people,
)
from carecircle.errors import InputError

CRS = "EPSG:4545"


def _squares(pops: dict[str, list[float]], district=("A", "A", "B")) -> gpd.GeoDataFrame:
    polys = [Polygon([(x, 0), (x + 100, 0), (x + 100, 100), (x, 100)]) for x in (0, 200, 400)]
    return gpd.GeoDataFrame(
        {"id": ["a", "b", "c"], "district": list(district), **pops,
         "area_geometry": gpd.GeoSeries(polys).to_wkb()},
        geometry=[p.representative_point() for p in polys], crs=CRS)


def _one_band_grid(values=(1000.0, 500.0, 200.0)) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"population": list(values)},
                            geometry=[Point(50, 50), Point(250, 50), Point(450, 50)], crs=CRS)


def test_one_band_grid_takes_the_communities_own_shares():
    # Community a: loaded 100 residents, 90 aged 60+ (a care home block); the grid says
    # 1,000 residents.  Mixing the loaded 90 with nothing would be fine here, but b was
    # loaded with 400 aged 60+ of 400 residents and the grid gives it 500 residents:
    # derived 60+ = 500 x 1.0 = 500, never the loaded 400 of another base, and never more
    # than the grid's residents.
    comm = _squares({"population": [100.0, 400.0, 50.0], "pop_60plus": [90.0, 400.0, 10.0],
                     "pop_0_3": [1.0, 0.0, 2.0]})
    out = apply_grid(comm, assign_grid(comm, _one_band_grid()))
    assert out["population"].tolist() == [1000.0, 500.0, 200.0]
    assert out["pop_60plus"].tolist() == pytest.approx([900.0, 500.0, 40.0])
    assert out["pop_0_3"].tolist() == pytest.approx([10.0, 0.0, 8.0])
    assert (out["age_groups_from"] == "community").all()
    assert "own shares" in age_groups_note(out)


def test_one_band_grid_never_gives_more_aged_than_residents():
    rng = np.random.default_rng(7)
    for _ in range(30):
        pop = rng.uniform(0, 1000, 3)
        comm = _squares({"population": pop, "pop_60plus": pop * rng.uniform(0, 1, 3),
                         "pop_0_3": pop * rng.uniform(0, 0.2, 3)})
        grid = _one_band_grid(rng.uniform(0, 5000, 3))
        out = apply_grid(comm, assign_grid(comm, grid))
        for g in ("pop_60plus", "pop_0_3"):
            assert (out[g] <= out["population"] + 1e-9).all()
        assert (whole_people(out)["pop_60plus"] <= whole_people(out)["population"]).all()


def test_one_band_grid_without_own_shares_uses_census_then_plan():
    # Communities with no loaded populations (the grid supplies them): district A has a
    # census share (60+ 25 %, 0-3 2 %), district B none -> the plan's 2020 city shares.
    comm = _squares({"population": [np.nan] * 3, "pop_60plus": [np.nan] * 3,
                     "pop_0_3": [np.nan] * 3})
    shares = pd.DataFrame({"pop_60plus": [0.25], "pop_0_3": [0.02]}, index=["A"])
    out = apply_grid(comm, assign_grid(comm, _one_band_grid()), district_shares=shares)
    assert out["pop_60plus"].tolist() == pytest.approx([250.0, 125.0, 200 * PLAN_SHARES_2020["pop_60plus"]])
    assert out["pop_0_3"].tolist() == pytest.approx([20.0, 10.0, 200 * PLAN_SHARES_2020["pop_0_3"]])
    assert out["age_groups_from"].tolist() == ["census", "census", "plan"]
    assert PLAN_SHARES_2020["pop_60plus"] == pytest.approx(0.1602, abs=1e-4)


def test_a_three_band_grid_keeps_its_bands():
    comm = _squares({"population": [1.0] * 3, "pop_60plus": [1.0] * 3, "pop_0_3": [1.0] * 3})
    grid = _one_band_grid().assign(pop_60plus=[100.0, 50.0, 20.0], pop_0_3=[30.0, 15.0, 6.0])
    out = apply_grid(comm, assign_grid(comm, grid))
    assert out["pop_60plus"].tolist() == [100.0, 50.0, 20.0]
    assert age_groups_note(out) is None


# ------------------------------------------------------------------ census

CENSUS = ("区划代码,区县,人口数_合计,家庭户数,pop60plus,pop0_4\n"
          "610100.0,西安市,3000,1000,500.0,100.0\n"
          "610113.0,雁塔区,2000,700,300.0,50.0\n"
          "610116.0,长安区,1000,300,200.0,50.0\n")


def test_read_census_codes_as_text_and_0_3_four_fifths(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("\ufeff" + CENSUS, encoding="utf-8")
    c = read_census(str(path))
    assert list(c.totals.index) == ["610100", "610113", "610116"]
    assert c.totals.loc["610113", "pop_0_3"] == pytest.approx(40.0)  # 4/5 of 50
    assert c.shares().loc["610116", "pop_60plus"] == pytest.approx(0.2)


def test_the_real_xian_census_reads(shared_data):
    c = read_census(str(shared_data / "xian-census" / "districts-2020-census.csv"))
    t = c.totals
    assert t.loc["610113", "population"] == 2046737
    assert t.loc["610113", "pop_0_3"] == pytest.approx(122352 * 0.8)
    # the 13 districts sum to the city row
    assert t.drop(index="610100")["population"].sum() == t.loc["610100", "population"]


@pytest.mark.parametrize("text, column, message", [
    ("区划代码,人口数_合计,pop0_4\n1,2,3\n", "pop_60plus", "missing column"),
    ("区划代码,人口数_合计,pop60plus,pop0_4\n1,abc,1,1\n", "人口数_合计", "plausible"),
    ("区划代码,人口数_合计,pop60plus,pop0_4\n1,10,20,1\n", "pop60plus", "larger than residents"),
    ("区划代码,人口数_合计,pop60plus,pop0_4\n1,10,2,1\n1.0,10,2,1\n", "区划代码", "twice"),
])
def test_bad_census_tables_name_file_row_and_column(tmp_path, text, column, message):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_census(str(path))
    p = err.value.problem
    assert p.file == str(path) and message in p.message
    assert column in (p.column or "")


def test_spread_is_proportional_and_water_fills_caps():
    assert spread(10.0, np.array([1.0, 3.0])).tolist() == [2.5, 7.5]
    assert spread(6.0, np.zeros(3)).tolist() == [2.0, 2.0, 2.0]
    # weights 1:1:2 of 100 -> 25, 25, 50; the third is capped at 30, its 20 goes 10/10.
    assert spread(100.0, np.array([1.0, 1.0, 2.0]), np.array([100.0, 100.0, 30.0])).tolist() == \
        pytest.approx([35.0, 35.0, 30.0])


def test_scale_to_census_sums_to_the_district_totals(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(CENSUS, encoding="utf-8")
    comm = gpd.GeoDataFrame({
        "id": list("abcd"), "district": ["610113", "610113", "610116", "999999"],
        "population": [1000.0, 1000.0, 1000.0, 70.0], "pop_60plus": [100.0, 300.0, 10.0, 7.0],
        "pop_0_3": [10.0, 10.0, 1.0, 1.0], "households": [np.nan] * 4},
        geometry=[Point(i, 0) for i in range(4)], crs=CRS)
    out, notes = scale_to_census(comm, read_census(str(path)))
    assert out["population"].tolist() == [1000.0, 1000.0, 1000.0, 70.0]
    # 雁塔区's 300 aged 60+ spread 1:3 over a and b; 长安区's 200 all to c
    assert out["pop_60plus"].tolist() == [75.0, 225.0, 200.0, 7.0]
    assert out["pop_0_3"].tolist() == [20.0, 20.0, 40.0, 1.0]
    # households: no loaded ones, so in proportion to residents
    assert out["households"].tolist()[:3] == [350.0, 350.0, 300.0]
    assert any("999999" in n for n in notes)


def test_whole_people_keep_district_sums():
    comm = pd.DataFrame({"district": ["A"] * 3 + ["B"],
                         "population": [10.4, 10.4, 10.2, 3.6], "pop_60plus": [1.5, 1.5, 1.0, 3.6]})
    out = whole_people(comm, ("population", "pop_60plus"))
    assert out["population"].tolist() == [11.0, 10.0, 10.0, 4.0]  # 31 = round(31.0)
    assert out["pop_60plus"].tolist() == [2.0, 1.0, 1.0, 4.0]
    assert largest_remainder(np.array([0.5, 0.5, 0.5, 0.5])).tolist() == [1.0, 1.0, 0.0, 0.0]


# ------------------------------------------------------------------ the scenario's options


@pytest.mark.parametrize("demand, message", [
    ({"elderly_uptake": 1.5}, "plausible range"),
    ({"childcare_enrolment": -0.1}, ">= 0"),
    ({"scale_to_census": True}, "demand.census"),
    ({"census": "https://example.org/census.csv"}, "local CSV path"),
    ({"scale_to_census": "yes", "census": "c.csv"}, "true or false"),
])
def test_demand_options_are_checked(tmp_path, demand, message):
    from carecircle.errors import ScenarioError
    from carecircle.inputs.scenario import scenario_from_dict

    data = {"name": "x", "inputs": {"network": "n.osm", "districts": "d.geojson",
                                    "communities": "c.geojson"}, "demand": demand}
    with pytest.raises(ScenarioError, match=message):
        scenario_from_dict(data, tmp_path)


def test_census_options_resolve_and_protect_the_file(tmp_path):
    from carecircle.inputs.scenario import scenario_from_dict

    data = {"name": "x", "inputs": {"network": "n.osm", "districts": "d.geojson",
                                    "communities": "c.geojson"},
            "demand": {"census": "data/census.csv", "scale_to_census": True, "elderly_uptake": 0.1}}
    scen = scenario_from_dict(data, tmp_path)
    assert scen.demand.census == str((tmp_path / "data" / "census.csv").resolve())
    assert scen.demand.scale_to_census and scen.demand.elderly_uptake == 0.1
    assert scen.demand.childcare_enrolment == 0.16  # the default: the plan's 4.8 per 1,000 in 2025
    assert tmp_path / "data" / "census.csv" in scen.protected_files()


def test_validate_reports_a_bad_census_file(demo_scenario, tmp_path):
    import dataclasses

    from carecircle.inputs.scenario import load_scenario
    from carecircle.runs.pipeline import validate

    bad = tmp_path / "census.csv"
    bad.write_text("区划代码,人口数_合计\n610113,10\n", encoding="utf-8")
    scen = load_scenario(demo_scenario)
    scen = scen.replace(demand=dataclasses.replace(scen.demand, census=str(bad), scale_to_census=True))
    report = validate(scen)
    assert any(p.file == str(bad) and "missing column" in p.message for p in report.errors)
