"""Run one cell: train it through :func:`zoo.training.train` and write its record (zoo/record.py).

:func:`run_cell` never raises for a cell's own trouble; it returns (and writes
last, atomically) a result whose status is one of ``zoo.record.STATUSES``:

* ``ok``;
* ``diverged`` -- the training loss became NaN/inf; the loop stopped that cell;
* ``oom`` -- out of memory (CUDA/MPS allocator or host, e.g. torch's
  ``DefaultCPUAllocator: can't allocate memory``);
* ``skipped`` -- the device or precision is not available here (the reason says why);
* ``pruned`` -- a search's pruner stopped the cell as a poor trial (zoo/bench/optuna_search.py);
* ``error`` -- anything else, with the message (the traceback is in log.txt).

A record that cannot be written (disk full, folder not writable) is not the cell's
trouble: that :class:`zoo.errors.WriteError` is raised, nothing is recorded, and a
resume runs the cell again.

A failed cell is a row with its reason, not a crash (timm's ``benchmark.py``).
Measured per cell: throughput (training samples/s after the loop's warm-up
steps, evaluation excluded -- :class:`zoo.engine.FitResult`), time to target
(training seconds until the per-epoch metric first reaches the study's target),
peak memory, FLOPs per training sample, the fraction of this machine's matmul peak
achieved (all three from zoo/cost.py, during training), CPU-seconds and wall time of
the whole cell, and parameters.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import platform
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo import record
from zoo.cost import known_peaks
from zoo.errors import ZooError
from zoo.errors import WriteError, storage_error, writing

if TYPE_CHECKING:
    from zoo.bench.cells import Cell

# ----------------------------------------------------------------------------- capabilities


@functools.cache
def probe(device: str, precision: str) -> tuple[bool, str | None]:
    """Can a cell train on ``device`` with ``precision`` here? ``(True, None)`` or ``(False, reason)``.

    Decided by trying: a Fabric for that pair and one autocast matmul with a
    backward pass on the device. ``auto`` is resolved first.
    """
    import torch

    from zoo.engine import available_devices, make_fabric, resolve_device

    try:
        dev = resolve_device(device)
    except ZooError:
        have = ", ".join(k for k, v in available_devices().items() if v)
        return False, f"device {device!r} is not available here (available: {have})"
    try:
        fabric = make_fabric(dev, precision)  # e.g. refuses 16-mixed on CPU, which Lightning runs as bf16-mixed
        w = torch.randn(8, 8, device=fabric.device, requires_grad=True)
        with fabric.autocast():
            y = (w @ torch.randn(8, 8, device=fabric.device)).float().sum()
        y.backward()
        if not torch.isfinite(w.grad).all():
            return False, f"precision {precision!r} gives non-finite gradients on {dev}"
    except ZooError as e:  # a pair Lightning would swap for another
        return False, str(e)
    except Exception as e:  # Lightning refuses the pair, or the kernel is missing
        text = " ".join(str(e).split())
        return False, f"precision {precision!r} is not supported on {dev} here ({text[:200]})"
    return True, None


def capabilities() -> dict[str, dict[str, str | None]]:
    """``{device: {precision: None if available else reason}}`` for every device and precision."""
    from zoo.engine import PRECISIONS

    out: dict[str, dict[str, str | None]] = {}
    for dev in ("cpu", "cuda", "mps"):
        out[dev] = {p: probe(dev, p)[1] for p in PRECISIONS}
    return out


def warm_up() -> None:
    """Import what every cell needs (torch, Lightning, the model and dataset registries) once.

    A worker calls it before reporting ready, so its ~4.5 s of imports (45 s on a loaded
    2-core machine) are start-up, not the first cell's time.
    """
    import lightning.fabric  # noqa: F401

    import zoo.training  # noqa: F401
    from zoo import registry
    from zoo.data import list_datasets

    registry.list_models()
    list_datasets()
    probe("cpu", "32-true")
    _git()
    _versions()


# ----------------------------------------------------------------------------- environment


@functools.cache
def _git() -> dict[str, Any]:
    root = Path(__file__).resolve().parents[2]
    out: dict[str, Any] = {"git_commit": None, "git_dirty": None}
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if commit.returncode == 0:
            out["git_commit"] = commit.stdout.strip()
            dirty = subprocess.run(
                ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True, text=True, timeout=10,
            )
            out["git_dirty"] = bool(dirty.stdout.strip()) if dirty.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def _cpu_name() -> str:
    from zoo.cost import cpu_name

    return cpu_name()


@functools.cache
def _versions() -> dict[str, str]:
    import numpy
    import sklearn

    from zoo.checkpoint import versions

    return {**versions(), "numpy": numpy.__version__, "scikit-learn": sklearn.__version__}


def environment(device: str = "cpu") -> dict[str, Any]:
    """What a result depends on besides its cell: code version, packages, hardware, threads."""
    import torch

    gpu = None
    if device == "cuda" and torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(torch.cuda.current_device())
    elif device == "mps" and torch.backends.mps.is_available():
        gpu = "Apple MPS"
    return {
        **_git(),
        "versions": _versions(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "gpu": gpu,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "malloc_env": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pid": os.getpid(),
        "matmul_peak_flops": known_peaks(),
    }


OOM_MESSAGES = ("out of memory", "can't allocate memory", "cannot allocate memory", "not enough memory")
"""Lower-case texts of allocator failures: CUDA/MPS (``out of memory``) and torch's CPU
allocator (``DefaultCPUAllocator: can't allocate memory: you tried to allocate ... bytes``)."""


def is_oom(e: BaseException) -> bool:
    """Whether ``e`` is an allocator failure (a cell recorded `oom`, a batch size too large for `zoo bench infer`)."""
    import torch

    if isinstance(e, MemoryError) or isinstance(e, getattr(torch, "OutOfMemoryError", ())):
        return True
    text = str(e).lower()
    return isinstance(e, RuntimeError) and any(m in text for m in OOM_MESSAGES)


# ----------------------------------------------------------------------------- files


@contextlib.contextmanager
def capture_output(path: Path) -> Iterator[Any]:
    """Send this process's stdout/stderr (file descriptors 1 and 2, and ``sys.stdout/err``) to ``path``."""
    f = open(path, "a", buffering=1, encoding="utf-8")
    for s in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            s.flush()
    saved = []
    with contextlib.suppress(OSError):
        saved = [os.dup(1), os.dup(2)]
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
    old = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = f
    try:
        yield f
    finally:
        with contextlib.suppress(Exception):
            f.flush()
        sys.stdout, sys.stderr = old
        if saved:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
        f.close()


# ----------------------------------------------------------------------------- the runner


def time_to_target(history: list[dict[str, Any]], target: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Training seconds (evaluation excluded), epochs and steps until ``target`` is first met, or None."""
    if not target:
        return None
    metric, value, mode = target["metric"], float(target["value"]), target.get("mode", "max")
    seconds = 0.0
    for row in history:
        seconds += float(row.get("epoch_seconds", 0.0))
        v = row.get(metric)
        if isinstance(v, (int, float)) and math.isfinite(v) and (v <= value if mode == "min" else v >= value):
            return {"seconds": seconds, "epoch": row.get("epoch"), "step": row.get("step")}
    return None


def _dataset_kind(data: str) -> str | None:
    with contextlib.suppress(Exception):
        from zoo.data import get_dataset

        return get_dataset(data).kind
    return None


def base_result(cell: Cell, status: str, reason: str | None) -> dict[str, Any]:
    """A cell result with every key of zoo.record's schema; the runner fills in what it measured."""
    params = cell.params
    return record.new_result(
        "cell", status, reason,
        task_kind=_dataset_kind(cell.data),
        device=params.get("device", "cpu"),
        precision=params.get("precision", "32-true"),
        batch_size=params.get("batch_size", 32),
        cell_id=cell.cell_id,
    )


def write_failure(cell: Cell, workdir: Path, status: str, reason: str) -> dict[str, Any]:
    """Record a cell that could not run at all (its worker died): cell.json and result.json."""
    with writing(workdir):
        workdir.mkdir(parents=True, exist_ok=True)
    record.write_cell(workdir, cell.to_json())
    record.append_log(workdir, f"{time.strftime('%H:%M:%S')} {status}: {reason}")
    result = base_result(cell, status, reason)
    record.write_result(workdir, result)
    return result


def run_cell(cell: Cell, workdir: str | Path, *, capture: bool = True, inputs: Mapping[str, Any] | None = None
             ) -> dict[str, Any]:
    """Train ``cell`` and write its record into ``workdir``; returns the result (also result.json, written last).

    ``inputs``: for a cell that starts from another cell (zoo/bench/stages.py), that cell's checkpoint
    (``{"checkpoint": folder, "sha256": ..., "cell_id": ...}``, from :meth:`zoo.bench.store.Store.checkpoint`).

    Raises :class:`zoo.errors.WriteError` when the record cannot be written (disk full).
    """
    workdir = Path(workdir)
    with writing(workdir):
        workdir.mkdir(parents=True, exist_ok=True)
    record.write_cell(workdir, cell.to_json())
    t0, c0 = time.perf_counter(), time.process_time()
    result = base_result(cell, record.ERROR, None)
    out = capture_output(workdir / record.LOG) if capture else contextlib.nullcontext(sys.stderr)
    with out as log:
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} cell {cell.cell_id}: {cell.label()}", file=log)
        print(f"params: {cell.params_json}", file=log)
        try:
            _train(cell, workdir, result, log, inputs or {})
        except BaseException as e:  # noqa: BLE001 -- a failed cell is a row with its reason
            if isinstance(e, (KeyboardInterrupt, WriteError)):
                raise
            full = storage_error(e, f"writing {workdir}")
            if full is not None:  # the disk is full: not the cell's failure
                raise full from None
            if is_oom(e):
                result["status"], result["reason"] = record.OOM, " ".join(str(e).split())[:500] or "out of memory"
            elif isinstance(e, ZooError):
                result["status"], result["reason"] = record.ERROR, str(e)
            else:
                result["status"], result["reason"] = record.ERROR, f"{e.__class__.__name__}: {' '.join(str(e).split())[:500]}"
            traceback.print_exc(file=log)
        result["seconds"], result["cpu_seconds"] = time.perf_counter() - t0, time.process_time() - c0
        with contextlib.suppress(Exception):
            record.write_env(workdir, environment(result["device"]))
        print(f"{time.strftime('%H:%M:%S')} status {result['status']}" + (f": {result['reason']}" if result["reason"] else "")
              + f" ({result['seconds']:.2f} s)", file=log)
    record.write_result(workdir, result)  # last: its presence means done
    return result


def _train(cell: Cell, workdir: Path, result: dict[str, Any], log: Any, inputs: Mapping[str, Any]) -> None:
    from zoo.bench import stages
    from zoo.engine import resolve_device
    from zoo.training import train

    if inputs:
        result["start_from"] = {"cell_id": inputs.get("cell_id"), "sha256": inputs["sha256"]}
    params, keep = stages.run_settings(cell.params, stages.verify_source(inputs) if inputs else None)
    keep = keep or cell.keep  # a stage's source, or a study that keeps its cells' checkpoints
    ok, why = probe(result["device"], result["precision"])
    if not ok:
        result["status"], result["reason"] = record.SKIPPED, why
        return
    result["device"] = resolve_device(result["device"])
    lr_spec = params.get("lr")
    if isinstance(lr_spec, Mapping) and "range_test" in lr_spec:
        from zoo.bench.lrfinder import RangeTestConfig, range_test

        t = time.perf_counter()
        cfg = RangeTestConfig(**lr_spec["range_test"])
        rest = {k: v for k, v in params.items() if k != "lr"}
        curve = range_test(cell.model, cell.data, seed=cell.seed, config=cfg, **rest)
        curve["seconds"] = time.perf_counter() - t
        record.write_lr_range(workdir, curve)
        params["lr"] = curve["chosen_lr"]
        result["tuned"] = {"lr": curve["chosen_lr"]}
        print(f"range test: loss turns up at lr {curve['turn_lr']:.3g}; chosen lr {curve['chosen_lr']:.3g} "
              f"({len(curve['lrs'])} steps, {curve['seconds']:.1f} s)", file=log)
    pruning = None
    if cell.trial is not None:  # a trial of an Optuna search: its pruner watches every epoch
        from zoo.bench import optuna_search

        pruning = optuna_search.hook(cell)
    res = train(cell.model, cell.data, seed=cell.seed, out_dir=None, logger="none", progress=False,
                on_epoch_end=pruning, **params)
    result.update(res.cost, cpu_seconds=None)  # FLOPs, fraction of peak, peak memory (zoo/cost.py); CPU: the whole cell
    fit = res.fit
    record.write_history(workdir, fit.history)
    record.write_predictions(workdir, res.predictions)
    pruned = fit.stop_reason == "pruned"
    result.update(
        status=record.DIVERGED if fit.diverged else record.PRUNED if pruned else record.OK,
        reason="training loss became NaN or infinite; the cell was stopped" if fit.diverged else
        f"pruned after epoch {len(fit.history)} by the search's pruner" if pruned else None,
        task_kind=getattr(res.task, "kind", None) or result["task_kind"],
        metrics=res.metrics,
        fit=record.fit_summary(fit),
        num_parameters=res.task.num_parameters(),
        trainable_parameters=res.task.num_parameters(trainable_only=True),  # at the end (a thawed arm: after thawing)
        epochs=len(fit.history),
    )
    info = getattr(res.task, "data_info", None)  # what the report labels axes and classes with
    if info is not None and info.class_names:
        result["class_names"] = list(info.class_names)
    if info is not None and info.extra.get("target_unit") is not None:
        result["target_unit"] = info.extra["target_unit"]
    if info is not None and "test" in (info.extra.get("unigram_bits_per_char") or {}):  # the LM's trivial baseline
        result["trivial"] = {"bits_per_char": info.extra["unigram_bits_per_char"]["test"]}
    # What loading did to the vocabularies: word2vec coverage of a translator's embeddings (zoo/embeddings.py),
    # a checkpoint's rows aligned to this data's vocabulary (zoo/transfer.py align_vocab).
    for key in ("embeddings", "vocab_alignment"):
        if key in res.task.zoo_spec:
            result[key] = res.task.zoo_spec[key]
    if cell.trial is not None:
        from zoo.bench import optuna_search

        result["search"] = optuna_search.summary(cell, len(fit.history), pruning)
    if keep and not fit.diverged:  # the checkpoint, before result.json: published with the cell or not at all
        result["checkpoint"] = stages.keep_checkpoint(res, workdir)
    ttt = time_to_target(fit.history, cell.target)
    result["time_to_target"] = ttt["seconds"] if ttt else None
    if ttt:
        result["target_reached"] = {"epoch": ttt["epoch"], "step": ttt["step"]}
    print(f"{fit.stop_reason} after {len(fit.history)} epochs, {fit.steps} steps; {fit.throughput:,.0f} samples/s", file=log)
