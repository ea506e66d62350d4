"""A valid bound on a siting MILP in seconds: Lagrangian relaxation by subgradient.

The siting model's rows are of two sorts.  A few small rows tie the columns of one
site together (one kind per site, shared buildings: two or three columns each);
all the others (cover rows, district targets, street-centre links, the budget
row) couple many sites.  Relaxing the coupling rows with multipliers ``u`` leaves
one tiny problem per site, solved by enumerating its 0/1 points, so the
Lagrangian function

    L(u) = u . b(u) + sum over sites of min over the site's points of (c - A^T u) x

costs two sparse products and a few array operations.  By weak duality
``L(u) <= min c x`` over the integer points for *every* ``u`` of the right signs
(``u_i >= 0`` on a row bounded below, ``<= 0`` on a row bounded above, ``b(u)``
the bound the sign selects), whatever produced ``u``; that is what makes the
bound valid, not the convergence of the method.  Maximisation models are bounded
from above by the same argument on ``-c``.

Subgradient optimisation (Held-Wolfe-Crowder steps towards an upper estimate,
the step factor halved when ``L`` stalls) maximises ``L``.  Since the sites'
little polytopes are integral, the best ``L`` is the LP relaxation's value; the
point of the method is to get close to it in seconds where the simplex method
takes tens of seconds at city scale, and to give reduced costs ``c - A^T u``
that guide the plan's heuristics (:mod:`carecircle.siting.improve`).

:func:`dual_bound` evaluates ``L`` for any row multipliers, e.g. an LP solver's
row duals: the same formula certifies an LP bound independently of the solver's
own tolerances.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from carecircle.siting import _milp

#: Largest group of columns tied by kept rows that is enumerated (2**5 points).
MAX_GROUP = 5

#: A row over more columns than this, bounded above only, is a budget row.
DENSE_ROW = 200


@dataclass
class Lagrangian:
    """The relaxation of a model: which rows are relaxed, and the site groups.

    Attributes
    ----------
    model
        The model (minimisation form: ``c`` negated for a maximisation model).
    relaxed
        Indices of the relaxed rows.
    groups
        ``{size: (columns, feasible)}``: per group size the columns of each group
        (groups x size) and which of the size's 0/1 points each group may take
        (groups x 2**size).
    singles
        Columns in no group (their own box is their only constraint).
    """

    model: _milp.MilpModel
    c: np.ndarray
    relaxed: np.ndarray
    A_rel: sp.csr_matrix
    lo: np.ndarray
    hi: np.ndarray
    groups: dict[int, tuple[np.ndarray, np.ndarray]]
    singles: np.ndarray
    sign: float = 1.0
    points: dict[int, np.ndarray] = field(default_factory=dict)
    row_scale: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def to_model(self, value: float) -> float:
        """A minimisation-form value in the model's own sense, offset included."""
        return self.sign * value + float(self.model.offset)

    def value(self, u: np.ndarray) -> tuple[float, np.ndarray]:
        """``L(u)`` (minimisation form) and a minimiser ``x(u)``."""
        rc = self.c - self.A_rel.T @ u
        x = np.zeros(len(self.c))
        total = float(np.where(u > 0, u * _fin(self.lo), u * _fin(self.hi)).sum())
        m = self.model
        s = self.singles
        lo, up = m.col_lower[s], m.col_upper[s]
        xs = np.where(rc[s] < 0, up, lo)
        x[s] = xs
        total += float(rc[s] @ xs)
        for size, (cols, ok) in self.groups.items():
            pts = self.points[size]
            vals = rc[cols] @ pts.T  # groups x points
            vals = np.where(ok, vals, np.inf)
            best = np.argmin(vals, axis=1)
            total += float(vals[np.arange(len(cols)), best].sum())
            x[cols] = pts[best]
        return total, x


def _fin(a: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(a), a, 0.0)


