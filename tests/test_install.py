"""Installed like any Python package: a wheel built from the project, installed into a fresh
virtual environment, runs ``carecircle demo`` in a folder outside the checkout.

Offline and fast: the wheel is built without build isolation (setuptools >= 77, a test
extra, must be in this environment), installed with ``--no-deps --no-index``, and the new
environment sees this one's third-party packages through a ``.pth`` line (their paths,
never this checkout's ``src``).  The demo city is generated on first use into the data
folder, and the run's tables must equal the golden digests of ``data/demo``'s run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _setuptools_ok() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    major = int(setuptools.__version__.split(".")[0])
    return major >= 77


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "XDG_DATA_HOME", "CARECIRCLE_DEMO_DIR", "VIRTUAL_ENV")}
    env.update(HOME=str(home), CARECIRCLE_CACHE_DIR=str(home / "cache"),
               NUMBA_CACHE_DIR=str(home / "numba"), PIP_NO_INDEX="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def _run(cmd: list, cwd: Path, env: dict[str, str], timeout: int = 900) -> str:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"{cmd}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if not _setuptools_ok():
        pytest.skip("building the wheel offline needs setuptools >= 77 in this environment "
                    "(the test extra: pip install 'carecircle[test]')")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "project"  # a clean copy: the build never writes into the checkout
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "src", src / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.nbi", "*.nbc"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-w", tmp / "dist", src], tmp, _env(tmp))
    (built,) = (tmp / "dist").glob("carecircle-*.whl")
    return built


def test_the_wheel_holds_the_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for member in ("carecircle/data/profiles/xian-2023.toml",
                   "carecircle/data/profiles/neutral.toml", "carecircle/data/subsidies.csv",
                   "carecircle/data/major_projects.csv", "carecircle/outputs/templates/briefing.html",
                   "carecircle/cli.py", "carecircle/runs/demo.py"):
        assert member in names, member
    assert not any(n.startswith(("data/", "tests/", "src/")) for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "carecircle = carecircle.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_carecircle_demo_runs_from_an_installed_wheel_outside_the_checkout(wheel, tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = _env(home)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path, env)
    py = venv / "bin" / "python"
    purelib = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        tmp_path, env).strip())
    # this environment's third-party packages (not carecircle: it is installed editable here,
    # and a .pth path line does not run the editable finder)
    here = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (purelib / "_deps.pth").write_text("\n".join(sorted(here)) + "\n", encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index",
          wheel], tmp_path, env)
    where = _run([py, "-c", "import carecircle; print(carecircle.__file__)"], work, env)
    assert where.strip().startswith(str(purelib)), where
    assert str(REPO) not in where

    exe = venv / "bin" / "carecircle"
    out = _run([exe, "-q", "demo"], work, env)
    data = home / ".local" / "share" / "carecircle" / "demo-city"
    assert f"Demo city 示范城区: {data}" in out
    assert (data / "scenario.toml").is_file() and (data / "network.osm").is_file()
    maps = work / "maps" / "demo"
    for name in ("briefing.html", "map.html", "map.png", "communities.csv", "sites.csv",
                 "districts.xlsx", "validation.txt"):
        assert (maps / name).is_file(), name
    # the same tables as the checkout's demo (the generator writes the same bytes)
    golden = dict(line.split("  ")[::-1] for line in
                  (REPO / "tests" / "golden" / "demo.sha256").read_text().splitlines() if line)
    for name, digest in golden.items():
        assert hashlib.sha256((maps / name).read_bytes()).hexdigest() == digest, name
    # --out and --data elsewhere; the generated city is reused, not rewritten
    stamp = (data / ".carecircle-demo").stat().st_mtime_ns
    _run([exe, "-q", "demo", "--out", tmp_path / "elsewhere"], work, env)
    assert (tmp_path / "elsewhere" / "briefing.html").is_file()
    assert (data / ".carecircle-demo").stat().st_mtime_ns == stamp


def test_the_demo_city_is_generated_on_first_use(tmp_path, monkeypatch):
    from carecircle.runs.pipeline import DEMO_ENV, demo_data_dir, demo_scenario_path

    monkeypatch.setenv(DEMO_ENV, str(tmp_path / "city"))
    assert demo_data_dir() == tmp_path / "city"
    path = demo_scenario_path(demo_data_dir())
    assert path == tmp_path / "city" / "scenario.toml"
    for f in sorted((REPO / "data" / "demo").iterdir()):  # the checkout's bytes
        assert (tmp_path / "city" / f.name).read_bytes() == f.read_bytes(), f.name
    stamp = tmp_path / "city" / ".carecircle-demo"
    before = path.stat().st_mtime_ns
    demo_scenario_path(tmp_path / "city")  # current: not rewritten
    assert path.stat().st_mtime_ns == before
    stamp.write_text("carecircle 0.0.1, seed 1\n", encoding="utf-8")  # made by another version
    path.write_text("stale", encoding="utf-8")
    demo_scenario_path(tmp_path / "city")
    assert path.read_bytes() == (REPO / "data" / "demo" / "scenario.toml").read_bytes()
    # from a checkout the checkout's own data is used
    assert demo_scenario_path() == REPO / "data" / "demo" / "scenario.toml"
