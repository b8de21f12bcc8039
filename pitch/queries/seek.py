"""Deep pages without sorting every row before them: a "band seek".

A page at offset ``k`` of ``ORDER BY c NULLS LAST, file_id, line_no`` (``c``
ascending or descending) holds the rows of rank ``k`` .. ``k + limit - 1``.
``LIMIT ... OFFSET k`` keeps the ``k`` smallest keys in a heap: its cost grows
with ``k`` and with the table, on every visit. The seek instead finds a band
of keys ``low <= key < stop`` that holds the page and few other rows, counts
the rows before ``low`` exactly, and sorts only the band:

1. A system sample of the rows in the band (DuckDB reads only the sampled
   vectors of each table; see :func:`pitch.store.sampled`), sorted, says which
   keys lie near ranks ``k`` and ``k + limit``; a new ``low`` and ``stop`` are
   taken a few standard errors to either side.
2. One scan counts, exactly, the rows before each of the two keys. A key with
   at most ``k`` rows before it may be the band's ``low``; one with at least
   ``k + limit`` rows before it may be its ``stop``; a key in between is of no
   use. Either way the band narrows or stays: it always holds the page.
3. After a few rounds, or once the band is small, the page is rows
   ``k - rank(low)`` .. of the band in the table's order.

Why it is exact: ``rank(low)`` and ``rank(stop)`` are counted, never
estimated, with the same order as ``ORDER BY`` (the sample only chooses which
keys to count), and the band holds every row from ``low`` up to ``stop``, so
its row ``k - rank(low)`` is the table's row ``k``. A bad sample makes the
band wider, never the answer different.

Keys: where one value has many rows (a heavy tie, or the NULLs, which come
last and among themselves in file order) a band end is the whole triple
``(value, file_id, line_no)``, so it can fall inside the tie; elsewhere it is
the value alone (the first row with that value), which plain comparisons
cost less to test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .. import store

#: Pages that start this close to either end are read with LIMIT/OFFSET: cheap there.
NEAR = 200_000
#: A band of at most this many rows is sorted as it is; a wider one is narrowed again.
BAND_ROWS = 100_000
#: How many of the band's rows a sample aims to hold.
SAMPLE_ROWS = 50_000
#: Band ends are placed this many standard errors of the sample's estimate from the page.
MARGIN = 4.0
#: Narrowing rounds before the band is sorted however wide it is.
ROUNDS = 4


@dataclass(frozen=True)
class Sort:
    """The sort column (never user text), its direction and its SQL type (for binding)."""

    column: str
    desc: bool
    sql_type: str


@dataclass(frozen=True)
class Key:
    """A place in the order: just before the row ``(value, file_id, line_no)``, or when
    ``whole`` is False just before the first row with ``value`` (None: the NULLs)."""

    value: object
    file_id: int
    line_no: int
    whole: bool


def compare(sort: Sort, key: Key, below: bool) -> tuple[str, list]:
    """SQL (and parameters) true for rows before ``key`` (``below``) or at or after it.

    Never NULL for a row, so it can be negated by the other side: NULL values
    come after every value, and among themselves in (file_id, line_no) order.
    """
    c = sort.column
    tie = "<" if below else ">="
    tail = f"(file_id {tie[0]} ? OR (file_id = ? AND line_no {tie} ?))"
    tail_params = [key.file_id, key.file_id, key.line_no]
    if key.value is None:  # the NULL segment
        if not key.whole:
            return (f"{c} IS NOT NULL" if below else f"{c} IS NULL"), []
        return (f"({c} IS NOT NULL OR {tail})" if below else f"({c} IS NULL AND {tail})",
                tail_params)
    value = f"CAST(? AS {sort.sql_type})"
    op = ("<" if below else ">") if not sort.desc else (">" if below else "<")
    nulls = "" if below else f"{c} IS NULL OR "
    if not key.whole:
        return f"({nulls}{c} {op}{'' if below else '='} {value})", [key.value]
    return (f"({nulls}{c} {op} {value} OR ({c} = {value} AND {tail}))",
            [key.value, key.value, *tail_params])


def band(sort: Sort, low: Key | None, stop: Key | None) -> tuple[list[str], list]:
    """Conditions (and parameters) for ``low <= key < stop``; None is the table's end.

    A plain range on the column is added where it holds, so DuckDB can test
    it while scanning and skip row groups by their min/max.
    """
    conds: list[str] = []
    params: list = []
    for key, below in ((low, False), (stop, True)):
        if key is not None:
            sql, more = compare(sort, key, below)
            conds.append(sql)
            params += more
    if low is not None and low.value is None:
        conds.append(f"{sort.column} IS NULL")
    elif stop is not None and stop.value is not None:  # no NULLs in the band
        ends = [(stop, ">=" if sort.desc else "<=")]
        ends += [(low, "<=" if sort.desc else ">=")] if low is not None else []
        for key, op in ends:
            conds.append(f"{sort.column} {op} CAST(? AS {sort.sql_type})")
            params.append(key.value)
    return conds, params


@dataclass(frozen=True)
class Rows:
    """The rows a page is taken from: a table (or the messages view) under a filter."""

    table: str
    where: str  # '' or 'WHERE ...' with ? placeholders
    params: list

    def narrowed(self, conds: list[str], params: list) -> tuple[str, list]:
        """WHERE text and parameters for these rows that also meet ``conds``."""
        parts = ([f"({self.where.removeprefix('WHERE ')})"] if self.where else []) + conds
        return ("WHERE " + " AND ".join(parts)) if parts else "", self.params + params


def locate(conn: duckdb.DuckDBPyConnection, rows: Rows, sort: Sort, order: str, offset: int,
           limit: int, total: int) -> tuple[str, list, int]:
    """A band that holds the page at ``offset``: (WHERE text, parameters, offset within it).

    ``order`` is the table's ORDER BY text for ``sort``; ``total`` the rows that match.
    """
    low = stop = None
    before, upto = 0, total  # rows before low, rows before stop: counted, never guessed
    for seed in range(1, ROUNDS + 1):
        if upto - before <= BAND_ROWS:
            break
        where, params = rows.narrowed(*band(sort, low, stop))
        sample = _sample(conn, rows.table, sort, order, where, params, upto - before, seed)
        keys = _estimate(sample, upto - before, offset - before, limit)
        if not keys:
            break
        ranks = [before + n for n in _ranks(conn, rows.table, sort, where, params, keys)]
        was = before, upto
        for key, rank in zip(keys, ranks):
            if before < rank <= offset:
                low, before = key, rank
            elif offset + limit <= rank < upto:
                stop, upto = key, rank
        if (before, upto) == was:
            break
    where, params = rows.narrowed(*band(sort, low, stop))
    return where, params, offset - before


def _sample(conn: duckdb.DuckDBPyConnection, table: str, sort: Sort, order: str, where: str,
            params: list, rows: int, seed: int) -> pa.Table:
    """About SAMPLE_ROWS of the band's ``rows`` rows: (v, file_id, line_no), in order."""
    percent = min(100.0, 100.0 * SAMPLE_ROWS / rows)
    return conn.sql(f"SELECT {sort.column} AS v, file_id, line_no "
                    f"FROM {store.sampled(table, percent, seed)} {where} {order}",
                    params=params).to_arrow_table()


