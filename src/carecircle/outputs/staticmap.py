"""The static plan map (PNG) for slides and print, drawn with matplotlib via geopandas.

It shows what the interactive map shows by default: the run's streets (its walking
network, in light grey), districts coloured by their share of failed indicators, communities by service status (after the plan when there is
one) sized by population, existing facilities by kind with those below the
floor-area standard ringed in red, and proposed sites; a bilingual legend, a north
arrow and a scale bar.  The layers are drawn in the run's metric CRS, so the scale
bar is exact.

Chinese text needs a CJK font.  One is looked up among matplotlib's fonts, then with
fontconfig, then at the usual Debian paths (packages ``fonts-noto-cjk`` or
``fonts-wqy-microhei``).  Without one, the map is drawn with the English half of
every label and a warning says which package to install.  Nothing global is changed:
the figure is a bare :class:`matplotlib.figure.Figure` (no pyplot state) and fonts are
passed per text.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, fontManager
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from carecircle.atomic import write_atomic
from carecircle.errors import CarecircleWarning
from carecircle.outputs.results import STATUS_LABELS, RunOutputs
from carecircle.outputs.style import (
    DISTRICT_CLASSES,
    KIND_COLOURS,
    KIND_LABELS,
    NO_DATA_COLOUR,
    NO_DATA_LABEL,
    SITE_COLOURS,
    STATUS_COLOURS,
    STREET_COLOUR,
    SUBSTANDARD_COLOUR,
    below_standard,
    district_class,
    district_scores,
    site_kind,
)

CJK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
    "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK JP", "Noto Sans CJK TC",
    "Microsoft YaHei", "SimHei", "PingFang SC", "Hiragino Sans GB", "Heiti SC",
    "Arial Unicode MS",
)
CJK_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
CJK_PACKAGE = "fonts-noto-cjk or fonts-wqy-microhei"
_CJK_RE = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+")


def find_cjk_font() -> Path | None:
    """A font file that can draw Chinese, or ``None``.

    Looks among matplotlib's known fonts, then asks fontconfig (``fc-list :lang=zh``),
    then tries the Debian paths of ``fonts-noto-cjk`` and ``fonts-wqy-microhei``.
    (fontconfig is asked because matplotlib caches its font list: a font installed
    after that cache was built is otherwise invisible.)
    """
    by_name = {f.name: f.fname for f in fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in by_name and Path(by_name[family]).is_file():
            return Path(by_name[family])
    if shutil.which("fc-list"):
        try:
            out = subprocess.run(["fc-list", ":lang=zh", "file", "family"], capture_output=True,
                                 text=True, timeout=20, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        files: dict[str, str] = {}
        # Regular weights first: the first file seen for a family wins.
        lines = sorted(out.splitlines(), key=lambda ln: ("bold" in ln.lower(), ln))
        for line in lines:
            file, _, fams = line.partition(":")
            for fam in fams.split(","):
                files.setdefault(fam.strip(), file.strip())
        for family in CJK_FAMILIES:
            if family in files and Path(files[family]).is_file():
                return Path(files[family])
        regular = sorted(f for f in files.values() if "bold" not in f.lower() and Path(f).is_file())
        if regular:
            return Path(regular[0])
    for p in CJK_PATHS:
        if Path(p).is_file():
            return Path(p)
    return None


def latin_only(text: str) -> str:
    """The label without its Chinese part (for when no CJK font is available)."""
    out = re.sub(r"\s+", " ", _CJK_RE.sub(" ", text)).strip(" —-:()")
    return out or text


class Fonts:
    """Font properties for one drawing: CJK when available, else English labels only."""

    def __init__(self, cjk: Path | None):
        self.cjk = cjk

    def prop(self, size: float, weight: str = "normal") -> FontProperties:
        """Font properties for a text of this drawing.

        Parameters
        ----------
        size
            Size in points.
        weight
            ``"normal"`` or ``"bold"`` (a CJK font's bold sibling file when there is one).

        Returns
        -------
        matplotlib.font_manager.FontProperties
        """
        if self.cjk is None:
            return FontProperties(size=size, weight=weight)
        path = self.cjk
        if weight == "bold" and "Regular" in path.name:
            # A font file has one weight: use the sibling bold file when there is one.
            bold = path.with_name(path.name.replace("Regular", "Bold"))
            path = bold if bold.is_file() else path
        return FontProperties(fname=str(path), size=size)

    def label(self, text: str) -> str:
        return text if self.cjk is not None else latin_only(text)


def _nice_length(span_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 x 10^k metres) near a fifth of ``span_m``."""
    target = max(span_m / 5.0, 1.0)
    k = 10 ** math.floor(math.log10(target))
    return max(m * k for m in (1, 2, 5) if m * k <= target)


def _scale_bar(ax: Any, fonts: Fonts) -> None:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    ax.set_xlim(x0, x1)  # freeze the limits: the bar must not widen the view
    ax.set_ylim(y0, y1)
    length = _nice_length(x1 - x0)
    bx, by = x0 + 0.03 * (x1 - x0), y0 + 0.025 * (y1 - y0)
    h = 0.008 * (y1 - y0)
    half = length / 2
    for i, colour in enumerate(("#000", "#fff")):
        ax.fill([bx + i * half, bx + (i + 1) * half, bx + (i + 1) * half, bx + i * half],
                [by, by, by + h, by + h], facecolor=colour, edgecolor="#000", linewidth=0.8,
                zorder=10)
    text = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(bx + length / 2, by + 2.2 * h, text, ha="center", va="bottom", zorder=10,
            fontproperties=fonts.prop(8), parse_math=False)


def _fit(ax: Any, run: RunOutputs) -> None:
    """Limits: what was assessed (see :func:`carecircle.outputs.style.study_bounds`), else the districts
    (else communities), plus a margin that holds the scale bar."""
    from carecircle.outputs.style import study_bounds

    b = study_bounds(run)
    if b is None:
        layers = run.inputs.layers if run.inputs is not None else {}
        base = layers.get("districts")
        if base is None or not len(base):
            base = run.communities
        if base is None or not len(base):
            return
        x0, y0, x1, y1 = (float(v) for v in base.total_bounds)
    else:
        x0, y0, x1, y1 = b
    pad = 0.07 * max(x1 - x0, y1 - y0, 1.0)
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)


