"""On-disk cache for built networks, keyed by input content and build parameters.

A network build reads and cleans a whole OpenStreetMap extract; the result is a
handful of numeric arrays.  Those arrays are stored in one ``.npz`` file whose
name is the SHA-256 of (the input's bytes, the parameters that shape the
network, the cache format version), so a changed file or a changed parameter
can never return a stale network.  Nothing is pickled: geometries are stored as
shapely ragged coordinate arrays and metadata as JSON text.

The cache is plain files; deleting the directory is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

#: Bump when the stored layout or the network-building rules change, so old
#: cache files are ignored rather than misread.  3: a network loaded without a
#: ``crs`` takes the CRS of :func:`carecircle.inputs.coords.choose_metric_crs`, and the
#: report keeps the largest pieces the network dropped.  4: each edge's way type and
#: whether it can be entered from the street (``edge_way``, ``edge_restricted``).
CACHE_FORMAT = 4

#: Environment variable that overrides the default cache directory.
CACHE_ENV = "CARECIRCLE_CACHE_DIR"

_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """Return the default cache directory.

    ``$CARECIRCLE_CACHE_DIR`` if set, else ``.cache/carecircle`` under the
    current working directory (the project's ``.gitignore`` excludes it).
    """
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.cwd() / ".cache" / "carecircle"


def files_digest(paths: Iterable[str | os.PathLike[str]]) -> str:
    """SHA-256 over the bytes of the files that define an input, in sorted name order.

    Parameters
    ----------
    paths
        Files whose content defines the input (e.g. every member of a
        shapefile pair).

    Returns
    -------
    str
        Hex digest.
    """
    h = hashlib.sha256()
    members = sorted(Path(p) for p in paths)
    for p in members:
        # Names matter only between members (nodes.dbf vs edges.dbf): a single
        # file copied under another name is the same input.
        if len(members) > 1:
            h.update(p.name.encode("utf-8") + b"\0")
        with open(p, "rb") as fh:
            while block := fh.read(_CHUNK):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()


def params_key(digest: str, params: Mapping[str, Any]) -> str:
    """Cache key from a content digest and the build parameters.

    Parameters
    ----------
    digest
        Content digest of the input (see :func:`files_digest`).
    params
        JSON-serialisable parameters that change the built network (CRS,
        filters, ...).

    Returns
    -------
    str
        Hex SHA-256 used as the cache file name.
    """
    text = json.dumps(
        {"format": CACHE_FORMAT, "digest": digest, "params": params},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_path(cache_dir: str | os.PathLike[str], key: str, prefix: str = "network") -> Path:
    """Path of the cache file for ``key`` under ``cache_dir``.

    Parameters
    ----------
    cache_dir
        The cache folder.
    key
        Cache key (:func:`params_key`).
    prefix
        What is cached, the start of the file name.

    Returns
    -------
    pathlib.Path
        ``cache_dir / "{prefix}-{key}.npz"``.
    """
    return Path(cache_dir) / f"{prefix}-{key}.npz"


def save_arrays(path: Path, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
    """Write numeric arrays plus JSON metadata atomically (temp file, then rename).

    Parameters
    ----------
    path
        Destination ``.npz`` file; its directory is created if missing.
    arrays
        Numeric arrays (no object dtype: nothing is pickled).
    meta
        JSON-serialisable metadata.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # Any: numpy's stub types savez's keywords as its allow_pickle flag
    payload: dict[str, Any] = {k: np.asarray(v) for k, v in arrays.items()}
    for k, v in payload.items():
        if v.dtype == object:
            raise TypeError(f"cache array {k!r} has object dtype; store numeric arrays only")
    payload["__meta__"] = np.array(
        json.dumps({**meta, "format": CACHE_FORMAT}, sort_keys=True, default=str)
    )
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_arrays(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """Read what :func:`save_arrays` wrote; ``None`` if missing or unreadable.

    An unreadable file (truncated by a crash, older format) is treated as a
    cache miss, never as an error: the network is simply rebuilt.
    """
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k != "__meta__"}
            meta = json.loads(str(z["__meta__"]))
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    if meta.get("format") != CACHE_FORMAT:
        return None
    return arrays, meta
