"""``run.gpkg``: the run as layers GIS staff open in QGIS or ArcGIS.

One GeoPackage, in WGS-84 (EPSG:4326, the project's rule for what leaves a run; the
run's own metric CRS is recorded in the ``run_info`` table), with one layer each:

==================  ===========================================================
``communities``     points: status today and after the plan, with the reason
                    when there is one (not on the network, and the run's own
                    ``reason`` columns when it has them)
``facilities``      existing facilities, flagged below the floor-area standard
``sites``           the plan's proposed sites
``districts``       district polygons with every indicator: target, value and
                    status today and after the plan
``streets``         street/town polygons (or points) with their communities'
                    coverage today and after, and whether they have a centre
``iso_proposed``    walking isochrones of the proposed sites (``proposed_*``)
``iso_existing``    walking isochrones of today's qualifying facilities
``served_areas``    served-area surfaces the run made (any other isochrone set
                    of :attr:`~carecircle.outputs.results.RunOutputs.isochrones`)
``run_info``        table: scenario, CRS, walking parameters
``field_guide``     table: every layer's fields with bilingual names and meaning
==================  ===========================================================

Layers a run does not have (sites and isochrones of an assessment) are left out.
Field names are short (at most 10 characters, so a conversion to Shapefile keeps
them); each field has a bilingual alias (``中文 English``) and an English description
in the GeoPackage schema extension (``gpkg_data_columns``), which GDAL reads as the
field's alternative name and comment, and QGIS shows as the field alias.  The same
table is in the ``field_guide`` layer and in ``docs/outputs.md``.

At whole-city size (3,223 communities, 2,406 facilities, 3,000 isochrones) the file is
about 54 MB, written in a few seconds (``benchmarks/geopackage_size.py``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from carecircle.assess.indicators import LABELS as INDICATOR_LABELS
from carecircle.assess.indicators import street_of_points
from carecircle.atomic import write_atomic
from carecircle.outputs.results import COLUMN_LABELS, STATUS_LABELS, RunOutputs
from carecircle.outputs.style import KIND_LABELS, below_standard, kinds_text

FILE_NAME = "run.gpkg"
CRS = "EPSG:4326"
#: Short code per district indicator (field prefix in the ``districts`` layer).
INDICATOR_CODES = {
    "urban_elderly": "urb_eld", "rural_elderly": "rur_eld", "street_centre": "st_ctr",
    "compliance": "both", "childcare_places": "cc_plc", "public_beds": "pub_bed",
    "nursing_share": "nurs", "demonstration_home": "demo",
    "public_childcare": "pub_cc", "elderly_area": "eld_ar", "kindergarten_tuoban": "tuoban",
}


@dataclass(frozen=True)
class Field:
    """One field of a layer: its short name, the run's column it comes from, its alias."""

    name: str
    source: str
    alias: str
    description: str = ""


def _f(name: str, source: str, alias: str | None = None, description: str = "") -> Field:
    return Field(name, source, alias or COLUMN_LABELS.get(source, source), description)


