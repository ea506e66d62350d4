"""Synthetic siting instances with spatial structure, for tests and benchmarks.

Points in a square plane, districts as a grid of blocks, streets as a finer grid,
urban communities near the centre; a candidate covers a community when within a
radius (elderly reach shorter than childcare reach, as elderly people walk
slower).  Costs follow floor area and acquisition type like the plan's unit
costs; a building of >= 500 m2 may host both kinds at 0.8 x the sum.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from carecircle.siting.problem import SitingProblem, make_district_targets


def disc_cover(points: np.ndarray, sites: np.ndarray, radius: float) -> sp.csr_matrix:
    """0/1 CSR matrix: ``[i, j] = 1`` when site ``j`` is within *radius* of point ``i``.

    Parameters
    ----------
    points, sites
        ``(n, 2)`` and ``(m, 2)`` coordinates in metres.
    radius
        Reach in metres (Euclidean).

    Returns
    -------
    scipy.sparse.csr_matrix
        ``int8``, points x sites, sorted indices.
    """
    pairs = cKDTree(points).query_ball_tree(cKDTree(sites), radius)
    rows = np.repeat(np.arange(len(points)), [len(p) for p in pairs])
    cols: np.ndarray = (
        np.concatenate([np.asarray(p, dtype=np.int64) for p in pairs])
        if len(pairs)
        else np.zeros(0, np.int64)
    )
    M = sp.csr_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(len(points), len(sites)))
    M.sort_indices()
    return M


def random_siting_problem(
    n_communities: int,
    n_candidates: int,
    *,
    seed: int = 0,
    side: float = 10_000.0,
    per_community: float = 30.0,
    districts: int = 2,
    streets_per_district: int = 4,
    existing_share: float = 0.3,
    street_centre_share: float = 0.7,
    targets: bool = True,
) -> SitingProblem:
    """A random two-type instance; about *per_community* candidates in elderly reach.

    Parameters
    ----------
    n_communities, n_candidates
        Problem size.
    seed
        Random seed (the same seed gives the same problem).
    side
        Side of the square plane in metres.
    per_community
        Mean number of candidates within the elderly reach of a community.
    districts
        District blocks per side (``districts**2`` districts).
    streets_per_district
        Streets per district side.
    existing_share
        Roughly the share of communities served today.
    street_centre_share
        Share of large (>= 800 m2) candidates that may host a street centre.
    targets
        Give the plan's district targets (places per 1,000 with 2 places per 1,000
        today, one public childcare per district and none today).

    Returns
    -------
    SitingProblem
    """
    rng = np.random.default_rng(seed)
    P = rng.random((n_communities, 2)) * side
    Q = rng.random((n_candidates, 2)) * side
    density = n_candidates / side**2
    r_e = float(np.sqrt(per_community / density / np.pi))
    r_c = 1.2 * r_e

    def block(xy, k):
        g = np.minimum((xy / side * k).astype(int), k - 1)
        return g[:, 0] * k + g[:, 1]

    d_comm = np.array([f"D{b}" for b in block(P, districts)], dtype=object)
    d_cand = np.array([f"D{b}" for b in block(Q, districts)], dtype=object)
    ks = districts * streets_per_district
    s_comm = np.array([f"S{b}" for b in block(P, ks)], dtype=object)
    s_cand = np.array([f"S{b}" for b in block(Q, ks)], dtype=object)
    centre = np.array([side / 2, side / 2])
    urban = np.linalg.norm(P - centre, axis=1) < 0.35 * side

    pop = np.round(rng.lognormal(7.5, 0.6, n_communities))
    pop60 = np.round(pop * rng.uniform(0.12, 0.22, n_communities))
    pop03 = np.round(pop * rng.uniform(0.02, 0.04, n_communities))

    area = rng.uniform(150, 1500, n_candidates).round()
    unit = rng.choice([7500.0, 2800.0, 2000.0], n_candidates, p=[0.3, 0.4, 0.3])
    can_e = area >= 300
    can_c = area >= 200
    can_s = (area >= 800) & (rng.random(n_candidates) < street_centre_share)
    cost_e = unit * np.minimum(area, 600)
    cost_c = unit * np.minimum(area, 400)
    cost_s = unit * area
    shared = np.where(area >= 500, 0.8 * (cost_e + cost_c), np.nan)
    places = np.floor(np.minimum(area, 400) / 8.0)

    # Existing facilities: a few random points; a community is served if one is near.
    n_ex = max(1, int(existing_share * n_communities / per_community * 3))
    ex_e = rng.random((n_ex, 2)) * side
    ex_c = rng.random((n_ex, 2)) * side
    served_e = np.asarray(disc_cover(P, ex_e, r_e).sum(axis=1)).ravel() > 0
    served_c = np.asarray(disc_cover(P, ex_c, r_c).sum(axis=1)).ravel() > 0
    cover_e = disc_cover(P, Q, r_e)
    cover_c = disc_cover(P, Q, r_c)
    problem = SitingProblem.from_arrays(
        community_ids=np.array([f"C{i}" for i in range(n_communities)], dtype=object),
        district=d_comm,
        urban=urban,
        weight={"elderly": pop60, "childcare": pop03},
        cover={"elderly": cover_e, "childcare": cover_c},
        candidate_ids=np.array([f"K{j}" for j in range(n_candidates)], dtype=object),
        candidate_district=d_cand,
        can_host={"elderly": can_e, "childcare": can_c, "street_centre": can_s},
        cost={"elderly": cost_e, "childcare": cost_c, "street_centre": cost_s},
        existing_served={"elderly": served_e, "childcare": served_c},
        cost_shared=shared,
        places_new=places,
        population=pop,
        street=s_comm,
        candidate_street=s_cand,
        streets_with_centre=np.unique(s_comm)[:: max(1, int(1 / 0.3))],
    )
    if targets:
        dist = np.unique(d_comm)
        existing_places = {d: 2.0 * pop[d_comm == d].sum() / 1000 for d in dist}
        # The table is made for this problem: no need to validate it (and the reach) again.
        problem = replace(problem, district_targets=make_district_targets(
            problem,
            existing_places=existing_places,
            min_total={"childcare": 1},
            existing_counts={"childcare": dict.fromkeys(dist, 0)},
        ))
    return problem
