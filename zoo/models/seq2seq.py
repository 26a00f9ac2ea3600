"""Encoder-decoder (seq2seq) translation: RNN encoder, attentive RNN decoder, greedy and beam search.

Read top to bottom: config, encoder, attention, decoder, model, decoding,
builders. Translating text with a trained model (``zoo translate``) is
:mod:`zoo.apps.translate`.

Architecture (Luong et al., 2015, "global attention"; the shape of Hands-On ML
ch. 16's Keras model): a GRU or LSTM encoder, optionally bidirectional (the two
directions' final states are concatenated to start the decoder); a decoder RNN
run over the whole shifted target at once (teacher forcing); attention with its
queries = the decoder's outputs, keys/values = the encoder's outputs; then
``tanh(W_c [context; h])`` and the output layer. Because the attention sits
after the decoder RNN, training is one RNN call per side, not a Python loop
over time steps. Scores: ``additive`` (Bahdanau et al., 2015: ``v . tanh(W_q q
+ W_k k)``), ``multiplicative`` (Luong's "general": ``q . W k``), ``dot``
(``q . k``), or ``none`` (the decoder sees the source only through its initial state).

Padding: source padding is excluded by packing the encoder's input (so the
backward direction starts at each sentence's real last word) and by masking
attention scores; target padding is excluded from the loss, and the decoder is
causal. ``tests/models/test_seq2seq.py`` checks that outputs do not depend on
the amount of padding.

Word embeddings can start from a word2vec checkpoint's vectors (``init_embeddings``,
``init_embeddings_side``, ``freeze_embeddings``): :mod:`zoo.embeddings`, applied when the data is known.

Token ids: ``<pad>`` = 0 and ``<unk>`` = 1 on both sides, ``<bos>`` = 2 and
``<eos>`` = 3 on the target side (``zoo/data/vocab.py``; ``zoo/data/translation.py`` builds the vocabularies).

Evidence (``zoo train --config benchmarks/recipes/seq2seq_gru-spa_eng.yaml``, seed 0, one thread of the shared
2-core CPU): ``seq2seq_gru`` on ``spa_eng`` reaches validation token accuracy 0.716 after 3
epochs and 0.729 after 6 (Hands-On ML: 0.708 with attention), corpus BLEU 0.255 on the test
split; about 3.3 CPU-minutes per epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from zoo.data.vocab import BOS_ID, EOS_ID, PAD_ID
from zoo.errors import ConfigError, check_choice, check_fraction, check_positive
from zoo.registry import register_model

RNNS = ("gru", "lstm")
ATTENTIONS = ("none", "additive", "multiplicative", "dot")
EMBEDDING_SIDES = ("source", "target", "both")
State = Tensor | tuple[Tensor, Tensor]  # GRU: h (L, B, H); LSTM: (h, c)


@dataclass
class Seq2SeqConfig:
    """Shape and knobs of an encoder-decoder translator."""

    src_vocab_size: int = 1000
    """Source tokens, specials included (from the data's vocabulary)."""
    tgt_vocab_size: int = 1000
    """Target tokens, specials included: the size of the output layer."""
    max_len: int = 50
    """Longest sentence in words the model reads, and the longest translation it writes."""
    rnn: str = "gru"
    """Recurrent cell of encoder and decoder: gru or lstm."""
    embed_dim: int = 128
    """Size of the word embeddings (each side has its own table)."""
    hidden: int = 256
    """Decoder state size; the encoder's outputs have this size too (hidden/2 per direction when bidirectional)."""
    num_layers: int = 1
    """Stacked RNN layers in the encoder and in the decoder."""
    bidirectional: bool = True
    """Read the source in both directions (their states are concatenated)."""
    attention: str = "additive"
    """Attention score: additive (Bahdanau), multiplicative (Luong's general), dot, or none."""
    attention_dim: int = 0
    """Width of the additive score's hidden layer (0 = hidden); unused by the other scores."""
    dropout: float = 0.0
    """Drop probability on embeddings, between stacked layers and before the output layer."""
    init_embeddings: str = ""
    """Start the word embeddings from a word2vec checkpoint (pretrained id or folder; zoo/embeddings.py); "" = random."""
    init_embeddings_side: str = "source"
    """Embeddings that init_embeddings fills: source (English in spa_eng and numbers_en_es), target or both."""
    freeze_embeddings: bool = False
    """Keep the embeddings that init_embeddings filled fixed during training."""

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "max_len", "embed_dim", "hidden", "num_layers"):
            check_positive(name, getattr(self, name), integer=True)
        if self.tgt_vocab_size <= EOS_ID:
            raise ConfigError(f"tgt_vocab_size must exceed {EOS_ID} (<pad> <unk> <bos> <eos> come first), got {self.tgt_vocab_size}.")
        check_choice("rnn", self.rnn, RNNS)
        check_choice("attention", self.attention, ATTENTIONS)
        check_positive("attention_dim", self.attention_dim, allow_zero=True, integer=True)
        check_fraction("dropout", self.dropout)
        check_choice("init_embeddings_side", self.init_embeddings_side, EMBEDDING_SIDES)
        if self.bidirectional and self.hidden % 2:
            raise ConfigError(f"a bidirectional encoder splits hidden in two directions, so hidden must be even, got {self.hidden}.")


