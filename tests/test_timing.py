"""Stage bars: shown after the delay with the time left, silent when quiet or short."""

from __future__ import annotations

import time

import pytest

from carecircle.runs import timing
from carecircle.runs.timing import SIZE_RULE, StageTimer


@pytest.fixture
def fast_bars(monkeypatch):
    monkeypatch.setattr(timing, "BAR_DELAY_S", 0.2)


def _bar_text(err: str) -> str:
    return err.replace("\r", "\n")


def test_a_long_stage_shows_a_bar_with_the_time_left(fast_bars, capsys):
    timer = StageTimer(progress=True)
    timer.nodes = 100_000
    with timer.stage("coverage 现状评估"):
        time.sleep(0.8)
    err = _bar_text(capsys.readouterr().err)
    a, b = SIZE_RULE["coverage"]
    assert "coverage 现状评估:" in err
    assert f"/{a + b:.0f} s [" in err  # against the size rule's estimate for 100,000 nodes
    assert "<00:0" in err  # tqdm's remaining time
    assert len(timer.stages) == 1 and timer.stages[0].wall_s >= 0.8


def test_short_stages_and_quiet_runs_show_nothing(fast_bars, capsys):
    timer = StageTimer(progress=True)
    with timer.stage("plan 选址规划"):
        time.sleep(0.05)
    quiet = StageTimer(progress=False)
    quiet.nodes = 10
    with quiet.stage("plan 选址规划"):
        time.sleep(0.5)
    assert capsys.readouterr().err == ""


def test_a_stage_longer_than_its_estimate_says_so(fast_bars, capsys, tmp_path):
    record = tmp_path / "stage-times.json"
    first = StageTimer(record=record, scenario="s")
    first.nodes = 1000
    with first.stage("outputs 输出"):
        pass
    first.save()
    timer = StageTimer(progress=True, record=record, scenario="s")
    timer.nodes = 1000
    assert timer.estimate("outputs 输出") == pytest.approx(max(first.stages[0].wall_s, 0.1), abs=0.01)
    with timer.stage("outputs 输出"):
        time.sleep(0.8)
    assert "longer than estimated" in _bar_text(capsys.readouterr().err)


def test_estimates_come_from_the_last_run_scaled_by_the_network(tmp_path):
    record = tmp_path / "cache" / "stage-times.json"
    timer = StageTimer(record=record, scenario="/x/a")
    assert timer.estimate("plan 选址规划") is None  # no run, no size yet
    timer.nodes = 200_000
    a, b = SIZE_RULE["plan"]
    assert timer.estimate("plan 选址规划") == pytest.approx(a + 2 * b)
    timer.stages.append(timing.Stage("plan 选址规划", 12.0, 5.0, 100.0))
    timer.save()
    again = StageTimer(record=record, scenario="/x/a")
    again.nodes = 400_000
    assert again.estimate("plan 选址规划") == pytest.approx(24.0)
    assert StageTimer(record=record, scenario="/x/b").estimate("plan 选址规划") is None
    record.write_text("not json", encoding="utf-8")
    assert StageTimer(record=record, scenario="/x/a").estimate("validate 校验") is None
