"""YAML files as zoo reads them: ``1e-3`` is a float, duplicate keys are refused, and every
mistake names the file and the line (a :class:`FileError`, ``file: key.path: message``)."""

from __future__ import annotations

import re
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from zoo.errors import ConfigError


class FileError(ConfigError):
    """A mistake in a file the user wrote: ``file: key.path: message``."""

    def __init__(self, source: str, path: str, message: str, allowed: Sequence[Any] | None = None):
        if allowed is not None:
            message = f"{message.rstrip('.')} (allowed: {', '.join(map(str, allowed))})."
        text = f"{source}: {path}: {message}" if path else f"{source}: {message}"
        self.source, self.path = source, path
        super().__init__(text)


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads ``1e-3`` as a float (YAML 1.1 wants ``1.0e-3``) and rejects duplicate keys."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, typing.Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        if isinstance(key, typing.Hashable):
            seen[key] = True
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def read_yaml(path: str | Path, *, what: str = "file", error: type[FileError] = FileError) -> Any:
    """The parsed file; a syntax error, a duplicate key or an unreadable file is an ``error``."""
    try:
        if not Path(path).is_file():
            raise FileNotFoundError(2, "not a regular file" if Path(path).exists() else "no such file", str(path))
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise error(str(path), "", f"cannot read the {what} ({e.__class__.__name__}: {e}).") from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as e:
        where = ""
        mark = getattr(e, "problem_mark", None)
        if mark is not None:
            where = f"line {mark.line + 1}, column {mark.column + 1}: "
        problem = getattr(e, "problem", None) or str(e)
        raise error(str(path), "", f"{where}not valid YAML ({' '.join(str(problem).split())}).") from None
    except RecursionError:
        raise error(str(path), "", "nested too deeply to be a configuration.") from None
