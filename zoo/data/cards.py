"""Dataset cards: what a dataset is, where its files come from, how it splits.

One TOML file per dataset lives in the repository's top-level ``datasets/``
folder (installed as the package ``zoo._datasets``). A card names the files a
loader needs by their path under the data directory (:func:`zoo.data.data_dir`),
with the sha256 and size every copy must have and the URLs that serve exactly
those bytes. Scikit-learn's bundled sets have a card too (``source =
"sklearn"``) but no files.

Card schema (``datasets/mnist.toml`` is a full example)::

    name, title, kind, licence, citation, homepage, description   (strings, required)
    source = "files" | "sklearn"      (default "files")
    notes = "..."                     (optional: how to obtain files no URL serves)
    [splits]  train = 55000 ...       (samples per split, optional for raw text sets)
    [stats]   chars = 1115394 ...     (facts a test can check, optional)
    [[files]] path, sha256, size, urls = [...]
              content_sha256, upstream (optional: sha256 once decompressed, and
              where the content comes from when no URL serves this exact file)
"""

from __future__ import annotations

import functools
import importlib.resources
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from zoo.data.registry import TASK_KINDS
from zoo.errors import DataError, UnknownNameError

SOURCES = ("files", "sklearn")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset, as it must be on disk."""

    path: str
    """Path relative to the data directory, with ``/`` separators (``mnist/t10k-labels-idx1-ubyte.gz``)."""
    sha256: str
    """Hex sha256 of the file's bytes; every copy, local or downloaded, is checked against it."""
    size: int
    """Size in bytes (a download that grows past it is stopped)."""
    urls: tuple[str, ...] = ()
    """Upstream URLs serving exactly these bytes, tried in order after any ``ZOO_MIRROR``."""
    content_sha256: str | None = None
    """sha256 of the decompressed content, for compressed files."""
    upstream: str | None = None
    """Where the content comes from when no URL serves this exact file (see the card's notes)."""


@dataclass(frozen=True)
class Card:
    """A parsed dataset card (``datasets/<name>.toml``)."""

    name: str
    title: str
    kind: str
    """Task kind, one of ``zoo.data.registry.TASK_KINDS``."""
    licence: str
    citation: str
    homepage: str
    description: str
    source: str = "files"
    """``files``: read from the data directory; ``sklearn``: bundled with scikit-learn."""
    notes: str = ""
    files: tuple[DataFile, ...] = ()
    splits: dict[str, int] = field(default_factory=dict)
    """Samples per split (``train``, ``val``, ``test``), used by the loaders as default sizes."""
    stats: dict[str, Any] = field(default_factory=dict)
    """Facts about the content (character, line, pair counts) that tests check."""
    also: tuple[str, ...] = ()
    """Other task kinds datasets read from these files (WikiText-2: word vectors and characters)."""

    def serves(self, kind: str) -> bool:
        """Whether a dataset of task ``kind`` may read this card's files."""
        return kind == self.kind or kind in self.also

    @property
    def embedded(self) -> bool:
        """True when the data ship with an installed package (no data directory needed)."""
        return self.source != "files"

    def file(self, path: str) -> DataFile:
        """The file entry for ``path`` (relative to the data directory)."""
        for f in self.files:
            if f.path == path:
                return f
        raise UnknownNameError(f"file of dataset {self.name!r}", path, [f.path for f in self.files])


# ----------------------------------------------------------------------------- locating cards


def _card_sources() -> Iterator[tuple[str, bytes]]:
    """(file name, bytes) of every ``*.toml`` card, from the installed package or the checkout."""
    try:
        root: Any = importlib.resources.files("zoo._datasets")
    except ModuleNotFoundError:  # a source checkout that was never installed
        root = Path(__file__).resolve().parents[2] / "datasets"
    if not root.is_dir():
        raise DataError(f"the dataset cards folder {root} is missing; reinstall zoobench or run from a full checkout.")
    for entry in root.iterdir():
        if entry.name.endswith(".toml"):
            yield entry.name, entry.read_bytes()


@functools.cache
def _all_cards() -> dict[str, Card]:
    cards: dict[str, Card] = {}
    for filename, raw in sorted(_card_sources()):
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise DataError(f"dataset card {filename} is not valid TOML ({e}); fix or remove it.") from None
        card = _parse_card(data, filename)
        cards[card.name] = card
    return cards


def list_cards() -> list[str]:
    """Sorted names of every dataset card."""
    return sorted(_all_cards())


def get_card(name: str) -> Card:
    """The card called ``name``; an unknown name lists close matches."""
    cards = _all_cards()
    try:
        return cards[name]
    except (KeyError, TypeError):
        raise UnknownNameError("dataset card", name, cards) from None


