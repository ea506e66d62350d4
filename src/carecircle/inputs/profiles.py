"""Plan profiles: a city plan's figures as one small data file.

A *profile* holds what a city's plan decides, as distinct from what the data says:
the demand forecast (growth from the census year to the target year), the district
targets, the floor-area standards, the unit costs, the currency and the subsidy
schedule.  A scenario names one (``profile = "xian-2023"``); its own ``[demand]``,
``[standards]``, ``[targets]`` and ``[plan]`` keys override the profile's figures.

Two profiles ship with carecircle (``carecircle/data/profiles/``):

``xian-2023``
    Xi'an's 一老一小 plan, 市政办发〔2023〕1号 (docs/plan.md): the 2020 -> 2025
    forecast, the 2025 targets, the 300/200 m² standards, attachment 1's subsidies, in
    yuan.  The default, so every scenario written before profiles existed runs as it did.
``neutral``
    No plan: no growth (populations as loaded), no subsidies, no per-district minimums;
    the one target is the tool's own premise, every community served by both kinds
    within the walk.  No floor-area standard (any facility counts), costs only from the
    data, no currency named.

A new profile is a TOML file beside the scenario (``profile = "my-plan.toml"``; the
format is in ``docs/profiles.md``).  Each figure may be written plainly or with its
source, ``{ value = 0.9, clause = "二 养老方面" }``; a target set to ``false`` is no target.

Decisions
---------
- The profile's ``area`` (west, south, east, north in WGS-84 degrees) is where its
  figures apply: :func:`profile_problems` warns when a scenario's districts lie outside
  it (Xi'an's growth, targets and subsidies applied to another city).
- The dataclass defaults of :class:`~carecircle.inputs.scenario.Targets`,
  :class:`~carecircle.inputs.scenario.Standards` and
  :class:`~carecircle.inputs.scenario.Demand` are the ``xian-2023`` figures (a test keeps
  the two equal), so library code that builds them directly gets what the CLI gets.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from carecircle.errors import Problem, ScenarioError
from carecircle.inputs.scenario import Demand, Plan, Rural, Standards, Targets, _Reader

#: The profile a scenario without ``profile`` uses.
DEFAULT_PROFILE = "xian-2023"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_TOP_KEYS = {"name", "title", "place", "area", "target_year", "currency", "subsidies", "demand",
             "standards", "targets", "plan", "rural"}
_PLAN_KEYS = {"unit_costs", "operation_years", "fitout_costs", "shared_fitout_saving"}
_GROUPS = ("population", "pop_60plus", "pop_0_3")

#: ISO code -> (Chinese name, English name) of currencies labels know.
CURRENCIES: dict[str, tuple[str, str]] = {
    "CNY": ("元", "yuan"),
    "EUR": ("欧元", "EUR"),
    "USD": ("美元", "USD"),
    "GBP": ("英镑", "GBP"),
    "JPY": ("日元", "JPY"),
    "HKD": ("港元", "HKD"),
    "TWD": ("新台币", "TWD"),
    "SEK": ("瑞典克朗", "SEK"),
    "NOK": ("挪威克朗", "NOK"),
    "DKK": ("丹麦克朗", "DKK"),
    "CHF": ("瑞士法郎", "CHF"),
}
_NO_CURRENCY = ("货币单位", "money units")


@dataclass(frozen=True)
class Currency:
    """The currency money is counted in, and how labels and amounts show it.

    Attributes
    ----------
    code
        ISO 4217 code (``CNY``, ``EUR`` ...), or ``""`` when the profile names none.
    """

    code: str = "CNY"

    @property
    def names(self) -> tuple[str, str]:
        """(Chinese, English) name: ``("元", "yuan")``, ``("欧元", "EUR")`` ..."""
        if not self.code:
            return _NO_CURRENCY
        return CURRENCIES.get(self.code, (self.code, self.code))

    def relabel(self, text: str) -> str:
        """A label written for yuan (``费用(元) Cost (yuan)``) in this currency.

        Parameters
        ----------
        text
            A bilingual label; only 元 after an opening bracket, a digit, 万 or 百万, and
            the word ``yuan``, are currency and change.

        Returns
        -------
        str
            The label itself for CNY.
        """
        if self.code == "CNY":
            return text
        zh, en = self.names
        text = re.sub(r"(?<=[(（\d万百千亿 ])元", zh, text)
        return re.sub(r"\byuan\b", en, text)

    def amount(self, value: float) -> str:
        """An amount for people: ``1,500,000 元 (150.0 万元)`` or ``1,500,000 EUR``.

        Parameters
        ----------
        value
            The amount.
        """
        if self.code == "CNY":
            return f"{value:,.0f} 元 ({value / 1e4:,.1f} 万元)"
        return f"{value:,.0f} {self.names[1]}"


@dataclass(frozen=True)
class Profile:
    """A plan's figures (see the module docstring).

    Attributes
    ----------
    name
        ``xian-2023``, ``neutral`` or the name a profile file gives itself.
    title
        What the plan is (bilingual), for validation and the briefing.
    source
        The profile file (a bundled one as ``carecircle/data/profiles/<name>.toml``).
    place
        Where the plan applies, in words.
    area
        ``(west, south, east, north)`` in WGS-84 degrees, or ``None`` (anywhere).
    target_year
        The year its targets are for (``None``: no year).
    currency
        What money is counted in.
    subsidies
        The subsidy schedule CSV (:func:`carecircle.siting.costing.load_subsidy_schedule`),
        or ``None``: no subsidies.
    demand, standards, targets, rural
        The figures a scenario starts from (``rural``: the travel limit villages are
        judged at).
    unit_costs
        Cost per m² by acquisition (``new``, ``renovate``, ``lease``) where a candidate
        gives no cost; may be empty.
    fitout_costs
        Fit-out per m² by kind and acquisition; a kind or acquisition the profile leaves
        out keeps :data:`~carecircle.inputs.scenario.FITOUT_COSTS` (the neutral profile
        sets them all to 0).
    shared_fitout_saving
        Share of two kinds' fit-out saved in a shared building.
    operation_years
        Years of operation subsidy in the cost tables.
    clauses
        ``section.key`` -> where the figure comes from (clause, or "assumption").
    """

    name: str
    title: str = ""
    source: str = ""
    place: str = ""
    area: tuple[float, float, float, float] | None = None
    target_year: int | None = None
    currency: Currency = field(default_factory=Currency)
    subsidies: Path | None = None
    demand: Demand = field(default_factory=Demand)
    standards: Standards = field(default_factory=Standards)
    targets: Targets = field(default_factory=Targets)
    rural: Rural = field(default_factory=Rural)
    unit_costs: dict[str, float] = field(default_factory=lambda: dict(Plan().unit_costs))
    fitout_costs: dict[str, dict[str, float]] = field(default_factory=lambda: dict(Plan().fitout_costs))
    shared_fitout_saving: float = 0.0
    operation_years: int = 1
    clauses: dict[str, str] = field(default_factory=dict)
    bundled: bool = True

    def describe(self) -> str:
        """One line for ``carecircle validate``: name, title, currency, subsidies."""
        subsidy = "no subsidies 无补助" if self.subsidies is None else f"subsidies 补助 {self.subsidies.name}"
        money = self.currency.code or "no currency named 未指定货币"
        return f"{self.name} — {self.title} ({money}; {subsidy})"

    def targets_heading(self) -> str:
        """``目标 Targets (xian-2023, 2025)``: which plan's targets, for which year."""
        year = f", {self.target_year}" if self.target_year is not None else ""
        return f"目标 Targets ({self.name}{year})"

    def files(self) -> list[Path]:
        """The profile's own files when not bundled (outputs never replace them)."""
        if self.bundled:
            return []
        out = [Path(self.source)]
        return out + ([self.subsidies] if self.subsidies is not None else [])


