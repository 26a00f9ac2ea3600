"""Dataset registry: names, options, errors."""

from __future__ import annotations

import pytest

from zoo.data import get_card, get_dataset, list_datasets, load, register_dataset
from zoo.data.registry import COMMON_OPTIONS
from zoo.errors import UnknownNameError

LOADERS = ["breast_cancer", "california_housing", "diabetes", "digits", "fashion_mnist", "mnist", "wine"]


def test_list_datasets() -> None:
    names = list_datasets()
    assert set(LOADERS) <= set(names) and names == sorted(names)
    assert list_datasets("*mnist") == ["fashion_mnist", "mnist"]


def test_every_dataset_that_reads_files_has_its_card() -> None:
    for name in list_datasets():
        entry = get_dataset(name)
        if not entry.embedded:
            assert get_card(entry.card).kind == entry.kind, name


@pytest.mark.parametrize("name", LOADERS)
def test_entry_matches_its_card(name: str) -> None:
    entry = get_dataset(name)
    card = get_card(entry.card)
    assert entry.kind == card.kind
    assert entry.embedded == card.embedded
    assert set(COMMON_OPTIONS) <= set(entry.options)
    assert entry.options["batch_size"].default == 32
    assert entry.options["eval_batch_size"].default in (256, 1024)  # 256 for images (cache-sized conv activations)
    assert entry.options["seed"].default == 0
    assert entry.summary  # the first docstring line is shown by `zoo list`


def test_unknown_dataset_suggests_close_match() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown dataset 'mnits'\. Did you mean 'mnist'") as info:
        load("mnits")
    assert "fashion_mnist" in info.value.allowed


def test_unknown_option_lists_allowed_ones() -> None:
    with pytest.raises(UnknownNameError, match="unknown option for dataset 'digits' 'batchsize'") as info:
        load("digits", batchsize=8)
    message = str(info.value)
    assert "Did you mean 'batch_size'" in message
    assert "Allowed: batch_size, eval_batch_size, limit, seed, split_seed." in message


def test_duplicate_registration_raises() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_dataset("mnist", kind="multiclass")(lambda *, batch_size=32, eval_batch_size=1024, seed=0: None)


def test_loader_must_take_common_options() -> None:
    with pytest.raises(TypeError, match="'seed'"):
        register_dataset("no_seed_toy", kind="regression")(lambda *, batch_size=32, eval_batch_size=1024: None)
    assert "no_seed_toy" not in list_datasets()


def test_unknown_task_kind_is_refused() -> None:
    with pytest.raises(UnknownNameError, match="unknown task kind 'clasification'"):
        register_dataset("bad_kind_toy", kind="clasification")
