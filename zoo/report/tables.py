"""A study's store as one row per cell, and the metric each problem is judged by.

Reads the store through zoo/bench/store.py (:meth:`Store.snapshot`) and each cell's files
through zoo/record.py; imports no model code (``zoo.models``, ``zoo.tasks``,
``zoo.engine``), so a report can be written on a machine without the training stack. Test
metrics are recomputed from the stored predictions (zoo/report/curves.py).

Vocabulary (deep-learning tuning playbook): a *scientific* axis is what the study
compares; *nuisance* axes are tuned per scientific value (by the validation metric, never
the test metric) so the comparison is fair; *fixed* settings are held constant and are
caveats of the conclusions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zoo import metrics as catalogue
from zoo.bench.store import Snapshot, Store
from zoo.errors import ConfigError, UnknownNameError
from zoo.record import OK, CellRecord
from zoo.report.curves import prediction_kind, prediction_metrics, trivial_metrics

PRIMARY_METRICS: dict[str, tuple[str, ...]] = {
    "multiclass": ("acc",),
    "binary": ("acc",),
    "regression": ("rmse",),
    "language_model": ("bits_per_char", "perplexity", "loss"),
    "seq2seq": ("acc", "bleu"),  # acc: teacher-forced token accuracy
    "embedding": ("analogy_acc", "ws353_spearman", "simlex_spearman"),
}
"""Headline metric per task kind, in order of preference (names of zoo/metrics.py): the
first one a problem's cells store is used. Classification: accuracy, what a reader asks
first (AUROC/AP/F1 are in the detail tables); regression: RMSE in the target's unit."""


def load(path: str | Path) -> Snapshot:
    """The store at ``path`` (a study folder such as runs/<study>), read whole."""
    return Store.open(path).snapshot()


def mode(metric: str) -> str:
    """``min`` if lower is better (zoo/metrics.py); a metric outside the catalogue counts as a score."""
    return catalogue.mode(metric) if catalogue.is_known(metric) else "max"


def canon(value: Any) -> str:
    """A canonical string of an axis value (grouping key; lists and dicts included)."""
    return json.dumps(value, sort_keys=True, default=str)


def show(value: Any) -> str:
    """An axis value as a person reads it: ``adam``, ``0.01``, ``[64, 64]``."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value, default=str) if isinstance(value, (list, dict)) else str(value)


def sort_values(values: Iterable[Any]) -> list[Any]:
    """Numbers in numeric order, everything else by its text (stable across runs)."""
    values = list(values)
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return sorted(values)
    return sorted(values, key=show)


def native(v: Any) -> Any:
    """numpy scalars as Python numbers (for JSON, display and comparisons)."""
    return v.item() if isinstance(v, np.generic) else v


def isnan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def describe_config(config: dict[str, Any]) -> str:
    """``lr=0.01, batch_size=64`` (empty string for no axes)."""
    return ", ".join(f"{k}={show(v)}" for k, v in config.items())


def scalars(metrics: dict[str, Any]) -> dict[str, float]:
    """The scalar entries of a metrics dict (no per-class lists or matrices)."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


# --------------------------------------------------------------------------------------
# One row per cell
# --------------------------------------------------------------------------------------

ROW_FIT_FIELDS = ("stop_reason", "best_epoch", "best_score", "monitor", "steps", "samples",
                  "train_seconds", "throughput", "steps_per_epoch")
ROW_COST_FIELDS = ("num_parameters", "trainable_parameters", "peak_memory_mb", "peak_memory_kind", "seconds", "device", "precision",
                   "batch_size", "flops_per_sample", "achieved_flops", "matmul_peak_flops", "peak_fraction", "cpu_seconds")


@dataclass
class Mismatch:
    """A stored test metric that disagrees with the one recomputed from the predictions."""

    cell_id: str
    metric: str
    stored: float
    recomputed: float


