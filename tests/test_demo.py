"""The bundled demo city: determinism, schema, network, and the designed gaps.

The design checks are independent of the generator's own arithmetic: they read the
written files back with geopandas and osmnx and measure walking distances with networkx.
"""

from __future__ import annotations

import random
import re
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pyproj
import pytest
import shapely
from scipy.spatial import cKDTree

from carecircle.runs import demo

REPO = Path(__file__).resolve().parents[1]
FILES = ("network.osm", "districts.geojson", "streets.geojson", "communities.geojson",
         "facilities.geojson", "candidates.geojson", "population.geojson", "scenario.toml",
         "scenario-budget.toml", "scenario-slow.toml", "scenario-2020.toml",
         "scenario-capacity.toml", "README.md")
LAYERS = ("districts", "streets", "communities", "facilities", "candidates", "population")
# the canonical columns of docs/data.md, in the order the generator writes them
COLUMNS = {
    "districts": ["code", "name"],
    "streets": ["code", "name", "district"],
    "communities": ["id", "name", "district", "street", "urban_rural", "population",
                    "pop_60plus", "pop_0_3", "households"],
    "facilities": ["id", "name", "kind", "floor_area_m2", "beds", "places", "ownership",
                   "district", "nursing_beds", "demonstration"],
    "candidates": ["id", "name", "kinds", "floor_area_m2", "acquisition", "cost_yuan"],
    "population": ["population", "pop_60plus", "pop_0_3"],
}
REACH = {"elderly": 900.0, "childcare": 1080.0}  # 15 min at 1.0 / 1.2 m/s
MIN_AREA = {"elderly": 300.0, "childcare": 200.0}
TO_M = pyproj.Transformer.from_crs(4326, 4545, always_xy=True)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("demo_a")
    return folder, demo.generate(folder)


@pytest.fixture(scope="module")
def layers(out: tuple[Path, dict]) -> dict[str, gpd.GeoDataFrame]:
    return {name: gpd.read_file(out[0] / f"{name}.geojson") for name in LAYERS}


@pytest.fixture(scope="module")
def walk(out: tuple[Path, dict]) -> dict:
    """The walk graph as a pedestrian filter would leave it, in EPSG:4545 metres."""
    path = out[0] / "network.osm"
    dropped = set()
    for way in ET.parse(path).getroot().iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        if tags["highway"].startswith("motorway") or "no" in (tags.get("foot"), tags.get("access")) \
                or tags.get("access") == "private":
            dropped.add(int(way.get("id")))
    raw = ox.graph_from_xml(path, simplify=True, retain_all=True)
    g = nx.Graph()
    for u, v, data in raw.edges(data=True):
        ids = data["osmid"] if isinstance(data["osmid"], list) else [data["osmid"]]
        if not dropped.intersection(ids):
            g.add_edge(u, v, length=min(data["length"], g.edges[u, v]["length"])
                       if g.has_edge(u, v) else data["length"])
    comps = sorted(nx.connected_components(g), key=len, reverse=True)
    main = g.subgraph(comps[0]).copy()
    nodes = list(main.nodes)
    xs, ys = TO_M.transform([raw.nodes[n]["x"] for n in nodes], [raw.nodes[n]["y"] for n in nodes])
    return {"raw": raw, "dropped": dropped, "comps": comps, "graph": main, "nodes": nodes,
            "tree": cKDTree(np.c_[xs, ys])}


def _points_m(gdf: gpd.GeoDataFrame) -> np.ndarray:
    pts = gdf.geometry.representative_point()  # polygons: a point inside, never the centroid
    return np.c_[TO_M.transform(pts.x.to_numpy(), pts.y.to_numpy())]


