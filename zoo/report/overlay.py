"""Figures that compare the scientific values on shared axes, one colour per value (the report's
value -> colour mapping): the macro-averaged ROC and precision–recall curves of each value, and
learning curves as a mean with a band over seeds. Drawn as zoo/report/figures.py draws (Agg,
object API); the numbers come from zoo/report/curves.py and zoo/report/stats.py."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from zoo import metrics as MC
from zoo.report import stats as S
from zoo.report.figures import Curve, _short, color


@dataclass
class Overlay:
    """One value's averaged curve: its legend label, colour index, the curve and its area."""

    label: str
    group: int
    x: np.ndarray
    y: np.ndarray
    score: float
    n: int = 1
    """How many cells (seeds) the curve averages."""


def _one_axes(w: float = 5.2, h: float = 4.2):
    fig = Figure(figsize=(w, h), layout="constrained")
    return fig, fig.subplots()


def compare_roc(series: Sequence[Overlay], title: str, *, macro: bool = True) -> Figure:
    """The macro-averaged ROC curve of each value on one pair of axes, its macro AUROC in the legend."""
    fig, ax = _one_axes()
    ax.plot([0, 1], [0, 1], ls=":", color="#999999", lw=0.8, label="chance")
    for s in sorted(series, key=lambda s: -s.score if math.isfinite(s.score) else math.inf):
        ax.plot(s.x, s.y, color=color(s.group), lw=1.6, label=f"{_short(s.label, 28)}: {s.score:.4f}")
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), xlabel="false positive rate", ylabel="true positive rate")
    ax.set_title(_short(title, 70))
    ax.legend(loc="lower right", title=f"{'macro ' if macro else ''}AUROC (mean over seeds)", title_fontsize=7)
    return fig


def compare_pr(series: Sequence[Overlay], title: str, positive_rate: float | None = None, *,
               macro: bool = True) -> Figure:
    """The macro-averaged precision–recall curve of each value on one pair of axes, macro AP in the
    legend; ``positive_rate`` (binary problems) is a random classifier's precision (dotted)."""
    fig, ax = _one_axes()
    if positive_rate is not None and math.isfinite(positive_rate):
        ax.axhline(positive_rate, ls=":", color="#999999", lw=0.8, label="chance")
    for s in sorted(series, key=lambda s: -s.score if math.isfinite(s.score) else math.inf):
        ax.step(s.x, s.y, where="post", color=color(s.group), lw=1.6, label=f"{_short(s.label, 28)}: {s.score:.4f}")
    ax.set(xlim=(-0.01, 1.01), ylim=(0, 1.02), xlabel="recall", ylabel="precision")
    ax.set_title(_short(title, 70))
    ax.legend(loc="lower left", title=f"{'macro ' if macro else ''}AP (mean over seeds)", title_fontsize=7)
    return fig


FRACTIONS = {"acc", "precision", "recall", "f1", "auroc", "ap", "exact", "bleu", "analogy_acc"}
"""Catalogue metrics without a unit that are fractions in [0, 1]."""


def axis_label(column: str, kind: str | None = None, unit: str | None = None) -> str:
    """``val_loss`` -> ``validation loss (nats/char)``: the name with its unit from zoo/metrics.py's
    catalogue, made exact for the task ``kind`` (the loss is nats per character for a language
    model, per sample for classification, the squared target unit for regression); ``unit`` names
    the regression target's unit (``$100k``), else ``target unit``."""
    stage, _, base = column.partition("_")
    stages = {"val": "validation", "train": "train", "test": "test"}
    name = f"{stages[stage]} {base.replace('_', ' ')}" if stage in stages and base else column.replace("_", " ")
    metric = base if stage in stages else column
    if not MC.is_known(metric):
        return name
    u = MC.lookup(metric).unit
    target = unit or "target unit"
    if metric == "loss":
        u = {"language_model": "nats/char", "seq2seq": "nats/token", "multiclass": "nats/sample",
             "binary": "nats/sample", "regression": f"{target} squared"}.get(kind or "", "nats")
    elif u == "target unit":
        u = target
    elif not u and metric in FRACTIONS:
        u = "fraction"
    return f"{name} ({u})" if u else name


