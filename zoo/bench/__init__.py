"""The benchmark harness: study YAML -> cells -> executor -> runner -> store.

>>> from zoo.bench import load_study, run_study
>>> study = load_study("smoke", quick=True)           # doctest: +SKIP
>>> summary = run_study(study, out="runs", workers=2)  # doctest: +SKIP

See :mod:`zoo.bench.study` for the study format and :mod:`zoo.bench.store` for
the record each cell leaves (what ``zoo.report`` reads).
"""

from zoo.bench.cells import Cell, cell_id
from zoo.bench.study import Study, StudyError


def __getattr__(name: str):
    # Lazy: the sweep and the study checks pull in torch and the registries; reading a store does not.
    if name in ("run_study", "SweepSummary"):
        from zoo.bench import sweep

        return getattr(sweep, name)
    if name in ("load_study", "parse_study"):
        from zoo.bench import parse

        return getattr(parse, name)
    raise AttributeError(f"module 'zoo.bench' has no attribute {name!r}")


__all__ = ["Cell", "Study", "StudyError", "SweepSummary", "cell_id", "load_study", "parse_study", "run_study"]
