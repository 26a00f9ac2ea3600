"""What the speed scripts share: zoobench's process settings, and an alternating comparison.

Each ``speed_*.py`` trains one model through zoobench's loop and through a
hand-written PyTorch loop in the same process. The pair is measured in
alternating order (hand, zoo, zoo, hand, ...): whichever loop ran second in a
pair was 3-10% faster here, which a fixed order reports as a speed-up.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable


def use_process_env(skip: bool) -> None:
    """Re-execute with zoo/procenv.py's settings (as the zoo command and the bench workers run)."""
    if not skip:
        from zoo.procenv import reexec_with_process_env

        reexec_with_process_env(sys.argv)


def compare(hand_written: Callable[[], float], zoobench: Callable[[], float], repeats: int, *,
            unit: str = "samples/s", verbose: bool = True) -> tuple[float, float, list[float]]:
    """Median throughput of each loop and the per-repeat ratios zoobench / hand-written."""
    base: list[float] = []
    ours: list[float] = []
    for r in range(repeats):
        if r % 2 == 0:
            base.append(hand_written())
            ours.append(zoobench())
        else:
            ours.append(zoobench())
            base.append(hand_written())
        if verbose:
            print(f"  repeat {r + 1}: hand-written {base[-1]:,.0f} {unit}, zoobench {ours[-1]:,.0f} {unit}, "
                  f"ratio {ours[-1] / base[-1]:.3f}", flush=True)
    return statistics.median(base), statistics.median(ours), [o / b for o, b in zip(ours, base)]


def report(base: float, ours: float, ratios: list[float], unit: str) -> None:
    print(f"hand-written {base:,.0f} {unit}  zoobench {ours:,.0f} {unit}  "
          f"ratio {statistics.median(ratios):.3f} (median of {', '.join(f'{x:.3f}' for x in ratios)})")
