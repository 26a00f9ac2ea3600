"""Statistics over seeds and the verdicts of a study, by scipy.stats.

For each value of a scientific axis, the configuration of the other axes with the best
mean validation metric is chosen (:func:`best_over_nuisance`); its test metric is
reported as mean ± 95% confidence interval over seeds (Student's t, :func:`mean_ci`).
The values are ranked by that validation score (the test metric is never used to choose),
and the best is compared with every other value on the test metric by a paired t-test
over the seeds both finished (:func:`paired_test`), Holm-adjusted for how many were
compared, and by the probability of improvement over seeds with a bootstrap interval
(:func:`prob_improvement`). The values no test separates from the best are tied with it
(:attr:`Verdict.tied`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from zoo.record import DIVERGED, OK, PRUNED
from zoo.report.tables import Table, canon, check_metric, native, problem_metric, show, source_stages
from zoo.report.tables import isnan as _isnan
from zoo.report.tables import mode as metric_mode

ALPHA = 0.05
"""Significance level of the paired tests (two-sided)."""


@dataclass(frozen=True)
class MeanCI:
    """Mean and 95% confidence half-width over ``n`` seeds (``half`` is NaN for n < 2)."""

    mean: float
    half: float
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half

    @property
    def high(self) -> float:
        return self.mean + self.half


def mean_ci(values: Iterable[float], confidence: float = 0.95) -> MeanCI:
    """Mean ± t_{(1+c)/2, n-1} · s / √n (Student's t from ``scipy.stats.t``; s with n - 1 degrees of freedom).

    Non-finite values are dropped. n = 0 gives NaN; n = 1 gives the value and a NaN half-width.
    """
    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    n = len(x)
    if n == 0:
        return MeanCI(math.nan, math.nan, 0)
    if n == 1:
        return MeanCI(float(x[0]), math.nan, 1)
    mean = float(x.mean())
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * stats.sem(x))  # = t.interval's half-width, 0 for equal values
    return MeanCI(mean, half, n)


@dataclass(frozen=True)
class PairedTest:
    """A paired comparison of two settings over the seeds both finished."""

    n: int
    """Seeds shared by both settings (with a finite metric)."""
    mean_diff: float
    """Mean of (winner - runner-up) over the shared seeds, in the metric's unit."""
    pvalue: float
    method: str
    note: str = ""

    @property
    def testable(self) -> bool:
        return self.n >= 2 and math.isfinite(self.pvalue)

    @property
    def significant(self) -> bool | None:
        return bool(self.pvalue < ALPHA) if self.testable else None


PAIRED_METHOD = "paired t-test"
PAIRED_WHY = (
    "Seeds are paired: cells with the same seed share the data split and seed-dependent "
    "randomness, so the test runs on the per-seed differences (scipy.stats.ttest_rel, two-sided, "
    f"α = {ALPHA}). A t-test rather than the Wilcoxon signed-rank test because with the 3–5 seeds "
    "studies use, Wilcoxon cannot reach p < 0.05 at all (its smallest two-sided p with n = 5 is "
    "0.0625); the t-test assumes the differences are roughly normal. With fewer than 2 shared "
    "seeds the difference is reported as not testable."
)


@dataclass(frozen=True)
class Improvement:
    """P(A > B): the fraction of paired seeds on which A's test metric is better than B's
    (a tie counts one half), with a percentile bootstrap 95% interval over the seeds
    (Bouthillier et al. 2021, "Accounting for variance in machine learning benchmarks")."""

    n: int
    p: float
    low: float
    high: float


BOOTSTRAP_RESAMPLES = 9999
BOOTSTRAP_SEED = 0
"""The bootstrap's resamples and seed (fixed: the same store gives the same report)."""


def prob_improvement(a: dict[Any, float], b: dict[Any, float], mode: str) -> Improvement:
    """P(a > b) over the seeds both have (``mode``: ``max`` if higher is better), with the
    percentile bootstrap interval of ``scipy.stats.bootstrap`` (resampling seeds); one shared
    seed or the same outcome on every seed gives an interval of zero width."""
    shared = [s for s in a if s in b and np.isfinite(a[s]) and np.isfinite(b[s])]
    if not shared:
        return Improvement(0, math.nan, math.nan, math.nan)
    x = np.array([a[s] for s in shared], dtype=np.float64)
    y = np.array([b[s] for s in shared], dtype=np.float64)
    d = x - y if mode == "max" else y - x
    wins = np.where(d > 0, 1.0, np.where(d == 0, 0.5, 0.0))
    p = float(wins.mean())
    if len(wins) < 2 or np.all(wins == wins[0]):
        return Improvement(len(wins), p, p, p)
    res = stats.bootstrap((wins,), np.mean, n_resamples=BOOTSTRAP_RESAMPLES, method="percentile",
                          random_state=np.random.default_rng(BOOTSTRAP_SEED), vectorized=True)
    return Improvement(len(wins), p, float(res.confidence_interval.low), float(res.confidence_interval.high))


def holm_adjust(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of the winner-vs-others p-values (NaN = untestable, kept NaN).

    With k tests sorted by p, the i-th smallest (0-based) is multiplied by k - i, made
    non-decreasing along that order and capped at 1: the family-wise error stays at α
    however many values an axis compares.
    """
    finite = sorted((p, i) for i, p in enumerate(pvalues) if math.isfinite(p))
    k, out, running = len(finite), [math.nan] * len(pvalues), 0.0
    for rank, (p, i) in enumerate(finite):
        running = max(running, min(1.0, (k - rank) * p))
        out[i] = running
    return out


def paired_test(a: dict[Any, float], b: dict[Any, float]) -> PairedTest:
    """Paired t-test of ``a`` vs ``b`` (seed -> metric) over the seeds both have
    (``scipy.stats.ttest_rel``, two-sided); differences that are the same on every seed
    (zero variance: t is 0/0 or ±inf) give p = 1 (all zero) or p = 0."""
    shared = [s for s in a if s in b and np.isfinite(a[s]) and np.isfinite(b[s])]
    if len(shared) < 2:
        diff = float(np.mean([a[s] - b[s] for s in shared])) if shared else math.nan
        return PairedTest(len(shared), diff, math.nan, PAIRED_METHOD, f"{len(shared)} shared seed{'s' if len(shared) != 1 else ''}")
    x = np.array([a[s] for s in shared], dtype=np.float64)
    y = np.array([b[s] for s in shared], dtype=np.float64)
    d = x - y
    if np.allclose(d, d[0], rtol=0, atol=1e-12):  # zero variance: t is 0/0 or ±inf
        p = 1.0 if abs(d[0]) <= 1e-12 else 0.0
        note = "identical on every seed" if p == 1.0 else "the same difference on every seed"
        return PairedTest(len(shared), float(d.mean()), p, PAIRED_METHOD, note)
    p = float(stats.ttest_rel(x, y).pvalue)
    return PairedTest(len(d), float(d.mean()), min(1.0, p), PAIRED_METHOD)


# --------------------------------------------------------------------------------------
# Best over nuisance, verdicts
# --------------------------------------------------------------------------------------


@dataclass
class Entry:
    """One scientific value of one axis on one problem, at its best nuisance setting."""

    value: Any
    config: dict[str, Any]
    """The other axes' values of the chosen configuration (nuisance and other scientific axes)."""
    select_metric: str
    """Column the configuration was chosen by (``val_<metric>``, never a test metric unless no
    validation metric exists)."""
    select_score: float
    """Mean of ``select_metric`` over the configuration's finished seeds."""
    test: dict[Any, float]
    """Seed -> test metric of the chosen configuration."""
    stats: MeanCI
    n_configs: int
    """Configurations compared for this value (the nuisance search size)."""
    n_diverged: int
    """Diverged cells among all of this value's configurations."""
    cell_ids: list[str]
    """Finished cells of the chosen configuration (seed order)."""
    best_cell: str | None
    """The chosen configuration's cell with the best validation score (figures draw it)."""
    others: list[tuple[dict[str, Any], float, float]] = field(default_factory=list)
    """(config, mean select score, mean test metric) of the configurations not chosen."""


@dataclass
class Verdict:
    """Which value of ``axis`` wins on ``problem``, by how much, and whether it is significant."""

    problem: str
    axis: str | None
    metric: str
    mode: str
    entries: list[Entry]
    """Best first by the mean validation score of the chosen configuration (the test mean
    breaks ties); entries with no finished seed last."""
    versus: list[PairedTest | None] = field(default_factory=list)
    """The best against each later entry on the test metric (``entries[1:]``, same order);
    None where a side has no finished seed."""
    holm: list[float] = field(default_factory=list)
    """``versus`` p-values adjusted for the number of values compared (Holm), same order."""
    improvement: list[Improvement | None] = field(default_factory=list)
    """P(best > entry) over the paired seeds, for ``entries[1:]`` (same order)."""

    @property
    def comparison(self) -> PairedTest | None:
        """The best against the runner-up."""
        return self.versus[0] if self.versus else None

    @property
    def tied(self) -> list[bool]:
        """Per entry: in the "tied for best" group. The best is; so is every finished value
        that no test separates from it (Holm-adjusted p >= α, or fewer than 2 shared seeds)."""
        if self.winner is None:
            return [False] * len(self.entries)
        out = [True]
        for e, h in zip(self.entries[1:], self.holm):
            out.append(bool(e.stats.n) and not (math.isfinite(h) and h < ALPHA))
        return out

    def separated(self, i: int) -> str:
        """How entry ``i`` (> 0) stands against the best: ``worse`` or ``better`` (Holm p < α,
        by the sign of the paired difference), ``tied``, or ``missing`` (no finished seed)."""
        e = self.entries[i]
        if not e.stats.n or self.winner is None:
            return "missing"
        if self.tied[i]:
            return "tied"
        cmp = self.versus[i - 1]
        better = cmp is not None and ((cmp.mean_diff < 0) if self.mode == "max" else (cmp.mean_diff > 0))
        return "better" if better else "worse"

    @property
    def winner(self) -> Entry | None:
        return self.entries[0] if self.entries and self.entries[0].stats.n else None

    @property
    def runner_up(self) -> Entry | None:
        return self.entries[1] if len(self.entries) > 1 and self.entries[1].stats.n else None

    @property
    def margin(self) -> float:
        """How much better the winner's mean is than the runner-up's (positive = better)."""
        if self.winner is None or self.runner_up is None:
            return math.nan
        d = self.winner.stats.mean - self.runner_up.stats.mean
        return d if self.mode == "max" else -d


def best_over_nuisance(table: Table, problem: str, axis: str | None, metric: str, mode: str) -> list[Entry]:
    """For each value of ``axis`` (scientific) on ``problem``: the configuration of the other
    axes with the best mean validation ``metric`` over its seeds, and its test metric per seed.

    A configuration with a diverged seed ranks after every configuration without one (a
    setting that blows up is not the best one, whatever its other seeds score), and so does a
    search's trial that its pruner stopped on any seed (the pruner judged it poor; the seeds it
    let finish are not the trial's value). Cells that errored, ran out of memory or were skipped
    say nothing about the setting and are left out.
    """
    df = table.rows
    df = df[(df.problem == problem) & df.status.isin([OK, DIVERGED, PRUNED])]
    if df.empty:
        return []
    sci = [a for a in table.store.scientific_axes if a in df.columns]
    others = [a for a in sci if a != axis] + [a for a in table.store.nuisance_axes if a in df.columns]
    test_col = f"test_{metric}"
    select_col = f"val_{metric}"
    if select_col not in df or not df[select_col].notna().any():
        select_col = "val_loss" if "val_loss" in df and df["val_loss"].notna().any() else test_col
    select_mode = metric_mode(select_col) if select_col != f"val_{metric}" else mode

    def key_of(r: pd.Series, cols: Sequence[str]) -> str:
        return canon([r[c] if not _isnan(r[c]) else None for c in cols])

    df = df.assign(_value=[key_of(r, [axis]) if axis else "null" for _, r in df.iterrows()],
                   _config=[key_of(r, others) for _, r in df.iterrows()])
    entries = []
    for _, g in df.groupby("_value", sort=False):
        value = native(g.iloc[0][axis]) if axis else None
        configs = []
        if not g.status.isin([OK, DIVERGED]).any():  # only pruned cells: nothing finished for this value
            continue
        for config_key, h in g.groupby("_config", sort=False):
            ok = h[h.status == OK]
            sel = ok[select_col].dropna() if select_col in ok else pd.Series(dtype=float)
            score = float(sel.mean()) if len(sel) else math.nan
            tests = ok[test_col] if test_col in ok else pd.Series(np.nan, index=ok.index)
            configs.append((config_key, h, ok, score, float(tests.mean()) if tests.notna().any() else math.nan,
                            int((h.status == DIVERGED).sum())))

        def rank(cfg: tuple) -> tuple:
            _, h, _, score, _, n_div = cfg
            finite = math.isfinite(score)
            return (n_div > 0, bool((h.status == PRUNED).any()), not finite,
                    -score if (finite and select_mode == "max") else (score if finite else 0.0))

        configs.sort(key=rank)
        best_key, h, ok, score, _, _ = configs[0]
        try:
            ok = ok.sort_values("seed")
        except TypeError:  # mixed seed types: text order
            ok = ok.sort_values("seed", key=lambda s: s.map(show))
        test = {native(r.seed): float(r[test_col]) for _, r in ok.iterrows() if test_col in ok and not _isnan(r[test_col])}
        best_cell = None
        if len(ok):
            cands = ok[ok[select_col].notna()] if select_col in ok else ok
            if len(cands):
                best_cell = cands.loc[cands[select_col].idxmax() if select_mode == "max" else cands[select_col].idxmin()].cell_id
            else:
                best_cell = ok.iloc[0].cell_id
        config = {a: native(h.iloc[0][a]) for a in others}
        entries.append(Entry(
            value=value, config=config, select_metric=select_col, select_score=score, test=test,
            stats=mean_ci(test.values()), n_configs=len(configs), n_diverged=int((g.status == DIVERGED).sum()),
            cell_ids=list(ok.cell_id), best_cell=best_cell,
            others=[({a: native(c[1].iloc[0][a]) for a in others}, c[3], c[4]) for c in configs[1:]],
        ))
    sign = 1 if mode == "min" else -1

    def by_validation(e: Entry) -> tuple:
        finite = math.isfinite(e.select_score)
        s = 1 if select_mode == "min" else -1
        return (e.stats.n == 0, not finite, s * e.select_score if finite else 0.0,
                sign * e.stats.mean if e.stats.n else 0.0, show(e.value))

    entries.sort(key=by_validation)
    return entries


def verdicts(table: Table, metric: str | None = None) -> list[Verdict]:
    """One verdict per (problem, scientific axis); one per problem if the study has no
    scientific axis (its best configuration). Source stages (zoo/report/tables.py
    ``source_stages``) compare nothing and get none."""
    metric = check_metric(table, metric)
    out = []
    stages = source_stages(table.store)
    for problem in table.store.problems:
        if problem in stages:
            continue
        m, mode = problem_metric(table, problem, metric)
        axes = [a for a in table.store.scientific_axes if a in table.rows.columns] or [None]
        for axis in axes:
            entries = best_over_nuisance(table, problem, axis, m, mode)
            versus: list[PairedTest | None] = [
                paired_test(entries[0].test, e.test) if entries[0].stats.n and e.stats.n else None for e in entries[1:]
            ]
            holm = holm_adjust([c.pvalue if c is not None else math.nan for c in versus])
            better = [prob_improvement(entries[0].test, e.test, mode) if entries[0].stats.n and e.stats.n else None
                      for e in entries[1:]]
            out.append(Verdict(problem, axis, m, mode, entries, versus, holm, better))
    return out


# --------------------------------------------------------------------------------------
# Every value against a reference value (a transfer study's scratch arm)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Against:
    """One entry of a verdict against the reference entry, on the test metric over paired seeds."""

    entry: Entry
    diff: MeanCI
    """Per-seed (entry - reference) in the favourable direction (positive: the entry is better),
    mean ± 95% CI over the shared seeds."""
    test: PairedTest
    holm: float
    """``test``'s p-value, Holm-adjusted over the entries compared with the reference."""
    improvement: Improvement
    """P(entry > reference) over the shared seeds."""

    @property
    def standing(self) -> str:
        """``better`` / ``worse`` (Holm p < α, by the sign of the difference), ``same`` (testable,
        not significant), or ``untestable`` (fewer than 2 shared seeds)."""
        if not self.test.testable or not math.isfinite(self.holm):
            return "untestable"
        if self.holm >= ALPHA:
            return "same"
        return "better" if self.diff.mean > 0 else "worse"


def against(v: Verdict, reference: Any) -> list[Against]:
    """Every finished entry of ``v`` other than the one whose value is ``reference``, against it:
    :func:`paired_test` (Holm-adjusted over these comparisons, :func:`holm_adjust`), the mean
    per-seed difference with its t interval (:func:`mean_ci`) and :func:`prob_improvement`.
    Empty when the reference has no finished seed."""
    ref = next((e for e in v.entries if canon(e.value) == canon(reference) and e.stats.n), None)
    if ref is None:
        return []
    others = [e for e in v.entries if e is not ref and e.stats.n]
    tests = [paired_test(e.test, ref.test) for e in others]
    holm = holm_adjust([t.pvalue for t in tests])
    sign = 1.0 if v.mode == "max" else -1.0
    out = []
    for e, t, h in zip(others, tests, holm):
        shared = [s for s in e.test if s in ref.test and np.isfinite(e.test[s]) and np.isfinite(ref.test[s])]
        diff = mean_ci([sign * (e.test[s] - ref.test[s]) for s in shared])
        out.append(Against(e, diff, t, h, prob_improvement(e.test, ref.test, v.mode)))
    return out


@dataclass(frozen=True)
class CatchUp:
    """From which x (labelled examples) on no entry is significantly better than the reference."""

    at: float | None
    """The smallest x from which, at every x measured, every comparison is testable and none is
    significantly better; None if there is none."""
    why: str
    """``caught_up`` (``at`` is set), ``never_behind`` (``at`` is the smallest x: nothing was ever
    better), ``not_within`` (something is still better at the largest x), ``untestable`` (the
    largest x has an untestable comparison), ``nothing`` (no x)."""
    last_better: float | None = None
    """The largest x at which something is significantly better than the reference."""
    gap: float | None = None
    """The x just below ``at`` when its comparisons are untestable (so ``at`` may be an over-estimate)."""


def catch_up(points: Sequence[tuple[float, Sequence[Against]]]) -> CatchUp:
    """Where the reference catches up along ``points`` ((x, comparisons at x), any order): the
    smallest x from which no comparison at any larger x is significantly better than the reference,
    all of them testable."""
    pts = sorted(points, key=lambda p: p[0])
    if not pts:
        return CatchUp(None, "nothing")

    def state(cmps: Sequence[Against]) -> str:
        st = [a.standing for a in cmps]
        return "better" if "better" in st else "even" if st and "untestable" not in st else "untestable"

    states = [state(c) for _, c in pts]
    better = [x for (x, _), s in zip(pts, states) if s == "better"]
    last_better = better[-1] if better else None
    if states[-1] == "better":
        return CatchUp(None, "not_within", last_better)
    if states[-1] == "untestable":
        return CatchUp(None, "untestable", last_better)
    i = len(pts) - 1
    while i > 0 and states[i - 1] == "even":
        i -= 1
    if i == 0:
        return CatchUp(pts[0][0], "never_behind")
    gap = pts[i - 1][0] if states[i - 1] == "untestable" else None
    return CatchUp(pts[i][0], "caught_up", last_better, gap)


# --------------------------------------------------------------------------------------
# What the verdict flags first: missing values, results no better than a trivial predictor
# --------------------------------------------------------------------------------------


def missing_values(table: Table, v: Verdict) -> list[Any]:
    """Values of ``v.axis`` that the problem's cells plan (any status) but no finished cell has."""
    if v.axis is None or v.axis not in table.rows.columns:
        return []
    rows = table.rows[table.rows.problem == v.problem]
    have = {canon(e.value) for e in v.entries if e.stats.n}
    planned = {canon(native(x)): native(x) for x in rows[v.axis] if not _isnan(x)}
    return [x for k, x in planned.items() if k not in have]


@dataclass(frozen=True)
class Trivial:
    """A value whose seeds score no better than a predictor that ignores its input."""

    entry: Entry
    baseline: float
    """Mean over the entry's cells of the trivial predictor's test metric (same labels)."""
    below: int
    """Seeds no better than their trivial predictor."""
    n: int


def trivial_check(table: Table, v: Verdict) -> list[Trivial]:
    """Per entry of ``v`` with a trivial baseline (``trivial_<metric>`` of zoo/report/tables.py:
    majority class, mean predictor): its mean, and the seeds whose test metric is not better."""
    col, test = f"trivial_{v.metric}", f"test_{v.metric}"
    if col not in table.rows.columns or test not in table.rows.columns:
        return []
    df = table.rows.set_index("cell_id")
    out = []
    for e in v.entries:
        ids = [i for i in e.cell_ids if i in df.index and not _isnan(df.at[i, col]) and not _isnan(df.at[i, test])]
        if not ids:
            continue
        t, b = df.loc[ids, test].astype(float), df.loc[ids, col].astype(float)
        bad = int((t <= b).sum() if v.mode == "max" else (t >= b).sum())
        out.append(Trivial(e, float(b.mean()), bad, len(ids)))
    return out


def no_better_than_trivial(table: Table, v: Verdict) -> list[Trivial]:
    """The entries of :func:`trivial_check` with a seed no better than its trivial predictor."""
    return [t for t in trivial_check(table, v) if t.below]
