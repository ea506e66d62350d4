"""Tests of the tables, the briefing page and the atomic run writer (carecircle.report)."""

from __future__ import annotations

import base64
import json
import re
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from carecircle.errors import CarecircleWarning
from carecircle.outputs.briefing import (
    briefing_html,
    css_string,
    headline_items,
    write_briefing,
    write_briefing_pdf,
)
from carecircle.outputs.pdf import PdfUnavailable, find_chromium, pdf_page_sizes, print_pdf
from carecircle.outputs.results import RunOutputs
from carecircle.outputs.tables import (
    XLSX_TIME,
    community_table,
    display_width,
    write_tables,
    xlsx_bytes,
)
from carecircle.outputs.write import write_run
from test_maps import COMMUNITIES, EVIL, SITES, synthetic_run

RUN_FILES = {
    "map.html", "map.png", "briefing.html", "run.gpkg",
    "communities.csv", "communities.xlsx", "districts.csv", "districts.xlsx",
    "sites.csv", "sites.xlsx", "cost_sites.csv", "cost_sites.xlsx",
    "cost_total.csv", "cost_total.xlsx",
} | ({"briefing.pdf"} if find_chromium() else set())
A4 = (595.28, 841.89)  # points
needs_chromium = pytest.mark.skipif(find_chromium() is None, reason="Chromium is absent: "
                                    "apt-get install chromium (make test does)")


@pytest.fixture
def run(tmp_path: Path) -> RunOutputs:
    return synthetic_run(tmp_path)


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False)


# ---------------------------------------------------------------- tables


