"""One scenario through one pipeline: load -> network -> reach -> coverage -> plan -> outputs.

The functions here are what the CLI calls; each returns a result object with the
library-level tables so a notebook can use them too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import CarecircleError, Problem, ProblemLog, ScenarioError
from .io import Inputs, load_inputs, summary
from .scenario import Scenario, load_scenario


@dataclass
class ValidationReport:
    """What ``carecircle validate`` prints."""

    text: str
    problems: list[Problem]
    inputs: Inputs | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def _as_scenario(scenario: Scenario | str | Path) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def format_validation(scenario: Scenario, inputs: Inputs | None, log: ProblemLog) -> str:
    """The bilingual validation summary."""
    lines = [f"Scenario 情景: {scenario.name} ({scenario.source or scenario.base_dir})"]
    if inputs is not None:
        lines.append(f"CRS 坐标系: {inputs.crs.to_string()} ({inputs.crs.name})")
        for note in inputs.conversions:
            lines.append(f"Converted 已转换: {note}")
        for layer, text in inputs.assumed.items():
            lines.append(f"Assumed 假设数据: {layer}: {text}")
        lines.append("")
        lines.append(summary(inputs).to_string(index=False))
    lines.append("")
    n_err, n_warn = len(log.errors), len(log.warnings)
    lines.append(f"Problems 问题: {n_err} error(s) 错误, {n_warn} warning(s) 警告")
    lines += [f"  {p}" for p in log.problems]
    lines.append("Result 结果: " + ("FAILED 未通过" if n_err else "OK 通过"))
    return "\n".join(lines)


def validate(scenario: Scenario | str | Path, *, quiet: bool = False) -> ValidationReport:
    """Load every input of a scenario and report every problem found.

    Parameters
    ----------
    scenario
        A :class:`Scenario` or the path of its TOML file.
    quiet
        Unused here (validation prints nothing itself); kept for a uniform signature.

    Returns
    -------
    ValidationReport
        The printable text, the problems, and the loaded inputs.
    """
    scen = _as_scenario(scenario)
    inputs = load_inputs(scen, raise_on_error=False)
    log = inputs.log
    net_src = scen.inputs["network"].path
    if not net_src.exists():
        log.error(str(net_src), "file not found 文件不存在 (network)")
    return ValidationReport(format_validation(scen, inputs, log), list(log.problems), inputs)


@dataclass
class RunResult:
    """What a run produced."""

    text: str
    out_dir: Path
    files: list[Path] = field(default_factory=list)


def demo_scenario_path() -> Path:
    """The bundled demo scenario (``data/demo/scenario.toml`` of the source tree)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent / "data" / "demo" / "scenario.toml"
        if cand.is_file():
            return cand
    raise ScenarioError(
        "the demo city data/demo/scenario.toml was not found next to the package; "
        "regenerate it with `python -m carecircle.demo --out data/demo`"
    )


def run_demo(out_dir: Path | None = None, *, quiet: bool = False) -> RunResult:
    """Run the whole pipeline on the bundled demo city."""
    scen = load_scenario(demo_scenario_path())
    if out_dir is not None:
        scen = scen.replace(output_dir=Path(out_dir).resolve())
    report = validate(scen)
    if report.errors:
        raise CarecircleError(report.text)
    from .maps import write_layer_map

    path = write_layer_map(report.inputs, scen.out_dir / "layers.html", title=scen.title)
    from .atomic import write_text_atomic

    summ = write_text_atomic(scen.out_dir / "validation.txt", report.text + "\n")
    return RunResult(report.text + f"\n\nWrote 输出: {path}\n        {summ}", scen.out_dir, [path, summ])
