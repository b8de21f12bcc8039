"""Messages: count, page, export and detail of the messages a filter matches."""

from __future__ import annotations

from dataclasses import replace

import duckdb
import pandas as pd

from ..arrowtext import missing
from ..filters import MessageFilter
from .base import (PAGE_SIZE, _order_by, _page, _with_type_names, block_counts, range_counts,
                   second_counts, stream_csv, value_counts)

#: Columns the Messages table shows (the export has every column).
MESSAGE_COLUMNS = ("file_id", "line_no", "time_ns", "type", "symbol", "order_id", "side",
                   "shares", "price", "execution_id")
#: Where a binary message was on the wire: its frame (as Wireshark numbers them), its
#: unit and its sequence number; shown after the line when binary files are in view.
SEQUENCING_COLUMNS = ("packet", "unit", "sequence")
#: Sort keys a person may choose, by label; only these reach ORDER BY.
MESSAGE_SORTS: dict[str, str] = {
    "time": "time_ns", "type": "type", "symbol": "symbol", "order id": "order_id",
    "side": "side", "shares": "shares", "price": "price", "file, line": "file_id",
}


#: Sort columns whose values the counts kept at ingest hold, and the table of each.
COUNTED_SORTS: dict[str, str] = {"type": "message_counts", "symbol": "message_counts",
                                 "side": "message_counts", "price": "message_prices",
                                 "shares": "message_shares"}


def message_count(conn: duckdb.DuckDBPyConnection, flt: MessageFilter) -> int:
    """How many messages match the filter.

    A filter of types, symbols, side and file only is a sum over the counts kept
    at ingest (:mod:`pitch.summaries`, which has those columns); a time window or
    an order id counts messages.
    """
    where, params, _ = flt.where()
    if _counted(flt):
        sql = f"SELECT coalesce(sum(messages), 0) FROM message_counts {where}"
    else:
        sql = f"SELECT count(*) FROM messages {where}"
    return int(conn.execute(sql, params).fetchone()[0])


def _counted(flt: MessageFilter) -> bool:
    """Whether ``message_counts`` can answer for this filter (it has only these columns)."""
    return replace(flt, types=(), symbols=(), side=None, file_id=None) == MessageFilter()


def messages_page(conn: duckdb.DuckDBPyConnection, flt: MessageFilter, *, sort: str = "time",
                  desc: bool = False, page: int = 1, page_size: int = PAGE_SIZE,
                  total: int | None = None, sequencing: bool = False) -> pd.DataFrame:
    """One page of matching messages (1-based ``page``), with type names.

    Pass ``total`` (from :func:`message_count`) to make pages near the end cheap.
    ``sequencing`` adds :data:`SEQUENCING_COLUMNS` after ``line_no`` (empty for text).
    """
    where, params, _ = flt.where()
    columns = MESSAGE_COLUMNS[:2] + SEQUENCING_COLUMNS + MESSAGE_COLUMNS[2:] if sequencing \
        else MESSAGE_COLUMNS
    counts = blocks = None
    if _counted(flt):
        values = value_counts(conn, COUNTED_SORTS, "messages", where, params)
        ids = range_counts(conn, "message_ids", "messages", where, params)
        seconds = second_counts(conn, where, params)

        def counts(column: str, desc: bool) -> list | None:
            if column == "order_id":  # message_ids has no symbol column
                return None if flt.symbols else ids(desc)
            if column == "time_ns":  # message_seconds has neither symbol nor side
                return None if flt.symbols or flt.side else seconds(desc)
            return values(column, desc)
        blocks = block_counts(conn, "message_blocks", "messages",
                              ("type", "symbol", "side", "file_id"), where, params)
    return _with_type_names(_page(conn, "messages", columns, MESSAGE_SORTS, where,
                                  params, sort, desc, page, page_size, total, counts, blocks))


def messages_csv(conn: duckdb.DuckDBPyConnection, flt: MessageFilter, *, sort: str = "time",
                 desc: bool = False) -> bytes:
    """CSV of every matching message (every column), in the table's order."""
    where, params, _ = flt.where()
    return stream_csv(conn, f"SELECT * FROM messages {where} "
                            f"{_order_by(MESSAGE_SORTS, sort, desc)}", params)


def message_detail(conn: duckdb.DuckDBPyConnection, file_id: int, line_no: int) -> dict:
    """Every non-empty field of one message, plus its file's name.

    The time is always there, None when unknown (so the panel can say so).
    """
    df = conn.execute("""
        SELECT f.name AS file, m.* FROM messages m JOIN files f USING (file_id)
        WHERE m.file_id = ? AND m.line_no = ?
    """, [file_id, line_no]).df()
    if df.empty:
        return {}
    row = _with_type_names(df).iloc[0].to_dict()
    return {k: v for k, v in row.items() if k == "time_ns" or not missing(v)}
