"""``zoo report --wandb``: log every finished cell of a store as a Weights & Biases run.

Each run carries the cell's configuration (all parameters, scientific and nuisance values,
seed, problem), its per-epoch history (``metrics.csv``), its final validation and test
metrics and cost as the run summary, and — from the stored predictions — ROC,
precision–recall and confusion-matrix charts (``wandb.plot``), a predicted-vs-true scatter
for regression, and the LR range test when there is one. Runs of one study share a group.

Offline by default: unless ``WANDB_MODE`` is set, runs are written under ``WANDB_DIR``
(or ``./wandb``) and need no account; ``wandb sync`` uploads them later.

A run's id is derived from the study and the cell id (:func:`run_id`), and runs are started
with ``resume="allow"``: logging a store again updates the same W&B runs (online, or on
``wandb sync``) instead of adding a second copy of each.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from zoo import record as R
from zoo.errors import ConfigError
from zoo.report import curves as C
from zoo.report import tables as T


def _finite(d: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, (bool, np.bool_)):
            out[k] = bool(v)
        elif isinstance(v, (int, float, np.integer, np.floating)):
            if math.isfinite(float(v)):
                out[k] = v.item() if hasattr(v, "item") else v
        elif isinstance(v, str) and v:
            out[k] = v
    return out


def run_id(study: str, cell_id: str) -> str:
    """The W&B run id of a cell: stable across re-logging (W&B ids allow letters, digits, ``-`` and ``_``)."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in study)
    return f"{safe}-{cell_id}"


def wandb_dir() -> str:
    """Where the runs' files go: ``$WANDB_DIR/wandb``, else ``./wandb`` (W&B's own rule)."""
    return os.path.join(os.path.abspath(os.environ.get("WANDB_DIR") or "."), "wandb")


def log_store(table: T.Table, *, project: str | None = None) -> int:
    """Log each cell that has a ``result.json`` as one run; return how many were logged.
    Pending and unreadable cells have nothing finished to log and are left out."""
    try:
        import wandb
    except ModuleNotFoundError:
        raise ConfigError("--wandb needs the wandb package: pip install 'zoobench[wandb]'.") from None
    os.environ.setdefault("WANDB_MODE", "offline")  # no account needed unless the user configured one
    os.environ.setdefault("WANDB_SILENT", "true")
    store = table.store
    project = project or f"zoobench-{store.name}"
    settings = wandb.Settings(console="off", silent=True, disable_git=True, save_code=False, disable_job_creation=True,
                              x_disable_stats=True, x_disable_machine_info=True)
    rows = table.rows.set_index("cell_id")
    n = 0
    for c in store.cells:
        if c.result is None:
            continue
        row = rows.loc[c.cell_id] if c.cell_id in rows.index else None
        config = {"cell_id": c.cell_id, "study": store.name, "problem": c.problem, "model": c.cell.get("model"),
                  "data": c.cell.get("data"), "seed": c.seed, "task_kind": c.task_kind,
                  **(c.cell.get("params") or {}), "scientific": c.scientific, "nuisance": c.nuisance,
                  "fixed": c.cell.get("fixed") or {}}
        settings_text = T.describe_config({**c.scientific, **c.nuisance})
        run = wandb.init(project=project, group=store.name, job_type=c.problem, config=config,
                         name=f"{c.problem} {settings_text} seed={T.show(c.seed)}".strip(),
                         tags=[c.status], dir=os.environ.get("WANDB_DIR"), reinit="create_new", settings=settings,
                         id=run_id(store.name, c.cell_id), resume="allow")
        try:
            _log_history(run, table.history(c))
            _log_charts(wandb, run, c, table)
            summary = {"status": c.status, "reason": c.reason}
            if row is not None:
                summary.update(_finite({k: row[k] for k in row.index
                                        if k.startswith(("val_", "test_", "fit_")) or k in T.ROW_COST_FIELDS
                                        or k == "time_to_target"}))
            run.summary.update(summary)
        finally:
            run.finish(exit_code=0 if c.status == "ok" else 1)
        n += 1
    return n


def _log_history(run: Any, h: Any) -> None:
    if h is None or "epoch" not in h.columns:
        return
    for rec in h.to_dict("records"):
        epoch = rec.pop("epoch")
        if not isinstance(epoch, (int, float)) or not math.isfinite(epoch):
            continue
        values = _finite(rec)
        if values:
            run.log({"epoch": int(epoch), **values}, step=int(epoch))


def _log_charts(wandb: Any, run: Any, c: R.CellRecord, table: T.Table) -> None:
    charts: dict[str, Any] = {}
    pred = c.predictions if c.status == "ok" else None
    if pred is not None and "probs" in pred:
        probs = C.as_two_columns(pred["probs"])
        target = np.asarray(pred["target"]).astype(int).reshape(-1)
        labels = [str(i) for i in range(probs.shape[1])]
        threshold = float(table.test_metrics.get(c.cell_id, {}).get("threshold", 0.5))
        hard = C.hard_predictions(pred["probs"], threshold)
        charts["test_roc"] = wandb.plot.roc_curve(target, probs, labels=labels, title="ROC (test)")
        charts["test_pr"] = wandb.plot.pr_curve(target, probs, labels=labels, title="Precision-recall (test)")
        charts["test_confusion"] = wandb.plot.confusion_matrix(y_true=target.tolist(), preds=hard.tolist(),
                                                               class_names=labels, title="Confusion matrix (test)")
    elif pred is not None and "pred" in pred:
        p = np.asarray(pred["pred"], dtype=np.float64).reshape(len(pred["target"]), -1)[:, 0]
        y = np.asarray(pred["target"], dtype=np.float64).reshape(len(pred["target"]), -1)[:, 0]
        t = wandb.Table(columns=["true", "predicted"], data=[[float(a), float(b)] for a, b in zip(y, p)])
        charts["test_scatter"] = wandb.plot.scatter(t, "true", "predicted", title="Predicted vs true (test)")
    lr = c.lr_range
    if lr and lr.get("lrs") and lr.get("losses"):
        data = [[float(a), float(b)] for a, b in zip(lr["lrs"], lr["losses"]) if math.isfinite(b)]
        t = wandb.Table(columns=["lr", "loss"], data=data)
        charts["lr_range"] = wandb.plot.line(t, "lr", "loss", title=f"LR range test (chosen {lr.get('chosen_lr')})")
    if charts:
        run.log(charts)
