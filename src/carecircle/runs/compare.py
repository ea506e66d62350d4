"""Scenario comparison and sensitivity sweeps.

Analysts ask "what if": half the budget, a slower walking speed for the elderly,
2020 demand instead of 2025.  :func:`compare` runs several scenarios and puts
their plans side by side; :func:`sweep` varies one parameter of one scenario.

Decisions
---------
- Each scenario of a comparison is a full run (the same functions as
  ``carecircle run``); its own outputs go to ``<out_dir>/<name>/``, the
  comparison tables, chart and page to ``<out_dir>/``, all or nothing.
- What is reused: the walking network is cached on disk keyed by the content of
  the network file and the CRS (:mod:`carecircle.network.cache`), so scenarios and sweep
  points on the same network do not rebuild it; a sweep loads the inputs once;
  a budget sweep also builds the reach and the siting model once and only
  re-solves (the budget changes nothing else).  Speed and minutes change the
  reach, so those points recompute it on the loaded network.
- "What the growth costs" (2020 vs 2025 demand) is read off the summary: demand
  totals, the places the 4.8 per 1,000 target asks for, the public beds the 1 %
  of 60+ target asks for, and the plan's sites, places and money.
- What people read (the terminal, ``compare.html``) lists first the parameters that
  differ between the scenarios (by their scenario-file key, ``walking.speed_mps.elderly``;
  every parameter is in ``compare_parameters.csv``), then the summary and the district
  indicators formatted as the briefing formats them: shares in percent, people whole,
  money in the scenario's currency, a year as a year.  The CSV and XLSX tables keep the
  numbers.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from carecircle.errors import InfeasibleError, ScenarioError
from carecircle.inputs.scenario import Scenario
from carecircle.outputs.results import RunOutputs

SWEEP_PARAMETERS = {
    "minutes": "步行时间(分钟) Walking minutes",
    "speed_elderly": "老年人步速(米/秒) Elderly walking speed (m/s)",
    "speed_childcare": "托育步速(米/秒) Childcare walking speed (m/s)",
    "budget_yuan": "预算(元) Budget (yuan)",
}

SUMMARY_LABELS = {
    "scenario": "情景 Scenario",
    "title": "标题 Title",
    "demand_year": "需求年份 Demand year",
    "mode": "模式 Mode",
    "budget_yuan": "预算(元) Budget (yuan)",
    "population": "常住人口 Residents",
    "pop_60plus": "60岁以上 Aged 60+",
    "pop_0_3": "0-3岁 Aged 0-3",
    "places_target": "托位目标(每千人4.8) Places for 4.8 per 1,000",
    "public_beds_target": "公办床位目标(60+的1%) Public beds for 1% of 60+",
    "communities_on_network": "接入路网社区 Communities on the network",
    "served_both_before": "现状两类均覆盖 Served by both today",
    "served_both_after": "规划后两类均覆盖 Served by both after plan",
    "served_elderly_after": "规划后养老覆盖 Elderly served after plan",
    "served_childcare_after": "规划后托育覆盖 Childcare served after plan",
    "sites": "新建场地数 Sites",
    "places_added": "新增托位 New childcare places",
    "cost_yuan": "建设费用(元) Construction cost (yuan)",
    "subsidy_yuan": "补助合计(元) Total subsidy (yuan)",
    "solver_status": "求解状态 Solver status",
    "parameter": "参数 Parameter",
    "value": "参数值 Value",
}


@dataclass
class Comparison:
    """Several scenarios' plans side by side.

    Attributes
    ----------
    parameters
        Every parameter of every scenario, the ones that differ first.
    statuses
        ``pass``/``fail``/... of each indicator after each plan.
    summary
        One row per scenario: demand, targets' needs, coverage, sites, cost.
    indicators
        District indicators after each plan: ``district``, ``district_name``,
        ``indicator``, ``label``, then one value column per scenario.
    sites
        Every proposed site: ``id``, ``name``, one bool column per scenario,
        ``in_all`` and ``in_some`` (in some plans but not all).
    runs
        Scenario name -> :class:`~carecircle.outputs.results.RunOutputs`.
    files
        What :func:`compare` wrote (empty without ``out_dir``).
    """

    summary: pd.DataFrame
    indicators: pd.DataFrame
    sites: pd.DataFrame
    runs: dict[str, RunOutputs]
    files: list[Path] = field(default_factory=list)
    #: Every parameter of every scenario (``parameter``, ``differs``, one text column per
    #: scenario), the differing ones first.
    parameters: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: The indicators' status after each plan (same rows as ``indicators``).
    statuses: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def names(self) -> list[str]:
        return list(self.runs)


def _as_scenarios(scenarios: Sequence[Scenario | str | Path]) -> list[Scenario]:
    from carecircle.runs.context import as_scenario

    scens = [as_scenario(s) for s in scenarios]
    if len(scens) < 2:
        raise ScenarioError("compare needs at least two scenarios 至少需要两个情景")
    names = [s.name for s in scens]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ScenarioError(
            f"scenario names must differ to compare them 情景名称重复: {dup}; "
            "set `name = ...` in each scenario file")
    return scens


def _summary_row(run: RunOutputs) -> dict[str, Any]:
    scen, h = run.scenario, run.headline
    comm = run.communities
    t = scen.targets
    pop = float(comm["population"].sum())
    old = float(comm["pop_60plus"].sum()) if "pop_60plus" in comm else np.nan
    places = float(run.sites["places_added"].sum()) if run.sites is not None else 0.0
    return {
        "scenario": scen.name,
        "title": scen.title,
        "demand_year": scen.demand.year if scen.demand.year is not None else np.nan,
        "mode": scen.plan.mode,
        "budget_yuan": float(scen.plan.budget_yuan) if scen.plan.mode == "budget" else np.nan,
        "population": pop,
        "pop_60plus": old,
        "pop_0_3": float(comm["pop_0_3"].sum()) if "pop_0_3" in comm else np.nan,
        "places_target": (np.nan if t.childcare_places_per_1000 is None
                          else pop / 1000.0 * t.childcare_places_per_1000),
        "public_beds_target": (np.nan if t.public_beds_share_of_60plus is None
                               else old * t.public_beds_share_of_60plus),
        "communities_on_network": h.get("communities_on_network"),
        "served_both_before": h.get("served_both_before"),
        "served_both_after": h.get("served_both_after", h.get("served_both_before")),
        "served_elderly_after": h.get("served_elderly_after", h.get("served_elderly_before")),
        "served_childcare_after": h.get("served_childcare_after",
                                        h.get("served_childcare_before")),
        "sites": h.get("sites", 0),
        "places_added": places,
        "cost_yuan": h.get("cost_yuan", 0.0),
        "subsidy_yuan": h.get("subsidy_yuan", np.nan),
        "solver_status": h.get("solver_status", ""),
    }


def _indicators(runs: dict[str, RunOutputs], column: str = "value") -> pd.DataFrame:
    """One row per district and indicator, one ``column`` (value, status) per scenario."""
    keys = ["district", "district_name", "indicator", "label", "unit"]
    parts = []
    for name, run in runs.items():
        table = run.districts_after if run.districts_after is not None else run.districts_before
        parts.append(table[[*keys, column]].rename(columns={column: name}))
    out = parts[0]  # compare() runs two scenarios at least
    for part in parts[1:]:
        out = out.merge(part, on=keys, how="outer", sort=False)
    return out.reset_index(drop=True)


# ---------------------------------------------------------------- what people read


def _param_text(value: Any) -> str:
    """A parameter's value as text: ``—`` for none (no target), numbers as written."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_param_text(v) for v in value) or "[]"
    return str(value)


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, dict) and value:
        for k in sorted(value):
            _flatten(f"{prefix}.{k}", value[k], out)
    else:
        out[prefix] = _param_text(value if not isinstance(value, dict) else None)


