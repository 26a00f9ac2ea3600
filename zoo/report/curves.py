"""Test metrics and curves recomputed from a cell's stored predictions, by scikit-learn.

The store-side twin of zoo/scoring.py (which computes the same metrics with torchmetrics
during training): a new metric needs no retraining, and the report checks the stored
values against these (``Table.mismatches`` in zoo/report/tables.py).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

CLASSIFICATION_KINDS = ("multiclass", "binary")


def prediction_kind(pred: dict[str, np.ndarray], stored_kind: str | None = None) -> str | None:
    """``multiclass``/``binary`` for ``probs`` (N, C)/(N,), ``regression`` for ``pred``."""
    if "probs" in pred:
        shape = np.shape(pred["probs"])
        return "binary" if len(shape) == 1 or (stored_kind == "binary" and shape[1] == 2) else "multiclass"
    if "pred" in pred:
        return stored_kind if stored_kind not in (None, *CLASSIFICATION_KINDS) else "regression"
    return None


def as_two_columns(probs: np.ndarray) -> np.ndarray:
    """Binary positive-class probabilities (N,) -> (N, 2) class probabilities."""
    p = np.asarray(probs, dtype=np.float64)
    return np.stack([1 - p, p], 1) if p.ndim == 1 else p


def hard_predictions(probs: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Class labels: ``probs >= threshold`` for binary (N,), argmax for (N, C)."""
    p = np.asarray(probs)
    return (p >= threshold).astype(np.int64) if p.ndim == 1 else p.argmax(1)


