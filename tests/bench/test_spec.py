"""Studies -> cells: checking, expansion, canonical ids, and the shipped studies."""

from __future__ import annotations

import copy
import itertools
import random
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench_helpers import tiny_study, write_study
from zoo.bench.cells import canonical, cell_id
from zoo.bench.parse import load_study, parse_study
from zoo.bench.study import StudyError, benchmarks_dir, list_studies
from zoo.bench.yamlfile import read_yaml


def test_grid_expands_problems_axes_and_seeds():
    study = parse_study(tiny_study(seeds=2), "t.yaml")
    cells = study.cells()
    assert len(cells) == 3 * 2 * 2 * 2  # problems x optimizers x lrs x seeds
    assert len({c.cell_id for c in cells}) == len(cells)
    c = cells[0]
    assert c.problem == "mlp_tiny-digits" and c.model == "mlp_tiny" and c.data == "digits"
    assert c.params == {"batch_size": 32, "hidden": [8], "max_epochs": 1, "optimizer": "adam", "lr": 0.01,
                        "data_options": {"limit": 96}}
    assert c.scientific == {"optimizer": "adam"} and c.nuisance == {"lr": 0.01}
    assert c.fixed == {"batch_size": 32, "hidden": [8], "max_epochs": 1}
    # Seeds outermost: the first seed covers every configuration of a problem first.
    assert [x.seed for x in cells[:8]] == [0] * 4 + [1] * 4
    # The id is the documented hash.
    assert c.cell_id == cell_id(c.problem, c.seed, c.params)
    assert len(c.cell_id) == 16 and int(c.cell_id, 16) >= 0


def test_exclude_rules_drop_exactly_the_matching_configurations():
    base = parse_study(tiny_study(), "t.yaml")
    study = parse_study(tiny_study(exclude=[{"optimizer": "momentum", "lr": [0.001]}]), "t.yaml")
    want = [c for c in base.cells() if not (c.scientific["optimizer"] == "momentum" and c.nuisance["lr"] == 0.001)]
    assert [c.cell_id for c in study.cells()] == [c.cell_id for c in want]  # the others keep their ids and order
    assert study.size() == len(want) == 3 * 3
    assert study.to_json()["exclude"] == [{"optimizer": ["momentum"], "lr": [0.001]}]
    assert "exclude" not in base.to_json()  # a study without rules keeps the identity of its existing store
    assert study.identity() != base.identity()  # a store of the full grid is not silently reused


def test_shipped_normalization_study_runs_no_position_without_a_norm():
    study = load_study("normalization")
    points = {(c.scientific["norm"], c.scientific["norm_position"]) for c in study.cells()}
    assert ("none", "after") not in points and ("none", "before") in points
    assert len(study.cells()) == 108 - 18  # 2 problems x 3 seeds x 3 lrs x (6 - 1) configurations


def test_study_json_has_roles():
    d = parse_study(tiny_study(), "t.yaml").to_json()
    assert d["axes"]["optimizer"]["role"] == "scientific"
    assert d["axes"]["lr"] == {"role": "nuisance", "values": [0.01, 0.001]}
    assert d["axes"]["batch_size"] == {"role": "fixed", "values": [32]}
    assert d["seeds"] == [0] and d["budget"] == {"max_epochs": 1} and d["search"] == {"kind": "grid"}


def _shuffled(obj, rng):
    if isinstance(obj, dict):
        items = list(obj.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    return obj


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), lr_text=st.sampled_from(["1e-3", "0.001", "1.0e-3", "0.0010"]),
       bs=st.sampled_from(["32", "32.0"]))
def test_cell_ids_do_not_depend_on_key_order_or_number_spelling(tmp_path_factory, seed, lr_text, bs):
    """Same configuration, same id: whatever the key order in the YAML and the spelling of numbers."""
    rng = random.Random(seed)
    base = parse_study(tiny_study(), "t.yaml").cells()
    raw = _shuffled(copy.deepcopy(tiny_study()), rng)
    text = yaml.safe_dump(raw, sort_keys=False).replace("0.001", lr_text).replace("batch_size: 32", f"batch_size: {bs}")
    path = tmp_path_factory.mktemp("s") / "tiny.yaml"
    path.write_text(text)
    cells = load_study(path).cells()
    assert sorted(c.cell_id for c in cells) == sorted(c.cell_id for c in base)