def scenario_parameters(scen: Scenario) -> dict[str, str]:
    """Every parameter of a scenario as text, keyed as in the scenario file.

    Parameters
    ----------
    scen
        The scenario.

    Returns
    -------
    dict
        ``profile``, ``currency``, ``subsidies``, ``crs``, ``include_major_projects``,
        then ``demand.*``, ``walking.*``, ``standards.*``, ``targets.*``, ``plan.*`` and
        ``inputs.*`` (file names), e.g. ``walking.speed_mps.elderly = "0.8"``.
    """
    prof = scen.profile
    out = {"profile": prof.name, "currency": prof.currency.code or "—",
           "subsidies": prof.subsidies.name if prof.subsidies is not None else "none",
           "crs": scen.crs or "auto", "include_major_projects": _param_text(scen.include_major_projects)}
    for section in ("demand", "walking", "standards", "targets", "plan"):
        data = dataclasses.asdict(getattr(scen, section))
        if section == "demand" and data.get("projection_table"):
            data["projection_table"] = Path(data["projection_table"]).name
        for key, value in data.items():
            _flatten(f"{section}.{key}", value, out)
    for name in sorted(scen.inputs):
        src = scen.inputs[name]
        out[f"inputs.{name}"] = src.path.name + (f" [{src.filter}]" if src.filter else "")
    return out


