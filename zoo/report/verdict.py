"""The verdict section of a report and verdict.csv: every value against the best.

Values are ranked by the validation score of their chosen configuration (zoo/report/stats.py
``best_over_nuisance``); the test metric is reported beside it. Each value is shown against
the best with the Holm-adjusted paired p-value and P(best > value) over seeds; the values no
test separates from the best form the "tied for best" group, and "beats" is written only for
a significant difference. What makes a result unusable comes first: values with no finished
cell, unfinished cells, and results no better than a predictor that ignores its input.
"""

from __future__ import annotations

import json

import pandas as pd

from zoo.report import curves as C
from zoo.report import document as D
from zoo.report import stats as S
from zoo.report import tables as T
from zoo.report.base import Sections
from zoo.report.fmt import fmt, fmt_ci, fmt_signed, fname

STANDING = {"best": "best (validation)", "tied": "tied for best", "worse": "worse than the best",
            "better": "better than the best on test", "missing": "no finished cell"}


def fmt_holm(v: S.Verdict, i: int) -> str:
    """The Holm-adjusted p-value of entry ``i`` (> 0) against the best, with the shared seeds."""
    cmp = v.versus[i - 1]
    if cmp is None:
        return "—"
    if not cmp.testable:
        return f"not testable ({cmp.note})" if cmp.note else "not testable"
    h = v.holm[i - 1]
    return ("p < 0.001" if h < 0.001 else f"p = {h:.3f}") + f" (n={cmp.n})"


def fmt_improvement(b: S.Improvement | None) -> str:
    """``0.67 [0.00, 1.00]``: P(best > value) and its bootstrap 95% interval."""
    if b is None or not b.n:
        return "—"
    return f"{b.p:.2f} [{b.low:.2f}, {b.high:.2f}]"


