"""Char-RNN family: model, data protocol, stateful training, generation, checkpoints, `zoo generate`.

Training tests use ``char_gru_tiny`` on the embedded Shakespeare sample for a
few seconds; they assert the loss falls, the model beats the unigram baseline
(computed here independently), and that saved models reproduce their outputs.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter

import pytest
import torch

import zoo
from zoo.data import load
from zoo.data.charlm import SAMPLE_SHA256, CharBatches, sample_text
from zoo.errors import CheckpointError, ConfigError, DataError, UnknownNameError
from zoo.apps.generate import generate
from zoo.models.char_rnn import CharRNN, CharRNNConfig

SAMPLE_TEXT = sample_text()
FAST = dict(progress=False, logger="none")
SAMPLE_OPTS = {"window": 50}


def unigram_cross_entropy(train: str, test: str) -> float:
    """Nats/char of predicting every test character with the training characters' frequencies."""
    counts, n = Counter(train), len(train)
    return -sum(math.log(counts[c] / n) for c in test) / len(test)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """char_gru_tiny trained ~5 s on the embedded sample, saved to a run folder."""
    out = tmp_path_factory.mktemp("char") / "run"
    res = zoo.train("char_gru_tiny", "shakespeare_sample", seed=0, batch_size=16, data_options=SAMPLE_OPTS,
                    out_dir=out, max_epochs=6, lr=0.01, clip_norm=1.0, progress=False)  # the default csv logger
    return res, out


# ----------------------------------------------------------------------------- model


def test_registry_and_parameter_counts():
    assert {"char_rnn", "char_gru", "char_lstm", "char_gru_tiny"} <= set(zoo.list_models("char_*"))
    # The book's model with 41 tokens (39 characters + <pad>, <unk>): embedding 41*16, GRU 3*(16*128 + 128*128 + 2*128),
    # dense 128*41 + 41.
    assert sum(p.numel() for p in zoo.create("char_rnn", vocab_size=41).parameters()) == 656 + 56_064 + 5_289
    gru = zoo.create("char_gru", vocab_size=41).model
    assert (gru.rnn.num_layers, gru.rnn.hidden_size, gru.rnn.dropout) == (2, 256, 0.2)
    assert isinstance(zoo.create("char_lstm", vocab_size=41).model.rnn, torch.nn.LSTM)


def test_config_errors_name_the_value():
    with pytest.raises(UnknownNameError, match="recurrent cell 'transformer'"):
        CharRNNConfig(cell="transformer")
    with pytest.raises(ConfigError, match="dropout must be in"):
        CharRNNConfig(dropout=1.5)
    with pytest.raises(ConfigError, match="hidden must be an integer > 0"):
        CharRNNConfig(hidden=0)


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
def test_state_carries_exactly(cell):
    # Two halves with the state carried == one pass over the whole sequence.
    torch.manual_seed(0)
    model = CharRNN(CharRNNConfig(vocab_size=11, embed_dim=4, hidden=8, num_layers=2, cell=cell)).eval()
    x = torch.randint(0, 11, (3, 20))
    full = model(x)
    assert full.shape == (3, 20, 11)
    a, state = model.forward_state(x[:, :12])
    b, _ = model.forward_state(x[:, 12:], state)
    torch.testing.assert_close(torch.cat([a, b], 1), full)


# ----------------------------------------------------------------------------- data


