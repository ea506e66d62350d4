"""Tables (CSV, XLSX) and the one-page briefing of a run.

Every run leaves, in its output folder:

=====================  ==============================================================
``map.html``           the interactive map (:func:`carecircle.maps.write_plan_map`)
``map.png``            the static map (:func:`carecircle.maps.write_static_map`)
``communities.*``      community service status (today, and after the plan)
``districts.*``        district indicators vs targets, before and after the plan
``sites.*``            proposed sites (plans only)
``cost_<name>.*``      cost tables (plans with costing only)
``briefing.html``      one printable A4 page for the joint meeting (联席会议)
=====================  ==============================================================

Tables are written twice: CSV (UTF-8 with BOM, so Excel opens Chinese correctly) and
XLSX (bilingual bold header row, frozen, with an auto-filter and column widths
computed from the content, CJK characters counted double).  Both are byte-identical
when the same run is written again: CSVs by construction; XLSX files because the
workbook's created/modified times and the zip members' times are fixed.

:func:`write_run` writes everything through :class:`~carecircle.atomic.StagedOutputs`:
a run that fails midway leaves the previous outputs untouched.

Notes on safety: every text from input data is HTML-escaped in the briefing (Jinja
autoescaping); in XLSX a text starting with ``=`` is stored as text, never as a
formula.  CSVs hold the data as it is (they are for machines as much as people).
"""

from __future__ import annotations

import base64
import io
import math
import re
import unicodedata
import zipfile
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import jinja2
import numpy as np
import openpyxl
import pandas as pd
import shapely
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from . import maps
from .atomic import StagedOutputs, write_bytes_atomic, write_text_atomic
from .io import WGS84
from .results import STATUS_LABELS, STATUSES, RunOutputs, bilingual

# Labels this module adds to results.COLUMN_LABELS (district tables have their own
# meaning of status; lon/lat are added for the reader).
DISTRICT_LABELS = {
    "district": "区县代码 District code",
    "status": "现状达标情况 Status today",
    "value": "现状值 Value today",
    "gap": "现状差距 Gap today",
    "value_after": "规划后值 Value after plan",
    "gap_after": "规划后差距 Gap after plan",
    "status_after": "规划后达标情况 Status after plan",
}
EXTRA_LABELS = {
    "lon": "经度(WGS-84) Longitude",
    "lat": "纬度(WGS-84) Latitude",
    "elderly_any_area": "最近养老设施面积(平方米) Nearest elderly facility floor area (m²)",
    "childcare_any_area": "最近托育设施面积(平方米) Nearest childcare facility floor area (m²)",
    "elderly_facility_area": "服务的养老设施面积(平方米) Serving elderly facility floor area (m²)",
    "childcare_facility_area": "服务的托育设施面积(平方米) Serving childcare facility floor area (m²)",
    "population_base": "基年人口 Population, base year",
    "pop_60plus_base": "基年60岁以上 Aged 60+, base year",
    "pop_0_3_base": "基年0-3岁 Aged 0-3, base year",
}
TABLE_TITLES = {
    "communities": "社区 Communities",
    "districts": "区县指标 Districts",
    "sites": "规划场地 Proposed sites",
}
HEADLINE_LABELS = {
    "communities": "社区/村总数 Communities",
    "communities_on_network": "接入路网的社区 Communities on the network",
    "unreachable": "不在路网上 Not on the network",
    "served_both": "两类设施均覆盖 Served by both",
    "served_elderly": "养老覆盖 Served by elderly care",
    "served_childcare": "托育覆盖 Served by childcare",
    "sites": "规划场地 Proposed sites",
    "n_sites": "规划场地 Proposed sites",
    "cost_yuan": "建设费用 Construction cost",
    "subsidy_yuan": "补助 Subsidy",
    "subsidy_total_yuan": "补助合计 Total subsidy",
    "construction_subsidy_yuan": "建设补助 Construction subsidy",
    "net_cost_yuan": "扣除补助后费用 Cost net of subsidy",
    "budget_yuan": "预算 Budget",
    "residents_newly_served": "新覆盖人口 Residents newly served",
    "communities_newly_served": "新覆盖社区 Communities newly served",
    "places_added": "新增托位 New childcare places",
    "crs": "坐标系 CRS",
    "solver_status": "求解状态 Solver status",
    "subsidy_city_yuan": "其中市级补助 Of which city subsidy",
    "gap": "最优性差距 Optimality gap",
    "mode": "规划模式 Plan mode",
}
PLAN_MODES = {
    "cover_all": "全覆盖最小费用 Cover every community at least cost",
    "budget": "预算内最大覆盖 Best coverage within the budget",
}
# Fixed time stamped into XLSX files (workbook properties and zip members), so that
# the same tables give the same bytes.
XLSX_TIME = (2000, 1, 1, 0, 0, 0)
_XLSX_ISO = "2000-01-01T00:00:00Z"
CSV_DECIMALS = 6


