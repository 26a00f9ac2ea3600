"""A seeded fuzz of bad input: >= 200 bad CLI invocations and >= 50 bad study files.

Over zoo train, zoo bench, zoo bench status, zoo report and zoo generate/translate/neighbors:
unknown names, wrong types, empty strings, overflowing and non-finite numbers, unicode,
special files (/dev/zero, a pipe, a directory), read-only and not-a-folder outputs.

Every case must: exit non-zero with exactly one line on stderr and no traceback; leave every
file of an existing run folder and store as it was (sha256 before and after); leave no process
behind (in-process: no child of this process; subprocess: no process carrying its tag); and run
under a bounded address space (RLIMIT_AS: the current size + 3 GiB in this process, 4 GiB for a
subprocess), within a time limit.

Most cases run in this process through ``zoo.cli.main`` (fast); cases that read special files
run as ``python -m zoo.cli`` subprocesses (a reader that hangs or fills memory cannot take the
test suite with it). The default suite runs a fixed sample; ``-m slow`` runs all.

``KNOWN`` lists the cases that still fail on this branch (none now), each with whose module
fixes it; they are ``xfail(strict=False)``: once fixed they show as XPASS.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import resource
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SEED = 20240611
SUBPROCESS_AS = 4 << 30
INPROCESS_EXTRA_AS = 3 << 30

# ----------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    study: str | None = None
    """Text of a study file written to {case_study} (study-file cases)."""
    sub: bool = False
    """Run as a subprocess (reads a special file)."""
    label: str = ""

    def uses(self, *needles: str) -> bool:
        return any(n in a for a in self.argv for n in needles)


SPECIAL = ("{zero}", "{fifo}", "{ckpt_zero}", "{store_zero}")

BIG = "99999999999999999999999"
INTS_POS = ["0", "-1", "x", "1.5", "", BIG, "-" + BIG, "1e400", "nan", "½"]
FLOATS_POS = ["inf", "-inf", "nan", "1e400", "-1", "", "x", "0x"]
NAMES = ["nosuch", "", " ", "é", "mlp_tiny\u202e", "../../etc/passwd", "MLP_TINY", "a" * 300, "🙂"]
OUTS = ["{file}", "{file}/sub", "{ro}/out", "", "{zero}"]

TRAIN_BASE = ("train", "mlp_tiny", "--data", "digits", "--max-epochs", "1")
TRAIN_FLAGS = {
    "--seed": ["x", "1.5", "", BIG, "-" + BIG, "nan"],
    "--lr": FLOATS_POS,
    "--batch-size": INTS_POS,
    "--max-epochs": INTS_POS,
    "--hidden": ["", "1,,2", "2000000000", "-4", "a", "0", ",", "1e3", "8;8", "８"],
    "--threads": ["0", "-1", BIG, "x", ""],
    "--optimizer": NAMES,
    "--data-option": ["limit=-1", "limit=0", "=", "nosuch=1", "limit=1e400", "limit", "limit=abc", "limit=" + BIG],
    "--logger": ["nosuch", "", "CSV"],
    "--out": [*OUTS, "{run}", "{dir_file}"],  # train's folder must be new
    "--data": NAMES,
    "--norm": ["nosuch", ""],
    "--activation": ["nosuch", "", "tanh\u0000"[:4] + "x"],
}


def _train_cases(rng: random.Random, n: int) -> list[tuple[str, ...]]:
    out = [("train", name, "--data", "digits", "--out", "{new}") for name in NAMES]
    out.append(("train", "mlp_tiny", "--data", "digits", "--norm", "batch", "--batch-size", "1", "--out", "{new}"))
    out += [("train",), ("train", "mlp_tiny", "--lr"), ("train", "mlp_tiny", "--nosuch", "1")]
    return _combinations(rng, out, n, TRAIN_BASE, TRAIN_FLAGS, [1, 1, 1, 2, 3])


def _combinations(rng: random.Random, out: list[tuple[str, ...]], n: int, base: list[str],
                  flags: dict[str, list[str]], sizes: list[int]) -> list[tuple[str, ...]]:
    """``out`` topped up to ``n`` distinct invocations: ``base`` with a random few of ``flags``
    (``len(chosen)`` drawn from ``sizes``), each with one of its bad values; ``--out {new}`` unless chosen."""
    names = sorted(flags)
    while len(out) < n:
        chosen = rng.sample(names, rng.choice(sizes))
        argv = list(base)
        for flag in chosen:
            argv += [flag, rng.choice(flags[flag])]
        if "--out" not in chosen:
            argv += ["--out", "{new}"]
        if tuple(argv) not in out:
            out.append(tuple(argv))
    return out


BENCH_FLAGS = {
    "--workers": ["0", "-1", "x", "", "1.5", "-" + BIG],
    "--threads": ["0", "-1", "x", ""],
    "--executor": ["nosuch", "", "LOCAL", "ray\u200b"],
    "--address": ["auto", "127.0.0.1:1", "x"],  # with the local executor: refused
    "--out": OUTS,
}


def _bench_cases(rng: random.Random, n: int) -> list[tuple[str, ...]]:
    out = [("bench", s, "--out", "{new}") for s in [*NAMES, "{file}", "{dir}", "{zero}", "{fifo}", "smokee", "{gone}"]]
    out += [("bench", "{study_other}", "--out", "{store}"), ("bench", "{study_other}", "--out", "{store}", "--workers", "2"),
            ("bench",), ("bench", "{study}", "--quick", "--nosuch")]
    out += [("bench", "status", s, "--out", "{store}") for s in ["nosuch", "", "{file}", "é", "{gone}"]]
    out += [("bench", "status", s) for s in ["{store_dir}", "{store_zero}", "{store_json}", "{store_list}", "{dir}"]]
    out += [("bench", "status")]
    return _combinations(rng, out, n, ["bench", "{study}"], BENCH_FLAGS, [1, 1, 2])


def _report_cases() -> list[tuple[str, ...]]:
    out = [("report", s, "--out", "{new}") for s in ["nosuch", "", "{file}", "{zero}", "{dir}", "{store_dir}", "é"]]
    out += [("report", "{storedir}", "--out", o) for o in OUTS]
    out += [("report", "{storedir}", "--metric", m, "--out", "{new}") for m in ["nosuch", "", "test_acc", "ACC", "é"]]
    out += [("report",), ("report", "{storedir}", "--nosuch")]
    return out


def _app_cases() -> list[tuple[str, ...]]:
    ckpts = ["nosuch", "", "{ckpt}", "{ckpt_zero}", "{file}", "{dir}", "{zero}", "{run}"]
    out = [("generate", c, "--prompt", "to be") for c in ckpts]
    out += [("generate", "{ckpt}", "--prompt", "a", flag, v)
            for flag, values in {"--length": INTS_POS, "--temperature": ["nan", "-1", "inf", "x", ""],
                                 "--seed": ["x", BIG]}.items() for v in values]
    out += [("translate", c, "hello") for c in ckpts]
    out += [("translate", "{ckpt}", s) for s in ["", " ", "é" * 1000]]
    out += [("translate", "{ckpt}", "hello", "--beam", v) for v in ["0", "-1", "x", BIG]]
    out += [("neighbors", c, "word") for c in ckpts]
    out += [("neighbors", "{ckpt}", "word", "--top", v) for v in ["0", "-1", "x", BIG]]
    out += [("analogy", "{ckpt}", "a", "b", "c"), ("generate",), ("translate", "{ckpt}"), ("nosuch",), ("",)]
    return out


def _study_texts(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """(label, YAML text) of bad studies: mutations of a valid one, and broken files."""
    base = {"name": "fz", "problems": ["mlp_tiny-digits"], "scientific": {"lr": [0.01]}, "fixed": {"hidden": [4]},
            "data_options": {"limit": 64}, "seeds": 1, "budget": {"max_epochs": 1}}
    mutations = {
        "name": ["", 5, None, "../x", "a/b", "é" * 300, ".hidden", [1], " "],
        "problems": [[], 5, [5], ["nosuch-digits"], ["mlp_tiny-nosuch"], ["-"], [""], None, [{"model": 5}]],
        "seeds": [1000000000, -1, 0, "x", 1.5, float("inf"), 99999999999999999999999, None, [1, 1], []],
        "budget": [{"max_epochs": -1}, {"max_epochs": float("inf")}, {"nosuch": 1}, [], {"max_time": -5},
                   {"max_epochs": "x"}, {"max_epochs": 10**30}, {"max_epochs": float("nan")}],
        "scientific": [{"lr": []}, {"nosuch": [1]}, {"lr": [float("nan")]}, {"lr": [float("inf")]},
                       {"optimizer": ["nosuch"]}, 5, {"lr": [-1]}, {"": [1]}],
        "fixed": [{"lr": -1}, {"batch_size": 0}, {"hidden": [2000000000]}, {"nosuch": 1},
                  {"batch_size": 99999999999999999999999}, {"hidden": []}, {"lr": float("nan")}],
        "data_options": [{"limit": -1}, {"limit": 0}, {"nosuch": 1}, [1], {"limit": "x"}, {"limit": 1e400}],
        "nosuch": [1],
        "target": [{"metric": "nosuch", "value": 1}, {"metric": "val_acc", "value": float("nan")}, 5],
        "search": [{"random": -1}, {"random": 1000000000}, "nosuch", {"random": 0}, {"sampler": "nosuch", "n_trials": 2},
                   {"sampler": "tpe", "n_trials": 0}, {"sampler": "tpe"}, {"sampler": "tpe", "n_trials": 10**30},
                   {"sampler": "tpe", "n_trials": 2, "objective": "val_nosuch"}, {"sampler": {"tpe": 5}, "n_trials": 2},
                   {"sampler": "tpe", "n_trials": 2, "pruner": "nosuch"}, {"sampler": "grid", "n_trials": 5}],
        "quick": [{"seeds": -1}, 5, {"nosuch": 1}],
    }
    out = []
    for key, values in mutations.items():
        for v in values:
            study = dict(base, **{key: v})
            out.append((f"{key}={str(v)[:20]}", yaml.safe_dump(study, allow_unicode=True)))
    out += [("empty", ""), ("list", "[]\n"), ("scalar", "hello\n"), ("unclosed", "{{{\n"), ("binary", "\x00\x01\xff"),
            ("python_tag", "!!python/object/apply:os.system ['echo hi']\n"), ("tabs", "name:\tfz\n\tproblems: [\n"),
            ("deep", "[" * 5000 + "]" * 5000 + "\n"), ("dup_anchor", "a: &x 1\nb: *y\n")]
    rng.shuffle(out)
    return out[:n] if n else out


def build_cases() -> list[Case]:
    rng = random.Random(SEED)
    argvs = _train_cases(rng, 110) + _bench_cases(rng, 60) + _report_cases() + _app_cases()
    cases = []
    for argv in argvs:
        digest = hashlib.sha256(json.dumps(argv).encode()).hexdigest()[:8]
        cmd = "-".join(argv[:2]) if argv[:2] == ("bench", "status") else (argv[0] if argv and argv[0].isidentifier() else "zoo")
        sub = any(s in a for a in argv for s in SPECIAL)
        cases.append(Case(f"{cmd}-{digest}", argv, sub=sub))
    for label, text in _study_texts(rng, 0):
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        cases.append(Case(f"study-{digest}", ("bench", "{case_study}", "--out", "{store}"), study=text, label=label))
        cases.append(Case(f"study-dry-{digest}", ("bench", "{case_study}", "--out", "{store}", "--dry-run"), study=text,
                          label=label))
    ids = [c.id for c in cases]
    assert len(set(ids)) == len(ids)
    return cases


CASES = build_cases()
CLI_CASES = [c for c in CASES if c.study is None]
STUDY_CASES = [c for c in CASES if c.study is not None]

# Cases that still fail on the harden branch (its zoo/cli.py, bench and checkpoint code included), and whose
# module fixes them; the CONFIG and RECORD branches work on these in parallel. Surveyed with
# `pytest tests/test_fuzz_bad_input.py -m "slow or not slow"`: 87 of 400 failed, all in others' modules:
# - CONFIG, zoo train: 50 cases print "zoo train MODEL on DATA -> FOLDER" before the error (two lines);
#   --seed 99999999999999999999999 (OverflowError); --max-epochs 99999999999999999999999 accepted (trains
#   until the 120 s alarm); --hidden 2000000000 (a 512 GB allocation, RuntimeError); --norm batch
#   --batch-size 1 (ValueError); accepted with exit 0: --lr 1e400, --hidden 1,,2, --hidden '', --hidden ８,
#   --data '', --out ''.
# - CONFIG, study files (zoo/bench/spec.py): nesting 5,000 deep (RecursionError); seeds: 1000000000
#   (MemoryError); seeds: 99999999999999999999999 (OverflowError); `--dry-run` accepts hidden: [2000000000],
#   hidden: [], batch_size: 99999999999999999999999, search: {random: 1000000000}, quick: {seeds: -1},
#   max_epochs: 1e30; `zoo bench <300 letters>` (OSError ENAMETOOLONG from Path.is_file in load_study).
#   The config branch fixed all of these but one: a bad `quick:` form (seeds: -1) is refused only with --quick.
# - RECORD, zoo report: --metric nosuch / '' / test_acc / ACC / é accepted; --out a file, under a file,
#   '' or /dev/zero (tracebacks or accepted).
KNOWN: dict[str, str] = {}


def _sample(cases: list[Case], every: int) -> set[str]:
    return {c.id for i, c in enumerate(cases) if i % every == 0}


FAST = _sample([c for c in CLI_CASES if not c.sub], 6) | _sample([c for c in CLI_CASES if c.sub], 8) \
    | _sample(STUDY_CASES, 10)


def _params(cases: list[Case]) -> list:
    out = []
    for c in cases:
        marks = [] if c.id in FAST else [pytest.mark.slow]
        if c.id in KNOWN:
            marks.append(pytest.mark.xfail(reason=KNOWN[c.id], strict=False))
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


# ----------------------------------------------------------------------------- the world the cases run in


def _tree(root: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under ``root`` (links not followed)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.is_symlink() or not p.is_dir():
            out[str(p.relative_to(root))] = f"special:{os.readlink(p) if p.is_symlink() else p.stat().st_mode}"
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    import zoo
    from zoo.bench.sweep import run_study
    from zoo.cli import main

    w = tmp_path_factory.mktemp("fuzz")
    zoo.train("mlp_tiny", "digits", max_epochs=1, progress=False, out_dir=w / "run")
    study = {"name": "fz", "problems": ["mlp_tiny-digits"], "scientific": {"lr": [0.01]}, "fixed": {"hidden": [4]},
             "data_options": {"limit": 64}, "seeds": 1, "budget": {"max_epochs": 1}}
    (w / "study.yaml").write_text(yaml.safe_dump(study))
    (w / "study_other.yaml").write_text(yaml.safe_dump({**study, "seeds": 2}))  # same name, another study
    assert main(["bench", str(w / "study.yaml"), "--out", str(w / "runs")]) == 0
    del run_study
    (w / "file").write_text("x\n")
    (w / "dir").mkdir()
    (w / "dir_file").mkdir()
    (w / "dir_file" / "x").write_text("a folder that is not empty\n")
    (w / "zero").symlink_to("/dev/zero")
    os.mkfifo(w / "fifo")
    (w / "ckpt_zero").mkdir()
    (w / "ckpt_zero" / "card.json").symlink_to("/dev/zero")
    for name, make in {"store_dir": lambda p: p.mkdir(), "store_zero": lambda p: p.symlink_to("/dev/zero"),
                       "store_json": lambda p: p.write_text("{not json"), "store_list": lambda p: p.write_text("[1]")}.items():
        (w / name).mkdir()
        make(w / name / "study.json")
    ro = w / "ro"
    ro.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)], capture_output=True).returncode == 0
    if not mounted:
        ro.chmod(0o555)  # read-only for everyone but root
    values = {
        "{run}": w / "run", "{ckpt}": w / "run" / "checkpoint", "{store}": w / "runs", "{storedir}": w / "runs" / "fz",
        "{study}": w / "study.yaml", "{study_other}": w / "study_other.yaml", "{file}": w / "file", "{dir}": w / "dir",
        "{dir_file}": w / "dir_file", "{zero}": w / "zero", "{fifo}": w / "fifo", "{ckpt_zero}": w / "ckpt_zero",
        "{store_dir}": w / "store_dir", "{store_zero}": w / "store_zero", "{store_json}": w / "store_json",
        "{store_list}": w / "store_list", "{ro}": ro, "{gone}": w / "gone",
    }
    protected = [w / "run", w / "runs", w / "file", w / "dir", w / "dir_file", w / "study.yaml", w / "ckpt_zero"] + [
        w / n for n in ("store_dir", "store_zero", "store_json", "store_list")]
    yield {"root": w, "values": {k: str(v) for k, v in values.items()}, "protected": protected,
           "ro_effective": mounted or os.geteuid() != 0}
    if mounted:
        subprocess.run(["umount", "-l", str(ro)], capture_output=True)


def _resolve(case: Case, world, tmp_path: Path) -> list[str]:
    values = dict(world["values"], **{"{new}": str(tmp_path / "new"), "{case_study}": str(tmp_path / "case.yaml")})
    if case.study is not None:
        (tmp_path / "case.yaml").write_bytes(case.study.encode("utf-8", "surrogateescape"))
    out = []
    for a in case.argv:
        for k, v in values.items():
            a = a.replace(k, v)
        out.append(a)
    return out


def _snapshot(world) -> dict[str, dict[str, str]]:
    out = {}
    for p in world["protected"]:
        if p.is_dir() and not p.is_symlink():
            out[str(p)] = _tree(p)
        else:
            out[str(p)] = {"": hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "special"}
    return out


def _children() -> set[int]:
    me, out = os.getpid(), set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == me and fields[0] != "Z":
                out.add(int(stat.parent.name))
    return out


def _tagged(tag: str) -> list[int]:
    out = []
    for env in Path("/proc").glob("[0-9]*/environ"):
        with contextlib.suppress(OSError):
            if f"ZOO_FUZZ_TAG={tag}".encode() in env.read_bytes():
                out.append(int(env.parent.name))
    return out


@contextlib.contextmanager
def _bounded(seconds: int):
    """This process's address space bounded to its size + 3 GiB, and an alarm, while a case runs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    size = int(Path("/proc/self/status").read_text().split("VmSize:")[1].split()[0]) * 1024
    limit = size + INPROCESS_EXTRA_AS
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)

    def boom(*_):
        raise TimeoutError(f"the case ran over {seconds} s")

    old = signal.signal(signal.SIGALRM, boom)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _run_inprocess(argv: list[str], capfd, workdir: Path) -> tuple[int, str]:
    from zoo.cli import main

    cwd = os.getcwd()
    before = _children()
    capfd.readouterr()
    os.chdir(workdir)  # a case that writes into "the current folder" (--out '') must not write into the checkout
    try:
        with _bounded(120):
            try:
                code = main(argv)
            except SystemExit as e:  # argparse
                code = e.code if isinstance(e.code, int) else 1
    finally:
        os.chdir(cwd)
    err = capfd.readouterr().err
    assert not (_children() - before), "a process was left behind"
    return code, err


