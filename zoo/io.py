"""File primitives every layer shares: sha256 of a file, atomic JSON writes, bounded reads.

Kept free of torch, Lightning and every other zoo module so that the store,
the report and the data fetcher can use them without importing a model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from zoo.errors import ConfigError, FileError, ZooError

CHUNK = 1 << 20  # 1 MiB reads


def sha256_file(path: str | Path, chunk: int = CHUNK) -> str:
    """Hex sha256 of a file, streamed in ``chunk``-byte reads (opens read-only)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _open_regular(path: Path, *, max_bytes: int, size: int | None, what: str, error: type[ZooError]) -> tuple[int, int]:
    """(descriptor, size) of ``path`` opened read-only and non-blocking, checked to be a regular file
    of at most ``max_bytes`` (exactly ``size`` when given); else ``error``, one line naming the file."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist.") from None
    except IsADirectoryError:
        raise error(f"{what} {path} is a directory, not a file.") from None
    except OSError as e:
        raise error(f"cannot open {what} {path}: {e.strerror or e}.") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{what} {path} is {_kind(st.st_mode)}, not a regular file.")
        if st.st_size > max_bytes:
            raise error(f"{what} {path} is {st.st_size:,} bytes, more than the {max_bytes:,} allowed.")
        if size is not None and st.st_size != size:
            raise error(f"{what} {path} is {st.st_size:,} bytes, not the {size:,} recorded for it; it is corrupt or was changed.")
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


def check_regular(path: str | Path, *, max_bytes: int, what: str = "file", error: type[ZooError] = FileError) -> int:
    """The size of ``path`` if it is a regular file of at most ``max_bytes`` (links followed), else ``error``."""
    fd, n = _open_regular(Path(path), max_bytes=max_bytes, size=None, what=what, error=error)
    os.close(fd)
    return n


def read_regular(
    path: str | Path,
    *,
    max_bytes: int,
    size: int | None = None,
    what: str = "file",
    error: type[ZooError] = FileError,
) -> bytes:
    """The bytes of ``path``, which must be a regular file (links are followed) of at most ``max_bytes``
    (and of exactly ``size`` bytes when given); else ``error`` with one line naming the file.

    Opened non-blocking, so a pipe never hangs the reader; checked with ``fstat`` on the open
    descriptor (what is read is what was checked), and never more than ``max_bytes + 1`` bytes
    are read, so a file that grows meanwhile (or a device such as /dev/zero) cannot fill memory.
    """
    path = Path(path)
    fd, _ = _open_regular(path, max_bytes=max_bytes, size=size, what=what, error=error)
    limit = max_bytes if size is None else size
    chunks, total = [], 0
    try:
        while total <= limit:
            block = os.read(fd, min(CHUNK, limit + 1 - total))
            if not block:
                break
            chunks.append(block)
            total += len(block)
    except OSError as e:
        raise error(f"cannot read {what} {path}: {e.strerror or e}.") from None
    finally:
        os.close(fd)
    if total > limit or (size is not None and total != size):
        raise error(f"{what} {path} changed size while it was read; it is being written or is not a plain file.")
    return b"".join(chunks)


def check_output_dir(path: str | Path, *, flag: str = "--out", new: bool = False,
                     error: type[ZooError] = ConfigError) -> Path:
    """``path`` if it is a folder that can be created or written (checked before any work), else one line.

    Refused: an empty value, a path that exists but is not a folder, one under a file, one whose
    nearest existing folder is not writable (``os.access`` also reports a read-only file system,
    as root), and with ``new`` a folder that exists and is not empty (an earlier run is never
    overwritten). ``flag`` names the value in the message. The one check of ``zoo train``,
    ``zoo bench`` and ``zoo report``.
    """
    if not str(path).strip():
        raise error(f"{flag} is empty; pass a folder.")
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise error(f"{flag} {str(p)!r} is a file, not a folder; choose a folder (nothing was written).")
    if new and p.is_dir() and any(p.iterdir()):
        raise error(f"{flag} {str(p)!r} already exists and is not empty; choose a new folder (nothing was written).")
    first = p
    while not first.exists() and first != first.parent:
        first = first.parent
    if not first.is_dir():
        raise error(f"{flag} {str(p)!r} lies under {str(first)!r}, which is a file, not a folder; choose a folder "
                    "(nothing was written).")
    if not os.access(first, os.W_OK | os.X_OK):
        raise error(f"{flag} {str(p)!r}: {str(first)!r} is not writable (a read-only file system or no permission); "
                    "choose another folder (nothing was written).")
    return p


def make_output_dir(path: Path, *, flag: str = "--out", error: type[ZooError] = ConfigError) -> None:
    """Create the folder ``path`` checked by :func:`check_output_dir`; a failure is one line."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise error(f"{flag} {str(path)!r} cannot be created ({e.strerror or e}).") from None


def jsonable(obj: Any) -> Any:
    """``obj`` with dataclasses, tuples and tensors turned into JSON types (tensors via ``tolist``)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "tolist") and callable(obj.tolist):  # torch.Tensor / numpy scalars, without importing torch
        return obj.tolist()
    return obj


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write JSON to ``path`` so that a reader sees the old file or the whole new one."""
    text = json.dumps(jsonable(obj), indent=2, sort_keys=False, allow_nan=True)
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the whole new one (temporary file,
    fsync, ``os.replace``); on any failure (a full disk) the temporary file is removed."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results on a shared filesystem are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
