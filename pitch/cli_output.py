"""How the command line prints a result: an aligned table, csv or json.

Decimals keep their scale (61.9200), 64-bit ids stay whole integers, raw
bytes show as printable ASCII with ``\\xNN`` escapes; only table cells are cut
(at 60 characters), csv and json never are.
"""

from __future__ import annotations

import csv
import datetime
import json
import math
from decimal import Decimal
from typing import Any, TextIO

import numpy as np
import pandas as pd

FORMATS = ("table", "csv", "json")
_MAX_CELL = 60  # characters of a table cell; csv and json are never cut


def _plain(value: Any) -> Any:
    """A pandas/numpy cell as a plain Python value (None for every kind of null)."""
    if isinstance(value, (list, tuple, dict, np.ndarray)):
        return value.tolist() if isinstance(value, np.ndarray) else value
    if value is None or value is pd.NaT or (not isinstance(value, (str, bytes)) and pd.isna(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        # raw lines (rejects): printable ASCII as is, anything else as \xNN
        return "".join(chr(b) if 32 <= b < 127 else f"\\x{b:02x}" for b in bytes(value))
    return value


def _text(value: Any) -> str:
    """csv text of a plain value: decimals keep their scale (61.9200), ids stay integers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return str(value)


def _json(value: Any) -> str:
    if isinstance(value, Decimal):  # a JSON number with its exact digits
        return str(value) if value.is_finite() else "null"
    if isinstance(value, float) and not math.isfinite(value):
        return "null"
    return json.dumps(value, default=str)


def _table_cell(value: Any, column: str) -> str:
    if isinstance(value, bool) or value is None:
        return _text(value)
    if isinstance(value, int):
        # ids read better without separators (they are copied into queries)
        return str(value) if column.endswith("id") else f"{value:,}"
    if isinstance(value, Decimal):  # keep the scale: prices 61.9200, sums of shares 1,200
        return f"{value:,.{max(0, -value.as_tuple().exponent)}f}" if value.is_finite() else str(value)
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 1e15 else repr(value)
    text = _text(value)
    return text if len(text) <= _MAX_CELL else text[:_MAX_CELL - 1] + "\u2026"


def write_frame(frame: pd.DataFrame, fmt: str, out: TextIO) -> None:
    """Write a result as an aligned table, csv (header row first) or a json list of objects."""
    columns = [str(c) for c in frame.columns]
    rows = [[_plain(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_text(v) for v in row] for row in rows)
    elif fmt == "json":
        items = ["{" + ", ".join(f"{json.dumps(c)}: {_json(v)}" for c, v in zip(columns, row)) + "}"
                 for row in rows]
        out.write("[\n" + ",\n".join("  " + item for item in items) + "\n]\n" if items else "[]\n")
    else:
        cells = [[_table_cell(v, c) for v, c in zip(row, columns)] for row in rows]
        numeric = [all(isinstance(row[i], (int, float, Decimal)) or row[i] is None for row in rows)
                   and any(row[i] is not None for row in rows) for i in range(len(columns))]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]

        def line(values: list[str]) -> str:
            return "  ".join(v.rjust(w) if num else v.ljust(w)
                             for v, w, num in zip(values, widths, numeric)).rstrip()

        out.write(line(columns) + "\n" + line(["-" * w for w in widths]) + "\n")
        for row in cells:
            out.write(line(row) + "\n")
        if not rows:
            out.write("(no rows)\n")
