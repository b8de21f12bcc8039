"""Orders: count, page and export of the orders a filter matches, and one order's life."""

from __future__ import annotations

import duckdb
import pandas as pd

from ..filters import OrderFilter
from ..layouts import ADD_CODES
from .base import PAGE_SIZE, _order_by, _page, _with_type_names, stream_csv

_ADDS = ", ".join(f"'{c}'" for c in ADD_CODES)

#: Columns the Orders table shows (and its CSV holds).
ORDER_COLUMNS = ("order_id", "symbol", "side", "price", "shares", "executed_shares",
                 "cancelled_shares", "remaining_shares", "status", "first_time_ns",
                 "last_time_ns", "events", "file_id", "line_no")
ORDER_SORTS: dict[str, str] = {
    "time": "first_time_ns", "symbol": "symbol", "order id": "order_id", "price": "price",
    "shares": "shares", "executed": "executed_shares", "remaining": "remaining_shares",
    "events": "events", "last event": "last_time_ns",
}


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
