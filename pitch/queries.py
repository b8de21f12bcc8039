"""Read-side queries shared by the CLI and the app.

Every function takes a DuckDB connection (or cursor) and returns a pandas
DataFrame or plain values; SQL lives here, never in pages.
"""

from __future__ import annotations

import duckdb
import pandas as pd


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