def _walk_to_nearest(walk: dict, sites: gpd.GeoDataFrame, targets: gpd.GeoDataFrame) -> np.ndarray:
    """Metres from each target to the nearest site: snap + network + snap (networkx)."""
    g = walk["graph"].copy()
    snap_d, snap_i = walk["tree"].query(_points_m(sites))
    for d, i in zip(snap_d, snap_i, strict=True):
        node = walk["nodes"][i]
        if not g.has_edge("src", node) or g.edges["src", node]["length"] > d:
            g.add_edge("src", node, length=float(d))
    dist = nx.single_source_dijkstra_path_length(g, "src", weight="length")
    t_d, t_i = walk["tree"].query(_points_m(targets))
    return np.array([d + dist.get(walk["nodes"][i], np.inf) for d, i in zip(t_d, t_i, strict=True)])


def _capable(cands: gpd.GeoDataFrame, kind: str) -> gpd.GeoDataFrame:
    ok = cands.kinds.str.split(";").map(lambda ks: kind in ks)
    return cands[ok & (cands.floor_area_m2 >= MIN_AREA.get(kind, 0))]


@pytest.fixture(scope="module")
def committed(demo_scenario: Path) -> Path:
    """The committed demo city (``data/demo``)."""
    return demo_scenario.parent


def test_generator_is_deterministic_and_matches_committed_data(out, committed, tmp_path):
    demo.generate(tmp_path)
    for name in FILES:
        first = (out[0] / name).read_bytes()
        assert first == (tmp_path / name).read_bytes(), name
        assert (committed / name).exists(), f"{name} not committed; run python -m carecircle.runs.demo"
        assert first == (committed / name).read_bytes(), f"data/demo/{name} is stale: regenerate"


def test_other_seed_gives_another_city_with_the_same_design(tmp_path, out):
    stats = demo.generate(tmp_path, seed=7)  # raises if a community lacks nearby sites
    assert (tmp_path / "communities.geojson").read_bytes() != \
        (out[0] / "communities.geojson").read_bytes()
    assert min(v for k, v in stats.items() if k.endswith("urban elderly")) < 0.9
    assert 0 < stats["budget_yuan"] < stats["cover_all_estimate_yuan"]


def test_counts_in_required_ranges(layers, walk):
    assert len(layers["districts"]) in (2, 3)
    assert 10 <= len(layers["streets"]) <= 14
    assert 200 <= len(layers["communities"]) <= 500
    assert 200 <= len(layers["candidates"]) <= 500
    assert len(walk["raw"]) < 6000
    comms = layers["communities"]
    ur = comms.urban_rural.str[0].map({"1": "urban", "u": "urban", "城": "urban",
                                       "2": "rural", "r": "rural", "乡": "rural"})
    assert ur.notna().all()
    assert (ur == "urban").sum() > 100 and (ur == "rural").sum() > 30
    # villages lie south of the town
    y = comms.geometry.representative_point().y
    assert y[ur == "rural"].max() < y[ur == "urban"].min()


