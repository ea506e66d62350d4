"""Benchmark: the what-if page at whole-city size (3,223 communities, 20,000 candidates).

A synthetic problem of Xi'an's size (:func:`carecircle.siting.synthetic.random_siting_problem`,
16 districts, about 30 candidates within a community's walk), with names of realistic
length (Chinese, 6-16 characters) and positions around Xi'an, is written as
``what-if.html``.  The plan is any 3 % of the candidates that may host something: the
page's size does not depend on which sites the plan takes.  Measured: the embedded
document's size (JSON, gzip, base64), the page's size, the time to write it, and with
``--browser`` the time headless Chromium takes to open it and to recompute after one
site is switched.

Run from the repository root::

    PYTHONPATH=src python benchmarks/whatif_size.py             # about 20 s
    PYTHONPATH=src python benchmarks/whatif_size.py --browser   # and in Chromium

Writes ``benchmarks/results/whatif.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import geopandas as gpd
import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

import _machine  # noqa: E402  (benchmarks/, the script's own folder)

from carecircle.outputs.whatif import encode, whatif_data, whatif_html  # noqa: E402
from carecircle.siting.evaluate import PlanBasis  # noqa: E402
from carecircle.siting.problem import HOST_KINDS  # noqa: E402
from carecircle.siting.synthetic import random_siting_problem  # noqa: E402

CHARS = "雁塔长安未央碑林莲湖新城灞桥临潼高陵鄠邑阎良蓝田周至东西南北中大小兴华明德安康宁和平乐福寿"


def names(rng: np.random.Generator, n: int, suffixes: list[str]) -> list[str]:
    """Random Chinese names of 6-16 characters."""
    stems = ["".join(rng.choice(list(CHARS), size=int(rng.integers(2, 6)))) for _ in range(n)]
    return [s + rng.choice(suffixes) for s in stems]


def points(rng: np.random.Generator, n: int) -> gpd.GeoSeries:
    """Random points over Xi'an's built-up area (WGS-84)."""
    lon = rng.uniform(108.75, 109.15, n)
    lat = rng.uniform(34.10, 34.45, n)
    return gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def build(n: int, j: int, seed: int) -> tuple[PlanBasis, gpd.GeoDataFrame]:
    rng = np.random.default_rng(seed)
    P = random_siting_problem(n, j, seed=seed, districts=4)
    hostable = np.flatnonzero(P.can_host["elderly"] | P.can_host["childcare"])
    plan = np.sort(rng.choice(hostable, size=max(1, int(0.03 * len(hostable))), replace=False))
    opened = {k: plan[P.can_host[k][plan]] for k in HOST_KINDS if k != "street_centre"}
    cand = gpd.GeoDataFrame({
        "id": P.candidate_ids, "name": names(rng, j, ["闲置办公用房", "社区服务中心", "空置公租房", "地块", "幼儿园"]),
        "floor_area_m2": rng.uniform(150, 1500, j).round(),
        "acquisition": rng.choice(["new", "renovate", "lease"], j)}, geometry=points(rng, j))
    comm = gpd.GeoDataFrame({"id": P.community_ids,
                             "name": names(rng, n, ["社区居委会", "村委会", "社区"])},
                            geometry=points(rng, n))
    return PlanBasis(P, opened, cand), comm


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def in_browser(html: str, toggles: int) -> dict:
    """Open the page in headless Chromium; time the load and single-site switches."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "what-if.html").write_text(html, encoding="utf-8")
        handler = functools.partial(_Quiet, directory=tmp)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
            opts.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        try:
            t0 = time.perf_counter()
            driver.get(f"http://127.0.0.1:{server.server_address[1]}/what-if.html")
            while driver.execute_script("return document.body.getAttribute('data-ready');") == "0":
                time.sleep(0.05)
            load_s = time.perf_counter() - t0
            check = driver.execute_script("return document.body.getAttribute('data-check');")
            ms = driver.execute_script("""
                var ids = window.ccWhatIf.siteIds(), on = window.ccWhatIf.onIds(), out = [];
                for (var q = 0; q < arguments[0]; q++) {
                    var extra = ids[(q * 7919) % ids.length];
                    var t = performance.now();
                    window.ccWhatIf.setSites(on.concat([extra]));
                    out.push(performance.now() - t);
                }
                window.ccWhatIf.setSites(on);
                return out;
            """, toggles)
        finally:
            driver.quit()
            server.shutdown()
    return {"load_s": round(load_s, 2), "self_check": check,
            "switch_ms_median": round(float(np.median(ms)), 1), "switch_ms_max": round(float(max(ms)), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--communities", type=int, default=3223)
    ap.add_argument("--candidates", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--browser", action="store_true", help="also open the page in headless Chromium")
    ap.add_argument("--toggles", type=int, default=20)
    args = ap.parse_args()

    t0 = time.perf_counter()
    basis, comm = build(args.communities, args.candidates, args.seed)
    t1 = time.perf_counter()
    data = whatif_data(basis, communities=comm, title="西安市 Xi'an (synthetic, whole-city size)")
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    html = whatif_html(data)
    t2 = time.perf_counter()
    parts = {k: len(json.dumps(v, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
             for k, v in data.items()}
    P = basis.problem
    result = {
        "communities": P.n_communities, "candidates": P.n_candidates,
        "sites_on_page": len(data["site"]["id"]), "plan_sites": len(basis.proposed),
        "reach_pairs": {k: len(v["i"]) for k, v in data["reach"].items()},
        "json_bytes": len(raw), "json_gzip_bytes": len(gzip.compress(raw, 9, mtime=0)),
        "base64_bytes": len(encode(data)), "html_bytes": len(html.encode("utf-8")),
        "json_bytes_by_part": parts,
        "build_problem_s": round(t1 - t0, 2), "write_page_s": round(t2 - t1, 2),
    }
    if args.browser:
        result["chromium"] = in_browser(html, args.toggles)
    result["machine"] = _machine.machine({"numpy": np.__version__})
    out = HERE / "results" / "whatif.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    rows = [("communities x candidates", f"{P.n_communities:,} x {P.n_candidates:,}"),
            ("sites on the page (may host something)", f"{result['sites_on_page']:,}"),
            ("reach pairs embedded (elderly / childcare)",
             " / ".join(f"{v:,}" for v in result["reach_pairs"].values())),
            ("document JSON", f"{len(raw) / 1e6:.2f} MB"),
            ("document gzip + base64", f"{result['base64_bytes'] / 1e6:.2f} MB"),
            ("what-if.html", f"{result['html_bytes'] / 1e6:.2f} MB"),
            ("time to write the page", f"{result['write_page_s']:.1f} s")]
    if args.browser:
        c = result["chromium"]
        rows += [("Chromium: open until ready", f"{c['load_s']:.1f} s (self-check {c['self_check']})"),
                 ("Chromium: one site switched (median / max)",
                  f"{c['switch_ms_median']:.0f} / {c['switch_ms_max']:.0f} ms")]
    print("| what | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
