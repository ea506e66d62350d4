"""The scenario: every input and parameter of a run, read from TOML and validated.

Defaults are the figures of the Xi'an plan 市政办发〔2023〕1号 (see docs/plan.md).
Unknown keys are errors: a typo in a target name must never be silently ignored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pyproj

from carecircle.errors import ScenarioError

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
        Optional pandas query applied after reading (e.g. select POI types).
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
    elderly_min_area_m2: float = 300.0
    childcare_min_area_m2: float = 200.0
    shared_min_area_m2: float = 500.0
    childcare_m2_per_place: float = 8.0
    compound_m2_per_100_households: float = 20.0
    shared_building_cost_factor: float = 0.8

    def min_area(self, kind: str) -> float:
        return {"elderly": self.elderly_min_area_m2, "childcare": self.childcare_min_area_m2}[kind]


@dataclass(frozen=True)
class Targets:
    urban_elderly_coverage: float = 0.90
    rural_elderly_coverage: float = 0.80
    street_centre_coverage: float = 0.70
    facility_compliance: float = 1.00
    childcare_places_per_1000: float = 4.8
    public_beds_share_of_60plus: float = 0.01
    public_childcare_per_district: int = 1
    elderly_area_per_resident_m2: tuple[float, float] = (0.1, 0.3)


# The plan's own forecast (section 一(二)): 2020 census -> 2025.
PLAN_FACTORS_2025 = {
    "population": 15.0 / 12.9529,
    "pop_60plus": 3.0 / 2.0753,
    "pop_0_3": 450.0 / 412.2,
}


@dataclass(frozen=True)
class Demand:
    """Which year's demand the run plans for, and how loaded (2020) numbers are projected.

    ``year = 2020`` uses the populations as loaded; any other year scales them. By
    default the factors are the plan's city-wide growth 2020 -> 2025 (residents
    12.9529 M -> 15 M, 60+ 2.0753 M -> 3 M, 0-3 412.2 k -> 450 k), compounded per
    year for years other than 2025.  ``district_factors`` (district code -> group ->
    factor) override them per district; a ``projection_table`` CSV (district, group,
    year, value) gives projected district totals instead.
    """

    year: int = 2025
    base_year: int = 2020
    factors: dict[str, float] = field(default_factory=lambda: dict(PLAN_FACTORS_2025))
    factors_year: int = 2025
    district_factors: dict[str, dict[str, float]] = field(default_factory=dict)
    projection_table: str | None = None


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
    weights: dict[str, str] = field(
        default_factory=lambda: {"elderly": "pop_60plus", "childcare": "pop_0_3"}
    )
    unit_costs: dict[str, float] = field(
        default_factory=lambda: {"new": 7500.0, "renovate": 2800.0, "lease": 2000.0}
    )


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
    walking: Walking = field(default_factory=Walking)
    standards: Standards = field(default_factory=Standards)
    targets: Targets = field(default_factory=Targets)
    plan: Plan = field(default_factory=Plan)
    source: Path | None = None

    @property
    def out_dir(self) -> Path:
        """Folder the run writes to: ``output_dir`` or ``maps/<name>`` under the cwd."""
        return self.output_dir if self.output_dir is not None else Path("maps") / self.name

    def replace(self, **changes: Any) -> Scenario:
        """A copy with top-level fields (or ``walking``/``plan``... objects) replaced."""
        return dataclasses.replace(self, **changes)

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


def _check_keys(section: str, data: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ScenarioError(
            f"{where}: unknown key(s) {unknown} in [{section}] 未知参数; "
            f"expected one of {sorted(allowed)}"
        )


def _build(cls, section: str, data: dict, where: str):
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: [{section}] = {data!r} 参数无效; expected a table")
    allowed = {f.name for f in fields(cls)}
    _check_keys(section, data, allowed, where)
    defaults = cls()
    kwargs = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        default = getattr(defaults, f.name)
        kwargs[f.name] = _coerce(value, default, f"{section}.{f.name}", where)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # pragma: no cover - guarded by _check_keys
        raise ScenarioError(f"{where}: [{section}] {exc}") from None


def _coerce(value: Any, default: Any, key: str, where: str) -> Any:
    def bad(expected: str) -> ScenarioError:
        return ScenarioError(f"{where}: {key} = {value!r} 参数无效; expected {expected}")

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        if value != value or value < 0:  # NaN compares unequal to itself
            raise bad("a number >= 0")
        if isinstance(default, int) and not (math.isfinite(value) and value == int(value)):
            raise bad("an integer")
        return float(value) if isinstance(default, float) else int(value)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise bad("a table, e.g. { elderly = 1.0, childcare = 1.2 }")
        merged = dict(default)
        for k, v in value.items():
            if default and k not in default:
                raise bad(f"keys among {sorted(default)}")
            sample = next(iter(default.values()), None)
            merged[k] = _coerce(v, sample, f"{key}.{k}", where) if sample is not None else v
        return merged
    if isinstance(default, tuple):
        if not isinstance(value, list):
            raise bad("a list")
        # elements are typed like the default's (numbers), or are ids (strings)
        sample = default[0] if default else ""
        if default and len(value) != len(default):
            raise bad(f"a list of {len(default)} values")
        return tuple(_coerce(v, sample, f"{key}[{i}]", where) for i, v in enumerate(value))
    if isinstance(default, str):
        if not isinstance(value, str):
            raise bad("a string")
        return value
    return value


_LAYER_KEYS = {f.name for f in fields(LayerSource)}


def _layer(name: str, value: Any, base: Path, where: str) -> LayerSource:
    if isinstance(value, str):
        value = {"path": value}
    if not isinstance(value, dict) or "path" not in value:
        raise ScenarioError(
            f"{where}: inputs.{name} must be a path or a table with 'path' 输入文件路径缺失"
        )
    _check_keys(f"inputs.{name}", value, _LAYER_KEYS, where)
    for key in ("path", "coords", "crs", "lon", "lat", "layer", "assumed", "filter"):
        if key in value and not isinstance(value[key], str):
            raise ScenarioError(
                f"{where}: inputs.{name}.{key} = {value[key]!r} 参数无效; expected a string"
            )
    columns = value.get("columns", {})
    if not isinstance(columns, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in columns.items()
    ):
        raise ScenarioError(
            f"{where}: inputs.{name}.columns = {columns!r} 参数无效; "
            "expected a table of file column = canonical column, each a string"
        )
    if value.get("crs") is not None:
        _parse_crs(value["crs"], f"inputs.{name}.crs", where)
    coords = str(value.get("coords", "wgs84")).lower().replace("-", "")
    if coords not in ("wgs84", "gcj02", "bd09"):
        raise ScenarioError(
            f"{where}: inputs.{name}.coords = {value['coords']!r}; expected wgs84, gcj02 or bd09"
        )
    path = Path(value["path"])
    if not path.is_absolute():
        path = (base / path).resolve()
    return LayerSource(
        path=path,
        coords=coords,
        crs=value.get("crs"),
        lon=value.get("lon"),
        lat=value.get("lat"),
        layer=value.get("layer"),
        assumed=value.get("assumed"),
        filter=value.get("filter"),
        columns=dict(columns),
        defaults=dict(value.get("defaults", {})),
    )


def _parse_crs(value: Any, key: str, where: str, *, projected: bool = False) -> pyproj.CRS:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ScenarioError(f"{where}: {key} = {value!r} 参数无效; expected a CRS such as \"EPSG:4545\"")
    try:
        crs = pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError:
        raise ScenarioError(
            f"{where}: {key} = {value!r} 坐标系无效; expected a CRS such as \"EPSG:4545\""
        ) from None
    if projected and not crs.is_projected:
        raise ScenarioError(
            f"{where}: {key} = {value!r} must be projected (metres) 须为投影坐标系; "
            "expected e.g. \"EPSG:4545\""
        )
    return crs


_TOP_KEYS = {
    "name", "title", "crs", "output_dir", "demand", "include_major_projects",
    "inputs", "walking", "standards", "targets", "plan",
}


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

    Raises
    ------
    ScenarioError
        For unknown keys, wrong types, or missing required inputs.
    """
    _check_keys("top level", data, _TOP_KEYS, where)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ScenarioError(f"{where}: 'name' is missing 缺少情景名称; expected a short run name")
    if any(c in name for c in "/\\:*?\"<>|"):
        raise ScenarioError(f"{where}: name {name!r} cannot be a folder name; avoid / \\ : * ? \" < > |")
    inputs_raw = data.get("inputs", {})
    if not isinstance(inputs_raw, dict):
        raise ScenarioError(f"{where}: [inputs] must be a table")
    _check_keys("inputs", inputs_raw, set(LAYERS), where)
    missing = [k for k in REQUIRED_LAYERS if k not in inputs_raw]
    if missing:
        raise ScenarioError(f"{where}: [inputs] lacks {missing} 缺少必需输入; these layers are required")
    inputs = {k: _layer(k, v, base_dir, where) for k, v in inputs_raw.items()}
    walking = _build(Walking, "walking", data.get("walking", {}), where)
    for kind in KINDS:
        if walking.speed_mps.get(kind, 0) <= 0:
            raise ScenarioError(f"{where}: walking.speed_mps.{kind} must be > 0")
    if walking.minutes <= 0:
        raise ScenarioError(f"{where}: walking.minutes must be > 0")
    targets = _build(Targets, "targets", data.get("targets", {}), where)
    for key in ("urban_elderly_coverage", "rural_elderly_coverage", "street_centre_coverage",
                "facility_compliance"):
        if not 0 <= getattr(targets, key) <= 1:
            raise ScenarioError(f"{where}: targets.{key} = {getattr(targets, key)}; expected a share 0-1")
    plan = _build(Plan, "plan", data.get("plan", {}), where)
    if plan.mode not in ("cover_all", "budget"):
        raise ScenarioError(f"{where}: plan.mode = {plan.mode!r}; expected 'cover_all' or 'budget'")
    if plan.mode == "budget" and plan.budget_yuan <= 0:
        raise ScenarioError(f"{where}: plan.mode = 'budget' needs plan.budget_yuan > 0")
    if plan.method not in ("auto", "exact", "scale"):
        raise ScenarioError(
            f"{where}: plan.method = {plan.method!r}; expected 'auto', 'exact' or 'scale'"
        )
    if not plan.gap_target < 1:
        raise ScenarioError(f"{where}: plan.gap_target = {plan.gap_target!r}; expected 0 <= value < 1")
    out = data.get("output_dir")
    if out is not None and not isinstance(out, str):
        raise ScenarioError(f"{where}: output_dir = {out!r} 参数无效; expected a folder path string")
    output_dir = None if out is None else (base_dir / out).resolve()
    if data.get("crs") is not None:
        _parse_crs(data["crs"], "crs", where, projected=True)
    major = data.get("include_major_projects", False)
    if not isinstance(major, bool):
        raise ScenarioError(f"{where}: include_major_projects = {major!r} 参数无效; expected true or false")
    demand = _demand(data.get("demand", {}), base_dir, where)
    return Scenario(
        name=name,
        title=str(data.get("title", name)),
        base_dir=base_dir,
        inputs=inputs,
        crs=data.get("crs"),
        output_dir=output_dir,
        demand=demand,
        include_major_projects=major,
        walking=walking,
        standards=_build(Standards, "standards", data.get("standards", {}), where),
        targets=targets,
        plan=plan,
    )


