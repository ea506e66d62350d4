"""One scenario through one pipeline: load -> network -> reach -> coverage -> plan -> outputs.

The functions here are what the CLI calls; each returns a result object with the
library-level tables so a notebook can use them too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import CarecircleError, InputError, Problem, ProblemLog, ScenarioError
from .io import Inputs, load_inputs, summary
from .scenario import Scenario, load_scenario


@dataclass
class ValidationReport:
    """What ``carecircle validate`` prints."""

    text: str
    problems: list[Problem]
    inputs: Inputs | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def _as_scenario(scenario: Scenario | str | Path) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def format_validation(scenario: Scenario, inputs: Inputs | None, log: ProblemLog) -> str:
    """The bilingual validation summary."""
    lines = [f"Scenario 情景: {scenario.name} ({scenario.source or scenario.base_dir})"]
    if inputs is not None:
        lines.append(f"CRS 坐标系: {inputs.crs.to_string()} ({inputs.crs.name})")
        for note in inputs.conversions:
            lines.append(f"Converted 已转换: {note}")
        for layer, text in inputs.assumed.items():
            lines.append(f"Assumed 假设数据: {layer}: {text}")
        lines.append("")
        lines.append(summary(inputs).to_string(index=False))
    lines.append("")
    n_err, n_warn = len(log.errors), len(log.warnings)
    lines.append(f"Problems 问题: {n_err} error(s) 错误, {n_warn} warning(s) 警告")
    lines += [f"  {p}" for p in log.problems]
    lines.append("Result 结果: " + ("FAILED 未通过" if n_err else "OK 通过"))
    return "\n".join(lines)


def validate(scenario: Scenario | str | Path, *, quiet: bool = False) -> ValidationReport:
    """Load every input of a scenario and report every problem found.

    Parameters
    ----------
    scenario
        A :class:`Scenario` or the path of its TOML file.
    quiet
        Unused here (validation prints nothing itself); kept for a uniform signature.

    Returns
    -------
    ValidationReport
        The printable text, the problems, and the loaded inputs.
    """
    scen = _as_scenario(scenario)
    inputs = load_inputs(scen, raise_on_error=False)
    log = inputs.log
    comm = inputs.get("communities")
    if comm is not None and len(comm) and not log.errors:
        from .demand import projection_factors

        try:
            inputs.conversions.append(projection_factors(comm, scen.demand).describe())
        except CarecircleError as exc:
            log.error(str(scen.demand.projection_table), str(exc))
    net_src = scen.inputs["network"].path
    if not net_src.exists():
        log.error(str(net_src), "file not found 文件不存在 (network)")
    elif not log.errors:
        # Reading the network here (it is cached for the run) catches an unreadable file now.
        from .errors import NetworkError
        from .network import load_network

        try:
            net = load_network(net_src, crs=inputs.crs, cache_dir=cache_dir())
            inputs.conversions.append(
                f"network 步行路网: {len(net.node_ids):,} nodes, {len(net.edge_u):,} edges (largest component)"
            )
        except InputError as exc:
            log.problems.append(exc.problem)
        except (NetworkError, CarecircleError) as exc:
            log.error(str(net_src), f"cannot build the walking network 无法构建步行路网: {exc}")
    return ValidationReport(format_validation(scen, inputs, log), list(log.problems), inputs)


@dataclass
class RunResult:
    """What a run produced."""

    text: str
    out_dir: Path
    files: list[Path] = field(default_factory=list)


def demo_scenario_path() -> Path:
    """The bundled demo scenario (``data/demo/scenario.toml`` of the source tree)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent / "data" / "demo" / "scenario.toml"
        if cand.is_file():
            return cand
    raise ScenarioError(
        "the demo city data/demo/scenario.toml was not found next to the package; "
        "regenerate it with `python -m carecircle.demo --out data/demo`"
    )


def run_demo(out_dir: Path | None = None, *, quiet: bool = False) -> RunResult:
    """Run the whole pipeline on the bundled demo city."""
    scen = load_scenario(demo_scenario_path())
    if out_dir is not None:
        scen = scen.replace(output_dir=Path(out_dir).resolve())
    return run_scenario(scen, quiet=quiet)


