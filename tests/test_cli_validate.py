"""`carecircle validate`: every validation rule against a small bad file made in the test.

A small valid scenario near Xi'an (two districts, a few communities, facilities and
candidates as GeoJSON) is built in ``tmp_path``; each test corrupts one thing and runs
the real command line (``carecircle.cli.main``).  A bad input must exit 1 with a
message that names the file, the feature (row and id), the column, what was found and
what was expected, and must never print a traceback.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from carecircle.cli import main

# Two districts side by side near the Xi'an bell tower.
DISTRICTS = [
    ({"code": "610113", "name": "雁塔区"}, shapely.box(108.94, 34.24, 108.95, 34.26)),
    ({"code": "610103", "name": "碑林区"}, shapely.box(108.95, 34.24, 108.96, 34.26)),
]
COMMUNITIES = [
    ({"id": "C1", "name": "甲社区", "district": "雁塔区", "urban_rural": "urban",
      "population": 1000, "pop_60plus": 200, "pop_0_3": 30}, (108.943, 34.245)),
    ({"id": "C2", "name": "乙村", "district": "610113", "urban_rural": "220",
      "population": 800, "pop_60plus": 150, "pop_0_3": 20}, (108.947, 34.255)),
    ({"id": "C3", "name": "丙社区", "district": "碑林区", "urban_rural": "111",
      "population": 1200, "pop_60plus": 300, "pop_0_3": 40}, (108.953, 34.245)),
    ({"id": "C4", "name": "丁社区", "district": "610103", "urban_rural": "城市",
      "population": 900, "pop_60plus": 180, "pop_0_3": 25}, (108.957, 34.255)),
]
FACILITIES = [
    ({"id": "F1", "name": "养老站", "kind": "elderly", "floor_area_m2": 350}, (108.944, 34.246)),
    ({"id": "F2", "name": "托育园", "kind": "childcare", "floor_area_m2": 250}, (108.954, 34.246)),
    ({"id": "F3", "name": "养老院", "kind": "institution", "floor_area_m2": 2000, "beds": 120},
     (108.956, 34.252)),
]
CANDIDATES = [
    ({"id": "K1", "name": "空置楼", "kinds": "elderly;childcare", "floor_area_m2": 600,
      "acquisition": "renovate", "cost_yuan": 1.5e6}, (108.945, 34.252)),
    ({"id": "K2", "name": "地块", "kinds": "托育", "floor_area_m2": 300,
      "acquisition": "new", "cost_yuan": 2.0e6}, (108.955, 34.243)),
    ({"id": "K3", "name": "租赁房", "kinds": "elderly", "floor_area_m2": 320,
      "acquisition": "lease", "cost_yuan": 4.0e5}, (108.958, 34.257)),
]


def _feature(props: dict, geom) -> dict:
    if isinstance(geom, tuple):
        geom = {"type": "Point", "coordinates": list(geom)}
    elif geom is not None and not isinstance(geom, dict):
        geom = shapely.geometry.mapping(geom)
    return {"type": "Feature", "properties": props, "geometry": geom}


def write_geojson(path: Path, rows: list[tuple[dict, object]]) -> Path:
    """Write features exactly as given (so a test can put any bad value in them)."""
    fc = {"type": "FeatureCollection", "features": [_feature(p, g) for p, g in rows]}
    path.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    return path


def _toml_value(value: str | dict) -> str:
    # JSON strings are valid TOML basic strings; a dict becomes an inline table
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value, ensure_ascii=False)


TINY_OSM = """<?xml version='1.0' encoding='UTF-8'?>
<osm version='0.6'>
  <node id='1' lat='34.244' lon='108.944'/>
  <node id='2' lat='34.248' lon='108.944'/>
  <node id='3' lat='34.252' lon='108.944'/>
  <node id='4' lat='34.256' lon='108.944'/>
  <node id='5' lat='34.244' lon='108.948'/>
  <node id='6' lat='34.248' lon='108.948'/>
  <node id='7' lat='34.252' lon='108.948'/>
  <node id='8' lat='34.256' lon='108.948'/>
  <node id='9' lat='34.244' lon='108.952'/>
  <node id='10' lat='34.248' lon='108.952'/>
  <node id='11' lat='34.252' lon='108.952'/>
  <node id='12' lat='34.256' lon='108.952'/>
  <node id='13' lat='34.244' lon='108.956'/>
  <node id='14' lat='34.248' lon='108.956'/>
  <node id='15' lat='34.252' lon='108.956'/>
  <node id='16' lat='34.256' lon='108.956'/>
  <way id='100'><nd ref='1'/><nd ref='2'/><nd ref='3'/><nd ref='4'/><tag k='highway' v='residential'/></way>
  <way id='101'><nd ref='5'/><nd ref='6'/><nd ref='7'/><nd ref='8'/><tag k='highway' v='residential'/></way>
  <way id='102'><nd ref='9'/><nd ref='10'/><nd ref='11'/><nd ref='12'/><tag k='highway' v='residential'/></way>
  <way id='103'><nd ref='13'/><nd ref='14'/><nd ref='15'/><nd ref='16'/><tag k='highway' v='residential'/></way>
  <way id='104'><nd ref='1'/><nd ref='5'/><nd ref='9'/><nd ref='13'/><tag k='highway' v='residential'/></way>
  <way id='105'><nd ref='2'/><nd ref='6'/><nd ref='10'/><nd ref='14'/><tag k='highway' v='residential'/></way>
  <way id='106'><nd ref='3'/><nd ref='7'/><nd ref='11'/><nd ref='15'/><tag k='highway' v='residential'/></way>
  <way id='107'><nd ref='4'/><nd ref='8'/><nd ref='12'/><nd ref='16'/><tag k='highway' v='residential'/></way>