def _demand(raw: Any, base: Path, where: str) -> Demand:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: [demand] must be a table")
    allowed = {f.name for f in fields(Demand)}
    _check_keys("demand", raw, allowed, where)
    d = Demand()
    year = raw.get("year", d.year)
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2060:
        raise ScenarioError(f"{where}: demand.year = {year!r}; expected a year such as 2020 or 2025")
    factors = _coerce(raw.get("factors", {}), d.factors, "demand.factors", where)
    dfac = raw.get("district_factors", {})
    if not isinstance(dfac, dict):
        raise ScenarioError(f"{where}: demand.district_factors must be a table of tables")
    district_factors = {
        str(k): _coerce(v, d.factors, f"demand.district_factors.{k}", where) for k, v in dfac.items()
    }
    years = {}
    for key in ("base_year", "factors_year"):
        value = raw.get(key, getattr(d, key))
        if isinstance(value, bool) or not isinstance(value, int) or not 1950 <= value <= 2100:
            raise ScenarioError(f"{where}: demand.{key} = {value!r}; expected a year such as 2020")
        years[key] = value
    table = raw.get("projection_table")
    if table is not None and not isinstance(table, str):
        raise ScenarioError(f"{where}: demand.projection_table = {table!r}; expected a CSV path string")
    if table is not None:
        tp = Path(table)
        table = str(tp if tp.is_absolute() else (base / tp).resolve())
    return Demand(
        year=year,
        base_year=years["base_year"],
        factors=factors,
        factors_year=years["factors_year"],
        district_factors=district_factors,
        projection_table=table,
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
