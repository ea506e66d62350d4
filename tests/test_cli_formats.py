"""The commands fit together: every table the tool writes is read by its other commands,
and ``reach``/``isochrones`` write every format (csv, geojson, gpkg, parquet) that the
tool reads back with the same content."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from carecircle.cli import main
from carecircle.inputs.points import read_layer_file, read_points

FORMATS = ("csv", "geojson", "gpkg", "parquet")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def network(demo_scenario) -> Path:
    return demo_scenario.parent / "network.osm"


def _run(*args: str) -> None:
    assert main(["-q", *map(str, args)]) == 0


def _pairs(path: Path) -> pd.DataFrame:
    df = pd.DataFrame(read_layer_file(path)).drop(columns="geometry", errors="ignore")
    df["metres"] = df["metres"].astype(float)
    return df[["origin_id", "site_id", "metres"]].astype({"origin_id": str, "site_id": str})


def test_the_runs_tables_are_read_by_reach_in_every_format(demo_run, network, tmp_path):
    comm, sites = demo_run / "communities.csv", demo_run / "sites.csv"
    # the run's own tables: bilingual headers, WGS-84 lon/lat columns, 编号 ID
    assert len(read_points(comm)) == len(pd.read_csv(comm, encoding="utf-8-sig"))
    assert read_points(sites)["id"].tolist() == pd.read_csv(
        sites, encoding="utf-8-sig", dtype=str)["编号 ID"].tolist()
    tables = {}
    for fmt in FORMATS:
        out = tmp_path / f"pairs.{fmt}"
        _run("reach", "--network", network, "--from", comm, "--to", sites, "--minutes", 15,
             "--speed-mps", 1.0, "-o", out)
        tables[fmt] = _pairs(out)
        if fmt in ("geojson", "gpkg"):  # each pair drawn as a line from origin to site
            lines = read_layer_file(out)
            assert (lines.geom_type == "LineString").all() and len(lines) == len(tables[fmt])
    ref = tables["csv"]
    assert len(ref) > 100
    for fmt, table in tables.items():
        assert table[["origin_id", "site_id"]].values.tolist() == \
            ref[["origin_id", "site_id"]].values.tolist(), fmt
        assert np.allclose(table["metres"], ref["metres"], atol=1e-5), fmt
    # every community the plan serves with a site reaches that site within 15 min at 1.0 m/s
    served = pd.read_csv(comm, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    col = "规划后服务的养老设施 Serving elderly facility after plan"
    site_ids = set(read_points(sites)["id"])
    pairs = set(map(tuple, ref[["origin_id", "site_id"]].values.tolist()))
    # (urban communities: villages are served within the rural limit, a 20-minute walk)
    urban = served["城乡 Urban/rural"] == "urban"
    checked = [(c, f) for c, f, u in zip(served["编号 ID"], served[col], urban, strict=True)
               if f in site_ids and u]
    assert checked and all(pair in pairs for pair in checked)


def test_isochrones_in_every_format_keep_the_sites_columns_and_feed_reach(demo_run, network,
                                                                            tmp_path):
    sites = demo_run / "sites.csv"
    want = pd.read_csv(sites, encoding="utf-8-sig", dtype=str)
    areas = {}
    for fmt in FORMATS:
        out = tmp_path / f"iso.{fmt}"
        _run("isochrones", "--network", network, "--sites", sites, "--minutes", 10,
             "--speed-mps", 1.0, "-o", out)
        iso = read_layer_file(out)
        assert isinstance(iso, gpd.GeoDataFrame), fmt
        assert iso["id"].astype(str).tolist() == want["编号 ID"].tolist(), fmt
        # the input's own columns are kept (name, kinds), beside the isochrone's
        for col in ("名称 Name", "建设类型 Kinds", "minutes", "snapped", "snap_way"):
            assert col in iso.columns, (fmt, col)
        assert iso["名称 Name"].tolist() == want["名称 Name"].tolist(), fmt
        assert (iso.geom_type.isin(["Polygon", "MultiPolygon"])).all(), fmt
        areas[fmt] = iso.to_crs("EPSG:4545").area.to_numpy()
        # an isochrone layer is read back by reach as sites (a point inside each polygon)
        back = tmp_path / f"back-{fmt}.csv"
        _run("reach", "--network", network, "--from", demo_run / "communities.csv",
             "--to", out, "-o", back)
        assert set(_pairs(back)["site_id"]) <= set(want["编号 ID"])
    for fmt in FORMATS:  # the same polygons, whatever the format (CSV WKT to 1e-7 degrees)
        assert np.allclose(areas[fmt], areas["gpkg"], rtol=1e-3), fmt
    # streets reached, not a thin line (a village site on sparse streets reaches ~45,000 m²)
    assert (areas["gpkg"] > 30_000).all() and np.median(areas["gpkg"]) > 100_000


def test_lon_lat_options_name_other_columns(network, tmp_path, demo_scenario):
    comm = gpd.read_file(demo_scenario.parent / "communities.geojson").head(20)
    pts = comm.geometry.representative_point()
    odd = tmp_path / "odd.csv"
    pd.DataFrame({"code": comm["id"], "E": pts.x, "N": pts.y}).to_csv(odd, index=False)
    out = tmp_path / "iso.geojson"
    assert main(["-q", "isochrones", "--network", str(network), "--sites", str(odd),
                 "-o", str(out)]) == 1  # E/N are not found by name
    assert not out.exists()
    _run("isochrones", "--network", network, "--sites", odd, "--lon", "E", "--lat", "N",
         "-o", out)
    assert read_layer_file(out)["id"].tolist() == comm["id"].tolist()


def test_an_unknown_output_format_is_refused_before_any_work(network, tmp_path, capsys,
                                                             demo_scenario):
    comm = demo_scenario.parent / "communities.geojson"
    out = tmp_path / "pairs.xlsx"
    assert main(["-q", "reach", "--network", str(network), "--from", str(comm), "--to", str(comm),
                 "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "unknown output format" in err and ".gpkg" in err and "Traceback" not in err
    assert not out.exists()


def test_the_pairs_table_is_not_places(demo_run, network, tmp_path, capsys):
    """A reach table has no coordinates: used as sites it is refused with a clear message."""
    pairs = tmp_path / "pairs.csv"
    _run("reach", "--network", network, "--from", demo_run / "communities.csv",
         "--to", demo_run / "sites.csv", "-o", pairs)
    capsys.readouterr()
    assert main(["-q", "isochrones", "--network", str(network), "--sites", str(pairs),
                 "-o", str(tmp_path / "x.geojson")]) == 1
    err = capsys.readouterr().err
    assert "no coordinate columns" in err and "--lon/--lat" in err and "Traceback" not in err
