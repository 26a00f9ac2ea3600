"""Read a study's results store and summarise it: one row per cell, mean ± 95% CI over
seeds, the best nuisance setting per scientific value, and paired comparisons.

This module reads only the files under ``runs/<study>/`` (``study.json`` and, per cell,
``cell.json``, ``result.json``, ``metrics.csv``, ``predictions_test.npz``, ``env.json``,
``lr_range.json``, ``log.txt``) with numpy, pandas, scipy and scikit-learn. It imports no
model code (``zoo.models``, ``zoo.tasks``, ``zoo.engine``), so a report can be written on
a machine without the training stack, and a new metric needs no retraining: test metrics
are recomputed here from the stored predictions (:func:`prediction_metrics`).

Vocabulary (deep-learning tuning playbook): a *scientific* axis is what the study
compares; *nuisance* axes are tuned per scientific value (by the validation metric, never
the test metric) so the comparison is fair; *fixed* settings are held constant and are
caveats of the conclusions.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DONE_STATUSES = ("ok", "diverged", "oom", "skipped", "error")
"""Statuses a finished cell's ``result.json`` may carry."""
PENDING = "pending"
"""A cell folder without ``result.json``: running, interrupted, or half-written."""
UNREADABLE = "unreadable"
"""A cell whose ``cell.json`` or ``result.json`` cannot be parsed."""

# Headline metric per task kind: (candidates in order of preference, mode). The first one a
# cell's stored metrics contain is used. Classification: accuracy, what a reader asks first
# (AUROC/AP/F1 are in the detail tables); regression: RMSE in the target's unit.
PRIMARY_METRICS: dict[str, tuple[tuple[str, ...], str]] = {
    "multiclass": (("acc",), "max"),
    "binary": (("acc",), "max"),
    "regression": (("rmse",), "min"),
    "language_model": (("bits_per_char", "perplexity", "loss"), "min"),
    "seq2seq": (("token_acc", "acc", "bleu"), "max"),  # the harness stores token accuracy as "acc"
    "embedding": (("analogy_acc", "ws353_spearman", "wordsim_spearman", "simlex_spearman"), "max"),
}
LOWER_IS_BETTER = ("loss", "rmse", "mae", "mse", "perplexity", "bits_per_char", "error", "seconds")

CLASSIFICATION_KINDS = ("multiclass", "binary")
ALPHA = 0.05
"""Significance level of the paired tests (two-sided)."""


def metric_mode(metric: str) -> str:
    """``"min"`` for losses and errors, ``"max"`` for scores."""
    m = strip_stage(metric)
    return "min" if m in LOWER_IS_BETTER or m.endswith(("_loss", "_error", "_rmse", "_mae")) else "max"


def strip_stage(metric: str) -> str:
    """``"val_acc" -> "acc"``; names without a stage prefix are returned as they are."""
    return re.sub(r"^(train|val|test)_", "", metric)


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


def _read_json(path: Path) -> Any:
    with open(path) as f:
        return json.load(f)


# --------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------


@dataclass
class CellRecord:
    """One cell folder of the store and what it says about itself."""

    cell_id: str
    path: Path
    cell: dict[str, Any]
    result: dict[str, Any] | None
    status: str
    reason: str

    @property
    def problem(self) -> str:
        return str(self.cell.get("problem") or "?")

    @property
    def seed(self) -> Any:
        return self.cell.get("seed")

    @property
    def scientific(self) -> dict[str, Any]:
        return dict(self.cell.get("scientific") or {})

    @property
    def nuisance(self) -> dict[str, Any]:
        return dict(self.cell.get("nuisance") or {})

    @property
    def task_kind(self) -> str | None:
        return (self.result or {}).get("task_kind")

    def metrics(self, split: str) -> dict[str, Any]:
        """Stored metrics of ``split`` ("val" or "test"), ``{}`` when absent."""
        return dict(((self.result or {}).get("metrics") or {}).get(split) or {})

    @cached_property
    def history(self) -> pd.DataFrame | None:
        """``metrics.csv`` (one row per epoch), or None when missing or unreadable."""
        path = self.path / "metrics.csv"
        try:
            df = pd.read_csv(path)
        except (OSError, ValueError, pd.errors.ParserError):
            return None
        return df if len(df) else None

    @cached_property
    def predictions(self) -> dict[str, np.ndarray] | None:
        """``predictions_test.npz`` as arrays (``probs`` or ``pred``, and ``target``), or None."""
        path = self.path / "predictions_test.npz"
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                out = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError):
            return None
        return out if "target" in out and ("probs" in out or "pred" in out) else None

    @cached_property
    def lr_range(self) -> dict[str, Any] | None:
        return _optional_json(self.path / "lr_range.json")

    @cached_property
    def env(self) -> dict[str, Any] | None:
        return _optional_json(self.path / "env.json")

    def log_tail(self, lines: int = 1) -> str:
        """The last non-empty lines of ``log.txt`` (empty when there is none)."""
        try:
            text = (self.path / "log.txt").read_text(errors="replace")
        except OSError:
            return ""
        tail = [ln.strip() for ln in text.splitlines() if ln.strip()][-lines:]
        return " / ".join(tail)


