"""Where cells run: in this process, in long-lived local worker processes, or on a Ray cluster.

Every executor has the same small interface, driven by :func:`zoo.bench.sweep.run_study`:
``check()`` (before anything is written: a wrong ``--address`` fails before the store exists),
``start()``, ``submit(job)`` while ``busy() < slots``, ``wait(timeout) -> [Done]``, ``close()``.
The sweep claims each cell in the store before submitting it and publishes it
after, so executors only compute.

* :class:`SequentialExecutor` -- one cell at a time in this process (imports already paid).
* :class:`ProcessExecutor` -- N long-lived worker processes (``spawn``), each with
  ``threads`` torch threads, ``OMP_NUM_THREADS`` and the allocator variables set before
  torch is imported. A worker imports torch and Lightning once (~4.5 s here) and runs many
  cells; it writes the cell's files into the staging folder itself and dies with the sweep
  (``PR_SET_PDEATHSIG``, and a thread watching its parent where prctl is missing). A worker that dies mid-cell becomes an ``error`` (or ``oom`` when
  killed by SIGKILL, the kernel's OOM killer) result and is replaced.
* :class:`RayExecutor` -- one Ray task per cell (``num_cpus=threads``) on a running cluster
  (``address="auto"`` or ``HOST:PORT``) or a local instance; Ray keeps its worker
  processes, so imports are paid once per worker too. The task runs the cell in a
  temporary folder on its node and returns the files, which the sweep writes: the
  cluster needs no shared filesystem.

Evidence for threads split between workers (measured with bare PyTorch loops): 2 processes x
1 thread gave 1.3-1.9x the throughput of sequential runs with 2 threads on this 2-core CPU;
``benchmarks/scaling.py`` measures it on the smoke study.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from zoo import record
from zoo.bench.cells import Cell
from zoo.errors import ConfigError
from zoo.procenv import process_env

EXECUTORS = ("local", "ray")


def thread_env(threads: int) -> dict[str, str]:
    """Environment of a worker with ``threads`` compute threads (set before torch is imported).

    zoo.procenv's settings (allocator thresholds, thread counts). With more than one thread,
    OpenMP threads sleep instead of spinning between parallel regions (``OMP_WAIT_POLICY=PASSIVE``,
    unless the user chose a policy): spinning threads steal the cores of sibling workers and of
    anything else running. Evidence: the smoke study's 24 cells in one 2-thread worker beside
    other busy processes (load ~8 on 2 cores) took 210.9 s spinning and 13.5 s passive
    (benchmarks/scaling.py).
    """
    env = process_env(threads)
    if threads == 1 or "OMP_WAIT_POLICY" in os.environ:
        del env["OMP_WAIT_POLICY"]
    return env


def cores() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def default_threads(workers: int = 1) -> int:
    """Torch threads per worker: ``$OMP_NUM_THREADS`` when set (the user's word), else the cores split evenly.

    Evidence for honouring OMP_NUM_THREADS: on this shared 2-core machine, 2 torch threads beside
    other busy processes made a 0.15 s cell take 1-2.6 s (spin-waiting OpenMP; zoo/procenv.py sets passive waiting).
    """
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, cores() // max(1, workers))


def bounded(flag: str, value: int, limit: int, why: str) -> tuple[int, str | None]:
    """``value`` capped at ``limit`` (at least 1), and the one-line note saying so when it was capped.

    ``zoo bench --workers 99999999999999999999999`` once spawned workers until memory ran out:
    worker processes and threads are bounded by the cells to run and the cores.
    """
    limit = max(1, limit)
    if value <= limit:
        return value, None
    shown = str(value) if len(str(value)) <= 24 else f"{str(value)[:20]}..."
    return limit, f"{flag} {shown} is more than {why}; using {limit}."


@dataclass
class Job:
    """A claimed cell and the staging folder its files go to."""

    cell: Cell
    workdir: Path
    inputs: dict[str, Any] = field(default_factory=dict)
    """What the cell starts from (zoo/bench/stages.py): its source's checkpoint folder and sha256."""


@dataclass
class Done:
    """A finished job: its result, or why there is none (the runner itself failed)."""

    cell_id: str
    result: dict[str, Any] | None
    error: str | None = None
    status: str = "error"
    """Status to record when ``result`` is None."""
    extra: dict[str, Any] = field(default_factory=dict)


class Executor:
    """Interface (and the in-process implementation's base)."""

    name = "executor"
    slots = 1
    threads = 1

    def check(self) -> None:
        """Fail (one line) on what can be known before the store is touched; may connect."""

    def start(self) -> None: ...

    def submit(self, job: Job) -> None:
        raise NotImplementedError

    def busy(self) -> int:
        raise NotImplementedError

    def wait(self, timeout: float) -> list[Done]:
        raise NotImplementedError

    def close(self) -> None: ...

    def describe(self) -> str:
        return f"{self.name}: {self.slots} worker(s) x {self.threads} thread(s)"


# ----------------------------------------------------------------------------- in this process


class SequentialExecutor(Executor):
    """Runs each cell in this process, one at a time."""

    name = "local"

    def __init__(self, threads: int | None = None):
        self.threads = threads or default_threads()
        self._done: list[Done] = []
        self._saved_threads: int | None = None

    def start(self) -> None:
        import torch

        from zoo.bench.runner import warm_up

        self._saved_threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        warm_up()

    def submit(self, job: Job) -> None:
        from zoo.bench.runner import run_cell

        self._done.append(Done(job.cell.cell_id, run_cell(job.cell, job.workdir, inputs=job.inputs)))

    def busy(self) -> int:
        return 0  # submit() returns when the cell is done

    def wait(self, timeout: float) -> list[Done]:
        out, self._done = self._done, []
        return out

    def close(self) -> None:
        if self._saved_threads:
            import torch

            torch.set_num_threads(self._saved_threads)


# ----------------------------------------------------------------------------- local worker processes


def _die_with_parent(parent: int, every: float = 0.5) -> None:
    """Make this process die when the sweep ``parent`` dies, so no worker outlives it.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, which the kernel fires even while the worker
    is deep in a cell. Everywhere (and should prctl be refused): a daemon thread that exits the
    process once its parent pid changes (the orphan is re-parented), within ``every`` seconds.
    """
    import threading

    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, name="zoo-parent-watch", daemon=True).start()


