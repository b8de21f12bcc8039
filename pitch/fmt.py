"""How values look on screen and in exported CSV, in one place.

Times are ``HH:MM:SS.mmm`` (nanoseconds since midnight in the database), ids
are upper-case base 36 as in the file (12 characters, zero-padded, or 13 for
the unsigned 64-bit ids of binary PITCH that do not fit in 12), prices have
4 decimals and counts thousands separators. Pure functions: no Streamlit here,
so the conventions have plain unit tests.
"""

from __future__ import annotations

import io
import math
import re
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

NS_PER_MS = 1_000_000
NS_PER_DAY = 86_400 * 1_000_000_000
B36_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Characters of an id in a text PITCH file; smaller ids are zero-padded to it.
B36_WIDTH = 12
#: The largest id that fits in B36_WIDTH characters.
B36_MAX = 36 ** B36_WIDTH - 1
#: The largest id at all: binary PITCH ids are unsigned 64-bit ("3W5E11264SGSF").
ID_MAX = 2 ** 64 - 1
#: Characters of ID_MAX in base 36: ids above B36_MAX take this many.
B36_WIDE = 13

#: Columns holding nanoseconds since midnight.
TIME_COLUMNS = ("time_ns", "first_time_ns", "last_time_ns")
#: Columns holding base-36 ids.
ID_COLUMNS = ("order_id", "execution_id")
#: Columns holding prices (DECIMAL(18,4)).
PRICE_COLUMNS = ("price", "reference_price", "indicative_price", "auction_only_price", "vwap")

_HMS = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?\s*$")


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def hms(ns: int | None) -> str:
    """``HH:MM:SS.mmm`` of nanoseconds since midnight; '' for a missing value."""
    if _missing(ns):
        return ""
    ms = int(ns) // NS_PER_MS
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def parse_hms(text: str) -> int:
    """Nanoseconds since midnight of ``HH:MM``, ``HH:MM:SS`` or ``HH:MM:SS.mmm``.

    Raises ValueError with a message fit for a person.
    """
    match = _HMS.match(text or "")
    if not match:
        raise ValueError(f"time {text!r} is not HH:MM:SS.mmm")
    h, m, s, ms = match.groups()
    hours, minutes, seconds = int(h), int(m), int(s or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError(f"time {text!r} is out of range")
    millis = int((ms or "0").ljust(3, "0"))
    return (((hours * 60 + minutes) * 60 + seconds) * 1000 + millis) * NS_PER_MS


def b36(value: int | None) -> str:
    """Upper-case base 36 of an id: 12 characters zero-padded, as in the file; 13 above 36**12-1.

    Raises ValueError for a value outside 0 to 2**64-1.
    """
    if _missing(value):
        return ""
    n = int(value)
    if n < 0 or n > ID_MAX:
        raise ValueError(f"id {n} is outside 0 to 2**64-1")
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


def format_id(value: int | None) -> str:
    """One id as people read it ('' when missing): :func:`format_ids` of one value."""
    if _missing(value):
        return ""
    n = int(value)
    if n < 0 or n > ID_MAX:
        raise ValueError(f"id {n} is outside 0 to 2**64-1")
    return format_ids(pa.array([n], pa.uint64()))[0].as_py()


def parse_id(text: str) -> int:
    """An id as typed by a person (the inverse of :func:`format_id`)."""
    return parse_b36(text)


def price(value: Decimal | float | None) -> str:
    """A price with 4 decimals and thousands separators: ``1,234.5600``."""
    if _missing(value):
        return ""
    return f"{Decimal(str(value)):,.4f}"


def count(value: int | None) -> str:
    """An integer with thousands separators."""
    if _missing(value):
        return ""
    return f"{int(value):,}"


def plural(n: int, noun: str) -> str:
    """``noun`` or ``noun + 's'`` to go with ``n``."""
    return noun if n == 1 else noun + "s"


def size(n_bytes: int | None) -> str:
    """A byte count for people: ``512 B``, ``1.5 KB``, ``20.0 MB``."""
    if _missing(n_bytes):
        return ""
    value = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} B" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def seconds(value: float | None) -> str:
    """A duration: ``0.09 s``, ``12.3 s``, ``2 min 5 s``."""
    if _missing(value):
        return ""
    if value < 10:
        return f"{value:.2f} s"
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(int(round(value)), 60)
    return f"{minutes} min {secs} s"


