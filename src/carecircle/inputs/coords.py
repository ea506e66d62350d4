"""Chinese web-map coordinate systems and the choice of a metric CRS.

Amap/Gaode and Tencent publish GCJ-02 ("Mars") coordinates, Baidu publishes BD-09;
both are offset from WGS-84 by up to several hundred metres, so points must be
converted before they meet OpenStreetMap roads.  The forward transforms are the
published formulas; the inverses are solved exactly by fixed-point iteration to
1e-10 degrees (about 0.01 mm), not the one-step approximation that leaves metres
of error.  Everything is vectorised over numpy arrays.
"""

from __future__ import annotations

import numpy as np
import pyproj

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0

# The GCJ-02 offset is only applied inside mainland China's rough bounding box.
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)

COORD_SYSTEMS = ("wgs84", "gcj02", "bd09")


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (
        (lon >= _CHINA_LON[0]) & (lon <= _CHINA_LON[1]) & (lat >= _CHINA_LAT[0]) & (lat <= _CHINA_LAT[1])
    )


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 105.0
    y = lat - 35.0
    dlat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    inside = _in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def _arrays(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Forward GCJ-02 transform.

    Parameters
    ----------
    lon, lat
        WGS-84 degrees (scalars or arrays).

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 longitude and latitude.
    """
    lon, lat = _arrays(lon, lat)
    dlon, dlat = _delta(lon, lat)
    return lon + dlon, lat + dlat


def _invert(forward, lon, lat, tol: float = 1e-10, max_iter: int = 50):
    # Fixed-point iteration: the transforms are smooth and close to identity,
    # so x_{k+1} = x_k - (f(x_k) - target) converges in a handful of steps.
    lon, lat = _arrays(lon, lat)
    x, y = lon.copy(), lat.copy()
    for _ in range(max_iter):
        fx, fy = forward(x, y)
        ex, ey = fx - lon, fy - lat
        x, y = x - ex, y - ey
        if np.all(np.abs(ex) < tol) and np.all(np.abs(ey) < tol):
            break
    return x, y


def gcj02_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Exact inverse of :func:`wgs84_to_gcj02` (iterated to 1e-10 degrees).

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 longitude and latitude.
    """
    return _invert(wgs84_to_gcj02, lon, lat)


def gcj02_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Baidu's BD-09 transform from GCJ-02.

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees (scalars or arrays).

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 longitude and latitude.
    """
    lon, lat = _arrays(lon, lat)
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Exact inverse of :func:`gcj02_to_bd09` (iterated).

    Parameters
    ----------
    lon, lat
        BD-09 degrees.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 longitude and latitude.
    """
    return _invert(gcj02_to_bd09, lon, lat)


def wgs84_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 to BD-09 (through GCJ-02).

    Parameters
    ----------
    lon, lat
        WGS-84 degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 longitude and latitude.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 to WGS-84 (exact inverses of both steps).

    Parameters
    ----------
    lon, lat
        BD-09 degrees.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 longitude and latitude.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon, lat, system: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert from a named system (``wgs84``, ``gcj02``, ``bd09``) to WGS-84.

    Parameters
    ----------
    lon, lat
        Degrees in ``system``.
    system
        ``wgs84``, ``gcj02`` or ``bd09`` (case and ``-``/``_`` ignored).

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 longitude and latitude.

    Raises
    ------
    ValueError
        For an unknown system name.
    """
    system = system.lower().replace("-", "").replace("_", "")
    if system == "wgs84":
        return _arrays(lon, lat)
    if system == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if system == "bd09":
        return bd09_to_wgs84(lon, lat)
    raise ValueError(f"unknown coordinate system {system!r}; expected one of {COORD_SYSTEMS}")


def choose_metric_crs(lon_min: float, lat_min: float, lon_max: float, lat_max: float) -> pyproj.CRS:
    """A projected, metric CRS for a study area given in WGS-84 degrees.

    When the centre lies in 106.5-109.5E (Xi'an: central meridian 108E) this is EPSG:4545,
    CGCS2000 / 3-degree Gauss-Kruger CM 108E, the national system planners use.
    Elsewhere it is the UTM zone of the area's centre.  This is the one rule: a
    scenario run applies it to the districts' extent, a network loaded without a
    CRS (``carecircle reach``, ``carecircle isochrones``) to the nodes' extent.

    Parameters
    ----------
    lon_min, lat_min, lon_max, lat_max
        The study area's bounds in WGS-84 degrees.

    Returns
    -------
    pyproj.CRS
        EPSG:4545 or a WGS-84 UTM zone (EPSG:326xx north, 327xx south).
    """
    lon_c = (lon_min + lon_max) / 2.0
    lat_c = (lat_min + lat_max) / 2.0
    if 106.5 <= lon_c <= 109.5 and 18.0 <= lat_c <= 54.0:
        return pyproj.CRS.from_epsg(4545)
    zone = min(int((lon_c + 180.0) // 6.0) + 1, 60)  # 180 E itself is in zone 60
    return pyproj.CRS.from_epsg((32600 if lat_c >= 0 else 32700) + zone)
