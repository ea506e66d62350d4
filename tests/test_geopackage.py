"""run.gpkg: layers, counts, CRS, values read back with pyogrio, field aliases read by GDAL."""

from __future__ import annotations

import ctypes
import glob
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest

from carecircle.inputs.scenario import load_scenario
from carecircle.outputs.geopackage import LAYERS, field_guide, write_geopackage
from carecircle.outputs.write import write_run
from carecircle.runs.context import prepare
from carecircle.runs.pipeline import assess_context
from carecircle.runs.plan import plan_context

DOCS = Path(__file__).resolve().parents[1] / "docs" / "outputs.md"


@pytest.fixture(scope="module")
def runs(demo_scenario):
    ctx = prepare(load_scenario(demo_scenario), quiet=True)
    today = assess_context(ctx)
    return today, plan_context(ctx, today, quiet=True)


@pytest.fixture(scope="module")
def gpkg(runs, tmp_path_factory) -> Path:
    return write_geopackage(runs[1], tmp_path_factory.mktemp("gpkg") / "run.gpkg")


def _read(path: Path, layer: str) -> pd.DataFrame:
    return pyogrio.read_dataframe(path, layer=layer)


def test_layers_counts_and_crs(runs, gpkg):
    run = runs[1]
    layers = dict(pyogrio.list_layers(gpkg).tolist())
    assert set(layers) == {"communities", "facilities", "sites", "districts", "streets",
                           "iso_proposed", "iso_existing", "run_info", "field_guide"}
    want = {
        "communities": len(run.communities), "facilities": len(run.inputs["facilities"]),
        "sites": len(run.sites), "districts": len(run.inputs["districts"]),
        "streets": len(run.inputs["streets"]),
        "iso_proposed": sum(len(v) for k, v in run.isochrones.items() if k.startswith("proposed")),
        "iso_existing": sum(len(v) for k, v in run.isochrones.items() if k.startswith("existing")),
    }
    for layer, n in want.items():
        info = pyogrio.read_info(gpkg, layer=layer)
        assert info["features"] == n, layer
        assert info["crs"] == "EPSG:4326", layer
    assert layers["communities"] == "Point" and layers["districts"] == "MultiPolygon"
    assert layers["iso_proposed"] == "MultiPolygon"
    assert layers["run_info"] is None and layers["field_guide"] is None
    info = _read(gpkg, "run_info").set_index("key")["value"]
    assert info["crs_of_this_file"] == "EPSG:4326"
    assert info["crs_of_the_run"] == run.inputs.crs.to_string() == "EPSG:4545"


def test_values_read_back(runs, gpkg):
    run = runs[1]
    comm = _read(gpkg, "communities")
    src = run.communities
    assert comm["id"].tolist() == src["id"].astype(str).tolist()
    assert comm["status_a"].tolist() == src["status_after"].tolist()
    assert (comm["eld_srv_a"].astype(bool) == src["elderly_served_after"].to_numpy()).all()
    # positions: the metric points reprojected to WGS-84
    wgs = src.geometry.to_crs(4326)
    assert np.allclose(comm.geometry.x, wgs.x, atol=1e-9) and np.allclose(comm.geometry.y, wgs.y)
    # reasons: every community has one; off the network it says so, and no other does
    off = comm["status"] == "unreachable"
    assert off.any() and comm.loc[off, "reason"].str.contains("路网").all()
    assert not comm.loc[~off, "reason"].str.contains("路网").any()
    served = src["status_after"].eq("both").to_numpy()
    # served by both: "served" (a village: within the rural travel limit), or served but
    # the facilities within the walk are full
    assert comm.loc[served, "reason"].map(
        lambda t: t == "已覆盖 Served" or "容量已满" in t or "已覆盖(村" in t).all()
    assert comm["reason"].tolist() == src["reason"].tolist()
    # the codes and the capacity columns as the run has them
    for field, col in (("eld_why", "elderly_reason"), ("cc_why_a", "childcare_reason_after")):
        assert comm[field].tolist() == src[col].tolist(), field
    for field, col in (("eld_dem", "elderly_demand"), ("cc_plc_a", "childcare_placed_after")):
        assert np.allclose(comm[field], src[col].astype(float), equal_nan=True), field
    # districts: the indicator table's values, before and after
    dist = _read(gpkg, "districts").set_index("code")
    after = run.districts_after.set_index(["district", "indicator"])
    for code in dist.index:
        assert dist.at[code, "urb_eld_a"] == pytest.approx(after.at[(code, "urban_elderly"), "value"],
                                                           nan_ok=True)
        assert dist.at[code, "cc_plc_as"] == after.at[(code, "childcare_places"), "status"]
        assert dist.at[code, "n_off"] == int(((src["district"] == code)
                                             & (src["status"] == "unreachable")).sum())
    sites = _read(gpkg, "sites")
    assert sites["cost"].sum() == pytest.approx(run.sites["cost_yuan"].sum())
    assert sites["id"].tolist() == run.sites["id"].tolist()
    assert sites["street"].tolist() == run.sites["street"].tolist()
    assert np.allclose(sites["area_need"], run.sites["floor_area_needed_m2"].astype(float))
    assert dist.at["610113", "tuoban_b"] == pytest.approx(
        after.at[("610113", "kindergarten_tuoban"), "value"])


