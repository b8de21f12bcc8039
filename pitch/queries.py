"""Read-side queries shared by the CLI and the app.

Every function takes a DuckDB connection (or cursor) and returns a pandas
DataFrame or plain values; SQL lives here, never in pages.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import export
from .arrowtext import missing
from .filters import TYPE_NAMES, MessageFilter, OrderFilter
from .layouts import ADD_CODES

_ADDS = ", ".join(f"'{c}'" for c in ADD_CODES)


def message_type_counts(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Message types present with their counts, most frequent first."""
    return conn.execute("""
        SELECT t.name AS message_type, m.type AS code, count(*) AS count
        FROM messages m JOIN message_types t ON t.code = m.type
        GROUP BY ALL ORDER BY count DESC, message_type
    """).df()


def top_symbols(conn: duckdb.DuckDBPyConnection, n: int = 10) -> pd.DataFrame:
    """Symbols by executed volume (executions not broken), largest first, ties by symbol."""
    return conn.execute("""
        SELECT symbol, sum(shares)::BIGINT AS executed_shares
        FROM executions WHERE NOT broken AND symbol IS NOT NULL
        GROUP BY symbol ORDER BY executed_shares DESC, symbol LIMIT ?
    """, [n]).df()


def totals(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Headline numbers: files, messages, rejects, symbols, orders, executed shares."""
    row = conn.execute("""
        SELECT (SELECT count(*) FROM files),
               (SELECT count(*) FROM messages),
               (SELECT count(*) FROM rejects),
               (SELECT count(DISTINCT symbol) FROM messages),
               (SELECT count(*) FROM orders),
               (SELECT coalesce(sum(shares), 0) FROM executions WHERE NOT broken)
    """).fetchone()
    keys = ("files", "messages", "rejects", "symbols", "orders", "executed_shares")
    return {k: int(v) for k, v in zip(keys, row)}


# --- everything below serves the Streamlit pages -----------------------------------------

PAGE_SIZE = 50

#: Columns the Messages table shows (the export has every column).
MESSAGE_COLUMNS = ("file_id", "line_no", "time_ns", "type", "symbol", "order_id", "side",
                   "shares", "price", "execution_id")
#: Sort keys a person may choose, by label; only these reach ORDER BY.
MESSAGE_SORTS: dict[str, str] = {
    "time": "time_ns", "type": "type", "symbol": "symbol", "order id": "order_id",
    "side": "side", "shares": "shares", "price": "price", "file, line": "file_id",
}
ORDER_COLUMNS = ("order_id", "symbol", "side", "price", "shares", "executed_shares",
                 "cancelled_shares", "remaining_shares", "status", "first_time_ns",
                 "last_time_ns", "events", "file_id", "line_no")
ORDER_SORTS: dict[str, str] = {
    "time": "first_time_ns", "symbol": "symbol", "order id": "order_id", "price": "price",
    "shares": "shares", "executed": "executed_shares", "remaining": "remaining_shares",
    "events": "events", "last event": "last_time_ns",
}
#: Bucket widths for the message-rate chart, by label, in nanoseconds.
BUCKETS: dict[str, int] = {"1 s": 10**9, "10 s": 10 * 10**9, "1 min": 60 * 10**9,
                           "5 min": 300 * 10**9, "15 min": 900 * 10**9, "1 h": 3600 * 10**9}


def _order_by(sorts: dict[str, str], sort: str, desc: bool, reverse: bool = False) -> str:
    """ORDER BY a whitelisted column, ties in file order; ``reverse`` turns all of it round."""
    column = sorts.get(sort, next(iter(sorts.values())))  # never user text in SQL
    direction = "DESC" if desc != reverse else "ASC"
    nulls, tie = ("NULLS FIRST", "DESC") if reverse else ("NULLS LAST", "ASC")
    return f"ORDER BY {column} {direction} {nulls}, file_id {tie}, line_no {tie}"


def _page(conn: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...],
          sorts: dict[str, str], where: str, params: list, sort: str, desc: bool, page: int,
          page_size: int, total: int | None) -> pd.DataFrame:
    """One page of ``table``, cheap however deep it is.

    Deep pages cost a sort of everything before them. Two measured fixes (see
    benchmarks/bench_pages.py): only the narrow (file_id, line_no) keys are
    sorted and the 50 rows fetched after (late materialisation), and a page in
    the second half is read from the other end in reverse (needs ``total``).
    """
    offset, limit = (max(page, 1) - 1) * page_size, page_size
    reverse = total is not None and offset > total // 2
    if reverse:
        limit = max(min(page_size, total - offset), 0)
        offset = max(total - offset - limit, 0)
    order = _order_by(sorts, sort, desc, reverse)
    df = conn.execute(f"""
        SELECT {', '.join(columns)} FROM {table} SEMI JOIN (
            SELECT file_id, line_no FROM {table} {where} {order} LIMIT ? OFFSET ?
        ) keys USING (file_id, line_no)
        {order}
    """, params + [limit, offset]).df()
    return df.iloc[::-1].reset_index(drop=True) if reverse else df


def _with_type_names(df: pd.DataFrame) -> pd.DataFrame:
    if "type" in df.columns:
        df.insert(df.columns.get_loc("type") + 1, "message_type",
                  df["type"].map(lambda c: TYPE_NAMES.get(c, c)))
    return df


def data_version(conn: duckdb.DuckDBPyConnection) -> tuple:
    """Changes whenever a file lands or the database is cleared: a cache key."""
    return tuple(conn.execute(
        "SELECT count(*), max(file_id), sum(messages), sum(rejects) FROM files").fetchone())


def stream_csv(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None,
               batch_rows: int = 100_000) -> bytes:
    """CSV bytes of a whole query, batch by batch (Arrow from DuckDB, :func:`export.export_table`)."""
    reader = conn.sql(sql, params=params or []).to_arrow_reader(batch_rows)
    parts: list[bytes] = []
    for batch in reader:
        parts.append(export.csv_bytes(_named_types(export.export_table(pa.Table.from_batches([batch]))),
                                   header=not parts))
    if not parts:  # no rows: still the header line
        parts.append(export.csv_bytes(_named_types(export.export_table(reader.schema.empty_table()))))
    return b"".join(parts)


def _named_types(table: pa.Table) -> pa.Table:
    """Add ``message_type`` (the type's name) after a ``type`` column of codes."""
    if "type" not in table.column_names:
        return table
    codes = pa.array(list(TYPE_NAMES))
    names = pc.take(pa.array(list(TYPE_NAMES.values())),
                    pc.index_in(table.column("type"), value_set=codes))
    names = pc.coalesce(names, table.column("type").combine_chunks())  # unknown codes as is
    return table.add_column(table.column_names.index("type") + 1, "message_type", names)


# --- Overview -------------------------------------------------------------------------

def time_bounds(conn: duckdb.DuckDBPyConnection) -> tuple[int | None, int | None]:
    """First and last message time over all files (from ``files``: no scan)."""
    return tuple(conn.execute(  # type: ignore[return-value]
        "SELECT min(first_time_ns), max(last_time_ns) FROM files").fetchone())


def pick_bucket(span_ns: int, max_buckets: int = 600) -> str:
    """The finest bucket label that keeps the rate chart under ``max_buckets`` bars."""
    for label, width in BUCKETS.items():
        if span_ns // width < max_buckets:
            return label
    return list(BUCKETS)[-1]


def message_rate(conn: duckdb.DuckDBPyConnection, bucket_ns: int) -> pd.DataFrame:
    """Messages per time bucket and type: [bucket_ns, code, message_type, count]."""
    df = conn.execute("""
        SELECT time_ns // $b * $b AS bucket_ns, type AS code, count(*) AS count
        FROM messages GROUP BY ALL ORDER BY bucket_ns, code
    """, {"b": bucket_ns}).df()
    df.insert(2, "message_type", df["code"].map(lambda c: TYPE_NAMES.get(c, c)))
    return df


# --- Messages -------------------------------------------------------------------------

def symbols(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Every symbol seen, sorted (for filter choices)."""
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT symbol FROM messages WHERE symbol IS NOT NULL ORDER BY 1").fetchall()]


def message_count(conn: duckdb.DuckDBPyConnection, flt: MessageFilter) -> int:
    """How many messages match the filter."""
    where, params, _ = flt.where()
    return int(conn.execute(f"SELECT count(*) FROM messages {where}", params).fetchone()[0])


def messages_page(conn: duckdb.DuckDBPyConnection, flt: MessageFilter, *, sort: str = "time",
                  desc: bool = False, page: int = 1, page_size: int = PAGE_SIZE,
                  total: int | None = None) -> pd.DataFrame:
    """One page of matching messages (1-based ``page``), with type names.

    Pass ``total`` (from :func:`message_count`) to make pages near the end cheap.
    """
    where, params, _ = flt.where()
    return _with_type_names(_page(conn, "messages", MESSAGE_COLUMNS, MESSAGE_SORTS, where,
                                  params, sort, desc, page, page_size, total))


def messages_csv(conn: duckdb.DuckDBPyConnection, flt: MessageFilter, *, sort: str = "time",
                 desc: bool = False) -> bytes:
    """CSV of every matching message (every column), in the table's order."""
    where, params, _ = flt.where()
    return stream_csv(conn, f"SELECT * FROM messages {where} "
                            f"{_order_by(MESSAGE_SORTS, sort, desc)}", params)


def message_detail(conn: duckdb.DuckDBPyConnection, file_id: int, line_no: int) -> dict:
    """Every non-empty field of one message, plus its file's name."""
    df = conn.execute("""
        SELECT f.name AS file, m.* FROM messages m JOIN files f USING (file_id)
        WHERE m.file_id = ? AND m.line_no = ?
    """, [file_id, line_no]).df()
    if df.empty:
        return {}
    row = _with_type_names(df).iloc[0].to_dict()
    return {k: v for k, v in row.items() if not missing(v)}


# --- Orders ---------------------------------------------------------------------------

def order_count(conn: duckdb.DuckDBPyConnection, flt: OrderFilter) -> int:
    """How many orders match the filter."""
    where, params, _ = flt.where()
    return int(conn.execute(f"SELECT count(*) FROM orders {where}", params).fetchone()[0])


def orders_page(conn: duckdb.DuckDBPyConnection, flt: OrderFilter, *, sort: str = "time",
                desc: bool = False, page: int = 1, page_size: int = PAGE_SIZE,
                total: int | None = None) -> pd.DataFrame:
    """One page of matching orders (1-based ``page``); ``total`` as for messages_page."""
    where, params, _ = flt.where()
    return _page(conn, "orders", ORDER_COLUMNS, ORDER_SORTS, where, params, sort, desc, page,
                 page_size, total)


def orders_csv(conn: duckdb.DuckDBPyConnection, flt: OrderFilter, *, sort: str = "time",
               desc: bool = False) -> bytes:
    """CSV of every matching order."""
    where, params, _ = flt.where()
    return stream_csv(conn, f"SELECT {', '.join(ORDER_COLUMNS)} FROM orders "
                            f"{where} {_order_by(ORDER_SORTS, sort, desc)}", params)


def order_instances(conn: duckdb.DuckDBPyConnection, order_id: int) -> pd.DataFrame:
    """Every add of this order id (ids may be reused, and files differ), oldest first."""
    return conn.execute(f"""
        SELECT {', '.join(ORDER_COLUMNS)} FROM orders WHERE order_id = ?
        ORDER BY file_id, line_no
    """, [order_id]).df()


def order_lifecycle(conn: duckdb.DuckDBPyConnection, file_id: int, line_no: int) -> pd.DataFrame:
    """The add, each execution and cancel of one order, and the shares left after each.

    Columns: line_no, time_ns, type, message_type, event, shares, remaining_shares,
    price, execution_id. Empty when there is no add at (file_id, line_no).
    """
    df = conn.execute(f"""
        WITH o AS (
            -- the order ends where the next add of its id starts (ids are reused)
            SELECT *, (SELECT min(n.line_no) FROM orders n WHERE n.file_id = $f
                       AND n.order_id = orders.order_id AND n.line_no > $l) AS end_line_no
            FROM orders WHERE file_id = $f AND line_no = $l),
        ev AS (
            SELECT m.line_no, m.time_ns, m.type, m.shares, m.execution_id,
                   CASE WHEN m.type IN ({_ADDS}) THEN m.price ELSE o.price END AS price,
                   o.shares AS original
            FROM messages m JOIN o ON m.file_id = o.file_id AND m.order_id = o.order_id
            WHERE m.line_no = o.line_no
               OR (m.type IN ('E', 'X') AND m.line_no > o.line_no
                   AND (o.end_line_no IS NULL OR m.line_no < o.end_line_no))
        )
        SELECT line_no, time_ns, type,
               CASE WHEN type IN ({_ADDS}) THEN 'add' WHEN type = 'E' THEN 'executed'
                    ELSE 'cancelled' END AS event,
               shares,
               (original - coalesce(sum(CASE WHEN type IN ('E', 'X') THEN shares END)
                   OVER (ORDER BY line_no ROWS UNBOUNDED PRECEDING), 0))::BIGINT
                   AS remaining_shares,
               price, execution_id
        FROM ev ORDER BY line_no
    """, {"f": file_id, "l": line_no}).df()
    return _with_type_names(df)


# --- Symbols --------------------------------------------------------------------------

def symbol_summary(conn: duckdb.DuckDBPyConnection, symbol: str) -> dict:
    """Headline numbers of one symbol: trades, volume, VWAP, low, high, orders by side."""
    trades, volume, vwap, low, high = conn.execute("""
        SELECT count(*), coalesce(sum(shares), 0), sum(price * shares) / nullif(sum(shares), 0),
               min(price), max(price)
        FROM executions WHERE symbol = ? AND NOT broken
    """, [symbol]).fetchone()
    orders, buys, sells = conn.execute("""
        SELECT count(*), count(*) FILTER (WHERE side = 'B'), count(*) FILTER (WHERE side = 'S')
        FROM orders WHERE symbol = ?
    """, [symbol]).fetchone()
    return {"trades": int(trades), "volume": int(volume), "vwap": vwap, "low": low, "high": high,
            "orders": int(orders), "buy_orders": int(buys), "sell_orders": int(sells)}


def symbol_trades(conn: duckdb.DuckDBPyConnection, symbol: str,
                  limit: int = 5000) -> tuple[pd.DataFrame, bool]:
    """(first ``limit`` trades of a symbol in time order with the running VWAP, cut?).

    Broken executions are left out. Columns: time_ns, price, shares, type,
    execution_id, order_id, vwap, file_id, line_no.
    """
    df = conn.execute("""
        SELECT time_ns, price, shares, type, execution_id, order_id,
               sum(price * shares) OVER w / sum(shares) OVER w AS vwap, file_id, line_no
        FROM executions WHERE symbol = ? AND NOT broken
        WINDOW w AS (ORDER BY time_ns, file_id, line_no ROWS UNBOUNDED PRECEDING)
        ORDER BY time_ns, file_id, line_no LIMIT ?
    """, [symbol, limit + 1]).df()
    return df.head(limit), len(df) > limit


def symbol_trades_csv(conn: duckdb.DuckDBPyConnection, symbol: str) -> bytes:
    """CSV of every (unbroken) trade of a symbol with the running VWAP."""
    return stream_csv(conn, """
        SELECT time_ns, symbol, price, shares, type, execution_id, order_id,
               sum(price * shares) OVER w / sum(shares) OVER w AS vwap, file_id, line_no
        FROM executions WHERE symbol = ? AND NOT broken
        WINDOW w AS (ORDER BY time_ns, file_id, line_no ROWS UNBOUNDED PRECEDING)
        ORDER BY time_ns, file_id, line_no
    """, [symbol])


def symbol_adds(conn: duckdb.DuckDBPyConnection, symbol: str, bucket_ns: int) -> pd.DataFrame:
    """Orders added per time bucket and side: [bucket_ns, side, adds, shares]."""
    return conn.execute("""
        SELECT first_time_ns // $b * $b AS bucket_ns, side, count(*) AS adds,
               sum(shares)::BIGINT AS shares
        FROM orders WHERE symbol = $s GROUP BY ALL ORDER BY bucket_ns, side
    """, {"b": bucket_ns, "s": symbol}).df()


# --- Ingest ---------------------------------------------------------------------------

def files(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The ingest history, newest first."""
    return conn.execute("""
        SELECT file_id, name, size, messages, rejects, status, source, seconds, finished_at,
               first_time_ns, last_time_ns
        FROM files ORDER BY file_id DESC
    """).df()


def reject_count(conn: duckdb.DuckDBPyConnection, file_id: int) -> int:
    """How many rejects a file has."""
    return int(conn.execute("SELECT count(*) FROM rejects WHERE file_id = ?",
                            [file_id]).fetchone()[0])


_REJECT_SQL = """
    SELECT line_no, byte_offset, reason, raw FROM rejects
    WHERE file_id = ? ORDER BY line_no
"""


def rejects_page(conn: duckdb.DuckDBPyConnection, file_id: int, *, page: int = 1,
                 page_size: int = PAGE_SIZE) -> pd.DataFrame:
    """One page of a file's rejects: line, byte offset, reason, raw text."""
    return conn.execute(f"{_REJECT_SQL} LIMIT ? OFFSET ?",
                        [file_id, page_size, (max(page, 1) - 1) * page_size]).df()


def rejects_csv(conn: duckdb.DuckDBPyConnection, file_id: int) -> bytes:
    """CSV of every reject of a file."""
    return stream_csv(conn, _REJECT_SQL, [file_id])


# --- SQL ------------------------------------------------------------------------------

def schema(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Tables and columns a query can use: [table_name, column_name, data_type]."""
    return conn.execute("""
        SELECT table_name, column_name, data_type FROM duckdb_columns()
        WHERE database_name = current_database() AND schema_name = 'main'
        ORDER BY table_name, column_index
    """).df()
