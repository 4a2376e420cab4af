"""Benchmarks: the tracer against the floor, side by side, as ratios.

    python benchmarks/run.py            # the full run recorded in benchmarks/README.md
    python benchmarks/run.py --quick    # fewer repeats, for a quick look

Every workload runs in this one process (the CLI, cold-start and memory rows start
subprocesses, as a user's shell would). Times are medians of several repeats; the ratios are
what the targets in benchmarks/README.md are about. Nothing here asserts: it measures and prints.

Workloads:
- the seed configs, a 784-256-10 MLP on a batch of 64 (50 steps), a 100-node deep scalar chain;
- engine alone (forward + recorded backward + update, no rendering) vs a hand-written numpy loop
  doing the same math (every gradient the trace records, data inputs included), vs HIPS autograd
  (gradients of the leaves), vs PyTorch CPU with ``retain_grad`` on every intermediate (when
  torch is installed);
- the whole CLI (``--format jsonl`` to /dev/null) vs the engine alone;
- cold start of ``backprop trace configs/seed_linear.yaml`` vs importing numpy, rich, typer, yaml;
- peak memory of a jsonl run (and a table run with ``--every``) at 10 and 1,000 steps;
- engine time at three sizes of graph and of step count (linear growth).
"""

from __future__ import annotations

import os

# One thread for every library: on a 2-core machine BLAS threads contend with each other and the
# timings swing by 2×; single-threaded, the same math costs the same every time, and the ratios
# compare like with like (numpy, autograd and torch all get one thread).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import contextlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from backprop_cli.config import load_config
from backprop_cli.engine import Tracer

try:
    import autograd
    import autograd.numpy as anp
except ImportError:  # pragma: no cover - the test extra installs it
    autograd = None
try:
    import torch

    torch.set_num_threads(1)
except ImportError:
    torch = None

QUICK = False


def median_time(fn: Callable[[], object], repeats: int | None = None) -> float:
    return interleaved({"fn": fn}, repeats)["fn"]


def interleaved(
    fns: dict[str, Callable[[], object] | None], repeats: int | None = None
) -> dict[str, float | None]:
    """Median time of each function, run in turn within every repeat so that a slow moment of
    the machine falls on all of them alike."""
    repeats = repeats or (3 if QUICK else 9)
    live = {k: f for k, f in fns.items() if f is not None}
    for fn in live.values():
        fn()  # warm-up: imports, caches, first-touch of memory
    times: dict[str, list[float]] = {k: [] for k in live}
    for _ in range(repeats):
        for key, fn in live.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return {k: statistics.median(times[k]) if k in times else None for k in fns}


# ---- workloads ---------------------------------------------------------------------------


def write_mlp(folder: Path, steps: int = 50) -> Path:
    rng = np.random.default_rng(0)
    np.save(folder / "x.npy", rng.standard_normal((784, 64)))
    np.save(folder / "y.npy", rng.integers(0, 10, 64).astype(np.float64))
    path = folder / "mlp_784_256_10.yaml"
    path.write_text(
        "data:\n  x: {file: x.npy}\n  y: {file: y.npy}\n"
        "model: {name: mlp, hidden: [256], outputs: 10, bias: true, activation: relu,\n"
        "        loss: softmax_cross_entropy, seed: 1}\n"
        f"optimizer: {{name: sgd, lr: 0.1}}\nsteps: {steps}\n"
    )
    return path


