"""What a run costs: FLOPs per training sample, the achieved fraction of this machine's
measured matmul peak, CPU-seconds and peak memory.

* **FLOPs per sample**: :class:`torch.utils.flop_counter.FlopCounterMode` over one forward
  and backward pass of one training batch, divided by the batch's sample count as the
  training loop counts it (samples; tokens for language models and seq2seq), so that
  ``flops_per_sample * throughput`` is the loop's achieved FLOP/s. Only the ops torch
  counts are counted (matmuls, convolutions, attention): elementwise work is not.
* **Matmul peak**: the best FLOP/s of a square ``torch.matmul`` (float32, bfloat16, and
  float16 on CUDA) at one thread and at the run's threads, measured once per machine,
  torch version and thread count, and cached in the user's cache
  (``$ZOO_PEAK_FILE``, else ``$XDG_CACHE_HOME/zoobench/matmul_peak.json``). A cell's
  ``env.json`` records the peaks this process used (:func:`known_peaks`).
* **Peak memory**: CUDA ``max_memory_allocated``; otherwise the process's peak resident
  set size since :func:`reset_peak_memory` (``/proc/self/clear_refs``), else its
  lifetime peak (``getrusage``).
* **CPU-seconds**: :func:`time.process_time` (user + system time of every thread).

Torch is imported inside the functions: the harness imports this module without it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import socket
import sys
import time
from pathlib import Path
from typing import Any

from zoo.io import write_json_atomic

PEAK_DTYPES = {"32-true": "float32", "bf16-mixed": "bfloat16", "16-mixed": "float16"}
"""The matmul dtype whose peak a run of each precision is compared with."""
PEAK_SECONDS = 0.3
"""Time spent timing one (dtype, threads) pair on first use; the best matmul of it is the peak."""
PEAK_SIZES = {"cpu": (256, 512, 1024), "cuda": (4096, 8192), "mps": (2048,)}
"""Sides of the square matrices multiplied (the best of them is the peak)."""


# ----------------------------------------------------------------------------- machine


@functools.cache
def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _device_name(device: str) -> str:
    import torch

    if device == "cuda":
        return torch.cuda.get_device_name(torch.cuda.current_device())
    return "Apple MPS" if device == "mps" else cpu_name()


def peak_file() -> Path:
    env = os.environ.get("ZOO_PEAK_FILE")
    if env:
        return Path(env).expanduser().absolute()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return (Path(cache) / "zoobench" / "matmul_peak.json").expanduser().absolute()


# ----------------------------------------------------------------------------- matmul peak


def measure_matmul(dtype: str, *, device: str = "cpu", threads: int | None = None, sizes: tuple[int, ...] = (),
                   seconds: float = PEAK_SECONDS) -> float:
    """The best FLOP/s (``2 n^3`` per product) of ``torch.matmul`` on two ``n x n`` matrices of
    ``dtype``, over ``seconds`` of repeats shared by ``sizes`` (default :data:`PEAK_SIZES`), at
    ``threads`` torch threads (CPU; None: as set)."""
    import torch

    old = torch.get_num_threads()
    if threads and device == "cpu":
        torch.set_num_threads(threads)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    best = 0.0
    try:
        sizes = sizes or PEAK_SIZES.get(device, (1024,))
        for n in sizes:
            g = torch.Generator().manual_seed(0)
            a, b = (torch.randn(n, n, generator=g).to(device=device, dtype=getattr(torch, dtype)) for _ in range(2))
            out = torch.empty_like(a)
            for _ in range(2):  # warm-up: kernels chosen, pages touched
                torch.matmul(a, b, out=out)
            sync()
            fastest, end = float("inf"), time.perf_counter() + seconds / len(sizes)
            while True:
                t = time.perf_counter()
                torch.matmul(a, b, out=out)
                sync()
                now = time.perf_counter()
                fastest = min(fastest, now - t)
                if now >= end:
                    break
            best = max(best, 2.0 * n**3 / fastest)
    finally:
        torch.set_num_threads(old)
    return best


_PEAKS: dict[str, float] = {}
"""Peaks this process measured or read, by cache key (what :func:`known_peaks` reports)."""


def _key(device: str, dtype: str, threads: int | None) -> str:
    import torch

    t = threads if device == "cpu" else "-"
    return f"{socket.gethostname()}|{device}|{_device_name(device)}|torch {torch.__version__}|{dtype}|threads {t}"


def matmul_peak(dtype: str, *, device: str = "cpu", threads: int | None = None) -> float | None:
    """This machine's matmul peak (FLOP/s) for ``dtype`` at ``threads`` (None: the current torch
    threads): from the cache file, else measured once and cached. None when ``dtype`` cannot
    be multiplied on ``device`` here."""
    import torch

    threads = threads or torch.get_num_threads()
    key = _key(device, dtype, threads)
    if key in _PEAKS:
        return _PEAKS[key]
    path = peak_file()
    cached: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        obj = json.loads(path.read_text(encoding="utf-8"))
        cached = obj if isinstance(obj, dict) else {}
    value = cached.get(key)
    if not isinstance(value, (int, float)) or not value > 0:
        try:
            value = measure_matmul(dtype, device=device, threads=threads)
        except (RuntimeError, TypeError):  # e.g. no kernel for this dtype on this device
            return None
        with contextlib.suppress(OSError):  # a read-only cache only costs a measurement next time
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(path, {**cached, key: value})
    _PEAKS[key] = float(value)
    return float(value)


def machine_peaks(device: str = "cpu", threads: int | None = None) -> dict[str, dict[str, float | None]]:
    """``{dtype: {threads: FLOP/s}}`` at one thread and at ``threads`` (CPU), or ``{dtype: {"-": ...}}`` (GPU)."""
    import torch

    dtypes = ["float32", "bfloat16"] + (["float16"] if device == "cuda" else [])
    counts = sorted({1, threads or torch.get_num_threads()}) if device == "cpu" else [None]
    return {d: {str(t or "-"): matmul_peak(d, device=device, threads=t) for t in counts} for d in dtypes}


def known_peaks() -> dict[str, float]:
    """The peaks (FLOP/s) this process has used, by cache key: what a record's environment notes."""
    return dict(_PEAKS)


