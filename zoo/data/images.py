"""Image datasets in the idx format: MNIST and Fashion-MNIST.

The four ``.gz`` files of each set are read directly (``gzip`` + ``numpy.frombuffer``),
no torchvision. Inputs are float32 in [0, 1] (``uint8 / 255``), shape
``(N, 1, 28, 28)``; ``flatten=True`` gives ``(N, 784)`` instead. The default is
``flatten=False`` because the convolutional models need the image layout and
the MLP flattens its input itself. No mean/std normalisation here: the models'
input scaler fits it on the training split (``zoo.layers``).

Splits: ``val_size`` images (default: the card's, 5,000) are held out of the
60,000 training images by a seeded permutation; the test split is the official
10,000.
"""

from __future__ import annotations

import functools
import gzip
import math
import zlib
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from zoo.data.augment import make_augment
from zoo.data.cards import get_card
from zoo.data.catalogue import ImageOptions
from zoo.data.core import DataInfo, TensorDataModule, restrict, seeded_split
from zoo.data.files import fetch
from zoo.data.registry import register_loader
from zoo.errors import ConfigError, DataError, check_positive

# idx magic number = 0x0800 + number of dimensions; 0x08 in the third byte means uint8 data.
_IDX_UINT8 = 0x0800

FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """A gzipped idx file of uint8 data as an array of ``ndim`` dimensions (read-only).

    Layout (big-endian): magic ``0x0800 + ndim`` (uint32), ``ndim`` sizes (uint32
    each), then the uint8 values in C order. Anything else is a DataError.
    Decoded arrays are kept per process (keyed by path, size and mtime): a
    bench worker or a test session loads the same files many times, and
    decompressing 47 MB costs ~0.3 s each time.
    """
    st = path.stat()
    return _read_idx(str(path), st.st_size, st.st_mtime_ns, ndim)


@functools.lru_cache(maxsize=8)  # both image sets' four files: at most ~110 MB of uint8
def _read_idx(path: str, size: int, mtime_ns: int, ndim: int) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"idx file {path} cannot be decompressed ({e}); delete it and fetch it again.") from None
    header = 4 + 4 * ndim  # magic + one uint32 per dimension
    magic = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if magic != _IDX_UINT8 + ndim:
        raise DataError(
            f"idx file {path} has magic number {magic}, expected {_IDX_UINT8 + ndim} "
            f"(uint8 data with {ndim} dimensions)."
        )
    if len(raw) < header:
        raise DataError(f"idx file {path} is truncated: {len(raw)} bytes is shorter than its {header}-byte header.")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) - header != math.prod(dims):
        raise DataError(
            f"idx file {path} holds {len(raw) - header} values but its header says {'x'.join(map(str, dims))}."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _read_split(name: str, prefix: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) and labels (N,), uint8, of one official split (``prefix`` "train" or "t10k")."""
    card = get_card(name)
    by_name = {f.path.rsplit("/", 1)[-1]: f.path for f in card.files}  # the card's paths fix the folder
    images_path = fetch(card, by_name[f"{prefix}-images-idx3-ubyte.gz"])
    labels_path = fetch(card, by_name[f"{prefix}-labels-idx1-ubyte.gz"])
    images, labels = read_idx(images_path, 3), read_idx(labels_path, 1)
    if images.shape[1:] != (28, 28):
        raise DataError(f"idx file {images_path} has images of {images.shape[1:]} pixels, expected (28, 28).")
    if len(images) != len(labels):
        raise DataError(f"idx files {images_path} and {labels_path} disagree: {len(images)} images, {len(labels)} labels.")
    if labels.max(initial=0) >= num_classes:
        raise DataError(f"idx file {labels_path} has label {labels.max()}, expected 0 to {num_classes - 1}.")
    return images, labels


def _idx_datamodule(
    name: str,
    class_names: list[str],
    *,
    batch_size: int,
    eval_batch_size: int,
    seed: int,
    split_seed: int | None,
    val_size: int | None,
    limit: int | None,
    flatten: bool,
    classes: tuple[str, ...] = (),
    labelled: int | None = None,
    augment: str = "none",
) -> TensorDataModule:
    """The data module of an MNIST-layout dataset (28x28 uint8 images, idx files)."""
    card = get_card(name)
    val_size = card.splits["val"] if val_size is None else val_size
    split_seed = seed if split_seed is None else split_seed
    check_positive("val_size", val_size, integer=True)
    check_positive("split_seed", split_seed, allow_zero=True, integer=True)
    if limit is not None:
        check_positive("limit", limit, integer=True)
    transform = make_augment(augment, seed=seed, image_shape=(1, 28, 28))

    train_images, train_labels = _read_split(name, "train", len(class_names))
    test_images, test_labels = _read_split(name, "t10k", len(class_names))
    n = len(train_images)  # 60,000
    if val_size >= n:
        raise ConfigError(f"val_size must be smaller than the {n} training images of {name}, got {val_size}.")

    train_idx, val_idx = seeded_split(n, [(n - val_size) / n, val_size / n], split_seed)
    if limit is not None:
        train_idx = train_idx[:limit]  # the first N of a seeded permutation: a random subset

    shape = (784,) if flatten else (1, 28, 28)

    def tensors(images: np.ndarray, labels: np.ndarray, idx: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        rows = slice(None) if idx is None else idx.numpy()
        # astype copies, so the tensors own writable memory (the idx arrays are read-only views).
        x = torch.from_numpy(images[rows].reshape(-1, *shape).astype(np.float32)).div_(255.0)  # (N, *shape) in [0, 1]
        y = torch.from_numpy(labels[rows].astype(np.int64))  # (N,)
        return x, y

    info = DataInfo(
        name=name,
        kind="multiclass",
        input_shape=shape,
        num_classes=len(class_names),
        class_names=list(class_names),
        extra={
            "card": name,
            "split_seed": split_seed,
            "limit": limit,
            "sizes": {"train": len(train_idx), "val": len(val_idx), "test": len(test_images)},
            "pixel_scale": "uint8 / 255",
            **({"augment": augment} if transform is not None else {}),
        },
    )
    dm = TensorDataModule(
        info,
        tensors(train_images, train_labels, train_idx),
        tensors(train_images, train_labels, val_idx),
        tensors(test_images, test_labels),
        batch_size=batch_size,
        eval_batch_size=eval_batch_size,
        seed=seed,
        augment=transform,
    )
    return restrict(dm, classes=classes, labelled=labelled, seed=seed)


@register_loader("mnist")
def mnist(o: ImageOptions) -> TensorDataModule:
    """The ``mnist`` data module (declared, with its options, in ``zoo/data/catalogue.py``)."""
    return _idx_datamodule("mnist", [str(d) for d in range(10)], **asdict(o))


@register_loader("fashion_mnist")
def fashion_mnist(o: ImageOptions) -> TensorDataModule:
    """The ``fashion_mnist`` data module (declared, with its options, in ``zoo/data/catalogue.py``)."""
    return _idx_datamodule("fashion_mnist", FASHION_CLASSES, **asdict(o))
