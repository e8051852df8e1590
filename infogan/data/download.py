"""Downloads: a file from the first mirror that answers, SHA-256 checked, written whole or not at all, with
timeouts and a deadline; and the folder data sets live in."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tqdm import tqdm

from infogan.errors import UsageError


# ---------------------------------------------------------------------------------------------- download
def fetch(
    folder: Path,
    name: str,
    sha256: str | None,
    mirrors: list[str],
    what: str,
    offline_hint: str = "or use --dataset mnist-sample, which works offline",
) -> Path:
    """Return folder/name, downloading it (SHA-256 verified when `sha256` is given) when absent.

    `$INFOGAN_DOWNLOAD_MIRROR` (a base URL) is tried before the built-in mirrors. A file already on disk is
    trusted as the user put it there; the readers check its structure.
    """
    target = folder / name
    if target.exists():
        return target
    try:
        import pooch
    except ImportError:  # pragma: no cover - pooch is a hard dependency
        raise UsageError("downloading needs the pooch package: pip install pooch") from None
    bases = ([os.environ["INFOGAN_DOWNLOAD_MIRROR"]] if os.environ.get("INFOGAN_DOWNLOAD_MIRROR") else []) + mirrors
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the data dir {folder}: {exc.strerror}; pass --data-dir") from None
    pooch.get_logger().setLevel("WARNING")  # no "Downloading ..." chatter; a bar shows on a terminal
    errors = []
    for base in bases:
        url = base.rstrip("/") + "/" + name
        try:
            path = pooch.retrieve(
                url, known_hash=f"sha256:{sha256}" if sha256 else None, fname=name, path=folder, downloader=_download
            )
            return Path(path)
        except Exception as exc:  # network errors, HTTP errors, hash mismatch: try the next mirror
            errors.append(f"{url}: {_download_failure(exc)}")
    raise UsageError(
        f"could not download {what} file {name} ({'; '.join(errors)}). Put the file in {folder} by hand, {offline_hint}"
    )


DOWNLOAD_TIMEOUT = 30.0  # seconds to connect, and at most between two received bytes
DOWNLOAD_DEADLINE = 3600.0  # seconds for one whole file
# A download that receives fewer than STALL_BYTES in any STALL_SECONDS gives up (curl's --speed-limit 1024
# --speed-time 60): a server trickling a byte every few seconds would otherwise hold it up to the deadline.
STALL_BYTES, STALL_SECONDS = 1024, 60.0


class DownloadStalled(TimeoutError):
    pass


def _download(url: str, output_file, pooch_instance=None, check_only: bool = False):
    """pooch's downloader, with an overall deadline and a minimum rate. pooch's own (requests) has only a
    per-read timeout, so a server that trickles a byte at a time never ends it; this one stops when fewer than
    STALL_BYTES arrive in STALL_SECONDS, and at DOWNLOAD_DEADLINE whatever the rate."""
    import urllib.request

    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
        if check_only:
            return True
        total = int(response.headers.get("Content-Length") or 0) or None
        window_start, window_bytes = time.monotonic(), 0
        with (
            open(output_file, "wb") as out,
            tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=Path(url).name,
                disable=not sys.stderr.isatty(),
                leave=False,
            ) as bar,
        ):
            while chunk := response.read1(1 << 16):  # whatever has arrived, up to 64 kB
                out.write(chunk)
                bar.update(len(chunk))
                now, window_bytes = time.monotonic(), window_bytes + len(chunk)
                if now - window_start >= STALL_SECONDS:
                    if window_bytes < STALL_BYTES:
                        raise DownloadStalled(
                            f"stalled: {window_bytes} bytes in {now - window_start:.0f} s, under "
                            f"{STALL_BYTES} bytes per {STALL_SECONDS:.0f} s"
                        )
                    window_start, window_bytes = now, 0
                if now - started > DOWNLOAD_DEADLINE:
                    raise TimeoutError(f"download not finished within {DOWNLOAD_DEADLINE:.0f} s")
    return None


def _download_failure(exc: Exception) -> str:
    """A short reason for a failed download, instead of urllib3's nested repr."""
    text = str(exc)
    if isinstance(exc, DownloadStalled):
        return text
    if "hash" in text.lower():
        return "SHA-256 mismatch (file corrupt or tampered with; not used)"
    name = type(exc).__name__
    if "Timeout" in name or "timed out" in text.lower():
        return "timed out"
    if getattr(exc, "code", None) and isinstance(exc.code, int):  # urllib's HTTPError
        return f"HTTP {exc.code}"
    if "ConnectionError" in name or "connection" in text.lower() or "URLError" in name:
        return "no connection"
    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "status_code", None):
        return f"HTTP {response.status_code}"
    return (text.splitlines()[0] if text else name)[:120]


def default_data_dir() -> Path:
    env = os.environ.get("INFOGAN_DATA")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "infogan"
