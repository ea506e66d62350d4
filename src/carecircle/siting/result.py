"""What a siting solve returns: the plan, its tables, and why it is infeasible when it is.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from carecircle.errors import InfeasibleError
from carecircle.siting.problem import ELDERLY_HOSTS, KINDS, PLAN_KINDS, SitingProblem

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
    "beds_new": "新增床位 New beds",
    "nursing_new": "新增护理型床位 New nursing-type beds",
}


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
        ``"optimal"`` (within ``mip_gap``), ``"gap_target"`` (the scale path
        proved the plan within its gap target and stopped), ``"time_limit"`` or
        ``"infeasible"``.
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
        ``{kind: candidate indices}`` for elderly, childcare, street_centre, institution.
    sites
        One row per opened candidate: ``candidate``, ``candidate_id``,
        ``district``, ``street``, ``kinds``, ``shared``, ``cost``, ``places_new``,
        ``beds_new``, ``nursing_new``,
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
    method
        ``"exact"`` (HiGHS on the whole model) or ``"scale"`` (LP bound, then
        heuristics: :mod:`carecircle.siting.improve`).
    bound_source
        Where ``bound`` comes from, in words.
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
    method: str = "exact"
    bound_source: str = "HiGHS branch and bound"

    def raise_if_infeasible(self) -> None:
        """Raise :class:`~carecircle.errors.InfeasibleError` with the explanation."""
        if self.status == "infeasible":
            raise InfeasibleError(str(self.explanation) if self.explanation else self.message)


# --------------------------------------------------------------------------- solve


def communities_served(P: SitingProblem, opened: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Who is served after opening *opened*, recomputed from the reach matrices.

    Parameters
    ----------
    P
        The problem (today's service and the reach).
    opened
        ``{kind: candidate indices}`` of the plan; a street centre and an institution
        serve elderly care.

    Returns
    -------
    dict
        ``{kind: bool per community}`` for ``elderly`` and ``childcare``.
    """
    out = {}
    for k in KINDS:
        s = P.existing_served[k].copy()
        hosts = ELDERLY_HOSTS if k == "elderly" else ("childcare",)
        for kk in hosts:
            idx = opened.get(kk, np.zeros(0, np.int64))
            if len(idx):
                s |= np.asarray(P.cover[kk][:, idx].sum(axis=1)).ravel() > 0
        out[k] = s
    return out


def plan_cost(P: SitingProblem, opened: dict[str, np.ndarray]) -> np.ndarray:
    """Cost per candidate of a plan (shared-building cost where a site hosts elderly care or a
    street centre with childcare).

    Parameters
    ----------
    P
        The problem (costs per kind and shared).
    opened
        ``{kind: candidate indices}`` of the plan.

    Returns
    -------
    numpy.ndarray
        One cost per candidate (0 where nothing opens).
    """
    host = _hosts(P, opened)
    cost = np.zeros(P.n_candidates)
    for k in PLAN_KINDS:
        cost[host[k]] += P.cost[k][host[k]]
    for partner, pair in (("elderly", P.cost_shared), ("street_centre", P.cost_shared_centre)):
        both = host[partner] & host["childcare"] & np.isfinite(pair)
        cost[both] += pair[both] - P.cost[partner][both] - P.cost["childcare"][both]
    return cost


Opened = dict[str, np.ndarray]  # {kind: candidate indices}
Served = dict[str, np.ndarray]  # {kind: bool per community}

SITE_COLUMNS = (
    "candidate",
    "candidate_id",
    "district",
    "street",
    "kinds",
    "shared",
    "cost",
    "places_new",
    "beds_new",
    "nursing_new",
    "communities_newly_served",
    "elderly_residents_newly_served",
    "childcare_residents_newly_served",
    "residents_newly_served",
)


def _hosts(P: SitingProblem, opened: Opened) -> dict[str, np.ndarray]:
    host = {k: np.zeros(P.n_candidates, bool) for k in PLAN_KINDS}
    for k, idx in opened.items():
        host[k][idx] = True
    return host


def sites_table(P: SitingProblem, opened: Opened, before: Served) -> pd.DataFrame:
    """One row per opened candidate: kinds, cost, places, who it newly serves.

    Parameters
    ----------
    P
        The problem.
    opened
        ``{kind: candidate indices}`` of the plan.
    before
        ``{kind: bool per community}`` served before the plan.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SITE_COLUMNS`.
    """
    host = _hosts(P, opened)
    any_open = np.flatnonzero(np.logical_or.reduce([host[k] for k in PLAN_KINDS]))
    cost = plan_cost(P, opened)
    recs = []
    for j in any_open:
        kinds = [k for k in PLAN_KINDS if host[k][j]]
        new_e = np.zeros(P.n_communities, bool)
        for kk in ELDERLY_HOSTS:
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
                    (host["elderly"][j] and host["childcare"][j] and np.isfinite(P.cost_shared[j]))
                    or (host["street_centre"][j] and host["childcare"][j]
                        and np.isfinite(P.cost_shared_centre[j]))
                ),
                "cost": float(cost[j]),
                "places_new": float(P.places_new[j]) if host["childcare"][j] else 0.0,
                "beds_new": float(P.beds_new[j]) if host["institution"][j] else 0.0,
                "nursing_new": float(P.nursing_new[j]) if host["institution"][j] else 0.0,
                "communities_newly_served": int((new_e | new_c).sum()),
                "elderly_residents_newly_served": we,
                "childcare_residents_newly_served": wc,
                "residents_newly_served": we + wc,
            }
        )
    return pd.DataFrame.from_records(recs, columns=list(SITE_COLUMNS))