def test_integer_for_a_float_field_is_normalized():
    a = parse_study(tiny_study(nuisance={"lr": [1]}), "t.yaml").cells()[0]
    b = parse_study(tiny_study(nuisance={"lr": [1.0]}), "t.yaml").cells()[0]
    assert a.params["lr"] == 1.0 and isinstance(a.params["lr"], float)
    assert a.cell_id == b.cell_id
    assert canonical({"b": (1, 2), "a": -0.0}) == '{"a":0.0,"b":[1,2]}'


def test_quick_form_overrides_and_renames():
    study = parse_study(tiny_study(), "t.yaml", quick=True)
    assert study.name == "tiny-quick"
    assert [p.id for p in study.problems] == ["mlp_tiny-digits"]
    assert len(study.cells()) == 2  # 2 optimizers x 1 lr x 1 seed
    with pytest.raises(StudyError, match="no quick form"):
        parse_study({k: v for k, v in tiny_study().items() if k != "quick"}, "t.yaml", quick=True)


def test_a_quick_problem_named_by_id_keeps_the_full_forms_options_and_params():
    full = [{"model": "mlp_tiny", "data": "digits", "data_options": {"limit": 64}, "params": {"dropout": 0.1}},
            {"model": "mlp_tiny", "data": "digits", "tag": "wide", "params": {"hidden": [16]}},
            "mlp_tiny-wine"]
    study = parse_study(tiny_study(problems=full, quick={"problems": ["mlp_tiny-digits-wide", "mlp_tiny-digits",
                                                                      "mlp_tiny-breast_cancer"]}), "t.yaml", quick=True)
    by_id = {p.id: p for p in study.problems}
    assert list(by_id) == ["mlp_tiny-digits-wide", "mlp_tiny-digits", "mlp_tiny-breast_cancer"]
    assert by_id["mlp_tiny-digits"].data_options == {"limit": 64} and by_id["mlp_tiny-digits"].params == {"dropout": 0.1}
    assert by_id["mlp_tiny-digits-wide"].params == {"hidden": (16,)}
    assert by_id["mlp_tiny-breast_cancer"].data_options == {} and by_id["mlp_tiny-breast_cancer"].params == {}
    full_cells = {c.cell_id for c in parse_study(tiny_study(problems=full), "t.yaml").cells()}
    quick_digits = parse_study(tiny_study(problems=full, quick={"problems": ["mlp_tiny-digits"]}), "t.yaml", quick=True)
    assert {c.cell_id for c in quick_digits.cells()} <= full_cells  # the same problem, so the same cells


def test_quick_error_points_into_quick():
    with pytest.raises(StudyError, match=r"t.yaml: quick.budget.max_epochs: max_epochs must be an integer > 0"):
        parse_study(tiny_study(quick={"budget": {"max_epochs": 0}}), "t.yaml", quick=True)


def test_random_search_is_seeded_and_per_scientific_value():
    raw = tiny_study(nuisance={"lr": {"log_uniform": [1e-4, 1e-1]}, "weight_decay": [0.0, 1e-4]},
                     search={"random": 3, "seed": 7})
    a = parse_study(raw, "t.yaml").cells()
    b = parse_study(copy.deepcopy(raw), "t.yaml").cells()
    assert [c.cell_id for c in a] == [c.cell_id for c in b]
    assert len(a) == 3 * 2 * 3  # problems x optimizers x trials
    for p, o in itertools.product(["mlp_tiny-digits"], ["adam", "momentum"]):
        lrs = [c.params["lr"] for c in a if c.problem == p and c.params["optimizer"] == o]
        assert len(lrs) == 3 and all(1e-4 <= x <= 1e-1 for x in lrs)
    # Adding a scientific value leaves the samples of the others unchanged.
    raw2 = copy.deepcopy(raw)
    raw2["scientific"]["optimizer"].append("sgd")
    c = parse_study(raw2, "t.yaml").cells()
    assert {x.cell_id for x in a} <= {x.cell_id for x in c}
    other = parse_study({**raw, "search": {"random": 3, "seed": 8}}, "t.yaml").cells()
    assert {x.cell_id for x in a} != {x.cell_id for x in other}


