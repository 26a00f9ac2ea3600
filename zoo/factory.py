"""From names to things: a model and dataset name plus flat settings -> a checked
:class:`~zoo.config.RunConfig` (:func:`resolve`) -> a task, the LightningModule (:func:`create`).

The registry gives the model's builder and config class, the dataset registry the task
kind and the loader's options; :func:`zoo.config.resolve` sorts and checks the settings.
Knows nothing of files (checkpoints) or training. Lightning is imported only when a task
is built, so checking a configuration (a study file, ``--print-config``) does not load it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

import zoo.models  # noqa: F401  (registers every family)
from zoo import config, registry
from zoo.errors import ConfigError, UnknownNameError, ZooError

CREATE_SECTIONS = ("model", "task", "optimizer")


def dataset_kind_and_options(data: str) -> tuple[str, dict[str, Any]]:
    """(task kind, ``{loader option: type}``) of dataset ``data`` (batch_size and seed are settings of the run)."""
    from zoo.data import get_dataset

    ds = get_dataset(data)
    hints = ds.option_types
    names = (set(ds.options) - {"batch_size", "seed"}) | {"split_seed"}
    return ds.kind, {k: (int | None if k == "split_seed" else hints.get(k, Any)) for k in sorted(names)}


def resolve(
    model: str,
    data: str | None = None,
    *,
    file: config.ConfigFile | None = None,
    check_model: bool = False,
    **settings: Any,
) -> config.RunConfig:
    """The checked configuration of training ``model`` on ``data`` (None: the model's default) with ``settings``.

    ``file``: a configuration file's settings, under ``settings`` (explicit ones win).
    ``check_model``: construct the family's config now, with its defaults for the sizes the
    data implies (a study checks this way); otherwise that check comes when the model is built.
    """
    entry = registry.get(model)
    if data is None and file is not None:
        data = file.settings.get("data")
    if data is None:
        data = entry.default_data
        if data is None:
            raise ConfigError(f"model {model!r} has no default dataset; pass one (zoo list shows them).")
    data = config.coerce(data, str, "data")
    kind, options = dataset_kind_and_options(data)
    if kind not in entry.tasks:
        raise ConfigError(f"model {model!r} trains for {', '.join(entry.tasks)}; dataset {data!r} is {kind}.")
    if kind not in config.TASK_SETTINGS:
        raise ConfigError(f"dataset {data!r} needs a {kind} task, which this version of zoo does not have.")
    if file is not None:
        file.check_sections(config.settings_table(entry.config, kind))
        if file.kind is not None and file.kind != kind:
            raise ConfigError(f"{file.source}: task.kind is {file.kind!r}, but dataset {data!r} is {kind}.")
        settings = {**{k: v for k, v in file.settings.items() if k != "data"}, **settings}
    cfg = config.resolve(model, entry.config, kind, {**settings, "data": data}, data_options=options, check_model=check_model)
    cfg.data.data_options = {"split_seed": 0, **cfg.data.data_options}  # one test set for every training seed
    return cfg


def create(name: str, *, task: str | None = None, **kwargs: Any):
    """A LightningModule training model ``name``; ``kwargs``: model, task and optimizer settings."""
    entry = registry.get(name)
    kind = task or entry.tasks[0]
    if kind not in entry.tasks:
        raise UnknownNameError(f"task for model {name!r}", kind, entry.tasks)
    cfg = config.resolve(name, entry.config, kind, kwargs, sections=CREATE_SECTIONS, caller="zoo.create")
    return build(cfg)


def build(cfg: config.RunConfig, implied: Mapping[str, Any] | None = None):
    """The task of ``cfg``; ``implied``: builder settings that follow from the data (the user's win)."""
    from zoo.tasks import TASKS

    kwargs = {**(implied or {}), **cfg.model_settings}
    model = build_model(cfg.model, kwargs)
    module = TASKS[cfg.kind](model, cfg.optimizer, **config.task_kwargs(cfg.kind, cfg.task))
    module.zoo_spec = {
        "model": cfg.model,
        "task": cfg.kind,
        "kwargs": {**kwargs, **_changed(cfg.task), **_changed(cfg.optimizer)},
    }
    return module


def memory_bytes() -> int:
    """Physical memory of this machine."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**40


def check_size(name: str, kwargs: Mapping[str, Any]) -> None:
    """Refuse in one line a model too large to train here, from its shapes alone.

    The model is built on torch's meta device (nothing allocated): weights, gradients and
    two optimizer moments must fit in the machine's memory.
    """
    import torch

    try:
        with torch.device("meta"):
            shape = registry.call_builder(name, dict(kwargs))
    except ZooError:
        raise
    except Exception:  # noqa: BLE001 -- a builder that needs real tensors: the allocation below decides
        shape = None
    if shape is not None:
        tensors = [*shape.parameters(), *shape.buffers()]
        count = sum(t.numel() for t in tensors)
        need = 4 * sum(t.numel() * t.element_size() for t in tensors)
        if need > memory_bytes():
            raise ConfigError(
                f"model {name!r} with these settings has {count:,} parameters: training needs about "
                f"{need / 2**30:,.1f} GiB, more than this machine's {memory_bytes() / 2**30:,.1f} GiB; choose smaller sizes."
            )


def build_model(name: str, kwargs: Mapping[str, Any]):
    """``registry.call_builder`` after :func:`check_size`; an allocation that fails anyway is one line too."""
    check_size(name, kwargs)
    try:
        return registry.call_builder(name, dict(kwargs))
    except (MemoryError, RuntimeError) as e:
        if isinstance(e, MemoryError) or "alloc" in str(e).lower():
            raise ConfigError(f"model {name!r} with these settings does not fit in memory ({' '.join(str(e).split())[:200]}).") from None
        raise


def _changed(cfg: Any) -> dict[str, Any]:
    """Fields of a dataclass that differ from their defaults (what the user chose)."""
    out = {}
    for f in dataclasses.fields(cfg):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        if getattr(cfg, f.name) != default:
            out[f.name] = getattr(cfg, f.name)
    return out
