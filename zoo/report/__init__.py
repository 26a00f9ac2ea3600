"""Reports of benchmark studies, from the results store only (no model code).

>>> from zoo.report import build_report
>>> build_report("runs/optimizers")            # writes reports/optimizers/  # doctest: +SKIP
"""

from zoo.report.build import Report, build_report

__all__ = ["Report", "build_report"]
