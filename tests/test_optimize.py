"""Tests for the siting optimiser: array solvers, reductions and the two-type model.

Cross-checks: brute-force enumeration on many small random instances, spopt's LSCP
and MCLP (optional), and the reach recomputed from the point coordinates.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from carecircle.errors import InfeasibleError, InputError
from carecircle.siting.covering import solve_max_cover, solve_set_cover
from carecircle.siting.problem import SitingProblem
from carecircle.siting.result import plan_cost
from carecircle.siting.solve import solve_siting
from carecircle.siting.synthetic import disc_cover, random_siting_problem

# ----------------------------------------------------------------- array level


def _brute_set_cover(A, c):
    n = A.shape[1]
    best = math.inf
    for mask in itertools.product([False, True], repeat=n):
        x = np.array(mask, bool)
        if (A[:, x].sum(axis=1) > 0).all():
            best = min(best, c[x].sum())
    return best


def _brute_max_cover(A, w, c=None, budget=None, p=None):
    n = A.shape[1]
    best = -1.0
    for mask in itertools.product([False, True], repeat=n):
        x = np.array(mask, bool)
        if budget is not None and c[x].sum() > budget:
            continue
        if p is not None and x.sum() > p:
            continue
        best = max(best, w[(A[:, x].sum(axis=1) > 0)].sum())
    return best


def _random_instance(rng, max_m=8, max_n=8):
    m = int(rng.integers(1, max_m + 1))
    n = int(rng.integers(1, max_n + 1))
    A = (rng.random((m, n)) < rng.uniform(0.15, 0.6)).astype(int)
    c = rng.integers(0, 6, n).astype(float)
    w = rng.integers(0, 10, m).astype(float)
    return A, c, w


def test_set_cover_hand_case():
    # Rows 0-3; site 3 covers everything but costs more than sites 0 + 1.
    A = sp.csr_matrix(
        np.array(
            [
                [1, 0, 0, 1],
                [1, 0, 1, 1],
                [0, 1, 0, 1],
                [0, 1, 0, 1],
            ]
        )
    )
    r = solve_set_cover(A, [2.0, 2.0, 1.0, 5.0])
    assert r.status == "optimal"
    assert r.selected.tolist() == [0, 1]
    assert r.objective == 4.0
    assert r.gap == 0.0
    assert r.bound == pytest.approx(4.0)
    assert r.selected.dtype == np.int64
    # With site 3 cheaper, it alone is best.
    r = solve_set_cover(A, [2.0, 2.0, 1.0, 3.5])
    assert r.selected.tolist() == [3] and r.objective == 3.5


def test_set_cover_brute_force_200():
    rng = np.random.default_rng(11)
    for _ in range(200):
        A, c, _ = _random_instance(rng)
        best = _brute_set_cover(A, c)
        r = solve_set_cover(sp.csr_matrix(A), c)
        if math.isinf(best):
            assert r.status == "infeasible"
            assert len(r.uncoverable) > 0
            assert (A[r.uncoverable].sum(axis=1) == 0).all()
        else:
            assert r.status == "optimal"
            assert r.objective == pytest.approx(best)
            assert (A[:, r.selected].sum(axis=1) > 0).all()
            assert c[r.selected].sum() == pytest.approx(r.objective)


def test_max_cover_budget_brute_force_200():
    rng = np.random.default_rng(12)
    for _ in range(200):
        A, c, w = _random_instance(rng)
        budget = float(rng.integers(0, 12))
        best = _brute_max_cover(A, w, c=c, budget=budget)
        r = solve_max_cover(sp.csr_matrix(A), w, cost=c, budget=budget)
        assert r.status == "optimal"
        assert r.objective == pytest.approx(best)
        assert c[r.selected].sum() <= budget + 1e-9
        covered = np.flatnonzero(A[:, r.selected].sum(axis=1) > 0)
        assert r.covered.tolist() == covered.tolist()
        assert r.coverage == pytest.approx(w[covered].sum())


def test_max_cover_p_brute_force_200():
    rng = np.random.default_rng(13)
    for _ in range(200):
        A, c, w = _random_instance(rng)
        p = int(rng.integers(0, A.shape[1] + 1))
        best = _brute_max_cover(A, w, p=p)
        r = solve_max_cover(A, w, p=p)
        assert r.status == "optimal"
        assert r.objective == pytest.approx(best)
        assert len(r.selected) <= p


def test_max_cover_budget_and_p_brute_force():
    rng = np.random.default_rng(14)
    for _ in range(60):
        A, c, w = _random_instance(rng)
        budget = float(rng.integers(0, 12))
        p = int(rng.integers(0, A.shape[1] + 1))
        best = _brute_max_cover(A, w, c=c, budget=budget, p=p)
        r = solve_max_cover(A, w, cost=c, budget=budget, p=p)
        assert r.objective == pytest.approx(best)


def test_reduction_keeps_optimum_random():
    rng = np.random.default_rng(15)
    for _ in range(40):
        m, n = int(rng.integers(10, 40)), int(rng.integers(10, 40))
        A = (rng.random((m, n)) < 0.12).astype(int)
        A[np.arange(m), rng.integers(0, n, m)] = 1  # every row coverable
        c = rng.integers(1, 5, n).astype(float)
        w = rng.integers(0, 20, m).astype(float)
        a = solve_set_cover(A, c, reduce=True)
        b = solve_set_cover(A, c, reduce=False)
        assert a.objective == pytest.approx(b.objective)
        assert b.reduction.rows_after == m  # the unreduced model is the full one
        budget = float(rng.integers(1, 10))
        a = solve_max_cover(A, w, cost=c, budget=budget, reduce=True)
        b = solve_max_cover(A, w, cost=c, budget=budget, reduce=False)
        assert a.objective == pytest.approx(b.objective)
        p = int(rng.integers(1, 6))
        a = solve_max_cover(A, w, p=p, reduce=True)
        b = solve_max_cover(A, w, p=p, reduce=False)
        assert a.objective == pytest.approx(b.objective)


def test_reduction_counts_hand_case():
    # Column 0 covers rows {0,1}; column 1 covers {0,1,2} and is cheaper (dominates 0);
    # column 2 is the only cover of row 3 (forced); column 3 covers nothing; column 4 is
    # the only cover of row 4 (forced) and also covers row 2.  Row 1 duplicates row 0.
    A = np.array(
        [
            [1, 1, 0, 0, 0],
            [1, 1, 0, 0, 0],
            [0, 1, 0, 0, 1],
            [0, 0, 1, 0, 0],
            [0, 0, 0, 0, 1],
        ]
    )
    c = np.array([3.0, 2.5, 1.0, 1.0, 2.0])
    r = solve_set_cover(A, c)
    red = r.reduction
    assert red.rows_before == 5 and red.cols_before == 5
    assert red.cols_fixed == 3  # 2 and 4 forced by singleton rows, then 1 by row 0
    assert red.cols_empty + red.cols_dominated == 2  # columns 0 and 3
    assert red.rows_duplicate == 1
    assert r.objective == 5.5
    assert r.selected.tolist() == [1, 2, 4]
    assert red.rows_after == 0 and red.cols_after == 0  # presolve decided everything
    # The same with reduce=False gives the same plan through the solver.
    r2 = solve_set_cover(A, c, reduce=False)
    assert r2.selected.tolist() == [1, 2, 4] and r2.reduction.rows_after == 5


def test_set_cover_required_and_excluded():
    A = np.array([[1, 1, 0], [0, 1, 1]])
    c = np.array([1.0, 5.0, 1.0])
    r = solve_set_cover(A, c)
    assert r.selected.tolist() == [0, 2]
    r = solve_set_cover(A, c, required=[1])
    assert r.selected.tolist() == [1] and r.objective == 5.0
    r = solve_set_cover(A, c, excluded=[0])
    assert r.selected.tolist() == [1] and r.objective == 5.0
    r = solve_set_cover(A, c, excluded=[1, 2])
    assert r.status == "infeasible"
    assert r.uncoverable.tolist() == [1]
    assert "1" in r.message
    r = solve_max_cover(A, [1.0, 10.0], cost=c, budget=1.0, required=[0])
    assert r.selected.tolist() == [0] and r.objective == 1.0
    r = solve_max_cover(A, [1.0, 10.0], cost=c, budget=4.0, required=[1])
    assert r.status == "infeasible" and "budget" in r.message


def test_input_errors():
    with pytest.raises(InputError, match="cost"):
        solve_set_cover(np.eye(2), [1.0, -1.0])
    with pytest.raises(InputError, match="wrong length"):
        solve_set_cover(np.eye(2), [1.0])
    with pytest.raises(InputError, match="budget or a number of sites"):
        solve_max_cover(np.eye(2), [1.0, 1.0])
    with pytest.raises(InputError, match="needs a cost"):
        solve_max_cover(np.eye(2), [1.0, 1.0], budget=3)
    with pytest.raises(InputError, match="both required and excluded"):
        solve_set_cover(np.eye(2), [1.0, 1.0], required=[0], excluded=[0])


def _hard_set_cover(seed=3, m=600, n=600):
    rng = np.random.default_rng(seed)
    A = sp.random(m, n, density=0.02, random_state=seed, format="csr")
    A.data[:] = 1
    A = (A + sp.eye(m, n, format="csr")).tocsr()
    c = rng.integers(50, 100, n).astype(float)
    return A, c


def test_set_cover_time_limit_returns_best_plan():
    A, c = _hard_set_cover()
    r = solve_set_cover(A, c, time_limit=0.05)
    assert r.status == "time_limit"
    assert r.has_solution
    assert len(r.selected) > 0
    assert (np.asarray(A[:, r.selected].sum(axis=1)).ravel() > 0).all()  # a feasible cover
    assert r.bound <= r.objective + 1e-6
    assert r.gap > 0
    assert "time limit" in r.message


def test_max_cover_time_limit():
    A, c = _hard_set_cover(seed=4)
    w = np.random.default_rng(0).integers(1, 100, A.shape[0]).astype(float)
    r = solve_max_cover(A, w, p=40, time_limit=0.05)
    assert r.status == "time_limit"
    assert r.has_solution and len(r.selected) <= 40
    assert r.bound >= r.objective - 1e-6


# ------------------------------------------------------------------- spopt


def _distance_instance(seed, m=60, n=25, radius=2.5):
    rng = np.random.default_rng(seed)
    P = rng.random((m, 2)) * 10
    Q = rng.random((n, 2)) * 10
    D = np.linalg.norm(P[:, None, :] - Q[None, :, :], axis=2)
    return D, radius


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_spopt_lscp_same_objective():
    spopt = pytest.importorskip("spopt.locate")
    import pulp

    for seed in range(3):
        D, radius = _distance_instance(seed, n=40, radius=3.5)
        A = (radius >= D).astype(int)
        ours = solve_set_cover(A, np.ones(D.shape[1]))
        model = spopt.LSCP.from_cost_matrix(D, radius)
        model = model.solve(pulp.PULP_CBC_CMD(msg=False))
        theirs = sum(v.value() for v in model.problem.variables() if v.name.startswith("y"))
        if ours.status == "infeasible":
            assert model.problem.status != 1
        else:
            assert ours.objective == pytest.approx(theirs)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_spopt_mclp_same_objective():
    spopt = pytest.importorskip("spopt.locate")
    import pulp

    rng = np.random.default_rng(7)
    for seed in range(3):
        D, radius = _distance_instance(seed)
        w = rng.integers(1, 20, D.shape[0]).astype(float)
        p = 4
        ours = solve_max_cover((radius >= D).astype(int), w, p=p)
        model = spopt.MCLP.from_cost_matrix(D, w, radius, p_facilities=p)
        model = model.solve(pulp.PULP_CBC_CMD(msg=False))
        theirs = pulp.value(model.problem.objective)
        assert ours.objective == pytest.approx(theirs)


# ------------------------------------------------------ two-type siting model


def _problem(
    cover_e,
    cover_c,
    *,
    cost_e,
    cost_c,
    cost_s=None,
    cost_shared=None,
    can_s=None,
    district=None,
    cand_district=None,
    urban=None,
    weight_e=None,
    weight_c=None,
    served_e=None,
    served_c=None,
    **kw,
):
    ce = np.array(cover_e)
    cc = np.array(cover_c)
    n, J = ce.shape
    cost_e = np.asarray(cost_e, float)
    cost_c = np.asarray(cost_c, float)
    cost_s = np.full(J, np.nan) if cost_s is None else np.asarray(cost_s, float)
    return SitingProblem.from_arrays(
        community_ids=np.array([f"c{i}" for i in range(n)]),
        district=np.array(district if district is not None else ["A"] * n),
        urban=np.array(urban if urban is not None else [True] * n),
        weight={
            "elderly": np.ones(n) if weight_e is None else np.asarray(weight_e, float),
            "childcare": np.ones(n) if weight_c is None else np.asarray(weight_c, float),
        },
        cover={"elderly": sp.csr_matrix(ce), "childcare": sp.csr_matrix(cc)},
        candidate_ids=np.array([f"s{j}" for j in range(J)]),
        candidate_district=np.array(cand_district if cand_district is not None else ["A"] * J),
        can_host={
            "elderly": np.isfinite(cost_e),
            "childcare": np.isfinite(cost_c),
            "street_centre": np.isfinite(cost_s) if can_s is None else np.asarray(can_s),
        },
        cost={"elderly": cost_e, "childcare": cost_c, "street_centre": cost_s},
        existing_served={
            "elderly": np.zeros(n, bool) if served_e is None else np.asarray(served_e, bool),
            "childcare": np.zeros(n, bool) if served_c is None else np.asarray(served_c, bool),
        },
        cost_shared=None if cost_shared is None else np.asarray(cost_shared, float),
        **kw,
    )


def test_shared_building_cheaper_than_two():
    # One community; site 0 can host both in one building.
    P = _problem([[1, 1]], [[1, 1]], cost_e=[10, 6], cost_c=[10, 6], cost_shared=[11, np.nan])
    r = solve_siting(P, mode="cover_all", mip_gap=0)
    assert r.status == "optimal"
    assert r.objective == 11.0
    assert r.opened["elderly"].tolist() == [0] and r.opened["childcare"].tolist() == [0]
    assert bool(r.sites.loc[0, "shared"]) and r.sites.loc[0, "kinds"] == "elderly;childcare"
    # Without sharing, site 0 may host only one kind: best is 6 + 6 at site 1 ... also one kind.
    P = _problem([[1, 1]], [[1, 1]], cost_e=[10, 6], cost_c=[10, 6])
    r = solve_siting(P, mode="cover_all", mip_gap=0)
    assert r.objective == 16.0  # 10 at one site + 6 at the other (each site one kind)
    # Sharing dearer than two buildings is charged as shared (it is the same building).
    P = _problem([[1]], [[1]], cost_e=[4], cost_c=[4], cost_shared=[9])
    r = solve_siting(P, mode="cover_all", mip_gap=0)
    assert r.objective == 9.0 and r.total_cost == 9.0


def test_required_and_excluded_sites():
    cov = [[1, 1, 0], [0, 1, 1]]
    P = _problem(cov, cov, cost_e=[1, 5, 1], cost_c=[1, 4, 1], cost_shared=[2, 8, 2])
    base = solve_siting(P, mode="cover_all", mip_gap=0)
    assert base.objective == 4.0  # sites 0 and 2, shared
    # Site 1 required as any kind: childcare there (4) + elderly at 0 and 2 (2).
    r = solve_siting(P.with_changes(required=np.array([1])), mode="cover_all", mip_gap=0)
    assert r.opened["childcare"].tolist() == [1]
    assert r.objective == pytest.approx(6.0)
    # Site 1 required as elderly: 5 + childcare at 0 and 2.
    r = solve_siting(P.with_changes(required={"elderly": ["s1"]}), mode="cover_all", mip_gap=0)
    assert 1 in r.opened["elderly"]
    assert r.objective == pytest.approx(7.0)
    # Site 0 excluded: community 0 can only be reached from site 1, for both kinds.
    r = solve_siting(P.with_changes(excluded=["s0"]), mode="cover_all", mip_gap=0)
    assert 0 not in set(r.sites["candidate"])
    assert r.objective == pytest.approx(8.0)  # shared building at site 1 serves both
    r = solve_siting(P.with_changes(excluded=np.array([0, 1])), mode="cover_all")
    assert r.status == "infeasible"
    assert r.explanation.uncoverable["elderly"].tolist() == [0]
    assert "c0" in str(r.explanation)
    with pytest.raises(InfeasibleError, match="c0"):
        r.raise_if_infeasible()


def test_existing_facilities_count_and_cost_nothing():
    cov = [[1, 0], [0, 1]]
    P = _problem(
        cov, cov, cost_e=[3, 3], cost_c=[2, 2], served_e=[True, False], served_c=[True, True]
    )
    r = solve_siting(P, mode="cover_all", mip_gap=0)
    assert r.objective == 3.0
    assert r.opened["elderly"].tolist() == [1] and len(r.opened["childcare"]) == 0
    assert r.served["elderly_before"].tolist() == [True, False]
    assert r.served["elderly_after"].all() and r.served["childcare_after"].all()
    assert r.reduction.communities_served_today == {"elderly": 1, "childcare": 2}


def test_street_centre_share_and_counts_as_elderly():
    # 4 streets (one per community), one has a centre; share 0.75 -> 3 streets -> 2 new.
    n = 4
    cov = np.eye(n, dtype=int)
    P = _problem(
        cov,
        cov,
        cost_e=[1] * n,
        cost_c=[1] * n,
        cost_s=[5, 5, 7, 5],
        cost_shared=[2] * n,
        served_c=[True] * n,
        street=np.array(["t0", "t1", "t2", "t3"]),
        candidate_street=np.array(["t0", "t1", "t2", "t3"]),
        streets_with_centre=np.array(["t3"]),
        district_targets=pd.DataFrame(
            {"street_centre_share": [0.75], "n_streets": [4]}, index=["A"]
        ),
    )
    r = solve_siting(P, mode="cover_all", mip_gap=0)
    assert r.status == "optimal"
    # Two centres in streets t0 and t1 (cost 5 each, they also serve elderly), elderly at 2 and 3.
    assert sorted(r.opened["street_centre"].tolist()) == [0, 1]
    assert sorted(r.opened["elderly"].tolist()) == [2, 3]
    assert r.objective == 12.0
    assert r.districts.loc[0, "streets_with_centre_after"] == 3
    # Switched off, no centre is built.
    r = solve_siting(P, mode="cover_all", targets=(), mip_gap=0)
    assert r.objective == 4.0 and len(r.opened["street_centre"]) == 0
    # A share that needs more streets than have candidates is explained.
    P2 = P.with_changes(
        can_host={**P.can_host, "street_centre": np.array([True, False, False, False])},
    )
    r = solve_siting(P2, mode="cover_all")
    assert r.status == "infeasible"
    (issue,) = r.explanation.targets
    assert issue.target == "street_centre_share" and issue.needed == 2 and issue.achievable == 1


def test_urban_rural_coverage_per_district():
    # District A: 3 urban + 2 rural; district B: 2 urban, no rural communities.
    n = 7
    cov = np.eye(n, dtype=int)
    district = ["A"] * 5 + ["B"] * 2
    urban = [True, True, True, False, False, True, True]
    costs = [1, 1, 1, 1, 1, 1, 1]
    dt = pd.DataFrame({"urban_cov": [0.9, 0.5], "rural_cov": [0.5, 0.5]}, index=["A", "B"])
    P = _problem(
        cov,
        cov,
        cost_e=costs,
        cost_c=costs,
        district=district,
        cand_district=district,
        urban=urban,
        weight_e=[1, 1, 1, 100, 100, 1, 1],
        weight_c=[0] * n,
        served_c=[True] * n,
        district_targets=dt,
    )
    # Budget 4: unconstrained best is the two rural (200) + two others; the targets need
    # all 3 urban in A (ceil(0.9*3)=3), 1 rural in A, 1 urban in B = 5 sites > 4.
    r = solve_siting(P, mode="budget", budget=4, mip_gap=0)
    assert r.status == "infeasible"
    assert r.explanation.min_budget == pytest.approx(5.0)
    assert "too small" in str(r.explanation)
    r = solve_siting(P, mode="budget", budget=5, mip_gap=0)
    assert r.status == "optimal"
    after = r.served["elderly_after"].to_numpy()
    assert after[:3].all()  # urban A
    assert after[3:5].sum() >= 1  # rural A
    assert after[5:].sum() >= 1  # urban B; B has no rural communities: no rural target there
    assert r.objective == pytest.approx(1 + 1 + 1 + 100 + 1)
    r = solve_siting(P, mode="budget", budget=5, targets=(), mip_gap=0)
    assert r.objective == pytest.approx(200 + 3)


def test_places_per_1000():
    cov = [[1, 1, 1]]
    P = _problem(
        cov,
        cov,
        cost_e=[1, 1, 1],
        cost_c=[1, 2, 3],
        served_e=[True],
        places_new=np.array([10.0, 30.0, 60.0]),
        district_targets=pd.DataFrame(
            {"places_per_1000": [4.8], "population": [10_000.0], "existing_places": [20.0]},
            index=["A"],
        ),
    )
    # Need 48 - 20 = 28 places: site 1 (30 places, cost 2) is cheapest.
    r = solve_siting(P, mode="cover_all", mip_gap=0)
    assert r.opened["childcare"].tolist() == [1]
    assert r.objective == 2.0
    assert r.districts.loc[0, "places_per_1000_after"] == pytest.approx(5.0)
    P2 = P.with_changes(
        district_targets=pd.DataFrame(
            {"places_per_1000": [4.8], "population": [100_000.0], "existing_places": [20.0]},
            index=["A"],
        )
    )
    r = solve_siting(P2, mode="cover_all")
    assert r.status == "infeasible"
    (issue,) = r.explanation.targets
    assert issue.target == "places_per_1000"
    assert issue.needed == pytest.approx(460.0) and issue.achievable == pytest.approx(100.0)


def test_minimum_per_district():
    cov = [[1, 1, 0], [0, 0, 1]]
    P = _problem(
        cov,
        cov,
        cost_e=[1, 1, 1],
        cost_c=[1, 2, 3],
        district=["A", "B"],
        cand_district=["A", "A", "B"],
        served_e=[True, True],
        served_c=[True, True],
        district_targets=pd.DataFrame(
            {"min_total_childcare": [2.0, 1.0], "existing_childcare": [0.0, 1.0]}, index=["A", "B"]
        ),
    )
    r = solve_siting(P, mode="cover_all", mip_gap=0)
    assert sorted(r.opened["childcare"].tolist()) == [0, 1]  # 2 new in A, none needed in B
    assert r.objective == 3.0
    P3 = P.with_changes(
        district_targets=pd.DataFrame({"min_new_childcare": [3.0]}, index=["A"]),
    )
    r = solve_siting(P3, mode="cover_all")
    assert r.status == "infeasible"
    assert r.explanation.targets[0].achievable == 2


def test_joint_conflict_is_explained():
    # One community, one site that cannot host both kinds (no sharing): each kind alone
    # is possible, both together are not.
    P = _problem([[1]], [[1]], cost_e=[1], cost_c=[1])
    r = solve_siting(P, mode="cover_all")
    assert r.status == "infeasible"
    assert r.explanation.unmet_coverage
    assert "c0" in str(r.explanation)
    assert "infeasible" in r.message


def _oracle_options(P, j):
    """Every set of kinds candidate j may host, with its cost (an independent reading)."""
    ok = {
        k: bool(P.can_host[k][j]) and np.isfinite(P.cost[k][j]) and j not in set(P.excluded)
        for k in ("elderly", "childcare", "street_centre")
    }
    share = np.isfinite(P.cost_shared[j])
    opts = [((), 0.0)]
    for k in ok:
        if ok[k]:
            opts.append(((k,), P.cost[k][j]))
    if share and ok["elderly"] and ok["childcare"]:
        opts.append((("elderly", "childcare"), P.cost_shared[j]))
    if share and ok["street_centre"] and ok["childcare"]:
        opts.append(
            (("childcare", "street_centre"), P.cost["street_centre"][j] + P.cost["childcare"][j])
        )
    return opts


def _oracle(P, mode, budget, targets_on):
    """The best objective by enumerating every combination of options per candidate."""
    cover = {k: P.cover[k].toarray() > 0 for k in ("elderly", "street_centre", "childcare")}
    best = None
    for combo in itertools.product(*[_oracle_options(P, j) for j in range(P.n_candidates)]):
        kinds = [set(k) for k, _ in combo]
        cost = sum(c for _, c in combo)
        if mode == "budget" and cost > budget + 1e-9:
            continue
        if not _oracle_required_met(P, kinds):
            continue
        se, sc = _oracle_served(P, kinds, cover)
        if mode == "cover_all" and not (se.all() and sc.all()):
            continue
        if targets_on and not _oracle_targets_met(P, mode, kinds, se):
            continue
        value = (
            cost
            if mode == "cover_all"
            else float(P.weight["elderly"][se].sum() + P.weight["childcare"][sc].sum())
        )
        if best is None or (value < best - 1e-9 if mode == "cover_all" else value > best + 1e-9):
            best = value
    return best


def _oracle_required_met(P, kinds):
    if isinstance(P.required, dict):
        return all(k in kinds[j] for k, idx in P.required.items() for j in idx)
    return all(kinds[j] for j in P.required)


def _oracle_served(P, kinds, cover):
    se = P.existing_served["elderly"].copy()
    sc = P.existing_served["childcare"].copy()
    for j in range(P.n_candidates):
        if "elderly" in kinds[j]:
            se |= cover["elderly"][:, j]
        if "street_centre" in kinds[j]:
            se |= cover["street_centre"][:, j]
        if "childcare" in kinds[j]:
            sc |= cover["childcare"][:, j]
    return se, sc


def _oracle_targets_met(P, mode, kinds, se):
    """Every district target of the table, read independently of the model."""
    J = P.n_candidates
    dt = P.district_targets
    for d in dt.index:
        row = dt.loc[d]
        if mode == "budget":
            for urb, col in ((True, "urban_cov"), (False, "rural_cov")):
                cls = (P.district == d) & (P.urban == urb)
                if cls.sum() and se[cls].sum() < math.ceil(row[col] * cls.sum() - 1e-9):
                    return False
        in_d = P.candidate_district == d
        places = row["existing_places"] + sum(
            P.places_new[j] for j in range(J) if in_d[j] and "childcare" in kinds[j]
        )
        if places < row["places_per_1000"] * row["population"] / 1000 - 1e-9:
            return False
        n_new = sum(1 for j in range(J) if in_d[j] and "childcare" in kinds[j])
        if n_new < row["min_total_childcare"] - row["existing_childcare"]:
            return False
        streets = set(P.street[P.district == d]) | set(P.candidate_street[in_d])
        with_centre = (streets & set(P.streets_with_centre)) | {
            P.candidate_street[j] for j in range(J) if in_d[j] and "street_centre" in kinds[j]
        }
        if len(with_centre) < math.ceil(row["street_centre_share"] * row["n_streets"] - 1e-9):
            return False
    return True


def _tiny_problem(rng):
    n = int(rng.integers(2, 7))
    J = int(rng.integers(2, 5))
    dens = rng.uniform(0.5, 0.95)
    ce = (rng.random((n, J)) < dens).astype(int)
    cc = np.maximum(ce, (rng.random((n, J)) < 0.3)).astype(int)
    can = {
        k: rng.random(J) < p
        for k, p in (("elderly", 0.8), ("childcare", 0.8), ("street_centre", 0.5))
    }
    cost = {k: np.where(can[k], rng.integers(1, 8, J).astype(float), np.nan) for k in can}
    shared = np.where(
        rng.random(J) < 0.6,
        np.nan_to_num(cost["elderly"]) + np.nan_to_num(cost["childcare"]) + rng.integers(-4, 2, J),
        np.nan,
    )
    shared = np.where(np.isfinite(shared), np.maximum(shared, 0), np.nan)
    district = rng.choice(["A", "B"], n)
    cdist = rng.choice(["A", "B"], J)
    street = np.array([f"{d}{s}" for d, s in zip(district, rng.integers(0, 2, n), strict=True)])
    cstreet = np.array([f"{d}{s}" for d, s in zip(cdist, rng.integers(0, 2, J), strict=True)])
    dt = pd.DataFrame(
        {
            "urban_cov": rng.choice([0.0, 0.5, 0.9], 2),
            "rural_cov": rng.choice([0.0, 0.5, 0.8], 2),
            "street_centre_share": rng.choice([0.0, 0.0, 0.0, 0.4, 0.7], 2),
            "n_streets": [2.0, 2.0],
            "places_per_1000": [4.8, 4.8],
            "population": rng.choice([0.0, 0.0, 1000.0, 3000.0], 2),
            "existing_places": [5.0, 5.0],
            "min_total_childcare": rng.choice([0.0, 0.0, 1.0], 2),
            "existing_childcare": [0.0, 0.0],
        },
        index=["A", "B"],
    )
    required = None
    if rng.random() < 0.15:
        required = np.array([int(rng.integers(0, J))])
    excluded = None
    if rng.random() < 0.15:
        excluded = np.array([int(rng.integers(0, J))])
        if required is not None and excluded[0] == required[0]:
            excluded = None
    return SitingProblem.from_arrays(
        community_ids=np.array([f"c{i}" for i in range(n)]),
        district=district,
        urban=rng.random(n) < 0.6,
        weight={
            "elderly": rng.integers(0, 9, n).astype(float),
            "childcare": rng.integers(0, 5, n).astype(float),
        },
        cover={"elderly": sp.csr_matrix(ce), "childcare": sp.csr_matrix(cc)},
        candidate_ids=np.array([f"s{j}" for j in range(J)]),
        candidate_district=cdist,
        can_host=can,
        cost=cost,
        existing_served={"elderly": rng.random(n) < 0.3, "childcare": rng.random(n) < 0.3},
        cost_shared=shared,
        places_new=rng.integers(0, 20, J).astype(float),
        street=street,
        candidate_street=cstreet,
        streets_with_centre=np.array(["A0"]),
        district_targets=dt,
        required=required,
        excluded=excluded,
    )


@pytest.mark.parametrize("mode", ["cover_all", "budget"])
def test_siting_brute_force_200(mode):
    rng = np.random.default_rng(21 if mode == "cover_all" else 22)
    n_feasible = 0
    for _ in range(200):
        P = _tiny_problem(rng)
        targets_on = bool(rng.random() < 0.7)
        budget = float(rng.integers(0, 20)) if mode == "budget" else None
        want = _oracle(P, mode, budget, targets_on)
        r = solve_siting(P, mode=mode, budget=budget, targets=None if targets_on else (), mip_gap=0)
        if want is None:
            assert r.status == "infeasible", (r.objective, r.opened)
            assert r.explanation is not None and str(r.explanation)
            continue
        n_feasible += 1
        assert r.status == "optimal", r.message
        assert r.objective == pytest.approx(want)
        assert r.total_cost == pytest.approx(plan_cost(P, r.opened).sum())
        if mode == "budget":
            assert r.total_cost <= budget + 1e-9
        # The model handed to HiGHS without presolve reductions has the same optimum.
        r2 = solve_siting(
            P, mode=mode, budget=budget, targets=None if targets_on else (), mip_gap=0, reduce=False
        )
        assert r2.objective == pytest.approx(want)
    assert n_feasible >= 60  # the comparison is not vacuous


def test_served_matches_reach_recomputed_from_points():
    rng = np.random.default_rng(5)
    pts = rng.random((80, 2)) * 1000
    sites = rng.random((60, 2)) * 1000
    r_e, r_c = 220.0, 260.0
    P = SitingProblem.from_arrays(
        community_ids=np.arange(80),
        district=np.array(["A"] * 80),
        urban=np.ones(80, bool),
        weight={"elderly": np.ones(80), "childcare": np.ones(80)},
        cover={"elderly": disc_cover(pts, sites, r_e), "childcare": disc_cover(pts, sites, r_c)},
        candidate_ids=np.arange(60),
        candidate_district=np.array(["A"] * 60),
        can_host={"elderly": np.ones(60, bool), "childcare": np.ones(60, bool)},
        cost={"elderly": np.full(60, 3.0), "childcare": np.full(60, 2.0)},
        cost_shared=np.full(60, 4.0),
    )
    for mode, budget in (("cover_all", None), ("budget", 20.0)):
        r = solve_siting(P, mode=mode, budget=budget, allow_uncoverable=True)
        assert r.has_solution
        D = np.linalg.norm(pts[:, None, :] - sites[None, :, :], axis=2)
        e = (D[:, r.opened["elderly"]] <= r_e).any(axis=1)
        c = (D[:, r.opened["childcare"]] <= r_c).any(axis=1)
        assert r.served["elderly_after"].to_numpy().tolist() == e.tolist()
        assert r.served["childcare_after"].to_numpy().tolist() == c.tolist()
        if mode == "cover_all":
            reachable_e = (r_e >= D).any(axis=1)
            assert (e == reachable_e).all()


def test_siting_time_limit_status():
    P = random_siting_problem(600, 2400, seed=2)
    r = solve_siting(P, mode="cover_all", time_limit=0.05)
    assert r.status == "time_limit"
    if r.has_solution:
        assert r.served["elderly_after"].all() and r.served["childcare_after"].all()
        assert r.bound <= r.objective + 1e-6
    else:
        assert "no feasible plan" in r.message


def test_synthetic_problem_solves_with_targets():
    P = random_siting_problem(150, 500, seed=3)
    r = solve_siting(P, mode="cover_all", time_limit=30)
    assert r.status in ("optimal", "time_limit") and r.has_solution
    d = r.districts.set_index("district")
    assert (d["places_per_1000_after"] >= 4.8 - 1e-9).all()
    t = P.district_targets
    need = np.ceil(t["street_centre_share"] * t["n_streets"] - 1e-9)
    assert (d["streets_with_centre_after"].reindex(t.index) >= need).all()
    assert r.reduction.rows < r.reduction.naive_rows


def _budget_model(P, budget: float):
    """solve_siting's budget model of P with all district targets, as it builds it."""
    from carecircle.siting import model

    return model.build_model(
        P,
        mode="budget",
        budget=budget,
        targets=None,
        coverage_kinds=("elderly",),
        reduce=True,
    )


