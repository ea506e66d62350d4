"""Wall time, CPU time and peak memory of a run's stages: the line a run ends with.

``carecircle run`` times its stages (validate, inputs and network, coverage, plan,
outputs) with a :class:`StageTimer` and ends with one bilingual line, also written
into ``validation.txt`` (so a quiet run keeps it)::

    Stage times 各阶段用时 (wall s / CPU s / peak MB): validate 校验 3.1/3.4/410; ...

CPU time is this process's, all threads (:func:`time.process_time`): work done in
other processes (a Dask cluster) is not in it.  Peak memory is the process's
largest resident set *so far* at the end of the stage (``ru_maxrss``): it only
grows, so the stage where it jumps is the stage that needed the memory.

Progress: a stage that runs longer than two seconds shows a bar on standard error
with the time spent and the time left (``-q`` silences it).  A stage's length is not
known beforehand, so the bar runs against an **estimate**, in order of preference:

1. the same stage of the last run of the same scenario on this machine (kept in the
   cache folder, ``stage-times.json``), scaled by the size of the walking network;
2. else a rule from the network's size, fitted to ``benchmarks/city.py``'s runs
   (2026-11-28: 0.25 to the whole of Xi'an's size, CPU seconds; see
   :data:`SIZE_RULE`).

When a stage outlasts its estimate the bar says so ("longer than estimated") and
keeps counting; the estimate is a guide, never a promise.  The stages' own bars
(reading the network, the reach searches) show below it.
"""

from __future__ import annotations

import json
import re
import resource
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


#: Seconds a stage takes as ``a + b x network nodes / 100,000``, fitted to
#: ``benchmarks/city.py`` (warm runs at 0.25, 0.5 and 1.0 of Xi'an, CPU seconds),
#: keyed by the stage's first word.  Used when no earlier run of the scenario is known.
SIZE_RULE: dict[str, tuple[float, float]] = {
    "validate": (2.0, 1.0),
    "inputs+network": (1.0, 0.5),
    "coverage": (3.4, 0.46),
    "plan": (3.0, 2.6),
    "outputs": (1.6, 2.3),
}

#: A stage shows its bar once it has run this long.
BAR_DELAY_S = 2.0


def _key(name: str) -> str:
    return name.split()[0] if name.split() else name


@dataclass
class StageTimer:
    """Times the stages of a run, one after another, with a progress bar per stage.

    Parameters
    ----------
    progress
        Show a bar for each stage that lasts over :data:`BAR_DELAY_S` seconds.
    record
        A JSON file keeping the stage times of earlier runs (per ``scenario`` key),
        read for the estimates and written by :meth:`save`; ``None``: none.
    scenario
        The key of this run in ``record`` (e.g. the scenario file's path).
    """

    progress: bool = False
    record: Path | None = None
    scenario: str = ""
    stages: list[Stage] = field(default_factory=list)
    nodes: int | None = None
    _t0: float = field(default_factory=time.perf_counter)
    _c0: float = field(default_factory=time.process_time)

    def estimate(self, name: str) -> float | None:
        """Seconds stage ``name`` is expected to take (``None``: no basis yet)."""
        key = _key(name)
        last = _read_record(self.record).get(self.scenario, {})
        if key in last.get("stages", {}):
            secs = float(last["stages"][key])
            if self.nodes and last.get("nodes"):
                secs *= self.nodes / float(last["nodes"])
            return max(secs, 0.1)
        if self.nodes is None or key not in SIZE_RULE:
            return None
        a, b = SIZE_RULE[key]
        return a + b * self.nodes / 1e5

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage ``name`` (recorded even if the block raises)."""
        t, c = time.perf_counter(), time.process_time()
        bar = _StageBar(name, self.estimate(name)) if self.progress else None
        try:
            yield
        finally:
            if bar is not None:
                bar.close()
            self.stages.append(Stage(name, time.perf_counter() - t, time.process_time() - c,
                                     peak_rss_mb()))

    def save(self) -> None:
        """Keep this run's stage wall times in ``record`` for the next run's estimates."""
        if self.record is None or not self.scenario:
            return
        data = _read_record(self.record)
        data[self.scenario] = {"nodes": self.nodes,
                               "stages": {_key(s.name): round(s.wall_s, 2) for s in self.stages}}
        try:
            self.record.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.record.with_name(self.record.name + ".tmp")
            tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
            tmp.replace(self.record)
        except OSError:
            pass  # estimates are a convenience: a read-only cache folder costs only them

    def total(self) -> Stage:
        """Wall and CPU time since the timer was made, and the peak so far."""
        return Stage("total 合计", time.perf_counter() - self._t0,
                     time.process_time() - self._c0, peak_rss_mb())

    def line(self) -> str:
        """The one-line summary: each stage, then the total."""
        parts = [f"{s.name} {s.wall_s:.1f}/{s.cpu_s:.1f}/{s.peak_mb:.0f}"
                 for s in [*self.stages, self.total()]]
        return f"{LABEL} " + "; ".join(parts)


def _read_record(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class _StageBar:
    """A tqdm bar over a stage's estimated seconds, ticked by a daemon thread."""

    def __init__(self, name: str, estimate: float | None, tick_s: float = 0.25) -> None:
        from tqdm.auto import tqdm

        self._t = time.perf_counter()
        self._done = threading.Event()
        total = round(estimate, 1) if estimate else None
        self.bar = tqdm(total=total, desc=name, unit="s", delay=BAR_DELAY_S, leave=False,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s "
                                   "[{elapsed}<{remaining}]{postfix}" if total else None,
                        file=sys.stderr, dynamic_ncols=True)
        self._thread = threading.Thread(target=self._run, args=(tick_s,), daemon=True)
        self._thread.start()

    def _run(self, tick_s: float) -> None:
        while not self._done.wait(tick_s):
            elapsed = time.perf_counter() - self._t
            total = self.bar.total
            if total is not None and elapsed > total:
                self.bar.total = round(elapsed * 1.25, 1)
                self.bar.set_postfix_str("longer than estimated 超出预计", refresh=False)
            # update() (not n = ...; refresh()) so that tqdm's delay holds
            self.bar.update(round(elapsed, 1) - self.bar.n)

    def close(self) -> None:
        self._done.set()
        self._thread.join()
        self.bar.close()


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
