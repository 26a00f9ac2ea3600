"""Word vectors and their intrinsic evaluation: neighbours, analogies, similarity correlation.

:class:`WordVectors` wraps a ``(V, D)`` matrix and its words. It answers the
questions people ask of word2vec (nearest neighbours, ``a : b :: c : ?``) and
scores the vectors on the standard sets of :func:`zoo.data.text.read_word_eval`:

* analogy accuracy on ``questions-words`` (3CosAdd: ``argmax cos(x, b - a + c)``
  over unit vectors, ``a``, ``b``, ``c`` excluded), restricted to the most
  frequent words: a question counts only when its four words are among them,
  and only those words are candidate answers (word2vec's ``compute-accuracy``
  with its 30,000-word threshold, gensim's ``restrict_vocab``);
* Spearman correlation between cosine similarity and the human scores of
  WordSim-353 and SimLex-999, over the pairs whose two words are known.

Lookups are case-insensitive and a folded word means its most frequent
spelling, as gensim's ``case_insensitive=True``, so the same code scores
zoobench's vectors and gensim's alike (``benchmarks/word2vec_vs_gensim.py``
checks the numbers against gensim's own evaluators). No model code here: the
embedding task and the benchmark both use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from zoo.errors import ConfigError, DataError, check_positive

Analogy = tuple[str, str, str, str]
ScoredPair = tuple[str, str, float]

ANALOGY_VOCAB = 30_000
"""Default number of most frequent words analogy questions are restricted to (word2vec's compute-accuracy)."""


class WordVectors:
    """Word vectors ``(V, D)`` with their words (row order); rows never trained are never answers.

    ``counts`` (training occurrences per row) marks rows that were trained
    (``count > 0``); a ``<pad>`` row or a special never seen is excluded from
    neighbours and answers. Words are expected in descending frequency order
    (as a :class:`~zoo.data.vocab.Vocab`), so "the N most frequent" is "the
    first N rows".
    """

    def __init__(self, vectors: Tensor | np.ndarray, words: Sequence[str], *, counts: Sequence[int] | None = None):
        vectors = torch.as_tensor(np.asarray(vectors) if not isinstance(vectors, Tensor) else vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ValueError(f"vectors {tuple(vectors.shape)} do not match {len(words)} words")
        self.vectors = vectors.detach().float().cpu()
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        self.trained = torch.ones(len(words), dtype=torch.bool) if counts is None else torch.as_tensor(list(counts)) > 0
        self.unit = F.normalize(self.vectors, dim=1)  # (V, D); a zero row stays zero
        # Case-folded word -> its most frequent spelling's row (the lowest row wins: set last).
        self._folded: dict[str, int] = {}
        for i in range(len(self.words) - 1, -1, -1):
            if self.trained[i]:
                self._folded[self.words[i].lower()] = i

    def __len__(self) -> int:
        return len(self.words)

    # ------------------------------------------------------------------ lookups
    def id(self, word: str) -> int:
        """Row of ``word`` (exact spelling, else case-insensitive); a word never trained raises one line."""
        i = self.index.get(word)
        if i is None or not self.trained[i]:
            i = self._folded.get(word.lower())
        if i is None:
            raise ConfigError(
                f"word {word!r} was never seen in training, so it has no vector "
                f"({int(self.trained.sum()):,} words have one, e.g. {', '.join(self._examples())})."
            )
        return i

    def _examples(self, n: int = 5) -> list[str]:
        return [repr(w) for w, t in zip(self.words, self.trained.tolist()) if t][:n]

    def __contains__(self, word: str) -> bool:
        i = self.index.get(word)
        return (i is not None and bool(self.trained[i])) or word.lower() in self._folded

    def __getitem__(self, word: str) -> Tensor:
        return self.vectors[self.id(word)]

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words."""
        return float(self.unit[self.id(a)] @ self.unit[self.id(b)])

    def _rank(self, query: Tensor, k: int, exclude: Sequence[int], restrict: int | None) -> list[tuple[str, float]]:
        check_positive("k", k, integer=True)
        scores = self.unit @ F.normalize(query, dim=0)  # (V,)
        scores = scores.masked_fill(~self.trained, float("-inf"))
        if restrict is not None:
            scores[restrict:] = float("-inf")
        scores[list(exclude)] = float("-inf")
        k = min(k, int(torch.isfinite(scores).sum()))
        top = scores.topk(k)
        return [(self.words[i], float(s)) for s, i in zip(top.values.tolist(), top.indices.tolist())]

    def nearest(self, word: str, k: int = 10, *, restrict: int | None = None) -> list[tuple[str, float]]:
        """The ``k`` words of highest cosine similarity to ``word`` (itself excluded), best first."""
        i = self.id(word)
        return self._rank(self.vectors[i], k, [i], restrict)

    def analogy(self, a: str, b: str, c: str, k: int = 1, *, restrict: int | None = None) -> list[tuple[str, float]]:
        """``a`` is to ``b`` as ``c`` is to ...: the ``k`` best ``d`` by 3CosAdd (``a``, ``b``, ``c`` excluded)."""
        ia, ib, ic = self.id(a), self.id(b), self.id(c)
        return self._rank(self.unit[ib] - self.unit[ia] + self.unit[ic], k, [ia, ib, ic], restrict)

    # ------------------------------------------------------------------ evaluation
    def _ok(self, restrict: int | None) -> dict[str, int]:
        """Folded word -> row, among the ``restrict`` most frequent rows."""
        if restrict is None:
            return self._folded
        return {w: i for w, i in self._folded.items() if i < restrict}

    def analogy_accuracy(
        self, sections: Mapping[str, Sequence[Analogy]], *, restrict: int | None = ANALOGY_VOCAB, chunk: int = 2048
    ) -> dict[str, Any]:
        """Accuracy on analogy ``sections`` (``{name: [(a, b, c, d), ...]}``), as gensim's ``evaluate_word_analogies``.

        Returns ``acc`` (correct / answered over all sections), ``answered``,
        ``questions``, ``coverage`` (answered / questions) and ``sections``
        (``{name: [correct, answered]}``). A question is answered when its four
        words are among the ``restrict`` most frequent; answers are searched
        among those words only, excluding ``a``, ``b``, ``c``.
        """
        ok = self._ok(restrict)
        limit = len(self) if restrict is None else min(restrict, len(self))
        candidates = self.unit[:limit]  # (L, D)
        blocked = ~self.trained[:limit]
        rows, names, total = [], [], 0
        for name, questions in sections.items():
            for q in questions:
                total += 1
                ids = [ok.get(w.lower()) for w in q]
                if None not in ids:
                    rows.append(ids)
                    names.append(name)
        per_section = {name: [0, 0] for name in sections}
        correct = 0
        if rows:
            q = torch.tensor(rows)  # (Q, 4): a, b, c, expected
            hits = torch.empty(len(rows), dtype=torch.bool)
            for s in range(0, len(rows), chunk):
                part = q[s : s + chunk]
                target = self.unit[part[:, 1]] - self.unit[part[:, 0]] + self.unit[part[:, 2]]  # (C, D)
                scores = F.normalize(target, dim=1) @ candidates.T  # (C, L)
                scores[:, blocked] = float("-inf")
                scores.scatter_(1, part[:, :3], float("-inf"))  # a, b, c are never the answer
                hits[s : s + chunk] = scores.argmax(1) == part[:, 3]
            correct = int(hits.sum())
            for name, hit in zip(names, hits.tolist()):
                per_section[name][0] += int(hit)
                per_section[name][1] += 1
        answered = len(rows)
        return {
            "acc": correct / answered if answered else float("nan"),
            "answered": answered,
            "questions": total,
            "coverage": answered / total if total else 0.0,
            "sections": per_section,
        }

    def pair_spearman(self, pairs: Sequence[ScoredPair], *, restrict: int | None = None) -> dict[str, Any]:
        """Spearman correlation of cosine similarity with human scores, over pairs of known words.

        Returns ``spearman``, ``pairs`` (used) and ``coverage`` (used / all), as
        gensim's ``evaluate_word_pairs`` (which reports the rest as its OOV ratio).
        """
        from scipy.stats import spearmanr

        ok = self._ok(restrict)
        gold, model = [], []
        for a, b, score in pairs:
            ia, ib = ok.get(a.lower()), ok.get(b.lower())
            if ia is not None and ib is not None:
                gold.append(score)
                model.append(float(self.unit[ia] @ self.unit[ib]))
        rho = float(spearmanr(gold, model).statistic) if len(gold) >= 3 else float("nan")
        return {"spearman": rho, "pairs": len(gold), "coverage": len(gold) / len(pairs) if pairs else 0.0}


# ----------------------------------------------------------------------------- evaluation sets


class WordEval:
    """The three standard sets, read once: ``analogies`` (sections), ``wordsim353``, ``simlex999`` (pairs)."""

    def __init__(
        self,
        analogies: Mapping[str, Sequence[Analogy]],
        wordsim353: Sequence[ScoredPair],
        simlex999: Sequence[ScoredPair],
    ):
        self.analogies = analogies
        self.wordsim353 = wordsim353
        self.simlex999 = simlex999

    @classmethod
    def load(cls) -> WordEval:
        """Read the sets through the data directory (``word_eval`` card); a missing file raises DataError."""
        from zoo.data.text import read_word_eval

        return cls(read_word_eval("questions-words"), read_word_eval("wordsim353"), read_word_eval("simlex999"))

    @classmethod
    def load_if_present(cls) -> WordEval | None:
        """The sets, or None when their files are missing and cannot be fetched."""
        try:
            return cls.load()
        except DataError:
            return None

    def scores(self, vectors: WordVectors, *, analogy_vocab: int | None = ANALOGY_VOCAB, analogies: bool = True) -> dict[str, float]:
        """Flat metrics: ``analogy_acc`` (and its ``analogy_coverage``), ``ws353_spearman``, ``simlex_spearman``
        (and their coverages). ``analogies=False`` skips the analogy set (the one that costs time)."""
        out: dict[str, float] = {}
        if analogies:
            a = vectors.analogy_accuracy(self.analogies, restrict=analogy_vocab)
            out["analogy_acc"] = a["acc"]
            out["analogy_coverage"] = a["coverage"]
        for key, pairs in (("ws353", self.wordsim353), ("simlex", self.simlex999)):
            s = vectors.pair_spearman(pairs)
            out[f"{key}_spearman"] = s["spearman"]
            out[f"{key}_coverage"] = s["coverage"]
        return out
