"""Tests of the interactive and static plan maps (carecircle.maps, carecircle.outputs.staticmap).

The run is a small synthetic :class:`RunOutputs` built here (three districts with
pass / fail / no data, a community of every status, facilities above and below the
floor-area standard, proposed sites, isochrones); :func:`synthetic_run` is reused by
``test_report.py`` and ``test_browser.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from carecircle.errors import CarecircleWarning, ProblemLog
from carecircle.inputs.load import Inputs
from carecircle.inputs.scenario import scenario_from_dict
from carecircle.outputs.leaflet import js_string
from carecircle.outputs.results import RunOutputs
from carecircle.outputs.staticmap import write_static_map
from carecircle.outputs.style import (
    NO_DATA_COLOUR,
    NO_DATA_LABEL,
    below_standard,
    community_radius,
    district_class,
    district_scores,
    esc,
    isochrone_label,
    kinds_text,
    site_kind,
)
from carecircle.outputs.webmap import write_layer_map, write_plan_map

CRS = "EPSG:4545"  # CGCS2000 / 3-degree GK CM 108E: the Xi'an default
X0, Y0 = 500_000.0, 3_790_000.0  # near 108.0E, 34.2N
EVIL = "<script>alert(1)</script>"
EVIL_JS = "${alert(2)}`"

# (id, name, district, x, y, population, status, status_after)
COMMUNITIES = [
    ("c1", "东关社区", "A01", 500, 500, 8000, "both", "both"),
    ("c2", "西关社区", "A01", 1500, 600, 3000, "elderly_only", "both"),
    ("c3", EVIL, "B02", 2500, 500, 5000, "childcare_only", "both"),
    ("c4", EVIL_JS, "B02", 2600, 1500, 1000, "neither", "elderly_only"),
    ("c5", "南村", "C03", 4500, 500, 200, "neither", "neither"),
    ("c6", "山里村", "C03", 5500, 1700, 50, "unreachable", "unreachable"),
]
# (id, name, kind, floor_area_m2, beds, places, ownership, x, y)
FACILITIES = [
    ("f1", "东关养老服务站", "elderly", 350.0, np.nan, np.nan, "public", 600, 400),
    ("f2", "西关小站", "elderly", 120.0, np.nan, np.nan, "private", 1400, 700),  # below 300
    ("f3", "小小托育", "childcare", 150.0, np.nan, 20.0, "private", 2400, 400),  # below 200
    ("f4", "雁塔街道综合养老服务中心", "street_centre", 800.0, 30.0, np.nan, "public", 800, 1500),
    ("f5", "<b>福寿</b>养老院", "institution", 2000.0, 120.0, np.nan, "public_private", 1800, 1800),
]
N_SUBSTANDARD = 2
# (id, name, district, kinds, floor_area_m2, x, y)
SITES = [
    ("s1", "新建综合服务站", "B02", "elderly;childcare", 600.0, 2550, 1000),
    ("s2", EVIL, "A01", "childcare", 250.0, 1600, 400),
    ("s3", "改造用房", "C03", "elderly", 320.0, 4300, 700),
]


def _pt(x: float, y: float) -> Point:
    return Point(X0 + x, Y0 + y)


def _indicator_rows(district: str, name: str, statuses: list[str]) -> list[dict]:
    keys = ["urban_elderly", "compliance", "childcare_places"]
    labels = {
        "urban_elderly": "城市社区养老服务设施覆盖率 Urban community elderly-care coverage",
        "compliance": "社区养老托育设施配建达标率 Communities with both facilities",
        "childcare_places": "每千人口托位数 Childcare places per 1,000 residents",
    }
    units = {"urban_elderly": "%", "compliance": "%", "childcare_places": "per 1,000"}
    targets = {"urban_elderly": 0.9, "compliance": 1.0, "childcare_places": 4.8}
    rows = []
    for key, st in zip(keys, statuses, strict=True):
        t = targets[key]
        value = {"pass": t + 0.05, "fail": t * 0.5, "no data": np.nan}[st]
        rows.append({
            "district": district, "district_name": name, "indicator": key, "label": labels[key],
            "value": value, "target": t, "target_text": f">= {t:g}",
            "gap": value - t, "status": st, "unit": units[key],
        })
    return rows


def street_grid(step: float = 250.0):
    """A street grid over the three districts (6 x 2 km), for the maps' street layer."""
    from carecircle.network.walknet import network_from_edges

    nx_, ny_ = int(6000 / step) + 1, int(2000 / step) + 1
    i, j = np.meshgrid(np.arange(nx_), np.arange(ny_), indexing="ij")
    xy = np.column_stack([X0 + i.ravel() * step, Y0 + j.ravel() * step])
    idx = np.arange(nx_ * ny_).reshape(nx_, ny_)
    u = np.r_[idx[:-1, :].ravel(), idx[:, :-1].ravel()]
    v = np.r_[idx[1:, :].ravel(), idx[:, 1:].ravel()]
    return network_from_edges(xy, u, v, crs=CRS, source="synthetic grid")