# ---------------------------------------------------------------- tables


def _is_geometry_column(col: pd.Series) -> bool:
    """A geometry column, typed or not (e.g. ``area_geometry``: polygons as WKB)."""
    if isinstance(col.dtype, gpd.array.GeometryDtype) or str(col.name).endswith("geometry"):
        return True
    if col.dtype != object:
        return False
    values = col.dropna()
    return bool(len(values)) and isinstance(values.iloc[0], shapely.Geometry)


def _drop_geometry(gdf: pd.DataFrame) -> pd.DataFrame:
    """A plain DataFrame: geometry columns removed, WGS-84 lon/lat of points added."""
    df = pd.DataFrame(gdf).copy()
    if isinstance(gdf, gpd.GeoDataFrame) and gdf.geometry.name in gdf.columns and len(gdf):
        geom = gdf.geometry
        if geom.crs is not None:
            geom = geom.to_crs(WGS84)
        pts = geom.representative_point()
        df["lon"] = np.round(pts.x.to_numpy(dtype=float), 6)
        df["lat"] = np.round(pts.y.to_numpy(dtype=float), 6)
    geo_cols = [c for c in df.columns if _is_geometry_column(df[c]) or c == "geometry"]
    return df.drop(columns=geo_cols)


def community_table(run: RunOutputs) -> pd.DataFrame:
    """Community status, one row per community (canonical column names)."""
    return _drop_geometry(run.communities).reset_index(drop=True)


def district_table(run: RunOutputs) -> pd.DataFrame:
    """District indicators: today's value, gap and status, and after the plan if any."""
    before = run.districts_before.reset_index(drop=True)
    if run.districts_after is None or not len(run.districts_after):
        return before
    after = run.districts_after[["district", "indicator", "value", "gap", "status"]].rename(
        columns={"value": "value_after", "gap": "gap_after", "status": "status_after"})
    return before.merge(after, on=["district", "indicator"], how="left", validate="one_to_one")


def site_table(run: RunOutputs) -> pd.DataFrame | None:
    """Proposed sites (``None`` for an assessment)."""
    if run.sites is None:
        return None
    return _drop_geometry(run.sites).reset_index(drop=True)


def tables(run: RunOutputs) -> dict[str, tuple[pd.DataFrame, dict[str, str]]]:
    """Every table of a run: file stem -> (table, extra bilingual labels)."""
    out: dict[str, tuple[pd.DataFrame, dict[str, str]]] = {
        "communities": (community_table(run), EXTRA_LABELS),
        "districts": (district_table(run), DISTRICT_LABELS),
    }
    sites = site_table(run)
    if sites is not None:
        out["sites"] = (sites, EXTRA_LABELS)
    if run.costs:
        from .costing import COLUMN_LABELS as COST_LABELS

        for name in run.costs:
            stem = "cost_" + re.sub(r"[^\w-]+", "_", str(name)).strip("_")
            out[stem] = (pd.DataFrame(run.costs[name]).reset_index(drop=True), COST_LABELS)
    return out


def _rounded(df: pd.DataFrame) -> pd.DataFrame:
    """Float columns rounded to 6 decimals: no 0.30000000000000004 in a planner's table."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c].dtype):
            out[c] = out[c].round(CSV_DECIMALS)
    return out


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as CSV, UTF-8 with BOM, ``\\n`` line ends (atomic, deterministic)."""
    text = _rounded(df).to_csv(index=False, lineterminator="\n")
    return write_bytes_atomic(path, ("\ufeff" + text).encode("utf-8"))