def run_scenario(
    scenario: Scenario | str | Path,
    *,
    quiet: bool = False,
    plan: bool = True,
    scheduler: Any = None,
    partition_by: str = "auto",
    n_partitions: int | None = None,
) -> RunResult:
    """validate -> assess -> plan -> outputs for one scenario.

    Parameters
    ----------
    scenario
        The scenario or its TOML path.
    quiet
        No progress output.
    plan
        Also run the siting optimizer (``False``: an assessment only).
    scheduler
        ``None``: everything on this machine.  Otherwise a Dask scheduler
        (``distributed.Client``, ``tcp://host:8786`` or ``"local[:N]"``): the
        network work runs there, partitioned (see :mod:`carecircle.distributed`);
        the outputs are the same.
    partition_by, n_partitions
        How the communities are cut for the cluster (``"auto"``, ``"district"``,
        ``"tiles"``); ignored without a scheduler.
    """
    from .atomic import write_text_atomic
    from .indicators import terminal_table

    scen = _as_scenario(scenario)
    report = validate(scen)
    if report.errors:
        raise CarecircleError(report.text)
    _say(quiet, report.text)
    ctx = prepare(scen, quiet=quiet)
    with _engine(ctx, scheduler, partition_by=partition_by, n_partitions=n_partitions,
                 quiet=quiet) as ctx:
        where = "" if scheduler is None else " (on the cluster 分布式)"
        _say(quiet, f"[3/4] coverage today 现状覆盖评估{where}")
        run = assess_context(ctx)
        if plan:
            from .planning import plan_context

            _say(quiet, f"[4/4] siting plan 选址优化{where}")
            run = plan_context(ctx, run, quiet=quiet)
    files = write_outputs(run, quiet=quiet)
    log = [report.text, ""]
    if run.unreachable is not None and len(run.unreachable):
        log += [f"Not on the walking network, excluded from coverage shares 不在路网上 "
                f"({len(run.unreachable)}):", run.unreachable.to_string(index=False), ""]
    log += ["Notes 说明:", *run.notes, "", "Details 技术细节:", *run.details, ""]
    files.append(write_text_atomic(scen.out_dir / "validation.txt", "\n".join(log)))
    table = run.districts_after if run.districts_after is not None else run.districts_before
    text = "\n".join([
        "District indicators 区县指标" + (" (after the plan 规划后)" if plan else ""),
        terminal_table(table),
        "",
        *run.notes,
        "",
        "Wrote 输出:",
        *[f"  {p}" for p in files],
    ])
    return RunResult(text, scen.out_dir, files)


@contextmanager
def _engine(ctx: Context, scheduler: Any, *, partition_by: str, n_partitions: int | None,
            quiet: bool) -> Iterator[Context]:
    """``ctx`` as it is, or with its network work moved to a Dask cluster."""
    if scheduler is None:
        yield ctx
        return
    from .distributed import connect, partitioned_engine

    with connect(scheduler) as client:
        engine = partitioned_engine(ctx, client, by=partition_by, n_partitions=n_partitions)
        try:
            if not quiet:
                _say(quiet, engine.describe())
            yield replace(ctx, engine=engine)
        finally:
            engine.close()


# ---------------------------------------------------------------- assessment


def cache_dir() -> Path:
    """Where derived data (networks) is cached: see :func:`carecircle.cache.default_cache_dir`."""
    from .cache import default_cache_dir

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
    """Where the network work runs: :class:`~carecircle.engine.LocalEngine` (set by
    :func:`prepare`) or a :class:`~carecircle.distributed.PartitionedNetwork`."""


def prepare(scenario: Scenario | str | Path, *, quiet: bool = False) -> Context:
    """Load and validate the inputs, build (or reuse) the network, apply the grid.

    Raises
    ------
    ValidationError
        When the inputs hold errors.
    """
    from .demand import apply_grid, apply_projection, assign_grid, projection_factors
    from .network import load_network

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
    from .engine import LocalEngine

    return Context(scen, inputs, net, notes, projection, extra, details,
                   engine=LocalEngine(net, max_snap_m=scen.walking.max_snap_m, progress=not quiet))


def _major_projects(scen: Scenario, inputs: Inputs, notes: list[str]) -> dict:
    """The plan's attachment-2 projects counted as built: district additions (and
    facilities, for projects with coordinates)."""
    import geopandas as gpd
    import pandas as pd

    from .projects import load_major_projects, projects_as_built

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


