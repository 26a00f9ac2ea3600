"""``zoo report``: turn a study's results store into ``reports/<study>/``.

Writes ``README.md`` (renders on a code host), ``index.html`` (self-contained: figures
embedded, no network), ``figures/*.png|svg``, ``results.csv`` (one row per cell, full
precision), ``per_class.csv`` and ``verdict.csv``. Everything is computed from the store
by :mod:`zoo.bench.analysis`; no model code is imported, and running it again on the same
store writes the same files.

Order of the report, verdict first: the winner of each scientific axis per problem (mean ±
95% CI over seeds, margin, paired test) and the isolation plots, with fixed settings and
the environment as caveats; then classification detail (per-class tables, ROC, PR,
confusion), the other families' metrics, training dynamics, cost, and every cell that did
not finish with its reason.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from zoo.bench import analysis as A
from zoo.report import document as D

FAMILY_METRICS = {  # each family's own metrics, those a problem stores are shown
    "regression": ("rmse", "mae", "r2"),
    "language_model": ("loss", "perplexity", "bits_per_char", "acc"),
    "seq2seq": ("loss", "token_acc", "acc", "bleu", "exact"),
    "embedding": ("analogy_acc", "analogy_coverage", "ws353_spearman", "ws353_coverage", "wordsim_spearman",
                  "simlex_spearman", "simlex_coverage"),
}
FAMILY_NOTES = {
    "language_model": "loss is the mean cross-entropy in nats per character; perplexity = e^loss; "
                      "bits per character = loss / ln 2; acc is next-character accuracy.",
    "seq2seq": "acc (token_acc) is teacher-forced next-token accuracy on the target sentences; BLEU (0–100) and "
               "exact (whole-sentence match) come from greedy decoding.",
    "embedding": "analogy_acc: 3CosAdd accuracy on the analogy questions whose words are all in the vocabulary "
                 "(analogy_coverage: that share); ws353/simlex_spearman: Spearman correlation with human similarity "
                 "judgements on the covered pairs (coverage alongside).",
}
ENV_SKIP = ("pid",)
"""env.json keys that differ per process and say nothing about the environment."""
FAMILY_TITLES = {
    "regression": "Regression",
    "language_model": "Language models",
    "seq2seq": "Sequence to sequence",
    "embedding": "Word embeddings",
}
CLASSIFICATION_COLUMNS = ("acc", "precision", "recall", "f1", "auroc", "ap")
MAX_PANELS = 6
"""Figures draw at most this many scientific values (the best ones) per problem."""
MAX_DIVERGED_CURVES = 20


# ------------------------------------------------------------------------------------------
# Number formatting
# ------------------------------------------------------------------------------------------


def _decimals(x: float) -> int:
    a = abs(x)
    return 0 if a >= 1000 else 1 if a >= 100 else 2 if a >= 10 else 4


def fmt(x: Any, decimals: int | None = None) -> str:
    """A number for a table: 4 decimals below 10, fewer above; ``—`` for missing."""
    if x is None or isinstance(x, str):
        return x or "—"
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(x):
        return "—" if math.isnan(x) else ("∞" if x > 0 else "−∞")
    d = _decimals(x) if decimals is None else decimals
    return f"{x:,.{d}f}"


def fmt_ci(s: A.MeanCI) -> str:
    """``0.9612 ± 0.0104``; one seed: the value alone."""
    if not s.n:
        return "—"
    d = _decimals(s.mean)
    if not math.isfinite(s.half):
        return fmt(s.mean, d)
    return f"{fmt(s.mean, d)} ± {fmt(s.half, d)}"


def fmt_signed(x: float, like: float) -> str:
    if not math.isfinite(x):
        return "—"
    return ("+" if x >= 0 else "−") + fmt(abs(x), _decimals(like))


def fmt_p(p: A.PairedTest | None) -> str:
    if p is None:
        return "—"
    if not p.testable:
        return f"not testable ({p.note})" if p.note else "not testable"
    text = "p < 0.001" if p.pvalue < 0.001 else f"p = {p.pvalue:.3f}"
    return f"{text} (n={p.n})" + (f"; {p.note}" if p.note else "")


def fmt_seconds(x: float) -> str:
    if not math.isfinite(x):
        return "—"
    return f"{x:.2f} s" if x < 10 else f"{x:.1f} s" if x < 600 else f"{x / 60:.1f} min"


# ------------------------------------------------------------------------------------------
# The report
# ------------------------------------------------------------------------------------------


@dataclass
class Report:
    """What :func:`build_report` wrote."""

    out_dir: Path
    files: list[Path]
    seconds: float
    cells: int
    verdicts: list[A.Verdict]
    wandb_runs: int = 0
    notes: list[str] = field(default_factory=list)


def build_report(runs_dir: str | Path, out_dir: str | Path | None = None, *, metric: str | None = None,
                 wandb: bool = False, wandb_project: str | None = None, command: str | None = None) -> Report:
    """Write the report of the store ``runs_dir`` into ``out_dir`` (default ``reports/<study>``).

    ``metric`` overrides the headline metric (without stage prefix, e.g. ``f1``); ``wandb``
    also logs every finished cell as a W&B run (offline unless ``WANDB_MODE`` says otherwise).
    """
    t0 = time.perf_counter()
    store = A.load_store(runs_dir)
    table = A.cell_table(store)
    verdicts = A.verdicts(table, metric)
    out = Path(out_dir) if out_dir is not None else Path("reports") / store.name
    out.mkdir(parents=True, exist_ok=True)
    command = command or f"zoo report {runs_dir}" + (f" --out {out_dir}" if out_dir is not None else "") + \
        (f" --metric {metric}" if metric else "")
    builder = _Builder(store, table, verdicts, out, command)
    doc = builder.build()
    files = builder.write(doc)
    report = Report(out, files, 0.0, len(store.cells), verdicts)
    if wandb:
        from zoo.report.wandb_log import log_store

        report.wandb_runs = log_store(table, project=wandb_project)
    report.seconds = time.perf_counter() - t0
    return report


class _Builder:
    def __init__(self, store: A.Store, table: A.Table, verdicts: list[A.Verdict], out: Path, command: str):
        self.store, self.table, self.verdicts, self.out, self.command = store, table, verdicts, out, command
        self.rows = table.rows
        self.fig_dir = out / "figures"
        self.figures: list[str] = []
        self.sci = [a for a in store.scientific_axes if a in self.rows.columns]
        self.axis = self.sci[0] if self.sci else None
        """The primary scientific axis: figures draw one panel / colour per value of it."""

    # ---------------------------------------------------------------------------- helpers
    def figure(self, fig: Any, name: str, caption: str) -> D.Figure:
        from zoo.report import figures as F

        png = F.save(fig, self.fig_dir, name)
        self.figures.append(name)
        return D.Figure(name, caption, png)

    def verdict_of(self, problem: str, axis: str | None = None) -> A.Verdict | None:
        axis = axis if axis is not None else self.axis
        return next((v for v in self.verdicts if v.problem == problem and v.axis == axis), None)

    def describe_tuned(self, e: A.Entry) -> str:
        """The chosen configuration, with what a tuner picked: ``lr=range_test → 0.0123``
        (median over the configuration's seeds)."""
        parts = []
        for a, val in e.config.items():
            col = f"tuned_{a}"
            text = f"{a}={A.show(val)}"
            if col in self.rows.columns:
                picked = pd.to_numeric(self.rows[self.rows.cell_id.isin(e.cell_ids)][col], errors="coerce").dropna()
                if len(picked):
                    text += f" → {float(picked.median()):.3g}"
            parts.append(text)
        return ", ".join(parts)

    def value_label(self, e: A.Entry) -> str:
        return f"{self.axis}={A.show(e.value)}" if self.axis else "best configuration"

    def representatives(self, problem: str) -> list[tuple[A.Entry, A.CellRecord]]:
        """The best cell (by validation score) of each scientific value's chosen configuration."""
        v = self.verdict_of(problem)
        if v is None:
            return []
        out = []
        for e in v.entries[:MAX_PANELS]:
            if e.best_cell:
                out.append((e, self.table.cell(e.best_cell)))
        return out

    def truncation_note(self, problem: str) -> list[D.Block]:
        v = self.verdict_of(problem)
        if v is None or len(v.entries) <= MAX_PANELS:
            return []
        return [D.Para(f"The figures below draw the {MAX_PANELS} best of the {len(v.entries)} values of "
                       f"`{self.axis}` (by test mean); the tables above list them all.")]

    def kind(self, problem: str) -> str | None:
        return self.table.kinds.get(problem)

    def group_index(self, problem: str) -> dict[str, int]:
        v = self.verdict_of(problem)
        if v is None:
            return {}
        return {A.canon(x): i for i, x in enumerate(A.sort_values(e.value for e in v.entries))}

    def mean_ci_table(self, problem: str, metrics: tuple[str, ...]) -> D.Table | None:
        """Per scientific value (chosen configuration): each metric's mean ± CI over seeds."""
        v = self.verdict_of(problem)
        if v is None or not v.entries:
            return None
        df = self.rows.set_index("cell_id")
        metrics = tuple(m for m in metrics if f"test_{m}" in df.columns and df[f"test_{m}"].notna().any())
        if not metrics:
            return None
        cols = [self.axis or "configuration", "tuned", "n"] + list(metrics)
        rows = []
        for e in v.entries:
            ids = [i for i in e.cell_ids if i in df.index]
            cells = [A.show(e.value) if self.axis else "best", self.describe_tuned(e) or "—", str(len(ids))]
            for m in metrics:
                cells.append(fmt_ci(A.mean_ci(df.loc[ids, f"test_{m}"].tolist())) if ids else "—")
            rows.append(cells)
        return D.Table(cols, rows, caption=f"{problem}: test metrics of each value's chosen configuration, "
                                         "mean ± 95% CI over seeds")

    # ---------------------------------------------------------------------------- sections
    def build(self) -> D.Document:
        s = self.store
        doc = D.Document(f"Study {s.name}: report")
        question = " ".join(str(s.study.get("description") or "").split())
        if question:
            doc.add(D.Para(f"**Question.** {question}"))
        doc.add(D.Para(self.summary_line()))
        doc.add(D.Para(" · ".join(f"[{t}](#{a})" for t, a in self.toc())))
        doc.add(*self.verdict_section())
        doc.add(*self.classification_section())
        doc.add(*self.family_sections())
        doc.add(*self.dynamics_section())
        doc.add(*self.cost_section())
        doc.add(*self.failures_section())
        doc.add(*self.cells_section())
        return doc

    def toc(self) -> list[tuple[str, str]]:
        kinds = set(self.table.kinds.values())
        out = [("Verdict", "verdict")]
        if kinds & set(A.CLASSIFICATION_KINDS):
            out.append(("Classification", "classification"))
        for k, title in FAMILY_TITLES.items():
            if k in kinds:
                out.append((title, k.replace("_", "-")))
        out += [("Training dynamics", "dynamics"), ("Cost", "cost"), ("Unfinished cells", "unfinished"),
                ("All cells", "cells")]
        return out

    def summary_line(self) -> str:
        s = self.store
        counts = s.by_status()
        order = ["ok", "diverged", "error", "oom", "skipped", A.PENDING, A.UNREADABLE]
        parts = [f"{counts[k]} {k}" for k in order if counts.get(k)]
        seeds = A.sort_values({c.seed for c in s.cells if c.seed is not None})
        text = f"**{len(s.cells)} cells** ({', '.join(parts)}) over {len(s.problems)} problem(s), seeds {', '.join(map(A.show, seeds)) or '—'}."
        if self.sci:
            text += " Scientific: " + ", ".join(f"`{a}`" for a in self.sci) + "."
        nui = [a for a in s.nuisance_axes if a in self.rows.columns]
        if nui:
            text += " Nuisance (tuned per value on the validation set): " + ", ".join(f"`{a}`" for a in nui) + "."
        text += f" Regenerate: `{self.command}`."
        return text

    # ---- 1. verdict
    def verdict_section(self) -> list[D.Block]:
        blocks: list[D.Block] = [D.Heading(2, "Verdict", "verdict")]
        cols = ["problem", "axis", "test metric", "winner (tuned)", "mean ± 95% CI (n)", "runner-up",
                "mean ± 95% CI (n)", "margin", "paired t-test", "significant"]
        rows, sentences = [], []
        for v in self.verdicts:
            w, r = v.winner, v.runner_up
            if w is None:
                rows.append([v.problem, v.axis or "—", v.metric, "no finished cell", "—", "—", "—", "—", "—", "—"])
                sentences.append(f"**{v.problem}**: no finished cell, no verdict.")
                continue
            tuned = self.describe_tuned(w)
            win = f"**{A.show(w.value) if v.axis else 'best'}**" + (f" ({tuned})" if tuned else "")
            cmp = v.comparison
            sig = "—" if cmp is None or cmp.significant is None else ("yes" if cmp.significant else "no")
            rows.append([
                v.problem, v.axis or "—", f"{v.metric} {'↑' if v.mode == 'max' else '↓'}", win, f"{fmt_ci(w.stats)} ({w.stats.n})",
                A.show(r.value) if r else "—", f"{fmt_ci(r.stats)} ({r.stats.n})" if r else "—",
                fmt_signed(v.margin, w.stats.mean) if r else "—", fmt_p(cmp) if r else "—", sig,
            ])
            sentences.append(self.verdict_sentence(v))
        if not self.sci:  # nothing compared: problem, metric, configuration and result only
            keep = [0, 2, 3, 4]
            cols = ["problem", "test metric", "configuration", "mean ± 95% CI (n)"]
            rows = [[r[i] for i in keep] for r in rows]
        blocks.append(D.Table(cols, rows, anchor="verdict-table", collapse_after=40))
        blocks.append(D.Bullets(sentences))
        blocks.append(D.Para(
            "How to read it: for every value of a scientific axis, the configuration of the other axes "
            "(nuisance, and the other scientific axes) with the best mean **validation** metric over its "
            "seeds is chosen — a configuration with a diverged seed ranks last — and its **test** metric is "
            "reported as mean ± t₀.₉₇₅,ₙ₋₁·s/√n over seeds (95% confidence interval, Student's t). The winner "
            "has the best test mean; the margin is its lead over the runner-up in the metric's favourable "
            "direction. " + A.PAIRED_WHY))
        for axis in self.sci or []:
            vs = [v for v in self.verdicts if v.axis == axis and v.entries]
            if vs:
                from zoo.report import figures as F

                blocks.append(self.figure(F.isolation(vs, axis), f"isolation_{_fname(axis)}",
                                          f"Isolation plot for {axis}: the test metric of the best nuisance "
                                          "setting per value (colour: seeds; black: mean ± 95% CI; hollow diamond: "
                                          "validation score that chose it; grey: the other nuisance settings)."))
        blocks += [D.Heading(3, "Caveats", "caveats"), D.Bullets(self.caveats())]
        return blocks

    def verdict_sentence(self, v: A.Verdict) -> str:
        w, r = v.winner, v.runner_up
        assert w is not None
        if v.axis is None:
            return (f"**{v.problem}**: the best configuration ({A.describe_config(w.config) or 'the only one'}) "
                    f"reaches test {v.metric} {fmt_ci(w.stats)} (n={w.stats.n}).")
        head = f"**{v.problem}**: `{v.axis}` = **{A.show(w.value)}** wins with test {v.metric} {fmt_ci(w.stats)} (n={w.stats.n})"
        if r is None:
            return head + "; no other value finished, so nothing to compare."
        cmp = v.comparison
        if abs(v.margin) <= 1e-12:
            head = (f"**{v.problem}**: `{v.axis}` = **{A.show(w.value)}** and **{A.show(r.value)}** tie at test "
                    f"{v.metric} {fmt_ci(w.stats)} (n={w.stats.n}) and {fmt_ci(r.stats)} (n={r.stats.n})")
            return head + (f"; paired t-test over {cmp.n} seeds p = {cmp.pvalue:.3f}." if cmp and cmp.testable else ".")
        text = f"{head}, {fmt_signed(v.margin, w.stats.mean)} over {A.show(r.value)} ({fmt_ci(r.stats)})"
        if cmp is None or not cmp.testable:
            return text + f"; not testable ({cmp.note if cmp else 'no shared seeds'})."
        p = "p < 0.001" if cmp.pvalue < 0.001 else f"p = {cmp.pvalue:.3f}"
        if cmp.significant:
            text += f"; significant at α = {A.ALPHA} (paired t-test over {cmp.n} seeds, {p})."
        else:
            text += f"; not significant (paired t-test over {cmp.n} seeds, {p}): the seeds do not separate them."
        return text + self.versus_sentence(v)

    @staticmethod
    def versus_sentence(v: A.Verdict) -> str:
        """Which other values the winner beats once the p-values are Holm-adjusted for how many were compared."""
        tested = [(e, c, h) for e, c, h in zip(v.entries[1:], v.versus, v.holm) if c is not None and c.testable]
        if len(tested) < 2:
            return ""
        beaten = [f"{A.show(e.value)} (p = {h:.3f})" for e, c, h in tested if h < A.ALPHA]
        if not beaten:
            return (f" Against all {len(tested)} other values, Holm-adjusted for {len(tested)} comparisons, "
                    "no difference is significant.")
        rest = len(tested) - len(beaten)
        tail = "" if not rest else ("; the other value is not separated from it" if rest == 1
                                    else f"; the other {rest} are not separated from it")
        return (f" Holm-adjusted for {len(tested)} comparisons, it is significantly better than "
                + ", ".join(beaten) + tail + ".")

    def caveats(self) -> list[str]:
        s, out = self.store, []
        fixed = self.fixed_settings()
        if fixed:
            out.append("Held fixed (the conclusions hold for these settings only): " + ", ".join(fixed) + ".")
        budget = s.study.get("budget")
        if isinstance(budget, dict) and budget:
            out.append("Budget per cell: " + ", ".join(f"`{k}={A.show(v)}`" for k, v in budget.items()) + ".")
        for v in self.verdicts:
            for e in v.entries:
                if e.select_metric.startswith("test_"):
                    out.append(f"{v.problem}: no validation metric is stored, so the nuisance setting of "
                               f"{A.show(e.value)} was chosen on the **test** metric (optimistic).")
                    break
            ns = {e.stats.n for e in v.entries if e.stats.n}
            if len(ns) > 1:
                out.append(f"{v.problem}: values were compared over different numbers of seeds ({', '.join(map(str, sorted(ns)))}) "
                           "because some cells did not finish; see [unfinished cells](#unfinished).")
        counts = s.by_status()
        bad = {k: n for k, n in counts.items() if k != "ok"}
        if bad:
            out.append("Not every cell finished: " + ", ".join(f"{n} {k}" for k, n in bad.items())
                       + "; each is listed with its reason under [unfinished cells](#unfinished).")
        n_pred = int((self.rows.test_source == "predictions").sum()) if "test_source" in self.rows else 0
        n_stored = int((self.rows.test_source == "result.json").sum()) if "test_source" in self.rows else 0
        out.append(f"Test metrics are recomputed from the stored predictions for {n_pred} cell(s)"
                   + (f" and read from result.json for {n_stored} (cells without stored predictions)" if n_stored else "")
                   + ".")
        if self.table.mismatches:
            worst = max(self.table.mismatches, key=lambda m: abs(m.stored - m.recomputed))
            out.append(f"**Stored and recomputed test metrics disagree** in {len({m.cell_id for m in self.table.mismatches})} "
                       f"cell(s) (largest: {worst.metric} {worst.stored:.6g} stored vs {worst.recomputed:.6g} recomputed, "
                       f"cell `{worst.cell_id}`); the report uses the recomputed values.")
        out += self.environment()
        return out

    def fixed_settings(self) -> list[str]:
        """``k=v`` per fixed setting; a setting that differs between problems names them."""
        values: dict[str, dict[str, set[str]]] = {}
        for k, v in self.store.fixed.items():
            values.setdefault(k, {}).setdefault(A.canon(v), set())
        for c in self.store.cells:
            for k, v in (c.cell.get("fixed") or {}).items():
                values.setdefault(k, {}).setdefault(A.canon(v), set()).add(c.problem)
        out = []
        for k, by_value in values.items():
            if len(by_value) == 1:
                out.append(f"`{k}={A.show(json.loads(next(iter(by_value))))}`")
            else:
                out.append(f"`{k}` " + ", ".join(f"`{A.show(json.loads(v))}` ({', '.join(sorted(p)) or 'study'})"
                                                  for v, p in by_value.items()))
        return out

    def environment(self) -> list[str]:
        envs = [c.env for c in self.store.cells if c.env]
        if not envs:
            return ["Environment: no env.json stored."]
        flat: dict[str, Counter] = {}
        for e in envs:
            for k, v in _flatten(e).items():
                if k.split(".")[-1] not in ENV_SKIP:
                    flat.setdefault(k, Counter())[A.show(v) if v is not None else "—"] += 1
        parts = []
        for k, cnt in flat.items():
            if len(cnt) == 1:
                parts.append(f"{k} `{next(iter(cnt))}`")
            elif len(cnt) <= 4:
                parts.append(f"{k} " + ", ".join(f"`{v}` ({n} cells)" for v, n in cnt.most_common()))
            else:
                parts.append(f"{k} varies ({len(cnt)} values)")
        return [f"Environment ({len(envs)} cells with env.json): " + "; ".join(parts) + "."]

    # ---- 2. classification
    def classification_section(self) -> list[D.Block]:
        problems = [p for p in self.store.problems if self.kind(p) in A.CLASSIFICATION_KINDS]
        if not problems:
            return []
        from zoo.report import figures as F

        blocks: list[D.Block] = [D.Heading(2, "Classification detail", "classification")]
        for prob in problems:
            kind = self.kind(prob)
            reps = [(e, c) for e, c in self.representatives(prob) if c.predictions is not None and "probs" in c.predictions]
            blocks.append(D.Heading(3, f"{prob} ({kind})", f"cls-{D.slug(prob)}"))
            t = self.mean_ci_table(prob, CLASSIFICATION_COLUMNS)
            if t:
                t.caption = (f"{prob}: test metrics (macro averages over classes)" if kind == "multiclass"
                             else f"{prob}: test metrics (positive class 1)") + \
                    " of each value's chosen configuration, mean ± 95% CI over seeds"
                blocks.append(t)
            if not reps:
                blocks.append(D.Para("No stored predictions for this problem: no per-class tables or curves."))
                continue
            blocks += self.truncation_note(prob)
            names = _class_names(reps[0][1])
            panels = []
            for e, c in reps:
                threshold = float(self.table.test_metrics.get(c.cell_id, {}).get("threshold", 0.5))
                panels.append(F.Panel(f"{self.value_label(e)} (seed {A.show(c.seed)})", c.predictions["target"],
                                      probs=c.predictions["probs"], threshold=threshold))
            if kind == "binary":
                blocks += self.threshold_table(prob, reps)
            blocks.append(D.Para(f"Representative cells (the chosen configuration's seed with the best validation "
                                 f"score, one per value of `{self.axis}`):" if self.axis else
                                 "Representative cell (best validation score):"))
            for i, (e, c) in enumerate(reps):
                blocks.append(self.per_class_details(prob, e, c, names, open_=i == 0))
            stem = _fname(prob)
            blocks.append(self.figure(F.roc(panels, names), f"roc_{stem}",
                                      f"{prob}: ROC curves (per class, micro- and macro-average; AUROC in the legend)."
                                      if kind == "multiclass" else f"{prob}: ROC curve with the operating point of the threshold."))
            blocks.append(self.figure(F.pr(panels, names), f"pr_{stem}",
                                      f"{prob}: precision–recall curves (AP in the legend)."))
            blocks.append(self.figure(F.confusion(panels, names), f"confusion_{stem}",
                                      f"{prob}: confusion matrices, normalised by true class (rows sum to 1)."))
        return blocks

    def threshold_table(self, prob: str, reps: list[tuple[A.Entry, A.CellRecord]]) -> list[D.Block]:
        rows = []
        for e, c in reps:
            m = self.table.test_metrics.get(c.cell_id, {})
            rows.append([self.value_label(e), f"`{c.cell_id}`", fmt(m.get("threshold", 0.5)), fmt(m.get("precision")),
                         fmt(m.get("recall")), fmt(m.get("f1"))])
        return [D.Para("Decision threshold: a positive is predicted when the stored positive-class probability "
                       "is ≥ the threshold (0.5 unless the harness stored another); precision and recall at it:"),
                D.Table(["value", "cell", "threshold", "precision", "recall", "F1"], rows,
                        caption=f"{prob}: operating point of the representative cells")]

    def per_class_details(self, prob: str, e: A.Entry, c: A.CellRecord, names: list[str] | None, open_: bool) -> D.Details:
        m = self.table.test_metrics.get(c.cell_id, {})
        p, r, f, s = (m.get(k, []) for k in ("precision_per_class", "recall_per_class", "f1_per_class", "support_per_class"))
        auc, ap = m.get("auroc_per_class", []), m.get("ap_per_class", [])
        cols = ["class", "support", "precision", "recall", "F1"] + (["AUROC", "AP"] if auc else [])
        rows = []
        for k in range(len(p)):
            row = [names[k] if names and k < len(names) else str(k), str(s[k]) if k < len(s) else "—",
                   fmt(p[k], 4), fmt(r[k], 4), fmt(f[k], 4)]
            if auc:
                row += [fmt(auc[k], 4), fmt(ap[k], 4)]
            rows.append(row)
        label = f"{self.value_label(e)}, seed {A.show(c.seed)}, cell `{c.cell_id}`"
        return D.Details(f"Per-class precision, recall and F1 — {label}",
                         [D.Table(cols, rows, collapse_after=10_000, anchor=f"perclass-{c.cell_id}")], open=open_)

    # ---- 3. other families
    def family_sections(self) -> list[D.Block]:
        from zoo.report import figures as F

        blocks: list[D.Block] = []
        for kind, title in FAMILY_TITLES.items():
            problems = [p for p in self.store.problems if self.kind(p) == kind]
            if not problems:
                continue
            blocks.append(D.Heading(2, f"{title}", kind.replace("_", "-")))
            for prob in problems:
                blocks.append(D.Heading(3, prob, f"fam-{D.slug(prob)}"))
                t = self.mean_ci_table(prob, FAMILY_METRICS[kind])
                blocks.append(t or D.Para("No finished cell with test metrics."))
                if t and kind in FAMILY_NOTES:
                    blocks.append(D.Para(FAMILY_NOTES[kind]))
                if kind == "regression":
                    reps = [(e, c) for e, c in self.representatives(prob) if c.predictions is not None and "pred" in c.predictions]
                    if reps:
                        panels = [F.Panel(f"{self.value_label(e)} (seed {A.show(c.seed)})", c.predictions["target"],
                                          pred=c.predictions["pred"]) for e, c in reps]
                        blocks.append(self.figure(F.regression_scatter(panels), f"scatter_{_fname(prob)}",
                                                  f"{prob}: predicted against true values (test set) of the representative cells."))
        return blocks

    # ---- 4. training dynamics
    def dynamics_section(self) -> list[D.Block]:
        from zoo.report import figures as F

        blocks: list[D.Block] = [D.Heading(2, "Training dynamics", "dynamics")]
        drew = False
        for prob in self.store.problems:
            v = self.verdict_of(prob)
            groups = self.group_index(prob)
            curves = []
            if v is not None:
                for e in v.entries[:MAX_PANELS]:
                    for cid in e.cell_ids:
                        h = self.table.cell(cid).history
                        if h is not None:
                            curves.append(F.Curve(A.show(e.value) if self.axis else "best", groups.get(A.canon(e.value), 0), h))
            diverged = [c for c in self.store.cells if c.problem == prob and c.status == "diverged" and c.history is not None]
            for c in diverged[:MAX_DIVERGED_CURVES]:
                value = c.scientific.get(self.axis) if self.axis else None
                curves.append(F.Curve(A.show(value) if self.axis else "best", groups.get(A.canon(value), 0), c.history, diverged=True))
            if not curves:
                continue
            key = f"val_{v.metric}" if v is not None else None
            blocks.append(D.Heading(3, prob, f"dyn-{D.slug(prob)}"))
            blocks += self.truncation_note(prob)
            title = f"{prob}: per epoch, the chosen configuration of each value (one line per seed)"
            blocks.append(self.figure(F.learning_curves(curves, key, title), f"curves_{_fname(prob)}",
                                      f"{prob}: learning curves of each {self.axis or 'configuration'}'s chosen "
                                      "configuration (one line per seed); diverged cells dashed, ending in a red ×."))
            drew = True
            if diverged:
                blocks.append(D.Para(f"Diverged on {prob}: " + "; ".join(
                    f"`{c.cell_id}` ({A.describe_config({**c.scientific, **c.nuisance})}, seed {A.show(c.seed)}: {c.reason})"
                    for c in diverged[:MAX_DIVERGED_CURVES]) + (" …" if len(diverged) > MAX_DIVERGED_CURVES else "") + "."))
            ranged = sorted((c for c in self.store.cells if c.problem == prob and c.lr_range),
                            key=lambda c: (A.show(c.seed), c.cell_id))
            if ranged:
                chosen: dict[str, A.CellRecord] = {}
                for c in ranged:  # one LR range test per scientific value
                    chosen.setdefault(A.canon(c.scientific.get(self.axis)) if self.axis else "all", c)
                series = [(f"{A.show(c.scientific.get(self.axis)) if self.axis else 'run'} (seed {A.show(c.seed)}, "
                           f"chosen {_short_num(c.lr_range.get('chosen_lr'))})",
                           groups.get(A.canon(c.scientific.get(self.axis)), 0), c.lr_range) for c in list(chosen.values())[:10]]
                blocks.append(self.figure(F.lr_range(series, f"{prob}: LR range test"), f"lr_range_{_fname(prob)}",
                                          f"{prob}: LR range tests (loss against learning rate; dashed: the rate chosen)."))
        if not drew:
            blocks.append(D.Para("No cell stored a per-epoch history (metrics.csv)."))
        return blocks

    # ---- 5. cost
    def cost_section(self) -> list[D.Block]:
        from zoo.report import figures as F

        blocks: list[D.Block] = [D.Heading(2, "Cost", "cost")]
        df = self.rows[self.rows.status == "ok"]
        if df.empty or "fit_throughput" not in df:
            blocks.append(D.Para("No finished cell recorded its throughput."))
        else:
            keys = ["problem", "batch_size", "device", "precision"]
            d = df.copy()
            for k in keys:
                if k not in d:
                    d[k] = "—"
                d[k] = d[k].map(lambda x: "—" if x is None or (isinstance(x, float) and math.isnan(x)) else x)
            rows, bars = [], []
            for key, g in d.groupby(keys, sort=False, dropna=False):
                s = A.mean_ci(g["fit_throughput"].tolist())
                rows.append([key[0], A.show(key[1]), str(key[2]), str(key[3]), fmt_ci(s), str(s.n)])
                if s.n:
                    bars.append((key[0], key[1], f"{key[2]} / {key[3]}", s.mean, s.half))
            order = {p: i for i, p in enumerate(self.store.problems)}
            rows.sort(key=lambda r: (order.get(r[0], len(order)), _num(r[1]), r[2], r[3]))
            blocks.append(D.Para("Training throughput (samples per second, evaluation excluded), mean ± 95% CI over "
                                 "the finished cells of each batch size × device × precision:"))
            blocks.append(D.Table(["problem", "batch size", "device", "precision", "samples / s", "cells"], rows,
                                  caption="Throughput by batch size × device × precision"))
            per_problem = Counter(b[0] for b in bars)
            if any(n > 1 for n in per_problem.values()):
                bars = [b for b in bars if per_problem[b[0]] > 1]
                blocks.append(self.figure(F.throughput(bars), "throughput",
                                          "Training throughput by batch size (bars: device / precision; whiskers: 95% CI)."))
        blocks += self.time_to_target()
        blocks += self.size_table()
        blocks += self.lost_cells()
        return blocks

    def lost_cells(self) -> list[D.Block]:
        """Skipped and failed cells grouped by reason: what the budget did not buy."""
        groups: dict[tuple[str, str], list[A.CellRecord]] = {}
        for c in self.store.cells:
            if c.status in ("skipped", "error", "oom"):
                groups.setdefault((c.status, c.reason or "—"), []).append(c)
        if not groups:
            return [D.Para("No cell was skipped or failed.")]
        rows = [[status, reason, str(len(cs)), ", ".join(sorted({c.problem for c in cs}))]
                for (status, reason), cs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
        return [D.Table(["status", "reason", "cells", "problems"], rows,
                        caption="Skipped and failed cells by reason (each cell: [unfinished cells](#unfinished))")]

    def time_to_target(self) -> list[D.Block]:
        target = self.store.study.get("target")
        desc = _describe_target(target)
        if "time_to_target" not in self.rows or not self.rows.time_to_target.notna().any():
            return [D.Para(f"Time to target: {'target ' + desc + ', ' if desc else 'no target in study.json; '}"
                           "no cell recorded reaching it.")]
        rows = []
        for v in self.verdicts:
            if v.axis != self.axis:
                continue
            for e in v.entries:
                sub = self.rows[self.rows.cell_id.isin(e.cell_ids)]
                reached = sub.time_to_target.dropna()
                rows.append([v.problem, A.show(e.value) if self.axis else "best", f"{len(reached)}/{len(sub)}",
                             fmt_ci(A.mean_ci(reached.tolist())) + " s" if len(reached) else "—",
                             fmt_ci(A.mean_ci(sub.get("fit_train_seconds", pd.Series(dtype=float)).tolist())) + " s"])
        return [D.Para(f"Time to target ({desc or 'as the harness defines it'}): wall-clock training seconds until "
                       "the target was first met, over the seeds of each value's chosen configuration that reached it."),
                D.Table(["problem", self.axis or "configuration", "reached", "time to target", "total training time"],
                        rows, caption="Time to target")]

    def size_table(self) -> list[D.Block]:
        df = self.rows[self.rows.status.isin(["ok", "diverged", "oom"])]
        if df.empty:
            return []
        rows = []
        order = {p: i for i, p in enumerate(self.store.problems)}
        df = df.sort_values("problem", key=lambda s: s.map(order), kind="stable")
        for (prob, model), g in df.groupby(["problem", "model"], sort=False, dropna=False):
            params = sorted({int(x) for x in g.get("num_parameters", pd.Series(dtype=float)).dropna()})
            mem = A.mean_ci(g.get("peak_memory_mb", pd.Series(dtype=float)).tolist())
            secs = A.mean_ci(g.get("seconds", pd.Series(dtype=float)).tolist())
            rows.append([prob, str(model), ", ".join(f"{p:,}" for p in params[:4]) + (" …" if len(params) > 4 else "") or "—",
                         fmt_ci(mem), fmt_ci(secs)])
        kinds = sorted({str(k) for k in self.rows.get("peak_memory_kind", pd.Series(dtype=object)).dropna()})
        mem = "peak memory (MB" + (f", {', '.join(k.replace('_', ' ') for k in kinds)})" if kinds else ")")
        return [D.Table(["problem", "model", "parameters", mem, "seconds per cell"], rows,
                        caption="Model size, peak memory and wall time per cell (mean ± 95% CI)")]

    # ---- failures and all cells
    def failures_section(self) -> list[D.Block]:
        bad = [c for c in self.store.cells if c.status != "ok"]
        blocks: list[D.Block] = [D.Heading(2, "Unfinished cells", "unfinished")]
        if not bad:
            return blocks + [D.Para("Every cell finished.")]
        order = {k: i for i, k in enumerate(["error", "oom", "diverged", "skipped", A.PENDING, A.UNREADABLE])}
        bad.sort(key=lambda c: (order.get(c.status, 9), c.problem, c.cell_id))
        rows = [[c.status, c.problem, A.describe_config({**c.scientific, **c.nuisance}) or "—", A.show(c.seed),
                 f"`{c.cell_id}`", c.reason or "—"] for c in bad]
        counts = Counter(c.status for c in bad)
        blocks.append(D.Para("Cells without a usable result, with the reason the harness recorded "
                             f"({', '.join(f'{n} {k}' for k, n in counts.items())}). Diverged cells count against their "
                             "configuration; errors, out-of-memory, skipped and pending cells are left out of the comparison."))
        blocks.append(D.Table(["status", "problem", "settings", "seed", "cell", "reason"], rows,
                              caption="Unfinished cells", collapse_after=20))
        return blocks

    def cells_section(self) -> list[D.Block]:
        df = self.rows
        cols = ["cell_id", "problem", *self.sci, *[a for a in self.store.nuisance_axes if a in df.columns], "seed", "status"]
        rows = []
        for _, r in df.iterrows():
            v = self.verdict_of(r.problem)
            m = v.metric if v is not None else None
            vals = [f"`{r.cell_id}`" if c == "cell_id" else A.show(r[c]) if not _isnan(r[c]) else "—" for c in cols]
            vals += [fmt(r.get(f"val_{m}")) if m else "—", fmt(r.get(f"test_{m}")) if m else "—", m or "—"]
            rows.append(vals)
        return [D.Heading(2, "All cells", "cells"),
                D.Para("Every cell with its headline metric; `results.csv` holds all metrics at full precision, "
                       "`per_class.csv` the per-class values and `verdict.csv` the comparisons."),
                D.Table(cols + ["val", "test", "metric"], rows, caption="All cells", collapse_after=0)]

    # ---------------------------------------------------------------------------- files
    def write(self, doc: D.Document) -> list[Path]:
        out = self.out
        files = [out / "README.md", out / "index.html", out / "results.csv", out / "per_class.csv", out / "verdict.csv"]
        (out / "README.md").write_text(D.to_markdown(doc))
        (out / "index.html").write_text(D.to_html(doc))
        self.rows.to_csv(out / "results.csv", index=False)
        self.per_class_frame().to_csv(out / "per_class.csv", index=False)
        self.verdict_frame().to_csv(out / "verdict.csv", index=False)
        keep = {f"{n}.{ext}" for n in self.figures for ext in ("png", "svg")}
        if self.fig_dir.is_dir():
            for f in self.fig_dir.iterdir():  # figures of an earlier report of this study that no longer exist
                if f.suffix in (".png", ".svg") and f.name not in keep:
                    f.unlink()
            files += sorted(self.fig_dir / k for k in keep)
        elif not self.figures:
            shutil.rmtree(self.fig_dir, ignore_errors=True)
        return files

    def per_class_frame(self) -> pd.DataFrame:
        recs = []
        for c in self.store.cells:
            m = self.table.test_metrics.get(c.cell_id, {})
            p = m.get("precision_per_class")
            if not p:
                continue
            names = _class_names(c)
            for k in range(len(p)):
                rec = {"cell_id": c.cell_id, "problem": c.problem, "class": k,
                       "class_name": names[k] if names and k < len(names) else str(k),
                       "precision": p[k], "recall": m["recall_per_class"][k], "f1": m["f1_per_class"][k],
                       "support": m["support_per_class"][k]}
                if "auroc_per_class" in m:
                    rec.update(auroc=m["auroc_per_class"][k], ap=m["ap_per_class"][k])
                recs.append(rec)
        return pd.DataFrame(recs, columns=["cell_id", "problem", "class", "class_name", "precision", "recall", "f1",
                                           "support", "auroc", "ap"])

    def verdict_frame(self) -> pd.DataFrame:
        recs = []
        for v in self.verdicts:
            for rank, e in enumerate(v.entries, 1):
                cmp = v.comparison if rank == 1 else None
                vs = v.versus[rank - 2] if rank > 1 else None
                recs.append({
                    "problem": v.problem, "axis": v.axis, "metric": v.metric, "mode": v.mode, "rank": rank,
                    "value": A.show(e.value) if v.axis else None, "config": json.dumps(e.config, default=str),
                    "mean": e.stats.mean, "ci95_half": e.stats.half, "n": e.stats.n,
                    "seeds": json.dumps({A.show(k): x for k, x in e.test.items()}),
                    "select_metric": e.select_metric, "select_score": e.select_score, "n_configs": e.n_configs,
                    "n_diverged": e.n_diverged, "best_cell": e.best_cell, "cells": json.dumps(e.cell_ids),
                    "margin": v.margin if rank == 1 else None,
                    "p_value": cmp.pvalue if cmp else None, "paired_n": cmp.n if cmp else None,
                    "significant": cmp.significant if cmp else None,
                    "p_vs_winner": vs.pvalue if vs else None,
                    "p_vs_winner_holm": v.holm[rank - 2] if vs else None,
                })
        return pd.DataFrame(recs)


def _fname(text: str) -> str:
    return D.slug(str(text)).replace("-", "_") or "x"


def _isnan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _short_num(x: Any) -> str:
    return f"{x:.3g}" if isinstance(x, (int, float)) else A.show(x)


def _num(text: str) -> tuple:
    try:
        return (0, float(text))
    except ValueError:
        return (1, text)


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, f"{key}."))
        elif isinstance(v, list):
            out[key] = ", ".join(map(A.show, v))
        else:
            out[key] = v
    return out


def _class_names(c: A.CellRecord) -> list[str] | None:
    for src in (c.result or {}, c.cell, (c.result or {}).get("metrics", {}).get("test", {})):
        names = src.get("class_names") if isinstance(src, dict) else None
        if isinstance(names, list) and names:
            return [str(n) for n in names]
    return None


def _describe_target(target: Any) -> str:
    if isinstance(target, dict):
        if "metric" in target and "value" in target:
            m = str(target["metric"])
            mode = target.get("mode") or A.metric_mode(m)
            return f"{m} {'≤' if mode == 'min' else '≥'} {A.show(target['value'])}"
        return ", ".join(f"{k} {'≤' if A.metric_mode(k) == 'min' else '≥'} {A.show(v)}" for k, v in target.items())
    return "" if target is None else A.show(target)

