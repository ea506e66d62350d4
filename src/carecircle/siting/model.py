"""The siting MILP: variables and constraint rows built from a :class:`SitingProblem`.

Built the way spopt's ``FacilityModelBuilder`` builds its models, one function per
constraint family, each adding its rows to one model under construction (a
:class:`_Draft`); :func:`build_model` composes them, in this order:

1. what the model needs: allowed columns, required-site checks, over-budget
   columns, the community rows left to serve, each district target's need;
2. columns ``x[k, j]`` (elderly, childcare, street centre, institution) and shared
   buildings ``z[j]`` (elderly care with childcare) and ``w[j]`` (a street centre with
   childcare) (:func:`_columns`);
3. community rows: cover rows (cover_all) or ``y`` link rows (budget)
   (:func:`_community_rows`); a street centre and an institution serve elderly care;
4. street centres ``h[t]`` and their share target (:func:`_street_centre_rows`);
5. one kind per site and shared buildings (:func:`_one_kind_per_site_rows`,
   :func:`_shared_building_rows`);
6. sites required as any kind (:func:`_required_rows`) and the cost vector;
7. per district: places per 1,000, minimum counts, urban/rural coverage, public beds,
   the nursing share and the demonstration home (the bed block, :mod:`carecircle.siting.beds`);
   capacity, when the problem has a demand (:mod:`carecircle.siting.capacity`; its
   ``capacity_need`` keeps the columns it needs, ``capacity_rows`` adds the block);
8. the budget row and the objective (:func:`_budget_row`, :func:`_finish`).

The formulation is stated in :mod:`carecircle.siting.solve`.  :func:`decode` reads
the sites a solution opens.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from carecircle.siting import _milp, capacity
from carecircle.siting._reduce import dominated_rows, duplicate_row_groups
from carecircle.siting.beds import bed_need, bed_rows
from carecircle.siting.problem import (
    ELDERLY_HOSTS,
    HOST_KINDS,
    KINDS,
    PLAN_KINDS,
    SitingProblem,
    TargetSwitch,
    ceil_count,
    target_active,
)
from carecircle.siting.result import Explanation, SitingReduction, TargetIssue


@dataclass
class SitingModel:
    """A siting problem's MILP and the maps from its columns back to the problem.

    Attributes
    ----------
    milp
        The model handed to HiGHS.
    var
        Candidate indices behind each block of columns: ``elderly``, ``childcare``,
        ``street_centre``, ``institution`` (``x``), ``shared`` (``z``),
        ``shared_centre`` (``w``); ``h`` the (district, street)
        of each street-centre column; ``y_start`` the first ``y`` column per kind
        (-1 without).
    start
        First column of each block.
    y_groups
        Budget mode: the communities behind each ``y`` column, per kind.
    budget_row
        Index of the budget row (budget mode).
    tags
        ``(first row, stop, info)`` of the cover, link and target rows.
    reduction, precheck
        What presolve removed; what makes the problem infeasible before any solve.
    cost
        Cost per column (the ``x`` and ``z`` columns; 0 elsewhere).
    eps
        Budget mode: the weight of cost in the objective (ties towards lower cost).
    """

    milp: _milp.MilpModel
    var: dict[str, np.ndarray]
    start: dict[str, int]
    y_groups: dict[str, list[np.ndarray]]
    budget_row: int | None
    tags: list[_milp.Tag]
    reduction: SitingReduction
    precheck: Explanation
    cost: np.ndarray
    eps: float = 0.0


@dataclass
class _Draft:
    """A model under construction: what each builder reads and adds to."""

    P: SitingProblem
    mode: str
    budget: float | None
    targets: TargetSwitch
    coverage_kinds: tuple[str, ...]
    reduce: bool
    red: SitingReduction = field(default_factory=SitingReduction)
    pre: Explanation = field(default_factory=Explanation)
    rows: _milp.Rows = field(default_factory=_milp.Rows)
    districts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    # columns allowed per kind, and where a shared building may go
    allowed: dict[str, np.ndarray] = field(default_factory=dict)
    share_ok: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    centre_ok: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    # communities still to serve per kind; columns with a target role per kind
    rows_need: dict[str, np.ndarray] = field(default_factory=dict)
    role: dict[str, np.ndarray] = field(default_factory=dict)
    places_need: dict[Any, float] = field(default_factory=dict)
    min_need: dict[tuple[Any, str], int] = field(default_factory=dict)
    street_need: dict[Any, int] = field(default_factory=dict)
    # per district: public beds, nursing beds (net of the share) and demonstration homes
    bed_need: dict[Any, float] = field(default_factory=dict)
    nursing_need: dict[Any, float] = field(default_factory=dict)
    demo_need: dict[Any, int] = field(default_factory=dict)
    # columns: candidates per block, first column, column of each candidate
    var: dict[str, np.ndarray] = field(default_factory=dict)
    start: dict[str, int] = field(default_factory=dict)
    pos: dict[str, np.ndarray] = field(default_factory=dict)
    n_sites: int = 0  # the x and z columns, first in the model
    lower: list[np.ndarray] = field(default_factory=list)
    upper: list[np.ndarray] = field(default_factory=list)
    integer: list[np.ndarray] = field(default_factory=list)
    n_cols: int = 0
    y_groups: dict[str, list[np.ndarray]] = field(default_factory=dict)
    y_start: dict[str, int] = field(default_factory=dict)
    y_weight: dict[str, np.ndarray] = field(default_factory=dict)
    cost: np.ndarray = field(default_factory=lambda: np.zeros(0))
    budget_row: int | None = None
    # objective coefficients a block adds beyond cost and served residents: (columns, values)
    objective_terms: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    @property
    def required_by_kind(self) -> dict[str, np.ndarray]:
        return self.P.required if isinstance(self.P.required, dict) else {}

    @property
    def required_any(self) -> np.ndarray:
        return np.zeros(0, np.int64) if isinstance(self.P.required, dict) else self.P.required

    def add_columns(self, k: int, *, integer: bool) -> int:
        """Append *k* columns in [0, 1]; returns the first."""
        first = self.n_cols
        self.lower.append(np.zeros(k))
        self.upper.append(np.ones(k))
        self.integer.append(np.ones(k, bool) if integer else np.zeros(k, bool))
        self.n_cols += k
        return first


def build_model(
    P: SitingProblem,
    *,
    mode: str,
    budget: float | None = None,
    targets: TargetSwitch = None,
    coverage_kinds: Sequence[str] = ("elderly",),
    reduce: bool = True,
    cost_scale: float | None = None,
) -> SitingModel:
    """The MILP of *P*, reduced, with what makes it infeasible found beforehand.

    Parameters
    ----------
    P
        The problem.
    mode
        ``"cover_all"`` (least cost, every community served) or ``"budget"``
        (most residents served within *budget*).
    budget
        Total cost allowed (budget mode; ``None``: no budget row bound).
    targets
        District target families to enforce (``None``: all the table defines).
    coverage_kinds
        Kinds the urban/rural coverage targets apply to (budget mode).
    reduce
        Presolve: drop duplicate and dominated rows and unused columns.
    cost_scale
        Budget mode: the cost the tie-breaking weight is scaled by (default the
        budget).

    Returns
    -------
    SitingModel
    """
    t0 = time.perf_counter()
    b = _Draft(P, mode, budget, targets, tuple(coverage_kinds), reduce)
    _naive_size(b)
    _allowed_columns(b)
    _check_required(b)
    b.districts = P.all_districts()
    _drop_over_budget(b)
    _rows_to_serve(b)
    _target_roles(b)
    _places_need(b)
    _minimum_need(b)
    _street_need(b)
    capacity.capacity_need(b)
    bed_need(b)
    _columns(b)
    _community_rows(b)
    _street_centre_rows(b)
    _one_kind_per_site_rows(b)
    _shared_building_rows(b)
    _required_rows(b)
    capacity.capacity_rows(b)
    _cost_vector(b)
    for d in b.districts:
        _places_rows(b, d)
        _minimum_rows(b, d)
        _coverage_rows(b, d)
        bed_rows(b, d)
    _budget_row(b)
    return _finish(b, cost_scale, t0)


def decode(M: SitingModel, x: np.ndarray) -> dict[str, np.ndarray]:
    """The candidates a solution opens, per kind.

    Parameters
    ----------
    M
        The model solved.
    x
        A solution (one value per column).

    Returns
    -------
    dict
        ``{kind: candidate indices}`` for ``elderly``, ``childcare``, ``street_centre``,
        ``institution``.
    """
    return {
        k: M.var[k][x[M.start[k] : M.start[k] + len(M.var[k])] > 0.5].astype(np.int64)
        for k in PLAN_KINDS
    }


# ------------------------------------------------------------------ what the model needs


def _naive_size(b: _Draft) -> None:
    """The model without reductions: a binary per (kind, candidate), a shared binary per
    candidate, and every community x kind row over every reachable candidate."""
    P, red = b.P, b.red
    n, J = P.n_communities, P.n_candidates
    n_inst = int(P.can_host["institution"].sum())
    red.naive_cols = 3 * J + J + n_inst + (2 * n if b.mode == "budget" else 0)
    red.naive_rows = 2 * n + 2 * J
    red.naive_nnz = (
        int(P.cover["elderly"].nnz + P.cover["street_centre"].nnz + P.cover["childcare"].nnz)
        + int(P.cover["institution"][:, P.can_host["institution"]].nnz)
        + 4 * J
    )


def _allowed_columns(b: _Draft) -> None:
    """A kind at a candidate that can host it, is not excluded and has a cost."""
    P = b.P
    J = P.n_candidates
    excluded = np.zeros(J, bool)
    excluded[P.excluded] = True
    for k in PLAN_KINDS:
        ok = P.can_host[k] & ~excluded & np.isfinite(P.cost[k])
        if k == "institution" and not ok.any():
            continue  # no institution anywhere: the report stays as it was without them
        b.red.columns_not_allowed[k] = int(J - ok.sum())
        b.allowed[k] = ok
    b.allowed.setdefault("institution", np.zeros(J, bool))
    b.share_ok = b.allowed["elderly"] & b.allowed["childcare"] & np.isfinite(P.cost_shared)
    b.centre_ok = (
        b.allowed["street_centre"] & b.allowed["childcare"] & np.isfinite(P.cost_shared_centre)
    )


def _check_required(b: _Draft) -> None:
    """Required sites that cannot host what they are required as, or are excluded."""
    P, allowed, msgs = b.P, b.allowed, b.pre.messages
    req_kind, req_any = b.required_by_kind, b.required_any
    for k, idx in req_kind.items():
        bad = idx[~allowed[k][idx]]
        if len(bad):
            msgs.append(
                f"required site(s) {P.candidate_ids[bad].tolist()} cannot host {k} (not allowed, "
                f"excluded or no cost) 必选场地不能建 {k}"
            )
    if len(req_any):
        can_any = np.logical_or.reduce([allowed[k] for k in PLAN_KINDS])
        bad = req_any[~can_any[req_any]]
        if len(bad):
            msgs.append(
                f"required site(s) {P.candidate_ids[bad].tolist()} cannot host any kind 必选场地不能建设"
            )
    required = np.concatenate([req_any, *req_kind.values()])
    if len(np.intersect1d(required, P.excluded)):
        msgs.append("a site is both required and excluded 场地同时为必选与排除")


def _drop_over_budget(b: _Draft) -> None:
    """Columns dearer than the whole budget (a kind alone, or shared) go."""
    if b.mode != "budget" or b.budget is None:
        return
    P, budget = b.P, b.budget
    for k in PLAN_KINDS:
        dear = b.allowed[k] & (P.cost[k] > budget * (1 + 1e-12) + 1e-9)
        # Required sites stay: the solver must see (and explain) a budget they break.
        dear &= ~P.required_as(k)
        if k in KINDS:
            dear &= ~(b.share_ok & (P.cost_shared <= budget))
        if k in ("street_centre", "childcare"):
            dear &= ~(b.centre_ok & (P.cost_shared_centre <= budget))
        if k == "institution" and not b.allowed[k].any():
            continue
        b.red.columns_over_budget[k] = int(dear.sum())
        b.allowed[k] &= ~dear
    b.share_ok &= b.allowed["elderly"] & b.allowed["childcare"]
    b.centre_ok &= b.allowed["street_centre"] & b.allowed["childcare"]


def _serving(b: _Draft, k: str) -> tuple[sp.csr_matrix, list[np.ndarray]]:
    """Kind *k*'s reach over its allowed serving columns: elderly = [x_e | x_s | x_i],
    childcare = [x_c]."""
    P, allowed = b.P, b.allowed
    if k == "elderly":
        cols = [np.flatnonzero(allowed[kk]) for kk in ELDERLY_HOSTS]
        M = sp.hstack([P.cover[kk][:, c] for kk, c in zip(ELDERLY_HOSTS, cols, strict=True)],
                      format="csr")
        return M, cols
    ccols = np.flatnonzero(allowed["childcare"])
    return P.cover["childcare"][:, ccols].tocsr(), [ccols]


def _rows_to_serve(b: _Draft) -> None:
    """Communities not served today that some allowed column reaches, per kind.

    The others are served today, or uncoverable (listed in the precheck); in
    cover_all, rows a required site serves for sure go as well.
    """
    P, red = b.P, b.red
    req_kind = b.required_by_kind
    for k in KINDS:
        M, serve_cols = _serving(b, k)
        served = P.existing_served[k]
        red.communities_served_today[k] = int(served.sum())
        deg = np.diff(M.indptr)
        unc = np.flatnonzero(~served & (deg == 0))
        red.communities_uncoverable[k] = len(unc)
        if len(unc):
            b.pre.uncoverable[k] = unc
        todo = ~served & (deg > 0)
        if b.mode == "cover_all":
            fixed = np.zeros(P.n_candidates, bool)
            for kk in ELDERLY_HOSTS if k == "elderly" else ("childcare",):
                if kk in req_kind:
                    fixed[req_kind[kk]] = True
            fixed_cols = np.concatenate([fixed[c] for c in serve_cols])
            byreq = (
                todo & (np.asarray(M[:, fixed_cols].sum(axis=1)).ravel() > 0)
                if fixed_cols.any()
                else np.zeros(P.n_communities, bool)
            )
            red.rows_covered_by_required[k] = int(byreq.sum())
            todo &= ~byreq
        b.rows_need[k] = np.flatnonzero(todo)


def _target_roles(b: _Draft) -> None:
    """Required columns have a role beyond coverage; targets add theirs below."""
    J = b.P.n_candidates
    b.role = {k: np.zeros(J, bool) for k in PLAN_KINDS}
    for k in PLAN_KINDS:
        if k in b.required_by_kind:
            b.role[k][b.required_by_kind[k]] = True
        b.role[k][b.required_any] = True


def _places_need(b: _Draft) -> None:
    """Childcare places each district still needs for its places per 1,000."""
    P = b.P
    if not target_active(b.targets, "places"):
        return
    for d in b.districts:
        per = P.target(d, "places_per_1000")
        if per is None:
            continue
        pop = P.target(d, "population")
        if pop is None and P.population is not None:
            pop = float(P.population[P.district == d].sum())
        if pop is None:
            continue
        need = per * pop / 1000.0 - (P.target(d, "existing_places") or 0.0)
        if need > 1e-9:
            b.places_need[d] = need
            b.role["childcare"] |= (P.candidate_district == d) & (P.places_new > 0)


def _minimum_need(b: _Draft) -> None:
    """New facilities per district and kind for the minimum counts."""
    P = b.P
    if not target_active(b.targets, "minimum"):
        return
    for d in b.districts:
        for k in HOST_KINDS:
            mn = P.target(d, f"min_new_{k}") or 0.0
            mt = P.target(d, f"min_total_{k}")
            ex = P.target(d, f"existing_{k}") or 0.0
            need = max(mn, (mt - ex) if mt is not None else 0.0)
            if need > 0:
                b.min_need[(d, k)] = ceil_count(need)
                b.role[k] |= P.candidate_district == d


def _street_need(b: _Draft) -> None:
    """Streets per district that still need a comprehensive centre for the share."""
    P = b.P
    if not target_active(b.targets, "street_centre") or P.street is None:
        return
    has = set(P.streets_with_centre.tolist())
    for d in b.districts:
        share = P.target(d, "street_centre_share")
        if share is None or share <= 0:
            continue
        in_d = P.candidate_district == d
        streets = set(P.street[P.district == d])
        if P.candidate_street is not None:
            streets |= set(P.candidate_street[in_d])
        ns = P.target(d, "n_streets")
        if ns is None:
            ns = float(len(streets))
        need = ceil_count(share * ns) - len(streets & has)
        if need > 0:
            b.street_need[d] = need
            if P.candidate_street is not None:
                b.role["street_centre"] |= in_d & ~np.isin(P.candidate_street, list(has))


# ------------------------------------------------------------------ columns


def _useful(b: _Draft, k: str) -> np.ndarray:
    """Candidates whose *k* column serves a remaining row or has a target role."""
    P, J = b.P, b.P.n_candidates
    if k in ("street_centre", "institution"):
        rows, M = b.rows_need["elderly"], P.cover[k]
    else:
        rows, M = b.rows_need[k], P.cover[k]
    hit = np.zeros(J, bool)
    if len(rows):
        hit = np.asarray(M[rows].sum(axis=0)).ravel() > 0
    useful = hit | b.role[k]
    if k in KINDS:
        # Odd but possible data: a shared building cheaper than the other kind
        # alone makes this kind worth adding for free.
        other = "childcare" if k == "elderly" else "elderly"
        with np.errstate(invalid="ignore"):
            useful |= b.share_ok & (P.cost_shared < P.cost[other])
    return useful


def _columns(b: _Draft) -> None:
    """``x[k, j]`` per kind over the allowed (and useful) candidates, then ``z[j]`` and
    ``w[j]``.

    Sites required as a kind get a lower bound of 1.
    """
    J = b.P.n_candidates
    nv = 0
    for k in PLAN_KINDS:
        cols = np.flatnonzero(b.allowed[k])
        if b.reduce:
            useful = _useful(b, k)
            b.red.columns_unused[k] = int((b.allowed[k] & ~useful).sum())
            cols = cols[useful[cols]]
        b.var[k] = cols
        b.start[k] = nv
        nv += len(cols)
    shared = np.intersect1d(b.var["elderly"], b.var["childcare"])
    b.var["shared"] = shared[b.share_ok[shared]]
    b.start["shared"] = nv
    nv += len(b.var["shared"])
    # A street centre shares with childcare at a cost of its own only where that cost
    # differs from the sum of the two (else the pair needs no column).
    P = b.P
    centre = np.intersect1d(b.var["street_centre"], b.var["childcare"])
    centre = centre[b.centre_ok[centre]]
    delta = P.cost_shared_centre[centre] - P.cost["street_centre"][centre] - P.cost["childcare"][centre]
    b.var["shared_centre"] = centre[np.abs(delta) > 1e-9]
    b.start["shared_centre"] = nv
    nv += len(b.var["shared_centre"])
    b.add_columns(nv, integer=True)  # the first block of columns: x, z and w
    b.n_sites = nv
    for k in (*PLAN_KINDS, "shared", "shared_centre"):
        b.pos[k] = np.full(J, -1, np.int64)
        b.pos[k][b.var[k]] = b.start[k] + np.arange(len(b.var[k]))
    for k, idx in b.required_by_kind.items():
        p = b.pos[k][idx]
        b.lower[0][p[p >= 0]] = 1.0


# ------------------------------------------------------------------ community rows


def _community_rows(b: _Draft) -> None:
    """Per kind, a row per community left to serve, over the columns that reach it."""
    P, var, pos = b.P, b.var, b.pos
    for k in KINDS:
        rk = b.rows_need[k]
        if k == "elderly":
            Mk = sp.hstack([P.cover[kk][rk][:, var[kk]] for kk in ELDERLY_HOSTS], format="csr")
            cmap = np.concatenate([pos[kk][var[kk]] for kk in ELDERLY_HOSTS])
        else:
            Mk = P.cover["childcare"][rk][:, var["childcare"]].tocsr()
            cmap = pos["childcare"][var["childcare"]]
        Mk.sort_indices()
        b.red.rows_duplicate[k] = 0
        b.red.rows_dominated[k] = 0
        if b.mode == "cover_all":
            _cover_rows(b, k, Mk, rk, cmap)
        else:
            _link_rows(b, k, Mk, rk, cmap)


def _cover_rows(b: _Draft, k: str, Mk: sp.csr_matrix, rk: np.ndarray, cmap: np.ndarray) -> None:
    """cover_all: ``sum x >= 1`` per community, duplicate and dominated rows dropped."""
    if b.reduce and Mk.shape[0]:
        first = duplicate_row_groups(Mk)
        dup = first != np.arange(Mk.shape[0])
        b.red.rows_duplicate[k] = int(dup.sum())
        Mk, rk = Mk[~dup], rk[~dup]
        dom = dominated_rows(Mk)
        b.red.rows_dominated[k] = int(dom.sum())
        Mk, rk = Mk[~dom], rk[~dom]
    b.rows.block(Mk, cmap, 1.0, np.inf, tag={"type": "cover", "kind": k, "communities": rk})


def _link_rows(b: _Draft, k: str, Mk: sp.csr_matrix, rk: np.ndarray, cmap: np.ndarray) -> None:
    """Budget mode: ``y <= sum x`` per group of communities, ``y`` continuous in [0, 1].

    Communities with the same cover set *and* the same (district, urban) group are
    merged, so the coverage targets still count them.
    """
    P = b.P
    groups = [np.array([i]) for i in rk]
    if b.reduce and Mk.shape[0]:
        gkey = pd.factorize(pd.Series(list(zip(P.district[rk], P.urban[rk], strict=True))))[0]
        aug = sp.hstack(
            [
                Mk,
                sp.csr_matrix(
                    (np.ones(len(rk)), (np.arange(len(rk)), gkey + Mk.shape[1])),
                    shape=(len(rk), Mk.shape[1] + gkey.max() + 1),
                ),
            ],
            format="csr",
        )
        aug.sort_indices()
        first = duplicate_row_groups(aug)
        uniq, inv = np.unique(first, return_inverse=True)
        b.red.rows_duplicate[k] = int(len(rk) - len(uniq))
        groups = [rk[inv == g] for g in range(len(uniq))] if len(uniq) < len(rk) else groups
        Mk = Mk[uniq]
    b.y_groups[k] = groups
    b.y_weight[k] = np.array([P.weight[k][g].sum() for g in groups]) if groups else np.zeros(0)
    m_k = Mk.shape[0]
    b.y_start[k] = b.add_columns(m_k, integer=False)
    link = sp.hstack([-Mk, sp.eye(m_k, format="csr")], format="csr")
    cm = np.concatenate([cmap, b.y_start[k] + np.arange(m_k)])
    b.rows.block(link, cm, -np.inf, 0.0, tag={"type": "link", "kind": k})


# ------------------------------------------------------------------ street centres


def _street_centre_rows(b: _Draft) -> None:
    """``h[t] <= sum x[street_centre, j in t]`` per street without a centre, and per
    district ``sum h >= need``; too few such streets is explained up front."""
    P = b.P
    h_keys: list[tuple[Any, Any]] = []
    if b.street_need and P.candidate_street is not None:
        has = set(P.streets_with_centre.tolist())
        for d, need in b.street_need.items():
            streets = _streets_to_open(b, P.candidate_street, has, d)
            if len(streets) < need:
                b.pre.targets.append(_street_issue(d, need, len(streets)))
            hv = []
            for s, js in streets.items():
                h = b.add_columns(1, integer=True)
                h_keys.append((d, s))
                hv.append(h)
                b.rows.row(
                    np.concatenate([[h], b.pos["street_centre"][js]]),
                    np.concatenate([[1.0], -np.ones(len(js))]),
                    -np.inf,
                    0.0,
                )
            if hv:
                tag = _target_tag("street_centre_share", "street_centre", d, float(need))
                b.rows.row(hv, np.ones(len(hv)), float(need), np.inf, tag=tag)
    b.var["h"] = np.array(h_keys, dtype=object)
    b.start["h"] = b.n_cols - len(h_keys)


def _streets_to_open(
    b: _Draft, candidate_street: np.ndarray, has: set[Any], d: Any
) -> dict[Any, list[int]]:
    """The district's streets without a centre, each with its street-centre columns."""
    sc = b.var["street_centre"][b.P.candidate_district[b.var["street_centre"]] == d]
    streets: dict[Any, list[int]] = {}
    for j in sc:
        s = candidate_street[j]
        if s in has or s is None:
            continue
        streets.setdefault(s, []).append(j)
    return streets


