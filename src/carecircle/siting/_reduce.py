"""Problem reduction for covering models, before the solver sees them.

Set covering (``min c.x  s.t.  A x >= 1``) admits classical reductions that keep
every optimal cost:

* a row that no column covers makes the problem infeasible (reported, not solved);
* a row covered by a forced column (required, zero-cost, or the only column of a
  row) is satisfied and dropped;
* of duplicate rows one is kept; a row whose cover set is a superset of another
  row's is implied by it (dominated row) and dropped;
* a column that covers no remaining row is dropped; a column whose cover set is a
  subset of another column's of no greater cost is dropped (dominated column).

Maximal covering (weights, a budget and/or a number of sites) admits fewer: rows
are objective terms, not constraints, so row *dominance* is **not** valid.  Valid
are: dropping rows of zero weight or that nothing covers, merging duplicate rows
(weights add up), counting rows covered by required columns as constant, dropping
columns dearer than the remaining budget or covering nothing, and column
dominance (subset cover, cost no greater when a budget binds; with only a count
``p`` cost is ignored, because the count constraint is ``sum x <= p``).

Simultaneous removal is safe because each "dominates" relation used here is a
strict partial order (ties broken by index): every removed row or column has an
undominated one above it that is kept.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

# Row/column chunk for the pairwise-overlap products, so that memory stays bounded
# when a few columns cover many rows.
_CHUNK = 2048


@dataclass
class Reduction:
    """What presolve removed, in counts (all relative to the model handed in)."""

    rows_before: int = 0
    cols_before: int = 0
    nnz_before: int = 0
    rows_after: int = 0
    cols_after: int = 0
    nnz_after: int = 0
    rows_covered_by_fixed: int = 0
    rows_duplicate: int = 0
    rows_dominated: int = 0
    rows_uncoverable: int = 0
    rows_zero_weight: int = 0
    cols_fixed: int = 0
    cols_excluded: int = 0
    cols_empty: int = 0
    cols_dominated: int = 0
    cols_over_budget: int = 0
    rounds: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Plain dict (JSON-ready)."""
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"rows {self.rows_before} -> {self.rows_after} "
            f"(fixed-covered {self.rows_covered_by_fixed}, duplicate {self.rows_duplicate}, "
            f"dominated {self.rows_dominated}, uncoverable {self.rows_uncoverable}, "
            f"zero weight {self.rows_zero_weight}); "
            f"columns {self.cols_before} -> {self.cols_after} "
            f"(fixed {self.cols_fixed}, excluded {self.cols_excluded}, empty {self.cols_empty}, "
            f"dominated {self.cols_dominated}, over budget {self.cols_over_budget}); "
            f"nonzeros {self.nnz_before} -> {self.nnz_after}"
        )


@dataclass
class Reduced:
    """A reduced covering problem and how to map it back.

    ``rows``/``cols`` are original indices kept; ``weight`` the (merged) weight of
    each kept row (max cover only); ``fixed`` original columns forced into every
    solution; ``uncoverable`` original rows no allowed column covers.
    """

    rows: np.ndarray
    cols: np.ndarray
    fixed: np.ndarray
    uncoverable: np.ndarray
    report: Reduction
    weight: np.ndarray | None = None
    constant: float = 0.0  # weight already covered by fixed columns (max cover)

    def matrix(self, A: sp.csr_matrix) -> sp.csr_matrix:
        """The reduced 0/1 matrix (kept rows x kept columns)."""
        return A[self.rows][:, self.cols].tocsr()


def as_binary_csr(coverage: Any) -> sp.csr_matrix:
    """A 0/1 ``int32`` CSR copy of any dense or sparse matrix (nonzero = covers)."""
    A = sp.csr_matrix(coverage)
    A.eliminate_zeros()
    A = A.astype(bool).astype(np.int32)
    A.sum_duplicates()
    A.sort_indices()
    return A


