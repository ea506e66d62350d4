"""The demo city's texts: its scenario files and its README (:mod:`carecircle.runs.demo`)."""

from __future__ import annotations

import json
from xml.sax.saxutils import escape as xml_escape

# The demo's rural travel limit ([rural] of its scenarios): a 20-minute walk at 1.0 m/s.
RURAL_MINUTES, RURAL_SPEED = 20.0, 1.0
RURAL_HOME_M2 = 200.0  # the default area standard of a rural happiness home

# Names of the demo's streets, roads, communities (syllable + suffix + 社区) and villages
# (prefix + core + 村).
STREET_NAMES = {  # (district, upper row?) -> west, middle, east
    ("610113", True): ("丈八沟街道", "电子城街道", "长延堡街道"),
    ("610113", False): ("鱼化寨街道", "漳浒寨街道", "杜城街道"),
    ("610116", True): ("郭杜街道", "韦曲街道", "兴隆街道"),
    ("610116", False): ("细柳街道", "王曲街道", "杜曲街道"),
}
_SYL = ("丈八", "枫林", "锦业", "紫薇", "唐延", "雁南", "科创", "都市", "融城", "云水", "翠华",
        "天谷", "长丰", "鱼斗", "西万", "延兴", "明德", "新苑", "兴善", "丰庆", "高科", "绿地",
        "金辉", "沣惠", "博文", "南窑", "香积", "神禾", "樊川", "郭南")
_SUF = ("", "东", "西", "南", "北", "一", "二", "花园", "家园", "新城", "嘉园", "公馆")
_VPRE = ("", "东", "西", "南", "北", "前", "后", "上", "下", "大", "小", "新")
_VCORE = ("甘河", "祝", "韦兆", "杜永", "皇子", "羊元坊", "樊家", "何家营", "申店", "高望",
          "张坡", "周家庄", "贾里", "后湖", "桥头", "寨子", "留", "南堡", "瓦胡同", "夏殿")
ROAD_NAMES = {"primary": ("锦业路", "丈八东路", "长安南路", "雁环路", "朱雀大街南段"),
              "secondary": ("科技八路", "唐延南路", "电子正街", "西部大道", "郭北路")}
WARD_NAMES = (_SYL, _SUF)
VILLAGE_NAMES = (_VPRE, _VCORE)


def geojson_text(features: list[tuple[dict, dict]]) -> str:
    """A GeoJSON FeatureCollection, one feature per line, properties in the given order.

    Parameters
    ----------
    features
        ``(properties, geometry)`` per feature.
    """
    lines = [json.dumps({"type": "Feature", "properties": props, "geometry": geom},
                        ensure_ascii=False) for props, geom in features]
    return '{"type": "FeatureCollection", "features": [\n' + ",\n".join(lines) + "\n]}\n"


def osm_text(ways: list[tuple[list[int], dict[str, str]]],
             lonlat: dict[int, tuple[float, float]]) -> str:
    """OSM XML 0.6 with the nodes that ways use, in id order; tags sorted by key.

    Parameters
    ----------
    ways
        ``(node indices, tags)`` per way.
    lonlat
        WGS-84 ``(lon, lat)`` of every node the ways use (node id = index + 1).
    """
    used = sorted(lonlat)
    lons, lats = [v[0] for v in lonlat.values()], [v[1] for v in lonlat.values()]
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<osm version="0.6" generator="carecircle.runs.demo (synthetic demo city)">',
           f' <bounds minlat="{min(lats):.7f}" minlon="{min(lons):.7f}" '
           f'maxlat="{max(lats):.7f}" maxlon="{max(lons):.7f}"/>']
    out += [f' <node id="{n + 1}" version="1" lat="{lonlat[n][1]:.7f}" lon="{lonlat[n][0]:.7f}"/>'
            for n in used]
    for w, (nodes, tags) in enumerate(ways, 1):
        out.append(f' <way id="{w}" version="1">')
        out += [f'  <nd ref="{n + 1}"/>' for n in nodes]
        out += [f'  <tag k="{k}" v="{xml_escape(v, {chr(34): "&quot;"})}"/>'
                for k, v in sorted(tags.items())]
        out.append(" </way>")
    return "\n".join([*out, "</osm>", ""])


