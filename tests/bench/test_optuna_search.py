"""Optuna search (zoo/bench/optuna_search.py): trials as cells of the crash-safe store, the sampler
rebuilt from the store, pruned cells, seeds per trial, and bad input.

The kill test SIGKILLs sweeps forked from this process at random moments, as tests/bench/test_crash.py does."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import pytest
import yaml
from test_crash import _holds_lease, _mid_cell, _published

from zoo.bench.executors import SequentialExecutor
from zoo.bench.parse import load_study, parse_study
from zoo.bench.store import Store
from zoo.bench.study import StudyError
from zoo.bench.sweep import run_study
from zoo.cli import main

pytest.importorskip("optuna")

N_TRIALS, SEEDS, EPOCHS = 6, 2, 3


def search_study(**search) -> dict:
    """TPE (3 random trials first) and Hyperband over mlp_tiny's width and learning rate on digits."""
    return {
        "name": "tpe",
        "problems": [{"model": "mlp_tiny", "data": "digits", "data_options": {"limit": 200}}],
        "nuisance": {"lr": {"log_uniform": [1e-3, 0.3]}, "hidden": [[8], [16], [8, 8]]},
        "fixed": {"batch_size": 32},
        "budget": {"max_epochs": EPOCHS},
        "search": {"sampler": {"tpe": {"n_startup_trials": 3}}, "n_trials": N_TRIALS, "seed": 0, "pruner": "hyperband",
                   "objective": "val_acc", "seeds_per_trial": SEEDS, **search},
    }


def _sequence(study_dir: Path) -> list[tuple]:
    """The planned cells in order: (trial, seed, nuisance values, cell id)."""
    cells = json.loads((study_dir / "cells.json").read_text())
    return [(c["trial"], c["seed"], json.dumps(c["nuisance"], sort_keys=True), c["cell_id"]) for c in cells]


def _results(study_dir: Path) -> dict[str, dict]:
    out = {}
    for d in study_dir.iterdir():
        if not d.name.startswith(".") and (d / "result.json").exists():
            r = json.loads((d / "result.json").read_text())
            out[d.name] = {"status": r["status"], "metrics": r["metrics"], "search": r.get("search"),
                           "epochs": r.get("epochs")}
    return out


def _best(study_dir: Path) -> tuple[float, int]:
    """The best complete trial's value (mean val_acc over its seeds) and number, read from the records."""
    cells = json.loads((study_dir / "cells.json").read_text())
    res = _results(study_dir)
    by_trial: dict[int, list[dict]] = {}
    for c in cells:
        by_trial.setdefault(c["trial"], []).append(res[c["cell_id"]])
    done = {t: sum(r["metrics"]["val"]["acc"] for r in rs) / len(rs) for t, rs in by_trial.items()
            if all(r["status"] == "ok" for r in rs)}
    t = max(done, key=done.get)
    return done[t], t


def _fork(argv: list[str]) -> int:
    """``zoo ARGV`` in a child forked from this process (torch and Optuna already imported: test_crash's
    zygote, without a fresh interpreter's imports)."""
    import optuna  # noqa: F401

    from zoo.bench.runner import warm_up

    warm_up()  # imports, registries and the per-process caches (git, versions), once
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os._exit(main(argv))
    return pid


def _alive(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return False


def _run_to_end(argv: list[str]) -> float:
    t0 = time.perf_counter()
    pid = _fork(argv)
    while _alive(pid):
        time.sleep(0.02)
    return time.perf_counter() - t0


def _killed_and_resumed(tmp_path: Path, raw: dict, cells: int) -> tuple[Path, Path, dict, dict]:
    """The study ``raw`` run uninterrupted, and run again killed (SIGKILL) five times, then resumed to the end:
    both stores' directories and results."""
    study_file = tmp_path / "tpe.yaml"
    study_file.write_text(yaml.safe_dump(raw))
    rng = random.Random(7)
    kills = mid_cell = 0
    seconds = _run_to_end(["bench", str(study_file), "--out", str(tmp_path / "reference")])
    window = min(0.5, 1.5 * seconds / cells)
    crashed = tmp_path / "crashed" / "tpe"
    seen: dict = {}
    for round_ in range(1, 6):
        before = len(_published(crashed))
        pid = _fork(["bench", str(study_file), "--out", str(tmp_path / "crashed")])
        deadline = time.time() + 300
        while _alive(pid) and not _holds_lease(crashed, pid) and time.time() < deadline:
            time.sleep(0.005)
        while round_ % 2 == 0 and _alive(pid) and len(_published(crashed)) == before:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, window))
        if _alive(pid):
            mid_cell += _mid_cell(crashed)
            os.kill(pid, signal.SIGKILL)
            kills += 1
            os.waitpid(pid, 0)
        now = _published(crashed)
        assert all(now.get(cid) == ident for cid, ident in seen.items()), "a published cell was rewritten"
        seen = now
    assert len(seen) < cells, "the search finished before the last kill"
    _run_to_end(["bench", str(study_file), "--out", str(tmp_path / "crashed")])
    print(f"\nsearch crash test: {kills} kills, {mid_cell} while a cell was being written")
    assert kills >= 4 and mid_cell >= 1
    ref_dir = tmp_path / "reference" / "tpe"
    ref, got = _results(ref_dir), _results(crashed)
    # Every trial exactly once, each seed its own cell, in the same sequence with the same parameters.
    assert _sequence(ref_dir) == _sequence(crashed)
    assert set(ref) == set(got) == {cid for *_, cid in _sequence(crashed)}
    assert ref == got  # statuses, metrics, where each was pruned
    assert not list((crashed / ".staging").iterdir())
    return ref_dir, crashed, ref, got


