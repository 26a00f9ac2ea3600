"""``zoo.train``: configuration -> factory -> engine -> record, the one path from names to a
trained, evaluated, saved model.

The CLI (``zoo train``) and the benchmark runner both call :func:`train`, so a study
cell and a command line with the same settings are the same run. Settings are one flat
namespace (model, task, optimizer, loop, data and run settings), sorted and checked by
:func:`zoo.factory.resolve` into a :class:`zoo.config.RunConfig`, which the run records
whole in ``result.json`` and in its checkpoint card.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo import cost, factory, record, registry
from zoo.config import ConfigFile, RunConfig, check_combination, check_seed
from zoo.engine import FitResult, fit, make_fabric, resolve_device
from zoo.errors import ConfigError
from zoo.io import check_output_dir, make_output_dir
from zoo.tasks import Task


def seed_everything(seed: int) -> None:
    check_seed("seed", seed)
    random.seed(seed)
    np.random.seed(seed)
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
    config: dict[str, Any] = field(default_factory=dict)
    """The whole resolved configuration (:meth:`zoo.config.RunConfig.to_dict`, the model's part in full)."""
    cost: dict[str, Any] = field(default_factory=dict)
    """FLOPs per sample, fraction of the matmul peak, CPU-seconds, peak memory (zoo/cost.py ``run_cost``)."""

    @property
    def status(self) -> str:
        return "diverged" if self.fit.diverged else "ok"


def load_data(data: str, *, batch_size: int, seed: int, data_options: dict[str, Any] | None = None):
    """The datamodule for ``data``: the split is fixed (``split_seed``, default 0) so every
    training seed is scored on the same test set; ``seed`` orders the batches."""
    from zoo.data import load

    options = {"split_seed": 0, **(data_options or {})}
    return load(data, batch_size=batch_size, seed=seed, **options)


def prepare(cfg: RunConfig) -> tuple[Task, Any]:
    """Seed, load the data, build the task for it: what a run and a range test start from."""
    _check_embeddings(cfg)
    seed_everything(cfg.run.seed)
    dm = load_data(cfg.data.data, batch_size=cfg.data.batch_size, seed=cfg.run.seed, data_options=cfg.data.data_options)
    info = dm.info
    if info.kind != cfg.kind:
        raise ConfigError(f"dataset {cfg.data.data!r} loaded as {info.kind}, but its card says {cfg.kind}.")
    entry = registry.get(cfg.model)
    implied = entry.from_data(info) if entry.from_data else {}
    task = factory.build(cfg, implied) if not cfg.run.init_from else _from_checkpoint(cfg, implied, info)
    if cfg.run.unfreeze_top:
        task.schedule_unfreeze(cfg.run.unfreeze_top, cfg.run.unfreeze_epoch)
    model_config = getattr(task.model, "config", None)
    if model_config is not None:
        check_combination(model_config, cfg.data)  # with the builder's own defaults, now known
    if not cfg.run.init_from and getattr(model_config, "init_embeddings", ""):
        from zoo.embeddings import apply

        apply(task, model_config.init_embeddings, side=model_config.init_embeddings_side,
              freeze=model_config.freeze_embeddings, info=info, train=getattr(dm, "splits", {}).get("train"))
    task.data_info = info
    task.zoo_spec.update(data=cfg.data.data, seed=cfg.run.seed, batch_size=cfg.data.batch_size,
                         data_options=cfg.data.data_options)
    if cfg.run.init_from and not any(layer.split(".")[0] == "scaler" for layer in cfg.run.reinit):
        task.use_data(dm)  # the checkpoint's input scalers stay as trained: they belong to its backbone
    else:
        task.prepare_data_stats(dm)  # from scratch, or a re-initialized input scaler fitted on this data
    return task, dm


def _check_embeddings(cfg: RunConfig) -> None:
    """The word2vec settings of a translator (zoo/embeddings.py) that are each valid but not together."""
    chosen = cfg.model_settings
    if cfg.run.init_from and ("init_embeddings" in chosen or "freeze_embeddings" in chosen):
        raise ConfigError("init_embeddings starts the word embeddings from word2vec, init_from the whole model from a "
                          f"checkpoint ({cfg.run.init_from!r}); use one of them.")
    if chosen.get("freeze_embeddings") and not chosen.get("init_embeddings"):
        raise ConfigError("freeze_embeddings needs init_embeddings (a word2vec checkpoint to start the embeddings from).")


def _from_checkpoint(cfg: RunConfig, implied: dict[str, Any], info: Any) -> Task:
    """The task of ``cfg.run.init_from`` for this run's data (``info``): the checkpoint's architecture, a
    new head when the data's number of classes differs, its vocabulary's rows aligned to the data's
    (a char model of another text), the run's optimizer and task settings."""
    from zoo.checkpoint import read_card
    from zoo.hub import folder_of, load_pretrained

    folder, _ = folder_of(cfg.run.init_from)
    card = read_card(folder)
    if card["model"] != cfg.model:
        raise ConfigError(f"init_from {cfg.run.init_from!r} is a {card['model']!r} checkpoint; the run trains "
                          f"{cfg.model!r} (zoo train {card['model']} --init-from ...).")
    overrides: dict[str, Any] = {}
    n = implied.get("num_classes")
    if n is not None and n != card["kwargs"].get("num_classes"):
        overrides["num_classes"] = n
    for key, value in implied.items():  # the shapes this data implies (input features, channels, vocabularies)
        if key != "num_classes" and key in card["kwargs"] and value != card["kwargs"][key]:
            overrides[key] = value  # the shape check names the layer, and reinit= lets it be re-initialized
    if cfg.kind != card["task"]:
        overrides["task"] = cfg.kind  # e.g. a multiclass checkpoint fine-tuned on binary data
    task = load_pretrained(cfg.run.init_from, freeze=cfg.run.freeze, reinit=cfg.run.reinit, data_extra=info.extra,
                           **overrides)
    task.optim = cfg.optimizer  # the run's optimizer and schedule, not the checkpoint's
    return task


def train(
    model: str,
    data: str | None = None,
    *,
    out_dir: str | Path | None = None,
    save: bool = True,
    on_ready: Callable[[RunConfig, Path | None], None] | None = None,
    file: ConfigFile | None = None,
    on_epoch_end: Callable[[dict[str, Any]], Any] | None = None,
    **settings: Any,
) -> TrainResult:
    """Train ``model`` on ``data`` and evaluate on val and test; write a run folder if ``out_dir``.

    ``settings``: flat model, task, optimizer, loop, data (``batch_size``, ``data_options``)
    and run (``seed``, ``threads``, ``logger``) settings. ``out_dir`` receives ``metrics.csv``
    (one row per epoch), ``checkpoint/`` (not for a diverged run), ``predictions_test.npz``
    and ``result.json``; it must be new or empty: an earlier run is never overwritten.
    ``on_ready(config, run_dir)`` is called once everything is checked, before training;
    ``file``: settings read from a configuration file, under ``settings``;
    ``on_epoch_end(row)``: each epoch's history row; True stops training (zoo/engine.py ``fit``).
    """
    t0, c0 = time.perf_counter(), cost.cpu_seconds()
    cfg = factory.resolve(model, data, file=file, **settings)
    loop = cfg.loop
    fabric = make_fabric(resolve_device(loop.device), loop.precision)  # refuses an unrunnable pair before any work
    run_dir = check_output_dir(out_dir, new=True) if out_dir is not None else None
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    cost.reset_peak_memory(resolve_device(loop.device))
    task, dm = prepare(cfg)
    if run_dir is not None:  # created only once the data and the model are known to be valid
        make_output_dir(run_dir)
    loggers = _loggers(cfg.run.logger, run_dir, name=f"{cfg.model}-{cfg.data.data}") if run_dir is not None else []
    if on_ready is not None:
        on_ready(cfg, run_dir)
    for lg in loggers:
        lg.log_hyperparams(task.zoo_spec)
    result = fit(task, dm, loop, loggers=loggers, fabric=fabric, on_epoch_end=on_epoch_end)
    metrics, predictions = {}, {}
    for split in ("val", "test"):
        m, out = task.evaluate(getattr(dm, f"{split}_dataloader")(), full=True)
        metrics[split] = m
        if split == "test":
            predictions = out
    _log_final(loggers, metrics, len(result.history), result.diverged)
    recorded = cfg.to_dict(model_config=getattr(task.model, "config", None))
    spent = cost.run_cost(task, dm, device=fabric.device.type, precision=loop.precision, throughput=result.throughput,
                          threads=torch.get_num_threads(), cpu_seconds=cost.cpu_seconds() - c0)
    res = TrainResult(task, dm, result, metrics, predictions, run_dir, time.perf_counter() - t0, recorded, spent)
    if run_dir is not None:
        write_run(res, save=save and not result.diverged)  # a diverged run leaves no checkpoint to load
    return res


def _log_final(loggers: list[Any], metrics: dict[str, Any], epoch: int, diverged: bool) -> None:
    """The final validation and test metrics (scalars) to TensorBoard and W&B, then close the loggers.
    The CSV logger's metrics.csv stays one row per epoch; result.json holds the final metrics."""
    from lightning.pytorch.loggers import CSVLogger

    final = {f"{split}/{k}": v for split, m in metrics.items() for k, v in headline(m).items()}
    for lg in loggers:
        if not isinstance(lg, CSVLogger):
            lg.log_metrics(final, step=epoch)
        lg.finalize("failed" if diverged else "success")


def _loggers(kind: str, run_dir: Path, name: str) -> list[Any]:
    if kind == "none":
        return []
    if kind == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return [CSVLogger(run_dir, name="logs", version="")]
    if kind == "tensorboard":
        try:
            from lightning.pytorch.loggers import TensorBoardLogger

            return [TensorBoardLogger(run_dir, name="tensorboard", version="", default_hp_metric=False)]  # no -1 placeholder
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
        save_checkpoint(res.task, folder / record.CHECKPOINT, metrics=res.metrics, fit=result["fit"], config=result["config"])

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
        config=res.config,
        **res.cost,
    )


def headline(metrics: dict[str, Any]) -> dict[str, float]:
    """Scalar metrics only (no per-class lists), for printing."""
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float))}


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)