def raw_text(value: bytes | None) -> str:
    """A rejected line's bytes as text; bytes that are not UTF-8 show as ``\\xNN``."""
    if _missing(value):
        return ""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "backslashreplace")
    return str(value)


#: Integers beyond this lose digits as JavaScript numbers in the browser's table.
EXACT_INT_MAX = 2 ** 53

#: How each kind of column is shown (see :func:`column_kind`): numbers stay numbers
#: so a click on a header sorts them as numbers; ids and times are text as in the file.
KINDS = ("time", "id", "price", "int", "float", "bool", "wide_int", "text")


def column_kind(column: str, values: pd.Series) -> str:
    """What a query column holds, for display: one of :data:`KINDS`.

    By name first (times, ids, prices), then by dtype. ``wide_int`` is an
    integer column with a value of 2**53 or more, which the browser could not
    show exactly as a number, so it is shown as text.
    """
    numeric = is_numeric(values)
    if (column in TIME_COLUMNS or column.endswith("_time_ns")) and numeric:
        return "time"
    if column in ID_COLUMNS and numeric:
        return "id"
    if column in PRICE_COLUMNS and (numeric or values.map(_decimal_like).all()):
        return "price"
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_integer_dtype(values):
        present = values.dropna()
        wide = len(present) and (int(present.max()) >= EXACT_INT_MAX
                                 or int(present.min()) <= -EXACT_INT_MAX)
        return "wide_int" if wide else "int"
    if numeric:
        return "float"
    return "text"


def _decimal_like(v: Any) -> bool:
    return _missing(v) or isinstance(v, (Decimal, int, float, np.integer, np.floating))


def display_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy for st.dataframe: numbers as numbers, ids and times as the text of the file.

    Integers become ``Int64`` and floats and prices ``Float64`` (missing values
    stay missing), so a table sorts them as numbers; their look (thousands
    separators, 4 decimals for prices) comes from ``ui.column_config``. Times
    become ``HH:MM:SS.mmm`` and lose their ``_ns`` suffix, ids go through
    :func:`format_ids`, booleans read yes/no, and other values are text with
    missing ones empty.
    """
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        out[col] = _shown(column_kind(col, df[col]), col, df[col])
    return out.rename(columns=_display_names(out.columns))


def _shown(kind: str, column: str, values: pd.Series) -> pd.Series:
    if kind in ("int", "price", "float"):
        number_type = "Int64" if kind == "int" else "Float64"
        return pd.to_numeric(values, errors="coerce").astype(number_type)
    if kind in ("time", "id"):  # whole columns at once, as for the CSV export
        convert = hms_array if kind == "time" else format_ids
        texts = convert(pa.array(values, from_pandas=True)).to_pylist()
        return pd.Series([t or "" for t in texts], index=values.index, dtype=object)
    if kind == "wide_int":
        return values.map(count)
    return values.map(lambda v: value(column, v))


def is_numeric(values: pd.Series) -> bool:
    """True for integer and float columns (booleans are not numbers here)."""
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def number(v: Any) -> str:
    """A float with thousands separators and no float noise: ``1,234.5``."""
    if _missing(v):
        return ""
    return f"{float(v):,.6f}".rstrip("0").rstrip(".")


def display_name(column: str) -> str:
    """A time column's name without its unit: ``time_ns`` -> ``time``."""
    if column == "time_ns":
        return "time"
    if column.endswith("_time_ns"):
        return column[: -len("_ns")]
    return column


def _display_names(columns: pd.Index) -> dict[str, str]:
    return {c: display_name(c) for c in columns if display_name(c) != c}


