"""How word2vec training examples are drawn: the setting a word2vec model gives its corpus.

Pure Python, so the model family (``zoo/models/word2vec.py``, which builds it from
its config) and the corpus (``zoo/data/corpus.py``, which draws examples with it)
share it without either importing the other. The drawing itself is described in
``zoo/data/corpus.py``'s module docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from zoo.errors import ConfigError, check_choice, check_positive

MODES = ("skipgram", "cbow")


@dataclass(frozen=True)
class Sampling:
    """How training examples are drawn each epoch (the model's config supplies it; ``zoo/data/corpus.py`` describes each step)."""

    mode: str = "skipgram"
    """skipgram (pairs) or cbow (context window -> centre)."""
    window: int = 5
    """Largest distance between centre and context; each position draws its own in [1, window]."""
    negatives: int = 5
    """Negative words scored against each example."""
    shared_negatives: int = 64
    """Examples that share one draw of negatives (1 = a fresh draw per example)."""
    subsample: float = 1e-3
    """Frequency subsampling threshold t (0 = keep every word)."""
    ns_exponent: float = 0.75
    """Negatives are drawn with probability proportional to count ** ns_exponent."""

    def __post_init__(self) -> None:
        check_choice("word2vec mode", self.mode, MODES)
        check_positive("window", self.window, integer=True)
        check_positive("negatives", self.negatives, integer=True)
        check_positive("shared_negatives", self.shared_negatives, integer=True)
        check_positive("subsample", self.subsample, allow_zero=True)
        if not isinstance(self.ns_exponent, (int, float)) or isinstance(self.ns_exponent, bool) or not math.isfinite(self.ns_exponent):
            raise ConfigError(f"ns_exponent must be a finite number, got {self.ns_exponent!r}.")
