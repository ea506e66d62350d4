"""The ``carecircle`` command: a thin layer over the library.

Input problems are printed as messages (file, feature, column, found, expected) without
a traceback, and the command exits 1.  Every subcommand is a few lines over a public
function of the library.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from carecircle import __version__
from carecircle.errors import CarecircleError


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
    p.add_argument("--partitions", type=int, default=None, help="number of tiles")


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
    try:
        values = [float(v) for v in args.values.split(",") if v.strip()]
    except ValueError:
        print(f"--values {args.values!r}: expected numbers separated by commas, e.g. 0.8,1.0,1.2 "
              "参数值应为逗号分隔的数字", file=sys.stderr)
        return 2
    table = sweep(scen, args.parameter, values, quiet=args.quiet)
    out = args.out or scen.out_dir
    files = write_sweep(table, out)
    shown = table.drop(columns="parameter").rename(
        columns={**SUMMARY_LABELS, "value": SWEEP_PARAMETERS[args.parameter]})
    print(text_table(shown.set_index(shown.columns[0])))
    print("Wrote 输出:", *[f"  {p}" for p in files], sep="\n")
    return 0


def _cmd_reach(args: argparse.Namespace) -> int:
    from carecircle.atomic import write_atomic
    from carecircle.network.reach import reach_table

    pairs, unsnapped = reach_table(
        args.network, args.origins, args.sites, minutes=args.minutes, speed_mps=args.speed_mps,
        max_snap_m=args.max_snap_m, crs=args.crs, progress=not args.quiet,
    )
    out: Path = args.output
    if out.suffix.lower() == ".parquet":
        write_atomic(out, lambda p: pairs.to_parquet(p, index=False))
    else:
        write_atomic(out, lambda p: pairs.to_csv(p, index=False, encoding="utf-8-sig"))
    print(f"{len(pairs)} origin-site pairs within {args.minutes:g} min at {args.speed_mps:g} m/s "
          f"({args.minutes * 60 * args.speed_mps:.0f} m) 步行可达对 -> {out}")
    if len(unsnapped):
        print(f"{len(unsnapped)} point(s) farther than {args.max_snap_m:g} m from the network "
              "距路网过远, unreachable 不可达:")
        print(unsnapped.to_string(index=False))
    return 0


def _cmd_isochrones(args: argparse.Namespace) -> int:
    from carecircle.atomic import write_atomic
    from carecircle.network.isochrones import isochrones_for

    gdf = isochrones_for(
        args.network, args.sites, minutes=args.minutes, speed_mps=args.speed_mps,
        buffer_m=args.buffer_m, max_snap_m=args.max_snap_m, crs=args.crs, progress=not args.quiet,
    )
    out: Path = args.output
    driver = "GPKG" if out.suffix.lower() == ".gpkg" else "GeoJSON"
    gdf = gdf.to_crs(4326) if driver == "GeoJSON" else gdf
    # A GeoPackage layer is otherwise named after the temporary file, which GDAL refuses.
    layer = {"layer": "isochrones"} if driver == "GPKG" else {}
    write_atomic(out, lambda p: gdf.to_file(p, driver=driver, **layer))
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
        p.add_argument("--minutes", type=float, default=15.0)
        p.add_argument("--speed-mps", type=float, default=1.0)
        p.add_argument("--max-snap-m", type=float, default=300.0)
        p.add_argument("--crs", default=None, help="metric CRS (default: chosen for the area)")
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
    p.add_argument("--buffer-m", type=float, default=25.0)
    p.set_defaults(func=_cmd_isochrones)

    p = sub.add_parser("demo", help="run the bundled demo city 运行示范城区")
    p.add_argument("--out", type=Path, default=None, help="output folder (default maps/demo)")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
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
