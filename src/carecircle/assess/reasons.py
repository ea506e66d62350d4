"""Why a community is not served: one reason per community and kind, in two languages.

Every community carries, for elderly care and for childcare, a reason code
(``elderly_reason``, ``childcare_reason``; after a plan ``*_reason_after``) and one
bilingual text (``reason``) for the kinds it lacks.  The codes, in the order they are
tested:

=================  ==========================================================
``outside_extent``  outside the walking network's extent (streets beyond it are not in the data)
``not_on_network``  farther than the snap limit from every street
``served``          served (and, where capacity is assessed, its demand fits)
``capacity``        a facility is within the walk, but those within it are full
``substandard``     today: only facilities below the floor-area standard within the walk
``no_facility``     today: no facility of the kind within the walk
``no_candidate``    after a plan: no candidate site that can host the kind within the walk
``excluded_only``   after a plan: the candidate sites within the walk are all excluded
``budget``          after a plan: candidates within the walk, left out by the budget
``other``           after a plan: candidates within the walk, but the plan could not use
                    them together with its other constraints (or the model and the
                    recomputed walk disagree: a warning says so)
=================  ==========================================================

The plan's codes come from the siting problem (:func:`carecircle.siting.reasons.plan_reasons`);
this module holds the labels and the rest.

Villages: a village's (``urban_rural`` = ``rural``) elderly care is judged at the rural
travel limit (:mod:`carecircle.assess.coverage`; the reasons read the same
``elderly_served`` / ``elderly_served_after``, so the same served test).  When
:func:`add_reasons` is given the limit, the text of a village's elderly care says so:
``已覆盖(村, 农村出行距离 2,000 m 内) Served (village: within the rural travel limit,
2,000 m)``, and "within the walk" reads "within the rural travel limit" in its other
reasons; the codes stay those above.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KINDS = ("elderly", "childcare")
KIND_LABELS = {"elderly": "养老 Elderly care", "childcare": "托育 Childcare"}
REASONS: dict[str, str] = {
    "served": "已覆盖 Served",
    "capacity": "步行范围内设施容量已满 Facilities within the walk are full",
    "substandard": "步行范围内设施面积不达标 Only facilities below the floor-area standard within the walk",
    "no_facility": "步行范围内无该类设施 No facility of this kind within the walk",
    "no_candidate": "步行范围内无可建候选场地 No candidate site within the walk can host it",
    "excluded_only": "步行范围内候选场地均被排除 Only excluded candidate sites within the walk",
    "budget": "受预算限制未安排 Left out by the budget",
    "other": "受其他约束限制未安排 Not served with the plan's other constraints",
    "not_on_network": "不在路网上(距道路过远) Not on the walking network (too far from a street)",
    "outside_extent": "超出路网范围 Outside the walking network's extent",
}


def off_network(communities: pd.DataFrame) -> np.ndarray:
    """``outside_extent`` / ``not_on_network`` / ``""`` (on the network) per community.

    Parameters
    ----------
    communities
        With ``snapped`` and (optionally) ``outside_extent``.
    """
    n = len(communities)
    on = communities["snapped"].to_numpy(dtype=bool) if "snapped" in communities else np.ones(n, bool)
    outside = (communities["outside_extent"].to_numpy(dtype=bool) if "outside_extent" in communities
               else np.zeros(n, bool))
    return np.where(on, "", np.where(outside, "outside_extent", "not_on_network")).astype(object)


def today_reasons(communities: pd.DataFrame, kind: str) -> np.ndarray:
    """Today's reason code per community for *kind*.

    Parameters
    ----------
    communities
        Community status (``snapped``, ``outside_extent``, ``{kind}_served``,
        ``{kind}_substandard``, and ``{kind}_capacity_full`` when capacity is assessed).
    kind
        ``"elderly"`` or ``"childcare"``.

    Returns
    -------
    numpy.ndarray
        Object array of codes (:data:`REASONS`).
    """
    n = len(communities)
    off = off_network(communities)
    served = communities[f"{kind}_served"].to_numpy(dtype=bool)
    sub = (communities[f"{kind}_substandard"].to_numpy(dtype=bool)
           if f"{kind}_substandard" in communities else np.zeros(n, bool))
    full = _column(communities, f"{kind}_capacity_full")
    code = np.where(served, np.where(full, "capacity", "served"),
                    np.where(sub, "substandard", "no_facility")).astype(object)
    return np.where(off != "", off, code).astype(object)


def after_reasons(communities: pd.DataFrame, kind: str, plan_codes: np.ndarray) -> np.ndarray:
    """The reason code per community for *kind* after a plan.

    Parameters
    ----------
    communities
        Community status after the plan (``snapped``, ``outside_extent``,
        ``{kind}_served_after``, ``{kind}_capacity_full_after`` when assessed).
    kind
        ``"elderly"`` or ``"childcare"``.
    plan_codes
        Per community, why the plan leaves it unserved (``no_candidate``,
        ``excluded_only``, ``budget``, ``other``; any value where it is served or
        off the network).

    Returns
    -------
    numpy.ndarray
        Object array of codes.
    """
    off = off_network(communities)
    served = communities[f"{kind}_served_after"].to_numpy(dtype=bool)
    full = _column(communities, f"{kind}_capacity_full_after")
    code = np.where(served, np.where(full, "capacity", "served"), plan_codes).astype(object)
    return np.where(off != "", off, code).astype(object)


def _column(df: pd.DataFrame, col: str) -> np.ndarray:
    return df[col].to_numpy(dtype=bool) if col in df else np.zeros(len(df), bool)


def _rural_text(code: str, limit_m: float) -> str:
    """A village's elderly-care reason: at the rural travel limit, not the walk."""
    if code == "served":
        return f"已覆盖(村, 农村出行距离 {limit_m:,.0f} m 内) Served (village: within the rural travel limit, {limit_m:,.0f} m)"
    return (REASONS[code].replace("步行范围内", "农村出行距离内")
            .replace("within the walk", f"within the rural travel limit ({limit_m:,.0f} m)"))


