"""The bed block of the siting model: elderly institutions, public beds, nursing beds and
the demonstration home, per district.

:func:`carecircle.siting.model.build_model` calls :func:`bed_need` (what each district
still needs) and :func:`bed_rows` (its rows) like its other builders; the rows are
ordinary rows of the one MILP, tagged as district targets, so every solve path (HiGHS,
the LP bound, fix-and-optimise, the elastic explanation) handles them.

Formulation
-----------
``x[institution, j]`` (binary) opens an elderly institution at candidate ``j`` with
``beds_new[j]`` beds, ``nursing_new[j]`` of them nursing-type.  It serves elderly care
like a community station (its reach is ``cover['institution']``, by default the elderly
reach), occupies its building alone (no other kind at the same site) and is public
(公办/公建民营).  For each district ``d`` with the target in its table:

* **public beds** (task 4: 「公办养老机构床位数达到本辖区老年人口的1%」):
  ``sum_j in d beds_new[j] x_i[j] >= beds_share x pop_60plus[d] - existing_public_beds[d]``;
* **nursing-bed share** (二, task 6: 「养老机构护理型床位占比不低于60%」), over every
  institution bed of the district, any ownership, new ones included:
  ``existing_nursing + sum nursing_new x_i >= share x (existing_beds + sum beds_new x_i)``,
  i.e. ``sum (nursing_new - share x beds_new) x_i >= share x existing_beds -
  existing_nursing``;
* **demonstration home** (task 4: 「每个区县(开发区)至少建成(运营)1所公办示范性养老院」):
  ``sum_j in d, demonstration_new[j] x_i[j] >= min_demonstration - existing_demonstration``.

A row is added only where the district falls short today (the nursing share also where
an institution below the share could be opened: it would lower the share); where the
candidates cannot
close the gap the shortfall is explained before any solve (a
:class:`~carecircle.siting.result.TargetIssue`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from carecircle.siting.problem import ceil_count, target_active
from carecircle.siting.result import TargetIssue

if TYPE_CHECKING:
    from carecircle.siting.model import _Draft

#: The bed targets: (target switch, tag name).
BED_TARGETS = (("beds", "public_beds"), ("nursing", "nursing_share"),
               ("demonstration", "demonstration_home"))


def bed_need(b: _Draft) -> None:
    """Per district: public beds, nursing beds (net of the share) and demonstration homes
    still needed; the district's institution candidates get a role (kept by the reduction).

    Parameters
    ----------
    b
        The model under construction.
    """
    P = b.P
    for d in b.districts:
        in_d = P.candidate_district == d
        share = P.target(d, "beds_share")
        if target_active(b.targets, "beds") and share is not None:
            need = share * (P.target(d, "pop_60plus") or 0.0) - (
                P.target(d, "existing_public_beds") or 0.0)
            if need > 1e-9:
                b.bed_need[d] = need
                b.role["institution"] |= in_d & (P.beds_new > 0)
        nshare = P.target(d, "nursing_share")
        if target_active(b.targets, "nursing") and nshare is not None:
            need = nshare * (P.target(d, "existing_beds") or 0.0) - (
                P.target(d, "existing_nursing_beds") or 0.0)
            coef = P.nursing_new - nshare * P.beds_new
            # a district meeting the share today still gets the row when an institution
            # below the share could be opened there (for beds, say): it would lower it
            below = (in_d & P.can_host["institution"] & (coef < -1e-9)).any()
            if need > 1e-9 or below:
                b.nursing_need[d] = need
            if need > 1e-9:
                b.role["institution"] |= in_d & (coef > 0)
        mn = P.target(d, "min_demonstration")
        if target_active(b.targets, "demonstration") and mn is not None:
            need_n = ceil_count(mn - (P.target(d, "existing_demonstration") or 0.0))
            if need_n > 0:
                b.demo_need[d] = need_n
                b.role["institution"] |= in_d & P.demonstration_new


def bed_rows(b: _Draft, d: Any) -> None:
    """The district's bed rows (public beds, nursing share, demonstration home).

    Parameters
    ----------
    b
        The model under construction.
    d
        A district label.
    """
    P = b.P
    cols = b.var["institution"][P.candidate_district[b.var["institution"]] == d]
    pos = b.pos["institution"][cols]
    if d in b.bed_need:
        _row(b, d, "public_beds", b.bed_need[d], pos, P.beds_new[cols],
             "public bed(s) 公办床位", "公办养老机构床位数")
    if d in b.nursing_need:
        share = P.target(d, "nursing_share") or 0.0
        coef = P.nursing_new[cols] - share * P.beds_new[cols]
        # an institution below the share lowers it: its coefficient is negative
        good = np.abs(coef) > 1e-9
        _row(b, d, "nursing_share", b.nursing_need[d], pos[good], coef[good],
             f"nursing-type bed(s) above {share:.0%} of the beds 护理型床位", "护理型床位占比")
    if d in b.demo_need:
        ok = P.demonstration_new[cols]
        _row(b, d, "demonstration_home", float(b.demo_need[d]), pos[ok], np.ones(int(ok.sum())),
             "public demonstration home(s) 公办示范性养老院", "公办示范性养老院")


def _row(b: _Draft, d: Any, target: str, need: float, pos: np.ndarray, coef: np.ndarray,
         what: str, zh: str) -> None:
    """``coef . x_i >= need``, explained up front when even every candidate falls short."""
    most = float(coef[coef > 0].sum())
    if most + 1e-9 < need:
        b.pre.targets.append(TargetIssue(
            d, target, "institution", need, most,
            f"district {d}: needs {need:,.1f} more {what}, but all allowed institution "
            f"candidates together add at most {most:,.1f} 区县 {d} {zh}无法达标: "
            f"需新增 {need:,.1f}, 最多 {most:,.1f}"))
    if len(pos):
        tag = {"type": "target", "target": target, "kind": "institution", "district": d,
               "need": float(need)}
        b.rows.row(pos, coef.astype(float), float(need), np.inf, tag=tag)
