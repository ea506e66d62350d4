"""Money: what a plan costs to build and which subsidies of the plan's attachment 1 it earns.

The subsidy schedule is data (``carecircle/data/subsidies.csv``), one row per rule of
附件1《西安市推进"一老一小"工作重大政策清单》, with the clause quoted; nothing here
hard-codes an amount.  :func:`cost_plan` applies the rules to a table of proposed sites
and returns a :class:`PlanCost` with a per-site table, a long table of every subsidy
item (one row per site and rule), per-district totals and the city total.

Decisions (the plan leaves them open; each is stated here and in the output notes):

* **Leases count as renovation of a stock building.**  A leased site earns the
  renovated-station amount (300 k, clause 十一) and the leased-or-renovated bed rate
  (5,000 per bed, clause 九, which names 租赁 explicitly).
* **"Up to" amounts are taken at their ceiling** (最高 60 万 / 30 万 / 150 万): the cost
  shown is the most the plan can pay, an upper estimate of the subsidy.
* **One construction subsidy per elderly building.**  A site hosting a street/town
  centre earns the centre subsidy (十); the community-station construction subsidy is not
  added on the same building (the centre is the station's higher tier).  If it also hosts
  an institution, clause 十 forbids combining the centre subsidy with the bed subsidy:
  the larger of the two is kept and the other is listed at 0 with a note.
* **Childcare sites are demonstration sites** (``childcare_demonstration=True``): every
  new place earns 10,000 yuan (十五).  That money is central-budget money the city
  applies for (争取中央预算内资金), so its split is central 100 %, not city/district.
* **Public childcare is inclusive** (``childcare_inclusive=True``): 400 yuan per enrolled
  child per year (十七).  The plan states no split for it; the schedule assumes the
  usual 5:5 and says so (``split_basis = assumed``).
* **Operation subsidies**: a site hosting ``elderly`` runs a community station and earns
  15 k-100 k a year (十八) at the chosen level (low = 15 k, high = 100 k, mid = the
  midpoint 57.5 k).  Street centres and institutions have operation subsidies per
  resident in the plan (十七) that depend on occupancy and star rating; they are not
  estimated here.
* **Cap**: the one-off construction subsidies of a site never exceed its own
  construction/acquisition cost; when they would, they are scaled down in proportion
  (so each funder's share shrinks alike) and the site is flagged ``capped``.  Operation
  subsidies pay running costs, which are not in the inputs, so they are not capped.
* **The items beyond these** (meal points, care-home upgrades, 医养结合, star-rated childcare,
  rural happiness homes) and the clause-by-clause account of attachment 1 are in
  :mod:`carecircle.siting.subsidy_rules`; a site's cost split (``building_yuan``,
  ``fitout_yuan``, ``shared_saving_yuan``), when given, is carried into the tables.
* **City shares follow the wording of each clause**, not a blanket 5:5: where the plan
  says 市级给予 (stations, centres, meal points) the city pays all of it; where it says
  市和区县 5∶5 (beds, station operation, home adaptation) it is split half and half.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from carecircle.errors import InputError, Problem, ProblemLog
from carecircle.siting.subsidy_rules import (
    UNSPECIFIED_DISTRICT as UNSPECIFIED_DISTRICT,
)
from carecircle.siting.subsidy_rules import (
    Item,
    Site,
    Terms,
    clause_table,
    site_items,
)

OperationLevel = Literal["low", "mid", "high"]

SCHEDULE_COLUMNS = (
    "rule", "name_zh", "name_en", "amount_yuan", "amount_min_yuan", "amount_max_yuan",
    "up_to", "unit", "city_share", "central_share", "split_basis", "split_zh", "clause",
    "source_clause",
)
UNITS = ("once", "per_bed", "per_place", "per_child_per_year", "per_household", "per_year",
         "share_of_cost", "per_person_day", "per_child", "per_agreement_per_year")
# the rules cost_plan applies; the schedule must define every one of them
RULES_USED = (
    "community_station_new", "community_station_renovated", "street_centre",
    "institution_bed_new", "institution_bed_leased_or_renovated", "childcare_demo_place_new",
    "community_station_operation", "inclusive_childcare_operation",
)
SITE_KINDS = ("elderly", "childcare", "street_centre", "institution", "rural_home")
#: Site attributes some subsidies need (a site without them earns none of those).
COST_ATTRIBUTES = ("meal_point", "meal_diner_days", "care_home_upgrade", "medical",
                   "medical_agreements", "childcare_star")
KIND_ALIASES: dict[str, str] = {
    "elderly": "elderly", "养老": "elderly", "社区养老服务站": "elderly", "养老服务站": "elderly",
    "childcare": "childcare", "托育": "childcare",
    "street_centre": "street_centre", "street_center": "street_centre", "综合中心": "street_centre",
    "综合养老服务中心": "street_centre",
    "institution": "institution", "养老机构": "institution", "养老院": "institution",
    "敬老院": "institution",
    "rural_home": "rural_home", "农村幸福院": "rural_home", "农村互助幸福院": "rural_home",
    "幸福院": "rural_home",
}
ACQUISITION_ALIASES: dict[str, str] = {
    "new": "new", "新建": "new",
    "renovate": "renovate", "renovated": "renovate", "改造": "renovate", "存量改造": "renovate",
    "改扩建": "renovate",
    "lease": "lease", "leased": "lease", "租赁": "lease",
}
SITES_FILE = "plan sites 方案场地"

# Bilingual headers for every table this module returns (the report module may reuse them).
COLUMN_LABELS: dict[str, str] = {
    "id": "编号 ID",
    "name": "名称 Name",
    "district": "区县 District",
    "kinds": "设施类型 Kinds",
    "acquisition": "取得方式 Acquisition",
    "floor_area_m2": "建筑面积 Floor area (m²)",
    "cost_yuan": "建设费用 Construction cost (yuan)",
    "cost_source": "费用来源 Cost source",
    "beds": "床位 Beds",
    "places": "托位 Childcare places",
    "children_enrolled": "在托人数 Children enrolled",
    "construction_subsidy_uncapped_yuan": "建设补助(封顶前) Construction subsidy before cap (yuan)",
    "construction_subsidy_yuan": "建设补助 Construction subsidy (yuan)",
    "capped": "按造价封顶 Capped at cost",
    "operation_subsidy_per_year_yuan": "年运营补助 Operation subsidy per year (yuan)",
    "operation_subsidy_yuan": "运营补助合计 Operation subsidy over the period (yuan)",
    "subsidy_total_yuan": "补助合计 Total subsidy (yuan)",
    "city_yuan": "市级承担 City share (yuan)",
    "district_yuan": "区县承担 District share (yuan)",
    "central_yuan": "中央资金 Central funds (yuan)",
    "net_cost_yuan": "扣除建设补助后费用 Cost net of construction subsidy (yuan)",
    "building_yuan": "建筑取得/改造费用(一次) Building: acquire, build or renovate (once, yuan)",
    "fitout_yuan": "各类设施装修费用 Fit-out of the kinds hosted (yuan)",
    "shared_saving_yuan": "合建节省 Shared-building saving (yuan)",
    "title": "条款名称 Clause title",
    "status": "适用情况 Status",
    "applies_to": "适用条件或不适用原因 What it needs, or why it does not apply",
    "rules": "补助条款 Subsidy rules",
    "notes": "说明 Notes",
    "n_sites": "场地数 Sites",
    "rule": "补助条款 Rule",
    "name_zh": "补助名称 Subsidy (zh)",
    "name_en": "补助名称 Subsidy (en)",
    "type": "类别 Type",
    "quantity": "数量 Quantity",
    "unit": "单位 Unit",
    "rate_yuan": "标准 Rate (yuan)",
    "annual_yuan": "每年 Per year (yuan)",
    "amount_uncapped_yuan": "金额(封顶前) Amount before cap (yuan)",
    "amount_yuan": "金额 Amount (yuan)",
    "city_share": "市级比例 City share",
    "central_share": "中央比例 Central share",
    "clause": "条款 Clause",
    "source_clause": "原文 Source clause",
    "note": "说明 Note",
}

#: The split of a site's cost, when the sites give it (the siting plan does): the
#: building once, the fit-out of the kinds it hosts, the shared-building saving.
COST_SPLIT = ("building_yuan", "fitout_yuan", "shared_saving_yuan")
_SITE_MONEY = (
    "cost_yuan", *COST_SPLIT, "construction_subsidy_uncapped_yuan", "construction_subsidy_yuan",
    "operation_subsidy_per_year_yuan", "operation_subsidy_yuan", "subsidy_total_yuan",
    "city_yuan", "district_yuan", "central_yuan", "net_cost_yuan",
)


def to_bilingual(df: pd.DataFrame, labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Return a copy of ``df`` with bilingual column headers for export.

    Parameters
    ----------
    df
        A table from :class:`PlanCost` (or any table with canonical column names).
    labels
        Extra or overriding ``column -> header`` labels, merged over :data:`COLUMN_LABELS`.
        Columns with no label keep their name.

    Returns
    -------
    pandas.DataFrame
        The same data, columns renamed, e.g. ``cost_yuan`` -> ``建设费用 Construction cost (yuan)``.
    """
    merged = dict(COLUMN_LABELS)
    if labels:
        merged.update(labels)
    return df.rename(columns={c: merged[c] for c in df.columns if c in merged})


