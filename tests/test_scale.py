"""Tests for the scale path of the siting optimiser: the bound and the heuristics.

The exact optimum (HiGHS with no gap, itself checked against brute force in
test_optimize.py) is the reference: the bound must never pass it, the plan never
beat it, and the plan must lie within the gap the result reports.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from carecircle.siting import _milp, bound, greedy, improve
from carecircle.siting.model import build_model
from carecircle.siting.problem import BedTargets, SitingProblem, make_district_targets
from carecircle.siting.result import communities_served, plan_cost
from carecircle.siting.solve import solve_siting
from carecircle.siting.synthetic import random_siting_problem
from test_optimize import _oracle_required_met, _oracle_targets_met, _tiny_problem


def _kinds(r, J):
    return [{k for k, idx in r.opened.items() if j in set(idx.tolist())} for j in range(J)]


def _check_plan(P, mode, budget, targets_on, r):
    """The plan meets the problem, read independently of the model."""
    served = communities_served(P, r.opened)
    assert r.total_cost == pytest.approx(plan_cost(P, r.opened).sum())
    assert _oracle_required_met(P, _kinds(r, P.n_candidates))
    if mode == "cover_all":
        assert served["elderly"].all() and served["childcare"].all()
    else:
        assert r.total_cost <= budget + 1e-6
    if targets_on:
        assert _oracle_targets_met(P, mode, _kinds(r, P.n_candidates), served["elderly"])


@pytest.mark.parametrize("mode", ["cover_all", "budget"])
def test_scale_path_against_exact_200(mode):
    """Plan within its reported gap of the exact optimum; bound never past the optimum."""
    rng = np.random.default_rng(31 if mode == "cover_all" else 32)
    n_feasible = n_gap = 0
    for _ in range(200):
        P = _tiny_problem(rng)
        targets_on = bool(rng.random() < 0.7)
        budget = float(rng.integers(0, 20)) if mode == "budget" else None
        tg = None if targets_on else ()
        exact = solve_siting(P, mode=mode, budget=budget, targets=tg, mip_gap=0, method="exact")
        r = solve_siting(
            P, mode=mode, budget=budget, targets=tg, method="scale", time_limit=2.0, gap_target=0
        )
        if exact.status == "infeasible":
            assert r.status == "infeasible"
            continue
        n_feasible += 1
        assert r.has_solution, r.message
        # An empty model (nothing left to decide) is answered without a solver.
        assert r.method == ("scale" if r.reduction.cols else "exact")
        _check_plan(P, mode, budget, targets_on, r)
        opt, tol = exact.objective, 1e-6 * max(1.0, abs(exact.objective))
        if mode == "cover_all":
            assert r.bound <= opt + tol  # a lower bound
            assert r.objective >= opt - tol
        else:
            assert r.bound >= opt - tol  # an upper bound on residents served
            assert r.objective <= opt + tol
        # The plan is within the gap the result reports.
        assert abs(r.objective - opt) <= r.gap * max(abs(r.objective), 1e-9) + tol
        n_gap += r.gap > 1e-9
    assert n_feasible >= 60  # the comparison is not vacuous


def _lp_value(model):
    """The LP relaxation of the model itself, solved directly (an independent method)."""
    lp = replace(model, integrality=np.zeros(model.n_cols, bool))
    return _milp.solve(lp).objective


@pytest.mark.parametrize("mode", ["cover_all", "budget"])
def test_lp_bound_is_the_lp_relaxation(mode):
    P = random_siting_problem(150, 600, seed=4)
    budget = 2e7 if mode == "budget" else None
    M = build_model(P, mode=mode, budget=budget, targets=() if mode == "budget" else None)
    b = bound.lp_bound(M.milp, time_limit=30, solver="simplex")
    assert b.status == "optimal"
    want = _lp_value(M.milp)
    assert b.bound == pytest.approx(want, rel=1e-7)
    assert b.lp_value == pytest.approx(want, rel=1e-7)
    # The LP's plan is a point of the LP relaxation of the original model.
    assert b.x is not None
    act = M.milp.A @ b.x
    assert (act >= M.milp.row_lower - 1e-6).all() and (act <= M.milp.row_upper + 1e-6).all()


def test_interior_point_bound_is_valid_and_close_to_the_lp():
    """Budget mode's default LP (interior point, no convexity rows): a valid bound.

    Without the convexity rows the LP is a relaxation of the LP relaxation, so
    its certified bound may be weaker than the LP's value, never on the wrong
    side of it (an upper bound: the model maximises residents served).
    """
    P = random_siting_problem(150, 600, seed=4)
    for targets, budget in (((), 2e7), (None, 1e8)):  # with the targets, 5e7 is too little
        M = build_model(P, mode="budget", budget=budget, targets=targets)
        assert bound.has_budget_row(M.milp)
        b = bound.lp_bound(M.milp, time_limit=30)
        assert "interior point" in b.source and b.status == "optimal"
        want = _lp_value(M.milp)
        assert b.bound >= want - 1e-6 * abs(want)
        assert b.bound <= want * 1.01
        assert b.x is not None
        assert (b.x >= M.milp.col_lower).all() and (b.x <= M.milp.col_upper).all()
    # cover_all has no budget row: dual simplex, the LP's value exactly.
    M = build_model(P, mode="cover_all")
    assert not bound.has_budget_row(M.milp)
    assert "dual simplex" in bound.lp_bound(M.milp, time_limit=30).source


def _brute(model):
    """The MILP's optimum by enumerating every 0/1 point (tiny pure-binary models)."""
    best = math.inf
    sign = -1.0 if model.maximize else 1.0
    for bits in itertools.product((0.0, 1.0), repeat=model.n_cols):
        x = np.array(bits)
        if improve.feasible(model, x):
            best = min(best, sign * float(model.c @ x + model.offset))
    return sign * best


