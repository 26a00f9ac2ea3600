"""Cells that depend on cells (zoo/bench/stages.py): a source stage trained once per seed, its checkpoint
kept in the store, and target cells (transfer arms) that start from it.

On embedded digits: the source learns digits 0-4, the targets digits 5-9 from 50 labelled examples.
A two-stage study killed (SIGKILL) at random moments and resumed records every cell once, with the
numbers of an uninterrupted run; a frozen arm trains the head only (every other tensor and the
batch-norm buffers are the source checkpoint's); each mistake in the declaration is one line, exit 2."""

from __future__ import annotations

import copy
import json
import random

import pytest
import torch
import yaml
from bench_helpers import write_study
from test_crash import Zygote, _assert_same_records, _crash_and_resume, _kill_window, _run_to_end

from zoo.bench.parse import load_study, parse_study
from zoo.bench.stages import run_settings, source_of
from zoo.bench.sweep import run_study
from zoo.checkpoint import load_checkpoint, read_card
from zoo.cli import main
from zoo.training import train

ARCH = {"hidden": [16], "norm": "batch"}


def two_stage(**over):
    """A source stage (mlp on digits 0-4) and targets (digits 5-9, 50 labelled) with two arms."""
    study = {
        "name": "stages",
        "stages": {"pre": {"model": "mlp", "data": "digits", "data_options": {"classes": ["0", "1", "2", "3", "4"]},
                           "params": {**ARCH, "lr": 0.01, "batch_size": 32}, "budget": {"max_epochs": 2}}},
        "start_from": "pre",
        "problems": [{"model": "mlp", "data": "digits", "data_options": {"classes": ["5", "6", "7", "8", "9"], "labelled": 50}}],
        "scientific": {"transfer": ["frozen", "full"]},
        "nuisance": {"lr": [0.01]},
        "fixed": {**ARCH, "batch_size": 16},
        "seeds": 2,
        "budget": {"max_epochs": 1},
    }
    study.update(over)
    return study


def test_cells_start_from_the_source_of_their_seed():
    study = parse_study(two_stage(scientific={"transfer": ["scratch", "frozen", "full"]}), "t.yaml")
    cells = study.cells()
    assert len(cells) == study.size() == 2 + 3 * 2
    sources = [c for c in cells if c.params.get("stage") == "pre"]
    assert [c.seed for c in sources] == [0, 1] and cells[:2] == sources  # sources first
    by_seed = {c.seed: c.cell_id for c in sources}
    for c in cells[2:]:
        arm = c.scientific["transfer"]
        assert source_of(c) == (None if arm == "scratch" else by_seed[c.seed])
        settings, keep = run_settings(c.params, "/ckpt")
        assert not keep and "stage" not in settings and "transfer" not in settings
        assert settings.get("init_from") == (None if arm == "scratch" else "/ckpt")
        assert settings.get("freeze") == {"scratch": None, "frozen": "backbone", "full": "none"}[arm]
    # A changed source changes every dependent cell's id (and the store's identity), not the scratch cells'.
    other = parse_study(two_stage(scientific={"transfer": ["scratch", "frozen", "full"]},
                                  stages={"pre": {**two_stage()["stages"]["pre"], "budget": {"max_epochs": 3}}}), "t.yaml")
    moved = {c.cell_id for c in cells} ^ {c.cell_id for c in other.cells()}
    assert len(moved) == 2 * (2 + 2 * 2) and study.identity() != other.identity()
    # Each arm's rate may be chosen by the range test (from the checkpoint, for the arms that load it).
    assert len(parse_study(two_stage(nuisance={"lr": "range_test"}), "t.yaml").cells()) == 2 + 2 * 2


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_frozen_arm_trains_only_the_head(tmp_path):
    path = write_study(tmp_path / "s.yaml", two_stage(seeds=1))
    study = load_study(path)
    summary = run_study(study, out=tmp_path / "runs", quiet=True)
    assert summary.ran == 3 and summary.counts["ok"] == 3
    src, frozen = (next(c for c in study.cells() if c.scientific.get("transfer") == arm or c.params.get("stage") == arm)
                   for arm in ("pre", "frozen"))
    store_dir = tmp_path / "runs" / study.name
    kept = json.loads((store_dir / src.cell_id / "result.json").read_text())["checkpoint"]
    folder = store_dir / src.cell_id / "checkpoint"
    assert read_card(folder)["sha256"] == kept["sha256"]
    recorded = json.loads((store_dir / frozen.cell_id / "result.json").read_text())
    assert recorded["start_from"] == {"cell_id": src.cell_id, "sha256": kept["sha256"]}

    # The frozen cell again, through the same settings: its numbers are the recorded ones, and only its head moved.
    settings, _ = run_settings(frozen.params, str(folder))
    res = train(frozen.model, frozen.data, seed=frozen.seed, out_dir=None, logger="none", progress=False, **settings)
    assert res.metrics == recorded["metrics"]
    before, after = _state(load_checkpoint(folder).model), _state(res.task.model)
    heads = {k for k in after if k.startswith("head.")}
    assert heads and after.keys() == before.keys()
    assert any("running_mean" in k for k in after)  # batch norm buffers are among the compared tensors
    for k in after.keys() - heads:
        assert torch.equal(after[k], before[k]), k
    assert after["head.weight"].shape == (5, 16) and res.task.data_info.num_classes == 5
    assert res.fit.steps > 0
    # the record counts what trained: the head's weights alone (the report's cost of the arm)
    assert recorded["trainable_parameters"] == sum(p.numel() for n, p in res.task.model.named_parameters()
                                                   if n.startswith("head.")) == 5 * 16 + 5
    assert recorded["num_parameters"] > recorded["trainable_parameters"]


