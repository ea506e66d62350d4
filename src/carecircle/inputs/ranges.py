"""Plausible ranges of every number a scenario, a data file or the command line gives.

A value outside its range is refused (an error naming the file and the field); a value
inside it but beyond the usual values is accepted with a warning.  The ranges are wide
on purpose: they stop nonsense (a walking speed of 1,000 m/s, a floor area of 10¹² m²,
infinite populations) without second-guessing a planner.  ``docs/safety.md`` lists the
same table for users; a test checks the two agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    """Accepted ``[lo, hi]`` (errors outside), usual ``[warn_lo, warn_hi]`` (warnings outside).

    Parameters
    ----------
    lo, hi
        Values outside are refused.
    warn_lo, warn_hi
        Values outside (but inside ``[lo, hi]``) are accepted with a warning.
    unit
        Shown in messages.
    """

    lo: float
    hi: float
    warn_lo: float
    warn_hi: float
    unit: str = ""

    def text(self) -> str:
        """``"0.3-3 m/s"``: the accepted range for a message."""
        return f"{self.lo:,g}-{self.hi:,g}{' ' + self.unit if self.unit else ''}"

    def check(self, value: float) -> str | None:
        """``"error"``, ``"warning"`` or ``None`` for ``value``."""
        if not math.isfinite(value) or not self.lo <= value <= self.hi:
            return "error"
        if not self.warn_lo <= value <= self.warn_hi:
            return "warning"
        return None


#: Scenario keys (``section.key``; ``*`` for every key of a table) -> range.
SCENARIO: dict[str, Range] = {
    "district_tolerance_m": Range(0, 5000, 0, 1000, "m"),
    "walking.minutes": Range(1, 120, 5, 60, "min"),
    "walking.speed_mps.*": Range(0.3, 3.0, 0.5, 2.0, "m/s"),
    "walking.max_snap_m": Range(1, 5000, 20, 1000, "m"),
    "walking.isochrone_buffer_m": Range(0, 500, 0, 200, "m"),
    # 0: no standard, any facility counts (the neutral profile)
    "standards.elderly_min_area_m2": Range(0, 100_000, 0, 5000, "m²"),
    "standards.childcare_min_area_m2": Range(0, 100_000, 0, 5000, "m²"),
    "standards.shared_min_area_m2": Range(0, 100_000, 0, 10_000, "m²"),
    "standards.childcare_m2_per_place": Range(1, 100, 3, 30, "m² per place"),
    "standards.compound_m2_per_100_households": Range(0, 1000, 0, 100, "m²"),
    "standards.shared_building_cost_factor": Range(0.1, 2, 0.5, 1.2, ""),
    "standards.elderly_m2_per_user": Range(0.5, 100, 2, 30, "m² per user"),
    "standards.institution_m2_per_bed": Range(5, 500, 20, 120, "m² per bed"),
    "standards.institution_nursing_share_new": Range(0, 1, 0.3, 1, ""),
    "standards.demonstration_min_beds": Range(0, 5000, 0, 1000, "beds"),
    "standards.rural_home_min_area_m2": Range(0, 100_000, 0, 1000, "m²"),
    "targets.childcare_places_per_1000": Range(0, 100, 0.5, 20, "per 1,000"),
    "targets.public_beds_share_of_60plus": Range(0, 0.5, 0, 0.1, ""),
    "targets.public_childcare_per_district": Range(0, 1000, 0, 50, ""),
    "targets.elderly_area_per_resident_m2": Range(0, 10, 0, 2, "m² per resident"),
    "targets.nursing_bed_share": Range(0, 1, 0.3, 0.9, ""),
    "targets.demonstration_homes_per_district": Range(0, 100, 0, 5, ""),
    "plan.budget_yuan": Range(0, 1e12, 0, 1e11, "yuan"),
    "plan.time_limit_s": Range(0, 7 * 86400, 1, 86400, "s"),
    "plan.mip_gap": Range(0, 1, 0, 0.1, ""),
    "plan.operation_years": Range(0, 100, 0, 30, "years"),
    "plan.unit_costs.*": Range(0, 1e6, 100, 50_000, "yuan/m²"),
    "plan.fitout_costs.*": Range(0, 1e5, 0, 20_000, "yuan/m²"),
    "plan.shared_fitout_saving": Range(0, 1, 0, 0.3, ""),
    "rural.limit_m": Range(1, 50_000, 300, 10_000, "m"),
    "rural.minutes": Range(0, 240, 0, 120, "min"),
    "rural.speed_mps": Range(0.3, 30, 0.5, 15, "m/s"),
    "demand.factors.*": Range(0.01, 100, 0.5, 3, ""),
    "demand.district_factors.*": Range(0.01, 100, 0.5, 3, ""),
    "demand.elderly_uptake": Range(0, 1, 0.01, 0.3, ""),
    "demand.childcare_enrolment": Range(0, 1, 0.02, 0.6, ""),
    "demand.census_0_3_share_of_0_4": Range(0.5, 1, 0.7, 0.9, ""),
}

#: (layer, column) -> range of one feature's value (the column's own sign rule is
#: :data:`carecircle.inputs.schema.NUMERIC`).
DATA: dict[tuple[str, str], Range] = {
    ("communities", "population"): Range(0, 1e6, 0, 150_000, "residents"),
    ("communities", "pop_60plus"): Range(0, 1e6, 0, 50_000, "residents"),
    ("communities", "pop_0_3"): Range(0, 1e6, 0, 10_000, "children"),
    ("communities", "households"): Range(0, 5e5, 0, 50_000, "households"),
    ("facilities", "floor_area_m2"): Range(0, 1e6, 0, 200_000, "m²"),
    ("facilities", "beds"): Range(0, 1e5, 0, 5000, "beds"),
    ("facilities", "nursing_beds"): Range(0, 1e5, 0, 5000, "beds"),
    ("facilities", "places"): Range(0, 1e5, 0, 2000, "places"),
    ("candidates", "floor_area_m2"): Range(0, 1e6, 0, 200_000, "m²"),
    ("candidates", "cost_yuan"): Range(0, 1e11, 0, 2e9, "yuan"),
    ("population_grid", "population"): Range(0, 1e7, 0, 500_000, "residents"),
    ("population_grid", "pop_60plus"): Range(0, 1e7, 0, 200_000, "residents"),
    ("population_grid", "pop_0_3"): Range(0, 1e7, 0, 50_000, "children"),
}

#: Command-line options -> range (the same as the scenario keys they stand for).
CLI: dict[str, Range] = {
    "--minutes": SCENARIO["walking.minutes"],
    "--speed-mps": SCENARIO["walking.speed_mps.*"],
    "--max-snap-m": SCENARIO["walking.max_snap_m"],
    "--buffer-m": SCENARIO["walking.isochrone_buffer_m"],
    "--partitions": Range(1, 10_000, 1, 1000, "pieces"),
    "--min-interval": Range(0, 60, 0, 10, "s"),
}


def scenario_range(key: str) -> Range | None:
    """The range of a scenario key such as ``walking.speed_mps.elderly`` (None: no range).

    Parameters
    ----------
    key
        Dotted key; for a table, the key of one entry.
    """
    if key in SCENARIO:
        return SCENARIO[key]
    head, _, _ = key.rpartition(".")
    if f"{head}.*" in SCENARIO:
        return SCENARIO[f"{head}.*"]
    # demand.district_factors.<district>.<group>
    parts = key.split(".")
    if len(parts) >= 3:
        return SCENARIO.get(f"{parts[0]}.{parts[1]}.*")
    return None
