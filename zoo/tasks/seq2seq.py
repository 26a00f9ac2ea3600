"""Translation (the encoder-decoder models of ``zoo/models/seq2seq.py``): teacher-forced cross-entropy, BLEU."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.data.vocab import EOS_ID, PAD_ID, UNK_ID, Vocab
from zoo.errors import ConfigError
from zoo.optim import OptimConfig
from zoo.tasks.base import Task, token_loss


def corpus_bleu(hypotheses: list[list[int]], references: list[list[int]], unk_id: int = UNK_ID) -> float:
    """Corpus BLEU-4 (0-1) of token-id sequences, as torchmetrics' ``bleu_score`` on words.

    Ids stand for words one to one, so BLEU on ids equals BLEU on the tokenized
    text, except for ``<unk>``: a reference's ``<unk>`` stands for a word outside
    the vocabulary, which no hypothesis can produce, so it is replaced by a token
    that never matches.
    """
    import torchmetrics.functional.text as T

    if not hypotheses:
        return 0.0
    preds = [" ".join(map(str, h)) for h in hypotheses]
    target = [[" ".join("x" if t == unk_id else str(t) for t in r)] for r in references]
    return float(T.bleu_score(preds, target))


def _words(rows: list[list[int]], drop: tuple[int, ...]) -> list[list[int]]:
    return [[t for t in row if t not in drop] for row in rows]


class Seq2SeqTask(Task):
    """Encoder-decoder translation: next-token cross-entropy with teacher forcing.

    Batches are ``(src (B, S), tgt (B, T + 2)[, row (B,)])`` from
    ``zoo/data/translation.py``: the model reads ``tgt[:, :-1]`` (``<bos>`` first)
    and predicts ``tgt[:, 1:]`` (``<eos>`` last); ``<pad>`` positions are
    ignored. The ``n`` of :meth:`batch_loss` is the number of target tokens, so
    losses average per token (and the loop's throughput counts tokens).

    Metrics: ``loss`` (per-token NLL, label smoothing excluded), ``acc`` (token
    accuracy over non-pad target positions under teacher forcing, as Keras'
    masked accuracy in Hands-On ML ch. 16), ``exact`` (sentences with every
    token right); with ``full=True`` also ``bleu`` (corpus BLEU-4 of greedy
    translations, 0-1, :func:`corpus_bleu`) and ``examples`` (source, reference,
    translation of the first :attr:`EXAMPLES` sentences of the split); with :attr:`eval_beam` >= 2
    also ``bleu_beam``, the corpus BLEU of beam-search translations of that width.
    """

    kind = "seq2seq"
    monitor = ("val_acc", "max")
    EXAMPLES: ClassVar[int] = 200

    def __init__(self, model: nn.Module, optim: OptimConfig | None = None, *, label_smoothing: float = 0.0, l1: float = 0.0, l2: float = 0.0):
        super().__init__(model, optim, l1=l1, l2=l2)
        if not 0 <= label_smoothing < 1:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}.")
        self.label_smoothing = label_smoothing
        self.eval_beam = 0
        """With a width >= 2, a full evaluation also decodes by beam search: ``bleu_beam`` beside greedy ``bleu``."""

    def _logits(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, Tensor]:
        src, tgt = batch[0], batch[1]
        return self.model(src, tgt[:, :-1]), tgt[:, 1:]  # (B, T, V), (B, T)

    def batch_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int]:
        logits, target = self._logits(batch)
        loss = F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=PAD_ID, label_smoothing=self.label_smoothing)
        return loss, int((target != PAD_ID).sum())

    @staticmethod
    def _sentence_outputs(logits: Tensor, target: Tensor, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        mask = target != PAD_ID  # (B, T)
        out = {
            "correct": ((logits.argmax(-1) == target) & mask).sum(1),
            "tokens": mask.sum(1),
            "nll": F.cross_entropy(logits.transpose(1, 2), target, ignore_index=PAD_ID, reduction="none").sum(1),
        }
        if len(batch) > 2:
            out["row"] = batch[2]
        return out

    def outputs(self, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        """Per sentence: correct tokens, target tokens, summed NLL (and the row in its split)."""
        logits, target = self._logits(batch)
        return self._sentence_outputs(logits, target, batch)

    def eval_batch(self, batch: tuple[Tensor, ...], *, full: bool = True) -> tuple[Tensor, int, dict[str, Any]]:
        """One teacher-forced pass (loss and accuracy together); with ``full``, greedy translations for BLEU."""
        logits, target = self._logits(batch)
        out: dict[str, Any] = self._sentence_outputs(logits, target, batch)
        if full:  # word ids as lists (translations differ in length): metrics only, not kept as predictions
            pred = self.model.greedy(batch[0]).cpu()  # (B, L): words, <eos>, <pad>...
            out["hyps"] = _words(pred.tolist(), (PAD_ID, EOS_ID))
            out["refs"] = _words(target.cpu().tolist(), (PAD_ID, EOS_ID))
            out["srcs"] = _words(batch[0].cpu().tolist(), (PAD_ID,))
            if self.eval_beam > 1:
                out["beams"] = _words(self.model.beam_search(batch[0], self.eval_beam), (PAD_ID, EOS_ID))
        n = out["tokens"].sum()
        return out["nll"].sum() / n.clamp(min=1), int(n), out

    def split_results(self, out: dict[str, Any], loss: float, *, full: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """Sentences back in split order; loss per token; BLEU and examples from the greedy translations."""
        text = {k: out.pop(k) for k in ("hyps", "refs", "srcs", "beams") if k in out}
        order = torch.argsort(out["row"]) if "row" in out else torch.arange(len(out["tokens"]))
        out = {k: v[order] for k, v in out.items()}
        out["acc"] = out["correct"] / out["tokens"].clamp(min=1)
        metrics: dict[str, Any] = {"loss": token_loss(out), **self.split_metrics(out, full=full)}
        if text:
            hyps, refs, srcs = ([seqs[i] for i in order.tolist()] for seqs in (text["hyps"], text["refs"], text["srcs"]))
            metrics["bleu"] = corpus_bleu(hyps, refs)
            if "beams" in text:
                metrics["bleu_beam"] = corpus_bleu([text["beams"][i] for i in order.tolist()], refs)
                metrics["beam"] = self.eval_beam
            metrics["examples"] = self._examples(srcs, refs, hyps)
        return metrics, out

    def split_metrics(self, out: dict[str, Tensor], *, full: bool) -> dict[str, Any]:
        tokens = out["tokens"].sum().clamp(min=1)
        return {
            "acc": (out["correct"].sum() / tokens).item(),
            "exact": (out["correct"] == out["tokens"]).float().mean().item(),
        }

    def _accuracy(self, batch: tuple[Tensor, ...]) -> Tensor:
        out = self.outputs(batch)
        return out["correct"].sum() / out["tokens"].sum().clamp(min=1)

    def _examples(self, srcs: list[list[int]], refs: list[list[int]], hyps: list[list[int]]) -> list[dict[str, str]]:
        """Source, reference and greedy translation, as text, of the first sentences of the split."""
        extra = getattr(getattr(self, "data_info", None), "extra", None) or {}
        if "src_vocab" not in extra or "tgt_vocab" not in extra:
            return []
        sv, tv = Vocab.from_dict(extra["src_vocab"]), Vocab.from_dict(extra["tgt_vocab"])
        n = min(self.EXAMPLES, len(hyps))
        text = lambda v, ids: " ".join(v.itos[i] for i in ids)  # noqa: E731  (<unk> stays visible)
        return [{"source": text(sv, srcs[i]), "reference": text(tv, refs[i]), "translation": text(tv, hyps[i])} for i in range(n)]

    def prepare_data_stats(self, data: Any) -> None:
        """Nothing to fit: word ids need no scaling."""
