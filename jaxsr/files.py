"""Atomic file writes: a reader, or a run that dies half-way, never sees half a file."""

from __future__ import annotations

import os
import pathlib
import tempfile


def write_atomic(path: str | os.PathLike, data: str | bytes, mode: int = 0o644) -> pathlib.Path:
    """Write `data` (text as UTF-8, or bytes) to `path` through a temporary file in the same folder and a
    rename, so the old file stays whole until the new one is complete. Creates the folder; `mode` is the
    new file's permissions (temporary files are private by default)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    return path
