"""Realistic results stores for the report tests, written through the harness's own writers:
zoo/bench/store.py (study.json and cells.json, :meth:`Store.init`) and zoo/record.py (every
file of a cell folder, result.json in the current schema).

Predictions and histories of the classification and regression problems are real: a
one-hidden-layer network written in numpy is trained epoch by epoch, with a real
optimizer (sgd, momentum, adam), on scikit-learn's digits (multi-class), breast_cancer
(binary) and diabetes (regression), so ROC curves, confusion matrices and seed spreads
look like the real thing and cost milliseconds. Language-model, seq2seq and word2vec
cells carry fabricated metrics (the harness stores no predictions for them). Failures
are injected on request: error, oom, skipped, pending (half-written) and diverged cells.

The training and the reference metrics are independent of zoo (numpy and scipy); only the
files are written by zoo's record writers, so the report reads what the harness writes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo import record
from zoo.bench.store import Store

PROBLEMS = {
    "mlp-digits": ("mlp", "digits", "multiclass"),
    "mlp-breast_cancer": ("mlp", "breast_cancer", "binary"),
    "mlp-diabetes": ("mlp", "diabetes", "regression"),
    "char_gru-shakespeare": ("char_gru", "shakespeare", "language_model"),
    "seq2seq_gru-spa_eng": ("seq2seq_gru", "spa_eng", "seq2seq"),
    "word2vec_sgns-wikitext2": ("word2vec_sgns", "wikitext2", "embedding"),
}


# ------------------------------------------------------------------------------------------
# Data: fixed split (seed 0) of scikit-learn's bundled sets, standardised on the train part
# ------------------------------------------------------------------------------------------

_DATA: dict[str, tuple] = {}


def dataset(name: str) -> tuple[np.ndarray, ...]:
    """(Xtr, ytr, Xva, yva, Xte, yte) with features standardised on the train split."""
    if name in _DATA:
        return _DATA[name]
    from sklearn import datasets

    loader = {"digits": datasets.load_digits, "breast_cancer": datasets.load_breast_cancer,
              "diabetes": datasets.load_diabetes}[name]
    X, y = loader(return_X_y=True)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(X))
    n_test = n_val = int(0.2 * len(X))
    te, va, tr = idx[:n_test], idx[n_test:n_test + n_val], idx[n_test + n_val:]
    mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-8
    X = (X - mu) / sd
    out = (X[tr], y[tr], X[va], y[va], X[te], y[te])
    _DATA[name] = out
    return out


# ------------------------------------------------------------------------------------------
# A tiny numpy MLP and three optimizers
# ------------------------------------------------------------------------------------------

ACTS = {
    "relu": (lambda z: np.maximum(z, 0), lambda z, h: (z > 0).astype(z.dtype)),
    "tanh": (np.tanh, lambda z, h: 1 - h * h),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z, h: h * (1 - h)),
    "identity": (lambda z: z, lambda z, h: np.ones_like(z)),
}


@dataclass
class Trained:
    history: list[dict[str, float]]
    outputs: np.ndarray | None  # test probs (N, C) / (N,) or predictions (N,); None if diverged
    diverged_at: int | None
    train_seconds: float
    samples: int
    steps: int
    num_parameters: int
    val_outputs: np.ndarray | None


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def train_mlp(kind: str, data: str, *, optimizer: str, lr: float, activation: str, batch_size: int,
              seed: int, epochs: int, hidden: int = 16) -> Trained:
    """Train and record one row per epoch, as the harness's metrics.csv."""
    Xtr, ytr, Xva, yva, Xte, yte = dataset(data)
    rng = np.random.default_rng(seed)
    n_in = Xtr.shape[1]
    n_out = int(ytr.max()) + 1 if kind == "multiclass" else 1
    y_scale = float(ytr.std()) if kind == "regression" else 1.0
    y_mean = float(ytr.mean()) if kind == "regression" else 0.0
    params = [rng.normal(0, math.sqrt(2 / n_in), (n_in, hidden)), np.zeros(hidden),
              rng.normal(0, math.sqrt(1 / hidden), (hidden, n_out)), np.zeros(n_out)]
    state = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    act, dact = ACTS[activation]
    t_step = 0

    def forward(X: np.ndarray):
        z = X @ params[0] + params[1]
        h = act(z)
        return z, h, h @ params[2] + params[3]

    def loss_and_out(X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):
            out = forward(X)[2]
            if kind == "multiclass":
                p = _softmax(out)
                return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1)).mean()), p
            if kind == "binary":
                p = 1 / (1 + np.exp(-out[:, 0]))
                pc = np.clip(p, 1e-12, 1 - 1e-12)
                return float(-(y * np.log(pc) + (1 - y) * np.log(1 - pc)).mean()), p
            pred = out[:, 0] * y_scale + y_mean
            return float((((pred - y) / y_scale) ** 2).mean()), pred

    history: list[dict[str, float]] = []
    samples = steps = 0
    train_seconds = 0.0
    diverged_at = None
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(len(Xtr))
        total = 0.0
        with np.errstate(all="ignore"):
            for i in range(0, len(order), batch_size):
                b = order[i:i + batch_size]
                X, y = Xtr[b], ytr[b]
                z, h, out = forward(X)
                if kind == "multiclass":
                    p = _softmax(out)
                    loss = -np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1)).mean()
                    g = p.copy()
                    g[np.arange(len(y)), y] -= 1
                elif kind == "binary":
                    p = 1 / (1 + np.exp(-out[:, 0]))
                    pc = np.clip(p, 1e-12, 1 - 1e-12)
                    loss = -(y * np.log(pc) + (1 - y) * np.log(1 - pc)).mean()
                    g = (p - y)[:, None]
                else:
                    t = (y - y_mean) / y_scale
                    loss = ((out[:, 0] - t) ** 2).mean()
                    g = (2 * (out[:, 0] - t))[:, None]
                g = g / len(y)
                grads = [None, None, h.T @ g, g.sum(0)]
                dz = (g @ params[2].T) * dact(z, h)
                grads[0], grads[1] = X.T @ dz, dz.sum(0)
                t_step += 1
                for k, (p_, g_) in enumerate(zip(params, grads)):
                    m, v = state[k]
                    if optimizer == "sgd":
                        p_ -= lr * g_
                    elif optimizer == "momentum":
                        m *= 0.9
                        m += g_
                        p_ -= lr * m
                    else:  # adam
                        m *= 0.9
                        m += 0.1 * g_
                        v *= 0.999
                        v += 0.001 * g_ * g_
                        p_ -= lr * (m / (1 - 0.9 ** t_step)) / (np.sqrt(v / (1 - 0.999 ** t_step)) + 1e-8)
                total += float(loss) * len(y)
                samples += len(y)
                steps += 1
        seconds = time.perf_counter() - t0
        train_seconds += seconds
        row: dict[str, float] = {"epoch": epoch, "step": steps, "train_loss": total / len(order), "lr": lr}
        if not math.isfinite(row["train_loss"]):
            row.update(val_loss=math.nan, epoch_seconds=seconds)
            history.append(row)
            diverged_at = epoch
            break
        val_loss, val_out = loss_and_out(Xva, yva)
        row["val_loss"] = val_loss
        if kind == "multiclass":
            row["val_acc"] = float((val_out.argmax(1) == yva).mean())
        elif kind == "binary":
            row["val_acc"] = float(((val_out >= 0.5) == yva).mean())
        else:
            row["val_rmse"] = float(np.sqrt(((val_out - yva) ** 2).mean()))
        row["epoch_seconds"] = seconds
        history.append(row)
        if not math.isfinite(val_loss):
            diverged_at = epoch
            break
    n_params = sum(p.size for p in params)
    if diverged_at is not None:
        return Trained(history, None, diverged_at, train_seconds, samples, steps, n_params, None)
    return Trained(history, loss_and_out(Xte, yte)[1], None, train_seconds, samples, steps, n_params,
                   loss_and_out(Xva, yva)[1])


