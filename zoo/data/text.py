"""Raw readers for the text datasets (the text families build their data modules on them).

Each reader gets its files through :func:`zoo.data.files.fetch`, so they are
verified (sha256) and, when missing, downloaded or explained, like every other
dataset. Readers return plain Python data; tokenising and batching belong to
the model families (character vocabularies live inside their checkpoints).
"""

from __future__ import annotations

import gzip
import zipfile
import zlib
from collections.abc import Iterable
from typing import Literal, overload

from zoo.data.files import fetch
from zoo.errors import DataError, check_choice

WIKITEXT_SPLITS = ("valid", "test")  # the training split is not available (see datasets/wikitext2.toml)
WORD_EVAL_SETS = ("questions-words", "wordsim353", "simlex999")
_WORD_EVAL_FILES = {
    "questions-words": "word-eval/questions-words.txt.gz",
    "wordsim353": "word-eval/wordsim353.tsv.gz",
    "simlex999": "word-eval/simlex999.txt.gz",
}

Analogy = tuple[str, str, str, str]  # a is to b as c is to d
ScoredPair = tuple[str, str, float]  # word 1, word 2, mean human score


def _read_gz_text(card: str, path: str) -> str:
    """The UTF-8 text of a gzipped file of ``card``, fetched and verified."""
    local = fetch(card, path)
    try:
        with gzip.open(local, "rb") as f:
            return f.read().decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
        raise DataError(f"{local} cannot be read as gzipped UTF-8 text ({e}); delete it and fetch it again.") from None


def _lines(text: str) -> list[str]:
    """Lines split on "\n" only (``str.splitlines`` would also split on U+2028, form feeds...)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the file's final newline ends a line, it does not start one
    return lines


def read_shakespeare() -> str:
    """Tiny Shakespeare as one string: 1,115,394 characters (65 distinct), starting "First Citizen:"."""
    return _read_gz_text("tiny_shakespeare", "tinyshakespeare/input.txt.gz")


def read_spa_eng() -> list[tuple[str, str]]:
    """The 118,964 (English, Spanish) sentence pairs of ``spa-eng/spa.txt``, in file order."""
    local = fetch("spa_eng", "spa-eng/spa-eng.zip")
    member = "spa-eng/spa.txt"
    try:
        with zipfile.ZipFile(local) as archive:
            text = archive.read(member).decode("utf-8")
    except (OSError, KeyError, zipfile.BadZipFile, zlib.error, UnicodeDecodeError) as e:
        raise DataError(f"{local} has no readable UTF-8 member {member} ({e}); delete it and fetch it again.") from None
    pairs = []
    for number, line in enumerate(_lines(text), 1):
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise DataError(f"{local}:{member} line {number} has {len(fields)} tab-separated fields, expected 2.")
        pairs.append((fields[0], fields[1]))
    return pairs


def read_wikitext(splits: Iterable[str] = WIKITEXT_SPLITS) -> list[str]:
    """Lines (newline removed, blank ones kept) of the tokenised WikiText-2 ``splits``, concatenated in order.

    ``valid`` has 3,760 lines (213,886 tokens), ``test`` 4,358 (241,211); a
    language model adds one ``<eos>`` per line, blank lines included.
    """
    if isinstance(splits, str):  # read_wikitext("valid") means one split, not five letters
        splits = (splits,)
    lines: list[str] = []
    for split in splits:
        check_choice("WikiText-2 split", split, WIKITEXT_SPLITS)
        lines.extend(_lines(_read_gz_text("wikitext2", f"wikitext-2/{split}.txt.gz")))
    return lines


@overload
def read_word_eval(name: Literal["questions-words"]) -> dict[str, list[Analogy]]: ...
@overload
def read_word_eval(name: Literal["wordsim353", "simlex999"]) -> list[ScoredPair]: ...
def read_word_eval(name: str) -> dict[str, list[Analogy]] | list[ScoredPair]:
    """A word-embedding evaluation set.

    ``questions-words``: the word2vec analogies, section name (``capital-common-countries``,
    ...; 14 in all) -> list of ``(a, b, c, d)``, 19,544 questions in all.
    ``wordsim353`` / ``simlex999``: ``(word1, word2, score)`` for 353 / 999 pairs
    (``#`` comment lines skipped; scores are mean human ratings, 0-10).
    """
    check_choice("word evaluation set", name, WORD_EVAL_SETS)
    path = _WORD_EVAL_FILES[name]
    text = _read_gz_text("word_eval", path)
    if name == "questions-words":
        return _parse_analogies(text, path)
    return _parse_scored_pairs(text, path)


def _parse_analogies(text: str, path: str) -> dict[str, list[Analogy]]:
    sections: dict[str, list[Analogy]] = {}
    current: list[Analogy] | None = None
    for number, line in enumerate(_lines(text), 1):
        if not line.strip():
            continue
        if line.startswith(":"):  # ": capital-common-countries" opens a section
            current = sections.setdefault(line[1:].strip(), [])
            continue
        words = line.split()
        if current is None or len(words) != 4:
            raise DataError(f"{path} line {number} is not an analogy 'a b c d' inside a ': section': {line!r}.")
        current.append((words[0], words[1], words[2], words[3]))
    return sections


def _parse_scored_pairs(text: str, path: str) -> list[ScoredPair]:
    pairs: list[ScoredPair] = []
    for number, line in enumerate(_lines(text), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        try:
            if len(fields) != 3:
                raise ValueError
            pairs.append((fields[0], fields[1], float(fields[2])))
        except ValueError:
            raise DataError(f"{path} line {number} is not 'word1<TAB>word2<TAB>score': {line!r}.") from None
    return pairs
