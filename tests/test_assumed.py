"""Assumed layers: the stated rules hold, checked by brute force and by carecircle's own readers.

Small hand-made street sets in a metric CRS: distances are checked with scipy (all
pairs) and by dense sampling, not with the module's own grid search.
"""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.spatial import cKDTree
from scipy.spatial.distance import pdist

from carecircle.errors import InputError, ProblemLog
from carecircle.inputs import assumed
from carecircle.inputs.validate import validate_layer
from carecircle.network.snapping import snap_points
from carecircle.network.walknet import network_from_edges

CRS = "EPSG:4545"
X0, Y0 = 500_000.0, 3_790_000.0  # near Xi'an in EPSG:4545


def lines_gdf(coords: list[list[tuple[float, float]]], names=None) -> gpd.GeoDataFrame:
    geoms = [shapely.LineString([(X0 + x, Y0 + y) for x, y in line]) for line in coords]
    data = {"name": names} if names is not None else {}
    return gpd.GeoDataFrame(data, geometry=geoms, crs=CRS)


def grid_lines(n: int = 6, block: float = 300.0) -> gpd.GeoDataFrame:
    """An n x n street grid of ``block`` m blocks, each block side a separate line."""
    lines = []
    for i in range(n):
        for j in range(n - 1):
            lines.append([(i * block, j * block), (i * block, (j + 1) * block)])
            lines.append([(j * block, i * block), ((j + 1) * block, i * block)])
    return lines_gdf(lines)


def dense_samples(lines: gpd.GeoDataFrame, step: float = 2.0) -> np.ndarray:
    out = []
    for g in lines.geometry:
        d = np.linspace(0.0, g.length, max(int(math.ceil(g.length / step)), 1) + 1)
        out.append(shapely.get_coordinates(shapely.line_interpolate_point(g, d)))
    return np.vstack(out)


# ---------------------------------------------------------------- street_points


def test_one_straight_street_hand_count():
    # 2,000 m street, 400 m spacing: a maximal 400 m packing of a segment holds between
    # ceil(2000 / 800) = 3 and 2000 / 400 + 1 = 6 points, whatever the order.
    pts = assumed.street_points(lines_gdf([[(0, 0), (2000, 0)]]), 400.0, seed=1)
    xy = shapely.get_coordinates(pts.geometry.array) - [X0, Y0]
    assert 3 <= len(pts) <= 6
    np.testing.assert_allclose(xy[:, 1], 0.0, atol=1e-6)  # on the street
    gaps = np.diff(np.sort(xy[:, 0]))
    assert (gaps >= 400.0 - 1e-9).all()
    # every point of the street within 400 m (+ half the 20 m step) of a site
    probe = np.linspace(0, 2000, 2001)
    nearest = np.abs(probe[:, None] - xy[None, :, 0]).min(axis=1)
    assert nearest.max() <= 400.0 + 10.0


@pytest.mark.parametrize("seed", [0, 7, 2026])
def test_grid_spacing_and_coverage_brute_force(seed):
    lines = grid_lines()
    pts = assumed.street_points(lines, 400.0, seed=seed)
    xy = shapely.get_coordinates(pts.geometry.array)
    assert len(pts) >= 4
    assert pdist(xy).min() >= 400.0 - 1e-9
    # every street point (sampled every 2 m) is within spacing + step/2 of a site
    d, _ = cKDTree(xy).query(dense_samples(lines))
    assert d.max() <= 400.0 + 10.0 + 1e-6
    # on the streets: distance to the union of lines is ~0
    assert (
        shapely.distance(shapely.points(xy), shapely.union_all(lines.geometry.array)).max() < 1e-6
    )
    # maximal: no 20 m sample (the rule's own step) could be added without breaking the spacing
    d20, _ = cKDTree(xy).query(dense_samples(lines, 20.0))
    assert (d20 < 400.0 + 1e-6).all()