</osm>
"""


class Case:
    """A scenario folder whose layers a test may corrupt before writing."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.layers = {
            "districts": copy.deepcopy(DISTRICTS),
            "communities": copy.deepcopy(COMMUNITIES),
            "facilities": copy.deepcopy(FACILITIES),
            "candidates": copy.deepcopy(CANDIDATES),
        }
        # validate builds the network too: a tiny walkable street grid inside the districts
        self.inputs = {"network": "network.osm"}
        (folder / "network.osm").write_text(TINY_OSM, encoding="utf-8")
        self.extra_toml = ""

    def path(self, layer: str) -> Path:
        return self.folder / f"{layer}.geojson"

    def write(self) -> Path:
        for layer, rows in self.layers.items():
            if layer not in self.inputs:
                write_geojson(self.path(layer), rows)
                self.inputs[layer] = self.path(layer).name
        lines = ['name = "tiny"', 'crs = "EPSG:4545"', "", "[inputs]"]
        for layer, value in self.inputs.items():
            lines.append(f"{layer} = {_toml_value(value)}")
        toml = self.folder / "scenario.toml"
        toml.write_text("\n".join(lines) + "\n" + self.extra_toml, encoding="utf-8")
        return toml


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return Case(tmp_path)


def run(capsys: pytest.CaptureFixture, toml: Path) -> tuple[int, str]:
    code = main(["validate", str(toml)])
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "Traceback" not in out
    # hide the test's folder (its name holds the test's name) so that a needle such as
    # "swapped" can only match the message itself
    assert str(toml.parent) in out
    return code, out.replace(str(toml.parent), "<dir>")


def line_with(out: str, *needles: str) -> str:
    """The one output line that contains every needle (fails listing the output otherwise)."""
    hits = [ln for ln in out.splitlines() if all(n in ln for n in needles)]
    assert hits, f"no line with {needles!r} in:\n{out}"
    return hits[0]


def error_lines(out: str) -> list[str]:
    return [ln.strip() for ln in out.splitlines() if ln.strip().startswith("ERROR")]


# ---------------------------------------------------------------- the valid base


