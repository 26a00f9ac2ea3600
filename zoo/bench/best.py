"""The best cells of a study, and the best one taken out as a zoo checkpoint (Keras Tuner's
``get_best_models``): ``zoo bench best STUDY [--problem P] [--metric val_acc] [--to DIR]``.

Cells are ranked on a **validation** metric, never on test: the study's search objective (its first
validation one when it has several), else
its target's metric, else the metric each cell's training loop watched (``val_loss`` for most
tasks). A **configuration** (a trial of a search, else one setting of every axis) is ranked by the
mean of that metric over its finished seeds, as the report chooses it and as Keras Tuner ranks a
trial over its executions; its best seed is the cell taken out. Ranking single cells instead picks
whichever configuration had the luckiest seed. Only cells that kept their checkpoint (``keep: best`` or ``keep: all`` in the study) can be
taken out; the exported card is a new zoo checkpoint whose ``origin`` names the study, the store,
the cell id, the problem and the ranking metric and value, beside the cell's resolved
configuration (``config``), so ``zoo train --config DIR/card.json`` re-runs it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from zoo import metrics
from zoo.bench.cells import canonical
from zoo.errors import ConfigError, ZooError
from zoo.record import OK


def objective(study: dict[str, Any]) -> str | None:
    """The study's ranking metric (``val_<name>``), or None for each cell's own monitored metric."""
    search = study.get("search") or {}
    if search.get("objective"):
        return str(search["objective"])
    vals = [m for m, _ in search.get("objectives") or [] if str(m).startswith("val_")]
    if vals:  # several objectives: the first validation one
        return str(vals[0])
    target = study.get("target") or {}
    return str(target["metric"]) if target.get("metric") else None


def _value(result: dict[str, Any], metric: str | None) -> tuple[str, float] | None:
    name = metric or (result.get("fit") or {}).get("monitor") or "val_loss"
    if not name.startswith("val_"):
        raise ConfigError(f"cells are ranked on a validation metric (val_...), got {name!r}.")
    value = ((result.get("metrics") or {}).get("val") or {}).get(metrics.strip_stage(name))
    return (name, float(value)) if isinstance(value, (int, float)) and math.isfinite(value) else None


def rank(store: Any, *, problem: str | None = None, metric: str | None = None) -> list[dict[str, Any]]:
    """The finished cells of ``store`` (of ``problem`` if given), best configuration first on ``metric``
    (default: :func:`objective`) by its mean over seeds, and within one configuration its best seed
    first; each ``{cell_id, problem, metric, value, config_value, config_seeds, kept, record}``."""
    metric = metric or objective(store.read_study())
    if metric is not None:
        metrics.lookup(metric)  # an unknown name: one line listing the known ones
    rows = []
    for rec in store.records():
        if rec.status != OK or rec.result is None or (problem and rec.problem != problem):
            continue
        got = _value(rec.result, metric)
        if got is not None:
            trial = rec.cell.get("trial")
            config = (rec.problem, f"trial {trial}" if trial is not None else canonical(rec.cell.get("params", {})))
            rows.append({"cell_id": rec.cell_id, "problem": rec.problem, "metric": got[0], "value": got[1],
                         "config": config, "kept": (rec.path / "checkpoint").is_dir(), "record": rec})
    if problem and not rows and problem not in {r.problem for r in store.records()}:
        raise ConfigError(f"study {store.name!r} has no problem {problem!r}; its problems: "
                          f"{', '.join(sorted({r.problem for r in store.records()}))}.")
    seeds: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        seeds.setdefault(r["config"], []).append(r["value"])
    for r in rows:
        r["config_value"], r["config_seeds"] = sum(seeds[r["config"]]) / len(seeds[r["config"]]), len(seeds[r["config"]])
    sign = {name: (1 if metrics.mode(name) == "min" else -1) for name in {r["metric"] for r in rows}}
    return sorted(rows, key=lambda r: (sign[r["metric"]] * r["config_value"], r["config"],
                                       sign[r["metric"]] * r["value"], r["cell_id"]))


def best_per_problem(store: Any) -> dict[str, str]:
    """Each problem's best cell id (the best seed of its best configuration) among the cells that keep
    a checkpoint (what ``keep: best`` leaves)."""
    out: dict[str, str] = {}
    for row in rank(store):
        if row["record"].cell.get("keep"):
            out.setdefault(row["problem"], row["cell_id"])
    return out


def export(store: Any, row: dict[str, Any], dest: str | Path) -> Path:
    """Save the checkpoint of ranked cell ``row`` as a zoo checkpoint in ``dest`` (new), its card's
    ``origin`` naming the study and the cell."""
    from zoo.checkpoint import load_checkpoint, save_checkpoint

    if not row["kept"]:
        raise ZooError(f"the best cell {row['cell_id']} of study {store.name!r} kept no checkpoint: run the study with "
                       "keep: best (or keep: all) to keep the cells' checkpoints.")
    folder = store.checkpoint(row["cell_id"])["checkpoint"]
    task = load_checkpoint(folder)
    card = task.card
    origin = {"study": store.name, "store": str(store.dir), "cell_id": row["cell_id"], "problem": row["problem"],
              "metric": row["metric"], "value": row["value"], "config_value": row["config_value"],
              "config_seeds": row["config_seeds"]}
    kept = {k: card[k] for k in ("seed", "batch_size", "data_options", "fit", "config") if k in card}
    return save_checkpoint(task, dest, metrics=card.get("metrics"), **kept, origin=origin)
