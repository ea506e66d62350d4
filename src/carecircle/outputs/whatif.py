"""``what-if.html``: switch sites on and off and see who is served, offline, in one file.

The page lists the plan's sites and every other candidate that may host a facility,
on a map and in a list, each with a checkbox.  Switching a site recomputes in the
browser who is served and each district's indicators (coverage by kind for urban and
rural communities, streets with a centre, childcare places per 1,000, new sites,
cost), exactly as :func:`carecircle.siting.evaluate.evaluate_sites` does for the same
set of sites, and shows what changed against the plan.  A button exports the chosen
set as a scenario snippet (``[plan] required`` / ``excluded``) for the next run.

What is embedded
----------------
One JSON document, gzip-compressed and base64-encoded in a ``<script
type="application/octet-stream">`` block (the browser inflates it with its own
``DecompressionStream``, so the page needs no library but the vendored Leaflet):

- per community on the walking network: id, name, district, urban/rural, the two
  weights (60+, 0-3), served today per kind, position;
- per site that may host something: id, name, district, street, the kinds it opens
  as (:func:`~carecircle.siting.evaluate.site_kinds`), its cost and childcare places
  as the model counts them, floor area, acquisition, position, in the plan or not;
- the sparse reach, per kind served: for each site, the communities not served today
  that it would serve (sorted, delta-coded); communities served today cannot change
  and are left out;
- per district: name, population and places today (places per 1,000), streets and
  the streets with a centre today, the targets;
- the plan's own evaluation (:func:`~carecircle.siting.evaluate.evaluate_sites`),
  against which the page checks its first computation (a banner says so if they ever
  differ) and shows the differences.

At whole-city size (3,223 communities, 20,000 candidates, about 30 candidates within
a community's walk) the page is 1.2 MB, opens in headless Chromium in 1.6 s and
recomputes in about 40 ms when a site is switched (``benchmarks/whatif_size.py``).

Every text from the data reaches the page through ``textContent`` or escaped
popups (never ``innerHTML``), so a community called ``<script>`` shows as text.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from carecircle.atomic import write_text_atomic
from carecircle.inputs.read import WGS84
from carecircle.outputs.basemap import STREETS_JS, Basemap, street_data
from carecircle.outputs.leaflet import CC_JS, _leaflet_inline, js_json
from carecircle.outputs.packed import PACKED_JS
from carecircle.outputs.style import (
    ACQUISITION_LABELS,
    SITE_COLOURS,
    SITE_KIND_LABELS,
    STATUS_COLOURS,
)
from carecircle.siting.evaluate import PlanBasis, SiteEvaluation, evaluate_sites
from carecircle.siting.problem import KINDS, PLAN_KINDS
from carecircle.siting.result import plan_cost

FILE_NAME = "what-if.html"
#: Bit of each kind in a site's kind mask.
KIND_BITS = {"elderly": 1, "childcare": 2, "street_centre": 4, "institution": 8}
#: The district table's columns the page shows and recomputes (district_table names).
DISTRICT_KEYS = (
    "elderly_urban_after", "elderly_rural_after", "childcare_urban_after", "childcare_rural_after",
    "streets_with_centre_after", "places_per_1000_after", "new_elderly", "new_childcare",
    "new_street_centre", "cost",
)
#: The totals the page shows (SiteEvaluation.totals names).
TOTAL_KEYS = (
    "served_both", "served_elderly", "served_childcare", "elderly_residents_served",
    "childcare_residents_served", "sites", "cost", "places_added",
)


# ---------------------------------------------------------------- data


def _num(v: Any) -> float | None:
    """A JSON number, ``None`` for NaN / missing (JSON has no NaN)."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or math.isinf(x) else x


def _nums(a: Any) -> list[float | None]:
    return [_num(v) for v in np.asarray(a, dtype=float)]