def test_street_indicators_are_recounted_by_hand(runs, gpkg):
    run = runs[1]
    streets = _read(gpkg, "streets").set_index("code")
    comm = run.communities
    assert streets["n_comm"].sum() == comm["street"].notna().sum()
    for code in streets.index[:4]:
        mine = comm[(comm["street"].astype(str) == code) & comm["snapped"]]
        assert streets.at[code, "n_on"] == len(mine)
        assert streets.at[code, "eld_b"] == pytest.approx(mine["elderly_served"].mean())
        assert streets.at[code, "both_a"] == pytest.approx(
            (mine["elderly_served_after"] & mine["childcare_served_after"]).mean())
    # a street that gets a proposed street centre has one after the plan
    from carecircle.assess.indicators import street_of_points

    centres = run.sites[run.sites["kinds"].str.contains("street_centre")]
    got = set(street_of_points(centres, run.inputs["streets"]).astype(str))
    assert got and streets.loc[sorted(got), "centre_a"].astype(bool).all()
    assert streets["new_sites"].sum() == len(run.sites)
    # the street table's 托班 flag and demand, street by street
    table = run.streets[run.streets["street"].isin(streets.index)].set_index("street")
    assert len(table) == len(streets)
    assert (streets.loc[table.index, "tuoban"].astype(bool) == table["kindergarten_tuoban"].astype(bool)).all()
    assert streets["tuoban"].astype(bool).any() and not streets["tuoban"].astype(bool).all()
    assert np.allclose(streets.loc[table.index, "eld_dem"], table["elderly_demand"].astype(float))


def _gdal():
    try:
        import pyogrio as p

        lib = (glob.glob(p.__path__[0] + ".libs/libgdal*.so*")
               + glob.glob(p.__path__[0] + "/../pyogrio.libs/libgdal*.so*"))
        g = ctypes.CDLL(lib[0])
    except (IndexError, OSError):
        pytest.skip("pyogrio's libgdal not found for ctypes")
    vp, cp = ctypes.c_void_p, ctypes.c_char_p
    g.GDALAllRegister()
    for name, res, args in (("GDALOpenEx", vp, [cp, ctypes.c_uint, vp, vp, vp]),
                            ("GDALDatasetGetLayerByName", vp, [vp, cp]),
                            ("OGR_L_GetLayerDefn", vp, [vp]), ("OGR_FD_GetFieldCount", ctypes.c_int, [vp]),
                            ("OGR_FD_GetFieldDefn", vp, [vp, ctypes.c_int]),
                            ("OGR_Fld_GetNameRef", cp, [vp]), ("OGR_Fld_GetAlternativeNameRef", cp, [vp]),
                            ("OGR_Fld_GetComment", cp, [vp]), ("GDALClose", None, [vp])):
        getattr(g, name).restype = res
        getattr(g, name).argtypes = args
    return g


