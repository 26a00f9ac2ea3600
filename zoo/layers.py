"""Name -> factory tables for the building blocks every family shares.

Activations, normalizations, initializers, the input scaler and the recurrent
state helpers. A study axis
names an entry of these tables (``activation: [relu, selu, mish]``), so every
name here is part of the public vocabulary; the error for an unknown one lists
them all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Union

import torch
from torch import Tensor, nn

from zoo.errors import ConfigError, check_choice, check_fraction

# ----------------------------------------------------------------------------- activations

ACTIVATIONS: dict[str, Callable[[float | None], nn.Module]] = {
    "sigmoid": lambda a: nn.Sigmoid(),
    "tanh": lambda a: nn.Tanh(),
    "relu": lambda a: nn.ReLU(),
    # alpha = slope for x < 0; 0.01 is PyTorch's default, Hands-On ML uses 0.2.
    "leaky_relu": lambda a: nn.LeakyReLU(0.01 if a is None else a),
    # alpha = initial learned slope (one per layer).
    "prelu": lambda a: nn.PReLU(init=0.25 if a is None else a),
    # Random slope in [1/8, 1/3] while training, their mean at eval.
    "rrelu": lambda a: nn.RReLU(),
    "elu": lambda a: nn.ELU(1.0 if a is None else a),
    "selu": lambda a: nn.SELU(),
    "gelu": lambda a: nn.GELU(),
    "silu": lambda a: nn.SiLU(),
    "swish": lambda a: nn.SiLU(),  # Swish with beta = 1 is SiLU
    "mish": lambda a: nn.Mish(),
}

# Activations whose scale suits He initialization (variance 2 / fan_in).
RELU_FAMILY = frozenset({"relu", "leaky_relu", "prelu", "rrelu", "elu", "gelu", "silu", "swish", "mish"})


def activation(name: str, alpha: float | None = None) -> nn.Module:
    """A fresh activation module; ``alpha`` is the negative slope (leaky/PReLU) or ELU's alpha."""
    return ACTIVATIONS[check_choice("activation", name, ACTIVATIONS)](alpha)


# ----------------------------------------------------------------------------- normalization

NORMS = ("none", "batch", "layer")


def norm(name: str, features: int, *, dims: int = 1) -> nn.Module:
    """Normalization over ``features`` channels; ``dims`` = 1 for vectors, 2 for images."""
    check_choice("normalization", name, NORMS)
    if name == "none":
        return nn.Identity()
    if name == "batch":
        return nn.BatchNorm1d(features) if dims == 1 else nn.BatchNorm2d(features)
    if dims == 1:
        return nn.LayerNorm(features)
    # Layer norm over (C, H, W) of an image with unknown H, W: GroupNorm with one group
    # normalizes over all of them and keeps a per-channel affine, as LayerNorm does per feature.
    return nn.GroupNorm(1, features)


# ----------------------------------------------------------------------------- initializers

# Variance scale and fan mode, as Keras' VarianceScaling: Var(W) = scale / fan.
_INIT_SCALE = {"he": (2.0, "fan_in"), "glorot": (1.0, "fan_avg"), "lecun": (1.0, "fan_in")}
INITIALIZERS = ("auto", "he", "glorot", "lecun", "torch")
DISTRIBUTIONS = ("normal", "uniform")


def default_init(activation_name: str) -> str:
    """He for the ReLU family, LeCun for SELU (self-normalizing), Glorot otherwise."""
    if activation_name == "selu":
        return "lecun"
    return "he" if activation_name in RELU_FAMILY else "glorot"


def init_weight_(weight: Tensor, scheme: str, distribution: str = "normal") -> Tensor:
    """Initialize a dense/conv weight in place with variance ``scale / fan``."""
    check_choice("initializer", scheme, _INIT_SCALE)
    check_choice("initializer distribution", distribution, DISTRIBUTIONS)
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(weight)
    scale, mode = _INIT_SCALE[scheme]
    fan = {"fan_in": fan_in, "fan_avg": (fan_in + fan_out) / 2}[mode]
    var = scale / max(1.0, fan)
    with torch.no_grad():
        if distribution == "normal":
            return weight.normal_(0.0, math.sqrt(var))
        limit = math.sqrt(3.0 * var)  # Var(U(-l, l)) = l^2 / 3
        return weight.uniform_(-limit, limit)


