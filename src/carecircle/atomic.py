"""Atomic, non-destructive output writing, with a manifest of what carecircle wrote.

Every output is first written to a temporary file in the destination folder and then
renamed over the final name (``os.replace`` is atomic on one filesystem), so a run that
fails midway never leaves a half-written map or table, and never replaces a good
output with a bad one.  A whole run is staged: :class:`StagedOutputs` writes into a
hidden sibling folder and moves the files into place only when the run succeeds.

Rules of an output folder (``docs/safety.md``):

* carecircle replaces or removes only files listed in the folder's manifest
  (:data:`MANIFEST_NAME`, JSON), i.e. files it wrote itself.  A file of the same name
  that it did not write is never replaced: the writer stops with
  :class:`OutputConflictError` and nothing is published.
* Each writer has an *owner* name (``run``, ``compare``, ``sweep_minutes``, ``reach``...):
  when it publishes, its files of an earlier publication that it did not write again
  are removed (a plan's ``sites.csv`` when the new run is an assessment), and the
  files of other owners are left alone.
* A folder that holds a protected file (the scenario or one of its inputs) is refused
  before anything is written (:func:`check_output_folder`).
* SIGTERM during staging is handled like Ctrl-C (the staging folder is removed), and
  staging folders left by runs that were killed outright (SIGKILL, power loss) are
  removed by the next writer in that folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType, TracebackType

from carecircle.errors import CarecircleError

#: The manifest in every output folder: relative path -> owner, of every file written.
MANIFEST_NAME = "carecircle-manifest.json"
#: Staging folders are ``.staging-<pid>-<random>``; the pid tells a live run from a dead one.
STAGING_PREFIX = ".staging-"
#: A staging folder without a pid in its name (an older carecircle) is stale after this.
LEGACY_STAGING_AGE_S = 3600.0
_STAGING_RE = re.compile(re.escape(STAGING_PREFIX) + r"(\d+)-")


class OutputConflictError(CarecircleError):
    """An output would replace a file carecircle did not write, or a protected input."""


class TerminatedError(KeyboardInterrupt):
    """The process received SIGTERM; raised like Ctrl-C so every clean-up runs."""


# ---------------------------------------------------------------- single files


def write_atomic(path: str | os.PathLike[str], writer: Callable[[Path], object]) -> Path:
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


def write_text_atomic(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write text atomically.

    Parameters
    ----------
    path
        Final file path.
    text
        The whole content.
    encoding
        Text encoding.

    Returns
    -------
    Path
    """
    return write_atomic(path, lambda p: p.write_text(text, encoding=encoding))


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write bytes atomically.

    Parameters
    ----------
    path
        Final file path.
    data
        The whole content.

    Returns
    -------
    Path
    """
    return write_atomic(path, lambda p: p.write_bytes(data))


# ---------------------------------------------------------------- the manifest


def read_manifest(folder: str | Path) -> dict[str, str]:
    """The manifest of ``folder``: relative path (POSIX) -> owner; empty if there is none.

    Parameters
    ----------
    folder
        An output folder.

    Returns
    -------
    dict
        A damaged manifest reads as empty (then nothing is replaced or removed).
    """
    path = Path(folder) / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        return {}
    return {str(k): str(v) for k, v in files.items() if _safe_relative(str(k))}


def _safe_relative(rel: str) -> bool:
    """A manifest entry must stay inside its folder (a hand-edited ``../x`` is ignored)."""
    p = Path(rel)
    return not p.is_absolute() and ".." not in p.parts and rel not in ("", ".")


def _write_manifest(folder: Path, files: dict[str, str]) -> None:
    text = json.dumps({"format": 1, "written_by": "carecircle",
                       "files": dict(sorted(files.items()))}, ensure_ascii=False, indent=1)
    write_text_atomic(folder / MANIFEST_NAME, text + "\n")


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def check_output_folder(folder: str | Path, protect: Iterable[str | Path] = ()) -> None:
    """Refuse an output folder that holds a protected file (the scenario, an input).

    Parameters
    ----------
    folder
        The output folder (need not exist).
    protect
        Files no output may replace: the scenario file and every input.

    Raises
    ------
    OutputConflictError
        Naming the first protected file inside ``folder``.
    """
    folder = Path(folder)
    for p in protect:
        p = Path(p)
        if _inside(p, folder):
            raise OutputConflictError(
                f"output {folder} is or holds an input of the run, {p}: outputs there could "
                f"replace it 输出目录包含输入文件; choose another output folder (output_dir, --out)")


def _conflicts(target: Path, names: Iterable[str], owned: dict[str, str],
               protect: Iterable[Path]) -> list[str]:
    protected = {p.resolve() for p in protect}
    out = []
    for rel in names:
        dest = target / rel
        if (dest.resolve() in protected
                or ((dest.exists() or dest.is_symlink()) and rel not in owned)
                or dest.is_dir()):
            out.append(rel)
    return out


def _conflict_error(target: Path, conflicts: list[str]) -> OutputConflictError:
    shown = ", ".join(conflicts[:5]) + (f" ... ({len(conflicts)} in all)" if len(conflicts) > 5 else "")
    return OutputConflictError(
        f"{target}: will not replace {shown}: carecircle did not write it (it is not in "
        f"{MANIFEST_NAME}) or it is an input 不会覆盖非本程序生成的文件; move it away or "
        "choose another output folder (output_dir, --out, -o)")


def publish_file(path: str | Path, writer: Callable[[Path], object], *, owner: str,
                 protect: Iterable[str | Path] = ()) -> Path:
    """Write one output file atomically, listed in its folder's manifest.

    The file may replace an earlier output of carecircle's, never a file carecircle
    did not write or a protected file.

    Parameters
    ----------
    path
        Final file path.
    writer
        Writes the whole file to the path it is given.
    owner
        The writer's name in the manifest (e.g. ``"reach"``).
    protect
        Files that must never be replaced (the command's inputs).

    Returns
    -------
    Path

    Raises
    ------
    OutputConflictError
        When ``path`` exists and is not carecircle's, or is protected.
    """
    path = Path(path)
    folder = path.parent
    owned = read_manifest(folder)
    conflicts = _conflicts(folder, [path.name], owned, [Path(p) for p in protect])
    if conflicts:
        raise _conflict_error(folder, conflicts)
    with sigterm_as_interrupt():
        write_atomic(path, writer)
        _write_manifest(folder, {**read_manifest(folder), path.name: owner})
    return path


# ---------------------------------------------------------------- signals and staging


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`TerminatedError` (like Ctrl-C).

    Only the main thread can install signal handlers; elsewhere the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise TerminatedError(f"terminated by signal {signum} 进程被终止")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_staging(folder: str | Path) -> list[Path]:
    """Remove staging folders that earlier, killed writers left in ``folder``.

    Parameters
    ----------
    folder
        An output folder.

    Returns
    -------
    list of Path
        The folders removed.  A staging folder of a live process is kept.
    """
    removed: list[Path] = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for d in folder.glob(STAGING_PREFIX + "*"):
        if not d.is_dir() or d.is_symlink():
            continue
        m = _STAGING_RE.match(d.name)
        if m is not None:
            stale = not _pid_alive(int(m.group(1)))
        else:
            stale = time.time() - d.stat().st_mtime > LEGACY_STAGING_AGE_S
        if stale:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


class StagedOutputs:
    """Collect a run's outputs in a staging folder; publish them only on success.

    Use as a context manager: files are written under :attr:`dir`; when the block
    exits without an exception each file is moved over its final name in ``target``
    (one atomic rename per file) and the manifest is updated; when it raises (SIGTERM
    included), the staging folder is removed and ``target`` is untouched.

    Parameters
    ----------
    target
        The output folder.
    owner
        The writer's name in the manifest.  On success, files this owner published
        earlier and did not write this time are removed.
    protect
        Files that must never be replaced (the scenario and its inputs): a target
        folder holding one is refused at once.

    Raises
    ------
    OutputConflictError
        On entry, for a folder holding a protected file; on publishing, when an output
        would replace a file carecircle did not write (then nothing is published).
    """

    def __init__(self, target: str | Path, *, owner: str = "run", protect: Iterable[str | Path] = ()):
        self.target = Path(target)
        self.owner = owner
        self.protect = [Path(p) for p in protect]
        self.dir: Path = Path()
        self.published: list[Path] = []
        self._signals: contextlib.ExitStack | None = None

    def __enter__(self) -> StagedOutputs:
        check_output_folder(self.target, self.protect)
        self.target.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(self.target)
        self._signals = contextlib.ExitStack()
        self._signals.enter_context(sigterm_as_interrupt())
        self.dir = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=self.target))
        return self

    def path(self, name: str) -> Path:
        """Where to write output ``name`` (relative path) during the run."""
        p = self.dir / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc_type is None:
                self._publish()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
            if self._signals is not None:
                self._signals.close()

    def _publish(self) -> None:
        staged: dict[str, Path] = {}
        for src in sorted(self.dir.rglob("*")):
            rel = src.relative_to(self.dir).as_posix()
            # a nested writer's manifest (compare -> <name>/) is an output like any other
            if src.is_file() and rel != MANIFEST_NAME:
                staged[rel] = src
        owned = read_manifest(self.target)
        conflicts = _conflicts(self.target, staged, owned, self.protect)
        if conflicts:
            raise _conflict_error(self.target, conflicts)
        for rel, src in staged.items():
            dest = self.target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
        self.published = [self.target / rel for rel in staged]
        stale = [rel for rel, who in owned.items() if who == self.owner and rel not in staged]
        manifest = {rel: who for rel, who in owned.items() if rel not in stale}
        manifest.update(dict.fromkeys(staged, self.owner))
        _write_manifest(self.target, manifest)
        for rel in stale:
            old = self.target / rel
            if old.is_file() and not old.is_symlink():
                old.unlink()
