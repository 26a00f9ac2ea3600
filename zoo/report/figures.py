"""The report's figures, drawn with matplotlib's object API on the Agg canvas (no pyplot
state, no display). Each function takes plain numbers from the store and returns a
``matplotlib.figure.Figure``; :func:`render` turns it into PNG bytes (written under figures/
and embedded once in index.html), and SVG bytes only when asked (``zoo report --svg``). Curves come from zoo/report/curves.py (the stored predictions),
never from a model.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from zoo.report import curves as C  # noqa: E402
from zoo.report import stats as S  # noqa: E402
from zoo.report import tables as T  # noqa: E402

DPI = 100
# Reproducible files: SVG ids and metadata do not change between runs of the same store.
matplotlib.rcParams.update({
    # Text stays text in SVG (smaller files, and 2-3x faster than outlining every glyph).
    "svg.hashsalt": "zoobench", "svg.fonttype": "none", "font.size": 9, "axes.titlesize": 9.5, "legend.fontsize": 7,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.25,
})
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def small_png(png: bytes) -> bytes:
    """A PNG re-encoded with a 256-colour palette (Pillow, median cut, no dithering): a third of
    matplotlib's RGBA file on the shipped reports' figures (6.5 MB -> 2.3 MB), which look the same
    (flat colours, anti-aliased lines)."""
    from PIL import Image

    im = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    im.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, format="PNG", optimize=True)
    return out.getvalue()


def render(fig: Figure, *, svg: bool = False) -> tuple[bytes, bytes | None]:
    """The figure as PNG bytes (:func:`small_png`), and as SVG bytes if ``svg`` (else None)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    if not svg:
        return small_png(buf.getvalue()), None
    out = io.BytesIO()
    fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    return small_png(buf.getvalue()), out.getvalue()