def display_width(value: object) -> int:
    """Width of a text in a monospace-ish grid: wide (CJK) characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in str(value))


def text_table(df: pd.DataFrame) -> str:
    """A table for the terminal: index first, numbers formatted, CJK-aware alignment."""
    def fmt(v: Any) -> str:
        v = _cell(v)
        if isinstance(v, bool) or v is None:
            return "" if v is None else str(v)
        if isinstance(v, int) or (isinstance(v, float) and (abs(v) >= 100 or v == int(v))):
            return f"{v:,.0f}"
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    head = [str(df.index.name or ""), *map(str, df.columns)]
    body = [[fmt(i), *[fmt(v) for v in row]] for i, row in zip(df.index, df.to_numpy(),
                                                                strict=True)]
    widths = [max(display_width(r[k]) for r in [head, *body]) for k in range(len(head))]

    def line(cells: list[str]) -> str:
        first = cells[0] + " " * (widths[0] - display_width(cells[0]))
        rest = [" " * (w - display_width(c)) + c for c, w in zip(cells[1:], widths[1:],
                                                                  strict=True)]
        return "  ".join([first, *rest]).rstrip()

    return "\n".join(line(r) for r in [head, *body])


def _cell(value: Any) -> Any:
    """A value openpyxl can store: NaN/NA -> empty, numpy scalars -> Python."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else round(float(value), CSV_DECIMALS)
    if isinstance(value, str):
        return value
    return str(value)


def _text(value: Any) -> str:
    v = _cell(value)
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) >= 1000 else f"{v:g}"
    return str(v)


def _deterministic_xlsx(data: bytes) -> bytes:
    """Rewrite an XLSX zip with fixed member times and workbook timestamps."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = body.decode("utf-8")
                text = re.sub(r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                              rf"\g<1>{_XLSX_ISO}\g<3>", text)
                body = text.encode("utf-8")
            member = zipfile.ZipInfo(info.filename, date_time=XLSX_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o600 << 16
            dst.writestr(member, body)
    return buf.getvalue()


def xlsx_bytes(df: pd.DataFrame, sheet: str = "Sheet1") -> bytes:
    """A one-sheet workbook of ``df`` (headers as given) as deterministic XLSX bytes."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = re.sub(r"[\[\]:*?/\\]", " ", sheet)[:31] or "Sheet1"
    headers = [str(c) for c in df.columns]
    ws.append(headers)
    for row in df.itertuples(index=False, name=None):
        ws.append([_cell(v) for v in row])
    # A text starting with "=" would become a formula: keep it text.
    for row_cells in ws.iter_rows(min_row=2):
        for c in row_cells:
            if c.data_type == "f":
                c.data_type = "s"
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="E8EEF4")
    wrap = Alignment(wrap_text=True, vertical="top")
    header_lines = 1
    for j, name in enumerate(headers, start=1):
        cell = ws.cell(row=1, column=j)
        cell.font, cell.fill, cell.alignment = bold, fill, wrap
        content = max((display_width(_text(v)) for v in df.iloc[:, j - 1]), default=0)
        head = display_width(name)
        # Long bilingual headers wrap rather than widen a column of short numbers.
        width = min(max(content, min(head, 24), 6) + 2, 60)
        ws.column_dimensions[get_column_letter(j)].width = width
        header_lines = max(header_lines, math.ceil(head / max(width - 1, 1)))
    ws.row_dimensions[1].height = 15 * min(header_lines, 5)
    ws.freeze_panes = "A2"
    if len(headers):
        ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{max(len(df) + 1, 1)}"
    wb.properties.creator = "carecircle"
    buf = io.BytesIO()
    wb.save(buf)
    return _deterministic_xlsx(buf.getvalue())


def write_xlsx(df: pd.DataFrame, path: str | Path, sheet: str = "Sheet1") -> Path:
    """Write a table as a one-sheet XLSX file (atomic, deterministic)."""
    return write_bytes_atomic(path, xlsx_bytes(df, sheet))


def write_tables(run: RunOutputs, out_dir: str | Path) -> list[Path]:
    """Write every table of a run as CSV (UTF-8 BOM) and XLSX with bilingual headers.

    Parameters
    ----------
    run
        The run's outputs.
    out_dir
        Folder to write to (created if missing).

    Returns
    -------
    list of Path
        The files written: for each of ``communities``, ``districts``, ``sites`` (plans)
        and ``cost_<name>`` (when costed), a ``.csv`` and a ``.xlsx``.
    """
    out = Path(out_dir)
    paths: list[Path] = []
    for stem, (df, extra) in tables(run).items():
        people = bilingual(df, extra)
        paths.append(write_csv(people, out / f"{stem}.csv"))
        sheet = TABLE_TITLES.get(stem, stem)
        paths.append(write_xlsx(people, out / f"{stem}.xlsx", sheet=sheet))
    return paths


