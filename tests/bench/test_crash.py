"""Crash safety: SIGKILL the sweep at random moments, resume each time; in the end every cell is
recorded exactly once and its numbers equal those of an uninterrupted run with the same seeds.

Each sweep is a separate process running ``zoo bench`` (``zoo.cli.main``). The fast test forks
those processes from a pre-imported "zygote" process (one ``import torch, lightning`` instead
of one per round: a fresh interpreter costs 4.5-45 s of imports on this shared machine);
``test_crash_safety_cli_subprocess`` (slow) starts each one as ``python -m zoo.cli bench``.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from bench_helpers import PYTHON, REPO, subprocess_env, tiny_study

from zoo.bench.parse import load_study

ZYGOTE = r"""
import json, os, signal, sys
import zoo.cli, zoo.bench.sweep, zoo.bench.runner, zoo.training, zoo.tasks, zoo.registry
zoo.registry.list_models()
zoo.cli.build_parser(["bench", "x"])
zoo.bench.runner._git(), zoo.bench.runner._versions(), zoo.bench.runner._cpu_name()  # per-process caches
from zoo.data import list_datasets
list_datasets()
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
print("ready", flush=True)
for line in sys.stdin:
    argv = json.loads(line)
    pid = os.fork()
    if pid == 0:
        sys.stdin.close()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1); os.dup2(devnull, 2)
        os._exit(zoo.cli.main(argv))
    print(pid, flush=True)
"""


class Zygote:
    """A process that has imported the zoo once and forks a `zoo bench` process on request."""

    def __init__(self):
        self.proc = subprocess.Popen([PYTHON, "-c", ZYGOTE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=subprocess_env(), cwd=REPO)
        assert self.proc.stdout.readline().strip() == "ready"

    def start(self, argv: list[str]) -> int:
        self.proc.stdin.write(json.dumps(argv) + "\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _published(study_dir: Path) -> dict[str, tuple[int, int]]:
    out = {}
    if study_dir.is_dir():
        for d in study_dir.iterdir():
            r = d / "result.json"
            if not d.name.startswith(".") and r.exists():
                st = r.stat()
                out[d.name] = (st.st_ino, st.st_mtime_ns)
    return out


def _holds_lease(study_dir: Path, pid: int) -> bool:
    leases = study_dir / ".leases"
    if not leases.is_dir():
        return False
    for p in leases.iterdir():
        try:
            if json.loads(p.read_text()).get("pid") == pid:
                return True
        except (OSError, ValueError):
            continue
    return False


def _mid_cell(study_dir: Path) -> bool:
    staging = study_dir / ".staging"
    return staging.is_dir() and any(any(d.iterdir()) for d in staging.iterdir() if d.is_dir())


def _table(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return [{k: v for k, v in row.items() if k != "epoch_seconds"} for row in csv.DictReader(f)]


def _assert_same_records(ref_dir: Path, got_dir: Path, cell_ids: set[str]) -> None:
    ref = {d.name for d in ref_dir.iterdir() if d.is_dir() and not d.name.startswith(".")}
    got = {d.name for d in got_dir.iterdir() if d.is_dir() and not d.name.startswith(".")}
    assert ref == got == cell_ids, "every cell recorded, and nothing else"
    for cid in cell_ids:
        a, b = ref_dir / cid, got_dir / cid
        ra, rb = json.loads((a / "result.json").read_text()), json.loads((b / "result.json").read_text())
        assert ra["status"] == rb["status"] and ra["metrics"] == rb["metrics"], cid
        assert ra["fit"]["steps"] == rb["fit"]["steps"] and ra["fit"]["best_score"] == rb["fit"]["best_score"]
        assert json.loads((a / "cell.json").read_text()) == json.loads((b / "cell.json").read_text())
        assert _table(a / "metrics.csv") == _table(b / "metrics.csv")
        pa, pb = np.load(a / "predictions_test.npz"), np.load(b / "predictions_test.npz")
        assert pa.files == pb.files and all(np.array_equal(pa[k], pb[k]) for k in pa.files)
    # Nothing half-done is left: no staging folder, no lease.
    assert not [p for p in (got_dir / ".staging").iterdir()]
    assert not [p for p in (got_dir / ".leases").iterdir() if not p.name.startswith(".")]


def _crash_and_resume(
    start, study_file: Path, out: Path, *, kills: int, rng: random.Random, max_delay: float = 0.4
) -> dict[str, int]:
    """SIGKILL ``kills`` sweeps at random moments (resuming each time), then let one finish.

    A kill comes ``uniform(0, max_delay)`` seconds after the sweep holds a cell; ``max_delay``
    scales with the machine's cell time (:func:`_kill_window`) so that a fast machine does not
    finish the study between kills.

    Checks after every round that no published cell was ever rewritten.
    """
    study = load_study(study_file)
    study_dir = out / study.name
    argv = ["bench", str(study_file), "--out", str(out)]
    seen: dict[str, tuple[int, int]] = {}
    stats = {"kills": 0, "mid_cell": 0, "rounds": 0, "cells": len(study.cells())}

    def check() -> dict[str, tuple[int, int]]:
        now = _published(study_dir)
        for cid, ident in seen.items():
            assert now.get(cid) == ident, f"cell {cid} was rewritten or lost"
        return now

    while stats["kills"] < kills:
        stats["rounds"] += 1
        before = len(_published(study_dir))
        pid = start(argv)
        # Let the sweep claim a cell (it is past start-up); every other round let it publish one first
        # (so the study advances), then kill it at a random moment.
        deadline = time.time() + 600
        while _alive(pid) and not _holds_lease(study_dir, pid) and time.time() < deadline:
            time.sleep(0.005)
        while stats["rounds"] % 2 == 0 and _alive(pid) and len(_published(study_dir)) == before:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, max_delay))
        if _alive(pid):
            stats["mid_cell"] += _mid_cell(study_dir)
            os.kill(pid, signal.SIGKILL)
            stats["kills"] += 1
            while _alive(pid):
                time.sleep(0.005)
        seen = check()
        assert len(seen) < stats["cells"], f"the study finished before {kills} kills; use more cells ({stats})"
    _run_to_end(start, study_file, out)
    seen = check()
    assert len(seen) == stats["cells"]
    return stats


def _run_to_end(start, study_file: Path, out: Path) -> float:
    """Run the study uninterrupted; returns its wall time in seconds."""
    t0 = time.perf_counter()
    pid = start(["bench", str(study_file), "--out", str(out)])
    while _alive(pid):
        time.sleep(0.02)
    return time.perf_counter() - t0


def _kill_window(reference_seconds: float, study_file: Path) -> float:
    """Longest wait before a kill: 1.5 cells' time on this machine (from the reference run), at most 0.4 s."""
    return min(0.4, 1.5 * reference_seconds / len(load_study(study_file).cells()))