# --------------------------------------------------------------------------- schedule


def load_subsidy_schedule(path: str | Path | None = None) -> pd.DataFrame:
    """Read and validate the subsidy schedule (attachment 1 of the plan as data).

    Parameters
    ----------
    path
        A CSV with the columns of :data:`SCHEDULE_COLUMNS`; ``None`` reads the bundled
        ``carecircle/data/subsidies.csv``.

    Returns
    -------
    pandas.DataFrame
        One row per rule, indexed by ``rule``, amounts as floats, ``up_to`` as bool.

    Raises
    ------
    InputError
        The file cannot be read.
    ValidationError
        Columns, amounts, units or shares are wrong; every problem is listed.
    """
    if path is None:
        ref = resources.files("carecircle").joinpath("data", "subsidies.csv")
        label = "carecircle/data/subsidies.csv"
        with resources.as_file(ref) as p:
            raw = _read_csv(p, label)
    else:
        label = str(path)
        raw = _read_csv(Path(path), label)
    return validate_subsidy_schedule(raw, source=label)


def _read_csv(path: Path, label: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(Problem("error", label, f"cannot read the table: {exc}")) from None


def validate_subsidy_schedule(raw: pd.DataFrame, source: str = "schedule") -> pd.DataFrame:
    """Check a schedule table and convert its types; see :func:`load_subsidy_schedule`.

    Parameters
    ----------
    raw
        The schedule with string or numeric cells.
    source
        Name used in error messages (the file).

    Returns
    -------
    pandas.DataFrame
        Typed schedule indexed by ``rule``.
    """
    log = ProblemLog()
    missing = [c for c in SCHEDULE_COLUMNS if c not in raw.columns]
    if missing:
        log.error(source, "missing column(s)", found=str(list(raw.columns)),
                  expected=f"columns {list(SCHEDULE_COLUMNS)}")
        log.raise_if_errors()
    df = raw.copy()
    for c in ("amount_yuan", "amount_min_yuan", "amount_max_yuan", "city_share", "central_share"):
        df[c] = _numbers(df, c, source, log)
    up = df["up_to"].astype(str).str.strip().str.lower()
    for i in np.flatnonzero(~up.isin(["true", "false"]).to_numpy()):
        log.error(source, "not a boolean", row=int(i), feature_id=str(df["rule"].iloc[i]),
                  column="up_to", found=repr(up.iloc[i]), expected="true or false")
    df["up_to"] = up == "true"
    df["rule"] = df["rule"].astype(str).str.strip()
    for rule in df.loc[df["rule"].duplicated(), "rule"]:
        log.error(source, "duplicate rule", feature_id=rule, column="rule", expected="unique keys")
    for row_number, row in enumerate(df.itertuples(index=False)):
        _check_schedule_row(row, row_number, source, log)
    for rule in RULES_USED:
        if rule not in set(df["rule"]):
            log.error(source, "rule missing from the schedule", feature_id=rule, column="rule",
                      expected="a row for every rule the costing applies")
    log.raise_if_errors()
    return df.set_index("rule", drop=False)


def _numbers(df: pd.DataFrame, column: str, source: str, log: ProblemLog) -> pd.Series:
    """A column as floats (blank = NaN); a cell that is not a number is an error."""
    text = df[column].astype(str).str.strip().replace({"": None, "nan": None, "None": None})
    num = pd.to_numeric(text, errors="coerce")
    for i in np.flatnonzero(text.notna().to_numpy() & num.isna().to_numpy()):
        log.error(source, "not a number", row=int(i), feature_id=str(df["rule"].iloc[i]),
                  column=column, found=repr(text.iloc[i]), expected="a number")
    return num.astype(float)


def _check_schedule_row(row: Any, i: int, source: str, log: ProblemLog) -> None:
    """A rule's unit, amount or range, and shares."""
    rid = row.rule
    if row.unit not in UNITS:
        log.error(source, "unknown unit", row=i, feature_id=rid, column="unit",
                  found=repr(row.unit), expected=f"one of {list(UNITS)}")
    has_amount = not math.isnan(row.amount_yuan)
    has_range = not (math.isnan(row.amount_min_yuan) or math.isnan(row.amount_max_yuan))
    if has_amount == has_range:
        log.error(source, "give either amount_yuan or both amount_min_yuan and amount_max_yuan",
                  row=i, feature_id=rid, column="amount_yuan",
                  found=f"amount={row.amount_yuan}, min={row.amount_min_yuan}, max={row.amount_max_yuan}",
                  expected="exactly one of the two forms")
    for c in ("amount_yuan", "amount_min_yuan", "amount_max_yuan"):
        v = getattr(row, c)
        if not math.isnan(v) and v < 0:
            log.error(source, "negative amount", row=i, feature_id=rid, column=c,
                      found=str(v), expected=">= 0")
    if has_range and row.amount_min_yuan > row.amount_max_yuan:
        log.error(source, "range reversed", row=i, feature_id=rid, column="amount_min_yuan",
                  found=f"{row.amount_min_yuan} > {row.amount_max_yuan}", expected="min <= max")
    for c in ("city_share", "central_share"):
        v = getattr(row, c)
        if math.isnan(v) or not 0.0 <= v <= 1.0:
            log.error(source, "share out of range", row=i, feature_id=rid, column=c,
                      found=str(v), expected="a fraction in [0, 1]")
    if row.city_share + row.central_share > 1.0 + 1e-9:
        log.error(source, "city + central shares exceed 1", row=i, feature_id=rid,
                  column="city_share", found=f"{row.city_share} + {row.central_share}",
                  expected="<= 1 (the district pays the rest)")


# --------------------------------------------------------------------------- plan cost


@dataclass(frozen=True)
class PlanCost:
    """The cost of a plan and the subsidies it earns.

    Attributes
    ----------
    sites
        One row per site: cost, construction subsidy (capped), operation subsidy per
        year and over ``operation_years``, city/district/central shares, net cost,
        the rule keys applied and notes.
    items
        One row per site and subsidy rule: quantity, rate, amount before and after the
        cap, and its split.  ``type`` is ``construction`` (once) or ``operation``
        (``annual_yuan`` per year; ``amount_yuan`` over the period).
    districts
        Per-district sums of the money columns of ``sites`` (``n_sites`` too).
    total
        City-wide sums (a Series with the same fields as a ``districts`` row).
    operation_years, operation_level, childcare_demonstration, childcare_inclusive
        The parameters used, recorded for the report.
    notes
        The costing decisions (bilingual sentences) the report should print with the tables.
    clauses
        Every clause of attachment 1, (一)-(三十五): applied (sites, amounts), not
        triggered, or not applicable and why
        (:func:`carecircle.siting.subsidy_rules.clause_table`).
    """

    sites: pd.DataFrame
    items: pd.DataFrame
    districts: pd.DataFrame
    total: pd.Series
    operation_years: int = 1
    operation_level: str = "mid"
    childcare_demonstration: bool = True
    childcare_inclusive: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)
    clauses: pd.DataFrame | None = None

    def tables(self, bilingual: bool = False) -> dict[str, pd.DataFrame]:
        """The tables by name (``sites``, ``items``, ``districts``, ``total``, ``clauses``).

        Parameters
        ----------
        bilingual
            Rename columns with :func:`to_bilingual` for export.
        """
        total = self.total.to_frame().T.reset_index(drop=True)
        out = {"sites": self.sites, "items": self.items, "districts": self.districts,
               "total": total}
        if self.clauses is not None:
            out["clauses"] = self.clauses
        if bilingual:
            out = {k: to_bilingual(v) for k, v in out.items()}
        return out


