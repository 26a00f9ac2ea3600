"""`zoo bench infer` (zoo/bench/infer.py): a record and a table, and one line for each bad input; a cell's cost keys."""

from __future__ import annotations

import json

import pytest
from bench_helpers import tiny_study

from zoo import record
from zoo.bench.parse import parse_study
from zoo.bench.runner import run_cell
from zoo.cli import main


def run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_cell_record_carries_the_cost_fields(tmp_path):
    raw = tiny_study(problems=["mlp_tiny-digits"], scientific={}, nuisance={}, fixed={"batch_size": 32, "hidden": [8]},
                     budget={"max_epochs": 1})
    res = run_cell(parse_study(raw, "t.yaml").cells()[0], tmp_path)
    stored = json.loads((tmp_path / "result.json").read_text())
    assert res["status"] == "ok" and set(record.COST) <= set(stored)
    assert stored["flops_per_sample"] == 2 * (64 * 8 + 8 * 10) + 2 * 64 * 8 + 4 * 8 * 10  # forward + backward
    assert stored["cpu_seconds"] > 0 and stored["peak_memory_mb"] > 0
    assert stored["peak_fraction"] == pytest.approx(stored["flops_per_sample"] * stored["fit"]["throughput"]
                                                    / stored["matmul_peak_flops"])
    env = json.loads((tmp_path / "env.json").read_text())
    assert stored["matmul_peak_flops"] in env["matmul_peak_flops"].values()
    assert {k.split("|")[-2] for k in env["matmul_peak_flops"]} == {"float32", "bfloat16"}  # both dtypes, this machine


def test_infer_writes_a_record_and_prints_a_table(tmp_path, capsys):
    out = tmp_path / "inf"
    code, text, err = run(["bench", "infer", "mlp", "--data", "digits", "--batch-sizes", "1,4", "--warmup", "1",
                           "--repeats", "3", "--out", str(out)], capsys)
    assert code == 0, err
    res = record.read_result(out)
    assert res["kind"] == "infer" and res["status"] == "ok" and res["model"] == "mlp" and res["data"] == "digits"
    rows = res["rows"]
    assert [(r["precision"], r["batch_size"], r["status"]) for r in rows] == [("32-true", 1, "ok"), ("32-true", 4, "ok")]
    flops = 2 * (64 * 512 + 512 * 64 + 64 * 32 + 32 * 10)  # the mlp's default hidden (512, 64, 32), forward only
    for r in rows:
        assert r["repeats"] == 3 and r["flops_per_sample"] == flops
        assert 0 < r["latency_ms_median"] <= r["latency_ms_p90"]
        assert r["throughput"] == pytest.approx(r["batch_size"] / (r["latency_ms_median"] / 1e3))
    assert res["cpu_seconds"] > 0 and res["peak_memory_mb"] > 0
    assert (out / "env.json").exists()
    assert "median ms" in text and "32-true" in text and len(text.strip().splitlines()) == 2 + 2


@pytest.mark.parametrize("extra, message", [
    (["--batch-sizes", "0"], "--batch-sizes: each must be an integer 1..4096, got '0'"),
    (["--batch-sizes", "1,,4"], "--batch-sizes must be comma-separated integers"),
    (["--batch-sizes", "100000000"], "--batch-sizes: each must be an integer 1..4096"),
    (["--precision", "fp8"], "unknown precision 'fp8'"),
    (["--repeats", "0"], "--repeats must be an integer 1..1000, got 0"),
    (["--repeats", "99999999"], "--repeats must be an integer 1..1000"),
    (["--warmup", "-1"], "--warmup must be an integer 0..1000"),
    (["--device", "tpu"], "unknown device 'tpu'"),
])
def test_bad_inputs_are_one_line_and_exit_2(extra, message, capsys, tmp_path):
    code, out, err = run(["bench", "infer", "mlp", "--data", "digits", *extra, "--out", str(tmp_path / "r")], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "r").exists()


def test_unknown_model_or_id_is_one_line_and_exit_2(capsys, tmp_path):
    code, out, err = run(["bench", "infer", "mpl-digits", "--out", str(tmp_path / "r")], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "unknown model or pretrained id 'mpl-digits'" in lines[0], err
    assert not (tmp_path / "r").exists()


def test_infer_takes_a_pretrained_id_and_its_dataset(tmp_path, capsys):
    out = tmp_path / "inf"
    code, text, err = run(["bench", "infer", "mlp-wine", "--batch-sizes", "2", "--warmup", "0", "--repeats", "2",
                           "--out", str(out)], capsys)
    assert code == 0, err
    res = record.read_result(out)
    assert res["source"] == "checkpoint mlp-wine" and res["data"] == "wine" and res["rows"][0]["status"] == "ok"


def test_a_device_that_is_not_here_gives_skipped_rows(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, text, err = run(["bench", "infer", "mlp", "--data", "digits", "--batch-sizes", "1", "--device", "cuda",
                           "--out", str(tmp_path / "inf")], capsys)
    res = record.read_result(tmp_path / "inf")
    assert code == 0 and res["status"] == "skipped" and res["rows"][0]["status"] == "skipped"
    assert "not available here" in res["rows"][0]["reason"] and "skipped" in text


def test_inputs_over_the_element_bound_or_of_another_shape_are_one_line(tmp_path, capsys, monkeypatch):
    from zoo.bench import infer

    monkeypatch.setattr(infer, "MAX_INPUT_ELEMENTS", 192)  # digits: 64 features and a label a sample
    code, _, err = run(["bench", "infer", "mlp", "--data", "digits", "--batch-sizes", "1,4", "--out", str(tmp_path / "a")],
                       capsys)
    assert code == 2 and "a batch of 4 has 260 elements (inputs and targets), over the limit of 192" in err and len(err.splitlines()) == 1
    monkeypatch.undo()
    code, _, err = run(["bench", "infer", "mlp-wine", "--data", "digits", "--batch-sizes", "1", "--out", str(tmp_path / "b")],
                       capsys)
    assert code == 2 and "do not fit the model" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_python_api_returns_the_record_without_writing(tmp_path, monkeypatch):
    from zoo.bench.infer import run_infer

    monkeypatch.chdir(tmp_path)
    res = run_infer("mlp_tiny", data="wine", batch_sizes=[3], warmup=0, repeats=2)
    assert res["kind"] == "infer" and [r["batch_size"] for r in res["rows"]] == [3] and not list(tmp_path.iterdir())