def unit_name(value: object) -> str | None:
    """A regression target's unit as a cell records it: ``100000.0`` (dollars per unit) -> ``$100k``."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, (int, float)) and value > 0:
        return f"${value / 1000:g}k" if value >= 1000 else f"${value:g}"
    return None


def band(ys: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(mean, low, high, kind) per step over the runs' curves (truncated to the shortest):
    the 95% t interval of the mean (stats.mean_ci) for ≥ 3 runs, min–max for 2, none for 1."""
    m = min(len(y) for y in ys)
    a = np.stack([np.asarray(y[:m], dtype=np.float64) for y in ys])
    mean = np.nanmean(a, 0) if m else np.array([])
    if len(ys) >= 3:
        cis = [S.mean_ci(a[:, j].tolist()) for j in range(m)]
        lo = np.array([c.low if math.isfinite(c.half) else c.mean for c in cis])
        hi = np.array([c.high if math.isfinite(c.half) else c.mean for c in cis])
        return mean, lo, hi, "95% t interval"
    if len(ys) == 2:
        return mean, np.nanmin(a, 0), np.nanmax(a, 0), "min–max"
    return mean, mean, mean, "one seed"


def learning_bands(curves: Sequence[Curve], metric: str | None, title: str, *, kind: str | None = None,
                   unit: str | None = None) -> Figure:
    """Train loss, validation loss and the key validation metric per epoch: per value the mean over
    its seeds (line) with a band (:func:`band`), one colour per value; diverged runs are drawn
    alone, dashed, ending in a red ×. Axis labels carry the catalogue's units."""
    cols = ["train_loss", "val_loss"] + ([metric] if metric and metric not in ("train_loss", "val_loss") else [])
    cols = [c for c in cols if any(c in cv.history.columns for cv in curves)]
    n = max(1, len(cols))
    fig = Figure(figsize=(3.8 * n, 3.4), layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(1, n)))
    kinds: set[str] = set()
    for ax, col in zip(axes, cols):
        groups: dict[tuple[str, int], list[tuple[np.ndarray, np.ndarray]]] = {}
        for cv in curves:
            h = cv.history
            if cv.diverged or col not in h.columns or "epoch" not in h.columns:
                continue
            ok = h[col].notna()
            groups.setdefault((cv.label, cv.group), []).append(
                (h.loc[ok, "epoch"].to_numpy(dtype=np.float64), h.loc[ok, col].to_numpy(dtype=np.float64)))
        finite = []
        for (label, g), runs in groups.items():
            runs = [r for r in runs if len(r[0])]
            if not runs:
                continue
            m = min(len(r[0]) for r in runs)
            x = runs[0][0][:m]
            mean, lo, hi, band_kind = band([r[1] for r in runs])
            kinds.add(band_kind)
            ax.plot(x, mean, color=color(g), lw=1.5, label=f"{_short(label, 24)} (n={len(runs)})",
                    marker="o" if m <= 3 else None, ms=3)
            if len(runs) > 1:
                ax.fill_between(x, lo, hi, color=color(g), alpha=0.18, lw=0)
            finite.append(np.r_[lo, hi][np.isfinite(np.r_[lo, hi])])
        top = None
        vals = np.concatenate(finite) if finite else np.array([])
        if len(vals):
            lo_v, hi_v = float(vals.min()), float(vals.max())
            pad = 0.08 * (hi_v - lo_v) if hi_v > lo_v else 0.05 * max(abs(hi_v), 1e-9)
            top = hi_v + 3 * pad
            ax.set_ylim(lo_v - pad, top)
        first = True
        for cv in curves:
            if not cv.diverged or col not in cv.history.columns:
                continue
            x = cv.history["epoch"].to_numpy(dtype=np.float64)
            y = cv.history[col].to_numpy(dtype=np.float64)
            ax.plot(x, np.minimum(y, top) if top is not None else y, color=color(cv.group), lw=0.8, ls="--")
            yv = float(y[-1]) if np.isfinite(y[-1]) else (top if top is not None else 0.0)
            ax.scatter([x[-1]], [min(yv, top) if top is not None else yv], marker="x", color="#d62728", s=40,
                       zorder=4, label="diverged" if first and ax is axes[0] else None)
            first = False
        ax.set(xlabel="epoch", ylabel=axis_label(col, kind, unit))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.ticklabel_format(axis="y", useOffset=False)
        x0, x1 = ax.get_xlim()
        if x1 - x0 < 1.5:  # a single epoch: room either side, whole-number ticks
            mid = round((x0 + x1) / 2)
            ax.set_xlim(mid - 1, mid + 1)
    if cols:
        axes[0].legend(loc="upper right", title="value: mean" + (f", band {' / '.join(sorted(kinds - {'one seed'}))}"
                                                                if kinds - {"one seed"} else ""), title_fontsize=7)
    fig.suptitle(_short(title, 110), fontsize=10)
    return fig
