"""Studies: a YAML matrix of training choices, checked, then expanded into frozen, hashed cells.

A study file (``benchmarks/*.yaml``) names what is compared, what is tuned
for each compared value, and what is held constant (the vocabulary of the deep
learning tuning playbook)::

    name: optimizers                 # folder under runs/ (default: the file name)
    description: ...
    problems: [mlp-digits, mlp-breast_cancer]     # <model>-<dataset>[-<tag>]; or mappings, see below
    scientific: {optimizer: [sgd, momentum, adam]}   # compared
    nuisance: {lr: range_test}       # tuned per scientific value: a list, a distribution
                                     #   ({log_uniform: [1e-4, 1e-1]}, random search) or range_test
    fixed: {batch_size: 64, hidden: [64, 32]}          # held constant (a caveat of the report)
    data_options: {limit: 1000}      # loader options of every problem
    seeds: 3                         # or a list: [0, 1, 2]
    budget: {max_epochs: 10}         # any of max_epochs, max_steps, max_time (seconds)
    target: {metric: val_acc, value: 0.95}          # optional: time to target
    search: grid                     # or {random: 8, seed: 0}
    quick: {seeds: 1, budget: {max_epochs: 1}}      # overrides for `zoo bench --quick` (CI)

A problem may also be a mapping ``{model, data, tag, data_options, params}``;
its ``params`` are fixed settings of that problem only.

Axis names are the keyword arguments of :func:`zoo.training.train` (builder,
optimizer, task and loop fields, and ``batch_size``), so a cell passes straight
through. Every value is checked against the zoo's own dataclasses and tables
before anything runs; a mistake is a :class:`StudyError` ``file: key.path:
message (allowed: ...)``.

Random search samples ``random`` points of the nuisance space for each problem
and scientific value (so every compared value gets the same tuning budget);
a study without nuisance axes samples ``random`` points of the scientific space
per problem. Each point runs with every seed.

A cell's id is the first 16 hex digits of the sha256 of the canonical JSON
(sorted keys, normalized numbers, lists for tuples) of ``{problem, seed,
params}``: the same configuration has the same id whatever the key order or
number spelling (``1e-3`` / ``0.001``) in the file.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import math
import numbers
import re
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from zoo.errors import ConfigError, ZooError

# ----------------------------------------------------------------------------- errors


class StudyError(ConfigError):
    """A mistake in a study file: ``file: key.path: message``."""

    def __init__(self, source: str, path: str, message: str, allowed: Sequence[Any] | None = None):
        if allowed is not None:
            message = f"{message.rstrip('.')} (allowed: {', '.join(map(str, allowed))})."
        text = f"{source}: {path}: {message}" if path else f"{source}: {message}"
        self.source, self.path = source, path
        super().__init__(text)


# ----------------------------------------------------------------------------- YAML


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads ``1e-3`` as a float (YAML 1.1 wants ``1.0e-3``) and rejects duplicate keys."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, typing.Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        if isinstance(key, typing.Hashable):
            seen[key] = True
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def read_yaml(path: Path) -> Any:
    """The parsed file; a syntax error, a duplicate key or an unreadable file is a :class:`StudyError`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise StudyError(str(path), "", f"cannot read the study file ({e.__class__.__name__}: {e}).") from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as e:
        where = ""
        mark = getattr(e, "problem_mark", None)
        if mark is not None:
            where = f"line {mark.line + 1}, column {mark.column + 1}: "
        problem = getattr(e, "problem", None) or str(e)
        raise StudyError(str(path), "", f"{where}not valid YAML ({' '.join(str(problem).split())}).") from None


# ----------------------------------------------------------------------------- canonical JSON


