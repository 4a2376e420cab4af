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
    fns: dict[str, Callable[[], object] | None],
    repeats: int | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float | None]:
    """Median time of each function, run in turn within every repeat so that a slow moment of
    the machine falls on all of them alike (``clock=time.process_time``: CPU time)."""
    repeats = repeats or (3 if QUICK else 9)
    live = {k: f for k, f in fns.items() if f is not None}
    for fn in live.values():
        fn()  # warm-up: imports, caches, first-touch of memory
    times: dict[str, list[float]] = {k: [] for k in live}
    for _ in range(repeats):
        for key, fn in live.items():
            start = clock()
            fn()
            times[key].append(clock() - start)
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


def write_sigmoid_222(folder: Path, steps: int = 10) -> Path:
    """The classic 2-2-2 sigmoid network (two inputs, two hidden, two outputs, biases)."""
    path = folder / f"sigmoid_222_{steps}.yaml"
    path.write_text(
        "data:\n  x: [0.05, 0.10]\n  y: [0.01, 0.99]\n"
        "params:\n  W1: [[0.15, 0.20], [0.25, 0.30]]\n  b1: [0.35, 0.35]\n"
        "  W2: [[0.40, 0.45], [0.50, 0.55]]\n  b2: [0.60, 0.60]\n"
        "graph:\n  - {name: z1, op: matmul, args: [W1, x]}\n"
        "  - {name: a1, op: add, args: [z1, b1]}\n"
        "  - {name: h, op: sigmoid, args: [a1]}\n  - {name: z2, op: matmul, args: [W2, h]}\n"
        "  - {name: a2, op: add, args: [z2, b2]}\n  - {name: o, op: sigmoid, args: [a2]}\n"
        "  - {name: L, op: half_squared_error, args: [o, y]}\n"
        f"optimizer: {{name: sgd, lr: 0.5}}\nsteps: {steps}\n"
    )
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
        W1, W2 = t["W1"].value, t["W2"].value
        b1, b2 = (t[n].value.reshape(-1, 1) for n in ("b1", "b2"))  # vectors act as columns
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
    from tests.oracles import AUTOGRAD_OPS, BROADCASTING, _columns

    names = [p.name for p in graph.params if p.trainable]
    lr = graph.optimizer.lr

    def objective(params, data):
        values = {**data, **params}
        for node in graph.nodes:
            args = [values[a] for a in node.args]
            if node.op.name in BROADCASTING:  # a vector meets a matrix as a column
                args = _columns(args)
            values[node.name] = AUTOGRAD_OPS[node.op.name](args, node.options)
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


def _bytecode_env() -> dict[str, str]:
    """The environment of a user's shell: bytecode caches written and read. With
    PYTHONDONTWRITEBYTECODE set (as in some containers), backprop-cli's own modules are
    compiled from source at every start while the floor's libraries, installed by pip with
    their .pyc files, are not, which inflates the CLI's cold start by ~60 ms."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def cpu_time(argv: list[str], env: dict[str, str]) -> float:
    """User + system CPU seconds of one run of a child process (not wall time: on a busy
    2-core machine the wall time of a 0.2 s start swings by 2×, its CPU time much less)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def paired_cpu_times(runs: dict[str, list[str]], repeats: int | None = None) -> dict[str, float]:
    """Median CPU time of each command, run in turn (ABAB…) so that the floor and the CLI
    meet the same moments of the machine; one warm-up run each writes the bytecode caches."""
    env = _bytecode_env()
    repeats = repeats or (7 if QUICK else 25)
    for argv in runs.values():
        cpu_time(argv, env)
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeats):
        for key, argv in runs.items():
            times[key].append(cpu_time(argv, env))
    return {k: statistics.median(v) for k, v in times.items()}


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


