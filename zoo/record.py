"""The files of one run and of one cell: their names, the ``result.json`` schema, write and read.

Two folders share this format. A *run* is what ``zoo train --out DIR`` leaves; a *cell*
is one folder of a study's results store (``runs/<study>/<cell_id>/``, see
zoo/bench/store.py for the store around it)::

    file                   run  cell  what
    result.json             x    x    written last: its presence means the folder is complete
    metrics.csv             x    x    one row per epoch (the union of the rows' keys as columns)
    predictions_test.npz    x    x    test outputs as numpy arrays: ``probs`` or ``pred``, and ``target``
    checkpoint/             x         weights and card (zoo/checkpoint.py)
    cell.json                    x    the cell's settings (model, data, seed, params, axes)
    env.json                     x    code version, packages, hardware, threads
    lr_range.json                x    the LR range test's curve, when it chose the rate
    log.txt                      x    the cell's output

``result.json`` (schema version :data:`SCHEMA_VERSION`): ``schema``, ``kind`` (``run``,
``cell`` or ``infer``), ``status`` (:data:`STATUSES`), ``reason``, ``task_kind``, ``metrics``
(``{"val": {...}, "test": {...}}``), ``fit`` (:func:`fit_summary`), ``num_parameters`` and
``seconds`` and the cost keys of :data:`COST` in every kind; a run adds ``spec`` (and its
configuration), a cell adds the keys of :data:`FIELDS` ``["cell"]``, an inference benchmark
(kind ``infer``) those of ``["infer"]``. Extend only by adding keys. Records written before the schema
had a version (no ``schema`` key) read as version 0 and are upgraded on reading
(:func:`upgrade`).

Every write is atomic (temporary file + ``os.replace``), so a reader sees a file whole
or not at all. A full disk or a folder that cannot be written raises :class:`zoo.errors.WriteError`
(a :class:`~zoo.errors.ZooError`: one line for the user), and the temporary file is removed.
Pure Python and numpy: the report reads records without torch.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import writing
from zoo.io import write_json_atomic

SCHEMA_VERSION = 1

# ----------------------------------------------------------------------------- file names

RESULT = "result.json"
HISTORY = "metrics.csv"
PREDICTIONS = "predictions_test.npz"
CHECKPOINT = "checkpoint"
CELL = "cell.json"
ENV = "env.json"
LR_RANGE = "lr_range.json"
LOG = "log.txt"

# ----------------------------------------------------------------------------- statuses

OK, DIVERGED, OOM, SKIPPED, ERROR, PRUNED = "ok", "diverged", "oom", "skipped", "error", "pruned"
STATUSES = (OK, DIVERGED, OOM, SKIPPED, ERROR, PRUNED)
"""Statuses a complete record carries: ``ok``; ``diverged`` (the training loss became NaN or
infinite); ``oom`` (out of memory, device or host); ``skipped`` (the device or precision is
not available here); ``error`` (anything else, with its message); ``pruned`` (a search's
pruner stopped the cell early as a poor trial; its history up to then is kept and
``search.epochs_saved`` says how many epochs of its budget it did not train)."""
FAILED = (ERROR, OOM)
"""Statuses rerun by ``zoo bench --retry-failed``."""
PENDING = "pending"
"""Readers only: a cell without ``result.json`` (not run, running, interrupted or half-written)."""
UNREADABLE = "unreadable"
"""Readers only: a cell whose ``cell.json`` or ``result.json`` cannot be parsed."""
READ_STATUSES = (*STATUSES, PENDING, UNREADABLE)

# ----------------------------------------------------------------------------- result.json

KINDS = ("run", "cell", "infer")
COST: dict[str, Any] = {
    "flops_per_sample": None, "achieved_flops": None, "matmul_peak_flops": None, "peak_fraction": None,
    "cpu_seconds": None, "peak_memory_mb": None, "peak_memory_kind": None,
}
"""What a training run cost (zoo/cost.py ``run_cost``): FLOPs of one forward + backward per
training sample (FlopCounterMode), the FLOP/s achieved at the loop's throughput, this machine's
measured matmul peak for the run's dtype and threads and the fraction of it achieved, CPU-seconds
(user + system, every thread), peak memory (MiB) and what measured it. None: not measured (every
record written before these keys)."""
COMMON: dict[str, Any] = {
    "status": OK, "reason": None, "task_kind": None, "metrics": {}, "fit": None, "num_parameters": None, "seconds": 0.0,
    **COST,
}
"""Keys of every result.json, with their defaults."""
FIELDS: dict[str, dict[str, Any]] = {
    "run": {"spec": None},
    "cell": {"cell_id": None, "device": "cpu", "precision": "32-true", "batch_size": 32, "time_to_target": None},
    "infer": {"model": None, "source": None, "data": None, "device": "cpu", "warmup": None, "repeats": None,
              "rows": []},
}
"""Keys of one kind only. Cells may also carry ``epochs``, ``tuned`` (values a tuner chose, e.g.
``{"lr": ...}``), ``target_reached``, ``embeddings`` (the word2vec coverage report of
``zoo/embeddings.py``, also in a run's ``spec``), ``vocab_alignment`` (a checkpoint's vocabulary rows kept for this
data's tokens, ``zoo/transfer.py`` ``align_vocab``, also in the spec) and, in an Optuna search (zoo/bench/optuna_search.py),
``search`` (``trial``, ``pruned_epoch``, ``epochs_saved``, ``attrs``); ``trainable_parameters``,
``class_names`` and ``target_unit`` (from the data, for the report's labels), ``trivial`` (an input-blind
baseline's test metrics that stored predictions cannot give: a language model's unigram bits per character). An ``infer`` record (``zoo bench
infer``, zoo/bench/infer.py) has one row per precision × batch size: latency median and p90 (ms),
throughput (samples/s), forward FLOPs per sample and the fraction of the matmul peak achieved, or the
reason it was skipped."""


RECORDED: dict[str, tuple[str, ...]] = {
    "throughput": ("fit", "throughput"), "train_seconds": ("fit", "train_seconds"), "steps": ("fit", "steps"),
    "seconds": ("seconds",), "cpu_seconds": ("cpu_seconds",), "num_parameters": ("num_parameters",),
    "peak_memory_mb": ("peak_memory_mb",), "flops_per_sample": ("flops_per_sample",),
}
"""The end-of-run values a search may take as objectives -> where result.json keeps them."""


def objective_value(result: Mapping[str, Any], metric: str) -> float | None:
    """A cell's value of ``metric``: ``val_<name>`` from ``metrics.val``, else a :data:`RECORDED` value;
    None when it is missing or not finite."""
    node: Any = result if metric in RECORDED else ((result.get("metrics") or {}).get("val") or {})
    for k in RECORDED.get(metric, (metric[4:] if metric.startswith("val_") else metric,)):
        node = node.get(k) if isinstance(node, Mapping) else None
    return float(node) if isinstance(node, (int, float)) and not isinstance(node, bool) and math.isfinite(node) else None


class RecordError(ValueError):
    """A record file exists but does not parse (truncated, not JSON, not an object)."""


def new_result(kind: str, status: str = OK, reason: str | None = None, **fields: Any) -> dict[str, Any]:
    """A result.json with every key of ``kind``, defaults filled in, then ``fields``."""
    if kind not in KINDS:
        raise ValueError(f"unknown record kind {kind!r}; one of {KINDS}")
    _check_status(status)
    return {"schema": SCHEMA_VERSION, "kind": kind, **COMMON, **FIELDS[kind], "status": status, "reason": reason,
            **fields}


def fit_summary(fit: Any) -> dict[str, Any] | None:
    """What the training loop did (a :class:`zoo.engine.FitResult` or a mapping), without its per-epoch history."""
    if fit is None:
        return None
    d = dataclasses.asdict(fit) if dataclasses.is_dataclass(fit) else dict(fit)
    d.pop("history", None)
    return d


def upgrade(raw: Any) -> dict[str, Any]:
    """A result.json of any schema version as the current one (missing keys get their defaults).

    Version 0 (no ``schema`` key) had two shapes under one name: the runner's (with
    ``status``) and ``zoo train``'s (``spec``, no status: ``diverged`` if its loop said so).
    """
    if not isinstance(raw, dict):
        raise RecordError("not a JSON object")
    out = dict(raw)
    if "schema" not in out:
        kind = "run" if "spec" in out and "cell_id" not in out else "cell"
        if "status" not in out:
            if kind == "run":
                out["status"] = DIVERGED if (out.get("fit") or {}).get("stop_reason") == "diverged" else OK
            else:
                out["status"], out["reason"] = ERROR, "result.json has no status"
        out["schema"], out["kind"] = 0, kind
    kind = out.get("kind") if out.get("kind") in KINDS else "cell"
    return {**COMMON, **FIELDS[kind], **out, "kind": kind}


def _check_status(status: Any) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; one of {STATUSES}")


# ----------------------------------------------------------------------------- writing


def _tmp(path: Path, suffix: str = ".tmp") -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}{suffix}")


def _replace_from_tmp(path: Path, write: Callable[[Path], None], suffix: str = ".tmp") -> None:
    tmp = _tmp(path, suffix)
    with writing(path):
        try:
            write(tmp)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically (zoo.io.write_json_atomic), failures as :class:`zoo.errors.WriteError`."""
    with writing(path):
        write_json_atomic(path, obj)


