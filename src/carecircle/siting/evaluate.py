"""What a chosen set of sites does: who is served, and each district's indicators.

This is the computation behind the what-if page (:mod:`carecircle.outputs.whatif`):
the page repeats it in the browser when a site is switched on or off, and a browser
test compares the page's numbers with :func:`evaluate_sites` for the same set.  It
uses the siting result's own functions (:func:`~carecircle.siting.result.communities_served`,
:func:`~carecircle.siting.result.district_table`,
:func:`~carecircle.siting.result.sites_table`), so the plan's sites evaluated here
give exactly the plan's district table.

Decisions
---------
- A site opens as the kinds it would host (:func:`site_kinds`): a site of the plan
  as the plan opened it; any other candidate as a street centre where it may host
  one and its street has none today (a street centre serves elderly care too, at the
  same reach), else as a community elderly station where it may host elderly care,
  else as an elderly institution where it may host one (issue 19: it serves elderly
  care like a station and occupies its building alone); plus childcare where it may
  host childcare and either hosts nothing else or may share the building.  A candidate that may host nothing (too small for every kind
  it allows) cannot be switched on.
- The numbers are the model's: communities on the walking network, served when a
  facility of the kind is within reach (today's facilities or an opened site);
  coverage shares per district for urban and rural communities; streets with a
  centre; childcare places per 1,000 residents; the sites' cost as the model counts
  it (shared-building cost where a site hosts both kinds).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from carecircle.siting.problem import KINDS, PLAN_KINDS, SitingProblem, problem_error
from carecircle.siting.result import communities_served, district_table, plan_cost, sites_table

#: Kinds per candidate, in :data:`~carecircle.siting.problem.PLAN_KINDS` order.
SiteKinds = list[tuple[str, ...]]


@dataclass
class PlanBasis:
    """A plan with the problem it solved: what the what-if page and the GeoPackage need.

    Attributes
    ----------
    problem
        The :class:`~carecircle.siting.problem.SitingProblem` (communities on the
        walking network x candidate sites).
    opened
        The plan: ``{kind: candidate indices}``.
    candidates
        The candidate layer, row ``j`` = the problem's candidate ``j`` (names,
        floor area, acquisition, geometry), or ``None``.
    """

    problem: SitingProblem
    opened: dict[str, np.ndarray]
    candidates: Any = None

    @property
    def proposed(self) -> np.ndarray:
        """Indices of the plan's sites (any kind), sorted."""
        parts = [np.asarray(v, dtype=np.int64) for v in self.opened.values()]
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)

    @property
    def proposed_ids(self) -> list[str]:
        """Ids of the plan's sites, in candidate order."""
        return [str(self.problem.candidate_ids[j]) for j in self.proposed]

    def kinds(self) -> SiteKinds:
        """Kinds per candidate: :func:`site_kinds` with this plan."""
        return site_kinds(self.problem, self.opened)


def site_kinds(problem: SitingProblem, opened: Mapping[str, Any] | None = None) -> SiteKinds:
    """The kinds each candidate opens as when switched on (see the module's decisions).

    Parameters
    ----------
    problem
        The siting problem.
    opened
        A plan (``{kind: candidate indices}``): its sites keep the plan's kinds.

    Returns
    -------
    list of tuple of str
        One tuple per candidate, in :data:`~carecircle.siting.problem.PLAN_KINDS`
        order; empty where the candidate may host nothing.
    """
    P = problem
    host = P.can_host
    has_centre = {s for s in P.streets_with_centre.tolist() if s is not None}
    street = P.candidate_street
    share = np.isfinite(P.cost_shared)
    planned: dict[int, set[str]] = {}
    for k, idx in (opened or {}).items():
        for j in np.asarray(idx, dtype=np.int64):
            planned.setdefault(int(j), set()).add(k)
    out: SiteKinds = []
    for j in range(P.n_candidates):
        if j in planned:
            out.append(tuple(k for k in PLAN_KINDS if k in planned[j]))
            continue
        ks: set[str] = set()
        centre = bool(host["street_centre"][j]) and street is not None \
            and street[j] is not None and street[j] not in has_centre
        if centre:
            ks.add("street_centre")
        elif host["elderly"][j]:
            ks.add("elderly")
        elif host["institution"][j]:
            ks.add("institution")  # occupies its building alone
        if host["childcare"][j] and (not ks or (share[j] and "institution" not in ks)):
            ks.add("childcare")
        out.append(tuple(k for k in PLAN_KINDS if k in ks))
    return out


