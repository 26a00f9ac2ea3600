"""The store: exclusive claims, stale-claim takeover, atomic publish, never mixing studies."""

from __future__ import annotations

import contextlib
import errno
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zoo.bench import store as store_mod
from zoo.bench.store import Store, StudyMismatchError
from zoo.errors import StorageError


def _fake_result(lease, status="ok"):
    (lease.staging / "cell.json").write_text("{}")
    (lease.staging / "result.json").write_text(json.dumps({"status": status, "reason": None}))


def _init(tmp_path, identity="A"):
    s = Store(tmp_path, "st")
    s.init({"name": "st"}, identity, [{"cell_id": "c1"}])
    return s


def test_init_refuses_a_different_study_under_the_same_name(tmp_path):
    s = _init(tmp_path)
    assert not s.init({"name": "st"}, "A", [])  # same study: fine (resume)
    before = (tmp_path / "st" / "study.json").read_bytes()
    with pytest.raises(StudyMismatchError, match="another version of study 'st'.*Nothing was changed"):
        Store(tmp_path, "st").init({"name": "st"}, "B", [])
    assert (tmp_path / "st" / "study.json").read_bytes() == before


def test_claim_is_exclusive_and_publish_is_atomic(tmp_path):
    s = _init(tmp_path)
    lease = s.claim("c1")
    assert lease is not None and lease.staging.is_dir()
    assert s.claim("c1") is None  # held by a live writer (this process)
    assert s.summary(["c1"])["running"] == 1
    _fake_result(lease)
    assert s.publish(lease)
    assert (tmp_path / "st" / "c1" / "result.json").exists()
    assert not lease.staging.exists() and not lease.path.exists()
    assert s.claim("c1") is None  # done
    assert s.summary(["c1", "c2"]) == {"ok": 1, "diverged": 0, "oom": 0, "skipped": 0, "error": 0, "running": 0, "pending": 1}


def test_a_done_cell_is_never_rewritten(tmp_path):
    s = _init(tmp_path)
    a = s.claim("c1")
    _fake_result(a)
    # A second writer that (wrongly) ran the same cell cannot replace the first record.
    b_staging = s.staging_dir / "c1-other"
    b_staging.mkdir()
    assert s.publish(a)
    first = (tmp_path / "st" / "c1" / "result.json").read_bytes()
    b = store_mod.Lease("c1", s._lease_path("c1"), "other", b_staging)
    _fake_result(b, status="error")
    assert not s.publish(b)
    assert (tmp_path / "st" / "c1" / "result.json").read_bytes() == first


def test_retry_replaces_only_failed_cells(tmp_path):
    s = _init(tmp_path)
    a = s.claim("c1")
    _fake_result(a, status="error")
    s.publish(a)
    assert s.claim("c1") is None  # failed but not asked to retry
    b = s.claim("c1", retry={"error", "oom"})
    assert b is not None and b.replace
    _fake_result(b, status="ok")
    assert s.publish(b)
    assert json.loads((tmp_path / "st" / "c1" / "result.json").read_text())["status"] == "ok"
    assert s.claim("c1", retry={"error", "oom"}) is None  # ok now: never rerun
    assert not any((tmp_path / "st" / ".trash").iterdir())


def test_dead_writer_lease_is_taken_over(tmp_path):
    s = _init(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    info = {"machine": store_mod.MACHINE, "pid": dead.pid, "start": "1", "token": "deadbeef"}
    (s.lease_dir / "c1").write_text(json.dumps(info))
    (s.staging_dir / "c1-deadbeef").mkdir()
    (s.staging_dir / "c1-deadbeef" / "metrics.csv").write_text("half written")
    lease = s.claim("c1")
    assert lease is not None and lease.token != "deadbeef"
    assert not (s.staging_dir / "c1-deadbeef").exists()  # the dead writer's partial files are gone


def test_other_machine_lease_goes_stale_without_heartbeat(tmp_path):
    s = Store(tmp_path, "st", lease_timeout=5)
    s.init({"name": "st"}, "A", [])
    info = {"machine": "elsewhere/boot", "pid": 1, "token": "aaaa"}
    path = s.lease_dir / "c1"
    path.write_text(json.dumps(info))
    assert s.claim("c1") is None  # fresh heartbeat: live
    old = time.time() - 60
    os.utime(path, (old, old))
    assert s.claim("c1") is not None  # no heartbeat for 60 s > 5 s: stale


def test_heartbeat_refreshes_held_leases(tmp_path):
    s = _init(tmp_path)
    lease = s.claim("c1")
    old = time.time() - 100
    os.utime(lease.path, (old, old))
    s.start_heartbeat(every=0.05)
    time.sleep(0.3)
    s.stop_heartbeat()
    assert time.time() - lease.path.stat().st_mtime < 5


def _claimer(root: str, ids: list[str], out: str) -> None:
    s = Store(root, "st")
    got = []
    for cid in ids:
        lease = s.claim(cid)
        if lease is None:
            continue
        (lease.staging / "result.json").write_text(json.dumps({"status": "ok", "pid": os.getpid()}))
        if s.publish(lease):
            got.append(cid)
    Path(out).write_text(json.dumps(got))


def test_concurrent_writers_record_each_cell_exactly_once(tmp_path):
    """Four processes race over the same 40 cells: every cell is published by exactly one of them."""
    _init(tmp_path)
    ids = [f"c{i:02d}" for i in range(40)]
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_claimer, args=(str(tmp_path), ids[::1 if i % 2 else -1], str(tmp_path / f"o{i}")))
             for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    published = [cid for i in range(4) for cid in json.loads((tmp_path / f"o{i}").read_text())]
    assert sorted(published) == ids  # each exactly once
    assert sorted(d.name for d in (tmp_path / "st").iterdir() if d.is_dir() and not d.name.startswith(".")) == ids


