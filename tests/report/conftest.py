"""Fixtures of the report tests: realistic results stores (storegen.py) and their reports."""

from __future__ import annotations

from pathlib import Path

import pytest
import storegen


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="session")
def optimizers_store(stores: Path) -> Path:
    """Six problems (every task kind) × 3 optimizers × 3 lr × 3 seeds, with every failure kind."""
    return storegen.optimizers_study(stores)


@pytest.fixture(scope="session")
def big_store(stores: Path) -> Path:
    """200 cells: 2 problems × 4 activations × 5 learning rates × 5 seeds."""
    return storegen.big_study(stores)


@pytest.fixture(scope="session")
def batch_store(stores: Path) -> Path:
    return storegen.batch_study(stores)


@pytest.fixture(scope="session")
def optimizers_report(optimizers_store: Path, tmp_path_factory: pytest.TempPathFactory):
    """The report of the optimizers store (built once, read by several tests)."""
    from zoo.report import build_report

    return build_report(optimizers_store, tmp_path_factory.mktemp("reports") / "optimizers")
