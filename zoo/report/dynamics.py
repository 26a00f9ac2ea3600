"""The training-dynamics and cost sections of a report: learning curves, LR range tests,
throughput, time to target, model size, memory, and the cells the budget did not buy."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pandas as pd

from zoo import record as R
from zoo.report import document as D
from zoo.report import stats as S
from zoo.report import tables as T
from zoo.report.base import MAX_DIVERGED_CURVES, MAX_PANELS, Sections, target_unit
from zoo.report.efficiency import efficiency_blocks
from zoo.report.tradeoffs import tradeoff_blocks
from zoo.report.fmt import fmt_ci, fname, num_key, short_num


class DynamicsSections(Sections):
    # ---- 4. training dynamics
    def dynamics_section(self) -> list[D.Block]:
        from zoo.report import figures as F

        blocks: list[D.Block] = [D.Heading(2, "Training dynamics", "dynamics")]
        drew = False
        for prob in self.compared_problems:
            v = self.verdict_of(prob)
            groups = self.group_index(prob)
            curves = []
            if v is not None:
                for e in v.entries[:MAX_PANELS]:
                    for cid in e.cell_ids:
                        h = self.table.history(cid)
                        if h is not None:
                            curves.append(F.Curve(T.show(e.value) if self.axis else "best", groups.get(T.canon(e.value), 0), h))
            diverged = [c for c in self.store.cells if c.problem == prob and c.status == R.DIVERGED and self.table.history(c) is not None]
            for c in diverged[:MAX_DIVERGED_CURVES]:
                value = c.scientific.get(self.axis) if self.axis else None
                curves.append(F.Curve(T.show(value) if self.axis else "best", groups.get(T.canon(value), 0), self.table.history(c),
                                      diverged=True))
            if not curves:
                continue
            key = f"val_{v.metric}" if v is not None else None
            blocks.append(D.Heading(3, prob, f"dyn-{D.slug(prob)}"))
            blocks += self.truncation_note(prob)
            from zoo.report import overlay as O

            title = f"{prob}: per epoch, the chosen configuration of each value (mean over seeds, band)"
            first = self.table.cell(v.entries[0].cell_ids[0]) if v is not None and v.entries and v.entries[0].cell_ids else None
            unit = O.unit_name(target_unit(first)) if first is not None else None
            blocks.append(self.figure(O.learning_bands(curves, key, title, kind=self.kind(prob), unit=unit),
                                      f"curves_{fname(prob)}",
                                      f"{prob}: learning curves of each {self.axis or 'configuration'}'s chosen "
                                      "configuration: the mean over its seeds (line, n in the legend) and a band, the 95% "
                                      "t interval of the mean for 3 or more seeds, min–max for 2; diverged cells drawn "
                                      "alone, dashed, ending in a red ×."))
            drew = True
            if diverged:
                blocks.append(D.Para(f"Diverged on {prob}: " + "; ".join(
                    f"`{c.cell_id}` ({T.describe_config({**c.scientific, **c.nuisance})}, seed {T.show(c.seed)}: {c.reason})"
                    for c in diverged[:MAX_DIVERGED_CURVES]) + (" …" if len(diverged) > MAX_DIVERGED_CURVES else "") + "."))
            ranged = sorted((c for c in self.store.cells if c.problem == prob and c.lr_range),
                            key=lambda c: (T.show(c.seed), c.cell_id))
            if ranged:
                chosen: dict[str, R.CellRecord] = {}
                for c in ranged:  # one LR range test per scientific value
                    chosen.setdefault(T.canon(c.scientific.get(self.axis)) if self.axis else "all", c)
                series = [(f"{T.show(c.scientific.get(self.axis)) if self.axis else 'run'} (seed {T.show(c.seed)}, "
                           f"chosen {short_num(c.lr_range.get('chosen_lr'))})",
                           groups.get(T.canon(c.scientific.get(self.axis)), 0), c.lr_range) for c in list(chosen.values())[:10]]
                blocks.append(self.figure(F.lr_range(series, f"{prob}: LR range test"), f"lr_range_{fname(prob)}",
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
                s = S.mean_ci(g["fit_throughput"].tolist())
                rows.append([key[0], T.show(key[1]), str(key[2]), str(key[3]), fmt_ci(s), str(s.n)])
                if s.n:
                    bars.append((key[0], key[1], f"{key[2]} / {key[3]}", s.mean, s.half))
            order = {p: i for i, p in enumerate(self.store.problems)}
            rows.sort(key=lambda r: (order.get(r[0], len(order)), num_key(r[1]), r[2], r[3]))
            blocks.append(D.Para("Training throughput (samples per second, evaluation excluded), mean ± 95% CI over "
                                 "the finished cells of each batch size × device × precision:"))
            blocks.append(D.Table(["problem", "batch size", "device", "precision", "samples / s", "cells"], rows,
                                  caption="Throughput by batch size × device × precision"))
            per_problem = Counter(b[0] for b in bars)
            if any(n > 1 for n in per_problem.values()):
                bars = [b for b in bars if per_problem[b[0]] > 1]
                blocks.append(self.figure(F.throughput(bars), "throughput",
                                          "Training throughput by batch size (bars: device / precision; whiskers: 95% CI)."))
        blocks += efficiency_blocks(self.rows, self.store.problems)  # FLOPs, fraction of peak, CPU-s, memory
        blocks += self.time_to_target()
        blocks += tradeoff_blocks(self)
        blocks += self.size_table()
        blocks += self.lost_cells()
        return blocks

    def lost_cells(self) -> list[D.Block]:
        """Skipped and failed cells grouped by reason: what the budget did not buy."""
        groups: dict[tuple[str, str], list[R.CellRecord]] = {}
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
                rows.append([v.problem, T.show(e.value) if self.axis else "best", f"{len(reached)}/{len(sub)}",
                             fmt_ci(S.mean_ci(reached.tolist())) + " s" if len(reached) else "—",
                             fmt_ci(S.mean_ci(sub.get("fit_train_seconds", pd.Series(dtype=float)).tolist())) + " s"])
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
            mem = S.mean_ci(g.get("peak_memory_mb", pd.Series(dtype=float)).tolist())
            secs = S.mean_ci(g.get("seconds", pd.Series(dtype=float)).tolist())
            rows.append([prob, str(model), ", ".join(f"{p:,}" for p in params[:4]) + (" …" if len(params) > 4 else "") or "—",
                         fmt_ci(mem), fmt_ci(secs)])
        kinds = sorted({str(k) for k in self.rows.get("peak_memory_kind", pd.Series(dtype=object)).dropna()})
        mem = "peak memory (MB" + (f", {', '.join(k.replace('_', ' ') for k in kinds)})" if kinds else ")")
        return [D.Table(["problem", "model", "parameters", mem, "seconds per cell"], rows,
                        caption="Model size, peak memory and wall time per cell (mean ± 95% CI)")]


def _describe_target(target: Any) -> str:
    if isinstance(target, dict):
        if "metric" in target and "value" in target:
            m = str(target["metric"])
            mode = target.get("mode") or T.mode(m)
            return f"{m} {'≤' if mode == 'min' else '≥'} {T.show(target['value'])}"
        return ", ".join(f"{k} {'≤' if T.mode(k) == 'min' else '≥'} {T.show(v)}" for k, v in target.items())
    return "" if target is None else T.show(target)
