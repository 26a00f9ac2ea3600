"""The report's compute-efficiency table: FLOPs per training sample, achieved FLOP/s and the
fraction of the machine's measured matmul peak, CPU-seconds and peak memory (the cost keys of
zoo/record.py ``COST``, measured by zoo/cost.py), per problem x model x batch size x device x precision."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from zoo.report import document as D
from zoo.report import stats as S
from zoo.report import tables as T
from zoo.report.fmt import fmt_ci, num_key

KEYS = ("problem", "model", "batch_size", "device", "precision")


def si(x: float) -> str:
    """``1.23 M``: three significant digits and an SI prefix."""
    if not math.isfinite(x):
        return "—"
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g} {prefix}"
    return f"{x:.3g}"


def _values(g: pd.DataFrame, col: str) -> list[float]:
    if col not in g:
        return []
    return [float(v) for v in g[col].tolist() if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]


def _flops(values: list[float]) -> str:
    if not values:
        return "—"
    lo, hi = min(values), max(values)
    return si(lo) if lo == hi else f"{si(lo)} – {si(hi)}"


def efficiency_blocks(rows: pd.DataFrame, problems: Sequence[str]) -> list[D.Block]:
    """The table (nothing when no finished cell recorded a cost: stores written before it)."""
    df = rows[rows.status == "ok"] if "status" in rows else rows.iloc[0:0]
    if df.empty or not any(c in df and df[c].notna().any() for c in ("flops_per_sample", "cpu_seconds")):
        return []
    d = df.copy()
    for k in KEYS:
        d[k] = d[k].map(lambda x: "—" if x is None or (isinstance(x, float) and math.isnan(x)) else x) if k in d else "—"
    out: list[list[str]] = []
    for key, g in d.groupby(list(KEYS), sort=False, dropna=False):
        frac = S.mean_ci([100 * v for v in _values(g, "peak_fraction")])
        achieved = _values(g, "achieved_flops")
        out.append([str(key[0]), str(key[1]), T.show(key[2]), f"{key[3]} / {key[4]}", _flops(_values(g, "flops_per_sample")),
                    si(sum(achieved) / len(achieved)) + "FLOP/s" if achieved else "—",
                    fmt_ci(frac) + " %" if frac.n else "—", fmt_ci(S.mean_ci(_values(g, "cpu_seconds"))),
                    fmt_ci(S.mean_ci(_values(g, "peak_memory_mb"))), str(len(g))])
    order = {p: i for i, p in enumerate(problems)}
    out.sort(key=lambda r: (order.get(r[0], len(order)), r[1], num_key(r[2]), r[3]))
    note = ("Compute per finished cell: FLOPs of one forward + backward pass per training sample (torch's "
            "FlopCounterMode: matmuls and convolutions), the FLOP/s that is at the measured training throughput, "
            "and its share of this machine's matmul peak for the run's dtype and threads (measured once per "
            "machine, recorded in each cell's env.json); CPU-seconds (user + system, every thread) and peak "
            "memory of the cell. Mean ± 95% CI over the cells.")
    cols = ["problem", "model", "batch size", "device / precision", "FLOPs / sample", "achieved",
            "of matmul peak", "CPU-s", "peak memory (MB)", "cells"]
    return [D.Para(note), D.Table(cols, out, caption="Compute efficiency per batch size × device × precision")]
