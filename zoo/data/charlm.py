"""Character language-model data: Tiny Shakespeare with the book's protocol, and an embedded sample.

Protocol (Hands-On Machine Learning, 3rd ed., chapter 16): lowercase the text,
train on the first 1,000,000 characters, validate on the next 60,000, cut
windows of 100 characters; a window's targets are the same 100 positions
shifted by one character. The book has no test split; ours is **every
character after the validation block** (1,060,000 to the end: 55,394
characters, 553 windows). The vocabulary is built from the training block only
(39 characters after lowercasing, plus ``<pad>`` and ``<unk>``); a character
first met in validation or test maps to ``<unk>`` (none does in Tiny
Shakespeare). It travels in ``DataInfo.extra["vocab"]``, hence in every
checkpoint card, so a loaded model encodes a prompt exactly as in training.

Batching (:class:`CharBatches`), one character stream per split:

* **stateless** training: non-overlapping windows, reshuffled every epoch, cut
  at a fresh random offset in ``[0, window)`` every epoch, so over the epochs
  the model sees every window start the book's stride-1 windows give, at
  1/100th of the steps per epoch (1,000,000 characters, batch 32 -> 313 steps).
* **stateful** training (``LanguageModelTask(stateful=True)`` asks for it
  through :meth:`CharLMDataModule.set_stateful`): the stream is split into
  ``batch_size`` contiguous streams, and row ``b`` of batch ``t`` continues row
  ``b`` of batch ``t - 1``, so the task can carry the hidden state across
  steps. Each batch is ``(x, y, first)``; ``first`` (a Python bool) is True on
  the first batch of a pass, where the state starts from zero.
* evaluation: the same windows without shuffling (stateless), or
  ``eval_streams`` contiguous streams (stateful; 1 = the book's evaluation of
  its stateful model, state carried through the whole validation block).

``shakespeare_sample`` is the first 39,908 characters of Tiny Shakespeare
(Coriolanus, act 1 up to "Nay,'tis true."), public domain, shipped as the
package data file :data:`SAMPLE_FILE` (read by :func:`sample_text`), so the char
models train on a fresh install with no data directory.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import lightning as L
import torch
from torch import Tensor

from zoo.data.catalogue import WINDOW, CharOptions, CharSampleOptions, WikiCharOptions
from zoo.data.core import DataInfo
from zoo.data.registry import register_loader
from zoo.data.vocab import Vocab
from zoo.errors import ConfigError, DataError, check_positive



def encode_text(text: str, vocab: Vocab, *, lowercase: bool) -> Tensor:
    """int64 ids of every character of ``text`` (unseen ones -> ``<unk>``), shape (len(text),)."""
    if lowercase:
        text = text.lower()
    return torch.tensor(vocab.encode(text), dtype=torch.long)


# ----------------------------------------------------------------------------- batches


class CharBatches:
    """Batches of ``(x, y)`` windows (or ``(x, y, first)`` in stream order) from one id stream.

    ``x`` and ``y`` are int64 ``(B, window)``; ``y[:, i]`` is the character after
    ``x[:, i]``. ``len()`` is fixed for the whole run (the random offset never
    changes the count), so the engine and Lightning know the steps per epoch.
    """

    def __init__(
        self,
        ids: Tensor,
        window: int,
        batch_size: int,
        *,
        ordered: bool = False,
        shuffle: bool = False,
        random_offset: bool = False,
        seed: int = 0,
    ):
        check_positive("window", window, integer=True)
        check_positive("batch_size", batch_size, integer=True)
        self.ids, self.window, self.batch_size = ids, int(window), int(batch_size)
        self.ordered, self.shuffle, self.random_offset = ordered, shuffle, random_offset
        self.generator = torch.Generator().manual_seed(seed)
        # Characters usable at any offset: one is kept back as the last target.
        usable = ids.numel() - 1 - (self.window - 1 if random_offset else 0)
        if ordered:
            # batch_size contiguous streams of `steps` windows each.
            self.steps = usable // (self.batch_size * self.window)
            need = self.batch_size * self.window + 1 + (self.window - 1 if random_offset else 0)
        else:
            self.num_windows = usable // self.window
            self.steps = -(-self.num_windows // self.batch_size)
            need = self.window + 1 + (self.window - 1 if random_offset else 0)
        if self.steps < 1:
            raise ConfigError(
                f"a split of {ids.numel():,} characters is too short for "
                + (f"{self.batch_size} streams of " if ordered else "")
                + f"windows of {self.window} (needs at least {need:,}); use a smaller window or batch size."
            )

    def __len__(self) -> int:
        return self.steps

    def _offset(self) -> int:
        if not self.random_offset:
            return 0
        return int(torch.randint(self.window, (1,), generator=self.generator))

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        T, o = self.window, self._offset()
        if self.ordered:
            B, L = self.batch_size, self.steps * self.window
            xs = self.ids[o : o + B * L].view(B, L)  # (B, L): row b is stream b
            ys = self.ids[o + 1 : o + 1 + B * L].view(B, L)
            for t in range(self.steps):
                yield xs[:, t * T : (t + 1) * T], ys[:, t * T : (t + 1) * T], t == 0
            return
        n = self.num_windows
        xs = self.ids[o : o + n * T].view(n, T)  # (N, T) views of the stream, no copy
        ys = self.ids[o + 1 : o + 1 + n * T].view(n, T)
        bs = self.batch_size
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.ids.device)
            for i in range(self.steps):
                idx = order[i * bs : (i + 1) * bs]
                yield xs[idx], ys[idx]
        else:
            for i in range(self.steps):
                yield xs[i * bs : (i + 1) * bs], ys[i * bs : (i + 1) * bs]


# ----------------------------------------------------------------------------- data module


class CharLMDataModule(L.LightningDataModule):
    """Train/val/test character-id streams of one text, batched into windows (see the module doc)."""

    def __init__(
        self,
        info: DataInfo,
        train: Tensor,
        val: Tensor,
        test: Tensor,
        *,
        window: int = WINDOW,
        batch_size: int = 32,
        eval_batch_size: int = 256,
        eval_streams: int = 1,
        seed: int = 0,
        stateful: bool = False,
    ):
        super().__init__()
        check_positive("window", window, integer=True)
        check_positive("batch_size", batch_size, integer=True)
        check_positive("eval_batch_size", eval_batch_size, integer=True)
        check_positive("eval_streams", eval_streams, integer=True)
        self.info = info
        self.streams = {"train": train, "val": val, "test": test}
        for split, ids in self.streams.items():
            if ids.numel() == 0:
                raise DataError(f"dataset {info.name!r} has an empty {split} split (no characters).")
        self.window = int(window)
        self.batch_size = int(batch_size)
        self.eval_batch_size = int(eval_batch_size)
        self.eval_streams = int(eval_streams)
        self.seed = seed
        self.stateful = bool(stateful)
        self._train_batches: CharBatches | None = None
        for split in ("val", "test"):  # fail now, not after an epoch of training
            self._eval_batches(split)

    def set_stateful(self, stateful: bool) -> None:
        """Serve batches in stream order (row b of step t continues row b of step t-1) or shuffled windows."""
        self.stateful = bool(stateful)
        self._train_batches = None

    # The id stream of a split (the "inputs" a scaler would fit on; char models have none).
    def inputs(self, split: str) -> Tensor:
        return self.streams[split]

    def num_samples(self, split: str) -> int:
        """Characters of ``split``."""
        return self.streams[split].numel()

    @property
    def steps_per_epoch(self) -> int:
        return len(self.train_dataloader())

    def train_dataloader(self) -> CharBatches:
        # One object for the whole run, so its generator advances epoch after epoch.
        b = self._train_batches
        if b is None or b.batch_size != self.batch_size or b.ordered != self.stateful:
            self._train_batches = CharBatches(
                self.streams["train"], self.window, self.batch_size,
                ordered=self.stateful, shuffle=not self.stateful, random_offset=True, seed=self.seed,
            )
        return self._train_batches

    def _eval_batches(self, split: str) -> CharBatches:
        if self.stateful:
            return CharBatches(self.streams[split], self.window, self.eval_streams, ordered=True)
        return CharBatches(self.streams[split], self.window, self.eval_batch_size)

    def val_dataloader(self) -> CharBatches:
        return self._eval_batches("val")

    def test_dataloader(self) -> CharBatches:
        return self._eval_batches("test")

    def predict_dataloader(self) -> CharBatches:
        return self.test_dataloader()

    def to(self, device: torch.device | str) -> CharLMDataModule:
        """Move the streams to ``device`` once (windows are then cut there)."""
        self.streams = {k: v.to(device) for k, v in self.streams.items()}
        self._train_batches = None
        return self


def char_datamodule(
    name: str,
    text: str,
    *,
    train_chars: int,
    val_chars: int,
    test_chars: int,
    lowercase: bool,
    window: int,
    batch_size: int,
    eval_batch_size: int,
    eval_streams: int,
    seed: int,
) -> CharLMDataModule:
    """Split ``text`` into consecutive train/val/test blocks, build the vocabulary on train, encode."""
    check_positive("train_chars", train_chars, integer=True)
    check_positive("val_chars", val_chars, integer=True)
    check_positive("test_chars", test_chars, allow_zero=True, integer=True)
    if not text:
        raise DataError(f"dataset {name!r} is empty: there is no text to train on.")
    if train_chars + val_chars >= len(text):
        raise ConfigError(
            f"train_chars + val_chars = {train_chars + val_chars:,} leaves no test characters in {name!r} "
            f"({len(text):,} characters); lower them."
        )
    if lowercase:
        text = text.lower()
    a, b = train_chars, train_chars + val_chars
    c = b + test_chars if test_chars else len(text)
    blocks = {"train": text[:a], "val": text[a:b], "test": text[b:c]}
    vocab = Vocab.build([blocks["train"]])  # most frequent first, after <pad> and <unk>
    ids = {k: encode_text(v, vocab, lowercase=False) for k, v in blocks.items()}
    # The input-blind baseline: each character at its training frequency (add-one smoothed), in bits.
    counts = torch.bincount(ids["train"], minlength=len(vocab)).double() + 1.0
    log_p = torch.log2(counts / counts.sum())
    unigram = {k: float(-log_p[v].mean()) for k, v in ids.items() if k != "train" and v.numel()}
    info = DataInfo(
        name=name,
        kind="language_model",
        input_shape=(window,),
        num_classes=len(vocab),
        extra={
            "vocab": vocab.to_dict(),
            "vocab_size": len(vocab),
            "lowercase": lowercase,
            "window": window,
            "sizes": {k: len(v) for k, v in blocks.items()},
            "unknown_chars": {k: int((v == vocab.unk_id).sum()) for k, v in ids.items() if k != "train"},
            "unigram_bits_per_char": unigram,
        },
    )
    return CharLMDataModule(
        info, ids["train"], ids["val"], ids["test"], window=window, batch_size=batch_size,
        eval_batch_size=eval_batch_size, eval_streams=eval_streams, seed=seed,
    )


# ----------------------------------------------------------------------------- registered datasets


def _positional_split(o: CharOptions) -> dict[str, Any]:
    """The options as :func:`char_datamodule` keywords: ``split_seed`` is accepted for the common
    interface only (the split is positional, the same for every seed)."""
    return {k: v for k, v in asdict(o).items() if k != "split_seed"}


@register_loader("shakespeare")
def shakespeare(o: CharOptions) -> CharLMDataModule:
    """The ``shakespeare`` data module (declared, with its options, in ``zoo/data/catalogue.py``)."""
    from zoo.data.text import read_shakespeare

    return char_datamodule("shakespeare", read_shakespeare(), **_positional_split(o))


@register_loader("wikitext2_chars")
def wikitext2_chars(o: WikiCharOptions) -> CharLMDataModule:
    """The ``wikitext2_chars`` data module: the first ``train_chars`` characters train, validation and
    test are the fixed blocks at the end (declared in ``zoo/data/catalogue.py``)."""
    from zoo.data.text import read_wikitext

    check_positive("test_chars", o.test_chars, integer=True)
    text = "\n".join(read_wikitext())
    held = o.val_chars + o.test_chars
    if o.train_chars + held > len(text):
        raise ConfigError(f"train_chars={o.train_chars:,} with val_chars={o.val_chars:,} and test_chars={o.test_chars:,} "
                          f"needs {o.train_chars + held:,} characters; wikitext2_chars has {len(text):,} "
                          f"(train_chars at most {len(text) - held:,}).")
    text = text[: o.train_chars] + text[len(text) - held :]
    return char_datamodule("wikitext2_chars", text, **_positional_split(o))


@register_loader("shakespeare_sample")
def shakespeare_sample(o: CharSampleOptions) -> CharLMDataModule:
    """The ``shakespeare_sample`` data module (declared, with its options, in ``zoo/data/catalogue.py``)."""
    return char_datamodule("shakespeare_sample", sample_text(), **_positional_split(o))


SAMPLE_FILE = "shakespeare_sample.txt"
"""The excerpt, shipped as package data beside this module (``zoo/data/shakespeare_sample.txt``):
the first 39,908 characters of Tiny Shakespeare (karpathy/char-rnn data/tinyshakespeare/input.txt,
commit 6f9487a6; public domain), verbatim."""

SAMPLE_SHA256 = "3cc7e2022d8dd9a5cb95d6f8adebe20a1af5fc291fd5bd913e8df4214c58e469"
"""sha256 of :data:`SAMPLE_FILE`'s bytes (= the first 39,908 bytes of Tiny Shakespeare's input.txt)."""


@functools.cache
def sample_text() -> str:
    """The embedded excerpt, checked against :data:`SAMPLE_SHA256` (an edited copy would silently change results)."""
    raw = importlib.resources.files("zoo.data").joinpath(SAMPLE_FILE).read_bytes()  # bytes: no newline translation
    if hashlib.sha256(raw).hexdigest() != SAMPLE_SHA256:
        raise DataError(f"the embedded Shakespeare sample zoo/data/{SAMPLE_FILE} was modified (sha256 mismatch); reinstall zoobench.")
    return raw.decode("utf-8")
