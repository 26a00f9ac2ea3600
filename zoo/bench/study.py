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
    quick: {seeds: 1, budget: {max_epochs: 1}}      # overrides for `zoo bench --quick` (CI); a problem named
                                                    #   there by id is the full form's (options and all)

A problem may also be a mapping ``{model, data, tag, data_options, params}``;
its ``params`` are fixed settings of that problem only.

A scientific axis may compare **named variants**, each a bundle of settings, where one
setting alone cannot say what is compared (Hydra's config groups)::

    scientific:
      embeddings:                      # the axis' name: not a setting, only the variants' label
        random: {}                     # the model's own initialization
        word2vec: {init_embeddings: word2vec_sgns-w2v_combined}
        word2vec_frozen: {init_embeddings: word2vec_sgns-w2v_combined, freeze_embeddings: true}

A cell records the variant's name among its scientific values (the report compares names)
and runs with the variant's settings in its params (so its id changes when they change).

Axis names are the flat settings of :func:`zoo.training.train` (zoo/config.py: model,
task, optimizer and loop fields, and ``batch_size``), so a cell passes straight through.
This module holds the model of a checked study and its expansion into cells
(zoo/bench/cells.py); zoo/bench/parse.py reads and checks the file, zoo/bench/search.py
draws random-search points.

Random search samples ``random`` points of the nuisance space for each problem
and scientific value (so every compared value gets the same tuning budget);
a study without nuisance axes samples ``random`` points of the scientific space
per problem. Each point runs with every seed.

An Optuna search (zoo/bench/optuna_search.py) searches the same spaces, but its trials are
chosen one batch at a time from the results so far: :meth:`Study.cells` lists none of them
(the sweep asks the search for them) and :meth:`Study.cell` makes each.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.bench.cells import Cell, canonical, normalize
from zoo.bench.search import sample
from zoo.bench.yamlfile import FileError
from zoo.errors import UnknownNameError


class StudyError(FileError):
    """A mistake in a study file: ``file: key.path: message``."""


MAX_SEEDS = 1000
"""Seeds of one study (a count beyond it is a typo, and would not fit in memory as cells)."""
MAX_CELLS = 100_000
"""Cells of one study."""


KEEP = ("none", "best", "all")
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
    "search": "grid, {random: N, seed: S} or {sampler: tpe|random|qmc|grid|nsga2, n_trials: N, seed, pruner, objective (or objectives: [METRIC max|min, ...]), seeds_per_trial}",
    "baselines": "studies whose best configuration the report measures this one against, on the problems they share: [name, ...] (their stores beside this one's)",
    "keep": "which cells keep their checkpoint: none (default), all, or best (each problem's best; zoo bench best)",
    "exclude": "combinations not to run: a list of {axis: value or [values]} rules, e.g. [{norm: none, norm_position: after}]",
    "stages": "source stages: {name: {model, data, data_options, params, budget, start_from, transfer}} (zoo/bench/stages.py)",
    "start_from": "the stage (or pretrained id, e.g. mlp-wine) the study's cells start from",
    "thaw": "the frozen_then_thawed arm: {after: epochs head only, top: blocks thawed, lr_scale: their rate / the head's}",
    "quick": "overrides for --quick (same keys)",
}
PROBLEM_KEYS = ("model", "data", "tag", "data_options", "params")
BUDGET_KEYS = ("max_epochs", "max_steps", "max_time")
TARGET_KEYS = ("metric", "value", "mode")
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

    @staticmethod
    def make_id(model: str, data: str, tag: Any = None) -> str:
        """A problem's id: ``<model>-<dataset>[-<tag>]``."""
        return f"{model}-{data}" + (f"-{tag}" if tag else "")

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
    variants: dict[str, dict[str, Any]] | None = None
    """Named variants (a scientific axis only): value name -> the settings it stands for; ``values``
    are the names. The axis' name is then a label, not a setting."""

    def settings(self, value: Any) -> dict[str, Any]:
        """The settings a cell with ``value`` on this axis runs with."""
        return dict(self.variants[value]) if self.variants is not None else {self.name: value}

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"role": self.role, "values": normalize(list(self.values))}
        if self.variants is not None:
            d["variants"] = normalize(self.variants)
        if self.distribution is not None:
            d["distribution"] = normalize(self.distribution)
        if self.tuner is not None:
            d["tuner"] = normalize(self.tuner)
        return d


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
    exclude: tuple[dict[str, tuple[Any, ...]], ...] = ()
    """Rules ``{axis: values}``: a configuration whose every named axis takes one of the rule's values is not run
    (e.g. ``norm_position`` means nothing when ``norm`` is none: ``{norm: [none], norm_position: [after]}``)."""
    stages: Any = None
    """A :class:`zoo.bench.stages.StagePlan`: source stages and what the cells start from (None: none)."""
    keep: str = "none"
    """Which cells keep their checkpoint: none, all, or best (each problem's best by :func:`zoo.bench.best.rank`)."""
    baselines: tuple[str, ...] = ()
    """Studies the report measures this one against (zoo/report/baselines.py): their stores sit beside this one's."""

    def excluded(self, values: dict[str, Any]) -> bool:
        """Whether a configuration's axis values match one of the :attr:`exclude` rules."""
        return any(all(k in values and values[k] in vs for k, vs in rule.items()) for rule in self.exclude)

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
                # Only when set, so that a study without rules keeps the identity of its existing store.
                **({"exclude": [{k: list(v) for k, v in r.items()} for r in self.exclude]} if self.exclude else {}),
                **({"stages": self.stages.to_json()} if self.stages else {}),
                **({"keep": self.keep} if self.keep != "none" else {}),
                **({"baselines": list(self.baselines)} if self.baselines else {}),
            }
        )

    def identity(self) -> str:
        """What must match for two runs to share a store: everything but the description and source path."""
        d = self.to_json()
        for k in ("description", "source", "keep", "baselines"):  # which files stay and what the report compares with: not what is measured
            d.pop(k, None)
        return canonical(d)

    @property
    def adaptive(self) -> bool:
        """An Optuna search: its cells are asked for batch by batch (zoo/bench/optuna_search.py)."""
        return self.search["kind"] == "optuna"

    def size(self) -> int:
        """How many cells :meth:`cells` makes (at most, for random search), without making them."""
        sci = math.prod(len(a.values) for a in self.role("scientific"))
        nui = self.role("nuisance")
        if self.adaptive:
            return len(self.problems) * len(self.seeds) * self.search["n_trials"] * (sci if nui else 1)
        if self.search["kind"] == "grid":
            points = sci * math.prod(len(a.values) if not a.tuner else 1 for a in nui)
        else:
            points = self.search["random"] * (sci if nui else 1)
        bound = len(self.problems) * len(self.seeds) * points
        sources = self.stages.count(len(self.seeds)) if self.stages else 0
        if not self.exclude or bound > MAX_CELLS:
            return bound + sources  # an upper bound: the rules only remove configurations
        nui_axes = self.role("nuisance")
        return sources + len(self.seeds) * sum(sum(1 for _ in self._points(p, self.role("scientific"), nui_axes)) for p in self.problems)

    def cells(self) -> list[Cell]:
        """Every cell, the stages' first, seeds outermost (a partial run covers each configuration with the
        first seed); an Optuna search's trials are not among them: it chooses them as it goes."""
        out: list[Cell] = self.stages.source_cells(self.name, self.seeds) if self.stages else []
        if self.adaptive:
            return out
        sci, nui = self.role("scientific"), self.role("nuisance")
        for problem in self.problems:
            points = list(self._points(problem, sci, nui))
            for seed in self.seeds:
                out += [self.cell(problem, seed, s_vals, n_vals) for s_vals, n_vals in points]
        return out

    def cell(self, problem: Problem, seed: int, s_vals: dict[str, Any], n_vals: dict[str, Any], *,
             trial: int | None = None, search: dict[str, Any] | None = None) -> Cell:
        """The cell of ``problem`` with ``seed`` and these scientific and nuisance values."""
        fixed = {a.name: a.values[0] for a in self.role("fixed")}
        axes = {a.name: a for a in self.axes}
        chosen = {k: v for name, value in s_vals.items()
                  for k, v in (axes[name].settings(value) if name in axes else {name: value}).items()}
        params = {**fixed, **problem.params, **self.budget, **chosen, **n_vals}
        opts = {**self.data_options, **problem.data_options}
        if opts:
            params["data_options"] = opts
        if self.stages:
            params = self.stages.target_params(params, seed)
        nuisance_shown = {a.name: ("range_test" if a.tuner else n_vals[a.name]) for a in self.role("nuisance")}
        return Cell(
            study=self.name, problem=problem.id, model=problem.model, data=problem.data, seed=seed,
            params_json=canonical(params), scientific_json=canonical(s_vals), nuisance_json=canonical(nuisance_shown),
            fixed_json=canonical({**fixed, **problem.params, **self.budget}), target_json=canonical(self.target),
            trial=trial, search_json=canonical(search), keep=self.keep != "none",
        )

    def _points(self, problem: Problem, sci: list[Axis], nui: list[Axis]) -> Iterator[tuple[dict, dict]]:
        """(scientific values, nuisance values) of each configuration of ``problem``."""
        sci_grid = [dict(zip([a.name for a in sci], combo)) for combo in itertools.product(*(a.values for a in sci))]
        if self.search["kind"] == "grid":
            nui_grid = [
                dict(zip([a.name for a in nui], combo))
                for combo in itertools.product(*(a.values if not a.tuner else (a.tuner,) for a in nui))
            ]
            points = ((s, n) for s in sci_grid for n in nui_grid)
        else:
            trials, seed = self.search["random"], self.search["seed"]
            if nui:
                points = ((s, n) for s in sci_grid for n in sample(nui, trials, (seed, problem.id, canonical(s))))
            else:
                points = ((s, {}) for s in sample(sci, trials, (seed, problem.id)))
        for s, n in points:
            if not self.excluded({**s, **n}):
                yield s, n




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
    try:
        if p.is_file():
            return p
    except OSError as e:  # a name too long for the file system, ...
        raise StudyError(str(name_or_path)[:80], "", f"not a study name or file ({e.strerror}).") from None
    if p.suffix in (".yaml", ".yml") or "/" in str(name_or_path):
        raise StudyError(str(name_or_path), "", "no such study file.", list_studies() or None)
    shipped = benchmarks_dir() / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    raise UnknownNameError("study", str(name_or_path), list_studies())
