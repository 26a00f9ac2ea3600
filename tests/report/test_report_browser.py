"""The HTML report in a real browser (headless Chromium), and a 200-cell study's report."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from browser import CHROMIUM, PAGE_CHECK, render

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium; "
    ".ci/run does) to render the report in a real browser")

FIRST_SCREEN = (1280, 800)


def _keep_screenshot(png: bytes, path: Path) -> Path:
    path.write_bytes(png)
    target = os.environ.get("ZOO_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)
    return path


def _check_page(report_dir: Path, shot: Path):
    page = render(report_dir / "index.html", PAGE_CHECK, width=FIRST_SCREEN[0], height=FIRST_SCREEN[1])
    _keep_screenshot(page.screenshot, shot)
    v = page.value
    n_figures = len(list((report_dir / "figures").glob("*.png")))
    assert len(v["images"]) == n_figures > 0
    broken = [i["alt"] for i in v["images"] if not (i["complete"] and i["width"] > 0 and i["height"] > 0)]
    assert not broken, f"images that did not load: {broken}"
    assert page.errors == [], page.errors
    assert page.screenshot[:8] == b"\x89PNG\r\n\x1a\n" and len(page.screenshot) > 10_000
    return v


@needs_chromium
def test_html_report_opens_in_chromium(optimizers_report, tmp_path: Path):
    v = _check_page(optimizers_report.out_dir, tmp_path / "optimizers-first-screen.png")
    assert v["title"] == "Study optimizers: report"
    assert v["verdict"]["top"] < FIRST_SCREEN[1] and v["verdictTable"]["top"] < FIRST_SCREEN[1] - 100


@needs_chromium
def test_200_cell_report_is_fast_and_readable(big_store: Path, tmp_path: Path):
    from zoo.report import build_report

    cpu, wall = time.process_time(), time.perf_counter()
    rep = build_report(big_store, tmp_path / "activations")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"200-cell report: {wall:.1f} s wall, {cpu:.1f} s CPU")
    assert rep.cells == 200
    assert cpu < 30, f"{cpu:.1f} s of CPU"
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    if load < 1.0:  # wall time means something only when the machine is not oversubscribed
        assert wall < 30, f"{wall:.1f} s"
    v = _check_page(rep.out_dir, tmp_path / "activations-first-screen.png")
    # the verdict, whole, is on the first screen
    assert v["verdictTable"]["bottom"] < FIRST_SCREEN[1], v["verdictTable"]
    # long tables are collapsed: the 200-row table of all cells is not displayed until opened
    assert max(v["openTables"]) <= 40, v["openTables"]
    readme = (rep.out_dir / "README.md").read_text()
    assert "<details><summary>All cells (200 rows)</summary>" in readme
