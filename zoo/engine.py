"""zoobench's training loop: Lightning Fabric driving a task, with per-step cost kept near zero.

Why not ``lightning.Trainer``: for the zoo's small models a whole optimizer step
takes ~0.2-2.5 ms on this CPU, and the Trainer's per-step hooks (~0.45 ms),
``self.log`` (~0.45 ms) and progress bar (~0.3 ms) cost as much as the step
(measured with ``benchmarks/speed_mlp.py``). This loop does what the
Trainer would, with nothing per step but the step itself:

* batches are gathered from tensors (:class:`zoo.data.TensorBatches`);
* the training loss is summed on the device and read once per log interval
  (that read is also the divergence check);
* validation runs once per epoch, metrics are computed once per split;
* Fabric supplies device placement, mixed precision (autocast + grad scaling)
  and gradient clipping, so cuda/mps and 16-/bf16-mixed cells are the same code.

``benchmarks/speed_mlp.py`` measures it against a hand-written loop.
Tasks stay ordinary LightningModules and also train under ``lightning.Trainer``.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from zoo import metrics
from zoo.config import DEVICES, PRECISIONS, LoopConfig
from zoo.errors import ConfigError

if TYPE_CHECKING:
    from zoo.tasks import Task

__all__ = ["DEVICES", "PRECISIONS", "STOP_REASONS", "FitResult", "LoopConfig", "fit", "make_fabric", "resolve_device",
           "place", "train_step"]

STOP_REASONS = ("max_epochs", "max_steps", "max_time", "early_stopping", "diverged")


@dataclass
class FitResult:
    """What one training run did, for the store, the card and the report."""

    history: list[dict[str, float]] = field(default_factory=list)
    """One row per epoch: epoch, step, train_loss, val_* metrics, lr, time."""
    stop_reason: str = "max_epochs"
    best_epoch: int = 0
    best_score: float = math.nan
    monitor: str = "val_loss"
    steps: int = 0
    samples: int = 0
    train_seconds: float = 0.0
    """Wall time in optimizer steps only (evaluation excluded)."""
    throughput: float = 0.0
    """Training samples per second after ``warmup_steps``, evaluation excluded."""
    steps_per_epoch: int = 0

    @property
    def diverged(self) -> bool:
        return self.stop_reason == "diverged"


def available_devices() -> dict[str, bool]:
    return {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available(),
    }


def resolve_device(device: str) -> str:
    avail = available_devices()
    if device == "auto":
        return "cuda" if avail["cuda"] else "mps" if avail["mps"] else "cpu"
    if not avail[device]:
        raise ConfigError(f"device {device!r} is not available here (available: {', '.join(k for k, v in avail.items() if v)}).")
    return device


def make_fabric(accelerator: str, precision: str) -> Any:
    """A one-device Fabric that runs exactly ``precision``, or a ConfigError naming what this device allows.

    Lightning quietly swaps some pairs (on CPU ``16-mixed`` becomes ``bf16-mixed``, with only
    a warning); a run, its card and a benchmark cell must never be labelled with a precision
    they did not use.
    """
    import logging
    import warnings

    from lightning.fabric import Fabric

    # Lightning's "Using bfloat16 AMP" info line would precede our own error; it logs through
    # lightning.fabric's logger, or lightning.pytorch's once that package is imported.
    logs = [logging.getLogger(name) for name in ("lightning.fabric", "lightning.pytorch")]
    levels = [log.level for log in logs]
    for log in logs:
        log.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*(mixed precision|AMP|bf16).*")
            fabric = Fabric(accelerator=accelerator, devices=1, precision=precision)  # fit() drives its loggers itself
    finally:
        for log, level in zip(logs, levels):
            log.setLevel(level)
    actual = getattr(fabric.strategy.precision, "precision", precision)
    if actual != precision:
        raise ConfigError(
            f"precision {precision!r} is not supported on {accelerator} (Lightning would run {actual!r} instead); "
            f"choose one of: {', '.join(p for p in PRECISIONS if p != precision)}."
        )
    return fabric


class _Progress:
    """A one-line progress bar on a terminal, redrawn at most 4 times a second; else a line per epoch."""

    def __init__(self, enabled: bool, stream=None):
        self.stream = sys.stderr if stream is None else stream  # looked up now: sys.stderr may have been replaced
        self.live = enabled and self.stream.isatty()
        self.enabled = enabled
        self._last = 0.0

    def due(self) -> bool:
        return self.live and time.perf_counter() - self._last > 0.25

    def step(self, epoch: int, epochs: int, i: int, n: int, loss: float, rate: float) -> None:
        self._last = time.perf_counter()
        width = 24
        done = int(width * i / max(1, n))
        bar = "#" * done + "." * (width - done)
        self.stream.write(f"\repoch {epoch}/{epochs} [{bar}] {i}/{n} loss {loss:.4f} {rate:,.0f} samples/s ")
        self.stream.flush()

    def epoch(self, row: dict[str, Any], epochs: int) -> None:
        if not self.enabled:
            return
        shown = {k: v for k, v in row.items() if k not in ("epoch", "step") and isinstance(v, float)}
        text = " ".join(f"{k} {v:.4g}" for k, v in shown.items())
        self.stream.write(("\r\033[K" if self.live else "") + f"epoch {row['epoch']}/{epochs} {text}\n")
        self.stream.flush()


def _lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def place(task: Task, data: Any, fabric: Any) -> None:
    """Put ``data`` (batches are then gathered on the device, no per-step host->device copy) and
    ``task`` on ``fabric``'s device, before the optimizer is made there."""
    if hasattr(data, "to"):
        data.to(fabric.device)
    task.to(fabric.device)


