"""The pretrained zoo: names -> verified files -> tasks, fine-tuning with a frozen backbone, and the CLI.

Files resolve from the cache, the checkout, then a download (zoo/hub.py); the download is
tested against a local HTTP server on 127.0.0.1 serving the checkout's weights/.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import lightning as L
import pytest
import torch

import zoo
from zoo import hub
from zoo.checkpoint import load_checkpoint, read_card, save_checkpoint
from zoo.cli import main
from zoo.config import LoopConfig
from zoo.data import load
from zoo.data.core import DataInfo, TensorDataModule
from zoo.engine import fit
from zoo.errors import CheckpointError, ConfigError, DataError, UnknownNameError
from zoo.pretrained import get_pretrained
from zoo.training import load_data
from zoo.transfer import backbone_blocks, frozen_norms, unfreeze_top

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_cache(tmp_path, monkeypatch):
    """An empty user cache and no mirror: the checkout is where files come from."""
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ZOO_MIRROR", raising=False)
    monkeypatch.delenv("ZOO_OFFLINE", raising=False)
    return tmp_path / "cache"


@pytest.fixture
def no_checkout(tmp_path, monkeypatch, no_cache):
    """As a wheel install: no weights/ beside the package."""
    monkeypatch.setattr(hub, "CHECKOUT", tmp_path / "no-checkout")
    return no_cache


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving a copy of the repository's weights/ at /weights/..."""
    root = tmp_path / "served"
    shutil.copytree(ROOT / "weights", root / "weights")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


# ----------------------------------------------------------------------------- names and files


def test_list_and_default():
    assert "mlp-mnist" in zoo.list_pretrained() and zoo.list_pretrained("mlp-w*") == ["mlp-wine"]
    task = zoo.create("mlp", pretrained=True)
    assert task.zoo_spec["parent"] == {"id": "mlp-mnist", "sha256": get_pretrained("mlp-mnist").file("model.safetensors").sha256}


def test_resolution_order_cache_then_checkout(no_cache):
    entry = get_pretrained("mlp-wine")
    assert hub.locate(entry) == ROOT / "weights" / "mlp-wine"  # nothing cached: the checkout
    shutil.copytree(ROOT / "weights" / "mlp-wine", no_cache / "mlp-wine")
    assert hub.locate(entry) == no_cache / "mlp-wine"  # the user's cache first


def test_wheel_install_downloads_from_the_mirror_once(no_checkout, server, monkeypatch):
    _, url = server
    monkeypatch.setenv("ZOO_MIRROR", url)
    task = zoo.load_pretrained("mlp-wine")
    assert (no_checkout / "mlp-wine" / "model.safetensors").read_bytes() == (ROOT / "weights/mlp-wine/model.safetensors").read_bytes()
    monkeypatch.setenv("ZOO_OFFLINE", "1")  # now served from the cache
    again = zoo.load_pretrained("mlp-wine")
    for (k, a), b in zip(task.model.state_dict().items(), again.model.state_dict().values()):
        assert torch.equal(a, b), k


def test_a_corrupted_download_is_refused_and_leaves_nothing(no_checkout, server, monkeypatch):
    root, url = server
    weights = root / "weights" / "mlp-wine" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    monkeypatch.setenv("ZOO_MIRROR", url)
    monkeypatch.setattr("zoo.pretrained.UPSTREAM", url + "/nothing")  # the upstream URL fails too, fast
    with pytest.raises(DataError, match="sha256 mismatch") as e:
        zoo.load_pretrained("mlp-wine")
    assert "\n" not in str(e.value)
    folder = no_checkout / "mlp-wine"
    assert not (folder / "model.safetensors").exists() and not [p for p in folder.iterdir() if p.suffix == ".part"]


def test_offline_without_files_is_one_line(no_checkout, monkeypatch):
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(DataError, match="ZOO_OFFLINE"):
        zoo.load_pretrained("mlp-wine")
    assert not (no_checkout / "mlp-wine" / "model.safetensors").exists()


# ----------------------------------------------------------------------------- bad input


def test_unknown_id_lists_close_matches():
    with pytest.raises(UnknownNameError, match=r"unknown pretrained id 'mlp-mnsit'\. Did you mean 'mlp-mnist'"):
        zoo.load_pretrained("mlp-mnsit")


