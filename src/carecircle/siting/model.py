"""The siting MILP: variables and constraint rows built from a :class:`SitingProblem`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from carecircle.siting import _milp
from carecircle.siting._reduce import _dominated_rows, _row_groups_duplicate
from carecircle.siting.problem import (
    HOST_KINDS,
    KINDS,
    SitingProblem,
    ceil_count,
    target_active,
)
from carecircle.siting.result import Explanation, SitingReduction, TargetIssue

# --------------------------------------------------------------------------- model


@dataclass
class _Rows:
    """COO triplets and bounds, accumulated block by block."""

    r: list = field(default_factory=list)
    c: list = field(default_factory=list)
    v: list = field(default_factory=list)
    lo: list = field(default_factory=list)
    hi: list = field(default_factory=list)
    n: int = 0
    tags: list = field(default_factory=list)  # (start, stop, info)

    def block(self, M: sp.spmatrix, col_offset: np.ndarray | int, lo, hi, tag=None) -> int:
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

    def row(self, cols, vals, lo, hi, tag=None) -> int:
        cols = np.asarray(cols, dtype=np.int64)
        M = sp.coo_matrix(
            (np.asarray(vals, dtype=float), (np.zeros(len(cols), np.int64), np.arange(len(cols)))),
            shape=(1, len(cols)),
        )
        return self.block(M, cols, lo, hi, tag)

    def matrix(self, n_vars: int) -> sp.csr_matrix:
        if not self.r:
            return sp.csr_matrix((0, n_vars))
        return sp.csr_matrix(
            (np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))),
            shape=(self.n, n_vars),
        )


@dataclass
class _Model:
    milp: _milp.MilpModel
    var: dict[str, np.ndarray]  # candidate indices per x block, 'shared'; street keys for 'h'
    start: dict[str, int]
    y_groups: dict[str, list[np.ndarray]]  # budget mode: communities behind each y variable
    budget_row: int | None
    tags: list
    reduction: SitingReduction
    precheck: Explanation
    cost: np.ndarray
    eps: float = 0.0


def _build(
    P: SitingProblem,
    *,
    mode: str,
    budget: float | None,
    targets,
    coverage_kinds=("elderly",),
    allow_uncoverable: bool = False,
    reduce: bool = True,
    cost_scale: float | None = None,
) -> _Model:
    t0 = time.perf_counter()
    n, J = P.n_communities, P.n_candidates
    red = SitingReduction()
    pre = Explanation()
    # Naive model: one binary per (kind, candidate), a shared binary per candidate,
    # and every community x kind row over every reachable candidate.
    red.naive_cols = 3 * J + J + (2 * n if mode == "budget" else 0)
    red.naive_rows = 2 * n + 2 * J
    red.naive_nnz = (
        int(P.cover["elderly"].nnz + P.cover["street_centre"].nnz + P.cover["childcare"].nnz)
        + 4 * J
    )

    excluded = np.zeros(J, bool)
    excluded[P.excluded] = True
    req_kind = P.required if isinstance(P.required, dict) else {}
    req_any = np.zeros(0, np.int64) if isinstance(P.required, dict) else P.required
    allowed = {}
    for k in HOST_KINDS:
        ok = P.can_host[k] & ~excluded & np.isfinite(P.cost[k])
        red.columns_not_allowed[k] = int(J - ok.sum())
        allowed[k] = ok
    share_ok = allowed["elderly"] & allowed["childcare"] & np.isfinite(P.cost_shared)

    for k, idx in req_kind.items():
        bad = idx[~allowed[k][idx]]
        if len(bad):
            pre.messages.append(
                f"required site(s) {P.candidate_ids[bad].tolist()} cannot host {k} (not allowed, "
                f"excluded or no cost) 必选场地不能建 {k}"
            )
    bad = (
        req_any[~(allowed["elderly"] | allowed["childcare"] | allowed["street_centre"])[req_any]]
        if len(req_any)
        else []
    )
    if len(bad):
        pre.messages.append(
            f"required site(s) {P.candidate_ids[bad].tolist()} cannot host any kind 必选场地不能建设"
        )
    if len(
        np.intersect1d(
            np.concatenate([req_any, *req_kind.values()]) if req_kind or len(req_any) else [],
            P.excluded,
        )
    ):
        pre.messages.append("a site is both required and excluded 场地同时为必选与排除")

    districts = P.all_districts()

    # Over-budget columns (a kind alone, or shared, dearer than the whole budget).
    if mode == "budget" and budget is not None:
        for k in HOST_KINDS:
            dear = allowed[k] & (P.cost[k] > budget * (1 + 1e-12) + 1e-9)
            # Required sites stay: the solver must see (and explain) a budget they break.
            dear &= ~P.required_as(k)
            if k in KINDS:
                dear &= ~(share_ok & (P.cost_shared <= budget))
            red.columns_over_budget[k] = int(dear.sum())
            allowed[k] &= ~dear
        share_ok &= allowed["elderly"] & allowed["childcare"]

    # ---- community rows per kind (cover matrices over the allowed columns) ----
    cov_e = P.cover["elderly"]
    cov_s = P.cover["street_centre"]
    cov_c = P.cover["childcare"]
    ecols = np.flatnonzero(allowed["elderly"])
    scols = np.flatnonzero(allowed["street_centre"])
    ccols = np.flatnonzero(allowed["childcare"])
    # Matrix of kind k over its "serving" columns: elderly = [x_e | x_s], childcare = [x_c].
    serve = {
        "elderly": (
            sp.hstack([cov_e[:, ecols], cov_s[:, scols]], format="csr"),
            ("elderly", "street_centre"),
        ),
        "childcare": (cov_c[:, ccols].tocsr(), ("childcare",)),
    }
    serve_cols = {"elderly": (ecols, scols), "childcare": (ccols,)}

    # Required-by-kind columns already serve their rows for sure.
    fixed_serving = {}
    for k in KINDS:
        f = np.zeros(J, bool)
        for kk in serve[k][1]:
            if kk in req_kind:
                f[req_kind[kk]] = True
        fixed_serving[k] = f

    rows_need: dict[str, np.ndarray] = {}
    for k in KINDS:
        M, _ = serve[k]
        served = P.existing_served[k]
        red.communities_served_today[k] = int(served.sum())
        deg = np.diff(M.indptr)
        unc = np.flatnonzero(~served & (deg == 0))
        red.communities_uncoverable[k] = len(unc)
        if len(unc):
            pre.uncoverable[k] = unc
        todo = ~served & (deg > 0)
        if mode == "cover_all":
            fixed_cols = np.concatenate([fixed_serving[k][c] for c in serve_cols[k]])
            byreq = (
                todo & (np.asarray(M[:, fixed_cols].sum(axis=1)).ravel() > 0)
                if fixed_cols.any()
                else np.zeros(n, bool)
            )
            red.rows_covered_by_required[k] = int(byreq.sum())
            todo &= ~byreq
        rows_need[k] = np.flatnonzero(todo)

    # ---- variables ----
    var: dict[str, np.ndarray] = {}
    start: dict[str, int] = {}
    nv = 0

    # Target bookkeeping used to decide which columns have a role beyond coverage.
    role = {k: np.zeros(J, bool) for k in HOST_KINDS}
    for k in HOST_KINDS:
        if k in req_kind:
            role[k][req_kind[k]] = True
        role[k][req_any] = True
    places_need: dict = {}
    min_need: dict = {}
    street_need: dict = {}
    for d in districts:
        in_d = P.candidate_district == d
        if target_active(targets, "places"):
            per = P.target(d, "places_per_1000")
            if per is not None:
                pop = P.target(d, "population")
                if pop is None and P.population is not None:
                    pop = float(P.population[P.district == d].sum())
                if pop is not None:
                    need = per * pop / 1000.0 - (P.target(d, "existing_places") or 0.0)
                    if need > 1e-9:
                        places_need[d] = need
                        role["childcare"] |= in_d & (P.places_new > 0)
        if target_active(targets, "minimum"):
            for k in HOST_KINDS:
                mn = P.target(d, f"min_new_{k}") or 0.0
                mt = P.target(d, f"min_total_{k}")
                ex = P.target(d, f"existing_{k}") or 0.0
                need = max(mn, (mt - ex) if mt is not None else 0.0)
                if need > 0:
                    min_need[(d, k)] = ceil_count(need)
                    role[k] |= in_d
        if target_active(targets, "street_centre") and P.street is not None:
            share = P.target(d, "street_centre_share")
            if share is not None and share > 0:
                ns = P.target(d, "n_streets")
                if ns is None:
                    keys = set(P.street[P.district == d])
                    if P.candidate_street is not None:
                        keys |= set(P.candidate_street[in_d])
                    ns = float(len(keys))
                has = set(P.streets_with_centre.tolist())
                st_d = set(P.street[P.district == d]) | (
                    set(P.candidate_street[in_d]) if P.candidate_street is not None else set()
                )
                existing = len(st_d & has)
                need = ceil_count(share * ns) - existing
                if need > 0:
                    street_need[d] = need
                    if P.candidate_street is not None:
                        role["street_centre"] |= in_d & ~np.isin(P.candidate_street, list(has))

    # Columns with no remaining community row and no target role are never useful.
    keep_cols = {}
    for k in HOST_KINDS:
        cols = np.flatnonzero(allowed[k])
        if reduce:
            if k == "street_centre":
                rows = rows_need["elderly"]
                M = cov_s
            else:
                rows = rows_need[k]
                M = cov_e if k == "elderly" else cov_c
            hit = np.zeros(J, bool)
            if len(rows):
                hit = np.asarray(M[rows].sum(axis=0)).ravel() > 0
            useful = hit | role[k]
            if k in KINDS:
                # Odd but possible data: a shared building cheaper than the other kind
                # alone makes this kind worth adding for free.
                other = "childcare" if k == "elderly" else "elderly"
                with np.errstate(invalid="ignore"):
                    useful |= share_ok & (P.cost_shared < P.cost[other])
            red.columns_unused[k] = int((allowed[k] & ~useful).sum())
            cols = cols[useful[cols]]
        keep_cols[k] = cols
        var[k] = cols
        start[k] = nv
        nv += len(cols)
    shared_cols = np.intersect1d(var["elderly"], var["childcare"])
    shared_cols = shared_cols[share_ok[shared_cols]]
    var["shared"] = shared_cols
    start["shared"] = nv
    nv += len(shared_cols)

    pos = {k: np.full(J, -1, np.int64) for k in (*HOST_KINDS, "shared")}
    for k in (*HOST_KINDS, "shared"):
        pos[k][var[k]] = start[k] + np.arange(len(var[k]))

    rows = _Rows()
    lower = np.zeros(nv)
    upper = np.ones(nv)
    integ = np.ones(nv, bool)

    # Required per kind: lower bound 1.
    for k, idx in req_kind.items():
        p = pos[k][idx]
        lower[p[p >= 0]] = 1.0

    # ---- community rows ----
    y_groups: dict[str, list[np.ndarray]] = {}
    y_start: dict[str, int] = {}
    y_weight: dict[str, np.ndarray] = {}
    extra_vars = 0
    group_rows: dict[str, list[np.ndarray]] = {}
    for k in KINDS:
        rk = rows_need[k]
        # Column map of this kind's serving matrix to variable positions.
        if k == "elderly":
            Mk = sp.hstack(
                [cov_e[rk][:, var["elderly"]], cov_s[rk][:, var["street_centre"]]], format="csr"
            )
            cmap = np.concatenate(
                [pos["elderly"][var["elderly"]], pos["street_centre"][var["street_centre"]]]
            )
        else:
            Mk = cov_c[rk][:, var["childcare"]].tocsr()
            cmap = pos["childcare"][var["childcare"]]
        Mk.sort_indices()
        red.rows_duplicate[k] = 0
        red.rows_dominated[k] = 0
        if mode == "cover_all":
            if reduce and Mk.shape[0]:
                first = _row_groups_duplicate(Mk)
                dup = first != np.arange(Mk.shape[0])
                red.rows_duplicate[k] = int(dup.sum())
                Mk = Mk[~dup]
                rk = rk[~dup]
                dom = _dominated_rows(Mk)
                red.rows_dominated[k] = int(dom.sum())
                Mk = Mk[~dom]
                rk = rk[~dom]
            rows.block(Mk, cmap, 1.0, np.inf, tag={"type": "cover", "kind": k, "communities": rk})
        else:
            # Budget mode: merge communities with the same cover set *and* the same
            # (district, urban) group, so the coverage targets still count them.
            groups = [np.array([i]) for i in rk]
            if reduce and Mk.shape[0]:
                gkey = pd.factorize(pd.Series(list(zip(P.district[rk], P.urban[rk], strict=True))))[
                    0
                ]
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
                first = _row_groups_duplicate(aug)
                uniq, inv = np.unique(first, return_inverse=True)
                red.rows_duplicate[k] = int(len(rk) - len(uniq))
                groups = [rk[inv == g] for g in range(len(uniq))] if len(uniq) < len(rk) else groups
                Mk = Mk[uniq]
            y_groups[k] = groups
            w = np.array([P.weight[k][g].sum() for g in groups]) if groups else np.zeros(0)
            y_weight[k] = w
            y_start[k] = nv + extra_vars
            m_k = Mk.shape[0]
            extra_vars += m_k
            group_rows[k] = groups
            link = sp.hstack([-Mk, sp.eye(m_k, format="csr")], format="csr")
            cm = np.concatenate([cmap, y_start[k] + np.arange(m_k)])
            rows.block(link, cm, -np.inf, 0.0, tag={"type": "link", "kind": k})
    n_total = nv + extra_vars
    lower = np.concatenate([lower, np.zeros(extra_vars)])
    upper = np.concatenate([upper, np.ones(extra_vars)])
    integ = np.concatenate([integ, np.zeros(extra_vars, bool)])

    # ---- street centre variables h[t] ----
    h_keys: list = []
    h_vars: list = []
    if street_need and P.candidate_street is not None:
        has = set(P.streets_with_centre.tolist())
        for d, need in street_need.items():
            sc = var["street_centre"][P.candidate_district[var["street_centre"]] == d]
            streets = {}
            for j in sc:
                s = P.candidate_street[j]
                if s in has or s is None:
                    continue
                streets.setdefault(s, []).append(j)
            if len(streets) < need:
                pre.targets.append(
                    TargetIssue(
                        d,
                        "street_centre_share",
                        "street_centre",
                        need,
                        len(streets),
                        f"district {d}: needs {need} more street(s) with a comprehensive centre, but only "
                        f"{len(streets)} street(s) without one have a candidate that can host it "
                        f"区县 {d} 街道综合养老服务中心覆盖率无法达标: 需新增 {need} 个街道, 最多 {len(streets)} 个",
                    )
                )
            hv = []
            for s, js in streets.items():
                h = n_total
                n_total += 1
                h_keys.append((d, s))
                hv.append(h)
                rows.row(
                    np.concatenate([[h], pos["street_centre"][js]]),
                    np.concatenate([[1.0], -np.ones(len(js))]),
                    -np.inf,
                    0.0,
                )
            h_vars.extend(hv)
            if hv:
                rows.row(
                    hv,
                    np.ones(len(hv)),
                    float(need),
                    np.inf,
                    tag={
                        "type": "target",
                        "target": "street_centre_share",
                        "kind": "street_centre",
                        "district": d,
                        "need": float(need),
                    },
                )
        lower = np.concatenate([lower, np.zeros(len(h_vars))])
        upper = np.concatenate([upper, np.ones(len(h_vars))])
        integ = np.concatenate([integ, np.ones(len(h_vars), bool)])
    var["h"] = np.array(h_keys, dtype=object)
    start["h"] = n_total - len(h_vars)

    # ---- shared building / one kind per site ----
    both = np.intersect1d(var["elderly"], var["childcare"])
    noshare = both[~share_ok[both]]
    if len(noshare):
        k_ = len(noshare)
        M = sp.csr_matrix(
            (np.ones(2 * k_), (np.tile(np.arange(k_), 2), np.arange(2 * k_))), shape=(k_, 2 * k_)
        )
        rows.block(
            M, np.concatenate([pos["elderly"][noshare], pos["childcare"][noshare]]), -np.inf, 1.0
        )
    es = np.intersect1d(var["elderly"], var["street_centre"])
    if len(es):
        k_ = len(es)
        M = sp.csr_matrix(
            (np.ones(2 * k_), (np.tile(np.arange(k_), 2), np.arange(2 * k_))), shape=(k_, 2 * k_)
        )
        rows.block(M, np.concatenate([pos["elderly"][es], pos["street_centre"][es]]), -np.inf, 1.0)
    cs = np.intersect1d(var["childcare"], var["street_centre"])
    cs = cs[~np.isfinite(P.cost_shared[cs])]
    if len(cs):
        k_ = len(cs)
        M = sp.csr_matrix(
            (np.ones(2 * k_), (np.tile(np.arange(k_), 2), np.arange(2 * k_))), shape=(k_, 2 * k_)
        )
        rows.block(
            M, np.concatenate([pos["childcare"][cs], pos["street_centre"][cs]]), -np.inf, 1.0
        )
    if len(shared_cols):
        k_ = len(shared_cols)
        zc = pos["shared"][shared_cols]
        for kk in KINDS:
            M = sp.csr_matrix(
                (np.r_[np.ones(k_), -np.ones(k_)], (np.tile(np.arange(k_), 2), np.arange(2 * k_))),
                shape=(k_, 2 * k_),
            )
            rows.block(M, np.concatenate([zc, pos[kk][shared_cols]]), -np.inf, 0.0)
        delta = (
            P.cost_shared[shared_cols]
            - P.cost["elderly"][shared_cols]
            - P.cost["childcare"][shared_cols]
        )
        up = shared_cols[delta > 0]
        if len(up):
            k_ = len(up)
            M = sp.csr_matrix(
                (
                    np.r_[np.ones(2 * k_), -np.ones(k_)],
                    (np.tile(np.arange(k_), 3), np.arange(3 * k_)),
                ),
                shape=(k_, 3 * k_),
            )
            rows.block(
                M,
                np.concatenate([pos["elderly"][up], pos["childcare"][up], pos["shared"][up]]),
                -np.inf,
                1.0,
            )

    # ---- required (any kind) ----
    for j in req_any:
        p = [pos[k][j] for k in HOST_KINDS if pos[k][j] >= 0]
        if p:
            rows.row(p, np.ones(len(p)), 1.0, np.inf)

    # ---- cost vector ----
    cost = np.zeros(n_total)
    for k in HOST_KINDS:
        cost[pos[k][var[k]]] = P.cost[k][var[k]]
    if len(shared_cols):
        cost[pos["shared"][shared_cols]] = (
            P.cost_shared[shared_cols]
            - P.cost["elderly"][shared_cols]
            - P.cost["childcare"][shared_cols]
        )

    # ---- district targets ----
    for d in districts:
        if d in places_need:
            cc = var["childcare"][
                (P.candidate_district[var["childcare"]] == d) & (P.places_new[var["childcare"]] > 0)
            ]
            most = float(P.places_new[cc].sum())
            need = places_need[d]
            if most + 1e-9 < need:
                pre.targets.append(
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
                rows.row(
                    pos["childcare"][cc],
                    P.places_new[cc],
                    need,
                    np.inf,
                    tag={
                        "type": "target",
                        "target": "places_per_1000",
                        "kind": "childcare",
                        "district": d,
                        "need": need,
                    },
                )
        for k in HOST_KINDS:
            if (d, k) not in min_need:
                continue
            need = min_need[(d, k)]
            cc = var[k][P.candidate_district[var[k]] == d]
            if len(cc) < need:
                pre.targets.append(
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
                rows.row(
                    pos[k][cc],
                    np.ones(len(cc)),
                    float(need),
                    np.inf,
                    tag={
                        "type": "target",
                        "target": "minimum",
                        "kind": k,
                        "district": d,
                        "need": float(need),
                    },
                )
        if mode == "budget" and target_active(targets, "coverage"):
            for k in coverage_kinds:
                for urb, col, label in (
                    (True, "urban_cov", "urban"),
                    (False, "rural_cov", "rural"),
                ):
                    share = P.target(d, col)
                    if share is None:
                        continue
                    in_class = (P.district == d) & (P.urban == urb)
                    n_class = int(in_class.sum())
                    if n_class == 0:
                        continue  # no such communities: nothing to meet
                    need = ceil_count(share * n_class) - int((in_class & P.existing_served[k]).sum())
                    if need <= 0:
                        continue
                    gidx = [
                        g
                        for g, members in enumerate(group_rows.get(k, []))
                        if P.district[members[0]] == d and P.urban[members[0]] == urb
                    ]
                    coverable = sum(len(group_rows[k][g]) for g in gidx)
                    if coverable < need:
                        pre.targets.append(
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
                        rows.row(
                            y_start[k] + np.array(gidx),
                            np.array([len(group_rows[k][g]) for g in gidx], float),
                            float(need),
                            np.inf,
                            tag={
                                "type": "target",
                                "target": col,
                                "kind": k,
                                "district": d,
                                "need": float(need),
                            },
                        )

    budget_row = None
    if mode == "budget":
        budget_row = rows.row(
            np.arange(nv),
            cost[:nv],
            -np.inf,
            float(budget if budget is not None else np.inf),
            tag={"type": "budget"},
        )

    A = rows.matrix(n_total)
    if mode == "cover_all":
        c = cost
        maximize = False
        eps = 0.0
        offset = 0.0
    else:
        wpos = np.concatenate([y_weight[k] for k in KINDS]) if extra_vars else np.zeros(0)
        positive = wpos[wpos > 0]
        wmin = float(positive.min()) if len(positive) else 1.0
        scale = cost_scale if cost_scale else (budget if budget else 1.0)
        eps = 1e-6 * wmin / max(float(scale), 1.0)
        c = -eps * cost
        for k in KINDS:
            c[y_start[k] : y_start[k] + len(y_weight[k])] = y_weight[k]
        maximize = True
        offset = float(sum(P.weight[k][P.existing_served[k]].sum() for k in KINDS))
    milp = _milp.MilpModel(
        c=c,
        A=A,
        row_lower=np.concatenate(rows.lo) if rows.lo else np.zeros(0),
        row_upper=np.concatenate(rows.hi) if rows.hi else np.zeros(0),
        col_lower=lower,
        col_upper=upper,
        integrality=integ,
        maximize=maximize,
        offset=offset,
    )
    red.rows, red.cols, red.nnz = milp.n_rows, milp.n_cols, milp.nnz
    red.seconds = time.perf_counter() - t0
    var["y_start"] = np.array([y_start.get(k, -1) for k in KINDS])
    return _Model(
        milp=milp,
        var=var,
        start=start,
        y_groups=y_groups,
        budget_row=budget_row,
        tags=rows.tags,
        reduction=red,
        precheck=pre,
        cost=cost,
        eps=eps,
    )


def _decode(M: _Model, x: np.ndarray) -> dict[str, np.ndarray]:
    return {
        k: M.var[k][x[M.start[k] : M.start[k] + len(M.var[k])] > 0.5].astype(np.int64)
        for k in HOST_KINDS
    }