def test_reversed_duplicate_counts_once_and_order_is_north_to_south():
    line = [(0, 0), (1500, 0), (1500, 1500)]
    one = assumed.street_points(lines_gdf([line]), 400.0, seed=3)
    both = assumed.street_points(lines_gdf([line, line[::-1]]), 400.0, seed=3)
    assert one.geometry.geom_equals_exact(both.geometry, 1e-9).all()
    y = shapely.get_coordinates(one.geometry.array)[:, 1]
    assert (np.diff(y) <= 1e-9).all()


def test_seed_determines_the_sites():
    lines = grid_lines()
    a = assumed.street_points(lines, 400.0, seed=11)
    b = assumed.street_points(lines, 400.0, seed=11)
    c = assumed.street_points(lines, 400.0, seed=12)
    assert a.geometry.geom_equals_exact(b.geometry, 0).all()
    assert len(a) != len(c) or not a.geometry.geom_equals_exact(c.geometry, 1e-6).all()


def test_geographic_crs_is_refused():
    lines = lines_gdf([[(0, 0), (100, 0)]]).to_crs(4326)
    with pytest.raises(InputError, match="projected"):
        assumed.street_points(lines, 400.0)
    with pytest.raises(ValueError, match="spacing_m"):
        assumed.street_points(lines_gdf([[(0, 0), (100, 0)]]), 0.0)


# ---------------------------------------------------------------- helpers


def test_road_names():
    lines = lines_gdf([[(0, 0), (1, 0)]] * 4, names=["['含光路', '南二环']", None, "东大街", "[]"])
    assert assumed.road_names(lines).tolist() == ["含光路", "", "东大街", ""]
    assert assumed.road_names(lines.drop(columns="name")).tolist() == ["", "", "", ""]


def test_near_network_hand_distances():
    lines = lines_gdf([[(0, 0), (1000, 0)]])
    pts = gpd.GeoDataFrame(
        geometry=[shapely.Point(X0 + 500, Y0 + 300), shapely.Point(X0 + 1400, Y0 + 300), None],
        crs=CRS,
    )
    d = assumed.near_network(pts, lines)
    assert d[0] == pytest.approx(300.0)
    assert d[1] == pytest.approx(500.0)  # 3-4-5 from the end point
    assert np.isinf(d[2])


def test_site_attributes_follow_the_stated_rule():
    n = 4000
    att = assumed.street_site_attributes(n, seed=5)
    assert list(att.columns) == ["acquisition", "floor_area_m2", "kinds", "cost_yuan"]
    for acq, (_p, (lo, hi)) in assumed.ACQUISITION_RULE.items():
        sub = att[att["acquisition"] == acq]
        assert sub["floor_area_m2"].between(lo - 5, hi + 5).all()
        ratio = sub["cost_yuan"] / (sub["floor_area_m2"] * assumed.UNIT_COSTS[acq])
        # 0.85-1.15, widened by the rounding of the cost to 1,000 yuan
        slack = 500.0 / (sub["floor_area_m2"] * assumed.UNIT_COSTS[acq])
        assert (ratio >= 0.85 - slack).all() and (ratio <= 1.15 + slack).all()
    shares = att["acquisition"].value_counts(normalize=True)
    for acq, (p, _r) in assumed.ACQUISITION_RULE.items():
        assert abs(shares[acq] - p) < 0.03  # 4,000 draws: 3 sigma ~ 0.024
    area = att["floor_area_m2"]
    assert (att.loc[area >= 500, "kinds"] == "elderly;childcare").all()
    mid = att.loc[(area >= 300) & (area < 500), "kinds"]
    assert set(mid) == {"elderly", "childcare"}
    assert (att.loc[area < 300, "kinds"] == "childcare").all()
    assert (area % 10 == 0).all() and (att["cost_yuan"] % 1000 == 0).all()
    pd.testing.assert_frame_equal(att, assumed.street_site_attributes(n, seed=5))


