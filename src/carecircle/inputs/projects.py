"""The plan's own major projects (附件2 重大项目清单) as data, and counting them as built.

The bundled table ``carecircle/data/major_projects.csv`` is attachment 2 of the plan
transcribed: 24 elderly-care and 3 childcare projects with location, floor area, beds or
places and money in 10,000 yuan (万元).  :func:`load_major_projects` reads it (or a user's
copy that may add ``lon``/``lat``), converts money to yuan and checks the plan's own
totals.  :func:`projects_as_built` turns them into per-district additions to the
indicators and, where coordinates exist, into facilities of the data model.

Decisions (stated here and carried into the outputs):

* **Ownership** follows the implementing unit (组织实施单位): a government body
  (民政局, 卫生健康委, 街办, 管委会) -> ``public``; a company (有限公司) -> ``private``.
  So every elderly-care project is public (including 商运普康 and 爱迩德, which the plan
  lists under 莲湖区民政局) and two of the three childcare projects (天贝贝, 新海伦, both
  inclusive but company-run) are private.  ``public_beds_added`` counts the beds of
  public projects.
* **Beds and places stated for a renovation/expansion (改扩建) project count as added**:
  the plan gives them as the project's scale, not as an increment.
* **The fire-safety retrofit (row 14, 消防安全改造) adds nothing**: its floor area is the
  area retrofitted in an existing centre and it has no beds; it is kept in the money
  totals but adds no beds, no floor area and no facility.
* **Kind** from the project's type: childcare sector -> ``childcare``; a name with
  综合养老服务中心 -> ``street_centre``; a 社区居家养老服务网络 project -> ``elderly``
  (community station network); any other elderly project (养老院, 敬老院, 康养/医养
  centres) -> ``institution``.
* **Demonstration home**: a public institution project whose name says 示范 (碑林区示范性
  养老院, 雁塔区公办示范性养老院, 鄠邑区公办示范性养老院) is a public demonstration elderly
  home (task 4).
* **Nursing-type beds** are not in attachment 2; :func:`projects_as_built` counts them at a
  share the caller states (the scenario's assumption for new institutions).
* **Street** is parsed from the location where it names one 街道 or 镇 (e.g.
  ``临潼区交口街道`` -> ``交口街道``); ``鄠邑区各自街道辖区`` ("each in its own street")
  names none and is left empty.
"""

from __future__ import annotations

import math
import re
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from carecircle.errors import InputError, Problem, ProblemLog

# Xi'an's 11 districts and 2 counties (docs/plan.md), plus the Xixian New Area, which the plan
# names but which is not one of them.
XIAN_DISTRICTS = (
    "新城区", "碑林区", "莲湖区", "雁塔区", "灞桥区", "未央区", "阎良区", "临潼区", "长安区",
    "高陵区", "鄠邑区", "蓝田县", "周至县",
)
OTHER_AREAS = ("西咸新区",)
UNSPECIFIED_DISTRICT = "未注明 unspecified"

# The plan's own totals in 万元 (attachment 2, 全市总计 / 养老领域 / 托育领域).
PLAN_TOTALS_10K = {
    "investment": 282_167.91, "investment_elderly": 278_789.73, "investment_childcare": 3_378.18,
    "central_funds": 55_831.0, "central_funds_elderly": 54_055.0, "central_funds_childcare": 1_776.0,
}
PLAN_COUNTS = {"elderly": 24, "childcare": 3}

PROJECT_COLUMNS = (
    "id", "no", "sector", "name", "build_type", "build_type_en", "kind", "ownership", "period",
    "location", "district", "street", "floor_area_m2", "beds", "places", "investment_yuan",
    "central_funds_yuan", "implementing_unit", "content", "lon", "lat",
)
FACILITY_COLUMNS = (
    "id", "name", "kind", "floor_area_m2", "beds", "places", "ownership", "district",
    "nursing_beds", "demonstration", "geometry",
)
ADDITION_COLUMNS = (
    "district", "district_code", "in_study_area", "n_projects", "beds_added", "public_beds_added",
    "places_added", "public_places_added", "floor_area_elderly_added",
    "floor_area_childcare_added", "investment_yuan", "central_funds_yuan", "projects",
    "nursing_beds_added", "demonstration_added",
)

