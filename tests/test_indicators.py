"""District indicators against targets: hand-computed small cases."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from carecircle.assess.indicators import district_indicators, wide
from carecircle.inputs.scenario import Targets

CRS = "EPSG:4545"


def _communities() -> pd.DataFrame:
    rows = [
        # id, district, class, snapped, elderly, childcare
        ("u1", "D1", "urban", True, True, True),
        ("u2", "D1", "urban", True, True, False),
        ("u3", "D1", "urban", True, False, False),
        ("r1", "D1", "rural", True, True, False),
        ("r2", "D1", "rural", False, False, False),  # not on the network: excluded
        ("u4", "D2", "urban", True, True, True),
    ]
    df = pd.DataFrame(rows, columns=["id", "district", "urban_rural", "snapped",
                                     "elderly_served", "childcare_served"])
    df["population"] = [1000.0] * 5 + [2000.0]
    df["pop_60plus"] = [200.0] * 5 + [400.0]
    return df


def _facilities() -> gpd.GeoDataFrame:
    rows = [
        ("c1", "childcare", 250.0, np.nan, 20.0, "public", "D1", Point(50, 50)),
        ("c2", "childcare", 250.0, np.nan, 10.0, "private", "D2", Point(150, 50)),
        ("i1", "institution", 600.0, 15.0, np.nan, "public", "D1", Point(60, 50)),
        ("s1", "street_centre", 300.0, 0.0, np.nan, "public", "D1", Point(20, 50)),
    ]
    return gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=["id", "kind", "floor_area_m2", "beds", "places", "ownership",
                                    "district", "geometry"]), crs=CRS)


DISTRICTS = pd.DataFrame({"code": ["D1", "D2"], "name": ["一区", "二区"]})
STREETS = gpd.GeoDataFrame(
    {"code": ["S1", "S2", "S3"], "district": ["D1", "D1", "D2"]},
    geometry=[box(0, 0, 40, 100), box(40, 0, 100, 100), box(100, 0, 200, 100)], crs=CRS,
)


def _get(table: pd.DataFrame, district: str, key: str) -> pd.Series:
    row = table[(table["district"] == district) & (table["indicator"] == key)]
    assert len(row) == 1
    return row.iloc[0]


@pytest.fixture
def table() -> pd.DataFrame:
    return district_indicators(_communities(), _facilities(), DISTRICTS, streets=STREETS,
                               targets=Targets())


@pytest.mark.parametrize(
    ("district", "key", "value", "status"),
    [
        ("D1", "urban_elderly", 2 / 3, "fail"),
        ("D2", "urban_elderly", 1.0, "pass"),
        ("city", "urban_elderly", 3 / 4, "fail"),
        # r2 is off the network: 1 of 1 assessed, but 1 of 2 if r2 is not served (< 80%)
        ("D1", "rural_elderly", 1.0, "incomplete"),
        ("city", "rural_elderly", 1.0, "incomplete"),
        ("D1", "compliance", 1 / 4, "fail"),
        ("D2", "compliance", 1.0, "pass"),
        ("city", "compliance", 2 / 5, "fail"),
        ("D1", "childcare_places", 20 * 1000 / 5000, "fail"),
        ("D2", "childcare_places", 10 * 1000 / 2000, "pass"),
        ("city", "childcare_places", 30 * 1000 / 7000, "fail"),
        ("D1", "public_beds", 15.0, "pass"),  # target 1% of 1000 = 10
        ("D2", "public_beds", 0.0, "fail"),  # target 4
        ("city", "public_beds", 15.0, "pass"),  # target 14
        ("D1", "public_childcare", 1.0, "pass"),
        ("D2", "public_childcare", 0.0, "fail"),  # c2 is private
        ("city", "public_childcare", 1.0, "fail"),  # needs one per district = 2
        ("D1", "elderly_area", 900 / 5000, "pass"),
        ("D2", "elderly_area", 0.0, "fail"),
        ("city", "elderly_area", 900 / 7000, "pass"),
        ("D1", "street_centre", 0.5, "fail"),
        ("D2", "street_centre", 0.0, "fail"),
        ("city", "street_centre", 1 / 3, "fail"),
    ],
)
def test_hand_computed(table, district, key, value, status):
    row = _get(table, district, key)
    assert row["value"] == pytest.approx(value)
    assert row["status"] == status


def test_communities_not_assessed_are_counted(table):
    assert _get(table, "D1", "rural_elderly")["not_assessed"] == 1
    assert _get(table, "D1", "compliance")["not_assessed"] == 1
    assert _get(table, "D1", "urban_elderly")["not_assessed"] == 0
    assert _get(table, "city", "compliance")["not_assessed"] == 1
    assert _get(table, "D1", "childcare_places")["not_assessed"] == 0


@pytest.mark.parametrize(
    ("served", "off", "target", "status"),
    [
        # 9 of 10 assessed served, 1 not assessed: bounds 9/11 .. 10/11
        (9, 1, 0.80, "pass"),        # 9/11 = 0.818 >= 0.80 whatever the other is
        (9, 1, 0.85, "incomplete"),  # 0.818 < 0.85 <= 0.909
        (9, 1, 0.95, "fail"),        # even served, 10/11 = 0.909 < 0.95
        (9, 0, 0.90, "pass"),        # nothing missing: the share itself
    ],
)
def test_share_with_communities_not_assessed(served, off, target, status):
    n = 10 + off
    comm = pd.DataFrame({
        "id": [f"u{i}" for i in range(n)], "district": "D1", "urban_rural": "urban",
        "snapped": [True] * 10 + [False] * off, "elderly_served": [i < served for i in range(n)],
        "childcare_served": True, "population": 100.0, "pop_60plus": 20.0})
    t = district_indicators(comm, None, DISTRICTS.iloc[:1], targets=Targets(urban_elderly_coverage=target))
    row = _get(t, "D1", "urban_elderly")
    assert row["value"] == pytest.approx(served / 10)
    assert row["status"] == status
    assert row["not_assessed"] == off


def test_nothing_assessed_is_incomplete_not_no_data():
    comm = pd.DataFrame({"id": ["u1"], "district": "D1", "urban_rural": "urban", "snapped": [False],
                         "elderly_served": [False], "childcare_served": [False],
                         "population": [100.0], "pop_60plus": [20.0]})
    row = _get(district_indicators(comm, None, DISTRICTS.iloc[:1]), "D1", "urban_elderly")
    assert row["status"] == "incomplete" and np.isnan(row["value"]) and row["not_assessed"] == 1


def test_district_without_rural_is_no_data(table):
    row = _get(table, "D2", "rural_elderly")
    assert row["status"] == "no data"
    assert np.isnan(row["value"])


def test_targets_and_gaps(table):
    row = _get(table, "D1", "childcare_places")
    assert row["target"] == 4.8
    assert row["gap"] == pytest.approx(4.0 - 4.8)
    assert _get(table, "D1", "public_beds")["target"] == pytest.approx(10.0)
    assert _get(table, "city", "public_beds")["target"] == pytest.approx(14.0)


def test_exactly_at_target_passes():
    comm = _communities()
    comm.loc[comm["id"] == "u3", "elderly_served"] = True
    t = district_indicators(comm, _facilities(), DISTRICTS, streets=STREETS,
                            targets=Targets(urban_elderly_coverage=1.0))
    assert _get(t, "D1", "urban_elderly")["status"] == "pass"


def test_missing_inputs_are_no_data_not_zero():
    fac = _facilities().drop(columns=["places", "beds"])
    t = district_indicators(_communities(), fac, DISTRICTS, streets=None, targets=Targets())
    for key in ("street_centre", "childcare_places", "public_beds"):
        for d in ("D1", "D2", "city"):
            row = _get(t, d, key)
            assert row["status"] == "no data", (d, key)
            assert np.isnan(row["value"])
    t2 = district_indicators(_communities(), None, DISTRICTS, targets=Targets())
    assert set(t2[t2["indicator"] == "public_childcare"]["status"]) == {"no data"}
    assert set(t2[t2["indicator"] == "elderly_area"]["status"]) == {"no data"}


def test_extra_places_from_projects_count():
    t = district_indicators(_communities(), _facilities(), DISTRICTS, streets=STREETS,
                            extra_places={"D1": 4.0})
    assert _get(t, "D1", "childcare_places")["value"] == pytest.approx(24 * 1000 / 5000)
    assert _get(t, "D1", "childcare_places")["status"] == "pass"


def test_wide_table_marks(table):
    w = wide(table)
    assert list(w["区县代码 Code"]) == ["D1", "D2", "city"]
    cell = w.loc[w["区县代码 Code"] == "D2"].filter(like="Rural").iloc[0, 0]
    assert "no data" in cell
    assert "✗" in w.loc[w["区县代码 Code"] == "D1"].filter(like="Urban community").iloc[0, 0]


def test_district_without_communities_is_no_data_everywhere():
    districts = pd.concat([DISTRICTS, pd.DataFrame({"code": ["D3"], "name": ["三区"]})])
    t = district_indicators(_communities(), _facilities(), districts, streets=STREETS)
    assert set(t[t["district"] == "D3"]["status"]) == {"no data"}
    # the city still needs one public childcare per assessed district only (D1, D2)
    assert _get(t, "city", "public_childcare")["target"] == 2


def test_unknown_stock_is_no_data_even_with_new_facilities():
    t = district_indicators(_communities(), _facilities(), DISTRICTS, streets=STREETS,
                            stock_known=False)
    for key in ("childcare_places", "public_beds", "public_childcare", "elderly_area"):
        assert set(t[t["indicator"] == key]["status"]) == {"no data"}, key
    assert _get(t, "D1", "urban_elderly")["status"] == "fail"


# ---------------------------------------------------------------- range and absent targets


@pytest.mark.parametrize(
    ("lo", "hi", "status", "gap"),
    [
        # D1: 900 m² of elderly floor area over 5,000 residents = 0.18 m² each
        (0.1, 0.3, "pass", 0.0),
        (0.2, 0.3, "fail", 0.18 - 0.2),  # below the low end
        (0.05, 0.1, "fail", 0.18 - 0.1),  # above the high end: checked too
        (0.18, 0.18, "pass", 0.0),  # exactly at both ends
    ],
)
def test_a_range_target_is_checked_at_both_ends(lo, hi, status, gap):
    t = district_indicators(_communities(), _facilities(), DISTRICTS, streets=STREETS,
                            targets=Targets(elderly_area_per_resident_m2=(lo, hi)))
    row = _get(t, "D1", "elderly_area")
    assert row["value"] == pytest.approx(0.18)
    assert row["status"] == status
    assert row["gap"] == pytest.approx(gap)
    assert row["target_text"] == f"{lo:g}-{hi:g}"


def test_a_target_the_profile_does_not_set_has_no_row():
    none = dict.fromkeys(("street_centre_coverage", "childcare_places_per_1000",
                          "public_beds_share_of_60plus", "public_childcare_per_district",
                          "elderly_area_per_resident_m2", "kindergarten_tuoban_coverage",
                          "nursing_bed_share", "demonstration_homes_per_district"))
    t = district_indicators(_communities(), _facilities(), DISTRICTS, streets=STREETS,
                            targets=Targets(**none))
    assert set(t["indicator"]) == {"urban_elderly", "rural_elderly", "compliance"}
    assert _get(t, "D1", "urban_elderly")["value"] == pytest.approx(2 / 3)
    assert len(wide(t)) == 3  # two districts and the city, three indicator columns


def test_value_text_is_the_briefings():
    from carecircle.assess.indicators import value_text

    assert value_text(0.933333, "%") == "93.3%"
    assert value_text(1259.6, "beds") == "1,260"
    assert value_text(0.1512, "m²/person") == "0.15"
    assert value_text(np.nan, "%") == "—"
