"""Benchmark: walking reach on city-scale networks (>= 700k nodes).

Two networks, both built in this run:

* **tiled-xian**: the real central-Xi'an street pattern (``../shared/data/xian-central/
  roads-osm-2021``) repeated on an 18 x 19 grid of tiles with the tile borders
  stitched by footways, padded with random buildings, written as an ``.osm.pbf``
  (about 80 MB) and loaded back through :func:`carecircle.network.sources.load_network`:
  this also measures loading a city-sized PBF.
* **dense-grid**: a perturbed 60 m street grid with 10 % of the links removed
  (about 280 nodes per km2, a dense urban walking network), 880 x 880 nodes.

On each: 50,000 origins and 1,000 / 5,000 / 20,000 sites at random, 900 m limit;
wall time and peak memory of :func:`carecircle.network.reach.reach_pairs`, pairs found;
networkx's per-source loop (``single_source_dijkstra_path_length`` with
``cutoff``) on a sample of sources, extrapolated; pandana (contraction
hierarchies) if it is installed.

Run from the repository root::

    PYTHONPATH=src python benchmarks/reach.py            # full run, a few minutes
    PYTHONPATH=src python benchmarks/reach.py --pandana  # and pandana, about 7 min more
    PYTHONPATH=src python benchmarks/reach.py --quick    # small smoke run

Writes ``benchmarks/results/reach.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyproj
import shapely

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

import _machine  # noqa: E402  (benchmarks/, the script's own folder)

from carecircle import (  # noqa: E402
    Snapped,
    load_network,
    nearest_site,
    network_from_edges,
    reach_pairs,
    snap_points,
    to_networkx,
)
from carecircle.runs.osmpbf import write_osm_pbf  # noqa: E402

XIAN = ROOT.parent / "shared" / "data" / "xian-central" / "roads-osm-2021"
WORK = HERE / "_work"
LIMIT_M = 900.0


# --------------------------------------------------------------------------- memory


def _status(key: str) -> int:
    """A /proc/self/status value in bytes (Linux)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak() -> None:
    """Reset the process's peak RSS (VmHWM) so the next peak is this step's own."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


class Measure:
    """Wall time, process peak RSS and its rise over the RSS at the start."""

    def __enter__(self):
        gc.collect()
        reset_peak()
        self.rss0 = _status("VmRSS")
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.peak = _status("VmHWM")
        self.rise = max(0, self.peak - self.rss0)


def mb(x: float) -> float:
    return round(x / 2**20, 1)


# --------------------------------------------------------------------------- PBF writer
# The project's own OSM PBF writer (carecircle.runs.osmpbf); way kinds 0/1/2 of the
# tiled city below are these tag sets.
WAY_TAGS = ({"highway": "residential"}, {"highway": "footway"}, {"building": "yes"})


# --------------------------------------------------------------------------- networks


def tiled_xian_pbf(path: Path, nx_tiles: int, ny_tiles: int, buildings: int, seed: int = 0) -> dict:
    """Tile the central-Xi'an streets into a city and write it as an .osm.pbf."""
    base = load_network(XIAN, cache_dir=False)
    to_ll = pyproj.Transformer.from_crs(base.crs, "EPSG:4326", always_xy=True)
    node_ll = np.column_stack(to_ll.transform(base.node_xy[:, 0], base.node_xy[:, 1]))
    n = base.n_nodes
    # ways: one per edge, interior vertices become new nodes
    coords = [np.column_stack(to_ll.transform(*np.asarray(g.coords).T)) for g in base.edge_geometry]
    local_ll = [node_ll]
    refs_local = []
    next_id = n
    for e, c in enumerate(coords):
        inner = c[1:-1]
        inner_ids = np.arange(next_id, next_id + len(inner))
        next_id += len(inner)
        local_ll.append(inner)
        refs_local.append(np.r_[base.edge_u[e], inner_ids, base.edge_v[e]])
    local_ll = np.vstack(local_ll)
    n_local = next_id
    lon_min, lat_min = node_ll.min(axis=0)
    lon_max, lat_max = node_ll.max(axis=0)
    dx, dy = (lon_max - lon_min) + 0.002, (lat_max - lat_min) + 0.002
    deg = np.bincount(np.r_[base.edge_u, base.edge_v], minlength=n)

    def links(axis: int) -> np.ndarray:
        """Pairs (node in tile, node in next tile) joining a border."""
        lo, hi = node_ll[:, axis].min(), node_ll[:, axis].max()
        near_hi = np.flatnonzero((node_ll[:, axis] > hi - 0.004) & (deg <= 2))
        near_lo = np.flatnonzero(node_ll[:, axis] < lo + 0.004)
        shift = np.zeros(2)
        shift[axis] = dx if axis == 0 else dy
        tree = shapely.STRtree(shapely.points(node_ll[near_lo] + shift))
        j = tree.nearest(shapely.points(node_ll[near_hi]))
        d = np.hypot(*(node_ll[near_hi] - (node_ll[near_lo][j] + shift)).T)
        keep = d < 0.006
        return np.unique(np.column_stack([near_hi[keep], near_lo[j][keep]]), axis=0)

    east, north = links(0), links(1)
    rng = np.random.default_rng(seed)
    stride = 10**8
    street_refs = np.concatenate(refs_local)
    street_len = np.array([len(r) for r in refs_local])
    square = np.array([0, 1, 2, 3, 0])
    s = 0.00015  # building side, about 15 m
    corner = np.array([[0, 0], [s, 0], [s, s], [0, s]])
    ids, lons, lats, refs, lens, kinds = [], [], [], [], [], []
    for ty in range(ny_tiles):
        for tx in range(nx_tiles):
            off = (ty * nx_tiles + tx + 1) * stride
            ids.append(np.arange(n_local, dtype=np.int64) + off)
            lons.append(local_ll[:, 0] + tx * dx)
            lats.append(local_ll[:, 1] + ty * dy)
            refs.append(street_refs + off)
            lens.append(street_len)
            kinds.append(np.zeros(len(street_len), dtype=np.int64))
            # buildings: closed 4-node squares scattered over the tile
            bx = rng.uniform(lon_min, lon_max, buildings) + tx * dx
            by = rng.uniform(lat_min, lat_max, buildings) + ty * dy
            bll = (np.column_stack([bx, by])[:, None, :] + corner[None]).reshape(-1, 2)
            bid = off + n_local + np.arange(4 * buildings, dtype=np.int64)
            ids.append(bid)
            lons.append(bll[:, 0])
            lats.append(bll[:, 1])
            refs.append((bid[::4][:, None] + square[None]).ravel())
            lens.append(np.full(buildings, 5))
            kinds.append(np.full(buildings, 2))
    for ty in range(ny_tiles):
        for tx in range(nx_tiles):
            t = ty * nx_tiles + tx
            for pairs, t2, ok in (
                (east, t + 1, tx + 1 < nx_tiles),
                (north, t + nx_tiles, ty + 1 < ny_tiles),
            ):
                if ok and len(pairs):
                    refs.append(
                        np.column_stack(
                            [pairs[:, 0] + (t + 1) * stride, pairs[:, 1] + (t2 + 1) * stride]
                        ).ravel()
                    )
                    lens.append(np.full(len(pairs), 2))
                    kinds.append(np.ones(len(pairs), dtype=np.int64))
    way_len = np.concatenate(lens)
    all_ids = np.concatenate(ids)
    write_osm_pbf(
        path,
        all_ids,
        np.column_stack([np.concatenate(lons), np.concatenate(lats)]),
        np.concatenate(refs),
        way_len,
        np.concatenate(kinds),
        WAY_TAGS,
    )
    return {
        "tiles": nx_tiles * ny_tiles,
        "osm_nodes": int(all_ids.size),
        "osm_ways": int(len(way_len)),
        "buildings_per_tile": buildings,
        "file_mb": mb(path.stat().st_size),
    }


