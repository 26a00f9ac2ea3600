"""Command-line flags generated from config dataclasses, with help from field docstrings.

Config dataclasses are the source of truth (DESIGN.md, Configuration): each
field has a type, a default and a docstring right under it, which becomes the
flag's help text, as in litgpt's ``args.py``. Values are checked by the
dataclass itself (``__post_init__``), so the CLI, the Python API and study
files give the same message for the same mistake.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import textwrap
import types
import typing
from functools import lru_cache
from typing import Any

from zoo.errors import ConfigError


@lru_cache(maxsize=None)
def field_docs(cls: type) -> dict[str, str]:
    """``{field: docstring}`` read from the string literal under each field of ``cls``."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, nxt in zip(body, body[1:]):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str):
                    docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def _base_type(tp: Any) -> tuple[Any, bool]:
    """(type without Optional, optional?)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else str), True
    return tp, False


def parse_value(text: str, tp: Any, name: str) -> Any:
    """Parse one flag value of type ``tp`` (a comma list for tuples; none/null for Optional)."""
    base, optional = _base_type(tp)
    if optional and text.lower() in ("none", "null", ""):
        return None
    try:
        if typing.get_origin(base) in (tuple, list):
            (item,) = typing.get_args(base)[:1] or (str,)
            parts = [p for p in text.replace("[", "").replace("]", "").replace("(", "").replace(")", "").split(",") if p.strip()]
            return tuple(parse_value(p.strip(), item, name) for p in parts)
        if base is bool:
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if base is int:
            return int(text)
        if base is float:
            return float(text)
        return text
    except ValueError:
        want = {int: "an integer", float: "a number", bool: "true or false"}.get(base, "a comma-separated list" if typing.get_origin(base) else "a string")
        raise ConfigError(f"--{name} must be {want}, got {text!r}.") from None


def add_dataclass_flags(parser: argparse.ArgumentParser | Any, cls: type, *, skip: set[str] = frozenset(), title: str | None = None) -> list[str]:
    """Add ``--field`` (and ``--field-name``) for each field of ``cls``; returns the field names added."""
    group = parser.add_argument_group(title or (cls.__doc__ or cls.__name__).splitlines()[0])
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    added = []
    for f in dataclasses.fields(cls):
        if f.name in skip or f.name.startswith("_"):
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        names = [f"--{f.name}"] + ([f"--{f.name.replace('_', '-')}"] if "_" in f.name else [])
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        group.add_argument(
            *names,
            dest=f.name,
            metavar=_metavar(hints[f.name]),
            default=argparse.SUPPRESS,
            help=f"{docs.get(f.name, '')} (default: {shown})",
            type=TypedValue(hints[f.name], f.name),
        )
        added.append(f.name)
    return added


class TypedValue:
    """argparse ``type=`` for a typed value, reporting our one-line message."""

    def __init__(self, tp: Any, name: str):
        self.tp, self.name, self.__name__ = tp, name, name

    def __call__(self, text: str) -> Any:
        try:
            return parse_value(text, self.tp, self.name)
        except ConfigError as e:  # argparse reports ArgumentTypeError's own message
            raise argparse.ArgumentTypeError(str(e)) from None


def _metavar(tp: Any) -> str:
    base, _ = _base_type(tp)
    if typing.get_origin(base) in (tuple, list):
        return "A,B,..."
    return {int: "INT", float: "FLOAT", bool: "BOOL"}.get(base, "STR")
