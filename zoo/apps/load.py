"""The one way an app opens a checkpoint: a pretrained id (``zoo pretrained list``), a checkpoint
folder or a run folder holding ``checkpoint/``, its card checked for the app's task before any
weight is read."""

from __future__ import annotations

from pathlib import Path

from zoo.checkpoint import CARD, load_checkpoint, read_card
from zoo.errors import CheckpointError


def checkpoint_folder(path: str | Path) -> Path:
    """The verified folder of a pretrained id (zoo/hub.py), else ``path``, or ``path/checkpoint`` when
    ``path`` is a run folder of ``zoo train``; a name that is neither an id nor a folder lists the ids."""
    from zoo.hub import folder_of

    if not Path(path).exists():
        return folder_of(str(path))[0]  # an id (found, verified, downloaded if need be) or one line naming close ids
    folder = Path(path)
    if folder.is_dir() and not (folder / CARD).exists() and (folder / "checkpoint" / CARD).exists():
        folder = folder / "checkpoint"
    return folder


def load_for(path: str | Path, *, task: str, what: str, command: str, models: str):
    """The ``task`` model saved at ``path`` (see :func:`checkpoint_folder`), in eval mode.

    A checkpoint of another task is refused in one line before its weights are read:
    ``<folder> holds a '<model>' checkpoint for <task>, not <what>; zoo <command> needs <models>.``
    """
    folder = checkpoint_folder(path)
    card = read_card(folder)
    if card["task"] != task:
        raise CheckpointError(f"{folder} holds a {card['model']!r} checkpoint for {card['task']}, not {what}; "
                              f"zoo {command} needs {models}.")
    loaded = load_checkpoint(folder)
    loaded.eval()
    return loaded
