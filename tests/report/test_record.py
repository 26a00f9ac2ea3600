"""zoo.record: one schema for run and cell folders, versioned; atomic writes; readers that never unpickle."""

from __future__ import annotations

import errno
import json
import math
from pathlib import Path

import numpy as np
import pytest

from zoo import record


def test_one_schema_for_runs_and_cells():
    run = record.new_result("run", spec={"model": "mlp"}, metrics={"val": {}, "test": {}})
    cell = record.new_result("cell", "skipped", "no cuda here", cell_id="abc")
    for r in (run, cell):
        assert r["schema"] == record.SCHEMA_VERSION and set(record.COMMON) <= set(r)
    assert run["kind"] == "run" and "spec" in run and "cell_id" not in run
    assert cell["kind"] == "cell" and cell["status"] == "skipped" and set(record.FIELDS["cell"]) <= set(cell)
    with pytest.raises(ValueError, match="unknown status 'fine'"):
        record.new_result("cell", "fine")
    with pytest.raises(ValueError, match="unknown record kind"):
        record.new_result("job")
    assert record.READ_STATUSES == (*record.STATUSES, record.PENDING, record.UNREADABLE)


def test_version_0_records_are_upgraded_on_reading(tmp_path: Path):
    old_run = {"spec": {"model": "mlp"}, "num_parameters": 10, "fit": {"stop_reason": "diverged"}, "metrics": {},
               "seconds": 1.0}  # what `zoo train` wrote before zoo.record
    (tmp_path / "result.json").write_text(json.dumps(old_run))
    r = record.read_result(tmp_path)
    assert r["schema"] == 0 and r["kind"] == "run" and r["status"] == "diverged" and r["spec"] == {"model": "mlp"}
    (tmp_path / "result.json").write_text(json.dumps({"status": "exploded", "reason": "?"}))
    r = record.read_result(tmp_path)
    assert r["kind"] == "cell" and r["status"] == "error" and r["reason"] == "unknown status 'exploded': ?"
    (tmp_path / "result.json").write_text('{"status": "o')
    with pytest.raises(record.RecordError):
        record.read_result(tmp_path)
    assert record.read_result(tmp_path / "nothing") is None


def test_write_run_writes_every_file_result_last(tmp_path: Path):
    order = []
    history = [{"epoch": 1, "step": 3, "train_loss": 0.5, "val_acc": math.nan}, {"epoch": 2, "step": 6, "train_loss": 0.25}]
    preds = {"probs": np.array([[0.2, 0.8], [0.6, 0.4]], dtype=np.float32), "target": np.array([1, 0])}
    result = record.new_result("run", spec={}, fit=record.fit_summary({"history": history, "steps": 6}))
    record.write_run(tmp_path, result, history=history, predictions=preds,
                     checkpoint=lambda d: order.append(sorted(p.name for p in d.iterdir())))
    assert order == [[record.HISTORY, record.PREDICTIONS]]  # the checkpoint comes after both, result.json after it
    assert record.read_result(tmp_path)["fit"] == {"steps": 6}
    rows = record.read_history(tmp_path)
    assert rows[0]["epoch"] == 1 and rows[1]["train_loss"] == 0.25 and math.isnan(rows[0]["val_acc"])
    got = record.read_predictions(tmp_path)
    assert np.array_equal(got["probs"], preds["probs"]) and got["probs"].dtype == np.float32
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_predictions_are_never_unpickled(tmp_path: Path):
    np.savez(tmp_path / record.PREDICTIONS, probs=np.array([{"evil": 1}], dtype=object), target=np.array([0]))
    assert record.read_predictions(tmp_path) is None


def test_blobs_from_another_machine(tmp_path: Path):
    result = json.dumps(record.new_result("cell", cell_id="x")).encode()
    record.write_blobs(tmp_path / "cell", {"result.json": result, "cell.json": b"{}", "log.txt": b"hi\n"})
    assert record.read_result(tmp_path / "cell")["cell_id"] == "x"
    for bad in ("../escape", "a/b", ".hidden", ""):
        with pytest.raises(ValueError, match="not a record file name"):
            record.write_blobs(tmp_path / "cell", {bad: b""})


def test_write_errors_are_one_line(tmp_path: Path, monkeypatch):
    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(record, "write_json_atomic", full)
    with pytest.raises(record.DiskFullError) as e:
        record.write_cell(tmp_path, {"cell_id": "x"})
    assert "no space left" in str(e.value) and "\n" not in str(e.value)
    (tmp_path / "a-file").touch()
    with pytest.raises(record.WriteError, match="cannot write"):
        record.write_history(tmp_path / "a-file", [{"epoch": 1}])  # a file where the folder should be