def relaxation(model: _milp.MilpModel, keep: np.ndarray | None = None) -> Lagrangian:
    """The Lagrangian relaxation of *model* keeping its small site rows.

    Parameters
    ----------
    model
        The MILP.
    keep
        Rows that may be kept (default: every row); of these, rows over two or
        three binary columns that opening nothing satisfies are kept, unless
        the group of columns they tie exceeds :data:`MAX_GROUP` columns, when
        that group's rows are relaxed.

    Returns
    -------
    Lagrangian
    """
    A = model.A.tocsr()
    n_rows, n_cols = A.shape
    binary = (
        np.asarray(model.integrality, bool)
        & (model.col_lower >= 0)
        & (model.col_upper <= 1)
    )
    size = np.diff(A.indptr)
    nonbin = np.asarray(A[:, ~binary].getnnz(axis=1)).ravel() if (~binary).any() else np.zeros(n_rows, int)
    # A site's own rows: short, over binaries, and met by opening nothing (packing
    # and linking rows); a short cover row is a coupling row like any other.
    cand = (size >= 2) & (size <= 3) & (nonbin == 0)
    cand &= (model.row_lower <= 0) & (model.row_upper >= 0)
    if keep is not None:
        cand &= keep
    kept = np.flatnonzero(cand)
    label, counts = _groups(A, kept, n_cols)
    big = counts[label] > MAX_GROUP
    if big.any():
        # Rows touching a too-large group are relaxed too.
        touch = np.asarray(A[kept][:, big].getnnz(axis=1)).ravel() > 0
        kept = kept[~touch]
        label, counts = _groups(A, kept, n_cols)
    c = -model.c if model.maximize else model.c.astype(float)
    relaxed = np.setdiff1d(np.arange(n_rows), kept)
    groups, singles, points = _enumerate(A, kept, label, counts, model)
    A_rel, lo, hi, scale = _scaled(
        A[relaxed].tocsr(), model.row_lower[relaxed], model.row_upper[relaxed]
    )
    return Lagrangian(
        model=model,
        c=np.asarray(c, float),
        relaxed=relaxed,
        A_rel=A_rel,
        lo=lo,
        hi=hi,
        groups=groups,
        singles=singles,
        sign=-1.0 if model.maximize else 1.0,
        points=points,
        row_scale=scale,
    )


def _scaled(
    A: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray]:
    """Rows divided by their nonzero bound (else their largest coefficient).

    A target row such as ``sum places x >= 2,000`` would otherwise have
    subgradient entries three orders above a cover row's and take every step.
    """
    big = np.zeros(A.shape[0])
    nz = np.diff(A.indptr) > 0
    if A.nnz:
        big[nz] = np.maximum.reduceat(np.abs(A.data), A.indptr[:-1][nz])
    b = np.where(np.isfinite(lo) & (lo != 0), np.abs(lo), np.where(np.isfinite(hi) & (hi != 0), np.abs(hi), big))
    s = np.where(b > 0, 1.0 / np.where(b > 0, b, 1.0), 1.0)
    return sp.diags(s).dot(A).tocsr(), lo * s, hi * s, s