def _street_issue(d: Any, need: int, most: int) -> TargetIssue:
    return TargetIssue(
        d,
        "street_centre_share",
        "street_centre",
        need,
        most,
        f"district {d}: needs {need} more street(s) with a comprehensive centre, but only "
        f"{most} street(s) without one have a candidate that can host it "
        f"区县 {d} 街道综合养老服务中心覆盖率无法达标: 需新增 {need} 个街道, 最多 {most} 个",
    )


def _target_tag(target: str, kind: str, d: Any, need: float) -> dict[str, Any]:
    return {"type": "target", "target": target, "kind": kind, "district": d, "need": need}


# ------------------------------------------------------------------ sites


def _one_kind_per_site_rows(b: _Draft) -> None:
    """``x_e + x_c <= 1`` where no shared building is allowed, ``x_e + x_s <= 1``
    always, ``x_c + x_s <= 1`` where no shared building is allowed; an institution
    shares its building with no other kind (``x_i + x_k <= 1``)."""
    var, pos = b.var, b.pos
    both = np.intersect1d(var["elderly"], var["childcare"])
    noshare = both[~b.share_ok[both]]
    if len(noshare):
        b.rows.pairs(pos["elderly"][noshare], pos["childcare"][noshare], 1.0)
    es = np.intersect1d(var["elderly"], var["street_centre"])
    if len(es):
        b.rows.pairs(pos["elderly"][es], pos["street_centre"][es], 1.0)
    cs = np.intersect1d(var["childcare"], var["street_centre"])
    cs = cs[~b.centre_ok[cs]]
    if len(cs):
        b.rows.pairs(pos["childcare"][cs], pos["street_centre"][cs], 1.0)
    for k in HOST_KINDS:
        both = np.intersect1d(var["institution"], var[k])
        if len(both):
            b.rows.pairs(pos["institution"][both], pos[k][both], 1.0)


