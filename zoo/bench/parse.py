"""Reading and checking a study file: every value through zoo's one validator (zoo/config.py,
via :func:`zoo.factory.resolve`), every mistake a :class:`~zoo.bench.study.StudyError`
``file: key.path: message (allowed: ...)`` before anything runs.

The format is described in zoo/bench/study.py. Checking builds no model and no task, and
imports no Lightning of its own: a study's settings are dataclass fields.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from zoo import config, factory, metrics, registry
from zoo.bench import stages
from zoo.bench.cells import canonical
from zoo.bench.study import (
    BUDGET_KEYS, DISTRIBUTIONS, KEEP, MAX_CELLS, MAX_SEEDS, NAME_RE, PROBLEM_KEYS, RESERVED, ROLES, TARGET_KEYS, TOP_KEYS,
    TUNERS, Axis, Problem, Study, StudyError, find_study,
)
from zoo.bench.yamlfile import read_yaml
from zoo.errors import ConfigError, UnknownNameError, ZooError

Table = dict[str, config.Setting]
"""What a problem's cells may set: flat name -> its setting (zoo/config.py)."""


def _table(model: str, kind: str) -> Table:
    table = dict(config.settings_table(registry.get(model).config, kind))
    for name in RESERVED:
        table.pop(name, None)
    return table


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
            self.fail(path, f"must be a mapping of key: value, got {_shown(value)}.")
        for k in value:
            if not isinstance(k, str):
                self.fail(path, f"keys must be strings, got {k!r}.")
            if allowed is not None and k not in allowed:
                self.fail(_join(path, k), "unknown key.", list(allowed))
        return dict(value)


def _shown(value: Any) -> str:
    return config.shown(value)


def _join(path: str, key: Any) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else str(key))


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for k, v in over.items():  # axes are replaced whole: a quick axis lists its own values
        merge = isinstance(v, Mapping) and isinstance(out.get(k), Mapping) and k not in ("scientific", "nuisance")
        out[k] = _deep_merge(out[k], v) if merge else copy.deepcopy(v)
    return out


def parse_study(
    raw: Any, source: str = "<study>", *, quick: bool = False, default_name: str | None = None, allow_missing: bool = False
) -> Study:
    """Check a study mapping (as read from YAML) and resolve it.

    ``quick`` applies the ``quick:`` overrides and names the study ``<name>-quick``.
    ``allow_missing`` drops problems whose model or dataset is not registered
    (listed in :attr:`Study.dropped`) instead of failing.
    The quick form, when the study has one, is checked too whichever form is asked for:
    a bad ``quick:`` mapping is refused on the first parse, not on the first ``--quick`` run.
    """
    chk = _Checker(source)
    raw = chk.mapping(raw, "", list(TOP_KEYS))  # zoo/bench/stages.py's keys among them
    quick_over = raw.pop("quick", None)
    if quick_over is not None:
        quick_over = chk.mapping(quick_over, "quick", [k for k in TOP_KEYS if k not in ("name", "quick")])
    elif quick:
        raise StudyError(source, "quick", "this study has no quick form; add a 'quick:' mapping of overrides.")
    full = None if quick else _resolve(copy.deepcopy(raw), chk, default_name, False, allow_missing)
    if quick_over is None:
        return full
    fast = _resolve(_quick_form(raw, quick_over), _Checker(source, quick_over), default_name, True, allow_missing)
    return fast if quick else full