def parameter_table(scens: Sequence[Scenario]) -> pd.DataFrame:
    """Every parameter of the scenarios side by side, the ones that differ first.

    Parameters
    ----------
    scens
        The scenarios compared.

    Returns
    -------
    pandas.DataFrame
        ``parameter``, ``differs`` and one text column per scenario name.
    """
    params = {s.name: scenario_parameters(s) for s in scens}
    keys = list(dict.fromkeys(k for p in params.values() for k in p))
    rows = [{"parameter": k, **{n: p.get(k, "—") for n, p in params.items()}} for k in keys]
    df = pd.DataFrame(rows)
    df.insert(1, "differs", df[list(params)].nunique(axis=1) > 1)
    return pd.concat([df[df["differs"]], df[~df["differs"]]], ignore_index=True)


#: Summary rows shown as whole numbers (people, places, communities, sites).
_WHOLE = ("population", "pop_60plus", "pop_0_3", "places_target", "public_beds_target",
          "communities_on_network", "served_both_before", "served_both_after",
          "served_elderly_after", "served_childcare_after", "sites", "places_added")


def _summary_cell(key: str, value: Any, scen: Scenario) -> str:
    missing = value is None or (isinstance(value, float) and np.isnan(value))
    if key == "demand_year":
        return "按输入人口 as loaded" if missing else str(int(value))
    if missing:
        return "—"
    if key.endswith("_yuan"):
        return scen.currency.amount(float(value))
    if key in _WHOLE:
        return f"{float(value):,.0f}"
    return str(value)


def summary_display(cmp: Comparison) -> pd.DataFrame:
    """What the terminal and ``compare.html`` show: the parameters that differ, then the
    summary formatted as in the briefing; one column per scenario.

    Parameters
    ----------
    cmp
        The comparison.

    Returns
    -------
    pandas.DataFrame
        Index: bilingual labels (a differing parameter as ``参数 Parameter: <key>``).
    """
    scens = {n: r.scenario for n, r in cmp.runs.items()}
    rows: dict[str, list[str]] = {}
    differ = cmp.parameters[cmp.parameters["differs"]] if len(cmp.parameters) else None
    if differ is not None:
        for _, r in differ.iterrows():
            rows[f"参数 Parameter: {r['parameter']}"] = [str(r[n]) for n in cmp.names]
    s = cmp.summary.set_index("scenario")
    for key in SUMMARY_LABELS:
        if key in s.columns and key not in ("scenario", "title"):
            label = next(iter(scens.values())).currency.relabel(SUMMARY_LABELS[key])
            rows[label] = [_summary_cell(key, s.loc[n, key], scens[n]) for n in cmp.names]
    return pd.DataFrame.from_dict(rows, orient="index", columns=cmp.names)


def indicators_display(cmp: Comparison) -> pd.DataFrame:
    """The district indicators after each plan as the briefing shows them (``93.3% ✓``).

    Parameters
    ----------
    cmp
        The comparison.

    Returns
    -------
    pandas.DataFrame
        ``district_name``, ``label`` and one text column per scenario.
    """
    from carecircle.assess.indicators import STATUS_MARKS, value_text

    out = cmp.indicators[["district_name", "label"]].copy()
    for name in cmp.names:
        status = cmp.statuses[name] if name in cmp.statuses else pd.Series("", index=out.index)
        out[name] = [
            "" if pd.isna(st) else f"{value_text(v, u)} {STATUS_MARKS.get(str(st), st)}".strip()
            for v, u, st in zip(cmp.indicators[name], cmp.indicators["unit"], status, strict=True)]
    return out


