"""The command line: parse arguments, load, trace, pick a renderer. Nothing else lives here."""

from __future__ import annotations

import contextlib
import errno
import functools
import itertools
import math
import os
import re
import sys
from collections import deque
from collections.abc import Callable, Iterator
from enum import Enum
from typing import IO, Any, cast

import typer

from . import __version__
from .errors import (
    EXIT_BROKEN_PIPE,
    EXIT_CHECK_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_IO,
    EXIT_USAGE,
    BackpropError,
    ConfigError,
    NumericalAnomaly,
    UsageError,
    one_line,
    os_reason,
)
from .limits import MAX_STEPS
from .tolerances import ATOL, RTOL

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 a check or comparison failed; 2 usage or config error; "
    "3 numerical anomaly; 70 internal error; 74 a stream or file could not be read or "
    "written; 130 interrupted; 141 stdout closed early."
)

app = typer.Typer(
    name="backprop",
    help="Trace forward and backward passes step by step: for every node, "
    "upstream gradient × local gradient = global gradient.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    rich_markup_mode=None,
)


class PlainUsage(typer.core.TyperCommand):
    """A usage line that reads ``backprop trace [OPTIONS] CONFIG``: typer writes a required
    argument as ``{CONFIG}``, which reads as a template left unfilled."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in pieces]


class Format(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    markdown = "markdown"
    latex = "latex"
    csv = "csv"


HUMAN = (Format.table, Format.markdown, Format.latex)


class BackwardView(str, Enum):
    nodes = "nodes"
    edges = "edges"


class CheckFormat(str, Enum):
    table = "table"
    json = "json"


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    say(f"backprop: {one_line(message)}\n")
    return typer.Exit(code)


def say(text: str) -> None:
    """A line on stderr, if it can be written: with stderr closed or full, the exit code is
    all that is left, and it is kept."""
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):  # None (closed at start), full, or closed
        pass


# OS errors that mean an output stream could not be written (stdout to /dev/full, a closed
# descriptor, a disk that failed): exit 74, not "internal error".
WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EBADF, errno.EROFS)


def stdout_failed(exc: OSError) -> int:
    """stdout could not be written: say so in one line, send what is still buffered (and the
    flush at exit) to /dev/null, and give the exit code of an I/O error."""
    say(f"backprop: error: stdout: cannot be written: {os_reason(exc)}\n")
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return EXIT_IO


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors meant for the user into one line on stderr and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfigError as exc:
            lines = exc.lines()
            more = len(lines) - 1
            tail = (
                f" (and {more} more problem{'s' * (more > 1)}: list them all with "
                f"'backprop validate')"
                if more
                else ""
            )
            raise fail(f"error: {lines[0]}{tail}", exc.exit_code) from None
        except BackpropError as exc:
            raise fail(f"error: {exc}", exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            raise typer.Exit(stdout_gone()) from None
        except OSError as exc:
            if exc.errno not in WRITE_ERRORS:
                raise
            raise typer.Exit(stdout_failed(exc)) from None

    return wrapper


def memory_limit(text: str) -> int | None:
    """--max-memory in bytes; None for 0 (no limit)."""
    from .budget import parse_size

    if text.strip() == "0":
        return None
    try:
        return parse_size(text)
    except ValueError as exc:
        raise UsageError(f"--max-memory: {exc}") from None


def stdout_gone() -> int:
    """The reader of stdout went away (``| head``): stop quietly, as Unix tools do. Later
    writes and the flush at exit go to /dev/null instead of raising again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_BROKEN_PIPE


