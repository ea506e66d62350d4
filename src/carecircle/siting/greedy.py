"""A first plan for a budget-limited siting MILP in seconds: greedy gain per yuan.

At city scale the budget model's LP (its dense budget row and the coverage
targets over the served-share columns) takes minutes, so the scale path
(:mod:`carecircle.siting.improve`) cannot wait for it to have a plan.  This
greedy works on the model's rows and columns, reading the siting structure
from their shape only:

* **Derived columns** are those bounded by *link rows* ``d - sum a x <= 0``
  (``d``'s coefficient positive, every other negative): a community's served
  share ``y``, a street's centre ``h``, a shared building ``z <= x_e``,
  ``z <= x_c``.  Given the site columns, each takes its largest value,
  ``min(upper, min over its link rows of sum a x)``; every one of them has a
  nonnegative objective in the model's sense or is forced to that value by
  another row (a shared building dearer than two), so that is its best value.
* **Choices** are the other integer columns (a site opened as a kind).
* **Resource rows** are dense rows bounded above with nonnegative coefficients
  (the budget row); a choice's price is its share of their bounds.

Each step opens the choice of the largest gain per price, where the gain is
the objective's increase (residents newly served) plus, while rows bounded
below (district targets, required sites) are unmet, a weight
``lam = total objective at stake`` per unit of their relative shortfall, so
targets come first, at the least price.  A choice that would break a row
bounded above (the budget, one kind per site) is dropped.  The gains are
evaluated lazily (a heap of stale gains, re-evaluated when popped); coverage
gains only shrink as sites open, so stale gains overestimate and the order is
the greedy one.  The plan is returned only if it meets every row.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from carecircle.siting import _milp

#: A row with more columns than this that is bounded above with nonnegative
#: coefficients is a resource row (the budget).
RESOURCE_ROW = 200

#: A re-evaluated choice is taken if its gain per price is within this share of
#: the best stale one (an approximate lazy greedy: far fewer re-evaluations at
#: city scale, a plan within a few 0.1 % of the exact greedy's).
LAZY_SLACK = 0.03

#: Popped choices in a row that gain nothing before the queue is rebuilt.
REFRESH = 500


@dataclass
class _Shape:
    """The model read as choices, derived columns, link rows and resource rows."""

    A: sp.csr_matrix
    Ac: sp.csc_matrix
    c: np.ndarray  # maximisation form
    derived: np.ndarray  # bool per column
    link: np.ndarray  # bool per row
    link_col: np.ndarray  # the derived column of each link row (-1 elsewhere)
    links_of: sp.csr_matrix  # derived column x link rows
    choices: np.ndarray  # column indices
    price: np.ndarray  # per column: share of the resource rows' bounds
    resource: np.ndarray  # the resource rows
    use: np.ndarray  # resource rows x columns, dense: each column's positive use


def _shape(model: _milp.MilpModel) -> _Shape:
    A = model.A.tocsr()
    A.sort_indices()
    n_rows, n_cols = A.shape
    c = np.asarray(model.c if model.maximize else -model.c, float)
    pos = A.copy()
    pos.data = (pos.data > 0).astype(float)
    neg = A.copy()
    neg.data = (neg.data < 0).astype(float)
    n_pos = np.asarray(pos.sum(axis=1)).ravel()
    n_neg = np.asarray(neg.sum(axis=1)).ravel()
    link = (n_pos == 1) & (n_neg >= 1) & (model.row_upper == 0) & ~np.isfinite(model.row_lower)
    link_col = np.full(n_rows, -1, np.int64)
    P = pos.tocoo()
    on = link[P.row] & (P.data > 0)
    link_col[P.row[on]] = P.col[on]
    derived = np.zeros(n_cols, bool)
    derived[link_col[link]] = True
    rows = np.flatnonzero(link)
    links_of = sp.csr_matrix(
        (np.ones(len(rows)), (link_col[rows], rows)), shape=(n_cols, n_rows)
    )
    integ = np.asarray(model.integrality, bool)
    choices = np.flatnonzero(integ & ~derived & (model.col_lower < model.col_upper))
    nnz = np.diff(A.indptr)
    resource = (
        (nnz > RESOURCE_ROW)
        & np.isfinite(model.row_upper)
        & (model.row_upper > 0)
        & ~np.isfinite(model.row_lower)
        & ~link
    )
    R = A[np.flatnonzero(resource)]
    R.data = np.maximum(R.data, 0.0)  # a shared building's discount is not a price
    price = np.asarray(
        (sp.diags(1.0 / model.row_upper[resource]) @ R).sum(axis=0)
    ).ravel() if resource.any() else np.zeros(n_cols)
    rrows = np.flatnonzero(resource)
    return _Shape(
        A, A.tocsc(), c, derived, link, link_col, links_of.tocsr(), choices, price, rrows, R.toarray()
    )


#: A move: its gain, the columns changed and their changes, the rows touched and
#: their changes.
_Move = tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class _State:
    """The plan being built: columns, row activities, link rows' supplies."""

    def __init__(self, model: _milp.MilpModel, s: _Shape) -> None:
        self.m, self.s = model, s
        self.x = np.where(np.asarray(model.integrality, bool), np.ceil(model.col_lower - 1e-9), model.col_lower)
        # Supply of a link row: sum of -a x over its other columns.
        self.x[s.derived] = 0.0
        self.supply = -(s.A @ np.where(s.derived, 0.0, self.x))
        self.supply[~s.link] = 0.0
        self._settle()
        self.act = s.A @ self.x
        lo = model.row_lower
        self.need = np.where(np.isfinite(lo) & (lo > 0), np.abs(lo), 1.0)
        self.ip, self.ix, self.dv = s.Ac.indptr, s.Ac.indices, s.Ac.data
        self.n_links = np.diff(s.links_of.indptr)
        self.integ = np.asarray(model.integrality, bool)
        self.short = np.isfinite(lo) & (self.act < lo - 1e-6)
        self.unmet = int(self.short.sum())

    def _derived_value(self, d: np.ndarray, supply: np.ndarray) -> np.ndarray:
        L = self.s.links_of
        vals = np.full(len(d), np.inf)
        for i, j in enumerate(d):
            rows = L.indices[L.indptr[j] : L.indptr[j + 1]]
            vals[i] = supply[rows].min() if len(rows) else np.inf
        return np.clip(np.minimum(vals, self.m.col_upper[d]), self.m.col_lower[d], None)

    def _settle(self) -> None:
        d = np.flatnonzero(self.s.derived)
        L = self.s.links_of
        big = np.where(self.s.link, self.supply, np.inf)
        best = np.full(len(d), np.inf)
        has = np.diff(L.indptr)[d] > 0
        sub = L[d[has]]
        vals = big[sub.indices]
        best[has] = np.minimum.reduceat(vals, sub.indptr[:-1]) if len(vals) else best[has]
        self.x[d] = np.clip(np.minimum(best, self.m.col_upper[d]), self.m.col_lower[d], None)
        integ = np.asarray(self.m.integrality, bool)[d]
        self.x[d[integ]] = np.floor(self.x[d[integ]] + 1e-9)

    def evaluate(self, j: int, lam: float) -> _Move | None:
        """Gain of opening choice *j*: objective plus weighted shortfall filled.

        Returns the gain, the columns changed and their changes, and the rows
        touched with their changes; ``None`` if it breaks a row bounded above.
        """
        s, m = self.s, self.m
        ip, ix, dv = self.ip, self.ix, self.dv
        rows = ix[ip[j] : ip[j + 1]]
        a = dv[ip[j] : ip[j + 1]]
        lr = s.link[rows]
        lrows, la = rows[lr], a[lr]
        d = s.link_col[lrows]
        sup = self.supply[lrows] - la
        new = np.minimum(sup, m.col_upper[d])
        for i in np.flatnonzero(self.n_links[d] > 1):
            k = d[i]
            others = s.links_of.indices[s.links_of.indptr[k] : s.links_of.indptr[k + 1]]
            others = others[others != lrows[i]]
            new[i] = min(new[i], self.supply[others].min())
        new = np.where(self.integ[d], np.floor(new + 1e-9), new)
        delta = np.maximum(new, m.col_lower[d]) - self.x[d]
        ch = delta != 0
        cols = np.concatenate(([j], d[ch]))
        dl = np.concatenate(([1.0], delta[ch]))
        parts_r = [rows] + [ix[ip[c] : ip[c + 1]] for c in cols[1:]]
        parts_v = [a] + [dv[ip[c] : ip[c + 1]] * dl[i + 1] for i, c in enumerate(cols[1:])]
        allr = np.concatenate(parts_r)
        allv = np.concatenate(parts_v)
        ur, inv = np.unique(allr, return_inverse=True)
        dr = np.bincount(inv, weights=allv, minlength=len(ur))
        act = self.act[ur]
        if ((act + dr > m.row_upper[ur] + 1e-7) & (dr > 0)).any():
            return None
        short = np.maximum(m.row_lower[ur] - act, 0.0)
        fill = float((np.minimum(np.maximum(dr, 0.0), short) / self.need[ur]).sum())
        if lam > 0 and fill <= 0:
            return None  # targets phase: nothing to fill
        return float(s.c[cols] @ dl) + lam * fill, cols, dl, ur, dr

    def apply(self, j: int, cols: np.ndarray, dl: np.ndarray, ur: np.ndarray, dr: np.ndarray) -> None:
        self.x[cols] += dl
        self.act[ur] += dr
        lo = self.m.row_lower[ur]
        self.unmet -= int((self.short[ur]).sum())
        self.short[ur] = np.isfinite(lo) & (self.act[ur] < lo - 1e-6)
        self.unmet += int((self.short[ur]).sum())
        ip = self.ip
        rows = self.ix[ip[j] : ip[j + 1]]
        a = self.dv[ip[j] : ip[j + 1]]
        lr = self.s.link[rows]
        self.supply[rows[lr]] -= a[lr]

    def shortfall(self) -> int:
        """How many rows bounded below are unmet."""
        return self.unmet


