"""``data:`` entries read from a CSV or ``.npy`` file beside the config.

A CSV file has one example per row (and, by default, a header row naming the columns). Since a
batch here has one example per *column* (``z = W1·x``), ``columns: [a, b, c]`` gives a matrix of
3 rows × examples, and ``column: label`` a vector with one value per example. A ``.npy`` file is
taken as stored; ``transpose: true`` turns rows into columns.
"""

from __future__ import annotations

import csv
import io
import math
import os
from typing import Any

import numpy as np

from . import arrays

KEYS = ("file", "column", "columns", "header", "transpose")


class DataFileError(ValueError):
    """What is wrong, and the field it belongs to (``file``, ``columns``, …)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def load(spec: dict[str, Any], base_dir: str) -> np.ndarray:
    path = spec.get("file")
    if not isinstance(path, str) or not path:
        raise DataFileError(
            "file", "expected the path of a .csv or .npy file, relative to the config's folder"
        )
    full = os.path.join(base_dir, path)
    if not os.path.isfile(full):
        what = "is a directory" if os.path.isdir(full) else "no such file"
        raise DataFileError("file", f"{path}: {what} (paths are relative to the config's folder)")
    if path.lower().endswith(".npy"):
        value = _npy(full, path)
    elif path.lower().endswith(".csv"):
        value = _csv(full, path, spec)
    else:
        raise DataFileError("file", f"{path}: expected a .csv or .npy file")
    if spec.get("transpose", False) is True:
        value = value.T
    return value


def _npy(full: str, path: str) -> np.ndarray:
    try:
        value = np.load(full, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataFileError("file", f"{path}: not a readable .npy array ({exc})") from None
    if value.dtype.kind not in "biuf":
        raise DataFileError("file", f"{path}: expected numbers, found an array of {value.dtype}")
    if value.size > arrays.MAX_ELEMENTS:
        raise DataFileError(
            "file", f"{path}: {value.size:,} elements; the limit is {arrays.MAX_ELEMENTS:,}"
        )
    return value.astype(np.float64)


def _csv(full: str, path: str, spec: dict[str, Any]) -> np.ndarray:
    header = spec.get("header", True)
    if not isinstance(header, bool):
        raise DataFileError("header", "expected true (the first row names the columns) or false")
    single = "column" in spec
    if single == ("columns" in spec):
        raise DataFileError(
            "columns",
            "expected either 'column: NAME' (a vector, one value "
            "per example) or 'columns: [NAME, ...]' (a matrix, "
            "one row per column)",
        )
    wanted = [spec["column"]] if single else spec["columns"]
    if not isinstance(wanted, list) or not wanted:
        raise DataFileError(
            "columns", "expected a non-empty list of column names or 0-based indices"
        )
    try:
        with open(full, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(io.StringIO(fh.read())))
    except UnicodeDecodeError:
        raise DataFileError("file", f"{path}: not UTF-8 text") from None
    names = rows[0] if header and rows else []
    body = rows[1:] if header else rows
    first_line = 2 if header else 1
    if not body:
        raise DataFileError("file", f"{path}: no data rows")
    width = len(body[0])
    index = [_column(c, names, width, path, header) for c in wanted]
    out = np.empty((len(body), len(index)))
    for r, row in enumerate(body):
        line = first_line + r
        if len(row) != width:
            raise DataFileError(
                "file",
                f"{path} line {line}: {len(row)} fields, expected {width} like the first data row",
            )
        for j, col in enumerate(index):
            text = row[col].strip()
            try:
                value = float(text)
            except ValueError:
                label = names[col] if names else col
                raise DataFileError(
                    "file",
                    f"{path} line {line}, column {label!r}: expected a number, found {text!r}",
                ) from None
            if not math.isfinite(value):
                label = names[col] if names else col
                raise DataFileError(
                    "file",
                    f"{path} line {line}, column {label!r}: expected a "
                    f"finite number, found {text!r}",
                )
            out[r, j] = value
    # One example per column: a row of the file becomes a column here.
    return out[:, 0] if single else out.T


def _column(wanted: Any, names: list[str], width: int, path: str, header: bool) -> int:
    from .errors import suggest

    if isinstance(wanted, int) and not isinstance(wanted, bool):
        if 0 <= wanted < width:
            return wanted
        raise DataFileError(
            "columns",
            f"{path}: column index {wanted} is out of range; the file has columns 0 to {width - 1}",
        )
    if isinstance(wanted, str) and header:
        if wanted in names:
            return names.index(wanted)
        raise DataFileError(
            "columns",
            f"{path}: no column {wanted!r}{suggest(wanted, names)}; "
            f"the columns are {', '.join(names)}",
        )
    raise DataFileError(
        "columns",
        f"{path}: expected a column name from the header or a 0-based index, found {wanted!r}",
    )
