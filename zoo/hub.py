"""Pretrained checkpoints by name: find their files, verify them, load them (as ``torch.hub``).

An id of :mod:`zoo.pretrained` resolves to a folder holding its ``model.safetensors``
and ``card.json``, each checked against the entry's sha256 and size, looking in order in

1. the user's cache, ``$ZOO_CACHE`` (default ``$XDG_CACHE_HOME/zoobench/weights``, else
   ``~/.cache/zoobench/weights``), as ``<cache>/<id>/<file>``;
2. the checkout's ``weights/<id>/`` (a clone of the repository ships them);
3. a download into the cache through the data files' verified download
   (``zoo/data/files.py``): from each ``ZOO_MIRROR`` base, then :data:`zoo.pretrained.UPSTREAM`,
   at ``<base>/weights/<id>/<file>``; never with ``ZOO_OFFLINE=1``. A download is streamed
   into a temporary file, checked, then renamed, so the cache never holds a bad file.

Then :func:`zoo.checkpoint.load_checkpoint` verifies the card whole (its digest) and the
weights again, as on every load.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import zoo.models  # noqa: F401  (registers every family and its pretrained entries)
from zoo import factory
from zoo.checkpoint import CARD, WEIGHTS, load_checkpoint, read_card
from zoo.data import files as datafiles
from zoo.data.cards import DataFile
from zoo.errors import CheckpointError, ConfigError, DataError, UnknownNameError, check_choice, check_positive
from zoo.io import sha256_file
from zoo.pretrained import PretrainedEntry, WeightFile, default_pretrained, get_pretrained, is_pretrained, list_pretrained
from zoo.transfer import FREEZE, set_frozen

CHECKOUT = Path(__file__).resolve().parents[1] / "weights"
"""The checkout's weights folder (absent in a wheel install: the files then come by download)."""


def cache_dir() -> Path:
    """The user's weights cache (``$ZOO_CACHE``, else a per-user cache folder); not created here."""
    env = os.environ.get("ZOO_CACHE")
    if env:
        return Path(env).expanduser().absolute()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return (Path(cache) / "zoobench" / "weights").expanduser().absolute()


def _good(path: Path, f: WeightFile) -> bool:
    """``path`` is a regular file of ``f``'s size; raise one line if its sha256 differs."""
    if not path.is_file() or path.is_symlink():
        return False
    size = path.stat().st_size
    actual = sha256_file(path) if size == f.size else None
    if actual != f.sha256:
        raise CheckpointError(f"pretrained file {path} is corrupt ({size} bytes, the entry says {f.size} with sha256 "
                              f"{f.sha256[:12]}…); delete it so that it is found or downloaded again.")
    return True


def locate(entry: PretrainedEntry) -> Path:
    """The verified folder of ``entry``'s files: the cache, the checkout, else a download into the cache."""
    cache = cache_dir() / entry.id
    for folder in (cache, CHECKOUT / entry.id):
        if all(_good(folder / f.name, f) for f in entry.files):
            return folder
    for f in entry.files:
        if not _good(cache / f.name, f):
            _download(entry, f, cache / f.name)
    return cache


def where(entry: PretrainedEntry) -> str:
    """Where :func:`locate` would take ``entry``'s files from, without reading or downloading them."""
    for folder in (cache_dir() / entry.id, CHECKOUT / entry.id):
        if all((folder / f.name).is_file() for f in entry.files):
            return str(folder)
    bases = [*datafiles.mirrors(), entry.url("").rsplit("/weights/", 1)[0]]
    return f"not here yet: downloaded on first use into {cache_dir() / entry.id} from " + ", ".join(bases)


def _download(entry: PretrainedEntry, f: WeightFile, dest: Path) -> None:
    def missing(why: str) -> DataError:
        return DataError(f"pretrained {entry.id!r} is not in {cache_dir()} nor in a checkout's weights/, and {why}; "
                         f"put {f.path} (sha256 {f.sha256}) under ZOO_CACHE or set ZOO_MIRROR to a base that serves it.")

    datafiles.download(DataFile(f.path, f.sha256, f.size, urls=(entry.url(f.name),)), dest, missing)


