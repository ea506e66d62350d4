"""Benchmark: the assessment of a synthetic multi-city region on one process and on Dask.

The region is ``--cities`` x ``--cities`` cities on a square lattice, 6 km apart
edge to edge, joined by a road between neighbours.  Each city is a perturbed street
grid (``--side`` x ``--side`` nodes, 75 m apart, 10 % of the links removed), with
communities, facilities and candidate sites at random inside it (densities of central
Xi'an: about one community per 6 ha... here one per 4 ha of the grid, one facility
per 4 communities, one candidate per 2).  The city is the district, so the
distributed run has one partition per city.

Timed, for the same inputs:

* **single process**: :func:`carecircle.assess.coverage.community_status` (today's status
  of every community, both kinds) and :func:`carecircle.network.reach.reach_pairs` of the
  communities x candidates for both kinds (the siting model's reach matrix): what
  ``assess_context`` + ``build_problem`` do with the network.
* **Dask** ``LocalCluster`` of 1 and 2 worker processes (one thread each):
  :class:`carecircle.runs.distributed.PartitionedNetwork` (send the network, extract the
  sub-networks), then the same status and reach matrix as tasks.  The results are
  checked equal to the single-process ones.

Run from the repository root::

    PYTHONPATH=src python benchmarks/scale.py            # about 1M nodes, < 15 min
    PYTHONPATH=src python benchmarks/scale.py --quick    # small smoke run

Writes ``benchmarks/results/scale.json`` (``scale-quick.json``) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
# The worker processes import carecircle too.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
)

import geopandas as gpd  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402

from carecircle import community_status, network_from_edges, reach_pairs, snap_points  # noqa: E402

CRS = "EPSG:4545"
X0, Y0 = 500_000.0, 3_700_000.0
STEP = 75.0
GAP = 6_000.0
LIMITS = {"elderly": 900.0, "childcare": 1080.0}
KW = {
    "minutes": 15.0,
    "speed_mps": {"elderly": 1.0, "childcare": 1.2},
    "min_area_m2": {"elderly": 300.0, "childcare": 200.0},
    "max_snap_m": 300.0,
}


def region(cities: int, side: int, seed: int = 2026):
    """The synthetic region: network and point layers."""
    rng = np.random.default_rng(seed)
    span = (side - 1) * STEP
    xy_all, u_all, v_all = [], [], []
    comm, fac, cand = [], [], []
    corner = {}
    base = 0
    idx = np.arange(side * side).reshape(side, side)
    hu = np.r_[idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    hv = np.r_[idx[:, 1:].ravel(), idx[1:, :].ravel()]
    area_ha = span * span / 1e4
    n_comm = int(area_ha / 4)
    for ci in range(cities):
        for cj in range(cities):
            ox, oy = X0 + ci * (span + GAP), Y0 + cj * (span + GAP)
            gx, gy = np.meshgrid(np.arange(side), np.arange(side))
            xy = np.column_stack([gx.ravel() * STEP + ox, gy.ravel() * STEP + oy])
            xy += rng.normal(0, 10, xy.shape)
            keep = rng.random(len(hu)) > 0.10
            # Keep the outer ring so the intercity roads attach to the city.
            ring = (hu < side) | (hu % side == 0) | (hv % side == side - 1) | (hv >= side * (side - 1))
            keep |= ring
            xy_all.append(xy)
            u_all.append(hu[keep] + base)
            v_all.append(hv[keep] + base)
            corner[(ci, cj)] = base
            code = f"C{ci}{cj}"

            def pts(k, ox=ox, oy=oy):
                return shapely.points(rng.uniform([ox, oy], [ox + span, oy + span], (k, 2)))

            comm.append(gpd.GeoDataFrame({
                "id": [f"{code}-c{i}" for i in range(n_comm)],
                "district": code,
                "households": rng.integers(100, 1200, n_comm).astype(float),
            }, geometry=pts(n_comm), crs=CRS))
            nf, nk = n_comm // 4, n_comm // 2
            fac.append(gpd.GeoDataFrame({
                "id": [f"{code}-f{i}" for i in range(nf)],
                "kind": rng.choice(["elderly", "street_centre", "childcare", "institution"], nf),
                "floor_area_m2": rng.choice([150.0, 250.0, 400.0, 800.0], nf),
            }, geometry=pts(nf), crs=CRS))
            cand.append(gpd.GeoDataFrame({"id": [f"{code}-k{i}" for i in range(nk)]},
                                         geometry=pts(nk), crs=CRS))
            base += side * side
    xy = np.vstack(xy_all)
    u, v = list(np.concatenate(u_all)), list(np.concatenate(v_all))
    # Intercity roads: a chain of nodes 150 m apart between neighbouring cities' middles.
    extra_xy = []
    n = len(xy)
    mid = side // 2
    for (ci, cj), b in corner.items():
        for di, dj in ((1, 0), (0, 1)):
            if (ci + di, cj + dj) not in corner:
                continue
            b2 = corner[(ci + di, cj + dj)]
            a_node = b + (mid * side + side - 1 if di else (side - 1) * side + mid)
            z_node = b2 + (mid * side if di else mid)
            a, z = xy[a_node], xy[z_node]
            k = int(np.hypot(*(z - a)) // 150)
            prev = a_node
            for t in range(1, k):
                extra_xy.append(a + (z - a) * t / k)
                u.append(prev)
                v.append(n + len(extra_xy) - 1)
                prev = n + len(extra_xy) - 1
            u.append(prev)
            v.append(z_node)
    if extra_xy:
        xy = np.vstack([xy, np.array(extra_xy)])
    net = network_from_edges(xy, np.array(u), np.array(v), crs=CRS, source="synthetic region")
    cat = lambda parts: gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=CRS)  # noqa: E731
    return net, cat(comm), cat(fac), cat(cand)


def single(net, comm, fac, cand):
    t0 = time.perf_counter()
    status = community_status(net, comm, fac, **KW)
    t1 = time.perf_counter()
    on = np.flatnonzero(status["snapped"].to_numpy())
    cs = snap_points(net, comm.iloc[on], max_snap_m=300.0)
    ks = snap_points(net, cand, max_snap_m=300.0)
    cover = {k: reach_pairs(net, cs, ks, lim).to_sparse().tocsr() for k, lim in LIMITS.items()}
    t2 = time.perf_counter()
    return status, on, cover, {"status_s": t1 - t0, "reach_matrix_s": t2 - t1, "total_s": t2 - t0}


def warm(client):
    """Compile/load the numba kernels in every worker on a tiny network."""
    from carecircle import PartitionedNetwork

    net, comm, fac, cand = region(2, 12, seed=1)
    eng = PartitionedNetwork(client, net, comm, reach_m=1080.0, max_snap_m=300.0,
                             sites={"facilities": fac, "candidates": cand}, by="district")
    eng.community_status(comm, fac, **KW)
    eng.cover(np.arange(len(comm)), comm, cand, LIMITS)
    eng.close()


def dask_run(workers, net, comm, fac, cand, on, by, n_partitions):
    from distributed import Client, LocalCluster, wait

    from carecircle import PartitionedNetwork

    with (
        LocalCluster(n_workers=workers, processes=True, threads_per_worker=1,
                     dashboard_address=None, memory_limit=0) as cluster,
        Client(cluster) as client,
    ):
        warm(client)
        t0 = time.perf_counter()
        eng = PartitionedNetwork(client, net, comm, reach_m=1080.0, max_snap_m=300.0,
                                 sites={"facilities": fac, "candidates": cand}, by=by,
                                 n_partitions=n_partitions)
        wait(eng.subnets)
        t1 = time.perf_counter()
        status = eng.community_status(comm, fac, **KW)
        t2 = time.perf_counter()
        cover = eng.cover(on, comm, cand, LIMITS)
        t3 = time.perf_counter()
        summary = eng.summary()
        eng.close()
    return status, cover, summary, {
        "partition_and_extract_s": t1 - t0, "status_s": t2 - t1, "reach_matrix_s": t3 - t2,
        "total_s": t3 - t0, "compute_s": t3 - t1,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small smoke run")
    ap.add_argument("--cities", type=int, default=None, help="cities per side of the region")
    ap.add_argument("--side", type=int, default=None, help="grid nodes per side of a city")
    ap.add_argument("--by", default="district", choices=["district", "tiles"])
    ap.add_argument("--partitions", type=int, default=None)
    args = ap.parse_args(argv)
    cities = args.cities or (2 if args.quick else 3)
    side = args.side or (60 if args.quick else 330)

    t = time.perf_counter()
    net, comm, fac, cand = region(cities, side)
    build_s = time.perf_counter() - t
    print(f"region: {cities * cities} cities, {net.n_nodes:,} nodes, {net.n_edges:,} edges, "
          f"{len(comm):,} communities, {len(fac):,} facilities, {len(cand):,} candidates "
          f"(built in {build_s:.1f} s)", flush=True)

    # Warm the single-process kernels (numba cache) on a tiny copy.
    n2, c2, f2, k2 = region(2, 12, seed=1)
    single(n2, c2, f2, k2)
    status, on, cover, t_single = single(net, comm, fac, cand)
    print(f"single process: {t_single}", flush=True)
    rows = [{"run": "single process (2 threads for reach pairs)", **t_single}]
    parts = None
    for workers in (1, 2):
        st, cv, summary, t_dask = dask_run(workers, net, comm, fac, cand, on, args.by,
                                            args.partitions)
        pd.testing.assert_frame_equal(st, status)
        for k in LIMITS:
            assert (cv[k] != cover[k]).nnz == 0, k
        print(f"dask {workers} worker(s): {t_dask} (results identical)", flush=True)
        rows.append({"run": f"Dask LocalCluster, {workers} worker process(es)", **t_dask})
        parts = summary
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(table.round(2).to_string(index=False))
    print(parts.to_string(index=False))
    halo_nodes = int(parts["nodes"].sum())
    pairs = int(sum(c.nnz for c in cover.values()))
    out = {
        "date": "2026-11-24",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "region": {"cities": cities * cities, "side_nodes": side, "nodes": net.n_nodes,
                   "edges": net.n_edges, "communities": len(comm), "facilities": len(fac),
                   "candidates": len(cand), "build_s": build_s, "reach_pairs": pairs,
                   "partition_nodes_sum": halo_nodes,
                   "halo_overhead": halo_nodes / net.n_nodes},
        "partitions": parts.to_dict(orient="records"),
        "runs": rows,
    }
    res = HERE / "results"
    res.mkdir(exist_ok=True)
    path = res / ("scale-quick.json" if args.quick else "scale.json")
    path.write_text(json.dumps(out, indent=2, default=float) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