# ------------------------------------------------------------------------------------------
# Reference metrics (scikit-learn; what the harness would store in result.json)
# ------------------------------------------------------------------------------------------


def stored_metrics(kind: str, out: np.ndarray, target: np.ndarray) -> dict[str, Any]:
    """What the harness stores in result.json (it computes them with torchmetrics; here numpy and
    scipy, written independently of the report's code, which recomputes them from predictions)."""
    from scipy.stats import rankdata

    if kind == "regression":
        err = out - target
        r2 = 1 - (err ** 2).sum() / ((target - target.mean()) ** 2).sum()
        return {"loss": float((err ** 2).mean()), "rmse": float(np.sqrt((err ** 2).mean())),
                "mae": float(np.abs(err).mean()), "r2": float(r2)}
    binary = out.ndim == 1
    n = 2 if binary else out.shape[1]
    probs = np.stack([1 - out, out], 1) if binary else out
    pred = (out >= 0.5).astype(int) if binary else out.argmax(1)
    cm = np.bincount(target * n + pred, minlength=n * n).reshape(n, n)
    tp, support, predicted = np.diag(cm).astype(float), cm.sum(1), cm.sum(0)
    p = np.divide(tp, predicted, out=np.zeros(n), where=predicted > 0)
    r = np.divide(tp, support, out=np.zeros(n), where=support > 0)
    f = np.divide(2 * p * r, p + r, out=np.zeros(n), where=(p + r) > 0)

    def auc(y: np.ndarray, s: np.ndarray) -> float:  # Mann-Whitney U / (n+ n-)
        ranks = rankdata(s)
        npos = y.sum()
        return float((ranks[y == 1].sum() - npos * (npos + 1) / 2) / (npos * (len(y) - npos)))

    def ap(y: np.ndarray, s: np.ndarray) -> float:  # sum over distinct thresholds of dR * P
        order = np.argsort(-s, kind="stable")
        s, y = s[order], y[order]
        last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
        tps = np.cumsum(y)[last]
        prec, rec = tps / (last + 1), tps / y.sum()
        return float(np.sum(np.diff(np.r_[0.0, rec]) * prec))

    res: dict[str, Any] = {"loss": float(-np.log(np.clip(probs[np.arange(len(target)), target], 1e-12, 1)).mean()),
                           "acc": float((pred == target).mean())}
    if binary:
        res.update(precision=float(p[1]), recall=float(r[1]), f1=float(f[1]), auroc=auc(target, out), ap=ap(target, out))
    else:
        onehot = np.eye(n, dtype=int)[target]
        res.update(precision=float(p.mean()), recall=float(r.mean()), f1=float(f.mean()),
                   auroc=float(np.mean([auc(onehot[:, c], out[:, c]) for c in range(n)])),
                   ap=float(np.mean([ap(onehot[:, c], out[:, c]) for c in range(n)])))
    res.update(precision_per_class=p.tolist(), recall_per_class=r.tolist(), f1_per_class=f.tolist(),
               support_per_class=support.tolist(), confusion_matrix=cm.tolist())
    return res


