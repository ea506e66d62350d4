"""Assumed layers: what a real city lacks as open data, made by a stated, seeded rule.

A real-city case often has real roads, districts and residential points but no open
data on candidate buildings or existing facilities.  This module makes such layers by
rules a reader can check, never by hand, so that every output can name them as
*assumed* (``assumed = "..."`` on the layer in the scenario) and anyone can make them
again byte for byte:

* :func:`street_points` -- points on the streets, about ``spacing_m`` apart: a maximal
  set of street points no two closer than ``spacing_m`` (straight line), chosen in a
  seeded random order.  Every point of every street is then within ``spacing_m`` (plus
  half the sampling step) of one of them.
* :func:`near_network` -- which points (e.g. community-centre POIs) lie within the snap
  limit of a street, so that none is kept as a site that the network cannot reach.
* :func:`street_site_attributes` -- acquisition, floor area, kinds and cost of each
  street site by a seeded rule (:data:`ACQUISITION_RULE`).
* :func:`candidate_sites` -- the two together: street sites plus sites at given points
  (community centres), as a candidates layer in the canonical columns of
  ``docs/data.md``.
* :func:`sample_facilities` -- an optional, stated sample of "existing" facilities
  drawn from sites, for a scenario that wants today's coverage not to be zero.
* :func:`write_geojson` -- a deterministic GeoJSON writer (same frame, same bytes).

Nothing here reads files: the caller passes GeoDataFrames (see
``examples/xian-central/make_assumed.py``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from carecircle.atomic import write_text_atomic
from carecircle.errors import InputError, Problem

__all__ = [
    "ACQUISITION_RULE",
    "UNIT_COSTS",
    "CandidateSites",
    "candidate_sites",
    "near_network",
    "road_names",
    "sample_facilities",
    "street_points",
    "street_site_attributes",
    "write_geojson",
]

#: Yuan per m² by acquisition: the defaults of ``[plan] unit_costs`` (docs/scenario.md).
UNIT_COSTS: dict[str, float] = {"new": 7500.0, "renovate": 2800.0, "lease": 2000.0}

#: The street-site rule: acquisition -> (probability, floor-area range in m²).  The
#: shares and ranges follow the demo city (a mix of converted stock, leased shop
#: fronts and a few new builds, task 8 of the plan).
ACQUISITION_RULE: dict[str, tuple[float, tuple[float, float]]] = {
    "renovate": (0.45, (250.0, 1200.0)),
    "lease": (0.35, (200.0, 800.0)),
    "new": (0.20, (600.0, 2000.0)),
}
#: Cost of a site = floor area x unit cost x a factor drawn uniformly from this range.
COST_SPREAD = (0.85, 1.15)


def _metric(gdf: gpd.GeoDataFrame, what: str) -> None:
    if gdf.crs is None or not pyproj.CRS(gdf.crs).is_projected:
        raise InputError(
            Problem(
                "error",
                what,
                "layer must be in a projected (metric) CRS 须为投影坐标系",
                found=str(gdf.crs),
                expected="e.g. EPSG:4545 (reproject with .to_crs first)",
            )
        )


def _undirected_lines(lines: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Lines with the two directions of one street (a directed export) kept once."""
    geoms = lines.geometry.array
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    lines = lines[ok]
    key = shapely.to_wkb(shapely.normalize(np.asarray(lines.geometry.array)))
    return lines[~pd.Series(key).duplicated().to_numpy()].reset_index(drop=True)


