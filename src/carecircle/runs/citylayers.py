"""People, facilities and candidate sites of a generated city, and its GeoJSON files.

The layout comes from :mod:`carecircle.runs.citygen`; this module fills it in and
writes it.  Decisions stated once:

* **People.**  Each district's 2020 census residents (times the scale) are split
  over its communities, an urban community weighing five times a village (Xi'an's
  urban communities average about 9,600 residents, its villages about 1,700) with
  a lognormal spread; aged 60+ and households follow the district's shares, 0-3
  is four fifths of the census's 0-4, each with +-15 % spread.  Without the
  census: about 9,000 (urban) and 1,700 (village) residents, 16 % aged 60+ and
  3 % aged 0-3.
* **Facilities** (``FACILITIES`` at full size, times the scale): community
  stations at urban communities (a fifth below 300 m2), rural homes 互助幸福院
  at villages (a quarter below), street centres, institutions with beds (70 %
  urban) and childcare (75 % urban, 15 % below 200 m2), each up to 250 m
  (village: 150 m) from its community.
* **Candidates** (20,000 at full size): two street-centre sites in every street,
  inside it; the rest near communities drawn with an urban community three times
  as likely as a village (more stock buildings), up to 400 m (village 220 m) away;
  acquisition, floor area, the kinds a building may host and the cost as in the
  demo city (:mod:`carecircle.runs.demo`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyproj
import shapely
import shapely.geometry

FACILITIES = {"elderly_urban": 260, "elderly_rural": 535, "street_centre": 35,
              "institution": 170, "childcare": 400}
CANDIDATES = 20_000
STREET_CENTRE_SITES = 2
UNIT_COST = {"new": (6000, 9000), "renovate": (2000, 3500), "lease": (1500, 2500)}
AREA = {"new": (600, 2000), "renovate": (250, 1200), "lease": (200, 800)}


def _base(name: str) -> str:
    return name.removesuffix("社区").removesuffix("村") or name


def add_people(lay: dict, scale: float, rng: np.random.Generator) -> None:
    """Residents, aged 60+, aged 0-3 and households of every community (into ``lay``).

    Parameters
    ----------
    lay
        The layout (:func:`carecircle.runs.citygen._layout`); gains ``pop``,
        ``pop60``, ``pop03`` and ``households``.
    scale
        Share of the city: the census totals are multiplied by it.
    rng
        Random numbers.
    """
    comms, urban = lay["communities"], lay["urban"]
    n = len(comms)
    weight = rng.lognormal(0.0, 0.4, n) * np.where(urban, 5.0, 1.0)
    pop = np.zeros(n, np.int64)
    share = {"pop60": np.full(n, 0.16), "pop03": np.full(n, 0.03), "hh": np.full(n, 1 / 2.9)}
    for _, d in lay["districts"].iterrows():
        rows = np.flatnonzero((comms["district"] == d["code"]).to_numpy())
        if not len(rows):
            continue
        if math.isnan(d["population"]):
            pop[rows] = np.round(np.where(urban[rows], 9000.0, 1700.0) * weight[rows]
                                 / np.where(urban[rows], 5.0, 1.0)).astype(np.int64)
            continue
        total = round(float(d["population"]) * scale)
        w = weight[rows] / weight[rows].sum() * total
        got = np.floor(w).astype(np.int64)
        got[np.argsort(-(w - got), kind="stable")[: total - int(got.sum())]] += 1
        pop[rows] = got
        share["pop60"][rows] = d["pop60"] / d["population"]
        share["pop03"][rows] = 0.8 * d["pop04"] / d["population"]
        share["hh"][rows] = d["households"] / d["population"]
    spread = {k: rng.uniform(0.85, 1.15, n) for k in share}
    lay["pop"] = np.maximum(pop, 1)
    for k in ("pop60", "pop03"):
        lay[k] = np.minimum(np.round(lay["pop"] * share[k] * spread[k]), lay["pop"]).astype(np.int64)
    lay["households"] = np.maximum(np.round(lay["pop"] * share["hh"] * spread["hh"]), 1).astype(np.int64)


def _near(xy: np.ndarray, radius: np.ndarray, rng: np.random.Generator,
          area: shapely.Geometry) -> np.ndarray:
    """A point up to ``radius`` from each of ``xy``, inside ``area`` (else ``xy`` itself)."""
    r = np.asarray(radius, float) * np.sqrt(rng.uniform(0, 1, len(xy)))
    a = rng.uniform(0, 2 * np.pi, len(xy))
    p = xy + np.c_[r * np.cos(a), r * np.sin(a)]
    shapely.prepare(area)
    ok = shapely.contains_xy(area, p[:, 0], p[:, 1])
    return np.where(ok[:, None], p, xy)


def _district_of(lay: dict, p: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """District code of each point (its polygon), else ``fallback``."""
    out = np.asarray(fallback, dtype=object).copy()
    for code, g in zip(lay["districts"]["code"], lay["district_geoms"], strict=True):
        shapely.prepare(g)
        out[shapely.contains_xy(g, p[:, 0], p[:, 1])] = code
    return out


def _pick(mask: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` rows of ``mask`` without replacement (with, if there are fewer)."""
    rows = np.flatnonzero(mask)
    return np.sort(rng.choice(rows, k, replace=k > len(rows))) if k and len(rows) else rows[:0]