def test_int_uniform_draws_integers():
    raw = tiny_study(nuisance={"batch_size": {"int_uniform": [8, 64]}}, fixed={"hidden": [8]}, search={"random": 4, "seed": 0})
    sizes = [c.params["batch_size"] for c in parse_study(raw, "t.yaml").cells()]
    assert all(isinstance(b, int) and 8 <= b <= 64 for b in sizes)


def test_random_search_without_nuisance_samples_the_scientific_grid():
    raw = tiny_study(nuisance={}, scientific={"optimizer": ["adam", "sgd", "momentum"], "lr": [0.1, 0.01, 0.001]},
                     search={"random": 4, "seed": 0}, problems=["mlp_tiny-digits"])
    cells = parse_study(raw, "t.yaml").cells()
    assert len(cells) == 4 and len({c.cell_id for c in cells}) == 4


def test_range_test_tuner_is_a_nuisance_of_lr():
    study = parse_study(tiny_study(nuisance={"lr": {"range_test": {"steps": 50}}}), "t.yaml")
    c = study.cells()[0]
    assert c.nuisance == {"lr": "range_test"}
    assert c.params["lr"]["range_test"]["steps"] == 50 and c.params["lr"]["range_test"]["start"] == 1e-5
    with pytest.raises(StudyError, match="chooses lr"):
        parse_study(tiny_study(nuisance={"weight_decay": "range_test"}), "t.yaml")
    with pytest.raises(StudyError, match=r"nuisance.lr.range_test: .*at least 10 steps"):
        parse_study(tiny_study(nuisance={"lr": {"range_test": {"steps": 3}}}), "t.yaml")


def test_problem_mapping_with_tag_and_params():
    raw = tiny_study(problems=[{"model": "mlp_tiny", "data": "digits", "tag": "wide", "params": {"hidden": [32]},
                                "data_options": {"limit": 64}}, "mlp_tiny-digits"])
    study = parse_study(raw, "t.yaml")
    cells = study.cells()
    wide = [c for c in cells if c.problem == "mlp_tiny-digits-wide"]
    assert wide and all(c.params["hidden"] == [32] and c.params["data_options"] == {"limit": 64} for c in wide)
    plain = [c for c in cells if c.problem == "mlp_tiny-digits"]
    assert all(c.params["hidden"] == [8] and c.params["data_options"] == {"limit": 96} for c in plain)


