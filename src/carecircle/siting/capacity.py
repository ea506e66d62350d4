"""Capacitated siting: the model's capacity block (a builder of :mod:`carecircle.siting.model`).

Active when the problem has a ``demand`` (``[plan] capacity = true``).  The demand of
each community (people, per kind) is assigned to the facilities within its walk,
existing ones (fixed capacity) and the new sites the plan opens, without exceeding any
capacity: a transportation problem inside the siting model.

Formulation (continuous unless stated)
--------------------------------------
Communities with the same reach (over existing facilities and new columns) are one
*group* ``g`` with demand ``D_g`` (their sum; exact: their options are the same).

``a[g, f]``  demand of group ``g`` assigned to facility or column ``f`` in its reach.
``u[g]``     demand of ``g`` left unplaced (``0 <= u <= D_g``).

* placement: ``sum_f a[g, f] + u[g] >= D_g``; in budget mode, for the groups the
  model may newly serve, ``sum_f a[g, f] >= D_g y[g]`` instead (served means served
  *with room*: ``y`` is then the share of the group's demand that fits);
* existing facility ``f``: ``sum_g a[g, f] <= cap_f``;
* new column ``x[k, j]``: ``sum_g a[g, j] <= F x`` (``F`` = capacity hosting ``k``
  alone) and, where ``j`` may share its building with the other kind (``O``, the
  partner columns at ``j``; a site hosts at most one of elderly care and a street
  centre), ``sum_g a[g, j] - S x + (F - S) O <= F - S`` (``S`` = the shared capacity):
  the load is at most ``F`` alone, ``S`` shared, 0 closed.

A new elderly institution (``x[institution, j]``, :mod:`carecircle.siting.beds`) takes
elderly demand like a station, its capacity being its beds (``beds_new``), as an
existing institution's capacity is its beds in the capacity assessment
(:func:`carecircle.assess.capacity.facility_capacity`); it shares no building.

Objective: ``cover_all`` adds ``penalty x u``, the penalty per person left unplaced
being twice the dearest allowed site: a plan opens any site that places even one more
person, so in practice it is the least-cost plan among those placing the most demand.
(Strictly, a person who could only be placed by opening two or more of the dearest
sites at once is left unplaced; a penalty large enough to rule that out, the cost of
all sites together, would make the model numerically unsafe.)  Budget mode subtracts
``(residents / demand of g) x u`` from the residents served, so an existing facility
squeezed by new demand counts as residents no longer served.

Reduction: a new column matters for capacity only if it reaches a community that the
model may newly serve, or one in the same component (communities linked by shared
existing facilities) as a community whose demand does not fit in today's facilities
(a maximum flow with today's capacities): elsewhere today's facilities already hold
every demand, and more capacity changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from carecircle.assess.capacity import assign_demand
from carecircle.siting._reduce import duplicate_row_groups
from carecircle.siting.problem import KINDS, SitingProblem

if TYPE_CHECKING:
    from carecircle.siting.model import _Draft

#: The host kinds whose columns serve each kind (a street centre and an elderly
#: institution serve elderly care, as in the coverage rows).
HOSTS = {"elderly": ("elderly", "street_centre", "institution"), "childcare": ("childcare",)}
#: Each host kind's building partners (a shared building splits its floor area); an
#: institution never shares its site.
PARTNERS = {"elderly": ("childcare",), "street_centre": ("childcare",),
            "childcare": ("elderly", "street_centre"), "institution": ()}


def pressure(P: SitingProblem, kind: str) -> np.ndarray:
    """Communities where more capacity of *kind* can place more demand.

    Parameters
    ----------
    P
        A problem with a demand.
    kind
        ``"elderly"`` or ``"childcare"``.

    Returns
    -------
    numpy.ndarray
        Boolean per community: in a component (communities linked by shared existing
        facilities) holding a community whose demand does not fit today.
    """
    assert P.demand is not None and P.existing_cover is not None and P.existing_capacity is not None
    d = P.demand[kind]
    E = P.existing_cover[kind].tocoo()
    n, f = E.shape
    got = assign_demand(d, P.existing_capacity[kind], E.row, E.col)
    short = got.placed < d - 1e-6
    if not short.any():
        return short
    adj = sp.bmat([[None, P.existing_cover[kind]], [P.existing_cover[kind].T, None]],
                  format="csr") if f else sp.csr_matrix((n, n))
    _, label = connected_components(adj, directed=False)
    hit = np.unique(label[:n][short])
    return np.isin(label[:n], hit)


def capacity_need(b: _Draft) -> None:
    """Columns useful for capacity get a role (kept by the reduction)."""
    P = b.P
    if P.demand is None:
        return
    for k in KINDS:
        need = np.zeros(P.n_communities, bool)
        need[b.rows_need[k]] = True
        need |= pressure(P, k)
        rows = np.flatnonzero(need & (P.demand[k] > 0))
        if not len(rows):
            continue
        for host in HOSTS[k]:
            b.role[host] |= np.asarray(P.cover[host][rows].sum(axis=0)).ravel() > 0


def _reach(b: _Draft, k: str) -> tuple[sp.csr_matrix, int, np.ndarray, np.ndarray]:
    """Communities x [existing facilities | new columns of *k*]; the number of existing
    ones, and per new column its host kind and candidate."""
    P = b.P
    assert P.existing_cover is not None
    parts = [P.existing_cover[k]]
    host, cand = [], []
    for kk in HOSTS[k]:
        parts.append(P.cover[kk][:, b.var[kk]])
        host += [kk] * len(b.var[kk])
        cand.append(b.var[kk])
    R = sp.hstack(parts, format="csr")
    R.sort_indices()
    return R, P.existing_cover[k].shape[1], np.array(host, dtype=object), np.concatenate(cand)


def _groups(b: _Draft, k: str, R: sp.csr_matrix, rows: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Groups of *rows* with the same reach (and, in budget mode, the same ``y``); the
    ``y`` group of each group (-1: none)."""
    ygroup = np.full(b.P.n_communities, -1, np.int64)
    for g, members in enumerate(b.y_groups.get(k, [])):
        ygroup[members] = g
    key = sp.hstack([R[rows], sp.csr_matrix((np.ones(len(rows)), (np.arange(len(rows)), ygroup[rows] + 1)),
                                            shape=(len(rows), b.P.n_communities + 1))], format="csr")
    key.sort_indices()
    first = duplicate_row_groups(key)
    uniq, inv = np.unique(first, return_inverse=True)
    groups = [rows[inv == g] for g in range(len(uniq))]
    return groups, ygroup[rows[uniq]]


