"""Tables (CSV, XLSX) and the one-page briefing of a run.

Every run leaves, in its output folder:

=====================  ==============================================================
``map.html``           the interactive map (:func:`carecircle.outputs.webmap.write_plan_map`)
``map.png``            the static map (:func:`carecircle.outputs.webmap.write_static_map`)
``communities.*``      community service status (today, and after the plan)
``districts.*``        district indicators vs targets, before and after the plan
``sites.*``            proposed sites (plans only)
``cost_<name>.*``      cost tables (plans with costing only)
``briefing.html``      page one for the joint meeting (联席会议), then the appendices
``briefing.pdf``       the same on A4, printed by headless Chromium (skipped, with a
                       warning saying why, when there is no Chromium)
``what-if.html``       switch sites on and off, see who is served (plans only;
                       :mod:`carecircle.outputs.whatif`)
``run.gpkg``           every layer of the run for QGIS/ArcGIS
                       (:mod:`carecircle.outputs.geopackage`)
=====================  ==============================================================

Tables are written twice: CSV (UTF-8 with BOM, so Excel opens Chinese correctly) and
XLSX (bilingual bold header row, frozen, with an auto-filter and column widths
computed from the content, CJK characters counted double).  Both are byte-identical
when the same run is written again: CSVs by construction; XLSX files because the
workbook's created/modified times and the zip members' times are fixed.

:func:`write_run` writes everything through :class:`~carecircle.atomic.StagedOutputs`:
a run that fails midway leaves the previous outputs untouched.

Notes on safety: every text from input data is HTML-escaped in the briefing (Jinja
autoescaping); in XLSX a text starting with ``=`` is stored as text, never as a
formula; in CSV a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return (and not a plain number) gets a leading ``'`` so that Excel opens it as text
(:func:`carecircle.outputs.tables.csv_safe`).  See ``docs/safety.md``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from carecircle.atomic import StagedOutputs, write_text_atomic
from carecircle.errors import CarecircleWarning
from carecircle.outputs.briefing import write_briefing, write_briefing_pdf
from carecircle.outputs.geopackage import FILE_NAME as GPKG_FILE
from carecircle.outputs.geopackage import write_geopackage
from carecircle.outputs.pdf import PdfUnavailable
from carecircle.outputs.results import RunOutputs
from carecircle.outputs.staticmap import write_static_map
from carecircle.outputs.tables import write_tables
from carecircle.outputs.webmap import write_plan_map
from carecircle.outputs.whatif import FILE_NAME as WHATIF_FILE
from carecircle.outputs.whatif import write_whatif

# ---------------------------------------------------------------- the whole run


def write_run(run: RunOutputs, out_dir: str | Path | None = None, *, tiles: Any = None,
              texts: Mapping[str, str] | None = None, protect: Iterable[str | Path] = (),
              basemap: Any = None, pdf: bool = True) -> list[Path]:
    """Write every output of a run: maps, tables, the briefing (HTML and PDF), the what-if
    page and the GeoPackage, all or nothing.

    Files are staged in a hidden folder inside ``out_dir`` and moved into place only
    when all were written; if anything fails, the previous outputs stay as they were.
    The folder's manifest (:mod:`carecircle.atomic`) lists what was written: outputs
    of an earlier run that this run does not produce (e.g. the ``sites`` table of a
    plan, when this run is an assessment) are removed, and no file carecircle did not
    write is ever replaced or removed.

    Parameters
    ----------
    run
        The run's outputs.
    out_dir
        The run's folder; default ``run.scenario.out_dir`` (``maps/<scenario name>``).
    tiles
        Optional tile layer for the interactive map (default none: works offline).
    texts
        More text files to publish with the run (name -> content), e.g. ``validation.txt``.
    protect
        Files no output may replace (the scenario and its inputs): a folder holding one
        is refused before anything is written.
    basemap
        The interactive map's base map (default the scenario's ``[map] basemap``).
    pdf
        Also print ``briefing.pdf``.  Without Chromium it is skipped with a
        :class:`~carecircle.errors.CarecircleWarning` saying why; the run goes on.

    Returns
    -------
    list of Path
        The final paths of every file written.
    """
    target = Path(out_dir) if out_dir is not None else Path(run.scenario.out_dir)
    with StagedOutputs(target, owner="run", protect=protect) as st:
        staged = [write_plan_map(run, st.path("map.html"), tiles=tiles, basemap=basemap),
                  write_static_map(run, st.path("map.png"))]
        staged += write_tables(run, st.dir)
        staged.append(write_briefing(run, st.dir))
        if pdf:
            try:
                staged.append(write_briefing_pdf(st.path("briefing.html"), st.path("briefing.pdf")))
            except PdfUnavailable as exc:
                warnings.warn(f"briefing.pdf skipped 未生成PDF: {exc}", CarecircleWarning, stacklevel=2)
        if run.basis is not None:
            staged.append(write_whatif(run, st.path(WHATIF_FILE)))
        staged.append(write_geopackage(run, st.path(GPKG_FILE)))
        for name, text in (texts or {}).items():
            staged.append(write_text_atomic(st.path(name), text))
        return [target / p.relative_to(st.dir) for p in staged]
