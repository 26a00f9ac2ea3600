"""Multi-layer perceptron: dense blocks with every knob of the seeds.

Read top to bottom: config, block, model, builders, pretrained entries.

Worked example (the seeds; checked in tests/models/test_mlp.py): 784-512-64-32-10
with batch norm has 437,162 dense parameters, 1,216 trainable batch-norm
parameters (gamma, beta) and 1,216 running statistics (mean, var).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from zoo.errors import check_positive
from zoo.layers import InputScaler, activation, check_block_knobs, init_module_, norm
from zoo.registry import register_model


@dataclass
class MLPConfig:
    """Shape and knobs of an MLP."""

    in_features: int = 784
    """Inputs per sample; anything after the batch dimension is flattened."""
    num_classes: int = 10
    """Size of the output layer: classes (1 logit for binary) or regression targets."""
    hidden: tuple[int, ...] = (512, 64, 32)
    """Width of each hidden layer, input side first."""
    activation: str = "relu"
    """Hidden activation: sigmoid, tanh, relu, leaky_relu, prelu, rrelu, elu, selu, gelu, silu, swish, mish."""
    alpha: float | None = None
    """Negative slope of leaky_relu, initial slope of prelu, alpha of elu (None = the layer's default)."""
    norm: str = "none"
    """Normalization of each hidden layer: none, batch or layer."""
    norm_position: str = "before"
    """Normalize ``before`` the activation (as Ioffe & Szegedy) or ``after`` it."""
    dropout: float = 0.0
    """Drop probability after each hidden block (alpha dropout for selu, which keeps self-normalization)."""
    init: str = "auto"
    """Weight initializer: he, glorot, lecun, torch (PyTorch's default) or auto (he for the ReLU family, lecun for selu, glorot otherwise)."""
    init_distribution: str = "normal"
    """normal or uniform, with the initializer's variance."""
    scaling: str = "standardize"
    """Input scaling fitted on the training split: standardize, minmax or none."""
    scale_per_feature: bool = True
    """Fit one (shift, scale) per input feature; False fits one pair for all (better for images)."""

    def __post_init__(self) -> None:
        check_positive("in_features", self.in_features, integer=True)
        check_positive("num_classes", self.num_classes, integer=True)
        self.hidden = tuple(self.hidden)
        for h in self.hidden:
            check_positive("each hidden size", h, integer=True)
        check_block_knobs(self)


class DenseBlock(nn.Sequential):
    """Linear -> [norm] -> activation -> [norm] -> [dropout]."""

    def __init__(self, n_in: int, n_out: int, cfg: MLPConfig):
        layers: list[nn.Module] = [nn.Linear(n_in, n_out)]
        act = activation(cfg.activation, cfg.alpha)
        nrm = norm(cfg.norm, n_out)
        layers += [nrm, act] if cfg.norm_position == "before" else [act, nrm]
        if cfg.dropout:
            # SELU's self-normalization survives only alpha dropout (Klambauer et al., 2017).
            layers.append(nn.AlphaDropout(cfg.dropout) if cfg.activation == "selu" else nn.Dropout(cfg.dropout))
        super().__init__(*(m for m in layers if not isinstance(m, nn.Identity)))


class MLP(nn.Module):
    """(B, ...) -> flatten -> scaler -> dense blocks -> linear head -> (B, num_classes)."""

    def __init__(self, cfg: MLPConfig):
        super().__init__()
        self.config = cfg
        self.scaler = InputScaler(cfg.scaling, cfg.in_features, per_feature=cfg.scale_per_feature)
        widths = (cfg.in_features, *cfg.hidden)
        self.body = nn.Sequential(*(DenseBlock(a, b, cfg) for a, b in zip(widths[:-1], widths[1:])))
        self.head = nn.Linear(widths[-1], cfg.num_classes)
        init_module_(self, cfg.init, cfg.init_distribution, cfg.activation)
        if cfg.init != "torch":
            # The output layer feeds a softmax/sigmoid/identity, not the hidden activation: Glorot.
            init_module_(self.head, "glorot", cfg.init_distribution)

    def features(self, x: Tensor) -> Tensor:
        """Output of the last hidden block, (B, hidden[-1])."""
        return self.body(self.scaler(x.flatten(1)))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


# ----------------------------------------------------------------------------- builders


def _from_data(info) -> dict:
    head = 1 if info.kind == "binary" else info.num_classes
    # Images share one (shift, scale): a per-pixel statistic of an always-black border is 0/0.
    return {"in_features": info.num_features, "num_classes": head, "scale_per_feature": len(info.input_shape) == 1}


_ENTRY = dict(config=MLPConfig, tasks=("multiclass", "binary", "regression"), default_data="digits", from_data=_from_data)


@register_model(**_ENTRY)
def mlp(**kwargs) -> MLP:
    """Multi-layer perceptron (dense blocks with activation, normalization, dropout, initializer)."""
    return MLP(MLPConfig(**kwargs))


@register_model(**_ENTRY, tags=("tiny",))
def mlp_tiny(**kwargs) -> MLP:
    """One hidden layer of 16 units, for tests and smoke studies."""
    return MLP(MLPConfig(**{"hidden": (16,), **kwargs}))


@register_model(**_ENTRY)
def mlp_mnist(**kwargs) -> MLP:
    """The MNIST recipe's wide MLP: 784-1024-1024-10, batch norm before ReLU, dropout 0.2."""
    return MLP(MLPConfig(**{"hidden": (1024, 1024), "norm": "batch", "dropout": 0.2, "scale_per_feature": False, **kwargs}))
