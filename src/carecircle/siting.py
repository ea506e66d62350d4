"""The two-type siting model: elderly care and childcare at once, with district targets.

No off-the-shelf location model does this: spopt's LSCP/MCLP take one facility type
and a count of sites.  Here each candidate site may host the kinds it allows
(``elderly`` community station, ``childcare``, ``street_centre`` comprehensive
elderly centre), a building big enough may host elderly care *and* childcare at a
shared cost, existing facilities count and cost nothing, and each district's plan
targets are constraints.

Formulation (binary unless stated)
----------------------------------
``x[k, j]``  candidate ``j`` opens as kind ``k`` (only where it can host ``k``, is not
excluded and has a finite cost).
``z[j]``     ``j`` hosts elderly care and childcare in one building; the cost is
``cost_e x_e + cost_c x_c + (cost_shared - cost_e - cost_c) z`` with ``z <= x_e``,
``z <= x_c`` (and ``z >= x_e + x_c - 1`` when sharing would cost *more*).  Where
sharing is not allowed (``cost_shared`` NaN/inf, e.g. floor area < 500 m2) a site
hosts at most one kind.
``h[t]``     street ``t`` (without a centre today) gets a street centre:
``h[t] <= sum x[street_centre, j in t]``.
``y[k, i]``  (continuous in [0, 1], budget mode) community ``i`` is served for kind ``k``.

Decisions stated here once:

* **A street centre also serves elderly care**: opening ``street_centre`` at ``j``
  covers the communities in ``cover['street_centre']`` (default: the elderly
  reach) for the elderly kind.  A site hosts at most one of ``elderly`` and
  ``street_centre``.  Where sharing is allowed a street centre may share the
  building with childcare, at the sum of the two costs (no discount assumed).
* ``mode="cover_all"``: every community not served today must get both kinds
  within reach, at least total cost.  ``mode="budget"``: maximise residents served
  (sum over both kinds of the kind's weight, e.g. 60+ for elderly, 0-3 for
  childcare) with total cost <= budget; ties are broken towards lower cost by a
  penalty of 1e-6 x the smallest positive weight for the whole budget, far below
  any real difference in residents.
* District targets (each switchable): urban/rural community coverage for the kinds
  in ``coverage_kinds`` (default elderly; served communities >=
  ``ceil(share x n)``, skipped where a district has no such communities; implied
  in cover_all), streets with a centre >= ``ceil(share x n_streets)``, childcare
  places ``existing + sum places_new x_c >= per_1000 x population / 1000``, and
  minimum counts per kind (``min_new_<kind>`` new ones, ``min_total_<kind>``
  including ``existing_<kind>``).  New sites are counted in the district of the
  candidate.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import _milp
from ._reduce import _dominated_rows, _row_groups_duplicate, as_binary_csr
from .errors import InfeasibleError, InputError, Problem

KINDS = ("elderly", "childcare")
HOST_KINDS = ("elderly", "childcare", "street_centre")
TARGETS = ("coverage", "street_centre", "places", "minimum")
TARGET_COLUMNS = (
    "urban_cov",
    "rural_cov",
    "street_centre_share",
    "n_streets",
    "places_per_1000",
    "population",
    "existing_places",
    *(f"{p}_{k}" for p in ("min_new", "min_total", "existing") for k in HOST_KINDS),
)

# Bilingual headers for the result tables (the report module may use them).
COLUMN_LABELS = {
    "candidate_id": "候选场地 Candidate",
    "district": "区县 District",
    "street": "街道 Street",
    "kinds": "建设类型 Kinds",
    "cost": "费用 Cost (yuan)",
    "shared": "合建 Shared building",
    "communities_newly_served": "新覆盖社区 Communities newly served",
    "residents_newly_served": "新覆盖人口 Residents newly served",
    "elderly_residents_newly_served": "新覆盖老年人 60+ newly served",
    "childcare_residents_newly_served": "新覆盖婴幼儿 0-3 newly served",
    "places_new": "新增托位 New childcare places",
}


def _err(message: str, **kw) -> InputError:
    return InputError(Problem("error", "siting problem", message, **kw))


def _ceil(x: float) -> int:
    # ceil(0.9 * 10) must be 9, not 10 (0.9 * 10 = 9.000000000000002).
    return int(math.ceil(x - 1e-9))


@dataclass
class SitingProblem:
    """A two-type siting instance over plain arrays (communities x candidates).

    Parameters
    ----------
    community_ids, district, urban
        Per community: id, district label, urban (True) or rural (False).
    weight
        ``{"elderly": 60+ residents, "childcare": 0-3 residents}`` per community.
    cover
        ``{"elderly": csr, "childcare": csr[, "street_centre": csr]}``, communities x
        candidates; nonzero where the candidate, if opened as that kind, is within
        reach.  ``street_centre`` defaults to the elderly reach.
    candidate_ids, candidate_district
        Per candidate: id and district label.
    can_host
        ``{kind: bool per candidate}`` for ``elderly``, ``childcare``,
        ``street_centre`` (missing kinds: none).
    cost
        ``{kind: cost per candidate}`` if it hosts only that kind.
    existing_served
        ``{kind: bool per community}``: served today by an existing facility.
    cost_shared
        Cost if the candidate hosts elderly care and childcare in one building;
        NaN or inf where not allowed.  ``None``: never allowed.
    places_new
        Childcare places a new childcare facility there adds.
    population
        Residents per community (for places per 1,000 when the targets table
        has no ``population``).
    street, candidate_street
        Street/town labels (unique codes) per community and candidate.
    streets_with_centre
        Street labels that already have a comprehensive centre.
    district_targets
        DataFrame indexed by district label with any of :data:`TARGET_COLUMNS`
        (NaN = no such target); see :func:`make_district_targets`.
    required
        Candidates forced in: an index array (open as *some* kind) or
        ``{kind: indices}``.  Ids are accepted as well as indices.
    excluded
        Candidates forced out (indices or ids).
    """

    community_ids: np.ndarray
    district: np.ndarray
    urban: np.ndarray
    weight: dict[str, np.ndarray]
    cover: dict[str, sp.csr_matrix]
    candidate_ids: np.ndarray
    candidate_district: np.ndarray
    can_host: dict[str, np.ndarray]
    cost: dict[str, np.ndarray]
    existing_served: dict[str, np.ndarray] | None = None
    cost_shared: np.ndarray | None = None
    places_new: np.ndarray | None = None
    population: np.ndarray | None = None
    street: np.ndarray | None = None
    candidate_street: np.ndarray | None = None
    streets_with_centre: np.ndarray | None = None
    district_targets: pd.DataFrame | None = None
    required: np.ndarray | dict | None = None
    excluded: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.community_ids = np.asarray(self.community_ids)
        n = len(self.community_ids)
        self.candidate_ids = np.asarray(self.candidate_ids)
        J = len(self.candidate_ids)
        self.district = self._vec(self.district, n, "district")
        self.urban = self._vec(self.urban, n, "urban").astype(bool)
        self.candidate_district = self._vec(self.candidate_district, J, "candidate_district")
        self.weight = {k: self._nonneg(self.weight.get(k), n, f"weight[{k}]") for k in KINDS}
        es = self.existing_served or {}
        self.existing_served = {
            k: (
                np.zeros(n, bool)
                if es.get(k) is None
                else self._vec(es[k], n, f"existing_served[{k}]").astype(bool)
            )
            for k in KINDS
        }
        cov = {}
        for k in HOST_KINDS:
            M = self.cover.get(k)
            if M is None:
                if k == "street_centre":
                    cov[k] = None
                    continue
                raise _err(
                    f"cover[{k!r}] is missing",
                    column="cover",
                    expected="communities x candidates matrix",
                )
            M = as_binary_csr(M)
            if M.shape != (n, J):
                raise _err(
                    f"cover[{k!r}] has the wrong shape",
                    column="cover",
                    found=str(M.shape),
                    expected=f"({n}, {J}) communities x candidates",
                )
            cov[k] = M
        if cov["street_centre"] is None:
            cov["street_centre"] = cov["elderly"]
        self.cover = cov
        self.can_host = {
            k: (
                np.zeros(J, bool)
                if self.can_host.get(k) is None
                else self._vec(self.can_host[k], J, f"can_host[{k}]").astype(bool)
            )
            for k in HOST_KINDS
        }
        costs = {}
        for k in HOST_KINDS:
            c = self.cost.get(k)
            c = np.full(J, np.nan) if c is None else self._vec(c, J, f"cost[{k}]").astype(float)
            bad = self.can_host[k] & (~np.isfinite(c) | (c < 0))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise _err(
                    f"cost[{k!r}] must be finite and >= 0 where the candidate can host {k}",
                    column=f"cost[{k}]",
                    row=i,
                    feature_id=str(self.candidate_ids[i]),
                    found=repr(c[i]),
                    expected="a number >= 0",
                )
            costs[k] = c
        self.cost = costs
        if self.cost_shared is None:
            self.cost_shared = np.full(J, np.nan)
        self.cost_shared = self._vec(self.cost_shared, J, "cost_shared").astype(float)
        if np.any(np.isfinite(self.cost_shared) & (self.cost_shared < 0)):
            raise _err("cost_shared must be >= 0 (NaN/inf = not allowed)", column="cost_shared")
        self.places_new = (
            np.zeros(J)
            if self.places_new is None
            else self._nonneg(self.places_new, J, "places_new")
        )
        if self.population is not None:
            self.population = self._nonneg(self.population, n, "population")
        if self.street is not None:
            self.street = self._vec(self.street, n, "street")
        if self.candidate_street is not None:
            self.candidate_street = self._vec(self.candidate_street, J, "candidate_street")
        self.streets_with_centre = (
            np.zeros(0, dtype=object)
            if self.streets_with_centre is None
            else np.asarray(self.streets_with_centre)
        )
        if self.district_targets is not None:
            dt = pd.DataFrame(self.district_targets)
            unknown = [c for c in dt.columns if c not in TARGET_COLUMNS]
            if unknown:
                raise _err(
                    "district_targets has unknown columns",
                    column=", ".join(map(str, unknown)),
                    expected=", ".join(TARGET_COLUMNS),
                )
            self.district_targets = dt
        self.excluded = self.index_of(self.excluded)
        if isinstance(self.required, dict):
            req = {}
            for k, v in self.required.items():
                if k not in HOST_KINDS:
                    raise _err(
                        f"required has an unknown kind {k!r}", expected=", ".join(HOST_KINDS)
                    )
                req[k] = self.index_of(v)
            self.required = req
        else:
            self.required = self.index_of(self.required)

    @staticmethod
    def _vec(v, n: int, name: str) -> np.ndarray:
        a = np.asarray(v)
        if a.ndim != 1 or a.shape[0] != n:
            raise _err(
                f"{name} has the wrong length", column=name, found=str(a.shape), expected=str(n)
            )
        return a

    def _nonneg(self, v, n: int, name: str) -> np.ndarray:
        if v is None:
            raise _err(f"{name} is missing", column=name)
        a = self._vec(v, n, name).astype(float)
        bad = ~np.isfinite(a) | (a < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise _err(f"{name} must be finite and >= 0", column=name, row=i, found=repr(a[i]))
        return a

    @property
    def n_communities(self) -> int:
        return len(self.community_ids)

    @property
    def n_candidates(self) -> int:
        return len(self.candidate_ids)

    def index_of(self, sel) -> np.ndarray:
        """Candidate indices from indices, ids or a boolean mask (sorted, unique)."""
        J = self.n_candidates
        if sel is None:
            return np.zeros(0, dtype=np.int64)
        a = np.asarray(sel)
        if a.size == 0:
            return np.zeros(0, dtype=np.int64)
        if a.dtype == bool:
            return np.flatnonzero(self._vec(a, J, "selection"))
        if np.issubdtype(a.dtype, np.integer):
            if a.min() < 0 or a.max() >= J:
                raise _err(
                    "candidate index out of range", found=str(a.tolist()), expected=f"0..{J - 1}"
                )
            return np.unique(a.astype(np.int64))
        pos = pd.Index(self.candidate_ids.astype(str))
        idx = pos.get_indexer(a.astype(str))
        if (idx < 0).any():
            missing = a[idx < 0].tolist()
            raise _err("unknown candidate id(s)", column="id", found=str(missing[:10]))
        return np.unique(idx.astype(np.int64))

    def with_changes(self, **changes) -> SitingProblem:
        """A copy with some fields replaced (inputs are already validated)."""
        data = {f: getattr(self, f) for f in self.__dataclass_fields__}
        data.update(changes)
        return SitingProblem(**data)


def make_district_targets(
    problem: SitingProblem,
    *,
    urban_cov: float | None = 0.9,
    rural_cov: float | None = 0.8,
    street_centre_share: float | None = 0.7,
    places_per_1000: float | None = 4.8,
    existing_places: dict | pd.Series | None = None,
    min_total: dict[str, int] | None = None,
    existing_counts: dict[str, dict | pd.Series] | None = None,
    n_streets: dict | pd.Series | None = None,
) -> pd.DataFrame:
    """The plan's targets for every district of *problem* (the defaults are the plan's).

    ``population`` comes from ``problem.population`` summed per district (places
    per 1,000 is left out when it is unknown); ``n_streets`` from the distinct
    street labels of the district's communities and candidates unless given.
    ``min_total`` e.g. ``{"childcare": 1}`` (one public childcare per district) with
    ``existing_counts={"childcare": {district: count}}``.
    """
    districts = pd.unique(np.concatenate([problem.district, problem.candidate_district]))
    df = pd.DataFrame(index=pd.Index(districts, name="district"))
    if urban_cov is not None:
        df["urban_cov"] = float(urban_cov)
    if rural_cov is not None:
        df["rural_cov"] = float(rural_cov)
    if street_centre_share is not None and problem.street is not None:
        df["street_centre_share"] = float(street_centre_share)
        if n_streets is not None:
            df["n_streets"] = pd.Series(n_streets).reindex(df.index).astype(float)
        else:
            keys = set(zip(problem.district, problem.street, strict=True))
            if problem.candidate_street is not None:
                keys |= set(zip(problem.candidate_district, problem.candidate_street, strict=True))
            counts = pd.Series([d for d, s in keys if s is not None and s == s]).value_counts()
            df["n_streets"] = counts.reindex(df.index).fillna(0).astype(float)
    if places_per_1000 is not None and problem.population is not None:
        df["places_per_1000"] = float(places_per_1000)
        pop = pd.Series(problem.population).groupby(problem.district).sum()
        df["population"] = pop.reindex(df.index).fillna(0.0)
        ep = pd.Series(existing_places if existing_places is not None else {}, dtype=float)
        df["existing_places"] = ep.reindex(df.index).fillna(0.0)
    for kind, count in (min_total or {}).items():
        df[f"min_total_{kind}"] = float(count)
        ex = pd.Series((existing_counts or {}).get(kind, {}), dtype=float)
        df[f"existing_{kind}"] = ex.reindex(df.index).fillna(0.0)
    return df


@dataclass
class SitingReduction:
    """Model size before/after presolve, and what was removed."""

    naive_rows: int = 0
    naive_cols: int = 0
    naive_nnz: int = 0
    rows: int = 0
    cols: int = 0
    nnz: int = 0
    communities_served_today: dict = field(default_factory=dict)
    communities_uncoverable: dict = field(default_factory=dict)
    rows_covered_by_required: dict = field(default_factory=dict)
    rows_duplicate: dict = field(default_factory=dict)
    rows_dominated: dict = field(default_factory=dict)
    columns_not_allowed: dict = field(default_factory=dict)
    columns_unused: dict = field(default_factory=dict)
    columns_over_budget: dict = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"model rows {self.naive_rows} -> {self.rows}, columns {self.naive_cols} -> {self.cols}, "
            f"nonzeros {self.naive_nnz} -> {self.nnz}; served today {self.communities_served_today}, "
            f"duplicate rows {self.rows_duplicate}, dominated rows {self.rows_dominated}, "
            f"covered by required {self.rows_covered_by_required}, "
            f"columns not allowed {self.columns_not_allowed}, unused {self.columns_unused}, "
            f"over budget {self.columns_over_budget}"
        )


@dataclass
class TargetIssue:
    """A district target that cannot be met, and the most that can be."""

    district: object
    target: str
    kind: str
    needed: float
    achievable: float
    message: str


@dataclass
class Explanation:
    """Why a siting problem has no solution (never just "infeasible")."""

    uncoverable: dict[str, np.ndarray] = field(default_factory=dict)
    targets: list[TargetIssue] = field(default_factory=list)
    min_budget: float | None = None
    budget: float | None = None
    unmet_coverage: dict[str, np.ndarray] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(self.messages)


@dataclass
class SitingResult:
    """A siting plan (or why there is none).

    Attributes
    ----------
    status
        ``"optimal"`` (within ``mip_gap``), ``"time_limit"`` or ``"infeasible"``.
    mode
        ``"cover_all"`` or ``"budget"``.
    objective
        Total cost (cover_all) or residents served for both kinds (budget),
        recomputed from the plan.
    bound, gap
        Best proven bound on the objective and the relative gap.
    total_cost
        Cost of the plan.
    opened
        ``{kind: candidate indices}`` for elderly, childcare, street_centre.
    sites
        One row per opened candidate: ``candidate``, ``candidate_id``,
        ``district``, ``street``, ``kinds``, ``shared``, ``cost``, ``places_new``,
        ``communities_newly_served``, ``elderly_residents_newly_served``,
        ``childcare_residents_newly_served``, ``residents_newly_served``.
    served
        Per community (index = community id): ``<kind>_before`` / ``<kind>_after``.
    districts
        Per district: coverage before/after, streets with a centre, places per
        1,000, new sites per kind, cost.
    reduction
        :class:`SitingReduction`.
    explanation
        :class:`Explanation` when infeasible.
    """

    status: str
    mode: str
    objective: float
    bound: float
    gap: float
    total_cost: float
    opened: dict[str, np.ndarray]
    sites: pd.DataFrame
    served: pd.DataFrame
    districts: pd.DataFrame
    reduction: SitingReduction
    explanation: Explanation | None = None
    message: str = ""
    has_solution: bool = True
    seconds: float = 0.0
    budget: float | None = None

    def raise_if_infeasible(self) -> None:
        """Raise :class:`~carecircle.errors.InfeasibleError` with the explanation."""
        if self.status == "infeasible":
            raise InfeasibleError(str(self.explanation) if self.explanation else self.message)


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


def _districts(P: SitingProblem) -> np.ndarray:
    """Every district: of communities, of candidates and of the targets table.

    A target for a district with no candidate is still a target (and unmeetable).
    """
    parts = [P.district, P.candidate_district]
    if P.district_targets is not None:
        parts.append(np.asarray(P.district_targets.index, dtype=object))
    return pd.unique(np.concatenate([np.asarray(p, dtype=object) for p in parts]))


def _active(targets, name: str) -> bool:
    return targets is None or name in targets


def _target_value(dt: pd.DataFrame | None, d, col: str) -> float | None:
    if dt is None or col not in dt.columns or d not in dt.index:
        return None
    v = dt.at[d, col]
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def role_required(P: SitingProblem, kind: str, J: int) -> np.ndarray:
    """Mask of candidates required as *kind* (or as any kind)."""
    m = np.zeros(J, bool)
    if isinstance(P.required, dict):
        if kind in P.required:
            m[P.required[kind]] = True
    else:
        m[P.required] = True
    return m


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

    dt = P.district_targets
    districts = _districts(P)

    # Over-budget columns (a kind alone, or shared, dearer than the whole budget).
    if mode == "budget" and budget is not None:
        for k in HOST_KINDS:
            dear = allowed[k] & (P.cost[k] > budget * (1 + 1e-12) + 1e-9)
            # Required sites stay: the solver must see (and explain) a budget they break.
            dear &= ~role_required(P, k, J)
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
        if _active(targets, "places"):
            per = _target_value(dt, d, "places_per_1000")
            if per is not None:
                pop = _target_value(dt, d, "population")
                if pop is None and P.population is not None:
                    pop = float(P.population[P.district == d].sum())
                if pop is not None:
                    need = per * pop / 1000.0 - (_target_value(dt, d, "existing_places") or 0.0)
                    if need > 1e-9:
                        places_need[d] = need
                        role["childcare"] |= in_d & (P.places_new > 0)
        if _active(targets, "minimum"):
            for k in HOST_KINDS:
                mn = _target_value(dt, d, f"min_new_{k}") or 0.0
                mt = _target_value(dt, d, f"min_total_{k}")
                ex = _target_value(dt, d, f"existing_{k}") or 0.0
                need = max(mn, (mt - ex) if mt is not None else 0.0)
                if need > 0:
                    min_need[(d, k)] = _ceil(need)
                    role[k] |= in_d
        if _active(targets, "street_centre") and P.street is not None:
            share = _target_value(dt, d, "street_centre_share")
            if share is not None and share > 0:
                ns = _target_value(dt, d, "n_streets")
                if ns is None:
                    keys = {s for s in P.street[P.district == d]}
                    if P.candidate_street is not None:
                        keys |= set(P.candidate_street[in_d])
                    ns = float(len(keys))
                has = set(P.streets_with_centre.tolist())
                st_d = set(P.street[P.district == d]) | (
                    set(P.candidate_street[in_d]) if P.candidate_street is not None else set()
                )
                existing = len(st_d & has)
                need = _ceil(share * ns) - existing
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
        if mode == "budget" and _active(targets, "coverage"):
            for k in coverage_kinds:
                for urb, col, label in (
                    (True, "urban_cov", "urban"),
                    (False, "rural_cov", "rural"),
                ):
                    share = _target_value(dt, d, col)
                    if share is None:
                        continue
                    in_class = (P.district == d) & (P.urban == urb)
                    n_class = int(in_class.sum())
                    if n_class == 0:
                        continue  # no such communities: nothing to meet
                    need = _ceil(share * n_class) - int((in_class & P.existing_served[k]).sum())
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


# --------------------------------------------------------------------------- solve


def _served(P: SitingProblem, opened: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Who is served after opening *opened*, recomputed from the reach matrices."""
    out = {}
    for k in KINDS:
        s = P.existing_served[k].copy()
        hosts = ("elderly", "street_centre") if k == "elderly" else ("childcare",)
        for kk in hosts:
            idx = opened.get(kk, np.zeros(0, np.int64))
            if len(idx):
                M = P.cover[kk] if kk != "childcare" else P.cover["childcare"]
                s |= np.asarray(M[:, idx].sum(axis=1)).ravel() > 0
        out[k] = s
    return out