def _quick_form(raw: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` with the quick overrides merged in. A quick problem named by the id of one of the full form's
    problem mappings is that mapping: the quick form picks problems, it does not redefine them."""
    out, full = _deep_merge(raw, over), raw.get("problems") if isinstance(raw.get("problems"), list) else []
    named = {Problem.make_id(p["model"], p["data"], p.get("tag")): p for p in full
             if isinstance(p, Mapping) and isinstance(p.get("model"), str) and isinstance(p.get("data"), str)}
    if isinstance(over.get("problems"), list):
        out["problems"] = [copy.deepcopy(named[p]) if isinstance(p, str) and p in named else p for p in over["problems"]]
    return out


def _resolve(raw: dict[str, Any], chk: _Checker, default_name: str | None, quick: bool, allow_missing: bool) -> Study:
    """The study of one form (full or quick) of a checked top-level mapping; ``chk`` names the file."""
    source = chk.source
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not NAME_RE.match(name):
        chk.fail("name", f"must be a folder-safe name (letters, digits, _ . -), got {name!r}.")
    if quick:
        name = f"{name}-quick"
    description = raw.get("description", "")
    if not isinstance(description, str):
        chk.fail("description", f"must be text, got {_shown(description)}.")

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
    tables = {p.id: _table(p.model, p.kind) for p in problems}
    plan = stages.parse_plan(raw, chk, _parse_problem, BUDGET_KEYS, problems, tables)  # adds the transfer axis

    # --- axes
    axes: list[Axis] = []
    seen_role: dict[str, str] = {}
    for role in ROLES:
        section = chk.mapping(raw.get(role, {}) or {}, role)
        for key, value in section.items():
            path = f"{role}.{key}"
            if key in seen_role:
                chk.fail(path, f"{key!r} is already a {seen_role[key]} setting; a setting has one role.")
            stages.check_axis(chk, plan, path, key)
            if role == "scientific" and isinstance(value, Mapping):  # named variants: the key is a label
                _check_reserved(chk, path, key)
            else:
                _check_name(chk, path, key, problems, tables)
            seen_role[key] = role
            axes.append(_parse_axis(chk, path, key, role, value, problems, tables))
    for axis in axes:  # a variant's setting has no other role: it would silently override that one
        for variant, settings in (axis.variants or {}).items():
            for k in settings:
                if k in seen_role:
                    chk.fail(f"scientific.{axis.name}.{variant}.{k}", f"{k!r} is already a {seen_role[k]} setting; "
                             "a setting has one role.")

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
        chk.fail("seeds", f"must be a count (3) or a list of seeds ([0, 1, 2]), got {_shown(seeds_raw)}.")
    if isinstance(seeds_raw, int):
        if not 1 <= seeds_raw <= MAX_SEEDS:
            chk.fail("seeds", f"the count must be in [1, {MAX_SEEDS}], got {seeds_raw}.")
        seeds = tuple(range(seeds_raw))
    else:
        if not seeds_raw:
            chk.fail("seeds", "the list of seeds is empty.")
        if len(seeds_raw) > MAX_SEEDS:
            chk.fail("seeds", f"lists {len(seeds_raw)} seeds; a study has at most {MAX_SEEDS}.")
        for j, s in enumerate(seeds_raw):
            try:
                config.check_seed("a seed", s)
            except ConfigError as e:
                chk.fail(f"seeds[{j}]", str(e))
        if len(set(seeds_raw)) != len(seeds_raw):
            chk.fail("seeds", f"lists a seed twice: {seeds_raw}.")
        seeds = tuple(seeds_raw)

    # --- search
    search = _parse_search(chk, raw.get("search", "grid"), axes, budget, problems)
    if search["kind"] == "optuna":
        k = search["seeds_per_trial"]
        if "seeds" not in raw:
            seeds = tuple(range(k))
        elif "seeds_per_trial" in raw["search"] and len(seeds) != k:
            chk.fail("search.seeds_per_trial", f"is {k}, but 'seeds' lists {len(seeds)}; give one of the two.")
        search["seeds_per_trial"] = len(seeds)
        if raw.get("exclude"):
            chk.fail("exclude", "an Optuna search chooses its own points; exclude rules are for grid and random search.")
    # --- target
    target = _parse_target(chk, raw.get("target"))
    # --- exclude
    exclude = _parse_exclude(chk, raw.get("exclude"), axes, problems, tables, quick)
    keep = raw.get("keep", "none")
    if keep not in KEEP:
        chk.fail("keep", f"must be one of {', '.join(KEEP)}, got {_shown(keep)}.", list(KEEP))

    baselines = _parse_baselines(chk, raw.get("baselines", []), name)

    study = Study(
        name=name, source=source, problems=tuple(problems), axes=tuple(axes), seeds=seeds, budget=budget,
        search=search, data_options=common_opts, target=target, description=description, quick=quick,
        dropped=tuple(dropped), exclude=exclude, stages=plan and dataclasses.replace(plan, budget=budget), keep=keep,
        baselines=baselines,
    )
    if exclude and not study.size():
        chk.fail("exclude", "the rules exclude every configuration of the study; nothing would run.")
    if study.size() > MAX_CELLS:
        chk.fail("", f"the study expands to {study.size():,} cells; at most {MAX_CELLS:,} (fewer seeds, values or trials).")
    _check_cells(chk, study)
    if plan:
        stages.check_shapes(chk, study.cells(), study.stages)
    return study


def _parse_problem(
    chk: _Checker, p: Any, path: str, common_opts: Mapping[str, Any], allow_missing: bool
) -> Problem | None:
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
        kind, options = factory.dataset_kind_and_options(data)
    except UnknownNameError as e:
        if allow_missing:
            return None
        chk.fail(path, str(e))
    if kind not in entry.tasks:
        chk.fail(path, f"model {model!r} trains for {', '.join(entry.tasks)}; dataset {data!r} is {kind}.")
    if kind not in config.TASK_SETTINGS:
        chk.fail(path, f"dataset {data!r} needs a {kind} task, which this version of zoo does not have.", sorted(config.TASK_SETTINGS))
    pid = Problem.make_id(model, data, tag)
    checked_opts = {}
    for k, v in {**common_opts, **opts}.items():
        opath = _join(path, "data_options") + f".{k}" if k in opts else f"data_options.{k}"
        try:
            checked_opts.update(config.check_data_options({k: v}, options, dataset=data))
        except ZooError as e:
            chk.fail(opath, str(e))
    prob = Problem(pid, model, data, kind, {k: v for k, v in checked_opts.items() if k in opts}, {})
    table = _table(model, kind)
    checked_params = {}
    for k, v in params.items():
        ppath = _join(path, "params") + f".{k}"
        _check_name(chk, ppath, k, [prob], {pid: table})
        checked_params[k] = _value(chk, ppath, k, v, [prob], {pid: table})
    return Problem(pid, model, data, kind, {k: v for k, v in checked_opts.items() if k in opts}, checked_params)


def _check_reserved(chk: _Checker, path: str, key: str) -> None:
    if key in RESERVED:
        chk.fail(path, f"{key!r} cannot be set here: {RESERVED[key]}.")


def _check_name(chk: _Checker, path: str, key: str, problems: Sequence[Problem], tables: Mapping[str, Table]) -> None:
    _check_reserved(chk, path, key)
    for p in problems:
        if key not in tables[p.id]:
            chk.fail(path, f"problem {p.id}: {UnknownNameError(f'argument for model {p.model!r}', key, tables[p.id])}")


def _value(chk: _Checker, path: str, key: str, value: Any, problems: Sequence[Problem], tables: Mapping[str, Table]) -> Any:
    """``value`` parsed as the setting's type and checked by the owning config, for every problem."""
    out = value
    for p in problems:
        setting = tables[p.id][key]
        try:
            out = config.coerce(value, setting.type, key, empty_ok=setting.default in ("", ()))
        except ConfigError as e:
            hint = " (YAML reads yes/no/on/off as booleans: quote the word)" if isinstance(value, bool) else ""
            chk.fail(path, f"{str(e).rstrip('.')}{hint}.")
        msg = _config_error(p, {key: out})
        if msg:
            chk.fail(path, msg)
    return out


def _config_error(problem: Problem, params: Mapping[str, Any]) -> str | None:
    """The message of zoo's own check of ``params`` for ``problem`` (:func:`zoo.factory.resolve`), or None."""
    try:
        params = stages.for_check(params)  # a transfer arm and its source as run settings
    except ZooError as e:
        return str(e)
    params = {k: v for k, v in params.items() if not (k == "lr" and isinstance(v, Mapping))}  # lr chosen by a tuner
    try:
        cfg = factory.resolve(problem.model, problem.data, check_model=True, **params)
        factory.check_size(cfg.model, cfg.model_settings)  # shapes only (torch's meta device), nothing allocated
    except ZooError as e:
        return str(e)
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        return f"{e.__class__.__name__}: {e}"
    return None


def _parse_axis(
    chk: _Checker, path: str, key: str, role: str, value: Any, problems: Sequence[Problem], tables: Mapping[str, Table]
) -> Axis:
    if role == "fixed":
        return Axis(key, role, (_value(chk, path, key, value, problems, tables),))
    if role == "scientific" and isinstance(value, Mapping):
        return _parse_variants(chk, path, key, value, problems, tables)
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
                if config.unwrap_optional(tables[p.id][key].type)[0] is not want:
                    other = "int_uniform" if want is float else "log_uniform or uniform"
                    chk.fail(path, f"{kind} draws {'integers' if want is int else 'numbers'}, but {key!r} is "
                             f"{config.describe(tables[p.id][key].type)}; use {other} or a list of values.")
            if not isinstance(bounds, list) or len(bounds) != 2:
                chk.fail(f"{path}.{kind}", f"must be [low, high], got {_shown(bounds)}.")
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
        chk.fail(path, f"a {role} axis is a non-empty list of values, got {_shown(value)}.")
    values = tuple(_value(chk, _join(path, i), key, v, problems, tables) for i, v in enumerate(value))
    canon = [canonical(v) for v in values]
    for i, c in enumerate(canon):
        if c in canon[:i]:
            chk.fail(_join(path, i), f"the value {values[i]!r} is listed twice.")
    return Axis(key, role, values)


def _parse_variants(
    chk: _Checker, path: str, key: str, value: Mapping[str, Any], problems: Sequence[Problem], tables: Mapping[str, Table]
) -> Axis:
    """A scientific axis of named variants: ``{name: {setting: value, ...}, ...}`` (zoo/bench/study.py)."""
    if len(value) < 2:
        chk.fail(path, f"named variants compare at least two, got {len(value)}; e.g. {{random: {{}}, word2vec: "
                       "{init_embeddings: ID}}.")
    variants: dict[str, dict[str, Any]] = {}
    seen: dict[str, str] = {}
    for name, settings in value.items():
        vpath = f"{path}.{name}"
        if not isinstance(name, str) or not NAME_RE.match(name):
            chk.fail(vpath, f"a variant's name is letters, digits, '_', '.' or '-', got {_shown(name)}.")
        settings = chk.mapping(settings if settings is not None else {}, vpath)
        checked = {}
        for k, v in settings.items():
            _check_name(chk, f"{vpath}.{k}", k, problems, tables)
            checked[k] = _value(chk, f"{vpath}.{k}", k, v, problems, tables)
        same = seen.get(canonical(checked))
        if same is not None:
            chk.fail(vpath, f"variant {name!r} has the same settings as {same!r}; each variant must differ.")
        seen[canonical(checked)] = name
        variants[name] = checked
    return Axis(key, "scientific", tuple(variants), variants=variants)


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
            options[k] = config.coerce(v, hints[k], k)
        except ConfigError as e:
            chk.fail(f"{path}.range_test.{k}", str(e))
    try:
        cfg = RangeTestConfig(**options)
    except ZooError as e:
        chk.fail(f"{path}.range_test", str(e))
    return {"range_test": dataclasses.asdict(cfg)}


def _parse_search(chk: _Checker, value: Any, axes: Sequence[Axis], budget: Mapping[str, Any],
                  problems: Sequence[Problem]) -> dict[str, Any]:
    if value == "grid" or value is None:
        search = {"kind": "grid"}
    elif isinstance(value, str):
        chk.fail("search", f"unknown search {value!r}.", ["grid", "{random: N, seed: S}", "{sampler: tpe, n_trials: N}"])
    elif isinstance(value, Mapping) and ("sampler" in value or "objectives" in value):
        from zoo.bench.optuna_search import parse_search

        return parse_search(chk.fail, chk.mapping(value, "search"), axes, budget, {p.id: p.kind for p in problems})
    else:
        d = chk.mapping(value, "search", ["random", "seed"])
        n = d.get("random")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            chk.fail("search.random", f"the number of sampled configurations must be an integer >= 1, got {_shown(n)}.")
        seed = d.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            chk.fail("search.seed", f"must be an integer >= 0, got {_shown(seed)}.")
        search = {"kind": "random", "random": n, "seed": seed}
    if search["kind"] == "grid":
        for a in axes:
            if a.distribution is not None:
                chk.fail(f"nuisance.{a.name}", "a distribution needs random search (search: {random: N, seed: S}); "
                         "grid search takes a list of values.")
    return search


def _parse_exclude(chk: _Checker, value: Any, axes: Sequence[Axis], problems: Sequence[Problem],
                   tables: Mapping[str, Table], quick: bool) -> tuple[dict[str, tuple[Any, ...]], ...]:
    """``exclude:``: a list of rules, each ``{axis: value or [values]}`` over scientific or nuisance axes.

    The full form checks every axis and value; the quick form (which may drop axes and values) keeps
    the rules as written, and a rule naming what the quick form lacks simply matches nothing there."""
    if value is None:
        return ()
    if not isinstance(value, list):
        chk.fail("exclude", f"must be a list of {{axis: value or [values]}} rules, got {_shown(value)}.")
    varied = {a.name: a for a in axes if a.role in ("scientific", "nuisance")}
    rules = []
    for i, rule in enumerate(value):
        path = f"exclude[{i}]"
        rule = chk.mapping(rule, path)
        if not rule:
            chk.fail(path, "an empty rule would exclude every configuration; name at least one axis.")
        out: dict[str, tuple[Any, ...]] = {}
        for key, vals in rule.items():
            if key not in varied and quick:
                out[key] = tuple(vals) if isinstance(vals, list) else (vals,)
                continue
            if key not in varied:
                chk.fail(_join(path, key), f"{key!r} is not a scientific or nuisance axis of the study.", sorted(varied))
            axis = varied[key]
            raw_vals = vals if isinstance(vals, list) else [vals]
            if axis.variants is not None:  # names of variants, as the axis lists them
                vals = tuple(raw_vals)
            else:
                vals = tuple(_value(chk, _join(path, key), key, v, problems, tables) for v in raw_vals)  # as the axis reads them
            if axis.values:  # a listed axis: every value must be one of its values
                for v in vals:
                    if v not in axis.values and not quick:
                        chk.fail(_join(path, key), f"{_shown(v)} is not a value of axis {key!r}.", list(axis.values))
            elif axis.tuner is not None:
                chk.fail(_join(path, key), f"axis {key!r} is chosen per cell by a tuner; a rule cannot name its value.")
            out[key] = vals
        rules.append(out)
    return tuple(rules)


def _parse_baselines(chk: _Checker, value: Any, name: str) -> tuple[str, ...]:
    """Study names (their stores sit beside this study's), each once, not this study itself."""
    if not isinstance(value, list):
        chk.fail("baselines", f"must be a list of study names, got {_shown(value)}.")
    for i, b in enumerate(value):
        if not isinstance(b, str) or not NAME_RE.match(b):
            chk.fail(f"baselines[{i}]", f"must be a study name (letters, digits, _ . -), got {_shown(b)}.")
        if b == name or b == name.removesuffix("-quick"):
            chk.fail(f"baselines[{i}]", f"names this study itself ({b!r}); a baseline is another study.")
    if len(set(value)) != len(value):
        chk.fail("baselines", f"names a study twice: {value}.")
    return tuple(value)


def _parse_target(chk: _Checker, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    d = chk.mapping(value, "target", TARGET_KEYS)
    metric = d.get("metric")
    if not isinstance(metric, str) or not re.match(r"^(val_\w+|train_loss)$", metric) or not metrics.is_known(metric):
        chk.fail("target.metric", f"must be a per-epoch metric such as val_acc, val_loss or train_loss, got {metric!r}.",
                 [f"val_{m}" for m in metrics.METRICS] + ["train_loss"])
    v = d.get("value")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        chk.fail("target.value", f"must be a number, got {_shown(v)}.")
    mode = d.get("mode", metrics.mode(metric))  # the catalogue's direction (zoo/metrics.py)
    if mode not in ("min", "max"):
        chk.fail("target.mode", f"unknown mode {mode!r}.", ["min", "max"])
    return {"metric": metric, "value": float(v), "mode": mode}


def _check_cells(chk: _Checker, study: Study) -> None:
    """Check each whole configuration (combinations the per-value checks cannot see), seed excluded."""
    seen: set[tuple[str, str]] = set()
    problems = {p.id: p for p in study.problems}
    cells = study.cells()
    if study.adaptive:  # its points are chosen as it runs: check the corners of its space
        from zoo.bench.optuna_search import space_axes

        searched = space_axes(study.axes)
        for p in study.problems:
            for end in (0, -1):
                vals = {a.name: a.values[end] if a.values else list(a.distribution.values())[0][end] for a in searched}
                others = {a.name: a.values[0] if a.values else a.tuner for a in study.axes
                          if a.role != "fixed" and a.name not in vals}
                sci = {a.name for a in study.role("scientific")}
                merged = {**others, **vals}
                cells.append(study.cell(p, study.seeds[0], {k: v for k, v in merged.items() if k in sci},
                                        {k: v for k, v in merged.items() if k not in sci}))
    for cell in cells:
        params = {k: v for k, v in cell.params.items() if k != "seed"}
        key = (cell.problem, canonical(params))
        if key in seen:
            continue
        seen.add(key)
        msg = _config_error(problems.get(cell.problem) or Problem(cell.problem, cell.model, cell.data, ""), params)
        if msg:
            axes = {**cell.scientific, **cell.nuisance}
            where = f"problem {cell.problem}" + (f" with {canonical(axes)}" if axes else "")
            chk.fail("", f"{where}: {msg}")


def load_study(name_or_path: str | Path, *, quick: bool = False, allow_missing: bool = False) -> Study:
    """Read, check and resolve a study file (or a shipped study by name)."""
    path = find_study(name_or_path)
    raw = read_yaml(path, what="study file", error=StudyError)
    return parse_study(raw, str(path), quick=quick, default_name=path.stem, allow_missing=allow_missing)


def study_name(name_or_path: str | Path, *, quick: bool = False) -> str:
    """The study's folder name under runs/, read without checking the rest of the file."""
    path = find_study(name_or_path)
    raw = read_yaml(path, what="study file", error=StudyError)
    name = raw.get("name", path.stem) if isinstance(raw, Mapping) else path.stem
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise StudyError(str(path), "name", f"must be a folder-safe name (letters, digits, _ . -), got {name!r}.")
    return f"{name}-quick" if quick else name
