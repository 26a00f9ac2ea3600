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


def test_keep_best_leaves_each_problems_best_cell_and_zoo_bench_best_exports_it(tmp_path, capsys):
    path, store = _run(tmp_path, keep="best")
    losses = _val_losses(store)
    want = {p: min((v, c) for c, (q, v) in losses.items() if q == p)[1] for p in {q for q, _ in losses.values()}}
    kept = {c for c in losses if (store.cell_dir(c) / "checkpoint").is_dir()}
    assert kept == set(want.values())  # one per problem: its lowest val_loss (the cells' monitored metric)
    capsys.readouterr()
    dest = tmp_path / "best-digits"
    assert main(["bench", "best", str(path), "--out", str(tmp_path / "runs"), "--problem", "mlp_tiny-digits",
                 "--to", str(dest)]) == 0
    text = capsys.readouterr().out
    assert f"1. {want['mlp_tiny-digits']}  val_loss" in text and "-> " in text
    task = zoo.load_checkpoint(dest)
    origin = task.card["origin"]
    assert origin["study"] == "keepers" and origin["cell_id"] == want["mlp_tiny-digits"] and origin["metric"] == "val_loss"
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


def test_a_multi_objective_search_ranks_on_its_first_validation_objective():
    from zoo.bench.best import objective

    assert objective({"search": {"objective": None, "objectives": [["throughput", "max"], ["val_acc", "max"]]}}) == "val_acc"
    assert objective({"search": {"objective": None, "objectives": [["throughput", "max"], ["seconds", "min"]]}}) is None
