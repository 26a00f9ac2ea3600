"""Sweeps: run, resume, retry, status, parallel workers, dead workers."""

from __future__ import annotations

import io
import json
import os
import signal
from pathlib import Path

import pytest
from bench_helpers import tiny_study

from zoo.bench.executors import Done, ProcessExecutor, SequentialExecutor
from zoo.bench.progress import Progress
from zoo.bench.parse import parse_study
from zoo.bench.sweep import run_study
from zoo.cli import main


def _metrics(directory: Path) -> dict[str, dict]:
    out = {}
    for d in directory.iterdir():
        if d.is_dir() and not d.name.startswith("."):
            out[d.name] = json.loads((d / "result.json").read_text())["metrics"]
    return out


def test_sweep_runs_resumes_and_reports(tmp_path):
    study = parse_study(tiny_study(), "t.yaml")
    stream = io.StringIO()
    s1 = run_study(study, out=tmp_path, stream=stream, live=False, threads=1)
    assert s1.ran == 12 and s1.counts["pending"] == 0 and s1.total == 12
    assert s1.counts["ok"] + s1.counts["diverged"] == 12
    lines = stream.getvalue().splitlines()
    assert sum(line.startswith("[") for line in lines) == 12  # a line per finished cell off a terminal
    assert "ETA" in lines[-1]
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("result.json")}
    s2 = run_study(study, out=tmp_path, quiet=True)  # resume: nothing left to do
    assert s2.ran == 0
    assert before == {p: p.stat().st_mtime_ns for p in tmp_path.rglob("result.json")}
    sweep_log = (tmp_path / "tiny" / "sweep.log").read_text().splitlines()
    assert len(sweep_log) == 12
    # The store has nothing half-done left over.
    assert not list((tmp_path / "tiny" / ".staging").iterdir())
    assert not list((tmp_path / "tiny" / ".leases").iterdir())


