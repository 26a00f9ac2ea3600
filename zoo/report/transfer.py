"""The transfer section of a report, for studies with a ``transfer`` axis (zoo/bench/stages.py).

It leads with the verdict in words: per problem (its number of labelled training examples, the
data option ``labelled``), every transfer arm against ``scratch`` on the test metric over paired
seeds (mean difference ± 95% CI, Holm-adjusted paired t-test, P(arm > scratch) with its bootstrap
interval: zoo/report/stats.py ``against``), the tied-for-best group of the verdict, and the number of
labels from which scratch catches up (``stats.catch_up``). Then the data-efficiency figure, what each
arm costs (time to target or training seconds, trainable parameters), and the source stages, shown
as such: one line each, never as a problem of the verdict.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from zoo.report import document as D
from zoo.report import stats as S
from zoo.report import tables as T
from zoo.report.base import Sections
from zoo.report.fmt import fmt, fmt_ci, fmt_seconds
from zoo.report.verdict import fmt_improvement

AXIS = "transfer"
"""The scientific axis of a transfer study (zoo/bench/stages.py ``AXIS``; not imported: it loads torch)."""
REFERENCE = "scratch"
"""The arm every other one is compared with: a new model, trained on the labelled examples alone."""
VERSUS = {"better": "beats scratch", "worse": "beaten by scratch", "same": "no significant difference",
          "untestable": "not testable"}


def labels(n: float | None) -> str:
    return f"{n:,.0f} labels" if n is not None else "?"


def fmt_holm_p(a: S.Against) -> str:
    if not a.test.testable:
        return f"not testable ({a.test.note})" if a.test.note else "not testable"
    return ("Holm p < 0.001" if a.holm < 0.001 else f"Holm p = {a.holm:.3f}") + f", n={a.test.n}"


def fmt_diff(d: S.MeanCI) -> str:
    if not d.n:
        return "—"
    sign = "+" if d.mean >= 0 else "−"
    half = f" ± {abs(d.half):.4f}" if math.isfinite(d.half) else ""
    return f"{sign}{abs(d.mean):.4f}{half}"


class TransferSections(Sections):
    """The transfer section (nothing for a study without a ``transfer`` axis)."""

    def has_transfer(self) -> bool:
        return AXIS in self.sci

    def labelled(self, problem: str) -> float | None:
        n = T.data_options(self.store, problem).get("labelled")
        return float(n) if isinstance(n, (int, float)) and not isinstance(n, bool) else None

    def transfer_verdicts(self) -> list[tuple[S.Verdict, float | None, list[S.Against]]]:
        """(verdict of the transfer axis, labelled examples, arms against scratch), by label count."""
        out = []
        for v in self.verdicts:
            if v.axis == AXIS:
                out.append((v, self.labelled(v.problem), S.against(v, REFERENCE)))
        return sorted(out, key=lambda t: (t[1] is None, t[1] or 0.0))

    def where(self, v: S.Verdict, n: float | None) -> str:
        return f"at {labels(n)}" if n is not None else f"on {v.problem}"

    def transfer_section(self) -> list[D.Block]:
        if not self.has_transfer():
            return []
        blocks: list[D.Block] = [D.Heading(2, "Transfer", "transfer")]
        tv = self.transfer_verdicts()
        metric = next((v.metric for v, _, _ in tv), None)
        items = [self.transfer_sentence(v, n, cmps) for v, n, cmps in tv]
        lead = self.lead_sentence(tv)
        blocks.append(D.Para(" ".join(t for t in (lead, self.catch_up_sentence(tv)) if t)))
        if items:
            blocks.append(D.Bullets(items))
        blocks += self.source_blocks()
        if tv:
            blocks.append(self.transfer_table(tv))
            fig = self.efficiency_figure(tv, metric)
            if fig is not None:
                blocks.append(fig)
            blocks.append(self.arm_cost_table(tv))
        blocks.append(D.Para(
            f"How to read it: each arm is the configuration of `{AXIS}` with the best mean validation score over "
            "its nuisance settings (as in the verdict below); it is compared with **scratch** on the test metric "
            "over the seeds both finished: Δ is the mean per-seed difference (arm − scratch, positive = the arm is "
            "better) ± its 95% t interval, p the paired t-test (scipy.stats.ttest_rel) Holm-adjusted over the "
            f"arms compared on that problem, and \"beats\" is written only for Holm p < {S.ALPHA}. P(arm > "
            "scratch) is the share of paired seeds on which the arm scores better (a tie counts one half), with "
            "a percentile bootstrap 95% interval. Scratch **catches up** at the smallest label count from which "
            "no arm is significantly better than scratch at any label count measured (every comparison "
            "testable). The tied-for-best group is the verdict's: every arm against the best on validation, a "
            "different family of tests, so with marginal evidence an arm can beat scratch while scratch stays tied "
            "for best. "
            + S.PAIRED_WHY))
        return blocks

    # ---------------------------------------------------------------------------- the words
    def transfer_sentence(self, v: S.Verdict, n: float | None, cmps: list[S.Against]) -> str:
        head = f"**{labels(n)}** ({v.problem})" if n is not None else f"**{v.problem}**"
        if v.winner is None:
            return f"{head}: no finished cell."
        ref = next((e for e in v.entries if T.canon(e.value) == T.canon(REFERENCE) and e.stats.n), None)
        if ref is None:
            return f"{head}: scratch has no finished cell, so no arm can be compared with it."
        parts = []
        for a in cmps:
            arm = T.show(a.entry.value)
            stand = a.standing
            detail = (f"Δ {fmt_diff(a.diff)}; {fmt_holm_p(a)}; P({arm} > scratch) = {fmt_improvement(a.improvement)}")
            if stand == "better":
                parts.append(f"**{arm}** beats scratch by {fmt_diff(a.diff)} ({fmt_holm_p(a)}; "
                             f"P({arm} > scratch) = {fmt_improvement(a.improvement)})")
            elif stand == "worse":
                parts.append(f"scratch beats **{arm}** (Δ {fmt_diff(a.diff)}; {fmt_holm_p(a)})")
            elif stand == "same":
                parts.append(f"{arm}: no significant difference from scratch ({detail})")
        untestable = [a for a in cmps if a.standing == "untestable"]
        if untestable:
            ns = sorted({a.test.n for a in untestable})
            parts.append(f"not testable against scratch with {' or '.join(map(str, ns))} shared seed(s): "
                         + ", ".join(f"{T.show(a.entry.value)} Δ {fmt_diff(a.diff)}" for a in untestable))
        tied = [T.show(e.value) for e, t in zip(v.entries, v.tied) if t]
        best = f"best on validation: **{T.show(v.winner.value)}**" + (
            f", tied for best with {', '.join(x for x in tied[1:])}" if len(tied) > 1 else "")
        return (f"{head}: scratch scores test {v.metric} {fmt_ci(ref.stats)} (n={ref.stats.n}); "
                + "; ".join(parts) + f". {best[0].upper()}{best[1:]}.")

    def lead_sentence(self, tv: list[tuple[S.Verdict, float | None, list[S.Against]]]) -> str:
        """One clause per problem: which arms beat scratch (Δ), which scratch beats, or neither."""
        every = [a for _, _, cmps in tv for a in cmps]
        if every and all(a.standing == "untestable" for a in every):
            ns = sorted({a.test.n for a in every})
            where = "at any label count" if any(n is not None for _, n, _ in tv) else "on any problem"
            return (f"**In short**: with {' or '.join(map(str, ns))} shared seed(s) per comparison, no arm can be tested "
                    f"against scratch {where}; the differences below are what those seeds show, not findings.")
        clauses = []
        for v, n, cmps in tv:
            if not cmps:
                continue
            by = {k: [a for a in cmps if a.standing == k] for k in ("better", "worse", "same", "untestable")}
            words = []
            if by["better"]:
                words.append(_names(by["better"]) + (" beats" if len(by["better"]) == 1 else " beat") + " scratch")
            if by["worse"]:
                words.append("scratch beats " + _names(by["worse"]))
            if by["same"] and not by["better"] and not by["worse"]:
                words.append("no arm differs significantly from scratch" if len(by["same"]) == len(cmps)
                             else "no testable arm differs significantly from scratch")
            if by["untestable"]:
                words.append(f"{len(by['untestable'])} arm(s) not testable (fewer than 2 shared seeds)")
            clauses.append(f"{self.where(v, n)}, " + ", and ".join(words))
        if not clauses:
            return ""
        text = "; ".join(clauses)
        return f"**In short**: {text[0].upper()}{text[1:]}."

    def catch_up_sentence(self, tv: list[tuple[S.Verdict, float | None, list[S.Against]]]) -> str:
        pts = [(n, cmps) for _, n, cmps in tv if n is not None and cmps]
        left = [labels(n) for _, n, cmps in tv if n is not None and not cmps]
        if all(n is None for _, n, _ in tv):
            return ""  # no problem sets `labelled`: the study asks no data-efficiency question
        if not pts:
            return ("**Catch-up**: no problem with a number of labelled examples (data option `labelled`) has an arm "
                    "and scratch finished, so where scratch catches up cannot be read.")
        return self.catch_up_words(S.catch_up(pts), pts) + (
            f" Left out, with no arm and scratch both finished: {', '.join(left)}." if left else "")

    @staticmethod
    def catch_up_words(c: S.CatchUp, pts: list[tuple[float, list[S.Against]]]) -> str:
        largest = max(n for n, _ in pts)
        if c.why == "not_within":
            beaters = sorted({T.show(a.entry.value) for n, cmps in pts if n == largest for a in cmps
                              if a.standing == "better"})
            return (f"**Scratch does not catch up within the label counts measured**: at {labels(largest)}, the "
                    f"largest count compared, {', '.join(beaters)} still beat{'s' if len(beaters) == 1 else ''} scratch.")
        if c.why == "untestable":
            return (f"**Catch-up cannot be read**: at {labels(largest)} some arm's comparison with scratch is not "
                    "testable (fewer than 2 shared seeds)" + (f"; an arm beats scratch at {labels(c.last_better)}"
                                                             if c.last_better is not None else "") + ".")
        if c.why == "never_behind":
            return (f"**Scratch is never significantly behind**: from {labels(c.at)}, the fewest compared, no arm "
                    "beats scratch at any label count.")
        text = (f"**Scratch catches up from {labels(c.at)} on**: no arm is significantly better than scratch "
                + (f"at {labels(largest)}, the largest count compared" if c.at == largest else f"from there to {labels(largest)}"))
        if c.last_better is not None:
            text += f"; below it, at {labels(c.last_better)}, an arm still beats scratch"
        if c.gap is not None:
            text += (f" (at {labels(c.gap)} a comparison is not testable, so scratch may catch up earlier)")
        return text + "."

    # ---------------------------------------------------------------------------- tables, figure
    def transfer_table(self, tv: list[tuple[S.Verdict, float | None, list[S.Against]]]) -> D.Table:
        cols = ["labelled", "problem", "arm (tuned)", "test mean ± 95% CI (n)", "Δ vs scratch ± 95% CI",
                "Holm p vs scratch", "P(arm > scratch) [95% CI]", "vs scratch", "tied for best"]
        rows = []
        for v, n, cmps in tv:
            by_arm = {id(a.entry): a for a in cmps}
            for e, tied in zip(v.entries, v.tied):
                a = by_arm.get(id(e))
                tuned = self.describe_tuned(e)
                name = T.show(e.value) + (f" ({tuned})" if tuned else "")
                rows.append([f"{n:,.0f}" if n is not None else "—", v.problem, name,
                             f"{fmt_ci(e.stats)} ({e.stats.n})" if e.stats.n else "—",
                             fmt_diff(a.diff) if a else "—", fmt_holm_p(a) if a else "—",
                             fmt_improvement(a.improvement) if a else "—",
                             VERSUS[a.standing] if a else "reference" if T.canon(e.value) == T.canon(REFERENCE)
                             else "no finished cell",
                             "yes" if tied else "no"])
        return D.Table(cols, rows, anchor="transfer-table", collapse_after=40,
                       caption=f"Every arm against scratch, per number of labelled examples (test {tv[0][0].metric})")

    def efficiency_figure(self, tv: list[tuple[S.Verdict, float | None, list[S.Against]]], metric: str | None) -> Any:
        from zoo.report import figures as F

        pts = [(v, n) for v, n, _ in tv if n is not None and v.winner is not None]
        if not pts or metric is None:
            return None
        colours = self.group_index(axis=AXIS)
        arms: dict[str, tuple[str, int, list]] = {}
        for v, n in pts:
            for e in v.entries:
                key = T.canon(e.value)
                arms.setdefault(key, (T.show(e.value), colours.get(key, len(arms)), []))[2].append((n, e.stats))
        order = sorted(arms, key=lambda k: arms[k][1])
        mode = pts[0][0].mode
        ylabel = f"test {'accuracy, fraction correct' if metric == 'acc' else metric} " \
                 f"({'higher' if mode == 'max' else 'lower'} is better)"
        fig = F.data_efficiency([arms[k] for k in order], ylabel, f"Data efficiency: test {metric} vs labelled examples")
        return self.figure(fig, "transfer_data_efficiency",
                           f"Data efficiency: test {metric} against the number of labelled training examples (log "
                           "scale; the data option `labelled` of each problem), one line per arm in its colour of every "
                           "figure of this report: the mean over seeds of the arm's chosen configuration, with its 95% "
                           "CI (Student's t) as a band.")

    def arm_cost_table(self, tv: list[tuple[S.Verdict, float | None, list[S.Against]]]) -> D.Table:
        df = self.rows.set_index("cell_id")
        target = self.store.study.get("target")
        has_target = isinstance(target, dict) and bool(target) and "time_to_target" in df \
            and df["time_to_target"].notna().any()
        cols = ["labelled", "arm", "trainable parameters", "parameters", "training seconds, mean ± 95% CI (n)"]
        if has_target:
            cols.append(f"time to {target.get('metric')} {target.get('value')} (s; reached/n)")
        rows = []
        for v, n, _ in tv:
            for e in v.entries:
                ids = [i for i in e.cell_ids if i in df.index]
                g = df.loc[ids] if ids else df.iloc[0:0]
                row = [f"{n:,.0f}" if n is not None else v.problem, T.show(e.value),
                       _count(g, "trainable_parameters"), _count(g, "num_parameters"),
                       _seconds(g, "fit_train_seconds")]
                if has_target:
                    reached = pd.to_numeric(g["time_to_target"], errors="coerce").dropna()
                    row.append(f"{_secs(reached.tolist())} ({len(reached)}/{len(g)})" if len(g) else "—")
                rows.append(row)
        return D.Table(cols, rows, anchor="transfer-cost", collapse_after=40,
                       caption="What each arm costs (its chosen configuration): trainable parameters at the end of "
                               "training (— : not recorded by this store), all parameters, and training seconds "
                               "(evaluation excluded); the source stage's cost is paid once per seed, shared by every arm "
                               "and problem")

    def transfer_frame(self) -> pd.DataFrame:
        """transfer.csv: one row per problem and arm against scratch, at full precision."""
        recs = []
        for v, n, cmps in self.transfer_verdicts() if self.has_transfer() else []:
            tied = {id(e): t for e, t in zip(v.entries, v.tied)}
            for a in cmps:
                recs.append({"problem": v.problem, "labelled": n, "metric": v.metric, "arm": T.show(a.entry.value),
                             "reference": REFERENCE, "n": a.test.n, "diff_mean": a.diff.mean, "diff_ci95_half": a.diff.half,
                             "p": a.test.pvalue, "p_holm": a.holm, "p_improvement": a.improvement.p,
                             "p_improvement_low": a.improvement.low, "p_improvement_high": a.improvement.high,
                             "standing": a.standing, "tied_for_best": tied.get(id(a.entry), False)})
        return pd.DataFrame(recs, columns=["problem", "labelled", "metric", "arm", "reference", "n", "diff_mean",
                                           "diff_ci95_half", "p", "p_holm", "p_improvement", "p_improvement_low",
                                           "p_improvement_high", "standing", "tied_for_best"])

    def source_blocks(self) -> list[D.Block]:
        stages = T.source_stages(self.store)
        out = []
        for problem, stage in stages.items():
            rows = self.rows[self.rows.problem == problem]
            if rows.empty:
                continue
            m, _ = T.problem_metric(self.table, problem)
            col = f"test_{m}"
            ok = rows[rows.status == "ok"]
            seeds = [(T.show(r.seed), float(r[col])) for _, r in ok.sort_values("seed").iterrows()
                     if col in ok and not T.isnan(r[col])]
            per_seed = ", ".join(f"seed {s}: {fmt(x)}" for s, x in seeds) or "no finished cell"
            secs = pd.to_numeric(ok.get("fit_train_seconds", pd.Series(dtype=float)), errors="coerce").dropna()
            classes = T.data_options(self.store, problem).get("classes")
            what = f"{rows.iloc[0].model} on {rows.iloc[0].data}" + (f", {len(classes)} classes" if isinstance(classes, list)
                                                                       else "")
            text = (f"**Source** `{stage}` ({what}; problem {problem}): test {m} {per_seed}"
                    + (f" (mean {fmt_ci(S.mean_ci(x for _, x in seeds))})" if len(seeds) > 1 else ""))
            if len(secs):
                text += f"; {fmt_seconds(float(secs.mean()))} of training per seed"
            bad = len(rows) - len(ok)
            if bad:
                text += f"; {bad} of {len(rows)} cell(s) did not finish (see [unfinished cells](#unfinished))"
            out.append(D.Para(text + ". A source stage is trained once per seed and compares nothing: the arms "
                              "that start from it are the comparison."))
        return out


def _names(cmps: list[S.Against]) -> str:
    """``frozen (+0.0221 ± 0.0170) and full (+0.0190 ± 0.0117)``."""
    names = [f"**{T.show(a.entry.value)}** ({fmt_diff(a.diff)})" for a in cmps]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _numbers(g: pd.DataFrame, col: str) -> list[float]:
    if col not in g:
        return []
    return [float(x) for x in pd.to_numeric(g[col], errors="coerce").dropna()]


def _count(g: pd.DataFrame, col: str) -> str:
    xs = _numbers(g, col)
    if not xs:
        return "—"
    lo, hi = min(xs), max(xs)
    return f"{lo:,.0f}" if lo == hi else f"{lo:,.0f} – {hi:,.0f}"


def _seconds(g: pd.DataFrame, col: str) -> str:
    """``9.66 ± 5.28 (5)``: three significant digits of the mean, the interval to the same decimals."""
    xs = _numbers(g, col)
    return f"{_secs(xs)} ({len(xs)})" if xs else "—"


def _secs(xs: list[float]) -> str:
    s = S.mean_ci(xs)
    if not s.n:
        return "—"
    d = max(0, 2 - math.floor(math.log10(abs(s.mean)))) if s.mean else 3
    return f"{s.mean:,.{d}f}" + (f" ± {s.half:,.{d}f}" if math.isfinite(s.half) else "")