COMMUNITY_FIELDS = (
    _f("id", "id"), _f("name", "name"), _f("district", "district"),
    _f("dist_name", "district_name"), _f("street", "street", "街道代码 Street code"),
    _f("urb_rur", "urban_rural"), _f("pop", "population"), _f("pop60", "pop_60plus"),
    _f("pop03", "pop_0_3"), _f("on_net", "snapped", description="joined the walking network"),
    _f("snap_m", "snap_m", description="metres from the community's point to the network"),
    _f("eld_m", "elderly_m", description="walking metres to the nearest qualifying elderly facility"),
    _f("eld_srv", "elderly_served", description="served by elderly care today"),
    _f("eld_fac", "elderly_facility", description="id of the facility that serves it today"),
    _f("cc_m", "childcare_m", description="walking metres to the nearest qualifying childcare"),
    _f("cc_srv", "childcare_served", description="served by childcare today"),
    _f("cc_fac", "childcare_facility", description="id of the childcare that serves it today"),
    _f("status", "status", "服务状态代码 Status today (code)",
       "both, elderly_only, childcare_only, neither or unreachable"),
    _f("status_txt", "status_text", "服务状态 Status today", "the status in words"),
    _f("eld_srv_a", "elderly_served_after", description="served by elderly care after the plan"),
    _f("cc_srv_a", "childcare_served_after", description="served by childcare after the plan"),
    _f("status_a", "status_after", "规划后服务状态代码 Status after the plan (code)",
       "as status, after the plan"),
    _f("stat_a_txt", "status_after_text", "规划后服务状态 Status after the plan", "in words"),
    _f("reason", "reason", "原因 Reason",
       "why the community is not served, in words (after the plan when there is one)"),
    _f("reason_a", "reason_after", "规划后原因 Reason after the plan",
       "why the community is not served after the plan, when known"),
    _f("eld_why", "elderly_reason", "养老原因代码 Elderly-care reason (code)",
       "served, capacity, substandard, no_facility, outside_extent or not_on_network"),
    _f("cc_why", "childcare_reason", "托育原因代码 Childcare reason (code)", "as eld_why"),
    _f("eld_why_a", "elderly_reason_after", "规划后养老原因代码 Elderly-care reason after the plan",
       "as eld_why, or no_candidate, excluded_only, budget, other"),
    _f("cc_why_a", "childcare_reason_after", "规划后托育原因代码 Childcare reason after the plan",
       "as eld_why_a"),
    _f("eld_dem", "elderly_demand", "养老需求(人) Elderly-care demand (people)",
       "aged 60+ x demand.elderly_uptake"),
    _f("cc_dem", "childcare_demand", "托育需求(人) Childcare demand (people)",
       "aged 0-3 x demand.childcare_enrolment"),
    _f("eld_plc", "elderly_placed", "养老需求已落位 Elderly demand placed",
       "people of the demand the facilities within the walk can take today"),
    _f("cc_plc", "childcare_placed", "托育需求已落位 Childcare demand placed", "as eld_plc"),
    _f("eld_plc_a", "elderly_placed_after", "规划后养老需求已落位 Elderly demand placed after the plan",
       "as eld_plc, with the plan's sites"),
    _f("cc_plc_a", "childcare_placed_after", "规划后托育需求已落位 Childcare demand placed after the plan",
       "as eld_plc_a"),
)
FACILITY_FIELDS = (
    _f("id", "id"), _f("name", "name"), _f("kind", "kind", "类型代码 Kind (code)",
                                           "elderly, childcare, street_centre, institution or "
                                           "kindergarten_tuoban"),
    _f("kind_txt", "kind_text", "类型 Kind"), _f("area_m2", "floor_area_m2"),
    _f("beds", "beds", "床位 Beds"), _f("places", "places", "托位 Childcare places"),
    _f("owner", "ownership", "性质 Ownership", "public, public_private or private"),
    _f("district", "district"),
    _f("below_std", "below_standard", "面积不达标 Below the floor-area standard",
       "smaller than the standard of its kind (elderly 300 m², childcare 200 m²): serves no one"),
)
SITE_FIELDS = (
    _f("id", "id", "场地编号 Site ID"), _f("name", "name"), _f("district", "district"),
    _f("kinds", "kinds", "建设类型代码 Kinds (codes)", "';'-joined kinds the site hosts"),
    _f("kinds_txt", "kinds_text", "建设类型 Kinds"), _f("area_m2", "floor_area_m2"),
    _f("acq", "acquisition", "取得方式 Acquisition", "new, renovate or lease"),
    _f("cost", "cost_yuan", description="cost as the siting model counts it"),
    _f("places", "places_added"),
    _f("comm_new", "communities_newly_served"),
    _f("res_new", "residents_newly_served",
       description="residents of the kinds' age groups (60+, 0-3) newly served"),
    _f("street", "street", "街道代码 Street code", "the street/town the site lies in"),
    _f("eld_load", "elderly_load", "养老分配需求 Elderly demand assigned",
       "people the site takes in the capacitated assignment after the plan"),
    _f("cc_load", "childcare_load", "托育分配需求 Childcare demand assigned", "as eld_load"),
    _f("area_need", "floor_area_needed_m2", "按需求所需面积(平方米) Floor area the demand needs (m²)",
       "the size to build: the standard or load x area per user/place, the larger"),
)
STREET_FIELDS = (
    _f("code", "code", "街道代码 Street code"), _f("name", "name", "街道 Street"),
    _f("district", "district"),
    _f("n_comm", "communities", "社区数 Communities"),
    _f("n_on", "on_network", "接入路网社区数 Communities on the network"),
    _f("pop", "population"),
    _f("eld_b", "elderly_before", "养老覆盖率(现状) Elderly coverage today",
       "share of the street's communities on the network served by elderly care"),
    _f("eld_a", "elderly_after", "养老覆盖率(规划后) Elderly coverage after the plan"),
    _f("cc_b", "childcare_before", "托育覆盖率(现状) Childcare coverage today"),
    _f("cc_a", "childcare_after", "托育覆盖率(规划后) Childcare coverage after the plan"),
    _f("both_b", "both_before", "两类均覆盖率(现状) Both served today"),
    _f("both_a", "both_after", "两类均覆盖率(规划后) Both served after the plan"),
    _f("centre_b", "centre_before", "有综合中心(现状) Has a street centre today"),
    _f("centre_a", "centre_after", "有综合中心(规划后) Has a street centre after the plan"),
    _f("new_sites", "new_sites", "规划新增场地 New sites of the plan"),
    _f("tuoban", "kindergarten_tuoban", "有开设托班的幼儿园 Has a kindergarten with a 托班",
       "today; empty when the facilities layer records no kindergarten"),
    _f("eld_dem", "elderly_demand", "养老需求(人) Elderly-care demand (people)",
       "summed over the street's communities"),
    _f("eld_plc", "elderly_placed", "养老需求已落位 Elderly demand placed", "today"),
    _f("eld_plc_a", "elderly_placed_after", "规划后养老需求已落位 Elderly demand placed after the plan"),
    _f("cc_dem", "childcare_demand", "托育需求(人) Childcare demand (people)",
       "summed over the street's communities"),
    _f("cc_plc", "childcare_placed", "托育需求已落位 Childcare demand placed", "today"),
    _f("cc_plc_a", "childcare_placed_after", "规划后托育需求已落位 Childcare demand placed after the plan"),
)
#: Columns of the run's street table (``streets.csv``) the ``streets`` layer carries.
STREET_TABLE_COLUMNS = ("kindergarten_tuoban", "elderly_demand", "elderly_placed",
                        "elderly_placed_after", "childcare_demand", "childcare_placed",
                        "childcare_placed_after")
