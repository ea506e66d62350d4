"""Readers for every input layer, and the validation that collects every problem.

A layer is read from GeoPackage, GeoJSON, Shapefile, GeoParquet or CSV with lon/lat
columns; Chinese column names are renamed to the canonical English ones
(:mod:`carecircle.inputs.schema`); GCJ-02 / BD-09 coordinates are converted to WGS-84; then
every layer is reprojected to one metric CRS.  Validation never stops at the first
problem: it records each one (file, row, id, column, found, expected) in a
:class:`~carecircle.errors.ProblemLog`, and the caller decides whether errors stop
the run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from carecircle.errors import ProblemLog
from carecircle.inputs.ranges import DATA
from carecircle.inputs.read import WGS84
from carecircle.inputs.schema import (
    ACQUISITION,
    CANDIDATE_KINDS,
    CHILDCARE_STARS,
    COLUMNS,
    FACILITY_KINDS,
    FALSE_WORDS,
    GEOMETRY,
    MEDICAL,
    NUMERIC,
    OWNERSHIP,
    REQUIRED,
    RURAL_WORDS,
    TRUE_WORDS,
    URBAN_WORDS,
)

# How far outside the districts' extent a point may lie before it is an error.
STUDY_AREA_MARGIN_M = 5000.0
#: How far outside every district polygon a point may lie and still be given the nearest
#: district (with a warning); farther, it is an error.  The scenario's
#: ``district_tolerance_m`` overrides it.
DISTRICT_TOLERANCE_M = 500.0


# ---------------------------------------------------------------- validation


def _ids(gdf: pd.DataFrame) -> list[str | None]:
    if "id" in gdf.columns:
        return [None if pd.isna(v) else str(v) for v in gdf["id"]]
    if "code" in gdf.columns:
        return [None if pd.isna(v) else str(v) for v in gdf["code"]]
    return [None] * len(gdf)


def _required(layer: str, optional: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(c for c in REQUIRED[layer] if c not in optional)


def _check_columns(gdf, layer, fname, log, optional=()) -> bool:
    missing = [c for c in _required(layer, optional) if c not in gdf.columns]
    for col in missing:
        aliases = ", ".join(COLUMNS[layer].get(col, ()))
        log.error(fname, "missing column 缺少字段", column=col,
                  found=f"columns {[c for c in gdf.columns if c != 'geometry']}",
                  expected=f"'{col}'" + (f" (or {aliases})" if aliases else ""))
    return not missing


def _check_numbers(gdf, layer, fname, log, ids, optional=()) -> pd.DataFrame:
    for col, positive in NUMERIC.get(layer, ()):
        if col not in gdf.columns:
            if col in optional:
                gdf[col] = np.nan
            continue
        raw = gdf[col]
        text = raw.astype("string").str.strip()
        blank = raw.isna() | (text == "")
        num = pd.to_numeric(raw.where(~blank), errors="coerce")
        for i in np.flatnonzero((num.isna() & ~blank).to_numpy()):
            log.error(fname, "not a number 不是数字", row=int(i), feature_id=ids[i], column=col,
                      found=repr(raw.iloc[i]), expected="a number")
        infinite = np.isinf(num.to_numpy(dtype=float))
        for i in np.flatnonzero(infinite):
            log.error(fname, "not a finite number 数值无穷大", row=int(i), feature_id=ids[i], column=col,
                      found=repr(raw.iloc[i]), expected="a finite number")
        num = num.where(~infinite)
        bad = (num <= 0) if positive else (num < 0)
        for i in np.flatnonzero(bad.fillna(False).to_numpy()):
            log.error(fname, "must be positive 必须为正数" if positive else "negative 不能为负数",
                      row=int(i), feature_id=ids[i], column=col, found=str(num.iloc[i]),
                      expected="> 0" if positive else ">= 0")
        _check_range(num, layer, col, fname, log, ids)
        if col in _required(layer, optional):
            for i in np.flatnonzero(blank.to_numpy()):
                log.error(fname, "value missing 缺少数值", row=int(i), feature_id=ids[i],
                          column=col, found="empty", expected="a number")
        gdf[col] = num.astype("float64")
    return gdf


def _check_range(num: pd.Series, layer: str, col: str, fname: str, log: ProblemLog,
                 ids: list[str | None]) -> None:
    """Values beyond the plausible range of :data:`carecircle.inputs.ranges.DATA`."""
    rng = DATA.get((layer, col))
    if rng is None:
        return
    values = num.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        refused = values > rng.hi
        unusual = (values > rng.warn_hi) & ~refused
    for i in np.flatnonzero(refused):
        log.error(fname, "implausible value 数值不合理", row=int(i), feature_id=ids[i], column=col,
                  found=f"{values[i]:,.6g}", expected=f"at most {rng.hi:,g} {rng.unit} (docs/safety.md)")
    for i in np.flatnonzero(unusual):
        log.warning(fname, "unusually large value 数值异常偏大, please check", row=int(i),
                    feature_id=ids[i], column=col, found=f"{values[i]:,.6g}",
                    expected=f"usually at most {rng.warn_hi:,g} {rng.unit}")


def _check_ids(gdf, fname, log, col="id") -> None:
    if col not in gdf.columns:
        return
    ids = gdf[col].astype("string")
    for i in np.flatnonzero((ids.isna() | (ids.str.strip() == "")).to_numpy()):
        log.error(fname, "empty id 编号为空", row=int(i), column=col, found="empty",
                  expected="a unique id")
    dup = ids.duplicated(keep="first") & ids.notna()
    for i in np.flatnonzero(dup.to_numpy()):
        first = int(np.flatnonzero((ids == ids.iloc[i]).to_numpy())[0])
        log.error(fname, "duplicate id 编号重复", row=int(i), feature_id=str(ids.iloc[i]), column=col,
                  found=f"same id as row {first + 1}", expected="unique ids")


def _check_geometry(gdf, layer, fname, log, ids, lonlat_columns=None) -> np.ndarray:
    """Returns a mask of features whose geometry is usable.

    In a CSV (``lonlat_columns`` given) a point is missing because a longitude or
    latitude cell is not a number: the message names that cell, not ``geometry``.
    """
    geoms = gdf.geometry.array
    ok = np.ones(len(gdf), dtype=bool)
    allowed = GEOMETRY[layer]
    for i, g in enumerate(geoms):
        if (g is None or g.is_empty) and lonlat_columns is not None:
            col, value = _bad_lonlat(gdf, i, lonlat_columns)
            log.error(fname, "longitude/latitude not a number 经纬度不是数字", row=i, feature_id=ids[i],
                      column=col, found=repr(value), expected="a number in degrees")
            ok[i] = False
        elif g is None or g.is_empty:
            log.error(fname, "empty geometry 几何为空", row=i, feature_id=ids[i], column="geometry",
                      found="empty", expected=" or ".join(allowed))
            ok[i] = False
        elif g.geom_type not in allowed:
            log.error(fname, "wrong geometry type 几何类型错误", row=i, feature_id=ids[i],
                      column="geometry", found=g.geom_type, expected=" or ".join(allowed))
            ok[i] = False
        elif not g.is_valid:
            log.error(fname, "invalid geometry 几何无效", row=i, feature_id=ids[i], column="geometry",
                      found=shapely.is_valid_reason(g), expected="a valid (OGC simple features) geometry")
            ok[i] = False
    return ok


def _bad_lonlat(gdf: pd.DataFrame, i: int, columns: tuple[str, str]) -> tuple[str, object]:
    """The first of a CSV row's longitude/latitude cells that is not a number."""
    for col in columns:
        value = gdf[col].iloc[i] if col in gdf.columns else None
        if pd.isna(pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]):
            return col, value
    return "/".join(columns), None


