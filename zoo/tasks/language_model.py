"""Next-token prediction (the character models of ``zoo/models/char_rnn.py``), stateless or stateful."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.errors import ConfigError
from zoo.layers import detach_state, state_batch_size
from zoo.optim import OptimConfig
from zoo.tasks.base import Task, token_loss


class LanguageModelTask(Task):
    """Next-token prediction: cross-entropy at every step of a window, stateless or stateful.

    Batches are ``(x (B, T), y (B, T)[, first])`` from ``zoo/data/charlm.py``;
    ``y[:, i]`` is the token after ``x[:, i]``. ``n`` of :meth:`batch_loss` is
    ``B * T`` tokens, so losses average per token and the loop's throughput
    counts tokens (characters/s).

    ``stateful=True`` carries the model's final hidden state into the next
    batch (detached: truncated back-propagation through time), which needs
    batches whose row ``b`` continues row ``b`` of the previous batch;
    :meth:`use_data` asks the data module for them
    (``set_stateful``). The state restarts from zero where a batch says
    ``first`` (the first batch of a pass), separately for training and evaluation.

    Metrics: ``loss`` (nats per token), ``bits_per_char`` (loss / ln 2),
    ``perplexity`` (exp loss) and ``acc`` (top-1 next-token accuracy).
    Predictions are small: per window, summed ``nll``, ``tokens`` and ``correct``;
    with ``full``, also ``sample_pred``/``sample_target`` (top-1 and truth) of the first
    :attr:`SAMPLE_WINDOWS` windows.
    """

    kind = "language_model"
    monitor = ("val_loss", "min")
    SAMPLE_WINDOWS: ClassVar[int] = 8

    def __init__(self, model: nn.Module, optim: OptimConfig | None = None, *, stateful: bool = False, l1: float = 0.0, l2: float = 0.0):
        super().__init__(model, optim, l1=l1, l2=l2)
        if not isinstance(stateful, bool):
            raise ConfigError(f"stateful must be true or false, got {stateful!r}.")
        if stateful and not hasattr(model, "forward_state"):
            raise ConfigError(f"stateful training needs a recurrent model with forward_state; {type(model).__name__} has none.")
        self.stateful = stateful
        self._state: dict[str, Any] = {}  # "train" / "eval" -> hidden state of the last batch

    def use_data(self, data: Any) -> None:
        """A stateful task asks the data module for batches in stream order."""
        if hasattr(data, "set_stateful"):
            data.set_stateful(self.stateful)
        elif self.stateful:
            raise ConfigError(f"stateful training needs consecutive windows, which {type(data).__name__} cannot serve.")

    def prepare_data_stats(self, data: Any) -> None:
        """Nothing to fit: :meth:`use_data` only."""
        self.use_data(data)

    def _logits(self, batch: tuple[Any, ...]) -> Tensor:
        x = batch[0]
        if not self.stateful:
            return self.model(x)  # (B, T, V)
        key = "train" if self.training else "eval"
        state = self._state.get(key)
        if (len(batch) > 2 and batch[2]) or state is None or state_batch_size(state) != x.shape[0]:
            state = None  # a new pass (or a new batch shape) starts from zeros
        logits, state = self.model.forward_state(x, state)
        self._state[key] = detach_state(state)
        return logits

    def batch_loss(self, batch: tuple[Any, ...]) -> tuple[Tensor, int]:
        y = batch[1]
        logits = self._logits(batch)
        return F.cross_entropy(logits.flatten(0, 1), y.flatten()), y.numel()

    @staticmethod
    def _window_outputs(logits: Tensor, y: Tensor) -> dict[str, Tensor]:
        return {
            "nll": F.cross_entropy(logits.transpose(1, 2), y, reduction="none").sum(1),  # (B,) nats
            "tokens": torch.full((y.shape[0],), y.shape[1], dtype=torch.long, device=y.device),
            "correct": (logits.argmax(-1) == y).sum(1),
        }

    def outputs(self, batch: tuple[Any, ...]) -> dict[str, Tensor]:
        """Per window: summed NLL (nats), tokens, correct top-1 predictions."""
        return self._window_outputs(self._logits(batch), batch[1])

    def split_metrics(self, out: dict[str, Tensor], *, full: bool) -> dict[str, Any]:
        tokens = out["tokens"].sum().clamp(min=1)
        loss = (out["nll"].double().sum() / tokens).item()
        return {
            "bits_per_char": loss / math.log(2),
            "perplexity": math.exp(min(loss, 700.0)),  # exp overflows a float past ~709
            "acc": (out["correct"].sum() / tokens).item(),
        }

    def eval_batch(self, batch: tuple[Any, ...], *, full: bool = True) -> tuple[Tensor, int, dict[str, Tensor]]:
        """One forward pass per batch (a stateful model must not advance its state twice);
        with ``full``, the top-1 predictions and truth of the batch's first windows."""
        logits, y = self._logits(batch), batch[1]
        out = self._window_outputs(logits, y)
        if full:
            out["sample_pred"], out["sample_target"] = logits[: self.SAMPLE_WINDOWS].argmax(-1), y[: self.SAMPLE_WINDOWS]
        return out["nll"].sum() / y.numel(), y.numel(), out

    def split_results(self, out: dict[str, Any], loss: float, *, full: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """Loss per token; the samples cut to the split's first :attr:`SAMPLE_WINDOWS` windows."""
        for key in ("sample_pred", "sample_target"):
            if key in out:
                out[key] = out[key][: self.SAMPLE_WINDOWS]
        return {"loss": token_loss(out), **self.split_metrics(out, full=full)}, out

    def _eval_step(self, stage: str, batch: tuple[Any, ...]) -> None:
        # Under Lightning's Trainer: loss and accuracy from one forward pass.
        logits, y = self._logits(batch), batch[1]
        self.log(f"{stage}_loss", F.cross_entropy(logits.flatten(0, 1), y.flatten()), on_epoch=True, batch_size=y.numel())
        self.log(f"{stage}_acc", (logits.argmax(-1) == y).float().mean(), on_epoch=True, batch_size=y.numel())
