"""Benchmark: the siting optimizer at city scale, and against spopt (pulp + CBC).

Two parts, both on synthetic points in a plane (no network: the optimizer only sees
the sparse coverage matrix, so a Euclidean disc is as good a source of structure as
a walking reach, and it is cheap to build at any size):

* **Peer comparison, one facility type.**  Communities and candidate sites at
  random in a square with the candidate density of the city below (about 22 per
  km2), a dense distance matrix, cover = within ``--radius`` metres (750 m, about
  40 candidates per community).  The same instance is solved by spopt's
  ``LSCP.from_cost_matrix`` / ``MCLP.from_cost_matrix`` (pulp, CBC) and by
  :func:`carecircle.siting.covering.solve_set_cover` (costs = 1, the classic LSCP) /
  :func:`carecircle.siting.covering.solve_max_cover` (``p`` sites, the MCLP).  Both start
  from the same dense matrix, so "build" includes turning it into a model.  The
  MCLP's ``p`` is half the sites of carecircle's LSCP plan, so the count binds.
* **City scale, two types with district targets.**
  :func:`carecircle.siting.synthetic.random_siting_problem` (the generator the tests
  use): 5,000 communities x 20,000 candidates on 30 km x 30 km, 3 x 3 districts,
  12 x 12 streets, elderly reach 750 m and childcare reach 900 m, shared
  buildings, street centres, places per 1,000 and one childcare per district.
  :func:`carecircle.siting.solve.solve_siting` in ``cover_all`` mode (least cost to
  serve every community with both kinds) and in ``budget`` mode (most residents
  for 80 % of the cheapest cover-all plan found, with the urban/rural coverage
  targets binding), each by plain HiGHS (``method="exact"``, ``--time-limit``) and
  by the scale path (``method="scale"``: LP bound and heuristics, ``--scale-time``,
  ``--gap-target``) on the same model; the model size before and after the
  reduction, the solve time, status, objective, bound, where the bound comes from
  and the gap are reported.  Default cities: 5,000 x 20,000 and the issue's hard
  3,000 x 20,000.

Run from the repository root::

    PYTHONPATH=src python benchmarks/optimize.py            # full run, ~45 min (300 s exact, 60 s scale)
    PYTHONPATH=src python benchmarks/optimize.py --quick    # small run, < 1 min

Writes ``benchmarks/results/optimize.json`` (``optimize-quick.json``) and prints
tables.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.spatial.distance import cdist

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

import _machine  # noqa: E402  (benchmarks/, the script's own folder)

from carecircle import random_siting_problem, solve_max_cover, solve_set_cover, solve_siting  # noqa: E402

#: Candidate density of the city-scale instance (20,000 on 30 km x 30 km), per m2.
#: The peer instance uses the same density so that both have the same number of
#: candidates per community.
DENSITY = 20_000 / 30_000.0**2


def machine() -> dict:
    """Where the numbers were measured (the load average matters: shared machine)."""
    from importlib.metadata import version

    import pulp

    try:
        import spopt

        spopt_version = spopt.__version__
    except ImportError:
        spopt_version = None
    return _machine.machine(
        {"highspy": version("highspy"), "pulp": pulp.__version__, "spopt": spopt_version}
    )


class Clock:
    """Wall seconds and CPU seconds of this process and of its children (CBC).

    On a shared 2-core machine the wall time alone can hide that a solve got half a
    core; the CPU time next to it makes that visible.
    """

    def __enter__(self):
        self.t0 = time.perf_counter()
        self.c0 = time.process_time()
        self.k0 = _children_cpu()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.c0 + _children_cpu() - self.k0


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _num(x: float) -> float | None:
    """JSON-safe number (inf/nan become null)."""
    return float(x) if x is not None and math.isfinite(x) else None


# --------------------------------------------------------------------------- peer instance


def plane_instance(n_demand: int, n_sites: int, radius: float, seed: int = 7) -> dict:
    """Random communities and sites in a square of the city's site density.

    Returns the dense distance matrix (what spopt's ``from_cost_matrix`` takes),
    integer weights (60+ residents) and the square's side.
    """
    rng = np.random.default_rng(seed)
    side = math.sqrt(n_sites / DENSITY)
    P = rng.random((n_demand, 2)) * side
    Q = rng.random((n_sites, 2)) * side
    D = cdist(P, Q)
    # Integer weights: spopt and we then report exactly comparable objectives.
    w = np.round(rng.lognormal(7.5, 0.6, n_demand) * rng.uniform(0.12, 0.22, n_demand))
    return {"D": D, "weights": w, "side_m": side, "radius_m": radius}


def _ours(r, build: Clock, solve: Clock) -> dict:
    """The fields both of our LSCP and MCLP rows report."""
    return {
        "build_s": build.wall,
        "solve_s": solve.wall,
        "total_s": build.wall + solve.wall,
        "solve_cpu_s": solve.cpu,
        "highs_s": r.seconds,
        "status": r.status,
        "objective": _num(r.objective),
        "bound": _num(r.bound),
        "gap": _num(r.gap),
        "sites": len(r.selected),
    }


def ours_lscp(inst: dict, time_limit: float) -> dict:
    with Clock() as b:
        A = sp.csr_matrix(inst["D"] <= inst["radius_m"])
    with Clock() as s:
        r = solve_set_cover(A, np.ones(A.shape[1]), time_limit=time_limit)
    return {
        **_ours(r, b, s),
        "selected": r.selected,
        "reduction": r.reduction.as_dict(),
        "nnz": int(A.nnz),
    }


def ours_mclp(inst: dict, p: int, time_limit: float) -> dict:
    with Clock() as b:
        A = sp.csr_matrix(inst["D"] <= inst["radius_m"])
    with Clock() as s:
        r = solve_max_cover(A, inst["weights"], p=p, time_limit=time_limit)
    return {**_ours(r, b, s), "reduction": r.reduction.as_dict()}


def _pulp_size(problem) -> dict:
    """Rows, columns and stored coefficients of a pulp model (zeros included)."""
    return {
        "rows": len(problem.constraints),
        "cols": len(problem.variables()),
        "coefficients": int(sum(len(c) for c in problem.constraints.values())),
    }


def spopt_lscp(inst: dict, time_limit: float) -> dict:
    import pulp
    from spopt.locate import LSCP

    with Clock() as b:
        model = LSCP.from_cost_matrix(inst["D"], service_radius=inst["radius_m"])
    size = _pulp_size(model.problem)
    solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit)
    error = None
    with Clock() as s:
        try:
            model.solve(solver, results=False)
        except Exception as exc:  # spopt raises on anything but "Optimal"; keep the number
            error = f"{type(exc).__name__}: {exc}"
    y = np.array([v.varValue or 0.0 for v in model.fac_vars])
    chosen = np.flatnonzero(y > 0.5)
    return {
        "build_s": b.wall,
        "solve_s": s.wall,
        "total_s": b.wall + s.wall,
        "solve_cpu_s": s.cpu,
        "status": pulp.LpStatus[model.problem.status],
        "sol_status": pulp.LpSolution.get(model.problem.sol_status, model.problem.sol_status),
        "objective": float(len(chosen)),
        "sites": int(len(chosen)),
        "error": error,
        "size": size,
    }


def spopt_mclp(inst: dict, p: int, time_limit: float) -> dict:
    import pulp
    from spopt.locate import MCLP

    with Clock() as b:
        model = MCLP.from_cost_matrix(
            inst["D"], inst["weights"], service_radius=inst["radius_m"], p_facilities=p
        )
    size = _pulp_size(model.problem)
    solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit)
    error = None
    with Clock() as s:
        try:
            model.solve(solver, results=False)
        except Exception as exc:  # as above: a time limit is not an error for a benchmark
            error = f"{type(exc).__name__}: {exc}"
    y = np.array([v.varValue or 0.0 for v in model.fac_vars])
    chosen = np.flatnonzero(y > 0.5)
    # The weight actually covered by the sites opened (not CBC's reported value).
    covered = (inst["D"][:, chosen] <= inst["radius_m"]).any(axis=1)
    return {
        "build_s": b.wall,
        "solve_s": s.wall,
        "total_s": b.wall + s.wall,
        "solve_cpu_s": s.cpu,
        "status": pulp.LpStatus[model.problem.status],
        "sol_status": pulp.LpSolution.get(model.problem.sol_status, model.problem.sol_status),
        "objective": float(inst["weights"][covered].sum()),
        "sites": int(len(chosen)),
        "error": error,
        "size": size,
    }


def peer(n_demand: int, n_sites: int, radius: float, time_limit: float, skip_spopt: bool) -> dict:
    inst = plane_instance(n_demand, n_sites, radius)
    per = float((inst["D"] <= radius).sum(axis=1).mean())
    out: dict = {
        "communities": n_demand,
        "candidates": n_sites,
        "side_km": round(inst["side_m"] / 1000, 2),
        "radius_m": radius,
        "candidates_in_reach_mean": round(per, 1),
        "time_limit_s": time_limit,
    }
    print(
        f"\n== peer instance: {n_demand:,} communities x {n_sites:,} candidates on "
        f"{out['side_km']} km square, radius {radius:g} m, {per:.1f} candidates in reach",
        flush=True,
    )
    lscp = ours_lscp(inst, time_limit)
    # Half the sites of the LSCP plan: the MCLP's site count then binds.
    p = max(1, lscp["sites"] // 2)
    out["p"] = p
    print(f"carecircle LSCP: {_line(lscp)}", flush=True)
    mclp = ours_mclp(inst, p, time_limit)
    print(f"carecircle MCLP p={p}: {_line(mclp)}", flush=True)
    lscp.pop("selected")
    out["carecircle"] = {"lscp": lscp, "mclp": mclp}
    if not skip_spopt:
        s_lscp = spopt_lscp(inst, time_limit)
        print(f"spopt LSCP: {_line(s_lscp)}", flush=True)
        s_mclp = spopt_mclp(inst, p, time_limit)
        print(f"spopt MCLP p={p}: {_line(s_mclp)}", flush=True)
        out["spopt"] = {"lscp": s_lscp, "mclp": s_mclp}
        out["same_objective"] = {
            "lscp": s_lscp["objective"] == lscp["objective"],
            "mclp": s_mclp["objective"] == mclp["objective"],
        }
    return out


def _status(r: dict) -> str:
    """Status, with pulp's solution status: pulp says "Optimal" when CBC stops at the
    time limit with a feasible plan, and only ``sol_status`` tells the two apart."""
    return r["status"] + (f" ({r['sol_status']})" if "sol_status" in r else "")


def _line(r: dict) -> str:
    return (
        f"build {r['build_s']:.2f} s, solve {r['solve_s']:.2f} s, {_status(r)}, "
        f"objective {r['objective']:,.0f}, {r['sites']} sites"
        + (f", gap {r['gap']:.2%}" if r.get("gap") is not None else "")
        + (f" [{r['error']}]" if r.get("error") else "")
    )


# --------------------------------------------------------------------------- city scale


def siting_row(r, clock: Clock) -> dict:
    red = r.reduction
    return {
        "status": r.status,
        "bound_source": getattr(r, "bound_source", None),
        "objective": _num(r.objective),
        "bound": _num(r.bound),
        "gap": _num(r.gap),
        "total_cost": _num(r.total_cost),
        "new_facilities": {k: int(len(v)) for k, v in r.opened.items()},
        "wall_s": clock.wall,
        "cpu_s": clock.cpu,
        "solve_siting_s": r.seconds,
        "reduction_s": red.seconds,
        "model": {
            "naive_rows": red.naive_rows,
            "naive_cols": red.naive_cols,
            "naive_nnz": red.naive_nnz,
            "rows": red.rows,
            "cols": red.cols,
            "nnz": red.nnz,
        },
        "reduction": red.as_dict(),
        "message": r.message,
    }


def city(
    n_comm: int,
    n_cand: int,
    radius: float,
    time_limit: float,
    budget_share: float,
    seed: int = 11,
    methods: tuple[str, ...] = ("exact", "scale"),
    scale_time: float = 60.0,
    gap_target: float = 0.01,
) -> dict:
    """Both modes, each by every method in *methods*, on one generated city.

    ``exact`` is plain HiGHS on the whole model for *time_limit* seconds;
    ``scale`` the LP bound and heuristics (``method="scale"``) for *scale_time*
    seconds with *gap_target*.  Both solve the same model (same problem, same
    reduction).  The budget runs share one budget: *budget_share* of the
    cheapest cover_all plan found by any method.
    """
    side = math.sqrt(n_cand / DENSITY)
    # The generator sets the elderly radius from the candidates per community.
    per_community = DENSITY * math.pi * radius**2
    t0 = time.perf_counter()
    P = random_siting_problem(
        n_comm,
        n_cand,
        seed=seed,
        side=side,
        per_community=per_community,
        districts=3,
        streets_per_district=4,
    )
    gen_s = time.perf_counter() - t0
    out: dict = {
        "communities": n_comm,
        "candidates": n_cand,
        "side_km": round(side / 1000, 2),
        "districts": int(len(P.district_targets)),
        "target_columns": list(P.district_targets.columns),
        "cover_nnz": {k: int(m.nnz) for k, m in P.cover.items() if k != "street_centre"},
        "candidates_in_reach_mean": {
            k: round(m.nnz / n_comm, 1) for k, m in P.cover.items() if k != "street_centre"
        },
        "served_today": {k: int(v.sum()) for k, v in P.existing_served.items()},
        "generate_s": gen_s,
        "time_limit_s": time_limit,
        "scale_time_s": scale_time,
        "gap_target": gap_target,
        "runs": {},
    }
    print(
        f"\n== city: {n_comm:,} communities x {n_cand:,} candidates on {out['side_km']} km square, "
        f"{out['districts']} districts, candidates in reach {out['candidates_in_reach_mean']} "
        f"(generated in {gen_s:.1f} s)",
        flush=True,
    )

    def solve(mode: str, method: str, budget: float | None = None):
        limit = time_limit if method == "exact" else scale_time
        with Clock() as c:
            r = solve_siting(
                P, mode=mode, budget=budget, time_limit=limit, method=method, gap_target=gap_target
            )
        row = siting_row(r, c)
        row["method"] = method
        row["time_limit_s"] = limit
        key = f"{mode} {method}"
        if budget is not None:
            row["budget"] = budget
            row["budget_share_of_cover_all"] = budget_share
        out["runs"][key] = row
        print(f"{key}: {_siting_line(row)}", flush=True)
        return r

    cover = [solve("cover_all", m) for m in methods]
    costs = [r.total_cost for r in cover if r.has_solution]
    if budget_share > 0 and costs:
        budget = budget_share * min(costs)
        out["budget"] = budget
        for m in methods:
            solve("budget", m, budget)
    return out


def _siting_line(row: dict) -> str:
    m = row["model"]
    gap = "n/a" if row["gap"] is None else f"{row['gap']:.3%}"
    return (
        f"{row['status']} in {row['wall_s']:.1f} s (CPU {row['cpu_s']:.1f} s), objective {_fmt(row['objective'])}, "
        f"bound {_fmt(row['bound'])}, gap {gap}; rows {m['naive_rows']:,} -> "
        f"{m['rows']:,}, cols {m['naive_cols']:,} -> {m['cols']:,}, nnz {m['naive_nnz']:,} -> "
        f"{m['nnz']:,}"
    )


# --------------------------------------------------------------------------- tables


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.0f}"


def print_tables(results: dict) -> None:
    if results["peer"]:
        _peer_table(results)
    if results["city"]:
        _city_table(results)


def _peer_table(results: dict) -> None:
    print(
        "\n| instance | model | tool | build s | solve s | solve CPU s | total s | status | "
        "objective | sites |"
    )
    print("|---|---|---|---:|---:|---:|---:|---|---:|---:|")
    for pr in results["peer"]:
        name = f"{pr['communities']:,} x {pr['candidates']:,}"
        for model in ("lscp", "mclp"):
            for tool in ("carecircle", "spopt"):
                if tool not in pr:
                    continue
                r = pr[tool][model]
                label = model.upper() + (f" p={pr['p']}" if model == "mclp" else "")
                print(
                    f"| {name} | {label} | {tool} | {r['build_s']:.2f} | {r['solve_s']:.2f} | "
                    f"{r['solve_cpu_s']:.2f} | {r['total_s']:.2f} | {_status(r)} | {r['objective']:,.0f} | {r['sites']} |"
                )


def _city_table(results: dict) -> None:
    print(
        "\n| city | run | status | wall s | CPU s | rows before -> after | cols before -> after | "
        "nnz before -> after | objective | bound | gap |"
    )
    print("|---|---|---|---:|---:|---|---|---|---:|---:|---:|")
    for c in results["city"]:
        name = f"{c['communities']:,} x {c['candidates']:,}"
        for mode, r in c["runs"].items():
            m = r["model"]
            gap = "n/a" if r["gap"] is None else f"{r['gap']:.3%}"
            obj, bnd = _fmt(r["objective"]), _fmt(r["bound"])
            print(
                f"| {name} | {mode} | {r['status']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | "
                f"{m['naive_rows']:,} -> {m['rows']:,} | {m['naive_cols']:,} -> {m['cols']:,} | "
                f"{m['naive_nnz']:,} -> {m['nnz']:,} | {obj} | {bnd} | {gap} |"
            )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small instances, under a minute")
    ap.add_argument(
        "--peer",
        type=int,
        nargs=2,
        action="append",
        metavar=("COMMUNITIES", "CANDIDATES"),
        help="peer-comparison instance size (repeatable); default 2000 5000 (quick: 300 750)",
    )
    ap.add_argument(
        "--city",
        type=int,
        nargs=2,
        action="append",
        metavar=("COMMUNITIES", "CANDIDATES"),
        help="city-scale instance size (repeatable); default 5000 20000 and the hard 3000 20000 "
        "(quick: 1000 4000)",
    )
    ap.add_argument("--radius", type=float, default=750.0, help="elderly reach in metres")
    ap.add_argument(
        "--methods",
        default="exact,scale",
        help="siting methods on each city (exact = plain HiGHS, scale = LP bound + heuristics)",
    )
    ap.add_argument(
        "--scale-time", type=float, default=None, help="seconds for the scale path (default 60; quick 15)"
    )
    ap.add_argument("--gap-target", type=float, default=0.01, help="the scale path's gap target")
    ap.add_argument(
        "--time-limit", type=float, default=None, help="seconds per solve (default 300; quick 15)"
    )
    ap.add_argument(
        "--budget-share",
        type=float,
        default=0.8,
        help="budget run at this share of the cover-all cost (0 = skip the budget run)",
    )
    ap.add_argument("--skip-spopt", action="store_true", help="only time carecircle")
    ap.add_argument(
        "--parts",
        default="peer,city",
        help="which parts to run: peer, city or peer,city (default both)",
    )
    ap.add_argument(
        "--out",
        default=None,
        help="JSON file name in benchmarks/results (default optimize.json / optimize-quick.json)",
    )
    args = ap.parse_args(argv)
    parts = {x.strip() for x in args.parts.split(",")}
    peers = args.peer or ([(300, 750)] if args.quick else [(2000, 5000)])
    cities = args.city or ([(1000, 4000)] if args.quick else [(5000, 20000), (3000, 20000)])
    peers = peers if "peer" in parts else []
    cities = cities if "city" in parts else []
    time_limit = args.time_limit or (15.0 if args.quick else 300.0)

    t_start = time.perf_counter()
    results: dict = {
        "date": time.strftime("%Y-%m-%d"),
        "quick": args.quick,
        "machine": machine(),
        "load_average_start": os.getloadavg(),
        "radius_m": args.radius,
        "time_limit_s": time_limit,
        "argv": sys.argv[1:] if argv is None else list(argv),
        "peer": [],
        "city": [],
    }
    print(json.dumps(results["machine"]), flush=True)
    # Load HiGHS, pulp and spopt once on a toy instance, so that the first timed solve
    # does not pay for imports and library loading.
    toy = plane_instance(20, 50, args.radius)
    ours_lscp(toy, 5.0)
    if not args.skip_spopt:
        spopt_lscp(toy, 5.0)
    for n, j in peers:
        results["peer"].append(peer(n, j, args.radius, time_limit, args.skip_spopt))
    methods = tuple(x.strip() for x in args.methods.split(",") if x.strip())
    scale_time = args.scale_time or (15.0 if args.quick else 60.0)
    results["scale_time_s"] = scale_time
    for n, j in cities:
        results["city"].append(
            city(
                n, j, args.radius, time_limit, args.budget_share,
                methods=methods, scale_time=scale_time, gap_target=args.gap_target,
            )
        )
    results["load_average_end"] = os.getloadavg()
    results["total_s"] = round(time.perf_counter() - t_start, 1)
    name = args.out or ("optimize-quick.json" if args.quick else "optimize.json")
    out = HERE / "results" / name
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=_json_default) + "\n", encoding="utf-8")
    print_tables(results)
    print(
        f"\ntotal {results['total_s']} s; load average {results['load_average_start']} -> "
        f"{results['load_average_end']}; results in {out.relative_to(ROOT)}"
    )
    return 0


def _json_default(o):
    """numpy scalars and arrays in the reduction reports."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


if __name__ == "__main__":
    raise SystemExit(main())
