import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from zoo.scoring import classification_metrics, regression_metrics


def test_multiclass_metrics_equal_sklearn():
    rng = np.random.default_rng(0)
    n, c = 500, 5
    target = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c)) + 2.0 * np.eye(c)[target] * rng.random((n, 1))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    m = classification_metrics(torch.tensor(probs, dtype=torch.float64), torch.tensor(target))
    pred = probs.argmax(1)
    assert m["acc"] == pytest.approx(skm.accuracy_score(target, pred), abs=1e-6)
    for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
        assert m[name] == pytest.approx(fn(target, pred, average="macro", zero_division=0), abs=1e-6)
        np.testing.assert_allclose(m[f"{name}_per_class"], fn(target, pred, average=None, zero_division=0), atol=1e-6)
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(target, probs, multi_class="ovr", average="macro"), abs=1e-6)
    onehot = np.eye(c)[target]
    assert m["ap"] == pytest.approx(skm.average_precision_score(onehot, probs, average="macro"), abs=1e-6)
    np.testing.assert_array_equal(m["confusion_matrix"], skm.confusion_matrix(target, pred))


def test_binary_metrics_equal_sklearn():
    rng = np.random.default_rng(1)
    target = rng.integers(0, 2, 400)
    probs = np.clip(0.35 * target + 0.65 * rng.random(400), 0, 1)
    m = classification_metrics(torch.tensor(probs), torch.tensor(target))
    pred = (probs >= 0.5).astype(int)
    assert m["precision"] == pytest.approx(skm.precision_score(target, pred), abs=1e-6)
    assert m["recall"] == pytest.approx(skm.recall_score(target, pred), abs=1e-6)
    assert m["f1"] == pytest.approx(skm.f1_score(target, pred), abs=1e-6)
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(target, probs), abs=1e-6)
    assert m["ap"] == pytest.approx(skm.average_precision_score(target, probs), abs=1e-6)
    np.testing.assert_array_equal(m["confusion_matrix"], skm.confusion_matrix(target, pred))


def test_class_never_predicted_counts_as_zero_precision():
    target = torch.tensor([0, 1, 2, 2])
    probs = torch.tensor([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.0, 0.9, 0.1], [0.0, 0.9, 0.1]])
    m = classification_metrics(probs, target)
    pred = probs.argmax(1).numpy()
    assert m["precision"] == pytest.approx(skm.precision_score(target, pred, average="macro", zero_division=0))


def test_regression_metrics_equal_sklearn():
    rng = np.random.default_rng(2)
    y = rng.normal(size=300)
    p = y + rng.normal(scale=0.3, size=300)
    m = regression_metrics(torch.tensor(p).unsqueeze(1), torch.tensor(y).unsqueeze(1))
    assert m["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)), abs=1e-6)
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, p), abs=1e-6)
    assert m["r2"] == pytest.approx(skm.r2_score(y, p), abs=1e-6)


def test_trained_model_metrics_match_sklearn_on_saved_predictions():
    import zoo

    res = zoo.train("mlp_tiny", "wine", max_epochs=3, progress=False)
    probs, target = res.predictions["probs"].numpy(), res.predictions["target"].numpy()
    m = res.metrics["test"]
    assert m["f1"] == pytest.approx(skm.f1_score(target, probs.argmax(1), average="macro", zero_division=0), abs=1e-6)
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(target, probs, multi_class="ovr"), abs=1e-6)
