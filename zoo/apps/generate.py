"""``zoo generate``: text sampled from a trained character language model.

The model and its one-step sampler live in :mod:`zoo.models.char_rnn`; this app
adds what a user holds: a task (trained or loaded) whose data info carries the
character vocabulary, a prompt as text, and the command over a checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import torch

from zoo.apps.load import load_for
from zoo.data.vocab import Vocab
from zoo.errors import CheckpointError, ConfigError, check_positive
from zoo.models.char_rnn import CharRNN, sample_ids


def generate(task: Any, prompt: str, length: int = 200, *, temperature: float = 1.0, seed: int | None = 0) -> str:
    """``length`` characters sampled after ``prompt`` by a trained char model (a task from
    :func:`zoo.training.train` or :func:`zoo.checkpoint.load_checkpoint`).

    The prompt is encoded with the vocabulary saved with the model
    (``task.data_info.extra["vocab"]``), lower-cased if training was; a
    character never seen in training is an error naming it.
    """
    model = getattr(task, "model", task)
    if not isinstance(model, CharRNN):
        raise ConfigError(f"generate needs a character language model (char_rnn, char_gru, ...), not {type(model).__name__}.")
    info = getattr(task, "data_info", None)
    if info is None or "vocab" not in (info.extra or {}):
        raise ConfigError("this model carries no character vocabulary; train it with zoo.train (or load a checkpoint) first.")
    vocab = Vocab.from_dict(info.extra["vocab"])
    if len(vocab) != model.config.vocab_size:
        raise CheckpointError(f"the saved vocabulary has {len(vocab)} tokens but the model outputs {model.config.vocab_size}.")
    if not isinstance(prompt, str) or not prompt:
        raise ConfigError("the prompt is empty; give at least one character, e.g. --prompt 'to be'.")
    text = prompt.lower() if info.extra.get("lowercase") else prompt
    unseen = sorted({c for c in text if c not in vocab.stoi})
    if unseen:
        known = "".join(t for t in vocab.itos if t not in vocab.specials)
        raise ConfigError(
            f"the prompt has {len(unseen)} character(s) never seen in training: {''.join(unseen)!r}; "
            f"this model knows {len(known)}: {''.join(sorted(known))!r}."
        )
    ids = vocab.encode(text, strict=True)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    banned = tuple(vocab.stoi[s] for s in vocab.specials)
    out = sample_ids(model, ids, length, temperature=temperature, banned=banned, generator=generator)
    return "".join(vocab.decode(out))


def add_commands(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser(
        "generate",
        help="sample text from a character language-model checkpoint",
        description="Continue PROMPT with LENGTH characters sampled from a char_* checkpoint.",
    )
    p.add_argument("checkpoint", help="a pretrained id (zoo pretrained list), a checkpoint folder, or a run folder holding checkpoint/")
    p.add_argument("--prompt", required=True, help="text to continue (characters seen in training only)")
    p.add_argument("--length", type=int, default=200, help="characters to generate (default: 200)")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="softmax temperature: < 1 safer, > 1 wilder, 0 = always the most likely (default: 1.0)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0; the same seed gives the same text)")
    p.set_defaults(run=cmd_generate)


def cmd_generate(args: argparse.Namespace) -> int:
    check_positive("--length", args.length, integer=True)
    check_positive("--temperature", args.temperature, allow_zero=True)
    task = load_for(args.checkpoint, task="language_model", what="a character language model", command="generate",
                    models="a char_* checkpoint (char_rnn, char_gru, char_lstm)")
    text = generate(task, args.prompt, args.length, temperature=args.temperature, seed=args.seed)
    sys.stdout.write(args.prompt + text + "\n")
    return 0