def _sites(runs: dict[str, RunOutputs]) -> pd.DataFrame:
    names: dict[str, str] = {}
    member: dict[str, set[str]] = {}
    for name, run in runs.items():
        ids = []
        if run.sites is not None and len(run.sites):
            ids = run.sites["id"].astype(str).tolist()
            names.update(zip(ids, run.sites["name"].astype(str), strict=True))
        member[name] = set(ids)
    every = sorted(names)
    df = pd.DataFrame({"id": every, "name": [names[i] for i in every]})
    for name in runs:
        df[name] = df["id"].isin(member[name])
    flags = df[list(runs)].to_numpy(dtype=bool) if len(runs) else np.zeros((len(df), 0), bool)
    df["in_all"] = flags.all(axis=1)
    df["in_some"] = flags.any(axis=1) & ~flags.all(axis=1)
    return df


def run_one(scenario: Scenario, *, quiet: bool = True, plan: bool = True) -> RunOutputs:
    """Prepare, assess and (by default) plan one scenario; nothing written.

    Parameters
    ----------
    scenario
        The scenario.
    quiet
        No progress output.
    plan
        Also solve the siting plan (``False``: today's coverage only).

    Returns
    -------
    RunOutputs
        What :func:`carecircle.runs.pipeline.run_scenario` would write.
    """
    from carecircle.runs.context import prepare
    from carecircle.runs.pipeline import assess_context
    from carecircle.runs.plan import plan_context

    ctx = prepare(scenario, quiet=quiet)
    run = assess_context(ctx)
    return plan_context(ctx, run, quiet=quiet) if plan else run


def compare(
    scenarios: Sequence[Scenario | str | Path],
    *,
    out_dir: str | Path | None = None,
    quiet: bool = False,
) -> Comparison:
    """Run several scenarios and put their plans side by side.

    Parameters
    ----------
    scenarios
        Scenarios or their TOML paths (at least two, with different names).
    out_dir
        Where to write: each scenario's outputs in ``<out_dir>/<name>/`` and the
        comparison (``compare_summary``, ``compare_indicators``, ``compare_sites``
        as CSV and XLSX, ``compare.png``, ``compare.html``) in ``out_dir``.  All
        or nothing: a failed comparison leaves a previous one as it was.
        ``None``: nothing written.
    quiet
        No progress output.

    Returns
    -------
    Comparison
    """
    from tqdm.auto import tqdm

    from carecircle.atomic import check_output_folder

    scens = _as_scenarios(scenarios)
    if out_dir is not None:  # refuse a folder holding an input before any work
        check_output_folder(out_dir, _protected(scens))
    runs: dict[str, RunOutputs] = {}
    for scen in tqdm(scens, desc="scenarios 情景", unit="run", disable=quiet):
        runs[scen.name] = run_one(scen, quiet=True)
    cmp = Comparison(
        summary=pd.DataFrame([_summary_row(r) for r in runs.values()]),
        indicators=_indicators(runs),
        sites=_sites(runs),
        runs=runs,
        parameters=parameter_table(scens),
        statuses=_indicators(runs, "status"),
    )
    if out_dir is not None:
        cmp.files = write_comparison(cmp, out_dir)
    return cmp


def _protected(scens: list) -> list[Path]:
    """The scenario files and inputs of every scenario compared: outputs never replace them."""
    return [p for s in scens for p in s.protected_files()]


def write_comparison(cmp: Comparison, out_dir: str | Path) -> list[Path]:
    """Write a comparison (see :func:`compare`), all or nothing.

    Parameters
    ----------
    cmp
        The comparison.
    out_dir
        The folder: each scenario's outputs in ``<out_dir>/<name>/``, the comparison's
        tables, chart and page in ``out_dir``.

    Returns
    -------
    list of pathlib.Path
        The final paths of the files written.
    """
    from carecircle.atomic import StagedOutputs
    from carecircle.outputs.results import bilingual
    from carecircle.outputs.tables import write_csv, write_xlsx
    from carecircle.outputs.write import write_run

    target = Path(out_dir)
    protect = _protected([r.scenario for r in cmp.runs.values()])
    with StagedOutputs(target, owner="compare", protect=protect) as st:
        staged: list[Path] = []
        for name, run in cmp.runs.items():
            staged += write_run(run, st.dir / name)
        tables = {
            "compare_parameters": bilingual(cmp.parameters, {
                "parameter": "参数 Parameter", "differs": "情景间不同 Differs"}),
            "compare_summary": bilingual(cmp.summary, SUMMARY_LABELS),
            "compare_indicators": bilingual(cmp.indicators),
            "compare_sites": bilingual(cmp.sites, {
                "in_all": "所有方案均选 In every plan", "in_some": "部分方案选 In some plans"}),
        }
        currency = next(iter(cmp.runs.values())).scenario.currency
        for stem, df in tables.items():
            df.columns = [currency.relabel(str(c)) for c in df.columns]
            staged.append(write_csv(df, st.path(f"{stem}.csv")))
            staged.append(write_xlsx(df, st.path(f"{stem}.xlsx"), sheet=stem))
        png = comparison_chart(cmp)
        st.path("compare.png").write_bytes(png)
        staged.append(st.dir / "compare.png")
        st.path("compare.html").write_text(comparison_html(cmp, png), encoding="utf-8")
        staged.append(st.dir / "compare.html")
        return [target / p.relative_to(st.dir) for p in staged]


