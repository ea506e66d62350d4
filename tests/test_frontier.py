"""Tests for the cost-coverage frontier."""

from __future__ import annotations

import numpy as np
import pytest

from carecircle.siting.frontier import frontier
from carecircle.siting.solve import solve_siting
from carecircle.siting.synthetic import random_siting_problem


@pytest.fixture(scope="module")
def problem():
    return random_siting_problem(70, 200, seed=8, per_community=12, streets_per_district=2)


@pytest.fixture(scope="module")
def curve(problem):
    return frontier(problem, n=6, mip_gap=0)


def test_frontier_is_monotone_and_ends_at_full_coverage(problem, curve):
    assert len(curve) == 6
    assert (curve["status"] == "optimal").all()
    assert np.all(np.diff(curve["budget"]) > 0)
    assert np.all(np.diff(curve["residents_served"]) >= -1e-9)
    assert (curve["cost"] <= curve["budget"] + 1e-6).all()
    # Budget 0 (no free candidates): only today's coverage.
    today = sum(
        problem.weight[k][problem.existing_served[k]].sum() for k in ("elderly", "childcare")
    )
    assert curve["residents_served"].iloc[0] == pytest.approx(today)
    assert curve["new_sites"].iloc[0] == 0
    # The last point is the cover-all cost and serves everyone who can be served.
    full = solve_siting(problem, mode="cover_all", targets=(), allow_uncoverable=True, mip_gap=0)
    assert curve.attrs["cover_all_cost"] == pytest.approx(full.total_cost)
    assert curve["budget"].iloc[-1] == pytest.approx(full.total_cost)
    assert curve["residents_served"].iloc[-1] == pytest.approx(curve.attrs["coverable_residents"])
    for k in ("elderly", "childcare"):
        assert curve[f"{k}_communities_served"].iloc[-1] == int(full.served[f"{k}_after"].sum())


def test_frontier_points_match_independent_budget_solves(problem, curve):
    for i in (1, 3):
        b = float(curve["budget"].iloc[i])
        r = solve_siting(problem, mode="budget", budget=b, targets=(), mip_gap=0)
        assert r.objective == pytest.approx(curve["residents_served"].iloc[i])


def test_frontier_given_budgets_and_targets(problem):
    full = solve_siting(problem, mode="cover_all", allow_uncoverable=True)
    assert full.has_solution
    budgets = [0.0, 0.5 * full.total_cost, 2 * full.total_cost]
    df = frontier(problem, budgets=budgets, targets=None)
    assert df["budget"].tolist() == sorted(budgets)
    # The district targets cost money: nothing meets them for free.
    assert df["status"].iloc[0] == "infeasible"
    assert df["status"].iloc[-1] == "optimal"
    assert df["residents_served"].iloc[-1] == pytest.approx(df.attrs["coverable_residents"])
