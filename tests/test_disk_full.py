"""A full disk during `zoo train`, `zoo bench` (1 and 2 workers) and `zoo report`: one line, a non-zero
exit, no lease or staging folder left, and after freeing space a resume gives the records of an
uninterrupted run.

The disk is a 2 MiB tmpfs (``mount -t tmpfs``, needs root or CAP_SYS_ADMIN; skipped with the reason
elsewhere), filled by a ballast file to leave a chosen number of bytes, so each command meets the
full disk at a different point of its writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent / "bench"))
from bench_helpers import tiny_study  # noqa: E402
from test_crash import _assert_same_records  # noqa: E402

from zoo.cli import main  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="mounts a tmpfs (Linux)")


@pytest.fixture
def disk(tmp_path):
    d = tmp_path / "disk"
    d.mkdir()
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(d)], capture_output=True, text=True)
    except OSError as e:
        pytest.skip(f"cannot run mount here ({e})")
    if r.returncode != 0:
        pytest.skip(f"cannot mount a 2 MiB tmpfs here ({r.stderr.strip() or r.returncode}): needs root or CAP_SYS_ADMIN")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` with a ballast file so that about ``leave`` bytes stay free; returns the ballast."""
    ballast = disk / "ballast"
    ballast.unlink(missing_ok=True)
    st = os.statvfs(disk)
    size = max(0, st.f_bavail * st.f_frsize - leave)
    with open(ballast, "wb") as f:
        with contextlib.suppress(OSError):
            f.write(b"\0" * size)
    return ballast


def _run(argv: list[str], capfd) -> tuple[int, str]:
    code = main(argv)
    return code, capfd.readouterr().err


def _full_disk_line(code: int, err: str) -> None:
    errors = [line for line in err.splitlines() if line.startswith("zoo: error:")]
    assert code == 2 and "Traceback" not in err, err
    assert len(errors) == 1 and "the disk is full" in errors[0] and "\n" not in errors[0].removeprefix("zoo: error: "), err
    assert err.rstrip("\n").splitlines()[-1] == errors[0]  # the last line: nothing after it


def _no_temporary_files(root: Path) -> None:
    assert not [p for p in root.rglob(".*.tmp*")], "a temporary file was left behind"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


TRAIN = ["train", "mlp_tiny", "--data", "digits", "--max-epochs", "2", "--seed", "3"]


def test_zoo_train_on_a_full_disk(disk, tmp_path, capfd):
    assert _run([*TRAIN, "--out", str(tmp_path / "reference")], capfd)[0] == 0
    reference = _sha(tmp_path / "reference" / "checkpoint" / "model.safetensors")
    failed = 0
    for i, leave in enumerate((0, 6_000, 16_000, 24_000, 32_000)):  # out of room at different files
        ballast = fill(disk, leave)
        code, err = _run([*TRAIN, "--out", str(disk / f"run{i}")], capfd)
        if code != 0:
            failed += 1
            _full_disk_line(code, err)
            assert not (disk / f"run{i}" / "result.json").exists()  # never looks complete
        _no_temporary_files(disk)
        ballast.unlink()
        code, err = _run([*TRAIN, "--out", str(disk / f"again{i}")], capfd)  # after freeing space
        assert code == 0, err
        assert _sha(disk / f"again{i}" / "checkpoint" / "model.safetensors") == reference
        shutil.rmtree(disk / f"again{i}")
    assert failed >= 3, "the disk should have been full for most of these runs"


def _study(tmp_path: Path) -> Path:
    p = tmp_path / "full.yaml"
    p.write_text(yaml.safe_dump(tiny_study(name="full")))  # 12 cells of ~0.2 s
    return p


def _bench_until_full(disk, tmp_path, capfd, leaves, workers: int) -> None:
    study = _study(tmp_path)
    assert _run(["bench", str(study), "--out", str(tmp_path / "reference"), "--workers", "1", "--threads", "1"],
                capfd)[0] == 0
    ids = {d.name for d in (tmp_path / "reference" / "full").iterdir() if d.is_dir() and not d.name.startswith(".")}
    assert len(ids) == 12
    for i, leave in enumerate(leaves):
        out = disk / f"runs{i}"
        argv = ["bench", str(study), "--out", str(out), "--workers", str(workers), "--threads", "1"]
        ballast = fill(disk, leave)
        _full_disk_line(*_run(argv, capfd))
        store = out / "full"
        if (store / ".leases").is_dir():
            assert not [p for p in (store / ".leases").iterdir() if not p.name.startswith(".")], "a lease was left"
        if (store / ".staging").is_dir():
            assert not list((store / ".staging").iterdir()), "a staging folder was left"
        _no_temporary_files(disk)
        code, err = _run(["bench", "status", str(study), "--out", str(out)], capfd)
        assert code in (0, 2) and "Traceback" not in err and " 0 cells" not in capfd.readouterr().out
        ballast.unlink()
        code, err = _run(argv, capfd)  # resume after freeing space
        assert code == 0, err
        _assert_same_records(tmp_path / "reference" / "full", store, ids)
        shutil.rmtree(out)


def test_zoo_bench_on_a_full_disk(disk, tmp_path, capfd):
    # 0: no room for study.json; 3000: study.json fits, cells.json does not; then mid-sweep.
    _bench_until_full(disk, tmp_path, capfd, (0, 3_000, 60_000, 200_000), workers=1)


@pytest.mark.slow  # two fresh workers import torch twice: ~17 s here (the lease fix has a fast test in test_sweep.py)
def test_zoo_bench_with_two_workers_on_a_full_disk(disk, tmp_path, capfd):
    _bench_until_full(disk, tmp_path, capfd, (120_000,), workers=2)


@pytest.mark.slow  # ~16 s of figures
def test_zoo_report_on_a_full_disk(disk, tmp_path, capfd):
    study = _study(tmp_path)
    assert _run(["bench", str(study), "--out", str(tmp_path / "runs"), "--threads", "1"], capfd)[0] == 0
    store = str(tmp_path / "runs" / "full")
    assert _run(["report", store, "--out", str(tmp_path / "reference")], capfd)[0] == 0
    for i, leave in enumerate((0, 40_000)):
        ballast = fill(disk, leave)
        _full_disk_line(*_run(["report", store, "--out", str(disk / f"report{i}")], capfd))
        _no_temporary_files(disk)
        ballast.unlink()
        assert _run(["report", store, "--out", str(disk / f"report{i}")], capfd)[0] == 0  # its files are rewritten
        for name in ("results.csv", "verdict.csv"):
            ref, got = tmp_path / "reference" / name, disk / f"report{i}" / name
            if ref.exists():
                assert got.read_text() == ref.read_text(), name
        shutil.rmtree(disk / f"report{i}")