def _shared_building_rows(b: _Draft) -> None:
    """``z <= x_e``, ``z <= x_c``; and ``x_e + x_c - z <= 1`` where sharing costs more;
    the same for a street centre with childcare (``w``)."""
    P = b.P
    for block, partner, cost_pair in (("shared", "elderly", P.cost_shared),
                                      ("shared_centre", "street_centre", P.cost_shared_centre)):
        _pair_rows(b, block, partner, cost_pair)


def _pair_rows(b: _Draft, block: str, partner: str, cost_pair: np.ndarray) -> None:
    """The rows of one shared-building block (*partner* and childcare in one building)."""
    P, pos, shared = b.P, b.pos, b.var[block]
    if not len(shared):
        return
    z = pos[block][shared]
    for kk in (partner, "childcare"):
        b.rows.pairs(z, pos[kk][shared], 0.0, sign_b=-1.0)
    delta = cost_pair[shared] - P.cost[partner][shared] - P.cost["childcare"][shared]
    up = shared[delta > 0]
    if len(up):
        k_ = len(up)
        M = sp.csr_matrix(
            (np.r_[np.ones(2 * k_), -np.ones(k_)], (np.tile(np.arange(k_), 3), np.arange(3 * k_))),
            shape=(k_, 3 * k_),
        )
        cols = np.concatenate([pos[partner][up], pos["childcare"][up], pos[block][up]])
        b.rows.block(M, cols, -np.inf, 1.0)