# ---------------------------------------------------------------- briefing


def _split_label(label: str) -> tuple[str, str]:
    """("城市社区...", "Urban community ...") from a bilingual label."""
    m = re.match(r"^(.*?[^\x00-\x7f][^A-Za-z]*?)\s+([A-Za-z].*)$", str(label))
    return (m.group(1), m.group(2)) if m else (str(label), "")


def _fmt_value(value: Any, key: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "是 yes" if value else "否 no"
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        if key.endswith("_yuan"):
            return f"{v:,.0f} 元 ({v / 1e4:,.1f} 万元)"
        return f"{v:,.0f}" if v == int(v) else f"{v:,.2f}"
    return str(value)


def headline_items(headline: dict[str, Any]) -> list[dict[str, str]]:
    """Headline cards: label and text; ``X_before``/``X_after`` pairs become one card."""
    items: list[dict[str, str]] = []
    done: set[str] = set()
    for key, value in headline.items():
        if key in done:
            continue
        base, _, when = key.rpartition("_")
        if when in ("before", "after") and base:
            before, after = headline.get(f"{base}_before"), headline.get(f"{base}_after")
            done.update({f"{base}_before", f"{base}_after"})
            label = HEADLINE_LABELS.get(base, base)
            if before is not None and after is not None:
                text = f"{_fmt_value(before, base)} → {_fmt_value(after, base)}"
                sub = "现状 → 规划后 today → after plan"
            else:
                text = _fmt_value(before if before is not None else after, base)
                sub = "现状 today" if before is not None else "规划后 after plan"
            items.append({"label": label, "value": text, "sub": sub})
            continue
        done.add(key)
        items.append({"label": HEADLINE_LABELS.get(key, key), "value": _fmt_value(value, key),
                      "sub": ""})
    return items


def scenario_items(scen: Any) -> list[tuple[str, str]]:
    """The scenario's parameters as (label, text) rows for the briefing."""
    rows: list[tuple[str, str]] = []
    w = getattr(scen, "walking", None)
    if w is not None:
        rows.append(("步行时间 Walking time", f"{w.minutes:g} 分钟 min"))
        speeds = "; ".join(
            f"{maps.SITE_KIND_LABELS.get(k, k)} {v:g} m/s ({v * w.minutes * 60:,.0f} m)"
            for k, v in w.speed_mps.items())
        rows.append(("步行速度(步行距离) Walking speed (distance)", speeds))
        rows.append(("最大接入路网距离 Max distance to the network", f"{w.max_snap_m:g} m"))
    st = getattr(scen, "standards", None)
    if st is not None:
        rows.append(("面积标准 Floor-area standards",
                     f"养老 elderly ≥ {st.elderly_min_area_m2:g} m²; 托育 childcare ≥ "
                     f"{st.childcare_min_area_m2:g} m²; 合建 shared ≥ {st.shared_min_area_m2:g} m²; "
                     f"托位 {st.childcare_m2_per_place:g} m²/place; 小区配建 compounds "
                     f"{st.compound_m2_per_100_households:g} m²/100 households"))
    t = getattr(scen, "targets", None)
    if t is not None:
        lo, hi = t.elderly_area_per_resident_m2
        rows.append(("目标 Targets (2025)",
                     f"城市社区养老覆盖 urban elderly-care coverage ≥ {t.urban_elderly_coverage:.0%}; "
                     f"农村 rural ≥ {t.rural_elderly_coverage:.0%}; 街道综合中心 street centres ≥ "
                     f"{t.street_centre_coverage:.0%}; 配建达标 compliance {t.facility_compliance:.0%}; "
                     f"每千人托位 childcare places/1,000 ≥ {t.childcare_places_per_1000:g}; "
                     f"公办床位 public beds ≥ {t.public_beds_share_of_60plus:.0%} of 60+; "
                     f"公办托育 public childcare ≥ {t.public_childcare_per_district} per district; "
                     f"人均养老面积 elderly area {lo:g}-{hi:g} m²/person"))
    p = getattr(scen, "plan", None)
    if p is not None:
        rows.append(("规划模式 Plan mode", PLAN_MODES.get(p.mode, p.mode)))
        if p.mode == "budget" or p.budget_yuan:
            rows.append(("预算 Budget", _fmt_value(float(p.budget_yuan), "budget_yuan")))
    d = getattr(scen, "demand", None)
    if d is not None:
        rows.append(("需求年份 Demand year", f"{d.year} (基年 base {d.base_year})"))
    src = getattr(scen, "source", None)
    if src is not None:
        rows.append(("情景文件 Scenario file", str(src)))
    return rows


def _indicator_cell(row: pd.Series | None) -> dict[str, str]:
    if row is None:
        return {"text": "—", "status": "none", "mark": ""}
    status = str(row["status"])
    if status == "no data":
        return {"text": "无数据 no data", "status": "nodata", "mark": ""}
    return {"text": maps._indicator_value(row), "status": status,
            "mark": "✓" if status == "pass" else "✗"}


def district_matrix(run: RunOutputs) -> dict[str, Any]:
    """The district table of the briefing: indicators as columns, districts as rows."""
    before = run.districts_before
    after = run.districts_after if run.districts_after is not None and len(run.districts_after) else None
    if before is None or not len(before):
        return {"columns": [], "rows": [], "has_after": False, "empty": []}
    indicators = list(dict.fromkeys(before["indicator"]))
    first = before.drop_duplicates("indicator").set_index("indicator")
    columns = []
    for key in indicators:
        zh, en = _split_label(first.loc[key, "label"])
        columns.append({"key": key, "zh": zh, "en": en, "target": str(first.loc[key, "target_text"])})
    b = before.set_index(["district", "indicator"])
    a = after.set_index(["district", "indicator"]) if after is not None else None
    rows, empty = [], []
    for district in dict.fromkeys(before["district"]):
        sub = before[before["district"] == district]
        nothing = (sub["status"] == "no data").all() and (
            a is None or (after.loc[after["district"] == district, "status"] == "no data").all())
        if nothing and str(district) != "city":  # one line under the table, not a row of blanks
            empty.append(f"{sub['district_name'].iloc[0]} ({district})")
            continue
        cells = []
        for key in indicators:
            rb = b.loc[(district, key)] if (district, key) in b.index else None
            cell = {"before": _indicator_cell(rb)}
            if a is not None:
                ra = a.loc[(district, key)] if (district, key) in a.index else None
                cell["after"] = _indicator_cell(ra)
            cells.append(cell)
        rows.append({"code": str(district), "name": str(sub["district_name"].iloc[0]),
                     "city": str(district) == "city", "cells": cells})
    return {"columns": columns, "rows": rows, "has_after": a is not None, "empty": empty}


def status_counts(run: RunOutputs) -> list[dict[str, Any]]:
    """Communities and residents by status, today and after the plan."""
    comm = run.communities
    pop = comm["population"].astype(float) if "population" in comm else pd.Series(1.0, index=comm.index)
    out = []
    for s in STATUSES:
        row: dict[str, Any] = {"label": STATUS_LABELS[s], "colour": maps.STATUS_COLOURS[s],
                               "n": int((comm["status"] == s).sum()),
                               # projected residents are fractional: whole people on the page
                               "residents": f"{pop[comm['status'] == s].sum():,.0f}"}
        if "status_after" in comm:
            row["n_after"] = int((comm["status_after"] == s).sum())
            row["residents_after"] = f"{pop[comm['status_after'] == s].sum():,.0f}"
        out.append(row)
    return out


def _site_rows(run: RunOutputs, limit: int = 60) -> tuple[list[dict[str, str]], int]:
    if run.sites is None or not len(run.sites):
        return [], 0
    rows = []
    for _, s in run.sites.head(limit).iterrows():
        rows.append({
            "id": str(s.get("id", "")), "name": str(s.get("name", "")),
            "district": str(s.get("district", "")), "kinds": maps.kinds_text(s.get("kinds")),
            "area": maps.fmt_num(s.get("floor_area_m2")),
            "acquisition": maps.ACQUISITION_LABELS.get(str(s.get("acquisition", "")),
                                                       str(s.get("acquisition", ""))),
            "cost": maps.fmt_num(s.get("cost_yuan")),
            "residents": maps.fmt_num(s.get("residents_newly_served")),
        })
    return rows, len(run.sites)


def _cost_rows(run: RunOutputs) -> list[tuple[str, str]]:
    if not run.costs or "total" not in run.costs:
        return []
    from .costing import COLUMN_LABELS as COST_LABELS

    total = pd.DataFrame(run.costs["total"])
    if not len(total):
        return []
    row = total.iloc[0]
    return [(COST_LABELS.get(c, c), _fmt_value(row[c], c if c.endswith("_yuan") else ""))
            for c in total.columns]


def _template() -> jinja2.Template:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    text = resources.files("carecircle").joinpath("templates", "briefing.html").read_text("utf-8")
    return env.from_string(text)


def briefing_html(run: RunOutputs, *, map_name: str = "map.html", static_png: bytes | None = None,
                  static_name: str = "map.png") -> str:
    """The briefing page as HTML text (see :func:`write_briefing`)."""
    scen = run.scenario
    sites, n_sites = _site_rows(run)
    image = None
    if static_png is not None:
        image = "data:image/png;base64," + base64.b64encode(static_png).decode("ascii")
    crs = getattr(getattr(run.inputs, "crs", None), "to_string", lambda: "")()
    return _template().render(
        title=getattr(scen, "title", "") or getattr(scen, "name", ""),
        name=getattr(scen, "name", ""),
        minutes=f"{getattr(getattr(scen, 'walking', None), 'minutes', 15.0):g}",
        notes=[str(n) for n in run.notes],
        headline=headline_items(run.headline),
        params=scenario_items(scen),
        matrix=district_matrix(run),
        statuses=status_counts(run),
        has_after="status_after" in run.communities,
        sites=sites, n_sites=n_sites,
        costs=_cost_rows(run),
        image=image, static_name=static_name, map_name=map_name,
        crs=crs,
    )


def write_briefing(run: RunOutputs, out_dir: str | Path, *, map_name: str = "map.html",
                   static_name: str = "map.png") -> Path:
    """Write ``briefing.html``: one printable A4 page for the joint meeting.

    It shows the notes the reader must know (assumed layers, excluded points) at the
    top, the headline numbers, the scenario's parameters, the district table with
    pass/fail marks before and after the plan, communities by status, the proposed
    sites, the cost summary, the static map (embedded, so the page stands alone) and
    a link to the interactive map.  Every label is bilingual; every text from the
    inputs is escaped.

    Parameters
    ----------
    run
        The run's outputs.
    out_dir
        Folder to write to; the static map is read from ``out_dir / static_name``
        when it exists (write it first, as :func:`write_run` does).
    map_name, static_name
        File names of the interactive and static maps in the same folder.

    Returns
    -------
    Path
        The ``briefing.html`` written.
    """
    out = Path(out_dir)
    png = out / static_name
    text = briefing_html(run, map_name=map_name, static_png=png.read_bytes() if png.is_file() else None,
                         static_name=static_name)
    return write_text_atomic(out / "briefing.html", text)


# ---------------------------------------------------------------- the whole run

OWNED_PATTERNS = ("map.html", "map.png", "briefing.html", "communities.csv", "communities.xlsx",
                  "districts.csv", "districts.xlsx", "sites.csv", "sites.xlsx", "cost_*.csv",
                  "cost_*.xlsx")


def _stale(target: Path, written: Iterable[Path]) -> list[Path]:
    """Outputs of an earlier run in ``target`` that this run did not write."""
    keep = {p.name for p in written}
    found = {p for pat in OWNED_PATTERNS for p in target.glob(pat) if p.is_file()}
    return sorted(p for p in found if p.name not in keep)


def write_run(run: RunOutputs, out_dir: str | Path | None = None, *, tiles: Any = None) -> list[Path]:
    """Write every output of a run: maps, tables and the briefing, all or nothing.

    Files are staged in a hidden folder inside ``out_dir`` and moved into place only
    when all were written; if anything fails, the previous outputs stay as they were.
    After success, outputs of an earlier run that this run does not produce (e.g. the
    ``sites`` table of a plan, when this run is an assessment) are removed so the folder
    never mixes two runs.

    Parameters
    ----------
    run
        The run's outputs.
    out_dir
        The run's folder; default ``run.scenario.out_dir`` (``maps/<scenario name>``).
    tiles
        Optional tile layer for the interactive map (default none: works offline).

    Returns
    -------
    list of Path
        The final paths of every file written.
    """
    target = Path(out_dir) if out_dir is not None else Path(run.scenario.out_dir)
    with StagedOutputs(target) as st:
        staged = [maps.write_plan_map(run, st.path("map.html"), tiles=tiles),
                  maps.write_static_map(run, st.path("map.png"))]
        staged += write_tables(run, st.dir)
        staged.append(write_briefing(run, st.dir))
        final = [target / p.relative_to(st.dir) for p in staged]
    for old in _stale(target, final):
        old.unlink()
    return final