def _tiny_milp(rng):
    """Sites of two to four columns tied by packing and linking rows, cover rows over all."""
    blocks, rows = [], _milp.Rows()
    n = 0
    for _ in range(int(rng.integers(1, 4))):
        k = int(rng.integers(1, 4))
        cols = np.arange(n, n + k)
        n += k
        if k >= 2:
            rows.pairs(cols[:1], cols[1:2], 1.0)
        if k == 3:
            rows.pairs(cols[2:3], cols[:1], 0.0, sign_b=-1.0)  # x2 <= x0
        blocks.append(cols)
    for _ in range(int(rng.integers(1, 5))):
        cols = rng.choice(n, int(rng.integers(1, n + 1)), replace=False)
        rows.row(cols, rng.integers(1, 3, len(cols)).astype(float), 1.0, np.inf)
    return _milp.MilpModel(
        c=rng.integers(-2, 8, n).astype(float),
        A=rows.matrix(n),
        row_lower=np.concatenate(rows.lo),
        row_upper=np.concatenate(rows.hi),
        col_lower=np.zeros(n),
        col_upper=np.ones(n),
        integrality=np.ones(n, bool),
    )


def test_lagrangian_bound_below_optimum_for_any_multipliers():
    """Weak duality, checked by brute force: L(u) <= optimum for random u of the right signs."""
    rng = np.random.default_rng(8)
    checked = 0
    for _ in range(150):
        m = _tiny_milp(rng)
        opt = _brute(m)
        if not math.isfinite(opt):
            continue
        L = bound.relaxation(m)
        for _ in range(5):
            u = bound._project(L, rng.normal(0, 5, len(L.relaxed)))
            value, x = L.value(u)
            assert L.to_model(value) <= opt + 1e-9
            # x(u) satisfies the rows kept (a site's own rows).
            kept = np.setdiff1d(np.arange(m.n_rows), L.relaxed)
            act = m.A[kept] @ x
            assert (act >= m.row_lower[kept] - 1e-9).all() and (act <= m.row_upper[kept] + 1e-9).all()
        res = bound.maximise(L, time_limit=1.0, max_iter=200)
        assert L.to_model(res.bound) <= opt + 1e-9
        checked += 1
    assert checked >= 50


def test_relaxation_groups_a_sites_columns():
    # Two sites: columns (0, 1, 2) tied by x0 + x1 <= 1 and x2 <= x0; column 3 alone.
    rows = _milp.Rows()
    rows.pairs(np.array([0]), np.array([1]), 1.0)
    rows.pairs(np.array([2]), np.array([0]), 0.0, sign_b=-1.0)
    rows.row([0, 1, 3], np.ones(3), 1.0, np.inf)
    m = _milp.MilpModel(
        c=np.array([3.0, 2.0, -1.0, 4.0]),
        A=rows.matrix(4),
        row_lower=np.concatenate(rows.lo),
        row_upper=np.concatenate(rows.hi),
        col_lower=np.zeros(4),
        col_upper=np.ones(4),
        integrality=np.ones(4, bool),
    )
    L = bound.relaxation(m)
    assert L.relaxed.tolist() == [2]  # only the cover row is relaxed
    cols, ok = L.groups[3]
    assert sorted(cols[0].tolist()) == [0, 1, 2]
    # Feasible points of (x0, x1, x2): 000, 010, 100, 101 (x2 needs x0; x0 and x1 exclude).
    pts = L.points[3][ok[0]]
    order = np.argsort(cols[0])
    got = sorted(tuple(int(v) for v in p[order]) for p in pts)
    assert got == [(0, 0, 0), (0, 1, 0), (1, 0, 0), (1, 0, 1)]
    assert L.singles.tolist() == [3]
    # u = 2 on the cover row: site min(0, 2-2, 3-2, 3-2-1) = 0, column 3: min(0, 4-2) = 0,
    # plus 2 x 1 from the row: L = 2 (the optimum is 2: x1 alone).
    value, _ = L.value(np.array([2.0]))
    assert value == pytest.approx(2.0)
    assert _brute(m) == pytest.approx(2.0)


