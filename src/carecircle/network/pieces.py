"""A walking network in pieces: which communities it leaves off, said at ``validate``.

A network is reduced to its largest connected piece (:mod:`carecircle.network.walknet`).
When a data error cuts it in two (the ways across a river or a rail line missing), the
communities of the other piece are then farther than the snap limit from the network
and cannot be assessed.  That must never pass silently: :func:`network_problems` gives a
warning per dropped piece that holds communities (its size, where it is, how many
communities), and one for communities off the network for other reasons.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyproj
import shapely

from carecircle.errors import Problem
from carecircle.network.snapping import snap_points
from carecircle.network.walknet import WalkNetwork


def _examples(ids: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(i) for i in ids[:limit])
    return shown + (" ..." if len(ids) > limit else "")


def network_problems(
    net: WalkNetwork,
    communities: Any,
    *,
    max_snap_m: float,
    fname: str,
    layer_file: str = "communities",
    outside: np.ndarray | None = None,
) -> list[Problem]:
    """Warnings for communities the walking network leaves off.

    Parameters
    ----------
    net
        The network as loaded (its ``report["pieces"]`` lists the dropped pieces).
    communities
        The validated communities (GeoDataFrame with ``id``).
    max_snap_m
        The snap limit (``[walking] max_snap_m``).
    fname
        The network file, for messages.
    layer_file
        The communities file, for messages.
    outside
        Communities outside the network's extent (they are not assessed either,
        see :func:`carecircle.assess.coverage.outside_extent`).

    Returns
    -------
    list of Problem
        One warning per dropped piece holding communities; one for the other
        communities farther than ``max_snap_m`` from the network.
    """
    if communities is None or len(communities) == 0:
        return []
    snapped = snap_points(net, communities, max_snap_m=max_snap_m, id_column="id", source=layer_file)
    off = ~snapped.ok & np.isfinite(snapped.connector)
    if outside is not None:
        off |= np.asarray(outside, dtype=bool)
    if not off.any():
        return []
    ids = snapped.ids[off]
    xy = snapped.point_xy if snapped.point_xy is not None else snapped.snap_xy
    pts = shapely.points(xy[off])
    counted = np.zeros(len(ids), dtype=bool)
    problems = []
    pieces = list(net.report.get("pieces") or [])
    to_wgs = pyproj.Transformer.from_crs(net.crs, 4326, always_xy=True)
    n_pieces = int(net.report.get("components", len(pieces) + 1))
    for k, piece in enumerate(pieces, start=2):
        hull = shapely.from_wkt(piece["hull_wkt"])
        near = shapely.dwithin(hull, pts, max_snap_m) & ~counted
        if not near.any():
            continue
        counted |= near
        c = hull.centroid
        lon, lat = to_wgs.transform(c.x, c.y)
        problems.append(Problem(
            "warning", fname,
            f"the walking network is in {n_pieces} pieces and only the largest is used 路网不连通, "
            f"仅使用最大连通部分: piece {k} ({piece['nodes']:,} nodes, around lon {lon:.5f}, lat {lat:.5f}) "
            f"holds {int(near.sum())} communities that cannot be assessed 这些社区无法评估",
            found=f"communities {_examples(ids[near])} ({layer_file})",
            expected="one connected network: check for missing ways (bridges, crossings, a cut extract)"))
    rest = ~counted
    if rest.any():
        problems.append(Problem(
            "warning", layer_file,
            f"{int(rest.sum())} of {len(communities)} communities are outside the walking network's "
            f"extent or farther than {max_snap_m:g} m from it, and cannot be assessed "
            f"社区在路网范围外或距路网过远, 无法评估",
            column="geometry", found=f"communities {_examples(ids[rest])}",
            expected=f"within {max_snap_m:g} m of a walkable street (max_snap_m), or a network "
                     "extract that covers them"))
    return problems
