"""Every community and every place accounted for, on the demo city: streets, reasons,
capacity, whole people."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carecircle.assess.streets import NO_STREET, street_sums
from carecircle.inputs.scenario import load_scenario
from carecircle.runs.context import prepare
from carecircle.runs.pipeline import assess_context
from carecircle.runs.plan import plan_context


@pytest.fixture(scope="module")
def demo_run(demo_scenario):
    ctx = prepare(load_scenario(demo_scenario), quiet=True)
    today = assess_context(ctx)
    return today, plan_context(ctx, today, quiet=True)


def _value(table: pd.DataFrame, district: str, indicator: str, col: str = "value") -> float:
    row = table[(table["district"] == district) & (table["indicator"] == indicator)]
    return float(row[col].iloc[0])


@pytest.mark.parametrize("when", ["today", "after"])
def test_street_sums_equal_district_sums(demo_run, when):
    today, planned = demo_run
    run = planned
    table = planned.districts_after if when == "after" else today.districts_before
    sfx = "_after" if when == "after" else ""
    st = run.streets
    sums = street_sums(st)
    comm = run.communities
    for d in ("610113", "610116"):
        assert sums.loc[d, "communities"] == (comm["district"] == d).sum()
        assert sums.loc[d, "population"] == comm.loc[comm["district"] == d, "population"].sum()
        # compliance (both kinds) = both served / on the network, summed over the streets
        assert sums.loc[d, f"both_served{sfx}"] / sums.loc[d, "on_network"] == \
            pytest.approx(_value(table, d, "compliance"))
        # places per 1,000 residents
        assert 1000 * sums.loc[d, f"childcare_places{sfx}"] / sums.loc[d, "population"] == \
            pytest.approx(_value(table, d, "childcare_places"))
        # streets with a centre / streets of the district
        real = st[(st["district"] == d) & (st["street"] != NO_STREET)]
        assert real[f"street_centre{sfx}"].sum() / len(real) == \
            pytest.approx(_value(table, d, "street_centre"))
    if when == "after":
        sites = planned.sites
        by_d = sites.groupby("district")["cost_yuan"].sum()
        for d in by_d.index:
            assert sums.loc[d, "cost_yuan"] == pytest.approx(by_d[d])
            assert sums.loc[d, "new_sites"] == (sites["district"] == d).sum()
        cost = planned.costs["districts"] if planned.costs and "districts" in planned.costs else None
        assert st["cost_yuan"].sum() == pytest.approx(sites["cost_yuan"].sum())
        assert cost is None or len(cost)


def test_sites_carry_their_street(demo_run):
    _, planned = demo_run
    sites = planned.sites
    assert "street" in sites.columns and sites["street"].notna().all()
    streets = planned.inputs["streets"]
    # each site's street polygon contains it
    for s in sites.head(10).itertuples():
        poly = streets.loc[streets["code"] == s.street, "geometry"].iloc[0]
        assert poly.contains(s.geometry)
    assert (sites["floor_area_needed_m2"] > 0).all()


def test_every_community_has_a_reason_and_the_headline_counts_them(demo_run):
    today, planned = demo_run
    comm = planned.communities
    for col in ("elderly_reason", "childcare_reason", "elderly_reason_after", "childcare_reason_after"):
        assert comm[col].notna().all() and (comm[col] != "").all()
    off = ~comm["snapped"]
    assert set(comm.loc[off, "elderly_reason_after"]) <= {"outside_extent", "not_on_network"}
    # served on recomputation = reason served or capacity (served, but full)
    served = comm["elderly_served_after"] & comm["snapped"]
    assert set(comm.loc[served, "elderly_reason_after"]) <= {"served", "capacity"}
    unserved = ((comm["elderly_reason_after"] != "served") | (comm["childcare_reason_after"] != "served"))
    assert planned.headline["unserved_after"] == int(unserved.sum())
    assert today.headline["unserved_before"] >= planned.headline["unserved_after"]


def test_capacity_today_and_after(demo_run):
    today, planned = demo_run
    fac = planned.facilities
    q = fac[fac["qualifies"].astype(bool)]
    existing = q[q["load"].notna()]  # the plan's new facilities have no load today
    assert len(existing) and len(q) > len(existing)
    assert (existing["load"] <= existing["capacity"] + 1e-6).all()
    assert (q["load_after"] <= q["capacity"] + 1e-6).all()
    over = q[q["over_capacity"].astype(bool)]
    assert len(over) and (over["load_nearest"] > over["capacity"]).all()
    comm = planned.communities
    for k in ("elderly", "childcare"):
        assert (comm[f"{k}_placed"] <= comm[f"{k}_demand"] + 1e-6).all()
        # new facilities add capacity: never less placed after the plan
        assert comm[f"{k}_placed_after"].sum() >= comm[f"{k}_placed"].sum() - 1e-6
        # whole people
        assert (comm[f"{k}_demand"] == np.round(comm[f"{k}_demand"])).all()
    for col in ("population", "pop_60plus", "pop_0_3"):
        assert (comm[col] == np.round(comm[col])).all()


def test_briefing_lists_the_unserved(demo_run, tmp_path):
    from carecircle.outputs.briefing import briefing_html, unserved_rows

    _, planned = demo_run
    rows = unserved_rows(planned)
    assert rows["after"] and rows["total"] == planned.headline["unserved_after"]
    html = briefing_html(planned)
    assert 'id="unserved"' in html
    for r in rows["rows"]:
        assert r["reason"].split(" ")[0] in html


def test_a_community_whose_candidates_are_all_excluded_says_so(demo_scenario):
    # The case: candidates excluded, communities left unserved without a word.
    # Exclude every candidate within the elderly walk of one community: after a cover-all
    # plan (allow_uncoverable) it is not served for elderly care, and says why.
    import dataclasses

    from carecircle.outputs.briefing import unserved_rows
    from carecircle.runs.plan import build_problem

    ctx = prepare(load_scenario(demo_scenario), quiet=True)
    today = assess_context(ctx)
    problem, _ = build_problem(ctx, today)
    i = int(np.flatnonzero(~problem.existing_served["elderly"])[0])
    reach = set(problem.cover["elderly"][i].indices) | set(problem.cover["street_centre"][i].indices)
    excluded = sorted(problem.candidate_ids[sorted(reach)].tolist())
    scen = ctx.scenario.replace(plan=dataclasses.replace(ctx.scenario.plan, excluded=tuple(excluded)))
    planned = plan_context(dataclasses.replace(ctx, scenario=scen), today, quiet=True)
    comm = planned.communities.set_index("id")
    cid = problem.community_ids[i]
    assert comm.loc[cid, "elderly_reason_after"] == "excluded_only"
    assert "Only excluded candidate sites" in comm.loc[cid, "reason"]
    rows = unserved_rows(planned)["rows"]
    assert any("excluded" in r["reason"] and comm.loc[cid, "name"] in r["examples"] for r in rows)
    assert planned.headline["unserved_after"] >= 1