def test_valid_scenario_exits_0_and_prints_summary(case: Case, capsys) -> None:
    code, out = run(capsys, case.write())
    assert code == 0, out
    assert "EPSG:4545" in out
    assert "OK" in out and "0 error(s)" in out
    # counts per layer and per district
    for layer, n in (("districts", 2), ("communities", 4), ("facilities", 3), ("candidates", 3)):
        assert f"{layer}" in out
        line = line_with(out, layer, "(all 全部)") if layer != "districts" else line_with(out, "区县 districts")
        assert line.split()[-1] == str(n), line
    assert line_with(out, "communities", "雁塔区 (610113)").split()[-1] == "2"
    assert line_with(out, "communities", "碑林区 (610103)").split()[-1] == "2"
    assert line_with(out, "facilities", "碑林区 (610103)").split()[-1] == "2"
    assert not error_lines(out)


def test_automatic_crs_for_xian_is_4545(case: Case, capsys) -> None:
    toml = case.write()
    toml.write_text(toml.read_text(encoding="utf-8").replace('crs = "EPSG:4545"\n', ""),
                    encoding="utf-8")
    code, out = run(capsys, toml)
    assert code == 0, out
    assert "EPSG:4545" in out


# ---------------------------------------------------------------- files


def test_missing_file(case: Case, capsys) -> None:
    case.inputs["facilities"] = "no_such_facilities.geojson"
    code, out = run(capsys, case.write())
    assert code == 1
    line = line_with(out, "ERROR", "no_such_facilities.geojson")
    assert "not found" in line


def test_missing_network_file(case: Case, capsys) -> None:
    case.inputs["network"] = "gone.osm"
    code, out = run(capsys, case.write())
    assert code == 1
    assert "not found" in line_with(out, "ERROR", "gone.osm")


def test_unreadable_file(case: Case, capsys) -> None:
    bad = case.folder / "communities.gpkg"
    bad.write_bytes(b"\x00\xffnot a geopackage at all\x13\x37" * 50)
    case.inputs["communities"] = bad.name
    code, out = run(capsys, case.write())
    assert code == 1
    assert "cannot read" in line_with(out, "ERROR", "communities.gpkg")


def test_empty_layer(case: Case, capsys) -> None:
    case.layers["candidates"] = []
    code, out = run(capsys, case.write())
    assert code == 1
    line = line_with(out, "ERROR", "candidates.geojson", "empty layer")
    assert "found 0 features" in line and "expected at least one feature" in line


# ---------------------------------------------------------------- columns and numbers


def test_missing_column(case: Case, capsys) -> None:
    for props, _ in case.layers["communities"]:
        del props["pop_0_3"]
    code, out = run(capsys, case.write())
    assert code == 1
    line = line_with(out, "ERROR", "communities.geojson", "column 'pop_0_3'", "missing column")
    assert "found columns" in line and "'population'" in line  # lists what is there
    assert "expected 'pop_0_3'" in line and "0-3岁人口" in line  # and the accepted aliases


def test_non_numeric_number(case: Case, capsys) -> None:
    case.layers["communities"][1][0]["population"] = "abc"
    case.layers["communities"][3][0]["pop_60plus"] = "很多"
    code, out = run(capsys, case.write())
    assert code == 1
    line = line_with(out, "ERROR", "communities.geojson", "row 2", "id C2", "column 'population'")
    assert "not a number" in line and "found 'abc'" in line and "expected a number" in line
    line = line_with(out, "ERROR", "communities.geojson", "row 4", "id C4", "column 'pop_60plus'")
    assert "found '很多'" in line


def test_negative_number(case: Case, capsys) -> None:
    case.layers["facilities"][2][0]["floor_area_m2"] = -50
    case.layers["candidates"][0][0]["floor_area_m2"] = 0  # candidates need > 0
    code, out = run(capsys, case.write())
    assert code == 1
    line = line_with(out, "ERROR", "facilities.geojson", "row 3", "id F3", "column 'floor_area_m2'")
    assert "negative" in line and "found -50" in line and "expected >= 0" in line
    line = line_with(out, "ERROR", "candidates.geojson", "row 1", "id K1", "column 'floor_area_m2'")
    assert "found 0" in line and "expected > 0" in line