STREETS = street_grid()


def synthetic_run(tmp_path: Path, *, with_plan: bool = True) -> RunOutputs:
    """A small run with every case the outputs must draw."""
    scen = scenario_from_dict(
        {
            "name": "synthetic",
            "title": "合成测试 Synthetic <test> & run",
            "inputs": {"network": "net.osm", "districts": "d.gpkg", "communities": "c.csv"},
            "plan": {"mode": "budget", "budget_yuan": 5_000_000.0},
        },
        tmp_path,
    )
    districts = gpd.GeoDataFrame(
        {"code": ["A01", "B02", "C03"], "name": ["甲区", "乙区", "<i>丙区</i>"]},
        geometry=[box(X0, Y0, X0 + 2000, Y0 + 2000), box(X0 + 2000, Y0, X0 + 4000, Y0 + 2000),
                  box(X0 + 4000, Y0, X0 + 6000, Y0 + 2000)],
        crs=CRS,
    )
    names = dict(zip(districts["code"], districts["name"], strict=True))
    comm = gpd.GeoDataFrame(
        [
            {
                "id": cid, "name": name, "district": d, "district_name": names[d],
                "street": "街道一", "urban_rural": "urban" if d != "C03" else "rural",
                "population": float(pop), "pop_60plus": pop * 0.2, "pop_0_3": pop * 0.03,
                "households": pop / 2.5, "snapped": st != "unreachable",
                "snap_m": np.nan if st == "unreachable" else 20.0,
                "elderly_m": 400.0 if st in ("both", "elderly_only") else np.nan,
                "elderly_min": 6.7 if st in ("both", "elderly_only") else np.nan,
                "elderly_served": st in ("both", "elderly_only"),
                "elderly_facility": "f1" if st in ("both", "elderly_only") else "",
                "elderly_substandard": cid == "c2",
                "childcare_m": 500.0 if st in ("both", "childcare_only") else np.nan,
                "childcare_min": 6.9 if st in ("both", "childcare_only") else np.nan,
                "childcare_served": st in ("both", "childcare_only"),
                "childcare_facility": "f3" if st in ("both", "childcare_only") else "",
                "childcare_substandard": False,
                "status": st,
                "geometry": _pt(x, y),
            }
            for cid, name, d, x, y, pop, st, _ in COMMUNITIES
        ],
        crs=CRS,
    )
    facilities = gpd.GeoDataFrame(
        [
            {"id": fid, "name": name, "kind": kind, "floor_area_m2": area, "beds": beds,
             "places": places, "ownership": own, "geometry": _pt(x, y)}
            for fid, name, kind, area, beds, places, own, x, y in FACILITIES
        ],
        crs=CRS,
    )
    inputs = Inputs(crs=districts.crs, layers={"districts": districts, "communities": comm,
                                               "facilities": facilities}, log=ProblemLog())
    before = pd.DataFrame(
        _indicator_rows("A01", "甲区", ["pass", "pass", "pass"])
        + _indicator_rows("B02", "乙区", ["fail", "fail", "pass"])
        + _indicator_rows("C03", "<i>丙区</i>", ["no data", "no data", "no data"])
        + _indicator_rows("city", "全市 City", ["fail", "fail", "pass"])
    )
    isochrones = {
        "existing_elderly": gpd.GeoDataFrame(
            {"facility": ["f1", "f4"]},
            geometry=[_pt(600, 400).buffer(700), _pt(800, 1500).buffer(700)], crs=CRS),
    }
    headline = {
        "communities": len(comm), "communities_on_network": len(comm) - 1,
        "served_both_before": 1, "unreachable": 1, "crs": "EPSG:4545",
    }
    notes = [
        "population_grid: assumed 假设数据 — spread evenly <over> streets",
        "1 communities are not on the walking network 1 个社区距路网超过 300 米",
    ]
    if not with_plan:
        return RunOutputs(scenario=scen, inputs=inputs, communities=comm, districts_before=before,
                          isochrones=isochrones, headline=headline, notes=notes, network=STREETS)
    comm["status_after"] = [c[7] for c in COMMUNITIES]
    comm["elderly_served_after"] = comm["status_after"].isin(["both", "elderly_only"])
    comm["childcare_served_after"] = comm["status_after"].isin(["both", "childcare_only"])
    after = pd.DataFrame(
        _indicator_rows("A01", "甲区", ["pass", "pass", "pass"])
        + _indicator_rows("B02", "乙区", ["pass", "pass", "pass"])
        + _indicator_rows("C03", "<i>丙区</i>", ["fail", "no data", "no data"])
        + _indicator_rows("city", "全市 City", ["pass", "fail", "pass"])
    )
    sites = gpd.GeoDataFrame(
        [
            {"id": sid, "name": name, "district": d, "kinds": kinds, "floor_area_m2": area,
             "acquisition": "new" if i == 0 else "renovate", "cost_yuan": area * 7500.0,
             "places_added": 30.0 if "childcare" in kinds else 0.0,
             "communities_newly_served": 2 - (i > 0), "residents_newly_served": 6000.0 / (i + 1),
             "geometry": _pt(x, y)}
            for i, (sid, name, d, kinds, area, x, y) in enumerate(SITES)
        ],
        crs=CRS,
    )
    isochrones["proposed"] = gpd.GeoDataFrame(
        {"site": ["s1"]}, geometry=[_pt(2550, 1000).buffer(900)], crs=CRS)
    total_cost = float(sites["cost_yuan"].sum())
    costs = {
        "sites": pd.DataFrame({"id": sites["id"], "name": sites["name"], "cost_yuan": sites["cost_yuan"],
                               "subsidy_total_yuan": sites["floor_area_m2"] * 1000.0}),
        "total": pd.DataFrame({"n_sites": [len(sites)], "cost_yuan": [total_cost],
                               "subsidy_total_yuan": [float(sites["floor_area_m2"].sum() * 1000.0)]}),
    }
    headline.update({"served_both_after": 3, "sites": len(sites), "cost_yuan": total_cost,
                     "subsidy_yuan": float(sites["floor_area_m2"].sum() * 1000.0)})
    return RunOutputs(scenario=scen, inputs=inputs, communities=comm, districts_before=before,
                      districts_after=after, sites=sites, costs=costs, isochrones=isochrones,
                      headline=headline, notes=notes, network=STREETS)