def duplicate_row_groups(B: sp.csr_matrix) -> np.ndarray:
    """For each row, the index of the first row with the same column set."""
    keys: dict[bytes, int] = {}
    rep = np.empty(B.shape[0], dtype=np.int64)
    indptr, indices = B.indptr, B.indices
    for i in range(B.shape[0]):
        key = indices[indptr[i] : indptr[i + 1]].tobytes()
        rep[i] = keys.setdefault(key, i)
    return rep


def dominated_rows(B: sp.csr_matrix) -> np.ndarray:
    """Rows i whose set contains another row k's set (k strictly smaller, or equal and k < i)."""
    m = B.shape[0]
    d = np.diff(B.indptr)
    drop = np.zeros(m, dtype=bool)
    BT = B.T.tocsr()
    for start in range(0, m, _CHUNK):
        stop = min(m, start + _CHUNK)
        S = (B[start:stop] @ BT).tocoo()
        i = S.row + start
        k = S.col
        hit = (S.data == d[k]) & (i != k) & ((d[k] < d[i]) | ((d[k] == d[i]) & (k < i)))
        drop[i[hit]] = True
    return drop


def _dominated_cols(B: sp.csr_matrix, cost: np.ndarray | None) -> np.ndarray:
    """Columns j whose set is inside column k's set at no lower cost (strict order, ties by index)."""
    n = B.shape[1]
    C = B.tocsc()
    d = np.diff(C.indptr)
    drop = np.zeros(n, dtype=bool)
    CT = C.T.tocsr()
    c = np.zeros(n) if cost is None else np.asarray(cost, dtype=float)
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        T = (CT[start:stop] @ C).tocoo()
        j = T.row + start
        k = T.col
        sub = (T.data == d[j]) & (j != k) & (c[k] <= c[j])
        strict = (d[k] > d[j]) | (c[k] < c[j]) | ((d[k] == d[j]) & (c[k] == c[j]) & (k < j))
        hit = sub & strict
        drop[j[hit]] = True
    return drop


def reduce_set_cover(
    A: sp.csr_matrix,
    cost: np.ndarray,
    *,
    required: np.ndarray | None = None,
    excluded: np.ndarray | None = None,
    dominance: bool = True,
    max_rounds: int = 20,
) -> Reduced:
    """Reduce ``min cost.x s.t. A x >= 1`` keeping the optimal cost.

    With ``dominance=False`` nothing is reduced (only rows that required columns
    cover are dropped, and uncoverable rows still reported): the reference model.

    Parameters
    ----------
    A
        0/1 CSR matrix from :func:`as_binary_csr`.
    cost
        Non-negative cost per column.
    required, excluded
        Column indices forced in / out.
    dominance
        Apply the reductions (``False``: hand the full model to the solver).
    max_rounds
        Reduction rounds (each may enable the next); the loop stops earlier when a
        round removes nothing.
    """
    t0 = time.perf_counter()
    m, n = A.shape
    rep = Reduction(rows_before=m, cols_before=n, nnz_before=int(A.nnz))
    row_on = np.ones(m, dtype=bool)
    col_on = np.ones(n, dtype=bool)
    fixed = np.zeros(n, dtype=bool)
    if excluded is not None and len(excluded):
        col_on[np.asarray(excluded, dtype=int)] = False
        rep.cols_excluded = int((~col_on).sum())
    if required is not None and len(required):
        req = np.asarray(required, dtype=int)
        fixed[req] = True
        col_on[req] = False
    C = A.tocsc()

    # Uncoverable rows: no allowed column (fixed counts as allowed).
    allowed = col_on | fixed
    reach = A @ allowed.astype(np.int32)
    uncoverable = np.flatnonzero(reach == 0)
    if len(uncoverable):
        rep.rows_uncoverable = len(uncoverable)
        rep.seconds = time.perf_counter() - t0
        return Reduced(
            rows=np.zeros(0, dtype=np.int64),
            cols=np.zeros(0, dtype=np.int64),
            fixed=np.flatnonzero(fixed),
            uncoverable=uncoverable,
            report=rep,
        )
    cost = np.asarray(cost, dtype=float)
    if not dominance:
        # No reduction at all: only rows that required columns already cover leave.
        row_on &= ~((A @ fixed.astype(np.int32)) > 0)
        rep.rows_covered_by_fixed = int(m - row_on.sum())
        max_rounds = 0
    else:
        # Zero-cost columns are free: opening them never hurts the objective.
        zero = col_on & (cost <= 0)
        fixed |= zero
        col_on &= ~zero

    for _ in range(max_rounds):
        rep.rounds += 1
        changed = False
        # Rows covered by fixed columns.
        covered = (A @ fixed.astype(np.int32)) > 0
        newly = row_on & covered
        if newly.any():
            rep.rows_covered_by_fixed += int(newly.sum())
            row_on &= ~covered
            changed = True
        changed |= _force_singletons(A, row_on, col_on, fixed, rep)
        # Empty columns.
        cnt_col = C.T @ row_on.astype(np.int32)
        empty = col_on & (cnt_col == 0)
        if empty.any():
            rep.cols_empty += int(empty.sum())
            col_on &= ~empty
            changed = True
        if not dominance or not row_on.any():
            if not changed:
                break
            continue
        changed |= _drop_dominated(A, row_on, col_on, cost, rep)
        if not changed:
            break

    rows = np.flatnonzero(row_on)
    cols = np.flatnonzero(col_on)
    rep.cols_fixed = int(fixed.sum())
    rep.rows_after = len(rows)
    rep.cols_after = len(cols)
    rep.nnz_after = int(A[rows][:, cols].nnz) if len(rows) and len(cols) else 0
    rep.seconds = time.perf_counter() - t0
    return Reduced(
        rows=rows,
        cols=cols,
        fixed=np.flatnonzero(fixed),
        uncoverable=np.zeros(0, dtype=np.int64),
        report=rep,
    )


