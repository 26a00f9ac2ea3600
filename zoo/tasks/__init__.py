"""The systems: LightningModules that train a model (an ``nn.Module``) for a task.

Model and system are kept apart (Lightning's style guide): a family file builds
the network, a task here owns the loss, the optimizer (injected as an
:class:`~zoo.optim.OptimConfig`) and the metrics. Every task works under
Lightning's ``Trainer`` (``training_step`` / ``validation_step`` /
``test_step``) and under zoobench's leaner loop (``zoo/engine.py``), which
calls the two methods underneath them:

* ``training_loss(batch) -> (loss, n)``: the objective of one batch, penalties included;
* ``evaluate(batches) -> (metrics, predictions)``: one pass over a split,
  metrics computed once from the concatenated outputs.

``evaluate`` is written once (:class:`~zoo.tasks.base.Task`); a task supplies
hooks: ``eval_batch`` (loss, count and per-sample outputs of one batch),
``split_results`` (what is kept and the loss, default: everything and the
mean batch loss) and ``split_metrics``. One module per kind of task:

* ``base.py``: :class:`Task`, the shared wiring and the evaluation loop;
* ``supervised.py``: :class:`ClassificationTask`, :class:`RegressionTask`;
* ``seq2seq.py``: :class:`Seq2SeqTask`, :func:`corpus_bleu`;
* ``language_model.py``: :class:`LanguageModelTask`;
* ``embedding.py``: :class:`EmbeddingTask`.
"""

from __future__ import annotations

from zoo.tasks.base import Task
from zoo.tasks.embedding import EmbeddingTask
from zoo.tasks.language_model import LanguageModelTask
from zoo.tasks.seq2seq import Seq2SeqTask, corpus_bleu
from zoo.tasks.supervised import ClassificationTask, RegressionTask

TASKS: dict[str, type[Task]] = {
    "multiclass": ClassificationTask,
    "binary": ClassificationTask,
    "regression": RegressionTask,
    "language_model": LanguageModelTask,
    "seq2seq": Seq2SeqTask,
    "embedding": EmbeddingTask,
}
"""Task kind (== ``DataInfo.kind``) -> the LightningModule that trains for it."""


__all__ = [
    "TASKS",
    "ClassificationTask",
    "EmbeddingTask",
    "LanguageModelTask",
    "RegressionTask",
    "Seq2SeqTask",
    "Task",
    "corpus_bleu",
]
