"""Raw text readers, checked against the published sizes of each dataset (datasets/*.toml names the sources)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoo.data import get_card
from zoo.data.text import read_shakespeare, read_spa_eng, read_wikitext, read_word_eval
from zoo.errors import UnknownNameError

pytestmark = pytest.mark.usefixtures("use_shared_data")


def test_shakespeare() -> None:
    text = read_shakespeare()
    assert len(text) == 1_115_394 == get_card("tiny_shakespeare").stats["chars"]
    assert len(set(text)) == 65
    assert text.startswith("First Citizen:")
    assert text.count("\n") == 40_000


def test_spa_eng() -> None:
    pairs = read_spa_eng()
    assert len(pairs) == 118_964 == get_card("spa_eng").stats["pairs"]
    assert pairs[0] == ("Go.", "Ve.")
    assert len({english for english, _ in pairs}) == 102_904
    assert all(english and spanish for english, spanish in pairs)


def test_wikitext() -> None:
    valid, test = read_wikitext("valid"), read_wikitext(["test"])
    assert (len(valid), sum(len(line.split()) for line in valid)) == (3_760, 213_886)
    assert (len(test), sum(len(line.split()) for line in test)) == (4_358, 241_211)
    assert read_wikitext() == valid + test
    assert valid[1] == " = Homarus gammarus = "
    with pytest.raises(UnknownNameError, match="'train'"):
        read_wikitext(["train"])


def test_word_eval() -> None:
    analogies = read_word_eval("questions-words")
    assert len(analogies) == 14
    assert sum(map(len, analogies.values())) == 19_544
    assert analogies["capital-common-countries"][0] == ("Athens", "Greece", "Baghdad", "Iraq")
    wordsim = read_word_eval("wordsim353")
    assert len(wordsim) == 353 and wordsim[0] == ("love", "sex", 6.77)
    simlex = read_word_eval("simlex999")
    assert len(simlex) == 999 and all(0 <= score <= 10 for _, _, score in simlex)
    with pytest.raises(UnknownNameError, match="Did you mean 'simlex999'"):
        read_word_eval("simlex")


def test_readers_use_fetch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZOO_DATA", str(tmp_path))
    with pytest.raises(Exception, match="missing data file tinyshakespeare/input.txt.gz"):
        read_shakespeare()


def test_wikitext2_chars_scores_every_budget_on_the_same_blocks() -> None:
    """Validation and test are the last 100,000 and 200,000 characters whatever train_chars, and the
    vocabulary is the training block's (zoo/data/charlm.py)."""
    from zoo.data import load
    from zoo.data.charlm import encode_text
    from zoo.data.vocab import Vocab
    from zoo.errors import ConfigError

    text = "\n".join(read_wikitext()).lower()
    small, large = (load("wikitext2_chars", train_chars=n) for n in (50_000, 500_000))
    for dm in (small, large):
        vocab = Vocab.from_dict(dm.info.extra["vocab"])
        assert dm.streams["val"].tolist() == encode_text(text[-300_000:-200_000], vocab, lowercase=False).tolist()
        assert dm.streams["test"].tolist() == encode_text(text[-200_000:], vocab, lowercase=False).tolist()
        assert dm.num_samples("val") == 100_000 and dm.num_samples("test") == 200_000
    assert small.num_samples("train") == 50_000 and large.num_samples("train") == 500_000
    assert len(Vocab.from_dict(large.info.extra["vocab"])) > len(Vocab.from_dict(small.info.extra["vocab"]))
    with pytest.raises(ConfigError, match=r"train_chars at most 2,075,209"):
        load("wikitext2_chars", train_chars=3_000_000)
