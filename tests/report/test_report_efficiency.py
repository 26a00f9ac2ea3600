"""The cost section's compute-efficiency table (zoo/report/efficiency.py) from the records' cost keys."""

from __future__ import annotations

import pandas as pd
from scipy import stats

from zoo.report import document as D
from zoo.report.efficiency import efficiency_blocks


def _rows(**over):
    base = {"problem": "p", "model": "mlp", "batch_size": 32, "device": "cpu", "precision": "32-true", "status": "ok"}
    return {**base, **over}


def test_the_table_groups_cells_and_averages_their_cost():
    df = pd.DataFrame([
        _rows(flops_per_sample=20224.0, achieved_flops=2e8, peak_fraction=0.002, cpu_seconds=1.0, peak_memory_mb=500.0),
        _rows(flops_per_sample=20224.0, achieved_flops=4e8, peak_fraction=0.004, cpu_seconds=3.0, peak_memory_mb=520.0),
        _rows(batch_size=64, flops_per_sample=20224.0, achieved_flops=1e9, peak_fraction=0.01, cpu_seconds=2.0,
              peak_memory_mb=None),
        _rows(status="error", flops_per_sample=1.0),  # not finished: not counted
    ])
    blocks = efficiency_blocks(df, ["p"])
    table = next(b for b in blocks if isinstance(b, D.Table))
    assert [r[2] for r in table.rows] == ["32", "64"]
    first, second = table.rows
    half = stats.t.ppf(0.975, 1) * stats.sem([0.2, 0.4])  # percent
    assert first[4] == "20.2 k" and first[5] == "300 MFLOP/s" and first[9] == "2"
    assert first[6] == f"{0.3:.4f} ± {half:.4f} %"
    half_cpu = stats.t.ppf(0.975, 1) * stats.sem([1.0, 3.0])
    assert first[7] == f"{2.0:.4f} ± {half_cpu:.4f}"
    assert second[6] == "1.0000 %" and second[8] == "—" and second[9] == "1"


def test_records_without_cost_keys_give_no_table():
    assert efficiency_blocks(pd.DataFrame([_rows()]), ["p"]) == []
    assert efficiency_blocks(pd.DataFrame([_rows(flops_per_sample=None, cpu_seconds=None)]), ["p"]) == []
