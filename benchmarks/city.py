"""Benchmark: a whole city through ``carecircle run``, as a planner runs it.

For each ``--scale`` (share of Xi'an: 13 districts, 172 streets, 3,223 communities,
about 1,400 facilities, 20,000 candidate sites, a walking network of about 800,000
nodes at 1.0):

1. **Scenario.**  ``python -m carecircle.runs.citygen`` writes the city (see that
   module: real names, codes and district populations from ``../shared/data``,
   everything else generated; the network as ``.osm.pbf``), cached in
   ``benchmarks/_work/city-s<scale>-seed<seed>/`` until the generator's code changes.
2. **Runs.**  ``carecircle -q run SCENARIO --out DIR`` in a subprocess, twice: with an
   empty network cache (cold: the ``.osm.pbf`` is read and the network built) and
   again with the cache it left (warm).  Wall, CPU (user + system) and peak RSS of
   the process (``os.wait4``); the run's own stage line (wall / CPU / peak so far per
   stage, :mod:`carecircle.runs.timing`); the output files' sizes; the plan's
   status, objective, bound, gap and solver seconds (from ``validation.txt``).
3. **Same model, plain HiGHS.**  In this process the scenario is prepared again
   (warm cache), today's coverage computed and the siting problem built exactly as
   the run builds it (:func:`carecircle.runs.plan.build_problem`); the model is built
   without carecircle's reduction and given to HiGHS (``carecircle.siting._milp``, a
   thin highspy wrapper) with the same time limit and gap: objective, bound, gap.
4. **Isochrones on a sample.**  The run draws a walking isochrone for every
   qualifying existing facility and every proposed one; here
   :meth:`LocalEngine.isochrones` is timed on ``--isochrone-sample`` of the existing
   facilities of each kind, and the seconds per facility are multiplied by the
   number the run drew (existing qualifying + the plan's new ones).

Run from the repository root::

    PYTHONPATH=src python benchmarks/city.py --quick                  # scale 0.05, 20 s limit
    PYTHONPATH=src python benchmarks/city.py --scale 0.1 --scale 0.25
    PYTHONPATH=src nice python benchmarks/city.py --scale 1.0         # the whole city

Writes ``benchmarks/results/city-<scales>.json`` (``city-quick.json``) and prints
Markdown tables.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

import _machine  # noqa: E402  (benchmarks/, the script's own folder)

from carecircle.runs import citygen  # noqa: E402
from carecircle.runs.timing import parse_line  # noqa: E402

WORK = HERE / "_work"
SOLVER = re.compile(r"solver 求解器 HiGHS \((\w+)\): status (\S+), objective ([-\d,.naninf]+), "
                    r"bound ([-\d,.naninf]+) \((.*?)\), gap ([-\d.naninf]+)%, ([\d.]+) s")


def _versions() -> dict:
    import geopandas
    import highspy
    import numba
    import pyogrio
    import shapely

    return {"numpy": np.__version__, "numba": numba.__version__, "shapely": shapely.__version__,
            "geopandas": geopandas.__version__, "pyogrio": pyogrio.__version__,
            "gdal": pyogrio.__gdal_version_string__,
            "highspy": getattr(highspy, "__version__", None) or _pip_version("highspy")}


def _pip_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def machine() -> dict:
    try:
        versions = _versions()
    except ImportError:
        versions = {"numpy": np.__version__}
    return _machine.machine(versions)


# --------------------------------------------------------------------------- processes


def run_measured(cmd: list[str], env: dict, log: Path) -> dict:
    """Run a command to completion; its wall, CPU and peak RSS (this child alone)."""
    t0 = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _pid, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    text = log.read_text(encoding="utf-8", errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{text[-3000:]}")
    return {"wall_s": round(wall, 2), "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
            "peak_rss_mb": round(ru.ru_maxrss / 1024, 1), "output": text}


def _env(cache: Path | None = None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    if cache is not None:
        env["CARECIRCLE_CACHE_DIR"] = str(cache)
    return env


def _generator_digest() -> str:
    h = hashlib.sha256()
    for name in ("citygen.py", "citylayers.py", "citynet.py", "osmpbf.py"):
        h.update((ROOT / "src" / "carecircle" / "runs" / name).read_bytes())
    return h.hexdigest()[:16]


def scenario(scale: float, seed: int, time_limit: float) -> tuple[Path, dict]:
    """The city's folder (generated unless cached) and a scenario file with this time limit."""
    folder = WORK / f"city-s{scale:g}-seed{seed}"
    stamp = folder / "generated.json"
    digest = _generator_digest()
    gen: dict = {}
    cached = stamp.is_file() and json.loads(stamp.read_text()).get("generator") == digest
    if not cached:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        m = run_measured([sys.executable, "-m", "carecircle.runs.citygen", "--out", str(folder),
                          "--scale", f"{scale:g}", "--seed", str(seed)], _env(),
                         WORK / f"gen-s{scale:g}.log")
        info = json.loads(stamp.read_text())
        info["generator"] = digest
        info["generation"] = {k: v for k, v in m.items() if k != "output"}
        stamp.write_text(json.dumps(info, ensure_ascii=False, indent=1) + "\n")
    gen = json.loads(stamp.read_text())
    gen["cached"] = cached
    scen = folder / f"scenario-t{time_limit:g}.toml"
    scen.write_text(citygen.scenario_text(f"xian-city-s{scale:g}-t{time_limit:g}",
                                          f"Xi'an-size city, scale {scale:g}", time_limit),
                    encoding="utf-8")
    return scen, gen