def dense_grid(side: int, spacing: float = 60.0, drop: float = 0.1, seed: int = 1):
    """Perturbed street grid in UTM 49N near Xi'an, a share of links removed."""
    rng = np.random.default_rng(seed)
    i, j = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    xy = np.column_stack([i.ravel() * spacing, j.ravel() * spacing]).astype(float)
    xy += rng.uniform(-spacing / 6, spacing / 6, xy.shape)
    xy += [560_000.0, 3_760_000.0]
    idx = np.arange(side * side).reshape(side, side)
    u = np.r_[idx[:-1, :].ravel(), idx[:, :-1].ravel()]
    v = np.r_[idx[1:, :].ravel(), idx[:, 1:].ravel()]
    keep = rng.random(len(u)) >= drop
    return network_from_edges(xy, u[keep], v[keep], crs="EPSG:32649", source=f"grid {side}x{side}")


# --------------------------------------------------------------------------- runs


def random_points(net, k: int, rng, prefix: str):
    import geopandas as gpd

    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    xy = rng.uniform(lo, hi, size=(k, 2))
    return gpd.GeoDataFrame(
        {"id": [f"{prefix}{i}" for i in range(k)]}, geometry=shapely.points(xy), crs=net.crs
    )


def points_for(net, n_origins: int, n_sites: int) -> tuple[Snapped, Snapped]:
    """The same random origins and sites in the child and the parent process."""
    rng = np.random.default_rng(42)
    origins = snap_points(net, random_points(net, n_origins, rng, "o"))
    sites = snap_points(net, random_points(net, n_sites, rng, "s"))
    return origins, sites