def write_result(folder: str | Path, result: Mapping[str, Any]) -> None:
    """Write ``result.json`` (the last file of a record)."""
    _check_status(result.get("status"))
    if result.get("kind") not in KINDS or result.get("schema") != SCHEMA_VERSION:
        raise ValueError("a result is made by zoo.record.new_result (kind and schema missing)")
    write_json(Path(folder) / RESULT, result)


def write_cell(folder: str | Path, cell: Mapping[str, Any]) -> None:
    write_json(Path(folder) / CELL, cell)


def write_env(folder: str | Path, env: Mapping[str, Any]) -> None:
    write_json(Path(folder) / ENV, env)


def write_lr_range(folder: str | Path, curve: Mapping[str, Any]) -> None:
    write_json(Path(folder) / LR_RANGE, curve)


def write_history(folder: str | Path, history: list[dict[str, Any]]) -> None:
    """``metrics.csv``: one row per epoch, the union of the rows' keys as columns."""
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(history)
        os.chmod(tmp, 0o644)

    _replace_from_tmp(Path(folder) / HISTORY, write)


def _numpy(v: Any) -> np.ndarray:
    if hasattr(v, "detach"):  # a torch tensor, without importing torch
        v = v.detach().cpu().numpy()
    return np.asarray(v)


def write_predictions(folder: str | Path, predictions: Mapping[str, Any]) -> None:
    """``predictions_test.npz``: per-sample test outputs as numpy arrays (``probs`` or ``pred``,
    and ``target``), so reports and curves need neither torch nor the model. Nothing is
    written for no predictions."""
    if not predictions:
        return
    arrays = {k: _numpy(v) for k, v in predictions.items()}

    def write(tmp: Path) -> None:
        np.savez_compressed(tmp, **arrays)
        os.chmod(tmp, 0o644)

    _replace_from_tmp(Path(folder) / PREDICTIONS, write, suffix=".tmp.npz")  # numpy keeps a name ending in .npz


