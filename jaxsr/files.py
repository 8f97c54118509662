"""Files several processes share: atomic writes (a reader, or a run that dies half-way, never sees half
a file) and exclusive locks (two processes building one dataset, or training in one workdir, take turns
or are refused)."""

from __future__ import annotations

import contextlib
import errno
import os
import pathlib
import shutil
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


# What a user can do something about when a write fails, in words (the errno names are cryptic).
_WRITE_ERRORS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted (an immutable file or folder?)",
    errno.EROFS: "read-only file system",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder",
}
# Output-path errors: every later write to the same place would fail the same way.
PATH_ERRNOS = frozenset(_WRITE_ERRORS)


def os_errno(e: BaseException | None) -> int | None:
    """The errno of `e` or of the first exception it was raised from that has one; a message naming
    "No space left on device" counts as ENOSPC (some libraries drop the errno and keep only the text)."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno:
            return e.errno
        if "No space left on device" in str(e):
            return errno.ENOSPC
        e = e.__cause__ or e.__context__
    return None


def describe_os_error(e: BaseException) -> str:
    """A failed write in words: "no space left on device (PATH)", "permission denied (PATH)", ..."""
    code = os_errno(e)
    what = _WRITE_ERRORS.get(code) or (os.strerror(code) if code else str(e))
    if isinstance(e, OSError) and code and e.strerror and e.strerror != os.strerror(code):
        what += f": {e.strerror}"
    where = getattr(e, "filename", None)
    return f"{what} ({os.fsdecode(where)})" if where else what


def check_writable(folder: str | os.PathLike, need_bytes: int = 0) -> None:
    """Create `folder` (with its parents) and write and remove a small probe file in it, so that a
    read-only, immutable or full folder fails before any work rather than after it; `need_bytes`: also
    refuse when the filesystem has less free space than that. Raises OSError with its errno set."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".jaxsr-write-check-")
    try:
        os.write(fd, bytes(4096))
        os.fsync(fd)
    finally:
        os.close(fd)
        os.unlink(tmp)
    free = shutil.disk_usage(folder).free
    if need_bytes > free:
        raise OSError(
            errno.ENOSPC,
            f"need about {need_bytes / 1e6:.1f} MB, {free / 1e6:.1f} MB free",
            str(folder),
        )


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