@pytest.mark.parametrize(
    "over, match",
    [
        ({"colour": 1}, r"t.yaml: colour: unknown key \(allowed: name, description, problems"),
        ({"scientific": {"optimizer": ["adam", "adamm"]}}, r"scientific.optimizer\[1\]: unknown optimizer 'adamm'"),
        ({"scientific": {"activaton": ["relu"]}}, r"scientific.activaton: problem mlp_tiny-digits: unknown argument for model 'mlp_tiny' 'activaton'. Did you mean 'activation'\? Allowed: activation"),
        ({"nuisance": {"lr": [0.1, -1]}}, r"nuisance.lr\[1\]: lr must be a number > 0"),
        ({"fixed": {"hidden": 16}}, r"fixed.hidden: hidden must be a list of integers, got 16\."),
        ({"fixed": {"activation": True}}, r"fixed.activation: .*quote the word"),
        ({"fixed": {"seed": 3}}, r"fixed.seed: 'seed' cannot be set here"),
        ({"problems": ["mlp_tiny"]}, r"problems\[0\]: a problem is <model>-<dataset>"),
        ({"problems": ["mlp_tiny-digitz"]}, r"problems\[0\]: unknown dataset 'digitz'. Did you mean 'digits'"),
        ({"data_options": {"limt": 3}}, r"data_options.limt: unknown option for dataset 'digits' 'limt'. Did you mean 'limit'\? Allowed: classes, eval_batch_size, labelled, limit, split_seed\."),
        ({"budget": {"max_epoch": 1}}, r"budget.max_epoch: unknown key \(allowed: max_epochs, max_steps, max_time\)"),
        ({"budget": {}}, r"budget: a study needs a budget"),
        ({"seeds": [1, 1]}, r"seeds: lists a seed twice"),
        ({"search": {"random": 0}}, r"search.random: the number of sampled configurations must be an integer >= 1"),
        ({"target": {"metric": "accuracy", "value": 0.9}}, r"target.metric: must be a per-epoch metric"),
        ({"fixed": {"clip_norm": 1.0, "clip_value": 1.0}}, r"problem mlp_tiny-digits .*set clip_value or clip_norm, not both"),
        ({"scientific": {"precision": ["32-true", "64-true"]}}, r"scientific.precision\[1\]: unknown precision '64-true'"),
        ({"fixed": {"optimizer": "sgd"}}, r"fixed.optimizer: 'optimizer' is already a scientific setting"),
        ({"name": "a b"}, r"name: must be a folder-safe name"),
        ({"search": {"random": 2}, "nuisance": {"batch_size": {"log_uniform": [16, 256]}}},
         r"nuisance.batch_size: log_uniform draws numbers, but 'batch_size' is an integer; use int_uniform"),
        ({"search": {"random": 2}, "nuisance": {"lr": {"log_uniform": [0, 0.1]}}}, r"nuisance.lr.log_uniform\[0\]: lr must be a number > 0"),
        ({"exclude": [{"optimiser": "adam"}]}, r"exclude\[0\].optimiser: 'optimiser' is not a scientific or nuisance axis of the study \(allowed: lr, optimizer\)"),
        ({"exclude": [{"batch_size": 32}]}, r"exclude\[0\].batch_size: 'batch_size' is not a scientific or nuisance axis"),
        ({"exclude": [{"optimizer": "sgd"}]}, r"exclude\[0\].optimizer: 'sgd' is not a value of axis 'optimizer' \(allowed: adam, momentum\)"),
        ({"exclude": [{}]}, r"exclude\[0\]: an empty rule would exclude every configuration"),
        ({"exclude": {"optimizer": "adam"}}, r"exclude: must be a list of"),
        ({"exclude": [{"optimizer": ["adam", "momentum"]}]}, r"exclude: the rules exclude every configuration"),
    ],
)
def test_bad_values_name_file_path_and_allowed(over, match):
    with pytest.raises(StudyError, match=match):
        parse_study(tiny_study(**over), "t.yaml")


def test_yaml_syntax_and_duplicate_keys(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\nproblems: [mlp_tiny-digits\n")
    with pytest.raises(StudyError, match=r"bad.yaml: line \d+, column \d+: not valid YAML"):
        load_study(p)
    p.write_text("name: x\nseeds: 1\nseeds: 2\n")
    with pytest.raises(StudyError, match="duplicate key 'seeds'"):
        load_study(p)


def test_yaml_reads_exponent_floats(tmp_path):
    p = write_study(tmp_path / "e.yaml", tiny_study())
    p.write_text(p.read_text().replace("0.001", "1e-3"))
    assert read_yaml(p)["nuisance"]["lr"] == [0.01, 1e-3]


# ----------------------------------------------------------------------------- shipped studies

SHIPPED = list_studies()


def test_all_issue_studies_are_shipped():
    for name in ("smoke", "optimizers", "activations", "normalization", "initializers", "schedules", "batch_sizes", "devices"):
        assert name in SHIPPED, f"benchmarks/{name}.yaml is missing"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_study_parses_in_both_forms_with_three_seeds(name, request):
    """Every benchmarks/*.yaml is valid (problems not registered yet are left out) and has >= 3 seeds
    per scientific value in its full form and a quick form."""
    try:
        full = load_study(name, allow_missing=True)
    except StudyError as e:  # a problem's options are checked against the data itself (classes=, labelled=)
        if "missing data file" not in str(e):
            raise
        request.getfixturevalue("shared_data")  # skips without it
        full = load_study(name, allow_missing=True)
    quick = load_study(name, quick=True, allow_missing=True)
    assert quick.name == f"{full.name}-quick"
    assert len(full.seeds) >= 3
    if full.adaptive:  # an Optuna search asks for its cells as it runs: compare how many it may ask for
        assert quick.adaptive and 0 < quick.size() <= full.size()
    else:
        assert 0 < len(quick.cells()) <= len(full.cells())
    assert Path(full.source).parent == benchmarks_dir()
    raw = read_yaml(benchmarks_dir() / f"{name}.yaml")
    assert raw.get("description"), "a shipped study says what it asks"
