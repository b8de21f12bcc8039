"""Order and execution ids: how they are written and read, in one place.

Ids are upper-case base 36 as in text PITCH files: 12 characters, zero-padded.
Binary PITCH ids are unsigned 64-bit, up to ``3W5E11264SGSF`` (2**64-1), so an
id above 36**12-1 takes 13 characters; the scalar and the whole-column versions
agree on that, and every id shown, exported or put in a sentence goes through
:func:`format_ids` (or :func:`format_id`). That is where binary files could
later have theirs shown in decimal.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrowtext import ZERO, by_value, fixed_width, ints, is_number_array, missing

B36_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Characters of an id in a text PITCH file; smaller ids are zero-padded to it.
B36_WIDTH = 12
#: The largest id that fits in B36_WIDTH characters.
B36_MAX = 36 ** B36_WIDTH - 1
#: The largest id at all: binary PITCH ids are unsigned 64-bit ("3W5E11264SGSF").
ID_MAX = 2 ** 64 - 1
#: Characters of ID_MAX in base 36: ids above B36_MAX take this many.
B36_WIDE = 13

_B36_CODES = np.frombuffer(B36_DIGITS.encode(), dtype=np.uint8)


def format_ids(values: pa.Array) -> pa.Array:
    """Ids as people read them, on screen and in CSV: base 36, as in text PITCH files.

    The one place that decides how an id is written: every id shown, exported
    or put in a sentence goes through here (or :func:`format_id`), so binary
    files could later show theirs in decimal by deciding it here alone.
    """
    return b36_array(values)


def format_id(value: int | None) -> str:
    """One id as people read it ('' when missing): :func:`format_ids` of one value."""
    if missing(value):
        return ""
    return format_ids(pa.array([_in_range(int(value))], pa.uint64()))[0].as_py()


def parse_id(text: str) -> int:
    """An id as typed by a person (the inverse of :func:`format_id`)."""
    return parse_b36(text)


def _in_range(n: int) -> int:
    if n < 0 or n > ID_MAX:
        raise ValueError(f"id {n} is outside 0 to 2**64-1")
    return n


def b36(value: int | None) -> str:
    """Upper-case base 36 of an id: 12 characters zero-padded, as in the file; 13 above 36**12-1.

    Raises ValueError for a value outside 0 to 2**64-1.
    """
    if missing(value):
        return ""
    n = _in_range(int(value))
    digits = []
    while n:
        n, r = divmod(n, 36)
        digits.append(B36_DIGITS[r])
    return "".join(reversed(digits)).rjust(B36_WIDTH, "0")


def parse_b36(text: str) -> int:
    """The integer of a base-36 id as typed (case and leading zeros don't matter).

    Accepts 1 to 13 characters up to ``3W5E11264SGSF`` (2**64-1); raises
    ValueError with a message fit for a person otherwise.
    """
    cleaned = (text or "").strip().upper()
    if not cleaned or len(cleaned) > B36_WIDE or any(c not in B36_DIGITS for c in cleaned):
        raise ValueError(f"order id {text!r} is not 1-{B36_WIDE} characters of 0-9/A-Z")
    n = int(cleaned, 36)
    if n > ID_MAX:
        raise ValueError(f"order id {text!r} is over {b36(ID_MAX)}, the largest 64-bit id")
    return n


def b36_array(arr: pa.Array) -> pa.Array:
    """:func:`b36` of a whole array of unsigned integers (12 characters, 13 above 36**12-1)."""
    if not is_number_array(arr) or (pa.types.is_signed_integer(arr.type)
                                    and arr.null_count < len(arr) and pc.min(arr).as_py() < 0):
        return by_value(arr, b36)  # not plain unsigned numbers: the careful version (it raises)
    n, mask = ints(arr, "uint64")
    chars = np.empty((len(n), B36_WIDE), dtype=np.uint8)
    for i in range(B36_WIDE - 1, -1, -1):
        chars[:, i] = _B36_CODES[n % 36]
        n = n // 36
    wide = fixed_width(chars, mask)
    # A leading zero means the id fits in the file's 12 characters: drop it.
    narrow = pa.array(chars[:, 0] == ZERO)
    return pc.if_else(narrow, pc.utf8_slice_codeunits(wide, 1), wide)