def grid(n: int, *, ncols: int = 3, w: float = 3.6, h: float = 3.0, sharey: bool = False):
    """A figure with ``n`` panels in rows of ``ncols``; extra panels are hidden."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    # Fixed margins instead of constrained layout: the layout pass measured ~35% of the
    # drawing time (cProfile of a 108-cell report), and the panels have the same shape.
    fig_w, fig_h = w * ncols, h * nrows + 0.35
    fig = Figure(figsize=(fig_w, fig_h))
    fig.subplots_adjust(left=0.75 / fig_w, right=1 - 0.15 / fig_w, bottom=0.62 / fig_h,
                        top=1 - 0.6 / fig_h, wspace=0.34 * 3.6 / w, hspace=0.95 / (h - 0.8))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=sharey).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, list(axes[:n])


def thin(x: np.ndarray, y: np.ndarray, max_points: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    """A curve with at most ``max_points`` points for drawing: interior points on straight
    segments are dropped (as scikit-learn's ``drop_intermediate``), then every k-th point is
    kept. A 10 000-sample micro-averaged ROC curve has ~10^5 points; drawn whole, it makes
    multi-megabyte SVGs and slow pages, and looks the same."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) > 2:
        keep = np.r_[True, np.logical_or(np.diff(x, 2) != 0, np.diff(y, 2) != 0), True]
        x, y = x[keep], y[keep]
    if len(x) > max_points:
        idx = np.unique(np.r_[np.linspace(0, len(x) - 1, max_points).astype(int), len(x) - 1])
        x, y = x[idx], y[idx]
    return x, y


def _short(text: str, n: int = 38) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# ------------------------------------------------------------------------------------------
# Verdict: isolation plots (best over nuisance per scientific value)
# ------------------------------------------------------------------------------------------


ISOLATION_CAPTION = (
    "Isolation plot for {axis}: one panel per problem, its values in rank order (best on validation first, in bold). "
    "For each value: the test metric of every seed of its chosen configuration (dots, one colour per value in every "
    "figure of this report), their mean ± 95% CI (black), the mean validation score that chose it (hollow diamond, "
    "drawn when it is the same metric) and the mean test metric of each other nuisance setting (grey). The y-range "
    "is robust (3 × IQR fences around the points): a point beyond it is a triangle on the edge, a whisker beyond it "
    "ends in an arrow on the edge, and diverged cells are a red × on the worse edge with their count.")


def robust_limits(points: Sequence[float], whiskers: Sequence[tuple[float, float]] = ()) -> tuple[float, float]:
    """A y-range for the points that an outlier (a seed at chance, a diverged value) does not
    flatten: the points within 3 × IQR of the quartiles, and the whiskers that end inside those
    fences, padded by 8%."""
    pts = np.asarray([p for p in points if math.isfinite(p)], dtype=np.float64)
    if not len(pts):
        return 0.0, 1.0
    q1, q3 = np.percentile(pts, [25, 75])
    iqr = q3 - q1
    lo_f, hi_f = (q1 - 3 * iqr, q3 + 3 * iqr) if iqr > 0 else (-math.inf, math.inf)
    inside = pts[(pts >= lo_f) & (pts <= hi_f)]
    lo, hi = float(inside.min()), float(inside.max())
    for a, b in whiskers:
        if math.isfinite(a) and a >= lo_f:
            lo = min(lo, a)
        if math.isfinite(b) and b <= hi_f:
            hi = max(hi, b)
    pad = 0.08 * (hi - lo) if hi > lo else 0.01 * max(abs(hi), 1e-9)
    return lo - pad, hi + pad


def isolation(verdicts: Sequence[S.Verdict], axis: str, colours: dict[str, int] | None = None) -> Figure:
    """One panel per problem, the values of ``axis`` in rank order (best on validation first):
    the test metric of every other nuisance configuration (grey), the chosen configuration's
    seeds (the value's colour, ``colours``: canonical value -> palette index), their mean ± 95%
    CI (black), and its mean validation score (hollow diamond), as the tuning playbook's
    isolation plots. Robust y-range (:func:`robust_limits`); what lies beyond it is drawn on the
    edge; constrained layout, so no label is clipped."""
    colours = colours or {}
    n = len(verdicts)
    ncols = max(1, min(3, n))
    nrows = math.ceil(n / ncols)
    wide = max((len(v.entries) for v in verdicts), default=1)
    fig = Figure(figsize=(max(3.8, 0.42 * wide + 1.4) * ncols, 3.3 * nrows + 0.6), layout="constrained")
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    handles: dict[str, Any] = {}
    for ax, v in zip(axes, verdicts):
        entries = v.entries
        col = [color(colours.get(T.canon(e.value), i)) for i, e in enumerate(entries)]
        same_metric = [e.select_metric.endswith(v.metric) and math.isfinite(e.select_score) for e in entries]
        pts = [y for e, same in zip(entries, same_metric)
               for y in (*e.test.values(), e.stats.mean, *(t for _, _, t in e.others), e.select_score if same else math.nan)]
        whiskers = [(e.stats.low, e.stats.high) for e in entries if e.stats.n and math.isfinite(e.stats.half)]
        lo, hi = robust_limits(pts, whiskers)

        def put(x: Any, ys: Sequence[float], **kw: Any) -> None:
            """Points inside the range as given; beyond it, triangles on the edge."""
            ys = np.asarray(ys, dtype=np.float64)
            xs = np.broadcast_to(np.asarray(x, dtype=np.float64), ys.shape)
            ok = np.isfinite(ys)
            inside = ok & (ys >= lo) & (ys <= hi)
            label = kw.pop("label", None)
            if inside.any():
                h = ax.scatter(xs[inside], ys[inside], **kw)
                if label:
                    handles.setdefault(label, h)
            for side, mask, marker in (("above", ok & (ys > hi), "^"), ("below", ok & (ys < lo), "v")):
                if mask.any():
                    kw2 = {k: val for k, val in kw.items() if k != "marker"}
                    h = ax.scatter(xs[mask], np.full(mask.sum(), hi if side == "above" else lo), marker=marker,
                                   clip_on=False, **kw2)
                    handles.setdefault("beyond the range (on the edge)", h)

        for x, e in enumerate(entries):
            other = [t for _, _, t in e.others if math.isfinite(t)]
            if other:
                put(x - 0.22, other, s=10, color="#b0b0b0", zorder=1, label="other nuisance settings (test mean)")
            seeds = list(e.test.values())
            if seeds:
                jitter = np.linspace(-0.08, 0.08, len(seeds)) if len(seeds) > 1 else np.zeros(1)
                put(x + jitter, seeds, s=14, color=col[x], alpha=0.8, zorder=2, label="test, one per seed")
            if e.stats.n:
                m = e.stats.mean
                a, b = (e.stats.low, e.stats.high) if math.isfinite(e.stats.half) else (m, m)
                ca, cb = max(a, lo), min(b, hi)
                if lo <= m <= hi:
                    h = ax.errorbar(x + 0.2, m, yerr=[[m - ca], [cb - m]], fmt="o", color="black", ms=4, capsize=3,
                                    zorder=3)
                    handles.setdefault("test mean ± 95% CI", h)
                else:
                    put(x + 0.2, [m], s=16, color="black", zorder=3)
                for end, clipped, marker in ((a, a < lo, "v"), (b, b > hi, "^")):
                    if clipped:
                        ax.vlines(x + 0.2, max(min(m, hi), lo), lo if marker == "v" else hi, color="black", lw=1, zorder=3)
                        ax.scatter([x + 0.2], [lo if marker == "v" else hi], marker=marker, s=14, color="black",
                                   clip_on=False, zorder=3)
            if same_metric[x]:
                put(x + 0.2, [e.select_score], marker="D", facecolors="none", edgecolors=col[x], s=26, zorder=3,
                    label="validation score that chose it (same metric)")
            if e.n_diverged:
                edge = lo if v.mode == "max" else hi
                h = ax.scatter([x], [edge], marker="x", color="#d62728", s=40, clip_on=False, zorder=4)
                handles.setdefault("diverged cells (count)", h)
                ax.annotate(str(e.n_diverged), (x, edge), xytext=(4, 3 if v.mode == "max" else -9),
                            textcoords="offset points", fontsize=7, color="#d62728", annotation_clip=False)
        ax.set_ylim(lo, hi)
        ax.set_xlim(-0.6, len(entries) - 0.4)
        slant = len(entries) > 4
        ax.set_xticks(range(len(entries)), [_short(T.show(e.value), 12) for e in entries],
                      rotation=40 if slant else 0, ha="right" if slant else "center")
        if entries:
            ax.get_xticklabels()[0].set_fontweight("bold")
        ax.set_title(_short(v.problem, 40))
        ax.set_xlabel(f"{axis} (rank order)")
        ax.set_ylabel(f"test {v.metric} ({'higher' if v.mode == 'max' else 'lower'} is better)")
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=min(3, len(handles)))
    fig.suptitle(f"{axis}: best over nuisance per value (isolation plot)", fontsize=10)
    return fig