def test_tidy_keeps_rows_and_never_costs_more():
    rng = np.random.default_rng(9)
    for _ in range(100):
        m = _tiny_milp(rng)
        x = np.ones(m.n_cols)
        # Make a feasible start: all ones may break a packing row; then try all of them.
        starts = [np.array(b) for b in itertools.product((0.0, 1.0), repeat=m.n_cols)]
        starts = [s for s in starts if improve.feasible(m, s)]
        if not starts:
            continue
        x = starts[int(rng.integers(0, len(starts)))]
        y = improve.tidy(m, x)
        assert improve.feasible(m, y)
        assert m.c @ y <= m.c @ x + 1e-9


def test_tidy_drops_a_redundant_site():
    # Three columns cover the single row; all open: tidy closes the dearest two.
    m = _milp.MilpModel(
        c=np.array([5.0, 1.0, 3.0]),
        A=sp.csr_matrix(np.ones((1, 3))),
        row_lower=np.array([1.0]),
        row_upper=np.array([np.inf]),
        col_lower=np.zeros(3),
        col_upper=np.ones(3),
        integrality=np.ones(3, bool),
    )
    assert improve.tidy(m, np.ones(3)).tolist() == [0.0, 1.0, 0.0]


def test_window_repairs_and_improves():
    P = random_siting_problem(200, 800, seed=6)
    M = build_model(P, mode="cover_all")
    m = M.milp
    r = improve.scale_solve(m, time_limit=20, gap_target=0.0)
    assert r.x is not None and improve.feasible(m, r.x)
    exact = _milp.solve(m, mip_gap=0)
    assert r.bound <= exact.objective + 1e-6 <= r.objective + 2e-6
    assert r.objective == pytest.approx(float(m.c @ r.x + m.offset))
    # The steps logged never make the plan worse.
    objs = [o for step, _t, o in r.log if step != "bound"]
    assert all(b <= a + 1e-6 for a, b in itertools.pairwise(objs))


@pytest.mark.parametrize(("budget", "targets"), [(3e7, ()), (1e8, None)])
def test_budget_plan_and_bound_when_the_lp_times_out(monkeypatch, budget, targets):
    """No LP in time: the greedy plan, improved by windows, and the subgradient bound."""
    P = random_siting_problem(200, 1000, seed=9)
    exact = solve_siting(P, mode="budget", budget=budget, targets=targets, method="exact", mip_gap=0)
    assert exact.status == "optimal"
    real, seen = bound.lp_bound, []

    def hurried(model, *, time_limit, upper=None, solver="auto"):
        seen.append(real(model, time_limit=0.0, upper=upper, solver=solver))
        return seen[-1]

    monkeypatch.setattr(improve, "lp_bound", hurried)
    r = solve_siting(P, mode="budget", budget=budget, targets=targets, method="scale", time_limit=4)
    assert seen and seen[0].status == "time_limit" and seen[0].x is None
    assert r.method == "scale" and r.has_solution, r.message
    assert "subgradient" in r.bound_source
    _check_plan(P, "budget", budget, targets is None, r)
    opt, tol = exact.objective, 1e-6 * abs(exact.objective)
    assert r.objective <= opt + tol <= r.bound + 2 * tol  # an upper bound: never below the optimum
    assert abs(r.objective - opt) <= r.gap * abs(r.objective) + tol


