"""Word2vec vectors as a translator's starting embeddings (`init_embeddings`, zoo/embeddings.py).

A 1-epoch skip-gram on the embedded w2v_tiny corpus, then seq2seq_gru_tiny on numbers_en_es
(both embedded, both 16-d): the covered rows are the word2vec vectors exactly, the coverage is
the vocabularies' intersection counted here, a frozen table is bit-identical after training,
a trainable one moves, the report is in result.json and the card, and each mistake is one line."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch

import zoo
from zoo import factory
from zoo.checkpoint import load_checkpoint
from zoo.cli import main
from zoo.data.translation import tokenize_words
from zoo.data.vocab import PAD_ID, Vocab
from zoo.embeddings import align
from zoo.errors import ConfigError
from zoo.training import prepare

FAST = dict(max_epochs=1, logger="none", seed=0)


@pytest.fixture(scope="module")
def w2v(tmp_path_factory):
    out = tmp_path_factory.mktemp("w2v") / "run"
    zoo.train("word2vec_sgns_tiny", "w2v_tiny", out_dir=out, batch_size=1024, **FAST)
    return out / "checkpoint"


def _expected(task, w2v_task):
    """{source id: word2vec id} by exact token (numbers_en_es and w2v_tiny are both lower-case words)."""
    src = Vocab.from_dict(task.data_info.extra["src_vocab"])
    words = Vocab.from_dict(w2v_task.data_info.extra["vocab"])
    return {i: words.stoi[t] for i, t in enumerate(src.itos) if t not in src.specials and t in words.stoi}, src


@pytest.mark.parametrize("freeze", [True, False])
def test_covered_rows_are_the_word2vec_vectors_and_frozen_ones_stay(tmp_path, w2v, freeze):
    settings = dict(init_embeddings=str(w2v), freeze_embeddings=freeze, **FAST)
    before, dm = prepare(factory.resolve("seq2seq_gru_tiny", "numbers_en_es", **settings))
    start = before.model.encoder.embed.weight.detach().clone()
    vectors = load_checkpoint(w2v)
    pairs, src = _expected(before, vectors)
    assert 0 < len(pairs) < len(src) - 2  # some words covered, not all
    rows = torch.tensor(sorted(pairs))
    assert torch.equal(start[rows], vectors.model.vectors.detach()[torch.tensor([pairs[int(r)] for r in rows])])

    res = zoo.train("seq2seq_gru_tiny", "numbers_en_es", out_dir=tmp_path / "run", **settings)
    weight = res.task.model.encoder.embed.weight
    assert weight.requires_grad is (not freeze)
    assert torch.equal(weight.detach(), start) is freeze  # frozen: bit-identical; trainable: it moved
    assert res.task.model.decoder.embed.weight.requires_grad  # the other side trains either way

    ids = dm.splits["train"][0]
    tokens = Counter(ids[ids != PAD_ID].tolist())
    report = res.task.zoo_spec["embeddings"]
    assert report["source"]["covered"] == len(pairs) and report["source"]["words"] == len(src) - 2
    assert report["source"]["token_coverage"] == pytest.approx(sum(tokens[i] for i in pairs) / sum(tokens.values()))
    assert report["frozen"] is freeze and report["dim"] == 16 and "target" not in report
    recorded = json.loads((tmp_path / "run" / "result.json").read_text())
    assert recorded["spec"]["embeddings"] == report
    card = load_checkpoint(tmp_path / "run" / "checkpoint").card
    assert card["embeddings"] == report and card["config"]["model"]["init_embeddings"] == str(w2v)


def test_zoo_train_prints_the_coverage(tmp_path, w2v, capsys):
    argv = ["train", "seq2seq_gru_tiny", "--data", "numbers_en_es", "--init_embeddings", str(w2v),
            "--init_embeddings_side", "both", "--max_epochs", "1", "--logger", "none", "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    report = json.loads((tmp_path / "run" / "result.json").read_text())["spec"]["embeddings"]
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("embeddings from"))
    assert f"source {report['source']['covered']}/{report['source']['words']} words" in line
    assert f"target {report['target']['covered']}/{report['target']['words']} words" in line and "trainable" in line


def test_alignment_folds_case_and_punctuation_and_prefers_the_exact_token():
    w2v = Vocab(["don't", "Paris", "it's", "its", "PARIS"])
    words = Vocab(["dont", "paris", "its", "madrid"], specials=("<pad>", "<unk>", "<bos>", "<eos>"))
    got = {words.itos[i]: w2v.itos[j] for i, j in align(words, w2v, tokenize_words).items()}
    assert got == {"dont": "don't", "paris": "Paris", "its": "its"}


@pytest.mark.parametrize("extra, message", [
    (["--init_embeddings", "no_such_vectors"], "init_embeddings 'no_such_vectors' is neither a checkpoint folder nor a pretrained id"),
    (["--init_embeddings", "missing/checkpoint"], "init_embeddings 'missing/checkpoint': no checkpoint at missing/checkpoint"),
    (["--init_embeddings", "mlp-wine"], "init_embeddings 'mlp-wine' is a 'mlp' checkpoint (task multiclass), not word2vec"),
    (["--init_embeddings", "W2V", "--embed_dim", "8"], "has 16-d vectors, but the model's source embeddings are 8-d"),
    (["--init_embeddings", "W2V", "--init_embeddings_side", "left"], "init_embeddings_side 'left'"),
    (["--freeze_embeddings", "true"], "freeze_embeddings needs init_embeddings"),
    (["--init_embeddings", "W2V", "--init-from", "seq2seq_gru-spa_eng"], "use one of them"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, w2v, capsys, extra, message):
    out = tmp_path / "run"
    extra = [str(w2v) if x == "W2V" else x for x in extra]
    argv = ["train", "seq2seq_gru_tiny", "--data", "numbers_en_es", *extra, "--max_epochs", "1", "--logger", "none",
            "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()


def test_zoo_create_refuses_init_embeddings_without_data(w2v):
    with pytest.raises(ConfigError, match="needs the data's vocabularies"):
        zoo.create("seq2seq_gru_tiny", init_embeddings=str(w2v))


def test_a_study_cell_records_the_coverage(tmp_path, w2v):
    from zoo.bench.parse import parse_study
    from zoo.bench.runner import run_cell

    study = {"name": "emb", "description": "word2vec embeddings", "problems": ["seq2seq_gru_tiny-numbers_en_es"],
             "scientific": {"freeze_embeddings": [True]}, "nuisance": {}, "fixed": {"init_embeddings": str(w2v)},
             "seeds": 1, "budget": {"max_epochs": 1}, "quick": {}}
    res = run_cell(parse_study(study, "emb.yaml").cells()[0], tmp_path)
    stored = json.loads((tmp_path / "result.json").read_text())
    assert res["status"] == "ok" and stored["embeddings"]["frozen"] is True
    assert stored["embeddings"]["source"]["covered"] > 0 and stored["embeddings"]["from"] == str(w2v)
