"""The cost-coverage frontier: residents served against budget, zero to cover-all.

One budget-mode model is built once (sized for the largest budget) and kept in one
HiGHS instance; each point only changes the budget row's bound and re-solves.
Budgets are visited in increasing order and the previous point's plan, which stays
feasible when the budget grows, is the fallback plan of the next one, so the curve
is monotone even when a point stops at its time limit.  Once a plan serves every
community that can be served, larger budgets reuse it without solving.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pandas as pd

from carecircle.errors import InfeasibleError
from carecircle.siting import _milp
from carecircle.siting.model import SitingModel, build_model, decode
from carecircle.siting.problem import HOST_KINDS, KINDS, SitingProblem, TargetSwitch
from carecircle.siting.result import communities_served, plan_cost
from carecircle.siting.solve import solve_siting

FRONTIER_LABELS = {
    "budget": "预算 Budget (yuan)",
    "cost": "方案费用 Plan cost (yuan)",
    "residents_served": "覆盖人口 Residents served",
    "elderly_residents_served": "覆盖老年人 60+ served",
    "childcare_residents_served": "覆盖婴幼儿 0-3 served",
    "elderly_communities_served": "养老覆盖社区 Communities with elderly care",
    "childcare_communities_served": "托育覆盖社区 Communities with childcare",
    "new_sites": "新建设施 New facilities",
    "status": "求解状态 Status",
    "gap": "最优间隙 Gap",
}


def frontier(
    problem: SitingProblem,
    budgets: Any = None,
    n: int = 10,
    *,
    targets: TargetSwitch = (),
    time_limit: float | None = None,
    mip_gap: float | None = 1e-4,
) -> pd.DataFrame:
    """Coverage achieved against budget, from 0 to the cover-all cost.

    Parameters
    ----------
    problem
        The siting instance.
    budgets
        Budgets to evaluate; default ``n`` evenly spaced from 0 to the least cost
        that serves every community that can be served (``cover_all`` with
        uncoverable communities exempted).
    n
        Number of points when *budgets* is not given.
    targets
        District targets to enforce at every point (default none: the pure
        cost-coverage trade-off; with targets, budgets below their cost are
        reported as infeasible).
    time_limit, mip_gap
        Per point.

    Returns
    -------
    pandas.DataFrame
        One row per budget: ``budget``, ``cost`` (of the plan), ``status``,
        ``gap``, ``residents_served`` and per kind ``<kind>_residents_served``,
        ``<kind>_communities_served``, ``new_sites``, ``seconds``.
        ``attrs["cover_all_cost"]`` is the cover-all cost and
        ``attrs["coverable_residents"]`` the most residents any budget can serve.
    """
    t0 = time.perf_counter()
    full = solve_siting(
        problem,
        mode="cover_all",
        targets=targets,
        allow_uncoverable=True,
        time_limit=time_limit,
        mip_gap=mip_gap,
    )
    if not full.has_solution:
        raise InfeasibleError(
            "no cover-all plan to end the frontier at 无法计算全覆盖方案: "
            + (str(full.explanation) if full.explanation else full.message)
        )
    if budgets is None:
        budgets = np.linspace(0.0, full.total_cost, max(int(n), 2))
    budgets = np.sort(np.asarray(budgets, dtype=float))
    top = float(budgets[-1]) if len(budgets) else 0.0
    M = build_model(
        problem,
        mode="budget",
        budget=max(top, 0.0),
        targets=targets,
        cost_scale=max(top, full.total_cost, 1.0),
    )
    h = _milp.build(M.milp) if M.milp.n_cols else None
    # Most residents any plan can serve: today's plus every coverable community.
    coverable = {k: full.served[f"{k}_after"].to_numpy() for k in KINDS}
    most = float(sum(problem.weight[k][coverable[k]].sum() for k in KINDS))
    recs: list[dict[str, Any]] = []
    prev_x = None
    prev: dict[str, Any] | None = None
    for b in budgets:
        if prev is not None and prev["residents_served"] >= most - 1e-9 and prev["cost"] <= b:
            # Everything that can be served already is: a larger budget changes nothing.
            recs.append(dict(prev, budget=float(b), seconds=0.0))
            continue
        if h is None:
            opened = {k: np.zeros(0, np.int64) for k in HOST_KINDS}
            rec = _point(problem, opened, float(b), "optimal", 0.0, 0.0)
        else:
            sol = _solve_point(h, M, float(b), time_limit, mip_gap, prev_x)
            if sol.x is None:
                recs.append(_no_point(float(b), sol))
                continue
            prev_x = sol.x
            rec = _point(problem, decode(M, sol.x), float(b), sol.status, 0.0, sol.seconds)
            # HiGHS bounds coverage - eps x cost; eps x budget turns it into a bound on coverage.
            value = rec["residents_served"]
            rec["gap"] = max(0.0, (sol.bound + M.eps * float(b) - value) / max(value, 1e-9))
        recs.append(rec)
        prev = rec
    df = pd.DataFrame.from_records(recs)
    df.attrs["cover_all_cost"] = float(full.total_cost)
    df.attrs["coverable_residents"] = most
    df.attrs["seconds"] = time.perf_counter() - t0
    return df


def _solve_point(
    h: Any,
    M: SitingModel,
    budget: float,
    time_limit: float | None,
    mip_gap: float | None,
    warm: np.ndarray | None,
) -> _milp.MilpSolution:
    """Re-solve the kept model with the budget row's bound at *budget*."""
    assert M.budget_row is not None  # a budget-mode model always has its budget row
    h.changeRowBounds(int(M.budget_row), -np.inf, budget)
    return _milp.run(h, M.milp, time_limit=time_limit, mip_gap=mip_gap, warm_start=warm)


def _no_point(budget: float, sol: _milp.MilpSolution) -> dict[str, Any]:
    return {
        "budget": budget,
        "cost": math.nan,
        "status": sol.status,
        "gap": math.inf,
        "residents_served": math.nan,
        "new_sites": 0,
        "seconds": sol.seconds,
    }


def _point(
    problem: SitingProblem,
    opened: dict[str, np.ndarray],
    budget: float,
    status: str,
    gap: float,
    seconds: float,
) -> dict[str, Any]:
    """One frontier row, recomputed from the plan."""
    after = communities_served(problem, opened)
    rec: dict[str, Any] = {
        "budget": budget,
        "cost": float(plan_cost(problem, opened).sum()),
        "status": status,
        "gap": gap,
        "residents_served": float(sum(problem.weight[k][after[k]].sum() for k in KINDS)),
    }
    for k in KINDS:
        rec[f"{k}_residents_served"] = float(problem.weight[k][after[k]].sum())
        rec[f"{k}_communities_served"] = int(after[k].sum())
    rec["new_sites"] = int(sum(len(v) for v in opened.values()))
    rec["seconds"] = seconds
    return rec
