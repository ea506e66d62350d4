"""Which rules of the plan's attachment 1 a site earns, and the clause-by-clause account.

:func:`carecircle.siting.costing.cost_plan` reads each site (:class:`Site`), asks
:func:`site_items` for the subsidy rules it earns (:class:`Item`, one per rule, each
carrying the rule key whose schedule row cites the clause), and
:func:`clause_table` for every clause (一)-(三十五) of attachment 1: applied (to how many
sites, how much), not triggered (its rule exists but no site carries what it needs), or
not applicable (why).  The clauses and what each needs are data
(``carecircle/data/subsidy_clauses.csv``), like the amounts (``subsidies.csv``).

Decisions (beyond those of :mod:`carecircle.siting.costing`):

* **Rural happiness homes** (``rural_home``) earn their operation subsidy (十九) at the
  chosen level of its 15 k-25 k range; attachment 1 has no construction subsidy for them
  (a 幸福院 is not a 社区养老服务站 of (十一)).
* **Care-home upgrade** (十二): a site opened as an institution whose candidate says
  ``care_home_upgrade`` earns 30 % of its cost (the "actual investment").  That is
  public money for a public 敬老院, so the bed subsidy of (九), which is for institutions
  run with non-fiscal money (「利用非财政资金举办」), is not added on the same site.
* **Other new institutions** are taken as publicly built and privately run (公建民营),
  the operator fitting them out: they earn (九), an upper estimate of what the city pays.
* **Meal points** (十三): a site hosting elderly care whose candidate says ``meal_point``
  earns 100 k once; its dining subsidy (二十) needs ``meal_diner_days`` (eligible
  person-days a year) and is then 2 yuan each, a year.
* **医养结合** (二十四, 二十五): an institution whose candidate names its ``medical``
  service (``clinic``: 医务室/诊疗室/护理站, ``rehab_centre``, ``hospital``) earns that
  once; ``medical_agreements`` (agreements with medical institutions) earn 50 k each a
  year (paid to the medical institution, counted with the site it serves).
* **Star-rated childcare** (二十一): a childcare site whose candidate gives
  ``childcare_star`` (3-5) earns 300/500/700 yuan per child enrolled, once.
* A rule absent from the schedule (a profile's own schedule may leave one out) is not
  applied, and the clause table says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, NamedTuple

import pandas as pd

UNSPECIFIED_DISTRICT = "未注明 unspecified"
#: Rules cost_plan applies when the schedule has them (the others are required).
OPTIONAL_RULES = (
    "rural_happiness_home_operation", "meal_point", "meal_service", "care_home_upgrade",
    "childcare_star_5", "childcare_star_4", "childcare_star_3", "medical_clinic",
    "medical_rehab_centre", "medical_hospital", "medical_agreement",
)
ELDERLY_SITE_KINDS = ("elderly", "street_centre", "institution", "rural_home")
CLAUSE_COLUMNS = ("clause", "title", "status", "rules", "n_sites", "amount_yuan",
                  "annual_yuan", "applies_to")


@dataclass(frozen=True)
class Terms:
    """How :func:`~carecircle.siting.costing.cost_plan` was asked to cost (checked)."""

    schedule: pd.DataFrame
    unit_costs: dict[str, float]
    operation_years: int
    operation_level: str
    childcare_demonstration: bool
    childcare_inclusive: bool
    childcare_m2_per_place: float | None


@dataclass
class Site:
    """One site as read (and, once valid, completed with defaults)."""

    sid: str
    name: Any
    kinds: list[str]
    acquisition: str | None
    area: float
    cost: float
    cost_source: str
    beds: float
    places: float
    children: float = math.nan
    district: Any = UNSPECIFIED_DISTRICT
    notes: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)  # meal_point, medical ...

    def flag(self, name: str) -> bool:
        """A yes/no attribute of the site's candidate (missing: no)."""
        v = self.attrs.get(name)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return False
        if isinstance(v, str):
            return v.strip().lower() in ("true", "yes", "1", "是")
        return bool(v)

    def number(self, name: str) -> float:
        """A numeric attribute (missing: 0)."""
        try:
            v = float(self.attrs.get(name))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return 0.0
        return 0.0 if math.isnan(v) else v


