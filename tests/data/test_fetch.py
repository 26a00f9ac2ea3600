"""fetch: verification of present files, downloads from a local HTTP mirror, and the errors."""

from __future__ import annotations

import dataclasses
import functools
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from zoo.data import data_dir, fetch, get_card, list_cards
from zoo.data.cards import Card
from zoo.data.files import sha256_file
from zoo.errors import ConfigError, DataError, UnknownNameError

SMALL = "word-eval/wordsim353.tsv.gz"  # 3,388 bytes: quick to serve
LABELS = "mnist/train-labels-idx1-ubyte.gz"  # 28,881 bytes


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 from a background thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def without_urls(card_name: str) -> Card:
    """The card with its upstream URLs removed, so a test never reaches the internet."""
    card = get_card(card_name)
    return dataclasses.replace(card, files=tuple(dataclasses.replace(f, urls=()) for f in card.files))


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


# ----------------------------------------------------------------------------- data_dir


def test_data_dir_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZOO_DATA", str(tmp_path / "d"))
    assert data_dir() == tmp_path / "d"
    monkeypatch.delenv("ZOO_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data_dir() == tmp_path / "cache" / "zoobench" / "data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home" / ".cache" / "zoobench" / "data"


# ----------------------------------------------------------------------------- present files


def test_fetch_verifies_every_real_file_read_only(use_shared_data: Path) -> None:
    for name in list_cards():
        for f in get_card(name).files:
            assert fetch(name, f.path) == use_shared_data / f.path


def test_corrupt_local_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared_data: Path) -> None:
    monkeypatch.setenv("ZOO_DATA", str(tmp_path))
    bad = tmp_path / SMALL
    bad.parent.mkdir(parents=True)
    data = bytearray((shared_data / SMALL).read_bytes())
    data[100] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(DataError) as info:
        fetch("word_eval", SMALL)
    message = str(info.value)
    assert str(bad) in message and "corrupt" in message
    assert get_card("word_eval").file(SMALL).sha256 in message  # expected
    assert sha256_file(bad) in message  # actual


def test_unknown_file_path(use_shared_data: Path) -> None:
    with pytest.raises(UnknownNameError, match="Did you mean"):
        fetch("mnist", "mnist/train-labels-idx1-ubyte")


# ----------------------------------------------------------------------------- missing files


def test_missing_file_offline_says_where_to_put_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZOO_DATA", str(tmp_path))
    with pytest.raises(DataError) as info:
        fetch("mnist", LABELS)
    message = str(info.value)
    assert message.startswith(f"missing data file {LABELS} (sha256 {get_card('mnist').file(LABELS).sha256})")
    assert str(tmp_path / LABELS) in message and "ZOO_DATA" in message and "ZOO_OFFLINE" in message
    assert leftovers(tmp_path) == []


def test_download_from_local_mirror(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared_data: Path) -> None:
    monkeypatch.setenv("ZOO_DATA", str(tmp_path))
    monkeypatch.delenv("ZOO_OFFLINE")
    card = without_urls("mnist")
    with serve(shared_data) as url:
        monkeypatch.setenv("ZOO_MIRROR", url)
        path = fetch(card, LABELS)
    assert path == tmp_path / LABELS
    assert sha256_file(path) == card.file(LABELS).sha256
    assert leftovers(tmp_path) == [path]  # no temporary file left behind
    assert fetch(card, LABELS) == path  # present now: verified, not downloaded again


def test_mirrors_are_tried_in_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared_data: Path) -> None:
    monkeypatch.setenv("ZOO_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("ZOO_OFFLINE")
    empty = tmp_path / "empty"
    empty.mkdir()
    with serve(empty) as missing, serve(shared_data) as good:
        monkeypatch.setenv("ZOO_MIRROR", f"{missing}, {good}")  # the first answers 404
        path = fetch(without_urls("word_eval"), SMALL)
    assert sha256_file(path) == get_card("word_eval").file(SMALL).sha256


def test_mirror_may_be_a_local_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared_data: Path) -> None:
    monkeypatch.setenv("ZOO_DATA", str(tmp_path))
    monkeypatch.delenv("ZOO_OFFLINE")
    monkeypatch.setenv("ZOO_MIRROR", str(shared_data))
    assert sha256_file(fetch(without_urls("word_eval"), SMALL)) == get_card("word_eval").file(SMALL).sha256