def _force_singletons(
    A: sp.csr_matrix, row_on: np.ndarray, col_on: np.ndarray, fixed: np.ndarray, rep: Reduction
) -> bool:
    """Singleton rows force their only column; repeat until none (masks changed in place)."""
    changed = False
    while True:
        cnt = A @ col_on.astype(np.int32)
        single = row_on & (cnt == 1)
        if not single.any():
            return changed
        rows = np.flatnonzero(single)
        sub = A[rows].multiply(col_on[np.newaxis, :].astype(np.int32)).tocsr()
        force = np.unique(sub.indices[sub.data != 0])
        fixed[force] = True
        col_on[force] = False
        covered = (A @ fixed.astype(np.int32)) > 0
        newly = row_on & covered
        rep.rows_covered_by_fixed += int(newly.sum())
        row_on &= ~covered
        changed = True


def _drop_dominated(
    A: sp.csr_matrix, row_on: np.ndarray, col_on: np.ndarray, cost: np.ndarray, rep: Reduction
) -> bool:
    """Duplicate and dominated rows, dominated columns (masks changed in place)."""
    changed = False
    ridx = np.flatnonzero(row_on)
    cidx = np.flatnonzero(col_on)
    B = A[ridx][:, cidx].tocsr()
    B.sort_indices()
    # Duplicate rows (counted apart from proper dominance for the report).
    first = duplicate_row_groups(B)
    dup = first != np.arange(len(ridx))
    if dup.any():
        rep.rows_duplicate += int(dup.sum())
        row_on[ridx[dup]] = False
        changed = True
        keep = ~dup
        ridx = ridx[keep]
        B = B[keep]
    drop = dominated_rows(B)
    if drop.any():
        rep.rows_dominated += int(drop.sum())
        row_on[ridx[drop]] = False
        changed = True
        B = B[~drop]
    dropc = _dominated_cols(B, cost[cidx])
    if dropc.any():
        rep.cols_dominated += int(dropc.sum())
        col_on[cidx[dropc]] = False
        changed = True
    return changed


