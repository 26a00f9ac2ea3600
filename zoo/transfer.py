"""Transfer learning on a built task: which layers are the head, freezing, and a new head.

Works on any task made by :func:`zoo.factory.create` (or loaded from a
checkpoint); knows nothing of files. A model names its output layer(s) in a
``head_names`` attribute (default ``("head",)``), as timm's ``pretrained_cfg``
names its classifier.

A frozen batch-norm layer keeps its running statistics: it is put in eval mode
when it is frozen, :meth:`zoo.tasks.base.Task.train` keeps it there, and a
forward pre-hook puts it back in eval mode before every forward. The hook is
the mechanism that holds under any loop: Lightning's ``Trainer`` (2.x) never
calls ``train()`` on the LightningModule before fitting, and its evaluation
loop restores each submodule's mode by assigning ``module.training`` directly
(``lightning.pytorch.utilities.model_helpers._ModuleMode``), which no
``train()`` override sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from zoo.config import FREEZE
from zoo.data.vocab import Vocab
from zoo.errors import ConfigError, check_choice, check_positive
from zoo.layers import init_module_
from zoo.optim import param_groups

__all__ = ["FREEZE", "set_frozen", "unfreeze_top", "frozen_norms", "reset_head", "head_names", "backbone_blocks", "thaw",
           "top_blocks", "optimizer_groups", "vocab_rows", "align_vocab"]
_FROZEN = "zoo_frozen"
"""Attribute marking a batch-norm layer as frozen (read by the hook and :func:`frozen_norms`)."""


def head_names(model: nn.Module) -> tuple[str, ...]:
    """Attribute names of the model's output layer(s), replaced on transfer."""
    return tuple(getattr(model, "head_names", ("head",)))


def _keep_statistics(module: nn.Module, args: tuple) -> None:
    """Forward pre-hook of a batch-norm layer: a frozen one normalizes with, and keeps, its running statistics."""
    if getattr(module, _FROZEN, False):
        module.training = False


def _mark_norms(module: nn.Module, frozen: bool) -> None:
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            if not hasattr(m, _FROZEN):
                m.register_forward_pre_hook(_keep_statistics)
            setattr(m, _FROZEN, frozen)
            if frozen:
                m.eval()


def set_frozen(task, freeze: str) -> None:
    """Freeze ``backbone`` (everything but the head), ``all``, or nothing (``none``).

    Frozen batch-norm layers also keep their running statistics (see the module's
    docstring), as Keras' fine-tuning guide advises.
    """
    check_choice("freeze", freeze, FREEZE)
    heads = head_names(task.model)
    for name, child in task.model.named_children():
        frozen = freeze == "all" or (freeze == "backbone" and name not in heads)
        child.requires_grad_(not frozen)
        _mark_norms(child, frozen)
    for name, p in task.model.named_parameters(recurse=False):  # parameters held by the model itself
        p.requires_grad_(freeze == "none" or (freeze == "backbone" and name in heads))
    task.frozen = freeze


def vocab_rows(model: nn.Module) -> dict[str, tuple[str, ...]]:
    """{key of a vocabulary in ``DataInfo.extra``: the state-dict tensors whose rows are its tokens}, as the
    model declares them in a ``vocab_rows`` attribute (a char model's embedding and output layer)."""
    return {k: tuple(v) for k, v in getattr(model, "vocab_rows", {}).items()}