def _assert_satisfies_rows(m, x) -> None:
    ax = m.A @ x
    assert (ax >= m.row_lower - 1e-7).all() and (ax <= m.row_upper + 1e-7).all()


def _min_budget(P) -> float:
    """Least cost that meets P's district targets: the budget model's rows, cost minimised.

    Built here rather than with ``siting._least_cost_model``: it is the oracle for it.
    """
    from carecircle.siting import _milp

    M = _budget_model(P, 1e15)
    m = M.milp
    sol = _milp.solve(
        _milp.MilpModel(
            c=M.cost,
            A=m.A,
            row_lower=m.row_lower,
            row_upper=m.row_upper,
            col_lower=m.col_lower,
            col_upper=m.col_upper,
            integrality=m.integrality,
        ),
        mip_gap=0,
    )
    assert sol.status == "optimal"
    return float(sol.objective)


def test_least_cost_start_is_feasible_for_the_budget_model():
    from carecircle.siting import model, problem, result, solve

    P = random_siting_problem(150, 500, seed=3)
    need = _min_budget(P)
    budget = 1.5 * need
    M = _budget_model(P, budget)
    x, least = solve._least_cost_start(M, budget, time_limit=30)
    assert x is not None
    m = M.milp
    _assert_satisfies_rows(m, x)
    assert (x >= m.col_lower - 1e-9).all() and (x <= m.col_upper + 1e-9).all()
    integ = np.asarray(m.integrality, dtype=bool)
    assert np.array_equal(x[integ], np.round(x[integ]))
    assert need - 1e-6 <= float(M.cost @ x) <= need * (1 + 1e-4) + 1e-6
    # The served shares are at their maximum for these sites: the budget model
    # solved with the same sites fixed cannot serve more.
    served = result.communities_served(P, model.decode(M, x))
    gain = sum(P.weight[k][served[k] & ~P.existing_served[k]].sum() for k in problem.KINDS)
    assert float(m.c @ x) == pytest.approx(gain - M.eps * float(M.cost @ x), rel=1e-9, abs=1e-6)
    # A budget below the least cost: no start.
    assert least.status == "optimal" and least.bound <= need + 1e-6
    assert solve._least_cost_start(M, 0.9 * need, time_limit=30)[0] is None


