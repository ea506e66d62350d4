"""The area a kind serves: one surface for a whole set of sites.

:func:`served_area` answers "where is elderly care within a 15-minute walk?" for a
whole city in a few seconds, where one polygon per facility took half a second each.

1. **One multi-source search** (:func:`carecircle.network.isochrones.served_segments`)
   gives every street piece at least one site reaches, exactly: the same pieces as the
   union of every site's isochrone (the tests check it on the demo city).
2. **One union**, in raster form.  The pieces are drawn onto a grid of ``cell_m``
   squares, widened by ``buffer_m`` (a disk dilation), and the grid is turned back
   into polygons by GDAL's polygonizer.  A vector union of the buffered pieces gives
   the same shape within a cell, but costs about 0.1 ms per piece on a dense network:
   a minute for the 800,000 pieces of a city, against seconds here (see
   ``benchmarks/isochrones.py``).  The grid is a global one (its origin at whole
   multiples of the cell), so two surfaces of one run line up exactly.
3. **Blocks the served streets enclose are served**: a hole in the street space (the
   inside of a block) is filled unless a street the sites do not reach runs inside it
   (an unreached node, or the unreached middle of an edge reached from both ends).  So
   the surface reads as the area served, not as a lace of street strips; a town the
   walk only rings stays open.
4. **Simplified** to ``simplify_m`` (half a cell by default: the staircase of the grid
   goes, the shape stays).

Precision: every reached piece lies inside the surface (a piece marks the cells it
crosses, and the dilation keeps them); the surface's edge lies within about one cell
plus ``simplify_m`` of the exact buffered street space, a third of a cell outside it
on average (the demo city, 5 m cells: 7 % more area than the exact union of the
facilities' polygons, every difference within 1.5 cells of its edge).  ``cell_m`` is 5 m by
default and grows for a large extent so that the grid holds at most :data:`MAX_CELLS`
cells (10 m for a 50 km square of streets); the row's ``cell_m`` says what was used.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from carecircle.network.isochrones import surface_pieces
from carecircle.network.snapping import Snapped
from carecircle.network.walknet import WalkNetwork

__all__ = ["MAX_CELLS", "served_area"]

#: The most cells one surface's grid may hold (about 1 byte each, a few times over).
MAX_CELLS = 30_000_000


def _cells(lines: np.ndarray, x0: float, y1: float, cell: float,
           shape: tuple[int, int]) -> np.ndarray:
    """A boolean grid with every cell a line passes through set (rows from the top).

    Lines are sampled every half cell along each segment, so no crossed cell is
    missed except one a line only clips at a corner (the dilation covers it).
    """
    grid = np.zeros(shape, dtype=bool)
    xy, gi = shapely.get_coordinates(lines, return_index=True)
    same = gi[1:] == gi[:-1]
    a, b = xy[:-1][same], xy[1:][same]
    n = np.ceil(np.hypot(*(b - a).T) / (cell / 2)).astype(np.int64) + 1
    # in chunks: 10^7 samples is 160 MB of float64 coordinates
    edges = np.r_[0, np.cumsum(n)]
    cuts = np.searchsorted(edges, np.arange(0, edges[-1] + 1, 8_000_000)[1:])
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(n)], strict=True):
        if hi <= lo:
            continue
        nn = n[lo:hi]
        seg = np.repeat(np.arange(lo, hi), nn)
        k = np.arange(int(nn.sum())) - np.repeat(np.cumsum(nn) - nn, nn)
        f = k / np.repeat(np.maximum(nn - 1, 1), nn)
        px = a[seg, 0] + (b[seg, 0] - a[seg, 0]) * f
        py = a[seg, 1] + (b[seg, 1] - a[seg, 1]) * f
        col = np.floor((px - x0) / cell).astype(np.int64)
        row = np.floor((y1 - py) / cell).astype(np.int64)
        ok = (row >= 0) & (row < shape[0]) & (col >= 0) & (col < shape[1])
        grid[row[ok], col[ok]] = True
    return grid


def _disk(radius_cells: float) -> np.ndarray:
    k = int(math.ceil(radius_cells))
    yy, xx = np.mgrid[-k:k + 1, -k:k + 1]
    return (xx ** 2 + yy ** 2) <= radius_cells ** 2 + 1e-9


def _fill_blocks(mask: np.ndarray, open_rows: np.ndarray, open_cols: np.ndarray) -> np.ndarray:
    """``mask`` with every hole filled that touches neither the grid's edge nor an open cell.

    Holes are the 8-connected components of the background (the dual of the 4-connected
    foreground the polygonizer traces), so a filled hole is exactly a ring's inside.
    """
    from scipy import ndimage

    lab, n = ndimage.label(~mask, structure=np.ones((3, 3), dtype=bool))
    keep_open = np.zeros(n + 1, dtype=bool)
    keep_open[0] = True
    keep_open[lab[0]] = keep_open[lab[-1]] = True
    keep_open[lab[:, 0]] = keep_open[lab[:, -1]] = True
    keep_open[lab[open_rows, open_cols]] = True
    return mask | ~keep_open[lab]


def _grid(lines: np.ndarray, buffer_m: float, cell_m: float) -> tuple[float, float, float, int, int]:
    """(x0, y1, cell, width, height) of a grid on whole multiples of the cell."""
    x0, y0, x1, y1 = (float(v) for v in shapely.total_bounds(lines))
    pad = buffer_m + 2 * cell_m
    area = (x1 - x0 + 2 * pad) * (y1 - y0 + 2 * pad)
    cell = max(float(cell_m), math.sqrt(area / MAX_CELLS))
    # a cell of whole decimetres on whole multiples: two surfaces of a run align
    cell = math.ceil(cell * 10) / 10
    pad = buffer_m + 2 * cell
    gx0 = math.floor((x0 - pad) / cell) * cell
    gy1 = math.ceil((y1 + pad) / cell) * cell
    w = int(math.ceil((x1 + pad - gx0) / cell))
    h = int(math.ceil((gy1 - (y0 - pad)) / cell))
    return gx0, gy1, cell, w, h


def _open_points(net: WalkNetwork, pieces: Any, x0: float, y1: float, cell: float,
                 shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Cells (rows, cols) holding a street the sites do not reach, inside the grid."""
    xy = np.vstack([net.node_xy[~pieces.node_reached], pieces.gap_xy])
    col = np.floor((xy[:, 0] - x0) / cell).astype(np.int64)
    row = np.floor((y1 - xy[:, 1]) / cell).astype(np.int64)
    ok = (row >= 0) & (row < shape[0]) & (col >= 0) & (col < shape[1])
    return row[ok], col[ok]