def _figure(width: float, height: float):
    """A bare matplotlib Figure (no pyplot state) and the fonts to draw on it."""
    from matplotlib.figure import Figure

    from carecircle.outputs.staticmap import Fonts, find_cjk_font

    return Figure(figsize=(width, height), dpi=110), Fonts(find_cjk_font())


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def comparison_chart(cmp: Comparison) -> bytes:
    """A PNG: cost, sites and communities served by both, per scenario."""
    s = cmp.summary
    fig, fonts = _figure(11, 3.6)
    axes = fig.subplots(1, 3)
    currency = next(iter(cmp.runs.values())).scenario.currency if cmp.runs else None
    cost = "建设费用(百万元) Cost (M yuan)"
    panels = [
        ("cost_yuan", 1e6, currency.relabel(cost) if currency is not None else cost),
        ("sites", 1, "新建场地数 Sites"),
        ("served_both_after", 1, "两类均覆盖社区 Served by both"),
    ]
    x = np.arange(len(s))
    for ax, (col, scale, title) in zip(axes, panels, strict=True):
        vals = pd.to_numeric(s[col], errors="coerce").fillna(0).to_numpy(dtype=float) / scale
        ax.bar(x, vals, color="#3b7dd8")
        ax.set_xticks(x, s["scenario"].astype(str).tolist(), rotation=20, ha="right")
        ax.set_title(fonts.label(title), fontproperties=fonts.prop(9))
        for xi, v in zip(x, vals, strict=True):
            ax.annotate(f"{v:,.1f}" if scale != 1 else f"{v:,.0f}", (xi, v), ha="center",
                        va="bottom", fontsize=8)
        ax.margins(y=0.15)
    on_net = pd.to_numeric(s["communities_on_network"], errors="coerce")
    if on_net.notna().any():  # the most a plan can serve
        axes[2].axhline(float(on_net.max()), color="#888", ls="--", lw=1)
    fig.tight_layout()
    return _png(fig)


def comparison_html(cmp: Comparison, png: bytes) -> str:
    """The comparison page (every text from the inputs escaped).

    Parameters
    ----------
    cmp
        The comparison.
    png
        The chart of :func:`comparison_chart`, embedded in the page.

    Returns
    -------
    str
        A standalone HTML page.
    """
    import base64

    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    s = cmp.summary
    shown = summary_display(cmp)
    rows = [(str(label), [str(v) for v in vals]) for label, vals in
            zip(shown.index, shown.to_numpy().tolist(), strict=True)]
    ind = indicators_display(cmp)
    ind_rows = [(f"{r['district_name']} · {r['label']}", [str(r[n]) for n in cmp.names])
                for _, r in ind.iterrows()]
    site_rows = [(r["id"], r["name"], ["●" if r[n] else "" for n in cmp.names],
                  "all 全部" if r["in_all"] else "some 部分")
                 for _, r in cmp.sites.iterrows()]
    return env.from_string(_PAGE).render(
        names=cmp.names, titles=[str(t) for t in s["title"]], rows=rows, ind_rows=ind_rows,
        site_rows=site_rows, image="data:image/png;base64," + base64.b64encode(png).decode(),
        n_all=int(cmp.sites["in_all"].sum()), n_some=int(cmp.sites["in_some"].sum()),
    )