def test_layers_follow_the_data_model(layers):
    for name, cols in COLUMNS.items():
        assert list(layers[name].columns) == [*cols, "geometry"], name
        assert layers[name].crs.to_epsg() == 4326
    d, s, c = layers["districts"], layers["streets"], layers["communities"]
    f, k = layers["facilities"], layers["candidates"]
    assert set(d.code) == {"610113", "610116"} and set(d.name) == {"雁塔区", "长安区"}
    for gdf in (d, s, c, f, k):
        assert gdf.iloc[:, 0].is_unique
    assert set(s.district) <= set(d.code) and set(c.district) <= set(d.code)
    assert set(c.street) <= set(s.code)
    assert all(st.startswith(di) for st, di in zip(c.street, c.district, strict=True))
    assert (c.pop_60plus <= c.population).all() and (c.pop_0_3 <= c.population).all()
    assert 0.16 <= c.pop_60plus.sum() / c.population.sum() <= 0.22
    assert 0.025 <= c.pop_0_3.sum() / c.population.sum() <= 0.035
    assert c.id.str.fullmatch(r"\d{12}").all() and c.name.str.contains("社区|村").all()
    assert set(f.kind) == {"elderly", "childcare", "street_centre", "institution", "rural_home",
                           "kindergarten_tuoban"}
    inst = f.kind == "institution"
    assert (f.nursing_beds <= f.beds).all() and (f.nursing_beds[inst] > 0).all()
    assert f.name[f.demonstration].tolist() == ["雁塔区社会福利院"]
    assert f.name[f.kind == "rural_home"].str.endswith("互助幸福院").all()
    kg = f[f.kind == "kindergarten_tuoban"]
    # kindergartens with a 托班 in 5 of the 12 streets: the every-street target is missed
    assert kg.sjoin(s, predicate="within").code.nunique() == 5 and (kg.places > 0).all()
    assert set(f.ownership) == {"public", "public_private", "private"}
    assert (f.beds[f.kind != "institution"] == 0).all() and (f.beds[f.kind == "institution"] > 0).all()
    assert (f.places[f.kind == "childcare"] > 0).all()
    assert ((f.kind == "elderly") & (f.floor_area_m2 < 300)).sum() >= 3  # too small to count
    assert ((f.kind == "childcare") & (f.floor_area_m2 < 200)).sum() >= 3
    assert set(k.acquisition) == {"new", "renovate", "lease"}
    words = r"(elderly|childcare|street_centre|institution|rural_home)"
    assert k.kinds.str.fullmatch(rf"{words}(;{words})*").all()
    homes = k.kinds == "institution"  # the four institution sites, at the end
    assert homes.sum() == 4 and homes.iloc[-4:].all() and k.floor_area_m2[homes].min() >= 6000
    assert k.floor_area_m2[~homes].between(150, 2000).all() and (k.cost_yuan > 0).all()
    both = k.kinds.str.contains("elderly") & k.kinds.str.contains("childcare")
    assert both.sum() > 50 and (k.floor_area_m2[both] >= 500).all()  # shared_min_area_m2
    unit = k.cost_yuan / k.floor_area_m2
    for acq, (lo, hi) in {"new": (6000, 9000), "renovate": (2000, 3500), "lease": (1500, 2500)}.items():
        assert unit[k.acquisition == acq].between(lo * 0.99, hi * 1.01).all(), acq
    # every point lies in the district it names; polygons tile the area
    for gdf in (c, f):
        joined = gpd.GeoDataFrame(geometry=gdf.geometry.representative_point(), crs=4326) \
            .sjoin(d, predicate="within").sort_index()
        assert (joined.index == gdf.index).all()
        assert (joined.code == gdf.district).all()
    area = d.to_crs(4545).area
    assert abs(area.sum() - d.to_crs(4545).union_all().area) < 1
    assert abs(s.to_crs(4545).area.sum() - area.sum()) < 1
    assert 20e6 < area.sum() < 30e6  # about 5 x 5 km


def test_geojson_is_written_with_six_decimals(out):
    text = (out[0] / "communities.geojson").read_text(encoding="utf-8")
    decimals = {len(m) for m in re.findall(r"\d+\.(\d+)", text.split('"geometry"', 1)[1][:2000])}
    assert max(decimals) <= 6
    assert '丈八\\"东\\"社区 & 新区' in text  # a name that needs escaping on a map


def test_polygon_communities_have_outside_centroids(layers):
    polys = layers["communities"][layers["communities"].geom_type == "Polygon"]
    assert len(polys) >= 10
    outside = ~polys.geometry.contains(polys.to_crs(4545).centroid.to_crs(4326))
    assert outside.sum() >= 10
    assert polys.geometry.contains(polys.geometry.representative_point()).all()