def _north_arrow(ax: Any, fonts: Fonts) -> None:
    ax.annotate("", xy=(0.96, 0.96), xytext=(0.96, 0.88), xycoords="axes fraction",
                arrowprops={"facecolor": "black", "width": 3, "headwidth": 10}, zorder=10)
    ax.text(0.96, 0.965, fonts.label("北 N"), transform=ax.transAxes, ha="center", va="bottom",
            fontproperties=fonts.prop(9, "bold"), zorder=10, parse_math=False)


def _streets(ax: Any, run: RunOutputs) -> list[Any]:
    """The walking network in light grey, as one path (NaN between streets): a city's
    1.4 M edges draw in a second or two where a LineCollection takes far longer."""
    import shapely

    from carecircle.outputs.style import study_bounds

    net = run.network
    if net is None or not getattr(net, "n_edges", 0):
        return []
    xy, gi = shapely.get_coordinates(net.edge_geometry, return_index=True)
    b = study_bounds(run)
    if b is not None:  # the streets of the part of the city the map shows
        inside = (xy[:, 0] >= b[0]) & (xy[:, 0] <= b[2]) & (xy[:, 1] >= b[1]) & (xy[:, 1] <= b[3])
        keep = np.zeros(int(gi.max(initial=-1)) + 1, dtype=bool)
        keep[gi[inside]] = True
        xy, gi = xy[keep[gi]], gi[keep[gi]]
    if not len(xy):
        return []
    breaks = np.flatnonzero(gi[1:] != gi[:-1]) + 1
    (line,) = ax.plot(np.insert(xy[:, 0], breaks, np.nan), np.insert(xy[:, 1], breaks, np.nan),
                      color=STREET_COLOUR, linewidth=0.4, zorder=1.5, solid_capstyle="round")
    # streets run past the view: they must not widen the "tight" picture
    line.set_in_layout(False)
    return [Line2D([], [], color=STREET_COLOUR, linewidth=1.2, label="街道 Streets")]


