"""Facility lists with addresses and no coordinates: place them with a web geocoder.

Civil-affairs lists (民政局 facility registers) often give an address and no
coordinates.  :func:`geocode_file` reads such a CSV, asks a geocoder for each address
that has no coordinates, and writes the same table with ``lon``/``lat`` in WGS-84 (the
columns the layer readers look for first), the geocoder's level and address, and a
status per row; every row it could not place is listed with the reason, in the
output's ``geocode_status`` / ``geocode_reason`` columns and in a second file
``<output>.unplaced.csv``.  ``carecircle geocode`` is a thin command over it.

Geocoders (pluggable: anything with :class:`Geocoder`'s two methods)
--------------------------------------------------------------------
- :class:`AmapGeocoder`: Amap/Gaode's web service (``/v3/geocode/geo``, the user's
  Web-service key).  Amap answers in GCJ-02; results are converted to WGS-84 with
  :func:`carecircle.inputs.coords.gcj02_to_wgs84` (exact inverse).
- :class:`TiandituGeocoder`: Tianditu's geocoder (``/geocoder?ds={"keyWord": ...}``,
  the user's ``tk``).  Tianditu answers in CGCS2000, which agrees with WGS-84 to well
  under a metre: no conversion.

The base URL of each is configurable (``base_url``): the tests point it at a local
server that serves recorded answers, never the internet.

Decisions
---------
- A result located only to an area (province, city, district, development zone,
  town, road, business area; Amap ``level`` / Tianditu ``level``) is not a place for
  a 15-minute walk: the row is left unplaced, "imprecise", with the level.  Amap
  villages (``村庄``) are accepted: rural facilities sit at the village.
- Several Amap results farther than 500 m apart: "ambiguous", left unplaced.
- Rows that already have both coordinates keep them ("given"; converted to WGS-84
  from ``given_coords``).  Rows without an address are "no_address".
- Answers are cached on disk, one JSON file per (provider, base URL, city, address),
  never with the key, so a list is paid for once and a run cut short resumes.  Only
  answers about the address are cached (found, not found); errors are not.
- A refused key, an exhausted daily quota or an unreachable server stops the whole
  run with a :class:`GeocodeError` (every other row would fail the same way) and
  writes nothing; what was already answered stays in the cache.  A per-second limit
  is waited out and retried.  The key never appears in a message or the cache.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from carecircle.atomic import publish_file, write_text_atomic
from carecircle.errors import CarecircleError, InputError, Problem
from carecircle.inputs import coords as _coords

ADDRESS_NAMES = ("address", "addr", "地址", "详细地址", "地点", "位置", "地址信息", "机构地址")
LON_NAMES = ("lon", "lng", "longitude", "经度", "x")
LAT_NAMES = ("lat", "latitude", "纬度", "y")
STATUSES = ("ok", "given", "no_address", "no_result", "imprecise", "ambiguous", "error")
REASONS = {
    "no_address": "no address 无地址",
    "no_result": "the geocoder found nothing for this address 未找到该地址",
    "imprecise": "located only to the level '{level}', not a place 仅定位到“{level}”级",
    "ambiguous": "{n} results far apart 多个相距较远的结果",
    "error": "the geocoder refused this address 地址解析出错: {info}",
}


class GeocodeError(CarecircleError):
    """The geocoder cannot be used at all (key refused, quota, server unreachable)."""


@dataclass(frozen=True)
class Place:
    """A geocoder's answer for one address.

    Attributes
    ----------
    status
        One of :data:`STATUSES`.
    lon, lat
        WGS-84 degrees (NaN when not placed).
    level
        The provider's precision level (e.g. 门牌号, 兴趣点).
    address
        The provider's formatted address.
    reason
        Why it is not placed (bilingual); empty when placed.
    """

    status: str
    lon: float = math.nan
    lat: float = math.nan
    level: str = ""
    address: str = ""
    reason: str = ""


class Geocoder(Protocol):
    """What :func:`geocode_addresses` needs: a request per address, and its reading."""

    name: str

    def cache_key(self, address: str) -> str:
        """A text naming the question (provider, base URL, city, address): never the key."""
        ...

    def fetch(self, address: str) -> Any:
        """The provider's answer (parsed JSON) for one address; raise :class:`GeocodeError`
        when the provider cannot be used at all."""
        ...

    def parse(self, answer: Any) -> Place:
        """The place in an answer (WGS-84)."""
        ...


# ---------------------------------------------------------------- HTTP


@dataclass
class WebGeocoder:
    """Shared HTTP machinery: timeouts, retries with back-off, a pause between requests.

    Parameters
    ----------
    key
        The user's key for the provider.
    base_url
        The service's URL (default: the provider's own).
    city
        Restrict the search to a city (Amap's ``city``; Tianditu: prefixed to addresses
        that do not name it).
    timeout_s, retries, backoff_s
        Per request; a transient failure is retried ``retries`` times, waiting
        ``backoff_s`` x 2^attempt.
    min_interval_s
        Least time between two requests (the providers' per-second limits).
    """

    key: str
    base_url: str = ""
    city: str = ""
    timeout_s: float = 15.0
    retries: int = 3
    backoff_s: float = 1.0
    min_interval_s: float = 0.34
    name: str = "web"
    _last: float = field(default=0.0, repr=False)

    def _get(self, params: dict[str, str]) -> Any:
        """GET the service with ``params`` (key included); parsed JSON, retried when transient."""
        url = self.base_url + "?" + urllib.parse.urlencode(params)
        where = f"{self.name} geocoder at {self.base_url}"
        for attempt in range(self.retries + 1):
            wait = self.min_interval_s - (time.monotonic() - self._last)
            if wait > 0:
                time.sleep(wait)
            self._last = time.monotonic()
            try:
                req = urllib.request.Request(url, headers={"User-Agent": "carecircle-geocode"})
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    body = resp.read()
            except urllib.error.HTTPError as exc:
                if exc.code in (401, 403):
                    raise GeocodeError(f"{where}: the key was refused (HTTP {exc.code}) 密钥被拒绝; "
                                       f"check the key and its service type") from None
                if exc.code >= 500 or exc.code == 429:
                    self._pause(attempt, where, f"HTTP {exc.code}")
                    continue
                raise GeocodeError(f"{where}: HTTP {exc.code} {exc.reason}") from None
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                self._pause(attempt, where, str(reason))
                continue
            try:
                return json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                self._pause(attempt, where, "an answer that is not JSON")
        raise AssertionError("unreachable")  # pragma: no cover - _pause raises on the last

    def _pause(self, attempt: int, where: str, what: str) -> None:
        if attempt >= self.retries:
            raise GeocodeError(f"{where}: {what}, {self.retries + 1} tries 无法访问地理编码服务; "
                               "what was already answered is cached, run again to resume") from None
        time.sleep(self.backoff_s * 2**attempt)

    def cache_key(self, address: str) -> str:
        return json.dumps([self.name, self.base_url, self.city, address.strip()], ensure_ascii=False)

    def fetch(self, address: str) -> Any:
        """The provider's answer for one address (each provider defines it)."""
        raise NotImplementedError

    def parse(self, answer: Any) -> Place:
        """The place in an answer (each provider defines it)."""
        raise NotImplementedError


# ---------------------------------------------------------------- Amap

#: Amap levels that locate only an area (not a place for a 15-minute walk).
AMAP_IMPRECISE = frozenset({"国家", "省", "市", "区县", "开发区", "乡镇", "热点商圈", "道路", "未知"})
#: Amap infocodes: the key or quota is unusable -> stop; a per-second limit -> wait and retry.
AMAP_FATAL = {"10001": "INVALID_USER_KEY 密钥无效", "10003": "DAILY_QUERY_OVER_LIMIT 日配额已用完",
              "10005": "INVALID_USER_IP IP不在白名单", "10007": "INVALID_USER_SIGNATURE 签名错误",
              "10009": "USERKEY_PLAT_NOMATCH 密钥平台不符(需 Web 服务 key)",
              "10010": "IP_QUERY_OVER_LIMIT IP访问超限", "10012": "INSUFFICIENT_PRIVILEGES 权限不足",
              "10044": "USER_DAILY_QUERY_OVER_LIMIT 账号日配额已用完",
              "10045": "USER_ABROAD_DAILY_QUERY_OVER_LIMIT 海外日配额已用完"}
AMAP_RETRY = frozenset({"10004", "10014", "10015", "10019", "10020", "10021", "10029"})
AMAP_URL = "https://restapi.amap.com/v3/geocode/geo"
AMBIGUOUS_M = 500.0


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine), enough to tell results apart."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6371008.8 * math.asin(math.sqrt(a))