def _number(text: str) -> float:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return float("nan")


def read_run(out: Path) -> dict:
    """What a finished run says about itself: stages, plan, network size, output sizes."""
    text = (out / "validation.txt").read_text(encoding="utf-8")
    res: dict = {"stages": [s.__dict__ for s in parse_line(text)]}
    m = SOLVER.search(text)
    if m:
        res["plan"] = {"method": m[1], "status": m[2], "objective": _number(m[3]),
                       "bound": _number(m[4]), "bound_source": m[5], "gap_pct": _number(m[6]),
                       "solver_s": float(m[7])}
    m = re.search(r"network 步行路网: ([\d,]+) nodes, ([\d,]+) edges", text)
    if m:
        res["network_nodes"], res["network_edges"] = (int(m[1].replace(",", "")),
                                                      int(m[2].replace(",", "")))
    files = {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}
    res["output_files"] = files
    res["output_mb"] = round(sum(files.values()) / 2**20, 2)
    sites = out / "sites.csv"
    if sites.is_file():
        import pandas as pd

        kinds = pd.read_csv(sites, encoding="utf-8-sig")
        col = next((c for c in kinds.columns if "kinds" in c.lower()), None)
        if col is not None:
            split = kinds[col].astype(str).str.split(";").explode()
            res["new_facilities"] = {k: int((split == k).sum())
                                     for k in ("elderly", "street_centre", "childcare")}
    return res


def cli_runs(scen: Path, scale: float) -> dict:
    """The cold and the warm run of ``carecircle -q run``."""
    cache = WORK / f"cache-s{scale:g}"
    shutil.rmtree(cache, ignore_errors=True)
    out: dict = {}
    for label in ("cold", "warm"):
        dest = WORK / f"out-s{scale:g}-{label}"
        shutil.rmtree(dest, ignore_errors=True)
        cmd = [sys.executable, "-m", "carecircle.cli", "-q", "run", str(scen), "--out", str(dest)]
        print(f"  {label} run ...", flush=True)
        m = run_measured(cmd, _env(cache), WORK / f"run-s{scale:g}-{label}.log")
        output = m.pop("output")
        lines = output.strip().splitlines()
        m["last_line"] = lines[-1] if lines else ""
        m.update(read_run(dest))
        # The printed line has every stage; validation.txt's ends before the outputs.
        if parse_line(output):
            m["stages"] = [s.__dict__ for s in parse_line(output)]
        out[label] = m
        print(f"  {label}: {m['wall_s']} s wall, {m['cpu_s']} s CPU, {m['peak_rss_mb']} MB",
              flush=True)
    return out


# --------------------------------------------------------------------------- in process


class Clock:
    """Wall and CPU time of a block."""

    def __enter__(self):
        self.t, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = round(time.perf_counter() - self.t, 2)
        self.cpu = round(time.process_time() - self.c, 2)