def _run_subprocess(argv: list[str], tmp_path: Path) -> tuple[int, str]:
    tag = uuid.uuid4().hex
    env = dict(os.environ, ZOO_NO_REEXEC="1", OMP_NUM_THREADS="1", ZOO_FUZZ_TAG=tag,
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (SUBPROCESS_AS, SUBPROCESS_AS))

    try:
        r = subprocess.run([sys.executable, "-m", "zoo.cli", *argv], env=env, cwd=tmp_path, capture_output=True,
                           timeout=180, preexec_fn=limit)
    except subprocess.TimeoutExpired:
        for pid in _tagged(tag):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        pytest.fail(f"zoo {' '.join(argv)} hung (over 180 s)")
    assert not _tagged(tag), "a process of the case was left behind"
    return r.returncode, r.stderr.decode("utf-8", "replace")


def _check(case: Case, world, tmp_path: Path, capfd) -> None:
    argv = _resolve(case, world, tmp_path)
    if case.uses("{ro}") and not world["ro_effective"]:
        pytest.skip("no read-only folder here (root, and tmpfs cannot be mounted)")
    before = _snapshot(world)
    code, err = _run_subprocess(argv, tmp_path) if case.sub else _run_inprocess(argv, capfd, tmp_path)
    lines = err.splitlines()
    assert code != 0, f"accepted (exit 0): zoo {' '.join(argv)}\n{err}"
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].strip(), f"{len(lines)} lines on stderr:\n{err}"
    assert _snapshot(world) == before, "a file of an existing run folder or store changed"


@pytest.mark.parametrize("case", _params(CLI_CASES))
def test_bad_cli_invocation(case, world, tmp_path, capfd):
    _check(case, world, tmp_path, capfd)


@pytest.mark.parametrize("case", _params(STUDY_CASES))
def test_bad_study_file(case, world, tmp_path, capfd):
    _check(case, world, tmp_path, capfd)


def test_the_fuzz_is_big_enough():
    assert len(CLI_CASES) >= 200 and len(STUDY_CASES) >= 50
    assert sum(c.sub for c in CLI_CASES) >= 10  # special files, in subprocesses
    assert 30 <= len(FAST) <= 80
