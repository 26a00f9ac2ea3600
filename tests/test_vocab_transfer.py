"""A char model fine-tuned on a text of other characters: its rows are aligned character by character.

The source trains on the embedded Shakespeare sample lowercased; the target is the same sample with
case kept, whose vocabulary adds the capitals and orders the characters otherwise (zoo/transfer.py
``align_vocab``, applied by zoo/checkpoint.py when zoo/training.py passes the data's vocabulary)."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.bench.parse import parse_study
from zoo.bench.study import StudyError
from zoo.checkpoint import load_checkpoint
from zoo.data import load
from zoo.data.vocab import Vocab

SRC = dict(data="shakespeare_sample", max_epochs=1, lr=0.01, logger="none")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    out = tmp_path_factory.mktemp("char") / "src"
    zoo.train("char_gru_tiny", out_dir=out, **SRC)
    return out / "checkpoint"


def test_loading_onto_another_vocabulary_keeps_every_known_characters_rows(source):
    src = load_checkpoint(source)
    old = Vocab.from_dict(src.card["data"]["extra"]["vocab"])
    info = load("shakespeare_sample", lowercase=False).info
    new = Vocab.from_dict(info.extra["vocab"])
    assert len(new) > len(old) and new.itos != old.itos
    task = load_checkpoint(source, vocab_size=len(new), data_extra=info.extra)
    a, b = src.model.state_dict(), task.model.state_dict()
    shared = [t for t in new.itos if t in old.stoi]
    for name in ("embed.weight", "head.weight", "head.bias"):
        assert b[name].shape[0] == len(new)
        for t in shared:
            assert torch.equal(b[name][new.stoi[t]], a[name][old.stoi[t]]), (name, t)
    fresh = [new.stoi[t] for t in new.itos if t not in old.stoi]
    assert fresh and not torch.equal(b["embed.weight"][fresh], torch.zeros_like(b["embed.weight"][fresh]))
    for name in a:  # the recurrent core is the source's, untouched
        if name.startswith("rnn."):
            assert torch.equal(a[name], b[name])
    report = task.zoo_spec["vocab_alignment"]["vocab"]
    assert report["kept"] == len(shared) and report["tokens"] == len(new) and "T" in report["new"]


def test_fine_tuning_from_another_text_trains_and_records_the_alignment(source, tmp_path):
    res = zoo.train("char_gru_tiny", data="shakespeare_sample", data_options={"lowercase": False},
                    init_from=str(source), max_epochs=1, lr=0.01, logger="none", out_dir=tmp_path / "ft")
    assert res.status == "ok"
    card = load_checkpoint(tmp_path / "ft" / "checkpoint").card
    assert card["kwargs"]["vocab_size"] == len(Vocab.from_dict(card["data"]["extra"]["vocab"]))
    assert card["parent"]["sha256"]


def _study(**params):
    return {"name": "chars", "description": "t", "start_from": "lower",
            "stages": {"lower": {"model": "char_gru_tiny", "data": "shakespeare_sample", "params": {"lr": 0.01}}},
            "problems": [{"model": "char_gru_tiny", "data": "shakespeare_sample", "data_options": {"lowercase": False},
                          "params": params}],
            "scientific": {"transfer": ["scratch", "full"]}, "nuisance": {"lr": [0.01]}, "seeds": 1,
            "budget": {"max_epochs": 1}}


def test_a_study_from_a_stage_of_other_characters_checks_and_another_width_is_refused():
    study = parse_study(_study(), "t.yaml")  # other vocabulary: aligned, not a shape mismatch
    assert len(study.cells()) == 1 + 2  # the source, then scratch and full
    with pytest.raises(StudyError) as e:
        parse_study(_study(hidden=24), "t.yaml")
    assert "hidden=24" in str(e.value) and "\n" not in str(e.value)


def test_a_cell_from_a_stage_of_other_characters_records_its_alignment(tmp_path):
    import json

    from zoo.bench.sweep import run_study

    study = parse_study(_study(), "t.yaml")
    assert run_study(study, out=tmp_path / "runs", quiet=True).counts["ok"] == 3
    rows = {c.scientific.get("transfer"): json.loads((tmp_path / "runs" / study.name / c.cell_id / "result.json").read_text())
            for c in study.cells()}
    assert "vocab_alignment" not in rows["scratch"] and "vocab_alignment" not in rows[None]  # the source stage
    report = rows["full"]["vocab_alignment"]["vocab"]
    new = Vocab.from_dict(load("shakespeare_sample", lowercase=False).info.extra["vocab"])
    assert report["tokens"] == len(new) and 0 < report["kept"] < len(new) and "T" in report["new"]
