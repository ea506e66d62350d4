"""The run on a Dask cluster gives the single-machine result.

* A hand-built street where the only facility that serves a community lies across
  the partition border, inside the community's 15-minute circle: the partitioned
  reach equals the whole-network reach, and a cut without the halo would lose it.
* A random perturbed grid cut into Hilbert tiles: status, reach matrix and
  isochrones equal the whole network's, value for value.
* The demo city (4 tiles across its two districts) and central Xi'an (one partition
  per district) on a ``LocalCluster`` of 2 worker processes: every output table is
  byte-identical to the single-machine run's.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point

from carecircle.assess.coverage import community_status
from carecircle.inputs.scenario import load_scenario
from carecircle.network.isochrones import isochrones
from carecircle.network.partition import (
    assign_communities,
    extract_subnetwork,
    halo_m,
    make_partitions,
    sites_within,
)
from carecircle.network.reach import reach_pairs
from carecircle.network.snapping import snap_points
from carecircle.network.walknet import network_from_edges
from carecircle.runs.distributed import PartitionedNetwork, independent_blocks
from carecircle.runs.pipeline import assess, run_distributed, run_scenario

distributed = pytest.importorskip("distributed", reason="the `dask` extra is not installed")
pytest.importorskip("dask_geopandas", reason="the `dask` extra is not installed")

CRS = "EPSG:4545"
X0, Y0 = 587_000.0, 3_790_000.0
KW = {
    "minutes": 15.0,
    "speed_mps": {"elderly": 1.0, "childcare": 1.2},
    "min_area_m2": {"elderly": 300.0, "childcare": 200.0},
    "max_snap_m": 300.0,
}


def P(x: float, y: float) -> Point:
    return Point(X0 + x, Y0 + y)


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


# ----------------------------------------------------------------- hand-built border case


def _street():
    """A 3 km street along y = 0 (a node every 100 m) with a loop north of x = 1500."""
    xs = np.arange(0, 3001, 100.0)
    xy = [[X0 + x, Y0] for x in xs]
    u = list(range(len(xs) - 1))
    v = list(range(1, len(xs)))
    # Loop: (1500, 0) -> (1500, 400) -> (1900, 400) -> (1900, 0).
    n = len(xy)
    xy += [[X0 + 1500, Y0 + 400], [X0 + 1900, Y0 + 400]]
    u += [15, n, n + 1]
    v += [n, n + 1, 19]
    return network_from_edges(np.array(xy), np.array(u), np.array(v), crs=CRS)


def _border_layers():
    comm = gpd.GeoDataFrame(
        {
            "id": ["a1", "a2", "b1"],
            "district": ["A", "A", "B"],
            "households": [350.0, np.nan, 100.0],
        },
        geometry=[P(1300, 20), P(200, -30), P(2700, 10)],
        crs=CRS,
    )
    fac = gpd.GeoDataFrame(
        {
            "id": ["f_small", "f_e", "f_c"],
            "kind": ["elderly", "elderly", "childcare"],
            "floor_area_m2": [250.0, 400.0, 250.0],
        },
        geometry=[P(1000, 10), P(2000, 20), P(2340, -15)],
        crs=CRS,
    )
    cand = gpd.GeoDataFrame(
        {"id": ["k_far", "k1", "k2"]}, geometry=[P(2950, 5), P(1900, -5), P(600, 0)], crs=CRS
    )
    return comm, fac, cand


def test_the_border_case_is_what_it_claims():
    net = _street()
    comm, fac, _ = _border_layers()
    full = community_status(net, comm, fac, **KW).set_index("id")
    # a1 (district A, x = 1300) is served only by facilities of district B (x >= 1500):
    # elderly f_e: 20 + 700 + 20 = 740 m <= 900; childcare f_c: 20 + 1040 + 15 = 1075 m <= 1080.
    assert full.loc["a1", "elderly_facility"] == "f_e"
    assert full.loc["a1", "elderly_m"] == pytest.approx(740.0)
    assert full.loc["a1", "childcare_facility"] == "f_c"
    assert full.loc["a1", "childcare_m"] == pytest.approx(1075.0)
    # The district border x = 1500 is 200 m from a1: inside its 900 m circle.
    parts = make_partitions(comm, reach_m=1080.0, halo=halo_m(1080.0, 300.0), by="district")
    a = next(p for p in parts if p.label == "district A")
    assert sorted(comm["id"].iloc[a.core]) == ["a1", "a2"]
    assert a.hull.distance(P(1500, 0)) < 900
    # Cut at the core without a halo, a1 loses both facilities.
    bare = extract_subnetwork(net, a.hull, 0.0)
    near = fac.iloc[sites_within(a, fac, 0.0)]
    cut = community_status(bare, comm.iloc[a.core], near, **KW).set_index("id")
    assert not cut.loc["a1", "elderly_served"] and not cut.loc["a1", "childcare_served"]


def test_partition_border_through_a_walking_circle_keeps_the_reach(client):
    net = _street()
    comm, fac, cand = _border_layers()
    full = community_status(net, comm, fac, **KW)
    eng = PartitionedNetwork(
        client,
        net,
        comm,
        reach_m=1080.0,
        max_snap_m=300.0,
        sites={"facilities": fac, "candidates": cand},
        by="district",
    )
    try:
        assert [p.label for p in eng.partitions] == ["district A", "district B"]
        dist = eng.community_status(comm, fac, **KW)
        pd.testing.assert_frame_equal(dist, full)
        assert dist.set_index("id").loc["a1", "elderly_facility"] == "f_e"
        # Reach of candidates across the border: the pairs of reach_pairs, per kind.
        cover = eng.cover(np.arange(3), comm, cand, {"elderly": 900.0, "childcare": 1080.0})
        cs = snap_points(net, comm, max_snap_m=300.0)
        ks = snap_points(net, cand, max_snap_m=300.0)
        for kind, lim in (("elderly", 900.0), ("childcare", 1080.0)):
            want = reach_pairs(net, cs, ks, lim).to_sparse().tocsr()
            assert (cover[kind] != want).nnz == 0, kind
        # a1 (row 0) reaches k1 (x = 1900, across the border): 20 + 600 + 5 = 625 m.
        assert cover["elderly"][0, 1] == 1 and cover["elderly"][0, 2] == 1
        # Isochrones of the facilities, drawn by their owner partitions, are the same polygons.
        iso = eng.isochrones(fac, 900.0, buffer_m=25.0, ids=fac["id"].to_numpy())
        want = isochrones(
            net,
            snap_points(net, fac, max_snap_m=300.0),
            900.0,
            buffer_m=25.0,
            ids=fac["id"].to_numpy(),
        )
        assert list(iso["id"]) == list(want["id"])
        assert (shapely.to_wkb(iso.geometry.values) == shapely.to_wkb(want.geometry.values)).all()
    finally:
        eng.close()


# ----------------------------------------------------------------- random grid, many tiles


def _grid(seed: int = 7, n: int = 28, step: float = 80.0):
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.arange(n), np.arange(n))
    xy = np.column_stack([gx.ravel() * step, gy.ravel() * step]) + rng.normal(0, 12, (n * n, 2))
    idx = np.arange(n * n).reshape(n, n)
    u = np.r_[idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    v = np.r_[idx[:, 1:].ravel(), idx[1:, :].ravel()]
    keep = rng.random(len(u)) > 0.12
    net = network_from_edges(xy + [X0, Y0], u[keep], v[keep], crs=CRS)
    side = (n - 1) * step

    def pts(k):
        return [P(x, y) for x, y in rng.uniform(-150, side + 150, (k, 2))]

    comm = gpd.GeoDataFrame(
        {
            "id": [f"c{i}" for i in range(160)],
            "district": np.where(rng.random(160) < 0.5, "D1", "D2"),
            "households": rng.integers(50, 900, 160).astype(float),
        },
        geometry=pts(160),
        crs=CRS,
    )
    fac = gpd.GeoDataFrame(
        {
            "id": [f"f{i}" for i in range(30)],
            "kind": rng.choice(["elderly", "street_centre", "childcare", "institution"], 30),
            "floor_area_m2": rng.choice([150.0, 250.0, 400.0], 30),
        },
        geometry=pts(30),
        crs=CRS,
    )
    cand = gpd.GeoDataFrame({"id": [f"k{i}" for i in range(50)]}, geometry=pts(50), crs=CRS)
    return net, comm, fac, cand


def test_hilbert_tiles_give_the_whole_network_result(client):
    net, comm, fac, cand = _grid()
    eng = PartitionedNetwork(
        client,
        net,
        comm,
        reach_m=1080.0,
        max_snap_m=300.0,
        sites={"facilities": fac, "candidates": cand},
        by="tiles",
        n_partitions=5,
    )
    try:
        summary = eng.summary()
        assert len(summary) == 5 and summary["communities"].sum() == len(comm)
        # Each tile's sub-network is a real cut: smaller than the whole.
        assert (summary["nodes"] < net.n_nodes).any()
        full = community_status(net, comm, fac, **KW)
        pd.testing.assert_frame_equal(eng.community_status(comm, fac, **KW), full)
        assert full["elderly_served"].any() and not full["elderly_served"].all()
        on = np.flatnonzero(full["snapped"].to_numpy())
        cover = eng.cover(on, comm, cand, {"elderly": 900.0, "childcare": 1080.0})
        cs = snap_points(net, comm.iloc[on], max_snap_m=300.0)
        ks = snap_points(net, cand, max_snap_m=300.0)
        for kind, lim in (("elderly", 900.0), ("childcare", 1080.0)):
            want = reach_pairs(net, cs, ks, lim).to_sparse().tocsr()
            assert want.nnz > 0 and (cover[kind] != want).nnz == 0, kind
        iso = eng.isochrones(cand, 900.0, buffer_m=25.0)
        want = isochrones(net, ks, 900.0, buffer_m=25.0, ids=cand["id"].to_numpy())
        pd.testing.assert_frame_equal(iso.drop(columns="geometry"), want.drop(columns="geometry"))
        assert (shapely.to_wkb(iso.geometry.values) == shapely.to_wkb(want.geometry.values)).all()
    finally:
        eng.close()


def test_subnetwork_keeps_every_route_within_the_limit():
    """Distances within L from each core community agree with the whole network
    (networkx on both), and edges beyond the halo are not kept."""
    import networkx as nx

    from carecircle.network.walknet import to_networkx

    net, comm, _, _ = _grid(seed=3)
    parts = make_partitions(
        comm, reach_m=900.0, halo=halo_m(900.0, 300.0), by="tiles", n_partitions=4
    )
    g = to_networkx(net)
    for part in parts:
        sub = extract_subnetwork(net, part.extent, part.halo_m)
        kept = sub.report["edge_index"]
        # Every kept edge comes within the halo; every edge that does is kept.
        d = shapely.distance(net.edge_geometry, part.extent)
        assert set(np.flatnonzero(d <= part.halo_m)) <= set(kept)
        assert np.all(d[kept] < part.halo_m + net.edge_length[kept] + 1e-6)
        # The adjacency is the whole one restricted to the kept nodes.
        nodes = sub.report["node_index"]
        assert (sub.csr != net.csr[nodes][:, nodes]).nnz == 0
        gs = to_networkx(sub)
        for pos in part.core[:5]:
            c = comm.geometry.iloc[pos]
            src = int(np.argmin(np.hypot(*(net.node_xy - [c.x, c.y]).T)))
            if np.hypot(*(net.node_xy[src] - [c.x, c.y])) > 300:
                continue
            want = nx.single_source_dijkstra_path_length(g, src, cutoff=900.0, weight="length")
            local = int(np.flatnonzero(nodes == src)[0])
            got = nx.single_source_dijkstra_path_length(gs, local, cutoff=900.0, weight="length")
            assert {int(nodes[k]): v for k, v in got.items()} == want


# ----------------------------------------------------------------- partitioning rules


def test_every_community_is_in_exactly_one_core():
    _, comm, _, _ = _grid()
    comm = comm.copy()
    comm.loc[5, "geometry"] = None  # no geometry: joins the first core, reaches nothing
    for by, n in (("district", None), ("district", 1), ("tiles", 3), ("tiles", 7), ("auto", None)):
        cores = assign_communities(comm, by=by, n_partitions=n)
        pos = np.concatenate([c for _, c in cores])
        assert sorted(pos) == list(range(len(comm))), (by, n)
    tiles = assign_communities(comm, by="tiles", n_partitions=4)
    # 159 located communities in equal runs of the curve; the one without geometry joins tile 1.
    assert [len(c) for _, c in tiles] == [41, 40, 40, 39]
    assert [lab for lab, _ in assign_communities(comm, by="auto")] == ["district D1", "district D2"]
    assert len(assign_communities(comm, by="district", n_partitions=1)) == 1
    assert halo_m(900.0, 300.0) == 1500.0
    with pytest.raises(ValueError):
        assign_communities(comm, by="county")


def test_independent_blocks():
    import scipy.sparse as sp

    # c0-k0, c1-k0 (one block); c2-k1 (another); c3 reaches nothing.
    e = sp.csr_matrix(np.array([[1, 0], [1, 0], [0, 1], [0, 0]]))
    n, lab = independent_blocks({"elderly": e, "childcare": e})
    assert n == 3 and lab[0] == lab[1] != lab[2] != lab[3]
    # A district target joins c2 and c3 with c0's district.
    n, lab = independent_blocks({"elderly": e}, np.array(["A", "B", "A", "A"]))
    assert n == 1


# ----------------------------------------------------------------- whole runs, byte for byte


def _compare_folders(one: Path, two: Path) -> list[str]:
    names = sorted(p.name for p in one.iterdir() if p.is_file())
    assert names == sorted(p.name for p in two.iterdir() if p.is_file())
    csvs = [n for n in names if n.endswith(".csv")]
    assert {"communities.csv", "districts.csv", "sites.csv", "cost_total.csv"} <= set(csvs)
    for name in csvs:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    # the run log differs only in the solver's wall time and the stage times
    secs = re.compile(rb"gap ([0-9.]+)%, [0-9.]+ s")
    stages = re.compile(rb"^Stage times .*$", re.MULTILINE)
    a, b = (stages.sub(b"", (d / "validation.txt").read_bytes()) for d in (one, two))
    assert secs.sub(rb"gap \1%, T s", a) == secs.sub(rb"gap \1%, T s", b), "validation.txt"
    # folium names its elements with random ids on every run; the rest is identical.
    ids = re.compile(rb"_[0-9a-f]{32}")
    a, b = (
        ids.sub(b"_ID", (one / "map.html").read_bytes()),
        ids.sub(b"_ID", (two / "map.html").read_bytes()),
    )
    assert a == b, "map.html"
    return csvs


@pytest.mark.slow
def test_demo_on_a_local_cluster_is_byte_identical(client, tmp_path, demo_scenario):
    scen = load_scenario(demo_scenario)
    one = run_scenario(scen.replace(output_dir=tmp_path / "one"), quiet=True)
    two = run_scenario(
        scen.replace(output_dir=tmp_path / "two"),
        scheduler=client,
        n_partitions=4,
        partition_by="tiles",
        quiet=True,
    )
    csvs = _compare_folders(one.out_dir, two.out_dir)
    assert "cost_sites.csv" in csvs and len(csvs) >= 7
    comm = pd.read_csv(two.out_dir / "communities.csv", encoding="utf-8-sig")
    assert len(comm) == 245
    # the library call (no outputs written) gives the same assessment
    run = run_distributed(scen, client, n_partitions=3, partition_by="tiles", plan=False,
                          quiet=True)
    assert run.districts_after is None and run.sites is None
    here = assess(scen)
    assert run.communities["status"].tolist() == here.communities["status"].tolist()
    assert run.communities["elderly_m"].equals(here.communities["elderly_m"])
    assert (run.communities["status"] == "both").sum() < len(comm)  # the plan is not a no-op


@pytest.mark.slow
def test_central_xian_by_district_is_byte_identical(client, tmp_path, xian_example):
    scen = load_scenario(xian_example)
    one = run_scenario(scen.replace(output_dir=tmp_path / "one"), quiet=True)
    two = run_scenario(scen.replace(output_dir=tmp_path / "two"), scheduler=client,
                       partition_by="district", quiet=True)
    _compare_folders(one.out_dir, two.out_dir)
    comm = pd.read_csv(two.out_dir / "communities.csv", encoding="utf-8-sig")
    assert len(comm) == 1500 and comm["区县代码 District code"].nunique() >= 3


def test_an_unreachable_scheduler_is_a_clear_error():
    from carecircle.errors import CarecircleError
    from carecircle.runs.distributed import connect

    with pytest.raises(CarecircleError, match="tcp://127.0.0.1:9.*dask scheduler"), \
            connect("tcp://127.0.0.1:9", timeout="1s"):
        pass
