"""Snapping joins the network on the surface: a tunnel, an underground level or a private
way only when nothing else is within reach, and then with a warning.

The hand-made network is the case of the issue: a community 26.3 m from an underground
service road (``tunnel=yes, layer=-3, access=destination``) and 27.0 m from its street.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from carecircle.network.osm import entry_restrictions, walkable_ways
from carecircle.network.snapping import restricted_snaps, snap_points, way_labels
from carecircle.network.sources import describe_network, load_network
from carecircle.network.walknet import edge_tag_attributes

CRS = "EPSG:32650"  # UTM 50N: the network is drawn in metres and written in lon/lat
X0, Y0 = 500_000.0, 3_800_000.0

#: node -> (x, y) metres from (X0, Y0)
NODES = {
    1: (0.0, 27.0), 2: (200.0, 27.0),  # the street (residential)
    3: (0.0, -26.3), 4: (200.0, -26.3),  # the underground service road
    5: (150.0, -60.0), 6: (150.0, 60.0),  # a pedestrian tunnel crossing under the street
    7: (260.0, 60.0),  # a path from the tunnel's north end to the street's east end
}
#: way id -> (nodes, tags)
WAYS = {
    10: ([1, 2], {"highway": "residential"}),
    11: ([3, 4], {"highway": "service", "tunnel": "yes", "layer": "-3", "access": "destination"}),
    12: ([1, 3], {"highway": "service"}),  # the ramp down, at the west end
    13: ([5, 6], {"highway": "footway", "tunnel": "yes", "layer": "-1"}),
    14: ([4, 5], {"highway": "footway", "tunnel": "yes", "layer": "-1"}),
    15: ([6, 7, 2], {"highway": "footway"}),
}


def _lonlat(x: float, y: float) -> tuple[float, float]:
    tr = pyproj.Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    return tr.transform(X0 + x, Y0 + y)


def _write_osm(path: Path) -> Path:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    for nid, (x, y) in NODES.items():
        lon, lat = _lonlat(x, y)
        lines.append(f'<node id="{nid}" lat="{lat:.9f}" lon="{lon:.9f}"/>')
    for wid, (refs, tags) in WAYS.items():
        lines.append(f'<way id="{wid}">')
        lines += [f'<nd ref="{r}"/>' for r in refs]
        lines += [f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("</way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def net(tmp_path):
    return load_network(_write_osm(tmp_path / "tunnel.osm"), crs=CRS, cache_dir=False)


def _points(*xy: tuple[float, float]):
    import geopandas as gpd

    return gpd.GeoDataFrame({"id": [f"p{i}" for i in range(len(xy))]},
                            geometry=[shapely.Point(X0 + x, Y0 + y) for x, y in xy], crs=CRS)


def _edge_of_way(net, label: str) -> np.ndarray:
    return np.flatnonzero(net.edge_way == label)


def test_the_tags_mark_the_ways_that_cannot_be_entered(net):
    by_way = dict(zip(net.edge_way, net.edge_restricted, strict=True))
    assert by_way["residential"] == ""
    assert by_way["service"] in ("", "tunnel, layer -3, access=destination")
    restricted = sorted(set(net.edge_restricted) - {""})
    assert restricted == ["tunnel, layer -1", "tunnel, layer -3, access=destination"]
    assert net.report["edges_no_street_entry"] == 3
    assert net.report["ways_no_street_entry"] == {"access=destination": 1, "layer<0": 3,
                                                  "tunnel": 3}
    text = "\n".join(describe_network(net))
    assert "3 edges" in text and "tunnel 3" in text


def test_a_community_joins_its_street_not_the_tunnel_nearer_below(net):
    s = snap_points(net, _points((100.0, 0.0)), max_snap_m=300.0)
    assert s.ok[0] and not s.restricted[0]
    assert s.connector[0] == pytest.approx(27.0, abs=1e-3)  # not 26.3
    assert way_labels(net, s)[0] == "residential"
    assert restricted_snaps(net, s, "c.geojson", "communities") == []


def test_a_point_right_above_a_tunnel_joins_the_street(net):
    # 0 m from the pedestrian tunnel (it runs below), 3 m from the street
    s = snap_points(net, _points((150.0, 30.0)), max_snap_m=300.0)
    assert net.edge_way[s.edge[0]] == "residential"
    assert s.connector[0] == pytest.approx(3.0, abs=1e-3)


def test_only_a_tunnel_within_reach_is_used_with_a_warning(net):
    # 33.7 m from the service tunnel, 87 m from the street, limit 50 m
    s = snap_points(net, _points((100.0, -60.0), (100.0, 900.0)), max_snap_m=50.0)
    assert s.ok.tolist() == [True, False]
    assert s.restricted.tolist() == [True, False]
    assert s.connector[0] == pytest.approx(33.7, abs=1e-3)
    assert way_labels(net, s).tolist() == ["service (tunnel, layer -3, access=destination)", ""]
    (w,) = restricted_snaps(net, s, "c.geojson", "communities")
    assert w.severity == "warning" and w.feature_id == "p0" and "tunnel" in str(w)
    # with a limit that reaches the street, the street wins again
    assert not snap_points(net, _points((100.0, -60.0)), max_snap_m=100.0).restricted[0]


def test_an_isochrone_from_a_point_above_the_tunnel_covers_streets(net):
    from carecircle.network.isochrones import isochrones

    s = snap_points(net, _points((100.0, 0.0)), max_snap_m=300.0)
    iso = isochrones(net, s, 150.0, buffer_m=5.0)
    shape = iso.geometry.iloc[0]
    assert shape.contains(shapely.Point(X0 + 100.0, Y0 + 27.0))  # on the street above
    assert not shape.contains(shapely.Point(X0 + 100.0, Y0 - 26.3))  # not the tunnel


def test_snapping_prefers_open_edges_as_brute_force_says(net):
    rng = np.random.default_rng(3)
    xy = rng.uniform([-50, -120], [300, 120], size=(200, 2))
    pts = _points(*map(tuple, xy))
    limit = 40.0
    s = snap_points(net, pts, max_snap_m=limit)
    d = shapely.distance(pts.geometry.to_numpy()[:, None], net.edge_geometry[None, :])
    open_ = net.edge_restricted == ""
    for i in range(len(pts)):
        d_open = np.where(open_, d[i], np.inf)
        if d_open.min() <= limit:
            want, restricted = int(np.argmin(d_open)), False
        else:
            want, restricted = int(np.argmin(d[i])), True
        ok = d[i, want] <= limit
        assert s.ok[i] == ok
        if ok:
            assert d[i, s.edge[i]] == pytest.approx(d[i, want], abs=1e-6)
            assert s.restricted[i] == restricted


def test_edge_attributes_survive_the_cache_and_partitions(tmp_path):
    from carecircle.network.partition import extract_subnetwork

    osm = _write_osm(tmp_path / "tunnel.osm")
    built = load_network(osm, crs=CRS, cache_dir=tmp_path / "cache")
    hit = load_network(osm, crs=CRS, cache_dir=tmp_path / "cache")
    assert hit.report["cache"] == "hit"
    assert hit.edge_way.tolist() == built.edge_way.tolist()
    assert hit.edge_restricted.tolist() == built.edge_restricted.tolist()
    part = extract_subnetwork(built, shapely.Point(X0 + 150, Y0 - 60).buffer(1), 30.0)
    idx = part.report["edge_index"]
    assert part.edge_restricted.tolist() == built.edge_restricted[idx].tolist()
    assert "tunnel, layer -1" in part.edge_restricted.tolist()


# ---------------------------------------------------------------- the rules, on tags


def test_entry_restrictions_rules():
    tags = pd.DataFrame([
        {"highway": "residential"},
        {"highway": "footway", "tunnel": "yes", "layer": "-1"},
        {"highway": "footway", "tunnel": "building_passage"},  # through a building, at street level
        {"highway": "primary", "bridge": "yes", "layer": "1"},
        {"highway": "service", "access": "private", "foot": "yes"},  # foot=yes: open to walkers
        {"highway": "service", "access": "destination"},
        {"highway": "footway", "level": "-1;0", "indoor": "yes"},
        {"highway": "footway", "foot": "private"},
        {"highway": "footway", "layer": "-1"},
    ])
    assert entry_restrictions(tags).tolist() == [
        "", "tunnel, layer -1", "", "", "", "access=destination", "level -1;0, indoor",
        "foot=private", "layer -1"]


def test_osmnx_list_valued_tags():
    tags = pd.DataFrame({"highway": ["['footway', 'steps']", "residential"],
                         "tunnel": ["['yes', 'no']", None]})
    attrs = edge_tag_attributes(tags)
    assert attrs["edge_way"].tolist() == ["footway", "residential"]
    assert attrs["edge_restricted"].tolist() == ["tunnel", ""]
    assert edge_tag_attributes(pd.DataFrame({"name": ["a"]})) == {}


def test_real_osm_tags_of_a_finnish_town(osm_data):
    """The Finnish extract has cycle and foot tunnels under roads (``tunnel=yes, layer=-1``)
    and bridges (``layer=1``): tunnels are walked through but not joined; bridges are
    ordinary ways; motorways are not walked at all."""
    import pyogrio

    pbf = osm_data / "fi-town-test.osm.pbf"
    net = load_network(pbf, cache_dir=False)
    restricted = set(net.edge_restricted) - {""}
    assert restricted and all("tunnel" in r and "layer -1" in r for r in restricted)
    lines = pyogrio.read_dataframe(pbf, layer="lines", columns=["osm_id", "highway", "other_tags"])
    other = lines["other_tags"].fillna("")
    # the walkable tunnels: cycleways open to walkers (foot=yes); the others are not walked
    walked = (lines["highway"] != "cycleway") | other.str.contains('"foot"=>"yes"')
    n_tunnels = int((lines["highway"].notna() & walked & other.str.contains('"tunnel"=>"yes"')).sum())
    assert n_tunnels == 5
    assert net.report["ways_no_street_entry"]["tunnel"] == n_tunnels
    # the walk filter on the same real tags: motorways out, foot=yes cycleways in
    tags = pd.DataFrame({"highway": lines["highway"],
                         "foot": other.str.extract(r'"foot"=>"([^"]*)"', expand=False)})
    keep, reason, _ = walkable_ways(tags[tags["highway"].notna()])
    hw = tags.loc[tags["highway"].notna(), "highway"]
    assert not keep[(hw == "motorway_link").to_numpy()].any()
    assert keep[((hw == "cycleway") & (tags["foot"] == "yes")).to_numpy()[tags["highway"].notna()]].all()
    assert "highway closed to walking (motorway/cycleway/...)" in set(reason.dropna())
    # a point beside a tunnel entrance joins the road, not the tunnel
    from carecircle.network.snapping import snap_points as snap

    tunnel_edges = np.flatnonzero(net.edge_restricted != "")
    mid = shapely.line_interpolate_point(net.edge_geometry[tunnel_edges], 0.5, normalized=True)
    import geopandas as gpd

    pts = gpd.GeoDataFrame({"id": [str(i) for i in range(len(mid))]}, geometry=mid, crs=net.crs)
    s = snap(net, pts, max_snap_m=300.0)
    assert s.ok.all() and not s.restricted.any()
