"""The briefing outputs in a real browser: headless Chromium over a local server.

The interactive map and the briefing page of a synthetic run are served from
127.0.0.1 and loaded in Debian's Chromium through ``/usr/bin/chromedriver`` (see the
``cc_chrome`` and ``cc_serve`` fixtures in ``conftest.py``).  Checked: no console
errors, nothing fetched from anywhere but the local server, the expected number of
community / facility / proposed-site markers, layers toggle, input text shows as
text (no script runs), the briefing shows the district table and the embedded map.
Screenshots go to ``tests/artifacts/`` (gitignored).

:func:`check_map` and :func:`check_briefing` take any output folder's URL and the
expected counts, so the same checks can run over the demo city's output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from carecircle.outputs import write as report
from test_maps import COMMUNITIES, EVIL, FACILITIES, N_SUBSTANDARD, SITES, synthetic_run

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parent / "artifacts"
WAIT_S = 20


def _wait(driver, css: str, n_min: int = 1):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT_S).until(
        lambda d: len(d.find_elements("css selector", css)) >= n_min)


def _wait_still(driver) -> None:
    """Until no Leaflet zoom animation runs (markers are where they will stay)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT_S).until(lambda d: d.execute_script(
        "return document.querySelector('.leaflet-zoom-anim') === null;"))


def _count(driver, css: str) -> int:
    return int(driver.execute_script(f"return document.querySelectorAll({css!r}).length;"))


def console_errors(driver) -> list[dict]:
    """Severe browser console entries since the last call (the log drains on read)."""
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def foreign_requests(driver, base_url: str) -> list[str]:
    """Resources the page loaded from anywhere but ``base_url`` (data: URIs are fine)."""
    names = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name);")
    return [n for n in names if not (n.startswith((base_url, "data:")))]


def screenshot(driver, name: str, full_page: bool = False) -> Path:
    """Save a PNG under tests/artifacts/ (the whole page when ``full_page``)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    size = driver.get_window_size()
    if full_page:
        height = driver.execute_script("return document.documentElement.scrollHeight;")
        # The window includes the browser's own frame: leave room for it.
        driver.set_window_size(size["width"], max(int(height) + 200, size["height"]))
    try:
        assert driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(size["width"], size["height"])
    return path


def _overlay_checkbox(driver, text: str):
    for label in driver.find_elements("css selector", ".leaflet-control-layers-overlays label"):
        if text in label.text:
            return label.find_element("css selector", "input")
    raise AssertionError(f"no layer control entry containing {text!r}")


def check_map(driver, base_url: str, *, communities: int, facilities: int, sites: int,
              substandard: int | None = None, shot: str = "map.png") -> None:
    """Load ``map.html`` and check markers, layer toggling, console and requests."""
    driver.get(base_url + "map.html")
    shown = "cc-community-after" if sites else "cc-community"
    if communities:
        _wait(driver, f".{shown}", communities)
    _wait_still(driver)
    assert console_errors(driver) == []
    assert foreign_requests(driver, base_url) == []
    assert _count(driver, f".{shown}") == communities
    assert _count(driver, ".cc-facility") == facilities
    assert _count(driver, ".cc-site") == sites
    if substandard is not None:
        assert _count(driver, ".cc-substandard") == substandard
    # Markers are SVG paths (countable), inside the map pane.
    assert _count(driver, f".leaflet-overlay-pane svg path.{shown}") == communities
    assert driver.find_element("id", "cc-legend").is_displayed()
    assert _count(driver, ".leaflet-control-scale-line") == 1
    screenshot(driver, shot)
    # Toggle the shown community layer off and on again.
    label = ("Communities, status after plan" if shown == "cc-community-after"
             else "Communities, status today")
    box = _overlay_checkbox(driver, label)
    assert box.is_selected()
    box.click()
    assert _count(driver, f".{shown}") == 0
    box.click()
    assert _count(driver, f".{shown}") == communities
    assert console_errors(driver) == []


def check_briefing(driver, base_url: str, *, districts: int) -> None:
    """Load ``briefing.html``: district table, embedded map, link to the map."""
    driver.get(base_url + "briefing.html")
    _wait(driver, "#district-table")
    assert console_errors(driver) == []
    assert foreign_requests(driver, base_url) == []
    rows = driver.find_elements("css selector", "#district-table tbody tr")
    assert len(rows) == districts + 1  # + the city total
    assert "✓" in rows[0].text or "✗" in rows[0].text or "无数据" in rows[0].text
    assert driver.execute_script(
        "const i = document.querySelector('#map img'); return i && i.complete && i.naturalWidth;") > 0
    assert driver.find_element("id", "map-link").get_attribute("href") == base_url + "map.html"
    screenshot(driver, "briefing.png", full_page=True)


@pytest.fixture
def served_run(tmp_path, cc_serve):
    out = tmp_path / "out"
    report.write_run(synthetic_run(tmp_path), out)
    return cc_serve(out)


def test_map_in_browser(cc_chrome, served_run):
    check_map(cc_chrome, served_run, communities=len(COMMUNITIES), facilities=len(FACILITIES),
              sites=len(SITES), substandard=N_SUBSTANDARD)
    # The hidden "today" layer can be shown too.
    _overlay_checkbox(cc_chrome, "Communities, status today").click()
    assert _count(cc_chrome, ".cc-community") == len(COMMUNITIES)
    # Isochrones are off by default and toggle on.
    paths_before = _count(cc_chrome, ".leaflet-overlay-pane path")
    _overlay_checkbox(cc_chrome, "Walk zones: Existing elderly care").click()
    assert _count(cc_chrome, ".leaflet-overlay-pane path") == paths_before + 2


def test_input_text_shows_as_text(cc_chrome, served_run):
    from selenium.common.exceptions import NoAlertPresentException

    d = cc_chrome
    d.get(served_run + "map.html")
    _wait(d, ".cc-site", len(SITES))
    evil_site = d.find_elements("css selector", ".cc-site")[1]  # site s2 is named EVIL
    d.execute_script(
        "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}));",
        evil_site)
    _wait(d, ".leaflet-popup-content")
    content = d.find_element("css selector", ".leaflet-popup-content")
    assert EVIL in content.get_attribute("textContent")  # a text node, not markup
    assert _count(d, ".leaflet-popup-content script") == 0
    with pytest.raises(NoAlertPresentException):
        d.switch_to.alert.text  # noqa: B018 - the property access is the check
    assert console_errors(d) == []


def test_briefing_in_browser(cc_chrome, served_run):
    check_briefing(cc_chrome, served_run, districts=3)
    # The link opens the map.
    cc_chrome.find_element("id", "map-link").click()
    _wait(cc_chrome, ".cc-site", len(SITES))
    assert cc_chrome.current_url == served_run + "map.html"


def test_briefing_prints_on_a4(cc_chrome, served_run):
    import base64
    import re

    cc_chrome.get(served_run + "briefing.html")
    _wait(cc_chrome, "#district-table")
    pdf = base64.b64decode(cc_chrome.execute_cdp_cmd(
        "Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True})["data"])
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "briefing.pdf").write_bytes(pdf)
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert boxes, "no page in the PDF"
    for w, h in boxes:  # A4 is 595.3 x 841.9 points (the page's @page rule, not Letter)
        assert abs(float(w) - 595.3) < 2 and abs(float(h) - 841.9) < 2
    assert len(boxes) <= 4
