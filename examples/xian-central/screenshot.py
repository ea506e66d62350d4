"""Screenshots of a run's map and the first page of its briefing PDF, for README.md.

Run after ``carecircle run examples/xian-central/scenario.toml``::

    python examples/xian-central/screenshot.py [maps/xian-central] [DEST] [--zones]

``DEST`` (default: this folder) receives ``map.png`` (the interactive map with its
streets), ``briefing.png`` (page one of ``briefing.pdf``, as Chromium's own PDF viewer
shows it; the briefing page itself when the run has no PDF) and, for a plan,
``whatif.png`` (the what-if page with the plan's first site swapped for another).  The
README's demo pictures are made with ``screenshot.py maps/demo docs/img/demo``.

The interactive map opens fitted to the study area; for the picture it is zoomed to the
communities on the network and the proposed sites, as a user would zoom in (with
``--zones`` the proposed elderly-care sites' walk zones are switched on too).  Needs selenium and Debian's ``chromium``
+ ``chromium-driver`` (as the browser tests).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MAP_SIZE = (1400, 1050)
PDF_SIZE = (900, 1290)  # about A4's proportions, the page filling the width


def study_bounds(out: Path, pad: float = 0.004) -> list[list[float]]:
    """[[south, west], [north, east]] of the communities on the network and the sites."""
    comm = pd.read_csv(out / "communities.csv", encoding="utf-8-sig")
    on = comm[comm["接入路网 On network"].astype(str) == "True"]
    frames = [on]
    if (out / "sites.csv").is_file():
        frames.append(pd.read_csv(out / "sites.csv", encoding="utf-8-sig"))
    pts = pd.concat([f[["经度(WGS-84) Longitude", "纬度(WGS-84) Latitude"]] for f in frames])
    lon, lat = pts.iloc[:, 0], pts.iloc[:, 1]
    return [[lat.min() - pad, lon.min() - pad], [lat.max() + pad, lon.max() + pad]]


def shoot_whatif(driver, page: Path, png: Path) -> None:
    """The what-if page with one question asked: the plan's first site dropped, a candidate
    outside the plan taken instead (so the changes show)."""
    driver.get(page.resolve().as_uri())
    for _ in range(200):
        if driver.execute_script("return document.body.getAttribute('data-ready');") != "0":
            break
        time.sleep(0.1)
    driver.execute_script(
        "const ids = window.ccWhatIf.siteIds(), on = window.ccWhatIf.onIds();"
        "const other = ids.find(i => !on.includes(i));"
        "window.ccWhatIf.setSites(on.slice(1).concat(other ? [other] : []));")
    time.sleep(0.5)
    driver.save_screenshot(str(png))


def _wait(driver, script: str, limit_s: float = 60.0) -> None:
    t0 = time.monotonic()
    while not driver.execute_script(f"return !!({script});"):
        if time.monotonic() - t0 > limit_s:
            raise TimeoutError(script)
        time.sleep(0.1)


def shoot_map(driver, out: Path, dest: Path, zones: bool) -> None:
    driver.set_window_size(*MAP_SIZE)
    driver.get((out / "map.html").resolve().as_uri())
    _wait(driver, "window.cc && cc.map && cc.streetsReady")
    # zoom to the study area without animation
    driver.execute_script("cc.map.fitBounds(arguments[0], {animate: false});", study_bounds(out))
    if zones:  # the proposed sites' walk zones (off by default), ticked in the layer control
        driver.execute_script(
            "document.querySelectorAll('.leaflet-control-layers-overlays label').forEach(l => {"
            "  const box = l.querySelector('input');"
            "  if (l.textContent.includes('Walk zones: Proposed elderly') && !box.checked) box.click(); });")
        _wait(driver, "Object.keys(cc.zones).length > 0")
    time.sleep(1.0)  # the street tiles of the new view
    driver.save_screenshot(str(dest / "map.png"))


def shoot_pdf(driver, out: Path, dest: Path) -> None:
    driver.set_window_size(*PDF_SIZE)
    pdf = out / "briefing.pdf"
    if pdf.is_file():  # the viewer without its toolbar and thumbnails, page one
        driver.get(pdf.resolve().as_uri() + "#toolbar=0&navpanes=0&page=1&view=FitH")
        png = _rendered_page(driver)
    else:
        driver.get((out / "briefing.html").resolve().as_uri())
        time.sleep(1.0)
        png = driver.get_screenshot_as_png()
    (dest / "briefing.png").write_bytes(png)


def _rendered_page(driver, limit_s: float = 60.0) -> bytes:
    """A screenshot once the PDF viewer has drawn the (white) page, not its dark ground."""
    import io

    from PIL import Image

    t0 = time.monotonic()
    while True:
        png = driver.get_screenshot_as_png()
        with Image.open(io.BytesIO(png)) as im:
            grey = im.convert("L")
            white = sum(grey.histogram()[230:]) / (grey.width * grey.height)
        if white > 0.4 or time.monotonic() - t0 > limit_s:
            time.sleep(1.0)  # the text after the page's ground
            return driver.get_screenshot_as_png()
        time.sleep(0.5)


def main(argv: list[str]) -> int:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    flags = [a for a in argv if a.startswith("--")]
    argv = [a for a in argv if not a.startswith("--")]
    out = Path(argv[0]) if argv else REPO / "maps" / "xian-central"
    dest = Path(argv[1]) if len(argv) > 1 else HERE
    dest.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="cc-shot-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 f"--window-size={MAP_SIZE[0]},{MAP_SIZE[1]}", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        shoot_map(driver, out, dest, zones="--zones" in flags)
        shoot_pdf(driver, out, dest)
        if (out / "what-if.html").is_file():
            driver.set_window_size(*MAP_SIZE)
            shoot_whatif(driver, out / "what-if.html", dest / "whatif.png")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    print(f"wrote {dest / 'map.png'}, {dest / 'briefing.png'} and (plans) {dest / 'whatif.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
