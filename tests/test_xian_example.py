"""The central Xi'an example end to end, on the real shared data (skipped without it).

Real facts checked: what loads (1,500 residential POIs of four Amap types, 13 districts,
2,140 road nodes), that the GCJ-02 conversion puts the POIs on the roads, that the POIs
beyond the roads are reported as not on the network (never snapped far away) and left
out of the coverage shares, that every assumed layer is named as assumed in the outputs,
that the committed assumed layer is what its generator makes, and -- when the planning
module is present -- that the plan serves every reachable community with both kinds.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

# Every test reads the shared central Xi'an data or the example made from it.
pytestmark = pytest.mark.usefixtures("xian_central_data")
POIS = Path("amap-pois-gcj02") / "gaoxin_amap_pois.csv"  # in the central Xi'an data

HAS_PLANNING = importlib.util.find_spec("carecircle.runs.plan") is not None
# The README's counts of the four residential types (exact Amap type codes).
TYPE_COUNTS = {"120302": 1318, "120300": 89, "120303": 86, "120304": 7}
# Measured on this data (lon 108.922-109.009, lat 34.207-34.280 road extent).
IN_EXTENT = 57  # converted POIs inside the roads' bounding box
ON_NETWORK = 57  # inside the road network's extent and within the 300 m snap limit


@pytest.fixture(scope="module")
def example(xian_example) -> Path:
    """The example's folder (scenario, assumed layers and their generator)."""
    return xian_example.parent


@pytest.fixture(scope="module")
def scenario(xian_example, tmp_path_factory):
    from carecircle.inputs.scenario import load_scenario

    out = tmp_path_factory.mktemp("xian-central")
    return load_scenario(xian_example).replace(output_dir=out)


