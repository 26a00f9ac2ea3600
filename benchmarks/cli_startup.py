"""Start-up time of the ``zoo`` command against ``python -c "import torch"``, measured in the same run.

    python benchmarks/cli_startup.py [--repeats 9]

Runs the real console path (the ``zoo`` script beside this interpreter, else
``zoo.cli:entry`` the way that script calls it), alternating the commands
within each repeat so a busy machine slows all of them alike, and prints each
median wall time and its ratio to importing torch (target for ``zoo --help``:
below 0.3). The last line is what the one re-execution costs that commands
which train pay for the process settings of ``zoo/procenv.py``: an interpreter
start plus ``import zoo.cli``, the work done before ``entry()`` re-executes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def zoo_command() -> list[str]:
    script = Path(sys.executable).with_name("zoo")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from zoo.cli import entry; sys.argv[0] = 'zoo'; entry()"]


def wall(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9, help="alternating rounds (default: 9)")
    args = ap.parse_args()
    zoo = zoo_command()
    env = dict(os.environ)
    cases = {
        "import torch": ([sys.executable, "-c", "import torch"], env),
        "zoo --help": ([*zoo, "--help"], env),
        "zoo list": ([*zoo, "list"], env),
        "import zoo.cli": ([sys.executable, "-c", "import zoo.cli"], env),
    }
    for argv, e in cases.values():  # warm the file cache once
        wall(argv, e)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeats):
        for name, (argv, e) in cases.items():
            times[name].append(wall(argv, e))
    med = {name: statistics.median(ts) for name, ts in times.items()}
    torch_s = med["import torch"]
    print(f"{'command':<30} {'median s':>9} {'/ import torch':>15}   ({args.repeats} alternating repeats; {' '.join(zoo)})")
    for name, s in med.items():
        print(f"{name:<30} {s:>9.3f} {s / torch_s:>15.3f}")
    ratio = med["zoo --help"] / torch_s
    print(f"zoo --help / import torch = {ratio:.3f} (target < 0.3: {'met' if ratio < 0.3 else 'NOT met'})")
    print(f"re-execution of a training command (an interpreter start + import zoo.cli): {med['import zoo.cli']:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