# ----------------------------------------------------------------------------- parsing

_REQUIRED = ("name", "title", "kind", "licence", "citation", "homepage", "description")
_OPTIONAL = ("source", "notes", "files", "splits", "stats", "also")
_FILE_REQUIRED = ("path", "sha256", "size")
_FILE_OPTIONAL = ("urls", "content_sha256", "upstream")


def _parse_card(data: dict[str, Any], filename: str) -> Card:
    """Validate a card's TOML table; every problem is one DataError naming the card and key."""

    def bad(what: str) -> DataError:
        return DataError(f"dataset card {filename} is invalid: {what}.")

    unknown = sorted(set(data) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise bad(f"unknown key {unknown[0]!r} (allowed: {', '.join(_REQUIRED + _OPTIONAL)})")
    for key in _REQUIRED + ("source", "notes"):
        if key in data and not isinstance(data[key], str):
            raise bad(f"{key} must be a string, got {data[key]!r}")
    missing = [k for k in _REQUIRED if not data.get(k)]
    if missing:
        raise bad(f"{missing[0]} is missing or empty")
    if filename != f"{data['name']}.toml":
        raise bad(f"name {data['name']!r} must match the file name")
    if data["kind"] not in TASK_KINDS:
        raise bad(f"kind {data['kind']!r} is not one of {', '.join(TASK_KINDS)}")
    source = data.get("source", "files")
    if source not in SOURCES:
        raise bad(f"source {source!r} is not one of {', '.join(SOURCES)}")

    files = tuple(_parse_file(f, bad) for f in data.get("files", []))
    if source == "files" and not files:
        raise bad('a card with source = "files" needs at least one [[files]] entry')
    if source != "files" and files:
        raise bad(f"a card with source = {source!r} must not list files")
    if len({f.path for f in files}) != len(files):
        raise bad("a file path is listed twice")

    splits = data.get("splits", {})
    if not isinstance(splits, dict) or not all(isinstance(v, int) and v > 0 for v in splits.values()):
        raise bad(f"[splits] must map split names to positive integers, got {splits!r}")
    stats = data.get("stats", {})
    if not isinstance(stats, dict):
        raise bad(f"[stats] must be a table, got {stats!r}")
    also = data.get("also", [])
    if not isinstance(also, list) or not all(k in TASK_KINDS for k in also):
        raise bad(f"also must be a list of task kinds ({', '.join(TASK_KINDS)}), got {also!r}")
    return Card(
        **{k: data[k] for k in _REQUIRED},
        also=tuple(also),
        source=source,
        notes=data.get("notes", ""),
        files=files,
        splits=dict(splits),
        stats=dict(stats),
    )


def _parse_file(entry: Any, bad: Callable[[str], DataError]) -> DataFile:
    if not isinstance(entry, dict):
        raise bad(f"a [[files]] entry must be a table, got {entry!r}")
    unknown = sorted(set(entry) - set(_FILE_REQUIRED) - set(_FILE_OPTIONAL))
    if unknown:
        raise bad(f"unknown file key {unknown[0]!r} (allowed: {', '.join(_FILE_REQUIRED + _FILE_OPTIONAL)})")
    missing = [k for k in _FILE_REQUIRED if k not in entry]
    if missing:
        raise bad(f"a [[files]] entry has no {missing[0]}")
    path = entry["path"]
    # Relative, forward slashes, no '..': the path is joined onto the data directory.
    if not isinstance(path, str) or not path or "\\" in path or PurePosixPath(path).is_absolute() or ".." in path.split("/"):
        raise bad(f"file path {path!r} must be relative to the data directory, with '/' separators and no '..'")
    for key in ("sha256", "content_sha256"):
        value = entry.get(key)
        if (key == "sha256" or value is not None) and not (isinstance(value, str) and _SHA256.fullmatch(value)):
            raise bad(f"{key} of {path} must be 64 lower-case hex digits, got {value!r}")
    size = entry["size"]
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise bad(f"size of {path} must be a positive number of bytes, got {size!r}")
    urls = entry.get("urls", [])
    if not isinstance(urls, list) or not all(isinstance(u, str) and "://" in u for u in urls):
        raise bad(f"urls of {path} must be a list of absolute URLs, got {urls!r}")
    upstream = entry.get("upstream")
    if upstream is not None and not isinstance(upstream, str):
        raise bad(f"upstream of {path} must be a URL string, got {upstream!r}")
    return DataFile(path, entry["sha256"], size, tuple(urls), entry.get("content_sha256"), upstream)