# ------------------------------------------------------------------------------------------
# Fabricated families (no predictions stored)
# ------------------------------------------------------------------------------------------

_OPT_QUALITY = {"sgd": 0.0, "momentum": 0.6, "adam": 1.0}


def fabricated(kind: str, params: dict[str, Any], seed: int, epochs: int) -> tuple[list[dict], dict, dict]:
    q = _OPT_QUALITY.get(str(params.get("optimizer")), 0.5)
    rng = np.random.default_rng([seed, int(100 * q)])
    history = []
    final = {"language_model": 1.62 - 0.12 * q, "seq2seq": 1.30 - 0.25 * q, "embedding": 2.9 - 0.3 * q}[kind]
    for e in range(1, epochs + 1):
        decay = math.exp(-0.5 * e)
        tl = final + 1.6 * decay + rng.normal(0, 0.01)
        row = {"epoch": e, "step": 100 * e, "train_loss": tl, "lr": params.get("lr", 1e-3)}
        if kind != "embedding":
            row["val_loss"] = tl + 0.05 + rng.normal(0, 0.01)
        if kind == "seq2seq":
            row["val_acc"] = 0.45 + 0.25 * q * (1 - decay) + rng.normal(0, 0.005)
        row["epoch_seconds"] = 20 + rng.normal(0, 0.5)
        history.append(row)
    noise = rng.normal(0, 0.01)
    if kind == "language_model":
        loss = final + 0.06 + noise
        val = {"loss": loss - 0.01, "perplexity": math.exp(loss - 0.01), "bits_per_char": (loss - 0.01) / math.log(2)}
        test = {"loss": loss, "perplexity": math.exp(loss), "bits_per_char": loss / math.log(2)}
    elif kind == "seq2seq":
        ta = 0.55 + 0.18 * q + noise
        val = {"loss": final + 0.05, "acc": ta + 0.005, "bleu": 0.18 + 0.12 * q + 0.5 * noise}
        test = {"loss": final + 0.06 + noise, "acc": ta, "bleu": 0.175 + 0.12 * q + 0.6 * noise,
                "exact": 0.05 + 0.1 * q + noise}
    else:
        test = {"analogy_acc": 0.12 + 0.08 * q + noise, "ws353_spearman": 0.41 + 0.1 * q + 2 * noise,
                "simlex_spearman": 0.18 + 0.05 * q + noise}
        val = {"loss": history[-1]["train_loss"]}
    return history, val, test


