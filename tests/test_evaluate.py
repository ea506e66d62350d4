"""evaluate_sites: a hand-computed case, the solver's own district table for its plan,
and a brute-force recount of who is served on random instances."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from carecircle.errors import InputError
from carecircle.siting.evaluate import PlanBasis, evaluate_sites, site_kinds
from carecircle.siting.problem import SitingProblem
from carecircle.siting.solve import solve_siting
from carecircle.siting.synthetic import random_siting_problem

T, F = True, False


def hand_problem() -> SitingProblem:
    """4 communities in 2 districts, 3 candidates (x shares, y cannot, z a street centre)."""
    return SitingProblem.from_arrays(
        community_ids=["a", "b", "c", "d"], district=["D1", "D1", "D2", "D2"],
        urban=[T, T, T, F],
        weight={"elderly": [10, 20, 30, 40], "childcare": [1, 2, 3, 4]},
        cover={"elderly": np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]]),
               "childcare": np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]])},
        candidate_ids=["x", "y", "z"], candidate_district=["D1", "D1", "D2"],
        can_host={"elderly": [T, T, T], "childcare": [T, T, F], "street_centre": [F, F, T]},
        cost={"elderly": [100, 200, 300], "childcare": [50, 60, 70],
              "street_centre": [0, 0, 400]},
        existing_served={"elderly": [F, F, F, T], "childcare": [F, F, F, F]},
        cost_shared=[120, np.nan, np.nan], places_new=[10, 20, 30],
        population=[1000, 1000, 500, 500], street=["s1", "s1", "s2", "s3"],
        candidate_street=["s1", "s1", "s3"], streets_with_centre=["s1"],
    )


def test_site_kinds_follow_the_stated_rule():
    P = hand_problem()
    # x may share -> both; y may not share -> elderly only; z: street without a centre
    assert site_kinds(P) == [("elderly", "childcare"), ("elderly",), ("street_centre",)]
    # a plan's site keeps the plan's kinds
    plan = {"childcare": np.array([0])}
    assert site_kinds(P, plan)[0] == ("childcare",)
    # in a street that has a centre, a centre-capable site opens as elderly care
    P2 = P.with_changes(streets_with_centre=np.array(["s1", "s3"], dtype=object))
    assert site_kinds(P2)[2] == ("elderly",)


def test_hand_computed_case():
    ev = evaluate_sites(hand_problem(), ["x", "z"])
    assert ev.site_ids == ["x", "z"]
    assert ev.served["elderly"].tolist() == [T, F, T, T]
    assert ev.served["childcare"].tolist() == [T, F, F, F]
    d = ev.districts.set_index("district")
    assert d.at["D1", "elderly_urban_after"] == 0.5
    assert math.isnan(d.at["D1", "elderly_rural_after"])
    assert d.at["D1", "childcare_urban_after"] == 0.5
    assert d.at["D2", "elderly_urban_after"] == 1.0 and d.at["D2", "elderly_rural_after"] == 1.0
    assert d.at["D2", "childcare_rural_after"] == 0.0
    assert (d.at["D1", "streets"], d.at["D1", "streets_with_centre_after"]) == (1, 1)
    assert (d.at["D2", "streets"], d.at["D2", "streets_with_centre_before"],
            d.at["D2", "streets_with_centre_after"]) == (2, 0, 1)
    assert d.at["D1", "places_per_1000_after"] == 5.0 and d.at["D2", "places_per_1000_after"] == 0
    # x hosts both kinds in one building: 100 + 50 + (120 - 150) = 120
    assert d.at["D1", "cost"] == 120 and d.at["D2", "cost"] == 400
    assert (d.at["D1", "new_elderly"], d.at["D1", "new_childcare"], d.at["D2", "new_street_centre"]) \
        == (1, 1, 1)
    t = ev.totals
    assert (t["served_elderly"], t["served_childcare"], t["served_both"]) == (3, 1, 1)
    assert (t["elderly_residents_served"], t["childcare_residents_served"]) == (80, 1)
    assert (t["cost"], t["places_added"], t["sites"]) == (520, 10, 2)
    assert t["served_elderly_before"] == 1


def test_no_sites_is_today():
    ev = evaluate_sites(hand_problem(), [])
    assert ev.served["elderly"].tolist() == [F, F, F, T]
    assert ev.totals["cost"] == 0 and ev.totals["sites"] == 0
    assert len(ev.sites) == 0


def test_bad_sites_are_refused():
    with pytest.raises(InputError, match="unknown candidate"):
        evaluate_sites(hand_problem(), ["x", "nope"])
    P = hand_problem().with_changes(can_host={"elderly": [T, F, T], "childcare": [T, F, F],
                                              "street_centre": [F, F, T]})
    with pytest.raises(InputError, match="host no kind"):
        evaluate_sites(P, ["y"])


@pytest.mark.parametrize("seed", [3, 6])
def test_the_plan_evaluated_gives_the_solvers_district_table(seed):
    P = random_siting_problem(150, 500, seed=seed)
    res = solve_siting(P, time_limit=60)
    assert res.has_solution
    basis = PlanBasis(P, res.opened)
    ev = evaluate_sites(basis, basis.proposed_ids)
    pd.testing.assert_frame_equal(ev.districts, res.districts)
    served = res.served
    assert (ev.served["elderly"].to_numpy() == served["elderly_after"].to_numpy()).all()
    assert (ev.served["childcare"].to_numpy() == served["childcare_after"].to_numpy()).all()
    assert ev.totals["cost"] == pytest.approx(res.total_cost)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_served_equals_a_brute_force_recount(seed):
    P = random_siting_problem(90, 50, seed=seed, per_community=6)
    rng = np.random.default_rng(seed)
    kinds = site_kinds(P)
    pick = [str(P.candidate_ids[j]) for j in range(P.n_candidates)
            if kinds[j] and rng.random() < 0.3]
    ev = evaluate_sites(P, pick)
    dense = {k: P.cover[k].toarray() for k in ("elderly", "childcare", "street_centre")}
    ids = list(map(str, P.candidate_ids))
    for i in range(P.n_communities):
        want_e = bool(P.existing_served["elderly"][i]) or any(
            dense["elderly" if "elderly" in kinds[ids.index(s)] else "street_centre"][i, ids.index(s)]
            for s in pick if {"elderly", "street_centre"} & set(kinds[ids.index(s)]))
        want_c = bool(P.existing_served["childcare"][i]) or any(
            dense["childcare"][i, ids.index(s)] for s in pick if "childcare" in kinds[ids.index(s)])
        assert ev.served["elderly"].iloc[i] == want_e, i
        assert ev.served["childcare"].iloc[i] == want_c, i
    # cost per district: each site's cost summed by hand
    cost = {}
    for s in pick:
        j = ids.index(s)
        ks = kinds[j]
        c = sum(P.cost[k][j] for k in ks)
        if "elderly" in ks and "childcare" in ks and np.isfinite(P.cost_shared[j]):
            c = P.cost_shared[j]
        cost[P.candidate_district[j]] = cost.get(P.candidate_district[j], 0.0) + c
    d = ev.districts.set_index("district")["cost"]
    for dist, c in cost.items():
        assert d[dist] == pytest.approx(c)
