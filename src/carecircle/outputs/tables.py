"""The run's tables: bilingual CSV and XLSX, deterministic bytes, and terminal text.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import shapely
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from carecircle.atomic import write_bytes_atomic
from carecircle.inputs.read import WGS84
from carecircle.outputs.results import RunOutputs, bilingual

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
    "value_committed": "已承诺项目建成后值 Value with committed projects",
    "gap_committed": "已承诺项目建成后差距 Gap with committed projects",
    "status_committed": "已承诺项目建成后达标情况 Status with committed projects",
    "not_assessed": "未评估社区数(不在路网上) Communities not assessed (not on the network)",
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
    "streets": "街道镇 Streets and towns",
    "facilities": "设施容量 Facility capacity",
    "sites": "规划场地 Proposed sites",
}
_WHEN = {"": "", "_after": "规划后 after plan: "}
# Labels of the capacity, reason and street columns (their meaning: docs/data.md).
ACCOUNT_LABELS: dict[str, str] = {
    "age_groups_from": "年龄组来源 Age groups from",
    "reason": "未覆盖原因 Why not served",
    "street_name": "街道/镇名称 Street/town name",
    "communities": "社区数 Communities",
    "on_network": "路网上社区数 Communities on the network",
    "both_served": "两类均覆盖社区数 Communities served by both",
    "elderly_coverage": "养老覆盖率 Elderly-care coverage",
    "childcare_coverage": "托育覆盖率 Childcare coverage",
    "compliance": "配建达标率 Compliance (both kinds)",
    "street_centre": "有综合养老服务中心 Has a comprehensive centre",
    "kindergarten_tuoban": "有开设托班的幼儿园 Has a kindergarten with a 托班",
    "childcare_places": "托位数 Childcare places",
    "places_per_1000": "每千人托位 Places per 1,000 residents",
    "new_sites": "新建场地数 New sites",
    "new_elderly": "新建养老 New elderly-care",
    "new_childcare": "新建托育 New childcare",
    "new_street_centre": "新建综合中心 New street centres",
    "unserved_after": "规划后未全覆盖社区数 Communities not served by both after the plan",
    "serves": "服务类型 Serves",
    "kind": "设施类型 Facility kind",
    "qualifies": "面积达标 Meets the floor-area standard",
    "capacity": "容量 Capacity",
    "capacity_unit": "容量单位 Capacity unit",
    "communities_in_reach": "步行范围内社区数 Communities within the walk",
    "load_nearest": "就近需求 Demand of the communities nearest to it",
    "over_capacity": "超负荷 Over capacity",
    "load": "分配需求 Demand assigned",
    "utilisation": "利用率 Utilisation",
    "full": "已满 Full",
    "elderly_load": "规划后养老分配需求 Elderly demand assigned after plan",
    "childcare_load": "规划后托育分配需求 Childcare demand assigned after plan",
    "floor_area_needed_m2": "按需求所需面积(平方米) Floor area the demand needs (m²)",
    "street": "街道/镇 Street/town",
}
for _k, _zh, _en in (("elderly", "养老", "Elderly care"), ("childcare", "托育", "Childcare")):
    for _sfx, _when in _WHEN.items():
        ACCOUNT_LABELS |= {
            f"{_k}_placed{_sfx}": f"{_when}{_zh}需求已落位 {_en} demand placed",
            f"{_k}_placed_share{_sfx}": f"{_when}{_zh}需求落位比例 {_en} share of demand placed",
            f"{_k}_capacity_full{_sfx}": f"{_when}{_zh}容量已满 {_en} facilities in reach full",
            f"{_k}_reason{_sfx}": f"{_when}{_zh}原因代码 {_en} reason code",
            f"{_k}_served{_sfx}": f"{_when}{_zh}覆盖社区数 Communities served by {_en.lower()}",
            f"{_k}_coverage{_sfx}": f"{_when}{_zh}覆盖率 {_en} coverage",
        }
    ACCOUNT_LABELS[f"{_k}_demand"] = f"{_zh}需求(人) {_en} demand (people)"
for _c in ("both_served", "compliance", "street_centre", "childcare_places", "places_per_1000",
           "communities_in_reach", "load_nearest", "over_capacity", "load", "utilisation", "full"):
    ACCOUNT_LABELS[f"{_c}_after"] = f"规划后 after plan: {ACCOUNT_LABELS[_c]}"
# A community's own ``*_served`` columns are yes/no, not the street table's counts.
COMMUNITY_ACCOUNT_LABELS = {k: v for k, v in ACCOUNT_LABELS.items()
                            if not k.startswith(("elderly_served", "childcare_served"))}
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
    """District indicators: today's value, gap and status; with the plan's major projects
    (committed) and after the plan, when there are such."""
    out = run.districts_before.reset_index(drop=True)
    for table, when in ((run.districts_committed, "committed"), (run.districts_after, "after")):
        if table is None or not len(table):
            continue
        part = table[["district", "indicator", "value", "gap", "status"]].rename(
            columns={c: f"{c}_{when}" for c in ("value", "gap", "status")})
        out = out.merge(part, on=["district", "indicator"], how="left", validate="one_to_one")
    return out


def site_table(run: RunOutputs) -> pd.DataFrame | None:
    """Proposed sites (``None`` for an assessment)."""
    if run.sites is None:
        return None
    return _drop_geometry(run.sites).reset_index(drop=True)


#: A plan weight (``[plan] weights``) -> how a "newly served" label names it.
WEIGHT_NAMES = {
    "pop_60plus": ("60岁以上", "aged 60+"),
    "pop_0_3": ("0-3岁", "aged 0-3"),
    "population": ("常住人口", "residents"),
    "households": ("户数", "households"),
}


def served_labels(weights: dict[str, str]) -> dict[str, str]:
    """Labels of the sites' "newly served" columns for what they count.

    Parameters
    ----------
    weights
        ``[plan] weights``: kind -> the community column a served community counts.

    Returns
    -------
    dict
        Column -> bilingual label, e.g. ``新覆盖60岁以上 Aged 60+ newly served (elderly care)``.
    """
    e = WEIGHT_NAMES.get(weights.get("elderly", "pop_60plus"), ("人口", "people"))
    c = WEIGHT_NAMES.get(weights.get("childcare", "pop_0_3"), ("人口", "people"))
    return {
        "elderly_residents_newly_served": f"新覆盖{e[0]} {e[1].capitalize()} newly served (elderly care)",
        "childcare_residents_newly_served": f"新覆盖{c[0]} {c[1].capitalize()} newly served (childcare)",
        "residents_newly_served": f"新覆盖服务对象({e[0]}+{c[0]}) People newly served ({e[1]} by "
                                  f"elderly care + {c[1]} by childcare)",
    }


def tables(run: RunOutputs) -> dict[str, tuple[pd.DataFrame, dict[str, str]]]:
    """Every table of a run: file stem -> (table, extra bilingual labels)."""
    out: dict[str, tuple[pd.DataFrame, dict[str, str]]] = {
        "communities": (community_table(run), {**COMMUNITY_ACCOUNT_LABELS, **EXTRA_LABELS}),
        "districts": (district_table(run), DISTRICT_LABELS),
    }
    if run.streets is not None:
        out["streets"] = (run.streets.reset_index(drop=True),
                          {**ACCOUNT_LABELS, "district_name": "区县 District"})
    if run.facilities is not None:
        out["facilities"] = (run.facilities.reset_index(drop=True), ACCOUNT_LABELS)
    sites = site_table(run)
    if sites is not None:
        plan = getattr(run.scenario, "plan", None)
        weights = dict(getattr(plan, "weights", {}) or {})
        out["sites"] = (sites, {**ACCOUNT_LABELS, **EXTRA_LABELS, **served_labels(weights)})
    if run.costs:
        from carecircle.siting.costing import COLUMN_LABELS as COST_LABELS

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


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """A text cell that Excel or LibreOffice would run as a formula, made plain text.

    A text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
    leading apostrophe (what the spreadsheet itself shows for a text typed that way),
    unless it is a plain number such as ``-5``.  Other values are returned unchanged.
    """
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def _csv_cells(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_object_dtype(out[c].dtype) or pd.api.types.is_string_dtype(out[c].dtype):
            out[c] = out[c].map(csv_safe)
    out.columns = [csv_safe(c) for c in out.columns]
    return out


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as CSV, UTF-8 with BOM, ``\\n`` line ends (atomic, deterministic).

    Text cells that a spreadsheet would take for a formula are written as text
    (:func:`csv_safe`).

    Parameters
    ----------
    df
        The table.
    path
        The CSV file.

    Returns
    -------
    Path
    """
    text = _csv_cells(_rounded(df)).to_csv(index=False, lineterminator="\n")
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
        # openpyxl refuses control characters (inputs are cleaned; this covers the rest)
        return ILLEGAL_CHARACTERS_RE.sub(" ", value)
    return ILLEGAL_CHARACTERS_RE.sub(" ", str(value))


