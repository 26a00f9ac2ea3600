"""Progress of a sweep: a line per finished cell, and on a terminal a live status line with ETA.

The display writes to its own duplicate of stderr's file descriptor, so it
stays visible while a cell's output is redirected into that cell's log.txt.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from typing import IO, TYPE_CHECKING, Any

from zoo.record import DIVERGED, ERROR, FAILED, OK, PENDING, PRUNED, SKIPPED

if TYPE_CHECKING:
    from zoo.bench.cells import Cell

DONE = (OK, DIVERGED, SKIPPED, PRUNED)
"""Statuses of cells that need no rerun (``FAILED`` ones are rerun by ``--retry-failed``)."""


def fmt_seconds(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def headline(result: dict[str, Any]) -> str:
    """The one metric worth a glance: test accuracy, RMSE or loss."""
    test = (result.get("metrics") or {}).get("test") or {}
    for key in ("acc", "rmse", "perplexity", "loss"):
        v = test.get(key)
        if isinstance(v, (int, float)):
            return f"test_{key} {v:.4g}"
    return ""


def format_counts(counts: dict[str, int], total: int) -> str:
    done = sum(counts.get(k, 0) for k in DONE)
    failed = sum(counts.get(k, 0) for k in FAILED)
    parts = [f"done {done}/{total}"]
    detail = ", ".join(f"{k} {counts[k]}" for k in ("diverged", "skipped") if counts.get(k))
    if detail:
        parts[0] += f" ({detail})"
    parts.append(f"failed {failed}" + (f" (oom {counts['oom']})" if counts.get("oom") else ""))
    parts.append(f"running {counts.get('running', 0)}")
    parts.append(f"pending {counts.get('pending', 0)}")
    return "  ".join(parts)


class Progress:
    """Counts of the sweep and what to print when they change."""

    def __init__(self, study: str, total: int, counts: dict[str, int], *, stream: IO[str] | None = None,
                 live: bool | None = None, quiet: bool = False):
        self.study, self.total = study, total
        self.counts = {k: counts.get(k, 0) for k in (*DONE, *FAILED, "running", PENDING)}
        self._own_stream = stream is None
        if stream is None:
            try:
                stream = open(os.dup(sys.stderr.fileno()), "w", buffering=1, encoding="utf-8")  # noqa: SIM115
            except (OSError, ValueError, AttributeError):
                stream, self._own_stream = sys.stderr, False
        self.stream = stream
        self.live = (stream.isatty() if live is None else live) and not quiet
        self.quiet = quiet
        self.t0 = time.perf_counter()
        self.finished_here = 0
        self._last_draw = 0.0
        self._running: dict[str, str] = {}

    # ------------------------------------------------------------------ events
    def started(self, cell: Cell) -> None:
        self.counts["pending"] = max(0, self.counts["pending"] - 1)
        self.counts["running"] += 1
        self._running[cell.cell_id] = cell.label()
        self.tick(force=True)

    def finished(self, cell: Cell, result: dict[str, Any], *, note: str = "") -> str:
        status = str(result.get("status", ERROR))
        self.counts["running"] = max(0, self.counts["running"] - 1)
        self._running.pop(cell.cell_id, None)
        self.counts[status if status in self.counts else ERROR] += 1
        self.finished_here += 1
        n = sum(self.counts[k] for k in (*DONE, *FAILED))
        extra = headline(result) if status in ("ok", "diverged", "pruned") else (result.get("reason") or "")
        line = (f"[{n:>{len(str(self.total))}}/{self.total}] {status:<8} {cell.cell_id}  {cell.label()}"
                f"  {extra}  {float(result.get('seconds') or 0):.1f}s{note}")
        if not self.quiet:
            self._write(line)
        return line

    def abandoned(self, cell: Cell) -> None:
        """A cell given back without a result (done or held elsewhere)."""
        self.counts["running"] = max(0, self.counts["running"] - 1)
        self._running.pop(cell.cell_id, None)

    def message(self, text: str) -> None:
        if not self.quiet:
            self._write(text)

    # ------------------------------------------------------------------ display
    def eta(self) -> float:
        remaining = self.counts["pending"] + self.counts["running"]
        if remaining == 0:
            return 0.0
        elapsed = time.perf_counter() - self.t0
        if self.finished_here == 0:
            return math.inf
        return remaining * elapsed / self.finished_here

    def status_line(self) -> str:
        elapsed = time.perf_counter() - self.t0
        return (f"{self.study}: {format_counts(self.counts, self.total)}  "
                f"elapsed {fmt_seconds(elapsed)}  ETA {fmt_seconds(self.eta())}")

    def tick(self, force: bool = False) -> None:
        if not self.live:
            return
        now = time.perf_counter()
        if not force and now - self._last_draw < 0.25:
            return
        self._last_draw = now
        width = 200
        with contextlib.suppress(OSError, ValueError, AttributeError):
            width = os.get_terminal_size(self.stream.fileno()).columns
        line = self.status_line()[: max(20, width - 1)]
        self.stream.write("\r\033[K" + line)
        self.stream.flush()

    def _write(self, line: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stream.write(("\r\033[K" if self.live else "") + line + "\n")
            self.stream.flush()
            if self.live:
                self.tick(force=True)

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            if self.live:
                self.stream.write("\r\033[K")
            if not self.quiet:
                self.stream.write(self.status_line() + "\n")
            self.stream.flush()
            if self._own_stream:
                self.stream.close()
