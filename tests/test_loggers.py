"""Loggers on request: TensorBoard event files and an offline W&B run, no account needed."""

import pytest

import zoo


def test_tensorboard_logger_writes_events(tmp_path):
    pytest.importorskip("tensorboard")
    zoo.train("mlp_tiny", "wine", max_epochs=2, progress=False, out_dir=tmp_path / "r", logger="tensorboard", save=False)
    events = list((tmp_path / "r" / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0


def test_wandb_logger_runs_offline(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    zoo.train("mlp_tiny", "wine", max_epochs=2, progress=False, out_dir=tmp_path / "r", logger="wandb", save=False)
    runs = list((tmp_path / "r" / "wandb").glob("offline-run-*"))
    assert runs, list((tmp_path / "r").rglob("*"))[:20]
    assert list(runs[0].glob("*.wandb"))


def test_tensorboard_gets_the_test_metrics_and_no_placeholder(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    res = zoo.train("mlp_tiny", "wine", max_epochs=2, progress=False, out_dir=tmp_path / "r", logger="tensorboard", save=False)
    acc = EventAccumulator(str(tmp_path / "r" / "tensorboard")).Reload()
    tags = set(acc.Tags()["scalars"])
    assert "hp_metric" not in tags and {"val_loss", "test/acc", "test/loss", "val/acc"} <= tags
    (event,) = acc.Scalars("test/acc")
    assert event.step == 2 and event.value == pytest.approx(res.metrics["test"]["acc"])