def train_step(task: Task, batch: Any, optimizer: torch.optim.Optimizer, fabric: Any, cfg: LoopConfig) -> tuple[torch.Tensor, int]:
    """One optimizer step on ``batch``: forward under autocast, backward, clipping, update.

    Returns the batch's loss (on the device, not synchronized) and its sample count. The
    training loop and the learning-rate range test (zoo/bench/lrfinder.py) both step with it.
    """
    with fabric.autocast():
        loss, n = task.training_loss(batch)
    fabric.backward(loss)
    if cfg.clip_value:
        fabric.clip_gradients(task, optimizer, clip_val=cfg.clip_value)
    elif cfg.clip_norm:
        fabric.clip_gradients(task, optimizer, max_norm=cfg.clip_norm, error_if_nonfinite=False)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss, n


def fit(
    task: Task,
    data: Any,
    cfg: LoopConfig | None = None,
    *,
    loggers: list[Any] | None = None,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
    fabric: Any = None,
) -> FitResult:
    """Train ``task`` on ``data`` (a datamodule with train/val dataloaders) and return what happened.

    The task is left on the chosen device with the best epoch's weights (if
    ``cfg.restore_best``). ``on_epoch_end`` receives each history row (used by the
    benchmark runner to stream per-epoch metrics to its store). ``fabric``: one already
    made by :func:`make_fabric` for ``cfg``'s device and precision (``train`` makes it
    first, to refuse an unrunnable pair before any work); None makes it here.
    """
    cfg = cfg or LoopConfig()
    loggers = loggers or []
    fabric = fabric or make_fabric(resolve_device(cfg.device), cfg.precision)
    place(task, data, fabric)
    train_batches = data.train_dataloader()
    spe = len(train_batches)
    total = spe * cfg.max_epochs if not cfg.max_steps else min(cfg.max_steps, spe * cfg.max_epochs)
    task.steps_per_epoch, task.total_steps = spe, total
    opt_conf = task.configure_optimizers()
    optimizer, sched = (opt_conf["optimizer"], opt_conf["lr_scheduler"]) if isinstance(opt_conf, dict) else (opt_conf, None)
    _, optimizer = fabric.setup(task, optimizer, move_to_device=False)
    scheduler = sched["scheduler"] if sched else None
    sched_interval = sched["interval"] if sched else None

    monitor = cfg.monitor or task.monitor[0]
    mode = metrics.mode(monitor)  # the catalogue's direction (zoo/metrics.py)
    sign = 1.0 if mode == "min" else -1.0
    res = FitResult(monitor=monitor, steps_per_epoch=spe)
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs = 0
    progress = _Progress(cfg.progress)
    timed_samples, timed_seconds = 0, 0.0
    start = time.perf_counter()
    for logger in loggers:
        logger.log_hyperparams({"steps_per_epoch": spe, **{k: getattr(cfg, k) for k in cfg.__dataclass_fields__}})

    for epoch in range(1, cfg.max_epochs + 1):
        task.start_epoch(epoch)
        task.train()
        running = torch.zeros((), device=fabric.device)
        seen, steps_before = 0, res.steps
        warm_mark: tuple[float, int] | None = None
        t_epoch = time.perf_counter()
        for i, batch in enumerate(train_batches, 1):
            loss, n = train_step(task, batch, optimizer, fabric, cfg)
            if sched_interval == "step":
                scheduler.step()
            running += loss.detach() * n
            seen += n
            res.steps += 1
            if res.steps == cfg.warmup_steps:  # throughput is timed from here on
                warm_mark = (time.perf_counter(), seen)
            if i % cfg.log_every_n_steps == 0 or progress.due():
                mean = running.item() / seen  # the one host sync of the interval
                if not math.isfinite(mean):
                    res.stop_reason = "diverged"
                    break
                if progress.live:
                    progress.step(epoch, cfg.max_epochs, i, spe, mean, seen / (time.perf_counter() - t_epoch))
            if cfg.max_steps and res.steps >= cfg.max_steps:
                res.stop_reason = "max_steps"
                break
            if cfg.max_time and time.perf_counter() - start >= cfg.max_time:
                res.stop_reason = "max_time"
                break
        epoch_seconds = time.perf_counter() - t_epoch
        res.train_seconds += epoch_seconds
        res.samples += seen
        if warm_mark is not None:  # warm-up ended during this epoch: count the rest of it
            timed_seconds += t_epoch + epoch_seconds - warm_mark[0]
            timed_samples += seen - warm_mark[1]
            warm_mark = None
        elif steps_before >= cfg.warmup_steps:  # warm-up was over before this epoch began
            timed_seconds += epoch_seconds
            timed_samples += seen
        train_loss = running.item() / max(1, seen)
        if not math.isfinite(train_loss):
            res.stop_reason = "diverged"
        row: dict[str, Any] = {"epoch": epoch, "step": res.steps, "train_loss": train_loss, "lr": _lr(optimizer)}
        if res.stop_reason != "diverged":
            val, _ = task.evaluate(data.val_dataloader(), full=False)
            row.update({f"val_{k}": v for k, v in val.items()})
            if not math.isfinite(row["val_loss"]):
                res.stop_reason = "diverged"
        row["epoch_seconds"] = epoch_seconds
        res.history.append(row)
        for logger in loggers:
            logger.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=epoch)
        progress.epoch(row, cfg.max_epochs)
        if on_epoch_end:
            on_epoch_end(row)
        if res.stop_reason == "diverged":
            break
        score = row.get(monitor)
        if score is None:
            raise ConfigError(f"monitor {monitor!r} is not a validation metric; choose one of {', '.join(sorted(k for k in row if k.startswith('val_')))}.")
        if math.isnan(res.best_score) or sign * (res.best_score - score) > cfg.min_delta:
            res.best_score, res.best_epoch, bad_epochs = score, epoch, 0
            if cfg.restore_best:
                best_state = {k: v.detach().clone() for k, v in task.state_dict().items()}
        else:
            bad_epochs += 1
        if sched_interval == "epoch":
            scheduler.step(row[sched["monitor"]]) if sched.get("monitor") else scheduler.step()
        if res.stop_reason in ("max_steps", "max_time"):
            break
        if cfg.patience and bad_epochs >= cfg.patience:
            res.stop_reason = "early_stopping"
            break

    if best_state is not None and res.best_epoch != len(res.history):
        task.load_state_dict(best_state)
    res.throughput = timed_samples / timed_seconds if timed_seconds > 0 else res.samples / max(res.train_seconds, 1e-9)
    for logger in loggers:
        logger.finalize("success" if res.stop_reason != "diverged" else "failed")
    return res