# ------------------------------------------------------------------------------------------
# Classification: ROC, precision-recall, confusion matrices
# ------------------------------------------------------------------------------------------


@dataclass
class Panel:
    """One representative cell: its label and stored predictions."""

    label: str
    target: np.ndarray
    probs: np.ndarray | None = None
    pred: np.ndarray | None = None
    threshold: float = 0.5
    group: int = -1
    """Colour index of the panel's value (-1: by panel position)."""


def _class_label(names: Sequence[str] | None, c: int) -> str:
    return str(names[c]) if names is not None and c < len(names) else str(c)


def roc(panels: Sequence[Panel], class_names: Sequence[str] | None = None) -> Figure:
    """ROC curves per class, micro- and macro-averaged, AUROC in the legend; binary problems
    show one curve with the operating point of the decision threshold."""
    fig, axes = grid(len(panels), ncols=3, w=3.7, h=3.5)
    for ax, p in zip(axes, panels):
        probs, y = np.asarray(p.probs, dtype=np.float64), np.asarray(p.target).astype(int)
        ax.plot([0, 1], [0, 1], ls=":", color="#999999", lw=0.8)
        if probs.ndim == 1:
            fpr, tpr, _ = C.roc_curve(y == 1, probs)
            ax.plot(*thin(fpr, tpr), color=color(0), lw=1.6, label=f"AUROC = {C.auroc(y == 1, probs):.4f}")
            pred = probs >= p.threshold
            op_fpr = (pred & (y == 0)).sum() / max(1, (y == 0).sum())
            op_tpr = (pred & (y == 1)).sum() / max(1, (y == 1).sum())
            ax.scatter([op_fpr], [op_tpr], color="black", zorder=3, s=18, label=f"threshold {p.threshold:g}")
        else:
            n = probs.shape[1]
            grid_fpr = np.linspace(0, 1, 201)
            tprs, aucs = [], []
            for c in range(n):
                if not (0 < (y == c).sum() < len(y)):
                    continue
                fpr, tpr, _ = C.roc_curve(y == c, probs[:, c])
                a = C.auroc(y == c, probs[:, c])
                aucs.append(a)
                tprs.append(np.interp(grid_fpr, fpr, tpr))
                ax.plot(*thin(fpr, tpr, 400), lw=0.7, alpha=0.55, color=color(c),
                        label=f"{_short(_class_label(class_names, c), 12)}: {a:.3f}" if n <= 12 else None)
            onehot = np.eye(n, dtype=bool)[y]
            fpr, tpr, _ = C.roc_curve(onehot.ravel(), probs.ravel())
            ax.plot(*thin(fpr, tpr), color="black", lw=1.6, label=f"micro-avg: {C.auroc(onehot.ravel(), probs.ravel()):.4f}")
            if tprs:
                ax.plot(grid_fpr, np.mean(tprs, 0), color="black", ls="--", lw=1.4,
                        label=f"macro-avg: {np.mean(aucs):.4f}")
        ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), xlabel="false positive rate", ylabel="true positive rate")
        ax.set_title(_short(p.label, 46))
        ax.legend(loc="lower right", ncol=2 if probs.ndim == 2 and probs.shape[1] > 6 else 1,
                  title="AUROC" if probs.ndim == 2 else None, title_fontsize=7)
    return fig