def scenario_text(name: str, title: str, mode: str = "cover_all", budget: float = 0,
                  elderly_speed: float = 1.0, demand_year: int | None = None,
                  capacity: bool = False) -> str:
    """The text of one of the demo city's scenario files.

    Parameters
    ----------
    name, title
        The scenario's name and title.
    mode, budget
        ``[plan]`` mode and budget (budget mode turns the district targets off).
    elderly_speed
        The elderly walking speed, m/s.
    demand_year
        A ``[demand]`` year, when not the default.
    capacity
        Capacitated siting (``[plan] capacity = true``).
    """
    demand = "" if demand_year is None else f"""
[demand]
year = {demand_year}   # populations as loaded (2020 census base), not the plan's 2025 forecast
"""
    # Half the money cannot meet the district targets: the budget plan serves the most
    # people it can instead (with targets on, it would be infeasible, and say why).
    targets = "district_targets = false\n" if mode == "budget" else ""
    if capacity:
        # The capacitated model is harder: a plan within 0.5 % of the least cost is enough.
        targets += ("capacity = true     # the demand must fit in the facilities within the walk\n"
                    "mip_gap = 0.005\ntime_limit_s = 60\n")
    return f'''# Demo city scenario, written by `python -m carecircle.runs.demo` (do not edit by hand)
name = "{name}"
title = "{title}"
profile = "xian-2023"   # the plan's figures (docs/profiles.md); the demo lies in Xi'an
crs = "EPSG:4545"
output_dir = "../../maps/{name}"

[inputs]
network = "network.osm"
districts = "districts.geojson"
streets = "streets.geojson"
communities = "communities.geojson"
facilities = "facilities.geojson"
candidates = "candidates.geojson"
population_grid = "population.geojson"

[walking]
minutes = 15.0
speed_mps = {{ elderly = {elderly_speed}, childcare = 1.2 }}
max_snap_m = 300.0

[rural]
# villages (村) are served for elderly care within a 20-minute walk (default: 2 km), by
# stations or by rural happiness homes (农村幸福院, 200 m² by default)
mode = "walk"
minutes = {RURAL_MINUTES:g}
speed_mps = {RURAL_SPEED:g}

# [standards] and [targets]: the profile's (市政办发〔2023〕1号): urban 90% / rural 80% /
# street centres 70% / 4.8 places per 1000 ... (docs/plan.md)

[plan]
mode = "{mode}"
budget_yuan = {budget:.0f}
{targets}{demand}'''


README = """# Demo city 示范城区 (synthetic)

Made by `python -m carecircle.runs.demo --out data/demo` (seed {seed}); do not edit by hand,
regenerate. **Synthetic**: real Xi'an coordinates (WGS-84, 108.915-108.970 E,
34.155-34.200 N, where 雁塔区 meets 长安区) but invented roads, places and numbers.

| file | content |
|---|---|
| `network.osm` | OSM XML walking network: {nodes:,} nodes, {ways:,} ways; an urban grid, the 绕城高速 (motorway, no walking), a `foot=no` viaduct, gated `access=private` driveways, villages on field roads, and a disconnected island east of the box |
| `districts.geojson` | 雁塔区 610113, 长安区 610116 |
| `streets.geojson` | 12 streets (街道), 6 per district |
| `communities.geojson` | {communities} communities: urban 社区 in the north, villages 村 in the south; some U/L-shaped polygons |
| `facilities.geojson` | {facilities} existing facilities, some below the floor-area standard; institutions with beds, nursing-type beds and the demonstration flag; rural happiness homes (`rural_home`) in the villages; {kindergartens} kindergartens running a 托班 (`kindergarten_tuoban`) |
| `candidates.geojson` | {candidates} candidate sites with floor area, acquisition and cost; village buildings may house a rural happiness home; the last four may host an elderly institution |
| `population.geojson` | {grid_cells} cells of a 250 m grid, summing to the communities' totals |
| `scenario*.toml` | cover-all; budget {budget_yuan:,.0f} yuan (about half of what serving every community costs); elderly walking at 0.8 m/s; 2020 demand (no growth to 2025); capacitated (`capacity = true`: the demand must fit) |

Designed so that today misses the plan's targets. Urban elderly coverage: 雁塔区
{610113_urban_elderly:.0%}, 长安区 {610116_urban_elderly:.0%} (target 90%); rural {610116_rural_elderly:.0%} (80%);
streets with a street centre: {610113_street_centres:.0%} and {610116_street_centres:.0%} (70%); childcare places per 1000
in childcare facilities: {610113_places_per_1000:.1f} and {610116_places_per_1000:.1f} (4.8; the kindergartens' 托班 add a
few); streets with a kindergarten running a 托班: {kindergarten_streets} of 12 (100%). Every community has candidate
sites of each kind within about 550 m on the network, so a plan can meet them.

Villages are served for elderly care within a 20-minute walk (the scenarios' `[rural]`),
by a station or a rural happiness home of 200 m². Beds: 雁塔区 has {610113_public_beds:,.0f} public
beds but {610113_nursing_share:.0%} of its institution beds are nursing-type (60%); 长安区 has
{610116_public_beds:,.0f} public beds (1% of its 60+ in 2025 is about 640), {610116_nursing_share:.0%} nursing-type
beds and no public demonstration home: the plan must add institutions, from the four
candidate sites that may host one (beds = floor area / 40 m²).
"""
