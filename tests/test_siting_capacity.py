"""Capacitated siting: the capacity block of the model, by hand and by brute force.

The brute force enumerates every way to open the candidates and places the demand with
networkx's maximum flow (an independent method); the model's plan must reach the same
objective (cost + the penalty per person left unplaced) and never exceed a capacity.
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from carecircle.siting.model import build_model
from carecircle.siting.problem import SitingProblem
from carecircle.siting.solve import solve_siting


def _problem(**kw) -> SitingProblem:
    cover = np.array([[1, 0, 1], [1, 1, 1], [0, 1, 1]])
    args = {
        "community_ids": ["a", "b", "c"], "district": ["D"] * 3, "urban": [True] * 3,
        "weight": {"elderly": [300.0] * 3, "childcare": [10.0] * 3},
        "cover": {"elderly": cover, "childcare": cover},
        "candidate_ids": ["s0", "s1", "s2"], "candidate_district": ["D"] * 3,
        "can_host": {"elderly": [True] * 3, "childcare": [True] * 3},
        "cost": {"elderly": [1.0, 1.0, 5.0], "childcare": [1.0, 1.0, 5.0]},
        "existing_served": {"elderly": [False] * 3, "childcare": [True] * 3},
        "demand": {"elderly": [30.0, 30.0, 30.0], "childcare": [0.0, 0.0, 0.0]},
        "capacity_new": {"elderly": [40.0, 40.0, 100.0], "childcare": [10.0] * 3,
                         "street_centre": [0.0] * 3},
    }
    args.update(kw)
    return SitingProblem.from_arrays(**args)


def test_demand_that_does_not_fit_picks_the_bigger_site():
    # s0 + s1 cost 2 and cover everyone but hold 80 of 90 users; s2 (cost 5) holds all.
    assert solve_siting(_problem(demand=None), mode="cover_all").total_cost == 2.0
    r = solve_siting(_problem(), mode="cover_all")
    assert r.status == "optimal" and r.opened["elderly"].tolist() == [2] and r.total_cost == 5.0


def test_an_existing_facility_over_capacity_gets_help_where_everyone_is_served_today():
    # Everyone is served today by one station of capacity 50; demand 90.  Without capacity
    # nothing is built; with it, sites are added until the 90 fit (s0 + s1: 40 + 40 + 50).
    kw = {"existing_served": {"elderly": [True] * 3, "childcare": [True] * 3},
          "existing_capacity": {"elderly": [50.0], "childcare": []},
          "existing_cover": {"elderly": np.ones((3, 1)), "childcare": np.zeros((3, 0))}}
    assert solve_siting(_problem(demand=None, **kw), mode="cover_all").total_cost == 0.0
    r = solve_siting(_problem(**kw), mode="cover_all")
    assert r.total_cost == 1.0  # one 40-user site is enough: 50 + 40 = 90


def test_a_shared_building_splits_its_capacity():
    # One candidate hosts both kinds in one building (capacities 100 / 50 alone, 60 / 20
    # shared); another hosts childcare only.  Demand: 70 elderly, 20 children.
    # Shared at site 0: elderly 60 < 70 -> 10 left; so elderly at site 0 alone and
    # childcare at site 1 is the plan (cost 1 + 1 = 2 < 1.6 shared + penalty).
    P = SitingProblem.from_arrays(
        community_ids=["a"], district=["D"], urban=[True],
        weight={"elderly": [1000.0], "childcare": [125.0]},
        cover={"elderly": [[1, 0]], "childcare": [[1, 1]]},
        candidate_ids=["s0", "s1"], candidate_district=["D", "D"],
        can_host={"elderly": [True, False], "childcare": [True, True]},
        cost={"elderly": [1.0, np.nan], "childcare": [1.0, 1.0]},
        cost_shared=[1.6, np.nan],
        demand={"elderly": [70.0], "childcare": [20.0]},
        capacity_new={"elderly": [100.0, 0.0], "childcare": [50.0, 20.0], "street_centre": [0.0, 0.0]},
        capacity_shared={"elderly": [60.0, 0.0], "childcare": [20.0, 20.0], "street_centre": [0.0, 0.0]},
    )
    r = solve_siting(P, mode="cover_all")
    assert r.opened["elderly"].tolist() == [0] and r.opened["childcare"].tolist() == [1]
    assert r.total_cost == 2.0
    # with 60 elderly the shared building fits both and is cheapest
    r = solve_siting(P.with_changes(demand={"elderly": [60.0], "childcare": [20.0]}), mode="cover_all")
    assert r.opened["elderly"].tolist() == [0] and r.opened["childcare"].tolist() == [0]
    assert r.total_cost == pytest.approx(1.6)


def _placed(demand, cover, cap_existing, cover_existing, caps) -> float:
    """Demand placed, by networkx's maximum flow (independent of the model)."""
    G = nx.DiGraph()
    n = len(demand)
    for i in range(n):
        G.add_edge("s", ("c", i), capacity=int(demand[i]))
    for f, c in enumerate(cap_existing):
        G.add_edge(("e", f), "t", capacity=int(c))
        for i in np.flatnonzero(cover_existing[:, f]):
            G.add_edge(("c", i), ("e", f))
    for j, c in caps.items():
        G.add_edge(("n", j), "t", capacity=int(c))
        for i in np.flatnonzero(cover[:, j]):
            G.add_edge(("c", i), ("n", j))
    return float(nx.maximum_flow_value(G, "s", "t")) if G.number_of_edges() else 0.0


