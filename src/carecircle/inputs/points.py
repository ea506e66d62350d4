"""A small reader of point files for the ``reach`` and ``isochrones`` commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from carecircle.errors import InputError, Problem

# --------------------------------------------------------------------------- tables

_ID_ALIASES = ("id", "编号", "社区代码", "code")
_LON = ("lon", "lng", "longitude", "经度", "x")
_LAT = ("lat", "latitude", "纬度", "y")


def read_points(source: Any, *, id_column: str = "id") -> Any:
    """Read points for reach: a GeoDataFrame, a vector file, or CSV with lon/lat (WGS-84).

    A small reader for the ``reach``/``isochrones`` commands; the full
    validating readers live in :mod:`carecircle.io`.  The id column is
    matched case-insensitively, with the aliases 编号/社区代码/code.

    Parameters
    ----------
    source
        A GeoDataFrame, a vector file path, or a CSV path with lon/lat columns.
    id_column
        The id column (case-insensitive; aliases 编号/社区代码/code).

    Returns
    -------
    geopandas.GeoDataFrame
        With an ``id`` column (str).
    """
    import geopandas as gpd

    if isinstance(source, gpd.GeoDataFrame):
        gdf, label = source.copy(), "points"
    else:
        path = Path(source)
        label = str(path)
        if not path.exists():
            raise InputError(Problem("error", label, "points file not found"))
        if path.suffix.lower() in (".csv", ".txt"):
            df = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
            lower = {c.strip().lower(): c for c in df.columns}
            lon = next((lower[c] for c in _LON if c in lower), None)
            lat = next((lower[c] for c in _LAT if c in lower), None)
            if lon is None or lat is None:
                raise InputError(
                    Problem(
                        "error",
                        label,
                        "CSV has no coordinate columns",
                        found=", ".join(df.columns),
                        expected="lon/lng/longitude/经度 and lat/latitude/纬度 (WGS-84)",
                    )
                )
            x = pd.to_numeric(df[lon], errors="coerce")
            y = pd.to_numeric(df[lat], errors="coerce")
            bad = x.isna() | y.isna() | ~x.between(-180, 180) | ~y.between(-90, 90)
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise InputError(
                    Problem(
                        "error",
                        label,
                        "bad coordinates",
                        row=i,
                        column=f"{lon}/{lat}",
                        found=f"{df[lon].iloc[i]}, {df[lat].iloc[i]}",
                        expected="numbers in degrees (WGS-84)",
                    )
                )
            gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(x, y), crs="EPSG:4326")
        else:
            try:
                gdf = gpd.read_file(path)
            except Exception as exc:  # pyogrio raises several error types
                raise InputError(
                    Problem("error", label, "cannot read points file", found=str(exc))
                ) from exc
    lower = {str(c).strip().lower(): c for c in gdf.columns}
    names = (id_column.lower(), *_ID_ALIASES)
    col = next((lower[n] for n in names if n in lower), None)
    if col is None:
        raise InputError(
            Problem(
                "error",
                label,
                "no id column",
                column=id_column,
                found=", ".join(map(str, gdf.columns)),
                expected="an 'id' column (or 编号)",
            )
        )
    gdf["id"] = gdf[col].astype(str)
    dup = gdf["id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(
            Problem(
                "error",
                label,
                "duplicate id",
                row=i,
                column="id",
                feature_id=gdf["id"].iloc[i],
                expected="unique ids",
            )
        )
    if gdf.crs is None:
        raise InputError(Problem("error", label, "points have no CRS", expected="a declared CRS"))
    return gdf
