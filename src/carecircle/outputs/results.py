"""The tables a run produces, in one object that maps, reports and notebooks share.

Column contracts (canonical English names; bilingual labels come from
:data:`COLUMN_LABELS` when a table is written for people):

``communities`` (GeoDataFrame, one row per community, metric CRS, point geometry)
    id, name, district, district_name, street, urban_rural, population, pop_60plus,
    pop_0_3, households, snapped (bool: joined the network within the snap limit),
    snap_m, snap_way (the type of the way joined, with why it cannot be entered from
    the street when nothing else was within reach: ``service (tunnel, layer -3)``),
    and for each kind K in (elderly, childcare): K_m (walking metres to the
    nearest qualifying facility, NaN if none within reach), K_min (minutes),
    K_served (bool), K_facility (id of the nearest qualifying facility or ""),
    K_substandard (bool: a facility of that kind is within reach but below the
    floor-area standard), plus ``status``: one of ``both``, ``elderly_only``,
    ``childcare_only``, ``neither``, ``unreachable`` (not on the network).
    After a plan, the same columns with suffix ``_after`` for served/status.

``districts`` (DataFrame, long format: one row per district x indicator, plus the
city total with district = "city")
    district, district_name, indicator, label, value, target, target_text, gap,
    status ("pass" / "fail" / "no data"), unit.

``sites`` (GeoDataFrame of proposed sites)
    id, name, district, kinds (";"-joined kinds hosted), floor_area_m2, acquisition,
    cost_yuan (= building_yuan + fitout_yuan - shared_saving_yuan), places_added,
    beds_added, nursing_beds_added, demonstration, communities_newly_served,
    elderly_residents_newly_served (weight of the elderly kind, 60+ by default),
    childcare_residents_newly_served (0-3 by default), residents_newly_served (their
    sum), snap_m, snap_way.

``districts_committed`` (DataFrame or None): the district table of the committed state
(today plus the plan's major projects, ``include_major_projects``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd

STATUSES = ("both", "elderly_only", "childcare_only", "neither", "unreachable")
STATUS_LABELS = {
    "both": "两类均达标 Both served",
    "elderly_only": "仅养老 Elderly care only",
    "childcare_only": "仅托育 Childcare only",
    "neither": "均未覆盖 Neither",
    "unreachable": "不在路网上 Not on the network",
}

COLUMN_LABELS: dict[str, str] = {
    "id": "编号 ID",
    "name": "名称 Name",
    "district": "区县代码 District code",
    "district_name": "区县 District",
    "street": "街道 Street",
    "urban_rural": "城乡 Urban/rural",
    "population": "人口 Population",
    "pop_60plus": "60岁以上 Aged 60+",
    "pop_0_3": "0-3岁 Aged 0-3",
    "households": "户数 Households",
    "outside_extent": "超出路网范围 Outside the network's extent",
    "snapped": "接入路网 On network",
    "snap_m": "接入距离(米) Snap distance (m)",
    "snap_way": "接入道路类型 Way joined",
    "elderly_m": "至养老设施步行距离(米) Walk to elderly care (m)",
    "elderly_min": "至养老设施步行时间(分钟) Walk to elderly care (min)",
    "elderly_served": "养老覆盖 Elderly care served",
    "elderly_facility": "服务的养老设施 Serving elderly facility",
    "elderly_substandard": "有面积不达标养老设施 Elderly facility below standard",
    "childcare_m": "至托育设施步行距离(米) Walk to childcare (m)",
    "childcare_min": "至托育设施步行时间(分钟) Walk to childcare (min)",
    "childcare_served": "托育覆盖 Childcare served",
    "childcare_facility": "服务的托育设施 Serving childcare facility",
    "childcare_substandard": "有面积不达标托育设施 Childcare facility below standard",
    "status": "服务状态 Status",
    "status_after": "规划后服务状态 Status after plan",
    "status_committed": "已承诺项目建成后服务状态 Status with committed projects",
    "elderly_served_committed": "已承诺项目建成后养老覆盖 Elderly served, committed",
    "childcare_served_committed": "已承诺项目建成后托育覆盖 Childcare served, committed",
    "elderly_served_after": "规划后养老覆盖 Elderly served after plan",
    "childcare_served_after": "规划后托育覆盖 Childcare served after plan",
    "elderly_facility_after": "规划后服务的养老设施 Serving elderly facility after plan",
    "childcare_facility_after": "规划后服务的托育设施 Serving childcare facility after plan",
    "compound_need_m2": "小区养老用房需求(平方米) Compound elderly floor area needed (m²)",
    "compound_served_m2": "服务该小区的养老面积(平方米) Elderly floor area serving it (m²)",
    "compound_ok": "小区配建达标 Compound rule met",
    "indicator": "指标代码 Indicator key",
    "label": "指标 Indicator",
    "value": "现状值 Value",
    "target": "目标值 Target",
    "target_text": "目标 Target",
    "gap": "差距 Gap",
    "unit": "单位 Unit",
    "kinds": "建设类型 Kinds",
    "floor_area_m2": "建筑面积(平方米) Floor area (m²)",
    "acquisition": "取得方式 Acquisition",
    "cost_yuan": "费用(元) Cost (yuan)",
    "places_added": "新增托位 New childcare places",
    "beds_added": "新增床位 New beds",
    "nursing_beds_added": "新增护理型床位 New nursing-type beds",
    "demonstration": "公办示范性养老院 Public demonstration home",
    "building_yuan": "建筑取得/改造费用(一次) Building: acquire, build or renovate (once, yuan)",
    "fitout_yuan": "各类设施装修费用 Fit-out of the kinds hosted (yuan)",
    "shared_saving_yuan": "合建节省 Shared-building saving (yuan)",
    "communities_newly_served": "新覆盖社区数 Communities newly served",
    "elderly_residents_newly_served": "新覆盖60岁以上人口 Aged 60+ newly served (elderly care)",
    "childcare_residents_newly_served": "新覆盖0-3岁人口 Aged 0-3 newly served (childcare)",
    "residents_newly_served": "新覆盖服务对象(60岁以上+0-3岁) People newly served (60+ by elderly "
                              "care, 0-3 by childcare)",
}


def bilingual(df: pd.DataFrame, extra: dict[str, str] | None = None) -> pd.DataFrame:
    """A copy with bilingual column headers (unknown columns keep their name).

    Parameters
    ----------
    df
        A table with canonical English column names.
    extra
        More column -> label pairs, over :data:`COLUMN_LABELS`.

    Returns
    -------
    pandas.DataFrame
        The copy, renamed.
    """
    labels = {**COLUMN_LABELS, **(extra or {})}
    return df.rename(columns={c: labels.get(c, c) for c in df.columns})


@dataclass
class RunOutputs:
    """Everything one run produced, for maps, reports and notebooks.

    Attributes
    ----------
    scenario
        The :class:`~carecircle.inputs.scenario.Scenario`.
    inputs
        The loaded :class:`~carecircle.inputs.load.Inputs`.
    communities
        Community status (see module docstring).
    districts_before, districts_after
        District indicator tables before and after the plan (``after`` is ``None``
        for an assessment).
    districts_committed
        The district table of the committed state (today plus the plan's major
        projects), ``None`` when the scenario leaves the projects out.
    sites
        Proposed sites (``None`` for an assessment).
    costs
        Cost summary tables by name (``None`` for an assessment).
    isochrones
        Name -> GeoDataFrame of walking-isochrone polygons: ``existing_<kind>`` is the
        area today's qualifying facilities of that kind serve, one row (see
        :mod:`carecircle.network.surface`); ``proposed_<kind>`` one walk zone per
        proposed facility.
    headline
        Headline numbers for the briefing (name -> value).
    notes
        Things the reader must know (assumed layers, excluded points, solver status).
    details
        Technical detail for the run log (per-district factors, model reduction).
    unreachable
        Points not on the walking network: layer, id, name, distance to the network,
        reason.
    facilities
        Capacity and load of each facility and kind it serves, today (and after the
        plan, ``*_after``): :mod:`carecircle.assess.capacity`.
    streets
        The street/town table (:mod:`carecircle.assess.streets`).
    basis
        The plan with the siting problem it solved
        (:class:`~carecircle.siting.evaluate.PlanBasis`; ``None`` for an assessment):
        the what-if page and the GeoPackage read the reach and the candidates from it.
    network
        The walking network (a :class:`~carecircle.network.walknet.WalkNetwork`), for
        the maps' street layer; ``None``: maps without streets.
    """

    scenario: Any
    inputs: Any
    communities: gpd.GeoDataFrame
    districts_before: pd.DataFrame
    districts_after: pd.DataFrame | None = None
    sites: gpd.GeoDataFrame | None = None
    costs: dict[str, pd.DataFrame] | None = None
    isochrones: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    headline: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    unreachable: pd.DataFrame | None = None
    facilities: pd.DataFrame | None = None
    streets: pd.DataFrame | None = None
    districts_committed: pd.DataFrame | None = None
    basis: Any = None
    network: Any = None
