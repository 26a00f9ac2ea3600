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


@pytest.mark.parametrize("storage", ["float16", "bfloat16"])
def test_half_precision_storage_halves_the_file_and_loads_the_rounded_weights(trained, tmp_path, storage):
    res, ckpt = trained
    half = save_checkpoint(res.task, tmp_path / storage, metrics=res.metrics, storage=storage)
    full = read_card(ckpt)
    card = read_card(half)
    assert card["storage"] == storage and full["storage"] == "float32"
    # Two bytes a number instead of four (the safetensors header differs only in its offsets' digits).
    floats = sum(v.numel() for v in res.task.model.state_dict().values() if v.is_floating_point())
    assert abs(full["weights_bytes"] - card["weights_bytes"] - 2 * floats) < 64
    loaded = load_checkpoint(half)
    want = getattr(torch, storage)
    for key, value in res.task.model.state_dict().items():
        got = loaded.model.state_dict()[key]
        assert got.dtype == value.dtype, key  # widened back: the model computes in float32 as trained
        rounded = value.to(want).to(value.dtype) if value.is_floating_point() else value
        assert torch.equal(got, rounded), key  # rounded once, exactly
    x = res.data.inputs("test")[:50]
    assert torch.allclose(loaded.eval()(x), res.task.eval()(x), atol=0.05)
    with pytest.raises(UnknownNameError, match="unknown storage .int8."):
        save_checkpoint(res.task, tmp_path / "int8", storage="int8")
    assert not (tmp_path / "int8").exists()


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


# ----------------------------------------------------------------------------- verified as a whole


def _edit(ckpt, change):
    """Apply ``change`` to the parsed card and write it back as an editor would (digest untouched)."""
    card = json.loads((ckpt / "card.json").read_text())
    change(card)
    (ckpt / "card.json").write_text(json.dumps(card, indent=2))


def _one_line(e: pytest.ExceptionInfo, *needles: str) -> str:
    text = str(e.value)
    assert "\n" not in text and all(n in text for n in needles), text
    return text


def _set(path, value):
    def change(card):
        d = card
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value(d[path[-1]]) if callable(value) else value

    return change


@pytest.mark.parametrize(
    "change",
    [
        _set(["kwargs", "activation"], "tanh"),  # changes 76% of predictions, and no weight
        _set(["task"], "regression"),
        _set(["data", "class_names"], lambda names: names[::-1]),
        _set(["kwargs", "num_classes"], 9),
        _set(["data", "input_shape"], [8, 8]),
        _set(["metrics", "test", "acc"], 0.999),  # descriptive fields are covered too (see zoo.checkpoint)
        _set(["created"], "2020-01-01T00:00:00+0000"),
        _set(["sha256"], "0" * 64),  # a consistent lie needs the digest too
    ],
    ids=["activation", "task", "reversed_class_names", "num_classes", "input_shape", "metrics", "created", "sha256"],
)
def test_any_edit_of_the_card_is_refused(trained, tmp_path, change):
    ckpt = _copy(trained[1], tmp_path)
    _edit(ckpt, change)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    _one_line(e, str(ckpt / "card.json"), "was changed after it was saved")
    with pytest.raises(CheckpointError, match="was changed after it was saved"):
        read_card(ckpt)  # read_card alone verifies it too (zoo generate/translate read it first)


def test_a_rewritten_card_with_the_same_fields_loads(trained, tmp_path):
    """The digest is over the fields, not the file's bytes: re-indenting or reordering keys is no change."""
    ckpt = _copy(trained[1], tmp_path)
    card = json.loads((ckpt / "card.json").read_text())
    (ckpt / "card.json").write_text(json.dumps(dict(reversed(card.items())), separators=(",", ":")))
    res = trained[0]
    x = res.data.inputs("test")[:20]
    assert torch.equal(load_checkpoint(ckpt).eval()(x), res.task.eval()(x))