# ------------------------------------------------------------------------------------------
# Writing a store
# ------------------------------------------------------------------------------------------


def cell_id_of(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:12]


ENV = {"git_commit": "0123456789abcdef0123456789abcdef01234567", "python": "3.11.9",
       "packages": {"torch": "2.13.0", "lightning": "2.6.0", "numpy": "2.4.6"},
       "cpu": "AMD EPYC (2 cores)", "gpu": None, "threads": 1}


def make_store(root: Path, name: str, *, problems: list[str], scientific: dict[str, list], nuisance: dict[str, list],
               fixed: dict[str, Any], seeds: list[int], epochs: int = 8, target: dict | None = None,
               inject: dict[str, tuple[str, dict[str, Any], int]] | None = None, lr_range: tuple[str, ...] = (),
               fabricated_grid: dict[str, list] | None = None, study_extra: dict[str, Any] | None = None) -> Path:
    """Write ``root/name`` with one cell per problem × axes × seed.

    ``lr_range`` names the problems whose first seed stores an LR range test.
    ``inject`` maps a status (error, oom, skipped, pending, diverged) to (problem, axis values, seed)
    of the cell that gets it. ``fabricated_grid`` restricts the nuisance grid of fabricated
    families (their cells are slow in real life, studies run fewer of them). ``study_extra``: more
    study.json keys (e.g. ``baselines``).
    """
    axes = {**{a: {"role": "scientific", "values": v} for a, v in scientific.items()},
            **{a: {"role": "nuisance", "values": v} for a, v in nuisance.items()},
            **{a: {"role": "fixed", "values": [v]} for a, v in fixed.items()}}
    study = {"name": name, "description": "", "quick": False, "source": f"/src/benchmarks/{name}.yaml",
             "problems": [{"id": p, "model": PROBLEMS[p][0], "data": PROBLEMS[p][1], "kind": PROBLEMS[p][2],
                           "data_options": {}, "params": {}} for p in problems],
             "axes": axes, "scientific": list(scientific), "nuisance": list(nuisance), "fixed": fixed,
             "data_options": {}, "seeds": seeds, "budget": {"max_epochs": epochs}, "search": {"kind": "grid"},
             "target": target, **(study_extra or {})}
    inject = inject or {}
    names = list(scientific) + list(nuisance)
    plan = []
    for problem in problems:
        model, data, kind = PROBLEMS[problem]
        grid = {**scientific, **nuisance}
        if kind not in ("multiclass", "binary", "regression") and fabricated_grid:
            grid = {**grid, **fabricated_grid}
        for values in itertools.product(*(grid[a] for a in names)):
            for seed in seeds:
                setting = dict(zip(names, values))
                status = next((s for s, (p, v, sd) in inject.items()
                               if p == problem and sd == seed and all(setting.get(k) == x for k, x in v.items())), "ok")
                plan.append((problem, model, data, kind, setting, seed, status))
    cells = [_cell_json(name, problem, model, data, setting, scientific, nuisance, fixed, seed, target)
             for problem, model, data, kind, setting, seed, _ in plan]
    store = Store(root, name)
    store.init(study, json.dumps(study, sort_keys=True), cells)
    for (problem, model, data, kind, setting, seed, status), cell in zip(plan, cells):
        _write_cell(store.dir, cell, kind, epochs, status, target, problem in lr_range and seed == seeds[0])
    return store.dir


def _cell_json(study, problem, model, data, setting, scientific, nuisance, fixed, seed, target) -> dict[str, Any]:
    params = {**fixed, **setting}
    cid = cell_id_of({"study": study, "problem": problem, "params": params, "seed": seed})
    return {"cell_id": cid, "study": study, "problem": problem, "model": model, "data": data, "seed": seed,
            "params": params, "scientific": {a: setting[a] for a in scientific},
            "nuisance": {a: setting[a] for a in nuisance}, "fixed": fixed, "target": target}


