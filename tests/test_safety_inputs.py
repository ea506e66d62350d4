"""Hostile inputs over the scenario, the layers and the command line (issue 15).

Every case spoils one thing in a copy of the demo city and runs the real command line.
It must end with the expected exit code, without a traceback, with a message that names
the file, the feature (row) and the column or key, and without changing any file of the
folder (``safety_cases.run_case`` hashes it before and after).  Most cases stop at
``validate``; none runs code from the scenario (a ``PWNED`` file would show it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyproj
import pytest
import shapely

from safety_cases import Case, City, run_case

PWN = "touch PWNED"


def _filter(text: str, layer: str = "facilities"):
    return lambda c: c.layer_table(layer, filter=text)


def _set(key: str, value):
    return lambda c: c.set(key, value)


def _prop(layer: str, row: int, key: str, value):
    return lambda c: c.prop(layer, row, key, value)


def _point(layer: str, row: int, lon: float, lat: float):
    return lambda c: c.geometry(layer, row, {"type": "Point", "coordinates": [lon, lat]})


def _bytes(name: str, data: bytes):
    return lambda c: (c.folder / name).write_bytes(data)


def _outside_districts(c: City, metres: float, row: int = 0, layer: str = "candidates") -> None:
    """Put a feature ``metres`` east of the districts' eastmost point."""
    import geopandas as gpd

    d = gpd.read_file(c.folder / "districts.geojson").to_crs(4545)
    b = d.union_all().bounds
    y = (b[1] + b[3]) / 2
    # the eastmost point of the union at that height, plus ``metres``
    line = shapely.LineString([(b[0] - 10, y), (b[2] + 10, y)])
    east = max(shapely.get_coordinates(line.intersection(d.union_all().boundary))[:, 0])
    lon, lat = pyproj.Transformer.from_crs(4545, 4326, always_xy=True).transform(east + metres, y)
    c.geometry(layer, row, {"type": "Point", "coordinates": [lon, lat]})


