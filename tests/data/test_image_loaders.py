"""MNIST and Fashion-MNIST loaders, on the real files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from zoo.data import TensorDataModule, get_card, load
from zoo.data.images import FASHION_CLASSES, read_idx
from zoo.errors import ConfigError, DataError

# The per-class counts of the published MNIST files (train 60,000, test 10,000; LeCun et al.).
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mnist(shared_data: Path) -> TensorDataModule:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZOO_DATA", str(shared_data))
        mp.setenv("ZOO_OFFLINE", "1")
        return load("mnist")


def rows(x: torch.Tensor) -> np.ndarray:
    """Each image as one opaque 784-byte value, for set operations on whole samples."""
    pixels = (x * 255).round().to(torch.uint8).reshape(len(x), -1).numpy()
    return np.ascontiguousarray(pixels).view(np.dtype((np.void, pixels.shape[1])))[:, 0]


def assert_disjoint(a: torch.Tensor, b: torch.Tensor) -> None:
    # The real training images have no exact duplicates, so equal bytes mean the same sample.
    ra, rb = rows(a), rows(b)
    assert len(np.unique(ra)) == len(ra) and len(np.unique(rb)) == len(rb)
    assert len(np.intersect1d(ra, rb)) == 0


def test_mnist_shapes_dtypes_and_info(mnist: TensorDataModule) -> None:
    sizes = {s: mnist.num_samples(s) for s in ("train", "val", "test")}
    assert sizes == get_card("mnist").splits == {"train": 55000, "val": 5000, "test": 10000}
    x, y = mnist.splits["train"]
    assert x.shape == (55000, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (55000,) and y.dtype == torch.int64
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    info = mnist.info
    assert (info.kind, info.input_shape, info.num_classes) == ("multiclass", (1, 28, 28), 10)
    assert info.class_names == [str(d) for d in range(10)]
    # Pixel mean of the 60,000 training images, README: 0.1307.
    pixels = torch.cat([mnist.inputs("train"), mnist.inputs("val")])
    assert float(pixels.mean()) == pytest.approx(0.1307, abs=1e-4)


def test_mnist_label_counts(mnist: TensorDataModule) -> None:
    train_val = torch.cat([mnist.targets("train"), mnist.targets("val")])
    assert torch.bincount(train_val, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    assert torch.bincount(mnist.targets("test"), minlength=10).tolist() == MNIST_TEST_COUNTS


def test_mnist_train_and_val_are_disjoint(mnist: TensorDataModule) -> None:
    assert_disjoint(mnist.inputs("train"), mnist.inputs("val"))


def test_split_is_seeded(mnist: TensorDataModule, use_shared_data: Path) -> None:
    same = load("mnist", seed=0, limit=10)
    other = load("mnist", seed=1, limit=10)
    assert torch.equal(same.inputs("val"), mnist.inputs("val"))
    assert not torch.equal(other.inputs("val"), mnist.inputs("val"))
    assert torch.equal(other.inputs("test"), mnist.inputs("test"))  # the official test split never moves
    # split_seed fixes the split while seed changes the shuffling.
    fixed = load("mnist", seed=1, split_seed=0, limit=10)
    assert torch.equal(fixed.inputs("val"), mnist.inputs("val"))
    assert fixed.seed == 1


def test_limit_flatten_and_val_size(mnist: TensorDataModule, use_shared_data: Path) -> None:
    dm = load("mnist", limit=100, flatten=True, val_size=1000, batch_size=10)
    assert dm.inputs("train").shape == (100, 784)
    assert dm.info.input_shape == (784,)
    assert dm.num_samples("val") == 1000
    assert len(dm.train_dataloader()) == 10
    # The first 100 of the default split when val_size is the default.
    limited = load("mnist", limit=100)
    assert torch.equal(limited.inputs("train"), mnist.inputs("train")[:100])


@pytest.mark.parametrize("bad", [{"val_size": 0}, {"val_size": 60000}, {"val_size": 2.5}, {"limit": 0}])
def test_bad_options(bad: dict, use_shared_data: Path) -> None:
    with pytest.raises(ConfigError, match=next(iter(bad))):
        load("mnist", **bad)


def test_fashion_mnist(use_shared_data: Path) -> None:
    dm = load("fashion_mnist", flatten=True)
    assert dm.info.class_names == FASHION_CLASSES == get_card("fashion_mnist").stats["class_names"]
    assert dm.inputs("test").shape == (10000, 784)
    train_val = torch.cat([dm.targets("train"), dm.targets("val")])
    assert torch.bincount(train_val).tolist() == [6000] * 10
    assert torch.bincount(dm.targets("test")).tolist() == [1000] * 10
    assert_disjoint(dm.inputs("train"), dm.inputs("val"))


def write_gz(path: Path, data: bytes) -> Path:
    with gzip.open(path, "wb") as f:
        f.write(data)
    return path


def test_read_idx_checks_the_header(tmp_path: Path) -> None:
    good = (0x0801).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes([1, 2, 3])
    assert read_idx(write_gz(tmp_path / "ok.gz", good), 1).tolist() == [1, 2, 3]
    with pytest.raises(DataError, match="magic number 2049, expected 2051"):
        read_idx(tmp_path / "ok.gz", 3)
    with pytest.raises(DataError, match="holds 2 values but its header says 3"):
        read_idx(write_gz(tmp_path / "short.gz", good[:-1]), 1)
    with pytest.raises(DataError, match="truncated"):
        read_idx(write_gz(tmp_path / "tiny.gz", good[:6]), 1)
    with pytest.raises(DataError, match="magic number None"):
        read_idx(write_gz(tmp_path / "empty.gz", b""), 1)
    (tmp_path / "plain.gz").write_bytes(good)
    with pytest.raises(DataError, match="cannot be decompressed"):
        read_idx(tmp_path / "plain.gz", 1)
