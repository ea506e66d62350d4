"""Plan profiles: each profile's figures, the scenario's overrides, the currency, and the
warning when Xi'an's figures meet data from somewhere else."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

from carecircle.errors import ScenarioError
from carecircle.inputs.profiles import (
    Currency,
    bundled_profiles,
    load_profile,
    profile_from_dict,
    profile_problems,
)
from carecircle.inputs.scenario import (
    PLAN_FACTORS_2025,
    Demand,
    Plan,
    Rural,
    Standards,
    Targets,
    load_scenario,
    scenario_from_dict,
)

REPO = Path(__file__).resolve().parents[1]


def base(**extra) -> dict:
    data = {"name": "t", "inputs": {"network": "n.osm", "districts": "d.geojson",
                                    "communities": "c.csv"}}
    data.update(extra)
    return data


# ---------------------------------------------------------------- the bundled profiles


def test_two_profiles_ship():
    assert bundled_profiles() == ["neutral", "xian-2023"]


def test_xian_profile_figures_are_the_plans():
    p = load_profile("xian-2023")
    # the forecast of 一(二): city totals 2020 -> 2025, as ratios (hand-computed)
    assert p.demand.year == 2025 and p.demand.base_year == 2020 and p.demand.factors_year == 2025
    assert p.demand.factors["population"] == 15.0 / 12.9529
    assert p.demand.factors["pop_60plus"] == 3.0 / 2.0753
    assert p.demand.factors["pop_0_3"] == 450.0 / 412.2
    t = p.targets
    assert (t.urban_elderly_coverage, t.rural_elderly_coverage, t.street_centre_coverage) == (
        0.9, 0.8, 0.7)
    assert (t.facility_compliance, t.childcare_places_per_1000) == (1.0, 4.8)
    assert (t.public_beds_share_of_60plus, t.public_childcare_per_district) == (0.01, 1)
    assert t.elderly_area_per_resident_m2 == (0.1, 0.3)
    st = p.standards
    assert (st.elderly_min_area_m2, st.childcare_min_area_m2) == (300.0, 200.0)
    assert st.compound_m2_per_100_households == 20.0
    assert p.unit_costs == {"new": 7500.0, "renovate": 2800.0, "lease": 2000.0}
    assert p.currency == Currency("CNY") and p.target_year == 2025
    assert p.subsidies is not None and p.subsidies.name == "subsidies.csv" and p.subsidies.is_file()
    # every figure names its clause (or says it is an assumption)
    assert p.clauses["targets.urban_elderly_coverage"] == "二 养老方面"
    assert p.clauses["standards.elderly_min_area_m2"] == "task 5"
    assert p.clauses["standards.shared_min_area_m2"] == "assumption"
    for key in Targets.__dataclass_fields__:
        assert f"targets.{key}" in p.clauses, key
    for key in Standards.__dataclass_fields__:
        if key != "shared_building_cost_factor":  # no longer used (a scenario setting it is warned)
            assert f"standards.{key}" in p.clauses, key
    # issue 19's figures: the nursing share and demonstration homes are the plan's, the
    # sizing, fit-out and the rural limit assumptions
    assert (t.nursing_bed_share, t.demonstration_homes_per_district) == (0.6, 1)
    assert p.clauses["targets.nursing_bed_share"].startswith("二 养老方面")
    assert p.clauses["targets.demonstration_homes_per_district"] == "task 4"
    assert (st.institution_m2_per_bed, st.institution_nursing_share_new) == (40.0, 0.8)
    assert (st.demonstration_min_beds, st.rural_home_min_area_m2) == (100, 200.0)
    assert p.clauses["standards.institution_m2_per_bed"].startswith("assumption")
    assert p.fitout_costs["institution"] == {"new": 2000.0, "renovate": 2400.0, "lease": 2400.0}
    assert p.shared_fitout_saving == 0.0
    assert p.rural.limit() == 2000.0 and p.rural.mode == "walk"
    assert p.clauses["rural.limit_m"] == "assumption"


def test_xian_profile_is_the_library_defaults():
    # library code that builds Targets() etc. gets what a scenario without profile gets
    p = load_profile("xian-2023")
    assert p.targets == Targets() and p.standards == Standards() and p.demand == Demand()
    assert p.demand.factors == PLAN_FACTORS_2025
    assert p.unit_costs == Plan().unit_costs
    assert p.fitout_costs == Plan().fitout_costs
    assert p.shared_fitout_saving == Plan().shared_fitout_saving and p.rural == Rural()


def test_neutral_profile_has_no_plan():
    p = load_profile("neutral")
    assert p.demand.year is None and p.demand.base_year is None
    assert p.demand.factors == {"population": 1.0, "pop_60plus": 1.0, "pop_0_3": 1.0}
    assert p.subsidies is None and p.currency.code == "" and p.unit_costs == {}
    assert p.area is None and p.target_year is None
    t = p.targets
    assert t.public_childcare_per_district is None  # no per-district minimums
    assert t.childcare_places_per_1000 is None and t.public_beds_share_of_60plus is None
    assert t.street_centre_coverage is None and t.elderly_area_per_resident_m2 is None
    assert (t.urban_elderly_coverage, t.rural_elderly_coverage, t.facility_compliance) == (1, 1, 1)
    assert p.standards.elderly_min_area_m2 == 0 and p.standards.childcare_min_area_m2 == 0
    assert p.standards.compound_m2_per_100_households == 0
    # no bed targets beyond the data, no fit-out (a candidate costs what it costs whatever it
    # hosts), no rural-home standard, villages judged at the elderly's urban walk
    assert t.nursing_bed_share is None and t.demonstration_homes_per_district is None
    assert all(v == 0 for t in p.fitout_costs.values() for v in t.values())
    assert set(p.fitout_costs) == set(Plan().fitout_costs)
    assert p.standards.rural_home_min_area_m2 == 0
    assert p.rural.limit() == 15 * 60 * 1.0


# ---------------------------------------------------------------- a scenario's profile


def test_a_scenario_without_profile_is_xian(tmp_path):
    scen = scenario_from_dict(base(), tmp_path)
    assert scen.profile.name == "xian-2023"
    assert scen.demand == Demand() and scen.targets == Targets() and scen.plan == Plan()
    assert scen.currency.code == "CNY"


def test_issue_19_figures_come_from_the_profile_and_the_scenario_overrides_them(tmp_path):
    xian = scenario_from_dict(base(), tmp_path)
    assert xian.rural.limit() == 2000.0 and xian.targets.nursing_bed_share == 0.6
    assert xian.plan.fitout_costs == Plan().fitout_costs
    neutral = scenario_from_dict(base(profile="neutral"), tmp_path)
    assert neutral.rural.limit() == 900.0 and neutral.targets.nursing_bed_share is None
    assert neutral.targets.demonstration_homes_per_district is None
    assert neutral.plan.fitout_costs["institution"] == {"new": 0.0, "renovate": 0.0, "lease": 0.0}
    # one entry of the fit-out table merges into that entry of the profile's, not another's
    scen = scenario_from_dict(base(profile="neutral", rural={"limit_m": 3000.0},
                                   targets={"nursing_bed_share": 0.5},
                                   plan={"fitout_costs": {"institution": {"new": 900.0}}}),
                              tmp_path)
    assert scen.rural.limit() == 3000.0 and scen.targets.nursing_bed_share == 0.5
    assert scen.plan.fitout_costs["institution"] == {"new": 900.0, "renovate": 0.0, "lease": 0.0}
    assert scen.plan.fitout_costs["elderly"] == {"new": 0.0, "renovate": 0.0, "lease": 0.0}
    scen = scenario_from_dict(base(plan={"fitout_costs": {"institution": {"new": 2500.0}}}),
                              tmp_path)
    assert scen.plan.fitout_costs["institution"] == {"new": 2500.0, "renovate": 2400.0,
                                                     "lease": 2400.0}
    off = scenario_from_dict(base(targets={"demonstration_homes_per_district": False}), tmp_path)
    assert off.targets.demonstration_homes_per_district is None


def test_neutral_scenario_keeps_populations_and_its_own_keys(tmp_path):
    scen = scenario_from_dict(base(profile="neutral", currency="EUR",
                                   demand={"year": 2024},
                                   targets={"urban_elderly_coverage": 0.9,
                                            "childcare_places_per_1000": 5.0},
                                   plan={"unit_costs": {"new": 3000}}), tmp_path)
    assert scen.demand.year == 2024 and scen.demand.base_year == 2024  # as loaded
    assert scen.targets.urban_elderly_coverage == 0.9
    assert scen.targets.childcare_places_per_1000 == 5.0
    assert scen.targets.public_childcare_per_district is None
    assert scen.plan.unit_costs == {"new": 3000.0}
    assert scen.currency == Currency("EUR")
    assert scen.profile.subsidies is None


def test_a_target_can_be_switched_off(tmp_path):
    scen = scenario_from_dict(base(targets={"public_childcare_per_district": False,
                                            "elderly_area_per_resident_m2": False}), tmp_path)
    assert scen.targets.public_childcare_per_district is None
    assert scen.targets.elderly_area_per_resident_m2 is None
    assert scen.targets.urban_elderly_coverage == 0.9  # the others stay the profile's
    with pytest.raises(ScenarioError, match="unknown key"):
        scenario_from_dict(base(targets={"public_beds": False}), tmp_path)


def test_subsidies_can_be_switched_off_or_replaced(tmp_path):
    assert scenario_from_dict(base(subsidies="none"), tmp_path).profile.subsidies is None
    mine = tmp_path / "mine.csv"
    shutil.copy(load_profile("xian-2023").subsidies, mine)
    scen = scenario_from_dict(base(subsidies="mine.csv"), tmp_path)
    assert scen.profile.subsidies == mine.resolve()
    assert mine.resolve() in scen.protected_files()
    with pytest.raises(ScenarioError, match="subsidies"):
        scenario_from_dict(base(subsidies="nope.csv"), tmp_path)


@pytest.mark.parametrize(("extra", "needle"), [
    ({"profile": "chengdu"}, "not known"),
    ({"profile": 3}, "profile"),
    ({"profile": "missing.toml"}, "not found"),
    ({"currency": "euro"}, "ISO 4217"),
    ({"currency": 978}, "ISO 4217"),
])
def test_bad_profile_keys_are_refused(tmp_path, extra, needle):
    with pytest.raises(ScenarioError, match=needle) as exc:
        scenario_from_dict(base(**extra), tmp_path, where="my.toml")
    assert str(exc.value).startswith("my.toml")


def test_the_documented_profile_example_loads(tmp_path):
    doc = (REPO / "docs" / "profiles.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", doc, flags=re.S)
    example = next(b for b in blocks if b.startswith("name = "))
    (tmp_path / "chengdu-2022.toml").write_text(example, encoding="utf-8")
    shutil.copy(load_profile("xian-2023").subsidies, tmp_path / "chengdu-subsidies.csv")
    scen = scenario_from_dict(base(profile="chengdu-2022.toml"), tmp_path)
    p = scen.profile
    assert p.name == "chengdu-2022" and not p.bundled
    assert p.demand.factors["population"] == pytest.approx(22.0 / 20.94)
    assert p.targets.urban_elderly_coverage == 0.95 and p.clauses["targets.urban_elderly_coverage"] == "二"
    assert p.targets.street_centre_coverage is None  # left out: no target
    assert p.standards.elderly_min_area_m2 == 300.0
    assert scen.plan.unit_costs == {"new": 8000.0, "renovate": 3000.0, "lease": 2200.0}
    assert (tmp_path / "chengdu-2022.toml").resolve() in scen.protected_files()


@pytest.mark.parametrize(("change", "needle"), [
    ({"colour": "red"}, "unknown key"),
    ({"name": "Bad Name"}, "name"),
    ({"area": [110, 30, 100, 40]}, "west < east"),
    ({"targets": {"urban_elderly_coverage": 1.5}}, "share 0-1"),
    ({"targets": {"urban_elderly_coverage": {"value": 0.9, "source": "x"}}}, "unknown key"),
    ({"demand": {"totals": {"population": {"base": 1, "forecast": 2}}}}, "demand.totals"),
    ({"plan": {"budget_yuan": 5}}, "unknown key"),
    ({"plan": {"unit_costs": {"build": 5}}}, "keys among"),
])
def test_a_bad_profile_file_says_where(tmp_path, change, needle):
    data = {"name": "p", "currency": "CNY"} | change
    with pytest.raises(ScenarioError, match=needle) as exc:
        profile_from_dict(data, tmp_path, where="p.toml")
    assert "p.toml" in str(exc.value)


# ---------------------------------------------------------------- currency


def test_labels_and_amounts_follow_the_currency():
    cny, eur, none = Currency("CNY"), Currency("EUR"), Currency("")
    label = "建设费用(元) Construction cost (yuan)"
    assert cny.relabel(label) == label
    assert eur.relabel(label) == "建设费用(欧元) Construction cost (EUR)"
    assert eur.relabel("建设费用(百万元) Cost (M yuan)") == "建设费用(百万欧元) Cost (M EUR)"
    assert none.relabel("费用(元) Cost (yuan)") == "费用(货币单位) Cost (money units)"
    # 元 that is not money stays (a name such as 元朔路, 单元)
    assert eur.relabel("元朔路 单元 unit") == "元朔路 单元 unit"
    assert cny.amount(1_500_000) == "1,500,000 元 (150.0 万元)"
    assert eur.amount(1_500_000) == "1,500,000 EUR"
    assert Currency("ISK").names == ("ISK", "ISK")


# ---------------------------------------------------------------- foreign data


HELSINKI = (24.90, 60.15, 25.00, 60.20)
XIAN = (108.915, 34.155, 108.970, 34.200)


def test_xian_profile_on_foreign_data_is_a_warning():
    p = load_profile("xian-2023")
    (w,) = profile_problems(p, HELSINKI, "s.toml")
    assert w.severity == "warning" and w.column == "profile"
    text = str(w)
    assert "xian-2023" in text and "Xi'an" in text and "neutral" in text and "24.950E" in text
    assert profile_problems(p, XIAN, "s.toml") == []
    assert profile_problems(load_profile("neutral"), HELSINKI, "s.toml") == []


def _foreign_scenario(tmp_path: Path, **extra) -> Path:
    """A scenario whose one district lies in Finland (the walk network is not read)."""
    d = gpd.GeoDataFrame({"code": ["091"], "name": ["Helsinki"]}, geometry=[box(*HELSINKI)],
                         crs="EPSG:4326")
    d.to_file(tmp_path / "d.geojson")
    c = gpd.GeoDataFrame({"id": ["c1"], "name": ["Kallio"], "district": ["091"],
                          "urban_rural": ["urban"], "population": [1000], "pop_60plus": [200],
                          "pop_0_3": [30]}, geometry=gpd.points_from_xy([24.95], [60.18]),
                         crs="EPSG:4326")
    c.to_file(tmp_path / "c.geojson")
    lines = [f'{k} = "{v}"' for k, v in extra.items()]
    text = "\n".join(['name = "hki"', *lines, "[inputs]", 'network = "n.osm"',
                      'districts = "d.geojson"', 'communities = "c.geojson"']) + "\n"
    (tmp_path / "s.toml").write_text(text, encoding="utf-8")
    return tmp_path / "s.toml"


def test_validation_warns_when_xian_figures_meet_finnish_data(tmp_path):
    from carecircle.inputs.load import load_inputs

    inputs = load_inputs(load_scenario(_foreign_scenario(tmp_path)), raise_on_error=False)
    warned = [p for p in inputs.log.warnings if p.column == "profile"]
    assert len(warned) == 1 and "xian-2023" in str(warned[0])

    other = tmp_path / "neutral"
    other.mkdir()
    inputs = load_inputs(load_scenario(_foreign_scenario(other, profile="neutral")),
                         raise_on_error=False)
    assert not [p for p in inputs.log.problems if p.column == "profile"]


def test_validate_names_the_profile(demo_scenario):
    from carecircle.runs.pipeline import validate

    report = validate(demo_scenario)
    lines = report.text.splitlines()
    assert lines[1].startswith("Profile 规划参数: xian-2023")
    assert not [p for p in report.problems if p.column == "profile"]  # the demo is in Xi'an