def gdal_aliases(path: Path, layer: str) -> dict[str, tuple[str, str]]:
    """Field -> (alternative name, comment) as GDAL reads them (what QGIS shows as aliases)."""
    g = _gdal()
    ds = g.GDALOpenEx(str(path).encode(), 0x04, None, None, None)
    try:
        fd = g.OGR_L_GetLayerDefn(g.GDALDatasetGetLayerByName(ds, layer.encode()))
        out = {}
        for i in range(g.OGR_FD_GetFieldCount(fd)):
            f = g.OGR_FD_GetFieldDefn(fd, i)
            out[g.OGR_Fld_GetNameRef(f).decode()] = (
                (g.OGR_Fld_GetAlternativeNameRef(f) or b"").decode(),
                (g.OGR_Fld_GetComment(f) or b"").decode())
        return out
    finally:
        g.GDALClose(ds)


def test_gdal_reads_bilingual_aliases(gpkg):
    guide = _read(gpkg, "field_guide")
    for layer, fields in guide.groupby("layer"):
        seen = gdal_aliases(gpkg, layer)
        assert set(fields["field"]) == set(seen), layer
        for r in fields.itertuples():
            assert seen[r.field][0] == r.alias, (layer, r.field)
            assert re.search(r"[\u4e00-\u9fff]", r.alias) and re.search(r"[A-Za-z]", r.alias), r.alias
            assert seen[r.field][1] == (r.description or "")
    assert gdal_aliases(gpkg, "communities")["status_a"][0] == "规划后服务状态代码 Status after the plan (code)"


def test_field_names_short_unique_and_documented():
    doc = DOCS.read_text(encoding="utf-8")
    for layer, (_, _, fields) in LAYERS.items():
        names = [f.name for f in fields]
        assert len(set(names)) == len(names), layer
        assert len({f.alias for f in fields}) == len(fields), layer
        assert all(len(n) <= 10 and re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names), layer
        section = doc.split(f"### `{layer}`", 1)[1].split("### ", 1)[0]
        for f in fields:
            assert f"| `{f.name}` | {f.alias} |" in section, (layer, f.name)
    assert len(field_guide()) == sum(len(v[2]) for v in LAYERS.values())


def test_served_area_surfaces_and_an_assessment(runs, tmp_path):
    today, run = runs
    surf = run.isochrones["existing_elderly"].dissolve().reset_index(drop=True)[["geometry"]]
    with_surface = replace(run, isochrones={**run.isochrones, "served_elderly_today": surf})
    path = write_geopackage(with_surface, tmp_path / "a.gpkg")
    served = _read(path, "served_areas")
    assert served["surface"].tolist() == ["served_elderly_today"]
    assert served["area_km2"].iloc[0] == pytest.approx(surf.area.iloc[0] / 1e6)

    path = write_geopackage(today, tmp_path / "b.gpkg")
    layers = set(pyogrio.list_layers(path)[:, 0])
    assert "sites" not in layers and "iso_proposed" not in layers
    cols = set(pyogrio.read_info(path, layer="communities")["fields"])
    assert "status" in cols and "status_a" not in cols
    assert "centre_a" not in set(pyogrio.read_info(path, layer="streets")["fields"])


def test_write_run_publishes_the_geopackage_and_the_what_if_page(runs, tmp_path):
    files = {p.name for p in write_run(runs[1], tmp_path / "out")}
    assert {"run.gpkg", "what-if.html"} <= files
    manifest = (tmp_path / "out" / "carecircle-manifest.json").read_text(encoding="utf-8")
    assert "run.gpkg" in manifest and "what-if.html" in manifest
    files = {p.name for p in write_run(runs[0], tmp_path / "out")}
    assert "run.gpkg" in files and "what-if.html" not in files
    # the assessment's folder no longer holds the plan's page
    assert not (tmp_path / "out" / "what-if.html").exists()
