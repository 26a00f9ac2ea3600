"""Small CNN family: shapes, parameter counts, knobs, digits as images, training, checkpoints, CLI.

Training tests use ``small_cnn_tiny`` for a few seconds on scikit-learn's
digits as 1x8x8 images (embedded) and on 1,000 Fashion-MNIST images; they
assert the loss falls and the model beats the majority class (computed here
from the training labels), and that a saved model reproduces its outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import zoo
from zoo.checkpoint import load_checkpoint
from zoo.cli import main
from zoo.data import load
from zoo.errors import ConfigError, UnknownNameError, ZooError
from zoo.layers import ACTIVATIONS, NORMS
from zoo.models.cnn import SmallCNN, SmallCNNConfig

FAST = dict(progress=False, logger="none")
RECIPES = Path(__file__).resolve().parents[2] / "benchmarks" / "recipes"


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def majority_accuracy(train_y: torch.Tensor, test_y: torch.Tensor) -> float:
    """Accuracy of always predicting the most frequent training class (the trivial baseline)."""
    return (test_y == torch.bincount(train_y).argmax()).float().mean().item()


# ----------------------------------------------------------------------------- model


def test_registry_entries():
    from zoo import registry

    assert {"small_cnn", "small_cnn_tiny"} <= set(zoo.list_models("small_cnn*"))
    e = registry.get("small_cnn_tiny")
    assert e.tasks[0] == "multiclass" and e.default_data == "digits_images" and "tiny" in e.tags


def test_parameter_counts_as_documented():
    # The module docstring's worked example: widths (32, 64, 64), batch norm, no conv biases.
    model = SmallCNN(SmallCNNConfig())
    convs = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Conv2d))
    assert convs == 9 * (1 * 32 + 32 * 64 + 64 * 64) == 55_584
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Conv2d))
    bn = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert sum(p.numel() for m in bn for p in m.parameters()) == 320
    assert n_params(model.head) == 650 and n_params(model) == 56_554
    # The Fashion-MNIST recipe: (16, 32, 64), two convs per block.
    recipe_model = SmallCNN(SmallCNNConfig(widths=(16, 32, 64), convs_per_block=2))
    assert n_params(recipe_model) == 9 * (16 + 16 * 16 + 16 * 32 + 32 * 32 + 32 * 64 + 64 * 64) + 2 * 2 * (16 + 32 + 64) + 650
    # Without a norm each conv keeps its bias; a hidden dense layer adds 64*h + h.
    plain = SmallCNN(SmallCNNConfig(widths=(8,), norm="none", head_hidden=5))
    assert n_params(plain) == (9 * 8 + 8) + (8 * 5 + 5) + (5 * 10 + 10)
    tiny = zoo.create("small_cnn_tiny").model
    assert n_params(tiny) == 9 * (8 + 8 * 16) + 2 * (8 + 16) + (16 * 10 + 10) == 1_442


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (3, 5, 7), (1, 1, 1)])
def test_any_image_size_gives_one_logit_row_per_image(shape):
    model = SmallCNN(SmallCNNConfig(in_channels=shape[0], widths=(4, 8, 8, 8))).eval()
    assert model(torch.rand(2, *shape)).shape == (2, 10)


def test_channels_last_layout_does_not_change_outputs():
    torch.manual_seed(0)
    model = SmallCNN(SmallCNNConfig(widths=(4, 8))).eval()
    x = torch.rand(3, 1, 12, 12)
    reference = model.head(model.neck(model.body(model.scaler(x).contiguous())))
    assert torch.allclose(model(x), reference, atol=1e-5)


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_every_activation_builds_and_runs(act):
    model = SmallCNN(SmallCNNConfig(widths=(4,), activation=act, dropout=0.1)).train()
    model(torch.rand(4, 1, 6, 6)).sum().backward()


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("position", ["before", "after"])
def test_norms_and_positions(norm, position):
    model = SmallCNN(SmallCNNConfig(widths=(4, 4), norm=norm, norm_position=position, pool="avg", head_hidden=3))
    kinds = {type(m).__name__ for m in model.modules()}
    expected = {"none": set(), "batch": {"BatchNorm2d"}, "layer": {"GroupNorm"}}[norm]
    assert expected <= kinds and "AvgPool2d" in kinds
    model(torch.rand(2, 1, 8, 8)).sum().backward()


def test_initializer_knob_sets_the_conv_variance():
    torch.manual_seed(0)
    model = SmallCNN(SmallCNNConfig(widths=(256, 256), init="he"))
    w = model.body[1][0].weight  # 256 -> 256 conv, fan_in = 256 * 9
    assert w.var().item() == pytest.approx(2.0 / (256 * 9), rel=0.05)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(widths=()), "widths needs at least one block"),
        (dict(widths=(8, 0)), "each block width must be an integer > 0"),
        (dict(kernel_size=4), "kernel_size must be odd"),
        (dict(convs_per_block=0), "convs_per_block must be an integer > 0"),
        (dict(head_hidden=-1), "head_hidden must be an integer >= 0"),
        (dict(dropout=1.0), "dropout must be in"),
        (dict(activation="relu", alpha=0.1), "alpha applies to"),
    ],
)
def test_bad_config_values_raise_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        SmallCNNConfig(**kwargs)


def test_bad_names_raise_unknown_name_errors():
    with pytest.raises(UnknownNameError, match="unknown pool 'min'"):
        SmallCNNConfig(pool="min")
    with pytest.raises(UnknownNameError, match="unknown normalization 'group'"):
        SmallCNNConfig(norm="group")
    with pytest.raises(UnknownNameError, match="argument for model 'small_cnn'"):
        zoo.create("small_cnn", hidden=(3,))


def test_flat_inputs_are_a_zoo_error_with_a_hint():
    with pytest.raises(ZooError, match="small_cnn needs images .*use digits_images"):
        zoo.train("small_cnn_tiny", "digits", max_epochs=1, **FAST)
    with pytest.raises(ConfigError, match="takes images"):
        SmallCNN(SmallCNNConfig())(torch.rand(2, 784))


# ----------------------------------------------------------------------------- data


def test_digits_images_are_digits_in_the_image_layout():
    flat, images = load("digits", seed=3), load("digits_images", seed=3)
    assert images.info.input_shape == (1, 8, 8) and images.info.name == "digits_images"
    for split in ("train", "val", "test"):
        assert images.inputs(split).shape[1:] == (1, 8, 8)
        assert torch.equal(images.inputs(split).flatten(1), flat.inputs(split))
        assert torch.equal(images.targets(split), flat.targets(split))
    batch = next(iter(images.train_dataloader()))
    assert batch[0].shape == (32, 1, 8, 8)


# ----------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """small_cnn_tiny trained a few seconds on the embedded digits images, saved to a run folder."""
    out = tmp_path_factory.mktemp("cnn") / "run"
    res = zoo.train("small_cnn_tiny", seed=0, batch_size=32, out_dir=out, max_epochs=6, lr=0.01, **FAST)
    return res, out


def test_default_data_is_embedded_digits_images_and_the_loss_falls(digits_run):
    res, _ = digits_run
    assert res.task.data_info.name == "digits_images"
    hist = res.fit.history
    assert hist[-1]["train_loss"] < 0.3 * hist[0]["train_loss"]


def test_beats_the_majority_class_on_digits(digits_run):
    res, _ = digits_run
    baseline = majority_accuracy(res.data.targets("train"), res.data.targets("test"))  # ~0.10
    assert res.metrics["test"]["acc"] > 0.85 > 5 * baseline  # ~0.95 measured with seed 0


def test_save_then_load_gives_identical_outputs(digits_run):
    res, out = digits_run
    loaded = load_checkpoint(out / "checkpoint").eval()
    trained = res.task.cpu().eval()
    x = res.data.inputs("test").cpu()
    assert torch.equal(loaded.model(x), trained.model(x))
    assert loaded.card["model"] == "small_cnn_tiny" and loaded.card["data"]["input_shape"] == [1, 8, 8]
    assert loaded.card["num_parameters"] == n_params(trained.model)
    assert (out / "predictions_test.npz").exists()


def test_transfer_to_new_classes_keeps_the_body(digits_run):
    res, out = digits_run
    new = load_checkpoint(out / "checkpoint", num_classes=3, freeze="backbone")
    assert new.model.head.out_features == 3
    assert torch.equal(new.model.body[0][0].weight, res.task.model.body[0][0].weight.cpu())
    assert [n for n, p in new.model.named_parameters() if p.requires_grad] == ["head.weight", "head.bias"]


def test_fashion_mnist_beats_the_majority_class(shared_data):
    res = zoo.train("small_cnn_tiny", "fashion_mnist", seed=2, batch_size=32, max_epochs=4, lr=0.02,
                    data_options={"limit": 1000, "val_size": 500}, **FAST)
    baseline = majority_accuracy(res.data.targets("train"), res.data.targets("test"))  # 0.10
    assert res.fit.history[-1]["train_loss"] < 0.7 * res.fit.history[0]["train_loss"]
    assert res.metrics["test"]["acc"] > 4 * baseline  # 0.52-0.64 measured over seeds 0-2 (lr 0.02-0.03)


def test_cli_trains_the_default_dataset(tmp_path, capsys):
    code = main(["train", "small_cnn_tiny", "--max_epochs", "1", "--progress", "false", "--logger", "none",
                 "--out", str(tmp_path / "run"), "--widths", "4,8", "--activation", "gelu"])
    assert code == 0
    assert "test: loss" in capsys.readouterr().out
    card = load_checkpoint(tmp_path / "run" / "checkpoint").card
    assert card["kwargs"]["widths"] == [4, 8] and card["kwargs"]["activation"] == "gelu"


def test_cli_rejects_an_even_kernel_in_one_line(tmp_path, capsys):
    code = main(["train", "small_cnn_tiny", "--max_epochs", "1", "--progress", "false", "--logger", "none",
                 "--out", str(tmp_path / "run"), "--kernel_size", "4"])
    assert code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == "zoo: error: kernel_size must be odd (for 'same' padding), got 4."


# ----------------------------------------------------------------------------- recipes


def run_recipe(name: str, out: Path) -> dict:
    """Run the shipped recipe with this interpreter's ``zoo``; its result.json."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run(["zoo", "train", "--config", str(RECIPES / f"{name}.yaml"), "--out", str(out), "--progress", "false"],
                   check=True, env=env)
    return json.loads((out / "result.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("name, bar", [("small_cnn-fashion_mnist", 0.925), ("small_cnn-mnist", 0.995)])
def test_recipe_reaches_the_bar(shared_data, tmp_path, name, bar):
    result = run_recipe(name, tmp_path / "run")
    assert result["metrics"]["test"]["acc"] >= bar
    assert result["num_parameters"] < 100_000
