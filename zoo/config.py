"""One typed run configuration, and the one parser and validator of its values.

A run is flat settings (``hidden=(64,)``, ``lr=1e-3``, ``seed=1``), the same names as flags,
keyword arguments, study axes and recipe keys, sorted into a :class:`RunConfig`'s parts::

    model      the family's config dataclass (hidden, activation, ...)   zoo/models/*.py
    task       the task's keyword settings (l1, label_smoothing, ...)    TASK_SETTINGS below
    optimizer  zoo.optim.OptimConfig (optimizer, lr, schedule, ...)
    loop       LoopConfig below (max_epochs, patience, clip_norm, ...)
    data       DataConfig below (dataset name, loader options, batch size)
    run        RunSettings below (seed, threads, logger, init_from, freeze, reinit, unfreeze_top, unfreeze_epoch)

Every value passes through :func:`zoo.values.coerce` (the one parser: typed values, or the CLI's text
with ``text=True``), then the owning dataclass's ``__post_init__`` (the one validator): a mistake
reads the same from the CLI, the API and a study file. Names are looked up by zoo/factory.py.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar

from zoo import metrics
from zoo.errors import ConfigError, UnknownNameError, check_choice, check_positive
from zoo.optim import OptimConfig
from zoo.values import INT_LIMIT, SEED_MAX, THREADS_MAX, coerce, describe, shown, unwrap_optional  # noqa: F401 (re-exported)

DEVICES = ("cpu", "cuda", "mps", "auto")
PRECISIONS = ("32-true", "16-mixed", "bf16-mixed")
LOGGERS = ("csv", "tensorboard", "wandb", "none")
SECTIONS = ("model", "task", "optimizer", "loop", "data", "run")
NOTES = "evidence"
"""A configuration file's section that is not settings (a recipe's bar and measurements): not read."""


def _check_fraction(name: str, value: float, *, high_inclusive: bool = False) -> None:
    if not (0 <= value <= 1 if high_inclusive else 0 <= value < 1):
        raise ConfigError(f"{name} must be in [0, 1{']' if high_inclusive else ')'}, got {value!r}.")


# ----------------------------------------------------------------------------- task settings


@dataclass
class Penalties:
    l1: float = 0.0
    """L1 penalty on weights (not biases or norm parameters), added to the loss."""
    l2: float = 0.0
    """L2 penalty on weights (Keras' kernel_regularizer), added to the loss."""

    default_optim: ClassVar[dict[str, Any]] = {}
    """Optimizer settings when none at all is given (the task's default_optim, zoo/tasks)."""

    def __post_init__(self) -> None:
        check_positive("l1", self.l1, allow_zero=True)
        check_positive("l2", self.l2, allow_zero=True)


@dataclass
class ClassificationSettings(Penalties):
    """Settings of a classification task (multiclass or binary)."""

    label_smoothing: float = 0.0
    """Target smoothing of the cross-entropy, in [0, 1)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_fraction("label_smoothing", self.label_smoothing)


@dataclass
class RegressionSettings(Penalties):
    """Settings of a regression task."""

    huber_delta: float = 0.0
    """0 = mean squared error; > 0 = Huber loss with this delta."""
    aux_weight: float = 0.1
    """Weight of an auxiliary output's loss (wide_deep's aux_output), in [0, 1]."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("huber_delta", self.huber_delta, allow_zero=True)
        _check_fraction("aux_weight", self.aux_weight, high_inclusive=True)


@dataclass
class Seq2SeqSettings(ClassificationSettings):
    """Settings of a sequence-to-sequence task."""


@dataclass
class LanguageModelSettings(Penalties):
    """Settings of a language-model task."""

    stateful: bool = False
    """Carry the hidden state (detached) from one window to the next."""


@dataclass
class EmbeddingSettings:
    """Settings of a word-embedding task."""

    analogy_vocab: int = 30_000
    """Analogy questions are answered among this many most frequent words."""

    default_optim: ClassVar[dict[str, Any]] = dict(optimizer="sgd", lr=0.025, schedule="linear", min_lr=1e-4)

    def __post_init__(self) -> None:
        check_positive("analogy_vocab", self.analogy_vocab, integer=True)


TASK_SETTINGS: dict[str, type] = {
    "multiclass": ClassificationSettings,
    "binary": ClassificationSettings,
    "regression": RegressionSettings,
    "language_model": LanguageModelSettings,
    "seq2seq": Seq2SeqSettings,
    "embedding": EmbeddingSettings,
}
"""Task kind -> the keyword settings of its task constructor (zoo/tasks; tests/test_config.py checks they match)."""