def write_chain(folder: Path, nodes: int, steps: int = 50) -> Path:
    """A deep scalar chain: u ← tanh(a·u + b), repeated; every third node a param product."""
    lines = ["params:", "  a: 0.9", "  b: 0.1", "data:", "  x: 0.5", "graph:"]
    current = "x"
    for i in range(nodes // 3):
        lines.append(f"  - {{name: m{i}, op: mul, args: [a, {current}]}}")
        lines.append(f"  - {{name: s{i}, op: add, args: [m{i}, b]}}")
        lines.append(f"  - {{name: t{i}, op: tanh, args: [s{i}]}}")
        current = f"t{i}"
    lines.append(f"  - {{name: J, op: mul, args: [{current}, {current}]}}")
    lines += ["optimizer: {name: sgd, lr: 0.01}", f"steps: {steps}"]
    path = folder / f"chain_{nodes}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def engine_run(graph, steps: int) -> Callable[[], None]:
    def run() -> None:
        for _ in Tracer(graph).run(steps=steps):
            pass

    return run


# ---- the floors: hand-written numpy doing the same math ----------------------------------


def numpy_mlp(graph, steps: int) -> Callable[[], None]:
    t = graph.tensors
    x, labels = t["x"].value, t["y"].value.astype(int)
    cols = np.arange(x.shape[1])

    def run() -> None:
        W1, b1, W2, b2 = (t[n].value for n in ("W1", "b1", "W2", "b2"))
        for _ in range(steps):
            z = W1 @ x + b1
            h = np.maximum(z, 0.0)
            o = W2 @ h + b2
            e = np.exp(o - o.max(axis=0, keepdims=True))
            p = e / e.sum(axis=0, keepdims=True)
            _ = -np.log(p[labels, cols]).mean()
            do = p.copy()
            do[labels, cols] -= 1.0
            do /= x.shape[1]
            dW2, db2, dh = do @ h.T, do.sum(axis=1, keepdims=True), W2.T @ do
            dz = dh * (z > 0)
            dW1, db1, _dx = dz @ x.T, dz.sum(axis=1, keepdims=True), W1.T @ dz
            W1, b1, W2, b2 = W1 - 0.1 * dW1, b1 - 0.1 * db1, W2 - 0.1 * dW2, b2 - 0.1 * db2

    return run


def numpy_chain(graph, steps: int, lr: float = 0.01) -> Callable[[], None]:
    depth = sum(1 for n in graph.nodes if n.op.name == "tanh")

    def run() -> None:
        a, b, x = 0.9, 0.1, 0.5
        for _ in range(steps):
            us, ts = [x], []
            for _ in range(depth):
                t = np.tanh(a * us[-1] + b)
                ts.append(t)
                us.append(t)
            g = 2.0 * us[-1]
            da = db = 0.0
            for i in range(depth - 1, -1, -1):
                gs = g * (1.0 - ts[i] * ts[i])
                db += gs
                da += gs * us[i]
                g = gs * a
            a, b = a - lr * da, b - lr * db

    return run


def numpy_seed(graph, steps: int) -> Callable[[], None]:
    """The document's networks written out by hand."""
    t = graph.tensors
    if "W1" in t:
        x, y = t["x"].value, t["y"].value

        def run() -> None:
            W1, W2 = t["W1"].value, t["W2"].value
            for _ in range(steps):
                z = W1 @ x
                h = np.maximum(z, 0.0)
                o = W2 @ h
                _ = 0.5 * np.sum((o - y) ** 2) + 0.005 * (np.sum(W1**2) + np.sum(W2**2))
                do = o - y
                dh = W2.T @ do
                dz = dh * (z > 0)
                gW2 = np.outer(do, h) + 0.01 * W2
                gW1 = np.outer(dz, x) + 0.01 * W1
                _dx, _dy = W1.T @ dz, -do
                W1, W2 = W1 - 0.1 * gW1, W2 - 0.1 * gW2

        return run
    x, y = float(t["x"].value), float(t["y"].value)

    def run_linear() -> None:
        w, b = float(t["w"].value), float(t["b"].value)
        for _ in range(steps):
            y_hat = w * x + b
            _ = 0.5 * (y_hat - y) ** 2
            d = y_hat - y
            gw, gb, _gx = d * x, d, d * w
            w, b = w - 0.1 * gw, b - 0.1 * gb

    return run_linear


# ---- other autodiff tools ----------------------------------------------------------------


def autograd_run(graph, steps: int) -> Callable[[], None] | None:
    if autograd is None:
        return None
    sys.path.insert(0, str(ROOT))
    from tests.oracles import AUTOGRAD_OPS

    names = [p.name for p in graph.params if p.trainable]
    lr = graph.optimizer.lr

    def objective(params, data):
        values = {**data, **params}
        for node in graph.nodes:
            values[node.name] = AUTOGRAD_OPS[node.op.name](
                [values[a] for a in node.args], node.options
            )
        return anp.sum(values[graph.objective])

    grad = autograd.grad(objective)
    data = {n: t.value for n, t in graph.tensors.items() if n not in names}

    def run() -> None:
        params = {n: graph.tensors[n].value for n in names}
        for _ in range(steps):
            g = grad(params, data)
            params = {n: params[n] - lr * g[n] for n in names}

    return run


def torch_run(graph, steps: int) -> Callable[[], None] | None:
    if torch is None:
        return None
    sys.path.insert(0, str(ROOT))
    import tests.oracles as oracles  # the same ops, written in torch

    lr = graph.optimizer.lr
    tracer = Tracer(graph)

    def run() -> None:
        values = {n: t.value for n, t in graph.tensors.items()}
        for _ in range(steps):
            grads = oracles.torch_grads(tracer, values)
            for p in graph.params:
                if p.trainable:
                    values[p.name] = values[p.name] - lr * grads[p.name]

    return run


# ---- the CLI ------------------------------------------------------------------------------


def cli_inprocess(config: Path, steps: int, *extra: str) -> Callable[[], None]:
    from backprop_cli.cli import app

    args = ["trace", str(config), "--steps", str(steps), *extra]

    def run() -> None:
        with (
            open(os.devnull, "w") as sink,
            contextlib.redirect_stdout(sink),
            contextlib.suppress(SystemExit),
        ):
            app(args, standalone_mode=False)

    return run


def backprop_exe() -> list[str]:
    exe = shutil.which("backprop")
    return [exe] if exe else [sys.executable, "-m", "backprop_cli"]


def subprocess_time(argv: list[str], repeats: int | None = None) -> float:
    return median_time(
        lambda: subprocess.run(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
        ),
        repeats or (5 if QUICK else 15),
    )


def peak_memory_kib(argv: list[str]) -> int:
    code = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True)
    return int(out.stdout.strip())


