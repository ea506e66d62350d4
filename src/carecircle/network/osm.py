"""OpenStreetMap ways from ``.osm`` XML and ``.osm.pbf`` files, the walk filter, and
which ways a person can step onto from the street.

:func:`walkable_ways` decides, from a way's tags, whether pedestrians may use it;
:func:`entry_restrictions` which of the walkable ways a person cannot enter from
where they stand (tunnels, underground levels, private driveways): a walk may pass
through them, but a community or a site joins the network on them only when no other
way is within reach (:mod:`carecircle.network.snapping`).  The readers (:func:`read_osm_xml`, :func:`read_osm_pbf`) return the ways as
:class:`OsmWays`, and :func:`ways_to_edges` cuts them into the edges that
:func:`carecircle.network.walknet.assemble_network` turns into a
:class:`~carecircle.network.walknet.WalkNetwork` (:mod:`carecircle.network.sources`
runs the three).
"""

from __future__ import annotations

import bz2
import gzip
import re
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import ParseError, iterparse

import numpy as np
import pandas as pd
import shapely

from carecircle.errors import InputError, Problem

#: Tags read to decide whether a way can be entered from the street.
ENTRY_TAGS = ("tunnel", "layer", "level", "indoor")

#: Tags read to decide whether pedestrians may use a way.
WALK_TAGS = (
    "highway",
    "area",
    "access",
    "foot",
    "service",
    "sidewalk",
    "sidewalk:both",
    "sidewalk:left",
    "sidewalk:right",
)

# osmnx's network_type="walk" filter (osmnx 2.x, ``_overpass._get_network_filter``),
# applied as the same substring regexes that Overpass applies with ``!~``.
_HIGHWAY_NOT_BUILT = r"abandoned|construction|planned|proposed|razed"
_HIGHWAY_NOT_WALK = r"bus_guideway|cycleway|motor|no|platform|raceway|rest_area|services"
# An explicit pedestrian permission keeps a way that highway/access/service alone
# would drop (a cycleway with foot=designated is a shared path); osmnx drops them.
_FOOT_ALLOWED = r"^(?:yes|designated|permissive)$"

#: Every tag the readers keep.
READ_TAGS = WALK_TAGS + ENTRY_TAGS
# A tunnel that is a passage through a building at street level can be entered.
_TUNNEL_SURFACE = r"^(?:no|building_passage)$"
_ACCESS_CLOSED = r"^(?:private|destination|no|customers|delivery|permit)$"

#: File names :func:`read_osm_xml` reads (compressed or not).
OSM_XML_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".osm.xml", ".xml")


# --------------------------------------------------------------------------- filter


def walkable_ways(tags: pd.DataFrame) -> tuple[np.ndarray, pd.Series, list[str]]:
    """Decide which ways pedestrians may use, with osmnx ``walk`` semantics.

    A way is dropped when (first matching reason wins): it has no ``highway``
    tag; ``area=yes``; ``highway`` is abandoned/construction/planned/proposed/
    razed; ``foot=no``; ``highway`` is a motorway, cycleway, bus guideway,
    platform, raceway, rest area or services; ``access=private``/``no``;
    ``service=private``; or its sidewalk is mapped as a separate way (the
    separate footway is then the walking route).  An explicit
    ``foot=yes/designated/permissive`` overrides the highway, access and
    service rules.  Tag values are matched as substrings, as Overpass does, so
    osmnx's list-valued tags (``"['primary', 'secondary']"``) work.

    Parameters
    ----------
    tags
        One row per way; any subset of :data:`WALK_TAGS` as columns.  A missing
        column means the tag is unknown and no rule uses it; without a
        ``highway`` column every way is kept.

    Returns
    -------
    keep : numpy.ndarray
        Boolean mask, True where the way is walkable.
    reason : pandas.Series
        Why each dropped way was dropped (NA where kept).
    missing : list of str
        Tags of :data:`WALK_TAGS` the input does not carry.
    """
    n = len(tags)
    index = tags.index
    missing = [t for t in WALK_TAGS if t not in tags.columns]

    def col(key: str) -> pd.Series:
        if key in tags.columns:
            # GIS exports write absent tags as empty strings: treat them as absent.
            return tags[key].astype("string").str.strip().replace("", pd.NA)
        return pd.Series(pd.NA, index=index, dtype="string")

    def has(key: str, pattern: str) -> pd.Series:
        return col(key).str.contains(pattern, regex=True, na=False)

    reason = pd.Series(pd.NA, index=index, dtype="object")
    if "highway" not in tags.columns:
        return np.ones(n, dtype=bool), reason, missing

    foot_ok = has("foot", _FOOT_ALLOWED)
    sidewalk_separate = np.zeros(n, dtype=bool)
    for key in ("sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right"):
        sidewalk_separate |= has(key, "separate").to_numpy()
    rules = [
        ("no highway tag", col("highway").isna().to_numpy()),
        ("area=yes", has("area", "yes").to_numpy()),
        (
            "highway not built (construction/proposed/abandoned)",
            has("highway", _HIGHWAY_NOT_BUILT).to_numpy(),
        ),
        ("foot=no", has("foot", "no").to_numpy()),
        (
            "highway closed to walking (motorway/cycleway/...)",
            (has("highway", _HIGHWAY_NOT_WALK) & ~foot_ok).to_numpy(),
        ),
        ("access=private/no", (has("access", r"private|^no$") & ~foot_ok).to_numpy()),
        ("service=private", (has("service", "private") & ~foot_ok).to_numpy()),
        ("sidewalk mapped separately", sidewalk_separate),
    ]
    keep = np.ones(n, dtype=bool)
    values = reason.to_numpy(copy=True)
    for label, hit in rules:
        new = hit & keep
        values[new] = label
        keep &= ~hit
    return keep, pd.Series(values, index=index, dtype="object"), missing


