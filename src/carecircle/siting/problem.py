"""The siting problem: communities, candidate sites, reach, costs and district targets as arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from carecircle.errors import InputError, Problem
from carecircle.siting._reduce import as_binary_csr

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


def role_required(P: SitingProblem, kind: str, J: int) -> np.ndarray:
    """Mask of candidates required as *kind* (or as any kind)."""
    m = np.zeros(J, bool)
    if isinstance(P.required, dict):
        if kind in P.required:
            m[P.required[kind]] = True
    else:
        m[P.required] = True
    return m


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