def _optional_json(path: Path) -> dict[str, Any] | None:
    try:
        obj = _read_json(path)
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


@dataclass
class Store:
    """A study's results store: the resolved study and every cell folder in it."""

    root: Path
    study: dict[str, Any]
    cells: list[CellRecord]

    @property
    def name(self) -> str:
        return str(self.study.get("name") or self.root.name)

    def _axes(self, role: str) -> list[str]:
        names: list[str] = []
        for axis, spec in _study_axes(self.study).items():
            if spec.get("role") == role and axis not in names:
                names.append(axis)
        key = {"scientific": "scientific", "nuisance": "nuisance"}.get(role)
        if key:
            for c in self.cells:
                names += [a for a in (c.cell.get(key) or {}) if a not in names]
        return names

    @property
    def scientific_axes(self) -> list[str]:
        return self._axes("scientific")

    @property
    def nuisance_axes(self) -> list[str]:
        return self._axes("nuisance")

    @property
    def fixed(self) -> dict[str, Any]:
        """Settings held constant: the study's fixed axes, and any cell's ``fixed`` dict."""
        out: dict[str, Any] = {}
        top = self.study.get("fixed")
        if isinstance(top, dict):
            out.update(top)
        for axis, spec in _study_axes(self.study).items():
            if spec.get("role") == "fixed" and axis not in out:
                v = spec.get("value", spec.get("values"))
                out[axis] = v[0] if isinstance(v, list) and len(v) == 1 and "value" not in spec else v
        for c in self.cells:
            for k, v in (c.cell.get("fixed") or {}).items():
                out.setdefault(k, v)
        return out

    @property
    def problems(self) -> list[str]:
        seen: list[str] = []
        for p in list(self.study.get("problems") or []) + [c.problem for c in self.cells]:
            p = p if isinstance(p, str) else str(p.get("id") or p.get("name") or p) if isinstance(p, dict) else str(p)
            if p not in seen:
                seen.append(p)
        return [p for p in seen if any(c.problem == p for c in self.cells)] or seen

    def by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self.cells:
            counts[c.status] = counts.get(c.status, 0) + 1
        return counts


