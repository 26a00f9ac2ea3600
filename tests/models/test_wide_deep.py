"""Wide & Deep family: shapes, parameter counts, column selection, auxiliary loss, training, checkpoints, CLI.

Training tests use ``wide_deep_tiny`` for a second or two on scikit-learn's
diabetes set (embedded) and on 2,000 rows of California housing; they assert
the loss falls and the model beats the mean predictor (computed here from the
training targets), and that a saved model reproduces its outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.checkpoint import load_checkpoint
from zoo.cli import main
from zoo.errors import ConfigError, DataError, UnknownNameError, ZooError
from zoo.models.wide_deep import WideDeep, WideDeepConfig

FAST = dict(progress=False, logger="none")
BOOK = dict(in_features=8, wide_columns=(0, 1, 2, 3, 4), deep_columns=(2, 3, 4, 5, 6, 7))
RECIPES = Path(__file__).resolve().parents[2] / "benchmarks" / "recipes"


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def rmse_of_mean(train_y: torch.Tensor, test_y: torch.Tensor) -> float:
    """RMSE of predicting every test target with the training mean (the trivial baseline)."""
    return (test_y - train_y.mean()).pow(2).mean().sqrt().item()


# ----------------------------------------------------------------------------- model


def test_registry_entries():
    assert {"wide_deep", "wide_deep_tiny"} <= set(zoo.list_models("wide_deep*"))
    from zoo import registry

    e = registry.get("wide_deep_tiny")
    assert e.tasks == ("regression",) and e.default_data == "diabetes" and "tiny" in e.tags


def test_parameter_counts_as_documented():
    # The module docstring's worked example: the book's two-input model with an auxiliary output.
    book = WideDeep(WideDeepConfig(**BOOK, aux_output=True))
    assert n_params(book.body) == 6 * 30 + 30 + 30 * 30 + 30 == 1_140
    assert n_params(book.head) == (5 + 30) + 1 and n_params(book.aux_head) == 30 + 1
    assert n_params(book) == 1_207
    # Single-input form on California's 13 columns: deep 13-30-30, head sees 13 + 30.
    single = WideDeep(WideDeepConfig(in_features=13))
    assert n_params(single) == (13 * 30 + 30) + (30 * 30 + 30) + (13 + 30 + 1) == 1_394
    assert single.aux_head is None and single.head_names == ("head",)
    assert n_params(zoo.create("wide_deep_tiny", in_features=10).model) == (10 * 8 + 8) + (10 + 8 + 1)


def test_training_mode_returns_main_and_aux_eval_returns_main():
    model = WideDeep(WideDeepConfig(**BOOK, aux_output=True))
    x = torch.randn(5, 8)
    main_out, aux = model(x)
    assert main_out.shape == aux.shape == (5, 1)
    model.eval()
    out = model(x)
    assert isinstance(out, torch.Tensor) and torch.equal(out, main_out)
    assert model.head_names == ("head", "aux_head")


def test_columns_outside_both_paths_are_ignored():
    # Columns 0-2 wide, 3-4 deep: column 5 is on neither path, so changing it changes nothing.
    model = WideDeep(WideDeepConfig(in_features=6, wide_columns=(0, 1, 2), deep_columns=(3, 4))).eval()
    x = torch.randn(4, 6)
    x2 = x.clone()
    x2[:, 5] += 100.0
    assert torch.equal(model(x), model(x2))
    x2[:, 4] += 1.0  # a deep column does matter
    assert not torch.allclose(model(x), model(x2))


def test_wide_path_is_the_selected_scaled_columns_concatenated_with_the_deep_path():
    model = WideDeep(WideDeepConfig(in_features=5, wide_columns=(4, 0), deep_columns=(1, 2), hidden=(3,))).eval()
    model.scaler.fit(torch.randn(50, 5) * 3 + 1)
    x = torch.randn(7, 5)
    z = (x - model.scaler.shift) / model.scaler.scale
    deep = model.body(z[:, [1, 2]])
    expected = model.head(torch.cat([z[:, [4, 0]], deep], 1))
    assert torch.allclose(model(x), expected, atol=1e-6)


def test_log_columns_are_log1p_before_the_scaler_fitted_on_the_logs():
    model = WideDeep(WideDeepConfig(in_features=3, log_columns=(0, 2), hidden=(4,))).eval()
    x = torch.rand(64, 3) * torch.tensor([1000.0, 1.0, 50.0])
    model.scaler.fit(x)
    logged = torch.stack([x[:, 0].log1p(), x[:, 1], x[:, 2].log1p()], 1)
    assert torch.allclose(model.scaler.shift, logged.mean(0)) and torch.allclose(model.scaler.scale, logged.std(0))
    before = x.clone()
    assert torch.allclose(model.scaler(x), (logged - logged.mean(0)) / logged.std(0), atol=1e-5)
    assert torch.equal(x, before)  # the caller's batch is not modified in place
    with pytest.raises(DataError, match="log_columns holds column 2, which has negative values"):
        model.scaler.fit(x - torch.tensor([0.0, 0.0, 100.0]))


def test_target_shift_and_scale_apply_to_both_outputs():
    cfg = dict(**BOOK, aux_output=True)
    torch.manual_seed(0)
    plain = WideDeep(WideDeepConfig(**cfg))
    torch.manual_seed(0)
    shifted = WideDeep(WideDeepConfig(**cfg, target_shift=150.0, target_scale=75.0))
    x = torch.randn(3, 8)
    for a, b in zip(plain(x), shifted(x)):
        assert torch.allclose(b, 150.0 + 75.0 * a, atol=1e-4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(in_features=8, wide_columns=(0, 8)), "wide_columns holds 8; column indices must be integers from 0 to 7"),
        (dict(in_features=8, deep_columns=(-1,)), "deep_columns holds -1"),
        (dict(in_features=8, deep_columns=(1, 1)), "deep_columns repeats a column"),
        (dict(in_features=8, wide_columns=()), "wide_columns needs at least one column"),
        (dict(in_features=4, log_columns=(4,)), "log_columns holds 4"),
        (dict(hidden=()), "hidden needs at least one layer"),
        (dict(target_scale=0.0), "target_scale must be a number > 0"),
        (dict(dropout=1.0), "dropout must be in"),
        (dict(activation="relu", alpha=0.2), "alpha applies to"),
        (dict(num_embedding="periodic", frequencies=0), "frequencies must be"),
        (dict(num_embedding="periodic", frequency_scale=-1.0), "frequency_scale must be"),
    ],
)
def test_bad_config_values_raise_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        WideDeepConfig(**kwargs)


def test_bad_names_and_task_values_raise_zoo_errors():
    with pytest.raises(UnknownNameError, match="num_embedding 'plr'. Allowed: none, periodic"):
        WideDeepConfig(num_embedding="plr")
    with pytest.raises(UnknownNameError, match="activation 'relux'"):
        zoo.create("wide_deep_tiny", activation="relux")
    with pytest.raises(ConfigError, match=r"aux_weight must be in \[0, 1\], got 1.5"):
        zoo.create("wide_deep_tiny", aux_output=True, aux_weight=1.5)
    with pytest.raises(ZooError, match="trains for regression; dataset 'wine' is multiclass"):
        zoo.train("wide_deep_tiny", "wine", max_epochs=1, **FAST)


def test_auxiliary_loss_is_the_weighted_sum_of_both_mses():
    task = zoo.create("wide_deep", **BOOK, aux_output=True, aux_weight=0.1)
    x, y = torch.randn(16, 8), torch.randn(16, 1)
    task.train()
    loss, n = task.batch_loss((x, y))
    main_out, aux = task.model(x)
    assert n == 16
    assert torch.allclose(loss, 0.9 * F.mse_loss(main_out, y) + 0.1 * F.mse_loss(aux, y))
    task.eval()  # evaluation scores the main output only
    loss, _ = task.batch_loss((x, y))
    assert torch.allclose(loss, F.mse_loss(task.model(x), y))


def test_periodic_embedding_is_sin_cos_of_trained_frequencies_then_a_per_column_linear_relu():
    cfg = dict(in_features=3, hidden=(8,), num_embedding="periodic", frequencies=4, embedding_dim=5, scaling="none")
    model = WideDeep(WideDeepConfig(**cfg)).eval()
    emb = model.embedding
    # Parameters: frequencies (3 x 4), weight (3 x 8 x 5), bias (3 x 5); the deep path reads 3 * 5 columns.
    assert [tuple(p.shape) for p in emb.parameters()] == [(3, 4), (3, 8, 5), (3, 5)]
    assert model.body[0][0].in_features == 15
    x = torch.randn(6, 3)
    want = []
    for j in range(3):  # column by column, as the paper writes it
        angle = 2 * torch.pi * x[:, j:j + 1] * emb.frequencies[j]  # (B, k)
        v = torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)  # (B, 2k)
        want.append(torch.relu(v @ emb.weight[j] + emb.bias[j]))  # (B, d)
    assert torch.allclose(emb(x), torch.cat(want, dim=1), atol=1e-6)
    loss = model(x).pow(2).mean()
    loss.backward()
    assert emb.frequencies.grad is not None and emb.frequencies.grad.abs().sum() > 0  # frequencies are trained


def test_periodic_embedding_learns_diabetes_beyond_the_mean_predictor():
    res = zoo.train("wide_deep_tiny", seed=0, batch_size=32, max_epochs=40, lr=0.01, num_embedding="periodic",
                    frequency_scale=0.1, **FAST)
    dm = res.data
    assert res.metrics["test"]["rmse"] < 0.85 * rmse_of_mean(dm.targets("train"), dm.targets("test"))


# ----------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def diabetes_run(tmp_path_factory):
    """wide_deep_tiny in the two-input form with an auxiliary output, ~1 s on diabetes, saved."""
    out = tmp_path_factory.mktemp("wide_deep") / "run"
    res = zoo.train("wide_deep_tiny", seed=0, batch_size=32, out_dir=out, max_epochs=40, lr=0.01,
                    wide_columns=(0, 1, 2, 3, 4), deep_columns=(2, 3, 4, 5, 6, 7, 8, 9), aux_output=True, **FAST)
    return res, out


def test_default_data_is_embedded_diabetes_and_the_loss_falls(diabetes_run):
    res, _ = diabetes_run
    assert res.task.data_info.name == "diabetes"
    hist = res.fit.history
    assert hist[-1]["train_loss"] < 0.6 * hist[0]["train_loss"]
    # Outputs start near the training target mean: shift and scale came from the data.
    extra = res.task.data_info.extra
    assert res.task.model.config.target_shift == pytest.approx(extra["target_mean"])
    assert res.task.model.config.target_scale == pytest.approx(extra["target_std"])


def test_beats_the_mean_predictor_on_diabetes(diabetes_run):
    res, _ = diabetes_run
    dm = res.data
    baseline = rmse_of_mean(dm.targets("train"), dm.targets("test"))
    assert res.metrics["test"]["rmse"] < 0.85 * baseline  # ~0.76 measured with seed 0


def test_save_then_load_gives_identical_outputs(diabetes_run):
    res, out = diabetes_run
    loaded = load_checkpoint(out / "checkpoint").eval()
    trained = res.task.cpu().eval()
    x = res.data.inputs("test").cpu()
    assert torch.equal(loaded.model(x), trained.model(x))
    card = loaded.card
    assert card["model"] == "wide_deep_tiny" and card["kwargs"]["wide_columns"] == [0, 1, 2, 3, 4]
    assert card["num_parameters"] == n_params(trained.model)
    assert (out / "predictions_test.npz").exists() and (out / "metrics.csv").exists()


def test_california_housing_two_input_form_beats_the_mean_predictor(shared_data):
    res = zoo.train("wide_deep_tiny", "california_housing", seed=0, batch_size=64, max_epochs=8, lr=0.01,
                    data_options={"limit": 2000}, wide_columns=tuple(range(8, 13)) + (7,),
                    deep_columns=tuple(range(8)), aux_output=True, **FAST)
    dm = res.data
    baseline = rmse_of_mean(dm.targets("train"), dm.targets("test"))  # ~1.15 ($100k)
    assert res.fit.history[-1]["train_loss"] < res.fit.history[0]["train_loss"]
    assert res.metrics["test"]["rmse"] < 0.7 * baseline


def test_cli_trains_the_default_dataset(tmp_path, capsys):
    code = main(["train", "wide_deep_tiny", "--max_epochs", "2", "--progress", "false", "--logger", "none",
                 "--out", str(tmp_path / "run"), "--aux_output", "true", "--aux_weight", "0.2",
                 "--wide_columns", "0,1,2"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "test: loss" in printed and "rmse" in printed
    card = load_checkpoint(tmp_path / "run" / "checkpoint").card
    assert card["kwargs"]["aux_weight"] == 0.2 and card["kwargs"]["wide_columns"] == [0, 1, 2]


def test_cli_rejects_a_bad_column_in_one_line(tmp_path, capsys):
    code = main(["train", "wide_deep_tiny", "--max_epochs", "1", "--progress", "false", "--logger", "none",
                 "--out", str(tmp_path / "run"), "--deep_columns", "0,99"])
    assert code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the "zoo train ... ->" line
    assert last.startswith("zoo: error: deep_columns holds 99; column indices must be integers from 0 to 9")


# ----------------------------------------------------------------------------- recipe


def run_recipe(name: str, out: Path) -> dict:
    """Run the shipped recipe with this interpreter's ``zoo``; its result.json."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run(["zoo", "train", "--config", str(RECIPES / f"{name}.yaml"), "--out", str(out), "--progress", "false"],
                   check=True, env=env)
    return json.loads((out / "result.json").read_text())


@pytest.mark.slow
def test_california_housing_recipe_reaches_the_bar(shared_data, tmp_path):
    result = run_recipe("wide_deep-california_housing", tmp_path / "run")
    assert result["metrics"]["test"]["rmse"] <= 0.52  # $100k; the book: 0.58 wide & deep, 0.53 plain MLP