def _required_rows(b: _Draft) -> None:
    """A site required as any kind opens as one: ``sum_k x[k, j] >= 1``."""
    for j in b.required_any:
        p = [b.pos[k][j] for k in PLAN_KINDS if b.pos[k][j] >= 0]
        if p:
            b.rows.row(p, np.ones(len(p)), 1.0, np.inf)


def _cost_vector(b: _Draft) -> None:
    """Cost per column: a kind's cost on ``x``, the shared discount (or surcharge) on ``z``
    and ``w``."""
    P, var, pos = b.P, b.var, b.pos
    b.cost = np.zeros(b.n_cols)
    for k in PLAN_KINDS:
        b.cost[pos[k][var[k]]] = P.cost[k][var[k]]
    for block, partner, pair in (("shared", "elderly", P.cost_shared),
                                 ("shared_centre", "street_centre", P.cost_shared_centre)):
        js = var[block]
        if len(js):
            b.cost[pos[block][js]] = pair[js] - P.cost[partner][js] - P.cost["childcare"][js]


# ------------------------------------------------------------------ district targets


def _places_rows(b: _Draft, d: Any) -> None:
    """``sum places_new x_c >= need`` over the district's childcare columns."""
    if d not in b.places_need:
        return
    P, var = b.P, b.var
    cc = var["childcare"][
        (P.candidate_district[var["childcare"]] == d) & (P.places_new[var["childcare"]] > 0)
    ]
    most = float(P.places_new[cc].sum())
    need = b.places_need[d]
    if most + 1e-9 < need:
        b.pre.targets.append(
            TargetIssue(
                d,
                "places_per_1000",
                "childcare",
                need,
                most,
                f"district {d}: childcare places per 1,000 needs {need:.1f} new place(s), but all "
                f"allowed candidates together add at most {most:.1f} 区县 {d} 每千人托位数无法达标: "
                f"需新增 {need:.1f} 个托位, 最多 {most:.1f} 个",
            )
        )
    if len(cc):
        tag = _target_tag("places_per_1000", "childcare", d, need)
        b.rows.row(b.pos["childcare"][cc], P.places_new[cc], need, np.inf, tag=tag)


