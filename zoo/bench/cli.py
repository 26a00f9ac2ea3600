"""``zoo bench STUDY`` and ``zoo bench status STUDY``.

    zoo bench smoke --quick                         # a shipped study, its CI form
    zoo bench benchmarks/optimizers.yaml --workers 2
    zoo bench optimizers --executor ray --address auto
    zoo bench status optimizers                     # done / failed / pending counts
    zoo bench list                                  # the shipped studies
    zoo bench infer mlp --batch-sizes 1,8,64        # inference latency (zoo/bench/infer.py)

Exit codes: 0 when every cell is recorded without failure, 1 when some cell
failed (error or oom) or is still pending, 2 for a mistake in the command or the
study (one line, nothing run, nothing changed).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any


HELP = "run a benchmark study (zoo bench status STUDY: its progress; zoo bench infer MODEL: inference latency)"
"""The line of ``zoo --help`` (zoo/cli.py's table repeats it)."""

STORE_FILE_BYTES = 1 << 30
"""At most this much of study.json or cells.json is read by `zoo bench status` (a million cells is ~0.5 GB)."""


def add_commands(sub: Any, argv: list[str]) -> None:
    action = argv[1] if len(argv) > 1 and argv[0] == "bench" and argv[1] in ("status", "list", "infer", "best") else None
    if action == "status":
        p = sub.add_parser("bench", help=HELP,
                           description="Counts of done, failed and pending cells of a study, and the failures.")
        p.add_argument("action", choices=["status"])
        p.add_argument("study", help="study name, study file, or its folder (runs/NAME)")
        p.add_argument("--quick", action="store_true", help="the study's quick (CI) form")
        p.add_argument("--out", default="runs", help="store root (default: runs)")
        p.set_defaults(run=cmd_status)
        return
    if action == "best":
        p = sub.add_parser("bench", help=HELP, description="The best cells of a study (validation metric), and the "
                           "best one's checkpoint taken out as a zoo checkpoint (the study needs keep: best or all).")
        p.add_argument("action", choices=["best"])
        p.add_argument("study", help="study name, study file, or its folder (runs/NAME)")
        p.add_argument("--problem", help="rank this problem's cells only (default: every problem)")
        p.add_argument("--metric", help="validation metric to rank on (default: the study's objective or target "
                       "metric, else each cell's monitored metric)")
        p.add_argument("--to", help="folder for the exported checkpoint (new; default: runs/best/STUDY[-PROBLEM])")
        p.add_argument("--top", type=int, default=5, help="cells to list, 1-100 (default: 5)")
        p.add_argument("--quick", action="store_true", help="the study's quick (CI) form")
        p.add_argument("--out", default="runs", help="store root (default: runs)")
        p.set_defaults(run=cmd_best)
        return
    if action == "infer":
        from zoo.bench.infer import add_parser

        add_parser(sub, HELP)
        return
    if action == "list":
        p = sub.add_parser("bench", help=HELP, description="List the shipped studies.")
        p.add_argument("action", choices=["list"])
        p.set_defaults(run=cmd_list)
        return
    p = sub.add_parser(
        "bench",
        help=HELP,
        description="Run every cell of a study (a benchmarks/*.yaml file or a shipped study's name) that is not "
        "done yet, one record per cell under OUT/STUDY/. Interrupt and rerun at will: done cells are kept. "
        "Also: `zoo bench status STUDY`, `zoo bench list`, `zoo bench infer MODEL|ID`, `zoo bench best STUDY`.",
    )
    p.add_argument("study", help="study file or shipped study name (zoo bench list)")
    p.add_argument("--quick", action="store_true", help="run the study's quick form (tiny, for CI); stored as NAME-quick")
    p.add_argument("--executor", default="local", choices=["local", "ray"], help="local processes or a Ray cluster (default: local)")
    p.add_argument("--workers", type=int, default=None,
                   help="local: worker processes (default 1: in this process); ray: tasks in flight (default: cluster CPUs / threads)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per worker (default: $OMP_NUM_THREADS if set, else the cores split between "
                   "workers; ray: 1)")
    p.add_argument("--address", default=None, help="Ray cluster: auto or HOST:PORT (default: start a local instance)")
    p.add_argument("--retry-failed", "--retry_failed", action="store_true", help="rerun cells whose status is error or oom")
    p.add_argument("--retry-skipped", "--retry_skipped", action="store_true",
                   help="rerun skipped cells (e.g. now on a machine with the device)")
    p.add_argument("--out", default="runs", help="store root (default: runs)")
    p.add_argument("--dry-run", "--dry_run", action="store_true", help="list the cells and their state; run nothing")
    p.add_argument("--new-version", "--new_version", action="store_true",
                   help="the study file was edited: run it into a store of its own, runs/NAME-vK (resumes the version that holds it)")
    p.set_defaults(run=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    from zoo.bench.parse import load_study
    from zoo.bench.store import Store
    from zoo.errors import ConfigError

    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}.")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {args.threads}.")
    if args.address and args.executor != "ray":
        raise ConfigError("--address is for --executor ray.")
    study = load_study(args.study, quick=args.quick)
    if args.new_version:
        study = _version_of(study, args.out)
    if not args.dry_run:
        from zoo.io import check_output_dir

        check_output_dir(args.out)
    if args.dry_run:
        store = Store(args.out, study.name)
        statuses = store.statuses()
        cells = study.cells()
        if study.adaptive:  # an Optuna search: the cells asked for so far
            from zoo.bench.optuna_search import Search

            cells = Search(study, store).planned()
        for c in cells:
            print(f"{c.cell_id}  {statuses.get(c.cell_id, 'pending'):<8}  {c.label()}")
        more = f" (of up to {study.size()}: an Optuna search asks for its trials as it runs)" if study.adaptive else ""
        print(f"{study.name}: {len(cells)} cells{more} -> {store.dir}")
        return 0
    from zoo.bench.sweep import run_study

    workers = args.workers if args.workers is not None else (None if args.executor == "ray" else 1)
    summary = run_study(
        study, out=args.out, executor=args.executor, workers=workers, threads=args.threads, address=args.address,
        retry_failed=args.retry_failed, retry_skipped=args.retry_skipped,
    )
    print(f"{study.name}: ran {summary.ran} cells in {summary.seconds:.1f} s -> {summary.directory}", file=sys.stderr)
    if summary.failed:
        print(f"{summary.failed} cells failed (their reasons: zoo bench status {args.study}"
              f"{' --quick' if args.quick else ''}); rerun them with --retry-failed.", file=sys.stderr)
    if summary.pending:
        print(f"{summary.pending} cells are still pending (held by another writer).", file=sys.stderr)
    return 1 if summary.failed or summary.pending else 0


