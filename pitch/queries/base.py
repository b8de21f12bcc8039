"""What the page families share: paging, sorting, CSV streaming, and lookups.

Also the headline totals, the data version (the cache key), the symbols and
time span for filter choices, and the schema the SQL page shows.
"""

from __future__ import annotations

from typing import Callable

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import export, store
from ..filters import TYPE_NAMES
from ..ids import FileFeeds
from . import seek

#: Rows per page of the Messages and Orders tables (and of a file's rejects).
PAGE_SIZE = 50


def totals(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Headline numbers: files, messages, rejects, symbols, orders, executed shares."""
    row = conn.execute("""
        SELECT (SELECT count(*) FROM files),
               (SELECT coalesce(sum(messages), 0) FROM message_counts),
               (SELECT count(*) FROM rejects),
               (SELECT count(DISTINCT symbol) FROM message_counts),
               (SELECT count(*) FROM orders),
               (SELECT coalesce(sum(shares), 0) FROM executions WHERE NOT broken)
    """).fetchone()
    keys = ("files", "messages", "rejects", "symbols", "orders", "executed_shares")
    return {k: int(v) for k, v in zip(keys, row)}


def _column(sorts: dict[str, str], sort: str) -> str:
    """The whitelisted column for a sort label (the first one for an unknown label)."""
    return sorts.get(sort, next(iter(sorts.values())))  # never user text in SQL


def _order_by(sorts: dict[str, str], sort: str, desc: bool) -> str:
    """ORDER BY a whitelisted column, NULLs last, ties in file order."""
    return (f"ORDER BY {_column(sorts, sort)} {'DESC' if desc else 'ASC'} NULLS LAST, "
            "file_id, line_no")


def _page(conn: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...],
          sorts: dict[str, str], where: str, params: list, sort: str, desc: bool, page: int,
          page_size: int, total: int | None,
          counts: Callable[[str, bool], list[tuple[object, object, int]] | None] | None = None,
          blocks: seek.Blocks | None = None) -> pd.DataFrame:
    """One page of ``table``, cheap however deep it is.

    Deep pages cost a sort of everything before them. Two measured fixes (see
    benchmarks/bench_pages.py): only the narrow (file_id, line_no) keys are
    sorted and the 50 rows fetched after (late materialisation); and a page
    past the first few is found by a band seek (:mod:`.seek`), which sorts
    only a narrow band of keys around it. Without ``total`` a deep page
    counts the matching rows first. ``counts(column, desc)``, when given, may
    say how many matching rows hold each value (or range) of the sort column, in order
    (from the counts kept at ingest), so that the seek starts at the page;
    ``blocks`` (:data:`.seek.Blocks`) does the same for rows in file order.
    """
    offset, limit = (max(page, 1) - 1) * page_size, page_size
    if total is None and offset >= seek.NEAR:
        total = int(conn.execute(f"SELECT count(*) FROM {table} {where}",
                                 params).fetchall()[0][0])
    order = _order_by(sorts, sort, desc)
    if total is not None and seek.NEAR <= offset < total and total > seek.FEW_ROWS:
        parts = seek.locate(conn, seek.Rows(table, where, params),
                            _sorts(conn, table, sorts, sort, desc), offset,
                            min(limit, total - offset), total,
                            counts(_column(sorts, sort), desc) if counts else None, blocks)
    else:  # near the start, few rows (or past the end): LIMIT/OFFSET is cheap
        beyond = total is not None and offset >= total
        parts = [seek.Part(seek.Rows(table, where, params), offset, 0 if beyond else limit)]
    keys: list[tuple[int, ...]] = []
    rowid = ", rowid" if store.exists(conn, table) else ""  # a table, not a view
    for part in parts:  # in page order
        keys += conn.execute(f"SELECT file_id, line_no{rowid} FROM {table} {part.rows.where} "
                             f"{order} LIMIT ? OFFSET ?",
                             part.rows.params + [part.limit, part.offset]).fetchall()
    return _rows_at(conn, table, columns, keys)


def _rows_at(conn: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...],
             keys: list[tuple[int, ...]]) -> pd.DataFrame:
    """The rows at these (file_id, line_no) keys, in the keys' order.

    A list of line numbers per file (``line_no IN (SELECT unnest(?))``) rather
    than a semi join with the keys' query: DuckDB then reads only the row groups
    that hold them instead of probing every row (at 100M orders, 175 -> 33 ms).
    Keys of a table may carry each row's ``rowid`` third: those rows are read by
    it, which DuckDB finds without scanning (``orders`` is not in line order, so
    50 rows far apart cost a scan of every line number: 1.1-3 s at 50M orders,
    36-82 ms by rowid); unless exactly those keys come back (a checkpoint may
    move rows between the two statements) the line numbers are used after all.
    """
    wanted = tuple(dict.fromkeys(columns + ("file_id", "line_no")))
    if keys and len(keys[0]) == 3:
        df = conn.execute(f"SELECT {', '.join(wanted)} FROM {table} WHERE rowid IN "
                          "(SELECT unnest(?::BIGINT[]))", [[k[2] for k in keys]]).df()
        keys = [(k[0], k[1]) for k in keys]
        if sorted(zip(df["file_id"].tolist(), df["line_no"].tolist())) == sorted(keys):
            return _in_order(df, keys, columns)
    lines: dict[int, list[int]] = {}
    for file_id, line_no in keys:
        lines.setdefault(file_id, []).append(line_no)
    if not lines:
        return conn.execute(f"SELECT {', '.join(columns)} FROM {table} LIMIT 0").df()
    sql = " UNION ALL ".join(f"SELECT {', '.join(wanted)} FROM {table} WHERE file_id = ? "
                             "AND line_no IN (SELECT unnest(?::BIGINT[]))" for _ in lines)
    df = conn.execute(sql, [v for item in lines.items() for v in item]).df()
    return _in_order(df, keys, columns)


def _in_order(df: pd.DataFrame, keys: list[tuple[int, ...]], columns: tuple[str, ...]
              ) -> pd.DataFrame:
    """The frame's rows in the keys' order, with only ``columns``."""
    place = {key: i for i, key in enumerate(keys)}
    at = [place[(f, l)] for f, l in zip(df["file_id"].tolist(), df["line_no"].tolist())]
    return df.iloc[np.argsort(at, kind="stable")][list(columns)].reset_index(drop=True)


def _sorts(conn: duckdb.DuckDBPyConnection, table: str, sorts: dict[str, str], sort: str,
           desc: bool) -> list[seek.Sort]:
    """The order's keys for the seek: the sort column, then the row's place in its file."""
    column = _column(sorts, sort)
    if column == "file_id" and not desc:  # "file, line": the place alone
        return [seek.POSITION]
    sql_type = conn.execute(f"SELECT typeof({column}) FROM {table} LIMIT 1").fetchall()[0][0]
    return [seek.Sort(column, desc, sql_type), seek.POSITION]


def value_counts(conn: duckdb.DuckDBPyConnection, tables: dict[str, str], count: str,
                 where: str, params: list) -> Callable[[str, bool], list | None]:
    """``counts`` for :func:`_page` from the tables of counts kept at ingest: for a sort
    column in ``tables`` (column -> the table that counts its values), how many rows hold
    each value, in the sort's order, as (value, value, rows)."""
    def counts(column: str, desc: bool) -> list | None:
        if column not in tables:
            return None
        return conn.execute(f"SELECT {column}, {column}, sum({count}) FROM {tables[column]} "
                            f"{where} GROUP BY 1 ORDER BY 1 {'DESC' if desc else 'ASC'} "
                            "NULLS LAST", params).fetchall()
    return counts


def range_counts(conn: duckdb.DuckDBPyConnection, table: str, count: str, where: str,
                 params: list) -> Callable[[bool], list]:
    """``counts`` for :func:`_page` from a table of counts per bucket of values kept at
    ingest (``first_id``/``last_id``: the least and greatest value in it, NULL for the
    NULLs): buckets whose values overlap (another file's) merge into one range, so the
    ranges are disjoint, each as (first, last, rows) in the sort's order."""
    def counts(desc: bool) -> list:
        rows = conn.execute(f"SELECT min(first_id), max(last_id), sum({count}) FROM {table} "
                            f"{where} GROUP BY file_id, bucket ORDER BY 1 NULLS LAST",
                            params).fetchall()
        merged: list[list] = []
        for first, last, n in rows:
            if first is not None and merged and merged[-1][1] is not None \
                    and first <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], last)
                merged[-1][2] += n
            elif first is None and merged and merged[-1][0] is None:
                merged[-1][2] += n
            else:
                merged.append([first, last, n])
        nulls = [r for r in merged if r[0] is None]
        values = [r for r in merged if r[0] is not None]
        return [tuple(r) for r in (values if not desc else
                                   [[b, a, n] for a, b, n in reversed(values)])] + \
            [tuple(r) for r in nulls]
    return counts


