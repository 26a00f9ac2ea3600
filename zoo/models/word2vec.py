"""Word2vec: skip-gram (SGNS) and CBOW with negative sampling (Mikolov et al., 2013).

Read top to bottom: config, model, builders. The ``zoo neighbors`` / ``zoo analogy``
commands are :mod:`zoo.apps.neighbors`.

Two tables of ``vocab_size x dim``: ``input`` (the word vectors people keep,
word2vec.c's ``syn0``) and ``output`` (context vectors, ``syn1neg``),
initialized as word2vec.c and gensim do (input uniform in ``±0.5 / dim``,
output zero). A batch is ``(inputs, outputs, negatives)`` from
:mod:`zoo.data.corpus`; ``forward`` returns the scores of each example's true
output word and of its group's negatives, and ``loss`` the negative-sampling
loss of each example,

    -log σ(v·u_out) - Σ_k log σ(-v·u_neg_k)

with ``v`` the input word's vector (skip-gram) or the mean of the context
words' vectors (CBOW), through :class:`NegativeSampling`, a hand-written
backward that the embedding task (:class:`zoo.tasks.EmbeddingTask`) trains
with. Both tables have sparse gradients: a step touches only the rows of its
batch, and the task's optimizers update only those rows.

The examples' settings (window, negatives, subsampling, ...) live in the
model's config, so they travel in the checkpoint card with the sizes; the
task hands them to the data module before training
(:meth:`Word2Vec.sampling`). Vocabulary and counts travel in the card's data
info (``DataInfo.extra``).

Evidence (``benchmarks/word2vec_vs_gensim.py``, combined corpus, 20 epochs, seeds
0-2, one thread each): skip-gram analogy accuracy 0.152 ± 0.009 (gensim 0.145 ±
0.004), WordSim-353 Spearman 0.551 ± 0.003 (gensim 0.523 ± 0.003), SimLex-999
0.156 ± 0.007 (gensim 0.166 ± 0.004); words/s 1.06 ± 0.27 x gensim's (0.76-1.27
per seed, on a machine shared with other jobs), 1.03 ± 0.16 in quieter 3-epoch
runs. CBOW (seeds 0-1): analogy 0.179 (gensim 0.180), WordSim-353 0.435
(0.373), words/s 0.72 ± 0.14 x gensim's. Commands and details:
``benchmarks/recipes/word2vec_*-w2v_combined.sh``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.data.sampling import Sampling
from zoo.data.vocab import PAD_ID
from zoo.errors import check_positive
from zoo.pretrained import PretrainedEntry, WeightFile, register_pretrained
from zoo.registry import register_model


@dataclass
class Word2VecConfig:
    """Sizes and example settings of a word2vec model (gensim's Word2Vec name in brackets)."""

    vocab_size: int = 10_000
    """Rows of each embedding table: the vocabulary, specials included (set from the data)."""
    dim: int = 100
    """Size of each word vector [vector_size]."""
    window: int = 5
    """Largest centre-context distance; each position draws its own window in [1, window] [window]."""
    negatives: int = 5
    """Negative words scored against each example [negative]."""
    shared_negatives: int = 64
    """Examples that share one draw of negatives (1 = a fresh draw per example, as word2vec.c): one matmul per group instead of a gather per example."""
    subsample: float = 1e-3
    """Frequency subsampling threshold t: a word of frequency f is kept with probability (sqrt(f/t) + 1) t/f; 0 = keep all [sample]."""
    ns_exponent: float = 0.75
    """Negatives are drawn with probability proportional to count ** ns_exponent [ns_exponent]."""

    def __post_init__(self) -> None:
        check_positive("vocab_size", self.vocab_size, integer=True)
        check_positive("dim", self.dim, integer=True)
        Sampling(window=self.window, negatives=self.negatives, shared_negatives=self.shared_negatives,
                 subsample=self.subsample, ns_exponent=self.ns_exponent)  # fmt: skip  (validates them)


class NegativeSampling(torch.autograd.Function):
    """Per-example loss ``softplus(-v·u_out) + Σ_k softplus(v·u_neg_k)`` with a hand-written backward.

    Inputs: the input table (V, D) and ``inputs``, ids ``(B,)`` (skip-gram: ``v``
    is that row) or ``(B, C)`` with 0 = none (CBOW: ``v`` is the mean of the
    rows; each row gets the whole gradient of ``v``, as word2vec.c); the output
    table (V, D), ``outputs`` (B,) and ``negatives`` (NG, K). Examples are cut
    into consecutive groups of ``G = ceil(B / NG)`` sharing a row of negatives
    (the last group may be shorter); the negative scores are one
    ``(M, G, D) @ (M, D, K)`` matmul for the M full groups and one small matmul
    for the rest (no padding copy).

    The backward writes each gradient once, as sparse tensors of the rows
    touched, that autograd hands to the optimizer without a copy (an
    ``nn.Embedding``'s sparse gradient is cloned), and builds no graph for the
    scores. Same gradients as :meth:`Word2Vec.forward` through autograd
    (``tests/models/test_word2vec.py``). Evidence: skip-gram 1.10-1.13x the
    steps/s of the autograd path with the same optimizer (middle two of 4
    alternating runs of 40 steps: 4,096 examples, 100-d, 11.6k words, one thread
    on the shared 2-core CPU); CBOW 20.3 -> 16.9 ms per step from gathering only
    the real context words instead of the padded window.
    """

    @staticmethod
    def forward(ctx: Any, in_weight: Tensor, inputs: Tensor, out_weight: Tensor, outputs: Tensor, negatives: Tensor) -> Tensor:
        d = in_weight.shape[1]
        context = example = None  # CBOW: ids of the real context words and the example each belongs to
        if inputs.ndim == 1:
            v = in_weight.index_select(0, inputs)  # (B, D)
        else:
            # Gather the real context words only (~4.3 of 2 * window = 10 on the combined corpus), not the padding.
            real = inputs != PAD_ID  # (B, C)
            context = inputs[real]  # (R,)
            example = torch.arange(inputs.shape[0], device=inputs.device)[:, None].expand_as(inputs)[real]  # (R,)
            v = torch.zeros(inputs.shape[0], d, dtype=in_weight.dtype, device=in_weight.device)
            v.index_add_(0, example, in_weight.index_select(0, context))  # (B, D) sums
            v /= real.sum(1, keepdim=True).clamp(min=1)  # means
        b = v.shape[0]
        g = -(-b // negatives.shape[0])
        m, r = divmod(b, g)  # full groups, examples in the last short group
        negatives = negatives[: m + (r > 0)]  # (NG', K) rows actually used
        k = negatives.shape[1]
        u = out_weight.index_select(0, outputs)  # (B, D)
        n = out_weight.index_select(0, negatives.reshape(-1)).view(-1, k, d)  # (NG', K, D)
        pos = torch.bmm(v.view(b, 1, d), u.view(b, d, 1)).view(b)  # (B,), no (B, D) product
        neg = torch.empty(b, k, dtype=v.dtype, device=v.device)  # (B, K)
        torch.bmm(v[: m * g].view(m, g, d), n[:m].transpose(1, 2), out=neg[: m * g].view(m, g, k))
        if r:
            torch.mm(v[m * g :], n[m].T, out=neg[m * g :])
        ctx.save_for_backward(inputs, context, example, v, u, n, pos, neg, outputs, negatives)
        ctx.vocab, ctx.g = in_weight.shape[0], g
        return F.softplus(-pos) + F.softplus(neg).sum(-1)  # (B,)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, Tensor, None, None]:
        inputs, context, example, v, u, n, pos, neg, outputs, negatives = ctx.saved_tensors
        b, d = v.shape
        g, k = ctx.g, neg.shape[1]
        m, r = divmod(b, g)
        gpos = (torch.sigmoid(pos) - 1).mul_(grad)  # (B,) d loss / d pos
        gneg = torch.sigmoid(neg).mul_(grad[:, None])  # (B, K) d loss / d neg
        dv = torch.empty(b, d, dtype=v.dtype, device=v.device)  # (B, D) d loss / d v
        values = torch.empty(b + n.shape[0] * k, d, dtype=v.dtype, device=v.device)  # output rows' gradients
        dn = values[b:].view(-1, k, d)  # (NG', K, D)
        torch.bmm(gneg[: m * g].view(m, g, k), n[:m], out=dv[: m * g].view(m, g, d))
        torch.bmm(gneg[: m * g].view(m, g, k).transpose(1, 2), v[: m * g].view(m, g, d), out=dn[:m])
        if r:
            torch.mm(gneg[m * g :], n[m], out=dv[m * g :])
            torch.mm(gneg[m * g :].T, v[m * g :], out=dn[m])
        dv.addcmul_(u, gpos[:, None])
        torch.mul(v, gpos[:, None], out=values[:b])
        out_index = torch.cat([outputs, negatives.reshape(-1)])
        d_out = torch.sparse_coo_tensor(out_index[None], values, (ctx.vocab, d), check_invariants=False)
        if inputs.ndim == 1:
            d_in = torch.sparse_coo_tensor(inputs.reshape(1, -1), dv, (ctx.vocab, d), check_invariants=False)
        else:  # every context word of an example gets that example's whole dv
            d_in = torch.sparse_coo_tensor(context[None], dv.index_select(0, example), (ctx.vocab, d), check_invariants=False)
        return d_in, None, d_out, None, None


class Word2Vec(nn.Module):
    """Input and output embedding tables; subclasses say how an example's input vector is formed."""

    mode: ClassVar[str] = ""
    head_names = ("output",)  # the context vectors: not what a user keeps

    def __init__(self, cfg: Word2VecConfig):
        super().__init__()
        self.config = cfg
        # sparse=True: backward yields only the rows a batch touched (B x dim), not vocab_size x dim.
        # Only CBOW pads its context windows; a padding_idx costs skip-gram a masked copy per step.
        self.input = nn.Embedding(cfg.vocab_size, cfg.dim, padding_idx=PAD_ID if self.mode == "cbow" else None, sparse=True)
        self.output = nn.Embedding(cfg.vocab_size, cfg.dim, sparse=True)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """word2vec.c's initialization: input rows uniform in ±0.5/dim, output rows zero (<pad> zero)."""
        with torch.no_grad():
            self.input.weight.uniform_(-0.5 / self.config.dim, 0.5 / self.config.dim)
            self.input.weight[PAD_ID].zero_()
            self.output.weight.zero_()

    def sampling(self) -> Sampling:
        """How the data module must draw this model's examples."""
        c = self.config
        return Sampling(mode=self.mode, window=c.window, negatives=c.negatives, shared_negatives=c.shared_negatives,
                        subsample=c.subsample, ns_exponent=c.ns_exponent)  # fmt: skip

    @property
    def vectors(self) -> Tensor:
        """The word vectors, ``(vocab_size, dim)`` (the input table)."""
        return self.input.weight

    def encode(self, inputs: Tensor) -> Tensor:
        """Input vector of each example, ``(B, dim)``."""
        raise NotImplementedError

    def forward(self, inputs: Tensor, outputs: Tensor, negatives: Tensor) -> tuple[Tensor, Tensor]:
        """Scores ``(B,)`` of each example's output word and ``(B, K)`` of its group's negatives.

        ``negatives`` is ``(NG, K)``: examples are cut into NG consecutive groups
        of ``G = ceil(B / NG)`` that share a row, so the negative scores are one
        ``(NG, G, dim) @ (NG, dim, K)`` matmul. Plain autograd: the reference
        that :meth:`loss` (what training uses) is tested against.
        """
        v = self.encode(inputs)  # (B, D)
        b, d = v.shape
        ng, k = negatives.shape
        g = -(-b // ng)
        u_out = self.output(outputs)  # (B, D)
        u_neg = self.output(negatives)  # (NG, K, D)
        pos = (v * u_out).sum(-1)  # (B,)
        vg = v if ng * g == b else F.pad(v, (0, 0, 0, ng * g - b))  # (NG*G, D), zero rows at the end
        neg = torch.bmm(vg.view(ng, g, d), u_neg.transpose(1, 2)).reshape(ng * g, k)[:b]  # (B, K)
        return pos, neg

    def loss(self, inputs: Tensor, outputs: Tensor, negatives: Tensor) -> Tensor:
        """Negative-sampling loss of each example, ``(B,)``: ``-log σ(pos) - Σ_k log σ(-neg_k)`` (what training uses)."""
        return NegativeSampling.apply(self.input.weight, inputs, self.output.weight, outputs, negatives)


class SkipGram(Word2Vec):
    """Skip-gram: one context word's vector predicts the centre word (inputs ``(B,)``)."""

    mode = "skipgram"

    def encode(self, inputs: Tensor) -> Tensor:
        return self.input(inputs)  # (B, D)


class CBOW(Word2Vec):
    """CBOW: the mean of the context words' vectors predicts the centre (inputs ``(B, 2 * window)``, 0 = none)."""

    mode = "cbow"

    def encode(self, inputs: Tensor) -> Tensor:
        summed = self.input(inputs).sum(1)  # (B, D); <pad> rows are zero
        count = (inputs != PAD_ID).sum(1, keepdim=True).clamp(min=1)  # (B, 1)
        # The value is the mean, but each context word receives the whole error, as word2vec.c
        # and gensim (cbow_mean=1) do: the gradient is that of the sum.
        return summed + (summed / count - summed).detach()


# ----------------------------------------------------------------------------- builders


def _from_data(info: Any) -> dict[str, Any]:
    return {"vocab_size": len(info.extra["vocab"]["tokens"])}


_ENTRY = dict(config=Word2VecConfig, tasks=("embedding",), default_data="w2v_tiny", from_data=_from_data)


@register_model(**_ENTRY)
def word2vec_sgns(**kwargs: Any) -> SkipGram:
    """Skip-gram with negative sampling (word2vec -cbow 0): 100-d, window 5, 5 negatives, subsampling 1e-3."""
    return SkipGram(Word2VecConfig(**kwargs))


@register_model(**_ENTRY)
def word2vec_cbow(**kwargs: Any) -> CBOW:
    """CBOW with negative sampling (word2vec -cbow 1, mean of the context): 100-d, window 5, 5 negatives."""
    return CBOW(Word2VecConfig(**kwargs))


@register_model(**_ENTRY, tags=("tiny",))
def word2vec_sgns_tiny(**kwargs: Any) -> SkipGram:
    """Skip-gram of 16-d vectors, window 2, 3 negatives shared by 16 examples: for tests and smoke studies."""
    return SkipGram(Word2VecConfig(**{"dim": 16, "window": 2, "negatives": 3, "shared_negatives": 16, **kwargs}))


# ----------------------------------------------------------------------------- pretrained entries
# Files in weights/<id>/ (zoo/hub.py finds them); the schema test is tests/test_pretrained_entries.py.

register_pretrained(PretrainedEntry(
    id="word2vec_sgns-w2v_combined", model="word2vec_sgns", dataset="w2v_combined", default=True,
    summary="skip-gram with negative sampling, 100-d, on WikiText-2 valid+test + spa-eng English + Tiny Shakespeare (11,631 words)",
    recipe="benchmarks/recipes/word2vec_sgns-w2v_combined.yaml", split="test",
    metrics={"loss": 2.1032242153167724, "analogy_acc": 0.14983863531581373, "ws353_spearman": 0.5531905220896376, "simlex_spearman": 0.1619116660257199},
    num_parameters=2326400, classes=(),
    licence='CC BY-SA 3.0 (Wikipedia text); the pytorch/examples code is BSD-3-Clause',
    versions={"zoobench": "0.1.0", "torch": "2.13.0+cpu"},
    notes="weights stored in float16 (zoo pretrained pack --storage float16), the figures measured on them: "
          "SimLex 0.16191 against 0.16193 in float32, analogy unchanged",
    files=(WeightFile("weights/word2vec_sgns-w2v_combined/model.safetensors", "28d879df07fb1d2ab1e3b04ea4e80061a97306b0faac8f8990b8984dc492ca86", 4652976),
           WeightFile("weights/word2vec_sgns-w2v_combined/card.json", "5d05bab02363990debf4804cbc51d4b195fdc0cdc28b3b3cc1a799e853f9ab7a", 382162)),
))