def pr(panels: Sequence[Panel], class_names: Sequence[str] | None = None) -> Figure:
    """Precision–recall curves per class and micro-averaged, AP in the legend; binary problems
    show the operating point and the positive rate (a random classifier's precision)."""
    fig, axes = grid(len(panels), ncols=3, w=3.7, h=3.5)
    for ax, p in zip(axes, panels):
        probs, y = np.asarray(p.probs, dtype=np.float64), np.asarray(p.target).astype(int)
        if probs.ndim == 1:
            prec, rec, _ = C.pr_curve(y == 1, probs)
            ax.step(*thin(rec, prec), where="post", color=color(0), lw=1.6, label=f"AP = {C.average_precision(y == 1, probs):.4f}")
            pred = probs >= p.threshold
            tp = (pred & (y == 1)).sum()
            op_p, op_r = tp / max(1, pred.sum()), tp / max(1, (y == 1).sum())
            ax.scatter([op_r], [op_p], color="black", zorder=3, s=18, label=f"threshold {p.threshold:g}")
            ax.axhline((y == 1).mean(), ls=":", color="#999999", lw=0.8)
        else:
            n = probs.shape[1]
            aps = []
            for c in range(n):
                if not (y == c).any():
                    continue
                prec, rec, _ = C.pr_curve(y == c, probs[:, c])
                a = C.average_precision(y == c, probs[:, c])
                aps.append(a)
                ax.step(*thin(rec, prec, 400), where="post", lw=0.7, alpha=0.55, color=color(c),
                        label=f"{_short(_class_label(class_names, c), 12)}: {a:.3f}" if n <= 12 else None)
            onehot = np.eye(n, dtype=bool)[y]
            prec, rec, _ = C.pr_curve(onehot.ravel(), probs.ravel())
            ax.step(*thin(rec, prec), where="post", color="black", lw=1.6,
                    label=f"micro-avg: {C.average_precision(onehot.ravel(), probs.ravel()):.4f}")
            ax.plot([], [], " ", label=f"macro AP: {np.mean(aps):.4f}")
        ax.set(xlim=(-0.01, 1.01), ylim=(0, 1.02), xlabel="recall", ylabel="precision")
        ax.set_title(_short(p.label, 46))
        ax.legend(loc="lower left", ncol=2 if probs.ndim == 2 and probs.shape[1] > 6 else 1,
                  title="AP" if probs.ndim == 2 else None, title_fontsize=7)
    return fig


