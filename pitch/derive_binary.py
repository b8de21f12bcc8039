"""``orders`` and ``executions`` of a binary Multicast PITCH file.

The same bucketed pipeline as text (:class:`pitch.derive.Lifecycles`: order-id
buckets spilled to temporary files, linked one at a time while DuckDB writes
the previous one), with binary's richer events applied by the order-state
engine :func:`pitch.lifecycle.replay`: executions at the order's current price
or at their own with a remaining quantity, reductions, modifies (counted, with
the price after the last one), deletes, and unit clears, which go to every
bucket since they cancel every open order of their unit whatever its id.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa

from . import binary, lifecycle
from .binary import BinaryBatch
from .derive import Linked, Lifecycles, pairs
from .layouts import (BINARY_COMMON_CODES, BINARY_LAYOUTS, BREAK_CODES, EXECUTE_CODES, ROLES,
                      TRADE_CODES, Role)
from .store import ORDER_STORED_COLUMNS, sql_list

ADD_SCHEMA = pa.schema([binary.SCHEMA.field(c) for c in (
    "line_no", "time_ns", "type", "order_id", "side", "shares", "symbol", "price", "unit")])
_EVENT_COLUMNS = ("order_id", "line_no", "shares", "time_ns", "price", "remaining_shares",
                  "unit")
EVENT_SCHEMA = pa.schema([binary.SCHEMA.field(c) for c in _EVENT_COLUMNS]
                         + [pa.field("role", pa.uint8())])
ORDERS_SCHEMA = pa.schema(list(ADD_SCHEMA) + [
    pa.field(n, pa.int64()) for n in ("executed", "cancelled", "last_time", "events",
                                      "modifies", "added", "end_line")] + [
    pa.field("last_price", pa.decimal128(18, 4))])

_ORDER_ROLES = (Role.EXECUTE, Role.EXECUTE_AT_PRICE, Role.CANCEL, Role.MODIFY, Role.DELETE)
_EXECUTION_ROLES = (lifecycle.ROLE_IDS[Role.EXECUTE], lifecycle.ROLE_IDS[Role.EXECUTE_AT_PRICE])

_ORDERS_SQL = f"""
INSERT INTO orders ({", ".join(ORDER_STORED_COLUMNS)})
SELECT $f, line_no, order_id, symbol, side, price, shares, executed, cancelled,
       shares + added - executed - cancelled, time_ns,
       CASE WHEN events > 0 THEN nullif(last_time, -1) ELSE time_ns END, events, modifies, added,
       CASE WHEN modifies > 0 THEN last_price END, nullif(end_line, -1)
FROM _pitch_orders
"""


_BINARY_CODES = frozenset(layout.code for layout in BINARY_LAYOUTS)


def _stored(codes: tuple[str, ...], columns: str, where: str = "") -> str:
    """``SELECT columns`` of the file's messages of ``codes``, from the storage table(s)
    that hold them (the frequent types' ``messages_binary``, the rare types'
    ``messages_binary_other``)."""
    codes = tuple(c for c in codes if c in _BINARY_CODES)
    parts = []
    for table, part in (("messages_binary", [c for c in codes if c in BINARY_COMMON_CODES]),
                        ("messages_binary_other",
                         [c for c in codes if c not in BINARY_COMMON_CODES])):
        if part:
            parts.append(f"SELECT {columns} FROM {table} "
                         f"WHERE file_id = $f AND type IN ({sql_list(tuple(part))}){where}")
    return " UNION ALL ".join(parts)


_LINES = " AND line_no >= $lo AND line_no < $hi"
# Executions take their order's symbol, and the price replay found (the
# order's price at that moment, or their own); trades carry both. One range of
# lines at a time, as text's (see pitch.derive.insert_derived).
_EXECUTIONS_SQL = f"""
INSERT INTO executions
SELECT $f, e.line_no, e.execution_id, e.time_ns, f.symbol, e.shares, coalesce(f.price, e.price),
       e.type, e.order_id, e.execution_id IN (FROM _pitch_broken)
FROM ({_stored(EXECUTE_CODES, "line_no, execution_id, time_ns, shares, type, order_id, price",
               _LINES)}) e
JOIN (FROM _pitch_fills_t WHERE line_no >= $lo AND line_no < $hi) f ON f.line_no = e.line_no
UNION ALL
SELECT $f, line_no, execution_id, time_ns, symbol, shares, price, type, order_id,
       execution_id IN (FROM _pitch_broken)
FROM ({_stored(TRADE_CODES, "line_no, execution_id, time_ns, symbol, shares, price, type, "
               "order_id", _LINES)})
ORDER BY 2
"""
_BROKEN_SQL = f"""CREATE TEMP TABLE _pitch_broken AS {_stored(BREAK_CODES, "execution_id")}"""


def _ticks(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """DECIMAL(18,4) values as int64 ten-thousandths; -1 where NULL."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not len(arr):
        return np.zeros(0, np.int64)
    words = np.frombuffer(arr.buffers()[1], np.int64)[2 * arr.offset:2 * (arr.offset + len(arr))]
    values = words[::2].copy()  # the low word holds the value: prices fit in 64 bits
    if arr.null_count:
        values[arr.is_null().to_numpy(zero_copy_only=False)] = -1
    return values


def _ints(column: pa.ChunkedArray, missing: int = -1) -> np.ndarray:
    arr = column.combine_chunks()
    if arr.null_count:  # as int64 first: a narrow unsigned column (unit) cannot hold -1
        arr = arr.cast(pa.int64()).fill_null(missing)
    return arr.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def _side_codes(column: pa.ChunkedArray) -> np.ndarray:
    arr = column.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        lut = np.array([ord(c) for c in arr.dictionary.to_pylist()] or [0], np.uint8)
        return lut[arr.indices.to_numpy(zero_copy_only=False)]
    return np.array([ord(c) for c in arr.to_pylist()], np.uint8)


