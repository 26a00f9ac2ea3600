"""Checkpoints: safetensors weights + a JSON card, verified as a whole on every load.

A checkpoint is a folder::

    model.safetensors   the model's state dict (no optimizer state), its floating tensors
                        in the card's ``storage`` precision (float32 unless said)
    card.json           what it is: model name and kwargs, task, optimizer config,
                        data info (class names, vocabularies), metrics per split,
                        the study cell or run config that produced it, library versions,
                        the size and sha256 of model.safetensors, and ``digest``

``digest`` is the sha256 of the canonical JSON (sorted keys, no spaces, ASCII) of
every other field of the card, the weights' sha256 included. So one digest covers
the weights and everything the card says: the fields that define the model and
its behaviour (model, kwargs, task, class names, vocabularies, data info, config)
and also the descriptive ones (metrics, created, versions, fit). The descriptive
fields are inside on purpose: a user picks a checkpoint by its metrics, so an
edited metric misleads as much as an edited weight, and a card covered whole has
no list of exempt fields that a new field could be forgotten in.

On load, in this order, each failure one :class:`~zoo.errors.CheckpointError` line
naming the file: card.json is a regular file of at most :data:`MAX_CARD_BYTES`;
it is JSON of :data:`FORMAT`; every field has its type (:data:`SCHEMA`); the
digest matches; model.safetensors is a regular file of the recorded size whose
sha256 matches; every tensor has the shape the model expects. Nothing is read
before it is checked, and nothing is ever unpickled. Loading with a different
``num_classes`` drops the model's named head and loads the rest strictly
(timm's ``load_pretrained``).
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from zoo.data.core import DataInfo
from zoo.errors import CheckpointError, ConfigError, check_choice
from zoo.factory import create
from zoo.io import jsonable, read_regular, write_bytes_atomic, write_json_atomic
from zoo.transfer import FREEZE, align_vocab, head_names, set_frozen, thaw
from zoo.version import __version__

FORMAT = "zoobench-checkpoint/2"
"""/2: the card carries ``weights_bytes`` and ``digest`` (/1 covered the weights only)."""
WEIGHTS, CARD = "model.safetensors", "card.json"
MAX_CARD_BYTES = 8 << 20
"""A card holds vocabularies (a word2vec card of 70,000 words is ~1.5 MB); 8 MiB bounds what a load reads."""
MAX_WEIGHTS_BYTES = 1 << 40
"""model.safetensors must also match the size recorded in the card, which is read first."""
STORAGE = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
"""Precisions a checkpoint's floating tensors can be stored in. A half-precision file is half the
size (the shipped zoo's budget); loading widens the tensors back to float32, so the model computes
as trained, with weights rounded once. A card's metrics are measured on the weights as stored."""


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


def card_digest(card: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of every field of ``card`` but ``digest``."""
    body = {k: v for k, v in card.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def save_checkpoint(task, directory: str | Path, *, metrics: dict[str, Any] | None = None, storage: str = "float32",
                    **extra: Any) -> Path:
    """Write ``task``'s model and card into ``directory`` (created; must not hold a checkpoint).

    ``storage``: the precision of the floating tensors in the file (:data:`STORAGE`); the card
    records it. ``extra`` adds fields to the card (``fit``, ``config``, ...); they are covered by
    the digest.
    """
    check_choice("storage", storage, tuple(STORAGE))
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / CARD).exists():
        raise CheckpointError(f"{directory} already holds a checkpoint; choose a new folder (nothing was overwritten).")
    spec = getattr(task, "zoo_spec", None)
    if spec is None:
        raise CheckpointError("only modules made by zoo.create can be saved as zoo checkpoints.")
    state = {k: stored(v.detach().cpu(), storage).contiguous() for k, v in task.model.state_dict().items()}
    weights = directory / WEIGHTS
    data = save_bytes(state)
    write_bytes_atomic(weights, data)  # Python's own writes: a full disk is an OSError (ENOSPC), not a Rust panic text
    card = jsonable({
        "format": FORMAT,
        **spec,
        "data": task.data_info.to_dict() if getattr(task, "data_info", None) else None,
        "metrics": metrics or {},
        "num_parameters": sum(v.numel() for v in task.model.parameters()),
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **extra,
        "storage": storage,
        "weights_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    })
    check_card(card, directory / CARD)  # what we write, we can read back
    card["digest"] = card_digest(card)
    write_json_atomic(directory / CARD, card)
    return directory


# ----------------------------------------------------------------------------- the card's schema

Check = Callable[[Any], bool]


def _str(v: Any) -> bool:
    return isinstance(v, str) and v != ""


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _hex64(v: Any) -> bool:
    return isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)


def _dict(v: Any) -> bool:
    return isinstance(v, dict)


def _strs(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _opt(check: Check) -> Check:
    return lambda v: v is None or check(v)


SCHEMA: dict[str, tuple[Check, str, bool]] = {
    # field: (check, what it must be, required)
    "format": (lambda v: v == FORMAT, f"{FORMAT!r}", True),
    "model": (_str, "a model name", True),
    "task": (_str, "a task name", True),
    "kwargs": (_dict, "an object of builder arguments", True),
    "data": (_opt(_dict), "an object (the data info) or null", False),
    "metrics": (_dict, "an object", False),
    "num_parameters": (_int, "a non-negative integer", False),
    "versions": (lambda v: _dict(v) and all(isinstance(x, str) for x in v.values()), "an object of strings", False),
    "created": (lambda v: isinstance(v, str), "a string", False),
    "seed": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer", False),
    "batch_size": (_int, "a non-negative integer", False),
    "data_options": (_dict, "an object", False),
    "fit": (_opt(_dict), "an object or null", False),
    "config": (_opt(_dict), "an object or null", False),
    "storage": (lambda v: v in STORAGE, f"one of {', '.join(STORAGE)}", False),
    "weights_bytes": (_int, "a non-negative integer", True),
    "sha256": (_hex64, "a 64-character lowercase hex sha256", True),
}
DATA_SCHEMA: dict[str, tuple[Check, str, bool]] = {
    "name": (_str, "a dataset name", True),
    "kind": (_str, "a task kind", True),
    "input_shape": (lambda v: isinstance(v, list) and all(_int(x) for x in v), "a list of non-negative integers", False),
    "num_classes": (_opt(_int), "a non-negative integer or null", False),
    "class_names": (_opt(_strs), "a list of strings or null", False),
    "feature_names": (_opt(_strs), "a list of strings or null", False),
    "extra": (_dict, "an object", False),
}


def _check_fields(obj: dict[str, Any], schema: dict[str, tuple[Check, str, bool]], path: Path, prefix: str,
                  *, closed: bool) -> None:
    for key, (check, what, required) in schema.items():
        if key not in obj:
            if required:
                raise CheckpointError(f"checkpoint card {path} lacks {prefix + key!r}; the checkpoint is corrupt.")
            continue
        if not check(obj[key]):
            shown = json.dumps(obj[key], allow_nan=True)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise CheckpointError(f"checkpoint card {path}: {prefix + key!r} must be {what}, got {shown}; "
                                  "the checkpoint is corrupt.")
    if closed:
        stray = sorted(set(obj) - set(schema))
        if stray:
            raise CheckpointError(f"checkpoint card {path}: unknown field {prefix + stray[0]!r}; the checkpoint is corrupt.")


def check_card(card: Any, path: Path) -> None:
    """Raise :class:`CheckpointError` (one line naming ``path``) unless ``card`` fits :data:`SCHEMA`."""
    if not isinstance(card, dict):
        raise CheckpointError(f"{path} is not a zoobench checkpoint card (a JSON object of format {FORMAT!r} expected).")
    fmt = card.get("format")
    if isinstance(fmt, str) and fmt.startswith("zoobench-checkpoint/") and fmt != FORMAT:
        raise CheckpointError(f"{path} is a {fmt} card, not {FORMAT} (whose digest covers the whole card); "
                              "re-train it or re-save it with this zoobench.")
    if fmt != FORMAT:
        raise CheckpointError(f"{path} is not a zoobench checkpoint card (format {FORMAT!r} expected).")
    _check_fields(card, SCHEMA, path, "", closed=False)
    if card.get("data") is not None:
        _check_fields(card["data"], DATA_SCHEMA, path, "data.", closed=True)


def read_card(directory: str | Path) -> dict[str, Any]:
    """The verified card of a checkpoint folder (or the card file itself): schema and digest checked."""
    directory = Path(directory)
    path = directory / CARD if directory.is_dir() else directory
    if not path.exists() and not path.is_symlink():
        raise CheckpointError(f"no checkpoint at {directory}: expected {CARD} and {WEIGHTS} in that folder.")
    raw = read_regular(path, max_bytes=MAX_CARD_BYTES, what="checkpoint card", error=CheckpointError)
    try:
        card = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        why = " ".join(str(e).split())[:120]
        raise CheckpointError(f"checkpoint card {path} is not valid JSON ({why}); the checkpoint is corrupt.") from None
    check_card(card, path)
    digest = card.get("digest")
    if not _hex64(digest):
        raise CheckpointError(f"checkpoint card {path}: 'digest' must be a 64-character lowercase hex sha256; "
                              "the checkpoint is corrupt.")
    if card_digest(card) != digest:
        raise CheckpointError(
            f"checkpoint card {path} was changed after it was saved (its digest does not match its fields); "
            "re-download or re-train it."
        )
    return card


def stored(tensor: torch.Tensor, storage: str) -> torch.Tensor:
    """``tensor`` in the precision ``storage`` if it is floating (integer buffers stay as they are)."""
    return tensor.to(STORAGE[storage]) if tensor.is_floating_point() else tensor


def load_state(directory: str | Path, card: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The verified state dict of a checkpoint folder (``card`` from :func:`read_card`), floating
    tensors widened to float32 when the card says they are stored in less."""
    weights = Path(directory) / WEIGHTS
    if not weights.exists() and not weights.is_symlink():
        raise CheckpointError(f"checkpoint {directory} has a card but no {WEIGHTS}.")
    data = read_regular(weights, max_bytes=MAX_WEIGHTS_BYTES, size=card["weights_bytes"], what="checkpoint weights",
                        error=CheckpointError)
    actual = hashlib.sha256(data).hexdigest()
    if actual != card["sha256"]:
        raise CheckpointError(
            f"checkpoint {weights} is corrupt: sha256 {actual[:12]}… does not match the card's {card['sha256'][:12]}…; "
            "re-download or re-train it."
        )
    try:
        state = load_bytes(data)  # the bytes that were hashed: nothing can swap the file in between
    except Exception as e:  # safetensors raises its own error types for malformed files
        raise CheckpointError(f"cannot read {weights}: {' '.join(str(e).split())[:200]}") from None
    storage = card.get("storage", "float32")
    return state if storage == "float32" else {k: stored(v, "float32") for k, v in state.items()}


def _under(key: str, layers: tuple[str, ...]) -> bool:
    """Whether tensor ``key`` belongs to one of ``layers`` (module names, dotted)."""
    return any(key == layer or key.startswith(layer + ".") for layer in layers)


def _layer_names(model: torch.nn.Module, names: Sequence[str]) -> tuple[str, ...]:
    """``names`` checked against the model's modules that hold tensors (one line listing them otherwise)."""
    if isinstance(names, str):
        names = (names,)
    keys, modules = list(model.state_dict()), dict(model.named_modules())
    for n in names:
        if not isinstance(n, str) or n not in modules or not any(_under(k, (n,)) for k in keys):
            top = sorted({k.rsplit(".", 1)[0] for k in keys})
            raise ConfigError(f"reinit names {n!r}, which is no layer of {type(model).__name__}; its layers: {', '.join(top)}.")
    return tuple(names)


def _fit(model: torch.nn.Module, state: dict[str, torch.Tensor], directory: Path, name: str,
         skip: tuple[str, ...] = ()) -> None:
    """Raise one line unless ``state`` has exactly the model's tensors (but those under ``skip``), shape for shape."""
    expected = {k: v for k, v in model.state_dict().items() if not _under(k, skip)}
    for key, want in expected.items():  # in the model's order: the first layer that differs is named
        if key in state and tuple(state[key].shape) != tuple(want.shape):
            layer = key.rsplit(".", 1)[0]
            raise CheckpointError(
                f"checkpoint {directory} does not fit model {name!r}: tensor {key!r} has shape {list(state[key].shape)} "
                f"in {WEIGHTS}, the model expects {list(want.shape)}; pass reinit=[{layer!r}] (--reinit {layer}) "
                "to re-initialize that layer instead."
            )
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = ([f"missing tensors {missing[:5]}"] if missing else []) + ([f"unexpected tensors {unexpected[:5]}"]
                                                                            if unexpected else [])
        raise CheckpointError(f"checkpoint {directory} does not fit model {name!r}: {'; '.join(parts)}.")


def load_checkpoint(directory: str | Path, *, freeze: str = "none", reinit: Sequence[str] = (), task: str | None = None,
                    data_extra: dict[str, Any] | None = None, **overrides: Any):
    """Rebuild the task saved in ``directory`` and load its verified weights.

    ``overrides`` change builder kwargs; changing the output size (``num_classes``)
    re-initializes the head and loads every other weight strictly. ``reinit``: names of
    the model's layers (``body.0``, ``scaler``...) left at their new initialization instead of
    loaded, e.g. the input layer when ``in_features`` differs. ``task``: another task kind for the
    same model (a multiclass checkpoint fine-tuned on binary data). ``freeze``:
    ``backbone`` (all but the head), ``all``, or ``none``. ``data_extra``: the ``DataInfo.extra`` of
    the data the task will train on; a vocabulary there that differs from the checkpoint's is aligned
    token by token (zoo/transfer.py ``align_vocab``; the report in ``zoo_spec["vocab_alignment"]``).
    """
    check_choice("freeze", freeze, FREEZE)
    card = read_card(directory)
    state = load_state(directory, card)
    kwargs = {**card["kwargs"], **overrides}
    kind = task
    task = create(card["model"], task=kind or card["task"], **kwargs)
    heads = head_names(task.model)
    new_head = "num_classes" in overrides and overrides["num_classes"] != card["kwargs"].get("num_classes")
    skip = tuple(heads if new_head else ()) + _layer_names(task.model, reinit)
    state = {k: v for k, v in state.items() if not _under(k, skip)}
    aligned = align_vocab(task.model, state, (card.get("data") or {}).get("extra") or {}, data_extra) if data_extra else {}
    if aligned:
        task.zoo_spec["vocab_alignment"] = aligned
    _fit(task.model, state, Path(directory), card["model"], skip=skip)
    task.model.load_state_dict(state, strict=not skip)
    if card.get("data"):
        info = DataInfo.from_dict(card["data"])
        if new_head:
            info.class_names = None
            info.num_classes = overrides["num_classes"]
        task.data_info = info
    task.card = card
    set_frozen(task, freeze)
    for layer in _layer_names(task.model, reinit):  # new weights: they train whatever is frozen
        thaw(task.model.get_submodule(layer))
    return task
