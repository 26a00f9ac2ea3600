"""``zoo list`` and ``zoo train``: the commands over the zoo's own API.

``zoo train``'s flags are generated from the configuration dataclasses (zoo/config.py:
the model family's config, the task's settings, OptimConfig, LoopConfig, DataConfig,
RunSettings), with the field docstrings as help, as in litgpt's ``args.py``.
``--config FILE`` reads a YAML recipe or a checkpoint card's configuration; flags given
explicitly override it (LightningCLI's convention). ``--print-config`` prints the
resolved configuration as YAML and exits.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import sys
import textwrap
import time
import typing
from functools import lru_cache
from pathlib import Path
from typing import Any

IMPLIED = {"in_features", "num_classes", "vocab_size", "in_channels", "src_vocab_size", "tgt_vocab_size"}
"""Model settings a dataset implies: no flag (a configuration file or the Python API may still set them)."""


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
    p.add_argument("model", nargs="?", help="a model name (zoo list models); optional with --config")
    p.add_argument("--config", metavar="FILE",
                   help="a YAML recipe, or a checkpoint's card.json (or its folder): its configuration, under the flags given")
    p.add_argument("--print-config", "--print_config", action="store_true",
                   help="print the resolved configuration as YAML and exit")
    p.add_argument("--out", help="run folder (default: runs/train/MODEL-DATA-TIME); must be new")
    p.set_defaults(run=cmd_train)
    if argv[:1] == ["train"]:  # the settings' flags need torch and the registries: only for this command
        add_setting_flags(p, _model_in(argv[1:]))

    p = sub.add_parser(
        "finetune",
        help="fine-tune a pretrained checkpoint (an id or a folder) on a dataset: a new head, the backbone frozen",
        description="Fine-tune SOURCE (a pretrained id or a checkpoint folder) on DATA: `zoo train MODEL --init-from "
                    "SOURCE --freeze backbone`, with the model read from the checkpoint; any train flag applies.",
    )
    p.add_argument("source", metavar="SOURCE", help="a pretrained id (zoo pretrained list) or a checkpoint folder")
    p.add_argument("--classes", help="train on these classes only, e.g. sandal,shirt or 5,6 (a data option)")
    p.add_argument("--labelled", help="this many labelled training examples, stratified (a data option)")
    p.add_argument("--out", help="run folder (default: runs/finetune/SOURCE-DATA-TIME); must be new")
    p.set_defaults(run=cmd_finetune, config=None, print_config=False)
    if argv[:1] == ["finetune"]:
        add_setting_flags(p, _source_model(argv[1]) if len(argv) > 1 and not argv[1].startswith("-") else None)

    p = sub.add_parser("evaluate", help="evaluate a checkpoint (a pretrained id or a folder) on a split of a dataset")
    p.add_argument("source", metavar="SOURCE", help="a pretrained id (zoo pretrained list) or a checkpoint folder")
    p.add_argument("--data", help="dataset (default: the one it was trained on)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"), help="split to score (default: test)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--beam", type=int, default=1, help="translation models: also BLEU of beam search of this width, 2-16 (default: 1, greedy only)")
    p.set_defaults(run=cmd_evaluate)


def _source_model(source: str) -> str:
    """The model name of a pretrained id or a checkpoint folder (its card, verified)."""
    from zoo.checkpoint import read_card
    from zoo.hub import folder_of

    return read_card(folder_of(source)[0])["model"]


def _model_in(argv: list[str]) -> str | None:
    """The model named on the command line, or in the ``--config`` file."""
    if argv and not argv[0].startswith("-"):
        return argv[0]
    for i, a in enumerate(argv):
        if a.startswith("--config="):
            return read_config_file(a.split("=", 1)[1]).model
        if a == "--config" and i + 1 < len(argv):
            return read_config_file(argv[i + 1]).model
    return None


def add_setting_flags(p: argparse.ArgumentParser, model: str | None) -> None:
    """Flags of the data, the run, the model's config, its tasks, the optimizer and the loop."""
    from zoo import config, models  # the filled model registry
    from zoo.optim import OptimConfig

    add_dataclass_flags(p, config.DataConfig, skip={"data_options"}, title="data")
    p.add_argument("--data-option", "--data_option", action="append", metavar="KEY=VALUE",
                   default=argparse.SUPPRESS, help="dataset loader option, e.g. limit=2000 or val_size=5000 (repeatable)")
    add_dataclass_flags(p, config.RunSettings, title="run")
    if model is not None and model in models.list_models():
        entry = models.get(model)
        add_dataclass_flags(p, entry.config, skip=IMPLIED, title=f"model {model}: {entry.summary}")
        done: set[str] = set()
        for cls in dict.fromkeys(config.TASK_SETTINGS[kind] for kind in entry.tasks if kind in config.TASK_SETTINGS):
            done |= set(add_dataclass_flags(p, cls, skip=done, title=f"task ({cls.__doc__.splitlines()[0].rstrip('.')})"))
    add_dataclass_flags(p, OptimConfig, title="optimizer and learning-rate schedule")
    add_dataclass_flags(p, config.LoopConfig, title="training loop")


