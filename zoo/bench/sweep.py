"""Run a study: claim each pending cell in the store, hand it to an executor, publish its record.

Nothing is written or printed before the study, the executor's arguments (and a Ray
cluster's address) are checked. The local worker count is bounded by the cells to run
and the cores. A full (or read-only) disk stops the sweep with one
:class:`~zoo.errors.StorageError` line: the cell being written is released, never
recorded as failed, so a resume after freeing space runs it again.

A cell that starts from another cell's checkpoint (zoo/bench/stages.py) is held back until that
cell is recorded, then handed its verified checkpoint (:meth:`Store.checkpoint`); when the source
failed, the cell is recorded as ``error`` with the source's reason, without running.

Resuming is the same call: done cells are skipped (``retry_failed`` reruns
``error``/``oom`` cells, ``retry_skipped`` reruns ``skipped`` ones), cells held by a
live writer elsewhere are left to it and waited for, and stale claims of dead
writers are taken over. Several sweeps of one study -- on one machine or on
many sharing the filesystem -- split its cells between them.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from zoo.bench.executors import Done, Executor, Job, ProcessExecutor, bounded, cores, make_executor
from zoo.bench.progress import Progress
from zoo.bench.cells import Cell
from zoo.bench.stages import source_of
from zoo.bench.study import Study
from zoo.bench.store import FAILED, Store
from zoo.errors import ConfigError, ZooError, storage_error


@dataclass
class SweepSummary:
    """What a sweep did and the study's state after it."""

    study: str
    directory: Path
    total: int
    counts: dict[str, int]
    ran: int = 0
    """Cells this sweep ran (and published)."""
    seconds: float = 0.0
    cells_seconds: float = 0.0
    """Wall time from the first cell's start to the last cell's end (worker start-up and shut-down excluded)."""
    samples: int = 0
    """Training samples of the cells this sweep ran."""
    executor: str = ""
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(self.counts.get(s, 0) for s in FAILED)

    @property
    def pending(self) -> int:
        return self.counts.get("pending", 0) + self.counts.get("running", 0)


def run_study(
    study: Study,
    *,
    out: str | Path = "runs",
    executor: str | Executor = "local",
    workers: int = 1,
    threads: int | None = None,
    address: str | None = None,
    retry_failed: bool = False,
    retry_skipped: bool = False,
    stream: IO[str] | None = None,
    live: bool | None = None,
    quiet: bool = False,
    wait_elsewhere: bool = True,
    poll: float = 2.0,
) -> SweepSummary:
    """Run every cell of ``study`` that is not done yet; return the summary.

    ``executor`` is ``local`` (``workers`` processes; 1 = in this process) or
    ``ray`` (``address`` ``auto``/``HOST:PORT``, or None for a local instance),
    or an :class:`Executor` instance. ``threads`` is per worker (default: the
    cores split evenly). With ``wait_elsewhere``, cells claimed by other live
    writers are waited for (and taken over if their writer dies).
    """
    t_start = time.perf_counter()
    cells = study.cells()
    store = Store(out, study.name)
    search = None
    if study.adaptive:  # an Optuna search: its trials are asked for batch by batch (zoo/bench/optuna_search.py)
        from zoo.bench.optuna_search import Search

        search = Search(study, store)
        cells = search.planned()
    retry = set(FAILED if retry_failed else ()) | ({"skipped"} if retry_skipped else set())
    statuses = store.statuses()  # read-only: an absent store has none
    todo = deque(c for c in cells if c.cell_id not in statuses or statuses[c.cell_id] in retry)
    notes: list[str] = []
    if not isinstance(executor, Executor):
        workers, threads = _bound(executor, workers, threads, len(todo) if search is None else study.size(), notes)
    ex = executor if isinstance(executor, Executor) else make_executor(  # checks its arguments first
        executor, workers=workers, threads=threads, address=address, log_dir=store.dir / ".logs"
    )
    try:
        if study.stages and ex.name == "ray":  # a Ray task's node may not see the store's checkpoints
            raise ConfigError(f"study {study.name!r} has stages (cells that start from other cells' checkpoints), "
                              "which need the store on this machine: use --executor local.")
        ex.check()  # a Ray address, Ray itself: before the store exists or a line is printed
        return _sweep(study, cells, store, ex, todo, retry, notes, t_start, stream=stream, live=live, quiet=quiet,
                      wait_elsewhere=wait_elsewhere, poll=poll, search=search)
    except OSError as e:
        full = storage_error(e)
        if full is None:
            raise
        raise full from None
    finally:
        ex.close()  # idempotent: also when _sweep closed it, or it never started


def _bound(kind: str, workers: int | None, threads: int | None, todo: int, notes: list[str]) -> tuple[Any, Any]:
    """Local workers and threads bounded by the cells to run and the cores (a note for each cap)."""
    if kind != "local":
        return workers, threads
    n = cores()
    note = None
    if isinstance(workers, int) and workers >= 1:
        workers, note = bounded("--workers", workers, min(todo, n), f"the {todo} cells to run and the {n} cores need")
        notes += [note] if note else []
    if isinstance(threads, int) and threads >= 1:
        threads, note = bounded("--threads", threads, n, f"the {n} cores")
        notes += [note] if note else []
    return workers, threads


