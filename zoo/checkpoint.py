"""Checkpoints: safetensors weights + a JSON card, verified on every load.

A checkpoint is a folder::

    model.safetensors   the model's state dict (no optimizer state)
    card.json           what it is: model name and kwargs, task, optimizer config,
                        data info (class names, vocabularies), metrics per split,
                        the study cell that produced it, library versions, and
                        the sha256 of model.safetensors

The card's sha256 is checked before the weights are read; a mismatch is a
:class:`~zoo.errors.CheckpointError`, never a silent load. Loading with a
different ``num_classes`` drops the model's named head and loads the rest
strictly (timm's ``load_pretrained``).
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from zoo.data.core import DataInfo
from zoo.errors import CheckpointError, check_choice
from zoo.factory import create
from zoo.io import sha256_file, write_json_atomic
from zoo.transfer import FREEZE, head_names, set_frozen
from zoo.version import __version__

FORMAT = "zoobench-checkpoint/1"
WEIGHTS, CARD = "model.safetensors", "card.json"


def versions() -> dict[str, str]:
    import lightning
    import torchmetrics

    return {
        "zoobench": __version__,
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "torchmetrics": torchmetrics.__version__,
        "python": platform.python_version(),
    }


def save_checkpoint(task, directory: str | Path, *, metrics: dict[str, Any] | None = None, **extra: Any) -> Path:
    """Write ``task``'s model and card into ``directory`` (created; must not hold a checkpoint)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / CARD).exists():
        raise CheckpointError(f"{directory} already holds a checkpoint; choose a new folder (nothing was overwritten).")
    spec = getattr(task, "zoo_spec", None)
    if spec is None:
        raise CheckpointError("only modules made by zoo.create can be saved as zoo checkpoints.")
    state = {k: v.detach().cpu().contiguous() for k, v in task.model.state_dict().items()}
    weights = directory / WEIGHTS
    save_file(state, str(weights))
    card = {
        "format": FORMAT,
        **spec,
        "data": task.data_info.to_dict() if getattr(task, "data_info", None) else None,
        "metrics": metrics or {},
        "num_parameters": sum(v.numel() for v in task.model.parameters()),
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **extra,
        "sha256": sha256_file(weights),
    }
    write_json_atomic(directory / CARD, card)
    return directory


def read_card(directory: str | Path) -> dict[str, Any]:
    directory = Path(directory)
    path = directory / CARD if directory.is_dir() else directory
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {directory}: expected {CARD} and {WEIGHTS} in that folder.")
    try:
        card = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint card {path} is not valid JSON ({e}); the checkpoint is corrupt.") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a zoobench checkpoint card (format {FORMAT!r} expected).")
    for key in ("model", "task", "kwargs", "sha256"):
        if key not in card:
            raise CheckpointError(f"checkpoint card {path} lacks {key!r}; the checkpoint is corrupt.")
    return card


def load_state(directory: str | Path, card: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The verified state dict of a checkpoint folder."""
    weights = Path(directory) / WEIGHTS
    if not weights.exists():
        raise CheckpointError(f"checkpoint {directory} has a card but no {WEIGHTS}.")
    actual = sha256_file(weights)
    if actual != card["sha256"]:
        raise CheckpointError(
            f"checkpoint {weights} is corrupt: sha256 {actual[:12]}… does not match the card's {card['sha256'][:12]}…; "
            "re-download or re-train it."
        )
    try:
        return load_file(str(weights))
    except Exception as e:  # safetensors raises its own error types for malformed files
        raise CheckpointError(f"cannot read {weights}: {e}") from None


def load_checkpoint(directory: str | Path, *, freeze: str = "none", **overrides: Any):
    """Rebuild the task saved in ``directory`` and load its verified weights.

    ``overrides`` change builder kwargs; changing the output size (``num_classes``)
    re-initializes the head and loads every other weight strictly. ``freeze``:
    ``backbone`` (all but the head), ``all``, or ``none``.
    """
    check_choice("freeze", freeze, FREEZE)
    card = read_card(directory)
    state = load_state(directory, card)
    kwargs = {**card["kwargs"], **overrides}
    task = create(card["model"], task=card["task"], **kwargs)
    heads = head_names(task.model)
    new_head = "num_classes" in overrides and overrides["num_classes"] != card["kwargs"].get("num_classes")
    if new_head:
        state = {k: v for k, v in state.items() if k.split(".")[0] not in heads}
        missing, unexpected = task.model.load_state_dict(state, strict=False)
        stray = [k for k in missing if k.split(".")[0] not in heads] + list(unexpected)
        if stray:
            raise CheckpointError(f"checkpoint {directory} does not fit model {card['model']!r}: {stray[:5]}")
    else:
        try:
            task.model.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise CheckpointError(f"checkpoint {directory} does not fit model {card['model']!r}: {str(e)[:300]}") from None
    if card.get("data"):
        info = DataInfo.from_dict(card["data"])
        if new_head:
            info.class_names = None
            info.num_classes = overrides["num_classes"]
        task.data_info = info
    task.card = card
    set_frozen(task, freeze)
    return task