@pytest.fixture
def crash_study(tmp_path):
    # 36 cells of ~0.1-0.3 s each (mlp_tiny on 96 samples, one epoch).
    return _write(tmp_path, tiny_study(name="crash", seeds=3))


def _write(tmp_path: Path, raw) -> Path:
    p = tmp_path / "crash.yaml"
    p.write_text(yaml.safe_dump(raw))
    return p


def test_crash_safety_sigkill(tmp_path, crash_study):
    zygote = Zygote()
    try:
        rng = random.Random(1234)
        window = _kill_window(_run_to_end(zygote.start, crash_study, tmp_path / "reference"), crash_study)
        stats = _crash_and_resume(zygote.start, crash_study, tmp_path / "crashed", kills=12, rng=rng, max_delay=window)
    finally:
        zygote.close()
    print(f"\ncrash test: {stats}")
    assert stats["kills"] >= 10 and stats["cells"] >= 20 and stats["mid_cell"] >= 5
    study = load_study(crash_study)
    ids = {c.cell_id for c in study.cells()}
    _assert_same_records(tmp_path / "reference" / "crash", tmp_path / "crashed" / "crash", ids)


@pytest.mark.slow
def test_crash_safety_cli_subprocess(tmp_path, crash_study):
    """The same with a fresh `python -m zoo.cli bench` process per round (imports paid every time)."""

    def start(argv: list[str]) -> int:
        return subprocess.Popen([PYTHON, "-m", "zoo.cli", *argv], env=subprocess_env(), cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        window = _kill_window(_run_to_end(start, crash_study, tmp_path / "reference"), crash_study)
        stats = _crash_and_resume(start, crash_study, tmp_path / "crashed", kills=10, rng=random.Random(99), max_delay=window)
    finally:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    print(f"\ncrash test (cli subprocess): {stats}")
    assert stats["kills"] >= 10
    ids = {c.cell_id for c in load_study(crash_study).cells()}
    _assert_same_records(tmp_path / "reference" / "crash", tmp_path / "crashed" / "crash", ids)


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.slow
def test_killing_the_sweep_kills_its_workers_and_resume_completes(tmp_path, crash_study):
    """SIGKILL a `zoo bench --workers 2` sweep mid-run: its workers die with it, and a resumed sweep
    records every cell once, with the numbers of an uninterrupted run."""
    zygote = Zygote()
    try:
        argv = ["bench", str(crash_study), "--out", str(tmp_path / "crashed"), "--workers", "2", "--threads", "1"]
        study_dir = tmp_path / "crashed" / "crash"
        for _ in range(2):
            pid = zygote.start(argv)
            while _alive(pid) and not _holds_lease(study_dir, pid):
                time.sleep(0.01)
            time.sleep(random.uniform(0.2, 1.0))
            workers = _children(pid)
            assert len(workers) >= 2
            os.kill(pid, signal.SIGKILL)
            deadline = time.time() + 30
            while any(_alive(w) for w in workers) and time.time() < deadline:
                time.sleep(0.05)
            assert not any(_alive(w) for w in workers), "a worker outlived its sweep"
        _run_to_end(zygote.start, crash_study, tmp_path / "crashed")
        _run_to_end(zygote.start, crash_study, tmp_path / "reference")
    finally:
        zygote.close()
    ids = {c.cell_id for c in load_study(crash_study).cells()}
    _assert_same_records(tmp_path / "reference" / "crash", study_dir, ids)
