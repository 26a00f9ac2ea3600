"""Optuna search: trials chosen from the results so far (TPE, random, QMC, grid), poor ones pruned.

A study's ``search`` may be::

    search:
      sampler: tpe              # tpe | random | qmc | grid, or {tpe: {n_startup_trials: 5}}
      n_trials: 30              # per problem and scientific value (as random search)
      seed: 0
      pruner: hyperband         # hyperband | successive_halving | median | none, or {hyperband: {...}}
      objective: val_acc        # a per-epoch validation metric (zoo/metrics.py PER_EPOCH); its direction
                                #   is the catalogue's
      # objectives: [val_acc max, throughput max]   # instead of objective: two or more, each with its
                                #   direction; the default sampler is then nsga2, and no pruner
      seeds_per_trial: 2        # a trial's value is the mean over its seeds, each seed its own cell

The space searched is the study's nuisance axes (one Optuna study per problem and scientific
value), or its scientific axes when it has no nuisance axes (one per problem): a list is a
categorical choice, ``log_uniform``/``uniform``/``int_uniform`` a float or integer range.

**Every trial is cells of the store.** A trial's cells (one per seed) carry its number (part
of their id) and are planned in cells.json before they run. Nothing of a search lives outside
the store: before each batch, the Optuna study is rebuilt in memory from the store's finished
cells, in trial order (``study.add_trial(create_trial(...))``), with a sampler seeded by
(search seed, problem and scientific value, first trial number of the batch), and then asked
for the batch. An uninterrupted sweep and one killed and resumed therefore ask the same
questions of the same history and get the same trials; planned cells that did not finish
run first on resume. With one worker a batch is one trial; with N, N trials are asked at once
(each sees the trials of the batches before it), whatever the executor (local workers or Ray):
resumed with the same number of workers, a search asks for the same trials. A trial whose cells failed counts as a
failed trial (Optuna ignores it); ``--retry-failed`` reruns its cells.

**Pruning.** A trial's cells are judged each epoch by the pruner against the finished trials
its sampler saw (their per-epoch objective, averaged over seeds): the runner
(zoo/bench/runner.py) gets a :class:`Pruning` hook, built from what the cell carries (so it
works in worker processes and on Ray), and a cell it stops is recorded ``pruned`` with its
history and ``search.epochs_saved``. A trial with a pruned cell is a pruned trial. The
successive-halving rungs Optuna keeps in a trial's system attributes are recorded in its
cells' results and restored (their mean over seeds) when the study is rebuilt.

**Several objectives.** ``objectives`` lists two or more ``metric max|min``: per-epoch validation
metrics, or what a cell records at the end of its run (``RECORDED`` of zoo/record.py: ``throughput``,
``train_seconds``, ``num_parameters``, ...). The study gets one direction per objective, a
trial's values are the means over its seeds, and the sampler (``nsga2`` by default; ``tpe``,
``random``, ``qmc`` and ``grid`` also take several) looks for the Pareto front
(zoo/report/pareto.py draws it). A wall-time objective (``throughput``) is measured, not
computed: a resumed search asks the same trials of the same stored values, but a rerun measures
other values and may ask others.

Optuna is imported only when a search runs, never to check a study.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zoo import metrics, record
from zoo.bench.cells import Cell, canonical

SAMPLERS: dict[str, dict[str, type]] = {
    "tpe": {"n_startup_trials": int, "n_ei_candidates": int, "multivariate": bool},
    "random": {},
    "qmc": {"qmc_type": str, "scramble": bool},
    "grid": {},
    "nsga2": {"population_size": int},
}
"""Sampler name -> the options it takes (Optuna's constructor arguments)."""
PRUNERS: dict[str, dict[str, type]] = {
    "hyperband": {"min_resource": int, "reduction_factor": int},
    "successive_halving": {"min_resource": int, "reduction_factor": int, "min_early_stopping_rate": int},
    "median": {"n_startup_trials": int, "n_warmup_steps": int, "interval_steps": int},
    "none": {},
}
"""Pruner name -> the options it takes; a pruner's resource is the epoch (hyperband's maximum: ``budget.max_epochs``)."""
MINIMUM = {"reduction_factor": 2, "min_resource": 1, "interval_steps": 1, "n_ei_candidates": 1, "population_size": 2}
"""The least value of an integer option (the others: 0)."""
KEYS = ("sampler", "n_trials", "seed", "pruner", "objective", "objectives", "seeds_per_trial")
MAX_TRIALS = 10_000


# ----------------------------------------------------------------------------- checking (no Optuna)


def _named(fail: Callable[..., Any], path: str, value: Any, table: Mapping[str, Mapping[str, type]]) -> tuple[str, dict]:
    """``name`` or ``{name: {option: value}}`` checked against ``table``."""
    if isinstance(value, str):
        name, options = value, {}
    elif isinstance(value, Mapping) and len(value) == 1:
        (name, options), = value.items()
        options = {} if options is None else options
        if not isinstance(options, Mapping):
            fail(f"{path}.{name}", f"options are a mapping of option: value, got {options!r}.")
    else:
        fail(path, f"give a name or {{name: {{option: value}}}}, got {value!r}.", list(table))
    if name not in table:
        fail(path, f"unknown {path.rsplit('.', 1)[-1]} {name!r}.", list(table))
    out = {}
    for k, v in options.items():
        if k not in table[name]:
            fail(f"{path}.{name}.{k}", "unknown option.", list(table[name]) or ["(none)"])
        want, least = table[name][k], MINIMUM.get(k, 0)
        if want is int and (isinstance(v, bool) or not isinstance(v, int) or not least <= v <= MAX_TRIALS):
            fail(f"{path}.{name}.{k}", f"must be an integer in [{least}, {MAX_TRIALS}], got {v!r}.")
        if want is bool and not isinstance(v, bool):
            fail(f"{path}.{name}.{k}", f"must be true or false, got {v!r}.")
        if k == "qmc_type" and v not in ("sobol", "halton"):
            fail(f"{path}.{name}.{k}", f"unknown QMC sequence {v!r}.", ["sobol", "halton"])
        out[k] = v
    return name, out


def parse_search(fail: Callable[..., Any], value: Mapping[str, Any], axes: Sequence[Any], budget: Mapping[str, Any],
                 kinds: Mapping[str, str]) -> dict[str, Any]:
    """The checked ``search:`` mapping of an Optuna search; ``fail(path, message, allowed=None)`` raises.

    ``kinds``: problem id -> task kind (which per-epoch metrics its cells record)."""
    for k in value:
        if k not in KEYS:
            fail(f"search.{k}", "unknown key.", list(KEYS))
    several = "objectives" in value
    if several and "objective" in value:
        fail("search", "give objective (one metric) or objectives (two or more), not both.")
    sampler, sampler_options = _named(fail, "search.sampler", value.get("sampler", "nsga2" if several else None), SAMPLERS)
    n = value.get("n_trials")
    if n is None:
        fail("search", "an Optuna search needs n_trials: how many trials to run (per problem and scientific value).")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_TRIALS:
        fail("search.n_trials", f"the number of trials must be an integer in [1, {MAX_TRIALS}], got {n!r}.")
    seed = value.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        fail("search.seed", f"must be an integer in [0, 2**32), got {seed!r}.")
    pruner, pruner_options = _named(fail, "search.pruner", value.get("pruner", "none"), PRUNERS)
    k = value.get("seeds_per_trial", 1)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 100:
        fail("search.seeds_per_trial", f"must be an integer in [1, 100], got {k!r}.")
    objectives = _objectives(fail, value["objectives"], kinds) if several else None
    if several and pruner != "none":
        fail("search.pruner", f"Optuna's pruners judge one objective: a search with objectives takes no pruner, got {pruner!r}.")
    objective = None if several else value.get("objective", "val_loss")
    if not several:
        _per_epoch(fail, "search.objective", objective, kinds)
    searched = space_axes(axes)
    if not searched:
        fail("search", "an Optuna search needs a nuisance axis (or, without one, a scientific axis) to search.")
    if sampler == "grid":
        for a in searched:
            if a.values == ():
                fail(f"{a.role}.{a.name}", "the grid sampler takes a list of values, not a distribution.")
        size = math.prod(len(a.values) for a in searched)
        if n > size:
            fail("search.n_trials", f"{n} trials are more than the {size} points of the grid.")
    if pruner != "none" and "max_epochs" not in budget:
        fail("budget", "a pruner stops trials at epochs: the budget needs max_epochs.")
    return {"kind": "optuna", "sampler": sampler, "sampler_options": sampler_options, "n_trials": n, "seed": seed,
            "pruner": None if pruner == "none" else pruner, "pruner_options": pruner_options, "objective": objective,
            "mode": metrics.mode(objective) if objective else None, "seeds_per_trial": k,
            **({"objectives": objectives} if several else {})}


def _per_epoch(fail: Callable[..., Any], path: str, objective: Any, kinds: Mapping[str, str]) -> None:
    """``objective`` is a validation metric every problem's loop records each epoch."""
    if not isinstance(objective, str) or not objective.startswith("val_") or not metrics.is_known(objective):
        fail(path, f"must be a per-epoch validation metric such as val_acc or val_loss, got {objective!r}.",
             sorted({f"val_{m}" for ms in metrics.PER_EPOCH.values() for m in ms}))
    for pid, kind in kinds.items():
        recorded = metrics.PER_EPOCH.get(kind, ("loss",))
        if metrics.strip_stage(objective) not in recorded:
            fail(path, f"problem {pid} ({kind}) does not record {objective} every epoch.", [f"val_{m}" for m in recorded])


def _objectives(fail: Callable[..., Any], value: Any, kinds: Mapping[str, str]) -> list[list[str]]:
    """``[val_acc max, throughput max]`` as ``[[metric, mode], ...]``: two or more, each with its direction."""
    path = "search.objectives"
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        fail(path, f"give a list of 'metric max|min', such as [val_acc max, throughput max], got {value!r}.")
    if len(value) < 2:
        fail(path, f"one objective ({value[0] if value else 'none'}): write objective: METRIC; objectives takes two or more.")
    out: list[list[str]] = []
    for i, v in enumerate(value):
        words = v.split()
        if len(words) != 2:
            fail(f"{path}[{i}]", f"write the metric and its direction, as 'val_acc max', got {v!r}.")
        name, mode = words
        if mode not in ("max", "min"):
            fail(f"{path}[{i}]", f"the direction of {name} must be max or min, got {mode!r}.")
        if name in record.RECORDED:
            if metrics.is_known(name) and metrics.mode(name) != mode:
                fail(f"{path}[{i}]", f"{name} is better {'higher' if metrics.mode(name) == 'max' else 'lower'}: "
                     f"write '{name} {metrics.mode(name)}', got {mode!r}.")
        elif name.startswith("val_") and metrics.is_known(name):
            _per_epoch(fail, f"{path}[{i}]", name, kinds)
            if metrics.mode(name) != mode:
                fail(f"{path}[{i}]", f"{name} is better {'higher' if metrics.mode(name) == 'max' else 'lower'}: "
                     f"write '{name} {metrics.mode(name)}', got {mode!r}.")
        else:
            fail(f"{path}[{i}]", f"unknown objective {name!r}: a per-epoch validation metric or a recorded end-of-run one.",
                 sorted({f"val_{m}" for ms in metrics.PER_EPOCH.values() for m in ms} | set(record.RECORDED)))
        if name in [m for m, _ in out]:
            fail(f"{path}[{i}]", f"{name} is listed twice.")
        out.append([name, mode])
    return out


def space_axes(axes: Sequence[Any]) -> list[Any]:
    """The axes a search chooses: the nuisance ones (not a tuner's), else the scientific ones."""
    nui = [a for a in axes if a.role == "nuisance"]
    if nui:
        return [a for a in nui if a.tuner is None]
    return [a for a in axes if a.role == "scientific"]


# ----------------------------------------------------------------------------- Optuna's objects


def _optuna() -> Any:
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def _distribution(axis: Any) -> Any:
    d = _optuna().distributions
    if axis.distribution is None:
        return d.CategoricalDistribution([canonical(v) for v in axis.values])  # lists and tuples as their JSON
    (kind, (lo, hi)), = axis.distribution.items()
    return d.IntDistribution(lo, hi) if kind == "int_uniform" else d.FloatDistribution(lo, hi, log=kind == "log_uniform")


def _decode(space: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    cat = _optuna().distributions.CategoricalDistribution
    return {k: json.loads(v) if isinstance(space[k], cat) else v for k, v in params.items()}


def _seed(*key: Any) -> int:
    return int.from_bytes(hashlib.sha256(canonical(list(key)).encode()).digest()[:4], "little")


def _sampler(spec: Mapping[str, Any], seed: int, space: Mapping[str, Any]) -> Any:
    s = _optuna().samplers
    name, opts = spec["sampler"], dict(spec["sampler_options"])
    if name == "tpe":
        return s.TPESampler(seed=seed, **opts)
    if name == "random":
        return s.RandomSampler(seed=seed)
    if name == "qmc":
        return s.QMCSampler(seed=seed, **opts)
    if name == "nsga2":
        return s.NSGAIISampler(seed=seed, **opts)
    return s.GridSampler({k: list(d.choices) for k, d in space.items()}, seed=seed)


def _pruner(spec: Mapping[str, Any], max_epochs: int | None) -> Any:
    p = _optuna().pruners
    name, opts = spec["pruner"], dict(spec["pruner_options"])
    if name == "hyperband":
        return p.HyperbandPruner(min_resource=opts.get("min_resource", 1), max_resource=int(max_epochs or 1),
                                 reduction_factor=opts.get("reduction_factor", 3))
    if name == "successive_halving":
        return p.SuccessiveHalvingPruner(min_resource=opts.get("min_resource", 1), **{k: v for k, v in opts.items() if k != "min_resource"})
    if name == "median":
        return p.MedianPruner(**opts)
    return p.NopPruner()


def _study(info: Mapping[str, Any], sampler: Any, prior: Sequence[Mapping[str, Any]], upto: int,
           study_attrs: Mapping[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    """An in-memory Optuna study holding trials ``0 .. upto-1``: those of ``prior``, failed placeholders
    for the others (pruners and samplers ignore failed trials; they keep the numbers right)."""
    optuna = _optuna()
    space = {k: optuna.distributions.json_to_distribution(v) for k, v in info["space"].items()}
    modes = [m for _, m in info["objectives"]] if info.get("objectives") else [info["mode"]]
    st = optuna.create_study(study_name=info["name"], directions=["maximize" if m == "max" else "minimize" for m in modes],
                             sampler=sampler, pruner=_pruner(info, info.get("max_epochs")) if info.get("pruner") else None)
    by_number = {t["number"]: t for t in prior}
    state = optuna.trial.TrialState
    for n in range(upto):
        t = by_number.get(n)
        if t is None:
            st.add_trial(optuna.trial.create_trial(state=state.FAIL))
            continue
        st.add_trial(optuna.trial.create_trial(
            state=state[t["state"]], values=t["value"] if isinstance(t["value"], list) else None,
            value=None if isinstance(t["value"], list) else t["value"], params=t["params"], distributions=space,
            system_attrs=t["attrs"], intermediate_values={int(k): v for k, v in t["curve"].items()}))
    for k, v in (study_attrs or {}).items():  # e.g. QMC's position in its sequence
        st._storage.set_study_system_attr(st._study_id, k, v)
    return st, space


# ----------------------------------------------------------------------------- the sweep's side


@dataclass
class Group:
    """One Optuna study of a search: a problem and its scientific values (none when they are searched)."""

    problem: Any
    s_vals: dict[str, Any]
    key: str


class Search:
    """Asks the trials of an Optuna search one batch at a time, from the store's finished cells."""

    def __init__(self, study: Any, store: Any):
        self.study, self.store, self.spec = study, store, study.search
        self.searched = space_axes(study.axes)
        self.tuned = {a.name: a.tuner for a in study.role("nuisance") if a.tuner is not None}
        nui = bool(study.role("nuisance"))
        sci = study.role("scientific")
        import itertools

        combos = [dict(zip([a.name for a in sci], c)) for c in itertools.product(*(a.values for a in sci))] if nui else [{}]
        self.groups = [Group(p, s, f"{p.id}{canonical(s) if s else ''}") for p in study.problems for s in combos]

    # -------------------------------------------------------------- store
    def _stored(self) -> list[dict[str, Any]]:
        return [d for d in self.store.read_cells() if d.get("trial") is not None and isinstance(d.get("search"), dict)]

    def planned(self) -> list[Cell]:
        """Every cell asked for so far (cells.json), each with the pruner's context of its batch."""
        stored = self._stored()
        cache: dict[tuple[str, int], list[dict[str, Any]]] = {}
        return [self._with_prior(Cell.from_json(d), stored, cache) for d in stored]

    def _trials(self, key: str, stored: list[dict[str, Any]], below: int) -> list[dict[str, Any]]:
        """The finished trials numbered below ``below`` of group ``key``: state, value, params, attrs, curve."""
        by_trial: dict[int, list[dict[str, Any]]] = {}
        for d in stored:
            if d["search"].get("group") == key and d["trial"] < below:
                by_trial.setdefault(d["trial"], []).append(d)
        out = []
        for n, cells in sorted(by_trial.items()):
            t = _trial(self.spec, cells, [self.store.result(d["cell_id"]) for d in cells],
                       lambda d: record.read_history(self.store.cell_dir(d["cell_id"])) or [])
            if t is not None:
                out.append({"number": n, **t})
        return out

    def _info(self, g: Group, space: Mapping[str, Any]) -> dict[str, Any]:
        optuna = _optuna()
        return {"name": f"{self.study.name}/{g.key}", "group": g.key, "space": {k: optuna.distributions.distribution_to_json(d)
                for k, d in space.items()}, **{k: self.spec[k] for k in ("pruner", "pruner_options", "objective", "mode", "objectives")
                                             if k in self.spec},
                "max_epochs": self.study.budget.get("max_epochs")}

    def _with_prior(self, cell: Cell, stored: list[dict[str, Any]], cache: dict[tuple[str, int], Any]) -> Cell:
        info = cell.search or {}
        if not info.get("pruner"):
            return cell
        key = (info["group"], info["batch"])
        if key not in cache:  # the cells of one batch share their prior trials
            cache[key] = self._trials(info["group"], stored, info["batch"])
        prior = cache[key]
        return Cell(**{**cell.__dict__, "search_json": canonical({**info, "prior": prior})})

    # -------------------------------------------------------------- asking
    def next_batch(self, size: int) -> list[Cell]:
        """The cells of the next ``size`` trials of every group that has trials left; [] when done."""
        stored = self._stored()
        out: list[Cell] = []
        for g in self.groups:
            asked = len({d["trial"] for d in stored if d["search"].get("group") == g.key})
            n = min(size, self.spec["n_trials"] - asked)
            if n > 0:
                out += self._ask(g, stored, asked, n)
        return out

    def _ask(self, g: Group, stored: list[dict[str, Any]], batch: int, n: int) -> list[Cell]:
        space = {a.name: _distribution(a) for a in self.searched}
        info = self._info(g, space)
        prior = self._trials(g.key, stored, batch)
        last = [d for d in stored if d["search"].get("group") == g.key and d["trial"] == batch - 1]
        # QMC's sequence and the grid's shuffled order are fixed by the seed: one seed for the whole search;
        # the others draw afresh for each batch (a sampler rebuilt with the same seed would repeat its draws).
        fixed = self.spec["sampler"] in ("qmc", "grid")
        seed = _seed(self.spec["seed"], g.key) if fixed else _seed(self.spec["seed"], g.key, batch)
        st, space = _study(info, _sampler(self.spec, seed, space), prior, batch,
                           last[0]["search"].get("study_attrs") if last else None)
        sci = {a.name for a in self.study.role("scientific")}
        cells: list[Cell] = []
        for _ in range(n):
            trial = st.ask(space)
            values = _decode(space, trial.params)
            attrs = dict(st._storage.get_trial_system_attrs(trial._trial_id))
            study_attrs = dict(st._storage.get_study_system_attrs(st._study_id))
            search = {**info, "batch": batch, "params": trial.params, "attrs": attrs, "study_attrs": study_attrs}
            if info.get("pruner"):
                search["prior"] = prior
            s_vals = {**g.s_vals, **{k: v for k, v in values.items() if k in sci}}
            n_vals = {**{k: v for k, v in values.items() if k not in sci}, **self.tuned}
            cells += [self.study.cell(g.problem, s, s_vals, n_vals, trial=trial.number, search=search)
                      for s in self.study.seeds]
        return cells


def _trial(spec: Mapping[str, Any], cells: list[dict[str, Any]], results: list[dict[str, Any] | None],
           history: Callable[[dict[str, Any]], list[dict[str, Any]]]) -> dict[str, Any] | None:
    """A trial as Optuna sees it, from its seeds' cells; None while one of them has no result."""
    if any(r is None for r in results) or len(cells) < spec["seeds_per_trial"]:
        return None
    info = cells[0]["search"]
    metric = spec["objective"]  # None with several objectives (and no pruner: no curve)
    statuses = {r["status"] for r in results}
    curves = [{int(row["epoch"]): row.get(metric) for row in history(d)} if metric else {} for d in cells]
    common = set.intersection(*(set(k for k, v in c.items() if isinstance(v, (int, float)) and math.isfinite(v))
                                for c in curves))
    curve = {e: sum(c[e] for c in curves) / len(curves) for e in sorted(common)}
    attrs = dict(info.get("attrs") or {})
    pruner_attrs = [((r.get("search") or {}).get("attrs") or {}) for r in results]
    for k in set.intersection(*(set(a) for a in pruner_attrs)):
        vals = [a[k] for a in pruner_attrs]
        attrs[k] = sum(vals) / len(vals) if all(isinstance(v, (int, float)) for v in vals) else vals[0]
    base_t = {"params": info["params"], "attrs": attrs, "curve": curve, "value": None}
    if statuses <= {record.OK, record.PRUNED} and record.PRUNED in statuses:
        return {**base_t, "state": "PRUNED"}
    names = [m for m, _ in spec["objectives"]] if spec.get("objectives") else [metric]
    values = [[record.objective_value(r, m) for r in results] for m in names]
    if statuses == {record.OK} and all(v is not None for vs in values for v in vs):
        means = [sum(vs) / len(vs) for vs in values]
        return {**base_t, "state": "COMPLETE", "value": means if spec.get("objectives") else means[0]}
    return {**base_t, "state": "FAIL", "curve": {}}


# ----------------------------------------------------------------------------- the runner's side


class Pruning:
    """The runner's per-epoch hook for a trial's cell: reports the objective, True when the pruner stops it."""

    def __init__(self, cell: Cell):
        info = cell.search or {}
        self.metric = info["objective"]
        self.max_epochs = info.get("max_epochs")
        self.pruned_epoch: int | None = None
        st, space = _study(info, _optuna().samplers.RandomSampler(0), info.get("prior") or [], int(cell.trial or 0))
        st.enqueue_trial(info["params"])
        self.study, self.trial = st, st.ask(space)
        self._asked = set(st._storage.get_trial_system_attrs(self.trial._trial_id))

    def __call__(self, row: Mapping[str, Any]) -> bool:
        v = row.get(self.metric)
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            return False
        self.trial.report(float(v), int(row["epoch"]))
        if self.max_epochs and int(row["epoch"]) >= self.max_epochs:
            return False  # trained to the end: nothing left to save, the trial is complete
        if self.trial.should_prune():
            self.pruned_epoch = int(row["epoch"])
            return True
        return False

    def attrs(self) -> dict[str, Any]:
        """What the pruner recorded of this trial (its successive-halving rungs)."""
        now = self.study._storage.get_trial_system_attrs(self.trial._trial_id)
        return {k: v for k, v in now.items() if k not in self._asked}


def hook(cell: Cell) -> Pruning | None:
    """The per-epoch hook of ``cell`` when it is a trial of a search with a pruner, else None."""
    return Pruning(cell) if cell.trial is not None and (cell.search or {}).get("pruner") else None


def summary(cell: Cell, epochs: int, pruning: Pruning | None) -> dict[str, Any]:
    """``result["search"]`` of a trial's cell: its number, where it was pruned, the epochs that saved."""
    max_epochs = int(cell.params.get("max_epochs") or epochs)
    pruned = pruning.pruned_epoch if pruning is not None else None
    return {"trial": cell.trial, "pruned_epoch": pruned, "epochs_saved": max(0, max_epochs - epochs) if pruned else 0,
            "attrs": pruning.attrs() if pruning is not None else {}}
