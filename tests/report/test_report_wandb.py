"""zoo report --wandb: every finished cell becomes an offline W&B run (no account)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pandas as pd
import pytest
import storegen

wandb = pytest.importorskip("wandb")
from wandb.proto import wandb_internal_pb2 as pb  # noqa: E402


def read_records(path: Path):
    """The protobuf records of an offline run file (.wandb): W&B's LevelDB-style log, 32 KiB
    blocks of chunks with a 7-byte header (crc32, length, type: 1 full, 2 first, 3 middle, 4 last)."""
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, buf = 7, b""
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        if left < 7:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        pos += 7
        if kind == 0:  # zero padding up to the end of the block
            pos += left - 7
            continue
        chunk, pos = data[pos:pos + length], pos + length
        if kind in (1, 4):
            raw, buf = (chunk if kind == 1 else buf + chunk), b""
            rec = pb.Record()
            rec.ParseFromString(raw)
            yield rec
        else:
            buf = chunk if kind == 2 else buf + chunk


def _key(item) -> str:
    return item.key or ".".join(item.nested_key)


def test_wandb_offline_logs_every_cell(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wb"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    (tmp_path / "wb").mkdir()
    store = storegen.make_store(
        tmp_path / "runs", "wb", problems=["mlp-digits", "mlp-diabetes"],
        scientific={"optimizer": ["adam"]}, nuisance={"lr": [0.03]}, fixed={"batch_size": 128},
        seeds=[0, 1], epochs=3, inject={"pending": ("mlp-diabetes", {"optimizer": "adam"}, 1)})
    from zoo.report import build_report
    from zoo.report.wandb_log import run_id

    rep = build_report(store, tmp_path / "report", wandb=True)
    assert rep.wandb_runs == 3  # 4 cells, one pending (nothing finished to log)
    rows = pd.read_csv(rep.out_dir / "results.csv").set_index("cell_id")
    runs = sorted((tmp_path / "wb" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 3
    seen = set()
    for path in runs:
        recs = list(read_records(path))
        run = next(r.run for r in recs if r.WhichOneof("record_type") == "run")
        config = {u.key: json.loads(u.value_json) for u in run.config.update}
        cell_id = config["cell_id"]["value"] if isinstance(config["cell_id"], dict) else config["cell_id"]
        seen.add(cell_id)
        assert run.run_group == "wb"
        row = rows.loc[cell_id]
        history = [r.history for r in recs if r.WhichOneof("record_type") == "history"]
        epochs = [json.loads(i.value_json) for h in history for i in h.item if _key(i) == "epoch"]
        assert epochs == [1, 2, 3]
        summary = {}
        for r in recs:
            if r.WhichOneof("record_type") == "summary":
                summary.update({_key(u): json.loads(u.value_json) for u in r.summary.update})
        metric = "test_acc" if row.problem == "mlp-digits" else "test_rmse"
        assert summary[metric] == pytest.approx(row[metric], abs=1e-9)
        assert summary["status"] == "ok"
        tables = {p.name.split("_table")[0] for p in (path.parent / "files" / "media" / "table").glob("*.table.json")}
        expected = {"test_roc", "test_pr", "test_confusion"} if row.problem == "mlp-digits" else {"test_scatter"}
        assert expected <= tables, tables
    assert seen == set(rows[rows.status == "ok"].index)
    ids = {path.stem.removeprefix("run-") for path in runs}
    assert ids == {run_id("wb", c) for c in seen}  # ids derived from the cells

    # Logging the same store again writes runs with the same ids (W&B updates them on sync), no new ones.
    rep = build_report(store, tmp_path / "report", wandb=True)
    again = {p.stem.removeprefix("run-") for p in (tmp_path / "wb" / "wandb").glob("offline-run-*/run-*.wandb")}
    assert again == ids
