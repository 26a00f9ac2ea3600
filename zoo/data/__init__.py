"""Datasets: cards, verified files, and loaders returning LightningDataModules.

>>> from zoo import data
>>> dm = data.load("digits", batch_size=64)        # embedded: no files needed  # doctest: +SKIP
>>> dm = data.load("mnist", limit=1000, seed=1)    # reads $ZOO_DATA/mnist/*.gz  # doctest: +SKIP

``load(name, **options)`` looks the loader up in the registry
(:mod:`zoo.data.registry`); each loader fetches its files through
:func:`fetch` (sha256-verified, downloaded only when missing) and returns a
:class:`TensorDataModule` whose ``info`` (:class:`DataInfo`) tells a model its
input shape, classes and feature names.

The registry imports no loader module; this package does, on the first
look-up (the loaders pull in scikit-learn and pandas, which ``import zoo.data``
need not pay for). A new loader module is a file here plus its name in
:func:`_register_loaders`.
"""

from __future__ import annotations

import functools
from typing import Any

from zoo.data import registry
from zoo.data.cards import Card, DataFile, get_card, list_cards
from zoo.data.core import DataInfo, TensorBatches, TensorDataModule
from zoo.data.files import data_dir, fetch
from zoo.data.registry import DatasetEntry, register_dataset


@functools.cache  # once per process (a failed import is retried on the next call)
def _register_loaders() -> None:
    """Import every loader module: each registers its datasets when imported."""
    from zoo.data import charlm, corpus, images, tabular, translation  # noqa: F401


def get_dataset(name: str) -> DatasetEntry:
    """The entry for ``name``; an unknown name lists close matches."""
    _register_loaders()
    return registry.get_dataset(name)


def list_datasets(pattern: str = "*") -> list[str]:
    """Sorted dataset names matching a shell-style ``pattern``."""
    _register_loaders()
    return registry.list_datasets(pattern)


def load(name: str, **options: Any) -> Any:
    """Build the data module (a LightningDataModule) of dataset ``name`` with the loader's keyword ``options``.

    >>> dm = load("digits", batch_size=64, seed=1)   # doctest: +SKIP
    """
    _register_loaders()
    return registry.load(name, **options)


__all__ = [
    "Card",
    "DataFile",
    "DataInfo",
    "TensorBatches",
    "TensorDataModule",
    "data_dir",
    "fetch",
    "get_card",
    "get_dataset",
    "list_cards",
    "list_datasets",
    "load",
    "register_dataset",
]
