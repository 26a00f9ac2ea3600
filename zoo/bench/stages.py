"""Stages: cells that start from the checkpoint of other cells (transfer-learning studies).

A study may declare source stages and say which one its cells start from::

    stages:
      pretrain:                        # a stage: one cell per seed, its checkpoint kept in the store
        model: mlp
        data: fashion_mnist
        data_options: {classes: [Trouser, Pullover, Dress, Coat, Bag]}
        params: {hidden: [300, 100], lr: 0.01}      # its settings (no axes); the cells' model settings too
        budget: {max_epochs: 10}       # default: the study's budget
        start_from: other_stage        # optional: a stage may start from another (arm: transfer, default full)
    start_from: pretrain               # the study's cells start from this stage, or from a pretrained id (mlp-wine)
    scientific: {transfer: [scratch, frozen, frozen_then_thawed, full]}
    nuisance: {lr: [0.1, 0.01]}        # each arm's rate, tuned per arm (the head's rate where a head is new)
    thaw: {after: 2, top: 1, lr_scale: 0.1}   # frozen_then_thawed: the head alone for 2 epochs, then the top
                                       #   backbone block too, at 0.1 x the head's rate

The target cell of seed ``s`` starts from the stage's cell of seed ``s``. A target cell's params name its
arm (``transfer``) and its source (``start_from: {stage, cell}`` or ``{pretrained}``), so its id changes
whenever its source's configuration does; the arm becomes run settings (:func:`arm_settings`) only when
the cell runs. ``scratch`` cells name no source and wait for none.

Who does what: zoo/bench/parse.py checks the declarations through :func:`parse_plan` and
:func:`check_shapes` (a stage naming no stage, a cycle, another model family, tensors of other
shapes without ``reinit``: one line each); :meth:`StagePlan.source_cells` and
:meth:`StagePlan.target_params` make the cells (zoo/bench/study.py); zoo/bench/sweep.py holds a
target back until its source is recorded and hands it the source's checkpoint, which
zoo/bench/store.py keeps in the source's cell folder (:meth:`zoo.bench.store.Store.checkpoint`);
zoo/bench/runner.py turns the params into run settings with :func:`run_settings` and keeps a
stage's checkpoint with :func:`keep_checkpoint`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo import config
from zoo.bench.cells import Cell, canonical, cell_id, normalize
from zoo.bench.study import NAME_RE
from zoo.errors import CheckpointError, ConfigError, ZooError, check_choice
from zoo.optim import OptimConfig

ARMS = ("scratch", "frozen", "frozen_then_thawed", "full")
"""Transfer arms: a new model; the checkpoint with only a new head trained; the head first, then the top
blocks thawed; every layer from the checkpoint, trained at one rate."""
AXIS = "transfer"
"""The axis (scientific, nuisance or fixed) whose values are :data:`ARMS`."""
TOP_KEYS = ("stages", "start_from", "thaw")
"""The study keys of this module (described in zoo/bench/study.py's ``TOP_KEYS``)."""
STAGE_KEYS = ("model", "data", "data_options", "params", "budget", "start_from", "transfer")
THAW: dict[str, Any] = {"after": 1, "top": 1, "lr_scale": 0.1}
THAW_SETTINGS = ("unfreeze_epoch", "unfreeze_top", "head_lr")
"""The settings of gradual unfreezing that :func:`arm_settings` maps ``frozen_then_thawed`` to."""
SUBSET_OPTIONS = ("classes", "labelled", "limit", "split_seed", "val_size", "seed", "batch_size", "eval_batch_size",
                  "augment")
"""Loader options that choose rows, classes or batches, never the shape of an input."""
OWNED = ("init_from", "freeze")
"""Run settings a study with stages does not take: the arm sets them."""


def arm_settings(arm: str, thaw: Mapping[str, Any] | None = None, lr: Any = None) -> dict[str, Any]:
    """The run settings of transfer ``arm`` (besides ``init_from``, the source's checkpoint): the one
    place an arm becomes settings. ``lr``: the cell's rate, the head's in every arm that trains one;
    ``thaw``: the ``frozen_then_thawed`` options (:data:`THAW`): the head trains alone at ``lr`` for
    ``after`` epochs, then the top ``top`` backbone blocks thaw and train at ``lr * lr_scale``
    (gradual unfreezing: ``unfreeze_top``/``unfreeze_epoch``, the head's rate ``head_lr``)."""
    check_choice("transfer arm", arm, ARMS)
    if arm == "scratch":
        return {}
    if arm == "frozen":
        return {"freeze": "backbone"}
    if arm == "full":
        return {"freeze": "none"}
    have = {n for cls, s in ((config.RunSettings, "run"), (OptimConfig, "optimizer"))
            for n in config.dataclass_settings(cls, s)}
    missing = [n for n in THAW_SETTINGS if n not in have]
    if missing:
        raise ConfigError(f"transfer arm 'frozen_then_thawed' needs the gradual-unfreezing settings "
                          f"{', '.join(missing)}, which this version of zoo does not have; use scratch, frozen or full.")
    thaw = {**THAW, **(thaw or {})}
    if isinstance(lr, Mapping):
        raise ConfigError("transfer arm 'frozen_then_thawed' takes lr values (the head's rate), not a tuner.")
    rate = OptimConfig.lr if lr is None else lr
    return {"freeze": "backbone", "unfreeze_top": thaw["top"], "unfreeze_epoch": thaw["after"] + 1,
            "head_lr": rate, "lr": rate * thaw["lr_scale"]}


@dataclass(frozen=True)
class Stage:
    """A source stage: one configuration, trained once per seed, its checkpoint kept."""

    name: str
    problem: str
    """Its problem id in the store (``<model>-<data>-<name>``)."""
    model: str
    data: str
    data_options: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)
    start_from: str | None = None
    transfer: str = "full"

    def to_json(self) -> dict[str, Any]:
        return normalize({k: getattr(self, k) for k in (f.name for f in dataclasses.fields(self))})


