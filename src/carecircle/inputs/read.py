"""Readers for every layer format: GeoPackage, GeoJSON, Shapefile, GeoParquet, CSV lon/lat, GeoTIFF.

Columns are renamed to the canonical names (Chinese aliases included) and GCJ-02 /
BD-09 coordinates are converted to WGS-84 here; validation is in
:mod:`carecircle.inputs.validate`.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from carecircle.errors import InputError, Problem
from carecircle.inputs import coords as _coords
from carecircle.inputs.filters import FilterError, apply_filter
from carecircle.inputs.scenario import LayerSource
from carecircle.inputs.schema import (
    COLUMNS,
)

WGS84 = pyproj.CRS.from_epsg(4326)
_LON_NAMES = ("lon", "lng", "longitude", "经度", "x")
_LAT_NAMES = ("lat", "latitude", "纬度", "y")


# ---------------------------------------------------------------- reading


def _norm(name: str) -> str:
    return re.sub(r"\s+", "", str(name)).lower()


# A shapefile's DBF keeps at most 10 characters of a column name (urban_rural -> urban_rura).
_DBF_NAME_LEN = 10


def rename_columns(
    df: pd.DataFrame, layer: str, explicit: dict[str, str] | None = None, *, truncated: bool = False
) -> pd.DataFrame:
    """Rename alias columns (e.g. ``名称``) to the canonical names of ``layer``.

    A canonical name already present wins over an alias.  With ``truncated`` (a
    shapefile), a column named by the first 10 characters of a longer canonical or
    alias name (``urban_rura``, ``acquisitio``) matches it too, after exact matches.

    Parameters
    ----------
    df
        The layer as read.
    layer
        Layer name (its aliases are in :data:`carecircle.inputs.schema.COLUMNS`).
    explicit
        File column -> canonical column from the scenario's ``columns``.
    truncated
        The file is a shapefile (10-character column names).
    """
    mapping: dict[str, str] = dict(explicit or {})
    taken = set(mapping.values())
    present = {_norm(c): c for c in df.columns if c != "geometry" and c not in mapping}
    for canon, aliases in COLUMNS.get(layer, {}).items():
        if canon in taken:
            continue
        names = [_norm(n) for n in (canon, *aliases)]
        if truncated:
            names += [n[:_DBF_NAME_LEN] for n in names if n.isascii() and len(n) > _DBF_NAME_LEN]
        for name in names:
            col = present.get(name)
            if col is not None and col not in mapping:
                if col != canon:
                    mapping[col] = canon
                taken.add(canon)
                break
    return df.rename(columns=mapping)


def _find(df: pd.DataFrame, wanted: str | None, candidates: tuple[str, ...]) -> str | None:
    if wanted:
        return wanted if wanted in df.columns else None
    present = {_norm(c): c for c in df.columns}
    for name in candidates:
        if _norm(name) in present:
            return present[_norm(name)]
    return None


def read_table(source: LayerSource, layer: str) -> gpd.GeoDataFrame:
    """Read one file into a GeoDataFrame, with its CRS, without validation.

    Coordinates declared GCJ-02 / BD-09 are converted to WGS-84 here.

    Parameters
    ----------
    source
        The layer's source (path, coordinate system, CRS, lon/lat, filter...).
    layer
        Layer name, for messages.

    Raises
    ------
    InputError
        Missing or unreadable file, CSV without lon/lat columns, or no CRS.
    """
    path = source.path
    fname = str(path)
    lonlat_columns: tuple[str, str] | None = None
    if not path.exists():
        raise InputError(Problem("error", fname, f"file not found 文件不存在 ({layer})"))
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            try:
                df = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
            except UnicodeDecodeError:
                # spreadsheets saved by Chinese Excel are GBK; GB18030 is its superset
                df = pd.read_csv(path, encoding="gb18030", dtype=str, keep_default_na=False)
            lon = _find(df, source.lon, _LON_NAMES)
            lat = _find(df, source.lat, _LAT_NAMES)
            if lon is None or lat is None:
                raise InputError(Problem(
                    "error", fname, "no longitude/latitude columns 缺少经纬度列",
                    column=source.lon if lon is None else source.lat,
                    found=f"columns {list(df.columns)}",
                    expected="lon/lat (or lng, longitude, 经度 / latitude, 纬度), or set lon= and lat= in the scenario",
                ))
            x = pd.to_numeric(df[lon], errors="coerce")
            y = pd.to_numeric(df[lat], errors="coerce")
            geom = gpd.points_from_xy(x, y)
            geom[(x.isna() | y.isna()).to_numpy()] = None
            gdf = gpd.GeoDataFrame(df, geometry=geom, crs=source.crs or WGS84)
            lonlat_columns = (lon, lat)
        elif suffix == ".parquet":
            gdf = gpd.read_parquet(path)
        elif suffix in (".tif", ".tiff"):
            gdf = read_raster_grid(path)
        else:
            gdf = _read_vector(path, source.layer)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(Problem("error", fname, f"cannot read file 无法读取: {exc}")) from None
    if gdf.crs is None:
        if source.crs:
            gdf = gdf.set_crs(source.crs)
        else:
            raise InputError(Problem(
                "error", fname, "no CRS 缺少坐标参考系",
                expected="a .prj / embedded CRS, or crs = \"EPSG:4326\" for this layer in the scenario",
            ))
    if source.coords != "wgs84":
        gdf = _convert_chinese(gdf, source.coords, fname)
    if source.filter:
        try:
            gdf = apply_filter(gdf, source.filter)
        except FilterError as exc:
            raise InputError(Problem(
                "error", fname, f"{layer}: filter refused 筛选条件无效: {exc}", column="filter",
                found=repr(source.filter),
                expected="the filter language of docs/safety.md: columns, 'text' or numbers, "
                         "== != < <= > >=, in (...), not in, and/or/not, startswith/endswith/contains",
            )) from None
    if lonlat_columns is not None:
        # read by :func:`carecircle.inputs.load.load_inputs`: messages on a point name these
        gdf.attrs["lonlat_columns"] = lonlat_columns
    return gdf


def _read_vector(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    """A vector file (GeoPackage, GeoJSON, Shapefile, an OSM extract's layer ...)."""
    kw: dict = {"layer": layer} if layer else {}
    osm = path.name.lower().endswith((".pbf", ".osm"))
    if osm:
        kw["on_invalid"] = "ignore"  # broken rings: no geometry, not a failed read
    gdf = gpd.read_file(path, **kw)
    return _osm_shapes(gdf) if osm else gdf


def _osm_shapes(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """An OpenStreetMap extract's shapes made valid, those with none left out.

    An extract cuts areas at its edge and GDAL assembles some into self-intersecting or
    two-point rings: they are repaired (``shapely.make_valid``, keeping the polygons), and
    the features left without a shape are dropped; ``attrs["osm_dropped"]`` counts them
    (:func:`carecircle.inputs.load.load_inputs` says so in the conversions).
    """
    geom = np.asarray(gdf.geometry.values, dtype=object)
    present = ~shapely.is_missing(geom)
    bad = present & ~shapely.is_valid(geom)
    if bad.any():
        geom = geom.copy()
        geom[bad] = shapely.make_valid(geom[bad], method="structure", keep_collapsed=False)
    keep = ~shapely.is_missing(geom) & ~shapely.is_empty(geom)
    out = gdf.set_geometry(gpd.GeoSeries(geom, index=gdf.index, crs=gdf.crs))[keep].copy()
    out.attrs["osm_dropped"] = int((~keep).sum())
    out.attrs["osm_repaired"] = int((bad & keep).sum())
    return out


def _convert_chinese(gdf: gpd.GeoDataFrame, system: str, fname: str) -> gpd.GeoDataFrame:
    if not gdf.crs.is_geographic:
        raise InputError(Problem(
            "error", fname, f"coords = {system!r} needs geographic lon/lat",
            found=str(gdf.crs), expected="EPSG:4326-style degrees",
        ))
    gdf = gdf.to_crs(WGS84)

    def convert(x, y, z=None):
        lon, lat = _coords.to_wgs84(x, y, system)
        return (lon, lat) if z is None else (lon, lat, z)

    geoms = gdf.geometry.array
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    out = np.array(geoms, dtype=object)
    out[ok] = shapely.transform(
        np.asarray(geoms[ok]), lambda xy: np.column_stack(convert(xy[:, 0], xy[:, 1]))
    )
    return gdf.set_geometry(gpd.GeoSeries(out, index=gdf.index, crs=WGS84))


def read_raster_grid(path: Path) -> gpd.GeoDataFrame:
    """A population GeoTIFF as cell-centre points.

    Band 1 is the total population, band 2 (if present) 60+, band 3 (if present) 0-3.
    Cells with no data or zero population are dropped.
    """
    import rasterio  # local: only grids need it

    with rasterio.open(path) as src:
        data = src.read(masked=True).astype("float64")
        rows, cols = np.nonzero(~np.ma.getmaskarray(data[0]) & (data[0].filled(0) > 0))
        xs, ys = rasterio.transform.xy(src.transform, rows, cols)
        cols_out = {"population": data[0][rows, cols].filled(0)}
        for band, name in ((1, "pop_60plus"), (2, "pop_0_3")):
            if src.count > band:
                cols_out[name] = data[band][rows, cols].filled(0)
        return gpd.GeoDataFrame(
            cols_out, geometry=gpd.points_from_xy(np.asarray(xs), np.asarray(ys)), crs=src.crs
        )
