"""Long runs: --every K prints the chosen steps whole and nothing between, --summary prints only
the summary, and the sparkline states its buckets, its scale and its non-finite steps."""

from __future__ import annotations

import re

import pytest

from backprop_cli.i18n import Catalogue
from backprop_cli.render.summary import WIDTH, Summary

from .conftest import CONFIGS, ROOT
from .helpers import invoke

LINEAR = str(CONFIGS / "seed_linear.yaml")
OVERFLOW = str(ROOT / "tests" / "configs" / "overflow_logits.yaml")


class S:
    """What the summary reads of a step."""

    def __init__(self, step: int, objective: float):
        self.step, self.objective = step, objective


def summary_of(values: list[float]) -> Summary:
    summary = Summary(total=len(values))
    for i, v in enumerate(values, 1):
        summary.add(S(i, v))
    return summary


def legend(summary: Summary, lang: str = "en") -> list[str]:
    return summary.legend(Catalogue(lang), lambda x: f"{x:g}", "L")


# ---- --every and --summary -------------------------------------------------------------------


def test_every_100_of_500_prints_six_whole_steps_and_the_summary_and_nothing_else() -> None:
    out = invoke("trace", LINEAR, "--steps", "500", "--every", "100").stdout
    chosen = (1, 101, 201, 301, 401, 500)
    assert re.findall(r"^Step (\d+) · ", out, re.M) == [str(k) for k in chosen]
    assert out.count("Forward pass") == out.count("Parameter updates") == 6
    # byte for byte: each chosen step as --only-step prints it, then the summary as --summary does
    steps = [invoke("trace", LINEAR, "-n", "500", "--only-step", str(k)).stdout for k in chosen]
    summary = invoke("trace", LINEAR, "-n", "500", "--summary").stdout
    assert out == "".join(steps) + summary


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_every_in_documents_prints_the_chosen_steps_and_the_summary(fmt: str) -> None:
    def run(*args: str) -> str:
        result = invoke("trace", LINEAR, "-f", fmt, "-n", "20", *args)
        assert result.exit_code == 0, result.stderr
        return result.stdout

    out = run("--every", "7")
    preamble = run("--only-step", "1").split("\n\n", 1)[0] + "\n\n" if fmt == "latex" else ""
    steps = [run("--only-step", str(k)).removeprefix(preamble) for k in (1, 8, 15, 20)]
    summary = run("--summary").removeprefix(preamble)
    assert out == preamble + "".join(steps) + summary
    assert summary.count("over 20 steps") == 1 and "Forward" not in summary


def test_summary_prints_only_the_summary() -> None:
    result = invoke("trace", LINEAR, "--steps", "500", "--summary")
    assert result.exit_code == 0
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0] == "─" * 100
    assert lines[1:] == [
        "L over 500 steps",
        "         Step       L",
        "─" * 22,
        " first      1   1.805",
        " last     500       0",
        " best      53       0",
        "",
        "L per step: █▇▆▄▃▂" + "▁" * 54,
        "Each mark is the mean of 8–9 steps.",
        "Log scale: ▁ is 2.191e-31 (or 0), █ is 0.2674.",
    ]


def test_summary_of_a_one_step_run_is_printed_when_asked_for() -> None:
    out = invoke("trace", LINEAR, "--summary").stdout
    assert re.search(r"^L over 1 step *$", out, re.M)
    assert "Forward" not in out
    assert invoke("trace", LINEAR).stdout.count("over") == 0  # unasked, a single step has none


def test_summary_in_chinese_and_markdown() -> None:
    out = invoke("trace", LINEAR, "-n", "200", "--summary", "-f", "markdown", "--lang", "zh")
    assert out.stdout.startswith("## $`L`$ 在 200 步中的变化\n")
    assert "每个符号是 3–4 步的平均值。\n" in out.stdout
    assert "对数刻度：▁ 为 $`4.93\\times 10^{-31}`$（或 0），█ 为 $`0.5993`$。\n" in out.stdout


@pytest.mark.parametrize(
    "args, names",
    [
        (("--every", "2"), "--every"),
        (("--only-step", "1"), "--only-step"),
        (("--node", "w", "--explain"), "--node, --explain"),
    ],
)
def test_summary_refuses_options_that_pick_or_shape_steps(args, names) -> None:
    result = invoke("trace", LINEAR, "-n", "3", "--summary", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"backprop: error: --summary prints only the summary of the run; it does not combine "
        f"with {names}\n"
    )


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_summary_is_refused_with_machine_formats(fmt: str) -> None:
    result = invoke("trace", LINEAR, "--summary", "-f", fmt)
    assert result.exit_code == 2
    assert result.stderr.startswith("backprop: error: --summary: shapes the table, markdown ")