def second_counts(conn: duckdb.DuckDBPyConnection, where: str, params: list
                  ) -> Callable[[bool], list]:
    """``counts`` of ``time_ns`` for :func:`_page` from ``message_seconds`` (a filter of
    types and files only): each whole second is a range of times, (first, last, rows)
    in the sort's order, the unknown times last."""
    def counts(desc: bool) -> list:
        rows = conn.execute(f"SELECT second, sum(messages) FROM message_seconds {where} "
                            f"GROUP BY 1 ORDER BY 1 {'DESC' if desc else 'ASC'} NULLS LAST",
                            params).fetchall()
        second = 10**9
        return [(None, None, n) if s is None else
                (s * second + second - 1, s * second, n) if desc else
                (s * second, s * second + second - 1, n) for s, n in rows]
    return counts


def block_counts(conn: duckdb.DuckDBPyConnection, table: str, count: str,
                 columns: tuple[str, ...], where: str, params: list) -> seek.Blocks:
    """``blocks`` for :func:`_page` from a table of counts per block of lines kept at
    ingest (:mod:`pitch.summaries`), for a value of one of ``columns`` or for every row."""
    def blocks(column: str | None, value: object) -> list | None:
        if column is not None and column not in columns:
            return None
        rows = seek.Rows(table, where, params)
        if column is not None:
            rows = rows.narrowed([f"{column} IS NULL" if value is None else f"{column} = ?"],
                                 [] if value is None else [value])
        return conn.execute(f"SELECT file_id, min(first_line), max(last_line), sum({count}) "
                            f"FROM {table} {rows.where} GROUP BY file_id, block "
                            "ORDER BY file_id, block", rows.params).fetchall()
    return blocks


