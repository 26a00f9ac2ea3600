"""The ``zoo`` command: list | train | bench | report | finetune | generate | translate.

Every subcommand lives with the code it drives and registers itself through
``add_commands(subparsers)`` in one of :data:`COMMAND_MODULES`. Mistakes
(:class:`~zoo.errors.ZooError`) print one line, ``zoo: error: ...``, and exit 2;
a traceback means a bug in zoobench.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# Evidence (performance notes, ../shared/DESIGN.md): glibc returns freed activation buffers to
# the OS every step; these thresholds keep them, 1.41x (MLP) and 1.22x (CNN) faster steps.
# They must be set before the interpreter starts, so main() re-executes itself once.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "8000000000"}

COMMAND_MODULES = (
    "zoo.commands",  # list, train, finetune, pretrained
    "zoo.bench.cli",  # bench, bench status
    "zoo.report.cli",  # report
    "zoo.models.char_rnn",  # generate
    "zoo.models.seq2seq",  # translate
)


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(argv: Sequence[str] = ()) -> Parser:
    """The full parser; ``argv`` lets a command add flags that depend on its arguments
    (``zoo train mlp`` offers the MLP's flags)."""
    parser = Parser(prog="zoo", description="zoobench: a PyTorch Lightning model zoo and benchmark suite.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:  # that part is not built (yet); its commands are simply absent
                continue
            raise
        if hasattr(module, "add_commands"):
            module.add_commands(sub, list(argv))
    return parser


def _reexec_with_allocator_env(argv: Sequence[str]) -> None:
    if os.environ.get("ZOO_NO_REEXEC") or all(os.environ.get(k) == v for k, v in MALLOC_ENV.items()):
        return
    env = {**os.environ, **MALLOC_ENV, "ZOO_NO_REEXEC": "1"}
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, "-m", "zoo.cli", *argv], env)
    except OSError:
        pass  # carry on in this process, only slower


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from zoo.errors import ZooError

    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        return int(args.run(args) or 0)
    except ZooError as e:
        print(f"zoo: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    """Console-script entry point: set the allocator thresholds, then run."""
    _reexec_with_allocator_env(sys.argv[1:])
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