@dataclass(frozen=True)
class StagePlan:
    """A study's stages (sources first), what its cells start from, and the thaw options."""

    stages: tuple[Stage, ...]
    start_from: str | None
    thaw: dict[str, Any] = field(default_factory=lambda: dict(THAW))
    budget: dict[str, Any] = field(default_factory=dict)
    """The study's budget: that of a stage without its own."""

    def to_json(self) -> dict[str, Any]:
        return normalize({"stages": [s.to_json() for s in self.stages], "start_from": self.start_from,
                          "thaw": self.thaw})

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    def count(self, seeds: int) -> int:
        return len(self.stages) * seeds

    def _params(self, stage: Stage, seed: int) -> dict[str, Any]:
        params = {**stage.params, **(stage.budget or self.budget), "stage": stage.name}
        if stage.data_options:
            params["data_options"] = dict(stage.data_options)
        if stage.start_from is not None:
            params.update(self._source(stage.start_from, stage.transfer, seed))
        return params

    def _source(self, source: str, arm: str, seed: int) -> dict[str, Any]:
        """``transfer`` and ``start_from`` of a cell of ``seed`` that starts from ``source`` with ``arm``."""
        out: dict[str, Any] = {AXIS: arm}
        if arm == "frozen_then_thawed":
            out["thaw"] = dict(self.thaw)
        if arm == "scratch":
            return out
        stage = self.stage(source)
        if stage is None:
            out["start_from"] = {"pretrained": source}
        else:
            out["start_from"] = {"stage": source, "cell": cell_id(stage.problem, seed, self._params(stage, seed))}
        return out

    def source_cells(self, study: str, seeds: Sequence[int]) -> list[Cell]:
        """The stages' cells, sources first, seeds outermost."""
        out = []
        for seed in seeds:
            for s in self.stages:
                params = self._params(s, seed)
                out.append(Cell(study=study, problem=s.problem, model=s.model, data=s.data, seed=seed,
                                params_json=canonical(params), fixed_json=canonical({**s.params, **(s.budget or self.budget)})))
        return out

    def target_params(self, params: dict[str, Any], seed: int) -> dict[str, Any]:
        """A study cell's params with its arm (default ``full``) and its source of ``seed``."""
        if self.start_from is None:
            return params
        arm = params.get(AXIS, "full")
        return {**params, **self._source(self.start_from, arm, seed)}