def _lat_lon(points: Any, n: int) -> tuple[list[float | None], list[float | None]]:
    """WGS-84 latitude and longitude lists (6 decimals), ``None`` where unknown."""
    if points is None or "geometry" not in getattr(points, "columns", ()) or points.crs is None:
        return [None] * n, [None] * n
    g = points.geometry.to_crs(WGS84)
    g = g.where(~(g.is_empty | g.isna()), None)
    pts = g.representative_point()
    lat = [None if p is None or p.is_empty else round(float(p.y), 6) for p in pts]
    lon = [None if p is None or p.is_empty else round(float(p.x), 6) for p in pts]
    return lat, lon


def _texts(frame: Any, column: str, n: int) -> list[str]:
    if frame is None or column not in frame.columns:
        return [""] * n
    return ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            for v in frame[column].tolist()]


def _reach(basis: PlanBasis, sites: np.ndarray, masks: np.ndarray) -> dict[str, dict[str, list[int]]]:
    """Per kind served, per page site: the communities not served today it would serve.

    ``n`` is the count per site, ``i`` the community indices, each site's run
    delta-coded (the first absolute, then differences) so the gzip stream is small.
    """
    P = basis.problem
    out: dict[str, dict[str, list[int]]] = {}
    hosts = {"elderly": ("elderly", "street_centre", "institution"), "childcare": ("childcare",)}
    for served in KINDS:
        open_ = ~P.existing_served[served]
        cols = []
        for k in hosts[served]:
            has = (masks & KIND_BITS[k]) > 0
            M = P.cover[k][:, sites].tocsc().multiply(has[None, :]).tocsc()
            cols.append(M)
        M = cols[0]
        for extra in cols[1:]:
            M = M + extra
        M = M.multiply(open_[:, None]).tocsc()
        M.eliminate_zeros()
        M.sort_indices()
        counts = np.diff(M.indptr)
        idx = M.indices.astype(np.int64)
        delta = idx.copy()
        if len(idx):
            delta[1:] = idx[1:] - idx[:-1]
            starts = M.indptr[:-1][counts > 0]
            delta[starts] = idx[starts]
        out[served] = {"n": counts.tolist(), "i": delta.tolist()}
    return out


def _district_part(basis: PlanBasis, districts: np.ndarray,
                   names: dict[str, str]) -> dict[str, Any]:
    """Per district what the indicators need beyond the communities and the sites."""
    P = basis.problem
    has = {s for s in P.streets_with_centre.tolist() if s is not None}
    street_codes: dict[Any, int] = {}

    def code(s: Any) -> int:
        # None is a label of its own, as in the Python sets of district_table
        return street_codes.setdefault(s, len(street_codes))

    pop, ex, n_streets, base = [], [], [], []
    targets: dict[str, list[float | None]] = {
        k: [] for k in ("urban_cov", "rural_cov", "street_centre_share", "places_per_1000")}
    for d in districts:
        p = P.target(d, "population")
        if p is None and P.population is not None:
            p = float(P.population[P.district == d].sum())
        pop.append(p if p else None)
        ex.append(P.target(d, "existing_places") or 0.0)
        if P.street is not None:
            st = set(P.street[P.district == d].tolist())
            if P.candidate_street is not None:
                st |= set(P.candidate_street[P.candidate_district == d].tolist())
            ns = P.target(d, "n_streets")
            n_streets.append(int(ns) if ns is not None else len(st))
            base.append(sorted(code(s) for s in st & has))
        for k, v in targets.items():
            v.append(P.target(d, k))
    if P.candidate_street is not None:
        for s in P.candidate_street.tolist():
            code(s)
    return {
        "code": [str(d) for d in districts], "name": [names.get(str(d), str(d)) for d in districts],
        "pop": pop, "ex": ex, "nStreets": n_streets if P.street is not None else None,
        "base": base if P.street is not None else None, "targets": targets,
        "streetCodes": street_codes,
    }


def _evaluation_part(ev: SiteEvaluation) -> dict[str, Any]:
    """An evaluation as the page reads it: district rows by key, and the totals."""
    d = ev.districts
    rows = {k: _nums(d[k]) if k in d.columns else None for k in DISTRICT_KEYS}
    before = {k.replace("_after", "_before"): _nums(d[k.replace("_after", "_before")])
              for k in DISTRICT_KEYS
              if k.endswith("_after") and k.replace("_after", "_before") in d.columns}
    return {"districts": rows, "before": before,
            "totals": {k: _num(v) for k, v in ev.totals.items()},
            "served": {k: ev.served[k].to_numpy(dtype=bool).astype(int).tolist() for k in KINDS}}


