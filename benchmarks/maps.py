"""Benchmark: the map and the briefing of a whole city: sizes, write times, opening in Chromium.

The run is ``tests/city_run.py``'s synthetic Xi'an: 13 districts, 172 streets, 3,223
communities, 1,410 facilities, 1,800 proposed sites, on ``reach.py``'s dense 60 m street
grid (880 x 880: 774k nodes, 1.39 M edges), with the served-area surfaces of the
facilities and the proposed sites' walk zones computed on it.  Measured:

* writing ``map.html``, ``map.png``, ``briefing.html`` and ``briefing.pdf`` (seconds, MB);
* opening each HTML in headless Chromium (a fresh browser each time, from a local
  server as a reader's browser would): until the map's symbols are drawn and its
  streets decoded, until the briefing has loaded;
* the map staying responsive: the time to redraw after a zoom out to the whole city,
  after a zoom in to a street, and to build the 1,800 walk zones when switched on.

Targets (issue 17): each HTML at most 25 MB and open in under 10 s.

Run from the repository root::

    PYTHONPATH=src python benchmarks/maps.py          # full, a few minutes
    PYTHONPATH=src python benchmarks/maps.py --quick  # a 200 x 200 grid

Writes ``benchmarks/results/maps.json`` (``maps-quick.json``) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(HERE))

import _machine  # noqa: E402

from carecircle.outputs.briefing import write_briefing, write_briefing_pdf  # noqa: E402
from carecircle.outputs.pdf import pdf_page_sizes  # noqa: E402
from carecircle.outputs.staticmap import write_static_map  # noqa: E402
from carecircle.outputs.webmap import write_plan_map  # noqa: E402
from city_run import city_run  # noqa: E402  (tests/city_run.py)


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(folder: Path) -> tuple[str, http.server.ThreadingHTTPServer]:
    handler = functools.partial(Quiet, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}/", httpd


def browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "chromium"
    profile = tempfile.mkdtemp(prefix="cc-bench-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
                 f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.set_page_load_timeout(120)
    driver._cc_profile = profile
    return driver


def wait_for(driver: Any, script: str, limit_s: float = 120.0) -> float:
    """Seconds until ``script`` is true."""
    t0 = time.perf_counter()
    while not driver.execute_script(f"return !!({script});"):
        if time.perf_counter() - t0 > limit_s:
            raise TimeoutError(script)
        time.sleep(0.05)
    return time.perf_counter() - t0


def frame_after(driver: Any, action: str) -> float:
    """Seconds from a JavaScript action to the next painted frame after it."""
    return float(driver.execute_async_script(
        "const done = arguments[arguments.length - 1]; const t0 = performance.now();"
        f"{action};"
        "requestAnimationFrame(() => requestAnimationFrame(() => done((performance.now() - t0) / 1000)));"))


def open_map(url: str, n_comm: int) -> dict[str, float]:
    d = browser()
    try:
        t0 = time.perf_counter()
        d.get(url + "map.html")  # returns at the load event
        loaded = time.perf_counter() - t0
        wait_for(d, f"window.cc && cc.count('cc-community-after') === {n_comm}")
        symbols = time.perf_counter() - t0
        wait_for(d, "cc.streetsReady && cc.streetLines > 0")
        streets = time.perf_counter() - t0
        out = {"load_event_s": loaded, "symbols_drawn_s": symbols, "streets_drawn_s": streets}
        out["zoom_out_city_s"] = frame_after(d, "cc.map.setZoom(10, {animate: false})")
        out["zoom_in_street_s"] = frame_after(d, "cc.map.setView(cc.map.getCenter(), 16, {animate: false})")
        out["pan_s"] = frame_after(d, "cc.map.panBy([400, 300], {animate: false})")
        d.execute_script(
            "document.querySelectorAll('.leaflet-control-layers-overlays label').forEach(l => {"
            "  if (l.textContent.includes('Proposed elderly')) l.querySelector('input').click(); });")
        out["zones_built_s"] = wait_for(d, "cc.zones.proposed_elderly > 0")
        out["js_heap_mb"] = d.execute_script("return performance.memory.usedJSHeapSize / 1e6;")
        severe = [e for e in d.get_log("browser") if e.get("level") == "SEVERE"]
        out["console_errors"] = len(severe)
        return out
    finally:
        d.quit()
        shutil.rmtree(d._cc_profile, ignore_errors=True)


def open_briefing(url: str) -> dict[str, float]:
    d = browser()
    try:
        t0 = time.perf_counter()
        d.get(url + "briefing.html")
        loaded = time.perf_counter() - t0
        rows = d.execute_script("return document.querySelectorAll('#community-table tbody tr').length;")
        return {"load_event_s": loaded, "community_rows": rows}
    finally:
        d.quit()
        shutil.rmtree(d._cc_profile, ignore_errors=True)


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a 200 x 200 grid")
    args = ap.parse_args()
    side = 200 if args.quick else 880
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "quick": args.quick,
                               "machine": _machine.machine({}),
                               "load_average_start": os.getloadavg()}
    work = Path(tempfile.mkdtemp(prefix="cc-maps-"))
    try:
        run, t_build = timed(city_run, work, network_side=side)
        results["run"] = {"grid_side": side, "nodes": run.network.n_nodes, "edges": run.network.n_edges,
                          "communities": len(run.communities), "sites": len(run.sites),
                          "facilities": len(run.inputs.layers["facilities"]),
                          "build_with_surfaces_and_zones_s": round(t_build, 1)}
        print(json.dumps(results["run"]), flush=True)
        files: dict[str, Any] = {}
        for name, fn in (("map.html", lambda: write_plan_map(run, work / "map.html")),
                         ("map.png", lambda: write_static_map(run, work / "map.png")),
                         ("briefing.html", lambda: write_briefing(run, work)),
                         ("briefing.pdf", lambda: write_briefing_pdf(work / "briefing.html"))):
            path, secs = timed(fn)
            files[name] = {"write_s": round(secs, 1), "mb": round(path.stat().st_size / 1e6, 2)}
            print(name, files[name], flush=True)
        files["briefing.pdf"]["pages"] = len(pdf_page_sizes((work / "briefing.pdf").read_bytes()))
        results["files"] = files
        url, httpd = serve(work)
        try:
            results["map_in_chromium"] = open_map(url, len(run.communities))
            print("map", results["map_in_chromium"], flush=True)
            results["briefing_in_chromium"] = open_briefing(url)
            print("briefing", results["briefing_in_chromium"], flush=True)
        finally:
            httpd.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["load_average_end"] = os.getloadavg()
    out = HERE / "results" / ("maps-quick.json" if args.quick else "maps.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    m, b = results["map_in_chromium"], results["briefing_in_chromium"]
    print("\n| output | MB | write s | opens in Chromium |\n|---|---:|---:|---|")
    print(f"| map.html | {files['map.html']['mb']} | {files['map.html']['write_s']} | symbols "
          f"{m['symbols_drawn_s']:.1f} s, streets {m['streets_drawn_s']:.1f} s |")
    print(f"| briefing.html | {files['briefing.html']['mb']} | {files['briefing.html']['write_s']} | "
          f"{b['load_event_s']:.1f} s |")
    print(f"| briefing.pdf | {files['briefing.pdf']['mb']} | {files['briefing.pdf']['write_s']} | "
          f"{files['briefing.pdf']['pages']} pages |")
    print(f"| map.png | {files['map.png']['mb']} | {files['map.png']['write_s']} | |")
    print(f"\nmap responsiveness: zoom out to the city {m['zoom_out_city_s']:.2f} s, zoom in to a "
          f"street {m['zoom_in_street_s']:.2f} s, pan {m['pan_s']:.2f} s, 1,800 zones built in "
          f"{m['zones_built_s']:.2f} s; JS heap {m['js_heap_mb']:.0f} MB; console errors "
          f"{m['console_errors']}; load average {results['load_average_start']} -> "
          f"{results['load_average_end']}; results in {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
