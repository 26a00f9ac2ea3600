"""Datasets: cards, verified files, and loaders returning LightningDataModules.

>>> from zoo import data
>>> dm = data.load("digits", batch_size=64)        # embedded: no files needed  # doctest: +SKIP
>>> dm = data.load("mnist", limit=1000, seed=1)    # reads $ZOO_DATA/mnist/*.gz  # doctest: +SKIP

``load(name, **options)`` looks the loader up in the registry
(:mod:`zoo.data.registry`); each loader fetches its files through
:func:`fetch` (sha256-verified, downloaded only when missing) and returns a
:class:`TensorDataModule` whose ``info`` (:class:`DataInfo`) tells a model its
input shape, classes and feature names.
"""

from zoo.data.cards import Card, DataFile, get_card, list_cards
from zoo.data.core import DataInfo, TensorBatches, TensorDataModule
from zoo.data.files import data_dir, fetch
from zoo.data.registry import get_dataset, list_datasets, load, register_dataset

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