@pytest.mark.parametrize(("seed", "method"), [(s, "exact") for s in range(12)]
                         + [(s, "scale") for s in range(6)])
def test_cover_all_with_capacity_against_brute_force(seed, method):
    # The scale path (LP bound, heuristics on the model's rows and columns) takes the
    # capacity block too: its plan and its bound are checked against the brute force.
    rng = np.random.default_rng(seed)
    n, J = 4, 4
    ce = (rng.random((n, J)) < 0.5).astype(int)
    cc = (rng.random((n, J)) < 0.5).astype(int)
    cost_e = rng.integers(1, 10, J).astype(float)
    cost_c = rng.integers(1, 10, J).astype(float)
    share = rng.random(J) < 0.5
    cost_s = np.where(share, 0.8 * (cost_e + cost_c), np.nan)
    F = {"elderly": rng.integers(5, 40, J).astype(float), "childcare": rng.integers(5, 30, J).astype(float)}
    S = {"elderly": np.floor(0.6 * F["elderly"]), "childcare": np.floor(0.4 * F["childcare"])}
    dem = {"elderly": rng.integers(0, 30, n).astype(float), "childcare": rng.integers(0, 15, n).astype(float)}
    ex_cap = {"elderly": np.array([float(rng.integers(0, 30))]), "childcare": np.zeros(0)}
    ex_cov = {"elderly": (rng.random((n, 1)) < 0.5).astype(int), "childcare": np.zeros((n, 0))}
    served = {"elderly": ex_cov["elderly"][:, 0].astype(bool), "childcare": np.zeros(n, bool)}
    P = SitingProblem.from_arrays(
        community_ids=[f"c{i}" for i in range(n)], district=["D"] * n, urban=[True] * n,
        weight={"elderly": dem["elderly"] * 10, "childcare": dem["childcare"] * 6},
        cover={"elderly": ce, "childcare": cc}, candidate_ids=[f"s{j}" for j in range(J)],
        candidate_district=["D"] * J, can_host={"elderly": [True] * J, "childcare": [True] * J},
        cost={"elderly": cost_e, "childcare": cost_c}, cost_shared=cost_s, existing_served=served,
        demand=dem, capacity_new={**F, "street_centre": np.zeros(J)},
        capacity_shared={**S, "street_centre": np.zeros(J)},
        existing_capacity=ex_cap, existing_cover=ex_cov)
    penalty = 2.0 * max(cost_e.max(), cost_c.max(), np.nanmax(cost_s) if share.any() else 0.0) + 1.0
    r = solve_siting(P, mode="cover_all", allow_uncoverable=True, method=method,
                     time_limit=None if method == "exact" else 20.0)
    assert r.status == "optimal" and r.method == method

    def value(open_e, open_c) -> float | None:
        for kind, cov, opened in (("elderly", ce, open_e), ("childcare", cc, open_c)):
            need = ~served[kind] & (cov.sum(axis=1) > 0)
            got = cov[:, list(opened)].sum(axis=1) > 0 if opened else np.zeros(n, bool)
            if (need & ~got).any():
                return None
        cost, unplaced = 0.0, 0.0
        both = open_e & open_c
        if any(not share[j] for j in both):
            return None
        for j in open_e | open_c:
            if j in both:
                cost += cost_s[j]
            else:
                cost += cost_e[j] if j in open_e else cost_c[j]
        for kind, cov, opened in (("elderly", ce, open_e), ("childcare", cc, open_c)):
            caps = {j: (S if j in both else F)[kind][j] for j in opened}
            unplaced += dem[kind].sum() - _placed(dem[kind], cov, ex_cap[kind], ex_cov[kind], caps)
        return cost + penalty * unplaced

    best = np.inf
    subsets = [set(s) for m in range(J + 1) for s in itertools.combinations(range(J), m)]
    for oe in subsets:
        for oc in subsets:
            v = value(oe, oc)
            if v is not None:
                best = min(best, v)
    got = value(set(r.opened["elderly"].tolist()), set(r.opened["childcare"].tolist()))
    assert got == pytest.approx(best), seed
    assert r.bound <= r.objective * (1 + 1e-9) + 1e-6  # the plan proved within its bound