ISO_FIELDS = (
    _f("id", "id", "设施编号 Facility or site ID", "the facility's (or site:kind's) id"),
    _f("site_id", "site_id", "场地编号 Site ID", "the site's or facility's id without the kind"),
    _f("kind", "kind", "类型 Kind", "elderly or childcare"),
    _f("limit_m", "limit_m", "步行距离上限(米) Walking limit (m)"),
    _f("snapped", "snapped", "接入路网 On the network"),
    _f("area_km2", "area_km2", "面积(平方公里) Area (km²)", "in the run's metric CRS"),
)
SURFACE_FIELDS = (
    _f("surface", "surface", "图层 Surface", "the run's name for the surface"),
    _f("area_km2", "area_km2", "面积(平方公里) Area (km²)", "in the run's metric CRS"),
)


def _district_fields() -> tuple[Field, ...]:
    out = [_f("code", "district", "区县代码 District code"), _f("name", "district_name", "区县 District"),
           _f("n_off", "not_on_network", "未接入路网社区 Communities not on the network",
              "communities not assessed (not on the walking network)")]
    for key, code in INDICATOR_CODES.items():
        label = INDICATOR_LABELS[key]
        zh, _, en = label.partition(" ")
        out += [
            _f(f"{code}_t", f"{key}:target", f"{zh} 目标 {en}: target"),
            _f(f"{code}_b", f"{key}:before", f"{zh} 现状 {en}: today"),
            _f(f"{code}_bs", f"{key}:status_before", f"{zh} 现状评价 {en}: status today",
               "pass, fail, incomplete or no data"),
            _f(f"{code}_a", f"{key}:after", f"{zh} 规划后 {en}: after the plan"),
            _f(f"{code}_as", f"{key}:status_after", f"{zh} 规划后评价 {en}: status after the plan",
               "pass, fail, incomplete or no data"),
        ]
    return tuple(out)


