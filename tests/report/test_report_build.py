"""zoo report: the files it writes, their numbers against scikit-learn, and broken stores."""

from __future__ import annotations

import base64
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from zoo.errors import StorageError
from scipy import stats
from sklearn import metrics as M

TOL = 1e-6


def _sklearn_test_metrics(cell_dir: Path) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Scalar and per-class test metrics of one cell, from its stored predictions, by scikit-learn."""
    z = np.load(cell_dir / "predictions_test.npz")
    y = z["target"]
    if "pred" in z.files:
        pred = z["pred"].astype(np.float64)
        return {"rmse": math.sqrt(M.mean_squared_error(y, pred)), "mae": M.mean_absolute_error(y, pred),
                "r2": M.r2_score(y, pred)}, {}
    probs = z["probs"].astype(np.float64)
    if probs.ndim == 1:
        hard = (probs >= 0.5).astype(int)
        scalar = {"acc": M.accuracy_score(y, hard), "precision": M.precision_score(y, hard, zero_division=0),
                  "recall": M.recall_score(y, hard, zero_division=0), "f1": M.f1_score(y, hard, zero_division=0),
                  "auroc": M.roc_auc_score(y, probs), "ap": M.average_precision_score(y, probs)}
        labels = [0, 1]
        per = {}
    else:
        n = probs.shape[1]
        labels = list(range(n))
        hard = probs.argmax(1)
        onehot = np.eye(n, dtype=int)[y]
        kw = dict(average="macro", labels=labels, zero_division=0)
        scalar = {"acc": M.accuracy_score(y, hard), "precision": M.precision_score(y, hard, **kw),
                  "recall": M.recall_score(y, hard, **kw), "f1": M.f1_score(y, hard, **kw),
                  # one-vs-rest macro AUROC; the one-hot (multilabel) form skips sklearn's check that rows
                  # sum to 1, which the stored float32 probabilities miss by ~1e-7
                  "auroc": M.roc_auc_score(onehot, probs, average="macro"),
                  "ap": M.average_precision_score(onehot, probs, average="macro")}
        per = {"auroc": [M.roc_auc_score(onehot[:, c], probs[:, c]) for c in labels],
               "ap": [M.average_precision_score(onehot[:, c], probs[:, c]) for c in labels]}
    p, r, f, s = M.precision_recall_fscore_support(y, hard, labels=labels, zero_division=0)
    per.update(precision=list(p), recall=list(r), f1=list(f), support=list(s))
    return scalar, per


def test_report_files(optimizers_report):
    out = optimizers_report.out_dir
    for name in ("README.md", "index.html", "results.csv", "per_class.csv", "verdict.csv"):
        assert (out / name).is_file(), name
    pngs = sorted(p.stem for p in (out / "figures").glob("*.png"))
    assert not list((out / "figures").glob("*.svg"))  # SVG only on request (--svg)
    assert {"isolation_optimizer", "roc_mlp_digits", "pr_mlp_digits", "confusion_mlp_digits", "roc_mlp_breast_cancer",
            "scatter_mlp_diabetes", "curves_mlp_digits", "lr_range_mlp_digits"} <= set(pngs)
    html = (out / "index.html").read_text()
    assert html.count("data:image/png;base64,") == len(pngs)  # every figure embedded, once
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert sorted(base64.b64decode(b) for b in embedded) == sorted((out / "figures" / f"{p}.png").read_bytes() for p in pngs)
    assert not re.search(r"""(src|href)=["']?(https?:|//|figures/)""", html)  # self-contained, no network
    readme = (out / "README.md").read_text()
    for p in pngs:
        assert f"(figures/{p}.png)" in readme
    assert "[SVG]" not in readme
    # how to regenerate it on a fresh clone, where the store is not: the study is re-run first
    assert f"`zoo bench optimizers && zoo report runs/optimizers --out {out}` (81 cells, of which 77 ran, " in readme
    assert "Code: commit `0123456789abcdef0123456789abcdef01234567`; whether the tree was clean was not recorded" in readme
    assert "git_dirty" not in readme
    # verdict first: the first section of both documents
    assert readme.index("## Verdict") < readme.index("## Classification detail") < readme.index("## Training dynamics")
    assert html.index('id="verdict"') < html.index("<figure")


