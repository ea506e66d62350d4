"""A scenario prepared for runs: loaded inputs, the walking network and where its work runs.

:class:`Context` is what every step after loading takes: the scenario, its validated
inputs, the walking network, the demand projection applied, the committed projects'
district additions, and the *network engine* (:class:`Engine`) that answers the three
questions needing the network.  :func:`prepare` makes one; :func:`as_scenario` and
:func:`say` are the small helpers the ``runs`` modules share.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, cast

from carecircle.errors import CarecircleError, Problem
from carecircle.inputs.load import Inputs, load_inputs
from carecircle.inputs.scenario import Scenario, load_scenario

if TYPE_CHECKING:
    import geopandas as gpd
    import numpy as np
    import scipy.sparse as sp

    from carecircle.assess.census import CensusTotals
    from carecircle.assess.demand import Projection
    from carecircle.network.walknet import WalkNetwork


def as_scenario(scenario: Scenario | str | Path) -> Scenario:
    """``scenario`` itself, or the scenario loaded from that TOML path."""
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def say(quiet: bool, text: str) -> None:
    """Print a progress line to standard error unless ``quiet``.

    Parameters
    ----------
    quiet
        Print nothing.
    text
        The line (bilingual, as every progress line).
    """
    if not quiet:
        print(text, file=sys.stderr, flush=True)


def cache_dir() -> Path:
    """Where derived data (networks) is cached: see :func:`carecircle.network.cache.default_cache_dir`."""
    from carecircle.network.cache import default_cache_dir

    return default_cache_dir()


# ---------------------------------------------------------------- the engine


class Engine(Protocol):
    """Where a run's network work happens: the three questions that need the walking network.

    :class:`~carecircle.runs.local.LocalEngine` answers them on this machine,
    :class:`~carecircle.runs.distributed.PartitionedNetwork` on a Dask cluster; every
    other step of a run is the same code for both, so both give the same tables.
    """

    def community_status(
        self, communities: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame | None, **kwargs: Any
    ) -> gpd.GeoDataFrame:
        """Today's service status of every community.

        Parameters
        ----------
        communities
            The community layer (the rows the engine was made for).
        facilities
            The facility layer, or ``None``.
        **kwargs
            Keyword arguments of :func:`carecircle.assess.coverage.community_status`.

        Returns
        -------
        geopandas.GeoDataFrame
            The communities, same rows and order, with their status columns.
        """
        ...

    def cover(
        self,
        origin_positions: np.ndarray,
        communities: gpd.GeoDataFrame,
        sites: gpd.GeoDataFrame,
        limits: Mapping[str, float],
    ) -> dict[str, sp.csr_matrix]:
        """Reach matrices origins x sites, one per named walking limit.

        Parameters
        ----------
        origin_positions
            Positions (in ``communities``) of the origins, in row order.
        communities
            The community layer.
        sites
            The candidate sites (columns of the matrices).
        limits
            Name -> walking limit in metres.

        Returns
        -------
        dict
            Name -> ``scipy.sparse.csr_matrix`` of 0/1, origins x sites.
        """
        ...

    def isochrones(
        self,
        points: gpd.GeoDataFrame,
        limit_m: float,
        *,
        buffer_m: float,
        source: str = "",
        ids: Any = None,
        method: str = "streets",
    ) -> gpd.GeoDataFrame:
        """Walking isochrones of ``points`` (snapped by the engine).

        Parameters
        ----------
        points
            The sites, in the network's CRS.
        limit_m
            Walking limit in metres.
        buffer_m
            Half-width of street space around the reached segments, metres.
        source
            Layer name for snapping messages.
        ids
            One id per point (default: the ``id`` column).
        method
            ``"streets"`` or ``"hull"`` (see :func:`carecircle.network.isochrones.isochrones`).

        Returns
        -------
        geopandas.GeoDataFrame
            One polygon per point, in the order of ``points``.
        """
        ...


# ---------------------------------------------------------------- the context


class DistrictAdditions(TypedDict, total=False):
    """What the plan's committed projects (attachment 2) without coordinates add per district.

    Each key maps district code -> amount; the keys are absent when the scenario leaves
    the projects out.  The amounts count in the *committed* state and after the plan,
    never today (:func:`carecircle.assess.indicators.district_indicators`' ``extra``).
    Projects with coordinates are facilities instead (:attr:`Context.committed`).
    A mapping rather than a class so that ``extra.get("beds")`` reads as before.

    Attributes
    ----------
    beds
        Public elderly-institution beds.
    places
        Childcare places.
    area
        Elderly-service floor area, m².
    public_childcare
        Public childcare institutions (no source fills it today).
    all_beds
        Institution beds of any ownership (the nursing share's denominator).
    nursing_beds
        Nursing-type beds among them (at ``standards.institution_nursing_share_new``:
        attachment 2 does not say).
    demonstration
        Public demonstration elderly homes (a public institution project named 示范).
    """

    beds: dict[str, float]
    places: dict[str, float]
    area: dict[str, float]
    public_childcare: dict[str, float]
    all_beds: dict[str, float]
    nursing_beds: dict[str, float]
    demonstration: dict[str, float]


@dataclass
class Context:
    """A scenario's loaded inputs and network, reusable across runs and sweeps.

    Attributes
    ----------
    scenario
        The scenario.
    inputs
        Its validated input layers (communities with the grid and the projection applied).
    net
        The walking network.
    projection
        The demand projection applied to the communities.
    engine
        Where the network work runs: a :class:`~carecircle.runs.local.LocalEngine` (set
        by :func:`prepare`) or a :class:`~carecircle.runs.distributed.PartitionedNetwork`.
    notes
        Lines for the briefing's and the terminal's notes.
    details
        Technical lines for ``validation.txt``.
    extra
        The committed projects' district additions, those without coordinates (empty
        without them).
    committed
        The committed projects with coordinates, as facilities (``None`` without any):
        not in ``inputs['facilities']``, which is today's stock.  Three states follow:
        today (the facilities), committed (today + the projects), after the plan
        (committed + the plan's sites); the optimizer starts from committed.
    """

    scenario: Scenario
    inputs: Inputs
    net: WalkNetwork
    projection: Projection
    engine: Engine
    notes: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    extra: DistrictAdditions = field(default_factory=lambda: DistrictAdditions())
    committed: gpd.GeoDataFrame | None = None

    @property
    def has_committed(self) -> bool:
        """Whether the scenario counts the plan's major projects (a committed state)."""
        return bool(self.scenario.include_major_projects)


def additions(extra: DistrictAdditions | None) -> dict[str, dict[str, float]]:
    """The committed additions as a plain ``{name: {district: amount}}`` mapping.

    Parameters
    ----------
    extra
        :attr:`Context.extra` (``None``: nothing).
    """
    return {str(k): dict(cast(Mapping[str, float], v)) for k, v in (extra or {}).items()}


def committed_facilities(ctx: Context) -> gpd.GeoDataFrame | None:
    """Today's facilities and the committed projects placed on the map, in one layer.

    Parameters
    ----------
    ctx
        The prepared run.

    Returns
    -------
    geopandas.GeoDataFrame or None
        ``inputs['facilities']`` alone when nothing is committed with coordinates;
        ``None`` when there is neither.
    """
    import geopandas as gpd
    import pandas as pd

    fac = ctx.inputs.get("facilities")
    if ctx.committed is None or not len(ctx.committed):
        return fac
    if fac is None:
        return ctx.committed
    merged = pd.concat([fac, ctx.committed.reindex(columns=ctx.committed.columns)],
                       ignore_index=True)
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=fac.crs)


def prepare(scenario: Scenario | str | Path, *, quiet: bool = False) -> Context:
    """Load and validate the inputs, build (or reuse) the network, apply the grid.

    Parameters
    ----------
    scenario
        A :class:`~carecircle.inputs.scenario.Scenario` or the path of its TOML file.
    quiet
        No progress output.

    Returns
    -------
    Context
        The prepared run, its network work on this machine.

    Raises
    ------
    ValidationError
        When the inputs hold errors.
    """
    from carecircle.assess.demand import (
        age_groups_note,
        apply_grid,
        apply_projection,
        assign_grid,
        projection_factors,
        whole_people,
    )
    from carecircle.network.sources import load_network

    scen = as_scenario(scenario)
    say(quiet, f"[1/4] loading inputs 读取数据: {scen.name}")
    inputs = load_inputs(scen)
    say(quiet, "[2/4] walking network 构建步行路网")
    src = scen.inputs["network"]
    if not src.path.exists():
        raise CarecircleError(str(Problem("error", str(src.path), "file not found 文件不存在 (network)")))
    net = load_network(src.path, crs=inputs.crs, cache_dir=cache_dir(), progress=not quiet)
    notes = [f"{layer}: assumed 假设数据 — {text}" for layer, text in inputs.assumed.items()]
    census = _census(scen)
    grid = inputs.get("population_grid")
    if grid is not None and len(grid):
        limit = scen.walking.limit_m("elderly")
        ga = assign_grid(inputs["communities"], grid, net=net, limit_m=limit,
                         max_snap_m=scen.walking.max_snap_m)
        inputs.layers["communities"] = apply_grid(
            inputs["communities"], ga, district_shares=None if census is None else census.shares())
        notes.append(ga.summary())
        derived = age_groups_note(inputs["communities"])
        if derived:
            notes.append(derived)
    if census is not None and scen.demand.scale_to_census:
        from carecircle.assess.census import scale_to_census

        inputs.layers["communities"], lines = scale_to_census(inputs["communities"], census)
        notes += lines
    extra = DistrictAdditions()
    committed = None
    if scen.include_major_projects:
        extra, committed = _major_projects(scen, inputs, notes)
    projection = projection_factors(inputs["communities"], scen.demand)
    inputs.layers["communities"] = whole_people(
        apply_projection(inputs["communities"], projection),
        ("population", "pop_60plus", "pop_0_3", "households", "population_base",
         "pop_60plus_base", "pop_0_3_base"))
    described = projection.describe().splitlines()
    notes.append(described[0])
    details = described[1:]
    from carecircle.runs.local import LocalEngine

    engine = LocalEngine(net, max_snap_m=scen.walking.max_snap_m, progress=not quiet)
    return Context(scen, inputs, net, projection, engine, notes=notes, details=details,
                   extra=extra, committed=committed)


def _census(scen: Scenario) -> CensusTotals | None:
    """The scenario's census totals (``[demand] census``), or ``None``."""
    if not scen.demand.census:
        return None
    from carecircle.assess.census import read_census

    return read_census(scen.demand.census, share_0_3_of_0_4=scen.demand.census_0_3_share_of_0_4)


def _major_projects(scen: Scenario, inputs: Inputs, notes: list[str]
                    ) -> tuple[DistrictAdditions, gpd.GeoDataFrame | None]:
    """The plan's attachment-2 projects as the committed state: district additions of those
    without coordinates, and facilities of those with them (project by project, so a
    district with some projects placed keeps the others in its totals)."""
    from carecircle.inputs.projects import load_major_projects, projects_as_built

    src = scen.inputs.get("major_projects")
    projects = load_major_projects(src.path if src is not None else None,
                                   check_totals=src is None)
    share = scen.standards.institution_nursing_share_new
    additions, facilities = projects_as_built(projects, inputs["districts"], crs=inputs.crs,
                                              nursing_share=share)
    placed = projects["lon"].notna() & projects["lat"].notna()
    unplaced, _ = projects_as_built(projects[~placed].reset_index(drop=True),
                                    inputs["districts"], crs=inputs.crs, nursing_share=share)
    inside = unplaced[unplaced["in_study_area"].astype(bool) & unplaced["district_code"].notna()]

    def per_district(column: str) -> dict[str, float]:
        return {d: v for d, v in zip(inside["district_code"], inside[column].astype(float),
                                     strict=True) if v}

    extra = DistrictAdditions(
        beds=per_district("public_beds_added"), places=per_district("places_added"),
        area=per_district("floor_area_elderly_added"), all_beds=per_district("beds_added"),
        nursing_beds=per_district("nursing_beds_added"),
        demonstration=per_district("demonstration_added"))
    in_all = additions[additions["in_study_area"].astype(bool) & additions["district_code"].notna()]
    n_in = int(in_all["n_projects"].sum()) if len(in_all) else 0
    notes.append(
        f"major projects (plan attachment 2) committed 重大项目计为已承诺: {n_in} in the study "
        f"area add {in_all['public_beds_added'].sum():,.0f} public beds and "
        f"{in_all['places_added'].sum():,.0f} childcare places to the committed state "
        f"(today + the projects), from which the plan starts"
        + (f"; {len(facilities)} placed on the map" if len(facilities) else "")
        + f"; their nursing-type beds are counted at {share:.0%} (attachment 2 does not say) "
        f"项目护理型床位按{share:.0%}计"
    )
    return extra, (facilities if len(facilities) else None)