def print_numbers(graph) -> None:
    """How many numbers one step's JSON holds against the elements of the distinct tensors
    the engine recorded (equal values counted once)."""
    import orjson

    from backprop_cli.render import jsonout

    tracer = Tracer(graph)
    step = next(tracer.run(steps=1))
    arrays = [*step.values.values(), *step.grads.values()]
    for e in step.edges:
        arrays += [e.upstream, e.local, e.global_]
    for u in step.updates.values():
        arrays += [u.before, u.grad, u.after, *u.state.values()]
    seen: dict[tuple, int] = {}
    for a in arrays:
        a = np.asarray(a, dtype=np.float64)
        seen.setdefault((a.shape, (a + 0.0).tobytes()), a.size)
    distinct = sum(seen.values())

    def count(obj) -> int:
        if isinstance(obj, dict):
            return 0 if "ref" in obj else sum(count(v) for v in obj.values())
        if isinstance(obj, list):
            return sum(count(v) for v in obj)
        return 1 if isinstance(obj, float) else 0

    print("| one step of the 784-256-10 MLP | numbers | / distinct elements | text |")
    print("|---|---|---|---|")
    print(f"| distinct tensor elements | {distinct:,} | 1.00× | |")
    for version in (2, 1):
        contract = jsonout.Contract(version=version)
        record = next(jsonout.records([step], tracer, contract))
        text = jsonout.dumps_bytes(record)
        n = count(orjson.loads(text))
        print(
            f"| schema_version {version} | {n:,} | {n / distinct:.2f}× | {len(text) / 1e6:.1f} MB |"
        )


def print_serialisation_floor(graph, engine_step: float) -> None:
    """What orjson alone takes to write the numbers one step must hold, per part, against
    the engine's time for a step: the floor of any full-precision JSON of them."""
    import orjson

    tracer = Tracer(graph)
    step = next(tracer.run(steps=1))

    def plain(a):
        a = np.asarray(a, dtype=np.float64)
        return float(a) if a.ndim == 0 else np.ascontiguousarray(a)

    parts = {
        "forward": [plain(v) for v in step.values.values()],
        "grads": [plain(g) for g in step.grads.values()],
        "updates.after": [plain(u.after) for u in step.updates.values()],
    }
    print("\n| orjson alone, one step | time | / engine step |")
    print("|---|---|---|")
    for name, arrays in parts.items():
        t = median_time(lambda a=arrays: orjson.dumps(a, option=orjson.OPT_SERIALIZE_NUMPY), 5)
        print(f"| {name} | {fmt_s(t)} | {ratio(t, engine_step)} |")


FLOOR_JSON = "import numpy, rich, typer, yaml"
FLOOR_TABLE = "import numpy, rich, typer, yaml, rich.console"


def print_cold_start() -> None:
    """``trace`` of the seed config in json and in table format, each paired with its floor:
    the libraries it cannot start without (the table format also needs Rich's console)."""
    seed = str(ROOT / "configs/seed_linear.yaml")
    t = paired_cpu_times(
        {
            "floor_json": [sys.executable, "-c", FLOOR_JSON],
            "json": [*backprop_exe(), "trace", seed, "--format", "json"],
            "floor_table": [sys.executable, "-c", FLOOR_TABLE],
            "table": [*backprop_exe(), "trace", seed],
        }
    )
    print("| command | CPU time | / its import floor |")
    print("|---|---|---|")
    print(f'| python -c "{FLOOR_JSON}" | {fmt_s(t["floor_json"])} | 1.00× |')
    print(
        f"| backprop trace configs/seed_linear.yaml -f json | {fmt_s(t['json'])} "
        f"| {ratio(t['json'], t['floor_json'])} |"
    )
    print(f'| python -c "{FLOOR_TABLE}" | {fmt_s(t["floor_table"])} | 1.00× |')
    print(
        f"| backprop trace configs/seed_linear.yaml | {fmt_s(t['table'])} "
        f"| {ratio(t['table'], t['floor_table'])} |"
    )


# ---- the report ---------------------------------------------------------------------------


