"""Dataset cards: every card parses, and its files are exactly the real ones."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from zoo.data.cards import _parse_card, get_card, list_cards
from zoo.data.registry import TASK_KINDS
from zoo.errors import DataError, UnknownNameError

EXPECTED = {
    "mnist", "fashion_mnist", "california_housing", "tiny_shakespeare", "spa_eng", "wikitext2",
    "word_eval", "digits", "breast_cancer", "wine", "diabetes",
}  # fmt: skip


def read_sha256sums(folder: Path) -> dict[str, str]:
    """path -> sha256 from the folder's SHA256SUMS (``sha256sum`` format)."""
    sums = {}
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*")] = digest
    return sums


def test_every_card_parses() -> None:
    assert set(list_cards()) == EXPECTED
    for name in list_cards():
        card = get_card(name)
        assert card.name == name
        assert card.kind in TASK_KINDS
        assert card.title and card.licence and card.citation and card.description
        assert card.homepage.startswith(("http://", "https://"))
        if card.embedded:
            assert card.source == "sklearn" and not card.files
        else:
            assert card.files
        for f in card.files:
            # Either some URL serves these exact bytes, or the notes say how to make them.
            assert f.urls or (f.upstream and card.notes), f.path


def test_card_files_are_exactly_sha256sums(shared_data: Path) -> None:
    sums = read_sha256sums(shared_data)
    listed = {f.path: f for name in list_cards() for f in get_card(name).files}
    assert set(listed) == set(sums)  # every real file has a card, every card file is real
    for path, f in listed.items():
        assert f.sha256 == sums[path], path
        assert f.size == (shared_data / path).stat().st_size, path


def test_content_sha256_of_compressed_files(shared_data: Path) -> None:
    # The two 47 MB training-image sets are left out for speed (their idx headers are checked on load).
    for name in list_cards():
        for f in get_card(name).files:
            if f.content_sha256 is not None and f.size < 5_000_000:
                with gzip.open(shared_data / f.path, "rb") as fh:
                    assert hashlib.sha256(fh.read()).hexdigest() == f.content_sha256, f.path


def test_splits_of_classification_and_regression_cards() -> None:
    for name in list_cards():
        card = get_card(name)
        if card.kind in ("binary", "multiclass", "regression"):
            assert set(card.splits) == {"train", "val", "test"}, name
    assert get_card("mnist").splits == {"train": 55000, "val": 5000, "test": 10000}
    assert sum(get_card("california_housing").splits.values()) == 20640


def test_unknown_card_suggests_close_match() -> None:
    with pytest.raises(UnknownNameError, match="'mnist'"):
        get_card("mnsit")


def test_unknown_file_of_card() -> None:
    with pytest.raises(UnknownNameError, match="mnist/train-images-idx3-ubyte.gz"):
        get_card("mnist").file("mnist/train-images.gz")


VALID = {
    "name": "toy", "title": "t", "kind": "multiclass", "licence": "MIT", "citation": "c",
    "homepage": "https://example.org", "description": "d",
    "files": [{"path": "toy/a.gz", "sha256": "0" * 64, "size": 3, "urls": ["https://example.org/a.gz"]}],
}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"kind": "clustering"}, "kind 'clustering'"),
        ({"title": ""}, "title is missing"),
        ({"name": "other"}, "must match the file name"),
        ({"source": "sklearn"}, "must not list files"),
        ({"files": []}, "at least one"),
        ({"files": [{"path": "../a.gz", "sha256": "0" * 64, "size": 3}]}, "relative"),
        ({"files": [{"path": "a.gz", "sha256": "abc", "size": 3}]}, "64 lower-case hex"),
        ({"files": [{"path": "a.gz", "sha256": "0" * 64, "size": 0}]}, "positive number of bytes"),
        ({"files": [{"path": "a.gz", "sha256": "0" * 64, "size": 3, "url": "x"}]}, "unknown file key 'url'"),
        ({"splits": {"train": -1}}, r"\[splits\]"),
    ],
)
def test_invalid_card_is_one_clear_error(change: dict, message: str) -> None:
    assert _parse_card(VALID, "toy.toml").name == "toy"
    with pytest.raises(DataError, match=message) as info:
        _parse_card({**VALID, **change}, "toy.toml")
    assert str(info.value).startswith("dataset card toy.toml is invalid:")