def test_every_metric_equals_sklearn_on_the_stored_predictions(optimizers_report, optimizers_store):
    out = optimizers_report.out_dir
    rows = pd.read_csv(out / "results.csv")
    per_class = pd.read_csv(out / "per_class.csv")
    checked = 0
    for r in rows[rows.test_source == "predictions"].itertuples():
        scalar, per = _sklearn_test_metrics(optimizers_store / r.cell_id)
        for k, v in scalar.items():
            assert getattr(r, f"test_{k}") == pytest.approx(v, abs=TOL), (r.cell_id, k)
            checked += 1
        sub = per_class[per_class.cell_id == r.cell_id].sort_values("class")
        for k, vals in per.items():
            np.testing.assert_allclose(sub[k].to_numpy(dtype=float), vals, atol=TOL, err_msg=f"{r.cell_id} {k}")
            checked += len(vals)
    assert checked > 1000, checked  # ~45 cells with predictions
    # The per-class tables printed in README.md (4 decimals) agree with scikit-learn too.
    readme = (out / "README.md").read_text()
    tables = re.findall(r"cell `(\w+)`</summary>\n\n(\| class .*?)\n\n", readme, flags=re.S)
    assert len(tables) >= 6
    for cell_id, text in tables:
        _, per = _sklearn_test_metrics(optimizers_store / cell_id)
        lines = text.splitlines()
        head = [h.strip() for h in lines[0].strip("|").split("|")]
        for k, line in enumerate(lines[2:]):
            cells = dict(zip(head, (c.strip() for c in line.strip("|").split("|"))))
            for col, key in (("precision", "precision"), ("recall", "recall"), ("F1", "f1"), ("AUROC", "auroc"), ("AP", "ap")):
                if col in cells:
                    assert float(cells[col]) == pytest.approx(per[key][k], abs=5e-5 + 1e-9), (cell_id, col, k)
            assert int(cells["support"]) == per["support"][k]


def test_confidence_intervals_match_reference(optimizers_report, optimizers_store):
    out = optimizers_report.out_dir
    verdict = pd.read_csv(out / "verdict.csv")
    rows = pd.read_csv(out / "results.csv").set_index("cell_id")
    readme = (out / "README.md").read_text()
    for v in verdict.itertuples():
        cells = json.loads(v.cells)
        if all((optimizers_store / c / "predictions_test.npz").exists() for c in cells):  # recompute from predictions
            values = [_sklearn_test_metrics(optimizers_store / c)[0][v.metric] for c in cells]
        else:  # families without predictions: the stored test metric
            values = [rows.loc[c, f"test_{v.metric}"] for c in cells]
        assert v.n == len(values)
        assert v.mean == pytest.approx(np.mean(values), abs=1e-9)
        if len(values) > 1:
            lo, hi = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
            assert v.ci95_half == pytest.approx((hi - lo) / 2, rel=1e-9), (v.problem, v.value)
        if v.rank == 1:  # the verdict table shows the same numbers (rounded)
            d = 4 if abs(v.mean) < 10 else 2
            assert f"{v.mean:,.{d}f} ± {v.ci95_half:,.{d}f} ({v.n})" in readme


