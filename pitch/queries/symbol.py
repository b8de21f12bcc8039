"""One symbol: its headline numbers, its trades with the running VWAP, its adds."""

from __future__ import annotations

import duckdb
import pandas as pd

from ..summaries import MINUTE_NS
from .base import stream_csv


def symbol_summary(conn: duckdb.DuckDBPyConnection, symbol: str) -> dict:
    """Headline numbers of one symbol: trades, volume, VWAP, low, high, orders by side."""
    trades, volume, vwap, low, high = conn.execute("""
        SELECT count(*), coalesce(sum(shares), 0), sum(price * shares) / nullif(sum(shares), 0),
               min(price), max(price)
        FROM executions WHERE symbol = ? AND NOT broken
    """, [symbol]).fetchone()
    orders, buys, sells = conn.execute("""
        SELECT coalesce(sum(orders), 0), coalesce(sum(orders) FILTER (WHERE side = 'B'), 0),
               coalesce(sum(orders) FILTER (WHERE side = 'S'), 0)
        FROM order_counts WHERE symbol = ?
    """, [symbol]).fetchone()  # counted at ingest (pitch.summaries)
    return {"trades": int(trades), "volume": int(volume), "vwap": vwap, "low": low, "high": high,
            "orders": int(orders), "buy_orders": int(buys), "sell_orders": int(sells)}


def symbol_trades(conn: duckdb.DuckDBPyConnection, symbol: str,
                  limit: int = 5000) -> tuple[pd.DataFrame, bool]:
    """(first ``limit`` trades of a symbol in time order with the running VWAP, cut?).

    Broken executions are left out. Columns: time_ns, price, shares, type,
    execution_id, order_id, vwap, file_id, line_no.
    """
    # The running VWAP of the first rows needs only those rows: take them first
    # (a top-N), then run the window over them, not over every trade of the symbol.
    # The top-N reads only the minutes that hold them (the counts kept at ingest):
    # every row it could return is earlier than the end of the minute in which the
    # symbol's count of executions reaches limit + 1 (NULL times sort last).
    enough = conn.execute("""
        SELECT minute FROM (
            SELECT minute, sum(sum(executions)) OVER (ORDER BY minute) AS upto
            FROM execution_minutes WHERE symbol = ? AND minute IS NOT NULL GROUP BY minute)
        WHERE upto >= ? ORDER BY minute LIMIT 1""", [symbol, limit + 1]).fetchall()
    before = (enough[0][0] + 1) * MINUTE_NS if enough else None
    df = conn.execute(f"""
        WITH first AS (
            SELECT time_ns, price, shares, type, execution_id, order_id, file_id, line_no
            FROM executions WHERE symbol = ? AND NOT broken
                {'' if before is None else f'AND time_ns < {int(before)}'}
            ORDER BY time_ns, file_id, line_no LIMIT ?)
        SELECT time_ns, price, shares, type, execution_id, order_id,
               sum(price * shares) OVER w / sum(shares) OVER w AS vwap, file_id, line_no
        FROM first
        WINDOW w AS (ORDER BY time_ns, file_id, line_no ROWS UNBOUNDED PRECEDING)
        ORDER BY time_ns, file_id, line_no
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
    """Orders added per time bucket and side: [bucket_ns, side, adds, shares].

    Buckets of whole minutes sum the counts kept at ingest (:mod:`pitch.summaries`);
    shorter ones count the orders.
    """
    if bucket_ns % MINUTE_NS == 0:
        sql = """SELECT minute * $m // $b * $b AS bucket_ns, side, sum(orders)::BIGINT AS adds,
                        sum(shares)::BIGINT AS shares
                 FROM order_minutes WHERE symbol = $s GROUP BY ALL ORDER BY bucket_ns, side"""
        params = {"b": bucket_ns, "s": symbol, "m": MINUTE_NS}
    else:
        sql = """SELECT first_time_ns // $b * $b AS bucket_ns, side, count(*) AS adds,
                        sum(shares)::BIGINT AS shares
                 FROM orders WHERE symbol = $s GROUP BY ALL ORDER BY bucket_ns, side"""
        params = {"b": bucket_ns, "s": symbol}
    return conn.execute(sql, params).df()