def test_status_command_and_retry_failed(tmp_path, capsys):
    raw = tiny_study(problems=["mlp_tiny-digits"], nuisance={}, fixed={"monitor": "val_rmse"})
    p = tmp_path / "bad.yaml"
    import yaml

    p.write_text(yaml.safe_dump({**raw, "name": "bad"}))
    out = str(tmp_path / "runs")
    assert main(["bench", str(p), "--out", out]) == 1  # cells failed: non-zero
    capsys.readouterr()
    assert main(["bench", "status", str(p), "--out", out]) == 0
    text = capsys.readouterr().out
    assert "failed 2" in text and "val_rmse" in text and "pending 0" in text
    # Fix the study? It would be a different study: refused, nothing changed.
    p.write_text(yaml.safe_dump({**raw, "name": "bad", "fixed": {}}))
    assert main(["bench", str(p), "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "another version of study 'bad': axes.monitor removed" in err and "fixed.monitor removed" in err
    # zoo bench status says so too, and --new-version runs the edited study into a store of its own.
    assert main(["bench", "status", str(p), "--out", out]) == 0
    assert "was edited since this store was made (axes.monitor removed" in capsys.readouterr().out
    assert main(["bench", str(p), "--out", out, "--new-version"]) == 0
    assert "runs into" in capsys.readouterr().err and (tmp_path / "runs" / "bad-v2" / "study.json").exists()
    assert main(["bench", str(p), "--out", out, "--new-version"]) == 0  # resumes v2, makes no v3
    assert not (tmp_path / "runs" / "bad-v3").exists()
    # --retry-failed reruns the failures (here they fail again, and are recorded again).
    p.write_text(yaml.safe_dump({**raw, "name": "bad"}))
    ids = sorted(d.name for d in (tmp_path / "runs" / "bad").iterdir() if not d.name.startswith(".") and d.is_dir())
    before = {i: (tmp_path / "runs" / "bad" / i / "result.json").stat().st_mtime_ns for i in ids}
    assert main(["bench", str(p), "--out", out]) == 1  # plain resume: failures stay as they are
    assert before == {i: (tmp_path / "runs" / "bad" / i / "result.json").stat().st_mtime_ns for i in ids}
    assert main(["bench", str(p), "--out", out, "--retry-failed"]) == 1
    after = {i: (tmp_path / "runs" / "bad" / i / "result.json").stat().st_mtime_ns for i in ids}
    assert all(after[i] != before[i] for i in ids)
    assert main(["bench", "status", str(tmp_path / "runs" / "bad")]) == 0  # a store folder works too
    capsys.readouterr()
    assert main(["bench", str(p), "--out", out, "--dry-run"]) == 0
    assert capsys.readouterr().out.count("error") == 2


@pytest.mark.slow
def test_parallel_workers_match_sequential(tmp_path):
    """Two worker processes give the same numbers as the in-process run (same seeds, one thread each)."""
    study = parse_study(tiny_study(), "t.yaml")
    seq = run_study(study, out=tmp_path / "seq", executor=SequentialExecutor(threads=1), quiet=True)
    par = run_study(study, out=tmp_path / "par", workers=2, threads=1, quiet=True)
    assert seq.ran == par.ran == 12
    assert _metrics(tmp_path / "seq" / "tiny") == _metrics(tmp_path / "par" / "tiny")
    env = json.loads(next((tmp_path / "par" / "tiny").glob("*/env.json")).read_text())
    assert env["torch_threads"] == 1 and env["omp_num_threads"] == "1"
    assert env["malloc_env"].get("MALLOC_MMAP_THRESHOLD_") == "33554432"
    assert env["pid"] != os.getpid()


@pytest.mark.slow  # a fresh worker imports torch and Lightning: 8-40 s on this machine
def test_dead_worker_becomes_a_row_and_is_replaced(tmp_path):
    """A worker killed mid-cell (as the OOM killer would) gives that cell status oom; the sweep goes on."""
    ex = ProcessExecutor(1, threads=1, log_dir=tmp_path / "logs")
    ex.start()
    try:
        ex.wait_ready()
        worker = ex._workers[0]
        from zoo.bench.executors import Job

        cell = parse_study(tiny_study(problems=["mlp_tiny-digits"], scientific={}, nuisance={}), "t.yaml").cells()[0]
        worker.job = Job(cell, tmp_path / "w")  # pretend it is running this cell
        os.kill(worker.process.pid, signal.SIGKILL)
        done: list[Done] = []
        for _ in range(40):
            done += ex.wait(0.25)
            if done:
                break
        assert len(done) == 1 and done[0].result is None and done[0].status == "oom"
        assert "SIGKILL" in done[0].error
        assert ex._workers[0].process.pid != worker.process.pid and ex._workers[0].process.is_alive()
    finally:
        ex.close()


def test_progress_eta_and_counts():
    stream = io.StringIO()
    p = Progress("s", 4, {"pending": 4}, stream=stream, live=False)
    assert p.eta() == float("inf")
    from zoo.bench.cells import Cell

    c = Cell("s", "mlp-digits", "mlp", "digits", 0, "{}")
    p.started(c)
    p.finished(c, {"status": "ok", "metrics": {"test": {"acc": 0.5}}, "seconds": 1.0})
    assert p.counts["ok"] == 1 and p.counts["pending"] == 3 and p.counts["running"] == 0
    assert 0 < p.eta() < float("inf")
    assert "test_acc 0.5" in stream.getvalue()
    assert "done 1/4" in p.status_line() and "ETA" in p.status_line()


def _sweep_in_child(study_raw, out, conn):
    study = parse_study(study_raw, "t.yaml")
    s = run_study(study, out=out, executor=SequentialExecutor(threads=1), quiet=True, poll=0.2)
    conn.send((s.ran, s.counts))


def test_two_sweeps_share_one_study(tmp_path):
    """Two sweeps of one study at once (as on two machines sharing the folder): each cell runs once."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")  # this process has imported torch with one thread: fork is safe
    raw = tiny_study()
    pipes = [ctx.Pipe() for _ in range(2)]
    procs = [ctx.Process(target=_sweep_in_child, args=(raw, tmp_path, child)) for _, child in pipes]
    for p in procs:
        p.start()
    results = [parent.recv() for parent, _ in pipes]
    for p in procs:
        p.join(120)
    assert sum(ran for ran, _ in results) == 12
    assert all(counts["pending"] == 0 and counts["running"] == 0 for _, counts in results)
    dirs = [d for d in (tmp_path / "tiny").iterdir() if d.is_dir() and not d.name.startswith(".")]
    assert len(dirs) == 12 and all((d / "result.json").exists() for d in dirs)


def test_worker_environment(monkeypatch):
    from zoo.bench.executors import default_threads, make_executor, thread_env

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    env = thread_env(2)
    assert env["OMP_NUM_THREADS"] == "2" and env["OMP_WAIT_POLICY"] == "PASSIVE"
    assert env["MALLOC_MMAP_THRESHOLD_"] == "33554432"
    assert "OMP_WAIT_POLICY" not in thread_env(1)
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert "OMP_WAIT_POLICY" not in thread_env(2)  # the user's choice stands
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert default_threads(1) == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert default_threads(2) >= 1
    assert isinstance(make_executor("local", workers=1), SequentialExecutor)
    assert isinstance(make_executor("local", workers=3, threads=1), ProcessExecutor)


class _FailingExecutor(SequentialExecutor):
    """Every cell comes back as ``done`` without running it (what a dead or failed worker reports)."""

    def __init__(self, done):
        super().__init__(threads=1)
        self.make_done = done

    def start(self) -> None: ...

    def submit(self, job) -> None:
        self._done.append(self.make_done(job))


def _nothing_half_done(store: Path) -> None:
    assert not [p for p in (store / ".leases").iterdir() if not p.name.startswith(".")]
    assert not list((store / ".staging").iterdir())
    assert not [d for d in store.iterdir() if d.is_dir() and not d.name.startswith(".")], "no cell was recorded"


def test_a_full_disk_while_recording_a_failure_releases_the_lease(tmp_path, monkeypatch):
    """The failure path once popped the in-flight entry before releasing its lease: a lease and its
    staging folder stayed behind when writing the failure record hit a full disk."""
    import errno

    import zoo.bench.runner
    from zoo.errors import StorageError

    def full(cell, workdir, *a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(workdir / "result.json"))

    monkeypatch.setattr(zoo.bench.runner, "write_failure", full)
    study = parse_study(tiny_study(), "t.yaml")
    ex = _FailingExecutor(lambda job: Done(job.cell.cell_id, None, error="the worker process died (exit code 1)"))
    with pytest.raises(StorageError, match=r"^the disk is full \(No space left on device\) writing .*result.json; free"):
        run_study(study, out=tmp_path, executor=ex, quiet=True)
    _nothing_half_done(tmp_path / "tiny")


@pytest.mark.parametrize("how", ["worker_failed", "runner_recorded"])
def test_a_cell_that_met_a_full_disk_is_released_not_recorded(tmp_path, how):
    """A cell whose runner failed on a full disk is not a failed cell: the sweep stops, and a resume runs it."""
    from zoo.errors import StorageError

    text = "OSError: [Errno 28] No space left on device: '/x/metrics.csv'"
    if how == "worker_failed":
        ex = _FailingExecutor(lambda job: Done(job.cell.cell_id, None, error=text))
    else:
        def recorded(job):
            job.workdir.mkdir(parents=True, exist_ok=True)
            (job.workdir / "result.json").write_text(json.dumps({"status": "error", "reason": text}))
            return Done(job.cell.cell_id, {"status": "error", "reason": text})

        ex = _FailingExecutor(recorded)
    study = parse_study(tiny_study(), "t.yaml")
    with pytest.raises(StorageError, match=r"^the disk is full \(No space left on device\) writing cell [0-9a-f]+ in .*finished cells are kept"):
        run_study(study, out=tmp_path, executor=ex, quiet=True)
    _nothing_half_done(tmp_path / "tiny")


def test_ray_address_errors_touch_nothing(tmp_path, capfd):
    """A wrong --address is one line: no progress line before it, no store folder."""
    p = tmp_path / "t.yaml"
    import yaml

    p.write_text(yaml.safe_dump(tiny_study()))
    for address in ("127.0.0.1:1", "nonsense"):
        assert main(["bench", str(p), "--executor", "ray", "--address", address, "--out", str(tmp_path / "runs")]) == 2
        err = capfd.readouterr().err
        assert err.count("\n") == 1 and err.startswith("zoo: error: ") and "Traceback" not in err, err
        assert not (tmp_path / "runs").exists()