DISTRICT_FIELDS = _district_fields()

#: Layer -> (bilingual title, description, fields).
LAYERS: dict[str, tuple[str, str, tuple[Field, ...]]] = {
    "communities": ("社区/村 Communities", "service status today and after the plan", COMMUNITY_FIELDS),
    "facilities": ("现有设施 Existing facilities", "today's facilities", FACILITY_FIELDS),
    "sites": ("规划场地 Proposed sites", "the plan's new sites", SITE_FIELDS),
    "districts": ("区县指标 District indicators", "every indicator, target, today and after",
                  DISTRICT_FIELDS),
    "streets": ("街道/镇 Streets and towns", "coverage of the street's communities", STREET_FIELDS),
    "iso_proposed": ("规划场地步行圈 Walk zones of the proposed sites",
                     "street space within the walking limit", ISO_FIELDS),
    "iso_existing": ("现有设施步行圈 Walk zones of today's facilities",
                     "street space within the walking limit", ISO_FIELDS),
    "served_areas": ("服务覆盖面 Served-area surfaces", "as the run made them", SURFACE_FIELDS),
}


# ---------------------------------------------------------------- layers


def _layer(frame: pd.DataFrame, fields: tuple[Field, ...], crs: Any) -> gpd.GeoDataFrame:
    """The fields present in ``frame``, renamed to their short names, in WGS-84."""
    cols = {f.source: f.name for f in fields if f.source in frame.columns}
    out = pd.DataFrame({name: frame[src].to_numpy() for src, name in cols.items()})
    for c in out.columns:
        s = out[c]
        if s.dtype == object and s.map(lambda v: v is None or isinstance(v, (bool, np.bool_))).all() \
                and s.notna().any():
            out[c] = s.astype("boolean")
    gdf = gpd.GeoDataFrame(out, geometry=np.asarray(frame.geometry.to_numpy()), crs=crs)
    return gdf.to_crs(CRS) if crs is not None else gdf


def community_layer(run: RunOutputs) -> gpd.GeoDataFrame:
    """Communities with status today and after, and the reason where there is one."""
    comm = run.communities.copy()
    comm["status_text"] = comm["status"].map(STATUS_LABELS)
    if "status_after" in comm:
        comm["status_after_text"] = comm["status_after"].map(STATUS_LABELS)
    if "reason" not in comm and run.unreachable is not None and len(run.unreachable):
        why = dict(zip(run.unreachable["id"].astype(str), run.unreachable["reason"], strict=True))
        comm["reason"] = comm["id"].astype(str).map(why)
    return _layer(comm, COMMUNITY_FIELDS, comm.crs)


def facility_layer(run: RunOutputs) -> gpd.GeoDataFrame | None:
    """Today's facilities, flagged below the floor-area standard (``None``: no such layer)."""
    fac = run.inputs.get("facilities") if run.inputs is not None else None
    if fac is None:
        return None
    fac = fac.copy()
    fac["kind_text"] = fac["kind"].map(KIND_LABELS).fillna(fac["kind"])
    fac["below_standard"] = below_standard(fac, run.scenario.standards)
    return _layer(fac, FACILITY_FIELDS, fac.crs)


