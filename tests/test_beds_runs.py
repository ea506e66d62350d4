"""Issue 19 through the costing and the run: attachment 1 clause by clause, and the plan's
major projects as the committed state (today / committed / after).

The costing case is computed by hand from the amounts of ``carecircle/data/subsidies.csv``;
the committed case runs the demo city with a copy of attachment 2 that places 雁塔区's
project on the map and adds one project without coordinates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carecircle.inputs.scenario import LayerSource, load_scenario
from carecircle.runs.context import prepare
from carecircle.runs.pipeline import assess_context
from carecircle.runs.plan import build_problem, plan_context
from carecircle.siting.costing import cost_plan, load_subsidy_schedule
from conftest import PLAN_TEXT

# ------------------------------------------------------------------ costing


def _sites() -> pd.DataFrame:
    return pd.DataFrame([
        # a care-home upgrade with a clinic and two agreements with medical institutions
        {"id": "S1", "kinds": "institution", "acquisition": "renovate", "cost_yuan": 1_000_000,
         "beds": 100, "care_home_upgrade": True, "medical": "clinic", "medical_agreements": 2},
        # a new institution: the bed subsidy
        {"id": "S2", "kinds": "institution", "acquisition": "new", "cost_yuan": 50_000_000,
         "beds": 200},
        # a station with a meal point and 7,300 eligible person-days of meals a year
        {"id": "S3", "kinds": "elderly", "acquisition": "new", "cost_yuan": 2_000_000,
         "meal_point": True, "meal_diner_days": 7_300},
        # a rural happiness home: operation only
        {"id": "S4", "kinds": "rural_home", "acquisition": "renovate", "cost_yuan": 500_000},
        # a five-star demonstration childcare centre with 50 places
        {"id": "S5", "kinds": "childcare", "acquisition": "new", "cost_yuan": 1_000_000,
         "places": 50, "childcare_star": 5},
    ])


def test_every_attachment1_item_applies_where_the_data_says_and_cites_its_clause():
    pc = cost_plan(_sites())
    it = pc.items
    got = {(r.id, r.rule): (r.amount_yuan, r.annual_yuan) for r in it.itertuples()}
    # construction and one-off items, by hand
    assert got[("S1", "care_home_upgrade")][0] == pytest.approx(0.3 * 1_000_000)
    assert got[("S1", "medical_clinic")][0] == 200_000
    assert got[("S2", "institution_bed_new")][0] == 200 * 10_000
    assert got[("S3", "community_station_new")][0] == 600_000
    assert got[("S3", "meal_point")][0] == 100_000
    assert got[("S5", "childcare_demo_place_new")][0] == 50 * 10_000
    assert got[("S5", "childcare_star_5")][0] == 50 * 700
    # yearly items (operation level mid, one year)
    assert got[("S1", "medical_agreement")][1] == 2 * 50_000
    assert got[("S3", "meal_service")][1] == 2 * 7_300
    assert got[("S3", "community_station_operation")][1] == (15_000 + 100_000) / 2
    assert got[("S4", "rural_happiness_home_operation")][1] == (15_000 + 25_000) / 2
    assert got[("S5", "inclusive_childcare_operation")][1] == 50 * 400
    # the upgrade is public money: no bed subsidy on S1; a rural home has no construction rule
    assert not any(r.startswith("institution_bed") for r in it.loc[it["id"] == "S1", "rule"])
    assert set(it.loc[it["id"] == "S4", "type"]) == {"operation"}
    # every applied line cites its clause: the schedule's, quoted from the plan
    sched = load_subsidy_schedule()
    paid = it[it["amount_yuan"] > 0]
    assert len(paid) == len(got)
    for r in paid.itertuples():
        assert r.clause == sched.loc[r.rule, "clause"] and r.clause.startswith("(")
        assert r.source_clause == sched.loc[r.rule, "source_clause"] and len(r.source_clause) > 5
    if PLAN_TEXT.exists():
        text = PLAN_TEXT.read_text(encoding="utf-8").replace("\n", "")
        assert all(q in text for q in paid["source_clause"])


def test_the_clause_table_lists_every_clause_with_why():
    pc = cost_plan(_sites())
    c = pc.clauses.set_index("clause")
    assert len(c) == 35 and c.index[0] == "(一)" and c.index[-1] == "(三十五)"
    applied = set(c.index[c["status"].str.startswith("applied")])
    assert applied == {"(九)", "(十一)", "(十二)", "(十三)", "(十五)", "(十七)", "(十八)", "(十九)",
                       "(二十)", "(二十一)", "(二十四)", "(二十五)"}
    assert c.loc["(十)", "status"].startswith("not triggered")  # no street centre among the sites
    assert c.loc["(十四)", "status"].startswith("not applicable")
    assert "households" in c.loc["(十四)", "applies_to"]
    assert (c.loc[c["status"].str.startswith("not applicable"), "applies_to"].str.len() > 5).all()
    assert c.loc["(九)", "n_sites"] == 1 and c.loc["(九)", "amount_yuan"] == 2_000_000
    assert "clauses" in pc.tables() and "clauses" in pc.tables(bilingual=True)
    # a schedule without an optional rule: the clause says so, nothing fails
    sched = load_subsidy_schedule().reset_index(drop=True)
    sched["up_to"] = sched["up_to"].map({True: "true", False: "false"})
    pc = cost_plan(_sites(), schedule=sched[sched["rule"] != "meal_point"])
    c = pc.clauses.set_index("clause")
    assert c.loc["(十三)", "status"].startswith("not in the schedule")
    assert "meal_point" not in set(pc.items["rule"])


def test_sites_without_the_attributes_earn_only_the_base_rules():
    plain = _sites()[["id", "kinds", "acquisition", "cost_yuan"]].assign(beds=[100, 200, 0, 0, 0])
    rules = set(cost_plan(plain).items["rule"])
    assert not rules & {"care_home_upgrade", "medical_clinic", "medical_agreement", "meal_point",
                        "meal_service", "childcare_star_5"}
    assert "institution_bed_leased_or_renovated" in rules  # S1 is now an ordinary renovation


# ------------------------------------------------------------------ committed projects


@pytest.fixture(scope="module")
def committed_run(demo_scenario, tmp_path_factory):
    """The demo with two 雁塔区 projects: the plan's own, placed on the map, and a centre
    without coordinates."""
    from carecircle.inputs.projects import load_major_projects

    p = load_major_projects()
    home = p[p["district"] == "雁塔区"].iloc[0]
    rows = pd.DataFrame([
        {"no": 1, "sector": "elderly", "name": home["name"], "build_type": "新建",
         "location": home["location"], "district": "雁塔区", "floor_area_m2": 21500, "beds": 500,
         "investment_10k_yuan": 25000, "central_funds_10k_yuan": 6000,
         "implementing_unit": "雁塔区民政局", "lon": 108.9238, "lat": 34.1975},
        {"no": 2, "sector": "elderly", "name": "雁塔区电子城街道综合养老服务中心(测试)",
         "build_type": "新建", "location": "雁塔区电子城街道", "district": "雁塔区",
         "floor_area_m2": 1500, "beds": 40, "investment_10k_yuan": 800,
         "central_funds_10k_yuan": 400, "implementing_unit": "雁塔区民政局"},
    ])
    path = tmp_path_factory.mktemp("projects") / "projects.csv"
    rows.to_csv(path, index=False)
    base = load_scenario(demo_scenario)
    scen = base.replace(include_major_projects=True,
                        inputs={**base.inputs, "major_projects": LayerSource(path=path)})
    ctx = prepare(scen, quiet=True)
    run = assess_context(ctx)
    return ctx, run, plan_context(ctx, run, quiet=True)


def _value(table: pd.DataFrame, district: str, indicator: str) -> float:
    return float(table[(table["district"] == district) & (table["indicator"] == indicator)]
                 ["value"].iloc[0])


def test_projects_appear_only_in_committed_and_after(committed_run):
    ctx, run, planned = committed_run
    # the placed project is a committed facility, not today's
    assert len(ctx.committed) == 1 and bool(ctx.committed["demonstration"].iloc[0])
    assert ctx.committed["nursing_beds"].iloc[0] == 400  # 80 % assumed
    assert set(ctx.committed["id"]).isdisjoint(ctx.inputs["facilities"]["id"])
    assert len(ctx.inputs["facilities"]) == 72  # the demo's own facilities only (5 kindergartens)
    # the district keeps its project without coordinates in its totals
    assert ctx.extra["beds"] == {"610113": 40.0} and ctx.extra["all_beds"] == {"610113": 40.0}
    today = _value(run.districts_before, "610113", "public_beds")
    assert today == 1260
    assert _value(run.districts_committed, "610113", "public_beds") == today + 500 + 40
    assert _value(run.districts_committed, "610113", "demonstration_home") == 2
    assert _value(planned.districts_after, "610113", "public_beds") >= today + 540
    # who the placed home serves counts from the committed state on, never today
    c = run.communities
    newly = c["elderly_served_committed"] & ~c["elderly_served"]
    assert newly.sum() > 0 and not (c["elderly_served"] & ~c["elderly_served_committed"]).any()
    assert (planned.communities.loc[newly.to_numpy(), "elderly_served_after"]).all()


def test_the_optimizer_starts_from_committed(committed_run):
    ctx, run, _ = committed_run
    problem, _aux = build_problem(ctx, run)
    on = run.communities["snapped"].to_numpy(dtype=bool)
    committed = run.communities["elderly_served_committed"].to_numpy(dtype=bool)[on]
    assert np.array_equal(problem.existing_served["elderly"], committed)
    # the committed beds are the plan's starting stock
    assert problem.target("610113", "existing_public_beds") == 1260 + 500 + 40
    assert problem.target("610113", "existing_demonstration") == 2