def _binary(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(y).reshape(-1).astype(bool), np.asarray(score, dtype=np.float64).reshape(-1)


def roc_curve(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) at every distinct score, from (0, 0) at threshold +inf
    (``sklearn.metrics.roc_curve``, all thresholds kept); a rate without its class is 0."""
    y, score = _binary(y, score)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        fpr, tpr, thr = skm.roc_curve(y, score, drop_intermediate=False)
    return np.nan_to_num(fpr), np.nan_to_num(tpr), thr


def pr_curve(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds) with increasing thresholds, ending at (1, 0)
    (``sklearn.metrics.precision_recall_curve``, all thresholds kept)."""
    y, score = _binary(y, score)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no positives: recall is 1 at every threshold, as sklearn says
        return skm.precision_recall_curve(y, score, drop_intermediate=False)


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (``sklearn.metrics.roc_auc_score``); NaN when one class is absent."""
    y, score = _binary(y, score)
    if y.all() or not y.any():
        return math.nan
    return float(skm.roc_auc_score(y, score))


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """Average precision (``sklearn.metrics.average_precision_score``); NaN without positives."""
    y, score = _binary(y, score)
    if not y.any():
        return math.nan
    return float(skm.average_precision_score(y, score))


def confusion(target: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, C) counts, rows = true class, columns = predicted class (``sklearn.metrics.confusion_matrix``)."""
    t = np.asarray(target).astype(np.int64).reshape(-1)
    p = np.asarray(pred).astype(np.int64).reshape(-1)
    return skm.confusion_matrix(t, p, labels=np.arange(n_classes))


def classification_metrics(probs: np.ndarray, target: np.ndarray, *, threshold: float = 0.5) -> dict[str, Any]:
    """The metrics of zoo/scoring.py's classification, from the stored predictions.

    Binary (``probs`` (N,), positive-class probability): precision/recall/F1 of class 1 at
    ``threshold``, AUROC and AP of the scores. Multi-class (N, C): macro averages of the
    per-class values; AUROC one-vs-rest, macro; AP macro over one-hot targets. Precision
    (recall) of a class never predicted (absent) is 0 (``zero_division=0``). A class absent
    from the targets has no AUROC/AP; the macro average skips it.
    """
    probs = np.asarray(probs, dtype=np.float64)
    target = np.asarray(target).astype(np.int64).reshape(-1)
    binary = probs.ndim == 1
    n_classes = 2 if binary else probs.shape[1]
    labels = np.arange(n_classes)
    pred = hard_predictions(probs, threshold)
    cm = confusion(target, pred, n_classes)
    p, r, f, support = skm.precision_recall_fscore_support(target, pred, labels=labels, zero_division=0)
    out: dict[str, Any] = {"acc": float(skm.accuracy_score(target, pred)) if len(target) else 0.0}
    if binary:
        out.update(precision=float(p[1]), recall=float(r[1]), f1=float(f[1]))
        out["auroc"] = auroc(target == 1, probs)
        out["ap"] = average_precision(target == 1, probs)
        out["threshold"] = float(threshold)
    else:
        out.update(precision=float(p.mean()), recall=float(r.mean()), f1=float(f.mean()))
        auc = [auroc(target == c, probs[:, c]) for c in labels]
        ap = [average_precision(target == c, probs[:, c]) for c in labels]
        out["auroc"] = float(np.nanmean(auc)) if np.isfinite(auc).any() else math.nan
        out["ap"] = float(np.nanmean(ap)) if np.isfinite(ap).any() else math.nan
        out["auroc_per_class"] = auc
        out["ap_per_class"] = ap
    out["precision_per_class"] = p.tolist()
    out["recall_per_class"] = r.tolist()
    out["f1_per_class"] = f.tolist()
    out["support_per_class"] = support.astype(int).tolist()
    out["confusion_matrix"] = cm.tolist()
    return out


def regression_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R² (uniform average over target columns), by scikit-learn."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64).reshape(pred.shape)
    return {
        "rmse": float(math.sqrt(skm.mean_squared_error(target, pred))),
        "mae": float(skm.mean_absolute_error(target, pred)),
        "r2": float(skm.r2_score(target, pred)) if len(target) > 1 else math.nan,
    }


TRIVIAL_NAMES = {"acc": "the majority-class accuracy", "rmse": "the mean predictor's RMSE",
                 "bits_per_char": "a unigram model of the training characters"}
"""The metrics :func:`trivial_metrics` gives, and what the baseline is called in the report."""


def trivial_metrics(pred: dict[str, np.ndarray], *, kind: str | None = None) -> dict[str, float]:
    """What a predictor that ignores its input scores on the same stored test labels:
    classification, the accuracy of always predicting the most frequent test class;
    regression, the RMSE of always predicting the test targets' mean (per column)."""
    kind = prediction_kind(pred, kind)
    target = np.asarray(pred["target"])
    if not len(target):
        return {}
    if kind in CLASSIFICATION_KINDS:
        counts = np.bincount(target.astype(np.int64).reshape(-1))
        return {"acc": float(counts.max() / counts.sum())}
    if kind == "regression":
        y = target.astype(np.float64).reshape(len(target), -1)
        return {"rmse": float(math.sqrt(np.mean((y - y.mean(0)) ** 2)))}
    return {}


def prediction_metrics(pred: dict[str, np.ndarray], *, kind: str | None = None, threshold: float = 0.5) -> dict[str, Any]:
    """Test metrics from a cell's stored predictions (see the two functions above)."""
    kind = prediction_kind(pred, kind)
    if kind in CLASSIFICATION_KINDS:
        probs = np.asarray(pred["probs"])
        if kind == "binary" and probs.ndim == 2 and probs.shape[1] == 2:  # (N, 2): keep class 1
            probs = probs[:, 1]
        return classification_metrics(probs, pred["target"], threshold=threshold)
    if kind == "regression":
        return regression_metrics(pred["pred"], pred["target"])
    return {}


# ---- macro-averaged curves (the report's comparative ROC and PR figures)

CURVE_GRID = np.linspace(0.0, 1.0, 501)
"""The common x grid (false positive rate, recall) the per-class curves are interpolated onto."""


def _class_scores(y: np.ndarray, probs: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(is class c, score of class c) per class; binary (N,) probabilities give class 1 only."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y).astype(np.int64).reshape(-1)
    if p.ndim == 1:
        return [(y == 1, p)]
    return [(y == c, p[:, c]) for c in range(p.shape[1])]


def macro_roc(y: np.ndarray, probs: np.ndarray, grid: np.ndarray = CURVE_GRID) -> tuple[np.ndarray, np.ndarray, float]:
    """(fpr grid, mean true positive rate, macro AUROC): each class's one-vs-rest ROC curve
    (:func:`roc_curve`) linearly interpolated onto ``grid`` and averaged over the classes present
    with both outcomes; the area is the mean of the per-class AUROCs, scikit-learn's
    ``roc_auc_score(average='macro', multi_class='ovr')`` (binary: the curve of class 1)."""
    tprs, aucs = [], []
    for yc, sc in _class_scores(y, probs):
        if not (0 < yc.sum() < len(yc)):
            continue
        fpr, tpr, _ = roc_curve(yc, sc)
        tprs.append(np.interp(grid, fpr, tpr))
        aucs.append(auroc(yc, sc))
    if not tprs:
        return grid, np.full_like(grid, np.nan), math.nan
    curve = np.mean(tprs, 0)
    curve[0] = 0.0 if grid[0] == 0 else curve[0]
    return grid, curve, float(np.mean(aucs))


def macro_pr(y: np.ndarray, probs: np.ndarray, grid: np.ndarray = CURVE_GRID) -> tuple[np.ndarray, np.ndarray, float]:
    """(recall grid, mean precision, macro AP): each class's precision–recall curve
    (:func:`pr_curve`) read as average precision reads it, a step function (the precision at
    recall r is that of the first threshold reaching r), sampled on ``grid`` and averaged over the
    classes present; the area is the mean of the per-class APs, scikit-learn's
    ``average_precision_score(average='macro')`` on one-hot targets."""
    precs, aps = [], []
    for yc, sc in _class_scores(y, probs):
        if not yc.any():
            continue
        prec, rec, _ = pr_curve(yc, sc)
        prec, rec = prec[::-1], rec[::-1]  # recall increasing from 0
        idx = np.minimum(np.searchsorted(rec, grid, side="left"), len(rec) - 1)
        precs.append(prec[idx])
        aps.append(average_precision(yc, sc))
    if not precs:
        return grid, np.full_like(grid, np.nan), math.nan
    return grid, np.mean(precs, 0), float(np.mean(aps))