def budget_greedy(
    model: _milp.MilpModel, deadline: float, first: np.ndarray | None = None
) -> np.ndarray | None:
    """A feasible plan of *model* by greedy gain per price, or ``None``.

    Parameters
    ----------
    model
        The MILP (a budget model: maximisation with a budget row; any model
        of the same row shapes works).
    deadline
        ``time.perf_counter()`` value to stop at (the plan so far is
        returned if it meets every row).
    first
        Columns to open before the greedy steps, in this order, each if it
        breaks no row bounded above (e.g. the LP relaxation's columns near 1).

    Returns
    -------
    numpy.ndarray or None
        A point meeting every row, bound and integrality, or ``None`` (the
        rows bounded below could not all be met within the resource rows).
    """
    s = _shape(model)
    st = _State(model, s)
    lam = float(np.abs(s.c).sum()) + 1.0
    for j in () if first is None else first:
        if st.x[j] < model.col_upper[j] - 0.5 and not s.derived[j]:
            ev = st.evaluate(int(j), 0.0)
            if ev is not None:
                st.apply(int(j), ev[1], ev[2], ev[3], ev[4])
    # Targets first (gains weighted by lam), then residents per yuan: two queues,
    # since once the targets are met every stale target gain is void.
    for phase_lam in (lam, 0.0):
        if phase_lam == 0.0 and st.shortfall():
            break  # the targets could not be met: no plan
        _fill(model, s, st, phase_lam, lam, deadline)
    return st.x if _meets(model, st.x) else None


