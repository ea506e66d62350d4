"""Write an OpenStreetMap ``.osm.pbf`` file from arrays: nodes and tagged ways.

Generated cities (:mod:`carecircle.runs.citygen`) write their walking network in the
format a planner downloads (a Geofabrik or BBBike extract), so that a run reads it
through the same loader as real data.  No library in the project writes PBF
(pyosmium would, one Python object per node, far slower at a million nodes), so
the messages are assembled here with vectorised numpy varints, as
``benchmarks/reach.py`` does for its tiled city.  Format:
https://wiki.openstreetmap.org/wiki/PBF_Format (``DenseNodes`` and ``Way``
messages in zlib-compressed blobs).  The same arrays give the same bytes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

#: Entities per blob (the format allows up to 8,000 per primitive group).
BLOCK = 8000


def _varints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unsigned LEB128 encoding of each value: the bytes, and each value's byte count."""
    v = np.asarray(values, dtype=np.uint64)
    nb = np.ones(len(v), dtype=np.int64)
    t = v >> np.uint64(7)
    while (t > 0).any():
        nb += t > 0
        t >>= np.uint64(7)
    starts = np.r_[0, np.cumsum(nb)[:-1]]
    out = np.empty(int(nb.sum()), dtype=np.uint8)
    for k in range(int(nb.max()) if len(v) else 0):
        sel = nb > k
        byte = ((v[sel] >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8)
        byte |= (nb[sel] > k + 1).astype(np.uint8) << 7
        out[starts[sel] + k] = byte
    return out, nb


def _zigzag(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.int64)
    return ((a << 1) ^ (a >> 63)).view(np.uint64)


def _v(x: int) -> bytes:
    return _varints(np.array([x]))[0].tobytes()


def _field_v(num: int, x: int) -> bytes:
    return _v(num << 3) + _v(x)


def _field_b(num: int, payload: bytes) -> bytes:
    return _v((num << 3) | 2) + _v(len(payload)) + payload


def _packed(num: int, values: np.ndarray) -> bytes:
    return _field_b(num, _varints(values)[0].tobytes())


def _blob(kind: str, payload: bytes) -> bytes:
    blob = _field_v(2, len(payload)) + _field_b(3, zlib.compress(payload, 6))
    header = _field_b(1, kind.encode()) + _field_v(3, len(blob))
    return struct.pack(">I", len(header)) + header + blob


def _ranges(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(s, s + n)`` for each start and length."""
    run_start = np.r_[0, np.cumsum(lens)[:-1]]
    return np.repeat(starts - run_start, lens) + np.arange(int(lens.sum()))


def _scatter(out: np.ndarray, dst: np.ndarray, lens: np.ndarray, src: np.ndarray) -> None:
    """Copy consecutive runs of ``src`` (lengths ``lens``) to ``out`` at offsets ``dst``."""
    if int(lens.sum()):
        out[_ranges(dst, lens)] = src


def _string_table(tag_sets: Sequence[Mapping[str, str]]) -> tuple[bytes, list[bytes]]:
    """The block's string table and each tag set's packed ``keys``/``vals`` fields."""
    strings = [""] + sorted({s for tags in tag_sets for kv in tags.items() for s in kv})
    index = {s: i for i, s in enumerate(strings)}
    table = b"".join(_field_b(1, s.encode()) for s in strings)
    encoded = []
    for tags in tag_sets:
        items = sorted(tags.items())
        keys = np.array([index[k] for k, _ in items], dtype=np.int64)
        vals = np.array([index[v] for _, v in items], dtype=np.int64)
        encoded.append(_packed(2, keys) + _packed(3, vals) if items else b"")
    return table, encoded


def _ways_group(way_ids: np.ndarray, tag_of: np.ndarray, refs: np.ndarray, lens: np.ndarray,
                tag_bytes: list[bytes]) -> bytes:
    """A ``PrimitiveGroup`` of ``Way`` messages, assembled with vectorised numpy."""
    first = np.zeros(len(refs), dtype=bool)
    first[np.r_[0, np.cumsum(lens)[:-1]]] = True
    delta = np.where(first, refs, refs - np.r_[0, refs[:-1]])
    ref_enc, ref_nb = _varints(_zigzag(delta))
    ref_len = np.add.reduceat(ref_nb, np.r_[0, np.cumsum(lens)[:-1]])
    id_enc, id_nb = _varints(way_ids)
    rl_enc, rl_nb = _varints(ref_len)
    sizes = np.array([len(t) for t in tag_bytes], dtype=np.int64)
    tag_len = sizes[tag_of]
    msg_len = 1 + id_nb + tag_len + 1 + rl_nb + ref_len
    ml_enc, ml_nb = _varints(msg_len)
    rec_len = 1 + ml_nb + msg_len
    start = np.r_[0, np.cumsum(rec_len)[:-1]]
    out = np.empty(int(rec_len.sum()), dtype=np.uint8)
    out[start] = (3 << 3) | 2  # PrimitiveGroup.ways, length-delimited
    _scatter(out, start + 1, ml_nb, ml_enc)
    o_id = start + 1 + ml_nb
    out[o_id] = (1 << 3) | 0  # Way.id
    _scatter(out, o_id + 1, id_nb, id_enc)
    o_tag = o_id + 1 + id_nb
    table = np.frombuffer(b"".join(tag_bytes), dtype=np.uint8)
    t_start = np.r_[0, np.cumsum(sizes)[:-1]][tag_of]
    _scatter(out, o_tag, tag_len, table[_ranges(t_start, tag_len)])
    o_ref = o_tag + tag_len
    out[o_ref] = (8 << 3) | 2  # Way.refs, packed
    _scatter(out, o_ref + 1, rl_nb, rl_enc)
    _scatter(out, o_ref + 1 + rl_nb, ref_len, ref_enc)
    return out.tobytes()


def write_osm_pbf(
    path: str | Path,
    node_ids: np.ndarray,
    lonlat: np.ndarray,
    way_refs: np.ndarray,
    way_len: np.ndarray,
    way_tags: np.ndarray,
    tag_sets: Sequence[Mapping[str, str]],
) -> Path:
    """Write nodes and ways as an ``.osm.pbf`` file (nodes in id order, ways numbered from 1).

    Parameters
    ----------
    path
        The file to write (replaced if it exists).
    node_ids
        Positive int64 OSM ids of the nodes, unique.
    lonlat
        ``(n, 2)`` WGS-84 longitude and latitude of each node, degrees (stored at
        1e-7 degree, OSM's resolution).
    way_refs
        The node ids of every way, one way after another.
    way_len
        Number of node references of each way (at least 2).
    way_tags
        For each way, the index of its tags in ``tag_sets``.
    tag_sets
        The distinct tag dictionaries (``{"highway": "residential"}``...).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    ids = np.asarray(node_ids, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    ll = np.asarray(lonlat, dtype=np.float64)[order]
    way_len = np.asarray(way_len, dtype=np.int64)
    way_refs = np.asarray(way_refs, dtype=np.int64)
    way_tags = np.asarray(way_tags, dtype=np.int64)
    if len(ids) and (ids[0] <= 0 or (np.diff(ids) == 0).any()):
        raise ValueError("node ids must be positive and unique")
    if int(way_len.sum()) != len(way_refs) or (way_len < 2).any():
        raise ValueError("way_len must sum to len(way_refs), each way with at least 2 nodes")
    table, tag_bytes = _string_table(tag_sets)
    header = _field_b(4, b"OsmSchema-V0.6") + _field_b(4, b"DenseNodes")
    with open(path, "wb") as fh:
        fh.write(_blob("OSMHeader", header))
        for i in range(0, len(ids), BLOCK):
            sl = slice(i, i + BLOCK)
            la = np.round(ll[sl, 1] * 1e7).astype(np.int64)
            lo = np.round(ll[sl, 0] * 1e7).astype(np.int64)
            dense = (_packed(1, _zigzag(np.diff(ids[sl], prepend=0)))
                     + _packed(8, _zigzag(np.diff(la, prepend=0)))
                     + _packed(9, _zigzag(np.diff(lo, prepend=0))))
            fh.write(_blob("OSMData", _field_b(1, table) + _field_b(2, _field_b(2, dense))))
        ref_start = np.r_[0, np.cumsum(way_len)]
        way_ids = np.arange(1, len(way_len) + 1, dtype=np.int64)
        for i in range(0, len(way_len), BLOCK):
            j = min(i + BLOCK, len(way_len))
            group = _ways_group(way_ids[i:j], way_tags[i:j], way_refs[ref_start[i]:ref_start[j]],
                                way_len[i:j], tag_bytes)
            fh.write(_blob("OSMData", _field_b(1, table) + _field_b(2, group)))
    return path
