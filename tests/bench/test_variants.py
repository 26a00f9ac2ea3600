"""Named variants: a scientific axis whose values are bundles of settings (zoo/bench/study.py)."""

from __future__ import annotations

import csv

import pytest
from bench_helpers import tiny_study, write_study

from zoo.bench.parse import parse_study
from zoo.bench.study import StudyError
from zoo.bench.sweep import run_study
from zoo.cli import main

VARIANTS = {"plain": {}, "regularized": {"dropout": 0.2, "weight_decay": 1.0e-3}}


def _study(**over):
    return tiny_study(problems=["mlp_tiny-digits"], scientific={"recipe": VARIANTS}, **over)


def test_variants_expand_into_params_and_show_their_names():
    study = parse_study(_study(), "t.yaml")
    cells = study.cells()
    assert len(cells) == 2 * 2  # variants x lrs
    by_name = {}
    for c in cells:
        assert set(c.scientific) == {"recipe"} and "recipe" not in c.params  # a label, never a setting
        by_name.setdefault(c.scientific["recipe"], []).append(c)
    assert set(by_name) == {"plain", "regularized"}
    for c in by_name["regularized"]:
        assert c.params["dropout"] == 0.2 and c.params["weight_decay"] == 1.0e-3
    for c in by_name["plain"]:
        assert "dropout" not in c.params and "weight_decay" not in c.params
    assert study.to_json()["axes"]["recipe"] == {"role": "scientific", "values": ["plain", "regularized"],
                                                 "variants": {"plain": {}, "regularized": VARIANTS["regularized"]}}


def test_editing_a_variant_changes_its_cells_and_the_study_identity():
    a = parse_study(_study(), "t.yaml")
    edited = {"plain": {}, "regularized": {"dropout": 0.3, "weight_decay": 1.0e-3}}
    b = parse_study(tiny_study(problems=["mlp_tiny-digits"], scientific={"recipe": edited}), "t.yaml")
    ids = lambda s, name: {c.cell_id for c in s.cells() if c.scientific["recipe"] == name}  # noqa: E731
    assert ids(a, "plain") == ids(b, "plain") and ids(a, "regularized").isdisjoint(ids(b, "regularized"))
    assert a.identity() != b.identity()


def test_exclude_names_a_variant():
    study = parse_study(_study(exclude=[{"recipe": "regularized", "lr": 0.001}]), "t.yaml")
    points = {(c.scientific["recipe"], c.nuisance["lr"]) for c in study.cells()}
    assert points == {("plain", 0.01), ("plain", 0.001), ("regularized", 0.01)}


@pytest.mark.parametrize("scientific, fixed, needle", [
    ({"recipe": {"only": {"dropout": 0.1}}}, None, "at least two"),
    ({"recipe": {"a": {"dropout": 0.1}, "b": {"dropout": 0.1}}}, None, "same settings as 'a'"),
    ({"recipe": {"a": {}, "b": {"dropuot": 0.1}}}, None, "dropuot"),
    ({"recipe": {"a": {}, "b": {"dropout": 2.0}}}, None, "dropout"),
    ({"recipe": {"a": {}, "b": {"batch_size": 64}}}, {"batch_size": 32}, "already a fixed setting"),
    ({"recipe": {"a": {}, "b c": {"dropout": 0.1}}}, None, "variant's name"),
    ({"seed": {"a": {}, "b": {"dropout": 0.1}}}, None, "cannot be set here"),
])
def test_bad_variants_are_one_line_naming_the_place(scientific, fixed, needle):
    raw = tiny_study(problems=["mlp_tiny-digits"], scientific=scientific)
    if fixed is not None:
        raw["fixed"] = fixed
    with pytest.raises(StudyError) as e:
        parse_study(raw, "t.yaml")
    assert needle in str(e.value) and "scientific." in str(e.value) and "\n" not in str(e.value)


def test_a_variant_study_runs_and_its_report_compares_the_names(tmp_path):
    path = write_study(tmp_path / "v.yaml", _study(seeds=2))
    study = parse_study(_study(seeds=2), str(path))
    summary = run_study(study, out=tmp_path / "runs", quiet=True, threads=1)
    assert summary.ran == 8 and summary.counts["ok"] + summary.counts["diverged"] == 8
    assert main(["report", str(tmp_path / "runs" / "tiny"), "--out", str(tmp_path / "report")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "report" / "verdict.csv")))
    assert {r["value"] for r in rows if r["axis"] == "recipe"} == {"plain", "regularized"}
    results = list(csv.DictReader(open(tmp_path / "report" / "results.csv")))
    assert {r["recipe"] for r in results} == {"plain", "regularized"}
