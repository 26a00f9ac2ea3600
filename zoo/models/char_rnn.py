"""Character-level recurrent language models: embedding -> recurrent layers -> per-step softmax.

Read top to bottom: config, model, sampling, builders. Text generation from a
trained model (``zoo generate``) is :mod:`zoo.apps.generate`.

The book's model (Hands-On Machine Learning, 3rd ed., chapter 16) is
``char_rnn``: Embedding(vocab, 16) -> GRU(128) -> Dense(vocab), 62,009
parameters with our 41-token vocabulary (39 characters + ``<pad>``, ``<unk>``;
the book's 39 tokens give 61,719). The book reports validation loss 1.5477
nats/char (stateful: 1.4786); measured here (``zoo train char_rnn --data shakespeare``,
seed 0) it plateaus near 1.51.

``char_gru`` (2 x GRU 256, dropout 0.2, 616,377 parameters) is the zoo's bar
model. Evidence (``benchmarks/recipes/char_gru-shakespeare.yaml``, seed 0):
validation 1.443 nats/char = 2.082 bits/char (test 1.513) after 8 epochs of
Adam 5e-3 with cosine decay and clipping, 57 min at one thread on the shared
2-core CPU; the bar (1.50) was crossed at epoch 4.

Training is ordinary next-character cross-entropy (:class:`zoo.tasks.LanguageModelTask`);
stateful training carries :meth:`CharRNN.forward_state`'s state across
consecutive windows. Gradient clipping is the loop's ``clip_norm`` /
``clip_value``. The character vocabulary is not a builder argument: it lives in
the dataset's ``DataInfo.extra["vocab"]``, which every checkpoint card stores,
and :func:`zoo.apps.generate.generate` reads it from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from zoo.errors import ConfigError, check_choice, check_fraction, check_positive
from zoo.layers import RNNState
from zoo.registry import register_model

CELLS: dict[str, type[nn.RNNBase]] = {"gru": nn.GRU, "lstm": nn.LSTM, "rnn": nn.RNN}
State = RNNState
"""Hidden state: (num_layers, B, hidden) for GRU/RNN; (h, c), both that shape, for LSTM."""


@dataclass
class CharRNNConfig:
    """Shape and knobs of a character-level recurrent language model."""

    vocab_size: int = 41
    """Tokens in the vocabulary (specials included); set from the data."""
    embed_dim: int = 16
    """Size of each character's embedding (the book: 16)."""
    hidden: int = 128
    """Units of each recurrent layer."""
    num_layers: int = 1
    """Stacked recurrent layers."""
    cell: str = "gru"
    """Recurrent cell: gru, lstm or rnn (tanh)."""
    dropout: float = 0.0
    """Drop probability between recurrent layers and before the output layer."""

    def __post_init__(self) -> None:
        check_positive("vocab_size", self.vocab_size, integer=True)
        check_positive("embed_dim", self.embed_dim, integer=True)
        check_positive("hidden", self.hidden, integer=True)
        check_positive("num_layers", self.num_layers, integer=True)
        check_choice("recurrent cell", self.cell, CELLS)
        check_fraction("dropout", self.dropout)


