"""GCJ-02 / BD-09 conversions against independent implementations, and the metric CRS choice.

The independent implementations are ``prcoords`` (same published formula, Krasovsky
axis) and ``eviltransform`` (the same formula but with the WGS-84 semi-major axis,
so it differs from the reference by up to ~2e-7 degrees, a few centimetres).  Each is
skipped when not installed; fixed reference values copied from prcoords 1.0.2 keep the
test meaningful without them.
"""

from __future__ import annotations

import numpy as np
import pyproj
import pytest

from carecircle.inputs import coords

# (WGS-84 lon, lat), GCJ-02 (lon, lat), BD-09 (lon, lat), from prcoords.wgs_gcj / wgs_bd
REFERENCE = [
    ((108.94, 34.26), (108.94464954398632, 34.25840865901899),
     (108.95107980425298, 34.26463598532906)),
    ((108.9534, 34.2655), (108.9580898380044, 34.263936894945665),
     (108.9644836543684, 34.27026090751088)),
    ((116.397, 39.909), (116.40324350604497, 39.91040339728811),
     (116.40961569346796, 39.916744221722645)),
    ((121.47, 31.23), (121.47453490044272, 31.22806748194233),
     (121.48107620808638, 31.233986715638544)),
    ((113.26, 23.13), (113.26532708480055, 23.127321647610675),
     (113.27175778780804, 23.13356203714469)),
]
WGS = np.array([r[0] for r in REFERENCE])
GCJ = np.array([r[1] for r in REFERENCE])
BD = np.array([r[2] for r in REFERENCE])
XIAN = (108.9534, 34.2655)  # near the Bell Tower


