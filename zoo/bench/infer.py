"""``zoo bench infer MODEL|ID``: inference latency and throughput per batch size and precision.

    zoo bench infer mlp --data digits --batch-sizes 1,8,64 --precision 32-true,bf16-mixed
    zoo bench infer small_cnn-fashion_mnist --device cuda      # a pretrained id or a checkpoint folder

As timm's ``benchmark.py``: the model in evaluation mode under ``torch.inference_mode`` (and the
precision's autocast, the same Fabric as training: zoo/engine.py ``make_fabric``), one batch of
real inputs of the dataset (the test split's first samples, repeated when the split is smaller
than the batch), ``--warmup`` untimed passes, then ``--repeats`` timed ones, each synchronized
on a GPU. Per batch size: median and 90th-percentile latency of a pass, throughput (batch size
/ median latency), forward FLOPs per sample (zoo/cost.py) and the fraction of this machine's
measured matmul peak achieved. What is timed is the model's forward on the inputs
(supervised tasks) or the task's teacher-forced evaluation pass (sequence tasks).

The record is a folder like a cell's (zoo/record.py, kind ``infer``): ``result.json`` (one row
per precision x batch size; a precision that cannot run here is a ``skipped`` row with its
reason, an allocation failure an ``oom`` row) and ``env.json``. Typed counts are bounded
(:data:`MAX_BATCH`, :data:`MAX_BATCH_SIZES`, :data:`MAX_REPEATS`, :data:`MAX_WARMUP`,
:data:`MAX_INPUT_ELEMENTS`) and a row's warm-up and its timed passes each stop after
:data:`MAX_ROW_SECONDS`.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from zoo.errors import ConfigError

MAX_BATCH = 4096
MAX_BATCH_SIZES = 16
MAX_REPEATS = 1000
MAX_WARMUP = 1000
MAX_INPUT_ELEMENTS = 1 << 26
"""Elements of one batch's inputs (256 MiB of float32)."""
MAX_ROW_SECONDS = 30.0
"""Timed passes of one row stop after this long (the row records how many ran)."""
SUPERVISED = ("multiclass", "binary", "regression")



def add_parser(sub: Any, help: str) -> None:
    """``zoo bench infer``'s arguments (``help``: the ``zoo bench`` line of zoo/bench/cli.py)."""
    p = sub.add_parser(
        "bench", help=help,
        description="Inference latency (median, p90) and throughput of a model per batch size and precision, "
        "after warm-up; printed as a table and recorded as result.json + env.json (zoo/bench/infer.py).")
    p.add_argument("action", choices=["infer"])
    p.add_argument("model", help="a model name (zoo list: built for --data), a pretrained id (zoo pretrained list) "
                   "or a checkpoint folder")
    p.add_argument("--data", default=None, help="dataset whose inputs are fed (default: the model's default dataset, "
                   "or the checkpoint's)")
    p.add_argument("--batch-sizes", "--batch_sizes", default="1,8,64",
                   help=f"comma-separated batch sizes, each 1..{MAX_BATCH} (default: 1,8,64)")
    p.add_argument("--precision", default="32-true", help="comma-separated precisions (default: 32-true)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default: cpu)")
    p.add_argument("--warmup", type=int, default=10, help=f"untimed passes per row, 0..{MAX_WARMUP} (default: 10)")
    p.add_argument("--repeats", type=int, default=50, help=f"timed passes per row, 1..{MAX_REPEATS} (default: 50)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: as set, e.g. $OMP_NUM_THREADS)")
    p.add_argument("--out", default=None, help="record folder, new or empty (default: runs/infer/NAME-DATA-DEVICE-TIME)")
    p.add_argument("--json", action="store_true", help="print the record's rows as JSON instead of a table")
    p.set_defaults(run=cmd_infer)


# ----------------------------------------------------------------------------- checking what was typed


def parse_batch_sizes(text: str) -> list[int]:
    items = [t.strip() for t in str(text).split(",")]
    if not items or any(not t for t in items):
        raise ConfigError(f"--batch-sizes must be comma-separated integers 1..{MAX_BATCH}, got {text!r}.")
    out = []
    for t in items:
        if not re.fullmatch(r"\+?\d{1,9}", t) or not 1 <= int(t) <= MAX_BATCH:
            raise ConfigError(f"--batch-sizes: each must be an integer 1..{MAX_BATCH}, got {t!r}.")
        if int(t) not in out:
            out.append(int(t))
    if len(out) > MAX_BATCH_SIZES:
        raise ConfigError(f"--batch-sizes: at most {MAX_BATCH_SIZES} sizes, got {len(out)}.")
    return out