def _vocab(gdf, col, vocab, fname, log, ids, expected, required=True, default=None) -> pd.Series:
    out = []
    for i, v in enumerate(gdf[col] if col in gdf.columns else [None] * len(gdf)):
        if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == "":
            if required:
                log.error(fname, "value missing 缺少取值", row=i, feature_id=ids[i], column=col,
                          found="empty", expected=expected)
            out.append(default)
            continue
        key = str(v).strip()
        norm = vocab.get(key, vocab.get(key.lower()))
        if norm is None:
            log.error(fname, f"unknown {col} 未知取值", row=i, feature_id=ids[i], column=col,
                      found=repr(key), expected=expected)
        out.append(norm)
    return pd.Series(out, index=gdf.index, dtype="object")


def parse_urban_rural(value: object) -> str | None:
    """'urban' / 'rural' from a word or a statistical 3-digit code (1xx / 2xx)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip().lower()
    if text.endswith(".0"):
        text = text[:-2]
    if text in URBAN_WORDS:
        return "urban"
    if text in RURAL_WORDS:
        return "rural"
    if re.fullmatch(r"\d{3}", text):
        return {"1": "urban", "2": "rural"}.get(text[0])
    return None


def split_kinds(value: object) -> list[str] | None:
    """Candidate kinds from ``'elderly;childcare'`` (also ``,``, ``、``, ``|``, ``/``).

    Returns the canonical kinds, ``[]`` for an empty value, or ``None`` when a word is
    unknown.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    out = []
    for part in re.split(r"[;,、|/，；\s]+", str(value).strip()):
        if not part:
            continue
        kind = FACILITY_KINDS.get(part, FACILITY_KINDS.get(part.lower()))
        if kind not in CANDIDATE_KINDS:
            return None
        if kind not in out:
            out.append(kind)
    return out


