"""A thin, honest wrapper around HiGHS (``highspy``) for the siting models.

The models are built as sparse arrays (objective, constraint matrix, bounds,
integrality) and handed to HiGHS in one call; no per-variable Python objects.
The wrapper maps HiGHS's status to the three states the rest of the package
speaks ("optimal", "time_limit", "infeasible"), keeps the best bound and the
gap, and can keep one model alive across several solves (the cost-coverage
frontier changes the budget row and warm-starts from the previous plan).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import scipy.sparse as sp

INF = highspy.kHighsInf


@dataclass
class MilpModel:
    """A mixed-integer linear program ``min/max c.x + offset``.

    Subject to ``row_lower <= A x <= row_upper`` and ``col_lower <= x <= col_upper``,
    with ``x[integrality]`` integer.  Infinite bounds are ``np.inf``.
    """

    c: np.ndarray
    A: sp.csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray
    maximize: bool = False
    offset: float = 0.0

    @property
    def n_cols(self) -> int:
        return int(self.c.shape[0])

    @property
    def n_rows(self) -> int:
        return int(self.A.shape[0])

    @property
    def nnz(self) -> int:
        return int(self.A.nnz)


#: A block of rows and what it stands for: (first row, row after the last, info).
Tag = tuple[int, int, dict[str, Any]]


@dataclass
class Rows:
    """Constraint rows of a model, accumulated block by block as COO triplets and bounds.

    ``tags`` records what a block stands for, for the blocks given a tag.
    """

    r: list[np.ndarray] = field(default_factory=list)
    c: list[np.ndarray] = field(default_factory=list)
    v: list[np.ndarray] = field(default_factory=list)
    lo: list[np.ndarray] = field(default_factory=list)
    hi: list[np.ndarray] = field(default_factory=list)
    n: int = 0
    tags: list[Tag] = field(default_factory=list)

    def block(
        self,
        M: sp.spmatrix | sp.sparray,
        col_offset: np.ndarray | int,
        lo: float,
        hi: float,
        tag: dict[str, Any] | None = None,
    ) -> int:
        """Add rows ``lo <= M x[cols] <= hi``; ``col_offset`` maps M's columns to variables."""
        M = sp.coo_matrix(M)
        start = self.n
        cols = col_offset[M.col] if isinstance(col_offset, np.ndarray) else M.col + col_offset
        self.r.append(M.row.astype(np.int64) + start)
        self.c.append(np.asarray(cols, dtype=np.int64))
        self.v.append(M.data.astype(float))
        k = M.shape[0]
        self.lo.append(np.broadcast_to(np.asarray(lo, dtype=float), (k,)).copy())
        self.hi.append(np.broadcast_to(np.asarray(hi, dtype=float), (k,)).copy())
        self.n += k
        if tag is not None:
            self.tags.append((start, self.n, tag))
        return start

    def row(
        self,
        cols: Sequence[int] | np.ndarray,
        vals: np.ndarray,
        lo: float,
        hi: float,
        tag: dict[str, Any] | None = None,
    ) -> int:
        """Add one row ``lo <= vals . x[cols] <= hi``."""
        cols = np.asarray(cols, dtype=np.int64)
        M = sp.coo_matrix(
            (np.asarray(vals, dtype=float), (np.zeros(len(cols), np.int64), np.arange(len(cols)))),
            shape=(1, len(cols)),
        )
        return self.block(M, cols, lo, hi, tag)

    def pairs(self, a: np.ndarray, b: np.ndarray, hi: float, sign_b: float = 1.0) -> None:
        """Add rows ``x[a[i]] + sign_b * x[b[i]] <= hi``, one per pair."""
        k_ = len(a)
        M = sp.csr_matrix(
            (np.r_[np.ones(k_), np.full(k_, sign_b)], (np.tile(np.arange(k_), 2), np.arange(2 * k_))),
            shape=(k_, 2 * k_),
        )
        self.block(M, np.concatenate([a, b]), -np.inf, hi)

    def matrix(self, n_vars: int) -> sp.csr_matrix:
        if not self.r:
            return sp.csr_matrix((0, n_vars))
        return sp.csr_matrix(
            (np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))),
            shape=(self.n, n_vars),
        )


