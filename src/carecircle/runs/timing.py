"""Wall time, CPU time and peak memory of a run's stages: the line a run ends with.

``carecircle run`` times its stages (validate, inputs and network, coverage, plan,
outputs) with a :class:`StageTimer` and ends with one bilingual line, also written
into ``validation.txt`` (so a quiet run keeps it)::

    Stage times 各阶段用时 (wall s / CPU s / peak MB): validate 校验 3.1/3.4/410; ...

CPU time is this process's, all threads (:func:`time.process_time`): work done in
other processes (a Dask cluster) is not in it.  Peak memory is the process's
largest resident set *so far* at the end of the stage (``ru_maxrss``): it only
grows, so the stage where it jumps is the stage that needed the memory.
"""

from __future__ import annotations

import re
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

#: The start of the summary line (what a benchmark looks for).
LABEL = "Stage times 各阶段用时 (wall s / CPU s / peak MB):"


def peak_rss_mb() -> float:
    """The process's peak resident set so far, in MB (``ru_maxrss``: KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


@dataclass
class Stage:
    """One timed stage."""

    name: str
    wall_s: float
    cpu_s: float
    peak_mb: float


@dataclass
class StageTimer:
    """Times the stages of a run, one after another."""

    stages: list[Stage] = field(default_factory=list)
    _t0: float = field(default_factory=time.perf_counter)
    _c0: float = field(default_factory=time.process_time)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage ``name`` (recorded even if the block raises)."""
        t, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.stages.append(Stage(name, time.perf_counter() - t, time.process_time() - c,
                                     peak_rss_mb()))

    def total(self) -> Stage:
        """Wall and CPU time since the timer was made, and the peak so far."""
        return Stage("total 合计", time.perf_counter() - self._t0,
                     time.process_time() - self._c0, peak_rss_mb())

    def line(self) -> str:
        """The one-line summary: each stage, then the total."""
        parts = [f"{s.name} {s.wall_s:.1f}/{s.cpu_s:.1f}/{s.peak_mb:.0f}"
                 for s in [*self.stages, self.total()]]
        return f"{LABEL} " + "; ".join(parts)


def parse_line(text: str) -> list[Stage]:
    """The stages of the last summary line in ``text`` (e.g. a run's ``validation.txt``).

    Parameters
    ----------
    text
        Text holding a line made by :meth:`StageTimer.line`.

    Returns
    -------
    list of Stage
        Empty when there is no such line.
    """
    lines = [ln for ln in text.splitlines() if ln.startswith(LABEL)]
    if not lines:
        return []
    out = []
    for part in lines[-1][len(LABEL):].split(";"):
        m = re.fullmatch(r"\s*(.+?) ([\d.]+)/([\d.]+)/([\d.]+)\s*", part)
        if m:
            out.append(Stage(m[1], float(m[2]), float(m[3]), float(m[4])))
    return out
