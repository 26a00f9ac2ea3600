"""The comparative figures: macro-averaged ROC/PR curves of each value against scikit-learn,
learning-curve bands against numpy/scipy, one colour per value, nothing clipped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from scipy import stats as st
from sklearn import metrics as M
from sklearn.preprocessing import label_binarize

from zoo.report import curves as C
from zoo.report import figures as F
from zoo.report import overlay as O


def _probs(n=300, k=4, signal=1.0, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += signal
    p = np.exp(logits)
    return y, p / p.sum(1, keepdims=True)


def assert_unclipped(fig):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    r, box = canvas.get_renderer(), fig.bbox
    def ticks(ax):  # the tick labels inside the view (matplotlib keeps, undrawn, those beyond it)
        (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
        return [t for t in ax.get_xticklabels() if x0 <= t.get_position()[0] <= x1] + \
            [t for t in ax.get_yticklabels() if y0 <= t.get_position()[1] <= y1]

    texts = [t for ax in fig.axes if ax.get_visible() for t in (*ticks(ax), ax.xaxis.label, ax.yaxis.label, ax.title)]
    texts += [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
    for t in texts:
        e = t.get_window_extent(r)
        assert box.x0 - 1 <= e.x0 and e.x1 <= box.x1 + 1 and box.y0 - 1 <= e.y0 and e.y1 <= box.y1 + 1, t


def test_macro_roc_and_pr_equal_sklearn():
    y, p = _probs()
    grid, tpr, auc = C.macro_roc(y, p)
    assert auc == pytest.approx(M.roc_auc_score(y, p, multi_class="ovr", average="macro"), abs=1e-12)
    # the averaged curve is the mean of the per-class curves interpolated on the grid, and its area is the AUROC
    per = [np.interp(grid, *M.roc_curve(y == c, p[:, c], drop_intermediate=False)[:2]) for c in range(4)]
    np.testing.assert_allclose(tpr[1:], np.mean(per, 0)[1:])
    assert np.trapezoid(tpr, grid) == pytest.approx(auc, abs=2e-3)
    rgrid, prec, ap = C.macro_pr(y, p)
    assert ap == pytest.approx(M.average_precision_score(label_binarize(y, classes=range(4)), p, average="macro"),
                               abs=1e-12)
    assert np.sum(prec[1:] * np.diff(rgrid)) == pytest.approx(ap, abs=2e-3)  # the step curve's area is AP
    # binary: the curve of class 1
    yb = (y == 0).astype(int)
    _, _, auc_b = C.macro_roc(yb, p[:, 0])
    assert auc_b == pytest.approx(M.roc_auc_score(yb, p[:, 0]), abs=1e-12)
    assert C.macro_pr(yb, p[:, 0])[2] == pytest.approx(M.average_precision_score(yb, p[:, 0]), abs=1e-12)


def test_comparative_roc_and_pr_one_colour_per_value_and_unclipped():
    series = []
    for g, signal in ((2, 0.3), (0, 2.0)):
        y, p = _probs(signal=signal)
        x, t, a = C.macro_roc(y, p)
        series.append(O.Overlay(f"value {g}", g, x, t, a))
    fig = O.compare_roc(series, "p: ROC of each optimizer")
    ax = fig.axes[0]
    lines = [ln for ln in ax.get_lines() if ln.get_label().startswith("value")]
    # best first in the legend, in the value's own colour
    assert [ln.get_label().split(":")[0] for ln in lines] == ["value 0", "value 2"]
    assert [to_hex(ln.get_color()) for ln in lines] == [F.color(0), F.color(2)]
    assert lines[0].get_label().endswith(f"{series[1].score:.4f}")
    assert_unclipped(fig)
    assert_unclipped(O.compare_pr(series, "p: PR", positive_rate=0.3))


def test_band_is_the_t_interval_for_three_seeds_and_min_max_for_two():
    ys = [np.array([1.0, 0.8, 0.5]), np.array([1.2, 0.7, 0.45]), np.array([0.9, 0.75, 0.6, 0.1])]
    mean, lo, hi, kind = O.band(ys)
    a = np.stack([y[:3] for y in ys])
    half = st.t.ppf(0.975, 2) * a.std(0, ddof=1) / np.sqrt(3)
    np.testing.assert_allclose(mean, a.mean(0))
    np.testing.assert_allclose(hi - mean, half, rtol=1e-9)
    np.testing.assert_allclose(mean - lo, half, rtol=1e-9)
    assert kind == "95% t interval"
    mean, lo, hi, kind = O.band(ys[:2])
    np.testing.assert_allclose((lo, hi), (a[:2].min(0), a[:2].max(0)))
    assert kind == "min–max"


def test_learning_bands_one_line_per_value_with_units():
    curves = []
    for g, label in ((0, "adam"), (1, "sgd")):
        for seed in range(3):
            h = pd.DataFrame({"epoch": [0, 1, 2, 3], "train_loss": [1.0, 0.6, 0.4, 0.3 + 0.01 * seed + g],
                              "val_loss": [1.1, 0.7, 0.5, 0.45], "val_acc": [0.5, 0.7, 0.8, 0.85 - 0.1 * g]})
            curves.append(F.Curve(label, g, h))
    fig = O.learning_bands(curves, "val_acc", "p: learning curves", kind="language_model")
    axes = fig.axes
    assert [ax.yaxis.label.get_text() for ax in axes] == ["train loss (nats/char)", "validation loss (nats/char)",
                                                          "validation acc (fraction)"]
    lines = [ln for ln in axes[0].get_lines()]
    assert [to_hex(ln.get_color()) for ln in lines] == [F.color(0), F.color(1)]  # one line per value, not per seed
    np.testing.assert_allclose(lines[1].get_ydata(), [1.0, 0.6, 0.4, 1.31])
    assert_unclipped(fig)
    assert O.axis_label("test_rmse", "regression", O.unit_name(100_000.0)) == "test rmse ($100k)"
    assert O.axis_label("val_loss", "regression", "$100k") == "validation loss ($100k squared)"
