import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest

import zoo
from zoo import registry
from zoo.errors import ConfigError, UnknownNameError
from zoo.models.mlp import MLPConfig


def test_list_models_and_pattern():
    names = zoo.list_models()
    assert {"mlp", "mlp_tiny"} <= set(names)
    assert names == sorted(names)
    assert zoo.list_models("mlp*") == [n for n in names if n.startswith("mlp")]
    assert zoo.list_models("no_such_*") == []


def test_duplicate_registration_raises():
    with pytest.raises(ValueError, match="already registered"):

        @registry.register_model(config=MLPConfig, tasks=("multiclass",))
        def mlp(**kwargs):  # noqa: F811 - the point of the test
            raise AssertionError


def test_unknown_model_lists_close_matches():
    with pytest.raises(UnknownNameError) as e:
        zoo.create("mpl")
    msg = str(e.value)
    assert "unknown model 'mpl'" in msg and "Did you mean 'mlp'" in msg and "mlp_tiny" in msg


def test_create_returns_lightning_module_with_model_apart():
    task = zoo.create("mlp_tiny", in_features=64, num_classes=10, lr=0.01, l2=1e-4)
    assert isinstance(task, L.LightningModule)
    assert not isinstance(task.model, L.LightningModule)
    assert task.optim.lr == 0.01 and task.l2 == 1e-4
    assert task.zoo_spec["kwargs"] == {"in_features": 64, "num_classes": 10, "l2": 1e-4, "lr": 0.01}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hiden": (8,)}, "did you mean 'hidden'"),
        ({"activation": "relux"}, "unknown activation 'relux'"),
        ({"optimizer": "adamm"}, "unknown optimizer 'adamm'"),
        ({"hidden": (8, -1)}, "each hidden size must be an integer > 0, got -1"),
        ({"num_classes": 0}, "num_classes must be an integer > 0"),
        ({"dropout": 1.0}, "dropout must be in [0, 1)"),
        ({"lr": -1.0}, "lr must be a number > 0"),
    ],
)
def test_bad_values_name_the_value_and_the_allowed(kwargs, message):
    with pytest.raises((UnknownNameError, ConfigError)) as e:
        zoo.create("mlp", **kwargs)
    assert message.lower() in str(e.value).lower()


def test_unknown_task_kind_for_model():
    with pytest.raises(UnknownNameError, match="unknown task"):
        zoo.create("mlp", task="seq2seq")


def test_the_index_of_zoo_list_is_the_live_registry():
    """zoo/index.json (what `zoo list` reads without torch) equals the registries; `python -m zoo.index` rewrites it."""
    from zoo import index

    assert index.read() == index.build(), "zoo/index.json is stale: run `python -m zoo.index`"
    models = {m["name"]: m for m in index.read()["models"]}
    assert models.keys() == set(zoo.list_models())
    assert models["char_gru"]["tasks"] == ["language_model"] and models["mlp"]["summary"] == registry.get("mlp").summary
    assert index.render(index.read()) == (Path(index.__file__).with_name(index.INDEX_FILE)).read_text(encoding="utf-8")


def test_registry_lookups_need_the_families_imported():
    """zoo.registry imports no family: a process that never imported zoo.models is told so, not shown an empty zoo."""
    code = "from zoo import registry\ntry:\n    registry.get('mlp')\nexcept RuntimeError as e:\n    print(e)\n"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "import zoo.models" in p.stdout, p.stderr
    code = "import sys, zoo\nassert 'torch' not in sys.modules\nprint(len(zoo.list_models()))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and int(p.stdout) == len(zoo.list_models()), p.stderr