def _version_of(study: Any, out: str) -> Any:
    """``study`` under the name of the store that holds it: its own if that holds this same study (or
    nothing yet), else the first NAME-vK (K >= 2) that holds it or is new."""
    import dataclasses

    from zoo.bench.store import Store

    for k in range(1, 1000):
        version = study if k == 1 else dataclasses.replace(study, name=f"{study.name}-v{k}")
        if not Store(out, version.name).differences(version.identity()):
            if k > 1:
                print(f"zoo bench: this version of {study.name!r} runs into {Path(out) / version.name}", file=sys.stderr)
            return version
    from zoo.errors import ZooError

    raise ZooError(f"{out} holds 999 versions of study {study.name!r}; move some away.")


def _store_for(study: str, quick: bool, out: str):
    from zoo.bench.parse import study_name
    from zoo.bench.store import Store

    p = Path(study)
    if p.is_dir() and (p / "study.json").exists():
        return Store(p.parent, p.name)
    return Store(out, study_name(study, quick=quick))


def cmd_status(args: argparse.Namespace) -> int:
    from zoo.bench.progress import format_counts
    from zoo.bench.store import FAILED

    from zoo.errors import ZooError
    from zoo.io import check_regular

    store = _store_for(args.study, args.quick, args.out)
    _note_edits(args, store)
    for name in ("study.json", "cells.json"):  # a directory, /dev/zero or a pipe there: one line, no hang
        path = store.dir / name
        if path.exists() or path.is_symlink():
            check_regular(path, max_bytes=STORE_FILE_BYTES, what="store file")
    try:
        study = store.read_study()
        cells = store.read_cells()
        if not isinstance(study, dict) or not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
            raise ValueError("not the JSON the store writes")
    except ZooError:
        raise
    except (OSError, ValueError) as e:  # a damaged store: one line, not a traceback
        why = e.strerror if isinstance(e, OSError) and e.strerror else " ".join(str(e).split())[:120]
        raise ZooError(f"the store at {store.dir} is unreadable ({why}); move it away or choose another --out.") from None
    if not cells and (store.dir / "study.json").exists() and not (store.dir / "cells.json").exists():
        raise ZooError(f"the store at {store.dir} has no cells.json (its first sweep stopped while setting it up, "
                       f"e.g. on a full disk); run `zoo bench {args.study}` again to finish it.")
    ids = [c["cell_id"] for c in cells]
    counts = store.summary(ids)
    total = len(ids)
    print(f"{study['name']}: {total} cells in {store.dir}")
    print("  " + format_counts(counts, total))
    print("  by status: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    labels = {c["cell_id"]: _label(c) for c in cells}
    statuses = store.statuses()
    bad = [cid for cid in ids if statuses.get(cid) in FAILED]
    if bad:
        print("failed cells:")
        for cid in bad:
            res = store.result(cid) or {}
            print(f"  {cid}  {statuses[cid]:<6} {labels[cid]}: {res.get('reason')}")
    running = store.running()
    if running:
        print("running:")
        for cid, info in running.items():
            print(f"  {cid}  {labels.get(cid, '?')}  on {info.get('host')} pid {info.get('pid')} since {info.get('time')}")
    return 0


def cmd_best(args: argparse.Namespace) -> int:
    from zoo.bench.best import export, rank
    from zoo.errors import ConfigError, ZooError

    if not 1 <= args.top <= 100:
        raise ConfigError(f"--top must be an integer from 1 to 100, got {args.top}.")
    store = _store_for(args.study, args.quick, args.out)
    if not (store.dir / "study.json").exists():
        raise ZooError(f"no study at {store.dir}; run `zoo bench {args.study}` first.")
    rows = rank(store, problem=args.problem, metric=args.metric)
    if not rows:
        raise ZooError(f"study {store.name!r} has no finished cell{' of ' + args.problem if args.problem else ''} to rank.")
    configs = len({r["config"] for r in rows})
    print(f"{store.name}: {len(rows)} finished cells of {configs} configurations, ranked by each configuration's "
          f"mean {rows[0]['metric']} over its seeds, then by seed")
    for i, r in enumerate(rows[: args.top], 1):
        print(f"  {i}. {r['cell_id']}  {r['metric']} {r['value']:.4f} (mean {r['config_value']:.4f} over "
              f"{r['config_seeds']} seed{'s' if r['config_seeds'] != 1 else ''})  {r['record'].problem}  "
              f"{_label(r['record'].cell)}{'' if r['kept'] else '  (no checkpoint kept)'}")
    dest = Path(args.to) if args.to else Path(args.out) / "best" / f"{store.name}{'-' + args.problem if args.problem else ''}"
    folder = export(store, rows[0], dest)
    print(f"checkpoint of {rows[0]['cell_id']} -> {folder}  (zoo evaluate {folder}; zoo finetune {folder} ...)")
    return 0


def _note_edits(args: argparse.Namespace, store: Any) -> None:
    """``zoo bench status FILE``: say when the study file no longer matches the study stored."""
    if not (store.dir / "study.json").exists() or Path(args.study).is_dir():
        return
    from zoo.bench.parse import load_study

    changed = store.differences(load_study(args.study, quick=args.quick).identity())
    if changed:
        print(f"note: {args.study} was edited since this store was made ({'; '.join(changed[:4])}); the status below is "
              "the stored version's. `zoo bench STUDY --new-version` runs the edited one into a store of its own.")


def _label(c: dict[str, Any]) -> str:
    axes = {**c.get("scientific", {}), **c.get("nuisance", {})}
    return f"{c['problem']} seed={c['seed']} " + " ".join(f"{k}={v}" for k, v in axes.items())


def cmd_list(args: argparse.Namespace) -> int:
    from zoo.bench.study import benchmarks_dir, list_studies
    from zoo.bench.yamlfile import read_yaml

    for name in list_studies():
        raw = read_yaml(benchmarks_dir() / f"{name}.yaml")
        desc = " ".join(str(raw.get("description", "")).split()) if isinstance(raw, dict) else ""
        first = re.split(r"(?<=[.?])\s", desc)[0]  # the first sentence
        print(f"  {name:<14} {first}")
    return 0
