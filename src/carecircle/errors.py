"""Typed exceptions and the problem records that validation collects.

Every input problem names the file, the feature (row number and id), the column,
what was found and what was expected, so that a planner can fix the data without
reading a traceback.  The CLI catches :class:`CarecircleError` and prints its
message; nothing else is caught, so a real bug still shows its traceback.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Literal, SupportsIndex, TypedDict, Unpack

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


class Where(TypedDict, total=False):
    """Where a :class:`Problem` lies and what was found: its optional fields, as keywords.

    ``row`` may be any integer (a NumPy index too); the problem stores a Python ``int``.
    """

    row: SupportsIndex | None
    feature_id: str | None
    column: str | None
    found: str | None
    expected: str | None


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

    def error(self, file: str, message: str, **where: Unpack[Where]) -> None:
        """Record an error.

        Parameters
        ----------
        file
            The input file (or ``"scenario"``).
        message
            What is wrong, in plain words.
        **where
            ``row``, ``feature_id``, ``column``, ``found``, ``expected``: see :class:`Problem`.
        """
        self._record("error", file, message, where)

    def warning(self, file: str, message: str, **where: Unpack[Where]) -> None:
        """Record a warning (doubtful data that does not stop a run).

        Parameters
        ----------
        file
            The input file (or ``"scenario"``).
        message
            What is doubtful, in plain words.
        **where
            ``row``, ``feature_id``, ``column``, ``found``, ``expected``: see :class:`Problem`.
        """
        self._record("warning", file, message, where)

    def _record(self, severity: Severity, file: str, message: str, where: Where) -> None:
        row = where.get("row")
        self.problems.append(Problem(
            severity, str(file), message, row=None if row is None else operator.index(row),
            feature_id=where.get("feature_id"), column=where.get("column"),
            found=where.get("found"), expected=where.get("expected")))

    @property
    def errors(self) -> list[Problem]:
        """The problems of severity ``"error"``."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The problems of severity ``"warning"``."""
        return [p for p in self.problems if p.severity == "warning"]

    def raise_if_errors(self) -> None:
        """Raise :class:`ValidationError` with every problem when any is an error."""
        if self.errors:
            raise ValidationError(self.problems)
