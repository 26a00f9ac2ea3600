"""The systems: LightningModules that train a model (an ``nn.Module``) for a task.

Model and system are kept apart (Lightning's style guide): a family file builds
the network, a task here owns the loss, the optimizer (injected as an
:class:`~zoo.optim.OptimConfig`) and the metrics. Every task works under
Lightning's ``Trainer`` (``training_step`` / ``validation_step`` /
``test_step``) and under zoobench's leaner loop (:mod:`zoo.engine`), which
calls the two methods underneath them:

* ``training_loss(batch) -> (loss, n)``: the objective of one batch, penalties included;
* ``evaluate(batches) -> (metrics, predictions)``: one pass over a split,
  metrics computed once from the concatenated outputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo import metrics as M
from zoo.errors import ConfigError, check_positive
from zoo.optim import OptimConfig, build_optimizer, build_scheduler


class Task(L.LightningModule):
    """Base system: optimizer/schedule wiring, L1/L2 penalties, evaluation loop."""

    kind: ClassVar[str] = ""
    monitor: ClassVar[tuple[str, str]] = ("val_loss", "min")
    """Metric that early stopping and checkpoint selection watch, and its direction."""

    def __init__(self, model: nn.Module, optim: OptimConfig | None = None, *, l1: float = 0.0, l2: float = 0.0):
        super().__init__()
        check_positive("l1", l1, allow_zero=True)
        check_positive("l2", l2, allow_zero=True)
        self.model = model
        self.optim = optim or OptimConfig()
        self.l1, self.l2 = float(l1), float(l2)
        # Set by the training loop (or read from Lightning's Trainer) before configure_optimizers.
        self.steps_per_epoch: int | None = None
        self.total_steps: int | None = None

    # ------------------------------------------------------------------ per task
    def forward(self, *args: Any) -> Any:
        return self.model(*args)

    def batch_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int]:
        """Mean data loss of one batch and its number of samples (or tokens)."""
        raise NotImplementedError

    def outputs(self, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        """Per-sample outputs kept for metrics at evaluation (e.g. probs, target)."""
        raise NotImplementedError

    def split_metrics(self, out: dict[str, Tensor], *, full: bool) -> dict[str, Any]:
        """Metrics of a whole split from the concatenated :meth:`outputs`."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared
    def penalty(self) -> Tensor | float:
        """L1/L2 penalties on weights (not biases or norm parameters), as Keras' kernel regularizers."""
        weights = [p for p in self.model.parameters() if p.ndim >= 2 and p.requires_grad]
        pen: Tensor | float = 0.0
        if self.l1:
            pen = pen + self.l1 * sum(p.abs().sum() for p in weights)
        if self.l2:
            pen = pen + self.l2 * sum(p.pow(2).sum() for p in weights)
        return pen

    def training_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int]:
        loss, n = self.batch_loss(batch)
        if self.l1 or self.l2:
            loss = loss + self.penalty()
        return loss, n

    @torch.no_grad()
    def evaluate(self, batches: Iterable[tuple[Tensor, ...]], *, full: bool = True) -> tuple[dict, dict[str, Tensor]]:
        """Loss and metrics of one split; returns (metrics, concatenated outputs)."""
        was_training = self.training
        self.eval()
        total, count, parts = torch.zeros((), dtype=torch.float64), 0, []
        for batch in batches:
            loss, n = self.batch_loss(batch)
            total += loss.detach().double().cpu() * n
            count += n
            parts.append(self.outputs(batch))
        self.train(was_training)
        out = {k: torch.cat([p[k].detach().cpu() for p in parts]) for k in parts[0]} if parts else {}
        metrics = {"loss": (total / max(1, count)).item()}
        if parts:
            metrics.update(self.split_metrics(out, full=full))
        return metrics, out

    def configure_optimizers(self) -> Any:
        optimizer = build_optimizer(self.optim, self)
        spe, total = self.steps_per_epoch, self.total_steps
        if spe is None and self._trainer is not None:  # under Lightning's Trainer
            total = int(self.trainer.estimated_stepping_batches)
            spe = max(1, total // max(1, self.trainer.max_epochs or 1))
        spec = build_scheduler(self.optim, optimizer, spe or 1, total or 1)
        if spec is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": spec.as_lightning()}

    # ------------------------------------------------------------------ Lightning Trainer hooks
    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        loss, n = self.training_loss(batch)
        self.log("train_loss", loss.detach(), on_step=False, on_epoch=True, batch_size=n)
        return loss

    def validation_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        self._eval_step("val", batch)

    def test_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        self._eval_step("test", batch)

    def _eval_step(self, stage: str, batch: tuple[Tensor, ...]) -> None:
        loss, n = self.batch_loss(batch)
        self.log(f"{stage}_loss", loss, on_epoch=True, batch_size=n)
        if hasattr(self, "_accuracy"):
            self.log(f"{stage}_acc", self._accuracy(batch), on_epoch=True, batch_size=n)

    def prepare_data_stats(self, data: Any) -> None:
        """Fit data-dependent layers (input scalers) on the training split only."""
        from zoo.layers import fit_input_scalers

        fit_input_scalers(self.model, data.inputs("train"))

    def train(self, mode: bool = True) -> Task:
        super().train(mode)
        frozen = getattr(self, "frozen", "none")
        if mode and frozen != "none":
            # Frozen batch-norm layers keep their statistics too (Keras' fine-tuning guide).
            from zoo.checkpoint import head_names

            heads = head_names(self.model)
            for name, child in self.model.named_children():
                if frozen == "all" or name not in heads:
                    for m in child.modules():
                        if isinstance(m, nn.modules.batchnorm._BatchNorm):
                            m.eval()
        return self

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)


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

    def batch_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int]:
        x, y = batch
        logits = self._logits(x)
        if self.binary:
            target = y.float()
            if self.label_smoothing:
                target = target * (1 - self.label_smoothing) + 0.5 * self.label_smoothing
            return F.binary_cross_entropy_with_logits(logits, target), y.shape[0]
        return F.cross_entropy(logits, y, label_smoothing=self.label_smoothing), y.shape[0]

    def predict_proba(self, x: Tensor) -> Tensor:
        logits = self._logits(x)
        return torch.sigmoid(logits) if self.binary else logits.softmax(-1)

    def outputs(self, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        x, y = batch
        return {"probs": self.predict_proba(x), "target": y}

    def split_metrics(self, out: dict[str, Tensor], *, full: bool) -> dict[str, Any]:
        return M.classification_metrics(out["probs"], out["target"], full=full)

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
        l1: float = 0.0,
        l2: float = 0.0,
    ):
        super().__init__(model, optim, l1=l1, l2=l2)
        check_positive("huber_delta", huber_delta, allow_zero=True)
        self.huber_delta = huber_delta
        """0 = mean squared error; > 0 = Huber loss with this delta (robust to outliers)."""

    def _loss(self, pred: Tensor, y: Tensor) -> Tensor:
        y = y.reshape(pred.shape)
        if self.huber_delta:
            return F.huber_loss(pred, y, delta=self.huber_delta)
        return F.mse_loss(pred, y)

    def batch_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int]:
        x, y = batch
        return self._loss(self.model(x), y), y.shape[0]

    def outputs(self, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        x, y = batch
        pred = self.model(x)
        return {"pred": pred, "target": y.reshape(pred.shape)}

    def split_metrics(self, out: dict[str, Tensor], *, full: bool) -> dict[str, Any]:
        return M.regression_metrics(out["pred"], out["target"])


TASKS: dict[str, type[Task]] = {
    "multiclass": ClassificationTask,
    "binary": ClassificationTask,
    "regression": RegressionTask,
}


def task_params(task: str) -> set[str]:
    """Keyword arguments of a task's constructor (besides model and optim)."""
    import inspect

    sig = inspect.signature(TASKS[task].__init__)
    return {k for k in sig.parameters if k not in ("self", "model", "optim")}


def make_task(task: str, model: nn.Module, optim: OptimConfig, kwargs: dict[str, Any]) -> Task:
    cls = TASKS[task]
    if task == "binary":
        kwargs = {**kwargs, "binary": True}
    return cls(model, optim, **kwargs)