def test_corrupt_download_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared_data: Path) -> None:
    bad_mirror = tmp_path / "mirror"
    (bad_mirror / "word-eval").mkdir(parents=True)
    data = bytearray((shared_data / SMALL).read_bytes())
    data[-10] ^= 0xFF
    (bad_mirror / SMALL).write_bytes(bytes(data))
    dest = tmp_path / "data"
    monkeypatch.setenv("ZOO_DATA", str(dest))
    monkeypatch.delenv("ZOO_OFFLINE")
    with serve(bad_mirror) as url:
        monkeypatch.setenv("ZOO_MIRROR", url)
        with pytest.raises(DataError) as info:
            fetch(without_urls("word_eval"), SMALL)
    message = str(info.value)
    assert f"missing data file {SMALL}" in message
    assert f"{url}/{SMALL} (sha256 mismatch" in message
    assert not (dest / SMALL).exists()  # never a bad file under the final name
    assert leftovers(dest) == []  # and no temporary file either


def test_download_larger_than_the_card_says_is_stopped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared_data: Path
) -> None:
    card = without_urls("mnist")
    small = dataclasses.replace(card.file(LABELS), size=1000)
    card = dataclasses.replace(card, files=(small,))
    monkeypatch.setenv("ZOO_DATA", str(tmp_path))
    monkeypatch.delenv("ZOO_OFFLINE")
    with serve(shared_data) as url:
        monkeypatch.setenv("ZOO_MIRROR", url)
        with pytest.raises(DataError, match="more than the expected 1000 bytes"):
            fetch(card, LABELS)
    assert leftovers(tmp_path) == []


def test_unwritable_destination(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared_data: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ZOO_DATA", str(blocker / "data"))  # cannot be created, even by root
    monkeypatch.delenv("ZOO_OFFLINE")
    monkeypatch.setenv("ZOO_MIRROR", str(shared_data))
    with pytest.raises(DataError, match=f"missing data file {SMALL} .*cannot create"):
        fetch(without_urls("word_eval"), SMALL)


def test_no_source_at_all(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZOO_DATA", str(tmp_path))
    monkeypatch.delenv("ZOO_OFFLINE")
    # The housing file has no URL serving its exact bytes (see the card's notes).
    with pytest.raises(DataError, match="set ZOO_MIRROR .*notes of dataset card 'california_housing'"):
        fetch("california_housing", "california-housing/housing.csv.gz")


def test_bad_timeout_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared_data: Path) -> None:
    monkeypatch.setenv("ZOO_DATA", str(tmp_path))
    monkeypatch.delenv("ZOO_OFFLINE")
    monkeypatch.setenv("ZOO_MIRROR", str(shared_data))
    monkeypatch.setenv("ZOO_DOWNLOAD_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="ZOO_DOWNLOAD_TIMEOUT .*'soon'"):
        fetch(without_urls("word_eval"), SMALL)



def test_silent_server_times_out(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZOO_DATA", str(tmp_path))
    monkeypatch.delenv("ZOO_OFFLINE")
    monkeypatch.setenv("ZOO_DOWNLOAD_TIMEOUT", "0.2")
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        monkeypatch.setenv("ZOO_MIRROR", f"http://127.0.0.1:{silent.getsockname()[1]}")
        with pytest.raises(DataError, match=r"\(timed out after 0.2 s\)"):
            fetch(without_urls("word_eval"), SMALL)
    assert leftovers(tmp_path) == []
