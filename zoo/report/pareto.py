"""The Pareto front of a search with several objectives (``search.objectives``, zoo/bench/optuna_search.py):
every finished trial's values (each the mean over its seeds, read from the stored cells as the search
read them: zoo/record.py ``objective_value``), the non-dominated trials in a table, and a scatter of
objective 1 against objective 2 with the front drawn. No Optuna: the front is :func:`zoo.report.tradeoffs.non_dominated` (numpy)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zoo import record as R
from zoo.report import document as D
from zoo.report import tables as T
from zoo.report.fmt import fmt
from zoo.report.tradeoffs import non_dominated


def trials(cells: Sequence[R.CellRecord], objectives: Sequence[Sequence[str]], seeds: int) -> list[dict[str, Any]]:
    """The finished trials: ``{group, trial, point, values, seeds}``, every one of their ``seeds`` cells ok."""
    by: dict[tuple[str, int], list[R.CellRecord]] = {}
    for c in cells:
        if c.cell.get("trial") is not None:
            group = str((c.cell.get("search") or {}).get("group") or c.problem)
            by.setdefault((group, int(c.cell["trial"])), []).append(c)
    out = []
    for (group, n), cs in sorted(by.items()):
        if len(cs) < seeds or any(c.status != R.OK or c.result is None for c in cs):
            continue
        vals = [[R.objective_value(c.result, m) for c in cs] for m, _ in objectives]
        if any(v is None for vs in vals for v in vs):
            continue
        out.append({"group": group, "trial": n, "point": {**cs[0].scientific, **cs[0].nuisance},
                    "values": [sum(vs) / len(vs) for vs in vals], "seeds": len(cs)})
    return out


def _repeats(ts: Sequence[dict[str, Any]]) -> dict[int, list[int]]:
    """For each trial (by index), the indices of every trial with the same configuration, first first."""
    by: dict[str, list[int]] = {}
    for i, t in enumerate(ts):
        by.setdefault(T.canon(t["point"]), []).append(i)
    return {i: js for js in by.values() for i in js}


def _scatter(points: np.ndarray, front: np.ndarray, names: Sequence[str], title: str) -> Any:
    from zoo.report import figures as F

    fig, (ax,) = F.grid(1, w=4.6, h=3.6)
    ax.scatter(points[~front, 0], points[~front, 1], s=18, color="#9a9a9a", label="dominated trial")
    f = points[front][np.argsort(points[front, 0])]
    ax.plot(f[:, 0], f[:, 1], "-o", color=F.color(3), ms=5, lw=1.2, label="Pareto front")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title(F._short(title, 60))
    ax.legend(loc="best")
    return fig


def pareto_blocks(sec: Any) -> list[D.Block]:
    """The section of a report (``sec``: zoo/report/base.py ``Sections``); nothing without ``objectives``."""
    search = sec.store.study.get("search") or {}
    objectives = search.get("objectives") if isinstance(search, dict) else None
    if not objectives:
        return []
    names = [f"{m} ({'higher' if d == 'max' else 'lower'} is better)" for m, d in objectives]
    blocks: list[D.Block] = [D.Heading(2, "Pareto front", "pareto")]
    found = trials(sec.store.cells, objectives, int(search.get("seeds_per_trial") or 1))
    if not found:
        return [*blocks, D.Para("No trial of the search has finished every seed yet.")]
    blocks.append(D.Para(
        f"The search ({search.get('sampler')} sampler) had {len(objectives)} objectives: "
        + ", ".join(f"`{m} {d}`" for m, d in objectives) + f"; each trial's value is the mean over its "
        f"{search.get('seeds_per_trial')} seed(s). A trial is on the front when no other finished trial is at least "
        "as good in every objective and better in one."))
    for group in sorted({t["group"] for t in found}):
        ts = [t for t in found if t["group"] == group]
        values = np.array([t["values"] for t in ts])
        front = non_dominated(values, [d for _, d in objectives])
        order = sorted(np.flatnonzero(front), key=lambda i: (-values[i, 0] if objectives[0][1] == "max" else values[i, 0]))
        keys = sorted({k for t in ts for k in t["point"]})
        same = _repeats(ts)
        rows = [[", ".join(str(ts[j]["trial"]) for j in same[i]), *(T.show(ts[i]["point"].get(k, "—")) for k in keys),
                 *(f"{int(v):,}" if float(v).is_integer() else fmt(float(v)) for v in values[i])]
                for i in order if same[i][0] == i]
        distinct = sum(1 for i, js in same.items() if js[0] == i)
        blocks.append(D.Table(["trial", *keys, *[m for m, _ in objectives]], rows,
                              caption=f"{group}: the {len(rows)} non-dominated of {distinct} distinct configurations "
                                      f"({len(ts)} finished trials)"))
        if distinct < len(ts):
            blocks.append(D.Para(
                f"The sampler asked {len(ts) - distinct} time(s) for a configuration an earlier trial had already run "
                f"(trials sharing a row above, or among the dominated ones); each such trial ran its seeds again, "
                f"{(len(ts) - distinct) * int(search.get('seeds_per_trial') or 1)} cell(s) in all."))
        blocks.append(sec.figure(_scatter(values, front, names, f"{group}: {len(ts)} trials"),
                                 f"pareto-{D.slug(group)}", f"{group}: {objectives[0][0]} against {objectives[1][0]}, "
                                 "every finished trial; the front joined" + (
                                     f" (the other {len(objectives) - 2} objective(s) count for the front)"
                                     if len(objectives) > 2 else "") + "."))
    return blocks
