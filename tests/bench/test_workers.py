"""Worker processes are bounded (by the cells to run and the cores) and die with their sweep."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from bench_helpers import PYTHON, REPO, subprocess_env, tiny_study, write_study

from zoo.bench.executors import bounded, cores
from zoo.cli import main


def test_bounded_caps_and_says_so():
    assert bounded("--workers", 2, 4, "x") == (2, None)
    n, note = bounded("--workers", 99999999999999999999999, 3, "the 3 cells to run and the 2 cores need")
    assert n == 3 and note == "--workers 99999999999999999999999 is more than the 3 cells to run and the 2 cores need; using 3."
    assert bounded("--workers", 10**40, 3, "x")[1] == "--workers 10000000000000000000... is more than x; using 3."
    assert bounded("--workers", 5, 0, "nothing")[0] == 1  # never below one


def test_absurd_worker_count_is_clamped_not_spawned(tmp_path, capfd):
    """`zoo bench --workers 99999999999999999999999` once spawned workers until memory ran out."""
    study = write_study(tmp_path / "one.yaml", tiny_study(name="one", problems=["mlp_tiny-digits"], scientific={},
                                                          nuisance={}))
    assert main(["bench", str(study), "--out", str(tmp_path / "runs"), "--workers", "9" * 23, "--threads", "9" * 23]) == 0
    err = capfd.readouterr().err
    notes = [line for line in err.splitlines() if "is more than" in line]
    assert notes == [
        "--workers 99999999999999999999999 is more than the 1 cells to run and the "
        f"{cores()} cores need; using 1.",
        f"--threads 99999999999999999999999 is more than the {cores()} cores; using {cores()}.",
    ]
    assert "local: 1 worker(s)" in err  # one cell: it ran in this process
    env = json.loads(next((tmp_path / "runs" / "one").glob("*/env.json")).read_text())
    assert env["pid"] == os.getpid()


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    out, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - out
        out |= frontier
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts processes through /proc (Linux)")
def test_sigkill_to_the_parent_alone_leaves_no_worker(tmp_path):
    """SIGKILL to `zoo bench --workers 2` (not to its group) while both workers run a cell: after 5 s no
    process of the sweep is left."""
    study = write_study(tmp_path / "slow.yaml", tiny_study(
        name="slow", problems=["mlp_tiny-digits"], scientific={"lr": [0.01, 0.003, 0.001, 0.0003]}, nuisance={},
        data_options={}, budget={"max_epochs": 100000, "max_time": 30}))  # cells of 30 s: killed mid-cell
    store = tmp_path / "runs" / "slow"
    proc = subprocess.Popen(
        [PYTHON, "-m", "zoo.cli", "bench", str(study), "--out", str(tmp_path / "runs"), "--workers", "2", "--threads", "1"],
        env=subprocess_env(), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,  # its own group: the kill below must reach the parent alone
    )
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            leases = [p for p in (store / ".leases").glob("*") if not p.name.startswith(".")] if store.is_dir() else []
            if len(leases) == 2:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.stderr.read().decode()
        assert len(leases) == 2, "both workers should be running a cell"
        family = _descendants(proc.pid)
        assert 2 <= len(family) <= 3, family  # two workers (and multiprocessing's resource tracker at most)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        time.sleep(5)
        left = {p for p in family if _alive(p)}
        assert not left, f"{len(left)} worker process(es) outlived the sweep"
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in _descendants(proc.pid):
            with __import__("contextlib").suppress(OSError):
                os.kill(p, signal.SIGKILL)