def cell_text(value: Any) -> str:
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
    """A one-sheet workbook of ``df`` (headers as given) as deterministic XLSX bytes.

    Parameters
    ----------
    df
        The table.
    sheet
        The sheet's name (characters Excel refuses become spaces; at most 31).

    Returns
    -------
    bytes
        The workbook; a text starting with ``=`` stays text, never a formula.
    """
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = re.sub(r"[\[\]:*?/\\]", " ", sheet)[:31] or "Sheet1"
    headers = [ILLEGAL_CHARACTERS_RE.sub(" ", str(c)) for c in df.columns]
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
        content = max((display_width(cell_text(v)) for v in df.iloc[:, j - 1]), default=0)
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
    """Write a table as a one-sheet XLSX file (atomic, deterministic).

    Parameters
    ----------
    df
        The table.
    path
        The file to write.
    sheet
        The sheet's name (see :func:`xlsx_bytes`).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
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
    currency = getattr(run.scenario, "currency", None)
    for stem, (df, extra) in tables(run).items():
        people = bilingual(df, extra)
        if currency is not None:  # labels name the scenario's currency, not always yuan
            people.columns = [currency.relabel(str(c)) for c in people.columns]
        paths.append(write_csv(people, out / f"{stem}.csv"))
        sheet = TABLE_TITLES.get(stem, stem)
        paths.append(write_xlsx(people, out / f"{stem}.xlsx", sheet=sheet))
    return paths
