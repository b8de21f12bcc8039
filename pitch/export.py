"""CSV of query results: whole columns at once (numpy and Arrow), Arrow's CSV writer.

Raw typed values stay (so a spreadsheet or another program can compute with
them) and readable ones join them: each time column gains an ``HH:MM:SS.mmm``
column beside it ("unknown" where the time is; the nanoseconds stay empty),
ids are written by :func:`pitch.ids.format_ids` in each row's feed's form,
prices with exactly 4 decimals and no thousands separators, a reject's raw
bytes as text.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from . import fmt
from .arrowtext import ZERO, by_value, fixed_width, ints, is_number_array, missing
from .ids import ALL_TEXT, FileFeeds, binary_rows, format_ids


def export_table(data: pd.DataFrame | pa.Table, feeds: FileFeeds = ALL_TEXT) -> pa.Table:
    """A table for CSV: raw typed values plus readable ones.

    Each time column keeps its nanoseconds and gains an ``HH:MM:SS.mmm``
    column beside it ("unknown" where the time is missing); ids are written
    by :func:`format_ids`, decimal for the rows of binary files (by their type
    code, else their file in ``feeds``) and base 36 for text; prices are
    written with exactly 4 decimals, without thousands separators; a reject's
    raw bytes become text. Columns are converted whole, so a million rows
    take about a second, not ten.
    """
    table = data if isinstance(data, pa.Table) else _arrow(data)
    names: list[str] = []
    arrays: list[pa.Array] = []
    binary = table_binary_rows(table, feeds)
    for name, column in zip(table.column_names, table.columns):
        arr = column.combine_chunks()
        if fmt.is_time_column(name):
            names += [name, fmt.display_name(name)]
            arrays += [arr, pc.fill_null(hms_array(arr), fmt.UNKNOWN_TIME)]
            continue
        if name in fmt.ID_COLUMNS:
            arr = format_ids(arr, binary)
        elif name in fmt.PRICE_COLUMNS:
            arr = price_array(arr)
        elif name == "raw":
            arr = by_value(arr, fmt.raw_text)
        names.append(name)
        arrays.append(arr)
    return pa.table(arrays, names=names)


def unique_names(names: list[str]) -> list[str]:
    """Repeated column names made unique (``count``, ``count_2``; never a name already
    there): what the SQL page shows, its CSV's header says and the API's JSON keys are."""
    taken: set[str] = set()
    out = []
    for col in names:
        name, n = col, 1
        while name in taken:
            n += 1
            name = f"{col}_{n}"
        taken.add(name)
        out.append(name)
    return out


def unique_columns(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with :func:`unique_names` as its column names."""
    return df.set_axis(unique_names([str(c) for c in df.columns]), axis=1)


def table_binary_rows(table: pa.Table, feeds: FileFeeds) -> np.ndarray:
    """:func:`pitch.ids.binary_rows` of an Arrow table: by its ``type``, else its ``file_id``."""
    def column(name: str) -> pa.Array | None:  # the first of that name (SQL may repeat one)
        names = table.column_names
        return table.column(names.index(name)).combine_chunks() if name in names else None
    return binary_rows(table.num_rows, feeds, types=column("type"), file_ids=column("file_id"))


def _csv_field(text: str) -> str:
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(c in text for c in ',"\r\n') else text


def _arrow(df: pd.DataFrame) -> pa.Table:
    """A frame as Arrow; a column Arrow cannot take (mixed objects) goes as text."""
    arrays = []
    for i in range(df.shape[1]):  # by position: a query may name two columns alike
        col = df.iloc[:, i]
        try:
            arrays.append(pa.array(col, from_pandas=True))
        except (pa.ArrowException, TypeError, ValueError):
            arrays.append(pa.array([None if missing(v) else str(v) for v in col], pa.string()))
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


def to_csv(df: pd.DataFrame | pa.Table, feeds: FileFeeds = ALL_TEXT) -> bytes:
    """UTF-8 CSV bytes of :func:`export_table`, with a header line."""
    return csv_bytes(export_table(df, feeds))


def hms_array(arr: pa.Array) -> pa.Array:
    """:func:`fmt.hms` of a whole array of nanoseconds since midnight."""
    if not is_number_array(arr):
        return by_value(arr, fmt.hms)
    ns, mask = ints(arr, "int64")
    ms = ns // fmt.NS_PER_MS
    if len(ms) and (ms.min() < 0 or ms.max() >= 100 * 3_600_000):
        return by_value(arr, fmt.hms)  # not a time of day: leave it to the careful version
    fields = [(ms // 3_600_000, 2, ":"), (ms // 60_000 % 60, 2, ":"),
              (ms // 1000 % 60, 2, "."), (ms % 1000, 3, "")]
    chars = np.empty((len(ms), 12), dtype=np.uint8)
    pos = 0
    for part, width, sep in fields:
        for i in range(width):
            chars[:, pos + i] = ZERO + part // 10 ** (width - 1 - i) % 10
        pos += width
        if sep:
            chars[:, pos] = ord(sep)
            pos += 1
    return fixed_width(chars, mask)


def price_array(arr: pa.Array) -> pa.Array:
    """Prices with exactly 4 decimals (``61.9200``), null where missing."""
    if pa.types.is_decimal(arr.type):  # exact, straight from DuckDB
        return arr.cast(pa.decimal128(38, 4)).cast(pa.string())
    if not is_number_array(arr):
        return by_value(arr, lambda v: fmt.price(v).replace(",", ""))
    values, mask = ints(arr, "float64")
    ticks = np.rint(values * 10_000).astype(np.int64)
    whole, frac = np.divmod(np.abs(ticks), 10_000)
    sign = np.where(ticks < 0, "-", "")
    # frac + 10000 reads "1dddd": its leading "1" is replaced by the decimal point.
    text = pc.binary_join_element_wise(
        pa.array(sign), pa.array(whole).cast(pa.string()), ".",
        pc.utf8_slice_codeunits(pa.array(frac + 10_000).cast(pa.string()), 1), "")
    return pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), text)
