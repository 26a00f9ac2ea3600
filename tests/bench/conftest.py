"""Fixtures of the benchmark harness tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench_helpers import tiny_study, write_study


@pytest.fixture
def study_file(tmp_path: Path) -> Path:
    return write_study(tmp_path / "tiny.yaml", tiny_study())
