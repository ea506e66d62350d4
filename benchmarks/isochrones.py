"""Benchmark: isochrones at city scale, today's method against the new ones.

On ``reach.py``'s dense grid (a perturbed 60 m street grid, 880 x 880: 774k nodes,
1.39 M edges, about a 53 km square) with Xi'an's counts spread at random: 1,410
existing facilities (1,000 elderly care at 1.0 m/s, 410 childcare at 1.2 m/s, 15
minutes: 900 m and 1,080 m) and 1,800 proposed sites (elderly care, 900 m).

* **before**: the method the run used until this benchmark (one polygon per facility:
  the reached edges cut one by one with ``shapely.ops.substring``, then the pieces
  buffered as one MultiLineString), timed on a sample and extrapolated to the
  1,410 facilities, as the run drew them.
* **surface**: :func:`carecircle.network.surface.served_area`, one surface per kind
  (what the run's map now draws for today's facilities), whole.
* **streets**: :func:`carecircle.network.isochrones.isochrones` (exact street space,
  per site, what ``carecircle isochrones`` writes), on a sample, per site.
* **hull**: the same with ``method="hull"`` (the map's proposed-site zones), all
  1,800 sites.

Quality on the sample: the hull's area against the street space's, and the share of
street space a hull leaves out; the surface's vertices; each product's GeoJSON size.

Run from the repository root::

    PYTHONPATH=src python benchmarks/isochrones.py          # full, a few minutes
    PYTHONPATH=src python benchmarks/isochrones.py --quick  # 200 x 200 grid, 30 s

Writes ``benchmarks/results/isochrones.json`` (``isochrones-quick.json``) and prints a
Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import shapely

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))

import _machine  # noqa: E402  (benchmarks/, the script's own folder)
from reach import dense_grid, random_points  # noqa: E402

from carecircle.network.isochrones import isochrones  # noqa: E402
from carecircle.network.reach import reached_nodes  # noqa: E402
from carecircle.network.snapping import snap_points  # noqa: E402
from carecircle.network.surface import served_area  # noqa: E402

# --------------------------------------------------------------------------- the method before


def _merge(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def before_polygons(net: Any, sites: Any, limit: float, buffer_m: float = 25.0) -> list[Any]:
    """The run's isochrones before this change (carecircle 2026-11, network/isochrones.py)."""
    from shapely.ops import substring

    src, node, dist = reached_nodes(net, sites, limit)
    ends = np.r_[net.edge_u, net.edge_v]
    edges = np.r_[np.arange(net.n_edges), np.arange(net.n_edges)]
    order = np.argsort(ends, kind="stable")
    ptr = np.zeros(net.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=net.n_nodes), out=ptr[1:])
    inc = edges[order]
    starts = np.searchsorted(src, np.arange(len(sites)), side="left")
    stops = np.searchsorted(src, np.arange(len(sites)), side="right")
    dn = np.full(net.n_nodes, np.inf)
    out = []
    for i in range(len(sites)):
        pieces: list[Any] = []
        if not sites.ok[i] or sites.connector[i] > limit:
            out.append(shapely.Polygon())
            continue
        nodes = node[starts[i]:stops[i]]
        dn[nodes] = dist[starts[i]:stops[i]]
        spans: dict[int, list[tuple[float, float]]] = {}
        if nodes.size:
            e_all = np.unique(np.concatenate([inc[ptr[n]:ptr[n + 1]] for n in nodes]))
            ru = limit - dn[net.edge_u[e_all]]
            rv = limit - dn[net.edge_v[e_all]]
            for e, lg, a, b in zip(e_all.tolist(), net.edge_length[e_all].tolist(), ru.tolist(),
                                   rv.tolist(), strict=True):
                iv = []
                if a >= 0:
                    iv.append((0.0, min(a, lg)))
                if b >= 0:
                    iv.append((max(lg - b, 0.0), lg))
                spans[e] = iv
        e = int(sites.edge[i])
        r = limit - float(sites.connector[i])
        t = float(sites.offset[i])
        spans.setdefault(e, []).append((max(t - r, 0.0), min(t + r, float(net.edge_length[e]))))
        for e, iv in spans.items():
            lg = float(net.edge_length[e])
            for a, b in _merge(iv):
                if b - a > 0:
                    pieces.append(net.edge_geometry[e] if a <= 0 and b >= lg
                                  else substring(net.edge_geometry[e], a, b))
        if sites.connector[i] > 0:
            pieces.append(shapely.linestrings([sites.point_xy[i], sites.snap_xy[i]]))
        dn[nodes] = np.inf
        out.append(shapely.buffer(shapely.multilinestrings(pieces), buffer_m))
    return out


# --------------------------------------------------------------------------- measuring


class Timer:
    def __enter__(self) -> Timer:
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.c0


def geojson_mb(geoms: Any) -> float:
    """MB of the geometries as GeoJSON in WGS-84 at 6 decimals, as the map writes them."""
    import geopandas as gpd

    g = gpd.GeoSeries(list(geoms), crs="EPSG:32649").to_crs(4326)
    return round(len(g.to_json(drop_id=True, to_wgs84=False).encode()) / 1e6, 2)


def peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a 200 x 200 grid and fewer sites")
    ap.add_argument("--side", type=int, default=880, help="grid nodes per side")
    ap.add_argument("--sample", type=int, default=40, help="sites timed with the per-site methods")
    args = ap.parse_args()
    if args.quick:
        args.side, args.sample = 200, 10
    scale = (args.side / 880) ** 2
    n_eld, n_cc, n_prop = (max(5, round(n * scale)) for n in (1000, 410, 1800))
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"), "quick": args.quick,
        "machine": _machine.machine({"shapely": shapely.__version__,
                                     "geos": ".".join(map(str, shapely.geos_version))}),
        "load_average_start": os.getloadavg(),
    }
    print(json.dumps(results["machine"]), flush=True)
    with Timer() as t:
        net = dense_grid(args.side)
    results["network"] = {"nodes": net.n_nodes, "edges": net.n_edges, "build_seconds": round(t.seconds, 1)}
    print(f"dense grid {args.side} x {args.side}: {net.n_nodes:,} nodes, {net.n_edges:,} edges", flush=True)
    rng = np.random.default_rng(7)
    eld = snap_points(net, random_points(net, n_eld, rng, "e"))
    cc = snap_points(net, random_points(net, n_cc, rng, "c"))
    prop = snap_points(net, random_points(net, n_prop, rng, "p"))
    isochrones(net, prop.subset(np.arange(2)), 900.0, method="hull")  # compile the search
    rows: list[dict[str, Any]] = []

    sample = eld.subset(np.arange(args.sample))
    with Timer() as t:
        old = before_polygons(net, sample, 900.0)
    per = t.seconds / args.sample
    rows.append({"what": f"before: per-facility polygons, {n_eld + n_cc:,} facilities (sample "
                         f"{args.sample}, extrapolated)", "seconds": per * (n_eld + n_cc),
                 "per_site_ms": per * 1000, "vertices_per_polygon":
                 float(np.mean(shapely.get_num_coordinates(np.asarray(old, dtype=object)))),
                 "geojson_mb": geojson_mb(old) * (n_eld + n_cc) / args.sample})
    print(rows[-1], flush=True)

    for kind, pts, limit in (("elderly", eld, 900.0), ("childcare", cc, 1080.0)):
        with Timer() as t:
            row = served_area(net, pts, limit, name=f"existing_{kind}")
        g = row.geometry.iloc[0]
        rows.append({"what": f"surface: served area, {kind} ({len(pts):,} facilities, "
                             f"{limit:g} m)", "seconds": t.seconds, "cpu_seconds": t.cpu,
                     "cell_m": float(row["cell_m"].iloc[0]),
                     "street_km": round(float(row["street_m"].iloc[0]) / 1000),
                     "vertices": int(shapely.get_num_coordinates(g)), "geojson_mb": geojson_mb([g])})
        print(rows[-1], flush=True)

    psample = prop.subset(np.arange(args.sample))
    with Timer() as t:
        streets = isochrones(net, psample, 900.0)
    rows.append({"what": f"streets: per-site polygons (sample {args.sample}, extrapolated to "
                         f"{n_prop:,})", "seconds": t.seconds / args.sample * n_prop,
                 "per_site_ms": t.seconds / args.sample * 1000,
                 "vertices_per_polygon": float(shapely.get_num_coordinates(streets.geometry).mean()),
                 "geojson_mb": geojson_mb(streets.geometry) * n_prop / args.sample})
    print(rows[-1], flush=True)
    with Timer() as t:
        hull = isochrones(net, prop, 900.0, method="hull")
    hs = hull.geometry.iloc[:args.sample]
    ok = ~streets.geometry.is_empty
    st, hu = streets.geometry[ok], hs[ok]
    rows.append({"what": f"hull: per-site zones, all {n_prop:,} proposed sites", "seconds": t.seconds,
                 "cpu_seconds": t.cpu, "per_site_ms": t.seconds / n_prop * 1000,
                 "vertices_per_polygon": float(shapely.get_num_coordinates(hull.geometry).mean()),
                 "geojson_mb": geojson_mb(hull.geometry),
                 "area_vs_streets_median": float((hu.area / st.area).median()),
                 "streets_left_out_max": float((st.difference(hu).area / st.area).max())})
    print(rows[-1], flush=True)
    # the same sample polygons agree: the new street polygons equal the old ones
    diffs = [new.symmetric_difference(o).area / max(o.area, 1.0)
             for new, o in zip(isochrones(net, sample, 900.0).geometry, old, strict=True)]
    results["streets_vs_before_max_area_share_differing"] = float(max(diffs))
    results["rows"] = rows
    results["peak_rss_mb"] = peak_mb()
    results["load_average_end"] = os.getloadavg()
    out = HERE / "results" / ("isochrones-quick.json" if args.quick else "isochrones.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print("\n| what | seconds | per site ms | vertices | GeoJSON MB |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        verts = r.get("vertices", r.get("vertices_per_polygon", 0))
        print(f"| {r['what']} | {r['seconds']:.1f} | {r.get('per_site_ms', float('nan')):.1f} | "
              f"{verts:,.0f} | {r['geojson_mb']:.1f} |")
    print(f"\nnew street polygons vs before: at most {results['streets_vs_before_max_area_share_differing']:.2e} "
          f"of the area differs; peak RSS {results['peak_rss_mb']:.0f} MB; load average "
          f"{results['load_average_start']} -> {results['load_average_end']}; results in "
          f"{out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
