"""Coordinates packed for the browser: whole 1e-5 degrees, delta- and varint-coded, zlib'd.

A city's map holds millions of vertices (1.4 M street edges, a served-area surface of
a quarter of a million vertices, 1,800 walk zones).  As GeoJSON at six decimals they
would make a map of over 100 MB; packed they take a tenth to a twentieth of that:

* every coordinate is a whole number of 1e-5 degree (about a metre: the street layer
  and the zones are simplified to metres anyway), longitude then latitude;
* each is written as its difference from the previous one (zigzag, so small negative
  differences stay small) in LEB128 varints: one or two bytes for most;
* the bytes are zlib-compressed and base64-coded: one JSON-safe string
  (``[A-Za-z0-9+/=]`` only) inside the page.

The browser inflates them with its own ``DecompressionStream`` (:data:`PACKED_JS`:
``cc.inflate``, ``cc.decodeLines``, ``cc.decodePolygons``).
"""

from __future__ import annotations

import base64
import zlib
from typing import Any

import numpy as np
import shapely

__all__ = ["PACKED_JS", "Q", "pack_line_coords", "pack_lines", "pack_polygons", "varints", "zigzag"]

#: Coordinates are kept as whole multiples of 1 / Q degrees.
Q = 1e5


def varints(values: np.ndarray) -> bytes:
    """Unsigned LEB128 varints of ``values`` (non-negative integers), concatenated.

    Parameters
    ----------
    values
        Non-negative integers (below 2**63).

    Returns
    -------
    bytes
    """
    v = np.asarray(values, dtype=np.uint64)
    if not len(v):
        return b""
    n = np.ones(len(v), dtype=np.int64)
    for k in range(1, 10):
        n += v >= np.uint64(1 << (7 * k))
    out = np.empty(int(n.sum()), dtype=np.uint8)
    pos = np.cumsum(n) - n
    sel = np.arange(len(v))
    for k in range(int(n.max())):
        sel = sel[n[sel] > k]  # the values still writing their k-th byte
        byte = ((v[sel] >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8)
        out[pos[sel] + k] = byte | np.where(n[sel] > k + 1, 0x80, 0).astype(np.uint8)
    return out.tobytes()


def zigzag(v: np.ndarray) -> np.ndarray:
    """Signed integers mapped to non-negative ones: 0, -1, 1, -2 ... -> 0, 1, 2, 3 ..."""
    v = np.asarray(v, dtype=np.int64)
    return (v << 1) ^ (v >> 63)


def _coords(xy: np.ndarray) -> bytes:
    """Varints of the zigzag deltas of whole 1e-5 degrees, lon then lat per vertex."""
    q = np.round(np.asarray(xy, dtype=float) * Q).astype(np.int64)
    deltas = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    return varints(zigzag(deltas.reshape(-1)))


def _pack(payload: bytes) -> str:
    return base64.b64encode(zlib.compress(payload, 6)).decode("ascii")


def pack_lines(geoms: Any) -> str:
    """LineStrings (lon/lat degrees) as one packed string (see :func:`pack_line_coords`).

    Parameters
    ----------
    geoms
        LineStrings in degrees.

    Returns
    -------
    str
    """
    geoms = np.asarray(geoms, dtype=object).reshape(-1)
    xy, gi = shapely.get_coordinates(geoms, return_index=True)
    return pack_line_coords(xy, gi, len(geoms))


def pack_line_coords(xy: np.ndarray, line: np.ndarray, n_lines: int) -> str:
    """Lines given as their vertices (lon/lat degrees) and each vertex's line, packed.

    Vertices that fall on the same 1e-5 degree as the one before are dropped (each line
    keeps its ends).

    Parameters
    ----------
    xy
        ``(k, 2)`` vertices, grouped by line in order.
    line
        ``(k,)`` line index of each vertex (sorted, every line at least two vertices).
    n_lines
        The number of lines.

    Returns
    -------
    str
        base64 of zlib of: the number of lines, each line's vertex count, then the
        vertices (see the module notes).
    """
    q = np.round(xy * Q)
    first = np.r_[True, line[1:] != line[:-1]]
    last = np.r_[line[1:] != line[:-1], True]
    same = np.r_[False, (q[1:] == q[:-1]).all(axis=1)] & ~first & ~last
    xy, line = xy[~same], line[~same]
    counts = np.bincount(line, minlength=n_lines)
    return _pack(varints(np.array([n_lines])) + varints(counts) + _coords(xy))


def pack_polygons(geoms: Any) -> str:
    """Polygons and MultiPolygons (lon/lat degrees) as one packed string.

    Parameters
    ----------
    geoms
        Polygons or MultiPolygons in degrees (empty ones stay, as features without
        parts).

    Returns
    -------
    str
        base64 of zlib of: the number of features, then per feature its number of
        polygons, per polygon its number of rings, per ring its vertex count (the closing
        vertex left out), then all vertices.
    """
    geoms = np.asarray(geoms, dtype=object).reshape(-1)
    header: list[int] = [len(geoms)]
    rings: list[Any] = []
    for g in geoms:
        parts = [] if g is None or g.is_empty else list(getattr(g, "geoms", [g]))
        header.append(len(parts))
        for p in parts:
            header.append(1 + len(p.interiors))
            rings.append(p.exterior)
            rings.extend(p.interiors)
    xy, gi = shapely.get_coordinates(np.asarray(rings, dtype=object), return_index=True)
    last = np.r_[gi[1:] != gi[:-1], True]  # a ring's closing vertex repeats its first
    xy, gi = xy[~last], gi[~last]
    counts = np.bincount(gi, minlength=len(rings)) if len(rings) else np.zeros(0, np.int64)
    # the ring counts go after the header, so the decoder reads the structure first
    return _pack(varints(np.asarray(header)) + varints(counts) + _coords(xy))


#: The browser side: ``cc.inflate(b64)`` -> Promise of bytes; ``cc.decodeLines(bytes)`` ->
#: {n, off, lon, lat} (degrees); ``cc.decodePolygons(bytes)`` -> per feature a list of
#: polygons, each a list of rings of [lat, lng] (what ``L.polygon`` takes).
PACKED_JS = """
cc.inflate = function (b64) {
  var bin = atob(b64), bytes = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Response(stream).arrayBuffer().then(function (buf) { return new Uint8Array(buf); });
};
cc.reader = function (u8) {
  var r = {pos: 0};
  r.next = function () {
    var v = 0, mul = 1, b;
    do { b = u8[r.pos++]; v += (b & 127) * mul; mul *= 128; } while (b & 128);
    return v;
  };
  r.signed = function () { var v = r.next(); return (v % 2) ? -(v + 1) / 2 : v / 2; };
  return r;
};
cc.decodeLines = function (u8) {
  var r = cc.reader(u8), n = r.next(), off = new Uint32Array(n + 1), i;
  for (i = 0; i < n; i++) { off[i + 1] = off[i] + r.next(); }
  var m = off[n], lon = new Float64Array(m), lat = new Float64Array(m), x = 0, y = 0;
  for (i = 0; i < m; i++) { x += r.signed(); y += r.signed(); lon[i] = x / 1e5; lat[i] = y / 1e5; }
  return {n: n, off: off, lon: lon, lat: lat};
};
cc.decodePolygons = function (u8) {
  var r = cc.reader(u8), n = r.next(), shape = [], nrings = 0, i, j, k;
  for (i = 0; i < n; i++) {
    var parts = [], np = r.next();
    for (j = 0; j < np; j++) { var nr = r.next(); parts.push(nr); nrings += nr; }
    shape.push(parts);
  }
  var counts = [];
  for (i = 0; i < nrings; i++) { counts.push(r.next()); }
  var x = 0, y = 0, ring = 0, out = [];
  for (i = 0; i < n; i++) {
    var polys = [];
    for (j = 0; j < shape[i].length; j++) {
      var rings = [];
      for (k = 0; k < shape[i][j]; k++) {
        var pts = [], c = counts[ring++];
        for (var v = 0; v < c; v++) { x += r.signed(); y += r.signed(); pts.push([y / 1e5, x / 1e5]); }
        rings.push(pts);
      }
      polys.push(rings);
    }
    out.push(polys);
  }
  return out;
};
"""