def _fill(
    model: _milp.MilpModel, s: _Shape, st: _State, lam: float, scale: float, deadline: float
) -> None:
    """Open choices by lazy greedy on gain per price until none gains (or the deadline).

    The queue is rebuilt from fresh gains (:func:`_initial_gains`, a few sparse
    products) once :data:`REFRESH` popped choices in a row have turned out to
    gain nothing: cheaper than re-evaluating them one by one.
    """
    eps = 1e-12 * scale
    at = np.full(model.n_cols, -1, np.int64)
    at[s.choices] = np.arange(len(s.choices))
    refresh = True
    while refresh and time.perf_counter() < deadline:
        base, fills = _initial_gains(model, s, st, lam)
        price = s.price[s.choices] + eps
        ok = (base > eps) & (st.x[s.choices] < model.col_upper[s.choices] - 0.5)
        room = model.row_upper[s.resource] - st.act[s.resource]
        ok &= (s.use[:, s.choices] <= room[:, None] + 1e-7).all(axis=0)
        heap = list(zip((-base / price)[ok].tolist(), s.choices[ok].tolist(), strict=True))
        heapq.heapify(heap)
        refresh = _pop_all(model, s, st, lam, eps, heap, fills, at, deadline)


def _pop_all(
    model: _milp.MilpModel,
    s: _Shape,
    st: _State,
    lam: float,
    eps: float,
    heap: list[tuple[float, int]],
    fills: sp.csr_matrix,
    at: np.ndarray,
    deadline: float,
) -> bool:
    """Lazy greedy over *heap*; whether it stopped to have the queue rebuilt."""
    wasted = taken = 0
    while heap and time.perf_counter() < deadline:
        if lam > 0 and not st.shortfall():
            return False
        if wasted >= REFRESH and taken:
            return True
        _, j = heapq.heappop(heap)
        if st.x[j] >= model.col_upper[j] - 0.5:
            continue
        if lam > 0:
            k = at[j]
            if not st.short[fills.indices[fills.indptr[k] : fills.indptr[k + 1]]].any():
                continue  # the rows it would fill are met
        room = model.row_upper[s.resource] - st.act[s.resource]
        if (s.use[:, j] > room + 1e-7).any():
            continue  # too dear for what is left (a shared building's discount aside)
        ev = st.evaluate(j, lam)
        wasted += 1
        if ev is None or ev[0] <= eps:
            continue  # breaks a row bounded above, or gains nothing: never again
        ratio = ev[0] / (s.price[j] + eps)
        if heap and ratio < -heap[0][0] * (1 - LAZY_SLACK):
            heapq.heappush(heap, (-ratio, j))  # stale: back in the queue
            continue
        st.apply(j, ev[1], ev[2], ev[3], ev[4])
        wasted, taken = 0, taken + 1
    return False