def _first_number(values: pd.Series) -> pd.Series:
    """The first number of each tag value (``"-1;0"`` -> -1); NaN where none."""
    return pd.to_numeric(values.str.extract(r"(-?\d+(?:\.\d+)?)", expand=False), errors="coerce")


def entry_restrictions(tags: pd.DataFrame) -> np.ndarray:
    """Why a person cannot step onto each way from the street (``""`` when they can).

    A way is *not* entered from the street when it is a ``tunnel`` (other than a
    ``building_passage``), lies below ground (``layer`` or ``level`` below 0), is
    ``indoor``, or its access is closed to the public (``access`` or ``foot`` is
    private, destination, no, customers, delivery or permit, unless ``foot`` says
    yes/designated/permissive).  Walks still pass through such ways (an underpass
    is a crossing); only joining the network prefers the others.

    Parameters
    ----------
    tags
        One row per way; any of :data:`READ_TAGS` as columns (a missing column means
        the tag is unknown and no rule uses it).

    Returns
    -------
    numpy.ndarray
        Object array of text, e.g. ``"tunnel, layer -3, access=destination"``.
    """
    n = len(tags)

    def col(key: str) -> pd.Series:
        if key in tags.columns:
            return tags[key].astype("string").str.strip().str.lower().replace("", pd.NA)
        return pd.Series(pd.NA, index=tags.index, dtype="string")

    parts: list[np.ndarray] = []
    tunnel = col("tunnel")
    hit = (tunnel.notna() & ~tunnel.str.contains(_TUNNEL_SURFACE, regex=True, na=False)).to_numpy()
    parts.append(np.where(hit, "tunnel", ""))
    for key in ("layer", "level"):
        raw = col(key)
        below = _first_number(raw).lt(0).fillna(False).to_numpy(dtype=bool)
        parts.append(np.where(below, key + " " + raw.fillna("").to_numpy(dtype=object), ""))
    parts.append(np.where(col("indoor").str.contains(r"^(?:yes|corridor|room|area)$", regex=True,
                                                     na=False).to_numpy(), "indoor", ""))
    foot = col("foot")
    foot_ok = foot.str.contains(_FOOT_ALLOWED, regex=True, na=False).to_numpy()
    for key in ("access", "foot"):
        value = col(key)
        closed = value.str.contains(_ACCESS_CLOSED, regex=True, na=False).to_numpy() & ~foot_ok
        parts.append(np.where(closed, key + "=" + value.fillna("").to_numpy(dtype=object), ""))
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = ", ".join(p[i] for p in parts if p[i])
    return out


def _entry_counts(tags: pd.DataFrame) -> dict[str, int]:
    """How many ways of each kind cannot be entered from the street (for the report)."""
    reasons = pd.Series(entry_restrictions(tags), dtype=object)
    kinds = reasons[reasons != ""].str.split(", ").explode().str.replace(
        r"^(layer|level) .*$", r"\1<0", regex=True)
    return {str(k): int(v) for k, v in kinds.value_counts().sort_index().items()}


def way_types(tags: pd.DataFrame) -> np.ndarray:
    """The ``highway`` value of each way (``""`` when unknown), as object array.

    Parameters
    ----------
    tags
        One row per way.

    Returns
    -------
    numpy.ndarray
    """
    if "highway" not in tags.columns:
        return np.full(len(tags), "", dtype=object)
    return tags["highway"].astype("string").str.strip().fillna("").to_numpy(dtype=object)


# --------------------------------------------------------------------------- readers


