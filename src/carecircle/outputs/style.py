"""Colours, labels and small formatting rules shared by every map and page.
"""

from __future__ import annotations

import html
import math
import re
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from carecircle.inputs.read import WGS84
from carecircle.outputs.results import RunOutputs

# ---------------------------------------------------------------- style (shared with staticmap)

KIND_COLOURS = {
    "elderly": "#1f77b4",
    "childcare": "#e377c2",
    "street_centre": "#17becf",
    "institution": "#2ca02c",
    "rural_home": "#8c564b",
}
KIND_LABELS = {
    "elderly": "养老服务设施 Elderly care",
    "childcare": "托育设施 Childcare",
    "street_centre": "街道综合养老服务中心 Street elderly centre",
    "institution": "养老机构 Elderly institution",
    "rural_home": "农村幸福院 Rural happiness home",
}
# Which standard a facility kind is held to (the coverage module's grouping: every
# elderly-care kind is held to the elderly floor-area standard).
KIND_STANDARD = {
    "elderly": "elderly",
    "street_centre": "elderly",
    "institution": "elderly",
    "childcare": "childcare",
    "rural_home": "rural_home",  # its own standard (standards.rural_home_min_area_m2)
}
STATUS_COLOURS = {
    "both": "#1a9850",
    "elderly_only": "#4575b4",
    "childcare_only": "#f46d43",
    "neither": "#d73027",
    "unreachable": "#969696",
}
SITE_COLOURS = {"elderly": "#08519c", "childcare": "#c51b8a", "both": "#6a3d9a"}
SUBSTANDARD_COLOUR = "#e31a1c"
STREET_COLOUR = "#8c877d"  # the streets under every map: light, warm grey
OWNERSHIP_LABELS = {
    "public": "公办 Public",
    "public_private": "公建民营 Public-built, privately run",
    "private": "民办 Private",
}
ACQUISITION_LABELS = {"new": "新建 New build", "renovate": "改造 Renovation", "lease": "租赁 Lease"}
SITE_KIND_LABELS = {
    "elderly": "养老 Elderly care",
    "childcare": "托育 Childcare",
    "street_centre": "综合中心 Street centre",
    "institution": "养老机构 Elderly institution",
    "rural_home": "农村幸福院 Rural happiness home",
}
# District colour classes by the share of indicators (with data) that fail.
DISTRICT_CLASSES = (
    (0.0, "#1a9850", "全部达标 All targets met"),
    (0.25, "#a6d96a", "≤25% 指标未达标 ≤25% of indicators failed"),
    (0.5, "#fee08b", "≤50% 指标未达标 ≤50% failed"),
    (0.75, "#fdae61", "≤75% 指标未达标 ≤75% failed"),
    (1.0, "#d73027", ">75% 指标未达标 >75% failed"),
)
NO_DATA_COLOUR = "#bdbdbd"
NO_DATA_LABEL = "无数据 No data"
MARK = {"pass": "✓", "fail": "✗", "no data": "无数据 no data", "incomplete": "? 不完整 incomplete"}
ISOCHRONE_WORDS = {
    "existing": "现有 Existing",
    "proposed": "规划 Proposed",
    "elderly": "养老 elderly care",
    "childcare": "托育 childcare",
    "street_centre": "综合中心 street centre",
}
# Simplification tolerance (metres, in the metric CRS) for polygons drawn on the map:
# far below what a reader can see at street zoom, and it keeps the HTML small.
SIMPLIFY_M = 2.0


def esc(value: object) -> str:
    """HTML-escape any value for a popup or tooltip (``None``/NaN -> empty)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value is pd.NA:
        return ""
    return html.escape(str(value), quote=True)


def fmt_num(value: object, digits: int = 0) -> str:
    """A number with thousands separators, or ``""`` when missing.

    Parameters
    ----------
    value
        Anything; what is not a number is shown as its text.
    digits
        Decimals.

    Returns
    -------
    str
    """
    try:
        x = float(cast(Any, value))  # what float() refuses is shown as text below
    except (TypeError, ValueError):
        return "" if value is None else str(value)
    if math.isnan(x):
        return ""
    return f"{x:,.{digits}f}"


def to_wgs(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Reproject to WGS-84 for folium."""
    return gdf.to_crs(WGS84)


def below_standard(facilities: gpd.GeoDataFrame, standards: Any) -> np.ndarray:
    """Boolean array: facilities whose floor area is below their kind's standard.

    Parameters
    ----------
    facilities
        Facilities with ``kind`` and ``floor_area_m2``.
    standards
        A :class:`~carecircle.inputs.scenario.Standards` (``elderly_min_area_m2``,
        ``childcare_min_area_m2``).

    Returns
    -------
    numpy.ndarray
        ``True`` where the floor area is known and below the standard.  Kinds with no
        standard and unknown areas are never marked.
    """
    minimum = {
        "elderly": float(standards.elderly_min_area_m2),
        "childcare": float(standards.childcare_min_area_m2),
        "rural_home": float(standards.rural_home_min_area_m2),
    }
    std = facilities["kind"].map(KIND_STANDARD).map(minimum).to_numpy(dtype=float)
    area = pd.to_numeric(facilities.get("floor_area_m2"), errors="coerce")
    area = np.full(len(facilities), np.nan) if area is None else area.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(std) | np.isnan(area), False, area < std)