def test_population_grid_matches_communities(layers):
    grid, comms = layers["population"], layers["communities"]
    for col in ("population", "pop_60plus", "pop_0_3"):
        assert grid[col].sum() == comms[col].sum(), col
    assert (grid.pop_60plus <= grid.population).all() and (grid.population > 0).all()
    xy = _points_m(grid)
    nearest = cKDTree(xy).query(xy, k=2)[0][:, 1]
    assert np.allclose(np.median(nearest), 250, atol=2)


def test_every_populated_cell_belongs_to_a_community(layers, walk):
    """A cell goes to the polygon holding its centre, else to a point community within a walk."""
    grid, comms = layers["population"], layers["communities"]
    polys = comms[comms.geom_type == "Polygon"]
    inside = grid.sjoin(polys, predicate="within")
    assert inside.index.is_unique and len(inside) == len(polys)  # one cell per polygon
    rest = grid.drop(index=inside.index)
    d = _walk_to_nearest(walk, comms[comms.geom_type == "Point"], rest)
    assert (d <= REACH["elderly"]).all()


def test_osm_loads_with_one_big_component_and_an_island(out, walk):
    raw = walk["raw"]
    sizes = sorted((len(c) for c in nx.weakly_connected_components(raw)), reverse=True)
    assert len(sizes) == 2 and sizes[1] <= 10 and sizes[0] > 500
    highways = {d["highway"] for *_, d in raw.edges(data=True) if isinstance(d["highway"], str)}
    assert {"primary", "secondary", "residential", "footway", "service", "track",
            "motorway", "motorway_link"} <= highways
    root = ET.parse(out[0] / "network.osm").getroot()
    assert any(t.get("k") == "foot" and t.get("v") == "no" for t in root.iter("tag"))
    kinds = [(t.get("k"), t.get("v")) for t in root.iter("tag")]
    assert kinds.count(("highway", "motorway")) == 2 and kinds.count(("foot", "no")) == 1
    assert kinds.count(("access", "private")) >= 3
    # 2 carriageways, 2 links, the foot=no viaduct, gated driveways
    assert len(walk["dropped"]) == 5 + kinds.count(("access", "private"))
    # after the pedestrian filter: still one big component and the island
    assert [len(c) for c in walk["comps"]][1:] == [sizes[1]]
    for a, b, data in walk["graph"].edges(data=True):
        assert data["length"] > 0, (a, b)


def test_every_community_has_candidates_of_each_kind_within_reach(layers, walk):
    comms, cands = layers["communities"], layers["candidates"]
    for kind, limit in REACH.items():
        d = _walk_to_nearest(walk, _capable(cands, kind), comms)
        # 20% slack on the 15-minute limit, which also covers slow walkers (0.8 m/s: 720 m)
        assert (d <= 0.8 * limit).all(), (kind, comms.id[d > 0.8 * limit].tolist())
    snap = walk["tree"].query(_points_m(comms))[0]
    assert snap.max() < 150
    # a few communities whose nearest site is far keep the budget scenario interesting
    d = _walk_to_nearest(walk, _capable(cands, "elderly"), comms)
    assert (d > 450).sum() >= 3


def test_every_street_can_get_a_street_centre(layers):
    centres = _capable(layers["candidates"], "street_centre")
    joined = centres.sjoin(layers["streets"], predicate="within")
    assert set(joined.code) == set(layers["streets"].code)


def test_today_misses_the_targets(layers, walk):
    comms, fac = layers["communities"], layers["facilities"]
    urban = comms.urban_rural.str.match(r"1|urban|城")
    old = fac[fac.kind.isin(["elderly", "street_centre", "institution"]) & (fac.floor_area_m2 >= 300)]
    served = _walk_to_nearest(walk, old, comms) <= REACH["elderly"]
    by_district = {d: served[(comms.district == d) & urban].mean() for d in ("610113", "610116")}
    assert min(by_district.values()) < 0.90
    assert max(by_district.values()) < 0.90  # both districts, in fact
    assert served[~urban].mean() < 0.80
    assert served.mean() > 0.3  # not an empty city either
    streets = layers["streets"]
    with_centre = fac[fac.kind == "street_centre"].sjoin(streets, predicate="within")
    assert with_centre.code.nunique() / len(streets) < 0.70
    for d in ("610113", "610116"):
        # the kindergartens' 托班 places count as childcare places (the default)
        places = fac.places[(fac.district == d) & fac.kind.isin(["childcare", "kindergarten_tuoban"])].sum()
        assert 1000 * places / comms.population[comms.district == d].sum() < 4.8


