"""carecircle: site elderly-care and childcare facilities within a 15-minute walk.

A scenario flows through one pipeline, and the package is shaped like it::

    inputs -> network -> assess -> siting -> outputs      (runs/ drives them)

Every name a notebook, an example or a benchmark needs is importable from here
(``from carecircle import load_scenario, prepare, solve_siting``).  The names are
loaded on first use, so ``carecircle --help`` does not pay for folium, numba and
HiGHS.  The ``carecircle`` command is a thin layer over these functions.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_API: dict[str, str] = {
    # inputs
    "Scenario": "carecircle.inputs.scenario",
    "LayerSource": "carecircle.inputs.scenario",
    "load_scenario": "carecircle.inputs.scenario",
    "scenario_from_dict": "carecircle.inputs.scenario",
    "Inputs": "carecircle.inputs.load",
    "load_inputs": "carecircle.inputs.load",
    "read_table": "carecircle.inputs.read",
    "read_points": "carecircle.inputs.points",
    "candidate_sites": "carecircle.inputs.assumed",
    "sample_facilities": "carecircle.inputs.assumed",
    "write_geojson": "carecircle.inputs.assumed",
    "load_major_projects": "carecircle.inputs.projects",
    "geocode_file": "carecircle.inputs.geocode",
    "geocode_table": "carecircle.inputs.geocode",
    "make_geocoder": "carecircle.inputs.geocode",

    "Profile": "carecircle.inputs.profiles",
    "load_profile": "carecircle.inputs.profiles",
    # network
    "WalkNetwork": "carecircle.network.walknet",
    "network_from_edges": "carecircle.network.walknet",
    "network_from_frames": "carecircle.network.walknet",
    "network_from_graph": "carecircle.network.walknet",
    "to_networkx": "carecircle.network.walknet",
    "load_network": "carecircle.network.sources",
    "Snapped": "carecircle.network.snapping",
    "snap_points": "carecircle.network.snapping",
    "ReachPairs": "carecircle.network.reach",
    "reach_pairs": "carecircle.network.reach",
    "reach_table": "carecircle.network.reach",
    "reached_nodes": "carecircle.network.reach",
    "nearest_site": "carecircle.network.reach",
    "walk_limit_m": "carecircle.network.reach",
    "isochrones": "carecircle.network.isochrones",
    # assess
    "community_status": "carecircle.assess.coverage",
    "district_indicators": "carecircle.assess.indicators",
    "wide": "carecircle.assess.indicators",
    # siting
    "SitingProblem": "carecircle.siting.problem",
    "make_district_targets": "carecircle.siting.problem",
    "SitingResult": "carecircle.siting.result",
    "solve_siting": "carecircle.siting.solve",
    "solve_set_cover": "carecircle.siting.covering",
    "solve_max_cover": "carecircle.siting.covering",
    "frontier": "carecircle.siting.frontier",
    "FRONTIER_LABELS": "carecircle.siting.frontier",
    "cost_plan": "carecircle.siting.costing",
    "to_bilingual": "carecircle.siting.costing",
    "random_siting_problem": "carecircle.siting.synthetic",
    "PlanBasis": "carecircle.siting.evaluate",
    "evaluate_sites": "carecircle.siting.evaluate",
    "site_kinds": "carecircle.siting.evaluate",
    # outputs
    "RunOutputs": "carecircle.outputs.results",
    "STATUSES": "carecircle.outputs.results",
    "STATUS_LABELS": "carecircle.outputs.results",
    "bilingual": "carecircle.outputs.results",
    "plan_map": "carecircle.outputs.webmap",
    "write_plan_map": "carecircle.outputs.webmap",
    "write_static_map": "carecircle.outputs.staticmap",
    "find_cjk_font": "carecircle.outputs.staticmap",
    "latin_only": "carecircle.outputs.staticmap",
    "community_table": "carecircle.outputs.tables",
    "district_table": "carecircle.outputs.tables",
    "site_table": "carecircle.outputs.tables",
    "write_run": "carecircle.outputs.write",
    "write_whatif": "carecircle.outputs.whatif",
    "write_geopackage": "carecircle.outputs.geopackage",
    # runs
    "Context": "carecircle.runs.context",
    "DistrictAdditions": "carecircle.runs.context",
    "Engine": "carecircle.runs.context",
    "prepare": "carecircle.runs.context",
    "validate": "carecircle.runs.pipeline",
    "assess": "carecircle.runs.pipeline",
    "assess_context": "carecircle.runs.pipeline",
    "run_scenario": "carecircle.runs.pipeline",
    "run_demo": "carecircle.runs.pipeline",
    "run_distributed": "carecircle.runs.pipeline",
    "demo_scenario_path": "carecircle.runs.pipeline",
    "build_problem": "carecircle.runs.plan",
    "plan_context": "carecircle.runs.plan",
    "compare": "carecircle.runs.compare",
    "sweep": "carecircle.runs.compare",
    "SUMMARY_LABELS": "carecircle.runs.compare",
    "LocalEngine": "carecircle.runs.local",
    "PartitionedNetwork": "carecircle.runs.distributed",
}

__all__ = [
    "assess",
    "assess_context",
    "bilingual",
    "build_problem",
    "candidate_sites",
    "community_status",
    "community_table",
    "compare",
    "Context",
    "cost_plan",
    "demo_scenario_path",
    "district_indicators",
    "DistrictAdditions",
    "district_table",
    "Engine",
    "evaluate_sites",
    "find_cjk_font",
    "frontier",
    "FRONTIER_LABELS",
    "geocode_file",
    "geocode_table",
    "Inputs",
    "isochrones",
    "latin_only",
    "LayerSource",
    "load_inputs",
    "load_major_projects",
    "load_network",
    "load_profile",
    "load_scenario",
    "LocalEngine",
    "make_district_targets",
    "make_geocoder",
    "nearest_site",
    "network_from_edges",
    "network_from_frames",
    "network_from_graph",
    "PartitionedNetwork",
    "plan_context",
    "Profile",
    "plan_map",
    "PlanBasis",
    "prepare",
    "random_siting_problem",
    "reach_pairs",
    "reach_table",
    "reached_nodes",
    "ReachPairs",
    "read_points",
    "read_table",
    "run_demo",
    "run_distributed",
    "run_scenario",
    "RunOutputs",
    "sample_facilities",
    "Scenario",
    "scenario_from_dict",
    "site_kinds",
    "site_table",
    "SitingProblem",
    "SitingResult",
    "snap_points",
    "Snapped",
    "solve_max_cover",
    "solve_set_cover",
    "solve_siting",
    "STATUS_LABELS",
    "STATUSES",
    "SUMMARY_LABELS",
    "sweep",
    "to_bilingual",
    "to_networkx",
    "validate",
    "walk_limit_m",
    "WalkNetwork",
    "wide",
    "write_geojson",
    "write_geopackage",
    "write_plan_map",
    "write_run",
    "write_static_map",
    "write_whatif",
]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'carecircle' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what type checkers and editors see; loaded lazily at run time
    from carecircle.assess.coverage import community_status
    from carecircle.assess.indicators import district_indicators, wide
    from carecircle.inputs.assumed import candidate_sites, sample_facilities, write_geojson
    from carecircle.inputs.geocode import geocode_file, geocode_table, make_geocoder
    from carecircle.inputs.load import Inputs, load_inputs
    from carecircle.inputs.points import read_points
    from carecircle.inputs.profiles import Profile, load_profile
    from carecircle.inputs.projects import load_major_projects
    from carecircle.inputs.read import read_table
    from carecircle.inputs.scenario import LayerSource, Scenario, load_scenario, scenario_from_dict
    from carecircle.network.isochrones import isochrones
    from carecircle.network.reach import (
        ReachPairs,
        nearest_site,
        reach_pairs,
        reach_table,
        reached_nodes,
        walk_limit_m,
    )
    from carecircle.network.snapping import Snapped, snap_points
    from carecircle.network.sources import load_network
    from carecircle.network.walknet import (
        WalkNetwork,
        network_from_edges,
        network_from_frames,
        network_from_graph,
        to_networkx,
    )
    from carecircle.outputs.geopackage import write_geopackage
    from carecircle.outputs.results import STATUS_LABELS, STATUSES, RunOutputs, bilingual
    from carecircle.outputs.staticmap import find_cjk_font, latin_only, write_static_map
    from carecircle.outputs.tables import community_table, district_table, site_table
    from carecircle.outputs.webmap import plan_map, write_plan_map
    from carecircle.outputs.whatif import write_whatif
    from carecircle.outputs.write import write_run
    from carecircle.runs.compare import SUMMARY_LABELS, compare, sweep
    from carecircle.runs.context import Context, DistrictAdditions, Engine, prepare
    from carecircle.runs.distributed import PartitionedNetwork
    from carecircle.runs.local import LocalEngine
    from carecircle.runs.pipeline import (
        assess,
        assess_context,
        demo_scenario_path,
        run_demo,
        run_distributed,
        run_scenario,
        validate,
    )
    from carecircle.runs.plan import build_problem, plan_context
    from carecircle.siting.costing import cost_plan, to_bilingual
    from carecircle.siting.covering import solve_max_cover, solve_set_cover
    from carecircle.siting.evaluate import PlanBasis, evaluate_sites, site_kinds
    from carecircle.siting.frontier import FRONTIER_LABELS, frontier
    from carecircle.siting.problem import SitingProblem, make_district_targets
    from carecircle.siting.result import SitingResult
    from carecircle.siting.solve import solve_siting
    from carecircle.siting.synthetic import random_siting_problem
