"""``zoo report RUNS_DIR [--out reports/NAME] [--metric M] [--wandb]``."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_commands(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser(
        "report",
        help="write the report of a study's results store (Markdown, HTML, figures, CSV)",
        description="Read runs/<study> (never model code) and write reports/<study>/: README.md, a "
        "self-contained index.html, figures (PNG; SVG too with --svg), results.csv, per_class.csv and verdict.csv.",
    )
    p.add_argument("runs_dir", metavar="RUNS_DIR", help="a study's results store, e.g. runs/optimizers")
    p.add_argument("--out", help="report folder (default: reports/STUDY); its files are rewritten")
    p.add_argument("--metric", help="headline metric without stage prefix, e.g. f1 or mae "
                   "(default per task kind: acc, rmse, bits_per_char, analogy_acc; one the store has)")
    p.add_argument("--svg", action="store_true", help="also write every figure as SVG under figures/ (default: PNG only)")
    p.add_argument("--wandb", action="store_true",
                   help="also log every finished cell as a W&B run (offline unless WANDB_MODE is set; no account needed)")
    p.add_argument("--wandb-project", "--wandb_project", dest="wandb_project",
                   help="W&B project (default: zoobench-STUDY)")
    p.set_defaults(run=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from zoo.report import build_report

    rep = build_report(args.runs_dir, args.out, metric=args.metric, wandb=args.wandb, wandb_project=args.wandb_project,
                       svg=getattr(args, "svg", False))
    for v in rep.verdicts:
        w = v.winner
        if w is not None:
            label = f"{v.axis}={w.value}" if v.axis else "best"
            print(f"{v.problem}: {label}  test {v.metric} {w.stats.mean:.4g} (n={w.stats.n})", file=sys.stderr)
    if args.wandb:
        from zoo.report.wandb_log import wandb_dir

        extra = f"; {rep.wandb_runs} W&B runs in {wandb_dir()}"
    else:
        extra = ""
    print(f"report of {rep.cells} cells -> {rep.out_dir}/index.html ({rep.seconds:.1f} s{extra})")
    return 0