def test_failed_skipped_diverged_and_pending_cells_are_listed(optimizers_report, optimizers_store):
    readme = (optimizers_report.out_dir / "README.md").read_text()
    section = readme[readme.index("## Unfinished cells"):readme.index("## All cells")]
    expected = {"error": "worker exited with signal 9", "oom": "CUDA out of memory", "skipped": "not available here",
                "pending": "no result.json", "diverged": "non-finite loss"}
    rows = [ln for ln in section.splitlines() if ln.startswith("| ") and not ln.startswith("| status")]
    statuses = {ln.split("|")[1].strip() for ln in rows}
    assert set(expected) <= statuses
    for status, reason in expected.items():
        assert any(ln.split("|")[1].strip() == status and reason in ln for ln in rows), status
    # every non-ok cell of the store appears with its id
    for d in optimizers_store.iterdir():
        if not d.is_dir() or d.name.startswith("."):  # .leases, .staging: the store's, not cells
            continue
        res = d / "result.json"
        if not res.exists() or json.loads(res.read_text())["status"] != "ok":
            assert f"`{d.name}`" in section, d.name
    # the pending cell is reported from its folder alone: cell.json and a partial metrics.csv
    assert "2 epoch(s) in metrics.csv" in section


def test_broken_store_reports_cleanly(tmp_path: Path, batch_store: Path):
    import shutil

    from zoo.report import build_report

    store = tmp_path / "broken"
    shutil.copytree(batch_store, store)
    cells = sorted(d for d in store.iterdir() if d.is_dir() and not d.name.startswith("."))
    (cells[0] / "result.json").write_text('{"status": "ok", "metr')  # truncated
    (cells[1] / "cell.json").write_text("not json")
    (cells[2] / "predictions_test.npz").write_bytes(b"garbage")
    (cells[3] / "metrics.csv").write_text("")
    r = json.loads((cells[4] / "result.json").read_text())
    (cells[4] / "result.json").write_text(json.dumps({**r, "status": "exploded", "reason": "???"}))
    (cells[5] / "result.json").unlink()
    (store / "study.json").unlink()
    (store / "stray.txt").write_text("not a cell")
    (store / "empty-dir").mkdir()
    rep = build_report(store, tmp_path / "out")
    readme = (rep.out_dir / "README.md").read_text()
    unfinished = readme[readme.index("## Unfinished cells"):]
    assert "result.json unreadable" in unfinished and "cell.json unreadable" in unfinished
    assert "unknown status 'exploded'" in unfinished and "no result.json" in unfinished
    rows = pd.read_csv(rep.out_dir / "results.csv")
    assert len(rows) == len(cells)
    assert rows.set_index("cell_id").loc[cells[2].name, "test_source"] == "result.json"  # fell back to stored values


def test_a_store_where_nothing_finished(tmp_path: Path):
    from zoo.report import build_report

    d = tmp_path / "s" / "abc"
    d.mkdir(parents=True)
    (d / "cell.json").write_text(json.dumps({"cell_id": "abc", "problem": "mlp-digits", "seed": 0,
                                             "scientific": {"optimizer": "adam"}, "nuisance": {}}))
    (d / "result.json").write_text(json.dumps({"status": "error", "reason": "ImportError: no module named foo"}))
    rep = build_report(tmp_path / "s", tmp_path / "out")
    readme = (rep.out_dir / "README.md").read_text()
    assert "no finished cell" in readme and "ImportError: no module named foo" in readme


def test_cli_user_errors_are_one_line(tmp_path: Path, capsys):
    from zoo.cli import main

    assert main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zoo: error: results store") and err.count("\n") == 1


