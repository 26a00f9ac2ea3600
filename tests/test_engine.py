"""The training loop: learning, stopping rules, clipping, divergence, reproducibility, Trainer compatibility."""

import math

import lightning as L
import pytest
import torch

import zoo
from zoo.data.core import DataInfo, TensorDataModule
from zoo.engine import LoopConfig, fit
from zoo.errors import ConfigError


def _blobs(n=600, d=8, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(c, d, generator=g) * 3
    y = torch.randint(0, c, (n,), generator=g)
    x = centers[y] + torch.randn(n, d, generator=g)
    info = DataInfo("blobs", "multiclass", (d,), c)
    return TensorDataModule(info, (x[:400], y[:400]), (x[400:500], y[400:500]), (x[500:], y[500:]), batch_size=32)


def _task(**kw):
    torch.manual_seed(0)
    task = zoo.create("mlp_tiny", in_features=8, num_classes=3, **kw)
    return task


def test_loss_falls_and_accuracy_beats_chance():
    dm = _blobs()
    task = _task(lr=0.01)
    task.prepare_data_stats(dm)
    res = fit(task, dm, LoopConfig(max_epochs=5, progress=False))
    assert res.history[-1]["train_loss"] < 0.5 * res.history[0]["train_loss"]
    assert res.history[-1]["val_acc"] > 0.9  # chance 1/3
    assert res.steps == 5 * 13 and res.steps_per_epoch == 13 and res.samples == 5 * 400
    assert res.throughput > 0 and res.stop_reason == "max_epochs"


def test_early_stopping_restores_best_epoch():
    dm = _blobs()
    task = _task(lr=0.05)
    res = fit(task, dm, LoopConfig(max_epochs=60, patience=2, progress=False))
    assert res.stop_reason == "early_stopping"
    assert len(res.history) == res.best_epoch + 2
    val, _ = task.evaluate(dm.val_dataloader(), full=False)
    assert val["loss"] == pytest.approx(res.best_score, rel=1e-5)  # best weights restored


def test_max_steps_and_monitor_choice():
    res = fit(_task(), _blobs(), LoopConfig(max_epochs=10, max_steps=20, progress=False, monitor="val_acc"))
    assert res.steps == 20 and res.stop_reason == "max_steps" and res.monitor == "val_acc"
    with pytest.raises(ConfigError, match="monitor 'val_f2' is not a validation metric"):
        fit(_task(), _blobs(), LoopConfig(max_epochs=1, progress=False, monitor="val_f2"))


@pytest.mark.parametrize("clip", [{"clip_norm": 1e-3}, {"clip_value": 1e-3}])
def test_gradient_clipping_bounds_each_update(clip):
    dm = _blobs()
    task = _task(optimizer="sgd", lr=1.0)
    before = [p.detach().clone() for p in task.model.parameters()]
    fit(task, dm, LoopConfig(max_epochs=1, max_steps=1, progress=False, restore_best=False, **clip))
    step = torch.cat([(p.detach() - b).flatten() for p, b in zip(task.model.parameters(), before)])
    if "clip_norm" in clip:
        assert step.norm().item() <= 1e-3 * 1.01  # 1%: float32 rounding of p - before
    else:
        assert step.abs().max().item() <= 1e-3 * 1.01


def test_divergence_is_detected_not_raised():
    res = fit(_task(optimizer="sgd", lr=1e8), _blobs(), LoopConfig(max_epochs=3, log_every_n_steps=2, progress=False))
    assert res.diverged and len(res.history) == 1


def test_same_seed_same_metrics():
    runs = [zoo.train("mlp_tiny", "wine", seed=3, max_epochs=3, progress=False) for _ in range(2)]
    assert runs[0].metrics == runs[1].metrics
    assert [r["train_loss"] for r in runs[0].fit.history] == [r["train_loss"] for r in runs[1].fit.history]
    other = zoo.train("mlp_tiny", "wine", seed=4, max_epochs=3, progress=False)
    assert other.fit.history[0]["train_loss"] != runs[0].fit.history[0]["train_loss"]


def test_schedule_steps_per_optimizer_step():
    dm = _blobs()
    task = _task(schedule="exponential", decay_epochs=1, decay_rate=0.5, lr=0.1)
    res = fit(task, dm, LoopConfig(max_epochs=2, progress=False))
    assert res.history[-1]["lr"] == pytest.approx(0.1 * 0.5**2, rel=1e-6)


def test_bad_loop_values():
    with pytest.raises(ConfigError, match="max_epochs must be an integer > 0"):
        LoopConfig(max_epochs=0)
    with pytest.raises(ConfigError, match="clip_value or clip_norm, not both"):
        LoopConfig(clip_value=1, clip_norm=1)
    with pytest.raises(Exception, match="unknown precision '8-bit'"):
        LoopConfig(precision="8-bit")


def test_unavailable_device_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="device 'cuda' is not available here"):
        fit(_task(), _blobs(), LoopConfig(max_epochs=1, device="cuda", progress=False))


def test_a_precision_lightning_would_swap_is_refused():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="'16-mixed' is not supported on cpu .*'bf16-mixed' instead"):
        fit(_task(), _blobs(), LoopConfig(max_epochs=1, precision="16-mixed", progress=False))


def test_task_also_trains_under_lightning_trainer():
    dm = _blobs()
    task = _task(lr=0.01)
    task.prepare_data_stats(dm)
    trainer = L.Trainer(max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu")
    trainer.fit(task, datamodule=dm)
    out = trainer.validate(task, datamodule=dm, verbose=False)[0]
    assert out["val_acc"] > 0.8 and math.isfinite(out["val_loss"])