# Bilingual headers for the tables of this module (merge into costing.to_bilingual labels).
COLUMN_LABELS: dict[str, str] = {
    "id": "编号 ID", "no": "序号 No.", "sector": "领域 Sector", "name": "项目名称 Project",
    "build_type": "项目类型 Type", "build_type_en": "类型 Type (en)", "kind": "设施类型 Kind",
    "ownership": "性质 Ownership", "period": "建设期限 Period", "location": "建设地点 Location",
    "district": "区县 District", "district_code": "区县代码 District code",
    "street": "街道/镇 Street/town", "floor_area_m2": "建筑面积 Floor area (m²)",
    "beds": "床位 Beds", "places": "托位 Childcare places",
    "investment_yuan": "总投资 Investment (yuan)",
    "central_funds_yuan": "拟申请中央预算内投资 Central funds requested (yuan)",
    "implementing_unit": "组织实施单位 Implementing unit", "content": "建设内容和规模 Content",
    "in_study_area": "在研究区内 In study area", "n_projects": "项目数 Projects",
    "beds_added": "新增床位 Beds added", "public_beds_added": "新增公办床位 Public beds added",
    "places_added": "新增托位 Places added", "public_places_added": "新增公办托位 Public places added",
    "floor_area_elderly_added": "新增养老建筑面积 Elderly floor area added (m²)",
    "floor_area_childcare_added": "新增托育建筑面积 Childcare floor area added (m²)",
    "projects": "项目编号 Projects",
    "nursing_beds_added": "新增护理型床位(按假定比例) Nursing-type beds added (assumed share)",
    "demonstration_added": "新增公办示范性养老院 Public demonstration homes added",
}

# file column -> canonical column (the bundled file's names, the plan's Chinese headers)
_ALIASES: dict[str, str] = {
    "序号": "no", "领域": "sector", "项目名称": "name", "项目类型": "build_type",
    "建设期限": "period", "建设地点": "location", "区县": "district", "街道": "street",
    "建筑面积": "floor_area_m2", "床位": "beds", "托位": "places", "childcare_places": "places",
    "建设内容和规模": "content", "组织实施单位": "implementing_unit",
    "总投资(万元)": "investment_10k_yuan", "总投资": "investment_10k_yuan",
    "拟申请中央预算内投资(万元)": "central_funds_10k_yuan",
    "拟申请中央预算内投资": "central_funds_10k_yuan",
    "lng": "lon", "longitude": "lon", "经度": "lon", "latitude": "lat", "纬度": "lat",
    "编号": "id",
}
_SECTORS = {"elderly": "elderly", "养老": "elderly", "养老领域": "elderly",
            "childcare": "childcare", "托育": "childcare", "托育领域": "childcare"}
_BUILD_TYPES = {"新建": "new", "改扩建": "renovate_expand", "消防安全改造": "safety_retrofit"}
_STREET_RE = re.compile(r"([\u4e00-\u9fff]{1,8}?(?:街道|镇))")
_NOT_A_STREET = ("各自", "各")  # 各自街道辖区: "each in its own street", names none
_COMPANY_WORDS = ("有限公司", "公司", "集团")


def _norm_col(name: str) -> str:
    return re.sub(r"\s+", "", str(name)).replace("（", "(").replace("）", ")").lower()


def parse_district(location: str | None) -> str | None:
    """The district, county or new area a location string starts with, if any.

    Parameters
    ----------
    location
        e.g. ``"碑林区含光路111号"``.

    Returns
    -------
    str or None
        e.g. ``"碑林区"``; ``None`` if the location names none (``"融创西安宸院26号楼"``).
    """
    if not location or (isinstance(location, float) and math.isnan(location)):
        return None
    text = str(location).strip()
    for name in XIAN_DISTRICTS + OTHER_AREAS:
        if text.startswith(name):
            return name
    return None


def parse_street(location: str | None) -> str | None:
    """The street (街道) or town (镇) a location names, if it names exactly one.

    Parameters
    ----------
    location
        e.g. ``"临潼区交口街道"`` or ``"周至县哑柏镇"``.

    Returns
    -------
    str or None
        ``"交口街道"``, ``"哑柏镇"``; ``None`` for ``"碑林区含光路111号"`` or
        ``"鄠邑区各自街道辖区"``.
    """
    if not location or (isinstance(location, float) and math.isnan(location)):
        return None
    text = str(location).strip()
    district = parse_district(text)
    if district:
        text = text[len(district):]
    m = _STREET_RE.match(text)
    if m is None:
        return None
    street = m.group(1)
    if street.removesuffix("街道").removesuffix("镇") in _NOT_A_STREET:
        return None
    return street