def opened_of(problem: SitingProblem, sites: Iterable[Any], kinds: Sequence[tuple[str, ...]]) -> dict[str, np.ndarray]:
    """``{kind: candidate indices}`` of a set of sites opened as ``kinds``.

    Parameters
    ----------
    problem
        The siting problem.
    sites
        Candidate ids (or indices, or a boolean mask).
    kinds
        Kinds per candidate (:func:`site_kinds`).

    Returns
    -------
    dict
        Sorted indices per kind of :data:`~carecircle.siting.problem.PLAN_KINDS`.

    Raises
    ------
    InputError
        An unknown id, or a site that may host nothing.
    """
    idx = problem.index_of(np.asarray(list(sites) if not isinstance(sites, np.ndarray) else sites))
    empty = [str(problem.candidate_ids[j]) for j in idx if not kinds[j]]
    if empty:
        raise problem_error("these candidate sites may host no kind (too small for every kind "
                            "they allow) and cannot be opened 场地不能承载任何设施类型",
                            column="id", found=str(empty[:10]))
    return {k: np.array([j for j in idx if k in kinds[j]], dtype=np.int64) for k in PLAN_KINDS}


@dataclass
class SiteEvaluation:
    """Who a set of sites serves and each district's indicators.

    Attributes
    ----------
    site_ids
        The sites switched on, in candidate order.
    opened
        ``{kind: candidate indices}``.
    served
        Per community (index = community id): ``elderly_before``, ``childcare_before``
        (today), ``elderly``, ``childcare``, ``both`` (with these sites).
    districts
        :func:`~carecircle.siting.result.district_table`: per district the coverage
        of each kind for urban and rural communities (``<kind>_<urban|rural>_after``),
        streets with a centre, places per 1,000, new sites per kind, cost.
    sites
        :func:`~carecircle.siting.result.sites_table` of the sites switched on.
    totals
        City-wide counts: communities served per kind and by both, residents served
        per kind (the problem's weights), sites, cost, childcare places added.
    """

    site_ids: list[str]
    opened: dict[str, np.ndarray]
    served: pd.DataFrame
    districts: pd.DataFrame
    sites: pd.DataFrame
    totals: dict[str, float] = field(default_factory=dict)


def evaluate_sites(plan: PlanBasis | SitingProblem, site_ids: Iterable[Any], *,
                   kinds: Sequence[tuple[str, ...]] | None = None) -> SiteEvaluation:
    """Who is served and each district's indicators when exactly ``site_ids`` are built.

    Parameters
    ----------
    plan
        A :class:`PlanBasis` (its plan's sites keep their kinds) or a bare
        :class:`~carecircle.siting.problem.SitingProblem`.
    site_ids
        The candidate sites switched on (ids; indices or a mask also work).
    kinds
        Kinds per candidate; default :func:`site_kinds` (with the plan's kinds for
        its sites when ``plan`` is a :class:`PlanBasis`).

    Returns
    -------
    SiteEvaluation

    Raises
    ------
    InputError
        An unknown id, or a site that may host nothing.
    """
    P = plan.problem if isinstance(plan, PlanBasis) else plan
    if kinds is None:
        kinds = plan.kinds() if isinstance(plan, PlanBasis) else site_kinds(P)
    if len(kinds) != P.n_candidates:
        raise problem_error("kinds must give one tuple per candidate", column="kinds",
                            found=str(len(kinds)), expected=str(P.n_candidates))
    opened = opened_of(P, site_ids, kinds)
    before = {k: P.existing_served[k] for k in KINDS}
    after = communities_served(P, opened)
    served = pd.DataFrame(
        {"elderly_before": before["elderly"], "childcare_before": before["childcare"],
         "elderly": after["elderly"], "childcare": after["childcare"],
         "both": after["elderly"] & after["childcare"]},
        index=pd.Index(P.community_ids, name="community_id"))
    on = np.unique(np.concatenate([opened[k] for k in PLAN_KINDS]))
    cost = plan_cost(P, opened)
    totals = {
        "communities": float(P.n_communities),
        "served_elderly": float(after["elderly"].sum()),
        "served_childcare": float(after["childcare"].sum()),
        "served_both": float((after["elderly"] & after["childcare"]).sum()),
        "served_elderly_before": float(before["elderly"].sum()),
        "served_childcare_before": float(before["childcare"].sum()),
        "served_both_before": float((before["elderly"] & before["childcare"]).sum()),
        "elderly_residents_served": float(P.weight["elderly"][after["elderly"]].sum()),
        "childcare_residents_served": float(P.weight["childcare"][after["childcare"]].sum()),
        "sites": float(len(on)),
        "cost": float(cost.sum()),
        "places_added": float(P.places_new[opened["childcare"]].sum()),
    }
    return SiteEvaluation(
        site_ids=[str(P.candidate_ids[j]) for j in on], opened=opened, served=served,
        districts=district_table(P, opened, before, after),
        sites=sites_table(P, opened, before), totals=totals)
