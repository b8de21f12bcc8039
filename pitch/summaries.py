"""Per-file counts written at ingest, so that dashboards never count 100M rows.

Small tables, filled from a file's own rows inside its ingest transaction
(one grouped scan each, about 5 % of the ingest in all):

- ``message_counts(file_id, type, symbol, side, messages)``: how many
  messages of each type, symbol and side. The type counts, the symbols, the
  totals and the count of any Messages filter made only of types, symbols,
  side and file are sums over it (a few thousand rows, not 100 million).
- ``message_prices(file_id, type, symbol, side, price, messages)`` and
  ``message_shares(..., shares, messages)``: the same with each price, each
  share count. A Messages page sorted by price or shares starts its seek at
  the page's own values (:mod:`pitch.queries.seek`) instead of sampling and
  counting 100M prices (about 150,000 and 200,000 rows at 100M messages).
- ``message_blocks(file_id, block, type, symbol, side, messages, first_line,
  last_line)``: the same per block of BLOCK_LINES lines. Inside one value of a
  sort (side 'B': half of all rows), rows go in file order: the blocks give
  the exact rank of each block, so the seek sorts one or two blocks instead of
  counting positions over every row of that value.
- ``message_ids(file_id, type, side, bucket, messages, first_id, last_id)``:
  messages per type, side and bucket of order ids (ID_BUCKETS of equal width
  between the file's least and greatest id, each with its own least and
  greatest; no symbol, which would make it ten times the size): a page sorted
  by order id, without a symbol filter, starts at the page's buckets.
- ``message_seconds(file_id, type, second, messages)``: how many of each type
  in each whole second of ``time_ns`` (``second`` NULL for a binary message
  whose time is unknown). Every bucket of the rate chart is a whole number of
  seconds, so the chart is a sum over it.
- ``order_counts(file_id, symbol, side, status, orders)``: how many orders
  of each symbol, side and final status: the count of any Orders filter
  without an order id, and a symbol's orders by side.
- ``order_minutes(file_id, symbol, side, minute, orders, shares)``: orders
  added, and their shares, per symbol, side and minute of the add
  (``minute`` NULL when its time is unknown): a symbol's adds chart, whose
  buckets are whole minutes unless the session is short.
- ``execution_minutes(file_id, symbol, minute, executions)``: unbroken
  executions per symbol and minute (``minute`` NULL when the time is unknown):
  a symbol's first trades are read from the minutes that hold them.

All are exact by construction (``GROUP BY`` of the same rows); the tests
compare every query that reads them with the same query over ``messages``.
An archive has no such tables: :func:`archive_views` defines them as views
over its ``messages``, so the same queries run there unchanged.
"""

from __future__ import annotations

import duckdb

