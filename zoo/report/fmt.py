"""How the report writes numbers, intervals, p-values and file names."""

from __future__ import annotations

import math
from typing import Any

from zoo.report import document as D
from zoo.report import stats as S
from zoo.report import tables as T


def _decimals(x: float) -> int:
    a = abs(x)
    return 0 if a >= 1000 else 1 if a >= 100 else 2 if a >= 10 else 4


def fmt(x: Any, decimals: int | None = None) -> str:
    """A number for a table: 4 decimals below 10, fewer above; ``—`` for missing."""
    if x is None or isinstance(x, str):
        return x or "—"
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(x):
        return "—" if math.isnan(x) else ("∞" if x > 0 else "−∞")
    d = _decimals(x) if decimals is None else decimals
    return f"{x:,.{d}f}"


def fmt_ci(s: S.MeanCI) -> str:
    """``0.9612 ± 0.0104``; one seed: the value alone."""
    if not s.n:
        return "—"
    d = _decimals(s.mean)
    if not math.isfinite(s.half):
        return fmt(s.mean, d)
    return f"{fmt(s.mean, d)} ± {fmt(s.half, d)}"


def fmt_signed(x: float, like: float) -> str:
    if not math.isfinite(x):
        return "—"
    return ("+" if x >= 0 else "−") + fmt(abs(x), _decimals(like))


def fmt_p(p: S.PairedTest | None) -> str:
    if p is None:
        return "—"
    if not p.testable:
        return f"not testable ({p.note})" if p.note else "not testable"
    text = "p < 0.001" if p.pvalue < 0.001 else f"p = {p.pvalue:.3f}"
    return f"{text} (n={p.n})" + (f"; {p.note}" if p.note else "")


def fmt_seconds(x: float) -> str:
    if not math.isfinite(x):
        return "—"
    return f"{x:.2f} s" if x < 10 else f"{x:.1f} s" if x < 600 else f"{x / 60:.1f} min"


def fname(text: str) -> str:
    return D.slug(str(text)).replace("-", "_") or "x"


def short_num(x: Any) -> str:
    return f"{x:.3g}" if isinstance(x, (int, float)) else T.show(x)


def num_key(text: str) -> tuple:
    try:
        return (0, float(text))
    except ValueError:
        return (1, text)
