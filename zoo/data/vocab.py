"""A small vocabulary: token <-> id, stored inside checkpoints.

torchtext is dead (its last release does not import with torch > 2.3), so the
zoo keeps its own. A vocabulary is plain data (``to_dict``/``from_dict``) and
travels in the checkpoint card, so a loaded model encodes text exactly as it
was trained.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from zoo.errors import ConfigError

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
"""Ids of the specials in a vocabulary that lists them first in this order (``specials=(PAD, UNK[, BOS, EOS])``,
as every vocabulary of the zoo's text datasets does): padding, unknown word, start and end of a target sentence."""


class Vocab:
    """Tokens in id order; specials first. Unknown tokens map to ``<unk>`` (if present)."""

    def __init__(self, tokens: Sequence[str], *, specials: Sequence[str] = (PAD, UNK)):
        self.specials = tuple(specials)
        seen: dict[str, int] = {}
        for t in (*self.specials, *tokens):
            if t not in seen:
                seen[t] = len(seen)
        self.itos: list[str] = list(seen)
        self.stoi: dict[str, int] = seen
        self.unk_id = self.stoi.get(UNK)
        self.pad_id = self.stoi.get(PAD)
        self.bos_id = self.stoi.get(BOS)
        self.eos_id = self.stoi.get(EOS)

    @classmethod
    def build(
        cls,
        sequences: Iterable[Iterable[str]],
        *,
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = (PAD, UNK),
    ) -> Vocab:
        """Most frequent tokens first (ties in first-seen order), at least ``min_freq`` times."""
        counts: Counter[str] = Counter()
        for seq in sequences:
            counts.update(seq)
        tokens = [t for t, c in counts.most_common() if c >= min_freq and t not in specials]
        if max_size is not None:
            tokens = tokens[: max(0, max_size - len(specials))]
        vocab = cls(tokens, specials=specials)
        vocab.counts = {t: counts[t] for t in vocab.itos if t in counts}
        return vocab

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def encode(self, tokens: Iterable[str], *, strict: bool = False) -> list[int]:
        """Ids of ``tokens``; unknown ones become ``<unk>``, or raise if ``strict`` or there is no ``<unk>``."""
        out = []
        for t in tokens:
            i = self.stoi.get(t)
            if i is None:
                if strict or self.unk_id is None:
                    shown = "".join(sorted(set(self.itos) - set(self.specials)))[:80] if all(len(x) == 1 for x in self.itos if x not in self.specials) else f"{len(self)} known tokens"
                    raise ConfigError(f"token {t!r} was never seen in training (vocabulary: {shown}).")
                i = self.unk_id
            out.append(i)
        return out

    def decode(self, ids: Iterable[int], *, skip_specials: bool = True) -> list[str]:
        return [self.itos[i] for i in ids if not (skip_specials and self.itos[i] in self.specials)]

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": self.itos, "specials": list(self.specials)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocab:
        specials = d.get("specials", [])
        return cls([t for t in d["tokens"] if t not in specials], specials=specials)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos and self.specials == other.specials

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens, specials={list(self.specials)})"
