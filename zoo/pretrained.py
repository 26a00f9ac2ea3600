"""The pretrained registry: which trained checkpoints the zoo ships, as data with a schema.

An entry (:class:`PretrainedEntry`, as torchvision's ``Weights`` and timm's
``pretrained_cfg``) says what a checkpoint is: its id ``<model>-<dataset>[-<tag>]``,
the recipe that trained it (a YAML file in ``benchmarks/recipes/`` that
``zoo train --config`` runs), the dataset and split its metrics were measured on,
its parameter count, its files with their sha256 and size, the licence of the
training data and the versions that made it. The entries live at the bottom of
each family's file in ``zoo/models/`` and register here; this module is pure
Python, below the families (it imports none of them), so ``zoo.models`` fills it.

The files are found by ``zoo/hub.py`` (the user's cache, the checkout's
``weights/``, then a verified download from ``ZOO_MIRROR`` or :data:`UPSTREAM`).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from zoo.errors import ConfigError, UnknownNameError

UPSTREAM = "https://github.com/zoobench/zoobench/raw/main"
"""Base URL of the project's repository: a weight file is at ``<base>/<WeightFile.path>``, like any mirror."""
SPLITS = ("train", "val", "test")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[a-z0-9_]+")


def id_problem(id: str, model: str, dataset: str) -> str | None:
    """Why ``id`` cannot be the pretrained id of a ``model`` checkpoint trained on ``dataset`` (None: it can)."""
    base = f"{model}-{dataset}"
    if not isinstance(id, str) or not (id == base or id.startswith(base + "-")):
        return f"pretrained id {id!r} must be {base}[-TAG] (<model>-<dataset>[-<tag>])."
    tag = id[len(base) + 1:] if id != base else None
    for part in filter(lambda p: p is not None, (model, dataset, tag)):
        if not _NAME.fullmatch(part):
            return f"pretrained id {id!r}: {part!r} must be lowercase letters, digits and _."
    return None


@dataclass(frozen=True)
class WeightFile:
    """One file of a shipped checkpoint, as every copy of it must be."""

    path: str
    """Path under a mirror's base and under the checkout: ``weights/<id>/<name>``."""
    sha256: str
    size: int
    """Bytes (a download that grows past it is stopped)."""

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class PretrainedEntry:
    """What the zoo knows about one shipped checkpoint (checked when it is made)."""

    id: str
    """``<model>-<dataset>`` or ``<model>-<dataset>-<tag>``."""
    model: str
    """Registered builder name (``zoo list``)."""
    dataset: str
    """Dataset it was trained on (``zoo list``)."""
    summary: str
    """One line: what it is."""
    recipe: str
    """Repository path of the runnable ``zoo train --config`` file that trained it."""
    split: str
    """Split the :attr:`metrics` were measured on."""
    metrics: Mapping[str, float]
    """Headline scalar metrics on :attr:`split`, as the checkpoint's card records them."""
    num_parameters: int
    files: tuple[WeightFile, ...]
    """``model.safetensors`` and ``card.json``."""
    licence: str
    """Licence of the training data (the dataset card's)."""
    versions: Mapping[str, str]
    """``zoobench`` and ``torch`` versions that trained it."""
    classes: tuple[str, ...] = ()
    """Class names, output index order (empty for models without classes)."""
    tag: str | None = None
    default: bool = False
    """The entry ``pretrained=True`` picks for :attr:`model`."""
    notes: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        want = f"{self.model}-{self.dataset}" + (f"-{self.tag}" if self.tag else "")
        if self.id != want:
            raise ValueError(f"pretrained id {self.id!r} must be {want!r} (<model>-<dataset>[-<tag>]).")
        problem = id_problem(self.id, self.model, self.dataset)
        if problem:
            raise ValueError(problem)
        if self.split not in SPLITS:
            raise ValueError(f"pretrained {self.id!r}: split must be one of {SPLITS}, got {self.split!r}.")
        if not (self.recipe.startswith("benchmarks/recipes/") and self.recipe.endswith(".yaml")):
            raise ValueError(f"pretrained {self.id!r}: recipe must be benchmarks/recipes/*.yaml, got {self.recipe!r}.")
        names = sorted(f.name for f in self.files)
        if names != ["card.json", "model.safetensors"]:
            raise ValueError(f"pretrained {self.id!r}: files must be card.json and model.safetensors, got {names}.")
        for f in self.files:
            if f.path != f"weights/{self.id}/{f.name}" or not _SHA256.fullmatch(f.sha256) or f.size <= 0:
                raise ValueError(f"pretrained {self.id!r}: bad file {f}.")
        if not self.metrics or not all(isinstance(v, float) for v in self.metrics.values()):
            raise ValueError(f"pretrained {self.id!r}: metrics must be a non-empty mapping of floats.")
        object.__setattr__(self, "metrics", MappingProxyType(dict(self.metrics)))
        object.__setattr__(self, "versions", MappingProxyType(dict(self.versions)))
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))
        object.__setattr__(self, "classes", tuple(self.classes))

    def file(self, name: str) -> WeightFile:
        return next(f for f in self.files if f.name == name)

    def url(self, name: str, base: str = UPSTREAM) -> str:
        return f"{base.rstrip('/')}/{self.file(name).path}"


_PRETRAINED: dict[str, PretrainedEntry] = {}


def register_pretrained(entry: PretrainedEntry) -> PretrainedEntry:
    """Add ``entry``; an id registered twice, or a second default for one model, raises."""
    if entry.id in _PRETRAINED:
        raise ValueError(f"pretrained {entry.id!r} is already registered.")
    if entry.default and any(e.default and e.model == entry.model for e in _PRETRAINED.values()):
        raise ValueError(f"model {entry.model!r} already has a default pretrained entry.")
    _PRETRAINED[entry.id] = entry
    return entry


def _check_filled() -> None:
    if not _PRETRAINED:
        raise RuntimeError("no pretrained entry is registered: import zoo.models (the families register them) first.")


def list_pretrained(pattern: str = "*") -> list[str]:
    """Sorted ids matching a shell-style ``pattern`` (``mlp-*``, ``*-mnist``)."""
    _check_filled()
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"pattern must be a non-empty shell-style pattern such as 'mlp-*', got {pattern!r}.")
    return sorted(i for i in _PRETRAINED if fnmatch.fnmatchcase(i, pattern))


def get_pretrained(id: str) -> PretrainedEntry:
    """The entry ``id``; an unknown one is one line listing close matches."""
    _check_filled()
    try:
        return _PRETRAINED[id]
    except (KeyError, TypeError):
        raise UnknownNameError("pretrained id", id, _PRETRAINED) from None


def is_pretrained(id: object) -> bool:
    _check_filled()
    return isinstance(id, str) and id in _PRETRAINED


def default_pretrained(model: str) -> PretrainedEntry:
    """The entry ``pretrained=True`` means for ``model``: its default, else its only one."""
    _check_filled()
    mine = [e for e in _PRETRAINED.values() if e.model == model]
    chosen = [e for e in mine if e.default] or (mine if len(mine) == 1 else [])
    if not chosen:
        have = ", ".join(sorted(e.id for e in mine)) or "none"
        raise ConfigError(f"model {model!r} has no default pretrained checkpoint (its ids: {have}); pass pretrained=ID "
                          "(zoo pretrained list shows them).")
    return chosen[0]


def entries() -> list[PretrainedEntry]:
    _check_filled()
    return [_PRETRAINED[i] for i in sorted(_PRETRAINED)]