def _code_text(value: object) -> str:
    """A code as text: 610113.0 (a number column that also holds blanks) -> '610113'."""
    text = str(value).strip()
    return text[:-2] if re.fullmatch(r"\d+\.0", text) else text


def _match_district(values: pd.Series, districts: gpd.GeoDataFrame | None) -> pd.Series:
    if districts is None:
        return pd.Series([None] * len(values), index=values.index, dtype="object")
    lookup = {}
    for code, name in zip(districts["code"].astype(str), districts["name"].astype(str), strict=True):
        lookup[_code_text(code)] = code
        lookup[name.strip()] = code
    return values.map(lambda v: None if pd.isna(v) else lookup.get(_code_text(v))).astype("object")


def study_area(districts: gpd.GeoDataFrame | None, crs: pyproj.CRS) -> shapely.Geometry | None:
    """The districts' extent grown by :data:`STUDY_AREA_MARGIN_M` (``None`` without districts).

    Parameters
    ----------
    districts
        The validated districts.
    crs
        The run's metric CRS.
    """
    if districts is None or len(districts) == 0:
        return None
    hull = shapely.box(*districts.to_crs(crs).total_bounds)
    return hull.buffer(STUDY_AREA_MARGIN_M)


def _lonlat(gdf: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 lon/lat of each feature's point, taken before projecting to the metric CRS.

    Projecting first would turn a swapped point (latitude > 90) into ``inf`` and lose
    the numbers the message must show.
    """
    geoms = gdf.geometry.array
    usable = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    pts = np.array([None] * len(gdf), dtype=object)
    pts[usable] = shapely.point_on_surface(np.asarray(geoms[usable]))
    series = gpd.GeoSeries(pts, crs=gdf.crs)
    if gdf.crs is not None and not pyproj.CRS(gdf.crs).equals(WGS84):
        series = series.to_crs(WGS84)
    return series.x.to_numpy(), series.y.to_numpy()


def _own_coordinates(gdf: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's point in the file's own CRS, for messages (before any reprojection)."""
    geoms = gdf.geometry.array
    usable = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    x = np.full(len(gdf), np.nan)
    y = np.full(len(gdf), np.nan)
    if usable.any():
        pts = shapely.point_on_surface(np.asarray(geoms[usable]))
        x[usable], y[usable] = shapely.get_x(pts), shapely.get_y(pts)
    return x, y


def _position_text(i: int, lonlat: tuple[np.ndarray, np.ndarray], own: tuple[np.ndarray, np.ndarray],
                   src_crs: pyproj.CRS | None) -> tuple[str, str]:
    """What a misplaced point's message shows: the file's own values first; and a hint."""
    lon, lat = lonlat
    x, y = own
    if src_crs is None or src_crs.is_geographic:
        return f"lon {x[i]:.5f}, lat {y[i]:.5f}", ""
    found = f"x {x[i]:,.3f}, y {y[i]:,.3f} in {src_crs.to_string()} (the file's values)"
    if np.isfinite([lon[i], lat[i]]).all():
        found += f", that is lon {lon[i]:.5f}, lat {lat[i]:.5f}"
    hint = ""
    if abs(x[i]) <= 180 and abs(y[i]) <= 90:
        hint = (f" (the values look like degrees, but the layer is declared {src_crs.to_string()}: "
                "declare crs = \"EPSG:4326\" 坐标疑似为经纬度)")
    return found, hint


def _check_location(gdf, lay, area, ok, lonlat, own, lonlat_columns=None) -> np.ndarray:
    """Points far outside the study area are errors; say when lon/lat look swapped.

    ``lonlat`` are the features' WGS-84 coordinates and ``own`` those in the file's CRS,
    both before projection (see :func:`_lonlat`, :func:`_own_coordinates`).
    """
    pts = gdf.geometry.array
    lon, lat = lonlat
    src_crs = lay.source_crs
    to_crs = pyproj.Transformer.from_crs(WGS84, lay.crs, always_xy=True)
    column = "/".join(lonlat_columns) if lonlat_columns else "geometry"
    for i in np.flatnonzero(ok):
        g = pts[i]
        p = g if g.geom_type == "Point" else g.representative_point()
        finite = bool(np.isfinite(shapely.get_coordinates(p)).all())
        if finite and (area is None or area.contains(p)):
            continue
        found, hint = _position_text(int(i), lonlat, own, src_crs)
        sx, sy = to_crs.transform(lat[i], lon[i])
        if not hint and area is not None and np.isfinite([sx, sy]).all() \
                and area.contains(shapely.Point(sx, sy)):
            hint = " (longitude and latitude appear swapped 经纬度疑似颠倒)"
        message = ("point far outside the study area 点位远离研究区" if area is not None
                   else "coordinates out of range 坐标超出范围") + hint
        expected = (f"within {STUDY_AREA_MARGIN_M / 1000:.0f} km of the districts' extent"
                    if area is not None else "longitude -180..180, latitude -90..90")
        lay.log.error(lay.fname, message, row=int(i), feature_id=lay.ids[i], column=column,
                      found=found, expected=expected)
        ok[i] = False
    return ok


@dataclass
class _Layer:
    """What the checks of one layer share: where problems go and what they refer to."""

    layer: str
    fname: str
    log: ProblemLog
    ids: list[str | None]
    crs: pyproj.CRS
    districts: gpd.GeoDataFrame | None = None
    streets: gpd.GeoDataFrame | None = None
    district_tolerance_m: float = DISTRICT_TOLERANCE_M
    coords: str = "wgs84"
    source_crs: pyproj.CRS | None = None


def assign_districts(
    gdf: gpd.GeoDataFrame,
    districts: gpd.GeoDataFrame | None,
    *,
    tolerance_m: float = DISTRICT_TOLERANCE_M,
) -> tuple[pd.Series, np.ndarray]:
    """District code of each feature from the polygons, with the nearest within a tolerance.

    A feature inside a polygon gets that district.  One outside every polygon but within
    ``tolerance_m`` of one (a point on the far side of a boundary road, a boundary drawn
    coarsely) gets the nearest district; one farther gets ``None``.

    Parameters
    ----------
    gdf
        Features in the districts' (metric) CRS.
    districts
        District polygons with ``code``.
    tolerance_m
        How far outside every polygon a feature may lie and still be assigned.

    Returns
    -------
    codes : pandas.Series
        District code per feature (``None`` beyond the tolerance or without geometry).
    distance_m : numpy.ndarray
        Distance to the assigned (or nearest) district; 0 inside, NaN without geometry.
    """
    codes = pd.Series([None] * len(gdf), index=gdf.index, dtype="object")
    dist = np.full(len(gdf), np.nan)
    if districts is None or len(districts) == 0 or len(gdf) == 0:
        return codes, dist
    geoms = gdf.geometry.array
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.any():
        return codes, dist
    pts = gpd.GeoDataFrame(geometry=gdf.geometry[ok].representative_point(), index=gdf.index[ok],
                           crs=gdf.crs)
    joined = gpd.sjoin_nearest(pts, districts[["code", "geometry"]], how="left", distance_col="_d")
    joined = joined[~joined.index.duplicated(keep="first")].reindex(pts.index)
    d = joined["_d"].to_numpy(dtype=float)
    near = np.where(d <= tolerance_m + 1e-9, joined["code"].to_numpy(dtype=object), None)
    codes[ok] = near
    dist[np.flatnonzero(ok)] = d
    return codes, dist


def _report_assigned(lay: _Layer, codes: pd.Series, dist: np.ndarray, rows: np.ndarray) -> None:
    """Warnings for features put in a nearby district, errors for those in none."""
    names = {} if lay.districts is None else dict(zip(lay.districts["code"], lay.districts["name"],
                                                       strict=True))
    hint = ("; if the coordinates come from Amap/Tencent (GCJ-02) or Baidu (BD-09), "
            "declare coords = \"gcj02\" / \"bd09\" for this layer 若坐标来自高德/腾讯或百度, "
            "请在情景中声明 coords" if lay.coords == "wgs84" else
            f"; check the declared coords = \"{lay.coords}\"")
    for i in rows:
        if np.isnan(dist[i]):
            continue
        if pd.isna(codes.iloc[i]):
            lay.log.error(lay.fname, "point lies in no district 点位不在任何区县内" + hint, row=int(i),
                          feature_id=lay.ids[i], column="district",
                          found=f"{dist[i]:,.0f} m outside every district polygon",
                          expected=f"inside a district polygon, or within {lay.district_tolerance_m:g} m "
                                   "of one (district_tolerance_m)")
        elif dist[i] > 0:
            code = codes.iloc[i]
            lay.log.warning(lay.fname, f"point outside every district polygon, assigned to the nearest "
                            f"district {names.get(code, code)} ({code}) 点位在区县边界外, 归入最近区县",
                            row=int(i), feature_id=lay.ids[i], column="district",
                            found=f"{dist[i]:,.0f} m outside", expected="inside a district polygon")


def _district_or_derive(gdf: gpd.GeoDataFrame, lay: _Layer, ok: np.ndarray) -> None:
    """A point layer's district: the given one if it matches, else from the polygons."""
    if lay.districts is None:
        if "district" not in gdf.columns:
            gdf["district"] = None
        return
    derived, dist = assign_districts(gdf, lay.districts, tolerance_m=lay.district_tolerance_m)
    given = (_match_district(gdf["district"], lay.districts) if "district" in gdf.columns
             else pd.Series([None] * len(gdf), index=gdf.index, dtype="object"))
    gdf["district"] = given.where(given.notna(), derived)
    # features already refused for their position get no second message
    _report_assigned(lay, derived, dist, np.flatnonzero(given.isna().to_numpy() & ok))


# ---------------------------------------------------------------- text cells

# Control characters (C0, DEL, C1) and the bidirectional overrides that can disguise text
# in a terminal: openpyxl refuses the former, a terminal obeys both.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean_text(value: object) -> object:
    """``value`` with control characters replaced by a space (other values as they are)."""
    if isinstance(value, str) and _CONTROL.search(value):
        return _CONTROL.sub(" ", value.replace("\r\n", " ").replace("\t", " ")).strip()
    return value


def _clean_texts(gdf: gpd.GeoDataFrame, lay: _Layer) -> None:
    for col in gdf.columns:
        if col == "geometry" or not (pd.api.types.is_object_dtype(gdf[col].dtype)
                                     or pd.api.types.is_string_dtype(gdf[col].dtype)):
            continue
        values = gdf[col]
        bad = values.map(lambda v: isinstance(v, str) and bool(_CONTROL.search(v))).to_numpy(dtype=bool)
        for i in np.flatnonzero(bad):
            lay.log.warning(lay.fname, "control characters removed 已移除控制字符", row=int(i),
                            feature_id=lay.ids[i], column=str(col), found=ascii(values.iloc[i])[:80],
                            expected="printable text")
        if bad.any():
            gdf[col] = values.map(clean_text)


# ---------------------------------------------------------------- one layer


def validate_layer(
    gdf: gpd.GeoDataFrame,
    layer: str,
    fname: str,
    log: ProblemLog,
    *,
    crs: pyproj.CRS,
    districts: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    area: shapely.Geometry | None = None,
    optional: tuple[str, ...] = (),
    derive_district: bool = False,
    district_tolerance_m: float = DISTRICT_TOLERANCE_M,
    coords: str = "wgs84",
    lonlat_columns: tuple[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Check one layer (already renamed) and return it cleaned, in ``crs``.

    Every problem goes to ``log``; features with unusable geometry are kept out of the
    returned frame only when the log holds an error for them (the run then stops).

    Parameters
    ----------
    gdf
        The layer as read, columns renamed to the canonical names.
    layer
        Layer name (``districts``, ``streets``, ``communities``, ``facilities``,
        ``candidates``, ``population_grid``).
    fname
        The file, for messages.
    log
        Where problems go.
    crs
        The run's metric CRS.
    districts, streets
        The validated district and street layers (references and assignment).
    area
        The study area; points far outside it are errors.
    optional
        Columns not required even if the schema requires them (community populations
        when a population grid supplies them).
    derive_district
        Take the communities' district from the polygons (``district = "auto"``).
    district_tolerance_m
        How far outside every district polygon a point may lie and still be given the
        nearest district (with a warning).
    coords
        The layer's declared coordinate system, for hints in messages.
    lonlat_columns
        A CSV's longitude and latitude columns: messages on a point's position name them.

    Returns
    -------
    geopandas.GeoDataFrame
        The cleaned layer in ``crs``.
    """
    if len(gdf) == 0:
        log.error(fname, f"empty layer 图层为空 ({layer})", found="0 features", expected="at least one feature")
        return gdf.to_crs(crs)
    gdf = gdf.reset_index(drop=True)
    if not _check_columns(gdf, layer, fname, log, optional):
        # Still check everything else, so one run reports every problem: validate a copy
        # with the missing columns blank, keeping only problems of the columns present.
        missing = {c for c in _required(layer, optional) if c not in gdf.columns}
        rest = ProblemLog()
        filled = gdf.assign(**dict.fromkeys(missing))
        validate_layer(filled, layer, fname, rest, crs=crs, districts=districts, streets=streets,
                       area=area, optional=optional, derive_district=derive_district,
                       district_tolerance_m=district_tolerance_m, coords=coords,
                       lonlat_columns=lonlat_columns)
        log.problems.extend(p for p in rest.problems if p.column not in missing)
        return gdf.iloc[0:0].to_crs(crs)
    lay = _Layer(layer, fname, log, _ids(gdf), crs, districts, streets, district_tolerance_m, coords,
                 None if gdf.crs is None else pyproj.CRS(gdf.crs))
    id_col = "code" if layer in ("districts", "streets") else "id"
    if layer != "population_grid":
        _check_ids(gdf, fname, log, id_col)
        gdf[id_col] = gdf[id_col].map(lambda v: None if pd.isna(v) else _code_text(v)).astype("object")
    _clean_texts(gdf, lay)
    gdf = _check_numbers(gdf, layer, fname, log, lay.ids, optional)
    ok = _check_geometry(gdf, layer, fname, log, lay.ids, lonlat_columns)
    lonlat = _lonlat(gdf)
    own = _own_coordinates(gdf)
    gdf = gdf.to_crs(crs)
    if layer in ("facilities", "candidates"):
        # a building given by its outline is the point inside it (maps, snapping, tables)
        poly = gdf.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy() & ok
        if poly.any():
            gdf.loc[poly, "geometry"] = gdf.geometry[poly].representative_point()
    if layer != "districts":
        ok = _check_location(gdf, lay, area, ok, lonlat, own, lonlat_columns)
    checks = {"communities": _communities, "streets": _streets, "facilities": _facilities,
              "candidates": _candidates}
    if layer in checks:
        checks[layer](gdf, lay, ok, derive_district)
    if "name" not in gdf.columns:
        gdf["name"] = gdf[id_col] if id_col in gdf.columns else ""
    gdf["name"] = gdf["name"].fillna("").astype(str)
    return gdf


def _communities(gdf: gpd.GeoDataFrame, lay: _Layer, ok: np.ndarray, derive: bool) -> None:
    fname, log, ids, crs = lay.fname, lay.log, lay.ids, lay.crs
    for col in ("pop_60plus", "pop_0_3"):
        over = (gdf[col] > gdf["population"]).fillna(False).to_numpy()
        for i in np.flatnonzero(over):
            log.error(fname, f"{col} larger than population 分组人口大于总人口", row=int(i),
                      feature_id=ids[i], column=col,
                      found=f"{gdf[col].iloc[i]:g} > population {gdf['population'].iloc[i]:g}",
                      expected=f"{col} <= population")
    classes = gdf["urban_rural"].map(parse_urban_rural)
    for i in np.flatnonzero(classes.isna().to_numpy()):
        log.error(fname, "unknown urban/rural class 城乡分类无效", row=int(i), feature_id=ids[i],
                  column="urban_rural", found=repr(gdf["urban_rural"].iloc[i]),
                  expected="urban / rural, 城市 / 农村, or a statistical code 1xx / 2xx")
    gdf["urban_rural"] = classes
    if derive:
        _district_or_derive(gdf, lay, ok)
    else:
        _check_refs(gdf, "district", lay.districts, fname, log, ids, "district")
    if "street" in gdf.columns and lay.streets is not None:
        _check_refs(gdf, "street", lay.streets, fname, log, ids, "street", required=False)
    if "households" not in gdf.columns:
        gdf["households"] = np.nan
    # A polygon community is served at a point inside it; the polygon is kept for maps.
    is_poly = gdf.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy() & ok
    if is_poly.any():
        gdf["area_geometry"] = gpd.GeoSeries(
            np.where(is_poly, gdf.geometry.array, None), index=gdf.index, crs=crs
        ).to_wkb()
        gdf.loc[is_poly, "geometry"] = gdf.geometry[is_poly].representative_point()


def _streets(gdf: gpd.GeoDataFrame, lay: _Layer, ok: np.ndarray, derive: bool) -> None:
    _check_refs(gdf, "district", lay.districts, lay.fname, lay.log, lay.ids, "district")


def _facilities(gdf: gpd.GeoDataFrame, lay: _Layer, ok: np.ndarray, derive: bool) -> None:
    fname, log, ids = lay.fname, lay.log, lay.ids
    gdf["kind"] = _vocab(gdf, "kind", FACILITY_KINDS, fname, log, ids,
                         "elderly, childcare, street_centre, institution, rural_home or "
                         "kindergarten_tuoban (养老/托育/综合养老服务中心/养老机构/农村幸福院/幼儿园托班)")
    gdf["ownership"] = _vocab(gdf, "ownership", OWNERSHIP, fname, log, ids,
                              "public, public_private or private (公办/公建民营/民办)",
                              required=False, default="private")
    # An absent beds/places column stays NaN: indicators then say "no data", not 0.
    for col in ("beds", "places", "nursing_beds"):
        if col not in gdf.columns:
            gdf[col] = np.nan
    over = (gdf["nursing_beds"] > gdf["beds"]).fillna(False).to_numpy()
    for i in np.flatnonzero(over):
        log.error(fname, "more nursing beds than beds 护理型床位多于床位", row=int(i),
                  feature_id=ids[i], column="nursing_beds",
                  found=f"{gdf['nursing_beds'].iloc[i]:g} > beds {gdf['beds'].iloc[i]:g}",
                  expected="nursing_beds <= beds")
    gdf["demonstration"] = _flags(gdf, "demonstration", fname, log, ids)
    _district_or_derive(gdf, lay, ok)


def _flags(gdf, col, fname, log, ids) -> pd.Series:
    """A yes/no column (true/false, 是/否, 1/0); blank or absent stays unknown (NaN)."""
    out = pd.Series(np.nan, index=gdf.index, dtype=object)
    if col not in gdf.columns:
        return out
    for i, v in enumerate(gdf[col]):
        if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == "":
            continue
        if isinstance(v, (bool, np.bool_)):
            out.iloc[i] = bool(v)
            continue
        text = str(v).strip().lower().removesuffix(".0")
        if text in TRUE_WORDS or text in FALSE_WORDS:
            out.iloc[i] = text in TRUE_WORDS
        else:
            log.error(fname, f"not yes or no 不是是/否 ({col})", row=i, feature_id=ids[i], column=col,
                      found=repr(v), expected="true/false, yes/no, 是/否 or 1/0")
    return out


def _candidates(gdf: gpd.GeoDataFrame, lay: _Layer, ok: np.ndarray, derive: bool) -> None:
    fname, log, ids = lay.fname, lay.log, lay.ids
    kinds = []
    for i, v in enumerate(gdf["kinds"]):
        k = split_kinds(v)
        if k is None:
            log.error(fname, "unknown kind in kinds 可建类型无效", row=i, feature_id=ids[i],
                      column="kinds", found=repr(v),
                      expected="';'-separated elderly, childcare, street_centre, institution, "
                               "rural_home (养老;托育;综合中心;养老机构;农村幸福院)")
            k = []
        elif not k:
            log.error(fname, "candidate may host nothing 候选场地无可建类型", row=i,
                      feature_id=ids[i], column="kinds", found="empty",
                      expected="at least one of elderly, childcare, street_centre")
        kinds.append(";".join(k))
    gdf["kinds"] = kinds
    gdf["acquisition"] = _vocab(gdf, "acquisition", ACQUISITION, fname, log, ids,
                                "new, renovate or lease (新建/改造/租赁)", required=False, default="new")
    if "cost_yuan" not in gdf.columns:
        gdf["cost_yuan"] = np.nan
    _cost_attributes(gdf, lay)
    _district_or_derive(gdf, lay, ok)


def _cost_attributes(gdf: gpd.GeoDataFrame, lay: _Layer) -> None:
    """The optional attributes some subsidies of attachment 1 need (in place; only where
    the layer has the column): meal point, care-home upgrade, medical service, childcare
    star rating."""
    fname, log, ids = lay.fname, lay.log, lay.ids
    for col in ("meal_point", "care_home_upgrade"):
        if col in gdf.columns:
            gdf[col] = _flags(gdf, col, fname, log, ids)
    if "medical" in gdf.columns:
        gdf["medical"] = _vocab(gdf, "medical", MEDICAL, fname, log, ids,
                                "clinic, rehab_centre or hospital (医务室/康复医疗中心/老年专科医院)",
                                required=False)
    if "childcare_star" in gdf.columns:
        stars = gdf["childcare_star"].map(
            lambda v: v if v is None or (isinstance(v, float) and np.isnan(v))
            else str(v).strip().removesuffix(".0"))
        gdf["childcare_star"] = _vocab(gdf.assign(childcare_star=stars), "childcare_star",
                                       CHILDCARE_STARS, fname, log, ids,
                                       "3, 4 or 5 (三星/四星/五星)", required=False
                                       ).astype("Float64").astype(float)


def _check_refs(gdf, col, ref, fname, log, ids, what, required=True) -> None:
    if ref is None:
        return
    if col not in gdf.columns:
        return
    matched = _match_district(gdf[col], ref)
    for i in np.flatnonzero(matched.isna().to_numpy()):
        val = gdf[col].iloc[i]
        if not required and (pd.isna(val) or str(val).strip() == ""):
            continue
        log.error(fname, f"unknown {what} 未知{'区县' if what == 'district' else '街道'}", row=int(i),
                  feature_id=ids[i], column=col, found=repr(val),
                  expected=f"a {what} code or name of the {what}s layer")
    gdf[col] = matched.where(matched.notna(), gdf[col])