def _num(value: Any) -> float:
    """A cell as float; missing, empty or unparsable -> NaN (validated by the caller).

    (A cell may hold anything a table holds, hence ``Any``: ``float`` decides.)
    """
    if value is None:
        return math.nan
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def _parse_kinds(value: Any) -> tuple[list[str], list[str]]:
    """Canonical kinds (in SITE_KINDS order) and the unknown words.

    *value* is a ``;``-separated string or any iterable of words (a table cell).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return [], []
    words: Iterable[object]
    if isinstance(value, str):
        words = value
        for sep in (",", "\uff0c", "\uff1b", "\u3001"):  # , ， ； 、 as well as ;
            words = words.replace(sep, ";")
        words = words.split(";")
    else:
        words = list(value)
    known, unknown = set(), []
    for w in words:
        key = str(w).strip()
        if not key:
            continue
        canon = KIND_ALIASES.get(key.lower(), KIND_ALIASES.get(key))
        if canon is None:
            unknown.append(key)
        else:
            known.add(canon)
    return [k for k in SITE_KINDS if k in known], unknown


def _split(amount: float, city_share: float, central_share: float) -> tuple[float, float, float]:
    """City, district, central parts of an amount, rounded to the fen; they add up exactly."""
    city = round(amount * city_share, 2)
    central = round(amount * central_share, 2)
    return city, round(amount - city - central, 2), central


def cost_plan(
    sites: pd.DataFrame,
    *,
    unit_costs: Mapping[str, float] | None = None,
    schedule: pd.DataFrame | str | Path | None = None,
    operation_years: int = 1,
    operation_level: OperationLevel = "mid",
    childcare_demonstration: bool = True,
    childcare_inclusive: bool = True,
    childcare_m2_per_place: float | None = None,
) -> PlanCost:
    """Cost a plan and the subsidies of the plan's attachment 1 that it earns.

    Parameters
    ----------
    sites
        One row per proposed site (a DataFrame or GeoDataFrame) with columns ``id``,
        ``name`` (optional), ``district`` (optional), ``kinds`` (a list or a
        ``;``-separated string of ``elderly``, ``childcare``, ``street_centre``,
        ``institution`` or their Chinese names), ``floor_area_m2``, ``acquisition``
        (``new``/``renovate``/``lease`` or 新建/改造/租赁), ``cost_yuan`` (optional; NaN
        means "from unit costs"), ``beds`` (institution beds), ``places`` (new childcare
        places), ``children_enrolled`` (default: ``places``).
    unit_costs
        Yuan per m² by acquisition type, e.g. ``{"new": 7500, "renovate": 2800,
        "lease": 2000}``; used where ``cost_yuan`` is missing.
    schedule
        The subsidy schedule (a table from :func:`load_subsidy_schedule` or a path);
        ``None`` uses the bundled one.
    operation_years
        Years of operation subsidy to total (the per-year amount is reported too).
    operation_level
        Where in the station operation range (15 k-100 k a year) to cost: ``low``,
        ``mid`` (midpoint) or ``high``.
    childcare_demonstration
        Count every childcare site as a demonstration institution earning 10,000 yuan per
        new place (clause 十五).
    childcare_inclusive
        Count every childcare site as inclusive (普惠), earning 400 yuan per child per year.
    childcare_m2_per_place
        If given, a childcare site without ``places`` gets ``floor(floor_area_m2 / this)``
        places; otherwise such a site earns no per-place subsidy (and says so).

    Returns
    -------
    PlanCost
        Per-site, per-item, per-district and city-total tables.

    Raises
    ------
    ValidationError
        A site has an unknown kind or acquisition, or no cost and no way to compute one
        (the message names the site id and the column).
    """
    if operation_level not in ("low", "mid", "high"):
        raise ValueError(f"operation_level must be 'low', 'mid' or 'high', not {operation_level!r}")
    if operation_years < 0:
        raise ValueError(f"operation_years must be >= 0, not {operation_years}")
    terms = Terms(
        schedule=_schedule(schedule),
        unit_costs={ACQUISITION_ALIASES.get(str(k).strip().lower(), str(k)): float(v)
                    for k, v in (unit_costs or {}).items()},
        operation_years=operation_years,
        operation_level=operation_level,
        childcare_demonstration=childcare_demonstration,
        childcare_inclusive=childcare_inclusive,
        childcare_m2_per_place=childcare_m2_per_place,
    )
    log = ProblemLog()
    if "id" not in sites.columns:
        log.error(SITES_FILE, "missing column", column="id", expected="a unique site id")
    for col in ("kinds", "acquisition"):
        if col not in sites.columns:
            log.error(SITES_FILE, "missing column", column=col, expected=f"a '{col}' column")
    log.raise_if_errors()

    site_rows: list[dict[str, Any]] = []
    item_rows: list[dict[str, Any]] = []
    for i, rec in enumerate(sites.to_dict("records")):
        site = _read_site(i, rec, terms, log)
        if log.errors:
            continue  # keep collecting problems; cost nothing once one is found
        _complete_site(site, rec, terms)
        site_row, items = _subsidies(site, terms)
        site_rows.append(site_row)
        item_rows += items
    log.raise_if_errors()

    site_table = pd.DataFrame(site_rows, columns=_SITE_COLUMNS)
    item_table = pd.DataFrame(item_rows, columns=_ITEM_COLUMNS)
    # object dtype so that n_sites stays an integer beside the yuan amounts
    total = pd.Series(
        {"n_sites": int(len(site_table)),
         # the cost split stays empty (not 0) where the sites do not give it
         **{c: round(float(site_table[c].sum(min_count=int(c in COST_SPLIT))), 2)
            for c in _SITE_MONEY}},
        dtype=object,
    )
    return PlanCost(
        sites=site_table, items=item_table, districts=_sum_by_district(site_table), total=total,
        operation_years=operation_years, operation_level=operation_level,
        childcare_demonstration=childcare_demonstration, childcare_inclusive=childcare_inclusive,
        notes=tuple(_DECISIONS), clauses=clause_table(item_table, terms.schedule),
    )


def _schedule(schedule: pd.DataFrame | str | Path | None) -> pd.DataFrame:
    if schedule is None or isinstance(schedule, (str, Path)):
        return load_subsidy_schedule(schedule)
    return validate_subsidy_schedule(schedule.reset_index(drop=True).astype(
        dict.fromkeys(("up_to",), str)), source="schedule")


def _read_site(i: int, rec: dict[str, Any], terms: Terms, log: ProblemLog) -> Site:
    """A site's kinds, acquisition, cost and sizes; every problem goes to *log*."""
    sid = str(rec["id"])
    kinds, unknown = _parse_kinds(rec.get("kinds"))
    if unknown or not kinds:
        log.error(SITES_FILE, "unknown or empty kinds", row=i, feature_id=sid, column="kinds",
                  found=repr(rec.get("kinds")), expected=f"a subset of {list(SITE_KINDS)}")
    acq_raw = str(rec.get("acquisition", "")).strip()
    acq = ACQUISITION_ALIASES.get(acq_raw.lower(), ACQUISITION_ALIASES.get(acq_raw))
    if acq is None:
        log.error(SITES_FILE, "unknown acquisition", row=i, feature_id=sid,
                  column="acquisition", found=repr(acq_raw), expected="new, renovate or lease")
    area = _num(rec.get("floor_area_m2"))
    cost, source = _site_cost(i, sid, acq, area, _num(rec.get("cost_yuan")), terms.unit_costs, log)
    beds = _num(rec.get("beds"))
    places = _num(rec.get("places"))
    for col, v in (("beds", beds), ("places", places), ("floor_area_m2", area)):
        if not math.isnan(v) and v < 0:
            log.error(SITES_FILE, "negative value", row=i, feature_id=sid, column=col,
                      found=str(v), expected=">= 0")
    attrs = {k: rec[k] for k in (*COST_ATTRIBUTES, *COST_SPLIT) if k in rec}
    return Site(sid, rec.get("name", ""), kinds, acq, area, cost, source, beds, places, attrs=attrs)


