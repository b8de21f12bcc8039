"""Order and execution ids: how they are written and read, in one place.

Each feed writes ids its own way, and the app shows them as their file does:
text PITCH as upper-case base 36, 12 characters zero-padded (13 above
36**12-1, since ids are unsigned 64-bit); binary Multicast PITCH ids are
unsigned 64-bit integers that Cboe's documents and Wireshark print in decimal.
Every id shown, exported or put in a sentence goes through :func:`format_ids`
(or :func:`format_id`), told per row whether the row is binary; every id typed
goes through :func:`parse_id` or :func:`read_id`. Which rows are binary comes
from :class:`FileFeeds` (which files are binary), always passed in: no global.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
#: Digits of ID_MAX in decimal.
DECIMAL_WIDE = len(str(ID_MAX))
#: The two feeds, as :meth:`FileFeeds.scope` names them.
TEXT, BINARY = "text", "binary"
#: How a person is told the form of each feed's ids.
FORMS = {TEXT: "base 36, text files", BINARY: "decimal, binary files"}

_B36_CODES = np.frombuffer(B36_DIGITS.encode(), dtype=np.uint8)


@dataclass(frozen=True)
class FileFeeds:
    """Which loaded files are binary and which text: what decides how a row's ids look.

    Built from ``files.format`` (:func:`pitch.queries.file_feeds`) and handed to
    the formatters; hashable, so it caches with the data version.
    """

    binary: frozenset[int] = frozenset()
    text: frozenset[int] = frozenset()

    def is_binary(self, file_id: int | None) -> bool:
        """True when ``file_id`` is a binary file."""
        return file_id is not None and int(file_id) in self.binary

    @property
    def only_binary(self) -> bool:
        """Every loaded file is binary (so a row whose file is unknown is binary too)."""
        return bool(self.binary) and not self.text

    def scope(self, file_id: int | None = None) -> tuple[str, ...]:
        """The feeds an id may come from: the file's, or every feed loaded (text when none)."""
        if file_id is not None and (file_id in self.binary or file_id in self.text):
            return (BINARY,) if file_id in self.binary else (TEXT,)
        feeds = tuple(f for f, files in ((TEXT, self.text), (BINARY, self.binary)) if files)
        return feeds or (TEXT,)


#: No binary file: every row's ids in base 36, as before binary PITCH (the default).
ALL_TEXT = FileFeeds()


def binary_rows(n: int, feeds: FileFeeds, types: pa.Array | None = None,
                file_ids: pa.Array | None = None) -> np.ndarray:
    """Which of ``n`` rows are binary, as a boolean array.

    By the row's message type when there is one (binary codes start with
    ``0x``), else by its file, else (neither known) binary only when every
    loaded file is.
    """
    result = np.full(n, feeds.only_binary)
    if file_ids is not None and n:
        known = pc.is_in(file_ids, value_set=pa.array(sorted(feeds.binary), file_ids.type))
        result = np.where(file_ids.is_null().to_numpy(zero_copy_only=False), result,
                          pc.fill_null(known, False).to_numpy(zero_copy_only=False))
    if types is not None and n and _is_text(types.type):  # not a type code column: ignored
        typed = pc.starts_with(types.cast(pa.string()), "0x")
        result = np.where(types.is_null().to_numpy(zero_copy_only=False), result,
                          pc.fill_null(typed, False).to_numpy(zero_copy_only=False))
    return result.astype(bool)


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or \
        pa.types.is_string_view(kind)


def format_ids(values: pa.Array, binary: bool | np.ndarray = False) -> pa.Array:
    """Ids as people read them, on screen and in CSV: each row in its feed's form.

    ``binary`` says which rows are binary (decimal), one flag for all or one
    per row (:func:`binary_rows`); the others are base 36 as in text files.
    """
    flags = np.asarray(binary, dtype=bool)
    if not flags.any():
        return b36_array(values)
    if flags.all():
        return decimal_array(values)
    return pc.if_else(pa.array(np.broadcast_to(flags, len(values))),
                      decimal_array(values), b36_array(values))


def format_id(value: int | None, binary: bool = False) -> str:
    """One id as people read it ('' when missing): :func:`format_ids` of one value."""
    if missing(value):
        return ""
    return format_ids(pa.array([_in_range(int(value))], pa.uint64()), binary)[0].as_py()


def parse_id(text: str, binary: bool = False) -> int:
    """An id as typed by a person, in its feed's form (the inverse of :func:`format_id`)."""
    return parse_decimal(text) if binary else parse_b36(text)


@dataclass(frozen=True)
class IdReading:
    """An order id as typed, read in the form of each feed it may come from.

    ``text`` is its base-36 reading and ``binary`` its decimal one, each None
    when the text is not an id in that form or that feed is not in scope.
    ``mixed``: both feeds are in scope, so each reading matches its own feed's
    files only (the filters say so in their sentence).
    """

    text: int | None = None
    binary: int | None = None
    mixed: bool = False

    def readings(self) -> list[tuple[str, int]]:
        """``(feed, id)`` of each reading there is."""
        return [(f, v) for f, v in ((TEXT, self.text), (BINARY, self.binary)) if v is not None]

    def words(self) -> str:
        """The id as a sentence names it: ``1K27GA00000X``, or each reading with its form."""
        shown = [(format_id(v, f == BINARY), f) for f, v in self.readings()]
        if not self.mixed:
            return shown[0][0]
        return " or ".join(f"{text} ({FORMS[feed]})" for text, feed in shown)


def read_id(typed: str, scope: Sequence[str]) -> IdReading:
    """What ``typed`` means as an order id in each feed of ``scope`` (:meth:`FileFeeds.scope`).

    Raises ValueError, fit for a person, when it is an id in none of them.
    """
    found: dict[str, int] = {}
    problems: list[str] = []
    for feed in scope:
        try:
            found[feed] = parse_id(typed, binary=feed == BINARY)
        except ValueError as exc:
            problems.append(str(exc))
    if not found:
        if len(problems) == 1:
            raise ValueError(problems[0])
        raise ValueError(f"order id {typed!r} is neither base 36 (text files) nor decimal "
                         "(binary files)")
    return IdReading(found.get(TEXT), found.get(BINARY), mixed=len(set(scope)) > 1)


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


def decimal(value: int | None) -> str:
    """An id in decimal, as binary PITCH's documents and Wireshark write it ('' when missing)."""
    if missing(value):
        return ""
    return str(_in_range(int(value)))


def parse_decimal(text: str) -> int:
    """The integer of a decimal id as typed (leading zeros don't matter).

    Accepts 1 to 20 digits up to 2**64-1; raises ValueError with a message fit
    for a person otherwise.
    """
    cleaned = (text or "").strip()
    digits = cleaned.lstrip("0") or cleaned[:1]
    if not cleaned or len(digits) > DECIMAL_WIDE or not (cleaned.isascii() and cleaned.isdigit()):
        raise ValueError(f"order id {text!r} is not a decimal number of 1-{DECIMAL_WIDE} digits "
                         "(binary files write ids in decimal)")
    n = int(cleaned)
    if n > ID_MAX:
        raise ValueError(f"order id {text!r} is over {ID_MAX}, the largest 64-bit id")
    return n


def decimal_array(arr: pa.Array) -> pa.Array:
    """:func:`decimal` of a whole array of unsigned integers."""
    if not pa.types.is_unsigned_integer(arr.type):
        return by_value(arr, decimal)  # signed, float or objects: the careful version (it raises)
    return arr.cast(pa.string())


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
