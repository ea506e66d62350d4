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
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

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
    """What the plan's committed projects (attachment 2) add per district, counted as built.

    Each key maps district code -> amount; the keys are absent when the scenario leaves
    the projects out.  The amounts go to the district indicators
    (:func:`carecircle.assess.indicators.district_indicators`' ``extra_*`` arguments).
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
    """

    beds: dict[str, float]
    places: dict[str, float]
    area: dict[str, float]
    public_childcare: dict[str, float]


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
        The committed projects' district additions (empty without them).
    """

    scenario: Scenario
    inputs: Inputs
    net: WalkNetwork
    projection: Projection
    engine: Engine
    notes: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    extra: DistrictAdditions = field(default_factory=lambda: DistrictAdditions())


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
    if scen.include_major_projects:
        extra = _major_projects(scen, inputs, notes)
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
                   extra=extra)


def _census(scen: Scenario) -> CensusTotals | None:
    """The scenario's census totals (``[demand] census``), or ``None``."""
    if not scen.demand.census:
        return None
    from carecircle.assess.census import read_census

    return read_census(scen.demand.census, share_0_3_of_0_4=scen.demand.census_0_3_share_of_0_4)


def _major_projects(scen: Scenario, inputs: Inputs, notes: list[str]) -> DistrictAdditions:
    """The plan's attachment-2 projects counted as built: district additions (and
    facilities, for projects with coordinates)."""
    import geopandas as gpd
    import pandas as pd

    from carecircle.inputs.projects import load_major_projects, projects_as_built

    src = scen.inputs.get("major_projects")
    projects = load_major_projects(src.path if src is not None else None,
                                   check_totals=src is None)
    additions, facilities = projects_as_built(projects, inputs["districts"], crs=inputs.crs)
    inside = additions[additions["in_study_area"].astype(bool) & additions["district_code"].notna()]

    def per_district(column: str) -> dict[str, float]:
        return dict(zip(inside["district_code"], inside[column].astype(float), strict=True))

    beds = per_district("public_beds_added")
    places = per_district("places_added")
    area = per_district("floor_area_elderly_added")
    if len(facilities):
        fac = inputs.get("facilities")
        cols = list(facilities.columns)
        merged = facilities if fac is None else pd.concat([fac, facilities[cols]], ignore_index=True)
        inputs.layers["facilities"] = gpd.GeoDataFrame(merged, geometry="geometry", crs=inputs.crs)
        # Projects placed on the map are facilities: not added again as district totals.
        placed = set(facilities["district"].astype(str))
        beds, places, area = ({d: v for d, v in totals.items() if d not in placed}
                              for totals in (beds, places, area))
    n_in = int(inside["n_projects"].sum()) if len(inside) else 0
    notes.append(
        f"major projects (plan attachment 2) counted as built 重大项目按建成计: {n_in} in the study "
        f"area add {sum(beds.values()):,.0f} public beds and "
        f"{sum(places.values()):,.0f} childcare places"
        + (f"; {len(facilities)} placed on the map" if len(facilities) else "")
    )
    return DistrictAdditions(beds=beds, places=places, area=area)