def same_model(scen_path: Path, scale: float, time_limit: float, sample: int,
               new_facilities: dict | None) -> dict:
    """Plain HiGHS on the run's model, and isochrones on a sample of facilities."""
    from types import SimpleNamespace

    from carecircle.assess.coverage import KIND_SOURCES, status_kwargs
    from carecircle.runs.context import prepare
    from carecircle.runs.plan import build_problem
    from carecircle.siting.solve import solve_siting

    os.environ["CARECIRCLE_CACHE_DIR"] = str(WORK / f"cache-s{scale:g}")
    res: dict = {}
    with Clock() as c:
        ctx = prepare(scen_path, quiet=True)
    res["prepare"] = {"wall_s": c.wall, "cpu_s": c.cpu}
    scen, inputs = ctx.scenario, ctx.inputs
    names = dict(zip(inputs["districts"]["code"], inputs["districts"]["name"], strict=True))
    with Clock() as c:
        comm = ctx.engine.community_status(inputs["communities"], inputs.get("facilities"),
                                           district_names=names, **status_kwargs(scen))
    res["coverage_today"] = {"wall_s": c.wall, "cpu_s": c.cpu,
                             "elderly_served": int(comm["elderly_served"].sum()),
                             "childcare_served": int(comm["childcare_served"].sum()),
                             "communities": len(comm)}
    with Clock() as c:
        problem, _aux = build_problem(ctx, SimpleNamespace(communities=comm))
    res["reach_matrix_and_problem"] = {"wall_s": c.wall, "cpu_s": c.cpu}
    p = scen.plan
    # Plain HiGHS: the run's model (same problem, same reduction) solved by HiGHS alone,
    # as solve_siting did before the scale path (method="exact"), same limits.
    with Clock() as s:
        sol = solve_siting(problem, mode=p.mode, budget=p.budget_yuan if p.mode == "budget" else None,
                           time_limit=time_limit, mip_gap=p.mip_gap,
                           allow_uncoverable=p.allow_uncoverable, method="exact")
    res["plain_highs"] = {
        "wall_s": s.wall, "cpu_s": s.cpu, "status": sol.status,
        "objective": sol.objective, "bound": sol.bound, "gap_pct": 100 * sol.gap,
        "rows": sol.reduction.rows, "cols": sol.reduction.cols, "nnz": sol.reduction.nnz}
    print(f"  plain HiGHS: {sol.status}, objective {sol.objective:,.0f}, bound {sol.bound:,.0f}, "
          f"gap {100 * sol.gap:.3f} %, {s.wall} s", flush=True)
    fac = inputs.get("facilities")
    w, st = scen.walking, scen.standards
    rng = np.random.default_rng(0)
    iso = {}
    for kind in ("elderly", "childcare"):
        sel = fac[fac["kind"].isin(KIND_SOURCES[kind]) & (fac["floor_area_m2"] >= st.min_area(kind))]
        take = sel.iloc[np.sort(rng.choice(len(sel), min(sample, len(sel)), replace=False))]
        ctx.engine.isochrones(take.iloc[:2], w.limit_m(kind), buffer_m=w.isochrone_buffer_m)
        with Clock() as c:
            ctx.engine.isochrones(take, w.limit_m(kind), buffer_m=w.isochrone_buffer_m,
                                  source="facilities", ids=take["id"].to_numpy())
        per = c.wall / max(len(take), 1)
        new = 0
        if new_facilities:
            new = new_facilities.get(kind, 0) + (new_facilities.get("street_centre", 0)
                                                  if kind == "elderly" else 0)
        iso[kind] = {"sample": len(take), "wall_s": c.wall, "cpu_s": c.cpu,
                     "s_per_facility": round(per, 4), "existing": len(sel), "proposed": new,
                     "estimated_s": round(per * (len(sel) + new), 1)}
    res["isochrones"] = iso
    res["peak_rss_mb_benchmark_process"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return res


# --------------------------------------------------------------------------- tables


def _f(x, digits=0) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    return f"{x:,.{digits}f}"


def print_tables(results: dict) -> None:
    rows = results["scales"]
    print("\n| scale | communities | candidates | network nodes | PBF MB | generate s |"
          " run | wall s | CPU s | peak RSS MB | validate | inputs+network | coverage | plan"
          " | outputs | outputs MB |")
    print("|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        g = r["generated"]
        for label, run in r.get("runs", {}).items():
            st = {s["name"].split()[0]: s for s in run["stages"]}
            cells = [_f(st.get(k, {}).get("wall_s"), 1) for k in
                     ("validate", "inputs+network", "coverage", "plan", "outputs")]
            print(f"| {r['scale']:g} | {g['communities']:,} | {g['candidates']:,} | "
                  f"{_f(run.get('network_nodes'))} | {r['pbf_mb']} | "
                  f"{_f(g.get('generation', {}).get('wall_s'), 1)} | {label} | {run['wall_s']} | "
                  f"{run['cpu_s']} | {_f(run['peak_rss_mb'])} | " + " | ".join(cells)
                  + f" | {run['output_mb']} |")
    print("\n| scale | solver | status | objective (yuan) | bound | gap | solve s |")
    print("|---:|---|---|---:|---:|---:|---:|")
    for r in rows:
        plan = r.get("runs", {}).get("warm", {}).get("plan")
        if plan:
            print(f"| {r['scale']:g} | carecircle run (warm, {plan.get('method', '?')}) | {plan['status']} | "
                  f"{_f(plan['objective'])} | {_f(plan['bound'])} | {plan['gap_pct']:.3f} % | "
                  f"{plan['solver_s']} |")
        ph = r.get("same_model", {}).get("plain_highs")
        if ph:
            print(f"| {r['scale']:g} | plain HiGHS (method exact), same model | {ph['status']} | "
                  f"{_f(ph['objective'])} | {_f(ph['bound'])} | {_f(ph['gap_pct'], 3)} % | "
                  f"{ph['wall_s']} |")
    print("\n| scale | isochrones of | sample | s per facility | drawn by the run | estimated s |")
    print("|---:|---|---:|---:|---:|---:|")
    for r in rows:
        for kind, v in r.get("same_model", {}).get("isochrones", {}).items():
            print(f"| {r['scale']:g} | {kind} | {v['sample']} | {v['s_per_facility']} | "
                  f"{v['existing']:,} + {v['proposed']:,} | {v['estimated_s']} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, action="append", help="share of the city (repeatable)")
    ap.add_argument("--seed", type=int, default=2023)
    ap.add_argument("--time-limit", type=float, default=None,
                    help="solver seconds, the run's and plain HiGHS's (default 120; quick 20)")
    ap.add_argument("--isochrone-sample", type=int, default=40)
    ap.add_argument("--skip-run", action="store_true",
                    help="no `carecircle run`: only the scenario, plain HiGHS and isochrones")
    ap.add_argument("--quick", action="store_true", help="scale 0.05, 20 s limit (a smoke test)")
    ap.add_argument("--tables", default=None, help="only print the tables of a results JSON")
    ap.add_argument("--out", default=None, help="JSON name in benchmarks/results")
    args = ap.parse_args(argv)
    if args.tables:
        print_tables(json.loads(Path(args.tables).read_text(encoding="utf-8")))
        return 0
    scales = args.scale or ([0.05] if args.quick else [0.25, 0.5, 1.0])
    time_limit = args.time_limit or (20.0 if args.quick else 120.0)
    WORK.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results: dict = {"date": time.strftime("%Y-%m-%d"), "machine": machine(),
                     "load_average_start": os.getloadavg(), "seed": args.seed,
                     "time_limit_s": time_limit, "quick": args.quick,
                     "argv": sys.argv[1:] if argv is None else list(argv), "scales": []}
    print(json.dumps(results["machine"]), flush=True)
    for scale in scales:
        print(f"scale {scale:g}: scenario ...", flush=True)
        scen, gen = scenario(scale, args.seed, time_limit)
        row: dict = {"scale": scale, "generated": gen,
                     "pbf_mb": round((scen.parent / "network.osm.pbf").stat().st_size / 2**20, 1)}
        if not args.skip_run:
            row["runs"] = cli_runs(scen, scale)
        new = row.get("runs", {}).get("warm", {}).get("new_facilities")
        row["same_model"] = same_model(scen, scale, time_limit, args.isochrone_sample, new)
        row["load_average_after"] = os.getloadavg()
        results["scales"].append(row)
    results["load_average_end"] = os.getloadavg()
    results["total_s"] = round(time.perf_counter() - t0, 1)
    name = args.out or ("city-quick.json" if args.quick
                        else "city-" + "-".join(f"s{s:g}" for s in scales) + ".json")
    out = HERE / "results" / name
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str) + "\n",
                   encoding="utf-8")
    print_tables(results)
    print(f"\ntotal {results['total_s']} s; load average {results['load_average_start']} -> "
          f"{results['load_average_end']}; results in {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
