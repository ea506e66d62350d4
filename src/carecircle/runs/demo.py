"""The synthetic demo city 示范城区: a plausible piece of south Xi'an, made deterministically.

About 5 x 5 km south of the city (108.915-108.970 E, 34.155-34.200 N, where 雁塔区 meets
长安区): a dense urban grid in the north, the 绕城高速 ring expressway, and villages on a
sparse field-road grid in the south.  Everything is built in a local metric frame (metres
east/north of the south-west corner) and written in WGS-84: the walking network as OSM XML
(read by the same loader as real OSM), the other layers as GeoJSON with the canonical
columns of ``docs/data.md``, and its scenarios (cover-all, half budget, slow walkers, 2020
demand, capacitated).

The city is *designed*: today's facilities miss the plan's targets (too few, some too small,
the east and the villages under-served), while every community has candidate sites of each
kind within about 550 m on the network, so a plan can meet them.

Run ``python -m carecircle.runs.demo --out data/demo``; the same seed gives byte-identical files.
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import shapely
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from carecircle.runs.demotext import (
    README,
    ROAD_NAMES,
    RURAL_HOME_M2,
    RURAL_MINUTES,
    RURAL_SPEED,
    STREET_NAMES,
    VILLAGE_NAMES,
    WARD_NAMES,
    geojson_text,
    osm_text,
    scenario_text,
)

SW_LON, SW_LAT, DEMO_SEED = 108.915, 34.155, 2023  # south-west corner of the box; the seed
SIZE_M = 5000.0
CELL_M = 250.0  # population grid
DESIGN_REACH_M = 550.0  # every community has a candidate of each kind this close (node to node)
_PHI = math.radians(SW_LAT + SIZE_M / 2 / 111_000)
M_PER_DEG_LAT = 111_132.92 - 559.82 * math.cos(2 * _PHI) + 1.175 * math.cos(4 * _PHI)
M_PER_DEG_LON = 111_412.84 * math.cos(_PHI) - 93.5 * math.cos(3 * _PHI)

DISTRICTS = (("610113", "雁塔区"), ("610116", "长安区"))
# Beds today, designed so that the bed targets bind: 雁塔区 has its public beds but too few
# nursing-type beds (58 % < 60 %); 长安区 has too few public beds (about 0.8 % of its 60+ in
# 2020, under 1 % of the 2025 forecast) and no demonstration home.
PUBLIC_BED_RATES = {"610113": (0.0085, 0.0075), "610116": (0.0045, 0.0035)}
NURSING_SHARES = {"610113": 0.58, "610116": 0.55}
DEMONSTRATION_HOMES = ("雁塔区社会福利院",)
# Candidate sites for an elderly institution (beds from floor area): a renovated building
# and a new plot per district (names, acquisition, floor-area range in m²).
INSTITUTION_SITES = {
    "610113": (("闲置办公楼(可改建养老院)", "renovate", (6000, 8000)),
               ("养老院规划用地", "new", (8000, 10000))),
    "610116": (("原干部培训疗养中心", "renovate", (9000, 11000)),
               ("养老院规划用地", "new", (11000, 14000))),
}
# district boundary (雁塔 north, 长安 south): (x, y) vertices; street columns split at 1700/3300
BOUNDARY = ((0, 2950), (600, 3050), (1100, 2900), (1700, 2850), (2300, 3000), (2800, 3150),
            (3300, 3100), (3900, 2950), (4500, 2900), (5000, 3000))
COL_SPLITS = (0, 1700, 3300, 5000)
ROW_SPLITS = {"610113": 4000.0, "610116": 1300.0}
URBAN_Y0 = 2300.0  # first urban street row; the expressway runs at y ~ 2150



def to_lonlat(x: float, y: float) -> tuple[float, float]:
    """Local metres (east, north of the south-west corner) to WGS-84 lon/lat degrees.

    Parameters
    ----------
    x, y
        Metres east and north of the demo box's south-west corner.

    Returns
    -------
    tuple of float
        (longitude, latitude).
    """
    return SW_LON + x / M_PER_DEG_LON, SW_LAT + y / M_PER_DEG_LAT


def boundary_y(x: float) -> float:
    """The y of the 雁塔/长安 boundary at ``x`` (piecewise linear)."""
    for (x0, y0), (x1, y1) in zip(BOUNDARY, BOUNDARY[1:], strict=False):
        if x0 <= x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return BOUNDARY[-1][1]


class _Net:
    """Nodes and tagged ways in the local frame, in creation order (stable OSM ids)."""

    def __init__(self) -> None:
        self.xy: list[tuple[float, float]] = []
        self.ways: list[tuple[list[int], dict[str, str]]] = []

    def node(self, x: float, y: float) -> int:
        self.xy.append((x, y))
        return len(self.xy) - 1

    def way(self, nodes: list[int], **tags: str) -> None:
        self.ways.append((nodes, tags))

    def segment(self, a: int, b: int, rng: random.Random, n_mid: int, wobble: float) -> list[int]:
        """Shape nodes strictly between ``a`` and ``b`` (removed again by simplification)."""
        (xa, ya), (xb, yb) = self.xy[a], self.xy[b]
        return [self.node(xa + (xb - xa) * t + rng.uniform(-wobble, wobble),
                          ya + (yb - ya) * t + rng.uniform(-wobble, wobble))
                for t in (k / (n_mid + 1) for k in range(1, n_mid + 1))]


def _runs(net: _Net, line: list[int], drop_p: float, rng: random.Random, n_mid: int,
          mid_p: float, wobble: float, tags: dict[str, str]) -> None:
    """Emit one way per maximal run of kept segments along ``line`` (gaps make dead ends)."""
    keep = [rng.random() >= drop_p for _ in range(len(line) - 1)]
    run: list[int] = []
    for k, ok in enumerate([*keep, False]):
        if ok:
            run = run or [line[k]]
            run += net.segment(line[k], line[k + 1], rng, n_mid * (rng.random() < mid_p), wobble)
            run.append(line[k + 1])
        elif run:
            net.way(run, **tags)
            run = []


class Layout(TypedDict):
    """Where the network builder put things, for the layers built on it (local metres).

    Attributes
    ----------
    blocks
        Urban blocks: (column, row, centre x, centre y).
    villages
        Villages: (field-road column, row, centre x, centre y).
    island
        Nodes of the disconnected factory compound.
    """

    blocks: list[tuple[int, int, float, float]]
    villages: list[tuple[int, int, float, float]]
    island: set[int]


def build_network(rng: random.Random) -> tuple[_Net, Layout]:
    """The road network and the layout facts later layers need (block centres, villages).

    Parameters
    ----------
    rng
        The generator's random source (drawn in a fixed order: the same seed, the same city).

    Returns
    -------
    tuple
        The network and its :class:`Layout`.
    """
    net = _Net()
    grid, blocks = _urban_grid(net, rng)
    rcols, rgrid, villages = _rural_grid(net, rng)
    _expressway(net, grid, rcols, rgrid)
    # a factory compound cut off at the edge of the extract: a disconnected island
    isl = [net.node(5250 + dx, 650 + dy) for dx, dy in ((0, 0), (120, 0), (120, 90), (0, 90))]
    net.way([*isl, isl[0]], highway="service", name="厂区内部道路")
    net.way([isl[1], net.node(5420, 600)], highway="service")
    return net, Layout(blocks=blocks, villages=villages, island=set(isl))


def _urban_grid(net: _Net, rng: random.Random
                ) -> tuple[list[list[int]], list[tuple[int, int, float, float]]]:
    """31 north-south x 18 east-west streets (~160 x 150 m blocks), park paths, driveways,
    steps and a viaduct; returns the junction grid (column-major) and the blocks."""
    cols = [80 + 160 * i + rng.uniform(-12, 12) for i in range(31)]
    rows = [URBAN_Y0 + 150 * j + rng.uniform(-10, 10) for j in range(18)]
    grid = [[net.node(x + rng.uniform(-5, 5), y + rng.uniform(-5, 5)) for y in rows] for x in cols]
    col_cls = {3: "primary", 15: "primary", 27: "primary", 9: "secondary", 21: "secondary"}
    row_cls = {7: "primary", 17: "primary", 2: "secondary", 12: "secondary"}
    names = {k: iter(v) for k, v in ROAD_NAMES.items()}
    for i, line in enumerate(grid):
        cls = col_cls.get(i, "tertiary" if i % 6 == 0 else "residential")
        tags = {"highway": cls} | ({"name": next(names[cls])} if cls in names else {})
        res = cls == "residential"
        _runs(net, line, 0.1 * res, rng, 1, 0.4 if res else 1.0, 3.0, tags)
    for j in range(len(rows)):
        cls = row_cls.get(j, "residential")
        tags = {"highway": cls} | ({"name": next(names[cls])} if cls in names else {})
        if cls == "residential" and j % 5 == 4:
            tags["oneway"] = "yes"  # pedestrians ignore it; a trap for a directed search
        res = cls == "residential"
        _runs(net, [c[j] for c in grid], 0.1 * res, rng, 1, 0.4 if res else 1.0, 3.0, tags)
    blocks = []
    for i in range(len(cols) - 1):
        for j in range(len(rows) - 1):
            (x0, y0), (x1, y1) = net.xy[grid[i][j]], net.xy[grid[i + 1][j + 1]]
            blocks.append((i, j, (x0 + x1) / 2, (y0 + y1) / 2))
            r = rng.random()
            if r < 0.05:  # a park path across the block
                a, b = grid[i][j], grid[i + 1][j + 1]
                net.way([a, *net.segment(a, b, rng, 1, 8.0), b], highway="footway")
            elif r < 0.22:  # a dead-end driveway into a compound
                s = net.node(x0 + 35, y0 + 30)
                gated = {"access": "private"} if rng.random() < 0.2 else {}  # walk filter drops it
                net.way([grid[i][j], s, net.node(x0 + 70, y0 + 30)], highway="service",
                        service="driveway", **gated)
    x49, y49 = net.xy[grid[4][9]]
    net.way([grid[4][9], net.node(x49 + 5, y49 + 40)], highway="steps")
    # an elevated road over an arterial: cars only (foot=no), dropped by the walk filter
    elev = [grid[4][12]] + [net.node(cols[i], rows[12] + 10) for i in range(5, 10)] + [grid[10][12]]
    net.way(elev, highway="trunk", bridge="yes", layer="1", foot="no", name="南三环高架")
    return grid, blocks


def _rural_grid(net: _Net, rng: random.Random
                ) -> tuple[list[float], list[list[int]], list[tuple[int, int, float, float]]]:
    """An 11 x 5 field-road grid (~470 x 460 m) with villages next to the crossings;
    returns the road columns' x, the crossing grid (column-major) and the villages."""
    rcols = [120 + 460 * k + rng.uniform(-20, 20) for k in range(11)]
    rrows = [130 + 460 * m + rng.uniform(-30, 30) for m in range(5)]
    rgrid = [[net.node(x, y) for y in rrows] for x in rcols]
    for k, line in enumerate(rgrid):
        cls = "secondary" if k in (3, 7) else ("unclassified" if k % 2 else "track")
        _runs(net, line, 0.12 * (cls == "track"), rng, 2, 1.0, 12.0, {"highway": cls})
    for m in range(len(rrows)):
        cls = "secondary" if m == 2 else ("unclassified" if m % 2 else "track")
        tags = {"highway": cls} | ({"name": "韦郭路"} if m == 2 else {})
        _runs(net, [c[m] for c in rgrid], 0.12 * (cls == "track"), rng, 2, 1.0, 12.0, tags)
    villages = []
    for k in range(len(rcols)):
        for m in range(len(rrows)):
            if rng.random() < 0.1:
                continue  # fields, an orchard, a brickworks: no village here
            # north-east of the crossing (south-east on the top row): villages never overlap,
            # and their lanes run beside the field roads, not across them
            side = -1 if m == len(rrows) - 1 else 1
            cx = rcols[k] + rng.uniform(110, 150)
            n_lanes = 2 if m == len(rrows) - 1 else rng.randint(2, 3)
            lanes = [rrows[m] + side * (70 + 65 * n) for n in range(n_lanes)]
            spine = []
            for ly in lanes:
                w, c, e = net.node(cx - 80, ly), net.node(cx, ly), net.node(cx + 80, ly)
                net.way([w, c, e], highway=rng.choice(("residential", "service", "living_street")))
                spine.append(c)
            net.way([rgrid[k][m], *spine], highway="residential")
            villages.append((k, m, cx, sum(lanes) / len(lanes)))
    return rcols, rgrid, villages


