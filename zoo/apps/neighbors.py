"""``zoo neighbors`` and ``zoo analogy``: word-vector queries on a trained word2vec checkpoint.

The vectors and their queries are :class:`zoo.eval_words.WordVectors`; this app
loads them from a checkpoint folder and prints the answers.
"""

from __future__ import annotations

import argparse
from typing import Any

from zoo.apps.load import load_for
from zoo.errors import check_positive


def add_commands(sub: Any, argv: list[str]) -> None:
    """``zoo neighbors CHECKPOINT WORD...`` and ``zoo analogy CHECKPOINT A B C``."""
    p = sub.add_parser("neighbors", help="nearest neighbours of words in a trained word2vec checkpoint")
    p.add_argument("checkpoint", help="a pretrained id (zoo pretrained list), a checkpoint folder, or a run folder holding checkpoint/")
    p.add_argument("words", nargs="+", help="words to look up")
    p.add_argument("--top", type=int, default=10, help="neighbours per word (default: 10)")
    p.set_defaults(run=cmd_neighbors)
    p = sub.add_parser("analogy", help="a is to b as c is to ? (3CosAdd) with a trained word2vec checkpoint")
    p.add_argument("checkpoint", help="a pretrained id (zoo pretrained list), a checkpoint folder, or a run folder holding checkpoint/")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("c")
    p.add_argument("--top", type=int, default=5, help="answers to show (default: 5)")
    p.set_defaults(run=cmd_analogy)


def load_word_vectors(path: str):
    """The :class:`~zoo.eval_words.WordVectors` of a checkpoint (or run) folder."""
    return load_for(path, task="embedding", what="word vectors", command="neighbors",
                    models="a word2vec checkpoint").word_vectors()


def cmd_neighbors(args: argparse.Namespace) -> int:
    check_positive("--top", args.top, integer=True)
    wv = load_word_vectors(args.checkpoint)
    for word in args.words:
        pairs = wv.nearest(word, args.top)
        print(f"{word}: " + ", ".join(f"{w} {s:.3f}" for w, s in pairs))
    return 0


def cmd_analogy(args: argparse.Namespace) -> int:
    check_positive("--top", args.top, integer=True)
    wv = load_word_vectors(args.checkpoint)
    pairs = wv.analogy(args.a, args.b, args.c, args.top)
    print(f"{args.a} : {args.b} :: {args.c} : " + ", ".join(f"{w} {s:.3f}" for w, s in pairs))
    return 0