def site_layer(run: RunOutputs) -> gpd.GeoDataFrame | None:
    """The plan's sites (``None`` for an assessment)."""
    if run.sites is None:
        return None
    sites = run.sites.copy()
    sites["kinds_text"] = sites["kinds"].map(kinds_text)
    return _layer(sites, SITE_FIELDS, sites.crs)


def district_layer(run: RunOutputs) -> gpd.GeoDataFrame | None:
    """District polygons with every indicator before and after the plan."""
    districts = run.inputs.get("districts") if run.inputs is not None else None
    if districts is None:
        return None
    frame = districts[["code", "name", "geometry"]].rename(
        columns={"code": "district", "name": "district_name"}).copy()
    frame["district"] = frame["district"].astype(str)
    for when, table in (("before", run.districts_before), ("after", run.districts_after)):
        if table is None:
            continue
        t = table[table["district"].astype(str) != "city"].copy()
        t["district"] = t["district"].astype(str)
        for key in INDICATOR_CODES:
            rows = t[t["indicator"] == key].set_index("district")
            frame[f"{key}:{when}"] = frame["district"].map(rows["value"])
            frame[f"{key}:status_{when}"] = frame["district"].map(rows["status"])
            if when == "before":
                frame[f"{key}:target"] = frame["district"].map(rows["target"])
    comm = run.communities
    off = comm[comm["status"] == "unreachable"]["district"].astype(str).value_counts()
    frame["not_on_network"] = frame["district"].map(off).fillna(0).astype(int)
    return _layer(frame, DISTRICT_FIELDS, districts.crs)


def _shares(comm: pd.DataFrame, labels: pd.Series, col: str) -> pd.Series:
    on = comm["snapped"].to_numpy(dtype=bool)
    served = comm[col].fillna(False).to_numpy(dtype=bool)
    return pd.Series(served[on]).groupby(labels.to_numpy()[on]).mean()


def street_layer(run: RunOutputs) -> gpd.GeoDataFrame | None:
    """Streets/towns with their communities' coverage and street centres, today and after."""
    streets = run.inputs.get("streets") if run.inputs is not None else None
    if streets is None:
        return None
    comm = run.communities
    if "street" in comm and comm["street"].notna().any():
        label = comm["street"].astype(object).where(comm["street"].notna(), None)
    else:
        label = street_of_points(comm, streets)
    label = pd.Series(label.to_numpy(), index=comm.index).astype(str)
    frame = streets[["code", "name", "district", "geometry"]].copy()
    frame["code"] = frame["code"].astype(str)
    counts = label.value_counts()
    frame["communities"] = frame["code"].map(counts).fillna(0).astype(int)
    frame["on_network"] = frame["code"].map(label[comm["snapped"].to_numpy(dtype=bool)]
                                            .value_counts()).fillna(0).astype(int)
    frame["population"] = frame["code"].map(comm["population"].groupby(label).sum())
    c = comm.assign(both=comm["elderly_served"] & comm["childcare_served"])
    cols = {"elderly_before": "elderly_served", "childcare_before": "childcare_served",
            "both_before": "both"}
    if "status_after" in comm:
        c["both_after"] = c["elderly_served_after"] & c["childcare_served_after"]
        cols |= {"elderly_after": "elderly_served_after",
                 "childcare_after": "childcare_served_after", "both_after": "both_after"}
    for name, col in cols.items():
        frame[name] = frame["code"].map(_shares(c, label, col))
    frame["centre_before"] = frame["code"].isin(_centre_streets(run.inputs.get("facilities"),
                                                                streets, "kind"))
    if run.sites is not None:
        frame["centre_after"] = frame["centre_before"] | frame["code"].isin(
            _centre_streets(run.sites, streets, "kinds"))
        in_street = street_of_points(run.sites, streets).astype(str) if len(run.sites) else pd.Series([])
        frame["new_sites"] = frame["code"].map(in_street.value_counts()).fillna(0).astype(int)
    _street_table_columns(frame, run.streets)
    return _layer(frame, STREET_FIELDS, streets.crs)


