"""Tests for carecircle.outputs.packed: coordinates packed for the browser, and back.

The decoder here is written from the format's description (base64, zlib, LEB128
varints, zigzag deltas of whole 1e-5 degrees), independently of the page's JavaScript,
which the browser tests exercise on the same data.
"""

from __future__ import annotations

import base64
import zlib

import numpy as np
import pytest
import shapely

from carecircle.outputs.packed import pack_lines, pack_polygons, varints, zigzag


class Reader:
    def __init__(self, packed: str):
        self.b = zlib.decompress(base64.b64decode(packed))
        self.pos = 0

    def next(self) -> int:
        v, shift = 0, 0
        while True:
            byte = self.b[self.pos]
            self.pos += 1
            v |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return v

    def signed(self) -> int:
        v = self.next()
        return -(v + 1) // 2 if v % 2 else v // 2

    def vertices(self, n: int, start: list[int]) -> list[tuple[float, float]]:
        out = []
        for _ in range(n):
            start[0] += self.signed()
            start[1] += self.signed()
            out.append((start[0] / 1e5, start[1] / 1e5))
        return out


def unpack_lines(packed: str) -> list[list[tuple[float, float]]]:
    r = Reader(packed)
    counts = [r.next() for _ in range(r.next())]
    at = [0, 0]
    lines = [r.vertices(c, at) for c in counts]
    assert r.pos == len(r.b)
    return lines


def unpack_polygons(packed: str) -> list[list[list[list[tuple[float, float]]]]]:
    r = Reader(packed)
    shape = []
    for _ in range(r.next()):
        shape.append([r.next() for _ in range(r.next())])
    counts = [r.next() for _ in range(sum(sum(s) for s in shape))]
    at, k, out = [0, 0], 0, []
    for parts in shape:
        polys = []
        for n_rings in parts:
            polys.append([r.vertices(counts[k + i], at) for i in range(n_rings)])
            k += n_rings
        out.append(polys)
    assert r.pos == len(r.b)
    return out


def test_varints_and_zigzag_by_hand():
    assert varints(np.array([0, 1, 127, 128, 300, 16384])) == bytes(
        [0, 1, 127, 0x80, 1, 0xAC, 2, 0x80, 0x80, 1])
    assert zigzag(np.array([0, -1, 1, -2, 2])).tolist() == [0, 1, 2, 3, 4]
    assert varints(np.array([], dtype=np.int64)) == b""


def test_lines_round_trip_to_a_metre():
    rng = np.random.default_rng(3)
    lines = [shapely.LineString(108.9 + rng.uniform(0, 0.1, (k, 2)) * [1, 0.5] + [0, 25.3])
             for k in (2, 5, 3, 2)]
    lines.append(shapely.LineString([(108.95, 34.2), (108.950001, 34.2), (108.95, 34.20004),
                                     (108.96, 34.2)]))  # a vertex on the one before's 1e-5 grid
    back = unpack_lines(pack_lines(lines))
    assert [len(b) for b in back] == [2, 5, 3, 2, 3]
    for line, b in zip(lines[:4], back[:4], strict=True):
        assert np.abs(np.asarray(line.coords) - np.asarray(b)).max() <= 0.5e-5 + 1e-12
    assert back[4][0] == (108.95, 34.2) and back[4][-1] == (108.96, 34.2)


def test_polygons_round_trip_with_holes_parts_and_empties():
    square = shapely.box(108.90, 34.20, 108.95, 34.25)
    holed = square.difference(shapely.box(108.91, 34.21, 108.92, 34.22))
    multi = shapely.MultiPolygon([shapely.box(109.0, 34.0, 109.01, 34.01), holed])
    back = unpack_polygons(pack_polygons([holed, shapely.Polygon(), multi, None]))
    assert [len(f) for f in back] == [1, 0, 2, 0]
    assert [len(p) for p in back[2]] == [1, 2]  # rings per polygon
    rebuilt = shapely.Polygon(back[0][0][0], back[0][0][1:])
    assert rebuilt.symmetric_difference(holed).area == pytest.approx(0, abs=1e-10)
    # the closing vertex is not sent
    assert len(back[0][0][0]) == len(holed.exterior.coords) - 1
