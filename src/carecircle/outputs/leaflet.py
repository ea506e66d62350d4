"""Offline Leaflet building blocks for folium: inlined assets, escaped popups, canvas symbols.

A city's map carries thousands of markers (3,223 communities twice, 1,400 facilities,
1,800 proposed sites) and thousands of polygons.  They are drawn on canvas, not as SVG
or DOM elements: :data:`CC_JS` adds to Leaflet a symbol (``L.CCSymbol``: circle,
square or star, a red dashed frame for a flag) drawn by Leaflet's canvas renderer,
whose size follows the zoom (full size from zoom 14, down to 40 % at city zoom, so the
city is not a blanket of overlapping symbols), and panes that keep the order the
reader expects: streets (250), districts (400), walk zones (410), symbols (450).
Polygons a layer hides are not built until the layer is first shown
(:class:`LazyZones`).  ``window.cc.count(cls)`` counts the symbols of a class on the
map, for the browser tests (canvas symbols are not DOM elements).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from importlib import resources
from typing import Any, cast

import folium
import shapely
from branca.element import Element, Figure, MacroElement
from folium.template import Template

from carecircle.outputs.basemap import STREETS_JS
from carecircle.outputs.packed import PACKED_JS, pack_polygons
from carecircle.outputs.style import KIND_COLOURS, SITE_COLOURS, SUBSTANDARD_COLOUR, esc

# ---------------------------------------------------------------- offline folium


def _vendor(name: str) -> bytes:
    return resources.files("carecircle.outputs").joinpath("vendor", *name.split("/")).read_bytes()


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


def page_of(element: Element) -> Figure:
    """The HTML page (a branca :class:`~branca.element.Figure`) a map or layer renders into.

    folium types ``get_root()`` as a bare ``Element``; a map's root is always its
    ``Figure``, whose ``header`` and ``html`` take extra page content.
    """
    return cast(Figure, element.get_root())


class OfflineMap(folium.Map):
    """A :class:`folium.Map` that links nothing: Leaflet is inlined, no jQuery/Bootstrap."""

    default_js: list[tuple[str, str]] = []
    default_css: list[tuple[str, str]] = []

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # Added at construction so Leaflet precedes every script folium renders later.
        page_of(self).header.add_child(folium.Element(_leaflet_inline()), name="leaflet_inline")
        page_of(self).header.add_child(
            folium.Element(f"<script>{CC_JS}\n{PACKED_JS}\n{STREETS_JS}</script>"), name="cc_js")


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


class MarkerLayer(MacroElement):
    """Many canvas symbols from one JSON array, added to the parent layer by a short loop.

    ``config`` is shared by the layer's symbols: ``labels`` (the popup's row labels,
    escaped HTML), ``shape`` (``circle``, ``square`` or ``star``), ``size`` (radius in
    pixels at full zoom), ``style`` (Leaflet path options), ``cls`` (class list, for
    :func:`count`), and the item keys of the fill colour (``colour``) and tooltip
    (``tip``).  Each item is ``{"ll": [lat, lon], "t": title, "v": [one value per
    label]}`` plus any of ``"r"`` (size), ``"cls"`` (class list), ``"flag"`` (red
    frame) and the colour and tooltip keys.  Every text is escaped HTML already; a
    popup row whose value is empty is left out.  The popup is built when first opened.

    ``shared``: another :class:`MarkerLayer` whose items this one draws again (the
    communities today and after the plan are one array drawn twice, in other colours).
    One array instead of one folium element per marker keeps a city's map small and
    quick to write.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }}_items = {{ this.items_js }};
            (function () {
                var group = {{ this._parent.get_name() }};
                var layer = {{ this.config_js }};
                var items = {{ this.source }}_items;
                function popup(it) {
                    var h = '<div class="cc-popup">' + (it.t ? '<b>' + it.t + '</b>' : '') + '<table>';
                    for (var j = 0; j < layer.labels.length; j++) {
                        if (it.v[j] !== "") {
                            h += '<tr><th>' + layer.labels[j] + '</th><td>' + it.v[j] + '</td></tr>';
                        }
                    }
                    return h + '</table></div>';
                }
                var markers = items.map(function (it) {
                    var o = Object.assign({}, layer.style, {
                        renderer: cc.renderers.markers, shape: layer.shape, size: it.r || layer.size,
                        cc: it.cls || layer.cls, flag: !!it.flag});
                    if (it[layer.colour]) { o.fillColor = it[layer.colour]; }
                    var m = new L.CCSymbol(it.ll, o);
                    m.bindPopup(function () { return popup(it); }, {"maxWidth": 360});
                    m.bindTooltip(it[layer.tip], {"sticky": true});
                    m.addTo(group);
                    return m;
                });
                cc.layers.push({name: layer.cls, markers: markers});
            })();
        {% endmacro %}
        """
    )

    def __init__(self, config: dict[str, Any], items: list[dict[str, Any]] | None = None,
                 shared: MarkerLayer | None = None):
        super().__init__()
        self._name = "MarkerLayer"
        if (items is None) == (shared is None):
            raise ValueError("give items or shared, not both")
        self.config = {"colour": "c", "tip": "tip", "shape": "circle", "size": 5, "cls": "",
                       **config}
        self.items = items if items is not None else []
        self.shared = shared
        self.config_js = js_json(self.config)
        # One item per line: readable, and diffs of two maps line up.
        self.items_js = ("[\n" + ",\n".join(js_json(it) for it in items) + "\n]") if items else "[]"

    @property
    def source(self) -> str:
        """The JavaScript name of the layer whose items are drawn."""
        return (self.shared or self).get_name()


class LazyZones(MacroElement):
    """Polygons built into the parent layer when it is first shown.

    The polygons travel packed (:func:`carecircle.outputs.packed.pack_polygons`) and are
    inflated only then: a hidden layer of 1,800 walk zones costs the page nothing until
    asked for.  ``style`` is Leaflet path options; the polygons are drawn on the zones'
    canvas and take no clicks.  ``cc.zones[name]`` holds the number built.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            (function () {
                var group = {{ this._parent.get_name() }}, made = false;
                var data = {{ this.data_js }}, style = {{ this.style_js }};
                function build() {
                    if (made) { return; }
                    made = true;
                    cc.inflate(data).then(function (bytes) {
                        var n = 0;
                        cc.decodePolygons(bytes).forEach(function (polys) {
                            if (!polys.length) { return; }
                            L.polygon(polys, Object.assign({renderer: cc.renderers.zones,
                                                            interactive: false}, style)).addTo(group);
                            n++;
                        });
                        cc.zones[{{ this.name_js }}] = n;
                    });
                }
                group.on("add", build);
            })();
        {% endmacro %}
        """
    )

    def __init__(self, name: str, geoms: Any, style: dict[str, Any]):
        super().__init__()
        self._name = "LazyZones"
        self.name_js = js_string(name)
        self.data_js = json.dumps(pack_polygons(geoms))
        self.style_js = js_json(style)


class CCPanes(MacroElement):
    """The panes and canvas renderers of :data:`CC_JS`, made right after the map."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            cc.setup({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "CCPanes"


