"""Word2vec data: a tokenized corpus, its vocabulary, and training examples drawn afresh every epoch.

Datasets (``kind="embedding"``):

* ``w2v_tiny`` (embedded, no data directory): the opening 96,960 characters
  (17,435 words as tokenized here) of Tiny Shakespeare, *Coriolanus* from "First Citizen:" on,
  shipped as ``zoo/data/w2v_tiny.txt``; public domain. For tests and demos.
* ``wikitext2``: WikiText-2 validation + test (tokenised Wikipedia; the
  training split is not available offline), 389,987 words as tokenized here.
* ``w2v_combined``: WikiText-2 valid+test, the English side of spa-eng
  (118,964 sentences) and Tiny Shakespeare: 1,345,604 words; ``parts`` picks
  any of them alone or together. WikiText-2 alone is too small to score
  embeddings on: at ``min_count=5`` its 6,902-word vocabulary holds all four
  words of only 2,654 of the 19,544 analogies and both words of 603 of the
  1,352 WordSim-353 + SimLex-999 pairs, against 6,507 and 1,087 for
  ``w2v_combined`` (11,631 words), hence the combined corpus for comparisons
  (``benchmarks/word2vec_vs_gensim.py --data wikitext2`` shows the scores).

Tokens: lower-cased runs of letters/digits (inner apostrophes kept:
``don't``), plus WikiText's literal ``<unk>``; punctuation is dropped. A
"sentence" is a WikiText line, a spa-eng sentence, or a Shakespeare speech
(text between blank lines); windows never cross sentences.

The vocabulary (:class:`~zoo.data.vocab.Vocab`, ``<pad>`` = 0, ``<unk>`` = 1,
then words by descending count) keeps words seen at least ``min_count`` times;
rarer words are removed from the text before windows are taken, as word2vec
and gensim do (encoding new text maps them to ``<unk>``). Vocabulary and
counts travel in ``DataInfo.extra``, hence in every checkpoint card.

Each training epoch draws new examples (:func:`draw_examples`), as word2vec
does on each pass over the text:

* frequency subsampling: a word of corpus frequency ``f`` is kept with
  probability ``(sqrt(f / t) + 1) * t / f`` (``t = subsample``; word2vec.c's
  and gensim's formula);
* dynamic window: each position draws its own window ``b`` in ``[1, window]``
  (near words are used more often than far ones);
* skip-gram examples are (input, output) word pairs with ``|i - j| <= b_i``:
  the context word ``j`` is the input and the centre ``i`` the output, the
  roles word2vec.c and gensim give them; CBOW examples are (context words
  ``(2 * window,)`` padded with 0, centre);
* negatives: ``unigram ** ns_exponent`` (0.75) over training counts; the
  ``shared_negatives`` examples of a group share one draw of ``negatives``
  words (1 = a fresh draw per example, as word2vec.c). Sharing turns the
  negative scores into one batched matmul; the negatives touched per example
  are as many as word2vec's, so the objective is unchanged in expectation.

Examples are served as tensors, in random interleaved batches (see
:class:`ExampleBatches`): a training batch is
``(inputs, outputs, negatives)`` with ``inputs`` ``(B,)`` (skip-gram) or
``(B, 2W)`` (CBOW), ``outputs`` ``(B,)`` and ``negatives`` ``(ceil(B / G), K)``.
Validation and test batches are fixed seeded samples of examples drawn the
same way (``eval_examples`` each), so their loss is comparable across epochs.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor

from zoo.data.catalogue import PARTS, CombinedCorpusOptions, CorpusOptions, TinyCorpusOptions
from zoo.data.core import DataInfo
from zoo.data.registry import register_loader
from zoo.data.sampling import Sampling
from zoo.data.vocab import PAD, PAD_ID, UNK, Vocab
from zoo.errors import ConfigError, DataError, check_choice, check_positive


# ----------------------------------------------------------------------------- tokenization

_TOKEN = re.compile(r"<unk>|[^\W_]+(?:'[^\W_]+)*")


def tokenize_words(text: str) -> list[str]:
    """Lower-cased words, punctuation dropped: ``"Nay! prithee, woman,--" -> ["nay", "prithee", "woman"]``."""
    return _TOKEN.findall(text.lower())


TOKENIZERS: dict[str, Callable[[str], list[str]]] = {"words": tokenize_words}
"""Tokenizer name (stored in ``DataInfo.extra["tokenizer"]``) -> function."""


def _speeches(text: str) -> list[str]:
    """Blocks of text between blank lines (a play's speeches)."""
    return [block for block in re.split(r"\n\s*\n", text) if block.strip()]


def read_part(part: str) -> list[str]:
    """The raw sentences of one corpus part (``wikitext2``, ``spa_eng`` or ``shakespeare``)."""
    from zoo.data import text

    check_choice("corpus part", part, PARTS)
    if part == "wikitext2":
        return [line for line in text.read_wikitext() if line.strip()]
    if part == "spa_eng":
        return [en for en, _ in text.read_spa_eng()]
    return _speeches(text.read_shakespeare())


def read_tiny() -> list[str]:
    """The embedded excerpt's speeches (``zoo/data/w2v_tiny.txt``, 96,960 characters)."""
    raw = importlib.resources.files("zoo.data").joinpath("w2v_tiny.txt").read_text(encoding="utf-8")
    return _speeches(raw)


def dataset_texts(name: str, parts: str | Sequence[str] = ",".join(PARTS)) -> list[str]:
    """The raw sentences a registered corpus trains on (``parts`` applies to ``w2v_combined``).

    Tokenize them with :func:`tokenize_words` to get exactly the loader's text
    (``benchmarks/word2vec_vs_gensim.py`` feeds them to gensim).
    """
    check_choice("word2vec corpus", name, ("w2v_combined", "wikitext2", "w2v_tiny"))
    if name == "w2v_tiny":
        return read_tiny()
    names = ["wikitext2"] if name == "wikitext2" else _parts(parts)
    return [t for p in names for t in read_part(p)]


# ----------------------------------------------------------------------------- sampling


def keep_probabilities(counts: np.ndarray, subsample: float) -> np.ndarray:
    """Per-word probability of being kept by frequency subsampling (word2vec.c, gensim 4)."""
    counts = np.asarray(counts, dtype=np.float64)
    if subsample <= 0:
        return np.ones_like(counts)
    threshold = subsample * counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        p = (np.sqrt(counts / threshold) + 1) * threshold / counts
    return np.where(counts > 0, np.minimum(p, 1.0), 0.0)


def negative_cdf(counts: np.ndarray, exponent: float) -> np.ndarray:
    """Cumulative ``count ** exponent`` over word ids (unnormalized; words never seen get no mass)."""
    weights = np.where(np.asarray(counts) > 0, np.asarray(counts, dtype=np.float64) ** exponent, 0.0)
    return np.cumsum(weights)


def draw_negatives(cdf: np.ndarray, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Word ids drawn with probability proportional to the increments of ``cdf`` (int64, ``shape``)."""
    u = rng.random(int(np.prod(shape))) * cdf[-1]
    return np.searchsorted(cdf, u, side="right").astype(np.int64).reshape(shape)


def draw_examples(
    ids: np.ndarray, sentence: np.ndarray, keep: np.ndarray, window: int, mode: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One pass of examples over a corpus: subsample, draw each position's window, take the pairs.

    ``ids`` (N,) word ids in text order and ``sentence`` (N,) their sentence
    numbers; ``keep`` (V,) the per-word keep probability. Returns
    ``(inputs, outputs)``: skip-gram ``(P,)`` context words and ``(P,)`` centres;
    CBOW ``(C, 2 * window)`` context words (0 = none) and ``(C,)`` centres with
    at least one context word. Vectorized per distance ``d``: positions ``k``
    and ``k + d`` pair when they share a sentence and ``d`` is within the
    window drawn for the centre.
    """
    kept = rng.random(ids.shape[0]) < keep[ids]
    w, s = ids[kept], sentence[kept]  # (M,)
    m = w.shape[0]
    b = window - rng.integers(0, window, size=m)  # (M,) in [1, window], gensim's reduced_windows
    if mode == "skipgram":
        inputs: list[np.ndarray] = []
        outputs: list[np.ndarray] = []
        for d in range(1, min(window, m - 1) + 1):
            same = s[d:] == s[:-d]  # (M - d,): positions k and k + d in one sentence
            right = same & (b[:-d] >= d)  # centre k sees k + d
            left = same & (b[d:] >= d)  # centre k + d sees k
            inputs += [w[d:][right], w[:-d][left]]
            outputs += [w[:-d][right], w[d:][left]]
        if not inputs:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(inputs).astype(np.int64), np.concatenate(outputs).astype(np.int64)
    ctx = np.zeros((m, 2 * window), dtype=np.int64)  # (M, 2W): left d=window..1, then right d=1..window
    for d in range(1, min(window, m - 1) + 1):
        same = s[d:] == s[:-d]
        ctx[:-d, window + d - 1] = np.where(same & (b[:-d] >= d), w[d:], PAD_ID)
        ctx[d:, window - d] = np.where(same & (b[d:] >= d), w[:-d], PAD_ID)
    has = (ctx != PAD_ID).any(1)
    return ctx[has], w[has].astype(np.int64)


# ----------------------------------------------------------------------------- batches


class ExampleBatches:
    """Batches ``(inputs, outputs, negatives)`` over example tensors; see the module docstring.

    Contiguous batches in order (evaluation), or interleaved (training, ``order``
    given): with ``nb`` batches, batch ``j`` takes every ``nb``-th example from
    ``order[j]`` on. Examples come out of :func:`draw_examples` by distance,
    then text position, so each interleaved batch is a systematic sample of the
    whole corpus and of all distances; a strided view costs nothing, where a
    full permutation of ~1.5M examples costs ~6% of an epoch (measured on the
    combined corpus). ``negatives`` is ``(nb, ceil(batch_size / group), K)``:
    the ``j``-th batch served uses row ``j``, cut to its own number of groups.
    """

    def __init__(
        self, inputs: Tensor, outputs: Tensor, negatives: Tensor, batch_size: int, group: int, order: Sequence[int] | None = None
    ):
        self.inputs, self.outputs, self.negatives = inputs, outputs, negatives
        self.batch_size, self.group = batch_size, group
        self.n = outputs.shape[0]
        self.order = order

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        bs, nb = self.batch_size, len(self)
        for j in range(nb):
            cut = slice(j * bs, (j + 1) * bs) if self.order is None else slice(int(self.order[j]), None, nb)
            out = self.outputs[cut]  # slices are views: no copy
            groups = -(-out.shape[0] // self.group)
            yield self.inputs[cut], out, self.negatives[j, :groups]


class EpochBatches:
    """The training iterable: each pass draws a new epoch of examples and negatives, in random batches.

    ``len()`` is the number of batches of the first epoch (drawn on first use
    and served by the first pass); later epochs differ by a few examples, from
    subsampling and window draws, and yield as many batches as they fill.
    """

    def __init__(self, module: WordCorpusModule):
        self.module = module
        self._first: ExampleBatches | None = None

    def _draw(self) -> ExampleBatches:
        m = self.module
        inputs, outputs = m.draw(m.rng)
        return m.batches(inputs, outputs, m.batch_size, m.rng, interleave=True)

    def __len__(self) -> int:
        if self._first is None:
            self._first = self._draw()
        return len(self._first)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        epoch = self._first if self._first is not None else self._draw()
        self._first = None  # a later len() describes the next draw
        yield from epoch


class WordCorpusModule(L.LightningDataModule):
    """A word2vec corpus: ids in text order, vocabulary and counts; training examples drawn per epoch.

    Works with zoobench's loop (:mod:`zoo.engine`) and with Lightning's
    Trainer (the dataloaders are plain iterables with ``len()``). The task
    calls :meth:`set_sampling` with its model's settings before training.
    """

    def __init__(
        self,
        info: DataInfo,
        ids: np.ndarray,
        sentence: np.ndarray,
        counts: np.ndarray,
        *,
        batch_size: int = 32,
        eval_batch_size: int = 1024,
        seed: int = 0,
        split_seed: int = 0,
        eval_examples: int = 20_000,
        word_eval: Any = None,
        sampling: Sampling | None = None,
    ):
        super().__init__()
        check_positive("batch_size", batch_size, integer=True)
        check_positive("eval_batch_size", eval_batch_size, integer=True)
        check_positive("eval_examples", eval_examples, integer=True)
        self.info = info
        self.ids, self.sentence = ids, sentence  # (N,) int64 word ids, (N,) sentence numbers
        self.counts = np.asarray(counts, dtype=np.int64)  # (V,)
        self.batch_size = int(batch_size)
        self.eval_batch_size = int(eval_batch_size)
        self.seed = seed
        self.split_seed = split_seed
        self.eval_examples = int(eval_examples)
        self.word_eval = word_eval
        """:class:`zoo.eval_words.WordEval` (analogies, WordSim-353, SimLex-999) or None."""
        self.device = torch.device("cpu")
        self.set_sampling(sampling or Sampling())

    # ------------------------------------------------------------------ configuration
    def set_sampling(self, sampling: Sampling) -> None:
        """Draw examples this way from now on (drops examples drawn before)."""
        self.sampling = sampling
        self.keep = keep_probabilities(self.counts, sampling.subsample)  # (V,)
        self.cdf = negative_cdf(self.counts, sampling.ns_exponent)  # (V,)
        self._rng: np.random.Generator | None = None
        self._train: EpochBatches | None = None
        self._eval: dict[str, ExampleBatches] = {}

    @property
    def rng(self) -> np.random.Generator:
        # Created on first use: the training seed is set on the module after construction.
        if self._rng is None:
            self._rng = np.random.default_rng(self.seed)
        return self._rng

    @property
    def vocab(self) -> Vocab:
        return Vocab.from_dict(self.info.extra["vocab"])

    def to(self, device: torch.device | str) -> WordCorpusModule:
        """Serve batches on ``device`` (each epoch's examples are moved once)."""
        self.device = torch.device(device)
        self._eval = {}
        if self._train is not None:
            self._train._first = None  # an epoch drawn already sits on the old device
        return self

    # ------------------------------------------------------------------ examples
    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        s = self.sampling
        return draw_examples(self.ids, self.sentence, self.keep, s.window, s.mode, rng)

    def batches(
        self, inputs: np.ndarray, outputs: np.ndarray, batch_size: int, rng: np.random.Generator, *, interleave: bool = False
    ) -> ExampleBatches:
        """Batches over examples (interleaved in random order, or contiguous), with negatives for every group."""
        s = self.sampling
        n = outputs.shape[0]
        if n == 0:
            raise DataError(
                f"corpus {self.info.name!r} yields no training example: its sentences are too short "
                f"for a window once rare words are removed (try a lower min_count)."
            )
        group = min(s.shared_negatives, batch_size)
        shape = (-(-n // batch_size), -(-min(batch_size, n) // group), s.negatives)
        negatives = draw_negatives(self.cdf, shape, rng)
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(self.device)  # noqa: E731
        order = rng.permutation(shape[0]).tolist() if interleave else None
        return ExampleBatches(t(inputs), t(outputs), t(negatives), batch_size, group, order)

    # ------------------------------------------------------------------ dataloaders
    def train_dataloader(self) -> EpochBatches:
        # One object for the whole run, so the generator advances epoch after epoch.
        if self._train is None:
            self._train = EpochBatches(self)
        return self._train

    def _fixed(self, split: str) -> ExampleBatches:
        if split not in self._eval:
            rng = np.random.default_rng([self.split_seed, {"val": 1, "test": 2}[split]])  # fixed across training seeds
            inputs, outputs = self.draw(rng)
            if outputs.shape[0] > self.eval_examples:
                pick = np.sort(rng.choice(outputs.shape[0], self.eval_examples, replace=False))
                inputs, outputs = inputs[pick], outputs[pick]
            self._eval[split] = self.batches(inputs, outputs, self.eval_batch_size, rng)
        return self._eval[split]

    def val_dataloader(self) -> ExampleBatches:
        return self._fixed("val")

    def test_dataloader(self) -> ExampleBatches:
        return self._fixed("test")


# ----------------------------------------------------------------------------- building


def corpus_datamodule(
    name: str,
    texts: Iterable[str],
    *,
    min_count: int = 5,
    max_vocab: int = 0,
    batch_size: int = 32,
    eval_batch_size: int = 1024,
    seed: int = 0,
    split_seed: int = 0,
    eval_examples: int = 20_000,
    word_eval: bool | None = None,
    tokenizer_name: str = "words",
    extra: dict[str, Any] | None = None,
) -> WordCorpusModule:
    """A word2vec data module over ``texts`` (one sentence, line or paragraph each).

    >>> dm = corpus_datamodule("mine", ["the cat sat on the mat", "the dog sat"], min_count=1)  # doctest: +SKIP

    ``word_eval``: load the analogy and similarity sets (True), not (False), or
    when their files are present (None).
    """
    from zoo.eval_words import WordEval

    check_positive("min_count", min_count, integer=True)
    check_positive("max_vocab", max_vocab, allow_zero=True, integer=True)
    tok = TOKENIZERS[check_choice("tokenizer", tokenizer_name, TOKENIZERS)]
    sentences = [s for s in (tok(t) for t in texts) if s]
    tokens = sum(map(len, sentences))
    if tokens == 0:
        raise DataError(f"corpus {name!r} is empty: it has no word to train on.")
    if max_vocab and max_vocab < 3:
        raise ConfigError(f"max_vocab must be 0 (no limit) or at least 3 (<pad>, <unk> and a word), got {max_vocab}.")
    vocab = Vocab.build(sentences, min_freq=min_count, max_size=max_vocab or None, specials=(PAD, UNK))
    # Text order, rare words removed (word2vec drops them before windows are taken).
    stoi = vocab.stoi
    flat: list[int] = []
    sent: list[int] = []
    for k, s in enumerate(sentences):
        ids = [i for i in (stoi.get(t, -1) for t in s) if i > 0]
        flat += ids
        sent += [k] * len(ids)
    ids_arr, sent_arr = np.array(flat, dtype=np.int64), np.array(sent, dtype=np.int64)
    if ids_arr.shape[0] == 0:
        raise DataError(f"corpus {name!r} has no word seen at least min_count={min_count} times ({tokens:,} words in all); lower min_count.")
    counts = np.bincount(ids_arr, minlength=len(vocab)).astype(np.int64)  # (V,) training occurrences
    evaluation = None if word_eval is False else (WordEval.load() if word_eval else WordEval.load_if_present())
    info = DataInfo(
        name=name,
        kind="embedding",
        extra={
            "tokenizer": tokenizer_name,
            "vocab": vocab.to_dict(),
            "counts": counts.tolist(),
            "min_count": min_count,
            "max_vocab": max_vocab,
            "sentences": len(sentences),
            "tokens": tokens,
            "train_words": int(ids_arr.shape[0]),
            "word_eval": evaluation is not None,
            **(extra or {}),
        },
    )
    return WordCorpusModule(
        info, ids_arr, sent_arr, counts, batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed,
        split_seed=split_seed, eval_examples=eval_examples, word_eval=evaluation,
    )  # fmt: skip


# ----------------------------------------------------------------------------- registered datasets


def _parts(parts: str | Sequence[str]) -> list[str]:
    names = [p.strip() for p in (parts.split(",") if isinstance(parts, str) else parts) if p.strip()]
    if not names:
        raise ConfigError(f"parts must name at least one of {', '.join(PARTS)}, got {parts!r}.")
    for p in names:
        check_choice("corpus part", p, PARTS)
    return list(dict.fromkeys(names))


@register_loader("w2v_combined")
def w2v_combined(o: CombinedCorpusOptions) -> WordCorpusModule:
    """The ``w2v_combined`` data module (declared, with its options, in ``zoo/data/catalogue.py``)."""
    names = _parts(o.parts)
    options = {k: v for k, v in asdict(o).items() if k != "parts"}
    return corpus_datamodule("w2v_combined", dataset_texts("w2v_combined", names), **options, extra={"parts": names})


@register_loader("wikitext2")
def wikitext2(o: CorpusOptions) -> WordCorpusModule:
    """The ``wikitext2`` data module (declared, with its options, in ``zoo/data/catalogue.py``)."""
    return corpus_datamodule("wikitext2", dataset_texts("wikitext2"), **asdict(o), extra={"parts": ["wikitext2"]})


@register_loader("w2v_tiny")
def w2v_tiny(o: TinyCorpusOptions) -> WordCorpusModule:
    """The ``w2v_tiny`` data module (declared, with its options, in ``zoo/data/catalogue.py``)."""
    return corpus_datamodule("w2v_tiny", dataset_texts("w2v_tiny"), **asdict(o), extra={"parts": ["w2v_tiny"]})