def _report_in_fresh_process(store: Path, out: Path, metric: str | None,
                             banned: tuple[str, ...]) -> subprocess.CompletedProcess:
    """`zoo report` through zoo.report.cli's command function in a fresh interpreter; exit 3
    (printing the culprits) when it imported a module whose name starts with one of ``banned``."""
    code = ("import argparse, sys\n"
            "from zoo.report.cli import cmd_report\n"
            f"rc = cmd_report(argparse.Namespace(runs_dir={str(store)!r}, out={str(out)!r}, metric={metric!r}, "
            "wandb=False, wandb_project=None))\n"
            f"bad = sorted(m for m in sys.modules if m.startswith({banned!r}))\n"
            "print(bad[:5])\n"
            "sys.exit(rc or (3 if bad else 0))\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_report_reads_the_store_only_and_is_reproducible(tmp_path: Path, batch_store: Path):
    """`zoo report` in a fresh process imports no model, task or training code; a second run on
    the same store rewrites byte-identical files."""
    out = tmp_path / "batch"
    proc = _report_in_fresh_process(batch_store, out, "f1",
                                    ("zoo.models", "zoo.tasks", "zoo.engine", "zoo.training", "lightning"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    verdict = pd.read_csv(out / "verdict.csv")
    assert set(verdict.metric) == {"f1"}
    readme = (out / "README.md").read_text()
    assert "--metric f1" in readme  # the command that regenerates it
    assert "Throughput by batch size × device × precision" in readme and "bf16-mixed" in readme

    from zoo.report import build_report

    names = ("README.md", "index.html", "results.csv", "per_class.csv", "verdict.csv", "figures/throughput.png",
             "figures/roc_mlp_digits.png")
    before = {n: (out / n).read_bytes() for n in names}
    build_report(batch_store, out, metric="f1")
    for n in names:
        assert (out / n).read_bytes() == before[n], n
    # SVG on request, byte-identical too; a report without it removes the old copies
    svgs = ("figures/throughput.svg", "figures/roc_mlp_digits.svg")
    build_report(batch_store, out, metric="f1", svg=True)
    first = {n: (out / n).read_bytes() for n in svgs}
    assert "([SVG](figures/throughput.svg))" in (out / "README.md").read_text()
    build_report(batch_store, out, metric="f1", svg=True)
    assert {n: (out / n).read_bytes() for n in svgs} == first
    assert (out / "figures/throughput.png").read_bytes() == before["figures/throughput.png"]
    build_report(batch_store, out, metric="f1")
    assert not list((out / "figures").glob("*.svg"))


# ------------------------------------------------------------------------------------------
# Refused outputs and a full disk: one line, exit 2, nothing half-written (issue 10)
# ------------------------------------------------------------------------------------------


def _report(argv: list[str], capsys) -> tuple[int, str]:
    from zoo.cli import main

    code = main(["report", *argv])
    err = capsys.readouterr().err
    return code, err


def _one_line_error(code: int, err: str, text: str) -> None:
    assert code == 2 and err.startswith("zoo: error: ") and err.count("\n") == 1 and text in err, err
    assert "Traceback" not in err


def test_out_that_is_a_file_or_under_one_is_refused(tmp_path: Path, batch_store: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # `--out ''` must not write here
    f = tmp_path / "existing.txt"
    f.write_text("keep me")
    code, err = _report([str(batch_store), "--out", str(f)], capsys)
    _one_line_error(code, err, "is a file, not a folder")
    code, err = _report([str(batch_store), "--out", str(f / "sub" / "report")], capsys)
    _one_line_error(code, err, "which is a file")
    assert f.read_text() == "keep me"
    code, err = _report([str(batch_store), "--out", ""], capsys)
    _one_line_error(code, err, "--out is empty")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.txt"]


def test_unknown_metric_is_refused_naming_the_stores_metrics(tmp_path: Path, batch_store: Path, capsys):
    out = tmp_path / "r"
    code, err = _report([str(batch_store), "--out", str(out), "--metric", "nosuch"], capsys)
    _one_line_error(code, err, "unknown metric 'nosuch'")
    for m in ("acc", "auroc", "f1", "loss"):  # what the store has
        assert m in err.split("Allowed:")[1]
    assert not out.exists()
    code, err = _report([str(batch_store), "--out", str(out), "--metric", "rmse"], capsys)  # a metric, not this store's
    _one_line_error(code, err, "unknown metric 'rmse'")


def _mount(path: Path, options: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({(p.stderr or p.stdout).strip()[:120]})")


def test_out_on_a_read_only_filesystem_is_refused(tmp_path: Path, batch_store: Path, capsys):
    mnt = tmp_path / "ro"
    _mount(mnt, "ro,size=64k")
    try:
        code, err = _report([str(batch_store), "--out", str(mnt / "report")], capsys)
        _one_line_error(code, err, "is not writable")
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_a_full_disk_during_the_report_is_one_line_and_leaves_nothing_half_written(tmp_path: Path, batch_store: Path,
                                                                                     capsys):
    mnt = tmp_path / "small"
    _mount(mnt, "size=96k")  # the report's figures do not fit
    try:
        code, err = _report([str(batch_store), "--out", str(mnt / "report")], capsys)
        _one_line_error(code, err, "the disk is full")
        assert list(mnt.iterdir()) == []  # the new report folder is gone, no temporary file stays
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_a_report_failing_midway_keeps_the_earlier_one_whole(tmp_path: Path, batch_store: Path, monkeypatch):
    import errno

    from zoo.report import build as build_mod
    from zoo.report import build_report

    out = tmp_path / "r"
    build_report(batch_store, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    opened = []

    def open_then_full(path, mode="r", *a, **k):
        opened.append(path)
        if len(opened) == 4:  # README, index.html, results.csv written; per_class.csv hits a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
        return open(path, mode, *a, **k)

    monkeypatch.setattr(build_mod, "open", open_then_full, raising=False)
    with pytest.raises(StorageError):
        build_report(batch_store, out, metric="f1")  # a different report: every file would change
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before


def test_zoo_report_imports_neither_torch_nor_lightning(tmp_path: Path, batch_store: Path):
    """`zoo report` in a fresh process. Run through zoo.report.cli's command function, not
    zoo.cli.main: zoo/cli.py builds every command's parser, and the training commands import
    torch (issue 9 moves that to a static command table)."""
    probe = subprocess.run([sys.executable, "-c", "import sys, zoo; print('torch' in sys.modules)"],
                           capture_output=True, text=True, timeout=120)
    if probe.stdout.strip() == "True":
        pytest.xfail("`import zoo` itself imports torch (zoo/__init__.py -> zoo.registry): the registry part of issue 9")
    proc = _report_in_fresh_process(batch_store, tmp_path / "r", None, ("torch", "lightning"))  # torch* too
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_report_layer_imports_no_training_code():
    """Statically (every import, inside functions too): zoo.record, zoo.bench.store and zoo/report/*
    import neither torch, Lightning nor zoo's model, task, engine or training modules."""
    import ast

    import zoo

    root = Path(zoo.__file__).parent
    files = [root / "record.py", root / "bench" / "store.py", *sorted((root / "report").glob("*.py"))]
    banned = ("torch", "lightning", "torchmetrics", "zoo.models", "zoo.tasks", "zoo.engine", "zoo.training",
              "zoo.registry", "zoo.factory", "zoo.checkpoint", "zoo.bench.runner", "zoo.bench.parse", "zoo.config")
    found = []
    for f in files:
        for node in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{f.name}: {n}" for n in names if any(n == b or n.startswith(b + ".") for b in banned)]
    assert not found, found


def test_shipped_reports_are_small_and_say_how_to_regenerate():
    """reports/: under 12 MB, PNG only, each figure embedded once, no `git_dirty True`, and each says
    how to re-run its study on a fresh clone (the stores are not shipped)."""
    root = Path(__file__).resolve().parents[2] / "reports"
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    from zoo.bench.study import list_studies

    assert len(folders) >= 9 and {d.name for d in folders} <= set(list_studies())  # each the report of a shipped study
    assert sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) < 12_000_000
    for d in folders:
        assert not list(d.rglob("*.svg")), d.name
        html, readme = (d / "index.html").read_text(), (d / "README.md").read_text()
        embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
        assert sorted(base64.b64decode(b) for b in embedded) == sorted(p.read_bytes() for p in (d / "figures").glob("*.png"))
        for text in (html, readme):
            assert "git_dirty" not in text and "Code: commit" in text, d.name
            assert re.search(rf"on a fresh clone the study is re-run first: (`|<code>)(zoo bench [\w.-]+ (&&|&amp;&amp;) )*zoo bench {d.name}\b[^`<]* (&&|&amp;&amp;) "
                             rf"zoo report runs/{d.name}(`|</code>) \(\d+ cells", text), d.name