def version_callback(value: bool) -> None:
    if value:
        sys.stdout.write(f"backprop {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=version_callback,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    pass


RTOL_OPTION = typer.Option(
    RTOL,
    "--rtol",
    help="Relative tolerance: numbers match when |actual − expected| ≤ atol + rtol·|expected|.",
)
ATOL_OPTION = typer.Option(ATOL, "--atol", help="Absolute tolerance (see --rtol).")
MAX_ROWS = typer.Option(
    20,
    "--max-rows",
    min=0,
    metavar="N",
    help="Differing paths listed (all are counted); 0 lists them all.",
)
ALLOW_OUTSIDE = typer.Option(
    False,
    "--allow-outside-data",
    help="Read data files outside the config's folder too (by default a data path must lead "
    "into the config's folder or below, symbolic links followed).",
)
MAX_MEMORY = typer.Option(
    "2GiB",
    "--max-memory",
    metavar="SIZE",
    help="Refuse a config whose run would need more memory than this (estimated from the "
    "shapes before any math runs): 2GiB, 512MiB, 1000000 (bytes); 0 for no limit.",
)
# Options that trace and report share, declared once.
STEPS = typer.Option(
    None,
    "--steps",
    "-n",
    min=1,
    max=MAX_STEPS,
    metavar="N",
    help=f"Number of training steps, 1 to {MAX_STEPS:,} (overrides 'steps:').",
)
LR = typer.Option(None, "--lr", help="Learning rate (overrides 'optimizer.lr').")
FULL = typer.Option(False, "--full", help="Show large tensors whole, not summarised.")
# --width of the commands other than trace (whose help says what the default is)
WIDTH = typer.Option(
    None, "--width", min=40, metavar="COLUMNS", help="Table width (default as for trace)."
)
LANG = typer.Option(
    "en",
    "--lang",
    help="Language of headings, columns and explanations in "
    "table, markdown and latex output: en or zh (JSON keys "
    "never change).",
)


def precision_option(help: str, default: int = 4) -> Any:
    """--precision / -p: significant digits shown, 1 to 17 (a float64 needs at most 17)."""
    return typer.Option(default, "--precision", "-p", min=1, max=17, metavar="DIGITS", help=help)


def _complete_op(incomplete: str) -> list[tuple[str, str]]:
    """Shell completion of op names, from the op table, each with its summary (zsh, fish and
    PowerShell show it)."""
    from .ops import OPS

    return [(name, op.summary) for name, op in OPS.items() if name.startswith(incomplete)]


def _complete_name(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of ``--node``: the names of the config given before it (data, params
    and nodes). A config that cannot be loaded completes nothing."""
    from .config import load_config
    from .engine import Tracer

    config = ctx.params.get("config")
    if config is None and ctx.args:
        # Completing "--node ⇥", the words end in an option that waits for its value: click's
        # resilient parsing then leaves the positional CONFIG among the unparsed args.
        config = ctx.args[0]
    if not isinstance(config, str) or config == "-":  # stdin is the user's, not ours to read
        return []
    try:
        names = Tracer(load_config(config)).names
    except (BackpropError, OSError, ValueError):
        return []
    return [name for name in names if name.startswith(incomplete)]


@app.command(cls=PlainUsage, epilog=EXIT_CODES_HELP)
@user_errors
def trace(
    config: str = typer.Argument(
        ..., metavar="CONFIG", help="The YAML config (data, params, graph); - reads stdin."
    ),
    format: Format = typer.Option(
        Format.table,
        "--format",
        "-f",
        help="table (Rich), json (one document), jsonl (one line "
        "per step, as each finishes), markdown or latex "
        "(tables for documents), csv (one row per step: "
        "step, objective, each param's gradient norm).",
    ),
    steps: int | None = STEPS,
    lr: float | None = LR,
    precision: int = precision_option("Significant digits in tables (JSON is always exact)."),
    full: bool = FULL,
    width: int | None = typer.Option(
        None,
        "--width",
        min=40,
        metavar="COLUMNS",
        help="Table width; default: the terminal's, or 100 when stdout is not a terminal.",
    ),
    lang: str = LANG,
    explain: bool = typer.Option(
        False, "--explain", help="A sentence under each backward row and each update."
    ),
    view_name: BackwardView = typer.Option(
        BackwardView.nodes,
        "--view",
        help="The backward table: nodes (one row per operator node, as the document's "
        "gradient table, sums of several paths on the row that completes them) or edges "
        "(one row per node input, and a table of the sums).",
    ),
    standalone: bool = typer.Option(
        False,
        "--standalone",
        help="With --format latex: a complete document (compiles with pdflatex) instead of "
        "a fragment to paste.",
    ),
    data_grads: bool = typer.Option(
        False,
        "--data-grads",
        help="Show the gradients of data tensors (x, y, labels) too; the nodes view hides them.",
    ),
    every: int | None = typer.Option(
        None,
        "--every",
        min=1,
        metavar="K",
        help="Full tables for steps 1, K+1, 2K+1, … and the last, nothing for the others; "
        "then the summary.",
    ),
    summary: bool = typer.Option(
        False, "--summary", help="Print only the summary of the run (no step's tables)."
    ),
    only_step: int | None = typer.Option(
        None, "--only-step", min=1, max=MAX_STEPS, metavar="K", help="Only step K (in JSON too)."
    ),
    node: str | None = typer.Option(
        None,
        "--node",
        metavar="NAME",
        help="Backward rows touching this node only.",
        autocompletion=_complete_name,
    ),
    save_svg: str | None = typer.Option(
        None, "--save-svg", metavar="FILE", help="Also write the terminal output as SVG."
    ),
    save_html: str | None = typer.Option(
        None, "--save-html", metavar="FILE", help="Also write the terminal output as HTML."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite existing --save-* files."),
    expect: str | None = typer.Option(
        None,
        "--expect",
        metavar="EXPECTED.json",
        help="Compare the trace (as --format json would "
        "print it) with this file; print only the "
        "comparison; exit 0 if it matches, 1 if not.",
    ),
    rtol: float = RTOL_OPTION,
    atol: float = ATOL_OPTION,
    max_rows: int = MAX_ROWS,
    allow_nonfinite: bool = typer.Option(
        False,
        "--allow-nonfinite",
        help="Trace on through NaN and ±Inf, marking them, "
        "instead of stopping at the first (exit 3).",
    ),
    schema_version: int | None = typer.Option(
        None,
        "--schema-version",
        min=1,
        max=2,
        metavar="N",
        help="The JSON contract: 2 (the default) writes every tensor once, edges refer to "
        "values by name; 1 writes every number inline, as backprop 0.1 did.",
    ),
    fields: str | None = typer.Option(
        None,
        "--fields",
        metavar="PARTS",
        help="The parts of each step in json and jsonl, comma-separated: "
        "objective,forward,backward,grads,updates, or all. Default: all for json; "
        "objective for jsonl (a stream of many steps; add grads for the gradients).",
    ),
    allow_outside_data: bool = ALLOW_OUTSIDE,
    max_memory: str = MAX_MEMORY,
) -> None:
    """Trace every training step: forward values, the backward table, the updates."""
    from . import files
    from .config import load_config
    from .engine import Tracer
    from .errors import suggest
    from .i18n import Catalogue
    from .render.view import View

    if lr is not None and not (math.isfinite(lr) and lr >= 0):
        raise UsageError(f"--lr: expected a finite learning rate ≥ 0, found {lr}")
    Catalogue(lang)  # an unknown language is a usage error before any work
    _check_trace_options(format, explain, every, node, save_svg, save_html, expect, summary)
    _check_json_options(format, expect, schema_version, fields)
    if summary:
        _check_summary_options(every, only_step, node, explain)
    files.check_new_files([("--save-svg", save_svg), ("--save-html", save_html)], force)
    tracer = Tracer(load_config(config, allow_outside_data, memory_limit(max_memory)))
    total = steps or tracer.graph.steps
    if only_step is not None and only_step > total:
        raise UsageError(
            f"--only-step {only_step}: the run has {total} "
            f"step{'s' * (total != 1)}; trace more with --steps"
        )
    if node is not None and node not in tracer.shapes:
        raise UsageError(
            f"--node: unknown node '{node}'{suggest(node, tracer.shapes)}; known "
            f"nodes: {', '.join(tracer.shapes)}"
        )
    run = tracer.run(steps=only_step or total, lr=lr, allow_nonfinite=allow_nonfinite)
    if expect is not None:
        selected = (s for s in run if only_step in (None, s.step))
        _expect(
            selected,
            tracer,
            expect,
            f"trace of {one_line(config)}",
            (rtol, atol, max_rows),
            width,
            lang,
            allow_nonfinite,
        )
    view = View(
        precision=precision,
        full=full,
        lang=lang,
        explain=explain,
        node=node,
        every=every,
        only_step=only_step,
        total=total,
        view=view_name.value,
        data_grads=data_grads,
        standalone=standalone,
        summary_only=summary,
    )
    if format is Format.table:
        from .render import table

        console = make_console(width)
        recorder = make_recorder(console.width) if save_svg or save_html else None
        stopped: NumericalAnomaly | None = None
        try:
            for renderable in table.render(run, tracer, view, console.width):
                # --full: a tensor's rows are never cut at the width (the terminal wraps them)
                console.print(renderable, crop=not full)
                if recorder is not None:
                    recorder.print(renderable, crop=not full)
        except NumericalAnomaly as exc:  # the picture keeps what was shown, report included
            stopped = exc
        if full and recorder is not None:  # the picture as wide as the widest whole tensor
            from rich.cells import cell_len

            text = recorder.export_text(clear=False, styles=False)
            recorder.width = max([recorder.width] + [cell_len(x) for x in text.splitlines()])
        if save_svg is not None and recorder is not None:
            files.write_new_file(
                save_svg,
                recorder.export_svg(
                    title=f"backprop trace {one_line(config)}", clear=False, unique_id="backprop"
                ),
                force,
            )
        if save_html is not None and recorder is not None:
            files.write_new_file(save_html, recorder.export_html(clear=False), force)
        if stopped is not None:
            raise stopped
    elif format in HUMAN:
        from .render import document

        for text in document.render(run, tracer, view, format.value):
            sys.stdout.write(text)
            sys.stdout.flush()
    elif format is Format.csv:
        from .render import csvout

        selected = (s for s in run if only_step in (None, s.step))
        csvout.write_rows(selected, tracer, sys.stdout)
    else:
        from .render import jsonout

        selected = (s for s in run if only_step in (None, s.step))
        version = schema_version or jsonout.SCHEMA_VERSION
        contract = jsonout.Contract(
            version=version,
            fields=(
                jsonout.parse_fields(fields)
                if fields is not None
                else jsonout.default_fields(format.value, version)
            ),
            checked=not allow_nonfinite,
        )
        if format is Format.json:
            jsonout.write_document(selected, tracer, sys.stdout, contract)
        else:
            count = 1 if only_step is not None else total
            jsonout.write_lines(selected, tracer, sys.stdout, contract, count)


def _check_json_options(
    format: Format, expect: str | None, schema_version: int | None, fields: str | None
) -> None:
    """--schema-version and --fields shape the JSON output; --expect takes both from its file."""
    given = [
        name
        for name, value in (("--schema-version", schema_version), ("--fields", fields))
        if value is not None
    ]
    if not given:
        return
    if expect is not None:
        raise UsageError(
            f"--expect compares in the schema version and fields of its file; it does not "
            f"combine with {', '.join(given)}"
        )
    if format not in (Format.json, Format.jsonl):
        raise UsageError(
            f"{', '.join(given)}: shape{'s' * (len(given) == 1)} the JSON output; use with "
            f"--format json or jsonl"
        )
    if fields is not None:
        from .render.jsonout import parse_fields

        parse_fields(fields)


def _check_trace_options(
    format: Format,
    explain: bool,
    every: int | None,
    node: str | None,
    save_svg: str | None,
    save_html: str | None,
    expect: str | None,
    summary: bool = False,
) -> None:
    """Options that shape the human-readable output make no sense with JSON, CSV or --expect."""
    shaping = [
        name
        for name, given in (
            ("--explain", explain),
            ("--every", every),
            ("--node", node),
            ("--summary", summary),
        )
        if given
    ]
    saving = [
        name for name, given in (("--save-svg", save_svg), ("--save-html", save_html)) if given
    ]
    if expect is not None:
        other = shaping + saving + (["--format"] if format is not Format.table else [])
        if other:
            raise UsageError(
                f"--expect prints only the comparison; it does not combine with {', '.join(other)}"
            )
    if format is Format.csv and shaping:
        raise UsageError(
            f"{', '.join(shaping)}: shape{'s' * (len(shaping) == 1)} the table, "
            f"markdown and latex formats; CSV always has one row for every step "
            f"(use --only-step to pick one step)"
        )
    if format not in HUMAN and shaping:
        raise UsageError(
            f"{', '.join(shaping)}: shape{'s' * (len(shaping) == 1)} the table, "
            f"markdown and latex formats; JSON always holds every step and edge "
            f"(use --only-step to pick one step)"
        )
    if format is not Format.table and saving:
        raise UsageError(
            f"{', '.join(saving)}: record the terminal tables; use with --format table"
        )


def _check_summary_options(
    every: int | None, only_step: int | None, node: str | None, explain: bool
) -> None:
    """--summary prints no step, so the options that pick or shape steps contradict it."""
    given = [
        name
        for name, value in (
            ("--every", every),
            ("--only-step", only_step),
            ("--node", node),
            ("--explain", explain),
        )
        if value
    ]
    if given:
        raise UsageError(
            f"--summary prints only the summary of the run; it does not combine with "
            f"{', '.join(given)}"
        )


def _expect(
    steps: Any,
    tracer: Any,
    expect: str,
    actual_name: str,
    tolerances: tuple[float, float, int],
    width: int | None,
    lang: str,
    allow_nonfinite: bool,
) -> None:
    """Trace in the schema version and fields of EXPECTED, compare step by step as each is
    traced (neither trace is held whole), print the comparison, exit 0 or 1."""
    import orjson

    from . import compare
    from .render import jsonout

    rtol, atol, max_rows = tolerances
    compare.check_tolerances(rtol, atol)
    expected = compare.load_trace(expect)
    contract = jsonout.Contract(
        version=expected.version,
        fields=tuple(f for f in jsonout.FIELDS if f in (expected.fields or jsonout.FIELDS)),
        checked=not allow_nonfinite,
    )

    def plain(record: Any) -> Any:  # what reading the JSON text back gives
        return orjson.loads(jsonout.dumps_bytes(record))

    records = (plain(r) for r in jsonout.records(steps, tracer, contract))
    # Step 1 is traced before the header is made: it writes out the gradients' formulas,
    # which version 2 keeps in the graph. (A trace stopped in it raises here, as it would
    # have while the comparison, which prints nothing before the last step, read it.)
    first = list(itertools.islice(records, 1))
    actual = compare.Trace(
        actual_name,
        expected.version,
        expected.form,
        plain(jsonout.header(tracer, contract)),
        itertools.chain(first, records),
    )
    _print_comparison(expected, actual, rtol, atol, max_rows, width, lang)


def _print_comparison(
    expected: Any,
    actual: Any,
    rtol: float,
    atol: float,
    max_rows: int,
    width: int | None,
    lang: str,
) -> None:
    """Print the differences of two traces read step by step, exit 0 or 1."""
    from . import compare
    from .i18n import Catalogue
    from .render import difftable

    t = Catalogue(lang)
    renderable, count = difftable.render(
        compare.compare_traces(expected, actual, rtol, atol),
        expected.name,
        actual.name,
        rtol,
        atol,
        max_rows or sys.maxsize,
        t,
        difftable.read_text(expected, actual, t),
    )
    make_console(width).print(renderable, soft_wrap=True)  # the verdict line unbroken
    raise typer.Exit(1 if count else 0)


@app.command("compare", cls=PlainUsage, epilog=EXIT_CODES_HELP)
@user_errors
def compare_command(
    expected: str = typer.Argument(
        ...,
        metavar="EXPECTED",
        help="The pinned trace (--format json or jsonl output); - is stdin.",
    ),
    actual: str = typer.Argument(..., metavar="ACTUAL", help="The trace to check; - is stdin."),
    rtol: float = RTOL_OPTION,
    atol: float = ATOL_OPTION,
    max_rows: int = MAX_ROWS,
    width: int | None = WIDTH,
    lang: str = typer.Option("en", "--lang", help="Language of the table: en or zh."),
) -> None:
    """Compare two traces (json or jsonl, schema version 1 or 2): list every differing path
    with both values; exit 0 when they match within the tolerances, 1 when they differ, 2 when
    a file is not a trace."""
    from . import compare
    from .i18n import Catalogue

    Catalogue(lang)  # an unknown language is a usage error before any work
    compare.check_paths(expected, actual)
    compare.check_tolerances(rtol, atol)
    expected_trace = compare.load_trace(expected)
    actual_trace = compare.load_trace(actual)
    _print_comparison(expected_trace, actual_trace, rtol, atol, max_rows, width, lang)


@app.command(cls=PlainUsage, epilog=EXIT_CODES_HELP)
@user_errors
def validate(
    config: str = typer.Argument(
        ..., metavar="CONFIG", help="The YAML config to check; - reads stdin."
    ),
    width: int | None = WIDTH,
    allow_outside_data: bool = ALLOW_OUTSIDE,
    max_memory: str = MAX_MEMORY,
) -> None:
    """Check a config without running the math: every problem, one per line, or a summary of
    the graph after expansion and shape inference."""
    from .config import load_config
    from .render import table

    try:
        graph = load_config(config, allow_outside_data, memory_limit(max_memory))
    except ConfigError as exc:
        for line in exc.lines():
            sys.stderr.write(f"backprop: error: {line}\n")
        raise typer.Exit(exc.exit_code) from None
    make_console(width).print(table.graph_summary(graph))


@app.command(cls=PlainUsage, epilog=EXIT_CODES_HELP)
@user_errors
def check(
    config: str = typer.Argument(
        ..., metavar="CONFIG", help="The YAML config to check; - reads stdin."
    ),
    eps: float = typer.Option(1e-6, "--eps", help="Finite-difference step (central, float64)."),
    rtol: float = typer.Option(1e-5, "--rtol", help="Relative tolerance."),
    atol: float = typer.Option(1e-8, "--atol", help="Absolute tolerance."),
    nodes: bool = typer.Option(
        False,
        "--nodes",
        help="Check every intermediate node too, and name the op whose rule is wrong.",
    ),
    max_elements: int | None = typer.Option(
        None,
        "--max-elements",
        min=1,
        metavar="N",
        help="Difference at most N elements of each tensor (each costs two forward passes): "
        "the largest gradients and values, those nearest 0, and evenly spaced ones; the "
        "output says how many of how many were checked. Default: all.",
    ),
    steps: int = typer.Option(
        1,
        "--steps",
        "-n",
        min=1,
        max=MAX_STEPS,
        metavar="N",
        help="Check at the start of each of the first N steps.",
    ),
    format: CheckFormat = typer.Option(CheckFormat.table, "--format", "-f", help="table or json."),
    precision: int = precision_option("Significant digits of the values shown.", 6),
    width: int | None = WIDTH,
    allow_outside_data: bool = ALLOW_OUTSIDE,
    max_memory: str = MAX_MEMORY,
) -> None:
    """Compare every traced gradient with central finite differences of J.

    Exit 0 when all agree (|traced − numeric| ≤ atol + rtol·|numeric| for every element),
    1 when any does not."""
    from . import check as checks
    from .config import load_config
    from .engine import Tracer
    from .progress import Progress
    from .render import checkout

    for name, value in (("--eps", eps), ("--rtol", rtol), ("--atol", atol)):
        if not (math.isfinite(value) and value >= 0) or (name == "--eps" and value == 0):
            raise UsageError(
                f"{name}: expected a finite number "
                f"{'> 0' if name == '--eps' else '≥ 0'}, found {value}"
            )
    tracer = Tracer(load_config(config, allow_outside_data, memory_limit(max_memory)))
    total = steps * checks.elements_to_check(tracer, nodes, max_elements)
    hint = "" if max_elements is not None else "--max-elements N checks a sample of each tensor"
    with Progress("check", total, "elements", hint) as progress:
        results = checks.run(
            tracer,
            steps=steps,
            eps=eps,
            rtol=rtol,
            atol=atol,
            nodes=nodes,
            max_elements=max_elements,
            done=progress.advance,
        )
        passed = True
        if format is CheckFormat.json:
            collected = list(results)
            passed = all(s.passed for s in collected)
            text = checkout.document(collected, tracer.objective, eps, rtol, atol, max_elements)
            progress.close()
            sys.stdout.write(text)
        else:
            console = make_console(width)
            for step in results:
                passed &= step.passed
                progress.close()
                console.print(
                    checkout.table(step, tracer.objective, eps, rtol, atol, precision, max_elements)
                )
    if not passed:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command(cls=PlainUsage, epilog=EXIT_CODES_HELP)
@user_errors
def ops(
    names: list[str] | None = typer.Argument(
        None,
        metavar="OP",
        help="Show only these ops (the shell completes their names).",
        autocompletion=_complete_op,
        show_default=False,
    ),
    width: int | None = WIDTH,
) -> None:
    """List every op (or the ops named): its inputs, what it computes, its options and its
    local gradient."""
    from .errors import quoted, suggest
    from .ops import OPS
    from .render import table

    for name in names or []:
        if name not in OPS:
            raise UsageError(
                f"unknown op {quoted(name)}{suggest(name, OPS)}; 'backprop ops' lists the "
                f"{len(OPS)} ops"
            )
    make_console(width).print(table.ops_table(names or None))


class GraphFormat(str, Enum):
    table = "table"
    dot = "dot"
    mermaid = "mermaid"
    json = "json"


@app.command(cls=PlainUsage, epilog=EXIT_CODES_HELP)
@user_errors
def graph(
    config: str = typer.Argument(
        ..., metavar="CONFIG", help="The YAML config to draw; - reads stdin."
    ),
    format: GraphFormat = typer.Option(
        GraphFormat.table,
        "--format",
        "-f",
        help="table (Rich tree and table), dot (Graphviz), "
        "mermaid (flowchart) or json (nodes and edges).",
    ),
    step: int | None = typer.Option(
        None,
        "--step",
        min=1,
        max=MAX_STEPS,
        metavar="K",
        help="Show values and gradients after the forward and backward passes of step K.",
    ),
    backward: bool = typer.Option(
        False,
        "--backward",
        help="Draw the gradient flow: edges reversed, each labelled with the gradient it carries.",
    ),
    precision: int = precision_option("Significant digits of values."),
    width: int | None = WIDTH,
    allow_outside_data: bool = ALLOW_OUTSIDE,
    max_memory: str = MAX_MEMORY,
) -> None:
    """Draw the computational graph: tensors as boxes (params blue), ops as circles, arrows in
    data-flow direction (`... --format dot | dot -Tsvg > graph.svg`)."""
    from .config import load_config
    from .engine import Step, Tracer
    from .progress import Progress
    from .render import graph as draw

    tracer = Tracer(load_config(config, allow_outside_data, memory_limit(max_memory)))
    traced = None
    if step is not None or backward:  # the edges' gradient text comes from a backward pass
        with Progress(f"graph --step {step or 1}", step or 1, "steps") as progress:
            last: deque[Step] = deque(maxlen=1)
            for traced_step in tracer.run(steps=step or 1):
                last.append(traced_step)
                progress.advance(1)
        traced = last[0]  # step K (or 1)
    view = draw.build(tracer, traced if step is not None else None, backward)
    if format is GraphFormat.table:
        make_console(width).print(draw.rich_view(view, precision))
    else:
        render = {GraphFormat.dot: draw.to_dot, GraphFormat.mermaid: draw.to_mermaid}
        text = draw.to_json(view) if format is GraphFormat.json else render[format](view, precision)
        sys.stdout.write(text)


@app.command(cls=PlainUsage, epilog=EXIT_CODES_HELP)
@user_errors
def report(
    config: str = typer.Argument(
        ..., metavar="CONFIG", help="The YAML config (data, params, graph); - reads stdin."
    ),
    output: str = typer.Option(
        ...,
        "--output",
        "-o",
        metavar="FILE.html",
        help="The page to write (never overwritten without --force).",
    ),
    steps: int | None = STEPS,
    lr: float | None = LR,
    precision: int = precision_option(
        "Significant digits shown (the page keeps every number exact for scripts too)."
    ),
    full: bool = FULL,
    lang: str = LANG,
    view_name: BackwardView = typer.Option(
        BackwardView.nodes,
        "--view",
        help="The backward table under the graph: nodes (the document's) or edges.",
    ),
    data_grads: bool = typer.Option(
        False, "--data-grads", help="Show the gradients of data tensors in the backward table."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing FILE.html."),
    allow_nonfinite: bool = typer.Option(
        False,
        "--allow-nonfinite",
        help="Trace on through NaN and ±Inf instead of stopping at the first (exit 3, no page).",
    ),
    allow_outside_data: bool = ALLOW_OUTSIDE,
    max_memory: str = MAX_MEMORY,
) -> None:
    """Write an interactive, self-contained web page that steps through the trace: the graph
    (laid out by Graphviz's dot when installed), the backward pass edge by edge, the tables."""
    from . import files
    from .config import load_config
    from .engine import Tracer
    from .i18n import Catalogue
    from .render import report as page
    from .render.view import View

    if lr is not None and not (math.isfinite(lr) and lr >= 0):
        raise UsageError(f"--lr: expected a finite learning rate ≥ 0, found {lr}")
    Catalogue(lang)
    files.check_new_files([("--output", output)], force)
    tracer = Tracer(load_config(config, allow_outside_data, memory_limit(max_memory)))
    total = steps or tracer.graph.steps
    view = View(
        precision=precision,
        full=full,
        lang=lang,
        total=total,
        view=view_name.value,
        data_grads=data_grads,
    )
    run = tracer.run(steps=total, lr=lr, allow_nonfinite=allow_nonfinite)
    name = "stdin" if config == "-" else os.path.basename(config)
    files.write_new_file(output, page.render(run, tracer, view, one_line(name)), force)


class SchemaName(str, Enum):
    config = "config"
    trace = "trace"
    graph = "graph"


@app.command(cls=PlainUsage, epilog=EXIT_CODES_HELP)
@user_errors
def schema(
    name: SchemaName = typer.Argument(
        ...,
        metavar="SCHEMA",
        help="config: the YAML config format; trace: the output "
        "of trace --format json (and of each jsonl line); "
        "graph: the output of graph --format json.",
    ),
) -> None:
    """Print a JSON Schema (draft 2020-12), for editors and validators."""
    from . import schemas

    sys.stdout.write(schemas.text(name.value))


class StarterKind(str, Enum):
    linear = "linear"
    mlp = "mlp"
    classifier = "classifier"
    expression = "expression"


@app.command(cls=PlainUsage, epilog=EXIT_CODES_HELP)
@user_errors
def init(
    kind: StarterKind = typer.Argument(
        StarterKind.linear,
        metavar="KIND",
        help="linear (the document's §4 line fit, the default), mlp, classifier or expression.",
    ),
    path: str | None = typer.Argument(
        None, metavar="PATH", help="The file to write; without it the config is printed."
    ),
    force: bool = typer.Option(False, "--force", help="Replace PATH if it exists."),
) -> None:
    """Write a commented starter config that traces as written."""
    from .files import write_new_file
    from .starters import starter

    if path == "-":  # as everywhere else, - is the standard stream
        path = None
    text = starter(kind.value, path)
    if path is None:
        sys.stdout.write(text)
        return
    write_new_file(path, text, force)
    shown = one_line(path)
    sys.stdout.write(f"wrote {shown}; trace it with: backprop trace {shown}\n")


def make_recorder(width: int) -> Any:
    """A console that records what a colour terminal of this width shows, for --save-svg and
    --save-html: the pictures carry the colours even when stdout is a pipe."""
    import io

    from rich.console import Console

    return Console(
        file=io.StringIO(),
        record=True,
        width=width,
        force_terminal=True,
        color_system="truecolor",
        no_color=False,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=False,
        legacy_windows=False,
    )


class _RstripWriter:
    """A text stream that drops the spaces Rich pads lines with before each newline, so that
    piped output has no trailing spaces."""

    def __init__(self, stream: Any):
        self.stream = stream
        self.pending = ""  # spaces at the end of the last write: kept unless a newline follows

    def write(self, text: str) -> int:
        text = self.pending + text
        body = text.rstrip(" ")
        self.pending = text[len(body) :]
        self.stream.write(re.sub(r" +\n", "\n", body))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return int(self.stream.fileno())


def make_console(width: int | None) -> Any:
    from rich.console import Console

    class PipeConsole(Console):
        def on_broken_pipe(self) -> None:  # Rich would exit with 1 ("a check failed")
            raise BrokenPipeError

    # NO_COLOR (https://no-color.org) or a pipe: the plain tables, byte for byte what a script
    # gets, at a fixed width.
    terminal = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    return PipeConsole(
        file=sys.stdout if terminal else cast("IO[str]", _RstripWriter(sys.stdout)),
        width=width or (None if terminal else 100),
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=False,
        force_terminal=terminal if terminal else False,
    )


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwind (``finally`` blocks remove temporary files), then
    exit with 128 + the signal's number, as a shell reports a process killed by it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated(signum)


def _hold_closed_streams() -> list[str]:
    """The standard streams that were closed when we started (``>&-``). Each descriptor is
    held by /dev/null, so that no file opened later takes its number (and receives what was
    meant for the stream)."""
    closed = []
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is None:
            closed.append(name)
            with contextlib.suppress(OSError):
                if os.open(os.devnull, os.O_RDWR) != fd:
                    pass  # a lower descriptor was free; nothing else to do
    return closed


def _usage_line(exc: Any) -> str:
    """click's usage error (four lines: usage, hint, blank, message) as one line."""
    message = exc.format_message().replace("Value error, ", "")
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"backprop: error: {one_line(message)}{hint}\n"


def main() -> None:
    """Console-script entry point: unexpected errors become one line (set BACKPROP_DEBUG=1
    for the traceback)."""
    import signal

    closed = _hold_closed_streams()
    if "stdout" in closed and sys.argv[1:2] not in (["--help"], []):
        say("backprop: error: stdout: is closed; nothing can be written (Bad file descriptor)\n")
        sys.exit(EXIT_IO)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _terminate)
    code: Any = 0
    try:
        try:
            with _only_invoked_command(sys.argv[1:]):
                code = app(prog_name="backprop", standalone_mode=False)
        finally:
            if sys.stdout is not None:
                sys.stdout.flush()  # a reader gone before the last write shows up here
    except SystemExit:
        raise
    except typer.Abort:
        sys.exit(EXIT_INTERRUPTED)
    except Terminated as exc:
        say("backprop: terminated\n")
        sys.exit(128 + exc.signum)
    except KeyboardInterrupt:  # outside a command: while starting or at exit
        say("backprop: interrupted\n")
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        sys.exit(stdout_gone())
    except OSError as exc:
        if exc.errno not in WRITE_ERRORS:
            _internal(exc)
        sys.exit(stdout_failed(exc))
    except Exception as exc:
        if not (hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", 0), int)):
            _internal(exc)  # a bug in backprop-cli, not in the user's input
        # click's own errors: a bad option or argument found by the parser
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # type: ignore[attr-defined]  # the help, as for --help
        else:
            say(_usage_line(exc))
        sys.exit(exc.exit_code)  # type: ignore[attr-defined]
    sys.exit(code if isinstance(code, int) else 0)


@contextlib.contextmanager
def _only_invoked_command(args: list[str]) -> Iterator[None]:
    """Register only the command the arguments name while it runs: typer builds the click
    command of every registered command, all their options, at each start (~10 ms of a
    0.3 s start, for commands that do not run). With no command first (``--help``,
    ``--version``, a misspelt name) or during shell completion, every command is there."""
    commands = app.registered_commands
    name = args[0] if args else None
    chosen = [
        c
        for c in commands
        if c.callback is not None
        and (c.name or typer.main.get_command_name(c.callback.__name__)) == name
    ]
    if len(chosen) != 1 or "_BACKPROP_COMPLETE" in os.environ:
        yield
        return
    app.registered_commands = chosen
    try:
        yield
    finally:
        app.registered_commands = commands


def _internal(exc: Exception) -> None:
    if os.environ.get("BACKPROP_DEBUG"):
        raise exc
    say(
        f"backprop: internal error: {type(exc).__name__}: {exc} "
        f"(set BACKPROP_DEBUG=1 for the traceback, and please report it)\n"
    )
    sys.exit(EXIT_INTERNAL)
