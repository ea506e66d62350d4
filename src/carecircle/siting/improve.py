"""A plan for a large siting MILP, and a proof of how far it can be from the best.

HiGHS's own primal heuristics fail on the city-scale siting model (3,000
communities x 20,000 candidates: 1.9 B after 300 s where the LP relaxation is
0.69 B), while its LP is solved in seconds and is close to the optimum.  So the
*scale* path works from the LP:

0. **Budget mode: a plan first.**  A maximisation model (budget mode) gets a
   plan before anything else from :func:`carecircle.siting.greedy.budget_greedy`
   (district targets first at least price, then residents newly served per
   yuan; about 2 s at 3,000 x 20,000), so the result is never empty even when
   the LP is not solved in time (at city scale the budget model's LP took
   minutes by dual simplex).
1. **Bound.**  :func:`carecircle.siting.bound.lp_bound`: the LP relaxation in
   the sites' configurations, certified by Lagrangian duality (valid whatever
   the LP solver's tolerances; with the LP unsolved in time, the bound of dual
   simplex's last duals or of the subgradient method).  Dual simplex for
   cover_all, the interior-point method without crossover for a model with a
   budget row (measured: see :func:`~carecircle.siting.bound.lp_bound`).
2. **First plan.**  The LP rounded up (rounded down too in budget mode), the
   rows that breaks (a site opened as two kinds that exclude each other)
   repaired by one window (step 4), then :func:`tidy`: site by site, dearest
   first, the cheapest configuration that keeps every row met.  If that fails,
   HiGHS on the LP's support (the columns the LP uses, about 3,000 of 58,000
   at city scale), then with the columns of small reduced cost.  Without an
   LP solution, :func:`greedy` by Lagrangian reduced cost.  Budget mode
   instead opens the LP's columns above 0.5 (0.4, 0.65) in order of their LP
   value and completes the plan by the greedy of step 0 (:func:`_lp_greedy`),
   keeping the best of these and step 0's plan.
3. **HiGHS on the LP's support, from the plan.**  Handed the plan as its
   first incumbent, HiGHS's own improvement heuristics work well at this size
   (824 M -> 715 M in 25 s at city scale, where the LP is 695 M).  Not in
   budget mode: at 3,000 x 20,000 it improved nothing in 20 s where the
   windows of step 4 gained 1.5 points of gap in the same time.
4. **Fix-and-optimise.**  Windows of the model are freed around a seed
   (breadth-first over the rows: the columns of a row, the rows of those
   columns, ...; only columns the LP uses, columns of small reduced cost and
   the plan's own columns), the rest fixed at the plan, and the window's MILP
   (rows touching it, with the fixed part moved into the row bounds) solved by
   HiGHS.  A better window replaces the plan's.  Seeds are drawn where the plan
   and the LP disagree, weighted by cost; a window's size grows while windows
   solve quickly and shrinks when they reach their time limit.  A window that
   holds every column the windows may open, solved to optimality, ends it.
5. It stops when the proven gap ``|plan - bound| / |plan|`` meets the target
   or the time is up.

The time limit covers all of it; the LP may take up to :data:`BOUND_SHARE` of
it, since every later step leans on the LP.

Everything works on the model's rows and columns (:class:`_milp.MilpModel`),
not on the siting problem, so further constraint blocks need no change here: the
capacity block of capacitated siting (:mod:`carecircle.siting.capacity`) is taken as
it is, its assignment columns being continuous (single columns of the Lagrangian,
solved with the sites fixed by :func:`_complete`).
The plan is checked against every row before it is returned.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from carecircle.siting import _milp
from carecircle.siting.bound import Lagrangian, LPBound, lp_bound, relaxation
from carecircle.siting.greedy import budget_greedy

#: Share of the time limit for the LP bound; for the first plan (when the rounded
#: LP fails); and of the time then left for HiGHS on the LP's support.
BOUND_SHARE = 0.6
START_SHARE = 0.25
SUPPORT_SHARE = 0.6
#: Budget (maximisation) models: the most of the time limit the greedy first plan
#: may take before the LP starts (it takes about a second at city scale).
GREEDY_SHARE = 0.35

#: Rows with more columns than this are not followed when a window grows.
DENSE_ROW = 200


@dataclass
class ScaleOutcome:
    """What the scale path found.

    ``objective`` and ``bound`` are in the model's sense (offset included);
    ``x`` is ``None`` when no plan was found.  ``log`` lists the steps as
    ``(step, seconds since start, objective)``.
    """

    x: np.ndarray | None
    objective: float
    bound: float
    bound_source: str
    gap: float
    lp: LPBound | None
    windows: int = 0
    improved: int = 0
    seconds: float = 0.0
    stopped_at_target: bool = False
    log: list[tuple[str, float, float]] = field(default_factory=list)


def feasible(model: _milp.MilpModel, x: np.ndarray, tol: float = 1e-6) -> bool:
    """Whether *x* satisfies every row, column bound and integrality of *model*.

    Parameters
    ----------
    model
        The MILP.
    x
        A point.
    tol
        Absolute tolerance.

    Returns
    -------
    bool
    """
    act = model.A @ x
    integ = np.asarray(model.integrality, bool)
    return bool(
        np.all(act >= model.row_lower - tol)
        and np.all(act <= model.row_upper + tol)
        and np.all(x >= model.col_lower - tol)
        and np.all(x <= model.col_upper + tol)
        and np.all(np.abs(x[integ] - np.round(x[integ])) <= tol)
    )


def gap_of(objective: float, bound: float) -> float:
    """``|objective - bound| / |objective|`` (0 when equal, inf without a plan).

    Parameters
    ----------
    objective, bound
        A plan's objective and a bound on the optimum.

    Returns
    -------
    float
    """
    if not math.isfinite(objective) or not math.isfinite(bound):
        return math.inf
    if objective == bound:
        return 0.0
    return abs(objective - bound) / max(abs(objective), 1e-9)


def _better(model: _milp.MilpModel, a: float, b: float) -> bool:
    """Whether objective *a* beats *b* by more than rounding."""
    eps = 1e-9 * max(abs(a), abs(b), 1.0)
    return a > b + eps if model.maximize else a < b - eps


def restricted(
    model: _milp.MilpModel,
    keep: np.ndarray,
    time_limit: float,
    start: np.ndarray | None = None,
) -> _milp.MilpSolution:
    """The MILP with every column outside *keep* fixed at its lower bound.

    With a *start*, HiGHS begins from it (see :func:`carecircle.siting._milp.run`)
    and it is the fallback plan.

    Parameters
    ----------
    model
        The MILP.
    keep
        Boolean mask of the columns left free.
    time_limit
        Seconds for HiGHS.
    start
        A plan (its columns must be in *keep*).

    Returns
    -------
    MilpSolution
        In the full model's columns.
    """
    up = np.where(keep, model.col_upper, model.col_lower)
    sub = replace(model, col_upper=up)
    return _milp.solve(
        sub, time_limit=max(time_limit, 0.1), mip_gap=1e-4, warm_start=start, hint=start is not None
    )


@dataclass
class _Windows:
    """Fix-and-optimise state: the model's two sparse layouts and the guide."""

    model: _milp.MilpModel
    A: sp.csr_matrix
    Ac: sp.csc_matrix
    promising: np.ndarray
    weight: np.ndarray
    rng: np.random.Generator
    size: int = 1500
    count: int = 0
    improved: int = 0
    exhausted: bool = False
    share: float = 0.2
    #: Rows over many columns (a budget row, a district's places): windows do not
    #: grow through them, or every window would be the whole district or city.
    dense: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    def __post_init__(self) -> None:
        self.dense = np.diff(self.A.indptr) > DENSE_ROW
    #: HiGHS's bound from a window that freed every column (the whole model).
    whole_bound: float | None = None

    def window(self, x: np.ndarray) -> np.ndarray:
        """Free columns around a seed: breadth-first over rows, promising columns only."""
        m = self.model
        allowed = self.promising | (x > 0.5)
        if allowed.sum() <= self.size:
            return allowed.copy()
        w = self.weight * allowed
        p = w / w.sum() if w.sum() > 0 else None
        seed = int(self.rng.choice(m.n_cols, p=p))
        free = np.zeros(m.n_cols, bool)
        free[seed] = True
        seen_rows = np.zeros(m.n_rows, bool)
        cols = np.array([seed])
        while len(cols) and free.sum() < self.size:
            rows = np.unique(self.Ac[:, cols].indices)
            rows = rows[~seen_rows[rows] & ~self.dense[rows]]
            seen_rows[rows] = True
            if not len(rows):
                break
            nxt = np.unique(self.A[rows].indices)
            nxt = nxt[allowed[nxt] & ~free[nxt]]
            room = self.size - int(free.sum())
            if len(nxt) > room:
                nxt = self.rng.choice(nxt, room, replace=False)
            free[nxt] = True
            cols = nxt
        return free

    def solve(
        self, x: np.ndarray, free: np.ndarray, time_limit: float, repair: bool = False
    ) -> tuple[np.ndarray, bool]:
        """The window's MILP with the rest fixed at *x*; the better of the two.

        With *repair*, *x* breaks rows inside the window and any plan of the
        window's MILP is taken.
        """
        m = self.model
        F = np.flatnonzero(free)
        R = np.unique(self.Ac[:, F].indices)
        AR = self.A[R]
        fixed = AR @ np.where(free, 0.0, x)
        sub = _milp.MilpModel(
            c=m.c[F],
            A=AR[:, F].tocsr(),
            row_lower=m.row_lower[R] - fixed,
            row_upper=m.row_upper[R] - fixed,
            col_lower=m.col_lower[F],
            col_upper=m.col_upper[F],
            integrality=m.integrality[F],
            maximize=m.maximize,
        )
        t = time.perf_counter()
        if repair:  # any plan will do: stop at HiGHS's first
            sol = _milp.solve(sub, time_limit=time_limit, options={"mip_max_improving_sols": 1})
        else:
            sol = _milp.solve(sub, time_limit=time_limit, mip_gap=1e-6, warm_start=x[F])
        took = time.perf_counter() - t
        self.count += 1
        # A window over every column the windows may open, solved to optimality:
        # no window can do better (small models end here).
        allowed = self.promising | (x > 0.5)
        self.exhausted = sol.status == "optimal" and bool(free[allowed].all())
        if free.all() and sol.x is not None:
            self.whole_bound = sol.bound + float(m.offset)
        if repair:
            if sol.x is None:
                return x, False
            y = x.copy()
            y[F] = sol.x
            return y, True
        # Grow while windows are solved well within their time, shrink when they are not.
        if sol.status == "optimal" and took < 0.3 * time_limit:
            self.size = int(self.size * 1.25)
        elif sol.status != "optimal":
            self.size = max(200, int(self.size * 0.7))
        if sol.x is None or not _better(m, float(m.c[F] @ sol.x), float(m.c[F] @ x[F])):
            return x, False
        y = x.copy()
        y[F] = sol.x
        self.improved += 1
        return y, True


