"""Benchmark: what issue 19 adds to a whole-city run, per community and per site.

On the generated Xi'an-size city of ``benchmarks/city.py`` (``--scale``, default 1.0:
3,223 communities of which about 2,400 villages, 20,000 candidates, ~800k-node network),
made to carry what issue 19 reads: its villages' 互助幸福院 become rural happiness homes
(``rural_home``), institutions get nursing-type beds (40-70 %) and one public
demonstration home in every other district, half the small village buildings are set
aside for a rural home (instead of childcare),
and the largest new-build and renovation candidates of every district (``--institutions``
in all, default 400) may host an elderly institution, made institution-sized (6,000-12,000
m², costed at the generator's unit costs).  Timed, in this process, on a warm network
cache:

1. **Villages.**  Today's community status with the rural travel limit (2 km, rural
   homes at 200 m²) and without it (villages judged like city blocks): the difference
   is what the rural rule costs.
2. **Reach.**  The candidates' reach of every community on the network at the walking
   limits, and of the villages at the rural limit (pairs, seconds).
3. **Model.**  The siting problem (:func:`carecircle.runs.plan.build_problem`), the
   MILP with the institution columns and bed rows and without them (rows, columns,
   nonzeros, build seconds), each solved by :func:`carecircle.siting.solve.solve_siting`
   with ``--time-limit``: status, objective, bound, gap.
4. **Sites and money.**  The plan's sites with their beds and cost split
   (:func:`carecircle.runs.plan.proposed_facilities`) and their costing
   (:func:`carecircle.siting.costing.cost_plan`, the clause table included).

Run from the repository root::

    PYTHONPATH=src python benchmarks/beds.py --quick           # scale 0.05, 20 s limit
    PYTHONPATH=src nice python benchmarks/beds.py              # the whole city

Writes ``benchmarks/results/beds-s<scale>.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import city  # noqa: E402  (benchmarks/city.py: the generated city, cached)
import geopandas as gpd  # noqa: E402


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self) -> Clock:
        self.t, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = round(time.perf_counter() - self.t, 2)
        self.cpu = round(time.process_time() - self.c, 2)


def augment(folder: Path, scen_path: Path, n_institutions: int, time_limit: float) -> Path:
    """The city with what issue 19 reads (see the module docstring); a scenario for it."""
    fac = gpd.read_file(folder / "facilities.geojson")
    fac["kind"] = np.where(fac["name"].str.endswith("互助幸福院"), "rural_home", fac["kind"])
    rng = np.random.default_rng(19)
    inst = (fac["kind"] == "institution").to_numpy()
    fac["nursing_beds"] = np.where(inst, np.floor(fac["beds"] * rng.uniform(0.4, 0.7, len(fac))),
                                   0.0)
    demo = np.zeros(len(fac), bool)
    public = inst & (fac["ownership"] == "public").to_numpy()
    for k, d in enumerate(sorted(fac["district"].astype(str).unique())):
        rows = np.flatnonzero(public & (fac["district"].astype(str) == d).to_numpy())
        if k % 2 == 0 and len(rows):
            demo[rows[0]] = True
    fac["demonstration"] = demo
    fac.to_file(folder / "facilities-beds.geojson", driver="GeoJSON")
    cand = gpd.read_file(folder / "candidates.geojson")
    village = cand["name"].str.endswith(("委会闲置用房", "闲置小学", "集体建设用地")).to_numpy()
    kinds = cand["kinds"].astype(str).to_numpy(dtype=object)
    # half the small village buildings (too small for a station) are set aside for a rural
    # home instead of childcare: one building under 500 m² cannot host both
    small = village & (kinds == "childcare") & (cand["floor_area_m2"].to_numpy(float) >= 200)
    kinds[small & (rng.random(len(cand)) < 0.5)] = "rural_home"
    # the largest new-build and renovation sites of every district, made institution-sized
    dist = gpd.read_file(folder / "districts.geojson")
    code = cand.sjoin(dist[["code", "geometry"]], how="left", predicate="within")
    code = code[~code.index.duplicated()]["code"].astype(str).to_numpy()
    big = cand["acquisition"].isin(["new", "renovate"]).to_numpy()
    area = cand["floor_area_m2"].to_numpy(float)
    per = max(n_institutions // len(dist), 1)
    pick = np.concatenate([
        np.flatnonzero(big & (code == d))[np.argsort(-area[big & (code == d)], kind="stable")][:per]
        for d in sorted(set(code))])
    kinds[pick] = [k + ";institution" for k in kinds[pick]]
    cand["kinds"] = kinds
    new_area = np.round(rng.uniform(6000, 12000, len(pick)))
    unit = np.where(cand["acquisition"].to_numpy()[pick] == "new", rng.uniform(6000, 9000, len(pick)),
                    rng.uniform(2000, 3500, len(pick)))
    cand.loc[pick, "floor_area_m2"] = new_area
    cand.loc[pick, "cost_yuan"] = np.round(new_area * unit, -3)
    cand.to_file(folder / "candidates-beds.geojson", driver="GeoJSON")
    text = scen_path.read_text(encoding="utf-8")
    text = text.replace('"facilities.geojson"', '"facilities-beds.geojson"').replace(
        '"candidates.geojson"', '"candidates-beds.geojson"')
    text = text.replace('name = "xian-city', 'name = "xian-beds', 1)
    out = folder / f"scenario-beds-t{time_limit:g}.toml"
    out.write_text(text, encoding="utf-8")
    return out


def measure(scen_path: Path, scale: float, time_limit: float) -> dict:
    from carecircle.assess.coverage import status_kwargs
    from carecircle.runs.context import prepare
    from carecircle.runs.plan import build_problem, proposed_facilities
    from carecircle.siting.costing import cost_plan
    from carecircle.siting.model import build_model
    from carecircle.siting.solve import solve_siting

    os.environ["CARECIRCLE_CACHE_DIR"] = str(city.WORK / f"cache-s{scale:g}")
    res: dict = {}
    with Clock() as c:
        ctx = prepare(scen_path, quiet=True)
    res["prepare"] = {"wall_s": c.wall, "cpu_s": c.cpu}
    scen, inputs = ctx.scenario, ctx.inputs
    comm_in = inputs["communities"]
    rural = (comm_in["urban_rural"] == "rural").to_numpy()
    res["communities"] = {"all": len(comm_in), "villages": int(rural.sum())}
    kw = status_kwargs(scen)
    ctx.engine.community_status(comm_in.iloc[:5], inputs["facilities"], **kw)  # warm up
    with Clock() as c:
        walk_only = ctx.engine.community_status(comm_in, inputs["facilities"],
                                                **{**kw, "rural_limit_m": None})
    with Clock() as r:
        comm = ctx.engine.community_status(comm_in, inputs["facilities"], **kw)
    vill = rural & comm["snapped"].to_numpy(bool)
    res["villages"] = {
        "status_walk_only": {"wall_s": c.wall, "cpu_s": c.cpu},
        "status_with_rural_limit": {"wall_s": r.wall, "cpu_s": r.cpu},
        "rural_rule_ms_per_village": round(1000 * max(r.wall - c.wall, 0) / max(rural.sum(), 1), 3),
        "villages_served_walk_only": int(walk_only["elderly_served"].to_numpy()[vill].sum()),
        "villages_served_rural_limit": int(comm["elderly_served"].to_numpy()[vill].sum()),
        "villages_on_network": int(vill.sum()), "rural_limit_m": scen.rural.limit()}
    print(f"  villages: status {c.wall} s walk only, {r.wall} s with the rural limit; served "
          f"{res['villages']['villages_served_walk_only']} -> "
          f"{res['villages']['villages_served_rural_limit']} of {int(vill.sum())}", flush=True)
    on = comm["snapped"].to_numpy(bool)
    cand = inputs["candidates"].reset_index(drop=True)
    from carecircle.siting.problem import KINDS

    with Clock() as c:
        walk = ctx.engine.cover(np.flatnonzero(on), comm_in, cand,
                                {k: scen.walking.limit_m(k) for k in KINDS})
    with Clock() as r:
        far = ctx.engine.cover(np.flatnonzero(on & rural), comm_in, cand,
                               {"elderly": scen.rural.limit()})["elderly"]
    res["reach"] = {
        "walk": {"wall_s": c.wall, "cpu_s": c.cpu,
                 "pairs": {k: int(v.nnz) for k, v in walk.items()}},
        "villages_rural_limit": {"wall_s": r.wall, "cpu_s": r.cpu, "pairs": int(far.nnz),
                                 "villages": int((on & rural).sum())}}
    print(f"  reach: walk {c.wall} s, villages at {scen.rural.limit():g} m {r.wall} s "
          f"({far.nnz:,} pairs)", flush=True)
    del walk, far
    today = SimpleNamespace(communities=comm)
    with Clock() as c:
        problem, aux = build_problem(ctx, today)
    res["problem"] = {"wall_s": c.wall, "cpu_s": c.cpu,
                      "institution_candidates": int(problem.can_host["institution"].sum()),
                      "rural_home_candidates": int(aux["rural_home"].sum())}
    bed_cols = [c for c in ("beds_share", "nursing_share", "min_demonstration")
                if c in problem.district_targets]
    res["problem"]["bed_targets"] = bed_cols
    runs = {}
    no_inst = problem.with_changes(can_host={**problem.can_host,
                                             "institution": np.zeros(problem.n_candidates, bool)})
    no_beds = ("coverage", "street_centre", "places", "minimum")  # the targets before issue 19
    for label, P, targets in (("with_institutions", problem, None),
                              ("without_institutions", no_inst, no_beds)):
        with Clock() as b:
            M = build_model(P, mode="cover_all", targets=targets)
        with Clock() as s:
            result = solve_siting(P, mode="cover_all", time_limit=time_limit, targets=targets,
                                  mip_gap=scen.plan.mip_gap, allow_uncoverable=True)
        m = M.milp
        runs[label] = {"build_s": b.wall, "rows": m.n_rows, "cols": m.n_cols, "nnz": m.nnz,
                       "solve_wall_s": s.wall, "solve_cpu_s": s.cpu, "status": result.status,
                       "objective": result.objective, "bound": result.bound,
                       "gap_pct": 100 * result.gap if np.isfinite(result.gap) else None,
                       "institutions": int(len(result.opened.get("institution", []))),
                       "beds": float(result.sites["beds_new"].sum()) if len(result.sites) else 0.0,
                       "message": result.message[:300]}
        print(f"  model {label}: {m.n_rows:,} rows x {m.n_cols:,} cols; {result.status}, "
              f"objective {result.objective:,.0f}, {s.wall} s", flush=True)
        if label == "with_institutions":
            with_result = result
    res["model"] = runs
    with Clock() as c:
        sites, _new = proposed_facilities(with_result, aux["candidates"], aux["places_new"],
                                          scen.standards, problem=problem, aux=aux)
    with Clock() as k:
        priced = cost_plan(sites.drop(columns="geometry").rename(
            columns={"places_added": "places", "beds_added": "beds"}),
            unit_costs=scen.plan.unit_costs) if len(sites) else None
    split_ok = bool(np.allclose(sites["building_yuan"] + sites["fitout_yuan"]
                                - sites["shared_saving_yuan"], sites["cost_yuan"],
                                rtol=1e-9, atol=1.0)) if len(sites) else True
    res["sites_and_money"] = {
        "sites": len(sites), "proposed_facilities_s": c.wall, "cost_plan_s": k.wall,
        "cost_split_adds_up": split_ok,
        "clauses_applied": (int(priced.clauses["status"].str.startswith("applied").sum())
                            if priced is not None else 0)}
    res["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return res


def print_table(res: dict) -> None:
    v, r, p = res["villages"], res["reach"], res["model"]
    print("\n| step | seconds (wall / CPU) | size |\n|---|---|---|")
    print(f"| status, villages judged like city blocks | {v['status_walk_only']['wall_s']} / "
          f"{v['status_walk_only']['cpu_s']} | {res['communities']['all']:,} communities |")
    print(f"| status with the rural limit | {v['status_with_rural_limit']['wall_s']} / "
          f"{v['status_with_rural_limit']['cpu_s']} | {res['communities']['villages']:,} villages, "
          f"{v['rural_rule_ms_per_village']} ms each extra |")
    print(f"| reach at the walk | {r['walk']['wall_s']} / {r['walk']['cpu_s']} | "
          f"{sum(r['walk']['pairs'].values()):,} pairs |")
    print(f"| reach of villages at {v['rural_limit_m']:,.0f} m | "
          f"{r['villages_rural_limit']['wall_s']} / {r['villages_rural_limit']['cpu_s']} | "
          f"{r['villages_rural_limit']['pairs']:,} pairs |")
    for label, m in p.items():
        print(f"| model {label.replace('_', ' ')}: build / solve | {m['build_s']} / "
              f"{m['solve_wall_s']} | {m['rows']:,} x {m['cols']:,}, {m['nnz']:,} nnz; "
              f"{m['status']}, {m['institutions']} institutions, {m['beds']:,.0f} beds |")
    s = res["sites_and_money"]
    print(f"| sites and costing | {s['proposed_facilities_s']} + {s['cost_plan_s']} | "
          f"{s['sites']:,} sites |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=2023)
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--institutions", type=int, default=400)
    ap.add_argument("--quick", action="store_true", help="scale 0.05, 20 s limit")
    args = ap.parse_args(argv)
    if args.quick:
        args.scale, args.time_limit, args.institutions = 0.05, 20.0, 40
    load0 = os.getloadavg()
    with Clock() as g:
        scen_path, gen = city.scenario(args.scale, args.seed, args.time_limit)
    folder = scen_path.parent
    beds_scen = augment(folder, scen_path, args.institutions, args.time_limit)
    print(f"city at scale {args.scale:g} ({g.wall} s{' cached' if gen.get('cached') else ''})",
          flush=True)
    res = {"date": time.strftime("%Y-%m-%d"), "machine": city.machine(),
           "load_average_start": list(load0), "scale": args.scale, "seed": args.seed,
           "time_limit_s": args.time_limit, "institution_candidates_marked": args.institutions,
           "generated": gen, **measure(beds_scen, args.scale, args.time_limit),
           "load_average_end": list(os.getloadavg())}
    print_table(res)
    name = "beds-quick.json" if args.quick else f"beds-s{args.scale:g}.json"
    out = HERE / "results" / name
    out.write_text(json.dumps(res, ensure_ascii=False, indent=1, default=str) + "\n",
                   encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