def plan_cost(P: SitingProblem, opened: dict[str, np.ndarray]) -> np.ndarray:
    """Cost per candidate of a plan (shared-building cost where a site hosts both kinds)."""
    J = P.n_candidates
    host = {k: np.zeros(J, bool) for k in HOST_KINDS}
    for k, idx in opened.items():
        host[k][idx] = True
    cost = np.zeros(J)
    for k in HOST_KINDS:
        cost[host[k]] += P.cost[k][host[k]]
    both = host["elderly"] & host["childcare"] & np.isfinite(P.cost_shared)
    cost[both] += P.cost_shared[both] - P.cost["elderly"][both] - P.cost["childcare"][both]
    return cost


def _sites_table(P, opened, before) -> pd.DataFrame:
    J = P.n_candidates
    host = {k: np.zeros(J, bool) for k in HOST_KINDS}
    for k, idx in opened.items():
        host[k][idx] = True
    any_open = np.flatnonzero(host["elderly"] | host["childcare"] | host["street_centre"])
    cost = plan_cost(P, opened)
    recs = []
    for j in any_open:
        kinds = [k for k in HOST_KINDS if host[k][j]]
        new_e = np.zeros(P.n_communities, bool)
        for kk in ("elderly", "street_centre"):
            if host[kk][j]:
                new_e |= (P.cover[kk][:, j].toarray().ravel() > 0) & ~before["elderly"]
        new_c = np.zeros(P.n_communities, bool)
        if host["childcare"][j]:
            new_c = (P.cover["childcare"][:, j].toarray().ravel() > 0) & ~before["childcare"]
        we = float(P.weight["elderly"][new_e].sum())
        wc = float(P.weight["childcare"][new_c].sum())
        recs.append(
            {
                "candidate": int(j),
                "candidate_id": P.candidate_ids[j],
                "district": P.candidate_district[j],
                "street": None if P.candidate_street is None else P.candidate_street[j],
                "kinds": ";".join(kinds),
                "shared": bool(
                    host["elderly"][j] and host["childcare"][j] and np.isfinite(P.cost_shared[j])
                ),
                "cost": float(cost[j]),
                "places_new": float(P.places_new[j]) if host["childcare"][j] else 0.0,
                "communities_newly_served": int((new_e | new_c).sum()),
                "elderly_residents_newly_served": we,
                "childcare_residents_newly_served": wc,
                "residents_newly_served": we + wc,
            }
        )
    cols = [
        "candidate",
        "candidate_id",
        "district",
        "street",
        "kinds",
        "shared",
        "cost",
        "places_new",
        "communities_newly_served",
        "elderly_residents_newly_served",
        "childcare_residents_newly_served",
        "residents_newly_served",
    ]
    return pd.DataFrame.from_records(recs, columns=cols)


