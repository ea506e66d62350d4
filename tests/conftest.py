"""Shared fixtures.

Data fixtures give the paths tests share: the demo city (``data/demo``, in the
repository), and the shared data beside the checkout (``../shared``: the plan's text,
``../shared/data`` and its central Xi'an extract, with the ``examples/xian-central``
scenario that reads it).  A test that asks for shared data skips, saying what is
missing and where it was looked for, when ``../shared`` is not there.

Browser fixtures (``cc_chrome``, ``cc_serve``) drive Debian's headless Chromium through
``/usr/bin/chromedriver`` (Selenium Manager is never used, so nothing is downloaded)
over a local ``http.server`` on 127.0.0.1.  Tests that use them skip with a reason when
Chromium, chromedriver or selenium are absent.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PLAN_TEXT = SHARED / "seeds" / "xian-yilao-yixiao-plan-2023.txt"

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1280,900",
)


@pytest.fixture(scope="session")
def cc_chrome() -> Iterator[object]:
    """A headless Chromium WebDriver with browser console logging enabled."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install selenium)")
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None or not Path(CHROMEDRIVER).exists():
        pytest.skip("Chromium or chromedriver is absent: apt-get install chromium chromium-driver "
                    "(make system-deps)")
    profile = tempfile.mkdtemp(prefix="cc-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={profile}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def cc_serve() -> Iterator[Callable[[Path], str]]:
    """Serve a folder from 127.0.0.1 on a free port; returns the base URL (ends in /)."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def serve(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session", autouse=True)
def cc_isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Network caches of the test run go to a fresh folder, never the user's cache."""
    import os

    folder = tmp_path_factory.mktemp("carecircle-cache")
    old = os.environ.get("CARECIRCLE_CACHE_DIR")
    os.environ["CARECIRCLE_CACHE_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("CARECIRCLE_CACHE_DIR", None)
    else:
        os.environ["CARECIRCLE_CACHE_DIR"] = old


# ---------------------------------------------------------------------------- data


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.skip(f"{what} not found at {path}: the shared data is expected beside the "
                    "repository as ../shared")
    return path


@pytest.fixture(scope="session")
def demo_scenario() -> Path:
    """The demo city's ``data/demo/scenario.toml`` (its other scenarios beside it)."""
    from carecircle.runs.pipeline import demo_scenario_path

    return demo_scenario_path()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of one ``carecircle demo`` run (tables, maps, briefing), shared by tests."""
    from carecircle.cli import main

    out = tmp_path_factory.mktemp("demo-run")
    assert main(["-q", "demo", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``: real data used in place (skip without it)."""
    return _need(SHARED / "data", "the shared data folder")


@pytest.fixture(scope="session")
def osm_data(shared_data: Path) -> Path:
    """``../shared/data/osm``: small real OSM extracts (a Finnish town's PBF, West Oakland)."""
    return _need(shared_data / "osm", "the OSM extracts")


@pytest.fixture(scope="session")
def xian_central_data(shared_data: Path) -> Path:
    """``../shared/data/xian-central``: roads, districts and Amap POIs of central Xi'an."""
    return _need(shared_data / "xian-central", "the central Xi'an data")


@pytest.fixture(scope="session")
def xian_roads(xian_central_data: Path) -> Path:
    """The central Xi'an road network (``roads-osm-2021``: nodes.shp, edges.shp)."""
    return _need(xian_central_data / "roads-osm-2021", "the central Xi'an road network")


@pytest.fixture(scope="session")
def xian_example(xian_central_data: Path) -> Path:
    """``examples/xian-central/scenario.toml``, whose layers are the shared central Xi'an data."""
    return REPO / "examples" / "xian-central" / "scenario.toml"


@pytest.fixture(scope="session")
def plan_text() -> str:
    """The plan 市政办发〔2023〕1号, full text (``../shared/seeds``)."""
    return _need(PLAN_TEXT, "the plan's text").read_text(encoding="utf-8")