@dataclass
class Table:
    """The store as rows, with what the report needs to interpret them."""

    store: Snapshot
    rows: pd.DataFrame
    """One row per cell: ids, status, axes, seed, ``val_*``, ``test_*``, ``fit_*``, cost, and
    ``trivial_acc``/``trivial_rmse``: what an input-blind predictor scores on the cell's stored test
    labels (zoo/report/curves.py ``trivial_metrics``)."""
    test_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Full test metrics per cell id (per-class lists included), recomputed when predictions exist."""
    mismatches: list[Mismatch] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)
    """Task kind per problem."""

    def cell(self, cell_id: str) -> CellRecord:
        return self._by_id[cell_id]

    @cached_property
    def _by_id(self) -> dict[str, CellRecord]:
        return {c.cell_id: c for c in self.store.cells}

    def history(self, cell: CellRecord | str) -> pd.DataFrame | None:
        """The cell's metrics.csv as a frame (one row per epoch), or None."""
        c = self.cell(cell) if isinstance(cell, str) else cell
        if c.cell_id not in self._histories:
            rows = c.history
            self._histories[c.cell_id] = pd.DataFrame(rows) if rows else None
        return self._histories[c.cell_id]

    @cached_property
    def _histories(self) -> dict[str, pd.DataFrame | None]:
        return {}

    @cached_property
    def available_metrics(self) -> list[str]:
        """Test metrics of the catalogue that some cell of the store has."""
        return sorted(c[5:] for c in self.rows.columns
                      if c.startswith("test_") and catalogue.is_known(c[5:]) and self.rows[c].notna().any())


def _time_to_target(value: Any) -> float:
    if isinstance(value, dict):
        value = value.get("seconds", value.get("time"))
    try:
        return float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def cell_table(store: Snapshot, *, tolerance: float = 1e-4) -> Table:
    """One row per cell. Test metrics are recomputed from ``predictions_test.npz`` when it
    exists (``test_source`` says which); stored values that differ from the recomputed ones
    by more than ``tolerance`` are listed in ``Table.mismatches``."""
    sci, nui = store.scientific_axes, store.nuisance_axes
    rows, full, mismatches, kinds = [], {}, [], {}
    for c in store.cells:
        res = c.result or {}
        params = c.cell.get("params") or {}
        row: dict[str, Any] = {
            "cell_id": c.cell_id,
            "problem": c.problem,
            "model": c.cell.get("model"),
            "data": c.cell.get("data"),
            "task_kind": c.task_kind,
            "status": c.status,
            "reason": c.reason,
            "seed": c.seed,
        }
        for a in sci:
            row[a] = c.scientific.get(a, params.get(a))
        for a in nui:
            row[a] = c.nuisance.get(a, params.get(a))
        for k, v in scalars(c.metrics("val")).items():
            row[f"val_{k}"] = v
        stored_test = c.metrics("test")
        test = dict(stored_test)
        source = "result.json" if stored_test else ""
        if c.status == OK and c.predictions is not None:
            try:
                threshold = float(stored_test.get("threshold", 0.5))
                recomputed = prediction_metrics(c.predictions, kind=c.task_kind, threshold=threshold)
            except (ValueError, IndexError) as e:  # malformed arrays: keep the stored values
                recomputed = {}
                row["reason"] = (row["reason"] + "; " if row["reason"] else "") + f"predictions unusable ({e})"
            if recomputed:
                for k, v in scalars(recomputed).items():
                    s = stored_test.get(k)
                    if isinstance(s, (int, float)) and math.isfinite(s) and math.isfinite(v) and abs(s - v) > tolerance:
                        mismatches.append(Mismatch(c.cell_id, k, float(s), v))
                test.update(recomputed)
                source = "predictions"
                for k, v in trivial_metrics(c.predictions, kind=c.task_kind).items():
                    row[f"trivial_{k}"] = v
        for k, v in ((c.result or {}).get("trivial") or {}).items():  # recorded by the runner (a unigram LM)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                row.setdefault(f"trivial_{k}", float(v))
        if test:
            full[c.cell_id] = test
        for k, v in scalars(test).items():
            row[f"test_{k}"] = v
        row["test_source"] = source
        fit = res.get("fit") or {}
        for k in ROW_FIT_FIELDS:
            if k in fit:
                row[f"fit_{k}"] = fit[k]
        for k in ROW_COST_FIELDS:
            v = res.get(k, params.get(k, c.cell.get(k)))
            if k in sci or k in nui:
                continue  # the axis column already holds it
            row[k] = v
        row["time_to_target"] = _time_to_target(res.get("time_to_target"))
        for k, v in (res.get("tuned") or {}).items():  # values a tuner chose (e.g. lr by the range test)
            row[f"tuned_{k}"] = v
        rows.append(row)
        kind = c.task_kind or (prediction_kind(c.predictions) if c.predictions is not None else None)
        if kind and c.problem not in kinds:
            kinds[c.problem] = kind
    df = pd.DataFrame(rows)
    head = ["cell_id", "problem", *sci, *nui, "seed", "status", "reason", "task_kind", "model", "data"]
    by_prefix = [sorted(c for c in df.columns if c.startswith(p) and c not in head) for p in ("test_", "val_", "fit_")]
    first = head + [c for group in by_prefix for c in group]
    df = df[[c for c in first if c in df.columns] + [c for c in df.columns if c not in first]]
    return Table(store, df, full, mismatches, kinds)


