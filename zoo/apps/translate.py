"""``zoo translate``: a sentence translated by a trained seq2seq model.

The model and its decoders (greedy, beam search) live in :mod:`zoo.models.seq2seq`;
this app adds the vocabularies a checkpoint carries, text in and out, and the command.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from zoo.apps.load import load_for
from zoo.data.translation import tokenizer
from zoo.data.vocab import EOS_ID, PAD_ID, Vocab
from zoo.errors import CheckpointError, ConfigError, check_positive
from zoo.models.seq2seq import Seq2Seq


@dataclass
class Translation:
    """One translated sentence."""

    text: str
    """The translation, words joined by spaces (lower case, no punctuation, as the training data)."""
    tokens: list[str] = field(default_factory=list)
    """The translation's words (``<unk>`` where the model chose a word outside its vocabulary)."""
    unknown: list[str] = field(default_factory=list)
    """Source words never seen in training, read as ``<unk>``."""
    finished: bool = True
    """False when the model reached its length limit before writing ``<eos>``."""


def _vocabs(task) -> tuple[Any, Any, Any]:
    info = getattr(task, "data_info", None)
    extra = info.extra if info is not None else {}
    if "src_vocab" not in extra or "tgt_vocab" not in extra:
        raise CheckpointError("this model carries no vocabularies (its data info lacks src_vocab/tgt_vocab); train it with zoo train.")
    return Vocab.from_dict(extra["src_vocab"]), Vocab.from_dict(extra["tgt_vocab"]), tokenizer(extra.get("tokenizer", "words"))


def translate(task, sentence: str, *, beam: int = 1, length_penalty: float = 1.0) -> Translation:
    """Translate one sentence with a trained seq2seq task (greedy when ``beam == 1``).

    Raises :class:`~zoo.errors.ConfigError` for an empty sentence or one longer
    than the model's ``max_len`` words; unknown words are read as ``<unk>`` and
    listed in :attr:`Translation.unknown`.
    """
    check_positive("beam", beam, integer=True)
    src_vocab, tgt_vocab, tokenize = _vocabs(task)
    model: Seq2Seq = task.model
    words = tokenize(sentence) if isinstance(sentence, str) else []
    if not words:
        raise ConfigError(f"nothing to translate: {sentence!r} has no words (punctuation is ignored).")
    limit = model.config.max_len
    if len(words) > limit:
        raise ConfigError(f"the sentence has {len(words)} words; this model reads at most {limit} (its max_len).")
    unknown = list(dict.fromkeys(w for w in words if w not in src_vocab))
    device = next(model.parameters()).device
    src = torch.tensor([src_vocab.encode(words)], dtype=torch.long, device=device)
    was_training = model.training
    model.eval()
    try:
        ids = model.greedy(src)[0].tolist() if beam == 1 else model.beam_search(src, beam, length_penalty=length_penalty)[0]
    finally:
        model.train(was_training)
    finished = EOS_ID in ids
    ids = ids[: ids.index(EOS_ID)] if finished else [i for i in ids if i != PAD_ID]
    tokens = [tgt_vocab.itos[i] for i in ids]
    return Translation(" ".join(tokens), tokens, unknown, finished)


def load_translator(path: str | Path):
    """The seq2seq task of a checkpoint folder (or of a run folder holding ``checkpoint/``)."""
    return load_for(path, task="seq2seq", what="a translation model", command="translate",
                    models="a seq2seq checkpoint (seq2seq_gru, seq2seq_lstm, seq2seq_gru_tiny)")


def add_commands(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser(
        "translate",
        help="translate a sentence with a seq2seq checkpoint",
        description="Translate SENTENCE with the seq2seq model in CHECKPOINT (a checkpoint folder or a zoo train run folder).",
    )
    p.add_argument("checkpoint", help="a pretrained id (zoo pretrained list), a checkpoint folder, or a run folder holding checkpoint/")
    p.add_argument("sentence", help="the sentence to translate (quote it)")
    p.add_argument("--beam", type=int, default=1, help="beam width; 1 = greedy decoding (default: 1)")
    p.add_argument("--length-penalty", "--length_penalty", dest="length_penalty", type=float, default=1.0,
                   help="beam search ranks finished translations by log p / length**this (default: 1.0)")  # fmt: skip
    p.set_defaults(run=cmd_translate)


def cmd_translate(args: argparse.Namespace) -> int:
    check_positive("--beam", args.beam, integer=True)
    if not args.sentence.strip():
        raise ConfigError("nothing to translate: the sentence is empty.")
    task = load_translator(args.checkpoint)
    result = translate(task, args.sentence, beam=args.beam, length_penalty=args.length_penalty)
    if result.unknown:
        shown = ", ".join(map(repr, result.unknown))
        print(f"zoo: note: never seen in training, read as <unk>: {shown}", file=sys.stderr)
    if not result.finished:
        print(f"zoo: note: the translation reached the model's limit of {task.model.config.max_len} words", file=sys.stderr)
    print(result.text)
    return 0