def capacity_rows(b: _Draft) -> None:
    """The assignment columns and the placement and capacity rows (module docstring)."""
    P = b.P
    if P.demand is None:
        return
    penalty = _penalty(b)
    for k in KINDS:
        R, n_ex, host, cand = _reach(b, k)
        d = P.demand[k]
        rows = np.flatnonzero((d > 0) & (np.diff(R.indptr) > 0))
        if not len(rows):
            continue
        groups, ygroup = _groups(b, k, R, rows)
        demand = np.array([d[g].sum() for g in groups])
        reach = R[[g[0] for g in groups]].tocoo()  # one assignment column per (group, facility)
        n_a = reach.nnz
        a0 = b.add_columns(n_a, integer=False)
        b.upper[-1][:] = demand[reach.row]
        free = ygroup < 0
        u0 = b.add_columns(int(free.sum()), integer=False)
        b.upper[-1][:] = demand[free]
        _placement_rows(b, k, reach, a0, u0, demand, ygroup)
        _existing_rows(b, k, reach, a0, n_ex)
        _new_rows(b, reach, a0, n_ex, host, cand, demand[reach.row])
        coef = (np.full(int(free.sum()), penalty) if b.mode == "cover_all"
                else -np.array([P.weight[k][g].sum() for g, f in zip(groups, free, strict=True) if f])
                / demand[free])
        b.objective_terms.append((u0 + np.arange(int(free.sum())), coef))


def _penalty(b: _Draft) -> float:
    """Twice the dearest allowed site (cost per person left unplaced, cover_all)."""
    P = b.P
    costs = [P.cost[k][b.allowed[k]] for k in P.cost] + [P.cost_shared[b.share_ok]]
    finite = np.concatenate([c[np.isfinite(c)] for c in costs]) if costs else np.zeros(0)
    return 2.0 * float(finite.max()) + 1.0 if len(finite) else 1.0


def _placement_rows(b: _Draft, k: str, reach: sp.coo_matrix, a0: int, u0: int,
                    demand: np.ndarray, ygroup: np.ndarray) -> None:
    n_g = len(demand)
    A = sp.csr_matrix((np.ones(reach.nnz), (reach.row, np.arange(reach.nnz))), shape=(n_g, reach.nnz))
    free = np.flatnonzero(ygroup < 0)
    if len(free):
        U = sp.csr_matrix((np.ones(len(free)), (np.arange(len(free)), np.arange(len(free)))))
        M = sp.hstack([A[free], U], format="csr")
        cols = np.concatenate([a0 + np.arange(reach.nnz), u0 + np.arange(len(free))])
        _block(b, M, cols, demand[free], np.full(len(free), np.inf), tag={"type": "capacity", "kind": k})
    tied = np.flatnonzero(ygroup >= 0)
    if len(tied):
        Y = sp.csr_matrix((-demand[tied], (np.arange(len(tied)), np.arange(len(tied)))))
        M = sp.hstack([A[tied], Y], format="csr")
        cols = np.concatenate([a0 + np.arange(reach.nnz), b.y_start[k] + ygroup[tied]])
        b.rows.block(M, cols, 0.0, np.inf)


