"""Starting a run from a checkpoint: `zoo finetune`, `zoo train --init-from`, `zoo evaluate`, `reinit=`.

On the embedded wine and breast_cancer data and the shipped `mlp-wine` checkpoint: the fine-tuned
card names its parent and its own data, a frozen backbone (batch norm included) is bit-identical
after training, re-initialized layers are new and every other tensor is the parent's, and each
mistake is one line with exit 2 and no run folder."""

from __future__ import annotations

import json

import pytest
import torch

import zoo
from zoo.checkpoint import load_checkpoint
from zoo.cli import main
from zoo.pretrained import get_pretrained

FAST = ["--max_epochs", "3", "--logger", "none"]


def _state(task) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in task.model.state_dict().items()}


def test_finetune_keeps_the_frozen_backbone_and_records_its_parent(tmp_path, capsys):
    out = tmp_path / "ft"
    assert main(["finetune", "mlp-wine", "--data", "wine", "--lr", "0.05", *FAST, "--out", str(out)]) == 0
    parent = _state(zoo.load_pretrained("mlp-wine"))
    child = load_checkpoint(out / "checkpoint")
    after = _state(child)
    heads = {k for k in after if k.startswith("head.")}
    assert heads and all(torch.equal(after[k], parent[k]) for k in after if k not in heads)  # BN buffers included
    assert any(not torch.equal(after[k], parent[k]) for k in heads)  # the head trained
    card = child.card
    entry = get_pretrained("mlp-wine")
    assert card["parent"] == {"id": "mlp-wine", "sha256": entry.file("model.safetensors").sha256}
    assert card["data"]["name"] == "wine" and card["config"]["run"]["init_from"] == "mlp-wine"
    assert card["config"]["run"]["freeze"] == "backbone"


def test_evaluate_reproduces_the_entry_and_prints_json(capsys):
    assert main(["evaluate", "mlp-wine", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    entry = get_pretrained("mlp-wine")
    assert got["data"] == "wine" and got["split"] == "test"
    for key, want in entry.metrics.items():
        assert got["metrics"][key] == pytest.approx(want, abs=1e-6)


def test_reinit_makes_new_input_layers_and_loads_the_rest(tmp_path, capsys):
    # breast_cancer has 30 features and 2 classes; mlp-wine was trained on 13 features and 3 classes.
    bad = tmp_path / "bad"
    assert main(["train", "mlp", "--data", "breast_cancer", "--init-from", "mlp-wine", *FAST, "--out", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "has shape [13] in model.safetensors, the model expects [30]" in err
    assert "reinit=['scaler']" in err and not bad.exists()

    out = tmp_path / "ok"
    argv = ["train", "mlp", "--data", "breast_cancer", "--init-from", "mlp-wine", "--reinit", "scaler,body.0.0",
            *FAST, "--out", str(out)]
    assert main(argv) == 0
    parent, child = _state(zoo.load_pretrained("mlp-wine")), _state(load_checkpoint(out / "checkpoint"))
    assert child["body.0.0.weight"].shape == (64, 30) and child["head.weight"].shape == (1, 32)
    # Not frozen: the loaded layers (the parent's shapes) trained on from the parent's values.
    assert all(child[k].shape == parent[k].shape for k in child if k.startswith("body.1."))
    assert any(not torch.equal(child[k], parent[k]) for k in child if k.startswith("body.1."))


def test_frozen_loaded_layers_are_the_parents_when_only_new_layers_train(tmp_path):
    out = tmp_path / "ok"
    argv = ["train", "mlp", "--data", "breast_cancer", "--init-from", "mlp-wine", "--reinit", "scaler,body.0.0",
            "--freeze", "all", *FAST, "--out", str(out)]
    assert main(argv) == 0
    parent, child = _state(zoo.load_pretrained("mlp-wine")), _state(load_checkpoint(out / "checkpoint"))
    for k in child:
        if k.startswith("body.1."):  # loaded and frozen: the parent's, bit for bit
            assert torch.equal(child[k], parent[k]), k


@pytest.mark.parametrize("argv, message", [
    (["finetune", "mlp-wien", "--data", "wine"], "unknown pretrained id 'mlp-wien'. Did you mean 'mlp-wine'"),
    (["train", "wide_deep", "--data", "diabetes", "--init-from", "mlp-wine"],
     "init_from 'mlp-wine' is a 'mlp' checkpoint; the run trains 'wide_deep'"),
    (["train", "mlp", "--data", "wine", "--freeze", "backbone"], "need init_from"),
    (["train", "mlp", "--data", "wine", "--init-from", "mlp-wine", "--reinit", "body.9"],
     "reinit names 'body.9', which is no layer of MLP; its layers: body.0.0"),
    (["train", "mlp", "--data", "wine", "--init-from", "mlp-wine", "--freeze", "most"], "freeze 'most'"),
    (["evaluate", "mlp-wine", "--data", "digits"], "mlp-wine predicts 3 classes; 'digits' has 10"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    extra = [*FAST, "--out", str(out)] if argv[0] != "evaluate" else []
    assert main([*argv, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()