def _worker_main(conn: Connection, parent: int, threads: int, log_path: str) -> None:
    """Worker process: import once, then run the cells sent over ``conn`` until told to stop."""
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the sweep's to handle
    with contextlib.suppress(OSError):
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    import torch

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    from zoo.bench.runner import run_cell, warm_up

    warm_up()
    conn.send(("ready", os.getpid()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:  # every result is sent and every file closed: skip the slow interpreter teardown
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        _, cell_json, workdir, inputs = msg
        cell = Cell.from_json(json.loads(cell_json))
        try:
            conn.send(("done", cell.cell_id, run_cell(cell, Path(workdir), inputs=inputs)))
        except BaseException as e:  # noqa: BLE001 -- the runner itself failed (disk full, ...)
            with contextlib.suppress(Exception):
                conn.send(("failed", cell.cell_id, f"{e.__class__.__name__}: {e}\n{traceback.format_exc()}"))


@dataclass
class _Worker:
    process: Any
    conn: Connection
    job: Job | None = None
    ready: bool = False


class ProcessExecutor(Executor):
    """``workers`` long-lived processes with ``threads`` torch threads each."""

    name = "local"

    def __init__(self, workers: int, threads: int | None = None, *, log_dir: Path | None = None):
        if workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}.")
        self.slots = workers
        self.threads = threads or default_threads(workers)
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.gettempdir())
        self._ctx = mp.get_context("spawn")
        self._workers: list[_Worker] = []
        self._done: list[Done] = []
        self.started_at: float | None = None
        self.ready_at: float | None = None

    def start(self) -> None:
        self.started_at = time.perf_counter()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for i in range(self.slots):
            self._workers.append(self._spawn(i))

    def _spawn(self, index: int) -> _Worker:
        parent_conn, child_conn = self._ctx.Pipe()
        env = thread_env(self.threads)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # inherited by the spawned interpreter before it imports torch
        try:
            p = self._ctx.Process(
                target=_worker_main,
                args=(child_conn, os.getpid(), self.threads, str(self.log_dir / f"worker-{index}.log")),
                name=f"zoo-bench-worker-{index}",
                daemon=True,
            )
            p.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        child_conn.close()
        return _Worker(p, parent_conn)

    def wait_ready(self, timeout: float = 300.0) -> None:
        """Block until every worker has imported torch (for timing the cells alone)."""
        end = time.perf_counter() + timeout
        while not all(w.ready for w in self._workers) and time.perf_counter() < end:
            self._poll(0.5)
        self.ready_at = time.perf_counter()

    def busy(self) -> int:
        return sum(w.job is not None for w in self._workers)

    def submit(self, job: Job) -> None:
        worker = next(w for w in self._workers if w.job is None)
        worker.job = job
        worker.conn.send(("run", json.dumps(job.cell.to_json()), str(job.workdir), job.inputs))

    def wait(self, timeout: float) -> list[Done]:
        self._poll(timeout)
        out, self._done = self._done, []
        return out

    def _poll(self, timeout: float) -> None:
        conns = {w.conn: w for w in self._workers}
        sentinels = {w.process.sentinel: w for w in self._workers}
        for ready in wait([*conns, *sentinels], timeout):
            if ready in sentinels:  # the process closed its descriptors: it is exiting; reap it
                sentinels[ready].process.join(timeout=10)
            elif ready in conns:
                w = conns[ready]
                try:
                    msg = w.conn.recv()
                except (EOFError, OSError):  # the worker is gone (or going): reap it, then replace it below
                    w.process.join(timeout=10)
                    if w.process.exitcode is None:
                        w.process.kill()
                        w.process.join(timeout=5)
                    continue
                if msg[0] == "ready":
                    w.ready = True
                elif msg[0] == "done" and w.job is not None:
                    self._done.append(Done(msg[1], msg[2]))
                    w.job = None
                elif msg[0] == "failed" and w.job is not None:
                    self._done.append(Done(msg[1], None, error=msg[2].splitlines()[0]))
                    w.job = None
        for w in list(self._workers):
            if w.process.exitcode is not None:
                self._replace(w)

    def _replace(self, w: _Worker) -> None:
        code = w.process.exitcode
        if w.job is not None:
            killed = code is not None and code < 0 and -code == signal.SIGKILL
            reason = (
                "the worker process was killed by SIGKILL while running this cell (the kernel's OOM killer?)"
                if killed else f"the worker process died while running this cell (exit code {code})"
            )
            self._done.append(Done(w.job.cell.cell_id, None, error=reason, status="oom" if killed else "error"))
            w.job = None
        index = self._workers.index(w)
        with contextlib.suppress(Exception):
            w.conn.close()
        self._workers[index] = self._spawn(index)

    def close(self) -> None:
        for w in self._workers:
            with contextlib.suppress(Exception):
                w.conn.send(None)
        deadline = time.perf_counter() + 5
        for w in self._workers:
            w.process.join(timeout=max(0.1, deadline - time.perf_counter()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join(timeout=2)
            with contextlib.suppress(Exception):
                w.conn.close()
        self._workers = []


# ----------------------------------------------------------------------------- Ray

_RAY_THREADS: int | None = None


def _ray_run(cell_json: str, threads: int) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Ray task body: run one cell in a temporary folder on this node, return (result, files)."""
    global _RAY_THREADS
    import torch

    from zoo.bench.runner import run_cell, warm_up

    if _RAY_THREADS != threads:  # once per Ray worker process
        torch.set_num_threads(threads)
        warm_up()
        _RAY_THREADS = threads

    cell = Cell.from_json(json.loads(cell_json))
    with tempfile.TemporaryDirectory(prefix=f"zoo-cell-{cell.cell_id}-") as tmp:
        result = run_cell(cell, Path(tmp))
        files = {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file() and not p.name.startswith(".")}
    return result, files


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a HOST:PORT that does not answer (ray.init would retry for minutes)."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        if address != "auto":
            raise ConfigError(f"--address takes auto or HOST:PORT, got {address!r}.")
        return
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as e:
        raise ConfigError(f"cannot reach a Ray cluster at {address!r} ({e.strerror or e}); start one with "
                          "`ray start --head` or omit --address for a local instance.") from None


class RayExecutor(Executor):
    """Cells as Ray tasks with ``threads`` CPUs each; at most ``slots`` in flight."""

    name = "ray"

    def __init__(self, workers: int | None = None, threads: int = 1, *, address: str | None = None,
                 init_kwargs: dict[str, Any] | None = None):
        if threads < 1:
            raise ConfigError(f"--threads must be at least 1, got {threads}.")
        self.threads = threads
        self.address = address
        self.requested = workers
        self.slots = workers or 1
        self.init_kwargs = init_kwargs or {}
        self._inflight: dict[Any, Job] = {}
        self._started_ray = False
        self._remote: Any = None

    def check(self) -> None:
        """The address, Ray itself, and the connection: all before the sweep writes or prints anything."""
        if self._remote is not None:
            return
        if self.address:
            _check_reachable(self.address)
        try:
            import ray
        except ModuleNotFoundError:
            raise ConfigError("--executor ray needs Ray: pip install 'zoobench[ray]'.") from None
        env = {**thread_env(self.threads), "PYTHONWARNINGS": "ignore::DeprecationWarning"}
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {
                "runtime_env": {"env_vars": env},
                "include_dashboard": False,
                "log_to_driver": False,
                "configure_logging": False,
                **self.init_kwargs,
            }
            if self.address:
                kwargs["address"] = self.address
            try:
                ray.init(**kwargs)
            except ConnectionError as e:
                raise ConfigError(f"cannot reach a Ray cluster at {self.address!r} ({e}); start one with "
                                  "`ray start --head` or omit --address for a local instance.") from None
            self._started_ray = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        if self.threads > cpus:
            raise ConfigError(f"--threads {self.threads} is more than the cluster's {cpus} CPUs.")
        self.slots = self.requested or max(1, cpus // self.threads)
        self._remote = ray.remote(_ray_run)

    def start(self) -> None:
        self.check()

    def busy(self) -> int:
        return len(self._inflight)

    def submit(self, job: Job) -> None:
        ref = self._remote.options(num_cpus=self.threads, max_retries=0).remote(
            json.dumps(job.cell.to_json()), self.threads
        )
        self._inflight[ref] = job

    def wait(self, timeout: float) -> list[Done]:
        import ray

        if not self._inflight:
            time.sleep(min(timeout, 0.1))
            return []
        ready, _ = ray.wait(list(self._inflight), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(list(self._inflight), num_returns=len(self._inflight), timeout=0)
        out = []
        for ref in ready:
            job = self._inflight.pop(ref)
            try:
                result, files = ray.get(ref)
            except Exception as e:  # noqa: BLE001 -- task or worker failure: a row with its reason
                text = " ".join(str(e).split())[:500]
                status = "oom" if "OutOfMemoryError" in type(e).__name__ or "out of memory" in text.lower() else "error"
                out.append(Done(job.cell.cell_id, None, error=f"Ray task failed: {type(e).__name__}: {text}", status=status))
                continue
            record.write_blobs(job.workdir, files)  # every file atomically, result.json last
            out.append(Done(job.cell.cell_id, result))
        return out

    def close(self) -> None:
        if self._remote is None and not self._started_ray:
            return  # never started
        import ray

        for ref in list(self._inflight):
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        self._inflight.clear()
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False

    def describe(self) -> str:
        return f"ray: {self.slots} task(s) in flight x {self.threads} thread(s)"


def make_executor(kind: str, *, workers: int = 1, threads: int | None = None, address: str | None = None,
                  log_dir: Path | None = None) -> Executor:
    """The executor for ``zoo bench --executor KIND --workers N --threads T --address A``."""
    if kind not in EXECUTORS:
        from zoo.errors import UnknownNameError

        raise UnknownNameError("executor", kind, EXECUTORS)
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}.")
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {threads}.")
    if kind == "ray":
        return RayExecutor(workers, threads or 1, address=address)
    if address:
        raise ConfigError("--address is for --executor ray.")
    if workers == 1:
        return SequentialExecutor(threads)
    return ProcessExecutor(workers, threads, log_dir=log_dir)

