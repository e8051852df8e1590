"""One writer per run directory: an advisory lock on DIR/.lock, held for as long as the process writes.

`fcntl.flock` rather than a lock file that exists or not: the kernel releases the lock when the process
dies (SIGKILL, power loss), so a crash never leaves a stale lock, and a second process learns at once
that the directory is taken. The holder writes its PID into the file so the refusal can name it. The
`filelock` package does the same on POSIX but cannot tell who holds the lock; on systems without fcntl
(Windows) runs are not locked and a note says so.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from infogan.errors import UsageError

LOCK_NAME = ".lock"


class RunLock:
    """`RunLock.acquire(folder, what)` or a UsageError naming the holder; `release()` (or process exit) frees it."""

    def __init__(self, fd: int | None, path: Path):
        self.fd, self.path = fd, path

    @classmethod
    def acquire(cls, folder: str | Path, what: str = "run directory") -> RunLock:
        path = Path(folder) / LOCK_NAME
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            print(f"note: {folder} is not locked against a second writer on this system", file=sys.stderr)
            return cls(None, path)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise UsageError(f"cannot lock {what} {folder}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise UsageError(
                f"{what} {folder} is in use by another infogan process"
                f"{f' (PID {holder})' if holder else ''}: wait for it to finish or stop it, "
                f"or use another directory"
            ) from None
        except OSError as exc:  # a file system without locks (some network mounts)
            os.close(fd)
            raise UsageError(f"cannot lock {what} {folder}: {exc.strerror or exc}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return cls(fd, path)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read_pid(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 32).decode(errors="replace").strip()
        return text if text.isdigit() else ""
    except OSError:
        return ""