def _district_table(P, opened, before, after) -> pd.DataFrame:
    """Per district: coverage before/after, street centres, places per 1,000, new sites, cost."""
    districts = _districts(P)
    dt = P.district_targets
    cost = plan_cost(P, opened)
    has = set(P.streets_with_centre.tolist())
    recs = []
    for d in districts:
        in_d = P.district == d
        cand_d = P.candidate_district == d
        r = {
            "district": d,
            "communities": int(in_d.sum()),
            "urban": int((in_d & P.urban).sum()),
            "rural": int((in_d & ~P.urban).sum()),
        }
        for k in KINDS:
            for label, cls in (("urban", P.urban), ("rural", ~P.urban)):
                sel = in_d & cls
                nsel = int(sel.sum())
                for when, s in (("before", before), ("after", after)):
                    r[f"{k}_{label}_{when}"] = float(s[k][sel].mean()) if nsel else math.nan
        if P.street is not None:
            ns = _target_value(dt, d, "n_streets")
            st = set(P.street[in_d])
            if P.candidate_street is not None:
                st |= set(P.candidate_street[cand_d])
            r["streets"] = int(ns) if ns is not None else len(st)
            r["streets_with_centre_before"] = len(st & has)
            new = set()
            if P.candidate_street is not None:
                js = opened.get("street_centre", np.zeros(0, np.int64))
                new = {P.candidate_street[j] for j in js if P.candidate_district[j] == d}
            r["streets_with_centre_after"] = len((st & has) | new)
        pop = _target_value(dt, d, "population")
        if pop is None and P.population is not None:
            pop = float(P.population[in_d].sum())
        if pop:
            ex = _target_value(dt, d, "existing_places") or 0.0
            jc = opened.get("childcare", np.zeros(0, np.int64))
            added = float(P.places_new[jc][P.candidate_district[jc] == d].sum())
            r["places_per_1000_before"] = 1000.0 * ex / pop
            r["places_per_1000_after"] = 1000.0 * (ex + added) / pop
        for k in HOST_KINDS:
            js = opened.get(k, np.zeros(0, np.int64))
            r[f"new_{k}"] = int((P.candidate_district[js] == d).sum())
        r["cost"] = float(cost[cand_d].sum())
        recs.append(r)
    return pd.DataFrame.from_records(recs)


