"""Word embeddings (the word2vec models of ``zoo/models/word2vec.py``): negative sampling, word scores."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from zoo.errors import ConfigError, check_choice, check_positive
from zoo.eval_words import WordVectors
from zoo.optim import OptimConfig, SparseSGD
from zoo.tasks.base import Task


class EmbeddingTask(Task):
    """Word embeddings (word2vec): the negative-sampling loss; analogy and similarity scores as metrics.

    The model (:mod:`zoo.models.word2vec`) scores a batch ``(inputs, outputs,
    negatives)``: each example's true output word ``pos`` ``(B,)`` and its
    negatives ``neg`` ``(B, K)``; an example's loss is ``-log σ(pos) - Σ_k log σ(-neg_k)``,
    which ``model.loss`` computes with a hand-written backward (the model's
    ``forward`` gives the scores through plain autograd, the reference).

    * Step size: the gradient is that of the *sum* over the batch (the reported
      loss is the mean), so ``lr`` is the per-example step, word2vec's ``alpha``,
      at any batch size.
    * Optimizer: the tables have sparse gradients, so ``sgd`` (SGD), ``adagrad``
      and ``adam`` (SparseAdam) update only the rows a batch touched. With no
      optimizer setting given at all, word2vec's own: sgd, lr 0.025 decayed
      linearly to 1e-4 (word2vec.c, gensim).
    * Metrics (:mod:`zoo.eval_words`, on the sets the data module loaded):
      ``analogy_acc`` over questions whose words are among the ``analogy_vocab``
      most frequent (final evaluation only: it takes seconds), ``ws353_spearman``,
      ``simlex_spearman`` (every epoch), and the share of each set covered.
      They depend on the vectors only, so val and test get the same word
      scores; each split's loss is over its own fixed sample of examples.
    * Batches: a word met ``c`` times in a batch moves ``c`` steps at once, from
      one set of stale vectors; subsampling caps frequent words, and 4,096
      examples per step is safe on a 20k-word vocabulary, but a vocabulary of a
      few dozen words needs small batches (or it diverges).
    """

    kind = "embedding"
    monitor = ("val_loss", "min")
    SPARSE_OPTIMIZERS = ("sgd", "adagrad", "adam")
    default_optim = dict(optimizer="sgd", lr=0.025, schedule="linear", min_lr=1e-4)
    """word2vec.c's and gensim's defaults: alpha 0.025 decayed linearly to min_alpha 1e-4."""

    def __init__(self, model: nn.Module, optim: OptimConfig | None = None, *, analogy_vocab: int = 30_000):
        super().__init__(model, optim)
        check_positive("analogy_vocab", analogy_vocab, integer=True)
        self.analogy_vocab = analogy_vocab
        self.word_eval: Any = None  # zoo.eval_words.WordEval, from the data module

    def batch_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int]:
        loss = self.model.loss(*batch)  # (B,): -log σ(pos) - Σ_k log σ(-neg_k), fused backward
        return loss.mean(), loss.shape[0]

    def training_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int]:
        loss, n = self.batch_loss(batch)
        total = loss * n
        return total - total.detach() + loss.detach(), n  # value: the mean; gradient: the sum's

    def outputs(self, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        return {}  # the word scores need the vectors, not per-example outputs

    def split_metrics(self, out: dict[str, Tensor], *, full: bool) -> dict[str, Any]:
        """Word scores; the analogies (seconds on a 20k-word vocabulary) only when ``full`` (end of training)."""
        if self.word_eval is None or "vocab" not in (getattr(getattr(self, "data_info", None), "extra", None) or {}):
            return {}
        key = (self.model.vectors._version, self.model.vectors.data_ptr(), full)  # val and test share one computation
        if getattr(self, "_word_scores", (None, None))[0] != key:
            scores = self.word_eval.scores(self.word_vectors(), analogy_vocab=self.analogy_vocab, analogies=full)
            self._word_scores = (key, scores)
        return dict(self._word_scores[1])

    def word_vectors(self) -> Any:
        """The model's word vectors with their words (:class:`zoo.eval_words.WordVectors`)."""
        extra = getattr(getattr(self, "data_info", None), "extra", None) or {}
        if "vocab" not in extra:
            raise ConfigError("this embedding model has no vocabulary yet: train it on a dataset or load a checkpoint.")
        return WordVectors(self.model.vectors, extra["vocab"]["tokens"], counts=extra.get("counts"))

    def use_data(self, data: Any) -> None:
        """Hand the model's example settings to the data module; keep its evaluation sets."""
        if hasattr(data, "set_sampling"):
            data.set_sampling(self.model.sampling())
        self.word_eval = getattr(data, "word_eval", None)

    def prepare_data_stats(self, data: Any) -> None:
        """Nothing to fit: :meth:`use_data` only."""
        self.use_data(data)

    def configure_optimizers(self) -> Any:
        o = self.optim
        check_choice("optimizer for sparse embeddings", o.optimizer, self.SPARSE_OPTIMIZERS)
        if o.weight_decay:
            raise ConfigError("weight_decay must be 0 for word embeddings: it would update every row at every step.")
        params = [p for p in self.model.parameters() if p.requires_grad]
        if o.optimizer == "sgd":
            optimizer: torch.optim.Optimizer = SparseSGD(params, lr=o.lr)
        elif o.optimizer == "adagrad":
            optimizer = torch.optim.Adagrad(params, lr=o.lr, eps=o.eps)
        else:  # Adam's moments for the touched rows only (lazy Adam)
            optimizer = torch.optim.SparseAdam(params, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps)
        return self._schedule(optimizer)
