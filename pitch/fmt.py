"""How values look on screen and in exported CSV, in one place.

Times are ``HH:MM:SS.mmm`` (nanoseconds since midnight in the database), ids
are 12-character zero-padded upper-case base 36 as in the file, prices have
4 decimals and counts thousands separators. Pure functions: no Streamlit here,
so the conventions have plain unit tests.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

NS_PER_MS = 1_000_000
NS_PER_DAY = 86_400 * 1_000_000_000
B36_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
B36_WIDTH = 12
B36_MAX = 36 ** B36_WIDTH - 1

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
    """12-character upper-case base 36, zero-padded, as ids appear in the file."""
    if _missing(value):
        return ""
    n = int(value)
    if n < 0:
        raise ValueError(f"id {n} is negative")
    digits = []
    while n:
        n, r = divmod(n, 36)
        digits.append(B36_DIGITS[r])
    return "".join(reversed(digits)).rjust(B36_WIDTH, "0")


def parse_b36(text: str) -> int:
    """The integer of a base-36 id as typed (case and leading zeros don't matter)."""
    cleaned = (text or "").strip().upper()
    if not cleaned or len(cleaned) > B36_WIDTH or any(c not in B36_DIGITS for c in cleaned):
        raise ValueError(f"order id {text!r} is not 1-12 characters of 0-9/A-Z")
    return int(cleaned, 36)


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


def display_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy for st.dataframe: every value as the text a person should read.

    Times ``HH:MM:SS.mmm``, ids base 36, prices ``1,234.5600``, integers
    ``12,345``, missing values empty. Time columns lose their ``_ns`` suffix.
    """
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        values = df[col]
        if is_numeric(values) and col not in (*TIME_COLUMNS, *ID_COLUMNS, *PRICE_COLUMNS) \
                and not col.endswith("_time_ns"):
            kind = "i" if pd.api.types.is_integer_dtype(values) else "f"
            out[col] = values.map(count if kind == "i" else number)
        else:
            out[col] = values.map(lambda v, c=col: value(c, v))
    return out.rename(columns=_display_names(out.columns))


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


def export_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy for CSV: raw typed values plus readable ones.

    Each time column keeps its nanoseconds and gains an ``HH:MM:SS.mmm``
    column beside it; ids become base 36 as in the file; prices are written
    with exactly 4 decimals (no thousands separators in CSV).
    """
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        values = df[col]
        if col in TIME_COLUMNS or col.endswith("_time_ns"):
            out[col] = values
            out[display_name(col)] = values.map(hms)
        elif col in ID_COLUMNS:
            out[col] = values.map(b36)
        elif col == "raw":
            out[col] = values.map(raw_text)
        elif col in PRICE_COLUMNS:
            out[col] = values.map(lambda v: "" if _missing(v) else f"{Decimal(str(v)):.4f}")
        else:
            out[col] = values
    return out


def to_csv(df: pd.DataFrame) -> bytes:
    """UTF-8 CSV bytes of :func:`export_frame`, without the index."""
    return export_frame(df).to_csv(index=False).encode("utf-8")


def value(column: str, v: Any) -> str:
    """One value as shown on screen, chosen by its column's kind."""
    if _missing(v):
        return ""
    if column in TIME_COLUMNS or column.endswith("_time_ns"):
        return hms(v)
    if column in ID_COLUMNS:
        return b36(v)
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
