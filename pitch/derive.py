"""Order lifecycles in numpy, while a file is decoded.

The rule is the one of :mod:`pitch.store` (``_DERIVE_ORDERS``): an execution or
cancel belongs to the latest add of its order id before it in the same file.
Ingest hands every chunk's order-keyed rows (:class:`Keys`, made by the
decoder) to :class:`Lifecycles`; after the last chunk, :meth:`Lifecycles.resolve`
sorts them once by (order id, line) and gives each add its executed and
cancelled shares, its last event time and its event count, and each execution
its add. :func:`insert_derived` then writes ``orders`` straight from the
decoded adds and ``executions`` with one join, instead of sorting every add,
execution and cancel back out of the database.

Above :data:`MAX_KEYS` rows (about 12M messages) the keys would cost too much
memory; :class:`Lifecycles` then drops them and ingest falls back to the SQL
derivation in passes (:func:`pitch.store.derive_file`), whose memory is bounded.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator

import duckdb
import numpy as np
import pyarrow as pa

from .store import ORDER_STORED_COLUMNS, derive_trades

#: Adds + executions + cancels kept for numpy; beyond, the SQL derivation.
#: About 30 bytes each, and as much again while they are sorted.
MAX_KEYS = 12_000_000


#: Order-id buckets: an order and its events share one, so each bucket is
#: linked on its own, two at a time. At 10M messages that is several times
#: faster than one sort of everything, whose random accesses miss the cache.
BUCKETS = 16


@dataclass
class Keys:
    """The order-keyed rows of one bucket of one chunk."""

    add_at: np.ndarray  # int64: index of each add among the chunk's adds
    add_id: np.ndarray  # uint64
    add_line: np.ndarray  # int64, 1-based line in the file
    ev_id: np.ndarray  # executions (E) and cancels (X)
    ev_line: np.ndarray
    ev_shares: np.ndarray  # int64: executed or cancelled shares
    ev_time: np.ndarray  # int64 ns
    ev_exec: np.ndarray  # bool: E, not X


@dataclass
class ChunkKeys:
    """The order-keyed rows of one chunk, split into BUCKETS (made by the decoder)."""

    adds: int
    buckets: list[Keys]

    @staticmethod
    def of(add_id: np.ndarray, add_line: np.ndarray, ev_id: np.ndarray, ev_line: np.ndarray,
           ev_shares: np.ndarray, ev_time: np.ndarray, ev_exec: np.ndarray) -> "ChunkKeys":
        adds, events = _buckets(add_id), _buckets(ev_id)
        return ChunkKeys(len(add_id), [
            Keys(a, add_id[a], add_line[a], ev_id[e], ev_line[e], ev_shares[e], ev_time[e],
                 ev_exec[e]) for a, e in zip(adds, events)])

    @staticmethod
    def empty() -> "ChunkKeys":
        return ChunkKeys(0, [])

    def __len__(self) -> int:
        return sum(len(k.add_id) + len(k.ev_id) for k in self.buckets)


def _buckets(ids: np.ndarray) -> list[np.ndarray]:
    """Indices of ``ids`` per bucket ``id % BUCKETS``, ascending within each."""
    b = (ids % np.uint64(BUCKETS)).astype(np.uint8)
    order = np.argsort(b, kind="stable")  # a radix sort for one-byte keys
    return np.split(order, np.cumsum(np.bincount(b, minlength=BUCKETS))[:-1])


@dataclass
class Resolved:
    """Per add (in the order the adds came) and per execution (E, in no order)."""

    executed: np.ndarray
    cancelled: np.ndarray
    last_time: np.ndarray  # time of the add's last event; -1 if it has none
    events: np.ndarray
    fill_line: np.ndarray  # line of each E
    fill_add_line: np.ndarray  # line of its add; -1 when no add precedes it


class Lifecycles:
    """Collects :class:`ChunkKeys` chunk by chunk; :meth:`resolve` links them."""

    def __init__(self, max_keys: int | None = None) -> None:
        self.max_keys = MAX_KEYS if max_keys is None else max_keys
        self.keys = 0
        self.adds = 0
        self.overflow = False  # too many: use the SQL derivation
        self._parts: list[list[Keys]] = [[] for _ in range(BUCKETS)]
        self._started: Future | None = None

    def add(self, chunk: ChunkKeys | None) -> None:
        if chunk is None or self.overflow:
            return
        if self._started is not None:
            raise RuntimeError("keys added after resolving started")
        self.keys += len(chunk)
        if self.keys > self.max_keys:
            self.overflow, self._parts = True, []
            return
        for parts, keys in zip(self._parts, chunk.buckets):
            if len(keys.add_id) or len(keys.ev_id):
                keys.add_at = keys.add_at + self.adds  # now among the file's adds
                parts.append(keys)
        self.adds += chunk.adds

    def start(self) -> None:
        """Begin :meth:`resolve` in the background: every key is in."""
        if not self.overflow and self._started is None:
            pool = ThreadPoolExecutor(1, thread_name_prefix="pitch-resolve")
            self._started = pool.submit(self._resolve)
            pool.shutdown(wait=False)

    def resolve(self) -> Resolved:
        """Link every event to its add (see :func:`_link`), bucket by bucket."""
        return self._resolve() if self._started is None else self._started.result()

    def _resolve(self) -> Resolved:
        na = self.adds
        executed, cancelled, events = (np.zeros(na, np.int64) for _ in range(3))
        last_time = np.full(na, -1, np.int64)

        def bucket(parts: list[Keys]) -> tuple[np.ndarray, np.ndarray]:
            if not parts:
                return np.zeros(0, np.int64), np.zeros(0, np.int64)
            k = Keys(*(np.concatenate([getattr(p, f) for p in parts])
                       for f in Keys.__dataclass_fields__))
            on, to = _link(k.add_id, k.add_line, k.ev_id, k.ev_line)
            ai = k.add_at
            shares = k.ev_shares[on].astype(np.float64)  # exact: sums stay far below 2**53
            is_exec = k.ev_exec[on]
            executed[ai] = np.bincount(to, np.where(is_exec, shares, 0), len(ai))
            cancelled[ai] = np.bincount(to, np.where(is_exec, 0, shares), len(ai))
            events[ai] = np.bincount(to, minlength=len(ai))
            # An add's events come in line order, so its run's end is its last event.
            last = np.flatnonzero(np.append(to[1:] != to[:-1], True)) if len(to) else to
            last_time[ai[to[last]]] = k.ev_time[on[last]]
            add_line = np.full(len(k.ev_id), -1, np.int64)
            add_line[on] = k.add_line[to]
            return k.ev_line[k.ev_exec], add_line[k.ev_exec]

        with ThreadPoolExecutor(2, thread_name_prefix="pitch-derive") as pool:
            fills = list(pool.map(bucket, self._parts))  # numpy releases the GIL
        self._parts = [[] for _ in range(BUCKETS)]
        return Resolved(executed, cancelled, last_time, events,
                        np.concatenate([f[0] for f in fills] or [np.zeros(0, np.int64)]),
                        np.concatenate([f[1] for f in fills] or [np.zeros(0, np.int64)]))


def _link(add_id: np.ndarray, add_line: np.ndarray, ev_id: np.ndarray, ev_line: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """(events, their adds): indices of the events that have an add, and of that add.

    The add of an event is the latest add of its id before it. Adds and events
    sorted together by (id, line): each event's add is the nearest add before
    it in that order, if it has the same id. The pairs come out sorted by
    (add, line).
    """
    na = len(add_id)
    order = np.lexsort((np.concatenate([add_line, ev_line]), np.concatenate([add_id, ev_id])))
    ids = np.concatenate([add_id, ev_id])[order]
    is_add = order < na
    latest = np.maximum.accumulate(np.where(is_add, np.arange(len(order)), -1))
    at = np.flatnonzero(~is_add & (latest >= 0))
    at = at[ids[latest[at]] == ids[at]]  # that add has the same id
    return order[at] - na, order[latest[at]]


#: What :func:`insert_derived` reads: the decoded adds plus the resolved columns.
_ORDERS_SQL = f"""
INSERT INTO orders ({", ".join(ORDER_STORED_COLUMNS)})
SELECT $f, line_no, order_id, symbol, side, price, shares, executed, cancelled,
       time_ns, CASE WHEN events > 0 THEN last_time ELSE time_ns END, events
