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
from zoo.pretrained import PretrainedEntry, WeightFile, register_pretrained
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


# ----------------------------------------------------------------------------- pretrained entries
# Files in weights/<id>/ (zoo/hub.py finds them); the schema test is tests/test_pretrained_entries.py.

register_pretrained(PretrainedEntry(
    id="mlp-mnist", model="mlp", dataset="mnist", default=True,
    summary="MLP 784-512-64-32-10 (the seeds' topology), batch norm, dropout 0.2, on MNIST",
    recipe="benchmarks/recipes/mlp-mnist-seeds.yaml", split="test",
    metrics={"loss": 0.5384118111610413, "acc": 0.98580002784729, "f1": 0.9857956007814757, "auroc": 0.999771237373352},
    num_parameters=438378, classes=('0', '1', '2', '3', '4', '5', '6', '7', '8', '9'),
    licence='CC BY-SA 3.0 (Yann LeCun and Corinna Cortes)',
    versions={"zoobench": "0.1.0", "torch": "2.13.0+cpu"},
    files=(WeightFile("weights/mlp-mnist/model.safetensors", "e0bd524e5c659f81a4cd3f22b224d04f867c6d8807e18b094e1ed8ac6153f92e", 1760432),
           WeightFile("weights/mlp-mnist/card.json", "92d0d5b5ce9aabb64a39d031fdbeaf5c5db18aa561da76b8ff35dd416a10d25a", 9122)),
))

register_pretrained(PretrainedEntry(
    id="mlp-breast_cancer", model="mlp", dataset="breast_cancer", default=False,
    summary="MLP 30-64-32-1, batch norm, dropout 0.3, on breast_cancer (embedded: needs no data directory)",
    recipe="benchmarks/recipes/mlp-breast_cancer.yaml", split="test",
    metrics={"loss": 0.08895982056856155, "acc": 0.9649122953414917, "f1": 0.9722222222222222, "auroc": 0.9963623881340027},
    num_parameters=4289, classes=('malignant', 'benign'),
    licence='CC BY 4.0 (UCI Machine Learning Repository); shipped inside scikit-learn (BSD-3-Clause)',
    versions={"zoobench": "0.1.0", "torch": "2.13.0+cpu"},
    files=(WeightFile("weights/mlp-breast_cancer/model.safetensors", "bdddfc89ad9b3d7f5b813e342f0fcb5b4bc6a48c30cdc3083d16f67ebd85f28a", 19556),
           WeightFile("weights/mlp-breast_cancer/card.json", "8b71f3c7ddf33d47b86408e8d5c6d495408cc32990ab2c8cc44c937622d46429", 5247)),
))

register_pretrained(PretrainedEntry(
    id="mlp-wine", model="mlp", dataset="wine", default=False,
    summary="MLP 13-64-32-3, batch norm, dropout 0.2, on wine (embedded: needs no data directory)",
    recipe="benchmarks/recipes/mlp-wine.yaml", split="test",
    metrics={"loss": 0.018170170485973358, "acc": 1.0, "f1": 1.0, "auroc": 1.0},
    num_parameters=3267, classes=('class_0', 'class_1', 'class_2'),
    licence='CC BY 4.0 (UCI Machine Learning Repository); shipped inside scikit-learn (BSD-3-Clause)',
    versions={"zoobench": "0.1.0", "torch": "2.13.0+cpu"},
    files=(WeightFile("weights/mlp-wine/model.safetensors", "9c39ce30ab7c923574c61d0e658269f7d811e6eb71598cc40eb1486aa82c8616", 15332),
           WeightFile("weights/mlp-wine/card.json", "09dc663c353b1e3ffcdcf27c13814de1096bae27523c679f7f07327816ffb8f9", 4751)),
))


register_pretrained(PretrainedEntry(
    id="mlp_mnist-mnist-shift", model="mlp_mnist", dataset="mnist", tag="shift", default=True,
    summary="MLP 784-1024-1024-10 (mlp_mnist), batch norm, dropout 0.2, trained on shifted MNIST (1.86M parameters)",
    recipe="benchmarks/recipes/mlp-mnist-shift.yaml", split="test",
    metrics={"loss": 0.5260702075004577, "acc": 0.9934999942779541, "f1": 0.9934714973937151, "auroc": 0.9999736547470093},
    num_parameters=1867786, classes=('0', '1', '2', '3', '4', '5', '6', '7', '8', '9'),
    licence='CC BY-SA 3.0 (Yann LeCun and Corinna Cortes)',
    versions={"zoobench": "0.1.0", "torch": "2.13.0+cpu"},
    files=(WeightFile("weights/mlp_mnist-mnist-shift/model.safetensors", "fc59c4bbaeb68a265fc2b8f17f3b3d152bf64e3d00be9a19a026dea06b54f553", 7489024),
           WeightFile("weights/mlp_mnist-mnist-shift/card.json", "3e2f5ae331e0e1cf0162d7201b212426a52ca37464e4a78dd9e15c887ed564e3", 9164)),
))