def assess_context(ctx: Context):
    """Today's coverage for a prepared context: a :class:`~carecircle.results.RunOutputs`."""
    from .coverage import status_kwargs
    from .indicators import district_indicators
    from .results import RunOutputs

    scen, inputs = ctx.scenario, ctx.inputs
    districts = inputs["districts"]
    names = dict(zip(districts["code"], districts["name"], strict=True))
    w = scen.walking
    comm = ctx.engine.community_status(inputs["communities"], inputs.get("facilities"),
                                       district_names=names, **status_kwargs(scen))
    extra = ctx.extra or {}
    table = district_indicators(comm, inputs.get("facilities"), districts,
                                streets=inputs.get("streets"), targets=scen.targets,
                                extra_beds=extra.get("beds"), extra_places=extra.get("places"),
                                extra_area=extra.get("area"))
    comm = _keep_known_columns(comm)
    n_unreach = int((comm["status"] == "unreachable").sum())
    notes = list(ctx.notes)
    if n_unreach:
        notes.append(f"{n_unreach} communities are not on the walking network (outside its extent "
                     f"or farther than {w.max_snap_m:g} m from any road) and are excluded from "
                     f"coverage shares; they are listed in validation.txt and communities.csv "
                     f"{n_unreach} 个社区不在步行路网上(超出路网范围或距路网超过 {w.max_snap_m:g} 米), "
                     f"不计入覆盖率")
    on = comm["status"] != "unreachable"
    headline = {
        "communities": int(len(comm)),
        "communities_on_network": int(on.sum()),
        "served_both_before": int((comm["status"] == "both").sum()),
        "served_elderly_before": int(comm["elderly_served"].sum()),
        "served_childcare_before": int(comm["childcare_served"].sum()),
        "unreachable": n_unreach,
        "crs": inputs.crs.to_string(),
    }
    run = RunOutputs(scenario=scen, inputs=inputs, communities=comm, districts_before=table,
                     headline=headline, notes=notes, details=list(ctx.details),
                     unreachable=unreachable_table(comm, w.max_snap_m))
    run.isochrones.update(existing_isochrones(ctx))
    return run


def _keep_known_columns(comm):
    """Drop pass-through columns of the source file (e.g. an Amap file's wrong lon/lat)."""
    from .results import COLUMN_LABELS
    from .schema import COLUMNS

    known = set(COLUMNS["communities"]) | set(COLUMN_LABELS) | {
        "geometry", "area_geometry", "outside_extent", "population_base", "pop_60plus_base",
        "pop_0_3_base"}
    known |= {c for c in comm.columns if c.startswith(("elderly_", "childcare_", "compound_"))}
    return comm[[c for c in comm.columns if c in known]]


def unreachable_table(comm, max_snap_m: float):
    """Communities not on the walking network, with the reason (bilingual)."""
    import pandas as pd

    off = comm[comm["status"] == "unreachable"]
    outside = off["outside_extent"].to_numpy(dtype=bool) if "outside_extent" in off else False
    reason = pd.Series(
        [f"farther than {max_snap_m:g} m from any street 距路网超过{max_snap_m:g}米"] * len(off),
        index=off.index, dtype=object)
    reason[outside] = "outside the road network's extent 在路网范围之外"
    return pd.DataFrame({"layer": "communities", "id": off["id"].astype(str),
                         "name": off["name"].astype(str),
                         "district": off.get("district_name", off["district"]).astype(str),
                         "reason": reason}).reset_index(drop=True)


def existing_isochrones(ctx: Context) -> dict:
    """Walking isochrones of today's qualifying facilities, per kind."""
    from .coverage import KIND_SOURCES

    fac = ctx.inputs.get("facilities")
    out = {}
    if fac is None or not len(fac):
        return out
    w, st = ctx.scenario.walking, ctx.scenario.standards
    for kind in ("elderly", "childcare"):
        sel = fac[fac["kind"].isin(KIND_SOURCES[kind]) & (fac["floor_area_m2"] >= st.min_area(kind))]
        if not len(sel):
            continue
        out[f"existing_{kind}"] = ctx.engine.isochrones(
            sel, w.limit_m(kind), buffer_m=w.isochrone_buffer_m, source="facilities",
            ids=sel["id"].to_numpy())
    return out


def write_outputs(run, *, quiet: bool = False) -> list[Path]:
    """Write maps, tables and the briefing of a run into its folder (all or nothing)."""
    from .report import write_run

    _say(quiet, f"writing outputs 写出结果 -> {run.scenario.out_dir}")
    return write_run(run, run.scenario.out_dir)


def assess(scenario: Scenario | str | Path, *, quiet: bool = False):
    """Load a scenario and assess today's coverage (no outputs written)."""
    return assess_context(prepare(scenario, quiet=quiet))
