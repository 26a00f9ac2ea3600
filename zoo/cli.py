"""The ``zoo`` command: list | train | bench | report | generate | translate | neighbors.

Every subcommand lives with the code it drives and registers itself through
``add_commands(subparsers, argv)`` in one of the modules of ``COMMAND_MODULES``.
Mistakes (:class:`~zoo.errors.ZooError`) print one line, ``zoo: error: ...``,
and exit 2; a traceback means a bug in zoobench.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES = (
    "zoo.commands",  # list, train
    "zoo.bench.cli",  # bench, bench status
    "zoo.report.cli",  # report
    "zoo.models.char_rnn",  # generate
    "zoo.models.seq2seq",  # translate
    "zoo.models.word2vec",  # neighbors, analogy
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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from zoo.errors import ZooError, storage_error

    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        return int(args.run(args) or 0)
    except ZooError as e:
        print(f"zoo: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a full or read-only disk is one line too (zoo.errors.storage_error); other OSErrors are bugs
        if (full := storage_error(e)) is None:
            raise
        print(f"zoo: error: {full}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    """Console-script entry point: re-execute once with the process settings, then run."""
    from zoo.procenv import reexec_with_process_env

    reexec_with_process_env(["-m", "zoo.cli", *sys.argv[1:]])
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