def district_table(P: SitingProblem, opened: Opened, before: Served, after: Served) -> pd.DataFrame:
    """Per district: coverage before/after, street centres, places per 1,000, new sites, cost.

    Parameters
    ----------
    P
        The problem.
    opened
        ``{kind: candidate indices}`` of the plan.
    before, after
        ``{kind: bool per community}`` served before and after the plan.

    Returns
    -------
    pandas.DataFrame
        One row per district of :meth:`SitingProblem.all_districts`.
    """
    cost = plan_cost(P, opened)
    recs = []
    for d in P.all_districts():
        in_d = P.district == d
        r: dict[str, Any] = {
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
        r.update(_district_streets(P, opened, d))
        r.update(_district_places(P, opened, d))
        r.update(_district_beds(P, opened, d))
        for k in PLAN_KINDS:
            js = opened.get(k, np.zeros(0, np.int64))
            r[f"new_{k}"] = int((P.candidate_district[js] == d).sum())
        r["cost"] = float(cost[P.candidate_district == d].sum())
        recs.append(r)
    return pd.DataFrame.from_records(recs)


def _district_streets(P: SitingProblem, opened: Opened, d: Any) -> dict[str, int]:
    """Streets, and streets with a centre before and after (none without street labels)."""
    if P.street is None:
        return {}
    has = set(P.streets_with_centre.tolist())
    ns = P.target(d, "n_streets")
    st = set(P.street[P.district == d])
    new = set()
    if P.candidate_street is not None:
        st |= set(P.candidate_street[P.candidate_district == d])
        js = opened.get("street_centre", np.zeros(0, np.int64))
        new = {P.candidate_street[j] for j in js if P.candidate_district[j] == d}
    return {
        "streets": int(ns) if ns is not None else len(st),
        "streets_with_centre_before": len(st & has),
        "streets_with_centre_after": len((st & has) | new),
    }


def _district_places(P: SitingProblem, opened: Opened, d: Any) -> dict[str, float]:
    """Childcare places per 1,000 before and after (none without a population)."""
    pop = P.target(d, "population")
    if pop is None and P.population is not None:
        pop = float(P.population[P.district == d].sum())
    if not pop:
        return {}
    ex = P.target(d, "existing_places") or 0.0
    jc = opened.get("childcare", np.zeros(0, np.int64))
    added = float(P.places_new[jc][P.candidate_district[jc] == d].sum())
    return {
        "places_per_1000_before": 1000.0 * ex / pop,
        "places_per_1000_after": 1000.0 * (ex + added) / pop,
    }


def _district_beds(P: SitingProblem, opened: Opened, d: Any) -> dict[str, float]:
    """Public beds, the nursing-bed share and demonstration homes before and after (those
    the targets table has)."""
    ji = opened.get("institution", np.zeros(0, np.int64))
    ji = ji[P.candidate_district[ji] == d]
    beds, nursing = float(P.beds_new[ji].sum()), float(P.nursing_new[ji].sum())
    out: dict[str, float] = {}
    if P.target(d, "beds_share") is not None:
        ex = P.target(d, "existing_public_beds") or 0.0
        out.update(public_beds_before=ex, public_beds_after=ex + beds)
    if P.target(d, "nursing_share") is not None:
        b0 = P.target(d, "existing_beds") or 0.0
        n0 = P.target(d, "existing_nursing_beds") or 0.0
        out.update(nursing_share_before=n0 / b0 if b0 else math.nan,
                   nursing_share_after=(n0 + nursing) / (b0 + beds) if b0 + beds else math.nan)
    if P.target(d, "min_demonstration") is not None:
        ex = P.target(d, "existing_demonstration") or 0.0
        out.update(demonstration_before=ex,
                   demonstration_after=ex + float(P.demonstration_new[ji].sum()))
    return out


def empty_result(
    P: SitingProblem,
    mode: str,
    budget: float | None,
    red: SitingReduction,
    status: str,
    message: str,
    explanation: Explanation | None = None,
    seconds: float = 0.0,
) -> SitingResult:
    """A result without a plan (infeasible, or no plan found in time).

    Parameters
    ----------
    P
        The problem.
    mode, budget
        As solved.
    red
        The model's reduction report.
    status
        ``"infeasible"`` or ``"time_limit"``.
    message
        The result's message.
    explanation
        Why it is infeasible.
    seconds
        Time spent.

    Returns
    -------
    SitingResult
        ``has_solution`` False; after = before (nobody served after when infeasible).
    """
    before = {k: P.existing_served[k] for k in KINDS}
    opened = {k: np.zeros(0, np.int64) for k in PLAN_KINDS}
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
        sites=sites_table(P, opened, before),
        served=served,
        districts=district_table(P, opened, before, before),
        reduction=red,
        explanation=explanation,
        message=message,
        has_solution=False,
        seconds=seconds,
        budget=budget,
    )
