"""The command line as a user runs it: through typer's CliRunner and as a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from .conftest import CONFIGS, ROOT
from .helpers import invoke

LINEAR = str(CONFIGS / "seed_linear.yaml")
SHIPPED = sorted(p.name for p in CONFIGS.glob("*.yaml"))


def test_table_shows_the_documents_numbers() -> None:
    result = invoke("trace", LINEAR)
    assert result.exit_code == 0
    out = result.stdout
    for text in ("-1.9", "-3.8", "0.88", "0.29", "1.805", "1.1"):
        assert text in out, text
    for column in ("Step", "Target", "Upstream", "Local", "Global"):
        assert column in out
    # the document's view: one row per node (L, y_hat, wx); --view edges: one per edge
    assert "①" in out and "③" in out and "④" not in out
    assert "∂L/∂w = ∂L/∂wx · x" in out
    edges = invoke("trace", LINEAR, "--view", "edges").stdout
    assert "⑥" in edges and "∂L/∂y = " in edges and "∂L/∂y = " not in out
    assert "\x1b[" not in out  # no colour codes when stdout is not a terminal
    assert max(len(line) for line in out.splitlines()) <= 100


def test_width_option_sets_the_table_width() -> None:
    out = invoke("trace", str(CONFIGS / "seed_mlp_l2.yaml"), "--width", "160").stdout
    assert max(len(line) for line in out.splitlines()) == 160


def test_precision_option() -> None:
    out = invoke("trace", str(CONFIGS / "seed_mlp_l2.yaml"), "--precision", "2").stdout
    assert "0.27" in out and "0.2673" not in out


def test_large_tensors_are_summarised_unless_full(tmp_path) -> None:
    config = tmp_path / "big.yaml"
    config.write_text(
        "params:\n  W: {init: normal, shape: [12, 12], seed: 1}\n"
        "graph:\n  - {name: s, op: sum, args: [W]}\n"
    )
    short = invoke("trace", str(config)).stdout
    assert "12×12 tensor" in short and "mean" in short
    full = invoke("trace", str(config), "--full", "--width", "400").stdout
    assert "12×12 tensor" not in full and full.count("[") > 12 * 3


def test_full_tensors_are_not_cut_at_the_width(tmp_path) -> None:
    """--full at a width narrower than a tensor's row: the row is written whole (a terminal
    wraps it), not cropped at the width with its last numbers lost."""
    values = [round(1.123456 * (i + 1), 6) for i in range(12)]
    config = tmp_path / "wide.yaml"
    config.write_text(
        f"data:\n  x: [{values}]\nparams:\n  w: 0.5\n"
        "graph:\n  - {name: y, op: mul, args: [w, x]}\n  - {name: J, op: sum, args: [y]}\n"
    )
    for args in ([], ["--save-svg", str(tmp_path / "t.svg")]):
        out = invoke("trace", str(config), "--full", "--width", "60", *args).stdout
        row = next(line for line in out.splitlines() if "[[1.123" in line)
        assert row.rstrip().endswith("13.48]]"), row  # 12 × 1.123456, to 4 digits
        assert len(row) > 60
    assert "1×12 tensor" in invoke("trace", str(config), "--width", "60").stdout  # summarised


def test_json_is_one_document() -> None:
    result = invoke("trace", LINEAR, "--format", "json")
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 2
    assert doc["fields"] == ["objective", "forward", "backward", "grads", "updates"]
    assert [s["step"] for s in doc["steps"]] == [1]
    step = doc["steps"][0]
    assert set(step) >= {"step", "forward", "objective", "backward", "grads", "updates"}
    edge = step["backward"][0]
    assert set(edge) >= {"node", "op", "input", "upstream", "local", "global", "formula"}
    assert set(edge["formula"]) >= {"upstream", "local", "global"}
    assert set(step["grads"]) == {"x", "y", "w", "b", "wx", "y_hat", "L"}
    assert set(step["updates"]["w"]) == {"after", "formula", "state"}


def test_schema_version_1_is_the_old_document() -> None:
    doc = json.loads(invoke("trace", LINEAR, "--format", "json", "--schema-version", "1").stdout)
    assert set(doc) == {"schema_version", "graph", "steps"} and doc["schema_version"] == 1
    assert set(doc["steps"][0]["updates"]["w"]) == {"before", "grad", "after", "formula", "state"}
    assert doc["steps"][0]["updates"]["w"]["grad"] == -3.8


def test_jsonl_is_a_header_then_one_line_per_step() -> None:
    lines = invoke("trace", LINEAR, "-f", "jsonl", "-n", "4", "--fields", "all").stdout
    records = [json.loads(line) for line in lines.splitlines()]
    header, steps = records[0], records[1:]
    document = json.loads(invoke("trace", LINEAR, "-f", "json", "-n", "4").stdout)
    assert document["fields"] == ["objective", "forward", "backward", "grads", "updates"]
    assert header == {
        "kind": "header",
        "schema_version": 2,
        "steps": 4,
        "fields": document["fields"],
        "graph": document["graph"],
    }
    assert header["graph"]["optimizer"]["name"] == "sgd"
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    assert all(r["kind"] == "step" and r["schema_version"] == 2 for r in steps)
    assert [{k: v for k, v in r.items() if k not in ("kind", "schema_version")} for r in steps] == (
        document["steps"]
    )


def test_jsonl_holds_the_loss_curve_unless_fields_says_otherwise() -> None:
    """A stream's default part is the objective; the header says so, each line is the
    document's step cut to it, and --fields adds the gradients (their formulas, the same at
    every step, in the header's graph)."""
    lines = invoke("trace", LINEAR, "-f", "jsonl", "-n", "3").stdout.splitlines()
    header, *steps = (json.loads(line) for line in lines)
    assert header["fields"] == ["objective"]
    document = json.loads(invoke("trace", LINEAR, "-f", "json", "-n", "3").stdout)

    def cut(records: list[dict], keep: tuple[str, ...]) -> list[dict]:
        return [{k: r[k] for k in keep} for r in records]

    assert [{k: v for k, v in r.items() if k not in ("kind", "schema_version")} for r in steps] == (
        cut(document["steps"], ("step", "objective"))
    )
    assert steps[0]["objective"] == 1.805
    explicit = invoke("trace", LINEAR, "-f", "jsonl", "-n", "3", "--fields", "objective")
    assert explicit.stdout == "\n".join(lines) + "\n"
    with_grads = invoke("trace", LINEAR, "-f", "jsonl", "-n", "3", "--fields", "objective,grads")
    header, *steps = (json.loads(line) for line in with_grads.stdout.splitlines())
    assert header["fields"] == ["objective", "grads"]
    assert cut(steps, ("step", "objective", "grads")) == cut(
        document["steps"], ("step", "objective", "grads")
    )
    assert all(
        set(step) == {"kind", "schema_version", "step", "objective", "grads"} for step in steps
    )
    assert header["graph"]["grad_formulas"] == document["graph"]["grad_formulas"]
    assert header["graph"]["grad_formulas"]["w"] == "∂L/∂w = ∂L/∂wx · x"
    assert steps[0]["grads"]["w"] == -3.8 and steps[0]["grads"]["b"] == -1.9


