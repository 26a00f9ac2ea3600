"""The shipped datasets, declared: name, task kind, card, options (a dataclass each) and summary.

Pure Python (no torch, no Lightning): a study file or a configuration is
checked against these declarations (option names, types and defaults) before
any data is read. Each loader module binds the loader that builds a dataset
(:func:`zoo.data.registry.register_loader`); :mod:`zoo.data` imports them when
data is first loaded. The loaders receive the options instance.

To add a dataset: its options class and :func:`declare_dataset` call here, its
loader in a module of ``zoo/data/`` (that module's name in
``zoo.data._register_loaders``), its card in ``datasets/``, then
``python -m zoo.index``.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoo.data.registry import declare_dataset

# The book's character split sizes (characters, Hands-On ML 3rd ed. ch. 16); the test split is everything after them.
TRAIN_CHARS, VAL_CHARS, WINDOW = 1_000_000, 60_000, 100
PARTS = ("wikitext2", "spa_eng", "shakespeare")
"""The parts of the ``w2v_combined`` word2vec corpus."""


# ----------------------------------------------------------------------------- options


@dataclass(frozen=True)
class CommonOptions:
    """The options every dataset takes."""

    batch_size: int = 32
    """Training batch size (samples, sentences, windows or examples per step)."""
    eval_batch_size: int = 1024
    """Batch size of the validation and test passes."""
    seed: int = 0
    """Shuffling seed (and split seed unless ``split_seed`` is given)."""


@dataclass(frozen=True)
class TableOptions(CommonOptions):
    """Options of the tabular datasets (``zoo/data/tabular.py``)."""

    split_seed: int | None = None
    """Seed of the train/val/test split; None uses ``seed``."""
    limit: int | None = None
    """Keep only the first N training rows of the split (smoke runs, tests)."""
    classes: tuple[str, ...] = ()
    """Classification: keep these classes only (names or label numbers, e.g. sandal,shirt), relabelled 0..k-1 in this order."""
    labelled: int | None = None
    """Classification: keep this many labelled training examples (stratified by class, drawn with the seed)."""


@dataclass(frozen=True)
class ImageOptions(CommonOptions):
    """Options of the idx image datasets (``zoo/data/images.py``)."""

    eval_batch_size: int = 256
    """256: larger batches of conv activations overflow the cache and evaluate ~2x slower per image on this CPU."""
    split_seed: int | None = None
    """Seed of the train/val split; None uses ``seed``."""
    val_size: int | None = None
    """Images held out of the 60,000 for validation; None = the card's 5,000."""
    limit: int | None = None
    """Keep only the first N training images of the split (smoke runs, tests)."""
    flatten: bool = False
    """Inputs (N, 784) instead of (N, 1, 28, 28)."""
    classes: tuple[str, ...] = ()
    """Classification: keep these classes only (names or label numbers, e.g. sandal,shirt), relabelled 0..k-1 in this order."""
    labelled: int | None = None
    """Classification: keep this many labelled training examples (stratified by class, drawn with the seed)."""
    augment: str = "none"
    """Training batches only: none, shift (up to 2 pixels each way) or shift_flip (also mirror half the images)."""


@dataclass(frozen=True)
class CharOptions(CommonOptions):
    """Options of the character language-model datasets (``zoo/data/charlm.py``)."""

    eval_batch_size: int = 256
    split_seed: int | None = None
    """Accepted for the common interface only: the split is positional, the same for every seed."""
    window: int = WINDOW
    """Characters per window."""
    train_chars: int = TRAIN_CHARS
    val_chars: int = VAL_CHARS
    test_chars: int = 0
    """0: the test split is every character after validation."""
    lowercase: bool = True
    eval_streams: int = 1
    """Contiguous streams a stateful model is evaluated on (1 = the book's way, state carried through the whole block)."""


@dataclass(frozen=True)
class CharSampleOptions(CharOptions):
    train_chars: int = 32_000
    val_chars: int = 4_000