def test_budget_greedy_meets_the_rows_and_spends_by_gain_per_yuan():
    """Hand-checked: two communities, three sites; budget 10."""
    # Columns: x0 (cost 6, serves both), x1 (cost 5, serves c0), x2 (cost 5, serves c1),
    # y0, y1 (served shares, weights 3 and 4).  Links y_i - sum x <= 0; budget row.
    A = sp.csr_matrix(np.array([
        [-1.0, -1.0, 0.0, 1.0, 0.0],
        [-1.0, 0.0, -1.0, 0.0, 1.0],
        [6.0, 5.0, 5.0, 0.0, 0.0],
    ]))
    m = _milp.MilpModel(
        c=np.array([0.0, 0.0, 0.0, 3.0, 4.0]),
        A=A,
        row_lower=np.full(3, -np.inf),
        row_upper=np.array([0.0, 0.0, 10.0]),
        col_lower=np.zeros(5),
        col_upper=np.ones(5),
        integrality=np.array([True, True, True, False, False]),
        maximize=True,
    )
    # Gain per yuan: x0 7/6, x1 3/5, x2 4/5: x0 first, then nothing else fits.
    x = greedy.budget_greedy(m, math.inf)
    assert x is not None and x.tolist() == [1.0, 0.0, 0.0, 1.0, 1.0]
    # A target row y0 + y1 >= 2 met, and x0 dearer than x1 + x2 together: x1, x2.
    m2 = replace(
        m,
        A=sp.vstack([A, sp.csr_matrix(np.array([[0.0, 0.0, 0.0, 1.0, 1.0]]))]).tocsr(),
        row_lower=np.r_[m.row_lower, 2.0],
        row_upper=np.r_[m.row_upper, np.inf],
    )
    m2.A[2, 0] = 11.0
    x = greedy.budget_greedy(m2, math.inf)
    assert x is not None and x.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]
    # The target cannot be met within the budget: no plan.
    assert greedy.budget_greedy(replace(m2, row_upper=np.r_[0.0, 0.0, 9.0, np.inf]), math.inf) is None


def test_auto_method_by_model_size():
    P = random_siting_problem(150, 600, seed=4)
    small = solve_siting(P, time_limit=30)
    assert small.method == "exact" and small.bound_source == "HiGHS branch and bound"
    big = solve_siting(P, time_limit=30, exact_max_columns=10, gap_target=0.5)
    assert big.method == "scale"
    assert "LP relaxation" in big.bound_source
    assert big.status == "gap_target" and big.gap <= 0.5
    assert big.bound <= small.objective + 1e-6
    # No time limit: the exact path, whatever the size.
    assert solve_siting(P, exact_max_columns=10).method == "exact"


def test_scale_path_reports_infeasible_with_the_reason():
    P = random_siting_problem(150, 600, seed=4)
    cost = solve_siting(P, method="exact").total_cost
    r = solve_siting(P, mode="budget", budget=0.05 * cost, method="scale", time_limit=10)
    assert r.status == "infeasible"
    assert r.explanation is not None and "too small for the district targets" in str(r.explanation)


def test_unknown_method_is_refused():
    from carecircle.errors import InputError

    P = random_siting_problem(30, 60, seed=1)
    with pytest.raises(InputError, match="method"):
        solve_siting(P, method="fast")


def test_scenario_plan_keys(tmp_path):
    from carecircle.errors import ScenarioError
    from carecircle.inputs.scenario import scenario_from_dict

    data = {
        "name": "t",
        "inputs": {"network": "n.osm", "districts": "d.geojson", "communities": "c.csv"},
    }
    p = scenario_from_dict(data, tmp_path).plan
    assert (p.method, p.gap_target, p.exact_max_columns) == ("auto", 0.01, 10_000)
    data["plan"] = {"method": "scale", "gap_target": 0.005, "exact_max_columns": 5000}
    p = scenario_from_dict(data, tmp_path).plan
    assert (p.method, p.gap_target, p.exact_max_columns) == ("scale", 0.005, 5000)
    for bad, needle in (({"method": "fast"}, "plan.method"), ({"gap_target": 1.5}, "plan.gap_target"),
                        ({"gap_target": -0.1}, "plan.gap_target")):
        data["plan"] = bad
        with pytest.raises(ScenarioError, match=needle):
            scenario_from_dict(data, tmp_path, where="my.toml")


def test_run_notes_say_the_path_and_the_bound():
    from carecircle.runs.plan import _solver_notes

    P = random_siting_problem(150, 600, seed=4)
    r = solve_siting(P, method="scale", time_limit=30, gap_target=0.5)
    notes = " ".join(_solver_notes(P, r))
    assert "(scale)" in notes and "gap_target" in notes
    assert r.bound_source in notes
    assert f"{r.bound:,.2f}" in notes