@pytest.fixture
def run(tmp_path: Path) -> RunOutputs:
    return synthetic_run(tmp_path)


def _html(run: RunOutputs, tmp_path: Path, **kw) -> str:
    return write_plan_map(run, tmp_path / "map.html", **kw).read_text(encoding="utf-8")


def _layers(html: str) -> list[tuple[dict, list[dict]]]:
    """(config, items) of every MarkerLayer in the page (a layer drawing another's items
    gets those)."""
    arrays = {name: json.loads(items) for name, items in
              re.findall(r"var (\w+)_items = (\[\n.*?\n\]|\[\]);", html, flags=re.S)}
    found = re.findall(r"var layer = (\{.*?\});\s*var items = (\w+)_items;", html, flags=re.S)
    return [(json.loads(c), arrays[name]) for c, name in found]


def _items(html: str) -> list[dict]:
    return [it for _, items in _layers(html) for it in items]


def _classes(config: dict, item: dict) -> list[str]:
    return (item.get("cls") or config.get("cls", "")).split()


def _class_count(html: str, css: str) -> int:
    """Markers that will carry the class ``css``."""
    return sum(css in _classes(c, it) for c, items in _layers(html) for it in items)


def _popup_html(config: dict, item: dict) -> str:
    """The popup the page's JavaScript builds (same rule: empty values left out)."""
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in zip(config["labels"], item["v"],
                                                                           strict=True) if v != "")
    title = f"<b>{item['t']}</b>" if item["t"] else ""
    return f'<div class="cc-popup">{title}<table>{rows}</table></div>'