def test_spend_rest_is_feasible_and_greedy_maximal():
    from carecircle.siting import model, problem, result, solve

    P = random_siting_problem(150, 500, seed=3)
    need = _min_budget(P)
    budget = 1.5 * need
    M = _budget_model(P, budget)
    x0, _ = solve._least_cost_start(M, budget, time_limit=30)
    x = solve._spend_rest(P, M, x0, budget, time_limit=30)
    m = M.milp
    _assert_satisfies_rows(m, x)
    opened = model.decode(M, x)
    cost = float(result.plan_cost(P, opened).sum())
    assert cost <= budget + 1e-6
    assert float(m.c @ x) > float(m.c @ x0)  # more residents served for the money
    # Greedy-maximal: no single site left that fits the rest of the budget and serves anyone.
    served = result.communities_served(P, opened)
    left = budget - cost
    for k in problem.HOST_KINDS:
        kind = "childcare" if k == "childcare" else "elderly"
        for j in M.var[k]:
            if j in set(opened[k]):
                continue
            trial = {kk: np.r_[v, [j]] if kk == k else v for kk, v in opened.items()}
            hosts = {kk: set(v.tolist()) for kk, v in trial.items()}
            if j in hosts["elderly"] and j in hosts["street_centre"]:
                continue
            n_kinds = sum(j in hosts[kk] for kk in problem.HOST_KINDS)
            if n_kinds > 1 and not np.isfinite(P.cost_shared[j]):
                continue
            extra = float(result.plan_cost(P, trial).sum()) - cost
            newly = result.communities_served(P, trial)[kind] & ~served[kind]
            if extra <= left - 1e-6:
                assert P.weight[kind][newly].sum() == 0, (k, j)


