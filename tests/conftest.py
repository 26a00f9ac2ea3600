"""Shared fixtures."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# One torch thread per test process, set before torch is imported: two threads beside
# another busy process collapse ~100x (spin-waiting OpenMP; the evidence is in zoo/procenv.py). CI sets it too.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("WANDB_MODE", "offline")
# The matmul peak (zoo/cost.py) is measured once per machine into this file, not the user's cache.
os.environ.setdefault("ZOO_PEAK_FILE", os.path.join(tempfile.gettempdir(), f"zoobench-tests-{os.getuid()}", "matmul_peak.json"))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder: $ZOO_DATA, else ../shared/data beside the checkout; skips when absent."""
    path = Path(os.environ.get("ZOO_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")
    if not path.is_dir():
        pytest.skip(f"real data folder {path} not found (set ZOO_DATA)")
    os.environ["ZOO_DATA"] = str(path)  # zoo reads the same folder the test found
    return path
