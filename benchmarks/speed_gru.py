"""zoobench's training loop vs a hand-written PyTorch loop on the char GRU: throughput ratio.

Model: ``char_gru`` (embedding 16 -> 2 x GRU 256, dropout 0.2 -> 41-way softmax,
616,377 parameters). Data: Tiny Shakespeare with the book's protocol (the
1,000,000-character training block, windows of 100, batch 32), or the embedded
sample with ``--data shakespeare_sample``. Optimizer: fused Adam, lr 2e-3, and
gradient clipping to norm 1 (the recipe's settings) in both loops.

    python benchmarks/speed_gru.py [--steps 40] [--repeats 4] [--threads 1] [--data shakespeare]

zoobench's side is its real training path: the task from ``zoo.create``, the
data module from ``zoo.data.load`` and ``zoo.engine.fit`` (Fabric, its own
batches, loss accumulation, clipping), timed by fit's own throughput figure
(optimizer steps after the warm-up; validation excluded). The hand-written
loop cuts the same windows from the same character ids with ``randperm`` and
runs forward, cross-entropy, backward, ``clip_grad_norm_``, ``step``. Both run
alternately in one process, so they share the machine state, the allocator
settings (the script re-executes itself with zoobench's ``MALLOC_*`` values
unless ``--no-process-env``) and the thread count. The order is ABBA: whichever
loop runs second in a pair measured 3-10% faster (allocator state left by the
first), and a drifting load from other processes hits both alike. Prints
characters/s of each and zoobench / hand-written (median over repeats; target >= 0.95).

Evidence (this 2-core CPU, 1 thread, load average ~1-3, ``--steps 60 --repeats 6``):
hand-written 9,550 chars/s, zoobench 9,714 chars/s, ratio 0.999 (repeats 0.965-1.109).
"""

from __future__ import annotations

import argparse
import os
import time

from _speed import compare, report, use_process_env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40, help="timed optimizer steps per measurement (after the warm-up)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--data", default="shakespeare", help="shakespeare (needs ZOO_DATA) or shakespeare_sample (embedded)")
    ap.add_argument("--no-process-env", action="store_true", help="skip zoobench's allocator/OpenMP settings")
    args = ap.parse_args()
    use_process_env(args.no_process_env)

    import torch
    import torch.nn.functional as F

    import zoo
    from zoo.data import load
    from zoo.engine import LoopConfig, fit

    torch.set_num_threads(args.threads)
    bs, lr, clip, warmup, steps = args.batch_size, 2e-3, 1.0, args.warmup, args.steps
    probe = load(args.data, batch_size=bs)
    ids, window, vocab_size = probe.streams["train"], probe.window, probe.info.num_classes

    def hand_written() -> float:
        torch.manual_seed(0)
        model = zoo.create("char_gru", vocab_size=vocab_size).model  # the same nn.Module
        opt = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
        model.train()
        n = (ids.numel() - window) // window
        X = ids[: n * window].view(n, window)
        Y = ids[1 : n * window + 1].view(n, window)
        perm = torch.randperm(n)
        t0, timed = 0.0, 0
        for step in range(warmup + steps):
            idx = perm[(step * bs) % (n - bs) :][:bs]
            xb, yb = X[idx], Y[idx]
            loss = F.cross_entropy(model(xb).flatten(0, 1), yb.flatten())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            if step + 1 == warmup:
                t0 = time.perf_counter()
            elif step + 1 > warmup:
                timed += yb.numel()
        float(loss.detach())  # wait for the last step
        return timed / (time.perf_counter() - t0)

    def zoobench() -> float:
        torch.manual_seed(0)
        task = zoo.create("char_gru", vocab_size=vocab_size, lr=lr)
        dm = load(args.data, batch_size=bs, val_chars=1_000)  # a short validation pass: fit evaluates once
        task.data_info = dm.info
        task.prepare_data_stats(dm)
        loop = LoopConfig(max_epochs=1, max_steps=warmup + steps, progress=False, warmup_steps=warmup,
                          restore_best=False, clip_norm=clip)
        return fit(task, dm, loop).throughput

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, malloc env "
          f"{'on' if os.environ.get('MALLOC_MMAP_THRESHOLD_') else 'off'}; char_gru on {args.data}, "
          f"batch {bs} x {window} characters, {steps} timed steps after {warmup}")
    report(*compare(hand_written, zoobench, args.repeats, unit="chars/s"), unit="chars/s")


if __name__ == "__main__":
    main()