def test_a_plan_can_meet_the_targets(layers):
    comms, fac, cands, dist = (layers[k] for k in ("communities", "facilities", "candidates",
                                                   "districts"))
    kids = _capable(cands, "childcare").sjoin(dist, predicate="within")
    for d in dist.code:
        pop = comms.population[comms.district == d].sum()
        now = fac.places[(fac.district == d) & (fac.kind == "childcare")].sum()
        new = (kids.floor_area_m2[kids.code == d] / 8.0).sum()
        assert now + new >= 1.5 * 4.8 * pop / 1000, d
        # beds: the institution candidates can close every bed target, even after the 2025
        # growth of the 60+ (x1.45): public beds, nursing-type beds (80 % of new ones), and a
        # demonstration home (100 beds: 4,000 m2)
        homes = fac[(fac.district == d) & (fac.kind == "institution")]
        sites = cands[cands.kinds.str.contains("institution")].sjoin(dist, predicate="within")
        new_beds = np.floor(sites.floor_area_m2[sites.code == d] / 40.0)
        public = homes.beds[homes.ownership == "public"].sum()
        assert public + new_beds.sum() >= 0.01 * 1.5 * comms.pop_60plus[comms.district == d].sum()
        assert homes.nursing_beds.sum() + 0.8 * new_beds.sum() >= 0.6 * (homes.beds.sum()
                                                                         + new_beds.sum())
        assert homes.demonstration.any() or (new_beds >= 100).any()
        assert ((fac.district == d) & (fac.kind == "childcare") & (fac.ownership == "public")).any()


def test_scenarios_load_and_point_at_the_inputs(out, committed):
    from carecircle.inputs.scenario import load_scenario

    base = load_scenario(out[0] / "scenario.toml")
    budget = load_scenario(out[0] / "scenario-budget.toml")
    slow = load_scenario(out[0] / "scenario-slow.toml")
    assert base.name == "demo" and base.plan.mode == "cover_all"
    assert budget.plan.mode == "budget" and slow.walking.speed_mps["elderly"] == 0.8
    assert 0 < budget.plan.budget_yuan == out[1]["budget_yuan"]
    assert budget.plan.budget_yuan == pytest.approx(out[1]["cover_estimate_yuan"] / 2, rel=0.05)
    assert base.rural.limit() == 1200 and base.rural.mode == "walk"
    for scen in (base, budget, slow):
        assert {"network", "districts", "streets", "communities", "facilities", "candidates",
                "population_grid"} <= set(scen.inputs)
    raw = tomllib.loads((committed / "scenario.toml").read_text(encoding="utf-8"))
    assert raw["output_dir"] == "../../maps/demo"
    assert (committed / raw["output_dir"]).resolve() == REPO / "maps" / "demo"


def test_main_writes_the_city(tmp_path, capsys):
    assert demo.main(["--out", str(tmp_path / "city")]) == 0
    assert (tmp_path / "city" / "network.osm").exists()
    assert "communities" in capsys.readouterr().out


def test_local_frame_is_metric():
    lon, lat = demo.to_lonlat(demo.SIZE_M, demo.SIZE_M)
    x, y = TO_M.transform([demo.SW_LON, lon, demo.SW_LON], [demo.SW_LAT, demo.SW_LAT, lat])
    assert np.hypot(x[1] - x[0], y[1] - y[0]) == pytest.approx(demo.SIZE_M, abs=10)
    assert np.hypot(x[2] - x[0], y[2] - y[0]) == pytest.approx(demo.SIZE_M, abs=10)
    assert shapely.Point(lon, lat).within(shapely.box(108.9, 34.15, 109.0, 34.25))


