"""docs/getting-started.md, section 6, run as written: a town in Finland from a real OSM
extract, with no Xi'an figure, no yuan and no community or site joined through a tunnel."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pandas as pd
import pytest

from carecircle.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "getting-started.md"
pytestmark = pytest.mark.slow


def _section() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text[text.index("## 6. A walkthrough"):]


def _files(section: str) -> dict[str, str]:
    """The code blocks that name a file: ```lang title="path"."""
    return dict(re.findall(r'```\w+ title="([^"]+)"\n(.*?)```', section, flags=re.S))


def _commands(section: str) -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [shlex.split(line)[1:] for b in blocks for line in b.splitlines()
            if line.startswith("carecircle ")]


@pytest.fixture(scope="module")
def walkthrough(osm_data, tmp_path_factory):
    """The section's files written and its commands run in a folder whose ``../shared`` is
    the shared data, as beside this repository."""
    import os

    ws = tmp_path_factory.mktemp("walkthrough")
    (ws / "shared").symlink_to(osm_data.parents[1], target_is_directory=True)
    proj = ws / "proj"
    proj.mkdir()
    section = _section()
    files = _files(section)
    assert set(files) == {"town/districts.geojson", "town/scenario.toml"}
    for name, body in files.items():
        (proj / name).parent.mkdir(parents=True, exist_ok=True)
        (proj / name).write_text(body, encoding="utf-8")
    commands = _commands(section)
    assert [c[0] for c in commands] == ["validate", "run", "isochrones"]
    old = Path.cwd()
    os.chdir(proj)
    try:
        codes = [main(["-q", *c]) for c in commands]
    finally:
        os.chdir(old)
    return proj, codes


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)


def test_every_command_of_the_walkthrough_succeeds(walkthrough):
    _, codes = walkthrough
    assert codes == [0, 0, 0]


def test_no_xian_figure(walkthrough):
    proj, _ = walkthrough
    out = proj / "maps" / "karhula"
    text = (out / "validation.txt").read_text(encoding="utf-8")
    assert "Profile 规划参数: neutral" in text
    assert "populations as loaded" in text
    for xian in ("1.1580", "1.4456", "1.0917", "xian-2023", "2025", "4.8", "subsidies.csv"):
        assert not re.search(r"(?<![\d.])" + re.escape(xian) + r"(?![\d])", text), xian
    comm = _csv(out / "communities.csv")
    assert (comm["人口 Population"].astype(float) == 400).all()  # no growth applied
    assert (comm["人口 Population"] == comm["基年人口 Population, base year"]).all()
    districts = _csv(out / "districts.csv")
    assert set(districts["指标代码 Indicator key"]) == {"urban_elderly", "rural_elderly",
                                                     "compliance"}  # no per-district minimums
    assert not list(out.glob("cost_*"))  # no subsidies
    html = (out / "briefing.html").read_text(encoding="utf-8")
    assert "目标 Targets (neutral)" in html and "Targets (2025)" not in html


def test_no_yuan(walkthrough):
    proj, _ = walkthrough
    out = proj / "maps" / "karhula"
    for f in ("communities.csv", "districts.csv", "sites.csv", "validation.txt",
              "briefing.html", "map.html"):
        # embedded images (base64 data URIs) can spell anything ("yuAN" did)
        text = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", "",
                      (out / f).read_text(encoding="utf-8"))
        assert not re.search(r"yuan", text, flags=re.I), f
        # 元 only as in 欧元 (euro)
        assert not re.search(r"(?<!欧)元", text), (f, re.findall(r".{20}(?<!欧)元.{10}", text)[:3])
    sites = _csv(out / "sites.csv")
    assert "费用(欧元) Cost (EUR)" in sites.columns
    assert (sites["费用(欧元) Cost (EUR)"].astype(float) > 0).all()


def test_no_tunnel_snaps(walkthrough):
    proj, _ = walkthrough
    out = proj / "maps" / "karhula"
    text = (out / "validation.txt").read_text(encoding="utf-8")
    assert "kept for walking through, not for joining the network" in text
    assert "tunnel 5" in text  # the extract's cycle tunnels are in the network ...
    assert "joins the walking network only on a way" not in text  # ... and nobody joins them
    for table in ("communities.csv", "sites.csv"):
        ways = _csv(out / table)["接入道路类型 Way joined"]
        assert (ways != "").sum() > 5
        assert not ways.str.contains("tunnel|layer|access", regex=True).any(), table


def test_the_isochrones_keep_the_sites_columns(walkthrough):
    import geopandas as gpd

    proj, _ = walkthrough
    out = proj / "maps" / "karhula"
    iso = gpd.read_file(out / "isochrones.gpkg", layer="isochrones")
    sites = _csv(out / "sites.csv")
    assert iso["id"].tolist() == sites["编号 ID"].tolist()
    assert "费用(欧元) Cost (EUR)" in iso.columns and "建设类型 Kinds" in iso.columns
    assert (iso.to_crs(3067).area > 20_000).all()