@dataclass
class MilpSolution:
    """What HiGHS returned, in the package's own words.

    ``x`` is ``None`` when no feasible point is known (infeasible, or a time limit
    reached before the first feasible point).  ``bound`` is the best proven bound
    on the objective (a lower bound when minimising); ``gap`` the relative gap
    ``|objective - bound| / max(|objective|, 1e-9)`` (``inf`` without a solution).
    """

    status: str
    x: np.ndarray | None
    objective: float
    bound: float
    gap: float
    seconds: float
    nodes: int = 0
    highs_status: str = ""


def _finite(a: np.ndarray) -> np.ndarray:
    # HiGHS reads any value beyond kHighsInf (which is +inf) as infinite.
    return np.asarray(a, dtype=float)


def silent_highs() -> highspy.Highs:
    """A HiGHS instance that prints nothing.

    HiGHS >= 1.13 prints its copyright banner from C++ on standard output while the
    instance is constructed, before any option can be set (ERGO-Code/HiGHS #1932,
    #2749); the banner would interleave with the CLI's tables and the notebooks'
    output.  So file descriptor 1 points at ``os.devnull`` for the construction only.
    """
    fd = 1  # C++ std::cout writes to the process's descriptor 1, whatever sys.stdout is
    if sys.stdout is not None:
        sys.stdout.flush()
    saved = os.dup(fd)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
            h = highspy.Highs()
        finally:
            os.dup2(saved, fd)
            os.close(devnull)
    finally:
        os.close(saved)
    h.setOptionValue("output_flag", False)
    return h


def build(model: MilpModel, *, threads: int | None = None) -> highspy.Highs:
    """Pass *model* to a fresh, silent HiGHS instance (one call, column-wise)."""
    h = silent_highs()
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    lp = highspy.HighsLp()
    lp.num_col_ = model.n_cols
    lp.num_row_ = model.n_rows
    lp.col_cost_ = np.asarray(model.c, dtype=float)
    lp.col_lower_ = _finite(model.col_lower)
    lp.col_upper_ = _finite(model.col_upper)
    lp.row_lower_ = _finite(model.row_lower)
    lp.row_upper_ = _finite(model.row_upper)
    lp.offset_ = float(model.offset)
    lp.sense_ = highspy.ObjSense.kMaximize if model.maximize else highspy.ObjSense.kMinimize
    A = sp.csc_matrix(model.A, dtype=float)
    A.sort_indices()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = model.n_cols
    lp.a_matrix_.num_row_ = model.n_rows
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(float)
    integ = np.asarray(model.integrality, dtype=bool)
    if integ.any():
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if b else highspy.HighsVarType.kContinuous for b in integ
        ]
    status = h.passModel(lp)
    if status == highspy.HighsStatus.kError:  # pragma: no cover - a bug in the model builder
        raise RuntimeError("HiGHS rejected the model (passModel returned an error)")
    return h


