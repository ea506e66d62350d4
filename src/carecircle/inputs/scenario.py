"""The scenario: every input and parameter of a run, read from TOML and validated.

A scenario starts from a plan *profile* (:mod:`carecircle.inputs.profiles`; default
``xian-2023``, the figures of the Xi'an plan 市政办发〔2023〕1号, see docs/plan.md) and
overrides what it sets.  Unknown keys are errors: a typo in a target name must never be
silently ignored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyproj

from carecircle.errors import Problem, ScenarioError
from carecircle.inputs.ranges import scenario_range

if TYPE_CHECKING:
    from carecircle.inputs.profiles import Currency, Profile

LAYERS = ("network", "districts", "streets", "communities", "facilities", "candidates",
          "population_grid", "major_projects")
REQUIRED_LAYERS = ("network", "districts", "communities")
KINDS = ("elderly", "childcare")


@dataclass(frozen=True)
class LayerSource:
    """Where one input layer comes from and how to read it.

    Parameters
    ----------
    path
        Absolute path of the file (resolved against the scenario file).
    coords
        Coordinate system of lon/lat values: ``wgs84``, ``gcj02`` or ``bd09``.
    crs
        CRS of the file when it declares none (e.g. a CSV); ``None`` means the file's own.
    lon, lat
        Column names of longitude and latitude in a CSV; ``None`` means auto-detect.
    layer
        Layer name inside a multi-layer file (GeoPackage).
    assumed
        If set, the layer is not observed data: this text says how it was made, and
        every output names it as assumed.
    filter
        Optional filter applied after reading (e.g. select POI types), in carecircle's
        own filter language (:mod:`carecircle.inputs.filters`): never evaluated as code.
    columns
        Explicit mapping of file column -> canonical column.
    defaults
        Values for columns the file lacks (e.g. an assumed population per
        compound); ``district = "auto"`` takes the district from the district
        polygons.  A layer with defaults should also say ``assumed``.
    """

    path: Path
    coords: str = "wgs84"
    crs: str | None = None
    lon: str | None = None
    lat: str | None = None
    layer: str | None = None
    assumed: str | None = None
    filter: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Walking:
    minutes: float = 15.0
    speed_mps: dict[str, float] = field(default_factory=lambda: {"elderly": 1.0, "childcare": 1.2})
    max_snap_m: float = 300.0
    isochrone_buffer_m: float = 25.0

    def limit_m(self, kind: str) -> float:
        """Walking limit in metres for the people a facility kind serves."""
        return self.minutes * 60.0 * self.speed_mps[kind]


@dataclass(frozen=True)
class Standards:
    """Floor-area standards and the sizing rules of new facilities.

    ``elderly_min_area_m2``, ``childcare_min_area_m2`` and
    ``compound_m2_per_100_households`` are the plan's (task 5); the others are planning
    assumptions, documented in docs/scenario.md and docs/plan.md:
    ``institution_m2_per_bed`` (beds of a new elderly institution = its floor area / this;
    40 m² is about the median of the plan's own attachment-2 projects),
    ``institution_nursing_share_new`` (share of a new institution's beds fitted out as
    nursing-type beds), ``demonstration_min_beds`` (a new public institution with at least
    this many beds may be the district's demonstration home), ``rural_home_min_area_m2``
    (the area standard of a rural happiness home 农村幸福院, which serves villages only).
    ``shared_building_cost_factor`` is no longer used (the cost of a shared building is
    the building once plus each kind's fit-out, :mod:`carecircle.siting.layers`); a
    scenario that sets it gets a warning.
    """

    elderly_min_area_m2: float = 300.0
    childcare_min_area_m2: float = 200.0
    shared_min_area_m2: float = 500.0
    childcare_m2_per_place: float = 8.0
    compound_m2_per_100_households: float = 20.0
    shared_building_cost_factor: float = 0.8
    #: Floor area per user of a community elderly-care facility: its capacity is floor
    #: area / this (docs/scenario.md, "Capacity").
    elderly_m2_per_user: float = 6.0
    #: A kindergarten with a 托班 (``kindergarten_tuoban``) also counts as childcare:
    #: its places, its capacity and its walk (docs/scenario.md).
    kindergarten_tuoban_as_childcare: bool = True
    institution_m2_per_bed: float = 40.0
    institution_nursing_share_new: float = 0.8
    demonstration_min_beds: int = 100
    rural_home_min_area_m2: float = 200.0

    def min_area(self, kind: str) -> float:
        return {"elderly": self.elderly_min_area_m2, "childcare": self.childcare_min_area_m2,
                "rural_home": self.rural_home_min_area_m2}[kind]


#: Travel modes a rural travel limit may be stated in (a label: the distance is measured
#: on the scenario's network).
RURAL_MODES = ("walk", "bicycle", "ebike", "car", "bus")


@dataclass(frozen=True)
class Rural:
    """How villages (村) are served: a rural travel limit instead of the urban walk.

    The 15-minute walk (task 11) is an urban standard.  A rural community is served
    for elderly care by a qualifying facility inside the village or within
    :meth:`limit` metres on the network: ``limit_m``, or ``minutes`` at ``speed_mps``
    when ``minutes`` > 0.  ``mode`` names the travel mode the limit assumes (shown with
    the results).  The plan sets no rural distance; 2 km is the project's assumption
    (docs/plan.md).  Childcare in villages keeps the walking limit.
    """

    mode: str = "walk"
    limit_m: float = 2000.0
    minutes: float = 0.0
    speed_mps: float = 1.0

    def limit(self) -> float:
        """The rural travel limit in metres."""
        return self.minutes * 60.0 * self.speed_mps if self.minutes > 0 else self.limit_m

    def text(self) -> str:
        """``"2,000 m (walk)"``: the limit for notes and tables."""
        how = f"{self.minutes:g} min at {self.speed_mps:g} m/s" if self.minutes > 0 else ""
        return f"{self.limit():,.0f} m ({self.mode}{', ' + how if how else ''})"


@dataclass(frozen=True)
class Targets:
    """The district targets; ``None`` is no target (a profile or ``key = false`` says so)."""

    urban_elderly_coverage: float | None = 0.90
    rural_elderly_coverage: float | None = 0.80
    street_centre_coverage: float | None = 0.70
    facility_compliance: float | None = 1.00
    childcare_places_per_1000: float | None = 4.8
    public_beds_share_of_60plus: float | None = 0.01
    public_childcare_per_district: int | None = 1
    elderly_area_per_resident_m2: tuple[float, float] | None = (0.1, 0.3)
    #: Share of streets/towns with a kindergarten running a 托班 (task 5).
    kindergarten_tuoban_coverage: float | None = 1.00
    nursing_bed_share: float | None = 0.60
    demonstration_homes_per_district: int | None = 1


# The plan's own forecast (section 一(二)): 2020 census -> 2025.
PLAN_FACTORS_2025 = {
    "population": 15.0 / 12.9529,
    "pop_60plus": 3.0 / 2.0753,
    "pop_0_3": 450.0 / 412.2,
}


@dataclass(frozen=True)
class Demand:
    """Which year's demand the run plans for, and how loaded (2020) numbers are projected.

    ``year == base_year`` uses the populations as loaded; any other year scales them.
    The defaults are the ``xian-2023`` profile's: the plan's city-wide growth 2020 -> 2025
    (residents 12.9529 M -> 15 M, 60+ 2.0753 M -> 3 M, 0-3 412.2 k -> 450 k), compounded
    per year for years other than 2025.  ``district_factors`` (district code -> group ->
    factor) override them per district; a ``projection_table`` CSV (district, group,
    year, value) gives projected district totals instead.  ``year = None`` (a profile
    without a forecast, such as ``neutral``): the populations as loaded, no year stated.
    """

    year: int | None = 2025
    base_year: int | None = 2020
    factors: dict[str, float] = field(default_factory=lambda: dict(PLAN_FACTORS_2025))
    factors_year: int | None = 2025
    district_factors: dict[str, dict[str, float]] = field(default_factory=dict)
    projection_table: str | None = None
    #: Share of residents aged 60+ who use community elderly services (the "9073"
    #: pattern's 7 %); demand per community = 60+ x this (docs/scenario.md).
    elderly_uptake: float = 0.07
    #: Share of children aged 0-3 in childcare: the plan's 4.8 places per 1,000 residents
    #: at its 2025 forecast (72,000 places for 450,000 children = 16 %).
    childcare_enrolment: float = 0.16
    #: District census totals (CSV: district code, residents, households, 60+, 0-4), e.g.
    #: ``../shared/data/xian-census/districts-2020-census.csv``.
    census: str | None = None
    #: Scale the communities' populations so that each district sums to its census totals.
    scale_to_census: bool = False
    #: Children aged 0-3 as a share of those aged 0-4 (the census counts 0-4): 4/5 under
    #: an even spread over the ages.
    census_0_3_share_of_0_4: float = 0.8


#: Fit-out per m² of the floor area a kind uses, by kind and acquisition (yuan/m²): the
#: project's assumption (docs/scenario.md).  A candidate's ``cost_yuan`` (or unit cost x
#: floor area) is its cost fitted out as a community station, so its building part is that
#: less the elderly fit-out; childcare costs the same to fit out, an institution more
#: (nursing rooms, call system, medical room), a rural happiness home less.
FITOUT_COSTS: dict[str, dict[str, float]] = {
    "elderly": {"new": 1000.0, "renovate": 1200.0, "lease": 1200.0},
    "street_centre": {"new": 1000.0, "renovate": 1200.0, "lease": 1200.0},
    "childcare": {"new": 1000.0, "renovate": 1200.0, "lease": 1200.0},
    "institution": {"new": 2000.0, "renovate": 2400.0, "lease": 2400.0},
    "rural_home": {"new": 600.0, "renovate": 800.0, "lease": 800.0},
}


@dataclass(frozen=True)
class Plan:
    mode: str = "cover_all"
    budget_yuan: float = 0.0
    time_limit_s: float = 120.0
    mip_gap: float = 1e-4
    method: str = "auto"  # siting solve: "auto", "exact" (HiGHS alone) or "scale" (LP bound + heuristics)
    gap_target: float = 0.01  # scale path: stop once the plan is proved within this of the best
    exact_max_columns: int = 10_000  # auto: models above this many columns take the scale path
    required: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    district_targets: bool = True
    allow_uncoverable: bool = True
    operation_years: int = 1
    #: Capacitated siting: new sites are chosen so that demand fits (docs/scenario.md).
    capacity: bool = False
    weights: dict[str, str] = field(
        default_factory=lambda: {"elderly": "pop_60plus", "childcare": "pop_0_3"}
    )
    unit_costs: dict[str, float] = field(
        default_factory=lambda: {"new": 7500.0, "renovate": 2800.0, "lease": 2000.0}
    )
    fitout_costs: dict[str, dict[str, float]] = field(
        default_factory=lambda: {k: dict(v) for k, v in FITOUT_COSTS.items()}
    )
    shared_fitout_saving: float = 0.0



#: Base maps ``[map] basemap`` may name (see carecircle.outputs.basemap).
BASEMAPS = ("none", "osm", "tianditu", "amap")


@dataclass(frozen=True)
class MapOptions:
    """``[map]``: what the interactive map draws under the run's layers.

    ``basemap``: ``none`` (default: the run's own streets, offline), ``osm``,
    ``tianditu`` (needs ``tianditu_key``, or the ``TIANDITU_KEY`` environment variable)
    or ``amap`` (GCJ-02: the overlays are shifted for display).
    """

    basemap: str = "none"
    tianditu_key: str = ""


@dataclass(frozen=True)
class Scenario:
    """A validated scenario.

    Build one with :func:`load_scenario` (from TOML) or :func:`scenario_from_dict`.
    """

    name: str
    base_dir: Path
    inputs: dict[str, LayerSource]
    title: str = ""
    crs: str | None = None
    output_dir: Path | None = None
    demand: Demand = field(default_factory=Demand)
    include_major_projects: bool = False
    #: How far outside every district polygon (metres) a point may lie and still be
    #: assigned the nearest district, with a warning; farther is an error.
    district_tolerance_m: float = 500.0
    walking: Walking = field(default_factory=Walking)
    standards: Standards = field(default_factory=Standards)
    targets: Targets = field(default_factory=Targets)
    plan: Plan = field(default_factory=Plan)
    rural: Rural = field(default_factory=Rural)
    map: MapOptions = field(default_factory=MapOptions)
    source: Path | None = None
    #: Warnings found while reading the scenario (values near the edge of their range).
    warnings: tuple[Problem, ...] = ()
    #: The plan profile the figures start from, with the scenario's ``currency`` and
    #: ``subsidies`` applied (:mod:`carecircle.inputs.profiles`).
    profile: Profile = field(default_factory=lambda: _default_profile())

    @property
    def currency(self) -> Currency:
        """What money is counted in (the profile's, or the scenario's ``currency``)."""
        return self.profile.currency

    @property
    def out_dir(self) -> Path:
        """Folder the run writes to: ``output_dir`` or ``maps/<name>`` under the cwd."""
        return self.output_dir if self.output_dir is not None else Path("maps") / self.name

    def replace(self, **changes: Any) -> Scenario:
        """A copy with top-level fields (or ``walking``/``plan``... objects) replaced."""
        return dataclasses.replace(self, **changes)

    def protected_files(self) -> list[Path]:
        """The scenario file and every input file: no output may replace them."""
        files = [] if self.source is None else [self.source]
        for src in self.inputs.values():
            p = src.path
            files += sorted(p.parent.glob(p.stem + ".*")) if p.suffix.lower() == ".shp" else [p]
        if self.demand.projection_table:
            files.append(Path(self.demand.projection_table))
        if self.demand.census:
            files.append(Path(self.demand.census))
        return files + self.profile.files()

    def input_fingerprint(self) -> str:
        """sha256 over the bytes of every input file: a cache key for derived data."""
        h = hashlib.sha256()
        for name in sorted(self.inputs):
            src = self.inputs[name]
            h.update(name.encode())
            h.update(repr((src.coords, src.crs, src.lon, src.lat, src.layer, src.filter,
                           sorted(src.columns.items()), sorted(src.defaults.items()))).encode())
            p = src.path
            files = sorted(p.parent.glob(p.stem + ".*")) if p.suffix == ".shp" else [p]
            for f in files:
                if f.is_file():
                    h.update(f.read_bytes())
        return h.hexdigest()


# ---------------------------------------------------------------- reading the TOML

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# Control characters and bidirectional overrides: they disguise text in a terminal and
# break spreadsheets (the same set inputs.validate cleans from data).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
WEIGHT_COLUMNS = ("population", "pop_60plus", "pop_0_3", "households")


class _Reader:
    """Checks values of one scenario file; collects the warnings, raises the first error."""

    def __init__(self, where: str):
        self.where = where
        self.warnings: list[Problem] = []

    def error(self, key: str, value: Any, expected: str, why: str = "参数无效") -> ScenarioError:
        return ScenarioError(f"{self.where}: {key} = {value!r} {why}; expected {expected}")

    def keys(self, section: str, data: dict, allowed: set[str]) -> None:
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ScenarioError(
                f"{self.where}: unknown key(s) {unknown} in [{section}] 未知参数; "
                f"expected one of {sorted(allowed)}"
            )

    def build(self, cls: Any, section: str, data: Any, base: Any = None) -> Any:
        """``base`` (default ``cls()``) with the keys of ``data`` checked and set.

        The class defaults give each key's type; ``base`` (a profile's figures) the
        values not set.
        """
        if not isinstance(data, dict):
            raise ScenarioError(f"{self.where}: [{section}] = {data!r} 参数无效; expected a table")
        self.keys(section, data, {f.name for f in fields(cls)})
        sample = cls()
        base = sample if base is None else base
        kwargs = {f.name: self.coerce(data[f.name], getattr(sample, f.name), f"{section}.{f.name}",
                                      getattr(base, f.name))
                  for f in fields(cls) if f.name in data}
        return dataclasses.replace(base, **kwargs)

    def coerce(self, value: Any, default: Any, key: str, base: Any = None) -> Any:
        """``value`` checked and converted to the type of ``default`` (a table merged
        into ``base``, default ``default``)."""
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise self.error(key, value, "true or false")
            return value
        if isinstance(default, (int, float)):
            return self.number(value, key, integer=isinstance(default, int))
        if isinstance(default, dict):
            return self.table(value, default, key, base)
        if isinstance(default, tuple):
            return self.sequence(value, default, key)
        if isinstance(default, str):
            if not isinstance(value, str):
                raise self.error(key, value, "a string")
            return value
        return value

    def number(self, value: Any, key: str, *, integer: bool = False) -> float | int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, value, "a number")
        if not math.isfinite(value) or value < 0:
            raise self.error(key, value, "a finite number >= 0" + (", an integer" if integer else ""))
        if integer and value != int(value):
            raise self.error(key, value, "an integer")
        self.in_range(key, value)
        return int(value) if integer else float(value)

    def in_range(self, key: str, value: float | int) -> None:
        rng = scenario_range(re.sub(r"\[\d+\]$", "", key))
        if rng is None:
            return
        verdict = rng.check(float(value))
        if verdict == "error":
            raise self.error(key, value, f"{rng.text()} (plausible range, docs/safety.md)",
                             "超出合理范围 out of the plausible range")
        if verdict == "warning":
            self.warnings.append(Problem(
                "warning", self.where, "unusual value 数值异常, please check", column=key,
                found=f"{value:g}", expected=f"usually {rng.warn_lo:,g}-{rng.warn_hi:,g} {rng.unit}".rstrip()))

    def table(self, value: Any, default: dict, key: str, base: dict | None = None) -> dict:
        if not isinstance(value, dict):
            raise self.error(key, value, "a table, e.g. { elderly = 1.0, childcare = 1.2 }")
        merged = dict(default if base is None else base)
        sample = next(iter(default.values()), None)
        for k, v in value.items():
            if default and k not in default:
                raise self.error(key, value, f"keys among {sorted(default)}")
            if isinstance(sample, dict):
                # a table of tables (plan.fitout_costs): an entry merges into the same
                # entry of the base, not into the first entry's figures
                merged[k] = self.table(v, sample, f"{key}.{k}", merged.get(k, {}))
            else:
                merged[k] = self.coerce(v, sample, f"{key}.{k}") if sample is not None else v
        return merged

    def sequence(self, value: Any, default: tuple, key: str) -> tuple:
        if not isinstance(value, list):
            raise self.error(key, value, "a list")
        # elements are typed like the default's (numbers), or are ids (strings)
        sample = default[0] if default else ""
        if default and len(value) != len(default):
            raise self.error(key, value, f"a list of {len(default)} values")
        return tuple(self.coerce(v, sample, f"{key}[{i}]") for i, v in enumerate(value))

    def crs(self, value: Any, key: str, *, projected: bool = False) -> pyproj.CRS:
        example = "a CRS such as \"EPSG:4545\""
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.error(key, value, example)
        try:
            crs = pyproj.CRS.from_user_input(value)
        except pyproj.exceptions.CRSError:
            raise self.error(key, value, example, "坐标系无效") from None
        if projected:
            units = {a.unit_name.lower() for a in crs.axis_info[:2]}
            if not crs.is_projected or not units <= {"metre", "meter"}:
                raise self.error(
                    key, value, "a projected CRS in metres, e.g. \"EPSG:4545\" (Xi'an) or UTM 49N "
                    "\"EPSG:32649\"", f"must be projected, in metres 须为米制投影坐标系 (found "
                    f"{'geographic degrees' if crs.is_geographic else ', '.join(sorted(units))})")
        return crs

    def layer(self, name: str, value: Any, base: Path) -> LayerSource:
        if isinstance(value, str):
            value = {"path": value}
        if not isinstance(value, dict) or "path" not in value:
            raise ScenarioError(
                f"{self.where}: inputs.{name} must be a path or a table with 'path' 输入文件路径缺失"
            )
        self.keys(f"inputs.{name}", value, _LAYER_KEYS)
        for key in ("path", "coords", "crs", "lon", "lat", "layer", "assumed", "filter"):
            if key in value and (not isinstance(value[key], str) or _CONTROL.search(value[key])):
                raise self.error(f"inputs.{name}.{key}", value[key], "a string without control characters")
        text = value["path"]
        if _URL.match(text) or text.lower().startswith("/vsi") or "\x00" in text:
            raise self.error(f"inputs.{name}.path", text, "a local file path (no URL, no GDAL /vsi path)",
                             "不是本地文件 not a local file")
        columns = value.get("columns", {})
        if not isinstance(columns, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in columns.items()
        ):
            raise self.error(f"inputs.{name}.columns", columns,
                             "a table of file column = canonical column, each a string")
        defaults = value.get("defaults", {})
        if not isinstance(defaults, dict) or not all(
            isinstance(v, (str, int, float, bool)) for v in defaults.values()
        ):
            raise self.error(f"inputs.{name}.defaults", defaults,
                             "a table of column = a text or a number")
        for col, v in defaults.items():
            if isinstance(v, float) and not math.isfinite(v):
                raise self.error(f"inputs.{name}.defaults.{col}", v, "a finite number")
        if value.get("crs") is not None:
            self.crs(value["crs"], f"inputs.{name}.crs")
        coords = str(value.get("coords", "wgs84")).lower().replace("-", "")
        if coords not in ("wgs84", "gcj02", "bd09"):
            raise self.error(f"inputs.{name}.coords", value["coords"], "wgs84, gcj02 or bd09")
        path = Path(text)
        return LayerSource(
            path=path if path.is_absolute() else (base / path).resolve(),
            coords=coords,
            crs=value.get("crs"),
            lon=value.get("lon"),
            lat=value.get("lat"),
            layer=value.get("layer"),
            assumed=value.get("assumed"),
            filter=value.get("filter"),
            columns=dict(columns),
            defaults=dict(defaults),
        )

    def demand(self, raw: Any, base: Path, start: Demand | None = None) -> Demand:
        """``[demand]`` over ``start`` (a profile's; default :class:`Demand`)."""
        if not isinstance(raw, dict):
            raise ScenarioError(f"{self.where}: [demand] must be a table")
        self.keys("demand", raw, {f.name for f in fields(Demand)})
        d = Demand() if start is None else start
        year = raw.get("year", d.year)
        if year is not None and (isinstance(year, bool) or not isinstance(year, int)
                                 or not 2000 <= year <= 2060):
            raise self.error("demand.year", year, "a year such as 2020 or 2025 (2000-2060)")
        sample = Demand().factors
        factors = self.coerce(raw.get("factors", {}), sample, "demand.factors", d.factors)
        dfac = raw.get("district_factors", {})
        if not isinstance(dfac, dict):
            raise ScenarioError(f"{self.where}: demand.district_factors must be a table of tables")
        district_factors = dict(d.district_factors) | {
            str(k): self.coerce(v, sample, f"demand.district_factors.{k}", d.factors)
            for k, v in dfac.items()
        }
        years: dict[str, int | None] = {}
        for key in ("base_year", "factors_year"):
            # without a forecast (a profile such as neutral) the base year is the year
            value = raw.get(key, getattr(d, key))
            value = year if value is None else value
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 1950 <= value <= 2100):
                raise self.error(f"demand.{key}", value, "a year such as 2020 (1950-2100)")
            years[key] = value
        table = self.local_csv("demand.projection_table",
                               raw.get("projection_table", d.projection_table), base)
        return Demand(year=year, base_year=years["base_year"], factors=factors,
                      factors_year=years["factors_year"], district_factors=district_factors,
                      projection_table=table, **self.demand_extras(raw, base, d))

    def local_csv(self, key: str, value: Any, base: Path) -> str | None:
        """A local CSV path resolved against the scenario's folder (``None`` stays ``None``)."""
        if value is None:
            return None
        if not isinstance(value, str) or _URL.match(value) or _CONTROL.search(value):
            raise self.error(key, value, "a local CSV path string")
        p = Path(value)
        return str(p if p.is_absolute() else (base / p).resolve())

    def demand_extras(self, raw: dict, base: Path, d: Demand) -> dict[str, Any]:
        """``[demand]``'s uptake shares and census options over ``d``, checked.

        Parameters
        ----------
        raw
            The ``[demand]`` table.
        base
            The scenario's folder (the census path is relative to it).
        d
            The demand the table overrides (the profile's).
        """
        out: dict[str, Any] = {}
        for key in ("elderly_uptake", "childcare_enrolment", "census_0_3_share_of_0_4"):
            out[key] = getattr(d, key)
            if key in raw:
                out[key] = float(self.number(raw[key], f"demand.{key}"))
                if out[key] > 1:
                    raise self.error(f"demand.{key}", raw[key], "a share 0-1")
        out["census"] = self.local_csv("demand.census", raw.get("census", d.census), base)
        scale = raw.get("scale_to_census", d.scale_to_census)
        if not isinstance(scale, bool):
            raise self.error("demand.scale_to_census", scale, "true or false")
        if scale and out["census"] is None:
            raise self.error("demand.scale_to_census", scale,
                             "demand.census = \"<district census CSV>\" to scale to")
        out["scale_to_census"] = scale
        return out

    def plan(self, raw: Any, base: Plan | None = None) -> Plan:
        plan = self.build(Plan, "plan", raw, base)
        if plan.mode not in ("cover_all", "budget"):
            raise self.error("plan.mode", plan.mode, "'cover_all' or 'budget'")
        if plan.mode == "budget" and plan.budget_yuan <= 0:
            raise self.error("plan.budget_yuan", plan.budget_yuan, "plan.budget_yuan > 0 for plan.mode = 'budget'")
        if plan.method not in ("auto", "exact", "scale"):
            raise self.error("plan.method", plan.method, "'auto', 'exact' or 'scale'")
        if not 0 <= plan.gap_target < 1:
            raise self.error("plan.gap_target", plan.gap_target, "0 <= value < 1")
        if plan.exact_max_columns < 1:
            raise self.error("plan.exact_max_columns", plan.exact_max_columns, "a whole number >= 1")
        for kind, col in plan.weights.items():
            if col not in WEIGHT_COLUMNS:
                raise self.error(f"plan.weights.{kind}", col, f"one of {list(WEIGHT_COLUMNS)}")
        for key in ("required", "excluded"):
            ids = getattr(plan, key)
            if not all(isinstance(i, str) and i.strip() for i in ids):
                raise self.error(f"plan.{key}", list(ids), "a list of candidate ids (strings)")
        if not 0 <= plan.shared_fitout_saving <= 1:
            raise self.error("plan.shared_fitout_saving", plan.shared_fitout_saving, "a share 0-1")
        return plan

    def rural(self, raw: Any, base: Rural | None = None) -> Rural:
        """``[rural]`` over ``base`` (a profile's)."""
        rural = self.build(Rural, "rural", raw, base)
        if rural.mode not in RURAL_MODES:
            raise self.error("rural.mode", rural.mode, f"one of {list(RURAL_MODES)}")
        if rural.limit() <= 0:
            raise self.error("rural.limit_m", rural.limit_m, "a distance > 0 (or minutes > 0)")
        return rural

    def standards(self, raw: Any, base: Standards | None = None) -> Standards:
        """``[standards]`` over ``base`` (a profile's)."""
        standards = self.build(Standards, "standards", raw, base)
        if not 0 <= standards.institution_nursing_share_new <= 1:
            raise self.error("standards.institution_nursing_share_new",
                             standards.institution_nursing_share_new, "a share 0-1")
        if isinstance(raw, dict) and "shared_building_cost_factor" in raw:
            self.warnings.append(Problem(
                "warning", self.where, "no longer used 已停用: a shared building costs the "
                "building once plus each kind's fit-out, less plan.shared_fitout_saving",
                column="standards.shared_building_cost_factor",
                found=f"{raw['shared_building_cost_factor']!r}",
                expected="plan.fitout_costs and plan.shared_fitout_saving (docs/scenario.md)"))
        return standards

    def map(self, raw: Any) -> MapOptions:
        opts = self.build(MapOptions, "map", raw)
        if opts.basemap not in BASEMAPS:
            raise self.error("map.basemap", opts.basemap, f"one of {', '.join(BASEMAPS)}")
        key = opts.tianditu_key
        if key and not (key.isascii() and key.isalnum() and 8 <= len(key) <= 64):
            raise self.error("map.tianditu_key", key, "the Tianditu key: 8-64 letters and digits")
        return opts

    def targets(self, raw: Any, base: Targets | None = None) -> Targets:
        """``[targets]`` over ``base``; ``key = false`` is no target."""
        if isinstance(raw, dict):
            off = [k for k, v in raw.items() if v is False]
            raw = {k: v for k, v in raw.items() if v is not False}
        else:
            off = []
        targets = self.build(Targets, "targets", raw, base)
        self.keys("targets", dict.fromkeys(off), {f.name for f in fields(Targets)})
        targets = dataclasses.replace(targets, **dict.fromkeys(off))
        for key in ("urban_elderly_coverage", "rural_elderly_coverage", "street_centre_coverage",
                    "facility_compliance", "kindergarten_tuoban_coverage", "nursing_bed_share"):
            value = getattr(targets, key)
            if value is not None and not 0 <= value <= 1:
                raise self.error(f"targets.{key}", value, "a share 0-1")
        if targets.elderly_area_per_resident_m2 is not None:
            lo, hi = targets.elderly_area_per_resident_m2
            if lo > hi:
                raise self.error("targets.elderly_area_per_resident_m2", [lo, hi],
                                 "[low, high] with low <= high")
        return targets


_LAYER_KEYS = {f.name for f in fields(LayerSource)}

_TOP_KEYS = {
    "name", "title", "crs", "output_dir", "demand", "include_major_projects",
    "district_tolerance_m", "inputs", "walking", "standards", "targets", "plan", "rural", "map",
    "profile", "currency", "subsidies",
}


def _default_profile() -> Profile:
    from carecircle.inputs.profiles import default_profile

    return default_profile()


def _profile(data: dict, base_dir: Path, r: _Reader) -> Profile:
    """The scenario's profile, with its own ``currency`` and ``subsidies`` applied."""
    from carecircle.inputs.profiles import (
        DEFAULT_PROFILE,
        _currency,
        _subsidies,
        load_profile,
    )

    name = data.get("profile", DEFAULT_PROFILE)
    if not isinstance(name, str) or not name.strip() or _CONTROL.search(name) or _URL.match(name):
        raise r.error("profile", name, '"xian-2023", "neutral" or a profile .toml file')
    try:
        profile = load_profile(name.strip(), base_dir)
    except ScenarioError as exc:
        raise ScenarioError(f"{r.where}: {exc}") from None
    changes: dict[str, Any] = {}
    if "currency" in data:
        changes["currency"] = _currency(r, data["currency"])
    if "subsidies" in data:
        changes["subsidies"] = _subsidies(r, data["subsidies"], base_dir)
        changes["bundled"] = profile.bundled and changes["subsidies"] in (None, profile.subsidies)
    return dataclasses.replace(profile, **changes) if changes else profile


def _name(data: dict, where: str) -> str:
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ScenarioError(f"{where}: 'name' is missing 缺少情景名称; expected a short run name")
    if any(c in name for c in "/\\:*?\"<>|") or name.strip() in (".", "..") or not name.isprintable():
        raise ScenarioError(f"{where}: name {name!r} cannot be a folder name; avoid / \\ : * ? \" < > |, "
                            "'.', '..' and control characters")
    return name


def scenario_from_dict(data: dict, base_dir: Path, *, where: str = "scenario") -> Scenario:
    """Validate a scenario given as a dict (the parsed TOML).

    Parameters
    ----------
    data
        The TOML content.
    base_dir
        Folder that relative paths are resolved against.
    where
        Name used in error messages (the scenario file).

    Returns
    -------
    Scenario
        With :attr:`Scenario.warnings` holding values near the edge of their range.

    Raises
    ------
    ScenarioError
        For unknown keys, wrong types, values outside their plausible range
        (:mod:`carecircle.inputs.ranges`), or missing required inputs.
    """
    r = _Reader(where)
    r.keys("top level", data, _TOP_KEYS)
    name = _name(data, where)
    inputs_raw = data.get("inputs", {})
    if not isinstance(inputs_raw, dict):
        raise ScenarioError(f"{where}: [inputs] must be a table")
    r.keys("inputs", inputs_raw, set(LAYERS))
    missing = [k for k in REQUIRED_LAYERS if k not in inputs_raw]
    if missing:
        raise ScenarioError(f"{where}: [inputs] lacks {missing} 缺少必需输入; these layers are required")
    inputs = {k: r.layer(k, v, base_dir) for k, v in inputs_raw.items()}
    profile = _profile(data, base_dir, r)
    walking = r.build(Walking, "walking", data.get("walking", {}))
    targets = r.targets(data.get("targets", {}), profile.targets)
    plan = r.plan(data.get("plan", {}), dataclasses.replace(
        Plan(), unit_costs=dict(profile.unit_costs), operation_years=profile.operation_years,
        fitout_costs={k: dict(v) for k, v in profile.fitout_costs.items()},
        shared_fitout_saving=profile.shared_fitout_saving))
    map_options = r.map(data.get("map", {}))
    out = data.get("output_dir")
    if out is not None and (not isinstance(out, str) or not out.strip() or _URL.match(out)):
        raise r.error("output_dir", out, "a folder path string")
    if data.get("crs") is not None:
        r.crs(data["crs"], "crs", projected=True)
    major = data.get("include_major_projects", False)
    if not isinstance(major, bool):
        raise r.error("include_major_projects", major, "true or false")
    title = data.get("title", name)
    if not isinstance(title, str) or _CONTROL.search(title):
        raise r.error("title", title, "a text without control characters")
    demand = r.demand(data.get("demand", {}), base_dir, profile.demand)
    standards = r.standards(data.get("standards", {}), profile.standards)
    rural = r.rural(data.get("rural", {}), profile.rural)
    tolerance = r.number(data.get("district_tolerance_m", 500.0), "district_tolerance_m")
    return Scenario(
        name=name,
        title=title,
        base_dir=base_dir,
        inputs=inputs,
        crs=data.get("crs"),
        output_dir=None if out is None else (base_dir / out).resolve(),
        demand=demand,
        include_major_projects=major,
        district_tolerance_m=float(tolerance),
        walking=walking,
        standards=standards,
        targets=targets,
        plan=plan,
        rural=rural,
        map=map_options,
        warnings=tuple(r.warnings),
        profile=profile,
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file.

    Parameters
    ----------
    path
        The ``scenario.toml``.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        If the file is missing, is not valid TOML, or has wrong keys or values.
    """
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path}: scenario file not found 找不到情景文件")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid TOML 情景文件格式错误: {exc}") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the scenario file 无法读取情景文件: {exc}") from None
    scen = scenario_from_dict(data, path.resolve().parent, where=str(path))
    return dataclasses.replace(scen, source=path.resolve())
