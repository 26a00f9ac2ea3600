"""Transfer learning on a built task: which layers are the head, and freezing.

Works on any task made by :func:`zoo.factory.create` (or loaded from a
checkpoint); knows nothing of files. A model names its output layer(s) in a
``head_names`` attribute (default ``("head",)``), as timm's ``pretrained_cfg``
names its classifier.
"""

from __future__ import annotations

from torch import nn

from zoo.errors import check_choice

FREEZE = ("none", "backbone", "all")


def head_names(model: nn.Module) -> tuple[str, ...]:
    """Attribute names of the model's output layer(s), replaced on transfer."""
    return tuple(getattr(model, "head_names", ("head",)))


def set_frozen(task, freeze: str) -> None:
    """Freeze ``backbone`` (everything but the head), ``all``, or nothing (``none``).

    Frozen batch-norm layers also keep their running statistics (the task's
    ``train()`` re-applies eval mode to them through :func:`frozen_norms`), as
    Keras' fine-tuning guide advises.
    """
    check_choice("freeze", freeze, FREEZE)
    heads = head_names(task.model)
    for name, p in task.model.named_parameters():
        in_head = name.split(".")[0] in heads
        p.requires_grad_(freeze == "none" or (freeze == "backbone" and in_head))
    task.frozen = freeze


def frozen_norms(model: nn.Module, freeze: str) -> list[nn.Module]:
    """The batch-norm layers that ``freeze`` covers (they stay in eval mode while training)."""
    if freeze == "none":
        return []
    heads = head_names(model)
    return [
        m
        for name, child in model.named_children()
        if freeze == "all" or name not in heads
        for m in child.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]