# --- CSV export: whole columns at once (numpy and Arrow), written by Arrow's CSV writer ---

def export_table(data: pd.DataFrame | pa.Table) -> pa.Table:
    """A table for CSV: raw typed values plus readable ones.

    Each time column keeps its nanoseconds and gains an ``HH:MM:SS.mmm``
    column beside it; ids are written by :func:`format_ids`; prices are written
    with exactly 4 decimals, without thousands separators; a reject's raw
    bytes become text. Columns are converted whole, so a million rows take
    about a second, not ten.
    """
    table = data if isinstance(data, pa.Table) else _arrow(data)
    names: list[str] = []
    arrays: list[pa.Array] = []
    for name, column in zip(table.column_names, table.columns):
        arr = column.combine_chunks()
        if name in TIME_COLUMNS or name.endswith("_time_ns"):
            names += [name, display_name(name)]
            arrays += [arr, hms_array(arr)]
            continue
        if name in ID_COLUMNS:
            arr = format_ids(arr)
        elif name in PRICE_COLUMNS:
            arr = price_array(arr)
        elif name == "raw":
            arr = _slow(arr, raw_text)
        names.append(name)
        arrays.append(arr)
    return pa.table(arrays, names=names)


def _csv_field(text: str) -> str:
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(c in text for c in ',"\r\n') else text


def _arrow(df: pd.DataFrame) -> pa.Table:
    """A frame as Arrow; a column Arrow cannot take (mixed objects) goes as text."""
    arrays = []
    for col in df.columns:
        try:
            arrays.append(pa.array(df[col], from_pandas=True))
        except (pa.ArrowException, TypeError, ValueError):
            arrays.append(pa.array([None if _missing(v) else str(v) for v in df[col]], pa.string()))
    return pa.table(arrays, names=[str(c) for c in df.columns])


def csv_bytes(table: pa.Table, header: bool = True) -> bytes:
    """RFC 4180 CSV; values are quoted only when some value in the table needs it."""
    # Arrow quotes every header name, so the header line is written here.
    head = (",".join(_csv_field(n) for n in table.column_names) + "\n").encode() if header else b""
    if not table.num_rows:
        return head
    for quoting in ("none", "needed"):
        sink = io.BytesIO()
        try:
            pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False,
                                                              quoting_style=quoting))
            return head + sink.getvalue()
        except pa.ArrowInvalid:  # a comma, quote or line break in a value
            continue
    raise AssertionError("unreachable: 'needed' quoting accepts every value")


def to_csv(df: pd.DataFrame | pa.Table) -> bytes:
    """UTF-8 CSV bytes of :func:`export_table`, with a header line."""
    return csv_bytes(export_table(df))


_B36_CODES = np.frombuffer(B36_DIGITS.encode(), dtype=np.uint8)
_ZERO = ord("0")


def _numeric(arr: pa.Array) -> bool:
    return pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)


def _slow(arr: pa.Array, func: Any) -> pa.Array:
    """``func`` value by value: for the odd column that is not plain numbers."""
    return pa.array([func(v) or None for v in arr.to_pylist()], pa.string())


