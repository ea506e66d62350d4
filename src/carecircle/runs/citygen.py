"""A whole city, generated: Xi'an's size and hierarchy, for measuring a run end to end.

``python -m carecircle.runs.citygen --out DIR [--scale S] [--seed N]`` writes a
scenario as a planner would hand it to ``carecircle run``: 13 districts made of 172
streets (街道/镇) made of 3,223 communities (社区/村), about 835 of them urban near
the centre and the rest villages around, about 1,400 existing facilities (community
stations, rural homes, street centres, institutions, childcare; some below the
floor-area standard), 20,000 candidate sites, and a walking network of about 800,000
nodes (796,203 as loaded, seed 2023; the issue's yardstick is about 775,000) written as
an ``.osm.pbf`` file.  ``--scale`` shrinks the city: every count
(streets, communities, facilities, candidates, network nodes) by ``S``, every
length by ``sqrt(S)``, so the densities, and with them the work per community and
per site, stay those of the whole city.  The 13 districts stay (smaller).

**What is real and what is not.**  When the project's shared data is present
(``../shared/data``, or ``--data``), it is read in place at generation time:

* names and codes of the districts, streets and communities from
  ``xian-census/streets-codes-2023.csv`` and ``communities-codes-2023.csv`` (the
  National Bureau of Statistics' 2023 division codes), and each district's
  residents, households, aged 60+ and aged 0-4 from ``districts-2020-census.csv``
  (the 7th census; 0-3 is taken as four fifths of 0-4, an even spread over ages);
* the district polygons from ``xian-central/districts-wgs84.geojson``, shrunk
  about the Bell Tower 钟楼 by ``sqrt(S)``.

Without it the generator says so and falls back to generated names (第N街道,
第N社区, 第N村) under the real district names and counts, Voronoi districts around
the districts' real centres, and populations drawn per community.  Everything
else is invented: the streets' shapes (Voronoi cells of random seeds in each
district), where communities lie (spread evenly within their street), which are
urban (the ``round(835 S)`` nearest the centre, whatever their committee type:
城中村 near the centre are urban), every facility, site and road.  Which
streets and communities a reduced city keeps is a seeded sample, in proportion
per district and per street.

The network (:mod:`carecircle.runs.citynet`) is written as ``.osm.pbf`` because that
is what a planner has for a whole city: the OpenStreetMap extract of the region
(Geofabrik, BBBike), not an osmnx export, which needs an Overpass download of the
whole area first; reading it is part of what a run costs.  Every file is written
deterministically: the same seed and scale give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import shapely

from carecircle.runs import citylayers
from carecircle.runs.citynet import build_network, write_network

CRS = "EPSG:4545"
CENTRE_LONLAT = (108.9398, 34.2610)  # the Bell Tower 钟楼
URBAN = 835
RING_RADIUS_M = 11_000.0
#: District code, name, real streets and communities (used when the tables are absent),
#: and the district's centre (lon, lat), the seed of its Voronoi cell in that case.
DISTRICTS = (
    ("610102", "新城区", 9, 109, 109.007, 34.269),
    ("610103", "碑林区", 8, 105, 108.958, 34.250),
    ("610104", "莲湖区", 9, 142, 108.897, 34.267),
    ("610111", "灞桥区", 9, 213, 109.083, 34.315),
    ("610112", "未央区", 12, 393, 108.902, 34.341),
    ("610113", "雁塔区", 10, 334, 108.936, 34.212),
    ("610114", "阎良区", 7, 105, 109.291, 34.667),
    ("610115", "临潼区", 23, 274, 109.279, 34.468),
    ("610116", "长安区", 25, 513, 108.952, 34.049),
    ("610117", "高陵区", 7, 118, 109.061, 34.509),
    ("610118", "鄠邑区", 14, 282, 108.602, 34.014),
    ("610122", "蓝田县", 19, 352, 109.381, 34.089),
    ("610124", "周至县", 20, 283, 108.096, 33.964),
)


def default_data_dir() -> Path:
    """``$CARECIRCLE_SHARED_DATA``, else ``shared/data`` beside the source checkout."""
    env = os.environ.get("CARECIRCLE_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


# ---------------------------------------------------------------- the hierarchy


def _short_name(name: str) -> str:
    """A committee's name as planners say it: 民乐社区居委会 -> 民乐社区, 东村委会 -> 东村."""
    for suffix, kind in (("居民委员会", "社区"), ("居委会", "社区"), ("村民委员会", "村"),
                         ("村委会", "村"), ("委员会", "社区")):
        if name.endswith(suffix) and len(name) > len(suffix):
            base = name[: -len(suffix)]
            return base if base.endswith(kind) else base + kind
    return name


