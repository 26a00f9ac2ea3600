"""Translation data: English -> Spanish sentence pairs as padded id tensors, batched by length.

Two datasets, both ``kind="seq2seq"``:

* ``spa_eng``: the 118,964 Tatoeba pairs of ``spa-eng.zip`` (:func:`zoo.data.text.read_spa_eng`),
  the protocol of Hands-On ML (3rd ed.) chapter 16: lower-cased, ASCII punctuation and
  ``¡ ¿`` removed, split on white space; 1,000 tokens per side (specials included),
  at most 50 words per sentence. A fixed seeded split (``split_seed``, default 0):
  100,000 training pairs, 9,482 validation, 9,482 test (the book validates on the
  18,964 it does not train on; we halve them so that a test split stays untouched).
* ``numbers_en_es``: English number words -> Spanish number words for 0..999
  ("three hundred forty two" -> "trescientos cuarenta y dos"), generated here, so a
  fresh install (and the tests) can train a translator with no data directory. A real,
  compositional task: the model must learn that 21-29 fuse (*veintidós*), that 100 is
  *cien* but 101 *ciento uno*, and that 500 is *quinientos*.

Vocabularies (:class:`zoo.data.vocab.Vocab`) are built from the training split
only and travel in ``DataInfo.extra`` (hence in every checkpoint card); words
never seen in training map to ``<unk>``. Tensors per split, right-padded with
``<pad>`` = 0:

* ``src`` (N, S) int64: source word ids;
* ``tgt`` (N, T + 2) int64: ``<bos>`` target ids ``<eos>``; the decoder reads
  ``tgt[:, :-1]`` and predicts ``tgt[:, 1:]`` (teacher forcing);
* ``row`` (N,) int64: the pair's position in its split, so evaluation in length
  order can report per-sentence results in split order.

Batches come from :class:`LengthBatches`: pairs of similar length share a batch,
and each batch is cut to its own longest sentence. Mean lengths are ~6.3 English
and ~6.1 Spanish words with a maximum of 47/49, so padding every batch to the
split's maximum would multiply the work by several times.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

from zoo.data.catalogue import NumbersOptions, SpaEngOptions
from zoo.data.core import DataInfo, TensorDataModule, seeded_split
from zoo.data.registry import register_loader
from zoo.data.vocab import BOS, BOS_ID, EOS, EOS_ID, PAD, PAD_ID, UNK, UNK_ID, Vocab
from zoo.errors import ConfigError, DataError, check_positive

SRC_SPECIALS = (PAD, UNK)
TGT_SPECIALS = (PAD, UNK, BOS, EOS)

# ----------------------------------------------------------------------------- tokenization

# Keras' TextVectorization default ("lower_and_strip_punctuation") removes exactly these
# characters; the book also drops Spanish's inverted marks. Accents stay.
_PUNCTUATION = re.compile(r"[!\"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~'¡¿]")


def tokenize_words(text: str) -> list[str]:
    """Lower-case, drop punctuation, split on white space: ``"¿Qué tal?" -> ["qué", "tal"]``."""
    return _PUNCTUATION.sub("", text.lower()).split()


TOKENIZERS: dict[str, Callable[[str], list[str]]] = {"words": tokenize_words}
"""Tokenizer name (stored in ``DataInfo.extra["tokenizer"]``) -> function, so a checkpoint
tokenizes new sentences exactly as its training data were."""


def tokenizer(name: str) -> Callable[[str], list[str]]:
    from zoo.errors import check_choice

    return TOKENIZERS[check_choice("tokenizer", name, TOKENIZERS)]


# ----------------------------------------------------------------------------- numbers 0..999

_EN_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_EN_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ES_UNITS = (
    "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince "
    "dieciséis diecisiete dieciocho diecinueve veinte veintiuno veintidós veintitrés veinticuatro "
    "veinticinco veintiséis veintisiete veintiocho veintinueve"
).split()  # 0..29: one word each in Spanish
_ES_TENS = "_ _ _ treinta cuarenta cincuenta sesenta setenta ochenta noventa".split()
_ES_HUNDREDS = "_ ciento doscientos trescientos cuatrocientos quinientos seiscientos setecientos ochocientos novecientos".split()


def english_number(n: int) -> str:
    """``342 -> "three hundred forty two"`` (no "and", no hyphens), for 0 <= n < 1000."""
    if not 0 <= n < 1000:
        raise ValueError(n)
    hundreds, rest = divmod(n, 100)
    words = [_EN_UNITS[hundreds], "hundred"] if hundreds else []
    if rest or not hundreds:
        if rest < 20:
            words.append(_EN_UNITS[rest])
        else:
            tens, unit = divmod(rest, 10)
            words += [_EN_TENS[tens]] + ([_EN_UNITS[unit]] if unit else [])
    return " ".join(words)


def spanish_number(n: int) -> str:
    """``342 -> "trescientos cuarenta y dos"``, ``100 -> "cien"``, ``121 -> "ciento veintiuno"``."""
    if not 0 <= n < 1000:
        raise ValueError(n)
    if n == 100:
        return "cien"
    hundreds, rest = divmod(n, 100)
    words = [_ES_HUNDREDS[hundreds]] if hundreds else []
    if rest or not hundreds:
        if rest < 30:
            words.append(_ES_UNITS[rest])
        else:
            tens, unit = divmod(rest, 10)
            words += [_ES_TENS[tens]] + (["y", _ES_UNITS[unit]] if unit else [])
    return " ".join(words)


def number_pairs() -> list[tuple[str, str]]:
    """The 1,000 (English, Spanish) pairs of ``numbers_en_es``, 0 to 999 in order."""
    return [(english_number(n), spanish_number(n)) for n in range(1000)]


# ----------------------------------------------------------------------------- batching


class LengthBatches:
    """Batches of pairs of similar length, each cut to its longest sentence.

    ``tensors`` are aligned (N, L) id tensors right-padded with ``pad_id`` (and 1-D
    tensors such as row numbers, passed through). Training order (``shuffle``): a
    fresh seeded permutation each pass, sorted by length inside pools of
    ``pool`` batches, cut into batches, and the batches shuffled; so batches are
    random but nearly pad-free. Evaluation order: all pairs sorted by length.
    A batch is one gather per tensor (``t[:, :L][idx]``); no per-sample collate.
    """

    def __init__(
        self,
        tensors: Sequence[Tensor],
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        pad_id: int = PAD_ID,
        pool: int = 50,
    ):
        check_positive("batch_size", batch_size, integer=True)
        self.tensors = tuple(tensors)
        self.n = self.tensors[0].shape[0]
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.pool = pool
        self.generator = torch.Generator().manual_seed(seed)
        # Lengths of every 2-D tensor (None for 1-D ones), on the CPU: batch bounds are host decisions.
        self.lengths = [(t != pad_id).sum(1).cpu() if t.ndim == 2 else None for t in self.tensors]
        lens = [x for x in self.lengths if x is not None]
        key = torch.zeros(self.n, dtype=torch.int64)
        for x in lens:  # lexicographic: first tensor's length, then the next
            key = key * (int(x.max()) + 1 if x.numel() else 1) + x
        self.key = key

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def _order(self) -> list[Tensor]:
        bs = self.batch_size
        if not self.shuffle:
            order = torch.sort(self.key, stable=True).indices
            return [order[i : i + bs] for i in range(0, self.n, bs)]
        perm = torch.randperm(self.n, generator=self.generator)
        step = bs * self.pool
        pools = [perm[i : i + step] for i in range(0, self.n, step)]
        pools = [p[torch.sort(self.key[p], stable=True).indices] for p in pools]
        batches = [p[i : i + bs] for p in pools for i in range(0, len(p), bs)]
        return [batches[i] for i in torch.randperm(len(batches), generator=self.generator).tolist()]

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        for idx in self._order():
            out = []
            for t, lens in zip(self.tensors, self.lengths):
                i = idx.to(t.device)
                out.append(t[i] if lens is None else t[:, : max(1, int(lens[idx].max()))][i])
            yield tuple(out)


class TranslationDataModule(TensorDataModule):
    """Splits of (src, tgt, row) tensors, served as :class:`LengthBatches`; vocabularies in ``info.extra``."""

    def train_dataloader(self) -> LengthBatches:
        # One object for the whole run, so its generator advances epoch after epoch.
        if self._train_batches is None or self._train_batches.batch_size != self.batch_size:
            self._train_batches = LengthBatches(self.splits["train"], self.batch_size, shuffle=True, seed=self.seed)
        return self._train_batches  # type: ignore[return-value]

    def val_dataloader(self) -> LengthBatches:
        return LengthBatches(self.splits["val"], self.eval_batch_size)

    def test_dataloader(self) -> LengthBatches:
        return LengthBatches(self.splits["test"], self.eval_batch_size)

    @property
    def src_vocab(self) -> Vocab:
        return Vocab.from_dict(self.info.extra["src_vocab"])

    @property
    def tgt_vocab(self) -> Vocab:
        return Vocab.from_dict(self.info.extra["tgt_vocab"])


# ----------------------------------------------------------------------------- encoding


def encode_pairs(
    pairs: Sequence[tuple[list[str], list[str]]], src_vocab: Vocab, tgt_vocab: Vocab, max_len: int
) -> tuple[Tensor, Tensor, Tensor]:
    """(src (N, S), tgt (N, T + 2), row (N,)) id tensors of tokenized pairs, cut to ``max_len`` words."""
    src_ids = [src_vocab.encode(s[:max_len]) for s, _ in pairs]
    tgt_ids = [[BOS_ID, *tgt_vocab.encode(t[:max_len]), EOS_ID] for _, t in pairs]
    return _padded(src_ids), _padded(tgt_ids), torch.arange(len(pairs))


def _padded(seqs: list[list[int]]) -> Tensor:
    """Right-padded (N, longest) int64 tensor; one vectorized fill (a tensor per row took 5 s for spa_eng)."""
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    width = max(1, int(lengths.max(initial=0)))
    out = np.full((len(seqs), width), PAD_ID, dtype=np.int64)
    # A boolean mask fills row by row, left to right: exactly the order of the flattened ids.
    out[np.arange(width)[None, :] < lengths[:, None]] = np.fromiter(itertools.chain.from_iterable(seqs), dtype=np.int64, count=int(lengths.sum()))
    return torch.from_numpy(out)


def translation_datamodule(
    name: str,
    pairs: Sequence[tuple[str, str]],
    *,
    sizes: tuple[int, int],
    split_seed: int,
    vocab_size: int,
    max_len: int,
    limit: int | None,
    batch_size: int,
    eval_batch_size: int,
    seed: int,
    tokenizer_name: str = "words",
    src_vocab_size: int | None = None,
) -> TranslationDataModule:
    """Split ``pairs`` (val and test of ``sizes``, train the rest), build vocabularies on train, encode.

    ``vocab_size`` tokens per side, or ``src_vocab_size`` on the source side when given."""
    src_vocab_size = vocab_size if src_vocab_size is None else src_vocab_size
    for key, value, specials in (("vocab_size", vocab_size, TGT_SPECIALS), ("src_vocab_size", src_vocab_size, SRC_SPECIALS)):
        check_positive(key, value, integer=True)
        if value < len(specials) + 1:
            raise ConfigError(f"{key} must be at least {len(specials) + 1} (the specials and a word), got {value}.")
    check_positive("max_len", max_len, integer=True)
    n_val, n_test = sizes
    for key, value in (("val_size", n_val), ("test_size", n_test)):
        check_positive(key, value, integer=True)
    if n_val + n_test >= len(pairs):
        raise ConfigError(f"val_size + test_size = {n_val + n_test} leaves no training pairs of {name!r} ({len(pairs)} in all).")
    tok = tokenizer(tokenizer_name)
    tokenized = [(tok(en), tok(es)) for en, es in pairs]
    empty = sum(1 for s, t in tokenized if not s or not t)
    if empty == len(tokenized):
        raise DataError(f"dataset {name!r} has no pair with words on both sides.")
    n_train = len(pairs) - n_val - n_test
    train_idx, val_idx, test_idx = seeded_split(len(pairs), [n_train / len(pairs), n_val / len(pairs), n_test / len(pairs)], split_seed)
    if limit is not None:
        check_positive("limit", limit, integer=True)
        train_idx = train_idx[:limit]  # the split is shuffled: a random subset
    train = [tokenized[i] for i in train_idx.tolist()]
    src_vocab = Vocab.build((s for s, _ in train), max_size=src_vocab_size, specials=SRC_SPECIALS)
    tgt_vocab = Vocab.build((t for _, t in train), max_size=vocab_size, specials=TGT_SPECIALS)
    splits = [encode_pairs([tokenized[i] for i in idx.tolist()], src_vocab, tgt_vocab, max_len) for idx in (train_idx, val_idx, test_idx)]

    def unk_rate(t: Tensor) -> float:  # share of real target words that are <unk>
        words = t[:, 1:][(t[:, 1:] != PAD_ID) & (t[:, 1:] != EOS_ID)]
        return float((words == UNK_ID).float().mean()) if words.numel() else 0.0

    info = DataInfo(
        name=name,
        kind="seq2seq",
        input_shape=(max_len,),
        num_classes=len(tgt_vocab),
        extra={
            "card": name,
            "split_seed": split_seed,
            "limit": limit,
            "src_lang": "en",
            "tgt_lang": "es",
            "tokenizer": tokenizer_name,
            "max_len": max_len,
            "src_vocab": src_vocab.to_dict(),
            "tgt_vocab": tgt_vocab.to_dict(),
            "sizes": {"train": len(train_idx), "val": len(val_idx), "test": len(test_idx)},
            "tgt_unk_rate": {s: unk_rate(t[1]) for s, t in zip(("train", "val", "test"), splits)},
        },
    )
    return TranslationDataModule(info, *splits, batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed)


# ----------------------------------------------------------------------------- registered datasets



@register_loader("spa_eng")
def spa_eng(o: SpaEngOptions) -> TranslationDataModule:
    """The ``spa_eng`` data module (declared, with its options, in ``zoo/data/catalogue.py``)."""
    from zoo.data.text import read_spa_eng

    return translation_datamodule(
        "spa_eng", read_spa_eng(), sizes=(o.val_size, o.test_size), split_seed=o.seed if o.split_seed is None else o.split_seed,
        vocab_size=o.vocab_size, src_vocab_size=o.src_vocab_size, max_len=o.max_len, limit=o.limit, batch_size=o.batch_size,
        eval_batch_size=o.eval_batch_size, seed=o.seed,
    )  # fmt: skip


@register_loader("numbers_en_es")
def numbers_en_es(o: NumbersOptions) -> TranslationDataModule:
    """The ``numbers_en_es`` data module (declared, with its options, in ``zoo/data/catalogue.py``)."""
    return translation_datamodule(
        "numbers_en_es", number_pairs(), sizes=(o.val_size, o.test_size), split_seed=o.seed if o.split_seed is None else o.split_seed,
        vocab_size=100, max_len=o.max_len, limit=o.limit, batch_size=o.batch_size, eval_batch_size=o.eval_batch_size, seed=o.seed,
    )  # fmt: skip

