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
    """
    n, w = m.shape
    block = np.zeros((n, 8), np.uint8)
    block[:, :w] = m
    return packed_alpha_key(block.view("<u8").ravel(), w)


def packed_alpha_key(packed: np.ndarray, width: int) -> np.ndarray:
    """:func:`alpha_key` of fields already packed little-endian into uint64 words (the
    ``width`` bytes of each field, zeros above them).

    Trimmed with word operations, not on (rows, 8) bytes: the last byte that is
    not a space is the highest non-zero byte once spaces are XORed to 0, and
    every byte below it is kept.
    """
    y = packed ^ np.uint64(int.from_bytes(b" " * width, "little"))
    for shift in (8, 16, 32):  # each byte ORs in the bytes above it
        y |= y >> np.uint64(shift)
    nonzero = (((y & _LOW7) + _LOW7) | y) & _HIGH  # the top bit of each non-zero byte
    return packed & ((nonzero >> np.uint64(7)) * np.uint64(0xFF)) | ALPHA_MARKER


def packed_printable(packed: np.ndarray, width: int) -> np.ndarray:
    """Whether each of the ``width`` bytes packed in each word is printable ASCII (32-126)."""
    low = packed & _LOW7  # per byte, no carry into the next: low + 0x60 and low + 1 <= 0xE0
    top = ((low + np.uint64(0x6060606060606060))  # top bit: low >= 32
           & ~(low + np.uint64(0x0101010101010101))  # low != 127
           & ~packed & _HIGH)  # byte < 128
    need = np.uint64(int.from_bytes(b"\x80" * width, "little"))
    return top & need == need


def codes_to_strings(codes: np.ndarray, present: np.ndarray) -> pa.Array:
    """Arrow dictionary array from one byte per row (few values: a lookup table)."""
    seen = np.flatnonzero(np.bincount(codes[present], minlength=256))
    lut = np.zeros(256, np.int32)
    lut[seen] = np.arange(len(seen), dtype=np.int32)
    dictionary = pa.array([chr(c) for c in seen.tolist()], pa.string())
    return pa.DictionaryArray.from_arrays(masked(lut[codes], pa.int32(), present), dictionary)


def keys_to_strings(keys: np.ndarray, present: np.ndarray) -> pa.Array:
    """Arrow string array from packed keys (few distinct values: decode each once)."""
    inverse, uniq = pd.factorize(keys)  # hash-based: O(n), unlike np.unique's sort
    words = []
    for k in uniq.tolist():
        raw = int(k & ((1 << 63) - 1)).to_bytes(8, "little").rstrip(b"\0")
        words.append(raw.decode("ascii"))
    dictionary = pa.array(words, pa.string())
    indices = masked(inverse.astype(np.int32), pa.int32(), present)
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def decimal(values: np.ndarray, present: np.ndarray) -> pa.Array:
    """Exact DECIMAL(18,4) from integer ten-thousandths, without Python objects."""
    n = len(values)
    words = np.empty((n, 2), np.int64)
    words[:, 0] = values
    words[:, 1] = values >> 63  # sign extension into the high word
    return pa.Array.from_buffers(pa.decimal128(18, 4), n, [validity(present),
                                                          pa.py_buffer(words)])


def validity(present: np.ndarray | None) -> pa.Buffer | None:
    """An Arrow validity bitmap (None when every value is present), packed by numpy
    (``pa.array(..., mask=...)`` converted its mask a value at a time)."""
    if present is None or present.all():
        return None
    return pa.py_buffer(np.packbits(present, bitorder="little"))


def masked(values: np.ndarray, type_: pa.DataType, present: np.ndarray | None) -> pa.Array:
    """Arrow array of fixed-width ``values``, NULL where not ``present`` (None: all are)."""
    values = np.ascontiguousarray(values, type_.to_pandas_dtype())
    return pa.Array.from_buffers(type_, len(values), [validity(present), pa.py_buffer(values)])


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
    return masked(values, ARROW_TYPES[kind], present)