def parse_precisions(text: str) -> list[str]:
    from zoo.config import PRECISIONS
    from zoo.errors import check_choice

    items = [t.strip() for t in str(text).split(",")]
    if any(not t for t in items):
        raise ConfigError(f"--precision must be comma-separated precisions ({', '.join(PRECISIONS)}), got {text!r}.")
    return list(dict.fromkeys(check_choice("precision", t, PRECISIONS) for t in items))


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_counts(warmup: int, repeats: int, threads: int | None) -> None:
    if not _int(warmup) or not 0 <= warmup <= MAX_WARMUP:
        raise ConfigError(f"--warmup must be an integer 0..{MAX_WARMUP}, got {warmup}.")
    if not _int(repeats) or not 1 <= repeats <= MAX_REPEATS:
        raise ConfigError(f"--repeats must be an integer 1..{MAX_REPEATS}, got {repeats}.")
    if threads is not None:
        from zoo.config import THREADS_MAX

        if not _int(threads) or not 1 <= threads <= THREADS_MAX:
            raise ConfigError(f"--threads must be an integer 1..{THREADS_MAX}, got {threads}.")


# ----------------------------------------------------------------------------- the model and its inputs


def load_model(source: str, data: str | None, batch: int) -> tuple[Any, Any, str, str]:
    """(task, data module, data name, ``model`` or ``checkpoint``) for a model name or a pretrained id / folder."""
    from zoo import registry
    from zoo.hub import folder_of, load_pretrained
    from zoo.pretrained import is_pretrained, list_pretrained

    if source in registry.list_models() and not Path(source).exists():
        from zoo import factory
        from zoo.training import prepare

        cfg = factory.resolve(source, data, batch_size=max(batch, 2))  # batch norm refuses batches of 1 to train
        task, dm = prepare(cfg)
        return task, dm, cfg.data.data, "model"
    if not (is_pretrained(source) or os.sep in source or Path(source).exists()):
        from zoo.errors import UnknownNameError

        raise UnknownNameError("model or pretrained id", source, [*registry.list_models(), *list_pretrained()])
    from zoo.checkpoint import read_card
    from zoo.training import load_data

    folder, _ = folder_of(source)
    card = read_card(folder)
    name = data or (card.get("data") or {}).get("name")
    if not name:
        raise ConfigError(f"{source} does not record its dataset; pass --data NAME.")
    same = name == (card.get("data") or {}).get("name")
    dm = load_data(name, batch_size=batch, seed=0, data_options=dict(card.get("data_options") or {}) if same else {})
    task = load_pretrained(source)
    task.use_data(dm)
    return task, dm, name, "checkpoint"


def input_batch(dm: Any, size: int) -> tuple[Any, ...]:
    """The test split's first batch with ``size`` samples (rows repeated when the split has fewer)."""
    import torch

    batch = next(iter(dm.test_dataloader()))
    batch = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
    n = next((len(t) for t in batch if isinstance(t, torch.Tensor) and t.ndim), 0)
    if not n:
        raise ConfigError("the dataset's test split gives no batch to time.")
    elements = sum(t.numel() for t in batch if isinstance(t, torch.Tensor) and t.ndim and len(t) == n) * size // n
    if elements > MAX_INPUT_ELEMENTS:  # checked before the batch is made
        raise ConfigError(f"a batch of {size} has {elements:,} elements (inputs and targets), over the limit of "
                          f"{MAX_INPUT_ELEMENTS:,}; choose smaller --batch-sizes.")
    idx = torch.arange(size) % n
    return tuple(t[idx.to(t.device)] if isinstance(t, torch.Tensor) and t.ndim and len(t) == n else t for t in batch)


def forward_fn(task: Any) -> tuple[Any, str]:
    """The pass timed and what it is."""
    if getattr(task, "kind", None) in SUPERVISED:
        return (lambda b: task(b[0])), "model forward on the inputs"
    return (lambda b: task.eval_batch(b, full=False)), "teacher-forced evaluation pass (forward + loss)"


# ----------------------------------------------------------------------------- timing


