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

The static PNG for slides and print is in :mod:`carecircle.staticmap`;
:func:`write_static_map` is re-exported here.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.template import Template

from .atomic import write_atomic
from .io import WGS84, Inputs
from .results import STATUS_LABELS, RunOutputs

# ---------------------------------------------------------------- style (shared with staticmap)

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
# Which standard a facility kind is held to (the coverage module's grouping: every
# elderly-care kind is held to the elderly floor-area standard).
KIND_STANDARD = {
    "elderly": "elderly",
    "street_centre": "elderly",
    "institution": "elderly",
    "childcare": "childcare",
}
STATUS_COLOURS = {
    "both": "#1a9850",
    "elderly_only": "#4575b4",
    "childcare_only": "#f46d43",
    "neither": "#d73027",
    "unreachable": "#969696",
}
SITE_COLOURS = {"elderly": "#08519c", "childcare": "#c51b8a", "both": "#6a3d9a"}
SUBSTANDARD_COLOUR = "#e31a1c"
OWNERSHIP_LABELS = {
    "public": "公办 Public",
    "public_private": "公建民营 Public-built, privately run",
    "private": "民办 Private",
}
ACQUISITION_LABELS = {"new": "新建 New build", "renovate": "改造 Renovation", "lease": "租赁 Lease"}
SITE_KIND_LABELS = {
    "elderly": "养老 Elderly care",
    "childcare": "托育 Childcare",
    "street_centre": "综合中心 Street centre",
}
# District colour classes by the share of indicators (with data) that fail.
DISTRICT_CLASSES = (
    (0.0, "#1a9850", "全部达标 All targets met"),
    (0.25, "#a6d96a", "≤25% 指标未达标 ≤25% of indicators failed"),
    (0.5, "#fee08b", "≤50% 指标未达标 ≤50% failed"),
    (0.75, "#fdae61", "≤75% 指标未达标 ≤75% failed"),
    (1.0, "#d73027", ">75% 指标未达标 >75% failed"),
)
NO_DATA_COLOUR = "#bdbdbd"
NO_DATA_LABEL = "无数据 No data"
MARK = {"pass": "✓", "fail": "✗", "no data": "无数据 no data"}
ISOCHRONE_WORDS = {
    "existing": "现有 Existing",
    "proposed": "规划 Proposed",
    "elderly": "养老 elderly care",
    "childcare": "托育 childcare",
    "street_centre": "综合中心 street centre",
}
# Simplification tolerance (metres, in the metric CRS) for polygons drawn on the map:
# far below what a reader can see at street zoom, and it keeps the HTML small.
SIMPLIFY_M = 2.0


def esc(value: object) -> str:
    """HTML-escape any value for a popup or tooltip (``None``/NaN -> empty)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value is pd.NA:
        return ""
    return html.escape(str(value), quote=True)


def fmt_num(value: object, digits: int = 0) -> str:
    """A number with thousands separators, or ``""`` when missing."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "" if value is None else str(value)
    if math.isnan(x):
        return ""
    return f"{x:,.{digits}f}"


