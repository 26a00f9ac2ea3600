"""The transfer section: every arm against scratch per label count, recomputed here with scipy and numpy,
the catch-up label count, the data-efficiency figure, and source stages shown as such."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from zoo import record
from zoo.bench.store import Store
from zoo.report import stats as S
from zoo.report import tables as T

SEEDS = [0, 1, 2, 3, 4]
LABELS = {"p50": 50, "p200": 200, "p1000": 1000}
ARMS = ["scratch", "frozen", "full"]
SOURCE = "mlp-fashion_mnist-src"
# test accuracy of the chosen configuration (lr=0.1) per problem, arm and seed: at 50 labels frozen and
# full are far ahead, at 200 frozen only, from 1,000 on nothing is (scratch catches up at 1,000)
NOISE = np.array([0.004, -0.003, 0.001, -0.002, 0.0005])
TEST = {
    "p50": {"scratch": 0.80 + NOISE, "frozen": 0.90 + NOISE[::-1] * 0.5, "full": 0.88 + NOISE * 0.7},
    "p200": {"scratch": 0.90 + NOISE, "frozen": 0.93 + NOISE * 0.9, "full": 0.90 + NOISE[::-1]},
    "p1000": {"scratch": 0.97 + NOISE, "frozen": 0.97 + NOISE[::-1], "full": 0.97 + NOISE[[1, 0, 3, 2, 4]]},
}


def _cell(cid: str, problem: str, seed: int, params: dict, scientific: dict, nuisance: dict) -> dict:
    return {"cell_id": cid, "study": "tr", "problem": problem, "model": "mlp", "data": "fashion_mnist", "seed": seed,
            "params": params, "scientific": scientific, "nuisance": nuisance, "fixed": {}, "target": None}


def make_transfer_store(root: Path, target: dict | None = None) -> Path:
    problems = [{"id": p, "model": "mlp", "data": "fashion_mnist", "kind": "multiclass",
                 "data_options": {"classes": ["Sandal", "Shirt"], "labelled": n}, "params": {}} for p, n in LABELS.items()]
    study = {"name": "tr", "description": "", "quick": False, "source": "benchmarks/tr.yaml", "problems": problems,
             "axes": {"transfer": {"role": "scientific", "values": ARMS}, "lr": {"role": "nuisance", "values": [0.1, 0.01]}},
             "scientific": ["transfer"], "nuisance": ["lr"], "fixed": {}, "data_options": {}, "seeds": SEEDS,
             "budget": {"max_epochs": 2}, "search": {"kind": "grid"}, "target": target,
             "stages": {"stages": [{"name": "src", "problem": SOURCE, "model": "mlp", "data": "fashion_mnist",
                                    "data_options": {"classes": list("abcdefgh")}, "params": {}}],
                        "start_from": "src"}}
    cells, results = [], []
    for seed in SEEDS:
        cid = f"src{seed}"
        cells.append(_cell(cid, SOURCE, seed, {"stage": "src"}, {}, {}))
        results.append((cid, 0.85 + 0.001 * seed, 0.85 + 0.001 * seed, 1000, 5.0 + seed))
    for p in LABELS:
        for arm in ARMS:
            for lr in (0.1, 0.01):
                for seed in SEEDS:
                    cid = f"{p}-{arm}-{lr}-{seed}"
                    cells.append(_cell(cid, p, seed, {"transfer": arm, "lr": lr}, {"transfer": arm}, {"lr": lr}))
                    t = float(TEST[p][arm][seed])
                    val = t if lr == 0.1 else t - 0.05  # lr=0.1 is chosen on validation; its test is what counts
                    trainable = {"scratch": 900, "frozen": 22, "full": 900}[arm]
                    if p == "p1000" and arm == "full":
                        trainable = None  # as a store written before cells recorded it
                    results.append((cid, val, t if lr == 0.1 else 0.5, trainable, 0.5 + 0.1 * seed))
    store = Store(root, "tr")
    store.init(study, json.dumps(study, sort_keys=True), cells)
    for cell, (cid, val, test, trainable, secs) in zip(cells, results):
        d = store.dir / cid
        d.mkdir()
        record.write_cell(d, cell)
        record.write_result(d, record.new_result(
            "cell", "ok", None, task_kind="multiclass", cell_id=cid, metrics={"val": {"acc": val}, "test": {"acc": test}},
            fit={"train_seconds": secs}, num_parameters=900, seconds=secs + 1,
            time_to_target=secs / 2 if target and val >= target["value"] else None,
            **({"trainable_parameters": trainable} if trainable is not None else {})))
    return store.dir


@pytest.fixture(scope="module")
def transfer_report(tmp_path_factory: pytest.TempPathFactory):
    from zoo.report import build_report

    root = tmp_path_factory.mktemp("runs")
    store = make_transfer_store(root)
    return store, build_report(store, tmp_path_factory.mktemp("rep") / "tr")


def holm(ps: list[float]) -> list[float]:
    order = np.argsort(ps)
    out, running = [0.0] * len(ps), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(ps) - rank) * ps[i]))
        out[i] = running
    return out


def test_arms_against_scratch_equal_scipy(transfer_report):
    store_dir, _ = transfer_report
    table = T.cell_table(T.load(store_dir))
    verdicts = {v.problem: v for v in S.verdicts(table)}
    assert SOURCE not in verdicts and set(verdicts) == set(LABELS)  # a source stage is no verdict problem
    for p in LABELS:
        got = {a.entry.value: a for a in S.against(verdicts[p], "scratch")}
        assert set(got) == {"frozen", "full"}
        ref = TEST[p]["scratch"]
        ps = [stats.ttest_rel(TEST[p][arm], ref).pvalue for arm in ("frozen", "full")]
        for arm, h in zip(("frozen", "full"), holm(ps)):
            d = TEST[p][arm] - ref
            a = got[arm]
            assert a.diff.n == 5 and a.diff.mean == pytest.approx(d.mean(), abs=1e-12)
            assert a.diff.half == pytest.approx(stats.t.ppf(0.975, 4) * d.std(ddof=1) / math.sqrt(5), rel=1e-9)
            assert a.holm == pytest.approx(h, rel=1e-9)
            wins = np.where(d > 0, 1.0, np.where(d == 0, 0.5, 0.0))
            assert a.improvement.p == pytest.approx(wins.mean())
            if not np.all(wins == wins[0]):
                ci = stats.bootstrap((wins,), np.mean, n_resamples=S.BOOTSTRAP_RESAMPLES, method="percentile",
                                     random_state=np.random.default_rng(S.BOOTSTRAP_SEED)).confidence_interval
                assert (a.improvement.low, a.improvement.high) == pytest.approx((ci.low, ci.high))
    standings = {p: {a.entry.value: a.standing for a in S.against(verdicts[p], "scratch")} for p in LABELS}
    assert standings == {"p50": {"frozen": "better", "full": "better"}, "p200": {"frozen": "better", "full": "same"},
                         "p1000": {"frozen": "same", "full": "same"}}


def test_section_words_figure_and_source(transfer_report):
    _, rep = transfer_report
    md = (rep.out_dir / "README.md").read_text()
    section = md[md.index('<a id="transfer"></a>'):md.index('<a id="verdict"></a>')]
    assert "**Scratch catches up from 1,000 labels on**" in section

    def delta(p: str, arm: str) -> str:
        d = TEST[p][arm] - TEST[p]["scratch"]
        return f"+{d.mean():.4f} ± {stats.t.ppf(0.975, 4) * stats.sem(d):.4f}"

    assert (f"**In short**: At 50 labels, **frozen** ({delta('p50', 'frozen')}) and **full** ({delta('p50', 'full')}) "
            f"beat scratch; at 200 labels, **frozen** ({delta('p200', 'frozen')}) beats scratch; at 1,000 labels, no arm "
            "differs significantly from scratch.") in section
    assert "below it, at 200 labels, an arm still beats scratch" in section
    assert "**frozen** beats scratch by +0.0300" in section  # 200 labels: 0.93 - 0.90, noise differences ~0
    assert "**Source** `src`" in section and "seed 0: 0.8500" in section and "seed 4: 0.8540" in section
    assert "transfer=nan" not in md and "| nan" not in md
    assert "cls-mlp-fashion-mnist-src" not in md and "dyn-mlp-fashion-mnist-src" not in md  # no verdict, no detail
    verdict = (rep.out_dir / "verdict.csv").read_text()
    assert SOURCE not in verdict
    png = rep.out_dir / "figures" / "transfer_data_efficiency.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| 50 | frozen | 22 | 900 | 0.700 ± 0.196 (5) |" in section  # trainable parameters, train seconds
    assert "| 1,000 | full | — | 900 |" in section  # not recorded: a dash
    assert "time to" not in section  # the study has no target
    csv = pd.read_csv(rep.out_dir / "transfer.csv")
    row = csv[(csv.labelled == 200) & (csv.arm == "frozen")].iloc[0]
    d = TEST["p200"]["frozen"] - TEST["p200"]["scratch"]
    assert row.diff_mean == pytest.approx(d.mean()) and row.standing == "better" and row.n == 5
    assert len(csv) == 6 and set(csv.arm) == {"frozen", "full"}


def test_time_to_target_when_the_study_has_one(tmp_path):
    from zoo.report import build_report

    store = make_transfer_store(tmp_path / "runs", target={"metric": "val_acc", "value": 0.9, "mode": "max"})
    md = (build_report(store, tmp_path / "rep").out_dir / "README.md").read_text()
    section = md[md.index('<a id="transfer"></a>'):md.index('<a id="verdict"></a>')]
    assert "time to val_acc 0.9 (s; reached/n)" in section
    # 50 labels: scratch's val is 0.80 (never reached), frozen's 0.90 + noise/2 (seeds 0, 2, 4 reach it, by NOISE[::-1])
    reached = [s for s in SEEDS if TEST["p50"]["frozen"][s] >= 0.9]
    half = [(0.5 + 0.1 * s) / 2 for s in reached]
    assert "| 50 | scratch | 900 | 900 | 0.700 ± 0.196 (5) | — (0/5) |" in section
    assert f"({len(reached)}/5) |" in section and len(reached) == 3
    assert f"| 50 | frozen | 22 | 900 | 0.700 ± 0.196 (5) | {np.mean(half):.3f} ± " in section


def test_data_efficiency_figure_draws_the_means():
    from zoo.report import figures as F

    pts = [(50.0, S.mean_ci([0.8, 0.82])), (200.0, S.mean_ci([0.9, 0.91])), (1000.0, S.mean_ci([0.97, 0.975]))]
    fig = F.data_efficiency([("scratch", 3, pts)], "test accuracy (fraction correct)", "t")
    ax = fig.axes[0]
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == [50.0, 200.0, 1000.0]
    assert list(line.get_ydata()) == pytest.approx([0.81, 0.905, 0.9725])
    assert line.get_color() == F.color(3) and ax.get_xscale() == "log"
    assert "labelled" in ax.get_xlabel() and "fraction" in ax.get_ylabel()


def _against(standing: str) -> S.Against:
    n, p = (1, math.nan) if standing == "untestable" else (5, 0.001 if standing in ("better", "worse") else 0.5)
    diff = S.MeanCI(-0.01 if standing == "worse" else 0.01, 0.005, n)
    return S.Against(None, diff, S.PairedTest(n, diff.mean, p, S.PAIRED_METHOD), p, S.Improvement(n, 1.0, 1.0, 1.0))


@pytest.mark.parametrize("states, want", [
    ({50: "better", 200: "better", 1000: "same", 5000: "same"}, (1000, "caught_up", 200, None)),
    ({50: "better", 200: "same", 1000: "better", 5000: "same"}, (5000, "caught_up", 1000, None)),
    ({50: "better", 200: "better", 1000: "better"}, (None, "not_within", 1000, None)),
    ({50: "same", 200: "worse"}, (50, "never_behind", None, None)),
    ({50: "better", 200: "untestable", 1000: "same"}, (1000, "caught_up", 50, 200)),
    ({50: "better", 200: "untestable"}, (None, "untestable", 50, None)),
])
def test_catch_up_label_count(states, want):
    pts = [(float(n), [_against(s), _against("same")]) for n, s in reversed(list(states.items()))]
    c = S.catch_up(pts)
    assert (c.at, c.why, c.last_better, c.gap) == want


def test_transfer_report_opens_in_chromium(transfer_report, tmp_path: Path):
    from test_report_browser import CHROMIUM, _check_page

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found")
    _, rep = transfer_report
    v = _check_page(rep.out_dir, tmp_path / "transfer-first-screen.png")
    assert v["title"] == "Study tr: report"
    assert any("Data efficiency" in i["alt"] for i in v["images"])
