"""Tests for carecircle.outputs.basemap: the offline street layer, online base maps, GCJ-02.

The "known point" is the first of test_coords' reference points, (108.94 E, 34.26 N)
near Xi'an's centre, whose GCJ-02 position (108.94464954398632, 34.25840865901899)
comes from prcoords 1.0.2, an independent implementation.
"""

from __future__ import annotations

import re

import numpy as np
import pyproj
import pytest
import shapely

from carecircle.outputs.basemap import Basemap, base_layers, display_xy, street_data, to_display
from carecircle.outputs.webmap import write_plan_map
from test_maps import CRS, STREETS, synthetic_run
from test_packed import unpack_lines

KNOWN_WGS = (108.94, 34.26)
KNOWN_GCJ = (108.94464954398632, 34.25840865901899)


def known_point_run(tmp_path):
    """The synthetic run with facility f1 moved onto the known point."""
    run = synthetic_run(tmp_path)
    fac = run.inputs.layers["facilities"]
    x, y = pyproj.Transformer.from_crs(4326, CRS, always_xy=True).transform(*KNOWN_WGS)
    fac.loc[0, "geometry"] = shapely.Point(x, y)
    return run


def facility_latlon(html: str, fac_id: str = "f1") -> tuple[float, float]:
    """The map's position of a facility (its item's ``ll``)."""
    from test_maps import _layers

    for config, items in _layers(html):
        if config["cls"] == "cc-facility":
            for it in items:
                if f">{fac_id}<" in "".join(f">{v}<" for v in it["v"]):
                    return tuple(it["ll"])
    raise AssertionError(f"no facility {fac_id}")


def test_basemap_names_and_keys(monkeypatch):
    from carecircle.errors import ScenarioError

    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    assert Basemap.of(None) == Basemap("none", "") and not Basemap.of("amap").key
    assert Basemap.of("AMAP").gcj02 and not Basemap.of("osm").gcj02
    with pytest.raises(ScenarioError, match="expected one of none, osm, tianditu, amap"):
        Basemap.of("google")
    with pytest.raises(ScenarioError, match="TIANDITU_KEY"):
        Basemap.of("tianditu")
    with pytest.raises(ScenarioError, match="Tianditu key"):
        Basemap.of("tianditu", key="abc\"</script>")
    assert Basemap.of("tianditu", key="0123456789abcdef").key == "0123456789abcdef"
    monkeypatch.setenv("TIANDITU_KEY", "fedcba9876543210")
    assert Basemap.of("tianditu").key == "fedcba9876543210"
    assert Basemap.of("osm", key="x").key == ""  # a key goes only where it is used


def test_known_point_lands_on_the_same_spot_in_both(tmp_path):
    """With OpenStreetMap the facility is drawn at its WGS-84 position, with Amap at its
    GCJ-02 position: on each base map's own tiles, the same spot on the ground."""
    run = known_point_run(tmp_path)
    osm = write_plan_map(run, tmp_path / "osm.html", basemap="osm").read_text("utf-8")
    amap = write_plan_map(run, tmp_path / "amap.html", basemap="amap").read_text("utf-8")
    lat, lon = facility_latlon(osm)
    assert (lon, lat) == pytest.approx(KNOWN_WGS, abs=1e-6)
    lat, lon = facility_latlon(amap)
    assert (lon, lat) == pytest.approx(KNOWN_GCJ, abs=1e-6)
    # every overlay moves with it: the other facilities, the communities, the districts
    other_osm, other_amap = facility_latlon(osm, "f4"), facility_latlon(amap, "f4")
    g = display_xy(np.array([other_osm[1]]), np.array([other_osm[0]]), Basemap("amap"))
    assert (other_amap[1], other_amap[0]) == pytest.approx((g[0][0], g[1][0]), abs=2e-6)
    assert 300 < _metres(other_osm, other_amap) < 800
    assert "GCJ-02" in amap.split('id="cc-title"', 1)[1][:600]
    # and the tiles are each provider's: Amap's with Amap, OpenStreetMap's with OSM
    assert "autonavi.com" in amap and "openstreetmap.org" not in amap
    assert "tile.openstreetmap.org" in osm and "autonavi" not in osm


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(pyproj.Geod(ellps="WGS84").inv(a[1], a[0], b[1], b[0])[2])