def _csv_communities(c: City, *, lat_of_row0: str | None = None, crs: str | None = None) -> None:
    """The communities as a CSV with lon/lat columns (optionally spoiled)."""
    data = c.features("communities")
    cols = ["id", "name", "district", "urban_rural", "population", "pop_60plus", "pop_0_3"]
    rows = [",".join([*cols, "lon", "lat"])]
    for i, f in enumerate(data["features"]):
        p = shapely.geometry.shape(f["geometry"]).representative_point()
        lon, lat = round(p.x, 6), round(p.y, 6)
        if i == 0 and lat_of_row0 is not None:
            lat = lat_of_row0
        rows.append(",".join(str(f["properties"][k]) for k in cols) + f",{lon},{lat}")
    (c.folder / "communities.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    table = {"path": "communities.csv"}
    if crs:
        table["crs"] = crs
    c.scenario["inputs"]["communities"] = table
    c.write_scenario()


def _drop_column(layer: str, key: str):
    def spoil(c: City) -> None:
        data = c.features(layer)
        for f in data["features"]:
            f["properties"].pop(key, None)
        c.save(layer, data)
    return spoil


def _cut_network(c: City) -> None:
    """Remove every way that crosses the median latitude: the network falls in two."""
    import xml.etree.ElementTree as ET

    path = c.folder / "network.osm"
    tree = ET.parse(path)
    root = tree.getroot()
    lat = {n.get("id"): float(n.get("lat")) for n in root.iter("node")}
    mid = sorted(lat.values())[len(lat) // 2]
    for w in list(root.findall("way")):
        ls = [lat[nd.get("ref")] for nd in w.findall("nd")]
        if min(ls) < mid < max(ls):
            root.remove(w)
    tree.write(path, encoding="utf-8", xml_declaration=True)


SC = "scenario.toml"
CASES = [
    # ------------------------------------------------------------ filters: never code
    Case("filter-at-os-system", _filter(f"@pd.io.common.os.system('{PWN}') == 0 or kind == kind"),
         needles=(SC, "facilities", "filter", "'@'")),
    Case("filter-dunder-import", _filter(f"__import__('os').system('{PWN}') == 0"),
         needles=("facilities.geojson", "filter", "__import__")),
    Case("filter-attribute-chain", _filter("kind.__class__.__mro__ == 1"),
         needles=("facilities.geojson", "filter", "kind.__class__")),
    Case("filter-open-call", _filter("open('/etc/passwd').read() == ''"),
         needles=("facilities.geojson", "filter", "open")),
    Case("filter-eval-call", _filter(f"eval(\"__import__('os').system('{PWN}')\") == 0"),
         needles=("facilities.geojson", "filter", "eval")),
    Case("filter-unknown-column", _filter("nosuch == 'x'"),
         needles=("facilities.geojson", "filter", "no column 'nosuch'")),
    Case("filter-regex-test", _filter("name.str.match('.*')"),
         needles=("facilities.geojson", "filter", "name.str.match")),
    Case("filter-lambda", _filter("(lambda: 1)() == 1"), needles=("facilities.geojson", "filter")),
    Case("filter-comprehension", _filter("[x for x in kind] == 1"),
         needles=("facilities.geojson", "filter", "[x for x in kind]")),
    Case("filter-too-long", _filter("kind == 'x' or " * 200 + "kind == 'y'"),
         needles=("facilities.geojson", "filter", "longer than 2000")),
    Case("filter-too-deep", _filter("(" * 60 + "kind == 'x'" + ")" * 60),
         needles=("facilities.geojson", "filter", "nested deeper")),
    Case("filter-syntax", _filter("kind =="), needles=("facilities.geojson", "filter", "not a valid")),
    Case("filter-arithmetic", _filter("floor_area_m2 * 2 > 10"),
         needles=("facilities.geojson", "filter", "floor_area_m2 * 2")),
    Case("filter-on-communities", _filter("__builtins__ == 1", "communities"),
         needles=("communities.geojson", "filter", "__builtins__")),
    # ------------------------------------------------------------ scenario: CRS
    Case("crs-us-feet", _set("crs", "EPSG:2263"), needles=(SC, "crs", "metres", "EPSG:2263")),
    Case("crs-geographic", _set("crs", "EPSG:4326"), needles=(SC, "crs", "projected")),
    Case("crs-new-york-utm", _set("crs", "EPSG:32618"),
         needles=(SC, "column 'crs'", "not meant for where the data is", "EPSG:32618")),
    Case("crs-garbage", _set("crs", "EPSG:99999999"), needles=(SC, "crs", "EPSG:99999999")),
    Case("layer-crs-garbage", lambda c: c.layer_table("facilities", crs="no such crs"),
         needles=(SC, "inputs.facilities.crs")),
    # ------------------------------------------------------------ scenario: ranges
    Case("speed-1000", _set("walking.speed_mps", {"elderly": 1000.0}),
         needles=(SC, "walking.speed_mps.elderly", "0.3-3")),
    Case("speed-inf", _set("walking.speed_mps", {"elderly": float("inf")}),
         needles=(SC, "walking.speed_mps.elderly", "finite")),
    Case("speed-nan", _set("walking.speed_mps", {"childcare": float("nan")}),
         needles=(SC, "walking.speed_mps.childcare")),
    Case("minutes-10000", _set("walking.minutes", 10000), needles=(SC, "walking.minutes", "1-120")),
    Case("minutes-negative", _set("walking.minutes", -5), needles=(SC, "walking.minutes")),
    Case("snap-huge", _set("walking.max_snap_m", 1e9), needles=(SC, "walking.max_snap_m")),
    Case("m2-per-place-zero", _set("standards.childcare_m2_per_place", 0),
         needles=(SC, "standards.childcare_m2_per_place")),
    Case("coverage-150pct", _set("targets.urban_elderly_coverage", 1.5),
         needles=(SC, "targets.urban_elderly_coverage", "share 0-1")),
    Case("places-per-1000-huge", _set("targets.childcare_places_per_1000", 1e6),
         needles=(SC, "targets.childcare_places_per_1000")),
    Case("area-range-reversed", _set("targets.elderly_area_per_resident_m2", [0.3, 0.1]),
         needles=(SC, "targets.elderly_area_per_resident_m2")),
    Case("budget-1e20", _set("plan.budget_yuan", 1e20), needles=(SC, "plan.budget_yuan")),
    Case("mip-gap-5", _set("plan.mip_gap", 5), needles=(SC, "plan.mip_gap")),
    Case("unit-cost-negative", _set("plan.unit_costs", {"new": -1}), needles=(SC, "plan.unit_costs.new")),
    Case("weights-attribute", _set("plan.weights", {"elderly": "__class__"}),
         needles=(SC, "plan.weights.elderly", "__class__")),
    Case("required-unknown-id", _set("plan.required", ["NOPE-1", "C0001"]),
         needles=(SC, "column 'plan.required'", "NOPE-1", "candidates.geojson")),
    Case("excluded-unknown-id", _set("plan.excluded", ["GHOST"]),
         needles=(SC, "column 'plan.excluded'", "GHOST")),
    Case("factor-huge", _set("demand.factors", {"population": 1e9}),
         needles=(SC, "demand.factors.population")),
    Case("year-3000", _set("demand.year", 3000), needles=(SC, "demand.year")),
    Case("tolerance-huge", _set("district_tolerance_m", 1e6), needles=(SC, "district_tolerance_m")),
    Case("path-url", lambda c: c.layer_table("facilities", path="http://example.com/f.geojson"),
         needles=(SC, "inputs.facilities.path", "local file")),
    Case("path-gdal-vsi", lambda c: c.layer_table("facilities", path="/vsicurl/http://example.com/x"),
         needles=(SC, "inputs.facilities.path")),
    Case("defaults-nested", lambda c: c.layer_table("facilities", defaults={"beds": [1, 2]}),
         needles=(SC, "inputs.facilities.defaults")),
    Case("output-dir-holds-inputs", _set("output_dir", "."),
         needles=(SC, "column 'output_dir'", "holds an input")),
    Case("output-dir-parent", _set("output_dir", ".."), needles=(SC, "output_dir")),
    Case("name-traversal", _set("name", "../../etc"), needles=(SC, "name", "folder name")),
    Case("name-bell", _set("name", "demo\u0007"), needles=(SC, "control characters")),
    Case("title-bidi", _set("title", "Demo \u202eevil"), needles=(SC, "title", "control characters")),
    Case("assumed-escape", lambda c: c.layer_table("facilities", assumed="x\x1b[2J"),
         needles=(SC, "inputs.facilities.assumed", "control characters")),
    Case("unknown-key", _set("walking.minuts", 15), needles=(SC, "minuts", "[walking]")),
    Case("scenario-gbk", _bytes(SC, "name = '示范'".encode("gbk")), needles=(SC, "not valid TOML")),
    Case("scenario-binary", _bytes(SC, b"\x00\x01\xff" * 50), needles=(SC, "not valid TOML")),
    # ------------------------------------------------------------ layers: numbers
    Case("population-infinity", _prop("communities", 0, "population", "Infinity"),
         needles=("communities.geojson", "row 1", "id 610113001001", "column 'population'", "finite")),
    Case("population-1e15", _prop("communities", 0, "population", 1e15),
         needles=("communities.geojson", "row 1", "column 'population'", "implausible")),
    Case("population-negative", _prop("communities", 1, "population", -5),
         needles=("communities.geojson", "row 2", "column 'population'")),
    Case("pop60-text", _prop("communities", 2, "pop_60plus", "many"),
         needles=("communities.geojson", "row 3", "column 'pop_60plus'", "'many'")),
    Case("floor-area-1e12", _prop("candidates", 0, "floor_area_m2", 1e12),
         needles=("candidates.geojson", "row 1", "id C0001", "column 'floor_area_m2'", "implausible")),
    Case("floor-area-zero", _prop("candidates", 1, "floor_area_m2", 0),
         needles=("candidates.geojson", "row 2", "column 'floor_area_m2'", "positive")),
    Case("floor-area-nan-text", _prop("candidates", 2, "floor_area_m2", "NaN"),
         needles=("candidates.geojson", "row 3", "column 'floor_area_m2'")),
    Case("beds-1e9", _prop("facilities", 0, "beds", 1e9),
         needles=("facilities.geojson", "row 1", "id F001", "column 'beds'")),
    Case("places-negative", _prop("facilities", 0, "places", -1),
         needles=("facilities.geojson", "row 1", "column 'places'")),
    Case("cost-1e15", _prop("candidates", 0, "cost_yuan", 1e15),
         needles=("candidates.geojson", "row 1", "column 'cost_yuan'")),
    Case("grid-population-inf", _prop("population", 0, "population", "inf"),
         needles=("population.geojson", "row 1", "column 'population'")),
    # ------------------------------------------------------------ layers: vocabularies, ids
    Case("urban-rural-unknown", _prop("communities", 0, "urban_rural", "suburb"),
         needles=("communities.geojson", "row 1", "column 'urban_rural'", "'suburb'")),
    Case("district-unknown", _prop("communities", 0, "district", "未央区"),
         needles=("communities.geojson", "row 1", "column 'district'", "未央区")),
    Case("kind-formula", _prop("facilities", 0, "kind", '=HYPERLINK("http://x","y")'),
         needles=("facilities.geojson", "row 1", "column 'kind'")),
    Case("kinds-unknown", _prop("candidates", 0, "kinds", "weapons"),
         needles=("candidates.geojson", "row 1", "column 'kinds'", "'weapons'")),
    Case("duplicate-id", _prop("communities", 1, "id", "610113001001"),
         needles=("communities.geojson", "row 2", "column 'id'", "duplicate")),
    Case("empty-id", _prop("facilities", 1, "id", ""),
         needles=("facilities.geojson", "row 2", "column 'id'", "empty id")),
    Case("missing-column", _drop_column("communities", "urban_rural"),
         needles=("communities.geojson", "column 'urban_rural'", "missing column")),
    # ------------------------------------------------------------ layers: geometry, places
    Case("geometry-null", lambda c: c.geometry("facilities", 0, None),
         needles=("facilities.geojson", "row 1", "column 'geometry'", "empty")),
    Case("geometry-line", lambda c: c.geometry("candidates", 0, {
        "type": "LineString", "coordinates": [[108.92, 34.19], [108.93, 34.2]]}),
         needles=("candidates.geojson", "row 1", "column 'geometry'", "LineString")),
    Case("point-in-beijing", _point("facilities", 0, 116.4, 39.9),
         needles=("facilities.geojson", "row 1", "column 'geometry'", "far outside")),
    Case("lon-lat-swapped", lambda c: c.geometry("communities", 0, {
        "type": "Point", "coordinates": list(reversed(c.features("communities")["features"][0]
                                                      ["geometry"]["coordinates"]))}),
         needles=("communities.geojson", "row 1", "appear swapped")),
    Case("district-bowtie", lambda c: c.geometry("districts", 0, {"type": "Polygon", "coordinates": [
        [[108.9, 34.1], [109.0, 34.2], [109.0, 34.1], [108.9, 34.2], [108.9, 34.1]]]}),
         needles=("districts.geojson", "row 1", "column 'geometry'", "invalid")),
    Case("candidate-2km-outside-districts", lambda c: _outside_districts(c, 2000.0),
         needles=("candidates.geojson", "row 1", "id C0001", "column 'district'", "GCJ-02")),
    Case("csv-bad-lat", lambda c: _csv_communities(c, lat_of_row0="34.2x"),
         needles=("communities.csv", "row 1", "column 'lat'", "'34.2x'")),
    Case("csv-degrees-declared-4545", lambda c: _csv_communities(c, crs="EPSG:4545"),
         needles=("communities.csv", "row 1", "(the file's values)", "look like degrees")),
    # ------------------------------------------------------------ files
    Case("missing-layer-file", lambda c: (c.folder / "facilities.geojson").unlink(),
         needles=("facilities.geojson", "not found")),
    Case("garbage-geojson", _bytes("candidates.geojson", b"{not json"),
         needles=("candidates.geojson", "cannot read")),
    Case("empty-layer", _bytes("facilities.geojson", b'{"type":"FeatureCollection","features":[]}'),
         needles=("facilities.geojson", "empty layer")),
    Case("missing-network", lambda c: (c.folder / "network.osm").unlink(),
         needles=("network.osm", "not found")),
    Case("garbage-network", _bytes("network.osm", b"<osm><way id='1'><nd ref='9'/></way>"),
         needles=("network.osm",)),
    # ------------------------------------------------------------ command line
    Case("reach-minutes-negative", lambda c: None, code=2, needles=("--minutes", "plausible range"),
         args=("reach", "--network", "{folder}/network.osm", "--from", "{folder}/communities.geojson",
               "--to", "{folder}/facilities.geojson", "-o", "{folder}/out/p.csv", "--minutes", "-5")),
    Case("reach-minutes-nan", lambda c: None, code=2, needles=("--minutes",),
         args=("reach", "--network", "n", "--from", "a", "--to", "b", "-o", "x.csv", "--minutes", "nan")),
    Case("reach-snap-inf", lambda c: None, code=2, needles=("--max-snap-m",),
         args=("reach", "--network", "n", "--from", "a", "--to", "b", "-o", "x.csv",
               "--max-snap-m", "inf")),
    Case("reach-crs-degrees", lambda c: None, code=2, needles=("--crs", "metres"),
         args=("reach", "--network", "n", "--from", "a", "--to", "b", "-o", "x.csv",
               "--crs", "EPSG:4326")),
    Case("isochrones-speed-zero", lambda c: None, code=2, needles=("--speed-mps", "0.3-3"),
         args=("isochrones", "--network", "n", "--sites", "s", "-o", "x.geojson", "--speed-mps", "0")),
    Case("isochrones-buffer-huge", lambda c: None, code=2, needles=("--buffer-m",),
         args=("isochrones", "--network", "n", "--sites", "s", "-o", "x.geojson", "--buffer-m", "1e9")),
    Case("run-partitions-negative", lambda c: None, code=2, needles=("--partitions",),
         args=("run", "{scenario}", "--partitions", "-3")),
    Case("run-partitions-text", lambda c: None, code=2, needles=("--partitions", "integer"),
         args=("run", "{scenario}", "--partitions", "three")),
    Case("sweep-speed-1000", lambda c: None, code=2, needles=("--values", "0.3-3"),
         args=("sweep", "{scenario}", "--parameter", "speed_elderly", "--values", "1.0,1000")),
    Case("sweep-values-text", lambda c: None, code=2, needles=("--values",),
         args=("sweep", "{scenario}", "--parameter", "minutes", "--values", "a,b")),
    Case("reach-output-is-input", lambda c: None, code=1, needles=("network.osm", "input"),
         args=("reach", "--network", "{folder}/network.osm", "--from", "{folder}/communities.geojson",
               "--to", "{folder}/facilities.geojson", "-o", "{folder}/network.osm")),
    Case("run-out-holds-inputs", lambda c: None, code=1, needles=("output_dir", "holds an input"),
         args=("run", "{scenario}", "--out", "{folder}")),
]

WARNINGS = [
    # accepted, with a warning that names the file, the feature and the column
    Case("bell-in-name", _prop("communities", 0, "name", "长丰\u0007西社区"), code=0,
         needles=("WARNING", "communities.geojson", "row 1", "column 'name'", "control characters")),
    Case("bidi-override-in-name", _prop("facilities", 0, "name", "养老\u202eevil"), code=0,
         needles=("WARNING", "facilities.geojson", "row 1", "column 'name'", "control characters")),
    Case("candidate-90m-outside-districts", lambda c: _outside_districts(c, 90.0), code=0,
         needles=("WARNING", "candidates.geojson", "row 1", "id C0001", "column 'district'",
                  "nearest district")),
    Case("population-unusual", _prop("communities", 0, "population", 400_000), code=0,
         needles=("WARNING", "communities.geojson", "row 1", "column 'population'", "unusually")),
    Case("speed-unusual", _set("walking.speed_mps", {"elderly": 2.5}), code=0,
         needles=("WARNING", SC, "walking.speed_mps.elderly", "unusual")),
    Case("network-in-pieces", _cut_network, code=0,
         needles=("WARNING", "network.osm", "pieces", "communities that cannot be assessed")),
    Case("filter-in-the-language", _filter("kind in ('elderly', 'childcare') and "
                                           "name.str.contains('站') or floor_area_m2 >= 1000"), code=0,
         needles=("OK",)),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_hostile_input_is_refused(case: Case, tmp_path: Path, capsys) -> None:
    run_case(case, tmp_path, capsys)


@pytest.mark.parametrize("case", WARNINGS, ids=str)
def test_doubtful_input_is_accepted_with_a_warning(case: Case, tmp_path: Path, capsys) -> None:
    run_case(case, tmp_path, capsys)


def test_at_least_sixty_distinct_hostile_inputs() -> None:
    names = [c.name for c in CASES + WARNINGS]
    assert len(names) == len(set(names)) and len(names) >= 60


def test_filters_of_the_docs_and_examples_parse() -> None:
    """Every ``filter =`` in the docs and examples is in the language."""
    import re

    from carecircle.inputs.filters import parse_filter

    root = Path(__file__).resolve().parents[1]
    found = []
    for p in [*root.glob("docs/*.md"), *root.glob("examples/**/*.toml"), *root.glob("examples/**/*.md"),
              *root.glob("examples/**/*.py"), root / "README.md"]:
        found += re.findall(r"filter\s*=\s*\"((?:[^\"\\]|\\.)*)\"", p.read_text(encoding="utf-8"))
    assert len(found) >= 4, found
    for text in found:
        cols = re.findall(r"[^\W\d][\w]*", text)  # every name may be a column here
        parse_filter(json.loads(f'"{text}"'), cols)


def test_the_docs_list_the_plausible_ranges() -> None:
    """docs/safety.md's tables are the ranges the code applies."""
    from carecircle.inputs.ranges import CLI, DATA, SCENARIO

    doc = (Path(__file__).resolve().parents[1] / "docs" / "safety.md").read_text(encoding="utf-8")
    for key, r in SCENARIO.items():
        assert f"| `{key}` | {r.lo:,g} - {r.hi:,g} | {r.warn_lo:,g} - {r.warn_hi:,g} |" in doc, key
    for (layer, col), r in DATA.items():
        assert f"| {layer} | `{col}` | {r.hi:,g} | {r.warn_hi:,g} |" in doc, (layer, col)
    for opt, r in CLI.items():
        assert f"| `{opt}` | {r.lo:,g} - {r.hi:,g} |" in doc, opt
