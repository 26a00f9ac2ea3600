"""Wide & Deep network for tabular regression (Hands-On ML, ch. 10; Cheng et al., 2016).

Read top to bottom: config, model, builders, pretrained entries.

The deep path is an MLP over the "deep" input columns; the wide path feeds the
"wide" columns straight to the output layer, which sees the concatenation
``[wide, deep(x_deep)]``. Both forms of the book are one model:

* single-input form: ``wide_columns=None, deep_columns=None`` (every column on both paths);
* two-input form: columns chosen by index, e.g. ``wide_columns=(0,1,2,3,4)``,
  ``deep_columns=(2,3,4,5,6,7)`` (the book's features 0-4 wide and 2-7 deep).

The data pipeline stays single-input: the model selects the columns from one
``(B, F)`` tensor after its input scaler, so the CLI, studies and checkpoints
need nothing special. ``aux_output=True`` adds the book's auxiliary output on
top of the deep path; while training the model returns ``(main, aux)`` and
:class:`zoo.tasks.RegressionTask` weights the two losses ``1 - aux_weight`` and
``aux_weight`` (the book's 0.9 / 0.1). In eval mode it returns ``main`` only.

Outputs are ``target_shift + target_scale * linear(...)``, with shift and scale
set from the training split's target mean and std (``from_data``), so the
layers learn a standardized target while the loss and metrics stay in the
target's own units (diabetes: raw progression 25-346; California: $100k).

``log_columns`` takes ``log1p`` of heavy-tailed count columns before the
scaler (fitted on the logs): California's table has raw counts (total_rooms,
population, households) where the book's scikit-learn version has ratios, and a
difference of logs is a ratio a dense layer can form.

Worked example (checked in tests/models/test_wide_deep.py): the book's
two-input model, 5 wide and 6 deep columns, hidden (30, 30), auxiliary output:
deep 6*30+30 + 30*30+30 = 1,140; head (5+30)*1+1 = 36; aux head 30+1 = 31;
total 1,207 parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from zoo.errors import ConfigError, DataError, check_choice, check_positive
from zoo.layers import InputScaler, init_module_
from zoo.models.mlp import DenseBlock, MLPConfig
from zoo.registry import register_model


@dataclass
class WideDeepConfig(MLPConfig):
    """Shape and knobs of a Wide & Deep network (the MLP's knobs apply to the deep path)."""

    in_features: int = 8
    """Input columns of the table (set from the data)."""
    num_classes: int = 1
    """Outputs: regression targets (set from the data)."""
    hidden: tuple[int, ...] = (30, 30)
    """Width of each hidden layer of the deep path, input side first (the book: 30, 30)."""
    wide_columns: tuple[int, ...] | None = None
    """Column indices fed straight to the output layer (the wide path); None = every column (single-input form)."""
    deep_columns: tuple[int, ...] | None = None
    """Column indices fed to the deep path; None = every column."""
    log_columns: tuple[int, ...] = ()
    """Column indices replaced by log1p(x) before scaling: heavy-tailed counts (rooms, population), whose
    differences of logs are the ratios a dense layer cannot form from raw counts; () = none."""
    aux_output: bool = False
    """Add an auxiliary output on the deep path (a regularizer); its loss weight is the task's aux_weight."""
    num_embedding: str = "none"
    """Embedding of each deep-path column before the MLP: none, or periodic (Gorishniy et al. 2022, "On
    Embeddings for Numerical Features in Tabular Deep Learning", PLR: sin/cos of trained frequencies,
    then a per-column linear layer and ReLU)."""
    frequencies: int = 16
    """Periodic embedding: trained frequencies per column (k; the column becomes 2k sines and cosines)."""
    frequency_scale: float = 0.1
    """Periodic embedding: standard deviation of the frequencies' N(0, sigma) initialization."""
    embedding_dim: int = 16
    """Periodic embedding: width of each column's embedding (the deep path reads columns x embedding_dim)."""
    target_shift: float = 0.0
    """Added to every output: the training target mean (set from the data), so the layers fit a standardized target."""
    target_scale: float = 1.0
    """Multiplies every output before the shift: the training target std (set from the data)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.hidden:
            raise ConfigError("hidden needs at least one layer for the deep path, got ().")
        for name in ("wide_columns", "deep_columns", "log_columns"):
            cols = getattr(self, name)
            if cols is None and name != "log_columns":
                continue
            cols = tuple(cols or ())
            setattr(self, name, cols)
            if not cols and name != "log_columns":
                raise ConfigError(f"{name} needs at least one column index, or None for every column.")
            for c in cols:
                if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < self.in_features:
                    raise ConfigError(
                        f"{name} holds {c!r}; column indices must be integers from 0 to {self.in_features - 1} "
                        f"(the data has {self.in_features} columns)."
                    )
            if len(set(cols)) != len(cols):
                raise ConfigError(f"{name} repeats a column: {cols}.")
        check_choice("num_embedding", self.num_embedding, NUM_EMBEDDINGS)
        check_positive("frequencies", self.frequencies, integer=True)
        check_positive("embedding_dim", self.embedding_dim, integer=True)
        check_positive("frequency_scale", self.frequency_scale)
        if not isinstance(self.target_scale, (int, float)) or not self.target_scale > 0:
            raise ConfigError(f"target_scale must be a number > 0, got {self.target_scale!r}.")


class LogInputScaler(InputScaler):
    """:class:`~zoo.layers.InputScaler` after ``log1p`` of some columns; fitted (on the logs) on the training split."""

    def __init__(self, mode: str, num_features: int, per_feature: bool, log_columns: tuple[int, ...] = ()):
        super().__init__(mode, num_features, per_feature=per_feature)
        self.register_buffer("log_index", torch.tensor(log_columns, dtype=torch.long) if log_columns else None, persistent=False)

    def _log(self, x: Tensor) -> Tensor:
        if self.log_index is None:
            return x
        x = x.clone()
        x[:, self.log_index] = torch.log1p(x[:, self.log_index])  # (B, len(log_columns))
        return x

    @torch.no_grad()
    def fit(self, x: Tensor) -> LogInputScaler:
        x = x.float().flatten(1)
        if self.log_index is not None and (x[:, self.log_index] < 0).any():
            bad = self.log_index[(x[:, self.log_index] < 0).any(0)][0].item()
            raise DataError(f"log_columns holds column {bad}, which has negative values in the training split; log1p needs x >= 0.")
        super().fit(self._log(x))
        return self

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(self._log(x))


NUM_EMBEDDINGS = ("none", "periodic")


class PeriodicEmbedding(nn.Module):
    """(B, F) -> (B, F * d): per column, ReLU(W_j [sin(2 pi c_j x_j); cos(2 pi c_j x_j)] + b_j) with trained
    frequencies c_j ~ N(0, sigma) (the PLR embedding of Gorishniy et al. 2022, per-column linear layers)."""

    def __init__(self, columns: int, frequencies: int, sigma: float, dim: int):
        super().__init__()
        self.frequencies = nn.Parameter(torch.randn(columns, frequencies) * sigma)  # (F, k)
        self.weight = nn.Parameter(torch.empty(columns, 2 * frequencies, dim))  # (F, 2k, d)
        self.bias = nn.Parameter(torch.zeros(columns, dim))  # (F, d)
        bound = (1.0 / (2 * frequencies)) ** 0.5  # nn.Linear's default for a fan-in of 2k
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        angle = 2 * torch.pi * x[:, :, None] * self.frequencies  # (B, F, k)
        features = torch.cat([torch.sin(angle), torch.cos(angle)], dim=2)  # (B, F, 2k)
        out = torch.einsum("bfk,fkd->bfd", features, self.weight) + self.bias  # (B, F, d)
        return torch.relu(out).flatten(1)  # (B, F * d)


class WideDeep(nn.Module):
    """(B, F) -> scaler -> [x_wide, deep(x_deep)] -> linear head -> (B, num_classes) [, aux (B, num_classes)]."""

    def __init__(self, cfg: WideDeepConfig):
        super().__init__()
        self.config = cfg
        self.scaler = LogInputScaler(cfg.scaling, cfg.in_features, cfg.scale_per_feature, cfg.log_columns)
        # Column selections as (non-persistent) buffers: they follow .to(device), and the
        # config in the checkpoint card already records them. None = all columns, no gather.
        for name, cols in (("wide_index", cfg.wide_columns), ("deep_index", cfg.deep_columns)):
            self.register_buffer(name, None if cols is None else torch.tensor(cols, dtype=torch.long), persistent=False)
        n_wide = cfg.in_features if cfg.wide_columns is None else len(cfg.wide_columns)
        n_deep = cfg.in_features if cfg.deep_columns is None else len(cfg.deep_columns)
        self.embedding = (PeriodicEmbedding(n_deep, cfg.frequencies, cfg.frequency_scale, cfg.embedding_dim)
                          if cfg.num_embedding == "periodic" else None)
        widths = (n_deep * (cfg.embedding_dim if self.embedding is not None else 1), *cfg.hidden)
        self.body = nn.Sequential(*(DenseBlock(a, b, cfg) for a, b in zip(widths[:-1], widths[1:])))
        self.head = nn.Linear(n_wide + widths[-1], cfg.num_classes)
        self.aux_head = nn.Linear(widths[-1], cfg.num_classes) if cfg.aux_output else None
        self.head_names = ("head", "aux_head") if cfg.aux_output else ("head",)
        init_module_(self, cfg.init, cfg.init_distribution, cfg.activation)  # Linear layers only: the embedding keeps its own
        if cfg.init != "torch":
            # The outputs are linear (regression), not the hidden activation: Glorot, as Keras' Dense default.
            for h in (self.head, self.aux_head):
                if h is not None:
                    init_module_(h, "glorot", cfg.init_distribution)

    def _columns(self, x: Tensor, index: Tensor | None) -> Tensor:
        return x if index is None else x.index_select(1, index)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        cfg = self.config
        x = self.scaler(x.flatten(1))  # (B, F)
        deep = self._columns(x, self.deep_index)  # (B, F_deep)
        if self.embedding is not None:
            deep = self.embedding(deep)  # (B, F_deep * embedding_dim)
        deep = self.body(deep)  # (B, hidden[-1])
        main = self.head(torch.cat([self._columns(x, self.wide_index), deep], dim=1))  # (B, outputs)
        main = main * cfg.target_scale + cfg.target_shift
        if self.training and self.aux_head is not None:
            return main, self.aux_head(deep) * cfg.target_scale + cfg.target_shift
        return main


# ----------------------------------------------------------------------------- builders


def _from_data(info) -> dict:
    if len(info.input_shape) != 1:
        raise ConfigError(f"wide_deep needs table rows (N, F); dataset {info.name!r} gives inputs of shape {tuple(info.input_shape)}.")
    out = {"in_features": info.num_features, "num_classes": info.num_classes or 1}
    extra = info.extra or {}
    if "target_mean" in extra and extra.get("target_std", 0) > 0:
        out.update(target_shift=float(extra["target_mean"]), target_scale=float(extra["target_std"]))
    return out


_ENTRY = dict(config=WideDeepConfig, tasks=("regression",), default_data="diabetes", from_data=_from_data)


@register_model(**_ENTRY)
def wide_deep(**kwargs) -> WideDeep:
    """Wide & Deep regression network (Hands-On ML ch. 10): wide columns beside a deep MLP, optional auxiliary output."""
    return WideDeep(WideDeepConfig(**kwargs))


@register_model(**_ENTRY, tags=("tiny",))
def wide_deep_tiny(**kwargs) -> WideDeep:
    """Deep path of one 8-unit layer, for tests and smoke studies."""
    return WideDeep(WideDeepConfig(**{"hidden": (8,), **kwargs}))


# ----------------------------------------------------------------------------- pretrained entries
# Files in weights/<id>/ (zoo/hub.py finds them); the schema test is tests/test_pretrained_entries.py.

from zoo.pretrained import PretrainedEntry, WeightFile, register_pretrained  # noqa: E402

register_pretrained(PretrainedEntry(
    id="wide_deep-california_housing", model="wide_deep", dataset="california_housing", default=True,
    summary="wide_deep 128-128-128 + BN with periodic (PLR) column embeddings, on California housing: test RMSE 0.4773",
    recipe="benchmarks/recipes/wide_deep-california_housing-plr.yaml", split="test",
    metrics={"loss": 0.22778755645881327, "rmse": 0.4772709444375555, "mae": 0.3074910188519735, "r2": 0.8289207172205756},
    num_parameters=101246,
    licence="No explicit licence from the original authors; derived from 1990 U.S. Census publications (public domain); "
            "the handson-ml2 repository is Apache-2.0",
    versions={"zoobench": "0.1.0", "torch": "2.13.0+cpu"},
    notes="scikit-learn's HistGradientBoostingRegressor on the same split: test RMSE 0.4657 (benchmarks/housing_vs_hgb.py).",
    files=(WeightFile("weights/wide_deep-california_housing/model.safetensors", "e82859bca500873984c290e5ac2cdccbfde839516b97de9ee91e5245a3886ed5", 410432),
           WeightFile("weights/wide_deep-california_housing/card.json", "cb02cc0fa13dee8d976d23ba6d9ae962f5970453a846f7ea0d3023cf155e0d65", 4575)),
))