def district_scores(table: pd.DataFrame | None) -> pd.DataFrame:
    """How far each district is from its targets, from a long indicator table.

    Parameters
    ----------
    table
        The ``districts`` table (one row per district x indicator, see
        :mod:`carecircle.outputs.results`); the ``city`` rows are ignored.

    Returns
    -------
    pandas.DataFrame
        Indexed by district code: ``n_pass``, ``n_fail``, ``n_nodata`` and
        ``share_failed`` (failed / indicators with data; NaN when none has data).
    """
    cols = ["n_pass", "n_fail", "n_nodata", "share_failed"]
    if table is None or not len(table):
        return pd.DataFrame(columns=cols)
    t = table[table["district"].astype(str) != "city"]
    st = t["status"].astype(str)
    out = pd.DataFrame({
        "n_pass": (st == "pass").groupby(t["district"].astype(str), sort=False).sum(),
        "n_fail": (st == "fail").groupby(t["district"].astype(str), sort=False).sum(),
        "n_nodata": (st == "no data").groupby(t["district"].astype(str), sort=False).sum(),
    })
    with_data = out["n_pass"] + out["n_fail"]
    out["share_failed"] = np.where(with_data > 0, out["n_fail"] / with_data.where(with_data > 0, 1), np.nan)
    return out


def district_class(share_failed: float) -> tuple[str, str]:
    """(colour, legend label) of a district's class from its share of failed indicators."""
    if share_failed is None or (isinstance(share_failed, float) and math.isnan(share_failed)):
        return NO_DATA_COLOUR, NO_DATA_LABEL
    for upper, colour, label in DISTRICT_CLASSES:
        if share_failed <= upper + 1e-12:
            return colour, label
    return DISTRICT_CLASSES[-1][1], DISTRICT_CLASSES[-1][2]


def site_kind(kinds: object) -> str:
    """``elderly``, ``childcare`` or ``both`` for a ``;``-joined kinds string."""
    parts = {k.strip() for k in str(kinds or "").split(";") if k.strip()}
    elderly = bool(parts & {"elderly", "street_centre", "institution", "rural_home"})
    childcare = "childcare" in parts
    if elderly and childcare:
        return "both"
    return "childcare" if childcare else "elderly"


def kinds_text(kinds: object) -> str:
    """Bilingual text of a ``;``-joined kinds string."""
    parts = [k.strip() for k in str(kinds or "").split(";") if k.strip()]
    return "; ".join(SITE_KIND_LABELS.get(k, k) for k in parts)


def isochrone_label(name: str) -> str:
    """Bilingual layer label of an isochrone set such as ``existing_elderly``."""
    words = [ISOCHRONE_WORDS.get(w, w) for w in re.split(r"[_\s]+", name) if w]
    zh = "".join(w.split(" ", 1)[0] for w in words)
    en = " ".join(w.split(" ", 1)[-1] for w in words)
    return f"步行圈 {zh} — Walk zones: {en}"


def community_radius(population: pd.Series) -> np.ndarray:
    """Marker radius in pixels, 3-12, by the square root of population (area ~ people)."""
    pop = pd.to_numeric(population, errors="coerce").fillna(0).clip(lower=0).to_numpy(dtype=float)
    top = pop.max() if len(pop) and pop.max() > 0 else 1.0
    return np.round(3.0 + 9.0 * np.sqrt(pop / top), 1)


def study_bounds(run: RunOutputs) -> tuple[float, float, float, float] | None:
    """Extent (in the run's metric CRS) of what was assessed and planned.

    The communities on the walking network, the facilities and the proposed sites,
    padded by the longest walking limit; ``None`` when nothing is on the network.  A
    study area smaller than its districts (a city centre inside 13 districts) is then
    shown at a readable scale.
    """
    comm = run.communities
    parts = []
    if comm is not None and len(comm):
        on = comm[comm["snapped"]] if "snapped" in comm else comm
        if len(on):
            parts.append(on.total_bounds)
    if run.sites is not None and len(run.sites):
        parts.append(run.sites.total_bounds)
    if not parts:
        return None
    b = np.vstack(parts)
    pad = 900.0
    if run.scenario is not None:
        w = run.scenario.walking
        pad = max(w.limit_m(k) for k in w.speed_mps)
    return (float(b[:, 0].min() - pad), float(b[:, 1].min() - pad),
            float(b[:, 2].max() + pad), float(b[:, 3].max() + pad))


def plan_bounds(run: RunOutputs) -> tuple[float, float, float, float]:
    """WGS-84 extent of the run: :func:`study_bounds`, else the districts, else the communities."""
    b = study_bounds(run)
    if b is not None:
        crs = run.communities.crs
        box = gpd.GeoSeries([shapely.box(*b)], crs=crs).to_crs(WGS84)
        return _box(box.total_bounds)
    districts = run.inputs.layers.get("districts") if run.inputs is not None else None
    base = districts if districts is not None and len(districts) else run.communities
    return _box(base.to_crs(WGS84).total_bounds)


def _box(bounds: Any) -> tuple[float, float, float, float]:
    """``total_bounds`` (minx, miny, maxx, maxy) as four floats."""
    x0, y0, x1, y1 = (float(v) for v in bounds)
    return x0, y0, x1, y1
