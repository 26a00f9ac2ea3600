"""Dataset registry: dataset name -> loader function returning a LightningDataModule.

A loader is a function of keyword options only. Every loader accepts
``batch_size=32``, ``eval_batch_size=1024`` and ``seed=0`` plus its own
options (``val_size``, ``limit``, ``flatten`` ...); :func:`load` rejects an
option the loader does not take, listing the ones it does, so a typo in a
study fails before any data is read.

This module imports no loader module (each imports it to register itself);
:mod:`zoo.data` imports them all before its look-ups, as :mod:`zoo.models` does
for the model families.
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightning as L

from zoo.data.core import TASK_KINDS
from zoo.errors import UnknownNameError, check_choice

Loader = Callable[..., L.LightningDataModule]

# The options every loader must accept (the rest are its own).
COMMON_OPTIONS = ("batch_size", "eval_batch_size", "seed")


@dataclass(frozen=True)
class DatasetEntry:
    """What the zoo knows about one registered dataset."""

    name: str
    loader: Loader
    kind: str
    """Task kind, one of ``zoo.data.core.TASK_KINDS``."""
    card: str
    """Name of its dataset card (``datasets/<card>.toml``); a dataset that reads files must have one."""
    embedded: bool = False
    """True when the data ship with an installed package (scikit-learn): no data directory needed."""

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.loader) or ""

    @property
    def summary(self) -> str:
        return self.doc.splitlines()[0] if self.doc else ""

    @property
    def options(self) -> dict[str, inspect.Parameter]:
        """Keyword options the loader accepts, with their defaults."""
        params = inspect.signature(self.loader).parameters.values()
        return {p.name: p for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


_REGISTRY: dict[str, DatasetEntry] = {}


def register_dataset(
    name: str, *, kind: str, card: str | None = None, embedded: bool = False
) -> Callable[[Loader], Loader]:
    """Decorator registering a loader under ``name``.

    ``card`` names the dataset card (default: ``name``); ``embedded`` marks data
    that ship with an installed package (no data directory, no card files).
    """

    check_choice("task kind", kind, TASK_KINDS)

    def wrap(fn: Loader) -> Loader:
        if name in _REGISTRY:
            raise ValueError(f"dataset {name!r} is already registered (by {_REGISTRY[name].loader.__module__}).")
        entry = DatasetEntry(name, fn, kind, card or name, embedded)
        missing = [o for o in COMMON_OPTIONS if o not in entry.options]
        if missing:
            raise TypeError(f"loader {fn.__qualname__} must accept the option {missing[0]!r}.")
        _REGISTRY[name] = entry
        return fn

    return wrap


def get_dataset(name: str) -> DatasetEntry:
    """The entry for ``name``; an unknown name lists close matches."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownNameError("dataset", name, _REGISTRY) from None


def list_datasets(pattern: str = "*") -> list[str]:
    """Sorted dataset names matching a shell-style ``pattern``."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern))


def load(name: str, **options: Any) -> L.LightningDataModule:
    """Build the data module of dataset ``name`` with the loader's keyword ``options``.

    >>> dm = load("digits", batch_size=64, seed=1)   # doctest: +SKIP
    """
    entry = get_dataset(name)
    allowed = entry.options
    for key in sorted(options):
        if key not in allowed:
            raise UnknownNameError(f"option for dataset {name!r}", key, allowed)
    return entry.loader(**options)