@lru_cache(maxsize=None)
def field_docs(cls: type) -> dict[str, str]:
    """``{field: docstring}`` read from the string literal under each field of ``cls`` (help texts)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, nxt in zip(body, body[1:]):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str):
                    docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def add_dataclass_flags(parser: Any, cls: type, *, skip: set[str] = frozenset(), title: str | None = None) -> list[str]:
    """Add ``--field`` (and ``--field-name``) for each field of ``cls``; returns the field names added."""
    from zoo.config import dataclass_settings

    group = parser.add_argument_group(title or (cls.__doc__ or cls.__name__).splitlines()[0])
    docs = field_docs(cls)
    added = []
    for s in dataclass_settings(cls, "").values():
        if s.name in skip:
            continue
        names = [f"--{s.name}"] + ([f"--{s.name.replace('_', '-')}"] if "_" in s.name else [])
        shown = ",".join(map(str, s.default)) if isinstance(s.default, tuple) else s.default
        group.add_argument(*names, dest=s.name, metavar=_metavar(s.type), default=argparse.SUPPRESS,
                           help=f"{docs.get(s.name, '')} (default: {shown})", type=TypedValue(s.type, s.name, s.default in ("", ())))
        added.append(s.name)
    return added


class TypedValue:
    """argparse ``type=`` for a typed value: :func:`zoo.config.coerce` of the text, one-line message."""

    def __init__(self, tp: Any, name: str, empty_ok: bool = False):
        self.tp, self.name, self.empty_ok, self.__name__ = tp, name, empty_ok, name

    def __call__(self, text: str) -> Any:
        from zoo.config import coerce
        from zoo.errors import ConfigError

        try:
            return coerce(text, self.tp, self.name, text=True, empty_ok=self.empty_ok)
        except ConfigError as e:  # argparse reports ArgumentTypeError's own message
            raise argparse.ArgumentTypeError(str(e)) from None


def _metavar(tp: Any) -> str:
    from zoo.config import unwrap_optional

    base, _ = unwrap_optional(tp)
    if typing.get_origin(base) in (tuple, list):
        return "A,B,..."
    return {int: "INT", float: "FLOAT", bool: "BOOL"}.get(base, "STR")


def read_config_file(path: str):
    """A :class:`zoo.config.ConfigFile` from a YAML recipe, a card.json (or its folder) or a result.json."""
    import json

    from zoo.bench.yamlfile import FileError, read_yaml
    from zoo.checkpoint import MAX_CARD_BYTES, read_card
    from zoo.config import read_config
    from zoo.errors import ConfigError
    from zoo.io import read_regular

    p = Path(path)
    if p.is_dir() and (p / "card.json").is_file():
        p = p / "card.json"
    if p.suffix == ".json":
        raw = read_regular(p, max_bytes=MAX_CARD_BYTES, what="configuration file", error=ConfigError)
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise FileError(str(p), "", f"cannot read the configuration ({' '.join(str(e).split())[:120]}).") from None
        if isinstance(doc, dict) and "format" in doc:  # a checkpoint card: verified whole, as every load of one
            doc = read_card(p)
    else:
        doc = read_yaml(p, what="configuration file")
    if isinstance(doc, dict) and ("format" in doc or "spec" in doc):  # a card or a result.json, not a recipe
        doc = doc.get("config")
        if not isinstance(doc, dict):
            raise FileError(str(p), "config", "holds no run configuration (written before zoo recorded it).")
    return read_config(doc, str(p))


def cmd_train(args: argparse.Namespace) -> int:
    import yaml

    from zoo import factory, models
    from zoo.config import check_data_options, coerce
    from zoo.errors import ConfigError
    from zoo.training import headline, train

    file = read_config_file(args.config) if args.config else None
    model = args.model or (file.model if file else None)
    if model is None:
        raise ConfigError("zoo train needs a MODEL (zoo list models) or --config FILE naming one.")
    entry = models.get(model)  # unknown name: one line with close matches
    meta = {"command", "run", "model", "config", "print_config", "out", "data_option", "data"}
    flags = {k: v for k, v in vars(args).items() if k not in meta}
    data = getattr(args, "data", None)
    if data is None and file is not None:
        data = file.settings.get("data")
    data = coerce(data, str | None, "data")  # '' is refused here, by name
    if getattr(args, "data_option", None):  # KEY=VALUE texts, typed by the loader's options, over the file's
        opts = {}
        for item in args.data_option:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise ConfigError(f"--data-option takes KEY=VALUE, got {item!r}.")
            opts[key] = value
        name = data or entry.default_data
        types = factory.dataset_kind_and_options(name)[1] if name else None
        earlier = file.settings.get("data_options") if file else None
        flags["data_options"] = {**(earlier if isinstance(earlier, dict) else {}),
                                 **check_data_options(opts, types, dataset=str(name), text=True)}
    cfg = factory.resolve(model, data, file=file, **flags)
    if args.print_config:
        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False, default_flow_style=None), end="")
        return 0
    out = args.out if args.out is not None else Path("runs") / "train" / f"{model}-{cfg.data.data}-{time.strftime('%Y%m%d-%H%M%S')}"

    def ready(cfg: Any, run_dir: Path | None) -> None:
        print(f"zoo train {model} on {cfg.data.data} -> {run_dir}", file=sys.stderr)

    res = train(model, cfg.data.data, out_dir=out, on_ready=ready, file=file, **flags)
    f = res.fit
    if "embeddings" in res.task.zoo_spec:
        from zoo.embeddings import describe

        print(describe(res.task.zoo_spec["embeddings"]))
    print(f"stopped: {f.stop_reason} after {len(f.history)} epochs, {f.steps} steps ({f.steps_per_epoch} per epoch); "
          f"best epoch {f.best_epoch} ({f.monitor} {f.best_score:.4g}); {f.throughput:,.0f} samples/s; {res.seconds:.1f} s")
    for split in ("val", "test"):
        scalars = headline(res.metrics[split])
        print(f"{split}: " + "  ".join(f"{k} {v:.4f}" for k, v in scalars.items()))
    if f.diverged:
        print(f"zoo: error: training diverged (the loss became NaN or infinite at epoch {len(f.history)}); "
              f"no checkpoint was written; status 'diverged' in {Path(out) / 'result.json'}.", file=sys.stderr)
        return 1
    print(f"run folder: {out}  (checkpoint: {Path(out) / 'checkpoint'})")
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    """``zoo finetune SOURCE ...`` is ``zoo train MODEL --init-from SOURCE --freeze backbone ...``."""
    args.model = _source_model(args.source)
    args.init_from = args.source
    if not hasattr(args, "freeze"):
        args.freeze = "backbone"
    options = list(getattr(args, "data_option", []) or [])
    options += [f"classes={args.classes}"] if args.classes is not None else []
    options += [f"labelled={args.labelled}"] if args.labelled is not None else []
    if options:
        args.data_option = options
    if args.out is None:
        name = Path(str(args.source)).name
        args.out = Path("runs") / "finetune" / f"{name}-{getattr(args, 'data', None) or 'data'}-{time.strftime('%Y%m%d-%H%M%S')}"
    for key in ("source", "classes", "labelled"):
        delattr(args, key)
    return cmd_train(args)


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from zoo.checkpoint import read_card
    from zoo.errors import ConfigError
    from zoo.hub import folder_of, load_pretrained
    from zoo.training import headline, load_data

    folder, _ = folder_of(args.source)
    card = read_card(folder)
    data = args.data or (card.get("data") or {}).get("name")
    if not data:
        raise ConfigError(f"{args.source} does not record its dataset; pass --data NAME.")
    same = data == (card.get("data") or {}).get("name")
    options = dict(card.get("data_options") or {}) if same else {}
    dm = load_data(data, batch_size=card.get("batch_size") or 256, seed=card.get("seed", 0), data_options=options)
    n = dm.info.num_classes
    if not same and n is not None and n != card["kwargs"].get("num_classes"):
        raise ConfigError(f"{args.source} predicts {card['kwargs'].get('num_classes')} classes; {data!r} has {n}: "
                          "fine-tune it first (zoo finetune).")
    task = load_pretrained(args.source)
    if args.beam != 1:
        if not hasattr(task, "eval_beam"):
            raise ConfigError(f"--beam is for translation models; {args.source} is a {card['model']!r} checkpoint.")
        if not 2 <= args.beam <= 16:
            raise ConfigError(f"--beam must be an integer from 1 (greedy) to 16, got {args.beam}.")
        task.eval_beam = args.beam
    task.use_data(dm)
    metrics, _ = task.evaluate(getattr(dm, f"{args.split}_dataloader")())
    scalars = headline(metrics)
    if args.json:
        print(json.dumps({"source": str(args.source), "data": data, "split": args.split, "metrics": scalars}))
    else:
        print(f"{args.source} on {data} ({args.split}): " + "  ".join(f"{k} {v:.4f}" for k, v in scalars.items()))
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