def _objective(model: _milp.MilpModel, x: np.ndarray) -> float:
    return float(model.c @ x + model.offset)


def tidy(model: _milp.MilpModel, x: np.ndarray, L: Lagrangian | None = None) -> np.ndarray:
    """Greedy moves, one site at a time, that keep every row satisfied and cost less.

    A site is a group of columns tied by small rows (its kinds and its shared
    building: :func:`carecircle.siting.bound.relaxation`); a column in no group
    is a site of its own.  Dearest site first, the site takes its cheapest
    feasible 0/1 point that keeps every row within its bounds (rows already
    broken may not get worse).

    Parameters
    ----------
    model
        The MILP.
    x
        A 0/1 point on the integer columns.
    L
        The model's relaxation (its site groups); built here if not given.

    Returns
    -------
    numpy.ndarray
        The point after the moves.
    """
    L = relaxation(model) if L is None else L
    x = x.copy()
    Ac = model.A.tocsc()
    act = model.A @ x
    lo, hi = model.row_lower - 1e-9, model.row_upper + 1e-9
    c = L.c
    sites: list[tuple[np.ndarray, np.ndarray]] = []
    integ = np.asarray(model.integrality, bool)
    single = L.singles[integ[L.singles] & (model.col_lower[L.singles] < model.col_upper[L.singles])]
    one = np.array([[0.0], [1.0]])
    sites += [(np.array([j]), one) for j in single if x[j] > 0.5]
    for size, (cols, ok) in L.groups.items():
        pts = L.points[size]
        for g in np.flatnonzero((x[cols] > 0.5).any(axis=1)):
            sites.append((cols[g], pts[ok[g]]))
    cost_now = np.array([c[cs] @ x[cs] for cs, _ in sites])
    for k in np.argsort(-cost_now, kind="stable"):
        cs, pts = sites[k]
        sub = Ac[:, cs]
        rows = np.unique(sub.indices)
        cur = x[cs]
        vals = pts @ c[cs]
        for p in np.argsort(vals, kind="stable"):
            if vals[p] >= c[cs] @ cur - 1e-9:
                break
            new = act[rows] + (sub[rows] @ (pts[p] - cur))
            old = act[rows]
            if (((new >= lo[rows]) | (new >= old)) & ((new <= hi[rows]) | (new <= old))).all():
                act[rows] = new
                x[cs] = pts[p]
                break
    return x


