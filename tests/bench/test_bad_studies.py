"""Bad input: generated bad studies each give one clear line and exit 2, never a traceback,
and leave the results already in the store untouched."""

from __future__ import annotations

import copy
import subprocess

import pytest
import yaml
from bench_helpers import PYTHON, REPO, subprocess_env, tiny_study
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo.bench.parse import parse_study
from zoo.bench.study import TOP_KEYS
from zoo.bench.sweep import run_study
from zoo.cli import main

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
JUNK = st.one_of(
    st.text(max_size=8), st.integers(-5, 5), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.none(), st.lists(st.integers(), max_size=2), st.dictionaries(NAMES, st.integers(), max_size=2),
)
SETTINGS_OF_MLP = {
    "activation", "alpha", "batch_size", "beta1", "beta2", "clip_norm", "clip_value", "decay_epochs", "decay_rate",
    "device", "dropout", "eps", "gamma", "hidden", "in_features", "init", "init_distribution", "l1", "l2",
    "label_smoothing", "log_every_n_steps", "lr", "max_epochs", "max_steps", "max_time", "milestones", "min_delta",
    "min_lr", "momentum", "monitor", "norm", "norm_position", "num_classes", "optimizer", "patience",
    "plateau_factor", "plateau_patience", "power", "precision", "restore_best", "scale_per_feature", "scaling",
    "schedule", "warmup_epochs", "warmup_steps", "weight_decay", "huber_delta", "aux_weight",
}


def _set(raw, path, value):
    node = raw
    for k in path[:-1]:
        node = node.setdefault(k, {})
    node[path[-1]] = value
    return raw


