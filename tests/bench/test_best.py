"""The best model kept: ``keep: best | all | none`` in a study and ``zoo bench best`` (Keras Tuner's
get_best_models): each problem's best cell on validation keeps its checkpoint, the export is a zoo
checkpoint that names its study and cell and scores as the cell did, and mistakes are one line."""

from __future__ import annotations

import json

import pytest

import zoo
from zoo.bench.store import Store
from zoo.cli import main
from zoo.training import load_data

from bench_helpers import tiny_study, write_study


def _run(tmp_path, **over):
    study = tiny_study(name="keepers", problems=["mlp_tiny-digits", "mlp_tiny-breast_cancer"],
                       scientific={"optimizer": ["adam", "sgd"]}, nuisance={"lr": [0.03, 0.003]}, seeds=2,
                       budget={"max_epochs": 2}, **over)
    path = write_study(tmp_path / "keepers.yaml", study)
    assert main(["bench", str(path), "--out", str(tmp_path / "runs")]) == 0
    return path, Store(tmp_path / "runs", "keepers")


def _val_losses(store):
    out = {}
    for cell in store.read_cells():
        res = store.result(cell["cell_id"])
        out[cell["cell_id"]] = (cell["problem"], res["metrics"]["val"]["loss"])
    return out


def _best_cells(store):
    """Per problem: the configuration with the lowest mean val_loss over its seeds (the cells' monitored
    metric), and in it the seed with the lowest, computed here from the cells' own records."""
    configs = {}
    for cell in store.read_cells():
        loss = store.result(cell["cell_id"])["metrics"]["val"]["loss"]
        configs.setdefault((cell["problem"], json.dumps(cell["params"], sort_keys=True)), []).append((loss, cell["cell_id"]))
    best = {}
    for (problem, _), runs in configs.items():
        mean = sum(v for v, _ in runs) / len(runs)
        if problem not in best or mean < best[problem][0]:
            best[problem] = (mean, min(runs)[1])
    return {p: c for p, (_, c) in best.items()}


def test_keep_best_leaves_each_problems_best_cell_and_zoo_bench_best_exports_it(tmp_path, capsys):
    path, store = _run(tmp_path, keep="best")
    losses = _val_losses(store)
    want = _best_cells(store)
    kept = {c for c in losses if (store.cell_dir(c) / "checkpoint").is_dir()}
    assert kept == set(want.values())  # one per problem: the best seed of its best configuration
    capsys.readouterr()
    dest = tmp_path / "best-digits"
    assert main(["bench", "best", str(path), "--out", str(tmp_path / "runs"), "--problem", "mlp_tiny-digits",
                 "--to", str(dest)]) == 0
    text = capsys.readouterr().out
    assert f"1. {want['mlp_tiny-digits']}  val_loss" in text and "-> " in text
    task = zoo.load_checkpoint(dest)
    origin = task.card["origin"]
    assert origin["study"] == "keepers" and origin["cell_id"] == want["mlp_tiny-digits"] and origin["metric"] == "val_loss"
    assert origin["config_seeds"] == 2 and origin["config_value"] >= origin["value"]  # 2 seeds; the better one taken out
    cell = store.result(want["mlp_tiny-digits"])
    card = json.loads((dest / "card.json").read_text())
    assert card["config"]["data"]["name"] == "digits" and card["metrics"]["val"]["loss"] == cell["metrics"]["val"]["loss"]
    dm = load_data("digits", batch_size=32, seed=card["seed"], data_options=card["data_options"])
    metrics, _ = task.evaluate(dm.val_dataloader())
    assert metrics["loss"] == pytest.approx(cell["metrics"]["val"]["loss"], abs=1e-6)
    # Nothing is overwritten: a second export into the same folder is refused.
    assert main(["bench", "best", str(path), "--out", str(tmp_path / "runs"), "--problem", "mlp_tiny-digits",
                 "--to", str(dest)]) == 2
    assert "already holds a checkpoint" in capsys.readouterr().err


