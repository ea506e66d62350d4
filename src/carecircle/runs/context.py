"""A scenario prepared for runs: loaded inputs, the walking network and where its work runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from carecircle.errors import CarecircleError, Problem
from carecircle.inputs.load import Inputs, load_inputs
from carecircle.inputs.scenario import Scenario, load_scenario


def _as_scenario(scenario: Scenario | str | Path) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


# ---------------------------------------------------------------- assessment


def cache_dir() -> Path:
    """Where derived data (networks) is cached: see :func:`carecircle.network.cache.default_cache_dir`."""
    from carecircle.network.cache import default_cache_dir

    return default_cache_dir()


@dataclass
class Context:
    """A scenario's loaded inputs and network, reusable across runs and sweeps."""

    scenario: Scenario
    inputs: Inputs
    net: object
    notes: list[str] = field(default_factory=list)
    projection: object = None
    extra: dict = field(default_factory=dict)
    details: list[str] = field(default_factory=list)
    engine: object = None
    """Where the network work runs: :class:`~carecircle.runs.local.LocalEngine` (set by
    :func:`prepare`) or a :class:`~carecircle.runs.distributed.PartitionedNetwork`."""


def prepare(scenario: Scenario | str | Path, *, quiet: bool = False) -> Context:
    """Load and validate the inputs, build (or reuse) the network, apply the grid.

    Raises
    ------
    ValidationError
        When the inputs hold errors.
    """
    from carecircle.assess.demand import (
        apply_grid,
        apply_projection,
        assign_grid,
        projection_factors,
    )
    from carecircle.network.sources import load_network

    scen = _as_scenario(scenario)
    _say(quiet, f"[1/4] loading inputs 读取数据: {scen.name}")
    inputs = load_inputs(scen)
    _say(quiet, "[2/4] walking network 构建步行路网")
    src = scen.inputs["network"]
    if not src.path.exists():
        raise CarecircleError(str(Problem("error", str(src.path), "file not found 文件不存在 (network)")))
    net = load_network(src.path, crs=inputs.crs, cache_dir=cache_dir(), progress=not quiet)
    notes = [f"{layer}: assumed 假设数据 — {text}" for layer, text in inputs.assumed.items()]
    grid = inputs.get("population_grid")
    if grid is not None and len(grid):
        limit = scen.walking.limit_m("elderly")
        ga = assign_grid(inputs["communities"], grid, net=net, limit_m=limit,
                         max_snap_m=scen.walking.max_snap_m)
        inputs.layers["communities"] = apply_grid(inputs["communities"], ga)
        notes.append(ga.summary())
    extra: dict = {}
    if scen.include_major_projects:
        extra = _major_projects(scen, inputs, notes)
    projection = projection_factors(inputs["communities"], scen.demand)
    inputs.layers["communities"] = apply_projection(inputs["communities"], projection)
    described = projection.describe().splitlines()
    notes.append(described[0])
    details = described[1:]
    from carecircle.runs.local import LocalEngine

    return Context(scen, inputs, net, notes, projection, extra, details,
                   engine=LocalEngine(net, max_snap_m=scen.walking.max_snap_m, progress=not quiet))


def _major_projects(scen: Scenario, inputs: Inputs, notes: list[str]) -> dict:
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
    extra = {
        "beds": dict(zip(inside["district_code"], inside["public_beds_added"].astype(float), strict=True)),
        "places": dict(zip(inside["district_code"], inside["places_added"].astype(float), strict=True)),
        "area": dict(zip(inside["district_code"], inside["floor_area_elderly_added"].astype(float),
                         strict=True)),
    }
    if len(facilities):
        fac = inputs.get("facilities")
        cols = list(facilities.columns)
        merged = facilities if fac is None else pd.concat([fac, facilities[cols]], ignore_index=True)
        inputs.layers["facilities"] = gpd.GeoDataFrame(merged, geometry="geometry", crs=inputs.crs)
        # Projects placed on the map are facilities: not added again as district totals.
        placed = set(facilities["district"].astype(str))
        for key in extra:
            extra[key] = {d: v for d, v in extra[key].items() if d not in placed}
    n_in = int(inside["n_projects"].sum()) if len(inside) else 0
    notes.append(
        f"major projects (plan attachment 2) counted as built 重大项目按建成计: {n_in} in the study "
        f"area add {sum(extra['beds'].values()):,.0f} public beds and "
        f"{sum(extra['places'].values()):,.0f} childcare places"
        + (f"; {len(facilities)} placed on the map" if len(facilities) else "")
    )
    return extra


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        import sys

        print(text, file=sys.stderr, flush=True)