def test_budget_is_about_half_the_exact_cover_all_cost(out):
    """The greedy estimates behind the budget scenario, against exact MILPs (HiGHS)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    rng = random.Random(2023)  # rebuild the generator's own objects, same seed
    net, layout = demo.build_network(rng)
    demo._drop_fragments(net, layout["island"])
    walk = demo._Walk(net, layout["island"])
    comms = demo.build_communities(rng, layout)
    facs = demo.build_facilities(rng, comms, walk)
    cands = demo.build_candidates(rng, comms, walk)
    cn = walk.snap([(c["x"], c["y"]) for c in comms])

    def within(pts: list[dict], limit: float) -> np.ndarray:
        return walk.dist(walk.snap([(p["x"], p["y"]) for p in pts]), limit)[:, cn] <= limit

    rows, lower = [], []
    # villages: elderly care within a 20-minute walk (1,200 m), rural homes of 200 m2 counting
    rural = np.array([not c["urban"] for c in comms])
    village_limit = demo.RURAL_MINUTES * 60 * demo.RURAL_SPEED
    homes = [f for f in facs if f["kind"] == "rural_home" and f["area"] >= demo.RURAL_HOME_M2]
    for kind, kinds_now in (("elderly", ("elderly", "street_centre", "institution")),
                            ("childcare", ("childcare",))):
        now = [f for f in facs if f["kind"] in kinds_now and f["area"] >= MIN_AREA[kind]]
        served = within(now, REACH[kind]).any(0)
        cap = np.array([demo._capable(c, kind) for c in cands])
        cover = within(cands, REACH[kind]) & cap[:, None]
        if kind == "elderly":
            served = np.where(rural, within(now + homes, village_limit).any(0), served)
            cover = np.where(rural[None, :], within(cands, village_limit) & cap[:, None], cover)
        rows += [cover[:, j] for j in np.flatnonzero(~served)]
        lower += [1] * int((~served).sum())
    cost = np.array([c["cost"] for c in cands], dtype=float)
    # serving every community alone: the budget scenario's budget is about half of it
    cover_only = milp(cost, constraints=LinearConstraint(np.array(rows, dtype=float), lower,
                                                         np.inf),
                      integrality=np.ones(len(cands)), bounds=Bounds(0, 1))
    assert cover_only.status == 0
    assert cover_only.fun <= out[1]["cover_estimate_yuan"] + 1 <= 1.25 * cover_only.fun
    assert 0.4 <= out[1]["budget_yuan"] / cover_only.fun <= 0.6
    for d, _ in demo.DISTRICTS:
        need = 4.8 * sum(c["pop"] for c in comms if c["district"] == d) / 1000 - sum(
            f["places"] for f in facs if f["district"] == d and f["kind"] == "childcare")
        rows.append([c["area"] / 8 * (demo._capable(c, "childcare")
                                      and demo._street_of(c["x"], c["y"])[0] == d) for c in cands])
        lower.append(need)
    centres = {demo._street_of(f["x"], f["y"])[1] for f in facs if f["kind"] == "street_centre"}
    for st in sorted({c["street"] for c in comms} - centres):
        rows.append([("street_centre" in c["kinds"]) * (demo._street_of(c["x"], c["y"])[1] == st)
                     for c in cands])
        lower.append(1)
    res = milp(cost, constraints=LinearConstraint(np.array(rows, dtype=float), lower, np.inf),
               integrality=np.ones(len(cands)), bounds=Bounds(0, 1))
    assert res.status == 0  # feasible: a plan can meet every target (beds apart)
    estimate = out[1]["cover_all_estimate_yuan"]
    assert res.fun <= estimate + 1 <= 1.25 * res.fun
