"""The demo's and the central-Xi'an example's tables, byte for byte, against stored digests.

A refactoring must not change a single table byte; a change of behaviour must show up
here and be accepted on purpose.  After a deliberate change, refresh the digests with::

    .venv/bin/python tests/test_golden.py --update

and commit ``tests/golden/*.sha256`` together with the change that explains them.  The
tables are the CSV and XLSX files of ``carecircle run``; the HTML (folium's random element
ids) and ``validation.txt`` (paths, solver seconds) are left out.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
#: Run name -> the conftest fixture giving its scenario (skipping without its data).
FIXTURES = {"demo": "demo_scenario", "xian-central": "xian_example"}


def run_digests(scenario: Path, out: Path) -> dict[str, str]:
    """sha256 of every table a ``carecircle run`` of ``scenario`` writes into ``out``."""
    cmd = [sys.executable, "-m", "carecircle.cli", "-q", "run", str(scenario), "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.iterdir()) if p.suffix in (".csv", ".xlsx")}


def read_golden(name: str) -> dict[str, str]:
    lines = (GOLDEN / f"{name}.sha256").read_text(encoding="utf-8").splitlines()
    return {f: h for h, f in (line.split("  ", 1) for line in lines if line.strip())}


def write_golden(name: str, digests: dict[str, str]) -> None:
    GOLDEN.mkdir(exist_ok=True)
    text = "".join(f"{h}  {f}\n" for f, h in sorted(digests.items()))
    (GOLDEN / f"{name}.sha256").write_text(text, encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_tables_are_byte_identical_to_the_golden_digests(name, tmp_path, request):
    scenario = request.getfixturevalue(FIXTURES[name])
    got = run_digests(scenario, tmp_path / name)
    want = read_golden(name)
    changed = sorted(f for f in set(got) | set(want) if got.get(f) != want.get(f))
    assert not changed, (
        f"{name}: tables changed: {changed}. If the change is intended, run "
        "`.venv/bin/python tests/test_golden.py --update` and commit the new digests.")


if __name__ == "__main__":
    import tempfile

    if sys.argv[1:] != ["--update"]:
        raise SystemExit("usage: python tests/test_golden.py --update")
    runs = {"demo": ROOT / "data" / "demo" / "scenario.toml",
            "xian-central": ROOT / "examples" / "xian-central" / "scenario.toml"}
    with tempfile.TemporaryDirectory() as tmp:
        for run_name, scenario in runs.items():
            write_golden(run_name, run_digests(scenario, Path(tmp) / run_name))
            print(f"wrote tests/golden/{run_name}.sha256")
