"""zoobench's training loop vs a hand-written PyTorch loop on the small CNN: throughput ratio.

Model: ``small_cnn`` with the Fashion-MNIST recipe's shape (widths 16-32-64, two
3x3 conv-BN-ReLU per block, 72,666 parameters; ``--widths 32,64,64
--convs-per-block 1`` gives the default 56,554-parameter model). Data: Fashion-MNIST
images (N, 1, 28, 28) from ``zoo.data.load`` (needs ZOO_DATA), or the embedded
``digits_images`` (1x8x8, ``--data digits_images``). Optimizer: fused Adam, lr 1e-3,
constant, in both loops.

    python benchmarks/speed_cnn.py [--steps 60] [--repeats 3] [--threads 1] [--batch-size 128]

zoobench's side is its real training path: the task from ``zoo.create``, the
data module from ``zoo.data.load`` and ``zoo.engine.fit`` (Fabric, its own
batches, loss accumulation and divergence checks), timed by fit's own
throughput figure (optimizer steps after the warm-up; validation excluded).
The hand-written loop takes the same training tensors, batches them with
``randperm`` and runs forward, cross-entropy, backward, ``step`` on the same
``nn.Module`` (input scaler and channels-last layout included). Both run
alternately in one process, so they share the machine state, the allocator
settings (the script re-executes itself with zoobench's ``MALLOC_*`` values
unless ``--no-process-env``) and the thread count. Prints images/s of each and
zoobench / hand-written (median over repeats; target >= 0.95).

Measured (torch 2.13, 1 thread, 2-core CPU shared with other jobs, load ~3, order alternated):
Fashion-MNIST, recipe network, batch 128, 6 repeats of 40 steps: hand-written 643 images/s,
zoobench 636, ratio 1.008 (0.950-1.089 across repeats); default 32-64-64 network, 6 x 30 steps:
ratio 1.014 (0.968-1.077); digits_images 8x8 at batch 32 (a ~9 ms step): ratio 0.983. The spread
between repeats is the shared machine's; no systematic cost of zoobench's loop shows.
"""

from __future__ import annotations

import argparse
import os
import time

from _speed import compare, report, use_process_env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60, help="timed optimizer steps per measurement (after the warm-up)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--data", default="fashion_mnist", help="fashion_mnist / mnist (need ZOO_DATA) or digits_images (embedded)")
    ap.add_argument("--widths", default="16,32,64", help="channels of each block")
    ap.add_argument("--convs-per-block", type=int, default=2)
    ap.add_argument("--no-process-env", action="store_true", help="skip zoobench's allocator/OpenMP settings")
    args = ap.parse_args()
    use_process_env(args.no_process_env)

    import torch
    import torch.nn.functional as F

    import zoo
    from zoo.data import load
    from zoo.engine import LoopConfig, fit

    torch.set_num_threads(args.threads)
    bs, lr, warmup, steps = args.batch_size, 1e-3, args.warmup, args.steps
    arch = {"widths": tuple(int(w) for w in args.widths.split(",")), "convs_per_block": args.convs_per_block}
    # Exactly the images one fit() run steps over (one epoch = warm-up + timed steps), and a small
    # validation split: fit evaluates once at the end of the epoch, outside its timed steps.
    opts = {"limit": (warmup + steps) * bs}
    if args.data != "digits_images":
        opts["val_size"] = 1_000
    probe = load(args.data, batch_size=bs, **opts)
    X, Y = probe.splits["train"]  # (N, 1, H, W) float32, (N,) int64: pre-made tensors
    n = X.shape[0]
    model_kwargs = {"in_channels": X.shape[1], "num_classes": probe.info.num_classes, **arch}

    def hand_written() -> float:
        torch.manual_seed(0)
        task = zoo.create("small_cnn", **model_kwargs)
        task.prepare_data_stats(probe)  # the same input scaler statistics
        model = task.model  # the same nn.Module
        opt = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
        model.train()
        perm = torch.randperm(n)
        t0, timed = 0.0, 0
        for step in range(warmup + steps):
            idx = perm[(step * bs) % max(1, n - bs + 1) :][:bs]
            xb, yb = X[idx], Y[idx]
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step + 1 == warmup:
                t0 = time.perf_counter()
            elif step + 1 > warmup:
                timed += yb.shape[0]
        float(loss.detach())  # wait for the last step
        return timed / (time.perf_counter() - t0)

    def zoobench() -> float:
        torch.manual_seed(0)
        task = zoo.create("small_cnn", lr=lr, **model_kwargs)
        dm = load(args.data, batch_size=bs, **opts)
        task.data_info = dm.info
        task.prepare_data_stats(dm)
        loop = LoopConfig(max_epochs=1, max_steps=warmup + steps, progress=False, warmup_steps=warmup, restore_best=False)
        return fit(task, dm, loop).throughput

    params = sum(p.numel() for p in zoo.create("small_cnn", **model_kwargs).parameters())
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, malloc env "
          f"{'on' if os.environ.get('MALLOC_MMAP_THRESHOLD_') else 'off'}; small_cnn {arch} ({params:,} parameters) "
          f"on {args.data} {tuple(X.shape[1:])}, batch {bs}, {steps} timed steps after {warmup}")
    report(*compare(hand_written, zoobench, args.repeats, unit="images/s"), unit="images/s")


if __name__ == "__main__":
    main()