def test_keep_all_keeps_every_checkpoint_and_keep_is_not_part_of_the_identity(tmp_path):
    _, store = _run(tmp_path, keep="all")
    assert all((store.cell_dir(c) / "checkpoint").is_dir() for c in _val_losses(store))
    plain = tiny_study(name="keepers")
    assert "keep" not in json.loads(store.read_study()["identity"]) and "keep" not in plain


@pytest.mark.parametrize("argv, message", [
    (["--problem", "mlp_tiny-wine"], "study 'keepers' has no problem 'mlp_tiny-wine'; its problems: mlp_tiny-breast_cancer, mlp_tiny-digits."),
    (["--metric", "test_acc"], "cells are ranked on a validation metric (val_...), got 'test_acc'."),
    (["--top", "0"], "--top must be an integer from 1 to 100, got 0."),
])
def test_bad_best_requests_are_one_line(tmp_path, capsys, argv, message):
    path, _ = _run(tmp_path)  # keep: none
    capsys.readouterr()
    assert main(["bench", "best", str(path), "--out", str(tmp_path / "runs"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_no_kept_checkpoint_and_a_bad_keep_value(tmp_path, capsys):
    path, _ = _run(tmp_path)
    capsys.readouterr()
    assert main(["bench", "best", str(path), "--out", str(tmp_path / "runs"), "--to", str(tmp_path / "x")]) == 2
    assert "kept no checkpoint: run the study with keep: best" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    bad = write_study(tmp_path / "bad.yaml", tiny_study(name="bad", keep="some"))
    assert main(["bench", str(bad), "--out", str(tmp_path / "runs")]) == 2
    assert "keep: must be one of none, best, all, got 'some'" in capsys.readouterr().err


def test_a_configuration_is_ranked_by_its_mean_over_seeds_not_by_its_luckiest_seed(tmp_path):
    """Configuration A: seeds at 0.10 and 0.90 (mean 0.50); B: 0.20 and 0.30 (mean 0.25). Ranking
    single cells would take A's lucky seed; B wins on the mean, and its better seed is taken out."""
    from types import SimpleNamespace

    from zoo.bench.best import rank

    def rec(cid, lr, seed, loss):
        return SimpleNamespace(status="ok", cell_id=cid, problem="p", path=tmp_path / cid,
                               cell={"params": {"lr": lr}, "seed": seed},
                               result={"metrics": {"val": {"loss": loss}}, "fit": {"monitor": "val_loss"}})

    cells = [rec("a0", 0.1, 0, 0.10), rec("a1", 0.1, 1, 0.90), rec("b0", 0.01, 0, 0.30), rec("b1", 0.01, 1, 0.20)]
    store = SimpleNamespace(records=lambda: cells, read_study=lambda: {})
    rows = rank(store)
    assert [r["cell_id"] for r in rows] == ["b1", "b0", "a0", "a1"]
    assert rows[0]["config_value"] == pytest.approx(0.25) and rows[0]["config_seeds"] == 2
    trials = [rec("t0", 0.1, 0, 0.4), rec("t1", 0.1, 0, 0.3)]  # one setting asked twice by a search: two trials
    for r, t in zip(trials, (0, 1)):
        r.cell["trial"] = t
    store = SimpleNamespace(records=lambda: trials, read_study=lambda: {})
    assert [(r["cell_id"], r["config_seeds"]) for r in rank(store)] == [("t1", 1), ("t0", 1)]


def test_a_multi_objective_search_ranks_on_its_first_validation_objective():
    from zoo.bench.best import objective

    assert objective({"search": {"objective": None, "objectives": [["throughput", "max"], ["val_acc", "max"]]}}) == "val_acc"
    assert objective({"search": {"objective": None, "objectives": [["throughput", "max"], ["seconds", "min"]]}}) is None