def test_full_arm_trains_the_backbone_too(tmp_path):
    study = load_study(write_study(tmp_path / "s.yaml", two_stage(seeds=1, scientific={"transfer": ["full"]})))
    run_study(study, out=tmp_path / "runs", quiet=True)
    src, full = study.cells()
    folder = tmp_path / "runs" / study.name / src.cell_id / "checkpoint"
    settings, _ = run_settings(full.params, str(folder))
    res = train(full.model, full.data, seed=0, out_dir=None, logger="none", progress=False, **settings)
    before, after = _state(load_checkpoint(folder).model), _state(res.task.model)
    assert not torch.equal(after["body.0.0.weight"], before["body.0.0.weight"])


@pytest.mark.parametrize("after, thawed", [(1, True), (2, False)])
def test_frozen_then_thawed_thaws_the_top_block_after_n_epochs(tmp_path, after, thawed):
    raw = two_stage(seeds=1, scientific={"transfer": ["frozen_then_thawed"]}, thaw={"after": after, "top": 1},
                    budget={"max_epochs": 2})
    study = load_study(write_study(tmp_path / "s.yaml", raw))
    run_study(study, out=tmp_path / "runs", quiet=True)
    src, cell = study.cells()
    folder = tmp_path / "runs" / study.name / src.cell_id / "checkpoint"
    settings, _ = run_settings(cell.params, str(folder))
    assert settings["freeze"] == "backbone" and settings["unfreeze_top"] == 1 and settings["unfreeze_epoch"] == after + 1
    assert settings["head_lr"] == 0.01 and settings["lr"] == pytest.approx(0.001)  # the thawed blocks: 0.1 x the head's
    res = train(cell.model, cell.data, seed=0, out_dir=None, logger="none", progress=False, **settings)
    recorded = json.loads((tmp_path / "runs" / study.name / cell.cell_id / "result.json").read_text())
    assert res.metrics == recorded["metrics"]
    before, after_ = _state(load_checkpoint(folder).model), _state(res.task.model)
    body = [k for k in after_ if k.startswith("body.0.")]  # the one backbone block (hidden [16])
    assert body and any(not torch.equal(after_[k], before[k]) for k in body) == thawed


def test_a_failed_source_fails_its_targets_with_the_reason(tmp_path):
    raw = two_stage(seeds=1)
    raw["stages"]["pre"]["params"]["lr"] = 1e30  # diverges: no checkpoint
    study = load_study(write_study(tmp_path / "s.yaml", raw))
    summary = run_study(study, out=tmp_path / "runs", quiet=True)
    src = study.cells()[0]
    results = summary.results
    assert results[src.cell_id]["status"] == "diverged"
    for c in study.cells()[1:]:
        assert results[c.cell_id]["status"] == "error"
        assert f"its source cell {src.cell_id} is diverged" in results[c.cell_id]["reason"]
    # --retry-failed reruns the failed targets (a diverged source is a result, not a failure): the same rows.
    again = run_study(study, out=tmp_path / "runs", quiet=True, retry_failed=True)
    assert again.ran == 2 and set(again.results) == {c.cell_id for c in study.cells()[1:]}
    assert all(r["reason"] == results[cid]["reason"] for cid, r in again.results.items())


