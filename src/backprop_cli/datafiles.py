"""``data:`` entries read from a CSV or ``.npy`` file beside the config.

A CSV file has one example per row (and, by default, a header row naming the columns). Since a
batch here has one example per *column* (``z = W1·x``), ``columns: [a, b, c]`` gives a matrix of
3 rows × examples, and ``column: label`` a vector with one value per example. A ``.npy`` file is
taken as stored; ``transpose: true`` turns rows into columns.
"""

from __future__ import annotations

import errno
import io
import math
import os
import stat
from typing import Any

import numpy as np

from . import arrays, files
from .errors import describe, os_reason

KEYS = ("file", "column", "columns", "header", "transpose")


class DataFileError(ValueError):
    """What is wrong, and the field it belongs to (``file``, ``columns``, …)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


# Limits on a data file, checked before it is read whole (documented in README): its size
# in bytes, and (from arrays) its number of elements and of dimensions.
MAX_FILE_BYTES = 256 * 1024 * 1024
ALLOW_OUTSIDE = "--allow-outside-data"


def load(spec: dict[str, Any], base_dir: str, allow_outside: bool = False) -> np.ndarray:
    path = spec.get("file")
    if not isinstance(path, str) or not path:
        raise DataFileError(
            "file", "expected the path of a .csv or .npy file, relative to the config's folder"
        )
    transpose = spec.get("transpose", False)
    if not isinstance(transpose, bool):
        raise DataFileError("transpose", f"expected true or false, found {describe(transpose)}")
    full = os.path.join(base_dir or ".", path)
    if not allow_outside:
        inside(full, path, base_dir)
    _regular_file(full, path)
    if path.lower().endswith(".npy"):
        value = _npy(full, path)
    elif path.lower().endswith(".csv"):
        value = _csv(full, path, spec)
    else:
        raise DataFileError("file", f"{path}: expected a .csv or .npy file")
    if transpose:
        value = value.T
    return value


def inside(full: str, path: str, base_dir: str) -> None:
    """Refuse a data path that leads (``..``, an absolute path, a symbolic link) out of the
    config's folder: a config written by someone else must not read the user's other files."""
    folder = os.path.realpath(base_dir or ".")
    target = os.path.realpath(full)
    if os.path.commonpath([folder, target]) != folder:
        raise DataFileError(
            "file",
            f"{path}: is outside the config's folder; data files are read from the config's "
            f"folder and below (use {ALLOW_OUTSIDE} to read it anyway)",
        )


def _regular_file(full: str, path: str) -> None:
    """The path names a readable regular file (symbolic links followed), or a clear reason."""
    try:
        mode = os.stat(full).st_mode
    except FileNotFoundError:
        what = "is a symbolic link to a missing file" if os.path.islink(full) else "no such file"
        raise DataFileError(
            "file", f"{path}: {what} (paths are relative to the config's folder)"
        ) from None
    except OSError as exc:
        what = "is a symbolic link loop" if exc.errno == errno.ELOOP else os_reason(exc)
        raise DataFileError("file", f"{path}: {what}") from None
    if stat.S_ISDIR(mode):
        raise DataFileError(
            "file", f"{path}: is a directory (paths are relative to the config's folder)"
        )
    if not stat.S_ISREG(mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device or socket"
        raise DataFileError(
            "file", f"{path}: is {kind}, not a regular file; expected a .csv or .npy file"
        )


def _open(full: str, path: str) -> io.BufferedReader:
    """The file opened for reading, refused when larger than ``MAX_FILE_BYTES``."""
    try:
        fh = files.open_input(full)
    except files.NotRegularFile as exc:
        raise DataFileError("file", f"{path}: {exc}; expected a .csv or .npy file") from None
    except OSError as exc:
        raise DataFileError("file", f"{path}: cannot be read: {os_reason(exc)}") from None
    size = os.fstat(fh.fileno()).st_size
    if size > MAX_FILE_BYTES:
        fh.close()
        raise DataFileError(
            "file", f"{path}: {size:,} bytes; the limit for a data file is {MAX_FILE_BYTES:,}"
        )
    return fh


def _npy(full: str, path: str) -> np.ndarray:
    with _open(full, path) as fh:
        try:
            # The header is checked against the limits before any array is allocated: 200
            # bytes can claim a shape of 10¹¹ elements.
            version = np.lib.format.read_magic(fh)
            reader = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = reader(fh)
        except (ValueError, OSError, EOFError, SyntaxError) as exc:
            raise DataFileError("file", f"{path}: not a readable .npy array ({exc})") from None
        if dtype.kind not in "biuf":
            raise DataFileError("file", f"{path}: expected numbers, found an array of {dtype}")
        if len(shape) > arrays.MAX_NDIM:
            raise DataFileError(
                "file",
                f"{path}: {len(shape)} dimensions; the limit is {arrays.MAX_NDIM}",
            )
        size = math.prod(shape)
        if size > arrays.MAX_ELEMENTS:
            raise DataFileError(
                "file", f"{path}: {size:,} elements; the limit is {arrays.MAX_ELEMENTS:,}"
            )
        fh.seek(0)
        try:
            value = np.load(fh, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise DataFileError("file", f"{path}: not a readable .npy array ({exc})") from None
    with np.errstate(all="ignore"):  # a float128 beyond float64's range: reported below
        out = value.astype(np.float64)
    if not np.isfinite(out).all():
        bad = np.argwhere(~np.isfinite(out))[0]
        raise DataFileError(
            "file",
            f"{path}: element [{', '.join(map(str, bad))}] is not a finite float64 number "
            f"({value[tuple(bad)]!r})",
        )
    return out


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
    values, count = _csv_values(full, path, wanted, header)
    out = np.frombuffer(values, dtype=np.float64).reshape(count, len(wanted))
    # One example per column: a row of the file becomes a column here.
    return np.array(out[:, 0] if single else out.T)


def _csv_values(full: str, path: str, wanted: list[Any], header: bool) -> tuple[Any, int]:
    """The wanted columns of a CSV file as float64, row after row, and the number of data rows.

    The file is read as a stream and only the wanted cells are kept, as 8-byte floats: a file
    at the limit of ``arrays.MAX_ELEMENTS`` cells is refused without first holding every cell
    as a string (~1 GB for ten million)."""
    import csv  # only for a CSV data file: kept off the start-up path
    from array import array

    values = array("d")
    names: list[str] = []
    index: list[int] = []
    width = -1
    cells = count = 0
    line = 0
    with _open(full, path) as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        try:
            for row in reader:
                line += 1
                cells += max(len(row), 1)
                if cells > arrays.MAX_ELEMENTS:
                    raise DataFileError(
                        "file",
                        f"{path} line {reader.line_num}: more than "
                        f"{arrays.MAX_ELEMENTS:,} values; the limit is {arrays.MAX_ELEMENTS:,}",
                    )
                if header and line == 1:
                    names = row
                    continue
                if width < 0:
                    width = len(row)
                    index = [_column(c, names, width, path, header) for c in wanted]
                elif len(row) != width:
                    raise DataFileError(
                        "file",
                        f"{path} line {line}: {len(row)} fields, "
                        f"expected {width} like the first data row",
                    )
                for col in index:
                    values.append(_cell(row[col], names, col, path, line))
                count += 1
        except UnicodeDecodeError:
            raise DataFileError("file", f"{path}: not UTF-8 text") from None
        except csv.Error as exc:
            raise DataFileError(
                "file", f"{path} line {reader.line_num}: not readable as CSV ({exc})"
            ) from None
    if not count:
        raise DataFileError("file", f"{path}: no data rows")
    return values, count


def _cell(text: str, names: list[str], col: int, path: str, line: int) -> float:
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        label = names[col] if names else col
        raise DataFileError(
            "file", f"{path} line {line}, column {label!r}: expected a number, found {text!r}"
        ) from None
    if not math.isfinite(value):
        label = names[col] if names else col
        raise DataFileError(
            "file",
            f"{path} line {line}, column {label!r}: expected a finite number, found {text!r}",
        )
    return value


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
        if names.count(wanted) > 1:
            first = names.index(wanted)
            second = names.index(wanted, first + 1)
            raise DataFileError(
                "columns",
                f"{path}: the header names two columns {wanted!r} (columns {first} and "
                f"{second}); give the column by its 0-based index or rename one",
            )
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