def task_kwargs(kind: str, settings: Any) -> dict[str, Any]:
    """Keyword arguments of the task constructor for ``kind`` (binary is the one kind told apart here)."""
    return {**dataclasses.asdict(settings), **({"binary": True} if kind == "binary" else {})}


# ----------------------------------------------------------------------------- loop, data, run


@dataclass
class LoopConfig:
    """How long and how to train; every field is a CLI flag and a study axis."""

    max_epochs: int = 10
    """Passes over the training split."""
    max_steps: int = 0
    """Stop after this many optimizer steps (0 = no limit)."""
    max_time: float = 0.0
    """Stop after this many seconds of training (0 = no limit); checked between steps."""
    device: str = "cpu"
    """cpu, cuda, mps or auto (the best available)."""
    precision: str = "32-true"
    """32-true, 16-mixed or bf16-mixed."""
    clip_value: float = 0.0
    """Clip each gradient element to [-v, v] (0 = off)."""
    clip_norm: float = 0.0
    """Rescale gradients to this global L2 norm at most (0 = off)."""
    patience: int = 0
    """Early stopping: epochs without improvement of the monitored metric (0 = off)."""
    min_delta: float = 0.0
    """Smallest change of the monitored metric that counts as improvement."""
    monitor: str = ""
    """Metric watched by early stopping and best-epoch selection ('' = the task's, e.g. val_loss)."""
    restore_best: bool = True
    """Load the weights of the best epoch at the end (as Keras' restore_best_weights)."""
    log_every_n_steps: int = 50
    """Read the running loss (one host sync) every this many steps: progress and divergence check."""
    progress: bool = True
    """Show a progress bar on a terminal (one line per epoch otherwise)."""
    warmup_steps: int = 5
    """Steps excluded from the throughput figure (allocator and kernel warm-up)."""

    def __post_init__(self) -> None:
        check_positive("max_epochs", self.max_epochs, integer=True)
        check_positive("max_steps", self.max_steps, allow_zero=True, integer=True)
        check_positive("max_time", self.max_time, allow_zero=True)
        check_choice("device", self.device, DEVICES)
        check_choice("precision", self.precision, PRECISIONS)
        check_positive("clip_value", self.clip_value, allow_zero=True)
        check_positive("clip_norm", self.clip_norm, allow_zero=True)
        if self.clip_value and self.clip_norm:
            raise ConfigError("set clip_value or clip_norm, not both.")
        check_positive("patience", self.patience, allow_zero=True, integer=True)
        check_positive("min_delta", self.min_delta, allow_zero=True)
        if self.monitor and not (self.monitor.startswith("val_") and metrics.is_known(self.monitor)):
            raise ConfigError(f"monitor {self.monitor!r} is not a validation metric; name one as val_<metric>, "
                              f"with <metric> one of: {', '.join(metrics.METRICS)}.")
        check_positive("log_every_n_steps", self.log_every_n_steps, integer=True)
        check_positive("warmup_steps", self.warmup_steps, allow_zero=True, integer=True)


@dataclass
class DataConfig:
    """What the model is trained on, and in batches of what size."""

    data: str | None = None
    """Dataset name (zoo list datasets); None = the model's embedded default."""
    data_options: dict[str, Any] = field(default_factory=dict)
    """Loader options, e.g. {limit: 2000, val_size: 5000}."""
    batch_size: int = 32
    """Training batch size."""

    def __post_init__(self) -> None:
        check_positive("batch_size", self.batch_size, integer=True)


FREEZE = ("none", "backbone", "all")  # what a run from a checkpoint keeps fixed: nothing, all but the head, all


@dataclass
class RunSettings:
    """How the run is seeded, threaded and logged, and what it starts from."""

    seed: int = 0
    """Seed of initialization and batch order."""
    threads: int = 0
    """torch threads (0 = torch's choice)."""
    logger: str = "csv"
    """csv, tensorboard, wandb (offline unless configured) or none."""
    init_from: str = ""
    """Start from a checkpoint (its architecture; a new head if the classes differ): a pretrained id or a folder."""
    freeze: str = "none"
    """With init_from: none, backbone (train only the head) or all."""
    reinit: tuple[str, ...] = ()
    """With init_from: layers re-initialized, not loaded (e.g. the input layer for other features)."""
    unfreeze_top: int = 0
    """With a frozen backbone: thaw its top K blocks (batch-norm statistics included) at unfreeze_epoch."""
    unfreeze_epoch: int = 1
    """The epoch whose start thaws the unfreeze_top blocks (1 = from the start; gradual unfreezing after that)."""

    def __post_init__(self) -> None:
        check_seed("seed", self.seed)
        check_choice("freeze", self.freeze, FREEZE)
        if not self.init_from and (self.freeze != "none" or self.reinit):
            raise ConfigError(f"freeze={self.freeze!r} and reinit={list(self.reinit)} need init_from (a checkpoint).")
        check_positive("unfreeze_top", self.unfreeze_top, allow_zero=True, integer=True)
        check_positive("unfreeze_epoch", self.unfreeze_epoch, integer=True)
        if self.unfreeze_top and self.freeze == "none":
            raise ConfigError(f"unfreeze_top={self.unfreeze_top} thaws frozen blocks: it needs freeze=backbone or all.")
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or not 0 <= self.threads <= THREADS_MAX:
            raise ConfigError(f"threads must be an integer in [0, {THREADS_MAX}], got {self.threads!r}.")
        check_choice("logger", self.logger, LOGGERS)


