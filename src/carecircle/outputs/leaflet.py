"""Offline Leaflet building blocks for folium: inlined assets, escaped popups, canvas markers.
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
    the static map, so the three never read as one another.

    Parameters
    ----------
    class_name
        The element's class list (used by the CSS and to count markers).
    size
        Width and height in pixels.
    html
        The icon's content (escaped HTML, e.g. :data:`STAR_HTML`).

    Returns
    -------
    dict
        Options for ``L.divIcon``.
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
        Draw vectors on a canvas (faster for very many markers, but markers can then
        not be counted or styled by class name).
    """
    w, s, e, n = bounds_wgs
    m = OfflineMap(location=[(s + n) / 2, (w + e) / 2], tiles=tiles, control_scale=False,
                   zoom_start=13, prefer_canvas=prefer_canvas)
    MetricScale().add_to(m)
    FitNow([[s, w], [n, e]]).add_to(m)
    page_of(m).header.add_child(folium.Element(_PAGE_CSS), name="cc_css")
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
