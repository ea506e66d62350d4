"""Benchmark: capacity at whole-city size, stage by stage (assessment and capacitated siting).

For each ``--scale`` (share of Xi'an; ``python -m carecircle.runs.citygen`` writes the
city into ``benchmarks/_work/city-s<scale>/`` once), in this process:

1. **prepare**: the scenario's inputs and walking network (cached in
   ``benchmarks/_work/cache``: the first scale pays the network build);
2. **status**: today's coverage of every community (``community_status``);
3. **capacity today**: demand, capacity, the assignment on the reach pairs, the
   reasons and the street table (:func:`carecircle.runs.accounts.account_today`);
4. **problem**: the siting problem as the run builds it (:func:`carecircle.runs.plan.build_problem`),
   without and with ``[plan] capacity = true`` (the second adds the reach of today's
   facilities and the capacity arrays);
5. **model**: :func:`carecircle.siting.model.build_model`: rows, columns, nonzeros, seconds;
6. **solve**: :func:`carecircle.siting.solve.solve_siting` with ``--time-limit``: status,
   objective (cost), bound, gap, seconds, the demand placed by the plan;
7. **capacity after**: the plan's facilities added, coverage and capacity recomputed
   (:func:`carecircle.runs.accounts.account_after`).

The isochrones a full ``carecircle run`` draws (the slow stage today, being replaced) are
not part of this: ``benchmarks/city.py`` times the whole run.

Run from the repository root::

    PYTHONPATH=src python benchmarks/capacity.py --scale 0.05            # a minute
    PYTHONPATH=src python benchmarks/capacity.py --scale 0.25 --time-limit 300

Writes ``benchmarks/results/capacity-s<scales>.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

import _machine  # noqa: E402  (benchmarks/, the script's own folder)

WORK = HERE / "_work"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Timer:
    """Wall and CPU seconds and the peak memory of named stages."""

    def __init__(self) -> None:
        self.stages: list[dict] = []

    def __call__(self, name: str):
        timer = self

        class _Stage:
            def __enter__(self):
                self.w, self.c = time.perf_counter(), time.process_time()
                return self

            def __exit__(self, *exc):
                timer.stages.append({"stage": name, "wall_s": round(time.perf_counter() - self.w, 2),
                                     "cpu_s": round(time.process_time() - self.c, 2),
                                     "peak_mb": round(_peak_mb(), 1)})
                print(f"  {name}: {timer.stages[-1]['wall_s']} s", file=sys.stderr, flush=True)
        return _Stage()


def city(scale: float, seed: int) -> Path:
    """The generated city's scenario (generated once per scale and seed)."""
    folder = WORK / f"city-s{scale:g}" if seed == 2023 else WORK / f"city-s{scale:g}-seed{seed}"
    if not (folder / "scenario.toml").is_file():
        subprocess.run([sys.executable, "-m", "carecircle.runs.citygen", "--out", str(folder),
                        "--scale", str(scale), "--seed", str(seed)], check=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    return folder / "scenario.toml"


def _model_size(M) -> dict:
    m = M.milp
    return {"rows": m.n_rows, "cols": m.n_cols, "nnz": m.nnz,
            "integer_cols": int(np.asarray(m.integrality, bool).sum()),
            "build_s": round(M.reduction.seconds, 2)}


def _solve(problem, plan, time_limit: float) -> dict:
    from carecircle.siting.model import build_model
    from carecircle.siting.solve import solve_siting

    M = build_model(problem, mode=plan.mode, budget=plan.budget_yuan if plan.mode == "budget" else None)
    t0 = time.perf_counter()
    r = solve_siting(problem, mode=plan.mode, budget=plan.budget_yuan if plan.mode == "budget" else None,
                     time_limit=time_limit, mip_gap=plan.mip_gap, allow_uncoverable=True)
    return {"model": _model_size(M), "status": r.status, "cost": r.total_cost,
            "objective": r.objective, "bound": r.bound, "gap": r.gap,
            "sites": int(len(r.sites)), "solve_s": round(time.perf_counter() - t0, 2)}, r


def run_scale(scale: float, seed: int, time_limit: float) -> dict:
    from carecircle.assess.coverage import status_kwargs
    from carecircle.inputs.scenario import load_scenario
    from carecircle.outputs.results import RunOutputs
    from carecircle.runs.accounts import account_after, account_today
    from carecircle.runs.context import prepare
    from carecircle.runs.plan import (
        _all_facilities,
        _status_after,
        build_problem,
        proposed_facilities,
    )

    os.environ.setdefault("CARECIRCLE_CACHE_DIR", str(WORK / "cache"))
    scen_path = city(scale, seed)
    scen = load_scenario(scen_path)
    t = Timer()
    print(f"scale {scale}", file=sys.stderr)
    with t("prepare (inputs, network)"):
        ctx = prepare(scen, quiet=True)
    inputs = ctx.inputs
    with t("status today (coverage)"):
        comm = ctx.engine.community_status(inputs["communities"], inputs.get("facilities"),
                                           **status_kwargs(scen))
    with t("capacity today (demand, assignment, reasons, streets)"):
        acc = account_today(ctx, comm)
    run = RunOutputs(scenario=scen, inputs=inputs, communities=acc.communities,
                     districts_before=None, facilities=acc.facilities)
    out: dict = {"scale": scale, "seed": seed, "communities": int(len(comm)),
                 "on_network": int(comm["snapped"].sum()),
                 "facilities": int(len(inputs["facilities"])) if inputs.get("facilities") is not None else 0,
                 "candidates": int(len(inputs["candidates"])),
                 "network_nodes": int(len(ctx.net.node_ids)),
                 "demand_today": {k: float(acc.communities[f"{k}_demand"].sum()) for k in ("elderly", "childcare")},
                 "placed_today": {k: float(acc.communities[f"{k}_placed"].sum()) for k in ("elderly", "childcare")},
                 "over_capacity_today": int(acc.facilities["over_capacity"].sum()) if len(acc.facilities) else 0}
    with t("problem (reach of the candidates)"):
        p0, aux = build_problem(ctx, run)
    cctx = dataclasses.replace(ctx, scenario=scen.replace(plan=dataclasses.replace(scen.plan, capacity=True)))
    with t("problem with capacity (+ reach of today's facilities)"):
        p1, _ = build_problem(cctx, run)
    out["pairs"] = {k: int(p1.cover[k].nnz) for k in p1.cover}
    out["existing_pairs"] = {k: int(p1.existing_cover[k].nnz) for k in p1.existing_cover}
    with t("model + solve without capacity"):
        out["without_capacity"], _ = _solve(p0, scen.plan, time_limit)
    with t("model + solve with capacity"):
        out["with_capacity"], r1 = _solve(p1, scen.plan, time_limit)
    if r1.has_solution:
        with t("capacity after the plan (status, assignment, reasons, streets)"):
            sites, new_fac = proposed_facilities(r1, aux["candidates"], aux["places_new"], scen.standards)
            all_fac = _all_facilities(inputs.get("facilities"), new_fac, inputs.crs)
            after = _status_after(cctx, run, all_fac)
            acc2 = account_after(cctx, after, all_fac, p1, r1.mode, sites.assign(street=None), acc.facilities)
        out["placed_after_capacity_plan"] = {
            k: float(acc2.communities[f"{k}_placed_after"].sum()) for k in ("elderly", "childcare")}
    out["stages"] = t.stages
    return out


def _table(results: list[dict]) -> str:
    lines = ["| scale | communities | candidates | stage | wall s | CPU s | peak MB |", "|---|---|---|---|---|---|---|"]
    for r in results:
        for s in r["stages"]:
            lines.append(f"| {r['scale']:g} | {r['communities']:,} | {r['candidates']:,} | {s['stage']} | "
                         f"{s['wall_s']} | {s['cpu_s']} | {s['peak_mb']:,.0f} |")
    lines += ["", "| scale | model | rows | cols (integer) | nnz | status | cost | gap | solve s |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for key in ("without_capacity", "with_capacity"):
            m = r[key]
            lines.append(f"| {r['scale']:g} | {key.replace('_', ' ')} | {m['model']['rows']:,} | "
                         f"{m['model']['cols']:,} ({m['model']['integer_cols']:,}) | {m['model']['nnz']:,} | "
                         f"{m['status']} | {m['cost']:,.0f} | {m['gap']:.2%} | {m['solve_s']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, action="append", help="share of Xi'an (repeatable)")
    p.add_argument("--seed", type=int, default=2023)
    p.add_argument("--time-limit", type=float, default=120.0, help="solver seconds per solve")
    args = p.parse_args(argv)
    scales = args.scale or [0.05]
    load = os.getloadavg()
    results = [run_scale(s, args.seed, args.time_limit) for s in scales]
    import highspy

    doc = {"date": time.strftime("%Y-%m-%d"),
           "machine": _machine.machine({"numpy": np.__version__,
                                        "highspy": getattr(highspy, "__version__", None)}),
           "load_average_start": list(load), "time_limit_s": args.time_limit, "results": results}
    name = "capacity-" + "-".join(f"s{s:g}" for s in scales) + ".json"
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / name).write_text(json.dumps(doc, indent=1, ensure_ascii=False, default=float))
    print(_table(results))
    print(f"\nwrote benchmarks/results/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
