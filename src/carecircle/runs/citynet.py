"""The walking network of a generated city: streets on a jittered lattice, by zone.

Every street runs along the lines of one lattice (``LATTICE_M`` apart, each node
moved by up to ``JITTER`` of a step, the same node for every street through it),
so streets of different zones meet at shared nodes and the network is connected
by construction:

* **field roads** every ``COARSE`` lattice lines (400 m) over the whole city (its convex hull);
* **urban streets** on every line within ``URBAN_R_M`` of an urban community;
* **town seats** (the seat of a rural street or town, 镇) on every second line of a
  square ``TOWN_HALF_M`` around the seat;
* **villages** on every line within ``VILLAGE_R_M`` of a village (村).

A share ``DROP`` of the non-field segments is removed (dead ends, irregular blocks),
decided by a hash of the segment and the seed, so the result does not depend on the
order things are generated in.  Each maximal run of segments along one line is an
OSM way, tagged by its line (``primary`` every 1.6 km, ``unclassified`` field roads,
``residential`` and ``footway``); the 绕城高速 ring is a motorway that pedestrians may
not use, sharing no node with the streets, so the loader's walk filter has
something to drop.  Way nodes that no other way uses are kept only every
``SHAPE_EVERY`` steps, as shape points.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from carecircle.runs.osmpbf import write_osm_pbf

LATTICE_M = 50.0
COARSE = 8
URBAN_R_M = 700.0
VILLAGE_R_M = 440.0
TOWN_HALF_M = 900.0
DROP = 0.12
JITTER = 0.2
SHAPE_EVERY = 4
MAX_WAY_STEPS = 400

_BITS = 13
_OFF = 1 << (_BITS - 1)
_MASK = (1 << _BITS) - 1
_RING_ID0 = 1 << 30

TAG_SETS = (
    {"highway": "primary"},
    {"highway": "unclassified"},
    {"highway": "residential"},
    {"highway": "footway"},
    {"highway": "motorway", "oneway": "yes", "name": "绕城高速", "ref": "G3001"},
)


@dataclass
class CityNetwork:
    """Nodes (lattice keys and metric coordinates) and ways of a generated city.

    ``node_xy`` is in the city's metric frame; ``way_refs`` are OSM node ids
    (``node_id``), one way after another.
    """

    node_id: np.ndarray
    node_xy: np.ndarray
    way_refs: np.ndarray
    way_len: np.ndarray
    way_tags: np.ndarray
    junctions: int

    @property
    def n_ways(self) -> int:
        return len(self.way_len)


def _mix(x: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 of ``x`` and the seed: uniform in [0, 1), the same for the same input."""
    z = np.asarray(x, dtype=np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15) % (1 << 64))
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _key(i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return ((np.asarray(i, np.int64) + _OFF) << _BITS) | (np.asarray(j, np.int64) + _OFF)


def _seg_key(d: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """A segment from lattice node (i, j) one step east (d = 0) or north (d = 1)."""
    return (np.asarray(d, np.int64) << (2 * _BITS)) | _key(i, j)


def _template(radius: float, step: int, square: bool) -> tuple[np.ndarray, np.ndarray]:
    """Segments (d, di, dj) of a disk (or square) patch around the origin, lines every ``step``."""
    r = int(np.floor(radius))
    gi, gj = np.meshgrid(np.arange(-r, r + 1), np.arange(-r, r + 1), indexing="ij")
    di, dj = gi.ravel(), gj.ravel()

    def inside(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if square:
            return (np.abs(a) <= r) & (np.abs(b) <= r)
        return a * a + b * b <= radius * radius

    east = inside(di, dj) & inside(di + 1, dj) & (dj % step == 0)
    north = inside(di, dj) & inside(di, dj + 1) & (di % step == 0)
    d = np.r_[np.zeros(east.sum(), np.int64), np.ones(north.sum(), np.int64)]
    return d, np.c_[np.r_[di[east], di[north]], np.r_[dj[east], dj[north]]]


def _patches(centres_ij: np.ndarray, radius: float, step: int, square: bool = False) -> np.ndarray:
    """Segment keys of one patch around each centre (centres on lines of ``step``)."""
    if not len(centres_ij):
        return np.zeros(0, np.int64)
    d, off = _template(radius, step, square)
    c = (np.asarray(centres_ij, np.int64) // step) * step
    i = (c[:, None, 0] + off[None, :, 0]).ravel()
    j = (c[:, None, 1] + off[None, :, 1]).ravel()
    return _seg_key(np.tile(d, len(c)), i, j)


def _field_roads(area: shapely.Geometry, centre: tuple[float, float]) -> np.ndarray:
    """Segment keys of the field-road grid (every ``COARSE`` lines) inside ``area``."""
    x0, y0, x1, y1 = shapely.bounds(area)
    cx, cy = centre
    i0, i1 = int(np.floor((x0 - cx) / LATTICE_M)), int(np.ceil((x1 - cx) / LATTICE_M))
    j0, j1 = int(np.floor((y0 - cy) / LATTICE_M)), int(np.ceil((y1 - cy) / LATTICE_M))
    shapely.prepare(area)
    keys = []
    for d in (0, 1):
        lines = np.arange(-(-(j0 if d == 0 else i0) // COARSE) * COARSE, (j1 if d == 0 else i1) + 1,
                          COARSE)
        along = np.arange(i0, i1) if d == 0 else np.arange(j0, j1)
        ga, gb = np.meshgrid(along, lines, indexing="ij")
        a, b = ga.ravel(), gb.ravel()
        i, j = (a, b) if d == 0 else (b, a)
        ok = shapely.contains_xy(area, cx + i * LATTICE_M, cy + j * LATTICE_M)
        ok &= shapely.contains_xy(area, cx + (i + (d == 0)) * LATTICE_M,
                                  cy + (j + (d == 1)) * LATTICE_M)
        keys.append(_seg_key(np.full(int(ok.sum()), d), i[ok], j[ok]))
    return np.concatenate(keys)


def _runs(seg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Maximal runs of sorted segment keys along one line: (direction, line, first, steps)."""
    d = seg >> (2 * _BITS)
    i = ((seg >> _BITS) & _MASK) - _OFF
    j = (seg & _MASK) - _OFF
    line, pos = np.where(d == 0, j, i), np.where(d == 0, i, j)
    order = np.lexsort((pos, line, d))
    d, line, pos = d[order], line[order], pos[order]
    new = np.r_[True, (d[1:] != d[:-1]) | (line[1:] != line[:-1]) | (pos[1:] != pos[:-1] + 1)]
    run = np.cumsum(new) - 1
    start = np.flatnonzero(new)
    # Split very long runs (an OSM way has at most 2,000 nodes).
    k = np.arange(len(pos)) - start[run]
    new |= (k > 0) & (k % MAX_WAY_STEPS == 0)
    start = np.flatnonzero(new)
    steps = np.diff(np.r_[start, len(pos)])
    return d[start], line[start], pos[start], steps


def _tag_of(line: np.ndarray) -> np.ndarray:
    return np.where(line % (4 * COARSE) == 0, 0, np.where(line % COARSE == 0, 1,
                    np.where(line % 2 == 0, 2, 3)))


def build_network(
    centre: tuple[float, float],
    area: shapely.Geometry,
    urban_xy: np.ndarray,
    village_xy: np.ndarray,
    town_xy: np.ndarray,
    ring_radius_m: float,
    seed: int,
) -> CityNetwork:
    """The city's streets: field roads, urban streets, town seats and villages.

    Parameters
    ----------
    centre
        The lattice origin (the city centre), metric ``(x, y)``.
    area
        The city (the union of the districts): field roads run inside it.
    urban_xy, village_xy, town_xy
        ``(n, 2)`` positions of the urban communities, the villages and the town seats.
    ring_radius_m
        Radius of the ring expressway around the centre.
    seed
        Seed of the segment drops and the node jitter.

    Returns
    -------
    CityNetwork
    """
    cx, cy = centre

    def ij(xy: np.ndarray) -> np.ndarray:
        return np.round((np.asarray(xy, float).reshape(-1, 2) - [cx, cy]) / LATTICE_M).astype(np.int64)

    step = LATTICE_M
    fine = np.unique(np.concatenate([
        _patches(ij(urban_xy), URBAN_R_M / step, 1),
        _patches(ij(village_xy), VILLAGE_R_M / step, 1),
        _patches(ij(town_xy), TOWN_HALF_M / step, 2, square=True),
    ]))
    fd = fine >> (2 * _BITS)
    fi, fj = ((fine >> _BITS) & _MASK) - _OFF, (fine & _MASK) - _OFF
    on_field_line = np.where(fd == 0, fj, fi) % COARSE == 0
    fine = fine[on_field_line | (_mix(fine, seed) >= DROP)]
    seg = np.union1d(fine, _field_roads(area, centre))
    d, line, first, steps = _runs(seg)
    # Every node of every run, then the ones a way keeps.
    run_of = np.repeat(np.arange(len(d)), steps + 1)
    k = np.arange(len(run_of)) - np.repeat(np.r_[0, np.cumsum(steps + 1)[:-1]], steps + 1)
    pos = first[run_of] + k
    i = np.where(d[run_of] == 0, pos, line[run_of])
    j = np.where(d[run_of] == 0, line[run_of], pos)
    key = _key(i, j)
    east = np.isin(key, key[d[run_of] == 0])
    north = np.isin(key, key[d[run_of] == 1])
    end = (k == 0) | (k == steps[run_of])
    keep = end | (east & north) | (pos % SHAPE_EVERY == 0)
    run_of, key, i, j = run_of[keep], key[keep], i[keep], j[keep]
    nodes, first_at = np.unique(key, return_index=True)
    ni, nj = i[first_at], j[first_at]
    if np.abs(np.r_[ni, nj]).max(initial=0) >= _OFF:
        raise ValueError("the city is too large for the lattice (more than 200 km from its centre)")
    jit = (np.c_[_mix(nodes * 2, seed + 1), _mix(nodes * 2 + 1, seed + 1)] - 0.5) * 2 * JITTER
    xy = np.c_[cx + (ni + jit[:, 0]) * step, cy + (nj + jit[:, 1]) * step]
    uses = np.bincount(np.searchsorted(nodes, key), minlength=len(nodes))
    ends = np.zeros(len(nodes), bool)
    ends[np.searchsorted(nodes, key[np.r_[True, run_of[1:] != run_of[:-1]]])] = True
    ends[np.searchsorted(nodes, key[np.r_[run_of[1:] != run_of[:-1], True]])] = True
    junctions = int(((uses > 1) | ends).sum())
    way_len = np.bincount(run_of, minlength=len(d))
    refs, lens, tags = [key + 1], [way_len], [_tag_of(line)]
    node_id, node_xy = [nodes + 1], [xy]
    if ring_radius_m > 0:  # two half rings: a motorway pedestrians may not use
        n = max(8, int(2 * np.pi * ring_radius_m / 250.0)) // 2 * 2
        ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
        ring_xy = np.c_[cx + ring_radius_m * np.cos(ang), cy + ring_radius_m * np.sin(ang)]
        ring_id = _RING_ID0 + np.arange(n)
        half = n // 2
        refs += [ring_id[: half + 1], np.r_[ring_id[half:], ring_id[0]]]
        lens.append(np.array([half + 1, n - half + 1]))
        tags.append(np.array([4, 4]))
        node_id.append(ring_id)
        node_xy.append(ring_xy)
    return CityNetwork(np.concatenate(node_id), np.concatenate(node_xy), np.concatenate(refs),
                       np.concatenate(lens), np.concatenate(tags), junctions)


def write_network(path: str | Path, net: CityNetwork, lonlat: np.ndarray) -> Path:
    """Write the network as ``.osm.pbf``.

    Parameters
    ----------
    path
        The file.
    net
        The network.
    lonlat
        WGS-84 coordinates of ``net.node_xy``.

    Returns
    -------
    Path
    """
    return write_osm_pbf(path, net.node_id, lonlat, net.way_refs, net.way_len, net.way_tags,
                         TAG_SETS)
