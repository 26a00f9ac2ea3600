"""A study measured against its baselines (zoo/report/baselines.py): the best configuration of each
store chosen on validation and its test metric recomputed here from result.json with pandas and
scipy, CPU-seconds summed over every finished cell, a pruned trial never chosen, a missing store named."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from tests.report.storegen import make_store
from zoo import record as R
from zoo.report import stats as S
from zoo.report import tables as T
from zoo.report.build import build_report

GRID_CPU, SEARCH_CPU = 2.5, 1.25


def _set_cpu(store: Path, cpu: float) -> None:
    for d in store.iterdir():
        res = R.read_result(d) if d.is_dir() and not d.name.startswith(".") else None
        if res is not None:
            R.write_result(d, {**res, "cpu_seconds": cpu})


def _results(store: Path) -> pd.DataFrame:
    rows = []
    for d in sorted(store.iterdir()):
        if (d / "result.json").is_file():
            cell, res = json.loads((d / "cell.json").read_text()), json.loads((d / "result.json").read_text())
            rows.append({"lr": cell["params"]["lr"], "seed": cell["seed"], "status": res["status"],
                         "val": (res["metrics"].get("val") or {}).get("acc"), "test": (res["metrics"].get("test") or {}).get("acc"),
                         "cpu": res.get("cpu_seconds")})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    grid = make_store(root, "grid", problems=["mlp-digits"], scientific={}, nuisance={"lr": [0.003, 0.3]},
                      fixed={"optimizer": "adam"}, seeds=[0, 1, 2], epochs=6)
    search = make_store(root, "tuned", problems=["mlp-digits"], scientific={}, nuisance={"lr": [0.01, 0.03, 0.1]},
                        fixed={"optimizer": "adam"}, seeds=[0, 1, 2], epochs=6,
                        study_extra={"baselines": ["grid", "absent"]})
    _set_cpu(grid, GRID_CPU)
    _set_cpu(search, SEARCH_CPU)
    return root


def _best(df: pd.DataFrame) -> tuple[float, pd.DataFrame]:
    ok = df[df.status == "ok"]
    means = ok.groupby("lr").val.mean()
    lr = means.idxmax()
    return lr, ok[ok.lr == lr].sort_values("seed")


def test_the_section_compares_the_best_configurations_and_their_cpu_seconds(stores, tmp_path):
    build_report(stores / "tuned", tmp_path / "out")
    text = (tmp_path / "out" / "README.md").read_text()
    section = text[text.index('<a id="baselines"></a>'):]
    section = section[:section.index("<a id=", 10)]
    mine, theirs = _results(stores / "tuned"), _results(stores / "grid")
    lr_m, best_m = _best(mine)
    lr_t, best_t = _best(theirs)
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| mlp-digits")]
    assert len(rows) == 2
    assert rows[0][2] == f"lr={T.show(lr_m)}" and rows[1][2] == f"lr={T.show(lr_t)}"
    assert rows[0][3] == f"val_acc {best_m.val.mean():.4f}" and rows[1][3] == f"val_acc {best_t.val.mean():.4f}"
    assert rows[0][4].startswith(f"{best_m.test.mean():.4f} ± ")
    assert rows[0][5:7] == ["3", "9"] and rows[1][5:7] == ["2", "6"]
    assert rows[0][7].rstrip(" |") == f"{SEARCH_CPU * 9:.0f}" and rows[1][7].rstrip(" |") == f"{GRID_CPU * 6:.0f}"
    p = stats.ttest_rel(best_m.test.to_numpy(), best_t.test.to_numpy()).pvalue
    diff = (best_m.test.to_numpy() - best_t.test.to_numpy()).mean()
    good = best_m.val.mean() >= best_t.val.mean()
    sentence = next(line for line in section.splitlines() if line.startswith("- **mlp-digits**"))
    assert ("at least as good as" if good else "worse than") in sentence
    assert f"p = {min(1.0, p):.3f} (n=3)" in sentence or (p < 0.001 and "p < 0.001" in sentence)
    assert f"{abs(diff):.4f}" in sentence
    ratio = SEARCH_CPU * 9 / (GRID_CPU * 6)
    assert f"{ratio:.2f}×" in sentence and ("fewer" if ratio < 1 else "more") in sentence
    assert "Baseline `absent`: no store at" in section and "`zoo bench absent`" in section
    assert "[Against the baselines](#baselines)" in text


def test_a_trial_pruned_on_any_seed_is_never_the_best(stores, tmp_path):
    root = tmp_path / "runs"
    import shutil

    shutil.copytree(stores / "tuned", root / "tuned")
    df = _results(root / "tuned")
    lr_best, _ = _best(df)
    # the best configuration loses a seed to the pruner: it is a pruned trial, so another one is chosen
    for d in (root / "tuned").iterdir():
        if (d / "cell.json").is_file():
            cell = json.loads((d / "cell.json").read_text())
            if cell["params"]["lr"] == lr_best and cell["seed"] == 2:
                R.write_result(d, {**R.read_result(d), "status": R.PRUNED})
    table = T.cell_table(T.load(root / "tuned"))
    entry = S.best_over_nuisance(table, "mlp-digits", None, "acc", "max")[0]
    others = df[(df.status == "ok") & (df.lr != lr_best)].groupby("lr").val.mean()
    assert entry.config["lr"] == others.idxmax() != lr_best
    assert entry.n_configs == 3
