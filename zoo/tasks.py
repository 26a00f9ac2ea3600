"""The systems: LightningModules that train a model (an ``nn.Module``) for a task.

Model and system are kept apart (Lightning's style guide): a family file builds
the network, a task here owns the loss, the optimizer (injected as an
:class:`~zoo.optim.OptimConfig`) and the metrics. Every task works under
Lightning's ``Trainer`` (``training_step`` / ``validation_step`` /
``test_step``) and under zoobench's leaner loop (:mod:`zoo.engine`), which
calls the two methods underneath them:

* ``training_loss(batch) -> (loss, n)``: the objective of one batch, penalties included;
* ``evaluate(batches) -> (metrics, predictions)``: one pass over a split,
  metrics computed once from the concatenated outputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo import scoring as M
from zoo.errors import ConfigError, check_positive
from zoo.optim import OptimConfig, SparseSGD, build_optimizer, build_scheduler
from zoo.transfer import frozen_norms


class Task(L.LightningModule):
    """Base system: optimizer/schedule wiring, L1/L2 penalties, evaluation loop."""

    kind: ClassVar[str] = ""
    monitor: ClassVar[tuple[str, str]] = ("val_loss", "min")
    """Metric that early stopping and checkpoint selection watch, and its direction."""
    default_optim: ClassVar[dict[str, Any]] = {}
    """Optimizer settings when none at all is given (most tasks: OptimConfig's own defaults)."""

    def __init__(self, model: nn.Module, optim: OptimConfig | None = None, *, l1: float = 0.0, l2: float = 0.0):
        super().__init__()
        check_positive("l1", l1, allow_zero=True)
        check_positive("l2", l2, allow_zero=True)
        self.model = model
        self.optim = optim or OptimConfig(**self.default_optim)
        self.l1, self.l2 = float(l1), float(l2)
        # Set by the training loop (or read from Lightning's Trainer) before configure_optimizers.
        self.steps_per_epoch: int | None = None
        self.total_steps: int | None = None

    # ------------------------------------------------------------------ per task
    def forward(self, *args: Any) -> Any:
        return self.model(*args)

    def batch_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int]:
        """Mean data loss of one batch and its number of samples (or tokens)."""
        raise NotImplementedError

    def outputs(self, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        """Per-sample outputs kept for metrics at evaluation (e.g. probs, target)."""
        raise NotImplementedError

    def eval_batch(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int, dict[str, Tensor]]:
        """Loss, sample count and :meth:`outputs` of one evaluation batch.

        Tasks whose loss and outputs come from the same forward pass override this
        to run the model once (evaluation is a large share of a short cell's time).
        """
        loss, n = self.batch_loss(batch)
        return loss, n, self.outputs(batch)

    def split_metrics(self, out: dict[str, Tensor], *, full: bool) -> dict[str, Any]:
        """Metrics of a whole split from the concatenated :meth:`outputs`."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared
    def penalty(self) -> Tensor | float:
        """L1/L2 penalties on weights (not biases or norm parameters), as Keras' kernel regularizers."""
        weights = [p for p in self.model.parameters() if p.ndim >= 2 and p.requires_grad]
        pen: Tensor | float = 0.0
        if self.l1:
            pen = pen + self.l1 * sum(p.abs().sum() for p in weights)
        if self.l2:
            pen = pen + self.l2 * sum(p.pow(2).sum() for p in weights)
        return pen

    def training_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int]:
        loss, n = self.batch_loss(batch)
        if self.l1 or self.l2:
            loss = loss + self.penalty()
        return loss, n

    @torch.no_grad()
    def evaluate(self, batches: Iterable[tuple[Tensor, ...]], *, full: bool = True) -> tuple[dict, dict[str, Tensor]]:
        """Loss and metrics of one split; returns (metrics, concatenated outputs)."""
        was_training = self.training
        self.eval()
        total, count, parts = torch.zeros((), dtype=torch.float64), 0, []
        for batch in batches:
            loss, n, outputs = self.eval_batch(batch)
            total += loss.detach().double().cpu() * n
            count += n
            parts.append(outputs)
        self.train(was_training)
        out = {k: torch.cat([p[k].detach().cpu() for p in parts]) for k in parts[0]} if parts else {}
        metrics = {"loss": (total / max(1, count)).item()}
        if parts:
            metrics.update(self.split_metrics(out, full=full))
        return metrics, out

    def configure_optimizers(self) -> Any:
        optimizer = build_optimizer(self.optim, self)
        spe, total = self.steps_per_epoch, self.total_steps
        if spe is None and self._trainer is not None:  # under Lightning's Trainer
            total = int(self.trainer.estimated_stepping_batches)
            spe = max(1, total // max(1, self.trainer.max_epochs or 1))
        spec = build_scheduler(self.optim, optimizer, spe or 1, total or 1)
        if spec is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": spec.as_lightning()}

    # ------------------------------------------------------------------ Lightning Trainer hooks
    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        loss, n = self.training_loss(batch)
        self.log("train_loss", loss.detach(), on_step=False, on_epoch=True, batch_size=n)
        return loss

    def validation_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        self._eval_step("val", batch)

    def test_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        self._eval_step("test", batch)

    def _eval_step(self, stage: str, batch: tuple[Tensor, ...]) -> None:
        loss, n = self.batch_loss(batch)
        self.log(f"{stage}_loss", loss, on_epoch=True, batch_size=n)
        if hasattr(self, "_accuracy"):
            self.log(f"{stage}_acc", self._accuracy(batch), on_epoch=True, batch_size=n)

    def prepare_data_stats(self, data: Any) -> None:
        """Fit data-dependent layers (input scalers) on the training split only."""
        from zoo.layers import fit_input_scalers

        fit_input_scalers(self.model, data.inputs("train"))

    def train(self, mode: bool = True) -> Task:
        super().train(mode)
        if mode:  # frozen batch-norm layers keep their statistics too (Keras' fine-tuning guide)
            for m in frozen_norms(self.model, getattr(self, "frozen", "none")):
                m.eval()
        return self

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)