@pytest.mark.parametrize("col", ["pop_60plus", "pop_0_3"])
def test_group_larger_than_population(case: Case, capsys, col: str) -> None:
    case.layers["communities"][2][0][col] = 5000  # C3 has 1200 residents
    code, out = run(capsys, case.write())
    assert code == 1
    line = line_with(out, "ERROR", "communities.geojson", "row 3", "id C3", f"column '{col}'")
    assert "larger than population" in line
    assert "found 5000 > population 1200" in line and f"expected {col} <= population" in line


def test_duplicate_ids(case: Case, capsys) -> None:
    case.layers["facilities"][2][0]["id"] = "F1"
    code, out = run(capsys, case.write())
    assert code == 1
    line = line_with(out, "ERROR", "facilities.geojson", "row 3", "id F1", "column 'id'")
    assert "duplicate id" in line and "same id as row 1" in line and "expected unique ids" in line


# ---------------------------------------------------------------- geometry


def test_empty_geometry(case: Case, capsys) -> None:
    case.layers["facilities"][1] = (case.layers["facilities"][1][0], None)
    code, out = run(capsys, case.write())
    assert code == 1
    line = line_with(out, "ERROR", "facilities.geojson", "row 2", "id F2", "column 'geometry'")
    assert "empty geometry" in line and "found empty" in line and "expected Point" in line


def test_invalid_geometry_self_intersecting_polygon(case: Case, capsys) -> None:
    bowtie = shapely.Polygon([(108.941, 34.241), (108.949, 34.249), (108.949, 34.241),
                              (108.941, 34.249), (108.941, 34.241)])
    assert not bowtie.is_valid
    case.layers["communities"][0] = (case.layers["communities"][0][0], bowtie)
    code, out = run(capsys, case.write())
    assert code == 1
    line = line_with(out, "ERROR", "communities.geojson", "row 1", "id C1", "column 'geometry'")
    assert "invalid geometry" in line and "Self-intersection" in line and "expected a valid" in line


def test_wrong_geometry_type(case: Case, capsys) -> None:
    line_geom = shapely.LineString([(108.944, 34.246), (108.946, 34.248)])
    case.layers["facilities"][0] = (case.layers["facilities"][0][0], line_geom)
    code, out = run(capsys, case.write())
    assert code == 1
    line = line_with(out, "ERROR", "facilities.geojson", "row 1", "id F1", "column 'geometry'")
    assert "wrong geometry type" in line and "found LineString" in line and "expected Point" in line


def test_no_crs_shapefile_without_prj(case: Case, capsys) -> None:
    props = [p for p, _ in FACILITIES]
    gdf = gpd.GeoDataFrame(props, geometry=[shapely.Point(xy) for _, xy in FACILITIES],
                           crs="EPSG:4326")
    shp = case.folder / "facilities.shp"
    gdf.to_file(shp, engine="pyogrio")
    shp.with_suffix(".prj").unlink()
    case.inputs["facilities"] = shp.name
    code, out = run(capsys, case.write())
    assert code == 1
    line = line_with(out, "ERROR", "facilities.shp", "no CRS")
    assert "expected a .prj" in line and 'crs = "EPSG:4326"' in line


def test_no_crs_is_fixed_by_declaring_it(case: Case, capsys) -> None:
    props = [p for p, _ in FACILITIES]
    gdf = gpd.GeoDataFrame(props, geometry=[shapely.Point(xy) for _, xy in FACILITIES],
                           crs="EPSG:4326")
    shp = case.folder / "facilities.shp"
    gdf.to_file(shp, engine="pyogrio")
    shp.with_suffix(".prj").unlink()
    case.inputs["facilities"] = {"path": shp.name, "crs": "EPSG:4326"}
    code, out = run(capsys, case.write())
    assert code == 0, out


