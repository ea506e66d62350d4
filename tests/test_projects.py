"""The plan's major projects (attachment 2): loading, totals, parsing, counting as built."""

from __future__ import annotations

import csv
from decimal import Decimal
from importlib import resources
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from carecircle.errors import ValidationError
from carecircle.inputs.projects import (
    ADDITION_COLUMNS,
    FACILITY_COLUMNS,
    PROJECT_COLUMNS,
    load_major_projects,
    parse_district,
    parse_street,
    projects_as_built,
)

BUNDLED = resources.files("carecircle").joinpath("data", "major_projects.csv")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "plan" / "major_projects.csv"


@pytest.fixture(scope="module")
def projects() -> pd.DataFrame:
    return load_major_projects()


def bundled_rows() -> list[dict]:
    with resources.as_file(BUNDLED) as p, open(p, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_counts_and_columns(projects):
    assert list(projects.columns) == list(PROJECT_COLUMNS)
    assert (projects["sector"] == "elderly").sum() == 24
    assert (projects["sector"] == "childcare").sum() == 3
    assert projects["id"].tolist() == [f"P{i:02d}" for i in range(1, 28)]
    assert projects["lon"].isna().all() and projects["lat"].isna().all()


def test_totals_to_the_fen_of_a_wan(projects):
    # independent sum of the file's own 万元 column in exact decimal arithmetic
    rows = bundled_rows()
    inv = {s: sum(Decimal(r["investment_10k_yuan"]) for r in rows if r["sector"] == s)
           for s in ("elderly", "childcare")}
    assert inv["elderly"] == Decimal("278789.73")
    assert inv["childcare"] == Decimal("3378.18")
    assert inv["elderly"] + inv["childcare"] == Decimal("282167.91")
    assert sum(Decimal(r["central_funds_10k_yuan"]) for r in rows) == Decimal("55831")
    # the loaded table, in yuan, agrees to 0.01 万元 (100 yuan)
    assert projects["investment_yuan"].sum() == pytest.approx(2_821_679_100, abs=100)
    el = projects[projects["sector"] == "elderly"]
    assert el["investment_yuan"].sum() == pytest.approx(2_787_897_300, abs=100)
    assert el["central_funds_yuan"].sum() == pytest.approx(540_550_000, abs=100)
    assert projects["central_funds_yuan"].sum() == pytest.approx(558_310_000, abs=100)
    # a single row converted: 鄠邑区 4 street centres 1953.06 万元 -> 19,530,600 yuan
    assert projects.loc[projects["name"].str.startswith("鄠邑区甘亭"), "investment_yuan"].item() == 19_530_600


def test_bundled_copy_matches_shared_data():
    if not SHARED.exists():
        pytest.skip(f"shared data not available at {SHARED}")
    with resources.as_file(BUNDLED) as p:
        assert Path(p).read_bytes() == SHARED.read_bytes()


@pytest.mark.parametrize(
    ("location", "district", "street"),
    [
        ("灞桥区席王街道", "灞桥区", "席王街道"),
        ("临潼区交口街道", "临潼区", "交口街道"),      # P05: named 何寨 but located in 交口
        ("周至县哑柏镇", "周至县", "哑柏镇"),
        ("鄠邑区各自街道辖区", "鄠邑区", None),       # "each in its own street": names none
        ("碑林区含光路111号", "碑林区", None),
        ("莲湖区大兴新区", "莲湖区", None),
        ("西咸新区泾河新城", "西咸新区", None),
        ("阎良区荆山开发区荆航三路", "阎良区", None),
        ("融创西安宸院26号楼", None, None),
        ("", None, None),
    ],
)
def test_parse_location(location, district, street):
    assert parse_district(location) == district
    assert parse_street(location) == street


def test_rows_parsed_by_hand(projects):
    p = projects.set_index("id")
    assert (p.loc["P05", "district"], p.loc["P05", "street"]) == ("临潼区", "交口街道")
    assert (p.loc["P15", "district"], p.loc["P15", "street"]) == ("周至县", "哑柏镇")
    assert pd.isna(p.loc["P12", "street"])
    assert pd.isna(p.loc["P26", "district"])  # 天贝贝: location names no district
    assert p.loc["P23", "beds"] == 500 and p.loc["P23", "floor_area_m2"] == 15798
    assert p.loc["P27", "places"] == 450 and pd.isna(p.loc["P27", "beds"])
    # kinds and ownership from the project's type and implementing unit
    assert p.loc["P03", "kind"] == "street_centre"
    assert p.loc["P09", "kind"] == "elderly"
    assert p.loc["P23", "kind"] == "institution"
    assert p.loc["P25", "kind"] == "childcare"
    assert p.loc["P14", "build_type_en"] == "safety_retrofit"
    assert (p.loc[p["sector"] == "elderly", "ownership"] == "public").all()
    assert p.loc["P25", "ownership"] == "public"       # 西安市卫生健康委
    assert p.loc["P26", "ownership"] == "private"      # 西安天贝贝托育服务有限公司


def test_as_built_additions_by_hand(projects):
    add, fac = projects_as_built(projects)
    assert list(add.columns) == list(ADDITION_COLUMNS)
    a = add.set_index("district")
    # 碑林区: one project, 示范性养老院, 500 beds, 15,798 m², 35,896 万元
    assert a.loc["碑林区", "beds_added"] == 500
    assert a.loc["碑林区", "public_beds_added"] == 500
    assert a.loc["碑林区", "floor_area_elderly_added"] == 15_798
    assert a.loc["碑林区", "investment_yuan"] == 358_960_000
    # 临潼区: 500+36+30+44+40+37+150+40+40 = 917 beds in 9 projects
    assert a.loc["临潼区", "beds_added"] == 917 and a.loc["临潼区", "n_projects"] == 9
    # 周至县: 300 + 36 beds; the fire-safety retrofit adds neither beds nor its 10,552.4 m²
    assert a.loc["周至县", "beds_added"] == 336
    assert a.loc["周至县", "floor_area_elderly_added"] == 13_350 + 1_530
    assert a.loc["周至县", "investment_yuan"] == (4500 + 422 + 540) * 10_000
    # 莲湖区: 400 + 300 beds and the city childcare centre's 150 public places
    assert a.loc["莲湖区", "beds_added"] == 700
    assert a.loc["莲湖区", "places_added"] == 150 and a.loc["莲湖区", "public_places_added"] == 150
    # 阎良区: 450 places of a company-run inclusive nursery: places, but not public ones
    assert a.loc["阎良区", "places_added"] == 450 and a.loc["阎良区", "public_places_added"] == 0
    # outside the 13 districts: 西咸新区 and the project without a district, sorted last
    out = add[~add["in_study_area"]]
    assert set(out["district"]) == {"西咸新区", "未注明 unspecified"}
    assert add["in_study_area"].tolist() == sorted(add["in_study_area"], reverse=True)
    assert a.loc["未注明 unspecified", "places_added"] == 126
    # nothing lost: additions add up to the project table
    assert add["n_projects"].sum() == 27
    assert add["investment_yuan"].sum() == pytest.approx(projects["investment_yuan"].sum())
    assert add["beds_added"].sum() == projects["beds"].sum()
    assert add["places_added"].sum() == projects["places"].sum() == 150 + 126 + 450
    # no coordinates in the bundled file: an empty layer with the facility columns
    assert fac.empty and list(fac.columns) == list(FACILITY_COLUMNS)
    assert fac.crs is not None


def test_additions_matched_to_a_districts_layer(projects):
    # a layer that writes names without the 区 suffix and covers only two districts
    districts = pd.DataFrame({"code": ["610103", "610104"], "name": ["碑林", "莲湖区"]})
    add, _ = projects_as_built(projects, districts)
    a = add.set_index("district")
    assert a.loc["碑林区", "district_code"] == "610103" and a.loc["碑林区", "in_study_area"]
    assert a.loc["莲湖区", "district_code"] == "610104"
    assert not a.loc["临潼区", "in_study_area"] and pd.isna(a.loc["临潼区", "district_code"])
    assert add["in_study_area"].sum() == 2


def test_user_file_with_coordinates_becomes_facilities(tmp_path):
    rows = bundled_rows()
    coords = {
        "碑林区示范性养老院建设项目": (108.9350, 34.2490),        # inside the box below
        "天贝贝托育园普惠托育项目": (108.9400, 34.2500),          # no district: from the polygon
        "周至县养老服务中心消防改造项目": (108.2200, 34.1600),    # retrofit: never a facility
    }
    for r in rows:
        lon, lat = coords.get(r["name"], ("", ""))
        r["lon"], r["lat"] = lon, lat
    path = write(tmp_path / "projects_with_xy.csv", rows)
    projects = load_major_projects(path)
    assert projects["lon"].notna().sum() == 3

    beilin = gpd.GeoDataFrame({"code": ["610103"], "name": ["碑林区"]},
                              geometry=[box(108.90, 34.22, 108.98, 34.27)], crs="EPSG:4326")
    _, fac = projects_as_built(projects, beilin, crs="EPSG:4545")
    assert list(fac.columns) == list(FACILITY_COLUMNS)
    assert fac.crs.to_epsg() == 4545
    f = fac.set_index("id")
    assert set(f.index) == {"P23", "P26"}
    assert f.loc["P23", "kind"] == "institution" and f.loc["P23", "beds"] == 500
    assert f.loc["P23", "ownership"] == "public" and f.loc["P23", "district"] == "610103"
    assert f.loc["P26", "kind"] == "childcare" and f.loc["P26", "places"] == 126
    assert f.loc["P26", "ownership"] == "private"
    assert f.loc["P26", "district"] == "610103"  # derived from the polygon
    # the point went through the reprojection (metres, not degrees) and back
    back = fac.to_crs("EPSG:4326").set_index("id").geometry
    assert back["P23"].x == pytest.approx(108.935, abs=1e-7)
    assert back["P23"].y == pytest.approx(34.249, abs=1e-7)
    assert f.geometry["P23"].x > 1e5


def test_user_file_with_chinese_headers_and_no_district(tmp_path):
    rows = bundled_rows()
    zh = {"no": "序号", "name": "项目名称", "location": "建设地点", "sector": "领域",
          "investment_10k_yuan": "总投资(万元)", "central_funds_10k_yuan": "拟申请中央预算内投资(万元)",
          "beds": "床位", "childcare_places": "托位"}
    out = [{zh.get(k, k): v for k, v in r.items() if k != "district"} for r in rows]
    p = load_major_projects(write(tmp_path / "zh.csv", out))
    ref = load_major_projects()
    # the district parsed from the location equals the transcribed one
    assert p["district"].fillna("").tolist() == ref["district"].fillna("").tolist()
    assert p["beds"].sum() == ref["beds"].sum()


def test_totals_are_checked(tmp_path):
    rows = bundled_rows()
    rows[0]["investment_10k_yuan"] = "45000.01"  # one fen of a 万 too much
    path = write(tmp_path / "typo.csv", rows)
    with pytest.raises(ValidationError, match=r"investment.*282,167.92"):
        load_major_projects(path)
    # a user file with only some projects: counts fail unless checks are off
    path2 = write(tmp_path / "some.csv", bundled_rows()[:3])
    with pytest.raises(ValidationError, match="wrong number of elderly projects"):
        load_major_projects(path2)
    assert len(load_major_projects(path2, check_totals=False)) == 3


def test_bad_values_name_row_and_column(tmp_path):
    rows = bundled_rows()
    rows[4]["beds"] = "many"
    rows[5]["sector"] = "hospital"
    rows[6]["lon"] = "108.9"
    for r in rows:
        r.setdefault("lon", "")
        r.setdefault("lat", "")
    with pytest.raises(ValidationError) as exc:
        load_major_projects(write(tmp_path / "bad.csv", rows))
    text = str(exc.value)
    assert "bad.csv" in text
    assert "id P05" in text and "'beds'" in text and "many" in text
    assert "id P06" in text and "hospital" in text
    assert "id P07" in text and "lon/lat" in text


def test_every_output_column_has_a_bilingual_label(projects):
    from carecircle.inputs.projects import COLUMN_LABELS
    from carecircle.siting.costing import to_bilingual

    add, _ = projects_as_built(projects)
    for table in (projects, add):
        assert all(c in COLUMN_LABELS for c in table.columns if c not in ("lon", "lat"))
    out = to_bilingual(add, COLUMN_LABELS)
    assert "新增床位 Beds added" in out.columns and "区县 District" in out.columns
