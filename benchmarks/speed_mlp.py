"""zoobench's training loop vs a hand-written PyTorch loop, same model, data and optimizer.

Trains the seeds' MLP (784-512-64-32-10, ReLU, fused Adam) on MNIST-sized data
(60,000 x 784 float32, 10 classes) at batch 128 and 512, alternating the two
loops in one process (benchmarks/_speed.py) so both see the same machine state, and prints
zoobench samples/s / hand-written samples/s (median over repeats).

    python benchmarks/speed_mlp.py [--epochs 2] [--repeats 3] [--threads 1]

Both loops time optimizer steps only (zoobench's validation pass is excluded by
its own throughput figure), after the same warm-up. Run it under the process
settings zoobench's CLI uses (zoo/procenv.py), so the ratio stays honest; the
script re-executes itself with them unless --no-process-env is given.
``benchmarks/speed_vs_keras.py`` runs the same two loops (:func:`hand_written`,
:func:`zoobench`) beside Keras 3.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

from _speed import compare, use_process_env

MLP_KWARGS = dict(in_features=784, num_classes=10, hidden=(512, 64, 32), optimizer="adam", lr=1e-3)
"""The seeds' MLP and its optimizer, as zoo.create("mlp", ...) takes them."""


def hand_written(X: Any, Y: Any, bs: int, epochs: int, warmup: int = 5, *, compile: bool = False) -> tuple[float, float]:
    """Samples/s of a plain PyTorch loop after ``warmup`` steps, and the last step's loss."""
    import torch
    import torch.nn.functional as F

    import zoo

    n = X.shape[0]
    torch.manual_seed(0)
    task = zoo.create("mlp", **MLP_KWARGS)  # same nn.Module (input scaler included)
    model = task.model
    model.scaler.fit(X)  # standardization fitted on the training inputs, as zoobench's loop does
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    forward = torch.compile(model) if compile else model
    model.train()
    steps, t0, timed = 0, None, 0
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, bs):
            idx = perm[i : i + bs]
            xb, yb = X[idx], Y[idx]
            loss = F.cross_entropy(forward(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
            if steps == warmup:
                t0 = time.perf_counter()
            elif steps > warmup:
                timed += yb.shape[0]
    last = float(loss.detach())  # wait for the last step before stopping the clock
    return timed / (time.perf_counter() - t0), last


def zoobench(X: Any, Y: Any, Xv: Any, Yv: Any, bs: int, epochs: int, warmup: int = 5, *,
             precision: str = "32-true", compile: bool = False) -> tuple[float, float]:
    """Samples/s of zoobench's loop (zoo.engine.fit) after ``warmup`` steps, and the last epoch's train loss.

    ``compile``: the task's model is wrapped in torch.compile (zoobench has no option for it;
    this measures what one would give)."""
    import torch

    import zoo
    from zoo.data.core import DataInfo, TensorDataModule
    from zoo.engine import LoopConfig, fit

    torch.manual_seed(0)
    info = DataInfo("synthetic-mnist", "multiclass", (X.shape[1],), MLP_KWARGS["num_classes"])
    task = zoo.create("mlp", **MLP_KWARGS)
    dm = TensorDataModule(info, (X, Y), (Xv, Yv), (Xv, Yv), batch_size=bs)
    task.prepare_data_stats(dm)  # fits the input scaler, as zoo.train does
    if compile:
        task.model = torch.compile(task.model)
    cfg = LoopConfig(max_epochs=epochs, progress=False, warmup_steps=warmup, restore_best=False, precision=precision)
    res = fit(task, dm, cfg)
    return res.throughput, res.history[-1]["train_loss"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-sizes", default="128,512")
    ap.add_argument("--no-process-env", action="store_true", help="skip zoobench's allocator/OpenMP settings")
    args = ap.parse_args()
    use_process_env(args.no_process_env)

    import torch

    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    n, d, c = 60_000, 784, 10
    X = torch.rand(n, d, generator=g)
    Y = torch.randint(0, c, (n,), generator=g)
    Xv, Yv = X[:2000], Y[:2000]

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, process env {'on' if os.environ.get('MALLOC_MMAP_THRESHOLD_') else 'off'}")
    print(f"{'batch':>6} {'hand-written':>14} {'zoobench':>12} {'ratio':>7}")
    for bs in map(int, args.batch_sizes.split(",")):
        base, ours, ratios = compare(lambda: hand_written(X, Y, bs, args.epochs)[0],
                                     lambda: zoobench(X, Y, Xv, Yv, bs, args.epochs)[0], args.repeats, verbose=False)
        print(f"{bs:>6} {base:>12,.0f}/s {ours:>10,.0f}/s {statistics.median(ratios):>7.3f}"
              f"   (ratios {', '.join(f'{r:.3f}' for r in ratios)})")


if __name__ == "__main__":
    main()
