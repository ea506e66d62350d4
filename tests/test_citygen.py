"""The whole-city generator (carecircle.runs.citygen), its PBF writer and the stage timer."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely

from carecircle.cli import main as cli_main
from carecircle.network.snapping import snap_points
from carecircle.network.sources import load_network
from carecircle.runs import citygen, citylayers
from carecircle.runs.osmpbf import write_osm_pbf
from carecircle.runs.pipeline import validate
from carecircle.runs.timing import LABEL, StageTimer, parse_line

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CENSUS = DATA / "xian-census"
SCALE = 0.02
needs_data = pytest.mark.skipif(not (CENSUS / "communities-codes-2023.csv").is_file(),
                                reason="../shared/data/xian-census not present")


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("city")
    counts = citygen.generate(out, scale=SCALE, seed=11, data=DATA, time_limit_s=20)
    return out, counts


def layer(folder: Path, name: str) -> gpd.GeoDataFrame:
    return gpd.read_file(folder / f"{name}.geojson")


# ---------------------------------------------------------------- counts and hierarchy


def test_largest_remainder_sums_and_respects_bounds():
    got = citygen._largest_remainder(np.array([9, 8, 9, 23]), 12, 1, np.array([9, 8, 9, 23]))
    assert got.sum() == 12 and (got >= 1).all()
    # by hand: 12 x (9, 8, 9, 23) / 49 = 2.20, 1.96, 2.20, 5.63 -> 2, 1, 2, 5 (+1 to 1.96, then to 5.63)
    assert got.tolist() == [2, 2, 2, 6]
    capped = citygen._largest_remainder(np.array([1.0, 100.0]), 10, 0, np.array([5, 3]))
    assert capped.tolist() == [5, 3]  # cannot reach 10: every entry at its cap


@needs_data
@pytest.mark.parametrize("scale", [0.01, 0.1, 0.25, 0.5, 1.0])
def test_sampled_hierarchy_has_the_requested_counts(scale):
    dist, streets, comms, source = citygen.read_hierarchy(DATA)
    assert "xian-census" in source
    assert (len(dist), len(streets), len(comms)) == (13, 172, 3223)
    s, c = citygen.sample_hierarchy(streets, comms, list(dist["code"]), scale,
                                    np.random.default_rng(1))
    assert len(s) == max(13, round(172 * scale))
    assert len(c) == round(3223 * scale)
    assert set(c["street"]) == set(s["code"])  # every kept street keeps a community
    assert set(s["district"]) == set(dist["code"])  # every district keeps a street
    # in proportion per district, as far as the communities of its kept streets allow
    real = comms.groupby("district").size()
    kept = c.groupby("district").size()
    avail = comms[comms["street"].isin(s["code"])].groupby("district").size()
    for d in dist["code"]:
        assert min(math.floor(scale * real[d]) - 1, avail[d]) <= kept[d] <= avail[d]


def test_generated_city_counts_and_hierarchy(city):
    out, counts = city
    n_fac = sum(round(v * SCALE) for v in citylayers.FACILITIES.values())
    assert (counts["districts"], counts["streets"], counts["communities"], counts["urban"],
            counts["facilities"], counts["candidates"]) == (
        13, max(13, round(172 * SCALE)), round(3223 * SCALE), round(835 * SCALE), n_fac,
        round(20_000 * SCALE))
    d, s, c = layer(out, "districts"), layer(out, "streets"), layer(out, "communities")
    f, k = layer(out, "facilities"), layer(out, "candidates")
    assert (len(d), len(s), len(c), len(f), len(k)) == (
        counts["districts"], counts["streets"], counts["communities"], n_fac, counts["candidates"])
    assert c["id"].is_unique and s["code"].is_unique and k["id"].is_unique
    # every community in a street of its district, every street in a district
    street_district = dict(zip(s["code"], s["district"], strict=True))
    assert set(s["district"]) <= set(d["code"])
    assert (c["street"].map(street_district) == c["district"]).all()
    assert all(i.startswith(st) for i, st in zip(c["id"], c["street"], strict=True))
    assert all(i.startswith(d) for i, d in zip(s["code"], s["district"], strict=True))
    # ... and geometrically: each point in its street's polygon, each street in its district
    metric = 4545
    sg = s.to_crs(metric).set_index("code").geometry
    cg = c.to_crs(metric)
    inside = [sg[st].buffer(1.0).contains(p) for st, p in zip(cg["street"], cg.geometry, strict=True)]
    assert all(inside)
    dg = d.to_crs(metric).set_index("code").geometry
    for code, g in sg.items():
        assert g.difference(dg[street_district[code]].buffer(1.0)).area < 1.0
    # urban near the centre: every urban community nearer the Bell Tower than every village
    cx, cy = pyproj.Transformer.from_crs(4326, metric, always_xy=True).transform(
        *citygen.CENTRE_LONLAT)
    r = np.hypot(cg.geometry.x - cx, cg.geometry.y - cy)
    urban = c["urban_rural"].astype(str).str.startswith("1")
    assert urban.sum() == counts["urban"]
    assert r[urban].max() <= r[~urban].min()


@needs_data
def test_names_codes_and_populations_are_the_real_tables(city):
    out, _ = city
    c = layer(out, "communities")
    codes = pd.read_csv(CENSUS / "communities-codes-2023.csv", dtype=str)
    real = dict(zip(codes["code"], codes["name"], strict=True))
    assert c["id"].isin(real).all()
    for code, name in zip(c["id"], c["name"], strict=True):
        # the committee's name shortened: 民乐社区居委会 -> 民乐社区, 东村委会 -> 东村
        assert real[code].startswith(name.removesuffix("社区").removesuffix("村"))
    census = pd.read_csv(CENSUS / "districts-2020-census.csv", dtype={"区划代码": str})
    census["code"] = census["区划代码"].str.removesuffix(".0")
    pop = c.groupby("district")["population"].sum()
    want = census.set_index("code")["人口数_合计"]
    for d, v in pop.items():
        assert v == round(want[d] * SCALE)  # each district's residents x the scale, exactly


def test_short_names():
    assert citygen._short_name("民乐社区居委会") == "民乐社区"
    assert citygen._short_name("东村委会") == "东村"
    assert citygen._short_name("东村村委会") == "东村"
    assert citygen._short_name("红旗居委会") == "红旗社区"


def test_facilities_include_substandard_ones_and_every_kind(city):
    out, _ = city
    f = layer(out, "facilities")
    assert set(f["kind"]) == {"elderly", "street_centre", "institution", "childcare"}
    small = ((f["kind"] == "elderly") & (f["floor_area_m2"] < 300)) | (
        (f["kind"] == "childcare") & (f["floor_area_m2"] < 200))
    assert small.any() and not small.all()
    k = layer(out, "candidates")
    assert k["kinds"].str.contains("street_centre").sum() >= 2 * len(layer(out, "streets"))


# ---------------------------------------------------------------- determinism


def test_same_seed_same_bytes_other_seed_other_city(city, tmp_path):
    out, _ = city
    again = tmp_path / "again"
    citygen.generate(again, scale=SCALE, seed=11, data=DATA, time_limit_s=20)
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(p.name for p in again.iterdir())
    for name in files:
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
    other = tmp_path / "other"
    citygen.generate(other, scale=SCALE, seed=12, data=DATA, time_limit_s=20)
    assert (other / "network.osm.pbf").read_bytes() != (out / "network.osm.pbf").read_bytes()
    assert (other / "communities.geojson").read_bytes() != (out / "communities.geojson").read_bytes()


# ---------------------------------------------------------------- network


def test_network_loads_connected_and_reaches_every_point(city):
    out, counts = city
    net = load_network(out / "network.osm.pbf", crs="EPSG:4545", cache_dir=False)
    # nearly every junction the generator made is in the loaded (largest) component
    assert 0.97 * counts["network_junctions"] <= net.n_nodes <= counts["network_junctions"]
    assert net.report["ways_dropped_not_walkable"] == {
        "highway closed to walking (motorway/cycleway/...)": 2}  # the two halves of the ring
    for name in ("communities", "facilities", "candidates"):
        snapped = snap_points(net, layer(out, name).to_crs(4545), max_snap_m=300.0)
        assert snapped.ok.all(), name
        assert np.nanmax(snapped.connector) < 300.0
    # the lattice's spacing: a median street segment about LATTICE_M long
    assert 30 < np.median(net.edge_length) < 120


def test_osm_pbf_writer_round_trip(tmp_path):
    """A 3 x 3 grid and a motorway: the loader and GDAL read back what was written."""
    ll = np.array([[108.9 + 0.001 * i, 34.2 + 0.001 * j] for j in range(3) for i in range(3)])
    refs = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 4, 7, 2, 5, 8, 3, 6, 9, 1, 9])
    tags = [{"highway": "residential"}, {"highway": "footway", "name": "小路"},
            {"highway": "motorway"}]
    path = write_osm_pbf(tmp_path / "g.osm.pbf", np.arange(9, 0, -1)[::-1], ll, refs,
                         np.array([3, 3, 3, 3, 3, 3, 2]), np.array([0, 0, 1, 1, 1, 1, 2]), tags)
    lines = pyogrio.read_dataframe(path, layer="lines")
    assert sorted(lines["highway"]) == ["footway"] * 4 + ["motorway"] + ["residential"] * 2
    assert lines["name"].dropna().tolist() == ["小路"] * 4
    first = shapely.get_coordinates(lines.geometry.iloc[0])
    np.testing.assert_allclose(first, ll[:3], atol=1e-7)
    net = load_network(path, cache_dir=False)
    assert (net.n_nodes, net.n_edges) == (9, 12)  # the motorway is not walkable
    # edge lengths against the metric distance between the grid's nodes
    tr = pyproj.Transformer.from_crs(4326, net.crs, always_xy=True)
    xy = np.c_[tr.transform(ll[:, 0], ll[:, 1])]
    want = sorted([math.dist(xy[a], xy[b]) for a, b in
                   [(0, 1), (1, 2), (3, 4), (4, 5), (6, 7), (7, 8),
                    (0, 3), (3, 6), (1, 4), (4, 7), (2, 5), (5, 8)]])
    np.testing.assert_allclose(sorted(net.edge_length), want, rtol=1e-6)
    with pytest.raises(ValueError, match="positive and unique"):
        write_osm_pbf(tmp_path / "bad.osm.pbf", np.array([1, 1]), ll[:2], np.array([1, 1]),
                      np.array([2]), np.array([0]), tags)


# ---------------------------------------------------------------- validity, fallback, run


def test_generated_city_validates_without_problems(city):
    out, _ = city
    report = validate(out / "scenario.toml")
    assert report.problems == [], report.text


def test_without_the_shared_data_names_are_generated_and_the_city_validates(tmp_path):
    counts = citygen.generate(tmp_path / "c", scale=0.01, seed=3, data=tmp_path / "absent")
    assert any("not found" in s for s in counts["sources"])
    c = layer(tmp_path / "c", "communities")
    assert c["name"].str.contains("第").all()
    report = validate(tmp_path / "c" / "scenario.toml")
    assert report.problems == [], report.text


def test_stage_timer_line_round_trips():
    timer = StageTimer()
    with timer.stage("sleep 睡眠"):
        time.sleep(0.05)
    with timer.stage("work 计算"):
        sum(range(200_000))
    line = timer.line()
    assert line.startswith(LABEL)
    stages = parse_line("something\n" + line + "\n")
    assert [s.name for s in stages] == ["sleep 睡眠", "work 计算", "total 合计"]
    assert stages[0].wall_s >= 0.05 and stages[0].cpu_s < 0.05
    assert stages[-1].wall_s >= stages[0].wall_s + stages[1].wall_s - 0.1
    assert stages[-1].peak_mb > 10
    assert parse_line("no such line") == []


@pytest.mark.slow
def test_the_city_runs_end_to_end_through_carecircle_run(tmp_path, capsys):
    # Scale 0.005 (16 communities, 7 facilities, 100 sites; 24 CPU seconds here): today's
    # isochrones cost about half a CPU second per facility on this network (city.py).
    out = tmp_path / "city"
    counts = citygen.generate(out, scale=0.005, seed=5, data=DATA, time_limit_s=20)
    dest = tmp_path / "run"
    assert cli_main(["-q", "run", str(out / "scenario.toml"), "--out", str(dest)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1].startswith(LABEL)  # the run ends with its stage times
    names = [s.name.split()[0] for s in parse_line(printed[-1])]
    assert names == ["validate", "inputs+network", "coverage", "plan", "outputs", "total"]
    text = (dest / "validation.txt").read_text(encoding="utf-8")
    assert parse_line(text) and "solver 求解器 HiGHS (exact): status" in text
    for name in ("map.html", "briefing.html", "communities.csv", "districts.csv", "sites.csv"):
        assert (dest / name).is_file(), name
    comm = pd.read_csv(dest / "communities.csv", encoding="utf-8-sig")
    assert len(comm) == counts["communities"]
    sites = pd.read_csv(dest / "sites.csv", encoding="utf-8-sig")
    assert len(sites) > 0
    assert json.loads((out / "generated.json").read_text())["communities"] == counts["communities"]
