"""The cost of a run (zoo/cost.py): FLOPs against a hand count, the cached matmul peak, the record's cost keys."""

from __future__ import annotations

import json

import pytest
import torch

import zoo
from zoo import cost, record


def _hand_count(sizes: list[int], batch: int) -> int:
    """FLOPs of forward + backward of a stack of linear layers ``sizes[0] -> ... -> sizes[-1]``:
    forward 2*in*out per layer and sample; backward the weight gradient (2*in*out) of every layer
    and the input gradient (2*in*out) of all but the first (its input needs no gradient)."""
    pairs = list(zip(sizes, sizes[1:]))
    forward = sum(2 * i * o for i, o in pairs)
    backward = sum(2 * i * o for i, o in pairs) + sum(2 * i * o for i, o in pairs[1:])
    return batch * (forward + backward)


def test_flops_of_a_tiny_mlp_equal_the_hand_count():
    task = zoo.create("mlp", in_features=12, hidden=(7, 5), num_classes=3)
    x, y = torch.randn(4, 12), torch.tensor([0, 1, 2, 1])
    flops, n = cost.training_flops(task, (x, y))
    assert n == 4
    assert flops == _hand_count([12, 7, 5, 3], 4) == 4 * (2 * 134 + 2 * 134 + 2 * 50)


def test_flop_count_leaves_weights_gradients_mode_and_random_state_alone():
    task = zoo.create("mlp", in_features=6, hidden=(4,), num_classes=2, dropout=0.5)
    task.train()
    before = {k: v.clone() for k, v in task.state_dict().items()}
    batch = (torch.randn(3, 6), torch.tensor([0, 1, 0]))
    rng = torch.get_rng_state()
    cost.training_flops(task, batch)
    assert task.training
    assert all(p.grad is None for p in task.parameters())
    assert all(torch.equal(before[k], v) for k, v in task.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state())


def test_matmul_peak_is_measured_once_then_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_PEAK_FILE", str(tmp_path / "sub" / "peak.json"))
    monkeypatch.setattr(cost, "_PEAKS", {})
    calls = []

    def fake(dtype, **kw):
        calls.append((dtype, kw["threads"]))
        return 1.5e10

    monkeypatch.setattr(cost, "measure_matmul", fake)
    assert cost.matmul_peak("float32", threads=1) == 1.5e10
    stored = json.loads((tmp_path / "sub" / "peak.json").read_text())
    assert list(stored.values()) == [1.5e10] and "float32|threads 1" in next(iter(stored))
    monkeypatch.setattr(cost, "_PEAKS", {})  # a new process: from the file, no second measurement
    assert cost.matmul_peak("float32", threads=1) == 1.5e10
    assert calls == [("float32", 1)]
    assert list(cost.known_peaks().values()) == [1.5e10]


def test_measured_matmul_rate_is_a_positive_finite_number():
    rate = cost.measure_matmul("float32", sizes=(64,), seconds=0.01)
    assert 0 < rate < float("inf")


def test_a_run_record_carries_its_cost(tmp_path):
    res = zoo.train("mlp_tiny", "wine", max_epochs=1, hidden=(8,), out_dir=tmp_path / "run", progress=False,
                    data_options={"limit": 60})
    stored = record.read_result(tmp_path / "run")
    for key in record.COST:
        assert stored[key] == res.cost[key], key
    fc = res.task.model.config  # wine: 13 features, 3 classes
    assert stored["flops_per_sample"] == _hand_count([fc.in_features, 8, fc.num_classes], 1)
    assert stored["cpu_seconds"] > 0 and stored["peak_memory_mb"] > 0
    assert stored["achieved_flops"] == pytest.approx(stored["flops_per_sample"] * res.fit.throughput)
    assert stored["peak_fraction"] == pytest.approx(stored["achieved_flops"] / stored["matmul_peak_flops"])


def test_old_records_read_with_cost_keys_unmeasured():
    old = record.upgrade({"status": "ok", "cell_id": "abc", "metrics": {}})
    assert all(old[k] is None for k in record.COST)