def test_another_family_num_classes_zero_and_binary():
    with pytest.raises(CheckpointError, match="'mlp' checkpoint, not 'small_cnn'"):
        zoo.create("small_cnn", pretrained="mlp-wine")
    with pytest.raises(CheckpointError, match="'mlp' checkpoint, not 'small_cnn'"):
        zoo.create("small_cnn", pretrained=ROOT / "weights" / "mlp-wine")
    with pytest.raises(ConfigError, match="num_classes must be an integer > 0, got 0"):
        zoo.load_pretrained("mlp-wine", num_classes=0)
    with pytest.raises(ConfigError, match="binary classifier"):
        zoo.load_pretrained("mlp-breast_cancer", num_classes=3)


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_corrupted_or_truncated_cached_weights_are_refused(no_cache, damage):
    shutil.copytree(ROOT / "weights" / "mlp-wine", no_cache / "mlp-wine")
    weights = no_cache / "mlp-wine" / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:-10] if damage == "truncate" else data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(CheckpointError, match="is corrupt.*delete it"):
        zoo.load_pretrained("mlp-wine")
    with pytest.raises(CheckpointError, match="corrupt"):  # the folder given as a path: the card's check
        zoo.load_pretrained(no_cache / "mlp-wine")


def test_a_card_edited_by_hand_is_refused(tmp_path):
    folder = tmp_path / "ckpt"
    shutil.copytree(ROOT / "weights" / "mlp-wine", folder)
    card = folder / "card.json"
    card.write_text(card.read_text().replace('"acc": 1.0', '"acc": 0.99', 1))
    with pytest.raises(CheckpointError, match="changed after it was saved"):
        zoo.load_pretrained(folder)


@pytest.mark.parametrize("argv, message", [
    (["pretrained", "show", "mlp-mnsit"], "unknown pretrained id 'mlp-mnsit'"),
    (["pretrained", "list", ""], "pattern must be a non-empty"),
])
def test_cli_mistakes_are_one_line_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_list_and_show(capsys):
    assert main(["pretrained", "list", "mlp-*"]) == 0
    out = capsys.readouterr().out
    assert "mlp-mnist" in out and "small_cnn" not in out and "test acc 0.9858" in out
    assert main(["pretrained", "show", "mlp-wine"]) == 0
    out = capsys.readouterr().out
    for text in ("benchmarks/recipes/mlp-wine.yaml", "CC BY 4.0", "parameters  3,267", "class_0, class_1, class_2"):
        assert text in out


def test_pack_stores_half_precision_and_scores_the_weights_as_stored(tmp_path, capsys):
    out = tmp_path / "mlp-wine"
    assert main(["pretrained", "pack", "mlp-wine", "--id", "mlp-wine", "--storage", "float16", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    card = read_card(out)
    source = read_card(hub.folder_of("mlp-wine")[0])
    assert card["storage"] == "float16" and card["weights_bytes"] < 0.6 * source["weights_bytes"]
    assert card["num_parameters"] == source["num_parameters"] and card["config"] == source["config"]
    assert f"{card['sha256']!r}, {card['weights_bytes']}" in printed
    # The card's figures are those of the file as stored: evaluated again from it, they are equal.
    task = zoo.load_pretrained(out)
    dm = load_data("wine", batch_size=card["batch_size"], seed=card["seed"], data_options=card["data_options"])
    for split in ("val", "test"):
        metrics, _ = task.evaluate(getattr(dm, f"{split}_dataloader")())
        assert metrics["loss"] == card["metrics"][split]["loss"] != source["metrics"][split]["loss"]
    # A second pack into the same folder, an id of another checkpoint, a precision that does not exist.
    for argv, needle in ((["--id", "mlp-wine", "--out", str(out)], "exists; pack into a new folder"),
                         (["--id", "mlp-mnist", "--out", str(tmp_path / "x")], "'mlp-mnist' must be mlp-wine[-TAG]"),
                         (["--id", "mlp-wine-../x"], "'../x' must be lowercase letters, digits and _"),
                         (["--id", "mlp-wine", "--storage", "int8", "--out", str(tmp_path / "y")], "unknown storage 'int8'")):
        assert main(["pretrained", "pack", "mlp-wine", *argv]) == 2
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1
    assert read_card(out) == card and not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


# ----------------------------------------------------------------------------- fine-tuning


def _subset(dm: TensorDataModule, classes: list[int], limit: int) -> TensorDataModule:
    """The samples of ``classes`` (labels remapped to 0..k-1), at most ``limit`` per split."""
    remap = torch.full((int(dm.targets("train").max()) + 1,), -1, dtype=torch.long)
    remap[torch.tensor(classes)] = torch.arange(len(classes))
    splits = []
    for split in ("train", "val", "test"):
        x, y = dm.inputs(split), dm.targets(split)
        keep = remap[y] >= 0
        splits.append((x[keep][:limit], remap[y[keep]][:limit]))
    names = [dm.info.class_names[c] for c in classes] if dm.info.class_names else None
    info = DataInfo(name=dm.info.name, kind="multiclass", input_shape=dm.info.input_shape, num_classes=len(classes),
                    class_names=names)
    return TensorDataModule(info, *splits, batch_size=64, seed=0)


def _frozen_state(task) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in task.model.state_dict().items() if not k.startswith("head.")}


def _check_backbone_unchanged(task, before, head_before):
    after = task.model.state_dict()
    assert before and all(torch.equal(before[k], after[k]) for k in before), [k for k in before if not torch.equal(before[k], after[k])]
    assert any("running_mean" in k for k in before) and any("num_batches_tracked" in k for k in before)
    assert not torch.equal(head_before, task.get_classifier().weight)  # the head did learn


def _trainer_fit(task, dm):
    trainer = L.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=2)
    trainer.fit(task, datamodule=dm)