def read_hierarchy(data: Path | None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, str]:
    """Districts, streets and communities: the real tables if present, else generated names.

    Parameters
    ----------
    data
        The shared data folder (holding ``xian-census/``), or ``None``.

    Returns
    -------
    tuple
        ``districts`` (code, name, population, households, pop60, pop04; NaN
        without the census), ``streets`` (code, name, district), ``communities``
        (code, name, street, district), and a sentence saying where they came from.
    """
    d = pd.DataFrame([r[:2] for r in DISTRICTS], columns=["code", "name"])
    folder = None if data is None else Path(data) / "xian-census"
    files = None if folder is None else [folder / f for f in (
        "districts-2020-census.csv", "streets-codes-2023.csv", "communities-codes-2023.csv")]
    if files is not None and all(f.is_file() for f in files):
        census = pd.read_csv(files[0], dtype={"区划代码": str})
        census["code"] = census["区划代码"].str.removesuffix(".0")
        census = census.rename(columns={"人口数_合计": "population", "家庭户数": "households",
                                        "pop60plus": "pop60", "pop0_4": "pop04"})
        d = d.merge(census[["code", "population", "households", "pop60", "pop04"]], on="code",
                    how="left")
        s = pd.read_csv(files[1], dtype=str).rename(columns={"areaCode": "district"})
        c = pd.read_csv(files[2], dtype=str).rename(columns={"streetCode": "street",
                                                             "areaCode": "district"})
        s = s[s["district"].isin(d["code"])].sort_values("code")[["code", "name", "district"]]
        c = c[c["street"].isin(s["code"])].sort_values("code")[["code", "name", "street",
                                                                 "district"]]
        c["name"] = c["name"].map(_short_name)
        return d, s.reset_index(drop=True), c.reset_index(drop=True), (
            f"names and codes: {files[1].name}, {files[2].name}; district populations: "
            f"{files[0].name} (read from {folder})")
    streets, comms = [], []
    for code, name, n_streets, n_comm, *_ in DISTRICTS:
        per = np.full(n_streets, n_comm // n_streets) + (np.arange(n_streets) < n_comm % n_streets)
        for k in range(n_streets):
            sc = f"{code}{k + 1:03d}"
            streets.append((sc, f"{name}第{k + 1}街道", code))
            # by the code rule, 001-199 residents' committees, 200-399 villages'
            n_res = per[k] // 3
            comms += [(f"{sc}{m + 1:03d}" if m < n_res else f"{sc}{200 + m - n_res + 1:03d}",
                       f"第{k + 1}街道第{m + 1}{'社区' if m < n_res else '村'}", sc, code)
                      for m in range(per[k])]
    for col in ("population", "households", "pop60", "pop04"):
        d[col] = np.nan
    return (d, pd.DataFrame(streets, columns=["code", "name", "district"]),
            pd.DataFrame(comms, columns=["code", "name", "street", "district"]),
            "the census tables were not found: generated street and community names under the "
            "real district names, populations drawn per community")


def _largest_remainder(weights: np.ndarray, total: int, minimum: int | np.ndarray = 0,
                       cap: np.ndarray | None = None) -> np.ndarray:
    """Integers near ``total x weights / sum(weights)``, summing to ``total``, each in [minimum, cap]."""
    w = np.asarray(weights, float)
    cap = np.full(len(w), total, np.int64) if cap is None else np.asarray(cap, np.int64)
    target = w / w.sum() * total
    out = np.clip(np.floor(target).astype(np.int64), np.minimum(minimum, cap), cap)
    while out.sum() < total and (out < cap).any():
        out[int(np.argmax(np.where(out < cap, target - out, -np.inf)))] += 1
    while out.sum() > total and (out > minimum).any():
        out[int(np.argmax(np.where(out > minimum, out - target, -np.inf)))] -= 1
    return out


def sample_hierarchy(streets: pd.DataFrame, comms: pd.DataFrame, districts: Sequence[str],
                     scale: float, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The streets and communities a city of ``scale`` keeps, in proportion per district.

    Parameters
    ----------
    streets, comms
        The whole city's tables (:func:`read_hierarchy`).
    districts
        The district codes, in order.
    scale
        Share of the city, in (0, 1].
    rng
        The generator's random numbers.

    Returns
    -------
    tuple
        The kept streets and communities, in code order: ``max(13, round(172 S))``
        streets (one per district at least) and ``round(3,223 S)`` communities (one
        per kept street at least).
    """
    if scale >= 1.0:
        return streets, comms
    n_s = streets.groupby("district").size().reindex(districts).to_numpy()
    n_c = comms.groupby("district").size().reindex(districts).to_numpy()
    keep_s = _largest_remainder(n_s, max(len(districts), round(len(streets) * scale)), 1, n_s)
    keep_c = _largest_remainder(n_c, max(int(keep_s.sum()), round(len(comms) * scale)), keep_s, n_c)
    size = comms.groupby("street").size()
    kept = []
    for d, ks, kc in zip(districts, keep_s, keep_c, strict=True):
        st = streets[streets["district"] == d]
        n = size.reindex(st["code"]).to_numpy()
        pick = rng.choice(len(st), ks, replace=False, p=n / n.sum())
        # The kept streets must hold the district's share: trade the smallest kept
        # street for the largest left out until they do.
        while n[pick].sum() < kc:
            out = np.setdiff1d(np.arange(len(st)), pick)
            pick[np.argmin(n[pick])] = out[np.argmax(n[out])]
        kept.append(st.iloc[np.sort(pick)])
    per = [size.reindex(st["code"]).to_numpy() for st in kept]
    out_c = []
    for st, p, kc in zip(kept, per, keep_c, strict=True):
        take = _largest_remainder(p, int(kc), 1, p)
        for sc, k in zip(st["code"], take, strict=True):
            cs = comms[comms["street"] == sc]
            out_c.append(cs.iloc[np.sort(rng.choice(len(cs), k, replace=False))])
    out_s = kept
    return (pd.concat(out_s).reset_index(drop=True), pd.concat(out_c).reset_index(drop=True))


# ---------------------------------------------------------------- the geometry


def _shrink(geom: shapely.Geometry, centre: tuple[float, float], f: float) -> shapely.Geometry:
    c = np.asarray(centre)
    return shapely.transform(geom, lambda xy: c + f * (xy - c))


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygon parts of a geometry, valid, as one (Multi)Polygon."""
    parts = [p for p in shapely.get_parts(shapely.make_valid(geom))
             if p.geom_type in ("Polygon", "MultiPolygon") and p.area > 0]
    out = shapely.union_all(parts)
    return out if out.geom_type in ("Polygon", "MultiPolygon") else shapely.Polygon()


def district_shapes(codes: Sequence[str], data: Path | None, to_metric: pyproj.Transformer,
                    centre: tuple[float, float], scale: float) -> tuple[list, str]:
    """District polygons (metric): the real ones shrunk by ``sqrt(scale)``, or Voronoi cells.

    Parameters
    ----------
    codes
        District codes, in order.
    data
        The shared data folder, or ``None``.
    to_metric
        WGS-84 -> the city's metric CRS.
    centre
        The city centre (metric).
    scale
        Share of the city.

    Returns
    -------
    tuple
        The polygons in ``codes`` order and a sentence saying where they came from.
    """
    f = math.sqrt(scale)
    path = None if data is None else Path(data) / "xian-central" / "districts-wgs84.geojson"
    if path is not None and path.is_file():
        import geopandas as gpd

        gdf = gpd.read_file(path).to_crs(to_metric.target_crs)
        by_code = dict(zip(gdf["district_adcode"].astype(str), gdf.geometry, strict=True))
        if set(codes) <= set(by_code):
            return ([_polygonal(_shrink(by_code[c], centre, f)) for c in codes],
                    f"district polygons: {path.name} shrunk by {f:.3f} about the Bell Tower")
    lon = {r[0]: r[4] for r in DISTRICTS}
    lat = {r[0]: r[5] for r in DISTRICTS}
    x, y = to_metric.transform([lon[c] for c in codes], [lat[c] for c in codes])
    anchors = shapely.MultiPoint(np.c_[x, y])
    city = _shrink(anchors.convex_hull.buffer(17_000.0), centre, f)
    cells = shapely.voronoi_polygons(_shrink(anchors, centre, f), extend_to=city, ordered=True)
    return ([_polygonal(shapely.intersection(g, city)) for g in cells.geoms],
            "district polygons: Voronoi cells of the districts' centres (real polygons not found)")


def uniform_in(geom: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniformly at random inside a polygon (rejection in its bounding box).

    Parameters
    ----------
    geom
        The polygon.
    n
        How many points.
    rng
        Random numbers.

    Returns
    -------
    numpy.ndarray
        ``(n, 2)`` coordinates.
    """
    x0, y0, x1, y1 = shapely.bounds(geom)
    shapely.prepare(geom)
    out = np.zeros((0, 2))
    while len(out) < n:
        k = max(16, 4 * (n - len(out)))
        p = np.c_[rng.uniform(x0, x1, k), rng.uniform(y0, y1, k)]
        out = np.vstack([out, p[shapely.contains_xy(geom, p[:, 0], p[:, 1])]])
    return out[:n]


def spread_in(geom: shapely.Geometry, n: int, rng: np.random.Generator,
              tries: int = 12) -> np.ndarray:
    """``n`` points spread evenly in a polygon (Mitchell's best candidate).

    Parameters
    ----------
    geom
        The polygon.
    n
        How many points.
    rng
        Random numbers.
    tries
        Candidates per point; each new point is the one farthest from those placed.

    Returns
    -------
    numpy.ndarray
        ``(n, 2)`` coordinates.
    """
    pool = uniform_in(geom, n * tries, rng)
    out = np.empty((n, 2))
    best = np.full(len(pool), np.inf)
    for k in range(n):
        cand = pool[k * tries:(k + 1) * tries]
        pick = int(np.argmax(best[k * tries:(k + 1) * tries])) if k else 0
        out[k] = cand[pick]
        best = np.minimum(best, np.hypot(*(pool - out[k]).T))
    return out


def street_shapes(district: shapely.Geometry, n: int, rng: np.random.Generator) -> list:
    """``n`` streets cutting a district: Voronoi cells of seeds spread in it.

    Parameters
    ----------
    district
        The district polygon.
    n
        Number of streets.
    rng
        Random numbers.

    Returns
    -------
    list
        ``n`` polygons covering the district.
    """
    if n == 1:
        return [district]
    seeds = shapely.MultiPoint(spread_in(district, n, rng, tries=6))
    cells = shapely.voronoi_polygons(seeds, extend_to=shapely.envelope(district).buffer(1.0), ordered=True)
    return [_polygonal(shapely.intersection(g, district)) for g in cells.geoms]


# ---------------------------------------------------------------- the whole city


def _layout(scale: float, rng: np.random.Generator, data: Path | None) -> dict:
    """Hierarchy and geometry of the city: districts, streets, communities (metric)."""
    to_metric = pyproj.Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    centre = to_metric.transform(*CENTRE_LONLAT)
    dist, streets, comms, names_src = read_hierarchy(data)
    streets, comms = sample_hierarchy(streets, comms, list(dist["code"]), scale, rng)
    dgeom, shape_src = district_shapes(list(dist["code"]), data, to_metric, centre, scale)
    sgeom: dict[str, shapely.Geometry] = {}
    xy = np.zeros((len(comms), 2))
    for code, geom in zip(dist["code"], dgeom, strict=True):
        st = streets[streets["district"] == code]
        for sc, g in zip(st["code"], street_shapes(geom, len(st), rng), strict=True):
            sgeom[sc] = g
            rows = np.flatnonzero((comms["street"] == sc).to_numpy())
            xy[rows] = spread_in(g, len(rows), rng)
    n_urban = round(URBAN * scale)
    r = np.hypot(xy[:, 0] - centre[0], xy[:, 1] - centre[1])
    urban = np.zeros(len(comms), bool)
    urban[np.argsort(r, kind="stable")[:n_urban]] = True
    return {"centre": centre, "districts": dist, "district_geoms": dgeom, "streets": streets,
            "street_geoms": [sgeom[s] for s in streets["code"]], "communities": comms, "xy": xy,
            "urban": urban, "sources": [names_src, shape_src]}


def _town_seats(lay: dict) -> np.ndarray:
    """One seat per street with villages: the street's community nearest its middle."""
    comms, xy, urban = lay["communities"], lay["xy"], lay["urban"]
    seats = []
    for sc, g in zip(lay["streets"]["code"], lay["street_geoms"], strict=True):
        rows = np.flatnonzero((comms["street"] == sc).to_numpy() & ~urban)
        if len(rows):
            mid = shapely.get_coordinates(g.representative_point())[0]
            seats.append(xy[rows[np.argmin(np.hypot(*(xy[rows] - mid).T))]])
    return np.array(seats).reshape(-1, 2)


def generate(out_dir: str | Path, *, scale: float = 1.0, seed: int = 2023,
             data: str | Path | None = None, time_limit_s: float = 120.0,
             grid_m: float = 0.0) -> dict:
    """Write a whole-city scenario into ``out_dir``.

    Parameters
    ----------
    out_dir
        Folder for ``scenario.toml``, ``network.osm.pbf`` and the GeoJSON layers.
    scale
        Share of Xi'an's size, in (0, 1]: counts times ``scale``, lengths times
        ``sqrt(scale)``.
    seed
        Seed of everything random; the same seed and scale give the same bytes.
    data
        The shared data folder (``xian-census/``, ``xian-central/``); default
        :func:`default_data_dir`.  A missing folder means generated names.
    time_limit_s
        The scenario's solver time limit (``[plan] time_limit_s``).
    grid_m
        Also write a population grid of this cell size (metres); 0 for none.

    Returns
    -------
    dict
        Counts of what was written and where the names came from.
    """
    if not 0.0 < scale <= 1.0:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = default_data_dir() if data is None else Path(data)
    rng = np.random.default_rng(seed)
    lay = _layout(scale, rng, data if data.is_dir() else None)
    citylayers.add_people(lay, scale, rng)
    fac = citylayers.facilities(lay, scale, rng)
    cand = citylayers.candidates(lay, scale, rng)
    # Field roads over the city's convex hull: an extract is cut as a box or a hull,
    # not along the boundary, and exclaves stay connected to the rest.
    area = shapely.union_all(lay["district_geoms"]).convex_hull
    seats = _town_seats(lay)
    net = build_network(lay["centre"], area, lay["xy"][lay["urban"]], lay["xy"][~lay["urban"]],
                        seats, RING_RADIUS_M * math.sqrt(scale), seed)
    to_ll = pyproj.Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    write_network(out / "network.osm.pbf", net, np.c_[to_ll.transform(*net.node_xy.T)])
    files = citylayers.write_layers(out, lay, fac, cand, to_ll, grid_m)
    name = f"xian-city-s{scale:g}"
    counts = {
        "scale": scale, "seed": seed, "districts": len(lay["districts"]),
        "streets": len(lay["streets"]), "communities": len(lay["communities"]),
        "urban": int(lay["urban"].sum()), "facilities": len(fac), "candidates": len(cand),
        "town_seats": len(seats), "osm_nodes": len(net.node_id), "osm_ways": net.n_ways,
        "network_junctions": net.junctions, "sources": lay["sources"],
    }
    (out / "scenario.toml").write_text(
        scenario_text(name, f"Xi'an-size city 西安规模城市 (generated, scale {scale:g})",
                      time_limit_s, "population_grid" in files), encoding="utf-8")
    (out / "README.md").write_text(_readme(counts), encoding="utf-8")
    (out / "generated.json").write_text(json.dumps(counts, ensure_ascii=False, indent=1) + "\n",
                                        encoding="utf-8")
    return counts


def scenario_text(name: str, title: str, time_limit_s: float, grid: bool = False) -> str:
    """The scenario file of a generated city.

    Parameters
    ----------
    name
        The scenario's name (the run's folder name).
    title
        Its title.
    time_limit_s
        ``[plan] time_limit_s``.
    grid
        Whether a ``population.geojson`` grid is an input.

    Returns
    -------
    str
        TOML text.
    """
    grid_line = 'population_grid = "population.geojson"\n' if grid else ""
    return f'''# Generated by `python -m carecircle.runs.citygen` (synthetic; see README.md)
name = "{name}"
title = "{title}"
crs = "{CRS}"

[inputs]
network = "network.osm.pbf"
districts = "districts.geojson"
streets = "streets.geojson"
communities = "communities.geojson"
facilities = "facilities.geojson"
candidates = "candidates.geojson"
{grid_line}
[plan]
mode = "cover_all"
time_limit_s = {time_limit_s:g}
'''


def _readme(c: dict) -> str:
    return f"""# A generated Xi'an-size city (synthetic)

Made by `python -m carecircle.runs.citygen --scale {c['scale']:g} --seed {c['seed']}`; regenerate,
do not edit.  Real: {'; '.join(c['sources'])}.  Everything else is invented (see the
module's documentation).

| layer | count |
|---|---:|
| districts | {c['districts']} |
| streets (街道/镇) | {c['streets']} |
| communities (urban 社区 near the centre) | {c['communities']:,} ({c['urban']:,} urban) |
| facilities | {c['facilities']:,} |
| candidate sites | {c['candidates']:,} |
| `network.osm.pbf`: OSM nodes, ways, street junctions | {c['osm_nodes']:,}, {c['osm_ways']:,}, {c['network_junctions']:,} |
"""


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m carecircle.runs.citygen --out DIR``: write a whole-city scenario."""
    p = argparse.ArgumentParser(description="generate a Xi'an-size city 生成西安规模的城市情景")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--scale", type=float, default=1.0, help="share of the whole city, (0, 1]")
    p.add_argument("--seed", type=int, default=2023)
    p.add_argument("--data", type=Path, default=None,
                   help="shared data folder with xian-census/ (default ../shared/data)")
    p.add_argument("--time-limit", type=float, default=120.0, help="solver seconds in the scenario")
    p.add_argument("--grid-m", type=float, default=0.0, help="population grid cell (m); 0: none")
    args = p.parse_args(argv)
    counts = generate(args.out, scale=args.scale, seed=args.seed, data=args.data,
                      time_limit_s=args.time_limit, grid_m=args.grid_m)
    for key, value in counts.items():
        print(f"{key:20s} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