def folder_of(id_or_path: str | os.PathLike) -> tuple[Path, PretrainedEntry | None]:
    """(checkpoint folder, entry or None) of a pretrained id or a checkpoint folder."""
    if is_pretrained(id_or_path):
        entry = get_pretrained(str(id_or_path))
        return locate(entry), entry
    if isinstance(id_or_path, os.PathLike) or os.sep in str(id_or_path) or Path(id_or_path).exists():
        return Path(id_or_path), None
    raise UnknownNameError("pretrained id", id_or_path, list_pretrained())


def load_pretrained(id_or_path: str | os.PathLike, *, num_classes: int | None = None, freeze: str = "none",
                    model: str | None = None, reinit: tuple[str, ...] | list[str] = (), **overrides: Any):
    """The task of pretrained ``id_or_path`` (an id of ``zoo pretrained list`` or a checkpoint folder).

    ``num_classes``: a new head of that many outputs (every other weight loaded strictly);
    ``freeze``: ``none``, ``backbone`` (all but the head) or ``all``; ``reinit``: layers left at a new
    initialization (e.g. the input layer, with ``in_features=``); ``model``: refuse a
    checkpoint of another model; ``overrides``: other builder or task settings. The task
    records its parent (``zoo_spec["parent"]``: id, sha256), so a checkpoint saved from it names it.
    """
    check_choice("freeze", freeze, FREEZE)
    if num_classes is not None:
        check_positive("num_classes", num_classes, integer=True)
    folder, entry = folder_of(id_or_path)
    card = read_card(folder)
    name = entry.id if entry else str(folder)
    if model is not None and card["model"] != model:
        raise CheckpointError(f"{name} is a {card['model']!r} checkpoint, not {model!r}; "
                              f"use zoo.create({card['model']!r}, pretrained=...) or a {model} checkpoint.")
    if entry is not None and (card["model"] != entry.model or card["sha256"] != entry.file(WEIGHTS).sha256):
        raise CheckpointError(f"{folder / CARD} is not the card of pretrained {entry.id!r}; delete {folder}.")
    if card["task"] == "binary" and num_classes not in (None, 1):
        raise ConfigError(f"{name} is a binary classifier (one logit); num_classes must be 1 for it, got {num_classes}.")
    if num_classes is not None:
        overrides["num_classes"] = num_classes
    task = load_checkpoint(folder, freeze=freeze, reinit=reinit, **overrides)
    task.zoo_spec["parent"] = {"id": entry.id if entry else None, "sha256": card["sha256"]}
    return task


def create(name: str, *, pretrained: str | bool | os.PathLike | None = None, num_classes: int | None = None,
           freeze: str = "none", task: str | None = None, **kwargs: Any):
    """A task training model ``name``, as :func:`zoo.factory.create`; ``pretrained``: an id, a
    checkpoint folder, or True for the model's default entry, whose weights it starts from."""
    if kwargs.get("init_embeddings"):  # applied by zoo.training.prepare, which knows the data's vocabularies
        raise ConfigError("init_embeddings needs the data's vocabularies: train with zoo.train(...) or zoo train.")
    if pretrained is None or pretrained is False:
        if num_classes is not None:
            kwargs["num_classes"] = num_classes
        made = factory.create(name, task=task, **kwargs)
        set_frozen(made, freeze)
        return made
    zoo.models.get(name)  # an unknown model name is one line first
    source = default_pretrained(name).id if pretrained is True else pretrained
    if is_pretrained(source) and get_pretrained(source).model != name:
        raise CheckpointError(f"pretrained {source!r} is a {get_pretrained(source).model!r} checkpoint, not {name!r}.")
    made = load_pretrained(source, num_classes=num_classes, freeze=freeze, model=name, **kwargs)
    if task is not None and made.kind != task:
        raise ConfigError(f"pretrained {source!r} is a {made.kind} model; task={task!r} does not fit it.")
    return made
