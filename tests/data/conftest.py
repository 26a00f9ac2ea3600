"""Fixtures of the data-layer tests: no network, and the real files of ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test here reaches the internet: downloads are off unless a test turns them on."""
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    monkeypatch.delenv("ZOO_MIRROR", raising=False)
    monkeypatch.delenv("ZOO_DOWNLOAD_TIMEOUT", raising=False)


@pytest.fixture
def use_shared_data(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ZOO_DATA at the real (read-only) data folder."""
    monkeypatch.setenv("ZOO_DATA", str(shared_data))
    return shared_data
