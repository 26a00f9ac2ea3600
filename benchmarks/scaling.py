"""Scaling of the local executor: one worker using every core vs one worker per core.

    python benchmarks/scaling.py                  # the smoke study (every family), full form
    python benchmarks/scaling.py --study smoke --quick --cores 2

Runs the same study twice into fresh stores -- 1 worker x N threads, then N workers x 1 thread
(N = --cores) -- and prints each run's throughput (cells/s and training samples/s, from the
first cell's start to the last cell's end: worker start-up excluded, printed apart) and the
ratio. Target on the smoke study: >= 1.5 (bare PyTorch loops measured 1.3-1.9x on this 2-core
machine, more for smaller models: small models cannot use two threads well, two processes can).
Both runs must record the same cells with the same statuses and metrics equal to 1e-4 relative
(different thread counts sum in a different order, so not bit for bit), which is checked.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _scalars(study_dir: Path) -> dict[tuple[str, str, str], float]:
    """{(cell, split, metric): value} of every scalar test/val metric, and each cell's status."""
    out = {}
    for d in sorted(study_dir.iterdir()):
        if d.is_dir() and not d.name.startswith("."):
            r = json.loads((d / "result.json").read_text())
            out[(d.name, "", "status")] = r["status"]
            for split, metrics in r["metrics"].items():
                for k, v in metrics.items():
                    if isinstance(v, (int, float)):
                        out[(d.name, split, k)] = v
    return out


def _max_relative_difference(a: dict, b: dict) -> float:
    """Largest |x - y| / max(|x|, |y|) over shared scalar metrics (inf if the cells or statuses differ).

    Different thread counts sum in a different order, so metrics agree to ~1e-7, not bit for bit.
    """
    if a.keys() != b.keys():
        return float("inf")
    worst = 0.0
    for k, x in a.items():
        y = b[k]
        if isinstance(x, str) or isinstance(y, str):
            if x != y:
                return float("inf")
            continue
        if x != y:
            worst = max(worst, abs(x - y) / max(abs(x), abs(y), 1e-12))
    return worst


def main(argv: list[str] | None = None) -> int:
    from zoo.bench.executors import ProcessExecutor, cores
    from zoo.bench.parse import load_study
    from zoo.bench.sweep import run_study

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--study", default="smoke", help="study name or file (default: smoke)")
    p.add_argument("--quick", action="store_true", help="use the study's quick form")
    p.add_argument("--cores", type=int, default=cores(), help="cores to use (default: all this process may use)")
    p.add_argument("--out", default=None, help="keep the stores here (default: a temporary folder)")
    p.add_argument("--repeat", type=int, default=1,
                   help="alternate the two set-ups this many times and report the median ratio (noisy machines)")
    args = p.parse_args(argv)

    study = load_study(args.study, quick=args.quick)
    n = args.cores
    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="zoo-scaling-"))
    setups = ((f"1 worker x {n} threads", 1, n), (f"{n} workers x 1 thread", n, 1))
    ratios, walls, worst = [], [], 0.0
    for r in range(args.repeat):
        rows = []
        for label, workers, threads in setups if r % 2 == 0 else setups[::-1]:
            out = root / f"r{r}-w{workers}t{threads}"
            t0 = time.perf_counter()
            ex = ProcessExecutor(workers, threads, log_dir=out / "logs")
            s = run_study(study, out=out, executor=ex, quiet=True)
            wall = time.perf_counter() - t0
            startup = (ex.ready_at or t0) - (ex.started_at or t0)
            if s.failed or s.pending:
                print(f"{label}: {s.failed} failed, {s.pending} pending cells; see {s.directory}", file=sys.stderr)
                return 1
            rows.append((workers, s, wall))
            print(f"{label:>22}: {s.ran} cells in {s.cells_seconds:6.1f} s  ->  {s.ran / s.cells_seconds:6.3f} cells/s, "
                  f"{s.samples / s.cells_seconds:9,.0f} samples/s   (wall {wall:.1f} s incl. {startup:.1f} s worker start-up)",
                  flush=True)
        (_, s1, w1), (_, s2, w2) = sorted(rows, key=lambda t: t[0])  # 1 worker first
        worst = max(worst, _max_relative_difference(_scalars(s1.directory), _scalars(s2.directory)))
        ratios.append(s1.cells_seconds / s2.cells_seconds)  # same cells: ratio of times = ratio of throughputs
        walls.append(w1 / w2)
        print(f"round {r + 1}: throughput ratio {ratios[-1]:.2f}x (wall-clock incl. start-up {walls[-1]:.2f}x)", flush=True)
    print(f"throughput ratio ({setups[1][0]} / {setups[0][0]}): median {statistics.median(ratios):.2f}x "
          f"over {len(ratios)} round(s) {[round(x, 2) for x in ratios]}; wall-clock incl. start-up "
          f"{statistics.median(walls):.2f}x")
    print(f"same cells and statuses, metrics within relative {worst:.1e} (thread counts change summation order)")
    print(f"stores: {root}")
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