def _text(v: Any) -> str:
    """Amap gives ``[]`` for an empty field."""
    return "" if v is None or isinstance(v, list) else str(v)


@dataclass
class AmapGeocoder(WebGeocoder):
    """Amap/Gaode web-service geocoder (GCJ-02 answers, converted to WGS-84).

    See :class:`WebGeocoder` for the parameters; ``base_url`` defaults to
    :data:`AMAP_URL`.
    """

    name: str = "amap"

    def __post_init__(self) -> None:
        self.base_url = self.base_url or AMAP_URL

    def fetch(self, address: str) -> Any:
        params = {"address": address, "key": self.key, "output": "JSON"}
        if self.city:
            params["city"] = self.city
        for attempt in range(self.retries + 1):
            answer = self._get(params)
            code = str(answer.get("infocode", "")) if isinstance(answer, dict) else ""
            if code in AMAP_FATAL:
                raise GeocodeError(f"amap geocoder: {AMAP_FATAL[code]} (infocode {code}); "
                                   "check the key (a Web service key 'Web服务') and its quota")
            if code not in AMAP_RETRY:
                return answer
            self._pause(attempt, "amap geocoder", f"rate limit {answer.get('info')} ({code})")
        raise AssertionError("unreachable")  # pragma: no cover

    def parse(self, answer: Any) -> Place:
        if str(answer.get("status")) != "1":
            return Place("error", reason=REASONS["error"].format(
                info=f"{answer.get('info')} ({answer.get('infocode')})"))
        found = answer.get("geocodes") or []
        if not found:
            return Place("no_result", reason=REASONS["no_result"])
        pts = []
        for g in found:
            lon, lat = (float(v) for v in str(g["location"]).split(","))
            pts.append((lon, lat))
        first = found[0]
        level, addr = _text(first.get("level")), _text(first.get("formatted_address"))
        if len(pts) > 1 and max(_metres(*pts[0], *p) for p in pts[1:]) > AMBIGUOUS_M:
            return Place("ambiguous", level=level, address=addr,
                         reason=REASONS["ambiguous"].format(n=len(pts)))
        if level in AMAP_IMPRECISE:
            return Place("imprecise", level=level, address=addr,
                         reason=REASONS["imprecise"].format(level=level))
        wlon, wlat = _coords.gcj02_to_wgs84(*pts[0])
        return Place("ok", float(wlon), float(wlat), level, addr)