def test_cleanup_keeps_live_and_removes_dead(tmp_path):
    s = _init(tmp_path)
    live = s.claim("c1")
    orphan = s.staging_dir / "c9-0123abcd"
    orphan.mkdir()
    old = time.time() - 3600
    os.utime(orphan, (old, old))
    s.cleanup()
    assert live.staging.exists() and live.path.exists()
    assert not orphan.exists()


# ----------------------------------------------------------------------------- disk full (issue 10)

def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_init_writes_study_and_cells_together_or_neither(tmp_path, monkeypatch):
    """A full disk while cells.json is written (the old code had study.json by then, and
    `zoo bench status` said 0 cells) leaves neither file; the next init writes both."""
    from zoo import record

    real = record.write_json_atomic

    def full_at_cells(path, obj):
        if "cells.json" in Path(path).name:
            _enospc()
        real(path, obj)

    monkeypatch.setattr(record, "write_json_atomic", full_at_cells)
    s = Store(tmp_path, "st")
    with pytest.raises(StorageError, match="the disk is full .* writing .*cells.json") as e:
        s.init({"name": "st"}, "A", [{"cell_id": "c1"}, {"cell_id": "c2"}])
    assert "\n" not in str(e.value)
    left = sorted(p.name for p in (tmp_path / "st").iterdir())
    assert left == [".leases", ".staging"]  # no study.json, no cells.json, no temporary file
    monkeypatch.setattr(record, "write_json_atomic", real)  # space freed
    assert s.init({"name": "st"}, "A", [{"cell_id": "c1"}, {"cell_id": "c2"}])
    assert [c["cell_id"] for c in s.read_cells()] == ["c1", "c2"]
    assert s.summary(c["cell_id"] for c in s.read_cells())["pending"] == 2


def test_init_takes_study_json_back_when_cells_json_cannot_be_linked(tmp_path, monkeypatch):
    real_link = os.link

    def link(src, dst, *a, **k):
        if Path(dst).name == "cells.json":
            _enospc()
        return real_link(src, dst, *a, **k)

    monkeypatch.setattr(os, "link", link)
    s = Store(tmp_path, "st")
    with pytest.raises(StorageError):
        s.init({"name": "st"}, "A", [{"cell_id": "c1"}])
    assert not (tmp_path / "st" / "study.json").exists() and not (tmp_path / "st" / "cells.json").exists()
    assert not [p for p in (tmp_path / "st").iterdir() if p.name.endswith(".tmp")]


def test_a_store_left_with_study_json_alone_gets_its_cells_on_resume(tmp_path):
    """What the code before the atomic init left on a full disk: study.json without cells.json."""
    s = _init(tmp_path)
    (tmp_path / "st" / "cells.json").unlink()
    assert s.read_cells() == []
    assert not s.init({"name": "st"}, "A", [{"cell_id": "c1"}])  # the same study: resumed, and repaired
    assert [c["cell_id"] for c in s.read_cells()] == ["c1"]


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({(p.stderr or p.stdout).strip()[:120]}); the monkeypatched "
                    "disk-full tests above cover the same paths")


def test_init_on_a_full_filesystem(tmp_path):
    """A real full disk (a small tmpfs, filled): neither file; after freeing space, both."""

    mnt = tmp_path / "small"
    _mount_tmpfs(mnt, "256k")
    try:
        cells = [{"cell_id": f"c{i:04d}", "params": {"pad": "x" * 100}} for i in range(200)]  # ~40 KB of JSON
        filler = mnt / "filler"
        with open(filler, "wb", buffering=0) as f, contextlib.suppress(OSError):  # fill the disk
            while True:
                f.write(b"\0" * 4096)
        os.truncate(filler, filler.stat().st_size - 4 * 4096)  # leave 16 KiB free
        s = Store(mnt, "st")
        with pytest.raises(StorageError):
            s.init({"name": "st"}, "A", cells)
        assert not (mnt / "st" / "study.json").exists() and not (mnt / "st" / "cells.json").exists()
        assert not [p for p in (mnt / "st").iterdir() if p.name.endswith(".tmp")]
        filler.unlink()  # space freed
        assert s.init({"name": "st"}, "A", cells)
        assert len(s.read_cells()) == 200
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
