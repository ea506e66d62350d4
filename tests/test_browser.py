"""The briefing outputs in a real browser: headless Chromium over a local server.

The interactive map and the briefing page of a synthetic run are served from
127.0.0.1 and loaded in Debian's Chromium through ``/usr/bin/chromedriver`` (see the
``cc_chrome`` and ``cc_serve`` fixtures in ``conftest.py``).  Checked: no console
errors, nothing fetched from anywhere but the local server, the expected number of
community / facility / proposed-site symbols (canvas: counted by ``cc.count``), layers
toggle, walk zones are built when first shown, input text shows as text (no script
runs), the briefing shows the district table and the embedded map.
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


def _wait_js(driver, script: str) -> None:
    """Until ``script`` (a JavaScript expression) is true."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT_S).until(lambda d: d.execute_script(f"return !!({script});"))


def _wait_still(driver) -> None:
    """Until no Leaflet zoom animation runs (markers are where they will stay)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT_S).until(lambda d: d.execute_script(
        "return document.querySelector('.leaflet-zoom-anim') === null;"))


def _count(driver, css: str) -> int:
    return int(driver.execute_script(f"return document.querySelectorAll({css!r}).length;"))


def _symbols(driver, cls: str) -> int:
    """Canvas symbols of class ``cls`` on the map (``cc.count``, see outputs/leaflet.py)."""
    return int(driver.execute_script(f"return cc.count({cls!r});"))


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
    """Load ``map.html`` and check symbols, streets, layer toggling, console and requests."""
    driver.get(base_url + "map.html")
    shown = "cc-community-after" if sites else "cc-community"
    _wait_js(driver, f"window.cc && cc.count({shown!r}) >= {communities}")
    _wait_still(driver)
    assert console_errors(driver) == []
    assert foreign_requests(driver, base_url) == []
    assert _symbols(driver, shown) == communities
    assert _symbols(driver, "cc-facility") == facilities
    assert _symbols(driver, "cc-site") == sites
    if substandard is not None:
        assert _symbols(driver, "cc-substandard") == substandard
    # the symbols are drawn on one canvas, in their own pane above the polygons
    assert _count(driver, ".leaflet-ccMarkers-pane canvas") == 1
    assert driver.find_element("id", "cc-legend").is_displayed()
    assert _count(driver, ".leaflet-control-scale-line") == 1
    # the run's own streets, from data inside the page, on canvas tiles under everything
    _wait_js(driver, "cc.streetsReady && cc.streetLines > 0")
    assert _count(driver, ".leaflet-ccStreets-pane canvas.leaflet-tile") > 0
    assert foreign_requests(driver, base_url) == []
    screenshot(driver, shot)
    # Toggle the shown community layer off and on again.
    label = ("Communities, status after plan" if shown == "cc-community-after"
             else "Communities, status today")
    box = _overlay_checkbox(driver, label)
    assert box.is_selected()
    box.click()
    assert _symbols(driver, shown) == 0
    box.click()
    assert _symbols(driver, shown) == communities
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
    assert _symbols(cc_chrome, "cc-community") == len(COMMUNITIES)
    # Walk zones are off by default, not even built, and are built when first shown.
    assert cc_chrome.execute_script("return cc.zones;") == {}
    _overlay_checkbox(cc_chrome, "Walk zones: Existing elderly care").click()
    _wait_js(cc_chrome, "cc.zones.existing_elderly === 2")
    assert _count(cc_chrome, ".leaflet-ccZones-pane canvas") == 1
    assert console_errors(cc_chrome) == []


def click_symbol(driver, cls: str, index: int) -> None:
    """Click (as a reader would, with the mouse) the ``index``-th canvas symbol of a class."""
    from selenium.webdriver.common.action_chains import ActionChains

    x, y = driver.execute_script(
        "const ms = [].concat(...cc.layers.map(l => l.markers))"
        "  .filter(m => m._map && (' ' + m.options.cc + ' ').includes(' ' + arguments[0] + ' '));"
        "const p = cc.map.latLngToContainerPoint(ms[arguments[1]].getLatLng());"
        "return [p.x, p.y];", cls, index)
    box = driver.find_element("css selector", ".folium-map")
    size = box.size
    ActionChains(driver).move_to_element_with_offset(
        box, int(x - size["width"] / 2), int(y - size["height"] / 2)).click().perform()


def test_input_text_shows_as_text(cc_chrome, served_run):
    from selenium.common.exceptions import NoAlertPresentException

    d = cc_chrome
    d.get(served_run + "map.html")
    _wait_js(d, f"window.cc && cc.count('cc-site') === {len(SITES)}")
    _wait_still(d)
    click_symbol(d, "cc-site", 1)  # site s2 is named EVIL
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
    _wait_js(cc_chrome, f"window.cc && cc.count('cc-site') === {len(SITES)}")
    assert cc_chrome.current_url == served_run + "map.html"


def test_briefing_prints_on_a4(cc_chrome, served_run, tmp_path):
    """The run's briefing.pdf (printed by the library) is A4 throughout, and page one,
    printed alone by the browser's own DevTools print, is one page."""
    import base64
    import urllib.request

    from carecircle.outputs.pdf import pdf_page_sizes

    with urllib.request.urlopen(served_run + "briefing.pdf") as r:  # the local server
        pages = pdf_page_sizes(r.read())
    # page one, then appendices A (notes, parameters), B (sites), C (streets), D (communities)
    assert len(pages) == 5
    for w, h in pages:  # A4 is 595.3 x 841.9 points (the page's @page rule, not Letter)
        assert abs(w - 595.3) < 2 and abs(h - 841.9) < 2
    cc_chrome.get(served_run + "briefing.html")
    _wait(cc_chrome, "#district-table")
    cc_chrome.execute_script("document.querySelectorAll('.appendix').forEach(e => e.remove());")
    pdf = base64.b64decode(cc_chrome.execute_cdp_cmd(
        "Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True})["data"])
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "briefing-summary.pdf").write_bytes(pdf)
    assert len(pdf_page_sizes(pdf)) == 1


def test_base_layers_in_browser(cc_chrome, tmp_path, cc_serve):
    """OpenStreetMap and Amap as base layers: the tiles asked for are each provider's
    (blocked here: tests are offline), "no base map" drops them, and the known point is
    drawn at its WGS-84 position over OpenStreetMap and its GCJ-02 one over Amap."""
    from carecircle.outputs.webmap import write_plan_map
    from test_basemap import KNOWN_GCJ, KNOWN_WGS, known_point_run

    out = tmp_path / "maps"
    out.mkdir()
    run = known_point_run(tmp_path)
    for name in ("osm", "amap"):
        write_plan_map(run, out / f"{name}.html", basemap=name)
    base = cc_serve(out)
    d = cc_chrome
    d.execute_cdp_cmd("Network.enable", {})
    d.execute_cdp_cmd("Network.setBlockedURLs",
                      {"urls": ["*openstreetmap.org*", "*autonavi.com*", "*tianditu.gov.cn*"]})
    try:
        for name, host, known in (("osm", "tile.openstreetmap.org", KNOWN_WGS),
                                  ("amap", "autonavi.com", KNOWN_GCJ)):
            d.get(base + f"{name}.html")
            _wait_js(d, "window.cc && cc.count('cc-facility') > 0")
            labels = [e.text for e in d.find_elements("css selector", ".leaflet-control-layers-base label")]
            assert len(labels) == 2 and "No base map" in labels[0]
            assert d.find_elements("css selector", ".leaflet-control-layers-base input")[1].is_selected()
            _wait_js(d, f"[...document.querySelectorAll('img.leaflet-tile')].some(i => i.src.includes({host!r}))")
            lat, lon = d.execute_script(
                "const m = cc.layers.find(l => l.name === 'cc-facility').markers[0].getLatLng();"
                "return [m.lat, m.lng];")
            assert (lon, lat) == pytest.approx(known, abs=1e-6)
            # streets are there, off at first, and draw when asked
            box = _overlay_checkbox(d, "Streets (walking network)")
            assert not box.is_selected()
            box.click()
            _wait_js(d, "cc.streetsReady && cc.streetLines > 0")
            d.find_elements("css selector", ".leaflet-control-layers-base input")[0].click()
            assert _count(d, "img.leaflet-tile") == 0
            d.get_log("browser")  # the blocked tiles' errors
    finally:
        d.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