@dataclass
class OsmWays:
    """OSM ways as flat vertex arrays (one row of ``tags`` per way).

    A way the extract clipped arrives as several pieces, each a way here with
    the same ``tags["osm_way_id"]``.  ``synthetic_ids``: ``key`` is a quantised
    coordinate, not an OSM node id (the PBF reader cannot see node ids).
    """

    tags: pd.DataFrame
    way: np.ndarray  # int64 way index of each vertex, non-decreasing
    key: np.ndarray  # int64 node identity per vertex (OSM id, or quantised coordinate)
    lonlat: np.ndarray  # float64 (nv, 2)
    synthetic_ids: bool


def _open_maybe_compressed(path: Path):
    name = path.name.lower()
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def read_osm_xml(path: Path) -> OsmWays:
    """Read ways with a ``highway`` tag and their nodes from OSM XML (streamed)."""
    node_id: list[int] = []
    node_lon: list[float] = []
    node_lat: list[float] = []
    refs: list[int] = []
    ref_way: list[int] = []
    rows: list[dict[str, str]] = []
    way_ids: list[int] = []
    try:
        with _open_maybe_compressed(path) as fh:
            for _event, elem in iterparse(fh, events=("end",)):
                tag = elem.tag
                if tag == "node":
                    node_id.append(int(elem.get("id")))
                    node_lon.append(float(elem.get("lon")))
                    node_lat.append(float(elem.get("lat")))
                    elem.clear()
                elif tag == "way":
                    tags = {t.get("k"): t.get("v") for t in elem.iter("tag")}
                    if "highway" in tags:
                        w = len(rows)
                        for nd in elem.iter("nd"):
                            refs.append(int(nd.get("ref")))
                            ref_way.append(w)
                        rows.append({k: tags[k] for k in READ_TAGS if k in tags})
                        way_ids.append(int(elem.get("id")))
                    elem.clear()
                elif tag == "relation":
                    elem.clear()
    except (ParseError, OSError, EOFError, ValueError, TypeError) as exc:
        raise InputError(
            Problem("error", str(path), "cannot read OpenStreetMap XML", found=str(exc))
        ) from exc
    ids = np.asarray(node_id, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    lonlat = np.column_stack([np.asarray(node_lon)[order], np.asarray(node_lat)[order]])
    ref = np.asarray(refs, dtype=np.int64)
    way = np.asarray(ref_way, dtype=np.int64)
    pos = np.searchsorted(ids, ref)
    pos_c = np.minimum(pos, max(len(ids) - 1, 0))
    found = ids[pos_c] == ref if len(ids) else np.zeros(len(ref), dtype=bool)
    # A way clipped by the extract loses nodes: split it there rather than join
    # the surviving pieces with a straight line that is not a street.
    new_way = np.r_[True, way[1:] != way[:-1]] if len(way) else np.zeros(0, bool)
    piece = np.cumsum(new_way | ~found) - 1
    keep = found
    piece_way = np.zeros(piece.max() + 1 if len(piece) else 0, dtype=np.int64)
    piece_way[piece] = way
    tags = pd.DataFrame(rows, columns=[t for t in READ_TAGS if any(t in r for r in rows)])
    tags["osm_way_id"] = way_ids
    piece, piece_idx = np.unique(piece[keep], return_inverse=True)
    return OsmWays(
        tags=tags.iloc[piece_way[piece]].reset_index(drop=True),
        way=piece_idx.astype(np.int64),
        key=ref[keep],
        lonlat=lonlat[pos_c[keep]],
        synthetic_ids=False,
    )


def _hstore_value(other_tags: pd.Series, key: str) -> pd.Series:
    """Extract one key from GDAL's ``other_tags`` hstore text."""
    pattern = '"' + re.escape(key) + r'"=>"((?:[^"\\]|\\.)*)"'
    return other_tags.astype("string").str.extract(pattern, expand=False)


def read_osm_pbf(path: Path) -> OsmWays:
    """Read highway ways from ``.osm.pbf`` with GDAL's OSM driver (through pyogrio).

    GDAL assembles way geometries in C; graph topology comes from vertices
    shared between ways (OSM ways meet at shared nodes, which have identical
    coordinates at OSM's 1e-7 degree resolution).  GDAL does not expose the ids
    of way nodes, so node ids are synthetic.
    """
    import pyogrio

    try:
        df = pyogrio.read_dataframe(
            path,
            layer="lines",
            columns=["osm_id", "highway", "other_tags"],
            where="highway IS NOT NULL",
            use_arrow=True,
        )
    except Exception as exc:  # pyogrio raises several DataSourceError subclasses
        raise InputError(
            Problem("error", str(path), "cannot read OpenStreetMap PBF", found=str(exc))
        ) from exc
    tags = pd.DataFrame({"highway": df["highway"].astype("string")})
    other = df["other_tags"] if "other_tags" in df else pd.Series(pd.NA, index=df.index)
    for key in READ_TAGS[1:]:
        tags[key] = _hstore_value(other, key)
    tags["osm_way_id"] = pd.to_numeric(df["osm_id"], errors="coerce").astype("Int64")
    coords, way = shapely.get_coordinates(np.asarray(df.geometry.values), return_index=True)
    q = np.round(coords * 1e7).astype(np.int64)
    vertex_key = ((q[:, 0] + (1 << 31)) << 32) | (q[:, 1] + (1 << 31))
    return OsmWays(
        tags=tags.reset_index(drop=True),
        way=way.astype(np.int64),
        key=vertex_key,
        lonlat=coords,
        synthetic_ids=True,
    )


def ways_to_edges(
    ways: OsmWays, filter_walkable: bool, report: dict
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Split ways at shared nodes into edges between intersections/ends.

    Parameters
    ----------
    ways
        What :func:`read_osm_xml` or :func:`read_osm_pbf` read.
    filter_walkable
        Drop the ways :func:`walkable_ways` refuses.
    report
        Filled in: ways read, dropped (by reason) and kept, tags missing, node ids.

    Returns
    -------
    tuple of numpy.ndarray or None
        ``node_ids``, ``node_lonlat`` ``(n, 2)``, ``edge_u``, ``edge_v`` (node
        indices) and the edges' LineStrings in lon/lat, as
        :func:`carecircle.network.walknet.assemble_network` takes them, and each
        edge's row in ``ways.tags``; ``None`` when no way has an edge left.
    """
    # Clipped ways arrive as several pieces: count OSM ways, not pieces.
    way_id = (
        ways.tags["osm_way_id"] if "osm_way_id" in ways.tags else pd.Series(range(len(ways.tags)))
    )
    first_piece = ~way_id.duplicated().to_numpy()
    report["ways_read"] = int(first_piece.sum())
    if filter_walkable:
        keep_way, reason, missing = walkable_ways(ways.tags)
        report["ways_dropped_not_walkable"] = {
            str(k): int(v)
            for k, v in reason[first_piece].dropna().value_counts().sort_index().items()
        }
        report["tags_missing"] = missing
    else:
        keep_way = np.ones(len(ways.tags), dtype=bool)
        report["ways_dropped_not_walkable"] = {}
        report["tags_missing"] = []
    report["ways_walkable"] = int((keep_way & first_piece).sum())
    report["ways_no_street_entry"] = _entry_counts(ways.tags[keep_way & first_piece])
    sel = keep_way[ways.way] if len(ways.way) else np.zeros(0, bool)
    way, key, lonlat = ways.way[sel], ways.key[sel], ways.lonlat[sel]
    # Drop a vertex repeating the previous one in the same way (zero-length step).
    if len(way):
        rep = np.r_[False, (key[1:] == key[:-1]) & (way[1:] == way[:-1])]
        way, key, lonlat = way[~rep], key[~rep], lonlat[~rep]
    # A way reduced to a single vertex (clipped, or all one node) has no edge.
    if len(way):
        size = np.bincount(way)
        long_enough = size[way] >= 2
        way, key, lonlat = way[long_enough], key[long_enough], lonlat[long_enough]
    if len(way) == 0:
        return None
    first = np.r_[True, way[1:] != way[:-1]]
    last = np.r_[way[1:] != way[:-1], True]
    uniq, first_idx, inv, counts = np.unique(
        key, return_index=True, return_inverse=True, return_counts=True
    )
    split = first | last | (counts[inv] > 1)
    s = np.flatnonzero(split)
    same = way[s[:-1]] == way[s[1:]]
    a, b = s[:-1][same], s[1:][same]
    lens = b - a + 1
    edge_of_vertex = np.repeat(np.arange(len(a)), lens)
    start = np.repeat(a - np.r_[0, np.cumsum(lens)[:-1]], lens)
    vidx = start + np.arange(lens.sum())
    geoms = shapely.linestrings(lonlat[vidx], indices=edge_of_vertex)
    eu, ev = inv[a], inv[b]
    used = np.unique(np.r_[eu, ev])
    remap = np.full(len(uniq), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    node_lonlat = lonlat[first_idx[used]]
    if ways.synthetic_ids:
        node_ids = -np.arange(1, len(used) + 1, dtype=np.int64)
        report["node_ids"] = "synthetic (negative): the reader does not expose OSM node ids"
    else:
        node_ids = uniq[used].astype(np.int64)
        report["node_ids"] = "osm"
    return node_ids, node_lonlat, remap[eu], remap[ev], geoms, way[a]
