"""Outputs never touch a file carecircle did not write; signals; CSV formulas; numba's cache.

The manifest rules of :mod:`carecircle.atomic`, SIGTERM and SIGKILL in the middle of
staging, spreadsheet formulas in CSV cells, an uncachable numba, a budget below the
district targets, and a network in pieces through a whole ``assess`` run (issue 15).
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from carecircle.atomic import (
    MANIFEST_NAME,
    OutputConflictError,
    StagedOutputs,
    publish_file,
    read_manifest,
    remove_stale_staging,
)
from carecircle.cli import main
from carecircle.outputs.tables import csv_safe, write_csv
from carecircle.outputs.write import write_run
from safety_cases import City, folder_digest
from test_maps import synthetic_run

SRC = Path(__file__).resolve().parents[1] / "src"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SRC)}


# ---------------------------------------------------------------- the manifest


def test_a_users_file_with_an_output_like_name_survives_a_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_run(synthetic_run(tmp_path), out)
    mine = {"cost_estimates_2024.csv": "my own estimates", "sites_old.xlsx": "x", "notes.txt": "n"}
    for name, text in mine.items():
        (out / name).write_text(text, encoding="utf-8")
    write_run(synthetic_run(tmp_path, with_plan=False), out)  # an assessment: no sites, no costs
    for name, text in mine.items():
        assert (out / name).read_text(encoding="utf-8") == text
    assert not (out / "sites.csv").exists() and not (out / "cost_total.csv").exists()
    assert set(read_manifest(out)) == {p.name for p in out.iterdir()} - set(mine) - {MANIFEST_NAME}


def test_a_file_carecircle_did_not_write_is_never_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "communities.csv").write_text("the user's own table", encoding="utf-8")
    before = folder_digest(out)
    with pytest.raises(OutputConflictError, match="communities.csv"):
        write_run(synthetic_run(tmp_path), out)
    assert folder_digest(out) == before  # nothing published, no staging folder left
    assert [p.name for p in out.iterdir()] == ["communities.csv"]


def test_a_folder_holding_an_input_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "data"
    out.mkdir()
    (out / "communities.csv").write_text("input", encoding="utf-8")
    calls = []
    with (pytest.raises(OutputConflictError, match="holds an input"),
          StagedOutputs(out, protect=[out / "communities.csv"])):
        calls.append("work")
    assert not calls and [p.name for p in out.iterdir()] == ["communities.csv"]


def test_owners_leave_each_others_files_alone(tmp_path: Path) -> None:
    out = tmp_path / "out"
    publish_file(out / "pairs.csv", lambda p: p.write_text("a"), owner="reach")
    with StagedOutputs(out, owner="run") as st:
        st.path("map.html").write_text("m")
    with StagedOutputs(out, owner="run") as st:  # the run again, writing something else
        st.path("briefing.html").write_text("b")
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST_NAME, "briefing.html", "pairs.csv"])
    assert read_manifest(out) == {"briefing.html": "run", "pairs.csv": "reach"}
    publish_file(out / "pairs.csv", lambda p: p.write_text("b"), owner="reach")  # its own: replaced
    assert (out / "pairs.csv").read_text() == "b"


def test_a_damaged_manifest_protects_everything(tmp_path: Path) -> None:
    out = tmp_path / "out"
    publish_file(out / "pairs.csv", lambda p: p.write_text("a"), owner="reach")
    (out / MANIFEST_NAME).write_text('{"files": {"../../etc/passwd": "run"', encoding="utf-8")
    assert read_manifest(out) == {}
    with pytest.raises(OutputConflictError):
        publish_file(out / "pairs.csv", lambda p: p.write_text("b"), owner="reach")
    assert (out / "pairs.csv").read_text() == "a"


def test_a_manifest_entry_outside_the_folder_is_ignored(tmp_path: Path) -> None:
    out = tmp_path / "out"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep", encoding="utf-8")
    out.mkdir()
    (out / MANIFEST_NAME).write_text('{"files": {"../victim.txt": "run", "/etc/x": "run"}}')
    with StagedOutputs(out, owner="run") as st:
        st.path("a.txt").write_text("a")
    assert victim.read_text(encoding="utf-8") == "keep"


# ---------------------------------------------------------------- signals

STAGE_AND_WAIT = textwrap.dedent("""
    import sys, time
    from carecircle.atomic import StagedOutputs, TerminatedError
    try:
        with StagedOutputs(sys.argv[1]) as st:
            st.path("half.txt").write_text("half-written")
            print("staged", flush=True)
            time.sleep(60)
    except TerminatedError:
        sys.exit(143)