def _street_sites(lay: dict, per_street: int, radius: float, rng: np.random.Generator):
    """``per_street`` points in every street, near its communities, inside its polygon."""
    comms, xy = lay["communities"], lay["xy"]
    rows, pts = [], []
    for sc, g in zip(lay["streets"]["code"], lay["street_geoms"], strict=True):
        mine = _pick((comms["street"] == sc).to_numpy(), per_street, rng)
        rows.append(mine)
        pts.append(_near(xy[mine], np.full(len(mine), radius), rng, g))
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, 2))
    return np.concatenate(rows), np.vstack(pts)


def facilities(lay: dict, scale: float, rng: np.random.Generator) -> pd.DataFrame:
    """Today's facilities: stations, rural homes, street centres, institutions, childcare.

    Parameters
    ----------
    lay
        The layout, with people (:func:`add_people`).
    scale
        Share of the city (counts are ``FACILITIES`` times it, rounded).
    rng
        Random numbers.

    Returns
    -------
    pandas.DataFrame
        One row per facility: ``x``, ``y`` (metric), ``id``, ``name``, ``kind``,
        ``floor_area_m2``, ``beds``, ``places``, ``ownership``, ``district``.
    """
    comms, urban, xy = lay["communities"], lay["urban"], lay["xy"]
    names = comms["name"].to_numpy()
    area = shapely.union_all(lay["district_geoms"])
    n = {k: round(v * scale) for k, v in FACILITIES.items()}
    parts = []

    def add(rows: np.ndarray, kind: str, name: list[str], fa: np.ndarray, owner: np.ndarray,
            beds: np.ndarray | float = 0.0, places: np.ndarray | float = 0.0,
            p: np.ndarray | None = None) -> None:
        if p is None:
            p = _near(xy[rows], np.where(urban[rows], 250.0, 150.0), rng, area)
        parts.append(pd.DataFrame({
            "x": p[:, 0], "y": p[:, 1], "name": name, "kind": kind, "floor_area_m2": np.round(fa),
            "beds": beds, "places": places, "ownership": owner,
            "district": _district_of(lay, p, comms["district"].to_numpy()[rows])}))

    owners = np.array(["public", "public_private", "private"])
    rows = _pick(urban, n["elderly_urban"], rng)
    small = rng.random(len(rows)) < 0.2
    add(rows, "elderly", [f"{s}养老服务站" for s in names[rows]],
        np.where(small, rng.uniform(120, 290, len(rows)), rng.uniform(300, 900, len(rows))),
        rng.choice(owners, len(rows)))
    rows = _pick(~urban, n["elderly_rural"], rng)
    small = rng.random(len(rows)) < 0.25
    add(rows, "elderly", [f"{s}互助幸福院" for s in names[rows]],
        np.where(small, rng.uniform(100, 290, len(rows)), rng.uniform(300, 600, len(rows))),
        np.full(len(rows), "public"))
    st = lay["streets"].iloc[np.sort(rng.choice(len(lay["streets"]),
                                                min(n["street_centre"], len(lay["streets"])),
                                                replace=False))]
    rows, p = _street_sites({**lay, "streets": st, "street_geoms": [
        lay["street_geoms"][i] for i in st.index]}, 1, 80.0, rng)
    add(rows, "street_centre", [f"{s}综合养老服务中心" for s in st["name"]],
        rng.uniform(1000, 2500, len(rows)), np.full(len(rows), "public_private"), p=p)
    rows = np.sort(np.r_[_pick(urban, round(0.7 * n["institution"]), rng),
                         _pick(~urban, n["institution"] - round(0.7 * n["institution"]), rng)])
    beds = rng.integers(5, 50, len(rows)) * 10
    add(rows, "institution", [f"{_base(s)}颐养院" for s in names[rows]],
        beds * rng.uniform(30, 45, len(rows)), rng.choice(owners, len(rows), p=[0.3, 0.2, 0.5]),
        beds=beds)
    rows = np.sort(np.r_[_pick(urban, round(0.75 * n["childcare"]), rng),
                         _pick(~urban, n["childcare"] - round(0.75 * n["childcare"]), rng)])
    small = rng.random(len(rows)) < 0.15
    fa = np.where(small, rng.uniform(90, 195, len(rows)), rng.uniform(220, 900, len(rows)))
    add(rows, "childcare", [f"{_base(s)}托育园" for s in names[rows]], fa,
        rng.choice(owners, len(rows), p=[0.25, 0.25, 0.5]),
        places=np.floor(np.round(fa) / rng.uniform(7.5, 10, len(rows))))
    out = pd.concat(parts, ignore_index=True)
    out.insert(2, "id", [f"F{k + 1:05d}" for k in range(len(out))])
    return out