# ---------------------------------------------------------------- reading


def bundled_profiles() -> list[str]:
    """Names of the profiles that ship with carecircle."""
    folder = resources.files("carecircle").joinpath("data", "profiles")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def _strip(value: Any, key: str, clauses: dict[str, str]) -> Any:
    """A figure's value; its ``clause`` (or ``note``) kept in ``clauses``."""
    if isinstance(value, dict) and "value" in value:
        extra = set(value) - {"value", "clause", "quote", "note"}
        if extra:
            raise ScenarioError(f"{key}: unknown key(s) {sorted(extra)}; expected value, clause, "
                                "quote, note")
        text = value.get("clause") or value.get("note")
        if text:
            clauses[key] = str(text)
        return value["value"]
    return value


def _section(data: dict, section: str, clauses: dict[str, str]) -> dict:
    raw = data.get(section, {})
    if not isinstance(raw, dict):
        raise ScenarioError(f"[{section}] must be a table")
    return {k: _strip(v, f"{section}.{k}", clauses) for k, v in raw.items()}


def _demand(r: _Reader, raw: dict, base_dir: Path, clauses: dict[str, str]) -> Demand:
    """The profile's ``[demand]``: years, and the factors or the city totals they come from.

    Without years the populations are taken as loaded (no forecast).
    """
    for key in ("census", "scale_to_census"):
        # the census is data, not a plan's figure: it belongs in the scenario
        if key in raw:
            raise r.error(f"demand.{key}", raw[key], "no census in a profile; set it in the "
                          "scenario's [demand] (docs/scenario.md)")
    totals = raw.pop("totals", None)
    if totals is not None:
        if not isinstance(totals, dict) or set(totals) != set(_GROUPS):
            raise r.error("demand.totals", totals, f"a table of {list(_GROUPS)}, each "
                          "{ base = ..., forecast = ... }")
        factors = {}
        for g in _GROUPS:
            t = totals[g]
            if not isinstance(t, dict) or set(t) - {"base", "forecast", "clause", "quote", "note"}:
                raise r.error(f"demand.totals.{g}", t, "{ base = ..., forecast = ..., clause = ... }")
            b = r.number(t.get("base"), f"demand.totals.{g}.base")
            f = r.number(t.get("forecast"), f"demand.totals.{g}.forecast")
            if b <= 0:
                raise r.error(f"demand.totals.{g}.base", b, "a total > 0")
            if t.get("clause"):
                clauses[f"demand.totals.{g}"] = str(t["clause"])
            factors[g] = f / b
        raw["factors"] = factors
    start = Demand(year=None, base_year=None, factors_year=None, factors=dict.fromkeys(_GROUPS, 1.0))
    return r.demand(raw, base_dir, start)


