"""Scenario comparison and sensitivity sweeps on the demo city.

What a planner expects: half the budget gives fewer sites and less coverage, a
slower elderly walk serves fewer communities today and costs more to fix, 2020
demand asks for fewer places and less money than 2025; a budget sweep that
reuses the model gives the plan an independent run gives; nothing is lost on a
failed comparison.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carecircle import cli
from carecircle.errors import ScenarioError
from carecircle.inputs.scenario import PLAN_FACTORS_2025, load_scenario
from carecircle.runs.compare import (
    compare,
    indicators_display,
    run_one,
    summary_display,
    sweep,
    write_sweep,
)


@pytest.fixture(scope="module")
def demo(demo_scenario) -> Path:
    """The demo city's folder, with its four scenarios."""
    return demo_scenario.parent


@pytest.fixture(scope="module")
def cmp(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    files = ["scenario.toml", "scenario-budget.toml", "scenario-slow.toml", "scenario-2020.toml"]
    return compare([demo / f for f in files], out_dir=out, quiet=True), out


def _row(c, name: str) -> pd.Series:
    return c.summary.set_index("scenario").loc[name]


def test_half_budget_buys_fewer_sites_and_less_coverage(cmp, demo):
    c, _ = cmp
    base, half = _row(c, "demo"), _row(c, "demo-budget")
    budget = load_scenario(demo / "scenario-budget.toml").plan.budget_yuan
    assert half["cost_yuan"] <= budget < base["cost_yuan"]
    assert half["sites"] < base["sites"]
    assert half["served_both_after"] < base["served_both_after"] == base["communities_on_network"]
    assert half["places_added"] < base["places_added"]


def test_slower_elderly_walk_serves_fewer_today_and_costs_more(cmp):
    c, _ = cmp
    base, slow = _row(c, "demo"), _row(c, "demo-slow")
    assert slow["served_both_before"] < base["served_both_before"]
    assert slow["cost_yuan"] > base["cost_yuan"] and slow["sites"] > base["sites"]
    # the elderly walk is shorter, so every community reached at 0.8 m/s is reached at 1.0
    slow_run, base_run = c.runs["demo-slow"], c.runs["demo"]
    assert not (slow_run.communities["elderly_served"] & ~base_run.communities["elderly_served"]).any()


def test_what_the_growth_to_2025_costs(cmp):
    c, _ = cmp
    now, later = _row(c, "demo-2020"), _row(c, "demo")
    assert (now["demand_year"], later["demand_year"]) == (2020, 2025)
    # the plan's own factors, applied to every community
    # (whole people: each district's total is rounded once, so within one per district)
    for col in ("population", "pop_60plus"):
        assert later[col] == pytest.approx(now[col] * PLAN_FACTORS_2025[col], abs=2.0), col
    assert later["places_target"] == pytest.approx(later["population"] / 1000 * 4.8)
    assert later["public_beds_target"] == pytest.approx(later["pop_60plus"] * 0.01)
    # more children and more residents: more places to add and more money
    assert later["places_added"] > now["places_added"]
    assert later["cost_yuan"] > now["cost_yuan"]


def test_site_membership_matches_each_plans_own_table(cmp):
    c, out = cmp
    for name in c.names:
        sites = pd.read_csv(out / name / "sites.csv", encoding="utf-8-sig")
        own = set(sites["编号 ID"].astype(str))
        assert set(c.sites.loc[c.sites[name], "id"]) == own
    flags = c.sites[c.names].to_numpy(dtype=bool)
    assert (c.sites["in_all"] == flags.all(axis=1)).all()
    assert (c.sites["in_some"] == (flags.any(axis=1) & ~flags.all(axis=1))).all()
    assert flags.any(axis=1).all()  # every listed site is in some plan


def test_indicators_side_by_side(cmp):
    c, _ = cmp
    ind = c.indicators.set_index(["district", "indicator"])
    for name, run in c.runs.items():
        after = run.districts_after.set_index(["district", "indicator"])["value"]
        assert np.allclose(ind[name].reindex(after.index).to_numpy(dtype=float),
                           after.to_numpy(dtype=float), equal_nan=True)


def test_comparison_files(cmp):
    c, out = cmp
    for stem in ("compare_summary", "compare_indicators", "compare_sites"):
        assert (out / f"{stem}.csv").stat().st_size > 0 and (out / f"{stem}.xlsx").is_file()
    summary = pd.read_csv(out / "compare_summary.csv", encoding="utf-8-sig")
    assert summary["情景 Scenario"].tolist() == c.names
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG"
    html = (out / "compare.html").read_text(encoding="utf-8")
    for name in c.names:
        assert f'href="{name}/briefing.html"' in html
        assert (out / name / "briefing.html").is_file()
    assert all(p.exists() for p in c.files)
    assert not list(out.glob(".staging-*"))


def test_names_from_the_inputs_are_escaped(tmp_path, demo):
    scen = load_scenario(demo / "scenario.toml")
    evil = scen.replace(name="evil", title="<script>alert(1)</script>")
    other = scen.replace(name="other", walking=dataclasses.replace(scen.walking, minutes=20.0))
    c = compare([evil, other], out_dir=tmp_path, quiet=True)
    html = (tmp_path / "compare.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # 20 minutes reach farther than 15: more served today, never fewer
    assert _row(c, "other")["served_both_before"] >= _row(c, "evil")["served_both_before"]


def test_budget_sweep_reuses_the_model_and_matches_independent_runs(demo):
    scen = load_scenario(demo / "scenario.toml")
    scen = scen.replace(plan=dataclasses.replace(scen.plan, district_targets=False))
    # below the 53 M yuan that serving every community costs (with the building paid once)
    budgets = [0.0, 15e6, 30e6, 45e6]
    table = sweep(scen, "budget_yuan", budgets, quiet=True)
    assert table["value"].tolist() == budgets
    assert (table["solver_status"] == "optimal").all()
    assert (table["cost_yuan"] <= table["value"] + 1e-6).all()
    assert table["sites"].iloc[0] == 0
    served = table["served_both_after"].to_numpy()
    assert (np.diff(served) >= 0).all() and served[-1] > served[0]
    # the point at 30 M equals a plan solved from scratch with that budget
    alone = run_one(scen.replace(plan=dataclasses.replace(scen.plan, mode="budget",
                                                          budget_yuan=30e6)))
    row = table.set_index("value").loc[30e6]
    assert row["cost_yuan"] == pytest.approx(alone.headline["cost_yuan"])
    assert row["served_both_after"] == alone.headline["served_both_after"]


def test_budget_below_the_targets_is_an_infeasible_row_not_a_crash(demo):
    table = sweep(demo / "scenario.toml", "budget_yuan", [1e6, 400e6], quiet=True)
    assert table["solver_status"].tolist() == ["infeasible", "optimal"]
    assert np.isnan(table["cost_yuan"].iloc[0]) and table["cost_yuan"].iloc[1] > 0


def test_speed_sweep_serves_more_today_at_higher_speed(tmp_path, demo):
    table = sweep(demo / "scenario.toml", "speed_elderly", [0.8, 1.0, 1.2], quiet=True)
    before = table["served_both_before"].to_numpy()
    assert (np.diff(before) >= 0).all() and before[-1] > before[0]
    assert (np.diff(table["cost_yuan"].to_numpy()) <= 0).all()  # fewer gaps, less to build
    files = write_sweep(table, tmp_path)
    assert [p.name for p in files] == ["sweep_speed_elderly.csv", "sweep_speed_elderly.xlsx",
                                       "sweep_speed_elderly.png"]
    back = pd.read_csv(files[0], encoding="utf-8-sig")
    assert back.columns[1] == "老年人步速(米/秒) Elderly walking speed (m/s)"


def test_bad_requests_are_clear_errors(tmp_path, demo):
    with pytest.raises(ScenarioError, match="at least two"):
        compare([demo / "scenario.toml"], quiet=True)
    with pytest.raises(ScenarioError, match="names must differ"):
        compare([demo / "scenario.toml", demo / "scenario.toml"], quiet=True)
    with pytest.raises(ScenarioError, match="cannot sweep 'beds'"):
        sweep(demo / "scenario.toml", "beds", [1.0], quiet=True)
    with pytest.raises(ScenarioError, match="must be > 0"):
        sweep(demo / "scenario.toml", "minutes", [0.0], quiet=True)


def test_a_failed_comparison_keeps_the_previous_one(tmp_path, capsys, demo):
    out = tmp_path / "cmp"
    out.mkdir()
    (out / "compare.html").write_text("previous good comparison", encoding="utf-8")
    bad = tmp_path / "bad.toml"
    text = (demo / "scenario.toml").read_text(encoding="utf-8")
    text = text.replace('name = "demo"', 'name = "bad"').replace(
        'candidates = "candidates.geojson"', 'candidates = "missing.geojson"')
    bad.write_text(text.replace('output_dir = "../../maps/demo"', ""), encoding="utf-8")
    for name in ("network.osm", "districts.geojson", "streets.geojson", "communities.geojson",
                 "facilities.geojson", "population.geojson"):
        (tmp_path / name).symlink_to(demo / name)
    code = cli.main(["-q", "compare", str(demo / "scenario.toml"), str(bad), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and "missing.geojson" in err
    assert (out / "compare.html").read_text(encoding="utf-8") == "previous good comparison"
    assert sorted(p.name for p in out.iterdir()) == ["compare.html"]


def test_cli_sweep(tmp_path, capsys, demo):
    code = cli.main(["-q", "sweep", str(demo / "scenario.toml"), "--parameter", "minutes",
                     "--values", "10,15", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "步行时间(分钟) Walking minutes" in out
    assert (tmp_path / "sweep_minutes.csv").is_file()
    table = pd.read_csv(tmp_path / "sweep_minutes.csv", encoding="utf-8-sig")
    assert table.iloc[:, 1].tolist() == [10.0, 15.0]
    code = cli.main(["-q", "sweep", str(demo / "scenario.toml"), "--parameter", "minutes",
                     "--values", "ten", "--out", str(tmp_path)])
    assert code == 2 and "expected numbers" in capsys.readouterr().err


def test_demo_scenarios_are_documented():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "carecircle compare" in readme and "carecircle sweep" in readme


# ---------------------------------------------------------------- what people read


def test_the_parameters_that_differ_come_first(cmp):
    c, out = cmp
    p = c.parameters
    differ = p.loc[p["differs"], "parameter"].tolist()
    # the four demo scenarios: budget mode and amount, the elderly speed, the demand year
    assert set(differ) == {"plan.mode", "plan.budget_yuan", "plan.district_targets",
                           "walking.speed_mps.elderly", "demand.year"}
    assert p["differs"].tolist() == sorted(p["differs"].tolist(), reverse=True)
    row = p.set_index("parameter").loc["walking.speed_mps.elderly"]
    assert (row["demo"], row["demo-slow"]) == ("1", "0.8")
    assert {"profile", "currency", "targets.urban_elderly_coverage", "inputs.network"} <= set(
        p["parameter"])
    saved = pd.read_csv(out / "compare_parameters.csv", encoding="utf-8-sig", dtype=str)
    assert saved["参数 Parameter"].tolist()[:len(differ)] == differ


def test_the_summary_reads_as_the_briefing(cmp):
    c, _ = cmp
    shown = summary_display(c)
    labels = list(shown.index)
    assert all(label.startswith("参数 Parameter: ") for label in labels[:5])
    assert not any(label.startswith("参数 Parameter: ") for label in labels[5:])
    year = shown.loc["需求年份 Demand year"]
    assert (year["demo"], year["demo-2020"]) == ("2025", "2020")  # not "2,025"
    pop = shown.loc["常住人口 Residents", "demo"]
    assert pop == f"{_row(c, 'demo')['population']:,.0f}" and "." not in pop  # whole people
    cost = shown.loc["建设费用(元) Construction cost (yuan)", "demo"]
    assert cost.endswith("万元)") and " 元 (" in cost
    assert shown.loc["预算(元) Budget (yuan)", "demo"] == "—"


def test_indicators_read_as_the_briefing(cmp):
    c, out = cmp
    ind = indicators_display(c)
    row = ind[(ind["label"].str.contains("Urban community")) & (ind["district_name"] == "雁塔区")]
    value = float(c.indicators.loc[row.index[0], "demo-budget"])
    assert row["demo-budget"].iloc[0].startswith(f"{100 * value:.1f}% ")
    assert row["demo"].iloc[0] == "100.0% ✓"
    beds = ind[ind["label"].str.contains("Public elderly-institution beds")]["demo"]
    assert beds.str.fullmatch(r"[\d,]+ [✓✗]").all()
    html = (out / "compare.html").read_text(encoding="utf-8")
    assert "100.0% ✓" in html and "2,025" not in html and "0.933333" not in html
    assert html.index("Parameter: plan.mode") < html.index("Residents")


def test_cli_compare_prints_the_differences_first(tmp_path, capsys, demo):
    code = cli.main(["-q", "compare", str(demo / "scenario.toml"), str(demo / "scenario-slow.toml"),
                     "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[2].startswith("参数 Parameter: walking.speed_mps.elderly")
    assert "2,025" not in out and " 2025 " in out
