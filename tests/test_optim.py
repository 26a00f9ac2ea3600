import math

import pytest
import torch
from torch import nn

from zoo.data.core import TensorBatches
from zoo.errors import ConfigError, UnknownNameError
from zoo.optim import OPTIMIZERS, OptimConfig, build_optimizer, build_scheduler, lr_factor


def _model():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


@pytest.mark.parametrize(
    "name, cls, check",
    [
        ("sgd", torch.optim.SGD, lambda g: g["momentum"] == 0),
        ("momentum", torch.optim.SGD, lambda g: g["momentum"] == 0.9 and not g["nesterov"]),
        ("nesterov", torch.optim.SGD, lambda g: g["momentum"] == 0.9 and g["nesterov"]),
        ("adagrad", torch.optim.Adagrad, lambda g: True),
        ("rmsprop", torch.optim.RMSprop, lambda g: g["alpha"] == 0.999),
        ("adam", torch.optim.Adam, lambda g: g["betas"] == (0.9, 0.999)),
        ("adamax", torch.optim.Adamax, lambda g: True),
        ("nadam", torch.optim.NAdam, lambda g: True),
        ("adamw", torch.optim.AdamW, lambda g: True),
    ],
)
def test_every_optimizer_by_name(name, cls, check):
    opt = build_optimizer(OptimConfig(optimizer=name, lr=0.05), _model())
    assert type(opt) is cls and opt.param_groups[0]["lr"] == 0.05 and check(opt.param_groups[0])
    assert set(OPTIMIZERS) >= {name}


def test_weight_decay_spares_biases():
    opt = build_optimizer(OptimConfig(optimizer="adamw", weight_decay=0.01), _model())
    decays = {p.ndim: g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    assert decays == {2: 0.01, 1: 0.0}


def test_unknown_names_and_bad_values():
    with pytest.raises(UnknownNameError, match="Did you mean 'nadam'"):
        OptimConfig(optimizer="nadm")
    with pytest.raises(UnknownNameError, match="unknown schedule"):
        OptimConfig(schedule="triangular")
    with pytest.raises(ConfigError, match="momentum must be in"):
        OptimConfig(momentum=1.5)
    with pytest.raises(ConfigError, match="milestones must be increasing"):
        OptimConfig(schedule="piecewise", milestones=(5, 2))


def test_schedule_formulas():
    spe, total = 100, 1000
    power = OptimConfig(schedule="power", decay_epochs=2, power=1)
    assert lr_factor(power, 200, spe, total) == pytest.approx(1 / (1 + 1))  # t = 2 epochs = s
    expo = OptimConfig(schedule="exponential", decay_epochs=5, decay_rate=0.1)
    assert lr_factor(expo, 500, spe, total) == pytest.approx(0.1)
    piece = OptimConfig(schedule="piecewise", milestones=(2, 4), gamma=0.5)
    assert [lr_factor(piece, s, spe, total) for s in (0, 199, 200, 400)] == [1, 1, 0.5, 0.25]
    warm = OptimConfig(warmup_epochs=1)
    assert lr_factor(warm, 49, spe, total) == pytest.approx(0.5) and lr_factor(warm, 150, spe, total) == 1
    cos = OptimConfig(schedule="cosine")
    assert lr_factor(cos, 0, spe, total) == 1 and lr_factor(cos, total, spe, total) == pytest.approx(0)


def test_onecycle_peaks_at_lr_and_plateau_reduces():
    model = _model()
    cfg = OptimConfig(schedule="onecycle", lr=0.1)
    opt = build_optimizer(cfg, model)
    spec = build_scheduler(cfg, opt, steps_per_epoch=10, total_steps=100)
    lrs = []
    for _ in range(100):
        opt.step()
        spec.scheduler.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert max(lrs) == pytest.approx(0.1, rel=1e-3) and lrs[-1] < 1e-3 and lrs[0] < 0.1 / 5
    cfg = OptimConfig(schedule="plateau", plateau_patience=1, plateau_factor=0.5, lr=0.1)
    opt = build_optimizer(cfg, model)
    spec = build_scheduler(cfg, opt, 10, 100)
    assert spec.interval == "epoch" and spec.monitor == "val_loss"
    for loss in (1.0, 1.0, 1.0):
        spec.scheduler.step(loss)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)


def test_steps_per_epoch():
    # 60,000 samples at batch 32 is 1,875 steps.
    x = torch.zeros(60_000, 1)
    assert len(TensorBatches([x], 32)) == 1875
    assert len(TensorBatches([x], 128)) == math.ceil(60_000 / 128)
    assert len(TensorBatches([x], 128, drop_last=True)) == 60_000 // 128