def _complete(model: _milp.MilpModel, x: np.ndarray) -> np.ndarray | None:
    """The integer columns fixed at *x*, the continuous ones (budget mode's ``y``) solved."""
    integ = np.asarray(model.integrality, bool)
    if integ.all():
        return x
    lo = np.where(integ, x, model.col_lower)
    up = np.where(integ, x, model.col_upper)
    sol = _milp.solve(replace(model, col_lower=lo, col_upper=up, integrality=np.zeros_like(integ)))
    return sol.x


def _rounded_start(ws: _Windows, lp: LPBound, time_limit: float) -> np.ndarray | None:
    """The LP rounded, the rows that breaks repaired by a window, tidied.

    Rounding up suits covering rows (cover_all), rounding down a budget row:
    the rounding whose broken rows are the smaller repair goes first, the
    other too while half the time is left; the better plan is kept.
    """
    m = ws.model
    assert lp.x is not None  # the caller checked
    integ = np.asarray(m.integrality, bool)
    t0 = time.perf_counter()
    best: np.ndarray | None = None
    tries: list[tuple[int, int, np.ndarray, np.ndarray]] = []
    for rounded in (np.ceil(lp.x - 1e-7), np.floor(lp.x + 1e-7)):
        x = np.clip(np.where(integ, rounded, lp.x), m.col_lower, m.col_upper)
        act = ws.A @ x
        bad = np.flatnonzero((act < m.row_lower - 1e-6) | (act > m.row_upper + 1e-6))
        # The rounding whose broken rows touch fewer columns first: a smaller repair.
        tries.append((int(ws.A[bad].getnnz()), len(tries), x, bad))
    for _, _, x, bad in sorted(tries, key=lambda t: t[:2]):
        if len(bad):
            free = np.zeros(m.n_cols, bool)
            free[np.unique(ws.A[bad].indices)] = True
            # One ring of rows around: the repair may move what the broken rows touch.
            rows = np.unique(ws.Ac[:, np.flatnonzero(free)].indices)
            rows = rows[~ws.dense[rows]]
            free[np.unique(ws.A[rows].indices)] = True
            free &= ws.promising | (x > 0.5)
            left = time_limit - (time.perf_counter() - t0)
            x, ok = ws.solve(x, free, max(left, 0.5), repair=True)
            if not ok:
                continue
        x = tidy(m, x, lp.relaxation)
        done = _complete(m, x)  # the continuous columns at their best for these sites
        x = done if done is not None and feasible(m, done) else x
        if feasible(m, x) and (best is None or _better(m, _objective(m, x), _objective(m, best))):
            best = x
        if best is not None and time.perf_counter() - t0 > 0.5 * time_limit:
            break
    return best


