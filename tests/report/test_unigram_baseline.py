"""A language model's trivial baseline: each character at its training frequency (zoo/data/charlm.py),
recorded per cell by the runner and flagged by the verdict when a model does no better."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from zoo.bench.parse import parse_study
from zoo.bench.sweep import run_study
from zoo.data import load
from zoo.data.charlm import sample_text
from zoo.report import build_report


def test_unigram_bits_equal_an_independent_count():
    dm = load("shakespeare_sample")
    text = sample_text().lower()
    train, val, test = text[:32_000], text[32_000:36_000], text[36_000:]
    counts = Counter(train)
    size = dm.info.extra["vocab_size"]
    total = len(train) + size  # add-one smoothing over the vocabulary (<pad> and <unk> included)
    unk = 1  # characters never seen in training share <unk>'s count: zero, plus one
    def bits(block: str) -> float:
        return -sum(math.log2((counts[ch] + 1) / total) if ch in counts else math.log2(unk / total) for ch in block) / len(block)
    got = dm.info.extra["unigram_bits_per_char"]
    assert got["val"] == pytest.approx(bits(val), abs=1e-9) and got["test"] == pytest.approx(bits(test), abs=1e-9)
    assert 4.0 < got["test"] < 4.6  # English letters: about 4.1-4.3 bits


def test_a_language_model_no_better_than_unigram_is_flagged(tmp_path):
    raw = {"name": "lm", "description": "t", "problems": ["char_gru_tiny-shakespeare_sample"],
           "scientific": {"lr": [1.0e-6, 1.0e-2]}, "seeds": 2, "budget": {"max_epochs": 1}}
    study = parse_study(raw, "t.yaml")
    run_study(study, out=tmp_path / "runs", quiet=True, threads=1)
    build_report(tmp_path / "runs" / "lm", tmp_path / "report")
    text = (tmp_path / "report" / "README.md").read_text()
    verdict = text.split("## Verdict", 1)[1].split("How to read", 1)[0]
    assert "**No better than trivial**" in verdict and "a unigram model of the training characters" in verdict
    assert "1e-06" in verdict.split("**No better than trivial**", 1)[1].split("\n", 1)[0]