def time_row(fn: Any, batch: tuple[Any, ...], *, device: str, warmup: int, repeats: int,
             max_seconds: float = MAX_ROW_SECONDS) -> list[float]:
    """Seconds of each timed pass of ``fn(batch)`` after ``warmup`` untimed ones."""
    import torch

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    stop = time.perf_counter() + max_seconds
    for _ in range(warmup):  # warm-up and timed passes each stop after max_seconds
        fn(batch)
        if time.perf_counter() >= stop:
            break
    sync()
    times: list[float] = []
    stop = time.perf_counter() + max_seconds
    for _ in range(repeats):
        t = time.perf_counter()
        fn(batch)
        sync()
        now = time.perf_counter()
        times.append(now - t)
        if now >= stop:
            break
    return times


def benchmark(task: Any, dm: Any, *, batch_sizes: list[int], precisions: list[str], device: str, warmup: int,
              repeats: int) -> tuple[list[dict[str, Any]], str]:
    """One row per precision x batch size (see the module docstring), and what was timed."""
    import numpy as np
    import torch

    from zoo import cost
    from zoo.bench.runner import is_oom, probe
    from zoo.engine import make_fabric

    fn, what = forward_fn(task)
    task.eval()
    size = max(batch_sizes)
    largest = input_batch(dm, size)  # bounded before any row runs; each row takes its first rows

    def first(bs: int) -> tuple[Any, ...]:
        return tuple(t[:bs] if isinstance(t, torch.Tensor) and t.ndim and len(t) == size else t for t in largest)

    try:
        with torch.inference_mode():
            fn(first(1))
    except RuntimeError as e:  # e.g. a checkpoint given another dataset's inputs
        if is_oom(e):
            raise
        raise ConfigError(f"the inputs of the dataset do not fit the model ({' '.join(str(e).split())[:200]}); "
                          "pass the --data it was trained on.") from None
    rows: list[dict[str, Any]] = []
    for precision in precisions:
        ok, why = probe(device, precision)
        if not ok:
            rows += [{"precision": precision, "batch_size": bs, "status": "skipped", "reason": why} for bs in batch_sizes]
            continue
        fabric = make_fabric(device, precision)
        dtype = cost.PEAK_DTYPES.get(precision)
        peak = cost.matmul_peak(dtype, device=device) if dtype else None
        for bs in batch_sizes:
            row: dict[str, Any] = {"precision": precision, "batch_size": bs, "status": "ok", "reason": None}
            try:
                batch = first(bs)
                with torch.inference_mode(), fabric.autocast():
                    flops = cost.count_flops(lambda: fn(batch))
                    times = time_row(fn, batch, device=device, warmup=warmup, repeats=repeats)
            except Exception as e:  # noqa: BLE001 -- a row that fails is a row with its reason
                if not is_oom(e):
                    raise
                rows.append({**row, "status": "oom", "reason": " ".join(str(e).split())[:300]})
                continue
            med = float(np.median(times))
            fps = flops / bs
            row.update(latency_ms_median=med * 1e3, latency_ms_p90=float(np.percentile(times, 90)) * 1e3,
                       throughput=bs / med, repeats=len(times), flops_per_sample=fps,
                       matmul_peak_flops=peak, peak_fraction=fps * bs / med / peak if peak and fps else None)
            rows.append(row)
    return rows, what


# ----------------------------------------------------------------------------- the command


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(text).name or text)[:80] or "model"


def run_infer(source: str, *, data: str | None = None, batch_sizes: Any = (1, 8, 64), precisions: Any = ("32-true",),
              device: str = "cpu", warmup: int = 10, repeats: int = 50, threads: int | None = None) -> dict[str, Any]:
    """Benchmark ``source`` (a model name, a pretrained id or a checkpoint folder) and return its
    ``infer`` record (zoo/record.py; nothing written). ``batch_sizes`` and ``precisions``: sequences
    or comma-separated text, checked and bounded as the command's flags are."""
    import torch

    from zoo import cost
    from zoo.config import DEVICES
    from zoo.engine import resolve_device
    from zoo.errors import check_choice

    sizes = parse_batch_sizes(batch_sizes if isinstance(batch_sizes, str) else ",".join(map(str, batch_sizes)))
    precs = parse_precisions(precisions if isinstance(precisions, str) else ",".join(precisions))
    check_choice("device", device, DEVICES)
    check_counts(warmup, repeats, threads)
    device = resolve_device(device) if device == "auto" else device
    here = device if probe_ok(device) else "cpu"
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        cost.reset_peak_memory(here)
        c0 = cost.cpu_seconds()
        task, dm, data_name, kind = load_model(source, data, max(sizes))
        task.to(here)
        if hasattr(dm, "to"):
            dm.to(here)
        t0 = time.perf_counter()
        rows, what = benchmark(task, dm, batch_sizes=sizes, precisions=precs, device=device, warmup=warmup,
                               repeats=repeats)
        result = make_record(source, task, data_name, kind, device, rows, what, time.perf_counter() - t0,
                             warmup=warmup, repeats=repeats)
        mem, mem_kind = cost.peak_memory_mb(here)
        result.update(cpu_seconds=cost.cpu_seconds() - c0, peak_memory_mb=mem, peak_memory_kind=mem_kind)
    finally:
        torch.set_num_threads(old_threads)
    return result