def _decode(M: _Model, x: np.ndarray) -> dict[str, np.ndarray]:
    return {
        k: M.var[k][x[M.start[k] : M.start[k] + len(M.var[k])] > 0.5].astype(np.int64)
        for k in HOST_KINDS
    }


def _empty_result(
    P, mode, budget, red, status, message, explanation=None, seconds=0.0
) -> SitingResult:
    before = {k: P.existing_served[k] for k in KINDS}
    opened = {k: np.zeros(0, np.int64) for k in HOST_KINDS}
    served = pd.DataFrame(
        {f"{k}_{w}": before[k] for k in KINDS for w in ("before", "after")},
        index=pd.Index(P.community_ids, name="community_id"),
    )
    for k in KINDS:
        served[f"{k}_after"] = False if status == "infeasible" else before[k]
    return SitingResult(
        status=status,
        mode=mode,
        objective=math.nan,
        bound=math.nan,
        gap=math.inf,
        total_cost=math.nan,
        opened=opened,
        sites=_sites_table(P, opened, before),
        served=served,
        districts=_district_table(P, opened, before, before),
        reduction=red,
        explanation=explanation,
        message=message,
        has_solution=False,
        seconds=seconds,
        budget=budget,
    )


def _infeasible(P, mode, budget, red, ex: Explanation, seconds: float) -> SitingResult:
    """The result of a problem with no plan, its explanation's messages as the message."""
    return _empty_result(
        P, mode, budget, red, "infeasible", "infeasible 不可行: " + "; ".join(ex.messages), ex, seconds
    )


