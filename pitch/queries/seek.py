"""Deep pages without sorting every row before them: a "band seek".

A page at offset ``k`` of ``ORDER BY c NULLS LAST, file_id, line_no`` (``c``
ascending or descending) holds the rows of rank ``k`` .. ``k + limit - 1``.
``LIMIT ... OFFSET k`` pushes every row through a heap of the ``k + limit``
smallest keys: at 10M messages a page 200,000 rows in costs as much as the
middle one, over a second, and it grows with the table. The seek instead
finds a band ``low <= c < stop`` that holds the page and few other rows,
counts the rows before ``low`` exactly, and sorts only the band:

1. A system sample of the band's rows (DuckDB reads only the sampled vectors
   of each table; see :func:`pitch.store.sampled`) says which values of ``c``
   lie near ranks ``k`` and ``k + limit``; values at widening margins to
   either side become candidate ends.
2. One query counts, exactly, the rows before each candidate (plain
   comparisons, which DuckDB tests while scanning, skipping row groups by
   their min/max where the column follows the file). A candidate with at most
   ``k`` rows before it may become ``low``, one with at least ``k + limit``
   may become ``stop``, so the band narrows and still holds the page; one that
   falls inside the page splits it in two pages, each sought on its own.
3. When the band is one heavy value (say a share count of 100, or the NULLs)
   the seek goes on inside it, under ``c = value``, by the next key: the
   row's place (file_id, line_no), which is unique.
4. The page is then rows ``k - rank(low)`` .. of the band, by LIMIT/OFFSET.

Why it is exact: ranks are counted, never estimated (the sample only chooses
which values to count), in the order ORDER BY uses (NULLs after every value,
ties by file_id then line_no), and a band holds every row from ``low`` up to
``stop``, so its row ``k - rank(low)`` is the table's row ``k``. A poor sample
costs rounds, never a different answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import duckdb

from .. import store

#: Pages that start this close to the start are read with LIMIT/OFFSET: a small heap is cheap.
NEAR = 1_000
#: So are pages of this many matching rows or fewer: the seek's few queries would cost more.
FEW_ROWS = 1_000_000
#: A band of at most this many rows is sorted as it is; a wider one is narrowed again.
BAND_ROWS = 200_000
#: How many of the band's rows a sample aims to hold.
SAMPLE_ROWS = 10_000
#: How many of the band's rows a sample reads, in whole vectors, to keep SAMPLE_ROWS.
READ_ROWS = 300_000
#: The first margin around the page, in standard errors of the sample's estimate.
MARGIN = 3.0
#: Each wider margin is this many times the last (see _estimate).
SPREAD = 3
#: Narrowing rounds for one key before the band is sorted however wide it is.
ROUNDS = 4


@dataclass(frozen=True)
class Sort:
    """One key of the order: a column (never user text), its direction, its SQL type."""

    column: str
    desc: bool
    sql_type: str


@dataclass(frozen=True)
class Key:
    """A place in one column's order: just before the first row with ``value``, or
    just after the last one when ``after`` (None: the NULLs, which come last)."""

    value: object
    after: bool = False


#: The last key of every order: a row's place, (file_id, line_no), unique.
POSITION = Sort("file_id, line_no", False, "")


def before(sort: Sort, key: Key) -> tuple[str, list]:
    """SQL (and parameters) true for rows before ``key``; never NULL."""
    if sort is POSITION:
        return _place(key, "<")
    if key.value is None:
        return ("TRUE" if key.after else f"{sort.column} IS NOT NULL"), []
    op = (">" if sort.desc else "<") + ("=" if key.after else "")
    return f"{sort.column} {op} CAST(? AS {sort.sql_type})", [key.value]


def _from(sort: Sort, key: Key, plain: bool) -> tuple[str, list]:
    """SQL for rows at or after ``key``; ``plain`` when no NULL can be in view."""
    if sort is POSITION:
        return _place(Key(key.value, not key.after), ">")
    if key.value is None:
        return ("FALSE" if key.after else f"{sort.column} IS NULL"), []
    op = ("<" if sort.desc else ">") + ("" if key.after else "=")
    test = f"{sort.column} {op} CAST(? AS {sort.sql_type})"
    return (test if plain else f"({sort.column} IS NULL OR {test})"), [key.value]


def _place(key: Key, op: str) -> tuple[str, list]:
    """Rows before (``op`` '<') or after ('>') the place ``key.value``, or at it too when
    ``key.after``; the file test first, which DuckDB can check while scanning."""
    file_id, line_no = key.value
    eq = "=" if key.after else ""
    return (f"file_id {op}= ? AND (file_id {op} ? OR line_no {op}{eq} ?)",
            [file_id, file_id, line_no])


def band(sort: Sort, low: Key | None, stop: Key | None) -> tuple[list[str], list]:
    """Conditions (and parameters) for rows from ``low`` up to ``stop`` (None: the ends)."""
    conds, params = [], []
    if stop is not None:
        sql, params = before(sort, stop)
        conds.append(sql)
    if low is not None:
        sql, more = _from(sort, low, plain=stop is not None and stop.value is not None)
        conds.append(sql)
        params += more
    return conds, params


def _equal(sort: Sort, value: object) -> tuple[list[str], list]:
    if value is None:
        return [f"{sort.column} IS NULL"], []
    return [f"{sort.column} = CAST(? AS {sort.sql_type})"], [value]


@dataclass(frozen=True)
class Rows:
    """The rows a page is taken from: a table (or the messages view) under a filter."""

    table: str
    where: str  # '' or 'WHERE ...' with ? placeholders
    params: list

    def narrowed(self, conds: list[str], params: list) -> Rows:
        """These rows that also meet ``conds``."""
        parts = ([f"({self.where.removeprefix('WHERE ')})"] if self.where else []) + conds
        return Rows(self.table, ("WHERE " + " AND ".join(parts)) if parts else "",
                    self.params + params)


@dataclass(frozen=True)
class Part:
    """A piece of a page: rows ``offset`` .. ``offset + limit - 1`` of ``rows`` in order."""

    rows: Rows
    offset: int
    limit: int


#: ``blocks(column, value)``: how many of the rows hold ``value`` in ``column`` (column
#: None: every row) in each block of lines of a file, in file order, as (file_id, the
#: first and the last line holding it, rows); None when no block counts hold ``column``.
Blocks = Callable[[str | None, object], list[tuple[int, int, int, int]] | None]


def locate(conn: duckdb.DuckDBPyConnection, rows: Rows, sorts: list[Sort], offset: int,
           limit: int, total: int, counts: list[tuple[object, object, int]] | None = None,
           blocks: Blocks | None = None) -> list[Part]:
    """The page at ``offset`` as one or a few narrow parts, in order.

    ``sorts`` are the order's keys (the column, then file_id and line_no);
    ``total`` is how many rows ``rows`` holds. ``counts``, when known (the
    per-file counts kept at ingest, :mod:`pitch.summaries`), is how many of
    ``rows`` hold each value of the column (or each of disjoint ranges of
    values), in the order's order: see :func:`_from_counts`. The band then
    starts at the page's own values with exact ranks, without sampling.
    ``blocks`` (the per-block counts kept at ingest) does the same for rows in
    file order: in a file-order sort, or among the ties of one value.
    """
    low, stop = (None, 0), (None, total)
    if counts:
        low, stop = _from_counts(counts, offset, limit, low, stop)
    elif blocks is not None and sorts[0] is POSITION:
        low, stop = _from_blocks(blocks(None, None), offset, limit, low, stop)
    return _narrow(conn, rows, sorts, offset, limit, low, stop, blocks)


def _from_counts(counts: list[tuple[object, object, int]], offset: int, limit: int,
                 low: tuple[Key | None, int], stop: tuple[Key | None, int]
                 ) -> tuple[tuple[Key | None, int], tuple[Key | None, int]]:
    """The band from the first range holding row ``offset`` to the last holding the page's
    last row, with the rows before each end (exact: they are counts of the same rows).

    ``counts`` are disjoint ranges of values in the order's order, each as (its first
    value, its last value, how many rows hold a value in it): one value each, or wider
    ranges (a bucket of order ids); (None, None, n) is the NULLs.
    """
    seen = 0
    for first, last, n in counts:
        if seen + n > offset and low[0] is None:
            low = Key(first), seen
        seen += n
        if seen >= offset + limit:
            return low, (Key(last, after=True), seen)
    return low, stop


def _from_blocks(blocks: list[tuple[int, int, int, int]] | None, offset: int, limit: int,
                 low: tuple[Key | None, int], stop: tuple[Key | None, int]
                 ) -> tuple[tuple[Key | None, int], tuple[Key | None, int]]:
    """The band from the block holding row ``offset`` (in file order) to the block holding
    the page's last row, with the rows before each end (exact: counts of the same rows,
    and no row of a later block comes before a row of an earlier one)."""
    seen = 0
    for file_id, first, last, n in blocks or ():
        if seen + n > offset and low[0] is None:
            low = Key((file_id, first)), seen
        seen += n
        if seen >= offset + limit:
            return low, (Key((file_id, last), after=True), seen)
    return low, stop


def _narrow(conn: duckdb.DuckDBPyConnection, rows: Rows, sorts: list[Sort], offset: int,
            limit: int, low: tuple[Key | None, int], stop: tuple[Key | None, int],
            blocks: Blocks | None = None) -> list[Part]:
    """Narrow the band from ``low`` to ``stop``, each (key, rows before it), round by round."""
    sort = sorts[0]
    for seed in range(1, ROUNDS + 1):
        if stop[1] - low[1] <= BAND_ROWS or _one_value(low[0], stop[0]):
            break
        within = rows.narrowed(*band(sort, low[0], stop[0]))
        keys = _estimate(_sample(conn, within, sort, stop[1] - low[1], seed),
                         stop[1] - low[1], offset - low[1], limit)
        if not keys:
            break
        ranks = [low[1] + n for n in _ranks(conn, within, sort, keys)]
        was, inside, beyond = (low[1], stop[1]), None, []
        for key, rank in zip(keys, ranks):  # in order; of keys with equal ranks the one
            if rank <= offset:  # nearest the page wins: it may show a single value
                low = key, rank
            elif rank < offset + limit:
                inside = key, rank
            else:
                beyond.append((key, rank))
        stop = beyond[0] if beyond else stop
        if inside and stop[1] - low[1] > BAND_ROWS:  # split the page where the key falls
            return (_narrow(conn, rows, sorts, offset, inside[1] - offset, low, inside, blocks)
                    + _narrow(conn, rows, sorts, inside[1], offset + limit - inside[1], inside,
                              stop, blocks))
        if (low[1], stop[1]) == was:
            break
    (first, skipped), (last, upto) = low, stop
    if upto - skipped > BAND_ROWS and len(sorts) > 1 and _one_value(first, last):
        # One value's ties, ordered by the next key: seek on among them (from the
        # value's blocks when the next key is the row's place and they are kept).
        group = rows.narrowed(*_equal(sort, first.value))
        start = (None, 0), (None, upto - skipped)
        if blocks is not None and sorts[1] is POSITION:
            start = _from_blocks(blocks(sort.column, first.value), offset - skipped, limit,
                                 *start)
        return _narrow(conn, group, sorts[1:], offset - skipped, limit, *start)
    return [Part(rows.narrowed(*band(sort, first, last)), offset - skipped, limit)]


def _one_value(low: Key | None, stop: Key | None) -> bool:
    """Whether the band from ``low`` to ``stop`` (None: the end) holds one value only, or
    the NULLs, which come last."""
    if low is None or low.after:
        return False
    if stop is None:
        return low.value is None
    return low.value == stop.value and stop.after


def _sample(conn: duckdb.DuckDBPyConnection, rows: Rows, sort: Sort, count: int,
            seed: int) -> list:
    """About SAMPLE_ROWS values of the key from the ``count`` rows, in order.

    A system sample takes whole vectors of 2,048 neighbouring rows, which often
    have neighbouring values (times, places, and prices that drift with them):
    so it reads READ_ROWS, from some hundreds of vectors, and keeps one row in
    ``keep_one_in`` of those. A band of fewer rows is read whole.
    """
    percent = 100.0 * READ_ROWS / count
    source = store.sampled(rows.table, percent, seed) if percent < 100 else rows.table
    keep_one_in = max(1, min(count, READ_ROWS) // SAMPLE_ROWS)
    thin = rows.narrowed([f"hash(line_no) % {keep_one_in} = 0"], [])
    order = sort.column if sort is POSITION else \
        f"{sort.column} {'DESC' if sort.desc else 'ASC'} NULLS LAST"
    # execute, not the relation API: conn.sql refuses to run while an earlier
    # execute's result is unfinished (DuckDB 2.0), as a count's fetchone() leaves it.
    rows = conn.execute(f"SELECT {sort.column} FROM {source} {thin.where} ORDER BY {order}",
                        thin.params).fetchall()
    return [r[0] for r in rows] if sort is not POSITION else [tuple(r) for r in rows]


def _estimate(sample: list, count: int, at: int, limit: int) -> list[Key]:
    """Candidate ends at widening margins before row ``at`` and after row ``at + limit``.

    The band has ``count`` rows. The first margin is MARGIN standard errors
    of a quantile estimated from this many independent rows; the sample's rows
    are not independent, so wider ones (x SPREAD, x SPREAD**2) are tried too.
    A value with many ties gives its end as well as its start.
    """
    n = len(sample)
    if n == 0:
        return []
    share = min(max(at / count, 1 / n), 1 - 1 / n)
    margin = MARGIN * count * math.sqrt(share * (1 - share) / n)
    widths = [margin * SPREAD ** i for i in range(3)]
    targets = [at - w for w in widths] + [at + limit + w for w in widths]
    keys: list[Key] = []
    for i in sorted({math.floor(t * n / count) for t in targets}):
        if 0 <= i < n:
            heavy = sample.count(sample[i]) * count / n > BAND_ROWS / 4
            keys += [Key(sample[i])] + ([Key(sample[i], after=True)] if heavy else [])
    # In order, as the sample is; the end of the NULLs is the end of all, no need to count.
    return [k for k in dict.fromkeys(keys) if k != Key(None, after=True)]


def _ranks(conn: duckdb.DuckDBPyConnection, rows: Rows, sort: Sort, keys: list[Key]
           ) -> list[int]:
    """How many of ``rows`` come before each key (keys in order).

    Two scans in one query, each testing plain comparisons while it reads: the
    rows before the first key, and those from the first key to the last, in
    which the keys between are counted. Counting every key over every row
    cost twice as much at 100M messages.
    """
    head = rows.narrowed(*band(sort, None, keys[0]))
    first = f"SELECT count(*) FROM {rows.table} {head.where}"
    if len(keys) == 1:
        return [conn.execute(first, head.params).fetchall()[0][0]]
    span = rows.narrowed(*band(sort, keys[0], keys[-1]))
    tests = [before(sort, key) for key in keys[1:-1]]
    counts = "".join(f"count_if({sql}), " for sql, _ in tests)
    row = conn.execute(f"SELECT ({first}), {counts}count(*) FROM {rows.table} {span.where}",
                       head.params + [p for _, more in tests for p in more] + span.params
                       ).fetchall()[0]
    return [row[0]] + [row[0] + (n or 0) for n in row[1:]]  # count_if of no rows is NULL