# ---------------------------------------------------------------- Tianditu

TIANDITU_URL = "https://api.tianditu.gov.cn/geocoder"
#: Tianditu levels that locate only an area.
TIANDITU_IMPRECISE = frozenset({"国家", "省", "市", "城市", "区县", "县", "行政区", "行政区划", "乡镇",
                                "街道", "道路"})


@dataclass
class TiandituGeocoder(WebGeocoder):
    """Tianditu (天地图) geocoder (CGCS2000 answers, used as WGS-84).

    See :class:`WebGeocoder` for the parameters; ``base_url`` defaults to
    :data:`TIANDITU_URL`.
    """

    name: str = "tianditu"
    min_interval_s: float = 0.2

    def __post_init__(self) -> None:
        self.base_url = self.base_url or TIANDITU_URL

    def fetch(self, address: str) -> Any:
        word = address.strip()
        if self.city and self.city not in word:
            word = self.city + word
        answer = self._get({"ds": json.dumps({"keyWord": word}, ensure_ascii=False), "tk": self.key})
        if isinstance(answer, dict) and str(answer.get("code", "")) not in ("", "0") \
                and "status" not in answer:
            # Tianditu's gateway answers a refused key with {"msg": ..., "code": ...}
            raise GeocodeError(f"tianditu geocoder: the key was refused 密钥被拒绝: {answer.get('msg')}")
        return answer

    def parse(self, answer: Any) -> Place:
        status = str(answer.get("status"))
        if status == "101":
            return Place("no_result", reason=REASONS["no_result"])
        loc = answer.get("location") or {}
        if status != "0" or "lon" not in loc:
            return Place("error", reason=REASONS["error"].format(info=f"{answer.get('msg')} ({status})"))
        level = str(loc.get("level") or "")
        if level in TIANDITU_IMPRECISE:
            return Place("imprecise", level=level, reason=REASONS["imprecise"].format(level=level))
        return Place("ok", float(loc["lon"]), float(loc["lat"]), level, str(loc.get("keyWord") or ""))