""")


def _staged_child(out: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", STAGE_AND_WAIT, str(out)], env=_env(),
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "staged"
    assert list(out.glob(".staging-*"))
    return child


def test_sigterm_while_staging_removes_the_staging_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    child = _staged_child(out)
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == 143
    assert list(out.iterdir()) == []


def test_a_killed_runs_staging_folder_is_removed_by_the_next_writer(tmp_path: Path) -> None:
    out = tmp_path / "out"
    child = _staged_child(out)
    child.kill()  # SIGKILL: nothing can clean up
    child.wait(timeout=30)
    stale = list(out.glob(".staging-*"))
    assert len(stale) == 1
    live = out / f".staging-{os.getpid()}-mine"  # a live process's staging stays
    live.mkdir()
    with StagedOutputs(out) as st:
        st.path("a.txt").write_text("a")
    assert not stale[0].exists() and live.exists()
    assert remove_stale_staging(out) == []


def test_the_cli_ends_on_sigterm_like_on_ctrl_c(tmp_path: Path) -> None:
    code = textwrap.dedent("""
        import sys, time
        import carecircle.cli as cli
        def slow(args):
            print("ready", flush=True)
            time.sleep(60)
        cli._cmd_validate = slow
        sys.exit(cli.main(["validate", "x.toml"]))
    """)
    child = subprocess.Popen([sys.executable, "-c", code], env=_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 143 and "terminated" in err and "Traceback" not in err


# ---------------------------------------------------------------- CSV cells


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ('=HYPERLINK("http://evil","click")', '\'=HYPERLINK("http://evil","click")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
        ("\t=1+1", "'\t=1+1"),
        ("-5", "-5"),          # a plain number stays a number
        ("长丰西社区", "长丰西社区"),
        ("a=b", "a=b"),
    ],
)
def test_csv_text_cells_never_open_as_formulas(tmp_path: Path, text: str, written: str) -> None:
    assert csv_safe(text) == written
    path = write_csv(pd.DataFrame({"name": [text], "n": [1]}), tmp_path / "t.csv")
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[1][0] == written


def test_a_community_named_as_a_formula_is_text_in_the_run_tables(tmp_path: Path) -> None:
    run = synthetic_run(tmp_path)
    run.communities.loc[run.communities.index[0], "name"] = '=HYPERLINK("http://x","y")'
    out = tmp_path / "out"
    write_run(run, out)
    text = (out / "communities.csv").read_text(encoding="utf-8-sig")
    assert '\'=HYPERLINK(""http://x"",""y"")' in text
    assert ',=HYPERLINK' not in text


# ---------------------------------------------------------------- numba's cache


def test_kernels_run_when_no_cache_folder_is_writable(tmp_path: Path) -> None:
    """A read-only install and no writable home: numba runs uncached instead of crashing."""
    pkg = tmp_path / "site"
    shutil.copytree(SRC / "carecircle", pkg / "carecircle",
                    ignore=shutil.ignore_patterns("__pycache__"))
    # A file where numba wants its cache folders: unwritable even for root.
    (pkg / "carecircle" / "network" / "__pycache__").write_text("")
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    code = textwrap.dedent("""
        import numpy as np
        from carecircle.network import _kernels as k
        hd, hn = np.zeros(4), np.zeros(4, dtype=np.int64)
        n = k._push(hd, hn, 0, 2.5, 7)
        print(n, hd[0], hn[0])
    """)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(PYTHONPATH=str(pkg), HOME=str(blocked), XDG_CACHE_HOME=str(blocked),
               PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "2.5", "7"]


# ---------------------------------------------------------------- whole runs


@pytest.mark.slow
def test_a_budget_below_the_targets_names_the_budget(tmp_path: Path, capsys) -> None:
    city = City.copy(tmp_path / "city")
    city.set("plan.mode", "budget")
    city.set("plan.budget_yuan", 1000)
    city.set("plan.district_targets", True)
    before = folder_digest(city.folder)
    code = main(["-q", "plan", str(city.path)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "the budget 1,000 is too small for the district targets: meeting them costs" in err
    assert "candidates together add at most" not in err
    assert folder_digest(city.folder) == before


@pytest.mark.slow
def test_a_network_in_pieces_never_says_ok_on_part_of_the_communities(tmp_path: Path, capsys) -> None:
    from test_safety_inputs import _cut_network

    city = City.copy(tmp_path / "city")
    _cut_network(city)
    assert main(["-q", "assess", str(city.path)]) == 0
    out = capsys.readouterr().out
    assert "?" in out and "not assessed" in out
    folder = city.folder / "out"
    table = pd.read_csv(folder / "districts.csv", encoding="utf-8-sig")
    status = table["现状达标情况 Status today"]
    missing = table["未评估社区数(不在路网上) Communities not assessed (not on the network)"]
    assert (missing > 0).any() and (status == "incomplete").any()
    # a share with communities not assessed passes only if it passes with none of them served
    for _, r in table[(missing > 0) & (status == "pass")].iterrows():
        assert r["现状值 Value today"] >= r["目标值 Target"]
    briefing = (folder / "briefing.html").read_text(encoding="utf-8")
    assert briefing.index("未评估") < briefing.index("接入路网的社区")
    validation = (folder / "validation.txt").read_text(encoding="utf-8")
    assert "the walking network is in" in validation
