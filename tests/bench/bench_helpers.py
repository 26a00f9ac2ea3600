"""Helpers of the benchmark harness tests: tiny studies of mlp_tiny on embedded data."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]


def tiny_study(**over: Any) -> dict[str, Any]:
    """A study of mlp_tiny on three embedded datasets; each cell trains in ~0.1-0.3 s."""
    study: dict[str, Any] = {
        "name": "tiny",
        "description": "test study",
        "problems": ["mlp_tiny-digits", "mlp_tiny-breast_cancer", "mlp_tiny-diabetes"],
        "scientific": {"optimizer": ["adam", "momentum"]},
        "nuisance": {"lr": [0.01, 0.001]},
        "fixed": {"batch_size": 32, "hidden": [8]},
        "data_options": {"limit": 96},
        "seeds": 1,
        "budget": {"max_epochs": 1},
    }
    study.update(over)
    if "quick" not in over:  # a quick form valid for what was overridden: the first problem, one value per nuisance axis
        quick: dict[str, Any] = {}
        if isinstance(study.get("problems"), list):
            quick["problems"] = study["problems"][:1]
        if isinstance(study.get("nuisance"), dict) and study["nuisance"]:
            quick["nuisance"] = {k: v[:1] if isinstance(v, list) else v for k, v in study["nuisance"].items()}
        study["quick"] = quick
    return study


def write_study(path: Path, study: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def subprocess_env() -> dict[str, str]:
    """Environment of a `python -m zoo.cli` child: one thread, allocator settings, the repo importable."""
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS="1",
        MALLOC_MMAP_THRESHOLD_="33554432",
        MALLOC_TRIM_THRESHOLD_="8000000000",
        ZOO_NO_REEXEC="1",
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    return env


PYTHON = sys.executable