def align_vocab(model: nn.Module, state: dict[str, torch.Tensor], old: Mapping[str, Any],
                new: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Rewrite ``state`` (a checkpoint's tensors) in place for ``model``, built for other vocabularies.

    ``old``/``new``: the checkpoint's and the data's ``DataInfo.extra``. For each vocabulary the model
    declares (:func:`vocab_rows`) that differs, a token both know keeps its trained row, moved to its
    new id; a token only the new data has keeps the model's fresh initialization. Returns, per
    vocabulary aligned, ``{"kept": tokens with a trained row, "tokens": the new vocabulary's size,
    "new": tokens with a fresh row, most frequent first (at most 20)}``."""
    report: dict[str, dict[str, Any]] = {}
    fresh = model.state_dict()
    for key, names in vocab_rows(model).items():
        if key not in old or key not in new:
            continue
        src, dst = Vocab.from_dict(old[key]), Vocab.from_dict(new[key])
        if src.itos == dst.itos:
            continue
        pairs = [(i, src.stoi[t]) for i, t in enumerate(dst.itos) if t in src.stoi]
        to = torch.tensor([i for i, _ in pairs], dtype=torch.long)
        frm = torch.tensor([j for _, j in pairs], dtype=torch.long)
        for name in names:
            if name not in state:
                continue
            if tuple(state[name].shape[1:]) != tuple(fresh[name].shape[1:]):
                continue  # other widths: the shape check names the layer
            rows = fresh[name].detach().clone()
            rows[to] = state[name][frm].to(rows.dtype)
            state[name] = rows
        report[key] = {"kept": len(pairs), "tokens": len(dst),
                       "new": [t for t in dst.itos if t not in src.stoi][:20]}
    return report


def backbone_blocks(model: nn.Module) -> list[nn.Module]:
    """The backbone's blocks with parameters, input side first: the children of each non-head
    ``nn.Sequential`` (an MLP's dense blocks, a CNN's conv blocks), else the non-head child itself."""
    heads = head_names(model)
    blocks = []
    for name, child in model.named_children():
        if name in heads:
            continue
        parts = list(child.children()) if isinstance(child, (nn.Sequential, nn.ModuleList)) else [child]
        blocks += [p for p in parts if any(True for _ in p.parameters())]
    return blocks


def top_blocks(model: nn.Module, k: int) -> list[nn.Module]:
    """The top ``k`` backbone blocks (:func:`backbone_blocks`, output side), or a one-line error."""
    check_positive("unfreeze_top", k, allow_zero=True, integer=True)
    blocks = backbone_blocks(model)
    if k > len(blocks):
        raise ConfigError(f"unfreeze_top must be at most {len(blocks)} (the blocks of {type(model).__name__}'s "
                          f"backbone), got {k}.")
    return blocks[len(blocks) - k:]


def unfreeze_top(task, k: int) -> None:
    """Make the top ``k`` backbone blocks trainable again, their batch-norm statistics included (in
    the task's mode: training ones update their statistics again); the head's state is left as it is."""
    for block in top_blocks(task.model, k):
        thaw(block)
        block.train(task.training)


def optimizer_groups(task) -> list[dict]:
    """The optimizer's parameter groups of ``task``: what trains now, and what a scheduled thaw
    (:meth:`zoo.tasks.base.Task.schedule_unfreeze`) trains later (no gradient, so no update, until
    then), each at its rate from ``task.optim``: the head at ``head_lr`` (0 = ``lr``), the top
    backbone block at ``lr`` and each block below at ``layer_decay`` times the one above; parameters
    outside the blocks (none in the shipped families) at the bottom block's rate."""
    cfg, model = task.optim, task.model
    later = {id(p) for block in getattr(task, "thaw_later", ()) for p in block.parameters()}
    params = [p for p in model.parameters() if p.requires_grad or id(p) in later]
    if cfg.layer_decay == 1 and not cfg.head_lr:
        return param_groups(params, cfg.weight_decay)
    scale: dict[int, float] = {}
    blocks = backbone_blocks(model)
    for depth, block in enumerate(reversed(blocks)):
        for p in block.parameters():
            scale[id(p)] = cfg.layer_decay**depth
    for name in head_names(model):
        for p in getattr(model, name).parameters() if hasattr(model, name) else ():
            scale[id(p)] = (cfg.head_lr or cfg.lr) / cfg.lr
    bottom = cfg.layer_decay ** max(0, len(blocks) - 1)
    return param_groups(params, cfg.weight_decay, lambda p: scale.get(id(p), bottom))


def thaw(module: nn.Module) -> None:
    """Make ``module`` trainable again, its batch-norm statistics included."""
    module.requires_grad_(True)
    _mark_norms(module, False)


def frozen_norms(model: nn.Module) -> list[nn.Module]:
    """The batch-norm layers that are frozen (they stay in eval mode while training)."""
    return [m for m in model.modules() if getattr(m, _FROZEN, False)]


def get_head(model: nn.Module) -> nn.Module:
    """The model's (first) output layer, as timm's ``get_classifier``."""
    return getattr(model, head_names(model)[0])


def reset_head(task, num_classes: int) -> None:
    """Replace every output layer of ``task.model`` by a new linear layer of ``num_classes`` outputs
    (Glorot-initialized, as the families' heads), trainable unless the task is frozen ``all``."""
    check_positive("num_classes", num_classes, integer=True)
    model = task.model
    for name in head_names(model):
        old = getattr(model, name, None)
        if old is None:
            continue
        if not isinstance(old, nn.Linear):
            raise ConfigError(f"cannot reset head {name!r} of {type(model).__name__}: it is a {type(old).__name__}, "
                              "not a linear layer.")
        new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None,
                        device=old.weight.device, dtype=old.weight.dtype)
        init_module_(new, "glorot", "normal")
        new.requires_grad_(getattr(task, "frozen", "none") != "all")
        setattr(model, name, new)
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "num_classes"):
        config.num_classes = num_classes
    spec = getattr(task, "zoo_spec", None)
    if spec is not None and "num_classes" in spec.get("kwargs", {}):
        spec["kwargs"]["num_classes"] = num_classes
    info = getattr(task, "data_info", None)
    if info is not None and info.num_classes is not None and info.num_classes != num_classes:
        info.num_classes, info.class_names = num_classes, None