#: Table -> its columns (see :data:`pitch.store.TABLES`).
TABLES: dict[str, str] = {
    "message_counts": "file_id INTEGER NOT NULL, type VARCHAR NOT NULL, symbol VARCHAR, "
                      "side VARCHAR, messages BIGINT NOT NULL",
    "message_seconds": "file_id INTEGER NOT NULL, type VARCHAR NOT NULL, second BIGINT, "
                       "messages BIGINT NOT NULL",
    "message_prices": "file_id INTEGER NOT NULL, type VARCHAR NOT NULL, symbol VARCHAR, "
                      "side VARCHAR, price DECIMAL(18,4), messages BIGINT NOT NULL",
    "message_shares": "file_id INTEGER NOT NULL, type VARCHAR NOT NULL, symbol VARCHAR, "
                      "side VARCHAR, shares BIGINT, messages BIGINT NOT NULL",
    "message_blocks": "file_id INTEGER NOT NULL, block BIGINT NOT NULL, type VARCHAR NOT NULL, "
                      "symbol VARCHAR, side VARCHAR, messages BIGINT NOT NULL, "
                      "first_line BIGINT NOT NULL, last_line BIGINT NOT NULL",
    "message_ids": "file_id INTEGER NOT NULL, type VARCHAR NOT NULL, side VARCHAR, "
                   "bucket BIGINT, messages BIGINT NOT NULL, first_id UBIGINT, last_id UBIGINT",
    "order_counts": "file_id INTEGER NOT NULL, symbol VARCHAR, side VARCHAR, status VARCHAR, "
                    "orders BIGINT NOT NULL",
    "order_minutes": "file_id INTEGER NOT NULL, symbol VARCHAR, side VARCHAR, minute BIGINT, "
                     "orders BIGINT NOT NULL, shares HUGEINT",
    "execution_minutes": "file_id INTEGER NOT NULL, symbol VARCHAR, minute BIGINT, "
                         "executions BIGINT NOT NULL",
}
#: Table -> the SELECT that computes it (its WHERE is added), in the order they are filled.
_SELECTS: dict[str, str] = {
    "message_seconds": "SELECT file_id, type, time_ns // 1000000000 AS second, "
                       "count(*) AS messages FROM messages {where} GROUP BY ALL",
    "message_prices": "SELECT file_id, type, symbol, side, price, count(*) AS messages "
                      "FROM messages {where} GROUP BY ALL",
    "message_shares": "SELECT file_id, type, symbol, side, shares, count(*) AS messages "
                      "FROM messages {where} GROUP BY ALL",
    "message_blocks": "SELECT file_id, line_no // {block} AS block, type, symbol, side, "
                      "count(*) AS messages, min(line_no) AS first_line, "
                      "max(line_no) AS last_line FROM messages {where} GROUP BY ALL",
    "message_ids": "WITH span AS (SELECT file_id, min(order_id) AS low, "
                   "(max(order_id) - min(order_id)) // {id_buckets} + 1 AS width "
                   "FROM messages {where} GROUP BY file_id) "
                   "SELECT file_id, type, side, (order_id - low) // width AS bucket, "
                   "count(*) AS messages, min(order_id) AS first_id, max(order_id) AS last_id "
                   "FROM messages JOIN span USING (file_id) {where} GROUP BY ALL",
    # From the prices' counts (~50,000 rows at 10M messages) rather than every message.
    "message_counts": "SELECT file_id, type, symbol, side, sum(messages)::BIGINT AS messages "
                      "FROM message_prices {where} GROUP BY ALL",
    "order_counts": "SELECT file_id, symbol, side, status, count(*) AS orders FROM orders "
                    "{where} GROUP BY ALL",
    "order_minutes": "SELECT file_id, symbol, side, first_time_ns // 60000000000 AS minute, "
                     "count(*) AS orders, sum(shares) AS shares FROM orders {where} GROUP BY ALL",
    "execution_minutes": "SELECT file_id, symbol, time_ns // 60000000000 AS minute, "
                         "count(*) AS executions FROM executions "
                         "{where}{and_}NOT broken GROUP BY ALL",
}
#: Lines per block of ``message_blocks`` (a block's rows sort in a few ms; its own
#: first and last lines are stored, so a database keeps working if this changes).
BLOCK_LINES = 65_536
#: Buckets of equal width between a file's least and greatest order id, in ``message_ids``
#: (each holds its own least and greatest id: the width can change).
ID_BUCKETS = 1_024
#: A rate-chart bucket of a whole number of these (nanoseconds) reads message_seconds.
SECOND_NS = 10**9
#: A symbol's adds chart with buckets of a whole number of these reads order_minutes.
MINUTE_NS = 60 * SECOND_NS


def _sql(select: str, where: str = "") -> str:
    return select.format(where=where, block=BLOCK_LINES, id_buckets=ID_BUCKETS,
                         and_=" AND " if where else "WHERE ")


def insert(cur: duckdb.DuckDBPyConnection, file_id: int) -> None:
    """Count one file's messages and orders (inside its ingest transaction, orders written)."""
    for table, select in _SELECTS.items():
        cur.execute(f"INSERT INTO {table} {_sql(select, 'WHERE file_id = $f')}",
                    {"f": file_id})


def backfill(conn: duckdb.DuckDBPyConnection, tables: list[str]) -> None:
    """Fill these tables for every file already in a database made before they existed
    (the caller holds the transaction: :func:`pitch.store.init_schema`)."""
    for table, select in _SELECTS.items():
        if table not in tables:
            continue
        conn.execute(f"DELETE FROM {table}")
        conn.execute(f"INSERT INTO {table} {_sql(select)}")


def archive_views(conn: duckdb.DuckDBPyConnection) -> None:
    """In an archive: the tables become views computed from its ``messages`` and ``orders``."""
    for table, select in _SELECTS.items():
        conn.execute(f"DROP TABLE {table}")
        conn.execute(f"CREATE VIEW {table} AS {_sql(select)}")
