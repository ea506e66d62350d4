"""The briefing for the joint meeting: one A4 page of summary, then appendices; HTML and PDF.

Page one (``#summary``) is what the meeting reads: the notes the reader must know, the
headline numbers, the district table against the targets (today -> after the plan), a
small map and the communities not served, by status and by district.  Everything long
follows as appendix pages, each starting on a new page: A notes, parameters, the
communities not served grouped by kind and reason, and costs,
B every proposed site, C every street/town, D every community (a city's 3,223 rows are
an appendix, not page one).  Table headers repeat on every printed page; the page
footer carries the title and the page number.

The PDF (:func:`write_briefing_pdf`) is this page printed by headless Chromium (see
:mod:`carecircle.outputs.pdf`).  Every text from the inputs is escaped (Jinja
autoescaping; the title in the page footer's CSS by :func:`css_string`).
"""

from __future__ import annotations

import base64
import math
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from carecircle.atomic import write_text_atomic
from carecircle.outputs.results import STATUS_LABELS, STATUSES, RunOutputs
from carecircle.outputs.style import (
    ACQUISITION_LABELS,
    SITE_KIND_LABELS,
    STATUS_COLOURS,
    fmt_num,
    kinds_text,
)
from carecircle.outputs.webmap import _indicator_value

HEADLINE_LABELS = {
    "beds_added": "新增养老床位 New elderly-care beds",
    "communities": "社区/村总数 Communities",
    "communities_on_network": "接入路网的社区 Communities on the network",
    "unreachable": "未评估(不在路网上) Not assessed (not on the network)",
    "indicators_incomplete": "指标不完整(有社区未评估) Indicators incomplete (communities not assessed)",
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
    "unserved": "未全覆盖社区(原因见下) Communities not fully served (reasons below)",
    "over_capacity": "现状超负荷设施 Facilities over capacity today",
    "elderly_placed": "养老需求已落位(路网上, 人) Elderly-care demand that fits (on the network, people)",
    "childcare_placed": "托育需求已落位(路网上, 人) Childcare demand that fits (on the network, people)",
}
PLAN_MODES = {
    "cover_all": "全覆盖最小费用 Cover every community at least cost",
    "budget": "预算内最大覆盖 Best coverage within the budget",
}


# ---------------------------------------------------------------- briefing


def _split_label(label: str) -> tuple[str, str]:
    """("城市社区...", "Urban community ...") from a bilingual label."""
    m = re.match(r"^(.*?[^\x00-\x7f][^A-Za-z]*?)\s+([A-Za-z].*)$", str(label))
    return (m.group(1), m.group(2)) if m else (str(label), "")