def test_lon_lat_swapped(case: Case, capsys) -> None:
    props, (lon, lat) = case.layers["facilities"][1]
    case.layers["facilities"][1] = (props, (lat, lon))
    code, out = run(capsys, case.write())
    assert code == 1
    line = line_with(out, "ERROR", "facilities.geojson", "row 2", "id F2", "column 'geometry'")
    assert "appear swapped" in line
    assert "found lon 34.24600, lat 108.95400" in line and "expected within 5 km" in line


def test_lon_lat_swapped_in_csv(case: Case, capsys) -> None:
    csv = case.folder / "communities.csv"
    rows = ["id,name,district,urban_rural,population,pop_60plus,pop_0_3,经度,纬度"]
    for props, (lon, lat) in COMMUNITIES:
        if props["id"] == "C3":
            lon, lat = lat, lon
        rows.append(",".join(str(props[k]) for k in ("id", "name", "district", "urban_rural",
                                                     "population", "pop_60plus", "pop_0_3"))
                    + f",{lon},{lat}")
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    case.inputs["communities"] = csv.name
    code, out = run(capsys, case.write())
    assert code == 1
    line = line_with(out, "ERROR", "communities.csv", "row 3", "id C3", "column '经度/纬度'")
    assert "appear swapped" in line
    assert len(error_lines(out)) == 1, out


def test_point_far_outside_study_area(case: Case, capsys) -> None:
    props, _ = case.layers["candidates"][2]
    case.layers["candidates"][2] = (props, (116.397, 39.909))  # Beijing
    code, out = run(capsys, case.write())
    assert code == 1
    line = line_with(out, "ERROR", "candidates.geojson", "row 3", "id K3", "column 'geometry'")
    assert "far outside the study area" in line and "appear swapped" not in line
    assert "found lon 116.39700, lat 39.90900" in line


def test_point_just_outside_districts_goes_to_the_nearest(case: Case, capsys) -> None:
    # 300 m east of 碑林区 (inside the 500 m tolerance): the nearest district, with a warning
    props, _ = case.layers["candidates"][2]
    case.layers["candidates"][2] = (props, (108.9633, 34.25))
    code, out = run(capsys, case.write())
    assert code == 0, out
    line = line_with(out, "WARNING", "candidates.geojson", "row 3", "id K3", "column 'district'")
    assert "nearest district 碑林区 (610103)" in line and "found 30" in line


def test_point_beyond_the_district_tolerance_is_an_error(case: Case, capsys) -> None:
    # 2 km east of the districts: inside the 5 km study-area margin, but in no district
    props, _ = case.layers["candidates"][2]
    case.layers["candidates"][2] = (props, (108.982, 34.25))
    code, out = run(capsys, case.write())
    assert code == 1, out
    line = line_with(out, "ERROR", "candidates.geojson", "row 3", "id K3", "column 'district'")
    assert "in no district" in line and "GCJ-02" in line and "within 500 m" in line


# ---------------------------------------------------------------- vocabularies and references


def test_unknown_facility_kind(case: Case, capsys) -> None:
    case.layers["facilities"][0][0]["kind"] = "hospital"
    code, out = run(capsys, case.write())
    assert code == 1
    line = line_with(out, "ERROR", "facilities.geojson", "row 1", "id F1", "column 'kind'")
    assert "found 'hospital'" in line and "expected elderly, childcare" in line


def test_community_with_unknown_district(case: Case, capsys) -> None:
    case.layers["communities"][3][0]["district"] = "未央区"
    code, out = run(capsys, case.write())
    assert code == 1
    line = line_with(out, "ERROR", "communities.geojson", "row 4", "id C4", "column 'district'")
    assert "unknown district" in line and "found '未央区'" in line and "expected a district code" in line


@pytest.mark.parametrize("kinds", ["", ";"])
def test_candidate_that_may_host_nothing(case: Case, capsys, kinds: str) -> None:
    case.layers["candidates"][1][0]["kinds"] = kinds
    code, out = run(capsys, case.write())
    assert code == 1
    line = line_with(out, "ERROR", "candidates.geojson", "row 2", "id K2", "column 'kinds'")
    assert "may host nothing" in line and "expected at least one of" in line


