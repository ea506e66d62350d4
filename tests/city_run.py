"""A synthetic run the size of Xi'an, for the outputs: what the map and the briefing carry.

:func:`city_run` builds a :class:`~carecircle.outputs.results.RunOutputs` with Xi'an's
counts (13 districts, 172 streets, 3,223 communities, 1,410 facilities, 1,800 proposed
sites) spread over a square city, and indicator tables of the real indicators with
values drawn at random: what the outputs must lay out, without running a plan.  With
``network_side`` it also carries a dense street grid (880 gives the 774k-node network of
``benchmarks/reach.py``) and the served-area surfaces and proposed-site zones computed
on it.  ``tests/test_report.py`` prints its briefing; ``benchmarks/maps.py`` writes and
opens its map.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from carecircle.assess.indicators import LABELS, UNITS
from carecircle.errors import ProblemLog
from carecircle.inputs.load import Inputs
from carecircle.inputs.scenario import scenario_from_dict
from carecircle.outputs.results import RunOutputs

CRS = "EPSG:32649"
X0, Y0 = 560_000.0, 3_760_000.0
DISTRICTS = ["新城区", "碑林区", "莲湖区", "雁塔区", "灞桥区", "未央区", "阎良区", "临潼区",
             "长安区", "高陵区", "鄠邑区", "蓝田县", "周至县"]
TARGETS = {"urban_elderly": (0.9, ">= 90%"), "rural_elderly": (0.8, ">= 80%"),
           "street_centre": (0.7, ">= 70%"), "compliance": (1.0, ">= 100%"),
           "childcare_places": (4.8, ">= 4.8"), "public_beds": (1000.0, ">= 1% of 60+"),
           "public_childcare": (1.0, ">= 1"), "elderly_area": (0.1, "0.1-0.3")}
STATUSES = ["both", "elderly_only", "childcare_only", "neither", "unreachable"]


def _districts(side: float) -> gpd.GeoDataFrame:
    """13 districts: a 4 x 4 grid of squares, the last four cells one district."""
    cell = side / 4
    boxes = [shapely.box(X0 + i * cell, Y0 + j * cell, X0 + (i + 1) * cell, Y0 + (j + 1) * cell)
             for j in range(4) for i in range(4)]
    geoms = boxes[:12] + [shapely.union_all(boxes[12:])]
    return gpd.GeoDataFrame({"code": [f"6101{k:02d}" for k in range(2, 15)], "name": DISTRICTS},
                            geometry=geoms, crs=CRS)


def _indicators(rng: np.random.Generator, districts: gpd.GeoDataFrame, better: float) -> pd.DataFrame:
    rows = []
    for code, name in [*zip(districts["code"], districts["name"], strict=True), ("city", "全市 City total")]:
        for key, (target, text) in TARGETS.items():
            value = target * rng.uniform(0.4, 1.3) * better
            status = "pass" if value >= target else "fail"
            if key == "rural_elderly" and code in ("610102", "610103"):
                value, status = np.nan, "no data"
            rows.append({"district": code, "district_name": name, "indicator": key,
                         "label": LABELS[key], "value": value, "target": target, "target_text": text,
                         "gap": value - target, "status": status, "unit": UNITS[key]})
    return pd.DataFrame(rows)


def city_run(tmp_path: Path, *, communities: int = 3223, facilities: int = 1410, sites: int = 1800,
             streets: int = 172, network_side: int | None = None, seed: int = 1) -> RunOutputs:
    """A run of Xi'an's size (see the module notes).

    Parameters
    ----------
    tmp_path
        Folder the scenario lives in (nothing is written there).
    communities, facilities, sites, streets
        How many of each.
    network_side
        Nodes per side of a 60 m street grid to carry (``None``: no network, no zones).
    seed
        Random seed.

    Returns
    -------
    RunOutputs
    """
    rng = np.random.default_rng(seed)
    side = 52_800.0 if network_side is None else network_side * 60.0
    districts = _districts(side)
    scen = scenario_from_dict({"name": "city", "title": "西安市全市 Xi'an, whole city (synthetic)",
                               "inputs": {"network": "n.osm", "districts": "d.gpkg",
                                          "communities": "c.csv"}}, tmp_path)
    xy = np.array([X0, Y0]) + rng.uniform(0.02, 0.98, (communities, 2)) * side
    pts = gpd.GeoSeries(shapely.points(xy), crs=CRS)
    code = gpd.sjoin(gpd.GeoDataFrame(geometry=pts), districts, predicate="within")["code"]
    code = code[~code.index.duplicated()].reindex(range(communities)).fillna("610102").to_numpy()
    names = dict(zip(districts["code"], districts["name"], strict=True))
    # streets split over the districts (172 = 3 x 14 + 10 x 13), each community in one of its own
    per = np.full(len(districts), streets // len(districts))
    per[: streets - per.sum()] += 1
    n_of = dict(zip(districts["code"], per, strict=True))
    street = np.array([rng.integers(0, n_of[c]) for c in code])
    status = rng.choice(STATUSES, communities, p=[0.55, 0.15, 0.12, 0.15, 0.03])
    after = np.where(status == "unreachable", "unreachable",
                     rng.choice(STATUSES[:4], communities, p=[0.93, 0.03, 0.02, 0.02]))
    pop = rng.integers(300, 12_000, communities).astype(float)
    comm = gpd.GeoDataFrame({
        "id": [f"6101{c[-2:]}{i:06d}" for i, c in enumerate(code)],
        "name": [f"社区{i}" for i in range(communities)], "district": code,
        "district_name": [names[c] for c in code],
        "street": [f"{names[c]}第{s}街道" for c, s in zip(code, street, strict=True)],
        "urban_rural": np.where(rng.random(communities) < 0.26, "urban", "rural"),
        "population": pop, "pop_60plus": pop * 0.18, "pop_0_3": pop * 0.03,
        "snapped": status != "unreachable",
        "elderly_min": np.where(np.isin(status, ["both", "elderly_only"]), rng.uniform(1, 15, communities), np.nan),
        "childcare_min": np.where(np.isin(status, ["both", "childcare_only"]), rng.uniform(1, 12.5, communities), np.nan),
        "elderly_served": np.isin(status, ["both", "elderly_only"]),
        "childcare_served": np.isin(status, ["both", "childcare_only"]),
        "status": status, "status_after": after,
    }, geometry=pts, crs=CRS)
    kinds = rng.choice(["elderly", "childcare", "street_centre", "institution"], facilities,
                       p=[0.55, 0.3, 0.1, 0.05])
    fac = gpd.GeoDataFrame({
        "id": [f"f{i}" for i in range(facilities)], "name": [f"设施{i}" for i in range(facilities)],
        "kind": kinds, "floor_area_m2": rng.uniform(100, 2000, facilities),
        "beds": np.where(kinds == "institution", 100.0, np.nan),
        "places": np.where(kinds == "childcare", 40.0, np.nan), "ownership": "public",
    }, geometry=shapely.points(np.array([X0, Y0]) + rng.uniform(0.02, 0.98, (facilities, 2)) * side), crs=CRS)
    site_kinds = rng.choice(["elderly", "childcare", "elderly;childcare"], sites, p=[0.5, 0.3, 0.2])
    area = rng.uniform(300, 1500, sites)
    site_xy = np.array([X0, Y0]) + rng.uniform(0.02, 0.98, (sites, 2)) * side
    site_gdf = gpd.GeoDataFrame({
        "id": [f"k{i}" for i in range(sites)], "name": [f"候选{i}" for i in range(sites)],
        "district": rng.choice(districts["code"], sites), "kinds": site_kinds,
        "floor_area_m2": area, "acquisition": rng.choice(["new", "renovate", "lease"], sites),
        "cost_yuan": area * 5000.0, "places_added": np.where(site_kinds != "elderly", 30.0, 0.0),
        "communities_newly_served": rng.integers(0, 5, sites),
        "residents_newly_served": rng.uniform(0, 20_000, sites),
    }, geometry=shapely.points(site_xy), crs=CRS)
    inputs = Inputs(crs=districts.crs, layers={"districts": districts, "communities": comm,
                                               "facilities": fac}, log=ProblemLog())
    headline = {"communities": communities, "communities_on_network": int((status != "unreachable").sum()),
                "served_both_before": int((status == "both").sum()),
                "served_both_after": int((after == "both").sum()), "sites": sites,
                "cost_yuan": float(site_gdf["cost_yuan"].sum()), "crs": CRS, "solver_status": "optimal",
                "gap": 0.004, "mode": "cover_all"}
    notes = ["candidates: assumed 假设数据 — synthetic candidate sites for a city-scale test",
             f"{int((status == 'unreachable').sum())} communities are not on the walking network"]
    run = RunOutputs(scenario=scen, inputs=inputs, communities=comm,
                     districts_before=_indicators(rng, districts, 0.9),
                     districts_after=_indicators(rng, districts, 1.3), sites=site_gdf,
                     headline=headline, notes=notes)
    if network_side is not None:
        _add_network(run, network_side, rng)
    return run


def _add_network(run: RunOutputs, n: int, rng: np.random.Generator) -> None:
    """A perturbed 60 m street grid (``benchmarks/reach.py``'s), the served-area surfaces of
    the facilities and the proposed sites' zones."""
    from carecircle.network.isochrones import isochrones
    from carecircle.network.snapping import snap_points
    from carecircle.network.surface import served_area
    from carecircle.network.walknet import network_from_edges

    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    xy = np.column_stack([i.ravel() * 60.0, j.ravel() * 60.0]) + [X0, Y0]
    xy += rng.uniform(-10, 10, xy.shape)
    idx = np.arange(n * n).reshape(n, n)
    u = np.r_[idx[:-1, :].ravel(), idx[:, :-1].ravel()]
    v = np.r_[idx[1:, :].ravel(), idx[:, 1:].ravel()]
    keep = rng.random(len(u)) >= 0.1
    net = network_from_edges(xy, u[keep], v[keep], crs=CRS, source=f"grid {n}x{n}")
    run.network = net
    fac = run.inputs.layers["facilities"]
    snapped = snap_points(net, fac, max_snap_m=300.0)
    for kind, kinds, limit in (("elderly", ["elderly", "street_centre", "institution"], 900.0),
                               ("childcare", ["childcare"], 1080.0)):
        sel = fac["kind"].isin(kinds).to_numpy()
        run.isochrones[f"existing_{kind}"] = served_area(net, snapped.subset(sel), limit,
                                                         name=f"existing_{kind}")
    sites = run.sites
    assert sites is not None
    ss = snap_points(net, sites, max_snap_m=300.0)
    for kind, limit in (("elderly", 900.0), ("childcare", 1080.0)):
        sel = sites["kinds"].str.contains(kind).to_numpy()
        run.isochrones[f"proposed_{kind}"] = isochrones(net, ss.subset(sel), limit, method="hull",
                                                        ids=sites["id"].to_numpy()[sel])
