"""The `zoo` command: a working run end to end, and one clear line for every mistake."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.cli import main


def run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own exits (usage errors, --help)
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list(capsys):
    code, out, _ = run(["list"], capsys)
    assert code == 0 and "mlp" in out and "digits" in out and "embedded" in out
    assert "  char_gru           language_model" in out and "  mnist              multiclass     data dir" in out
    code, out, _ = run(["list", "models", "--pattern", "char_*"], capsys)
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert code == 0 and out.startswith("models:\n") and "datasets:" not in out
    assert names == sorted(n for n in __import__("zoo").list_models() if n.startswith("char_"))


NO_TORCH = """
import sys
from zoo.cli import main
try:
    code = main({argv!r})
except SystemExit as e:
    code = e.code
heavy = sorted(m for m in ("torch", "lightning", "lightning.pytorch", "torchmetrics", "optuna") if m in sys.modules)
print(code, heavy)
"""


@pytest.mark.parametrize("argv", [["--help"], [], ["list"], ["list", "datasets"], ["report", "--help"], ["lst"]])
def test_help_list_and_report_import_neither_torch_nor_lightning(argv):
    p = subprocess.run([sys.executable, "-c", NO_TORCH.format(argv=argv)], capture_output=True, text=True, timeout=120)
    code, heavy = p.stdout.strip().splitlines()[-1].split(" ", 1)
    assert heavy == "[]", f"zoo {' '.join(argv)} imported {heavy}"
    assert int(code) == (2 if argv in ([], ["lst"]) else 0), p.stderr
    if argv == ["lst"]:
        assert "invalid choice: 'lst'" in p.stderr and "Traceback" not in p.stderr


def test_report_command_module_imports_without_torch():
    code = "import sys, zoo.report.cli\nprint(sorted(m for m in ('torch', 'lightning') if m in sys.modules))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.stdout.strip() == "[]", p.stderr


def test_command_table_matches_the_modules():
    """Every command of the static table is defined by its module, with the table's help line, and nothing else."""
    import importlib

    from zoo.cli import COMMANDS, Parser

    for module in dict.fromkeys(c.module for c in COMMANDS):
        parser = Parser(prog="zoo")
        sub = parser.add_subparsers(parser_class=Parser)
        mine = [c for c in COMMANDS if c.module == module]
        importlib.import_module(module).add_commands(sub, [mine[0].name])
        assert list(sub.choices) == [c.name for c in mine], module
        helps = {a.dest: a.help for a in sub._choices_actions}
        for c in mine:
            assert helps[c.name] == c.help, c.name
            assert callable(sub.choices[c.name].get_default("run")), c.name


def test_train_writes_run_folder(tmp_path, capsys):
    out_dir = tmp_path / "run"
    code, out, err = run(["train", "mlp_tiny", "--data", "wine", "--max_epochs", "3", "--hidden", "8,8",
                          "--activation", "elu", "--optimizer", "nesterov", "--lr", "0.05", "--out", str(out_dir),
                          "--data-option", "limit=60", "--progress", "false"], capsys)
    assert code == 0, err
    result = json.loads((out_dir / "result.json").read_text())
    assert result["spec"]["kwargs"]["hidden"] == [8, 8] and result["spec"]["kwargs"]["optimizer"] == "nesterov"
    assert (out_dir / "checkpoint" / "card.json").exists() and (out_dir / "logs" / "metrics.csv").exists()
    assert "test: loss" in out and "steps" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "mpl"], "unknown model 'mpl'. Did you mean 'mlp'"),
        (["train", "mlp_tiny", "--data", "mnits"], "unknown dataset 'mnits'. Did you mean 'mnist'"),
        (["train", "mlp_tiny", "--activation", "relu6"], "unknown activation 'relu6'"),
        (["train", "mlp_tiny", "--optimizer", "lamb"], "unknown optimizer 'lamb'"),
        (["train", "mlp_tiny", "--hidden", "8,0"], "each hidden size must be an integer > 0, got 0"),
        (["train", "mlp_tiny", "--batch-size", "-4"], "batch_size must be an integer > 0, got -4"),
        (["train", "mlp_tiny", "--lr", "fast"], "--lr: lr must be a finite number, got 'fast'"),
        (["train", "mlp_tiny", "--max_epochs", "0"], "max_epochs must be an integer > 0, got 0"),
        (["train", "mlp_tiny", "--logger", "mlflow"], "unknown logger 'mlflow'"),
        (["train", "mlp_tiny", "--data-option", "limt=5"], "limt"),
        (["train", "mlp_tiny", "--schedule", "cosine", "--warmup_epochs", "-1"], "warmup_epochs must be a number >= 0"),
        # Lightning would quietly run bf16 instead; the run must not be labelled 16-mixed
        (["train", "mlp_tiny", "--precision", "16-mixed"], "precision '16-mixed' is not supported on cpu"),
    ],
)
def test_mistakes_give_one_line_and_exit_2(argv, message, capsys, tmp_path):
    code, out, err = run([*argv, "--out", str(tmp_path / "r")], capsys)
    assert code == 2
    lines = [line for line in err.strip().splitlines() if not line.startswith("zoo train ")]
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err
    assert not (tmp_path / "r").exists()  # a rejected run leaves nothing behind


def test_existing_output_is_never_overwritten(tmp_path, capsys):
    out_dir = tmp_path / "keep"
    out_dir.mkdir()
    (out_dir / "result.json").write_text("precious")
    code, _, err = run(["train", "mlp_tiny", "--out", str(out_dir)], capsys)
    assert code == 2 and "already exists and is not empty" in err
    assert (out_dir / "result.json").read_text() == "precious"


def test_missing_data_file_is_one_line(tmp_path):
    env = {**os.environ, "ZOO_DATA": str(tmp_path / "empty"), "ZOO_OFFLINE": "1"}
    p = subprocess.run([sys.executable, "-m", "zoo.cli", "train", "mlp_tiny", "--data", "mnist", "--out", str(tmp_path / "r")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    err = [line for line in p.stderr.splitlines() if line.startswith("zoo: error")]
    assert len(err) == 1 and "mnist/" in err[0] and "sha256" in err[0] and str(tmp_path / "empty") in err[0]


def test_console_script_help_lists_model_flags():
    exe = Path(sys.executable).with_name("zoo")
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    p = subprocess.run([str(exe), "train", "mlp", "--help"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0
    assert "--activation" in p.stdout and "Hidden activation" in p.stdout and "--schedule" in p.stdout