FROM _pitch_orders
"""

_FILLS_SQL = """
INSERT INTO executions
SELECT $f, e.line_no, e.execution_id, e.time_ns, o.symbol, e.shares, o.price, e.type, e.order_id,
       e.execution_id IN (SELECT execution_id FROM messages WHERE file_id = $f AND type = 'B')
FROM (SELECT line_no, execution_id, time_ns, shares, type, order_id FROM messages_common
      WHERE file_id = $f AND type = 'E') e
JOIN _pitch_fills f ON f.line_no = e.line_no
LEFT JOIN (SELECT line_no, symbol, price FROM orders WHERE file_id = $f) o
       ON o.line_no = f.add_line
ORDER BY e.line_no
"""


def insert_derived(cur: duckdb.DuckDBPyConnection, file_id: int, lifecycles: Lifecycles,
                   adds: pa.RecordBatchReader) -> dict[str, float]:
    """Fill ``orders`` and ``executions`` for one file from what ingest collected.

    ``adds`` are the file's decoded adds in the order their :class:`Keys`
    came. Returns the seconds spent on each table.
    """
    started = time.perf_counter()
    got = lifecycles.resolve()
    schema = _orders_schema(adds.schema)
    stream = pa.RecordBatchReader.from_batches(schema, _with(adds, got, schema))
    cur.register("_pitch_orders", stream)
    try:
        cur.execute(_ORDERS_SQL, {"f": file_id})
    finally:
        cur.unregister("_pitch_orders")
    ordered = time.perf_counter()
    fills = pa.table({"line_no": got.fill_line,
                      "add_line": pa.array(got.fill_add_line, mask=got.fill_add_line < 0)})
    cur.register("_pitch_fills", fills)
    try:
        cur.execute(_FILLS_SQL, {"f": file_id})
    finally:
        cur.unregister("_pitch_fills")
    derive_trades(cur, file_id)
    return {"orders": ordered - started, "executions": time.perf_counter() - ordered}


_EXTRA = [("executed", pa.int64()), ("cancelled", pa.int64()), ("last_time", pa.int64()),
          ("events", pa.int64())]


def _orders_schema(adds: pa.Schema) -> pa.Schema:
    return pa.schema(list(adds) + [pa.field(n, t) for n, t in _EXTRA])


#: DuckDB's row group: inserting batches smaller than this costs it a merge
#: (about twice the time for orders), so the adds are regrouped.
ROW_GROUP = 122_880


def _with(batches: Iterator[pa.RecordBatch], got: Resolved, schema: pa.Schema
          ) -> Iterator[pa.RecordBatch]:
    """The adds with their resolved columns, in batches of at least two row groups."""
    at, pending, rows = 0, [], 0
    for b in batches:
        pending.append(b)
        rows += b.num_rows
        if rows >= 2 * ROW_GROUP:
            yield _joined(pending, got, at, schema)
            at, pending, rows = at + rows, [], 0
    if pending:
        yield _joined(pending, got, at, schema)


def _joined(batches: list[pa.RecordBatch], got: Resolved, at: int, schema: pa.Schema
            ) -> pa.RecordBatch:
    adds = pa.Table.from_batches(batches).combine_chunks().to_batches()[0]
    n = adds.num_rows
    extra = [pa.array(a[at:at + n]) for a in (got.executed, got.cancelled, got.last_time,
                                               got.events)]
    return pa.RecordBatch.from_arrays(adds.columns + extra, schema=schema)