def _minimum_rows(b: _Draft, d: Any) -> None:
    """``sum x[k, j in d] >= need`` per kind with a minimum count."""
    P, var = b.P, b.var
    for k in HOST_KINDS:
        if (d, k) not in b.min_need:
            continue
        need = b.min_need[(d, k)]
        cc = var[k][P.candidate_district[var[k]] == d]
        if len(cc) < need:
            b.pre.targets.append(
                TargetIssue(
                    d,
                    "minimum",
                    k,
                    need,
                    len(cc),
                    f"district {d}: needs at least {need} new {k} site(s), but only {len(cc)} "
                    f"allowed candidate(s) can host it 区县 {d} 新建{k}数量无法达标: 需 {need}, 最多 {len(cc)}",
                )
            )
        if len(cc):
            tag = _target_tag("minimum", k, d, float(need))
            b.rows.row(b.pos[k][cc], np.ones(len(cc)), float(need), np.inf, tag=tag)


def _coverage_rows(b: _Draft, d: Any) -> None:
    """Budget mode: served urban (rural) communities >= ``ceil(share x n)`` per kind.

    (In cover_all every community is served: the target is implied.)
    """
    if b.mode != "budget" or not target_active(b.targets, "coverage"):
        return
    for k in b.coverage_kinds:
        for urb, col, label in ((True, "urban_cov", "urban"), (False, "rural_cov", "rural")):
            _coverage_row(b, d, k, urb, col, label)


