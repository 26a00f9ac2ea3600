"""Supervised tasks on tensors: classification (multi-class or binary) and regression.

Metrics come from ``zoo/scoring.py`` (torchmetrics), once per split on the
concatenated outputs.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo import scoring
from zoo.errors import ConfigError, check_positive
from zoo.optim import OptimConfig
from zoo.tasks.base import Task


class ClassificationTask(Task):
    """Multi-class (softmax + cross-entropy) or binary (one logit + BCE) classification."""

    kind = "multiclass"
    monitor = ("val_loss", "min")

    def __init__(
        self,
        model: nn.Module,
        optim: OptimConfig | None = None,
        *,
        binary: bool = False,
        label_smoothing: float = 0.0,
        l1: float = 0.0,
        l2: float = 0.0,
    ):
        super().__init__(model, optim, l1=l1, l2=l2)
        if not 0 <= label_smoothing < 1:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}.")
        self.binary = binary
        self.kind = "binary" if binary else "multiclass"
        self.label_smoothing = label_smoothing

    def _logits(self, x: Tensor) -> Tensor:
        logits = self.model(x)
        return logits[:, 0] if self.binary else logits  # (B,) for binary, (B, C) otherwise

    def _loss(self, logits: Tensor, y: Tensor) -> Tensor:
        if self.binary:
            target = y.float()
            if self.label_smoothing:
                target = target * (1 - self.label_smoothing) + 0.5 * self.label_smoothing
            return F.binary_cross_entropy_with_logits(logits, target)
        return F.cross_entropy(logits, y, label_smoothing=self.label_smoothing)

    def _proba(self, logits: Tensor) -> Tensor:
        return torch.sigmoid(logits) if self.binary else logits.softmax(-1)

    def batch_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int]:
        x, y = batch
        return self._loss(self._logits(x), y), y.shape[0]

    def predict_proba(self, x: Tensor) -> Tensor:
        return self._proba(self._logits(x))

    def outputs(self, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        x, y = batch
        return {"probs": self.predict_proba(x), "target": y}

    def eval_batch(self, batch: tuple[Tensor, ...], *, full: bool = True) -> tuple[Tensor, int, dict[str, Tensor]]:
        x, y = batch
        logits = self._logits(x)
        return self._loss(logits, y), y.shape[0], {"probs": self._proba(logits), "target": y}

    def split_metrics(self, out: dict[str, Tensor], *, full: bool) -> dict[str, Any]:
        return scoring.classification_metrics(out["probs"], out["target"], full=full)

    def _accuracy(self, batch: tuple[Tensor, ...]) -> Tensor:
        out = self.outputs(batch)
        pred = (out["probs"] >= 0.5).long() if self.binary else out["probs"].argmax(-1)
        return (pred == out["target"]).float().mean()


class RegressionTask(Task):
    """Regression with MSE (or Huber) loss; RMSE, MAE and R² on evaluation."""

    kind = "regression"

    def __init__(
        self,
        model: nn.Module,
        optim: OptimConfig | None = None,
        *,
        huber_delta: float = 0.0,
        aux_weight: float = 0.1,
        l1: float = 0.0,
        l2: float = 0.0,
    ):
        super().__init__(model, optim, l1=l1, l2=l2)
        check_positive("huber_delta", huber_delta, allow_zero=True)
        if isinstance(aux_weight, bool) or not isinstance(aux_weight, (int, float)) or not 0 <= aux_weight <= 1:
            raise ConfigError(f"aux_weight must be in [0, 1], got {aux_weight!r}.")
        self.huber_delta = huber_delta
        """0 = mean squared error; > 0 = Huber loss with this delta (robust to outliers)."""
        self.aux_weight = float(aux_weight)
        """Loss weight of an auxiliary output (models returning (main, aux) while training, e.g. wide_deep
        with aux_output); the main output gets 1 - aux_weight (Hands-On ML: 0.9 / 0.1)."""

    def _loss(self, pred: Tensor, y: Tensor) -> Tensor:
        y = y.reshape(pred.shape)
        if self.huber_delta:
            return F.huber_loss(pred, y, delta=self.huber_delta)
        return F.mse_loss(pred, y)

    def _pred_loss(self, pred: Tensor | tuple[Tensor, Tensor], y: Tensor) -> Tensor:
        if isinstance(pred, tuple):  # (main, auxiliary) while training: weighted losses
            main, aux = pred
            w = self.aux_weight
            return (1 - w) * self._loss(main, y) + w * self._loss(aux, y)
        return self._loss(pred, y)

    def batch_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int]:
        x, y = batch
        return self._pred_loss(self.model(x), y), y.shape[0]

    @staticmethod
    def _outputs(pred: Tensor | tuple[Tensor, Tensor], y: Tensor) -> dict[str, Tensor]:
        pred = pred[0] if isinstance(pred, tuple) else pred  # the main output
        return {"pred": pred, "target": y.reshape(pred.shape)}

    def outputs(self, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        x, y = batch
        return self._outputs(self.model(x), y)

    def eval_batch(self, batch: tuple[Tensor, ...], *, full: bool = True) -> tuple[Tensor, int, dict[str, Tensor]]:
        x, y = batch
        pred = self.model(x)
        return self._pred_loss(pred, y), y.shape[0], self._outputs(pred, y)

    def split_metrics(self, out: dict[str, Tensor], *, full: bool) -> dict[str, Any]:
        return scoring.regression_metrics(out["pred"], out["target"])
