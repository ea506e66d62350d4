"""Tests for the siting problem's factories: from plain arrays and from a scenario's layers.

The layer case is small enough to compute by hand: three communities in three streets
of two districts, four candidates of different sizes, kinds and acquisition types.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from shapely.geometry import Point, box

from carecircle.errors import InputError
from carecircle.inputs.scenario import Plan, Standards, Targets
from carecircle.siting.problem import TARGET_COLUMNS, SitingProblem

CRS = "EPSG:32649"


def _arrays(**kw):
    cov = sp.csr_matrix(np.array([[1, 0], [1, 1], [0, 1]]))
    args = {
        "community_ids": ["c0", "c1", "c2"],
        "district": ["A", "A", "B"],
        "urban": [1, 0, 1],
        "weight": {"elderly": [3, 2, 1], "childcare": [1, 1, 1]},
        "cover": {"elderly": cov, "childcare": cov.toarray()},
        "candidate_ids": ["s0", "s1"],
        "candidate_district": ["A", "B"],
        "can_host": {"elderly": [True, True], "childcare": [True, False]},
        "cost": {"elderly": [5.0, 6.0], "childcare": [4.0, np.nan]},
    }
    args.update(kw)
    return args


def test_from_arrays_fills_the_defaults():
    P = SitingProblem.from_arrays(**_arrays())
    assert P.n_communities == 3 and P.n_candidates == 2
    assert P.urban.dtype == bool and P.urban.tolist() == [True, False, True]
    assert P.existing_served["elderly"].tolist() == [False] * 3
    assert P.existing_served["childcare"].tolist() == [False] * 3
    assert P.can_host["street_centre"].tolist() == [False, False]
    assert np.isnan(P.cost["street_centre"]).all()
    assert np.isnan(P.cost_shared).all()  # no shared building unless given
    assert P.places_new.tolist() == [0.0, 0.0]
    assert P.population is None and P.street is None and P.candidate_street is None
    assert len(P.streets_with_centre) == 0
    assert P.district_targets.empty and P.target("A", "urban_cov") is None
    assert P.required.dtype == np.int64 and len(P.required) == 0
    assert P.excluded.dtype == np.int64 and len(P.excluded) == 0
    # The street-centre reach defaults to the elderly reach; a dense matrix becomes CSR 0/1.
    assert (P.cover["street_centre"] != P.cover["elderly"]).nnz == 0
    assert sp.issparse(P.cover["childcare"]) and P.cover["childcare"].dtype == np.int32
    # Districts of communities, candidates and the targets table, in order of appearance.
    assert P.all_districts().tolist() == ["A", "B"]


def test_from_arrays_selections_and_targets():
    dt = pd.DataFrame({"urban_cov": [0.9, np.nan]}, index=["A", "C"])
    P = SitingProblem.from_arrays(
        **_arrays(required={"elderly": ["s1"], "childcare": [0]}, excluded=[False, True],
                  district_targets=dt)
    )
    assert P.required["elderly"].tolist() == [1] and P.required["childcare"].tolist() == [0]
    assert P.required_as("elderly").tolist() == [False, True]
    assert P.required_as("street_centre").tolist() == [False, False]
    assert P.excluded.tolist() == [1]
    assert P.target("A", "urban_cov") == 0.9
    assert P.target("C", "urban_cov") is None  # NaN: no target
    assert P.target("A", "rural_cov") is None  # no such column
    assert P.all_districts().tolist() == ["A", "B", "C"]  # C only in the targets table
    Q = SitingProblem.from_arrays(**_arrays(required=["s1", "s1", "s0"]))
    assert Q.required.tolist() == [0, 1] and Q.required_as("childcare").tolist() == [True, True]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"district": ["A", "A"]}, "district has the wrong length"),
        ({"weight": {"elderly": [3, -2, 1], "childcare": [1, 1, 1]}}, r"weight\[elderly\] must be"),
        ({"weight": {"elderly": [3, 2, 1]}}, r"weight\[childcare\] is missing"),
        ({"cover": {"elderly": np.ones((3, 2))}}, r"cover\['childcare'\] is missing"),
        ({"cost": {"elderly": [5.0, np.nan], "childcare": [4.0, 1.0]}}, r"cost\['elderly'\]"),
        ({"cost_shared": [-1.0, np.nan]}, "cost_shared must be >= 0"),
        ({"required": {"hospital": [0]}}, "unknown kind"),
        ({"required": [2]}, "out of range"),
        ({"excluded": ["s9"]}, "unknown candidate"),
        ({"district_targets": pd.DataFrame({"urban": [1.0]}, index=["A"])}, "unknown columns"),
    ],
)
def test_from_arrays_refuses_bad_input(change, match):
    with pytest.raises(InputError, match=match):
        SitingProblem.from_arrays(**_arrays(**change))


def test_with_changes_validates_again():
    P = SitingProblem.from_arrays(**_arrays())
    Q = P.with_changes(excluded=["s0"], places_new=[3, 4])
    assert Q.excluded.tolist() == [0] and Q.places_new.tolist() == [3.0, 4.0]
    assert P.excluded.tolist() == []  # the original is unchanged
    with pytest.raises(InputError, match="places_new"):
        P.with_changes(places_new=[1.0])


# ------------------------------------------------------------------ from layers


def _layers():
    streets = gpd.GeoDataFrame(
        {"code": ["S1", "S2", "S3"], "district": ["D1", "D1", "D2"]},
        geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100), box(200, 0, 300, 100)],
        crs=CRS,
    )
    communities = gpd.GeoDataFrame(
        {
            "id": ["c0", "c1", "c2"],
            "district": ["D1", "D1", "D2"],
            "urban_rural": ["urban", "rural", "urban"],
            "population": [1000.0, 2000.0, 4000.0],
            "pop_60plus": [150.0, 300.0, 600.0],
            "pop_0_3": [30.0, 60.0, 120.0],
            "elderly_served": [True, False, False],
            "childcare_served": [False, False, True],
        },
        geometry=[Point(10, 50), Point(150, 50), Point(250, 50)],
        crs=CRS,
    )
    candidates = gpd.GeoDataFrame(
        {
            "id": ["k0", "k1", "k2", "k3"],
            "district": ["D1", "D1", "D2", "D2"],
            "kinds": ["elderly;childcare", "childcare", "street_centre;elderly",
                      "elderly;childcare;street_centre"],
            "floor_area_m2": [600.0, 250.0, 280.0, 900.0],
            "acquisition": ["new", "renovate", "lease", "new"],
            "cost_yuan": [np.nan, 1e6, np.nan, np.nan],
        },
        geometry=[Point(20, 50), Point(160, 50), Point(260, 50), Point(270, 60)],
        crs=CRS,
    )
    facilities = gpd.GeoDataFrame(
        {
            "kind": ["street_centre", "childcare", "childcare", "childcare"],
            "district": ["D1", "D1", "D2", "D2"],
            "places": [np.nan, 20.0, 10.0, np.nan],
            "ownership": ["public", "public", "private", "public_private"],
        },
        geometry=[Point(150, 20), Point(30, 30), Point(230, 30), Point(240, 30)],
        crs=CRS,
    )
    cover = {k: sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1]]))
             for k in ("elderly", "childcare")}
    return communities, candidates, facilities, streets, cover


def test_from_layers_hand_computed():
    communities, candidates, facilities, streets, cover = _layers()
    plan = Plan(required=("k3",), excluded=("k1",))
    P = SitingProblem.from_layers(
        communities, candidates, cover, standards=Standards(), targets=Targets(), plan=plan,
        facilities=facilities, streets=streets, extra_places={"D2": 5.0},
    )
    assert P.community_ids.tolist() == ["c0", "c1", "c2"]
    assert P.urban.tolist() == [True, False, True]
    assert P.weight["elderly"].tolist() == [150.0, 300.0, 600.0]
    assert P.weight["childcare"].tolist() == [30.0, 60.0, 120.0]
    assert P.existing_served["elderly"].tolist() == [True, False, False]
    # Hosting: kinds allowed and floor area >= 300 (elderly, street centre) / 200 (childcare).
    assert P.can_host["elderly"].tolist() == [True, False, False, True]
    assert P.can_host["childcare"].tolist() == [True, True, False, True]
    assert P.can_host["street_centre"].tolist() == [False, False, False, True]
    # Cost: cost_yuan, else unit cost x floor area (new 7,500, lease 2,000 per m2).
    base = [7500.0 * 600, 1e6, 2000.0 * 280, 7500.0 * 900]
    for k in ("elderly", "childcare", "street_centre"):
        assert P.cost[k].tolist() == base
    # Shared building (both kinds hosted, >= 500 m2): the building once and the two
    # fit-outs; with the default rates (elderly = childcare) and no saving that is the
    # cost of either kind alone, never twice the building.
    assert P.cost_shared[0] == pytest.approx(base[0])
    assert P.cost_shared[3] == pytest.approx(base[3])
    assert np.isnan(P.cost_shared[[1, 2]]).all()
    assert P.cost_shared_centre[3] == pytest.approx(base[3])  # a street centre with childcare
    assert np.isnan(P.cost_shared_centre[[0, 1, 2]]).all()
    assert not P.can_host["institution"].any() and P.beds_new.tolist() == [0.0] * 4
    # Places: 8 m2 each; a building that may share counts its childcare 40 %.
    assert P.places_new.tolist() == [30.0, 31.0, 35.0, 45.0]
    # Street labels from the polygons; the existing centre lies in S2.
    assert P.street.tolist() == ["S1", "S2", "S3"]
    assert P.candidate_street.tolist() == ["S1", "S2", "S3", "S3"]
    assert P.streets_with_centre.tolist() == ["S2"]
    assert P.required.tolist() == [3] and P.excluded.tolist() == [1]
    dt = P.district_targets
    assert set(dt.columns) <= set(TARGET_COLUMNS)
    assert dt.index.tolist() == ["D1", "D2"]
    assert dt["urban_cov"].tolist() == [0.9, 0.9] and dt["rural_cov"].tolist() == [0.8, 0.8]
    assert dt["street_centre_share"].tolist() == [0.7, 0.7]
    assert dt["n_streets"].tolist() == [2.0, 1.0]  # from the street layer
    assert dt["places_per_1000"].tolist() == [4.8, 4.8]
    assert dt["population"].tolist() == [3000.0, 4000.0]
    assert dt["existing_places"].tolist() == [20.0, 15.0]  # D2: 10 + 5 extra (NaN not counted)
    assert dt["min_total_childcare"].tolist() == [1.0, 1.0]
    assert dt["existing_childcare"].tolist() == [1.0, 1.0]  # public and public-private only


def test_shared_building_costs_the_building_once_plus_two_fitouts_less_the_saving():
    """Hand-computed: k0 (600 m², new, 7,500 yuan/m² as a station) and k3 (900 m²)."""
    communities, candidates, facilities, streets, cover = _layers()
    plan = Plan(fitout_costs={"childcare": {"new": 1500.0}}, shared_fitout_saving=0.1)
    P = SitingProblem.from_layers(communities, candidates, cover, standards=Standards(),
                                  targets=Targets(), plan=plan, facilities=facilities,
                                  streets=streets)
    # k0: station 4,500,000 = building + elderly fit-out 1,000 x 600 -> building 3,900,000.
    building = 7500.0 * 600 - 1000.0 * 600
    assert P.cost["elderly"][0] == pytest.approx(4_500_000.0)  # cost_yuan keeps its meaning
    assert P.cost["childcare"][0] == pytest.approx(building + 1500.0 * 600)
    # Shared: building once + elderly fit-out of 60 % + childcare fit-out of 40 %, less 10 %.
    fitouts = 1000.0 * 0.6 * 600 + 1500.0 * 0.4 * 600
    assert P.cost_shared[0] == pytest.approx(building + 0.9 * fitouts)  # 4,548,000
    assert P.cost_shared[0] == pytest.approx(4_548_000.0)
    assert P.cost_shared[0] < 2 * building  # never the building twice
    # k3 (900 m², new) as a street centre with childcare: the same rule.
    b3 = 7500.0 * 900 - 1000.0 * 900
    assert P.cost_shared_centre[3] == pytest.approx(b3 + 0.9 * (1000.0 * 540 + 1500.0 * 360))
    # k1 is given at 1,000,000 (renovated, 250 m²): its building is that less 1,200 x 250.
    assert P.cost["childcare"][1] == pytest.approx(1e6)  # default rates: childcare = elderly


def test_from_layers_without_streets_facilities_or_targets():
    communities, candidates, _, _, cover = _layers()
    P = SitingProblem.from_layers(
        communities, candidates, cover, standards=Standards(), targets=Targets(), plan=Plan(),
    )
    assert P.street is None and P.candidate_street is None
    assert len(P.streets_with_centre) == 0
    # No street layer: no street-centre share; no facilities: no places, no minimum.
    assert P.district_targets.columns.tolist() == ["urban_cov", "rural_cov"]
    Q = SitingProblem.from_layers(
        communities.assign(street=["T1", None, "T2"]), candidates, cover,
        standards=Standards(), targets=Targets(), plan=Plan(district_targets=False),
    )
    assert Q.district_targets.empty
    assert Q.street.tolist() == ["T1", None, "T2"]  # the layer's own column
    assert Q.candidate_street is None
