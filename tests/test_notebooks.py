"""The analysts' notebooks (``notebooks/*.ipynb``).

- They are stored without outputs, as valid nbformat 4, and import only public names of
  the library.
- Each one runs top to bottom on the demo city (nbclient, one kernel per notebook, a
  timeout per cell) in a temporary working directory, with a kernel of the interpreter
  running the tests (a kernel spec written for ``sys.executable``, so a ``python3``
  kernel installed elsewhere on the machine is never picked up).  The network cache goes
  where ``conftest.py`` sends it (``CARECIRCLE_CACHE_DIR``, inherited by the kernel).
- The executed notebooks show the demo's known figures, their maps and charts, a
  progress bar, and write nothing: neither in their working directory nor in the
  repository's ``maps/``.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
CELL_TIMEOUT_S = 300
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

# What each executed notebook must show (the demo city: 245 communities, 243 on the
# walking network, 88 served by both facilities today (villages judged at the demo's
# 20-minute rural limit, and kindergartens' 托班 counting as childcare), all 243 after the
# plan, which adds elderly institutions).
EXPECTED_TEXT = {
    "01-coverage-today.ipynb": [
        "communities 社区: 245; on the walking network 在路网上: 243; "
        "served by both today 两类均覆盖: 88",
        "Result 结果: OK 通过",
        "outside the road network's extent",
        "facilities over capacity today 现状超负荷设施",
    ],
    "02-siting-plan.ipynb": [
        "served by both 两类均覆盖: 88 today 现状 -> 243 after the plan 规划后 "
        "(of 243 on the network 在路网上)",
        "applied 已计入",
        "institution_bed_",
        "on the network 在路网上: 243; served by both after the plan 规划后两类均覆盖: 243; "
        "not served 未覆盖: 0",
        "capacitated 按容量",
    ],
    "03-scenarios-and-sensitivity.ipynb": [
        "scenarios compared 比较情景: demo, demo-budget, demo-slow, demo-no-targets",
        "speeds swept 步速: 0.8, 0.9, 1, 1.1, 1.2",
    ],
}
# The progress bar a notebook shows (tqdm's description), when it shows one.
PROGRESS = {
    "02-siting-plan.ipynb": "network network.osm",
    "03-scenarios-and-sensitivity.ipynb": "scenarios 情景",
}
# Notebooks that draw a chart (PNG) or the folium map (HTML with the community markers).
CHARTS = {"02-siting-plan.ipynb", "03-scenarios-and-sensitivity.ipynb"}
MAPS = {"01-coverage-today.ipynb"}


def code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def output_texts(nb) -> list[str]:
    """Every text a notebook's outputs show: streams, plain text, HTML, tracebacks."""
    out = []
    for cell in code_cells(nb):
        for o in cell.get("outputs", []):
            if o.output_type == "stream":
                out.append(o.text)
            elif o.output_type in ("execute_result", "display_data"):
                out += [v for k, v in o.data.items() if k.startswith("text/")]
            elif o.output_type == "error":
                out.append("\n".join(o.traceback))
    return out


def test_the_three_notebooks_are_there():
    assert [p.name for p in PATHS] == sorted(EXPECTED_TEXT)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_stored_without_outputs(path: Path):
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    assert code_cells(nb), "a notebook without code"
    for cell in code_cells(nb):
        assert cell.outputs == [], f"{path.name}: cell {cell.id} is stored with outputs"
        assert cell.execution_count is None, f"{path.name}: cell {cell.id} has an execution count"
    # No widget state or other saved run state in the metadata either.
    assert "widgets" not in nb.metadata


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_only_public_library_names(path: Path):
    nb = nbformat.read(path, as_version=4)
    for cell in code_cells(nb):
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("carecircle"):
                parts = node.module.split(".")
                assert not any(p.startswith("_") for p in parts), f"{path.name}: {node.module}"
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name}: private names {private} from {node.module}"
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("carecircle"):
                        assert not any(p.startswith("_") for p in a.name.split(".")), a.name


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory: pytest.TempPathFactory):
    """A kernel spec folder with one ``python3`` kernel: this interpreter's ipykernel."""
    from ipykernel.kernelspec import write_kernel_spec
    from jupyter_client.kernelspec import KernelSpecManager

    folder = tmp_path_factory.mktemp("kernels")
    write_kernel_spec(folder / "python3", overrides={"display_name": "carecircle tests"})
    ksm = KernelSpecManager(kernel_dirs=[str(folder)], ensure_native_kernel=False)
    spec = ksm.get_kernel_spec("python3")
    assert spec.argv[0] == sys.executable
    return ksm


def _tree_state(folder: Path) -> set[tuple[str, int]]:
    if not folder.exists():
        return set()
    return {(str(p), p.stat().st_mtime_ns) for p in folder.rglob("*")}


def execute(path: Path, workdir: Path, ksm) -> object:
    """Run a notebook top to bottom in ``workdir``; returns the executed notebook."""
    from jupyter_client.manager import KernelManager

    nb = nbformat.read(path, as_version=4)
    km = KernelManager(kernel_name="python3", kernel_spec_manager=ksm)
    client = nbclient.NotebookClient(
        nb, km=km, kernel_name="python3", timeout=CELL_TIMEOUT_S, startup_timeout=120,
        resources={"metadata": {"path": str(workdir)}},
    )
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the kernel's own inline backend draws the charts
    client.execute(env=env)
    return nb


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, tmp_path: Path, kernel_specs):
    maps_before = _tree_state(ROOT / "maps")
    stored_before = path.read_bytes()

    nb = execute(path, tmp_path, kernel_specs)

    errors = [o for c in code_cells(nb) for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    assert all(c.execution_count is not None for c in code_cells(nb))
    texts = output_texts(nb)
    joined = "\n".join(texts)
    for expected in EXPECTED_TEXT.get(path.name, []):
        assert expected in joined, f"{path.name} does not show {expected!r}"
    assert "Traceback" not in joined

    mimes = {k for c in code_cells(nb) for o in c.outputs if "data" in o for k in o.data}
    if path.name in CHARTS:
        assert "image/png" in mimes, f"{path.name} drew no chart"
    if path.name in MAPS:
        maps_html = [t for t in texts if "<iframe" in t]
        assert maps_html and "cc-community" in maps_html[0], f"{path.name} showed no map"
    if path.name in PROGRESS:
        desc = PROGRESS[path.name]
        bar = any(desc in t and "100%" in t for t in texts) or WIDGET_MIME in mimes
        assert bar, f"{path.name} showed no progress bar ({desc!r})"

    # Nothing written: not in the working directory, not in the repository.
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert _tree_state(ROOT / "maps") == maps_before
    assert path.read_bytes() == stored_before
