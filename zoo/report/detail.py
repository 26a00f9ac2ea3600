"""The detail sections of a report: classification (per-class tables, ROC, PR, confusion) and
each other task family's own metrics (names of zoo/metrics.py)."""

from __future__ import annotations

import numpy as np

from zoo import record as R
from zoo.report import curves as C
from zoo.report import document as D
from zoo.report import stats as S
from zoo.report import tables as T
from zoo.report.base import Sections, class_names
from zoo.report.fmt import fmt, fname

FAMILY_METRICS = {  # each family's own metrics, those a problem stores are shown
    "regression": ("rmse", "mae", "r2"),
    "language_model": ("loss", "perplexity", "bits_per_char", "acc"),
    "seq2seq": ("loss", "acc", "bleu", "exact"),
    "embedding": ("analogy_acc", "analogy_coverage", "ws353_spearman", "ws353_coverage", "simlex_spearman",
                  "simlex_coverage"),
}
FAMILY_NOTES = {
    "language_model": "loss is the mean cross-entropy in nats per character; perplexity = e^loss; "
                      "bits per character = loss / ln 2; acc is next-character accuracy.",
    "seq2seq": "acc is teacher-forced next-token accuracy on the target sentences; BLEU (0–1) and "
               "exact (whole-sentence match) come from greedy decoding.",
    "embedding": "analogy_acc: 3CosAdd accuracy on the analogy questions whose words are all in the vocabulary "
                 "(analogy_coverage: that share); ws353/simlex_spearman: Spearman correlation with human similarity "
                 "judgements on the covered pairs (coverage alongside).",
}
FAMILY_TITLES = {
    "regression": "Regression",
    "language_model": "Language models",
    "seq2seq": "Sequence to sequence",
    "embedding": "Word embeddings",
}
CLASSIFICATION_COLUMNS = ("acc", "precision", "recall", "f1", "auroc", "ap")


