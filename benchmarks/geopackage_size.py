"""Benchmark: writing run.gpkg at whole-city size.

The demo city's plan is run, then its layers are scaled up to Xi'an's size by copies
moved at random over a 40 km square: 3,223 communities, 2,406 facilities, 600
proposed sites, 2,400 isochrones of today's facilities and 600 of the proposed ones
(each a real demo isochrone, so of real complexity).  Measured: the time
:func:`carecircle.outputs.geopackage.write_geopackage` takes and the file's size.

Run from the repository root::

    PYTHONPATH=src python benchmarks/geopackage_size.py     # about 30 s

Writes ``benchmarks/results/geopackage.json`` and prints a table.
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

import _machine  # noqa: E402  (benchmarks/, the script's own folder)

from carecircle.inputs.scenario import load_scenario  # noqa: E402
from carecircle.outputs.geopackage import write_geopackage  # noqa: E402
from carecircle.runs.context import prepare  # noqa: E402
from carecircle.runs.pipeline import assess_context, demo_scenario_path  # noqa: E402
from carecircle.runs.plan import plan_context  # noqa: E402

SIZES = {"communities": 3223, "facilities": 2406, "sites": 600, "existing": 1200, "proposed": 300}


def grow(gdf: gpd.GeoDataFrame, n: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """``n`` rows drawn from ``gdf``, each moved by up to 20 km, with new ids."""
    g = gdf.iloc[rng.integers(0, len(gdf), n)].reset_index(drop=True).copy()
    dx, dy = rng.uniform(-20000, 20000, n), rng.uniform(-20000, 20000, n)
    g["geometry"] = [shapely.affinity.translate(geom, x, y) for geom, x, y in zip(g.geometry, dx, dy, strict=True)]
    if "id" in g:
        g["id"] = [f"X{i}" for i in range(n)]
    return gpd.GeoDataFrame(g, geometry="geometry", crs=gdf.crs)


def main() -> None:
    rng = np.random.default_rng(0)
    ctx = prepare(load_scenario(demo_scenario_path()), quiet=True)
    run = plan_context(ctx, assess_context(ctx), quiet=True)
    inputs = copy.copy(run.inputs)
    inputs.layers = {**run.inputs.layers, "facilities": grow(run.inputs["facilities"], SIZES["facilities"], rng)}
    iso = {k: grow(v, SIZES["existing"] if k.startswith("existing") else SIZES["proposed"], rng)
           for k, v in run.isochrones.items()}
    big = replace(run, communities=grow(run.communities, SIZES["communities"], rng), isochrones=iso,
                  inputs=inputs, sites=grow(run.sites, SIZES["sites"], rng))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = write_geopackage(big, Path(tmp) / "run.gpkg")
        seconds = time.perf_counter() - t0
        size = path.stat().st_size
        layers = {str(name): int(pyogrio.read_info(path, layer=name)["features"])
                  for name, _ in pyogrio.list_layers(path)}
    result = {"layers": layers, "seconds": round(seconds, 2), "bytes": size,
              "machine": _machine.machine({"pyogrio": pyogrio.__version__,
                                           "gdal": pyogrio.__gdal_version_string__})}
    out = HERE / "results" / "geopackage.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print("| layer | features |\n|---|---|")
    for name, n in layers.items():
        print(f"| {name} | {n:,} |")
    print(f"\nrun.gpkg: {size / 1e6:.1f} MB written in {seconds:.1f} s\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