def print_deep_table(tmp: Path) -> None:
    """The whole ``trace`` of one step, its table printed to /dev/null, against the engine
    alone, in turn, in CPU time (a busy machine's wall time swings more than the ratio)."""
    print("| graph | engine | trace (table, full) | / engine |")
    print("|---|---|---|---|")
    for nodes in (100, 1000):
        deep = write_chain(tmp, nodes, 1)
        t = interleaved(
            {
                "engine": engine_run(load_config(str(deep)), 1),
                "table": cli_inprocess(deep, 1, "--format", "table", "--full"),
            },
            5 if QUICK else 15,
            clock=time.process_time,
        )
        print(
            f"| {nodes}-node chain | {fmt_s(t['engine'])} | {fmt_s(t['table'])} "
            f"| {ratio(t['table'], t['engine'])} |"
        )


CLI_RUNS = (
    ("trace -f jsonl (default fields: objective)", ("-f", "jsonl")),
    ("trace -f jsonl --fields objective,grads", ("-f", "jsonl", "--fields", "objective,grads")),
    ("trace -f jsonl --fields all", ("-f", "jsonl", "--fields", "all")),
    ("trace -f json (every field)", ("-f", "json")),
    ("trace -f jsonl --schema-version 1", ("-f", "jsonl", "--schema-version", "1")),
)


