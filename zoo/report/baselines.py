"""A study measured against other studies (``baselines:`` in the study, zoo/bench/study.py): on each
problem they share, this study's best configuration on validation against each baseline's, with
the CPU-seconds every cell of that problem took in each study.

The question it answers is a search's: does it find a configuration at least as good as the best
grid cell, with less compute? Configurations are chosen as the verdict chooses them
(zoo/report/stats.py ``best_over_nuisance``: the best mean validation metric over seeds); the test
metrics are compared over the seeds both have by the verdict's paired t-test. Compute counts every
cell of the problem whatever its status (a pruned or failed cell cost CPU time too; a grid's range
tests are part of its cells). A baseline's store is looked for beside this one's
(``runs/<baseline>``, ``runs/<baseline>-quick`` for a quick study); one not found is named with
the command that makes it.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from zoo import record as R
from zoo.errors import ZooError
from zoo.report import document as D
from zoo.report import stats as S
from zoo.report import tables as T
from zoo.report.fmt import fmt, fmt_ci, fmt_p, fmt_signed

ANCHOR = "baselines"


def _cpu(rows: pd.DataFrame, problem: str) -> tuple[float, int, int, int]:
    """CPU-seconds of the problem's finished cells (every status but pending), their number, those
    that recorded none (stores written before CPU-seconds were), and the pending cells."""
    g = rows[rows.problem == problem]
    pending = g.status.isin([R.PENDING, R.UNREADABLE])
    done = g[~pending]
    cpu = pd.to_numeric(done["cpu_seconds"], errors="coerce") if "cpu_seconds" in done else pd.Series(math.nan, index=done.index)
    return float(cpu.sum()) if cpu.notna().any() else math.nan, len(done), int(cpu.isna().sum()), int(pending.sum())


def _best(table: T.Table, problem: str) -> tuple[S.Entry | None, str, str]:
    metric, mode = T.problem_metric(table, problem)
    entries = S.best_over_nuisance(table, problem, None, metric, mode)
    return (entries[0] if entries and entries[0].stats.n else None), metric, mode


def _config(e: S.Entry) -> str:
    """The chosen configuration: the values of the study's axes (its fixed settings are in its own report)."""
    return ", ".join(f"{k}={T.show(v)}" for k, v in e.config.items()) or "its only configuration"


def _store(sec: Any, name: str) -> tuple[T.Table | None, str]:
    """The baseline's table, or None and the line that says why (no store there, or one that does not read)."""
    quick = " --quick" if sec.store.study.get("quick") else ""
    path = sec.store.root.parent / (f"{name}-quick" if quick else name)
    if not (path / "study.json").is_file():
        return None, f"Baseline `{name}`: no store at `{path}`; `zoo bench {name}{quick}` makes it, then this report again."
    try:
        return T.cell_table(T.load(path)), ""
    except ZooError as e:
        return None, f"Baseline `{name}`: its store at `{path}` does not read ({e})."


def baseline_blocks(sec: Any) -> list[D.Block]:
    """The section (``sec``: zoo/report/base.py ``Sections``); nothing when the study names no baselines."""
    names = [str(b) for b in sec.store.study.get("baselines") or []]
    if not names:
        return []
    blocks: list[D.Block] = [D.Heading(2, "Against the baselines", ANCHOR), D.Para(
        "This study's best configuration on each problem against the best configuration of each study under "
        "`baselines`, chosen the same way (the best mean validation metric over seeds, as in the verdict). "
        "CPU-s: user + system seconds of every cell of the problem in that study, whatever its status (pruned "
        "and failed cells cost compute too; a grid's LR range tests are inside its cells). Test differences "
        "are paired over the seeds both have (" + S.PAIRED_METHOD + ").")]
    tables: list[tuple[str, T.Table]] = []
    for name in names:
        table, why = _store(sec, name)
        if table is None:
            blocks.append(D.Para(why))
        else:
            tables.append((name, table))
    rows, sentences = [], []
    for problem in sec.compared_problems:
        mine, metric, mode = _best(sec.table, problem)
        if mine is None:
            continue
        cost = _cpu(sec.rows, problem)
        rows.append(_row(problem, f"**{sec.store.name}** (this study)", mine, cost))
        for name, table in tables:
            if problem not in table.store.problems:
                continue
            if T.data_options(table.store, problem) != T.data_options(sec.store, problem):
                sentences.append(f"**{problem}**, `{name}`: not compared, its data options differ "
                                 f"({T.data_options(table.store, problem)} here {T.data_options(sec.store, problem)}).")
                continue
            theirs, _, _ = _best(table, problem)
            if theirs is None:
                continue
            b_cost = _cpu(table.rows, problem)
            rows.append(_row(problem, f"`{name}`", theirs, b_cost))
            sentences.append(_sentence(problem, sec.store.name, name, metric, mode, mine, theirs, cost[0], b_cost[0]))
    if rows:
        blocks.append(D.Table(["problem", "study", "best configuration", "validation", "test mean ± 95% CI (n)",
                               "configurations", "cells", "CPU-s"], rows, caption="Each study's best configuration and what its cells cost"))
    if sentences:
        blocks.append(D.Bullets(sentences))
    return blocks


def _row(problem: str, study: str, e: S.Entry, cost: tuple[float, int, int, int]) -> list[str]:
    cpu, done, unknown, pending = cost
    notes = ([f"{unknown} without CPU-s"] if unknown else []) + ([f"{pending} pending"] if pending else [])
    return [problem, study, _config(e), f"{e.select_metric} {fmt(e.select_score)}", f"{fmt_ci(e.stats)} ({e.stats.n})",
            str(e.n_configs), f"{done}" + (f" ({', '.join(notes)})" if notes else ""), fmt(cpu, 0)]


def _seeds(e: S.Entry) -> str:
    return f"{e.stats.n} seed" + ("s" if e.stats.n != 1 else "")


def _sentence(problem: str, me: str, name: str, metric: str, mode: str, mine: S.Entry, theirs: S.Entry,
              cpu: float, b_cpu: float) -> str:
    sign = 1 if mode == "max" else -1
    dval = sign * (mine.select_score - theirs.select_score)
    as_good = dval >= 0
    test = S.paired_test(mine.test, theirs.test)
    dtest = sign * test.mean_diff if math.isfinite(test.mean_diff) else math.nan
    text = (f"**{problem}**: the best of `{me}` ({mine.select_metric} {fmt(mine.select_score)}, {_seeds(mine)}) is "
            + ("at least as good as" if as_good else "worse than")
            + f" the best of `{name}` ({fmt(theirs.select_score)}, {_seeds(theirs)}) on validation "
            f"({fmt_signed(dval, mine.select_score)}); on test, {metric} {fmt_signed(dtest, mine.stats.mean)}, {fmt_p(test)}")
    if math.isfinite(cpu) and math.isfinite(b_cpu) and b_cpu > 0:
        fewer = cpu < b_cpu
        text += (f", with {fmt(cpu, 0)} CPU-s against {fmt(b_cpu, 0)} ({cpu / b_cpu:.2f}×: "
                 + (f"{fmt(b_cpu - cpu, 0)} fewer" if fewer else f"{fmt(cpu - b_cpu, 0)} more") + ").")
    else:
        text += "; CPU-seconds not recorded by both, so no cost comparison."
    return text
