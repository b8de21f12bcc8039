"""``orders`` and ``executions`` in numpy, from rows set aside while decoding.

The rule: an execution or cancel belongs to the latest add of its order id
before it in the same file (ids are reused once an order is gone).

- :meth:`Lifecycles.add` sets aside each decoded chunk's adds and events
  (executions and cancels), found by their role in :mod:`pitch.layouts`, split
  into order-id buckets (``order_id % buckets``): an order and all its events
  share a bucket. A file up to 64 MB is one bucket; a bigger one gets one per
  64 MB of text or 16 MB of binary capture.
- :class:`Lifecycles` keeps each bucket's rows in a :class:`~pitch.spool.Spool`
  (in memory up to a limit, then in a temporary Arrow file).
- After the stream, :func:`link` sorts one bucket's adds and events by
  (order id, line), in 16 parts on two threads, and sums each add's events.
- :func:`insert_derived` writes each bucket's orders while the next one is
  linked, then the executions with one join.

Memory is bounded by a bucket, whatever the file's size. The parts keep each
sort small enough for the cache: one sort of a 10M-message file's keys took
four times as long as 16.
"""

from __future__ import annotations

import collections
import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator

import duckdb
import numpy as np
import pyarrow as pa

from .arrays import decimal
from .columns import COMMON_SCHEMA, Batch
from .spool import Spool
from .layouts import BREAK_CODES, EXECUTE_CODES, ROLES, TRADE_CODES, Role
from .store import ORDER_STORED_COLUMNS, registered, sql_list

#: The columns of an add that ``orders`` keeps.
ADD_SCHEMA = pa.schema([COMMON_SCHEMA.field(c) for c in
                        ("line_no", "time_ns", "type", "order_id", "side", "shares", "symbol",
                         "price")])
#: Executions and cancels as ``orders`` needs them.
EVENT_SCHEMA = pa.schema([("order_id", pa.uint64()), ("line_no", pa.int64()),
                          ("shares", pa.int64()), ("time_ns", pa.int64()),
                          ("executed", pa.bool_())])
_EVENT_COLUMNS = EVENT_SCHEMA.names[:-1]

#: A file up to SINGLE_BYTES (about 1.6M messages) is one bucket, held in
#: memory; a bigger one gets a bucket per BUCKET_BYTES (as many messages),
#: spilled to temporary files, so memory stays bounded whatever its size.
#: (One bucket for 10M messages took 2 GB and 0.33 s per million to link;
#: 7 buckets take less of both.)
SINGLE_BYTES = 64 << 20
BUCKET_BYTES = 64 << 20
#: Binary PITCH's bucket: its messages are denser (about 27 bytes each in a pcap
#: against 39 in text) and its link replays more (lifecycle.replay): a 64 MB
#: bucket of a pcap took about 0.8 GB to link, a 16 MB one a quarter of that.
BINARY_BUCKET_BYTES = 16 << 20
#: Rows of a file of several buckets kept in memory before they go to
#: temporary files (a single bucket keeps everything).
MEMORY_ADDS = 1_000_000  # about 60 bytes each
MEMORY_EVENTS = 2_000_000  # about 33 bytes each
#: Buckets linked ahead of DuckDB writing their orders.
LOOKAHEAD = 1


def buckets_for(size: int, gz: bool = False, bucket_bytes: int = BUCKET_BYTES) -> int:
    """Buckets for a file of ``size`` bytes (a .gz holds about 5 times its size).

    ``bucket_bytes``: BINARY_BUCKET_BYTES for a binary capture.
    """
    size *= 5 if gz else 1
    return 1 if size <= SINGLE_BYTES else math.ceil(size / bucket_bytes)