_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>情景比较 Scenario comparison</title>
<style>
 html { font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", Arial,
        sans-serif; color: #222; }
 body { max-width: 280mm; margin: 0 auto; padding: 8px 12px; font-size: 10pt; }
 table { border-collapse: collapse; font-size: 9pt; margin-bottom: 10px; }
 th, td { border: 1px solid #bbb; padding: 2px 5px; } th { background: #eef2f6; text-align: left; }
 td.n { text-align: right; white-space: nowrap; } img { max-width: 100%; }
</style></head><body>
<h1>情景比较 <span style="font-weight:normal">Scenario comparison</span></h1>
<p>{% for n in names %}<a href="{{ n }}/briefing.html">{{ n }}</a> ({{ titles[loop.index0] }})
{%- if not loop.last %} · {% endif %}{% endfor %}</p>
<img src="{{ image }}" alt="cost, sites and coverage per scenario 各情景费用、场地与覆盖">
<h2>概要 Summary</h2>
<table><tr><th></th>{% for n in names %}<th>{{ n }}</th>{% endfor %}</tr>
{% for label, vals in rows %}<tr><th>{{ label }}</th>{% for v in vals %}<td class="n">{{ v }}</td>
{% endfor %}</tr>{% endfor %}</table>
<h2>规划后区县指标 District indicators after each plan</h2>
<table><tr><th></th>{% for n in names %}<th>{{ n }}</th>{% endfor %}</tr>
{% for label, vals in ind_rows %}<tr><th>{{ label }}</th>{% for v in vals %}<td class="n">{{ v }}</td>
{% endfor %}</tr>{% endfor %}</table>
<h2>场地 Sites: {{ n_all }} in every plan 所有方案均选, {{ n_some }} in some 部分方案选</h2>
<table><tr><th>编号 ID</th><th>名称 Name</th>{% for n in names %}<th>{{ n }}</th>{% endfor %}
<th>选中 Chosen in</th></tr>
{% for id, name, marks, where in site_rows %}<tr><td>{{ id }}</td><td>{{ name }}</td>
{% for m in marks %}<td>{{ m }}</td>{% endfor %}<td>{{ where }}</td></tr>{% endfor %}</table>
</body></html>
"""


# ---------------------------------------------------------------- sensitivity


def _with(scen: Scenario, parameter: str, value: float) -> Scenario:
    w, p = scen.walking, scen.plan
    if parameter == "minutes":
        return scen.replace(walking=dataclasses.replace(w, minutes=float(value)))
    if parameter in ("speed_elderly", "speed_childcare"):
        kind = parameter.split("_", 1)[1]
        speed = {**w.speed_mps, kind: float(value)}
        return scen.replace(walking=dataclasses.replace(w, speed_mps=speed))
    if parameter == "budget_yuan":
        return scen.replace(plan=dataclasses.replace(p, mode="budget", budget_yuan=float(value)))
    raise ScenarioError(f"cannot sweep {parameter!r} 不支持的参数; expected one of "
                        f"{sorted(SWEEP_PARAMETERS)}")


def sweep(
    scenario: Scenario | str | Path,
    parameter: str,
    values: Sequence[float],
    *,
    quiet: bool = False,
) -> pd.DataFrame:
    """Vary one parameter of a scenario; coverage and cost of the plan at each value.

    Parameters
    ----------
    scenario
        The scenario or its TOML path.
    parameter
        ``"minutes"``, ``"speed_elderly"``, ``"speed_childcare"`` (m/s) or
        ``"budget_yuan"`` (the plan becomes a budget plan).
    values
        The values, in the order of the rows.
    quiet
        No progress bar.

    Returns
    -------
    pandas.DataFrame
        One row per value: ``parameter``, ``value``, ``sites``, ``cost_yuan``,
        ``served_both_before`` (today, at this value), ``served_both_after``,
        ``served_elderly_after``, ``served_childcare_after``,
        ``communities_on_network``, ``solver_status``, ``places_added``.  A value
        with no feasible plan (a budget below what the district targets need) is a
        row with status ``infeasible`` and no plan figures.
    """
    from tqdm.auto import tqdm

    from carecircle.runs.context import as_scenario, prepare
    from carecircle.runs.pipeline import assess_context
    from carecircle.runs.plan import build_problem, plan_context

    scen = as_scenario(scenario)
    if parameter not in SWEEP_PARAMETERS:
        _with(scen, parameter, 0.0)  # raises the bilingual error
    values = [float(v) for v in values]
    if not values:
        raise ScenarioError("sweep needs at least one value 至少需要一个参数值")
    if parameter != "budget_yuan" and min(values) <= 0:
        raise ScenarioError(f"{parameter} must be > 0 参数必须大于0; got {min(values):g}")
    ctx = prepare(scen, quiet=True)  # inputs and network once
    base_run = shared = None
    if parameter == "budget_yuan":  # the reach and the model do not change: build them once
        base_run = assess_context(ctx)
        shared = build_problem(ctx, base_run)
    rows = []
    for v in tqdm(values, desc=f"sweep {parameter}", unit="run", disable=quiet):
        c = dataclasses.replace(ctx, scenario=_with(scen, parameter, v))
        run = base_run if base_run is not None else assess_context(c)
        try:
            row = _summary_row(plan_context(c, run, quiet=True, problem=shared))
        except InfeasibleError:  # e.g. a budget below what the district targets need
            row = {**_summary_row(run), "sites": np.nan, "cost_yuan": np.nan,
                   "places_added": np.nan, "solver_status": "infeasible"}
            for k in ("both", "elderly", "childcare"):
                row[f"served_{k}_after"] = np.nan
        rows.append({"parameter": parameter, "value": v, **{k: row[k] for k in _SWEEP_COLUMNS}})
    return pd.DataFrame(rows, columns=["parameter", "value", *_SWEEP_COLUMNS])


_SWEEP_COLUMNS = ("sites", "cost_yuan", "served_both_before", "served_both_after",
                  "served_elderly_after",
                  "served_childcare_after", "communities_on_network", "solver_status",
                  "places_added")


def write_sweep(table: pd.DataFrame, out_dir: str | Path, *, stem: str | None = None,
                protect: Iterable[str | Path] = ()) -> list[Path]:
    """Write a sweep table (CSV, XLSX) and its chart (PNG) into ``out_dir``, all or nothing.

    Parameters
    ----------
    table
        The sweep (:func:`sweep`).
    out_dir
        The folder (usually the scenario's output folder; the run's own outputs there
        are left alone).
    stem
        File name stem; default ``sweep_<parameter>``.
    protect
        Files no output may replace (the scenario and its inputs).

    Returns
    -------
    list of Path
    """
    from carecircle.atomic import StagedOutputs
    from carecircle.outputs.results import bilingual
    from carecircle.outputs.tables import write_csv, write_xlsx

    parameter = str(table["parameter"].iloc[0]) if len(table) else "sweep"
    stem = stem or f"sweep_{parameter}"
    labels = {**SUMMARY_LABELS, "value": SWEEP_PARAMETERS.get(parameter, "value")}
    target = Path(out_dir)
    with StagedOutputs(target, owner=stem, protect=protect) as st:
        people = bilingual(table, labels)
        staged = [write_csv(people, st.path(f"{stem}.csv")),
                  write_xlsx(people, st.path(f"{stem}.xlsx"), sheet=stem[:31])]
        st.path(f"{stem}.png").write_bytes(sweep_chart(table))
        staged.append(st.dir / f"{stem}.png")
        return [target / p.relative_to(st.dir) for p in staged]


def sweep_chart(table: pd.DataFrame) -> bytes:
    """A PNG: communities served and cost against the swept value."""
    parameter = str(table["parameter"].iloc[0]) if len(table) else ""
    fig, fonts = _figure(6.5, 3.8)
    ax = fig.subplots()
    x = table["value"].to_numpy(dtype=float)
    for col, label in (("served_both_after", "两类均覆盖 Both"),
                       ("served_elderly_after", "养老 Elderly"),
                       ("served_childcare_after", "托育 Childcare")):
        ax.plot(x, table[col].to_numpy(dtype=float), marker="o", label=fonts.label(label))
    ax.plot(x, table["served_both_before"].to_numpy(dtype=float), marker="^", ls=":",
            color="#c62828", label=fonts.label("现状两类均覆盖 Both, today"))
    ax.set_xlabel(fonts.label(SWEEP_PARAMETERS.get(parameter, parameter)),
                  fontproperties=fonts.prop(9))
    ax.set_ylabel(fonts.label("规划后覆盖社区数 Communities served after plan"),
                  fontproperties=fonts.prop(9))
    ax2 = ax.twinx()
    ax2.plot(x, table["cost_yuan"].to_numpy(dtype=float) / 1e6, color="#888", ls="--",
             marker="s", label=fonts.label("费用 Cost"))
    ax2.set_ylabel(fonts.label("建设费用(百万元) Cost (M yuan)"), fontproperties=fonts.prop(9))
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="best", prop=fonts.prop(8))
    fig.tight_layout()
    return _png(fig)