def _coverage_row(b: _Draft, d: Any, k: str, urb: bool, col: str, label: str) -> None:
    P = b.P
    share = P.target(d, col)
    if share is None:
        return
    in_class = (P.district == d) & (P.urban == urb)
    n_class = int(in_class.sum())
    if n_class == 0:
        return  # no such communities: nothing to meet
    need = ceil_count(share * n_class) - int((in_class & P.existing_served[k]).sum())
    if need <= 0:
        return
    groups = b.y_groups.get(k, [])
    gidx = [
        g for g, members in enumerate(groups)
        if P.district[members[0]] == d and P.urban[members[0]] == urb
    ]
    coverable = sum(len(groups[g]) for g in gidx)
    if coverable < need:
        b.pre.targets.append(
            TargetIssue(
                d,
                col,
                k,
                need,
                coverable,
                f"district {d}: {label} {k} coverage {share:.0%} needs {need} more served "
                f"communit(ies), but only {coverable} unserved ones have a candidate in reach "
                f"区县 {d} {'城市' if urb else '农村'}社区覆盖率无法达标: 需新增 {need}, 最多 {coverable}",
            )
        )
    if gidx:
        b.rows.row(
            b.y_start[k] + np.array(gidx),
            np.array([len(groups[g]) for g in gidx], float),
            float(need),
            np.inf,
            tag=_target_tag(col, k, d, float(need)),
        )