class Item(NamedTuple):
    """A subsidy rule applied to a site."""

    rule: str
    type: str  # construction or operation
    quantity: float
    rate: float
    note: str


def operation_rate(rule: pd.Series, level: str) -> float:
    """A rule's amount, or the chosen point (low/mid/high) of its range.

    Parameters
    ----------
    rule
        A schedule row.
    level
        ``low``, ``mid`` or ``high``.
    """
    if not math.isnan(rule["amount_yuan"]):
        return float(rule["amount_yuan"])
    lo, hi = float(rule["amount_min_yuan"]), float(rule["amount_max_yuan"])
    return {"low": lo, "high": hi, "mid": (lo + hi) / 2.0}[level]


def site_items(site: Site, terms: Terms) -> list[Item]:
    """The rules a site earns (see the module's and costing's decisions).

    Parameters
    ----------
    site
        The site, completed.
    terms
        The costing's terms (schedule, operation level, childcare switches).

    Returns
    -------
    list of Item
    """
    return [*_elderly_construction(site, terms), *_institution(site, terms),
            *_childcare(site, terms), *_operation(site, terms)]


def _has(terms: Terms, rule: str) -> bool:
    return rule in terms.schedule.index


def _amount(terms: Terms, rule: str) -> float:
    return float(terms.schedule.loc[rule, "amount_yuan"])


def _elderly_construction(site: Site, terms: Terms) -> list[Item]:
    """The centre's or the station's construction subsidy, and a meal point's."""
    kinds, items = site.kinds, []
    stock = site.acquisition in ("renovate", "lease")
    if "street_centre" in kinds:
        items.append(Item("street_centre", "construction", 1.0, _amount(terms, "street_centre"), ""))
    elif "elderly" in kinds:
        rule = "community_station_renovated" if stock else "community_station_new"
        note = ("lease counted as renovation of a stock building 租赁按改造计"
                if site.acquisition == "lease" else "")
        items.append(Item(rule, "construction", 1.0, _amount(terms, rule), note))
    if (set(kinds) & set(ELDERLY_SITE_KINDS) and site.flag("meal_point")
            and _has(terms, "meal_point")):
        items.append(Item("meal_point", "construction", 1.0, _amount(terms, "meal_point"),
                          "new meal point 新建助餐点"))
    return items


def _institution(site: Site, terms: Terms) -> list[Item]:
    """Beds (九) or a care-home upgrade (十二), and medical services (二十四)."""
    if "institution" not in site.kinds:
        return []
    items = []
    if site.flag("care_home_upgrade") and _has(terms, "care_home_upgrade"):
        items.append(Item("care_home_upgrade", "construction", site.cost,
                          _amount(terms, "care_home_upgrade"),
                          "30 % of the investment; no bed subsidy (九) on public money "
                          "改造提升按实际投入30%, 不另计床位补助"))
    else:
        stock = site.acquisition in ("renovate", "lease")
        rule = "institution_bed_leased_or_renovated" if stock else "institution_bed_new"
        note = "" if site.beds > 0 else "institution without beds 未给床位数"
        items.append(Item(rule, "construction", site.beds, _amount(terms, rule), note))
    medical = site.attrs.get("medical")
    rule = f"medical_{medical}" if isinstance(medical, str) and medical else ""
    if rule and _has(terms, rule):
        items.append(Item(rule, "construction", 1.0, _amount(terms, rule), ""))
    return items


