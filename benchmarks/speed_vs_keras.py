"""zoobench beside its peers: the seeds' MLP trained through zoobench, plain PyTorch and Keras 3; samples/s.

Every runner trains the same model -- 784-512-64-32-10, per-feature input
standardization, ReLU, He-normal hidden / Glorot-normal output weights, Adam
(lr 1e-3, eps 1e-8), softmax cross-entropy on logits -- on the same tensors at the
same batch size for the same number of optimizer steps:

* ``zoobench``: ``zoo.engine.fit`` (benchmarks/speed_mlp.py's :func:`zoobench`);
* ``zoobench-bf16``: the same with ``precision="bf16-mixed"`` (autocast);
* ``zoobench-compile``: the same with the task's model wrapped in ``torch.compile``;
* ``torch``: a hand-written PyTorch loop (speed_mlp.py's :func:`hand_written`);
  ``torch-compile`` the same loop through ``torch.compile`` (not run by default);
* ``keras-torch``, ``keras-tf``: Keras 3 ``model.fit`` on the torch / TensorFlow backend;
* ``keras-tf-xla``: on TensorFlow with ``jit_compile=True`` (XLA).

Data: 59,904 x 784 float32 (the first 468 x 128 of MNIST's 60,000 training images
when ``ZOO_DATA`` is set, else uniform random inputs and labels), so every step is a
full batch and no compiled runner meets a new shape. The first ``--warmup`` steps
(graph tracing, XLA and inductor compilation) are not timed; after them each
runner times its optimizer steps up to the end of training (zoobench's per-epoch
validation is excluded, as in its own throughput figure; the other runners have
none). samples/s = samples in timed steps / their seconds.

Each runner is its own process (``KERAS_BACKEND`` is set before keras is
imported), started with the same settings: zoobench's process environment
(zoo/procenv.py: allocator thresholds, passive OpenMP waiting), ``OMP_NUM_THREADS``
/ ``MKL_NUM_THREADS`` = ``--threads``, ``torch.set_num_threads`` and TensorFlow's
intra- and inter-op threads = ``--threads``. Repeats rotate the order of the
runners; each runner's ratio to zoobench is taken within a repeat and the
median of those is printed. CPU/wall (process CPU time over wall time while
training) shows how many cores a runner really got and used: TensorFlow's input
pipeline (tf.data, inside ``model.fit``) has threads of its own beyond intra/inter-op.
Samples per CPU-second (samples/s / CPU-wall) is the figure a busy machine
distorts least, and charges a runner for every thread it uses; CPU time is
taken over the timed steps for Keras, and around the whole training call
(setup and zoobench's validation included) for the zoobench and torch runners.

    python3 -m venv PEERS && PEERS/bin/pip install torch==2.13.0 keras tensorflow-cpu numpy
    python benchmarks/speed_vs_keras.py --repeats 3 --threads 1 --peer-python PEERS/bin/python

The Keras runners need keras and tensorflow-cpu (the ``peers`` extra of pyproject.toml)
in ``--peer-python``'s environment, best a separate one as above (TensorFlow pins its
own numpy/protobuf); the zoobench and torch runners run in this interpreter. A runner
whose packages are missing is skipped, with a line saying so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
N_FEATURES, N_CLASSES = 784, 10

RUNNERS: dict[str, dict] = {
    "zoobench": {"kind": "zoo"},
    "zoobench-bf16": {"kind": "zoo", "precision": "bf16-mixed"},
    "zoobench-compile": {"kind": "zoo", "compile": True},
    "torch": {"kind": "torch"},
    "torch-compile": {"kind": "torch", "compile": True},
    "keras-torch": {"kind": "keras", "backend": "torch", "jit": False},
    "keras-tf": {"kind": "keras", "backend": "tensorflow", "jit": False},
    "keras-tf-xla": {"kind": "keras", "backend": "tensorflow", "jit": True},
}
DEFAULT_RUNNERS = "zoobench,zoobench-bf16,zoobench-compile,torch,keras-torch,keras-tf,keras-tf-xla"
NEEDS = {"zoo": ("torch", "lightning"), "torch": ("torch",), "keras": ("keras",)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runners", default=DEFAULT_RUNNERS, help=f"comma-separated, of: {', '.join(RUNNERS)}")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--warmup", type=int, default=10, help="untimed optimizer steps at the start of each run")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--samples", type=int, default=60_000, help="training samples (rounded down to whole batches)")
    p.add_argument("--data", choices=("random", "mnist"), default="mnist" if os.environ.get("ZOO_DATA") else "random",
                   help="mnist (zoo.data, needs ZOO_DATA; the default when it is set) or random")
    p.add_argument("--peer-python", default=sys.executable, help="interpreter of the Keras runners (default: this one)")
    p.add_argument("--json", help="write every run's figures to this file")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.runners = [r.strip() for r in args.runners.split(",") if r.strip()]
    for r in args.runners:
        if r not in RUNNERS:
            p.error(f"unknown runner {r!r}; choose from: {', '.join(RUNNERS)}")
    for name in ("repeats", "epochs", "batch_size", "threads", "samples"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.warmup < 1 or args.warmup >= args.epochs * (args.samples // args.batch_size):
        p.error(f"--warmup must be between 1 and the number of steps - 1, got {args.warmup}")
    if args.samples < args.batch_size:
        p.error(f"--samples must be at least --batch-size ({args.batch_size}), got {args.samples}")
    return args


# ----------------------------------------------------------------------------- data (parent)


def write_data(args: argparse.Namespace, folder: Path) -> str:
    """X.npy (float32) and Y.npy (int64) in ``folder``, the same for every runner; returns a description."""
    import numpy as np

    n = args.samples // args.batch_size * args.batch_size
    if args.data == "mnist":
        import torch

        import zoo.data

        dm = zoo.data.load("mnist", flatten=True)
        X = torch.cat([dm.inputs("train"), dm.inputs("val")]).float().numpy()
        Y = torch.cat([dm.targets("train"), dm.targets("val")]).long().numpy()
        if n > len(X):
            raise SystemExit(f"--samples {args.samples} is more than MNIST's {len(X)} training images")
        what = "MNIST training images"
    else:
        rng = np.random.default_rng(0)
        X = rng.random((n, N_FEATURES), dtype=np.float32)
        Y = rng.integers(0, N_CLASSES, n, dtype=np.int64)
        what = "uniform random inputs and labels"
    np.save(folder / "X.npy", np.ascontiguousarray(X[:n], dtype=np.float32))
    np.save(folder / "Y.npy", np.ascontiguousarray(Y[:n], dtype=np.int64))
    return f"{n:,} x {X.shape[1]} float32 ({what}), {n // args.batch_size} steps of {args.batch_size} per epoch"


# ----------------------------------------------------------------------------- runners (children)


def run_torch_side(spec: dict, args: argparse.Namespace, X, Y) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)
    from speed_mlp import hand_written, zoobench

    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    wall, cpu = time.perf_counter(), time.process_time()
    if spec["kind"] == "zoo":
        rate, loss = zoobench(Xt, Yt, Xt[:2000], Yt[:2000], args.batch_size, args.epochs, args.warmup,
                              precision=spec.get("precision", "32-true"), compile=spec.get("compile", False))
    else:
        rate, loss = hand_written(Xt, Yt, args.batch_size, args.epochs, args.warmup, compile=spec.get("compile", False))
    cores = (time.process_time() - cpu) / (time.perf_counter() - wall)  # whole call: setup and validation too
    return {"samples_per_s": rate, "loss": float(loss), "versions": {"torch": torch.__version__},
            "threads": torch.get_num_threads(), "cores": cores}


def run_keras(spec: dict, args: argparse.Namespace, X, Y) -> dict:
    backend = spec["backend"]
    if os.environ.get("KERAS_BACKEND") != backend:
        raise RuntimeError(f"KERAS_BACKEND is {os.environ.get('KERAS_BACKEND')!r}, expected {backend!r}")
    versions = {}
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        versions["tensorflow"] = tf.__version__
        threads = tf.config.threading.get_intra_op_parallelism_threads()
    else:
        import torch

        torch.set_num_threads(args.threads)
        torch.set_num_interop_threads(args.threads)
        versions["torch"] = torch.__version__
        threads = torch.get_num_threads()
    import keras

    versions["keras"] = keras.__version__
    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((X.shape[1],)),
        layers.Normalization(mean=X.mean(0), variance=X.var(0)),  # = zoobench's InputScaler (standardize)
        layers.Dense(512, activation="relu", kernel_initializer="he_normal"),
        layers.Dense(64, activation="relu", kernel_initializer="he_normal"),
        layers.Dense(32, activation="relu", kernel_initializer="he_normal"),
        layers.Dense(N_CLASSES, kernel_initializer="glorot_normal"),
    ])  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-8),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=spec["jit"])

    class WarmMark(keras.callbacks.Callback):
        """The clock starts when step ``warmup + 1`` begins, i.e. once ``warmup`` steps have finished.

        A batch-begin hook, because one on batch end would make Keras read every step's
        logs synchronously (with only its own callbacks it reads them on a thread)."""

        def __init__(self, warmup: int):
            super().__init__()
            self.warmup, self.steps, self.t0 = warmup, 0, None

        def on_train_batch_begin(self, batch, logs=None):
            if self.steps == self.warmup:
                self.t0, self.cpu0 = time.perf_counter(), time.process_time()
            self.steps += 1

    mark = WarmMark(args.warmup)
    hist = model.fit(X, Y, batch_size=args.batch_size, epochs=args.epochs, shuffle=True, verbose=0, callbacks=[mark])
    seconds = time.perf_counter() - mark.t0
    cores = (time.process_time() - mark.cpu0) / seconds
    steps = mark.steps
    if steps != args.epochs * (len(X) // args.batch_size):
        raise RuntimeError(f"keras ran {steps} steps, expected {args.epochs * (len(X) // args.batch_size)}")
    timed = (steps - args.warmup) * args.batch_size
    return {"samples_per_s": timed / seconds, "loss": float(hist.history["loss"][-1]), "versions": versions,
            "threads": threads, "cores": cores}


def child(args: argparse.Namespace) -> None:
    import numpy as np

    folder = Path(args.data_dir)
    X, Y = np.load(folder / "X.npy"), np.load(folder / "Y.npy")
    spec = RUNNERS[args.child]
    out = run_keras(spec, args, X, Y) if spec["kind"] == "keras" else run_torch_side(spec, args, X, Y)
    print("RESULT " + json.dumps(out), flush=True)


# ----------------------------------------------------------------------------- parent


def runner_env(name: str, threads: int) -> dict[str, str]:
    from zoo.procenv import process_env

    env = {**os.environ, **process_env(threads), "ZOO_NO_REEXEC": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    spec = RUNNERS[name]
    if spec["kind"] == "keras":
        env["KERAS_BACKEND"] = spec["backend"]
        env.pop("PYTHONPATH")  # the peer interpreter needs nothing of zoobench
    return env


def python_of(name: str, args: argparse.Namespace) -> str:
    return args.peer_python if RUNNERS[name]["kind"] == "keras" else sys.executable


def missing_packages(name: str, args: argparse.Namespace) -> list[str]:
    spec = RUNNERS[name]
    mods = [*NEEDS[spec["kind"]], *((spec["backend"],) if spec["kind"] == "keras" else ())]
    code = "import importlib.util as u, sys; print(','.join(m for m in sys.argv[1:] if u.find_spec(m) is None))"
    try:
        r = subprocess.run([python_of(name, args), "-c", code, *mods], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return [f"(interpreter {python_of(name, args)}: {e})"]
    return [m for m in r.stdout.strip().split(",") if m]


def run_once(name: str, args: argparse.Namespace, folder: Path) -> dict | None:
    cmd = [python_of(name, args), str(Path(__file__).resolve()), "--child", name, "--data-dir", str(folder),
           "--epochs", str(args.epochs), "--warmup", str(args.warmup), "--batch-size", str(args.batch_size),
           "--threads", str(args.threads), "--samples", str(args.samples)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=runner_env(name, args.threads), cwd=HERE)
    for line in reversed(r.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = "\n    ".join((r.stderr or r.stdout).strip().splitlines()[-8:])
    print(f"  {name} failed (exit {r.returncode}):\n    {tail}", flush=True)
    return None


def summarize(runs: dict[str, list[dict | None]], base: str = "zoobench") -> list[dict]:
    rows = []
    for name, results in runs.items():
        rates = [r["samples_per_s"] for r in results if r]
        if not rates:
            continue
        per_cpu = [r["samples_per_s"] / r["cores"] for r in results if r]
        row = {"runner": name, "median": statistics.median(rates), "min": min(rates), "max": max(rates),
               "n": len(rates), "per_cpu_s": statistics.median(per_cpu),
               "loss": statistics.median(r["loss"] for r in results if r)}
        if base in runs and name != base:
            pairs = [(z, b) for z, b in zip(runs[base], results) if z and b]
            if pairs:
                ratios = [b["samples_per_s"] / z["samples_per_s"] for z, b in pairs]
                cpu_ratios = [(b["samples_per_s"] / b["cores"]) / (z["samples_per_s"] / z["cores"]) for z, b in pairs]
                row.update(ratio=statistics.median(ratios), ratios=ratios, cpu_ratio=statistics.median(cpu_ratios))
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        child(args)
        return
    names = []
    for name in args.runners:
        missing = missing_packages(name, args)
        if missing:
            print(f"skipping {name}: {', '.join(missing)} not installed for {python_of(name, args)} "
                  f"(install keras and tensorflow-cpu there, or pass --peer-python)")
        else:
            names.append(name)
    if not names:
        raise SystemExit("no runner can run here")
    runs: dict[str, list[dict | None]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory(prefix="speed_vs_keras-") as tmp:
        folder = Path(tmp)
        print(f"data: {write_data(args, folder)}; {args.epochs} epochs, first {args.warmup} steps untimed; "
              f"{args.threads} thread(s) per runner; load {os.getloadavg()[0]:.2f}", flush=True)
        for rep in range(args.repeats):
            order = names[rep % len(names):] + names[: rep % len(names)]
            for name in order:
                res = run_once(name, args, folder)
                runs[name].append(res)
                if res:
                    print(f"  repeat {rep + 1}: {name:<16} {res['samples_per_s']:>9,.0f} samples/s  "
                          f"loss {res['loss']:.4f}  threads {res['threads']}  CPU/wall {res['cores']:.2f}  {res['versions']}", flush=True)
        print(f"load at the end {os.getloadavg()[0]:.2f}")
    rows = summarize(runs)
    print(f"\n{'runner':<17} {'samples/s':>10} {'range':>17} {'÷ zoobench':>11} {'per CPU-s':>10} {'÷ zoobench':>11}"
          f"  samples/s ÷ zoobench per repeat")
    for row in rows:
        ratio = f"{row['ratio']:.3f}" if "ratio" in row else ""
        cpu_ratio = f"{row['cpu_ratio']:.3f}" if "cpu_ratio" in row else ""
        per = ", ".join(f"{x:.2f}" for x in row.get("ratios", []))
        print(f"{row['runner']:<17} {row['median']:>10,.0f} {row['min']:>8,.0f}–{row['max']:<8,.0f} {ratio:>11} "
              f"{row['per_cpu_s']:>10,.0f} {cpu_ratio:>11}  {per}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": {k: v for k, v in vars(args).items() if k not in ("child", "data_dir")},
                                               "runs": runs, "summary": rows}, indent=1))


if __name__ == "__main__":
    main()
