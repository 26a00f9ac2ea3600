"""Tabular datasets: California housing (a data file) and scikit-learn's bundled sets.

Features are float32 ``(N, F)`` and are **not scaled** here: the models' input
scaler fits mean/std on the training split (``zoo.layers``), so no statistic
of the validation or test rows leaks into training. Missing values are imputed
here, from the training split only, because a scaler cannot handle NaN.

Targets: int64 ``(N,)`` class indices for ``binary``/``multiclass`` sets,
float32 ``(N, 1)`` for ``regression``.

Splits: the sizes in each card (60/20/20 rounded), seeded by ``split_seed``
(default ``seed``); stratified by class for classification (scikit-learn's
``train_test_split``), a plain seeded permutation (:func:`zoo.data.core.seeded_split`)
for regression.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn import datasets as skdatasets
from sklearn.model_selection import train_test_split

from zoo.data.cards import get_card
from zoo.data.catalogue import TableOptions
from zoo.data.core import DataInfo, TensorDataModule, restrict, seeded_split
from zoo.data.files import fetch
from zoo.data.registry import register_loader
from zoo.errors import ConfigError, DataError, check_positive

# ----------------------------------------------------------------------------- shared


def _split_indices(
    name: str, n: int, sizes: Mapping[str, int], seed: int, stratify: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint train/val/test row indices with exactly the card's sizes."""
    check_positive("split_seed", seed, allow_zero=True, integer=True)  # scikit-learn needs 0 <= seed < 2**32
    n_train, n_val, n_test = sizes["train"], sizes["val"], sizes["test"]
    if n_train + n_val + n_test != n:
        raise DataError(
            f"dataset {name!r} has {n} rows but its card's splits add up to {n_train + n_val + n_test}; "
            f"update [splits] in datasets/{name}.toml."
        )
    if stratify is None:
        train, val, test = seeded_split(n, [n_train / n, n_val / n, n_test / n], seed)
        return train.numpy(), val.numpy(), test.numpy()
    rows = np.arange(n)
    rest, test_rows = train_test_split(rows, test_size=n_test, stratify=stratify, random_state=seed)
    train_rows, val_rows = train_test_split(rest, test_size=n_val, stratify=stratify[rest], random_state=seed)
    return train_rows, val_rows, test_rows


def _datamodule(
    info: DataInfo,
    x: np.ndarray,
    y: np.ndarray,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    batch_size: int,
    eval_batch_size: int,
    seed: int,
) -> TensorDataModule:
    """Tensors of each split: x float32 (N, F); y int64 (N,) or float32 (N, 1) as given."""
    splits = [(torch.from_numpy(x[r].astype(np.float32)), torch.from_numpy(y[r])) for r in rows]
    info.extra["sizes"] = {s: len(r) for s, r in zip(("train", "val", "test"), rows)}
    return TensorDataModule(
        info, *splits, batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed
    )


def _limit(train_rows: np.ndarray, limit: int | None) -> np.ndarray:
    """The first ``limit`` training rows (a random subset: the rows come shuffled)."""
    if limit is None:
        return train_rows
    check_positive("limit", limit, integer=True)
    return train_rows[:limit]


def _target_stats(y: np.ndarray) -> dict[str, float]:
    """Mean and standard deviation of a regression target over the training split."""
    return {"target_mean": float(y.mean()), "target_std": float(y.std())}


# ----------------------------------------------------------------------------- California housing

HOUSING_FILE = "california-housing/housing.csv.gz"
HOUSING_NUMERIC = [
    "longitude", "latitude", "housing_median_age", "total_rooms", "total_bedrooms",
    "population", "households", "median_income",
]  # fmt: skip
HOUSING_TARGET = "median_house_value"
# Fixed (alphabetical) category order, so the one-hot columns never depend on the rows read.
OCEAN_PROXIMITY = ["<1H OCEAN", "INLAND", "ISLAND", "NEAR BAY", "NEAR OCEAN"]
HOUSE_VALUE_UNIT = 100_000.0  # dollars per target unit: targets are in $100k (0.15 to 5.0)


def read_housing() -> pd.DataFrame:
    """The raw housing table: 20,640 rows, the CSV's 10 columns, 207 missing ``total_bedrooms``."""
    path = fetch("california_housing", HOUSING_FILE)
    try:
        frame = pd.read_csv(path)  # compression inferred from the .gz suffix
    except (OSError, EOFError, ValueError, zlib.error) as e:
        raise DataError(f"{path} cannot be read as a gzipped CSV ({e}); delete it and fetch it again.") from None
    expected = HOUSING_NUMERIC + [HOUSING_TARGET, "ocean_proximity"]
    if sorted(frame.columns) != sorted(expected):
        raise DataError(f"{path} has columns {list(frame.columns)}, expected {expected}.")
    return frame