def _site_cost(
    i: int,
    sid: str,
    acq: str | None,
    area: float,
    cost: float,
    unit_costs: dict[str, float],
    log: ProblemLog,
) -> tuple[float, str]:
    """The cost given, else unit cost x floor area; and where it came from."""
    if not math.isnan(cost):
        if cost < 0:
            log.error(SITES_FILE, "negative cost", row=i, feature_id=sid, column="cost_yuan",
                      found=str(cost), expected=">= 0")
        return cost, "given 给定"
    if acq is not None and acq in unit_costs and not math.isnan(area):
        return unit_costs[acq] * area, f"unit cost 单价 {unit_costs[acq]:g} yuan/m²"
    if acq is not None and acq in unit_costs:
        log.error(SITES_FILE, "no cost and no floor area to apply the unit cost to",
                  row=i, feature_id=sid, column="floor_area_m2", found="missing",
                  expected="a floor area in m², or a cost_yuan")
    elif acq is not None:
        log.error(SITES_FILE, "no cost given and no unit cost for this acquisition type",
                  row=i, feature_id=sid, column="cost_yuan", found="missing",
                  expected=f"a cost in yuan, or unit_costs['{acq}'] in yuan per m²")
    return cost, "given 给定"


def _complete_site(site: Site, rec: dict[str, Any], terms: Terms) -> None:
    """Defaults of a valid site: no beds, places from floor area, children = places."""
    site.beds = 0.0 if math.isnan(site.beds) else site.beds
    if "childcare" in site.kinds and math.isnan(site.places):
        per = terms.childcare_m2_per_place
        if per and not math.isnan(site.area):
            site.places = float(math.floor(site.area / per))
            site.notes.append(f"places from floor area / {per:g} m² 托位按面积估算")
        else:
            site.places = 0.0
            site.notes.append("childcare site without places: no per-place subsidy 未给托位数")
    site.places = 0.0 if math.isnan(site.places) else site.places
    children = _num(rec.get("children_enrolled"))
    site.children = site.places if math.isnan(children) else children
    district = rec.get("district")
    if not (district is None or (isinstance(district, float) and math.isnan(district))
            or str(district).strip() == ""):
        site.district = district


