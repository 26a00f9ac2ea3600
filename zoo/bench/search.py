"""Random search: distinct points of a study's axes, drawn by a generator seeded per problem
and scientific value, so adding a value or a problem leaves the others' points unchanged."""

from __future__ import annotations

import hashlib
import itertools
import math
from typing import Any

from zoo.bench.cells import canonical


def sample(axes: list[Any], trials: int, key: tuple) -> list[dict[str, Any]]:
    """``trials`` distinct points of ``axes`` (grid points without replacement when the grid is small).

    The generator is seeded by ``key`` (search seed, problem, scientific value), so adding a
    scientific value or a problem leaves the points of the others unchanged.
    """
    import numpy as np

    digest = hashlib.sha256(canonical(list(key)).encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    discrete = all(a.distribution is None for a in axes)
    if discrete:
        grid = list(itertools.product(*(a.values if not a.tuner else (a.tuner,) for a in axes)))
        order = rng.permutation(len(grid))[: min(trials, len(grid))]
        return [dict(zip([a.name for a in axes], grid[i])) for i in sorted(order)]
    points: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(trials * 50):
        if len(points) == trials:
            break
        p = {a.name: draw(a, rng) for a in axes}
        c = canonical(p)
        if c not in seen:
            seen.add(c)
            points.append(p)
    return points


def draw(axis: Any, rng: Any) -> Any:
    if axis.tuner is not None:
        return axis.tuner
    if axis.distribution is None:
        return axis.values[int(rng.integers(len(axis.values)))]
    (kind, (lo, hi)), = axis.distribution.items()
    if kind == "int_uniform":
        return int(rng.integers(lo, hi + 1))
    if kind == "log_uniform":
        v = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    else:
        v = float(rng.uniform(lo, hi))
    return float(f"{v:.4g}")  # 4 significant digits: readable, and stable ids
