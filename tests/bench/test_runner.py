"""The runner: one cell -> its record; statuses, measurements, reproducibility, capability probe."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from bench_helpers import tiny_study

from zoo.bench import runner
from zoo.bench.lrfinder import RangeTestConfig, choose_lr
from zoo.bench.runner import probe, run_cell, time_to_target
from zoo.bench.parse import parse_study
from zoo.errors import StorageError


def _cell(**over):
    raw = tiny_study(**{"problems": ["mlp_tiny-digits"], "scientific": {}, "nuisance": {}, **over})
    return parse_study(raw, "t.yaml").cells()[0]


def _history(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_ok_cell_writes_every_file_result_last(tmp_path):
    cell = _cell(fixed={"batch_size": 32, "hidden": [8], "lr": 0.01}, budget={"max_epochs": 3},
                 target={"metric": "val_acc", "value": 0.2})
    res = run_cell(cell, tmp_path)
    assert res["status"] == "ok" and res["reason"] is None
    names = {p.name for p in tmp_path.iterdir()}
    assert {"cell.json", "metrics.csv", "predictions_test.npz", "env.json", "log.txt", "result.json"} <= names
    assert not [n for n in names if n.startswith(".")], "no temporary file left behind"
    # result.json was the last file written.
    mtimes = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert mtimes["result.json"] == max(mtimes.values())
    stored = json.loads((tmp_path / "result.json").read_text())
    assert stored["status"] == "ok" and stored["task_kind"] == "multiclass"
    for key in ("metrics", "fit", "time_to_target", "peak_memory_mb", "num_parameters", "seconds", "device",
                "precision", "batch_size"):
        assert key in stored
    assert set(stored["metrics"]) == {"val", "test"} and "auroc" in stored["metrics"]["test"]
    fit = stored["fit"]
    assert fit["steps"] == 3 * 3 and fit["samples"] == 3 * 96 and fit["throughput"] > 0
    cell_json = json.loads((tmp_path / "cell.json").read_text())
    assert cell_json["cell_id"] == cell.cell_id and cell_json["params"] == cell.params
    rows = _history(tmp_path / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert {"train_loss", "val_loss", "val_acc", "lr", "epoch_seconds"} <= set(rows[0])
    preds = np.load(tmp_path / "predictions_test.npz")
    assert preds["probs"].shape == (len(preds["target"]), 10)
    # Time to target is the training time (evaluation excluded) of the epochs up to the first hit.
    ttt = time_to_target([{k: float(v) for k, v in r.items()} for r in rows], cell.target)
    if ttt is None:
        assert stored["time_to_target"] is None
    else:
        assert stored["time_to_target"] == pytest.approx(ttt["seconds"])
    env = json.loads((tmp_path / "env.json").read_text())
    assert {"git_commit", "versions", "cpu", "torch_threads", "hostname"} <= set(env)
    assert "torch" in env["versions"]
    assert "status ok" in (tmp_path / "log.txt").read_text()


def test_num_parameters_counts_trainable_weights(tmp_path):
    res = run_cell(_cell(), tmp_path)
    # mlp_tiny with hidden [8] on digits: 64*8 + 8 + 8*10 + 10 weights and biases.
    assert res["num_parameters"] == 64 * 8 + 8 + 8 * 10 + 10


def test_same_cell_twice_gives_identical_metrics(tmp_path):
    """Reproducibility on CPU: same cell, same seed -> the same numbers, bit for bit."""
    cell = _cell(budget={"max_epochs": 2})
    a = run_cell(cell, tmp_path / "a")
    b = run_cell(cell, tmp_path / "b")
    assert a["metrics"] == b["metrics"]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in rows]  # noqa: E731
    assert strip(_history(tmp_path / "a" / "metrics.csv")) == strip(_history(tmp_path / "b" / "metrics.csv"))
    pa, pb = np.load(tmp_path / "a" / "predictions_test.npz"), np.load(tmp_path / "b" / "predictions_test.npz")
    assert all(np.array_equal(pa[k], pb[k]) for k in pa.files)


def test_divergence_is_recorded_and_stops_the_cell(tmp_path):
    raw = tiny_study(problems=["mlp_tiny-diabetes"], scientific={}, nuisance={},
                     fixed={"optimizer": "sgd", "lr": 1e4, "log_every_n_steps": 1}, budget={"max_epochs": 5})
    cell = parse_study(raw, "t.yaml").cells()[0]
    res = run_cell(cell, tmp_path)
    assert res["status"] == "diverged"
    assert "NaN" in res["reason"]
    assert res["fit"]["stop_reason"] == "diverged" and len(_history(tmp_path / "metrics.csv")) < 5


def test_unavailable_device_is_skipped_with_reason(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    cell = _cell(fixed={"device": "cuda"})
    res = run_cell(cell, tmp_path)
    assert res["status"] == "skipped"
    assert "cuda" in res["reason"] and "not available" in res["reason"]
    assert (tmp_path / "result.json").exists() and not (tmp_path / "metrics.csv").exists()


def test_probe_decides_precisions():
    ok, why = probe("cpu", "32-true")
    assert ok and why is None
    ok, why = probe("cpu", "16-mixed")  # Lightning refuses fp16 AMP on CPU
    assert not ok and "16-mixed" in why
    if not torch.cuda.is_available():
        ok, why = probe("cuda", "32-true")
        assert not ok and "not available" in why
    caps = runner.capabilities()
    assert set(caps) == {"cpu", "cuda", "mps"} and caps["cpu"]["32-true"] is None


def test_error_and_oom_are_rows_not_crashes(tmp_path, monkeypatch):
    res = run_cell(_cell(fixed={"monitor": "val_rmse"}), tmp_path / "e")  # a metric, but not a classifier's
    assert res["status"] == "error" and "val_rmse" in res["reason"]
    assert "Traceback" in (tmp_path / "e" / "log.txt").read_text()

    import zoo.training

    def boom(*a, **k):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(zoo.training, "train", boom)
    res = run_cell(_cell(), tmp_path / "o")
    assert res["status"] == "oom" and "out of memory" in res["reason"]

    def bug(*a, **k):
        raise KeyError("x")

    monkeypatch.setattr(zoo.training, "train", bug)
    res = run_cell(_cell(), tmp_path / "k")
    assert res["status"] == "error" and res["reason"].startswith("KeyError")


def test_range_test_picks_a_tenth_of_the_turning_point(tmp_path):
    cell = _cell(nuisance={"lr": {"range_test": {"steps": 120}}}, fixed={"batch_size": 16, "hidden": [8]},
                 data_options={"limit": 400})
    res = run_cell(cell, tmp_path)
    assert res["status"] == "ok"
    curve = json.loads((tmp_path / "lr_range.json").read_text())
    lrs, losses = curve["lrs"], curve["losses"]
    assert len(lrs) == len(losses) and 10 < len(lrs) <= 120
    assert lrs[0] == pytest.approx(1e-5) and all(b > a for a, b in zip(lrs, lrs[1:]))
    finite = [(lr, v) for lr, v in zip(lrs, losses) if v is not None]
    turn = min(finite, key=lambda t: t[1])[0]
    assert curve["turn_lr"] == turn and curve["chosen_lr"] == pytest.approx(turn / 10)
    assert res["tuned"]["lr"] == curve["chosen_lr"]
    # The loss turned up: the curve ends well above its minimum (or diverged).
    assert len(lrs) < 120 or losses[-1] is None or losses[-1] > min(v for _, v in finite)
    assert 1e-4 < curve["chosen_lr"] < 1.0


def test_choose_lr_on_a_synthetic_curve():
    cfg = RangeTestConfig()
    lrs = [1e-5 * 1.1**i for i in range(100)]
    losses = [2.0 - 0.01 * i if i < 60 else 2.0 + 0.1 * (i - 60) for i in range(100)]
    chosen, turn = choose_lr(lrs, losses, cfg)
    assert turn == lrs[59] and chosen == pytest.approx(lrs[59] / 10)
    assert choose_lr([1e-5], [math.inf], cfg) == (1e-5, 1e-5)


@pytest.mark.parametrize("device", ["cpu", "cuda", "mps"])
def test_environment_names_a_gpu_only_when_there_is_one(device):
    env = runner.environment(device)
    there = {"cpu": False, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}[device]
    assert (env["gpu"] is not None) == there
    assert env["torch_threads"] == torch.get_num_threads() and env["versions"]["torch"] == torch.__version__


def test_a_failed_cpu_allocation_is_oom(tmp_path, monkeypatch):
    """torch's CPU allocator says `DefaultCPUAllocator: can't allocate memory` (e.g. --hidden 2000000000)."""
    import zoo.training

    def huge(*a, **k):
        torch.empty(2**48)  # 1 PiB of float32: refused on every machine

    monkeypatch.setattr(zoo.training, "train", huge)
    res = run_cell(_cell(), tmp_path)
    assert res["status"] == "oom" and "allocate" in res["reason"], res["reason"]
    assert json.loads((tmp_path / "result.json").read_text())["status"] == "oom"


def test_a_full_disk_is_not_the_cells_failure(tmp_path, monkeypatch):
    """No space for the record: a one-line StorageError, and no result.json that would keep a resume
    from running the cell again."""
    import errno

    from zoo import record

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(record, "write_history", full)
    with pytest.raises(StorageError) as e:
        run_cell(_cell(), tmp_path)
    assert "\n" not in str(e.value) and not (tmp_path / "result.json").exists()


def test_result_json_is_the_record_schema(tmp_path):
    from zoo import record

    run_cell(_cell(), tmp_path)
    stored = record.read_result(tmp_path)
    assert stored["schema"] == record.SCHEMA_VERSION and stored["kind"] == "cell"
    assert set(record.COMMON) | set(record.FIELDS["cell"]) <= set(stored)