def append_log(folder: str | Path, text: str) -> None:
    path = Path(folder) / LOG
    with writing(path), open(path, "a", encoding="utf-8") as f:
        f.write(text if text.endswith("\n") else text + "\n")


def write_blobs(folder: str | Path, files: Mapping[str, bytes]) -> None:
    """Write a record received as ``{file name: bytes}`` (from another machine): every file
    atomically, ``result.json`` last. Only plain names are accepted."""
    folder = Path(folder)
    for name in files:
        if not name or name != Path(name).name or name.startswith("."):
            raise ValueError(f"not a record file name: {name!r}")
    with writing(folder):
        folder.mkdir(parents=True, exist_ok=True)
    for name in sorted(files, key=lambda n: n == RESULT):
        _replace_from_tmp(folder / name, lambda tmp, data=files[name]: tmp.write_bytes(data))


def write_run(folder: str | Path, result: Mapping[str, Any], *, history: list[dict[str, Any]],
              predictions: Mapping[str, Any], checkpoint: Callable[[Path], None] | None = None) -> None:
    """Write a run folder: metrics.csv, predictions, ``checkpoint(folder)`` if given, result.json last."""
    folder = Path(folder)
    write_history(folder, history)
    write_predictions(folder, predictions)
    if checkpoint is not None:
        with writing(folder / CHECKPOINT):
            checkpoint(folder)
    write_result(folder, result)


# ----------------------------------------------------------------------------- reading