def _columns(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """``rows`` as ``schema``: its columns, NULL for those its table does not store.

    The frequent types' batch lacks the rare types' columns (remaining_shares).
    """
    return pa.table([rows.column(f.name) if f.name in rows.column_names
                     else pa.nulls(rows.num_rows, f.type) for f in schema], schema=schema)


class BinaryLifecycles(Lifecycles):
    """Binary PITCH's adds and events by bucket, linked by :func:`pitch.lifecycle.replay`."""

    add_schema, event_schema = ADD_SCHEMA, EVENT_SCHEMA
    orders_schema, orders_sql, executions_sql = ORDERS_SCHEMA, _ORDERS_SQL, _EXECUTIONS_SQL
    broken_sql = _BROKEN_SQL
    #: A quarter of text's rows in memory while loading: binary's events are twice
    #: as wide (price, remaining, unit), and the rows held are slices that keep
    #: whole chunks: 150-190 MB of Arrow at text's limits, beside DuckDB's pool.
    memory_divisor = 4

    def _split(self, batch: BinaryBatch) -> tuple[list[pa.Table], list[pa.Table], list[pa.Table]]:
        adds, events, clears = [], [], []
        for code, in_other, start, length in batch.runs:
            role = ROLES[code]
            if role is not Role.ADD and role not in _ORDER_ROLES and role is not Role.CLEAR_UNIT:
                continue
            rows = (batch.other if in_other else batch.table).slice(start, length)
            if role is Role.ADD:
                adds.append(_columns(rows, ADD_SCHEMA))
                continue
            table = _columns(rows, EVENT_SCHEMA.remove(EVENT_SCHEMA.get_field_index("role"))
                             ).append_column("role", pa.array(
                                 np.full(length, lifecycle.ROLE_IDS[role], np.uint8)))
            (clears if role is Role.CLEAR_UNIT else events).append(table)
        return adds, events, clears

    def _link(self, k: int) -> Linked:
        return link(self.adds[k].reader().read_all(), self.events[k].reader().read_all())


#: Rows (adds and events) per part of a bucket's replay (:func:`pitch.lifecycle.replay_parts`),
#: and the threads replaying parts. At 1M messages (one bucket), alone: a replay
#: in parts of 15-40k rows took 0.27 CPU-s, in one 0.40; during the ingest (DuckDB
#: busy beside it) the process took 2.45-2.69 CPU-s instead of 2.99-3.24, and the
#: orders step 0.40-0.69 s instead of 0.78-0.86.
PART_ENTRIES = 32_000
LINK_THREADS = 2


def link(adds: pa.Table, events: pa.Table) -> Linked:
    """Replay one bucket: its orders with their lifecycle columns, its executions' orders.

    Adds and events stay in the order they came (chunk after chunk, each chunk's
    rows grouped by message type), as text's do: replay takes them in any
    order, orders are written in the adds' order, and the fills are joined by
    line. (Putting the adds in line order first cost an Arrow take of every
    column, about a tenth of the link.)
    """
    columns = (
        lifecycle.Adds.build(
            line_no=_ints(adds.column("line_no")), order_id=adds.column("order_id").to_numpy(),
            side=_side_codes(adds.column("side")), shares=_ints(adds.column("shares")),
            price=_ticks(adds.column("price")), unit=_ints(adds.column("unit")),
            time_ns=_ints(adds.column("time_ns"))),
        lifecycle.Events.build(
            line_no=_ints(events.column("line_no")),
            order_id=events.column("order_id").combine_chunks().fill_null(0).to_numpy(),
            role=events.column("role").to_numpy(), shares=_ints(events.column("shares"), 0),
            price=_ticks(events.column("price")),
            remaining=_ints(events.column("remaining_shares")),
            unit=_ints(events.column("unit")), time_ns=_ints(events.column("time_ns"))))
    # Orders need no book changes; the replay runs in parts of about PART_ENTRIES
    # rows by order id (cache-sized), on LINK_THREADS threads.
    parts = max(1, (adds.num_rows + events.num_rows) // PART_ENTRIES)
    if lifecycle.simple(columns[1]):  # only executions, cancels and deletes: text's one sort
        a, e = columns
        got = lifecycle.replay_paired(a, e, *pairs(a.order_id, a.line_no, e.order_id, e.line_no))
    elif parts == 1:
        got = lifecycle.replay(*columns, book=False)
    else:
        with ThreadPoolExecutor(LINK_THREADS, thread_name_prefix="pitch-link-part") as pool:
            got = lifecycle.replay_parts(*columns, parts, pool.map)
    end_line = got.end_line(_ints(adds.column("line_no")))  # the engine's own end
    orders = adds
    for name, values in (("executed", got.executed), ("cancelled", got.cancelled),
                         ("last_time", got.last_time), ("events", got.events),
                         ("modifies", got.modifies), ("added", got.added),
                         ("end_line", end_line)):
        orders = orders.append_column(name, pa.array(values, pa.int64()))
    last = got.last_price
    words = np.zeros((len(last), 2), np.int64)
    words[:, 0] = last
    words[:, 1] = last >> 63
    orders = orders.append_column("last_price", pa.Array.from_buffers(
        pa.decimal128(18, 4), len(last), [None, pa.py_buffer(words)]))
    role = events.column("role").to_numpy()
    fill = np.isin(role, _EXECUTION_ROLES)
    return Linked(orders.select(ORDERS_SCHEMA.names),  # rows as in adds: event_add holds
                  _ints(events.column("line_no"))[fill], got.event_add[fill],
                  got.event_price[fill])
