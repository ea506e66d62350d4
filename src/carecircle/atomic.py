"""Atomic, non-destructive output writing.

Every output is first written to a temporary file in the destination folder and then
renamed over the final name (``os.replace`` is atomic on one filesystem), so a run that
fails midway never leaves a half-written map or table, and never replaces a good
output with a bad one.  A whole run can also be staged: :class:`StagedOutputs` writes
into a hidden sibling folder and moves the files into place only when the run
succeeds.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: str | Path, writer: Callable[[Path], object]) -> Path:
    """Call ``writer(tmp_path)`` and rename the result to ``path``.

    Parameters
    ----------
    path
        Final file path.
    writer
        Function that writes the whole file to the path it is given.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        writer(tmp_path)
        # mkstemp creates 0600; give outputs the usual permissions (umask applied).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return path


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write text atomically."""
    return write_atomic(path, lambda p: p.write_text(text, encoding=encoding))


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write bytes atomically."""
    return write_atomic(path, lambda p: p.write_bytes(data))


class StagedOutputs:
    """Collect a run's outputs in a staging folder; publish them only on success.

    Use as a context manager: files are written under :attr:`dir`; when the block
    exits without an exception each file is moved over its final name in ``target``
    (one atomic rename per file); when it raises, the staging folder is removed and
    ``target`` is untouched.
    """

    def __init__(self, target: str | Path):
        self.target = Path(target)
        self.dir: Path = Path()

    def __enter__(self) -> StagedOutputs:
        self.target.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.target))
        return self

    def path(self, name: str) -> Path:
        """Where to write output ``name`` (relative path) during the run."""
        p = self.dir / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                for src in sorted(self.dir.rglob("*")):
                    if src.is_file():
                        dest = self.target / src.relative_to(self.dir)
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(src, dest)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