def project_kind(sector: str, name: str) -> str:
    """Facility kind of a project (see the module notes): elderly, street_centre, institution, childcare.

    Parameters
    ----------
    sector
        ``elderly`` or ``childcare``.
    name
        The project's name (the plan's words decide centre / institution).
    """
    if sector == "childcare":
        return "childcare"
    if "综合养老服务中心" in name:
        return "street_centre"
    if "社区居家养老" in name:
        return "elderly"
    return "institution"


def project_demonstration(kind: str, ownership: str, name: str) -> bool:
    """Whether a project is a public demonstration elderly home (a public institution named 示范).

    Parameters
    ----------
    kind
        From :func:`project_kind`.
    ownership
        From :func:`project_ownership`.
    name
        The project's name.
    """
    return kind == "institution" and ownership == "public" and "示范" in str(name)


def project_ownership(implementing_unit: str | None) -> str:
    """``private`` when a company implements the project, ``public`` for a government body."""
    unit = "" if implementing_unit is None or pd.isna(implementing_unit) else str(implementing_unit)
    return "private" if any(w in unit for w in _COMPANY_WORDS) else "public"


def load_major_projects(path: str | Path | None = None, *, check_totals: bool = True) -> pd.DataFrame:
    """Read the plan's major projects (attachment 2) into canonical columns.

    Parameters
    ----------
    path
        A CSV laid out like the bundled one (its column names, or the plan's Chinese
        headers), optionally with ``lon``/``lat`` (WGS-84) columns; ``None`` reads the
        bundled ``carecircle/data/major_projects.csv``.  Money is in 万元 (columns
        ``investment_10k_yuan``, ``central_funds_10k_yuan``) or already in yuan
        (``investment_yuan``, ``central_funds_yuan``).
    check_totals
        Check 24 elderly + 3 childcare projects and the plan's money totals to the
        0.01 万元 (turn off for a user file holding only some of the projects).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PROJECT_COLUMNS`: ``id`` (``P01``... in file order unless the file
        has ids), ``no`` (the plan's number within its sector), ``sector``
        (elderly/childcare), ``name``, ``build_type`` (the plan's words) and
        ``build_type_en`` (new/renovate_expand/safety_retrofit), ``kind``, ``ownership``,
        ``period``, ``location``, ``district`` (as the plan names it; parsed from the
        location where the file has none), ``street``, ``floor_area_m2``, ``beds``,
        ``places``, ``investment_yuan``, ``central_funds_yuan``, ``implementing_unit``,
        ``content``, ``lon``, ``lat`` (NaN where absent).

    Raises
    ------
    InputError
        The file cannot be read.
    ValidationError
        Missing columns, bad numbers or sectors, wrong counts or totals.
    """
    if path is None:
        label = "carecircle/data/major_projects.csv"
        ref = resources.files("carecircle").joinpath("data", "major_projects.csv")
        with resources.as_file(ref) as p:
            raw = _read(p, label)
    else:
        label = str(path)
        raw = _read(Path(path), label)

    log = ProblemLog()
    df, money = _canonical(raw, label, log)
    log.raise_if_errors()
    ids = [str(v) for v in df["id"]] if "id" in df.columns else [f"P{i + 1:02d}" for i in range(len(df))]
    out = _text_columns(df, ids, label, log)

    def number(col: str, scale: float | None = None) -> pd.Series:
        return _number(df, col, ids, label, log, scale)

    out["floor_area_m2"] = number("floor_area_m2")
    out["beds"] = number("beds")
    out["places"] = number("places")
    out["investment_yuan"] = number(*money["investment"])
    out["central_funds_yuan"] = number(*money["central_funds"])
    unit = df["implementing_unit"] if "implementing_unit" in df.columns else pd.Series([None] * len(df), index=df.index)
    out["implementing_unit"] = unit.fillna("").astype(str).values
    out["content"] = df["content"].fillna("").astype(str) if "content" in df.columns else ""
    out["lon"] = number("lon")
    out["lat"] = number("lat")
    _check_places(out, ids, label, log)
    log.raise_if_errors()
    if check_totals:
        _check_plan_totals(out, label, log)
        log.raise_if_errors()
    return out.reset_index(drop=True)[list(PROJECT_COLUMNS)]


