"""Loader options for transfer tasks: ``classes=`` (a subset, relabelled, names kept) and ``labelled=N``
(N training examples, stratified, seeded), checked against the full split computed independently."""

from __future__ import annotations

import collections

import pytest
import torch

import zoo
from zoo.cli import main
from zoo.data import load


def test_classes_keep_exactly_those_examples_relabelled_in_the_given_order():
    full, sub = load("digits"), load("digits", classes=("8", "3"))
    assert sub.info.num_classes == 2 and sub.info.class_names == ["8", "3"]
    for split in ("train", "val", "test"):
        x, y = full.inputs(split), full.targets(split)
        keep = (y == 8) | (y == 3)
        assert torch.equal(sub.inputs(split), x[keep])
        assert torch.equal(sub.targets(split), torch.where(y[keep] == 8, 0, 1))


def test_class_names_match_case_insensitively_and_are_kept(shared_data):
    dm = load("fashion_mnist", classes=("sandal", "shirt"), limit=3000)
    assert dm.info.class_names == ["Sandal", "Shirt"] and dm.info.num_classes == 2
    assert set(dm.targets("test").tolist()) == {0, 1} and len(dm.targets("test")) == 2000  # 1,000 test images a class


def test_labelled_is_stratified_seeded_and_leaves_val_and_test_alone():
    full = load("digits")
    a, b, c = (load("digits", labelled=50, seed=s) for s in (0, 0, 1))
    assert collections.Counter(a.targets("train").tolist()) == {k: 5 for k in range(10)}  # digits is balanced
    assert torch.equal(a.inputs("train"), b.inputs("train"))  # same seed, same examples
    assert not torch.equal(a.inputs("train"), c.inputs("train"))  # another seed, others
    rows = {tuple(r.tolist()) for r in full.inputs("train")}
    assert all(tuple(r.tolist()) in rows for r in a.inputs("train"))  # drawn from the training split only
    for split in ("val", "test"):
        assert torch.equal(a.inputs(split), full.inputs(split))


def test_a_two_class_subset_from_few_labels_learns():
    res = zoo.train("mlp", "digits", data_options={"classes": ("3", "8"), "labelled": 40}, max_epochs=30,
                    lr=3e-3, progress=False, logger="none")
    assert res.task.data_info.class_names == ["3", "8"]
    assert res.metrics["test"]["acc"] > 0.85  # chance is 0.5


@pytest.mark.parametrize("option, message", [
    ("classes=3,x", "classes names 'x', which is not a class of digits; its classes: 0, 1, 2"),
    ("classes=3,3", "classes must name at least 2 different classes"),
    ("classes=3", "classes must name at least 2 different classes"),
    ("labelled=100000", "labelled must be an integer from 10 (one per class) to 1079"),
    ("labelled=5", "labelled must be an integer from 10 (one per class)"),
])
def test_bad_options_are_one_line_and_write_nothing(tmp_path, capsys, option, message):
    out = tmp_path / "run"
    assert main(["train", "mlp", "--data", "digits", "--data-option", option, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()


@pytest.mark.parametrize("data", ["diabetes", "breast_cancer"])
def test_subsets_are_for_multiclass_data(data):
    with pytest.raises(zoo.errors.ConfigError, match="apply to multiclass datasets"):
        load(data, classes=("0", "1"))
