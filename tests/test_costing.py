"""Costing: every subsidy rule checked by hand on a small plan.

Amounts are those of the plan's attachment 1 (bundled ``subsidies.csv``); the city share
follows each clause's wording: 市级给予 -> city 100 %, 市和区县 5∶5 -> 50 %, the
demonstration childcare place subsidy is central-budget money.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from carecircle.errors import CarecircleError, ValidationError
from carecircle.siting.costing import (
    COLUMN_LABELS,
    RULES_USED,
    PlanCost,
    cost_plan,
    load_subsidy_schedule,
    to_bilingual,
)

UNIT = {"new": 7500.0, "renovate": 2800.0, "lease": 2000.0}


def site(id_, kinds, acquisition, cost=np.nan, area=400.0, district="碑林区", **kw):
    return {"id": id_, "name": f"site {id_}", "district": district, "kinds": kinds,
            "floor_area_m2": area, "acquisition": acquisition, "cost_yuan": cost, **kw}


def one(row: dict, **kw) -> PlanCost:
    return cost_plan(pd.DataFrame([row]), **kw)


def item(pc: PlanCost, sid: str, rule: str) -> pd.Series:
    sel = pc.items[(pc.items["id"] == sid) & (pc.items["rule"] == rule)]
    assert len(sel) == 1, f"{rule} on {sid}: {len(sel)} rows"
    return sel.iloc[0]


# --------------------------------------------------------------------------- schedule


def test_bundled_schedule_matches_attachment_1():
    s = load_subsidy_schedule()
    assert set(RULES_USED) <= set(s.index)
    assert s.loc["community_station_new", "amount_yuan"] == 600_000
    assert s.loc["community_station_renovated", "amount_yuan"] == 300_000
    assert s.loc["street_centre", "amount_yuan"] == 1_500_000
    assert s.loc["institution_bed_new", "amount_yuan"] == 10_000
    assert s.loc["institution_bed_leased_or_renovated", "amount_yuan"] == 5_000
    assert s.loc["meal_point", "amount_yuan"] == 100_000
    assert s.loc["childcare_demo_place_new", "amount_yuan"] == 10_000
    assert s.loc["community_station_operation", ["amount_min_yuan", "amount_max_yuan"]].tolist() == [15_000, 100_000]
    assert s.loc["inclusive_childcare_operation", "amount_yuan"] == 400
    assert s.loc["home_adaptation_rural", "amount_yuan"] == 2_000
    assert s.loc["home_adaptation_urban", "amount_yuan"] == 4_000
    # 5∶5 clauses are split half and half, 市级给予 clauses are the city's alone
    assert s.loc["institution_bed_new", "city_share"] == 0.5
    assert s.loc["community_station_operation", "city_share"] == 0.5
    assert s.loc["community_station_new", "city_share"] == 1.0
    assert s.loc["childcare_demo_place_new", "central_share"] == 1.0
    # every source clause is quoted and appears in the plan's words
    assert s["source_clause"].str.len().gt(5).all()
    assert "150万元" in s.loc["street_centre", "source_clause"]


def test_source_clauses_are_quoted_from_the_plan(shared_seed_text):
    s = load_subsidy_schedule()
    flat = shared_seed_text.replace("\n", "")
    for rule, clause in s["source_clause"].items():
        assert clause in flat, f"{rule}: clause not found verbatim in the plan text"


@pytest.fixture
def shared_seed_text():
    from pathlib import Path

    p = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "xian-yilao-yixiao-plan-2023.txt"
    if not p.exists():
        pytest.skip(f"plan text not available at {p}")
    return p.read_text(encoding="utf-8")


def test_schedule_validation_lists_every_problem(tmp_path):
    s = load_subsidy_schedule().reset_index(drop=True)
    s["up_to"] = s["up_to"].map({True: "true", False: "false"})
    s.loc[0, "amount_yuan"] = -1
    s.loc[1, "unit"] = "per_fortnight"
    s.loc[2, "city_share"] = 1.5
    s = s[s["rule"] != "institution_bed_new"]
    p = tmp_path / "bad.csv"
    s.to_csv(p, index=False)
    with pytest.raises(ValidationError) as exc:
        load_subsidy_schedule(p)
    text = str(exc.value)
    assert "bad.csv" in text
    assert "negative amount" in text and "community_station_new" in text
    assert "per_fortnight" in text
    assert "share out of range" in text
    assert "institution_bed_new" in text and "rule missing" in text


def test_schedule_unreadable_file_is_an_input_error(tmp_path):
    with pytest.raises(CarecircleError, match="nope.csv"):
        load_subsidy_schedule(tmp_path / "nope.csv")


# --------------------------------------------------------------------------- rules


def test_new_elderly_station():
    # 400 m² new station costing 3,000,000: station subsidy 600,000 (十一), all from the city
    # (市级给予); operation at mid level (15,000+100,000)/2 = 57,500 a year, split 5:5.
    pc = one(site("s1", "elderly", "new", cost=3_000_000))
    it = item(pc, "s1", "community_station_new")
    assert it["amount_yuan"] == 600_000
    assert (it["city_yuan"], it["district_yuan"], it["central_yuan"]) == (600_000, 0, 0)
    op = item(pc, "s1", "community_station_operation")
    assert op["annual_yuan"] == 57_500
    assert (op["city_yuan"], op["district_yuan"]) == (28_750, 28_750)
    row = pc.sites.iloc[0]
    assert row["construction_subsidy_yuan"] == 600_000
    assert row["net_cost_yuan"] == 2_400_000
    assert not row["capped"]
    assert row["subsidy_total_yuan"] == 657_500
    assert row["city_yuan"] == 628_750 and row["district_yuan"] == 28_750


def test_station_with_a_schedule_split_5_5():
    # if the bureau reads 十一 as 5:5, the schedule (data) is changed, not the code:
    # 600,000 -> city 300,000, district 300,000
    s = load_subsidy_schedule()
    s.loc["community_station_new", "city_share"] = 0.5
    pc = one(site("s1", "elderly", "new", cost=3_000_000), schedule=s)
    it = item(pc, "s1", "community_station_new")
    assert (it["city_yuan"], it["district_yuan"]) == (300_000, 300_000)


def test_renovated_and_leased_station():
    # renovated: 300,000; lease counts as renovation of a stock building: 300,000 too
    pc = cost_plan(pd.DataFrame([
        site("r", "elderly", "renovate", cost=1_000_000),
        site("l", "养老", "租赁", cost=800_000),
    ]))
    assert item(pc, "r", "community_station_renovated")["amount_yuan"] == 300_000
    lease = item(pc, "l", "community_station_renovated")
    assert lease["amount_yuan"] == 300_000
    assert "lease" in lease["note"]
    assert "community_station_new" not in set(pc.items["rule"])


def test_street_centre():
    # a street centre: 1,500,000 once (十), city's alone; no station construction subsidy on top
    pc = one(site("c", "street_centre;elderly", "new", cost=6_000_000, area=1500))
    assert item(pc, "c", "street_centre")["amount_yuan"] == 1_500_000
    assert item(pc, "c", "street_centre")["city_yuan"] == 1_500_000
    assert "community_station_new" not in set(pc.items["rule"])
    assert pc.sites.iloc[0]["construction_subsidy_yuan"] == 1_500_000


def test_institution_beds_new_and_leased():
    # 20 beds new: 20 x 10,000 = 200,000 (5:5 -> 100,000 each);
    # 20 beds leased: 20 x 5,000 = 100,000 (50,000 each)
    pc = cost_plan(pd.DataFrame([
        site("n", "institution", "new", cost=5_000_000, beds=20),
        site("l", "institution", "lease", cost=5_000_000, beds=20),
    ]))
    n = item(pc, "n", "institution_bed_new")
    assert n["amount_yuan"] == 200_000
    assert (n["city_yuan"], n["district_yuan"]) == (100_000, 100_000)
    lz = item(pc, "l", "institution_bed_leased_or_renovated")
    assert lz["amount_yuan"] == 100_000
    assert (lz["city_yuan"], lz["district_yuan"]) == (50_000, 50_000)
    # an institution alone is not a community station: no station operation subsidy
    assert pc.sites["operation_subsidy_per_year_yuan"].tolist() == [0, 0]


def test_street_centre_and_beds_are_not_combined():
    # clause 十: 400 beds new = 4,000,000 > 1,500,000 -> keep the beds, centre listed at 0;
    # 50 beds new = 500,000 < 1,500,000 -> keep the centre
    pc = cost_plan(pd.DataFrame([
        site("big", ["street_centre", "institution"], "new", cost=9e7, beds=400),
        site("small", ["street_centre", "institution"], "new", cost=9e7, beds=50),
    ]))
    assert pc.sites.set_index("id").loc["big", "construction_subsidy_yuan"] == 4_000_000
    assert item(pc, "big", "street_centre")["amount_yuan"] == 0
    assert "十" in item(pc, "big", "street_centre")["note"]
    assert pc.sites.set_index("id").loc["small", "construction_subsidy_yuan"] == 1_500_000
    assert item(pc, "small", "institution_bed_new")["amount_yuan"] == 0


def test_childcare_demonstration_and_inclusive_operation():
    # 30 new places: 30 x 10,000 = 300,000 demonstration subsidy (central budget);
    # operation 30 x 400 = 12,000 a year (assumed 5:5 -> 6,000 each)
    pc = one(site("k", "childcare", "renovate", cost=2_000_000, area=300, places=30))
    demo = item(pc, "k", "childcare_demo_place_new")
    assert demo["amount_yuan"] == 300_000
    assert (demo["central_yuan"], demo["city_yuan"], demo["district_yuan"]) == (300_000, 0, 0)
    op = item(pc, "k", "inclusive_childcare_operation")
    assert op["annual_yuan"] == 12_000
    assert (op["city_yuan"], op["district_yuan"]) == (6_000, 6_000)
    # enrolment below capacity: 20 children -> 8,000 a year, over 3 years 24,000
    pc3 = one(site("k", "托育", "new", cost=2_000_000, places=30, children_enrolled=20),
              operation_years=3)
    op3 = item(pc3, "k", "inclusive_childcare_operation")
    assert op3["annual_yuan"] == 8_000 and op3["amount_yuan"] == 24_000
    # not a demonstration site: no per-place subsidy
    pc0 = one(site("k", "childcare", "new", cost=2_000_000, places=30),
              childcare_demonstration=False)
    assert "childcare_demo_place_new" not in set(pc0.items["rule"])
    assert pc0.sites.iloc[0]["construction_subsidy_yuan"] == 0


def test_childcare_places_from_floor_area():
    # 250 m² / 8 m² per place = 31.25 -> 31 places -> 310,000
    pc = one(site("k", "childcare", "new", cost=3e6, area=250), childcare_m2_per_place=8.0)
    assert item(pc, "k", "childcare_demo_place_new")["amount_yuan"] == 310_000
    pc0 = one(site("k", "childcare", "new", cost=3e6, area=250))
    assert item(pc0, "k", "childcare_demo_place_new")["amount_yuan"] == 0
    assert "places" in pc0.sites.iloc[0]["notes"]


@pytest.mark.parametrize(("level", "annual"), [("low", 15_000), ("mid", 57_500), ("high", 100_000)])
def test_station_operation_levels_and_years(level, annual):
    pc = one(site("s", "elderly", "new", cost=3e6), operation_level=level, operation_years=5)
    op = item(pc, "s", "community_station_operation")
    assert op["annual_yuan"] == annual
    assert op["amount_yuan"] == 5 * annual
    assert pc.sites.iloc[0]["operation_subsidy_yuan"] == 5 * annual


def test_subsidy_capped_at_cost():
    # a new station costing 450,000: 600,000 would exceed it -> capped at 450,000.
    # shared site: cost 500,000, station 600,000 + 30 places x 10,000 = 900,000 -> scaled
    # by 5/9: station 333,333.33 (city), places 166,666.67 (central); operation not capped.
    pc = cost_plan(pd.DataFrame([
        site("a", "elderly", "new", cost=450_000),
        site("b", "elderly;childcare", "new", cost=500_000, places=30),
    ]))
    s = pc.sites.set_index("id")
    assert s.loc["a", "construction_subsidy_yuan"] == 450_000
    assert s.loc["a", "construction_subsidy_uncapped_yuan"] == 600_000
    assert s.loc["a", "capped"] and "capped" in s.loc["a", "notes"]
    assert s.loc["a", "net_cost_yuan"] == 0
    assert s.loc["b", "construction_subsidy_yuan"] == pytest.approx(500_000, abs=0.02)
    assert item(pc, "b", "community_station_new")["amount_yuan"] == pytest.approx(333_333.33, abs=0.01)
    assert item(pc, "b", "childcare_demo_place_new")["central_yuan"] == pytest.approx(166_666.67, abs=0.01)
    assert item(pc, "b", "inclusive_childcare_operation")["annual_yuan"] == 12_000


def test_unit_cost_fallback():
    # NaN cost, 400 m² renovated at 2,800 yuan/m² = 1,120,000; lease 300 m² x 2,000 = 600,000
    pc = cost_plan(pd.DataFrame([
        site("r", "elderly", "renovate", area=400),
        site("l", "elderly", "lease", area=300),
        site("g", "elderly", "new", cost=3e6),
    ]), unit_costs=UNIT)
    s = pc.sites.set_index("id")
    assert s.loc["r", "cost_yuan"] == 1_120_000
    assert s.loc["l", "cost_yuan"] == 600_000
    assert s.loc["g", "cost_yuan"] == 3_000_000
    assert "unit cost" in s.loc["r", "cost_source"] and "given" in s.loc["g", "cost_source"]


def test_missing_cost_names_site_and_column():
    rows = pd.DataFrame([site("ok", "elderly", "new", cost=1e6), site("X7", "elderly", "new")])
    with pytest.raises(ValidationError) as exc:
        cost_plan(rows)
    assert "X7" in str(exc.value) and "cost_yuan" in str(exc.value)
    assert "id ok" not in str(exc.value)
    # unit costs without the needed acquisition type: same error
    with pytest.raises(ValidationError, match="X7.*cost_yuan"):
        cost_plan(rows, unit_costs={"lease": 2000})
    # no cost column at all and no unit costs
    with pytest.raises(ValidationError, match="X7"):
        cost_plan(rows.drop(columns="cost_yuan"))


def test_bad_kind_and_acquisition_are_all_reported():
    rows = pd.DataFrame([site("a", "hospital", "new", cost=1), site("b", "elderly", "buy", cost=1)])
    with pytest.raises(ValidationError) as exc:
        cost_plan(rows)
    text = str(exc.value)
    assert "id a" in text and "'kinds'" in text and "hospital" in text
    assert "id b" in text and "'acquisition'" in text and "buy" in text


def test_district_totals_add_up_to_city_total():
    rows = pd.DataFrame([
        site("a", "elderly", "new", cost=3e6, district="碑林区"),
        site("b", "elderly;childcare", "lease", area=500, places=40, district="碑林区"),
        site("c", "institution", "new", cost=8e6, beds=120, district="雁塔区"),
        site("d", "street_centre", "renovate", cost=2e6, district="雁塔区"),
        site("e", "childcare", "new", cost=1e6, places=20, district=None),
    ])
    pc = cost_plan(rows, unit_costs=UNIT, operation_years=2)
    d = pc.districts.set_index("district")
    assert set(d.index) == {"碑林区", "雁塔区", "未注明 unspecified"}
    assert d["n_sites"].sum() == 5 == pc.total["n_sites"]
    for col in ("cost_yuan", "construction_subsidy_yuan", "operation_subsidy_yuan",
                "subsidy_total_yuan", "city_yuan", "district_yuan", "central_yuan"):
        assert d[col].sum() == pytest.approx(pc.total[col], abs=0.01), col
        # and the items add up to the same totals (independent path)
    assert pc.items["amount_yuan"].sum() == pytest.approx(pc.total["subsidy_total_yuan"], abs=0.01)
    # every yuan of subsidy is paid by someone
    assert (pc.total["city_yuan"] + pc.total["district_yuan"] + pc.total["central_yuan"]
            == pytest.approx(pc.total["subsidy_total_yuan"], abs=0.01))
    # 雁塔区 by hand: beds 120 x 10,000 = 1,200,000 (600,000 city) + centre 1,500,000 (city)
    assert d.loc["雁塔区", "construction_subsidy_yuan"] == 2_700_000
    assert d.loc["雁塔区", "city_yuan"] == 2_100_000
    assert d.loc["雁塔区", "district_yuan"] == 600_000
    assert d.loc["雁塔区", "cost_yuan"] == 10_000_000


def test_bilingual_headers():
    pc = one(site("s1", "elderly", "new", cost=3_000_000))
    out = to_bilingual(pc.sites)
    assert "建设费用 Construction cost (yuan)" in out.columns
    assert all(c in COLUMN_LABELS for c in pc.sites.columns)
    assert all(c in COLUMN_LABELS for c in pc.items.columns)
    tabs = pc.tables(bilingual=True)
    assert "区县 District" in tabs["districts"].columns
    assert len(tabs["total"]) == 1
    assert to_bilingual(pd.DataFrame({"x": [1]}), {"x": "叉 X"}).columns.tolist() == ["叉 X"]


def test_empty_plan_costs_nothing():
    empty = pd.DataFrame(columns=["id", "kinds", "acquisition", "floor_area_m2", "cost_yuan"])
    pc = cost_plan(empty)
    assert pc.total["n_sites"] == 0 and pc.total["cost_yuan"] == 0
    assert pc.districts.empty


def test_deterministic_output():
    rows = pd.DataFrame([site("a", "elderly", "new", cost=3e6),
                         site("b", "childcare", "lease", area=300, places=10)])
    a = cost_plan(rows, unit_costs=UNIT).sites.to_csv()
    b = cost_plan(rows, unit_costs=UNIT).sites.to_csv()
    assert a == b and not math.isnan(cost_plan(rows, unit_costs=UNIT).total["cost_yuan"])
