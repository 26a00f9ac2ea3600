"""The shipped recipes: each one a `zoo train --config` YAML file that resolves through the real
configuration path, and the char_gru ones run (a few steps on the real Tiny Shakespeare)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoo import factory
from zoo.cli import main
from zoo.commands import read_config_file

RECIPES = Path(__file__).resolve().parents[1] / "benchmarks" / "recipes"
ALL = sorted(RECIPES.glob("*"))


def test_every_recipe_is_a_yaml_configuration():
    assert ALL and all(p.suffix == ".yaml" for p in ALL), [p.name for p in ALL if p.suffix != ".yaml"]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_recipe_resolves_through_the_config_path(path):
    file = read_config_file(str(path))
    cfg = factory.resolve(file.model, file=file)
    model, data = path.stem.split("-")[:2]
    assert cfg.model.startswith(model) and cfg.data.data == data
    assert cfg.run.seed == 0 and cfg.loop.max_epochs > 1
    text = path.read_text()
    assert text.startswith("# ") and "zoo train --config benchmarks/recipes/" in text  # evidence and how to run it
    # every setting the file names reaches the resolved configuration
    resolved = cfg.to_dict()
    flat = {k: v for part in resolved.values() for k, v in part.items()}
    for key, value in file.settings.items():
        want = list(value) if isinstance(value, (list, tuple)) else value
        got = {"data": resolved["data"]["name"], "data_options": resolved["data"]["options"]}.get(key, flat.get(key))
        if key == "data_options":
            assert value.items() <= got.items()
        else:
            assert got == want, key


@pytest.mark.parametrize("name", ["char_gru-shakespeare", "char_gru-shakespeare-stateful"])
def test_char_gru_recipes_run(shared_data, tmp_path, capsys, name):
    out = tmp_path / "run"
    code = main(["train", "--config", str(RECIPES / f"{name}.yaml"), "--max_steps", "2", "--max_epochs", "1",
                 "--data-option", "val_chars=3000", "--data-option", "test_chars=3000",
                 "--logger", "none", "--progress", "false", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    result = json.loads((out / "result.json").read_text())
    assert result["config"]["model"]["name"] == "char_gru" and result["config"]["data"]["name"] == "shakespeare"
    assert result["config"]["loop"]["max_steps"] == 2 and result["config"]["loop"]["clip_norm"] == 1.0  # flag over file
    assert result["config"]["task"]["stateful"] is name.endswith("stateful")
    assert result["fit"]["steps"] == 2
