"""Readers: the same layer in every format loads to the same canonical frame.

Each layer is written by the test as GeoPackage, GeoJSON, Shapefile, GeoParquet, CSV
with ``lon``/``lat`` and CSV with Chinese columns (经度/纬度/名称 ...), then loaded
through :func:`carecircle.inputs.load.load_inputs`; ids, values and projected coordinates
(EPSG:4545, to 1e-6 m, against pyproj directly) must agree.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from carecircle.errors import InputError
from carecircle.inputs import coords
from carecircle.inputs.load import Inputs, load_inputs, study_crs, summary
from carecircle.inputs.read import read_raster_grid, read_table, rename_columns
from carecircle.inputs.scenario import LayerSource, scenario_from_dict
from carecircle.inputs.validate import parse_urban_rural, split_kinds

TO_M = pyproj.Transformer.from_crs(4326, 4545, always_xy=True)

DISTRICTS = gpd.GeoDataFrame(
    {"code": ["610113", "610103"], "name": ["雁塔区", "碑林区"]},
    geometry=[shapely.box(108.94, 34.24, 108.95, 34.26), shapely.box(108.95, 34.24, 108.96, 34.26)],
    crs="EPSG:4326",
)

# canonical records per layer; coordinates in WGS-84 with many digits so that any
# precision loss in a format would show
LAYERS: dict[str, list[dict]] = {
    "communities": [
        {"id": "610113001001", "name": "甲社区", "district": "610113", "urban_rural": "111",
         "population": 1000, "pop_60plus": 200, "pop_0_3": 30, "households": 400,
         "lon": 108.9431234567891, "lat": 34.2451234567891},
        {"id": "610113001002", "name": "乙村", "district": "610113", "urban_rural": "220",
         "population": 850, "pop_60plus": 170, "pop_0_3": 22, "households": 300,
         "lon": 108.9472345678912, "lat": 34.2559876543219},
        {"id": "610103002001", "name": "丙社区", "district": "610103", "urban_rural": "121",
         "population": 1234, "pop_60plus": 301, "pop_0_3": 41, "households": 510,
         "lon": 108.9533456789123, "lat": 34.2457654321987},
        {"id": "610103002002", "name": "丁村", "district": "610103", "urban_rural": "210",
         "population": 0, "pop_60plus": 0, "pop_0_3": 0, "households": 0,
         "lon": 108.9574567891234, "lat": 34.2554321987654},
    ],
    "facilities": [
        {"id": "F1", "name": "养老站", "kind": "elderly", "floor_area_m2": 350.5, "beds": None,
         "places": None, "ownership": "public", "lon": 108.9441234567891, "lat": 34.2461234567891},
        {"id": "F2", "name": "托育园", "kind": "childcare", "floor_area_m2": 250.0, "beds": None,
         "places": 40, "ownership": "private", "lon": 108.9541234567891, "lat": 34.2461234567891},
        {"id": "F3", "name": "养老院", "kind": "institution", "floor_area_m2": 2000.25, "beds": 120,
         "places": None, "ownership": "public_private", "lon": 108.9561234567891,
         "lat": 34.2521234567891},
    ],
    "candidates": [
        {"id": "K1", "name": "空置楼", "kinds": "elderly;childcare", "floor_area_m2": 600.0,
         "acquisition": "renovate", "cost_yuan": 1500000.0, "lon": 108.9451234567891,
         "lat": 34.2521234567891},
        {"id": "K2", "name": "地块", "kinds": "childcare", "floor_area_m2": 300.0,
         "acquisition": "new", "cost_yuan": 2000000.0, "lon": 108.9551234567891,
         "lat": 34.2431234567891},
        {"id": "K3", "name": "租赁房", "kinds": "elderly", "floor_area_m2": 320.0,
         "acquisition": "lease", "cost_yuan": 400000.0, "lon": 108.9581234567891,
         "lat": 34.2571234567891},
    ],
}
# district of each facility/candidate, derived from the polygons
DERIVED_DISTRICT = {"F1": "610113", "F2": "610103", "F3": "610103",
                    "K1": "610113", "K2": "610103", "K3": "610103"}

# Chinese column names (the aliases of docs/data.md) and Chinese values
ZH_COLUMNS = {
    "id": "编号", "name": "名称", "district": "区县", "urban_rural": "城乡分类",
    "population": "人口", "pop_60plus": "60岁以上人口", "pop_0_3": "0-3岁人口", "households": "户数",
    "kind": "类型", "floor_area_m2": "建筑面积", "beds": "床位", "places": "托位", "ownership": "性质",
    "kinds": "可建类型", "acquisition": "取得方式", "cost_yuan": "费用", "lon": "经度", "lat": "纬度",
}
ZH_VALUES = {
    "district": {"610113": "雁塔区", "610103": "碑林区"},
    "kind": {"elderly": "养老", "childcare": "托育", "institution": "养老机构"},
    "ownership": {"public": "公办", "private": "民办", "public_private": "公建民营"},
    "kinds": {"elderly;childcare": "养老;托育", "childcare": "托育", "elderly": "养老"},
    "acquisition": {"renovate": "改造", "new": "新建", "lease": "租赁"},
}
CANONICAL = {
    "communities": ["id", "name", "district", "urban_rural", "population", "pop_60plus",
                    "pop_0_3", "households"],
    "facilities": ["id", "name", "kind", "floor_area_m2", "beds", "places", "ownership", "district"],
    "candidates": ["id", "name", "kinds", "floor_area_m2", "acquisition", "cost_yuan", "district"],
}
EXPECTED_CLASS = {"111": "urban", "121": "urban", "210": "rural", "220": "rural"}
FORMATS = ("gpkg", "geojson", "shp", "parquet", "csv", "csv_zh")


def _frame(layer: str) -> gpd.GeoDataFrame:
    df = pd.DataFrame(LAYERS[layer])
    geom = gpd.points_from_xy(df.pop("lon"), df.pop("lat"))
    return gpd.GeoDataFrame(df, geometry=geom, crs="EPSG:4326")


def write_layer(layer: str, fmt: str, folder: Path) -> tuple[Path, dict]:
    """Write ``layer`` in format ``fmt``; returns the path and extra LayerSource keys."""
    gdf = _frame(layer)
    if fmt == "gpkg":
        path = folder / f"{layer}.gpkg"
        # a second layer in the same file: the scenario names the one to read
        DISTRICTS.to_file(path, layer="other", driver="GPKG")
        gdf.to_file(path, layer=layer, driver="GPKG")
        return path, {"layer": layer}
    if fmt == "geojson":
        path = folder / f"{layer}.geojson"
        gdf.to_file(path, driver="GeoJSON")
        return path, {}
    if fmt == "shp":
        path = folder / f"{layer}.shp"
        with pytest.warns(UserWarning, match="truncated"):  # DBF names: 10 characters
            gdf.to_file(path, driver="ESRI Shapefile", engine="pyogrio")
        return path, {}
    if fmt == "parquet":
        path = folder / f"{layer}.parquet"
        gdf.to_parquet(path)
        return path, {}
    df = pd.DataFrame(LAYERS[layer])
    path = folder / f"{layer}.csv"
    if fmt == "csv_zh":
        for col, table in ZH_VALUES.items():
            if col in df.columns:
                df[col] = df[col].map(lambda v, t=table: t.get(v, v))
        df = df.rename(columns=ZH_COLUMNS)
        # Excel-style UTF-8 with BOM, as planners' spreadsheets come
        df.to_csv(path, index=False, encoding="utf-8-sig", float_format="%.17g")
    else:
        df.to_csv(path, index=False, float_format="%.17g")
    return path, {}


def load(folder: Path, **inputs) -> Inputs:
    districts = folder / "districts.geojson"
    if not districts.exists():
        DISTRICTS.to_file(districts, driver="GeoJSON")
    data = {
        "name": "t",
        "inputs": {"network": "none.osm", "districts": "districts.geojson", **inputs},
    }
    if "communities" not in inputs:
        path, _ = write_layer("communities", "geojson", folder)
        data["inputs"]["communities"] = path.name
    return load_inputs(scenario_from_dict(data, folder), raise_on_error=False)


def assert_canonical(gdf: gpd.GeoDataFrame, layer: str, tol_m: float = 1e-6) -> None:
    recs = LAYERS[layer]
    assert list(gdf["id"]) == [r["id"] for r in recs]
    for col in CANONICAL[layer]:
        assert col in gdf.columns, col
    for r, (_, row) in zip(recs, gdf.iterrows(), strict=True):
        for col in CANONICAL[layer]:
            got = row[col]
            if col == "district" and layer != "communities":
                want = DERIVED_DISTRICT[r["id"]]
            elif col == "urban_rural":
                want = EXPECTED_CLASS[r[col]]
            else:
                want = r[col]
            if isinstance(want, (int, float)) or want is None:
                if want is None or (isinstance(want, float) and math.isnan(want)):
                    assert pd.isna(got), (r["id"], col, got)
                else:
                    assert float(got) == pytest.approx(float(want), abs=1e-9), (r["id"], col)
            else:
                assert str(got) == want, (r["id"], col, got, want)
        x, y = TO_M.transform(r["lon"], r["lat"])
        assert abs(row.geometry.x - x) < tol_m and abs(row.geometry.y - y) < tol_m, r["id"]


# ---------------------------------------------------------------- every format, every layer


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("layer", ["communities", "facilities", "candidates"])
def test_every_format_loads_the_same_canonical_frame(tmp_path: Path, layer: str, fmt: str) -> None:
    path, extra = write_layer(layer, fmt, tmp_path)
    inputs = load(tmp_path, **{layer: {"path": path.name, **extra}})
    assert not inputs.log.problems, [str(p) for p in inputs.log.problems]
    assert inputs.crs.to_epsg() == 4545
    gdf = inputs[layer]
    assert gdf.crs.to_epsg() == 4545
    assert_canonical(gdf, layer)


def test_projected_input_file_is_reprojected(tmp_path: Path) -> None:
    # the same communities stored in UTM 49N: they end up in the study CRS all the same
    _frame("communities").to_crs(32649).to_file(tmp_path / "c.gpkg", driver="GPKG")
    inputs = load(tmp_path, communities="c.gpkg")
    assert not inputs.log.problems
    assert_canonical(inputs["communities"], "communities", tol_m=1e-4)
    assert any("EPSG:32649 -> EPSG:4545" in c for c in inputs.conversions)


def test_shapefile_truncated_column_names_are_matched(tmp_path: Path) -> None:
    # urban_rural -> urban_rura and acquisition -> acquisitio in the DBF: still read
    path, _ = write_layer("candidates", "shp", tmp_path)
    raw = gpd.read_file(path)
    assert "acquisitio" in raw.columns
    renamed = rename_columns(raw, "candidates", truncated=True)
    assert "acquisition" in renamed.columns and "floor_area_m2" in renamed.columns
    # not for formats whose names are not truncated
    assert "acquisition" not in rename_columns(raw, "candidates").columns


# ---------------------------------------------------------------- column names


def test_chinese_aliases_are_renamed() -> None:
    df = pd.DataFrame({"编号": ["1"], " 名称 ": ["x"], "区县": ["雁塔区"], "城乡分类代码": ["111"],
                       "常住人口": [10], "老年人口": [2], "婴幼儿": [1], "户数": [4]})
    out = rename_columns(df, "communities")
    assert list(out.columns) == ["id", "name", "district", "urban_rural", "population",
                                 "pop_60plus", "pop_0_3", "households"]


def test_canonical_name_wins_over_alias_and_case_is_ignored() -> None:
    df = pd.DataFrame({"Name": ["canonical"], "名称": ["alias"], "ID": ["1"]})
    out = rename_columns(df, "facilities")
    assert out["name"].tolist() == ["canonical"]
    assert "名称" in out.columns  # the alias is left alone
    assert out["id"].tolist() == ["1"]


def test_explicit_column_mapping(tmp_path: Path) -> None:
    df = pd.DataFrame(LAYERS["facilities"]).rename(columns={"kind": "设施类别", "id": "fid"})
    df.to_csv(tmp_path / "f.csv", index=False, float_format="%.17g")
    inputs = load(tmp_path, facilities={"path": "f.csv",
                                        "columns": {"设施类别": "kind", "fid": "id"}})
    assert not inputs.log.problems, [str(p) for p in inputs.log.problems]
    assert_canonical(inputs["facilities"], "facilities")


def test_csv_with_named_lon_lat_columns(tmp_path: Path) -> None:
    df = pd.DataFrame(LAYERS["facilities"]).rename(columns={"lon": "x_wgs", "lat": "y_wgs"})
    df.to_csv(tmp_path / "f.csv", index=False, float_format="%.17g")
    inputs = load(tmp_path, facilities={"path": "f.csv", "lon": "x_wgs", "lat": "y_wgs"})
    assert not inputs.log.problems
    assert_canonical(inputs["facilities"], "facilities")


def test_csv_without_lon_lat_is_an_input_error(tmp_path: Path) -> None:
    pd.DataFrame({"id": ["a"], "east": [1.0]}).to_csv(tmp_path / "f.csv", index=False)
    with pytest.raises(InputError) as exc:
        read_table(LayerSource(path=tmp_path / "f.csv"), "facilities")
    text = str(exc.value)
    assert "f.csv" in text and "longitude/latitude" in text and "经度" in text


def test_filter_selects_rows(tmp_path: Path) -> None:
    path, _ = write_layer("facilities", "geojson", tmp_path)
    gdf = read_table(LayerSource(path=path, filter="kind != 'institution'"), "facilities")
    assert gdf["id"].tolist() == ["F1", "F2"]
    with pytest.raises(InputError, match="filter"):
        read_table(LayerSource(path=path, filter="no_such_col > 1"), "facilities")


# ---------------------------------------------------------------- Chinese coordinate systems


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_gcj02_and_bd09_inputs_are_converted(tmp_path: Path, system: str) -> None:
    df = pd.DataFrame(LAYERS["communities"])
    forward = coords.wgs84_to_gcj02 if system == "gcj02" else coords.wgs84_to_bd09
    df["lon"], df["lat"] = forward(df["lon"].to_numpy(), df["lat"].to_numpy())
    # the offset is hundreds of metres: unconverted points would be far off
    x_off, _ = TO_M.transform(df["lon"][0], df["lat"][0])
    x_true, _ = TO_M.transform(LAYERS["communities"][0]["lon"], LAYERS["communities"][0]["lat"])
    assert abs(x_off - x_true) > 300
    df.to_csv(tmp_path / "c.csv", index=False, float_format="%.17g")
    inputs = load(tmp_path, communities={"path": "c.csv", "coords": system})
    assert not inputs.log.problems
    assert_canonical(inputs["communities"], "communities")
    assert any(f"communities: {system.upper()} -> WGS-84" in c for c in inputs.conversions)


def test_conversion_of_polygons_moves_every_vertex(tmp_path: Path) -> None:
    poly = shapely.box(108.945, 34.245, 108.947, 34.247)
    gcj = shapely.transform(poly, lambda xy: np.column_stack(coords.wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
    gpd.GeoDataFrame({"code": ["1"], "name": ["x"]}, geometry=[gcj], crs=4326).to_file(
        tmp_path / "d.geojson", driver="GeoJSON")
    gdf = read_table(LayerSource(path=tmp_path / "d.geojson", coords="gcj02"), "districts")
    assert gdf.geometry.iloc[0].normalize().equals_exact(poly.normalize(), 1e-9)


def test_declared_gcj02_on_projected_file_is_an_error(tmp_path: Path) -> None:
    _frame("facilities").to_crs(4545).to_file(tmp_path / "f.gpkg", driver="GPKG")
    with pytest.raises(InputError, match="geographic"):
        read_table(LayerSource(path=tmp_path / "f.gpkg", coords="gcj02"), "facilities")


# ---------------------------------------------------------------- polygon communities


def test_polygon_community_uses_a_point_inside(tmp_path: Path) -> None:
    # a U shape: its centroid lies in the notch, outside the polygon
    x0, y0, d = 108.942, 34.242, 0.002
    u = shapely.Polygon([(x0, y0), (x0 + 3 * d, y0), (x0 + 3 * d, y0 + 3 * d),
                         (x0 + 2 * d, y0 + 3 * d), (x0 + 2 * d, y0 + d), (x0 + d, y0 + d),
                         (x0 + d, y0 + 3 * d), (x0, y0 + 3 * d)])
    assert u.is_valid and not u.contains(u.centroid)
    gdf = _frame("communities")
    gdf.loc[0, "geometry"] = u
    gdf.to_file(tmp_path / "c.gpkg", driver="GPKG")
    inputs = load(tmp_path, communities="c.gpkg")
    assert not inputs.log.problems, [str(p) for p in inputs.log.problems]
    comm = inputs["communities"]
    assert (comm.geom_type == "Point").all()
    u_m = gpd.GeoSeries([u], crs=4326).to_crs(4545).iloc[0]
    assert u_m.contains(comm.geometry.iloc[0])
    assert not u_m.contains(u_m.centroid)
    # the polygon is kept for maps; point communities have none
    kept = shapely.from_wkb(comm["area_geometry"].iloc[0])
    assert kept.equals_exact(u_m, 1e-6)
    assert pd.isna(comm["area_geometry"].iloc[1])


# ---------------------------------------------------------------- vocabularies


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("111", "urban"), ("121", "urban"), ("210", "rural"), ("220", "rural"), (111, "urban"),
        (220.0, "rural"), ("urban", "urban"), ("Urban", "urban"), (" 城镇 ", "urban"),
        ("城市", "urban"), ("社区", "urban"), ("rural", "rural"), ("农村", "rural"), ("乡村", "rural"),
        ("村", "rural"), ("310", None), ("11", None), ("1111", None), ("suburb", None), ("", None),
        (None, None), (float("nan"), None),
    ],
)
def test_parse_urban_rural(value: object, expected: str | None) -> None:
    assert parse_urban_rural(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("elderly;childcare", ["elderly", "childcare"]), ("养老、托育", ["elderly", "childcare"]),
        ("托育,综合养老服务中心", ["childcare", "street_centre"]), ("elderly;elderly", ["elderly"]),
        ("Childcare", ["childcare"]), ("", []), (";", []), (None, []),
        ("elderly;school", None), ("hospital", None),
        # since issue 19 a candidate may host an institution or a rural happiness home
        ("养老机构;农村幸福院", ["institution", "rural_home"]), ("institution", ["institution"]),
    ],
)
def test_split_kinds(value: object, expected: list[str] | None) -> None:
    assert split_kinds(value) == expected


# ---------------------------------------------------------------- population grid


def _write_grid_tif(path: Path) -> tuple[np.ndarray, object]:
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin

    x0, y0 = TO_M.transform(108.945, 34.255)
    transform = from_origin(round(x0), round(y0), 100.0, 100.0)
    data = np.array([
        [[10, 20, 0, 40], [50, -1, 70, 80], [90, 100, 110, 120]],   # total (-1 = nodata)
        [[2, 4, 0, 8], [10, -1, 14, 16], [18, 20, 22, 24]],         # 60+
        [[1, 1, 0, 2], [2, -1, 3, 3], [4, 4, 5, 5]],                # 0-3
    ], dtype="float32")
    with rasterio.open(path, "w", driver="GTiff", height=3, width=4, count=3, dtype="float32",
                       crs="EPSG:4545", transform=transform, nodata=-1) as dst:
        dst.write(data)
    return data, transform


def test_geotiff_population_grid_reads_as_points_with_bands(tmp_path: Path) -> None:
    data, transform = _write_grid_tif(tmp_path / "pop.tif")
    grid = read_raster_grid(tmp_path / "pop.tif")
    assert grid.crs.to_epsg() == 4545
    # 12 cells, minus one zero and one nodata
    assert len(grid) == 10
    assert list(grid.columns) == ["population", "pop_60plus", "pop_0_3", "geometry"]
    assert grid["population"].sum() == data[0][data[0] > 0].sum()
    assert grid["pop_60plus"].sum() == data[1][data[0] > 0].sum()
    assert grid["pop_0_3"].sum() == data[2][data[0] > 0].sum()
    # cell (row 2, col 3) holds 120 / 24 / 5 at its centre
    x = transform.c + 3.5 * 100.0
    y = transform.f - 2.5 * 100.0
    cell = grid[(grid.geometry.x == x) & (grid.geometry.y == y)]
    assert cell[["population", "pop_60plus", "pop_0_3"]].values.tolist() == [[120, 24, 5]]


def test_geotiff_grid_through_the_scenario(tmp_path: Path) -> None:
    _write_grid_tif(tmp_path / "pop.tif")
    df = pd.DataFrame(LAYERS["communities"]).drop(columns=["population", "pop_60plus", "pop_0_3"])
    df.to_csv(tmp_path / "c.csv", index=False, float_format="%.17g")
    inputs = load(tmp_path, communities="c.csv", population_grid="pop.tif")
    # community populations are optional when a grid supplies them
    assert not inputs.log.errors, [str(p) for p in inputs.log.problems]
    assert len(inputs["population_grid"]) == 10
    assert inputs["population_grid"]["population"].sum() == 690
    assert inputs["communities"]["population"].isna().all()


def test_single_band_grid(tmp_path: Path) -> None:
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin

    with rasterio.open(tmp_path / "p.tif", "w", driver="GTiff", height=1, width=2, count=1,
                       dtype="int16", crs="EPSG:4545", transform=from_origin(0, 0, 50, 50)) as dst:
        dst.write(np.array([[[5, 7]]], dtype="int16"))
    grid = read_raster_grid(tmp_path / "p.tif")
    assert grid["population"].tolist() == [5.0, 7.0]
    assert "pop_60plus" not in grid.columns
    assert grid.geometry.x.tolist() == [25.0, 75.0] and grid.geometry.y.tolist() == [-25.0, -25.0]


# ---------------------------------------------------------------- CRS of the run


def test_study_crs_from_scenario_must_be_projected(tmp_path: Path) -> None:
    DISTRICTS.to_file(tmp_path / "districts.geojson", driver="GeoJSON")
    write_layer("communities", "geojson", tmp_path)
    base = {"name": "t", "inputs": {"network": "n.osm", "districts": "districts.geojson",
                                    "communities": "communities.geojson"}}
    scen = scenario_from_dict({**base, "crs": "EPSG:32649"}, tmp_path)
    assert study_crs(scen, DISTRICTS).to_epsg() == 32649
    inputs = load_inputs(scen, raise_on_error=False)
    assert inputs.crs.to_epsg() == 32649 and inputs["communities"].crs.to_epsg() == 32649
    # the scenario refuses a geographic crs; study_crs too, for a Scenario built in code
    with pytest.raises(InputError, match="projected"):
        study_crs(scen.replace(crs="EPSG:4326"), DISTRICTS)
    assert study_crs(scenario_from_dict(base, tmp_path), DISTRICTS).to_epsg() == 4545


def test_summary_counts_per_layer_and_district(tmp_path: Path) -> None:
    for layer in ("facilities", "candidates"):
        write_layer(layer, "geojson", tmp_path)
    inputs = load(tmp_path, facilities="facilities.geojson", candidates="candidates.geojson")
    table = summary(inputs)
    assert list(table.columns) == ["图层 Layer", "区县 District", "数量 Count"]
    rows = {(r[0], r[1]): r[2] for r in table.itertuples(index=False)}
    assert rows[("区县 districts", "")] == 2
    assert rows[("社区/村 communities", "(all 全部)")] == 4
    assert rows[("社区/村 communities", "雁塔区 (610113)")] == 2
    assert rows[("现有设施 facilities", "碑林区 (610103)")] == 2
    assert rows[("候选场地 candidates", "雁塔区 (610113)")] == 1


# ---------------------------------------------------------------- spreadsheets as planners have them


def test_gbk_csv_from_chinese_excel(tmp_path: Path) -> None:
    path, _ = write_layer("communities", "csv_zh", tmp_path)
    text = path.read_text(encoding="utf-8-sig")
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(text.encode("gbk"))
    inputs = load(tmp_path, communities="gbk.csv")
    assert not inputs.log.problems, [str(p) for p in inputs.log.problems]
    assert_canonical(inputs["communities"], "communities")
    assert inputs["communities"]["name"].tolist()[0] == "甲社区"


def test_codes_in_a_number_column_with_blanks(tmp_path: Path) -> None:
    # a district code column holding a blank becomes float (610113.0): still matched
    gdf = _frame("communities")
    gdf["district"] = [610113.0, None, 610103.0, 610103.0]
    gdf.to_file(tmp_path / "c.gpkg", driver="GPKG")
    d = DISTRICTS.copy()
    d["code"] = d["code"].astype(float)
    d.to_file(tmp_path / "districts.geojson", driver="GeoJSON")
    inputs = load(tmp_path, communities="c.gpkg")
    assert inputs["districts"]["code"].tolist() == ["610113", "610103"]
    comm = inputs["communities"]
    assert comm["district"].tolist()[::2] == ["610113", "610103"]
    problems = [str(p) for p in inputs.log.problems]
    # only the blank one is reported
    assert len(problems) == 1 and "row 2" in problems[0] and "district" in problems[0]


def test_every_documented_chinese_value_is_accepted() -> None:
    # the vocabularies of docs/data.md, in parentheses after each canonical value
    doc = (Path(__file__).resolve().parents[1] / "docs" / "data.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip().strip("`"): line for line in doc.splitlines()
            if line.startswith("| `")}
    from carecircle.inputs.schema import ACQUISITION, FACILITY_KINDS, OWNERSHIP

    for col, vocab in (("kind", FACILITY_KINDS), ("ownership", OWNERSHIP),
                       ("acquisition", ACQUISITION), ("kinds", FACILITY_KINDS)):
        pairs = re.findall(r"`(\w+)` \(([^)]+)\)", rows[col])
        if col == "kinds":  # "... `street_centre` (`养老`, `托育`, `综合中心`)"
            words = re.findall(r"`([^`]+)`", rows[col].split("(", 1)[1])
            assert split_kinds(";".join(words)) == ["elderly", "childcare", "street_centre",
                                                    "institution", "rural_home"]
            continue
        assert pairs, col
        for canon, words in pairs:
            for word in re.split(r"[/,]\s*", words):
                assert vocab.get(word.strip()) == canon, (col, word)
    for word in re.findall(r"`([^`]+)`", rows["urban_rural"].split("|")[4]):
        expected = {"u": "urban", "r": "rural"}.get(word[0].lower())
        if word in ("城市", "城镇", "1xx"):
            expected = "urban"
        if word in ("农村", "乡村", "2xx"):
            expected = "rural"
        sample = word.replace("xx", "11")
        assert parse_urban_rural(sample) == expected, word