def _childcare(site: Site, terms: Terms) -> list[Item]:
    """Per new place (十五) and the star-rating reward (二十一)."""
    if "childcare" not in site.kinds:
        return []
    items = []
    if terms.childcare_demonstration:
        items.append(Item("childcare_demo_place_new", "construction", site.places,
                          _amount(terms, "childcare_demo_place_new"), ""))
    star = site.number("childcare_star")
    rule = f"childcare_star_{int(star)}" if star in (3.0, 4.0, 5.0) else ""
    if rule and _has(terms, rule):
        items.append(Item(rule, "construction", site.children, _amount(terms, rule),
                          "one-off reward per child enrolled 一次性奖励"))
    return items


def _operation(site: Site, terms: Terms) -> list[Item]:
    """The yearly subsidies: stations, rural homes, inclusive childcare, meals, agreements."""
    sched, level, kinds, items = terms.schedule, terms.operation_level, site.kinds, []
    for kind, rule in (("elderly", "community_station_operation"),
                       ("rural_home", "rural_happiness_home_operation")):
        if kind in kinds and _has(terms, rule):
            items.append(Item(rule, "operation", 1.0, operation_rate(sched.loc[rule], level),
                              f"level {level}"))
    if "childcare" in kinds and terms.childcare_inclusive:
        rule = "inclusive_childcare_operation"
        items.append(Item(rule, "operation", site.children,
                          operation_rate(sched.loc[rule], level), ""))
    days = site.number("meal_diner_days")
    if days > 0 and site.flag("meal_point") and _has(terms, "meal_service"):
        items.append(Item("meal_service", "operation", days, _amount(terms, "meal_service"),
                          "eligible person-days a year 符合条件老年人就餐人天/年"))
    n = site.number("medical_agreements")
    if "institution" in kinds and n > 0 and _has(terms, "medical_agreement"):
        items.append(Item("medical_agreement", "operation", n, _amount(terms, "medical_agreement"),
                          "paid to the medical institution 补助医疗机构"))
    return items


def load_clauses() -> pd.DataFrame:
    """Every clause of attachment 1: title, the rules applying it, what it needs or why not.

    Returns
    -------
    pandas.DataFrame
        ``clause``, ``title_zh``, ``title_en``, ``rules`` (``;``-separated rule keys,
        empty when no rule applies it), ``applies_to``.
    """
    ref = resources.files("carecircle").joinpath("data", "subsidy_clauses.csv")
    with resources.as_file(ref) as p:
        return pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def clause_table(items: pd.DataFrame, schedule: pd.DataFrame) -> pd.DataFrame:
    """Clause by clause: applied (sites and amounts), not triggered, or not applicable.

    Parameters
    ----------
    items
        The item table of :func:`~carecircle.siting.costing.cost_plan`.
    schedule
        The subsidy schedule used.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CLAUSE_COLUMNS`: ``status`` is ``applied 已计入``,
        ``not triggered 无场地适用`` (the rule exists but no site carries what it needs),
        ``not in the schedule 清单未列`` or ``not applicable 不适用``; ``applies_to``
        says what a site needs, or why the clause never applies.
    """
    rows = []
    paid = items[items["amount_yuan"] > 0] if len(items) else items
    for c in load_clauses().itertuples(index=False):
        rules = [r for r in str(c.rules).split(";") if r]
        known = [r for r in rules if r in schedule.index]
        mine = paid[paid["rule"].isin(known)] if len(paid) else paid
        if not rules:
            status = "not applicable 不适用"
        elif not known:
            status = "not in the schedule 清单未列"
        elif len(mine):
            status = "applied 已计入"
        else:
            status = "not triggered 无场地适用"
        ops = mine[mine["type"] == "operation"] if len(mine) else mine
        rows.append({
            "clause": c.clause, "title": f"{c.title_zh} {c.title_en}", "status": status,
            "rules": ";".join(rules), "n_sites": int(mine["id"].nunique()) if len(mine) else 0,
            "amount_yuan": round(float(mine["amount_yuan"].sum()), 2) if len(mine) else 0.0,
            "annual_yuan": round(float(ops["annual_yuan"].sum()), 2) if len(ops) else 0.0,
            "applies_to": c.applies_to,
        })
    return pd.DataFrame(rows, columns=list(CLAUSE_COLUMNS))