class CharRNN(nn.Module):
    """(B, T) character ids -> (B, T, vocab_size) next-character logits."""

    head_names = ("head",)
    vocab_rows = {"vocab": ("embed.weight", "head.weight", "head.bias")}
    """Tensors whose rows are the data's characters (``DataInfo.extra["vocab"]``): aligned by character
    when a checkpoint of another text is loaded (zoo/transfer.py ``align_vocab``)."""

    def __init__(self, cfg: CharRNNConfig):
        super().__init__()
        self.config = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim)
        # PyTorch applies an RNN's dropout between layers only (and warns when there is one layer).
        between = cfg.dropout if cfg.num_layers > 1 else 0.0
        self.rnn = CELLS[cfg.cell](cfg.embed_dim, cfg.hidden, cfg.num_layers, batch_first=True, dropout=between)
        self.drop = nn.Dropout(cfg.dropout) if cfg.dropout else nn.Identity()
        self.head = nn.Linear(cfg.hidden, cfg.vocab_size)

    def forward_state(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Logits (B, T, V) and the final state, starting from ``state`` (None = zeros)."""
        h, state = self.rnn(self.embed(x), state)  # (B, T, H)
        return self.head(self.drop(h)), state

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_state(x)[0]


# ----------------------------------------------------------------------------- sampling


@torch.no_grad()
def sample_ids(
    model: CharRNN,
    prompt: list[int],
    length: int,
    *,
    temperature: float = 1.0,
    banned: tuple[int, ...] = (),
    generator: torch.Generator | None = None,
) -> list[int]:
    """``length`` ids drawn one at a time after ``prompt``, from softmax(logits / temperature).

    ``temperature`` 0 picks the most likely character (greedy). ``banned`` ids
    (the specials ``<pad>``, ``<unk>``) are never drawn. The state is carried, so
    each step costs one recurrent step, not a pass over the whole text.
    """
    if not prompt:
        raise ConfigError("the prompt is empty; give at least one character, e.g. --prompt 'to be'.")
    check_positive("length", length, integer=True)
    check_positive("temperature", temperature, allow_zero=True)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    logits, state = model.forward_state(torch.tensor([prompt], device=device))  # (1, P, V)
    last = logits[0, -1]
    mask = torch.zeros_like(last)
    if banned:
        mask[list(banned)] = float("-inf")
    out: list[int] = []
    for _ in range(length):
        scores = last.float() + mask
        if temperature == 0:
            nxt = int(scores.argmax())
        else:
            probs = torch.softmax(scores / temperature, -1).cpu()
            nxt = int(torch.multinomial(probs, 1, generator=generator))
        out.append(nxt)
        logits, state = model.forward_state(torch.tensor([[nxt]], device=device), state)
        last = logits[0, -1]
    model.train(was_training)
    return out



# ----------------------------------------------------------------------------- builders


def _from_data(info: Any) -> dict[str, Any]:
    return {"vocab_size": int(info.extra.get("vocab_size") or info.num_classes)}


_ENTRY = dict(config=CharRNNConfig, tasks=("language_model",), default_data="shakespeare_sample", from_data=_from_data)


@register_model(**_ENTRY)
def char_rnn(**kwargs: Any) -> CharRNN:
    """The book's char-RNN: embedding 16 -> one GRU of 128 units -> per-step softmax (cell=lstm or rnn for the others)."""
    return CharRNN(CharRNNConfig(**kwargs))


@register_model(**_ENTRY)
def char_gru(**kwargs: Any) -> CharRNN:
    """Two GRU layers of 256 units, dropout 0.2: the zoo's Tiny Shakespeare model (<= 1.50 nats/char)."""
    return CharRNN(CharRNNConfig(**{"hidden": 256, "num_layers": 2, "dropout": 0.2, **kwargs}))


@register_model(**_ENTRY)
def char_lstm(**kwargs: Any) -> CharRNN:
    """Two LSTM layers of 256 units, dropout 0.2 (char_gru with LSTM cells)."""
    return CharRNN(CharRNNConfig(**{"hidden": 256, "num_layers": 2, "dropout": 0.2, "cell": "lstm", **kwargs}))


@register_model(**_ENTRY, tags=("tiny",))
def char_gru_tiny(**kwargs: Any) -> CharRNN:
    """Embedding 8 -> one GRU of 32 units, for tests and smoke studies."""
    return CharRNN(CharRNNConfig(**{"embed_dim": 8, "hidden": 32, **kwargs}))


# ----------------------------------------------------------------------------- pretrained entries
# Files in weights/<id>/ (zoo/hub.py finds them); the schema test is tests/test_pretrained_entries.py.

from zoo.pretrained import PretrainedEntry, WeightFile, register_pretrained  # noqa: E402

register_pretrained(PretrainedEntry(
    id="char_gru-shakespeare", model="char_gru", dataset="shakespeare", default=True,
    summary="char_gru 2 x GRU 384, stateful (the book's protocol), on Tiny Shakespeare: val 1.373 nats/char",
    recipe="benchmarks/recipes/char_gru-shakespeare-stateful-384.yaml", split="val",
    metrics={"loss": 1.3726333643637834, "bits_per_char": 1.980291347726364, "perplexity": 3.94572756479323},
    num_parameters=1366585,
    licence="Public domain (the text); the char-rnn repository is MIT",
    versions={"zoobench": "0.1.0", "torch": "2.13.0+cpu"},
    files=(WeightFile("weights/char_gru-shakespeare/model.safetensors", "8f5621f83fe9a3cc7a5eaaea3745251f04baa72d1c93d0c1742fe345a46987f9", 5467220),
           WeightFile("weights/char_gru-shakespeare/card.json", "8ad4b4b0c3d0e2c30cfcebabd2529faec138188c94a1692451bb0fb751ee0542", 3879)),
))