def draw_plan(run: RunOutputs, ax: Any, fonts: Fonts) -> list[Any]:
    """Draw the plan on ``ax`` (metric CRS).

    Parameters
    ----------
    run
        The run's outputs.
    ax
        A matplotlib ``Axes``.
    fonts
        The drawing's fonts.

    Returns
    -------
    list
        The legend handles.
    """
    layers = run.inputs.layers if run.inputs is not None else {}
    handles: list[Any] = []
    districts = layers.get("districts")
    table = run.districts_after if run.districts_after is not None and len(run.districts_after) \
        else run.districts_before
    if districts is not None and len(districts):
        scores = district_scores(table)
        share = [scores["share_failed"].get(str(c), np.nan) if len(scores) else np.nan
                 for c in districts["code"]]
        colours = [district_class(s)[0] for s in share]
        districts.plot(ax=ax, color=colours, alpha=0.45, edgecolor="none", zorder=1)
        districts.boundary.plot(ax=ax, color="#333", linewidth=1.0, zorder=2)
        for (_, d) in districts.iterrows():
            p = d.geometry.representative_point()
            name = str(d.get("name", d.get("code", "")))
            if fonts.cjk is None and _CJK_RE.search(name):
                name = str(d.get("code", ""))
            label = ax.text(p.x, p.y, name, ha="center", va="center", fontproperties=fonts.prop(8),
                            color="#222", alpha=0.8, zorder=3, parse_math=False, clip_on=True)
            # a district far outside the study area keeps its label off the picture: a
            # label outside the view would otherwise widen the "tight" figure to reach it
            label.set_in_layout(False)
        when = "规划后 after plan" if table is not run.districts_before else "现状 today"
        handles.append(Patch(visible=False, label=fonts.label(f"区县未达标指标比例({when}) "
                                                              "Districts, share failed")))
        handles += [Patch(facecolor=c, alpha=0.6, edgecolor="#333", label=fonts.label(lab))
                    for _, c, lab in DISTRICT_CLASSES]
        handles.append(Patch(facecolor=NO_DATA_COLOUR, alpha=0.6, edgecolor="#333",
                             label=fonts.label(NO_DATA_LABEL)))
    handles += [Line2D([], [], color=h.get_color(), linewidth=1.2, label=fonts.label(h.get_label()))
                for h in _streets(ax, run)]
    for name in sorted(run.isochrones):
        if name.startswith("proposed") and len(run.isochrones[name]):
            run.isochrones[name].plot(ax=ax, color=SITE_COLOURS["both"], alpha=0.08,
                                      edgecolor=SITE_COLOURS["both"], linewidth=0.5, zorder=4)
    comm = run.communities
    col = "status_after" if "status_after" in comm.columns else "status"
    if len(comm):
        pop = comm["population"].astype(float).fillna(0).clip(lower=0).to_numpy() \
            if "population" in comm else np.ones(len(comm))
        top = pop.max() if pop.max() > 0 else 1.0
        sizes = 8 + 110 * pop / top
        xs, ys = comm.geometry.representative_point().x, comm.geometry.representative_point().y
        ax.scatter(xs, ys, s=sizes, c=[STATUS_COLOURS.get(str(s), "#969696") for s in comm[col]],
                   edgecolors="#333", linewidths=0.4, zorder=5)
        when = "规划后 after plan" if col == "status_after" else "现状 today"
        handles.append(Patch(visible=False, label=fonts.label(f"社区服务状态({when}) Community status")))
        handles += [Line2D([], [], marker="o", linestyle="", markerfacecolor=STATUS_COLOURS[s],
                           markeredgecolor="#333", markersize=7, label=fonts.label(STATUS_LABELS[s]))
                    for s in STATUS_COLOURS]
    fac = layers.get("facilities")
    if fac is not None and len(fac):
        low = below_standard(fac, run.scenario.standards)
        ax.scatter(fac.geometry.x, fac.geometry.y, marker="s", s=36,
                   c=[KIND_COLOURS.get(str(k), "#999") for k in fac["kind"]],
                   edgecolors=[SUBSTANDARD_COLOUR if b else "#222" for b in low],
                   linewidths=[2.0 if b else 0.6 for b in low], zorder=6)
        handles.append(Patch(visible=False, label=fonts.label("现有设施 Existing facilities")))
        handles += [Line2D([], [], marker="s", linestyle="", markerfacecolor=KIND_COLOURS[k],
                           markeredgecolor="#222", markersize=7, label=fonts.label(KIND_LABELS[k]))
                    for k in KIND_COLOURS]
        handles.append(Line2D([], [], marker="s", linestyle="", markerfacecolor="#fff",
                              markeredgecolor=SUBSTANDARD_COLOUR, markeredgewidth=2, markersize=7,
                              label=fonts.label("面积低于标准 Below floor-area standard")))
    sites = run.sites
    if sites is not None and len(sites):
        ax.scatter(sites.geometry.x, sites.geometry.y, marker="*", s=260,
                   c=[SITE_COLOURS[site_kind(k)] for k in sites["kinds"]],
                   edgecolors="#000", linewidths=0.8, zorder=7)
        handles.append(Patch(visible=False, label=fonts.label("规划场地 Proposed sites")))
        handles += [Line2D([], [], marker="*", linestyle="", markerfacecolor=SITE_COLOURS[k],
                           markeredgecolor="#000", markersize=13, label=fonts.label(lab))
                    for k, lab in (("elderly", "养老 Elderly care"), ("childcare", "托育 Childcare"),
                                   ("both", "养老+托育 Both"))]
    return handles