def test_tpe_hyperband_search_killed_and_resumed_equals_an_uninterrupted_run(tmp_path):
    ref_dir, crashed, ref, got = _killed_and_resumed(tmp_path, search_study(), N_TRIALS * SEEDS)
    assert sorted(t for t, *_ in _sequence(crashed)) == sorted(list(range(N_TRIALS)) * SEEDS)
    assert _best(ref_dir) == _best(crashed)
    assert len({p for *_, p, _ in _sequence(crashed)}) > 1, "TPE explored more than one point"
    pruned = [r for r in ref.values() if r["status"] == "pruned"]
    assert pruned and all(r["search"]["epochs_saved"] == EPOCHS - r["epochs"] > 0 for r in pruned)


def two_objectives(n_trials: int = 6, **search) -> dict:
    """NSGA-II (generations of two trials) on validation accuracy and the number of parameters."""
    raw = search_study()
    raw["search"] = {"objectives": ["val_acc max", "num_parameters min"], "sampler": {"nsga2": {"population_size": 2}},
                     "n_trials": n_trials, "seed": 0, **search}
    return raw


def test_two_objective_nsga2_search_killed_and_resumed_equals_an_uninterrupted_run(tmp_path):
    """Six NSGA-II trials (three generations: crossover and mutation from the rebuilt study's
    generation attributes and cached parents) ask the same trials when killed and resumed."""
    ref_dir, crashed, ref, got = _killed_and_resumed(tmp_path, two_objectives(), 6)
    cells = json.loads((crashed / "cells.json").read_text())
    assert [c["trial"] for c in cells] == list(range(6))
    assert [c["search"]["attrs"]["NSGAIISampler:generation"] for c in cells] == [0, 0, 1, 1, 2, 2]
    assert cells[0]["search"]["objectives"] == [["val_acc", "max"], ["num_parameters", "min"]]
    # The values Optuna is told: (val_acc, num_parameters) of each trial's cell, as result.json records them.
    from zoo.bench.optuna_search import Search

    study = parse_study(two_objectives())
    store = Store(tmp_path / "crashed", "tpe")
    trials = Search(study, store)._trials(study.problems[0].id, store.read_cells(), 6)
    assert [t["value"] for t in trials] == [[got[c["cell_id"]]["metrics"]["val"]["acc"],
                                            json.loads((crashed / c["cell_id"] / "result.json").read_text())["num_parameters"]]
                                           for c in cells]
    # The report lists the front: the trials no other beats on both (more accurate and no larger, or smaller).
    from zoo.report import build_report

    build_report(crashed, tmp_path / "report")
    text = (tmp_path / "report" / "README.md").read_text()
    values = [t["value"] for t in trials]
    front = [t["number"] for t, (a, p) in zip(trials, values)
             if not any(a2 >= a and p2 <= p and (a2, p2) != (a, p) for a2, p2 in values)]
    assert "distinct configurations (6 finished trials)" in text
    table = text.split("## Pareto front", 1)[1].split("![", 1)[0]
    rows = [line.split("|")[1].split(",") for line in table.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert sorted(int(n) for row in rows for n in row) == sorted(front)  # a repeated configuration: one row, its trials
    assert f"the {len(rows)} non-dominated of" in text
    assert (tmp_path / "report" / "figures" / f"pareto-{study.problems[0].id.replace('_', '-')}.png").exists()


def test_pruned_cells_keep_their_history_and_trials_average_their_seeds(tmp_path):
    study = parse_study(search_study(n_trials=5, seeds_per_trial=2, pruner={"successive_halving": {"reduction_factor": 2}}))
    assert study.seeds == (0, 1) and study.size() == 10
    run_study(study, out=tmp_path, quiet=True)
    store = Store(tmp_path, study.name)
    cells = store.read_cells()
    assert len(cells) == 10 and {c["seed"] for c in cells} == {0, 1}
    statuses = store.statuses()
    pruned = [c for c in cells if statuses[c["cell_id"]] == "pruned"]
    assert pruned, "successive halving with reduction factor 2 prunes some of 5 trials"
    for c in pruned:
        r = store.result(c["cell_id"])
        rows = (store.cell_dir(c["cell_id"]) / "metrics.csv").read_text().strip().splitlines()[1:]
        assert len(rows) == r["epochs"] == r["search"]["pruned_epoch"] < EPOCHS
        assert r["search"]["epochs_saved"] == EPOCHS - r["epochs"]
    # The report counts the compute the pruner saved.
    from zoo.report import build_report

    build_report(store.dir, tmp_path / "report")
    saved = sum(store.result(c["cell_id"])["search"]["epochs_saved"] for c in pruned)
    trained = sum(store.result(c["cell_id"])["epochs"] for c in cells)
    text = (tmp_path / "report" / "README.md").read_text()
    assert f"stopped {len(pruned)} cell(s) early, saving {saved} of the {saved + trained} epochs" in text
    assert "chosen by an Optuna search (tpe sampler, 5 trials per problem and value, pruner successive_halving" in text
    # The value Optuna is told of a complete trial is the mean of its seeds' validation accuracy.
    from zoo.bench.optuna_search import Search

    trials = Search(study, store)._trials(f"{study.problems[0].id}", store.read_cells(), 5)
    for t in trials:
        accs = [store.result(c["cell_id"])["metrics"]["val"]["acc"] for c in cells if c["trial"] == t["number"]]
        states = {statuses[c["cell_id"]] for c in cells if c["trial"] == t["number"]}
        assert t["state"] == ("PRUNED" if "pruned" in states else "COMPLETE")
        if t["state"] == "COMPLETE":
            assert t["value"] == pytest.approx(sum(accs) / 2, abs=1e-12)


class TwoSlots(SequentialExecutor):
    """In-process, but the sweep sees two slots: it asks two trials at a time."""

    slots = 2


@pytest.mark.parametrize("sampler", ["random", "qmc", "grid"])
def test_batches_of_two_trials_are_asked_together_and_reproducible(tmp_path, sampler):
    raw = search_study(sampler=sampler, n_trials=4, seeds_per_trial=1, pruner="median")
    if sampler == "grid":
        raw["nuisance"] = {"lr": [0.01, 0.1], "hidden": [[8], [16]]}
    runs = []
    for i in range(2):
        run_study(parse_study(raw), out=tmp_path / str(i), executor=TwoSlots(), quiet=True)
        runs.append(_sequence(tmp_path / str(i) / "tpe"))
    assert runs[0] == runs[1]
    cells = json.loads((tmp_path / "0" / "tpe" / "cells.json").read_text())
    assert [(c["trial"], c["search"]["batch"]) for c in cells] == [(0, 0), (1, 0), (2, 2), (3, 2)]
    points = [p for _, _, p, _ in runs[0]]
    assert len(set(points)) == 4  # distinct points (the grid's four, each once)


@pytest.mark.parametrize("search, message", [
    ({"sampler": "cmaes"}, "search.sampler: unknown sampler 'cmaes'"),
    ({"pruner": "patient"}, "search.pruner: unknown pruner 'patient'"),
    ({"n_trials": 0}, "search.n_trials: the number of trials must be an integer in [1, 10000], got 0"),
    ({"n_trials": -3}, "got -3"),
    ({"objective": "val_fscore"}, "search.objective: must be a per-epoch validation metric"),
    ({"objective": "val_rmse"}, "problem mlp_tiny-digits (multiclass) does not record val_rmse every epoch"),
    ({"objective": "test_acc"}, "search.objective: must be a per-epoch validation metric"),
    ({"sampler": "grid"}, "the grid sampler takes a list of values, not a distribution"),
    ({"sampler": {"tpe": {"n_startup": 3}}}, "search.sampler.tpe.n_startup: unknown option"),
    ({"pruner": {"hyperband": {"reduction_factor": 1}}}, "reduction_factor: must be an integer in [2, 10000], got 1"),
    ({"trials": 3}, "search.trials: unknown key"),
    ({"objectives": ["val_acc max", "throughput max"]}, "give objective (one metric) or objectives (two or more), not both"),
])
def test_bad_search_one_line(search, message):
    with pytest.raises(StudyError) as e:
        parse_study(search_study(**search), "s.yaml")
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("objectives, extra, message", [
    (["val_acc", "throughput max"], {}, "search.objectives[0]: write the metric and its direction, as 'val_acc max', got 'val_acc'"),
    (["val_acc up", "throughput max"], {}, "search.objectives[0]: the direction of val_acc must be max or min, got 'up'"),
    (["val_acc max", "throughput min"], {}, "search.objectives[1]: throughput is better higher: write 'throughput max'"),
    (["val_acc max", "speed max"], {}, "search.objectives[1]: unknown objective 'speed'"),
    (["val_acc max", "val_rmse min"], {}, "problem mlp_tiny-digits (multiclass) does not record val_rmse every epoch"),
    (["val_acc max"], {}, "search.objectives: one objective (val_acc max): write objective: METRIC"),
    (["val_acc max", "val_acc max"], {}, "search.objectives[1]: val_acc is listed twice"),
    ("val_acc max", {}, "search.objectives: give a list of 'metric max|min'"),
    (["val_acc max", "throughput max"], {"pruner": "hyperband"}, "search.pruner: Optuna's pruners judge one objective"),
])
def test_bad_objectives_one_line(objectives, extra, message):
    raw = two_objectives(**extra)
    raw["search"]["objectives"] = objectives
    with pytest.raises(StudyError) as e:
        parse_study(raw, "s.yaml")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_objectives_parse_with_their_directions_and_nsga2_by_default():
    raw = two_objectives()
    del raw["search"]["sampler"]
    raw["search"]["objectives"] = ["val_acc max", "train_seconds min", "throughput max"]
    spec = parse_study(raw).search
    assert spec["sampler"] == "nsga2" and spec["pruner"] is None and spec["objective"] is None
    assert spec["objectives"] == [["val_acc", "max"], ["train_seconds", "min"], ["throughput", "max"]]
    raw["search"]["sampler"] = "tpe"
    assert parse_study(raw).search["sampler"] == "tpe"
    from zoo.record import objective_value

    result = {"metrics": {"val": {"acc": 0.5}}, "fit": {"throughput": 900.0, "train_seconds": 2.0}, "num_parameters": 7}
    assert [objective_value(result, m) for m in ("val_acc", "throughput", "train_seconds", "num_parameters", "cpu_seconds")] \
        == [0.5, 900.0, 2.0, 7.0, None]


def test_bad_search_from_the_command_line_exits_2_and_writes_nothing(tmp_path, capsys):
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(search_study(sampler="annealing")))
    assert main(["bench", str(p), "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown sampler 'annealing'" in err[0] and "tpe" in err[0]
    assert not (tmp_path / "runs").exists()


def test_shipped_search_study_parses():
    full, quick = load_study("search"), load_study("search", quick=True)
    for s in (full, quick):
        assert s.adaptive and s.cells() == []
        assert (s.search["sampler"], s.search["pruner"], s.search["objective"]) == ("tpe", "hyperband", "val_acc")
    assert full.problems[0].data == "fashion_mnist" and full.problems[0].data_options == {"limit": 20000} and full.size() == 36 and full.seeds == (0, 1, 2) and quick.size() == 6
    assert full.baselines == ("schedules", "optimizers") and full.budget == {"max_epochs": 15}
    assert {a.name for a in full.role("nuisance")} == {"hidden", "dropout", "lr", "batch_size"}


def test_failed_trial_is_retried_in_place_and_a_scientific_space_is_searched(tmp_path, monkeypatch):
    """Without nuisance axes the scientific axes are searched; a trial whose cell failed counts as
    failed (the search goes on), and --retry-failed reruns that cell, asking for no new trial."""
    import zoo.training

    raw = search_study(n_trials=4, seeds_per_trial=1, pruner="none", sampler="random")
    raw.pop("nuisance")
    raw["scientific"] = {"lr": [0.01, 0.03, 0.1, 0.3], "hidden": [[8], [16]]}
    real = zoo.training.train
    calls = []

    def flaky(*args, **kw):
        calls.append(kw["lr"])
        if len(calls) == 2:
            raise RuntimeError("injected failure")
        return real(*args, **kw)

    monkeypatch.setattr(zoo.training, "train", flaky)
    study = parse_study(raw)
    first = run_study(study, out=tmp_path, quiet=True)
    assert first.counts["error"] == 1 and first.counts["ok"] == 3
    cells = json.loads((tmp_path / "tpe" / "cells.json").read_text())
    assert [c["trial"] for c in cells] == [0, 1, 2, 3] and all(c["scientific"] and not c["nuisance"] for c in cells)
    again = run_study(study, out=tmp_path, quiet=True, retry_failed=True)
    assert again.ran == 1 and again.counts["ok"] == 4
    assert json.loads((tmp_path / "tpe" / "cells.json").read_text()) == cells
    assert calls[1] == calls[4]  # the failed trial's point, rerun
