"""``zoo report``: turn a study's results store into ``reports/<study>/``.

Writes ``README.md`` (renders on a code host), ``index.html`` (self-contained: each figure
embedded once, no network), ``figures/*.png`` (and ``*.svg`` with ``svg=True``), ``results.csv`` (one row per cell, full
precision), ``per_class.csv``, ``verdict.csv`` and, for a transfer study, ``transfer.csv``. Everything is computed from the store
(zoo/report/tables.py, stats.py, curves.py); no model code is imported, and running it again
on the same store writes the same files. The files are written together: each to a temporary
file, then all renamed into place, so a failure (a full disk) leaves no half-written report.

The sections live in zoo/report/verdict.py (the verdict, verdict.csv), zoo/report/detail.py
(classification, other families) and zoo/report/dynamics.py (training dynamics, cost); this
module holds the verdict's caveats, the unfinished cells, the table of all cells, and the files.

Order of the report, verdict first: a transfer study's section (zoo/report/transfer.py: every arm
against scratch per number of labelled examples, where scratch catches up, data efficiency, the arms'
cost, the source stages); what is missing, unfinished or no better than a trivial
predictor; every value of each scientific axis per problem against the best on validation
(test mean ± 95% CI over seeds, Holm-adjusted paired test, P(best > value)), the tied-for-best
group, and the isolation plots, with fixed settings and the environment as caveats; then classification detail (per-class tables, ROC, PR,
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
from zoo.report.baselines import baseline_blocks
from zoo.report.detail import FAMILY_TITLES, DetailSections
from zoo.report.dynamics import DynamicsSections
from zoo.report.fmt import fmt, fmt_seconds
from zoo.report.transfer import TransferSections
from zoo.report.pareto import pareto_blocks
from zoo.report.verdict import VerdictSections

ENV_SKIP = ("pid",)
"""env.json keys that differ per process and say nothing about the environment."""
GIT_KEYS = ("git_commit", "git_dirty")
"""env.json keys of the code's version, said in words (``_Builder.code_version``)."""


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
                 wandb: bool = False, wandb_project: str | None = None, command: str | None = None,
                 svg: bool = False) -> Report:
    """Write the report of the store ``runs_dir`` into ``out_dir`` (default ``reports/<study>``).

    ``metric`` overrides the headline metric (without stage prefix, e.g. ``f1``); ``wandb``
    also logs every finished cell as a W&B run (offline unless ``WANDB_MODE`` says otherwise);
    ``svg`` also writes every figure as SVG (PNG only by default).
    """
    t0 = time.perf_counter()
    if out_dir is not None:
        check_output_dir(out_dir)
    store = T.load(runs_dir)
    table = T.cell_table(store)
    verdicts = S.verdicts(table, metric)  # refuses a --metric the store does not have
    out = Path(out_dir) if out_dir is not None else Path("reports") / store.name
    check_output_dir(out)
    options = (f" --out {out_dir}" if out_dir is not None else "") + (f" --metric {metric}" if metric else "") + \
        (" --svg" if svg else "")
    command = command or f"zoo report {runs_dir}{options}"
    builder = _Builder(store, table, verdicts, out, command, svg=svg)
    builder.options = options
    doc = builder.build()
    files = builder.write(doc)
    report = Report(out, files, 0.0, len(store.cells), verdicts)
    if wandb:
        from zoo.report.wandb_log import log_store

        report.wandb_runs = log_store(table, project=wandb_project)
    report.seconds = time.perf_counter() - t0
    return report