def cmd_infer(args: argparse.Namespace) -> int:
    from zoo.io import check_output_dir, make_output_dir

    parse_batch_sizes(args.batch_sizes)  # every typed value checked before anything is loaded or written
    parse_precisions(args.precision)
    check_counts(args.warmup, args.repeats, args.threads)
    out = check_output_dir(args.out, new=True) if args.out is not None else None
    result = run_infer(args.model, data=args.data, batch_sizes=args.batch_sizes, precisions=args.precision,
                       device=args.device, warmup=args.warmup, repeats=args.repeats, threads=args.threads)
    if out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = f"{_slug(args.model)}-{result['data']}-{result['device']}-{stamp}"
        out = check_output_dir(Path("runs") / "infer" / name, new=True)
    make_output_dir(out)
    write(out, result, result["device"])
    if args.json:
        import json

        print(json.dumps(result["rows"], indent=1))
    else:
        print(format_table(result))
    print(f"record: {out}", file=sys.stderr)
    return 1 if any(r["status"] == "oom" for r in result["rows"]) else 0


def probe_ok(device: str) -> bool:
    from zoo.engine import available_devices

    return bool(available_devices().get(device))


def make_record(source: str, task: Any, data: str, source_kind: str, device: str, rows: list[dict[str, Any]],
                what: str, seconds: float, *, warmup: int, repeats: int) -> dict[str, Any]:
    import torch

    from zoo import record

    status = record.OK if any(r["status"] == "ok" for r in rows) else (
        record.OOM if any(r["status"] == "oom" for r in rows) else record.SKIPPED)
    return record.new_result(
        "infer", status, None if status == record.OK else rows[0].get("reason"),
        task_kind=getattr(task, "kind", None), num_parameters=task.num_parameters(), seconds=seconds,
        model=getattr(task, "zoo_spec", {}).get("model") or source, source=f"{source_kind} {source}",
        data=data, device=device, warmup=warmup, repeats=repeats, rows=rows, timed=what,
        threads=torch.get_num_threads(),
    )


def write(folder: Path, result: dict[str, Any], device: str) -> None:
    from zoo import record
    from zoo.bench.runner import environment

    record.write_env(folder, environment(device))
    record.write_result(folder, result)


def _num(v: Any, spec: str) -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def _si(v: Any) -> str:
    if v is None:
        return "—"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= scale:
            return f"{v / scale:.3g}{unit}"
    return f"{v:.3g}"


def format_table(result: dict[str, Any]) -> str:
    """The rows of an ``infer`` record as a text table."""
    head = (f"{result['model']} on {result['data']} ({result['device']}, {result.get('threads')} thread(s)): "
            f"{result.get('timed')}; {result['repeats']} timed passes after {result['warmup']} warm-up")
    cols = ["precision", "batch", "median ms", "p90 ms", "samples/s", "FLOPs/sample", "of peak"]
    lines = []
    for r in result["rows"]:
        if r["status"] != "ok":
            lines.append([r["precision"], str(r["batch_size"]), f"{r['status']}: {r['reason']}"])
            continue
        frac = r.get("peak_fraction")
        lines.append([r["precision"], str(r["batch_size"]), _num(r["latency_ms_median"], ".3f"),
                      _num(r["latency_ms_p90"], ".3f"), _num(r["throughput"], ",.0f"), _si(r["flops_per_sample"]),
                      "—" if frac is None else f"{100 * frac:.1f}%"])
    widths = [max([len(c)] + [len(row[i]) for row in lines if len(row) == len(cols) or i < 2])
              for i, c in enumerate(cols)]
    fmt = "  ".join(["{:<%d}" % widths[0]] + ["{:>%d}" % w for w in widths[1:]])
    out = [head, fmt.format(*cols)]
    for row in lines:
        out.append(fmt.format(*row) if len(row) == len(cols) else "  ".join([row[0].ljust(widths[0]),
                                                                             row[1].rjust(widths[1]), row[2]]))
    return "\n".join(out)