def memory_row(label: str, argv: list[str], large_steps: str) -> str:
    small = peak_memory_kib([*argv, "--steps", "10"])
    large = peak_memory_kib([*argv, "--steps", large_steps])
    return (
        f"| {label} | {small / 1024:.1f} MiB | {large / 1024:.1f} MiB ({large_steps} steps) "
        f"| {large / small:.2f}× |"
    )


# ---- the report ---------------------------------------------------------------------------


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.3f} s"


def ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None else f"{a / b:.2f}×"


def main() -> None:
    global QUICK
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    QUICK = parser.parse_args().quick

    tmp = Path(tempfile.mkdtemp(prefix="backprop-bench-"))
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"torch {torch.__version__ if torch else 'not installed'}, "
        f"{os.cpu_count()} cores, {platform.machine()}\n"
    )

    print("## Engine vs the floor (median per whole run)\n")
    print(
        "| workload | steps | tracer engine | numpy floor | autograd | torch+retain_grad "
        "| engine/floor | engine/torch |"
    )
    print("|---|---|---|---|---|---|---|---|")
    workloads = [
        ("seed_linear", load_config(str(ROOT / "configs/seed_linear.yaml")), numpy_seed, 50),
        ("seed_mlp_l2", load_config(str(ROOT / "configs/seed_mlp_l2.yaml")), numpy_seed, 50),
        ("784-256-10 MLP, batch 64", load_config(str(write_mlp(tmp))), numpy_mlp, 50),
        ("100-node scalar chain", load_config(str(write_chain(tmp, 100))), numpy_chain, 50),
    ]
    engine_times = {}
    for name, graph, floor, steps in workloads:
        t = interleaved(
            {
                "engine": engine_run(graph, steps),
                "floor": floor(graph, steps),
                "autograd": autograd_run(graph, steps),
                "torch": torch_run(graph, steps),
            }
        )
        e, f, ag, th = t["engine"], t["floor"], t["autograd"], t["torch"]
        engine_times[name] = e
        print(
            f"| {name} | {steps} | {fmt_s(e)} | {fmt_s(f)} | {fmt_s(ag)} | {fmt_s(th)} "
            f"| {ratio(e, f)} | {ratio(e, th)} |"
        )

    print("\n## The whole CLI vs the engine alone (784-256-10 MLP, 50 steps, in-process)\n")
    mlp = tmp / "mlp_784_256_10.yaml"
    e = engine_times["784-256-10 MLP, batch 64"]
    print("| run | time | / engine |")
    print("|---|---|---|")
    for label, extra in (
        ("trace --format jsonl > /dev/null", ("--format", "jsonl")),
        ("trace --format json > /dev/null", ("--format", "json")),
    ):
        t = median_time(cli_inprocess(mlp, 50, *extra), 3)
        print(f"| {label} | {fmt_s(t)} | {ratio(t, e)} |")

    print("\n## Cold start (subprocess, median)\n")
    floor = subprocess_time([sys.executable, "-c", "import numpy, rich, typer, yaml"])
    seed = subprocess_time([*backprop_exe(), "trace", str(ROOT / "configs/seed_linear.yaml")])
    print("| command | time | / import floor |")
    print("|---|---|---|")
    print(f'| python -c "import numpy, rich, typer, yaml" | {fmt_s(floor)} | 1.00× |')
    print(f"| backprop trace configs/seed_linear.yaml | {fmt_s(seed)} | {ratio(seed, floor)} |")

    print("\n## Peak memory (max RSS of the process)\n")
    print("| run | 10 steps | 1,000 steps | ratio |")
    print("|---|---|---|---|")
    chain = write_chain(tmp, 30)
    for label, extra in (
        ("jsonl, 784-256-10 MLP", (str(mlp), "--format", "jsonl")),
        ("jsonl, 30-node chain", (str(chain), "--format", "jsonl")),
        ("table --every 100, 30-node chain", (str(chain), "--format", "table", "--every", "100")),
    ):
        large_steps = "200" if QUICK and "MLP" in label else "1000"
        print(memory_row(label, [*backprop_exe(), "trace", *extra], large_steps))

    print("\n## Linear growth (engine, median)\n")
    print("| graph | steps | time | per node-step |")
    print("|---|---|---|---|")
    for nodes, steps in ((50, 20), (100, 20), (200, 20), (100, 10), (100, 40)):
        graph = load_config(str(write_chain(tmp, nodes, steps)))
        t = median_time(engine_run(graph, steps))
        count = len(graph.nodes)
        print(f"| {count}-node chain | {steps} | {fmt_s(t)} | {t / (count * steps) * 1e6:.2f} µs |")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
