"""Cost trade-offs of the scientific values: per problem, the test metric against training
throughput and against time to target with the non-dominated values marked; over several
problems, an AlgoPerf-style performance profile of time to target and its normalised area.

A value's point on a problem is its chosen configuration (the verdict's entry): the mean test
metric over its seeds, the mean throughput over its finished cells, and its time to target, the
median over its seeds with a seed that never reached the target counted as never (so a value
reaches it when most of its seeds do).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from zoo.report import document as D
from zoo.report import tables as T
from zoo.report.fmt import fmt

TAU_MAX = 10.0
"""The performance profile's largest ratio to the fastest value."""


# ---- the math


def non_dominated(points: np.ndarray, modes: Sequence[str]) -> np.ndarray:
    """Mask of the rows of ``points`` (n, d) that no other row dominates: at least as good in every
    objective (``modes[j]``: ``max`` or ``min``) and strictly better in one. Rows with a NaN are
    never on the front."""
    p = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
    sign = np.array([1.0 if m == "max" else -1.0 for m in modes])
    q = p * sign  # every objective to maximise
    ok = np.isfinite(q).all(1)
    ge = (q[:, None, :] >= q[None, :, :]).all(2)  # ge[i, j]: i at least as good as j everywhere
    gt = (q[:, None, :] > q[None, :, :]).any(2)
    dominated = ((ge & gt) & ok[:, None]).any(0)
    return ok & ~dominated


def ratios(times: np.ndarray) -> np.ndarray:
    """(problems, values) times to target -> each time over the problem's fastest (inf: never
    reached, or no value reached it on that problem)."""
    t = np.where(np.isfinite(times) & (times > 0), times, np.inf)
    best = t.min(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = t / best
    return np.where(np.isfinite(r), r, np.inf)


def profile(times: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """(values, len(taus)): for each value the fraction of problems on which its time to target is
    within tau × the fastest value's (Dolan & Moré's performance profile, as AlgoPerf scores)."""
    r = ratios(np.asarray(times, dtype=np.float64))
    return (r[:, :, None] <= np.asarray(taus)[None, None, :]).mean(0)


def profile_score(times: np.ndarray, tau_max: float = TAU_MAX) -> np.ndarray:
    """Per value, the area under its profile over log tau in [0, log tau_max], over log tau_max
    (1: fastest on every problem; 0: never within tau_max): exactly, each problem adds
    1 - log(r) / log(tau_max) for a ratio r ≤ tau_max."""
    r = ratios(np.asarray(times, dtype=np.float64))
    with np.errstate(divide="ignore"):
        part = np.where(r <= tau_max, 1 - np.log(r) / math.log(tau_max), 0.0)
    return part.mean(0)


# ---- the points


@dataclass
class Point:
    value: object
    group: int
    metric: float
    throughput: float
    time_to_target: float
    reached: str
    """Seeds that reached the target, ``k/n``."""


def points(sec, prob: str) -> list[Point]:
    """Each value's point on ``prob`` (see the module's docstring); ``sec`` is the report's Sections."""
    v = sec.verdict_of(prob)
    if v is None:
        return []
    groups, rows = sec.group_index(prob), sec.rows
    out = []
    for i, e in enumerate(v.entries):
        sub = rows[rows.cell_id.isin(e.cell_ids)]
        thr = pd.to_numeric(sub.get("fit_throughput", pd.Series(dtype=float)), errors="coerce").dropna()
        ttt = pd.to_numeric(sub.get("time_to_target", pd.Series(np.nan, index=sub.index)), errors="coerce")
        ttt_all = ttt.fillna(math.inf).to_numpy(dtype=np.float64)
        med = float(np.median(ttt_all)) if len(ttt_all) else math.nan
        out.append(Point(e.value, groups.get(T.canon(e.value), i), e.stats.mean if e.stats.n else math.nan,
                         float(thr.mean()) if len(thr) else math.nan, med, f"{int(ttt.notna().sum())}/{len(sub)}"))
    return out


# ---- figures


def _scale_x(ax, label: str, lo: float, hi: float) -> None:
    """A log x axis (ticks 1, 2, 5 per decade) when the values span a decade or more, else linear."""
    if lo > 0 and hi / lo >= 10:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        label += ", log scale"
    else:
        ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.set_xlabel(label)


def pareto(problems: Sequence[tuple[str, list[Point]]], metric: str, mode: str, axis: str) -> Figure:
    """One row per problem: the test metric against throughput, and against time to target where
    any value reached it; each value a dot in its colour, the non-dominated ones ringed and joined."""
    from zoo.report.figures import _short, color

    with_ttt = any(math.isfinite(p.time_to_target) for _, pts in problems for p in pts)
    ncols = 2 if with_ttt else 1
    fig = Figure(figsize=(4.4 * ncols, 3.4 * len(problems) + 0.4), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(problems), ncols, squeeze=False))
    handles: dict[str, object] = {}
    for row, (prob, pts) in zip(axes, problems):
        for ax, (attr, xmode, xlabel) in zip(row, (("throughput", "max", "throughput (samples/s"),
                                                   ("time_to_target", "min", "time to target (s"))):
            use = [p for p in pts if math.isfinite(getattr(p, attr)) and math.isfinite(p.metric)]
            for p in use:
                h = ax.scatter([getattr(p, attr)], [p.metric], color=color(p.group), s=30, zorder=3)
                handles.setdefault(_short(T.show(p.value), 20), h)
            if use:
                xy = np.array([[getattr(p, attr), p.metric] for p in use])
                front = xy[non_dominated(xy, (xmode, mode))]
                front = front[np.argsort(front[:, 0])]
                h = ax.scatter(front[:, 0], front[:, 1], s=110, facecolors="none", edgecolors="black", lw=1.0, zorder=4)
                handles.setdefault("non-dominated", h)
                ax.plot(front[:, 0], front[:, 1], color="black", lw=0.8, ls="--", zorder=2)
                lo, hi = float(xy[:, 0].min()), float(xy[:, 0].max())
                pad = 0.12 * (hi - lo) if hi > lo else 0.1 * abs(hi) or 1.0
                ax.set_xlim(lo - pad, hi + pad) if hi / max(lo, 1e-300) < 10 else ax.set_xlim(lo / 1.5, hi * 1.5)
                _scale_x(ax, xlabel, lo, hi)
                missing = [T.show(p.value) for p in pts if p not in use]
                ax.set_xlabel(ax.get_xlabel() + ")" + ("" if not missing else "\n" + _short(
                    ("not reached: " if attr == "time_to_target" else "no throughput: ") + ", ".join(missing), 48)))
            else:
                ax.text(0.5, 0.5, "no value reached the target" if attr == "time_to_target" else "no throughput",
                        ha="center", va="center", transform=ax.transAxes, color="#777777")
                ax.set_xlabel(xlabel + ")")
            ax.set_ylabel(f"test {metric} ({'higher' if mode == 'max' else 'lower'} is better)")
            ax.set_title(_short(prob, 40))
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=min(6, len(handles)),
                   title=axis, title_fontsize=7)
    return fig