def _canonical(raw: pd.DataFrame, label: str, log: ProblemLog
               ) -> tuple[pd.DataFrame, dict[str, tuple[str, float]]]:
    """Columns renamed to the canonical names; which money columns (and scale) to read."""
    rename = {}
    for col in raw.columns:
        key = _norm_col(col)
        canon = next((v for k, v in _ALIASES.items() if _norm_col(k) == key), key)
        rename[col] = canon
    df = raw.rename(columns=rename)
    for col in ("sector", "name", "location"):
        if col not in df.columns:
            log.error(label, "missing column", column=col, found=str(list(raw.columns)),
                      expected=f"a '{col}' column")
    money = {}
    for canon in ("investment", "central_funds"):
        if f"{canon}_yuan" in df.columns:
            money[canon] = (f"{canon}_yuan", 1.0)
        elif f"{canon}_10k_yuan" in df.columns:
            money[canon] = (f"{canon}_10k_yuan", 10_000.0)
        else:
            log.error(label, "missing column", column=f"{canon}_10k_yuan",
                      expected=f"{canon}_10k_yuan (万元) or {canon}_yuan")
    return df, money


def _column(df: pd.DataFrame, col: str) -> pd.Series:
    return df[col] if col in df.columns else pd.Series([None] * len(df), index=df.index)


def _text_columns(df: pd.DataFrame, ids: list[str], label: str, log: ProblemLog) -> pd.DataFrame:
    """id, no, sector, name, build type, kind, ownership, period, location, district, street."""
    out = pd.DataFrame({"id": ids}, index=df.index)
    out["no"] = pd.to_numeric(df.get("no"), errors="coerce") if "no" in df.columns else np.arange(1, len(df) + 1)
    sectors = []
    for i, v in enumerate(df["sector"]):
        s = _SECTORS.get(str(v).strip().lower(), _SECTORS.get(str(v).strip()))
        if s is None:
            log.error(label, "unknown sector", row=i, feature_id=ids[i], column="sector",
                      found=repr(v), expected="elderly or childcare (养老/托育)")
        sectors.append(s)
    out["sector"] = sectors
    out["name"] = df["name"].astype(str).str.strip()
    bt = df["build_type"] if "build_type" in df.columns else pd.Series([""] * len(df), index=df.index)
    out["build_type"] = bt.fillna("").astype(str).str.replace(r"\s+", "", regex=True)
    out["build_type_en"] = out["build_type"].map(_BUILD_TYPES)
    out["kind"] = [project_kind(s or "", n) for s, n in zip(out["sector"], out["name"], strict=True)]
    out["ownership"] = [project_ownership(u) for u in _column(df, "implementing_unit")]
    out["period"] = df["period"].astype(str) if "period" in df.columns else ""
    out["location"] = df["location"].fillna("").astype(str).str.strip()
    out["district"] = [
        str(g).strip() if isinstance(g, str) and g.strip() else parse_district(loc)
        for g, loc in zip(_column(df, "district"), out["location"], strict=True)
    ]
    out["street"] = [
        str(g).strip() if isinstance(g, str) and g.strip() else parse_street(loc)
        for g, loc in zip(_column(df, "street"), out["location"], strict=True)
    ]
    return out


def _number(df: pd.DataFrame, col: str, ids: list[str], label: str, log: ProblemLog,
            scale: float | None = None) -> pd.Series:
    """A numeric column (``,`` thousands allowed); bad or negative values are errors."""
    if col not in df.columns:
        return pd.Series(np.nan, index=df.index)
    text = df[col].astype(str).str.replace(",", "", regex=False).str.strip()
    text = text.replace({"": None, "nan": None, "None": None})
    num = pd.to_numeric(text, errors="coerce")
    for i in np.flatnonzero((text.notna() & num.isna()).to_numpy()).tolist():
        log.error(label, "not a number", row=i, feature_id=ids[i], column=col,
                  found=repr(df[col].iloc[i]), expected="a number")
    for i in np.flatnonzero((num < 0).to_numpy()).tolist():
        log.error(label, "negative value", row=i, feature_id=ids[i], column=col,
                  found=str(num.iloc[i]), expected=">= 0")
    if scale is None:
        return num
    # money: round the converted amount to the fen so that 万元 x 10,000 sums exactly
    return (num * scale).round(2)


