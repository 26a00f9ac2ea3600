"""Training-time augmentation (zoo/data/augment.py): what it does to a batch, and where it applies."""

import pytest
import torch

from zoo.data.augment import ShiftFlip, make_augment
from zoo.data.core import DataInfo, TensorDataModule
from zoo.errors import ConfigError


def _dot_images(n: int, r: int = 10, c: int = 5) -> torch.Tensor:
    x = torch.zeros(n, 1, 28, 28)
    x[:, 0, r, c] = 1.0
    return x


def test_shift_moves_each_image_by_at_most_two_pixels_and_keeps_it_whole():
    x = _dot_images(500)
    y = ShiftFlip(max_shift=2, seed=0)(x)
    assert y.shape == x.shape and torch.equal(y.sum(dim=(1, 2, 3)), torch.ones(500))
    where = y[:, 0].flatten(1).argmax(1)
    rows, cols = where // 28 - 10, where % 28 - 5
    assert rows.abs().max() == 2 and cols.abs().max() == 2  # every offset in -2..2 is drawn
    assert len(set(zip(rows.tolist(), cols.tolist()))) == 25


def test_flip_mirrors_about_half_the_images():
    y = ShiftFlip(max_shift=0, flip=True, seed=1)(_dot_images(1000))
    cols = y[:, 0].flatten(1).argmax(1) % 28
    assert set(cols.tolist()) == {5, 22}  # 27 - 5: the mirror image
    assert 400 < int((cols == 22).sum()) < 600


def test_flattened_inputs_and_seeded_draws():
    x = torch.rand(64, 784)
    a, b = ShiftFlip(flip=True, seed=3)(x), ShiftFlip(flip=True, seed=3)(x)
    assert a.shape == (64, 784) and torch.equal(a, b)
    assert not torch.equal(a, ShiftFlip(flip=True, seed=4)(x))


def test_only_training_batches_are_augmented():
    x, y = torch.rand(40, 1, 28, 28), torch.arange(40)
    info = DataInfo("toy", "multiclass", (1, 28, 28), 40)
    plain = TensorDataModule(info, (x, y), (x, y), (x, y), batch_size=40)
    shifted = TensorDataModule(info, (x, y), (x, y), (x, y), batch_size=40, augment=make_augment("shift", seed=0))
    (px, py), = list(plain.train_dataloader())
    (sx, sy), = list(shifted.train_dataloader())
    assert torch.equal(py, sy)  # the same shuffle: augmentation draws from its own generator
    assert not torch.equal(px, sx)
    (vx, _), = list(shifted.val_dataloader())
    (tx, _), = list(shifted.test_dataloader())
    assert torch.equal(vx, x) and torch.equal(tx, x)


def test_unknown_augment_is_one_clear_error():
    with pytest.raises(ConfigError, match="augment must be one of none, shift, shift_flip, got 'rotate'"):
        make_augment("rotate", seed=0)
