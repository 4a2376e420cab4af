"""Turning YAML values into float64 arrays, and the seeded initialisers for params."""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np

# Limits on tensors in a config (documented in README): a literal array in the YAML, and a
# param made by an initialiser.
MAX_LITERAL_ELEMENTS = 1_000_000
MAX_ELEMENTS = 10_000_000
# Dimensions of any tensor: a literal array, an initialiser's shape, a data file, a node's
# output (numpy itself stops at 32 or 64, with an error of its own).
MAX_NDIM = 8

INITS = ("zeros", "normal", "uniform", "xavier")


def to_array(value: Any, file_budget: list[int] | None = None) -> np.ndarray:
    """A number or a (nested) list of numbers as a float64 array; ``ValueError`` says why not.

    ``file_budget`` (one number in a list, shared by every array of a file) bounds all the
    literal arrays of a file together: a hundred aliases of one large list would each pass
    the limit of one array, and take minutes."""
    _shape(
        value,
        depth=0,
        budget=[MAX_LITERAL_ELEMENTS],
        file_budget=file_budget if file_budget is not None else [MAX_LITERAL_ELEMENTS],
    )
    return np.array(value, dtype=np.float64)


def _shape(value: Any, depth: int, budget: list[int], file_budget: list[int]) -> tuple[int, ...]:
    budget[0] -= 1
    if budget[0] < 0:  # YAML aliases can make a short file hold a huge nested list
        raise ValueError(f"at most {MAX_LITERAL_ELEMENTS:,} numbers in a literal array")
    file_budget[0] -= 1
    if file_budget[0] < 0:
        raise ValueError(
            f"at most {MAX_LITERAL_ELEMENTS:,} numbers in all the literal arrays of a file "
            f"(counted after YAML aliases are expanded)"
        )
    if isinstance(value, bool):
        raise ValueError(f"a number but found the boolean {str(value).lower()}")
    if isinstance(value, (int, float)):
        return ()
    if isinstance(value, list):
        if depth >= MAX_NDIM:
            raise ValueError(f"at most {MAX_NDIM} levels of nesting")
        if not value:
            raise ValueError("a number or a non-empty list, but found an empty list")
        inner = [_shape(v, depth + 1, budget, file_budget) for v in value]
        if any(s != inner[0] for s in inner[1:]):
            lengths = sorted({len(v) if isinstance(v, list) else 0 for v in value})
            raise ValueError(
                f"rows of equal length (a rectangular array), but found a ragged "
                f"list with row lengths {lengths}"
            )
        return (len(value),) + inner[0]
    if value is None:
        raise ValueError("a number or a list of numbers, but found nothing (null)")
    return _fail(value)


def _fail(value: Any) -> tuple[int, ...]:
    if isinstance(value, str):
        found = f"the string {value!r}"
    elif isinstance(value, dict):
        found = "a mapping"
    else:
        found = f"a {type(value).__name__} value"
    raise ValueError(f"a number or a list of numbers, but found {found}")


def default_seed(name: str) -> int:
    """A param without ``seed:`` gets one derived from its name: stable and distinct."""
    return zlib.crc32(name.encode("utf-8"))


def initialise(init: str, shape: tuple[int, ...], seed: int, scale: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if init == "zeros":
        return np.zeros(shape)
    if init == "normal":
        return scale * rng.standard_normal(shape)
    if init == "uniform":
        return rng.uniform(-scale, scale, shape)
    if init == "xavier":
        fan_out = shape[0] if shape else 1
        fan_in = shape[-1] if shape else 1
        limit = scale * math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape)
    raise ValueError(init)
