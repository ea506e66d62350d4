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
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from carecircle.siting import _milp, improve
from carecircle.siting.model import SitingModel, build_model, decode
from carecircle.siting.problem import (
    HOST_KINDS,
    KINDS,
    TARGETS,
    SitingProblem,
    TargetSwitch,
    problem_error,
)
from carecircle.siting.result import (
    Explanation,
    SitingReduction,
    SitingResult,
    TargetIssue,
    communities_served,
    district_table,
    empty_result,
    plan_cost,
    sites_table,
)


def _infeasible(
    P: SitingProblem,
    mode: str,
    budget: float | None,
    red: SitingReduction,
    ex: Explanation,
    seconds: float,
) -> SitingResult:
    """The result of a problem with no plan, its explanation's messages as the message."""
    return empty_result(
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


def _elastic(
    M: SitingModel, time_limit: float | None
) -> tuple[_milp.MilpSolution, list[tuple[dict[str, Any], np.ndarray, np.ndarray]]]:
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


def _least_cost_model(M: SitingModel) -> _milp.MilpModel:
    """The budget model's rows with its budget row lifted, total cost minimised.

    Its optimum is the least that meets the district targets: the budget they need.
    """
    mm = M.milp
    hi = mm.row_upper.copy()
    if M.budget_row is not None:
        hi[M.budget_row] = np.inf
    return replace(mm, c=M.cost, row_upper=hi, maximize=False, offset=0.0)


def _least_cost_start(
    M: SitingModel, budget: float, time_limit: float, mip_gap: float | None = 1e-4
) -> tuple[np.ndarray | None, _milp.MilpSolution]:
    """A plan for the budget model: the cheapest that meets the targets, if affordable.

    Budget mode with district targets is hard for HiGHS's heuristics: at city
    scale it may reach the time limit with no plan at all, even when a plan is
    known to fit the budget.  Minimising cost subject to the same rows (without
    the budget row) is a covering problem like ``cover_all``, where HiGHS finds
    plans quickly.  If the plan found fits the budget, its site decisions are
    fixed and the served shares (continuous) re-solved to their maximum, which
    gives a feasible point of the budget model: the fallback plan of
    :func:`carecircle.siting._milp.run`, returned only when HiGHS finds nothing better.

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
    P: SitingProblem, M: SitingModel, x: np.ndarray, budget: float, time_limit: float | None
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
    opened = decode(M, x)
    for k in HOST_KINDS:
        allowed[k][M.var[k]] = True
        host[k][opened[k]] = True
    served = communities_served(P, opened)
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
    P: SitingProblem,
    M: SitingModel,
    mode: str,
    budget: float | None,
    targets: TargetSwitch,
    coverage_kinds: Sequence[str],
    time_limit: float | None,
) -> Explanation:
    """Why HiGHS found the model infeasible: a budget below the targets' cost, or the
    rows that cannot all be met together (the elastic model's shortfalls)."""
    ex = Explanation(budget=budget)
    if mode == "budget":
        # Do the targets alone fit at all?  The least cost that meets them is the budget needed.
        Mt = build_model(
            P, mode="budget", budget=None, targets=targets, coverage_kinds=coverage_kinds
        )
        sol = _milp.solve(_least_cost_model(Mt), time_limit=time_limit)
        if sol.x is not None:
            _budget_too_small(ex, P, Mt, sol, budget)
            return ex
        M = Mt  # the targets conflict among themselves: explain on the model without budget
    _, parts = _elastic(M, time_limit)
    for tag, _rows, slack in parts:
        short = slack > 1e-6
        if not short.any():
            continue
        if tag["type"] == "cover":
            _unmet_coverage(ex, P, tag, short)
        else:
            _unmet_target(ex, tag, float(slack.sum()))
    if not ex.messages:
        ex.messages.append(
            "HiGHS proved the model infeasible but no single target or community explains it "
            "(check required/excluded sites) 模型不可行, 未找到单一原因"
        )
    return ex


def _budget_too_small(
    ex: Explanation,
    P: SitingProblem,
    Mt: SitingModel,
    sol: _milp.MilpSolution,
    budget: float | None,
) -> None:
    assert sol.x is not None  # the caller checked
    need = float(plan_cost(P, decode(Mt, sol.x)).sum())
    exact = sol.status == "optimal"
    ex.min_budget = need
    ex.messages.append(
        f"the budget {budget:,.0f} is too small for the district targets: meeting them costs "
        f"{'at least ' if exact else 'about '}{need:,.0f}"
        f"{'' if exact else f' (best bound {sol.bound:,.0f})'} "
        f"预算 {budget:,.0f} 不足以达到区县目标, 最低需要 {need:,.0f}"
    )


def _unmet_coverage(ex: Explanation, P: SitingProblem, tag: dict[str, Any], short: np.ndarray) -> None:
    comm = tag["communities"][short]
    ex.unmet_coverage[tag["kind"]] = P.community_ids[comm]
    ids = P.community_ids[comm][:20].tolist()
    ex.messages.append(
        f"{len(comm)} communit(ies) cannot get {tag['kind']} together with the other "
        f"constraints (e.g. the only site in reach cannot host both kinds in one building) "
        f"{len(comm)} 个社区在其他约束下无法获得{tag['kind']}服务: {ids}"
    )


def _unmet_target(ex: Explanation, tag: dict[str, Any], shortfall: float) -> None:
    need = float(tag["need"])
    got = max(need - shortfall, 0.0)
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


def _check_arguments(mode: str, budget: float | None, targets: TargetSwitch) -> None:
    if mode not in ("cover_all", "budget"):
        raise problem_error("mode must be 'cover_all' or 'budget'", column="mode", found=repr(mode))
    if mode == "budget" and (budget is None or not math.isfinite(budget) or budget < 0):
        raise problem_error(
            "mode='budget' needs a finite budget >= 0", column="budget", found=repr(budget)
        )
    if targets is not None:
        bad = [t for t in targets if t not in TARGETS]
        if bad:
            raise problem_error(
                "unknown target switch",
                column="targets",
                found=str(bad),
                expected=", ".join(TARGETS),
            )


def _precheck(
    P: SitingProblem, M: SitingModel, budget: float | None, uncoverable_fails: bool
) -> Explanation:
    """What the model's construction found infeasible, before any solve."""
    pre = M.precheck
    ex = Explanation(budget=budget)
    if uncoverable_fails and pre.uncoverable:
        ex.uncoverable = pre.uncoverable
        ex.messages += _uncoverable_messages(P, pre.uncoverable)
    ex.messages += pre.messages
    if pre.targets:
        ex.targets = list(pre.targets)
        ex.messages += [t.message for t in pre.targets]
    return ex


def _budget_below_targets(
    P: SitingProblem,
    budget: float | None,
    targets: TargetSwitch,
    coverage_kinds: Sequence[str],
    reduce: bool,
    time_limit: float | None,
) -> Explanation | None:
    """Why a budget model's targets cannot be met, when the budget is the reason.

    Candidates dearer than the budget are dropped before the prechecks, so a target may
    look unreachable for want of candidates.  When the same targets fit without the
    budget, it is the budget that falls short: say so, with what the targets cost.
    """
    free = build_model(P, mode="budget", budget=None, targets=targets,
                       coverage_kinds=coverage_kinds, reduce=reduce)
    if free.precheck.targets or free.precheck.messages:
        return None
    return _explain(P, free, "budget", budget, targets, coverage_kinds, time_limit)


def _targets_too_dear(budget: float, least: _milp.MilpSolution) -> Explanation:
    """Proved: every plan meeting the targets costs more than the budget."""
    ex = Explanation(budget=budget, min_budget=float(least.bound))
    found = (
        f" (the cheapest plan found costs {least.objective:,.0f})" if least.x is not None else ""
    )
    ex.messages.append(
        f"the budget {budget:,.0f} is too small for the district targets: meeting them "
        f"costs at least {least.bound:,.0f}{found} "
        f"预算 {budget:,.0f} 不足以达到区县目标, 最低需要 {least.bound:,.0f}"
    )
    return ex


def _no_plan_message(
    limit_given: float | None, least: _milp.MilpSolution | None, budget: float | None
) -> str:
    msg = f"no feasible plan found within the time limit ({limit_given} s) 时限内未找到可行方案"
    if least is not None and least.x is not None:
        msg += (
            f"; the cheapest plan found that meets the district targets costs "
            f"{least.objective:,.0f} (at least {least.bound:,.0f}), more than the budget "
            f"{budget:,.0f} 满足区县目标的最低成本方案约需 {least.objective:,.0f}, 超出预算"
        )
    return msg


def _plan_result(
    P: SitingProblem,
    M: SitingModel,
    mode: str,
    budget: float | None,
    sol: _milp.MilpSolution,
    from_start: bool,
    t0: float,
    method: tuple[str, str] = ("exact", "HiGHS branch and bound"),
) -> SitingResult:
    """The result of a solve that returned a plan: objective recomputed from the plan.

    *method* is the result's ``(method, bound_source)``.
    """
    assert sol.x is not None  # the caller checked
    opened = decode(M, sol.x)
    before = {k: P.existing_served[k].copy() for k in KINDS}
    after = communities_served(P, opened)
    cost = float(plan_cost(P, opened).sum())
    spend = float(budget or 0.0)  # budget mode always has a budget
    if mode == "cover_all":
        objective = cost
        bound = min(sol.bound, objective)
    else:
        objective = float(sum(P.weight[k][after[k]].sum() for k in KINDS))
        bound = max(sol.bound + M.eps * spend, objective)
    gap = 0.0 if objective == bound else abs(objective - bound) / max(abs(objective), 1e-9)
    served = pd.DataFrame(
        {
            f"{k}_{w}": (before if w == "before" else after)[k]
            for k in KINDS
            for w in ("before", "after")
        },
        index=pd.Index(P.community_ids, name="community_id"),
    )
    what = "cost" if mode == "cover_all" else "residents served"
    said = {"optimal": "最优", "gap_target": "已证明达到目标差距"}
    msg = (
        f"{sol.status} ({method[0]}): {what} {objective:,.0f}, "
        f"{sum(len(v) for v in opened.values())} new facilit(ies), "
        f"cost {cost:,.0f}, bound {bound:,.0f} ({method[1]}), gap {gap:.2%} "
        + said.get(sol.status, "达到时限, 为目前最好方案")
    )
    if from_start and sol.status != "optimal":
        msg += (
            "; the solver found no plan in time, so this is the least-cost plan that meets "
            "the district targets, with sites then added by residents served per yuan while "
            f"the budget lasts (unspent {spend - cost:,.0f}) "
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
        sites=sites_table(P, opened, before),
        served=served,
        districts=district_table(P, opened, before, after),
        reduction=M.reduction,
        message=msg,
        seconds=time.perf_counter() - t0,
        budget=budget,
        method=method[0],
        bound_source=method[1],
    )


#: Models with more columns than this go to the scale path by default (``method="auto"``).
#: Measured (benchmarks/README.md): at 1,000 x 6,667 (19,380 columns) HiGHS alone
#: ends a minute 40 % above its bound where the scale path is within 1.5 %; below
#: about 10,000 columns HiGHS proves plans optimal or nearly so in that time.
EXACT_MAX_COLUMNS = 10_000

#: The scale path's time when none is given (it needs one; the exact path does not).
SCALE_DEFAULT_SECONDS = 60.0

METHODS = ("auto", "exact", "scale")


def solve_siting(
    problem: SitingProblem,
    *,
    mode: str = "cover_all",
    budget: float | None = None,
    targets: TargetSwitch = None,
    coverage_kinds: Sequence[str] = ("elderly",),
    allow_uncoverable: bool = False,
    time_limit: float | None = None,
    mip_gap: float | None = 1e-4,
    reduce: bool = True,
    method: str = "auto",
    gap_target: float = 0.01,
    exact_max_columns: int = EXACT_MAX_COLUMNS,
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
        Seconds for the solve; at the limit the best plan found is returned
        with status ``"time_limit"``.  Exact path: in budget mode with district
        targets a third of it goes first to a starting plan (see
        :func:`_least_cost_start` and :func:`_spend_rest`), returned if HiGHS
        finds nothing better.  Scale path: :data:`SCALE_DEFAULT_SECONDS` when
        ``None``.
    mip_gap
        Relative gap at which the plan counts as optimal (default 1e-4).
    reduce
        Presolve (drop communities served today, duplicate/dominated rows,
        unused candidates).
    method
        ``"exact"``: HiGHS on the whole model.  ``"scale"``: the LP bound and
        heuristics of :mod:`carecircle.siting.improve`, stopping once the plan
        is proved within *gap_target* (status ``"gap_target"``); in budget
        mode its first plan is greedy (:mod:`carecircle.siting.greedy`), so
        it has a plan even when the LP is not solved in time, unless the
        greedy cannot meet the district targets within the budget (then the
        exact path answers, and explains an infeasible model).  ``"auto"``
        (default): exact up to *exact_max_columns* model columns (after the
        reduction), scale above, and exact whenever no time limit is given.
    gap_target
        Scale path: the proven relative gap at which it stops (default 1 %).
    exact_max_columns
        ``method="auto"``: the largest model the exact path takes.

    Returns
    -------
    SitingResult
        With ``explanation`` when infeasible; ``method`` and ``bound_source``
        say how the plan and its bound were found.
    """
    _check_arguments(mode, budget, targets)
    if method not in METHODS:
        raise problem_error("unknown solve method", column="method", found=repr(method),
                            expected=", ".join(METHODS))
    t0 = time.perf_counter()
    M = build_model(
        problem,
        mode=mode,
        budget=budget,
        targets=targets,
        coverage_kinds=coverage_kinds,
        reduce=reduce,
    )
    if mode == "budget" and M.precheck.targets:
        dear = _budget_below_targets(problem, budget, targets, coverage_kinds, reduce, time_limit)
        if dear is not None:
            return _infeasible(problem, mode, budget, M.reduction, dear, time.perf_counter() - t0)
    ex = _precheck(problem, M, budget, mode == "cover_all" and not allow_uncoverable)
    if ex.messages:
        return _infeasible(problem, mode, budget, M.reduction, ex, time.perf_counter() - t0)
    scale = M.milp.n_cols > 0 and (
        method == "scale"
        or (method == "auto" and time_limit is not None and M.milp.n_cols > exact_max_columns)
    )
    if scale:
        limit = SCALE_DEFAULT_SECONDS if time_limit is None else float(time_limit)
        out = improve.scale_solve(M.milp, time_limit=limit, gap_target=gap_target)
        if out.x is not None:
            return _scale_result(problem, M, mode, budget, out, mip_gap, t0)
        # No plan from the LP's neighbourhood (or the LP is infeasible): HiGHS on the
        # whole model for what is left, which also explains an infeasible model.
        time_limit = max(limit - (time.perf_counter() - t0), 1.0)
    args = (problem, M, mode, budget, targets, coverage_kinds)
    return _solve_exact(*args, time_limit=time_limit, mip_gap=mip_gap, t0=t0)


def _scale_result(
    P: SitingProblem,
    M: SitingModel,
    mode: str,
    budget: float | None,
    out: improve.ScaleOutcome,
    mip_gap: float | None,
    t0: float,
) -> SitingResult:
    """The scale path's plan as a result: status from the proven gap."""
    assert out.x is not None  # the caller checked
    if out.gap <= (mip_gap or 1e-9):
        status = "optimal"
    elif out.stopped_at_target:
        status = "gap_target"
    else:
        status = "time_limit"
    sol = _milp.MilpSolution(
        status=status,
        x=out.x,
        objective=out.objective,
        bound=out.bound,
        gap=out.gap,
        seconds=out.seconds,
        highs_status="scale path",
    )
    return _plan_result(P, M, mode, budget, sol, False, t0, ("scale", out.bound_source))


def _solve_exact(
    problem: SitingProblem,
    M: SitingModel,
    mode: str,
    budget: float | None,
    targets: TargetSwitch,
    coverage_kinds: Sequence[str],
    *,
    time_limit: float | None,
    mip_gap: float | None,
    t0: float,
) -> SitingResult:
    """HiGHS on the whole model (with a starting plan in budget mode with targets)."""
    start: np.ndarray | None = None
    least: _milp.MilpSolution | None = None
    limit_given = time_limit
    if (
        mode == "budget"
        and budget is not None
        and time_limit is not None
        and any(tag.get("type") == "target" for _a, _b, tag in M.tags)
    ):
        # A third of the time for a plan that surely exists if the targets fit.
        t1 = time.perf_counter()
        start, least = _least_cost_start(M, float(budget), time_limit / 3, mip_gap)
        if least.status != "infeasible" and least.bound > float(budget) * (1 + 1e-9) + 1e-6:
            ex = _targets_too_dear(budget, least)
            return _infeasible(problem, mode, budget, M.reduction, ex, time.perf_counter() - t0)
        if start is not None:
            start = _spend_rest(problem, M, start, float(budget), time_limit / 6)
        time_limit = max(time_limit - (time.perf_counter() - t1), 1.0)
    if least is not None and least.status == "infeasible":
        sol = least  # the targets conflict whatever the budget: explained below
    else:
        sol = _milp.solve(M.milp, time_limit=time_limit, mip_gap=mip_gap, warm_start=start)
    if sol.status == "infeasible":
        ex = _explain(problem, M, mode, budget, targets, coverage_kinds, time_limit)
        return _infeasible(problem, mode, budget, M.reduction, ex, time.perf_counter() - t0)
    if sol.x is None:
        msg = _no_plan_message(limit_given, least, budget)
        return empty_result(
            problem, mode, budget, M.reduction, sol.status, msg, None, time.perf_counter() - t0
        )
    from_start = start is not None and np.array_equal(sol.x, start)
    return _plan_result(problem, M, mode, budget, sol, from_start, t0)