class VerdictSections(Sections):
    """The verdict: flags, the table of every value against the best, sentences, isolation plots."""

    def verdict_section(self) -> list[D.Block]:
        blocks: list[D.Block] = [D.Heading(2, "Verdict", "verdict")]
        flags = self.verdict_flags()
        if flags:
            blocks.append(D.Bullets(flags))
        if self.sci:
            blocks.append(self.verdict_table())
        else:  # nothing compared: problem, metric, configuration and result only
            rows = []
            for v in self.verdicts:
                w = v.winner
                if w is None:
                    rows.append([v.problem, v.metric, "no finished cell", "—", "—"])
                    continue
                rows.append([v.problem, f"{v.metric} {'↑' if v.mode == 'max' else '↓'}",
                             self.describe_tuned(w) or "the only one", fmt(w.select_score),
                             f"{fmt_ci(w.stats)} ({w.stats.n})"])
            blocks.append(D.Table(["problem", "test metric", "configuration", "validation", "test mean ± 95% CI (n)"],
                                  rows, anchor="verdict-table", collapse_after=40))
        blocks.append(D.Bullets([self.verdict_sentence(v) for v in self.verdicts]))
        blocks.append(D.Para(
            "How to read it: for every value of a scientific axis, the configuration of the other axes "
            "(nuisance, and the other scientific axes) with the best mean **validation** metric over its "
            "seeds is chosen — a configuration with a diverged seed ranks last — and the values are **ranked by "
            "that validation score**; the **test** metric beside it is mean ± t₀.₉₇₅,ₙ₋₁·s/√n over seeds (95% "
            "confidence interval, Student's t). Every value is compared with the best on the test metric by a "
            f"paired t-test over the seeds both share, Holm-adjusted for the number of values compared; the values "
            f"with Holm p ≥ {S.ALPHA} or too few shared seeds are **tied for best** (no test separates them), and "
            "\"beats\" is written only for a significant difference. P(best > value) is the share of shared seeds "
            "on which the best scores better (a tie counts one half; Bouthillier et al. 2021, \"Accounting for "
            "variance in machine learning benchmarks\"), with a percentile bootstrap 95% interval over the seeds "
            "(scipy.stats.bootstrap). " + S.PAIRED_WHY))
        for axis in self.sci or []:
            vs = [v for v in self.verdicts if v.axis == axis and v.entries]
            if vs:
                from zoo.report import figures as F

                blocks.append(self.figure(F.isolation(vs, axis, self.group_index(axis=axis)), f"isolation_{fname(axis)}",
                                          F.ISOLATION_CAPTION.format(axis=axis)))
        blocks += [D.Heading(3, "Caveats", "caveats"), D.Bullets(self.caveats())]
        return blocks

    def verdict_flags(self) -> list[str]:
        """What to know before reading a number: missing values, unfinished cells, trivial results."""
        out = []
        for v in self.verdicts:
            missing = S.missing_values(self.table, v)
            if missing:
                out.append(f"**Missing** on {v.problem}: `{v.axis}` = " + ", ".join(f"**{T.show(x)}**" for x in missing)
                           + " has no finished cell, so the verdict cannot rank it; see [unfinished cells](#unfinished).")
        bad = {k: n for k, n in self.store.by_status().items() if k != "ok"}
        if bad:
            out.append(f"**Unfinished**: {sum(bad.values())} of {len(self.store.cells)} cells ("
                       + ", ".join(f"{n} {k}" for k, n in bad.items()) + "); see [unfinished cells](#unfinished).")
        for v in self.verdicts:
            for t in S.no_better_than_trivial(self.table, v):
                label = f"`{v.axis}` = **{T.show(t.entry.value)}**" if v.axis else "the best configuration"
                out.append(f"**No better than trivial** on {v.problem}: {label}, {t.below} of {t.n} seed(s) score test "
                           f"{v.metric} no better than {C.TRIVIAL_NAMES.get(v.metric, 'a trivial predictor')} on the same "
                           f"test labels ({fmt(t.baseline)}; test mean {fmt_ci(t.entry.stats)}).")
        return out

    def verdict_table(self) -> D.Table:
        cols = ["problem", "axis", "rank", "value (tuned)", "validation", "test mean ± 95% CI (n)", "Δ test vs best",
                "Holm p vs best", "P(best > value) [95% CI]", "standing"]
        rows = []
        for v in self.verdicts:
            arrow = "↑" if v.mode == "max" else "↓"
            if v.winner is None:
                rows.append([v.problem, v.axis or "—", "—", "no finished cell", "—", "—", "—", "—", "—", "—"])
                continue
            for i, e in enumerate(v.entries):
                tuned = self.describe_tuned(e)
                name = T.show(e.value) + (f" ({tuned})" if tuned else "")
                standing = "best" if i == 0 else v.separated(i)
                if standing in ("best", "tied"):
                    name = f"**{name}**"
                delta = "—"
                if i and e.stats.n:
                    d = e.stats.mean - v.winner.stats.mean
                    delta = fmt_signed(d if v.mode == "max" else -d, v.winner.stats.mean)
                rows.append([
                    v.problem, f"{v.axis} ({v.metric} {arrow})", str(i + 1), name,
                    fmt(e.select_score) + ("" if e.select_metric == f"val_{v.metric}" else f" ({e.select_metric})"),
                    f"{fmt_ci(e.stats)} ({e.stats.n})" if e.stats.n else "—", delta,
                    fmt_holm(v, i) if i else "—", fmt_improvement(v.improvement[i - 1]) if i else "—",
                    STANDING[standing],
                ])
        return D.Table(cols, rows, anchor="verdict-table", collapse_after=40,
                       caption="Every value against the best on validation (Δ: in the favourable direction)")

    def verdict_sentence(self, v: S.Verdict) -> str:
        w = v.winner
        if w is None:
            return f"**{v.problem}**: no finished cell, no verdict."
        if v.axis is None:
            return (f"**{v.problem}**: the best configuration on validation ({T.describe_config(w.config) or 'the only one'}) "
                    f"reaches test {v.metric} {fmt_ci(w.stats)} (n={w.stats.n}).")
        head = (f"**{v.problem}**, `{v.axis}`: **{T.show(w.value)}** is best on validation, test {v.metric} "
                f"{fmt_ci(w.stats)} (n={w.stats.n})")
        if len([e for e in v.entries if e.stats.n]) < 2:
            return head + "; no other value finished, so nothing to compare."
        tied = [T.show(e.value) for i, e in enumerate(v.entries) if i and v.separated(i) == "tied"]
        worse = [(e, i) for i, e in enumerate(v.entries) if i and v.separated(i) == "worse"]
        better = [(e, i) for i, e in enumerate(v.entries) if i and v.separated(i) == "better"]
        parts = [head]
        if tied:
            parts.append(f"tied for best with {', '.join(f'**{t}**' for t in tied)} (no test separates them: "
                         f"Holm p ≥ {S.ALPHA} or too few shared seeds)")
        if worse:
            parts.append("it beats " + ", ".join(f"{T.show(e.value)} (Holm {fmt_holm(v, i)}; P(best > it) = "
                                                 f"{fmt_improvement(v.improvement[i - 1])})" for e, i in worse))
        if better:
            parts.append("but " + ", ".join(f"{T.show(e.value)} (Holm {fmt_holm(v, i)})" for e, i in better)
                         + " beats it on test although it ranks lower on validation")
        if not tied and not better and not worse:
            parts.append("nothing else finished")
        return "; ".join(parts) + "."

    def verdict_frame(self) -> pd.DataFrame:
        recs = []
        for v in self.verdicts:
            trivial = {id(t.entry): t for t in S.trivial_check(self.table, v)}
            for rank, e in enumerate(v.entries, 1):
                i = rank - 1
                t = trivial.get(id(e))
                vs = v.versus[i - 1] if i else None
                b = v.improvement[i - 1] if i else None
                standing = ("best" if v.winner is not None else "missing") if not i else v.separated(i)
                recs.append({
                    "problem": v.problem, "axis": v.axis, "metric": v.metric, "mode": v.mode, "rank": rank,
                    "value": T.show(e.value) if v.axis else None, "config": json.dumps(e.config, default=str),
                    "mean": e.stats.mean, "ci95_half": e.stats.half, "n": e.stats.n,
                    "seeds": json.dumps({T.show(k): x for k, x in e.test.items()}),
                    "select_metric": e.select_metric, "select_score": e.select_score, "n_configs": e.n_configs,
                    "n_diverged": e.n_diverged, "best_cell": e.best_cell, "cells": json.dumps(e.cell_ids),
                    "standing": standing, "tied_for_best": v.tied[i] if v.entries else False,
                    "best_minus_value": vs.mean_diff if vs else None,
                    "p_vs_best": vs.pvalue if vs else None, "p_vs_best_holm": v.holm[i - 1] if vs else None,
                    "paired_n": vs.n if vs else None,
                    "p_improvement": b.p if b else None, "p_improvement_low": b.low if b else None,
                    "p_improvement_high": b.high if b else None,
                    "trivial": t.baseline if t else None, "seeds_no_better_than_trivial": t.below if t else None,
                })
        return pd.DataFrame(recs)