def type_names(codes: pd.Series) -> pd.Series:
    """Each type code's name (an unknown code as it is), by a dict lookup per distinct
    value rather than a Python call per row (175k rows of the rate chart: 0.15 s)."""
    return codes.map(TYPE_NAMES).fillna(codes)


def _with_type_names(df: pd.DataFrame) -> pd.DataFrame:
    if "type" in df.columns:
        df.insert(df.columns.get_loc("type") + 1, "message_type", type_names(df["type"]))
    return df


def data_version(conn: duckdb.DuckDBPyConnection) -> tuple:
    """Changes whenever a file lands or the database is cleared: a cache key."""
    return tuple(conn.execute(
        "SELECT count(*), max(file_id), sum(messages), sum(rejects) FROM files").fetchone())


def file_feeds(conn: duckdb.DuckDBPyConnection) -> FileFeeds:
    """Which files are binary and which text (``files.format``): how their ids are written."""
    rows = conn.execute("SELECT file_id, coalesce(format, 'text') = 'text' FROM files").fetchall()
    return FileFeeds(binary=frozenset(i for i, text in rows if not text),
                     text=frozenset(i for i, text in rows if text))


def stream_csv(conn: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None,
               batch_rows: int = 100_000) -> bytes:
    """CSV bytes of a whole query, batch by batch (Arrow from DuckDB, export.export_table).

    Ids are written in the form of each row's file (see :func:`file_feeds`).
    """
    feeds = file_feeds(conn)
    reader = conn.sql(sql, params=params or []).to_arrow_reader(batch_rows)
    parts: list[bytes] = []
    for batch in reader:
        table = with_type_names(export.export_table(pa.Table.from_batches([batch]), feeds))
        parts.append(export.csv_bytes(table, header=not parts))
    if not parts:  # no rows: still the header line
        parts.append(export.csv_bytes(with_type_names(export.export_table(
            reader.schema.empty_table(), feeds))))
    return b"".join(parts)


def with_type_names(table: pa.Table) -> pa.Table:
    """Add ``message_type`` (the type's name) after a ``type`` column of codes."""
    if "type" not in table.column_names:
        return table
    at = table.column_names.index("type")  # the first, if a query repeats the name
    codes = pa.array(list(TYPE_NAMES))
    types = table.column(at).combine_chunks()
    names = pc.take(pa.array(list(TYPE_NAMES.values())), pc.index_in(types, value_set=codes))
    names = pc.coalesce(names, types)  # unknown codes as is
    return table.add_column(at + 1, "message_type", names)


def time_bounds(conn: duckdb.DuckDBPyConnection) -> tuple[int | None, int | None]:
    """First and last known message time over all files (from ``files``: no scan)."""
    return tuple(conn.execute(  # type: ignore[return-value]
        "SELECT min(first_time_ns), max(last_time_ns) FROM files").fetchone())


def unknown_times(conn: duckdb.DuckDBPyConnection) -> int:
    """How many messages have no time (binary ones before their unit's first Time message)."""
    return int(conn.execute("SELECT coalesce(sum(messages), 0) FROM message_seconds "
                            "WHERE second IS NULL").fetchone()[0])


def symbols(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Every symbol seen, sorted (for filter choices)."""
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT symbol FROM message_counts WHERE symbol IS NOT NULL ORDER BY 1"
    ).fetchall()]


def schema(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Tables and columns a query can use: [table_name, column_name, data_type]."""
    return conn.execute("""
        SELECT table_name, column_name, data_type FROM duckdb_columns()
        WHERE database_name = current_database() AND schema_name = 'main'
        ORDER BY table_name, column_index
    """).df()