# ----------------------------------------------------------------------------- FLOPs


def count_flops(fn: Any) -> int:
    """FLOPs torch counts while ``fn()`` runs (:class:`torch.utils.flop_counter.FlopCounterMode`)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return int(counter.get_total_flops())


def training_flops(task: Any, batch: Any) -> tuple[int, int]:
    """(FLOPs of one forward + backward of ``task.training_loss(batch)``, the batch's sample count).

    Runs in evaluation mode (no dropout, batch-norm statistics untouched: the counted ops are
    the same), with the random state restored and the gradients left as they were."""
    import torch

    was_training = task.training
    grads = {p: p.grad for p in task.parameters()}
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    task.eval()
    n = 0
    try:
        with torch.random.fork_rng(devices=devices):
            def step() -> None:
                nonlocal n
                loss, n = task.training_loss(batch)
                if loss.requires_grad:
                    loss.backward()
            flops = count_flops(step)
    finally:
        for p, g in grads.items():
            p.grad = g
        task.train(was_training)
    return flops, int(n)


def flops_per_sample(task: Any, data: Any) -> float | None:
    """Training FLOPs per sample (:func:`training_flops` on the first training batch), or None."""
    try:
        batch = next(iter(data.train_dataloader()))
        flops, n = training_flops(task, batch)
    except Exception:  # noqa: BLE001 -- a cost is a note; a model it cannot count still trains
        return None
    return flops / n if n else None


# ----------------------------------------------------------------------------- memory, CPU


def reset_peak_memory(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats()
        return
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)


def peak_memory_mb(device: str) -> tuple[float | None, str]:
    """(peak memory in MiB, what it measures) since :func:`reset_peak_memory`."""
    if device == "cuda":
        import torch

        return torch.cuda.max_memory_allocated() / 2**20, "cuda_max_allocated"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024, "process_peak_rss"
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (2**20 if sys.platform == "darwin" else 1024), "process_lifetime_peak_rss"


def cpu_seconds() -> float:
    """This process's CPU time so far (user + system, every thread)."""
    return time.process_time()


# ----------------------------------------------------------------------------- one run


def run_cost(task: Any, data: Any, *, device: str, precision: str, throughput: float, threads: int | None = None,
             cpu_seconds: float | None = None) -> dict[str, Any]:
    """The cost keys of a record (zoo/record.py ``COMMON``) for a run that trained ``task`` on
    ``data`` at ``throughput`` samples/s: FLOPs per sample, achieved FLOP/s, the matmul peak of
    its dtype here and the fraction achieved, peak memory and CPU-seconds."""
    fps = flops_per_sample(task, data)
    dtype = PEAK_DTYPES.get(precision)
    peak = None
    with contextlib.suppress(Exception):  # never fail a run for a note
        machine_peaks(device, threads)  # every dtype at one thread and at the run's: what env.json records
        peak = matmul_peak(dtype, device=device, threads=threads) if dtype else None
    achieved = fps * throughput if fps is not None and throughput and throughput > 0 else None
    mem, kind = peak_memory_mb(device)
    return {
        "flops_per_sample": fps,
        "achieved_flops": achieved,
        "matmul_peak_flops": peak,
        "peak_fraction": achieved / peak if achieved is not None and peak else None,
        "peak_memory_mb": mem,
        "peak_memory_kind": kind,
        "cpu_seconds": cpu_seconds,
    }
