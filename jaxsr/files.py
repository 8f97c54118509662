"""Files several processes share: atomic writes (a reader, or a run that dies half-way, never sees half
a file) and exclusive locks (two processes building one dataset, or training in one workdir, take turns
or are refused)."""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile
from typing import IO, Iterator

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent processes are not kept apart.
    fcntl = None


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


class LockBusy(Exception):
    """`file_lock(..., blocking=False)` found the lock held by another process."""


@contextlib.contextmanager
def file_lock(path: str | os.PathLike, *, blocking: bool = True) -> Iterator[IO[str]]:
    """Hold an exclusive advisory lock on `path` (created, with its folder) for the `with` block.

    `blocking=False` raises LockBusy at once when another process holds it. Yields the lock file, opened
    "a+" (the holder may write who it is into it; a refused process may read that). The lock is released
    when the block ends or the process dies, so a killed holder never leaves it stuck.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        if fcntl is not None:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                raise LockBusy(str(path)) from None
        try:
            yield f
        finally:
            if fcntl is not None:
                fcntl.flock(f, fcntl.LOCK_UN)
