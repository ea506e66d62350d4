"""what-if.html: the page's numbers equal carecircle's for the same sites, in Chromium.

The demo city's plan is written as a what-if page, served from 127.0.0.1 and driven by
headless Chromium (``cc_chrome`` / ``cc_serve``): sites are switched on and off through
the list's checkboxes, the map's popups and the page's buttons, the page's district
table and headline numbers are read back from the DOM and compared with
:func:`carecircle.siting.evaluate.evaluate_sites` for the same set of sites.  The
exported snippet is read back as TOML, loaded as a scenario and planned again.  Text
from the data shows as text.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from carecircle.inputs.scenario import load_scenario, scenario_from_dict
from carecircle.outputs.whatif import (
    DISTRICT_KEYS,
    decode,
    whatif_data,
    write_whatif,
    write_whatif_page,
)
from carecircle.runs.context import prepare
from carecircle.runs.pipeline import assess_context
from carecircle.runs.plan import plan_context
from carecircle.siting.evaluate import PlanBasis, evaluate_sites
from test_browser import console_errors, foreign_requests, screenshot
from test_evaluate import hand_problem

WAIT_S = 30


@pytest.fixture(scope="module")
def demo_plan(demo_scenario):
    ctx = prepare(load_scenario(demo_scenario), quiet=True)
    today = assess_context(ctx)
    return ctx, plan_context(ctx, today, quiet=True)


@pytest.fixture(scope="module")
def page_dir(demo_plan, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whatif")
    write_whatif(demo_plan[1], out / "what-if.html")
    return out


def _wait(driver, cond, what: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT_S, poll_frequency=0.05).until(lambda d: d.execute_script(cond), what)


def _open(driver, url: str) -> None:
    driver.get(url)
    _wait(driver, "return document.body.getAttribute('data-ready') !== '0'", "page ready")
    assert driver.execute_script("return document.body.getAttribute('data-ready')") == "1", \
        driver.find_element("id", "cc-check").text


def page_numbers(driver) -> tuple[dict[tuple[str, str], float], dict[str, float]]:
    """The district cells (district, key) -> value and the headline totals, as shown."""
    cells = driver.execute_script(
        "return Array.from(document.querySelectorAll('#cc-districts td[data-key]'))"
        ".map(td => [td.dataset.d, td.dataset.key, td.dataset.value]);")
    totals = driver.execute_script(
        "return Array.from(document.querySelectorAll('[data-total]'))"
        ".map(e => [e.dataset.total, e.dataset.value]);")
    return ({(d, k): float(v) for d, k, v in cells}, {k: float(v) for k, v in totals})


def assert_page_equals_library(driver, basis: PlanBasis, on: set[str]) -> None:
    """Every number on the page equals evaluate_sites for the sites switched on."""
    assert set(driver.execute_script("return window.ccWhatIf.onIds();")) == on
    ev = evaluate_sites(basis, sorted(on))
    cells, totals = page_numbers(driver)
    table = ev.districts.set_index("district")
    shown = {k for _, k in cells}
    assert shown == {k for k in DISTRICT_KEYS if k in table.columns}
    assert {d for d, _ in cells} == set(map(str, table.index))
    for (d, key), got in cells.items():
        want = float(table.at[d, key])
        if math.isnan(want):
            assert math.isnan(got), (d, key)
        else:
            assert got == pytest.approx(want, rel=1e-12, abs=1e-9), (d, key, got, want)
    for key, got in totals.items():
        assert got == pytest.approx(ev.totals[key], rel=1e-12, abs=1e-9), key
    assert len(totals) == 8


def _click_in_list(driver, site_id: str) -> None:
    box = driver.find_element("id", "cc-filter")
    box.clear()
    box.send_keys(site_id)
    version = driver.execute_script("return document.body.getAttribute('data-version');")
    for cb in driver.find_elements("css selector", "#cc-list input[data-id]"):
        if cb.get_attribute("data-id") == site_id:
            cb.click()
            break
    else:
        raise AssertionError(f"site {site_id} not in the list")
    _wait(driver, f"return document.body.getAttribute('data-version') !== {version!r};", "update")


# ---------------------------------------------------------------- no browser


def test_embedded_document_is_the_plan_and_its_reach(demo_plan):
    run = demo_plan[1]
    data = whatif_data(run.basis, communities=run.communities, title="t")
    P = run.basis.problem
    ev = evaluate_sites(run.basis, run.basis.proposed_ids)
    assert data["plan"]["totals"]["cost"] == pytest.approx(run.sites["cost_yuan"].sum())
    assert sorted(np.array(data["site"]["id"])[np.array(data["site"]["plan"], bool)]) \
        == sorted(run.sites["id"])
    assert data["plan"]["served"]["elderly"] == ev.served["elderly"].astype(int).tolist()
    # the reach, decoded, is the cover of the communities not served today, per site
    r = data["reach"]["childcare"]
    ptr = np.r_[0, np.cumsum(r["n"])]
    j_of = {str(c): j for j, c in enumerate(P.candidate_ids)}
    for s, sid in enumerate(data["site"]["id"]):
        got = np.cumsum(r["i"][ptr[s]:ptr[s + 1]]).tolist()
        if data["site"]["k"][s] & 2:
            col = P.cover["childcare"][:, j_of[sid]].toarray().ravel() > 0
            want = np.flatnonzero(col & ~P.existing_served["childcare"]).tolist()
        else:
            want = []
        assert got == want, sid


def test_page_is_small_and_self_contained(page_dir):
    html = (page_dir / "what-if.html").read_text(encoding="utf-8")
    # nothing linked: no external script, style sheet or image
    assert not re.search(r"<(script|img|iframe)[^>]+src=|<link[^>]+stylesheet", html)
    assert (page_dir / "what-if.html").stat().st_size < 600_000


# ---------------------------------------------------------------- in Chromium


@pytest.mark.browser
def test_page_numbers_equal_the_library_as_sites_are_toggled(demo_plan, page_dir, cc_chrome, cc_serve):
    run, driver = demo_plan[1], cc_chrome
    base = cc_serve(page_dir)
    _open(driver, base + "what-if.html")
    assert driver.execute_script("return document.body.getAttribute('data-check');") == "ok"
    basis = run.basis
    on = set(basis.proposed_ids)
    assert_page_equals_library(driver, basis, on)

    sites = run.sites.set_index("id")
    child = [i for i in sites.index if sites.at[i, "kinds"] == "childcare"][0]
    centre = [i for i in sites.index if "street_centre" in sites.at[i, "kinds"]][0]
    others = [i for i in driver.execute_script("return window.ccWhatIf.siteIds();") if i not in on]
    for sid in (child, centre, others[0], others[5]):
        _click_in_list(driver, sid)
        on ^= {sid}
        assert_page_equals_library(driver, basis, on)

    # dropping a plan site leaves someone unserved, and the page says so
    changes = driver.find_element("id", "cc-changes").text
    assert "关闭的规划场地 Plan sites switched off (2)" in changes
    screenshot(driver, "whatif.png")

    # a larger random set through the page's own entry point
    rng = np.random.default_rng(7)
    ids = driver.execute_script("return window.ccWhatIf.siteIds();")
    pick = set(rng.choice(ids, size=40, replace=False).tolist())
    driver.execute_script("window.ccWhatIf.setSites(arguments[0]);", sorted(pick))
    assert_page_equals_library(driver, basis, pick)

    # today: no new site
    driver.find_element("id", "cc-none").click()
    assert_page_equals_library(driver, basis, set())
    _, totals = page_numbers(driver)
    assert (totals["served_both"], totals["sites"]) == (run.headline["served_both_before"], 0)

    # back to the plan
    driver.find_element("id", "cc-reset").click()
    assert_page_equals_library(driver, basis, set(basis.proposed_ids))
    assert console_errors(driver) == []
    assert foreign_requests(driver, base) == []


@pytest.mark.browser
def test_a_site_switched_in_its_map_popup(demo_plan, page_dir, cc_chrome, cc_serve):
    run, driver = demo_plan[1], cc_chrome
    _open(driver, cc_serve(page_dir) + "what-if.html")
    plan = set(run.basis.proposed_ids)
    other = [i for i in driver.execute_script("return window.ccWhatIf.siteIds();") if i not in plan][0]
    for sid in (sorted(plan)[0], other):
        driver.execute_script("window.ccWhatIf.openPopup(arguments[0]);", sid)
        _wait(driver, "return !!document.querySelector('.leaflet-popup-content .cc-popup')"
              ".offsetParent && document.querySelector('.leaflet-pane .leaflet-pan-anim') === null;",
              "popup shown")
        # Found after the wait: Leaflet may re-render the popup while it pans into view.
        popup = driver.find_element("css selector", ".leaflet-popup-content .cc-popup")
        assert sid in popup.get_attribute("textContent")
        version = driver.execute_script("return document.body.getAttribute('data-version');")
        # A DOM click: a pointer click at coordinates can land on a marker drawn over the
        # popup on a slow machine; the page's own change handler is what is under test.
        driver.execute_script("arguments[0].click();",
                              popup.find_element("css selector", "input.cc-popup-cb"))
        _wait(driver, f"return document.body.getAttribute('data-version') !== {version!r};", "update")
    assert_page_equals_library(driver, run.basis, plan ^ {sorted(plan)[0], other})


@pytest.mark.browser
def test_exported_snippet_is_a_scenario_the_next_run_follows(demo_plan, page_dir, cc_chrome, cc_serve,
                                                              demo_scenario):
    ctx, run = demo_plan
    driver = cc_chrome
    _open(driver, cc_serve(page_dir) + "what-if.html")
    plan = sorted(run.basis.proposed_ids)
    drop = plan[:2]
    others = [i for i in driver.execute_script("return window.ccWhatIf.siteIds();") if i not in plan]
    take = others[:3]
    driver.execute_script("window.ccWhatIf.setSites(arguments[0]);",
                          sorted(set(plan) - set(drop) | set(take)))
    driver.find_element("id", "cc-export").click()
    text = driver.find_element("id", "cc-snippet").get_attribute("value")
    snippet = tomllib.loads(text)["plan"]
    assert set(snippet["required"]) == set(plan) - set(drop) | set(take)
    assert set(snippet["excluded"]) == set(drop)
    href = driver.find_element("id", "cc-download").get_attribute("href")
    assert href.startswith("blob:")

    data = tomllib.loads(Path(demo_scenario).read_text(encoding="utf-8"))
    data["plan"].update(snippet)
    scen = scenario_from_dict(data, Path(demo_scenario).parent)
    assert set(scen.plan.required) == set(snippet["required"])
    # the next run keeps every chosen site and none of the dropped ones
    ctx2 = replace(ctx, scenario=scen)
    again = plan_context(ctx2, assess_context(ctx2), quiet=True)
    assert set(snippet["required"]) <= set(again.sites["id"])
    assert not set(drop) & set(again.sites["id"])


def _evil_basis() -> tuple[PlanBasis, gpd.GeoDataFrame]:
    P = hand_problem()
    evil = ['<script>window.__pwned=1</script>', '<img src=x onerror="window.__pwned=2">',
            "${window.__pwned=3}"]
    cand = gpd.GeoDataFrame({"id": list(P.candidate_ids), "name": evil,
                             "floor_area_m2": [600.0, 350.0, 900.0], "acquisition": ["new"] * 3},
                            geometry=[shapely.Point(108.94 + 0.002 * j, 34.25) for j in range(3)],
                            crs="EPSG:4326")
    comm = gpd.GeoDataFrame({"id": list(P.community_ids), "name": evil + ["</script><b>x</b>"]},
                            geometry=[shapely.Point(108.94 + 0.001 * i, 34.251) for i in range(4)],
                            crs="EPSG:4326")
    basis = PlanBasis(P, {"elderly": np.array([0]), "childcare": np.array([0])}, cand)
    return basis, comm


@pytest.mark.browser
def test_input_text_shows_as_text(tmp_path, cc_chrome, cc_serve):
    basis, comm = _evil_basis()
    write_whatif_page(basis, tmp_path / "what-if.html", communities=comm,
                      title='<script>window.__pwned=9</script>', excluded=["q\"\\\n"])
    driver = cc_chrome
    _open(driver, cc_serve(tmp_path) + "what-if.html")
    assert driver.execute_script("return window.__pwned === undefined;")
    assert "<script>window.__pwned=9</script>" in driver.find_element("id", "cc-title").text
    listed = driver.find_element("id", "cc-list").text
    assert '<img src=x onerror="window.__pwned=2">' in listed
    assert driver.execute_script("return document.querySelectorAll('#cc-list img').length;") == 0
    driver.execute_script("window.ccWhatIf.openPopup('y');")
    popup = driver.find_element("css selector", ".leaflet-popup-content")
    assert '<img src=x onerror="window.__pwned=2">' in popup.get_attribute("textContent")
    assert driver.execute_script("return window.__pwned === undefined;")
    assert_page_equals_library(driver, basis, {"x"})
    driver.find_element("id", "cc-export").click()
    snippet = tomllib.loads(driver.find_element("id", "cc-snippet").get_attribute("value"))
    assert snippet["plan"]["excluded"] == ["q\"\\\n"]
    assert console_errors(driver) == []


def test_document_has_no_nan_and_decodes(tmp_path):
    basis, comm = _evil_basis()
    data = whatif_data(basis, communities=comm)
    path = write_whatif_page(basis, tmp_path / "w.html", communities=comm)
    html = path.read_text(encoding="utf-8")
    payload = html.split('id="cc-data">', 1)[1].split("</script>", 1)[0]
    assert decode(payload) == data
    assert data["dist"]["code"] == ["D1", "D2"]
    # D1 has no rural community: its share is not a number (null), never 0
    assert data["plan"]["districts"]["elderly_rural_after"][0] is None
    assert "<script>window" not in html  # names are inside the compressed document only


@pytest.mark.browser
def test_the_what_if_map_draws_the_runs_streets_offline(demo_plan, page_dir, cc_chrome, cc_serve):
    driver = cc_chrome
    base = cc_serve(page_dir)
    _open(driver, base + "what-if.html")
    _wait(driver, "return window.cc && cc.streetsReady === true;", "streets drawn")
    labels = driver.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
        ".map(l => l.textContent.trim());")
    assert "街道(步行路网) Streets (walking network)" in labels
    # the street tiles are canvases with something drawn on them
    inked = driver.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-ccStreets-pane canvas')).some(c => {"
        "  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "  for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) return true; } return false; });")
    assert inked
    assert console_errors(driver) == []
    assert foreign_requests(driver, base) == []
