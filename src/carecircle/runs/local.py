"""Where a run's network work happens: this machine, or a cluster.

The pipeline (:mod:`carecircle.runs.pipeline`, :mod:`carecircle.runs.plan`) asks a
*network engine* (:class:`carecircle.runs.context.Engine`) for the three things that
need the walking network: the service status of communities, the reach matrix
communities x candidate sites, and isochrones.  :class:`LocalEngine` does them here;
its cluster twin is :class:`carecircle.runs.distributed.PartitionedNetwork`, with the
same methods.  Every
other step (indicators, the siting model, costs, outputs) is the same code for
both, which is why the two give byte-identical tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import scipy.sparse as sp

from carecircle.assess.coverage import community_status
from carecircle.network.reach import reach_pairs
from carecircle.network.snapping import snap_points
from carecircle.network.walknet import WalkNetwork


class LocalEngine:
    """The network work of a run, on this machine (a :class:`~carecircle.runs.context.Engine`).

    Parameters
    ----------
    net
        The walking network.
    max_snap_m
        The snap limit (metres): farther points do not join the network.
    progress
        Show a progress bar for the reach searches (the long step at city scale).
    """

    def __init__(self, net: WalkNetwork, *, max_snap_m: float, progress: bool = False) -> None:
        self.net = net
        self.max_snap_m = float(max_snap_m)
        self.progress = progress

    def community_status(
        self, communities: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame | None, **kwargs: Any
    ) -> gpd.GeoDataFrame:
        """:func:`carecircle.assess.coverage.community_status` on the whole network.

        Parameters
        ----------
        communities
            The community layer, in the network's CRS.
        facilities
            The facility layer, or ``None``.
        **kwargs
            Keyword arguments of :func:`carecircle.assess.coverage.community_status`.

        Returns
        -------
        geopandas.GeoDataFrame
            The communities with their status columns.
        """
        return community_status(self.net, communities, facilities, **kwargs)

    def cover(
        self,
        origin_positions: np.ndarray,
        communities: gpd.GeoDataFrame,
        sites: gpd.GeoDataFrame,
        limits: Mapping[str, float],
    ) -> dict[str, sp.csr_matrix]:
        """Reach matrices origins x sites, one per named walking limit.

        Parameters
        ----------
        origin_positions
            Positions (in ``communities``) of the origins, in row order.
        communities
            The community layer.
        sites
            The candidate sites (columns of the matrices).
        limits
            Name -> walking limit in metres.

        Returns
        -------
        dict
            Name -> ``scipy.sparse.csr_matrix`` of 0/1, origins x sites.
        """
        origins = communities.iloc[np.asarray(origin_positions, dtype=np.int64)]
        cs = snap_points(self.net, origins, max_snap_m=self.max_snap_m, source="communities")
        ks = snap_points(self.net, sites, max_snap_m=self.max_snap_m, source="candidates")
        return {name: reach_pairs(self.net, cs, ks, lim, progress=self.progress).to_sparse().tocsr()
                for name, lim in limits.items()}

    def isochrones(
        self,
        points: gpd.GeoDataFrame,
        limit_m: float,
        *,
        buffer_m: float,
        source: str = "",
        ids: Any = None,
        method: str = "streets",
    ) -> gpd.GeoDataFrame:
        """:func:`carecircle.network.isochrones.isochrones` of ``points`` (snapped here).

        Parameters
        ----------
        points
            The sites, in the network's CRS.
        limit_m
            Walking limit in metres.
        buffer_m
            Half-width of street space around the reached segments, metres.
        source
            Layer name for snapping messages.
        ids
            One id per point (default: the ``id`` column).
        method
            ``"streets"`` or ``"hull"`` (see :func:`carecircle.network.isochrones.isochrones`).

        Returns
        -------
        geopandas.GeoDataFrame
            One polygon per point, in the order of ``points``.
        """
        from carecircle.network.isochrones import isochrones

        snapped = snap_points(self.net, points, max_snap_m=self.max_snap_m, source=source)
        return isochrones(self.net, snapped, limit_m, buffer_m=buffer_m, ids=ids, method=method)