def test_the_model_grows_by_the_assignment_pairs_and_reduces_unused_columns():
    P = _problem()
    M0 = build_model(P.with_changes(demand=None), mode="cover_all")
    M1 = build_model(P, mode="cover_all")
    assert M1.milp.n_cols > M0.milp.n_cols
    # three groups (a, b, c reach different sets) x their candidates: 2 + 3 + 2 pairs
    assert M1.milp.n_cols - M0.milp.n_cols >= 7
    assert np.isfinite(M1.milp.c).all()


def test_budget_mode_counts_served_with_room():
    # Budget 1: one site.  s0 (cap 40) reaches a, b (60 users); s2 (cap 100) costs 5.
    # Residents served with room: s0 holds 40 of a+b's 60 -> 2/3 of 600 residents = 400;
    # s1 likewise.  Reach alone would count 600.
    r = solve_siting(_problem(), mode="budget", budget=1.0)
    assert r.total_cost == 1.0 and len(r.opened["elderly"]) == 1
    M = build_model(_problem(), mode="budget", budget=1.0)
    from carecircle.siting import _milp

    sol = _milp.solve(M.milp)
    # 400 residents with room (60+ weights) + the 30 children served today (offset)
    assert sol.objective == pytest.approx(400.0 + 30.0, rel=1e-6)


def test_problem_checks_capacity_shapes():
    from carecircle.errors import InputError

    with pytest.raises(InputError, match="existing_cover"):
        _problem(existing_capacity={"elderly": [1.0, 2.0], "childcare": []},
                 existing_cover={"elderly": sp.csr_matrix((3, 1)), "childcare": np.zeros((3, 0))})
    with pytest.raises(InputError, match="demand"):
        _problem(demand={"elderly": [-1.0, 0.0, 0.0], "childcare": [0.0] * 3})


def test_a_new_institution_takes_elderly_demand_up_to_its_beds():
    # Issue 19 x issue 18: an elderly institution serves elderly care, and in a capacitated
    # plan its beds are its capacity.  Demand 90 (30 per community); the stations s0, s1
    # hold 40 each (cost 1 each, 80 < 90: 10 left); s2 may host only an institution, cost
    # 3, reaching everyone.  With 90 beds it alone places everything (3 < 1 + 1 + the
    # penalty); with 20 beds, s2 + s0 places 60 of 90 and s0 + s1 80: only s0 + s1 + s2
    # (cost 5) places all 90.
    def with_inst(beds: float) -> SitingProblem:
        return _problem(
            can_host={"elderly": [True, True, False], "childcare": [True] * 3,
                      "institution": [False, False, True]},
            cost={"elderly": [1.0, 1.0, np.nan], "childcare": [1.0, 1.0, 5.0],
                  "institution": [np.nan, np.nan, 3.0]},
            beds_new=[0.0, 0.0, beds])
    P = with_inst(90.0)
    assert P.capacity_new["institution"].tolist() == [0.0, 0.0, 90.0]  # its beds
    r = solve_siting(P, mode="cover_all")
    assert r.status == "optimal" and r.opened["institution"].tolist() == [2]
    assert r.opened["elderly"].tolist() == [] and r.total_cost == 3.0
    r = solve_siting(with_inst(20.0), mode="cover_all")
    assert r.opened["institution"].tolist() == [2] and r.opened["elderly"].tolist() == [0, 1]
    assert r.total_cost == 5.0
    # without capacity, presence is enough: the two stations (2) beat the institution (3)
    assert solve_siting(with_inst(20.0).with_changes(demand=None), mode="cover_all").total_cost == 1.0 + 1.0
