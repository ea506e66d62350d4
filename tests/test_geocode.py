"""The geocode step against a local server serving recorded Amap and Tianditu answers.

No request leaves 127.0.0.1: the geocoders' ``base_url`` points at a
``ThreadingHTTPServer`` that answers from ``tests/geocode_responses/*.json`` (written
after the providers' documented formats), refuses any key but ``test-key``, and can be
told to fail the first request for an address (rate limit, HTTP 500) to test retries.
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import eviltransform
import numpy as np
import pandas as pd
import pytest

from carecircle.cli import main
from carecircle.inputs.geocode import (
    GeocodeCache,
    GeocodeError,
    geocode_addresses,
    geocode_file,
    make_geocoder,
)
from carecircle.inputs.read import read_table
from carecircle.inputs.scenario import LayerSource

RECORDED = Path(__file__).resolve().parent / "geocode_responses"
KEY = "test-key"


class Recorded:
    """The fake services: answers, the requests seen, and failures to play first."""

    def __init__(self) -> None:
        self.amap = json.loads((RECORDED / "amap.json").read_text(encoding="utf-8"))
        self.tianditu = json.loads((RECORDED / "tianditu.json").read_text(encoding="utf-8"))
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.fail_first: dict[str, list[tuple[int, object]]] = {}

    def answer(self, path: str, q: dict[str, str]) -> tuple[int, object]:
        self.requests.append((path, q))
        if path == "/v3/geocode/geo":
            if q.get("key") != KEY:
                return 200, {"status": "0", "info": "INVALID_USER_KEY", "infocode": "10001"}
            address = q["address"]
            if self.fail_first.get(address):
                return self.fail_first[address].pop(0)
            return 200, self.amap.get(address, {"status": "1", "info": "OK", "infocode": "10000",
                                                "count": "0", "geocodes": []})
        if path == "/geocoder":
            if q.get("tk") == "expired":
                return 200, {"msg": "非法Key", "resolve": "请检查Key", "code": "1"}
            if q.get("tk") != KEY:
                return 403, {"msg": "权限类型错误", "code": "12"}
            word = json.loads(q["ds"])["keyWord"]
            return 200, self.tianditu.get(word, {"msg": "无结果", "searchVersion": "6.4.9V",
                                                 "status": "101"})
        return 404, {"error": "no such path"}


@pytest.fixture
def service() -> Iterator[tuple[str, Recorded]]:
    rec = Recorded()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(url.query))
            code, body = rec.answer(url.path, q)
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", rec
    finally:
        server.shutdown()
        server.server_close()


def amap(base: str, key: str = KEY, **kw):
    return make_geocoder("amap", key, base_url=base + "/v3/geocode/geo", min_interval_s=0,
                         backoff_s=0.01, **kw)


def tianditu(base: str, key: str = KEY, **kw):
    return make_geocoder("tianditu", key, base_url=base + "/geocoder", min_interval_s=0,
                         backoff_s=0.01, **kw)


FACILITIES = pd.DataFrame({
    "编号": ["F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8"],
    "名称": ["含光路养老院", "长延堡养老服务站", "未央区托育", "郭杜托育", "无此地址", "解放路站",
           "李家岩村幸福院", "已有坐标站"],
    "类型": ["养老", "养老", "托育", "托育", "养老", "养老", "养老", "托育"],
    "建筑面积": ["15798", "420", "260", "300", "350", "500", "320", "240"],
    "地址": ["陕西省西安市碑林区含光路111号", "西安市雁塔区长延堡街道社区养老服务站", "西安市未央区",
           "西安市长安区郭杜街道", "西安市雁塔区不存在路999号", "新城区解放路", "西安市鄠邑区草堂镇李家岩村",
           ""],
    "经度": ["", "", "", "", "", "", "", "108.95"],
    "纬度": ["", "", "", "", "", "", "", "34.25"],
})


def _csv(tmp_path: Path, df: pd.DataFrame = FACILITIES) -> Path:
    path = tmp_path / "in" / "facilities.csv"
    path.parent.mkdir(exist_ok=True)
    df.to_csv(path, index=False, encoding="utf-8-sig")
    return path


def test_amap_places_converts_and_lists_every_row_not_placed(service, tmp_path):
    base, rec = service
    report = geocode_file(_csv(tmp_path), tmp_path / "out.csv", amap(base), cache_dir=tmp_path / "c")
    t = report.table.set_index("编号")
    assert t["geocode_status"].to_dict() == {
        "F1": "ok", "F2": "ok", "F3": "imprecise", "F4": "imprecise", "F5": "no_result",
        "F6": "ambiguous", "F7": "ok", "F8": "given"}
    # GCJ-02 -> WGS-84, checked against an independent implementation (eviltransform)
    lat, lon = eviltransform.gcj2wgs_exact(34.237849, 108.929603)
    assert t.at["F1", "lon"] == pytest.approx(lon, abs=2e-6)
    assert t.at["F1", "lat"] == pytest.approx(lat, abs=2e-6)
    assert abs(t.at["F1", "lon"] - 108.929603) * 92_000 + abs(t.at["F1", "lat"] - 34.237849) * 111_000 > 300
    assert t.at["F1", "geocode_level"] == "门牌号"
    assert t.at["F1", "geocode_source"] == "amap (GCJ-02 -> WGS-84)"
    assert (t.at["F8", "lon"], t.at["F8", "lat"]) == (108.95, 34.25)
    assert pd.isna(t.at["F5", "lon"]) and "区县" in t.at["F3", "geocode_reason"]
    # every row not placed is listed, with its row number and reason
    missed = pd.read_csv(tmp_path / "out.unplaced.csv", encoding="utf-8-sig", dtype=str)
    assert missed["id"].tolist() == ["F3", "F4", "F5", "F6"]
    assert missed["row"].tolist() == ["3", "4", "5", "6"]
    assert missed["reason"].str.contains(" ").all()
    assert "2 results far apart" in missed.set_index("id").at["F6", "reason"]
    # one request per address asked; the key was sent; the row with coordinates not asked
    asked = [q["address"] for p, q in rec.requests]
    assert len(asked) == 7 and "" not in asked
    assert all(q["key"] == KEY and q["output"] == "JSON" for _, q in rec.requests)


def test_output_is_a_facilities_layer_the_readers_take(service, tmp_path):
    base, _ = service
    out = tmp_path / "out.csv"
    geocode_file(_csv(tmp_path), out, amap(base))
    gdf = read_table(LayerSource(path=out), "facilities")
    placed = gdf[gdf.geometry.notna()]
    assert len(placed) == 4
    df = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert np.allclose(placed.geometry.x, df.loc[placed.index, "lon"].astype(float))


def test_answers_are_cached_and_reused_without_a_request(service, tmp_path):
    base, rec = service
    src = _csv(tmp_path)
    first = geocode_file(src, tmp_path / "a.csv", amap(base), cache_dir=tmp_path / "cache")
    n = len(rec.requests)
    second = geocode_file(src, tmp_path / "b.csv", amap(base), cache_dir=tmp_path / "cache")
    assert len(rec.requests) == n, "every answer came from the cache"
    pd.testing.assert_frame_equal(first.table, second.table)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    stored = list((tmp_path / "cache").rglob("*.json"))
    assert len(stored) == 7
    assert not any(KEY in p.read_text(encoding="utf-8") for p in stored)
    # another city is another question
    geocode_file(src, tmp_path / "c.csv", amap(base, city="610100"), cache_dir=tmp_path / "cache")
    assert len(rec.requests) == n + 7
    assert all(q.get("city") == "610100" for _, q in rec.requests[n:])


def test_rate_limit_and_server_errors_are_retried(service, tmp_path):
    base, rec = service
    rec.fail_first["西安市莲湖区桃园南路21号"] = [
        (200, {"status": "0", "info": "CUQPS_HAS_EXCEEDED_THE_LIMIT", "infocode": "10021"})]
    rec.fail_first["西安市灞桥区纺织城正街1号"] = [(500, {"error": "busy"}), (502, {"error": "gw"})]
    places = geocode_addresses(["西安市莲湖区桃园南路21号", "西安市灞桥区纺织城正街1号"], amap(base))
    assert [p.status for p in places] == ["ok", "ok"]
    assert len(rec.requests) == 5


def test_a_refused_key_stops_everything_and_writes_nothing(service, tmp_path):
    base, _ = service
    with pytest.raises(GeocodeError, match="INVALID_USER_KEY") as err:
        geocode_file(_csv(tmp_path), tmp_path / "out.csv", amap(base, key="wrong-key-123"))
    assert "wrong-key-123" not in str(err.value)
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.unplaced.csv").exists()
    with pytest.raises(GeocodeError, match="refused"):
        geocode_addresses(["西安市未央区"], tianditu(base, key="nope"))
    with pytest.raises(GeocodeError, match="refused"):
        geocode_addresses(["西安市未央区"], tianditu(base, key="expired"))


def test_an_unreachable_server_is_an_error_after_retries(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    g = make_geocoder("amap", KEY, base_url=f"http://127.0.0.1:{port}/v3/geocode/geo",
                      min_interval_s=0, backoff_s=0.01, retries=2, timeout_s=2)
    with pytest.raises(GeocodeError, match="3 tries") as err:
        geocode_addresses(["西安市未央区"], g)
    assert KEY not in str(err.value)


def test_tianditu_answers_are_used_as_wgs84(service, tmp_path):
    base, rec = service
    places = geocode_addresses(["西安市碑林区含光路111号", "西安市未央区", "西安市雁塔区不存在路999号",
                                "雁塔区长延堡街道社区养老服务站"], tianditu(base, city="西安市"))
    assert [p.status for p in places] == ["ok", "imprecise", "no_result", "ok"]
    assert (places[0].lon, places[0].lat) == (108.924981, 34.236287)
    assert places[0].level == "门址"
    # the city is put in front of an address that does not name it
    words = [json.loads(q["ds"])["keyWord"] for _, q in rec.requests]
    assert words[-1] == "西安市雁塔区长延堡街道社区养老服务站"


def test_bad_inputs_are_clear_errors(service, tmp_path):
    base, _ = service
    with pytest.raises(GeocodeError, match="unknown geocoder"):
        make_geocoder("baidu", KEY)
    with pytest.raises(GeocodeError, match="no key"):
        make_geocoder("amap", " ")
    src = _csv(tmp_path, FACILITIES.drop(columns="地址"))
    from carecircle.errors import InputError

    with pytest.raises(InputError, match="no address column"):
        geocode_file(src, tmp_path / "o.csv", amap(base))
    # the output never replaces the input
    from carecircle.atomic import OutputConflictError

    src = _csv(tmp_path)
    with pytest.raises(OutputConflictError):
        geocode_file(src, src, amap(base))


def test_cli_geocode(service, tmp_path, capsys):
    base, rec = service
    src = _csv(tmp_path)
    out = tmp_path / "placed.csv"
    code = main(["-q", "geocode", str(src), "--provider", "amap", "--key", KEY, "-o", str(out),
                 "--base-url", base + "/v3/geocode/geo", "--min-interval", "0",
                 "--cache-dir", str(tmp_path / "cache")])
    text = capsys.readouterr().out
    assert code == 0
    assert "4 of 8 rows placed" in text and "4 rows not placed" in text and "郭杜托育" in text
    assert out.is_file() and (tmp_path / "placed.unplaced.csv").is_file()
    # a refused key: message, exit 1, no traceback
    code = main(["-q", "geocode", str(src), "--provider", "amap", "--key", "bad", "-o",
                 str(tmp_path / "x.csv"), "--base-url", base + "/v3/geocode/geo", "--no-cache",
                 "--min-interval", "0"])
    err = capsys.readouterr().err
    assert code == 1 and "INVALID_USER_KEY" in err and "Traceback" not in err


def test_cache_ignores_a_damaged_file(service, tmp_path):
    base, rec = service
    g = amap(base)
    cache = GeocodeCache(tmp_path / "cache")
    geocode_addresses(["西安市未央区"], g, cache=cache)
    (path,) = (tmp_path / "cache").rglob("*.json")
    path.write_text("{not json", encoding="utf-8")
    places = geocode_addresses(["西安市未央区"], g, cache=cache)
    assert places[0].status == "imprecise" and len(rec.requests) == 2
