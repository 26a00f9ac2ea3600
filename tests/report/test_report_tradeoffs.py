"""Cost trade-offs: the non-dominated filter against brute force, the performance profile and its
area against a direct numpy recomputation, the figures unclipped."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tests.report.test_report_overlay import assert_unclipped
from zoo.report import tradeoffs as TR


def _brute_front(p, modes):
    sign = np.array([1 if m == "max" else -1 for m in modes])
    out = []
    for i in range(len(p)):
        if not np.isfinite(p[i]).all():
            out.append(False)
            continue
        dom = any(np.isfinite(p[j]).all() and all(sign * p[j] >= sign * p[i]) and any(sign * p[j] > sign * p[i])
                  for j in range(len(p)) if j != i)
        out.append(not dom)
    return np.array(out)


@pytest.mark.parametrize("modes", list(itertools.product(("max", "min"), repeat=2)))
def test_non_dominated_equals_brute_force(modes):
    rng = np.random.default_rng(1)
    for trial in range(30):
        p = rng.integers(0, 5, size=(rng.integers(1, 12), 2)).astype(float)  # ties and duplicates
        if trial % 5 == 0:
            p[0, 1] = math.nan
        np.testing.assert_array_equal(TR.non_dominated(p, modes), _brute_front(p, modes))
    # a hand case: accuracy (max) against time (min)
    pts = np.array([[0.9, 10.0], [0.95, 20.0], [0.85, 30.0], [0.95, 15.0]])
    assert TR.non_dominated(pts, ("max", "min")).tolist() == [True, False, False, True]


def test_profile_and_score_equal_a_direct_recomputation():
    inf = math.inf
    times = np.array([[1.0, 2.0, inf],    # problem 0: value 0 fastest, value 2 never reaches
                      [3.0, 1.5, 30.0],   # problem 1: value 1 fastest, value 2 at 20x
                      [inf, inf, inf]])   # problem 2: nobody reaches: counts against every value
    taus = np.array([1.0, 1.5, 2.0, 10.0, 20.0])
    rho = TR.profile(times, taus)
    assert rho.tolist() == [[1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3], [1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3],
                            [0, 0, 0, 0, 1 / 3]]
    # the exact area against a fine numerical integral of the step profile over log tau
    grid = np.geomspace(1.0, TR.TAU_MAX, 200_001)
    prof = TR.profile(times, grid)
    logs = np.log(grid)
    numeric = (prof[:, :-1] * np.diff(logs)).sum(1) / math.log(TR.TAU_MAX)
    score = TR.profile_score(times)
    np.testing.assert_allclose(score, numeric, atol=1e-4)
    assert score.tolist() == pytest.approx([(1 + 1 - math.log(2) / math.log(10)) / 3, (1 - math.log(2) / math.log(10) + 1) / 3, 0])


def test_figures_are_unclipped():
    pts = [TR.Point("adam", 0, 0.95, 2.0e4, 0.1, "3/3"), TR.Point("sgd", 2, 0.40, 2.5e4, math.inf, "0/3"),
           TR.Point("nadam", 1, 0.93, 1.5e4, 0.3, "3/3")]
    fig = TR.pareto([("p1", pts), ("p2", pts[:2])], "acc", "max", "optimizer")
    assert_unclipped(fig)
    ringed = [c for c in fig.axes[0].collections if len(c.get_offsets()) and not len(c.get_facecolor())]
    assert sorted(map(tuple, ringed[0].get_offsets())) == [(2.0e4, 0.95), (2.5e4, 0.40)]
    times = np.array([[0.1, math.inf, 0.3], [0.2, 0.5, 0.25]])
    assert_unclipped(TR.profile_figure(["adam", "sgd", "nadam"], [0, 2, 1], times, 2))


def test_report_draws_the_comparative_figures_with_recorded_class_names(tmp_path):
    import json

    import storegen
    from sklearn import metrics as M

    from zoo.report import build_report
    from zoo.report import curves as C
    from zoo.report import tables as T

    store = storegen.make_store(tmp_path, "cmp", problems=["mlp-digits", "mlp-breast_cancer"],
                                scientific={"optimizer": ["sgd", "adam"]}, nuisance={"lr": [0.1]},
                                fixed={"activation": "relu", "batch_size": 64}, seeds=[0, 1, 2], epochs=4,
                                target={"metric": "val_acc", "value": 0.8})
    for res in store.glob("*/result.json"):  # the dataset's class names, as DataInfo has them
        cell = json.loads((res.parent / "cell.json").read_text())
        if cell["problem"] == "mlp-breast_cancer":
            d = json.loads(res.read_text())
            res.write_text(json.dumps({**d, "class_names": ["malignant", "benign"]}))
    rep = build_report(store, tmp_path / "out")
    figs = {p.stem for p in (tmp_path / "out" / "figures").glob("*.png")}
    for prob in ("mlp_digits", "mlp_breast_cancer"):
        assert {f"roc_{prob}", f"pr_{prob}", f"roc_classes_{prob}", f"pr_classes_{prob}", f"curves_{prob}"} <= figs
    assert {"tradeoff_acc", "performance_profile"} <= figs
    text = (tmp_path / "out" / "README.md").read_text()
    assert "| malignant |" in text and "| benign |" in text  # per-class table rows by name, not 0/1
    # the per-cell macro AUROC the comparative figure averages is scikit-learn's
    cells = [c for c in T.load(store).cells if c.problem == "mlp-digits" and c.predictions is not None]
    assert cells
    for c in cells[:2]:
        p = c.predictions
        assert C.macro_roc(p["target"], p["probs"])[2] == pytest.approx(
            M.roc_auc_score(p["target"], p["probs"], multi_class="ovr", average="macro"), abs=1e-12)
    assert rep is not None