def confusion(panels: Sequence[Panel], class_names: Sequence[str] | None = None) -> Figure:
    """Confusion matrices normalised by the true class (rows sum to 1)."""
    n = int(np.asarray(panels[0].probs).shape[1]) if np.asarray(panels[0].probs).ndim == 2 else 2
    size = 3.2 if n <= 10 else 4.2
    fig, axes = grid(len(panels), ncols=3, w=size, h=size)
    for ax, p in zip(axes, panels):
        y = np.asarray(p.target).astype(int)
        pred = C.hard_predictions(p.probs, p.threshold)
        cm = C.confusion(y, pred, n).astype(np.float64)
        norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        ax.grid(False)
        labels = [_short(_class_label(class_names, c), 8) for c in range(n)]
        ax.set_xticks(range(n), labels, rotation=90 if n > 6 else 0, fontsize=7)
        ax.set_yticks(range(n), labels, fontsize=7)
        if n <= 12:
            for i in range(n):
                for j in range(n):
                    if cm[i].sum() and (norm[i, j] >= 0.005 or i == j):
                        ax.text(j, i, f"{norm[i, j]:.2f}".lstrip("0") if norm[i, j] < 1 else "1",
                                ha="center", va="center", fontsize=6 if n > 6 else 8,
                                color="white" if norm[i, j] > 0.6 else "black")
        ax.set(xlabel="predicted", ylabel="true")
        ax.set_title(_short(p.label, 40))
    return fig


def regression_scatter(panels: Sequence[Panel]) -> Figure:
    """Predicted against true values; the diagonal is a perfect prediction."""
    fig, axes = grid(len(panels), ncols=3, w=3.4, h=3.2)
    for i, (ax, p) in enumerate(zip(axes, panels)):
        pred = np.asarray(p.pred, dtype=np.float64).reshape(len(p.target), -1)[:, 0]
        y = np.asarray(p.target, dtype=np.float64).reshape(len(p.target), -1)[:, 0]
        ax.scatter(y, pred, s=8, alpha=0.6, color=color(p.group if p.group >= 0 else i))
        lo, hi = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
        ax.plot([lo, hi], [lo, hi], ls=":", color="black", lw=0.9)
        ax.set(xlabel="true", ylabel="predicted")
        ax.set_title(_short(p.label, 40))
    return fig


# ------------------------------------------------------------------------------------------
# Training dynamics
# ------------------------------------------------------------------------------------------


@dataclass
class Curve:
    """One cell's history for the learning-curve figure (``overlay.learning_bands``)."""

    label: str
    """Legend label (the scientific value); curves with the same label share a colour."""
    group: int
    history: Any  # pandas DataFrame
    diverged: bool = False


def lr_range(series: Sequence[tuple[str, int, dict[str, Any]]], title: str) -> Figure:
    """LR range tests: loss against learning rate (log scale), the chosen rate dashed."""
    fig, axes = grid(1, ncols=1, w=6.0, h=3.4)
    ax = axes[0]
    all_losses = []
    for label, group, d in series:
        lrs = np.asarray(d.get("lrs", []), dtype=np.float64)
        losses = np.asarray(d.get("losses", []), dtype=np.float64)
        m = min(len(lrs), len(losses))
        if not m:
            continue
        ax.plot(lrs[:m], losses[:m], color=color(group), lw=1.2, label=label)
        all_losses.append(losses[:m][np.isfinite(losses[:m])])
        chosen = d.get("chosen_lr")
        if isinstance(chosen, (int, float)) and chosen > 0:
            ax.axvline(float(chosen), color=color(group), ls="--", lw=0.9)
    ax.set_xscale("log")
    # Plain tick labels: the default log formatter typesets every label with mathtext (slow).
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    vals = np.concatenate(all_losses) if all_losses else np.array([])
    if len(vals):
        lo, hi = float(vals.min()), float(np.percentile(vals, 90))
        ax.set_ylim(lo - 0.05 * (hi - lo + 1e-9), hi + 0.3 * (hi - lo + 1e-9))
    ax.set(xlabel="learning rate", ylabel="training loss")
    ax.set_title(_short(title, 70))
    ax.legend(loc="upper left")
    return fig