def read_json(path: str | Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_optional_json(path: str | Path) -> dict[str, Any] | None:
    """A JSON object, or None when the file is missing, unreadable or not an object."""
    try:
        obj = read_json(path)
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def read_result(folder: str | Path) -> dict[str, Any] | None:
    """The folder's result.json in the current schema; None while there is none.

    Raises :class:`RecordError` when it does not parse. A status outside :data:`STATUSES`
    reads as ``error`` with the unknown status in its reason.
    """
    path = Path(folder) / RESULT
    try:
        raw = read_json(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise RecordError(f"{type(e).__name__}: {e}") from None
    res = upgrade(raw)
    status = res.get("status")
    if status not in STATUSES:
        reason = res.get("reason")
        res["status"], res["reason"] = ERROR, f"unknown status {status!r}" + (f": {reason}" if reason else "")
    return res


def read_history(folder: str | Path) -> list[dict[str, Any]] | None:
    """``metrics.csv`` as rows (numbers parsed, empty fields NaN), or None when missing, unreadable or empty."""
    try:
        with open(Path(folder) / HISTORY, newline="", encoding="utf-8") as f:
            rows = [{k: _number(v) for k, v in row.items() if k is not None} for row in csv.DictReader(f)]
    except (OSError, ValueError, csv.Error):
        return None
    return rows or None


def _number(text: str | None) -> Any:
    if text is None or text == "":
        return math.nan
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def read_predictions(folder: str | Path) -> dict[str, np.ndarray] | None:
    """``predictions_test.npz`` as arrays, or None when missing, unreadable or without ``target``
    and ``probs``/``pred``. Never unpickles."""
    path = Path(folder) / PREDICTIONS
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError):
        return None
    return out if "target" in out and ("probs" in out or "pred" in out) else None


def log_tail(folder: str | Path, lines: int = 1) -> str:
    """The last non-empty lines of ``log.txt``, joined by `` / `` (empty when there is none)."""
    try:
        text = (Path(folder) / LOG).read_text(errors="replace")
    except OSError:
        return ""
    return " / ".join([ln.strip() for ln in text.splitlines() if ln.strip()][-lines:])


@dataclass
class CellRecord:
    """One cell of a store and what its folder says about it (files are read when first asked for)."""

    cell_id: str
    path: Path
    cell: dict[str, Any]
    """cell.json (or the cell's entry in the store's list when it has no folder yet)."""
    result: dict[str, Any] | None
    status: str
    """One of :data:`READ_STATUSES`."""
    reason: str = ""

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
        """Stored metrics of ``split`` (``val`` or ``test``), ``{}`` when absent."""
        return dict(((self.result or {}).get("metrics") or {}).get(split) or {})

    @cached_property
    def history(self) -> list[dict[str, Any]] | None:
        return read_history(self.path)

    @cached_property
    def predictions(self) -> dict[str, np.ndarray] | None:
        return read_predictions(self.path)

    @cached_property
    def lr_range(self) -> dict[str, Any] | None:
        return read_optional_json(self.path / LR_RANGE)

    @cached_property
    def env(self) -> dict[str, Any] | None:
        return read_optional_json(self.path / ENV)

    def log_tail(self, lines: int = 1) -> str:
        return log_tail(self.path, lines)


def read_cell(folder: str | Path) -> CellRecord:
    """The record of a cell folder; never raises for its contents (``unreadable``, ``pending``)."""
    d = Path(folder)
    try:
        obj = read_json(d / CELL)
        if not isinstance(obj, dict) or not obj:
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        return CellRecord(d.name, d, {}, None, UNREADABLE, f"cell.json unreadable ({type(e).__name__}: {e})")
    cell_id = str(obj.get("cell_id") or d.name)
    try:
        result = read_result(d)
    except RecordError as e:
        return CellRecord(cell_id, d, obj, None, UNREADABLE, f"result.json unreadable ({e})")
    if result is None:
        reason = "no result.json: still running, interrupted or half-written"
        epochs = len(read_history(d) or [])
        if epochs:
            reason += f"; {epochs} epoch(s) in metrics.csv"
        tail = log_tail(d)
        if tail:
            reason += f"; last log line: {tail[:160]}"
        return CellRecord(cell_id, d, obj, None, PENDING, reason)
    status = result["status"]
    reason = str(result.get("reason") or "")
    if status == DIVERGED and not reason:
        reason = "non-finite loss"
    return CellRecord(cell_id, d, obj, result, status, reason)


def is_record(folder: str | Path) -> bool:
    """Whether ``folder`` looks like a cell folder (it has cell.json or result.json)."""
    d = Path(folder)
    return (d / CELL).exists() or (d / RESULT).exists()