def test_candidate_with_unknown_kind(case: Case, capsys) -> None:
    case.layers["candidates"][0][0]["kinds"] = "elderly;school"
    code, out = run(capsys, case.write())
    assert code == 1
    line = line_with(out, "ERROR", "candidates.geojson", "row 1", "id K1", "column 'kinds'")
    assert "found 'elderly;school'" in line


@pytest.mark.parametrize("value", ["suburban", "310", "城乡结合"])
def test_unknown_urban_rural_class(case: Case, capsys, value: str) -> None:
    case.layers["communities"][1][0]["urban_rural"] = value
    code, out = run(capsys, case.write())
    assert code == 1
    line = line_with(out, "ERROR", "communities.geojson", "row 2", "id C2", "column 'urban_rural'")
    assert f"found '{value}'" in line and "1xx / 2xx" in line


# ---------------------------------------------------------------- the scenario file


def test_unknown_key_in_scenario(case: Case, capsys) -> None:
    case.extra_toml = "\n[walking]\nminuts = 15\n"
    toml = case.write()
    code, out = run(capsys, toml)
    assert code == 1
    line = line_with(out, "<dir>/scenario.toml", "minuts")
    assert "unknown key" in line and "[walking]" in line and "'minutes'" in line


def test_unknown_top_level_key_in_scenario(case: Case, capsys) -> None:
    case.extra_toml = '\nbudjet = 5\n'
    toml = case.write()
    toml.write_text('budjet = 5\n' + toml.read_text(encoding="utf-8"), encoding="utf-8")
    code, out = run(capsys, toml)
    assert code == 1
    assert "unknown key" in line_with(out, "<dir>/scenario.toml", "budjet")


def test_unknown_key_in_layer_source(case: Case, capsys) -> None:
    case.inputs["districts"] = {"path": "districts.geojson", "cords": "gcj02"}
    write_geojson(case.path("districts"), case.layers["districts"])
    code, out = run(capsys, case.write())
    assert code == 1
    assert "inputs.districts" in line_with(out, "unknown key", "cords")


@pytest.mark.parametrize(
    ("toml_text", "needles"),
    [
        ('\n[walking]\nminutes = "fifteen"\n', ("walking.minutes", "'fifteen'", "expected a number")),
        ("\n[walking]\nspeed_mps = { elderly = \"slow\" }\n",
         ("walking.speed_mps.elderly", "'slow'", "expected a number")),
        ("\n[plan]\ndistrict_targets = 1\n", ("plan.district_targets", "expected true or false")),
        ("\n[targets]\nurban_elderly_coverage = 90\n", ("urban_elderly_coverage", "share 0-1")),
        ('\n[plan]\nmode = "cheapest"\n', ("plan.mode", "'cheapest'", "cover_all")),
        ("\n[plan]\nrequired = \"K1\"\n", ("plan.required", "expected a list")),
    ],
)
def test_bad_value_type_in_scenario(case: Case, capsys, toml_text: str, needles) -> None:
    case.extra_toml = toml_text
    toml = case.write()
    code, out = run(capsys, toml)
    assert code == 1
    line_with(out, "<dir>/scenario.toml", *needles)


def test_bad_coords_value_in_scenario(case: Case, capsys) -> None:
    case.inputs["facilities"] = {"path": "facilities.geojson", "coords": "mars"}
    write_geojson(case.path("facilities"), case.layers["facilities"])
    code, out = run(capsys, case.write())
    assert code == 1
    line_with(out, "inputs.facilities.coords", "'mars'", "gcj02")


def test_scenario_not_toml(case: Case, capsys) -> None:
    toml = case.write()
    toml.write_text("name = [unclosed\n", encoding="utf-8")
    code, out = run(capsys, toml)
    assert code == 1
    assert "not valid TOML" in line_with(out, "<dir>/scenario.toml")


def test_scenario_file_missing(tmp_path: Path, capsys) -> None:
    code, out = run(capsys, tmp_path / "nope.toml")
    assert code == 1
    assert "not found" in line_with(out, "nope.toml")


