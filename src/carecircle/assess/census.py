"""District census totals: reading them, and scaling community populations to them.

The census table (``[demand] census``) gives, per district, the residents, the family
households, the residents aged 60+ and those aged 0-4 (the 7th census, 2020, for Xi'an:
``../shared/data/xian-census/districts-2020-census.csv``).  Two uses:

- **shares**: a district's 60+ and 0-3 shares of its residents, for communities whose
  age groups must be derived (a one-band population grid, :mod:`carecircle.assess.demand`);
- **scaling** (``scale_to_census = true``): each district's census totals spread over its
  communities, so that the communities of a district sum to the census.

Decisions
---------
- Aged 0-3 = ``census_0_3_share_of_0_4`` (default 4/5) x aged 0-4: the census counts
  0-4, and four of its five single-year ages are 0-3 under an even spread.  A table
  with a ``pop_0_3`` column is used as it is.
- The spreading rule: residents in proportion to each community's loaded residents
  (equal shares where the loaded ones are all equal or all zero); aged 60+ and 0-3 in
  proportion to the loaded groups (each community keeps its relative share), or to the
  scaled residents where a district's loaded group is all zero; households in
  proportion to the loaded households, or to the residents without them.  No community
  gets more of an age group than residents: the excess is spread over the others
  (water-filling), so the district totals stay exact.
- A district of the communities that the census table lacks keeps its loaded numbers;
  the note names it.
- The census describes the base year (2020 for the 7th census); the projection to the
  demand year (:func:`carecircle.assess.demand.projection_factors`) applies after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from carecircle.errors import InputError, Problem

#: Canonical column -> accepted headers (the Xi'an file's own first).
CENSUS_COLUMNS: dict[str, tuple[str, ...]] = {
    "district": ("区划代码", "district", "code", "区县代码", "adcode"),
    "population": ("人口数_合计", "population", "residents", "常住人口", "人口"),
    "households": ("家庭户数", "households", "户数"),
    "pop_60plus": ("pop60plus", "pop_60plus", "60岁以上人口"),
    "pop_0_4": ("pop0_4", "pop_0_4", "0-4岁人口"),
    "pop_0_3": ("pop_0_3", "pop0_3", "0-3岁人口"),
}
GROUPS = ("population", "pop_60plus", "pop_0_3")


@dataclass(frozen=True)
class CensusTotals:
    """District totals of a census table.

    Attributes
    ----------
    totals
        Indexed by district code (text): ``population``, ``households`` (NaN where the
        table has none), ``pop_60plus``, ``pop_0_3``.
    source
        The file read.
    rule_0_3
        How aged 0-3 was obtained (for notes).
    """

    totals: pd.DataFrame
    source: str
    rule_0_3: str

    def shares(self) -> pd.DataFrame:
        """Per district: ``pop_60plus`` and ``pop_0_3`` as shares of residents."""
        t = self.totals
        pop = t["population"].where(t["population"] > 0)
        return pd.DataFrame({"pop_60plus": t["pop_60plus"] / pop, "pop_0_3": t["pop_0_3"] / pop},
                            index=t.index).dropna()


def _code(value: object) -> str:
    """610113.0 (a float column) -> '610113'."""
    text = str(value).strip()
    return text[:-2] if re.fullmatch(r"\d+\.0", text) else text


def _columns(df: pd.DataFrame, path: str) -> dict[str, str]:
    """Canonical column -> the file's header, for the columns present."""
    lower = {str(c).strip().lower(): c for c in df.columns}
    found = {}
    for canon, aliases in CENSUS_COLUMNS.items():
        for a in aliases:
            if a.lower() in lower:
                found[canon] = lower[a.lower()]
                break
    need = ["district", "population", "pop_60plus"]
    missing = [c for c in need if c not in found]
    if "pop_0_4" not in found and "pop_0_3" not in found:
        missing.append("pop_0_4 or pop_0_3")
    if missing:
        raise InputError(Problem(
            "error", path, "missing column in the census table 人口普查表缺少字段",
            column=", ".join(missing),
            expected="区划代码/district, 人口数_合计/population, pop60plus, pop0_4 (or pop_0_3); "
                     "家庭户数/households optional"))
    return found


def _numbers(df: pd.DataFrame, cols: dict[str, str], path: str) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    for canon in ("population", "households", "pop_60plus", "pop_0_4", "pop_0_3"):
        if canon not in cols:
            continue
        raw = df[cols[canon]]
        num = pd.to_numeric(raw, errors="coerce")
        bad = (num.isna() & raw.notna()) | (num < 0) | ~np.isfinite(num.fillna(0.0)) | (num > 1e9)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(Problem("error", path, "not a plausible count 人数无效", row=i,
                                     column=cols[canon], found=repr(raw.iloc[i]),
                                     expected="a number 0-1,000,000,000"))
        out[canon] = num.astype(float)
    return out


