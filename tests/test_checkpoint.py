"""Checkpoints: identical outputs after save/load, verified hashes, head swap and freezing."""

import json

import pytest
import torch

import zoo
from zoo.checkpoint import load_checkpoint, read_card, save_checkpoint
from zoo.errors import CheckpointError, ConfigError, UnknownNameError


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "r"
    res = zoo.train("mlp_tiny", "digits", max_epochs=2, progress=False, out_dir=out, norm="batch")
    return res, out / "checkpoint"


def test_save_load_gives_identical_outputs(trained):
    res, ckpt = trained
    x = res.data.inputs("test")[:50]
    res.task.eval()
    loaded = load_checkpoint(ckpt).eval()
    assert torch.equal(res.task(x), loaded(x))
    card = read_card(ckpt)
    assert card["model"] == "mlp_tiny" and card["data"]["name"] == "digits"
    assert card["metrics"]["test"]["acc"] == res.metrics["test"]["acc"]
    assert {"torch", "lightning", "zoobench"} <= set(card["versions"])
    assert card["kwargs"]["norm"] == "batch" and card["num_parameters"] == sum(p.numel() for p in res.task.model.parameters())


def _copy(ckpt, tmp_path):
    import shutil

    dst = tmp_path / "copy"
    shutil.copytree(ckpt, dst)
    return dst


def test_corrupted_weights_are_refused(trained, tmp_path):
    ckpt = _copy(trained[1], tmp_path)
    data = bytearray((ckpt / "model.safetensors").read_bytes())
    data[-3] ^= 0xFF
    (ckpt / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="is corrupt: sha256"):
        load_checkpoint(ckpt)


def test_corrupted_or_missing_card(trained, tmp_path):
    ckpt = _copy(trained[1], tmp_path)
    (ckpt / "card.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(ckpt)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nowhere")


def test_never_overwrites_a_checkpoint(trained):
    res, ckpt = trained
    with pytest.raises(CheckpointError, match="already holds a checkpoint"):
        save_checkpoint(res.task, ckpt)


def test_new_head_and_frozen_backbone(trained):
    res, ckpt = trained
    task = load_checkpoint(ckpt, num_classes=5, freeze="backbone")
    assert task.model.head.out_features == 5
    trainable = {n for n, p in task.model.named_parameters() if p.requires_grad}
    assert trainable == {"head.weight", "head.bias"}
    src = res.task.model.state_dict()
    for k, v in task.model.state_dict().items():
        if not k.startswith("head."):
            assert torch.equal(v, src[k]), k
    task.train()
    bn = task.model.body[0][1]
    assert not bn.training  # frozen batch norm keeps its running statistics
    with pytest.raises(UnknownNameError, match="unknown freeze .head.. Allowed: all, backbone, none"):
        load_checkpoint(ckpt, freeze="head")


def test_run_folder_contents(trained, tmp_path):
    res, ckpt = trained
    run = ckpt.parent
    result = json.loads((run / "result.json").read_text())
    assert result["metrics"]["test"]["acc"] == res.metrics["test"]["acc"]
    assert (run / "metrics.csv").read_text().splitlines()[0].startswith("epoch,step,train_loss")
    import numpy as np

    preds = np.load(run / "predictions_test.npz")
    assert preds["probs"].shape == (res.data.num_samples("test"), 10)
    with pytest.raises(ConfigError, match="already exists and is not empty"):
        zoo.train("mlp_tiny", "digits", max_epochs=1, progress=False, out_dir=run)
