"""The ``carecircle`` command: a thin layer over the library.

Input problems are printed as messages (file, feature, column, found, expected) without
a traceback, and the command exits 1.  Every subcommand is a few lines over a public
function of the library.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from carecircle import __version__
from carecircle.errors import CarecircleError
from carecircle.inputs.ranges import CLI, SCENARIO

# ---------------------------------------------------------------- argument types


def _bounded(option: str, *, integer: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number within the option's plausible range (docs/safety.md)."""
    rng = CLI[option]

    def parse(text: str) -> float:
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'an integer' if integer else 'a number'} 不是数字") from None
        if not math.isfinite(value) or not rng.lo <= value <= rng.hi:
            raise argparse.ArgumentTypeError(
                f"{text} is outside the plausible range {rng.text()} 超出合理范围 (docs/safety.md)")
        return value

    parse.__name__ = option.lstrip("-").replace("-", "_")
    return parse


def _metric_crs(text: str) -> str:
    """An argparse type: a projected CRS in metres."""
    import pyproj

    try:
        crs = pyproj.CRS.from_user_input(text)
    except pyproj.exceptions.CRSError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a CRS 坐标系无效; e.g. EPSG:4545") from None
    units = {a.unit_name.lower() for a in crs.axis_info[:2]}
    if not crs.is_projected or not units <= {"metre", "meter"}:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a projected CRS in metres 须为米制投影坐标系; e.g. EPSG:4545")
    return text


#: sweep parameter -> scenario key whose range its values must keep
_SWEEP_RANGES = {"minutes": "walking.minutes", "speed_elderly": "walking.speed_mps.*",
                 "speed_childcare": "walking.speed_mps.*", "budget_yuan": "plan.budget_yuan"}


def _cmd_validate(args: argparse.Namespace) -> int:
    from carecircle.runs.pipeline import validate

    report = validate(args.scenario, quiet=args.quiet)
    print(report.text)
    return 1 if report.errors else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from carecircle.runs.pipeline import run_demo

    result = run_demo(out_dir=args.out, quiet=args.quiet)
    print(result.text)
    return 0


def _cmd_run(args: argparse.Namespace, *, plan: bool = True) -> int:
    from carecircle.inputs.scenario import load_scenario
    from carecircle.runs.pipeline import run_scenario

    scen = load_scenario(args.scenario)
    if args.out is not None:
        scen = scen.replace(output_dir=args.out.resolve())
    if args.basemap is not None:
        from dataclasses import replace

        scen = scen.replace(map=replace(scen.map, basemap=args.basemap))
    result = run_scenario(scen, quiet=args.quiet, plan=plan, scheduler=args.scheduler,
                          partition_by=args.partition_by, n_partitions=args.partitions)
    print(result.text)
    return 0


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", type=Path)
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: the scenario's output_dir, or maps/<name>)")
    p.add_argument("--scheduler", default=None,
                   help="run the network work on a Dask cluster: tcp://host:8786, or local[:N] "
                   "for N local worker processes (needs the `dask` extra) 分布式计算")
    p.add_argument("--partition-by", choices=("auto", "district", "tiles"), default="auto",
                   help="how the communities are cut for the cluster")
    p.add_argument("--partitions", type=_bounded("--partitions", integer=True), default=None,
                   help="number of tiles (1-10,000)")
    p.add_argument("--basemap", choices=("none", "osm", "tianditu", "amap"), default=None,
                   help="online base map of map.html (default: the scenario's [map] basemap, else "
                   "none: the run's own streets, offline); tianditu needs TIANDITU_KEY or "
                   "[map] tianditu_key; amap shows the layers in GCJ-02 底图")