def _expressway(net: _Net, grid: list[list[int]], rcols: list[float],
                rgrid: list[list[int]]) -> None:
    """The 绕城高速 between town and villages, with the bridges and tunnels that cross it."""
    # two one-way carriageways, no shared node with the streets it crosses
    eb = [net.node(x, 2140 + 8 * math.sin(x / 900)) for x in range(0, 5001, 250)]
    wb = [net.node(x, 2165 + 8 * math.sin(x / 900)) for x in range(5000, -1, -250)]
    for line in (eb, wb):
        net.way(line, highway="motorway", oneway="yes", ref="G3001", name="绕城高速")
    net.way([eb[9], net.node(2420, 2230), grid[15][0]], highway="motorway_link", oneway="yes")
    net.way([grid[15][0], net.node(2540, 2230), wb[10]], highway="motorway_link", oneway="yes")
    # overpasses (arterials) and underpasses (footways) link the town to the villages
    field_x = np.asarray(rcols)
    for i, kind in ((3, "primary"), (9, "secondary"), (15, "primary"), (21, "secondary"),
                    (27, "primary"), (6, "footway"), (12, "footway"), (24, "footway")):
        top, x = grid[i][0], net.xy[grid[i][0]][0]
        k = int(np.argmin(np.abs(field_x - x)))  # the nearest field road (first of a tie)
        mid = net.node(x, 2152)
        extra = {"bridge": "yes", "layer": "1"} if kind != "footway" else {"tunnel": "yes", "layer": "-1"}
        net.way([top, mid, rgrid[k][-1]], highway=kind, **extra)


