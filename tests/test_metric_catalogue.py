"""The metric catalogue covers every metric that runs write, and nothing else."""

import pytest

from zoo import metrics
from zoo.errors import UnknownNameError


def test_directions():
    assert metrics.mode("val_loss") == "min" and metrics.mode("test_rmse") == "min"
    assert metrics.mode("val_acc") == "max" and metrics.mode("bits_per_char") == "min"
    assert metrics.better("val_acc", 0.9, 0.8) and metrics.better("val_loss", 0.1, 0.2)
    assert metrics.strip_stage("train_loss") == "loss" and metrics.strip_stage("loss") == "loss"


def test_unknown_metric_is_refused_by_name():
    with pytest.raises(UnknownNameError, match="unknown metric 'val_acc_typo'"):
        metrics.lookup("val_acc_typo")


def test_every_entry_documented():
    for m in metrics.METRICS.values():
        assert m.mode in ("min", "max") and m.meaning, m


def test_per_epoch_metrics_of_every_task_kind_are_catalogued():
    from zoo.config import TASK_SETTINGS

    assert set(metrics.PER_EPOCH) == set(TASK_SETTINGS)
    for names in metrics.PER_EPOCH.values():
        assert "loss" in names and all(n in metrics.METRICS for n in names)


@pytest.mark.parametrize("data, kind", [("digits", "multiclass"), ("breast_cancer", "binary"), ("diabetes", "regression")])
def test_per_epoch_metrics_are_what_a_training_run_records_every_epoch(data, kind):
    from zoo.training import train

    res = train("mlp_tiny", data, max_epochs=1, data_options={"limit": 96}, logger="none", progress=False)
    recorded = {k.removeprefix("val_") for k in res.fit.history[0] if k.startswith("val_")}
    assert res.task.kind == kind and recorded == set(metrics.PER_EPOCH[kind])
