"""Process settings that must be in place before the interpreter starts.

Used by the ``zoo`` command (which re-executes itself once with them), by the
benchmark workers, and by the speed scripts, so zoobench and its baselines run
under the same settings. A value the user already set is kept.

Evidence (measured on the shared 2-core CPU; ``benchmarks/speed_mlp.py`` and
``benchmarks/speed_cnn.py`` with and without ``--no-process-env`` compare the first):

* glibc returns freed activation buffers to the OS every step (~900 page faults
  per step); these thresholds keep them: 1.41x (MLP) and 1.22x (CNN) faster steps.
* two OpenMP threads spin-waiting beside any other busy process collapse ~100x;
  passive waiting removes that (``zoo train mlp`` at load 8: 191 -> 3,874 samples/s).

Also the identity of a process (boot id, start time, liveness), with which the store's leases
tell a live writer from a dead one or a reused pid.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

PROCESS_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "33554432",
    "MALLOC_TRIM_THRESHOLD_": "8000000000",
    "OMP_WAIT_POLICY": "PASSIVE",
}


def process_env(threads: int | None = None) -> dict[str, str]:
    """The settings a new process should get (``threads`` pins OpenMP/MKL/BLAS thread counts)."""
    env = dict(PROCESS_ENV)
    if threads:
        n = str(threads)
        env.update(OMP_NUM_THREADS=n, MKL_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n)
    return env


def reexec_with_process_env(argv: Sequence[str]) -> None:
    """Re-execute this Python process (``python argv...``) once, with missing settings added."""
    missing = {k: v for k, v in PROCESS_ENV.items() if k not in os.environ}
    if os.environ.get("ZOO_NO_REEXEC") or not missing:
        return
    env = {**os.environ, **missing, "ZOO_NO_REEXEC": "1"}
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, [sys.executable, *argv], env)
    except OSError:
        pass  # carry on in this process, only slower


# ----------------------------------------------------------------------------- process identity (the store's leases)


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def start_time(pid: int) -> str | None:
    """Process start time in clock ticks since boot (Linux), to tell a live pid from a reused one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def pid_alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if start is not None:
        now = start_time(pid)
        if now is not None and now != start:
            return False  # the pid was reused by another process
    return True
