"""The one catalogue of metrics: name, direction, unit and meaning.

Every metric a run records is ``<stage>_<name>`` (``val_acc``, ``test_rmse``)
or a bare ``<name>`` inside a split's dictionary. The training loop (which
direction early stopping watches), the study checks (a target's mode), the
analysis (best value, paired tests) and the report (axis labels, "higher is
better") all read the direction and unit from here, so they cannot disagree.
Pure Python: the store, analysis and report import it without torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from zoo.errors import UnknownNameError

STAGES = ("train", "val", "test")


@dataclass(frozen=True)
class Metric:
    name: str
    mode: str
    """``max`` (higher is better) or ``min`` (lower is better)."""
    unit: str
    """What a value is measured in ('' for a plain ratio in [0, 1])."""
    meaning: str
    """One line for a reader."""


def _m(name: str, mode: str, unit: str, meaning: str) -> Metric:
    return Metric(name, mode, unit, meaning)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        # every task
        _m("loss", "min", "nats", "the training objective on the split (mean per sample, token or pair)"),
        # classification (multi-class and binary)
        _m("acc", "max", "", "fraction of samples predicted correctly (of tokens, for sequences and language models)"),
        _m("precision", "max", "", "macro precision (binary: of the positive class)"),
        _m("recall", "max", "", "macro recall (binary: of the positive class)"),
        _m("f1", "max", "", "macro F1 (binary: of the positive class)"),
        _m("auroc", "max", "", "area under the ROC curve (macro one-vs-rest for several classes)"),
        _m("ap", "max", "", "average precision, the area under the PR curve (macro for several classes)"),
        # regression
        _m("rmse", "min", "target unit", "root mean squared error"),
        _m("mae", "min", "target unit", "mean absolute error"),
        _m("r2", "max", "", "coefficient of determination (1 = perfect, 0 = the mean predictor)"),
        # language models
        _m("perplexity", "min", "", "exp(loss): the effective number of equally likely next characters"),
        _m("bits_per_char", "min", "bits", "loss in bits per character (loss / ln 2)"),
        # sequence to sequence
        _m("exact", "max", "", "fraction of sentences whose every target token is predicted correctly"),
        _m("bleu", "max", "", "corpus BLEU-4 of greedy translations (0-1)"),
        # word embeddings
        _m("analogy_acc", "max", "", "3CosAdd accuracy on the covered Google analogy questions"),
        _m("ws353_spearman", "max", "", "Spearman's rho against WordSim-353 human similarity"),
        _m("simlex_spearman", "max", "", "Spearman's rho against SimLex-999 human similarity"),
        _m("analogy_coverage", "max", "", "fraction of analogy questions whose four words are in the vocabulary"),
        _m("ws353_coverage", "max", "", "fraction of WordSim-353 pairs in the vocabulary"),
        _m("simlex_coverage", "max", "", "fraction of SimLex-999 pairs in the vocabulary"),
        # cost
        _m("seconds", "min", "s", "wall time"),
        _m("throughput", "max", "samples/s", "training samples per second, evaluation excluded"),
        _m("time_to_target", "min", "s", "training seconds until the study's target value was first reached"),
    )
}

PER_EPOCH: dict[str, tuple[str, ...]] = {
    "multiclass": ("loss", "acc"),
    "binary": ("loss", "acc"),
    "regression": ("loss", "rmse", "mae", "r2"),
    "language_model": ("loss", "bits_per_char", "perplexity", "acc"),
    "seq2seq": ("loss", "acc", "exact"),
    "embedding": ("loss",),
}
"""Task kind -> the validation metrics its loop records every epoch (``val_<name>`` in the history:
``Task.evaluate(full=False)`` in zoo/tasks); what a search's objective and pruner can watch.
tests/test_metric_catalogue.py checks it against trained tasks."""

_STAGE = re.compile(rf"^({'|'.join(STAGES)})_")


def strip_stage(metric: str) -> str:
    """``"val_acc" -> "acc"``; a name without a stage prefix is returned as it is."""
    return _STAGE.sub("", metric)


def lookup(metric: str) -> Metric:
    """The catalogue entry of ``metric`` (stage prefix allowed); unknown names are refused by name."""
    base = strip_stage(metric)
    if base in METRICS:
        return METRICS[base]
    raise UnknownNameError("metric", metric, METRICS)


def is_known(metric: str) -> bool:
    return strip_stage(metric) in METRICS


def mode(metric: str) -> str:
    """``"min"`` if lower is better, else ``"max"``."""
    return lookup(metric).mode


def better(metric: str, a: float, b: float) -> bool:
    """Whether value ``a`` of ``metric`` is strictly better than ``b``."""
    return a < b if mode(metric) == "min" else a > b
