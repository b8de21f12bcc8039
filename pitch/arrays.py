"""Typed numpy columns into Arrow arrays, for both decoders.

The text decoder (:mod:`pitch.columns`) and the binary one (:mod:`pitch.binary`)
read each field of many messages at once into numpy; these turn such columns
into the Arrow arrays DuckDB loads: exact decimals without Python objects,
dictionary-encoded codes and symbols, nulls where a message lacks the field.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from .layouts import Kind

ARROW_TYPES = {
    Kind.NUMERIC: pa.int64(),
    Kind.BASE36: pa.uint64(),
    Kind.PRICE: pa.decimal128(18, 4),
    Kind.ALPHA: pa.dictionary(pa.int32(), pa.string()),
    Kind.CODE: pa.dictionary(pa.int32(), pa.string()),
}
NUMPY_TYPES = {
    Kind.NUMERIC: np.int64,
    Kind.BASE36: np.uint64,
    Kind.PRICE: np.int64,
    Kind.ALPHA: np.uint64,  # up to 8 bytes packed into one key, 0 = null
    Kind.CODE: np.uint8,  # the one character
}


#: The marker bit of :func:`alpha_key`, and byte masks for its word operations.
ALPHA_MARKER = np.uint64(1 << 63)
_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_HIGH = np.uint64(0x8080808080808080)


def alpha_key(m: np.ndarray) -> np.ndarray:
    """Pack up to 8 bytes per row into a uint64 key (right-trimmed of spaces).

    The key keeps one marker bit so that an empty string is not 0 (= null).
    Trimmed with word operations on the key, not on the (rows, 8) bytes: the last
    byte that is not a space is the highest non-zero byte once spaces are XORed
    to 0, and every byte below it is kept.
    """
    n, w = m.shape
    block = np.zeros((n, 8), np.uint8)
    block[:, :w] = m
    key = block.view("<u8").ravel()
    y = key ^ np.uint64(int.from_bytes(b" " * w, "little"))
    for shift in (8, 16, 32):  # each byte ORs in the bytes above it
        y |= y >> np.uint64(shift)
    nonzero = (((y & _LOW7) + _LOW7) | y) & _HIGH  # the top bit of each non-zero byte
    return key & ((nonzero >> np.uint64(7)) * np.uint64(0xFF)) | ALPHA_MARKER


def codes_to_strings(codes: np.ndarray, present: np.ndarray) -> pa.Array:
    """Arrow dictionary array from one byte per row (few values: a lookup table)."""
    seen = np.flatnonzero(np.bincount(codes[present], minlength=256))
    lut = np.zeros(256, np.int32)
    lut[seen] = np.arange(len(seen), dtype=np.int32)
    dictionary = pa.array([chr(c) for c in seen.tolist()], pa.string())
    indices = pa.array(lut[codes], mask=None if present.all() else ~present)
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def keys_to_strings(keys: np.ndarray, present: np.ndarray) -> pa.Array:
    """Arrow string array from packed keys (few distinct values: decode each once)."""
    inverse, uniq = pd.factorize(keys)  # hash-based: O(n), unlike np.unique's sort
    words = []
    for k in uniq.tolist():
        raw = int(k & ((1 << 63) - 1)).to_bytes(8, "little").rstrip(b"\0")
        words.append(raw.decode("ascii"))
    dictionary = pa.array(words, pa.string())
    indices = pa.array(inverse.astype(np.int32), mask=None if present.all() else ~present)
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def decimal(values: np.ndarray, present: np.ndarray) -> pa.Array:
    """Exact DECIMAL(18,4) from integer ten-thousandths, without Python objects."""
    n = len(values)
    words = np.zeros((n, 2), np.int64)
    words[:, 0] = values
    words[:, 1] = values >> 63  # sign extension into the high word
    validity = pa.array(present).buffers()[1] if not present.all() else None
    return pa.Array.from_buffers(pa.decimal128(18, 4), n, [validity, pa.py_buffer(words)])


def arrow(kind: Kind, values: np.ndarray, present: np.ndarray | None) -> pa.Array:
    """Arrow array of a column (``present`` None: no nulls)."""
    if present is None:
        present = np.ones(len(values), bool)
    if kind is Kind.PRICE:
        return decimal(values, present)
    if kind is Kind.CODE:
        return codes_to_strings(values, present)
    if kind is Kind.ALPHA:
        return keys_to_strings(values, present)
    return pa.array(values, ARROW_TYPES[kind], mask=None if present.all() else ~present)