def _cmd_compare(args: argparse.Namespace) -> int:
    from carecircle.outputs.tables import text_table
    from carecircle.runs.compare import SUMMARY_LABELS, compare

    out = args.out or Path("maps") / "compare"
    cmp = compare(args.scenarios, out_dir=out, quiet=args.quiet)
    table = cmp.summary.set_index("scenario").drop(columns=["title"]).T
    table.index = [SUMMARY_LABELS.get(i, i) for i in table.index]
    print("Scenario comparison 情景比较")
    print(text_table(table))
    n_all, n_some = int(cmp.sites["in_all"].sum()), int(cmp.sites["in_some"].sum())
    print(f"\nSites 场地: {n_all} in every plan 所有方案均选, {n_some} in some 部分方案选")
    print(f"Wrote 输出: {Path(out).resolve() / 'compare.html'} (+ {len(cmp.files) - 1} files)")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from carecircle.inputs.scenario import load_scenario
    from carecircle.outputs.tables import text_table
    from carecircle.runs.compare import SUMMARY_LABELS, SWEEP_PARAMETERS, sweep, write_sweep

    scen = load_scenario(args.scenario)
    rng = SCENARIO[_SWEEP_RANGES[args.parameter]]
    try:
        values = [float(v) for v in args.values.split(",") if v.strip()]
    except ValueError:
        values = []
    bad = [v for v in values if not math.isfinite(v) or not rng.lo <= v <= rng.hi]
    if not values or bad:
        print(f"--values {args.values!r}: expected numbers separated by commas, each within "
              f"{rng.text()}, e.g. 0.8,1.0,1.2 参数值应为逗号分隔且在合理范围内的数字", file=sys.stderr)
        return 2
    out = args.out or scen.out_dir
    from carecircle.atomic import check_output_folder

    check_output_folder(out, scen.protected_files())
    table = sweep(scen, args.parameter, values, quiet=args.quiet)
    files = write_sweep(table, out, protect=scen.protected_files())
    shown = table.drop(columns="parameter").rename(
        columns={**SUMMARY_LABELS, "value": SWEEP_PARAMETERS[args.parameter]})
    print(text_table(shown.set_index(shown.columns[0])))
    print("Wrote 输出:", *[f"  {p}" for p in files], sep="\n")
    return 0


def _walk_inputs(args: argparse.Namespace, *names: str) -> list[Path]:
    """The files a reach/isochrones command reads: its output never replaces them."""
    return [Path(getattr(args, n)) for n in ("network", *names)]


def _cmd_reach(args: argparse.Namespace) -> int:
    from carecircle.atomic import check_output_folder, publish_file
    from carecircle.network.reach import reach_table

    protect = _walk_inputs(args, "origins", "sites")
    check_output_folder(args.output, protect)
    pairs, unsnapped = reach_table(
        args.network, args.origins, args.sites, minutes=args.minutes, speed_mps=args.speed_mps,
        max_snap_m=args.max_snap_m, crs=args.crs, progress=not args.quiet,
    )
    out: Path = args.output
    if out.suffix.lower() == ".parquet":
        publish_file(out, lambda p: pairs.to_parquet(p, index=False), owner="reach", protect=protect)
    else:
        publish_file(out, lambda p: pairs.to_csv(p, index=False, encoding="utf-8-sig"), owner="reach",
                     protect=protect)
    print(f"{len(pairs)} origin-site pairs within {args.minutes:g} min at {args.speed_mps:g} m/s "
          f"({args.minutes * 60 * args.speed_mps:.0f} m) 步行可达对 -> {out}")
    if len(unsnapped):
        print(f"{len(unsnapped)} point(s) farther than {args.max_snap_m:g} m from the network "
              "距路网过远, unreachable 不可达:")
        print(unsnapped.to_string(index=False))
    return 0


