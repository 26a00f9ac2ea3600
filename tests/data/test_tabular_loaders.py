"""California housing (real file) and scikit-learn's bundled sets (no data directory)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from zoo.data import get_card, load
from zoo.data.core import seeded_split
from zoo.data.tabular import HOUSING_NUMERIC, OCEAN_PROXIMITY, read_housing


def test_california_housing(use_shared_data: Path) -> None:
    dm = load("california_housing", seed=6)
    info = dm.info
    assert (info.kind, info.num_classes, info.input_shape) == ("regression", 1, (13,))
    assert info.feature_names == HOUSING_NUMERIC + [f"ocean_proximity_{c}" for c in OCEAN_PROXIMITY]
    sizes = [dm.num_samples(s) for s in ("train", "val", "test")]
    assert sizes == [12384, 4128, 4128] and sum(sizes) == 20640
    for split in ("train", "val", "test"):
        x, y = dm.splits[split]
        assert x.dtype == torch.float32 and y.dtype == torch.float32 and y.shape == (len(x), 1)
        assert not torch.isnan(x).any()
        assert torch.all(x[:, 8:].sum(1) == 1)  # exactly one ocean_proximity per row

    # The split is seeded_split(20640, 60/20/20, seed); the fill is the median of its train rows only.
    raw = read_housing()
    train, val, test = (t.numpy() for t in seeded_split(len(raw), [0.6, 0.2, 0.2], 6))
    median = raw["total_bedrooms"].iloc[train].median()
    assert info.extra["imputed"]["total_bedrooms"] == median
    assert median != raw["total_bedrooms"].median()  # so this test can tell the two apart
    bedrooms = HOUSING_NUMERIC.index("total_bedrooms")
    for split, rows in (("train", train), ("val", val), ("test", test)):
        missing = raw["total_bedrooms"].iloc[rows].isna().to_numpy()
        assert missing.any()
        filled = dm.inputs(split)[torch.tensor(missing), bedrooms]
        assert torch.all(filled == np.float32(median))
        # Target in units of $100k.
        expected = raw["median_house_value"].iloc[rows].to_numpy() / 100_000
        np.testing.assert_allclose(dm.targets(split)[:, 0].numpy(), expected, rtol=1e-6)
    assert 0.14 < float(dm.targets("train").min()) and float(dm.targets("train").max()) == pytest.approx(5.00001)  # capped at $500,001


def test_california_missing_count(use_shared_data: Path) -> None:
    raw = read_housing()
    card = get_card("california_housing")
    assert len(raw) == card.stats["rows"] == 20640
    assert int(raw["total_bedrooms"].isna().sum()) == card.stats["missing_total_bedrooms"] == 207
    assert raw["ocean_proximity"].value_counts().to_dict() == card.stats["ocean_proximity_counts"]


SKLEARN = {
    # name: (kind, samples, features, classes)
    "digits": ("multiclass", 1797, 64, 10),
    "breast_cancer": ("binary", 569, 30, 2),
    "wine": ("multiclass", 178, 13, 3),
    "diabetes": ("regression", 442, 10, 1),
}


@pytest.mark.parametrize("name", sorted(SKLEARN))
def test_sklearn_sets_need_no_data_dir(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZOO_DATA", str(tmp_path / "nothing-here"))
    kind, samples, features, classes = SKLEARN[name]
    dm = load(name, seed=1)
    assert not (tmp_path / "nothing-here").exists()
    assert (dm.info.kind, dm.info.input_shape, dm.info.num_classes) == (kind, (features,), classes)
    assert len(dm.info.feature_names) == features
    sizes = {s: dm.num_samples(s) for s in ("train", "val", "test")}
    assert sizes == get_card(name).splits and sum(sizes.values()) == samples
    x = torch.cat([dm.inputs(s) for s in sizes])
    assert x.dtype == torch.float32
    assert len(torch.unique(x, dim=0)) == len(x)  # splits disjoint (these sets have no duplicate rows)
    y = dm.targets("train")
    if kind == "regression":
        assert y.dtype == torch.float32 and y.shape == (sizes["train"], 1)
    else:
        assert y.dtype == torch.int64 and y.shape == (sizes["train"],)
        assert len(dm.info.class_names) == classes


def test_classification_split_is_stratified_and_seeded() -> None:
    dm = load("breast_cancer")
    assert dm.info.class_names == ["malignant", "benign"]
    for split in ("train", "val", "test"):
        y = dm.targets(split)
        assert set(y.tolist()) == {0, 1}
        assert float(y.float().mean()) == pytest.approx(357 / 569, abs=0.01)  # benign share everywhere
    same, other = load("breast_cancer"), load("breast_cancer", seed=1)
    assert torch.equal(same.inputs("test"), dm.inputs("test"))
    assert not torch.equal(other.inputs("test"), dm.inputs("test"))


def test_diabetes_keeps_raw_units() -> None:
    dm = load("diabetes")
    y = torch.cat([dm.targets(s) for s in ("train", "val", "test")])
    assert (float(y.min()), float(y.max())) == (25.0, 346.0)
    assert dm.info.extra["target_mean"] == pytest.approx(float(dm.targets("train").mean()), rel=1e-5)
    # Raw features: age in years, not scikit-learn's centred and scaled values.
    assert float(dm.inputs("train")[:, 0].min()) >= 19


def test_limit_keeps_first_training_rows() -> None:
    full, limited = load("wine"), load("wine", limit=10)
    assert torch.equal(limited.inputs("train"), full.inputs("train")[:10])
    assert torch.equal(limited.inputs("test"), full.inputs("test"))
