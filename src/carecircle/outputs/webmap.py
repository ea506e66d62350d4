"""Maps for briefings: one self-contained, offline, bilingual folium map per run.

The interactive map (:func:`write_plan_map`) is a single HTML file that works with no
internet: Leaflet's JavaScript and CSS are inlined from the vendored copy in
``carecircle/vendor`` (folium would link them, jQuery and Bootstrap from CDNs), and no
tile layer is drawn unless asked for (``tiles=``), so vectors draw on a plain
background.  Only Leaflet features that need nothing else are used: circle markers,
GeoJSON, popups, tooltips, the layer control and the scale bar.

Every text that comes from input data is HTML-escaped before it reaches a popup or a
tooltip, and popup/tooltip content is passed to JavaScript as a JSON string (never
inside a JavaScript template literal), so a community called
``<script>alert(1)</script>`` or ``${alert(1)}`` shows as text.

Markers carry a class name per layer (``cc-community``, ``cc-community-after``,
``cc-facility``, ``cc-substandard``, ``cc-site``) and are drawn as SVG so that a
browser test can count them.

The static PNG for slides and print is in :mod:`carecircle.outputs.staticmap`;
:func:`write_static_map` is re-exported here.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from carecircle.atomic import write_atomic
from carecircle.inputs.load import Inputs
from carecircle.inputs.read import WGS84
from carecircle.outputs.basemap import (
    Basemap,
    StreetLayer,
    base_layers,
    display_xy,
    street_data,
    to_display,
)
from carecircle.outputs.leaflet import (
    STAR_HTML,
    LazyZones,
    MarkerLayer,
    SafePopup,
    SafeTooltip,
    _geometry_json,
    _point_latlon,
    _popup,
    _values,
    base_map,
    page_of,
)
from carecircle.outputs.results import STATUS_LABELS, RunOutputs
from carecircle.outputs.style import (
    ACQUISITION_LABELS,
    DISTRICT_CLASSES,
    ISOCHRONE_WORDS,
    KIND_COLOURS,
    KIND_LABELS,
    KIND_STANDARD,
    MARK,
    NO_DATA_COLOUR,
    NO_DATA_LABEL,
    OWNERSHIP_LABELS,
    SIMPLIFY_M,
    SITE_COLOURS,
    SITE_KIND_LABELS,
    STATUS_COLOURS,
    below_standard,
    community_radius,
    district_class,
    district_scores,
    esc,
    fmt_num,
    isochrone_label,
    kinds_text,
    plan_bounds,
    site_kind,
)


def write_layer_map(inputs: Inputs, path: str | Path, *, title: str = "") -> Path:
    """A first map of the input layers (districts, communities, facilities, candidates).

    Parameters
    ----------
    inputs
        The loaded inputs.
    path
        The ``.html`` file to write (atomically).
    title
        The page's title (escaped).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    layers = {k: v.to_crs(WGS84) for k, v in inputs.layers.items()}
    districts = layers.get("districts")
    bounds = tuple((districts if districts is not None else layers["communities"]).total_bounds)
    m = base_map(bounds, prefer_canvas=True)
    if districts is not None:
        fg = folium.FeatureGroup(name="区县 Districts")
        for _, d in districts.iterrows():
            gj = folium.GeoJson(
                _geometry_json(d.geometry),
                style_function=lambda _f: {"color": "#444", "weight": 2, "fillOpacity": 0.03},
            )
            gj.add_child(SafeTooltip(esc(f"{d['name']} ({d['code']})")))
            gj.add_to(fg)
        fg.add_to(m)
    comm = layers.get("communities")
    if comm is not None:
        fg = folium.FeatureGroup(name="社区/村 Communities")
        for _, c in comm.iterrows():
            folium.CircleMarker(
                _point_latlon(c.geometry), radius=4, color="#555", fill=True, fill_opacity=0.7,
            ).add_child(_popup([("社区 Community", c["name"]), ("编号 ID", c["id"]),
                                ("人口 Population", fmt_num(c["population"]))])).add_to(fg)
        fg.add_to(m)
    for layer, label in (("facilities", "现有设施 Facilities"), ("candidates", "候选场地 Candidates")):
        gdf = layers.get(layer)
        if gdf is None:
            continue
        fg = folium.FeatureGroup(name=label, show=layer == "facilities")
        for _, f in gdf.iterrows():
            kind = f.get("kind", str(f.get("kinds", "")).split(";")[0])
            folium.CircleMarker(
                _point_latlon(f.geometry), radius=5 if layer == "facilities" else 3,
                color=KIND_COLOURS.get(kind, "#999"), fill=True, fill_opacity=0.9,
            ).add_child(_popup([("名称 Name", f.get("name", "")), ("编号 ID", f["id"]),
                                ("类型 Kind", f.get("kind", f.get("kinds", ""))),
                                ("面积 Floor area m²", fmt_num(f.get("floor_area_m2")))])).add_to(fg)
        fg.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    if title:
        page_of(m).header.add_child(folium.Element(f"<title>{esc(title)}</title>"), name="title")
    return write_atomic(path, lambda p: m.save(str(p)))