def profile_figure(labels: Sequence[str], groups: Sequence[int], times: np.ndarray, n_problems: int) -> Figure:
    """The performance profile of time to target, tau from 1 to :data:`TAU_MAX` on a log axis."""
    from zoo.report.figures import _short, color

    taus = np.geomspace(1.0, TAU_MAX, 400)
    rho = profile(times, taus)
    score = profile_score(times)
    fig = Figure(figsize=(5.8, 3.8), layout="constrained")
    ax = fig.subplots()
    for j in np.argsort(-score, kind="stable"):
        ax.step(taus, rho[j], where="post", color=color(groups[j]), lw=1.6,
                label=f"{_short(labels[j], 22)}: {score[j]:.3f}")
    ax.set_xscale("log")
    ax.set_xticks([1, 2, 3, 5, 10], ["1", "2", "3", "5", "10"])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("τ: time to target within τ × the fastest value's (log scale)")
    ax.set(ylim=(-0.02, 1.02), ylabel=f"fraction of the {n_problems} problems")
    ax.set_title("Performance profile of time to target")
    ax.legend(loc="lower right", title="value: normalised area", title_fontsize=7)
    return fig


# ---- the report's blocks


def tradeoff_blocks(sec) -> list[D.Block]:
    """The cost trade-off figures and the performance-profile table of a report (``sec``: its Sections)."""
    problems = [(p, points(sec, p)) for p in sec.compared_problems]
    problems = [(p, pts) for p, pts in problems if len(pts) > 1 and any(math.isfinite(x.throughput) for x in pts)]
    if not problems or sec.axis is None:
        return []
    blocks: list[D.Block] = [D.Heading(3, "Cost trade-offs", "tradeoffs")]
    by_metric: dict[tuple[str, str], list[tuple[str, list[Point]]]] = {}
    for p, pts in problems:
        v = sec.verdict_of(p)
        by_metric.setdefault((v.metric, v.mode), []).append((p, pts))
    for (metric, mode), group in by_metric.items():
        blocks.append(sec.figure(pareto(group, metric, mode, sec.axis), f"tradeoff_{metric}",
                                 f"Test {metric} of each value of `{sec.axis}` (mean over the seeds of its chosen "
                                 "configuration) against its training throughput and, where the study has a target, "
                                 "its time to target (the median over seeds; a seed that never reached it counts as "
                                 "never). Ringed and joined: the non-dominated values (no other value is at least as "
                                 "good on both axes and better on one)."))
    values = list(dict.fromkeys(T.canon(x.value) for _, pts in problems for x in pts))
    shown = {T.canon(x.value): x for _, pts in problems for x in pts}
    times = np.full((len(problems), len(values)), np.inf)
    for i, (_, pts) in enumerate(problems):
        for x in pts:
            times[i, values.index(T.canon(x.value))] = x.time_to_target
    if len(problems) > 1 and np.isfinite(times).any():
        labels = [T.show(shown[k].value) for k in values]
        groups = [shown[k].group for k in values]
        blocks.append(sec.figure(profile_figure(labels, groups, times, len(problems)), "performance_profile",
                                 f"Performance profile of time to target over the {len(problems)} problems: for each "
                                 f"value, the fraction of problems on which its time is within τ × the fastest value's "
                                 f"(a problem it never reaches counts against it); τ from 1 to {TAU_MAX:g}."))
        score = profile_score(times)
        r = ratios(times)
        rows = [[labels[j], fmt(score[j], 3), f"{int((r[:, j] == 1).sum())}/{len(problems)}",
                 f"{int(np.isfinite(r[:, j]).sum())}/{len(problems)}"] for j in np.argsort(-score, kind="stable")]
        blocks.append(D.Table([sec.axis, "profile score", "fastest on", "reached on"], rows,
                              caption=f"Performance-profile score: the area under the profile over log τ in "
                                      f"[0, log {TAU_MAX:g}], normalised (1: fastest on every problem)"))
    return blocks