def _sweep(study: Study, cells: list[Cell], store: Store, ex: Executor, todo: deque[Cell], retry: set[str],
           notes: list[str], t_start: float, *, stream: IO[str] | None, live: bool | None, quiet: bool,
           wait_elsewhere: bool, poll: float, search: Any = None) -> SweepSummary:
    store.init(study.to_json(), study.identity(), [c.to_json() for c in cells])
    by_id: dict[str, Cell] = {c.cell_id: c for c in cells}
    statuses = store.statuses()
    todo = deque(c for c in todo if c.cell_id not in statuses or statuses[c.cell_id] in retry)
    counts = store.summary(by_id)
    for c in todo:  # cells to retry count as pending in this sweep's display
        if c.cell_id in statuses:
            counts[statuses[c.cell_id]] -= 1
            counts["pending"] += 1
    total = len(cells) if search is None else max(len(cells), study.size())
    counts["pending"] += total - len(cells)  # trials a search has not asked for yet
    progress = Progress(study.name, total, counts, stream=stream, live=live, quiet=quiet)
    summary = SweepSummary(study.name, store.dir, total, counts, executor=ex.describe())
    for note in notes:
        progress.message(note)
    if study.dropped:
        progress.message(f"left out (not registered here): {', '.join(study.dropped)}")
    if not todo and search is None:
        progress.close()
        summary.counts = store.summary(by_id)
        summary.seconds = time.perf_counter() - t_start
        return summary

    inflight: dict[str, tuple[Cell, Any]] = {}
    elsewhere: list[Cell] = []
    waiting: list[Cell] = []  # cells whose source cell (zoo/bench/stages.py) is not recorded yet

    def blocked(cell: Cell) -> bool:
        src = source_of(cell)
        return src is not None and (src in inflight or any(c.cell_id == src for c in (*todo, *elsewhere))
                                    or store.result(src) is None)

    retried: set[str] = set()
    t_cells: float | None = None
    t_end: float | None = None
    store.start_heartbeat()
    try:
        ex.start()
        progress.message(f"{study.name}: {len(todo) if search is None else 'up to ' + str(total - len(cells) + len(todo))} "
                         f"of {total} cells to run; {ex.describe()}; store {store.dir}")
        if isinstance(ex, ProcessExecutor):
            ex.wait_ready()
        while True:
            if waiting and not todo:
                if not inflight and not elsewhere and all(blocked(c) for c in waiting):
                    break  # their sources are run by no one: they stay pending
                todo.extend(waiting)
                waiting = []
            if not (todo or inflight or elsewhere):
                new = search.next_batch(ex.slots) if search is not None else []  # the next trials, from the results so far
                if not new:
                    break
                store.add_cells([c.to_json() for c in new])  # planned before they run: a resume runs these first
                cells += new
                by_id.update((c.cell_id, c) for c in new)
                todo.extend(new)
            while todo and len(inflight) < ex.slots:
                cell = todo.popleft()
                if blocked(cell):
                    waiting.append(cell)
                    continue
                lease = store.claim(cell.cell_id, retry=retry if cell.cell_id not in retried else ())
                if lease is None:
                    if store.result(cell.cell_id) is None:
                        elsewhere.append(cell)  # a live writer elsewhere has it
                    continue
                retried.add(cell.cell_id)
                inflight[cell.cell_id] = (cell, lease)
                progress.started(cell)
                if t_cells is None:
                    t_cells = time.perf_counter()
                src = source_of(cell)
                try:
                    inputs = store.checkpoint(src) if src is not None else {}
                except ZooError as e:  # the source failed: this cell is a row with that reason
                    _finish(Done(cell.cell_id, None, error=str(e)), inflight, store, progress, summary)
                    continue
                ex.submit(Job(cell, lease.staging, inputs))
                for done in ex.wait(0.0):  # the in-process executor finishes inside submit()
                    _finish(done, inflight, store, progress, summary)
            if inflight:
                for done in ex.wait(0.5):
                    _finish(done, inflight, store, progress, summary)
                progress.tick()
                continue
            if elsewhere and not todo:
                if not wait_elsewhere:
                    break
                time.sleep(poll)
                progress.tick()
                todo.extend(c for c in elsewhere if store.result(c.cell_id) is None)
                elsewhere = []
        t_end = time.perf_counter()  # the last cell's end: worker shut-down is not cell time
    finally:
        store.stop_heartbeat()
        try:
            ex.close()
        finally:
            for _, lease in list(inflight.values()):
                store.release(lease)
            store.cleanup()
            summary.counts = store.summary(by_id)
            progress.counts.update(summary.counts)
            progress.close()
    if study.keep == "best" and not summary.counts.get("pending"):  # every cell recorded: the best are known
        from zoo.bench.best import best_per_problem

        keep = set(best_per_problem(store).values())
        for c in cells:
            if c.keep and c.cell_id not in keep:
                store.drop_checkpoint(c.cell_id)
    summary.seconds = time.perf_counter() - t_start
    summary.cells_seconds = (t_end or time.perf_counter()) - t_cells if t_cells is not None else 0.0
    return summary


def _finish(done: Done, inflight: dict[str, tuple[Cell, Any]], store: Store, progress: Progress,
            summary: SweepSummary) -> None:
    """Record a finished job. Its lease stays in ``inflight`` until published, so that a failure
    here (a full disk while writing the failure record) leaves it to run_study to release."""
    from zoo.bench.runner import write_failure

    cell, lease = inflight[done.cell_id]
    result = done.result
    reason = done.error if result is None else result.get("reason")
    full = storage_error(reason, f"writing cell {cell.cell_id} in {store.dir} (finished cells are kept)")
    if full is not None and (result is None or result.get("status") == "error"):
        raise full  # the disk, not the cell, failed: stop; the cell is released and runs again on resume
    if result is None:
        result = write_failure(cell, lease.staging, done.status, done.error or "the runner failed")
    published = store.publish(lease)
    del inflight[done.cell_id]
    note = "" if published else "  (already recorded by another writer; kept theirs)"
    line = progress.finished(cell, result, note=note)
    store.log(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}")
    if published:
        summary.ran += 1
        summary.results[cell.cell_id] = result
        summary.samples += int(((result.get("fit") or {}).get("samples")) or 0)
