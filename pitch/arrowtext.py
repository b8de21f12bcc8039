"""Values and Arrow columns turned into text: the helpers the formatters share.

The fast formatters (:func:`pitch.ids.b36_array`, :func:`pitch.export.hms_array`,
:func:`pitch.export.price_array`) turn whole columns into text with numpy, a
million values in about a second where a value-by-value loop took ten. Each
hands a column that is not plain numbers to its careful scalar twin
(:func:`by_value`).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: The ASCII code of "0".
ZERO = ord("0")


def missing(value: Any) -> bool:
    """True for None, ``pd.NA`` and NaN: a value that is not there."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def is_number_array(arr: pa.Array) -> bool:
    """True for integer and floating-point arrays."""
    return pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)


def by_value(arr: pa.Array, func: Callable[[Any], str]) -> pa.Array:
    """``func`` value by value, '' becoming null: for the odd column that is not plain numbers."""
    return pa.array([func(v) or None for v in arr.to_pylist()], pa.string())


def ints(arr: pa.Array, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """(values as ``dtype`` with 0 where missing, missing mask) of a numeric array."""
    mask = arr.is_null().to_numpy(zero_copy_only=False)
    filled = pc.fill_null(arr, 0) if arr.null_count else arr
    return filled.to_numpy(zero_copy_only=False).astype(dtype), mask


def fixed_width(chars: np.ndarray, mask: np.ndarray) -> pa.Array:
    """Rows of ASCII codes (one row per value) as a string array, null where ``mask``."""
    width = chars.shape[1]
    raw = np.ascontiguousarray(chars).view(f"S{width}").ravel()
    return pa.array(raw, pa.binary(width), mask=mask).cast(pa.string())