def _rnn(cfg: Seq2SeqConfig, n_in: int, n_hidden: int, bidirectional: bool = False) -> nn.RNNBase:
    cls = nn.GRU if cfg.rnn == "gru" else nn.LSTM
    return cls(n_in, n_hidden, cfg.num_layers, batch_first=True, bidirectional=bidirectional,
               dropout=cfg.dropout if cfg.num_layers > 1 else 0.0)  # fmt: skip


class Memory(NamedTuple):
    """What the decoder attends to: the encoder's outputs, their projected keys, and the mask."""

    values: Tensor  # (B, S, H)
    keys: Tensor  # (B, S, A) for additive, (B, S, H) otherwise
    mask: Tensor  # (B, S) bool, True at real source words

    def repeat(self, index: Tensor) -> Memory:
        """Rows ``index`` of each tensor (beam search copies one sentence's memory per beam)."""
        return Memory(self.values[index], self.keys[index], self.mask[index])


# ----------------------------------------------------------------------------- encoder


class Encoder(nn.Module):
    """(B, S) source ids -> outputs (B, S, H) (zeros at padding), final state (L, B, H), mask (B, S)."""

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.directions = 2 if cfg.bidirectional else 1
        self.embed = nn.Embedding(cfg.src_vocab_size, cfg.embed_dim, padding_idx=PAD_ID)
        self.drop = nn.Dropout(cfg.dropout)
        self.rnn = _rnn(cfg, cfg.embed_dim, cfg.hidden // self.directions, cfg.bidirectional)

    def forward(self, src: Tensor) -> tuple[Tensor, State, Tensor]:
        mask = src != PAD_ID  # (B, S)
        lengths = mask.sum(1).clamp(min=1).cpu()  # an empty sentence reads one <pad>
        x = self.drop(self.embed(src))  # (B, S, E)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])  # (B, S, H)
        if isinstance(state, tuple):
            return out, (self._merge(state[0]), self._merge(state[1])), mask
        return out, self._merge(state), mask

    def _merge(self, h: Tensor) -> Tensor:
        """(L * dirs, B, H / dirs) -> (L, B, H): each layer's directions side by side."""
        if self.directions == 1:
            return h
        layers2, batch, size = h.shape
        return h.view(layers2 // 2, 2, batch, size).permute(0, 2, 1, 3).reshape(layers2 // 2, batch, 2 * size)


# ----------------------------------------------------------------------------- attention


class Attention(nn.Module):
    """Scores of decoder queries against encoder keys, softmax over real source words, context."""

    # Additive scores make a (B, T, S, A) tensor; evaluation batches (1,024 long sentences)
    # would need GBs at once, so queries are processed in chunks of at most this many elements.
    MAX_ELEMENTS = 1 << 24

    def __init__(self, kind: str, hidden: int, attention_dim: int):
        super().__init__()
        self.kind = kind
        dim = attention_dim or hidden
        if kind == "additive":
            self.query = nn.Linear(hidden, dim, bias=False)
            self.key = nn.Linear(hidden, dim)
            self.score = nn.Linear(dim, 1, bias=False)
        elif kind == "multiplicative":
            self.key = nn.Linear(hidden, hidden, bias=False)

    def keys(self, values: Tensor) -> Tensor:
        """Keys from the encoder outputs, computed once per sentence (B, S, A or H)."""
        return values if self.kind == "dot" else self.key(values)

    def forward(self, query: Tensor, memory: Memory) -> tuple[Tensor, Tensor]:
        """query (B, T, H) -> context (B, T, H), weights (B, T, S)."""
        if self.kind == "additive":
            q = self.query(query)  # (B, T, A)
            b, t, a = q.shape
            step = max(1, self.MAX_ELEMENTS // max(1, b * memory.keys.shape[1] * a))
            scores = torch.cat(
                [self.score(torch.tanh(q[:, i : i + step, None, :] + memory.keys[:, None])).squeeze(-1) for i in range(0, t, step)],
                dim=1,
            )  # (B, T, S)
        else:
            scores = query @ memory.keys.transpose(1, 2)  # (B, T, S)
        scores = scores.masked_fill(~memory.mask[:, None, :], float("-inf"))
        weights = scores.softmax(-1)
        return weights @ memory.values, weights


# ----------------------------------------------------------------------------- decoder


class Decoder(nn.Module):
    """(B, T) shifted target ids + initial state + memory -> features (B, T, H), final state."""

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.embed = nn.Embedding(cfg.tgt_vocab_size, cfg.embed_dim, padding_idx=PAD_ID)
        self.drop = nn.Dropout(cfg.dropout)
        self.rnn = _rnn(cfg, cfg.embed_dim, cfg.hidden)
        self.attention = Attention(cfg.attention, cfg.hidden, cfg.attention_dim) if cfg.attention != "none" else None
        # Luong's attentional hidden state: h~ = tanh(W_c [context; h]).
        self.combine = nn.Linear(2 * cfg.hidden, cfg.hidden) if self.attention is not None else None

    def forward(self, tgt_in: Tensor, state: State, memory: Memory) -> tuple[Tensor, State]:
        out, state = self.rnn(self.drop(self.embed(tgt_in)), state)  # (B, T, H)
        if self.attention is not None:
            context, _ = self.attention(out, memory)  # (B, T, H)
            out = torch.tanh(self.combine(torch.cat([context, out], -1)))
        return self.drop(out), state


# ----------------------------------------------------------------------------- model


class Seq2Seq(nn.Module):
    """Encoder, decoder and output layer; ``forward(src, tgt_in) -> logits (B, T, V)`` (teacher forcing)."""

    head_names = ("head",)

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.config = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.head = nn.Linear(cfg.hidden, cfg.tgt_vocab_size)

    def encode(self, src: Tensor) -> tuple[Memory, State]:
        """(B, S) ids -> memory for attention and the decoder's initial state."""
        values, state, mask = self.encoder(src)
        att = self.decoder.attention
        keys = att.keys(values) if att is not None else values
        return Memory(values, keys, mask), state

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        memory, state = self.encode(src)
        features, _ = self.decoder(tgt_in, state, memory)
        return self.head(features)  # (B, T, V)

    def step(self, tokens: Tensor, state: State, memory: Memory) -> tuple[Tensor, State]:
        """One decoding step: (B,) previous tokens -> log-probabilities (B, V) of the next, new state.

        ``<pad>`` and ``<bos>`` are never produced (log-probability -inf).
        """
        features, state = self.decoder(tokens[:, None], state, memory)
        logp = self.head(features[:, 0]).log_softmax(-1)  # (B, V)
        logp[:, PAD_ID] = float("-inf")
        logp[:, BOS_ID] = float("-inf")
        return logp, state

    @torch.no_grad()
    def greedy(self, src: Tensor, max_len: int | None = None) -> Tensor:
        """Most likely next word at each step: (B, S) ids -> (B, L) ids ending in ``<eos>``, then ``<pad>``.

        At most ``max_len`` (default: the model's) words plus ``<eos>``.
        """
        steps = (max_len or self.config.max_len) + 1
        memory, state = self.encode(src)
        tokens = torch.full((src.shape[0],), BOS_ID, dtype=torch.long, device=src.device)
        finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        out = []
        for _ in range(steps):
            logp, state = self.step(tokens, state, memory)
            tokens = logp.argmax(-1).masked_fill(finished, PAD_ID)  # (B,)
            out.append(tokens)
            finished = finished | (tokens == EOS_ID)
            if bool(finished.all()):
                break
        return torch.stack(out, 1)

    @torch.no_grad()
    def beam_search(self, src: Tensor, beam: int = 4, *, max_len: int | None = None, length_penalty: float = 1.0) -> list[list[int]]:
        """Beam search per sentence: (B, S) ids -> B id lists (words then ``<eos>``, if produced).

        Each step keeps the ``beam`` best partial translations by summed
        log-probability; a finished one (``<eos>``) stays in the beam at no cost.
        The winner maximizes ``log p / length ** length_penalty`` (0 = raw sum).
        With ``beam=1`` this is exactly :meth:`greedy`.
        """
        check_positive("beam", beam, integer=True)
        return [self._beam_one(src[i : i + 1], beam, max_len or self.config.max_len, length_penalty) for i in range(src.shape[0])]

    def _beam_one(self, src: Tensor, k: int, max_len: int, length_penalty: float) -> list[int]:
        memory, state = self.encode(src[:, : max(1, int((src != PAD_ID).sum()))])
        index = torch.zeros(k, dtype=torch.long, device=src.device)
        memory = memory.repeat(index)
        state = tuple(s[:, index] for s in state) if isinstance(state, tuple) else state[:, index]
        scores = torch.full((k,), float("-inf"), device=src.device)
        scores[0] = 0.0  # one live hypothesis to start with; the others are copies of it
        tokens = torch.full((k,), BOS_ID, dtype=torch.long, device=src.device)
        finished = torch.zeros(k, dtype=torch.bool, device=src.device)
        seqs = torch.zeros((k, 0), dtype=torch.long, device=src.device)
        for _ in range(max_len + 1):
            logp, state = self.step(tokens, state, memory)  # (k, V)
            logp[finished] = float("-inf")
            logp[finished, PAD_ID] = 0.0  # a finished hypothesis only pads, at no cost
            vocab = logp.shape[1]
            scores, flat = (scores[:, None] + logp).flatten().topk(k)
            parent, tokens = flat // vocab, flat % vocab
            seqs = torch.cat([seqs[parent], tokens[:, None]], 1)
            state = tuple(s[:, parent] for s in state) if isinstance(state, tuple) else state[:, parent]
            finished = finished[parent] | (tokens == EOS_ID)
            if bool(finished.all()):
                break
        lengths = (seqs != PAD_ID).sum(1).clamp(min=1).float()
        best = int((scores / lengths.pow(length_penalty)).argmax()) if length_penalty else int(scores.argmax())
        return [t for t in seqs[best].tolist() if t != PAD_ID]


# ----------------------------------------------------------------------------- builders


def _from_data(info) -> dict:
    extra = info.extra
    return {
        "src_vocab_size": len(extra["src_vocab"]["tokens"]),
        "tgt_vocab_size": len(extra["tgt_vocab"]["tokens"]),
        "max_len": int(extra["max_len"]),
    }


_ENTRY = dict(config=Seq2SeqConfig, tasks=("seq2seq",), default_data="numbers_en_es", from_data=_from_data)


@register_model(**_ENTRY)
def seq2seq_gru(**kwargs) -> Seq2Seq:
    """Encoder-decoder translator: bidirectional GRU encoder, GRU decoder with additive attention."""
    return Seq2Seq(Seq2SeqConfig(**kwargs))


@register_model(**_ENTRY)
def seq2seq_lstm(**kwargs) -> Seq2Seq:
    """Encoder-decoder translator: bidirectional LSTM encoder, LSTM decoder with additive attention."""
    return Seq2Seq(Seq2SeqConfig(**{"rnn": "lstm", **kwargs}))


@register_model(**_ENTRY, tags=("tiny",))
def seq2seq_gru_tiny(**kwargs) -> Seq2Seq:
    """A small GRU translator (hidden 32, embeddings 16), for tests and smoke studies."""
    return Seq2Seq(Seq2SeqConfig(**{"embed_dim": 16, "hidden": 32, **kwargs}))


# ----------------------------------------------------------------------------- pretrained entries
# Files in weights/<id>/ (zoo/hub.py finds them); the schema test is tests/test_pretrained_entries.py.

from zoo.pretrained import PretrainedEntry, WeightFile, register_pretrained  # noqa: E402

register_pretrained(PretrainedEntry(
    id="seq2seq_gru-spa_eng", model="seq2seq_gru", dataset="spa_eng", default=True,
    summary="seq2seq_gru English->Spanish, 4,000 words a side: bi-GRU encoder, GRU 512 decoder, additive attention; test BLEU 35.7",
    recipe="benchmarks/recipes/seq2seq_gru-spa_eng-v4000.yaml", split="val",
    metrics={"loss": 1.3209972693658478, "acc": 0.7174972295761108, "bleu": 0.35266146063804626},
    num_parameters=7122336,
    licence="CC BY 2.0 (FR), the Tatoeba licence; attribution: www.manythings.org/anki and tatoeba.org",
    versions={"zoobench": "0.1.0", "torch": "2.13.0+cpu"},
    notes=("Weights stored in float16 (zoo pretrained pack --storage float16), loaded as float32; the figures are of "
           "the stored weights. Issue 11's BLEU bar (test >= 33) is reached: 35.7 greedy, 37.1 beam 4. Its token-accuracy bar "
           "(val >= 0.76) is scored on the book's 1,000 target words; on 4,000 the task is harder (0.7175 here), "
           "and the best on 1,000 words, seq2seq_gru-spa_eng-src8000-ls.yaml, reached 0.7501."),
    files=(WeightFile("weights/seq2seq_gru-spa_eng/model.safetensors", "810fee0ba8b7791cb1012b5db1b3009a42090b7047e08365088c19a37ee00b71", 14246712),
           WeightFile("weights/seq2seq_gru-spa_eng/card.json", "0357b4afbf840f53fa6d5d83d0a1c526b6f803ea4dca13e4a9cd69ddcdc89c3a", 250016)),
))