def test_embedded_sample_is_verified_and_needs_no_files(monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_DATA", str(tmp_path))  # an empty data directory
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    assert len(SAMPLE_TEXT) == 39_908 and hashlib.sha256(SAMPLE_TEXT.encode("utf-8")).hexdigest() == SAMPLE_SHA256
    dm = load("shakespeare_sample")
    info = dm.info
    assert info.kind == "language_model" and info.extra["lowercase"] is True
    assert info.extra["sizes"] == {"train": 32_000, "val": 4_000, "test": 3_908}
    tokens = info.extra["vocab"]["tokens"]
    assert tokens[:2] == ["<pad>", "<unk>"] and set(tokens[2:]) == set(SAMPLE_TEXT[:32_000].lower())
    assert info.num_classes == len(tokens) == info.extra["vocab_size"]


def test_a_modified_sample_file_is_refused(monkeypatch):
    import zoo.data.charlm as charlm

    monkeypatch.setattr(charlm, "SAMPLE_SHA256", "0" * 64)  # as if zoo/data/shakespeare_sample.txt had been edited
    charlm.sample_text.cache_clear()
    try:
        with pytest.raises(DataError, match="shakespeare_sample.txt was modified"):
            charlm.sample_text()
    finally:
        charlm.sample_text.cache_clear()


def test_embedded_sample_is_the_start_of_tiny_shakespeare(shared_data, monkeypatch):
    monkeypatch.setenv("ZOO_DATA", str(shared_data))
    from zoo.data.text import read_shakespeare

    assert read_shakespeare()[:39_908] == SAMPLE_TEXT


def test_shakespeare_book_protocol(shared_data, monkeypatch):
    monkeypatch.setenv("ZOO_DATA", str(shared_data))
    dm = load("shakespeare")
    extra = dm.info.extra
    assert extra["sizes"] == {"train": 1_000_000, "val": 60_000, "test": 55_394}
    assert len(extra["vocab"]["tokens"]) == 39 + 2  # 39 lower-case characters + <pad>, <unk>
    assert extra["unknown_chars"] == {"val": 0, "test": 0}
    assert len(dm.train_dataloader()) == 313  # 9,999 windows of 100 at batch 32
    val = list(dm.val_dataloader())
    assert sum(x.numel() for x, _ in val) == 59_900  # 599 windows of 100
    assert val[0][0].shape == (256, 100)


def test_windows_are_shifted_by_one_and_reshuffled():
    ids = torch.arange(1_000)
    batches = CharBatches(ids, 10, 8, shuffle=True, random_offset=True, seed=0)
    first, second = list(batches), list(batches)
    assert len(first) == len(second) == len(batches) == 13  # 98 windows (offset up to 9) at batch 8
    for x, y in first:
        torch.testing.assert_close(y, x + 1)  # y[:, i] is the character after x[:, i]
        assert torch.all(x[:, 1:] - x[:, :-1] == 1)  # contiguous windows
    assert not torch.equal(first[0][0], second[0][0])  # new order (and offset) each pass


def test_ordered_batches_continue_their_streams():
    ids = torch.arange(1_000)
    batches = CharBatches(ids, 10, 4, ordered=True, random_offset=True, seed=0)
    got = list(batches)
    assert len(got) == len(batches) == 24  # (1000 - 1 - 9) // (4 * 10)
    assert [b[2] for b in got] == [True] + [False] * 23  # `first` marks where the state restarts
    for (x0, y0, _), (x1, _, _) in zip(got, got[1:]):
        torch.testing.assert_close(x1[:, 0], y0[:, -1])  # row b continues row b
        torch.testing.assert_close(y0, x0 + 1)


def test_bad_data_options_are_one_line_errors():
    with pytest.raises(ConfigError, match="too short"):
        load("shakespeare_sample", window=5_000)
    with pytest.raises(ConfigError, match="leaves no test characters"):
        load("shakespeare_sample", train_chars=39_000, val_chars=1_000)
    with pytest.raises(ConfigError, match="train_chars must be"):
        load("shakespeare_sample", train_chars=0)
    from zoo.data.charlm import char_datamodule

    with pytest.raises(DataError, match="is empty"):
        char_datamodule("mine", "", train_chars=1, val_chars=1, test_chars=0, lowercase=True, window=2,
                        batch_size=1, eval_batch_size=1, eval_streams=1, seed=0)


def test_a_char_model_refuses_a_classification_dataset():
    with pytest.raises(ConfigError, match="trains for language_model; dataset 'digits' is multiclass"):
        zoo.train("char_gru_tiny", "digits", max_epochs=1, **FAST)


# ----------------------------------------------------------------------------- training


def test_tiny_model_learns_and_beats_unigram(trained):
    res, _ = trained
    losses = [r["train_loss"] for r in res.fit.history]
    assert losses[-1] < losses[0] - 0.5
    text = SAMPLE_TEXT.lower()
    baseline = unigram_cross_entropy(text[:32_000], text[32_000:36_000])  # ~3.1 nats/char
    val = res.metrics["val"]
    assert val["loss"] < baseline - 0.4
    assert val["bits_per_char"] == pytest.approx(val["loss"] / math.log(2))
    assert val["perplexity"] == pytest.approx(math.exp(val["loss"]))
    assert 0.2 < val["acc"] < 1


def test_metrics_equal_an_independent_computation(trained):
    res, _ = trained
    model, dm = res.task.model.eval(), res.data
    ids = dm.streams["val"]
    n = (ids.numel() - 1) // 50
    x, y = ids[: n * 50].view(n, 50), ids[1 : n * 50 + 1].view(n, 50)
    with torch.no_grad():
        logits = model(x)
    nll = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten()).item()
    acc = (logits.argmax(-1) == y).float().mean().item()
    assert res.metrics["val"]["loss"] == pytest.approx(nll, rel=1e-5)
    assert res.metrics["val"]["acc"] == pytest.approx(acc, rel=1e-5)


