"""The data directory, sha256 verification and downloads: the one way a loader gets a file.

Every loader calls :func:`fetch` with its card and a file path. ``fetch``
returns a verified local path or raises one :class:`~zoo.errors.DataError`
that says where to put the file. It never writes when the file is already
present, so a read-only data directory (``../shared/data`` in CI) works.

Environment:

``ZOO_DATA``
    The data directory. Default ``$XDG_CACHE_HOME/zoobench/data``, else
    ``~/.cache/zoobench/data``.
``ZOO_MIRROR``
    Comma-separated base URLs (or local folders) tried before a card's URLs;
    a file is at ``<base>/<path>``, the layout of the data directory.
``ZOO_OFFLINE``
    ``1`` (or ``true``/``yes``/``on``): never download.
``ZOO_DOWNLOAD_TIMEOUT``
    Seconds a download may wait for the server (connect or read), default 30.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from collections.abc import Callable
from typing import BinaryIO

from zoo.data.cards import Card, DataFile, get_card
from zoo.errors import ConfigError, DataError, ZooError
from zoo.io import sha256_file

log = logging.getLogger(__name__)

CHUNK = 1 << 20  # 1 MiB: bounded memory for hashing and downloading
DEFAULT_TIMEOUT = 30.0  # seconds
_USER_AGENT = "zoobench-data-fetch/1"

# Files verified in this process, keyed by what would change if the file did:
# (path, size, mtime_ns, inode, expected sha256). A long-lived bench worker
# loads the same 26 MB file for every cell; hashing it once is enough.
_verified: set[tuple[str, int, int, int, str]] = set()


def data_dir() -> Path:
    """The absolute data directory (``$ZOO_DATA`` or a per-user cache folder); not created here."""
    env = os.environ.get("ZOO_DATA")
    if env:
        root = Path(env)
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        root = Path(cache) / "zoobench" / "data"
    return root.expanduser().absolute()


def verify(path: Path, file: DataFile, card_name: str) -> None:
    """Raise :class:`DataError` unless ``path`` has ``file.sha256``."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino, file.sha256)
    if key in _verified:
        return
    actual = sha256_file(path)
    if actual != file.sha256:
        raise DataError(
            f"data file {path} is corrupt: its sha256 is {actual} ({st.st_size} bytes) but dataset card "
            f"{card_name!r} expects {file.sha256} ({file.size} bytes); delete it so that it is downloaded "
            f"again, or replace it with a good copy."
        )
    _verified.add(key)


def fetch(card: Card | str, path: str) -> Path:
    """Local, verified path of the file ``path`` of ``card``, downloading it if missing.

    ``path`` is relative to the data directory, as listed in the card
    (``mnist/train-images-idx3-ubyte.gz``). A present file is only read; a
    missing one is downloaded from ``ZOO_MIRROR`` then the card's URLs into a
    temporary file next to its destination, verified, and renamed into place
    (so the final name never holds a partial or corrupt file).
    """
    card = get_card(card) if isinstance(card, str) else card
    file = card.file(path)
    dest = data_dir() / file.path
    if dest.is_file():
        verify(dest, file, card.name)
        return dest

    def missing(why: str) -> DataError:
        return DataError(
            f"missing data file {file.path} (sha256 {file.sha256}): put it at {dest} or set ZOO_DATA to a "
            f"folder that has it; {why}."
        )

    hint = f" (the notes of dataset card {card.name!r} say how to make it)" if card.notes else ""
    return download(file, dest, missing, no_source_hint=hint)