def test_summary_of_a_run_stopped_by_an_anomaly_is_the_report() -> None:
    result = invoke("trace", OVERFLOW, "--summary")
    assert result.exit_code == 3
    assert "Step 2 · numerical anomaly in the forward pass" in result.stdout
    assert "Forward pass" not in result.stdout and "over" not in result.stdout


# ---- the sparkline ---------------------------------------------------------------------------


@pytest.mark.parametrize("total", [60, 61, 120, 500, 1000, 12345])
def test_the_legend_states_the_bucket_sizes_truthfully(total: int) -> None:
    summary = summary_of([1.0] * total)
    sizes = summary.steps
    assert len(sizes) == WIDTH and sum(sizes) == total and max(sizes) - min(sizes) <= 1
    fewest, most = total // WIDTH, -(-total // WIDTH)  # an even split of the steps
    assert (min(sizes), max(sizes)) == (fewest, most)
    words = f"{most}" if fewest == most else f"{fewest}–{most}"
    expected = [] if most == 1 else [f"Each mark is the mean of {words} steps."]
    assert legend(summary) == expected


def test_memory_does_not_grow_with_the_number_of_steps() -> None:
    summary = Summary(total=10**9)
    for i in range(1, 10_001):
        summary.add(S(i * 100_000, 1.0 / i))
    assert summary.seen == 10_000
    assert all(len(x) == WIDTH for x in (summary.means, summary.finite, summary.steps))


def test_nonfinite_steps_are_marked_and_named_in_the_legend() -> None:
    nan, inf = float("nan"), float("inf")
    summary = summary_of([3.0, nan, 2.0, inf, 1.0])
    assert summary.sparkline() == "█×▅×▁"
    assert legend(summary) == ["× marks where L was NaN or ±Inf at least once."]
    assert legend(summary, "zh") == ["× 表示该处的 L 至少有一步为 NaN 或 ±Inf。"]
    assert summary_of([nan, nan]).sparkline() == "××"
    # a mark standing for several steps is × when any of them is not finite
    long = summary_of([1.0] * 100 + [nan] + [1.0] * 99)
    assert long.sparkline() == "▁" * 30 + "×" + "▁" * 29


def test_nonfinite_steps_in_the_terminal() -> None:
    result = invoke("trace", OVERFLOW, "--allow-nonfinite", "-n", "4", "--summary")
    assert result.exit_code == 0, result.stderr
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[-2:] == ["L per step: ▁×××", "× marks where L was NaN or ±Inf at least once."]


def test_log_scale_beyond_two_decades() -> None:
    decades = summary_of([10.0**-k for k in range(7)])
    assert decades.scale() == (True, 1e-6, 1.0)
    assert decades.sparkline() == "█▇▆▅▃▂▁"  # evenly spaced levels, one decade each
    assert legend(decades) == ["Log scale: ▁ is 1e-06, █ is 1."]
    assert summary_of([1.0, 0.0099]).scale()[0]  # just over two decades
    exactly = summary_of([1.0, 0.01])
    assert exactly.scale() == (False, 0.01, 1.0) and exactly.sparkline() == "█▁"
    assert legend(exactly) == []


def test_log_scale_with_zero_and_not_with_negative_values() -> None:
    zero = summary_of([1.0, 1e-3, 0.0])
    assert zero.scale() == (True, 1e-3, 1.0)
    assert zero.sparkline() == "█▁▁"
    assert legend(zero) == ["Log scale: ▁ is 0.001 (or 0), █ is 1."]
    negative = summary_of([1.0, 1e-3, -1.0])
    assert not negative.log_scale
    assert negative.sparkline() == "█▅▁"


def test_the_terminal_says_log_scale_for_a_loss_spanning_decades() -> None:
    out = invoke("trace", LINEAR, "-n", "40").stdout
    assert re.search(r"^Log scale: ▁ is \S+, █ is 1\.805\.$", out, re.M)
    assert "L per step: █" in out


def test_extreme_values_do_not_break_the_scale() -> None:
    summary = summary_of([1.7e308, -1.7e308, 0.0, 1.7e308])
    assert summary.sparkline() == "█▁▅█"  # high − low overflows; the levels must not
    assert summary.best is not None and summary.best.value == -1.7e308
    tiny = summary_of([5e-324, 1e300])
    assert tiny.scale() == (True, 5e-324, 1e300) and tiny.sparkline() == "▁█"


def test_the_readme_sparkline_is_real_output() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```text\nL per step: ", 1)[1].split("```", 1)[0]
    out = invoke("trace", LINEAR, "--steps", "500", "--summary").stdout
    tail = [line.rstrip() for line in out.splitlines()[-3:]]
    assert ("L per step: " + block).splitlines() == tail
