"""What lies under the map's layers: the run's own streets, and optional online base maps.

**Streets, offline, always.**  :class:`StreetLayer` draws the scenario's walking network
in light grey under everything (its own pane, below the districts), from data inside
the page: no tile server, no request.  The edges are simplified to
:data:`STREET_SIMPLIFY_M` and packed (:mod:`carecircle.outputs.packed`: a city's 1.4 M
edges in 6.6 MB).  The browser draws them on canvas tiles from a grid index, so
a city's streets pan and zoom as fast as a district's; zoomed out to the whole city
they are thin and faint, a texture of where the streets are.

**Online base maps, when asked** (``[map] basemap`` in the scenario, ``--basemap`` on the
command line): ``osm`` (OpenStreetMap), ``tianditu`` (天地图, vector map and labels;
needs the user's key; CGCS2000, which is WGS-84 within a metre or so) and ``amap``
(高德地图 Amap/Gaode).  They are base layers in the layer control beside "no base map";
the chosen one is shown when the map opens.

**Amap is in GCJ-02.**  Its tiles are offset from WGS-84 by up to several hundred
metres, so with ``amap`` every overlay, the streets included, is shifted WGS-84 ->
GCJ-02 for display (:func:`carecircle.inputs.coords.wgs84_to_gcj02`, the package's own
conversion): a site then sits on the same building in the Amap tiles as it does in
OpenStreetMap's with ``osm``.  Such a map offers no WGS-84 base map (it would be off by
the same amount), and its coordinates are for display only: the tables and every
export stay in WGS-84 and the run's metric CRS.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pyproj
import shapely
from folium.template import Template

from carecircle.errors import ScenarioError
from carecircle.inputs.coords import wgs84_to_gcj02
from carecircle.inputs.read import WGS84
from carecircle.inputs.scenario import BASEMAPS
from carecircle.outputs.packed import pack_line_coords
from carecircle.outputs.style import STREET_COLOUR

__all__ = [
    "BASEMAPS",
    "STREET_SIMPLIFY_M",
    "Basemap",
    "StreetLayer",
    "base_layers",
    "display_xy",
    "street_data",
    "to_display",
]

#: Simplification (metres, metric CRS) of the street layer's edges.
STREET_SIMPLIFY_M = 2.0

@dataclass(frozen=True)
class _Tiles:
    label: str
    urls: tuple[str, ...]
    max_zoom: int
    subdomains: str
    attribution: str


_TIANDITU = ("https://t{s}.tianditu.gov.cn/@L@_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
             "&LAYER=@L@&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
             "&TILECOL={x}&tk={key}")
_TILES = {
    "osm": _Tiles("OpenStreetMap 开放街道地图", ("https://tile.openstreetmap.org/{z}/{x}/{y}.png",),
                  19, "abc", "&copy; OpenStreetMap contributors"),
    # the vector map and its labels (the labels are a layer of their own)
    "tianditu": _Tiles("天地图 Tianditu", tuple(_TIANDITU.replace("@L@", la) for la in ("vec", "cva")),
                       18, "01234567", "&copy; 天地图 Tianditu (国家地理信息公共服务平台)"),
    "amap": _Tiles("高德地图 Amap (GCJ-02)",
                   ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
                    "&x={x}&y={y}&z={z}",), 18, "1234", "&copy; 高德地图 AutoNavi"),
}


@dataclass(frozen=True)
class Basemap:
    """The base map of a map: ``name`` in :data:`BASEMAPS`, and Tianditu's key.

    Build it with :meth:`of`, which checks both.
    """

    name: str = "none"
    key: str = ""

    @classmethod
    def of(cls, value: Any = None, key: str = "") -> Basemap:
        """A :class:`Basemap` from a name (or ``None``: none), checked.

        Parameters
        ----------
        value
            A name in :data:`BASEMAPS`, a :class:`Basemap`, or ``None``.
        key
            Tianditu's key (letters and digits), needed for ``tianditu``; default the
            ``TIANDITU_KEY`` environment variable.

        Returns
        -------
        Basemap

        Raises
        ------
        ScenarioError
            For an unknown name, or ``tianditu`` without a valid key.
        """
        if isinstance(value, Basemap):
            return value
        name = "none" if value is None else str(value).strip().lower()
        if name not in BASEMAPS:
            raise ScenarioError(f"base map {value!r} 底图无效; expected one of {', '.join(BASEMAPS)}")
        key = str(key or os.environ.get("TIANDITU_KEY", "")).strip()
        if name == "tianditu" and not (key.isascii() and key.isalnum() and 8 <= len(key) <= 64):
            raise ScenarioError("base map 'tianditu' needs the user's Tianditu key (letters and digits) "
                             "天地图底图需要用户密钥: set [map] tianditu_key in the scenario or "
                             "the TIANDITU_KEY environment variable")
        return cls(name, key if name == "tianditu" else "")

    @property
    def gcj02(self) -> bool:
        """True when overlays are shown in GCJ-02 (Amap's tiles)."""
        return self.name == "amap"


def display_xy(lon: np.ndarray, lat: np.ndarray, basemap: Basemap) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 coordinates as the map shows them: GCJ-02 over Amap, else unchanged.

    Parameters
    ----------
    lon, lat
        WGS-84 degrees.
    basemap
        The map's base map.

    Returns
    -------
    tuple of numpy.ndarray
    """
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return wgs84_to_gcj02(lon, lat) if basemap.gcj02 else (lon, lat)


def to_display(gdf: gpd.GeoDataFrame, basemap: Basemap) -> gpd.GeoDataFrame:
    """A layer in WGS-84 degrees, shifted to GCJ-02 when the base map is Amap.

    Parameters
    ----------
    gdf
        Any layer with a CRS.
    basemap
        The map's base map.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy in WGS-84 (the CRS says so also when the coordinates are GCJ-02: they
        are for the map only).
    """
    out = gdf.to_crs(WGS84)
    if basemap.gcj02 and len(out):
        def shift(xy: np.ndarray) -> np.ndarray:
            lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
            return np.column_stack([lon, lat])

        out = out.set_geometry(shapely.transform(out.geometry.to_numpy(), shift))
    return out


def base_layers(basemap: Basemap) -> list[folium.map.Layer]:
    """The layer control's base layers: "no base map", then the chosen online one (shown).

    Parameters
    ----------
    basemap
        The map's base map.

    Returns
    -------
    list
        Folium layers to add to the map (an empty list for ``none``: the map has no
        base layer choice).
    """
    if basemap.name == "none":
        return []
    spec = _TILES[basemap.name]
    blank = folium.FeatureGroup(name="无底图 No base map (offline)", overlay=False, show=False)
    tiles = folium.FeatureGroup(name=spec.label, overlay=False, show=True)
    for url in spec.urls:
        folium.TileLayer(tiles=url.replace("{key}", basemap.key), attr=spec.attribution,
                         max_zoom=spec.max_zoom, subdomains=spec.subdomains,
                         overlay=False, control=False).add_to(tiles)
    return [blank, tiles]


# ---------------------------------------------------------------- the street layer


def street_data(net: Any, basemap: Basemap, simplify_m: float = STREET_SIMPLIFY_M) -> tuple[str, int]:
    """The network's edges for :class:`StreetLayer`: (packed string, number of lines).

    Parameters
    ----------
    net
        A :class:`~carecircle.network.walknet.WalkNetwork` (metric CRS).
    basemap
        The map's base map (GCJ-02 over Amap).
    simplify_m
        Simplification of each edge, metres (straight two-point edges are left as they
        are: simplifying them is a no-op that costs seconds on a city's 1.4 M edges).

    Returns
    -------
    tuple
        :func:`carecircle.outputs.packed.pack_lines` of the edges in display degrees,
        and the number of lines.
    """
    geoms = np.asarray(net.edge_geometry, dtype=object).copy()
    bent = shapely.get_num_coordinates(geoms) > 2
    geoms[bent] = shapely.simplify(geoms[bent], simplify_m)
    xy, line = shapely.get_coordinates(geoms, return_index=True)
    to_wgs = pyproj.Transformer.from_crs(net.crs, WGS84, always_xy=True)
    lon, lat = display_xy(*to_wgs.transform(xy[:, 0], xy[:, 1]), basemap)
    return pack_line_coords(np.column_stack([lon, lat]), line, len(geoms)), int(len(geoms))


class StreetLayer(folium.map.Layer):
    """The run's streets, drawn offline under every other layer (see the module notes).

    Parameters
    ----------
    data
        :func:`street_data`'s packed string.
    name
        The layer control's label.
    show
        Shown when the map opens.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = new L.CCStreets({{ this.data_js }}, {{ this.options|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, data: str, name: str, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "StreetLayer"
        # base64 holds only [A-Za-z0-9+/=]: a JSON string of it is safe in a script
        self.data_js = json.dumps(data)
        self.options = {"pane": "ccStreets"}


#: The browser side of :class:`StreetLayer` (needs ``window.cc`` and ``cc.decodeLines``,
#: see :data:`carecircle.outputs.leaflet.CC_JS` and :data:`carecircle.outputs.packed.PACKED_JS`).
STREETS_JS = """
L.CCStreets = L.GridLayer.extend({
  options: {updateWhenZooming: false, keepBuffer: 1},
  initialize: function (b64, options) {
    L.GridLayer.prototype.initialize.call(this, options);
    this._b64 = b64;
    this._ccData = null;
  },
  onAdd: function (map) {
    L.GridLayer.prototype.onAdd.call(this, map);
    var self = this;
    if (this._ccData || this._ccLoading) { return; }
    this._ccLoading = true;
    cc.inflate(this._b64).then(function (bytes) {
      self._ccData = cc.decodeStreets(bytes);
      cc.streetsReady = true;
      self.redraw();
    }, function (err) { console.warn('street layer not drawn: ' + err); });
  },
  createTile: function (coords) {
    var tile = L.DomUtil.create('canvas', 'leaflet-tile');
    var size = this.getTileSize(), ratio = window.devicePixelRatio || 1;
    tile.width = size.x * ratio;
    tile.height = size.y * ratio;
    tile.style.width = size.x + 'px';
    tile.style.height = size.y + 'px';
    if (this._ccData) { this._draw(tile.getContext('2d'), coords, size.x, ratio); }
    return tile;
  },
  _draw: function (ctx, coords, px, ratio) {
    var d = this._ccData, z = coords.z, scale = px * Math.pow(2, z) * ratio;
    var ox = coords.x * px * ratio, oy = coords.y * px * ratio;
    var f = Math.pow(2, d.zb - z), b0 = Math.floor(coords.x * f) - d.bx, b1 = Math.ceil((coords.x + 1) * f) - d.bx;
    var c0 = Math.floor(coords.y * f) - d.by, c1 = Math.ceil((coords.y + 1) * f) - d.by;
    var stamp = ++d.stampNo, n = 0;
    ctx.beginPath();
    for (var by = Math.max(c0, 0); by < Math.min(c1, d.nh); by++) {
      for (var bx = Math.max(b0, 0); bx < Math.min(b1, d.nw); bx++) {
        var b = by * d.nw + bx;
        for (var k = d.ptr[b]; k < d.ptr[b + 1]; k++) {
          var line = d.ids[k];
          if (d.stamp[line] === stamp) { continue; }
          d.stamp[line] = stamp;
          var s = d.off[line], e = d.off[line + 1];
          ctx.moveTo(d.x[s] * scale - ox, d.y[s] * scale - oy);
          for (var j = s + 1; j < e; j++) { ctx.lineTo(d.x[j] * scale - ox, d.y[j] * scale - oy); }
          n++;
        }
      }
    }
    ctx.strokeStyle = 'STREET';
    // thin and faint when zoomed out, where a city's streets are a texture, not lines
    ctx.globalAlpha = z >= 14 ? 1 : z >= 12 ? 0.75 : 0.5;
    ctx.lineWidth = (z >= 16 ? 2 : z >= 14 ? 1.2 : z >= 12 ? 0.8 : 0.5) * ratio;
    ctx.lineJoin = 'round';
    ctx.stroke();
    cc.streetTiles = (cc.streetTiles || 0) + 1;
    cc.streetLines = (cc.streetLines || 0) + n;
  }
});
cc.decodeStreets = function (u8) {
  var lines = cc.decodeLines(u8), n = lines.n, off = lines.off, m = off[n];
  var x = new Float64Array(m), y = new Float64Array(m), i, j;
  for (j = 0; j < m; j++) {
    var phi = lines.lat[j] * Math.PI / 180;
    x[j] = (lines.lon[j] + 180) / 360;
    y[j] = (1 - Math.log(Math.tan(phi) + 1 / Math.cos(phi)) / Math.PI) / 2;
  }
  // a grid index at zoom 14 (tiles of about 2 km): each line in every cell its box meets
  var zb = 14, nb = Math.pow(2, zb), x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  var box = new Float64Array(4 * n);
  for (i = 0; i < n; i++) {
    var a = Infinity, b = Infinity, c = -Infinity, e = -Infinity;
    for (j = off[i]; j < off[i + 1]; j++) {
      a = Math.min(a, x[j]); b = Math.min(b, y[j]); c = Math.max(c, x[j]); e = Math.max(e, y[j]);
    }
    box[4 * i] = a; box[4 * i + 1] = b; box[4 * i + 2] = c; box[4 * i + 3] = e;
    x0 = Math.min(x0, a); y0 = Math.min(y0, b); x1 = Math.max(x1, c); y1 = Math.max(y1, e);
  }
  var bx = Math.floor(x0 * nb), by = Math.floor(y0 * nb);
  var nw = Math.floor(x1 * nb) - bx + 1, nh = Math.floor(y1 * nb) - by + 1;
  var ptr = new Uint32Array(nw * nh + 1), pass, ids = null, fill = null;
  for (pass = 0; pass < 2; pass++) {
    for (i = 0; i < n; i++) {
      var ca = Math.floor(box[4 * i] * nb) - bx, cb = Math.floor(box[4 * i + 1] * nb) - by;
      var cc2 = Math.floor(box[4 * i + 2] * nb) - bx, cd = Math.floor(box[4 * i + 3] * nb) - by;
      for (var q = cb; q <= cd; q++) {
        for (var p = ca; p <= cc2; p++) {
          if (pass === 0) { ptr[q * nw + p + 1]++; } else { ids[fill[q * nw + p]++] = i; }
        }
      }
    }
    if (pass === 0) {
      for (i = 0; i < nw * nh; i++) { ptr[i + 1] += ptr[i]; }
      ids = new Uint32Array(ptr[nw * nh]);
      fill = ptr.slice(0, nw * nh);
    }
  }
  return {off: off, x: x, y: y, zb: zb, bx: bx, by: by, nw: nw, nh: nh, ptr: ptr,
          ids: ids, stamp: new Uint32Array(n), stampNo: 0, n: n, lon: lines.lon, lat: lines.lat};
};
""".replace("'STREET'", json.dumps(STREET_COLOUR))