class Lifecycles:
    """The adds and events of one file, by bucket, as the decoder hands them over.

    :meth:`start` once the last batch is in begins linking buckets in the
    background (it overlaps DuckDB's end of the messages insert); :meth:`linked`
    gives them in bucket order. This is text's; :mod:`pitch.derive_binary`
    has binary PITCH's, with the statements that write each.
    """

    add_schema, event_schema = ADD_SCHEMA, EVENT_SCHEMA
    #: MEMORY_ADDS and MEMORY_EVENTS are divided by this (binary's rows are wider).
    memory_divisor = 1

    def __init__(self, buckets: int) -> None:
        self.buckets = buckets
        adds, events = ((MEMORY_ADDS // self.memory_divisor, MEMORY_EVENTS // self.memory_divisor)
                        if buckets > 1 else (1 << 62, 1 << 62))
        self.adds = [Spool(self.add_schema, max(1, adds // buckets)) for _ in range(buckets)]
        self.events = [Spool(self.event_schema, max(1, events // buckets))
                       for _ in range(buckets)]
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: collections.deque[Future[Linked]] = collections.deque()
        self._next = 0

    def add(self, batch: Batch) -> None:
        """Set aside the adds and events of one decoded chunk, by bucket."""
        if self._pool is not None:
            raise RuntimeError("rows added after linking started")
        adds, events, everywhere = self._split(batch)
        for spools, tables in ((self.adds, adds), (self.events, events)):
            if tables:
                table = pa.concat_tables(tables)
                for spool, part in zip(spools, _partition(table, self.buckets), strict=True):
                    spool.add(part)
        for table in everywhere:  # events of no one order (unit clears): every bucket's
            for spool in self.events:
                spool.add(table)

    def _split(self, batch: Batch) -> tuple[list[pa.Table], list[pa.Table], list[pa.Table]]:
        """(adds, events by order id, events for every bucket) of a chunk: text's roles."""
        adds, events = [], []
        for code, in_other, start, length in batch.runs:
            role = ROLES[code]
            if role not in (Role.ADD, Role.EXECUTE, Role.CANCEL):
                continue
            rows = (batch.other if in_other else batch.table).slice(start, length)
            if role is Role.ADD:
                adds.append(rows.select(ADD_SCHEMA.names))
            else:
                executed = pa.array(np.full(length, role is Role.EXECUTE))
                events.append(rows.select(_EVENT_COLUMNS).append_column("executed", executed))
        return adds, events, []

    def start(self) -> None:
        if self._pool is None:
            if self.buckets > 1:
                # Each bucket's last rows, held until it is linked, are slices of the last
                # chunks: they kept up to MEMORY_ADDS + MEMORY_EVENTS rows (0.2-0.3 GB for a
                # binary capture) in memory through the whole derive.
                for spool in self.adds + self.events:
                    spool.spill()
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="pitch-link")
            self._submit()

    def _submit(self) -> None:
        while self._next < self.buckets and len(self._ahead) < LOOKAHEAD:
            self._ahead.append(self._pool.submit(self._link, self._next))
            self._next += 1

    def _link(self, k: int) -> Linked:
        return link(self.adds[k].reader().read_all(), self.events[k].reader().read_all())

    def linked(self) -> Iterator[Linked]:
        """Each bucket linked, in order."""
        self.start()
        while self._ahead:
            got = self._ahead.popleft().result()
            self._submit()
            yield got

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        for spool in self.adds + self.events:
            spool.close()


def _partition(table: pa.Table, buckets: int) -> list[pa.Table]:
    """``table`` split by ``order_id % buckets``, keeping the order within each bucket."""
    if buckets == 1:
        return [table]
    b = (table.column("order_id").to_numpy() % np.uint64(buckets)).astype(np.uint16)
    taken = table.take(np.argsort(b, kind="stable"))  # radix sort: 16-bit keys
    bounds = np.concatenate([[0], np.cumsum(np.bincount(b, minlength=buckets))]).tolist()
    return [taken.slice(lo, hi - lo) for lo, hi in zip(bounds, bounds[1:])]


@dataclass
class Linked:
    """One bucket's adds with their lifecycle columns, and its executions' adds."""

    orders: pa.Table  # ADD_SCHEMA + executed, cancelled, last_time (-1: none), events,
    # end_line (the line that ended it; -1: open)
    fill_line: np.ndarray  # line of each execution (E) of the bucket
    fill_add: np.ndarray  # its add's row in ``orders``; -1 when no add precedes it
    fill_price: np.ndarray | None = None  # binary: its price in ten-thousandths; -1 unknown


def link(adds: pa.Table, events: pa.Table) -> Linked:
    """Link each event of one bucket to its add (:func:`pairs`) and sum them per add."""
    add_id = adds.column("order_id").to_numpy()
    add_line = adds.column("line_no").to_numpy()
    ev_id = events.column("order_id").to_numpy()
    ev_line = events.column("line_no").to_numpy()
    na = len(add_id)
    on, to = pairs(add_id, add_line, ev_id, ev_line)

    shares = events.column("shares").to_numpy()[on].astype(np.float64)  # sums stay < 2**53
    is_exec = events.column("executed").to_numpy(zero_copy_only=False)
    executed = np.bincount(to, np.where(is_exec[on], shares, 0), na).astype(np.int64)
    cancelled = np.bincount(to, np.where(is_exec[on], 0, shares), na).astype(np.int64)
    count = np.bincount(to, minlength=na).astype(np.int64)
    # An add's events come in line order, so its run's end is its last event.
    last = np.flatnonzero(np.append(to[1:] != to[:-1], True)) if len(to) else to
    last_time = np.full(na, -1, np.int64)
    last_time[to[last]] = events.column("time_ns").to_numpy()[on[last]]
    event_add = np.full(len(ev_id), -1, np.int64)
    event_add[on] = to
    # The line that ended it: its last linked event's (its add's, with none) once
    # nothing remains. Linked events are a superset of those the book's engine
    # applies (it drops those after the end), so this is never before its end.
    end_line = add_line.astype(np.int64, copy=True)
    end_line[to[last]] = ev_line[on[last]]
    end_line[adds.column("shares").to_numpy() - executed - cancelled > 0] = -1
    orders = adds
    for name, values in (("executed", executed), ("cancelled", cancelled),
                         ("last_time", last_time), ("events", count), ("end_line", end_line)):
        orders = orders.append_column(name, pa.array(values))
    return Linked(orders, ev_line[is_exec], event_add[is_exec])


#: See :func:`pairs`.
PARTS = 16
PART_ROWS = 400_000


def pairs(add_id: np.ndarray, add_line: np.ndarray, ev_id: np.ndarray, ev_line: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """(events, their adds): each event that has an add (the latest of its id before
    it), and that add; grouped by add, each add's events in line order.

    Over PART_ROWS rows, in PARTS parts by order id, two at a time: numpy releases
    the GIL, and each part's sort stays in the cache.
    """
    if len(add_id) + len(ev_id) < PART_ROWS:
        return _pairs(add_id, add_line, ev_id, ev_line)
    parts_a, parts_e = _split(add_id), _split(ev_id)

    def part(k: int) -> tuple[np.ndarray, np.ndarray]:
        a, e = parts_a[k], parts_e[k]
        on, to = _pairs(add_id[a], add_line[a], ev_id[e], ev_line[e])
        return e[on], a[to]
    with ThreadPoolExecutor(2, thread_name_prefix="pitch-link-part") as pool:
        got = list(pool.map(part, range(PARTS)))
    return np.concatenate([p[0] for p in got]), np.concatenate([p[1] for p in got])


def _split(ids: np.ndarray) -> list[np.ndarray]:
    """Indices of ``ids`` per part ``id % PARTS``, ascending within each."""
    b = (ids % np.uint64(PARTS)).astype(np.uint8)
    order = np.argsort(b, kind="stable")  # a radix sort for one-byte keys
    return np.split(order, np.cumsum(np.bincount(b, minlength=PARTS))[:-1])


def _pairs(add_id: np.ndarray, add_line: np.ndarray, ev_id: np.ndarray, ev_line: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """(events, their adds): indices of the events that have an add, and of that add.

    Adds and events sorted together by (id, line): the add of an event is the
    nearest add before it in that order, if it has the same id. The pairs come
    out grouped by add, each add's events in line order.
    """
    na = len(add_id)
    order = np.lexsort((np.concatenate([add_line, ev_line]), np.concatenate([add_id, ev_id])))
    ids = np.concatenate([add_id, ev_id])[order]
    is_add = order < na
    latest = np.maximum.accumulate(np.where(is_add, np.arange(len(order)), -1))
    at = np.flatnonzero(~is_add & (latest >= 0))
    at = at[ids[latest[at]] == ids[at]]  # that add has the same id
    return order[at] - na, order[latest[at]]


ORDERS_SCHEMA = pa.schema(list(ADD_SCHEMA) + [
    pa.field(n, pa.int64()) for n in ("executed", "cancelled", "last_time", "events",
                                      "end_line")])

_ORDERS_SQL = f"""
INSERT INTO orders ({", ".join(ORDER_STORED_COLUMNS)})
SELECT $f, line_no, order_id, symbol, side, price, shares, executed, cancelled,
       shares - executed - cancelled,
       time_ns, CASE WHEN events > 0 THEN last_time ELSE time_ns END, events, 0, 0, NULL,
       nullif(end_line, -1)
FROM _pitch_orders
"""

# Executions (E) take symbol and price from their add (``_pitch_fills``: each E's
# line with its add's symbol and price, NULL when no add precedes it); trades
# carry their own. Run once per range of lines ($lo <= line_no < $hi, in order):
# see :func:`insert_derived`.
_EXECUTIONS_SQL = f"""
INSERT INTO executions
SELECT $f, e.line_no, e.execution_id, e.time_ns, f.symbol, e.shares, f.price, e.type, e.order_id,
       e.execution_id IN (FROM _pitch_broken)
FROM (SELECT line_no, execution_id, time_ns, shares, type, order_id FROM messages_common
      WHERE file_id = $f AND type IN ({sql_list(EXECUTE_CODES)})
        AND line_no >= $lo AND line_no < $hi) e
JOIN (FROM _pitch_fills_t WHERE line_no >= $lo AND line_no < $hi) f ON f.line_no = e.line_no
UNION ALL
SELECT $f, line_no, execution_id, time_ns, symbol, shares, price, type, order_id,
       execution_id IN (FROM _pitch_broken)
FROM messages WHERE file_id = $f AND type IN ({sql_list(TRADE_CODES)})
  AND line_no >= $lo AND line_no < $hi
ORDER BY 2
"""
#: The trade breaks' execution ids of one file, read once for every range.
_BROKEN_SQL = f"""CREATE TEMP TABLE _pitch_broken AS
SELECT execution_id FROM messages WHERE file_id = $f AND type IN ({sql_list(BREAK_CODES)})"""
#: Lines per range of the executions' insert. One statement for a whole file
#: held every order and execution in its hash joins, beside a sort: a 5 GB
#: capture (182M messages) ran out of DuckDB's 1 GB there. A range of 16M
#: lines holds a few million executions, and no join reads ``orders``.
EXECUTION_LINES = 16_000_000

#: DuckDB's row group: inserting batches smaller than this costs it a merge
#: (about twice the time for orders), so the buckets' orders are regrouped.
ROW_GROUP = 122_880


Lifecycles.orders_schema = ORDERS_SCHEMA
Lifecycles.orders_sql = _ORDERS_SQL
Lifecycles.executions_sql = _EXECUTIONS_SQL
Lifecycles.broken_sql = _BROKEN_SQL


def insert_derived(cur: duckdb.DuckDBPyConnection, file_id: int, lifecycles: Lifecycles
                   ) -> dict[str, float]:
    """Fill ``orders`` and ``executions`` for one file; the seconds each took.

    Each bucket's fills (an execution's line, its add's symbol and price, or
    binary's price from the replay) go to a :class:`~pitch.spool.Spool` as
    the bucket is written, so they never sit in memory for the whole file
    (17M executions in a 5 GB capture: 0.8 GB as arrays, twice that
    concatenated). They become a temporary table, and the executions are
    inserted one range of :data:`EXECUTION_LINES` lines at a time, in line
    order, so each join holds one range's executions.
    """
    started = time.perf_counter()
    fills = _Fills(lifecycles.orders_schema.field("symbol").type)
    stream = pa.RecordBatchReader.from_batches(lifecycles.orders_schema,
                                               _orders(lifecycles, fills))
    try:
        with registered(cur, "_pitch_orders", stream):
            cur.execute(lifecycles.orders_sql, {"f": file_id})
        ordered = time.perf_counter()
        with registered(cur, "_pitch_fills", fills.reader()):
            cur.execute("CREATE TEMP TABLE _pitch_fills_t AS FROM _pitch_fills")
        cur.execute(lifecycles.broken_sql, {"f": file_id})
        last = cur.execute("SELECT max(line_no) FROM messages WHERE file_id = ?",
                           [file_id]).fetchone()[0] or 0
        for lo in range(1, last + 1, EXECUTION_LINES):
            cur.execute(lifecycles.executions_sql,
                        {"f": file_id, "lo": lo, "hi": lo + EXECUTION_LINES})
        cur.execute("DROP TABLE _pitch_fills_t")
        cur.execute("DROP TABLE _pitch_broken")
    finally:
        fills.close()
    return {"orders": ordered - started, "executions": time.perf_counter() - ordered}


#: Fills kept in memory before they go to a temporary file (about 30 bytes each).
MEMORY_FILLS = 1_000_000


class _Fills:
    """Every bucket's fills, in bucket order, spooled (see :func:`insert_derived`):
    each execution's line, and the symbol and price it takes from its add (text) or
    from the replay (binary, whose price falls back to the message's own)."""

    def __init__(self, symbol_type: pa.DataType) -> None:
        self.schema = pa.schema([("line_no", pa.int64()), ("symbol", symbol_type),
                                 ("price", pa.decimal128(18, 4))])
        self._spool: Spool | None = None

    def add(self, got: Linked) -> None:
        picked = got.orders.select(["symbol", "price"]).take(
            pa.array(got.fill_add, mask=got.fill_add < 0))  # NULL where no add
        price = (picked.column("price") if got.fill_price is None
                 else decimal(got.fill_price, got.fill_price >= 0))
        if self._spool is None:
            self._spool = Spool(self.schema, MEMORY_FILLS)
        self._spool.add(pa.table([pa.array(got.fill_line, pa.int64()), picked.column("symbol"),
                                  price], schema=self.schema))

    def reader(self) -> pa.RecordBatchReader:
        if self._spool is None:  # no bucket: no fills
            return pa.RecordBatchReader.from_batches(self.schema, [])
        return self._spool.reader()

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()


def _orders(lifecycles: Lifecycles, fills: _Fills) -> Iterator[pa.RecordBatch]:
    """Every bucket's orders, in batches of at least two row groups; its fills to ``fills``."""
    pending: list[pa.Table] = []
    rows = 0
    for got in lifecycles.linked():
        fills.add(got)
        pending.append(got.orders)
        rows += got.orders.num_rows
        if rows >= 2 * ROW_GROUP:
            yield from _regrouped(pending)
            pending, rows = [], 0
    if pending:
        yield from _regrouped(pending)


def _regrouped(tables: list[pa.Table]) -> list[pa.RecordBatch]:
    table = pa.concat_tables(tables).combine_chunks()
    return table.to_batches() if table.num_rows else []
