"""zoo.report's analysis: statistics over seeds (stats), selection over nuisance, metrics from predictions (curves)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as M

from zoo.errors import DataError
from zoo.report import curves as C
from zoo.report import stats as S
from zoo.report import tables as T

# ------------------------------------------------------------------------------------------
# Confidence intervals and the paired test
# ------------------------------------------------------------------------------------------


def test_mean_ci_matches_reference_computations():
    x = [0.912, 0.934, 0.961]
    ci = S.mean_ci(x)
    lo, hi = stats.t.interval(0.95, df=len(x) - 1, loc=np.mean(x), scale=stats.sem(x))
    assert ci.n == 3
    assert ci.mean == pytest.approx(np.mean(x), abs=1e-12)
    assert ci.low == pytest.approx(lo, abs=1e-12) and ci.high == pytest.approx(hi, abs=1e-12)
    # Textbook: 1..5 has s = 1.5811388, t(0.975, 4) = 2.7764451, half = t s / sqrt(5) = 1.9632432.
    assert S.mean_ci([1, 2, 3, 4, 5]).half == pytest.approx(1.9632432, abs=1e-6)


def test_mean_ci_small_and_missing():
    assert S.mean_ci([0.5]).n == 1 and math.isnan(S.mean_ci([0.5]).half) and S.mean_ci([0.5]).mean == 0.5
    assert S.mean_ci([]).n == 0 and math.isnan(S.mean_ci([]).mean)
    assert S.mean_ci([1.0, float("nan"), 3.0, None]).n == 2  # non-finite values are dropped


def test_paired_test_is_ttest_rel_over_shared_seeds():
    a = {0: 0.91, 1: 0.95, 2: 0.93, 3: 0.99}
    b = {0: 0.90, 1: 0.92, 2: 0.93, 5: 0.5}
    res = S.paired_test(a, b)
    ref = stats.ttest_rel([0.91, 0.95, 0.93], [0.90, 0.92, 0.93])
    assert res.n == 3 and res.testable
    assert res.pvalue == pytest.approx(ref.pvalue, abs=1e-12)
    assert res.mean_diff == pytest.approx((0.01 + 0.03 + 0.0) / 3)
    assert res.significant is bool(ref.pvalue < 0.05)


def test_paired_test_not_testable_and_degenerate():
    one = S.paired_test({0: 0.9, 1: 0.8}, {1: 0.7, 2: 0.6})
    assert one.n == 1 and not one.testable and one.significant is None and "1 shared seed" in one.note
    same = S.paired_test({0: 0.9, 1: 0.8}, {0: 0.9, 1: 0.8})
    assert same.pvalue == 1.0 and same.significant is False
    shift = S.paired_test({0: 0.9, 1: 0.8, 2: 0.7}, {0: 0.8, 1: 0.7, 2: 0.6})
    assert shift.pvalue == 0.0 and shift.significant is True


# ------------------------------------------------------------------------------------------
# Selection: best over nuisance on validation, never on test
# ------------------------------------------------------------------------------------------


def _cell(root: Path, cid: str, opt: str, lr: float, seed: int, val: float | None, test: float | None,
          status: str = "ok") -> None:
    d = root / cid
    d.mkdir(parents=True)
    (d / "cell.json").write_text(json.dumps({
        "cell_id": cid, "study": "sel", "problem": "mlp-digits", "model": "mlp", "data": "digits", "seed": seed,
        "params": {"optimizer": opt, "lr": lr}, "scientific": {"optimizer": opt}, "nuisance": {"lr": lr}, "fixed": {}}))
    metrics = {"val": {"acc": val} if val is not None else {}, "test": {"acc": test} if test is not None else {}}
    (d / "result.json").write_text(json.dumps({"status": status, "reason": "", "task_kind": "multiclass",
                                               "metrics": metrics if status == "ok" else {}}))


def test_nuisance_is_chosen_on_validation_and_diverged_configs_rank_last(tmp_path: Path):
    root = tmp_path / "sel"
    root.mkdir()
    (root / "study.json").write_text(json.dumps({"name": "sel", "axes": {
        "optimizer": {"role": "scientific", "values": ["a", "b", "c"]}, "lr": {"role": "nuisance", "values": [0.1, 0.01, 1.0]}}}))
    for s in range(3):
        _cell(root, f"a1-{s}", "a", 0.1, s, val=0.90, test=0.80 + 0.01 * s)  # best on val, worse on test
        _cell(root, f"a2-{s}", "a", 0.01, s, val=0.80, test=0.95)  # would win on test: must not be chosen
        _cell(root, f"b1-{s}", "b", 0.1, s, val=0.85, test=0.85 + 0.002 * s)
        _cell(root, f"c1-{s}", "c", 1.0, s, val=0.99, test=0.99, status="diverged" if s == 2 else "ok")
        _cell(root, f"c2-{s}", "c", 0.1, s, val=0.70, test=0.70)
    table = T.cell_table(T.load(root))
    (v,) = S.verdicts(table)
    by = {e.value: e for e in v.entries}
    assert by["a"].config == {"lr": 0.1} and by["a"].test == pytest.approx({0: 0.80, 1: 0.81, 2: 0.82})
    assert by["a"].select_metric == "val_acc" and by["a"].n_configs == 2
    assert by["c"].config == {"lr": 0.1} and by["c"].n_diverged == 1  # the diverging lr=1.0 is passed over
    # ranked by the validation score of the chosen configs (a 0.90, b 0.85, c 0.70), never by test
    assert [e.value for e in v.entries] == ["a", "b", "c"]
    assert v.margin == pytest.approx(0.81 - 0.852)  # the best on validation trails b on test
    ref = stats.ttest_rel([0.80, 0.81, 0.82], [0.85, 0.852, 0.854])
    assert v.comparison.pvalue == pytest.approx(ref.pvalue)
    # the best against every other value, then Holm over those two tests
    ref_c = stats.ttest_rel([0.80, 0.81, 0.82], [0.70, 0.70, 0.70])
    assert [c.pvalue for c in v.versus] == pytest.approx([ref.pvalue, ref_c.pvalue])
    lo, hi = sorted([ref.pvalue, ref_c.pvalue])
    expect = {lo: min(1, 2 * lo), hi: max(min(1, 2 * lo), min(1, hi))}
    assert v.holm == pytest.approx([expect[ref.pvalue], expect[ref_c.pvalue]])


def _exact_percentile_bootstrap(wins: np.ndarray) -> tuple[float, float]:
    """Every one of the n^n resamples of n seeds, equally likely: the 2.5th and 97.5th percentiles of their means."""
    n = len(wins)
    idx = np.array(np.meshgrid(*[np.arange(n)] * n, indexing="ij")).reshape(n, -1).T
    means = wins[idx].mean(1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def test_probability_of_improvement_equals_an_independent_bootstrap():
    best = {0: 0.90, 1: 0.91, 2: 0.92, 3: 0.93, 4: 0.94}
    other = {0: 0.85, 1: 0.95, 2: 0.92, 3: 0.92, 4: 0.90}  # best wins on seeds 0, 3, 4; ties on 2; loses on 1
    got = S.prob_improvement(best, other, "max")
    wins = np.array([1.0, 0.0, 0.5, 1.0, 1.0])
    assert got.n == 5 and got.p == pytest.approx(wins.mean())
    assert (got.low, got.high) == pytest.approx(_exact_percentile_bootstrap(wins), abs=0.02)
    # lower is better: the same seeds, the other way round
    assert S.prob_improvement(best, other, "min").p == pytest.approx(1 - wins.mean())
    # only shared seeds count; one outcome on every seed: a zero-width interval
    one = S.prob_improvement({0: 1.0, 1: 2.0, 9: 0.0}, {0: 0.0, 1: 1.0}, "max")
    assert (one.n, one.p, one.low, one.high) == (2, 1.0, 1.0, 1.0)
    assert S.prob_improvement({0: 1.0}, {1: 1.0}, "max").n == 0


def test_tie_group_equals_scipy_and_a_below_chance_cell_is_flagged(tmp_path: Path):
    """Four values × 5 seeds: ranked on validation; tied = Holm p >= 0.05 against the best (recomputed
    here with scipy and numpy); a value whose predictions do worse than the majority class is flagged."""
    from zoo.record import write_predictions
    from zoo.report import build_report

    root = tmp_path / "ties"
    root.mkdir()
    (root / "study.json").write_text(json.dumps({"name": "ties", "axes": {
        "optimizer": {"role": "scientific", "values": ["a", "b", "c", "d", "e"]}}}))
    rng = np.random.default_rng(3)
    y = np.array([0] * 70 + [1] * 20 + [2] * 10)  # majority class: 0.70
    test_acc = {"a": [0.90, 0.91, 0.89, 0.92, 0.90], "b": [0.89, 0.91, 0.90, 0.90, 0.91],
                "c": [0.80, 0.82, 0.79, 0.81, 0.80], "d": [0.60, 0.62, 0.61, 0.63, 0.60]}
    val = {"a": 0.95, "b": 0.93, "c": 0.85, "d": 0.80}
    for opt, accs in test_acc.items():
        for s, acc in enumerate(accs):
            cid = f"{opt}-{s}"
            _cell(root, cid, opt, 0.1, s, val=val[opt] + 0.001 * s, test=None)
            pred = y.copy()
            wrong = rng.choice(len(y), int(round((1 - acc) * len(y))), replace=False)
            pred[wrong] = (y[wrong] + 1) % 3
            probs = np.eye(3)[pred] * 0.8 + 0.2 / 3
            write_predictions(root / cid, {"probs": probs, "target": y})
    _cell(root, "e-0", "e", 0.1, 0, val=None, test=None, status="error")  # a value with no finished cell
    table = T.cell_table(T.load(root))
    (v,) = S.verdicts(table)
    assert [e.value for e in v.entries] == ["a", "b", "c", "d"]
    best = np.array(test_acc["a"])
    ps = [stats.ttest_rel(best, test_acc[k]).pvalue for k in "bcd"]
    order = np.argsort(ps)
    holm = np.empty(3)
    holm[order] = np.minimum(1, np.maximum.accumulate(np.array(ps)[order] * (3 - np.arange(3))))
    assert v.holm == pytest.approx(list(holm))
    assert v.tied == [True, *(bool(h >= 0.05) for h in holm)] == [True, True, False, False]
    assert [v.separated(i) for i in (1, 2, 3)] == ["tied", "worse", "worse"]
    for k, imp in zip("bcd", v.improvement):
        d = best - np.array(test_acc[k])
        assert imp.p == pytest.approx(np.mean((d > 0) + 0.5 * (d == 0)))
    assert S.missing_values(table, v) == ["e"]
    (flag,) = S.no_better_than_trivial(table, v)
    assert flag.entry.value == "d" and flag.below == 5 and flag.baseline == pytest.approx(0.70)

    rep = build_report(root, tmp_path / "report")
    readme = (rep.out_dir / "README.md").read_text()
    verdict = readme[readme.index("## Verdict"):readme.index("### Caveats")]
    assert "**No better than trivial** on mlp-digits: `optimizer` = **d**, 5 of 5 seed(s)" in verdict
    assert "**Missing** on mlp-digits: `optimizer` = **e**" in verdict
    assert verdict.index("**No better than trivial**") < verdict.index("| problem |")  # flagged at the top
    assert "tied for best with **b**" in verdict and "it beats c" in verdict and "beats b" not in verdict
    csv = pd.read_csv(rep.out_dir / "verdict.csv").set_index("value")
    assert list(csv.tied_for_best) == [True, True, False, False]
    assert csv.loc["d", "seeds_no_better_than_trivial"] == 5 and csv.loc["a", "seeds_no_better_than_trivial"] == 0
    assert csv.loc["c", "p_vs_best_holm"] == pytest.approx(v.holm[1])
    assert csv.loc["b", "p_improvement"] == pytest.approx(v.improvement[0].p)


def test_holm_adjustment_by_hand():
    assert S.holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert S.holm_adjust([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    got = S.holm_adjust([0.02, math.nan, 0.001])
    assert got[0] == pytest.approx(0.02) and math.isnan(got[1]) and got[2] == pytest.approx(0.002)
    assert S.holm_adjust([]) == []


# ------------------------------------------------------------------------------------------
# Metrics from predictions equal scikit-learn
# ------------------------------------------------------------------------------------------


def _sk_multiclass(probs: np.ndarray, y: np.ndarray) -> dict[str, float]:
    n = probs.shape[1]
    pred = probs.argmax(1)
    onehot = np.eye(n, dtype=int)[y]
    return {"acc": M.accuracy_score(y, pred),
            "precision": M.precision_score(y, pred, average="macro", labels=list(range(n)), zero_division=0),
            "recall": M.recall_score(y, pred, average="macro", labels=list(range(n)), zero_division=0),
            "f1": M.f1_score(y, pred, average="macro", labels=list(range(n)), zero_division=0),
            "auroc": M.roc_auc_score(y, probs, multi_class="ovr", average="macro"),
            "ap": M.average_precision_score(onehot, probs, average="macro")}


@pytest.mark.parametrize("ties", [False, True])
def test_multiclass_metrics_equal_sklearn(ties: bool):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 5, 300)
    logits = rng.normal(size=(300, 5)) + np.eye(5)[y] * 1.5
    if ties:  # rows drawn from 12 distinct vectors: many equal scores in every class column
        logits = logits[rng.integers(0, 12, 300)]
    probs = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
    got = C.classification_metrics(probs, y)
    p64 = probs.astype(np.float64)
    ref = _sk_multiclass(p64 / p64.sum(1, keepdims=True), y)  # sklearn insists on rows summing to 1 (float32 rounding)
    for k, v in ref.items():
        assert got[k] == pytest.approx(v, abs=1e-9), k
    p, r, f, s = M.precision_recall_fscore_support(y, probs.argmax(1), labels=list(range(5)), zero_division=0)
    np.testing.assert_allclose(got["precision_per_class"], p, atol=1e-12)
    np.testing.assert_allclose(got["f1_per_class"], f, atol=1e-12)
    assert got["support_per_class"] == s.tolist()
    assert got["confusion_matrix"] == M.confusion_matrix(y, probs.argmax(1), labels=list(range(5))).tolist()


def test_binary_metrics_equal_sklearn_and_unpredicted_class():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    probs = np.clip(0.35 * y + rng.uniform(0, 0.65, 200), 0, 1).round(3)
    got = C.classification_metrics(probs, y)
    pred = (probs >= 0.5).astype(int)
    assert got["precision"] == pytest.approx(M.precision_score(y, pred), abs=1e-12)
    assert got["recall"] == pytest.approx(M.recall_score(y, pred), abs=1e-12)
    assert got["f1"] == pytest.approx(M.f1_score(y, pred), abs=1e-12)
    assert got["auroc"] == pytest.approx(M.roc_auc_score(y, probs), abs=1e-12)
    assert got["ap"] == pytest.approx(M.average_precision_score(y, probs), abs=1e-12)
    never = C.classification_metrics(np.full(50, 0.2), np.r_[np.zeros(25), np.ones(25)].astype(int))
    assert never["precision"] == 0.0 and never["recall"] == 0.0 and never["auroc"] == 0.5


def test_curves_equal_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 150).astype(bool)
    s = np.round(rng.uniform(size=150) + 0.3 * y, 2)
    fpr, tpr, thr = C.roc_curve(y, s)
    f2, t2, th2 = M.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, f2)
    np.testing.assert_allclose(tpr, t2)
    np.testing.assert_allclose(thr[1:], th2[1:])
    p, r, _ = C.pr_curve(y, s)
    p2, r2, _ = M.precision_recall_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(p, p2)
    np.testing.assert_allclose(r, r2)


def test_regression_metrics_equal_sklearn():
    rng = np.random.default_rng(2)
    y = rng.normal(150, 70, 90)
    pred = y + rng.normal(0, 40, 90)
    got = C.regression_metrics(pred, y)
    assert got["rmse"] == pytest.approx(math.sqrt(M.mean_squared_error(y, pred)), abs=1e-9)
    assert got["mae"] == pytest.approx(M.mean_absolute_error(y, pred), abs=1e-9)
    assert got["r2"] == pytest.approx(M.r2_score(y, pred), abs=1e-12)


# ------------------------------------------------------------------------------------------
# Reading a store
# ------------------------------------------------------------------------------------------


def test_load_store_errors_name_the_folder(tmp_path: Path):
    with pytest.raises(DataError, match="does not exist"):
        T.load(tmp_path / "nope")
    (tmp_path / "runs" / "optimizers").mkdir(parents=True)
    (tmp_path / "runs" / "optimizers" / "study.json").write_text("{}")
    with pytest.raises(DataError, match="optimizers"):  # a runs root: suggests the study inside
        T.load(tmp_path / "runs")


def test_every_metric_the_report_names_is_in_the_catalogue():
    from zoo import metrics
    from zoo.report import detail

    named = {m for ms in T.PRIMARY_METRICS.values() for m in ms} | set(detail.CLASSIFICATION_COLUMNS)
    named |= {m for ms in detail.FAMILY_METRICS.values() for m in ms}
    assert {m for m in named if not metrics.is_known(m)} == set()
    assert T.mode("val_loss") == "min" and T.mode("test_bits_per_char") == "min" and T.mode("auroc") == "max"