def reason_text(codes: dict[str, np.ndarray], village: np.ndarray | None = None,
                rural_limit_m: float | None = None) -> np.ndarray:
    """The bilingual ``reason`` text per community from its codes per kind.

    Parameters
    ----------
    codes
        ``{"elderly": codes, "childcare": codes}``.
    village
        Boolean per community: a village whose elderly care is judged at *rural_limit_m*.
    rural_limit_m
        The rural travel limit, metres (``None``: no village is judged apart).

    Returns
    -------
    numpy.ndarray
        ``已覆盖 Served`` where both kinds are served; else one clause per kind not
        served, e.g. ``养老 Elderly care: 受预算限制未安排 Left out by the budget``;
        one clause when both kinds share an off-network reason.
    """
    e, c = codes["elderly"], codes["childcare"]
    vil = np.zeros(len(e), bool) if village is None or rural_limit_m is None else np.asarray(village, bool)
    out = []
    for ce, cc, v in zip(e, c, vil, strict=True):
        off = ce in ("outside_extent", "not_on_network")
        if v and not off:  # always the elderly clause: it says the rural limit was used
            parts = [f"{KIND_LABELS['elderly']}: {_rural_text(ce, float(rural_limit_m or 0.0))}"]
            if cc != "served":
                parts.append(f"{KIND_LABELS['childcare']}: {REASONS[cc]}")
            out.append("; ".join(parts))
            continue
        if ce == cc:
            both = ce in ("served", "outside_extent", "not_on_network")
            out.append(REASONS[ce] if both else f"养老和托育 Elderly care and childcare: {REASONS[ce]}")
            continue
        parts = [f"{KIND_LABELS[k]}: {REASONS[code]}" for k, code in (("elderly", ce), ("childcare", cc))
                 if code != "served"]
        out.append("; ".join(parts))
    return np.array(out, dtype=object)


def add_reasons(communities: pd.DataFrame, *, plan_codes: dict[str, np.ndarray] | None = None,
                rural_limit_m: float | None = None) -> pd.DataFrame:
    """Communities with their reason columns (today, and after a plan).

    Parameters
    ----------
    communities
        Community status (and the ``*_after`` columns after a plan).
    plan_codes
        After a plan: ``{kind: code per community}`` from the siting problem.
    rural_limit_m
        The rural travel limit at which villages' elderly care was judged (``None``:
        villages were judged like city blocks); the text of a village says so.

    Returns
    -------
    pandas.DataFrame
        A copy with ``elderly_reason``, ``childcare_reason`` (today), after a plan
        ``elderly_reason_after``, ``childcare_reason_after``, and ``reason`` (the
        bilingual text of the last state: after the plan when there is one).
    """
    out = communities.copy()
    today = {k: today_reasons(out, k) for k in KINDS}
    for k in KINDS:
        out[f"{k}_reason"] = today[k]
    final = today
    if plan_codes is not None:
        final = {k: after_reasons(out, k, plan_codes[k]) for k in KINDS}
        for k in KINDS:
            out[f"{k}_reason_after"] = final[k]
    village = ((out["urban_rural"] == "rural").to_numpy() if "urban_rural" in out
               else np.zeros(len(out), bool))
    out["reason"] = reason_text(final, village, rural_limit_m)
    return out


def unserved_summary(communities: pd.DataFrame, *, after: bool) -> pd.DataFrame:
    """Communities not served, counted by kind and reason (the briefing's table).

    Parameters
    ----------
    communities
        With the reason columns of :func:`add_reasons`.
    after
        The reasons after the plan (else today's).

    Returns
    -------
    pandas.DataFrame
        ``kind``, ``reason``, ``label``, ``communities``, ``ids`` (list), ``names``
        (list), ``districts`` (district name -> count), largest groups first.
    """
    sfx = "_after" if after else ""
    rows = []
    for k in KINDS:
        col = f"{k}_reason{sfx}"
        if col not in communities:
            continue
        codes = communities[col]
        for code in [c for c in REASONS if c != "served"]:
            sel = communities[codes == code]
            if not len(sel):
                continue
            dname = sel["district_name"] if "district_name" in sel else sel["district"]
            rows.append({"kind": k, "reason": code, "label": REASONS[code], "communities": len(sel),
                         "ids": sel["id"].astype(str).tolist(),
                         "names": sel["name"].astype(str).tolist() if "name" in sel else [],
                         "districts": dname.astype(str).value_counts().sort_index().to_dict()})
    df = pd.DataFrame(rows, columns=["kind", "reason", "label", "communities", "ids", "names", "districts"])
    return df.sort_values(["communities", "kind"], ascending=[False, True], kind="stable").reset_index(drop=True)