def test_budget_below_the_targets_cost_is_proved_infeasible():
    P = random_siting_problem(150, 500, seed=3)
    need = _min_budget(P)
    r = solve_siting(P, mode="budget", budget=0.9 * need, time_limit=30)
    assert r.status == "infeasible" and not r.has_solution
    ex = r.explanation
    assert 0.9 * need < ex.min_budget <= need + 1e-6
    assert "too small for the district targets" in r.message and "预算" in r.message


def test_budget_mode_falls_back_to_least_cost_plan(monkeypatch):
    """When HiGHS finds no plan in time, the least-cost plan meeting the targets is returned."""
    from carecircle.siting import _milp

    P = random_siting_problem(150, 500, seed=3)
    need = _min_budget(P)
    budget = 1.5 * need
    real_solve = _milp.solve

    def starved(model, *, time_limit=None, mip_gap=None, warm_start=None):
        if model.maximize and np.any(model.integrality):  # the budget MILP: no time at all
            time_limit = 1e-9
        return real_solve(model, time_limit=time_limit, mip_gap=mip_gap, warm_start=warm_start)

    monkeypatch.setattr(_milp, "solve", starved)
    r = solve_siting(P, mode="budget", budget=budget, time_limit=30)
    assert r.status == "time_limit" and r.has_solution
    assert "least-cost" in r.message and "最低成本" in r.message
    assert need - 1e-6 <= r.total_cost <= budget + 1e-6
    d = r.districts.set_index("district")
    assert (d["places_per_1000_after"] >= 4.8 - 1e-9).all()
    # Without a time limit there is no fallback to race: HiGHS solves to the end.
    monkeypatch.setattr(_milp, "solve", real_solve)
    full = solve_siting(P, mode="budget", budget=budget)
    assert full.status == "optimal" and full.objective >= r.objective - 1e-6


def test_siting_input_errors():
    cov = [[1]]
    with pytest.raises(InputError, match="wrong shape"):
        _problem(cov, [[1, 1]], cost_e=[1], cost_c=[1])
    with pytest.raises(InputError, match="cost"):
        _problem(cov, cov, cost_e=[-1], cost_c=[1])
    P = _problem(cov, cov, cost_e=[1], cost_c=[1])
    with pytest.raises(InputError, match="budget"):
        solve_siting(P, mode="budget")
    with pytest.raises(InputError, match="unknown candidate"):
        P.with_changes(excluded=["nope"])
    with pytest.raises(InputError, match="unknown columns"):
        P.with_changes(district_targets=pd.DataFrame({"urban_coverage": [0.9]}, index=["A"]))
