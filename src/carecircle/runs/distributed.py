"""The same run on a Dask cluster: partitions with a halo, one task per partition.

A city fits on one machine; a province does not.  :func:`run_distributed` runs a
scenario on an existing Dask scheduler (``dask.distributed``) and returns the same
:class:`~carecircle.outputs.results.RunOutputs` as the single-machine pipeline, so
:func:`carecircle.outputs.write.write_run` writes byte-identical tables.

How the work is cut (see :mod:`carecircle.network.partition` for the proof that the halo
loses nothing):

1. The communities are split into cores (by district, or into equal-count pieces
   along a Hilbert curve); every facility and candidate site is given to the
   partition of its nearest community, for its isochrone.
2. The driver cuts, per partition, the sub-network within the halo (walking
   limit + 2 x snap limit) of the partition's extent and scatters only that piece
   to a worker (``Client.scatter``), where it stays in memory; no worker ever
   holds the whole network.  Later tasks of that partition run where it lives.
3. Per partition, as tasks: snapping, today's service status of the core
   communities (nearest qualifying facility among the facilities within the
   walking limit of the core), the isochrones of the sites it owns, and the
   reach pairs core community x candidate.  The driver puts the pieces back in
   the order of the inputs.
4. The optimiser.  District targets couple every community of a district and a
   city budget couples everything, and reach crosses partition borders, so the
   siting model does not split into independent blocks in general; and where it
   does, solving blocks apart may pick a different one of several equally cheap
   plans.  So the reach matrix is computed distributed and assembled, and the
   model (small after its reductions: thousands of rows, not millions) is solved
   once on the driver, exactly as on one machine.  The city-wide budget is thus
   coordinated, not split.  :func:`independent_blocks` reports how far the
   coverage structure separates.
5. The status after the plan (recomputed from scratch with the new facilities)
   and the proposed isochrones run as tasks again.

What runs on the driver: reading the inputs and the network (from its cache), the
population grid, the district table, the siting model, writing the outputs.

With ``scheduler=None`` the single-machine path runs unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from carecircle.assess.coverage import community_status, network_extent
from carecircle.errors import CarecircleError
from carecircle.network.partition import (
    Partition,
    PartitionBy,
    extract_subnetwork,
    halo_m,
    make_partitions,
    representative_points,
    sites_within,
)
from carecircle.network.snapping import snap_points
from carecircle.network.walknet import WalkNetwork

if TYPE_CHECKING:
    from carecircle.runs.context import Context

__all__ = [
    "PartitionedNetwork",
    "connect",
    "independent_blocks",
    "partitioned_engine",
]


# --------------------------------------------------------------------------- cluster


@contextmanager
def connect(scheduler: Any, *, timeout: str = "20s") -> Iterator[Any]:
    """A ``distributed.Client`` for a scheduler given as an address, a client or ``local[:N]``.

    Parameters
    ----------
    scheduler
        A ``distributed.Client`` (used as is, not closed), a scheduler address
        (``tcp://host:8786``; connected and closed afterwards), or ``"local"`` /
        ``"local:N"``: a ``LocalCluster`` of N worker processes (one thread each)
        started here and stopped afterwards.
    timeout
        How long to try to reach a scheduler address.

    Raises
    ------
    CarecircleError
        When the scheduler cannot be reached.
    """
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        yield scheduler
        return
    text = str(scheduler).strip()
    if text == "local" or text.startswith("local:"):
        n = int(text.split(":", 1)[1]) if ":" in text else None
        with (
            LocalCluster(
                n_workers=n, processes=True, threads_per_worker=1, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(text, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise CarecircleError(
            f"cannot connect to the Dask scheduler {text!r} 无法连接 Dask 调度器: {exc}; expected "
            "an address such as tcp://host:8786 (start one with `dask scheduler`) or local:N"
        ) from exc
    with client:
        yield client


# --------------------------------------------------------------------------- tasks
# Module-level functions: the workers unpickle them by name.


def _status_task(net: WalkNetwork, communities, facilities, kwargs: dict):
    return community_status(net, communities, facilities, **kwargs)


def _snap_ok_task(net: WalkNetwork, layers: list, max_snap_m: float) -> list[np.ndarray]:
    return [snap_points(net, g, max_snap_m=max_snap_m, source=s).ok for g, s in layers]


def _directed_pairs(net: WalkNetwork, origins, sites, limit: float, from_sites: bool):
    """(origin, site) within ``limit``, searching from the side the whole run chose.

    The single-machine run chooses the direction by the counts of the *whole*
    layers, so a partition must use that choice, not its own; one thread, as the
    worker's other cores run other partitions.
    """
    from carecircle.network.reach import directed_pairs

    o_idx, s_idx, _ = directed_pairs(net, origins, sites, limit, from_sites, threads=1)
    return o_idx, s_idx


def _pairs_task(
    net: WalkNetwork, origins, sites, limits: dict, max_snap_m: float, from_sites: bool
) -> dict:
    os_ = snap_points(net, origins, max_snap_m=max_snap_m, source="communities")
    ss = snap_points(net, sites, max_snap_m=max_snap_m, source="candidates")
    return {k: _directed_pairs(net, os_, ss, lim, from_sites) for k, lim in limits.items()}


def _iso_task(
    net: WalkNetwork, points, limit_m: float, buffer_m: float, max_snap_m: float, source: str, ids,
    method: str = "streets",
):
    from carecircle.network.isochrones import isochrones

    snapped = snap_points(net, points, max_snap_m=max_snap_m, source=source)
    return isochrones(net, snapped, limit_m, buffer_m=buffer_m, ids=ids, threads=1, method=method)


def _size_task(net: WalkNetwork) -> dict:
    return dict(net.report.get("partition", {"nodes": 0, "edges": 0}))


# --------------------------------------------------------------------------- engine


class PartitionedNetwork:
    """A walking network cut into partitions that live on the workers of a Dask cluster.

    A network engine (:class:`~carecircle.runs.context.Engine`) like
    :class:`~carecircle.runs.local.LocalEngine`, with the same results.

    Parameters
    ----------
    client
        A ``distributed.Client``.
    net
        The whole walking network (sent once to every worker).
    communities
        The community layer whose rows are split into cores; every method that
        takes communities takes these rows (or a subset by position).
    reach_m
        The largest walking limit any call will use (metres).
    max_snap_m
        The snap limit.
    sites
        Layers of sites (``{"facilities": gdf, "candidates": gdf}``) whose
        isochrones will be drawn: each widens its owner partition's extent.
    by, n_partitions
        How to cut: see :func:`carecircle.network.partition.assign_communities`.

    Attributes
    ----------
    partitions
        The :class:`~carecircle.network.partition.Partition` list.
    subnets
        One future per partition: its sub-network, held on a worker.
    """

    def __init__(
        self,
        client: Any,
        net: WalkNetwork,
        communities: gpd.GeoDataFrame,
        *,
        reach_m: float,
        max_snap_m: float,
        sites: Mapping[str, gpd.GeoDataFrame | None] | None = None,
        by: PartitionBy = "auto",
        n_partitions: int | None = None,
    ) -> None:
        self.client = client
        self.crs = net.crs
        self.reach_m = float(reach_m)
        self.max_snap_m = float(max_snap_m)
        self.halo_m = halo_m(reach_m, max_snap_m)
        self.n_communities = len(communities)
        self.partitions: list[Partition] = make_partitions(
            communities,
            reach_m=self.reach_m,
            halo=self.halo_m,
            sites=sites,
            by=by,
            n_partitions=n_partitions,
            crs=net.crs,
        )
        # Each worker receives only its pieces (cut here), never the whole network:
        # broadcasting the whole network made distribution grow with the number of
        # workers and needed the whole network's memory on every worker.
        self.subnets = [
            client.scatter(extract_subnetwork(net, p.extent, p.halo_m), hash=False)
            for p in self.partitions
        ]
        # Communities are judged against the whole network's extent, not a piece's.
        self.extent = network_extent(net) or False
        self._extents = shapely.STRtree(
            [
                p.extent if not shapely.is_empty(p.extent) else shapely.Point(np.inf, np.inf)
                for p in self.partitions
            ]
        )

    # -- bookkeeping

    def summary(self) -> pd.DataFrame:
        """One row per partition: label, core communities, sub-network nodes and edges."""
        sizes = self.client.gather(
            [self.client.submit(_size_task, s, pure=False) for s in self.subnets]
        )
        return pd.DataFrame(
            {
                "partition": [p.label for p in self.partitions],
                "communities": [p.n_core for p in self.partitions],
                "nodes": [s.get("nodes", 0) for s in sizes],
                "edges": [s.get("edges", 0) for s in sizes],
            }
        )

    def describe(self) -> str:
        """A progress line and the per-partition table (bilingual)."""
        workers = len(self.client.scheduler_info().get("workers", {}))
        return (f"Dask: {len(self.partitions)} partitions 分区 on {workers} workers, "
                f"halo 缓冲 {self.halo_m:g} m\n{self.summary().to_string(index=False)}")

    def close(self) -> None:
        """Release the sub-networks held on the workers."""
        for f in self.subnets:
            f.release()
        self.subnets = []

    def _check_limit(self, limit_m: float) -> None:
        if limit_m > self.reach_m + 1e-9:
            raise ValueError(
                f"walking limit {limit_m} m exceeds the partitions' reach "
                f"{self.reach_m} m: rebuild PartitionedNetwork with a larger reach_m"
            )

    def _check_communities(self, communities) -> None:
        if len(communities) != self.n_communities:
            raise ValueError(
                f"expected the {self.n_communities} partitioned communities, got {len(communities)}"
            )

    def owners(self, points: Any) -> np.ndarray:
        """For each feature, the partition whose extent is nearest (ties: lowest index).

        Raises ``ValueError`` for a feature too far from every extent for its
        isochrone to lie inside that partition's sub-network.
        """
        pts = representative_points(points, self.crs)
        owner = np.zeros(len(pts), dtype=np.int64)
        ok = np.flatnonzero([p is not None for p in pts])
        if len(ok):
            (qi, ti), d = self._extents.query_nearest(
                pts[ok], all_matches=True, return_distance=True
            )
            order = np.lexsort((ti, qi))
            qi, ti, d = qi[order], ti[order], d[order]
            first = np.r_[True, qi[1:] != qi[:-1]]
            owner[ok[qi[first]]] = ti[first]
            worst = float(d[first].max(initial=0.0))
            if worst + max(self.reach_m, self.max_snap_m) > self.halo_m + 1e-9:
                raise ValueError(
                    f"a point lies {worst:.0f} m from every partition: its isochrone "
                    "would cross the halo; pass it in `sites` when partitioning"
                )
        return owner

    # -- work

    def community_status(
        self, communities: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame | None, **kwargs: Any
    ) -> gpd.GeoDataFrame:
        """:func:`carecircle.assess.coverage.community_status`, one task per partition.

        Parameters
        ----------
        communities
            The partitioned rows (any extra columns).
        facilities
            The facility layer, or ``None``; each partition takes those within reach.
        **kwargs
            Keyword arguments of the single-machine function.

        Returns
        -------
        geopandas.GeoDataFrame
            The same rows, order, index, columns and values as on one machine.
        """
        self._check_communities(communities)
        kwargs = {**kwargs, "extent": self.extent}
        speed = kwargs.get("speed_mps") or {"elderly": 1.0, "childcare": 1.2}
        self._check_limit(kwargs.get("minutes", 15.0) * 60.0 * max(speed.values()))
        if kwargs.get("rural_limit_m") is not None:
            self._check_limit(float(kwargs["rural_limit_m"]))
        futs = []
        for p, sub in zip(self.partitions, self.subnets, strict=True):
            fac = None
            if facilities is not None:
                fac = facilities.iloc[sites_within(p, facilities, crs=self.crs)]
            futs.append(
                self.client.submit(
                    _status_task, sub, communities.iloc[p.core], fac, kwargs, pure=False
                )
            )
        parts = self.client.gather(futs)
        return _reassemble(parts, [p.core for p in self.partitions])

    def snapped_ok(
        self, layers: Mapping[str, gpd.GeoDataFrame], *, max_snap_m: float | None = None
    ) -> dict[str, np.ndarray]:
        """Whether each feature snaps, computed by its owner partition.

        Parameters
        ----------
        layers
            Layer name -> features.
        max_snap_m
            The snap limit (default: the engine's).

        Returns
        -------
        dict
            Layer name -> boolean array, one per feature.
        """
        snap = self.max_snap_m if max_snap_m is None else float(max_snap_m)
        owners = {name: self.owners(g) for name, g in layers.items()}
        futs = []
        for i, sub in enumerate(self.subnets):
            lay = [(g.iloc[np.flatnonzero(owners[n] == i)], n) for n, g in layers.items()]
            futs.append(self.client.submit(_snap_ok_task, sub, lay, snap, pure=False))
        res = self.client.gather(futs)
        out = {}
        for k, (name, g) in enumerate(layers.items()):
            ok = np.zeros(len(g), dtype=bool)
            for i, r in enumerate(res):
                ok[owners[name] == i] = r[k]
            out[name] = ok
        return out

    def cover(
        self,
        origin_positions: np.ndarray,
        communities: gpd.GeoDataFrame,
        sites: gpd.GeoDataFrame,
        limits: Mapping[str, float],
    ) -> dict[str, sp.csr_matrix]:
        """Coverage matrices origins x sites per limit, as ``reach_pairs(...).to_sparse().tocsr()``.

        Parameters
        ----------
        origin_positions
            Positions (in the partitioned communities) of the origins, in the
            matrix's row order (increasing).
        communities
            The partitioned communities.
        sites
            The sites (all of them; each partition takes those within the limit).
        limits
            Name -> walking limit in metres.

        Returns
        -------
        dict
            Name -> ``scipy.sparse.csr_matrix`` of 0/1, origins x sites.
        """
        self._check_communities(communities)
        for lim in limits.values():
            self._check_limit(lim)
        origin_positions = np.asarray(origin_positions, dtype=np.int64)
        if np.any(np.diff(origin_positions) <= 0):
            raise ValueError("origin_positions must be strictly increasing")
        row_of = np.full(self.n_communities, -1, dtype=np.int64)
        row_of[origin_positions] = np.arange(len(origin_positions))
        # The single-machine search direction depends on the counts of the whole layers.
        in_origins = np.zeros(self.n_communities, dtype=bool)
        in_origins[origin_positions] = True
        ok = self.snapped_ok({"communities": communities, "sites": sites})
        from_sites = int(ok["sites"].sum()) <= int((ok["communities"] & in_origins).sum())
        futs, metas = [], []
        for p, sub in zip(self.partitions, self.subnets, strict=True):
            core = p.core[in_origins[p.core]]
            spos = sites_within(p, sites, max(limits.values()), crs=self.crs)
            if not len(core) or not len(spos):
                continue
            metas.append((row_of[core], spos))
            futs.append(
                self.client.submit(
                    _pairs_task,
                    sub,
                    communities.iloc[core],
                    sites.iloc[spos],
                    dict(limits),
                    self.max_snap_m,
                    from_sites,
                    pure=False,
                )
            )
        res = self.client.gather(futs)
        shape = (len(origin_positions), len(sites))
        out = {}
        for name in limits:
            rows = [m[0][r[name][0]] for m, r in zip(metas, res, strict=True)]
            cols = [m[1][r[name][1]] for m, r in zip(metas, res, strict=True)]
            o = np.concatenate(rows) if rows else np.zeros(0, np.int64)
            s = np.concatenate(cols) if cols else np.zeros(0, np.int64)
            order = np.lexsort((s, o))
            data = np.ones(len(o), dtype=np.int8)
            out[name] = sp.csr_matrix((data, (o[order], s[order])), shape=shape).tocsr()
        return out

    def isochrones(
        self,
        points: gpd.GeoDataFrame,
        limit_m: float,
        *,
        buffer_m: float,
        max_snap_m: float | None = None,
        source: str = "",
        ids: Any = None,
        method: str = "streets",
    ) -> gpd.GeoDataFrame:
        """:func:`carecircle.network.isochrones.isochrones` of snapped ``points``, by owner partition.

        Parameters
        ----------
        points
            The sites, in the network's CRS.
        limit_m
            Walking limit in metres (at most the engine's ``reach_m``).
        buffer_m
            Half-width of street space around the reached segments, metres.
        max_snap_m
            The snap limit (default: the engine's).
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
        self._check_limit(limit_m)
        snap = self.max_snap_m if max_snap_m is None else float(max_snap_m)
        ids = np.asarray(points["id"].to_numpy() if ids is None else ids, dtype=object)
        owner = self.owners(points)
        futs, pos = [], []
        for i, sub in enumerate(self.subnets):
            mine = np.flatnonzero(owner == i)
            if not len(mine):
                continue
            pos.append(mine)
            futs.append(
                self.client.submit(
                    _iso_task,
                    sub,
                    points.iloc[mine],
                    float(limit_m),
                    float(buffer_m),
                    snap,
                    source,
                    ids[mine],
                    method,
                    pure=False,
                )
            )
        parts = self.client.gather(futs)
        out = _reassemble(parts, pos)
        return out.reset_index(drop=True)


def _reassemble(parts: list, positions: list[np.ndarray]):
    """Concatenate per-partition frames and restore the input order by position."""
    pos = np.concatenate(positions) if positions else np.zeros(0, np.int64)
    whole = pd.concat(parts) if parts else pd.DataFrame()
    if len(pos) != len(whole):
        raise RuntimeError("a partition returned the wrong number of rows")
    order = np.argsort(pos, kind="stable")
    if np.any(pos[order] != np.arange(len(pos))):
        raise RuntimeError("partitions do not cover every row exactly once")
    return whole.iloc[order]


# --------------------------------------------------------------------------- pipeline


def partitioned_engine(
    ctx: Context, client: Any, *, by: PartitionBy = "auto", n_partitions: int | None = None
) -> PartitionedNetwork:
    """The network engine of a prepared run (:class:`~carecircle.runs.context.Context`) on ``client``.

    Every layer whose isochrones or reach will be asked for widens the partitions.

    Parameters
    ----------
    ctx
        The prepared run.
    client
        A ``distributed.Client``.
    by, n_partitions
        How to cut: see :func:`carecircle.network.partition.assign_communities`.

    Returns
    -------
    PartitionedNetwork
        Use it as ``dataclasses.replace(ctx, engine=...)``; :meth:`~PartitionedNetwork.close`
        it afterwards.
    """
    w = ctx.scenario.walking
    # villages' elderly care is judged at the rural travel limit: the halo must hold it
    reach = max(*(w.limit_m(k) for k in ("elderly", "childcare")), ctx.scenario.rural.limit())
    inputs = ctx.inputs
    return PartitionedNetwork(
        client,
        ctx.net,
        inputs["communities"],
        reach_m=reach,
        max_snap_m=w.max_snap_m,
        sites={"facilities": inputs.get("facilities"), "candidates": inputs.get("candidates")},
        by=by,
        n_partitions=n_partitions,
    )


def independent_blocks(
    cover: Mapping[str, sp.spmatrix], community_district: np.ndarray | None = None
) -> tuple[int, np.ndarray]:
    """How far a siting model separates: connected blocks of communities and candidates.

    Two communities are in one block when a candidate can serve both, and (when
    ``community_district`` is given, for district targets) when they share a
    district.  A city budget joins everything into one block.

    Parameters
    ----------
    cover
        Kind -> coverage matrix communities x candidates (nonzero: can serve).
    community_district
        District code per community, or ``None``.

    Returns
    -------
    n_blocks : int
    community_block : numpy.ndarray
        Block label per community.
    """
    from scipy.sparse.csgraph import connected_components

    mats = [sp.csr_matrix(m) for m in cover.values()]
    n, j = mats[0].shape
    pattern = sum((m != 0).astype(np.int8) for m in mats)
    # Bipartite graph communities (0..n-1) + candidates (n..n+j-1), plus district hubs.
    blocks = [[sp.csr_matrix((n, n)), pattern], [pattern.T, sp.csr_matrix((j, j))]]
    g = sp.bmat(blocks, format="csr")
    if community_district is not None:
        codes, d = np.unique(np.asarray(community_district).astype(str), return_inverse=True)
        hub = sp.csr_matrix((np.ones(n), (np.arange(n), d)), shape=(n, len(codes)))
        g = sp.bmat(
            [
                [g, sp.vstack([hub, sp.csr_matrix((j, len(codes)))])],
                [None, sp.csr_matrix((len(codes), len(codes)))],
            ],
            format="csr",
        )
    k, labels = connected_components(g, directed=False)
    lab = labels[:n]
    _, lab = np.unique(lab, return_inverse=True)
    return int(lab.max(initial=-1) + 1), lab