def to_wgs(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Reproject to WGS-84 for folium."""
    return gdf.to_crs(WGS84)


def below_standard(facilities: gpd.GeoDataFrame, standards: Any) -> np.ndarray:
    """Boolean array: facilities whose floor area is below their kind's standard.

    Parameters
    ----------
    facilities
        Facilities with ``kind`` and ``floor_area_m2``.
    standards
        A :class:`~carecircle.scenario.Standards` (``elderly_min_area_m2``,
        ``childcare_min_area_m2``).

    Returns
    -------
    numpy.ndarray
        ``True`` where the floor area is known and below the standard.  Kinds with no
        standard and unknown areas are never marked.
    """
    minimum = {
        "elderly": float(standards.elderly_min_area_m2),
        "childcare": float(standards.childcare_min_area_m2),
    }
    std = facilities["kind"].map(KIND_STANDARD).map(minimum).to_numpy(dtype=float)
    area = pd.to_numeric(facilities.get("floor_area_m2"), errors="coerce")
    area = np.full(len(facilities), np.nan) if area is None else area.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(std) | np.isnan(area), False, area < std)


def district_scores(table: pd.DataFrame | None) -> pd.DataFrame:
    """How far each district is from its targets, from a long indicator table.

    Parameters
    ----------
    table
        The ``districts`` table (one row per district x indicator, see
        :mod:`carecircle.results`); the ``city`` rows are ignored.

    Returns
    -------
    pandas.DataFrame
        Indexed by district code: ``n_pass``, ``n_fail``, ``n_nodata`` and
        ``share_failed`` (failed / indicators with data; NaN when none has data).
    """
    cols = ["n_pass", "n_fail", "n_nodata", "share_failed"]
    if table is None or not len(table):
        return pd.DataFrame(columns=cols)
    t = table[table["district"].astype(str) != "city"]
    st = t["status"].astype(str)
    out = pd.DataFrame({
        "n_pass": (st == "pass").groupby(t["district"].astype(str), sort=False).sum(),
        "n_fail": (st == "fail").groupby(t["district"].astype(str), sort=False).sum(),
        "n_nodata": (st == "no data").groupby(t["district"].astype(str), sort=False).sum(),
    })
    with_data = out["n_pass"] + out["n_fail"]
    out["share_failed"] = np.where(with_data > 0, out["n_fail"] / with_data.where(with_data > 0, 1), np.nan)
    return out


def district_class(share_failed: float) -> tuple[str, str]:
    """(colour, legend label) of a district's class from its share of failed indicators."""
    if share_failed is None or (isinstance(share_failed, float) and math.isnan(share_failed)):
        return NO_DATA_COLOUR, NO_DATA_LABEL
    for upper, colour, label in DISTRICT_CLASSES:
        if share_failed <= upper + 1e-12:
            return colour, label
    return DISTRICT_CLASSES[-1][1], DISTRICT_CLASSES[-1][2]


def site_kind(kinds: object) -> str:
    """``elderly``, ``childcare`` or ``both`` for a ``;``-joined kinds string."""
    parts = {k.strip() for k in str(kinds or "").split(";") if k.strip()}
    elderly = bool(parts & {"elderly", "street_centre"})
    childcare = "childcare" in parts
    if elderly and childcare:
        return "both"
    return "childcare" if childcare else "elderly"


def kinds_text(kinds: object) -> str:
    """Bilingual text of a ``;``-joined kinds string."""
    parts = [k.strip() for k in str(kinds or "").split(";") if k.strip()]
    return "; ".join(SITE_KIND_LABELS.get(k, k) for k in parts)


def isochrone_label(name: str) -> str:
    """Bilingual layer label of an isochrone set such as ``existing_elderly``."""
    words = [ISOCHRONE_WORDS.get(w, w) for w in re.split(r"[_\s]+", name) if w]
    zh = "".join(w.split(" ", 1)[0] for w in words)
    en = " ".join(w.split(" ", 1)[-1] for w in words)
    return f"步行圈 {zh} — Walk zones: {en}"


def community_radius(population: pd.Series) -> np.ndarray:
    """Marker radius in pixels, 3-12, by the square root of population (area ~ people)."""
    pop = pd.to_numeric(population, errors="coerce").fillna(0).clip(lower=0).to_numpy(dtype=float)
    top = pop.max() if len(pop) and pop.max() > 0 else 1.0
    return np.round(3.0 + 9.0 * np.sqrt(pop / top), 1)


# ---------------------------------------------------------------- offline folium


def _vendor(name: str) -> bytes:
    return resources.files("carecircle").joinpath("vendor", *name.split("/")).read_bytes()


def _leaflet_inline() -> str:
    """Leaflet's CSS and JS as inline ``<style>``/``<script>``, images as data URIs."""
    css = _vendor("leaflet.css").decode("utf-8")

    def data_uri(match: re.Match) -> str:
        try:
            png = base64.b64encode(_vendor(f"images/{match.group(1)}")).decode("ascii")
        except FileNotFoundError:
            # An install without vendor/images: lose the layer-control icon, never
            # ask a server for it.
            return "none"
        return f"url(data:image/png;base64,{png})"

    css = re.sub(r"url\(images/([\w.-]+\.png)\)", data_uri, css)
    js = _vendor("leaflet.js").decode("utf-8")
    # An inline script or style ends at the first closing tag: the vendored files have
    # none, and this guards a future update that would silently break the page.
    if "</script" in js.lower() or "</style" in css.lower():
        raise RuntimeError("vendored Leaflet contains a closing tag; cannot inline it")
    return f"<style>{css}</style>\n<script>{js}</script>"


class OfflineMap(folium.Map):
    """A :class:`folium.Map` that links nothing: Leaflet is inlined, no jQuery/Bootstrap."""

    default_js: list[tuple[str, str]] = []
    default_css: list[tuple[str, str]] = []

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # Added at construction so Leaflet precedes every script folium renders later.
        self.get_root().header.add_child(folium.Element(_leaflet_inline()), name="leaflet_inline")


def js_string(text: str) -> str:
    """A JavaScript string literal of ``text`` that is safe inside an HTML ``<script>``.

    JSON with ``<``, ``>``, ``&`` and ``'`` escaped (so no ``</script>`` can close the
    block), but CJK characters kept as UTF-8: a ``\\uXXXX`` escape per character would
    double the size of a map of Chinese names.
    """
    return js_json(str(text))


def js_json(value: Any) -> str:
    """JSON of ``value`` that is safe inside an HTML ``<script>`` (see :func:`js_string`)."""
    return (
        json.dumps(value, ensure_ascii=False)
        .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        .replace("'", "\\u0027").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    )


class SafePopup(MacroElement):
    """A popup whose HTML is handed to Leaflet as a JSON string (no jQuery, no templates).

    ``content`` must already be escaped HTML (build it with :func:`esc`).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.bindPopup({{ this.content_js }}, {{ this.options|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, content: str, max_width: int = 360):
        super().__init__()
        self._name = "SafePopup"
        self.content = content
        self.content_js = js_string(content)
        self.options = {"maxWidth": max_width}


class SafeTooltip(MacroElement):
    """A tooltip whose (escaped) HTML is handed to Leaflet as a JSON string."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.bindTooltip({{ this.content_js }}, {{ this.options|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, content: str, sticky: bool = True):
        super().__init__()
        self._name = "SafeTooltip"
        self.content = content
        self.content_js = js_string(content)
        self.options = {"sticky": sticky}


def shape_icon(class_name: str, size: int, html: str = "") -> dict[str, Any]:
    """Options of a ``L.divIcon`` drawn with CSS only: squares and stars, no image.

    Circles are communities; facilities are squares and proposed sites stars, as on
    the static map, so the three never read as one another.  ``class_name`` is the
    element's class list (used by the CSS and to count markers).
    """
    half = size / 2
    return {"className": class_name, "html": html, "iconSize": [size, size],
            "iconAnchor": [half, half], "popupAnchor": [0, -half], "tooltipAnchor": [half, 0]}


class MarkerLayer(MacroElement):
    """Many markers from one JSON array, added to the parent layer by a short loop.

    ``config`` is shared by the layer's markers: ``labels`` (the popup's row labels,
    escaped HTML) and either ``style`` (options of ``L.circleMarker``) or ``icon``
    (options of ``L.divIcon``, see :func:`shape_icon`).  Each item is
    ``{"ll": [lat, lon], "t": title, "v": [one value per label], "tip": tooltip}``
    plus, for circles, ``"r"`` (radius) and ``"c"`` (fill colour), or, for icons,
    ``"cls"`` (class list).  Every text is escaped HTML already; a popup row whose
    value is empty is left out.  The popup is built when first opened.

    One array instead of one folium element (and popup) per marker keeps a city-size
    map a few MB and quick to write.  Icons are given to ``L.marker`` at creation, so
    Leaflet's default image icon is never made (it would be fetched).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            (function () {
                var group = {{ this._parent.get_name() }};
                var layer = {{ this.config_js }};
                var items = {{ this.items_js }};
                function popup(it) {
                    var h = '<div class="cc-popup">' + (it.t ? '<b>' + it.t + '</b>' : '') + '<table>';
                    for (var j = 0; j < layer.labels.length; j++) {
                        if (it.v[j] !== "") {
                            h += '<tr><th>' + layer.labels[j] + '</th><td>' + it.v[j] + '</td></tr>';
                        }
                    }
                    return h + '</table></div>';
                }
                items.forEach(function (it) {
                    var m = layer.icon
                        ? L.marker(it.ll, {"icon": L.divIcon(Object.assign({}, layer.icon, {"className": it.cls})),
                                           "riseOnHover": true})
                        : L.circleMarker(it.ll, Object.assign({}, layer.style, {"radius": it.r, "fillColor": it.c}));
                    m.bindPopup(function () { return popup(it); }, {"maxWidth": 360});
                    m.bindTooltip(it.tip, {"sticky": true});
                    m.addTo(group);
                });
            })();
        {% endmacro %}
        """
    )

    def __init__(self, config: dict[str, Any], items: list[dict[str, Any]]):
        super().__init__()
        self._name = "MarkerLayer"
        self.config = config
        self.items = items
        self.config_js = js_json(config)
        # One item per line: readable, and diffs of two maps line up.
        self.items_js = "[\n" + ",\n".join(js_json(it) for it in items) + "\n]"