def whatif_data(basis: PlanBasis, *, communities: Any = None,
                district_names: dict[str, str] | None = None,
                excluded: tuple[str, ...] | list[str] = (), title: str = "",
                off_network: int = 0) -> dict[str, Any]:
    """The document the what-if page embeds (see the module docstring).

    Parameters
    ----------
    basis
        The plan and its problem (:class:`~carecircle.siting.evaluate.PlanBasis`);
        ``basis.candidates`` gives names, floor area, acquisition and positions.
    communities
        The communities (``id``, ``name``, geometry in any CRS), for names and
        positions; matched to the problem's communities by id.
    district_names
        District code -> name.
    excluded
        The scenario's ``[plan] excluded`` ids, kept in the exported snippet.
    title
        The page's title (the scenario's).
    off_network
        Communities not on the walking network (not in the problem), for a note.

    Returns
    -------
    dict
        JSON-ready (no NaN).
    """
    P = basis.problem
    kinds = basis.kinds()
    masks_all = np.array([sum(KIND_BITS[k] for k in ks) for ks in kinds], dtype=np.int64)
    sites = np.flatnonzero(masks_all > 0)
    masks = masks_all[sites]
    every = {k: np.flatnonzero((masks_all & KIND_BITS[k]) > 0) for k in PLAN_KINDS}
    # plan_cost is per candidate: every candidate opened as its kinds gives each one's own cost
    cost = plan_cost(P, every)[sites]
    districts = P.all_districts()
    dpos = {d: i for i, d in enumerate(districts)}
    dpart = _district_part(basis, districts, district_names or {})
    codes = dpart.pop("streetCodes")
    cand = basis.candidates
    cand = cand.iloc[sites] if cand is not None else None
    clat, clon = _lat_lon(cand, len(sites))
    comm = None
    if communities is not None:
        comm = communities.set_index(communities["id"].astype(str)).reindex(
            [str(i) for i in P.community_ids])
        comm = comm.reset_index(drop=True)
    plat, plon = _lat_lon(comm, P.n_communities)
    proposed = set(basis.proposed.tolist())
    baseline = evaluate_sites(basis, basis.proposed_ids)
    return {
        "v": 1, "title": title, "offNetwork": int(off_network),
        "excluded": [str(x) for x in excluded],
        "comm": {
            "id": [str(i) for i in P.community_ids], "name": _texts(comm, "name", P.n_communities),
            "d": [dpos[d] for d in P.district], "u": P.urban.astype(int).tolist(),
            "we": _nums(P.weight["elderly"]), "wc": _nums(P.weight["childcare"]),
            "se": P.existing_served["elderly"].astype(int).tolist(),
            "sc": P.existing_served["childcare"].astype(int).tolist(),
            "lat": plat, "lon": plon,
        },
        "site": {
            "id": [str(P.candidate_ids[j]) for j in sites], "name": _texts(cand, "name", len(sites)),
            "d": [dpos[P.candidate_district[j]] for j in sites],
            "st": [codes[P.candidate_street[j]] for j in sites] if P.candidate_street is not None
            else None,
            "k": masks.tolist(), "cost": _nums(cost),
            "places": _nums(np.where((masks & KIND_BITS["childcare"]) > 0, P.places_new[sites], 0.0)),
            "area": _nums(cand["floor_area_m2"]) if cand is not None and "floor_area_m2" in cand
            else [None] * len(sites),
            "acq": _texts(cand, "acquisition", len(sites)),
            "plan": [int(j in proposed) for j in sites], "lat": clat, "lon": clon,
        },
        "reach": _reach(basis, sites, masks),
        "dist": dpart,
        "plan": _evaluation_part(baseline),
    }


def encode(data: dict[str, Any]) -> str:
    """gzip + base64 of the document's compact JSON (deterministic: no timestamp)."""
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return base64.b64encode(gzip.compress(raw.encode("utf-8"), 9, mtime=0)).decode("ascii")


