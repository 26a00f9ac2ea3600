"""Datasets: declarations, cards, verified files, and loaders returning LightningDataModules.

>>> from zoo import data
>>> dm = data.load("digits", batch_size=64)        # embedded: no files needed  # doctest: +SKIP
>>> dm = data.load("mnist", limit=1000, seed=1)    # reads $ZOO_DATA/mnist/*.gz  # doctest: +SKIP

What a dataset is (name, task kind, card, options and their types) is declared
in :mod:`zoo.data.catalogue` and looked up in :mod:`zoo.data.registry`; both
are pure Python, so ``import zoo.data``, :func:`get_dataset` and
:func:`list_datasets` import neither torch nor Lightning, and checking a study
file does not load them. ``load(name, **options)`` imports the loader modules
(torch, Lightning, scikit-learn, pandas) the first time it is called; each
loader fetches its files through :func:`fetch` (sha256-verified, downloaded
only when missing) and returns a :class:`TensorDataModule` (or a family's own
data module) whose ``info`` (:class:`DataInfo`) tells a model its input shape,
classes and feature names. A new loader module is a file here plus its name in
:func:`_register_loaders`.
"""

from __future__ import annotations

import functools
from typing import Any

from zoo.data import catalogue, registry  # noqa: F401  (catalogue declares the shipped datasets)
from zoo.data.cards import Card, DataFile, get_card, list_cards
from zoo.data.files import data_dir, fetch
from zoo.data.registry import DatasetEntry, declare_dataset, get_dataset, list_datasets, register_dataset, register_loader

_LAZY = {"DataInfo", "TensorBatches", "TensorDataModule"}  # zoo.data.core imports torch and Lightning


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from zoo.data import core

        return getattr(core, name)
    raise AttributeError(f"module 'zoo.data' has no attribute {name!r}")


@functools.cache  # once per process (a failed import is retried on the next call)
def _register_loaders() -> None:
    """Import every loader module: each binds the loaders of its datasets when imported."""
    from zoo.data import charlm, corpus, images, tabular, translation  # noqa: F401


def load(name: str, **options: Any) -> Any:
    """Build the data module (a LightningDataModule) of dataset ``name`` with its keyword ``options``.

    >>> dm = load("digits", batch_size=64, seed=1)   # doctest: +SKIP
    """
    registry.get_dataset(name)  # an unknown name fails before the loaders are imported
    _register_loaders()
    return registry.load(name, **options)


__all__ = [
    "Card",
    "DataFile",
    "DataInfo",
    "DatasetEntry",
    "TensorBatches",
    "TensorDataModule",
    "data_dir",
    "declare_dataset",
    "fetch",
    "get_card",
    "get_dataset",
    "list_cards",
    "list_datasets",
    "load",
    "register_dataset",
    "register_loader",
]