def _not_combined(items: list[Item], amounts: list[float]) -> None:
    """Clause 十: the street-centre subsidy and the bed subsidy are not combined; the
    larger is kept, the other set to 0 with a note (in place)."""
    rules = [it.rule for it in items]
    if "street_centre" not in rules or not any(r.startswith("institution_bed") for r in rules):
        return
    sc = rules.index("street_centre")
    bd = next(k for k, r in enumerate(rules) if r.startswith("institution_bed"))
    drop = bd if amounts[sc] >= amounts[bd] else sc
    amounts[drop] = 0.0
    items[drop] = items[drop]._replace(note="not combined with the other (clause 十) 不重复享受")


def _subsidies(site: Site, terms: Terms) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A site's row and its item rows: amounts capped, split between funders."""
    items = site_items(site, terms)
    amounts = [it.quantity * it.rate for it in items]
    _not_combined(items, amounts)
    construction = sum(a for a, it in zip(amounts, items, strict=True) if it.type == "construction")
    factor = 1.0
    capped = construction > site.cost
    if capped:
        factor = site.cost / construction if construction > 0 else 0.0
        site.notes.append("construction subsidy capped at the site's cost 建设补助以造价封顶")
    totals = dict.fromkeys(("construction", "operation_year", "operation", "city", "district",
                            "central"), 0.0)
    item_rows = []
    for it, amount in zip(items, amounts, strict=True):
        row = terms.schedule.loc[it.rule]
        if it.type == "construction":
            final = round(amount * factor, 2)
            annual = math.nan
            totals["construction"] += final
        else:
            annual = round(amount, 2)
            final = round(amount * terms.operation_years, 2)
            totals["operation_year"] += annual
            totals["operation"] += final
        c, d, z = _split(final, float(row["city_share"]), float(row["central_share"]))
        totals["city"], totals["district"], totals["central"] = (
            totals["city"] + c, totals["district"] + d, totals["central"] + z)
        item_rows.append({
            "id": site.sid, "district": site.district, "rule": it.rule, "name_zh": row["name_zh"],
            "name_en": row["name_en"], "type": it.type, "quantity": it.quantity,
            "unit": row["unit"], "rate_yuan": it.rate, "annual_yuan": annual,
            # operation items are never capped: before and after the cap are the same
            "amount_uncapped_yuan": round(amount, 2) if it.type == "construction" else final,
            "amount_yuan": final,
            "city_share": float(row["city_share"]), "central_share": float(row["central_share"]),
            "city_yuan": c, "district_yuan": d, "central_yuan": z, "clause": row["clause"],
            "source_clause": row["source_clause"], "note": it.note,
        })
    site_row = {
        "id": site.sid, "name": site.name,
        "district": site.district, "kinds": ";".join(site.kinds),
        "acquisition": site.acquisition, "floor_area_m2": site.area,
        "cost_yuan": round(site.cost, 2), "cost_source": site.cost_source,
        **{c: _num(site.attrs.get(c)) for c in COST_SPLIT}, "beds": site.beds,
        "places": site.places, "children_enrolled": site.children,
        "construction_subsidy_uncapped_yuan": round(construction, 2),
        "construction_subsidy_yuan": round(totals["construction"], 2), "capped": capped,
        "operation_subsidy_per_year_yuan": round(totals["operation_year"], 2),
        "operation_subsidy_yuan": round(totals["operation"], 2),
        "subsidy_total_yuan": round(totals["construction"] + totals["operation"], 2),
        "city_yuan": round(totals["city"], 2), "district_yuan": round(totals["district"], 2),
        "central_yuan": round(totals["central"], 2),
        "net_cost_yuan": round(site.cost - totals["construction"], 2),
        "rules": ";".join(it.rule for it, a in zip(items, amounts, strict=True) if a > 0),
        "notes": "; ".join(site.notes),
    }
    return site_row, item_rows