@st.composite
def bad_studies(draw):
    """(text of a study file, use --quick): each breaks exactly one rule of the format."""
    raw = copy.deepcopy(tiny_study())
    kind = draw(st.integers(0, 22))
    quick = False
    if kind == 0:  # unknown top-level key
        raw[draw(NAMES.filter(lambda k: k not in TOP_KEYS))] = draw(JUNK)
    elif kind == 1:  # unknown setting in an axis section
        section = draw(st.sampled_from(["scientific", "nuisance", "fixed"]))
        raw[section] = {draw(NAMES.filter(lambda k: k not in SETTINGS_OF_MLP)): [1]}
    elif kind == 2:  # a value of the wrong type or out of range for lr
        bad = draw(st.one_of(st.text(max_size=6), st.floats(max_value=0), st.booleans(), st.none(),
                             st.just(float("nan")), st.just(float("inf"))))
        raw["nuisance"] = {"lr": [0.01, bad]}
    elif kind == 3:  # unknown names in the zoo's tables
        key = draw(st.sampled_from(["optimizer", "activation", "norm", "init", "schedule", "device", "precision"]))
        raw["scientific"] = {key: [draw(NAMES.filter(lambda s: s not in {
            "adam", "sgd", "relu", "none", "batch", "layer", "he", "auto", "torch", "constant", "cpu", "cuda",
            "mps", "momentum", "tanh", "elu", "selu", "gelu", "silu", "swish", "mish", "glorot", "lecun",
            "cosine", "power", "plateau", "nadam", "adamw", "adamax", "adagrad", "rmsprop", "nesterov",
            "sigmoid", "prelu", "rrelu", "exponential", "piecewise", "onecycle", "leaky_relu"}))]}
    elif kind == 4:  # malformed or unknown problems
        raw["problems"] = [draw(st.one_of(
            NAMES.filter(lambda s: "-" not in s),
            st.builds(lambda m: f"{m}x-digits", NAMES),
            st.builds(lambda d: f"mlp_tiny-{d}zz", NAMES),
            st.just("mlp_tiny-"), st.integers(), st.none(), st.just({"model": "mlp_tiny"}),
        ))]
    elif kind == 5:  # bad seeds
        raw["seeds"] = draw(st.one_of(st.integers(max_value=0), st.just([]), st.just([0, 0]), st.just([-1]),
                                      st.floats(), st.text(max_size=4), st.just(True)))
    elif kind == 6:  # bad budget
        raw["budget"] = draw(st.one_of(
            st.just({}), st.dictionaries(NAMES.filter(lambda k: k not in ("max_epochs", "max_steps", "max_time")),
                                         st.integers(1, 3), min_size=1, max_size=1),
            st.builds(lambda v: {"max_epochs": v}, st.one_of(st.integers(max_value=0), st.text(max_size=3), st.floats(0.1, 0.9))),
            st.builds(lambda v: {"max_time": v}, st.floats(max_value=-0.01)),
        ))
    elif kind == 7:  # bad search
        raw["search"] = draw(st.one_of(NAMES.filter(lambda s: s != "grid"), st.builds(lambda n: {"random": n}, st.integers(max_value=0)),
                                       st.just({"random": 2, "seed": -1}), st.just({"grid": 1})))
    elif kind == 8:  # bad target
        raw["target"] = draw(st.one_of(
            st.builds(lambda m: {"metric": m, "value": 0.5}, NAMES.filter(lambda s: not s.startswith("val_") and s != "train_loss")),
            st.builds(lambda v: {"metric": "val_acc", "value": v}, st.one_of(st.text(max_size=3), st.none(), st.just(float("nan")))),
            st.just({"metric": "val_acc", "value": 0.9, "mode": "up"}), st.just("val_acc"),
        ))
    elif kind == 9:  # not a mapping at all
        return yaml.safe_dump(draw(st.one_of(st.lists(st.integers(), max_size=3), st.integers(), st.text(max_size=10).filter(lambda s: s.strip())))), False
    elif kind == 10:  # not YAML
        return draw(st.sampled_from(["name: [x", "a: b: c", "problems: {mlp", "- a\nb: c", "seeds: 1\nseeds: 2", "\t- x"])), False
    elif kind == 11:  # bad loader option
        raw["data_options"] = draw(st.one_of(
            st.dictionaries(NAMES.filter(lambda k: k not in ("limit", "eval_batch_size", "split_seed")), st.integers(), min_size=1, max_size=1),
            st.builds(lambda v: {"limit": v}, st.one_of(st.text(max_size=3), st.integers(max_value=0), st.floats(0.1, 0.9))),
            st.just({"seed": 1}), st.just({"batch_size": 4}),
        ))
    elif kind == 12:  # one setting in two roles
        raw["fixed"] = {**raw["fixed"], draw(st.sampled_from(["optimizer", "lr"])): 0.01}
    elif kind == 13:  # empty or repeated axis values
        raw["scientific"] = {"optimizer": draw(st.sampled_from([[], ["adam", "adam"], "adam", None, {"a": 1}]))}
    elif kind == 14:  # settings the runner owns
        raw["fixed"] = {**raw["fixed"], draw(st.sampled_from(["seed", "logger", "out_dir", "progress", "threads", "task", "model", "data"])): 1}
    elif kind == 15:  # bad quick overrides, run with --quick
        raw["quick"] = draw(st.one_of(
            st.builds(lambda k: {k: 1}, NAMES.filter(lambda k: k not in TOP_KEYS)), st.just({"name": "x"}),
            st.just({"seeds": 0}), st.just({"budget": {"max_epochs": -1}}), st.just([1]),
        ))
        quick = True
    elif kind == 16:  # a distribution with grid search
        raw["nuisance"] = {"lr": {draw(st.sampled_from(["log_uniform", "uniform"])): [1e-4, 1e-1]}}
    elif kind == 17:  # bad distribution or tuner
        raw["search"] = {"random": 2, "seed": 0}
        raw["nuisance"] = {"lr": draw(st.one_of(
            st.just({"log_uniform": [0.0, 0.1]}), st.just({"uniform": [0.1, 0.01]}), st.just({"log_uniform": [1e-3]}),
            st.just({"normal": [0, 1]}), st.just("range_tst"), st.just({"range_test": {"steps": 2}}),
            st.just({"range_test": {"bogus": 1}}),
        ))}
    elif kind == 18:  # cross-field conflicts the configs reject
        raw["fixed"] = {**raw["fixed"], **draw(st.sampled_from([
            {"clip_value": 1.0, "clip_norm": 1.0}, {"schedule": "onecycle", "warmup_epochs": 1.0},
            {"alpha": 0.1}, {"milestones": [3.0, 1.0]}, {"dropout": 1.5}, {"hidden": [0]}, {"hidden": "big"},
        ]))}
    elif kind == 19:  # incompatible model and dataset, or a model setting on the wrong family
        raw["problems"] = draw(st.sampled_from([["wide_deep_tiny-digits"], ["char_gru_tiny-digits"], ["mlp_tiny-w2v_tiny"]]))
    elif kind == 20:  # bad name
        raw["name"] = draw(st.one_of(st.just("a b"), st.just("../x"), st.just(""), st.integers(), st.just("-x")))
    elif kind == 21:  # baselines: not a list of other studies' names
        raw["baselines"] = draw(st.sampled_from([["tiny"], "schedules", ["a b"], ["x", "x"], [3], [None]]))
    else:  # a different study under the name of the one already stored
        raw["seeds"] = draw(st.integers(2, 5))
    return yaml.safe_dump(raw, sort_keys=False), quick


