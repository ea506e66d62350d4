"""docs/plan.md quotes the plan verbatim, and its figures are the code's defaults.

Each 「quote」 must occur in the plan's full text (whitespace aside: the text breaks its
tables over lines); each default the page names must be the scenario's own default, so
the page cannot drift from the code unnoticed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from carecircle.inputs.scenario import PLAN_FACTORS_2025, Standards, Targets, Walking

DOC = Path(__file__).resolve().parents[1] / "docs" / "plan.md"
TEXT = DOC.read_text(encoding="utf-8")
QUOTES = re.findall(r"「(.+?)」", TEXT, flags=re.S)


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_page_quotes_the_plan():
    assert len(QUOTES) >= 30


@pytest.mark.parametrize("quote", QUOTES, ids=[f"quote{i}" for i in range(len(QUOTES))])
def test_every_quote_is_the_plans_own_words(quote, plan_text):
    assert _flat(quote) in _flat(plan_text), f"not in the plan's text: {quote}"


def test_a_misquote_would_be_caught(plan_text):
    assert _flat("城市社区养老服务设施覆盖率达到95%以上") not in _flat(plan_text)


@pytest.mark.parametrize("obj", [Targets(), Standards(), Walking()],
                         ids=lambda o: type(o).__name__)
def test_every_default_named_on_the_page_is_the_codes(obj):
    named = re.findall(r"`(\w+) = ([\d.]+)`", TEXT)
    assert named
    checked = 0
    for key, value in named:
        if hasattr(obj, key):
            assert float(getattr(obj, key)) == float(value), key
            checked += 1
    assert checked >= 2


def test_the_pages_targets_and_standards_cover_the_scenarios_plan_figures():
    # Every target key is on the page (the land range as a list).
    for key in Targets.__dataclass_fields__:
        assert f"`{key} = " in TEXT, key
    assert "`elderly_area_per_resident_m2 = [0.1, 0.3]`" in TEXT
    assert Targets().elderly_area_per_resident_m2 == (0.1, 0.3)


def test_forecast_factors_are_the_pages():
    assert f"{PLAN_FACTORS_2025['population']:.3f}" in TEXT
    assert f"{PLAN_FACTORS_2025['pop_60plus']:.4f}" in TEXT
    assert f"{PLAN_FACTORS_2025['pop_0_3']:.4f}" in TEXT


def test_the_rural_limit_and_the_cost_split_are_the_pages():
    from carecircle.inputs.scenario import Plan, Rural

    assert f"`rural.limit_m = {Rural().limit_m:g}`" in TEXT and 'mode = "walk"' in TEXT
    assert Rural().mode == "walk"
    assert f"`rural_home_min_area_m2 = {Standards().rural_home_min_area_m2:g}`" in TEXT
    assert Plan().shared_fitout_saving == 0.0  # docs/scenario.md states it
