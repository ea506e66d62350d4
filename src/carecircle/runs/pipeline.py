"""One scenario through one pipeline: load -> network -> reach -> coverage -> plan -> outputs.

The functions here are what the CLI calls; each returns a result object with the
library-level tables so a notebook can use them too.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carecircle.errors import (
    CarecircleError,
    CarecircleWarning,
    InputError,
    Problem,
    ProblemLog,
    ScenarioError,
)
from carecircle.inputs.load import Inputs, load_inputs, summary
from carecircle.inputs.scenario import Scenario, load_scenario
from carecircle.network.partition import PartitionBy
from carecircle.runs.context import Context, as_scenario, cache_dir, prepare, say

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from carecircle.outputs.results import RunOutputs


@dataclass
class ValidationReport:
    """What ``carecircle validate`` prints."""

    text: str
    problems: list[Problem]
    inputs: Inputs | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def format_validation(scenario: Scenario, inputs: Inputs | None, log: ProblemLog) -> str:
    """The bilingual validation summary.

    Parameters
    ----------
    scenario
        The scenario validated.
    inputs
        Its loaded inputs (``None`` when loading stopped early).
    log
        Every problem found.

    Returns
    -------
    str
        The text ``carecircle validate`` prints.
    """
    lines = [f"Scenario 情景: {scenario.name} ({scenario.source or scenario.base_dir})",
             f"Profile 规划参数: {scenario.profile.describe()}"]
    if inputs is not None:
        lines.append(f"CRS 坐标系: {inputs.crs.to_string()} ({inputs.crs.name})")
        for note in inputs.conversions:
            prefix = "Read 读取" if note.startswith("network") else "Converted 已转换"
            lines.append(f"{prefix}: {note}")
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
    scen = as_scenario(scenario)
    inputs = load_inputs(scen, raise_on_error=False)
    log = inputs.log
    comm = inputs.get("communities")
    if comm is not None and len(comm) and not log.errors:
        from carecircle.assess.demand import projection_factors

        try:
            inputs.conversions.append(projection_factors(comm, scen.demand).describe())
        except CarecircleError as exc:
            log.error(str(scen.demand.projection_table), str(exc))
        if scen.demand.census:
            from carecircle.assess.census import read_census

            try:
                read_census(scen.demand.census, share_0_3_of_0_4=scen.demand.census_0_3_share_of_0_4)
            except InputError as exc:
                log.problems.append(exc.problem)
    if scen.map.basemap != "none":
        from carecircle.outputs.basemap import Basemap

        try:  # a missing Tianditu key stops the run now, not after the plan
            Basemap.of(scen.map.basemap, key=scen.map.tianditu_key)
        except CarecircleError as exc:
            log.error(str(scen.source or "scenario"), str(exc), column="map.basemap")
    net_src = scen.inputs["network"].path
    if not net_src.exists():
        log.error(str(net_src), "file not found 文件不存在 (network)")
    elif not log.errors:
        # Reading the network here (it is cached for the run) catches an unreadable file now.
        from carecircle.errors import NetworkError
        from carecircle.network.sources import describe_network, load_network

        try:
            net = load_network(net_src, crs=inputs.crs, cache_dir=cache_dir())
            inputs.conversions.append("\n".join(describe_network(net)))
            from carecircle.assess.coverage import outside_extent
            from carecircle.network.pieces import network_problems

            # A network in pieces, or communities off it, is never silent (docs/safety.md).
            log.problems.extend(network_problems(
                net, comm, max_snap_m=scen.walking.max_snap_m, fname=str(net_src),
                layer_file=str(scen.inputs["communities"].path),
                outside=None if comm is None else outside_extent(net, comm)))
            log.problems.extend(_restricted_snaps(scen, inputs, net))
        except InputError as exc:
            log.problems.append(exc.problem)
        except (NetworkError, CarecircleError) as exc:
            log.error(str(net_src), f"cannot build the walking network 无法构建步行路网: {exc}")
    return ValidationReport(format_validation(scen, inputs, log), list(log.problems), inputs)


def _restricted_snaps(scen: Scenario, inputs: Inputs, net: Any) -> list[Problem]:
    """Warnings for points that join the network only on a tunnel, underground or private way."""
    from carecircle.network.snapping import restricted_snaps, snap_points

    out: list[Problem] = []
    for layer in ("communities", "facilities", "candidates"):
        gdf = inputs.get(layer)
        if gdf is None or not len(gdf):
            continue
        fname = str(scen.inputs[layer].path)
        snapped = snap_points(net, gdf, max_snap_m=scen.walking.max_snap_m, source=fname)
        out += restricted_snaps(net, snapped, fname, layer)
    return out


@dataclass
class RunResult:
    """What a run produced."""

    text: str
    out_dir: Path
    files: list[Path] = field(default_factory=list)


#: Environment variable naming where ``carecircle demo`` keeps the generated demo city.
DEMO_ENV = "CARECIRCLE_DEMO_DIR"


def demo_data_dir() -> Path:
    """Where the demo city is generated when carecircle runs outside its source tree.

    ``$CARECIRCLE_DEMO_DIR`` if set, else ``$XDG_DATA_HOME/carecircle/demo-city``
    (``~/.local/share/carecircle/demo-city``).
    """
    import os

    env = os.environ.get(DEMO_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "carecircle" / "demo-city"


def _demo_stamp() -> str:
    """What the generated demo city was made by (regenerated when it changes)."""
    from importlib.metadata import PackageNotFoundError, version

    from carecircle.runs.demo import DEMO_SEED

    try:
        made_by = version("carecircle")
    except PackageNotFoundError:  # a source tree on the path, not installed
        made_by = "source"
    return f"carecircle {made_by}, seed {DEMO_SEED}\n"


def demo_scenario_path(data_dir: str | Path | None = None) -> Path:
    """The demo city's scenario, generated on first use when it is not at hand.

    Parameters
    ----------
    data_dir
        Where the demo city's files are (generated there if missing).  Default: the
        source tree's ``data/demo`` when carecircle runs from a checkout, else
        :func:`demo_data_dir` (an installed wheel ships no data files; the generator,
        :mod:`carecircle.runs.demo`, writes the same bytes in about two seconds).

    Returns
    -------
    Path
        ``<folder>/scenario.toml``.
    """
    if data_dir is None:
        for parent in Path(__file__).resolve().parents:
            cand = parent / "data" / "demo" / "scenario.toml"
            if cand.is_file():
                return cand
        data_dir = demo_data_dir()
    folder = Path(data_dir)
    scenario, stamp = folder / "scenario.toml", folder / ".carecircle-demo"
    current = scenario.is_file() and (
        not stamp.exists() or stamp.read_text(encoding="utf-8") == _demo_stamp())
    if not current:
        from carecircle.runs.demo import generate

        try:
            generate(folder)
            stamp.write_text(_demo_stamp(), encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(
                f"cannot write the demo city into {folder} 无法生成示范城区数据: {exc}; "
                f"set {DEMO_ENV} or use `carecircle demo --data DIR`") from None
    return scenario


def run_demo(out_dir: Path | None = None, *, quiet: bool = False,
             data_dir: str | Path | None = None) -> RunResult:
    """Run the whole pipeline on the demo city.

    Parameters
    ----------
    out_dir
        Output folder (default ``maps/demo`` under the current folder).
    quiet
        No progress output.
    data_dir
        Where the demo city's files are, or are generated (:func:`demo_scenario_path`).

    Returns
    -------
    RunResult
        The terminal text (first line: where the demo city's files are) and the files
        written.
    """
    path = demo_scenario_path(data_dir)
    scen = load_scenario(path)
    scen = scen.replace(output_dir=Path(out_dir if out_dir is not None else "maps/demo").resolve())
    result = run_scenario(scen, quiet=quiet)
    result.text = f"Demo city 示范城区: {path.parent}\n{result.text}"
    return result


def run_scenario(
    scenario: Scenario | str | Path,
    *,
    quiet: bool = False,
    plan: bool = True,
    scheduler: Any = None,
    partition_by: PartitionBy = "auto",
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
        network work runs there, partitioned (see :mod:`carecircle.runs.distributed`);
        the outputs are the same.
    partition_by, n_partitions
        How the communities are cut for the cluster (``"auto"``, ``"district"``,
        ``"tiles"``); ignored without a scheduler.
    """
    from carecircle.assess.indicators import terminal_table
    from carecircle.runs.timing import StageTimer

    scen = as_scenario(scenario)
    # Stage bars estimate from this scenario's last run, kept beside the network cache.
    timer = StageTimer(progress=not quiet, record=cache_dir() / "stage-times.json",
                       scenario=str(scen.base_dir / scen.name))
    with timer.stage("validate 校验"):
        report = validate(scen)
    if report.errors:
        raise CarecircleError(report.text)
    say(quiet, report.text)
    with timer.stage("inputs+network 数据与路网"):
        ctx = prepare(scen, quiet=quiet)
    timer.nodes = ctx.net.n_nodes
    with _engine(ctx, scheduler, partition_by=partition_by, n_partitions=n_partitions,
                 quiet=quiet) as ctx:
        where = "" if scheduler is None else " (on the cluster 分布式)"
        say(quiet, f"[3/4] coverage today 现状覆盖评估{where}")
        with timer.stage("coverage 现状评估"):
            run = assess_context(ctx)
        if plan:
            from carecircle.runs.plan import plan_context

            say(quiet, f"[4/4] siting plan 选址优化{where}")
            with timer.stage("plan 选址规划"):
                run = plan_context(ctx, run, quiet=quiet)
    log = [report.text, ""]
    if run.unreachable is not None and len(run.unreachable):
        log += [f"Not on the walking network, excluded from coverage shares 不在路网上 "
                f"({len(run.unreachable)}):", run.unreachable.to_string(index=False), ""]
    # validation.txt is published with the other outputs, so its line of stage times
    # ends before the outputs stage; the line printed at the end has every stage.
    log += ["Notes 说明:", *run.notes, "", "Details 技术细节:", *run.details, "",
            timer.line(), ""]
    with timer.stage("outputs 输出"), warnings.catch_warnings(record=True) as caught:
        # what the outputs could not do (a PDF without Chromium, a map without a CJK
        # font) goes into the run's own text, which -q does not silence
        warnings.simplefilter("always", CarecircleWarning)
        files = write_outputs(run, quiet=quiet, texts={"validation.txt": "\n".join(log)})
    skipped = [str(w.message) for w in caught if issubclass(w.category, CarecircleWarning)]
    for w in caught:
        if not issubclass(w.category, CarecircleWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    times = timer.line()
    timer.save()
    table = run.districts_after if run.districts_after is not None else run.districts_before
    text = "\n".join([
        "District indicators 区县指标" + (" (after the plan 规划后)" if plan else ""),
        terminal_table(table),
        "",
        *run.notes,
        "",
        "Wrote 输出:",
        *[f"  {p}" for p in files],
        *([""] + [f"Note 注意: {m}" for m in skipped] if skipped else []),
        times,
    ])
    return RunResult(text, scen.out_dir, files)


@contextmanager
def _engine(ctx: Context, scheduler: Any, *, partition_by: PartitionBy,
            n_partitions: int | None, quiet: bool) -> Iterator[Context]:
    """``ctx`` as it is, or with its network work moved to a Dask cluster."""
    if scheduler is None:
        yield ctx
        return
    from carecircle.runs.distributed import connect, partitioned_engine

    with connect(scheduler) as client:
        engine = partitioned_engine(ctx, client, by=partition_by, n_partitions=n_partitions)
        try:
            if not quiet:
                say(quiet, engine.describe())
            yield replace(ctx, engine=engine)
        finally:
            engine.close()


def assess_context(ctx: Context) -> RunOutputs:
    """Today's coverage for a prepared context: a :class:`~carecircle.outputs.results.RunOutputs`."""
    from carecircle.assess.coverage import status_kwargs
    from carecircle.assess.indicators import district_indicators
    from carecircle.outputs.results import RunOutputs

    scen, inputs = ctx.scenario, ctx.inputs
    districts = inputs["districts"]
    names = dict(zip(districts["code"], districts["name"], strict=True))
    w = scen.walking
    comm = ctx.engine.community_status(inputs["communities"], inputs.get("facilities"),
                                       district_names=names, **status_kwargs(scen))
    table = district_indicators(comm, inputs.get("facilities"), districts,
                                streets=inputs.get("streets"), targets=scen.targets,
                                tuoban_as_childcare=scen.standards.kindergarten_tuoban_as_childcare)
    from carecircle.runs.accounts import account_today

    accounts = account_today(ctx, comm)
    comm = _keep_known_columns(accounts.communities)
    committed = None
    if ctx.has_committed:
        comm, committed = committed_state(ctx, comm)
    n_unreach = int((comm["status"] == "unreachable").sum())
    notes = list(ctx.notes)
    if n_unreach:
        notes.append(f"{n_unreach} communities are not on the walking network (outside its extent "
                     f"or farther than {w.max_snap_m:g} m from any road) and are excluded from "
                     f"coverage shares; they are listed in validation.txt and communities.csv "
                     f"{n_unreach} 个社区不在步行路网上(超出路网范围或距路网超过 {w.max_snap_m:g} 米), "
                     f"不计入覆盖率")
    on = comm["status"] != "unreachable"
    headline: dict[str, Any] = {"communities": int(len(comm))}
    if n_unreach:
        # first in the headline: indicators computed on part of the communities (docs/safety.md)
        headline["unreachable"] = n_unreach
        headline["indicators_incomplete"] = int((table["status"] == "incomplete").sum())
        notes.append("District coverage indicators count only the communities on the network: "
                     "one is 'pass' only if it would pass with none of the others served, and "
                     "'incomplete' when they could change it 覆盖率指标仅计路网上的社区; 未评估社区"
                     "可能改变结论时标记为\"不完整\"")
    headline.update({
        "communities_on_network": int(on.sum()),
        "served_both_before": int((comm["status"] == "both").sum()),
        "served_elderly_before": int(comm["elderly_served"].sum()),
        "served_childcare_before": int(comm["childcare_served"].sum()),
        "unreachable": n_unreach,
        **accounts.headline,
        "crs": inputs.crs.to_string(),
    })
    notes += accounts.notes
    run = RunOutputs(scenario=scen, inputs=inputs, communities=comm, districts_before=table,
                     headline=headline, notes=notes, details=list(ctx.details),
                     unreachable=unreachable_table(comm, w.max_snap_m), network=ctx.net,
                     facilities=accounts.facilities, streets=accounts.streets,
                     districts_committed=committed)
    run.isochrones.update(existing_isochrones(ctx))
    return run


def committed_state(ctx: Context, comm: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The committed state: today plus the plan's major projects.

    Projects with coordinates are facilities: who they serve is recomputed on the network
    (only when there are any; otherwise the committed service equals today's).  Those
    without coordinates add to their districts' totals.

    Parameters
    ----------
    ctx
        The prepared run (``ctx.committed``, ``ctx.extra``).
    comm
        Today's community status.

    Returns
    -------
    tuple
        The communities with ``elderly_served_committed``, ``childcare_served_committed``
        and ``status_committed``, and the committed district table.
    """
    from carecircle.assess.coverage import status_kwargs
    from carecircle.assess.indicators import district_indicators
    from carecircle.runs.context import additions, committed_facilities

    scen, inputs = ctx.scenario, ctx.inputs
    fac = committed_facilities(ctx)
    comm = comm.copy()
    if ctx.committed is not None and len(ctx.committed):
        now = ctx.engine.community_status(inputs["communities"], fac, **status_kwargs(scen))
        for k in ("elderly", "childcare"):
            comm[f"{k}_served_committed"] = now[f"{k}_served"].to_numpy()
        comm["status_committed"] = now["status"].to_numpy()
    else:
        for k in ("elderly", "childcare"):
            comm[f"{k}_served_committed"] = comm[f"{k}_served"].to_numpy()
        comm["status_committed"] = comm["status"].to_numpy()
    table = district_indicators(comm, fac, inputs["districts"], streets=inputs.get("streets"),
                                targets=scen.targets, served_col="served_committed",
                                extra=additions(ctx.extra),
                                stock_known=inputs.get("facilities") is not None,
                                tuoban_as_childcare=scen.standards.kindergarten_tuoban_as_childcare)
    return comm, table


def _keep_known_columns(comm: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Drop pass-through columns of the source file (e.g. an Amap file's wrong lon/lat)."""
    from carecircle.inputs.schema import COLUMNS
    from carecircle.outputs.results import COLUMN_LABELS

    known = set(COLUMNS["communities"]) | set(COLUMN_LABELS) | {
        "geometry", "area_geometry", "outside_extent", "population_base", "pop_60plus_base",
        "pop_0_3_base", "age_groups_from", "reason"}
    known |= {c for c in comm.columns if c.startswith(("elderly_", "childcare_", "compound_"))}
    return comm[[c for c in comm.columns if c in known]]


def unreachable_table(comm: gpd.GeoDataFrame, max_snap_m: float) -> pd.DataFrame:
    """Communities not on the walking network, with the reason (bilingual).

    Parameters
    ----------
    comm
        Communities with their service status (``status``, and ``outside_extent`` when known).
    max_snap_m
        The snap limit, for the reason's text.

    Returns
    -------
    pandas.DataFrame
        layer, id, name, district, reason; one row per community off the network.
    """
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


def existing_isochrones(ctx: Context) -> dict[str, gpd.GeoDataFrame]:
    """The area today's qualifying facilities serve: one surface per kind.

    ``existing_<kind>`` is a one-row frame from
    :func:`carecircle.network.surface.served_area` (one multi-source search over the
    facilities of that kind, one union), which is what the map draws: at city scale a
    polygon per facility took half a second each.  Per-facility polygons are left to
    :func:`carecircle.network.isochrones.isochrones` (and ``carecircle isochrones``) for
    whoever asks for them.  The search runs on the whole network here, also when the
    engine is a cluster: it is one search.
    """
    from carecircle.assess.coverage import KIND_SOURCES
    from carecircle.network.snapping import snap_points
    from carecircle.network.surface import served_area

    fac = ctx.inputs.get("facilities")
    out: dict[str, gpd.GeoDataFrame] = {}
    if fac is None or not len(fac):
        return out
    w, st = ctx.scenario.walking, ctx.scenario.standards
    snapped = snap_points(ctx.net, fac, max_snap_m=w.max_snap_m, source="facilities")
    for kind in ("elderly", "childcare"):
        sel = (fac["kind"].isin(KIND_SOURCES[kind]) & (fac["floor_area_m2"] >= st.min_area(kind))).to_numpy()
        if not sel.any():
            continue
        out[f"existing_{kind}"] = served_area(ctx.net, snapped.subset(sel), w.limit_m(kind),
                                              buffer_m=w.isochrone_buffer_m, name=f"existing_{kind}")
    return out


def write_outputs(run: RunOutputs, *, quiet: bool = False,
                  texts: dict[str, str] | None = None) -> list[Path]:
    """Write maps, tables and the briefing of a run into its folder (all or nothing).

    Parameters
    ----------
    run
        The run's outputs (:class:`~carecircle.outputs.results.RunOutputs`).
    quiet
        No progress output.
    texts
        More text files to publish with the run (name -> content).

    Returns
    -------
    list of Path
        The files written.  Only files listed in the folder's manifest are ever
        replaced or removed (:mod:`carecircle.atomic`); a folder holding the scenario
        or one of its inputs is refused.
    """
    from carecircle.outputs.write import write_run

    say(quiet, f"writing outputs 写出结果 -> {run.scenario.out_dir}")
    return write_run(run, run.scenario.out_dir, texts=texts,
                     protect=run.scenario.protected_files())


def assess(scenario: Scenario | str | Path, *, quiet: bool = False) -> RunOutputs:
    """Load a scenario and assess today's coverage (no outputs written).

    Parameters
    ----------
    scenario
        A :class:`~carecircle.inputs.scenario.Scenario` or the path of its TOML file.
    quiet
        No progress output.

    Returns
    -------
    RunOutputs
        Today's coverage; write it with :func:`write_outputs`.
    """
    return assess_context(prepare(scenario, quiet=quiet))


def run_distributed(
    scenario: Scenario | str | Path,
    scheduler: Any = None,
    *,
    n_partitions: int | None = None,
    partition_by: PartitionBy = "auto",
    plan: bool = True,
    quiet: bool = False,
) -> RunOutputs:
    """Assess (and plan) a scenario on a Dask cluster; the same result as on one machine.

    The steps are those of :func:`carecircle.runs.pipeline.run_scenario` (the same
    functions, given a :class:`PartitionedNetwork` as their network engine),
    without writing the outputs.

    Parameters
    ----------
    scenario
        A :class:`~carecircle.inputs.scenario.Scenario` or the path of its TOML file.
    scheduler
        ``None``: the single-machine path.  Otherwise a ``distributed.Client``, a
        scheduler address (``tcp://host:8786``) or ``"local[:N]"`` (see :func:`connect`).
    n_partitions
        Number of pieces (see :func:`carecircle.network.partition.assign_communities`);
        default: one per district when there are several, else 4 tiles.
    partition_by
        ``"auto"``, ``"district"`` or ``"tiles"``.
    plan
        Also solve the siting plan.
    quiet
        No progress output.

    Returns
    -------
    RunOutputs
        Write it with :func:`carecircle.runs.pipeline.write_outputs`.
    """
    from carecircle.runs.plan import plan_context

    ctx = prepare(as_scenario(scenario), quiet=quiet)
    with _engine(ctx, scheduler, partition_by=partition_by, n_partitions=n_partitions,
                 quiet=quiet) as ctx:
        run = assess_context(ctx)
        return plan_context(ctx, run, quiet=quiet) if plan else run
