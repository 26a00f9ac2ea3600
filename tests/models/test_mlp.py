import pytest
import torch
from torch import nn

import zoo
from zoo.models.mlp import MLP, MLPConfig


def test_seeds_worked_example_parameter_counts():
    # 784-512-64-32-10 with batch norm (the seeds' worked example).
    model = MLP(MLPConfig(in_features=784, num_classes=10, hidden=(512, 64, 32), norm="batch"))
    dense = sum(p.numel() for m in model.modules() if isinstance(m, nn.Linear) for p in m.parameters())
    bn = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    bn_trainable = sum(p.numel() for m in bn for p in m.parameters() if p.requires_grad)
    running = sum(m.running_mean.numel() + m.running_var.numel() for m in bn)
    assert (dense, bn_trainable, running) == (437_162, 1_216, 1_216)


@pytest.mark.parametrize("position, order", [("before", (nn.Linear, nn.BatchNorm1d, nn.ReLU)), ("after", (nn.Linear, nn.ReLU, nn.BatchNorm1d))])
def test_norm_position(position, order):
    model = MLP(MLPConfig(in_features=4, num_classes=2, hidden=(8,), norm="batch", norm_position=position))
    assert tuple(type(m) for m in model.body[0]) == order


def test_selu_uses_lecun_and_alpha_dropout():
    torch.manual_seed(0)
    model = MLP(MLPConfig(in_features=500, num_classes=2, hidden=(500,), activation="selu", dropout=0.1))
    assert isinstance(model.body[0][-1], nn.AlphaDropout)
    w = model.body[0][0].weight
    assert w.var().item() == pytest.approx(1 / 500, rel=0.05)  # LeCun normal


def test_flattens_images_and_output_shape():
    model = MLP(MLPConfig(in_features=784, num_classes=10, hidden=(16,)))
    assert model(torch.rand(5, 1, 28, 28)).shape == (5, 10)


def test_alpha_only_for_activations_that_take_it():
    from zoo.errors import ConfigError

    with pytest.raises(ConfigError, match="alpha applies to leaky_relu"):
        MLPConfig(activation="relu", alpha=0.2)


def test_mlp_learns_embedded_digits():
    res = zoo.train("mlp_tiny", "digits", seed=0, batch_size=32, max_epochs=8, progress=False, hidden=(32,), lr=0.01)
    losses = [r["train_loss"] for r in res.fit.history]
    assert losses[-1] < 0.5 * losses[0]
    assert res.metrics["test"]["acc"] > 0.9  # chance is 0.1


def test_mlp_binary_and_regression_tasks():
    res = zoo.train("mlp_tiny", "breast_cancer", max_epochs=10, progress=False, lr=0.01)
    assert res.task.binary and res.predictions["probs"].ndim == 1
    assert res.metrics["test"]["acc"] > 0.9 and res.metrics["test"]["auroc"] > 0.95  # majority class: ~0.63
    res = zoo.train("mlp_tiny", "diabetes", max_epochs=30, progress=False, lr=0.01)
    assert res.metrics["test"]["r2"] > 0.3  # the mean predictor has R² ~ 0