def _cmd_isochrones(args: argparse.Namespace) -> int:
    from carecircle.atomic import check_output_folder, publish_file
    from carecircle.network.isochrones import isochrones_for

    protect = _walk_inputs(args, "sites")
    check_output_folder(args.output, protect)
    gdf = isochrones_for(
        args.network, args.sites, minutes=args.minutes, speed_mps=args.speed_mps,
        buffer_m=args.buffer_m, max_snap_m=args.max_snap_m, crs=args.crs, progress=not args.quiet,
        method=args.method,
    )
    out: Path = args.output
    driver = "GPKG" if out.suffix.lower() == ".gpkg" else "GeoJSON"
    gdf = gdf.to_crs(4326) if driver == "GeoJSON" else gdf
    # A GeoPackage layer is otherwise named after the temporary file, which GDAL refuses.
    layer = {"layer": "isochrones"} if driver == "GPKG" else {}
    publish_file(out, lambda p: gdf.to_file(p, driver=driver, **layer), owner="isochrones",
                 protect=protect)
    print(f"{len(gdf)} isochrone(s) 等时圈 -> {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="carecircle",
        description="Site elderly-care and childcare facilities within a 15-minute walk "
        "养老托育设施15分钟步行圈选址",
    )
    parser.add_argument("--version", action="version", version=f"carecircle {__version__}")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress output 不显示进度")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="load and check every input 校验输入数据")
    p.add_argument("scenario", type=Path)
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("assess", help="coverage today vs targets 现状覆盖评估")
    _run_args(p)
    p.set_defaults(func=lambda a: _cmd_run(a, plan=False))

    for name, text in (("plan", "siting plan 选址规划"), ("run", "validate, assess, plan, brief 全流程")):
        p = sub.add_parser(name, help=text)
        _run_args(p)
        p.set_defaults(func=_cmd_run)

    def walk_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--network", required=True, help="walk network file (.osm, .osm.pbf, .graphml, .gpkg, .shp)")
        p.add_argument("--minutes", type=_bounded("--minutes"), default=15.0, help="1-120")
        p.add_argument("--speed-mps", type=_bounded("--speed-mps"), default=1.0, help="0.3-3")
        p.add_argument("--max-snap-m", type=_bounded("--max-snap-m"), default=300.0, help="1-5,000")
        p.add_argument("--crs", type=_metric_crs, default=None,
                       help="metric CRS (default: chosen for the area)")
        p.add_argument("-o", "--output", type=Path, required=True)

    p = sub.add_parser("compare", help="several scenarios side by side 情景比较")
    p.add_argument("scenarios", type=Path, nargs="+", help="two or more scenario files")
    p.add_argument("--out", type=Path, default=None, help="output folder (default maps/compare)")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("sweep", help="vary one parameter 敏感性分析")
    p.add_argument("scenario", type=Path)
    p.add_argument("--parameter", required=True,
                   choices=("minutes", "speed_elderly", "speed_childcare", "budget_yuan"))
    p.add_argument("--values", required=True, help="comma-separated, e.g. 0.8,1.0,1.2")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: the scenario's output folder)")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("reach", help="origin-site walking pairs 步行可达对")
    walk_args(p)
    p.add_argument("--from", dest="origins", required=True, help="origin points (id column)")
    p.add_argument("--to", dest="sites", required=True, help="site points (id column)")
    p.set_defaults(func=_cmd_reach)

    p = sub.add_parser("isochrones", help="walking isochrone polygons 步行等时圈")
    walk_args(p)
    p.add_argument("--sites", required=True, help="site points (id column)")
    p.add_argument("--buffer-m", type=_bounded("--buffer-m"), default=25.0, help="0-500")
    p.add_argument("--method", choices=("streets", "hull"), default="streets",
                   help="streets: the street space reached (exact); hull: its concave hull, "
                   "fast and light 街道空间或凹包")
    p.set_defaults(func=_cmd_isochrones)

    p = sub.add_parser("demo", help="run the bundled demo city 运行示范城区")
    p.add_argument("--out", type=Path, default=None, help="output folder (default maps/demo)")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    from carecircle.atomic import TerminatedError, sigterm_as_interrupt

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # SIGTERM (a service stop, `kill`) ends a run like Ctrl-C: staging folders go
        with sigterm_as_interrupt():
            return int(args.func(args) or 0)
    except TerminatedError:
        print("terminated 已终止", file=sys.stderr)
        return 143
    except CarecircleError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except (OSError, MemoryError) as exc:
        print(f"error 错误: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted 已中断", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