def _uncoverable_messages(P: SitingProblem, unc: dict[str, np.ndarray]) -> list[str]:
    out = []
    for k, idx in unc.items():
        ids = P.community_ids[idx]
        shown = ids[:20].tolist()
        more = "" if len(ids) <= 20 else f" (+{len(ids) - 20} more)"
        out.append(
            f"{len(ids)} communit(ies) have no candidate that can host {k} within reach "
            f"{len(ids)} 个社区步行范围内没有可建 {k} 的候选场地: {shown}{more}"
        )
    return out


def _elastic(M: _Model, time_limit) -> tuple[_milp.MilpSolution, list]:
    """Minimise the total shortfall of the soft rows (coverage rows and targets)."""
    soft = []  # (row indices, tag)
    for start, stop, tag in M.tags:
        if tag.get("type") in ("cover", "target"):
            soft.append((np.arange(start, stop), tag))
    rows = np.concatenate([r for r, _ in soft]) if soft else np.zeros(0, np.int64)
    ns = len(rows)
    m = M.milp
    S = sp.csr_matrix((np.ones(ns), (rows, np.arange(ns))), shape=(m.n_rows, ns))
    weights = (
        np.concatenate(
            [np.full(len(r), 1.0 / max(float(t.get("need", 1.0)), 1.0)) for r, t in soft]
        )
        if soft
        else np.zeros(0)
    )
    el = _milp.MilpModel(
        c=np.concatenate([np.zeros(m.n_cols), weights]),
        A=sp.hstack([m.A, S], format="csr"),
        row_lower=m.row_lower,
        row_upper=m.row_upper,
        col_lower=np.concatenate([m.col_lower, np.zeros(ns)]),
        col_upper=np.concatenate([m.col_upper, np.full(ns, np.inf)]),
        integrality=np.concatenate([m.integrality, np.zeros(ns, bool)]),
    )
    sol = _milp.solve(el, time_limit=time_limit)
    out = []
    if sol.x is not None:
        slack = sol.x[m.n_cols :]
        at = 0
        for r, tag in soft:
            out.append((tag, r, slack[at : at + len(r)]))
            at += len(r)
    return sol, out


