"""``zoo pretrained list [PATTERN]`` and ``zoo pretrained show ID``: the shipped checkpoints.

The entries are :mod:`zoo.pretrained`'s (registered at the bottom of each family's file);
``show`` prints one entry as a model card and says where its files would be loaded from
(``zoo/hub.py``) without downloading anything.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

HELP = "list the pretrained checkpoints, or show one as a model card (zoo pretrained list|show)"


def add_commands(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser("pretrained", help=HELP, description=HELP + ".")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    actions.required = True
    ls = actions.add_parser("list", help="ids of the pretrained checkpoints, with their headline figure")
    ls.add_argument("pattern", nargs="?", default="*", help="shell-style pattern, e.g. 'mlp-*' (default: all)")
    show = actions.add_parser("show", help="the model card of one pretrained checkpoint")
    show.add_argument("id", help="a pretrained id (zoo pretrained list shows them)")
    p.set_defaults(run=cmd_pretrained)


HEADLINE = ("acc", "rmse", "analogy_acc", "bleu")
"""The figure a listing shows, the first an entry has (else its first metric, e.g. a language model's loss)."""


def _figure(entry) -> str:
    key = next((k for k in HEADLINE if k in entry.metrics), next(iter(entry.metrics)))
    return f"{entry.split} {key} {entry.metrics[key]:.4f}"


def cmd_pretrained(args: argparse.Namespace) -> int:
    return {"list": cmd_list, "show": cmd_show}[args.action](args)


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
