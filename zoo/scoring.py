"""Evaluation metrics over a whole split, computed once from stored outputs (torchmetrics).

Functional torchmetrics on the concatenated predictions of a split: no
per-step ``update`` calls and no host syncs inside the loop. Names follow
``<stage>_<metric>``; per-class values and the confusion matrix are lists so
they serialize to JSON as they are. ``tests/test_metrics.py`` checks every
value against scikit-learn to 1e-6.
"""

from __future__ import annotations

from typing import Any

import torch
import torchmetrics.functional.classification as C
import torchmetrics.functional.regression as R
from torch import Tensor


def classification_metrics(probs: Tensor, target: Tensor, *, full: bool = True) -> dict[str, Any]:
    """Metrics of class probabilities ``probs`` (N, C), or (N,) positive-class for binary.

    ``full=False`` gives accuracy only (cheap, for every epoch); ``full=True`` adds
    macro and per-class precision/recall/F1, one-vs-rest AUROC and average
    precision, and the confusion matrix (rows = true class).
    """
    probs, target = probs.detach().float().cpu(), target.detach().long().cpu()
    binary = probs.ndim == 1
    if binary:
        pred = (probs >= 0.5).long()
        num_classes = 2
    else:
        pred = probs.argmax(1)
        num_classes = probs.shape[1]
    out: dict[str, Any] = {"acc": (pred == target).float().mean().item()}
    if not full:
        return out
    # Macro and per-class values from one confusion matrix (rows: true, cols: predicted);
    # a class never predicted (or absent) has precision (recall) 0, as scikit-learn's zero_division=0.
    cm = C.multiclass_confusion_matrix(pred, target, num_classes=num_classes).double()
    tp = cm.diag()
    support, predicted = cm.sum(1), cm.sum(0)
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), torch.zeros_like(tp))
    recall = torch.where(support > 0, tp / support.clamp(min=1), torch.zeros_like(tp))
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp(min=1e-300), torch.zeros_like(tp))
    if binary:
        # The positive class (1) is the headline, as scikit-learn's average="binary".
        out.update(precision=precision[1].item(), recall=recall[1].item(), f1=f1[1].item())
        out["auroc"] = C.binary_auroc(probs, target).item()
        out["ap"] = C.binary_average_precision(probs, target).item()
    else:
        out.update(precision=precision.mean().item(), recall=recall.mean().item(), f1=f1.mean().item())
        out["auroc"] = C.multiclass_auroc(probs, target, num_classes=num_classes, average="macro").item()
        out["ap"] = C.multiclass_average_precision(probs, target, num_classes=num_classes, average="macro").item()
    out["precision_per_class"] = precision.tolist()
    out["recall_per_class"] = recall.tolist()
    out["f1_per_class"] = f1.tolist()
    out["support_per_class"] = support.long().tolist()
    out["confusion_matrix"] = cm.long().tolist()
    return out


def regression_metrics(pred: Tensor, target: Tensor) -> dict[str, float]:
    """RMSE, MAE and R² (uniform average over target columns)."""
    pred, target = pred.detach().double().cpu(), target.detach().double().cpu()
    if pred.ndim == 2 and pred.shape[1] == 1:
        pred, target = pred[:, 0], target.reshape(-1)
    mse = R.mean_squared_error(pred, target)
    return {
        "rmse": mse.sqrt().item(),
        "mae": R.mean_absolute_error(pred, target).item(),
        "r2": R.r2_score(pred, target).item(),
    }
