"""A store written by the code before zoo.record (result.json without a schema version) still reads.

tests/fixtures/store-v0 is `zoo bench smoke --quick --workers 2` as the original code wrote it
(8 cells, one per model family; only its empty .logs/.leases/.staging folders are left out).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from zoo.bench.store import Store
from zoo.report import stats as S
from zoo.report import tables as T

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store-v0"
RECOMPUTED = 1e-6
"""Test metrics recomputed from the stored predictions (float64, scikit-learn) against the
stored ones (float32, torchmetrics): measured within 8e-8 on this store."""


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "smoke-quick"))  # a copy: the fixture is never written


def _results(store: Path) -> dict[str, dict]:
    return {d.name: json.loads((d / "result.json").read_text()) for d in store.iterdir() if (d / "result.json").exists()}


def _scalar(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def test_the_fixture_is_a_pre_schema_store(store: Path):
    results = _results(store)
    assert len(results) == 8 and all("schema" not in r and r["status"] == "ok" for r in results.values())
    s = Store.open(store)
    ids = [c["cell_id"] for c in s.read_cells()]
    assert sorted(ids) == sorted(results)
    assert s.summary(ids)["ok"] == 8 and s.statuses() == {cid: "ok" for cid in results}


def test_old_store_tables_have_the_numbers_of_its_result_json_files(store: Path):
    results = _results(store)
    table = T.cell_table(Store.open(store).snapshot())
    assert table.store.name == "smoke-quick" and len(table.store.cells) == 8 and not table.mismatches
    rows = table.rows.set_index("cell_id")
    checked = 0
    for cid, res in results.items():
        rec = table.cell(cid)
        assert rec.status == "ok" and rec.result["schema"] == 0 and rec.result["kind"] == "cell"
        recomputed = rows.loc[cid, "test_source"] == "predictions"
        for split in ("val", "test"):
            for k, v in res["metrics"][split].items():
                if not _scalar(v):
                    continue
                got = rows.loc[cid, f"{split}_{k}"]
                if split == "test" and recomputed:
                    assert got == pytest.approx(v, abs=RECOMPUTED), (cid, k)
                else:
                    assert got == v, (cid, split, k)
                checked += 1
        for k, v in res["fit"].items():
            assert rows.loc[cid, f"fit_{k}"] == v, (cid, k)
        for k in ("num_parameters", "seconds", "peak_memory_mb"):
            assert rows.loc[cid, k] == res[k], (cid, k)
    assert checked > 80, checked
    assert set(table.kinds.values()) == {"multiclass", "binary", "regression", "language_model", "seq2seq", "embedding"}

    verdicts = S.verdicts(table)
    assert len(verdicts) == 8  # one per problem: the study has no scientific axis
    for v in verdicts:
        (cid,) = v.winner.cell_ids
        assert v.winner.stats.n == 1
        assert v.winner.stats.mean == pytest.approx(results[cid]["metrics"]["test"][v.metric], abs=RECOMPUTED)


def test_old_store_report_files_carry_the_same_numbers(store: Path, tmp_path: Path):
    from zoo.report import build_report

    rep = build_report(store, tmp_path / "report")
    rows = pd.read_csv(rep.out_dir / "results.csv").set_index("cell_id")
    for cid, res in _results(store).items():
        for k, v in res["metrics"]["val"].items():
            if _scalar(v):
                assert rows.loc[cid, f"val_{k}"] == pytest.approx(v, rel=1e-15, abs=0), (cid, k)
        assert rows.loc[cid, "fit_steps"] == res["fit"]["steps"]
    readme = (rep.out_dir / "README.md").read_text()
    assert "**8 cells** (8 ok)" in readme
