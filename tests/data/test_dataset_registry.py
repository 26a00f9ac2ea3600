"""Dataset registry: names, options, errors."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.data import get_card, get_dataset, list_datasets, load, register_dataset, register_loader, registry
from zoo.data.registry import COMMON_OPTIONS
from zoo.errors import UnknownNameError

REPO = Path(__file__).resolve().parents[2]
LOADERS = ["breast_cancer", "california_housing", "diabetes", "digits", "fashion_mnist", "mnist", "wine"]


def test_list_datasets() -> None:
    names = list_datasets()
    assert set(LOADERS) <= set(names) and names == sorted(names)
    assert list_datasets("*mnist") == ["fashion_mnist", "mnist"]


def test_every_dataset_that_reads_files_has_its_card() -> None:
    for name in list_datasets():
        entry = get_dataset(name)
        if not entry.embedded:
            assert get_card(entry.card).serves(entry.kind), name


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
    assert "Allowed: batch_size, classes, eval_batch_size, labelled, limit, seed, split_seed." in message


@dataclasses.dataclass(frozen=True)
class ToyOptions:
    batch_size: int = 32
    eval_batch_size: int = 1024
    seed: int = 0
    scale: float = 1.0


def test_duplicate_registration_raises() -> None:
    with pytest.raises(ValueError, match="already declared"):
        register_dataset("mnist", kind="multiclass", options=ToyOptions)(lambda o: None)
    with pytest.raises(ValueError, match="already has a loader"):
        register_loader("mnist")(lambda o: None)


def test_options_must_have_the_common_options() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSeed:
        batch_size: int = 32
        eval_batch_size: int = 1024

    with pytest.raises(TypeError, match="'seed'"):
        register_dataset("no_seed_toy", kind="regression", options=NoSeed)(lambda o: None)
    assert "no_seed_toy" not in list_datasets()


def test_a_loader_binds_only_to_a_declared_dataset() -> None:
    with pytest.raises(UnknownNameError, match="unknown dataset 'undeclared_toy'"):
        register_loader("undeclared_toy")(lambda o: None)


def test_unknown_task_kind_is_refused() -> None:
    with pytest.raises(UnknownNameError, match="unknown task kind 'clasification'"):
        register_dataset("bad_kind_toy", kind="clasification", options=ToyOptions)


def test_a_registered_dataset_gets_its_options_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # the toy leaves with the test
    monkeypatch.setattr(registry, "_LOADERS", dict(registry._LOADERS))
    seen = []

    @register_dataset("toy_plugin", kind="regression", options=ToyOptions, embedded=True)
    def toy(o: ToyOptions) -> str:
        """A toy dataset for the registry test."""
        seen.append(o)
        return "module"

    entry = get_dataset("toy_plugin")
    assert entry.summary == "A toy dataset for the registry test." and entry.option_types["scale"] is float
    assert load("toy_plugin", scale=2.0, seed=3) == "module"
    assert seen == [ToyOptions(scale=2.0, seed=3)]


def test_declared_options_match_the_types_a_configuration_checks() -> None:
    from zoo.factory import dataset_kind_and_options

    kind, types = dataset_kind_and_options("mnist")
    assert kind == "multiclass"
    assert types == {"eval_batch_size": int, "flatten": bool, "limit": int | None, "split_seed": int | None, "val_size": int | None,
                     "classes": tuple[str, ...], "labelled": int | None, "augment": str}
    assert get_dataset("shakespeare_sample").options["train_chars"].default == 32_000
    assert get_dataset("shakespeare").options["train_chars"].default == 1_000_000
    assert get_dataset("spa_eng").options["val_size"].default == 9_482


def test_the_registry_and_cards_import_neither_torch_nor_lightning() -> None:
    """Checking a study reads declarations only; the loaders come with the first load()."""
    code = (
        "import sys, zoo, zoo.data as d\n"
        "assert zoo.list_datasets() == d.list_datasets()\n"
        "for n in d.list_datasets():\n"
        "    e = d.get_dataset(n); e.options; e.option_types; e.summary\n"
        "d.list_cards(); import zoo.data.sampling, zoo.data.vocab\n"
        "heavy = lambda: sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'lightning', 'sklearn', 'pandas', 'numpy'})\n"
        "print(heavy()); d.load('wine'); print(heavy())"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert p.returncode == 0, p.stderr
    before, after = p.stdout.splitlines()
    assert before == "[]"
    assert "torch" in after and "lightning" in after and "sklearn" in after  # load() brings the loaders