@pytest.mark.parametrize(
    "field, value, needle",
    [
        (["sha256"], 12345, "'sha256' must be a 64-character"),
        (["sha256"], None, "'sha256' must be a 64-character"),
        (["kwargs"], [1, 2], "'kwargs' must be an object"),
        (["data"], ["digits"], "'data' must be an object"),
        (["data", "class_names"], "0123456789", "'data.class_names' must be a list of strings"),
        (["data", "num_classes"], True, "'data.num_classes' must be a non-negative integer"),
        (["weights_bytes"], "big", "'weights_bytes' must be a non-negative integer"),
        (["model"], "", "'model' must be a model name"),
        (["digest"], 7, "'digest' must be a 64-character"),
        (["format"], "zoobench-checkpoint/1", "is a zoobench-checkpoint/1 card"),
        (["storage"], "float8", "'storage' must be one of float32, float16, bfloat16"),
    ],
)
def test_wrong_types_in_the_card_are_one_line(trained, tmp_path, field, value, needle):
    ckpt = _copy(trained[1], tmp_path)
    _edit(ckpt, _set(field, value))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    _one_line(e, str(ckpt / "card.json"), needle)


def test_missing_fields_and_non_objects_are_one_line(trained, tmp_path):
    ckpt = _copy(trained[1], tmp_path)
    _edit(ckpt, lambda card: card.pop("kwargs"))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    _one_line(e, "lacks 'kwargs'")
    (ckpt / "card.json").write_text("[1, 2, 3]")
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    _one_line(e, "is not a zoobench checkpoint card")
    (ckpt / "card.json").write_text("[" * 100_000)  # deeper than the JSON parser's recursion
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    _one_line(e, "is not valid JSON")


@pytest.fixture
def alarm():
    """Fail (instead of hanging the suite) if a load blocks for 20 s."""
    import signal

    def boom(*_):
        raise TimeoutError("the load hung")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("name", ["card.json", "model.safetensors"])
@pytest.mark.parametrize("kind", ["directory", "dev_zero", "fifo", "dangling"])
def test_only_regular_files_are_read(trained, tmp_path, alarm, name, kind):
    import os

    ckpt = _copy(trained[1], tmp_path)
    target = ckpt / name
    target.unlink()
    if kind == "directory":
        target.mkdir()
        needle = "is a directory"
    elif kind == "dev_zero":
        target.symlink_to("/dev/zero")  # would hang sha256 and fill memory if read
        needle = "is a device"
    elif kind == "fifo":
        os.mkfifo(target)  # would block open() without O_NONBLOCK
        needle = "is a pipe"
    else:
        target.symlink_to(tmp_path / "gone")
        needle = "does not exist"
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    _one_line(e, str(target), needle)


def test_sizes_are_bounded(trained, tmp_path, monkeypatch):
    import zoo.checkpoint as ck

    ckpt = _copy(trained[1], tmp_path)
    monkeypatch.setattr(ck, "MAX_CARD_BYTES", 1000)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    _one_line(e, "card.json", "more than the 1,000 allowed")
    monkeypatch.undo()
    with open(ckpt / "model.safetensors", "ab") as f:  # grown: refused before a byte is hashed
        f.write(b"\0" * 10)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    _one_line(e, "model.safetensors", "not the", "recorded for it")


def test_shape_mismatch_is_one_line_naming_the_tensor(trained):
    _, ckpt = trained
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt, hidden=[8])
    text = _one_line(e, "tensor 'body.0.0.weight' has shape [16, 64]", "the model expects [8, 64]")
    assert "Error(s) in loading state_dict" not in text


def test_the_cli_prints_one_line_for_an_edited_card(trained, tmp_path, capsys):
    from zoo.cli import main

    ckpt = _copy(trained[1], tmp_path)
    _edit(ckpt, _set(["task"], "language_model"))
    assert main(["generate", str(ckpt), "--prompt", "a"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "was changed after it was saved" in err and "Traceback" not in err


def test_swapped_vocabulary_tokens_are_refused(tmp_path, capsys):
    """Two swapped tokens would change `zoo generate`'s text without touching a weight."""
    from zoo.cli import main

    out = tmp_path / "char"
    zoo.train("char_gru_tiny", "shakespeare_sample", seed=0, batch_size=16, data_options={"window": 50},
              out_dir=out, max_epochs=1, progress=False, logger="none")
    ckpt = out / "checkpoint"
    argv = ["generate", str(ckpt), "--prompt", "to be", "--length", "30", "--seed", "1"]
    assert main(argv) == 0
    before = capsys.readouterr().out

    def swap(card):
        tokens = card["data"]["extra"]["vocab"]["tokens"]
        i, j = tokens.index("e"), tokens.index("t")
        tokens[i], tokens[j] = tokens[j], tokens[i]

    _edit(ckpt, swap)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "was changed after it was saved" in err and str(ckpt / "card.json") in err
    assert before.startswith("to be")
