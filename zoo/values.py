"""The one parser of typed setting values: :func:`coerce` (typed values, or command-line text).

Used by every configuration path (``zoo/config.py``, the CLI, study files, loader options), so a
mistake reads the same wherever it is typed: ``name must be <type>, got <value>.``
"""

from __future__ import annotations

import math
import numbers
import types
import typing
from collections.abc import Mapping
from typing import Any

from zoo.errors import ConfigError

SEED_MAX = 2**32 - 1
"""Largest seed: numpy's legacy seeding takes 32 bits (torch takes 64)."""
INT_LIMIT = 2**63 - 1
"""Integers beyond a C long overflow in torch and numpy."""
THREADS_MAX = 1024


class _Mismatch(Exception):
    """A value that does not fit; ``want`` overrides the type's description."""

    def __init__(self, want: str | None = None):
        self.want = want


INT_RANGES = {"seed": (0, SEED_MAX), "split_seed": (0, SEED_MAX), "threads": (0, THREADS_MAX)}
"""Integers with a narrower range than a C long."""


def unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """(type without ``None``, whether ``None`` is allowed)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        return (args[0] if len(args) == 1 else typing.Union[tuple(args)]), optional  # type: ignore[return-value]
    return tp, False


def describe(tp: Any) -> str:
    """``tp`` for a reader: 'an integer', 'a list of numbers or null', ..."""
    base, optional = unwrap_optional(tp)
    origin = typing.get_origin(base)
    if origin in (tuple, list):
        args = [a for a in typing.get_args(base) if a is not Ellipsis]
        plural = {int: "integers", float: "numbers", bool: "booleans", str: "strings"}
        text = f"a list of {plural.get(args[0], 'values') if args else 'values'}"
    elif origin is typing.Literal:
        text = "one of " + ", ".join(map(repr, typing.get_args(base)))
    else:
        text = {int: "an integer", float: "a finite number", bool: "true or false", str: "a non-empty string"}.get(base, "a value")
    return text + (" or null" if optional else "")


def shown(value: Any) -> str:
    """A value as an error message quotes it."""
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a mapping"
    return repr(tuple(value) if isinstance(value, list) else value)


def coerce(value: Any, tp: Any, name: str, *, text: bool = False, empty_ok: bool = False) -> Any:
    """``value`` as type ``tp``, or a :class:`ConfigError` ``name must be <type>, got <value>.``

    ``text``: ``value`` is a command-line string (``"8,8"``, ``"true"``, ``"1e-3"``,
    ``"none"``); otherwise a typed value (Python, YAML, JSON), where a string is never
    read as a number. Integers are bounded by :data:`INT_LIMIT`, floats must be finite,
    strings and list items must not be empty (unless ``empty_ok``). Tuples stay tuples;
    an integral float is accepted for an int field (``32.0``).
    """
    try:
        return _coerce(value, tp, text, empty_ok, INT_RANGES.get(name, (-INT_LIMIT, INT_LIMIT)))
    except _Mismatch as e:
        raise ConfigError(f"{name} must be {e.want or describe(tp)}, got {shown(value)}.") from None


def _coerce(value: Any, tp: Any, text: bool, empty_ok: bool, bounds: tuple[int, int] = (-INT_LIMIT, INT_LIMIT)) -> Any:
    base, optional = unwrap_optional(tp)
    if text and isinstance(value, str) and base is not str and optional and value.strip().lower() in ("none", "null"):
        return None
    if value is None:
        if optional or base is Any:
            return None
        raise _Mismatch
    origin = typing.get_origin(base)
    if base is Any or base is object:
        return value
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(base):
            try:
                return _coerce(value, arg, text, empty_ok, bounds)
            except _Mismatch:
                continue
        raise _Mismatch
    if origin is typing.Literal:
        if value in typing.get_args(base) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if origin in (tuple, list) or base in (tuple, list):
        if text and isinstance(value, str):
            inner = value.strip().strip("[]()")
            value = [p.strip() for p in inner.split(",")] if inner.strip() else []
            if not value or any(not p for p in value):
                raise _Mismatch  # '' or '1,,2': an empty item is a typo, never a value
        if not isinstance(value, (list, tuple)) or (not value and not empty_ok):
            raise _Mismatch  # an empty list only where the default is one
        args = [a for a in typing.get_args(base) if a is not Ellipsis]
        if origin is tuple and len(args) > 1 and Ellipsis not in typing.get_args(base):
            if len(value) != len(args):
                raise _Mismatch
            return tuple(_coerce(v, a, text, False) for v, a in zip(value, args))
        item = args[0] if args else Any
        out = [_coerce(v, item, text, False) for v in value]
        return tuple(out) if (origin is tuple or base is tuple) else out
    if origin in (dict, Mapping) or base is dict:
        if not isinstance(value, Mapping):
            raise _Mismatch
        return dict(value)
    if text and isinstance(value, str) and base in (bool, int, float):
        value = _parse_text(value.strip(), base)
    if base is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if isinstance(value, bool):
        raise _Mismatch
    if base is int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, numbers.Integral):
            if not bounds[0] <= int(value) <= bounds[1]:
                raise _Mismatch(f"an integer in [{bounds[0]}, {bounds[1]}]")
            return int(value)
        raise _Mismatch
    if base is float:
        if isinstance(value, numbers.Real) and math.isfinite(float(value)):
            return 0.0 if value == 0 else float(value)
        raise _Mismatch
    if base is str:
        if isinstance(value, str) and (value.strip() or empty_ok):
            return value
        raise _Mismatch
    return value


def _parse_text(text: str, base: type) -> Any:
    if not text.isascii():  # int('８') is 8: a number is written in ASCII digits
        raise _Mismatch
    low = text.lower()
    try:
        if base is bool:
            return {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}[low]
        if base is int:
            return int(text)
        return float(text)  # 'inf', '1e400' parse, and are refused as not finite
    except (KeyError, ValueError, OverflowError):
        raise _Mismatch from None