def source_stages(store: Snapshot) -> dict[str, str]:
    """Problem id -> stage name of the study's source stages (zoo/bench/stages.py): the cells other
    cells start from, which compare nothing (the study's ``stages`` in study.json, and any cell whose
    params name its ``stage``)."""
    out: dict[str, str] = {}
    plan = store.study.get("stages")
    for st in (plan.get("stages") if isinstance(plan, dict) else None) or []:
        if isinstance(st, dict) and st.get("problem"):
            out[str(st["problem"])] = str(st.get("name") or st["problem"])
    for c in store.cells:
        stage = (c.cell.get("params") or {}).get("stage")
        if stage and c.problem not in out:
            out[c.problem] = str(stage)
    return out


def data_options(store: Snapshot, problem: str) -> dict[str, Any]:
    """The data options of ``problem``: the study's declaration, else its first cell's params."""
    plan = store.study.get("stages")
    stages = (plan.get("stages") if isinstance(plan, dict) else None) or []
    for p in [*(store.study.get("problems") or []), *stages]:
        if isinstance(p, dict) and str(p.get("id", p.get("problem"))) == problem and isinstance(p.get("data_options"), dict):
            return dict(p["data_options"])
    for c in store.cells:
        if c.problem == problem and isinstance((c.cell.get("params") or {}).get("data_options"), dict):
            return dict(c.cell["params"]["data_options"])
    return {}


# --------------------------------------------------------------------------------------
# The metric a problem is judged by
# --------------------------------------------------------------------------------------


def check_metric(table: Table, metric: str | None) -> str | None:
    """``metric`` (``--metric``: a name without stage prefix) if some cell of the store has it as a
    test metric; otherwise refused in one line naming those the store has. ``None``: the default."""
    if metric is None:
        return None
    metric = str(metric)
    have = table.available_metrics
    if not metric.strip():
        raise ConfigError(f"--metric is empty; give one of the store's metrics: {', '.join(sorted(have))}.")
    if catalogue.strip_stage(metric) != metric:
        base = catalogue.strip_stage(metric)
        raise ConfigError(f"--metric {metric!r} has a stage prefix; give the metric alone, e.g. {base!r} "
                          f"(the report selects by val_{base} and compares test_{base}).")
    if metric not in have:
        raise UnknownNameError("metric", metric, have)
    return metric


def primary_metric(kind: str | None, available: Iterable[str] = ()) -> tuple[str, str]:
    """(metric, mode) a problem is judged by; the first candidate of its kind that exists."""
    available = set(available)
    candidates = PRIMARY_METRICS.get(kind or "", ())
    for m in candidates:
        if not available or m in available:
            return m, mode(m)
    for m in ("acc", "rmse", "loss"):
        if m in available:
            return m, mode(m)
    m = candidates[0] if candidates else "loss"
    return m, mode(m)


def problem_metric(table: Table, problem: str, override: str | None = None) -> tuple[str, str]:
    """The metric ``problem`` is judged by: ``override`` (``--metric``), the study's
    ``metric``, or the headline of its task kind."""
    rows = table.rows[table.rows.problem == problem]
    have = {c[5:] for c in rows.columns if c.startswith("test_") and rows[c].notna().any()}
    for m in (override, table.store.study.get("metric")):
        if m:
            m = catalogue.strip_stage(str(m))
            if m in have or not have:
                return m, mode(m)
    return primary_metric(table.kinds.get(problem), have)