def get_network(name: str, args) -> object:
    if name == "tiled-xian":
        return load_network(args.pbf, cache_dir=WORK / "cache")
    return dense_grid(args.side)


def child(args) -> None:
    """Measure our reach in a fresh process: its RSS is the network plus the search."""
    rss_start = _status("VmRSS")
    net = get_network(args.child, args)
    out: dict = {"nodes": net.n_nodes, "edges": net.n_edges, "rss_start_mb": mb(rss_start)}
    with Measure() as m:
        origins, sites_all = points_for(net, args.origins, max(args.sites))
    out["snap_seconds"] = round(m.seconds, 2)
    out["origins_snapped"] = int(origins.ok.sum())
    out["rss_with_network_and_points_mb"] = mb(_status("VmRSS"))
    reach_pairs(
        net, origins.subset(slice(0, 50)), sites_all.subset(slice(0, 50)), LIMIT_M
    )  # load JIT
    out["runs"] = []
    for k in args.sites:
        sites = sites_all.subset(slice(0, k))
        for threads in (None, 1) if k == max(args.sites) else (None,):
            cpu0 = time.process_time()
            with Measure() as m:
                pairs = reach_pairs(net, origins, sites, LIMIT_M, threads=threads)
            out["runs"].append(
                {
                    "sites": k,
                    "sites_snapped": int(sites.ok.sum()),
                    "threads": threads or len(os.sched_getaffinity(0)),
                    "seconds": round(m.seconds, 3),
                    "cpu_seconds": round(time.process_time() - cpu0, 3),
                    "peak_rss_mb": mb(m.peak),
                    "rise_mb": mb(m.rise),
                    "pairs": len(pairs),
                }
            )
            del pairs
    with Measure() as m:
        idx, _ = nearest_site(net, origins, sites_all)
    out["nearest_site"] = {
        "sites": max(args.sites),
        "origins": args.origins,
        "seconds": round(m.seconds, 3),
        "rise_mb": mb(m.rise),
        "origins_with_site": int((idx >= 0).sum()),
    }
    out["process_peak_rss_mb"] = mb(_status("VmHWM"))
    print("CHILD-JSON " + json.dumps(out), flush=True)


def run_child(name: str, args) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        name,
        "--side",
        str(args.side),
        "--origins",
        str(args.origins),
        "--pbf",
        str(args.pbf),
        "--sites",
        *map(str, args.sites),
    ]
    res = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    line = next(x for x in res.stdout.splitlines() if x.startswith("CHILD-JSON "))
    return json.loads(line[len("CHILD-JSON ") :])