def _street_table_columns(frame: pd.DataFrame, table: pd.DataFrame | None) -> None:
    """The street table's 托班 and capacity columns, by street code, into ``frame``."""
    if table is None or "street" not in table:
        return
    rows = table[table["street"].notna()].copy()
    rows["street"] = rows["street"].astype(str)
    rows = rows.drop_duplicates("street").set_index("street")
    for col in STREET_TABLE_COLUMNS:
        if col in rows:
            values = frame["code"].map(rows[col])
            # the 托班 flag is 1/0/NaN in the table (NaN: not recorded): a nullable boolean
            frame[col] = values.astype("boolean") if col == "kindergarten_tuoban" else values


def _centre_streets(points: gpd.GeoDataFrame | None, streets: gpd.GeoDataFrame,
                    column: str) -> set[str]:
    """Street codes holding a street centre among ``points`` (``kind`` or ``kinds`` column)."""
    if points is None or not len(points):
        return set()
    is_centre = points[column].astype(str).str.split(";").map(lambda ks: "street_centre" in ks)
    sel = points[is_centre.to_numpy(dtype=bool)]
    if not len(sel):
        return set()
    return {str(s) for s in street_of_points(sel, streets) if s is not None}


def isochrone_layers(run: RunOutputs) -> dict[str, gpd.GeoDataFrame]:
    """``iso_proposed``, ``iso_existing`` and ``served_areas`` from the run's isochrone sets.

    A set named ``proposed_<kind>`` or ``existing_<kind>`` goes to the isochrone
    layer of its prefix, with the kind in a column; any other set (served-area
    surfaces) to ``served_areas``, with its name in ``surface``.
    """
    groups: dict[str, list[gpd.GeoDataFrame]] = {"iso_proposed": [], "iso_existing": [],
                                                  "served_areas": []}
    for name in sorted(run.isochrones):
        gdf = run.isochrones[name]
        if gdf is None or not len(gdf):
            continue
        g = gdf.copy()
        g["area_km2"] = g.geometry.area / 1e6 if g.crs is not None and g.crs.is_projected else np.nan
        prefix, _, kind = name.partition("_")
        if prefix in ("proposed", "existing"):
            g["kind"] = kind
            g["site_id"] = g["id"].astype(str).str.split(":").str[0] if "id" in g else None
            groups[f"iso_{prefix}"].append(_layer(g, ISO_FIELDS, g.crs))
        else:
            g["surface"] = name
            groups["served_areas"].append(_layer(g, SURFACE_FIELDS, g.crs))
    return {k: gpd.GeoDataFrame(pd.concat(v, ignore_index=True), crs=CRS)
            for k, v in groups.items() if v}


def run_layers(run: RunOutputs) -> dict[str, gpd.GeoDataFrame]:
    """Every spatial layer of ``run.gpkg``, by name (layers the run lacks left out).

    Parameters
    ----------
    run
        The run's outputs.

    Returns
    -------
    dict
        Layer name -> GeoDataFrame with short field names, in EPSG:4326.
    """
    makers: dict[str, Callable[[RunOutputs], gpd.GeoDataFrame | None]] = {
        "communities": community_layer, "facilities": facility_layer, "sites": site_layer,
        "districts": district_layer, "streets": street_layer}
    out = {name: make(run) for name, make in makers.items()}
    layers = {k: v for k, v in out.items() if v is not None}
    layers.update(isochrone_layers(run))
    return layers


def field_guide(layers: dict[str, gpd.GeoDataFrame] | None = None) -> pd.DataFrame:
    """Every layer's fields: layer, field, alias (bilingual), description.

    Parameters
    ----------
    layers
        Only the fields present in these layers (default: every field of :data:`LAYERS`).

    Returns
    -------
    pandas.DataFrame
    """
    rows = []
    for layer, (_, _, fields) in LAYERS.items():
        if layers is not None and layer not in layers:
            continue
        for f in fields:
            if layers is None or f.name in layers[layer].columns:
                rows.append({"layer": layer, "field": f.name, "alias": f.alias,
                             "description": f.description})
    return pd.DataFrame(rows, columns=["layer", "field", "alias", "description"])


