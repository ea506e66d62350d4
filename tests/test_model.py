"""Tests for the siting model's builders: the rows of each constraint family, by hand.

Two communities and two candidates: site 0 may share one building between elderly
care and childcare (3.5 instead of 1 + 3), site 1 may not.  The tests write the
expected constraint matrix out row by row, in the order build_model adds the blocks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from carecircle.siting import _milp
from carecircle.siting.model import build_model, decode
from carecircle.siting.problem import SitingProblem

INF = np.inf


def _problem(**kw) -> SitingProblem:
    args = {
        "community_ids": ["c0", "c1"],
        "district": ["A", "A"],
        "urban": [True, False],
        "weight": {"elderly": [10.0, 20.0], "childcare": [1.0, 1.0]},
        "cover": {"elderly": sp.csr_matrix(np.eye(2)), "childcare": np.ones((2, 2))},
        "candidate_ids": ["s0", "s1"],
        "candidate_district": ["A", "A"],
        "can_host": {"elderly": [True, True], "childcare": [True, True]},
        "cost": {"elderly": [1.0, 2.0], "childcare": [3.0, 4.0]},
        "cost_shared": [3.5, np.nan],
    }
    args.update(kw)
    return SitingProblem.from_arrays(**args)


def _rows(M):
    m = M.milp
    return m.A.toarray(), m.row_lower, m.row_upper


def test_cover_all_rows_by_hand():
    M = build_model(_problem(), mode="cover_all", reduce=False)
    # Columns: x_e0, x_e1, x_c0, x_c1, z0 (no street centre can be hosted).
    assert M.start == {"elderly": 0, "childcare": 2, "street_centre": 4, "institution": 4,
                       "shared": 4, "shared_centre": 5, "h": 5}
    assert M.var["shared"].tolist() == [0]
    A, lo, hi = _rows(M)
    want = np.array([
        [1, 0, 0, 0, 0],  # c0 elderly: x_e0 >= 1
        [0, 1, 0, 0, 0],  # c1 elderly: x_e1 >= 1
        [0, 0, 1, 1, 0],  # c0 childcare
        [0, 0, 1, 1, 0],  # c1 childcare (a duplicate, kept without reduction)
        [0, 1, 0, 1, 0],  # site 1 cannot share: x_e1 + x_c1 <= 1
        [-1, 0, 0, 0, 1],  # z0 <= x_e0
        [0, 0, -1, 0, 1],  # z0 <= x_c0
    ])
    assert A.tolist() == want.tolist()
    assert lo.tolist() == [1, 1, 1, 1, -INF, -INF, -INF]
    assert hi.tolist() == [INF, INF, INF, INF, 1, 0, 0]
    # Cost: each kind's own, and the shared building's discount on z (3.5 - 1 - 3).
    assert M.cost.tolist() == [1.0, 2.0, 3.0, 4.0, -0.5]
    assert M.milp.c is M.cost and not M.milp.maximize
    assert M.milp.integrality.tolist() == [True] * 5
    sol = _milp.solve(M.milp, mip_gap=0)
    assert sol.objective == pytest.approx(1 + 2 + 3 - 0.5)
    opened = decode(M, sol.x)
    assert opened["elderly"].tolist() == [0, 1] and opened["childcare"].tolist() == [0]
    # With the reduction the duplicate childcare row goes, and is counted.
    R = build_model(_problem(), mode="cover_all")
    assert R.milp.n_rows == 6 and R.reduction.rows_duplicate == {"elderly": 0, "childcare": 1}


def test_budget_rows_by_hand():
    M = build_model(_problem(), mode="budget", budget=5.0, reduce=False)
    # Columns: x_e0, x_e1, x_c0, x_c1, z0, then y per community: y_e0, y_e1, y_c0, y_c1.
    assert M.var["y_start"].tolist() == [5, 7]
    assert [g.tolist() for g in M.y_groups["elderly"]] == [[0], [1]]
    A, lo, hi = _rows(M)
    assert A[:4].tolist() == [
        [-1, 0, 0, 0, 0, 1, 0, 0, 0],  # y_e0 <= x_e0
        [0, -1, 0, 0, 0, 0, 1, 0, 0],  # y_e1 <= x_e1
        [0, 0, -1, -1, 0, 0, 0, 1, 0],  # y_c0 <= x_c0 + x_c1
        [0, 0, -1, -1, 0, 0, 0, 0, 1],  # y_c1 <= x_c0 + x_c1
    ]
    assert hi[:4].tolist() == [0, 0, 0, 0]
    # The budget row is the last: cost . x over the site columns.
    assert M.budget_row == M.milp.n_rows - 1
    assert A[-1].tolist() == [1, 2, 3, 4, -0.5, 0, 0, 0, 0] and hi[-1] == 5.0
    # Objective: residents on y; cost x eps on x, eps = 1e-6 x least weight / budget.
    eps = 1e-6 * 1.0 / 5.0
    assert M.eps == pytest.approx(eps) and M.milp.maximize
    assert M.milp.c[5:].tolist() == [10.0, 20.0, 1.0, 1.0]
    assert M.milp.c[:5] == pytest.approx([-eps * c for c in (1, 2, 3, 4, -0.5)])
    assert M.milp.integrality.tolist() == [True] * 5 + [False] * 4
    sol = _milp.solve(M.milp, mip_gap=0)
    # 5 buys elderly care at both sites (3; 30 residents): childcare on top costs 5.5.
    assert decode(M, sol.x)["elderly"].tolist() == [0, 1]
    assert sol.objective == pytest.approx(30.0 - eps * 3.0)


def test_required_and_over_budget_columns():
    P = _problem(required={"childcare": ["s1"]}, cost={"elderly": [1.0, 9.0], "childcare": [3.0, 4.0]})
    M = build_model(P, mode="budget", budget=5.0, reduce=False)
    # x_e1 costs 9 > 5: dropped; x_c1 is required: lower bound 1 (and kept).
    assert M.reduction.columns_over_budget == {"elderly": 1, "childcare": 0, "street_centre": 0}
    assert M.var["elderly"].tolist() == [0] and M.var["childcare"].tolist() == [0, 1]
    assert M.milp.col_lower[M.start["childcare"] + 1] == 1.0
    assert M.milp.col_lower[: M.start["shared"]].sum() == 1.0
    # A site required as some kind: sum over its columns >= 1.
    Q = build_model(_problem(required=["s1"]), mode="cover_all", reduce=False)
    A, lo, _ = _rows(Q)
    assert A[-1].tolist() == [0, 1, 0, 1, 0] and lo[-1] == 1.0


def test_street_centre_and_minimum_rows():
    dt = pd.DataFrame(
        {"street_centre_share": [0.5], "n_streets": [2.0], "min_new_childcare": [1.0]}, index=["A"]
    )
    P = _problem(
        can_host={"elderly": [True, True], "childcare": [True, True], "street_centre": [True, True]},
        cost={"elderly": [1.0, 2.0], "childcare": [3.0, 4.0], "street_centre": [5.0, 6.0]},
        street=["t0", "t1"], candidate_street=["t0", "t1"], streets_with_centre=[],
        district_targets=dt,
    )
    M = build_model(P, mode="cover_all", reduce=False)
    # ceil(0.5 x 2) = 1 street needs a centre: h per street without one, sum h >= 1.
    assert [tuple(k) for k in M.var["h"]] == [("A", "t0"), ("A", "t1")]
    h0 = M.start["h"]
    s0 = M.start["street_centre"]
    A, lo, hi = _rows(M)
    n = M.milp.n_cols
    row = np.zeros(n)
    row[[h0, s0]] = [1, -1]
    assert any(A[i].tolist() == row.tolist() and hi[i] == 0 for i in range(len(A)))
    tags = {t["target"]: (a, b, t) for a, b, t in M.tags if t["type"] == "target"}
    a, _, t = tags["street_centre_share"]
    assert t["need"] == 1.0 and lo[a] == 1.0
    assert np.flatnonzero(A[a]).tolist() == [h0, h0 + 1]
    # At least one new childcare site: sum of the district's x_c >= 1.
    a, _, t = tags["minimum"]
    assert t["kind"] == "childcare" and lo[a] == 1.0
    assert np.flatnonzero(A[a]).tolist() == [M.start["childcare"], M.start["childcare"] + 1]
    sol = _milp.solve(M.milp, mip_gap=0)
    opened = decode(M, sol.x)
    assert len(opened["street_centre"]) == 1 and len(opened["childcare"]) >= 1
