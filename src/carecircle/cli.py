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

    result = run_demo(out_dir=args.out, quiet=args.quiet, data_dir=args.data)
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
    from carecircle.runs.compare import compare, summary_display

    out = args.out or Path("maps") / "compare"
    cmp = compare(args.scenarios, out_dir=out, quiet=args.quiet)
    print("Scenario comparison 情景比较 (the parameters that differ first 先列出不同参数)")
    print(text_table(summary_display(cmp)))
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
    from carecircle.outputs.formats import needs_shapes, write_layer

    out: Path = args.output
    protect = _walk_inputs(args, "origins", "sites")
    check_output_folder(out, protect)
    lines = needs_shapes(out)  # also refuses an unknown suffix before any work
    pairs, unsnapped = reach_table(
        args.network, args.origins, args.sites, minutes=args.minutes, speed_mps=args.speed_mps,
        max_snap_m=args.max_snap_m, crs=args.crs, progress=not args.quiet, lon=args.lon,
        lat=args.lat, lines=lines,
    )
    publish_file(out, lambda p: write_layer(pairs, p, layer="reach"), owner="reach",
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
    from carecircle.outputs.formats import output_format, write_layer

    out: Path = args.output
    protect = _walk_inputs(args, "sites")
    check_output_folder(out, protect)
    output_format(out)  # an unknown suffix is refused before any work
    gdf = isochrones_for(
        args.network, args.sites, minutes=args.minutes, speed_mps=args.speed_mps,
        buffer_m=args.buffer_m, max_snap_m=args.max_snap_m, crs=args.crs, progress=not args.quiet,
        lon=args.lon, lat=args.lat, method=args.method,
    )
    publish_file(out, lambda p: write_layer(gdf, p, layer="isochrones"), owner="isochrones",
                 protect=protect)
    print(f"{len(gdf)} isochrone(s) 等时圈 -> {out}")
    return 0


def _cmd_geocode(args: argparse.Namespace) -> int:
    import os

    from carecircle.inputs.geocode import geocode_file, make_geocoder
    from carecircle.runs.context import cache_dir

    key = args.key or os.environ.get("CARECIRCLE_GEOCODE_KEY", "")
    kw = {"city": args.city or ""}
    if args.base_url:
        kw["base_url"] = args.base_url
    geocoder = make_geocoder(args.provider, key, **kw)
    if args.min_interval is not None:
        geocoder.min_interval_s = args.min_interval
    cache = None if args.no_cache else (args.cache_dir or cache_dir() / "geocode")

    def progress(done: int, total: int) -> None:
        if not args.quiet and (done % 50 == 0 or done == total):
            print(f"  {done}/{total} addresses 地址", file=sys.stderr)

    report = geocode_file(args.input, args.output, geocoder, cache_dir=cache,
                          address_column=args.address_column, given_coords=args.given_coords,
                          progress=progress)
    print(report.summary())
    print("Wrote 输出:", *[f"  {p}" for p in report.files], sep="\n")
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
        p.add_argument("--lon", default=None,
                       help="longitude column of CSV/Parquet inputs (default: found by name, "
                            "e.g. lon, 经度, 经度(WGS-84) Longitude)")
        p.add_argument("--lat", default=None, help="latitude column of CSV/Parquet inputs")
        p.add_argument("-o", "--output", type=Path, required=True,
                       help="output file: .csv, .geojson, .gpkg or .parquet")

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
    p.add_argument("--from", dest="origins", required=True,
                   help="origin points (id column), e.g. a run's communities.csv")
    p.add_argument("--to", dest="sites", required=True,
                   help="site points (id column), e.g. a run's sites.csv")
    p.set_defaults(func=_cmd_reach)

    p = sub.add_parser("isochrones", help="walking isochrone polygons 步行等时圈")
    walk_args(p)
    p.add_argument("--sites", required=True,
                   help="site points (id column), e.g. a run's sites.csv; its columns are kept")
    p.add_argument("--buffer-m", type=_bounded("--buffer-m"), default=25.0, help="0-500")
    p.add_argument("--method", choices=("streets", "hull"), default="streets",
                   help="streets: the street space reached (exact); hull: its concave hull, "
                   "fast and light 街道空间或凹包")
    p.set_defaults(func=_cmd_isochrones)

    p = sub.add_parser("geocode", help="place a facility list's addresses 地址解析(地理编码)")
    p.add_argument("input", type=Path, help="CSV with an address column (地址)")
    p.add_argument("--provider", choices=("amap", "tianditu"), required=True,
                   help="amap (高德, GCJ-02 converted to WGS-84) or tianditu (天地图)")
    p.add_argument("--key", default=None,
                   help="the provider's key (default $CARECIRCLE_GEOCODE_KEY) 密钥")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output CSV with lon/lat (WGS-84); rows not placed also in <output>.unplaced.csv")
    p.add_argument("--city", default=None, help="restrict to a city, e.g. 西安市 or 610100")
    p.add_argument("--address-column", default=None, help="default: address, 地址, 详细地址 ...")
    p.add_argument("--given-coords", choices=("wgs84", "gcj02", "bd09"), default="wgs84",
                   help="coordinate system of coordinates already in the file")
    p.add_argument("--base-url", default=None, help="the service URL (default: the provider's)")
    p.add_argument("--min-interval", type=_bounded("--min-interval"), default=None,
                   help="seconds between requests (default 0.34 amap, 0.2 tianditu)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="answers cache (default: carecircle's cache folder /geocode)")
    p.add_argument("--no-cache", action="store_true", help="ask the provider for every address")
    p.set_defaults(func=_cmd_geocode)

    p = sub.add_parser("demo", help="run the demo city 运行示范城区")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: maps/demo under the current folder)")
    p.add_argument("--data", type=Path, default=None,
                   help="where the demo city's files are, generated there on first use "
                        "(default: the checkout's data/demo, else $CARECIRCLE_DEMO_DIR or "
                        "~/.local/share/carecircle/demo-city)")
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