# ---------------------------------------------------------------- offline, self-contained


def test_plan_map_is_self_contained(run, tmp_path):
    html = _html(run, tmp_path)
    # Nothing is fetched: no script or stylesheet link at all, let alone from a CDN.
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I)
    links = re.findall(r"<link\b[^>]*>", html, re.I)
    assert links == ['<link rel="icon" href="data:,">']
    # Outside Leaflet itself (whose attribution links to leafletjs.com), no URL at all
    # is a src or href.
    ours = re.sub(r"<script>/\* @preserve\n \* Leaflet.*?</script>", "", html, flags=re.S)
    assert len(ours) < len(html) - 100_000
    assert not re.search(r"""\b(src|href)\s*=\s*["']?https?://""", ours, re.I)
    for cdn in ("cdn.jsdelivr", "code.jquery", "cdnjs", "bootstrapcdn"):
        assert cdn not in html
    # Leaflet is inlined (the vendored 1.9.4) and its CSS images are data URIs.
    assert "Leaflet 1.9.4" in html
    assert ".leaflet-container" in html
    assert "url(images/" not in html and "url(data:image/png;base64," in html
    # No tile layer by default: vectors on a plain background.
    assert "L.tileLayer" not in html
    # folium's jQuery-based popups are not used (jQuery is not there).
    assert "$(`" not in html


def test_briefing_link(run, tmp_path):
    assert 'href="briefing.html"' in _html(run, tmp_path)
    assert "briefing.html" not in _html(run, tmp_path, briefing_name=None)


def test_tiles_are_an_option(run, tmp_path):
    html = _html(run, tmp_path, tiles="OpenStreetMap")
    assert "L.tileLayer" in html and "tile.openstreetmap.org" in html
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I)


def test_vendored_leaflet_is_pristine_and_licensed():
    from importlib import resources

    vendor = resources.files("carecircle.outputs").joinpath("vendor")
    js = vendor.joinpath("leaflet.js").read_text(encoding="utf-8")
    assert js.startswith("/* @preserve\n * Leaflet 1.9.4")
    assert "BSD 2-Clause" in vendor.joinpath("LICENSE-leaflet").read_text(encoding="utf-8")


# ---------------------------------------------------------------- content


def test_marker_counts_per_layer(run, tmp_path):
    html = _html(run, tmp_path)
    assert _class_count(html, "cc-community") == len(COMMUNITIES)
    assert _class_count(html, "cc-community-after") == len(COMMUNITIES)
    assert _class_count(html, "cc-facility") == len(FACILITIES)
    assert _class_count(html, "cc-substandard") == N_SUBSTANDARD
    assert _class_count(html, "cc-site") == len(SITES)
    # canvas symbols, one items array per kind of marker: the communities' once for both
    # of their layers
    assert "new L.CCSymbol(" in html and html.count("var layer = ") == 4
    assert len(re.findall(r"var \w+_items = \[\n", html)) == 3


def test_assessment_map_has_no_plan_layers(tmp_path):
    html = _html(synthetic_run(tmp_path, with_plan=False), tmp_path)
    assert _class_count(html, "cc-community") == len(COMMUNITIES)
    assert _class_count(html, "cc-community-after") == 0
    assert _class_count(html, "cc-site") == 0
    assert "Proposed sites" not in html.split("cc-legend", 1)[1]


def test_layers_are_bilingual_and_toggleable(run, tmp_path):
    html = _html(run, tmp_path)
    assert "L.control.layers" in html
    overlays = html.split("_layers = {", 1)[1]
    for label in ("社区服务状态(现状) Communities, status today",
                  "社区服务状态(规划后) Communities, status after plan",
                  "现有设施 Existing facilities", "规划场地 Proposed sites",
                  "区县达标情况(现状) Districts vs targets, today",
                  "步行圈 现有养老 — Walk zones: Existing elderly care",
                  "步行圈 规划 — Walk zones: Proposed"):
        assert json.dumps(label)[1:-1] in overlays or label in overlays, label
    assert "L.control.scale" in html and '"imperial": false' in html
    assert 'id="cc-legend"' in html and "图例 Legend" in html