def test_stateful_training_carries_state_and_learns():
    res = zoo.train("char_gru_tiny", "shakespeare_sample", seed=0, batch_size=8, stateful=True,
                    data_options=SAMPLE_OPTS, max_epochs=4, lr=0.01, clip_norm=1.0, **FAST)
    assert res.data.stateful and res.task.stateful
    assert res.fit.steps_per_epoch == (32_000 - 1 - 49) // (8 * 50)  # 79 steps of 8 streams
    text = SAMPLE_TEXT.lower()
    assert res.metrics["val"]["loss"] < unigram_cross_entropy(text[:32_000], text[32_000:36_000]) - 0.4
    # Evaluated with the state carried through the validation block, the same weights do better
    # than on independent windows (the model has learned to use context across windows).
    stateless_val, _ = _stateless_eval(res)
    assert res.metrics["val"]["loss"] < stateless_val["loss"]


def _stateless_eval(res):
    res.task.stateful = False
    res.data.set_stateful(False)
    try:
        return res.task.evaluate(res.data.val_dataloader())
    finally:
        res.task.stateful = True
        res.data.set_stateful(True)


def test_language_model_task_runs_under_lightning_trainer():
    import lightning as L

    dm = load("shakespeare_sample", window=50, batch_size=16)
    task = zoo.create("char_gru_tiny", vocab_size=dm.info.num_classes, stateful=True, lr=0.01)
    task.prepare_data_stats(dm)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=10, limit_val_batches=5, enable_progress_bar=False,
                        logger=False, enable_checkpointing=False, enable_model_summary=False, gradient_clip_val=1.0)
    trainer.fit(task, dm)
    assert {"train_loss", "val_loss", "val_acc"} <= set(trainer.callback_metrics)
    assert trainer.callback_metrics["val_loss"] < math.log(dm.info.num_classes)  # below a uniform guess


def test_stateful_needs_a_recurrent_model():
    from zoo.tasks import LanguageModelTask

    with pytest.raises(ConfigError, match="needs a recurrent model"):
        LanguageModelTask(torch.nn.Linear(3, 3), stateful=True)


# ----------------------------------------------------------------------------- generation and checkpoints


def test_generation_is_well_formed_and_seeded(trained):
    res, _ = trained
    vocab = set(res.task.data_info.extra["vocab"]["tokens"][2:])
    text = generate(res.task, "First Citizen:", 300, temperature=0.8, seed=1)
    assert len(text) == 300 and set(text) <= vocab
    assert generate(res.task, "first citizen:", 300, temperature=0.8, seed=1) == text  # prompts are lower-cased
    assert generate(res.task, "first citizen:", 300, temperature=0.8, seed=2) != text
    greedy = generate(res.task, "the ", 50, temperature=0)
    assert greedy == generate(res.task, "the ", 50, temperature=0, seed=7)


def test_generation_rejects_bad_prompts(trained):
    res, _ = trained
    with pytest.raises(ConfigError, match="never seen in training"):
        generate(res.task, "café", 10)
    with pytest.raises(ConfigError, match="prompt is empty"):
        generate(res.task, "", 10)
    with pytest.raises(ConfigError, match="length must be"):
        generate(res.task, "a", 0)
    with pytest.raises(ConfigError, match="temperature must be"):
        generate(res.task, "a", 5, temperature=-1.0)


