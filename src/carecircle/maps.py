"""Folium maps for briefings.

Every text that comes from input data is HTML-escaped before it reaches a popup or a
tooltip: a community called ``<script>`` shows as text.
"""

from __future__ import annotations

import html
from pathlib import Path

import folium
import geopandas as gpd

from .atomic import write_atomic
from .io import WGS84, Inputs

KIND_COLOURS = {
    "elderly": "#1f77b4",
    "childcare": "#e377c2",
    "street_centre": "#17becf",
    "institution": "#2ca02c",
}
KIND_LABELS = {
    "elderly": "养老服务设施 Elderly care",
    "childcare": "托育设施 Childcare",
    "street_centre": "街道综合养老服务中心 Street elderly centre",
    "institution": "养老机构 Elderly institution",
}


def esc(value: object) -> str:
    """HTML-escape any value for a popup or tooltip."""
    return html.escape("" if value is None else str(value), quote=True)


def _popup(rows: list[tuple[str, object]]) -> folium.Popup:
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return folium.Popup(f"<table>{body}</table>", max_width=360)


def base_map(bounds_wgs: tuple[float, float, float, float], *, tiles: str | None = None) -> folium.Map:
    """A map with no tile layer by default (works offline), fitted to ``bounds``."""
    w, s, e, n = bounds_wgs
    m = folium.Map(location=[(s + n) / 2, (w + e) / 2], tiles=tiles, control_scale=True,
                   zoom_start=13, prefer_canvas=True)
    m.fit_bounds([[s, w], [n, e]])
    return m


def write_layer_map(inputs: Inputs, path: str | Path, *, title: str = "") -> Path:
    """A first map of the input layers (districts, communities, facilities, candidates)."""
    layers = {k: v.to_crs(WGS84) for k, v in inputs.layers.items()}
    districts = layers.get("districts")
    bounds = tuple((districts if districts is not None else layers["communities"]).total_bounds)
    m = base_map(bounds)
    if districts is not None:
        fg = folium.FeatureGroup(name="区县 Districts")
        for _, d in districts.iterrows():
            folium.GeoJson(
                d.geometry.__geo_interface__,
                style_function=lambda _f: {"color": "#444", "weight": 2, "fillOpacity": 0.03},
                tooltip=folium.Tooltip(esc(f"{d['name']} ({d['code']})")),
            ).add_to(fg)
        fg.add_to(m)
    comm = layers.get("communities")
    if comm is not None:
        fg = folium.FeatureGroup(name="社区/村 Communities")
        for _, c in comm.iterrows():
            folium.CircleMarker(
                [c.geometry.y, c.geometry.x], radius=4, color="#555", fill=True, fill_opacity=0.7,
                popup=_popup([("社区 Community", c["name"]), ("编号 ID", c["id"]),
                              ("人口 Population", f"{c['population']:.0f}")]),
            ).add_to(fg)
        fg.add_to(m)
    for layer, label in (("facilities", "现有设施 Facilities"), ("candidates", "候选场地 Candidates")):
        gdf = layers.get(layer)
        if gdf is None:
            continue
        fg = folium.FeatureGroup(name=label, show=layer == "facilities")
        for _, f in gdf.iterrows():
            kind = f.get("kind", str(f.get("kinds", "")).split(";")[0])
            folium.CircleMarker(
                [f.geometry.y, f.geometry.x], radius=5 if layer == "facilities" else 3,
                color=KIND_COLOURS.get(kind, "#999"), fill=True, fill_opacity=0.9,
                popup=_popup([("名称 Name", f.get("name", "")), ("编号 ID", f["id"]),
                              ("类型 Kind", f.get("kind", f.get("kinds", ""))),
                              ("面积 Floor area m²", f"{f['floor_area_m2']:.0f}")]),
            ).add_to(fg)
        fg.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    if title:
        m.get_root().html.add_child(folium.Element(f"<title>{esc(title)}</title>"))
    return write_atomic(path, lambda p: m.save(str(p)))


def to_wgs(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Reproject to WGS-84 for folium."""
    return gdf.to_crs(WGS84)