def _check_places(out: pd.DataFrame, ids: list[str], label: str, log: ProblemLog) -> None:
    """lon/lat both or neither, in range; ids unique."""
    for i in np.flatnonzero((out["lon"].isna() ^ out["lat"].isna()).to_numpy()).tolist():
        log.error(label, "only one of lon/lat given", row=i, feature_id=ids[i], column="lon",
                  expected="both lon and lat, or neither")
    bad = out["lon"].notna() & ~(out["lon"].between(-180, 180) & out["lat"].between(-90, 90))
    for i in np.flatnonzero(bad.to_numpy()).tolist():
        log.error(label, "coordinates out of range", row=i, feature_id=ids[i], column="lon",
                  found=f"{out['lon'].iloc[i]}, {out['lat'].iloc[i]}",
                  expected="WGS-84 longitude/latitude in degrees")
    for i in np.flatnonzero(pd.Series(ids).duplicated().to_numpy()).tolist():
        log.error(label, "duplicate id", row=i, feature_id=ids[i], column="id", expected="unique ids")


def _read(path: Path, label: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(Problem("error", label, f"cannot read the table: {exc}")) from None


def _check_plan_totals(df: pd.DataFrame, label: str, log: ProblemLog) -> None:
    """Counts and money against the plan's own totals (to the 0.01 万元 = 100 yuan)."""
    for sector, n in PLAN_COUNTS.items():
        found = int((df["sector"] == sector).sum())
        if found != n:
            log.error(label, f"wrong number of {sector} projects", column="sector",
                      found=str(found), expected=f"{n} as in attachment 2 (or check_totals=False)")
    sums = {
        "investment": df["investment_yuan"].sum(),
        "central_funds": df["central_funds_yuan"].sum(),
    }
    for sector in PLAN_COUNTS:
        sel = df["sector"] == sector
        sums[f"investment_{sector}"] = df.loc[sel, "investment_yuan"].sum()
        sums[f"central_funds_{sector}"] = df.loc[sel, "central_funds_yuan"].sum()
    for key, plan in PLAN_TOTALS_10K.items():
        got = sums[key] / 10_000.0
        if abs(got - plan) >= 0.005:
            log.error(label, f"{key} total differs from the plan's", column=key.split("_")[0],
                      found=f"{got:,.2f} 万元", expected=f"{plan:,.2f} 万元 (attachment 2)")


def _district_lookup(districts: pd.DataFrame | None) -> dict[str, tuple[str, str]]:
    """Plan district name -> (code, name in the layer); matches exact names or the bare name.

    A layer may call 碑林区 "碑林"; both sides are compared without their 区/县 suffix.
    """
    if districts is None:
        return {}
    def bare(s: str) -> str:
        return re.sub(r"(新区|区|县)$", "", s.strip())
    names = districts["name"].astype(str).tolist()
    codes = districts["code"].astype(str).tolist() if "code" in districts.columns else names
    lookup: dict[str, tuple[str, str]] = {}
    for code, name in zip(codes, names, strict=True):
        lookup.setdefault(name.strip(), (code, name))
        lookup.setdefault(bare(name), (code, name))
        lookup.setdefault(code.strip(), (code, name))
    return lookup


def _match(name: str | None, lookup: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    if not name:
        return None
    if name in lookup:
        return lookup[name]
    return lookup.get(re.sub(r"(新区|区|县)$", "", name))


def projects_as_built(
    projects: pd.DataFrame,
    districts: pd.DataFrame | None = None,
    *,
    crs: object | None = None,
    nursing_share: float = 0.0,
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Count the plan's major projects as built: district additions and facilities.

    Parameters
    ----------
    projects
        A table from :func:`load_major_projects`.
    districts
        The study area's districts (``code``, ``name``; a GeoDataFrame with polygons is
        also used to find the district of a project with coordinates but no district).
        ``None``: the study area is Xi'an's 13 districts and counties.
    crs
        CRS of the facilities returned; default the districts' CRS, else WGS-84.
    nursing_share
        Share of a project's beds counted as nursing-type (rounded down): attachment 2
        does not say (default 0).

    Returns
    -------
    additions : pandas.DataFrame
        One row per district the plan names (key ``district``, as the plan writes it,
        e.g. ``碑林区``; projects naming none are under ``未注明 unspecified``), columns
        :data:`ADDITION_COLUMNS`: ``district_code`` of the matching district (None if
        none), ``in_study_area``, beds, public beds, places, public places and floor area
        added, money, the project ids, nursing beds (at *nursing_share*) and public
        demonstration homes added.  Rows outside the study area (e.g. 西咸新区)
        are kept, flagged ``in_study_area = False``, and sorted last.
    facilities : geopandas.GeoDataFrame
        The projects with coordinates as facilities (columns :data:`FACILITY_COLUMNS`,
        ``district`` = the district code when a districts layer matched, else the plan's
        name); empty with these columns when no project has coordinates.  The fire-safety
        retrofit is never a new facility.
    """
    lookup = _district_lookup(districts)
    adds = projects["build_type_en"].fillna("") != "safety_retrofit"
    beds = projects["beds"].fillna(0.0).where(adds, 0.0)
    places = projects["places"].fillna(0.0).where(adds, 0.0)
    area = projects["floor_area_m2"].fillna(0.0).where(adds, 0.0)
    public = projects["ownership"] == "public"
    elderly = projects["sector"] == "elderly"
    nursing = np.floor(beds * nursing_share + 1e-9)
    demo = pd.Series([project_demonstration(k, o, n) for k, o, n in zip(
        projects["kind"], projects["ownership"], projects["name"], strict=True)],
        index=projects.index, dtype=bool) & adds
    key = projects["district"].map(lambda d: d if isinstance(d, str) and d else UNSPECIFIED_DISTRICT)
    frame = pd.DataFrame({
        "district": key, "beds_added": beds, "public_beds_added": beds.where(public, 0.0),
        "places_added": places, "public_places_added": places.where(public, 0.0),
        "floor_area_elderly_added": area.where(elderly, 0.0),
        "floor_area_childcare_added": area.where(~elderly, 0.0),
        "investment_yuan": projects["investment_yuan"], "central_funds_yuan": projects["central_funds_yuan"],
        "id": projects["id"], "nursing_beds_added": nursing,
        "demonstration_added": demo.astype(float),
    })
    grouped = frame.groupby("district", sort=True)
    add = grouped[[c for c in ADDITION_COLUMNS if c in frame.columns and c != "district"]].sum()
    add = add.round(2)
    add.insert(0, "n_projects", grouped.size())
    add["projects"] = grouped["id"].agg(lambda s: ";".join(s))
    add = add.reset_index()
    matched = [None if d == UNSPECIFIED_DISTRICT else _match(d, lookup) for d in add["district"]]
    add["district_code"] = [m[0] if m else None for m in matched]
    if districts is None:
        add["in_study_area"] = add["district"].isin(XIAN_DISTRICTS)
    else:
        add["in_study_area"] = [m is not None for m in matched]
    add = add.sort_values(["in_study_area", "district"], ascending=[False, True], kind="stable")
    additions = add.reset_index(drop=True)[list(ADDITION_COLUMNS)]

    facilities = _facilities(projects[adds].assign(nursing_beds=nursing[adds], demonstration=demo[adds]),
                             districts, lookup, crs)
    return additions, facilities


def _facilities(projects: pd.DataFrame, districts, lookup, crs) -> gpd.GeoDataFrame:
    has = projects["lon"].notna() & projects["lat"].notna()
    p = projects[has]
    geom = shapely.points(p["lon"].to_numpy(float), p["lat"].to_numpy(float)) if len(p) else []
    out = gpd.GeoDataFrame(
        {
            "id": p["id"].astype(str).to_numpy(),
            "name": p["name"].to_numpy(),
            "kind": p["kind"].to_numpy(),
            "floor_area_m2": p["floor_area_m2"].to_numpy(float),
            "beds": p["beds"].to_numpy(float),
            "places": p["places"].to_numpy(float),
            "ownership": p["ownership"].to_numpy(),
            "nursing_beds": p["nursing_beds"].to_numpy(float),
            "demonstration": p["demonstration"].to_numpy(bool),
            "district": pd.Series([
                (m[0] if (m := _match(d, lookup)) else d) if isinstance(d, str) and d else None
                for d in p["district"]
            ], dtype=object),
        },
        geometry=gpd.GeoSeries(geom, crs="EPSG:4326"),
    )
    target = crs
    if target is None and isinstance(districts, gpd.GeoDataFrame) and districts.crs is not None:
        target = districts.crs
    if target is not None:
        out = out.to_crs(target)
    if isinstance(districts, gpd.GeoDataFrame) and len(out) and "geometry" in districts:
        # a project with coordinates but no district: take it from the district polygons
        missing = out["district"].isna()
        if missing.any():
            polys = districts.to_crs(out.crs)
            joined = gpd.sjoin(out.loc[missing, ["geometry"]], polys[["code", "geometry"]],
                               how="left", predicate="within")
            joined = joined[~joined.index.duplicated(keep="first")]
            out.loc[missing, "district"] = joined["code"].where(joined["code"].notna(), None)
    return out[list(FACILITY_COLUMNS)]
