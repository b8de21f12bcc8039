"""Orders: count, page and export of the orders a filter matches, and one order's life."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd

from .. import lifecycle
from ..filters import OrderFilter
from ..layouts import ADD_CODES, ROLES, Role, codes
from ..store import sql_list
from .base import PAGE_SIZE, _order_by, _page, _with_type_names, stream_csv, value_counts

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


def _counted(flt: OrderFilter) -> bool:
    """Whether ``order_counts`` can answer for this filter (it has only these columns)."""
    return replace(flt, symbols=(), side=None, statuses=(), file_id=None) == OrderFilter()


def order_count(conn: duckdb.DuckDBPyConnection, flt: OrderFilter) -> int:
    """How many orders match the filter: without an order id, a sum over the counts kept
    at ingest (:mod:`pitch.summaries`, with the filter's other columns)."""
    if _counted(flt):
        where, params, _ = flt.where(status_column=True)
        sql = f"SELECT coalesce(sum(orders), 0) FROM order_counts {where}"
    else:
        where, params, _ = flt.where()
        sql = f"SELECT count(*) FROM orders {where}"
    return int(conn.execute(sql, params).fetchone()[0])


def orders_page(conn: duckdb.DuckDBPyConnection, flt: OrderFilter, *, sort: str = "time",
                desc: bool = False, page: int = 1, page_size: int = PAGE_SIZE,
                total: int | None = None) -> pd.DataFrame:
    """One page of matching orders (1-based ``page``); ``total`` as for messages_page."""
    where, params, _ = flt.where()
    counts = None
    if _counted(flt):
        where_counts, params_counts, _ = flt.where(status_column=True)
        counts = value_counts(conn, {"symbol": "order_counts"}, "orders", where_counts,
                              params_counts)
    return _page(conn, "orders", ORDER_COLUMNS, ORDER_SORTS, where, params, sort, desc, page,
                 page_size, total, counts)


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


#: What each role does to an order, as the lifecycle table says it.
_EVENT_WORDS = {Role.ADD: "add", Role.EXECUTE: "executed", Role.EXECUTE_AT_PRICE: "executed",
                Role.CANCEL: "cancelled", Role.MODIFY: "modified", Role.DELETE: "deleted",
                Role.CLEAR_UNIT: "cleared"}
_EVENTS = sql_list(codes(*_EVENT_WORDS))
_CLEARS = sql_list(codes(Role.CLEAR_UNIT))


#: Past any line: the bound of an open order's life.
_LAST_LINE = (1 << 63) - 1


def order_lifecycle(conn: duckdb.DuckDBPyConnection, file_id: int, line_no: int) -> pd.DataFrame:
    """The add and every event of one order, with the shares left and its price after each.

    Columns: line_no, time_ns, type, message_type, event, shares, remaining_shares,
    price, price_before (a modify's price before it), execution_id. ``price`` is an
    execution's price, else the order's price after the message. Empty when there
    is no add at (file_id, line_no). The shares left come from the order-state
    engine (:func:`pitch.lifecycle.replay`) on the message's prefix of the
    order's life, so they follow the same rules as ``orders``.
    """
    # Constants and one plain conjunction per kind of row, not a join with ORs:
    # each scan then prunes row groups by line_no (stored in line order) and
    # tests its own filter inside the scan (at 100M messages 1.4 s -> see
    # benchmarks/README.md). The order's life ends at the next add of its id,
    # which the second scan finds too; and, once it is gone, at orders.end_line_no
    # (the line that ended it, kept at ingest; never before the engine's last
    # applied event): then the scans read only the row groups of its life instead
    # of every line to the end of the file (at 100M messages: 50-100 -> 5-7 ms).
    columns = ("line_no, time_ns, type, order_id, side, shares, price, remaining_shares, "
               "unit, execution_id")
    add = conn.execute(f"""
        SELECT order_id, unit, (SELECT end_line_no FROM orders WHERE file_id = $f
                                AND line_no = $l)
        FROM messages WHERE file_id = $f AND line_no = $l AND type IN ({_ADDS})""",
                       {"f": file_id, "l": line_no}).fetchone()
    rows = conn.execute(f"""
        SELECT {columns} FROM messages WHERE file_id = $f AND line_no = $l
        UNION ALL
        SELECT {columns} FROM messages WHERE file_id = $f AND line_no > $l AND line_no <= $e
            AND order_id = $o AND type IN ({_EVENTS}, {_ADDS})
        UNION ALL
        SELECT {columns} FROM messages WHERE file_id = $f AND line_no > $l AND line_no <= $e
            AND unit = $u AND type IN ({_CLEARS})
        ORDER BY line_no
    """, {"f": file_id, "l": line_no, "o": add[0], "u": add[1],
          "e": _LAST_LINE if add[2] is None else add[2]}).df() if add else \
        pd.DataFrame(columns=["line_no", "time_ns", "type", "shares", "price", "execution_id"])
    again = rows.index[(rows.index > 0) & rows["type"].isin(ADD_CODES)]
    if len(again):  # the id was added again: what follows is the next order's
        rows = rows[rows["line_no"] < rows.at[again[0], "line_no"]]
    if rows.empty:
        return _with_type_names(rows.assign(event=[], remaining_shares=[], price_before=[])[
            ["line_no", "time_ns", "type", "event", "shares", "remaining_shares", "price",
             "price_before", "execution_id"]])
    return _with_type_names(_replayed(rows))


def _replayed(rows: pd.DataFrame) -> pd.DataFrame:
    """The lifecycle table of one order's add (row 0) and events, by the engine."""
    def ticks(value) -> int:
        return -1 if pd.isna(value) else int(Decimal(str(value)) * 10_000)

    add, events = rows.iloc[0], rows.iloc[1:]
    adds = lifecycle.Adds.build(line_no=[add.line_no], order_id=[int(add.order_id)],
                                side=[ord(add.side)], shares=[int(add.shares)],
                                price=[ticks(add.price)],
                                unit=[-1 if pd.isna(add.unit) else int(add.unit)])
    def replay(ev: pd.DataFrame) -> lifecycle.Lifecycle:
        return lifecycle.replay(adds, lifecycle.Events.build(
            line_no=ev.line_no.to_numpy(), order_id=ev.order_id.fillna(0).astype("uint64"),
            role=[lifecycle.role_of(t) for t in ev.type], shares=ev.shares.fillna(0),
            price=[ticks(p) for p in ev.price],
            remaining=ev.remaining_shares.fillna(-1).astype("int64"),
            unit=ev.unit.fillna(-1).astype("int64")), book=False)

    # Only what the engine applies is the order's: not a unit clear after it was gone.
    whole = replay(events)
    applied = (whole.event_add >= 0) | (np.arange(len(events)) == whole.cleared_by[0])
    rows = pd.concat([rows.iloc[:1], events[applied]])
    events = events[applied]
    out = [("add", int(add.shares), int(add.shares), add.price, None)]
    price = add.price
    for k in range(1, len(events) + 1):
        got = replay(events.iloc[:k])
        row = events.iloc[k - 1]
        before, price = price, Decimal(int(got.last_price[0])) / 10_000
        fill = got.event_price[k - 1]
        shown = Decimal(int(fill)) / 10_000 if fill >= 0 else price
        out.append((_EVENT_WORDS[ROLES[row.type]], row.shares, int(got.remaining[0]), shown,
                    before if ROLES[row.type] is Role.MODIFY else None))
    table = rows[["line_no", "time_ns", "type"]].copy()
    for i, name in enumerate(("event", "shares", "remaining_shares", "price", "price_before")):
        table[name] = [o[i] for o in out]
    table["execution_id"] = rows["execution_id"]
    return table
