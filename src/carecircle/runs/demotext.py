"""The demo city's text files: its scenarios and its README (:mod:`carecircle.runs.demo`)."""

from __future__ import annotations


def scenario_text(name: str, title: str, mode: str = "cover_all", budget: float = 0,
                  elderly_speed: float = 1.0, demand_year: int | None = None,
                  capacity: bool = False) -> str:
    """One of the demo's scenario files.

    Parameters
    ----------
    name, title
        The run's name and title.
    mode, budget
        The plan's mode and budget (yuan).
    elderly_speed
        The elderly walking speed, m/s.
    demand_year
        ``None``: the default (2025); else the ``[demand] year``.
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
| `facilities.geojson` | {facilities} existing facilities, some below the floor-area standard, among them {kindergartens} kindergartens running a 托班 (`kindergarten_tuoban`) |
| `candidates.geojson` | {candidates} candidate sites with floor area, acquisition and cost |
| `population.geojson` | {grid_cells} cells of a 250 m grid, summing to the communities' totals |
| `scenario*.toml` | cover-all; budget {budget_yuan:,.0f} yuan (about half the cover-all cost); elderly walking at 0.8 m/s; 2020 demand (no growth to 2025); capacitated (`capacity = true`: the demand must fit) |

Designed so that today misses the plan's targets. Urban elderly coverage: 雁塔区
{610113_urban_elderly:.0%}, 长安区 {610116_urban_elderly:.0%} (target 90%); rural {610116_rural_elderly:.0%} (80%);
streets with a street centre: {610113_street_centres:.0%} and {610116_street_centres:.0%} (70%); childcare places per 1000
in childcare facilities: {610113_places_per_1000:.1f} and {610116_places_per_1000:.1f} (4.8; the kindergartens' 托班 add a
few); streets with a kindergarten running a 托班: {kindergarten_streets} of 12 (100%). Every community has candidate
sites of each kind within about 550 m on the network, so a plan can meet them.
"""