def print_cli_vs_engine(mlp: Path, steps: int = 20) -> None:
    """Each CLI run of the MLP against the engine alone, in turn within every repeat, in CPU
    time: the ratio pairs runs made at the same moments of the machine."""
    graph = load_config(str(mlp))
    runs: dict[str, Callable[[], object] | None] = {"engine": engine_run(graph, steps)}
    for label, extra in CLI_RUNS:
        runs[label] = cli_inprocess(mlp, steps, *extra)
    t = interleaved(runs, 3 if QUICK else 5, clock=time.process_time)
    print(f"{steps} steps, CPU time, engine and CLI in turn, median of {3 if QUICK else 5}\n")
    print("| run | per step | / engine |")
    print("|---|---|---|")
    for label in runs:
        per = t[label]
        assert per is not None
        print(f"| {label} | {fmt_s(per / steps)} | {ratio(per, t['engine'])} |")


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
    parser.add_argument(
        "--only",
        choices=["cold-start", "deep-table", "cli"],
        help="run one section (cold start takes ~1 minute, the deep chain's table ~30 s, "
        "the MLP's CLI runs against the engine ~2 minutes)",
    )
    args = parser.parse_args()
    QUICK = args.quick
    if args.only == "cold-start":
        print_cold_start()
        return
    if args.only == "cli":
        tmp = Path(tempfile.mkdtemp(prefix="backprop-bench-"))
        print_cli_vs_engine(write_mlp(tmp))
        shutil.rmtree(tmp, ignore_errors=True)
        return
    if args.only == "deep-table":
        tmp = Path(tempfile.mkdtemp(prefix="backprop-bench-"))
        print_deep_table(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        return

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

    print("\n## The whole CLI vs the engine alone (784-256-10 MLP, in-process)\n")
    mlp = tmp / "mlp_784_256_10.yaml"
    e = engine_times["784-256-10 MLP, batch 64"]
    print_cli_vs_engine(mlp)
    print()
    print_numbers(load_config(str(mlp)))
    print_serialisation_floor(load_config(str(mlp)), e / 50)

    print("\n## jsonl of the 2-2-2 sigmoid network vs the engine (10,000 steps, in-process)\n")
    small = write_sigmoid_222(tmp, 10_000)
    steps_small = 2_000 if QUICK else 10_000
    t = interleaved(
        {
            "engine": engine_run(load_config(str(small)), steps_small),
            "jsonl": cli_inprocess(small, steps_small, "-f", "jsonl"),
            "grads": cli_inprocess(
                small, steps_small, "-f", "jsonl", "--fields", "objective,grads"
            ),
            "all": cli_inprocess(small, steps_small, "-f", "jsonl", "--fields", "all"),
        },
        3,
    )
    print("| run | per step | / engine |")
    print("|---|---|---|")
    for key, label in (
        ("engine", "engine"),
        ("jsonl", "trace -f jsonl (default fields: objective)"),
        ("grads", "trace -f jsonl --fields objective,grads"),
        ("all", "trace -f jsonl --fields all"),
    ):
        per = t[key] / steps_small
        print(f"| {label} | {per * 1e6:.1f} µs | {ratio(t[key], t['engine'])} |")

    print("\n## Cold start (subprocess CPU time, floor and CLI in turn, median)\n")
    print_cold_start()

    print("\n## Peak memory (max RSS of the process)\n")
    print("| run | 10 steps | many steps | ratio |")
    print("|---|---|---|---|")
    chain = write_chain(tmp, 30)
    for label, extra in (
        ("jsonl, 784-256-10 MLP", (str(mlp), "--format", "jsonl")),
        ("jsonl --fields grads, 784-256-10 MLP", (str(mlp), "-f", "jsonl", "--fields", "grads")),
        ("jsonl --fields all, 784-256-10 MLP", (str(mlp), "-f", "jsonl", "--fields", "all")),
        ("json, 784-256-10 MLP", (str(mlp), "--format", "json")),
        ("jsonl, 30-node chain", (str(chain), "--format", "jsonl")),
        ("table --every 100, 30-node chain", (str(chain), "--format", "table", "--every", "100")),
    ):
        large_steps = "200" if QUICK and "MLP" in label else "1000"
        print(memory_row(label, [*backprop_exe(), "trace", *extra], large_steps))
    small = str(write_sigmoid_222(tmp))
    many = "2000" if QUICK else "10000"
    for label, extra in (
        ("table, 2-2-2 sigmoid", ("--format", "table")),
        ("table --every 1000, 2-2-2 sigmoid", ("--format", "table", "--every", "1000")),
        ("json, 2-2-2 sigmoid", ("--format", "json")),
        ("jsonl, 2-2-2 sigmoid", ("--format", "jsonl")),
        ("jsonl --fields all, 2-2-2 sigmoid", ("-f", "jsonl", "--fields", "all")),
        ("markdown, 2-2-2 sigmoid", ("--format", "markdown")),
        ("latex, 2-2-2 sigmoid", ("--format", "latex")),
        ("csv, 2-2-2 sigmoid", ("--format", "csv")),
    ):
        print(memory_row(label, [*backprop_exe(), "trace", small, *extra], many))
    pinned = {}
    for steps in ("10", many):  # --expect against a pinned trace of as many steps
        pinned[steps] = tmp / f"pinned_{steps}.json"
        with open(pinned[steps], "w") as fh:
            subprocess.run(
                [*backprop_exe(), "trace", small, "-f", "json", "-n", steps], stdout=fh, check=True
            )
    ten = peak_memory_kib([*backprop_exe(), "trace", small, "-n", "10", "--expect", pinned["10"]])
    lots = peak_memory_kib([*backprop_exe(), "trace", small, "-n", many, "--expect", pinned[many]])
    print(
        f"| --expect (json), 2-2-2 sigmoid | {ten / 1024:.1f} MiB | {lots / 1024:.1f} MiB "
        f"({many} steps) | {lots / ten:.2f}× |"
    )

    print("\n## A full table of a deep chain vs the engine (1 step, in-process)\n")
    print_deep_table(tmp)

    print("\n## Linear growth (engine, median, the first step excluded)\n")
    print("| graph | steps | steps 2…N | per node-step |")
    print("|---|---|---|---|")
    for nodes, steps in ((50, 20), (100, 20), (200, 20), (1000, 20), (100, 10), (100, 40)):
        graph = load_config(str(write_chain(tmp, nodes, steps)))
        # the first step also builds the formula text of every edge: a fixed cost per run
        t = interleaved({"all": engine_run(graph, steps), "first": engine_run(graph, 1)})
        rest = t["all"] - t["first"]
        count = len(graph.nodes)
        print(
            f"| {count}-node chain | {steps} | {fmt_s(rest)} "
            f"| {rest / (count * (steps - 1)) * 1e6:.2f} µs |"
        )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
