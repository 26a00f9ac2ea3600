"""Name -> factory tables for optimizers and learning-rate schedules.

A task takes one :class:`OptimConfig`; its flat fields are what a study's axes
and the CLI's flags name (``optimizer``, ``lr``, ``schedule``, ...). Schedules
are expressed in epochs (floats), converted to optimizer steps with the
``steps_per_epoch`` the training loop reports, so one study value means the
same thing at every batch size.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from zoo.errors import ConfigError, check_choice, check_positive

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamax", "nadam", "adamw")
SCHEDULES = ("constant", "power", "exponential", "piecewise", "cosine", "linear", "plateau", "onecycle")


@dataclass
class OptimConfig:
    """Optimizer, learning-rate schedule and weight decay of one training run."""

    optimizer: str = "adam"
    """One of: sgd, momentum, nesterov, adagrad, rmsprop, adam, adamax, nadam, adamw."""
    lr: float = 1e-3
    """Initial (peak, for onecycle) learning rate."""
    momentum: float = 0.9
    """Momentum of momentum/nesterov SGD and of RMSProp; ignored by the others."""
    beta1: float = 0.9
    """First-moment decay of Adam-family optimizers."""
    beta2: float = 0.999
    """Second-moment decay of Adam-family optimizers; RMSProp's rho (squared-gradient decay)."""
    eps: float = 1e-8
    """Denominator guard of adaptive optimizers."""
    weight_decay: float = 0.0
    """Weight decay on weights (not biases or norm parameters): decoupled for adamw, coupled (L2 in the update) otherwise."""
    schedule: str = "constant"
    """One of: constant, power, exponential, piecewise, cosine, linear (to min_lr, as word2vec), plateau, onecycle."""
    warmup_epochs: float = 0.0
    """Linear warm-up from 0 to lr over this many epochs (not with plateau/onecycle, which shape their own start)."""
    decay_epochs: float = 10.0
    """power: lr0 / (1 + t/s)**power; exponential: lr0 * decay_rate**(t/s), with s in epochs."""
    decay_rate: float = 0.1
    """Factor of the exponential schedule per ``decay_epochs``."""
    power: float = 1.0
    """Exponent c of the power (inverse-time) schedule."""
    milestones: tuple[float, ...] = (30.0, 60.0)
    """Epochs at which the piecewise-constant schedule multiplies lr by ``gamma``."""
    gamma: float = 0.1
    """Factor of the piecewise-constant schedule at each milestone."""
    plateau_factor: float = 0.5
    """Factor applied by reduce-on-plateau when ``val_loss`` stops improving."""
    plateau_patience: int = 5
    """Epochs without improvement before reduce-on-plateau acts."""
    min_lr: float = 0.0
    """Floor of the cosine, linear and plateau schedules."""
    head_lr: float = 0.0
    """Learning rate of the head (the output layer) when fine-tuning; 0 = lr. Schedules scale it as they scale lr."""
    layer_decay: float = 1.0
    """Layer-wise rate decay: the top backbone block trains at lr, each block below at layer_decay times the one above."""

    def __post_init__(self) -> None:
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_positive("lr", self.lr)
        for name in ("momentum", "beta1", "beta2"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0 <= v < 1:
                raise ConfigError(f"{name} must be in [0, 1), got {v!r}.")
        check_positive("eps", self.eps)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        check_positive("warmup_epochs", self.warmup_epochs, allow_zero=True)
        check_positive("decay_epochs", self.decay_epochs)
        check_positive("decay_rate", self.decay_rate)
        check_positive("power", self.power)
        check_positive("gamma", self.gamma)
        check_positive("plateau_factor", self.plateau_factor)
        check_positive("plateau_patience", self.plateau_patience, allow_zero=True, integer=True)
        check_positive("min_lr", self.min_lr, allow_zero=True)
        check_positive("head_lr", self.head_lr, allow_zero=True)
        if not isinstance(self.layer_decay, (int, float)) or not 0 < self.layer_decay <= 1:
            raise ConfigError(f"layer_decay must be in (0, 1], got {self.layer_decay!r}.")
        self.milestones = tuple(float(m) for m in self.milestones)
        if list(self.milestones) != sorted(self.milestones):
            raise ConfigError(f"milestones must be increasing epochs, got {self.milestones}.")
        if self.warmup_epochs and self.schedule in ("plateau", "onecycle"):
            raise ConfigError(f"warmup_epochs is not used with schedule {self.schedule!r}; set it to 0.")


def param_groups(params: nn.Module | Iterable[nn.Parameter], weight_decay: float,
                 lr_scale: Callable[[nn.Parameter], float] | None = None) -> list[dict[str, Any]]:
    """Groups of ``params`` (a module's trainable parameters, or the parameters given) so that weight
    decay touches weights only (ndim >= 2), and each group shares one ``lr_scale`` (a multiple of the
    configured lr, kept in the group as ``lr_scale``; the optimizer's groups then carry ``lr``).

    One rate and no weight decay make one group: every group is a separate pass of the
    optimizer's kernels, a measurable per-step cost for small models.
    """
    if isinstance(params, nn.Module):
        params = [p for p in params.parameters() if p.requires_grad]
    groups: dict[tuple[float, bool], list[nn.Parameter]] = {}
    for p in params:
        scale = 1.0 if lr_scale is None else float(lr_scale(p))
        groups.setdefault((scale, bool(weight_decay) and p.ndim >= 2), []).append(p)
    if not groups:
        return [{"params": [], "weight_decay": 0.0}]
    scales = list(dict.fromkeys(scale for scale, _ in groups))  # in the parameters' order
    order = sorted(groups, key=lambda key: (scales.index(key[0]), not key[1]))  # decayed weights first
    return [{"params": groups[key], "weight_decay": weight_decay if key[1] else 0.0, "lr_scale": key[0]} for key in order]


def _fused_if_supported(cls: type[torch.optim.Optimizer], params: list[dict], device: torch.device, **kw: Any):
    # Evidence: fused Adam is +13-34% steps/s over foreach for the seed MLP on this 2-core CPU
    # (benchmarks/speed_mlp.py measures the loop). Fused kernels exist for CPU and CUDA.
    if "fused" in inspect.signature(cls).parameters and device.type in ("cpu", "cuda"):
        kw["fused"] = True
    return cls(params, **kw)


def build_optimizer(cfg: OptimConfig, params: Iterable[dict[str, Any]] | nn.Module) -> torch.optim.Optimizer:
    """An optimizer for ``params`` (a module, or groups from :func:`param_groups`)."""
    if isinstance(params, nn.Module):
        params = param_groups(params, cfg.weight_decay)
    params = [g for g in params if g["params"]]
    for g in params:
        if g.get("lr_scale", 1.0) != 1.0:
            g["lr"] = cfg.lr * g["lr_scale"]
    if not params:
        raise ConfigError("nothing to train: every parameter is frozen (freeze='all' with no new or re-initialized layer); "
                          "use freeze='backbone' or 'none'.")
    device = params[0]["params"][0].device
    o, lr = cfg.optimizer, cfg.lr
    O = torch.optim
    if o == "sgd":
        return _fused_if_supported(O.SGD, params, device, lr=lr)
    if o in ("momentum", "nesterov"):
        return _fused_if_supported(O.SGD, params, device, lr=lr, momentum=cfg.momentum, nesterov=o == "nesterov")
    if o == "adagrad":
        return _fused_if_supported(O.Adagrad, params, device, lr=lr, eps=cfg.eps)
    if o == "rmsprop":
        return O.RMSprop(params, lr=lr, alpha=cfg.beta2, eps=cfg.eps, momentum=0.0)
    betas = (cfg.beta1, cfg.beta2)
    if o == "adam":
        return _fused_if_supported(O.Adam, params, device, lr=lr, betas=betas, eps=cfg.eps)
    if o == "adamw":
        return _fused_if_supported(O.AdamW, params, device, lr=lr, betas=betas, eps=cfg.eps)
    if o == "adamax":
        return O.Adamax(params, lr=lr, betas=betas, eps=cfg.eps)
    return O.NAdam(params, lr=lr, betas=betas, eps=cfg.eps)


def lr_factor(cfg: OptimConfig, step: int, steps_per_epoch: int, total_steps: int) -> float:
    """Multiplier of ``cfg.lr`` after ``step`` optimizer steps, for the step-wise schedules."""
    epoch = step / max(1, steps_per_epoch)
    warm = min(1.0, (step + 1) / (cfg.warmup_epochs * steps_per_epoch)) if cfg.warmup_epochs else 1.0
    s = cfg.schedule
    if s == "constant":
        f = 1.0
    elif s == "power":
        f = (1.0 + epoch / cfg.decay_epochs) ** -cfg.power
    elif s == "exponential":
        f = cfg.decay_rate ** (epoch / cfg.decay_epochs)
    elif s == "piecewise":
        f = cfg.gamma ** sum(epoch >= m for m in cfg.milestones)
    elif s in ("cosine", "linear"):
        warm_steps = cfg.warmup_epochs * steps_per_epoch
        t = min(1.0, max(0.0, (step - warm_steps) / max(1.0, total_steps - warm_steps)))
        lo = cfg.min_lr / cfg.lr
        f = lo + (1 - lo) * (0.5 * (1 + math.cos(math.pi * t)) if s == "cosine" else 1 - t)
    else:
        raise ValueError(f"{s} is not a step-wise schedule")
    return warm * f


@dataclass
class SchedulerSpec:
    """A scheduler and when to step it (Lightning's lr_scheduler_config)."""

    scheduler: Any
    interval: str = "step"
    monitor: str | None = None
    extra: dict = field(default_factory=dict)

    def as_lightning(self) -> dict[str, Any]:
        d = {"scheduler": self.scheduler, "interval": self.interval}
        if self.monitor:
            d["monitor"] = self.monitor
        return d


def build_scheduler(
    cfg: OptimConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int, total_steps: int
) -> SchedulerSpec | None:
    """The scheduler for ``cfg`` or None for a constant rate without warm-up."""
    if cfg.schedule == "constant" and not cfg.warmup_epochs:
        return None
    if cfg.schedule == "plateau":
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=cfg.plateau_factor, patience=cfg.plateau_patience, min_lr=cfg.min_lr
        )
        return SchedulerSpec(sched, interval="epoch", monitor="val_loss")
    if cfg.schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=[g["lr"] for g in optimizer.param_groups],  # each group's peak (head_lr, layer_decay)
            total_steps=max(2, total_steps),
            cycle_momentum=cfg.optimizer in ("momentum", "nesterov", "adam", "adamw", "adamax", "nadam"),
        )
        return SchedulerSpec(sched)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(cfg, step, steps_per_epoch, total_steps)
    )
    return SchedulerSpec(sched)


class SparseSGD(torch.optim.Optimizer):
    """Plain SGD for sparse gradients: ``w[rows] -= lr * g`` on the rows a batch touched, nothing else.

    ``torch.optim.SGD`` adds a sparse gradient into the whole table (a copy of
    ``vocab_size x dim`` per step) and ``index_add_`` with ``alpha`` is 3-4x
    slower than scaling the gradient's values in place first (measured on this
    CPU, 4,096 x 100 rows). The gradient is consumed: its values are scaled.
    Dense gradients get the ordinary update.
    """

    def __init__(self, params: Any, lr: float):
        check_positive("lr", lr)
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        loss = None
        if closure is not None:  # Lightning's Trainer passes the forward/backward as a closure
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                if grad.is_sparse:  # uncoalesced: repeated rows add up, as in sequential updates
                    p.index_add_(0, grad._indices()[0], grad._values().mul_(-group["lr"]))
                else:
                    p.add_(grad, alpha=-group["lr"])
        return loss