# ---------------------------------------------------------------- every problem in one run


def test_every_problem_is_reported_in_one_run(case: Case, capsys) -> None:
    comm = case.layers["communities"]
    comm[0][0]["population"] = "n/a"          # non-numeric
    comm[1][0]["pop_60plus"] = 9999           # > population
    comm[2][0]["district"] = "不存在区"         # unknown district
    comm[3][0]["urban_rural"] = "?"            # unknown class
    fac = case.layers["facilities"]
    fac[0][0]["kind"] = "school"              # unknown kind
    fac[1][0]["floor_area_m2"] = -1           # negative
    fac[2] = (fac[2][0], (116.4, 39.9))       # far away
    cand = case.layers["candidates"]
    cand[0][0]["id"] = "K2"                   # duplicate of K2 (row 2 then is the duplicate)
    cand[2][0]["kinds"] = ""                  # may host nothing
    case.inputs["streets"] = "missing_streets.geojson"  # missing file
    code, out = run(capsys, case.write())
    assert code == 1
    expected = [
        ("communities.geojson", "id C1", "column 'population'"),
        ("communities.geojson", "id C2", "column 'pop_60plus'"),
        ("communities.geojson", "id C3", "column 'district'"),
        ("communities.geojson", "id C4", "column 'urban_rural'"),
        ("facilities.geojson", "id F1", "column 'kind'"),
        ("facilities.geojson", "id F2", "column 'floor_area_m2'"),
        ("facilities.geojson", "id F3", "far outside"),
        ("candidates.geojson", "row 2", "id K2", "duplicate id"),
        ("candidates.geojson", "id K3", "may host nothing"),
        ("missing_streets.geojson", "not found"),
    ]
    for needles in expected:
        line_with(out, "ERROR", *needles)
    assert len(error_lines(out)) == len(expected), out
    assert f"{len(expected)} error(s)" in out


def test_missing_column_does_not_hide_other_problems(case: Case, capsys) -> None:
    comm = case.layers["communities"]
    for props, _ in comm:
        del props["urban_rural"]
    comm[1][0]["population"] = "abc"
    comm[3][0]["id"] = "C1"
    comm[2] = (comm[2][0], (34.245, 108.953))  # swapped
    code, out = run(capsys, case.write())
    assert code == 1
    line_with(out, "ERROR", "communities.geojson", "column 'urban_rural'", "missing column")
    line_with(out, "ERROR", "communities.geojson", "id C2", "column 'population'", "not a number")
    line_with(out, "ERROR", "communities.geojson", "row 4", "id C1", "duplicate id")
    line_with(out, "ERROR", "communities.geojson", "id C3", "appear swapped")
    # nothing is reported about the missing column row by row
    assert len(error_lines(out)) == 4, out


def test_summary_says_what_was_converted(case: Case, capsys) -> None:
    from carecircle.inputs.coords import wgs84_to_gcj02

    rows = ["编号,名称,类型,建筑面积,经度,纬度"]
    for props, (lon, lat) in FACILITIES:
        glon, glat = wgs84_to_gcj02(lon, lat)
        rows.append(f"{props['id']},{props['name']},{props['kind']},{props['floor_area_m2']},"
                    f"{float(glon)!r},{float(glat)!r}")
    (case.folder / "amap.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    case.inputs["facilities"] = {"path": "amap.csv", "coords": "gcj02"}
    code, out = run(capsys, case.write())
    assert code == 0, out
    line_with(out, "Converted", "facilities: GCJ02 -> WGS-84 (3 features)")
    assert line_with(out, "facilities", "碑林区 (610103)").split()[-1] == "2"


def test_unreadable_network_is_an_error(case: Case, capsys) -> None:
    toml = case.write()
    (case.folder / "network.osm").write_text("garbage, not xml", encoding="utf-8")
    code, out = run(capsys, toml)
    assert code == 1
    line = line_with(out, "ERROR", "network.osm")
    assert "OpenStreetMap" in line or "network" in line
