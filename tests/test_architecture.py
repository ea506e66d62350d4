"""The package keeps the shape of the pipeline (docs and ``make lint`` run this file).

inputs -> network -> assess -> siting -> outputs -> runs: a module imports only from its
own stage or an earlier one; ``errors`` and ``atomic`` are importable from anywhere and
import no stage; nothing inside the package imports ``cli`` or the lazy public API of
``carecircle/__init__.py``; no private name (``_x``) crosses a stage's boundary.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "carecircle"
STAGES = ("inputs", "network", "assess", "siting", "outputs", "runs")
ANYWHERE = ("errors", "atomic")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted
    names: tuple[str, ...]
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(PKG).with_suffix("").parts
    return ".".join(("carecircle", *parts)).removesuffix(".__init__")


def package_imports() -> list[Import]:
    """Every ``carecircle`` import in the package, those inside functions included."""
    out = []
    for path in sorted(PKG.rglob("*.py")):
        mod = module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                out.append(Import(mod, f"<relative import level {node.level}>", (), node.lineno))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("carecircle"):
                names = tuple(a.name for a in node.names)
                out.append(Import(mod, node.module or "", names, node.lineno))
            elif isinstance(node, ast.Import):
                out += [Import(mod, a.name, (), node.lineno) for a in node.names
                        if a.name.startswith("carecircle")]
    return out


def stage_of(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def where(imp: Import) -> str:
    return f"{imp.module} (line {imp.line}) imports {imp.target} {list(imp.names)}"


IMPORTS = package_imports()


def test_the_scan_sees_the_package():
    stages = {stage_of(i.module) for i in IMPORTS}
    assert set(STAGES) <= stages, "the import scan missed a stage"


def test_no_relative_imports():
    bad = [where(i) for i in IMPORTS if i.target.startswith("<relative")]
    assert not bad, "use absolute imports (carecircle.stage.module):\n" + "\n".join(bad)


def test_imports_go_one_way():
    bad = []
    for imp in IMPORTS:
        src, dst = stage_of(imp.module), stage_of(imp.target)
        if src is None or dst is None:
            continue
        if STAGES.index(dst) > STAGES.index(src):
            bad.append(where(imp))
    assert not bad, "backward imports (" + " -> ".join(STAGES) + "):\n" + "\n".join(bad)


@pytest.mark.parametrize("base", ANYWHERE)
def test_shared_modules_import_no_stage(base):
    bad = [where(i) for i in IMPORTS if i.module == f"carecircle.{base}" and stage_of(i.target)]
    assert not bad, "\n".join(bad)


def test_nothing_imports_the_cli_or_the_lazy_api():
    bad = [where(i) for i in IMPORTS
           if i.target == "carecircle.cli" and i.module != "carecircle"
           or i.target == "carecircle" and i.names != ("__version__",)]
    assert not bad, "import the defining module instead:\n" + "\n".join(bad)


def test_no_private_name_crosses_a_stage():
    bad = []
    for imp in IMPORTS:
        src, dst = stage_of(imp.module), stage_of(imp.target)
        if dst is None or src == dst:
            continue
        private_module = any(p.startswith("_") for p in imp.target.split(".")[2:])
        private_names = [n for n in imp.names if n.startswith("_")]
        if private_module or private_names:
            bad.append(where(imp))
    assert not bad, "private names used across stages:\n" + "\n".join(bad)

# ------------------------------------------------------------------ size and documentation

MAX_MODULE_LINES = 900
MAX_FUNCTION_LINES = 150

#: Today's exceptions to the rules below.  This list only shrinks: an entry that no
#: longer breaks its rule fails the test until it is removed.
KNOWN: set[str] = set()


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    a = fn.args
    names = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs) if x.arg not in ("self", "cls")]
    return names + [x.arg for x in (a.vararg, a.kwarg) if x is not None]


def _public_functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    out = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                    and not node.name.startswith("_"):
                out.append((f"{prefix}{node.name}", node))

    visit(tree.body, "")
    return out


def rule_breaks() -> set[str]:
    """Every module over the line limit, function over the line limit, and public
    function of two or more parameters without a numpydoc Parameters section."""
    found = set()
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).as_posix()
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            found.add(f"module-lines {rel}")
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                    and (node.end_lineno or 0) - node.lineno + 1 > MAX_FUNCTION_LINES:
                found.add(f"function-lines {rel}:{node.name}")
        if any(p.startswith("_") and p != "__init__.py" for p in path.relative_to(PKG).parts):
            continue  # private modules have no public functions
        for name, fn in _public_functions(tree):
            doc = ast.get_docstring(fn) or ""
            if len(_params(fn)) >= 2 and "Parameters\n----------" not in doc:
                found.add(f"parameters-section {rel}:{name}")
    return found


def test_modules_and_functions_are_short_and_public_functions_documented():
    found = rule_breaks()
    new = sorted(found - KNOWN)
    assert not new, (f"modules over {MAX_MODULE_LINES} lines, functions over "
                     f"{MAX_FUNCTION_LINES}, or public functions of 2+ parameters without a "
                     "numpydoc 'Parameters' section:\n" + "\n".join(new))


def test_the_list_of_exceptions_only_shrinks():
    fixed = sorted(KNOWN - rule_breaks())
    assert not fixed, "these now keep the rules; remove them from KNOWN:\n" + "\n".join(fixed)
