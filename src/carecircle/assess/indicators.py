"""District indicators against the plan's 2025 targets, one row per district and indicator.

Every indicator has a value, a target, a gap and a status (``pass`` / ``fail`` /
``no data``).  An indicator whose inputs are missing (no streets layer, no places
column, no urban communities in a district...) is ``no data``: never 0, never pass.
The city total is computed from the summed numerators and denominators, not by
averaging districts.

Indicators (targets from the scenario, defaults from the plan):

=========================  =====================================================
``urban_elderly``          share of urban communities served by elderly care (>= 90%)
``rural_elderly``          share of rural communities served by elderly care (>= 80%)
``street_centre``          share of streets/towns with a comprehensive centre (>= 70%)
``compliance``             share of communities served by both kinds (配建达标率, 100%)
``childcare_places``       childcare places per 1,000 residents (>= 4.8)
``public_beds``            public elderly-institution beds vs 1% of residents 60+
``nursing_share``          nursing-type beds as a share of institution beds (>= 60%)
``demonstration_home``     public demonstration elderly homes (>= 1)
``public_childcare``       public or public-built-private-run childcare institutions (>= 1)
``elderly_area``           elderly facility floor area per resident (0.1-0.3 m²)
``kindergarten_tuoban``    share of streets/towns with a kindergarten running a 托班 (100%)
=========================  =====================================================

A kindergarten with a 托班 (``kindergarten_tuoban``) counts for its own street target
and, unless ``tuoban_as_childcare`` is off, its places count as childcare places.

Beds are those of institutions and street/town centres (:data:`BED_KINDS`: the plan's
street centres have beds, attachment 2), public ones (公办 and 公建民营) for
``public_beds``, all of them for the nursing share.  A facility with beds but no
``nursing_beds`` makes the share ``incomplete`` when it could change the verdict (its
beds counted as not nursing-type for ``pass``, as nursing-type for ``fail``).  A
demonstration home is a public institution whose ``demonstration`` is true.

A target the scenario's profile does not set (``None``, e.g. the ``neutral`` profile's
places per 1,000) has no row.  A range target (floor area per resident) is checked at
both ends: below the low end or above the high end fails, and the gap is the distance to
the nearer end (0 inside the range).

Communities that are not on the network (``unreachable``) could not be assessed.  The
coverage shares (``urban_elderly``, ``rural_elderly``, ``compliance``) are computed over
the assessed communities, and the count of the others is in ``not_assessed``.  A share
with communities not assessed is ``pass`` only if it would pass even if none of them
were served, ``fail`` only if it would fail even if all of them were, and otherwise
``incomplete``: never "ok" on part of the data (docs/safety.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from carecircle.inputs.scenario import Targets

PUBLIC = ("public", "public_private")
ELDERLY_KINDS = ("elderly", "street_centre", "institution", "rural_home")
#: Facility kinds whose beds count as elderly-institution beds.
BED_KINDS = ("institution", "street_centre")

LABELS = {
    "urban_elderly": "城市社区养老服务设施覆盖率 Urban community elderly-care coverage",
    "rural_elderly": "农村养老服务设施覆盖率 Rural elderly-care coverage",
    "street_centre": "镇(街道)综合养老服务中心覆盖率 Street/town centre coverage",
    "compliance": "社区养老托育设施配建达标率 Communities with both facilities",
    "childcare_places": "每千人口托位数 Childcare places per 1,000 residents",
    "public_beds": "公办养老机构床位(张) Public elderly-institution beds",
    "nursing_share": "养老机构护理型床位占比 Nursing-type bed share",
    "demonstration_home": "公办示范性养老院(所) Public demonstration elderly homes",
    "public_childcare": "公办或公建民营托育机构(所) Public childcare institutions",
    "elderly_area": "人均养老设施面积(平方米) Elderly floor area per resident (m²)",
    "kindergarten_tuoban": "开设托班幼儿园的镇(街道)占比 Streets/towns with a kindergarten running a 托班",
}
UNITS = {
    "urban_elderly": "%", "rural_elderly": "%", "street_centre": "%", "compliance": "%",
    "childcare_places": "per 1,000", "public_beds": "beds", "nursing_share": "%",
    "demonstration_home": "count", "public_childcare": "count",
    "elderly_area": "m²/person", "kindergarten_tuoban": "%",
}


@dataclass(frozen=True)
class _Part:
    """Numerator and denominator of one indicator in one district (None = no data)."""

    num: float | None
    den: float | None
    off: float = 0.0  # communities of the denominator's kind that could not be assessed


_NO_DATA = _Part(None, None)
#: The indicators that count today's stock of facilities.
_STOCK = ("childcare_places", "public_beds", "nursing_share", "demonstration_home",
          "public_childcare", "elderly_area")


def _share(num, den, target, off: float = 0.0) -> tuple[float | None, str]:
    if den is None or num is None or den == 0:
        return None, ("incomplete" if off else "no data")
    value = num / den
    if not off:
        return value, "pass" if value >= target - 1e-12 else "fail"
    # bounds over what the communities not assessed could be: none served .. all served
    if num / (den + off) >= target - 1e-12:
        return value, "pass"
    if (num + off) / (den + off) < target - 1e-12:
        return value, "fail"
    return value, "incomplete"


def _row(district, name, key, value, target, target_text, status, gap=None, off=0.0) -> dict:
    if gap is None and value is not None and target is not None:
        gap = value - target
    return {
        "district": district, "district_name": name, "indicator": key, "label": LABELS[key],
        "value": np.nan if value is None else float(value),
        "target": np.nan if target is None else float(target), "target_text": target_text,
        "gap": np.nan if gap is None else float(gap), "status": status, "unit": UNITS[key],
        "not_assessed": int(off),
    }


def street_of_points(facilities: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None) -> pd.Series:
    """The street/town code of each facility.

    Parameters
    ----------
    facilities
        Points (facilities or proposed sites), in the streets' CRS.
    streets
        Street/town polygons with a ``code`` column, or None.

    Returns
    -------
    pandas.Series
        Indexed like ``facilities``: the code of the street polygon each point lies
        within (None outside every street).  Without street polygons, the
        facilities' own ``street`` column, else all None.
    """
    if streets is None or not streets.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        if "street" in facilities.columns:
            return facilities["street"]
        return pd.Series([None] * len(facilities), index=facilities.index, dtype=object)
    j = gpd.sjoin(facilities[["geometry"]], streets[["code", "geometry"]], how="left",
                  predicate="within")
    j = j[~j.index.duplicated(keep="first")]
    return j["code"]


@dataclass(frozen=True)
class _Communities:
    """The community columns the indicators use, as arrays."""

    on_net: np.ndarray
    elderly: np.ndarray  # served by elderly care
    childcare: np.ndarray  # served by childcare
    urban: np.ndarray
    pop: np.ndarray
    pop60: np.ndarray
    district: np.ndarray

    @classmethod
    def of(cls, comm: pd.DataFrame, served_col: str) -> _Communities:
        on_net = comm["snapped"].to_numpy(dtype=bool) if "snapped" in comm else np.ones(len(comm), bool)
        return cls(
            on_net=on_net,
            elderly=comm[f"elderly_{served_col}"].to_numpy(dtype=bool),
            childcare=comm[f"childcare_{served_col}"].to_numpy(dtype=bool),
            urban=(comm["urban_rural"] == "urban").to_numpy(),
            pop=comm["population"].to_numpy(dtype=float),
            pop60=comm["pop_60plus"].to_numpy(dtype=float),
            district=comm["district"].astype(str).to_numpy(),
        )

    def coverage(self, mask_d: np.ndarray) -> dict[str, _Part]:
        """The coverage shares of the communities in ``mask_d`` that are on the network."""
        m_u = mask_d & self.on_net & self.urban
        m_r = mask_d & self.on_net & ~self.urban
        m_all = mask_d & self.on_net
        off = mask_d & ~self.on_net
        return {
            "urban_elderly": _Part(float((self.elderly & m_u).sum()), float(m_u.sum()) or None,
                                   float((off & self.urban).sum())),
            "rural_elderly": _Part(float((self.elderly & m_r).sum()), float(m_r.sum()) or None,
                                   float((off & ~self.urban).sum())),
            "compliance": _Part(float((self.elderly & self.childcare & m_all).sum()),
                                float(m_all.sum()) or None, float(off.sum())),
        }


@dataclass(frozen=True)
class _Stock:
    """The facilities (today's, and proposed ones appended) as arrays.

    ``places``/``beds`` are None where the layer has no such numbers; ``public`` is
    all False where it has no ``ownership`` (then ``has_own`` is False).
    """

    district: np.ndarray
    kind: np.ndarray
    public: np.ndarray
    street: np.ndarray
    area: np.ndarray
    places: np.ndarray | None
    beds: np.ndarray | None
    has_own: bool
    nursing: np.ndarray | None = None  # NaN where a facility does not say
    demonstration: np.ndarray | None = None

    @classmethod
    def of(cls, fac: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None) -> _Stock:
        has_own = "ownership" in fac
        has_places = "places" in fac and fac["places"].notna().any()
        has_beds = "beds" in fac and fac["beds"].notna().any()
        has_nursing = "nursing_beds" in fac and fac["nursing_beds"].notna().any()
        has_demo = "demonstration" in fac and fac["demonstration"].notna().any()
        return cls(
            district=fac["district"].astype(str).to_numpy(),
            kind=fac["kind"].to_numpy(),
            public=fac["ownership"].isin(PUBLIC).to_numpy() if has_own else np.zeros(len(fac), bool),
            street=street_of_points(fac, streets).astype(object).to_numpy(),
            area=fac["floor_area_m2"].to_numpy(float),
            places=fac["places"].to_numpy(float) if has_places else None,
            beds=fac["beds"].to_numpy(float) if has_beds else None,
            has_own=has_own,
            nursing=fac["nursing_beds"].to_numpy(float) if has_nursing else None,
            demonstration=(fac["demonstration"].fillna(False).to_numpy(dtype=bool)
                           if has_demo else None),
        )

    def streets_with_centre(self, kind: str = "street_centre") -> set:
        """Streets with a facility of *kind* (default a comprehensive centre)."""
        return {s for s, k in zip(self.street, self.kind, strict=True)
                if k == kind and s is not None and not pd.isna(s)}


@dataclass(frozen=True)
class _Extras:
    """Additions per district code that have no coordinates (major projects built)."""

    beds: dict[str, float]
    places: dict[str, float]
    area: dict[str, float]
    public_childcare: dict[str, float]
    all_beds: dict[str, float] = dataclasses.field(default_factory=dict)
    nursing_beds: dict[str, float] = dataclasses.field(default_factory=dict)
    demonstration: dict[str, float] = dataclasses.field(default_factory=dict)

    @staticmethod
    def total(values: dict[str, float], dcodes: list[str]) -> float:
        return sum(values.get(d, 0.0) for d in dcodes)


def _street_part(streets: gpd.GeoDataFrame | None, dcodes: list[str], with_centre: set) -> _Part:
    if streets is None:
        return _NO_DATA
    st = streets[streets["district"].astype(str).isin(dcodes)]
    with_c = sum(1 for s in st["code"] if s in with_centre)
    return _Part(float(with_c), float(len(st)) or None)


def _stock_parts(
    stock: _Stock | None,
    fmask: np.ndarray | None,
    dcodes: list[str],
    extras: _Extras,
    total_pop: float,
    beds_due: float,
    place_kinds: tuple[str, ...] = ("childcare", "kindergarten_tuoban"),
) -> dict[str, _Part]:
    """Places, public beds, public childcare and elderly floor area of one unit.

    Additions without coordinates count even without a facilities layer, except for
    public childcare and floor area, which need the layer.
    """
    p: dict[str, _Part] = {}
    plus_places = extras.total(extras.places, dcodes)
    plus_beds = extras.total(extras.beds, dcodes)
    if (stock is not None and stock.places is not None) or plus_places:
        places = plus_places
        if stock is not None and stock.places is not None and fmask is not None:
            places += float(np.nansum(stock.places[fmask & np.isin(stock.kind, place_kinds)]))
        p["childcare_places"] = _Part(places * 1000.0, total_pop or None)
    else:
        p["childcare_places"] = _NO_DATA
    if (stock is not None and stock.beds is not None and stock.has_own) or plus_beds:
        beds = plus_beds
        if stock is not None and stock.beds is not None and fmask is not None:
            sel = fmask & np.isin(stock.kind, BED_KINDS) & stock.public
            beds += float(np.nansum(stock.beds[sel]))
        p["public_beds"] = _Part(beds, beds_due or None)
    else:
        p["public_beds"] = _NO_DATA
    p["nursing_share"] = _nursing_part(stock, fmask, dcodes, extras)
    p["demonstration_home"] = _demonstration_part(stock, fmask, dcodes, extras)
    if stock is None or fmask is None:
        p["public_childcare"] = p["elderly_area"] = _NO_DATA
        return p
    if stock.has_own:
        n_pc = float(((stock.kind == "childcare") & stock.public & fmask).sum())
        p["public_childcare"] = _Part(n_pc + extras.total(extras.public_childcare, dcodes), 1.0)
    else:
        p["public_childcare"] = _NO_DATA
    area = float(stock.area[fmask & np.isin(stock.kind, ELDERLY_KINDS)].sum())
    area += extras.total(extras.area, dcodes)
    p["elderly_area"] = _Part(area, total_pop or None)
    return p


def place_kinds(tuoban_as_childcare: bool = True) -> tuple[str, ...]:
    """Facility kinds whose ``places`` count as childcare places.

    Parameters
    ----------
    tuoban_as_childcare
        Count a kindergarten's 托班 places (``kindergarten_tuoban``).
    """
    return ("childcare", "kindergarten_tuoban") if tuoban_as_childcare else ("childcare",)


def _nursing_part(stock: _Stock | None, fmask: np.ndarray | None, dcodes: list[str],
                  extras: _Extras) -> _Part:
    """Nursing-type beds over the beds that say (``off``: beds that do not)."""
    plus_beds = extras.total(extras.all_beds, dcodes)
    plus_nursing = extras.total(extras.nursing_beds, dcodes)
    have = stock is not None and stock.nursing is not None and stock.beds is not None
    if not have and not plus_beds:
        return _NO_DATA
    num, den, off = plus_nursing, plus_beds, 0.0
    if have and fmask is not None:
        assert stock is not None and stock.beds is not None and stock.nursing is not None
        sel = fmask & np.isin(stock.kind, BED_KINDS) & (np.nan_to_num(stock.beds) > 0)
        known = sel & ~np.isnan(stock.nursing)
        num += float(np.nansum(stock.nursing[known]))
        den += float(np.nansum(stock.beds[known]))
        off = float(np.nansum(stock.beds[sel & np.isnan(stock.nursing)]))
    if den == 0 and off == 0:
        return _NO_DATA  # no beds at all: no share to judge
    return _Part(num, den or None, off)


def _demonstration_part(stock: _Stock | None, fmask: np.ndarray | None, dcodes: list[str],
                        extras: _Extras) -> _Part:
    """Public demonstration homes (institutions flagged ``demonstration``)."""
    plus = extras.total(extras.demonstration, dcodes)
    have = stock is not None and stock.demonstration is not None and stock.has_own
    if not have and not plus:
        return _NO_DATA
    n = plus
    if have and fmask is not None:
        assert stock is not None and stock.demonstration is not None
        n += float((fmask & (stock.kind == "institution") & stock.public
                    & stock.demonstration).sum())
    return _Part(n, 1.0)


def _range_status(value: float | None, lo: float, hi: float) -> tuple[str, float | None]:
    """A range target checked at both ends: status and the gap to the nearer end.

    Below ``lo`` the gap is negative (``value - lo``), above ``hi`` positive
    (``value - hi``), inside it 0.
    """
    if value is None:
        return "no data", None
    if value < lo - 1e-12:
        return "fail", value - lo
    if value > hi + 1e-12:
        return "fail", value - hi
    return "pass", 0.0


def _bed_rows(code: str, name: str, p: dict[str, _Part], t: Targets,
              demo_need: float | None) -> list[dict]:
    """The bed rows (public beds, nursing share, demonstration homes) the profile sets."""
    rows = []
    pb = p["public_beds"]
    if t.public_beds_share_of_60plus is None:
        pass
    elif pb.num is None or pb.den is None:
        rows.append(_row(code, name, "public_beds", None, None,
                         f"{t.public_beds_share_of_60plus:.0%} of 60+", "no data"))
    else:
        s = "pass" if pb.num >= pb.den - 1e-9 else "fail"
        rows.append(_row(code, name, "public_beds", pb.num, pb.den,
                         f">= {t.public_beds_share_of_60plus:.0%} of 60+ ({pb.den:.0f})", s))
    ns = p["nursing_share"]
    if t.nursing_bed_share is not None:
        v, s = _share(ns.num, ns.den, t.nursing_bed_share, ns.off)
        rows.append(_row(code, name, "nursing_share", v, t.nursing_bed_share,
                         f">= {t.nursing_bed_share:.0%}", s))
    dh = p["demonstration_home"]
    if demo_need is None:
        pass
    elif dh.num is None:
        rows.append(_row(code, name, "demonstration_home", None, demo_need, f">= {demo_need:g}",
                         "no data"))
    else:
        rows.append(_row(code, name, "demonstration_home", dh.num, demo_need,
                         f">= {demo_need:g}", "pass" if dh.num >= demo_need else "fail"))
    return rows


def _unit_rows(code: str, name: str, p: dict[str, _Part], t: Targets, need: float | None,
               demo_need: float | None = 1.0) -> list[dict]:
    """The indicator rows of one district (or the city); a target that is ``None`` (the
    profile sets none) has no row."""
    rows = []
    for key, target in (("urban_elderly", t.urban_elderly_coverage),
                        ("rural_elderly", t.rural_elderly_coverage),
                        ("street_centre", t.street_centre_coverage),
                        ("compliance", t.facility_compliance)):
        if target is None:
            continue
        v, s = _share(p[key].num, p[key].den, target, p[key].off)
        rows.append(_row(code, name, key, v, target, f">= {target:.0%}", s, off=p[key].off))
    cp = p["childcare_places"]
    if t.childcare_places_per_1000 is not None:
        v, s = _share(cp.num, cp.den, t.childcare_places_per_1000)
        rows.append(_row(code, name, "childcare_places", v, t.childcare_places_per_1000,
                         f">= {t.childcare_places_per_1000:g}", s))
    rows += _bed_rows(code, name, p, t, demo_need)
    pc = p["public_childcare"]
    if need is None:
        pass
    elif pc.num is None:
        rows.append(_row(code, name, "public_childcare", None, need, f">= {need}", "no data"))
    else:
        rows.append(_row(code, name, "public_childcare", pc.num, need, f">= {need}",
                         "pass" if pc.num >= need else "fail"))
    if t.elderly_area_per_resident_m2 is not None:
        lo, hi = t.elderly_area_per_resident_m2
        ea = p["elderly_area"]
        v = None if ea.num is None or not ea.den else ea.num / ea.den
        s, gap = _range_status(v, lo, hi)
        rows.append(_row(code, name, "elderly_area", v, lo, f"{lo:g}-{hi:g}", s, gap=gap))
    kt, target = p["kindergarten_tuoban"], t.kindergarten_tuoban_coverage
    if target is not None:
        v, s = _share(kt.num, kt.den, target)
        rows.append(_row(code, name, "kindergarten_tuoban", v, target, f">= {target:.0%}", s))
    return rows


def district_indicators(
    communities: pd.DataFrame,
    facilities: gpd.GeoDataFrame | None,
    districts: pd.DataFrame,
    *,
    streets: gpd.GeoDataFrame | None = None,
    targets: Targets | None = None,
    served_col: str = "served",
    extra_beds: dict[str, float] | None = None,
    extra_places: dict[str, float] | None = None,
    extra_area: dict[str, float] | None = None,
    extra_public_childcare: dict[str, float] | None = None,
    stock_known: bool = True,
    tuoban_as_childcare: bool = True,
    extra: Mapping[str, Mapping[str, float]] | None = None,
) -> pd.DataFrame:
    """The district table (long format) with a city total.

    Parameters
    ----------
    communities
        Community status (:func:`carecircle.assess.coverage.community_status`); uses
        ``district``, ``urban_rural``, ``population``, ``pop_60plus``, ``snapped`` and
        ``elderly_{served_col}`` / ``childcare_{served_col}``.
    facilities
        Existing facilities (and, after a plan, the proposed ones appended), or None.
    districts
        District ``code`` and ``name``.
    streets
        Streets/towns (``code``, ``district``); without them street-centre coverage is
        ``no data``.
    targets
        The plan's targets.
    served_col
        ``"served"`` for today, ``"served_after"`` after a plan.
    extra_beds, extra_places, extra_area, extra_public_childcare
        Additions per district code that have no coordinates (e.g. the plan's major
        projects counted as built).
    extra
        More such additions by name: ``all_beds`` (institution beds of any ownership,
        for the nursing share), ``nursing_beds``, ``demonstration`` (public
        demonstration homes); the ``extra_*`` names (``beds``, ``places``, ``area``,
        ``public_childcare``) may be given here too.
    stock_known
        ``False`` when today's facilities are unknown (no facilities layer): the
        indicators that count the stock (places, beds, public childcare, floor area)
        are ``no data`` even after new facilities are added.
    tuoban_as_childcare
        Count the places of kindergartens with a 托班 as childcare places.

    A district with no community in the study area has ``no data`` for every
    indicator: nothing in it was assessed.

    Returns
    -------
    pandas.DataFrame
        Columns ``district, district_name, indicator, label, value, target,
        target_text, gap, status, unit``.
    """
    t = targets or Targets()
    more = {k: dict(v) for k, v in (extra or {}).items()}
    extras = _Extras(extra_beds or more.get("beds", {}), extra_places or more.get("places", {}),
                     extra_area or more.get("area", {}),
                     extra_public_childcare or more.get("public_childcare", {}),
                     all_beds=more.get("all_beds", {}), nursing_beds=more.get("nursing_beds", {}),
                     demonstration=more.get("demonstration", {}))
    codes = list(districts["code"].astype(str))
    names = dict(zip(districts["code"].astype(str), districts["name"].astype(str), strict=True))
    comm = _Communities.of(communities, served_col)
    stock = _Stock.of(facilities, streets) if facilities is not None else None
    with_centre = stock.streets_with_centre() if stock is not None else set()
    with_tuoban = stock.streets_with_centre("kindergarten_tuoban") if stock is not None else set()
    with_tuoban_known = stock is not None and bool((stock.kind == "kindergarten_tuoban").any())

    rows = []
    units = [(d, names[d], [d]) for d in codes] + [("city", "全市 City total", codes)]
    for code, name, dcodes in units:
        mask_d = np.isin(comm.district, dcodes)
        fmask = np.isin(stock.district, dcodes) if stock is not None else None
        p = comm.coverage(mask_d)
        p["street_centre"] = _street_part(streets, dcodes, with_centre)
        # A facilities layer without any kindergarten does not record them: no data, not 0 %.
        p["kindergarten_tuoban"] = (_street_part(streets, dcodes, with_tuoban)
                                    if stock_known and with_tuoban_known else _NO_DATA)
        p.update(_stock_parts(stock, fmask, dcodes, extras, float(np.nansum(comm.pop[mask_d])),
                              float(np.nansum(comm.pop60[mask_d])) * (t.public_beds_share_of_60plus or 0.0),
                              place_kinds(tuoban_as_childcare)))
        if not mask_d.any():
            p = dict.fromkeys(p, _NO_DATA)
        elif not stock_known:
            p.update(dict.fromkeys(_STOCK, _NO_DATA))
        # The city needs one public childcare per district that was assessed (has communities).
        n_assessed = sum(1 for d in dcodes if (comm.district == d).any())
        per = t.public_childcare_per_district
        need = None if per is None else per * (n_assessed if code == "city" else 1)
        per_demo = t.demonstration_homes_per_district
        demo = None if per_demo is None else per_demo * (n_assessed if code == "city" else 1)
        rows += _unit_rows(code, name, p, t, need, demo)
    return pd.DataFrame(rows)


#: Status -> the mark shown beside a value.
STATUS_MARKS = {"pass": "✓", "fail": "✗", "no data": "无数据 no data", "incomplete": "? 不完整 incomplete"}


def value_text(value: object, unit: str) -> str:
    """An indicator's value as the briefing shows it: shares in percent, counts whole.

    Parameters
    ----------
    value
        The value (NaN or None: "—").
    unit
        The indicator's unit (:data:`UNITS`).

    Returns
    -------
    str
        ``93.3%``, ``1,260``, ``0.15``.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "—"
    v = float(value)  # type: ignore[arg-type]
    if unit == "%":
        return f"{100 * v:.1f}%"
    if unit in ("beds", "count"):
        return f"{v:,.0f}"
    return f"{v:.2f}"


def wide(table: pd.DataFrame) -> pd.DataFrame:
    """One row per district, one column per indicator: 'value (target) ✓/✗'."""
    def cell(r: pd.Series) -> str:
        if r["status"] == "no data":
            return "无数据 no data"
        v = r["value"]
        if r["status"] == "incomplete":
            txt = "—" if pd.isna(v) else f"{v:.1%}"
            n = int(r.get("not_assessed", 0))
            # the nursing share is incomplete for beds without a nursing count, not communities
            return f"{txt} ?" + (f" ({n} 未评估 not assessed)" if n else " (部分数据 partial data)")
        txt = f"{v:.1%}" if r["unit"] == "%" else f"{v:,.2f}" if r["unit"] in ("per 1,000", "m²/person") else f"{v:,.0f}"
        return f"{txt} {'✓' if r['status'] == 'pass' else '✗'}"

    t = table.assign(cell=table.apply(cell, axis=1))
    out = t.pivot(index=["district", "district_name"], columns="label", values="cell")
    order = [LABELS[k] for k in LABELS if LABELS[k] in out.columns]
    out = out[order].reset_index()
    keys = list(dict.fromkeys(table["district"]))
    out = out.set_index("district").loc[keys].reset_index()
    return out.rename(columns={"district": "区县代码 Code", "district_name": "区县 District"})


SHORT = {
    "urban_elderly": "城市养老覆盖 Urban elderly",
    "rural_elderly": "农村养老覆盖 Rural elderly",
    "street_centre": "街道中心覆盖 Street centres",
    "compliance": "配建达标率 Both facilities",
    "childcare_places": "千人托位 Places/1,000",
    "public_beds": "公办床位 Public beds",
    "nursing_share": "护理型床位占比 Nursing beds",
    "demonstration_home": "示范养老院 Demo homes",
    "public_childcare": "公办托育 Public childcare",
    "elderly_area": "人均养老面积 Elderly m²/res.",
    "kindergarten_tuoban": "幼儿园托班 Kindergarten 托班",
}


def _cell_text(r: pd.Series) -> str:
    if r["status"] == "no data":
        return "no data"
    v = r["value"]
    if r["status"] == "incomplete":  # "?" and how many communities were not assessed
        n = int(r.get("not_assessed", 0))
        return f"{'-' if pd.isna(v) else f'{v:.0%}'} ?{n if n else ''}"
    if r["unit"] == "%":
        txt = f"{v:.0%}"
    elif r["unit"] in ("per 1,000", "m²/person"):
        txt = f"{v:.2f}"
    else:
        txt = f"{v:,.0f}"
    return f"{txt} {'ok' if r['status'] == 'pass' else 'X'}"


def terminal_table(table: pd.DataFrame) -> str:
    """A compact text table for the terminal: indicators down, districts across."""
    t = table.assign(cell=table.apply(_cell_text, axis=1))
    # Districts where nothing was assessed (every indicator no data) are left out.
    assessed = t.groupby("district_name")["status"].apply(lambda s: (s != "no data").any())
    cols = [c for c in dict.fromkeys(t["district_name"]) if assessed.get(c, False)]
    cols = cols or list(dict.fromkeys(t["district_name"]))
    out = t.pivot(index="indicator", columns="district_name", values="cell")[cols]
    out = out.loc[[k for k in SHORT if k in out.index]]
    targets = t.drop_duplicates("indicator").set_index("indicator")["target_text"]
    out.insert(0, "目标 Target", targets.reindex(out.index).str.replace(r" \(.*\)", "", regex=True))
    out.index = [SHORT[k] for k in out.index]
    out.index.name = "指标 Indicator"
    out.columns.name = None
    text = out.to_string()
    if (t["status"] == "incomplete").any():
        text += ("\n?N: incomplete, N communities not on the network were not assessed "
                 "不完整, N 个社区未评估")
    return text