def run(
    h: highspy.Highs,
    model: MilpModel,
    *,
    time_limit: float | None = None,
    mip_gap: float | None = None,
    warm_start: np.ndarray | None = None,
    hint: bool = False,
) -> MilpSolution:
    """Solve the model held by *h* and translate the outcome.

    Parameters
    ----------
    h
        A HiGHS instance made by :func:`build` (possibly modified since).
    model
        The model it holds (for sizes, sense and the integrality mask).
    time_limit
        Wall-clock seconds; ``None`` for no limit.
    mip_gap
        Relative gap at which HiGHS may stop and call the plan optimal; ``None``
        or 0 means solve exactly (HiGHS's absolute gap tolerance, 1e-6, remains).
    warm_start
        A feasible point (e.g. a greedy plan).  It is *not* passed to HiGHS: with
        presolve on, HiGHS 1.16 can report the optimum's objective yet hand back
        the user's starting point as the solution.  It is the fallback plan
        instead: returned when HiGHS stops without a plan, or with a worse one.
    hint
        Also hand *warm_start* to HiGHS (``setSolution``) as its first
        incumbent, which its improvement heuristics (RINS and the like) start
        from.  Safe despite the issue above: the plan returned is whichever of
        HiGHS's solution and *warm_start* is better, its objective recomputed
        from the plan itself, never HiGHS's own figure.
    """
    h.setOptionValue("time_limit", float(time_limit) if time_limit is not None else INF)
    if hint and warm_start is not None:
        start = highspy.HighsSolution()
        start.col_value = list(np.asarray(warm_start, dtype=float))
        start.value_valid = True
        h.setSolution(start)
    h.setOptionValue("mip_rel_gap", float(mip_gap) if mip_gap else 0.0)
    t0 = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - t0
    ms = h.getModelStatus()
    info = h.getInfo()
    has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
    integer = bool(np.any(model.integrality))
    MS = highspy.HighsModelStatus
    if ms == MS.kOptimal:
        status = "optimal"
    elif ms in (MS.kInfeasible, MS.kUnboundedOrInfeasible):
        status = "infeasible"
        has_x = False
    elif ms in (MS.kTimeLimit, MS.kInterrupt, MS.kIterationLimit, MS.kSolutionLimit):
        status = "time_limit"
    elif ms == MS.kModelEmpty:
        status = "optimal"
    else:  # pragma: no cover - memory limit, solver errors
        raise RuntimeError(f"HiGHS stopped with status {h.modelStatusToString(ms)}")
    x = None
    objective = math.nan
    if has_x:
        x = np.asarray(h.getSolution().col_value, dtype=float)
        if integer:
            # Integer variables are within tolerance of an integer; snap them so that
            # the plan reported is exactly the plan HiGHS found.
            mask = np.asarray(model.integrality, dtype=bool)
            x[mask] = np.round(x[mask])
    if status != "infeasible" and warm_start is not None:
        ws = np.asarray(warm_start, dtype=float)
        ws_obj = float(model.c @ ws + model.offset)
        better = x is None or (
            ws_obj > float(model.c @ x) + model.offset
            if model.maximize
            else ws_obj < float(model.c @ x) + model.offset
        )
        if better:
            x = ws.copy()
    if x is not None:
        # The objective of the plan actually returned (not HiGHS's own figure).
        objective = float(model.c @ x + model.offset)
    if integer and status != "infeasible":
        bound = float(info.mip_dual_bound)
        if not math.isfinite(bound):
            # No bound proven yet: the trivial one.
            bound = math.inf if model.maximize else -math.inf
    else:
        bound = objective
    if x is None:
        gap = math.inf
    elif status == "optimal" and not integer:
        gap = 0.0
    else:
        gap = abs(objective - bound) / max(abs(objective), 1e-9)
    nodes = int(info.mip_node_count) if integer else 0
    return MilpSolution(
        status=status,
        x=x,
        objective=objective,
        bound=bound,
        gap=gap,
        seconds=seconds,
        nodes=nodes,
        highs_status=h.modelStatusToString(ms),
    )


def solve(
    model: MilpModel,
    *,
    time_limit: float | None = None,
    mip_gap: float | None = None,
    warm_start: np.ndarray | None = None,
    hint: bool = False,
    options: dict[str, Any] | None = None,
) -> MilpSolution:
    """Build and solve *model* once; an empty model is answered without HiGHS.

    *options* are further HiGHS options (e.g. ``mip_max_improving_sols``).
    """
    if model.n_cols == 0:
        ok = bool(np.all(model.row_lower <= 1e-9) and np.all(model.row_upper >= -1e-9))
        return MilpSolution(
            status="optimal" if ok else "infeasible",
            x=np.zeros(0) if ok else None,
            objective=float(model.offset) if ok else math.nan,
            bound=float(model.offset) if ok else math.nan,
            gap=0.0 if ok else math.inf,
            seconds=0.0,
            highs_status="empty model",
        )
    h = build(model)
    for key, value in (options or {}).items():
        h.setOptionValue(key, value)
    return run(h, model, time_limit=time_limit, mip_gap=mip_gap, warm_start=warm_start, hint=hint)
