"""The base system: what every task shares (optimizer wiring, penalties, the one evaluation loop).

A task (a LightningModule) trains a model (an ``nn.Module``) for one kind of
data; the subclasses in this package supply the loss and the outputs, and this
class runs them under Lightning's ``Trainer`` and under the leaner loop of
``zoo/engine.py`` alike (see ``zoo/tasks/__init__.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import lightning as L
import torch
from torch import Tensor, nn

from zoo.errors import ConfigError, check_positive
from zoo.layers import fit_input_scalers
from zoo.optim import OptimConfig, build_optimizer, build_scheduler
from zoo.transfer import frozen_norms, get_head, optimizer_groups, reset_head, top_blocks, unfreeze_top


class Task(L.LightningModule):
    """Base system: optimizer/schedule wiring, L1/L2 penalties, evaluation loop."""

    kind: ClassVar[str] = ""
    monitor: ClassVar[tuple[str, str]] = ("val_loss", "min")
    """Metric that early stopping and checkpoint selection watch, and its direction."""
    default_optim: ClassVar[dict[str, Any]] = {}
    """Optimizer settings when none at all is given (most tasks: OptimConfig's own defaults)."""

    def __init__(self, model: nn.Module, optim: OptimConfig | None = None, *, l1: float = 0.0, l2: float = 0.0):
        super().__init__()
        check_positive("l1", l1, allow_zero=True)
        check_positive("l2", l2, allow_zero=True)
        self.model = model
        self.optim = optim or OptimConfig(**self.default_optim)
        self.l1, self.l2 = float(l1), float(l2)
        # Set by the training loop (or read from Lightning's Trainer) before configure_optimizers.
        self.steps_per_epoch: int | None = None
        self.total_steps: int | None = None
        self.thaw_later: list[nn.Module] = []
        """Frozen blocks that :meth:`start_epoch` thaws at epoch :attr:`thaw_epoch` (gradual unfreezing)."""
        self.thaw_epoch = 0

    # ------------------------------------------------------------------ per task
    def forward(self, *args: Any) -> Any:
        return self.model(*args)

    def batch_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int]:
        """Mean data loss of one batch and its number of samples (or tokens)."""
        raise NotImplementedError

    def outputs(self, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        """Per-sample outputs kept for metrics at evaluation (e.g. probs, target)."""
        raise NotImplementedError

    def eval_batch(self, batch: tuple[Any, ...], *, full: bool = True) -> tuple[Tensor, int, dict[str, Any]]:
        """Mean loss, sample count and :meth:`outputs` of one evaluation batch.

        Outputs are per-sample tensors (or lists), concatenated over the split by
        :meth:`evaluate`. Tasks whose loss and outputs come from the same forward
        pass override this to run the model once (evaluation is a large share of a
        short cell's time).
        """
        loss, n = self.batch_loss(batch)
        return loss, n, self.outputs(batch)

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
    def evaluate(self, batches: Iterable[tuple[Any, ...]], *, full: bool = True) -> tuple[dict, dict[str, Any]]:
        """Loss and metrics of one split; returns (metrics, predictions).

        The one evaluation loop of every task: :meth:`eval_batch` on each batch
        (one forward pass), the outputs concatenated over the split, then
        :meth:`split_results` (which calls :meth:`split_metrics`). ``full=False``
        (every epoch) skips what only the final evaluation needs.
        """
        was_training = self.training
        self.eval()
        total, count, parts = torch.zeros((), dtype=torch.float64), 0, []
        try:
            for batch in batches:
                loss, n, outputs = self.eval_batch(batch, full=full)
                total += loss.detach().double().cpu() * n
                count += n
                parts.append({k: v.detach().cpu() if isinstance(v, Tensor) else v for k, v in outputs.items()})
        finally:
            self.train(was_training)
        if not parts:
            return {"loss": float("nan")}, {}
        out = {k: _concat([p[k] for p in parts]) for k in parts[0]}
        return self.split_results(out, (total / max(1, count)).item(), full=full)

    def split_results(self, out: dict[str, Any], loss: float, *, full: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """Metrics of a split and the predictions kept, from the concatenated outputs and the mean batch loss.

        The default keeps every output; tasks with outputs that serve the metrics only
        (decoded text, samples) or a loss of their own (per token) override it.
        """
        return {"loss": loss, **self.split_metrics(out, full=full)}, out

    def configure_optimizers(self) -> Any:
        return self._schedule(build_optimizer(self.optim, optimizer_groups(self)))

    def schedule_unfreeze(self, k: int, epoch: int = 1) -> None:
        """Gradual unfreezing: thaw the top ``k`` backbone blocks (batch-norm statistics included) at the
        start of epoch ``epoch`` (1-based; 1 = now), under zoobench's loop and Lightning's ``Trainer``
        alike. Their parameters join the optimizer from the start, at their layer's rate
        (``head_lr``, ``layer_decay``), and have no gradient, so no update, until they thaw."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
            raise ConfigError(f"unfreeze_epoch must be an integer >= 1 (the epoch whose start thaws the blocks), got {epoch!r}.")
        blocks = top_blocks(self.model, k)
        if epoch == 1:
            unfreeze_top(self, k)
        else:
            self.thaw_later, self.thaw_epoch = blocks, epoch

    def start_epoch(self, epoch: int) -> None:
        """Called at the start of every training epoch (1-based) by both loops: a scheduled thaw happens here."""
        if self.thaw_later and epoch >= self.thaw_epoch:
            unfreeze_top(self, len(self.thaw_later))
            self.thaw_later = []

    def on_train_epoch_start(self) -> None:  # Lightning's hook; its current_epoch counts from 0
        self.start_epoch(self.current_epoch + 1)

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

    def use_data(self, data: Any) -> None:
        """Tell ``data`` how this task reads it (batch order, example sampling); fits nothing.

        Called before training and before evaluating a loaded checkpoint, so that a split is
        served the way the task was trained on it (a stateful language model's streams)."""

    def prepare_data_stats(self, data: Any) -> None:
        """Before training: :meth:`use_data`, then fit data-dependent layers (input scalers) on the training split only."""
        self.use_data(data)
        fit_input_scalers(self.model, data.inputs("train"))

    def train(self, mode: bool = True) -> Task:
        super().train(mode)
        if mode:  # frozen batch-norm layers keep their statistics too (Keras' fine-tuning guide)
            for m in frozen_norms(self.model):
                m.eval()
        return self

    def get_classifier(self) -> nn.Module:
        """The model's output layer (the first of its ``head_names``), as timm's ``get_classifier``."""
        return get_head(self.model)

    def reset_classifier(self, num_classes: int) -> None:
        """A new output layer of ``num_classes`` outputs (see :func:`zoo.transfer.reset_head`)."""
        reset_head(self, num_classes)

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def _schedule(self, optimizer: torch.optim.Optimizer) -> Any:
        """The optimizer with its learning-rate schedule, as ``configure_optimizers`` returns them."""
        spe, total = self.steps_per_epoch, self.total_steps
        if spe is None and self._trainer is not None:  # under Lightning's Trainer
            total = int(self.trainer.estimated_stepping_batches)
            spe = max(1, total // max(1, self.trainer.max_epochs or 1))
        spec = build_scheduler(self.optim, optimizer, spe or 1, total or 1)
        return optimizer if spec is None else {"optimizer": optimizer, "lr_scheduler": spec.as_lightning()}


def _concat(values: list[Any]) -> Any:
    """One split's outputs from its batches': tensors concatenated along the first dimension, lists chained."""
    if isinstance(values[0], Tensor):
        return torch.cat(values)
    return [x for v in values for x in v]


def token_loss(out: dict[str, Tensor]) -> float:
    """Mean loss per token of a split from per-sequence summed ``nll`` and ``tokens`` (float64 sums)."""
    return (out["nll"].double().sum() / out["tokens"].sum().clamp(min=1)).item()
