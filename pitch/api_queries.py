"""The queries the REST API needs that :mod:`pitch.queries` does not have (yet).

Each export here is the SQL of a page's CSV (:func:`pitch.queries.messages_csv`
and friends), returned instead of run, so that the API can stream it batch by
batch: ``queries.stream_csv`` joins the whole CSV in memory. Tests hold each
one byte for byte equal to its page twin. They belong in ``queries.py``; they
live here until the module that owns it takes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from . import queries
from .filters import MessageFilter, OrderFilter


@dataclass(frozen=True)
class Export:
    """Every matching row of a table: SQL with bound parameters, and a file name for it."""

    sql: str
    params: list | dict
    name: str  # without extension: "messages" -> messages.csv


def _order_by(sorts: dict[str, str], sort: str, desc: bool) -> str:
    # As queries._order_by: a whitelisted column, NULLs last, ties in file order.
    column = sorts.get(sort, next(iter(sorts.values())))
    return f"ORDER BY {column} {'DESC' if desc else 'ASC'} NULLS LAST, file_id ASC, line_no ASC"


def messages_export(flt: MessageFilter, sort: str = "time", desc: bool = False) -> Export:
    """Every column of every matching message, as :func:`queries.messages_csv` writes them."""
    where, params, _ = flt.where()
    return Export(f"SELECT * FROM messages {where} {_order_by(queries.MESSAGE_SORTS, sort, desc)}",
                  params, "messages")


def orders_export(flt: OrderFilter, sort: str = "time", desc: bool = False) -> Export:
    """Every matching order, as :func:`queries.orders_csv` writes them."""
    where, params, _ = flt.where()
    return Export(f"SELECT {', '.join(queries.ORDER_COLUMNS)} FROM orders {where} "
                  f"{_order_by(queries.ORDER_SORTS, sort, desc)}", params, "orders")


_TRADES = """
    SELECT time_ns, {symbol}price, shares, type, execution_id, order_id,
           sum(price * shares) OVER w / sum(shares) OVER w AS vwap, file_id, line_no
    FROM executions WHERE symbol = ? AND NOT broken
    WINDOW w AS (ORDER BY time_ns, file_id, line_no ROWS UNBOUNDED PRECEDING)
    ORDER BY time_ns, file_id, line_no
"""


def trades_export(symbol: str) -> Export:
    """Every unbroken trade of a symbol with the running VWAP (:func:`queries.symbol_trades_csv`)."""
    return Export(_TRADES.format(symbol="symbol, "), [symbol], f"trades-{symbol}")


def trades_page(conn: duckdb.DuckDBPyConnection, symbol: str, page: int,
                page_size: int) -> pd.DataFrame:
    """One page of :func:`queries.symbol_trades` (same columns, same running VWAP)."""
    return conn.execute(f"{_TRADES.format(symbol='')} LIMIT ? OFFSET ?",
                        [symbol, page_size, (page - 1) * page_size]).df()


def rejects_export(file_id: int) -> Export:
    """Every reject of one file (:func:`queries.rejects_csv`)."""
    return Export("SELECT line_no, byte_offset, reason, raw FROM rejects WHERE file_id = ? "
                  "ORDER BY line_no", [file_id], f"rejects-{file_id}")


def all_rejects_export(file_id: int | None = None) -> Export:
    """Rejects of every file (or one), in file order, with their file: what ``pitch rejects`` lists."""
    return Export("SELECT file_id, line_no, byte_offset, reason, raw FROM rejects "
                  "WHERE $f IS NULL OR file_id = $f ORDER BY file_id, line_no",
                  {"f": file_id}, "rejects")


def all_rejects_page(conn: duckdb.DuckDBPyConnection, file_id: int | None, page: int,
                     page_size: int) -> pd.DataFrame:
    """One page of :func:`all_rejects_export`."""
    what = all_rejects_export(file_id)
    return conn.execute(f"{what.sql} LIMIT $n OFFSET $o",
                        {"f": file_id, "n": page_size, "o": (page - 1) * page_size}).df()


def all_reject_count(conn: duckdb.DuckDBPyConnection, file_id: int | None = None) -> int:
    """How many rows :func:`all_rejects_export` has."""
    return int(conn.execute("SELECT count(*) FROM rejects WHERE $f IS NULL OR file_id = $f",
                            {"f": file_id}).fetchone()[0])


#: The ingest history with what ``pitch files`` shows (seconds to the millisecond)
#: and what a script needs to identify a file (its sha256) or its time span.
FILES_EXPORT = Export("""
    SELECT file_id, name, size, sha256, messages, rejects, status, source, started_at,
           finished_at, round(seconds, 3) AS seconds, first_time_ns, last_time_ns
    FROM files ORDER BY file_id""", [], "files")


def files_table(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every row of :data:`FILES_EXPORT`."""
    return conn.execute(FILES_EXPORT.sql).df()


def file_row(conn: duckdb.DuckDBPyConnection, file_id: int) -> dict | None:
    """One file's row of :data:`FILES_EXPORT`, or None."""
    df = conn.execute(f"SELECT * FROM ({FILES_EXPORT.sql}) WHERE file_id = ?", [file_id]).df()
    return None if df.empty else df.iloc[0].to_dict()