def normalize(value: Any) -> Any:
    """JSON-ready copy: tuples -> lists, numpy scalars -> Python, -0.0 -> 0.0, mapping keys -> str."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        return 0.0 if v == 0 else v
    if isinstance(value, Mapping):
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    raise TypeError(f"{value!r} cannot be part of a cell")


def canonical(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, normalized numbers (floats by shortest repr)."""
    return json.dumps(normalize(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def cell_id(problem: str, seed: int, params: Mapping[str, Any]) -> str:
    """First 16 hex digits of sha256 of the canonical ``{problem, seed, params}``."""
    return hashlib.sha256(canonical({"problem": problem, "seed": seed, "params": params}).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- the model of a study

TOP_KEYS: dict[str, str] = {
    "name": "the study's name (folder under runs/)",
    "description": "what the study asks",
    "problems": "list of <model>-<dataset>[-<tag>] or {model, data, tag, data_options, params}",
    "scientific": "axes compared: {name: [values]}",
    "nuisance": "axes tuned per scientific value: {name: [values] | {log_uniform: [lo, hi]} | range_test}",
    "fixed": "settings held constant: {name: value}",
    "data_options": "loader options of every problem: {option: value}",
    "seeds": "a count or a list of seeds",
    "budget": "max_epochs, max_steps and/or max_time (seconds)",
    "target": "{metric: val_..., value: number, mode: min|max}",
    "search": "grid or {random: N, seed: S}",
    "quick": "overrides for --quick (same keys)",
}
PROBLEM_KEYS = ("model", "data", "tag", "data_options", "params")
BUDGET_KEYS = ("max_epochs", "max_steps", "max_time")
TARGET_KEYS = ("metric", "value", "mode")
SEARCH_KINDS = ("grid", "random")
DISTRIBUTIONS = ("log_uniform", "uniform", "int_uniform")
TUNERS = ("range_test",)
ROLES = ("scientific", "nuisance", "fixed")
# Keyword arguments of zoo.training.train that the runner owns.
RESERVED: dict[str, str] = {
    "seed": "seeds are listed under the top-level 'seeds' key",
    "data_options": "loader options go under 'data_options'",
    "data": "the dataset is part of the problem (<model>-<dataset>)",
    "model": "the model is part of the problem (<model>-<dataset>)",
    "task": "the task kind follows from the dataset",
    "out_dir": "the runner writes each cell to runs/<study>/<cell_id>/",
    "logger": "the runner writes metrics.csv itself",
    "progress": "zoo bench shows its own progress",
    "threads": "use zoo bench --workers/--threads",
    "save": "benchmark cells keep no checkpoint",
}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Problem:
    """One (model, dataset) pair of a study, with its own loader options and fixed settings."""

    id: str
    model: str
    data: str
    kind: str
    """Task kind of the dataset (binary, multiclass, regression, ...)."""
    data_options: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return normalize(
            {"id": self.id, "model": self.model, "data": self.data, "kind": self.kind,
             "data_options": self.data_options, "params": self.params}
        )


@dataclass(frozen=True)
class Axis:
    """A study axis: scientific or nuisance values, a nuisance distribution or tuner, or a fixed value."""

    name: str
    role: str
    values: tuple[Any, ...] = ()
    distribution: dict[str, Any] | None = None
    """{"log_uniform": [lo, hi]} etc. (random search only)."""
    tuner: dict[str, Any] | None = None
    """{"range_test": {...RangeTestConfig fields}}: the value is chosen per cell by the runner."""

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"role": self.role, "values": normalize(list(self.values))}
        if self.distribution is not None:
            d["distribution"] = normalize(self.distribution)
        if self.tuner is not None:
            d["tuner"] = normalize(self.tuner)
        return d


@dataclass(frozen=True)
class Cell:
    """One configuration of a study: frozen; ``params`` are the kwargs of :func:`zoo.training.train`."""

    study: str
    problem: str
    model: str
    data: str
    seed: int
    params_json: str
    """Canonical JSON of the params (kept as text so the cell is immutable and hashable)."""
    scientific_json: str = "{}"
    nuisance_json: str = "{}"
    fixed_json: str = "{}"
    target_json: str = "null"

    @property
    def params(self) -> dict[str, Any]:
        return json.loads(self.params_json)

    @property
    def scientific(self) -> dict[str, Any]:
        return json.loads(self.scientific_json)

    @property
    def nuisance(self) -> dict[str, Any]:
        return json.loads(self.nuisance_json)

    @property
    def fixed(self) -> dict[str, Any]:
        return json.loads(self.fixed_json)

    @property
    def target(self) -> dict[str, Any] | None:
        return json.loads(self.target_json)

    @property
    def cell_id(self) -> str:
        return cell_id(self.problem, self.seed, self.params)

    def to_json(self) -> dict[str, Any]:
        """The content of ``cell.json``."""
        return {
            "cell_id": self.cell_id,
            "study": self.study,
            "problem": self.problem,
            "model": self.model,
            "data": self.data,
            "seed": self.seed,
            "params": self.params,
            "scientific": self.scientific,
            "nuisance": self.nuisance,
            "fixed": self.fixed,
            "target": self.target,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Cell:
        return cls(
            study=d["study"], problem=d["problem"], model=d["model"], data=d["data"], seed=int(d["seed"]),
            params_json=canonical(d["params"]), scientific_json=canonical(d.get("scientific", {})),
            nuisance_json=canonical(d.get("nuisance", {})), fixed_json=canonical(d.get("fixed", {})),
            target_json=canonical(d.get("target")),
        )

    def label(self) -> str:
        """Short human label: problem, seed and the axis values."""
        axes = {**self.scientific, **self.nuisance}
        text = " ".join(f"{k}={_short(v)}" for k, v in axes.items())
        return f"{self.problem} seed={self.seed}" + (f" {text}" if text else "")


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "[" + ",".join(_short(x) for x in v) + "]"
    return str(v)


@dataclass(frozen=True)
class Study:
    """A checked study: expand it with :meth:`cells`."""

    name: str
    source: str
    problems: tuple[Problem, ...]
    axes: tuple[Axis, ...]
    seeds: tuple[int, ...]
    budget: dict[str, Any]
    search: dict[str, Any]
    data_options: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] | None = None
    description: str = ""
    quick: bool = False
    dropped: tuple[str, ...] = ()
    """Problems left out because their model or dataset is not registered (``allow_missing``)."""

    def role(self, role: str) -> list[Axis]:
        return [a for a in self.axes if a.role == role]

    def to_json(self) -> dict[str, Any]:
        """The resolved study, as written to ``runs/<study>/study.json``."""
        return normalize(
            {
                "name": self.name,
                "description": self.description,
                "source": self.source,
                "quick": self.quick,
                "problems": [p.to_json() for p in self.problems],
                "axes": {a.name: a.to_json() for a in self.axes},
                "scientific": [a.name for a in self.role("scientific")],
                "nuisance": [a.name for a in self.role("nuisance")],
                "fixed": {a.name: a.values[0] for a in self.role("fixed")},
                "data_options": self.data_options,
                "seeds": list(self.seeds),
                "budget": self.budget,
                "search": self.search,
                "target": self.target,
            }
        )

    def identity(self) -> str:
        """What must match for two runs to share a store: everything but the description and source path."""
        d = self.to_json()
        for k in ("description", "source"):
            d.pop(k)
        return canonical(d)

    def cells(self) -> list[Cell]:
        """Every cell, seeds outermost (a partial run covers each configuration with the first seed)."""
        out: list[Cell] = []
        sci = self.role("scientific")
        nui = self.role("nuisance")
        fixed = {a.name: a.values[0] for a in self.role("fixed")}
        target_json = canonical(self.target)
        for problem in self.problems:
            points = list(self._points(problem, sci, nui))
            for seed in self.seeds:
                for s_vals, n_vals in points:
                    params = {**fixed, **problem.params, **self.budget, **s_vals, **n_vals}
                    opts = {**self.data_options, **problem.data_options}
                    if opts:
                        params["data_options"] = opts
                    nuisance_shown = {
                        a.name: ("range_test" if a.tuner else n_vals[a.name]) for a in nui
                    }
                    out.append(
                        Cell(
                            study=self.name, problem=problem.id, model=problem.model, data=problem.data, seed=seed,
                            params_json=canonical(params), scientific_json=canonical(s_vals),
                            nuisance_json=canonical(nuisance_shown),
                            fixed_json=canonical({**fixed, **problem.params, **self.budget}),
                            target_json=target_json,
                        )
                    )
        return out

    def _points(self, problem: Problem, sci: list[Axis], nui: list[Axis]) -> Iterator[tuple[dict, dict]]:
        """(scientific values, nuisance values) of each configuration of ``problem``."""
        sci_grid = [dict(zip([a.name for a in sci], combo)) for combo in itertools.product(*(a.values for a in sci))]
        if self.search["kind"] == "grid":
            nui_grid = [
                dict(zip([a.name for a in nui], combo))
                for combo in itertools.product(*(a.values if not a.tuner else (a.tuner,) for a in nui))
            ]
            for s in sci_grid:
                for n in nui_grid:
                    yield s, n
            return
        trials, seed = self.search["random"], self.search["seed"]
        if nui:
            for s in sci_grid:
                for n in _sample(nui, trials, (seed, problem.id, canonical(s))):
                    yield s, n
        else:
            for s in _sample(sci, trials, (seed, problem.id)):
                yield s, {}


def _sample(axes: list[Axis], trials: int, key: tuple) -> list[dict[str, Any]]:
    """``trials`` distinct points of ``axes`` (grid points without replacement when the grid is small).

    The generator is seeded by ``key`` (search seed, problem, scientific value), so adding a
    scientific value or a problem leaves the points of the others unchanged.
    """
    import numpy as np

    digest = hashlib.sha256(canonical(list(key)).encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    discrete = all(a.distribution is None for a in axes)
    if discrete:
        grid = list(itertools.product(*(a.values if not a.tuner else (a.tuner,) for a in axes)))
        order = rng.permutation(len(grid))[: min(trials, len(grid))]
        return [dict(zip([a.name for a in axes], grid[i])) for i in sorted(order)]
    points: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(trials * 50):
        if len(points) == trials:
            break
        p = {a.name: _draw(a, rng) for a in axes}
        c = canonical(p)
        if c not in seen:
            seen.add(c)
            points.append(p)
    return points


def _draw(axis: Axis, rng: Any) -> Any:
    if axis.tuner is not None:
        return axis.tuner
    if axis.distribution is None:
        return axis.values[int(rng.integers(len(axis.values)))]
    (kind, (lo, hi)), = axis.distribution.items()
    if kind == "int_uniform":
        return int(rng.integers(lo, hi + 1))
    if kind == "log_uniform":
        v = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    else:
        v = float(rng.uniform(lo, hi))
    return float(f"{v:.4g}")  # 4 significant digits: readable, and stable ids


# ----------------------------------------------------------------------------- parameter tables


@dataclass
class _Params:
    """What a problem's cells may set: names -> (type, owner) and the owners' config classes."""

    types: dict[str, Any]
    owner: dict[str, str]
    model: str
    kind: str


def _param_table(model: str, kind: str) -> _Params:
    from zoo import registry
    from zoo.engine import LoopConfig
    from zoo.optim import OptimConfig
    from zoo.tasks import TASKS, task_params

    entry = registry.get(model)
    types_: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for cls, who in ((entry.config, "model"), (OptimConfig, "optim"), (LoopConfig, "loop")):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if not f.name.startswith("_"):
                types_[f.name], owner[f.name] = hints.get(f.name, Any), who
    hints = typing.get_type_hints(TASKS[kind].__init__)
    for name in sorted(task_params(kind) - {"binary"}):
        types_[name], owner[name] = hints.get(name, Any), "task"
    types_["batch_size"], owner["batch_size"] = int, "train"
    for name in RESERVED:
        types_.pop(name, None)
        owner.pop(name, None)
    return _Params(types_, owner, model, kind)


class _Mismatch(Exception):
    pass


def _describe(tp: Any) -> str:
    base, optional = _unwrap_optional(tp)
    origin = typing.get_origin(base)
    if origin in (tuple, list):
        args = [a for a in typing.get_args(base) if a is not Ellipsis]
        plural = {int: "integers", float: "numbers", bool: "booleans", str: "strings"}
        text = f"a list of {plural.get(args[0], 'values') if args else 'values'}"
    elif origin is typing.Literal:
        text = "one of " + ", ".join(map(repr, typing.get_args(base)))
    else:
        text = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(base, "a value")
    return text + (" or null" if optional else "")


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        if len(args) == 1:
            return args[0], optional
        return typing.Union[tuple(args)], optional  # type: ignore[return-value]
    return tp, False


def coerce(value: Any, tp: Any) -> Any:
    """``value`` as type ``tp`` (normalized: ints for int fields, floats for float fields, lists for
    tuples); raises :class:`_Mismatch` when it does not fit."""
    base, optional = _unwrap_optional(tp)
    if value is None:
        if optional or base is Any:
            return None
        raise _Mismatch
    origin = typing.get_origin(base)
    if base is Any or base is object:
        try:
            return normalize(value)
        except TypeError:  # a YAML date, bytes, ...: not a setting's value
            raise _Mismatch from None
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(base):
            try:
                return coerce(value, arg)
            except _Mismatch:
                continue
        raise _Mismatch
    if origin is typing.Literal:
        if value in typing.get_args(base) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if origin in (tuple, list) or base in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        args = [a for a in typing.get_args(base) if a is not Ellipsis]
        if origin is tuple and len(args) > 1 and Ellipsis not in typing.get_args(base):
            if len(value) != len(args):
                raise _Mismatch
            return [coerce(v, a) for v, a in zip(value, args)]
        item = args[0] if args else Any
        return [coerce(v, item) for v in value]
    if origin in (dict, Mapping) or base in (dict,):
        if not isinstance(value, Mapping):
            raise _Mismatch
        try:
            return normalize(value)
        except TypeError:
            raise _Mismatch from None
    if base is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if isinstance(value, bool):
        raise _Mismatch
    if base is int:
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _Mismatch
    if base is float:
        if isinstance(value, numbers.Real) and math.isfinite(float(value)):
            return 0.0 if value == 0 else float(value)
        raise _Mismatch
    if base is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    if isinstance(value, (str, numbers.Real, list, dict)):
        try:
            return normalize(value)
        except TypeError:
            raise _Mismatch from None
    raise _Mismatch


# ----------------------------------------------------------------------------- checking


class _Checker:
    """Validates a raw study mapping; every error carries the file and key path."""

    def __init__(self, source: str, quick_overrides: Mapping[str, Any] | None = None):
        self.source = source
        self.quick = quick_overrides

    def fail(self, path: str, message: str, allowed: Sequence[Any] | None = None) -> typing.NoReturn:
        raise StudyError(self.source, self._origin(path), message, allowed)

    def _origin(self, path: str) -> str:
        """Prefix ``quick.`` when the value at ``path`` came from the quick overrides."""
        if not self.quick or not path:
            return path
        node: Any = self.quick
        for part in re.split(r"\.|\[", path):
            part = part.rstrip("]")
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit():
                return "quick." + path
            else:
                return path
        return "quick." + path

    def mapping(self, value: Any, path: str, allowed: Sequence[str] | None = None) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(path, f"must be a mapping of key: value, got {_kind(value)}.")
        for k in value:
            if not isinstance(k, str):
                self.fail(path, f"keys must be strings, got {k!r}.")
            if allowed is not None and k not in allowed:
                self.fail(_join(path, k), "unknown key.", list(allowed))
        return dict(value)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}" if not isinstance(value, (dict, list)) else type(value).__name__


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) and k not in ("scientific", "nuisance"):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_study(
    raw: Any, source: str = "<study>", *, quick: bool = False, default_name: str | None = None, allow_missing: bool = False
) -> Study:
    """Check a study mapping (as read from YAML) and resolve it.

    ``quick`` applies the ``quick:`` overrides and names the study ``<name>-quick``.
    ``allow_missing`` drops problems whose model or dataset is not registered
    (listed in :attr:`Study.dropped`) instead of failing.
    """
    chk = _Checker(source)
    raw = chk.mapping(raw, "", list(TOP_KEYS))
    quick_over = raw.pop("quick", None)
    if quick_over is not None:
        quick_over = chk.mapping(quick_over, "quick", [k for k in TOP_KEYS if k not in ("name", "quick")])
    if quick:
        if quick_over is None:
            raise StudyError(source, "quick", "this study has no quick form; add a 'quick:' mapping of overrides.")
        raw = _deep_merge(raw, quick_over)
        chk = _Checker(source, quick_over)

    name = raw.get("name", default_name)
    if not isinstance(name, str) or not NAME_RE.match(name):
        chk.fail("name", f"must be a folder-safe name (letters, digits, _ . -), got {name!r}.")
    if quick:
        name = f"{name}-quick"
    description = raw.get("description", "")
    if not isinstance(description, str):
        chk.fail("description", f"must be text, got {_kind(description)}.")

    # --- problems
    problems_raw = raw.get("problems")
    if not isinstance(problems_raw, list) or not problems_raw:
        chk.fail("problems", "must be a non-empty list of <model>-<dataset> names or {model, data} mappings.")
    common_opts = chk.mapping(raw.get("data_options", {}) or {}, "data_options")
    problems: list[Problem] = []
    dropped: list[str] = []
    for i, p in enumerate(problems_raw):
        prob = _parse_problem(chk, p, f"problems[{i}]", common_opts, allow_missing)
        if prob is None:
            dropped.append(p if isinstance(p, str) else f"{p.get('model')}-{p.get('data')}")
            continue
        if any(q.id == prob.id for q in problems):
            chk.fail(f"problems[{i}]", f"problem {prob.id!r} is listed twice; give one a tag (<model>-<dataset>-<tag>).")
        problems.append(prob)
    if not problems:
        chk.fail("problems", f"none of the problems is available here (not registered: {', '.join(dropped)}).")
    tables = {p.id: _param_table(p.model, p.kind) for p in problems}

    # --- axes
    axes: list[Axis] = []
    seen_role: dict[str, str] = {}
    for role in ROLES:
        section = chk.mapping(raw.get(role, {}) or {}, role)
        for key, value in section.items():
            path = f"{role}.{key}"
            if key in seen_role:
                chk.fail(path, f"{key!r} is already a {seen_role[key]} setting; a setting has one role.")
            _check_name(chk, path, key, problems, tables)
            seen_role[key] = role
            axes.append(_parse_axis(chk, path, key, role, value, problems, tables))

    # --- budget
    budget = chk.mapping(raw.get("budget"), "budget", BUDGET_KEYS) if "budget" in raw else None
    if not budget:
        chk.fail("budget", "a study needs a budget: max_epochs, max_steps and/or max_time (seconds).", BUDGET_KEYS)
    for key, value in budget.items():
        if key in seen_role:
            chk.fail(f"budget.{key}", f"{key!r} is already a {seen_role[key]} setting; a setting has one role.")
        budget[key] = _value(chk, f"budget.{key}", key, value, problems, tables)
    for p in problems:
        for key, value in p.params.items():
            if key in seen_role and seen_role[key] != "fixed":
                chk.fail(f"problems.{p.id}.params.{key}", f"{key!r} is a {seen_role[key]} axis of the study; it cannot be fixed per problem.")
            if key in budget:
                chk.fail(f"problems.{p.id}.params.{key}", f"{key!r} is part of the budget; it cannot be set per problem.")

    # --- seeds
    seeds_raw = raw.get("seeds", 1)
    if isinstance(seeds_raw, bool) or not isinstance(seeds_raw, (int, list)):
        chk.fail("seeds", f"must be a count (3) or a list of seeds ([0, 1, 2]), got {_kind(seeds_raw)}.")
    if isinstance(seeds_raw, int):
        if seeds_raw < 1:
            chk.fail("seeds", f"the count must be at least 1, got {seeds_raw}.")
        seeds = tuple(range(seeds_raw))
    else:
        if not seeds_raw:
            chk.fail("seeds", "the list of seeds is empty.")
        for j, s in enumerate(seeds_raw):
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                chk.fail(f"seeds[{j}]", f"a seed is an integer >= 0, got {_kind(s)}.")
        if len(set(seeds_raw)) != len(seeds_raw):
            chk.fail("seeds", f"lists a seed twice: {seeds_raw}.")
        seeds = tuple(seeds_raw)

    # --- search
    search = _parse_search(chk, raw.get("search", "grid"), axes)
    # --- target
    target = _parse_target(chk, raw.get("target"))

    study = Study(
        name=name, source=source, problems=tuple(problems), axes=tuple(axes), seeds=seeds, budget=budget,
        search=search, data_options=common_opts, target=target, description=description, quick=quick,
        dropped=tuple(dropped),
    )
    _check_cells(chk, study, tables)
    return study


def _parse_problem(
    chk: _Checker, p: Any, path: str, common_opts: Mapping[str, Any], allow_missing: bool
) -> Problem | None:
    from zoo import registry
    from zoo.data import get_dataset
    from zoo.errors import UnknownNameError

    tag = None
    if isinstance(p, str):
        parts = p.split("-")
        if len(parts) < 2 or not all(parts):
            chk.fail(path, f"a problem is <model>-<dataset>[-<tag>], e.g. mlp-digits; got {p!r}.")
        model, data, tag = parts[0], parts[1], "-".join(parts[2:]) or None
        opts, params = {}, {}
    else:
        d = chk.mapping(p, path, PROBLEM_KEYS)
        for k in ("model", "data"):
            if not isinstance(d.get(k), str) or not d.get(k):
                chk.fail(_join(path, k), "is required (a name).")
        model, data = d["model"], d["data"]
        tag = d.get("tag")
        if tag is not None and (not isinstance(tag, (str, int)) or not NAME_RE.match(str(tag))):
            chk.fail(_join(path, "tag"), f"must be a short name (letters, digits, _ . -), got {tag!r}.")
        opts = chk.mapping(d.get("data_options", {}) or {}, _join(path, "data_options"))
        params = chk.mapping(d.get("params", {}) or {}, _join(path, "params"))
    try:
        entry = registry.get(model)
    except UnknownNameError as e:
        if allow_missing:
            return None
        chk.fail(path, str(e))
    try:
        ds = get_dataset(data)
    except UnknownNameError as e:
        if allow_missing:
            return None
        chk.fail(path, str(e))
    if ds.kind not in entry.tasks:
        chk.fail(path, f"model {model!r} trains for {', '.join(entry.tasks)}; dataset {data!r} is {ds.kind}.")
    from zoo.tasks import TASKS

    if ds.kind not in TASKS:
        chk.fail(path, f"dataset {data!r} needs a {ds.kind} task, which this version of zoo does not have.", sorted(TASKS))
    pid = f"{model}-{data}" + (f"-{tag}" if tag else "")
    merged_opts = {**common_opts, **opts}
    checked_opts = {}
    options = ds.options
    hints = typing.get_type_hints(ds.loader)
    allowed_opts = sorted((set(options) - {"batch_size", "seed"}) | {"split_seed"})
    for k, v in merged_opts.items():
        opath = _join(path, "data_options") + f".{k}" if k in opts else f"data_options.{k}"
        if k not in allowed_opts:
            chk.fail(opath, f"not an option of dataset {data!r}.", allowed_opts)
        tp = int if k == "split_seed" else hints.get(k, Any)
        try:
            checked_opts[k] = coerce(v, tp)
        except _Mismatch:
            chk.fail(opath, f"must be {_describe(tp)}, got {_kind(v)}.")
        if k in ("limit", "eval_batch_size", "split_seed") and checked_opts[k] is not None:
            lo = 0 if k == "split_seed" else 1
            if checked_opts[k] < lo:
                chk.fail(opath, f"must be >= {lo}, got {checked_opts[k]}.")
    prob = Problem(pid, model, data, ds.kind, {k: v for k, v in checked_opts.items() if k in opts}, {})
    table = _param_table(model, ds.kind)
    checked_params = {}
    for k, v in params.items():
        ppath = _join(path, "params") + f".{k}"
        _check_name(chk, ppath, k, [prob], {pid: table})
        checked_params[k] = _value(chk, ppath, k, v, [prob], {pid: table})
    return Problem(pid, model, data, ds.kind, {k: v for k, v in checked_opts.items() if k in opts}, checked_params)


def _check_name(chk: _Checker, path: str, key: str, problems: Sequence[Problem], tables: Mapping[str, _Params]) -> None:
    if key in RESERVED:
        chk.fail(path, f"{key!r} cannot be set here: {RESERVED[key]}.")
    for p in problems:
        t = tables[p.id]
        if key not in t.types:
            raise StudyError(
                chk.source, chk._origin(path),
                f"{key!r} is not a setting of model {p.model!r} on {p.data!r} (problem {p.id})",
                sorted(t.types),
            )


def _value(chk: _Checker, path: str, key: str, value: Any, problems: Sequence[Problem], tables: Mapping[str, _Params]) -> Any:
    """``value`` coerced to the setting's type and checked by the owning config, for every problem."""
    out = value
    for p in problems:
        t = tables[p.id]
        tp = t.types[key]
        try:
            out = coerce(value, tp)
        except _Mismatch:
            hint = " (YAML reads yes/no/on/off as booleans: quote the word)" if isinstance(value, bool) else ""
            chk.fail(path, f"{key} must be {_describe(tp)}, got {_kind(value)}{hint}.")
        msg = _config_error({key: out}, t)
        if msg:
            chk.fail(path, msg)
    return out


def _config_error(params: Mapping[str, Any], t: _Params) -> str | None:
    """The message of the zoo's own check of ``params`` (constructing the configs), or None."""
    from torch import nn

    from zoo import registry
    from zoo.engine import LoopConfig
    from zoo.optim import OptimConfig
    from zoo.tasks import make_task

    groups: dict[str, dict[str, Any]] = {"model": {}, "optim": {}, "loop": {}, "task": {}, "train": {}}
    for k, v in params.items():
        if isinstance(v, Mapping) and t.owner[k] == "optim" and "range_test" in v:
            continue  # chosen by the runner
        groups[t.owner[k]][k] = tuple(v) if isinstance(v, list) else v
    try:
        if groups["model"]:
            registry.get(t.model).config(**groups["model"])
        optim = OptimConfig(**groups["optim"])
        LoopConfig(**groups["loop"])
        if groups["task"]:
            make_task(t.kind, nn.Identity(), optim, groups["task"])
        bs = groups["train"].get("batch_size")
        if bs is not None and bs < 1:
            return f"batch_size must be an integer > 0, got {bs!r}."
    except ZooError as e:
        return str(e)
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        return f"{e.__class__.__name__}: {e}"
    return None


def _parse_axis(
    chk: _Checker, path: str, key: str, role: str, value: Any, problems: Sequence[Problem], tables: Mapping[str, _Params]
) -> Axis:
    if role == "fixed":
        return Axis(key, role, (_value(chk, path, key, value, problems, tables),))
    if role == "nuisance":
        tuner = _parse_tuner(chk, path, key, value)
        if tuner is not None:
            return Axis(key, role, (), tuner=tuner)
        if isinstance(value, Mapping):
            d = chk.mapping(value, path, list(DISTRIBUTIONS) + list(TUNERS))
            if len(d) != 1:
                chk.fail(path, "give one distribution, e.g. {log_uniform: [1e-4, 1e-1]}.", DISTRIBUTIONS)
            (kind, bounds), = d.items()
            if kind in TUNERS:
                chk.fail(path, f"the {kind} tuner applies to lr only.")
            want = int if kind == "int_uniform" else float
            for p in problems:
                if _unwrap_optional(tables[p.id].types[key])[0] is not want:
                    other = "int_uniform" if want is float else "log_uniform or uniform"
                    chk.fail(path, f"{kind} draws {'integers' if want is int else 'numbers'}, but {key!r} is "
                             f"{_describe(tables[p.id].types[key])}; use {other} or a list of values.")
            if not isinstance(bounds, list) or len(bounds) != 2:
                chk.fail(f"{path}.{kind}", f"must be [low, high], got {_kind(bounds)}.")
            lo = _value(chk, f"{path}.{kind}[0]", key, bounds[0], problems, tables)
            hi = _value(chk, f"{path}.{kind}[1]", key, bounds[1], problems, tables)
            if isinstance(lo, bool) or not isinstance(lo, (int, float)) or not isinstance(hi, (int, float)):
                chk.fail(f"{path}.{kind}", f"a distribution needs numeric bounds, got {bounds!r}.")
            if kind == "int_uniform" and not (isinstance(lo, int) and isinstance(hi, int)):
                chk.fail(f"{path}.{kind}", f"int_uniform needs integer bounds, got {bounds!r}.")
            if not lo < hi:
                chk.fail(f"{path}.{kind}", f"needs low < high, got {bounds!r}.")
            if kind == "log_uniform" and lo <= 0:
                chk.fail(f"{path}.{kind}", f"log_uniform needs low > 0, got {lo!r}.")
            return Axis(key, role, (), distribution={kind: [lo, hi]})
    if not isinstance(value, list) or not value:
        chk.fail(path, f"a {role} axis is a non-empty list of values, got {_kind(value)}.")
    values = tuple(_value(chk, _join(path, i), key, v, problems, tables) for i, v in enumerate(value))
    canon = [canonical(v) for v in values]
    for i, c in enumerate(canon):
        if c in canon[:i]:
            chk.fail(_join(path, i), f"the value {values[i]!r} is listed twice.")
    return Axis(key, role, values)


def _parse_tuner(chk: _Checker, path: str, key: str, value: Any) -> dict[str, Any] | None:
    from zoo.bench.lrfinder import RangeTestConfig

    if value == "range_test":
        options: Any = {}
    elif isinstance(value, Mapping) and "range_test" in value:
        if len(value) != 1:
            chk.fail(path, "range_test takes its options as {range_test: {steps: 300}}.")
        options = value["range_test"] or {}
    elif isinstance(value, str):
        chk.fail(path, f"a nuisance axis is a list of values, a distribution or a tuner, got {value!r}.", TUNERS)
    else:
        return None
    if key != "lr":
        chk.fail(path, f"the range_test tuner chooses lr, not {key!r}.")
    allowed = [f.name for f in dataclasses.fields(RangeTestConfig)]
    options = chk.mapping(options, f"{path}.range_test", allowed)
    hints = typing.get_type_hints(RangeTestConfig)
    for k, v in options.items():
        try:
            options[k] = coerce(v, hints[k])
        except _Mismatch:
            chk.fail(f"{path}.range_test.{k}", f"must be {_describe(hints[k])}, got {_kind(v)}.")
    try:
        cfg = RangeTestConfig(**options)
    except ZooError as e:
        chk.fail(f"{path}.range_test", str(e))
    return {"range_test": dataclasses.asdict(cfg)}


def _parse_search(chk: _Checker, value: Any, axes: Sequence[Axis]) -> dict[str, Any]:
    if value == "grid" or value is None:
        search = {"kind": "grid"}
    elif isinstance(value, str):
        chk.fail("search", f"unknown search {value!r}.", ["grid", "{random: N, seed: S}"])
    else:
        d = chk.mapping(value, "search", ["random", "seed"])
        n = d.get("random")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            chk.fail("search.random", f"the number of sampled configurations must be an integer >= 1, got {_kind(n)}.")
        seed = d.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            chk.fail("search.seed", f"must be an integer >= 0, got {_kind(seed)}.")
        search = {"kind": "random", "random": n, "seed": seed}
    if search["kind"] == "grid":
        for a in axes:
            if a.distribution is not None:
                chk.fail(f"nuisance.{a.name}", "a distribution needs random search (search: {random: N, seed: S}); "
                         "grid search takes a list of values.")
    return search


def _parse_target(chk: _Checker, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    d = chk.mapping(value, "target", TARGET_KEYS)
    metric = d.get("metric")
    if not isinstance(metric, str) or not re.match(r"^(val_\w+|train_loss)$", metric):
        chk.fail("target.metric", f"must be a per-epoch metric such as val_acc, val_loss or train_loss, got {metric!r}.")
    v = d.get("value")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        chk.fail("target.value", f"must be a number, got {_kind(v)}.")
    lower = metric.endswith(("loss", "rmse", "mae", "perplexity", "ppl", "bpc", "bits_per_char"))
    mode = d.get("mode", "min" if lower else "max")
    if mode not in ("min", "max"):
        chk.fail("target.mode", f"unknown mode {mode!r}.", ["min", "max"])
    return {"metric": metric, "value": float(v), "mode": mode}


def _check_cells(chk: _Checker, study: Study, tables: Mapping[str, _Params]) -> None:
    """Check each whole configuration (combinations the per-value checks cannot see), seed excluded."""
    seen: set[tuple[str, str]] = set()
    for cell in study.cells():
        key = (cell.problem, canonical({k: v for k, v in cell.params.items() if k != "data_options"}))
        if key in seen:
            continue
        seen.add(key)
        params = {k: v for k, v in cell.params.items() if k != "data_options"}
        msg = _config_error(params, tables[cell.problem])
        if msg:
            axes = {**cell.scientific, **cell.nuisance}
            where = f"problem {cell.problem}" + (f" with {canonical(axes)}" if axes else "")
            chk.fail("", f"{where}: {msg}")


# ----------------------------------------------------------------------------- files


def benchmarks_dir() -> Path:
    """The shipped studies: the installed ``zoo._benchmarks`` package, else the checkout's ``benchmarks/``."""
    import importlib.resources

    try:
        root = Path(str(importlib.resources.files("zoo._benchmarks")))
        if root.is_dir():
            return root
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[2] / "benchmarks"


def list_studies() -> list[str]:
    d = benchmarks_dir()
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def find_study(name_or_path: str | Path) -> Path:
    """A study file: a path, or the name of a shipped study (``smoke`` -> benchmarks/smoke.yaml)."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    if p.suffix in (".yaml", ".yml") or "/" in str(name_or_path):
        raise StudyError(str(name_or_path), "", "no such study file.", list_studies() or None)
    shipped = benchmarks_dir() / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    from zoo.errors import UnknownNameError

    raise UnknownNameError("study", str(name_or_path), list_studies())


def load_study(name_or_path: str | Path, *, quick: bool = False, allow_missing: bool = False) -> Study:
    """Read, check and resolve a study file (or a shipped study by name)."""
    path = find_study(name_or_path)
    raw = read_yaml(path)
    return parse_study(raw, str(path), quick=quick, default_name=path.stem, allow_missing=allow_missing)


def study_name(name_or_path: str | Path, *, quick: bool = False) -> str:
    """The study's folder name under runs/, read without checking the rest of the file."""
    path = find_study(name_or_path)
    raw = read_yaml(path)
    name = raw.get("name", path.stem) if isinstance(raw, Mapping) else path.stem
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise StudyError(str(path), "name", f"must be a folder-safe name (letters, digits, _ . -), got {name!r}.")
    return f"{name}-quick" if quick else name
