"""One configuration path: the typed parts, the one value parser and validator, and what a run records."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import zoo
from zoo import config, registry
from zoo.bench.parse import parse_study
from zoo.bench.study import StudyError
from zoo.cli import main
from zoo.errors import ConfigError, ZooError
from zoo.tasks import TASKS

REPO = Path(__file__).resolve().parents[1]


def tiny_study(**over):
    study = {"name": "t", "problems": ["mlp_tiny-digits"], "fixed": {"hidden": [8]}, "data_options": {"limit": 96},
             "seeds": 1, "budget": {"max_epochs": 1}}
    return {**study, **over}


def run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


# ----------------------------------------------------------------------------- the parts


@pytest.mark.parametrize("kind", sorted(config.TASK_SETTINGS))
def test_task_settings_match_the_task_constructors(kind):
    cls = TASKS[kind]
    params = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()
              if k not in ("self", "model", "optim", "binary")}
    fields = {f.name: f.default for f in dataclasses.fields(config.TASK_SETTINGS[kind])}
    assert fields == params
    assert config.TASK_SETTINGS[kind].default_optim == cls.default_optim


def test_no_setting_belongs_to_two_parts():
    for entry in registry.entries():
        for kind in entry.tasks:
            table = config.settings_table(entry.config, kind)  # raises on a name in two parts
            assert {"lr", "max_epochs", "batch_size", "seed", "data_options"} <= set(table)


def test_binary_is_told_apart_once():
    assert config.task_kwargs("binary", config.ClassificationSettings())["binary"] is True
    assert "binary" not in config.task_kwargs("multiclass", config.ClassificationSettings())
    assert zoo.create("mlp_tiny", task="binary", num_classes=1).binary is True


# ----------------------------------------------------------------------------- the value parser


@pytest.mark.parametrize("text, tp, want", [
    ("8,8", tuple[int, ...], (8, 8)), ("[8, 16]", tuple[int, ...], (8, 16)), ("true", bool, True), ("off", bool, False),
    ("1e-3", float, 1e-3), ("none", float | None, None), ("32", int, 32), ("relu", str, "relu"),
])  # fmt: skip
def test_text_values(text, tp, want):
    assert config.coerce(text, tp, "x", text=True) == want


@pytest.mark.parametrize("value, tp, text", [
    ("inf", float, True), ("1e400", float, True), (float("nan"), float, False), (float("inf"), float, False),
    ("1,,2", tuple[int, ...], True), ("", tuple[int, ...], True), ("", str, True), ("", str, False), ((1, ""), tuple[str, ...], False),
    ("99999999999999999999999", int, True), (2**64, int, False), ("0.01", float, False), (True, int, False), (1.5, int, False),
])  # fmt: skip
def test_bad_values_are_refused_everywhere(value, tp, text):
    with pytest.raises(ConfigError, match=r"^x must be .*, got .*\.$"):
        config.coerce(value, tp, "x", text=text)


def test_seeds_are_bounded_to_what_every_generator_takes():
    with pytest.raises(ConfigError, match=rf"seed must be an integer in \[0, {config.SEED_MAX}\]"):
        config.coerce("99999999999999999999999", int, "seed", text=True)
    with pytest.raises(ConfigError, match="seed must be an integer in"):
        config.RunSettings(seed=2**40)
    assert config.RunSettings(seed=config.SEED_MAX).seed == config.SEED_MAX


@pytest.mark.parametrize("flag, value, settings, study, message", [
    ("--activation", "relux", {"activation": "relux"}, {"fixed": {"activation": "relux"}}, "unknown activation 'relux'"),
    ("--lr", "fast", {"lr": "fast"}, {"fixed": {"lr": "fast"}}, "lr must be a finite number, got 'fast'."),
    ("--hidden", "0", {"hidden": (0,)}, {"fixed": {"hidden": [0]}}, "each hidden size must be an integer > 0, got 0."),
    ("--max_epochs", "0", {"max_epochs": 0}, {"budget": {"max_epochs": 0}}, "max_epochs must be an integer > 0, got 0."),
    ("--label_smoothing", "1.0", {"label_smoothing": 1.0}, {"fixed": {"label_smoothing": 1.0}}, "label_smoothing must be in [0, 1), got 1.0."),
])  # fmt: skip
def test_the_same_mistake_reads_the_same_from_cli_api_and_yaml(flag, value, settings, study, message, capsys, tmp_path):
    code, _, err = run(["train", "mlp_tiny", flag, value, "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and message in err
    with pytest.raises(ZooError) as api:
        zoo.train("mlp_tiny", "digits", **settings)
    assert message in str(api.value)
    with pytest.raises(StudyError) as yml:
        parse_study(tiny_study(**study), "t.yaml")
    assert message in str(yml.value)


def test_parsing_every_shipped_study_imports_no_lightning_nor_optuna():
    # transfer_cnn and transfer_chars are left out: their cells start from a checkpoint trained on other data
    # (small_cnn-mnist on MNIST, char_gru-shakespeare on Shakespeare's characters), so checking that the shapes
    # fit reads the target data (its input shape, its vocabulary), and the data modules are Lightning's.
    code = (
        "import sys; from zoo.bench.parse import load_study; from zoo.bench.study import list_studies\n"
        "for name in sorted(set(list_studies()) - {'transfer_cnn', 'transfer_chars'}):\n"
        "    load_study(name, allow_missing=True); load_study(name, quick=True, allow_missing=True)\n"
        "bad = sorted(m for m in sys.modules if m in ('lightning', 'optuna') or m.startswith(('lightning.', 'optuna.')))\n"
        "print(len(bad)); print(sorted(m for m in sys.modules if m.startswith('zoo.')))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert p.returncode == 0, p.stderr
    count, mods = p.stdout.splitlines()
    assert "'zoo.tasks'" not in mods and "'zoo.engine'" not in mods and "'zoo.training'" not in mods  # no task is built
    assert count == "0"


# ----------------------------------------------------------------------------- bad invocations


def _bad(argv, capsys, tmp_path, needle):
    out = tmp_path / "r"
    code, stdout, err = run(["train", *argv] + ([] if "--out" in argv else ["--out", str(out)]), capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err and "zoo train mlp" not in err and not stdout
    assert not out.exists()


@pytest.mark.parametrize("argv, needle", [
    (["mlp", "--seed", "99999999999999999999999"], "seed must be an integer in [0, 4294967295]"),
    (["mlp", "--hidden", "2000000000"], "parameters: training needs about"),
    (["mlp", "--lr", "inf"], "lr must be a finite number, got 'inf'"),
    (["mlp", "--lr", "1e400"], "lr must be a finite number, got '1e400'"),
    (["mlp", "--hidden", "1,,2"], "hidden must be a list of integers, got '1,,2'"),
    (["mlp", "--hidden", ""], "hidden must be a list of integers, got ''"),
    (["mlp", "--data", ""], "data must be a non-empty string"),
    (["mlp", "--norm", "batch", "--batch-size", "1"], "norm 'batch' needs batches of at least 2 samples"),
    (["mlp_mnist", "--data", "digits", "--batch-size", "1"], "norm 'batch' needs batches of at least 2 samples"),
    (["mlp", "--data-option", "limit=-1"], "limit must be an integer > 0, got -1"),
    (["mlp", "--data-option", "limit=x"], "limit must be an integer or null, got 'x'"),
    (["mlp", "--threads", "-1"], "threads must be an integer in [0, 1024]"),
    (["mlp", "--monitor", "val_nope"], "monitor 'val_nope' is not a validation metric"),
])  # fmt: skip
def test_bad_train_options_are_one_line_and_create_nothing(argv, needle, capsys, tmp_path):
    _bad(argv, capsys, tmp_path, needle)


def test_bad_output_folders(capsys, tmp_path):
    _bad(["mlp_tiny", "--out", ""], capsys, tmp_path, "--out is empty")
    (tmp_path / "file").write_text("x")
    _bad(["mlp_tiny", "--out", str(tmp_path / "file" / "run")], capsys, tmp_path, "is a file, not a folder")
    if os.geteuid() != 0:  # root writes into read-only folders
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        _bad(["mlp_tiny", "--out", str(ro / "run")], capsys, tmp_path, "is not writable")
        assert list(ro.iterdir()) == []


def test_study_bounds(tmp_path):
    with pytest.raises(StudyError, match=r"seeds: the count must be in \[1, 1000\], got 1000000000"):
        parse_study(tiny_study(seeds=1_000_000_000), "t.yaml")
    with pytest.raises(StudyError, match=r"data_options.limit: limit must be an integer > 0, got -1"):
        parse_study(tiny_study(data_options={"limit": -1}), "t.yaml")
    with pytest.raises(StudyError, match="seeds\\[0\\]: a seed must be an integer in"):
        parse_study(tiny_study(seeds=[2**40]), "t.yaml")
    with pytest.raises(StudyError, match="expands to 500,000 cells"):
        parse_study(tiny_study(seeds=1000, nuisance={"lr": [0.001 * (k + 1) for k in range(500)]}), "t.yaml")


def test_zoo_create_takes_model_task_and_optimizer_settings_only():
    with pytest.raises(ConfigError, match="'max_epochs' is a loop setting; zoo.create takes model, task, optimizer"):
        zoo.create("mlp_tiny", max_epochs=3)


# ----------------------------------------------------------------------------- what a run records


def _train(capsys, *argv):
    code, out, err = run(["train", *argv, "--logger", "none", "--progress", "false"], capsys)
    assert code == 0, err
    return out, err


def test_a_card_reproduces_its_run_bit_for_bit(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    _, err = _train(capsys, "mlp", "--max_epochs", "2", "--out", str(a))
    assert err.count("zoo train mlp on digits -> ") == 1
    result = json.loads((a / "result.json").read_text())
    card = json.loads((a / "checkpoint" / "card.json").read_text())
    assert result["status"] == "ok" and card["config"] == result["config"]
    cfg = result["config"]
    assert list(cfg) == list(config.SECTIONS)
    assert cfg["loop"]["max_epochs"] == 2 and {"patience", "clip_norm", "clip_value", "min_delta"} <= set(cfg["loop"])
    assert cfg["model"]["hidden"] == [512, 64, 32] and cfg["model"]["in_features"] == 64  # in full, as built
    _train(capsys, "--config", str(a / "checkpoint" / "card.json"), "--out", str(b))
    again = json.loads((b / "result.json").read_text())
    assert again["metrics"] == result["metrics"] and again["config"] == result["config"]
    assert (b / "checkpoint" / "model.safetensors").read_bytes() == (a / "checkpoint" / "model.safetensors").read_bytes()


def test_an_edited_card_is_refused_as_a_configuration(tmp_path, capsys):
    """A card given to --config is verified whole, as every load of a checkpoint is."""
    a = tmp_path / "a"
    _train(capsys, "mlp_tiny", "--max_epochs", "1", "--out", str(a))
    card_path = a / "checkpoint" / "card.json"
    card = json.loads(card_path.read_text())
    card["config"]["model"]["activation"] = "tanh"
    card_path.write_text(json.dumps(card))
    code, _, err = run(["train", "--config", str(card_path), "--out", str(tmp_path / "b"), "--logger", "none"], capsys)
    assert code == 2 and err.count("\n") == 1 and "was changed after it was saved" in err
    assert not (tmp_path / "b").exists()


def test_print_config_round_trips_and_flags_override_the_file(tmp_path, capsys):
    code, out, _ = run(["train", "mlp_tiny", "--data", "wine", "--lr", "0.01", "--max_epochs", "3", "--print-config"], capsys)
    assert code == 0
    doc = yaml.safe_load(out)
    assert doc["optimizer"]["lr"] == 0.01 and doc["loop"]["max_epochs"] == 3 and doc["data"]["name"] == "wine"
    path = tmp_path / "c.yaml"
    path.write_text(out)
    code, again, _ = run(["train", "--config", str(path), "--print-config"], capsys)
    assert code == 0 and yaml.safe_load(again) == doc
    code, over, _ = run(["train", "--config", str(path), "--lr", "0.5", "--print-config"], capsys)
    assert yaml.safe_load(over)["optimizer"]["lr"] == 0.5
    path.write_text("model: mlp_tiny\nloop: {lr: 0.1}\n")
    code, _, err = run(["train", "--config", str(path), "--print-config"], capsys)
    assert code == 2 and "loop.lr: 'lr' is not a loop setting; move it under optimizer" in err


def test_a_diverged_run_exits_non_zero_and_leaves_no_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run(["train", "mlp_tiny", "--optimizer", "sgd", "--lr", "1e8", "--max_epochs", "3",
                        "--log_every_n_steps", "2", "--logger", "none", "--progress", "false", "--out", str(out)], capsys)
    assert code == 1 and "training diverged" in err.strip().splitlines()[-1]
    assert json.loads((out / "result.json").read_text())["status"] == "diverged"
    assert not (out / "checkpoint").exists()