def test_candidate_sites_centres_kept_or_listed():
    lines = grid_lines(n=4)
    centres = gpd.GeoDataFrame(
        {"id": ["near", "far"], "name": ["东关社区服务中心", "远处社区中心"]},
        geometry=[shapely.Point(X0 + 150, Y0 + 100), shapely.Point(X0 + 450, Y0 + 1400)],
        crs=CRS,
    )
    res = assumed.candidate_sites(lines, centres=centres, seed=2, max_snap_m=300.0)
    sites = res.sites
    assert sites["id"].is_unique
    cen = sites[sites["source"].str.startswith("centre:")]
    assert cen["source"].tolist() == ["centre:near"]
    assert cen["snap_m"].iloc[0] == pytest.approx(100.0)  # 100 m north of the street y = 0
    assert cen["kinds"].iloc[0] == "elderly;childcare" and cen["acquisition"].iloc[0] == "renovate"
    assert res.dropped["id"].tolist() == ["far"]
    assert res.dropped["distance_m"].iloc[0] == pytest.approx(500.0)  # y 1400 vs top street 900
    assert "1 centres farther than 300 m" in res.rule and "seed 2" in res.rule
    assert sites["name"].str.contains("假设").all() and sites["name"].str.contains("assumed").all()


def test_candidate_sites_pass_the_readers_and_snap_onto_the_network():
    lines = grid_lines(n=5)
    res = assumed.candidate_sites(lines, seed=4)
    log = ProblemLog()
    checked = validate_layer(
        res.sites.drop(columns=["source", "snap_m"]),
        "candidates",
        "x.geojson",
        log,
        crs=res.sites.crs,
    )
    assert not log.problems, [str(p) for p in log.problems]
    assert set(checked["acquisition"]) <= {"new", "renovate", "lease"}
    # the same grid as a WalkNetwork: street sites join it with no connector
    xy = dense_samples(lines, 1e9)  # the two end points of each line
    uniq, inv = np.unique(np.round(xy, 6), axis=0, return_inverse=True)
    net = network_from_edges(uniq, inv[0::2], inv[1::2], crs=CRS)
    snapped = snap_points(net, res.sites, max_snap_m=300.0)
    assert snapped.ok.all()
    assert np.nanmax(snapped.connector) < 1e-6


def test_sample_facilities():
    sites = assumed.candidate_sites(grid_lines(), seed=9).sites
    fac = assumed.sample_facilities(sites, {"elderly": 2, "childcare": 3}, seed=1)
    assert fac["kind"].value_counts().to_dict() == {"elderly": 2, "childcare": 3}
    assert fac["site"].is_unique and fac["id"].is_unique
    by_id = sites.set_index("id")
    for _, f in fac.iterrows():
        assert f["kind"] in by_id.loc[f["site"], "kinds"].split(";")
        assert f["floor_area_m2"] == by_id.loc[f["site"], "floor_area_m2"]
        assert f.geometry.equals(by_id.loc[f["site"], "geometry"])
    child = fac[fac["kind"] == "childcare"]
    assert (child["places"] == np.floor(child["floor_area_m2"] / 8.0)).all()
    log = ProblemLog()
    validate_layer(fac.drop(columns="site"), "facilities", "f.geojson", log, crs=fac.crs)
    assert not log.errors
    with pytest.raises(InputError, match="not enough sites"):
        assumed.sample_facilities(sites, {"elderly": 10_000})


def test_write_geojson_round_trip_and_bytes(tmp_path):
    sites = assumed.candidate_sites(grid_lines(n=3), seed=1).sites
    sites.loc[0, "cost_yuan"] = np.nan
    p1 = assumed.write_geojson(sites, tmp_path / "a.geojson")
    p2 = assumed.write_geojson(sites, tmp_path / "b.geojson")
    assert p1.read_bytes() == p2.read_bytes()
    doc = json.loads(p1.read_text("utf-8"))
    assert doc["features"][0]["properties"]["cost_yuan"] is None
    assert list(doc["features"][0]["properties"]) == [c for c in sites.columns if c != "geometry"]
    back = gpd.read_file(p1).to_crs(CRS)
    assert back["id"].tolist() == sites["id"].tolist()
    # 7 decimals of a degree: about 1 cm
    assert back.geometry.distance(sites.geometry.reset_index(drop=True)).max() < 0.02
    with pytest.raises(InputError, match="points only"):
        assumed.write_geojson(grid_lines(n=2), tmp_path / "c.geojson")