class DetailSections(Sections):
    # ---- 2. classification
    def classification_section(self) -> list[D.Block]:
        problems = [p for p in self.compared_problems if self.kind(p) in C.CLASSIFICATION_KINDS]
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
            names = class_names(reps[0][1])
            panels = []
            for e, c in reps:
                threshold = float(self.table.test_metrics.get(c.cell_id, {}).get("threshold", 0.5))
                panels.append(F.Panel(f"{self.value_label(e)} (seed {T.show(c.seed)})", c.predictions["target"],
                                      probs=c.predictions["probs"], threshold=threshold))
            if kind == "binary":
                blocks += self.threshold_table(prob, reps)
            blocks.append(D.Para(f"Representative cells (the chosen configuration's seed with the best validation "
                                 f"score, one per value of `{self.axis}`):" if self.axis else
                                 "Representative cell (best validation score):"))
            for i, (e, c) in enumerate(reps):
                blocks.append(self.per_class_details(prob, e, c, names, open_=i == 0))
            stem = fname(prob)
            blocks += self.comparative_curves(prob, kind)
            best = reps[0]
            blocks.append(D.Para(f"Per-class detail of the best value ({self.value_label(best[0])}, its representative "
                                 f"seed {T.show(best[1].seed)}):"))
            blocks.append(self.figure(F.roc(panels[:1], names), f"roc_classes_{stem}",
                                      f"{prob}: ROC curves of the best value (per class, micro- and macro-average; "
                                      "AUROC in the legend)." if kind == "multiclass" else
                                      f"{prob}: ROC curve of the best value with the operating point of the threshold."))
            blocks.append(self.figure(F.pr(panels[:1], names), f"pr_classes_{stem}",
                                      f"{prob}: precision–recall curves of the best value (AP in the legend)."))
            blocks.append(self.figure(F.confusion(panels, names), f"confusion_{stem}",
                                      f"{prob}: confusion matrices, normalised by true class (rows sum to 1)."))
        return blocks

    def comparative_curves(self, prob: str, kind: str | None) -> list[D.Block]:
        """One ROC and one PR figure of the problem: each value's macro-averaged curve (mean over the
        seeds of its chosen configuration with stored predictions) on shared axes, in its colour."""
        from zoo.report import overlay as O

        v = self.verdict_of(prob)
        groups = self.group_index(prob)
        rocs, prs, rates = [], [], []
        for i, e in enumerate(v.entries if v is not None else []):
            cells = [self.table.cell(cid) for cid in e.cell_ids]
            preds = [c.predictions for c in cells if c is not None and c.predictions is not None and "probs" in c.predictions]
            if not preds:
                continue
            r = [C.macro_roc(p["target"], p["probs"]) for p in preds]
            q = [C.macro_pr(p["target"], p["probs"]) for p in preds]
            rates += [float((np.asarray(p["target"]).reshape(-1) == 1).mean()) for p in preds]
            label, g = (T.show(e.value) if self.axis else "best"), groups.get(T.canon(e.value), i)
            rocs.append(O.Overlay(label, g, r[0][0], np.mean([x[1] for x in r], 0), float(np.mean([x[2] for x in r])), len(r)))
            prs.append(O.Overlay(label, g, q[0][0], np.mean([x[1] for x in q], 0), float(np.mean([x[2] for x in q])), len(q)))
        if not rocs:
            return []
        stem, what = fname(prob), "macro-averaged over classes, " if kind == "multiclass" else ""
        return [self.figure(O.compare_roc(rocs, f"{prob}: ROC of each {self.axis or 'configuration'}",
                                           macro=kind == "multiclass"), f"roc_{stem}",
                            f"{prob}: ROC curve of each value ({what}mean over the seeds of its chosen configuration; "
                            "one colour per value); its AUROC, the mean of the seeds', in the legend."),
                self.figure(O.compare_pr(prs, f"{prob}: precision–recall of each {self.axis or 'configuration'}",
                                         float(np.mean(rates)) if kind == "binary" else None, macro=kind == "multiclass"), f"pr_{stem}",
                            f"{prob}: precision–recall curve of each value ({what}mean over its seeds); its AP "
                            "in the legend" + ("; dotted: the positive rate (chance)." if kind == "binary" else "."))]

    def threshold_table(self, prob: str, reps: list[tuple[S.Entry, R.CellRecord]]) -> list[D.Block]:
        rows = []
        for e, c in reps:
            m = self.table.test_metrics.get(c.cell_id, {})
            rows.append([self.value_label(e), f"`{c.cell_id}`", fmt(m.get("threshold", 0.5)), fmt(m.get("precision")),
                         fmt(m.get("recall")), fmt(m.get("f1"))])
        return [D.Para("Decision threshold: a positive is predicted when the stored positive-class probability "
                       "is ≥ the threshold (0.5 unless the harness stored another); precision and recall at it:"),
                D.Table(["value", "cell", "threshold", "precision", "recall", "F1"], rows,
                        caption=f"{prob}: operating point of the representative cells")]

    def per_class_details(self, prob: str, e: S.Entry, c: R.CellRecord, names: list[str] | None, open_: bool) -> D.Details:
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
        label = f"{self.value_label(e)}, seed {T.show(c.seed)}, cell `{c.cell_id}`"
        return D.Details(f"Per-class precision, recall and F1 — {label}",
                         [D.Table(cols, rows, collapse_after=10_000, anchor=f"perclass-{c.cell_id}")], open=open_)

    # ---- 3. other families
    def family_sections(self) -> list[D.Block]:
        from zoo.report import figures as F

        blocks: list[D.Block] = []
        for kind, title in FAMILY_TITLES.items():
            problems = [p for p in self.compared_problems if self.kind(p) == kind]
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
                        groups = self.group_index(prob)
                        panels = [F.Panel(f"{self.value_label(e)} (seed {T.show(c.seed)})", c.predictions["target"],
                                          pred=c.predictions["pred"], group=groups.get(T.canon(e.value), i))
                                  for i, (e, c) in enumerate(reps)]
                        blocks.append(self.figure(F.regression_scatter(panels), f"scatter_{fname(prob)}",
                                                  f"{prob}: predicted against true values (test set) of the representative cells."))
        return blocks