def test_write_tables_files_and_headers(run, tmp_path):
    paths = write_tables(run, tmp_path / "t")
    names = [p.name for p in paths]
    assert names == ["communities.csv", "communities.xlsx", "districts.csv", "districts.xlsx",
                     "sites.csv", "sites.xlsx", "cost_sites.csv", "cost_sites.xlsx",
                     "cost_total.csv", "cost_total.xlsx"]
    raw = (tmp_path / "t" / "communities.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads the Chinese right
    assert b"\r\n" not in raw
    comm = _read_csv(tmp_path / "t" / "communities.csv")
    assert len(comm) == len(COMMUNITIES)
    for header in ("编号 ID", "名称 Name", "服务状态 Status", "规划后服务状态 Status after plan",
                   "经度(WGS-84) Longitude", "纬度(WGS-84) Latitude"):
        assert header in comm.columns, header
    assert "geometry" not in comm.columns
    assert comm["名称 Name"].tolist()[2] == EVIL  # data kept as it is in CSV
    assert comm["经度(WGS-84) Longitude"].between(107.8, 108.2).all()
    sites = _read_csv(tmp_path / "t" / "sites.csv")
    assert len(sites) == len(SITES)
    assert any(c.startswith("新覆盖服务对象") and "People newly served" in c for c in sites.columns)
    total = _read_csv(tmp_path / "t" / "cost_total.csv")
    # cost tables use the costing module's labels
    assert "建设费用 Construction cost (yuan)" in total.columns
    assert total.iloc[0, 1] == pytest.approx((600 + 250 + 320) * 7500.0)


def test_district_table_before_and_after(run, tmp_path):
    write_tables(run, tmp_path)
    d = _read_csv(tmp_path / "districts.csv")
    assert len(d) == 12  # 3 districts + city, 3 indicators each
    for header in ("现状达标情况 Status today", "规划后达标情况 Status after plan",
                   "现状值 Value today", "规划后值 Value after plan"):
        assert header in d.columns
    b02 = d[(d["区县代码 District code"] == "B02") & (d["指标代码 Indicator key"] == "urban_elderly")]
    assert b02["现状达标情况 Status today"].item() == "fail"
    assert b02["规划后达标情况 Status after plan"].item() == "pass"
    c03 = d[d["区县代码 District code"] == "C03"]
    assert set(c03["现状达标情况 Status today"]) == {"no data"}
    # Floats are rounded: 0.45 is written as 0.45, not 0.44999999999999996.
    assert "0.45," in (tmp_path / "districts.csv").read_text(encoding="utf-8-sig")


def test_assessment_has_no_plan_tables(tmp_path):
    run = synthetic_run(tmp_path, with_plan=False)
    names = [p.name for p in write_tables(run, tmp_path / "a")]
    assert names == ["communities.csv", "communities.xlsx", "districts.csv", "districts.xlsx"]
    d = _read_csv(tmp_path / "a" / "districts.csv")
    assert "规划后达标情况 Status after plan" not in d.columns


def test_tables_are_byte_identical_when_rewritten(run, tmp_path):
    first = write_tables(run, tmp_path / "one")
    second = write_tables(synthetic_run(tmp_path), tmp_path / "two")
    again = write_tables(run, tmp_path / "one")
    for a, b, c in zip(first, second, again, strict=True):
        assert a.read_bytes() == b.read_bytes() == c.read_bytes(), a.name


def test_xlsx_is_deterministic_in_time(run, monkeypatch):
    df = community_table(run)
    one = xlsx_bytes(df, "x")
    import datetime as dt

    import openpyxl.writer.excel as excel

    class Later(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=tz)

    monkeypatch.setattr(excel.datetime, "datetime", Later)
    assert xlsx_bytes(df, "x") == one
    with zipfile.ZipFile(__import__("io").BytesIO(one)) as z:
        assert {i.date_time for i in z.infolist()} == {XLSX_TIME}
        core = z.read("docProps/core.xml").decode()
    assert "2000-01-01T00:00:00Z" in core and "2031" not in core


def test_xlsx_layout(run, tmp_path):
    run.communities.loc[0, "name"] = '=HYPERLINK("http://example.com","x")'
    write_tables(run, tmp_path)
    wb = openpyxl.load_workbook(tmp_path / "communities.xlsx")
    ws = wb.active
    assert ws.title == "社区 Communities"
    assert ws.freeze_panes == "A2"
    headers = [c.value for c in ws[1]]
    assert headers[:2] == ["编号 ID", "名称 Name"]
    assert all(c.font.bold for c in ws[1])
    assert ws.max_row == len(COMMUNITIES) + 1
    # A formula-looking name is stored as text, not as a formula.
    cell = ws.cell(row=2, column=2)
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")
    # Widths from content, CJK counted double: the name column fits its longest name.
    names = [ws.cell(row=r, column=2).value for r in range(2, ws.max_row + 1)]
    want = max(display_width(n) for n in names) + 2
    assert ws.column_dimensions["B"].width == want
    # A column of short codes is not as wide as its long bilingual header.
    col = headers.index("服务状态 Status") + 1
    letter = openpyxl.utils.get_column_letter(col)
    assert ws.column_dimensions[letter].width < display_width("服务状态 Status") + 2 + 10
    # Empty cells are empty, booleans are booleans.
    snapped = headers.index("接入路网 On network") + 1
    assert ws.cell(row=2, column=snapped).value is True
    snap_m = headers.index("接入距离(米) Snap distance (m)") + 1
    assert ws.cell(row=7, column=snap_m).value is None


def test_display_width():
    assert display_width("ab") == 2
    assert display_width("甲区") == 4
    assert display_width("甲a") == 3
    assert display_width("（") == 2  # full-width punctuation


# ---------------------------------------------------------------- briefing


def test_briefing_content(run, tmp_path):
    from carecircle.outputs.staticmap import write_static_map
    write_static_map(run, tmp_path / "map.png")
    html = write_briefing(run, tmp_path).read_text(encoding="utf-8")
    assert "@page {" in html and "size: A4" in html and "@media print" in html
    summary, appendix = html.split('<section id="appendix-notes"', 1)
    # page one: notes, prominently, and escaped; headline; districts; map; the unserved
    assert 'class="notes"' in summary and "spread evenly &lt;over&gt; streets" in summary
    # headline: before -> after pair, cost in yuan and 万元
    assert "1 → 3" in summary and "8,775,000 元 (877.5 万元)" in summary
    # parameters, in appendix A, with the technical headline numbers
    for text in ("15 分钟 min", "1 m/s (900 m)", "1.2 m/s (1,080 m)", "养老 elderly ≥ 300 m²",
                 "预算内最大覆盖 Best coverage within the budget", "5,000,000 元", "EPSG:4545"):
        assert text in appendix, text
    # district table: four rows (3 districts + city), marks and no data
    table = summary.split('id="district-table"', 1)[1].split("</table>", 1)[0]
    assert table.count('<tr class="district">') == 3 and table.count('<tr class="city">') == 1
    assert "✓" in table and "✗" in table and "无数据 no data" in table
    assert "✗ 45.0%" in table and "✓ 95.0%" in table and "✓ 4.85" in table
    assert "&lt;i&gt;丙区&lt;/i&gt;" in table
    # escaping everywhere
    assert EVIL not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<i>丙区</i>" not in html
    # the static map is embedded; the interactive one linked
    m = re.search(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', summary)
    assert m and base64.b64decode(m.group(1)) == (tmp_path / "map.png").read_bytes()
    assert 'href="map.html"' in summary
    # the unserved after the plan, by district: c5 (neither), c4 (no childcare), c6 (off)
    unserved = summary.split('id="unserved-table"', 1)[1].split("</table>", 1)[0]
    rows = [re.findall(r'class="num">([^<]*)<', r) for r in unserved.split("</tr>")[1:-1]]
    assert rows == [["0", "1", "0", "0", "1,000"], ["1", "0", "0", "1", "250"],
                    ["1", "1", "0", "1", "1,250"]]
    # status counts (appendix A): both 1 today -> 3 after plan
    status = appendix.split('id="status-table"', 1)[1].split("</table>", 1)[0]
    both = status.split("</tr>")[1]
    assert re.findall(r'class="num">([^<]*)<', both) == ["1", "8,000", "3", "16,000"]
    # every site (appendix B), street (C) and community (D); costs in A
    assert appendix.split('id="site-table"', 1)[1].count("<tr><td>s") == len(SITES)
    assert appendix.split('id="community-table"', 1)[1].count("<tr><td>c") == len(COMMUNITIES)
    streets = appendix.split('id="street-table"', 1)[1].split("</table>", 1)[0]
    assert streets.count("街道一") == 3  # one street name in each of the three districts
    assert "补助合计 Total subsidy (yuan)" in appendix
    # each appendix starts a new printed page
    assert html.count('class="appendix"') == 4 and ".appendix { break-before: page;" in html


def test_page_footer_title_is_css_escaped(run, tmp_path):
    run.scenario = run.scenario.replace(title='规划"}</style><script>alert(1)</script>')
    html = briefing_html(run)
    style = html.split("<style>", 1)[1].split("</style>", 1)[0]
    footer = re.search(r'@bottom-left \{ content: "([^"]*)"', style).group(1)
    assert "<" not in footer and "}" not in footer and "\\" in footer
    assert footer == css_string('规划"}</style><script>alert(1)</script> · carecircle')
    assert css_string('a "b"') == "a \\000022b\\000022"
    assert "<script>alert(1)" not in html


def test_briefing_without_static_map_or_plan(tmp_path):
    run = synthetic_run(tmp_path, with_plan=False)
    html = write_briefing(run, tmp_path).read_text(encoding="utf-8")
    assert "静态图不可用" in html and "<img" not in html
    assert 'id="site-table"' not in html and 'id="cost-table"' not in html
    assert "→" not in html.split('id="district-table"', 1)[1].split("</table>", 1)[0]


# ---------------------------------------------------------------- the PDF


def test_pdf_page_sizes_by_hand():
    pdf = (b"%PDF-1.4\n1 0 obj\n<</Type /Pages /Kids [2 0 R 3 0 R] /Count 2>>\nendobj\n"
           b"2 0 obj\n<</Type /Page /Parent 1 0 R /MediaBox [0 0 595.28 841.89]>>\nendobj\n"
           b"3 0 obj\n<</Type /Page\n/MediaBox [0 0 612 792] /Parent 1 0 R>>\nendobj\n"
           b"4 0 obj\n<</Length 3>>\nstream\nabc\nendstream\nendobj\n")
    assert pdf_page_sizes(pdf) == [(595.28, 841.89), (612.0, 792.0)]


@needs_chromium
def test_briefing_pdf_page_one_is_the_summary_on_one_a4_page_at_city_scale(tmp_path):
    """Xi'an's counts (13 districts, 172 streets, 3,223 communities, 1,800 sites): page one,
    printed alone, is one A4 page; the whole briefing is that page and the appendices."""
    from carecircle.outputs.staticmap import write_static_map
    from city_run import city_run

    run = city_run(tmp_path)
    png = write_static_map(run, tmp_path / "map.png").read_bytes()
    summary = tmp_path / "summary.html"
    summary.write_text(briefing_html(run, static_png=png, appendix=False), encoding="utf-8")
    pages = pdf_page_sizes(print_pdf(summary, tmp_path / "summary.pdf").read_bytes())
    assert len(pages) == 1 and pages[0] == pytest.approx(A4, abs=1.0)
    html = write_briefing(run, tmp_path)
    text = html.read_text(encoding="utf-8")
    def rows(table: str) -> int:
        return text.split(f'id="{table}"', 1)[1].split("</table>", 1)[0].count("<tr><td>")

    assert rows("community-table") == 3223 and rows("site-table") == 1800
    assert rows("street-table") == 172
    pdf = write_briefing_pdf(html)
    assert pdf.name == "briefing.pdf"
    pages = pdf_page_sizes(pdf.read_bytes())
    # the summary, then appendices A (notes, parameters), B (1,800 sites), C, D (3,223)
    assert 40 < len(pages) < 200
    assert all(p == pytest.approx(A4, abs=1.0) for p in pages)


def test_pdf_skipped_without_chromium_and_the_run_goes_on(run, tmp_path, monkeypatch):
    monkeypatch.setenv("CARECIRCLE_CHROMIUM", str(tmp_path / "no-chromium-here"))
    with pytest.raises(PdfUnavailable, match="no Chromium found"):
        print_pdf(tmp_path / "x.html", tmp_path / "x.pdf")
    with pytest.warns(CarecircleWarning, match="briefing.pdf skipped .*no Chromium found"):
        paths = write_run(run, tmp_path / "out")
    assert "briefing.pdf" not in {p.name for p in paths} and (tmp_path / "out" / "briefing.html").is_file()
    assert not (tmp_path / "out" / "briefing.pdf").exists()


def test_a_failing_chromium_is_reported(tmp_path):
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 3\n")
    fake.chmod(0o755)
    (tmp_path / "b.html").write_text("<p>x</p>")
    with pytest.raises(PdfUnavailable, match=r"failed to print .*exit 3.*cannot open display"):
        print_pdf(tmp_path / "b.html", tmp_path / "b.pdf", chromium=str(fake))


def test_headline_items():
    items = headline_items({"served_both_before": 2, "served_both_after": 5,
                                   "served_elderly_after": 4, "cost_yuan": 12345.0, "custom": "x"})
    assert items[0] == {"label": "两类设施均覆盖 Served by both", "value": "2 → 5",
                        "sub": "现状 → 规划后 today → after plan"}
    assert items[1]["value"] == "4" and items[1]["sub"] == "规划后 after plan"
    assert items[2]["value"] == "12,345 元 (1.2 万元)"
    assert items[3] == {"label": "custom", "value": "x", "sub": ""}


# ---------------------------------------------------------------- the whole run


def test_write_run_writes_everything(run, tmp_path):
    out = tmp_path / "out"
    paths = write_run(run, out)
    assert {p.name for p in paths} == RUN_FILES
    assert all(p.parent == out and p.is_file() for p in paths)
    # no staging folder left; the manifest lists exactly the run's files
    assert {p.name for p in out.iterdir()} == RUN_FILES | {"carecircle-manifest.json"}
    manifest = json.loads((out / "carecircle-manifest.json").read_text(encoding="utf-8"))
    assert manifest["files"] == dict.fromkeys(sorted(RUN_FILES), "run")


def test_failing_run_leaves_previous_outputs_untouched(run, tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_run(run, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    # A run that fails midway: maps and tables written, then the briefing fails.
    def broken(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr("carecircle.outputs.write.write_briefing", broken)
    changed = synthetic_run(tmp_path)
    changed.communities["status_after"] = "neither"
    with pytest.raises(RuntimeError, match="disk full"):
        write_run(changed, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    monkeypatch.undo()

    # A run whose input is bad (a table lacks a column) fails in the map: same result.
    bad = synthetic_run(tmp_path)
    bad.sites = bad.sites.drop(columns=["kinds"])
    with pytest.raises(KeyError):
        write_run(bad, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_rewrite_removes_stale_outputs_only(run, tmp_path):
    out = tmp_path / "out"
    write_run(run, out)
    (out / "my notes.txt").write_text("keep me", encoding="utf-8")
    paths = write_run(synthetic_run(tmp_path, with_plan=False), out)
    left = {p.name for p in out.iterdir()}
    assert "sites.csv" not in left and "cost_total.xlsx" not in left
    assert "my notes.txt" in left
    assert left == {p.name for p in paths} | {"my notes.txt", "carecircle-manifest.json"}


def test_write_run_default_folder_is_the_scenario_out_dir(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = write_run(run)
    assert paths[0].parent == Path("maps") / "synthetic"
