"""What every section of a report needs: the store, its table and verdicts, and the figures drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from zoo import record as R
from zoo.report import document as D
from zoo.report import stats as S
from zoo.report import tables as T
from zoo.report.fmt import fmt_ci

MAX_PANELS = 6
"""Figures draw at most this many scientific values (the first in rank order, by validation) per problem."""
MAX_DIVERGED_CURVES = 20


class Sections:
    """The state a report is built from, and the helpers its sections share."""

    def __init__(self, store: T.Snapshot, table: T.Table, verdicts: list[S.Verdict], out: Path, command: str,
                 *, svg: bool = False):
        self.store, self.table, self.verdicts, self.out, self.command = store, table, verdicts, out, command
        self.svg = svg
        """Also write every figure as SVG (``zoo report --svg``); PNG only otherwise."""
        self.rows = table.rows
        self.fig_dir = out / "figures"
        self.figures: list[str] = []
        self.figure_files: dict[str, bytes] = {}
        """File name -> bytes of every figure drawn (written with the report's other files)."""
        self.sci = [a for a in store.scientific_axes if a in self.rows.columns]
        self.axis = self.sci[0] if self.sci else None
        """The primary scientific axis: figures draw one panel / colour per value of it."""

    # ---------------------------------------------------------------------------- helpers
    def figure(self, fig: Any, name: str, caption: str) -> D.Figure:
        from zoo.report import figures as F

        png, svg = F.render(fig, svg=self.svg)
        self.figures.append(name)
        self.figure_files[f"{name}.png"] = png
        if svg is not None:
            self.figure_files[f"{name}.svg"] = svg
        return D.Figure(name, caption, png, svg=svg is not None)

    def verdict_of(self, problem: str, axis: str | None = None) -> S.Verdict | None:
        axis = axis if axis is not None else self.axis
        return next((v for v in self.verdicts if v.problem == problem and v.axis == axis), None)

    def describe_tuned(self, e: S.Entry) -> str:
        """The chosen configuration, with what a tuner picked: ``lr=range_test → 0.0123``
        (median over the configuration's seeds)."""
        parts = []
        for a, val in e.config.items():
            col = f"tuned_{a}"
            text = f"{a}={T.show(val)}"
            if col in self.rows.columns:
                picked = pd.to_numeric(self.rows[self.rows.cell_id.isin(e.cell_ids)][col], errors="coerce").dropna()
                if len(picked):
                    text += f" → {float(picked.median()):.3g}"
            parts.append(text)
        return ", ".join(parts)

    def value_label(self, e: S.Entry) -> str:
        return f"{self.axis}={T.show(e.value)}" if self.axis else "best configuration"

    def representatives(self, problem: str) -> list[tuple[S.Entry, R.CellRecord]]:
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
                       f"`{self.axis}` (by validation rank); the tables above list them all.")]

    @property
    def compared_problems(self) -> list[str]:
        """The problems a verdict compares on: every problem but the source stages (the transfer
        section, zoo/report/transfer.py, shows those; the cost sections count them)."""
        stages = T.source_stages(self.store)
        return [p for p in self.store.problems if p not in stages]

    def kind(self, problem: str) -> str | None:
        return self.table.kinds.get(problem)

    def group_index(self, problem: str | None = None, axis: str | None = None) -> dict[str, int]:
        """Colour index per value of ``axis`` (default: the primary scientific axis): the value's
        place among all the values the report's cells have, so one value has one colour in every
        figure of the report, whatever the problem (``problem`` is accepted for the callers)."""
        axis = axis or self.axis
        if axis is None or axis not in self.rows.columns:
            return {}
        values = {T.canon(T.native(x)): T.native(x) for x in self.rows[axis] if not T.isnan(x)}
        return {T.canon(x): i for i, x in enumerate(T.sort_values(values.values()))}

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
            cells = [T.show(e.value) if self.axis else "best", self.describe_tuned(e) or "—", str(len(ids))]
            for m in metrics:
                cells.append(fmt_ci(S.mean_ci(df.loc[ids, f"test_{m}"].tolist())) if ids else "—")
            rows.append(cells)
        return D.Table(cols, rows, caption=f"{problem}: test metrics of each value's chosen configuration, "
                                         "mean ± 95% CI over seeds")


def class_names(c: R.CellRecord) -> list[str] | None:
    for src in (c.result or {}, c.cell, (c.result or {}).get("metrics", {}).get("test", {})):
        names = src.get("class_names") if isinstance(src, dict) else None
        if isinstance(names, list) and names:
            return [str(n) for n in names]
    return None


def target_unit(c: R.CellRecord) -> object:
    """The regression target's unit a cell recorded (``target_unit``: dollars per unit for California
    housing, from the dataset's DataInfo), or None."""
    for src in (c.result or {}, c.cell, (c.result or {}).get("data_info") or {}):
        if isinstance(src, dict) and src.get("target_unit") is not None:
            return src["target_unit"]
    return None