class _Builder(TransferSections, VerdictSections, DetailSections, DynamicsSections):
    """The report of one store: its sections in order, and the files written."""

    options = ""
    """The ``zoo report`` options this report was written with (``--out``, ``--metric``, ``--svg``)."""

    # ---------------------------------------------------------------------------- sections
    def build(self) -> D.Document:
        s = self.store
        doc = D.Document(f"Study {s.name}: report")
        question = " ".join(str(s.study.get("description") or "").split())
        if question:
            doc.add(D.Para(f"**Question.** {question}"))
        doc.add(D.Para(self.summary_line()))
        doc.add(D.Para(" · ".join(f"[{t}](#{a})" for t, a in self.toc())))
        doc.add(*self.transfer_section())
        doc.add(*self.verdict_section())
        doc.add(*baseline_blocks(self))
        doc.add(*pareto_blocks(self))
        doc.add(*self.classification_section())
        doc.add(*self.family_sections())
        doc.add(*self.dynamics_section())
        doc.add(*self.cost_section())
        doc.add(*self.failures_section())
        doc.add(*self.cells_section())
        return doc

    def toc(self) -> list[tuple[str, str]]:
        kinds = set(self.table.kinds.values())
        out = ([("Transfer", "transfer")] if self.has_transfer() else []) + [("Verdict", "verdict")]
        if self.store.study.get("baselines"):
            out.append(("Against the baselines", "baselines"))
        search = self.store.study.get("search")
        if isinstance(search, dict) and search.get("objectives"):
            out.append(("Pareto front", "pareto"))
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
        stages = T.source_stages(s)
        n_prob = len([p for p in s.problems if p not in stages])
        where = f"{n_prob} problem(s)" + (f" and {len(stages)} source stage(s)" if stages else "")
        text = f"**{len(s.cells)} cells** ({', '.join(parts)}) over {where}, seeds {', '.join(map(T.show, seeds)) or '—'}."
        if self.sci:
            text += " Scientific: " + ", ".join(f"`{a}`" for a in self.sci) + "."
        nui = [a for a in s.nuisance_axes if a in self.rows.columns]
        if nui:
            text += " Nuisance (tuned per value on the validation set): " + ", ".join(f"`{a}`" for a in nui) + "."
        return text + " " + self.regenerate()

    def regenerate(self) -> str:
        """How to write this report again: from its store, and on a fresh clone, where the store is
        not (stores are not shipped), by re-running the study first, with how long its cells took."""
        s = self.store
        source = str(s.study.get("source") or "")
        shipped = Path(source).parent.name == "benchmarks" and Path(source).suffix in (".yaml", ".yml")
        study = Path(source).stem if shipped else (source or "STUDY_FILE")
        quick = " --quick" if s.study.get("quick") else ""
        bench = " && ".join(f"zoo bench {b}{quick}" for b in [*(s.study.get("baselines") or []), study])  # baselines first
        report = f"zoo report runs/{s.name}{self.options}"
        secs = pd.to_numeric(self.rows.get("seconds", pd.Series(dtype=float)), errors="coerce")
        ran = self.rows.status.isin([R.OK, R.DIVERGED]) & secs.notna()
        n, k = len(s.cells), int(ran.sum())
        took = (f"{n} cells" + (f", of which {k} ran" if k < n else "")
                + (f", {fmt_seconds(float(secs[ran].sum()))} of recorded run time in all; `--workers N` runs N cells at once"
                   if k else ""))
        return (f"**Regenerate** from the store: `{self.command}`. The store (`runs/{s.name}/`) is not shipped, so on a "
                f"fresh clone the study is re-run first: `{bench} && {report}` ({took}).")

    # ---- 1. verdict: zoo/report/verdict.py; its caveats
    def caveats(self) -> list[str]:
        s, out = self.store, []
        fixed = self.fixed_settings()
        if fixed:
            out.append("Held fixed (the conclusions hold for these settings only): " + ", ".join(fixed) + ".")
        search = s.study.get("search")
        if isinstance(search, dict) and search.get("kind") == "optuna":
            out.append(f"The nuisance settings were chosen by an Optuna search ({search.get('sampler')} sampler, "
                       f"{search.get('n_trials')} trials per problem and value, pruner {search.get('pruner') or 'none'}, "
                       + (f"objectives {', '.join(f'`{m} {d}`' for m, d in search['objectives'])} (see the [Pareto front](#pareto))"
                          if search.get("objectives") else f"objective `{search.get('objective')}`") + f" averaged over {search.get('seeds_per_trial')} seed(s)): "
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
        def has_baseline(v: S.Verdict) -> bool:
            col = f"trivial_{v.metric}"
            return col in self.rows.columns and bool(self.rows[self.rows.problem == v.problem][col].notna().any())

        no_baseline = [v.problem for v in self.verdicts if v.winner is not None and not has_baseline(v)]
        if no_baseline:
            out.append("No trivial baseline for " + ", ".join(dict.fromkeys(no_baseline)) + ": it is computed from the "
                       "stored test predictions (majority class, mean predictor), which these problems' cells do not keep.")
        out += self.environment()
        return out

    def fixed_settings(self) -> list[str]:
        """``k=v`` per fixed setting; a setting that differs between problems names them. A source
        stage's settings are its own (the transfer section shows the stage), not the study's."""
        values: dict[str, dict[str, set[str]]] = {}
        stages = T.source_stages(self.store)
        top = self.store.study.get("fixed")
        for k, v in (top if isinstance(top, dict) else {}).items():
            values.setdefault(k, {}).setdefault(T.canon(v), set())
        for c in self.store.cells:
            if c.problem in stages:
                continue
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
        out = [self.code_version(envs)]
        flat: dict[str, Counter] = {}
        for e in envs:
            for k, v in _flatten(e).items():
                if k.split(".")[-1] not in ENV_SKIP + GIT_KEYS:
                    flat.setdefault(k, Counter())[T.show(v) if v is not None else "—"] += 1
        parts = []
        for k, cnt in flat.items():
            if len(cnt) == 1:
                parts.append(f"{k} `{next(iter(cnt))}`")
            elif len(cnt) <= 4:
                parts.append(f"{k} " + ", ".join(f"`{v}` ({n} cells)" for v, n in cnt.most_common()))
            else:
                parts.append(f"{k} varies ({len(cnt)} values)")
        return out + [f"Environment ({len(envs)} cells with env.json): " + "; ".join(parts) + "."]

    @staticmethod
    def code_version(envs: list[dict[str, Any]]) -> str:
        """The commit(s) the cells ran, and whether the tracked files had uncommitted changes."""
        commits = Counter(str(e.get("git_commit")) for e in envs if e.get("git_commit"))
        dirty = Counter(e.get("git_dirty") for e in envs if e.get("git_commit"))
        if not commits:
            return "Code: no git commit recorded (not run from a git checkout)."
        where = ", ".join(f"`{c}`" + (f" ({n} cells)" if len(commits) > 1 else "") for c, n in commits.most_common())
        if dirty.get(True):
            return (f"Code: commit {where}, **with uncommitted changes** to tracked files in {dirty[True]} of "
                    f"{sum(dirty.values())} cells: the commit alone may not reproduce these numbers.")
        if dirty.get(None):
            return f"Code: commit {where}; whether the tree was clean was not recorded for {dirty[None]} cells."
        return f"Code: commit {where}, clean tree (no uncommitted changes to tracked files)."

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
            m = v.metric if v is not None else T.problem_metric(self.table, r.problem)[0]  # a source stage: its own
            vals = [f"`{r.cell_id}`" if c == "cell_id" else T.show(r[c]) if not T.isnan(r[c]) else "—" for c in cols]
            vals += [fmt(r.get(f"val_{m}")) if m else "—", fmt(r.get(f"test_{m}")) if m else "—", m or "—"]
            rows.append(vals)
        return [D.Heading(2, "All cells", "cells"),
                D.Para("Every cell with its headline metric; `results.csv` holds all metrics at full precision, "
                       "`per_class.csv` the per-class values and `verdict.csv` the comparisons"
                       + (", `transfer.csv` every arm against scratch." if self.has_transfer() else ".")),
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
            **({"transfer.csv": self.transfer_frame().to_csv(index=False).encode()} if self.has_transfer() else {}),
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
