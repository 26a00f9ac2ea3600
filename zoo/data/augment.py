"""Training-time augmentation of image batches: random shifts and horizontal flips.

Applied to whole training batches by :class:`zoo.data.core.TensorBatches`
(validation and test batches are never augmented), so it works the same under
zoobench's loop and under ``lightning.Trainer``. One gather per batch: every
image is cut out of a zero-padded copy at a random offset, with its columns
reversed when it is flipped. The draws come from the augmentation's own seeded
generator, so a run is reproducible from its seed.

``shift``      a translation of up to ``max_shift`` pixels in each direction (MNIST digits);
``shift_flip`` the same plus a horizontal flip of half the images (Fashion-MNIST clothes are
               left-right symmetric in meaning; digits are not).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from zoo.errors import ConfigError

AUGMENTS = ("none", "shift", "shift_flip")


class ShiftFlip:
    """Random translation by up to ``max_shift`` pixels, optionally with random horizontal flips.

    Accepts ``(B, C, H, W)`` batches, or flattened ``(B, H*W)`` ones when ``image_shape`` is given.
    """

    def __init__(self, *, max_shift: int = 2, flip: bool = False, seed: int = 0,
                 image_shape: tuple[int, ...] | None = None):
        self.max_shift = int(max_shift)
        self.flip = flip
        self.image_shape = image_shape
        self.generator = torch.Generator().manual_seed(seed + 7919)  # its own stream, not the shuffle's

    def __call__(self, x: Tensor) -> Tensor:
        flat = x.dim() == 2
        if flat:
            x = x.reshape(x.shape[0], *(self.image_shape or (1, 28, 28)))
        b, _, h, w = x.shape
        s = self.max_shift
        padded = F.pad(x, (s, s, s, s))
        dy = torch.randint(0, 2 * s + 1, (b,), generator=self.generator)
        dx = torch.randint(0, 2 * s + 1, (b,), generator=self.generator)
        rows = dy[:, None] + torch.arange(h)  # (B, H)
        cols = torch.arange(w).expand(b, w)
        if self.flip:
            flipped = torch.rand(b, generator=self.generator) < 0.5
            cols = torch.where(flipped[:, None], cols.flip(1), cols)
        cols = dx[:, None] + cols  # (B, W)
        idx = torch.arange(b)[:, None, None, None]
        ch = torch.arange(x.shape[1])[None, :, None, None]
        dev = x.device
        out = padded[idx.to(dev), ch.to(dev), rows[:, None, :, None].to(dev), cols[:, None, None, :].to(dev)]
        return out.reshape(b, -1) if flat else out


def make_augment(name: str, *, seed: int, image_shape: tuple[int, ...] | None = None) -> ShiftFlip | None:
    """The transform named by the ``augment=`` loader option (None for ``none``)."""
    if name not in AUGMENTS:
        raise ConfigError(f"augment must be one of {', '.join(AUGMENTS)}, got {name!r}.")
    if name == "none":
        return None
    return ShiftFlip(flip=name == "shift_flip", seed=seed, image_shape=image_shape)
