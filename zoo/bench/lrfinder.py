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

    The cell's settings are resolved and checked as :func:`zoo.train` does them, the task is
    prepared by :func:`zoo.training.prepare`, and each step is the engine's own
    (:func:`zoo.engine.train_step`, on a Fabric from :func:`zoo.engine.make_fabric`).
    Returns ``{"lrs", "losses" (smoothed), "raw_losses", "chosen_lr", "turn_lr", "config"}``.
    """
    from zoo.engine import make_fabric, place, resolve_device, train_step
    from zoo.factory import resolve
    from zoo.optim import build_optimizer
    from zoo.training import prepare

    cfg = config or RangeTestConfig()
    settings = {k: v for k, v in kwargs.items() if k != "lr"}
    run = resolve(model, data, seed=seed, batch_size=batch_size, data_options=data_options or {},
                  **{**settings, "lr": cfg.start, "progress": False})
    loop = run.loop
    fabric = make_fabric(resolve_device(loop.device), loop.precision)
    task, dm = prepare(run)
    place(task, dm, fabric)
    _, optimizer = fabric.setup(task, build_optimizer(task.optim, task), move_to_device=False)
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
            loss, _ = train_step(task, batch, optimizer, fabric, loop)
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
