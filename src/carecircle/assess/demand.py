"""Demand: community populations from a population grid.

Polygon communities take the grid cells whose centres fall inside them (areal
interpolation for point-sampled cells, done with geopandas' spatial join).  Point
communities take each remaining cell whose centre can walk to them within the limit,
assigned to the *nearest* community on the network (one multi-source search).  What
no community takes is reported as outside any community: the assigned total plus the
unassigned total equals the grid's total, exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from carecircle.network.reach import nearest_site
from carecircle.network.snapping import snap_points
from carecircle.network.walknet import WalkNetwork

if TYPE_CHECKING:
    from carecircle.inputs.scenario import Demand

GROUPS = ("population", "pop_60plus", "pop_0_3")


@dataclass(frozen=True)
class GridAssignment:
    """How a population grid was assigned to communities."""

    community_totals: pd.DataFrame  # index = community index; GROUPS columns
    cell_community: np.ndarray  # per cell: community position or -1
    grid_total: dict[str, float]
    assigned_total: dict[str, float]
    outside_total: dict[str, float]
    cells_outside: int

    def summary(self) -> str:
        g, a, o = self.grid_total["population"], self.assigned_total["population"], self.outside_total["population"]
        return (f"population grid 人口格网: {g:,.0f} residents; assigned to communities 已分配 {a:,.0f}; "
                f"outside any community 社区外 {o:,.0f} ({self.cells_outside} cells)")


def assign_grid(
    communities: gpd.GeoDataFrame,
    grid: gpd.GeoDataFrame,
    *,
    net: WalkNetwork | None = None,
    limit_m: float = 900.0,
    max_snap_m: float = 300.0,
) -> GridAssignment:
    """Assign grid cells to communities.

    Parameters
    ----------
    communities
        Validated communities (point geometry; polygon ones carry ``area_geometry`` WKB).
    grid
        Grid cells (points) with ``population`` and optionally ``pop_60plus``, ``pop_0_3``.
    net
        Walking network, needed for point communities.
    limit_m
        Walking limit within which a cell may belong to a point community.
    max_snap_m
        Snap limit for cells and communities.

    Returns
    -------
    GridAssignment
    """
    n_c, n_g = len(communities), len(grid)
    cell_comm = np.full(n_g, -1, dtype=np.int64)
    cells = grid.reset_index(drop=True)
    pts = cells.geometry.representative_point()
    comm = communities.reset_index(drop=True)
    if "area_geometry" in comm.columns:
        has_poly = comm["area_geometry"].notna().to_numpy()
    else:
        has_poly = np.zeros(n_c, dtype=bool)
    if has_poly.any():
        polys = gpd.GeoDataFrame(
            {"pos": np.flatnonzero(has_poly)},
            geometry=shapely.from_wkb(comm.loc[has_poly, "area_geometry"].to_numpy()),
            crs=comm.crs,
        )
        j = gpd.sjoin(gpd.GeoDataFrame(geometry=pts, crs=comm.crs), polys, how="inner",
                      predicate="within")
        j = j[~j.index.duplicated(keep="first")]
        cell_comm[j.index.to_numpy()] = j["pos"].to_numpy()
    point_comm = np.flatnonzero(~has_poly)
    todo = np.flatnonzero(cell_comm < 0)
    if len(point_comm) and len(todo):
        if net is None:
            raise ValueError("point communities need the walking network to take grid cells")
        cs = snap_points(net, comm.iloc[point_comm], max_snap_m=max_snap_m, source="communities")
        gs = snap_points(net, gpd.GeoDataFrame({"id": todo.astype(str)}, geometry=pts.iloc[todo].values,
                                               crs=comm.crs),
                         max_snap_m=max_snap_m, source="population_grid")
        idx, _ = nearest_site(net, gs, cs, limit_m)
        hit = idx >= 0
        cell_comm[todo[hit]] = point_comm[idx[hit]]
    totals = pd.DataFrame(0.0, index=communities.index, columns=list(GROUPS))
    grid_total, assigned, outside = {}, {}, {}
    for g in GROUPS:
        if g not in cells.columns:
            totals[g] = np.nan
            continue
        vals = cells[g].to_numpy(dtype=float)
        vals = np.nan_to_num(vals, nan=0.0)
        sums = np.bincount(cell_comm[cell_comm >= 0], weights=vals[cell_comm >= 0], minlength=n_c)
        totals[g] = sums
        grid_total[g] = float(vals.sum())
        assigned[g] = float(vals[cell_comm >= 0].sum())
        outside[g] = float(vals[cell_comm < 0].sum())
    return GridAssignment(totals, cell_comm, grid_total, assigned, outside, int((cell_comm < 0).sum()))


def apply_grid(communities: gpd.GeoDataFrame, assignment: GridAssignment) -> gpd.GeoDataFrame:
    """Communities with populations replaced by the grid's (groups the grid has).

    Parameters
    ----------
    communities
        The communities :func:`assign_grid` was given.
    assignment
        Its result.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy; a group the grid lacks keeps the loaded values.
    """
    out = communities.copy()
    for g in GROUPS:
        col = assignment.community_totals[g]
        if col.notna().all():
            out[g] = col.to_numpy()
    return out


# ---------------------------------------------------------------- projections


@dataclass(frozen=True)
class Projection:
    """The factors applied to move loaded populations to the demand year."""

    year: int | None
    base_year: int | None
    factors: pd.DataFrame  # index = district code, columns = GROUPS
    source: str

    def describe(self) -> str:
        """One line per district and the rule, for the validation summary and briefing."""
        if self.year is None:
            return "demand 需求: populations as loaded, no growth applied 按输入人口, 未作增长预测"
        if self.year == self.base_year:
            return f"demand year 需求年份 {self.year}: populations as loaded 按输入人口"
        lines = [f"demand year 需求年份 {self.year} (from {self.base_year}): {self.source}"]
        for code, row in self.factors.iterrows():
            lines.append(
                f"  {code}: residents x{row['population']:.4f}, 60+ x{row['pop_60plus']:.4f}, "
                f"0-3 x{row['pop_0_3']:.4f}"
            )
        return "\n".join(lines)


def _read_projection_table(path: str) -> pd.DataFrame:
    from carecircle.errors import InputError, Problem

    try:
        df = pd.read_csv(path, encoding="utf-8-sig", dtype={"district": str})
    except Exception as exc:
        raise InputError(Problem("error", path, f"cannot read projection table: {exc}")) from None
    need = {"district", "group", "year", "value"}
    if not need <= set(df.columns):
        raise InputError(Problem("error", path, "missing column in projection table 缺少字段",
                                 column=", ".join(sorted(need - set(df.columns))),
                                 expected="district, group, year, value"))
    bad = ~df["group"].isin(GROUPS)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(Problem("error", path, "unknown group", row=i, column="group",
                                 found=repr(df["group"].iloc[i]), expected=" / ".join(GROUPS)))
    return df


def projection_factors(communities: pd.DataFrame, demand: Demand) -> Projection:
    """Per-district factors that scale loaded populations to ``demand.year``.

    Parameters
    ----------
    communities
        Communities with ``district`` and the population columns (as loaded).
    demand
        The scenario's :class:`~carecircle.inputs.scenario.Demand`.

    Returns
    -------
    Projection
        Factor 1 everywhere when the demand year is the base year.  City-wide factors
        given for ``factors_year`` are compounded per year:
        ``f(year) = f ** ((year - base) / (factors_year - base))``.
    """
    codes = sorted(communities["district"].astype(str).unique())
    out = pd.DataFrame(1.0, index=pd.Index(codes, name="district"), columns=list(GROUPS))
    if demand.year is None or demand.base_year is None or demand.year == demand.base_year:
        return Projection(demand.year, demand.base_year, out, "as loaded")
    factors_year = demand.year if demand.factors_year is None else demand.factors_year
    span = factors_year - demand.base_year
    power = (demand.year - demand.base_year) / span if span else 1.0
    source = (f"profile's city-wide growth 规划参数全市增长系数 {demand.base_year}->{factors_year}"
              + (f", compounded to {demand.year}" if demand.year != factors_year else ""))
    for g in GROUPS:
        out[g] = float(demand.factors[g]) ** power
    for code, fac in demand.district_factors.items():
        if code in out.index:
            for g in GROUPS:
                out.loc[code, g] = float(fac[g]) ** power
    if demand.district_factors:
        source += "; per-district factors 分区系数"
    if demand.projection_table:
        table = _read_projection_table(demand.projection_table)
        table = table[table["year"] == demand.year]
        loaded = communities.groupby(communities["district"].astype(str))[list(GROUPS)].sum()
        for _, r in table.iterrows():
            code, g = str(r["district"]), r["group"]
            if code in out.index and loaded.loc[code, g] > 0:
                out.loc[code, g] = float(r["value"]) / float(loaded.loc[code, g])
        source += f"; projection table 预测表 {demand.projection_table}"
    return Projection(demand.year, demand.base_year, out, source)


def apply_projection(communities: gpd.GeoDataFrame, projection: Projection) -> gpd.GeoDataFrame:
    """Communities with populations scaled by their district's factors (base columns kept as ``*_base``).

    Parameters
    ----------
    communities
        Communities with ``district`` and the population columns (as loaded).
    projection
        From :func:`projection_factors`; a district it lacks keeps factor 1.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with ``population``, ``pop_60plus``, ``pop_0_3`` scaled and the loaded
        values in ``population_base``, ``pop_60plus_base``, ``pop_0_3_base``.
    """
    out = communities.copy()
    d = out["district"].astype(str)
    for g in GROUPS:
        out[f"{g}_base"] = out[g]
        out[g] = out[g] * d.map(projection.factors[g]).fillna(1.0).to_numpy()
    return out