def street_points(
    lines: gpd.GeoDataFrame,
    spacing_m: float = 400.0,
    *,
    seed: int = 0,
    step_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Points on the streets about ``spacing_m`` apart (a seeded maximal packing).

    Every street is sampled every ``step_m``; the samples are visited in a random order
    drawn from ``seed`` and a sample is kept when no kept point lies closer than
    ``spacing_m``.  So no two points are closer than ``spacing_m``, and every sample --
    hence every point of every street, to within ``step_m / 2`` -- lies within
    ``spacing_m`` of a kept point.  The points lie exactly on the lines.

    Parameters
    ----------
    lines
        Street centre lines in a metric CRS (e.g. ``WalkNetwork.edges_frame()`` or an
        osmnx edge export reprojected).  The two directions of a street count once.
    spacing_m
        Minimum distance between two points, in metres.
    seed
        Seed of the visiting order.
    step_m
        Sampling step along the lines (default ``spacing_m / 20``).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``line`` (row of ``lines`` after removing reversed duplicates) and
        point geometry, ordered north to south, then west to east.
    """
    _metric(lines, "street lines")
    if spacing_m <= 0:
        raise ValueError(f"spacing_m must be > 0, got {spacing_m}")
    step = float(step_m) if step_m is not None else spacing_m / 20.0
    und = _undirected_lines(lines)
    geoms = np.asarray(und.geometry.array)
    lengths = shapely.length(geoms)
    counts = np.maximum(np.ceil(lengths / step).astype(np.int64), 1) + 1
    line_of = np.repeat(np.arange(len(geoms)), counts)
    # position k of n along a line: k / (n - 1) of its length, both ends included
    first = np.repeat(np.cumsum(counts) - counts, counts)
    frac = (np.arange(int(counts.sum())) - first) / np.repeat(counts - 1, counts)
    pts = shapely.line_interpolate_point(geoms[line_of], frac, normalized=True)
    xy = shapely.get_coordinates(pts)
    order = np.random.default_rng(seed).permutation(len(xy))
    cells: dict[tuple[int, int], list[int]] = {}
    kept: list[int] = []
    d2 = spacing_m * spacing_m
    for i in order:
        x, y = xy[i]
        ci, cj = int(math.floor(x / spacing_m)), int(math.floor(y / spacing_m))
        near = False
        for a in (ci - 1, ci, ci + 1):
            for b in (cj - 1, cj, cj + 1):
                for k in cells.get((a, b), ()):
                    dx, dy = xy[k, 0] - x, xy[k, 1] - y
                    if dx * dx + dy * dy < d2:
                        near = True
                        break
                if near:
                    break
            if near:
                break
        if not near:
            cells.setdefault((ci, cj), []).append(int(i))
            kept.append(int(i))
    sel = np.asarray(kept, dtype=np.int64)
    sel = sel[np.lexsort((xy[sel, 0], -xy[sel, 1]))]
    return gpd.GeoDataFrame({"line": line_of[sel]}, geometry=pts[sel], crs=lines.crs)


def road_names(lines: gpd.GeoDataFrame, column: str = "name") -> pd.Series:
    """One road name per line: osmnx list values (``"['A', 'B']"``) give their first.

    Parameters
    ----------
    lines
        Street lines.
    column
        The column with the names.
    """
    if column not in lines.columns:
        return pd.Series([""] * len(lines), index=lines.index, dtype=object)

    def first(v: object) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        if isinstance(v, (list, tuple)):
            return str(v[0]) if v else ""
        text = str(v).strip()
        if text.startswith("[") and text.endswith("]"):
            parts = [p.strip().strip("'\"") for p in text[1:-1].split(",")]
            return next((p for p in parts if p), "")
        return text

    return lines[column].map(first).astype(object)


def near_network(
    points: gpd.GeoDataFrame, lines: gpd.GeoDataFrame, max_snap_m: float = 300.0
) -> np.ndarray:
    """Distance in metres from each point to the nearest line (``inf`` for empty geometry).

    Compare with the snap limit: a point farther than ``max_snap_m`` would not join the
    network, so it must not become a candidate site.

    Parameters
    ----------
    points
        The points (a projected CRS).
    lines
        The street lines (the same CRS).
    max_snap_m
        The snap limit the caller compares with (kept for a uniform signature).
    """
    _metric(lines, "street lines")
    pts = points.to_crs(lines.crs)
    geoms = np.asarray(pts.geometry.array)
    out = np.full(len(geoms), np.inf)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if ok.any():
        tree = shapely.STRtree(np.asarray(lines.geometry.array))
        (pi, _li), d = tree.query_nearest(geoms[ok], return_distance=True, all_matches=False)
        dist = np.full(int(ok.sum()), np.inf)
        dist[pi] = d
        out[ok] = dist
    return out


def street_site_attributes(
    n: int,
    *,
    seed: int = 0,
    unit_costs: Mapping[str, float] | None = None,
    shared_min_area_m2: float = 500.0,
    elderly_min_area_m2: float = 300.0,
) -> pd.DataFrame:
    """Acquisition, floor area, kinds and cost of ``n`` street sites by a seeded rule.

    Rule (one draw per site, in order, from ``numpy.random.default_rng(seed)``):
    acquisition ``renovate`` / ``lease`` / ``new`` with probability 0.45 / 0.35 / 0.20;
    floor area uniform in 250-1200 / 200-800 / 600-2000 m² (rounded to 10 m²); kinds
    ``elderly;childcare`` from ``shared_min_area_m2`` (500 m²) up, one of ``elderly`` or
    ``childcare`` (even odds) from ``elderly_min_area_m2`` (300 m²), else ``childcare``;
    cost = area x unit cost of the acquisition (:data:`UNIT_COSTS`) x a factor uniform in
    0.85-1.15, rounded to 1,000 yuan.

    Parameters
    ----------
    n
        Number of sites.
    seed
        Seed of the random draws.
    unit_costs
        Yuan per m² by acquisition (default :data:`UNIT_COSTS`).
    shared_min_area_m2, elderly_min_area_m2
        Floor areas from which a site may host both kinds, or elderly care.

    Returns
    -------
    pandas.DataFrame
        ``acquisition``, ``floor_area_m2``, ``kinds``, ``cost_yuan`` (``n`` rows).
    """
    units = {**UNIT_COSTS, **dict(unit_costs or {})}
    rng = np.random.default_rng(seed)
    names = list(ACQUISITION_RULE)
    probs = np.array([ACQUISITION_RULE[a][0] for a in names])
    rows = []
    for _ in range(n):
        acq = names[int(rng.choice(len(names), p=probs))]
        lo, hi = ACQUISITION_RULE[acq][1]
        area = float(round(rng.uniform(lo, hi), -1))
        if area >= shared_min_area_m2:
            kinds = "elderly;childcare"
        elif area >= elderly_min_area_m2:
            kinds = ("elderly", "childcare")[int(rng.integers(2))]
        else:
            kinds = "childcare"
        cost = float(round(area * units[acq] * rng.uniform(*COST_SPREAD), -3))
        rows.append({"acquisition": acq, "floor_area_m2": area, "kinds": kinds, "cost_yuan": cost})
    return pd.DataFrame(rows, columns=["acquisition", "floor_area_m2", "kinds", "cost_yuan"])


@dataclass
class CandidateSites:
    """Assumed candidate sites and what the rule left out.

    Attributes
    ----------
    sites
        The candidates layer (``id``, ``name``, ``kinds``, ``floor_area_m2``,
        ``acquisition``, ``cost_yuan``, ``source``, ``snap_m``), metric CRS.
    dropped
        Points offered as sites (e.g. community centres) that lie farther than the
        snap limit from every street: ``id``, ``name``, ``distance_m``.
    rule
        The rule in one paragraph, for the scenario's ``assumed`` text and READMEs.
    """

    sites: gpd.GeoDataFrame
    dropped: pd.DataFrame = field(default_factory=pd.DataFrame)
    rule: str = ""


def candidate_sites(
    lines: gpd.GeoDataFrame,
    *,
    centres: gpd.GeoDataFrame | None = None,
    spacing_m: float = 400.0,
    seed: int = 0,
    max_snap_m: float = 300.0,
    centre_area_m2: float = 600.0,
    unit_costs: Mapping[str, float] | None = None,
) -> CandidateSites:
    """Assumed candidate sites: along the streets and at given points (community centres).

    Parameters
    ----------
    lines
        Street lines in a metric CRS; a ``name`` column names the sites.
    centres
        Optional points (``id``, ``name``) that are natural sites (community service
        centres, task 8 of the plan): each becomes a ``renovate`` site of
        ``centre_area_m2`` for both kinds, at its own location, if it lies within
        ``max_snap_m`` of a street; the others are listed in ``dropped``.
    spacing_m, seed
        See :func:`street_points` and :func:`street_site_attributes` (same seed).
    max_snap_m
        The scenario's snap limit.
    centre_area_m2
        Assumed floor area of a community-centre site.
    unit_costs
        Yuan per m² by acquisition (default :data:`UNIT_COSTS`).

    Returns
    -------
    CandidateSites
    """
    _metric(lines, "street lines")
    units = {**UNIT_COSTS, **dict(unit_costs or {})}
    und = _undirected_lines(lines)
    pts = street_points(und, spacing_m, seed=seed)
    attrs = street_site_attributes(len(pts), seed=seed, unit_costs=units)
    road = road_names(und).to_numpy()[pts["line"].to_numpy()]
    ids = [f"S{i:04d}" for i in range(1, len(pts) + 1)]
    names = [f"{r or '无名道路'}沿街场地(假设) street site, assumed" for r in road]
    street = gpd.GeoDataFrame(
        {
            "id": ids,
            "name": names,
            **{c: attrs[c].to_numpy() for c in attrs.columns},
            "source": "street",
            "snap_m": 0.0,
        },
        geometry=pts.geometry.to_numpy(),
        crs=lines.crs,
    )
    frames = [street]
    dropped = pd.DataFrame(
        {
            "id": pd.Series(dtype=object),
            "name": pd.Series(dtype=object),
            "distance_m": pd.Series(dtype=float),
        }
    )
    n_centres = 0
    if centres is not None and len(centres):
        cen = centres.to_crs(lines.crs).reset_index(drop=True)
        dist = near_network(cen, und, max_snap_m)
        ok = dist <= max_snap_m
        dropped = pd.DataFrame(
            {
                "id": cen["id"].astype(str).to_numpy()[~ok],
                "name": cen["name"].astype(str).to_numpy()[~ok],
                "distance_m": np.round(dist[~ok], 1),
            }
        )
        keep = cen[ok].reset_index(drop=True)
        n_centres = len(keep)
        frames.append(
            gpd.GeoDataFrame(
                {
                    "id": [f"C{i:03d}" for i in range(1, n_centres + 1)],
                    "name": [
                        f"{n}(社区中心, 假设可改造) community centre, assumed" for n in keep["name"]
                    ],
                    "acquisition": "renovate",
                    "floor_area_m2": float(centre_area_m2),
                    "kinds": "elderly;childcare",
                    "cost_yuan": float(round(centre_area_m2 * units["renovate"], -3)),
                    "source": [f"centre:{i}" for i in keep["id"].astype(str)],
                    "snap_m": np.round(dist[ok], 1),
                },
                geometry=keep.geometry.to_numpy(),
                crs=lines.crs,
            )
        )
    sites = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=lines.crs)
    sites = sites[
        [
            "id",
            "name",
            "kinds",
            "floor_area_m2",
            "acquisition",
            "cost_yuan",
            "source",
            "snap_m",
            "geometry",
        ]
    ]
    rule = (
        f"{len(street)} street sites: a maximal set of street points at least {spacing_m:g} m "
        f"apart (seed {seed}), so every street point is within {spacing_m:g} m of one; "
        "acquisition renovate/lease/new 45/35/20%, floor area 250-1200/200-800/600-2000 m², "
        "both kinds from 500 m², one kind from 300 m², else childcare; cost = area x "
        f"{units['renovate']:g}/{units['lease']:g}/{units['new']:g} yuan/m² x 0.85-1.15. "
        f"{n_centres} community-centre sites (renovate, {centre_area_m2:g} m², both kinds)"
        + (
            f"; {len(dropped)} centres farther than {max_snap_m:g} m from any street left out"
            if len(dropped)
            else ""
        )
        + f". 街道沿线每约{spacing_m:g}米一处假设候选场地及社区中心, 面积、类型、费用按固定随机种子生成, 非真实建筑."
    )
    return CandidateSites(sites=sites, dropped=dropped, rule=rule)


def sample_facilities(
    sites: gpd.GeoDataFrame,
    counts: Mapping[str, int],
    *,
    seed: int = 0,
    ownership: str = "public",
    childcare_m2_per_place: float = 8.0,
) -> gpd.GeoDataFrame:
    """A stated sample of assumed existing facilities, drawn from sites.

    For each kind (``elderly``, ``childcare``) in ``counts``, that many sites able to
    host it are drawn without replacement (seeded; a site is used once).  The facility
    takes the site's location and floor area; childcare places are floor area /
    ``childcare_m2_per_place``.  Use it only when a scenario states it: these are not
    real facilities.

    Parameters
    ----------
    sites
        Candidate sites (``kinds``, ``floor_area_m2``).
    counts
        Kind -> how many facilities to draw.
    seed
        Seed of the draws.
    ownership
        Ownership of every sampled facility.
    childcare_m2_per_place
        Floor area per childcare place.

    Returns
    -------
    geopandas.GeoDataFrame
        The facilities layer of ``docs/data.md`` (``id``, ``name``, ``kind``,
        ``floor_area_m2``, ``beds``, ``places``, ``ownership``, ``site``).

    Raises
    ------
    InputError
        When fewer sites can host a kind than asked for.
    """
    rng = np.random.default_rng(seed)
    used: set[int] = set()
    rows: list[Any] = []
    for kind in sorted(counts):
        want = int(counts[kind])
        able = [
            i for i, k in enumerate(sites["kinds"]) if kind in str(k).split(";") and i not in used
        ]
        if want > len(able):
            raise InputError(
                Problem(
                    "error",
                    "sample_facilities",
                    f"not enough sites able to host {kind}",
                    column="kinds",
                    found=f"{len(able)} sites",
                    expected=f"at least {want}",
                )
            )
        for i in sorted(int(x) for x in rng.choice(able, size=want, replace=False)):
            used.add(i)
            site = sites.iloc[i]
            area = float(site["floor_area_m2"])
            rows.append(
                {
                    "id": f"F-{kind[0].upper()}{len(rows) + 1:02d}",
                    "name": f"{'养老服务站' if kind == 'elderly' else '托育点'}(假设现有) assumed existing {kind}",
                    "kind": kind,
                    "floor_area_m2": area,
                    "beds": np.nan,
                    "places": float(math.floor(area / childcare_m2_per_place))
                    if kind == "childcare"
                    else np.nan,
                    "ownership": ownership,
                    "site": str(site["id"]),
                    "geometry": site.geometry,
                }
            )
    cols = [
        "id",
        "name",
        "kind",
        "floor_area_m2",
        "beds",
        "places",
        "ownership",
        "site",
        "geometry",
    ]
    return gpd.GeoDataFrame(pd.DataFrame(rows, columns=cols), geometry="geometry", crs=sites.crs)


def _json_value(v: object) -> object:
    if v is None or v is pd.NA:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return None
        return int(v) if float(v).is_integer() else round(float(v), 6)
    return str(v)


def write_geojson(
    gdf: gpd.GeoDataFrame, path: str | os.PathLike[str], *, decimals: int = 7
) -> Path:
    """Write points as WGS-84 GeoJSON, one feature per line (deterministic, atomic).

    Properties keep the frame's column order; NaN becomes ``null``; coordinates are
    rounded to ``decimals`` (7: about 1 cm).  The same frame gives the same bytes.

    Parameters
    ----------
    gdf
        Points in any CRS (written in WGS-84).
    path
        The file.
    decimals
        Decimals of the coordinates.
    """
    wgs = gdf.to_crs(4326)
    geoms = np.asarray(wgs.geometry.array)
    if not shapely.get_type_id(geoms).tolist() == [0] * len(geoms):
        raise InputError(
            Problem(
                "error",
                str(path),
                "write_geojson writes points only",
                column="geometry",
                expected="Point",
            )
        )
    xy = shapely.get_coordinates(geoms)
    cols = [c for c in wgs.columns if c != wgs.geometry.name]
    lines = []
    for i, rec in enumerate(wgs[cols].itertuples(index=False, name=None)):
        props = {c: _json_value(v) for c, v in zip(cols, rec, strict=True)}
        geom = {
            "type": "Point",
            "coordinates": [round(float(xy[i, 0]), decimals), round(float(xy[i, 1]), decimals)],
        }
        lines.append(
            json.dumps(
                {"type": "Feature", "properties": props, "geometry": geom}, ensure_ascii=False
            )
        )
    text = '{"type": "FeatureCollection", "features": [\n' + ",\n".join(lines) + "\n]}\n"
    return write_text_atomic(path, text)