def _walkable(tags: dict[str, str]) -> bool:
    """The pedestrian filter's verdict (as osmnx's: no motor*, foot=no or access=private)."""
    return (not tags["highway"].startswith("motorway") and tags.get("foot") != "no"
            and tags.get("access") != "private")


def _walk_graph(net: _Net) -> tuple[csr_matrix, np.ndarray]:
    """Symmetric metric adjacency of the walkable ways, and the nodes they use."""
    pairs = [(a, b) for nodes, tags in net.ways if _walkable(tags)
             for a, b in zip(nodes, nodes[1:], strict=False)]
    xy = np.array(net.xy)
    a, b = np.array(pairs).T
    w = np.hypot(*(xy[a] - xy[b]).T)
    n = len(xy)
    graph = coo_matrix((np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(n, n)).tocsr()
    return graph, np.unique(np.r_[a, b])


def _drop_fragments(net: _Net, island: set[int]) -> None:
    """Remove walkable ways cut off by the dropped segments (only the island stays apart)."""
    graph, used = _walk_graph(net)
    labels = connected_components(graph, directed=False)[1]
    main = np.bincount(labels[used]).argmax()
    keep = {main, labels[next(iter(island))]}
    net.ways = [w for w in net.ways if not _walkable(w[1]) or labels[w[0][0]] in keep]


class _Walk:
    """The walkable network; points snap to its junctions (the nodes simplification keeps)."""

    def __init__(self, net: _Net, island: set[int]) -> None:
        self.graph, used = _walk_graph(net)
        links = {frozenset(p) for w, _ in net.ways for p in zip(w, w[1:], strict=False)}
        degree = np.bincount([n for p in links for n in p], minlength=len(net.xy))
        self.nodes = np.array([u for u in used if u not in island and degree[u] != 2])
        self.tree = cKDTree(np.array(net.xy)[self.nodes])

    def snap(self, pts: Sequence[tuple[float, float]]) -> np.ndarray:
        """Nearest walkable node of each point."""
        return self.nodes[self.tree.query(np.asarray(pts, dtype=float))[1]]

    def roadside(self, rng: random.Random, x: float, y: float) -> tuple[float, float]:
        """A road-side point 8-15 m from the junction nearest (x, y)."""
        (nx_, ny_), = self.tree.data[self.tree.query([(x, y)])[1]]
        ang, r = rng.uniform(0, 2 * math.pi), rng.uniform(8, 15)
        return float(nx_) + r * math.cos(ang), float(ny_) + r * math.sin(ang)

    def dist(self, origins: np.ndarray, limit: float) -> np.ndarray:
        """Network distances (m) from each origin node to every node, inf beyond ``limit``."""
        return dijkstra(self.graph, directed=False, indices=origins, limit=limit)


def _shape(kind: str, cx: float, cy: float, rot: int) -> list[tuple[float, float]]:
    """A U- or L-shaped compound (its centroid falls outside it), counter-clockwise."""
    u = [(-70, -60), (70, -60), (70, 60), (45, 60), (45, -35), (-45, -35), (-45, 60), (-70, 60)]
    ell = [(-70, -60), (70, -60), (70, -25), (-35, -25), (-35, 60), (-70, 60)]
    c, s = ((1, 0), (0, 1), (-1, 0), (0, -1))[rot]
    return [(cx + c * x - s * y, cy + s * x + c * y) for x, y in (u if kind == "U" else ell)]


def _street_of(x: float, y: float) -> tuple[str, str]:
    """(district code, street code) of a point in the local frame."""
    d = "610113" if y > boundary_y(x) else "610116"
    col = sum(x >= s for s in COL_SPLITS[1:-1])
    upper = y >= ROW_SPLITS[d]
    return d, f"{d}{(0 if upper else 3) + col + 1:03d}"


def build_communities(rng: random.Random, layout: Layout) -> list[dict]:
    """Urban 社区 on every other block column, one 村 per village; ids are statistical codes.

    Parameters
    ----------
    rng
        The generator's random source.
    layout
        Blocks and villages of :func:`build_network`.

    Returns
    -------
    list of dict
        One record per community (local x, y; name, id, district, street, populations,
        households, urban-rural code, and a ring for the few drawn as polygons).
    """
    used: set[str] = set()
    out: list[dict[str, Any]] = []
    for i, _j, bx, by in layout["blocks"]:
        if i % 2 or rng.random() > 0.78:
            continue
        x, y = bx + rng.uniform(-20, 20), by + rng.uniform(-20, 20)
        while (name := rng.choice(WARD_NAMES[0]) + rng.choice(WARD_NAMES[1]) + "社区") in used:
            pass
        used.add(name)
        pop = int(rng.lognormvariate(math.log(2800), 0.35))
        old = rng.uniform(0.14, 0.22) + (0.03 if x < 2000 else 0.0)  # the older west
        out.append({"x": x, "y": y, "name": name, "urban": True, "pop": pop, "old": old,
                    "ur": rng.choice(("111", "111", "112", "121", "urban", "城镇")),
                    "shape": rng.choice("UL") if rng.random() < 0.12 else None})
    for _k, _m, vx, vy in layout["villages"]:
        while (name := rng.choice(VILLAGE_NAMES[0]) + rng.choice(VILLAGE_NAMES[1]) + "村") in used:
            pass
        used.add(name)
        out.append({"x": vx + rng.uniform(-25, 25), "y": vy + rng.uniform(-15, 15), "name": name,
                    "urban": False, "pop": int(rng.uniform(700, 2600)),
                    "old": rng.uniform(0.18, 0.25), "ur": rng.choice(("210", "220", "220", "rural", "乡村")),
                    "shape": "L" if rng.random() < 0.08 else None})
    taken: set[tuple[float, float]] = set()
    for c in out:
        # a polygon is moved so that it holds the centre of the grid cell that gets its people
        # (a cell belongs to the polygon its centre falls in); its point is its representative point
        cell = ((c["x"] // CELL_M + 0.5) * CELL_M, (c["y"] // CELL_M + 0.5) * CELL_M)
        if not c["shape"] or cell in taken:
            c["shape"] = None
            continue
        taken.add(cell)
        ring = _shape(c["shape"], c["x"], c["y"], rng.randrange(4))
        rp = shapely.Polygon(ring).representative_point()
        c["ring"] = [(x + cell[0] - rp.x, y + cell[1] - rp.y) for x, y in ring]
        rp = shapely.Polygon(c["ring"]).representative_point()
        c["x"], c["y"] = rp.x, rp.y
    # one plausible name that needs HTML escaping on maps
    out[len(out) // 3]["name"] = '丈八"东"社区 & 新区'
    serial: dict[str, int] = {}
    for c in sorted(out, key=lambda c: (_street_of(c["x"], c["y"])[1], -c["y"], c["x"])):
        c["district"], c["street"] = _street_of(c["x"], c["y"])
        serial[c["street"]] = serial.get(c["street"], 0) + 1
        c["id"] = f"{c['street']}{serial[c['street']]:03d}"
        c["pop60"] = round(c["pop"] * c["old"])
        c["pop03"] = round(c["pop"] * rng.uniform(0.024, 0.036))
        c["hh"] = round(c["pop"] / rng.uniform(2.5, 3.0))
    out.sort(key=lambda c: c["id"])
    return out


def build_facilities(rng: random.Random, comms: list[dict], walk: _Walk) -> list[dict]:
    """Today's facilities: too few in the east and the villages, some below the area standard.

    Parameters
    ----------
    rng
        The generator's random source.
    comms
        The communities of :func:`build_communities`.
    walk
        The walkable network (facilities stand at the road side).

    Returns
    -------
    list of dict
        One record per facility (id, kind, name, floor area, ownership, beds, places,
        local x, y, district).
    """
    urban = [c for c in comms if c["urban"]]
    rural = [c for c in comms if not c["urban"]]
    out: list[dict] = []

    def add(kind: str, c: dict, name: str, area: float, owner: str, beds: int = 0, places: int = 0):
        x, y = walk.roadside(rng, c["x"], c["y"])
        out.append({"kind": kind, "name": name, "area": round(area), "owner": owner, "beds": beds,
                    "places": places, "x": x, "y": y, "district": _street_of(x, y)[0]})

    for c in rng.sample(urban, 26):
        west = c["x"] < 3000
        if west or rng.random() < 0.4:
            small = rng.random() < (0.25 if west else 0.8)
            area = rng.uniform(120, 280) if small else rng.uniform(320, 900)
            add("elderly", c, c["name"].split("社区")[0] + "社区养老服务站", area,
                rng.choice(("public", "public_private", "private")))
    for c in rng.sample(rural, 18):
        area = rng.uniform(100, 280) if rng.random() < 0.35 else rng.uniform(300, 500)
        add("rural_home", c, c["name"] + "互助幸福院", area, "public")
    for n, c in enumerate(rng.sample(urban, 16) + rng.sample(rural, 4)):
        area = rng.uniform(90, 190) if n % 3 == 2 else rng.uniform(220, 700)
        add("childcare", c, c["name"].removesuffix("社区") + "托育园", area,
            "public" if n < 2 else rng.choice(("public_private", "private", "private")),
            places=round(area / rng.uniform(7.5, 10)))
    # the first two childcare centres are public: make sure each district has one
    for d in ("610113", "610116"):
        if not any(f["kind"] == "childcare" and f["owner"] == "public" and f["district"] == d
                   for f in out):
            next(f for f in out if f["kind"] == "childcare" and f["district"] == d)["owner"] = "public"
    for street in ("610113001", "610113004", "610116002"):
        mid = shapely.Polygon(_street_rings()[street]).representative_point()
        c = _closest([c for c in urban if c["street"] == street], mid.x, mid.y)
        add("street_centre", c, _street_name(street) + "综合养老服务中心",
            rng.uniform(1200, 2000), "public_private")
    for d, dname in DISTRICTS:
        old = sum(c["pop60"] for c in comms if c["district"] == d)
        rate = PUBLIC_BED_RATES[d]
        beds = [10 * math.ceil(old * rate[0] / 10), 10 * math.ceil(old * rate[1] / 10),
                rng.randrange(150, 300, 10)]
        west = [c for c in urban if c["district"] == d and c["x"] < 2500
                and abs(c["y"] - boundary_y(c["x"])) > 200]
        for k, (b, owner) in enumerate(zip(beds, ("public", "public", "private"), strict=True)):
            label = (f"{dname}社会福利院", f"{dname}第二颐养院", f"{dname}康宁养老中心")[k]
            add("institution", rng.choice(west), label, b * rng.uniform(35, 45), owner, beds=b)
    for f in out:  # nursing-type beds and the demonstration home (no random draws)
        f["nursing"] = math.floor(f["beds"] * NURSING_SHARES[f["district"]])
        f["demo"] = f["name"] in DEMONSTRATION_HOMES
    for n, f in enumerate(out, 1):
        f["id"] = f"F{n:03d}"
    return out


def build_kindergartens(rng: random.Random, comms: list[dict], walk: _Walk, *,
                        first: int) -> list[dict]:
    """Kindergartens running a 托班 (class for 2-3-year-olds) in 5 of the 12 streets.

    Parameters
    ----------
    rng
        Their own random source (the other layers do not change with them).
    comms
        The communities of :func:`build_communities`.
    walk
        The walkable network (they stand at the road side).
    first
        The number of the first id (``F<first>``).

    Returns
    -------
    list of dict
        Facility records of kind ``kindergarten_tuoban``: the 托班's floor area
        (120-320 m²: some below the childcare standard) and places (10-30).
    """
    out = []
    streets = ("610113001", "610113002", "610113005", "610116001", "610116004")
    for n, street in enumerate(streets):
        c = rng.choice([c for c in comms if c["street"] == street])
        x, y = walk.roadside(rng, c["x"], c["y"])
        area = rng.uniform(120, 320)
        out.append({"kind": "kindergarten_tuoban", "name": c["name"].removesuffix("社区") + "幼儿园(托班)",
                    "area": round(area), "owner": "public" if n % 2 else "private", "beds": 0,
                    "places": round(area / 10), "x": x, "y": y, "district": _street_of(x, y)[0],
                    "nursing": 0, "demo": False, "id": f"F{first + n:03d}"})
    return out


def _closest(records: list[dict], x: float, y: float) -> dict:
    """The record nearest (x, y) (the first of a tie)."""
    return min(records, key=lambda c: math.hypot(c["x"] - x, c["y"] - y))


def _street_name(code: str) -> str:
    d, k = code[:6], int(code[6:]) - 1
    return STREET_NAMES[(d, k < 3)][k % 3]


def _capable(c: dict, kind: str) -> bool:
    """Whether candidate ``c`` may host ``kind`` at the plan's minimum floor area."""
    return kind in c["kinds"].split(";") and c["area"] >= {"elderly": 300, "childcare": 200}[kind]


def _site(rng: random.Random, c: dict, add) -> None:
    """One candidate site near community ``c``: acquisition, floor area, kinds, a name."""
    base = c["name"].removesuffix("社区")
    if c["urban"]:
        acq = rng.choices(("renovate", "lease", "new"), weights=(45, 35, 20))[0]
        name = {"renovate": rng.choice((f"{base}社区服务中心", f"{base}闲置办公楼",
                                        f"{base}空置公租房")),
                "lease": f"{base}临街商业用房", "new": f"{base}地块"}[acq]
    else:
        acq = rng.choices(("renovate", "new"), weights=(60, 40))[0]
        name = rng.choice((f"{base}委会闲置用房", f"{base}闲置小学")) if acq == "renovate" \
            else f"{base}集体建设用地"
    area = rng.uniform(*{"renovate": (250, 1200), "lease": (200, 800), "new": (600, 2000)}[acq])
    if area >= 500:
        kinds = rng.choice(("elderly;childcare",) * 3 + ("elderly", "childcare"))
    else:
        kinds = rng.choice(("elderly", "childcare")) if area >= 300 else "childcare"
    if not c["urban"]:  # a village building may house a rural happiness home (no draw)
        kinds += ";rural_home"
    add(c, acq, area, kinds, name)


def build_candidates(rng: random.Random, comms: list[dict], walk: _Walk) -> list[dict]:
    """Road-side candidate sites; then every community gets one of each kind within reach.

    Parameters
    ----------
    rng
        The generator's random source.
    comms
        The communities of :func:`build_communities`.
    walk
        The walkable network.

    Returns
    -------
    list of dict
        One record per site (id, name, kinds, floor area, acquisition, cost, local x, y).

    Raises
    ------
    RuntimeError
        When a community is left without a capable site within ``DESIGN_REACH_M``
        (a generator bug).
    """
    out: list[dict] = []

    def add(c: dict, acq: str, area: float, kinds: str, name: str) -> None:
        unit = {"new": (6000, 9000), "renovate": (2000, 3500), "lease": (1500, 2500)}[acq]
        x, y = walk.roadside(rng, c["x"], c["y"])
        out.append({"x": x, "y": y, "acq": acq, "area": round(area), "kinds": kinds, "name": name,
                    "cost": round(area * rng.uniform(*unit), -3)})

    for c in comms:
        n_sites = rng.choices((0, 1, 2), weights=(25, 50, 25) if c["urban"] else (40, 50, 10))[0]
        for _ in range(n_sites):
            _site(rng, c, add)
    for c in rng.sample([c for c in comms if c["urban"]], 6):  # shop fronts too small to count
        add(c, "lease", rng.uniform(150, 199), "childcare", c["name"].removesuffix("社区") + "底商")
    streets = sorted({c["street"] for c in comms})
    for st in streets:
        edge = shapely.Polygon(_street_rings()[st]).exterior
        pool = [c for c in comms if c["street"] == st
                and edge.distance(shapely.Point(c["x"], c["y"])) > 150]  # site stays inside
        for c in rng.sample(pool, min(2, len(pool))):
            add(c, rng.choice(("new", "renovate")), rng.uniform(1000, 2000),
                rng.choice(("street_centre", "street_centre;elderly")),
                _street_name(st) + rng.choice(("闲置办公楼", "综合服务用地", "原培训中心")))
    # design repair: a community without a site of some kind within DESIGN_REACH_M gets one
    for c in comms:
        node = walk.snap([(c["x"], c["y"])])
        d = walk.dist(node, DESIGN_REACH_M)[0][walk.snap([(k["x"], k["y"]) for k in out])]
        if all(any(dk <= DESIGN_REACH_M and _capable(k, kind) for dk, k in zip(d, out, strict=True))
               for kind in ("elderly", "childcare")):
            continue
        add(c, "renovate", rng.uniform(500, 900), "elderly;childcare",
            c["name"].removesuffix("社区") + ("社区服务中心" if c["urban"] else "委会活动室"))
    far = _farthest_site(comms, out, walk)
    if max(far.values()) > DESIGN_REACH_M:  # a generator bug, not a data problem
        raise RuntimeError(f"demo design broken: nearest sites {far}")
    for d, sites in INSTITUTION_SITES.items():  # last: the draws above stay as they were
        pool = [c for c in comms if c["district"] == d and c["urban"]
                and abs(c["y"] - boundary_y(c["x"])) > 300]  # the site stays in its district
        for label, acq, (lo, hi) in sites:
            c = rng.choice(pool)
            add(c, acq, rng.uniform(lo, hi), "institution", _street_name(c["street"]) + label)
    for n, k in enumerate(out, 1):
        k["id"] = f"C{n:04d}"
    return out


def _farthest_site(comms: list[dict], cands: list[dict], walk: _Walk) -> dict[str, float]:
    """Per kind, the largest distance from a community to its nearest capable site."""
    d = walk.dist(walk.snap([(k["x"], k["y"]) for k in cands]), 2 * DESIGN_REACH_M)
    d = d[:, walk.snap([(c["x"], c["y"]) for c in comms])]
    return {kind: float(d[[_capable(k, kind) for k in cands]].min(0).max())
            for kind in ("elderly", "childcare")}


def build_population_grid(comms: list[dict], cell: float = CELL_M) -> list[dict]:
    """250 m cells holding the communities' people (urban points spread to 4 neighbours).

    Integer counts split by largest remainder, so the grid sums to the communities exactly.

    Parameters
    ----------
    comms
        The communities of :func:`build_communities`.
    cell
        Cell size in metres.

    Returns
    -------
    list of dict
        One record per populated cell (centre x, y; pop, pop60, pop03), south to north.
    """
    n = int(SIZE_M // cell)
    cells: dict[tuple[int, int], list[int]] = {}
    for c in comms:
        ci, cj = min(n - 1, int(c["x"] // cell)), min(n - 1, int(c["y"] // cell))
        nb = [(ci, cj, 4.0)]
        if c["urban"] and not c["shape"]:
            nb += [(ci + a, cj + b, 1.0) for a, b in ((1, 0), (-1, 0), (0, 1), (0, -1))
                   if 0 <= ci + a < n and 0 <= cj + b < n]
        tot = sum(w for *_, w in nb)
        for f, key in enumerate(("pop", "pop60", "pop03")):
            got = _largest_remainder([c[key] * w / tot for *_, w in nb], c[key])
            for (i, j, _), g in zip(nb, got, strict=True):
                cells.setdefault((i, j), [0, 0, 0])[f] += g
    return [{"x": (i + 0.5) * cell, "y": (j + 0.5) * cell, "pop": v[0], "pop60": v[1], "pop03": v[2]}
            for (i, j), v in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])) if v[0] > 0]


def _largest_remainder(shares: list[float], total: int) -> list[int]:
    """Whole numbers summing to ``total``: the shares rounded down, then one more to the
    largest fractions (ties: first)."""
    got = [math.floor(v) for v in shares]
    order = sorted(range(len(shares)), key=lambda k: (-(shares[k] % 1), k))
    for k in order[: total - sum(got)]:
        got[k] += 1
    return got


def assess(comms: list[dict], facs: list[dict], cands: list[dict], walk: _Walk) -> dict:
    """Today's coverage per district and a greedy cover-all cost (for the budget scenario).

    Node-to-node network distances; elderly reach 900 m (1.0 m/s; villages 1,200 m, a
    20-minute walk, rural happiness homes of 200 m² counting), childcare 1080 m (1.2 m/s).
    The cost covers every community, then 4.8 childcare places per 1000 and a centre in
    every street lacking one: an upper estimate of the optimal plan's cost without its
    institutions.

    Parameters
    ----------
    comms, facs, cands
        Communities, facilities and candidate sites of the ``build_*`` functions.
    walk
        The walkable network.

    Returns
    -------
    dict
        Coverage shares, places per 1000 and street-centre shares per district, beds,
        ``cover_estimate_yuan`` (every community served) and ``cover_all_estimate_yuan``
        (with the places and street-centre targets).
    """
    reach = {"elderly": 900.0, "childcare": 1080.0}
    cn = walk.snap([(c["x"], c["y"]) for c in comms])

    def within(points: list[dict], limit: float) -> np.ndarray:
        if not points:
            return np.zeros((0, len(comms)), dtype=bool)
        return walk.dist(walk.snap([(p["x"], p["y"]) for p in points]), limit)[:, cn] <= limit

    old = [f for f in facs if f["kind"] not in ("childcare", "rural_home") and f["area"] >= 300]
    kid = [f for f in facs if f["kind"] == "childcare" and f["area"] >= 200]
    # villages: any elderly facility, or a rural happiness home of 200 m², within 20 minutes
    village = old + [f for f in facs if f["kind"] == "rural_home" and f["area"] >= RURAL_HOME_M2]
    rural = np.array([not c["urban"] for c in comms])
    served = {"elderly": np.where(rural, within(village, RURAL_MINUTES * 60 * RURAL_SPEED).any(0),
                                  within(old, reach["elderly"]).any(0)),
              "childcare": np.asarray(within(kid, reach["childcare"]).any(0))}
    stats: dict = {}
    centres = {_street_of(f["x"], f["y"])[1] for f in facs if f["kind"] == "street_centre"}
    for d, _ in DISTRICTS:
        for urban in (True, False):
            idx = [k for k, c in enumerate(comms) if c["district"] == d and c["urban"] == urban]
            if idx:
                stats[f"{d} {'urban' if urban else 'rural'} elderly"] = float(served["elderly"][idx].mean())
        pop = sum(c["pop"] for c in comms if c["district"] == d)
        places = sum(f["places"] for f in facs if f["district"] == d and f["kind"] == "childcare")
        stats[f"{d} places/1000"] = 1000 * places / pop
        streets = {c["street"] for c in comms if c["district"] == d}
        stats[f"{d} street centres"] = len(streets & centres) / len(streets)
        homes = [f for f in facs if f["district"] == d and f["kind"] == "institution"]
        stats[f"{d} public beds"] = float(sum(f["beds"] for f in homes if f["owner"] == "public"))
        stats[f"{d} nursing share"] = sum(f["nursing"] for f in homes) / sum(f["beds"] for f in homes)
    # greedy set cover of what today leaves unserved: newly served pairs per yuan (villages'
    # elderly care within the rural limit)
    cover = {kind: within(cands, reach[kind]) for kind in reach}
    cover["elderly"] = np.where(rural[None, :], within(cands, RURAL_MINUTES * 60 * RURAL_SPEED),
                                cover["elderly"])
    todo = {kind: ~served[kind] for kind in reach}
    total, chosen = 0.0, set()
    while any(t.any() for t in todo.values()):
        gain = [sum(int((cover[kind][k] & todo[kind]).sum()) for kind in reach if _capable(c, kind))
                / max(c["cost"], 1.0) if k not in chosen else 0.0 for k, c in enumerate(cands)]
        best = int(np.argmax(gain))
        if gain[best] <= 0:
            break
        chosen.add(best)
        total += cands[best]["cost"]
        for kind in reach:
            if _capable(cands[best], kind):
                todo[kind] &= ~cover[kind][best]
    stats["cover_estimate_yuan"] = total  # every community served, before the targets
    # then the cheapest childcare floor area (per m2) up to 4.8 places per 1000 in each district
    for d, _ in DISTRICTS:
        in_d = [k for k, c in enumerate(cands) if _capable(c, "childcare")
                and _street_of(c["x"], c["y"])[0] == d]
        need = 4.8 * sum(c["pop"] for c in comms if c["district"] == d) / 1000 - sum(
            f["places"] for f in facs if f["district"] == d and f["kind"] == "childcare") - sum(
            cands[k]["area"] / 8 for k in in_d if k in chosen)
        for k in sorted(set(in_d) - chosen, key=lambda k: (cands[k]["cost"] / cands[k]["area"], k)):
            if need <= 0:
                break
            chosen.add(k)
            total += cands[k]["cost"]
            need -= cands[k]["area"] / 8
    sc = [c for c in cands if "street_centre" in c["kinds"]]
    for st in sorted({c["street"] for c in comms} - centres):
        total += min((c["cost"] for c in sc if _street_of(c["x"], c["y"])[1] == st), default=0)
    stats["cover_all_estimate_yuan"] = total
    return stats


def _point(x: float, y: float) -> dict:
    lon, lat = to_lonlat(x, y)
    return {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}


def _polygon(ring: Sequence[tuple[float, float]]) -> dict:
    pts = [[round(v, 6) for v in to_lonlat(x, y)] for x, y in ring]
    return {"type": "Polygon", "coordinates": [[*pts, pts[0]]]}


def _write_geojson(path: Path, features: list[tuple[dict, dict]]) -> None:
    path.write_text(geojson_text(features), encoding="utf-8")


def _write_osm(path: Path, net: _Net) -> None:
    used = sorted({n for nodes, _ in net.ways for n in nodes})
    path.write_text(osm_text(net.ways, {n: to_lonlat(*net.xy[n]) for n in used}), encoding="utf-8")


def _district_rings() -> dict[str, list[tuple[float, float]]]:
    b = [(float(x), float(y)) for x, y in BOUNDARY]
    return {"610113": [*b, (SIZE_M, SIZE_M), (0.0, SIZE_M)],
            "610116": [(0.0, 0.0), (SIZE_M, 0.0), *b[::-1]]}


def _street_rings() -> dict[str, list[tuple[float, float]]]:
    """Three columns x two rows per district, cut along the district boundary (CCW rings)."""
    out: dict[str, list[tuple[float, float]]] = {}
    for k, (xa, xb) in enumerate(zip(COL_SPLITS, COL_SPLITS[1:], strict=False)):
        seg = [(float(x), float(y)) for x, y in BOUNDARY if xa <= x <= xb]
        ry, rc = ROW_SPLITS["610113"], ROW_SPLITS["610116"]
        out[f"610113{k + 1:03d}"] = [(xa, ry), (xb, ry), (xb, SIZE_M), (xa, SIZE_M)]
        out[f"610113{k + 4:03d}"] = [*seg, (xb, ry), (xa, ry)]
        out[f"610116{k + 1:03d}"] = [(xa, rc), (xb, rc), *seg[::-1]]
        out[f"610116{k + 4:03d}"] = [(xa, 0.0), (xb, 0.0), (xb, rc), (xa, rc)]
    return dict(sorted(out.items()))


def generate(out_dir: str | Path, seed: int = DEMO_SEED) -> dict[str, float]:
    """Write the demo city into ``out_dir`` (created if needed).

    Parameters
    ----------
    out_dir
        Folder for ``network.osm``, the GeoJSON layers and the three scenario files.
    seed
        Seed of the random generator; the same seed gives byte-identical files.

    Returns
    -------
    dict
        Counts of each layer, today's coverage per district and the cover-all cost estimate.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    net, layout = build_network(rng)
    _drop_fragments(net, layout["island"])
    walk = _Walk(net, layout["island"])
    comms = build_communities(rng, layout)
    facs = build_facilities(rng, comms, walk)
    cands = build_candidates(rng, comms, walk)
    grid = build_population_grid(comms)
    stats = assess(comms, facs, cands, walk)
    # Kindergartens come last, from their own random stream: the rest stays as it was.
    kgs = build_kindergartens(random.Random(seed + 1), comms, walk, first=len(facs) + 1)
    facs += kgs
    budget = round(stats["cover_estimate_yuan"] / 2, -6)

    _write_osm(out / "network.osm", net)
    names = dict(DISTRICTS)
    _write_geojson(out / "districts.geojson", [({"code": d, "name": names[d]}, _polygon(r))
                                               for d, r in _district_rings().items()])
    _write_geojson(out / "streets.geojson", [
        ({"code": s, "name": _street_name(s), "district": s[:6]}, _polygon(r))
        for s, r in _street_rings().items()])
    _write_geojson(out / "communities.geojson", [(
        {"id": c["id"], "name": c["name"], "district": c["district"], "street": c["street"],
         "urban_rural": c["ur"], "population": c["pop"], "pop_60plus": c["pop60"],
         "pop_0_3": c["pop03"], "households": c["hh"]},
        _polygon(c["ring"]) if c["shape"] else _point(c["x"], c["y"])) for c in comms])
    _write_geojson(out / "facilities.geojson", [(
        {"id": f["id"], "name": f["name"], "kind": f["kind"], "floor_area_m2": f["area"],
         "beds": f["beds"], "places": f["places"], "ownership": f["owner"],
         "district": f["district"], "nursing_beds": f["nursing"], "demonstration": f["demo"]},
        _point(f["x"], f["y"])) for f in facs])
    _write_geojson(out / "candidates.geojson", [(
        {"id": c["id"], "name": c["name"], "kinds": c["kinds"], "floor_area_m2": c["area"],
         "acquisition": c["acq"], "cost_yuan": c["cost"]}, _point(c["x"], c["y"])) for c in cands])
    _write_geojson(out / "population.geojson", [(
        {"population": g["pop"], "pop_60plus": g["pop60"], "pop_0_3": g["pop03"]},
        _point(g["x"], g["y"])) for g in grid])
    title = "Demo city 示范城区 (synthetic: 雁塔区/长安区)"
    (out / "scenario.toml").write_text(scenario_text("demo", title), encoding="utf-8")
    (out / "scenario-budget.toml").write_text(
        scenario_text("demo-budget", title + ", half budget 半额预算", "budget", budget),
        encoding="utf-8")
    (out / "scenario-slow.toml").write_text(
        scenario_text("demo-slow", title + ", elderly walk 0.8 m/s 老人步速0.8", elderly_speed=0.8),
        encoding="utf-8")
    (out / "scenario-capacity.toml").write_text(
        scenario_text("demo-capacity", title + ", demand must fit 按容量规划", capacity=True),
        encoding="utf-8")
    (out / "scenario-2020.toml").write_text(
        scenario_text("demo-2020", title + ", 2020 demand 2020年需求", demand_year=2020),
        encoding="utf-8")
    counts = {"nodes": len({n for w, _ in net.ways for n in w}), "ways": len(net.ways),
              "communities": len(comms), "facilities": len(facs), "candidates": len(cands),
              "grid_cells": len(grid), "budget_yuan": budget, "kindergartens": len(kgs),
              "kindergarten_streets": len({_street_of(f["x"], f["y"])[1] for f in kgs})}
    (out / "README.md").write_text(README.format(seed=seed, **counts, **{
        k.replace(" ", "_").replace("/", "_per_"): v for k, v in stats.items()}), encoding="utf-8")
    return counts | stats


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m carecircle.runs.demo --out data/demo``: (re)generate the demo city."""
    parser = argparse.ArgumentParser(description="generate the demo city 生成示范城区数据")
    parser.add_argument("--out", type=Path, default=Path("data/demo"), help="output folder")
    parser.add_argument("--seed", type=int, default=DEMO_SEED)
    args = parser.parse_args(argv)
    for key, value in generate(args.out, seed=args.seed).items():
        print(f"{key:32s} {value:,.3f}" if isinstance(value, float) else f"{key:32s} {value:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
