"""``zoo report``: turn a study's results store into ``reports/<study>/``.

Writes ``README.md`` (renders on a code host), ``index.html`` (self-contained: figures
embedded, no network), ``figures/*.png|svg``, ``results.csv`` (one row per cell, full
precision), ``per_class.csv`` and ``verdict.csv``. Everything is computed from the store
(zoo/report/tables.py, stats.py, curves.py); no model code is imported, and running it again
on the same store writes the same files. The files are written together: each to a temporary
file, then all renamed into place, so a failure (a full disk) leaves no half-written report.

The sections live in zoo/report/detail.py (classification, other families) and
zoo/report/dynamics.py (training dynamics, cost); this module holds the verdict, the
unfinished cells, the table of all cells, and the files.

Order of the report, verdict first: the winner of each scientific axis per problem (mean ±
95% CI over seeds, margin, paired test) and the isolation plots, with fixed settings and
the environment as caveats; then classification detail (per-class tables, ROC, PR,
confusion), the other families' metrics, training dynamics, cost, and every cell that did
not finish with its reason.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from zoo import record as R
from zoo.errors import writing
from zoo.io import check_output_dir
from zoo.report import curves as C
from zoo.report import document as D
from zoo.report import stats as S
from zoo.report import tables as T
from zoo.report.base import class_names
from zoo.report.detail import FAMILY_TITLES, DetailSections
from zoo.report.dynamics import DynamicsSections
from zoo.report.fmt import fmt, fmt_ci, fmt_p, fmt_signed, fname

ENV_SKIP = ("pid",)
"""env.json keys that differ per process and say nothing about the environment."""


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
    verdicts: list[S.Verdict]
    wandb_runs: int = 0
    notes: list[str] = field(default_factory=list)


def build_report(runs_dir: str | Path, out_dir: str | Path | None = None, *, metric: str | None = None,
                 wandb: bool = False, wandb_project: str | None = None, command: str | None = None) -> Report:
    """Write the report of the store ``runs_dir`` into ``out_dir`` (default ``reports/<study>``).

    ``metric`` overrides the headline metric (without stage prefix, e.g. ``f1``); ``wandb``
    also logs every finished cell as a W&B run (offline unless ``WANDB_MODE`` says otherwise).
    """
    t0 = time.perf_counter()
    if out_dir is not None:
        check_output_dir(out_dir)
    store = T.load(runs_dir)
    table = T.cell_table(store)
    verdicts = S.verdicts(table, metric)  # refuses a --metric the store does not have
    out = Path(out_dir) if out_dir is not None else Path("reports") / store.name
    check_output_dir(out)
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


class _Builder(DetailSections, DynamicsSections):
    """The report of one store: its sections in order, and the files written."""

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
        if kinds & set(C.CLASSIFICATION_KINDS):
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
        order = ["ok", "pruned", "diverged", "error", "oom", "skipped", R.PENDING, R.UNREADABLE]
        parts = [f"{counts[k]} {k}" for k in order if counts.get(k)]
        seeds = T.sort_values({c.seed for c in s.cells if c.seed is not None})
        text = f"**{len(s.cells)} cells** ({', '.join(parts)}) over {len(s.problems)} problem(s), seeds {', '.join(map(T.show, seeds)) or '—'}."
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
            win = f"**{T.show(w.value) if v.axis else 'best'}**" + (f" ({tuned})" if tuned else "")
            cmp = v.comparison
            sig = "—" if cmp is None or cmp.significant is None else ("yes" if cmp.significant else "no")
            rows.append([
                v.problem, v.axis or "—", f"{v.metric} {'↑' if v.mode == 'max' else '↓'}", win, f"{fmt_ci(w.stats)} ({w.stats.n})",
                T.show(r.value) if r else "—", f"{fmt_ci(r.stats)} ({r.stats.n})" if r else "—",
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
            "direction. " + S.PAIRED_WHY))
        for axis in self.sci or []:
            vs = [v for v in self.verdicts if v.axis == axis and v.entries]
            if vs:
                from zoo.report import figures as F

                blocks.append(self.figure(F.isolation(vs, axis), f"isolation_{fname(axis)}",
                                          f"Isolation plot for {axis}: the test metric of the best nuisance "
                                          "setting per value (colour: seeds; black: mean ± 95% CI; hollow diamond: "
                                          "validation score that chose it; grey: the other nuisance settings)."))
        blocks += [D.Heading(3, "Caveats", "caveats"), D.Bullets(self.caveats())]
        return blocks

    def verdict_sentence(self, v: S.Verdict) -> str:
        w, r = v.winner, v.runner_up
        assert w is not None
        if v.axis is None:
            return (f"**{v.problem}**: the best configuration ({T.describe_config(w.config) or 'the only one'}) "
                    f"reaches test {v.metric} {fmt_ci(w.stats)} (n={w.stats.n}).")
        head = f"**{v.problem}**: `{v.axis}` = **{T.show(w.value)}** wins with test {v.metric} {fmt_ci(w.stats)} (n={w.stats.n})"
        if r is None:
            return head + "; no other value finished, so nothing to compare."
        cmp = v.comparison
        if abs(v.margin) <= 1e-12:
            head = (f"**{v.problem}**: `{v.axis}` = **{T.show(w.value)}** and **{T.show(r.value)}** tie at test "
                    f"{v.metric} {fmt_ci(w.stats)} (n={w.stats.n}) and {fmt_ci(r.stats)} (n={r.stats.n})")
            return head + (f"; paired t-test over {cmp.n} seeds p = {cmp.pvalue:.3f}." if cmp and cmp.testable else ".")
        text = f"{head}, {fmt_signed(v.margin, w.stats.mean)} over {T.show(r.value)} ({fmt_ci(r.stats)})"
        if cmp is None or not cmp.testable:
            return text + f"; not testable ({cmp.note if cmp else 'no shared seeds'})."
        p = "p < 0.001" if cmp.pvalue < 0.001 else f"p = {cmp.pvalue:.3f}"
        if cmp.significant:
            text += f"; significant at α = {S.ALPHA} (paired t-test over {cmp.n} seeds, {p})."
        else:
            text += f"; not significant (paired t-test over {cmp.n} seeds, {p}): the seeds do not separate them."
        return text + self.versus_sentence(v)

    @staticmethod
    def versus_sentence(v: S.Verdict) -> str:
        """Which other values the winner beats once the p-values are Holm-adjusted for how many were compared."""
        tested = [(e, c, h) for e, c, h in zip(v.entries[1:], v.versus, v.holm) if c is not None and c.testable]
        if len(tested) < 2:
            return ""
        beaten = [f"{T.show(e.value)} (p = {h:.3f})" for e, c, h in tested if h < S.ALPHA]
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
        search = s.study.get("search")
        if isinstance(search, dict) and search.get("kind") == "optuna":
            out.append(f"The nuisance settings were chosen by an Optuna search ({search.get('sampler')} sampler, "
                       f"{search.get('n_trials')} trials per problem and value, pruner {search.get('pruner') or 'none'}, "
                       f"objective `{search.get('objective')}` averaged over {search.get('seeds_per_trial')} seed(s)): "
                       "each trial is a configuration, and the verdict chooses among those that finished on the validation "
                       "metric, as in any study.")
        budget = s.study.get("budget")
        if isinstance(budget, dict) and budget:
            out.append("Budget per cell: " + ", ".join(f"`{k}={T.show(v)}`" for k, v in budget.items()) + ".")
        for v in self.verdicts:
            for e in v.entries:
                if e.select_metric.startswith("test_"):
                    out.append(f"{v.problem}: no validation metric is stored, so the nuisance setting of "
                               f"{T.show(e.value)} was chosen on the **test** metric (optimistic).")
                    break
            ns = {e.stats.n for e in v.entries if e.stats.n}
            if len(ns) > 1:
                out.append(f"{v.problem}: values were compared over different numbers of seeds ({', '.join(map(str, sorted(ns)))}) "
                           "because some cells did not finish; see [unfinished cells](#unfinished).")
        pruned = [c for c in s.cells if c.status == R.PRUNED]
        if pruned:  # an Optuna search's pruner (zoo/bench/optuna_search.py): the compute it saved
            saved = sum(int(((c.result or {}).get("search") or {}).get("epochs_saved") or 0) for c in pruned)
            trained = sum(int((c.result or {}).get("epochs") or 0) for c in s.cells if c.result)
            out.append(f"The search's pruner stopped {len(pruned)} cell(s) early, saving {saved} of the "
                       f"{saved + trained} epochs their budgets allowed ({saved / max(1, saved + trained):.0%}).")
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
            values.setdefault(k, {}).setdefault(T.canon(v), set())
        for c in self.store.cells:
            for k, v in (c.cell.get("fixed") or {}).items():
                values.setdefault(k, {}).setdefault(T.canon(v), set()).add(c.problem)
        out = []
        for k, by_value in values.items():
            if len(by_value) == 1:
                out.append(f"`{k}={T.show(json.loads(next(iter(by_value))))}`")
            else:
                out.append(f"`{k}` " + ", ".join(f"`{T.show(json.loads(v))}` ({', '.join(sorted(p)) or 'study'})"
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
                    flat.setdefault(k, Counter())[T.show(v) if v is not None else "—"] += 1
        parts = []
        for k, cnt in flat.items():
            if len(cnt) == 1:
                parts.append(f"{k} `{next(iter(cnt))}`")
            elif len(cnt) <= 4:
                parts.append(f"{k} " + ", ".join(f"`{v}` ({n} cells)" for v, n in cnt.most_common()))
            else:
                parts.append(f"{k} varies ({len(cnt)} values)")
        return [f"Environment ({len(envs)} cells with env.json): " + "; ".join(parts) + "."]

    # ---- failures and all cells
    def failures_section(self) -> list[D.Block]:
        bad = [c for c in self.store.cells if c.status != "ok"]
        blocks: list[D.Block] = [D.Heading(2, "Unfinished cells", "unfinished")]
        if not bad:
            return blocks + [D.Para("Every cell finished.")]
        order = {k: i for i, k in enumerate(["error", "oom", "diverged", "skipped", R.PENDING, R.UNREADABLE])}
        bad.sort(key=lambda c: (order.get(c.status, 9), c.problem, c.cell_id))
        rows = [[c.status, c.problem, T.describe_config({**c.scientific, **c.nuisance}) or "—", T.show(c.seed),
                 f"`{c.cell_id}`", c.reason or "—"] for c in bad]
        counts = Counter(c.status for c in bad)
        blocks.append(D.Para("Cells without a usable result, with the reason the harness recorded "
                             f"({', '.join(f'{n} {k}' for k, n in counts.items())}). Diverged cells count against their "
                             "configuration; errors, out-of-memory, skipped, pruned and pending cells are left out of the comparison."))
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
            vals = [f"`{r.cell_id}`" if c == "cell_id" else T.show(r[c]) if not T.isnan(r[c]) else "—" for c in cols]
            vals += [fmt(r.get(f"val_{m}")) if m else "—", fmt(r.get(f"test_{m}")) if m else "—", m or "—"]
            rows.append(vals)
        return [D.Heading(2, "All cells", "cells"),
                D.Para("Every cell with its headline metric; `results.csv` holds all metrics at full precision, "
                       "`per_class.csv` the per-class values and `verdict.csv` the comparisons."),
                D.Table(cols + ["val", "test", "metric"], rows, caption="All cells", collapse_after=0)]

    # ---------------------------------------------------------------------------- files
    def write(self, doc: D.Document) -> list[Path]:
        """Write every file (figures of an earlier report that are no longer drawn are removed)."""
        contents = {
            "README.md": D.to_markdown(doc).encode(),
            "index.html": D.to_html(doc).encode(),
            "results.csv": self.rows.to_csv(index=False).encode(),
            "per_class.csv": self.per_class_frame().to_csv(index=False).encode(),
            "verdict.csv": self.verdict_frame().to_csv(index=False).encode(),
            **{f"figures/{k}": v for k, v in sorted(self.figure_files.items())},
        }
        write_together(self.out, contents)
        if self.fig_dir.is_dir():
            for f in self.fig_dir.iterdir():  # figures of an earlier report of this study that no longer exist
                if f.suffix in (".png", ".svg") and f.name not in self.figure_files:
                    f.unlink()
        return [self.out / name for name in contents]

    def per_class_frame(self) -> pd.DataFrame:
        recs = []
        for c in self.store.cells:
            m = self.table.test_metrics.get(c.cell_id, {})
            p = m.get("precision_per_class")
            if not p:
                continue
            names = class_names(c)
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
                    "value": T.show(e.value) if v.axis else None, "config": json.dumps(e.config, default=str),
                    "mean": e.stats.mean, "ci95_half": e.stats.half, "n": e.stats.n,
                    "seeds": json.dumps({T.show(k): x for k, x in e.test.items()}),
                    "select_metric": e.select_metric, "select_score": e.select_score, "n_configs": e.n_configs,
                    "n_diverged": e.n_diverged, "best_cell": e.best_cell, "cells": json.dumps(e.cell_ids),
                    "margin": v.margin if rank == 1 else None,
                    "p_value": cmp.pvalue if cmp else None, "paired_n": cmp.n if cmp else None,
                    "significant": cmp.significant if cmp else None,
                    "p_vs_winner": vs.pvalue if vs else None,
                    "p_vs_winner_holm": v.holm[rank - 2] if vs else None,
                })
        return pd.DataFrame(recs)


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, f"{key}."))
        elif isinstance(v, list):
            out[key] = ", ".join(map(T.show, v))
        else:
            out[key] = v
    return out


def write_together(out: Path, contents: dict[str, bytes]) -> None:
    """Write ``{relative name: bytes}`` under ``out``: every file to a temporary one first, then
    all renamed into place. A failure (disk full: :class:`zoo.errors.StorageError`, one line)
    removes the temporaries, and ``out`` too if this call created it; the files of an earlier
    report stay as they were."""
    created = not out.exists()
    staged: list[tuple[Path, Path]] = []
    try:
        with writing(out):
            for name, data in contents.items():
                path = out / name
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
                staged.append((tmp, path))
                with open(tmp, "wb") as f:
                    f.write(data)
            for tmp, path in staged:
                os.replace(tmp, path)
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