# ---------------------------------------------------------------- the plan map


def _district_layer(
    districts: gpd.GeoDataFrame, table: pd.DataFrame, name: str, show: bool, basemap: Basemap
) -> folium.FeatureGroup:
    scores = district_scores(table)
    fg = folium.FeatureGroup(name=name, show=show)
    geoms = to_display(districts.set_geometry(
        districts.geometry.simplify(SIMPLIFY_M, preserve_topology=True)), basemap).geometry
    for (_, d), geom in zip(districts.iterrows(), geoms, strict=True):
        code = str(d.get("code", ""))
        share = scores["share_failed"].get(code, np.nan) if len(scores) else np.nan
        colour, cls = district_class(share)
        gj = folium.GeoJson(
            _geometry_json(geom),
            style_function=lambda _f, c=colour: {
                "color": "#333", "weight": 2, "fillColor": c, "fillOpacity": 0.35,
            },
        )
        rows = table[table["district"].astype(str) == code] if len(table) else table
        n_fail = int(scores["n_fail"].get(code, 0)) if len(scores) else 0
        n_data = n_fail + (int(scores["n_pass"].get(code, 0)) if len(scores) else 0)
        head = (f"<b>{esc(d.get('name', code))}</b> ({esc(code)})<br>"
                f"未达标指标 Indicators failed: {n_fail}/{n_data}<br>{esc(cls)}")
        body = "".join(
            f"<tr><th>{esc(r['label'])}</th><td>{esc(_indicator_value(r))}</td>"
            f"<td>{esc(r.get('target_text', ''))}</td><td>{esc(MARK.get(str(r['status']), r['status']))}</td></tr>"
            for _, r in rows.iterrows()
        )
        gj.add_child(SafePopup(f'<div class="cc-popup">{head}<table>{body}</table></div>', max_width=480))
        gj.add_child(SafeTooltip(esc(f"{d.get('name', code)}: {n_fail}/{n_data} 未达标 failed")))
        gj.add_to(fg)
    return fg


def _indicator_value(row: pd.Series) -> str:
    """An indicator's value as text in its unit (shares as percent)."""
    v = row.get("value")
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if row.get("unit") == "%":
        return f"{100 * float(v):.1f}%"
    if row.get("unit") in ("beds", "count"):
        return fmt_num(v)
    return f"{float(v):.2f}"


