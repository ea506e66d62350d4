"""Why a community is not served: each cause, by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from carecircle.assess.reasons import REASONS, add_reasons, reason_text, unserved_summary
from carecircle.siting.problem import SitingProblem
from carecircle.siting.reasons import plan_reasons


def _problem(cover_e, cover_c=None, excluded=None, can_host_e=None) -> SitingProblem:
    cover_e = np.asarray(cover_e)
    n, J = cover_e.shape
    return SitingProblem.from_arrays(
        community_ids=[f"c{i}" for i in range(n)], district=["D"] * n, urban=[True] * n,
        weight={"elderly": [1.0] * n, "childcare": [1.0] * n},
        cover={"elderly": cover_e, "childcare": cover_e if cover_c is None else cover_c},
        candidate_ids=[f"s{j}" for j in range(J)], candidate_district=["D"] * J,
        can_host={"elderly": can_host_e if can_host_e is not None else [True] * J,
                  "childcare": [True] * J},
        cost={"elderly": [1.0] * J, "childcare": [1.0] * J}, excluded=excluded)


def test_plan_reasons_each_cause():
    # c0: no candidate in reach; c1: only s1 in reach, excluded; c2: s0 in reach (allowed)
    # but not served; c3: served.  c4: s2 in reach, but s2 cannot host elderly care (too
    # small, or its kinds): no candidate for elderly.
    cover = [[0, 0, 0], [0, 1, 0], [1, 0, 0], [1, 0, 0], [0, 0, 1]]
    P = _problem(cover, excluded=["s1"], can_host_e=[True, True, False])
    served = {"elderly": np.array([False, False, False, True, False]),
              "childcare": np.array([False, False, False, True, True])}
    budget = plan_reasons(P, served, "budget")
    assert budget["elderly"].tolist() == ["no_candidate", "excluded_only", "budget", "", "no_candidate"]
    assert budget["childcare"].tolist() == ["no_candidate", "excluded_only", "budget", "", ""]
    cover_all = plan_reasons(P, served, "cover_all")
    assert cover_all["elderly"][2] == "other"
    # an elderly institution (issue 19) serves elderly care: s2 may host one, so c4 has a
    # candidate for elderly care after all
    P2 = P.with_changes(can_host={**P.can_host, "institution": np.array([False, False, True])},
                        cost={**P.cost, "institution": np.array([np.nan, np.nan, 1.0])})
    assert plan_reasons(P2, served, "budget")["elderly"][4] == "budget"


def _communities() -> pd.DataFrame:
    # a: served; b: served but its facilities are full (capacity); c: a small facility only
    # (substandard); d: nothing within reach; e: beyond the snap limit; f: outside the extent
    return pd.DataFrame({
        "id": list("abcdef"), "name": ["甲", "乙", "丙", "丁", "戊", "己"], "district": ["D"] * 6,
        "district_name": ["区"] * 6,
        "snapped": [True, True, True, True, False, False],
        "outside_extent": [False] * 5 + [True],
        "elderly_served": [True, True, False, False, False, False],
        "elderly_substandard": [False, False, True, False, False, False],
        "elderly_capacity_full": [False, True, False, False, False, False],
        "childcare_served": [True] * 4 + [False, False],
        "childcare_substandard": [False] * 6,
    })


def test_today_reasons_each_cause():
    out = add_reasons(_communities())
    assert out["elderly_reason"].tolist() == ["served", "capacity", "substandard", "no_facility",
                                              "not_on_network", "outside_extent"]
    assert out["childcare_reason"].tolist() == ["served"] * 4 + ["not_on_network", "outside_extent"]
    assert out["reason"].iloc[0] == REASONS["served"]
    assert out["reason"].iloc[1] == "养老 Elderly care: " + REASONS["capacity"]
    assert out["reason"].iloc[5] == REASONS["outside_extent"]


def test_after_reasons_combine_the_plans_codes_with_capacity_and_the_network():
    comm = _communities()
    comm["elderly_served_after"] = [True, True, True, False, False, False]
    comm["childcare_served_after"] = [True, True, False, True, False, False]
    comm["elderly_capacity_full_after"] = [False, True, False, False, False, False]
    codes = {"elderly": np.array(["", "", "", "budget", "", ""], dtype=object),
             "childcare": np.array(["", "", "excluded_only", "", "", ""], dtype=object)}
    out = add_reasons(comm, plan_codes=codes)
    assert out["elderly_reason_after"].tolist() == ["served", "capacity", "served", "budget",
                                                    "not_on_network", "outside_extent"]
    assert out["childcare_reason_after"].tolist() == ["served", "served", "excluded_only", "served",
                                                      "not_on_network", "outside_extent"]
    assert out["reason"].iloc[3] == "养老 Elderly care: " + REASONS["budget"]
    # today's columns stay
    assert out["elderly_reason"].iloc[3] == "no_facility"
    summary = unserved_summary(out, after=True)
    # elderly: b capacity, d budget, e, f off the network; childcare: c excluded, e, f
    assert len(summary) == 7 and (summary["communities"] == 1).all()
    row = summary[(summary["kind"] == "childcare") & (summary["reason"] == "excluded_only")].iloc[0]
    assert row["names"] == ["丙"] and row["districts"] == {"区": 1}


def test_reason_text_names_both_kinds_when_they_share_a_cause():
    text = reason_text({"elderly": np.array(["no_candidate"]), "childcare": np.array(["no_candidate"])})
    assert text[0].startswith("养老和托育 Elderly care and childcare")


def test_a_village_served_within_the_rural_limit_says_so():
    # Issue 19's villages: elderly care judged at the rural travel limit; the reason codes
    # are coverage's (served), and the text names the limit.
    comm = pd.DataFrame({
        "id": ["v1", "v2", "u1"], "urban_rural": ["rural", "rural", "urban"],
        "snapped": [True, True, True], "outside_extent": [False] * 3,
        "elderly_served": [True, False, False], "childcare_served": [True, True, True],
        "elderly_substandard": [False, False, False], "childcare_substandard": [False] * 3})
    out = add_reasons(comm, rural_limit_m=2000.0)
    assert out["elderly_reason"].tolist() == ["served", "no_facility", "no_facility"]
    assert out["reason"][0] == ("养老 Elderly care: 已覆盖(村, 农村出行距离 2,000 m 内) "
                                "Served (village: within the rural travel limit, 2,000 m)")
    assert "within the rural travel limit (2,000 m)" in out["reason"][1]
    assert "农村出行距离内" in out["reason"][1]
    assert out["reason"][2] == f"养老 Elderly care: {REASONS['no_facility']}"  # a city block: the walk
    # without the limit, a village reads like a city block
    assert add_reasons(comm)["reason"][0] == REASONS["served"]
