"""The zoo's index: every registered model and dataset with its one-line facts, as a data file.

``zoo list`` answers from ``zoo/index.json`` alone, so it imports neither torch
nor Lightning (the model families and the dataset loaders import both). The
live registries stay the source of truth: :func:`build` reads them, and
``tests/test_registry.py`` fails when the file differs from what :func:`build`
returns. After adding or renaming a model or a dataset, rewrite the file::

    python -m zoo.index
"""

from __future__ import annotations

import importlib.resources
import json
import sys
from pathlib import Path
from typing import Any

INDEX_FILE = "index.json"


def read() -> dict[str, list[dict[str, Any]]]:
    """``{"models": [...], "datasets": [...]}`` from the shipped file (pure Python, no torch)."""
    return json.loads(importlib.resources.files("zoo").joinpath(INDEX_FILE).read_text(encoding="utf-8"))


def build() -> dict[str, list[dict[str, Any]]]:
    """The index as the live registries give it (imports every model family and dataset loader)."""
    import zoo.data
    import zoo.models

    models = [
        {"name": e.name, "tasks": list(e.tasks), "family": e.family, "default_data": e.default_data, "summary": e.summary}
        for e in zoo.models.entries()
    ]
    datasets = []
    for name in zoo.data.list_datasets():
        d = zoo.data.get_dataset(name)
        datasets.append({"name": name, "kind": d.kind, "embedded": d.embedded, "card": d.card, "summary": d.summary})
    return {"models": models, "datasets": datasets}


def render(index: dict[str, list[dict[str, Any]]]) -> str:
    """The file's text: one entry per line, so a change reads as a one-line diff."""
    parts = []
    for key in ("models", "datasets"):
        rows = ",\n".join("    " + json.dumps(row, ensure_ascii=False) for row in index[key])
        parts.append(f'  "{key}": [\n{rows}\n  ]')
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main() -> int:
    path = Path(__file__).with_name(INDEX_FILE)
    path.write_text(render(build()), encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