def _ints(arr: pa.Array, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """(values with 0 where missing, missing mask) of a numeric array."""
    missing = arr.is_null().to_numpy(zero_copy_only=False)
    filled = pc.fill_null(arr, 0) if arr.null_count else arr
    return filled.to_numpy(zero_copy_only=False).astype(dtype), missing


def _fixed_width(chars: np.ndarray, missing: np.ndarray) -> pa.Array:
    """Rows of ASCII codes as a string array, null where missing."""
    width = chars.shape[1]
    raw = np.ascontiguousarray(chars).view(f"S{width}").ravel()
    return pa.array(raw, pa.binary(width), mask=missing).cast(pa.string())


def format_ids(values: pa.Array) -> pa.Array:
    """Ids as people read them, on screen and in CSV: base 36, as in text PITCH files.

    The one place that decides how an id is written: every id shown, exported
    or put in a sentence goes through here (or :func:`format_id`), so binary
    files could later show theirs in decimal by deciding it here alone.
    """
    return b36_array(values)


def b36_array(arr: pa.Array) -> pa.Array:
    """:func:`b36` of a whole array of unsigned integers (12 characters, 13 above 36**12-1)."""
    if not _numeric(arr) or (pa.types.is_signed_integer(arr.type)
                             and arr.null_count < len(arr) and pc.min(arr).as_py() < 0):
        return _slow(arr, b36)  # not plain unsigned numbers: the careful version (it raises)
    n, missing = _ints(arr, "uint64")
    chars = np.empty((len(n), B36_WIDE), dtype=np.uint8)
    for i in range(B36_WIDE - 1, -1, -1):
        chars[:, i] = _B36_CODES[n % 36]
        n = n // 36
    wide = _fixed_width(chars, missing)
    # A leading zero means the id fits in the file's 12 characters: drop it.
    narrow = pa.array(chars[:, 0] == _ZERO)
    return pc.if_else(narrow, pc.utf8_slice_codeunits(wide, 1), wide)


def hms_array(arr: pa.Array) -> pa.Array:
    """:func:`hms` of a whole array of nanoseconds since midnight."""
    if not _numeric(arr):
        return _slow(arr, hms)
    ns, missing = _ints(arr, "int64")
    ms = ns // NS_PER_MS
    if len(ms) and (ms.min() < 0 or ms.max() >= 100 * 3_600_000):
        return _slow(arr, hms)  # not a time of day: leave it to the careful version
    fields = [(ms // 3_600_000, 2, ":"), (ms // 60_000 % 60, 2, ":"),
              (ms // 1000 % 60, 2, "."), (ms % 1000, 3, "")]
    chars = np.empty((len(ms), 12), dtype=np.uint8)
    pos = 0
    for part, width, sep in fields:
        for i in range(width):
            chars[:, pos + i] = _ZERO + part // 10 ** (width - 1 - i) % 10
        pos += width
        if sep:
            chars[:, pos] = ord(sep)
            pos += 1
    return _fixed_width(chars, missing)


def price_array(arr: pa.Array) -> pa.Array:
    """Prices with exactly 4 decimals (``61.9200``), null where missing."""
    if pa.types.is_decimal(arr.type):  # exact, straight from DuckDB
        return arr.cast(pa.decimal128(38, 4)).cast(pa.string())
    if not _numeric(arr):
        return _slow(arr, lambda v: price(v).replace(",", ""))
    values, missing = _ints(arr, "float64")
    ticks = np.rint(values * 10_000).astype(np.int64)
    whole, frac = np.divmod(np.abs(ticks), 10_000)
    sign = np.where(ticks < 0, "-", "")
    # frac + 10000 reads "1dddd": its leading "1" is replaced by the decimal point.
    text = pc.binary_join_element_wise(
        pa.array(sign), pa.array(whole).cast(pa.string()), ".",
        pc.utf8_slice_codeunits(pa.array(frac + 10_000).cast(pa.string()), 1), "")
    return pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), text)


def value(column: str, v: Any) -> str:
    """One value as shown on screen, chosen by its column's kind."""
    if _missing(v):
        return ""
    if column in TIME_COLUMNS or column.endswith("_time_ns"):
        return hms(v)
    if column in ID_COLUMNS:
        return format_id(v)
    if column in PRICE_COLUMNS:
        return price(v)
    if column == "raw":
        return raw_text(v)
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return count(v)
    if isinstance(v, (float, np.floating)):
        return number(v)
    return str(v)


def describe(record: dict[str, Any]) -> pd.DataFrame:
    """A record as a two-column [field, value] frame of display strings."""
    return pd.DataFrame({"field": [k.replace("_ns", "").replace("_", " ") for k in record],
                         "value": [value(k, v) for k, v in record.items()]})
