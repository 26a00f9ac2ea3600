"""Learning-rate range test (Smith, 2017; the seeds' recipe): a nuisance tuner for ``lr``.

Train the cell's model from its initialization for ``steps`` optimizer steps
while the learning rate grows exponentially from ``start`` to ``end``; follow
the smoothed training loss; stop once it exceeds ``stop_factor`` times its
minimum (or is not finite). The loss "turns up" at its minimum; the chosen
rate is that learning rate divided by ``divisor`` (about a tenth, as the
seeds do). The model, data, optimizer, device and precision are those of the
cell, so the test measures what the cell will train.

A study asks for it with ``nuisance: {lr: range_test}`` (or ``{lr: {range_test:
{steps: 300}}}``); the runner records the curve in ``lr_range.json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from zoo.errors import ConfigError, check_positive


@dataclass
class RangeTestConfig:
    """Settings of the learning-rate range test."""

    start: float = 1e-5
    """First learning rate."""
    end: float = 10.0
    """Last learning rate (reached after ``steps`` steps unless the loss blows up first)."""
    steps: int = 500
    """Optimizer steps over which the rate grows exponentially from start to end."""
    divisor: float = 10.0
    """Chosen lr = (lr at the minimum of the smoothed loss, where it turns up) / divisor."""
    smoothing: float = 0.98
    """Exponential moving average factor of the loss curve (bias-corrected)."""
    stop_factor: float = 4.0
    """Stop once the smoothed loss exceeds this multiple of its minimum."""

    def __post_init__(self) -> None:
        check_positive("start", self.start)
        check_positive("end", self.end)
        if not self.start < self.end:
            raise ConfigError(f"the range test needs start < end, got start {self.start} and end {self.end}.")
        check_positive("steps", self.steps, integer=True)
        if self.steps < 10:
            raise ConfigError(f"the range test needs at least 10 steps, got {self.steps}.")
        check_positive("divisor", self.divisor)
        if not 0 <= self.smoothing < 1:
            raise ConfigError(f"smoothing must be in [0, 1), got {self.smoothing!r}.")
        if not self.stop_factor > 1:
            raise ConfigError(f"stop_factor must be > 1, got {self.stop_factor!r}.")


def choose_lr(lrs: list[float], losses: list[float], cfg: RangeTestConfig) -> tuple[float, float]:
    """(chosen lr, lr where the smoothed loss is lowest) from a recorded curve."""
    finite = [(lr, loss) for lr, loss in zip(lrs, losses) if math.isfinite(loss)]
    if not finite:
        return cfg.start, cfg.start
    turn_lr = min(finite, key=lambda t: t[1])[0]
    return max(cfg.start, turn_lr / cfg.divisor), turn_lr


def range_test(
    model: str,
    data: str,
    *,
    seed: int = 0,
    batch_size: int = 32,
    data_options: dict[str, Any] | None = None,
    config: RangeTestConfig | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Run the range test for the cell ``(model, data, seed, batch_size, data_options, **kwargs)``.

    Returns ``{"lrs", "losses" (smoothed), "raw_losses", "chosen_lr", "turn_lr", "config"}``.
    """
    from lightning.fabric import Fabric

    from zoo import registry
    from zoo.engine import LoopConfig, resolve_device
    from zoo.optim import build_optimizer
    from zoo.factory import create
    from zoo.training import load_data, seed_everything, split_kwargs

    cfg = config or RangeTestConfig()
    kwargs = {k: v for k, v in kwargs.items() if k != "lr"}
    model_kwargs, loop_kwargs = split_kwargs(kwargs)
    loop = LoopConfig(**{**loop_kwargs, "progress": False})
    entry = registry.get(model)
    seed_everything(seed)
    dm = load_data(data, batch_size=batch_size, seed=seed, data_options=data_options)
    info = dm.info
    implied = entry.from_data(info) if entry.from_data else {}
    task = create(model, task=info.kind, **{**implied, **model_kwargs, "lr": cfg.start})
    task.data_info = info
    task.prepare_data_stats(dm)

    fabric = Fabric(accelerator=resolve_device(loop.device), devices=1, precision=loop.precision)
    if hasattr(dm, "to"):
        dm.to(fabric.device)
    task.to(fabric.device)
    optimizer = build_optimizer(task.optim, task)
    _, optimizer = fabric.setup(task, optimizer, move_to_device=False)
    gamma = (cfg.end / cfg.start) ** (1.0 / (cfg.steps - 1))  # per-step growth factor

    lrs: list[float] = []
    raw: list[float] = []
    smooth: list[float] = []
    avg, best = 0.0, math.inf
    batches = dm.train_dataloader()
    if len(batches) == 0:
        raise ConfigError(f"dataset {data!r} has no training batch for the range test.")
    task.train()
    step = 0
    while step < cfg.steps:
        for batch in batches:
            lr = cfg.start * gamma**step
            for group in optimizer.param_groups:
                group["lr"] = lr
            with fabric.autocast():
                loss, _ = task.training_loss(batch)
            fabric.backward(loss)
            if loop.clip_value:
                fabric.clip_gradients(task, optimizer, clip_val=loop.clip_value)
            elif loop.clip_norm:
                fabric.clip_gradients(task, optimizer, max_norm=loop.clip_norm, error_if_nonfinite=False)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            value = float(loss.detach())  # one host sync per step: fine for a few hundred steps
            step += 1
            lrs.append(lr)
            raw.append(value)
            if not math.isfinite(value):
                smooth.append(math.inf)
                step = cfg.steps
                break
            avg = cfg.smoothing * avg + (1 - cfg.smoothing) * value
            debiased = avg / (1 - cfg.smoothing**step)
            smooth.append(debiased)
            best = min(best, debiased)
            if step > 10 and debiased > cfg.stop_factor * best:
                step = cfg.steps
                break
            if step >= cfg.steps:
                break
    chosen, turn = choose_lr(lrs, smooth, cfg)
    return {
        "lrs": lrs,
        "losses": [v if math.isfinite(v) else None for v in smooth],
        "raw_losses": [v if math.isfinite(v) else None for v in raw],
        "chosen_lr": chosen,
        "turn_lr": turn,
        "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
    }