def _js_strings(html: str) -> list[str]:
    """The decoded popup and tooltip content of every marker and district."""
    bound = [json.loads(m) for m in re.findall(r'\.bind(?:Popup|Tooltip)\(("(?:[^"\\]|\\.)*")', html)]
    return bound + [s for c, items in _layers(html) for it in items
                     for s in (_popup_html(c, it), it[c["tip"]])]


def test_input_text_is_escaped(run, tmp_path):
    html = _html(run, tmp_path)
    # The raw markup never appears, anywhere in the file.
    assert EVIL not in html
    assert "<b>福寿</b>" not in html and "<i>丙区</i>" not in html
    contents = _js_strings(html)
    evil = [c for c in contents if "alert(1)" in c]
    # Community c3 (two layers x popup+tooltip) and site s2 (popup+tooltip).
    assert len(evil) == 6
    for c in evil:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in c and "<script>" not in c
    # The template-literal attack stays inside a JSON (double-quoted) string: folium's
    # own Tooltip would put it inside `...` where ${} is evaluated.
    assert all("${alert(2)}`" in c for c in contents if "alert(2)" in c)
    assert "`${alert(2)}" not in html
    stripped = re.sub(r'\.bind(?:Popup|Tooltip)\("(?:[^"\\]|\\.)*"', "", html)
    stripped = re.sub(r"var \w+_items = \[\n.*?\n\];", "", stripped, flags=re.S)
    assert "alert(" not in stripped
    # The scenario title is escaped in <title> and the title panel.
    assert "Synthetic &lt;test&gt; &amp; run" in html


def test_popups_hold_the_facts(run, tmp_path):
    contents = _js_strings(_html(run, tmp_path))
    site = next(c for c in contents if "新建综合服务站" in c and "<table>" in c)
    for text in ("养老 Elderly care; 托育 Childcare", "600", "4,500,000", "6,000", "新建 New build",
                 "People newly served", "Communities newly served"):
        assert text in site, text
    small = next(c for c in contents if "西关小站" in c and "<table>" in c)
    assert "Below floor-area standard" in small and "&lt; 300 m²" in small
    district_b = next(c for c in contents if "乙区" in c and "Indicators failed" in c)
    assert "2/3" in district_b  # today: 2 of 3 indicators failed


def test_coordinates_are_wgs84(run, tmp_path):
    html = _html(run, tmp_path)
    locs = [it["ll"] for it in _items(html)]
    assert len(locs) == 2 * len(COMMUNITIES) + len(FACILITIES) + len(SITES)
    expected = run.communities.to_crs("EPSG:4326").geometry.iloc[0]
    lat, lon = locs[0]
    assert lat == pytest.approx(expected.y, abs=1e-6) and lon == pytest.approx(expected.x, abs=1e-6)
    assert all(34.0 < float(a) < 34.5 and 107.8 < float(b) < 108.2 for a, b in locs)


# ---------------------------------------------------------------- helpers, hand-checked


def test_below_standard(run):
    fac = run.inputs.layers["facilities"].copy()
    low = below_standard(fac, run.scenario.standards)
    assert low.tolist() == [False, True, True, False, False]
    fac.loc[0, "floor_area_m2"] = np.nan  # unknown area: not flagged
    fac.loc[1, "kind"] = "other"  # no standard for the kind: not flagged
    assert below_standard(fac, run.scenario.standards).tolist() == [False, False, True, False, False]
    # street centres and institutions are held to the elderly standard
    fac.loc[3, "floor_area_m2"] = 299.0
    assert below_standard(fac, run.scenario.standards)[3]


def test_district_scores(run):
    sc = district_scores(run.districts_before)
    assert "city" not in sc.index
    assert sc.loc["A01", "share_failed"] == 0.0
    assert sc.loc["B02", "share_failed"] == pytest.approx(2 / 3)
    assert np.isnan(sc.loc["C03", "share_failed"]) and sc.loc["C03", "n_nodata"] == 3
    assert district_class(0.0)[1].startswith("全部达标")
    assert district_class(2 / 3)[1].startswith("≤75%")
    assert district_class(0.8)[1].startswith(">75%")
    assert district_class(float("nan")) == (NO_DATA_COLOUR, NO_DATA_LABEL)
    assert district_scores(None).empty