#: Page script: the canvas symbol, the panes and renderers, the counts (see module notes).
CC_JS = """
var cc = window.cc = {layers: [], zones: {}, renderers: {}};
cc.scale = function (z) { return Math.min(1, Math.max(0.4, Math.pow(2, (z - 14) / 2))); };
cc.setup = function (map) {
  [["ccStreets", 250], ["ccZones", 410], ["ccMarkers", 450]].forEach(function (p) {
    var pane = map.createPane(p[0]);
    pane.style.zIndex = p[1];
    if (p[0] === "ccStreets") { pane.style.pointerEvents = "none"; }
  });
  cc.renderers.zones = L.canvas({pane: "ccZones", padding: 0.5});
  cc.renderers.markers = L.canvas({pane: "ccMarkers", padding: 0.5, tolerance: 2});
  cc.map = map;
};
cc.count = function (cls) {
  var n = 0;
  cc.layers.forEach(function (l) {
    l.markers.forEach(function (m) {
      if (m._map && (" " + m.options.cc + " ").indexOf(" " + cls + " ") >= 0) { n++; }
    });
  });
  return n;
};
L.CCSymbol = L.CircleMarker.extend({
  options: {shape: "circle", size: 5, flag: false, flagColor: "SUBSTANDARD"},
  _project: function () {
    this._radius = this.options.size * cc.scale(this._map.getZoom());
    L.CircleMarker.prototype._project.call(this);
  },
  _updatePath: function () { this._renderer._updateCCSymbol(this); }
});
L.Canvas.include({
  _updateCCSymbol: function (layer) {
    if (!this._drawing || layer._empty()) { return; }
    var p = layer._point, ctx = this._ctx, o = layer.options, r = Math.max(layer._radius, 1.5);
    ctx.beginPath();
    if (o.shape === "square") {
      ctx.rect(p.x - r, p.y - r, 2 * r, 2 * r);
    } else if (o.shape === "star") {
      for (var i = 0; i < 10; i++) {
        var a = -Math.PI / 2 + i * Math.PI / 5, q = i % 2 ? r * 0.45 : r;
        if (i) { ctx.lineTo(p.x + q * Math.cos(a), p.y + q * Math.sin(a)); }
        else { ctx.moveTo(p.x + q * Math.cos(a), p.y + q * Math.sin(a)); }
      }
      ctx.closePath();
    } else {
      ctx.arc(p.x, p.y, r, 0, Math.PI * 2, false);
    }
    this._fillStroke(ctx, layer);
    if (o.flag) {
      ctx.save();
      ctx.globalAlpha = 1;
      ctx.setLineDash([3, 2]);
      ctx.lineWidth = 2;
      ctx.strokeStyle = o.flagColor;
      ctx.strokeRect(p.x - r - 3, p.y - r - 3, 2 * r + 6, 2 * r + 6);
      ctx.restore();
    }
  }
});
""".replace("SUBSTANDARD", SUBSTANDARD_COLOUR)


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

    Parameters
    ----------
    rows
        (label, value) pairs; rows whose value is empty are left out.
    title
        The bold title (``None`` or empty: none).

    Returns
    -------
    str
        The popup's HTML, every text escaped.
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
        Draw Leaflet's own vectors (folium's circle markers, GeoJSON) on a canvas.  The
        plan map's symbols and zones are on canvas in any case (:data:`CC_JS`).
    """
    w, s, e, n = bounds_wgs
    m = OfflineMap(location=[(s + n) / 2, (w + e) / 2], tiles=tiles, control_scale=False,
                   zoom_start=13, prefer_canvas=prefer_canvas)
    CCPanes().add_to(m)
    MetricScale().add_to(m)
    FitNow([[s, w], [n, e]]).add_to(m)
    page_of(m).header.add_child(folium.Element(_PAGE_CSS), name="cc_css")
    return m


def _geometry_json(geom: Any, precision: float = 1e-6) -> dict:
    """GeoJSON of one geometry with coordinates on a grid of ``precision`` degrees
    (1e-6: about 0.1 m; 1e-5, about a metre, for polygons simplified to metres)."""
    geom = shapely.set_precision(geom, precision) if geom is not None else geom
    return shapely.geometry.mapping(geom)


def _point_latlon(geom: Any) -> list[float] | None:
    if geom is None or geom.is_empty:
        return None
    p = geom if geom.geom_type == "Point" else geom.representative_point()
    return [round(p.y, 6), round(p.x, 6)]