@pytest.fixture(scope="module")
def run(scenario, tmp_path_factory):
    """The full run (assessment only until carecircle.runs.plan exists)."""
    from carecircle.runs.pipeline import run_scenario

    old = os.environ.get("CARECIRCLE_CACHE")
    os.environ["CARECIRCLE_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    try:
        return run_scenario(scenario, quiet=True, plan=HAS_PLANNING)
    finally:
        if old is None:
            os.environ.pop("CARECIRCLE_CACHE", None)
        else:
            os.environ["CARECIRCLE_CACHE"] = old


@pytest.fixture(scope="module")
def communities(run):
    return pd.read_csv(
        run.out_dir / "communities.csv", encoding="utf-8-sig", dtype={"编号 ID": str}
    )


def test_scenario_paths_are_relative_to_a_fresh_clone(xian_example):
    text = xian_example.read_text("utf-8")
    data = tomllib.loads(text)
    paths = [v if isinstance(v, str) else v["path"] for v in data["inputs"].values()]
    assert all(not Path(p).is_absolute() for p in paths)
    shared = [p for p in paths if "shared" in p]
    assert shared and all(p.startswith("../../../shared/data/xian-central/") for p in shared)
    assert "/work/" not in text


def test_raw_counts(xian_central_data, xian_roads):
    nodes = gpd.read_file(xian_roads / "nodes.shp")
    assert len(nodes) == 2140
    assert "street_cou" in nodes.columns  # the DBF truncation trap of the README
    assert len(gpd.read_file(xian_roads / "edges.shp")) == 4774
    assert len(gpd.read_file(xian_central_data / "districts-wgs84.geojson")) == 13
    pois = pd.read_csv(xian_central_data / POIS, encoding="utf-8-sig", dtype=str)
    assert len(pois) == 2685
    counts = pois["类型"].value_counts()
    assert {k: int(counts[k]) for k in TYPE_COUNTS} == TYPE_COUNTS


def test_validation_loads_what_the_readme_counts(scenario):
    from carecircle.runs.pipeline import validate

    rep = validate(scenario)
    assert not rep.errors, rep.text
    comm = rep.inputs["communities"]
    assert len(comm) == sum(TYPE_COUNTS.values()) == 1500
    # the filter keeps exactly the four single-typed residential codes
    assert comm["类型"].value_counts().to_dict() == TYPE_COUNTS
    assert comm["id"].is_unique
    assert len(rep.inputs["districts"]) == 13
    assert set(rep.inputs.assumed) == {"network", "communities", "candidates"}
    assert "GCJ02 -> WGS-84 (1500 features)" in rep.text


def test_conversion_is_gcj02_to_wgs84(scenario):
    """Loaded points = GCJ-02 minus the Xi'an offset (about +0.0047 lon, -0.0016 lat)."""
    from carecircle.inputs.load import load_inputs

    comm = load_inputs(scenario)["communities"].to_crs(4326)
    dlon = comm["经度_gcj02"].astype(float) - comm.geometry.x
    dlat = comm["纬度_gcj02"].astype(float) - comm.geometry.y
    assert dlon.between(0.0040, 0.0055).all(), dlon.describe()
    assert dlat.between(-0.0025, -0.0008).all(), dlat.describe()
    # the file's own _wgs84 columns are the wrong ones (a 0.0065 / 0.006 shift)
    wrong = comm["经度_gcj02"].astype(float) - comm["经度_wgs84"].astype(float)
    assert np.allclose(wrong, 0.0065, atol=1e-6)


def test_network_is_the_whole_road_graph(scenario):
    from carecircle.network.sources import load_network

    net = load_network(scenario.inputs["network"].path, crs=scenario.crs, cache_dir=False)
    assert net.n_nodes == 2140  # one component, nothing filtered from the drive network
    assert net.report["components"] == 1
    # 4,774 directed edges: both directions of a two-way street are one walking edge
    assert net.report["edges_read"] == 4774
    assert net.n_edges == 4774 - net.report["duplicate_edges_merged"]


def test_pois_on_roads_and_the_rest_reported(run, communities):
    status = communities["服务状态 Status"]
    on = communities["接入路网 On network"].astype(str) == "True"
    snap = communities["接入距离(米) Snap distance (m)"]
    assert len(communities) == 1500
    assert int(on.sum()) == ON_NETWORK
    # converted POIs sit on the roads: those snapped are close to a road, none farther than the limit
    assert snap[on].median() < 60.0
    assert snap[on].max() <= 300.0
    assert snap[~on].isna().all()  # nothing beyond the limit got a snap distance (or a walk)
    assert (status[~on] == "unreachable").all()
    assert (status[on] != "unreachable").all()
    unreachable = 1500 - ON_NETWORK
    assert int((~on).sum()) == unreachable
    # every POI inside the road extent is on the network
    lon, lat = communities["经度(WGS-84) Longitude"], communities["纬度(WGS-84) Latitude"]
    inside = lon.between(108.9219629, 109.0093459) & lat.between(34.2073723, 34.2797823)
    assert int(inside.sum()) == IN_EXTENT
    assert on[inside].all()
    # none outside the box is on the network: the 8 within 300 m of its edge roads are
    # flagged as outside the network's extent (the streets beyond the edge are missing)
    assert not on[~inside].any()
    outside = communities["超出路网范围 Outside the network's extent"].astype(str) == "True"
    assert not outside[inside].any()
    edge = shapely.box(108.9219629, 34.2073723, 109.0093459, 34.2797823)
    near = gpd.GeoSeries(gpd.points_from_xy(lon[~inside], lat[~inside]), crs=4326).to_crs(4545)
    box_m = gpd.GeoSeries([edge], crs=4326).to_crs(4545).iloc[0]
    assert int((near.distance(box_m) < 300.0).sum()) >= 8
    # the count is in the notes and the briefing; the list is communities.csv
    assert f"{unreachable} communities are not on the walking network" in run.text
    html = (run.out_dir / "briefing.html").read_text("utf-8")
    notes = html[html.index('id="notes"') : html.index('id="headline"')]
    assert f"{unreachable} communities are not on the walking network" in notes
    assert re.search(r"1,443\s*</div>\s*<div class=\"l\">未评估\(不在路网上\)", html)


def test_unreachable_left_out_of_coverage_shares(run):
    table = pd.read_csv(run.out_dir / "districts.csv", encoding="utf-8-sig", dtype=str)
    table = table.set_index(["区县代码 District code", "指标代码 Indicator key"])
    comm = pd.read_csv(run.out_dir / "communities.csv", encoding="utf-8-sig", dtype=str)
    on = comm[comm["接入路网 On network"] == "True"]
    with_on = set(on["区县代码 District code"])
    assert len(with_on) >= 2
    for code in with_on:  # no facilities today: 0% of the communities on the network
        assert float(table.loc[(code, "urban_elderly"), "现状值 Value today"]) == 0.0
    # a district whose communities are all off the network has no coverage figure (not 0%):
    # incomplete, with how many communities were not assessed
    off_only = set(comm["区县代码 District code"]) - with_on
    assert off_only
    missing = "未评估社区数(不在路网上) Communities not assessed (not on the network)"
    for code in off_only:
        row = table.loc[(code, "urban_elderly")]
        assert row["现状达标情况 Status today"] == "incomplete" and pd.isna(row["现状值 Value today"])
        assert int(row[missing]) == int((comm["区县代码 District code"] == code).sum())
    if HAS_PLANNING:  # after the plan: 100% where 0% would be far below if the 1,443 counted
        for code in with_on:
            row = table.loc[(code, "urban_elderly")]
            assert float(row["规划后值 Value after plan"]) == 1.0
            # ... but never "pass" while communities of the district were not assessed
            assert row["规划后达标情况 Status after plan"] == "incomplete" and int(row[missing]) > 0


def test_every_assumed_layer_named_in_the_outputs(run, scenario):
    html = (run.out_dir / "briefing.html").read_text("utf-8")
    notes = html[html.index('id="notes"') : html.index('id="headline"')]
    for layer, source in scenario.inputs.items():
        if source.assumed:
            assert f"{layer}: assumed 假设数据" in notes
    for layer in ("network", "communities", "candidates"):
        assert scenario.inputs[layer].assumed
    assert "seed 2026" in notes
    validation = (run.out_dir / "validation.txt").read_text("utf-8")
    assert validation.count("Assumed 假设数据") == 3


def test_committed_candidates_are_what_the_generator_makes(example, tmp_path):
    spec = importlib.util.spec_from_file_location("make_assumed", example / "make_assumed.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--out", str(tmp_path)]) == 0
    new = (tmp_path / "candidates-assumed.geojson").read_bytes()
    assert new == (example / "candidates-assumed.geojson").read_bytes()
    sites = gpd.read_file(tmp_path / "candidates-assumed.geojson")
    n_street = int(sites["id"].str.startswith("S").sum())
    text = (example / "scenario.toml").read_text("utf-8")
    assert f"{len(sites)} candidate sites" in text and f"{n_street} street points" in text


