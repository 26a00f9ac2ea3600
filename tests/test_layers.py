import math

import pytest
import torch
from torch import nn

from zoo.errors import ConfigError, UnknownNameError
from zoo.layers import ACTIVATIONS, InputScaler, activation, default_init, init_weight_, norm


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation_builds_and_runs(name):
    x = torch.linspace(-3, 3, 11)
    y = activation(name)(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_activation_aliases_and_alpha():
    assert isinstance(activation("swish"), nn.SiLU)
    assert activation("leaky_relu", 0.2).negative_slope == 0.2
    assert activation("prelu", 0.1).weight.item() == pytest.approx(0.1)
    with pytest.raises(UnknownNameError, match="Allowed: elu, gelu"):
        activation("sine")


def test_norms():
    assert isinstance(norm("batch", 8), nn.BatchNorm1d)
    assert isinstance(norm("batch", 8, dims=2), nn.BatchNorm2d)
    assert isinstance(norm("layer", 8), nn.LayerNorm)
    assert isinstance(norm("none", 8), nn.Identity)


@pytest.mark.parametrize(
    "scheme, dist, expected_var",
    [
        ("he", "normal", 2 / 400),
        ("he", "uniform", 2 / 400),
        ("lecun", "normal", 1 / 400),
        ("glorot", "normal", 2 / (400 + 600)),
        ("glorot", "uniform", 2 / (400 + 600)),
    ],
)
def test_initializer_variances(scheme, dist, expected_var):
    torch.manual_seed(0)
    w = torch.empty(600, 400)  # fan_out 600, fan_in 400
    init_weight_(w, scheme, dist)
    assert w.var().item() == pytest.approx(expected_var, rel=0.02)
    if dist == "uniform":
        assert w.abs().max().item() <= math.sqrt(3 * expected_var) + 1e-6


def test_default_initializer_by_activation():
    assert default_init("relu") == "he" and default_init("elu") == "he" and default_init("mish") == "he"
    assert default_init("selu") == "lecun"
    assert default_init("tanh") == "glorot" and default_init("sigmoid") == "glorot"


def test_input_scaler_fits_training_split_only():
    torch.manual_seed(0)
    train = torch.randn(1000, 3) * torch.tensor([1.0, 10.0, 0.0]) + torch.tensor([5.0, -2.0, 7.0])
    s = InputScaler("standardize", 3).fit(train)
    z = s(train)
    assert torch.allclose(z[:, :2].mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(z[:, :2].std(0), torch.ones(2), atol=1e-5)
    assert torch.all(z[:, 2] == 0)  # constant feature: scale 1, no division by zero
    test = torch.full((4, 3), 100.0)
    assert torch.allclose(s(test)[:, 0], (100 - train[:, 0].mean()) / train[:, 0].std())
    m = InputScaler("minmax", 3).fit(train)
    assert m(train)[:, :2].min() >= 0 and m(train)[:, :2].max() <= 1 + 1e-6


def test_input_scaler_feature_mismatch():
    with pytest.raises(ConfigError, match="expects 3 features, data has 2"):
        InputScaler("standardize", 3).fit(torch.zeros(5, 2))