def _run_info(run: RunOutputs) -> pd.DataFrame:
    from carecircle import __version__

    scen = run.scenario
    w = getattr(scen, "walking", None)
    rows = [("scenario", getattr(scen, "name", "")), ("title", getattr(scen, "title", "")),
            ("crs_of_this_file", CRS),
            ("crs_of_the_run", getattr(getattr(run.inputs, "crs", None), "to_string", lambda: "")()),
            ("plan", "yes" if run.sites is not None else "no (assessment)"),
            ("carecircle", __version__)]
    if w is not None:
        rows += [("walking_minutes", f"{w.minutes:g}"),
                 *[(f"walking_speed_{k}_mps", f"{v:g}") for k, v in w.speed_mps.items()],
                 ("max_snap_m", f"{w.max_snap_m:g}")]
    return pd.DataFrame(rows, columns=["key", "value"]).astype(str)


# ---------------------------------------------------------------- writing

_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS gpkg_data_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, name TEXT, title TEXT,
  description TEXT, mime_type TEXT, constraint_name TEXT,
  CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name),
  CONSTRAINT gdc_tn UNIQUE (table_name, name));
CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (
  constraint_name TEXT NOT NULL, constraint_type TEXT NOT NULL, value TEXT, min NUMERIC,
  min_is_inclusive BOOLEAN, max NUMERIC, max_is_inclusive BOOLEAN, description TEXT,
  CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value));
CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
"""
_SCHEMA_EXT = "http://www.geopackage.org/spec/#extension_schema"


def _add_aliases(path: Path, guide: pd.DataFrame) -> None:
    """Field aliases and descriptions in the GeoPackage schema extension (gpkg_data_columns)."""
    con = sqlite3.connect(path)
    try:
        con.executescript(_SCHEMA_SQL)
        for table in ("gpkg_data_columns", "gpkg_data_column_constraints"):
            con.execute("INSERT OR IGNORE INTO gpkg_extensions VALUES (?, NULL, 'gpkg_schema', ?, "
                        "'read-write')", (table, _SCHEMA_EXT))
        con.executemany(
            "INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, title, "
            "description) VALUES (?, ?, ?, ?, ?)",
            [(r.layer, r.field, r.alias, r.alias, r.description or None)
             for r in guide.itertuples(index=False)])
        con.commit()
    finally:
        con.close()


def write_geopackage(run: RunOutputs, path: str | Path) -> Path:
    """Write ``run.gpkg`` (see the module docstring), atomically.

    Parameters
    ----------
    run
        The run's outputs.
    path
        The ``.gpkg`` file to write.

    Returns
    -------
    Path
        ``path``.
    """
    layers = run_layers(run)
    guide = field_guide(layers)

    def write(tmp: Path) -> None:
        for name, gdf in layers.items():
            title, description, _ = LAYERS[name]
            # the layer name is always given: GDAL would otherwise name it after the
            # temporary file, which may not be a valid layer name
            # polygons as MultiPolygon: a layer's declared type then fits every feature
            multi = bool(gdf.geom_type.isin(["Polygon", "MultiPolygon"]).any())
            pyogrio.write_dataframe(gdf, tmp, layer=name, driver="GPKG", promote_to_multi=multi,
                                    layer_options={"IDENTIFIER": title, "DESCRIPTION": description})
        pyogrio.write_dataframe(_run_info(run), tmp, layer="run_info", driver="GPKG",
                                layer_options={"IDENTIFIER": "运行信息 Run information"})
        pyogrio.write_dataframe(guide, tmp, layer="field_guide", driver="GPKG",
                                layer_options={"IDENTIFIER": "字段说明 Field guide"})
        _add_aliases(tmp, guide)

    return write_atomic(path, write)