# ------------------------------------------------------------------ budget and objective


def _budget_row(b: _Draft) -> None:
    """Budget mode: ``cost . x <= budget`` over the site columns."""
    if b.mode != "budget":
        return
    b.budget_row = b.rows.row(
        np.arange(b.n_sites),
        b.cost[: b.n_sites],
        -np.inf,
        float(b.budget if b.budget is not None else np.inf),
        tag={"type": "budget"},
    )


def _objective(b: _Draft, cost_scale: float | None) -> tuple[np.ndarray, bool, float, float]:
    """(c, maximize, eps, offset): least cost, or most residents with cost as tie-break."""
    P = b.P
    if b.mode == "cover_all":
        return _with_terms(b.cost, b), False, 0.0, 0.0
    n_y = sum(len(w) for w in b.y_weight.values())
    wpos = np.concatenate([b.y_weight[k] for k in KINDS]) if n_y else np.zeros(0)
    positive = wpos[wpos > 0]
    wmin = float(positive.min()) if len(positive) else 1.0
    scale = cost_scale if cost_scale else (b.budget if b.budget else 1.0)
    eps = 1e-6 * wmin / max(float(scale), 1.0)
    c = -eps * b.cost
    for k in KINDS:
        c[b.y_start[k] : b.y_start[k] + len(b.y_weight[k])] = b.y_weight[k]
    offset = float(sum(P.weight[k][P.existing_served[k]].sum() for k in KINDS))
    return _with_terms(c, b), True, eps, offset