def _write_cell(study_dir: Path, cell: dict[str, Any], kind: str, epochs: int, status: str, target: dict | None,
                with_lr_range: bool) -> None:
    cid, problem, data, seed, params = cell["cell_id"], cell["problem"], cell["data"], cell["seed"], cell["params"]
    d = study_dir / cid
    d.mkdir()
    record.write_cell(d, cell)
    record.write_env(d, ENV)
    batch_size = int(params.get("batch_size", 32))
    device, precision = params.get("device", "cpu"), params.get("precision", "32-true")
    base = {"task_kind": kind, "device": device, "precision": precision, "batch_size": batch_size, "cell_id": cid}
    if status == "skipped":
        record.write_result(d, record.new_result("cell", "skipped", "device 'cuda' is not available here", **base,
                                                 metrics={}, fit={}, seconds=0.0))
        return
    if kind in ("multiclass", "binary", "regression"):
        tr = train_mlp(kind, data, optimizer=params.get("optimizer", "adam"), lr=float(params.get("lr", 0.01)),
                       activation=params.get("activation", "relu"), batch_size=batch_size, seed=seed,
                       epochs=int(params.get("epochs", epochs)))
        history, n_params = tr.history, tr.num_parameters
        if status == "diverged" and tr.diverged_at is None:  # forced: the loss blows up at epoch 3
            history = history[:3]
            history[-1].update(train_loss=math.inf, val_loss=math.nan)
            tr = Trained(history, None, 3, tr.train_seconds, tr.samples, tr.steps, n_params, None)
        if tr.diverged_at is not None:
            status = "diverged"
    else:
        history, val_m, test_m = fabricated(kind, params, seed, epochs)
        n_params = {"language_model": 214_593, "seq2seq": 1_204_226, "embedding": 3_360_000}[kind]
        tr = None
    record.append_log(d, f"cell {cid} {problem} {params} seed={seed}\n" +
                      "".join(f"epoch {r['epoch']} train_loss {r['train_loss']:.4f}\n" for r in history))
    if status == "pending":
        record.write_history(d, history[:2])
        (d / ".result.json.x1y2.tmp").write_text('{"status": "o')  # a writer killed mid-write
        return
    record.write_history(d, history)
    if with_lr_range:
        lrs = np.geomspace(1e-5, 1.0, 40)
        x = np.log10(lrs) - {"sgd": -0.6, "momentum": 0.3}.get(str(params.get("optimizer")), 0.0)
        losses = (2.3 - 1.4 / (1 + np.exp(-(x + 3.2) * 2.5)) + 0.02 * np.sin(7 * x)
                  + np.where(x > -0.8, np.exp((x + 0.8) * 6) - 1, 0))
        record.write_lr_range(d, {"lrs": lrs.tolist(), "losses": losses.tolist(),
                                  "chosen_lr": float(lrs[np.argmin(losses)] / 10)})
    if status == "error":
        record.append_log(d, "Traceback (most recent call last):\n  ...\nRuntimeError: worker exited with signal 9 (killed)")
        record.write_result(d, record.new_result("cell", "error", "RuntimeError: worker exited with signal 9 (killed)",
                                                 **base, metrics={}, fit={"stop_reason": "error"}, seconds=1.2))
        return
    if status == "oom":
        record.write_result(d, record.new_result(
            "cell", "oom", "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total capacity)", **base,
            metrics={}, fit={}, seconds=0.4, peak_memory_mb=7980.0))
        return
    spe = max(1, history[0]["step"])
    if tr is not None:
        fit = {"stop_reason": "diverged" if status == "diverged" else "max_epochs",
               "best_epoch": len(history) if status != "diverged" else 0,
               "best_score": history[-1].get("val_loss", math.nan), "monitor": "val_loss", "steps": tr.steps,
               "samples": tr.samples, "train_seconds": tr.train_seconds,
               "throughput": tr.samples / max(tr.train_seconds, 1e-9), "steps_per_epoch": spe}
        seconds = tr.train_seconds * 1.4
        if status == "diverged":
            metrics = {"val": {}, "test": {}}
            reason = f"non-finite loss at epoch {tr.diverged_at}"
        else:
            Xtr, ytr, Xva, yva, Xte, yte = dataset(data)
            # val: the scalars the harness needs for model selection; test: everything
            val = {k: v for k, v in history[-1].items() if k.startswith("val_")}
            key = "pred" if kind == "regression" else "probs"
            outputs = tr.outputs.astype(np.float64 if kind == "regression" else np.float32)  # as the harness stores them
            metrics = {"val": {k[4:]: v for k, v in val.items()}, "test": stored_metrics(kind, outputs.astype(np.float64), yte)}
            record.write_predictions(d, {key: outputs, "target": yte})
            reason = ""
    else:
        secs = sum(r["epoch_seconds"] for r in history)
        fit = {"stop_reason": "max_epochs", "best_epoch": len(history), "best_score": history[-1].get("val_loss", math.nan),
               "monitor": "val_loss", "steps": history[-1]["step"], "samples": history[-1]["step"] * batch_size,
               "train_seconds": secs, "throughput": history[-1]["step"] * batch_size / secs, "steps_per_epoch": spe}
        seconds = secs * 1.1
        metrics = {"val": val_m, "test": test_m}
        reason = ""
    ttt = None
    if target and status == "ok":
        metric, value = target["metric"], target["value"]
        elapsed = 0.0
        lower = metric.endswith(("loss", "rmse"))
        for r in history:
            elapsed += r["epoch_seconds"]
            v = r.get(metric)
            if v is not None and math.isfinite(v) and (v <= value if lower else v >= value):
                ttt = {"seconds": elapsed, "epoch": r["epoch"]}
                break
    record.write_result(d, record.new_result("cell", status, reason, **base, metrics=metrics, fit=fit,
                                             time_to_target=ttt, peak_memory_mb=180.0 + n_params * 16 / 2**20,
                                             num_parameters=n_params, seconds=seconds))


