"""Dataset registry: what each dataset is (declared, pure Python) and the loader that builds it (bound lazily).

A dataset is declared with :func:`declare_dataset`: its name, task kind, card,
and its options as a dataclass whose fields are the keyword options of
:func:`zoo.data.load` (types and defaults). Every options class has the fields
``batch_size``, ``eval_batch_size`` and ``seed``. Declarations import neither
torch nor Lightning, so checking a study or a configuration (names, kinds,
option types) does not load them; ``zoo/data/catalogue.py`` declares the
shipped datasets.

A loader is a function of one argument, the options instance, returning a
LightningDataModule; :func:`register_loader` binds it to a declared name. The
loader modules (``zoo/data/images.py``, ``tabular.py`` ...) bind theirs when
imported; :mod:`zoo.data` imports them the first time data is loaded.
:func:`load` rejects an option the dataset does not take, listing the ones it
does, so a typo in a study fails before any data is read.

This module imports no other module of :mod:`zoo.data`, as :mod:`zoo.registry`
imports no model family.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zoo.errors import ConfigError, UnknownNameError, check_choice

TASK_KINDS = ("binary", "multiclass", "regression", "language_model", "seq2seq", "embedding")

# The options every dataset must accept (the rest are its own).
COMMON_OPTIONS = ("batch_size", "eval_batch_size", "seed")

Loader = Callable[[Any], Any]
"""``loader(options) -> LightningDataModule``, ``options`` an instance of the dataset's options class."""


@dataclass(frozen=True)
class DatasetEntry:
    """What the zoo knows about one declared dataset, without importing its loader."""

    name: str
    kind: str
    """Task kind, one of :data:`TASK_KINDS`."""
    card: str
    """Name of its dataset card (``datasets/<card>.toml``); a dataset that reads files must have one."""
    options_type: type
    """Dataclass of its keyword options (field types and defaults)."""
    doc: str
    """What the loader builds; the first line is the summary ``zoo list`` shows."""
    embedded: bool = False
    """True when the data ship with the package or an installed one (scikit-learn): no data directory needed."""

    @property
    def summary(self) -> str:
        return self.doc.splitlines()[0] if self.doc else ""

    @property
    def options(self) -> dict[str, inspect.Parameter]:
        """Keyword options the dataset accepts, with their defaults."""
        return dict(inspect.signature(self.options_type).parameters)

    @property
    def option_types(self) -> dict[str, Any]:
        """``{option: type}`` (evaluated annotations of the options class)."""
        return {k: v for k, v in typing.get_type_hints(self.options_type).items() if k in self.options}

    @property
    def loader(self) -> Loader:
        """The bound loader; :mod:`zoo.data` imports the loader modules before asking."""
        try:
            return _LOADERS[self.name]
        except KeyError:
            raise ConfigError(f"dataset {self.name!r} has no loader; import the module that registers it.") from None


_REGISTRY: dict[str, DatasetEntry] = {}
_LOADERS: dict[str, Loader] = {}


def declare_dataset(
    name: str, *, kind: str, options: type, doc: str, card: str | None = None, embedded: bool = False
) -> DatasetEntry:
    """Declare dataset ``name``: its task ``kind``, options dataclass, ``doc``, ``card`` (default: ``name``)."""
    check_choice("task kind", kind, TASK_KINDS)
    if name in _REGISTRY:
        raise ValueError(f"dataset {name!r} is already declared (options {_REGISTRY[name].options_type.__qualname__}).")
    if not dataclasses.is_dataclass(options):
        raise TypeError(f"the options of dataset {name!r} must be a dataclass, got {options!r}.")
    entry = DatasetEntry(name, kind, card or name, options, inspect.cleandoc(doc), embedded)
    missing = [o for o in COMMON_OPTIONS if o not in entry.options]
    if missing:
        raise TypeError(f"options {options.__qualname__} of dataset {name!r} must have the field {missing[0]!r}.")
    _REGISTRY[name] = entry
    return entry


def register_loader(name: str) -> Callable[[Loader], Loader]:
    """Decorator binding ``loader(options)`` to the declared dataset ``name``."""

    def wrap(fn: Loader) -> Loader:
        get_dataset(name)
        if name in _LOADERS:
            raise ValueError(f"dataset {name!r} already has a loader ({_LOADERS[name].__module__}).")
        _LOADERS[name] = fn
        return fn

    return wrap


def register_dataset(
    name: str, *, kind: str, options: type, card: str | None = None, embedded: bool = False
) -> Callable[[Loader], Loader]:
    """Decorator declaring ``name`` and binding the decorated loader at once (its docstring is the doc)."""
    check_choice("task kind", kind, TASK_KINDS)

    def wrap(fn: Loader) -> Loader:
        declare_dataset(name, kind=kind, options=options, doc=inspect.getdoc(fn) or "", card=card, embedded=embedded)
        return register_loader(name)(fn)

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


def load(name: str, **options: Any) -> Any:
    """Build the data module (a LightningDataModule) of dataset ``name`` with its keyword ``options``.

    >>> dm = load("digits", batch_size=64, seed=1)   # doctest: +SKIP
    """
    entry = get_dataset(name)
    allowed = entry.options
    for key in sorted(options):
        if key not in allowed:
            raise UnknownNameError(f"option for dataset {name!r}", key, allowed)
    return entry.loader(entry.options_type(**options))
