"""Fine-tuning schedules: a separate head rate, layer-wise rate decay, and gradual unfreezing.

On the shipped ``mlp-wine`` checkpoint (13-64-32-3, batch norm) and the embedded wine data: each
parameter trains at the rate its layer is given (also at the peak of a 1cycle schedule); blocks
scheduled to thaw at epoch e stay bit-identical (batch-norm buffers included) before e and train
from e on, under zoobench's loop and under ``lightning.Trainer``; mistakes are one line, exit 2."""

from __future__ import annotations

import lightning as L
import pytest
import torch

import zoo
from zoo.cli import main
from zoo.config import LoopConfig
from zoo.data import load
from zoo.engine import fit
from zoo.errors import ConfigError
from zoo.optim import OptimConfig


def _rates(task) -> dict[str, float]:
    opt = task.configure_optimizers()
    opt = opt["optimizer"] if isinstance(opt, dict) else opt
    by_param = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    return {name: by_param.get(id(p)) for name, p in task.model.named_parameters()}


def test_head_rate_and_layer_decay_give_each_layer_its_rate():
    task = zoo.load_pretrained("mlp-wine", freeze="backbone")
    task.optim = OptimConfig(optimizer="adamw", lr=0.01, head_lr=0.1, layer_decay=0.5, weight_decay=0.01)
    task.schedule_unfreeze(2, epoch=3)  # both blocks join the optimizer now, at their rates
    rates = _rates(task)
    assert rates["head.weight"] == rates["head.bias"] == pytest.approx(0.1)
    assert rates["body.1.0.weight"] == rates["body.1.1.bias"] == pytest.approx(0.01)  # the top block
    assert rates["body.0.0.weight"] == pytest.approx(0.005)  # one block down: x layer_decay
    # Without a schedule only the head is in the optimizer; with the defaults, one rate everywhere.
    plain = zoo.load_pretrained("mlp-wine", freeze="backbone")
    plain.optim = OptimConfig(lr=0.01)
    assert {k: v for k, v in _rates(plain).items() if v is not None} == {"head.weight": 0.01, "head.bias": 0.01}


def test_onecycle_peaks_at_each_groups_own_rate():
    task = zoo.load_pretrained("mlp-wine", freeze="none")
    task.optim = OptimConfig(optimizer="adamw", lr=0.002, head_lr=0.02, layer_decay=0.5, schedule="onecycle")
    task.steps_per_epoch, task.total_steps = 10, 100
    sched = task.configure_optimizers()["lr_scheduler"]["scheduler"]
    peaks = sorted(g["max_lr"] for g in sched.optimizer.param_groups)
    assert peaks == pytest.approx(sorted({0.02, 0.002, 0.001}))


def _snapshot(task) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in task.model.state_dict().items()}


def _unchanged(a, b, prefix) -> bool:
    keys = [k for k in a if k.startswith(prefix)]
    assert keys
    return all(torch.equal(a[k], b[k]) for k in keys)


def _check_gradual(snaps: list[dict[str, torch.Tensor]]):
    """Snapshots before training and after each of 4 epochs, thaw of the top block at epoch 3."""
    start = snaps[0]
    for s in snaps[1:]:
        assert _unchanged(start, s, "body.0.")  # never thawed: weights and batch-norm buffers
        assert _unchanged(start, s, "scaler.")
    assert _unchanged(start, snaps[2], "body.1.")  # frozen through epochs 1 and 2
    assert not torch.equal(start["body.1.0.weight"], snaps[3]["body.1.0.weight"])  # trains from epoch 3
    assert not torch.equal(start["body.1.1.running_mean"], snaps[3]["body.1.1.running_mean"])
    assert not torch.equal(start["head.weight"], snaps[1]["head.weight"])


def _gradual_task():
    task = zoo.load_pretrained("mlp-wine", freeze="backbone")
    task.optim = OptimConfig(optimizer="adam", lr=0.01, head_lr=0.05)
    task.schedule_unfreeze(1, epoch=3)
    return task


def test_gradual_unfreezing_under_zoobench_loop():
    task, dm = _gradual_task(), load("wine", batch_size=16)
    snaps = [_snapshot(task)]
    fit(task, dm, LoopConfig(max_epochs=4, progress=False, restore_best=False),
        on_epoch_end=lambda row: snaps.append(_snapshot(task)))
    _check_gradual(snaps)


def test_gradual_unfreezing_under_lightning_trainer():
    task, dm = _gradual_task(), load("wine", batch_size=16)
    snaps = [_snapshot(task)]

    class Snap(L.Callback):
        def on_train_epoch_end(self, trainer, module):
            snaps.append(_snapshot(module))

    L.Trainer(max_epochs=4, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, callbacks=[Snap()]).fit(task, dm)
    _check_gradual(snaps)


def test_finetune_command_takes_the_schedule_flags(tmp_path):
    out = tmp_path / "ft"
    args = ["finetune", "mlp-wine", "--data", "wine", "--unfreeze-top", "1", "--unfreeze-epoch", "2",
            "--head-lr", "0.05", "--layer-decay", "0.3", "--max_epochs", "3", "--logger", "none", "--out", str(out)]
    assert main(args) == 0
    run = zoo.load_checkpoint(out / "checkpoint").card["config"]
    assert run["run"]["unfreeze_top"] == 1 and run["run"]["unfreeze_epoch"] == 2
    assert run["optimizer"]["head_lr"] == 0.05 and run["optimizer"]["layer_decay"] == 0.3
    parent = _snapshot(zoo.load_pretrained("mlp-wine"))
    child = _snapshot(zoo.load_checkpoint(out / "checkpoint"))
    assert _unchanged(parent, child, "body.0.") and not _unchanged(parent, child, "body.1.")


@pytest.mark.parametrize("flags, message", [
    (["--unfreeze-top", "3"], "unfreeze_top must be at most 2 (the blocks of MLP's backbone), got 3."),
    (["--unfreeze-top", "1", "--freeze", "none"], "unfreeze_top=1 thaws frozen blocks: it needs freeze=backbone or all."),
    (["--unfreeze-epoch", "0"], "unfreeze_epoch must be an integer > 0"),
    (["--layer-decay", "1.5"], "layer_decay must be in (0, 1], got 1.5."),
    (["--head-lr", "-1"], "head_lr must be"),
])
def test_bad_schedules_are_one_line_and_write_nothing(tmp_path, capsys, flags, message):
    out = tmp_path / "ft"
    assert main(["finetune", "mlp-wine", "--data", "wine", *flags, "--max_epochs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and not out.exists()


def test_schedule_unfreeze_refuses_a_bad_epoch():
    task = zoo.load_pretrained("mlp-wine", freeze="backbone")
    with pytest.raises(ConfigError, match="unfreeze_epoch must be an integer >= 1"):
        task.schedule_unfreeze(1, epoch=0)