def _grid(n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 points across mainland China's box."""
    lon, lat = np.meshgrid(np.linspace(73.0, 135.0, n), np.linspace(18.0, 53.0, n))
    return lon.ravel(), lat.ravel()


# ---------------------------------------------------------------- fixed reference values


def test_forward_matches_reference_literals() -> None:
    lon, lat = coords.wgs84_to_gcj02(WGS[:, 0], WGS[:, 1])
    np.testing.assert_allclose(lon, GCJ[:, 0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(lat, GCJ[:, 1], rtol=0, atol=1e-9)
    lon, lat = coords.wgs84_to_bd09(WGS[:, 0], WGS[:, 1])
    np.testing.assert_allclose(lon, BD[:, 0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(lat, BD[:, 1], rtol=0, atol=1e-9)


def test_inverse_recovers_reference_literals() -> None:
    lon, lat = coords.gcj02_to_wgs84(GCJ[:, 0], GCJ[:, 1])
    np.testing.assert_allclose(lon, WGS[:, 0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(lat, WGS[:, 1], rtol=0, atol=1e-9)
    lon, lat = coords.bd09_to_wgs84(BD[:, 0], BD[:, 1])
    np.testing.assert_allclose(lon, WGS[:, 0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(lat, WGS[:, 1], rtol=0, atol=1e-9)


def test_xian_offset_size() -> None:
    # README of xian-central: at Xi'an GCJ-02 is about +0.0047 lon, -0.0016 lat
    # (about 430 m east, 175 m south) of WGS-84
    lon, lat = coords.wgs84_to_gcj02(*XIAN)
    assert lon - XIAN[0] == pytest.approx(0.0047, abs=0.0002)
    assert lat - XIAN[1] == pytest.approx(-0.0016, abs=0.0002)
    geod = pyproj.Geod(ellps="WGS84")
    _, _, dist = geod.inv(XIAN[0], XIAN[1], float(lon), float(lat))
    assert 400 < dist < 500


# ---------------------------------------------------------------- independent implementations


def test_forward_against_prcoords() -> None:
    prcoords = pytest.importorskip("prcoords")
    lon, lat = _grid()
    glon, glat = coords.wgs84_to_gcj02(lon, lat)
    blon, blat = coords.wgs84_to_bd09(lon, lat)
    for i in range(len(lon)):
        g = prcoords.wgs_gcj((lat[i], lon[i]))
        assert abs(glon[i] - g.lon) < 1e-9 and abs(glat[i] - g.lat) < 1e-9
        b = prcoords.wgs_bd((lat[i], lon[i]))
        assert abs(blon[i] - b.lon) < 1e-9 and abs(blat[i] - b.lat) < 1e-9


def test_inverse_against_prcoords_iterative() -> None:
    prcoords = pytest.importorskip("prcoords")
    lon, lat = _grid(30)
    glon, glat = coords.wgs84_to_gcj02(lon, lat)
    wlon, wlat = coords.gcj02_to_wgs84(glon, glat)
    blon, blat = coords.gcj02_to_bd09(glon, glat)
    for i in range(len(lon)):
        # prcoords iterates at most 10 times to its PRC_EPS: ~1e-8 deg
        w = prcoords.gcj_wgs_bored(prcoords.Coords(lat=glat[i], lon=glon[i]))
        assert abs(wlon[i] - w.lon) < 5e-8 and abs(wlat[i] - w.lat) < 5e-8
        # prcoords' bd_gcj is a closed-form approximation ("~1e-7 deg", up to ~1e-6 seen
        # across China); by prcoords' own forward gcj_bd ours is the better inverse
        g = prcoords.bd_gcj(prcoords.Coords(lat=blat[i], lon=blon[i]))
        assert abs(glon[i] - g.lon) < 2e-6 and abs(glat[i] - g.lat) < 2e-6
        ours_back = prcoords.gcj_bd(prcoords.Coords(lat=glat[i], lon=glon[i]))
        theirs_back = prcoords.gcj_bd(g)
        ours_err = max(abs(ours_back.lon - blon[i]), abs(ours_back.lat - blat[i]))
        theirs_err = max(abs(theirs_back.lon - blon[i]), abs(theirs_back.lat - blat[i]))
        assert ours_err < 1e-9 and ours_err <= theirs_err


def test_against_eviltransform() -> None:
    evil = pytest.importorskip("eviltransform")
    lon, lat = _grid(30)
    glon, glat = coords.wgs84_to_gcj02(lon, lat)
    blon, blat = coords.wgs84_to_bd09(lon, lat)
    for i in range(len(lon)):
        # eviltransform uses a = 6378137 (WGS-84) instead of 6378245 (Krasovsky):
        # a few centimetres, i.e. < 3e-7 degrees, of difference
        e_lat, e_lon = evil.wgs2gcj(lat[i], lon[i])
        assert abs(glon[i] - e_lon) < 3e-7 and abs(glat[i] - e_lat) < 3e-7
        e_lat, e_lon = evil.wgs2bd(lat[i], lon[i])
        assert abs(blon[i] - e_lon) < 3e-7 and abs(blat[i] - e_lat) < 3e-7
        # its "exact" inverse is a bisection stopped at 1e-6 degrees
        e_lat, e_lon = evil.gcj2wgs_exact(float(glat[i]), float(glon[i]))
        assert abs(lon[i] - e_lon) < 2e-6 and abs(lat[i] - e_lat) < 2e-6


# ---------------------------------------------------------------- exact inverse


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_round_trip_across_china(system: str) -> None:
    lon, lat = _grid()
    forward = coords.wgs84_to_gcj02 if system == "gcj02" else coords.wgs84_to_bd09
    back_lon, back_lat = coords.to_wgs84(*forward(lon, lat), system)
    assert np.abs(back_lon - lon).max() < 1e-9
    assert np.abs(back_lat - lat).max() < 1e-9


def test_bd09_gcj02_round_trip() -> None:
    lon, lat = _grid()
    back = coords.bd09_to_gcj02(*coords.gcj02_to_bd09(lon, lat))
    assert np.abs(back[0] - lon).max() < 1e-9 and np.abs(back[1] - lat).max() < 1e-9


def test_exact_inverse_beats_one_step_approximation_at_xian() -> None:
    lon0, lat0 = XIAN
    glon, glat = coords.wgs84_to_gcj02(lon0, lat0)
    # the common one-step approximation: wgs ~ gcj - (f(gcj) - gcj)
    flon, flat = coords.wgs84_to_gcj02(glon, glat)
    one_lon, one_lat = 2 * glon - flon, 2 * glat - flat
    one_step_err = max(abs(one_lon - lon0), abs(one_lat - lat0))
    ex_lon, ex_lat = coords.gcj02_to_wgs84(glon, glat)
    exact_err = max(abs(ex_lon - lon0), abs(ex_lat - lat0))
    assert one_step_err > 1e-6  # about 1.5e-5 deg, more than a metre
    assert exact_err < 1e-9


# ---------------------------------------------------------------- outside China, shapes, errors


@pytest.mark.parametrize("point", [(-0.1276, 51.5072), (-74.006, 40.7128), (139.6917, 35.6895),
                                   (151.2093, -33.8688)])
def test_no_offset_outside_china(point: tuple[float, float]) -> None:
    lon, lat = coords.wgs84_to_gcj02(*point)
    assert (float(lon), float(lat)) == point
    lon, lat = coords.to_wgs84(*point, "gcj02")
    assert (float(lon), float(lat)) == point


def test_vectorised_mixed_inside_and_outside() -> None:
    lon = np.array([108.9534, -0.1276, 116.397])
    lat = np.array([34.2655, 51.5072, 39.909])
    glon, glat = coords.wgs84_to_gcj02(lon, lat)
    assert glon.shape == (3,) and glat.shape == (3,)
    assert glon[1] == lon[1] and glat[1] == lat[1]
    assert abs(glon[0] - lon[0]) > 1e-3 and abs(glon[2] - lon[2]) > 1e-3
    wlon, wlat = coords.gcj02_to_wgs84(glon, glat)
    np.testing.assert_allclose(wlon, lon, rtol=0, atol=1e-9)
    np.testing.assert_allclose(wlat, lat, rtol=0, atol=1e-9)


def test_to_wgs84_names() -> None:
    g = coords.wgs84_to_gcj02(*XIAN)
    for name in ("gcj02", "GCJ-02", "gcj_02"):
        lon, lat = coords.to_wgs84(*g, name)
        assert abs(lon - XIAN[0]) < 1e-9 and abs(lat - XIAN[1]) < 1e-9
    lon, lat = coords.to_wgs84(*XIAN, "wgs84")
    assert (float(lon), float(lat)) == XIAN
    with pytest.raises(ValueError, match="unknown coordinate system"):
        coords.to_wgs84(*XIAN, "mars")


# ---------------------------------------------------------------- metric CRS


def test_metric_crs_for_xian_is_cgcs2000_gk_cm108() -> None:
    crs = coords.choose_metric_crs(108.92, 34.20, 109.01, 34.28)
    assert crs.to_epsg() == 4545
    assert crs.is_projected and crs.axis_info[0].unit_name == "metre"
    # the whole of Xi'an municipality (107.6-109.8E) too
    assert coords.choose_metric_crs(107.6, 33.7, 109.8, 34.8).to_epsg() == 4545


@pytest.mark.parametrize(
    ("bounds", "epsg"),
    [
        ((116.2, 39.8, 116.5, 40.0), 32650),   # Beijing: UTM 50N
        ((121.3, 31.1, 121.6, 31.3), 32651),   # Shanghai: UTM 51N
        ((-0.3, 51.4, 0.1, 51.6), 32630),      # London: UTM 30N
        ((-122.35, 37.78, -122.25, 37.84), 32610),  # Oakland: UTM 10N
        ((151.1, -33.95, 151.3, -33.8), 32756),  # Sydney: UTM 56S
    ],
)
def test_metric_crs_elsewhere_is_utm(bounds: tuple[float, ...], epsg: int) -> None:
    crs = coords.choose_metric_crs(*bounds)
    assert crs.to_epsg() == epsg
    # and the zone is the one whose central meridian is nearest the area's centre
    lon_c = (bounds[0] + bounds[2]) / 2
    cm = crs.to_dict().get("lon_0", None)
    if cm is None:
        cm = -183 + 6 * (epsg % 100)
    assert abs(lon_c - cm) <= 3


def test_metric_crs_distances_are_metres() -> None:
    crs = coords.choose_metric_crs(108.92, 34.20, 109.01, 34.28)
    t = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    x0, y0 = t.transform(108.95, 34.25)
    x1, y1 = t.transform(108.96, 34.25)
    geod_d = pyproj.Geod(ellps="GRS80").inv(108.95, 34.25, 108.96, 34.25)[2]
    # Gauss-Kruger scale error ~ (dlon cos(lat))^2 / 2 ~ 1e-4 this close (0.95 deg) to CM 108E
    assert abs(np.hypot(x1 - x0, y1 - y0) / geod_d - 1) < 2e-4