def served_area(
    net: WalkNetwork,
    sites: Snapped,
    limit_m: float,
    *,
    buffer_m: float = 25.0,
    cell_m: float = 5.0,
    simplify_m: float | None = None,
    fill_blocks: bool = True,
    name: str = "",
) -> gpd.GeoDataFrame:
    """The area a set of sites serves: one surface, the union of their street space.

    Parameters
    ----------
    net
        The walking network.
    sites
        Snapped sites (e.g. every qualifying facility of one kind); unsnapped ones
        reach nothing.
    limit_m
        Walking limit in metres (the site's connector counts).
    buffer_m
        Half-width of street space around the reached pieces, metres.
    cell_m
        Smallest grid cell (metres); larger for a large extent (see the module notes).
    simplify_m
        Simplification tolerance (metres); default half the cell used.
    fill_blocks
        Fill the blocks the served streets enclose (see the module notes); ``False``
        gives the street space alone.
    name
        The row's ``name`` (e.g. ``existing_elderly``).

    Returns
    -------
    geopandas.GeoDataFrame
        One row: ``name``, ``limit_m``, ``buffer_m``, ``cell_m`` (the cell used),
        ``n_sites`` (sites on the network), ``street_m`` (metres of street reached,
        connectors included) and ``geometry`` (a MultiPolygon, empty when nothing is
        reached), in ``net.crs``.
    """
    from rasterio.features import shapes
    from rasterio.transform import Affine
    from scipy import ndimage

    if buffer_m <= 0 or cell_m <= 0:
        raise ValueError(f"buffer_m and cell_m must be > 0, got {buffer_m}, {cell_m}")
    pieces = surface_pieces(net, sites, limit_m)
    lines = pieces.lines
    geom: Any = shapely.MultiPolygon()
    cell = float(cell_m)
    if len(lines):
        x0, y1, cell, w, h = _grid(lines, buffer_m, cell_m)
        # A marked cell's centre lies up to 0.71 cell off the line it marks, so the
        # surface is a third of a cell wider than the street space on average: it
        # errs on the side of holding all of it.
        mask = ndimage.binary_dilation(_cells(lines, x0, y1, cell, (h, w)),
                                       structure=_disk(buffer_m / cell))
        if fill_blocks:
            mask = _fill_blocks(mask, *_open_points(net, pieces, x0, y1, cell, (h, w)))
        polys = [shapely.geometry.shape(g) for g, _ in
                 shapes(mask.view(np.uint8), mask=mask, transform=Affine(cell, 0.0, x0, 0.0, -cell, y1),
                        connectivity=4)]
        tol = cell / 2 if simplify_m is None else float(simplify_m)
        parts = shapely.simplify(np.asarray(polys, dtype=object), tol, preserve_topology=True)
        geom = shapely.multipolygons(parts[~shapely.is_empty(parts)])
    return gpd.GeoDataFrame(
        {"name": [name], "limit_m": [float(limit_m)], "buffer_m": [float(buffer_m)],
         "cell_m": [cell], "n_sites": [int(np.count_nonzero(sites.ok))],
         "street_m": [float(shapely.length(lines).sum()) if len(lines) else 0.0]},
        geometry=[geom], crs=net.crs,
    )
