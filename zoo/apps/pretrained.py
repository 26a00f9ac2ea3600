"""``zoo pretrained list [PATTERN]``, ``zoo pretrained show ID`` and ``zoo pretrained pack``.

The entries are :mod:`zoo.pretrained`'s (registered at the bottom of each family's file);
``show`` prints one entry as a model card and says where its files would be loaded from
(``zoo/hub.py``) without downloading anything. ``pack`` makes the files of a new entry from a
trained checkpoint: its weights in a storage precision (``zoo/checkpoint.py`` ``STORAGE``),
every split its card scored re-scored on the weights as stored, and the entry's fields printed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

HELP = "list the pretrained checkpoints, show one as a model card, or pack a trained one (zoo pretrained list|show|pack)"


def add_commands(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser("pretrained", help=HELP, description=HELP + ".")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    actions.required = True
    ls = actions.add_parser("list", help="ids of the pretrained checkpoints, with their headline figure")
    ls.add_argument("pattern", nargs="?", default="*", help="shell-style pattern, e.g. 'mlp-*' (default: all)")
    show = actions.add_parser("show", help="the model card of one pretrained checkpoint")
    show.add_argument("id", help="a pretrained id (zoo pretrained list shows them)")
    pack = actions.add_parser("pack", help="a trained checkpoint as the files of a pretrained entry, re-scored as stored")
    pack.add_argument("source", help="a checkpoint folder (a run's checkpoint/) or a pretrained id")
    pack.add_argument("--id", required=True, help="the entry's id, <model>-<dataset>[-<tag>]")
    pack.add_argument("--storage", default="float32", help="precision of the stored weights: float32, float16 or bfloat16")
    pack.add_argument("--out", help="folder to write (new; default weights/ID)")
    p.set_defaults(run=cmd_pretrained)


HEADLINE = ("acc", "rmse", "analogy_acc", "bleu")
"""The figure a listing shows, the first an entry has (else its first metric, e.g. a language model's loss)."""


def _figure(entry) -> str:
    key = next((k for k in HEADLINE if k in entry.metrics), next(iter(entry.metrics)))
    return f"{entry.split} {key} {entry.metrics[key]:.4f}"


def cmd_pretrained(args: argparse.Namespace) -> int:
    return {"list": cmd_list, "show": cmd_show, "pack": cmd_pack}[args.action](args)


def cmd_list(args: argparse.Namespace) -> int:
    from zoo.hub import list_pretrained, get_pretrained

    ids = list_pretrained(args.pattern)
    if not ids:
        print(f"no pretrained checkpoint matches {args.pattern!r} (zoo pretrained list shows them all).", file=sys.stderr)
        return 1
    width = max(map(len, ids))
    for i in ids:
        e = get_pretrained(i)
        print(f"{i:<{width}}  {_figure(e):<18}  {e.num_parameters:>9,} params{'  (default)' if e.default else ''}  {e.summary}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from zoo.hub import where
    from zoo.pretrained import get_pretrained

    e = get_pretrained(args.id)
    metrics = "  ".join(f"{k} {v:.4f}" for k, v in e.metrics.items())
    lines = [
        f"{e.id}: {e.summary}",
        f"  model       {e.model}{'  (the default for pretrained=True)' if e.default else ''}",
        f"  trained on  {e.dataset}",
        f"  metrics     {e.split}: {metrics}",
        f"  parameters  {e.num_parameters:,}",
        f"  classes     {', '.join(e.classes) if e.classes else '-'}",
        f"  recipe      {e.recipe}   (re-train: zoo train --config {e.recipe})",
        f"  licence     training data: {e.licence}",
        "  made with   " + ", ".join(f"{k} {v}" for k, v in e.versions.items()),
        *(f"  file        {f.path}  {f.size:,} bytes  sha256 {f.sha256}" for f in e.files),
        f"  found at    {where(e)}",
        "  use         " + (f"zoo finetune {e.id} --data DATA [--classes ...] [--labelled N]   or   "
                             f"zoo.create({e.model!r}, pretrained={e.id!r}, num_classes=..., freeze='backbone')"
                             if e.classes else f"zoo.load_pretrained({e.id!r})   or   zoo train {e.model} "
                             f"--init-from {e.id} --data DATA"),
        f"  evaluate    zoo evaluate {e.id} [--split val]",
    ]
    if e.notes:
        lines.insert(1, f"  note        {e.notes}")
    print("\n".join(lines))
    return 0


KEPT = ("seed", "batch_size", "data_options", "fit", "config", "origin", "parent")
"""Card fields a packed checkpoint carries over from its source (the rest is made anew)."""


def pack(source: str, id: str, *, storage: str = "float32", out: str | None = None) -> tuple[Any, dict[str, Any]]:
    """Write ``source`` as the files of pretrained entry ``id`` into ``out`` (default ``weights/<id>``).

    The weights are rounded to ``storage`` first and every split the source's card scored is
    scored again on them, on the card's data, so the new card's metrics are those of the file
    as shipped. Returns (the new folder, the new card).
    """
    from pathlib import Path

    from zoo.checkpoint import STORAGE, load_checkpoint, read_card, save_checkpoint, stored
    from zoo.errors import ConfigError, check_choice
    from zoo.hub import folder_of
    from zoo.pretrained import SPLITS, id_problem
    from zoo.training import load_data

    check_choice("storage", storage, tuple(STORAGE))
    dest = Path(out) if out else Path("weights") / id
    if dest.exists():
        raise ConfigError(f"{dest} exists; pack into a new folder (nothing was overwritten).")
    folder, _ = folder_of(source)
    card = read_card(folder)
    model, dataset = card["model"], (card.get("data") or {}).get("name")
    if not dataset:
        raise ConfigError(f"{source} does not record its dataset, so its metrics cannot be measured again.")
    problem = id_problem(id, model, dataset)
    if problem:
        raise ConfigError(f"{problem} ({source} is a {model} checkpoint trained on {dataset}.)")
    task = load_checkpoint(folder)
    task.model.load_state_dict({k: stored(v, storage) for k, v in task.model.state_dict().items()})
    dm = load_data(dataset, batch_size=card.get("batch_size") or 256, seed=card.get("seed", 0),
                   data_options=card.get("data_options"))
    task.use_data(dm)
    metrics = {}
    for split in (s for s in SPLITS if s in (card.get("metrics") or {})):
        metrics[split], _ = task.evaluate(getattr(dm, f"{split}_dataloader")())
    kept = {k: card[k] for k in KEPT if k in card}
    save_checkpoint(task, dest, metrics=metrics, storage=storage, **kept)
    return dest, read_card(dest)


def cmd_pack(args: argparse.Namespace) -> int:
    import hashlib

    from zoo.checkpoint import CARD, WEIGHTS, read_card
    from zoo.hub import folder_of
    from zoo.training import headline

    before = read_card(folder_of(args.source)[0])["metrics"]
    dest, card = pack(args.source, args.id, storage=args.storage, out=args.out)
    for split, now in card["metrics"].items():
        was = headline(before.get(split, {}))
        print(f"{split}: " + "  ".join(f"{k} {v:.6g} (was {was[k]:.6g})" if k in was else f"{k} {v:.6g}"
                                       for k, v in headline(now).items()))
    files = [(f"weights/{args.id}/{n}", (dest / n).read_bytes()) for n in (WEIGHTS, CARD)]
    print(f"wrote {dest}; its entry's files and parameters:")
    print(f"    num_parameters={card['num_parameters']},")
    print("    files=(" + ",\n           ".join(f"WeightFile({p!r}, {hashlib.sha256(b).hexdigest()!r}, {len(b)})"
                                              for p, b in files) + "),")
    return 0
