"""Overview: message types, the most traded symbols, the message rate over time."""

from __future__ import annotations

import duckdb
import pandas as pd

from ..summaries import SECOND_NS
from .base import type_names

#: Bucket widths for the message-rate chart, by label, in nanoseconds.
BUCKETS: dict[str, int] = {"1 s": 10**9, "10 s": 10 * 10**9, "1 min": 60 * 10**9,
                           "5 min": 300 * 10**9, "15 min": 900 * 10**9, "1 h": 3600 * 10**9}


def message_type_counts(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Message types present with their counts, most frequent first."""
    return conn.execute("""
        SELECT t.name AS message_type, m.type AS code, sum(m.messages)::BIGINT AS count
        FROM message_counts m JOIN message_types t ON t.code = m.type
        GROUP BY ALL ORDER BY count DESC, message_type
    """).df()


def top_symbols(conn: duckdb.DuckDBPyConnection, n: int = 10) -> pd.DataFrame:
    """Symbols by executed volume (executions not broken), largest first, ties by symbol."""
    return conn.execute("""
        SELECT symbol, sum(shares)::BIGINT AS executed_shares
        FROM executions WHERE NOT broken AND symbol IS NOT NULL
        GROUP BY symbol ORDER BY executed_shares DESC, symbol LIMIT ?
    """, [n]).df()


def pick_bucket(span_ns: int, max_buckets: int = 600) -> str:
    """The finest bucket label that keeps the rate chart under ``max_buckets`` bars."""
    for label, width in BUCKETS.items():
        if span_ns // width < max_buckets:
            return label
    return list(BUCKETS)[-1]


def message_rate(conn: duckdb.DuckDBPyConnection, bucket_ns: int) -> pd.DataFrame:
    """Messages per time bucket and type: [bucket_ns, code, message_type, count].

    Messages whose time is unknown are left out (:func:`unknown_times` counts them).
    A bucket of whole seconds (every one of :data:`BUCKETS`) sums the per-second
    counts kept at ingest (:mod:`pitch.summaries`); any other width counts messages.
    """
    if bucket_ns % SECOND_NS == 0:
        sql = """SELECT second * $s // $b * $b AS bucket_ns, type AS code,
                        sum(messages)::BIGINT AS count
                 FROM message_seconds WHERE second IS NOT NULL
                 GROUP BY ALL ORDER BY bucket_ns, code"""
        params = {"b": bucket_ns, "s": SECOND_NS}
    else:
        sql = """SELECT time_ns // $b * $b AS bucket_ns, type AS code, count(*) AS count
                 FROM messages WHERE time_ns IS NOT NULL GROUP BY ALL ORDER BY bucket_ns, code"""
        params = {"b": bucket_ns}
    df = conn.execute(sql, params).df()
    df.insert(2, "message_type", type_names(df["code"]))
    return df