def source_of(cell: Cell) -> str | None:
    """The id of the cell whose checkpoint ``cell`` starts from, or None."""
    ref = cell.params.get("start_from")
    return ref.get("cell") if isinstance(ref, Mapping) else None


def run_settings(params: Mapping[str, Any], checkpoint: str | None = None) -> tuple[dict[str, Any], bool]:
    """(settings of :func:`zoo.training.train`, whether to keep the checkpoint) of a cell's params.

    ``checkpoint``: the folder of the source cell's checkpoint (for a stage source; a pretrained
    source is its id). Without one, a stage source becomes the placeholder ``stage:NAME`` (checking only).
    """
    params = dict(params)
    keep = params.pop("stage", None) is not None
    ref = params.pop("start_from", None)
    arm = params.pop(AXIS, None)
    thaw = params.pop("thaw", None)
    if arm is None:
        return params, keep
    params.update(arm_settings(arm, thaw, params.get("lr")))
    if arm == "scratch":
        params.pop("reinit", None)  # every layer is new
    elif isinstance(ref, Mapping) and "pretrained" in ref:
        params["init_from"] = ref["pretrained"]
    else:
        params["init_from"] = checkpoint or f"stage:{ref.get('stage') if isinstance(ref, Mapping) else 'source'}"
    return params, keep