def test_jsonl_of_version_1_has_no_header() -> None:
    lines = invoke("trace", LINEAR, "-f", "jsonl", "-n", "2", "--schema-version", "1").stdout
    records = [json.loads(line) for line in lines.splitlines()]
    assert [(r["schema_version"], r["step"]) for r in records] == [(1, 1), (1, 2)]
    assert "kind" not in records[0]


def test_json_values_round_trip_at_full_precision() -> None:
    doc = json.loads(invoke("trace", LINEAR, "--format", "json").stdout)
    after = doc["steps"][0]["updates"]["b"]["after"]
    assert after == 0.1 - 0.1 * -1.9  # the float64 result itself, not a rounded copy


@pytest.mark.parametrize("config", SHIPPED)
@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "markdown", "latex", "csv"])
def test_output_is_byte_identical_across_runs(config: str, fmt: str) -> None:
    args = ("trace", str(CONFIGS / config), "--format", fmt, "--steps", "3")
    first, second = invoke(*args), invoke(*args)
    assert first.exit_code == 0
    assert first.stdout_bytes == second.stdout_bytes


def test_config_from_stdin() -> None:
    text = (CONFIGS / "seed_linear.yaml").read_text()
    assert json.loads(invoke("trace", "-", "-f", "json", input=text).stdout)["steps"][0][
        "objective"
    ] == pytest.approx(1.805, abs=1e-12)