@pytest.fixture(scope="module")
def existing_store(tmp_path_factory):
    """A store holding a finished study named 'tiny' (one cell), to prove bad input never touches it."""
    out = tmp_path_factory.mktemp("runs")
    study = parse_study(tiny_study(problems=["mlp_tiny-digits"], nuisance={}, scientific={}), "tiny.yaml")
    run_study(study, out=out, quiet=True)
    snapshot = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}
    return out, snapshot


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=bad_studies())
def test_generated_bad_studies_fail_cleanly(existing_store, tmp_path_factory, capsys, case):
    text, quick = case
    out, snapshot = existing_store
    path = tmp_path_factory.mktemp("s") / "tiny.yaml"
    path.write_text(text)
    code = main(["bench", str(path), "--out", str(out), *(["--quick"] if quick else [])])
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code == 2, f"exit {code} for:\n{text}\n{captured.err}"
    assert "Traceback" not in captured.err + captured.out
    assert err.startswith("zoo: error: ") and "\n" not in err, err
    assert str(path) in err or str(out / "tiny") in err, f"the message names the file: {err}"
    now = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}
    assert now == snapshot, "existing results were touched"


def test_bad_study_in_a_real_process_exits_2_without_traceback(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tiny_study(scientific={"optimizer": ["adam", "adamm"]})))
    proc = subprocess.run([PYTHON, "-m", "zoo.cli", "bench", str(path), "--out", str(tmp_path / "runs")],
                          capture_output=True, text=True, env=subprocess_env(), cwd=REPO, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"zoo: error: {path}: scientific.optimizer[1]: unknown optimizer 'adamm'. Did you mean 'adam', 'nadam', "
        "'adamw'? Allowed: adagrad, adam, adamax, adamw, momentum, nadam, nesterov, rmsprop, sgd."
    )
    assert not (tmp_path / "runs").exists()


def test_bad_command_line_values(tmp_path, capsys, study_file):
    for argv, needle in [
        (["--workers", "0"], "--workers must be at least 1"),
        (["--threads", "0"], "--threads must be at least 1"),
        (["--address", "auto"], "--address is for --executor ray"),
    ]:
        assert main(["bench", str(study_file), "--out", str(tmp_path), *argv]) == 2
        assert needle in capsys.readouterr().err
    assert main(["bench", "no_such_study", "--out", str(tmp_path)]) == 2
    assert "unknown study 'no_such_study'" in capsys.readouterr().err
    assert main(["bench", str(tmp_path / "missing.yaml")]) == 2
    assert "no such study file" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.yaml"]  # no store was created