@dataclass(frozen=True)
class WikiCharOptions(CharOptions):
    """Options of ``wikitext2_chars``: validation and test are fixed blocks at the end of the text, so
    training on fewer characters (``train_chars``) is scored on the same characters."""

    train_chars: int = 2_000_000
    """Characters trained on, from the start of the text (at most 2,075,209 with the default blocks)."""
    val_chars: int = 100_000
    test_chars: int = 200_000
    """The last test_chars characters; validation is the val_chars before them."""


@dataclass(frozen=True)
class CorpusOptions(CommonOptions):
    """Options of the word2vec corpora (``zoo/data/corpus.py``)."""

    seed: int = 0
    """Seed of the examples, negatives and order drawn each epoch."""
    split_seed: int = 0
    """Seed of the fixed validation and test example samples (the whole corpus trains)."""
    min_count: int = 5
    """Words seen fewer times are dropped from the text and the vocabulary."""
    max_vocab: int = 0
    """Keep at most this many vocabulary entries, specials included (0 = no limit)."""
    eval_examples: int = 20_000
    """Size of each fixed validation/test example sample (its loss is reported)."""
    word_eval: bool | None = None
    """Score analogies and word similarity (needs the word_eval files); None = when present."""


@dataclass(frozen=True)
class CombinedCorpusOptions(CorpusOptions):
    parts: str = ",".join(PARTS)
    """Comma-separated corpus parts, alone or together: wikitext2, spa_eng, shakespeare."""


@dataclass(frozen=True)
class TinyCorpusOptions(CorpusOptions):
    min_count: int = 2
    eval_examples: int = 5_000


@dataclass(frozen=True)
class NumbersOptions(CommonOptions):
    """Options of the translation datasets (``zoo/data/translation.py``)."""

    split_seed: int | None = None
    """Seed of the train/val/test split; None uses ``seed``."""
    val_size: int = 100
    """Held-out validation pairs; the training split is the rest."""
    test_size: int = 100
    """Held-out test pairs."""
    max_len: int = 8
    """Words kept per sentence (the longest number has 5 words)."""
    limit: int | None = None
    """Keep only the first N training pairs of the split (smoke runs, tests)."""


@dataclass(frozen=True)
class SpaEngOptions(NumbersOptions):
    val_size: int = 9_482  # train = the other 100,000 of 118,964
    test_size: int = 9_482
    vocab_size: int = 1000
    """Tokens per side, specials included (most frequent training words)."""
    src_vocab_size: int | None = None
    """Source-side (English) tokens instead, specials included; None = vocab_size. A larger source vocabulary gives the encoder more words while the target side, and so what accuracy and BLEU are scored on, stays the same."""
    max_len: int = 50
    """Words kept per sentence (the model's limit; 50 as the book)."""


# ----------------------------------------------------------------------------- declarations

# Tabular (zoo/data/tabular.py)
declare_dataset("california_housing", kind="regression", options=TableOptions, doc="""
    California housing: 13 features of a census block group -> median house value in $100k.

    Features: the 8 numeric columns (``total_bedrooms`` missing values filled
    with the training-split median) and ``ocean_proximity`` one-hot in the
    fixed order of ``OCEAN_PROXIMITY``. Target: ``median_house_value / 100000``,
    float32 (N, 1). Split 12,384 / 4,128 / 4,128.
""")
declare_dataset("digits", kind="multiclass", options=TableOptions, embedded=True, doc="""
    Digits: 8x8 handwritten digits as 64 features (counts 0-16), 10 classes; bundled with scikit-learn.

    Options as for ``california_housing``; the split is stratified by class.
""")
declare_dataset("breast_cancer", kind="binary", options=TableOptions, embedded=True, doc="""
    Breast cancer (Wisconsin diagnostic): 30 features, 0 = malignant, 1 = benign; bundled with scikit-learn.

    Options as for ``california_housing``; the split is stratified by class.
""")
declare_dataset("wine", kind="multiclass", options=TableOptions, embedded=True, doc="""
    Wine: 13 chemical measurements, 3 cultivars; bundled with scikit-learn.

    Options as for ``california_housing``; the split is stratified by class.
""")
declare_dataset("diabetes", kind="regression", options=TableOptions, embedded=True, doc="""
    Diabetes: 10 raw baseline variables -> disease progression after one year (25-346, raw units).

    The features are scikit-learn's unscaled ones (``scaled=False``: its default
    scaling uses every row, test included). The target stays in its raw units;
    ``info.extra`` records its training mean and standard deviation. Options as
    for ``california_housing``.
""")
declare_dataset("digits_images", kind="multiclass", options=TableOptions, card="digits", embedded=True, doc="""
    Digits as 1x8x8 images (counts 0-16), 10 classes; scikit-learn's digits with the image layout.

    The same rows and split as ``digits`` (whose inputs are 64 flat features);
    only the input shape differs. Options as for ``digits``.
""")