def networkx_loop(net, args) -> dict:
    """networkx's per-source loop with cutoff, timed on a sample of the sites."""
    import networkx as nx

    _, sites = points_for(net, 10, max(args.sites))
    with Measure() as m:
        G = to_networkx(net)
    ok = np.flatnonzero(sites.ok)[: args.nx_sample]
    e = sites.edge[ok]
    ends = np.where(sites.offset[ok] <= net.edge_length[e] / 2, net.edge_u[e], net.edge_v[e])
    t0 = time.perf_counter()
    settled = 0
    for node in ends.tolist():
        settled += len(
            nx.single_source_dijkstra_path_length(G, node, cutoff=LIMIT_M, weight="length")
        )
    per_source = (time.perf_counter() - t0) / len(ends)
    del G
    gc.collect()
    return {
        "graph_build_seconds": round(m.seconds, 1),
        "graph_rise_mb": mb(m.rise),
        "sample_sources": int(len(ends)),
        "seconds_per_source": per_source,
        "nodes_per_source": settled / len(ends),
    }


def bench_pandana(net, args) -> dict:
    try:
        import pandana
        import pandas as pd
    except ImportError as exc:
        print(f"pandana not installed ({exc}); skipped", flush=True)
        return {"available": False, "reason": str(exc)}
    _, sites = points_for(net, 10, max(args.sites))
    out: dict = {"available": True, "version": pandana.__version__, "runs": []}
    edges = pd.DataFrame({"from": net.edge_u, "to": net.edge_v, "length": net.edge_length})
    edges = edges[edges["from"] != edges["to"]]
    with Measure() as m:
        pnet = pandana.Network(
            pd.Series(net.node_xy[:, 0]),
            pd.Series(net.node_xy[:, 1]),
            edges["from"],
            edges["to"],
            edges[["length"]],
            twoway=True,
        )
    out["preprocess_seconds"] = round(m.seconds, 1)
    out["preprocess_rise_mb"] = mb(m.rise)
    print(
        f"pandana {pandana.__version__}: contraction hierarchies in {m.seconds:.1f} s", flush=True
    )
    ok = np.flatnonzero(sites.ok)
    for k in args.sites:
        sel = ok[ok < k]
        src = net.edge_u[sites.edge[sel]]
        with Measure() as m:
            df = pnet.nodes_in_range(list(map(int, src)), LIMIT_M)
        out["runs"].append(
            {
                "sites": k,
                "seconds": round(m.seconds, 3),
                "rise_mb": mb(m.rise),
                "node_pairs": len(df),
            }
        )
        print(
            f"pandana nodes_in_range {k:>6,} sources: {m.seconds:7.3f} s, {len(df):,} node pairs",
            flush=True,
        )
        del df
    return out


def machine() -> dict:
    return _machine.machine(
        {
            "numba": __import__("numba").__version__,
            "networkx": __import__("networkx").__version__,
            "gdal": __import__("pyogrio").__gdal_version_string__,
        }
    )