def _bed_tiny_problem(rng):
    """A tiny problem with institution candidates and the three bed targets (issue 19)."""
    n, J = int(rng.integers(2, 6)), int(rng.integers(3, 6))
    ce = (rng.random((n, J)) < 0.85).astype(int)
    cc = np.maximum(ce, (rng.random((n, J)) < 0.3)).astype(int)
    can = {k: rng.random(J) < p for k, p in (("elderly", 0.8), ("childcare", 0.9),
                                             ("street_centre", 0.3), ("institution", 0.6))}
    cost = {k: np.where(can[k], rng.integers(1, 9, J).astype(float), np.nan) for k in can}
    beds = np.where(can["institution"], rng.integers(10, 120, J), 0).astype(float)
    # some institutions below the 60 % share: opening them lowers it
    nursing = np.floor(beds * rng.choice([0.4, 0.8, 0.9], J))
    P = SitingProblem.from_arrays(
        community_ids=np.array([f"c{i}" for i in range(n)]),
        district=rng.choice(["A", "B"], n), urban=np.ones(n, bool),
        weight={"elderly": rng.integers(1, 9, n).astype(float),
                "childcare": rng.integers(0, 5, n).astype(float)},
        cover={"elderly": sp.csr_matrix(ce), "childcare": sp.csr_matrix(cc)},
        candidate_ids=np.array([f"s{j}" for j in range(J)]),
        candidate_district=rng.choice(["A", "B"], J), can_host=can, cost=cost,
        existing_served={"elderly": rng.random(n) < 0.3, "childcare": rng.random(n) < 0.3},
        places_new=rng.integers(0, 20, J).astype(float),
        beds_new=beds, nursing_new=nursing, demonstration_new=beds >= 50,
    )
    targets = BedTargets(
        beds_share=0.01, pop_60plus={"A": float(rng.integers(0, 8_000)),
                                     "B": float(rng.integers(0, 8_000))},
        existing_public_beds={"A": 20.0, "B": 0.0},
        nursing_share=0.6, existing_beds={"A": 40.0, "B": 10.0},
        existing_nursing_beds={"A": 24.0, "B": 8.0},
        min_demonstration=float(rng.integers(0, 2)), existing_demonstration={"A": 0.0, "B": 1.0})
    return P.with_changes(district_targets=make_district_targets(
        P, urban_cov=None, rural_cov=None, places_per_1000=None, beds=targets))


def _bed_rows_met(P, opened):
    """The three bed targets, per district, from the opened institutions (not the model)."""
    inst = np.asarray(opened.get("institution", []), dtype=np.int64)
    dt = P.district_targets
    for d in dt.index:
        mine = inst[P.candidate_district[inst] == d]
        beds = dt.at[d, "existing_public_beds"] + P.beds_new[mine].sum()
        if beds < dt.at[d, "beds_share"] * dt.at[d, "pop_60plus"] - 1e-6:
            return False
        all_beds = dt.at[d, "existing_beds"] + P.beds_new[mine].sum()
        nursing = dt.at[d, "existing_nursing_beds"] + P.nursing_new[mine].sum()
        if nursing < dt.at[d, "nursing_share"] * all_beds - 1e-6:
            return False
        demo = dt.at[d, "existing_demonstration"] + P.demonstration_new[mine].sum()
        if demo < dt.at[d, "min_demonstration"] - 1e-6:
            return False
    return True


def test_scale_path_keeps_the_bed_rows():
    """Institutions and the bed rows (dense per district, like the budget row) on the scale
    path: every plan meets them (checked from the opened sites) and lies within its gap of
    the exact optimum."""
    rng = np.random.default_rng(19)
    n_feasible = n_inst = 0
    for _ in range(120):
        P = _bed_tiny_problem(rng)
        exact = solve_siting(P, mode="cover_all", mip_gap=0, method="exact")
        r = solve_siting(P, mode="cover_all", method="scale", time_limit=2.0, gap_target=0)
        if exact.status == "infeasible":
            assert r.status == "infeasible"
            continue
        n_feasible += 1
        assert r.has_solution, r.message
        assert _bed_rows_met(P, r.opened) and _bed_rows_met(P, exact.opened)
        served = communities_served(P, r.opened)
        assert served["elderly"].all() and served["childcare"].all()
        opt, tol = exact.objective, 1e-6 * max(1.0, abs(exact.objective))
        assert r.bound <= opt + tol and r.objective >= opt - tol
        assert abs(r.objective - opt) <= r.gap * max(abs(r.objective), 1e-9) + tol
        n_inst += len(r.opened.get("institution", [])) > 0
    assert n_feasible >= 30 and n_inst >= 20  # the bed rows were exercised
