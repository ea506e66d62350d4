"""Load every layer of a scenario, validated, in one metric CRS: :func:`load_inputs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from carecircle.atomic import OutputConflictError, check_output_folder
from carecircle.errors import InputError, Problem, ProblemLog
from carecircle.inputs import coords as _coords
from carecircle.inputs.read import WGS84, read_table, rename_columns
from carecircle.inputs.scenario import Scenario
from carecircle.inputs.schema import (
    LAYER_ZH,
)
from carecircle.inputs.validate import study_area, validate_layer


@dataclass
class Inputs:
    """Every input layer of a scenario, validated, in one metric CRS.

    Attributes
    ----------
    crs
        The metric CRS of every layer.
    layers
        Layer name -> GeoDataFrame (``districts``, ``streets``, ``communities``,
        ``facilities``, ``candidates``, ``population_grid``; absent optional layers
        are missing from the dict).
    log
        Every problem found.
    conversions
        Human-readable notes of what was converted (coordinate systems, CRS).
    assumed
        Layer name -> statement of how an assumed (not observed) layer was made.
    """

    crs: pyproj.CRS
    layers: dict[str, gpd.GeoDataFrame]
    log: ProblemLog
    conversions: list[str] = field(default_factory=list)
    assumed: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> gpd.GeoDataFrame:
        return self.layers[name]

    def get(self, name: str) -> gpd.GeoDataFrame | None:
        return self.layers.get(name)


# ---------------------------------------------------------------- the scenario's inputs

#: How far (degrees) the data may extend beyond the scenario CRS's area of use: silently
#: up to the first value, with a warning up to the second, beyond it an error.  A
#: 3-degree Gauss-Kruger zone used a little beyond its edge (eastern Lantian county,
#: 109.8E, in EPSG:4545) distorts distances by well under 0.1 %; a CRS for another
#: province or continent gives wrong distances.
AREA_OF_USE_SLACK_DEG = (0.5, 1.5)


def _scenario_name(scenario: Scenario) -> str:
    return str(scenario.source) if scenario.source is not None else "scenario"


def study_crs(scenario: Scenario, districts_wgs: gpd.GeoDataFrame | None) -> pyproj.CRS:
    """The metric CRS of a run: the scenario's, or one chosen from the districts' extent.

    Parameters
    ----------
    scenario
        The scenario (its ``crs``, if set, must be projected).
    districts_wgs
        The district layer as read (any CRS), or ``None``.

    Returns
    -------
    pyproj.CRS
    """
    if scenario.crs:
        crs = pyproj.CRS.from_user_input(scenario.crs)
        if crs.is_geographic:
            raise InputError(Problem("error", _scenario_name(scenario),
                                     "crs must be projected (metres) 坐标系须为投影坐标系",
                                     column="crs", found=str(scenario.crs), expected="e.g. EPSG:4545"))
        return crs
    if districts_wgs is None or len(districts_wgs) == 0:
        return pyproj.CRS.from_epsg(4545)
    b = districts_wgs.to_crs(WGS84).total_bounds
    return _coords.choose_metric_crs(*b)


def check_area_of_use(scenario: Scenario, crs: pyproj.CRS, districts: gpd.GeoDataFrame | None,
                      log: ProblemLog) -> None:
    """The scenario's CRS must be meant for the place the data is (its area of use).

    Parameters
    ----------
    scenario
        The scenario (only a CRS it sets is checked; a chosen one fits by construction).
    crs
        The run's CRS.
    districts
        The districts layer (any CRS); its extent is the data's.
    log
        Where the problem goes.
    """
    aou = crs.area_of_use
    if not scenario.crs or aou is None or districts is None or len(districts) == 0:
        return
    west, south, east, north = districts.to_crs(WGS84).total_bounds
    beyond = max(aou.west - west, east - aou.east, aou.south - south, north - aou.north)
    if not np.isfinite(beyond) or beyond <= AREA_OF_USE_SLACK_DEG[0]:
        return
    found = f"{scenario.crs} is for {aou.name} ({aou.west:g}..{aou.east:g}E, {aou.south:g}..{aou.north:g}N)"
    data = f"the districts span {west:.2f}..{east:.2f}E, {south:.2f}..{north:.2f}N"
    if beyond > AREA_OF_USE_SLACK_DEG[1]:
        log.error(_scenario_name(scenario), "the CRS is not meant for where the data is "
                  "坐标系的适用范围不含研究区", column="crs", found=f"{found}; {data}",
                  expected="a CRS whose area of use contains the data, e.g. EPSG:4545 for Xi'an, "
                           "or leave crs out to choose one")
    else:
        log.warning(_scenario_name(scenario), "the data extends a little beyond the CRS's area of use "
                    "研究区略超出坐标系适用范围", column="crs", found=f"{found}; {data}",
                    expected="a CRS whose area of use contains the data")


def check_profile(scenario: Scenario, districts: gpd.GeoDataFrame | None, log: ProblemLog) -> None:
    """Warn when the profile's figures are another place's (Xi'an's plan on Helsinki).

    Parameters
    ----------
    scenario
        The scenario (its profile).
    districts
        The districts layer as read (any CRS), or ``None``.
    log
        Where the warning goes.
    """
    from carecircle.inputs.profiles import profile_problems

    if districts is None or len(districts) == 0 or districts.crs is None:
        return
    bounds = tuple(float(b) for b in districts.to_crs(WGS84).total_bounds)
    log.problems.extend(profile_problems(scenario.profile, bounds,  # type: ignore[arg-type]
                                         _scenario_name(scenario)))


def check_costs(scenario: Scenario, layers: dict[str, gpd.GeoDataFrame], log: ProblemLog) -> None:
    """Candidates that can never be chosen for lack of a cost, and ids a proposed site
    would share with an existing facility.

    Parameters
    ----------
    scenario
        The scenario (its unit costs by acquisition).
    layers
        The validated layers.
    log
        Where the warnings go.
    """
    cand = layers.get("candidates")
    if cand is None or not len(cand) or "id" not in cand:
        return
    fname = str(scenario.inputs["candidates"].path)
    cost = cand["cost_yuan"] if "cost_yuan" in cand else pd.Series(np.nan, index=cand.index)
    unit = (cand["acquisition"].map(scenario.plan.unit_costs) if "acquisition" in cand
            else pd.Series(np.nan, index=cand.index))
    no_cost = pd.to_numeric(cost, errors="coerce").isna() & unit.isna()
    if no_cost.any():
        ids = cand.loc[no_cost, "id"].astype(str).tolist()
        log.warning(fname, "candidates without a cost, and no unit cost for their acquisition: "
                    "a plan cannot choose them 候选场地无费用且无单价, 无法入选",
                    column="cost_yuan", found=f"{len(ids)}: {', '.join(ids[:10])}"
                    + (" ..." if len(ids) > 10 else ""),
                    expected=f"a cost_yuan, or [plan] unit_costs (profile {scenario.profile.name} "
                             f"gives {scenario.plan.unit_costs or 'none'})")
    fac = layers.get("facilities")
    if fac is not None and len(fac) and "id" in fac:
        shared = sorted(set(fac["id"].astype(str)) & set(cand["id"].astype(str)))
        if shared:
            log.warning(fname, "candidate ids also used by existing facilities: the tables could "
                        "not tell a proposed site from an existing facility 候选场地编号与现状设施重复",
                        column="id", found=", ".join(shared[:10]) + (" ..." if len(shared) > 10 else ""),
                        expected="ids that differ from the facilities'")


def check_plan_ids(scenario: Scenario, candidates: gpd.GeoDataFrame | None, log: ProblemLog) -> None:
    """``plan.required`` / ``plan.excluded`` must name candidates of the candidates layer.

    Parameters
    ----------
    scenario
        The scenario.
    candidates
        The validated candidates layer (``None`` when the scenario has none).
    log
        Where the problems go.
    """
    src = scenario.inputs.get("candidates")
    known = set() if candidates is None or "id" not in candidates else set(candidates["id"].astype(str))
    for key in ("required", "excluded"):
        ids = list(getattr(scenario.plan, key))
        unknown = [i for i in ids if i not in known]
        if not unknown:
            continue
        shown = ", ".join(unknown[:10]) + (f" ... ({len(unknown)} in all)" if len(unknown) > 10 else "")
        log.error(_scenario_name(scenario), f"plan.{key}: candidate id(s) not found 候选场地编号不存在",
                  column=f"plan.{key}", found=shown,
                  expected=f"ids of {src.path}" if src is not None else "a candidates layer with these ids")


def _read_layers(scenario: Scenario, log: ProblemLog, conversions: list[str]
                 ) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, tuple[str, str]]]:
    """Every vector layer as read (renamed, defaults filled); CSV lon/lat column names."""
    raw: dict[str, gpd.GeoDataFrame] = {}
    lonlat: dict[str, tuple[str, str]] = {}
    for name in ("districts", "streets", "communities", "facilities", "candidates", "population_grid"):
        src = scenario.inputs.get(name)
        if src is None:
            continue
        try:
            gdf = read_table(src, name)
        except InputError as exc:
            log.problems.append(exc.problem)
            continue
        if "lonlat_columns" in gdf.attrs:
            lon, lat = gdf.attrs.pop("lonlat_columns")
            lonlat[name] = (str(lon), str(lat))
        dropped, repaired = gdf.attrs.pop("osm_dropped", 0), gdf.attrs.pop("osm_repaired", 0)
        if dropped or repaired:
            conversions.append(f"{name}: OpenStreetMap shapes: {repaired} repaired (cut at the "
                               f"extract's edge), {dropped} without a shape left out "
                               "裁切处几何已修复/剔除")
        gdf = rename_columns(gdf, name, src.columns, truncated=src.path.suffix.lower() == ".shp")
        for col, value in src.defaults.items():
            if col not in gdf.columns and value != "auto":
                gdf[col] = value
                conversions.append(f"{name}: column '{col}' missing, set to {value!r} (assumed 假设)")
        if src.coords != "wgs84":
            conversions.append(f"{name}: {src.coords.upper()} -> WGS-84 ({len(gdf)} features)")
        raw[name] = gdf
    return raw, lonlat


def load_inputs(scenario: Scenario, *, raise_on_error: bool = True) -> Inputs:
    """Load and validate every vector layer of a scenario (the network is separate).

    Parameters
    ----------
    scenario
        The scenario.
    raise_on_error
        Raise :class:`~carecircle.errors.ValidationError` when errors were found
        (after checking every layer).

    Returns
    -------
    Inputs
        All layers in one metric CRS, with every problem found.
    """
    log = ProblemLog(list(scenario.warnings))
    conversions: list[str] = []
    raw, lonlat = _read_layers(scenario, log, conversions)
    try:
        crs = study_crs(scenario, raw.get("districts"))
    except InputError as exc:
        log.problems.append(exc.problem)
        crs = pyproj.CRS.from_epsg(4545)
    check_area_of_use(scenario, crs, raw.get("districts"), log)
    check_profile(scenario, raw.get("districts"), log)
    layers = _validate_layers(scenario, raw, lonlat, crs, log, conversions)
    check_plan_ids(scenario, layers.get("candidates"), log)
    check_costs(scenario, layers, log)
    try:
        check_output_folder(scenario.out_dir, scenario.protected_files())
    except OutputConflictError as exc:
        log.error(_scenario_name(scenario), str(exc), column="output_dir", found=str(scenario.out_dir),
                  expected="a folder that holds none of the inputs")
    for name, gdf in raw.items():
        if gdf.crs is not None and not pyproj.CRS(gdf.crs).equals(crs):
            conversions.append(f"{name}: {pyproj.CRS(gdf.crs).to_string()} -> {crs.to_string()}")
    assumed = {k: v.assumed for k, v in scenario.inputs.items() if v.assumed}
    inputs = Inputs(crs=crs, layers=layers, log=log, conversions=conversions, assumed=assumed)
    if raise_on_error:
        log.raise_if_errors()
    return inputs


def _validate_layers(scenario: Scenario, raw: dict[str, gpd.GeoDataFrame],
                     lonlat: dict[str, tuple[str, str]], crs: pyproj.CRS, log: ProblemLog,
                     conversions: list[str]) -> dict[str, gpd.GeoDataFrame]:
    layers: dict[str, gpd.GeoDataFrame] = {}
    fname = {k: str(scenario.inputs[k].path) for k in raw}

    def check(name: str, **kw: object) -> None:
        src = scenario.inputs[name]
        layers[name] = validate_layer(raw[name], name, fname[name], log, crs=crs,
                                      district_tolerance_m=scenario.district_tolerance_m,
                                      coords=src.coords, lonlat_columns=lonlat.get(name),
                                      **kw)  # type: ignore[arg-type]

    if "districts" in raw:
        check("districts")
    districts = layers.get("districts")
    if districts is not None and len(districts) == 0:
        districts = None
    area = study_area(districts, crs)
    if "streets" in raw:
        check("streets", districts=districts, area=area)
    grid_pops = ("population", "pop_60plus", "pop_0_3") if "population_grid" in raw else ()
    for name in ("communities", "facilities", "candidates", "population_grid"):
        if name not in raw:
            continue
        derive = (scenario.inputs[name].defaults.get("district") == "auto"
                  and "district" not in raw[name] and name == "communities")
        if derive:
            raw[name]["district"] = None
            conversions.append(f"{name}: district taken from the district polygons 区县按空间位置确定")
        check(name, districts=districts, streets=layers.get("streets"), area=area,
              optional=grid_pops if name == "communities" else (), derive_district=derive)
    return layers


def summary(inputs: Inputs) -> pd.DataFrame:
    """Counts per layer and district, bilingual headers."""
    rows = []
    districts = inputs.get("districts")
    names = {}
    if districts is not None and {"code", "name"} <= set(districts.columns):
        names = dict(zip(districts["code"], districts["name"], strict=True))
    for layer, gdf in inputs.layers.items():
        if layer == "districts":
            rows.append({"layer": layer, "district": "", "count": len(gdf)})
            continue
        rows.append({"layer": layer, "district": "(all 全部)", "count": len(gdf)})
        if "district" in gdf.columns and layer != "population_grid":
            for code, n in gdf.groupby(gdf["district"].fillna("?"), sort=True).size().items():
                rows.append({"layer": layer, "district": f"{names.get(code, code)} ({code})", "count": int(n)})
    df = pd.DataFrame(rows)
    df["layer"] = df["layer"].map(lambda x: f"{LAYER_ZH.get(x, x)} {x}")
    return df.rename(columns={"layer": "图层 Layer", "district": "区县 District", "count": "数量 Count"})