def _block(b: _Draft, M: sp.csr_matrix, cols: np.ndarray, lo: np.ndarray, hi: np.ndarray,
           tag: dict[str, str] | None = None) -> None:
    """Rows ``lo <= M x[cols] <= hi`` with bounds per row."""
    b.rows.block(M, cols, 0.0, 0.0, tag=tag)
    b.rows.lo[-1] = np.asarray(lo, dtype=float)
    b.rows.hi[-1] = np.asarray(hi, dtype=float)


def _existing_rows(b: _Draft, k: str, reach: sp.coo_matrix, a0: int, n_ex: int) -> None:
    assert b.P.existing_capacity is not None
    sel = np.flatnonzero(reach.col < n_ex)
    if not len(sel):
        return
    M = sp.csr_matrix((np.ones(len(sel)), (reach.col[sel], np.arange(len(sel)))), shape=(n_ex, len(sel)))
    keep = np.diff(M.indptr) > 0
    cap = b.P.existing_capacity[k]
    M = M[keep]
    M.sort_indices()
    _block(b, M, a0 + sel, np.full(M.shape[0], -np.inf), cap[keep].astype(float))


def _new_rows(b: _Draft, reach: sp.coo_matrix, a0: int, n_ex: int, host: np.ndarray,
              cand: np.ndarray, pair_upper: np.ndarray) -> None:
    """Per new column: load <= F x; the shared-building row where it may share; and per
    assignment pair ``a[g, j] <= min(D_g, F) x`` (the strong form: a far tighter LP bound)."""
    P = b.P
    assert P.capacity_new is not None and P.capacity_shared is not None
    sel = np.flatnonzero(reach.col >= n_ex)
    if not len(sel):
        return
    col = reach.col[sel] - n_ex  # the new column of each pair
    used, row_of = np.unique(col, return_inverse=True)
    x = np.array([b.pos[h][j] for h, j in zip(host[used], cand[used], strict=True)], dtype=np.int64)
    F = np.array([P.capacity_new[h][j] for h, j in zip(host[used], cand[used], strict=True)])
    S = np.array([P.capacity_shared[h][j] for h, j in zip(host[used], cand[used], strict=True)])
    n_u, n_p = len(used), len(sel)
    # load - F x <= 0, one row per used column: pairs first, then the x columns
    M = sp.csr_matrix((np.r_[np.ones(n_p), -F], (np.r_[row_of, np.arange(n_u)],
                                                  np.r_[np.arange(n_p), n_p + np.arange(n_u)])),
                      shape=(n_u, n_p + n_u))
    b.rows.block(M, np.r_[a0 + sel, x], -np.inf, 0.0)
    # a[p] - min(D, F) x <= 0, one row per pair
    ub = np.minimum(pair_upper[sel], F[row_of])
    M = sp.csr_matrix((np.r_[np.ones(n_p), -ub], (np.r_[np.arange(n_p), np.arange(n_p)],
                                                  np.r_[np.arange(n_p), n_p + row_of])),
                      shape=(n_p, n_p + n_u))
    b.rows.block(M, np.r_[a0 + sel, x], -np.inf, 0.0)
    _shared_rows(b, sel, row_of, a0, host[used], cand[used], x, F, S)


def _shared_rows(b: _Draft, sel: np.ndarray, row_of: np.ndarray, a0: int, host: np.ndarray,
                 cand: np.ndarray, x: np.ndarray, F: np.ndarray, S: np.ndarray) -> None:
    """``load - S x + (F - S) O <= F - S`` where a column may share its building."""
    P = b.P
    u_idx, p_pos = [], []
    for o in ("elderly", "street_centre", "childcare"):
        pos_o = b.pos[o][cand]
        is_partner = np.array([o in PARTNERS[h] for h in host], dtype=bool)
        if o == "childcare":  # elderly: a shared building (z); a street centre: a finite shared cost
            may = np.where(host == "street_centre", np.isfinite(P.cost_shared[cand]), b.share_ok[cand])
        else:
            may = (np.isfinite(P.cost_shared[cand]) if o == "street_centre" else b.share_ok[cand])
        ok = np.flatnonzero((F > S) & (pos_o >= 0) & is_partner & may)
        u_idx.append(ok)
        p_pos.append(pos_o[ok])
    us = np.concatenate(u_idx)
    if not len(us):
        return
    rows, inv = np.unique(us, return_inverse=True)  # the shared rows, one per column
    r_of_u = np.full(len(F), -1)
    r_of_u[rows] = np.arange(len(rows))
    pair = np.flatnonzero(r_of_u[row_of] >= 0)
    n_r, n_pair, n_part = len(rows), len(pair), len(us)
    M = sp.csr_matrix(
        (np.r_[np.ones(n_pair), -S[rows], F[us] - S[us]],
         (np.r_[r_of_u[row_of[pair]], np.arange(n_r), inv],
          np.arange(n_pair + n_r + n_part))),
        shape=(n_r, n_pair + n_r + n_part))
    cols = np.r_[a0 + sel[pair], x[rows], np.concatenate(p_pos)]
    _block(b, M, cols, np.full(n_r, -np.inf), F[rows] - S[rows])