# ------------------------------------------------------------------------------------------
# The studies the tests use
# ------------------------------------------------------------------------------------------


def optimizers_study(root: Path) -> Path:
    """Six problems (all task kinds) × 3 optimizers × lr, 3 seeds, with every failure kind."""
    return make_store(
        root, "optimizers",
        problems=list(PROBLEMS),
        scientific={"optimizer": ["sgd", "momentum", "adam"]},
        nuisance={"lr": [0.01, 0.3]},
        fixed={"activation": "relu", "batch_size": 64},
        seeds=[0, 1, 2], epochs=6, target={"metric": "val_acc", "value": 0.95},
        fabricated_grid={"lr": [0.01]}, lr_range=("mlp-digits",),
        inject={
            "error": ("mlp-digits", {"optimizer": "adam", "lr": 0.01}, 1),
            "oom": ("mlp-breast_cancer", {"optimizer": "momentum", "lr": 0.3}, 2),
            "skipped": ("mlp-diabetes", {"optimizer": "adam", "lr": 0.01}, 2),
            "pending": ("mlp-digits", {"optimizer": "sgd", "lr": 0.3}, 2),
            "diverged": ("mlp-breast_cancer", {"optimizer": "sgd", "lr": 0.3}, 0),
        },
    )


def big_study(root: Path) -> Path:
    """200 cells: 2 problems × 4 activations × 5 learning rates × 5 seeds."""
    return make_store(
        root, "activations",
        problems=["mlp-digits", "mlp-breast_cancer"],
        scientific={"activation": ["relu", "tanh", "sigmoid", "identity"]},
        nuisance={"lr": [0.001, 0.003, 0.01, 0.03, 0.1]},
        fixed={"optimizer": "adam", "batch_size": 128},
        seeds=[0, 1, 2, 3, 4], epochs=3,
        inject={"error": ("mlp-digits", {"activation": "tanh", "lr": 0.1}, 4),
                "pending": ("mlp-breast_cancer", {"activation": "relu", "lr": 0.001}, 3)},
    )


def batch_study(root: Path) -> Path:
    """Throughput by batch size × precision (small)."""
    return make_store(
        root, "batch_sizes",
        problems=["mlp-digits"],
        scientific={"batch_size": [16, 64, 256]},
        nuisance={"precision": ["32-true", "bf16-mixed"]},
        fixed={"optimizer": "adam", "lr": 0.01},
        seeds=[0, 1], epochs=4,
    )


if __name__ == "__main__":  # python tests/report/storegen.py /tmp/stores
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/zoo-stores")
    for fn in (optimizers_study, big_study, batch_study):
        t = time.perf_counter()
        p = fn(out)
        print(p, f"{time.perf_counter() - t:.1f} s")