def _groups(A: sp.csr_matrix, kept: np.ndarray, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Connected groups of columns tied by the kept rows: label per column, size per label."""
    if not len(kept) or not A[kept].nnz:
        return np.arange(n_cols), np.ones(n_cols, np.int64)
    K = A[kept].tocoo()
    first = np.full(len(kept), -1, np.int64)
    # Tie every column of a row to the row's first column (a star per row).
    order = np.lexsort((K.col, K.row))
    r, cidx = K.row[order], K.col[order]
    start = np.r_[0, np.flatnonzero(np.diff(r)) + 1]
    first[r[start]] = cidx[start]
    G = sp.csr_matrix((np.ones(len(r)), (cidx, first[r])), shape=(n_cols, n_cols))
    _, label = connected_components(G, directed=False)
    return label, np.bincount(label)


def _enumerate(
    A: sp.csr_matrix,
    kept: np.ndarray,
    label: np.ndarray,
    counts: np.ndarray,
    model: _milp.MilpModel,
) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], np.ndarray, dict[int, np.ndarray]]:
    """Per group size: the groups' columns and which 0/1 points satisfy their kept rows."""
    n_cols = A.shape[1]
    size = counts[label]
    singles = np.flatnonzero(size == 1)
    groups: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    points: dict[int, np.ndarray] = {}
    K = A[kept].tocoo()
    row_group = label[K.col]
    for s in sorted(set(size[size > 1].tolist())):
        members = np.flatnonzero(size == s)
        order = np.argsort(label[members], kind="stable")
        cols = members[order].reshape(-1, s)
        gid = np.full(len(counts), -1, np.int64)
        gid[label[cols[:, 0]]] = np.arange(len(cols))
        pos = np.full(n_cols, -1, np.int64)
        pos[cols] = np.broadcast_to(np.arange(s), cols.shape)
        pts = np.array(list(itertools.product((0.0, 1.0), repeat=s)))
        ok = (pts[None, :, :] >= model.col_lower[cols][:, None, :] - 1e-9).all(axis=2)
        ok &= (pts[None, :, :] <= model.col_upper[cols][:, None, :] + 1e-9).all(axis=2)
        sel = gid[row_group] >= 0
        if sel.any():
            kr = K.row[sel]
            rows_here, kr_idx = np.unique(kr, return_inverse=True)
            R = np.zeros((len(rows_here), s))
            np.add.at(R, (kr_idx, pos[K.col[sel]]), K.data[sel])
            act = R @ pts.T
            rlo = model.row_lower[kept[rows_here]][:, None]
            rhi = model.row_upper[kept[rows_here]][:, None]
            feas = (act >= rlo - 1e-9) & (act <= rhi + 1e-9)
            g_of_row = np.zeros(len(rows_here), np.int64)
            g_of_row[kr_idx] = gid[row_group[sel]]
            bad = np.zeros(ok.shape, np.int64)
            np.add.at(bad, g_of_row, (~feas).astype(np.int64))
            ok &= bad == 0
        groups[s] = (cols, np.asarray(ok, bool))
        points[s] = pts
    return groups, singles, points


@dataclass
class BoundResult:
    """The best Lagrangian bound found and what produced it.

    ``bound`` is in the model's own sense: a lower bound on the optimum of a
    minimisation model, an upper bound for a maximisation model.
    """

    bound: float
    u: np.ndarray
    x: np.ndarray
    reduced_cost: np.ndarray
    iterations: int
    seconds: float


def _subgradient(L: Lagrangian, x: np.ndarray, u: np.ndarray) -> np.ndarray:
    act = L.A_rel @ x
    g = np.zeros(len(u))
    lo_f, hi_f = np.isfinite(L.lo), np.isfinite(L.hi)
    below = lo_f & (act < L.lo)
    above = hi_f & (act > L.hi)
    g[below] = (L.lo - act)[below]
    g[above] = (L.hi - act)[above]
    pos, neg = u > 0, u < 0
    g[pos] = (L.lo - act)[pos]
    g[neg] = (L.hi - act)[neg]
    return g


def _project(L: Lagrangian, u: np.ndarray) -> np.ndarray:
    u = np.where(np.isfinite(L.hi), u, np.maximum(u, 0.0))
    return np.where(np.isfinite(L.lo), u, np.minimum(u, 0.0))


def initial_multipliers(L: Lagrangian) -> np.ndarray:
    """Each covering row's price: its cheapest column's cost shared among the rows it meets."""
    A = L.A_rel.tocsr()
    need = np.isfinite(L.lo) & (L.lo > 0) & ~np.isfinite(L.hi)
    cnt = np.asarray(A[need].getnnz(axis=0)).ravel()
    share = np.maximum(L.c, 0.0) / np.maximum(cnt, 1)
    u = np.zeros(A.shape[0])
    rows = np.flatnonzero(need)
    sub = A[rows].tocsr()
    price = sub.copy()
    price.data = share[sub.indices] / np.maximum(np.abs(sub.data), 1e-12)
    price.data = np.where(sub.data > 0, price.data, np.inf)
    mins = np.full(len(rows), 0.0)
    nz = np.diff(sub.indptr) > 0
    mins[nz] = np.minimum.reduceat(price.data, sub.indptr[:-1][nz])
    u[rows] = np.where(np.isfinite(mins), mins, 0.0)
    return u


def maximise(
    L: Lagrangian,
    *,
    upper: float | None = None,
    u0: np.ndarray | None = None,
    time_limit: float = 10.0,
    max_iter: int = 3000,
    tol: float = 1e-4,
) -> BoundResult:
    """Subgradient optimisation of ``L(u)`` (minimisation form).

    Parameters
    ----------
    L
        The relaxation.
    upper
        A known objective value of a plan (minimisation form), the target of
        the steps; without one, the bound plus 5 % stands in.
    u0
        Starting multipliers (default :func:`initial_multipliers`).
    time_limit, max_iter
        Stop after so many seconds or iterations.
    tol
        Stop when the bound is within this relative distance of *upper*, or
        when the step factor has fallen below 1e-4.

    Returns
    -------
    BoundResult
        In minimisation form (the caller flips the sign for a maximisation model).
    """
    t0 = time.perf_counter()
    u = initial_multipliers(L) if u0 is None else _project(L, np.asarray(u0, float))
    best, x = L.value(u)
    best_u, best_x = u.copy(), x.copy()
    lam, stall, it = 2.0, 0, 0
    while it < max_iter and time.perf_counter() - t0 < time_limit:
        it += 1
        val, x = L.value(u)
        if val > best + 1e-9 * max(abs(best), 1.0):
            best, best_u, best_x, stall = val, u.copy(), x.copy(), 0
        else:
            stall += 1
            if stall >= 25:
                lam, stall = lam / 2, 0
                u = best_u.copy()
                continue
        target = upper if upper is not None else best + 0.05 * max(abs(best), 1.0)
        if upper is not None and target - best <= tol * max(abs(target), 1.0):
            break
        if lam < 1e-4:
            break
        g = _subgradient(L, x, u)
        gg = float(g @ g)
        if gg == 0.0:
            break  # x(u) satisfies every relaxed row with complementary slackness: optimal
        step = lam * max(target - val, 1e-9 * max(abs(target), 1.0)) / gg
        u = _project(L, u + step * g)
    rc = L.c - L.A_rel.T @ best_u
    return BoundResult(best, best_u, best_x, rc, it, time.perf_counter() - t0)


def _configurations(
    L: Lagrangian,
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray]:
    """Every site's feasible nonzero 0/1 points as columns over the model's columns.

    Returns the points (configurations x model columns), each configuration's
    column bounds (a column in no group is its own configuration with its own
    bounds, continuous ``y`` too; a group's configuration is in [0, 1]) and its
    group (-1 for a single column).
    """
    n = len(L.c)
    m = L.model
    s = L.singles
    parts = [sp.csr_matrix((np.ones(len(s)), (np.arange(len(s)), s)), shape=(len(s), n))]
    lo, up = [m.col_lower[s]], [m.col_upper[s]]
    group = [np.full(len(s), -1, np.int64)]
    first = 0
    for size, (cols, ok) in L.groups.items():
        pts = L.points[size]
        gi, pi = np.nonzero(ok & (pts.sum(axis=1) > 0)[None, :])
        on = pts[pi] > 0
        r = np.repeat(np.arange(len(gi)), on.sum(axis=1))
        parts.append(sp.csr_matrix((np.ones(len(r)), (r, cols[gi][on])), shape=(len(gi), n)))
        lo.append(np.zeros(len(gi)))
        up.append(np.ones(len(gi)))
        group.append(first + gi)
        first += len(cols)
    return sp.vstack(parts).tocsr(), np.concatenate(lo), np.concatenate(up), np.concatenate(group)


def _convexity_rounds(
    h: _milp.highspy.Highs, group: np.ndarray, deadline: float, rounds: int = 6
) -> bool:
    """Add ``sum of a site's configurations <= 1`` where the LP breaks it; re-solve.

    Returns whether the last solve was optimal.
    """
    MS = _milp.highspy.HighsModelStatus
    for _ in range(rounds):
        if h.getModelStatus() != MS.kOptimal:
            return False
        lam = np.asarray(h.getSolution().col_value, float)
        g = group >= 0
        load = np.bincount(group[g], weights=lam[g])
        over = np.flatnonzero(load > 1 + 1e-7)
        if not len(over):
            return True
        left = deadline - time.perf_counter()
        if left <= 0:
            return False
        idx = np.flatnonzero(np.isin(group, over))
        r = np.searchsorted(over, group[idx])
        R = sp.csr_matrix((np.ones(len(idx)), (r, idx)), shape=(len(over), len(group)))
        R.sort_indices()
        h.addRows(
            len(over), np.full(len(over), -np.inf), np.ones(len(over)), R.nnz,
            R.indptr[:-1].astype(np.int32), R.indices.astype(np.int32), R.data.astype(float),
        )
        # HiGHS's clock runs across the runs of one instance: the limit is on its total.
        h.setOptionValue("time_limit", float(h.getRunTime()) + left)
        h.run()
    return h.getModelStatus() == MS.kOptimal


@dataclass
class LPBound:
    """The LP relaxation's bound, certified, and what guides the heuristics.

    Attributes
    ----------
    bound
        Valid bound in the model's sense (offset included): ``L(u)`` at the
        LP's row duals, recomputed here, not HiGHS's objective value.
    lp_value
        HiGHS's LP objective in the model's sense (``nan`` if not solved).
    status
        ``"optimal"`` or ``"time_limit"`` (the duals then came from the
        subgradient method, or the LP's last iterate).
    x
        The LP's solution in the model's columns (``None`` if not solved).
    reduced_cost
        ``c - A^T u`` over the relaxed rows (minimisation form).
    source
        Where the bound comes from, in words.
    """

    bound: float
    lp_value: float
    status: str
    x: np.ndarray | None
    reduced_cost: np.ndarray
    source: str
    seconds: float
    relaxation: Lagrangian | None = None


def has_budget_row(model: _milp.MilpModel) -> bool:
    """Whether *model* has a dense row bounded above only (a budget row).

    Parameters
    ----------
    model
        The MILP.

    Returns
    -------
    bool
    """
    dense = np.diff(model.A.tocsr().indptr) > DENSE_ROW
    return bool(
        (dense & np.isfinite(model.row_upper) & ~np.isfinite(model.row_lower)).any()
    )


def lp_bound(
    model: _milp.MilpModel,
    *,
    time_limit: float,
    upper: float | None = None,
    solver: str = "auto",
) -> LPBound:
    """The LP relaxation solved in the sites' configurations, its bound certified.

    Parameters
    ----------
    model
        The MILP.
    time_limit
        Seconds for the LP; when it is not solved in time the subgradient
        method (:func:`maximise`) spends what is left of a fifth more.
    upper
        A plan's objective in the model's sense, if known (steers the
        subgradient steps).
    solver
        ``"simplex"`` (dual simplex, convexity rows added where broken),
        ``"ipm"`` (HiGHS's interior-point method without crossover) or
        ``"auto"``: interior point for a model with a budget row
        (:func:`has_budget_row`), dual simplex otherwise; see the notes.

    Returns
    -------
    LPBound

    Notes
    -----
    Each site's columns and rows are replaced by the site's feasible 0/1 points
    (Dantzig-Wolfe's configurations): one LP column per point, over the coupling
    rows only.  Its optimum is the LP relaxation's (the sites' polytopes are
    integral), but the rows that tie a site's columns (most of the rows at city
    scale) are gone and dual simplex solves it about twice as fast.  The
    convexity rows (at most one configuration per site) are added only where
    the LP breaks them (a few dozen at city scale), then re-solved warm.
    Without them the LP is a relaxation still, so whatever it returns bounds
    the MILP; the bound reported is ``L(u)`` at the coupling rows' duals, and
    ``L(u)`` is valid for any ``u``: dual simplex keeps its duals feasible, so
    even an LP stopped at its time limit certifies a useful bound.

    **Which LP method** (measured 2026-11-28 on this configuration LP of the
    hard instance, 3,000 x 20,000, seed 11; CPU seconds on the 2-core VM):
    budget mode (5,244 rows x 84,539 configurations, a dense budget row and
    coverage targets) dual simplex 109 s, interior point without crossover
    24 s (bound 1,301,118 both, to 7 digits); cover_all (5,107 x 79,436)
    dual simplex 8.2 s, interior point 9.4 s.  So ``"auto"`` takes the
    interior-point method for a model with a budget row and dual simplex
    otherwise.  The interior-point path adds no convexity rows (up front they
    made it 43 s for a bound 0.002 % tighter; later, each round would be a
    cold solve), so its bound may be a little weaker than the LP's value,
    never invalid; its primal point, cleared of values below 1e-5, guides
    the rounding.  Stopped at its time limit it has no duals: the
    subgradient method then gives the bound.
    """
    t0 = time.perf_counter()
    L = relaxation(model)
    Pm, lo, up, group = _configurations(L)
    C = (L.A_rel @ Pm.T).tocsr()
    use_ipm = solver == "ipm" or (solver == "auto" and has_budget_row(model))
    # Interior point: no convexity rows, up front (at 3,000 x 20,000 they made the
    # solve 43 s instead of 23 s for a bound 0.002 % tighter) or later (each round
    # would be a cold solve).  The LP without them is a relaxation still.
    A_lp, r_lo, r_hi = C, L.lo, L.hi
    lp = _milp.MilpModel(
        c=Pm @ L.c,
        A=A_lp,
        row_lower=r_lo,
        row_upper=r_hi,
        col_lower=lo,
        col_upper=up,
        integrality=np.zeros(len(lo), bool),
    )
    h = _milp.build(lp)
    h.setOptionValue("presolve", "off")
    h.setOptionValue("time_limit", max(float(time_limit), 1e-3))
    if use_ipm:
        h.setOptionValue("solver", "ipm")
        h.setOptionValue("run_crossover", "off")
    h.run()
    MS = _milp.highspy.HighsModelStatus
    if use_ipm:
        solved = h.getModelStatus() == MS.kOptimal
    else:
        solved = _convexity_rounds(h, group, t0 + time_limit)
    sol = h.getSolution()
    # The duals of the relaxed rows only (the convexity rows come after them).
    n_rel = C.shape[0]
    u = np.asarray(sol.row_dual, float)[:n_rel] if sol.dual_valid else np.zeros(n_rel)
    u = _project(L, u)
    value, _ = L.value(u)
    x = Pm.T @ np.asarray(sol.col_value, float) if solved else None
    if x is not None and use_ipm:
        # An interior point: clear the near-zero dust (the LP's support is read
        # as x > 1e-7), and keep each column in its box.
        x = np.clip(np.where(x < 1e-5, 0.0, x), model.col_lower, model.col_upper)
    how = "interior point, no crossover" if use_ipm else "dual simplex"
    source = f"LP relaxation (site configurations, {how}), certified by Lagrangian duality"
    status = "optimal"
    if not solved:
        status = "time_limit"
        left = max(0.2 * time_limit, 0.5)
        up_min = None if upper is None else L.sign * (upper - float(model.offset))
        u_init = initial_multipliers(L)
        start = u if value >= L.value(u_init)[0] else u_init
        res = maximise(L, upper=up_min, u0=start, time_limit=left)
        if res.bound > value:
            value, u = res.bound, res.u
        source = "Lagrangian relaxation (subgradient method; the LP was not solved in time)"
    rc = L.c - L.A_rel.T @ u
    lp_value = L.to_model(float(h.getInfo().objective_function_value)) if solved else math.nan
    return LPBound(
        bound=L.to_model(value),
        lp_value=lp_value,
        status=status,
        x=x,
        reduced_cost=rc,
        source=source,
        seconds=time.perf_counter() - t0,
        relaxation=L,
    )
