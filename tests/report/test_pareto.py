"""The Pareto front of a search with several objectives (zoo/report/pareto.py): the numpy filter against
a brute-force check, and trials averaged over their seeds from cell records."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from zoo import record as R
from zoo.report.pareto import trials
from zoo.report.tradeoffs import non_dominated


def _brute(values: list[list[float]], modes: list[str]) -> list[bool]:
    def better_or_equal(a, b, m):
        return a >= b if m == "max" else a <= b

    def dominates(a, b):
        return (all(better_or_equal(x, y, m) for x, y, m in zip(a, b, modes))
                and any(x != y for x, y in zip(a, b)))

    return [not any(dominates(q, p) for q in values) for p in values]


@pytest.mark.parametrize("modes", [["max", "max"], ["max", "min"], ["min", "min"], ["max", "min", "max"]])
def test_non_dominated_equals_a_brute_force_check(modes):
    rng = np.random.default_rng(len(modes) + sum(m == "max" for m in modes))
    for n in (1, 2, 7, 40):
        # few distinct values: ties and equal rows are common
        values = rng.integers(0, 5, size=(n, len(modes))).astype(float).tolist()
        got = non_dominated(values, modes)
        assert got.tolist() == _brute(values, modes)
        assert got.any()  # a finite set has a front


def test_a_known_front():
    acc = [0.9, 0.8, 0.95, 0.7, 0.9]
    speed = [100, 300, 50, 200, 100]  # trial 3 is dominated by 1; trials 0 and 4 are equal, both kept
    assert non_dominated(list(zip(acc, speed)), ["max", "max"]).tolist() == [True, True, True, False, True]
    assert non_dominated(list(zip(acc, speed)), ["max", "min"]).tolist() == [False, False, True, False, False]


def _cell(trial: int, seed: int, acc: float, throughput: float, status: str = R.OK) -> R.CellRecord:
    cell = {"problem": "p", "seed": seed, "trial": trial, "nuisance": {"lr": 0.1 * (trial + 1)},
            "search": {"group": "p"}}
    result = {"status": status, "metrics": {"val": {"acc": acc}}, "fit": {"throughput": throughput}}
    return R.CellRecord(f"c{trial}-{seed}", Path("."), cell, result, status)


def test_trials_average_their_seeds_and_skip_unfinished_ones():
    cells = [_cell(0, 0, 0.8, 100.0), _cell(0, 1, 0.6, 300.0), _cell(1, 0, 0.9, 50.0),
             _cell(1, 1, 0.9, 50.0, R.ERROR), _cell(2, 0, 0.5, 10.0)]
    got = trials(cells, [["val_acc", "max"], ["throughput", "max"]], seeds=2)
    assert [(t["trial"], t["seeds"], t["point"]) for t in got] == [(0, 2, {"lr": 0.1})]
    assert got[0]["values"] == pytest.approx([0.7, 200.0])
    assert [t["trial"] for t in trials(cells, [["val_acc", "max"], ["throughput", "max"]], seeds=1)] == [0, 2]
    assert list(itertools.chain(*(t["values"] for t in trials(cells, [["val_acc", "max"], ["cpu_seconds", "min"]], 1)))) == []


def test_repeated_configurations_share_one_row_of_the_front():
    from zoo.report.pareto import _repeats

    ts = [{"trial": n, "point": p} for n, p in enumerate([{"lr": 0.1, "h": [8]}, {"lr": 0.2, "h": [8]},
                                                          {"h": [8], "lr": 0.1}, {"lr": 0.1, "h": [16]}])]
    got = _repeats(ts)
    assert got[0] == got[2] == [0, 2] and got[1] == [1] and got[3] == [3]
