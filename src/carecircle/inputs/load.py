"""Load every layer of a scenario, validated, in one metric CRS: :func:`load_inputs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd
import pyproj

from carecircle.errors import InputError, Problem, ProblemLog
from carecircle.inputs import coords as _coords
from carecircle.inputs.read import WGS84, read_table, rename_columns
from carecircle.inputs.scenario import Scenario
from carecircle.inputs.schema import (
    LAYER_ZH,
)
from carecircle.inputs.validate import _auto_district, _study_area, validate_layer


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


def study_crs(scenario: Scenario, districts_wgs: gpd.GeoDataFrame | None) -> pyproj.CRS:
    """The metric CRS of a run: the scenario's, or one chosen from the districts' extent."""
    if scenario.crs:
        crs = pyproj.CRS.from_user_input(scenario.crs)
        if crs.is_geographic:
            raise InputError(Problem("error", "scenario", "crs must be projected (metres) 坐标系须为投影坐标系",
                                     column="crs", found=str(scenario.crs), expected="e.g. EPSG:4545"))
        return crs
    if districts_wgs is None or len(districts_wgs) == 0:
        return pyproj.CRS.from_epsg(4545)
    b = districts_wgs.to_crs(WGS84).total_bounds
    return _coords.choose_metric_crs(*b)


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
    log = ProblemLog()
    raw: dict[str, gpd.GeoDataFrame] = {}
    conversions: list[str] = []
    for name in ("districts", "streets", "communities", "facilities", "candidates", "population_grid"):
        src = scenario.inputs.get(name)
        if src is None:
            continue
        try:
            gdf = read_table(src, name)
        except InputError as exc:
            log.problems.append(exc.problem)
            continue
        gdf = rename_columns(gdf, name, src.columns, truncated=src.path.suffix.lower() == ".shp")
        for col, value in src.defaults.items():
            if col not in gdf.columns and value != "auto":
                gdf[col] = value
                conversions.append(f"{name}: column '{col}' missing, set to {value!r} (assumed 假设)")
        if src.coords != "wgs84":
            conversions.append(f"{name}: {src.coords.upper()} -> WGS-84 ({len(gdf)} features)")
        raw[name] = gdf
    districts_raw = raw.get("districts")
    try:
        crs = study_crs(scenario, districts_raw)
    except InputError as exc:
        log.problems.append(exc.problem)
        crs = pyproj.CRS.from_epsg(4545)
    layers: dict[str, gpd.GeoDataFrame] = {}
    fname = {k: str(scenario.inputs[k].path) for k in raw}
    if districts_raw is not None:
        layers["districts"] = validate_layer(districts_raw, "districts", fname["districts"], log, crs=crs)
    districts = layers.get("districts")
    if districts is not None and len(districts) == 0:
        districts = None
    area = _study_area(districts, crs)
    if "streets" in raw:
        layers["streets"] = validate_layer(raw["streets"], "streets", fname["streets"], log, crs=crs,
                                           districts=districts, area=area)
    streets = layers.get("streets")
    grid_pops = ("population", "pop_60plus", "pop_0_3") if "population_grid" in raw else ()
    for name in ("communities", "facilities", "candidates", "population_grid"):
        src = scenario.inputs.get(name)
        if name in raw and src.defaults.get("district") == "auto" and "district" not in raw[name]:
            raw[name]["district"] = _auto_district(raw[name], districts)
            conversions.append(f"{name}: district taken from the district polygons 区县按空间位置确定")
        if name in raw:
            layers[name] = validate_layer(raw[name], name, fname[name], log, crs=crs,
                                          districts=districts, streets=streets, area=area,
                                          optional=grid_pops if name == "communities" else ())
    for name, gdf in raw.items():
        if gdf.crs is not None and not pyproj.CRS(gdf.crs).equals(crs):
            conversions.append(f"{name}: {pyproj.CRS(gdf.crs).to_string()} -> {crs.to_string()}")
    assumed = {k: v.assumed for k, v in scenario.inputs.items() if v.assumed}
    inputs = Inputs(crs=crs, layers=layers, log=log, conversions=conversions, assumed=assumed)
    if raise_on_error:
        log.raise_if_errors()
    return inputs


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
