"""The siting problem: communities, candidate sites, reach, costs and district targets as arrays.

Two factories build one, in the manner of spopt's ``from_cost_matrix`` /
``from_geodataframe``: :meth:`SitingProblem.from_arrays` takes plain arrays,
validates them and fills the defaults; :meth:`SitingProblem.from_layers` takes a
scenario's GeoDataFrames, the reach matrices and the scenario's parameters.  The
dataclass itself holds validated, filled fields and checks nothing.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from carecircle.errors import InputError, Problem
from carecircle.siting._reduce import as_binary_csr

if TYPE_CHECKING:
    import geopandas as gpd

    from carecircle.inputs.scenario import Plan, Standards, Targets

KINDS = ("elderly", "childcare")
HOST_KINDS = ("elderly", "childcare", "street_centre")
#: Every kind a candidate may open as: the host kinds and an elderly institution (beds).
PLAN_KINDS = (*HOST_KINDS, "institution")
#: The kinds that serve elderly care (one of them per site).
ELDERLY_HOSTS = ("elderly", "street_centre", "institution")
TARGETS = ("coverage", "street_centre", "places", "minimum", "beds", "nursing", "demonstration")
TARGET_COLUMNS = (
    "urban_cov",
    "rural_cov",
    "street_centre_share",
    "n_streets",
    "places_per_1000",
    "population",
    "existing_places",
    *(f"{p}_{k}" for p in ("min_new", "min_total", "existing") for k in HOST_KINDS),
    "beds_share",
    "pop_60plus",
    "existing_public_beds",
    "nursing_share",
    "existing_beds",
    "existing_nursing_beds",
    "min_demonstration",
    "existing_demonstration",
)

#: Which district targets to enforce: a subset of :data:`TARGETS`; ``None`` = all.
TargetSwitch = Collection[str] | None
#: Candidates forced in: indices (open as some kind) or ``{kind: indices}``.
Required = np.ndarray | dict[str, np.ndarray]


def problem_error(message: str, **kw: Any) -> InputError:
    """An :class:`~carecircle.errors.InputError` about the siting problem's arrays.

    Parameters
    ----------
    message
        What is wrong.
    **kw
        ``row``, ``feature_id``, ``column``, ``found``, ``expected`` of the
        :class:`~carecircle.errors.Problem`.
    """
    return InputError(Problem("error", "siting problem", message, **kw))


def ceil_count(x: float) -> int:
    """``ceil`` of a count computed in floating point: ``ceil(0.9 * 10)`` is 9, not 10.

    (``0.9 * 10 == 9.000000000000002``.)
    """
    return int(math.ceil(x - 1e-9))


def target_active(targets: TargetSwitch, name: str) -> bool:
    """Whether the target family *name* is switched on.

    Parameters
    ----------
    targets
        The switch: ``None`` (all on) or the families on.
    name
        One of :data:`TARGETS`.
    """
    return targets is None or name in targets


@dataclass
class SitingProblem:
    """A two-type siting instance over plain arrays (communities x candidates).

    Build one with :meth:`from_arrays` or :meth:`from_layers`; the fields below are
    what they fill (validated, defaults applied).

    Attributes
    ----------
    community_ids, district, urban
        Per community: id, district label, urban (True) or rural (False).
    weight
        ``{"elderly": 60+ residents, "childcare": 0-3 residents}`` per community.
    cover
        ``{"elderly", "childcare", "street_centre"}`` 0/1 CSR matrices, communities x
        candidates; nonzero where the candidate, if opened as that kind, is within
        reach.
    candidate_ids, candidate_district
        Per candidate: id and district label.
    can_host
        ``{kind: bool per candidate}`` for ``elderly``, ``childcare``, ``street_centre``.
    cost
        ``{kind: cost per candidate}`` if it hosts only that kind (NaN where unknown).
    existing_served
        ``{kind: bool per community}``: served today by an existing facility.
    cost_shared
        Cost if the candidate hosts elderly care and childcare in one building;
        NaN or inf where not allowed.
    places_new
        Childcare places a new childcare facility there adds.
    population
        Residents per community, or ``None`` when not known (then places per 1,000
        needs the targets table's ``population``).
    street, candidate_street
        Street/town labels per community and candidate, or ``None`` when the
        scenario has none (then there is no street-centre target).
    streets_with_centre
        Street labels that already have a comprehensive centre.
    district_targets
        Indexed by district label, any of :data:`TARGET_COLUMNS` (NaN = no such
        target); empty when there are no targets.
    required
        Candidate indices forced in as some kind, or ``{kind: indices}``.
    excluded
        Candidate indices forced out.
    demand
        Capacitated siting (``None``: off): ``{kind: people per community}`` whose
        demand must fit (see :mod:`carecircle.siting.capacity`).
    capacity_new
        ``{host kind: capacity per candidate}`` when the candidate hosts that kind alone.
    capacity_shared
        ``{host kind: capacity per candidate}`` when it shares its building with the
        other kind (elderly care or a street centre with childcare).
    existing_capacity, existing_cover
        ``{kind: capacity per existing facility}`` and ``{kind: communities x existing
        facilities}`` 0/1 reach: today's facilities that serve the kind.
    beds_new, nursing_new
        Beds, and nursing-type beds among them, that a new institution there adds.
    demonstration_new
        Whether a new (public) institution there may be the district's public
        demonstration elderly home.
    cost_shared_centre
        Cost if the candidate hosts a street centre and childcare in one building;
        NaN or inf where not allowed.

    ``population``, ``street`` and ``candidate_street`` stay ``None`` when unknown
    because no filled value means the same: an unknown population is not zero, and
    communities without street labels are not all in one street.
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
    existing_served: dict[str, np.ndarray]
    cost_shared: np.ndarray
    places_new: np.ndarray
    population: np.ndarray | None
    street: np.ndarray | None
    candidate_street: np.ndarray | None
    streets_with_centre: np.ndarray
    district_targets: pd.DataFrame
    required: Required
    excluded: np.ndarray
    demand: dict[str, np.ndarray] | None = None
    capacity_new: dict[str, np.ndarray] | None = None
    capacity_shared: dict[str, np.ndarray] | None = None
    existing_capacity: dict[str, np.ndarray] | None = None
    existing_cover: dict[str, sp.csr_matrix] | None = None
    beds_new: np.ndarray = field(default_factory=lambda: np.zeros(0))
    nursing_new: np.ndarray = field(default_factory=lambda: np.zeros(0))
    demonstration_new: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    cost_shared_centre: np.ndarray = field(default_factory=lambda: np.zeros(0))

    # ------------------------------------------------------------------ factories

    @classmethod
    def from_arrays(
        cls,
        community_ids: Any,
        district: Any,
        urban: Any,
        weight: Mapping[str, Any],
        cover: Mapping[str, Any],
        candidate_ids: Any,
        candidate_district: Any,
        can_host: Mapping[str, Any],
        cost: Mapping[str, Any],
        existing_served: Mapping[str, Any] | None = None,
        cost_shared: Any = None,
        places_new: Any = None,
        population: Any = None,
        street: Any = None,
        candidate_street: Any = None,
        streets_with_centre: Any = None,
        district_targets: pd.DataFrame | None = None,
        required: Any = None,
        excluded: Any = None,
        demand: Mapping[str, Any] | None = None,
        capacity_new: Mapping[str, Any] | None = None,
        capacity_shared: Mapping[str, Any] | None = None,
        existing_capacity: Mapping[str, Any] | None = None,
        existing_cover: Mapping[str, Any] | None = None,
        beds_new: Any = None, nursing_new: Any = None, demonstration_new: Any = None,
        cost_shared_centre: Any = None,
    ) -> SitingProblem:
        """A problem from plain arrays, validated, with the defaults filled.

        Parameters
        ----------
        community_ids, district, urban
            Per community: id, district label, urban (True) or rural (False).
        weight
            ``{"elderly": 60+ residents, "childcare": 0-3 residents}`` per community,
            finite and >= 0.
        cover
            ``{"elderly": matrix, "childcare": matrix[, "street_centre": matrix]}``,
            communities x candidates, dense or sparse; nonzero where the candidate, if
            opened as that kind, is within reach.  ``street_centre`` and ``institution``
            default to the elderly reach.
        candidate_ids, candidate_district
            Per candidate: id and district label.
        can_host
            ``{kind: bool per candidate}`` for ``elderly``, ``childcare``,
            ``street_centre``, ``institution`` (a missing kind: no candidate).
        cost
            ``{kind: cost per candidate}`` if it hosts only that kind; finite and
            >= 0 where the candidate can host the kind.
        existing_served
            ``{kind: bool per community}``: served today (default: nobody).
        cost_shared
            Cost if the candidate hosts elderly care and childcare in one building;
            NaN or inf where not allowed.  ``None``: never allowed.
        places_new
            Childcare places a new childcare facility there adds (default 0).
        population
            Residents per community (for places per 1,000 when the targets table
            has no ``population``); ``None``: not known.
        street, candidate_street
            Street/town labels (unique codes) per community and candidate.
        streets_with_centre
            Street labels that already have a comprehensive centre (default none).
        district_targets
            DataFrame indexed by district label with any of :data:`TARGET_COLUMNS`
            (NaN = no such target); see :func:`make_district_targets`.
            ``None``: no targets.
        required
            Candidates forced in: indices, ids or a boolean mask (open as *some*
            kind), or ``{kind: selection}``.
        excluded
            Candidates forced out (indices, ids or a boolean mask).
        demand
            Capacitated siting: ``{kind: people per community}`` (>= 0); ``None``:
            capacity is not modelled.
        capacity_new
            ``{host kind: capacity per candidate}`` hosting that kind alone (default 0;
            ``institution``: its ``beds_new``).
        capacity_shared
            ``{host kind: capacity per candidate}`` in a building shared with the
            other kind (default: as ``capacity_new``).
        existing_capacity, existing_cover
            ``{kind: capacity per existing facility}`` and ``{kind: communities x
            facilities}`` reach (default: no existing facility).
        beds_new, nursing_new
            Beds a new institution there adds, and nursing-type beds among them
            (default 0; nursing at most beds).
        demonstration_new
            Whether a new institution there may be the district's public demonstration
            elderly home (default: where it adds beds).
        cost_shared_centre
            Cost if the candidate hosts a street centre and childcare in one building;
            NaN or inf where not allowed.  ``None``: allowed where *cost_shared* is,
            at the sum of the two costs (the behaviour before it existed).

        Returns
        -------
        SitingProblem

        Raises
        ------
        InputError
            An array has the wrong length or shape, a weight or cost is negative
            or not finite, a target column or a kind is unknown, a candidate id is
            unknown or an index out of range.
        """
        ids = np.asarray(community_ids)
        n = len(ids)
        cand = np.asarray(candidate_ids)
        J = len(cand)
        # The checks run in this order, so the first problem reported is stable.
        district_ = _vec(district, n, "district")
        urban_ = _vec(urban, n, "urban").astype(bool)
        cand_district = _vec(candidate_district, J, "candidate_district")
        weight_ = {k: _nonneg(weight.get(k), n, f"weight[{k}]") for k in KINDS}
        served = _kind_masks(existing_served or {}, KINDS, n, "existing_served")
        cover_ = _covers(cover, n, J)
        hosts = _kind_masks(can_host, PLAN_KINDS, J, "can_host")
        cost_ = _costs(cost, hosts, cand)
        shared = _cost_shared(cost_shared, J)
        places = np.zeros(J) if places_new is None else _nonneg(places_new, J, "places_new")
        pop = None if population is None else _nonneg(population, n, "population")
        street_ = None if street is None else _vec(street, n, "street")
        cand_street = None if candidate_street is None else _vec(candidate_street, J, "candidate_street")
        centres = np.asarray(streets_with_centre) if streets_with_centre is not None else np.zeros(0, object)
        targets_ = _targets_table(district_targets)
        excluded_ = _index_of(excluded, cand)
        required_ = _required(required, cand)
        beds, nursing, demo = _bed_arrays(beds_new, nursing_new, demonstration_new, J)
        cap = _capacity_arrays(demand, capacity_new, capacity_shared, existing_capacity,
                               existing_cover, n, J, beds)
        centre = (
            np.where(np.isfinite(shared), cost_["street_centre"] + cost_["childcare"], np.nan)
            if cost_shared_centre is None
            else _cost_shared(cost_shared_centre, J, "cost_shared_centre")
        )
        return cls(
            community_ids=ids, district=district_, urban=urban_, weight=weight_, cover=cover_,
            candidate_ids=cand, candidate_district=cand_district, can_host=hosts, cost=cost_,
            existing_served=served, cost_shared=shared, places_new=places, population=pop,
            street=street_, candidate_street=cand_street, streets_with_centre=centres,
            district_targets=targets_, required=required_, excluded=excluded_, **cap,
            beds_new=beds, nursing_new=nursing, demonstration_new=demo, cost_shared_centre=centre,
        )

    @classmethod
    def from_layers(
        cls,
        communities: pd.DataFrame,
        candidates: gpd.GeoDataFrame,
        cover: Mapping[str, sp.csr_matrix],
        *,
        standards: Standards,
        targets: Targets,
        plan: Plan,
        facilities: gpd.GeoDataFrame | None = None,
        streets: gpd.GeoDataFrame | None = None,
        extra_places: Mapping[str, float] | None = None,
        capacity: Mapping[str, Any] | None = None,
        extra: Mapping[str, Mapping[Any, float]] | None = None,
        pop_60plus: Mapping[Any, float] | None = None,
        population: Mapping[Any, float] | None = None,
    ) -> SitingProblem:
        """A problem from a scenario's layers, reach and parameters.

        The rules that turn layers into arrays (who may host what, costs, shared
        buildings, places) are stated in :mod:`carecircle.siting.layers`.

        Parameters
        ----------
        communities
            One row per community of the model (those on the walking network):
            ``id``, ``district``, ``urban_rural``, ``population``, the weight
            columns named by ``plan.weights``, ``elderly_served`` and
            ``childcare_served`` (today's status), optionally ``street``.
        candidates
            Candidate sites (index 0..J-1, the columns of *cover*): ``id``,
            ``district``, ``kinds``, ``floor_area_m2``, ``acquisition``,
            ``cost_yuan`` (NaN: from unit costs).
        cover
            ``{"elderly": csr, "childcare": csr}`` communities x candidates within
            the walk of each kind.
        standards, targets, plan
            The scenario's ``[standards]``, ``[targets]`` and ``[plan]``.
        facilities
            Existing facilities (``kind``, ``district``, ``places``, ``ownership``):
            streets with a centre, existing places and public childcare.
        streets
            Street/town polygons (``code``, ``district``), to label points and
            count streets per district.
        extra_places
            Childcare places per district counted on top of *facilities* (the
            plan's major projects, when the scenario counts them as built).
        capacity
            Capacitated siting: the capacity arguments of :meth:`from_arrays`
            (:func:`carecircle.siting.layers.capacity_arrays`); ``None``: off.
        extra
            More such additions per district by name (``beds``, ``all_beds``,
            ``nursing_beds``, ``demonstration``; see
            :func:`carecircle.siting.layers.existing_stock`).
        pop_60plus
            Residents aged 60+ per district for the public-beds target (default: the
            model's elderly weight summed per district).
        population
            Residents per district for places per 1,000 (default: the model's
            communities'): pass the whole district's, communities off the network too,
            so that the plan meets the target the district table checks.

        Returns
        -------
        SitingProblem
            With the district targets of *targets* when ``plan.district_targets``.
        """
        from carecircle.siting import layers

        stock = layers.existing_stock(facilities, streets, extra_places, extra,
                                      place_kinds=layers.place_kinds_of(standards))
        problem = cls.from_arrays(
            **layers.problem_arrays(
                communities, candidates, cover, standards=standards, plan=plan,
                streets=streets, stock=stock,
            ),
            **(capacity or {}),
        )
        if not plan.district_targets:
            return problem
        return problem.with_changes(
            district_targets=make_district_targets(
                problem,
                **layers.target_arguments(
                    targets, stock, plan_beds=bool(problem.can_host["institution"].any()),
                    pop_60plus=pop_60plus, population=population),
            )
        )

    def with_changes(self, **changes: Any) -> SitingProblem:
        """A copy with some fields replaced, validated again.

        Parameters
        ----------
        **changes
            Fields of :meth:`from_arrays` and their new values.
        """
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(changes)
        return SitingProblem.from_arrays(**data)

    # ------------------------------------------------------------------ reading

    @property
    def n_communities(self) -> int:
        return len(self.community_ids)

    @property
    def n_candidates(self) -> int:
        return len(self.candidate_ids)

    def index_of(self, sel: Any) -> np.ndarray:
        """Candidate indices from indices, ids or a boolean mask (sorted, unique)."""
        return _index_of(sel, self.candidate_ids)

    def required_as(self, kind: str) -> np.ndarray:
        """Mask of the candidates required as *kind* (or as any kind)."""
        m = np.zeros(self.n_candidates, bool)
        if isinstance(self.required, dict):
            if kind in self.required:
                m[self.required[kind]] = True
        else:
            m[self.required] = True
        return m

    def all_districts(self) -> np.ndarray:
        """Every district: of communities, of candidates and of the targets table.

        A target for a district with no candidate is still a target (and unmeetable).
        """
        parts = [self.district, self.candidate_district, self.district_targets.index]
        return pd.unique(np.concatenate([np.asarray(p, dtype=object) for p in parts]))

    def target(self, district: Any, column: str) -> float | None:
        """The district's value in the targets table; ``None`` when there is none.

        Parameters
        ----------
        district
            A district label.
        column
            One of :data:`TARGET_COLUMNS`.
        """
        dt = self.district_targets
        if column not in dt.columns or district not in dt.index:
            return None
        v = dt.at[district, column]
        try:
            v = float(v)
        except (TypeError, ValueError):
            return None
        return None if math.isnan(v) else v


# ---------------------------------------------------------------------- validation


def _vec(v: Any, n: int, name: str) -> np.ndarray:
    a = np.asarray(v)
    if a.ndim != 1 or a.shape[0] != n:
        raise problem_error(
            f"{name} has the wrong length", column=name, found=str(a.shape), expected=str(n)
        )
    return a


def _nonneg(v: Any, n: int, name: str) -> np.ndarray:
    if v is None:
        raise problem_error(f"{name} is missing", column=name)
    a = _vec(v, n, name).astype(float)
    bad = ~np.isfinite(a) | (a < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise problem_error(f"{name} must be finite and >= 0", column=name, row=i, found=repr(a[i]))
    return a


def _kind_masks(
    masks: Mapping[str, Any], kinds: tuple[str, ...], n: int, name: str
) -> dict[str, np.ndarray]:
    """``{kind: bool array}`` for every kind; a missing kind is all False."""
    return {
        k: np.zeros(n, bool) if masks.get(k) is None else _vec(masks[k], n, f"{name}[{k}]").astype(bool)
        for k in kinds
    }


def _covers(cover: Mapping[str, Any], n: int, J: int) -> dict[str, sp.csr_matrix]:
    out: dict[str, sp.csr_matrix] = {}
    for k in PLAN_KINDS:
        M = cover.get(k)
        if M is None:
            if k in ("street_centre", "institution"):
                continue
            raise problem_error(
                f"cover[{k!r}] is missing", column="cover", expected="communities x candidates matrix"
            )
        M = as_binary_csr(M)
        if M.shape != (n, J):
            raise problem_error(
                f"cover[{k!r}] has the wrong shape",
                column="cover",
                found=str(M.shape),
                expected=f"({n}, {J}) communities x candidates",
            )
        out[k] = M
    out.setdefault("street_centre", out["elderly"])
    out.setdefault("institution", out["elderly"])
    return out


def _costs(
    cost: Mapping[str, Any], can_host: dict[str, np.ndarray], ids: np.ndarray
) -> dict[str, np.ndarray]:
    J = len(ids)
    out = {}
    for k in PLAN_KINDS:
        c = cost.get(k)
        c = np.full(J, np.nan) if c is None else _vec(c, J, f"cost[{k}]").astype(float)
        bad = can_host[k] & (~np.isfinite(c) | (c < 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise problem_error(
                f"cost[{k!r}] must be finite and >= 0 where the candidate can host {k}",
                column=f"cost[{k}]",
                row=i,
                feature_id=str(ids[i]),
                found=repr(c[i]),
                expected="a number >= 0",
            )
        out[k] = c
    return out


def _cost_shared(v: Any, J: int, name: str = "cost_shared") -> np.ndarray:
    c = _vec(np.full(J, np.nan) if v is None else v, J, name).astype(float)
    if np.any(np.isfinite(c) & (c < 0)):
        raise problem_error(f"{name} must be >= 0 (NaN/inf = not allowed)", column=name)
    return c


def _capacity_arrays(
    demand: Mapping[str, Any] | None,
    capacity_new: Mapping[str, Any] | None,
    capacity_shared: Mapping[str, Any] | None,
    existing_capacity: Mapping[str, Any] | None,
    existing_cover: Mapping[str, Any] | None,
    n: int,
    J: int,
    beds: np.ndarray,
) -> dict[str, Any]:
    """The capacity fields, checked (all ``None`` without a demand); a new
    institution's capacity defaults to its beds."""
    if demand is None:
        return {}
    dem = {k: _nonneg(demand.get(k, np.zeros(n)), n, f"demand[{k}]") for k in KINDS}
    new = {k: _nonneg((capacity_new or {}).get(k, np.zeros(J)), J, f"capacity_new[{k}]")
           for k in HOST_KINDS}
    new["institution"] = _nonneg((capacity_new or {}).get("institution", beds), J,
                                 "capacity_new[institution]")
    shared = {k: _nonneg((capacity_shared or {}).get(k, new[k]), J, f"capacity_shared[{k}]")
              for k in HOST_KINDS}
    shared["institution"] = new["institution"]  # an institution shares no building
    ex_cap: dict[str, np.ndarray] = {}
    ex_cov: dict[str, sp.csr_matrix] = {}
    for k in KINDS:
        c = (existing_capacity or {}).get(k)
        M = (existing_cover or {}).get(k)
        f = 0 if c is None else len(np.asarray(c))
        ex_cap[k] = np.zeros(0) if c is None else _nonneg(c, f, f"existing_capacity[{k}]")
        M = sp.csr_matrix((n, f)) if M is None else as_binary_csr(M)
        if M.shape != (n, f):
            raise problem_error(f"existing_cover[{k!r}] has the wrong shape", column="existing_cover",
                                found=str(M.shape), expected=f"({n}, {f}) communities x facilities")
        ex_cov[k] = M
    return {"demand": dem, "capacity_new": new, "capacity_shared": shared,
            "existing_capacity": ex_cap, "existing_cover": ex_cov}


def _bed_arrays(beds_new: Any, nursing_new: Any, demonstration_new: Any, J: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Beds, nursing beds (at most the beds) and demonstration eligibility per candidate."""
    beds = np.zeros(J) if beds_new is None else _nonneg(beds_new, J, "beds_new")
    nursing = np.zeros(J) if nursing_new is None else _nonneg(nursing_new, J, "nursing_new")
    if np.any(nursing > beds + 1e-9):
        i = int(np.flatnonzero(nursing > beds + 1e-9)[0])
        raise problem_error("nursing_new must be <= beds_new", column="nursing_new", row=i,
                            found=f"{nursing[i]:g} > {beds[i]:g}")
    demo = (beds > 0) if demonstration_new is None else _vec(
        demonstration_new, J, "demonstration_new").astype(bool)
    return beds, nursing, demo


def _targets_table(table: pd.DataFrame | None) -> pd.DataFrame:
    if table is None:
        return pd.DataFrame(index=pd.Index([], dtype=object, name="district"))
    dt = pd.DataFrame(table)
    unknown = [c for c in dt.columns if c not in TARGET_COLUMNS]
    if unknown:
        raise problem_error(
            "district_targets has unknown columns",
            column=", ".join(map(str, unknown)),
            expected=", ".join(TARGET_COLUMNS),
        )
    return dt


def _required(sel: Any, ids: np.ndarray) -> Required:
    if not isinstance(sel, Mapping):
        return _index_of(sel, ids)
    out = {}
    for k, v in sel.items():
        if k not in PLAN_KINDS:
            raise problem_error(f"required has an unknown kind {k!r}", expected=", ".join(PLAN_KINDS))
        out[k] = _index_of(v, ids)
    return out


def _index_of(sel: Any, ids: np.ndarray) -> np.ndarray:
    """Candidate indices from indices, ids or a boolean mask (sorted, unique)."""
    J = len(ids)
    if sel is None:
        return np.zeros(0, dtype=np.int64)
    a = np.asarray(sel)
    if a.size == 0:
        return np.zeros(0, dtype=np.int64)
    if a.dtype == bool:
        return np.flatnonzero(_vec(a, J, "selection"))
    if np.issubdtype(a.dtype, np.integer):
        if a.min() < 0 or a.max() >= J:
            raise problem_error(
                "candidate index out of range", found=str(a.tolist()), expected=f"0..{J - 1}"
            )
        return np.unique(a.astype(np.int64))
    pos = pd.Index(ids.astype(str))
    idx = pos.get_indexer(a.astype(str))
    if (idx < 0).any():
        missing = a[idx < 0].tolist()
        raise problem_error("unknown candidate id(s)", column="id", found=str(missing[:10]))
    return np.unique(idx.astype(np.int64))


# ---------------------------------------------------------------------- targets


def make_district_targets(
    problem: SitingProblem,
    *,
    urban_cov: float | None = 0.9,
    rural_cov: float | None = 0.8,
    street_centre_share: float | None = 0.7,
    places_per_1000: float | None = 4.8,
    existing_places: Mapping[Any, float] | pd.Series | None = None,
    min_total: Mapping[str, int] | None = None,
    existing_counts: Mapping[str, Mapping[Any, float] | pd.Series] | None = None,
    n_streets: Mapping[Any, float] | pd.Series | None = None,
    beds: BedTargets | None = None,
    population: Mapping[Any, float] | pd.Series | None = None,
) -> pd.DataFrame:
    """The plan's targets for every district of *problem* (the defaults are the plan's).

    Parameters
    ----------
    problem
        The siting problem (its districts, streets and population).
    urban_cov, rural_cov
        Share of urban / rural communities to serve with elderly care (``None``:
        no such target).
    street_centre_share
        Share of streets/towns with a comprehensive centre (needs street labels).
    places_per_1000
        Childcare places per 1,000 residents; left out when the problem's
        population is unknown.
    existing_places
        Childcare places today per district (default 0).
    min_total
        Least number of facilities per district by kind, e.g. ``{"childcare": 1}``
        (one public childcare per district).
    existing_counts
        Facilities today per kind and district, counted towards *min_total*, e.g.
        ``{"childcare": {district: count}}``.
    n_streets
        Streets per district; default: the distinct street labels of the
        district's communities and candidates.
    beds
        The bed targets (public beds, nursing-bed share, demonstration homes) and
        today's stock they count; ``None``: none (see :class:`BedTargets`).
    population
        Residents per district for places per 1,000; default: the problem's
        population summed per district.

    Returns
    -------
    pandas.DataFrame
        Indexed by district, columns of :data:`TARGET_COLUMNS`.
    """
    districts = pd.unique(np.concatenate([problem.district, problem.candidate_district]))
    df = pd.DataFrame(index=pd.Index(districts, name="district"))
    if urban_cov is not None:
        df["urban_cov"] = float(urban_cov)
    if rural_cov is not None:
        df["rural_cov"] = float(rural_cov)
    if street_centre_share is not None and problem.street is not None:
        df["street_centre_share"] = float(street_centre_share)
        df["n_streets"] = _streets_per_district(problem, problem.street, df.index, n_streets)
    if places_per_1000 is not None and problem.population is not None:
        df["places_per_1000"] = float(places_per_1000)
        pop = (pd.Series(population, dtype=float) if population is not None
               else pd.Series(problem.population).groupby(problem.district).sum())
        df["population"] = pop.reindex(df.index).fillna(0.0)
        ep = pd.Series(existing_places if existing_places is not None else {}, dtype=float)
        df["existing_places"] = ep.reindex(df.index).fillna(0.0)
    for kind, count in (min_total or {}).items():
        df[f"min_total_{kind}"] = float(count)
        ex = pd.Series((existing_counts or {}).get(kind, {}), dtype=float)
        df[f"existing_{kind}"] = ex.reindex(df.index).fillna(0.0)
    if beds is not None:
        _bed_columns(df, problem, beds)
    return df


@dataclass(frozen=True)
class BedTargets:
    """The plan's bed targets for :func:`make_district_targets`, with the stock they count.

    Each target is left out when its share or count is ``None``.  Existing amounts are
    per district (missing districts: 0).

    Attributes
    ----------
    beds_share
        Public elderly-institution beds as a share of the district's residents aged 60+
        (the plan: 1 %, task 4).
    pop_60plus
        Residents aged 60+ per district; default: the problem's elderly weight summed
        per district.
    existing_public_beds
        Public beds today (committed projects included).
    nursing_share
        Nursing-type beds as a share of all institution beds (the plan: 60 %).
    existing_beds, existing_nursing_beds
        Institution beds and nursing-type beds today, all ownerships.
    min_demonstration
        Public demonstration elderly homes per district (the plan: 1).
    existing_demonstration
        Public demonstration homes today.
    """

    beds_share: float | None = None
    pop_60plus: Mapping[Any, float] | None = None
    existing_public_beds: Mapping[Any, float] | None = None
    nursing_share: float | None = None
    existing_beds: Mapping[Any, float] | None = None
    existing_nursing_beds: Mapping[Any, float] | None = None
    min_demonstration: float | None = None
    existing_demonstration: Mapping[Any, float] | None = None


def _per_district(values: Mapping[Any, float] | None, index: pd.Index) -> pd.Series:
    return pd.Series(dict(values or {}), dtype=float).reindex(index).fillna(0.0)


def _bed_columns(df: pd.DataFrame, problem: SitingProblem, beds: BedTargets) -> None:
    """The bed targets' columns of the targets table (in place)."""
    if beds.beds_share is not None:
        df["beds_share"] = float(beds.beds_share)
        pop = (beds.pop_60plus if beds.pop_60plus is not None
               else pd.Series(problem.weight["elderly"]).groupby(problem.district).sum())
        df["pop_60plus"] = _per_district(pop, df.index)
        df["existing_public_beds"] = _per_district(beds.existing_public_beds, df.index)
    if beds.nursing_share is not None:
        df["nursing_share"] = float(beds.nursing_share)
        df["existing_beds"] = _per_district(beds.existing_beds, df.index)
        df["existing_nursing_beds"] = _per_district(beds.existing_nursing_beds, df.index)
    if beds.min_demonstration is not None:
        df["min_demonstration"] = float(beds.min_demonstration)
        df["existing_demonstration"] = _per_district(beds.existing_demonstration, df.index)


def _streets_per_district(
    problem: SitingProblem,
    street: np.ndarray,
    index: pd.Index,
    n_streets: Mapping[Any, float] | pd.Series | None,
) -> pd.Series:
    if n_streets is not None:
        return pd.Series(n_streets).reindex(index).astype(float)
    keys = set(zip(problem.district, street, strict=True))
    if problem.candidate_street is not None:
        keys |= set(zip(problem.candidate_district, problem.candidate_street, strict=True))
    counts = pd.Series([d for d, s in keys if s is not None and s == s]).value_counts()
    return counts.reindex(index).fillna(0).astype(float)
