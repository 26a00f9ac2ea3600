"""Word vectors of a word2vec checkpoint as the starting word embeddings of a translator.

``zoo train seq2seq_gru --init_embeddings ID_OR_FOLDER [--init_embeddings_side source|target|both]
[--freeze_embeddings true]``: :func:`apply` (called by :func:`zoo.training.prepare`, which knows
the data's vocabularies) loads the word2vec checkpoint through :func:`zoo.hub.folder_of` and
:mod:`zoo.checkpoint` (card and weights verified), maps its vocabulary onto the seq2seq side's,
and copies the vectors of the words both know into that side's ``nn.Embedding``; every other
row (the specials, words word2vec never kept) stays at its initialization.

Vocabulary alignment: a seq2seq token takes the word2vec vector of the same token, else of the
most frequent word2vec token that the seq2seq data's own tokenizer turns into it (case-folded,
punctuation dropped: word2vec's ``don't`` and ``Paris`` give spa_eng's ``dont`` and ``paris``).

Coverage, recorded in the task's ``zoo_spec["embeddings"]`` (so in ``result.json``'s ``spec`` and
in the checkpoint card) and printed by ``zoo train``: ``covered`` of ``words`` (the side's
vocabulary less its specials), and ``token_coverage``, the share of the training split's
word occurrences (``<unk>`` included, padding and ``<bos>``/``<eos>`` not) whose id was covered.

``freeze_embeddings``: the side's whole table gets ``requires_grad = False``, so the optimizers
never see it and it leaves training bit-identical (``tests/test_embeddings.py``).
"""

from __future__ import annotations

from typing import Any

import torch

from zoo.checkpoint import load_state, read_card
from zoo.data.vocab import UNK, Vocab
from zoo.errors import ConfigError, UnknownNameError, ZooError, check_choice
from zoo.hub import folder_of
from zoo.models.seq2seq import EMBEDDING_SIDES as SIDES
_SIDE = {"source": ("src_vocab", "encoder", 0), "target": ("tgt_vocab", "decoder", 1)}
"""side -> (its vocabulary in ``DataInfo.extra``, the model's module holding its ``embed``, its split tensor)."""


def word_vectors(source: str) -> tuple[Vocab, torch.Tensor, dict[str, Any]]:
    """(vocabulary, vectors (V, D), provenance) of word2vec checkpoint ``source`` (a pretrained id or a folder)."""
    try:
        folder, entry = folder_of(source)
        card = read_card(folder)
    except UnknownNameError as e:
        raise ConfigError(f"init_embeddings {source!r} is neither a checkpoint folder nor a pretrained id "
                          f"({', '.join(e.allowed)}); give a word2vec run's checkpoint/ folder.") from None
    except ZooError as e:
        raise type(e)(f"init_embeddings {source!r}: {e}") from None
    extra = (card.get("data") or {}).get("extra") or {}
    state = load_state(folder, card) if card["task"] == "embedding" else {}
    if "input.weight" not in state or "vocab" not in extra:
        raise ConfigError(f"init_embeddings {source!r} is a {card['model']!r} checkpoint (task {card['task']}), not word2vec; "
                          "it takes a word2vec checkpoint, e.g. the run folder's checkpoint/ of zoo train word2vec_sgns.")
    vocab, vectors = Vocab.from_dict(extra["vocab"]), state["input.weight"]
    if vectors.ndim != 2 or vectors.shape[0] != len(vocab):
        raise ConfigError(f"init_embeddings {source!r}: its vectors are {list(vectors.shape)} for {len(vocab)} words; "
                          "the checkpoint is corrupt.")
    return vocab, vectors, {"from": str(source), "id": entry.id if entry else None, "model": card["model"],
                            "sha256": card["sha256"], "corpus": (card.get("data") or {}).get("name")}


