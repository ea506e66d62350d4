"""One table or layer written as CSV, GeoJSON, GeoPackage or (Geo)Parquet, by its suffix.

What ``carecircle reach`` and ``carecircle isochrones`` write with ``-o``; every file is
readable by the other commands (:func:`carecircle.inputs.points.read_points` and
:func:`carecircle.inputs.points.read_layer_file`).

Decisions
---------
- CSV is UTF-8 with BOM like the run's tables (:func:`carecircle.outputs.tables.write_csv`):
  points as ``经度(WGS-84) Longitude``/``纬度(WGS-84) Latitude`` columns, other shapes as
  WKT in a ``geometry`` column, both WGS-84.
- GeoJSON is WGS-84 (the format says so); GeoPackage and GeoParquet keep the
  network's metric CRS, which they store.
- A GeoPackage layer is named by the caller (``isochrones``, ``reach``), never after
  the temporary file the atomic write goes through.
- A table without places (``reach`` pairs) is a plain CSV or Parquet table; GeoJSON and
  GeoPackage need shapes, which the caller supplies (``reach`` draws each pair as a line).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from carecircle.errors import CarecircleError
from carecircle.inputs.read import WGS84
from carecircle.outputs.tables import EXTRA_LABELS, write_csv

#: Suffix -> format of :func:`write_layer`.
FORMATS = {".csv": "csv", ".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg",
           ".parquet": "parquet"}


def output_format(path: str | Path) -> str:
    """``csv``, ``geojson``, ``gpkg`` or ``parquet`` for an output path.

    Parameters
    ----------
    path
        The ``-o`` file.

    Raises
    ------
    CarecircleError
        Another suffix (the message lists the ones known).
    """
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise CarecircleError(f"{path}: unknown output format 不支持的输出格式 {suffix or '(none)'}; "
                              f"expected one of {', '.join(sorted(FORMATS))}")
    return FORMATS[suffix]


def needs_shapes(path: str | Path) -> bool:
    """Whether the format of ``path`` holds only shapes (GeoJSON, GeoPackage).

    Parameters
    ----------
    path
        The output file.
    """
    return output_format(path) in ("geojson", "gpkg")


def _csv_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The table for CSV: points as lon/lat, other shapes as WKT (WGS-84)."""
    if not isinstance(table, gpd.GeoDataFrame):
        return pd.DataFrame(table)
    geom = table.geometry.to_crs(WGS84) if table.crs is not None else table.geometry
    out = pd.DataFrame(table.drop(columns=[table.geometry.name]))
    types = set(shapely.get_type_id(geom.values[~geom.isna().to_numpy()]).tolist())
    if types <= {0}:  # points (or nothing)
        out[EXTRA_LABELS["lon"]] = np.round(geom.x.to_numpy(dtype=float), 7)
        out[EXTRA_LABELS["lat"]] = np.round(geom.y.to_numpy(dtype=float), 7)
    else:
        out["geometry"] = shapely.to_wkt(geom.values, rounding_precision=7)
    return out


def write_layer(table: pd.DataFrame, path: str | Path, *, layer: str) -> Path:
    """Write ``table`` in the format its suffix says (see the module's decisions).

    Parameters
    ----------
    table
        A DataFrame, or a GeoDataFrame with a CRS.
    path
        The file to write (callers pass a temporary path of an atomic write).
    layer
        The GeoPackage layer's name.

    Returns
    -------
    Path

    Raises
    ------
    CarecircleError
        An unknown suffix, or GeoJSON/GeoPackage asked of a table without shapes.
    """
    p = Path(path)
    fmt = output_format(p)
    if fmt == "csv":
        return write_csv(_csv_frame(table), p)
    if fmt == "parquet":
        if isinstance(table, gpd.GeoDataFrame):
            table.to_parquet(p, index=False)
        else:
            pd.DataFrame(table).to_parquet(p, index=False)
        return p
    if not isinstance(table, gpd.GeoDataFrame):
        raise CarecircleError(f"{p}: {fmt} needs shapes; this table has none (write .csv or "
                              ".parquet)")
    data: Any = table.to_crs(WGS84) if fmt == "geojson" else table
    if fmt == "geojson":
        data.to_file(p, driver="GeoJSON")
    else:
        data.to_file(p, driver="GPKG", layer=layer)
    return p