def _values(rows: list[tuple[str, object]]) -> tuple[list[str], list[str]]:
    """(escaped labels, escaped values) of popup rows."""
    return [esc(k) for k, _ in rows], [esc(v) for _, v in rows]


STAR_HTML = '<div class="cc-star-o"></div><div class="cc-star-i"></div>'


class MetricScale(MacroElement):
    """Leaflet's scale bar in metres only (planners in China do not read feet)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.control.scale({"metric": true, "imperial": false, "maxWidth": 150})
                .addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "MetricScale"


class FitNow(MacroElement):
    """Fit the map to bounds at once: no zoom animation from ``zoom_start`` on load.

    (folium's ``fit_bounds`` animates, so for a moment after load the markers are
    drawn mid-zoom: a screenshot or a reader's first glance catches a wrong scale.)
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.fitBounds({{ this.bounds|tojson }},
                {"animate": false, "padding": [12, 12]});
        {% endmacro %}
        """
    )

    def __init__(self, bounds: list[list[float]]):
        super().__init__()
        self._name = "FitNow"
        self.bounds = bounds


def popup_table(rows: Iterable[tuple[str, object]], title: object = None) -> str:
    """Escaped HTML of a popup: an optional bold title and a two-column table.

    Rows whose value is empty are left out.
    """
    body = "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows if esc(v) != ""
    )
    head = f"<b>{esc(title)}</b>" if title is not None and esc(title) else ""
    return f'<div class="cc-popup">{head}<table>{body}</table></div>'


def _popup(rows: list[tuple[str, object]]) -> SafePopup:
    return SafePopup(popup_table(rows))


# The empty data: icon stops the browser asking the server for /favicon.ico (a 404
# that would show as a console error when the folder is served).
_PAGE_CSS = """
<link rel="icon" href="data:,">
<style>
  .leaflet-container { background: #f4f3ef; font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei",
    "Microsoft YaHei", "PingFang SC", sans-serif; }
  .cc-popup table { border-collapse: collapse; font-size: 12px; }
  .cc-popup th { text-align: left; padding: 1px 8px 1px 0; color: #555; font-weight: normal;
    vertical-align: top; }
  .cc-popup td { padding: 1px 0; }
  .cc-panel { position: fixed; z-index: 1000; background: rgba(255,255,255,0.93);
    border: 1px solid #bbb; border-radius: 4px; padding: 6px 9px; font: 12px/1.35 sans-serif;
    box-shadow: 0 1px 4px rgba(0,0,0,0.2); }
  .cc-legend { bottom: 24px; right: 10px; max-height: 60vh; overflow-y: auto; }
  .cc-legend h4 { margin: 6px 0 2px 0; font-size: 12px; }
  .cc-legend .sw { display: inline-block; width: 12px; height: 12px; margin-right: 5px;
    vertical-align: middle; border: 1px solid #555; }
  .cc-legend .dot { border-radius: 50%; }
  .cc-title { top: 10px; left: 60px; max-width: 46vw; }
  .cc-title b { font-size: 14px; }
  .cc-legend summary { cursor: pointer; font-weight: bold; }
  .cc-fac { box-sizing: border-box; border: 1.5px solid #222; border-radius: 1px; }
  .cc-kind-other { background: #999999; }
  /* Why a red dashed outline: it reads as "flagged" in any fill colour. */
  .cc-flag { outline: 2.5px dashed SUBSTANDARD; outline-offset: 1.5px; }
  .cc-star .cc-star-o, .cc-star .cc-star-i { position: absolute;
    clip-path: polygon(50% 0%, 61% 35%, 98% 35%, 68% 57%, 79% 91%, 50% 70%, 21% 91%, 32% 57%,
                       2% 35%, 39% 35%); }
  .cc-star .cc-star-o { left: 0; top: 0; width: 100%; height: 100%; background: #000; }
  .cc-star .cc-star-i { left: 18%; top: 20%; width: 64%; height: 64%; }
  .cc-legend .cc-fac, .cc-legend .cc-star { display: inline-block; position: relative; width: 12px;
    height: 12px; margin: 0 6px 0 1px; vertical-align: middle; }
  .cc-legend .cc-star { width: 16px; height: 16px; margin: 0 3px 0 0; }
  .leaflet-control-layers { font-size: 12px; line-height: 1.4; }
  @media print { .leaflet-control-layers { display: none; } }
</style>
"""


# Colours of the CSS-drawn shapes come from the same tables as the static map's.
_PAGE_CSS = _PAGE_CSS.replace("SUBSTANDARD", SUBSTANDARD_COLOUR).replace("</style>", "".join(
    [f"  .cc-kind-{k} {{ background: {c}; }}\n" for k, c in KIND_COLOURS.items()]
    + [f"  .cc-sk-{k} .cc-star-i {{ background: {c}; }}\n" for k, c in SITE_COLOURS.items()]
) + "</style>")


def base_map(
    bounds_wgs: tuple[float, float, float, float],
    *,
    tiles: Any = None,
    prefer_canvas: bool = False,
) -> folium.Map:
    """An offline map fitted to ``bounds`` (west, south, east, north).

    Parameters
    ----------
    bounds_wgs
        Extent in WGS-84 degrees.
    tiles
        ``None`` (default): no tile layer, vectors on a plain background, works
        offline.  Otherwise anything :class:`folium.Map` accepts as ``tiles`` (a name
        such as ``"OpenStreetMap"``, a URL template, a :class:`folium.TileLayer`).
    prefer_canvas
        Draw vectors on a canvas (faster for very many markers, but markers can then
        not be counted or styled by class name).
    """
    w, s, e, n = bounds_wgs
    m = OfflineMap(location=[(s + n) / 2, (w + e) / 2], tiles=tiles, control_scale=False,
                   zoom_start=13, prefer_canvas=prefer_canvas)
    MetricScale().add_to(m)
    FitNow([[s, w], [n, e]]).add_to(m)
    m.get_root().header.add_child(folium.Element(_PAGE_CSS), name="cc_css")
    return m


def _geometry_json(geom: Any) -> dict:
    """GeoJSON of one geometry with coordinates rounded to ~0.1 m (6 decimals)."""
    geom = shapely.set_precision(geom, 1e-6) if geom is not None else geom
    return shapely.geometry.mapping(geom)


def _point_latlon(geom: Any) -> list[float] | None:
    if geom is None or geom.is_empty:
        return None
    p = geom if geom.geom_type == "Point" else geom.representative_point()
    return [round(p.y, 6), round(p.x, 6)]


def write_layer_map(inputs: Inputs, path: str | Path, *, title: str = "") -> Path:
    """A first map of the input layers (districts, communities, facilities, candidates)."""
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
        m.get_root().header.add_child(folium.Element(f"<title>{esc(title)}</title>"), name="title")
    return write_atomic(path, lambda p: m.save(str(p)))


# ---------------------------------------------------------------- the plan map


def _district_layer(
    districts: gpd.GeoDataFrame, table: pd.DataFrame, name: str, show: bool
) -> folium.FeatureGroup:
    scores = district_scores(table)
    fg = folium.FeatureGroup(name=name, show=show)
    geoms = districts.geometry.simplify(SIMPLIFY_M, preserve_topology=True).to_crs(WGS84)
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


def _community_layer(
    comm_wgs: gpd.GeoDataFrame, status_col: str, name: str, css: str, show: bool
) -> folium.FeatureGroup:
    fg = folium.FeatureGroup(name=name, show=show)
    radius = community_radius(comm_wgs["population"]) if "population" in comm_wgs else np.full(len(comm_wgs), 5.0)
    after = "status_after" in comm_wgs.columns
    labels: list[str] = []
    items = []
    for (_, c), r in zip(comm_wgs.iterrows(), radius, strict=True):
        loc = _point_latlon(c.geometry)
        if loc is None:
            continue
        status = str(c.get(status_col, ""))
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
            ("现状 Status today", STATUS_LABELS.get(str(c.get("status")), c.get("status"))),
            ("规划后 Status after plan",
             STATUS_LABELS.get(str(c.get("status_after")), c.get("status_after")) if after else ""),
            ("步行范围内有面积不达标设施 A facility within reach is below standard",
             "; ".join(SITE_KIND_LABELS[k] for k in sub)),
        ]
        labels, vals = _values(rows)
        items.append({
            "ll": loc, "r": float(r), "c": STATUS_COLOURS.get(status, "#969696"),
            "t": esc(c.get("name")), "v": vals,
            "tip": f"{esc(c.get('name'))} — {esc(STATUS_LABELS.get(status, status))}",
        })
    style = {"color": "#333", "weight": 1, "fill": True, "fillOpacity": 0.85, "className": css}
    MarkerLayer({"labels": labels, "style": style}, items).add_to(fg)
    return fg


def _facility_layer(fac_wgs: gpd.GeoDataFrame, low: np.ndarray, standards: Any) -> folium.FeatureGroup:
    fg = folium.FeatureGroup(name="现有设施 Existing facilities", show=True)
    labels: list[str] = []
    items = []
    for (_, f), is_low in zip(fac_wgs.iterrows(), low, strict=True):
        loc = _point_latlon(f.geometry)
        if loc is None:
            continue
        kind = str(f.get("kind", ""))
        css = f"cc-facility cc-fac cc-kind-{kind if kind in KIND_COLOURS else 'other'}"
        if is_low:
            css += " cc-substandard cc-flag"
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
        items.append({
            "ll": loc, "cls": css, "t": esc(f.get("name")), "v": vals,
            "tip": f"{esc(f.get('name'))} — {esc(KIND_LABELS.get(kind, kind))}"
                   + (" — 面积不达标 below standard" if is_low else ""),
        })
    MarkerLayer({"labels": labels, "icon": shape_icon("", 12)}, items).add_to(fg)
    return fg


def _site_layer(sites_wgs: gpd.GeoDataFrame) -> folium.FeatureGroup:
    fg = folium.FeatureGroup(name="规划场地 Proposed sites", show=True)
    labels: list[str] = []
    items = []
    for _, s in sites_wgs.iterrows():
        loc = _point_latlon(s.geometry)
        if loc is None:
            continue
        rows: list[tuple[str, object]] = [
            ("编号 ID", s.get("id")),
            ("区县 District", s.get("district")),
            ("建设类型 Kinds", kinds_text(s.get("kinds"))),
            ("建筑面积(平方米) Floor area (m²)", fmt_num(s.get("floor_area_m2"))),
            ("取得方式 Acquisition", ACQUISITION_LABELS.get(str(s.get("acquisition", "")), s.get("acquisition"))),
            ("费用(元) Cost (yuan)", fmt_num(s.get("cost_yuan"))),
            ("新增托位 New childcare places", fmt_num(s.get("places_added"))),
            ("新覆盖社区 Communities newly served", fmt_num(s.get("communities_newly_served"))),
            ("新覆盖人口 Residents newly served", fmt_num(s.get("residents_newly_served"))),
        ]
        labels, vals = _values(rows)
        items.append({
            "ll": loc, "cls": f"cc-site cc-star cc-sk-{site_kind(s.get('kinds'))}",
            "t": esc(s.get("name")), "v": vals,
            "tip": f"{esc(s.get('name'))} — 规划场地 proposed site",
        })
    MarkerLayer({"labels": labels, "icon": shape_icon("", 28, STAR_HTML)}, items).add_to(fg)
    return fg


def _isochrone_layer(name: str, gdf: gpd.GeoDataFrame) -> folium.FeatureGroup:
    fg = folium.FeatureGroup(name=isochrone_label(name), show=False)
    if gdf is None or not len(gdf):
        return fg
    kind = "childcare" if "childcare" in name else "elderly" if "elderly" in name else "both"
    colour = SITE_COLOURS[kind]
    geoms = gdf.geometry.simplify(SIMPLIFY_M, preserve_topology=True).to_crs(WGS84)
    features = [{"type": "Feature", "properties": {}, "geometry": _geometry_json(g)}
                for g in geoms if g is not None and not g.is_empty]
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        style_function=lambda _f: {"color": colour, "weight": 1, "fillColor": colour,
                                   "fillOpacity": 0.12},
    ).add_to(fg)
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


def _title_html(run: RunOutputs, briefing_name: str | None) -> str:
    scen = run.scenario
    title = getattr(scen, "title", "") or getattr(scen, "name", "")
    minutes = getattr(getattr(scen, "walking", None), "minutes", 15)
    return (
        f'<div class="cc-panel cc-title" id="cc-title"><b>{esc(title)}</b><br>'
        f"{esc(f'{minutes:g}')}分钟步行养老托育服务圈 {esc(f'{minutes:g}')}-minute walk to elderly care "
        "and childcare"
        + (f' · <a href="{esc(briefing_name)}">简报 Briefing</a>' if briefing_name else "")
        + "</div>"
    )


def study_bounds(run: RunOutputs) -> tuple[float, float, float, float] | None:
    """Extent (in the run's metric CRS) of what was assessed and planned.

    The communities on the walking network, the facilities and the proposed sites,
    padded by the longest walking limit; ``None`` when nothing is on the network.  A
    study area smaller than its districts (a city centre inside 13 districts) is then
    shown at a readable scale.
    """
    comm = run.communities
    parts = []
    if comm is not None and len(comm):
        on = comm[comm["snapped"]] if "snapped" in comm else comm
        if len(on):
            parts.append(on.total_bounds)
    if run.sites is not None and len(run.sites):
        parts.append(run.sites.total_bounds)
    if not parts:
        return None
    b = np.vstack(parts)
    pad = 900.0
    if run.scenario is not None:
        w = run.scenario.walking
        pad = max(w.limit_m(k) for k in w.speed_mps)
    return (float(b[:, 0].min() - pad), float(b[:, 1].min() - pad),
            float(b[:, 2].max() + pad), float(b[:, 3].max() + pad))


def plan_bounds(run: RunOutputs) -> tuple[float, float, float, float]:
    """WGS-84 extent of the run: :func:`study_bounds`, else the districts, else the communities."""
    b = study_bounds(run)
    if b is not None:
        crs = run.communities.crs
        box = gpd.GeoSeries([shapely.box(*b)], crs=crs).to_crs(WGS84)
        return tuple(float(v) for v in box.total_bounds)  # type: ignore[return-value]
    districts = run.inputs.layers.get("districts") if run.inputs is not None else None
    base = districts if districts is not None and len(districts) else run.communities
    return tuple(float(v) for v in base.to_crs(WGS84).total_bounds)  # type: ignore[return-value]


def plan_map(run: RunOutputs, *, tiles: Any = None,
             briefing_name: str | None = "briefing.html") -> folium.Map:
    """The interactive plan map as a :class:`folium.Map` (see :func:`write_plan_map`)."""
    layers = run.inputs.layers if run.inputs is not None else {}
    m = base_map(plan_bounds(run), tiles=tiles)
    districts = layers.get("districts")
    has_after_table = run.districts_after is not None and len(run.districts_after)
    if districts is not None and len(districts):
        _district_layer(districts, run.districts_before, "区县达标情况(现状) Districts vs targets, today",
                        show=not has_after_table).add_to(m)
        if has_after_table:
            _district_layer(districts, run.districts_after,
                            "区县达标情况(规划后) Districts vs targets, after plan", show=True).add_to(m)
    for name in sorted(run.isochrones):
        _isochrone_layer(name, run.isochrones[name]).add_to(m)
    comm = to_wgs(run.communities)
    has_after = "status_after" in comm.columns
    _community_layer(comm, "status", "社区服务状态(现状) Communities, status today", "cc-community",
                     show=not has_after).add_to(m)
    if has_after:
        _community_layer(comm, "status_after", "社区服务状态(规划后) Communities, status after plan",
                         "cc-community-after", show=True).add_to(m)
    fac = layers.get("facilities")
    if fac is not None and len(fac):
        low = below_standard(fac, run.scenario.standards)
        _facility_layer(to_wgs(fac), low, run.scenario.standards).add_to(m)
    if run.sites is not None and len(run.sites):
        _site_layer(to_wgs(run.sites)).add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    root = m.get_root()
    title = getattr(run.scenario, "title", "") or getattr(run.scenario, "name", "carecircle")
    root.header.add_child(folium.Element(f"<title>{esc(title)} — 地图 Map</title>"), name="title")
    root.html.add_child(folium.Element(_title_html(run, briefing_name)), name="cc_title")
    root.html.add_child(folium.Element(_legend_html(
        has_after, fac is not None and len(fac) > 0, run.sites is not None and len(run.sites) > 0)),
        name="cc_legend")
    return m


def write_plan_map(run: RunOutputs, path: str | Path, *, tiles: Any = None,
                   briefing_name: str | None = "briefing.html") -> Path:
    """Write the interactive plan map: one self-contained HTML file that works offline.

    Parameters
    ----------
    run
        The run's outputs (:class:`~carecircle.results.RunOutputs`); layers in a metric
        CRS, reprojected to WGS-84 here.
    path
        The ``.html`` file to write (atomically).
    tiles
        Optional tile layer (see :func:`base_map`); default none, so the map needs no
        internet.
    briefing_name
        The briefing page in the same folder, linked from the map's title panel
        (``None``: no link).

    Returns
    -------
    Path
        ``path``.
    """
    m = plan_map(run, tiles=tiles, briefing_name=briefing_name)
    return write_atomic(path, lambda p: m.save(str(p)))


def write_static_map(run: RunOutputs, path: str | Path, **kwargs: Any) -> Path:
    """Write the static PNG of the plan (see :func:`carecircle.staticmap.write_static_map`)."""
    from .staticmap import write_static_map as _write

    return _write(run, path, **kwargs)