def _unit_costs(r: _Reader, raw: dict) -> dict[str, float]:
    costs = raw.get("unit_costs", {})
    if not isinstance(costs, dict):
        raise r.error("plan.unit_costs", costs, "a table such as { new = 7500 }")
    allowed = set(Plan().unit_costs)
    out = {}
    for k, v in costs.items():
        if k not in allowed:
            raise r.error("plan.unit_costs", costs, f"keys among {sorted(allowed)}")
        out[k] = float(r.number(v, f"plan.unit_costs.{k}"))
    return out


def _currency(r: _Reader, value: Any) -> Currency:
    if not isinstance(value, str) or not re.fullmatch(r"([A-Z]{3})?", value.strip().upper()):
        raise r.error("currency", value, "an ISO 4217 code such as \"CNY\" or \"EUR\" (or \"\")")
    return Currency(value.strip().upper())


def _subsidies(r: _Reader, value: Any, base: Path) -> Path | None:
    if value is None or value is False or (isinstance(value, str) and value.lower() == "none"):
        return None
    if not isinstance(value, str) or not value.strip():
        raise r.error("subsidies", value, "a CSV path or \"none\"")
    path = Path(value)
    path = path if path.is_absolute() else (base / path).resolve()
    if not path.is_file():
        raise r.error("subsidies", value, "an existing CSV file (docs/profiles.md)",
                      "找不到补助表 file not found")
    return path


def _area(r: _Reader, value: Any) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    ok = isinstance(value, list) and len(value) == 4 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    if not ok or not (-180 <= value[0] < value[2] <= 180 and -90 <= value[1] < value[3] <= 90):
        raise r.error("area", value, "[west, south, east, north] in degrees, west < east, "
                      "south < north")
    return (float(value[0]), float(value[1]), float(value[2]), float(value[3]))