def _truthy(value: object) -> bool:
    """True for True / np.True_ / 1; False for False, None, NA and NaN."""
    if value is None or value is pd.NA:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return bool(value)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as dicts (``iterrows`` makes a Series a row: seconds for a city's layers)."""
    return frame.to_dict("records")


def _community_items(comm_wgs: gpd.GeoDataFrame) -> tuple[list[str], list[dict[str, Any]]]:
    """(popup labels, items) of the communities: both layers (today, after) draw these."""
    radius = community_radius(comm_wgs["population"]) if "population" in comm_wgs else np.full(len(comm_wgs), 5.0)
    after = "status_after" in comm_wgs.columns
    labels: list[str] = []
    items = []
    for c, r in zip(_records(comm_wgs), radius, strict=True):
        loc = _point_latlon(c["geometry"])
        if loc is None:
            continue
        status = str(c.get("status", ""))
        sub = [k for k in ("elderly", "childcare") if _truthy(c.get(f"{k}_substandard"))]
        rows: list[tuple[str, object]] = [
            ("编号 ID", c.get("id")),
            ("区县 District", c.get("district_name", c.get("district"))),
            ("街道 Street", c.get("street")),
            ("人口 Population", fmt_num(c.get("population"))),
            ("60岁以上 Aged 60+", fmt_num(c.get("pop_60plus"))),
            ("0-3岁 Aged 0-3", fmt_num(c.get("pop_0_3"))),
            ("至养老设施步行(分钟) Walk to elderly care (min)", fmt_num(c.get("elderly_min"), 1)),
            ("至托育设施步行(分钟) Walk to childcare (min)", fmt_num(c.get("childcare_min"), 1)),
            ("现状 Status today", STATUS_LABELS.get(status, c.get("status"))),
            ("规划后 Status after plan",
             STATUS_LABELS.get(str(c.get("status_after")), c.get("status_after")) if after else ""),
            ("步行范围内有面积不达标设施 A facility within reach is below standard",
             "; ".join(SITE_KIND_LABELS[k] for k in sub)),
        ]
        labels, vals = _values(rows)
        item = {"ll": loc, "r": float(r), "c": STATUS_COLOURS.get(status, "#969696"),
                "t": esc(c.get("name")), "v": vals,
                "tip": f"{esc(c.get('name'))} — {esc(STATUS_LABELS.get(status, status))}"}
        if after:
            st2 = str(c.get("status_after", ""))
            item["c2"] = STATUS_COLOURS.get(st2, "#969696")
            item["tip2"] = f"{esc(c.get('name'))} — {esc(STATUS_LABELS.get(st2, st2))}"
        items.append(item)
    return labels, items


def _community_layers(comm_wgs: gpd.GeoDataFrame) -> list[folium.FeatureGroup]:
    """The communities by status today, and (after a plan) after it, the latter shown."""
    labels, items = _community_items(comm_wgs)
    after = "status_after" in comm_wgs.columns
    style = {"color": "#333", "weight": 1, "fill": True, "fillOpacity": 0.85}
    today = folium.FeatureGroup(name="社区服务状态(现状) Communities, status today", show=not after)
    first = MarkerLayer({"labels": labels, "style": style, "cls": "cc-community"}, items)
    first.add_to(today)
    groups = [today]
    if after:
        fg = folium.FeatureGroup(name="社区服务状态(规划后) Communities, status after plan", show=True)
        MarkerLayer({"labels": labels, "style": style, "cls": "cc-community-after", "colour": "c2",
                     "tip": "tip2"}, shared=first).add_to(fg)
        groups.append(fg)
    return groups


def _facility_layer(fac_wgs: gpd.GeoDataFrame, low: np.ndarray, standards: Any) -> folium.FeatureGroup:
    fg = folium.FeatureGroup(name="现有设施 Existing facilities", show=True)
    labels: list[str] = []
    items = []
    for f, is_low in zip(_records(fac_wgs), low, strict=True):
        loc = _point_latlon(f["geometry"])
        if loc is None:
            continue
        kind = str(f.get("kind", ""))
        css = f"cc-facility cc-kind-{kind if kind in KIND_COLOURS else 'other'}"
        if is_low:
            css += " cc-substandard"
        rows: list[tuple[str, object]] = [
            ("编号 ID", f.get("id")),
            ("类型 Kind", KIND_LABELS.get(kind, kind)),
            ("建筑面积(平方米) Floor area (m²)", fmt_num(f.get("floor_area_m2"))),
            ("床位 Beds", fmt_num(f.get("beds"))),
            ("托位 Childcare places", fmt_num(f.get("places"))),
            ("性质 Ownership", OWNERSHIP_LABELS.get(str(f.get("ownership", "")), f.get("ownership"))),
            ("面积不达标 Below floor-area standard",
             f"< {standards.min_area(KIND_STANDARD[kind]):g} m²" if is_low else ""),
        ]
        labels, vals = _values(rows)
        item: dict[str, Any] = {
            "ll": loc, "cls": css, "c": KIND_COLOURS.get(kind, "#999999"), "t": esc(f.get("name")),
            "v": vals, "tip": f"{esc(f.get('name'))} — {esc(KIND_LABELS.get(kind, kind))}"
                              + (" — 面积不达标 below standard" if is_low else "")}
        if is_low:
            item["flag"] = 1
        items.append(item)
    style = {"color": "#222", "weight": 1.5, "fill": True, "fillOpacity": 1.0}
    MarkerLayer({"labels": labels, "style": style, "shape": "square", "size": 6,
                 "cls": "cc-facility"}, items).add_to(fg)
    return fg


def _site_layer(sites_wgs: gpd.GeoDataFrame, cost_label: str = "费用(元) Cost (yuan)"
                ) -> folium.FeatureGroup:
    fg = folium.FeatureGroup(name="规划场地 Proposed sites", show=True)
    labels: list[str] = []
    items = []
    for s in _records(sites_wgs):
        loc = _point_latlon(s["geometry"])
        if loc is None:
            continue
        rows: list[tuple[str, object]] = [
            ("编号 ID", s.get("id")),
            ("区县 District", s.get("district")),
            ("建设类型 Kinds", kinds_text(s.get("kinds"))),
            ("建筑面积(平方米) Floor area (m²)", fmt_num(s.get("floor_area_m2"))),
            ("取得方式 Acquisition", ACQUISITION_LABELS.get(str(s.get("acquisition", "")), s.get("acquisition"))),
            (cost_label, fmt_num(s.get("cost_yuan"))),
            ("新增托位 New childcare places", fmt_num(s.get("places_added"))),
            ("新覆盖社区 Communities newly served", fmt_num(s.get("communities_newly_served"))),
            ("新覆盖服务对象 People newly served (60+ / 0-3)",
             fmt_num(s.get("residents_newly_served"))),
        ]
        labels, vals = _values(rows)
        kind = site_kind(s.get("kinds"))
        items.append({
            "ll": loc, "cls": f"cc-site cc-sk-{kind}", "c": SITE_COLOURS[kind],
            "t": esc(s.get("name")), "v": vals,
            "tip": f"{esc(s.get('name'))} — 规划场地 proposed site",
        })
    style = {"color": "#000", "weight": 1.2, "fill": True, "fillOpacity": 1.0}
    MarkerLayer({"labels": labels, "style": style, "shape": "star", "size": 11, "cls": "cc-site"},
                items).add_to(fg)
    return fg


def zone_label(name: str, gdf: gpd.GeoDataFrame) -> str:
    """The layer control's label of an isochrone set: a served area or walk zones.

    Parameters
    ----------
    name
        The set's name in ``RunOutputs.isochrones`` (``existing_elderly``, ``proposed_childcare``).
    gdf
        Its polygons: a served-area surface (with ``n_sites``) or one zone per site.

    Returns
    -------
    str
        Bilingual label.
    """
    if name.startswith("existing_") and "n_sites" in gdf.columns:
        kind = ISOCHRONE_WORDS.get(name.removeprefix("existing_"), name)
        zh, en = kind.split(" ", 1)
        return f"现有设施服务范围 {zh} — Area served today: {en}"
    return isochrone_label(name)


def _isochrone_layer(name: str, gdf: gpd.GeoDataFrame, basemap: Basemap) -> folium.FeatureGroup:
    fg = folium.FeatureGroup(name=zone_label(name, gdf), show=False)
    if gdf is None or not len(gdf):
        return fg
    kind = "childcare" if "childcare" in name else "elderly" if "elderly" in name else "both"
    colour = SITE_COLOURS[kind]
    # A served-area surface is drawn at its grid's cell (it is simplified to half a cell),
    # zones at SIMPLIFY_M.  Topology is not kept: a sliver of a ring that crosses another
    # after simplifying draws the same at a map's scale, at a tenth of the cost.
    tol = float(gdf["cell_m"].max()) if "cell_m" in gdf.columns else SIMPLIFY_M
    geoms = to_display(gdf.set_geometry(gdf.geometry.simplify(tol, preserve_topology=False)),
                       basemap).geometry
    LazyZones(name, geoms.to_numpy(), {"color": colour, "weight": 1, "fillColor": colour,
                                       "fillOpacity": 0.12}).add_to(fg)
    return fg


def _legend_html(has_after: bool, has_facilities: bool, has_sites: bool) -> str:
    def row(colour: str, label: str, dot: bool = False) -> str:
        cls = "sw dot" if dot else "sw"
        return f'<div><span class="{cls}" style="background:{colour}"></span>{esc(label)}</div>'

    parts = ['<div class="cc-panel cc-legend" id="cc-legend"><details open><summary>图例 Legend</summary>']
    parts.append("<h4>区县 (未达标指标比例) Districts (share of indicators failed)</h4>")
    parts += [row(c, lab) for _, c, lab in DISTRICT_CLASSES]
    parts.append(row(NO_DATA_COLOUR, NO_DATA_LABEL))
    parts.append("<h4>社区服务状态 Community status" + (" (现状/规划后 today/after plan)" if has_after else "")
                 + "</h4>")
    parts += [row(STATUS_COLOURS[s], STATUS_LABELS[s], dot=True) for s in STATUS_COLOURS]
    parts.append("<div>圆大小 = 人口 Circle size = population</div>")
    if has_facilities:
        parts.append("<h4>现有设施 Existing facilities</h4>")
        parts += [f'<div><span class="cc-fac cc-kind-{k}"></span>{esc(KIND_LABELS[k])}</div>'
                  for k in KIND_COLOURS]
        parts.append('<div><span class="cc-fac cc-flag" style="background:#fff"></span>'
                     f'{esc("面积低于标准 Below floor-area standard")}</div>')
    if has_sites:
        parts.append("<h4>规划场地 Proposed sites</h4>")
        parts += [f'<div><span class="cc-star cc-sk-{k}">{STAR_HTML}</span>{esc(lab)}</div>'
                  for k, lab in (("elderly", "养老 Elderly care"), ("childcare", "托育 Childcare"),
                                 ("both", "养老+托育 Both"))]
    parts.append("</details></div>")
    return "".join(parts)


def _title_html(run: RunOutputs, briefing_name: str | None, basemap: Basemap) -> str:
    scen = run.scenario
    title = getattr(scen, "title", "") or getattr(scen, "name", "")
    minutes = getattr(getattr(scen, "walking", None), "minutes", 15)
    gcj = ('<br><span class="cc-gcj">图层按GCJ-02坐标显示以对齐高德底图 Layers shown in GCJ-02 '
           "to line up with Amap's tiles</span>") if basemap.gcj02 else ""
    return (
        f'<div class="cc-panel cc-title" id="cc-title"><b>{esc(title)}</b><br>'
        f"{esc(f'{minutes:g}')}分钟步行养老托育服务圈 {esc(f'{minutes:g}')}-minute walk to elderly care "
        "and childcare"
        + (f' · <a href="{esc(briefing_name)}">简报 Briefing</a>' if briefing_name else "")
        + gcj + "</div>"
    )


def map_basemap(run: RunOutputs, basemap: Any = None) -> Basemap:
    """The map's base map: ``basemap`` if given, else the scenario's ``[map]``.

    Parameters
    ----------
    run
        The run (its scenario's ``map`` options).
    basemap
        A name in :data:`~carecircle.outputs.basemap.BASEMAPS`, a
        :class:`~carecircle.outputs.basemap.Basemap`, or ``None``.

    Returns
    -------
    Basemap
    """
    opts = getattr(run.scenario, "map", None)
    key = getattr(opts, "tianditu_key", "")
    return Basemap.of(basemap if basemap is not None else getattr(opts, "basemap", None), key=key)


def _street_layer(run: RunOutputs, basemap: Basemap) -> StreetLayer | None:
    """The run's streets, shown unless an online base map already draws streets."""
    if run.network is None or not getattr(run.network, "n_edges", 0):
        return None
    data, _ = street_data(run.network, basemap)
    return StreetLayer(data, "街道(步行路网) Streets (walking network)", show=basemap.name == "none")


def plan_map(run: RunOutputs, *, tiles: Any = None, basemap: Any = None,
             briefing_name: str | None = "briefing.html") -> folium.Map:
    """The interactive plan map as a :class:`folium.Map` (see :func:`write_plan_map`).

    Parameters
    ----------
    run
        The run's outputs.
    tiles
        Optional tile layer (see :func:`~carecircle.outputs.leaflet.base_map`).
    basemap
        The base map (see :func:`map_basemap`); default the scenario's.
    briefing_name
        The briefing page linked from the title panel (``None``: no link).

    Returns
    -------
    folium.Map
    """
    bm = map_basemap(run, basemap)
    layers = run.inputs.layers if run.inputs is not None else {}
    w, s, e, n = plan_bounds(run)
    (w, e), (s, n) = display_xy(np.array([w, e]), np.array([s, n]), bm)
    m = base_map((float(w), float(s), float(e), float(n)), tiles=tiles)
    for layer in base_layers(bm):
        layer.add_to(m)
    streets = _street_layer(run, bm)
    if streets is not None:
        streets.add_to(m)
    districts = layers.get("districts")
    has_after_table = run.districts_after is not None and len(run.districts_after)
    if districts is not None and len(districts):
        _district_layer(districts, run.districts_before, "区县达标情况(现状) Districts vs targets, today",
                        show=not has_after_table, basemap=bm).add_to(m)
        if has_after_table:
            _district_layer(districts, run.districts_after,
                            "区县达标情况(规划后) Districts vs targets, after plan", show=True,
                            basemap=bm).add_to(m)
    for name in sorted(run.isochrones):
        _isochrone_layer(name, run.isochrones[name], bm).add_to(m)
    for fg in _community_layers(to_display(run.communities, bm)):
        fg.add_to(m)
    fac = layers.get("facilities")
    if fac is not None and len(fac):
        low = below_standard(fac, run.scenario.standards)
        _facility_layer(to_display(fac, bm), low, run.scenario.standards).add_to(m)
    if run.sites is not None and len(run.sites):
        currency = getattr(run.scenario, "currency", None)
        label = "费用(元) Cost (yuan)"
        _site_layer(to_display(run.sites, bm), currency.relabel(label) if currency else label).add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    root = page_of(m)
    title = getattr(run.scenario, "title", "") or getattr(run.scenario, "name", "carecircle")
    root.header.add_child(folium.Element(f"<title>{esc(title)} — 地图 Map</title>"), name="title")
    root.html.add_child(folium.Element(_title_html(run, briefing_name, bm)), name="cc_title")
    root.html.add_child(folium.Element(_legend_html(
        "status_after" in run.communities.columns, fac is not None and len(fac) > 0,
        run.sites is not None and len(run.sites) > 0)), name="cc_legend")
    return m


def write_plan_map(run: RunOutputs, path: str | Path, *, tiles: Any = None, basemap: Any = None,
                   briefing_name: str | None = "briefing.html") -> Path:
    """Write the interactive plan map: one self-contained HTML file that works offline.

    Parameters
    ----------
    run
        The run's outputs (:class:`~carecircle.outputs.results.RunOutputs`); layers in a metric
        CRS, reprojected to WGS-84 here.
    path
        The ``.html`` file to write (atomically).
    tiles
        Optional tile layer (see :func:`base_map`); default none, so the map needs no
        internet.
    basemap
        ``none``, ``osm``, ``tianditu`` or ``amap`` (see :mod:`carecircle.outputs.basemap`);
        default the scenario's ``[map] basemap``.
    briefing_name
        The briefing page in the same folder, linked from the map's title panel
        (``None``: no link).

    Returns
    -------
    Path
        ``path``.
    """
    m = plan_map(run, tiles=tiles, basemap=basemap, briefing_name=briefing_name)
    return write_atomic(path, lambda p: m.save(str(p)))