def write_static_map(run: RunOutputs, path: str | Path, *, dpi: int = 150,
                     figsize: tuple[float, float] = (12.0, 8.0)) -> Path:
    """Write the plan as a PNG for slides and print.

    Parameters
    ----------
    run
        The run's outputs; layers in a metric CRS (drawn as they are).
    path
        The ``.png`` file to write (atomically).
    dpi, figsize
        Resolution and size in inches (default at most 1800 x 1200 pixels; the blank
        margin around the drawing is cropped).

    Returns
    -------
    Path
        ``path``.

    Warns
    -----
    CarecircleWarning
        When no CJK font is found: labels are then drawn in English only.
    """
    cjk = find_cjk_font()
    if cjk is None:
        warnings.warn(
            f"no Chinese (CJK) font found; {Path(path).name} is drawn with English labels only. "
            f"Install one, e.g. apt-get install {CJK_PACKAGE}",
            CarecircleWarning, stacklevel=2,
        )
    fonts = Fonts(cjk)
    fig = Figure(figsize=figsize, dpi=dpi)
    ax = fig.add_axes((0.01, 0.04, 0.64, 0.86))
    handles = draw_plan(run, ax, fonts)
    ax.set_aspect("equal")
    _fit(ax, run)
    ax.set_axis_off()
    _scale_bar(ax, fonts)
    _north_arrow(ax, fonts)
    scen = run.scenario
    title = getattr(scen, "title", "") or getattr(scen, "name", "")
    minutes = getattr(getattr(scen, "walking", None), "minutes", 15.0)
    fig.text(0.01, 0.965, fonts.label(title), fontproperties=fonts.prop(14, "bold"), va="center",
             parse_math=False)
    fig.text(0.01, 0.93, fonts.label(f"{minutes:g}分钟步行养老托育服务圈 {minutes:g}-minute walk to "
                                     "elderly care and childcare"),
             fontproperties=fonts.prop(10), va="center", color="#444", parse_math=False)
    crs = getattr(run.communities, "crs", None)
    if crs is not None:
        ax.text(1.0, -0.01, fonts.label(f"坐标系 CRS: {crs.to_string()}"), transform=ax.transAxes,
                ha="right", va="top", fontproperties=fonts.prop(7), color="#666", parse_math=False)
    if handles:
        leg = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.665, 0.95),
                         frameon=True, prop=fonts.prop(8), title=fonts.label("图例 Legend"),
                         title_fontproperties=fonts.prop(10, "bold"), borderaxespad=0.0)
        for text, h in zip(leg.get_texts(), handles, strict=False):
            if isinstance(h, Patch) and not h.get_visible():
                text.set_fontproperties(fonts.prop(8.5, "bold"))
    def save(p: Path) -> None:
        from matplotlib import rc_context

        # a city's streets are one path of millions of vertices: Agg draws it in chunks
        with warnings.catch_warnings(), rc_context({"agg.path.chunksize": 20_000}):
            if cjk is None:
                # Warned once above; not once per missing glyph of a data label.
                warnings.filterwarnings("ignore", message="Glyph .* missing from font")
            # No software/date metadata: the same plan gives the same bytes.
            # "tight" crops the blank a wide or tall study area leaves around the map.
            fig.savefig(p, format="png", metadata={"Software": None}, bbox_inches="tight",
                        pad_inches=0.2)

    return write_atomic(path, save)