def check_seed(name: str, value: Any) -> int:
    """``value`` if it is a seed every generator accepts (an integer in [0, SEED_MAX])."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SEED_MAX:
        raise ConfigError(f"{name} must be an integer in [0, {SEED_MAX}], got {shown(value)}.")
    return value


# ----------------------------------------------------------------------------- the table of settings


@dataclass(frozen=True)
class Setting:
    """One flat setting: its name, the part of the configuration it belongs to, type and default."""

    name: str
    section: str
    type: Any
    default: Any


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]


@lru_cache(maxsize=None)
def dataclass_settings(cls: type, section: str) -> dict[str, Setting]:
    hints = typing.get_type_hints(cls)
    return {f.name: Setting(f.name, section, hints.get(f.name, Any), _default(f))
            for f in dataclasses.fields(cls) if not f.name.startswith("_")}


@lru_cache(maxsize=None)
def settings_table(model_config: type, kind: str) -> dict[str, Setting]:
    """Every flat setting of a run of a model (its family's ``model_config``) for task ``kind``."""
    check_choice("task kind", kind, TASK_SETTINGS)
    table: dict[str, Setting] = {}
    parts = ((model_config, "model"), (TASK_SETTINGS[kind], "task"), (OptimConfig, "optimizer"),
             (LoopConfig, "loop"), (DataConfig, "data"), (RunSettings, "run"))
    for cls, section in parts:
        for name, s in dataclass_settings(cls, section).items():
            if name in table:  # a bug in a config class, not a user mistake
                raise TypeError(f"setting {name!r} belongs to both {table[name].section} and {section}")
            table[name] = s
    return table


# ----------------------------------------------------------------------------- the run configuration


@dataclass
class RunConfig:
    """A whole run, resolved and checked: every part but the model's is complete.

    ``model_settings`` holds the family config fields that were set; the others are the
    builder's defaults and what the data implies (recorded in full after the model is built).
    """

    model: str
    kind: str
    model_settings: dict[str, Any]
    task: Any
    optimizer: OptimConfig
    loop: LoopConfig
    data: DataConfig
    run: RunSettings

    def create_kwargs(self) -> dict[str, Any]:
        """What ``zoo.create`` takes: model, task and optimizer settings."""
        return {**self.model_settings, **dataclasses.asdict(self.task), **dataclasses.asdict(self.optimizer)}

    def to_dict(self, model_config: Any = None) -> dict[str, Any]:
        """Plain JSON, one mapping per part (``model_config``: the built model's, recorded in full)."""
        model = dataclasses.asdict(model_config) if model_config is not None else dict(self.model_settings)
        return _plain({
            "model": {"name": self.model, **model},
            "task": {"kind": self.kind, **dataclasses.asdict(self.task)},
            "optimizer": dataclasses.asdict(self.optimizer),
            "loop": dataclasses.asdict(self.loop),
            "data": {"name": self.data.data, "batch_size": self.data.batch_size, "options": self.data.data_options},
            "run": dataclasses.asdict(self.run),
        })


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def resolve(
    model: str,
    model_config: type,
    kind: str,
    settings: Mapping[str, Any],
    *,
    data_options: Mapping[str, Any] | None = None,
    sections: tuple[str, ...] = SECTIONS,
    caller: str = "zoo.train",
    check_model: bool = True,
) -> RunConfig:
    """Sort flat ``settings`` into a checked :class:`RunConfig`.

    ``data_options``: the dataset's loader options and their types (``{}``: none checked);
    ``sections``: the parts the caller takes (``zoo.create`` takes model, task, optimizer);
    ``check_model``: construct the family's config
    now (with its defaults for what the data implies) rather than when the model is built.
    """
    table = settings_table(model_config, kind)
    groups: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    for key, value in settings.items():
        s = table.get(key)
        if s is None:
            raise UnknownNameError(f"argument for model {model!r}", key, [n for n, t in table.items() if t.section in sections])
        if s.section not in sections:
            raise ConfigError(f"{key!r} is a {s.section} setting; {caller} takes {', '.join(sections)} settings.")
        if key == "data_options":
            value = check_data_options(value, data_options, dataset=str(settings.get("data", "")))
        else:
            value = coerce(value, s.type, key, empty_ok=s.default in ("", ()))
        groups[s.section][key] = value
    entry_optim = TASK_SETTINGS[kind].default_optim
    model_settings = groups["model"]
    if check_model:  # the builder's own defaults and the data's sizes may differ from the config's
        model_cfg = model_config(**model_settings)
        model_settings = {k: getattr(model_cfg, k) for k in model_settings}
    cfg = RunConfig(
        model=model,
        kind=kind,
        model_settings=model_settings,
        task=TASK_SETTINGS[kind](**groups["task"]),
        optimizer=OptimConfig(**(groups["optimizer"] or entry_optim)),
        loop=LoopConfig(**groups["loop"]),
        data=DataConfig(**groups["data"]),
        run=RunSettings(**groups["run"]),
    )
    check_combination(model_settings, cfg.data)
    return cfg


def check_data_options(options: Any, allowed: Mapping[str, Any] | None, *, dataset: str = "", text: bool = False) -> dict[str, Any]:
    """Loader options of ``dataset`` checked against the loader's ``{option: type}`` (``None``: not checked)."""
    if not isinstance(options, Mapping):
        raise ConfigError(f"data_options must be a mapping of option: value, got {shown(options)}.")
    out: dict[str, Any] = {}
    for k, v in options.items():
        if allowed is not None and k not in allowed:
            raise UnknownNameError(f"option for dataset {dataset!r}", k, allowed)
        tp = allowed.get(k, Any) if allowed is not None else Any
        v = coerce(v, tp, k, text=text)
        if k in ("limit", "eval_batch_size") and v is not None and v < 1:
            raise ConfigError(f"{k} must be an integer > 0, got {v!r}.")
        if k == "split_seed" and v is not None:
            check_seed(k, v)
        out[k] = v
    return out


def check_combination(model: Any, data: DataConfig) -> None:
    """Settings that are each valid but not together; ``model``: the model settings (a mapping),
    or the built model's config once the builder's defaults are known."""
    norm = model.get("norm") if isinstance(model, Mapping) else getattr(model, "norm", None)
    if norm == "batch" and data.batch_size < 2:
        raise ConfigError(f"norm 'batch' needs batches of at least 2 samples, got batch_size {data.batch_size}.")


# ----------------------------------------------------------------------------- configuration files


@dataclass
class ConfigFile:
    """A configuration document (:meth:`RunConfig.to_dict`'s shape) read into flat settings."""

    source: str
    model: str | None
    kind: str | None
    settings: dict[str, Any]
    sections: dict[str, str]
    """Flat setting -> the section it was written under (checked once the model is known)."""

    def check_sections(self, table: Mapping[str, Setting]) -> None:
        """Refuse a known setting written under another section."""
        for key, section in self.sections.items():
            s = table.get(key)
            if s is not None and s.section != section:
                raise ConfigError(f"{self.source}: {section}.{key}: {key!r} is not a {section} setting; move it under {s.section}.")


def read_config(doc: Any, source: str) -> ConfigFile:
    """A configuration document as flat settings; ``model`` and ``data`` may be bare names."""
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{source}: a configuration is a mapping of {', '.join(SECTIONS)}, got {shown(doc)}.")
    unknown = [k for k in doc if k not in SECTIONS and k != NOTES]
    if unknown:
        raise UnknownNameError(f"section in {source}:", unknown[0], (*SECTIONS, NOTES))
    out = ConfigFile(source, None, None, {}, {})
    for section in SECTIONS:
        part = doc.get(section)
        if part is None:
            continue
        if section in ("model", "data") and isinstance(part, str):
            part = {"name": part}
        if not isinstance(part, Mapping):
            raise ConfigError(f"{source}: {section} must be a mapping of setting: value, got {shown(part)}.")
        for key, value in part.items():
            if section == "model" and key == "name":
                out.model = coerce(value, str, f"{source}: model.name")
            elif section == "task" and key == "kind":
                out.kind = coerce(value, str, f"{source}: task.kind")
            else:
                flat = {"name": "data", "options": "data_options"}.get(key, key) if section == "data" else key
                out.settings[flat], out.sections[flat] = value, section
    return out
