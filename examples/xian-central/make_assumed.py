"""Make the assumed layers of the central Xi'an example (the same seed gives the same bytes).

Reads the shared real data in place (``../shared/data/xian-central/`` beside the repo):

* the OSM roads (``roads-osm-2021/edges.shp``) -> candidate sites every ~400 m along
  the streets, on the road lines (:func:`carecircle.inputs.assumed.street_points`);
* the Amap POIs typed 社区中心 (code 120304, also in multi-typed rows), converted
  GCJ-02 -> WGS-84 -> candidate sites at those community centres that lie within the
  300 m snap limit of a road; the others are printed and left out.

Writes ``candidates-assumed.geojson`` next to this script (and, with ``--facilities``,
a stated sample of assumed existing facilities).  Run from anywhere::

    python examples/xian-central/make_assumed.py            # rewrite the committed file
    python examples/xian-central/make_assumed.py --out /tmp/x --facilities elderly=3,childcare=2
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd

from carecircle import LayerSource, candidate_sites, read_table, sample_facilities, write_geojson

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[2] / "shared" / "data" / "xian-central"
CRS = "EPSG:4545"
SEED = 2026
SPACING_M = 400.0
MAX_SNAP_M = 300.0
CENTRE_AREA_M2 = 600.0


def load_roads(data: Path = DATA) -> gpd.GeoDataFrame:
    """The OSM road lines in the metric CRS (both directions; the rule counts a street once)."""
    edges = gpd.read_file(data / "roads-osm-2021" / "edges.shp")
    return edges[["name", "highway", "geometry"]].to_crs(CRS)


def load_centres(data: Path = DATA) -> gpd.GeoDataFrame:
    """Amap POIs whose type includes 社区中心 (120304), converted GCJ-02 -> WGS-84."""
    src = LayerSource(
        path=data / "amap-pois-gcj02" / "gaoxin_amap_pois.csv",
        coords="gcj02",
        lon="经度_gcj02",
        lat="纬度_gcj02",
        filter="类型.str.contains('120304')",
    )
    pois = read_table(src, "communities")
    return pois.rename(columns={"poi_id": "id", "名称": "name"})[["id", "name", "geometry"]].to_crs(
        CRS
    )


def build(data: Path = DATA):
    """The candidate sites of the example (a :class:`~carecircle.inputs.assumed.CandidateSites`)."""
    return candidate_sites(
        load_roads(data),
        centres=load_centres(data),
        spacing_m=SPACING_M,
        seed=SEED,
        max_snap_m=MAX_SNAP_M,
        centre_area_m2=CENTRE_AREA_M2,
    )


def _counts(text: str) -> dict[str, int]:
    out = {}
    for part in filter(None, text.split(",")):
        kind, _, n = part.partition("=")
        out[kind.strip()] = int(n)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared xian-central folder")
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write to")
    parser.add_argument(
        "--facilities",
        default="",
        help="also write a stated sample of assumed facilities, e.g. elderly=3,childcare=2",
    )
    args = parser.parse_args(argv)
    if not (args.data / "roads-osm-2021" / "edges.shp").is_file():
        print(f"shared data not found: {args.data}", file=sys.stderr)
        return 2
    result = build(args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    path = write_geojson(result.sites, args.out / "candidates-assumed.geojson")
    print(f"wrote {path} ({len(result.sites)} sites)")
    print(result.rule)
    for row in result.dropped.itertuples(index=False):
        print(
            f"  left out 未纳入: {row.id} {row.name}: {row.distance_m:,.0f} m from the nearest road"
        )
    if args.facilities:
        fac = sample_facilities(result.sites, _counts(args.facilities), seed=SEED)
        print(
            f"wrote {write_geojson(fac, args.out / 'facilities-assumed.geojson')} ({len(fac)} facilities)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
