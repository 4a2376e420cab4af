"""data: entries read from CSV and .npy files, and their errors (file and column named)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from .helpers import invoke

CSV = "area,rooms,price\n1.0,2,3.0\n2.0,3,5.5\n3.0,4,7.0\n"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "houses.csv").write_text(CSV)
    np.save(tmp_path / "data" / "w.npy", np.array([[0.1, 0.2]]))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _config(folder, data: str, graph: str = "  - {name: s, op: sum, args: [x]}\n") -> str:
    (folder / "data" / "c.yaml").write_text(f"data:\n{data}graph:\n{graph}")
    return "data/c.yaml"


def test_csv_columns_become_rows_one_example_per_column(folder) -> None:
    config = _config(
        folder,
        "  x: {file: houses.csv, columns: [area, rooms]}\n"
        "  y: {file: houses.csv, column: price}\n"
        "  W: {file: w.npy}\n",
        "  - {name: p, op: matmul, args: [W, x]}\n"
        "  - {name: L, op: half_squared_error, args: [p, y]}\n",
    )
    # the paths are relative to the config's folder, not to where backprop runs
    result = invoke("trace", config, "-f", "json")
    assert result.exit_code == 2  # p is 1×3 but y is 3: the shapes are reported, not guessed
    assert "p has shape 1×3, y has shape 3" in result.stderr
    (folder / "data" / "c.yaml").write_text(
        "data:\n  x: {file: houses.csv, columns: [area, 1]}\n"
        "  y: {file: houses.csv, columns: [price]}\n  W: {file: w.npy}\n"
        "graph:\n  - {name: p, op: matmul, args: [W, x]}\n"
        "  - {name: L, op: half_squared_error, args: [p, y]}\n"
    )
    step = json.loads(invoke("trace", config, "-f", "json").stdout)["steps"][0]
    assert step["forward"]["x"] == [[1.0, 2.0, 3.0], [2.0, 3.0, 4.0]]
    assert step["forward"]["y"] == [[3.0, 5.5, 7.0]]
    assert step["forward"]["W"] == [[0.1, 0.2]]
    np.testing.assert_allclose(step["forward"]["p"], [[0.5, 0.8, 1.1]], atol=1e-15)


def test_npy_transpose_and_headerless_csv(folder) -> None:
    (folder / "data" / "plain.csv").write_text("1,2\n3,4\n5,6\n")
    config = _config(
        folder,
        "  x: {file: plain.csv, header: false, columns: [1, 0]}\n"
        "  W: {file: w.npy, transpose: true}\n",
        "  - {name: s, op: sum, args: [x]}\n  - {name: t, op: sum, args: [W]}\n"
        "  - {name: L, op: add, args: [s, t]}\n",
    )
    step = json.loads(invoke("trace", config, "-f", "json").stdout)["steps"][0]
    assert step["forward"]["x"] == [[2.0, 4.0, 6.0], [1.0, 3.0, 5.0]]
    assert step["forward"]["W"] == [[0.1], [0.2]]


@pytest.mark.parametrize(
    ("data", "extra", "message"),
    [
        (
            "  x: {file: missing.csv, column: a}\n",
            None,
            ":2:13: data.x.file: missing.csv: no such file (paths are relative to the config's "
            "folder)",
        ),
        (
            "  x: {file: houses.csv, columns: [area, room]}\n",
            None,
            ":2:34: data.x.columns: houses.csv: no column 'room' (did you mean 'rooms'?); the "
            "columns "
            "are area, rooms, price",
        ),
        (
            "  x: {file: houses.csv, columns: [7]}\n",
            None,
            ":2:34: data.x.columns: houses.csv: column index 7 is out of range; the file has "
            "columns "
            "0 to 2",
        ),
        (
            "  x: {file: bad.csv, column: b}\n",
            ("bad.csv", "a,b\n1,2\n3,oops\n"),
            ":2:13: data.x.file: bad.csv line 3, column 'b': expected a number, found 'oops'",
        ),
        (
            "  x: {file: ragged.csv, column: a}\n",
            ("ragged.csv", "a,b\n1,2\n3\n"),
            ":2:13: data.x.file: ragged.csv line 3: 1 fields, expected 2 like the first data row",
        ),
        (
            "  x: {file: houses.csv}\n",
            None,
            ":2:6: data.x: expected either 'column: NAME' (a vector, one value per example) "
            "or 'columns: [NAME, ...]' (a matrix, one row per column)",
        ),
        (
            "  x: {file: junk.npy}\n",
            ("junk.npy", "not an array"),
            ":2:13: data.x.file: junk.npy: not a readable .npy array",
        ),
        (
            "  x: {file: houses.txt}\n",
            ("houses.txt", CSV),
            ":2:13: data.x.file: houses.txt: expected a .csv or .npy file",
        ),
        (
            "  x: {file: houses.csv, colums: [a]}\n",
            None,
            ":2:25: data.x.colums: unknown data file field 'colums' (did you mean 'columns'?); "
            "expected file, column, columns, header, transpose",
        ),
    ],
)
def test_data_file_errors(folder, data: str, extra, message: str) -> None:
    if extra:
        (folder / "data" / extra[0]).write_text(extra[1])
    result = invoke("trace", _config(folder, data))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"backprop: error: data/c.yaml{message}")
    assert result.stderr.count("\n") == 1