def report_row(name: str, r: dict) -> list[str]:
    nxr = r["networkx"]
    pdr = {x["sites"]: x for x in r.get("pandana", {}).get("runs", [])}
    rows = []
    for run in r["ours"]["runs"]:
        est = nxr["seconds_per_source"] * run["sites_snapped"]
        p = pdr.get(run["sites"], {}).get("seconds")
        rows.append(
            f"| {name} | {r['ours']['nodes']:,} | {run['sites']:,} | {run['threads']} | {run['seconds']:.3f} | "
            f"{run['cpu_seconds']:.2f} | {run['peak_rss_mb']:.0f} | {run['pairs']:,} | {est:.1f} | "
            f"{est / run['seconds']:.0f}x | {'n/a' if p is None else f'{p:.2f}'} |"
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small networks, for a smoke test")
    ap.add_argument(
        "--pandana", action="store_true", help="also time pandana on tiled-xian (adds ~6 min)"
    )
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--pbf", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--side", type=int, default=880, help=argparse.SUPPRESS)
    ap.add_argument("--origins", type=int, default=50000, help=argparse.SUPPRESS)
    ap.add_argument(
        "--sites", type=int, nargs="+", default=[1000, 5000, 20000], help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    t_start = time.perf_counter()
    WORK.mkdir(parents=True, exist_ok=True)
    tiles = (3, 3) if args.quick else (18, 19)
    buildings = 1000 if args.quick else 16000
    if args.quick:
        args.side, args.origins, args.sites = 120, 5000, [100, 500, 2000]
    args.nx_sample = 50 if args.quick else 300
    results: dict = {
        "date": time.strftime("%Y-%m-%d"),
        "limit_m": LIMIT_M,
        "machine": machine(),
        "load_average_start": os.getloadavg(),
        "quick": args.quick,
        "origins": args.origins,
    }
    print(json.dumps(results["machine"]), flush=True)

    args.pbf = WORK / f"tiled-xian-{tiles[0]}x{tiles[1]}-b{buildings}.osm.pbf"
    with Measure() as m:
        info = tiled_xian_pbf(args.pbf, tiles[0], tiles[1], buildings)
    info["write_seconds"] = round(m.seconds, 1)
    print(
        f"wrote {args.pbf.name}: {info['file_mb']} MB, {info['osm_nodes']:,} OSM nodes, "
        f"{info['osm_ways']:,} ways in {m.seconds:.1f} s",
        flush=True,
    )
    gc.collect()
    with Measure() as m:
        net = load_network(args.pbf, cache_dir=False)
    info.update(
        load_seconds=round(m.seconds, 1),
        load_peak_rss_mb=mb(m.peak),
        load_rise_mb=mb(m.rise),
        nodes=net.n_nodes,
        edges=net.n_edges,
    )
    print(
        f"load_network(.osm.pbf): {m.seconds:.1f} s, peak RSS {mb(m.peak):.0f} MB -> "
        f"{net.n_nodes:,} nodes, {net.n_edges:,} edges",
        flush=True,
    )
    del net
    cache = WORK / "cache"
    for old in cache.glob("network-*.npz"):
        old.unlink()
    load_network(args.pbf, cache_dir=cache)  # store
    with Measure() as m:
        net = load_network(args.pbf, cache_dir=cache)
    info["cache_hit_seconds"] = round(m.seconds, 2)
    print(f"load_network again (cache {net.report['cache']}): {m.seconds:.2f} s", flush=True)
    results["pbf"] = info

    for name in ("tiled-xian", "dense-grid"):
        r: dict = {}
        r["ours"] = run_child(name, args)
        o = r["ours"]
        print(
            f"\n== {name}: {o['nodes']:,} nodes, {o['edges']:,} edges; process RSS with network and "
            f"points {o['rss_with_network_and_points_mb']:.0f} MB",
            flush=True,
        )
        for run in o["runs"]:
            print(
                f"reach {run['sites']:>6,} sites, {run['threads']} threads: {run['seconds']:7.3f} s "
                f"(cpu {run['cpu_seconds']:.2f} s)  pairs {run['pairs']:>9,}  peak RSS "
                f"{run['peak_rss_mb']:7.1f} MB (+{run['rise_mb']:.1f})",
                flush=True,
            )
        print(f"nearest_site: {o['nearest_site']['seconds']:.3f} s", flush=True)
        net = net if name == "tiled-xian" else dense_grid(args.side)
        r["networkx"] = networkx_loop(net, args)
        print(
            f"networkx: {r['networkx']['seconds_per_source'] * 1000:.2f} ms per source "
            f"({r['networkx']['nodes_per_source']:.0f} nodes within {LIMIT_M:g} m), "
            f"sample {r['networkx']['sample_sources']}",
            flush=True,
        )
        if args.pandana and name == "tiled-xian":
            r["pandana"] = bench_pandana(net, args)
        for run in o["runs"]:
            run["networkx_est_seconds"] = round(
                r["networkx"]["seconds_per_source"] * run["sites_snapped"], 2
            )
            run["speedup_vs_networkx"] = round(run["networkx_est_seconds"] / run["seconds"], 1)
        results[name] = r
        del net
        gc.collect()

    results["load_average_end"] = os.getloadavg()
    results["total_seconds"] = round(time.perf_counter() - t_start, 1)
    out = HERE / "results" / ("reach-quick.json" if args.quick else "reach.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(
        "\n| network | nodes | sites | threads | ours s | ours CPU s | peak RSS MB | pairs | "
        "networkx est. s | speed-up | pandana s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in ("tiled-xian", "dense-grid"):
        print("\n".join(report_row(name, results[name])))
    print(
        f"\ntotal {results['total_seconds']} s; load average {results['load_average_start']} -> "
        f"{results['load_average_end']}; results in {out.relative_to(ROOT)}"
    )


if __name__ == "__main__":
    main()