def _estimate(sample: pa.Table, rows: int, at: int, limit: int) -> list[Key]:
    """Sample keys a margin before row ``at`` of the band and after row ``at + limit``.

    The band has ``rows`` rows; the margin is MARGIN standard errors of a
    quantile estimated from this many sampled rows.
    """
    n = sample.num_rows
    if n == 0:
        return []
    share = min(max(at / rows, 1 / n), 1 - 1 / n)
    margin = MARGIN * rows * math.sqrt(share * (1 - share) / n)
    keys = []
    for target in (at - margin, at + limit + margin):
        i = math.floor(target * n / rows)
        if 0 < i < n:
            keys.append(_key(sample, i, rows / n))
    return keys


def _key(sample: pa.Table, i: int, weight: float) -> Key:
    """The key of sampled row ``i``; whole where its value's ties are many."""
    value, file_id, line_no = (sample.column(j)[i].as_py() for j in range(3))
    column = sample.column(0)
    ties = column.null_count if value is None else pc.sum(pc.equal(column, value)).as_py()
    return Key(value, file_id, line_no, whole=ties * weight > BAND_ROWS / 4)


def _ranks(conn: duckdb.DuckDBPyConnection, table: str, sort: Sort, where: str, params: list,
           keys: list[Key]) -> list[int]:
    """How many rows (of those ``where`` keeps) come before each key: one scan."""
    tests = [compare(sort, key, below=True) for key in keys]
    sql = ", ".join(f"count_if({test})" for test, _ in tests)
    return list(conn.execute(f"SELECT {sql} FROM {table} {where}",
                             [p for _, more in tests for p in more] + params).fetchall()[0])