_SITE_COLUMNS = (
    "id", "name", "district", "kinds", "acquisition", "floor_area_m2", "cost_yuan", "cost_source",
    *COST_SPLIT, "beds", "places", "children_enrolled", "construction_subsidy_uncapped_yuan",
    "construction_subsidy_yuan", "capped", "operation_subsidy_per_year_yuan",
    "operation_subsidy_yuan", "subsidy_total_yuan", "city_yuan", "district_yuan", "central_yuan",
    "net_cost_yuan", "rules", "notes",
)
_ITEM_COLUMNS = (
    "id", "district", "rule", "name_zh", "name_en", "type", "quantity", "unit", "rate_yuan",
    "annual_yuan", "amount_uncapped_yuan", "amount_yuan", "city_share", "central_share",
    "city_yuan", "district_yuan", "central_yuan", "clause", "source_clause", "note",
)
_DECISIONS = (
    "租赁按存量改造计 A lease counts as renovation of a stock building.",
    "“最高”金额按上限计 'Up to' amounts are costed at their ceiling.",
    "综合中心不再叠加社区站建设补助;与床位补助不重复享受,取较高者 A street centre earns no "
    "station construction subsidy on the same building, and not both the centre and bed subsidy "
    "(the larger is kept).",
    "托育场地均按示范性、普惠性计 Childcare sites count as demonstration and inclusive sites.",
    "示范托位补助为争取的中央预算内资金 The per-place childcare subsidy is central-budget money.",
    "建设补助不超过场地造价 Construction subsidies are capped at the site's cost.",
    "新建养老机构按公建民营计, 享受床位补助(九); 敬老院改造提升按实际投入30%补助(十二), 不另计床位补助 "
    "A new institution counts as publicly built, privately run and earns the bed subsidy (九); "
    "a care-home upgrade earns 30 % of its investment (十二) instead.",
    "农村幸福院计运营补助(十九), 附件1无其建设补助 A rural happiness home earns its operation "
    "subsidy (十九); attachment 1 has no construction subsidy for it.",
    "助餐点、医养结合、托育星级补助仅在候选场地注明时计入; 各条款适用情况见 clauses 表 Meal points, "
    "medical-care and star-rating subsidies count only where a candidate says so; the clauses "
    "table lists every clause of attachment 1, applied or not and why.",
)


def _sum_by_district(site_table: pd.DataFrame) -> pd.DataFrame:
    money = list(_SITE_MONEY)
    if site_table.empty:
        return pd.DataFrame(columns=["district", "n_sites", *money])
    grouped = site_table.groupby("district", sort=True)
    out = pd.concat([grouped[[c]].sum(min_count=int(c in COST_SPLIT)) for c in money],
                    axis=1).round(2)
    out.insert(0, "n_sites", grouped.size())
    return out.reset_index()
