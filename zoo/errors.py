"""User-facing errors.

Everything a user can get wrong (a name, a value, a file) raises a subclass of
:class:`ZooError` with one self-contained sentence. The CLI prints that sentence
and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations

import difflib
import errno
import os
from collections.abc import Iterable


class ZooError(Exception):
    """A mistake in what the user asked for, explained in one message."""


class ConfigError(ZooError, ValueError):
    """An invalid value for a known setting."""


class UnknownNameError(ZooError, KeyError):
    """A name that is not in one of the zoo's tables."""

    def __init__(self, kind: str, name: object, allowed: Iterable[str]):
        allowed = sorted(allowed)
        self.kind, self.name, self.allowed = kind, name, allowed
        close = difflib.get_close_matches(str(name), allowed, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        super().__init__(f"unknown {kind} {name!r}.{hint} Allowed: {', '.join(allowed)}.")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class DataError(ZooError, OSError):
    """A data file is missing, corrupt or unreadable."""


class CheckpointError(ZooError, OSError):
    """A checkpoint is missing, corrupt, or does not fit what was asked."""


class FileError(ZooError, OSError):
    """A file given to the zoo is missing, of the wrong kind (a directory, a device) or too large."""


class StorageError(ZooError, OSError):
    """The disk is full, over quota or read-only: nothing is wrong with the request, only with where it writes."""


STORAGE_ERRNOS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
                  errno.EROFS: "the file system is read-only"}
"""Errors of the place being written, not of the request: a write that meets one stops the command."""


def storage_error(e: BaseException | str | None, where: str | None = None) -> StorageError | None:
    """A one-line :class:`StorageError` for an ``OSError`` that is ENOSPC, EDQUOT or EROFS, else None.

    ``e`` may also be a recorded failure reason (``OSError: [Errno 28] No space left on device: ...``,
    as a worker reports it). ``where`` names what was being written (default: the error's file).
    The CLI prints these as ``zoo: error: ...`` instead of a traceback; the sweep uses them to tell
    "the disk is full" (stop, resume later) from a failed cell.
    """
    if isinstance(e, StorageError) and where is None:
        return e
    if isinstance(e, str):
        n = next((n for n in STORAGE_ERRNOS if f"[Errno {n}] " in e or e.startswith(STORAGE_ERRNOS[n])), None)
        filename = None
    elif isinstance(e, OSError):
        n = e.errno if e.errno in STORAGE_ERRNOS else None
        filename = e.filename
    else:
        n = None
    if n is None:
        return None
    where = where or (f"writing {filename}" if filename else "writing")
    return StorageError(f"{STORAGE_ERRNOS[n]} ({os.strerror(n)}) {where}; free some space (or choose another "
                        "--out) and run the command again.")


def check_choice(kind: str, value: object, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise :class:`UnknownNameError`."""
    allowed = list(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise UnknownNameError(kind, value, allowed)
    return value


def check_positive(name: str, value: object, *, allow_zero: bool = False, integer: bool = False) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a positive (or non-negative) number."""
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or value < 0 or (value == 0 and not allow_zero) or value != value:
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{name} must be {kind} {bound}, got {value!r}.")


def check_fraction(name: str, value: object, *, inclusive_high: bool = False) -> None:
    """Raise :class:`ConfigError` unless ``0 <= value < 1`` (or ``<= 1``)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value
    ok = ok and (value <= 1 if inclusive_high else value < 1)
    if not ok:
        hi = "1]" if inclusive_high else "1)"
        raise ConfigError(f"{name} must be in [0, {hi}, got {value!r}.")