def greedy(model: _milp.MilpModel, reduced_cost: np.ndarray, deadline: float) -> np.ndarray | None:
    """A plan by reduced cost per unit of unmet row bound, when no LP plan is at hand.

    Rows bounded below and not yet met ask for columns; each round opens the
    columns with the least ``max(reduced cost, 0)`` per share of the unmet
    bounds they fill (a batch of them, skipping one whose rows are met by then
    or that would break a row bounded above), until every row is met; then
    :func:`tidy`.  Continuous columns are solved at the end.

    Parameters
    ----------
    model
        The MILP.
    reduced_cost
        Reduced costs (minimisation form), e.g. from Lagrangian multipliers.
    deadline
        ``time.perf_counter()`` value to give up at.

    Returns
    -------
    numpy.ndarray or None
        A feasible point, or ``None`` if the rows could not all be met.
    """
    A, Ac = model.A.tocsr(), model.A.tocsc()
    integ = np.asarray(model.integrality, bool)
    x = np.where(integ, np.ceil(model.col_lower - 1e-9), model.col_lower)
    act = A @ x
    open_ok = integ & (x < model.col_upper - 0.5)
    cost = np.maximum(reduced_cost, 0.0) + 1e-9 * (np.abs(model.c).max() + 1.0)
    while time.perf_counter() < deadline:
        deficit = model.row_lower - act
        need = np.flatnonzero(np.isfinite(deficit) & (deficit > 1e-9))
        if not len(need):
            break
        B = A[need].tocsr()
        d = np.repeat(deficit[need], np.diff(B.indptr))
        B.data = np.where(B.data > 0, np.minimum(B.data, d) / d, 0.0)
        share = np.asarray(B.sum(axis=0)).ravel()
        ratio = np.where(open_ok & (share > 0), cost / np.maximum(share, 1e-12), np.inf)
        k = max(1, len(need) // 20)
        picks = np.argsort(ratio, kind="stable")[:k]
        picks = picks[np.isfinite(ratio[picks])]
        if not len(picks):
            return None
        for j in picks:
            rows = Ac.indices[Ac.indptr[j] : Ac.indptr[j + 1]]
            new = act[rows] + Ac.data[Ac.indptr[j] : Ac.indptr[j + 1]]
            if not (model.row_lower[rows] - act[rows] > 1e-9).any():
                continue  # met by an earlier pick of this round
            open_ok[j] = False
            if (new > model.row_upper[rows] + 1e-9).any():
                continue
            act[rows] = new
            x[j] = 1.0
    y = _complete(model, tidy(model, x))
    return y if y is not None and feasible(model, y) else None


#: Budget mode: the LP's columns above each of these values are opened first (in
#: order of their LP value, as the budget allows), then the greedy completes the
#: plan; the best plan is kept.  Measured at 3,000 x 20,000 (interior-point LP):
#: 0.999: 1.185 M residents, 0.9: 1.201 M, 0.5: 1.245 M, 0.3 and below: the
#: targets no longer fit; the greedy alone 1.171 M; the LP bound 1.301 M.
LP_THRESHOLDS = (0.5, 0.4, 0.65)


def _lp_greedy(model: _milp.MilpModel, lp_x: np.ndarray, deadline: float) -> tuple[np.ndarray | None, str]:
    """The greedy of :mod:`carecircle.siting.greedy` started from the LP's larger columns."""
    integ = np.asarray(model.integrality, bool)
    best: np.ndarray | None = None
    for th in LP_THRESHOLDS:
        if time.perf_counter() > deadline:
            break
        cand = np.flatnonzero(integ & (lp_x > th))
        x = budget_greedy(model, deadline, first=cand[np.argsort(-lp_x[cand], kind="stable")])
        if x is not None and (best is None or _better(model, _objective(model, x), _objective(model, best))):
            best = x
    return best, "LP's columns above a threshold, completed by greedy gain per yuan"


def _first_plan(ws: _Windows, lp: LPBound, time_limit: float) -> tuple[np.ndarray | None, str]:
    """The rounded LP; failing that the MILP on the LP's support, then with the
    columns of small reduced cost."""
    model = ws.model
    t0 = time.perf_counter()
    if lp.x is None:
        x = greedy(model, lp.reduced_cost, t0 + time_limit)
        return x, "greedy by Lagrangian reduced cost (the LP was not solved in time)"
    x = _rounded_start(ws, lp, time_limit)
    if x is not None:
        return x, "LP rounded, repaired and tidied"
    support = (lp.x > 1e-7) | (model.col_lower > 0) | ~np.asarray(model.integrality, bool)
    sol = restricted(model, support, time_limit - (time.perf_counter() - t0))
    if sol.x is not None and feasible(model, sol.x):
        return sol.x, "MILP on the LP's support"
    sol = restricted(model, ws.promising, max(time_limit - (time.perf_counter() - t0), 1.0))
    if sol.x is not None and feasible(model, sol.x):
        return sol.x, "MILP on the LP's support and columns of small reduced cost"
    return None, ""


def scale_solve(
    model: _milp.MilpModel,
    *,
    time_limit: float,
    gap_target: float = 0.01,
    seed: int = 0,
) -> ScaleOutcome:
    """Bound, first plan and fix-and-optimise windows within *time_limit* seconds.

    Parameters
    ----------
    model
        The MILP (minimisation or maximisation).
    time_limit
        Wall-clock seconds for the whole path.
    gap_target
        Stop once the proven relative gap is at most this.
    seed
        Random seed of the windows' seeds (the same seed, the same sequence
        of windows; the plan also depends on HiGHS's timing).

    Returns
    -------
    ScaleOutcome
        ``x`` is ``None`` when no plan was found (the caller falls back on
        the exact path).
    """
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    log: list[tuple[str, float, float]] = []
    x0 = None
    if model.maximize:
        # Budget mode: its LP may take minutes at city scale; a plan first, so the
        # result is never empty.
        x0 = budget_greedy(model, t0 + GREEDY_SHARE * time_limit)
        if x0 is not None:
            log.append(("greedy gain per yuan", time.perf_counter() - t0, _objective(model, x0)))
    upper = None if x0 is None else _objective(model, x0)
    lp = lp_bound(model, time_limit=BOUND_SHARE * (deadline - time.perf_counter()), upper=upper)
    log.append(("bound", time.perf_counter() - t0, lp.bound))
    out = ScaleOutcome(None, math.nan, lp.bound, lp.source, math.inf, lp, log=log)
    lp_x = lp.x if lp.x is not None else np.zeros(model.n_cols)
    ws = _Windows(
        model=model,
        A=model.A.tocsr(),
        Ac=model.A.tocsc(),
        promising=_promising(model, lp),
        weight=np.ones(model.n_cols),
        rng=np.random.default_rng(seed),
    )
    x, how = None, ""
    if x0 is None:
        left = max(START_SHARE * time_limit, deadline - time.perf_counter() - 1)
        x, how = _first_plan(ws, lp, left)
    elif lp.x is not None:  # with a plan at hand, the LP's near-1 columns first, then greedy
        x, how = _lp_greedy(model, lp.x, t0 + GREEDY_SHARE * time_limit + (time.perf_counter() - t0))
    if x0 is not None and (x is None or _better(model, _objective(model, x0), _objective(model, x))):
        x, how = x0, "greedy gain per yuan"
    if x is None:
        out.seconds = time.perf_counter() - t0
        return out
    obj = _objective(model, x)
    log.append((how, time.perf_counter() - t0, obj))
    if lp.x is not None and not model.maximize and gap_of(obj, lp.bound) > gap_target:
        # HiGHS on the LP's support, from the plan: its heuristics do well at this size
        # in cover_all.  Not in budget mode: at 3,000 x 20,000 it improved nothing in
        # 20 s where the windows gained 1.5 points of gap.
        keep = (lp.x > 1e-7) | (x > 0.5) | ~np.asarray(model.integrality, bool)
        sol = restricted(model, keep, SUPPORT_SHARE * (deadline - time.perf_counter()), start=x)
        if sol.x is not None and feasible(model, sol.x) and _better(model, sol.objective, obj):
            x, obj = sol.x, _objective(model, sol.x)
            log.append(("MILP on the LP's support from the plan", time.perf_counter() - t0, obj))
    ws.weight = np.abs(model.c) * np.abs(x - lp_x) + 1e-9
    best_bound = lp.bound
    while gap_of(obj, best_bound) > gap_target:
        left = deadline - time.perf_counter()
        if left < 0.5:
            break
        if ws.exhausted:
            if ws.whole_bound is not None:  # the whole model was solved: HiGHS's bound
                best_bound = _tighter(model, best_bound, ws.whole_bound)
                out.bound_source = "HiGHS branch and bound on the whole model (last window)"
                break
            # No window over these columns can do better: let more columns in.
            ws.share = min(2 * ws.share, 1.0)
            ws.promising = _promising(model, lp, ws.share)
            ws.exhausted = False
        x, better = ws.solve(x, ws.window(x), min(3.0, left))
        if better:
            obj = _objective(model, x)
            log.append(("window", time.perf_counter() - t0, obj))
            ws.weight = np.abs(model.c) * np.abs(x - lp_x) + 1e-9
    integ = np.asarray(model.integrality, bool)
    x = x.copy()
    x[integ] = np.round(x[integ])
    if not feasible(model, x):  # pragma: no cover - every step keeps the rows satisfied
        raise RuntimeError("the scale path produced a plan that breaks a row")
    obj = _objective(model, x)
    out.x, out.objective, out.bound = x, obj, best_bound
    out.gap = gap_of(obj, best_bound)
    out.stopped_at_target = out.gap <= gap_target
    out.windows, out.improved = ws.count, ws.improved
    out.seconds = time.perf_counter() - t0
    return out


def _tighter(model: _milp.MilpModel, a: float, b: float) -> float:
    """The stronger of two valid bounds."""
    return min(a, b) if model.maximize else max(a, b)


def _promising(model: _milp.MilpModel, lp: LPBound, share: float = 0.2) -> np.ndarray:
    """Columns the windows may open: used by the LP, or among the *share* of
    columns of least reduced cost."""
    rc = lp.reduced_cost
    keep = rc <= np.quantile(rc, min(share, 1.0)) if share < 1 else np.ones(len(rc), bool)
    if lp.x is not None:
        keep |= lp.x > 1e-7
    return keep | ~np.asarray(model.integrality, bool)
