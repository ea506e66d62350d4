"""Siting optimisation: covering models solved exactly by HiGHS.

Two layers:

* **Array-level solvers** that take any coverage matrix (rows = demand points,
  columns = candidate sites, nonzero = the site covers the demand point):
  :func:`solve_set_cover` (least-cost cover of every row, the LSCP with costs) and
  :func:`solve_max_cover` (most weight covered for a budget and/or a number of
  sites, the MCLP with costs).  Both reduce the problem first (see
  :mod:`carecircle.siting._reduce`), give HiGHS a greedy plan as its first incumbent, and
  return a :class:`Result` with an honest status, the best bound and the gap.
* The two-type siting model (elderly care and childcare at once, shared
  buildings, street centres, district targets, budget or cover-all) is
  :func:`carecircle.siting.solve.solve_siting`, built on the same HiGHS wrapper.

Statuses are ``"optimal"`` (proved optimal within ``mip_gap``; the default gap for
the array solvers is 0, i.e. exact up to HiGHS's 1e-6 absolute tolerance),
``"time_limit"`` (stopped by the time limit; the best plan found is returned, with
the bound and gap, or ``has_solution`` is False and ``message`` says that no plan
was found) and ``"infeasible"`` (with the reason, e.g. ``uncoverable`` rows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from carecircle.errors import InputError, Problem
from carecircle.siting import _milp
from carecircle.siting._reduce import (
    Reduced,
    Reduction,
    as_binary_csr,
    greedy_max_cover,
    greedy_set_cover,
    reduce_max_cover,
    reduce_set_cover,
)

__all__ = ["Reduction", "Result", "solve_max_cover", "solve_set_cover"]


@dataclass
class Result:
    """The outcome of an array-level covering solve.

    Attributes
    ----------
    selected
        Sorted indices of the sites opened (``int64``).
    objective
        Total cost (set cover) or weight covered (max cover) of ``selected``;
        ``nan`` when there is no plan.
    status
        ``"optimal"``, ``"time_limit"`` or ``"infeasible"``.
    gap
        Relative gap between ``objective`` and ``bound`` (0 when optimal and
        exact; ``inf`` without a plan).
    bound
        Best proven bound on the objective (lower bound for cost, upper bound for
        coverage).
    reduction
        What presolve removed (:class:`~carecircle.siting._reduce.Reduction`).
    uncoverable
        Rows that no allowed site covers (the reason for infeasibility of a set
        cover; in max cover they simply cannot count).
    covered
        Rows covered by ``selected`` (max cover; all rows for a feasible set cover).
    coverage
        Weight of ``covered`` (max cover).
    cost
        Total cost of ``selected``.
    has_solution
        Whether a plan is returned.
    message
        One line in plain words (bilingual), e.g. why it is infeasible.
    seconds
        Solver wall time (reduction time is in ``reduction.seconds``).
    """

    selected: np.ndarray
    objective: float
    status: str
    gap: float
    bound: float
    reduction: Reduction
    uncoverable: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    covered: np.ndarray | None = None
    coverage: float | None = None
    cost: float = math.nan
    has_solution: bool = True
    message: str = ""
    seconds: float = 0.0

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"


def _problem(message: str, **kw: Any) -> InputError:
    return InputError(Problem("error", "optimize", message, **kw))


def _check_matrix(coverage: Any) -> sp.csr_matrix:
    if not (sp.issparse(coverage) or isinstance(coverage, np.ndarray)):
        coverage = np.asarray(coverage)
    if coverage.ndim != 2:
        raise _problem(
            "coverage must be a 2-D matrix (rows = demand, columns = sites)",
            column="coverage",
            found=f"{coverage.ndim} dimension(s)",
            expected="2",
        )
    return as_binary_csr(coverage)


def _optional_vector(v: Any, n: int, name: str) -> np.ndarray | None:
    return None if v is None else _check_vector(v, n, name)


def _check_vector(v: Any, n: int, name: str) -> np.ndarray:
    if v is None:
        raise _problem(f"{name} is required", column=name)
    a = np.asarray(v, dtype=float).ravel()
    if a.shape[0] != n:
        raise _problem(
            f"{name} has the wrong length", column=name, found=str(a.shape[0]), expected=str(n)
        )
    bad = ~np.isfinite(a) | (a < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _problem(
            f"{name} must be finite and >= 0",
            column=name,
            row=i,
            found=f"{int(bad.sum())} bad value(s), first {a[i]!r}",
            expected="a finite number >= 0",
        )
    return a


def _check_index(idx: Any, n: int, name: str) -> np.ndarray:
    if idx is None:
        return np.zeros(0, dtype=np.int64)
    a = np.asarray(idx)
    if a.dtype == bool:
        if a.shape[0] != n:
            raise _problem(
                f"{name} mask has the wrong length", found=str(a.shape[0]), expected=str(n)
            )
        return np.flatnonzero(a)
    a = a.astype(np.int64).ravel()
    if a.size and (a.min() < 0 or a.max() >= n):
        raise _problem(
            f"{name} holds a site index out of range", found=str(a), expected=f"0..{n - 1}"
        )
    return np.unique(a)


def solve_set_cover(
    coverage: Any,
    cost: Any,
    *,
    time_limit: float | None = None,
    mip_gap: float | None = None,
    required: Any = None,
    excluded: Any = None,
    reduce: bool = True,
) -> Result:
    """Open the least-cost set of sites that covers every demand row.

    Parameters
    ----------
    coverage
        ``(n_demand, n_sites)`` scipy.sparse (or dense) matrix; nonzero means the
        site covers the demand point.
    cost
        Cost per site, finite and >= 0 (use ones for the classic LSCP).
    time_limit
        Seconds; ``None`` for none.  At the limit the best plan found is returned
        with status ``"time_limit"`` (a greedy plan is always available).
    mip_gap
        Relative optimality gap at which to stop; ``None`` solves exactly.
    required, excluded
        Site indices (or boolean masks) forced in / out.
    reduce
        Apply dominance reductions (rows already covered, duplicate and dominated
        rows, empty and dominated columns) before solving.

    Returns
    -------
    Result
        ``status == "infeasible"`` with ``uncoverable`` set when some row has no
        allowed site.
    """
    A = _check_matrix(coverage)
    m, n = A.shape
    c = _check_vector(cost, n, "cost")
    req = _check_index(required, n, "required")
    exc = _check_index(excluded, n, "excluded")
    clash = np.intersect1d(req, exc)
    if clash.size:
        raise _problem("a site is both required and excluded", found=str(clash.tolist()))
    red = reduce_set_cover(A, c, required=req, excluded=exc, dominance=reduce)
    if len(red.uncoverable):
        shown = red.uncoverable[:20].tolist()
        more = "" if len(red.uncoverable) <= 20 else f" (+{len(red.uncoverable) - 20} more)"
        msg = (
            f"{len(red.uncoverable)} demand row(s) have no allowed site within reach "
            f"{len(red.uncoverable)} 个需求点无可用场地覆盖: {shown}{more}"
        )
        return _no_plan(red, "infeasible", math.nan, msg, 0.0, red.uncoverable)
    fixed_cost = float(c[red.fixed].sum())
    B = red.matrix(A)
    nr, nc = B.shape
    model = _milp.MilpModel(
        c=c[red.cols],
        A=B,
        row_lower=np.ones(nr),
        row_upper=np.full(nr, np.inf),
        col_lower=np.zeros(nc),
        col_upper=np.ones(nc),
        integrality=np.ones(nc, dtype=bool),
        offset=fixed_cost,
    )
    warm = greedy_set_cover(B, c[red.cols]) if nc else None
    sol = _milp.solve(model, time_limit=time_limit, mip_gap=mip_gap, warm_start=warm)
    if sol.x is None:  # pragma: no cover - the greedy warm start is always feasible
        return _no_plan(red, sol.status, sol.bound, _NO_PLAN, sol.seconds)
    chosen = red.cols[sol.x > 0.5]
    selected = np.union1d(chosen, red.fixed).astype(np.int64)
    covered = np.asarray(A[:, selected].sum(axis=1)).ravel() > 0
    if not covered.all():  # pragma: no cover - would be a bug in the reduction
        raise RuntimeError("set cover plan leaves rows uncovered; reduction bug")
    objective = float(c[selected].sum())
    bound = min(sol.bound, objective)
    gap = 0.0 if objective == bound else abs(objective - bound) / max(abs(objective), 1e-9)
    msg = {
        "optimal": f"optimal 最优: cost {objective:g}, {len(selected)} site(s)",
        "time_limit": f"time limit reached 达到时限: best cost {objective:g}, gap {gap:.2%}",
    }[sol.status]
    return Result(
        selected=selected,
        objective=objective,
        status=sol.status,
        gap=gap,
        bound=bound,
        reduction=red.report,
        covered=np.arange(m),
        coverage=float(m),
        cost=objective,
        message=msg,
        seconds=sol.seconds,
    )


def solve_max_cover(
    coverage: Any,
    weights: Any,
    *,
    cost: Any = None,
    budget: float | None = None,
    p: int | None = None,
    time_limit: float | None = None,
    mip_gap: float | None = None,
    required: Any = None,
    excluded: Any = None,
    reduce: bool = True,
) -> Result:
    """Open sites that cover the most demand weight for a budget and/or a site count.

    Parameters
    ----------
    coverage
        ``(n_demand, n_sites)`` sparse (or dense) matrix; nonzero = covers.
    weights
        Demand weight per row (e.g. residents), finite and >= 0.
    cost
        Cost per site; required with *budget*.
    budget
        Total cost allowed (``sum cost[selected] <= budget``).
    p
        Most sites to open (``len(selected) <= p``; the MCLP).
    time_limit, mip_gap, required, excluded, reduce
        As in :func:`solve_set_cover`.

    Returns
    -------
    Result
        ``objective == coverage`` (weight covered), ``covered`` the rows covered,
        ``bound`` an upper bound on coverage.  ``"infeasible"`` only when the
        required sites alone break the budget or the count.
    """
    A = _check_matrix(coverage)
    m, n = A.shape
    w = _check_vector(weights, m, "weights")
    c = _optional_vector(cost, n, "cost")
    _check_limits(c, budget, p)
    req = _check_index(required, n, "required")
    exc = _check_index(excluded, n, "excluded")
    if np.intersect1d(req, exc).size:
        raise _problem("a site is both required and excluded", found=str(np.intersect1d(req, exc)))
    red = reduce_max_cover(
        A, w, cost=c, budget=budget, p=p, required=req, excluded=exc, dominance=reduce
    )
    limits = _Limits.after_fixed(red, c, budget, p)
    reasons = limits.broken_by_fixed(budget, p)
    if reasons:
        return _no_plan(red, "infeasible", math.nan, "; ".join(reasons), 0.0, red.uncoverable)
    B = (
        red.matrix(A)
        if len(red.rows) and len(red.cols)
        else sp.csr_matrix((len(red.rows), len(red.cols)), dtype=np.int32)
    )
    nc = B.shape[1]
    model = _max_cover_model(B, red, c, limits)
    warm = _max_cover_warm(B, red, c, limits) if nc else None
    sol = _milp.solve(model, time_limit=time_limit, mip_gap=mip_gap, warm_start=warm)
    if sol.x is None:
        return _no_plan(red, sol.status, sol.bound, _NO_PLAN, sol.seconds, red.uncoverable)
    chosen = red.cols[sol.x[:nc] > 0.5]
    selected = np.union1d(chosen, red.fixed).astype(np.int64)
    covered_mask = np.asarray(A[:, selected].sum(axis=1)).ravel() > 0
    covered = np.flatnonzero(covered_mask)
    value = float(w[covered_mask].sum())
    bound = max(sol.bound, value)
    gap = 0.0 if value == bound else abs(bound - value) / max(abs(value), 1e-9)
    total_cost = float(c[selected].sum()) if c is not None else float(len(selected))
    msg = {
        "optimal": f"optimal 最优: covers {value:g} with {len(selected)} site(s)",
        "time_limit": f"time limit reached 达到时限: best coverage {value:g}, gap {gap:.2%}",
    }[sol.status]
    return Result(
        selected=selected,
        objective=value,
        status=sol.status,
        gap=gap,
        bound=bound,
        reduction=red.report,
        uncoverable=red.uncoverable,
        covered=covered,
        coverage=value,
        cost=total_cost,
        message=msg,
        seconds=sol.seconds,
    )


_NO_PLAN = "no feasible plan found within the time limit 时限内未找到可行方案"


def _no_plan(
    red: Reduced,
    status: str,
    bound: float,
    message: str,
    seconds: float,
    uncoverable: np.ndarray | None = None,
) -> Result:
    """A result without a plan."""
    return Result(
        selected=np.zeros(0, dtype=np.int64),
        objective=math.nan,
        status=status,
        gap=math.inf,
        bound=bound,
        reduction=red.report,
        uncoverable=np.zeros(0, dtype=np.int64) if uncoverable is None else uncoverable,
        has_solution=False,
        message=message,
        seconds=seconds,
    )


def _check_limits(c: np.ndarray | None, budget: float | None, p: int | None) -> None:
    """A budget (with costs) and/or a count, each sensible."""
    if budget is None and p is None:
        raise _problem(
            "solve_max_cover needs a budget or a number of sites p",
            column="budget/p",
            found="neither",
            expected="budget (with cost) and/or p",
        )
    if budget is not None:
        if c is None:
            raise _problem("a budget needs a cost per site", column="cost", found="None")
        if not math.isfinite(budget) or budget < 0:
            raise _problem("budget must be finite and >= 0", column="budget", found=str(budget))
    if p is not None and (int(p) != p or p < 0):
        raise _problem("p must be a whole number >= 0", column="p", found=str(p))


@dataclass(frozen=True)
class _Limits:
    """What the fixed (required) sites use, and what is left of the budget and count."""

    n_fixed: int
    fixed_cost: float
    budget_left: float | None
    p_left: int | None

    @classmethod
    def after_fixed(
        cls, red: Reduced, c: np.ndarray | None, budget: float | None, p: int | None
    ) -> _Limits:
        n_fixed = len(red.fixed)
        fixed_cost = float(c[red.fixed].sum()) if c is not None else 0.0
        return cls(
            n_fixed=n_fixed,
            fixed_cost=fixed_cost,
            budget_left=None if budget is None else budget - fixed_cost,
            p_left=None if p is None else p - n_fixed,
        )

    def broken_by_fixed(self, budget: float | None, p: int | None) -> list[str]:
        reasons = []
        if budget is not None and self.fixed_cost > budget + 1e-9 * max(1.0, budget):
            reasons.append(
                f"required sites cost {self.fixed_cost:g} > budget {budget:g} 必选场地超出预算"
            )
        if p is not None and self.n_fixed > p:
            reasons.append(f"{self.n_fixed} required sites > p = {p} 必选场地数超过上限")
        return reasons


def _max_cover_model(
    B: sp.csr_matrix, red: Reduced, c: np.ndarray | None, limits: _Limits
) -> _milp.MilpModel:
    """Variables: x (sites, binary) then y (rows, continuous in [0, 1]); y_i <= sum_j b_ij x_j.

    y need not be integer: with x integral and weights >= 0 the optimum puts
    y_i = min(1, (Bx)_i).
    """
    nr, nc = B.shape
    link = sp.hstack([-B, sp.eye(nr, format="csr")], format="csr")
    rows = [link]
    lo = [np.full(nr, -np.inf)]
    hi = [np.zeros(nr)]
    if limits.budget_left is not None:
        assert c is not None  # checked: a budget needs costs
        rows.append(sp.csr_matrix(np.concatenate([c[red.cols], np.zeros(nr)])[np.newaxis, :]))
        lo.append(np.array([-np.inf]))
        hi.append(np.array([limits.budget_left]))
    if limits.p_left is not None:
        rows.append(sp.csr_matrix(np.concatenate([np.ones(nc), np.zeros(nr)])[np.newaxis, :]))
        lo.append(np.array([-np.inf]))
        hi.append(np.array([float(limits.p_left)]))
    assert red.weight is not None  # reduce_max_cover always gives the merged weights
    return _milp.MilpModel(
        c=np.concatenate([np.zeros(nc), red.weight]),
        A=sp.vstack(rows, format="csr"),
        row_lower=np.concatenate(lo),
        row_upper=np.concatenate(hi),
        col_lower=np.zeros(nc + nr),
        col_upper=np.ones(nc + nr),
        integrality=np.concatenate([np.ones(nc, dtype=bool), np.zeros(nr, dtype=bool)]),
        maximize=True,
        offset=red.constant,
    )


def _max_cover_warm(
    B: sp.csr_matrix, red: Reduced, c: np.ndarray | None, limits: _Limits
) -> np.ndarray:
    """The greedy plan as HiGHS's first incumbent: x, then y = min(1, B x)."""
    assert red.weight is not None
    wx = greedy_max_cover(
        B, red.weight, c[red.cols] if c is not None else None, limits.budget_left, limits.p_left
    )
    return np.concatenate([wx, np.minimum(1.0, B @ wx)])
