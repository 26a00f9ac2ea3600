"""``zoo.create``: a model name and flat keyword arguments -> a task (LightningModule).

The registry gives the builder; the keyword arguments are split by owner
(builder config, task constructor, optimizer config) and the model is wrapped in
the task for its kind. Knows nothing of files (checkpoints) or training.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import zoo.models  # noqa: F401  (registers every family)
from zoo import registry
from zoo.errors import UnknownNameError
from zoo.optim import OptimConfig
from zoo.tasks import Task, make_task, task_params


def create(name: str, *, task: str | None = None, **kwargs: Any) -> Task:
    """A LightningModule training model ``name``; kwargs as in the module docstring (no loop kwargs)."""
    entry = registry.get(name)
    task = task or entry.tasks[0]
    if task not in entry.tasks:
        raise UnknownNameError(f"task for model {name!r}", task, entry.tasks)
    optim, rest = OptimConfig.split(kwargs)
    if len(rest) == len(kwargs):  # no optimizer setting given at all: the task's own defaults
        optim = None
    tparams = task_params(task) - {"binary"}
    task_kwargs = {k: rest.pop(k) for k in list(rest) if k in tparams}
    builder_kwargs = rest
    allowed = set(registry.builder_params(name)) | tparams | set(OptimConfig.field_names())
    for k in builder_kwargs:
        if k not in allowed:
            raise UnknownNameError(f"argument for model {name!r}", k, allowed)
    model = registry.call_builder(name, builder_kwargs)
    module = make_task(task, model, optim, task_kwargs)
    module.zoo_spec = {
        "model": name,
        "task": task,
        "kwargs": {**builder_kwargs, **task_kwargs, **_changed(module.optim)},
    }
    return module


def _changed(cfg: Any) -> dict[str, Any]:
    """Fields of a dataclass that differ from their defaults (what the user chose)."""
    out = {}
    for f in dataclasses.fields(cfg):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        if getattr(cfg, f.name) != default:
            out[f.name] = getattr(cfg, f.name)
    return out
