"""Why a plan leaves a community unserved: read from the siting problem itself.

For a community on the network that the plan does not serve with a kind, the reason
is the first that holds:

1. ``no_candidate``: no candidate site within its walk (for a village's elderly care:
   within the rural travel limit, the problem's reach) can host the kind (none of that
   kind allowed by its ``kinds``, big enough, and with a cost);
2. ``excluded_only``: there are such candidates, but every one is in ``plan.excluded``;
3. ``budget``: in budget mode, candidates are within reach and allowed; the budget
   went elsewhere;
4. ``other``: candidates within reach are allowed but the plan (cover_all) does not
   use them: they cannot be combined with the other constraints, or the model and
   the recomputed walk disagree (the run's notes then warn).

Labels and the reasons of served and off-network communities are in
:mod:`carecircle.assess.reasons`.
"""

from __future__ import annotations

import numpy as np

from carecircle.siting.problem import ELDERLY_HOSTS, KINDS, SitingProblem

#: The host kinds that serve each kind (a street centre and an elderly institution serve
#: elderly care, as in the model's coverage rows).
SERVED_BY = {"elderly": ELDERLY_HOSTS, "childcare": ("childcare",)}


def _reaches(P: SitingProblem, kind: str, usable: dict[str, np.ndarray]) -> np.ndarray:
    """Per community: some candidate usable for *kind* is within its walk."""
    hit = np.zeros(P.n_communities, bool)
    for host in SERVED_BY[kind]:
        cols = np.flatnonzero(usable[host])
        if len(cols):
            hit |= P.cover[host][:, cols].getnnz(axis=1) > 0
    return hit


def plan_reasons(P: SitingProblem, served: dict[str, np.ndarray], mode: str) -> dict[str, np.ndarray]:
    """Reason codes per community of *P* and kind (``""`` where served).

    Parameters
    ----------
    P
        The siting problem (its rows are the communities on the network).
    served
        ``{kind: bool per community}`` after the plan.
    mode
        ``"cover_all"`` or ``"budget"``.

    Returns
    -------
    dict
        ``{kind: object array}`` of ``""``, ``no_candidate``, ``excluded_only``,
        ``budget`` or ``other``.
    """
    excluded = np.zeros(P.n_candidates, bool)
    excluded[P.excluded] = True
    can = {k: P.can_host[k] & np.isfinite(P.cost[k]) for k in P.can_host}
    allowed = {k: v & ~excluded for k, v in can.items()}
    out = {}
    for k in KINDS:
        any_cand = _reaches(P, k, can)
        any_allowed = _reaches(P, k, allowed)
        left = "budget" if mode == "budget" else "other"
        code = np.where(~any_cand, "no_candidate", np.where(~any_allowed, "excluded_only", left))
        out[k] = np.where(np.asarray(served[k], dtype=bool), "", code).astype(object)
    return out