def test_a_target_refuses_a_source_checkpoint_that_is_not_the_recorded_one(tmp_path):
    import shutil

    study = load_study(write_study(tmp_path / "s.yaml", two_stage(scientific={"transfer": ["frozen"]})))
    run_study(study, out=tmp_path / "runs", quiet=True)
    src0, src1, t0, t1 = study.cells()
    store = tmp_path / "runs" / study.name
    # Another valid checkpoint (seed 1's) in seed 0's folder: its card and weights agree, but not with what
    # the source cell recorded.
    shutil.rmtree(store / src0.cell_id / "checkpoint")
    shutil.copytree(store / src1.cell_id / "checkpoint", store / src0.cell_id / "checkpoint")
    # Flipped bytes in seed 1's weights: the card's sha256 catches them.
    weights = store / src1.cell_id / "checkpoint" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    for t in (t0, t1):
        shutil.rmtree(store / t.cell_id)  # run them again
    again = run_study(study, out=tmp_path / "runs", quiet=True)
    assert again.ran == 2
    r0, r1 = again.results[t0.cell_id], again.results[t1.cell_id]
    assert r0["status"] == r1["status"] == "error"
    assert f"the checkpoint of source cell {src0.cell_id}" in r0["reason"] and "recorded" in r0["reason"]
    assert "is corrupt: sha256" in r1["reason"]


@pytest.mark.slow
def test_workers_hold_targets_back_until_their_source_is_recorded(tmp_path):
    study = load_study(write_study(tmp_path / "s.yaml", two_stage(scientific={"transfer": ["scratch", "frozen", "full"]})))
    ref = run_study(study, out=tmp_path / "one", quiet=True)
    par = run_study(study, out=tmp_path / "two", quiet=True, workers=2, threads=1)
    assert ref.ran == par.ran == 8 and par.counts["ok"] == 8
    for cid, r in ref.results.items():
        assert par.results[cid]["metrics"] == r["metrics"], cid


@pytest.fixture
def crash_stages(tmp_path):
    # 3 sources + 2 arms x 3 seeds = 9 cells of ~0.2-0.4 s.
    return write_study(tmp_path / "crash.yaml", two_stage(name="crash", seeds=3))


def test_two_stage_study_survives_sigkill_and_resume(tmp_path, crash_stages):
    zygote = Zygote()
    try:
        window = _kill_window(_run_to_end(zygote.start, crash_stages, tmp_path / "reference"), crash_stages)
        stats = _crash_and_resume(zygote.start, crash_stages, tmp_path / "crashed", kills=5,
                                  rng=random.Random(7), max_delay=window)
    finally:
        zygote.close()
    print(f"\ncrash test (stages): {stats}")
    study = load_study(crash_stages)
    ids = {c.cell_id for c in study.cells()}
    assert stats["kills"] == 5 and len(ids) == 9
    _assert_same_records(tmp_path / "reference" / "crash", tmp_path / "crashed" / "crash", ids)
    for c in study.cells()[:3]:  # the kept checkpoints: the same weights
        cards = [read_card(tmp_path / run / "crash" / c.cell_id / "checkpoint") for run in ("reference", "crashed")]
        assert cards[0]["sha256"] == cards[1]["sha256"]


# ----------------------------------------------------------------------------- mistakes