def test_candidates_join_the_network(scenario):
    from carecircle.inputs.load import load_inputs
    from carecircle.network.snapping import snap_points
    from carecircle.network.sources import load_network

    inputs = load_inputs(scenario)
    net = load_network(scenario.inputs["network"].path, crs=inputs.crs, cache_dir=False)
    cand = inputs["candidates"]
    snapped = snap_points(net, cand, max_snap_m=scenario.walking.max_snap_m)
    assert snapped.ok.all()
    assert not snapped.restricted.any()  # every one joins a way entered from the street
    street = cand["id"].str.startswith("S").to_numpy()
    # On the road lines themselves, except the few the generator put on a tunnel (it
    # follows every road line): those join the street nearby instead.
    geoms = cand.geometry.to_numpy()
    tunnel = net.edge_restricted != ""
    on_tunnel = shapely.dwithin(geoms[:, None], net.edge_geometry[tunnel][None, :], 0.01).any(axis=1)
    assert 0 < on_tunnel.sum() <= 5
    assert snapped.connector[street & ~on_tunnel].max() < 0.01
    assert (snapped.connector[street & on_tunnel] > 0.01).all()
    assert (net.edge_restricted[snapped.edge[street & on_tunnel]] == "").all()
    xy = np.asarray(snapped.snap_xy[street])
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 400.0 - 0.01


@pytest.mark.skipif(
    not HAS_PLANNING, reason="carecircle.runs.plan (the siting plan) is not there yet"
)
def test_plan_serves_every_reachable_community(run, communities):
    on = communities["接入路网 On network"].astype(str) == "True"
    after = communities["规划后服务状态 Status after plan"]
    assert (after[on] == "both").all(), after[on].value_counts()
    assert (after[~on] == "unreachable").all()
    sites = pd.read_csv(run.out_dir / "sites.csv", encoding="utf-8-sig")
    assert len(sites) > 0
    html = (run.out_dir / "briefing.html").read_text("utf-8")
    assert 'id="sites"' in html