def read_census(path: str, *, share_0_3_of_0_4: float = 0.8) -> CensusTotals:
    """District totals from a census CSV (UTF-8, optionally with BOM).

    Parameters
    ----------
    path
        The CSV: one row per district (a whole-city row may be among them: rows are
        matched to the scenario's districts by code).
    share_0_3_of_0_4
        Aged 0-3 as a share of aged 0-4, when the table counts 0-4.

    Returns
    -------
    CensusTotals

    Raises
    ------
    InputError
        The file is missing or unreadable, lacks a column, holds a value that is not a
        plausible count, repeats a district, or has more aged 60+ or 0-3 than residents.
    """
    try:
        df = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
    except FileNotFoundError:
        raise InputError(Problem("error", path, "census table not found 找不到人口普查表")) from None
    except Exception as exc:  # a parser's own message says what is wrong with the bytes
        raise InputError(Problem("error", path, f"cannot read the census table 无法读取: {exc}")) from None
    cols = _columns(df, path)
    num = _numbers(df, cols, path)
    codes = df[cols["district"]].map(_code)
    dup = codes.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(Problem("error", path, "district listed twice 区县重复", row=i,
                                 column=cols["district"], found=codes.iloc[i],
                                 expected="one row per district"))
    if "pop_0_3" in num:
        young, rule = num["pop_0_3"], "aged 0-3 as given 0-3岁按表"
    else:
        young = num["pop_0_4"] * share_0_3_of_0_4
        rule = (f"aged 0-3 = {share_0_3_of_0_4:g} x aged 0-4 (even spread over the ages) "
                f"0-3岁 = 0-4岁 x {share_0_3_of_0_4:g}")
    totals = pd.DataFrame({
        "population": num["population"].to_numpy(),
        "households": num["households"].to_numpy() if "households" in num else np.nan,
        "pop_60plus": num["pop_60plus"].to_numpy(),
        "pop_0_3": young.to_numpy(),
    }, index=pd.Index(codes.to_numpy(), name="district"))
    for g in ("pop_60plus", "pop_0_3"):
        over = (totals[g] > totals["population"]).to_numpy()
        if over.any():
            i = int(np.flatnonzero(over)[0])
            raise InputError(Problem("error", path, f"{g} larger than residents 分组人口大于总人口",
                                     row=i, column=cols.get(g, cols.get("pop_0_4")),
                                     found=f"{totals[g].iloc[i]:,.0f} > {totals['population'].iloc[i]:,.0f}",
                                     expected=f"{g} <= residents"))
    return CensusTotals(totals, str(path), rule)


# ---------------------------------------------------------------- spreading totals


def spread(total: float, weight: np.ndarray, cap: np.ndarray | None = None) -> np.ndarray:
    """``total`` shared in proportion to ``weight``, none above its ``cap``.

    Parameters
    ----------
    total
        The amount to share (>= 0).
    weight
        Non-negative weights; all zero: equal shares.
    cap
        Upper bound per share (water-filling: what a capped share cannot take goes to
        the others in proportion to their weights); ``None``: no bound.

    Returns
    -------
    numpy.ndarray
        Shares summing to ``total`` (to rounding), or to the sum of the caps when
        ``total`` exceeds it.
    """
    w = np.asarray(weight, dtype=float).copy()
    n = len(w)
    if n == 0:
        return np.zeros(0)
    if not (w > 0).any():
        w = np.ones(n)
    out = np.zeros(n)
    free = np.ones(n, dtype=bool)
    left = float(total)
    for _ in range(n + 1):  # each pass fixes at least one capped share
        wf = np.where(free, w, 0.0)
        if left <= 0 or wf.sum() <= 0:
            break
        share = left * wf / wf.sum()
        if cap is None:
            out[free] += share[free]
            break
        room = np.asarray(cap, dtype=float) - out
        hit = free & (share >= room)
        if not hit.any():
            out[free] += share[free]
            break
        out[hit] += room[hit]
        left -= float(room[hit].sum())
        free &= ~hit
    return out


def scale_to_census(communities: gpd.GeoDataFrame,
                    census: CensusTotals) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Communities whose populations sum, per district, to the census totals.

    Parameters
    ----------
    communities
        With ``district`` (code), ``population``, ``pop_60plus``, ``pop_0_3`` and
        optionally ``households`` (the loaded, base-year values).
    census
        From :func:`read_census`.

    Returns
    -------
    tuple
        A copy with the populations (and households, where the table has them)
        replaced by the spread census totals (module docstring: the rule), and the
        notes to show (one line, plus one naming districts the census lacks).
    """
    out = communities.copy()
    for col in (*GROUPS, "households"):
        if col in out:
            out[col] = out[col].astype(float)
    d = out["district"].astype(str).to_numpy()
    t = census.totals
    scaled, missing = [], []
    for code in pd.unique(d):
        m = d == code
        if code not in t.index:
            missing.append(str(code))
            continue
        row = t.loc[code]
        pop = spread(row["population"], out.loc[m, "population"].to_numpy(dtype=float))
        for g in ("pop_60plus", "pop_0_3"):
            out.loc[m, g] = spread(row[g], np.nan_to_num(out.loc[m, g].to_numpy(dtype=float)), pop)
        if not np.isnan(row["households"]):
            hh = out.loc[m, "households"].to_numpy(dtype=float) if "households" in out else np.full(m.sum(), np.nan)
            weight = hh if np.isfinite(hh).all() and hh.sum() > 0 else pop
            out.loc[m, "households"] = spread(row["households"], weight)
        out.loc[m, "population"] = pop
        scaled.append(str(code))
    notes = [f"populations scaled to the census 人口按普查总数缩放: each district's residents, 60+, 0-3"
             f"{' and households' if t['households'].notna().any() else ''} from {census.source} "
             f"spread over its communities in proportion to their loaded values "
             f"({census.rule_0_3}); districts {', '.join(sorted(scaled)) or 'none'}"]
    if missing:
        notes.append(f"no census totals for district(s) {', '.join(sorted(missing))}: populations "
                     f"as loaded 普查表无此区县, 按输入人口")
    return out, notes