def test_save_load_gives_identical_outputs(trained):
    res, out = trained
    loaded = zoo.load_checkpoint(out / "checkpoint")
    assert loaded.card["data"]["extra"]["vocab"] == res.task.data_info.extra["vocab"]
    x = res.data.streams["test"][:200].view(4, 50).cpu()
    res.task.eval(), loaded.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x), res.task.model(x), rtol=0, atol=0)
    assert generate(loaded, "to be", 80, seed=3) == generate(res.task, "to be", 80, seed=3)
    assert (out / "predictions_test.npz").stat().st_size < 20_000  # per-window values only, not softmaxes
    import numpy as np

    pred = np.load(out / "predictions_test.npz")
    assert pred["nll"].shape == pred["tokens"].shape == (78,)  # 3,908 test characters -> (3,908 - 1) // 50 = 78 windows
    assert pred["sample_pred"].shape == (8, 50)


def test_zoo_generate_command(trained, capsys):
    from zoo.cli import main

    _, out = trained
    assert main(["generate", str(out / "checkpoint"), "--prompt", "ROMEO:", "--length", "40", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("ROMEO:") and len(printed) == len("ROMEO:") + 40 + 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--prompt", "héllo"], "the prompt has 1 character(s) never seen in training: 'é'"),
        (["--prompt", ""], "prompt is empty"),
        (["--prompt", "a", "--length", "0"], "--length must be an integer > 0"),
    ],
)
def test_zoo_generate_bad_input_is_one_line(trained, capsys, args, message):
    from zoo.cli import main

    _, out = trained
    assert main(["generate", str(out / "checkpoint"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_zoo_generate_refuses_other_checkpoints(tmp_path, capsys):
    from zoo.cli import main

    zoo.train("mlp_tiny", "digits", max_epochs=1, out_dir=tmp_path / "mlp", **FAST)
    assert main(["generate", str(tmp_path / "mlp" / "checkpoint"), "--prompt", "hello"]) == 2
    err = capsys.readouterr().err
    assert "holds a 'mlp_tiny' checkpoint for multiclass, not a character language model" in err and err.count("\n") == 1
    assert main(["generate", str(tmp_path / "nowhere"), "--prompt", "hello"]) == 2
    assert "no checkpoint at" in capsys.readouterr().err


def test_generate_checks_vocabulary_against_model(trained):
    res, _ = trained
    task = zoo.create("char_gru_tiny", vocab_size=5)
    task.data_info = res.task.data_info
    with pytest.raises(CheckpointError, match="saved vocabulary has"):
        generate(task, "a", 5)


# ----------------------------------------------------------------------------- recipes (minutes: -m slow)

RECIPES = __import__("pathlib").Path(__file__).resolve().parents[2] / "benchmarks" / "recipes"


def recipe(name: str) -> dict:
    import yaml

    return yaml.safe_load((RECIPES / f"{name}.yaml").read_text())


@pytest.mark.parametrize("name", ["char_gru-shakespeare", "char_gru-shakespeare-stateful"])
def test_recipes_are_complete(name):
    r = recipe(name)
    assert {"model", "data", "optimizer", "loop", "evidence"} <= set(r)
    r = {**r, **r["evidence"]}  # the bar and the measurements; the rest is the zoo train --config configuration
    assert r["model"] in zoo.list_models() and r["bar"]["val_loss"] <= 1.50
    assert r["measured"]["val_loss"] <= r["bar"]["val_loss"]
    assert r["measured"]["val_bits_per_char"] == pytest.approx(r["measured"]["val_loss"] / math.log(2), abs=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["char_gru-shakespeare", "char_gru-shakespeare-stateful"])
def test_recipe_reaches_the_bar(name, shared_data, monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_DATA", str(shared_data))
    from zoo.commands import read_config_file

    r, file = recipe(name), read_config_file(str(RECIPES / f"{name}.yaml"))
    res = zoo.train(file.model, out_dir=tmp_path / "run", file=file, **FAST)
    assert res.metrics["val"]["loss"] <= r["evidence"]["bar"]["val_loss"]