GEOCODERS: dict[str, type[WebGeocoder]] = {"amap": AmapGeocoder, "tianditu": TiandituGeocoder}
#: How each provider's coordinates became WGS-84 (the output's ``geocode_source``).
SOURCE_NOTES = {"amap": " (GCJ-02 -> WGS-84)", "tianditu": " (CGCS2000 = WGS-84)"}


def make_geocoder(provider: str, key: str, **kw: Any) -> WebGeocoder:
    """A geocoder by name.

    Parameters
    ----------
    provider
        ``"amap"`` or ``"tianditu"``.
    key
        The user's key.
    **kw
        :class:`WebGeocoder` parameters (``base_url``, ``city``, ``min_interval_s``...).

    Returns
    -------
    WebGeocoder

    Raises
    ------
    GeocodeError
        An unknown provider or an empty key.
    """
    if provider not in GEOCODERS:
        raise GeocodeError(f"unknown geocoder {provider!r}; expected one of {sorted(GEOCODERS)}")
    if not key or not key.strip():
        raise GeocodeError(f"{provider} geocoder: no key 缺少密钥 (--key, or $CARECIRCLE_GEOCODE_KEY)")
    return GEOCODERS[provider](key=key.strip(), **kw)


# ---------------------------------------------------------------- cache


class GeocodeCache:
    """Answers on disk: ``<folder>/<provider>/<sha[:2]>/<sha>.json``, one per question.

    Parameters
    ----------
    folder
        The cache folder (created when first written).
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def _path(self, geocoder: Geocoder, address: str) -> Path:
        digest = hashlib.sha256(geocoder.cache_key(address).encode("utf-8")).hexdigest()
        return self.folder / geocoder.name / digest[:2] / f"{digest}.json"

    def get(self, geocoder: Geocoder, address: str) -> Any:
        """The cached answer, or ``None`` (a damaged file counts as none).

        Parameters
        ----------
        geocoder
            The geocoder asked (its :meth:`Geocoder.cache_key` names the question).
        address
            The address.
        """
        path = self._path(geocoder, address)
        try:
            return json.loads(path.read_text(encoding="utf-8"))["answer"]
        except (OSError, ValueError, KeyError):
            return None

    def put(self, geocoder: Geocoder, address: str, answer: Any) -> None:
        """Store an answer (atomically) beside the question it answers.

        Parameters
        ----------
        geocoder
            The geocoder asked.
        address
            The address.
        answer
            The provider's answer (parsed JSON).
        """
        path = self._path(geocoder, address)
        text = json.dumps({"question": json.loads(geocoder.cache_key(address)), "answer": answer},
                          ensure_ascii=False, indent=1)
        write_text_atomic(path, text)


# ---------------------------------------------------------------- tables


def geocode_addresses(addresses: Iterable[str], geocoder: Geocoder, *,
                      cache: GeocodeCache | None = None,
                      progress: Callable[[int, int], None] | None = None) -> list[Place]:
    """Places for addresses (each distinct address asked once, cached answers reused).

    Parameters
    ----------
    addresses
        The addresses (empty -> ``no_address``).
    geocoder
        A :class:`Geocoder`.
    cache
        Where answers are kept (``None``: no cache).
    progress
        Called with (done, total) after each distinct address.

    Returns
    -------
    list of Place
        One per address, in order.

    Raises
    ------
    GeocodeError
        The geocoder cannot be used (see the module's decisions).
    """
    texts = [str(a).strip() if a is not None and a == a else "" for a in addresses]
    distinct = sorted({t for t in texts if t})
    found: dict[str, Place] = {}
    for n, text in enumerate(distinct, 1):
        answer = cache.get(geocoder, text) if cache is not None else None
        if answer is None:
            answer = geocoder.fetch(text)
            place = geocoder.parse(answer)
            if cache is not None and place.status != "error":
                cache.put(geocoder, text, answer)
        else:
            place = geocoder.parse(answer)
        found[text] = place
        if progress is not None:
            progress(n, len(distinct))
    return [found[t] if t else Place("no_address", reason=REASONS["no_address"]) for t in texts]


def _column(df: pd.DataFrame, wanted: str | None, names: Sequence[str], what: str,
            fname: str) -> str | None:
    lower = {str(c).strip().lower(): c for c in df.columns}
    if wanted:
        if wanted not in df.columns:
            raise InputError(Problem("error", fname, f"no {what} column 缺少列", column=wanted,
                                     found=f"columns {list(df.columns)}"))
        return wanted
    return next((lower[n] for n in names if n in lower), None)


@dataclass
class GeocodeReport:
    """What :func:`geocode_table` / :func:`geocode_file` did.

    Attributes
    ----------
    table
        The input table with ``lon``, ``lat`` (WGS-84) and the ``geocode_*`` columns.
    unplaced
        One row per row not placed: row (1-based, as in validation messages), id,
        name, address, status, reason.
    files
        The files written (:func:`geocode_file`).
    """

    table: pd.DataFrame
    unplaced: pd.DataFrame
    files: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        """Bilingual lines for the terminal."""
        counts = self.table["geocode_status"].value_counts()
        placed = int(counts.get("ok", 0) + counts.get("given", 0))
        lines = [f"{placed} of {len(self.table)} rows placed 已定位 ({int(counts.get('ok', 0))} geocoded "
                 f"地理编码, {int(counts.get('given', 0))} with coordinates given 已有坐标)"]
        if len(self.unplaced):
            lines.append(f"{len(self.unplaced)} rows not placed 未能定位:")
            lines.append(self.unplaced.to_string(index=False))
        return "\n".join(lines)


def geocode_table(df: pd.DataFrame, geocoder: Geocoder, *, cache: GeocodeCache | None = None,
                  address_column: str | None = None, given_coords: str = "wgs84",
                  fname: str = "table", progress: Callable[[int, int], None] | None = None
                  ) -> GeocodeReport:
    """Place every row of a table that has an address and no coordinates.

    Parameters
    ----------
    df
        The table (text columns).
    geocoder
        A :class:`Geocoder`.
    cache
        Answers on disk (``None``: none).
    address_column
        The address column; default the first of :data:`ADDRESS_NAMES` present.
    given_coords
        The coordinate system of coordinates already in the table (``wgs84``,
        ``gcj02``, ``bd09``).
    fname
        The table's file name, for messages.
    progress
        Called with (done, total).

    Returns
    -------
    GeocodeReport

    Raises
    ------
    InputError
        No address column.
    GeocodeError
        The geocoder cannot be used.
    """
    addr_col = _column(df, address_column, ADDRESS_NAMES, "address", fname)
    if addr_col is None:
        raise InputError(Problem("error", fname, "no address column 缺少地址列", column=address_column,
                                 found=f"columns {list(df.columns)}",
                                 expected="address, 地址, 详细地址 (or --address-column)"))
    lon_col = _column(df, None, LON_NAMES, "longitude", fname)
    lat_col = _column(df, None, LAT_NAMES, "latitude", fname)
    given = np.zeros(len(df), bool)
    glon = glat = np.full(len(df), np.nan)
    if lon_col is not None and lat_col is not None:
        glon = pd.to_numeric(df[lon_col], errors="coerce").to_numpy(dtype=float)
        glat = pd.to_numeric(df[lat_col], errors="coerce").to_numpy(dtype=float)
        given = np.isfinite(glon) & np.isfinite(glat)
        glon, glat = (np.asarray(a, dtype=float) for a in _coords.to_wgs84(glon, glat, given_coords))
    asked = geocode_addresses(df[addr_col].where(~given, None).tolist() if len(df) else [],
                              geocoder, cache=cache, progress=progress)
    places = [Place("given", float(glon[i]), float(glat[i])) if given[i] else p
              for i, p in enumerate(asked)]
    out = df.copy()
    out["lon"] = [round(p.lon, 6) if p.lon == p.lon else None for p in places]
    out["lat"] = [round(p.lat, 6) if p.lat == p.lat else None for p in places]
    out["geocode_status"] = [p.status for p in places]
    out["geocode_level"] = [p.level for p in places]
    out["geocode_address"] = [p.address for p in places]
    out["geocode_reason"] = [p.reason for p in places]
    source = geocoder.name + SOURCE_NOTES.get(geocoder.name, "")
    out["geocode_source"] = [source if p.status == "ok" else "" for p in places]
    missed = ~out["geocode_status"].isin(["ok", "given"]).to_numpy()
    bad = out[missed]
    id_col = _column(df, None, ("id", "编号"), "id", fname)
    name_col = _column(df, None, ("name", "名称", "机构名称"), "name", fname)
    unplaced = pd.DataFrame({
        "row": np.flatnonzero(missed) + 1,
        "id": bad[id_col].astype(str) if id_col else "",
        "name": bad[name_col].astype(str) if name_col else "",
        "address": bad[addr_col].astype(str), "status": bad["geocode_status"],
        "reason": bad["geocode_reason"]}).reset_index(drop=True)
    return GeocodeReport(out, unplaced)


def read_csv_text(path: Path) -> pd.DataFrame:
    """A CSV as text columns (UTF-8 with or without BOM, else GB18030 as Chinese Excel saves)."""
    try:
        return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    except UnicodeDecodeError:
        return pd.read_csv(path, encoding="gb18030", dtype=str, keep_default_na=False)


def geocode_file(source: str | Path, output: str | Path, geocoder: Geocoder, *,
                 cache_dir: str | Path | None = None, address_column: str | None = None,
                 given_coords: str = "wgs84",
                 progress: Callable[[int, int], None] | None = None) -> GeocodeReport:
    """Geocode a CSV's addresses; write the placed table and the list of rows not placed.

    Parameters
    ----------
    source
        The input CSV (a facility list with an address column).
    output
        The output CSV (UTF-8 with BOM); the rows not placed also go to
        ``<output stem>.unplaced.csv`` beside it (header only when every row is placed).
    geocoder
        A :class:`Geocoder` (:func:`make_geocoder`).
    cache_dir
        The answers' cache folder (``None``: no cache).
    address_column
        The address column (default: found by name).
    given_coords
        The coordinate system of coordinates already in the file.
    progress
        Called with (done, total).

    Returns
    -------
    GeocodeReport
        With ``files``.

    Raises
    ------
    InputError
        The file is missing or has no address column.
    GeocodeError
        The geocoder cannot be used: nothing is written.
    OutputConflictError
        ``output`` is the input, or a file carecircle did not write.
    """
    src, out = Path(source), Path(output)
    if not src.is_file():
        raise InputError(Problem("error", str(src), "file not found 文件不存在"))
    if out.suffix.lower() != ".csv":
        raise InputError(Problem("error", str(out), "the output must be a .csv file 输出须为CSV",
                                 found=out.suffix or "no suffix", expected=".csv"))
    df = read_csv_text(src)
    cache = GeocodeCache(cache_dir) if cache_dir is not None else None
    report = geocode_table(df, geocoder, cache=cache, address_column=address_column,
                           given_coords=given_coords, fname=str(src), progress=progress)
    missed = out.with_name(out.stem + ".unplaced.csv")
    protect = [src]
    report.files = [
        publish_file(missed, lambda p: report.unplaced.to_csv(p, index=False, encoding="utf-8-sig"),
                     owner="geocode", protect=protect),
        publish_file(out, lambda p: report.table.to_csv(p, index=False, encoding="utf-8-sig"),
                     owner="geocode", protect=protect),
    ]
    return report
