"""Screenshots of the example's briefing and map for README.md (headless Chromium).

Run after ``carecircle run examples/xian-central/scenario.toml``::

    python examples/xian-central/screenshot.py [maps/xian-central] [DEST]

``DEST`` (default: this folder) receives ``briefing.png``, ``map.png`` and, for a plan,
``whatif.png`` (the what-if page with the plan's first site swapped for another); the
README's demo pictures are made with ``screenshot.py maps/demo docs/img/demo``.

The briefing is shot as it opens.  The interactive map opens fitted to all 13 districts
of Xi'an (the districts layer); for the picture it is zoomed to the study area (the
communities on the network and the proposed sites), as a user would zoom in, and the
proposed sites' walk zones are switched on.  Needs
selenium and Debian's ``chromium`` + ``chromium-driver`` (as the browser tests).
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
SIZE = (1400, 1150)


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


def main(argv: list[str]) -> int:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    out = Path(argv[0]) if argv else REPO / "maps" / "xian-central"
    dest = Path(argv[1]) if len(argv) > 1 else HERE
    dest.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="cc-shot-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={SIZE[0]},{SIZE[1]}",
        f"--user-data-dir={profile}",
    ):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        driver.set_window_size(*SIZE)
        driver.get((out / "briefing.html").resolve().as_uri())
        time.sleep(1.0)
        driver.save_screenshot(str(dest / "briefing.png"))
        driver.get((out / "map.html").resolve().as_uri())
        time.sleep(1.0)
        # the folium map is a global L.Map; zoom it to the study area without animation
        driver.execute_script(
            "const m = Object.values(window).find(v => v instanceof L.Map);"
            "m.fitBounds(arguments[0], {animate: false});",
            study_bounds(out),
        )
        # show the proposed sites' walk zones (off by default) by ticking them in the layer control
        driver.execute_script(
            "document.querySelectorAll('.leaflet-control-layers-overlays label').forEach(l => {"
            "  const box = l.querySelector('input');"
            "  if (l.textContent.includes('步行圈') && !box.checked) box.click(); });"
        )
        time.sleep(1.0)
        driver.save_screenshot(str(dest / "map.png"))
        if (out / "what-if.html").is_file():
            shoot_whatif(driver, out / "what-if.html", dest / "whatif.png")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    print(f"wrote {dest / 'briefing.png'}, {dest / 'map.png'} and (plans) {dest / 'whatif.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