def candidates(lay: dict, scale: float, rng: np.random.Generator) -> pd.DataFrame:
    """Candidate sites: street-centre sites in every street, then sites near communities.

    Parameters
    ----------
    lay
        The layout.
    scale
        Share of the city (``CANDIDATES`` times it, rounded).
    rng
        Random numbers.

    Returns
    -------
    pandas.DataFrame
        ``x``, ``y`` (metric), ``id``, ``name``, ``kinds``, ``floor_area_m2``,
        ``acquisition``, ``cost_yuan``.
    """
    comms, urban, xy = lay["communities"], lay["urban"], lay["xy"]
    names = comms["name"].to_numpy()
    sc_rows, sc_xy = _street_sites(lay, STREET_CENTRE_SITES, 150.0, rng)
    n_rest = max(round(CANDIDATES * scale) - len(sc_rows), 0)
    w = np.where(urban, 3.0, 1.0)
    rows = np.sort(rng.choice(len(comms), n_rest, p=w / w.sum()))
    p = _near(xy[rows], np.where(urban[rows], 400.0, 220.0), rng,
              shapely.union_all(lay["district_geoms"]))
    u = urban[rows]
    acq = np.where(u, rng.choice(["renovate", "lease", "new"], n_rest, p=[0.45, 0.35, 0.2]),
                   rng.choice(["renovate", "new"], n_rest, p=[0.6, 0.4]))
    lo = np.array([AREA[a][0] for a in acq])
    hi = np.array([AREA[a][1] for a in acq])
    fa = np.round(rng.uniform(lo, hi))
    both = rng.choice(["elderly;childcare"] * 3 + ["elderly", "childcare"], n_rest)
    one = rng.choice(["elderly", "childcare"], n_rest)
    kinds = np.where(fa >= 500, both, np.where(fa >= 300, one, "childcare"))
    label = {"renovate": ("社区服务中心", "闲置办公楼", "空置公租房"), "lease": ("临街商业用房",),
             "new": ("地块",)}
    rural_label = {"renovate": ("委会闲置用房", "闲置小学"), "new": ("集体建设用地",)}
    pick = rng.integers(0, 3, n_rest)
    site_names = [f"{_base(names[r])}{(label if urb else rural_label)[a][k % len((label if urb else rural_label)[a])]}"
                  for r, urb, a, k in zip(rows, u, acq, pick, strict=True)]
    sc_area = np.round(rng.uniform(1000, 2000, len(sc_rows)))
    sc_acq = rng.choice(["new", "renovate"], len(sc_rows))
    out = pd.DataFrame({
        "x": np.r_[sc_xy[:, 0], p[:, 0]], "y": np.r_[sc_xy[:, 1], p[:, 1]],
        "name": [f"{_base(names[r])}综合服务用房" for r in sc_rows] + site_names,
        "kinds": np.r_[rng.choice(["street_centre", "street_centre;elderly"], len(sc_rows)), kinds],
        "floor_area_m2": np.r_[sc_area, fa], "acquisition": np.r_[sc_acq, acq]})
    unit = np.array([rng.uniform(*UNIT_COST[a]) for a in out["acquisition"]])
    out["cost_yuan"] = np.round(out["floor_area_m2"] * unit, -3)
    out.insert(2, "id", [f"C{k + 1:05d}" for k in range(len(out))])
    return out


# ---------------------------------------------------------------- files