def _least_cost_model(M: _Model) -> _milp.MilpModel:
    """The budget model's rows with its budget row lifted, total cost minimised.

    Its optimum is the least that meets the district targets: the budget they need.
    """
    mm = M.milp
    hi = mm.row_upper.copy()
    if M.budget_row is not None:
        hi[M.budget_row] = np.inf
    return replace(mm, c=M.cost, row_upper=hi, maximize=False, offset=0.0)


def _least_cost_start(
    M: _Model, budget: float, time_limit: float, mip_gap: float | None = 1e-4
) -> tuple[np.ndarray | None, _milp.MilpSolution]:
    """A plan for the budget model: the cheapest that meets the targets, if affordable.

    Budget mode with district targets is hard for HiGHS's heuristics: at city
    scale it may reach the time limit with no plan at all, even when a plan is
    known to fit the budget.  Minimising cost subject to the same rows (without
    the budget row) is a covering problem like ``cover_all``, where HiGHS finds
    plans quickly.  If the plan found fits the budget, its site decisions are
    fixed and the served shares (continuous) re-solved to their maximum, which
    gives a feasible point of the budget model: the fallback plan of
    :func:`carecircle._milp.run`, returned only when HiGHS finds nothing better.

    Returns the start (``None`` when no plan was found or it is over budget)
    and the least-cost solve itself, whose bound may prove the budget too small.
    """
    mm = M.milp
    sol = _milp.solve(_least_cost_model(M), time_limit=time_limit, mip_gap=mip_gap)
    if sol.x is None or float(M.cost @ sol.x) > budget * (1 + 1e-12) + 1e-9:
        return None, sol
    integ = np.asarray(mm.integrality, dtype=bool)
    lo, up = mm.col_lower.copy(), mm.col_upper.copy()
    lo[integ] = up[integ] = np.round(sol.x[integ])
    fixed = replace(mm, col_lower=lo, col_upper=up, integrality=np.zeros_like(integ))
    done = _milp.solve(fixed, time_limit=time_limit)
    if done.x is None:  # pragma: no cover - the least-cost plan satisfies every row
        return None, sol
    x = done.x.copy()
    x[integ] = np.round(x[integ])
    return x, sol


