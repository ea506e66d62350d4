"""The scenario file: defaults are the plan's figures; keys and values are validated.

Unknown keys and wrong types must be a :class:`ScenarioError` naming the file and the
key, never a silently ignored typo and never a raw ``TypeError``/``ValueError``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from carecircle.errors import ScenarioError
from carecircle.inputs.scenario import (
    PLAN_FACTORS_2025,
    Demand,
    LayerSource,
    Plan,
    Rural,
    Scenario,
    Standards,
    Targets,
    Walking,
    load_scenario,
    scenario_from_dict,
)

REPO = Path(__file__).resolve().parents[1]
BASE = "name = \"t\"\n[inputs]\nnetwork = \"n.osm\"\ndistricts = \"d.geojson\"\ncommunities = \"c.csv\"\n"


def write(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def base(**extra) -> dict:
    data = {"name": "t", "inputs": {"network": "n.osm", "districts": "d.geojson",
                                    "communities": "c.csv"}}
    data.update(extra)
    return data


def fails(tmp_path: Path, data: dict, *needles: str) -> str:
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(data, tmp_path, where="my.toml")
    text = str(exc.value)
    assert text.startswith("my.toml"), text
    for n in needles:
        assert n in text, (n, text)
    return text


# ---------------------------------------------------------------- defaults


def test_defaults_are_the_plans_figures(tmp_path: Path) -> None:
    scen = scenario_from_dict(base(), tmp_path)
    t = scen.targets
    assert (t.urban_elderly_coverage, t.rural_elderly_coverage, t.street_centre_coverage) == (
        0.90, 0.80, 0.70)
    assert t.facility_compliance == 1.0
    assert t.childcare_places_per_1000 == 4.8
    assert t.public_beds_share_of_60plus == 0.01
    assert t.public_childcare_per_district == 1
    assert t.elderly_area_per_resident_m2 == (0.1, 0.3)
    assert scen.standards.elderly_min_area_m2 == 300.0
    assert scen.standards.childcare_min_area_m2 == 200.0
    assert scen.standards.compound_m2_per_100_households == 20.0
    assert scen.walking.minutes == 15.0
    # 15 minutes at 1.0 m/s (elderly) and 1.2 m/s: GB 50180's 800-1000 m range
    assert scen.walking.limit_m("elderly") == 900.0
    assert scen.walking.limit_m("childcare") == pytest.approx(1080.0)
    assert scen.standards.min_area("childcare") == 200.0
    assert scen.demand.year == 2025 and scen.demand.base_year == 2020
    assert scen.demand.factors["population"] == pytest.approx(15.0 / 12.9529)
    assert scen.demand.factors == PLAN_FACTORS_2025
    assert scen.plan.mode == "cover_all"
    assert scen.include_major_projects is False
    assert scen.title == "t"


def test_every_documented_key_is_accepted(tmp_path: Path) -> None:
    # the example of docs/scenario.md parses and sets what it says
    doc = (REPO / "docs" / "scenario.md").read_text(encoding="utf-8")
    toml = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    scen = load_scenario(write(tmp_path, toml))
    assert scen.name == "demo" and scen.crs == "EPSG:4545"
    assert set(scen.inputs) == {"network", "districts", "streets", "communities", "facilities",
                                "candidates", "population_grid"}
    assert scen.standards == Standards()
    assert scen.targets == Targets()
    assert scen.walking == Walking()
    assert scen.plan == Plan()
    assert scen.rural == Rural()


def test_demo_scenario_loads() -> None:
    path = REPO / "data" / "demo" / "scenario.toml"
    if not path.is_file():
        pytest.skip("data/demo/scenario.toml not generated")
    scen = load_scenario(path)
    assert scen.name == "demo"
    assert scen.source == path.resolve()
    for src in scen.inputs.values():
        assert src.path.is_absolute() and src.path.is_file(), src.path


def test_values_are_read(tmp_path: Path) -> None:
    text = BASE.replace('communities = "c.csv"', (
        'communities = { path = "sub/c.csv", coords = "GCJ-02", lon = "经度_gcj02", '
        'lat = "纬度_gcj02", crs = "EPSG:4326", assumed = "300 households per compound", '
        'filter = "类型 == 120302", columns = { "小区" = "name" } }'
    )) + (
        "[walking]\nminutes = 10\nspeed_mps = { elderly = 0.9 }\n"
        "[targets]\nurban_elderly_coverage = 0.95\nelderly_area_per_resident_m2 = [0.2, 0.4]\n"
        "[plan]\nmode = \"budget\"\nbudget_yuan = 5e6\nrequired = [\"K1\"]\n"
        "unit_costs = { lease = 1500 }\n"
        "[demand]\nyear = 2020\n"
    )
    scen = load_scenario(write(tmp_path, text))
    src = scen.inputs["communities"]
    assert src.path == (tmp_path / "sub" / "c.csv").resolve()
    assert src.coords == "gcj02"
    assert (src.lon, src.lat, src.crs) == ("经度_gcj02", "纬度_gcj02", "EPSG:4326")
    assert src.assumed.startswith("300") and src.filter == "类型 == 120302"
    assert src.columns == {"小区": "name"}
    assert scen.inputs["network"] == LayerSource(path=(tmp_path / "n.osm").resolve())
    assert scen.walking.minutes == 10.0 and isinstance(scen.walking.minutes, float)
    # a partial table keeps the other defaults
    assert scen.walking.speed_mps == {"elderly": 0.9, "childcare": 1.2}
    assert scen.walking.limit_m("elderly") == pytest.approx(540.0)
    assert scen.targets.urban_elderly_coverage == 0.95
    assert scen.targets.rural_elderly_coverage == 0.80
    assert scen.targets.elderly_area_per_resident_m2 == (0.2, 0.4)
    assert scen.plan.mode == "budget" and scen.plan.budget_yuan == 5e6
    assert scen.plan.required == ("K1",)
    assert scen.plan.unit_costs == {"new": 7500.0, "renovate": 2800.0, "lease": 1500.0}
    assert scen.demand.year == 2020


def test_out_dir_and_replace(tmp_path: Path) -> None:
    scen = scenario_from_dict(base(), tmp_path)
    assert scen.out_dir == Path("maps") / "t"
    scen2 = scenario_from_dict(base(output_dir="out/run1"), tmp_path)
    assert scen2.out_dir == (tmp_path / "out" / "run1").resolve()
    scen3 = scen.replace(walking=Walking(minutes=10.0))
    assert scen3.walking.minutes == 10.0 and scen.walking.minutes == 15.0
    assert isinstance(scen3, Scenario)


def test_input_fingerprint_follows_file_bytes(tmp_path: Path) -> None:
    for name in ("n.osm", "d.geojson", "c.shp", "c.dbf", "c.shx"):
        (tmp_path / name).write_bytes(b"1")
    data = base()
    data["inputs"]["communities"] = "c.shp"
    scen = scenario_from_dict(data, tmp_path)
    first = scen.input_fingerprint()
    assert first == scenario_from_dict(data, tmp_path).input_fingerprint()
    # a shapefile's attributes live in the .dbf: changing it changes the key
    (tmp_path / "c.dbf").write_bytes(b"2")
    second = scen.input_fingerprint()
    assert second != first
    # so does how a file is read
    data["inputs"]["communities"] = {"path": "c.shp", "coords": "gcj02"}
    assert scenario_from_dict(data, tmp_path).input_fingerprint() != second


# ---------------------------------------------------------------- unknown keys


@pytest.mark.parametrize(
    ("data", "needles"),
    [
        (base(titel="x"), ("titel", "top level")),
        (base(walking={"minuts": 15}), ("minuts", "[walking]", "'minutes'")),
        (base(standards={"elderly_min_area": 300}), ("elderly_min_area", "[standards]")),
        (base(targets={"urban_coverage": 0.9}), ("urban_coverage", "[targets]")),
        (base(plan={"budget": 1}), ("budget", "[plan]", "'budget_yuan'")),
        (base(demand={"yr": 2025}), ("yr", "[demand]")),
    ],
)
def test_unknown_keys_are_errors(tmp_path: Path, data: dict, needles: tuple[str, ...]) -> None:
    fails(tmp_path, data, "unknown key", *needles)


def test_unknown_layer_and_layer_key(tmp_path: Path) -> None:
    data = base()
    data["inputs"]["hospitals"] = "h.gpkg"
    fails(tmp_path, data, "hospitals", "[inputs]")
    data = base()
    data["inputs"]["districts"] = {"path": "d.geojson", "projection": "EPSG:4326"}
    fails(tmp_path, data, "projection", "[inputs.districts]")


def test_unknown_subkey_in_a_table(tmp_path: Path) -> None:
    fails(tmp_path, base(walking={"speed_mps": {"teenager": 1.3}}), "walking.speed_mps",
          "keys among")


# ---------------------------------------------------------------- wrong values


@pytest.mark.parametrize(
    ("data", "needles"),
    [
        (base(walking={"minutes": "15"}), ("walking.minutes", "'15'", "a number")),
        (base(walking={"minutes": True}), ("walking.minutes", "a number")),
        (base(walking={"minutes": 0}), ("walking.minutes", "1-120")),
        (base(walking={"speed_mps": {"elderly": 0}}), ("speed_mps.elderly", "0.3-3")),
        (base(walking={"speed_mps": 1.0}), ("walking.speed_mps", "a table")),
        (base(standards={"elderly_min_area_m2": -300}), ("elderly_min_area_m2", ">= 0")),
        (base(targets={"rural_elderly_coverage": 1.5}), ("rural_elderly_coverage", "0-1")),
        (base(targets={"elderly_area_per_resident_m2": 0.1}), ("elderly_area_per_resident_m2",
                                                               "a list")),
        (base(targets={"elderly_area_per_resident_m2": ["a", "b"]}),
         ("elderly_area_per_resident_m2", "a number")),
        (base(targets={"public_childcare_per_district": 1.5}),
         ("public_childcare_per_district", "an integer")),
        (base(targets={"public_childcare_per_district": float("inf")}),
         ("public_childcare_per_district", "an integer")),
        (base(plan={"time_limit_s": float("nan")}), ("plan.time_limit_s", ">= 0")),
        (base(plan={"district_targets": "yes"}), ("plan.district_targets", "true or false")),
        (base(plan={"mode": "greedy"}), ("plan.mode", "'greedy'")),
        (base(plan={"mode": "budget"}), ("budget_yuan > 0",)),
        (base(plan={"required": [1, 2]}), ("plan.required", "a string")),
        (base(plan={"weights": {"elderly": 60}}), ("plan.weights.elderly", "a string")),
        (base(demand={"year": 1900}), ("demand.year", "1900")),
        (base(demand={"year": "2025"}), ("demand.year",)),
        (base(demand={"base_year": "x"}), ("demand.base_year",)),
        (base(demand={"factors": {"population": "many"}}), ("demand.factors.population",)),
        (base(demand={"district_factors": {"610113": 1.2}}), ("district_factors.610113",)),
        (base(demand={"projection_table": 5}), ("demand.projection_table",)),
        (base(name=""), ("'name' is missing",)),
        (base(name="a/b"), ("cannot be a folder name",)),
        (base(output_dir=5), ("output_dir",)),
        (base(include_major_projects="yes"), ("include_major_projects", "true or false")),
        (base(crs="not a crs"), ("crs", "'not a crs'")),
        (base(crs="EPSG:4326"), ("crs", "projected")),
        (base(walking=15), ("[walking]", "a table")),
        (base(inputs="x"), ("[inputs] must be a table",)),
    ],
)
def test_bad_values_are_errors(tmp_path: Path, data: dict, needles: tuple[str, ...]) -> None:
    fails(tmp_path, data, *needles)


@pytest.mark.parametrize(
    ("layer", "needles"),
    [
        ({"coords": "mars"}, ("coords", "'mars'", "gcj02")),
        ({"crs": "EPSG:99999999"}, ("inputs.communities.crs",)),
        ({"lon": 3}, ("inputs.communities.lon", "a string")),
        ({"columns": "name"}, ("inputs.communities.columns", "a table")),
        ({"columns": {"a": 1}}, ("inputs.communities.columns", "a string")),
        ({"path": 5}, ("inputs.communities.path",)),
    ],
)
def test_bad_layer_values(tmp_path: Path, layer: dict, needles: tuple[str, ...]) -> None:
    data = base()
    data["inputs"]["communities"] = {"path": "c.csv", **layer}
    fails(tmp_path, data, *needles)


def test_missing_required_layers(tmp_path: Path) -> None:
    data = base()
    del data["inputs"]["districts"]
    fails(tmp_path, data, "districts", "required")
    data = base()
    data["inputs"]["network"] = {"coords": "wgs84"}
    fails(tmp_path, data, "inputs.network", "path")


# ---------------------------------------------------------------- the file


def test_load_scenario_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(tmp_path / "missing.toml")
    bad = write(tmp_path, "name = \n")
    with pytest.raises(ScenarioError, match="not valid TOML") as exc:
        load_scenario(bad)
    assert str(bad) in str(exc.value)
    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(latin)
    unknown = write(tmp_path, BASE + "[walking]\nminuts = 1\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(unknown)
    assert str(unknown) in str(exc.value) and "minuts" in str(exc.value)


def test_paths_resolve_against_the_scenario_folder(tmp_path: Path) -> None:
    sub = tmp_path / "cases"
    sub.mkdir()
    path = write(sub, BASE.replace('"c.csv"', '"../data/c.csv"'))
    cwd = os.getcwd()
    try:
        os.chdir("/")
        scen = load_scenario(path)
    finally:
        os.chdir(cwd)
    assert scen.inputs["communities"].path == (tmp_path / "data" / "c.csv").resolve()
    assert scen.base_dir == sub.resolve()


def test_demand_defaults_and_table_path(tmp_path: Path) -> None:
    scen = scenario_from_dict(base(demand={"projection_table": "proj.csv",
                                           "district_factors": {"610113": {"pop_0_3": 0.9}}}),
                              tmp_path)
    assert scen.demand.projection_table == str((tmp_path / "proj.csv").resolve())
    assert scen.demand.district_factors["610113"]["pop_0_3"] == 0.9
    # other groups of the district keep the city factor
    assert scen.demand.district_factors["610113"]["population"] == Demand().factors["population"]


def test_unreadable_scenario_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, BASE)

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", denied)
    with pytest.raises(ScenarioError, match="cannot read") as exc:
        load_scenario(path)
    assert str(path) in str(exc.value)