class ClassificationTask(Task):
    """Multi-class (softmax + cross-entropy) or binary (one logit + BCE) classification."""

    kind = "multiclass"
    monitor = ("val_loss", "min")

    def __init__(
        self,
        model: nn.Module,
        optim: OptimConfig | None = None,
        *,
        binary: bool = False,
        label_smoothing: float = 0.0,
        l1: float = 0.0,
        l2: float = 0.0,
    ):
        super().__init__(model, optim, l1=l1, l2=l2)
        if not 0 <= label_smoothing < 1:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}.")
        self.binary = binary
        self.kind = "binary" if binary else "multiclass"
        self.label_smoothing = label_smoothing

    def _logits(self, x: Tensor) -> Tensor:
        logits = self.model(x)
        return logits[:, 0] if self.binary else logits  # (B,) for binary, (B, C) otherwise

    def _loss(self, logits: Tensor, y: Tensor) -> Tensor:
        if self.binary:
            target = y.float()
            if self.label_smoothing:
                target = target * (1 - self.label_smoothing) + 0.5 * self.label_smoothing
            return F.binary_cross_entropy_with_logits(logits, target)
        return F.cross_entropy(logits, y, label_smoothing=self.label_smoothing)

    def _proba(self, logits: Tensor) -> Tensor:
        return torch.sigmoid(logits) if self.binary else logits.softmax(-1)

    def batch_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int]:
        x, y = batch
        return self._loss(self._logits(x), y), y.shape[0]

    def predict_proba(self, x: Tensor) -> Tensor:
        return self._proba(self._logits(x))

    def outputs(self, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        x, y = batch
        return {"probs": self.predict_proba(x), "target": y}

    def eval_batch(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int, dict[str, Tensor]]:
        x, y = batch
        logits = self._logits(x)
        return self._loss(logits, y), y.shape[0], {"probs": self._proba(logits), "target": y}

    def split_metrics(self, out: dict[str, Tensor], *, full: bool) -> dict[str, Any]:
        return M.classification_metrics(out["probs"], out["target"], full=full)

    def _accuracy(self, batch: tuple[Tensor, ...]) -> Tensor:
        out = self.outputs(batch)
        pred = (out["probs"] >= 0.5).long() if self.binary else out["probs"].argmax(-1)
        return (pred == out["target"]).float().mean()


class RegressionTask(Task):
    """Regression with MSE (or Huber) loss; RMSE, MAE and R² on evaluation."""

    kind = "regression"

    def __init__(
        self,
        model: nn.Module,
        optim: OptimConfig | None = None,
        *,
        huber_delta: float = 0.0,
        aux_weight: float = 0.1,
        l1: float = 0.0,
        l2: float = 0.0,
    ):
        super().__init__(model, optim, l1=l1, l2=l2)
        check_positive("huber_delta", huber_delta, allow_zero=True)
        if isinstance(aux_weight, bool) or not isinstance(aux_weight, (int, float)) or not 0 <= aux_weight <= 1:
            raise ConfigError(f"aux_weight must be in [0, 1], got {aux_weight!r}.")
        self.huber_delta = huber_delta
        """0 = mean squared error; > 0 = Huber loss with this delta (robust to outliers)."""
        self.aux_weight = float(aux_weight)
        """Loss weight of an auxiliary output (models returning (main, aux) while training, e.g. wide_deep
        with aux_output); the main output gets 1 - aux_weight (Hands-On ML: 0.9 / 0.1)."""

    def _loss(self, pred: Tensor, y: Tensor) -> Tensor:
        y = y.reshape(pred.shape)
        if self.huber_delta:
            return F.huber_loss(pred, y, delta=self.huber_delta)
        return F.mse_loss(pred, y)

    def _pred_loss(self, pred: Tensor | tuple[Tensor, Tensor], y: Tensor) -> Tensor:
        if isinstance(pred, tuple):  # (main, auxiliary) while training: weighted losses
            main, aux = pred
            w = self.aux_weight
            return (1 - w) * self._loss(main, y) + w * self._loss(aux, y)
        return self._loss(pred, y)

    def batch_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int]:
        x, y = batch
        return self._pred_loss(self.model(x), y), y.shape[0]

    @staticmethod
    def _outputs(pred: Tensor | tuple[Tensor, Tensor], y: Tensor) -> dict[str, Tensor]:
        pred = pred[0] if isinstance(pred, tuple) else pred  # the main output
        return {"pred": pred, "target": y.reshape(pred.shape)}

    def outputs(self, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        x, y = batch
        return self._outputs(self.model(x), y)

    def eval_batch(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int, dict[str, Tensor]]:
        x, y = batch
        pred = self.model(x)
        return self._pred_loss(pred, y), y.shape[0], self._outputs(pred, y)

    def split_metrics(self, out: dict[str, Tensor], *, full: bool) -> dict[str, Any]:
        return M.regression_metrics(out["pred"], out["target"])


# ----------------------------------------------------------------------------- seq2seq (zoo/models/seq2seq.py)


def corpus_bleu(hypotheses: list[list[int]], references: list[list[int]], unk_id: int = 1) -> float:
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


class Seq2SeqTask(Task):
    """Encoder-decoder translation: next-token cross-entropy with teacher forcing.

    Batches are ``(src (B, S), tgt (B, T + 2)[, row (B,)])`` from
    :mod:`zoo.data.translation`: the model reads ``tgt[:, :-1]`` (``<bos>`` first)
    and predicts ``tgt[:, 1:]`` (``<eos>`` last); ``<pad>`` (id 0) positions are
    ignored. The ``n`` of :meth:`batch_loss` is the number of target tokens, so
    losses average per token (and the loop's throughput counts tokens).

    Metrics: ``loss`` (per-token NLL, label smoothing excluded), ``acc`` (token
    accuracy over non-pad target positions under teacher forcing, as Keras'
    masked accuracy in Hands-On ML ch. 16), ``exact`` (sentences with every
    token right); with ``full=True`` also ``bleu`` (corpus BLEU-4 of greedy
    translations, 0-1, :func:`corpus_bleu`) and ``examples`` (source, reference,
    translation of the first :attr:`EXAMPLES` sentences of the split).
    """

    kind = "seq2seq"
    monitor = ("val_acc", "max")
    EXAMPLES: ClassVar[int] = 200

    def __init__(self, model: nn.Module, optim: OptimConfig | None = None, *, label_smoothing: float = 0.0, l1: float = 0.0, l2: float = 0.0):
        super().__init__(model, optim, l1=l1, l2=l2)
        if not 0 <= label_smoothing < 1:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}.")
        self.label_smoothing = label_smoothing

    def _logits(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, Tensor]:
        src, tgt = batch[0], batch[1]
        return self.model(src, tgt[:, :-1]), tgt[:, 1:]  # (B, T, V), (B, T)

    def batch_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int]:
        logits, target = self._logits(batch)
        loss = F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=0, label_smoothing=self.label_smoothing)
        return loss, int((target != 0).sum())

    @staticmethod
    def _sentence_outputs(logits: Tensor, target: Tensor, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        mask = target != 0  # (B, T)
        out = {
            "correct": ((logits.argmax(-1) == target) & mask).sum(1),
            "tokens": mask.sum(1),
            "nll": F.cross_entropy(logits.transpose(1, 2), target, ignore_index=0, reduction="none").sum(1),
        }
        if len(batch) > 2:
            out["row"] = batch[2]
        return out

    def outputs(self, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        """Per sentence: correct tokens, target tokens, summed NLL (and the row in its split)."""
        logits, target = self._logits(batch)
        return self._sentence_outputs(logits, target, batch)

    def split_metrics(self, out: dict[str, Tensor], *, full: bool) -> dict[str, Any]:
        tokens = out["tokens"].sum().clamp(min=1)
        return {
            "acc": (out["correct"].sum() / tokens).item(),
            "exact": (out["correct"] == out["tokens"]).float().mean().item(),
        }

    def _accuracy(self, batch: tuple[Tensor, ...]) -> Tensor:
        out = self.outputs(batch)
        return out["correct"].sum() / out["tokens"].sum().clamp(min=1)

    @torch.no_grad()
    def evaluate(self, batches: Iterable[tuple[Tensor, ...]], *, full: bool = True) -> tuple[dict, dict[str, Tensor]]:
        """One forward pass per batch (loss and accuracy together); with ``full``, greedy decoding for BLEU."""
        was_training = self.training
        self.eval()
        parts, hyps, refs, srcs = [], [], [], []
        for batch in batches:
            logits, target = self._logits(batch)
            parts.append({k: v.detach().cpu() for k, v in self._sentence_outputs(logits, target, batch).items()})
            if full:
                pred = self.model.greedy(batch[0]).cpu()  # (B, L): words, <eos>, <pad>...
                hyps += [[t for t in row if t not in (0, 3)] for row in pred.tolist()]
                refs += [[t for t in row if t not in (0, 3)] for row in target.cpu().tolist()]
                srcs += [[t for t in row if t != 0] for row in batch[0].cpu().tolist()]
        self.train(was_training)
        if not parts:
            return {"loss": float("nan")}, {}
        out = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        order = torch.argsort(out["row"]) if "row" in out else torch.arange(len(out["tokens"]))
        out = {k: v[order] for k, v in out.items()}
        out["acc"] = out["correct"] / out["tokens"].clamp(min=1)
        metrics: dict[str, Any] = {"loss": (out["nll"].double().sum() / out["tokens"].sum().clamp(min=1)).item()}
        metrics.update(self.split_metrics(out, full=full))
        if full:
            idx = order.tolist()
            hyps, refs, srcs = [hyps[i] for i in idx], [refs[i] for i in idx], [srcs[i] for i in idx]
            metrics["bleu"] = corpus_bleu(hyps, refs)
            metrics["examples"] = self._examples(srcs, refs, hyps)
        return metrics, out

    def _examples(self, srcs: list[list[int]], refs: list[list[int]], hyps: list[list[int]]) -> list[dict[str, str]]:
        """Source, reference and greedy translation, as text, of the first sentences of the split."""
        extra = getattr(getattr(self, "data_info", None), "extra", None) or {}
        if "src_vocab" not in extra or "tgt_vocab" not in extra:
            return []
        from zoo.data.vocab import Vocab

        sv, tv = Vocab.from_dict(extra["src_vocab"]), Vocab.from_dict(extra["tgt_vocab"])
        n = min(self.EXAMPLES, len(hyps))
        text = lambda v, ids: " ".join(v.itos[i] for i in ids)  # noqa: E731  (<unk> stays visible)
        return [{"source": text(sv, srcs[i]), "reference": text(tv, refs[i]), "translation": text(tv, hyps[i])} for i in range(n)]

    def prepare_data_stats(self, data: Any) -> None:
        """Nothing to fit: word ids need no scaling."""


# ----------------------------------------------------------------------------- language model (zoo/models/char_rnn.py)


class LanguageModelTask(Task):
    """Next-token prediction: cross-entropy at every step of a window, stateless or stateful.

    Batches are ``(x (B, T), y (B, T)[, first])`` from :mod:`zoo.data.charlm`;
    ``y[:, i]`` is the token after ``x[:, i]``. ``n`` of :meth:`batch_loss` is
    ``B * T`` tokens, so losses average per token and the loop's throughput
    counts tokens (characters/s).

    ``stateful=True`` carries the model's final hidden state into the next
    batch (detached: truncated back-propagation through time), which needs
    batches whose row ``b`` continues row ``b`` of the previous batch;
    :meth:`prepare_data_stats` asks the data module for them
    (``set_stateful``). The state restarts from zero where a batch says
    ``first`` (the first batch of a pass), separately for training and evaluation.

    Metrics: ``loss`` (nats per token), ``bits_per_char`` (loss / ln 2),
    ``perplexity`` (exp loss) and ``acc`` (top-1 next-token accuracy).
    Predictions are small: per window, summed ``nll``, ``tokens`` and ``correct``;
    with ``full``, also ``sample_pred``/``sample_target`` (top-1 and truth) of the first
    :attr:`SAMPLE_WINDOWS` windows.
    """

    kind = "language_model"
    monitor = ("val_loss", "min")
    SAMPLE_WINDOWS: ClassVar[int] = 8

    def __init__(self, model: nn.Module, optim: OptimConfig | None = None, *, stateful: bool = False, l1: float = 0.0, l2: float = 0.0):
        super().__init__(model, optim, l1=l1, l2=l2)
        if not isinstance(stateful, bool):
            raise ConfigError(f"stateful must be true or false, got {stateful!r}.")
        if stateful and not hasattr(model, "forward_state"):
            raise ConfigError(f"stateful training needs a recurrent model with forward_state; {type(model).__name__} has none.")
        self.stateful = stateful
        self._state: dict[str, Any] = {}  # "train" / "eval" -> hidden state of the last batch

    def prepare_data_stats(self, data: Any) -> None:
        """Nothing to fit; a stateful task asks the data module for batches in stream order."""
        if hasattr(data, "set_stateful"):
            data.set_stateful(self.stateful)
        elif self.stateful:
            raise ConfigError(f"stateful training needs consecutive windows, which {type(data).__name__} cannot serve.")

    def _logits(self, batch: tuple[Any, ...]) -> Tensor:
        x = batch[0]
        if not self.stateful:
            return self.model(x)  # (B, T, V)
        from zoo.models.char_rnn import detach_state, state_batch_size

        key = "train" if self.training else "eval"
        state = self._state.get(key)
        if (len(batch) > 2 and batch[2]) or state is None or state_batch_size(state) != x.shape[0]:
            state = None  # a new pass (or a new batch shape) starts from zeros
        logits, state = self.model.forward_state(x, state)
        self._state[key] = detach_state(state)
        return logits

    def batch_loss(self, batch: tuple[Any, ...]) -> tuple[Tensor, int]:
        y = batch[1]
        logits = self._logits(batch)
        return F.cross_entropy(logits.flatten(0, 1), y.flatten()), y.numel()

    @staticmethod
    def _window_outputs(logits: Tensor, y: Tensor) -> dict[str, Tensor]:
        return {
            "nll": F.cross_entropy(logits.transpose(1, 2), y, reduction="none").sum(1),  # (B,) nats
            "tokens": torch.full((y.shape[0],), y.shape[1], dtype=torch.long, device=y.device),
            "correct": (logits.argmax(-1) == y).sum(1),
        }

    def outputs(self, batch: tuple[Any, ...]) -> dict[str, Tensor]:
        """Per window: summed NLL (nats), tokens, correct top-1 predictions."""
        return self._window_outputs(self._logits(batch), batch[1])

    def split_metrics(self, out: dict[str, Tensor], *, full: bool) -> dict[str, Any]:
        import math

        tokens = out["tokens"].sum().clamp(min=1)
        loss = (out["nll"].double().sum() / tokens).item()
        return {
            "bits_per_char": loss / math.log(2),
            "perplexity": math.exp(min(loss, 700.0)),  # exp overflows a float past ~709
            "acc": (out["correct"].sum() / tokens).item(),
        }

    @torch.no_grad()
    def evaluate(self, batches: Iterable[tuple[Any, ...]], *, full: bool = True) -> tuple[dict, dict[str, Tensor]]:
        """One forward pass per batch (a stateful model must not advance its state twice)."""
        was_training = self.training
        self.eval()
        parts, preds, targets = [], [], []
        kept = 0
        for batch in batches:
            logits, y = self._logits(batch), batch[1]
            parts.append({k: v.detach().cpu() for k, v in self._window_outputs(logits, y).items()})
            if full and kept < self.SAMPLE_WINDOWS:
                take = min(self.SAMPLE_WINDOWS - kept, y.shape[0])
                preds.append(logits[:take].argmax(-1).cpu())
                targets.append(y[:take].cpu())
                kept += take
        self.train(was_training)
        if not parts:
            return {"loss": float("nan")}, {}
        out = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        metrics: dict[str, Any] = {"loss": (out["nll"].double().sum() / out["tokens"].sum().clamp(min=1)).item()}
        metrics.update(self.split_metrics(out, full=full))
        if preds:
            out["sample_pred"], out["sample_target"] = torch.cat(preds), torch.cat(targets)
        return metrics, out

    def _eval_step(self, stage: str, batch: tuple[Any, ...]) -> None:
        # Under Lightning's Trainer: loss and accuracy from one forward pass.
        logits, y = self._logits(batch), batch[1]
        self.log(f"{stage}_loss", F.cross_entropy(logits.flatten(0, 1), y.flatten()), on_epoch=True, batch_size=y.numel())
        self.log(f"{stage}_acc", (logits.argmax(-1) == y).float().mean(), on_epoch=True, batch_size=y.numel())


class EmbeddingTask(Task):
    """Word embeddings (word2vec): the negative-sampling loss; analogy and similarity scores as metrics.

    The model (:mod:`zoo.models.word2vec`) scores a batch ``(inputs, outputs,
    negatives)``: each example's true output word ``pos`` ``(B,)`` and its
    negatives ``neg`` ``(B, K)``; an example's loss is ``-log σ(pos) - Σ_k log σ(-neg_k)``,
    which ``model.loss`` computes with a hand-written backward (the model's
    ``forward`` gives the scores through plain autograd, the reference).

    * Step size: the gradient is that of the *sum* over the batch (the reported
      loss is the mean), so ``lr`` is the per-example step, word2vec's ``alpha``,
      at any batch size.
    * Optimizer: the tables have sparse gradients, so ``sgd`` (SGD), ``adagrad``
      and ``adam`` (SparseAdam) update only the rows a batch touched. With no
      optimizer setting given at all, word2vec's own: sgd, lr 0.025 decayed
      linearly to 1e-4 (word2vec.c, gensim).
    * Metrics (:mod:`zoo.eval_words`, on the sets the data module loaded):
      ``analogy_acc`` over questions whose words are among the ``analogy_vocab``
      most frequent (final evaluation only: it takes seconds), ``ws353_spearman``,
      ``simlex_spearman`` (every epoch), and the share of each set covered.
      They depend on the vectors only, so val and test get the same word
      scores; each split's loss is over its own fixed sample of examples.
    * Batches: a word met ``c`` times in a batch moves ``c`` steps at once, from
      one set of stale vectors; subsampling caps frequent words, and 4,096
      examples per step is safe on a 20k-word vocabulary, but a vocabulary of a
      few dozen words needs small batches (or it diverges).
    """

    kind = "embedding"
    monitor = ("val_loss", "min")
    SPARSE_OPTIMIZERS = ("sgd", "adagrad", "adam")
    default_optim = dict(optimizer="sgd", lr=0.025, schedule="linear", min_lr=1e-4)
    """word2vec.c's and gensim's defaults: alpha 0.025 decayed linearly to min_alpha 1e-4."""

    def __init__(self, model: nn.Module, optim: OptimConfig | None = None, *, analogy_vocab: int = 30_000):
        super().__init__(model, optim)
        check_positive("analogy_vocab", analogy_vocab, integer=True)
        self.analogy_vocab = analogy_vocab
        self.word_eval: Any = None  # zoo.eval_words.WordEval, from the data module

    def batch_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int]:
        loss = self.model.loss(*batch)  # (B,): -log σ(pos) - Σ_k log σ(-neg_k), fused backward
        return loss.mean(), loss.shape[0]

    def training_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, int]:
        loss, n = self.batch_loss(batch)
        total = loss * n
        return total - total.detach() + loss.detach(), n  # value: the mean; gradient: the sum's

    def outputs(self, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        return {}  # the word scores need the vectors, not per-example outputs

    def split_metrics(self, out: dict[str, Tensor], *, full: bool) -> dict[str, Any]:
        """Word scores; the analogies (seconds on a 20k-word vocabulary) only when ``full`` (end of training)."""
        if self.word_eval is None or "vocab" not in (getattr(getattr(self, "data_info", None), "extra", None) or {}):
            return {}
        key = (self.model.vectors._version, self.model.vectors.data_ptr(), full)  # val and test share one computation
        if getattr(self, "_word_scores", (None, None))[0] != key:
            scores = self.word_eval.scores(self.word_vectors(), analogy_vocab=self.analogy_vocab, analogies=full)
            self._word_scores = (key, scores)
        return dict(self._word_scores[1])

    def word_vectors(self) -> Any:
        """The model's word vectors with their words (:class:`zoo.eval_words.WordVectors`)."""
        from zoo.eval_words import WordVectors

        extra = getattr(getattr(self, "data_info", None), "extra", None) or {}
        if "vocab" not in extra:
            raise ConfigError("this embedding model has no vocabulary yet: train it on a dataset or load a checkpoint.")
        return WordVectors(self.model.vectors, extra["vocab"]["tokens"], counts=extra.get("counts"))

    def prepare_data_stats(self, data: Any) -> None:
        """Hand the model's example settings to the data module; keep its evaluation sets."""
        if hasattr(data, "set_sampling"):
            data.set_sampling(self.model.sampling())
        self.word_eval = getattr(data, "word_eval", None)

    def configure_optimizers(self) -> Any:
        from zoo.errors import check_choice

        o = self.optim
        check_choice("optimizer for sparse embeddings", o.optimizer, self.SPARSE_OPTIMIZERS)
        if o.weight_decay:
            raise ConfigError("weight_decay must be 0 for word embeddings: it would update every row at every step.")
        params = [p for p in self.model.parameters() if p.requires_grad]
        if o.optimizer == "sgd":
            optimizer: torch.optim.Optimizer = SparseSGD(params, lr=o.lr)
        elif o.optimizer == "adagrad":
            optimizer = torch.optim.Adagrad(params, lr=o.lr, eps=o.eps)
        else:  # Adam's moments for the touched rows only (lazy Adam)
            optimizer = torch.optim.SparseAdam(params, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps)
        spe, total = self.steps_per_epoch, self.total_steps
        if spe is None and self._trainer is not None:  # under Lightning's Trainer
            total = int(self.trainer.estimated_stepping_batches)
            spe = max(1, total // max(1, self.trainer.max_epochs or 1))
        spec = build_scheduler(o, optimizer, spe or 1, total or 1)
        return optimizer if spec is None else {"optimizer": optimizer, "lr_scheduler": spec.as_lightning()}


# ----------------------------------------------------------------------------- the table of tasks

TASKS: dict[str, type[Task]] = {
    "multiclass": ClassificationTask,
    "binary": ClassificationTask,
    "regression": RegressionTask,
    "language_model": LanguageModelTask,
    "seq2seq": Seq2SeqTask,
    "embedding": EmbeddingTask,
}
"""Task kind (== ``DataInfo.kind``) -> the LightningModule that trains for it."""


def task_params(task: str) -> set[str]:
    """Keyword arguments of a task's constructor (besides model and optim)."""
    import inspect

    sig = inspect.signature(TASKS[task].__init__)
    return {k for k in sig.parameters if k not in ("self", "model", "optim")}


def make_task(task: str, model: nn.Module, optim: OptimConfig | None, kwargs: dict[str, Any]) -> Task:
    cls = TASKS[task]
    if task == "binary":
        kwargs = {**kwargs, "binary": True}
    return cls(model, optim, **kwargs)
