"""Typed exceptions and the problem records that validation collects.

Every input problem names the file, the feature (row number and id), the column,
what was found and what was expected, so that a planner can fix the data without
reading a traceback.  The CLI catches :class:`CarecircleError` and prints its
message; nothing else is caught, so a real bug still shows its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


class CarecircleWarning(UserWarning):
    """A warning of carecircle's own (the test suite turns these into errors)."""


@dataclass(frozen=True)
class Problem:
    """One problem found in the inputs.

    Parameters
    ----------
    severity
        ``"error"`` makes a run meaningless; ``"warning"`` is doubtful data.
    file
        The input file (or ``"scenario"`` for the scenario itself).
    message
        What is wrong, in plain words.
    row
        Zero-based feature index in the file, if the problem is one feature's.
    feature_id
        The feature's id, if it has one.
    column
        The column concerned.
    found, expected
        What was found and what was expected.
    """

    severity: Severity
    file: str
    message: str
    row: int | None = None
    feature_id: str | None = None
    column: str | None = None
    found: str | None = None
    expected: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row + 1}")
        if self.feature_id is not None:
            where.append(f"id {self.feature_id}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        text = f"{self.severity.upper()} 错误: " if self.severity == "error" else "WARNING 警告: "
        text += ", ".join(where) + f": {self.message}"
        if self.found is not None:
            text += f"; found {self.found!s}"
        if self.expected is not None:
            text += f"; expected {self.expected}"
        return text


class CarecircleError(Exception):
    """Base class: an error the CLI prints without a traceback."""


class InputError(CarecircleError):
    """A single input problem that stops loading at once (e.g. unreadable file)."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


class ValidationError(CarecircleError):
    """Validation found errors; carries every problem, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        lines = [f"{len(errors)} error(s) in the inputs 输入数据有 {len(errors)} 个错误:"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class ScenarioError(CarecircleError):
    """The scenario file is missing, unreadable or has wrong keys or values."""


class NetworkError(CarecircleError):
    """The walking network cannot be built from the given source."""


class InfeasibleError(CarecircleError):
    """An optimisation problem has no solution; the message explains why."""


@dataclass
class ProblemLog:
    """Collects problems while loading; no global state, one log per run."""

    problems: list[Problem] = field(default_factory=list)

    def error(self, file: str, message: str, **kw: object) -> None:
        self.problems.append(Problem("error", str(file), message, **kw))  # type: ignore[arg-type]

    def warning(self, file: str, message: str, **kw: object) -> None:
        self.problems.append(Problem("warning", str(file), message, **kw))  # type: ignore[arg-type]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ValidationError(self.problems)