def test_streets_are_offline_and_in_display_coordinates(tmp_path):
    run = synthetic_run(tmp_path)
    for name in ("none", "amap"):
        data, n = street_data(STREETS, Basemap.of(name))
        assert n == STREETS.n_edges
        lines = unpack_lines(data)
        first = np.asarray(lines[0][0])
        x, y = STREETS.edge_geometry[0].coords[0]
        wlon, wlat = pyproj.Transformer.from_crs(CRS, 4326, always_xy=True).transform(x, y)
        want = display_xy(np.array([wlon]), np.array([wlat]), Basemap.of(name))
        assert first == pytest.approx([want[0][0], want[1][0]], abs=0.6e-5)
    html = write_plan_map(run, tmp_path / "map.html").read_text("utf-8")
    assert "new L.CCStreets(" in html and "Streets (walking network)" in html
    assert "L.tileLayer" not in html  # offline: no tiles at all by default
    # the streets sit in their own pane, under the districts (400)
    assert '["ccStreets", 250]' in html
    # with an online base map the streets are there but off at first
    osm = write_plan_map(run, tmp_path / "osm.html", basemap="osm").read_text("utf-8")
    layer = re.compile(r"var (street_layer_\w+) = new L.CCStreets")
    assert f"{layer.search(osm).group(1)}.addTo(" not in osm
    assert f"{layer.search(html).group(1)}.addTo(" in html


def test_base_layers(monkeypatch):
    assert base_layers(Basemap.of("none")) == []
    blank, tiles = base_layers(Basemap.of("tianditu", key="0123456789abcdef"))
    assert blank.layer_name.startswith("无底图 No base map") and not blank.show and tiles.show
    urls = [c.tiles for c in tiles._children.values()]
    assert len(urls) == 2 and all("tk=0123456789abcdef" in u for u in urls)
    assert "LAYER=vec" in urls[0] and "LAYER=cva" in urls[1]


def test_scenario_and_command_line_choose_the_base_map(tmp_path, monkeypatch):
    from carecircle.errors import ScenarioError
    from carecircle.inputs.scenario import scenario_from_dict

    base = {"name": "x", "inputs": {"network": "n", "districts": "d", "communities": "c"}}
    assert scenario_from_dict(base, tmp_path).map.basemap == "none"
    assert scenario_from_dict({**base, "map": {"basemap": "osm"}}, tmp_path).map.basemap == "osm"
    with pytest.raises(ScenarioError, match="map.basemap"):
        scenario_from_dict({**base, "map": {"basemap": "bing"}}, tmp_path)
    with pytest.raises(ScenarioError, match="map.tianditu_key"):
        scenario_from_dict({**base, "map": {"basemap": "tianditu", "tianditu_key": "k'ey"}}, tmp_path)
    # the scenario's choice is the map's default; an explicit one wins
    run = synthetic_run(tmp_path)
    run.scenario = run.scenario.replace(map=scenario_from_dict(
        {**base, "map": {"basemap": "amap"}}, tmp_path).map)
    html = write_plan_map(run, tmp_path / "m.html").read_text("utf-8")
    assert "autonavi" in html
    html = write_plan_map(run, tmp_path / "m.html", basemap="none").read_text("utf-8")
    assert "autonavi" not in html


def test_to_display_keeps_rows_and_shifts_only_for_amap(tmp_path):
    run = synthetic_run(tmp_path)
    comm = run.communities
    plain, shifted = to_display(comm, Basemap()), to_display(comm, Basemap("amap"))
    assert len(plain) == len(shifted) == len(comm) and plain.crs.to_epsg() == 4326
    d = np.hypot(shifted.geometry.x - plain.geometry.x, shifted.geometry.y - plain.geometry.y)
    assert (d > 0.003).all()  # a few hundred metres
    assert comm.crs.to_string() == CRS  # the run's own layers are not touched


def test_tianditu_without_a_key_stops_the_run_at_validation(demo_scenario, monkeypatch, tmp_path):
    from carecircle.cli import main

    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    code = main(["-q", "run", str(demo_scenario), "--out", str(tmp_path / "out"),
                 "--basemap", "tianditu"])
    assert code == 1 and not (tmp_path / "out").exists()
