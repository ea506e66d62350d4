"""Helpers for the hostile-input tests: a copy of the demo city to spoil, and folder hashes.

Each case copies ``data/demo`` into ``tmp_path`` (with ``output_dir = "out"``), spoils one
thing (a scenario value, a feature's property or geometry, a file's bytes), runs the real
command line and checks the exit code, that no traceback was printed, that the message
names the file, the row or feature and the column, and that no file in the folder changed.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from carecircle.cli import main

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


def toml_value(v: Any) -> str:
    """A value as TOML (inline tables for dicts)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)} = {toml_value(x)}"
                                for k, x in v.items()) + " }"
    raise TypeError(type(v))


def toml_text(data: dict) -> str:
    """A scenario dict as TOML: scalars first, then one [section] per table."""
    lines = [f"{json.dumps(k)} = {toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for k, v in data.items():
        if isinstance(v, dict):
            lines.append(f"\n[{k}]")
            lines += [f"{json.dumps(str(kk), ensure_ascii=False)} = {toml_value(vv)}"
                      for kk, vv in v.items()]
    return "\n".join(lines) + "\n"


def folder_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative path -> digest)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@dataclass
class City:
    """A copy of the demo city in a folder, to spoil."""

    folder: Path
    scenario: dict = field(default_factory=dict)

    @classmethod
    def copy(cls, folder: Path) -> City:
        folder.mkdir(parents=True, exist_ok=True)
        for p in DEMO.iterdir():
            if p.is_file():
                shutil.copy2(p, folder / p.name)
        data = tomllib.loads((DEMO / "scenario.toml").read_text(encoding="utf-8"))
        data["output_dir"] = "out"
        city = cls(folder, data)
        city.write_scenario()
        return city

    @property
    def path(self) -> Path:
        return self.folder / "scenario.toml"

    def write_scenario(self) -> None:
        self.path.write_text(toml_text(self.scenario), encoding="utf-8")

    def set(self, dotted: str, value: Any) -> None:
        """Set a scenario key (``walking.speed_mps.elderly``) and rewrite the file."""
        *heads, last = dotted.split(".")
        d = self.scenario
        for h in heads:
            d = d.setdefault(h, {})
            if isinstance(d, str):  # a layer given as a path: make it a table
                raise AssertionError(dotted)
        d[last] = value
        self.write_scenario()

    def layer_table(self, layer: str, **keys: Any) -> None:
        """Make an input a table (``{ path = ..., filter = ... }``) with these keys."""
        value = self.scenario["inputs"][layer]
        table = value if isinstance(value, dict) else {"path": value}
        table.update(keys)
        self.scenario["inputs"][layer] = table
        self.write_scenario()

    def features(self, layer: str) -> dict:
        return json.loads((self.folder / f"{layer}.geojson").read_text(encoding="utf-8"))

    def save(self, layer: str, data: dict) -> None:
        (self.folder / f"{layer}.geojson").write_text(json.dumps(data, ensure_ascii=False),
                                                       encoding="utf-8")

    def prop(self, layer: str, row: int, key: str, value: Any) -> None:
        data = self.features(layer)
        data["features"][row]["properties"][key] = value
        self.save(layer, data)

    def geometry(self, layer: str, row: int, geometry: dict | None) -> None:
        data = self.features(layer)
        data["features"][row]["geometry"] = geometry
        self.save(layer, data)


@dataclass(frozen=True)
class Case:
    """One hostile input: how to spoil the city, the command, what must come out."""

    name: str
    spoil: Callable[[City], object]
    code: int = 1
    needles: tuple[str, ...] = ()
    args: tuple[str, ...] = ("validate", "{scenario}")

    def __str__(self) -> str:
        return self.name


def run_case(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Spoil a fresh copy, run the command, check code / traceback / needles / hashes."""
    city = City.copy(tmp_path / "city")
    case.spoil(city)
    before = folder_digest(city.folder)
    args = [a.format(scenario=city.path, folder=city.folder) for a in case.args]
    try:
        code = main(["-q", *args])
    except SystemExit as exc:  # argparse refuses a bad option with exit 2
        code = int(exc.code or 0)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text, text
    assert code == case.code, text
    for needle in case.needles:
        assert needle.format(folder=city.folder) in text, (needle, text)
    assert folder_digest(city.folder) == before, "a file outside the run's outputs changed"
    assert not (city.folder / "PWNED").exists() and not (tmp_path / "PWNED").exists()
    return text