def test_missing_file_is_one_line_and_exit_2() -> None:
    result = invoke("trace", "no-such-config.yaml")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "backprop: error: no-such-config.yaml: no such file\n"


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_bad_lr_is_a_usage_error(value: str) -> None:
    result = invoke("trace", LINEAR, f"--lr={value}")
    assert result.exit_code == 2
    assert "--lr: expected a finite learning rate ≥ 0" in result.stderr


# ---- as a real process -------------------------------------------------------------------


def _run(*argv: str, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR")}
    return subprocess.run(
        list(argv), capture_output=True, text=True, cwd=ROOT, env=env, timeout=60, **kw
    )


def test_installed_console_script() -> None:
    exe = shutil.which("backprop") or os.path.join(os.path.dirname(sys.executable), "backprop")
    assert os.path.exists(exe), "the package is not installed: pip install -e '.[test]'"
    proc = _run(exe, "trace", "configs/seed_linear.yaml", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    step = json.loads(proc.stdout)["steps"][0]
    assert step["updates"]["w"]["after"] == pytest.approx(0.88, abs=1e-12)


def test_python_dash_m_matches_the_console_script() -> None:
    proc = _run(sys.executable, "-m", "backprop_cli", "trace", "configs/seed_linear.yaml")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == invoke("trace", LINEAR).stdout


def test_broken_config_from_a_pipe_gives_no_traceback() -> None:
    proc = _run(sys.executable, "-m", "backprop_cli", "trace", "-", input="graph: [\n")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("backprop: error: <stdin>:")
    assert proc.stderr.count("\n") == 1


def test_closed_pipe_ends_quietly() -> None:
    proc = _run(
        "sh",
        "-c",
        f"'{sys.executable}' -m backprop_cli trace configs/seed_linear.yaml "
        f"-f jsonl -n 2000 | head -n 1",
    )
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["kind"] == "header"
    assert proc.stderr == ""


def _default_sigint() -> None:
    # A child of a shell's background job inherits SIGINT ignored; a user's Ctrl-C is not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("fmt", ["jsonl", "table"])
def test_ctrl_c_ends_with_130_and_one_line(fmt: str) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "backprop_cli",
            "trace",
            "configs/seed_mlp_l2.yaml",
            "-f",
            fmt,
            "-n",
            "1000000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        preexec_fn=_default_sigint,
    )
    try:
        first = proc.stdout.readline()  # the trace is running
        assert first.strip()
        proc.send_signal(signal.SIGINT)
        # bytes: the interrupted stdout may end inside a multi-byte character
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err.decode("utf-8") == "backprop: interrupted\n"


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl"])
def test_reader_gone_before_any_read_is_quiet(fmt: str) -> None:
    """The reader exits at once: the first write (or the flush at exit) meets a closed pipe."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "backprop_cli", "trace", "configs/seed_mlp_l2.yaml", "-f", fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=30)
    proc.stderr.close()
    assert proc.returncode == 141
    assert err == b""


def test_help_of_every_command_lists_the_exit_codes() -> None:
    expected = (
        "0 success; 1 a check or comparison failed; 2 usage or config error; 3 numerical anomaly"
    )
    from backprop_cli.cli import app

    commands = [[c.name or c.callback.__name__] for c in app.registered_commands]
    assert ["trace"] in commands and ["validate"] in commands and len(commands) >= 3
    for command in [[], *commands]:
        text = " ".join(invoke(*command, "--help").stdout.split())
        assert expected in text, command


@pytest.mark.parametrize("config", SHIPPED)
def test_streamed_json_document_equals_the_whole_document(config: str) -> None:
    """--format json is written step by step; the text is that of the document dumped whole."""
    from backprop_cli.config import load_config
    from backprop_cli.engine import Tracer
    from backprop_cli.render import jsonout

    streamed = invoke("trace", str(CONFIGS / config), "-f", "json", "-n", "3").stdout
    tracer = Tracer(load_config(str(CONFIGS / config)))
    assert streamed == jsonout.document_text(tracer.run(steps=3), tracer)
    assert json.loads(streamed)["steps"][2]["step"] == 3


def _run_in_terminal(env_extra: dict) -> str:
    """The CLI with stdout on a real pseudo-terminal; what the terminal received."""
    import pty

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update({"COLUMNS": "120", "TERM": "xterm-256color", **env_extra})
    proc = subprocess.Popen(
        [sys.executable, "-m", "backprop_cli", "trace", "configs/seed_linear.yaml"],
        stdout=slave,
        stderr=slave,
        cwd=ROOT,
        env=env,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closed: the process is done writing
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=60) == 0
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def test_terminal_gets_colour_and_no_color_gets_the_plain_tables() -> None:
    coloured = _run_in_terminal({})
    assert "\x1b[" in coloured
    plain = _run_in_terminal({"NO_COLOR": "1"})
    assert "\x1b[" not in plain
    assert plain == invoke("trace", LINEAR).stdout  # what a pipe gets, at width 100


def test_a_bug_is_one_line_and_exit_70_unless_debugging(monkeypatch, capsys) -> None:
    """An unexpected exception (a bug, not bad input) never shows a traceback to a user."""
    from backprop_cli import cli, engine

    def broken(self, *args, **kwargs):
        raise RuntimeError("something impossible")

    monkeypatch.setattr(engine.Tracer, "run", broken)
    monkeypatch.setattr(sys, "argv", ["backprop", "trace", LINEAR])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 70
    err = capsys.readouterr().err
    assert err == (
        "backprop: internal error: RuntimeError: something impossible (set "
        "BACKPROP_DEBUG=1 for the traceback, and please report it)\n"
    )
    monkeypatch.setenv("BACKPROP_DEBUG", "1")
    with pytest.raises(RuntimeError, match="something impossible"):
        cli.main()


def test_only_the_invoked_command_is_built(monkeypatch, capsys) -> None:
    """main() builds the click command of the command it runs, not all of them (start-up
    time), and every command is registered again afterwards; with no command first, the
    group's help still lists every command."""
    import typer.main

    from backprop_cli import cli

    built: list[str] = []
    real = typer.main.get_command_from_info

    def spy(*args, **kwargs):
        info = kwargs.get("command_info") or args[0]
        built.append(info.name or info.callback.__name__)
        return real(*args, **kwargs)

    every = list(cli.app.registered_commands)
    monkeypatch.setattr(typer.main, "get_command_from_info", spy)
    monkeypatch.setattr(sys, "argv", ["backprop", "trace", str(CONFIGS / "seed_linear.yaml")])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 0
    assert built == ["trace"]
    assert "1.805" in capsys.readouterr().out
    assert cli.app.registered_commands == every

    built.clear()
    monkeypatch.setattr(sys, "argv", ["backprop", "--help"])
    with pytest.raises(SystemExit):
        cli.main()
    assert len(built) == len(every) >= 8
    help_text = capsys.readouterr().out
    assert all(name in help_text for name in ("trace", "check", "compare", "schema", "ops"))
