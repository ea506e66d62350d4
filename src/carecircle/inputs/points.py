"""The reader of point files for the ``reach`` and ``isochrones`` commands.

It reads whatever carecircle writes, so the commands fit together: a run's
``communities.csv`` and ``sites.csv`` (bilingual headers, ``编号 ID``, ``经度(WGS-84)
Longitude``), the isochrones and reach outputs in every format (CSV with lon/lat or a WKT
``geometry`` column, GeoJSON, GeoPackage, GeoParquet), and plain files of other tools.

Decisions
---------
- Columns are found by name: the id among ``id``, ``编号``, ``社区代码``, ``code`` or a
  bilingual header whose words include ``ID``; longitude and latitude among
  ``lon/lng/longitude/经度/x`` and ``lat/latitude/纬度/y``, or a bilingual header that
  starts with 经度/纬度 or says Longitude/Latitude.  ``lon=``/``lat=``
  (``--lon``/``--lat``) name them when the file uses other names.
- A CSV's lon/lat (or WKT) is WGS-84, as carecircle writes it.  A WKT ``geometry``
  column is the shape even beside lon/lat columns (an isochrones CSV keeps its sites'
  lon/lat), unless ``lon=``/``lat=`` say otherwise.
- A Parquet file with GeoParquet metadata is read with its geometry and CRS; a plain
  Parquet table is read like a CSV.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from carecircle.errors import InputError, Problem

# --------------------------------------------------------------------------- tables

_ID_ALIASES = ("id", "编号", "社区代码", "code")
_LON = ("lon", "lng", "longitude", "经度", "x")
_LAT = ("lat", "latitude", "纬度", "y")
_WKT = ("geometry", "wkt", "geom")


def _words(name: object) -> list[str]:
    return [w for w in re.split(r"[^\w]+", str(name).strip().lower()) if w]


def _column(columns: Any, aliases: tuple[str, ...], zh: str, en: str) -> Any:
    """The column named by an alias, else the one bilingual header that means it."""
    lower = {str(c).strip().lower(): c for c in columns}
    for name in aliases:
        if name in lower:
            return lower[name]
    hits = [c for c in columns
            if str(c).strip().startswith(zh) or en in _words(c)]
    return hits[0] if len(hits) == 1 else None


def find_lonlat(columns: Any, lon: str | None = None, lat: str | None = None) -> tuple[Any, Any]:
    """The longitude and latitude columns of a table (``None`` where not found).

    Parameters
    ----------
    columns
        The table's column names.
    lon, lat
        Names given by the user (``--lon``/``--lat``); they must exist.

    Returns
    -------
    tuple
        ``(lon column, lat column)``.
    """
    cols = list(columns)
    found_lon = (lon if lon in cols else None) if lon else _column(cols, _LON, "经度", "longitude")
    found_lat = (lat if lat in cols else None) if lat else _column(cols, _LAT, "纬度", "latitude")
    return found_lon, found_lat


def _from_table(df: pd.DataFrame, label: str, lon: str | None, lat: str | None) -> Any:
    """Points (or WKT shapes) of a plain table, in WGS-84."""
    import geopandas as gpd
    import shapely

    x_col, y_col = find_lonlat(df.columns, lon, lat)
    # A WKT column is the shape (an isochrones CSV keeps its sites' lon/lat beside it)
    wkt = None if (lon or lat) else next(
        (c for c in df.columns if str(c).strip().lower() in _WKT), None)
    if wkt is not None or x_col is None or y_col is None:
        if wkt is not None:
            try:
                geom = shapely.from_wkt(df[wkt].astype(str).to_numpy())
            except shapely.errors.GEOSException as exc:
                raise InputError(Problem("error", label, "bad WKT geometry", column=str(wkt),
                                         found=str(exc), expected="WKT in WGS-84")) from None
            return gpd.GeoDataFrame(df.drop(columns=[wkt]), geometry=geom, crs="EPSG:4326")
        missing = [n for n, c in (("lon", x_col), ("lat", y_col)) if c is None]
        given = {"lon": lon, "lat": lat}
        raise InputError(Problem(
            "error", label, "no coordinate columns 缺少经纬度列",
            column=", ".join(f"{n}={given[n]!r}" if given[n] else n for n in missing),
            found=", ".join(map(str, df.columns)),
            expected="lon/lng/longitude/经度 and lat/latitude/纬度 (WGS-84), carecircle's "
                     "经度(WGS-84) Longitude / 纬度(WGS-84) Latitude, a WKT 'geometry' column, "
                     "or --lon/--lat naming them"))
    x = pd.to_numeric(df[x_col], errors="coerce")
    y = pd.to_numeric(df[y_col], errors="coerce")
    bad = x.isna() | y.isna() | ~x.between(-180, 180) | ~y.between(-90, 90)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(Problem(
            "error", label, "bad coordinates", row=i, column=f"{x_col}/{y_col}",
            found=f"{df[x_col].iloc[i]}, {df[y_col].iloc[i]}",
            expected="numbers in degrees (WGS-84)"))
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(x, y), crs="EPSG:4326")


def read_layer_file(path: str | Path, *, lon: str | None = None, lat: str | None = None) -> Any:
    """Any table or layer carecircle writes (or a like file), as a (Geo)DataFrame.

    Parameters
    ----------
    path
        ``.csv``/``.txt``, ``.geojson``/``.json``, ``.gpkg`` (its first layer),
        ``.parquet`` (GeoParquet or plain), ``.shp`` ...
    lon, lat
        The longitude and latitude columns of a CSV or plain Parquet file.

    Returns
    -------
    geopandas.GeoDataFrame or pandas.DataFrame
        A GeoDataFrame when the file has places; a DataFrame for a table without
        coordinates (a ``reach`` CSV).  CSV text is kept as text.

    Raises
    ------
    InputError
        A missing or unreadable file.
    """
    import geopandas as gpd

    p = Path(path)
    label = str(p)
    if not p.exists():
        raise InputError(Problem("error", label, "file not found 文件不存在"))
    suffix = p.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            df = pd.read_csv(p, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        elif suffix == ".parquet":
            import pyarrow.parquet as pq

            if b"geo" in (pq.read_schema(p).metadata or {}):
                return gpd.read_parquet(p)
            df = pd.read_parquet(p)
        else:
            return gpd.read_file(p)
    except InputError:
        raise
    except Exception as exc:  # pyogrio, pyarrow and pandas raise many error types
        raise InputError(Problem("error", label, "cannot read file 无法读取", found=str(exc))) from exc
    lon_col, lat_col = find_lonlat(df.columns, lon, lat)
    has_wkt = any(str(c).strip().lower() in _WKT for c in df.columns)
    if (lon_col is None or lat_col is None) and not has_wkt and not (lon or lat):
        return df  # a table without places
    return _from_table(df, label, lon, lat)


def read_points(source: Any, *, id_column: str = "id", lon: str | None = None,
                lat: str | None = None) -> Any:
    """Read places for reach/isochrones: a GeoDataFrame, a vector file, or a table.

    Parameters
    ----------
    source
        A GeoDataFrame or a path (see :func:`read_layer_file`).
    id_column
        The id column (case-insensitive; aliases 编号/社区代码/code, or a bilingual
        header such as ``编号 ID``).
    lon, lat
        The longitude and latitude columns of a CSV or plain Parquet file.

    Returns
    -------
    geopandas.GeoDataFrame
        With an ``id`` column (str); the file's own id column, when named otherwise,
        becomes ``id`` (the other columns are kept as they are).
    """
    import geopandas as gpd

    if isinstance(source, gpd.GeoDataFrame):
        gdf, label = source.copy(), "points"
    else:
        label = str(source)
        gdf = read_layer_file(source, lon=lon, lat=lat)
        if not isinstance(gdf, gpd.GeoDataFrame):
            gdf = _from_table(gdf, label, lon, lat)  # raises: no coordinates
    col = _column([c for c in gdf.columns if c != gdf.geometry.name],
                  (id_column.lower(), *_ID_ALIASES), "编号", "id")
    if col is None:
        raise InputError(Problem(
            "error", label, "no id column", column=id_column,
            found=", ".join(map(str, gdf.columns)),
            expected="an 'id' column (or 编号, 编号 ID)"))
    ids = gdf[col].astype(str).to_numpy()
    gdf = gdf.drop(columns=[col])
    gdf.insert(0, "id", ids)
    dup = gdf["id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(Problem("error", label, "duplicate id", row=i, column=str(col),
                                 feature_id=gdf["id"].iloc[i], expected="unique ids"))
    if gdf.crs is None:
        raise InputError(Problem("error", label, "points have no CRS", expected="a declared CRS"))
    return gdf