def for_check(params: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`run_settings` of params being checked (zoo/bench/parse.py): a setting checked on its own
    (``reinit``) gets a placeholder checkpoint, as the arms that load one give it."""
    settings, _ = run_settings(params)
    if settings.get("reinit") and "init_from" not in settings and AXIS not in params:
        settings["init_from"] = "stage:source"
    return settings


def verify_source(inputs: Mapping[str, Any]) -> str:
    """The checkpoint folder handed to a target cell, after checking that its card names the weights' sha256
    the source recorded (zoo/checkpoint.py then checks the weights' bytes against the card)."""
    from zoo.checkpoint import read_card

    folder = Path(inputs["checkpoint"])
    card = read_card(folder)
    if card["sha256"] != inputs["sha256"]:
        raise CheckpointError(f"the checkpoint of source cell {inputs.get('cell_id')} ({folder}) has weights of sha256 "
                              f"{card['sha256'][:12]}…, but that cell recorded {str(inputs['sha256'])[:12]}…; "
                              "move that cell's folder away and run the study again.")
    return str(folder)


def keep_checkpoint(res: Any, workdir: Path) -> dict[str, Any]:
    """Save a stage cell's trained task into its cell folder; what its result records of it."""
    from zoo import record
    from zoo.checkpoint import read_card, save_checkpoint

    folder = save_checkpoint(res.task, Path(workdir) / record.CHECKPOINT, metrics=res.metrics,
                             fit=record.fit_summary(res.fit), config=res.config)
    card = read_card(folder)
    return {"folder": record.CHECKPOINT, "sha256": card["sha256"], "digest": card["digest"]}


# ----------------------------------------------------------------------------- checking


def parse_plan(raw: Mapping[str, Any], chk: Any, parse_problem: Callable[..., Any], budget_keys: Sequence[str],
               targets: Sequence[Any], tables: dict[str, dict[str, config.Setting]]) -> StagePlan | None:
    """The checked :class:`StagePlan` of a study's ``stages``/``start_from``/``thaw`` (None without them).

    ``chk``: zoo/bench/parse.py's checker (``fail``, ``mapping``); ``parse_problem``: its problem parser;
    ``targets``/``tables``: the study's problems and their settings (``transfer`` is added to the tables).
    """
    from zoo.pretrained import is_pretrained, list_pretrained

    if not any(k in raw for k in TOP_KEYS):
        return None
    section = chk.mapping(raw.get("stages") or {}, "stages")
    names = list(section)
    for name in names:
        if not NAME_RE.match(name):
            chk.fail(f"stages.{name}", f"a stage name is a short name (letters, digits, _ . -), got {name!r}.")

    def source(value: Any, path: str) -> str:
        if not isinstance(value, str) or not (value in names or is_pretrained(value)):
            chk.fail(path, f"{config.shown(value)} is no stage of the study and no pretrained id.",
                     [*names, *list_pretrained()])
        return value

    stages: dict[str, Stage] = {}
    for name in names:
        path = f"stages.{name}"
        d = chk.mapping(section[name], path, STAGE_KEYS)
        budget = chk.mapping(d.pop("budget", None) or {}, f"{path}.budget", budget_keys)
        start = source(d.pop("start_from"), f"{path}.start_from") if "start_from" in d else None
        arm = d.pop("transfer", "full")
        if start is None and "transfer" in section[name]:
            chk.fail(f"{path}.transfer", "a transfer arm needs start_from (the stage or checkpoint it starts from).")
        if arm not in ARMS:
            chk.fail(f"{path}.transfer", f"unknown transfer arm {config.shown(arm)}.", ARMS)
        prob = parse_problem(chk, {**d, "tag": name}, path, {}, False)
        for key in OWNED:
            if key in prob.params:
                chk.fail(f"{path}.params.{key}", f"{key!r} is set by the stage's start_from and transfer arm.")
        if prob.params.get("reinit") and (start is None or arm == "scratch"):
            chk.fail(f"{path}.params.reinit", "reinit needs start_from (layers re-initialized instead of loaded).")
        if any(p.id == prob.id for p in targets):
            chk.fail(path, f"the stage's problem id {prob.id!r} is also a problem of the study; rename the stage.")
        checked = {}
        for k, v in budget.items():
            try:
                checked[k] = config.coerce(v, tables[targets[0].id][k].type, k) if targets else v
            except ConfigError as e:
                chk.fail(f"{path}.budget.{k}", str(e))
        stages[name] = Stage(name, prob.id, prob.model, prob.data, dict(prob.data_options), dict(prob.params),
                             checked, start, arm)
    order: list[Stage] = []

    def visit(name: str, trail: list[str]) -> None:
        if any(s.name == name for s in order):
            return
        if name in trail:
            cycle = " -> ".join([*trail[trail.index(name):], name])
            chk.fail(f"stages.{name}.start_from", f"the stages start from each other in a cycle: {cycle}.")
        nxt = stages[name].start_from
        if nxt in stages:
            if stages[nxt].model != stages[name].model:
                chk.fail(f"stages.{name}.start_from", _family(stages[name].model, nxt, stages[nxt].model))
            visit(nxt, [*trail, name])
        order.append(stages[name])

    for name in names:
        visit(name, [])
    start = source(raw["start_from"], "start_from") if "start_from" in raw else None
    if start is None and names:
        chk.fail("start_from", f"the study declares stages ({', '.join(names)}) but no start_from naming the one its "
                 "cells start from.")
    thaw = {**THAW, **chk.mapping(raw.get("thaw") or {}, "thaw", list(THAW))}
    for k, v in thaw.items():
        if k == "lr_scale":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1:
                chk.fail("thaw.lr_scale", f"must be a number in (0, 1] (the thawed blocks' rate / the head's), got {config.shown(v)}.")
        elif isinstance(v, bool) or not isinstance(v, int) or v < 1:
            chk.fail(f"thaw.{k}", f"must be an integer >= 1, got {config.shown(v)}.")
    for p in targets:
        src_model = stages[start].model if start in stages else _pretrained_model(start) if start else None
        if src_model is not None and src_model != p.model:
            chk.fail("start_from", f"problem {p.id}: " + _family(p.model, start, src_model))
        for key in OWNED:
            if key in p.params:
                chk.fail(f"problems.{p.id}.params.{key}", f"{key!r} is set by start_from and the transfer arm.")
        tables[p.id][AXIS] = config.Setting(AXIS, "stages", str, "full")
    used = {start, *(st.start_from for st in stages.values())}
    for name in names:
        if name not in used:
            chk.fail(f"stages.{name}", f"no cell starts from stage {name!r}; name it in start_from or remove it.")
    return StagePlan(tuple(order), start, thaw)


def _pretrained_model(pid: str) -> str:
    from zoo.pretrained import get_pretrained

    return get_pretrained(pid).model


def _family(model: str, source: str, other: str) -> str:
    return (f"it trains {model!r} but its source {source!r} is a {other!r} model; a transfer keeps the "
            "source's model family (start from a checkpoint of the same model).")


def check_axis(chk: Any, plan: StagePlan | None, path: str, key: str) -> None:
    """A study with stages sets ``init_from``/``freeze`` through its arms; one without has no ``transfer`` axis."""
    if plan is not None and key in OWNED:
        chk.fail(path, f"{key!r} is set by start_from and the transfer arm.", ARMS)
    if plan is None and key == AXIS:
        chk.fail(path, "transfer arms need start_from: the stage or pretrained id the cells start from.")


def check_shapes(chk: Any, cells: Sequence[Cell], plan: StagePlan) -> None:
    """Every cell that starts from a source loads it: the same tensors, shape for shape, but the head
    (new when the classes differ) and the layers it re-initializes (``reinit``); one line otherwise.
    A source and a target of other inputs (another dataset, ``flatten``...) load their data once each for
    its sizes (embedded data: milliseconds); those of the same inputs read none."""
    from zoo import factory, registry

    infos: dict[str, Any] = {}

    def inputs(data: str, params: Mapping[str, Any]) -> str:
        """What decides the inputs' shape: the dataset and its options but those choosing rows or classes."""
        opts = {k: v for k, v in (params.get("data_options") or {}).items() if k not in SUBSET_OPTIONS}
        return canonical([data, opts])

    def explicit(model: str, data: str, params: Mapping[str, Any]) -> Any:
        settings, _ = run_settings(params)
        settings.pop("init_from", None), settings.pop("freeze", None), settings.pop("reinit", None)
        if isinstance(settings.get("lr"), Mapping):  # chosen by a tuner when the cell runs
            settings.pop("lr")
        return factory.resolve(model, data, **{k: v for k, v in settings.items() if k not in THAW_SETTINGS})

    def kwargs(model: str, data: str, params: Mapping[str, Any], load: bool) -> dict[str, Any]:
        """The builder's kwargs; ``load``: with the sizes the data implies (else the family's defaults)."""
        cfg = explicit(model, data, params)
        if not load:
            return dict(cfg.model_settings)
        key = canonical([data, cfg.data.data_options])
        if key not in infos:
            from zoo.training import load_data

            infos[key] = load_data(data, batch_size=cfg.data.batch_size, seed=0, data_options=cfg.data.data_options).info
        entry = registry.get(model)
        return {**(entry.from_data(infos[key]) if entry.from_data else {}), **cfg.model_settings}

    seen: set[str] = set()
    for cell in cells:
        ref = cell.params.get("start_from")
        if not isinstance(ref, Mapping):
            continue
        key = canonical([cell.problem, {k: v for k, v in cell.params.items() if k not in ("start_from", AXIS, "thaw")},
                         ref.get("stage") or ref.get("pretrained")])
        if key in seen:
            continue
        seen.add(key)
        name = ref.get("stage") or ref.get("pretrained")
        try:
            mine = explicit(cell.model, cell.data, cell.params).model_settings
            if "stage" in ref:
                st = plan.stage(ref["stage"])
                st_params = {**st.params, **({"data_options": st.data_options} if st.data_options else {})}
                msg = _other_settings(name, cell, explicit(st.model, st.data, st_params).model_settings, mine)
                same = inputs(st.data, st_params) == inputs(cell.data, cell.params)  # then no data is read...

                def shapes_differ(load: bool) -> str | None:
                    return _mismatch(name, cell, _shapes(st.model, kwargs(st.model, st.data, st_params, load)),
                                     _shapes(cell.model, kwargs(cell.model, cell.data, cell.params, load)))

                msg = msg or shapes_differ(not same)
                if msg and same and msg.startswith(f"problem {cell.problem} starts from"):
                    msg = shapes_differ(True)  # ...unless to name the data's shapes in the message
            else:
                from zoo.checkpoint import read_card  # a checkpoint's card: Lightning's data module class with it
                from zoo.data.core import DataInfo
                from zoo.hub import folder_of

                card = read_card(folder_of(ref["pretrained"])[0])
                entry = registry.get(card["model"])
                fields = config.dataclass_settings(entry.config, "model")
                implied = entry.from_data(DataInfo.from_dict(card["data"])) if entry.from_data and card.get("data") else {}
                src = {k: v for k, v in card["kwargs"].items() if k in fields}
                msg = _other_settings(name, cell, {k: v for k, v in src.items() if k not in implied}, mine) or _mismatch(
                    name, cell, _shapes(card["model"], src), _shapes(cell.model, kwargs(cell.model, cell.data, cell.params, True)))
        except ZooError as e:
            chk.fail("", f"problem {cell.problem}: {e}")
        if msg:
            chk.fail("", msg)


def _other_settings(name: str, cell: Cell, src: Mapping[str, Any], mine: Mapping[str, Any]) -> str | None:
    """The first model setting that ``cell`` sets otherwise than its source (each one's value, else the
    family's default), or None: an arm from the checkpoint keeps the source's, so ``scratch`` must too."""
    from zoo import registry

    defaults = config.dataclass_settings(registry.get(cell.model).config, "model")
    for k in sorted({*src, *mine}):
        a, b = (normalize(d.get(k, defaults[k].default if k in defaults else None)) for d in (src, mine))
        if canonical(a) != canonical(b):
            return (f"problem {cell.problem} sets {k}={config.shown(b)}, but its source {name!r} has {k}={config.shown(a)}; "
                    "a transfer keeps the source's model, so give both the same model settings.")
    return None


def _shapes(model: str, kw: Mapping[str, Any]) -> tuple[dict[str, tuple[int, ...]], tuple[str, ...], set[str]]:
    """A model's tensor shapes (built on torch's meta device: nothing allocated), its head names and the
    tensors whose rows are a vocabulary (aligned on load, so their row counts may differ)."""
    import torch

    from zoo import registry
    from zoo.transfer import head_names, vocab_rows

    with torch.device("meta"):
        m = registry.call_builder(model, dict(kw))
    rows = {t for names in vocab_rows(m).values() for t in names}
    return {k: tuple(v.shape) for k, v in m.state_dict().items()}, head_names(m), rows


def _mismatch(name: str, cell: Cell, source: tuple, target: tuple) -> str | None:
    """Why ``cell`` (``target``: its model's :func:`_shapes`) cannot load a checkpoint of ``source``'s shapes
    (its head and ``reinit`` layers aside, and the row counts of its vocabulary tensors), or None."""
    src, mine, heads, rows = source[0], *target
    skip = (*heads, *(cell.params.get("reinit") or ()))

    def under(k: str) -> bool:
        return any(k == layer or k.startswith(layer + ".") for layer in skip)

    def same(k: str) -> bool:
        return src[k] == mine[k] or (k in rows and src[k][1:] == mine[k][1:])

    where = f"problem {cell.problem} starts from {name!r}"
    for k, want in mine.items():
        if not under(k) and k in src and not same(k):
            layer = k.rsplit(".", 1)[0]
            return (f"{where}, but tensor {k!r} has shape {list(src[k])} there and {list(want)} here; "
                    f"set reinit: [{layer}] to re-initialize that layer, or give both the same settings.")
    extra = sorted({k for k in src if not under(k)} ^ {k for k in mine if not under(k)})
    if extra:
        return f"{where}, but the two models' layers differ ({', '.join(extra[:4])}); give both the same settings."
    return None
