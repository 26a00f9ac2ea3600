"""``zoo list`` and ``zoo train``: the commands over the zoo's own API."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from zoo.flags import TypedValue, add_dataclass_flags


def add_commands(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser("list", help="list models and datasets")
    p.add_argument("what", nargs="?", default="all", choices=("all", "models", "datasets"))
    p.add_argument("--pattern", default="*", help="shell-style filter, e.g. 'char_*'")
    p.set_defaults(run=cmd_list)

    p = sub.add_parser(
        "train",
        help="train a model on a dataset, evaluate it and save a checkpoint",
        description="Train MODEL on DATA. `zoo train MODEL --help` lists the model's own flags.",
    )
    p.add_argument("model", help="a model name (zoo list models)")
    add_run_flags(p)
    if argv[:1] == ["train"]:  # the model, optimizer and loop flags import torch: only for `zoo train`
        model = argv[1] if len(argv) > 1 and not argv[1].startswith("-") else None
        add_model_flags(p, model)
    p.set_defaults(run=cmd_train)


def add_run_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("run")
    g.add_argument("--data", help="dataset name (default: the model's embedded default; zoo list datasets)")
    g.add_argument("--data-option", "--data_option", action="append", default=[], metavar="KEY=VALUE",
                   help="dataset loader option, e.g. limit=2000 or val_size=5000 (repeatable)")
    g.add_argument("--seed", type=int, default=0, help="seed of initialization and batch order (default: 0)")
    g.add_argument("--batch-size", "--batch_size", type=int, default=32, help="training batch size (default: 32)")
    g.add_argument("--out", help="run folder (default: runs/train/MODEL-DATA-TIME); must be new")
    g.add_argument("--logger", default="csv", help="csv, tensorboard, wandb (offline unless configured) or none")
    g.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")


def add_model_flags(p: argparse.ArgumentParser, model: str | None) -> None:
    """Flags of the model's config, the optimizer, the task and the loop."""
    from zoo import models  # the filled model registry
    from zoo.engine import LoopConfig
    from zoo.optim import OptimConfig
    from zoo.tasks import TASKS

    if model is not None and model in models.list_models():
        entry = models.get(model)
        implied = {"in_features", "num_classes", "vocab_size", "in_channels", "src_vocab_size", "tgt_vocab_size"}
        add_dataclass_flags(p, entry.config, skip=implied, title=f"model {model}: {entry.summary}")
        done: set[str] = set()
        for cls in dict.fromkeys(TASKS[kind] for kind in entry.tasks):
            done |= _add_task_flags(p, cls, skip=done)
    add_dataclass_flags(p, OptimConfig, title="optimizer and learning-rate schedule")
    add_dataclass_flags(p, LoopConfig, title="training loop")


def _add_task_flags(p: argparse.ArgumentParser, cls: type, skip: set[str]) -> set[str]:
    """Flags for a task's keyword arguments (l1, l2, label_smoothing, ...); returns the names added."""
    import inspect
    import typing

    sig = inspect.signature(cls.__init__)
    hints = typing.get_type_hints(cls.__init__)
    g = p.add_argument_group(f"task ({cls.__name__})")
    added = set()
    for name, prm in sig.parameters.items():
        if name in ("self", "model", "optim", "binary") or name in skip:
            continue
        tp = hints.get(name, str)
        g.add_argument(f"--{name}", *([f"--{name.replace('_', '-')}"] if "_" in name else []), dest=name,
                       default=argparse.SUPPRESS, type=TypedValue(tp, name), help=f"(default: {prm.default})")
        added.add(name)
    return added


def _data_options(items: list[str]) -> dict[str, Any]:
    from zoo.errors import ConfigError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--data-option takes KEY=VALUE, got {item!r}.")
        for cast in (int, float):
            try:
                out[key] = cast(value)
                break
            except ValueError:
                continue
        else:
            out[key] = {"true": True, "false": False}.get(value.lower(), value)
    return out


RUN_KEYS = ("command", "run", "model", "data", "data_option", "seed", "batch_size", "out", "logger", "threads")


def cmd_train(args: argparse.Namespace) -> int:
    from zoo import registry
    from zoo.training import headline, train

    entry = registry.get(args.model)  # unknown name: one line with close matches
    data = args.data or entry.default_data
    kwargs = {k: v for k, v in vars(args).items() if k not in RUN_KEYS}
    out = Path(args.out) if args.out else Path("runs") / "train" / f"{args.model}-{data}-{time.strftime('%Y%m%d-%H%M%S')}"
    print(f"zoo train {args.model} on {data} -> {out}", file=sys.stderr)
    res = train(
        args.model, data, seed=args.seed, batch_size=args.batch_size, data_options=_data_options(args.data_option),
        out_dir=out, logger=args.logger, threads=args.threads, **kwargs,
    )
    f = res.fit
    print(f"stopped: {f.stop_reason} after {len(f.history)} epochs, {f.steps} steps ({f.steps_per_epoch} per epoch); "
          f"best epoch {f.best_epoch} ({f.monitor} {f.best_score:.4g}); {f.throughput:,.0f} samples/s; {res.seconds:.1f} s")
    for split in ("val", "test"):
        scalars = headline(res.metrics[split])
        print(f"{split}: " + "  ".join(f"{k} {v:.4f}" for k, v in scalars.items()))
    print(f"run folder: {out}  (checkpoint: {out / 'checkpoint'})")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Models and datasets from the zoo's index (``zoo/index.py``): no torch, no Lightning."""
    import fnmatch

    from zoo import index

    listing = index.read()
    if args.what in ("all", "models"):
        print("models:")
        for e in listing["models"]:
            if fnmatch.fnmatchcase(e["name"], args.pattern):
                print(f"  {e['name']:<18} {'/'.join(e['tasks']):<28} {e['summary']}")
    if args.what in ("all", "datasets"):
        print("datasets:")
        for d in listing["datasets"]:
            if fnmatch.fnmatchcase(d["name"], args.pattern):
                where = "embedded" if d["embedded"] else "data dir"
                print(f"  {d['name']:<18} {d['kind']:<14} {where}")
    return 0
