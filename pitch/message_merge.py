"""One file's messages in time order, read cheaply: a merge of its storage tables' runs.

``messages`` is a view over four storage tables (:mod:`pitch.store`). Asking
DuckDB for ``SELECT * FROM messages ... ORDER BY time_ns, line_no`` makes it
carry all 30 columns of every row through a sort, most of them NULL padding:
about 0.8 CPU-seconds per million messages, more than writing them to
Parquet. But each storage table is stored in line order, and a PITCH file's
times rise with its lines, so each one is (almost always) already a sorted
run: read each narrow table as it is stored, check that it is in order as it
streams by (or sort that one table when it is not), and merge the runs in
batches with numpy. Memory stays at a few batches whatever the file's size.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import store
from .file_tables import ID_TYPE, archive_schema

#: The storage tables behind ``messages`` and their columns (file_id included).
STORAGE = store.MESSAGE_STORAGE
_ORDER = "ORDER BY time_ns NULLS FIRST, line_no"


def _keys(table: pa.Table | pa.RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    # NULL times (binary messages before their unit's first Time) sort first: -1.
    times = pc.fill_null(table.column("time_ns"), -1).to_numpy()
    return np.asarray(times), np.asarray(table.column("line_no").to_numpy())


def _in_order(conn: Any, table: str, where: str, rows: int) -> bool | None:
    """Whether the table's rows for the file, as stored, run in (time, line) order.

    None when the file has no rows in it. Streams two columns, batch by batch.
    """
    reader = conn.sql(f"SELECT time_ns, line_no FROM {table} {where}").to_arrow_reader(
        batch_size=rows)
    last, seen = None, False
    try:
        for batch in reader:
            if not batch.num_rows:
                continue
            seen = True
            t, line = _keys(batch)
            if last is not None:
                t, line = np.concatenate(([last[0]], t)), np.concatenate(([last[1]], line))
            dt = np.diff(t)
            if not np.all((dt > 0) | ((dt == 0) & (np.diff(line) > 0))):
                return False
            last = (t[-1], line[-1])
    finally:
        reader.close()
    return True if seen else None


def message_batches(conn: Any, where: str, rows: int) -> Iterator[pa.RecordBatch]:
    """The ``messages`` rows matching ``where`` (one file), sorted, in the archive schema.

    Scan order is insertion order (DuckDB's ``preserve_insertion_order``, on by
    default), so the check and the read see the rows in the same order.
    """
    streams, cursors = [], []
    try:
        for table, columns in STORAGE:
            cur = conn.cursor()  # one open result per connection: a cursor per stream
            cursors.append(cur)
            ordered = _in_order(cur, table, where, rows)
            if ordered is None:
                continue
            select = ", ".join(f"{c}::{ID_TYPE} AS {c}" if t == "UBIGINT" else c
                               for c, t in columns.items() if c != "file_id")
            streams.append(cur.sql(f"SELECT {select} FROM {table} {where} "
                                   f"{'' if ordered else _ORDER}").to_arrow_reader(
                                       batch_size=rows))
        yield from merge(streams, archive_schema("messages"))
    finally:
        for reader in streams:
            reader.close()
        for cur in cursors:
            cur.close()


def _widen(batch: pa.RecordBatch, schema: pa.Schema) -> pa.Table:
    """A storage table's batch with every ``messages`` column (NULL where it has none)."""
    names = set(batch.schema.names)
    arrays = [batch.column(f.name).cast(f.type) if f.name in names else pa.nulls(batch.num_rows,
                                                                                 f.type)
              for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _upto(table: pa.Table, bound: tuple[int, int]) -> int:
    """How many leading rows of a sorted table have a key <= ``bound``."""
    t, line = _keys(table)
    lo, hi = np.searchsorted(t, bound[0], "left"), np.searchsorted(t, bound[0], "right")
    return int(lo + np.searchsorted(line[lo:hi], bound[1], "right"))


def merge(streams: list[Any], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """Merge record-batch streams, each sorted by (time, line), into one sorted stream.

    Each round emits every buffered row up to the smallest last key among the
    streams that may still deliver rows: nothing later can come before it.
    """
    iters = [iter(s) for s in streams]
    pending: list[pa.Table | None] = [None] * len(iters)
    live = [True] * len(iters)
    while True:
        for i, it in enumerate(iters):
            while live[i] and (pending[i] is None or pending[i].num_rows == 0):
                batch = next(it, None)
                if batch is None:
                    live[i] = False
                else:
                    pending[i] = _widen(batch, schema)
        have = [i for i, p in enumerate(pending) if p is not None and p.num_rows]
        if not have:
            return
        lasts = [_keys(pending[i].slice(pending[i].num_rows - 1)) for i in have if live[i]]
        bound = min(((int(t[0]), int(line[0])) for t, line in lasts), default=None)
        parts = []
        for i in have:
            n = pending[i].num_rows if bound is None else _upto(pending[i], bound)
            if n:
                parts.append(pending[i].slice(0, n))
                pending[i] = pending[i].slice(n)
        merged = pa.concat_tables(parts)
        if len(parts) > 1:
            t, line = _keys(merged)
            merged = merged.take(pa.array(np.lexsort((line, t))))
        yield from merged.to_batches()