def _spend_rest(
    P: SitingProblem, M: _Model, x: np.ndarray, budget: float, time_limit: float | None
) -> np.ndarray:
    """Spend what the least-cost plan leaves of the budget, greedily.

    Adds one site at a time, the one serving the most residents not yet served
    per yuan of added cost (a shared building's discount counted), while it fits
    the budget and serves someone; a site hosts at most one of elderly care and a
    street centre, and two kinds only where a shared building is allowed.  The
    sites are then fixed and the model's other variables solved, which checks the
    plan against every row; if that fails *x* is returned unchanged.
    """
    J = P.n_candidates
    allowed = {k: np.zeros(J, bool) for k in HOST_KINDS}
    host = {k: np.zeros(J, bool) for k in HOST_KINDS}
    opened = _decode(M, x)
    for k in HOST_KINDS:
        allowed[k][M.var[k]] = True
        host[k][opened[k]] = True
    served = _served(P, opened)
    left = float(budget) - float(plan_cost(P, opened).sum())
    can_share = np.isfinite(P.cost_shared)
    serves = {"elderly": "elderly", "street_centre": "elderly", "childcare": "childcare"}
    cover = {k: P.cover[k].tocsc() for k in HOST_KINDS}
    while True:
        best, pick = 0.0, None
        for k in HOST_KINDS:
            kind = serves[k]
            gain = cover[k].T @ np.where(served[kind], 0.0, P.weight[kind])
            other = host["childcare"] if k != "childcare" else host["elderly"] | host["street_centre"]
            ok = allowed[k] & ~host[k] & (gain > 0) & (~other | can_share)
            if k in ("elderly", "street_centre"):
                ok &= ~host["street_centre" if k == "elderly" else "elderly"]
            marginal = P.cost[k].copy()
            if k != "street_centre":  # a street centre shares at the sum of the costs
                partner = "childcare" if k == "elderly" else "elderly"
                disc = host[partner] & can_share
                marginal[disc] = P.cost_shared[disc] - P.cost[partner][disc]
            ok &= np.nan_to_num(marginal, nan=np.inf) <= left + 1e-9
            if not ok.any():
                continue
            ratio = np.where(ok, gain / np.maximum(np.nan_to_num(marginal), 1e-9), -1.0)
            j = int(np.argmax(ratio))
            if ratio[j] > best:
                best, pick = float(ratio[j]), (k, j, float(max(marginal[j], 0.0)))
        if pick is None:
            break
        k, j, m = pick
        host[k][j] = True
        left -= m
        rows = cover[k][:, j].indices
        served[serves[k]][rows] = True
    if all(np.array_equal(np.flatnonzero(host[k]), opened[k]) for k in HOST_KINDS):
        return x
    mm = M.milp
    lo, up = mm.col_lower.copy(), mm.col_upper.copy()
    for k in HOST_KINDS:
        cols = M.start[k] + np.arange(len(M.var[k]))
        lo[cols] = up[cols] = host[k][M.var[k]].astype(float)
    done = _milp.solve(replace(mm, col_lower=lo, col_upper=up), time_limit=time_limit)
    if done.x is None:
        return x
    return done.x


def _explain(
    P, M: _Model, mode, budget, targets, coverage_kinds, allow_uncoverable, time_limit
) -> Explanation:
    ex = Explanation(budget=budget)
    if mode == "budget":
        # Do the targets alone fit at all?  The least cost that meets them is the budget needed.
        Mt = _build(
            P,
            mode="budget",
            budget=None,
            targets=targets,
            coverage_kinds=coverage_kinds,
            allow_uncoverable=allow_uncoverable,
        )
        sol = _milp.solve(_least_cost_model(Mt), time_limit=time_limit)
        if sol.x is not None:
            x = sol.x
            need = float(plan_cost(P, _decode(Mt, x)).sum())
            exact = sol.status == "optimal"
            ex.min_budget = need
            ex.messages.append(
                f"the budget {budget:,.0f} is too small for the district targets: meeting them costs "
                f"{'at least ' if exact else 'about '}{need:,.0f}"
                f"{'' if exact else f' (best bound {sol.bound:,.0f})'} "
                f"预算 {budget:,.0f} 不足以达到区县目标, 最低需要 {need:,.0f}"
            )
            return ex
        M = Mt  # the targets conflict among themselves: explain on the model without budget
    sol, parts = _elastic(M, time_limit)
    for tag, _rows, slack in parts:
        short = slack > 1e-6
        if not short.any():
            continue
        if tag["type"] == "cover":
            comm = tag["communities"][short]
            ex.unmet_coverage[tag["kind"]] = P.community_ids[comm]
            ids = P.community_ids[comm][:20].tolist()
            ex.messages.append(
                f"{len(comm)} communit(ies) cannot get {tag['kind']} together with the other "
                f"constraints (e.g. the only site in reach cannot host both kinds in one building) "
                f"{len(comm)} 个社区在其他约束下无法获得{tag['kind']}服务: {ids}"
            )
        else:
            s = float(slack.sum())
            need = float(tag["need"])
            got = max(need - s, 0.0)
            issue = TargetIssue(
                tag["district"],
                tag["target"],
                tag["kind"],
                need,
                got,
                f"district {tag['district']}: target {tag['target']} ({tag['kind']}) needs {need:g}, "
                f"at most {got:g} together with the other constraints "
                f"区县 {tag['district']} 目标 {tag['target']} 需 {need:g}, 与其他约束同时最多 {got:g}",
            )
            ex.targets.append(issue)
            ex.messages.append(issue.message)
    if not ex.messages:
        ex.messages.append(
            "HiGHS proved the model infeasible but no single target or community explains it "
            "(check required/excluded sites) 模型不可行, 未找到单一原因"
        )
    return ex