def download(file: DataFile, dest: Path, missing: Callable[[str], ZooError], *, no_source_hint: str = "") -> Path:
    """Download ``file`` into ``dest``, verified, from ``ZOO_MIRROR`` then ``file.urls``.

    The one download path of the zoo (datasets and pretrained weights): ``ZOO_OFFLINE=1``
    never downloads, every source's bytes are checked against ``file.size`` and
    ``file.sha256`` before the rename, and ``missing(why)`` makes the one-line error
    raised when no source delivers.
    """
    if _offline():
        raise missing("downloads are off (ZOO_OFFLINE is set)")
    sources = [_mirror_url(base, file.path) for base in mirrors()] + list(file.urls)
    if not sources:
        raise missing(f"no URL serves this exact file, so set ZOO_MIRROR to a base URL that does{no_source_hint}")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise missing(f"cannot create {dest.parent} to download into ({e.strerror or e})") from None

    timeout = _timeout()
    failures = []
    for url in sources:
        try:
            _download(url, file, dest, timeout)
        except _DownloadFailed as e:
            log.warning("download of %s from %s failed: %s", file.path, url, e)
            failures.append(f"{url} ({e})")
            if e.fatal:
                break
        else:
            return dest
    raise missing("download failed: " + ", ".join(failures))


# ----------------------------------------------------------------------------- downloading


class _DownloadFailed(Exception):
    """One source failed; the message is the short reason shown to the user."""

    def __init__(self, reason: str, *, fatal: bool = False):
        super().__init__(reason)
        self.fatal = fatal
        """True when no other source can do better (the destination is not writable)."""


def _download(url: str, file: DataFile, dest: Path, timeout: float) -> None:
    """Stream ``url`` into a temp file beside ``dest``, check size and sha256, then rename it to ``dest``."""
    log.info("downloading %s -> %s", url, dest)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as e:
        raise _DownloadFailed(f"cannot write to {dest.parent}: {e.strerror or e}", fatal=True) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            actual, received = _copy_url(url, out, file.size, timeout)
            out.flush()
            os.fsync(out.fileno())
        if actual != file.sha256:
            raise _DownloadFailed(f"sha256 mismatch: got {actual} in {received} bytes")
        os.replace(tmp, dest)  # atomic on one filesystem: dest is whole or absent
    except BaseException:  # any failure, KeyboardInterrupt included: leave no temp file behind
        tmp.unlink(missing_ok=True)
        raise


def _copy_url(url: str, out: BinaryIO, max_bytes: int, timeout: float) -> tuple[str, int]:
    """Copy the body of ``url`` into ``out``; returns (sha256, bytes). Errors become :class:`_DownloadFailed`."""
    h = hashlib.sha256()
    received = 0
    try:
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            while chunk := response.read(CHUNK):
                received += len(chunk)
                if received > max_bytes:  # wrong file or endless stream: stop early
                    raise _DownloadFailed(f"more than the expected {max_bytes} bytes")
                h.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as e:
        raise _DownloadFailed(f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise _DownloadFailed(_reason(e.reason, timeout)) from None
    except (OSError, ValueError, http.client.HTTPException) as e:  # timeouts, resets, cut-off bodies, bad URLs
        raise _DownloadFailed(_reason(e, timeout)) from None
    return h.hexdigest(), received


def _reason(err: object, timeout: float) -> str:
    if isinstance(err, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__


# ----------------------------------------------------------------------------- environment


def _offline() -> bool:
    return os.environ.get("ZOO_OFFLINE", "").strip().lower() not in ("", "0", "false", "no", "off")


def mirrors() -> list[str]:
    return [m.strip() for m in os.environ.get("ZOO_MIRROR", "").split(",") if m.strip()]


def _mirror_url(base: str, path: str) -> str:
    """``<base>/<path>``; a base without a scheme is a local folder (``file://`` URL)."""
    if "://" not in base:
        base = Path(base).expanduser().absolute().as_uri()
    return f"{base.rstrip('/')}/{path}"


def _timeout() -> float:
    raw = os.environ.get("ZOO_DOWNLOAD_TIMEOUT", "")
    if not raw.strip():
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise ConfigError(f"ZOO_DOWNLOAD_TIMEOUT must be a number of seconds > 0, got {raw!r}.")
    return value
