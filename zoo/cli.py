"""The ``zoo`` command: list | train | bench | report | pretrained | generate | translate | neighbors | analogy.

:data:`COMMANDS` is a static table (name, one-line help, module). ``zoo --help``
is answered from the table alone, and a command imports only its own module,
whose ``add_commands(subparsers, argv)`` defines its arguments; so ``zoo
--help``, ``zoo list`` and ``zoo report`` start without torch or Lightning
(``tests/test_cli.py`` checks it, ``benchmarks/cli_startup.py`` times it).
Mistakes (:class:`~zoo.errors.ZooError`) print one line, ``zoo: error: ...``,
and exit 2; a traceback means a bug in zoobench.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NamedTuple


class Command(NamedTuple):
    name: str
    help: str
    """The line ``zoo --help`` shows (the module's parser repeats it; a test keeps them equal)."""
    module: str
    """The module whose ``add_commands`` defines the command's arguments and ``run``."""
    trains: bool = False
    """Trains models named in its arguments or a study: the model families are registered before its
    module runs (:mod:`zoo.models`; this entry point is where the application is assembled), and the
    process settings of ``zoo/procenv.py`` apply (one re-execution, see :func:`entry`)."""


COMMANDS: tuple[Command, ...] = (
    Command("list", "list models and datasets", "zoo.commands"),
    Command("train", "train a model on a dataset, evaluate it and save a checkpoint", "zoo.commands", trains=True),
    Command("finetune", "fine-tune a pretrained checkpoint (an id or a folder) on a dataset: a new head, the backbone frozen",
            "zoo.commands", trains=True),
    Command("evaluate", "evaluate a checkpoint (a pretrained id or a folder) on a split of a dataset", "zoo.commands",
            trains=True),
    Command("bench", "run a benchmark study (zoo bench status STUDY: its progress; zoo bench infer MODEL: inference latency)", "zoo.bench.cli", trains=True),
    Command("report", "write the report of a study's results store (Markdown, HTML, figures, CSV)", "zoo.report.cli"),
    Command("pretrained", "list the pretrained checkpoints, show one as a model card, or pack a trained one (zoo pretrained list|show|pack)",
            "zoo.apps.pretrained"),
    Command("generate", "sample text from a character language-model checkpoint", "zoo.apps.generate"),
    Command("translate", "translate a sentence with a seq2seq checkpoint", "zoo.apps.translate"),
    Command("neighbors", "nearest neighbours of words in a trained word2vec checkpoint", "zoo.apps.neighbors"),
    Command("analogy", "a is to b as c is to ? (3CosAdd) with a trained word2vec checkpoint", "zoo.apps.neighbors"),
)
BY_NAME = {c.name: c for c in COMMANDS}


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def invoked(argv: Sequence[str]) -> Command | None:
    """The command ``argv`` names (its first word), or None (``zoo``, ``zoo --help``, a typo)."""
    return BY_NAME.get(argv[0]) if argv else None


def build_parser(argv: Sequence[str] = ()) -> Parser:
    """The parser for ``argv``: the invoked command's module adds its real arguments (``zoo train
    mlp`` offers the MLP's flags); every other command is a stub with its help line."""
    parser = Parser(prog="zoo", description="zoobench: a PyTorch Lightning model zoo and benchmark suite.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    command = invoked(argv)
    if command is not None and command.trains:
        import zoo.models  # noqa: F401  (registers every family)
    for c in COMMANDS:
        if c.name in sub.choices:  # added by its module along with the invoked command
            continue
        if command is not None and c.module == command.module:
            importlib.import_module(c.module).add_commands(sub, list(argv))
        if c.name not in sub.choices:
            sub.add_parser(c.name, help=c.help, add_help=False)
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
    """Console-script entry point. A command that trains re-executes the interpreter once with
    the process settings (allocator, OpenMP waiting) that make training steps faster; the
    others run at once (the re-execution costs an interpreter start)."""
    command = invoked(sys.argv[1:])
    if command is not None and command.trains:
        from zoo.procenv import reexec_with_process_env

        reexec_with_process_env(["-m", "zoo.cli", *sys.argv[1:]])
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
