"""Files: reading what a user hands us without being hung or flooded by it, and writing atomically.

A path may name a FIFO (opening it blocks until a writer comes), a device such as /dev/zero (endless), or a
symlink to either; a real file may be far larger than its format allows. Readers here stat the path first
(following symlinks) and read only regular files, up to a limit where the format has a natural size.

Every file the package writes goes through `atomic_write_bytes`: a reader (or a kill) sees the old whole
file or the new whole file, never a torn one.
"""

from __future__ import annotations

import contextlib
import errno
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


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (os.umask sets it to read it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to a temp file beside `path`, fsync, rename over `path`, fsync the folder.

    The temp file is made with mode 0600 (mkstemp); it gets the mode any file the user creates would have
    (0666 minus the umask) before the rename, so runs on a shared file system stay readable. Every OS
    failure (full disk, read-only file system, a file where a folder should be, ...) becomes one line
    naming the path, and the file that was there before is left intact.
    """
    path, tmp = Path(path), None
    try:
        for folder in (path.parent, *path.parent.parents):  # the nearest existing ancestor must be a folder
            if folder.exists():
                if not folder.is_dir():
                    raise UsageError(f"could not write {path}: {folder} is a file, not a folder")
                break
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        hint = {
            errno.ENOSPC: "free some space",
            errno.EDQUOT: "free some space",
            errno.EROFS: "the file system is read-only",
            errno.EACCES: "fix the permissions",
        }.get(exc.errno)
        raise UsageError(
            f"could not write {path}: {exc.strerror or exc}"
            + (f" ({hint}); the previous file there, if any, is intact" if hint else "")
        ) from None
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # some file systems cannot fsync a folder; the rename is still atomic
        pass