@pytest.mark.parametrize("loop", ["zoobench", "lightning"])
def test_frozen_backbone_stays_bit_identical_embedded(loop, tmp_path):
    dm = _subset(load("wine", batch_size=16, seed=0, split_seed=0), [0, 1], 1000)
    task = zoo.create("mlp", pretrained="mlp-wine", num_classes=2, freeze="backbone")
    assert task.num_parameters(trainable_only=True) == 32 * 2 + 2
    before, head = _frozen_state(task), task.get_classifier().weight.detach().clone()
    if loop == "zoobench":
        fit(task, dm, LoopConfig(max_epochs=3))
    else:
        _trainer_fit(task, dm)
    _check_backbone_unchanged(task, before, head)
    out = save_checkpoint(task, tmp_path / "ft", metrics={})
    card = load_checkpoint(out).card
    assert card["parent"]["id"] == "mlp-wine" and card["kwargs"]["num_classes"] == 2


@pytest.mark.parametrize("loop", ["zoobench", "lightning"])
def test_frozen_backbone_stays_bit_identical_mnist_5_classes(loop, shared_data):
    dm = _subset(load("mnist", batch_size=64, seed=0, split_seed=0), [0, 1, 2, 3, 4], 3000)
    L.seed_everything(0)
    task = zoo.create("mlp", pretrained="mlp-mnist", num_classes=5, freeze="backbone")
    before, head = _frozen_state(task), task.get_classifier().weight.detach().clone()
    if loop == "zoobench":
        fit(task, dm, LoopConfig(max_epochs=2))
    else:
        _trainer_fit(task, dm)
    _check_backbone_unchanged(task, before, head)
    metrics, _ = task.evaluate(dm.test_dataloader())
    assert metrics["acc"] > 0.5  # the head learned on frozen MNIST features (chance: 0.2)


def test_frozen_norms_survive_a_direct_train_call_and_unfreeze_top():
    task = zoo.create("mlp", pretrained="mlp-wine", freeze="all")
    task.model.train()  # bypasses Task.train: the forward pre-hook still keeps the statistics
    before = _frozen_state(task)
    task.model(torch.randn(8, 13))
    assert all(torch.equal(before[k], v) for k, v in _frozen_state(task).items())
    unfreeze_top(task, 1)
    top = backbone_blocks(task.model)[-1]
    assert all(p.requires_grad for p in top.parameters()) and not any(p.requires_grad for p in task.model.head.parameters())
    assert len(frozen_norms(task.model)) == 1  # the first block's batch norm only
    with pytest.raises(ConfigError, match="at most 2"):
        unfreeze_top(task, 3)


def test_reset_classifier():
    task = zoo.load_pretrained("mlp-wine", freeze="backbone")
    task.reset_classifier(7)
    head = task.get_classifier()
    assert head.out_features == 7 and head.weight.requires_grad and task.model(torch.randn(4, 13)).shape == (4, 7)
    assert task.zoo_spec["kwargs"]["num_classes"] == 7 and task.data_info.class_names is None
    with pytest.raises(ConfigError, match="num_classes must be an integer > 0"):
        task.reset_classifier(0)
