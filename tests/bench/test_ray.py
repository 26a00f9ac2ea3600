"""The Ray executor on a local Ray instance: same records as the local executor."""

from __future__ import annotations

import json

import pytest
from bench_helpers import tiny_study

from zoo.bench.executors import RayExecutor, SequentialExecutor
from zoo.bench.parse import parse_study
from zoo.bench.sweep import run_study
from zoo.errors import ConfigError

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _records(directory):
    out = {}
    for d in directory.iterdir():
        if d.is_dir() and not d.name.startswith("."):
            r = json.loads((d / "result.json").read_text())
            out[d.name] = (r["status"], r["metrics"], sorted(p.name for p in d.iterdir()))
    return out


def test_ray_executor_matches_local(tmp_path):
    study = parse_study(tiny_study(problems=["mlp_tiny-digits", "mlp_tiny-diabetes"], nuisance={}), "t.yaml")
    local = run_study(study, out=tmp_path / "local", executor=SequentialExecutor(threads=1), quiet=True)
    ex = RayExecutor(threads=1, init_kwargs={"num_cpus": 2, "object_store_memory": 80 * 2**20})
    remote = run_study(study, out=tmp_path / "ray", executor=ex, quiet=True)
    assert not ray.is_initialized()  # the executor shut down the instance it started
    assert local.ran == remote.ran == 4
    assert ex.slots == 2  # cluster CPUs / threads per task
    a, b = _records(tmp_path / "local" / "tiny"), _records(tmp_path / "ray" / "tiny")
    assert a == b
    env = json.loads(next((tmp_path / "ray" / "tiny").glob("*/env.json")).read_text())
    assert env["omp_num_threads"] == "1" and env["torch_threads"] == 1


def test_unreachable_cluster_is_a_clear_error():
    ex = RayExecutor(threads=1, address="127.0.0.1:1")
    with pytest.raises(ConfigError, match="cannot reach a Ray cluster at '127.0.0.1:1'"):
        ex.start()
    assert not ray.is_initialized()