def _meets(model: _milp.MilpModel, x: np.ndarray, tol: float = 1e-6) -> bool:
    act = model.A @ x
    return bool(
        np.all(act >= model.row_lower - tol)
        and np.all(act <= model.row_upper + tol)
        and np.all(x >= model.col_lower - tol)
        and np.all(x <= model.col_upper + tol)
    )


def _initial_gains(
    model: _milp.MilpModel, s: _Shape, st: _State, lam: float
) -> tuple[np.ndarray, sp.csr_matrix]:
    """Each choice's gain alone from the start (an overestimate for later steps)."""
    A, Ac = s.A, s.Ac
    C = Ac[:, s.choices]
    # Derived columns a choice lifts: one per link row it is in (an overestimate
    # for a derived column of several link rows, e.g. a shared building).
    lk = C.multiply(s.link[:, None]).tocsc()
    lk.data = np.minimum(-lk.data, 1.0)
    to_d = sp.csr_matrix(
        (np.ones(int(s.link.sum())), (np.flatnonzero(s.link), s.link_col[s.link])),
        shape=(A.shape[0], A.shape[1]),
    )
    lifted = (to_d.T @ lk).tocsc()  # derived columns x choices
    up = np.maximum(model.col_upper - st.x, 0.0)
    room = sp.diags(np.where(s.derived, up, 0.0))
    lifted = (room @ lifted).tocsc()
    lifted.data = np.minimum(lifted.data, 1.0)
    obj = s.c[s.choices] + lifted.T @ s.c
    dact = C + A @ lifted
    short = np.maximum(model.row_lower - st.act, 0.0)
    short[~np.isfinite(short)] = 0.0
    D = dact.tocoo()
    val = np.minimum(np.maximum(D.data, 0.0), short[D.row]) / st.need[D.row]
    fill = np.bincount(D.col, weights=val, minlength=len(s.choices))
    gain = np.asarray(obj).ravel() + lam * fill
    # Per choice, the short rows it fills (to skip it at once when they are met).
    on = val > 0
    fills = sp.csr_matrix(
        (np.ones(int(on.sum())), (D.col[on], D.row[on])), shape=(len(s.choices), A.shape[0])
    )
    return (np.where(fill > 0, gain, 0.0) if lam > 0 else gain), fills