def align(words: Vocab, w2v: Vocab, fold) -> dict[int, int]:
    """{id in ``words``: id in ``w2v``} for the words both know; specials are never mapped.

    ``fold``: the seq2seq data's tokenizer (text -> tokens); a word2vec token folds to the
    concatenation of its tokens. An exact match wins over a folded one; among folded
    matches the most frequent word2vec token (the lowest id) wins."""
    exact = {t: i for i, t in enumerate(w2v.itos) if t not in w2v.specials}
    folded: dict[str, int] = {}
    for t, i in exact.items():
        folded.setdefault("".join(fold(t)), i)
    out = {}
    for i, t in enumerate(words.itos):
        if t in words.specials:
            continue
        j = exact.get(t, folded.get("".join(fold(t))))
        if j is not None:
            out[i] = j
    return out


def token_coverage(ids: torch.Tensor, covered: torch.Tensor, vocab: Vocab) -> float:
    """Share of the word occurrences in ``ids`` whose id is in ``covered`` (a (V,) mask); occurrences of
    ``vocab``'s specials but ``<unk>`` (padding, ``<bos>``, ``<eos>``) are not words and are not counted."""
    words = torch.bincount(ids.reshape(-1), minlength=len(vocab))[: len(vocab)]
    words[[vocab.stoi[t] for t in vocab.specials if t != UNK]] = 0
    total = int(words.sum())
    return float(words[covered].sum()) / total if total else 0.0


def apply(task: Any, source: str, *, side: str, freeze: bool, info: Any, train: tuple | None = None) -> dict[str, Any]:
    """Copy ``source``'s word vectors into ``task.model``'s ``side`` embeddings (see the module's docstring);
    ``info``: the data's ``DataInfo``; ``train``: the training split's tensors (src, tgt, ...) for
    token coverage. Returns the coverage report, also stored in ``task.zoo_spec["embeddings"]``."""
    from zoo.data.translation import tokenizer

    check_choice("init_embeddings_side", side, SIDES)
    w2v, vectors, report = word_vectors(source)
    fold = tokenizer(info.extra.get("tokenizer", "words"))
    report.update(side=side, frozen=bool(freeze), dim=int(vectors.shape[1]))
    for name in (("source", "target") if side == "both" else (side,)):
        key, module, column = _SIDE[name]
        embed = getattr(task.model, module).embed
        if embed.embedding_dim != vectors.shape[1]:
            raise ConfigError(f"init_embeddings {source!r} has {vectors.shape[1]}-d vectors, but the model's {name} "
                              f"embeddings are {embed.embedding_dim}-d; set embed_dim {vectors.shape[1]} (or use other vectors).")
        words = Vocab.from_dict(info.extra[key])
        if embed.num_embeddings != len(words):
            raise ConfigError(f"the model's {name} embeddings have {embed.num_embeddings} rows, the data's {name} "
                              f"vocabulary {len(words)} tokens; they must agree for init_embeddings.")
        pairs = align(words, w2v, fold)
        rows = torch.tensor(sorted(pairs), dtype=torch.long)
        with torch.no_grad():
            if len(rows):
                embed.weight[rows] = vectors[torch.tensor([pairs[int(r)] for r in rows])].to(embed.weight.dtype)
        embed.weight.requires_grad_(not freeze)
        n_words = len(words) - len(words.specials)
        part = {"covered": len(pairs), "words": n_words, "coverage": len(pairs) / n_words if n_words else 0.0}
        if train is not None:
            covered = torch.zeros(len(words), dtype=torch.bool)
            covered[rows] = True
            part["token_coverage"] = token_coverage(train[column], covered, words)
        report[name] = part
    task.zoo_spec["embeddings"] = report
    return report


def describe(report: dict[str, Any]) -> str:
    """One line for ``zoo train``: where the vectors came from and how much of each side they cover."""
    parts = []
    for name in ("source", "target"):
        p = report.get(name)
        if p:
            tokens = f", {p['token_coverage']:.1%} of training tokens" if "token_coverage" in p else ""
            parts.append(f"{name} {p['covered']:,}/{p['words']:,} words ({p['coverage']:.1%}{tokens})")
    state = "frozen" if report["frozen"] else "trainable"
    return f"embeddings from {report['from']} ({report['dim']}-d, {state}): " + "; ".join(parts)