def test_small_helpers():
    assert site_kind("elderly;childcare") == "both"
    assert site_kind("street_centre") == "elderly"
    assert site_kind("childcare") == "childcare"
    assert kinds_text("elderly;childcare") == "养老 Elderly care; 托育 Childcare"
    assert isochrone_label("existing_childcare") == "步行圈 现有托育 — Walk zones: Existing childcare"
    r = community_radius(pd.Series([0.0, 2500.0, 10000.0, np.nan]))
    assert r.tolist() == [3.0, 7.5, 12.0, 3.0]
    assert esc(None) == "" and esc(float("nan")) == "" and esc("<&>") == "&lt;&amp;&gt;"
    assert js_string("</script>'&") == '"\\u003c/script\\u003e\\u0027\\u0026"'
    assert js_string("甲区") == '"甲区"'


def test_write_layer_map_still_works(run, tmp_path):
    html = write_layer_map(run.inputs, tmp_path / "layers.html", title="<t>").read_text("utf-8")
    assert "<title>&lt;t&gt;</title>" in html
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I)
    assert EVIL not in html
    assert html.count("L.circleMarker(") == len(COMMUNITIES) + len(FACILITIES)


def test_map_without_districts_or_facilities(run, tmp_path):
    del run.inputs.layers["districts"]
    del run.inputs.layers["facilities"]
    html = _html(run, tmp_path)
    assert _class_count(html, "cc-facility") == 0
    assert _class_count(html, "cc-site") == len(SITES)


# ---------------------------------------------------------------- static map


def test_static_map_png(run, tmp_path):
    from carecircle.outputs import staticmap

    a = write_static_map(run, tmp_path / "a.png")
    b = write_static_map(run, tmp_path / "b.png")
    data = a.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data == b.read_bytes()  # deterministic
    from PIL import Image

    with Image.open(a) as im:
        w, h = im.size
        assert 1000 < w <= 1900 and 300 < h <= 1300
        # The districts' fills are drawn: the "all met" green appears in the picture.
        colours = {c for _, c in im.convert("RGB").getcolors(maxcolors=1 << 20)}
    assert len(colours) > 50
    assert staticmap.latin_only("两类均达标 Both served") == "Both served"


def test_static_map_without_cjk_font_warns_and_draws(run, tmp_path, monkeypatch):
    from carecircle.outputs import staticmap

    monkeypatch.setattr(staticmap, "find_cjk_font", lambda: None)
    with pytest.warns(CarecircleWarning, match="no Chinese"):
        p = write_static_map(run, tmp_path / "plain.png")
    assert p.read_bytes()[:4] == b"\x89PNG"


def test_static_map_assessment(tmp_path):
    p = write_static_map(synthetic_run(tmp_path, with_plan=False), tmp_path / "s.png")
    assert p.stat().st_size > 10_000


def test_scale_bar_length():
    from carecircle.outputs.staticmap import _nice_length

    assert _nice_length(6000) == 1000
    assert _nice_length(12_000) == 2000
    assert _nice_length(30_000) == 5000
    assert _nice_length(3) == 0.5 or _nice_length(3) == 1.0


def test_static_map_is_not_widened_by_what_lies_beyond_the_view(run, tmp_path):
    """A district far from the study area (its label) and streets reaching far past it are
    cut at the map's edge: the picture keeps the study area's size (a 14,000-pixel-wide
    PNG of central Xi'an before)."""
    from PIL import Image

    from carecircle.network.walknet import network_from_edges

    base = write_static_map(run, tmp_path / "a.png")
    far = np.array([[X0 - 50_000, Y0], [X0 + 500, Y0 + 500], [X0 + 90_000, Y0 + 40_000]])
    run.network = network_from_edges(far, np.array([0, 1]), np.array([1, 2]), crs=CRS)
    d = run.inputs.layers["districts"]
    run.inputs.layers["districts"] = gpd.GeoDataFrame(pd.concat([d, gpd.GeoDataFrame(
        {"code": ["Z09"], "name": ["远郊区"]}, geometry=[box(X0 + 80_000, Y0 + 60_000, X0 + 90_000,
                                                          Y0 + 70_000)], crs=CRS)]), crs=CRS)
    wide = write_static_map(run, tmp_path / "b.png")
    with Image.open(base) as a, Image.open(wide) as b:
        assert abs(a.size[0] - b.size[0]) < 60 and abs(a.size[1] - b.size[1]) < 60