def _with_terms(c: np.ndarray, b: _Draft) -> np.ndarray:
    """*c* plus the blocks' own objective terms (a copy when there are any)."""
    c = c.copy() if b.objective_terms else c
    for cols, vals in b.objective_terms:
        c[cols] += vals
    return c


def _finish(b: _Draft, cost_scale: float | None, t0: float) -> SitingModel:
    c, maximize, eps, offset = _objective(b, cost_scale)
    rows = b.rows
    lower = np.concatenate(b.lower)
    milp = _milp.MilpModel(
        c=c,
        A=rows.matrix(b.n_cols),
        row_lower=np.concatenate(rows.lo) if rows.lo else np.zeros(0),
        row_upper=np.concatenate(rows.hi) if rows.hi else np.zeros(0),
        col_lower=lower,
        col_upper=np.concatenate(b.upper),
        integrality=np.concatenate(b.integer),
        maximize=maximize,
        offset=offset,
    )
    red = b.red
    red.rows, red.cols, red.nnz = milp.n_rows, milp.n_cols, milp.nnz
    red.seconds = time.perf_counter() - t0
    b.var["y_start"] = np.array([b.y_start.get(k, -1) for k in KINDS])
    return SitingModel(
        milp=milp,
        var=b.var,
        start=b.start,
        y_groups=b.y_groups,
        budget_row=b.budget_row,
        tags=rows.tags,
        reduction=red,
        precheck=b.pre,
        cost=b.cost,
        eps=eps,
    )