def init_module_(module: nn.Module, scheme: str, distribution: str = "normal", activation_name: str = "relu") -> None:
    """Initialize every Linear/Conv weight below ``module`` (biases to zero).

    ``scheme="auto"`` picks by activation (:func:`default_init`); ``"torch"`` keeps
    PyTorch's own defaults.
    """
    check_choice("initializer", scheme, INITIALIZERS)
    if scheme == "torch":
        return
    if scheme == "auto":
        scheme = default_init(activation_name)
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            init_weight_(m.weight, scheme, distribution)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


# ----------------------------------------------------------------------------- shared config checks


def check_block_knobs(cfg) -> None:
    """Check the knobs every block-based family shares (activation, alpha, norm and its position,
    dropout, initializer, input scaling), so the MLP and the CNN reject a bad value alike."""
    check_choice("activation", cfg.activation, ACTIVATIONS)
    check_choice("normalization", cfg.norm, NORMS)
    check_choice("norm_position", cfg.norm_position, ("before", "after"))
    check_fraction("dropout", cfg.dropout)
    check_choice("initializer", cfg.init, INITIALIZERS)
    check_choice("initializer distribution", cfg.init_distribution, DISTRIBUTIONS)
    check_choice("input scaling", cfg.scaling, SCALINGS)
    if cfg.alpha is not None and cfg.activation not in ("leaky_relu", "prelu", "elu"):
        raise ConfigError(f"alpha applies to leaky_relu, prelu and elu, not {cfg.activation!r}.")


# ----------------------------------------------------------------------------- input scaling

SCALINGS = ("none", "standardize", "minmax")


class InputScaler(nn.Module):
    """Affine input scaling fitted on the training split only, stored in the checkpoint.

    ``y = (x - shift) / scale``. ``standardize``: shift = mean, scale = std;
    ``minmax``: shift = min, scale = max - min. Statistics are per feature
    (``per_feature=True``, for tables) or one pair for the whole input (images,
    where a per-pixel statistic of an always-black border would divide by zero).
    Constant features get scale 1.
    """

    def __init__(self, mode: str = "standardize", num_features: int = 1, per_feature: bool = True):
        super().__init__()
        self.mode = check_choice("input scaling", mode, SCALINGS)
        self.per_feature = per_feature
        n = num_features if per_feature else 1
        self.register_buffer("shift", torch.zeros(n))
        self.register_buffer("scale", torch.ones(n))

    @torch.no_grad()
    def fit(self, x: Tensor) -> InputScaler:
        """Fit on training inputs ``x`` of shape (N, F) or (N, ...)."""
        if self.mode == "none":
            return self
        x = x.float()
        flat = x.reshape(x.shape[0], -1) if self.per_feature else x.reshape(-1, 1)
        if flat.shape[1] != self.shift.numel():
            raise ConfigError(f"input scaler expects {self.shift.numel()} features, data has {flat.shape[1]}.")
        if self.mode == "standardize":
            shift, scale = flat.mean(0), flat.std(0)
        else:
            lo, hi = flat.min(0).values, flat.max(0).values
            shift, scale = lo, hi - lo
        scale = torch.where(scale > 1e-12, scale, torch.ones_like(scale))
        self.shift.copy_(shift)
        self.scale.copy_(scale)
        return self

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "none":
            return x
        if self.per_feature:
            return (x - self.shift) / self.scale
        return (x - self.shift[0]) / self.scale[0]

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, per_feature={self.per_feature}"


def fit_input_scalers(module: nn.Module, train_inputs: Tensor) -> None:
    """Fit every :class:`InputScaler` in ``module`` on the training inputs."""
    for m in module.modules():
        if isinstance(m, InputScaler):
            m.fit(train_inputs)


# ----------------------------------------------------------------------------- recurrent state

RNNState = Union[Tensor, tuple[Tensor, Tensor]]
"""Hidden state of ``nn.GRU``/``nn.RNN`` ((num_layers, B, hidden)) or ``nn.LSTM`` ((h, c), both that shape)."""


def detach_state(state: RNNState | None) -> RNNState | None:
    """The state cut from the graph (truncated back-propagation through time)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)  # type: ignore[return-value]
    return state.detach()


def state_batch_size(state: RNNState) -> int:
    """The batch size B of a recurrent state."""
    return (state[0] if isinstance(state, tuple) else state).shape[1]