@register_loader("california_housing")
def california_housing(o: TableOptions) -> TensorDataModule:
    """The ``california_housing`` data module (declared, with its options, in ``zoo/data/catalogue.py``)."""
    name = "california_housing"
    if o.classes or o.labelled is not None:
        raise ConfigError(f"classes= and labelled= apply to multiclass datasets; {name!r} is regression.")
    batch_size, eval_batch_size, seed, limit = o.batch_size, o.eval_batch_size, o.seed, o.limit
    split_seed = seed if o.split_seed is None else o.split_seed
    frame = read_housing()
    train, val, test = _split_indices(name, len(frame), get_card(name).splits, split_seed, stratify=None)
    train = _limit(train, limit)

    unknown = sorted(set(frame["ocean_proximity"]) - set(OCEAN_PROXIMITY))
    if unknown:
        raise DataError(f"{HOUSING_FILE} has ocean_proximity {unknown[0]!r}, expected one of {OCEAN_PROXIMITY}.")
    # Median of the training rows only (NaN skipped), so validation/test values never shape the fill.
    bedrooms_fill = float(frame["total_bedrooms"].iloc[train].median())
    numeric = frame[HOUSING_NUMERIC].fillna({"total_bedrooms": bedrooms_fill}).to_numpy(np.float64)
    onehot = (frame["ocean_proximity"].to_numpy()[:, None] == np.array(OCEAN_PROXIMITY)[None, :]).astype(np.float64)
    x = np.concatenate([numeric, onehot], axis=1)  # (20640, 13)
    if np.isnan(x).any():
        raise DataError(f"{HOUSING_FILE} has missing values outside total_bedrooms; check the file.")
    y = (frame[HOUSING_TARGET].to_numpy(np.float64) / HOUSE_VALUE_UNIT).astype(np.float32)[:, None]  # (N, 1)

    info = DataInfo(
        name=name,
        kind="regression",
        input_shape=(x.shape[1],),
        num_classes=1,
        feature_names=HOUSING_NUMERIC + [f"ocean_proximity_{c}" for c in OCEAN_PROXIMITY],
        extra={
            "card": name,
            "split_seed": split_seed,
            "limit": limit,
            "target": f"{HOUSING_TARGET} in units of $100,000",
            "target_unit": HOUSE_VALUE_UNIT,
            "imputed": {"total_bedrooms": bedrooms_fill},
            **_target_stats(y[train]),
        },
    )
    return _datamodule(
        info, x, y, (train, val, test), batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed
    )


# ----------------------------------------------------------------------------- scikit-learn's bundled sets


def _sklearn_datamodule(
    name: str,
    kind: str,
    read: Callable[[], Any],
    *,
    batch_size: int,
    eval_batch_size: int,
    seed: int,
    split_seed: int | None,
    limit: int | None,
    extra: dict[str, Any] | None = None,
    classes: tuple[str, ...] = (),
    labelled: int | None = None,
) -> TensorDataModule:
    """A data module from a scikit-learn ``Bunch`` (``data``, ``target``, ``feature_names``...)."""
    split_seed = seed if split_seed is None else split_seed
    bunch = read()
    x = np.asarray(bunch.data, dtype=np.float64)
    classification = kind != "regression"
    if classification:
        y = np.asarray(bunch.target, dtype=np.int64)  # (N,) class indices
        class_names: list[str] | None = [str(c) for c in bunch.target_names]
        num_classes = len(class_names)
    else:
        y = np.asarray(bunch.target, dtype=np.float32)[:, None]  # (N, 1), raw units
        class_names, num_classes = None, 1
    train, val, test = _split_indices(
        name, len(x), get_card(name).splits, split_seed, stratify=y if classification else None
    )
    train = _limit(train, limit)
    info = DataInfo(
        name=name,
        kind=kind,
        input_shape=(x.shape[1],),
        num_classes=num_classes,
        class_names=class_names,
        feature_names=[str(f) for f in bunch.feature_names],
        extra={"card": name, "split_seed": split_seed, "limit": limit, **(extra or {})},
    )
    if not classification:
        info.extra.update(_target_stats(y[train]))
    dm = _datamodule(info, x, y, (train, val, test), batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed)
    return restrict(dm, classes=classes, labelled=labelled, seed=seed)


@register_loader("digits")
def digits(o: TableOptions) -> TensorDataModule:
    """The ``digits`` data module (declared, with its options, in ``zoo/data/catalogue.py``)."""
    return _sklearn_datamodule("digits", "multiclass", skdatasets.load_digits, **asdict(o))


@register_loader("breast_cancer")
def breast_cancer(o: TableOptions) -> TensorDataModule:
    """The ``breast_cancer`` data module (declared, with its options, in ``zoo/data/catalogue.py``)."""
    return _sklearn_datamodule("breast_cancer", "binary", skdatasets.load_breast_cancer, **asdict(o))


@register_loader("wine")
def wine(o: TableOptions) -> TensorDataModule:
    """The ``wine`` data module (declared, with its options, in ``zoo/data/catalogue.py``)."""
    return _sklearn_datamodule("wine", "multiclass", skdatasets.load_wine, **asdict(o))


@register_loader("diabetes")
def diabetes(o: TableOptions) -> TensorDataModule:
    """The ``diabetes`` data module (declared, with its options, in ``zoo/data/catalogue.py``)."""
    return _sklearn_datamodule(
        "diabetes", "regression", lambda: skdatasets.load_diabetes(scaled=False), **asdict(o),
        extra={"target": "disease progression one year after baseline, raw units"},
    )  # fmt: skip


@register_loader("digits_images")
def digits_images(o: TableOptions) -> TensorDataModule:
    """The ``digits_images`` data module (declared, with its options, in ``zoo/data/catalogue.py``)."""
    dm = digits(o)
    dm.splits = {k: (x.reshape(-1, 1, 8, 8), y) for k, (x, y) in dm.splits.items()}  # (N, 64) -> (N, 1, 8, 8)
    dm.info.name = "digits_images"
    dm.info.input_shape = (1, 8, 8)
    return dm
