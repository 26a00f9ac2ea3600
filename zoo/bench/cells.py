"""Cells: one configuration of a study each, frozen, with an id that is a hash of its content.

A cell's id is the first 16 hex digits of the sha256 of the canonical JSON (sorted keys,
normalized numbers, lists for tuples) of ``{problem, seed, params}``: the same
configuration has the same id whatever the key order or number spelling (``1e-3`` /
``0.001``) in the study file. tests/bench/test_spec.py pins the ids of stored studies.
"""

from __future__ import annotations

import hashlib
import json
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def normalize(value: Any) -> Any:
    """JSON-ready copy: tuples -> lists, numpy scalars -> Python, -0.0 -> 0.0, mapping keys -> str."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        return 0.0 if v == 0 else v
    if isinstance(value, Mapping):
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    raise TypeError(f"{value!r} cannot be part of a cell")


def canonical(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, normalized numbers (floats by shortest repr)."""
    return json.dumps(normalize(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= 60 else text[:57] + "..."


def differences(old: Any, new: Any, path: str = "") -> list[str]:
    """Where two JSON documents differ, as ``path: old -> new`` lines (added and removed keys say so):
    how an edited study differs from the stored one (``Store.differences``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in sorted(set(old) | set(new), key=str):
            p = f"{path}.{k}" if path else str(k)
            if k not in old:
                out.append(f"{p} added ({_short(new[k])})")
            elif k not in new:
                out.append(f"{p} removed (was {_short(old[k])})")
            else:
                out += differences(old[k], new[k], p)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in differences(a, b, f"{path}[{i}]")]
    return [f"{path}: {_short(old)} -> {_short(new)}"] if old != new else []


def cell_id(problem: str, seed: int, params: Mapping[str, Any], trial: int | None = None) -> str:
    """First 16 hex digits of sha256 of the canonical ``{problem, seed, params}`` (and ``trial``, the
    trial number of an Optuna search, when set: two trials may suggest the same point)."""
    key: dict[str, Any] = {"problem": problem, "seed": seed, "params": params}
    if trial is not None:
        key["trial"] = trial
    return hashlib.sha256(canonical(key).encode()).hexdigest()[:16]



@dataclass(frozen=True)
class Cell:
    """One configuration of a study: frozen; ``params`` are the kwargs of :func:`zoo.training.train`."""

    study: str
    problem: str
    model: str
    data: str
    seed: int
    params_json: str
    """Canonical JSON of the params (kept as text so the cell is immutable and hashable)."""
    scientific_json: str = "{}"
    nuisance_json: str = "{}"
    fixed_json: str = "{}"
    target_json: str = "null"
    trial: int | None = None
    """The trial number of an Optuna search (zoo/bench/optuna_search.py), part of the id; None otherwise."""
    search_json: str = "null"
    """What the runner needs of that search (the pruner, the earlier trials it compares with); not part of the id."""
    keep: bool = False
    """Whether the cell keeps its checkpoint (the study's ``keep``); not part of the id."""

    @property
    def params(self) -> dict[str, Any]:
        return json.loads(self.params_json)

    @property
    def scientific(self) -> dict[str, Any]:
        return json.loads(self.scientific_json)

    @property
    def nuisance(self) -> dict[str, Any]:
        return json.loads(self.nuisance_json)

    @property
    def fixed(self) -> dict[str, Any]:
        return json.loads(self.fixed_json)

    @property
    def target(self) -> dict[str, Any] | None:
        return json.loads(self.target_json)

    @property
    def search(self) -> dict[str, Any] | None:
        return json.loads(self.search_json)

    @property
    def cell_id(self) -> str:
        return cell_id(self.problem, self.seed, self.params, self.trial)

    def to_json(self) -> dict[str, Any]:
        """The content of ``cell.json``."""
        return {
            "cell_id": self.cell_id,
            "study": self.study,
            "problem": self.problem,
            "model": self.model,
            "data": self.data,
            "seed": self.seed,
            "params": self.params,
            "scientific": self.scientific,
            "nuisance": self.nuisance,
            "fixed": self.fixed,
            "target": self.target,
            **({"trial": self.trial, "search": {k: v for k, v in (self.search or {}).items() if k != "prior"}}
               if self.trial is not None else {}),
            **({"keep": True} if self.keep else {}),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Cell:
        return cls(
            study=d["study"], problem=d["problem"], model=d["model"], data=d["data"], seed=int(d["seed"]),
            params_json=canonical(d["params"]), scientific_json=canonical(d.get("scientific", {})),
            nuisance_json=canonical(d.get("nuisance", {})), fixed_json=canonical(d.get("fixed", {})),
            target_json=canonical(d.get("target")),
            trial=None if d.get("trial") is None else int(d["trial"]), search_json=canonical(d.get("search")),
            keep=bool(d.get("keep", False)),
        )

    def label(self) -> str:
        """Short human label: problem, seed and the axis values."""
        axes = {**self.scientific, **self.nuisance}
        text = " ".join(f"{k}={_short(v)}" for k, v in axes.items())
        trial = f" trial={self.trial}" if self.trial is not None else ""
        return f"{self.problem}{trial} seed={self.seed}" + (f" {text}" if text else "")


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "[" + ",".join(_short(x) for x in v) + "]"
    return str(v)


