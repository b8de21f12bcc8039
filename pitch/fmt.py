"""How values look on screen, in one place.

Times are ``HH:MM:SS.mmm`` (nanoseconds since midnight in the database), or
"unknown" where the database has none (a binary message before its unit's
first Time message); ids as in the file (:mod:`pitch.ids`: base 36 for text
files, decimal for binary ones), prices with 4 decimals and counts with
thousands separators. :func:`display_frame` readies a query frame for a table:
numbers stay numbers, so the table sorts them as numbers. The CSV export is
:mod:`pitch.export`. Pure functions: no Streamlit here, so the conventions have
plain unit tests.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .arrowtext import missing
from .ids import ALL_TEXT, FileFeeds, binary_rows, format_id, format_ids

NS_PER_MS = 1_000_000
NS_PER_DAY = 86_400 * 1_000_000_000
#: What a missing time reads, on screen and in a CSV's readable time column.
UNKNOWN_TIME = "unknown"

#: Columns holding nanoseconds since midnight.
TIME_COLUMNS = ("time_ns", "first_time_ns", "last_time_ns")
#: Columns holding ids (see pitch.ids).
ID_COLUMNS = ("order_id", "execution_id")
#: Columns holding prices (DECIMAL(18,4)).
PRICE_COLUMNS = ("price", "reference_price", "indicative_price", "auction_only_price", "vwap")

_HMS = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?\s*$")


def hms(ns: int | None) -> str:
    """``HH:MM:SS.mmm`` of nanoseconds since midnight; '' for a missing value."""
    if missing(ns):
        return ""
    ms = int(ns) // NS_PER_MS
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def shown_time(ns: int | None) -> str:
    """:func:`hms`, or "unknown" for a missing time (a time column is never just empty)."""
    return UNKNOWN_TIME if missing(ns) else hms(ns)


def at_time(ns: int | None) -> str:
    """``at HH:MM:SS.mmm`` for a sentence, or ``at an unknown time``."""
    return "at an unknown time" if missing(ns) else f"at {hms(ns)}"


def is_time_column(column: str) -> bool:
    """True for columns of nanoseconds since midnight (``time_ns``, ``first_time_ns``, ...)."""
    return column in TIME_COLUMNS or column.endswith("_time_ns")


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


def price(value: Decimal | float | None) -> str:
    """A price with 4 decimals and thousands separators: ``1,234.5600``."""
    if missing(value):
        return ""
    return f"{Decimal(str(value)):,.4f}"


def count(value: int | None) -> str:
    """An integer with thousands separators."""
    if missing(value):
        return ""
    return f"{int(value):,}"


def plural(n: int, noun: str) -> str:
    """``noun`` or ``noun + 's'`` to go with ``n``."""
    return noun if n == 1 else noun + "s"


def size(n_bytes: int | None) -> str:
    """A byte count for people: ``512 B``, ``1.5 KB``, ``20.0 MB``."""
    if missing(n_bytes):
        return ""
    value = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} B" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def seconds(value: float | None) -> str:
    """A duration: ``0.09 s``, ``12.3 s``, ``2 min 5 s``."""
    if missing(value):
        return ""
    if value < 10:
        return f"{value:.2f} s"
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(int(round(value)), 60)
    return f"{minutes} min {secs} s"


def raw_text(value: bytes | None) -> str:
    """A rejected line's bytes as text; bytes that are not UTF-8 show as ``\\xNN``."""
    if missing(value):
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
    if is_time_column(column) and (numeric or values.isna().all()):
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
    return missing(v) or isinstance(v, (Decimal, int, float, np.integer, np.floating))


def display_frame(df: pd.DataFrame, feeds: FileFeeds = ALL_TEXT) -> pd.DataFrame:
    """A copy for st.dataframe: numbers as numbers, ids and times as the text of the file.

    Integers become ``Int64`` and floats and prices ``Float64`` (missing values
    stay missing), so a table sorts them as numbers; their look (thousands
    separators, 4 decimals for prices) comes from ``ui.column_config``. Times
    become ``HH:MM:SS.mmm`` ("unknown" when missing) and lose their ``_ns``
    suffix, ids go through :func:`format_ids` in the form of each row's feed
    (its type code, else its file in ``feeds``), booleans read yes/no, and
    other values are text with missing ones empty.
    """
    out = pd.DataFrame(index=df.index)
    binary = frame_binary_rows(df, feeds)
    for col in df.columns:
        out[col] = _shown(column_kind(col, df[col]), col, df[col], binary)
    return out.rename(columns=_display_names(out.columns))


def frame_binary_rows(df: pd.DataFrame, feeds: FileFeeds) -> np.ndarray:
    """:func:`pitch.ids.binary_rows` of a frame: by its ``type`` column, else ``file_id``."""
    def column(name: str) -> pa.Array | None:
        return pa.array(df[name], from_pandas=True) if name in df.columns else None
    return binary_rows(len(df), feeds, types=column("type"), file_ids=column("file_id"))


def _shown(kind: str, column: str, values: pd.Series, binary: np.ndarray) -> pd.Series:
    if kind in ("int", "price", "float"):
        number_type = "Int64" if kind == "int" else "Float64"
        return pd.to_numeric(values, errors="coerce").astype(number_type)
    if kind == "id":  # through the one function that decides how ids are written
        texts = format_ids(pa.array(values, from_pandas=True), binary).to_pylist()
        return pd.Series([t or "" for t in texts], index=values.index, dtype=object)
    if kind == "time":
        return values.map(shown_time).astype(object)
    if kind == "wide_int":
        return values.map(count)
    # Object columns (a SQL answer's ids with nulls arrive as Python ints) value by value,
    # each id still in its row's form.
    return pd.Series([value(column, v, bool(b)) for v, b in zip(values, binary)],
                     index=values.index, dtype=object)


def is_numeric(values: pd.Series) -> bool:
    """True for integer and float columns (booleans are not numbers here)."""
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def number(v: Any) -> str:
    """A float with thousands separators and no float noise: ``1,234.5``."""
    if missing(v):
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


def value(column: str, v: Any, binary: bool = False) -> str:
    """One value as shown on screen, chosen by its column's kind (ids in the ``binary`` form)."""
    if is_time_column(column):
        return shown_time(v)
    if missing(v):
        return ""
    if column in ID_COLUMNS:
        return format_id(v, binary)
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


def describe(record: dict[str, Any], binary: bool | None = None) -> pd.DataFrame:
    """A record as a two-column [field, value] frame of display strings.

    Ids take the form of the record's feed: ``binary``, or when None its type
    code (binary codes start with ``0x``).
    """
    if binary is None:
        binary = str(record.get("type", "")).startswith("0x")
    return pd.DataFrame({"field": [_field(k) for k in record],
                         "value": [value(k, v, binary) for k, v in record.items()]})


def _field(column: str) -> str:
    # A time of day loses its unit (it reads 09:30:00.000); a duration keeps it.
    if column.endswith("_ns"):
        column = column[:-len("_ns")] + ("" if is_time_column(column) else " (ns)")
    return column.replace("_", " ")


def __getattr__(name: str) -> Any:
    # fmt.to_csv moved to pitch.export; pages/sql.py (owned elsewhere) still calls it here.
    # Imported on use: pitch.export imports this module.
    if name == "to_csv":
        from .export import to_csv
        return to_csv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