def reduce_max_cover(
    A: sp.csr_matrix,
    weight: np.ndarray,
    *,
    cost: np.ndarray | None = None,
    budget: float | None = None,
    p: int | None = None,
    required: np.ndarray | None = None,
    excluded: np.ndarray | None = None,
    dominance: bool = True,
    max_rounds: int = 20,
) -> Reduced:
    """Reduce ``max w.y s.t. y <= A x, y <= 1, cost.x <= budget, sum x <= p``.

    Valid steps only (see the module docstring): zero-weight, uncoverable and
    fixed-covered rows are dropped, duplicate rows merged (weights summed),
    columns excluded/empty/too dear/dominated dropped, and with a budget but no
    count, zero-cost columns forced in.
    """
    t0 = time.perf_counter()
    m, n = A.shape
    rep = Reduction(rows_before=m, cols_before=n, nnz_before=int(A.nnz))
    w = np.asarray(weight, dtype=float)
    row_on = np.ones(m, dtype=bool)
    col_on = np.ones(n, dtype=bool)
    fixed = np.zeros(n, dtype=bool)
    if excluded is not None and len(excluded):
        col_on[np.asarray(excluded, dtype=int)] = False
        rep.cols_excluded = int((~col_on).sum())
    if required is not None and len(required):
        req = np.asarray(required, dtype=int)
        fixed[req] = True
        col_on[req] = False
    c = None if cost is None else np.asarray(cost, dtype=float)
    if dominance and budget is not None and p is None and c is not None:
        zero = col_on & (c <= 0)
        fixed |= zero
        col_on &= ~zero
    C = A.tocsc()
    allowed = col_on | fixed
    uncoverable = np.flatnonzero((A @ allowed.astype(np.int32)) == 0)
    if dominance:
        # Rows no allowed column covers can never count; report and drop them.
        row_on[uncoverable] = False
        rep.rows_uncoverable = len(uncoverable)
        zw = row_on & (w <= 0)
        rep.rows_zero_weight = int(zw.sum())
        row_on &= ~zw
    else:
        max_rounds = 0
    covered = (A @ fixed.astype(np.int32)) > 0
    constant = float(w[covered].sum())
    rep.rows_covered_by_fixed = int((row_on & covered).sum())
    row_on &= ~covered
    merged_w = w.copy()
    fixed_cost = float(c[fixed].sum()) if c is not None else 0.0

    for _ in range(max_rounds):
        rep.rounds += 1
        changed = False
        if budget is not None and c is not None:
            dear = col_on & (c > budget - fixed_cost + 1e-9 * max(1.0, abs(budget)))
            if dear.any():
                rep.cols_over_budget += int(dear.sum())
                col_on &= ~dear
                changed = True
        cnt_col = C.T @ row_on.astype(np.int32)
        empty = col_on & (cnt_col == 0)
        if empty.any():
            rep.cols_empty += int(empty.sum())
            col_on &= ~empty
            changed = True
        cnt = A @ col_on.astype(np.int32)
        lost = row_on & (cnt == 0)
        if lost.any():
            # Columns dropped as too dear left these rows with nothing to cover them.
            rep.rows_uncoverable += int(lost.sum())
            row_on &= ~lost
            changed = True
        if dominance and row_on.any() and col_on.any():
            ridx = np.flatnonzero(row_on)
            cidx = np.flatnonzero(col_on)
            B = A[ridx][:, cidx].tocsr()
            B.sort_indices()
            first = duplicate_row_groups(B)
            dup = first != np.arange(len(ridx))
            if dup.any():
                np.add.at(merged_w, ridx[first[dup]], merged_w[ridx[dup]])
                rep.rows_duplicate += int(dup.sum())
                row_on[ridx[dup]] = False
                changed = True
                B = B[~dup]
            dc = None if (c is None or budget is None) else c[cidx]
            dropc = _dominated_cols(B, dc)
            if dropc.any():
                rep.cols_dominated += int(dropc.sum())
                col_on[cidx[dropc]] = False
                changed = True
        if not changed:
            break

    rows = np.flatnonzero(row_on)
    cols = np.flatnonzero(col_on)
    rep.cols_fixed = int(fixed.sum())
    rep.rows_after = len(rows)
    rep.cols_after = len(cols)
    rep.nnz_after = int(A[rows][:, cols].nnz) if len(rows) and len(cols) else 0
    rep.seconds = time.perf_counter() - t0
    return Reduced(
        rows=rows,
        cols=cols,
        fixed=np.flatnonzero(fixed),
        uncoverable=uncoverable,
        report=rep,
        weight=merged_w[rows],
        constant=constant,
    )