def _walk_from_sites(net, sites, comm, limit_m):
    """Walking metres from the nearest site to each community, by networkx (exact splits).

    Each point joins its edge's two end nodes at its offsets; points on one edge are also
    joined directly; connectors count at both ends; a super source carries the sites'.
    """
    import networkx as nx

    from carecircle.network.snapping import snap_points
    from carecircle.network.walknet import to_networkx

    G = to_networkx(net)
    pts = {}
    for tag, gdf in (("s", sites), ("c", comm)):
        sn = snap_points(net, gdf, max_snap_m=300.0)
        assert sn.ok.all()
        for i in range(len(gdf)):
            e, t = int(sn.edge[i]), float(sn.offset[i])
            node = (tag, i)
            G.add_edge(node, int(net.edge_u[e]), length=t)
            G.add_edge(node, int(net.edge_v[e]), length=float(net.edge_length[e]) - t)
            pts[node] = (e, t, float(sn.connector[i]))
    by_edge = {}
    for node, (e, t, _c) in pts.items():
        by_edge.setdefault(e, []).append((node, t))
    for group in by_edge.values():
        for a, ta in group:
            for b, tb in group:
                if a < b:
                    G.add_edge(a, b, length=abs(ta - tb))
    for node, (_e, _t, conn) in pts.items():
        if node[0] == "s":
            G.add_edge("src", node, length=conn)
    dist = nx.single_source_dijkstra_path_length(G, "src", cutoff=limit_m + 300.0, weight="length")
    return np.array([dist.get(("c", i), np.inf) + pts[("c", i)][2] for i in range(len(comm))])


@pytest.mark.skipif(
    not HAS_PLANNING, reason="carecircle.runs.plan (the siting plan) is not there yet"
)
def test_plan_cover_checked_with_networkx(run, scenario, communities):
    """Independent of the tool's reach code: every reachable community walks to a site."""
    from carecircle.network.sources import load_network

    net = load_network(scenario.inputs["network"].path, crs=scenario.crs, cache_dir=False)
    sites = pd.read_csv(run.out_dir / "sites.csv", encoding="utf-8-sig")
    kinds = sites["建设类型 Kinds"].str.split(";")
    on = communities[communities["接入路网 On network"].astype(str) == "True"]
    comm = gpd.GeoDataFrame(
        {"id": on["编号 ID"].to_numpy()},
        geometry=gpd.points_from_xy(on["经度(WGS-84) Longitude"], on["纬度(WGS-84) Latitude"]),
        crs=4326,
    )
    for kind, speed in scenario.walking.speed_mps.items():
        limit = scenario.walking.minutes * 60.0 * speed
        sel = sites[kinds.map(lambda k, kind=kind: kind in k)]
        assert len(sel), kind
        pts = gpd.GeoDataFrame(
            {"id": sel["编号 ID"].to_numpy()},
            geometry=gpd.points_from_xy(
                sel["经度(WGS-84) Longitude"], sel["纬度(WGS-84) Latitude"]
            ),
            crs=4326,
        )
        d = _walk_from_sites(net, pts, comm, limit)
        # 0.5 m: the tables round lon/lat to 1e-6 degree (about 0.1 m) before we re-snap
        assert (d <= limit + 0.5).all(), (kind, np.sort(d)[-5:])


def test_briefing_opens_in_the_browser(run, cc_chrome, cc_serve):
    base = cc_serve(run.out_dir)
    cc_chrome.get(base + "briefing.html")
    from selenium.webdriver.common.by import By

    title = cc_chrome.find_element(By.ID, "title").text
    assert "西安中心城区" in title
    notes = cc_chrome.find_element(By.ID, "notes").text
    assert notes.count("assumed 假设数据") == 3
    assert "1443" in notes
    img = cc_chrome.find_element(By.CSS_SELECTOR, "#map img")
    assert cc_chrome.execute_script("return arguments[0].naturalWidth", img) > 100
    severe = [e for e in cc_chrome.get_log("browser") if e.get("level") == "SEVERE"]
    assert not severe, severe