def _study_axes(study: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Axes of ``study.json`` as ``{name: {"role": ..., "values"/"value": ...}}``.

    Accepts a mapping ``{name: {...}}``, a list of ``{"name": ..., ...}``, or role-keyed
    mappings ``{"scientific": {name: values}, "nuisance": {...}, "fixed": {...}}``.
    """
    axes = study.get("axes") or {}
    out: dict[str, dict[str, Any]] = {}
    if isinstance(axes, list):
        for a in axes:
            if isinstance(a, dict) and "name" in a:
                out[str(a["name"])] = dict(a)
    elif isinstance(axes, dict):
        if set(axes) <= {"scientific", "nuisance", "fixed"} and axes:
            for role, group in axes.items():
                for name, values in (group or {}).items():
                    key = "value" if role == "fixed" else "values"
                    out[name] = {"role": role, key: values}
        else:
            for name, spec in axes.items():
                out[name] = dict(spec) if isinstance(spec, dict) else {"role": "scientific", "values": spec}
    for role in ("scientific", "nuisance", "fixed"):  # top-level role mappings, if the study has them
        group = study.get(role)
        if isinstance(group, dict):
            for name, values in group.items():
                out.setdefault(name, {"role": role, ("value" if role == "fixed" else "values"): values})
    return out


def load_store(root: str | Path) -> Store:
    """Read every cell folder under ``root``; a folder that cannot be read becomes a cell with
    status ``unreadable`` (or ``pending`` without ``result.json``), never an exception."""
    from zoo.errors import DataError

    root = Path(root)
    if not root.is_dir():
        raise DataError(f"results store {str(root)!r} does not exist; pass a study folder such as runs/<study>.")
    study = _optional_json(root / "study.json") or {}
    cells: list[CellRecord] = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        if not (d / "cell.json").exists() and not (d / "result.json").exists():
            continue
        cells.append(_read_cell(d))
    cells += _not_started(root, {c.cell_id for c in cells})
    if not cells:
        inner = sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "study.json").exists())
        hint = f" It holds the studies {', '.join(inner)}; pass one of them." if inner else ""
        raise DataError(f"no cell folders (with cell.json) under {str(root)!r}.{hint}")
    return Store(root, study, cells)


def _not_started(root: Path, seen: set[str]) -> list[CellRecord]:
    """Cells the harness listed in ``cells.json`` that have no folder yet: not run, running, or
    interrupted (the harness publishes a cell folder atomically, so these are the pending ones)."""
    try:
        listed = _read_json(root / "cells.json")
    except (OSError, ValueError):
        return []
    out = []
    for entry in listed if isinstance(listed, list) else []:
        cid = str(entry.get("cell_id", "")) if isinstance(entry, dict) else ""
        if not cid or cid in seen:
            continue
        seen.add(cid)
        if (root / ".leases" / cid).exists():
            reason = "not finished: a worker holds its lease (running, or killed before it finished)"
        elif (root / ".staging").is_dir() and any((root / ".staging").glob(f"{cid}-*")):
            reason = "interrupted while its record was being written (staging folder left behind)"
        else:
            reason = "not run yet"
        out.append(CellRecord(cid, root / cid, dict(entry), None, PENDING, reason))
    return out


def _read_cell(d: Path) -> CellRecord:
    cell: dict[str, Any] = {}
    try:
        obj = _read_json(d / "cell.json")
        cell = obj if isinstance(obj, dict) else {}
        if not cell:
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        return CellRecord(d.name, d, cell, None, UNREADABLE, f"cell.json unreadable ({type(e).__name__}: {e})")
    cell_id = str(cell.get("cell_id") or d.name)
    path = d / "result.json"
    if not path.exists():
        tail = CellRecord(cell_id, d, cell, None, PENDING, "").log_tail()
        epochs = _count_lines(d / "metrics.csv")
        reason = "no result.json: still running, interrupted or half-written"
        if epochs:
            reason += f"; {epochs} epoch(s) in metrics.csv"
        if tail:
            reason += f"; last log line: {tail[:160]}"
        return CellRecord(cell_id, d, cell, None, PENDING, reason)
    try:
        result = _read_json(path)
        if not isinstance(result, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        return CellRecord(cell_id, d, cell, None, UNREADABLE, f"result.json unreadable ({type(e).__name__}: {e})")
    status = str(result.get("status") or "ok")
    reason = str(result.get("reason") or "")
    if status not in DONE_STATUSES:
        reason = f"unknown status {status!r}" + (f": {reason}" if reason else "")
        status = "error"
    if status == "diverged" and not reason:
        reason = "non-finite loss"
    return CellRecord(cell_id, d, cell, result, status, reason)


def _count_lines(path: Path) -> int:
    try:
        with open(path) as f:
            return max(0, sum(1 for ln in f if ln.strip()) - 1)
    except OSError:
        return 0


# --------------------------------------------------------------------------------------
# Metrics recomputed from stored predictions (scikit-learn; the store-side twin of zoo.scoring)
# --------------------------------------------------------------------------------------


def prediction_kind(pred: dict[str, np.ndarray], stored_kind: str | None = None) -> str | None:
    """``multiclass``/``binary`` for ``probs`` (N, C)/(N,), ``regression`` for ``pred``."""
    if "probs" in pred:
        shape = np.shape(pred["probs"])
        return "binary" if len(shape) == 1 or (stored_kind == "binary" and shape[1] == 2) else "multiclass"
    if "pred" in pred:
        return stored_kind if stored_kind not in (None, *CLASSIFICATION_KINDS) else "regression"
    return None


def as_two_columns(probs: np.ndarray) -> np.ndarray:
    """Binary positive-class probabilities (N,) -> (N, 2) class probabilities."""
    p = np.asarray(probs, dtype=np.float64)
    return np.stack([1 - p, p], 1) if p.ndim == 1 else p


def hard_predictions(probs: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Class labels: ``probs >= threshold`` for binary (N,), argmax for (N, C)."""
    p = np.asarray(probs)
    return (p >= threshold).astype(np.int64) if p.ndim == 1 else p.argmax(1)


def binary_curve(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positives at each distinct score threshold, highest threshold first
    (scikit-learn's ``_binary_clf_curve``): ``(fps, tps, thresholds)``."""
    y = np.asarray(y).reshape(-1).astype(bool)
    score = np.asarray(score, dtype=np.float64).reshape(-1)
    order = np.argsort(-score, kind="mergesort")
    score, y = score[order], y[order]
    last = np.r_[np.nonzero(np.diff(score))[0], len(score) - 1]  # the last index of each distinct score
    tps = np.cumsum(y, dtype=np.float64)[last]
    fps = last + 1 - tps
    return fps, tps, score[last]


def roc_curve(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds), starting at (0, 0) with threshold +inf."""
    fps, tps, thr = binary_curve(y, score)
    fps, tps = np.r_[0.0, fps], np.r_[0.0, tps]
    return fps / max(fps[-1], 1.0), tps / max(tps[-1], 1.0), np.r_[np.inf, thr]


def pr_curve(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds) with increasing thresholds, ending at (1, 0), as
    scikit-learn's ``precision_recall_curve``."""
    fps, tps, thr = binary_curve(y, score)
    precision = tps / (tps + fps)
    recall = tps / tps[-1] if tps[-1] > 0 else np.ones_like(tps)
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thr[::-1]


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve: the Mann–Whitney statistic U / (n+ · n-), ties counted as ½
    (equal to the trapezoidal area scikit-learn computes). NaN when one class is absent."""
    y = np.asarray(y).reshape(-1).astype(bool)
    npos = int(y.sum())
    nneg = len(y) - npos
    if npos == 0 or nneg == 0:
        return math.nan
    _, inverse, counts = np.unique(np.asarray(score, dtype=np.float64).reshape(-1), return_inverse=True,
                                   return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse]  # 1-based average ranks
    return float((ranks[y].sum() - npos * (npos + 1) / 2.0) / (npos * nneg))


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """AP = Σ_n (R_n − R_{n−1}) P_n over distinct thresholds (scikit-learn's definition, no
    interpolation). NaN without positives."""
    fps, tps, _ = binary_curve(y, score)
    if tps[-1] <= 0:
        return math.nan
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def confusion(target: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, C) counts, rows = true class, columns = predicted class."""
    t = np.asarray(target).astype(np.int64).reshape(-1)
    p = np.asarray(pred).astype(np.int64).reshape(-1)
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def classification_metrics(probs: np.ndarray, target: np.ndarray, *, threshold: float = 0.5) -> dict[str, Any]:
    """The metrics of ``zoo.scoring.classification_metrics``, recomputed in numpy from the
    stored predictions (a test checks every value against scikit-learn to 1e-6).

    Binary (``probs`` (N,), positive-class probability): precision/recall/F1 of class 1 at
    ``threshold``, AUROC and AP of the scores. Multi-class (N, C): macro averages of the
    per-class values; AUROC one-vs-rest, macro; AP macro over one-hot targets. Precision
    (recall) of a class never predicted (absent) is 0, as scikit-learn's ``zero_division=0``.
    A class absent from the targets has no AUROC/AP; the macro average skips it.
    """
    probs = np.asarray(probs, dtype=np.float64)
    target = np.asarray(target).astype(np.int64).reshape(-1)
    binary = probs.ndim == 1
    n_classes = 2 if binary else probs.shape[1]
    pred = hard_predictions(probs, threshold)
    cm = confusion(target, pred, n_classes)
    tp = np.diag(cm).astype(np.float64)
    support, predicted = cm.sum(1), cm.sum(0)
    p = np.divide(tp, predicted, out=np.zeros(n_classes), where=predicted > 0)
    r = np.divide(tp, support, out=np.zeros(n_classes), where=support > 0)
    f = np.divide(2 * p * r, p + r, out=np.zeros(n_classes), where=(p + r) > 0)
    out: dict[str, Any] = {"acc": float(tp.sum() / max(1, len(target)))}
    if binary:
        out.update(precision=float(p[1]), recall=float(r[1]), f1=float(f[1]))
        out["auroc"] = auroc(target == 1, probs)
        out["ap"] = average_precision(target == 1, probs)
        out["threshold"] = float(threshold)
    else:
        out.update(precision=float(p.mean()), recall=float(r.mean()), f1=float(f.mean()))
        auc = [auroc(target == c, probs[:, c]) for c in range(n_classes)]
        ap = [average_precision(target == c, probs[:, c]) for c in range(n_classes)]
        out["auroc"] = float(np.nanmean(auc)) if np.isfinite(auc).any() else math.nan
        out["ap"] = float(np.nanmean(ap)) if np.isfinite(ap).any() else math.nan
        out["auroc_per_class"] = auc
        out["ap_per_class"] = ap
    out["precision_per_class"] = p.tolist()
    out["recall_per_class"] = r.tolist()
    out["f1_per_class"] = f.tolist()
    out["support_per_class"] = support.astype(int).tolist()
    out["confusion_matrix"] = cm.tolist()
    return out


def regression_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R² (uniform average over target columns), as scikit-learn defines them."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64).reshape(pred.shape)
    if pred.ndim == 1:
        pred, target = pred[:, None], target[:, None]
    err = pred - target
    ss_res = (err**2).sum(0)
    ss_tot = ((target - target.mean(0)) ** 2).sum(0)
    r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.where(ss_res > 0, 0.0, 1.0))
    return {
        "rmse": float(np.sqrt((err**2).mean())),
        "mae": float(np.abs(err).mean()),
        "r2": float(r2.mean()) if len(target) > 1 else math.nan,
    }


def prediction_metrics(pred: dict[str, np.ndarray], *, kind: str | None = None, threshold: float = 0.5) -> dict[str, Any]:
    """Test metrics from a cell's stored predictions (see the two functions above)."""
    kind = prediction_kind(pred, kind)
    if kind in CLASSIFICATION_KINDS:
        probs = np.asarray(pred["probs"])
        if kind == "binary" and probs.ndim == 2 and probs.shape[1] == 2:  # (N, 2): keep class 1
            probs = probs[:, 1]
        return classification_metrics(probs, pred["target"], threshold=threshold)
    if kind == "regression":
        return regression_metrics(pred["pred"], pred["target"])
    return {}


def scalars(metrics: dict[str, Any]) -> dict[str, float]:
    """The scalar entries of a metrics dict (no per-class lists or matrices)."""
    out = {}
    for k, v in metrics.items():
        if isinstance(v, bool):
            continue
        if isinstance(v, (int, float)):
            out[k] = float(v)
    return out


# --------------------------------------------------------------------------------------
# One row per cell
# --------------------------------------------------------------------------------------

ROW_FIT_FIELDS = ("stop_reason", "best_epoch", "best_score", "monitor", "steps", "samples",
                  "train_seconds", "throughput", "steps_per_epoch")
ROW_COST_FIELDS = ("num_parameters", "peak_memory_mb", "peak_memory_kind", "seconds", "device", "precision",
                   "batch_size")


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

    store: Store
    rows: pd.DataFrame
    """One row per cell: ids, status, axes, seed, ``val_*``, ``test_*``, ``fit_*``, cost."""
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


def _time_to_target(value: Any) -> float:
    if isinstance(value, dict):
        value = value.get("seconds", value.get("time"))
    try:
        return float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def cell_table(store: Store, *, tolerance: float = 1e-4) -> Table:
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
        if c.status == "ok" and c.predictions is not None:
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


# --------------------------------------------------------------------------------------
# Statistics over seeds
# --------------------------------------------------------------------------------------


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
    """Mean ± t_{(1+c)/2, n-1} · s / √n (Student's t; s with n - 1 degrees of freedom).

    Non-finite values are dropped. n = 0 gives NaN; n = 1 gives the value and a NaN half-width.
    """
    from scipy.special import stdtrit  # Student's t quantile (scipy.stats costs seconds to import)

    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    n = len(x)
    if n == 0:
        return MeanCI(math.nan, math.nan, 0)
    if n == 1:
        return MeanCI(float(x[0]), math.nan, 1)
    s = x.std(ddof=1)
    half = float(stdtrit(n - 1, 0.5 + confidence / 2) * s / math.sqrt(n))
    return MeanCI(float(x.mean()), half, n)


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
    """Paired t-test of ``a`` vs ``b`` (seed -> metric) over the seeds both have: t = mean(d) /
    (sd(d) / √n) on the differences d, two-sided p from Student's t with n - 1 degrees of
    freedom (``scipy.stats.ttest_rel``; the tests check it against that function)."""
    from scipy.special import stdtr  # Student's t CDF

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
    n = len(d)
    t = d.mean() / (d.std(ddof=1) / math.sqrt(n))
    p = float(2 * stdtr(n - 1, -abs(t)))
    return PairedTest(n, float(d.mean()), min(1.0, p), PAIRED_METHOD)


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
    """Best first (by mean test metric); entries with no finished seed last."""
    versus: list[PairedTest | None] = field(default_factory=list)
    """The winner against each later entry (``entries[1:]``, same order); None where untestable."""
    holm: list[float] = field(default_factory=list)
    """``versus`` p-values adjusted for the number of values compared (Holm), same order."""

    @property
    def comparison(self) -> PairedTest | None:
        """The winner against the runner-up."""
        return self.versus[0] if self.versus else None

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


def primary_metric(kind: str | None, available: Iterable[str] = ()) -> tuple[str, str]:
    """(metric, mode) a problem is judged by; the first candidate of its kind that exists."""
    available = set(available)
    candidates, mode = PRIMARY_METRICS.get(kind or "", ((), "max"))
    for m in candidates:
        if not available or m in available:
            return m, mode
    for m in ("acc", "rmse", "loss"):
        if m in available:
            return m, metric_mode(m)
    return (candidates[0] if candidates else "loss"), mode


def problem_metric(table: Table, problem: str, override: str | None = None) -> tuple[str, str]:
    """The metric ``problem`` is judged by: ``override`` (``--metric``), the study's
    ``metric``, or the headline of its task kind."""
    rows = table.rows[table.rows.problem == problem]
    have = {c[5:] for c in rows.columns if c.startswith("test_") and rows[c].notna().any()}
    for m in (override, table.store.study.get("metric")):
        if m:
            m = strip_stage(str(m))
            if m in have or not have:
                return m, metric_mode(m)
    return primary_metric(table.kinds.get(problem), have)


def best_over_nuisance(table: Table, problem: str, axis: str | None, metric: str, mode: str) -> list[Entry]:
    """For each value of ``axis`` (scientific) on ``problem``: the configuration of the other
    axes with the best mean validation ``metric`` over its seeds, and its test metric per seed.

    A configuration with a diverged seed ranks after every configuration without one (a
    setting that blows up is not the best one, whatever its other seeds score). Cells that
    errored, ran out of memory or were skipped say nothing about the setting and are left out.
    """
    df = table.rows
    df = df[(df.problem == problem) & df.status.isin(["ok", "diverged"])]
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
        for config_key, h in g.groupby("_config", sort=False):
            ok = h[h.status == "ok"]
            sel = ok[select_col].dropna() if select_col in ok else pd.Series(dtype=float)
            score = float(sel.mean()) if len(sel) else math.nan
            tests = ok[test_col] if test_col in ok else pd.Series(np.nan, index=ok.index)
            configs.append((config_key, h, ok, score, float(tests.mean()) if tests.notna().any() else math.nan,
                            int((h.status == "diverged").sum())))

        def rank(cfg: tuple) -> tuple:
            _, h, _, score, _, n_div = cfg
            finite = math.isfinite(score)
            return (n_div > 0, not finite, -score if (finite and select_mode == "max") else (score if finite else 0.0))

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
            stats=mean_ci(test.values()), n_configs=len(configs), n_diverged=int((g.status == "diverged").sum()),
            cell_ids=list(ok.cell_id), best_cell=best_cell,
            others=[({a: native(c[1].iloc[0][a]) for a in others}, c[3], c[4]) for c in configs[1:]],
        ))
    sign = 1 if mode == "min" else -1
    entries.sort(key=lambda e: (e.stats.n == 0, sign * e.stats.mean if e.stats.n else 0.0, show(e.value)))
    return entries


def _isnan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def native(v: Any) -> Any:
    """numpy scalars as Python numbers (for JSON, display and comparisons)."""
    return v.item() if isinstance(v, np.generic) else v


def verdicts(table: Table, metric: str | None = None) -> list[Verdict]:
    """One verdict per (problem, scientific axis); one per problem if the study has no
    scientific axis (its best configuration)."""
    out = []
    for problem in table.store.problems:
        m, mode = problem_metric(table, problem, metric)
        axes = [a for a in table.store.scientific_axes if a in table.rows.columns] or [None]
        for axis in axes:
            entries = best_over_nuisance(table, problem, axis, m, mode)
            versus: list[PairedTest | None] = [
                paired_test(entries[0].test, e.test) if entries[0].stats.n and e.stats.n else None for e in entries[1:]
            ]
            holm = holm_adjust([c.pvalue if c is not None else math.nan for c in versus])
            out.append(Verdict(problem, axis, m, mode, entries, versus, holm))
    return out


def describe_config(config: dict[str, Any]) -> str:
    """``lr=0.01, batch_size=64`` (empty string for no axes)."""
    return ", ".join(f"{k}={show(v)}" for k, v in config.items())
