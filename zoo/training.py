"""``zoo.create`` and ``zoo.train``: the one path from names to a trained, evaluated, saved model.

The CLI (``zoo train``) and the benchmark runner both call :func:`train`, so a
study cell and a command line with the same settings are the same run.
Keyword arguments form one flat namespace, split by owner:

* builder kwargs   -> the model family's config dataclass (``hidden``, ``activation``, ...);
* optimizer kwargs -> :class:`zoo.optim.OptimConfig` (``optimizer``, ``lr``, ``schedule``, ...);
* task kwargs      -> the task's constructor (``l1``, ``l2``, ``label_smoothing``, ...);
* loop kwargs      -> :class:`zoo.engine.LoopConfig` (``max_epochs``, ``patience``, ``clip_norm``, ...).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo import record, registry
from zoo.engine import FitResult, LoopConfig, fit, make_fabric, resolve_device
from zoo.errors import ConfigError, UnknownNameError, check_positive
from zoo.factory import create
from zoo.tasks import Task

LOGGERS = ("csv", "tensorboard", "wandb", "none")


def split_kwargs(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model/optim/task kwargs, loop kwargs)."""
    loop_names = {f.name for f in dataclasses.fields(LoopConfig)}
    return {k: v for k, v in kwargs.items() if k not in loop_names}, {k: v for k, v in kwargs.items() if k in loop_names}


def seed_everything(seed: int) -> None:
    check_positive("seed", seed, allow_zero=True, integer=True)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class TrainResult:
    """A trained task, its data, what the loop did, and the final evaluation."""

    task: Task
    data: Any
    fit: FitResult
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Full metrics per split: {"val": {...}, "test": {...}}."""
    predictions: dict[str, torch.Tensor] = field(default_factory=dict)
    """Test-split outputs (probabilities or predictions, and targets)."""
    run_dir: Path | None = None
    seconds: float = 0.0


def load_data(data: str, *, batch_size: int, seed: int, data_options: dict[str, Any] | None = None):
    """The datamodule for ``data``: the split is fixed (``split_seed``, default 0) so every
    training seed is scored on the same test set; ``seed`` orders the batches."""
    from zoo.data import load

    options = {"split_seed": 0, **(data_options or {})}
    return load(data, batch_size=batch_size, seed=seed, **options)


def train(
    model: str,
    data: str | None = None,
    *,
    seed: int = 0,
    batch_size: int = 32,
    data_options: dict[str, Any] | None = None,
    out_dir: str | Path | None = None,
    logger: str = "csv",
    threads: int = 0,
    save: bool = True,
    **kwargs: Any,
) -> TrainResult:
    """Train ``model`` on ``data`` and evaluate on val and test; write a run folder if ``out_dir``.

    ``out_dir`` receives ``metrics.csv`` (one row per epoch), ``checkpoint/``,
    ``predictions_test.npz`` and ``result.json``. It must be new or empty: an
    earlier run is never overwritten.
    """
    t0 = time.perf_counter()
    entry = registry.get(model)
    data = data or entry.default_data
    if data is None:
        raise ConfigError(f"model {model!r} has no default dataset; pass one (zoo list shows them).")
    if logger not in LOGGERS:
        raise UnknownNameError("logger", logger, LOGGERS)
    check_positive("batch_size", batch_size, integer=True)
    check_positive("threads", threads, allow_zero=True, integer=True)
    model_kwargs, loop_kwargs = split_kwargs(kwargs)
    loop = LoopConfig(**loop_kwargs)
    fabric = make_fabric(resolve_device(loop.device), loop.precision)  # refuses an unrunnable pair before any work
    run_dir = _check_new_run_dir(out_dir) if out_dir is not None else None
    if threads:
        torch.set_num_threads(threads)

    seed_everything(seed)
    dm = load_data(data, batch_size=batch_size, seed=seed, data_options=data_options)
    info = dm.info
    if info.kind not in entry.tasks:
        raise ConfigError(
            f"model {model!r} trains for {', '.join(entry.tasks)}; dataset {data!r} is {info.kind}."
        )
    implied = entry.from_data(info) if entry.from_data else {}
    task = create(model, task=info.kind, **{**implied, **model_kwargs})
    task.data_info = info
    task.zoo_spec.update(data=data, seed=seed, batch_size=batch_size, data_options=data_options or {})
    task.prepare_data_stats(dm)

    if run_dir is not None:  # created only once the data and the model are known to be valid
        run_dir.mkdir(parents=True, exist_ok=True)
    loggers = _loggers(logger, run_dir, name=f"{model}-{data}") if run_dir is not None else []
    for lg in loggers:
        lg.log_hyperparams(task.zoo_spec)
    result = fit(task, dm, loop, loggers=loggers, fabric=fabric)
    metrics, predictions = {}, {}
    for split in ("val", "test"):
        m, out = task.evaluate(getattr(dm, f"{split}_dataloader")(), full=True)
        metrics[split] = m
        if split == "test":
            predictions = out
    res = TrainResult(task, dm, result, metrics, predictions, run_dir, time.perf_counter() - t0)
    if run_dir is not None:
        write_run(res, save=save)
    return res


def _check_new_run_dir(out_dir: str | Path) -> Path:
    """``out_dir`` as a Path, if it is new or empty (checked before any work; created after validation)."""
    path = Path(out_dir)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ConfigError(f"output folder {path} already exists and is not empty; choose a new one (nothing was changed).")
    return path


def _loggers(kind: str, run_dir: Path, name: str) -> list[Any]:
    if kind == "none":
        return []
    if kind == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return [CSVLogger(run_dir, name="logs", version="")]
    if kind == "tensorboard":
        try:
            from lightning.pytorch.loggers import TensorBoardLogger

            return [TensorBoardLogger(run_dir, name="tensorboard", version="")]
        except (ModuleNotFoundError, ImportError):
            raise ConfigError("logger 'tensorboard' needs the tensorboard package: pip install 'zoobench[tensorboard]'.") from None
    try:
        from lightning.pytorch.loggers import WandbLogger
    except ModuleNotFoundError:
        raise ConfigError("logger 'wandb' needs the wandb package: pip install 'zoobench[wandb]'.") from None
    os.environ.setdefault("WANDB_MODE", "offline")  # never needs an account unless the user configured one
    os.environ.setdefault("WANDB_SILENT", "true")
    return [WandbLogger(name=name, save_dir=str(run_dir), project="zoobench")]


def write_run(res: TrainResult, *, save: bool = True) -> None:
    """Write the run folder through zoo.record: metrics.csv, predictions, checkpoint, result.json last."""
    from zoo.checkpoint import save_checkpoint

    result = summarize(res)

    def checkpoint(folder: Path) -> None:
        save_checkpoint(res.task, folder / record.CHECKPOINT, metrics=res.metrics, fit=result["fit"])

    record.write_run(res.run_dir, result, history=res.fit.history, predictions=res.predictions,
                     checkpoint=checkpoint if save else None)


def summarize(res: TrainResult) -> dict[str, Any]:
    """The run's result.json (zoo.record's schema, kind ``run``)."""
    return record.new_result(
        "run", record.DIVERGED if res.fit.diverged else record.OK,
        "training loss became NaN or infinite" if res.fit.diverged else None,
        task_kind=getattr(res.task, "kind", None),
        spec=res.task.zoo_spec,
        num_parameters=res.task.num_parameters(),
        fit=record.fit_summary(res.fit),
        metrics=res.metrics,
        seconds=res.seconds,
    )


def headline(metrics: dict[str, Any]) -> dict[str, float]:
    """Scalar metrics only (no per-class lists), for printing."""
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float))}


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)
