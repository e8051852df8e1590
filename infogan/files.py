"""Reading files a user hands us, without being hung or flooded by them.

A path may name a FIFO (opening it blocks until a writer comes), a device such as /dev/zero (endless), or a
symlink to either; a real file may be far larger than its format allows. Readers here stat the path first
(following symlinks) and read only regular files, up to a limit where the format has a natural size.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from infogan.errors import UsageError


def check_regular_file(path: str | Path, what: str, max_bytes: int | None = None) -> int:
    """Refuse anything but an existing regular file (of at most max_bytes); return its size."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a pipe, device or socket)"
        raise UsageError(f"{what} {path} is {kind}: pass a regular file")
    if max_bytes is not None and info.st_size > max_bytes:
        raise UsageError(
            f"{what} {path} is {info.st_size:,} bytes, more than the {max_bytes:,} such a file can "
            f"need: is it the right file?"
        )
    return info.st_size


def read_file(path: str | Path, what: str, max_bytes: int | None = None) -> bytes:
    """The bytes of a regular file, refused (one clear line) if it is not one or is too large."""
    check_regular_file(path, what, max_bytes)
    try:
        with open(path, "rb") as fh:
            data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)  # + 1: a file grown since the stat
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise UsageError(f"{what} {path} is more than the {max_bytes:,} bytes such a file can need")
    return data


@contextlib.contextmanager
def atomic_text_writer(path: str | Path):
    """A text stream whose content replaces `path` only when the block ends without an error: a reader never
    sees half a file, and a failed or interrupted write leaves what was there before."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path} is a folder: name a file to write")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: its folder {path.parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