def solve_siting(
    problem: SitingProblem,
    *,
    mode: str = "cover_all",
    budget: float | None = None,
    targets=None,
    coverage_kinds=("elderly",),
    allow_uncoverable: bool = False,
    time_limit: float | None = None,
    mip_gap: float | None = 1e-4,
    reduce: bool = True,
) -> SitingResult:
    """Site elderly-care and childcare facilities together.

    Parameters
    ----------
    problem
        The instance (:class:`SitingProblem`).
    mode
        ``"cover_all"``: every community gets both kinds within reach at least
        cost.  ``"budget"``: most residents served (both kinds) for *budget*.
    budget
        Total cost allowed (``mode="budget"``).
    targets
        District targets to enforce, a subset of ``("coverage", "street_centre",
        "places", "minimum")``; ``None`` = all that the targets table defines,
        ``()`` = none.
    coverage_kinds
        Kinds the urban/rural coverage targets apply to (the plan's are for
        elderly care).
    allow_uncoverable
        In cover_all, exempt communities that no candidate can reach (listed in
        ``reduction.communities_uncoverable``) instead of reporting infeasible.
    time_limit
        Seconds for HiGHS; at the limit the best plan found is returned with
        status ``"time_limit"``.  In budget mode with district targets a third
        of it goes first to a starting plan (see :func:`_least_cost_start` and
        :func:`_spend_rest`), returned if HiGHS finds nothing better.
    mip_gap
        Relative gap at which the plan counts as optimal (default 1e-4).
    reduce
        Presolve (drop communities served today, duplicate/dominated rows,
        unused candidates).

    Returns
    -------
    SitingResult
        With ``explanation`` when infeasible.
    """
    if mode not in ("cover_all", "budget"):
        raise _err("mode must be 'cover_all' or 'budget'", column="mode", found=repr(mode))
    if mode == "budget" and (budget is None or not math.isfinite(budget) or budget < 0):
        raise _err("mode='budget' needs a finite budget >= 0", column="budget", found=repr(budget))
    if targets is not None:
        bad = [t for t in targets if t not in TARGETS]
        if bad:
            raise _err(
                "unknown target switch",
                column="targets",
                found=str(bad),
                expected=", ".join(TARGETS),
            )
    t0 = time.perf_counter()
    M = _build(
        problem,
        mode=mode,
        budget=budget,
        targets=targets,
        coverage_kinds=coverage_kinds,
        allow_uncoverable=allow_uncoverable,
        reduce=reduce,
    )
    pre = M.precheck
    ex = Explanation(budget=budget)
    if mode == "cover_all" and pre.uncoverable and not allow_uncoverable:
        ex.uncoverable = pre.uncoverable
        ex.messages += _uncoverable_messages(problem, pre.uncoverable)
    ex.messages += pre.messages
    if pre.targets:
        ex.targets = list(pre.targets)
        ex.messages += [t.message for t in pre.targets]
    if ex.messages:
        return _infeasible(problem, mode, budget, M.reduction, ex, time.perf_counter() - t0)
    start = least = None
    limit_given = time_limit
    if (
        mode == "budget"
        and time_limit is not None
        and any(tag.get("type") == "target" for _a, _b, tag in M.tags)
    ):
        # A third of the time for a plan that surely exists if the targets fit.
        t1 = time.perf_counter()
        start, least = _least_cost_start(M, float(budget), time_limit / 3, mip_gap)
        if least.status != "infeasible" and least.bound > float(budget) * (1 + 1e-9) + 1e-6:
            # Proved: every plan meeting the targets costs more than the budget.
            ex = Explanation(budget=budget, min_budget=float(least.bound))
            found = (
                f" (the cheapest plan found costs {least.objective:,.0f})"
                if least.x is not None
                else ""
            )
            ex.messages.append(
                f"the budget {budget:,.0f} is too small for the district targets: meeting them "
                f"costs at least {least.bound:,.0f}{found} "
                f"预算 {budget:,.0f} 不足以达到区县目标, 最低需要 {least.bound:,.0f}"
            )
            return _infeasible(problem, mode, budget, M.reduction, ex, time.perf_counter() - t0)
        if start is not None:
            start = _spend_rest(problem, M, start, float(budget), time_limit / 6)
        time_limit = max(time_limit - (time.perf_counter() - t1), 1.0)
    if least is not None and least.status == "infeasible":
        sol = least  # the targets conflict whatever the budget: explained below
    else:
        sol = _milp.solve(M.milp, time_limit=time_limit, mip_gap=mip_gap, warm_start=start)
    from_start = start is not None and sol.x is not None and np.array_equal(sol.x, start)
    if sol.status == "infeasible":
        ex = _explain(
            problem, M, mode, budget, targets, coverage_kinds, allow_uncoverable, time_limit
        )
        return _infeasible(problem, mode, budget, M.reduction, ex, time.perf_counter() - t0)
    if sol.x is None:
        msg = f"no feasible plan found within the time limit ({limit_given} s) 时限内未找到可行方案"
        if least is not None and least.x is not None:
            msg += (
                f"; the cheapest plan found that meets the district targets costs "
                f"{least.objective:,.0f} (at least {least.bound:,.0f}), more than the budget "
                f"{budget:,.0f} 满足区县目标的最低成本方案约需 {least.objective:,.0f}, 超出预算"
            )
        return _empty_result(
            problem,
            mode,
            budget,
            M.reduction,
            sol.status,
            msg,
            None,
            time.perf_counter() - t0,
        )
    opened = _decode(M, sol.x)
    before = {k: problem.existing_served[k].copy() for k in KINDS}
    after = _served(problem, opened)
    cost = float(plan_cost(problem, opened).sum())
    if mode == "cover_all":
        objective = cost
        bound = min(sol.bound, objective)
    else:
        objective = float(sum(problem.weight[k][after[k]].sum() for k in KINDS))
        bound = max(sol.bound + M.eps * float(budget), objective)
    gap = 0.0 if objective == bound else abs(objective - bound) / max(abs(objective), 1e-9)
    served = pd.DataFrame(
        {
            f"{k}_{w}": (before if w == "before" else after)[k]
            for k in KINDS
            for w in ("before", "after")
        },
        index=pd.Index(problem.community_ids, name="community_id"),
    )
    what = "cost" if mode == "cover_all" else "residents served"
    msg = (
        f"{sol.status}: {what} {objective:,.0f}, {sum(len(v) for v in opened.values())} new facilit(ies), "
        f"cost {cost:,.0f}, gap {gap:.2%} "
        + ("最优" if sol.status == "optimal" else "达到时限, 为目前最好方案")
    )
    if from_start and sol.status != "optimal":
        msg += (
            "; the solver found no plan in time, so this is the least-cost plan that meets "
            "the district targets, with sites then added by residents served per yuan while "
            f"the budget lasts (unspent {float(budget) - cost:,.0f}) "
            "求解器未能在时限内给出方案: 此为满足区县目标的最低成本方案, 再按每元新增服务人数补充站点"
        )
    return SitingResult(
        status=sol.status,
        mode=mode,
        objective=objective,
        bound=bound,
        gap=gap,
        total_cost=cost,
        opened=opened,
        sites=_sites_table(problem, opened, before),
        served=served,
        districts=_district_table(problem, opened, before, after),
        reduction=M.reduction,
        message=msg,
        seconds=time.perf_counter() - t0,
        budget=budget,
    )