# ------------------------------------------------------------------------------------------
# Cost
# ------------------------------------------------------------------------------------------


def throughput(rows: Sequence[tuple[str, Any, str, float, float]]) -> Figure:
    """Bars of training throughput (samples/s): one panel per problem, batch sizes along x,
    one bar per device × precision; error bars are the 95% CI over seeds.
    ``rows``: (problem, batch_size, device/precision, mean, half-width)."""
    problems = list(dict.fromkeys(r[0] for r in rows))
    fig, axes = grid(len(problems), ncols=2, w=4.6, h=3.0)
    for ax, prob in zip(axes, problems):
        sub = [r for r in rows if r[0] == prob]
        sizes = T.sort_values(dict.fromkeys(r[1] for r in sub))
        kinds = list(dict.fromkeys(r[2] for r in sub))
        width = 0.8 / max(1, len(kinds))
        for k, kind in enumerate(kinds):
            xs, ys, es = [], [], []
            for i, bs in enumerate(sizes):
                for r in sub:
                    if r[1] == bs and r[2] == kind:
                        xs.append(i - 0.4 + width * (k + 0.5))
                        ys.append(r[3])
                        es.append(r[4] if math.isfinite(r[4]) else 0.0)
            ax.bar(xs, ys, width=width * 0.95, yerr=es, capsize=2, color=color(k), label=kind)
        ax.set_xticks(range(len(sizes)), [T.show(s) for s in sizes])
        ax.set(xlabel="batch size", ylabel="samples / s")
        ax.set_title(_short(prob, 40))
        ax.legend(loc="upper left")
    return fig


# ------------------------------------------------------------------------------------------
# Transfer: data efficiency
# ------------------------------------------------------------------------------------------


def data_efficiency(series: Sequence[tuple[str, int, Sequence[tuple[float, S.MeanCI]]]], ylabel: str,
                    title: str) -> Figure:
    """The test metric against the number of labelled training examples (log x axis): one line per
    arm (the mean over seeds of its chosen configuration) with its 95% CI as a band, in the arm's
    colour. ``series``: (label, colour index, [(labelled examples, mean ± CI)])."""
    fig, axes = grid(1, ncols=1, w=6.4, h=3.8)
    ax = axes[0]
    xs_all: set[float] = set()
    for label, group, pts in series:
        pts = sorted((x, s) for x, s in pts if s.n)
        if not pts:
            continue
        x = np.array([p[0] for p in pts], dtype=np.float64)
        m = np.array([p[1].mean for p in pts], dtype=np.float64)
        half = np.array([p[1].half if math.isfinite(p[1].half) else 0.0 for p in pts], dtype=np.float64)
        xs_all.update(x.tolist())
        ax.plot(x, m, color=color(group), lw=1.6, marker="o", ms=4, label=label)
        if (half > 0).any():
            ax.fill_between(x, m - half, m + half, color=color(group), alpha=0.15, lw=0)
    ax.set_xscale("log")
    ticks = sorted(xs_all)
    ax.set_xticks(ticks, [f"{t:,.0f}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(xlabel="labelled training examples (log scale)", ylabel=ylabel)
    ax.set_title(_short(title, 80))
    if series:
        ax.legend(loc="lower right", title="arm (mean ± 95% CI over seeds)", title_fontsize=7)
    return fig
