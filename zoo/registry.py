"""Model registry: builder name -> builder.

A builder is a function ``(**kwargs) -> nn.Module`` whose keyword arguments are
the fields of its family's config dataclass (one builder per variant, each with
its own defaults, as timm's ``_create_resnet``); :func:`zoo.create` wraps the
module in the LightningModule (task) for the data it is trained on. Keys are builder names
(``mlp``, ``small_cnn``, ``char_gru``); registering a name twice raises, as in
torchvision's ``_api.py``.

This module imports no family: the families' package, :mod:`zoo.models`,
imports every family file (each registers its builders here) and re-exports
these look-ups, as ``timm.models`` and ``torchvision.models`` do. Whoever needs
the filled registry imports :mod:`zoo.models` (:mod:`zoo.factory` does); a
look-up in a process that never imported it is a bug, and says so.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zoo.errors import UnknownNameError

if TYPE_CHECKING:
    from torch import nn

Builder = Callable[..., "nn.Module"]


@dataclass(frozen=True)
class ModelEntry:
    """What the zoo knows about one registered builder."""

    name: str
    builder: Builder
    config: type
    """The family's config dataclass: its fields are the builder's keyword arguments."""
    tasks: tuple[str, ...]
    """Task kinds it can be trained for (keys of ``zoo.tasks.TASKS``); the first is the default."""
    family: str
    """Module file the builder lives in (``mlp``, ``cnn``, ...)."""
    default_data: str | None = None
    """Dataset used when none is given (an embedded one, so a fresh install works)."""
    from_data: Callable[[Any], dict[str, Any]] | None = None
    """Builder kwargs implied by a dataset's ``DataInfo`` (input size, classes, vocabulary)."""
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.builder) or ""

    @property
    def summary(self) -> str:
        return self.doc.splitlines()[0] if self.doc else ""


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(
    *,
    config: type,
    tasks: tuple[str, ...],
    default_data: str | None = None,
    from_data: Callable[[Any], dict[str, Any]] | None = None,
    tags: tuple[str, ...] = (),
    name: str | None = None,
) -> Callable[[Builder], Builder]:
    """Decorator registering a model builder under its function name."""

    def wrap(fn: Builder) -> Builder:
        key = name or fn.__name__
        if key in _REGISTRY:
            raise ValueError(f"model {key!r} is already registered (by {_REGISTRY[key].builder.__module__}).")
        family = fn.__module__.rsplit(".", 1)[-1]
        _REGISTRY[key] = ModelEntry(key, fn, config, tuple(tasks), family, default_data, from_data, tuple(tags))
        return fn

    return wrap


def _check_filled() -> None:
    if not _REGISTRY:
        raise RuntimeError("no model is registered: import zoo.models (it registers every family) before looking models up.")


def get(name: str) -> ModelEntry:
    """The entry for ``name``; an unknown name lists close matches."""
    _check_filled()
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownNameError("model", name, _REGISTRY) from None


def list_models(pattern: str = "*") -> list[str]:
    """Sorted model names matching a shell-style ``pattern``."""
    _check_filled()
    return sorted(n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern))


def entries() -> list[ModelEntry]:
    _check_filled()
    return [_REGISTRY[n] for n in sorted(_REGISTRY)]


def builder_params(name: str) -> dict[str, dataclasses.Field]:
    """Keyword arguments a builder accepts (what a study axis or CLI flag may name)."""
    return {f.name: f for f in dataclasses.fields(get(name).config)}


def call_builder(name: str, kwargs: dict[str, Any]) -> "nn.Module":
    """Build ``name`` with ``kwargs``, rejecting unknown keywords by name."""
    params = builder_params(name)
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise UnknownNameError(f"argument for model {name!r}", unknown[0], params)
    return get(name).builder(**kwargs)