# Images (zoo/data/images.py)
declare_dataset("mnist", kind="multiclass", options=ImageOptions, doc="""
    MNIST handwritten digits: 28x28 grey images, 10 classes, 55k/5k/10k.
""")
declare_dataset("fashion_mnist", kind="multiclass", options=ImageOptions, doc="""
    Fashion-MNIST: 28x28 grey images of clothing, 10 classes, 55k/5k/10k.

    Options as for ``mnist``.
""")

# Character language models (zoo/data/charlm.py)
declare_dataset("shakespeare", kind="language_model", options=CharOptions, card="tiny_shakespeare", doc="""
    Tiny Shakespeare, the book's protocol: lowercase, first 1,000,000 characters train, next 60,000 validation, windows of 100.

    ``test_chars=0`` makes the test split every character after validation
    (55,394). ``seed`` orders the training windows.
""")
declare_dataset("shakespeare_sample", kind="language_model", options=CharSampleOptions, card="tiny_shakespeare",
                embedded=True, doc="""
    The first 39,908 characters of Tiny Shakespeare, embedded (no data directory): 32,000 train, 4,000 validation, 3,908 test.

    The same protocol as ``shakespeare`` on a 28x smaller text: for tests, smoke
    studies and a fresh install.
""")

declare_dataset("wikitext2_chars", kind="language_model", options=WikiCharOptions, card="wikitext2", doc="""
    WikiText-2 valid+test as characters (2.38M, lowercase, as ``shakespeare``): a second text for char models.

    Validation is the 100,000 and test the last 200,000 characters, whatever ``train_chars`` (the first
    N characters; 2,000,000 by default), so budgets are compared on the same text. The vocabulary is the
    training block's (a checkpoint of another text is aligned to it on load: zoo/transfer.py).
""")

# Word2vec corpora (zoo/data/corpus.py)
declare_dataset("w2v_combined", kind="embedding", options=CombinedCorpusOptions, card="wikitext2", doc="""
    WikiText-2 valid+test + spa-eng English + Tiny Shakespeare (1.35M words), a word2vec corpus.
""")
declare_dataset("wikitext2", kind="embedding", options=CorpusOptions, doc="""
    WikiText-2 validation + test (tokenised Wikipedia, 390k words), a word2vec corpus.
""")
declare_dataset("w2v_tiny", kind="embedding", options=TinyCorpusOptions, card="tiny_shakespeare", embedded=True, doc="""
    Opening of Coriolanus (17k words, embedded: no data directory), for tests and demos.
""")

# Translation (zoo/data/translation.py)
declare_dataset("spa_eng", kind="seq2seq", options=SpaEngOptions, doc="""
    English -> Spanish Tatoeba pairs: 100,000 / 9,482 / 9,482, 1,000-token vocabularies.
""")
declare_dataset("numbers_en_es", kind="seq2seq", options=NumbersOptions, embedded=True, doc="""
    English number words -> Spanish number words, 0-999 (embedded): 800 / 100 / 100 pairs.
""")