def _mistake(raw, tmp_path, capsys, *want: str, argv: tuple[str, ...] = ()) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "runs"
    assert main(["bench", str(path), "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("zoo: error:"), err
    for w in want:
        assert w in err, err
    assert not out.exists()
    return err


def test_a_target_naming_no_stage(tmp_path, capsys):
    _mistake(two_stage(start_from="pretrain"), tmp_path, capsys, "start_from:", "'pretrain' is no stage",
             "allowed: pre, ", "mlp-wine")


def test_a_cycle_of_stages(tmp_path, capsys):
    raw = two_stage()
    pre = raw["stages"]["pre"]
    raw["stages"] = {"a": {**pre, "start_from": "b"}, "b": {**pre, "start_from": "a"}}
    raw["start_from"] = "a"
    _mistake(raw, tmp_path, capsys, "cycle: a -> b -> a")


def test_a_source_of_another_family(tmp_path, capsys):
    raw = two_stage()
    raw["stages"]["pre"] = {"model": "mlp_tiny", "data": "digits", "params": {"hidden": [16]}}
    _mistake(raw, tmp_path, capsys, "it trains 'mlp' but its source 'pre' is a 'mlp_tiny' model")
    raw = two_stage(start_from="small_cnn-mnist")
    _mistake(raw, tmp_path, capsys, "its source 'small_cnn-mnist' is a 'small_cnn' model")


def test_incompatible_shapes_without_reinit(tmp_path, capsys):
    raw = two_stage()
    raw["stages"]["pre"]["params"]["hidden"] = [8]
    _mistake(raw, tmp_path, capsys, "problem mlp-digits sets hidden=(16,), but its source 'pre' has hidden=(8,)",
             "give both the same model settings")
    raw = two_stage(fixed={**ARCH, "dropout": 0.5})  # not a shape, but the scratch arm would train another model
    _mistake(raw, tmp_path, capsys, "sets dropout=0.5, but its source 'pre' has dropout=0.0")
    # digits_images (1x8x8) -> digits (64 flat): the same settings, other inputs (the scaler's shape).
    raw = two_stage()
    raw["stages"]["pre"]["data"] = "digits_images"
    _mistake(raw, tmp_path, capsys, "tensor 'scaler.shift' has shape [1] there and [64] here", "set reinit: [scaler]")
    # wine (13 features) -> digits (64): the input layers differ; with reinit the study is accepted.
    raw = two_stage(start_from="mlp-wine", fixed={"hidden": [64, 32], "norm": "batch", "dropout": 0.2})
    del raw["stages"]
    _mistake(raw, tmp_path, capsys, "starts from 'mlp-wine'", "[13] there and [64] here", "reinit: [scaler]")
    raw["fixed"]["reinit"] = ["scaler", "body.0.0"]
    study = parse_study(copy.deepcopy(raw), "ok.yaml")
    assert {c.params["start_from"]["pretrained"] for c in study.cells()} == {"mlp-wine"} and len(study.cells()) == 4


def test_other_mistakes(tmp_path, capsys):
    _mistake(two_stage(scientific={"transfer": ["frozen", "thawed"]}), tmp_path, capsys, "scientific.transfer[1]",
             "thawed")
    raw = two_stage()
    del raw["start_from"]
    _mistake(raw, tmp_path, capsys, "no start_from")
    raw = two_stage(fixed={**ARCH, "freeze": "all"})
    _mistake(raw, tmp_path, capsys, "fixed.freeze", "set by start_from")
    raw = two_stage()
    del raw["stages"], raw["start_from"]
    _mistake(raw, tmp_path, capsys, "transfer arms need start_from")
    _mistake(two_stage(thaw={"after": 0}), tmp_path, capsys, "thaw.after", "integer >= 1")
    _mistake(two_stage(thaw={"lr_scale": 2}), tmp_path, capsys, "thaw.lr_scale", "(0, 1]")
    raw = two_stage(start_from="mlp-wine")
    _mistake(raw, tmp_path, capsys, "stages.pre: no cell starts from stage 'pre'")
    _mistake(two_stage(), tmp_path, capsys, "has stages", "use --executor local", argv=("--executor", "ray"))
    _mistake(two_stage(scientific={"transfer": ["frozen_then_thawed"]}, nuisance={"lr": "range_test"}), tmp_path, capsys,
             "'frozen_then_thawed' takes lr values (the head's rate), not a tuner")


def test_the_shipped_transfer_study_parses_without_reading_data():
    """benchmarks/transfer.yaml (not run here): 5 sources + 4 label counts x 4 arms x 4 rates x 5 seeds; checking it reads no
    Fashion-MNIST (source and target share their inputs), and its quick form is one source and its 4 arms."""
    study = load_study("transfer")
    cells = study.cells()
    sources = [c for c in cells if c.params.get("stage") == "fashion8"]
    assert len(cells) == study.size() == 5 + 4 * 4 * 4 * 5 and [c.seed for c in sources] == [0, 1, 2, 3, 4]
    assert sources[0].params["data_options"]["classes"] == [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sneaker", "Bag", "Ankle boot"]
    by_seed = {c.seed: c.cell_id for c in sources}
    targets = cells[5:]
    assert {c.scientific["transfer"] for c in targets} == {"scratch", "frozen", "frozen_then_thawed", "full"}
    assert {c.params["data_options"]["labelled"] for c in targets} == {50, 200, 1000, 5000}
    for c in targets:
        assert c.params["data_options"]["classes"] == ["Sandal", "Shirt"]
        assert source_of(c) == (None if c.scientific["transfer"] == "scratch" else by_seed[c.seed])
    thawed = next(c for c in targets if c.scientific["transfer"] == "frozen_then_thawed" and c.params["lr"] == 0.01)
    settings, _ = run_settings(thawed.params, "/ckpt")
    assert (settings["unfreeze_epoch"], settings["unfreeze_top"], settings["head_lr"]) == (5, 3, 0.01)
    assert settings["lr"] == pytest.approx(0.001)
    quick = load_study("transfer", quick=True)
    assert len(quick.cells()) == 1 + 4 and quick.cells()[0].params["max_epochs"] == 1
    assert all(c.params["data_options"]["labelled"] == 200 for c in quick.cells()[1:])