def _round(obj: Any) -> Any:
    """Coordinates of a GeoJSON mapping rounded to 1e-6 degree (about 0.1 m)."""
    if isinstance(obj, float):
        return round(obj, 6)
    if isinstance(obj, (tuple, list)):
        return [_round(o) for o in obj]
    return obj


def _native(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return int(v) if float(v).is_integer() else float(v)
    return v


def _write_geojson(path: Path, rows: list[dict], geoms: list[str]) -> Path:
    """One feature per line: properties in the given order, then the geometry's JSON."""
    lines = [f'{{"type": "Feature", "properties": '
             f'{json.dumps({k: _native(v) for k, v in r.items()}, ensure_ascii=False)}, '
             f'"geometry": {g}}}' for r, g in zip(rows, geoms, strict=True)]
    path.write_text('{"type": "FeatureCollection", "features": [\n' + ",\n".join(lines)
                    + "\n]}\n", encoding="utf-8")
    return path


def _points(lonlat: np.ndarray) -> list[str]:
    return [f'{{"type": "Point", "coordinates": [{lo:.6f}, {la:.6f}]}}' for lo, la in lonlat]


def _polygons(geoms: list, to_ll: pyproj.Transformer) -> list[str]:
    def lonlat(xy: np.ndarray) -> np.ndarray:
        return np.asarray(np.round(np.c_[to_ll.transform(*xy.T)], 6), dtype=float)

    out = []
    for g in geoms:
        ll = shapely.transform(g, lonlat)
        ll = shapely.make_valid(ll)
        if ll.geom_type == "GeometryCollection":
            ll = shapely.union_all([p for p in shapely.get_parts(ll)
                                    if p.geom_type in ("Polygon", "MultiPolygon")])
        out.append(json.dumps(_round(shapely.geometry.mapping(ll))))
    return out


def write_layers(out: Path, lay: dict, fac: pd.DataFrame, cand: pd.DataFrame,
                 to_ll: pyproj.Transformer, grid_m: float = 0.0) -> list[str]:
    """Write districts, streets, communities, facilities, candidates (and a grid) as GeoJSON.

    Parameters
    ----------
    out
        The folder.
    lay
        The layout with people.
    fac, cand
        Facilities and candidate sites (:func:`facilities`, :func:`candidates`).
    to_ll
        The city's metric CRS -> WGS-84.
    grid_m
        Cell size of a population grid (each community's people in its cell); 0: none.

    Returns
    -------
    list of str
        The layers written.
    """
    d = lay["districts"]
    _write_geojson(out / "districts.geojson", [{"code": c, "name": n} for c, n in
                                               zip(d["code"], d["name"], strict=True)],
                   _polygons(lay["district_geoms"], to_ll))
    s = lay["streets"]
    _write_geojson(out / "streets.geojson", s[["code", "name", "district"]].to_dict("records"),
                   _polygons(lay["street_geoms"], to_ll))
    c = lay["communities"]
    rows = pd.DataFrame({"id": c["code"], "name": c["name"], "district": c["district"],
                         "street": c["street"], "urban_rural": np.where(lay["urban"], "111", "220"),
                         "population": lay["pop"], "pop_60plus": lay["pop60"],
                         "pop_0_3": lay["pop03"], "households": lay["households"]})
    ll = np.c_[to_ll.transform(*lay["xy"].T)]
    _write_geojson(out / "communities.geojson", rows.to_dict("records"), _points(ll))
    for name, df in (("facilities", fac), ("candidates", cand)):
        _write_geojson(out / f"{name}.geojson", df.drop(columns=["x", "y"]).to_dict("records"),
                       _points(np.c_[to_ll.transform(df["x"].to_numpy(), df["y"].to_numpy())]))
    files = ["districts", "streets", "communities", "facilities", "candidates"]
    if grid_m > 0:
        cell = np.floor(lay["xy"] / grid_m).astype(np.int64)
        g = pd.DataFrame({"i": cell[:, 0], "j": cell[:, 1], "population": lay["pop"],
                          "pop_60plus": lay["pop60"], "pop_0_3": lay["pop03"]})
        g = g.groupby(["j", "i"], sort=True).sum().reset_index()
        centres = (g[["i", "j"]].to_numpy() + 0.5) * grid_m
        _write_geojson(out / "population.geojson",
                       g[["population", "pop_60plus", "pop_0_3"]].to_dict("records"),
                       _points(np.c_[to_ll.transform(*centres.T)]))
        files.append("population_grid")
    return files