def greedy_set_cover(B: sp.csr_matrix, cost: np.ndarray) -> np.ndarray:
    """Chvatal's greedy cover (lazy heap), then redundant columns removed.

    Returns a 0/1 vector over the columns of *B*; every row of *B* must be
    coverable.  Used as HiGHS's first incumbent so that a time-limited run always
    has a plan to return.
    """
    m, n = B.shape
    C = B.tocsc()
    uncovered = np.ones(m, dtype=bool)
    count = np.diff(C.indptr).astype(np.int64)
    c = np.asarray(cost, dtype=float)
    heap = [(c[j] / count[j], j) for j in range(n) if count[j] > 0]
    heapq.heapify(heap)
    x = np.zeros(n, dtype=bool)
    left = int(uncovered.sum())
    while left and heap:
        ratio, j = heapq.heappop(heap)
        rows = C.indices[C.indptr[j] : C.indptr[j + 1]]
        k = int(uncovered[rows].sum())
        if k == 0:
            continue
        if k != count[j]:
            count[j] = k
            heapq.heappush(heap, (c[j] / k, j))
            continue
        x[j] = True
        uncovered[rows] = False
        left -= k
    # Drop columns whose rows are all covered at least twice, dearest first.
    times = B @ x.astype(np.int64)
    for col in sorted(np.flatnonzero(x), key=lambda col: -c[col]):
        rows = C.indices[C.indptr[col] : C.indptr[col + 1]]
        if np.all(times[rows] >= 2):
            x[col] = False
            times[rows] -= 1
    return x.astype(float)


def greedy_max_cover(
    B: sp.csr_matrix,
    weight: np.ndarray,
    cost: np.ndarray | None,
    budget: float | None,
    p: int | None,
) -> np.ndarray:
    """Greedy max cover (best new weight per cost that still fits); a 0/1 column vector."""
    m, n = B.shape
    C = B.tocsc()
    w = np.asarray(weight, dtype=float)
    c = np.ones(n) if cost is None else np.asarray(cost, dtype=float)
    use_cost = cost is not None and budget is not None
    left_budget = budget if cost is not None and budget is not None else np.inf
    left_p = p if p is not None else n
    uncovered = np.ones(m, dtype=bool)
    gain = np.array([w[C.indices[C.indptr[j] : C.indptr[j + 1]]].sum() for j in range(n)])

    def key(j: int, g: float) -> float:
        return -(g / c[j]) if use_cost and c[j] > 0 else -g * 1e12

    heap = [(key(j, gain[j]), j) for j in range(n) if gain[j] > 0]
    heapq.heapify(heap)
    x = np.zeros(n, dtype=bool)
    while heap and left_p > 0:
        _, j = heapq.heappop(heap)
        if use_cost and c[j] > left_budget + 1e-9:
            continue
        rows = C.indices[C.indptr[j] : C.indptr[j + 1]]
        g = float(w[rows[uncovered[rows]]].sum())
        if g <= 0:
            continue
        if g < gain[j] - 1e-12:
            gain[j] = g
            heapq.heappush(heap, (key(j, g), j))
            continue
        x[j] = True
        uncovered[rows] = False
        left_p -= 1
        if use_cost:
            left_budget -= c[j]
    return x.astype(float)