def profile_from_dict(data: dict, base_dir: Path, *, where: str, bundled: bool = False) -> Profile:
    """Validate a profile given as a dict (the parsed TOML).

    Parameters
    ----------
    data
        The profile file's content.
    base_dir
        Folder its ``subsidies`` path is relative to.
    where
        The file, for messages.
    bundled
        It ships with carecircle.

    Returns
    -------
    Profile

    Raises
    ------
    ScenarioError
        Unknown keys, wrong types, values out of their plausible range.
    """
    r = _Reader(where)
    r.keys("profile", data, _TOP_KEYS)
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise r.error("name", name, "a short name of lower-case letters, digits, - and _")
    clauses: dict[str, str] = {}
    try:
        sections = {s: _section(data, s, clauses)
                    for s in ("demand", "standards", "targets", "plan", "rural")}
    except ScenarioError as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    r.keys("plan", sections["plan"], _PLAN_KEYS)
    year = data.get("target_year")
    if year is not None and (isinstance(year, bool) or not isinstance(year, int)
                             or not 1950 <= year <= 2100):
        raise r.error("target_year", year, "a year such as 2025")
    # A profile sets every figure it means: what it leaves out is no target.
    targets = r.targets(sections["targets"], Targets(**dict.fromkeys(
        (f.name for f in dataclasses.fields(Targets)), None)))
    standards = r.standards(sections["standards"])
    fitout_costs = r.table(sections["plan"].get("fitout_costs", {}), Plan().fitout_costs,
                           "plan.fitout_costs")
    saving = r.number(sections["plan"].get("shared_fitout_saving", 0.0), "plan.shared_fitout_saving")
    if not 0 <= saving <= 1:
        raise r.error("plan.shared_fitout_saving", saving, "a share 0-1")
    operation_years = sections["plan"].get("operation_years", 1)
    return Profile(
        name=name,
        title=str(data.get("title", name)),
        source=where,
        place=str(data.get("place", "")),
        area=_area(r, data.get("area")),
        target_year=year,
        currency=_currency(r, data.get("currency", "")),
        subsidies=_subsidies(r, data.get("subsidies"), base_dir),
        demand=_demand(r, dict(sections["demand"]), base_dir, clauses),
        standards=standards,
        targets=targets,
        rural=r.rural(sections["rural"]),
        unit_costs=_unit_costs(r, sections["plan"]),
        fitout_costs=fitout_costs,
        shared_fitout_saving=float(saving),
        operation_years=int(r.number(operation_years, "plan.operation_years", integer=True)),
        clauses=clauses,
        bundled=bundled,
    )


def _read(path: Path, label: str) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{label}: not valid TOML 参数文件格式错误: {exc}") from None
    except OSError as exc:
        raise ScenarioError(f"{label}: cannot read the profile 无法读取: {exc}") from None


@functools.lru_cache(maxsize=16)
def _bundled(name: str) -> Profile:
    ref = resources.files("carecircle").joinpath("data", "profiles", f"{name}.toml")
    path = Path(str(ref))
    label = f"carecircle/data/profiles/{name}.toml"
    return profile_from_dict(_read(path, label), path.parent, where=label, bundled=True)


def load_profile(name_or_path: str | Path, base_dir: Path | None = None) -> Profile:
    """A bundled profile by name, or a profile file.

    Parameters
    ----------
    name_or_path
        ``"xian-2023"``, ``"neutral"``, or a ``.toml`` path (relative to ``base_dir``).
    base_dir
        The scenario's folder.

    Returns
    -------
    Profile

    Raises
    ------
    ScenarioError
        An unknown name, a missing file, or a file with wrong keys or values.
    """
    text = str(name_or_path)
    if not text.lower().endswith(".toml"):
        known = bundled_profiles()
        if text not in known:
            raise ScenarioError(f"profile {text!r} is not known 未知的规划参数; expected one of "
                                f"{known} or a .toml file (docs/profiles.md)")
        return _bundled(text)
    path = Path(text)
    if not path.is_absolute() and base_dir is not None:
        path = (base_dir / path).resolve()
    if not path.is_file():
        raise ScenarioError(f"{path}: profile file not found 找不到规划参数文件")
    return profile_from_dict(_read(path, str(path)), path.parent, where=str(path))


def default_profile() -> Profile:
    """The profile of a scenario that names none (:data:`DEFAULT_PROFILE`)."""
    return _bundled(DEFAULT_PROFILE)


# ---------------------------------------------------------------- checks


def profile_problems(profile: Profile, bounds: tuple[float, float, float, float] | None,
                     where: str) -> list[Problem]:
    """A warning when the data lies outside the place the profile's figures are for.

    Parameters
    ----------
    profile
        The scenario's profile.
    bounds
        The districts' extent (west, south, east, north) in WGS-84, or ``None``.
    where
        The scenario file, for the message.

    Returns
    -------
    list of Problem
        Empty, or one warning naming the profile, its place and where the data is.
    """
    if profile.area is None or bounds is None or not all(map(math.isfinite, bounds)):
        return []
    west, south, east, north = profile.area
    lon, lat = (bounds[0] + bounds[2]) / 2.0, (bounds[1] + bounds[3]) / 2.0
    if west <= lon <= east and south <= lat <= north:
        return []
    return [Problem(
        "warning", where,
        f"the profile {profile.name!r} holds the figures of {profile.place or 'another place'} "
        f"(growth forecast, targets, subsidies in {profile.currency.code or 'its currency'}), "
        f"but the data is elsewhere 规划参数与数据所在地不符",
        column="profile",
        found=f"districts centred at {lon:.3f}E, {lat:.3f}N; {profile.name} covers "
              f"{west:g}..{east:g}E, {south:g}..{north:g}N",
        expected='profile = "neutral" or a profile of your own plan (docs/profiles.md)')]
