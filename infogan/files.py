"""Reading files a user hands us, without being hung or flooded by them.

A path may name a FIFO (opening it blocks until a writer comes), a device such as /dev/zero (endless), or a
symlink to either; a real file may be far larger than its format allows. Readers here stat the path first
(following symlinks) and read only regular files, up to a limit where the format has a natural size.
"""

from __future__ import annotations

import stat
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