def _fmt_value(value: Any, key: str = "", currency: Any = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "是 yes" if value else "否 no"
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        if key.endswith("_yuan"):  # money, in the scenario's currency (yuan by default)
            return currency.amount(v) if currency is not None else f"{v:,.0f} 元 ({v / 1e4:,.1f} 万元)"
        return f"{v:,.0f}" if v == int(v) else f"{v:,.2f}"
    return str(value)


def headline_items(headline: dict[str, Any], currency: Any = None) -> list[dict[str, str]]:
    """Headline cards: label and text; ``X_before``/``X_after`` pairs become one card.

    Parameters
    ----------
    headline
        The run's headline numbers.
    currency
        The scenario's :class:`~carecircle.inputs.profiles.Currency` for money
        (``None``: yuan).

    Returns
    -------
    list of dict
        ``label``, ``value``, ``sub`` per card.
    """
    def _fmt(v: Any, k: str) -> str:
        return _fmt_value(v, k, currency)

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
                text = f"{_fmt(before, base)} → {_fmt(after, base)}"
                sub = "现状 → 规划后 today → after plan"
            else:
                text = _fmt(before if before is not None else after, base)
                sub = "现状 today" if before is not None else "规划后 after plan"
            items.append({"label": label, "value": text, "sub": sub})
            continue
        done.add(key)
        items.append({"label": HEADLINE_LABELS.get(key, key), "value": _fmt(value, key),
                      "sub": ""})
    return items


def scenario_items(scen: Any) -> list[tuple[str, str]]:
    """The scenario's parameters as (label, text) rows for the briefing."""
    rows: list[tuple[str, str]] = []
    w = getattr(scen, "walking", None)
    if w is not None:
        rows.append(("步行时间 Walking time", f"{w.minutes:g} 分钟 min"))
        speeds = "; ".join(
            f"{SITE_KIND_LABELS.get(k, k)} {v:g} m/s ({v * w.minutes * 60:,.0f} m)"
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
        rows.append(("新建养老机构 New institutions",
                     f"{st.institution_m2_per_bed:g} m²/床 bed; 护理型 nursing-type "
                     f"{st.institution_nursing_share_new:.0%}; 示范院 demonstration home ≥ "
                     f"{st.demonstration_min_beds} 床 beds"))
    profile = getattr(scen, "profile", None)
    t = getattr(scen, "targets", None)
    if t is not None:
        heading = profile.targets_heading() if profile is not None else "目标 Targets"
        rows.append((heading, targets_text(t)))
    rural = getattr(scen, "rural", None)
    if rural is not None and st is not None:
        rows.append(("农村 Villages",
                     f"养老服务半径 elderly care within {rural.text()}; 农村幸福院 rural happiness "
                     f"homes ≥ {st.rural_home_min_area_m2:g} m²"))
    p = getattr(scen, "plan", None)
    if p is not None:
        rows.append(("规划模式 Plan mode", PLAN_MODES.get(p.mode, p.mode)))
        fit = "; ".join(f"{SITE_KIND_LABELS.get(k, k)} {v.get('renovate', 0):,.0f}"
                        for k, v in p.fitout_costs.items())
        money = getattr(scen, "currency", None)
        text = (f"建筑一次 building once + 装修 fit-out (元/m² yuan/m², renovated): "
                f"{fit}; 合建节省 shared saving {p.shared_fitout_saving:.0%}")
        rows.append(("费用 Costs", money.relabel(text) if money is not None else text))
        if p.mode == "budget" or p.budget_yuan:
            rows.append(("预算 Budget", _fmt_value(float(p.budget_yuan), "budget_yuan",
                                                   getattr(scen, "currency", None))))
    d = getattr(scen, "demand", None)
    if d is not None:
        year = "按输入人口 as loaded" if d.year is None else str(d.year)
        base = "" if d.base_year in (None, d.year) else f" (基年 base {d.base_year})"
        rows.append(("需求年份 Demand year", year + base))
    if profile is not None:
        rows.append(("规划参数 Plan profile", profile.describe()))
    src = getattr(scen, "source", None)
    if src is not None:
        rows.append(("情景文件 Scenario file", str(src)))
    return rows


def targets_text(t: Any) -> str:
    """The scenario's targets in one line; a target its profile does not set is left out."""
    parts = []
    for key, text in (("urban_elderly_coverage", "城市社区养老覆盖 urban elderly-care coverage ≥ {:.0%}"),
                      ("rural_elderly_coverage", "农村 rural ≥ {:.0%}"),
                      ("street_centre_coverage", "街道综合中心 street centres ≥ {:.0%}"),
                      ("facility_compliance", "配建达标 compliance {:.0%}"),
                      ("childcare_places_per_1000", "每千人托位 childcare places/1,000 ≥ {:g}"),
                      ("public_beds_share_of_60plus", "公办床位 public beds ≥ {:.0%} of 60+"),
                      ("nursing_bed_share", "护理型床位 nursing-type beds ≥ {:.0%}"),
                      ("demonstration_homes_per_district",
                       "公办示范性养老院 demonstration homes ≥ {} per district"),
                      ("public_childcare_per_district", "公办托育 public childcare ≥ {} per district")):
        value = getattr(t, key, None)
        if value is not None:
            parts.append(text.format(value))
    area = getattr(t, "elderly_area_per_resident_m2", None)
    if area is not None:
        parts.append(f"人均养老面积 elderly area {area[0]:g}-{area[1]:g} m²/person")
    return "; ".join(parts) or "无 none"


def _indicator_cell(row: pd.Series | None) -> dict[str, str]:
    if row is None:
        return {"text": "—", "status": "none", "mark": ""}
    status = str(row["status"])
    if status == "no data":
        return {"text": "无数据 no data", "status": "nodata", "mark": ""}
    if status == "incomplete":
        n = int(row.get("not_assessed", 0))
        value = "—" if pd.isna(row["value"]) else _indicator_value(row)
        return {"text": f"{value} ({n} 未评估 not assessed)", "status": "incomplete", "mark": "?"}
    return {"text": _indicator_value(row), "status": status,
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
            after is None or (after.loc[after["district"] == district, "status"] == "no data").all())
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
        row: dict[str, Any] = {"label": STATUS_LABELS[s], "colour": STATUS_COLOURS[s],
                               "n": int((comm["status"] == s).sum()),
                               # projected residents are fractional: whole people on the page
                               "residents": f"{pop[comm['status'] == s].sum():,.0f}"}
        if "status_after" in comm:
            row["n_after"] = int((comm["status_after"] == s).sum())
            row["residents_after"] = f"{pop[comm['status_after'] == s].sum():,.0f}"
        out.append(row)
    return out


def _site_rows(run: RunOutputs) -> list[dict[str, str]]:
    """Every proposed site, for appendix B."""
    if run.sites is None or not len(run.sites):
        return []
    rows = []
    for _, s in run.sites.iterrows():
        rows.append({
            "id": str(s.get("id", "")), "name": str(s.get("name", "")),
            "district": str(s.get("district", "")), "kinds": kinds_text(s.get("kinds")),
            "area": fmt_num(s.get("floor_area_m2")),
            "acquisition": ACQUISITION_LABELS.get(str(s.get("acquisition", "")),
                                                       str(s.get("acquisition", ""))),
            "cost": fmt_num(s.get("cost_yuan")),
            "residents": fmt_num(s.get("residents_newly_served")),
        })
    return rows


def _status_col(comm: pd.DataFrame) -> str:
    return "status_after" if "status_after" in comm.columns else "status"


def _district_name(comm: pd.DataFrame) -> pd.Series:
    name = comm["district_name"] if "district_name" in comm.columns else comm["district"]
    return name.astype(str)


def unserved_by_district(run: RunOutputs) -> dict[str, Any]:
    """Communities not served by both, per district (after the plan when there is one).

    Parameters
    ----------
    run
        The run's outputs.

    Returns
    -------
    dict
        ``rows``: per district with any, then the total: ``name``, ``neither``,
        ``elderly_only`` (no childcare), ``childcare_only`` (no elderly care),
        ``unreachable`` (not on the network) as counts, and ``residents`` as text.
    """
    comm = run.communities
    status = comm[_status_col(comm)].astype(str)
    pop = pd.to_numeric(comm.get("population", pd.Series(0.0, index=comm.index)), errors="coerce").fillna(0)
    out = pd.DataFrame({"district": comm["district"].astype(str), "name": _district_name(comm),
                        "status": status, "pop": pop})
    out = out[out["status"] != "both"]
    rows = []
    for (code, name), g in out.groupby(["district", "name"], sort=True):
        rows.append({"name": f"{name} ({code})" if name != code else name, "total": False,
                     **{k: int((g["status"] == k).sum())
                        for k in ("neither", "elderly_only", "childcare_only", "unreachable")},
                     "residents": f"{g['pop'].sum():,.0f}"})
    if rows:
        rows.append({"name": "合计 Total", "total": True,
                     **{k: int((out["status"] == k).sum())
                        for k in ("neither", "elderly_only", "childcare_only", "unreachable")},
                     "residents": f"{out['pop'].sum():,.0f}"})
    return {"rows": rows}


def street_rows(run: RunOutputs) -> list[dict[str, str]]:
    """Per street/town: communities, residents, served by both today (and after), unserved.

    Parameters
    ----------
    run
        The run's outputs (communities with ``street``).

    Returns
    -------
    list of dict
        One per (district, street), sorted, for appendix C.
    """
    comm = run.communities
    if "street" not in comm.columns or not len(comm):
        return []
    after = "status_after" in comm.columns
    pop = pd.to_numeric(comm.get("population", pd.Series(0.0, index=comm.index)), errors="coerce").fillna(0)
    frame = pd.DataFrame({"district": _district_name(comm), "street": comm["street"].fillna("").astype(str),
                          "status": comm["status"].astype(str), "pop": pop,
                          "after": comm["status_after"].astype(str) if after else comm["status"].astype(str)})
    rows = []
    for (district, street), g in frame.groupby(["district", "street"], sort=True):
        row = {"district": district, "street": street or "—", "n": fmt_num(len(g)),
               "residents": fmt_num(g["pop"].sum()), "both": fmt_num((g["status"] == "both").sum()),
               "unserved": fmt_num((~g["after"].isin(["both", "unreachable"])).sum()),
               "unreachable": fmt_num((g["after"] == "unreachable").sum())}
        if after:
            row["both_after"] = fmt_num((g["after"] == "both").sum())
        rows.append(row)
    return rows


def community_rows(run: RunOutputs) -> list[dict[str, str]]:
    """Every community, for appendix D, by district, street and id.

    Parameters
    ----------
    run
        The run's outputs.

    Returns
    -------
    list of dict
    """
    comm = run.communities
    if not len(comm):
        return []
    order = pd.DataFrame({"d": comm["district"].astype(str),
                          "s": comm.get("street", pd.Series("", index=comm.index)).fillna("").astype(str),
                          "i": comm["id"].astype(str)}).sort_values(["d", "s", "i"], kind="stable").index
    names = _district_name(comm)
    rows = []
    for idx in order:
        c = comm.loc[idx]
        row = {"id": str(c.get("id", "")), "name": str(c.get("name", "")), "district": names[idx],
               "street": str(c.get("street", "") or ""), "population": fmt_num(c.get("population")),
               "elderly": fmt_num(c.get("elderly_min"), 1), "childcare": fmt_num(c.get("childcare_min"), 1),
               "status": STATUS_LABELS.get(str(c.get("status")), str(c.get("status", "")))}
        if "status_after" in comm.columns:
            row["status_after"] = STATUS_LABELS.get(str(c.get("status_after")), str(c.get("status_after", "")))
        rows.append(row)
    return rows


#: Headline numbers for the technical reader: appendix A, not page one.
TECHNICAL_KEYS = ("crs", "solver_status", "gap", "mode")


def css_string(text: str) -> str:
    """``text`` as the inside of a CSS string: every character but letters, digits and
    spaces as a CSS hex escape (no quote, backslash or ``<`` can end the string or
    the ``<style>`` element)."""
    return "".join(ch if (ch.isascii() and (ch.isalnum() or ch == " ")) else f"\\{ord(ch):06x}"
                   for ch in str(text))


def unserved_rows(run: RunOutputs, examples: int = 8) -> dict[str, Any]:
    """Communities not served (after the plan when there is one), grouped by kind and reason.

    Each group gives its count, the districts it falls in and the first *examples*
    community names; a group with more says how many more (all are in communities.csv).

    Parameters
    ----------
    run
        The run's outputs (communities with their reason columns).
    examples
        Community names shown per group.

    Returns
    -------
    dict
        ``rows`` (kind, reason, n, districts, examples), ``after`` (reasons after a
        plan) and ``total`` (communities not served by both kinds).
    """
    from carecircle.assess.reasons import KIND_LABELS, unserved_summary

    comm = run.communities
    after = "elderly_reason_after" in comm
    if "elderly_reason" not in comm:
        return {"rows": [], "after": after, "total": 0}
    table = unserved_summary(comm, after=after)
    sfx = "_after" if after else ""
    total = int(((comm[f"elderly_reason{sfx}"] != "served")
                 | (comm[f"childcare_reason{sfx}"] != "served")).sum())
    rows = []
    for r in table.itertuples():
        names = [n or i for n, i in zip(r.names or r.ids, r.ids, strict=True)]
        shown = "、".join(names[:examples]) + (f" … (+{len(names) - examples})" if len(names) > examples else "")
        rows.append({"kind": KIND_LABELS[r.kind], "reason": r.label, "n": int(r.communities),
                     "districts": "、".join(f"{d} {n}" for d, n in r.districts.items()),
                     "examples": shown})
    return {"rows": rows, "after": after, "total": total}


def _cost_rows(run: RunOutputs) -> list[tuple[str, str]]:
    if not run.costs or "total" not in run.costs:
        return []
    from carecircle.siting.costing import COLUMN_LABELS as COST_LABELS

    total = pd.DataFrame(run.costs["total"])
    if not len(total):
        return []
    row = total.iloc[0]
    currency = getattr(run.scenario, "currency", None)
    relabel = currency.relabel if currency is not None else str
    return [(relabel(COST_LABELS.get(c, c)), _fmt_value(row[c], c if c.endswith("_yuan") else "",
                                                         currency))
            for c in total.columns]


def _template() -> jinja2.Template:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    text = resources.files("carecircle.outputs").joinpath("templates", "briefing.html").read_text("utf-8")
    return env.from_string(text)


def briefing_html(run: RunOutputs, *, map_name: str = "map.html", static_png: bytes | None = None,
                  static_name: str = "map.png", appendix: bool = True) -> str:
    """The briefing page as HTML text (see :func:`write_briefing`).

    Parameters
    ----------
    run
        The run's outputs.
    map_name
        File name of the interactive map the page links to.
    static_png
        The static map, embedded as a data URI (``None``: no image).
    static_name
        File name of the static map, named under the image.
    appendix
        With the appendix pages (``False``: page one alone, e.g. to check it fits).

    Returns
    -------
    str
        A standalone HTML page, every text from the inputs escaped.
    """
    from markupsafe import Markup

    scen = run.scenario
    image = None
    if static_png is not None:
        image = "data:image/png;base64," + base64.b64encode(static_png).decode("ascii")
    crs = getattr(getattr(run.inputs, "crs", None), "to_string", lambda: "")()
    title = getattr(scen, "title", "") or getattr(scen, "name", "")
    currency = getattr(scen, "currency", None)
    cost_zh, cost_en = (currency.names if currency is not None else ("元", "yuan"))
    cards = headline_items({k: v for k, v in run.headline.items() if k not in TECHNICAL_KEYS}, currency)
    technical = headline_items({k: v for k, v in run.headline.items() if k in TECHNICAL_KEYS}, currency)
    notes = [str(n) for n in run.notes]
    return _template().render(
        cost_zh=f"费用({cost_zh})", cost_en=f"Cost ({cost_en})",
        title=title,
        footer_css=Markup(css_string(f"{title} · carecircle")),
        name=getattr(scen, "name", ""),
        minutes=f"{getattr(getattr(scen, 'walking', None), 'minutes', 15.0):g}",
        notes=notes,
        headline=cards, technical=technical,
        params=scenario_items(scen),
        matrix=district_matrix(run),
        statuses=status_counts(run),
        unserved=unserved_by_district(run),
        reasons=unserved_rows(run) if appendix else {"rows": [], "after": False, "total": 0},
        has_after="status_after" in run.communities,
        sites=_site_rows(run) if appendix else [],
        streets=street_rows(run) if appendix else [],
        communities=community_rows(run) if appendix else [],
        costs=_cost_rows(run),
        image=image, static_name=static_name, map_name=map_name,
        crs=crs, appendix=appendix,
    )


def write_briefing(run: RunOutputs, out_dir: str | Path, *, map_name: str = "map.html",
                   static_name: str = "map.png") -> Path:
    """Write ``briefing.html``: page one for the joint meeting, then the appendices.

    Page one holds the notes the reader must know, the headline numbers, the district
    table with pass/fail marks before and after the plan, the static map (embedded,
    so the page stands alone) with a link to the interactive map, and the communities
    not served.  The appendices hold the notes again with the scenario's parameters and
    the cost summary, every proposed site, every street and every community.  Every
    label is bilingual; every text from the inputs is escaped.

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


def write_briefing_pdf(html: str | Path, pdf: str | Path | None = None, *,
                       timeout_s: float = 300.0) -> Path:
    """``briefing.pdf``: the briefing page printed on A4 by headless Chromium.

    Page one is the summary; the appendices follow, each from a new page.

    Parameters
    ----------
    html
        The ``briefing.html`` written by :func:`write_briefing`.
    pdf
        The PDF to write (default ``briefing.pdf`` beside ``html``).
    timeout_s
        Give up after this many seconds.

    Returns
    -------
    Path
        The PDF.

    Raises
    ------
    carecircle.outputs.pdf.PdfUnavailable
        No Chromium, or printing failed: the message says why.
    """
    from carecircle.outputs.pdf import print_pdf

    target = Path(pdf) if pdf is not None else Path(html).with_name("briefing.pdf")
    return print_pdf(html, target, timeout_s=timeout_s)