def decode(text: str) -> dict[str, Any]:
    """The document back from :func:`encode` (tests, and anyone reading a page's data)."""
    data: dict[str, Any] = json.loads(gzip.decompress(base64.b64decode(text)).decode("utf-8"))
    return data


# ---------------------------------------------------------------- page


def _labels() -> dict[str, Any]:
    """Colours and bilingual labels the page's script uses."""
    return {
        "status": STATUS_COLOURS, "site": SITE_COLOURS,
        "kinds": SITE_KIND_LABELS, "acq": ACQUISITION_LABELS,
    }


def whatif_html(data: dict[str, Any], streets: str | None = None) -> str:
    """The page for a :func:`whatif_data` document.

    Parameters
    ----------
    data
        The document.
    streets
        The run's streets as :func:`carecircle.outputs.basemap.street_data` packs them
        (drawn offline under everything, as on the map); ``None``: no street layer.

    Returns
    -------
    str
        A standalone HTML page (Leaflet inlined, no request to any server).
    """
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    text = resources.files("carecircle.outputs").joinpath("templates", "whatif.html").read_text("utf-8")
    # Markup: already safe inside <script> (js_json escapes <, >, &) or inlined vendor code
    return env.from_string(text).render(
        title=data.get("title") or "what-if", leaflet=Markup(_leaflet_inline()),
        payload=encode(data), labels=Markup(js_json(_labels())),
        district_keys=Markup(js_json(list(DISTRICT_KEYS))),
        # the map's street layer: the same code as map.html's (CC_JS sets up its pane)
        street_js=Markup(f"{CC_JS}\n{PACKED_JS}\n{STREETS_JS}"),
        # base64 holds only [A-Za-z0-9+/=]: its JSON string is safe in a script
        streets=Markup(json.dumps(streets)),
    )


def write_whatif_page(basis: PlanBasis, path: str | Path, *, streets: str | None = None,
                      **kw: Any) -> Path:
    """Write a what-if page for a plan (see :func:`whatif_data` for ``kw``).

    Parameters
    ----------
    basis
        The plan and its problem.
    path
        The HTML file to write.
    streets
        Packed streets for the map (:func:`whatif_html`).
    **kw
        ``communities``, ``district_names``, ``excluded``, ``title``, ``off_network``.

    Returns
    -------
    Path
        ``path``, written atomically.
    """
    return write_text_atomic(path, whatif_html(whatif_data(basis, **kw), streets))


def write_whatif(run: Any, path: str | Path) -> Path:
    """Write ``what-if.html`` for a run with a plan.

    Parameters
    ----------
    run
        A :class:`~carecircle.outputs.results.RunOutputs` whose ``basis`` is set (a plan).
    path
        The HTML file to write.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        The run has no plan.
    """
    if run.basis is None:
        raise ValueError("what-if.html needs a run with a plan (run.basis is None)")
    names: dict[str, str] = {}
    districts = run.inputs.get("districts") if run.inputs is not None else None
    if districts is not None:
        names = dict(zip(districts["code"].astype(str), districts["name"].astype(str), strict=True))
    comm = run.communities
    off = int((comm["status"] == "unreachable").sum()) if "status" in comm else 0
    scen = run.scenario
    title = getattr(scen, "title", "") or getattr(scen, "name", "")
    excluded = tuple(getattr(getattr(scen, "plan", None), "excluded", ()))
    # Streets in WGS-84 (no Amap shift): the page has no online base map to line up with.
    streets = street_data(run.network, Basemap.of(None))[0] if run.network is not None else None
    return write_whatif_page(run.basis, path, communities=comm, district_names=names,
                             excluded=excluded, title=str(title), off_network=off,
                             streets=streets)


def page_numbers(data: dict[str, Any]) -> pd.DataFrame:
    """The plan's district numbers as embedded (district x key), for reading a page back."""
    rows = data["plan"]["districts"]
    return pd.DataFrame({k: v for k, v in rows.items() if v is not None},
                        index=pd.Index(data["dist"]["code"], name="district"))
