"""Where a benchmark's numbers were measured: shared by the scripts in this folder."""

from __future__ import annotations

import platform
import subprocess


def _sh(cmd: str) -> str:
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def machine(versions: dict[str, str | None]) -> dict:
    """CPUs, CPU model, memory and Python, then the given library versions."""
    return {
        "nproc": _sh("nproc"),
        "cpu": _sh("lscpu | grep 'Model name' | sed 's/.*: *//'"),
        "memory": _sh("free -g | awk '/Mem:/ {print $2 \" GB\"}'"),
        "python": platform.python_version(),
        **versions,
    }
