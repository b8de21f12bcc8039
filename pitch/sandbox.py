"""Run one user-written read-only SELECT with a row limit and a time limit.

Three layers, each enough on its own for the common attacks:

1. DuckDB's own parser decides what the text is: exactly one statement, of
   type SELECT; its AST (``json_serialize_sql``) is walked so that table
   functions come from an allowlist, state-changing or environment-revealing
   scalar functions are refused, data-modifying CTEs are refused and a table
   name that looks like a file path (a replacement scan) is refused, however
   they are spelled, quoted or nested.
2. The connection from :func:`pitch.store.connect` has external access off
   and its configuration locked, so even a query that slipped through cannot
   reach files, the network or settings.
3. The query runs on its own cursor inside ``BEGIN ... ROLLBACK``.

DuckDB has no statement timeout, so a timer interrupts the cursor.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import settings, store
from .errors import QueryRefused

__all__ = ["QueryResult", "QueryTimeout", "QueryFailed", "run_query", "check_query"]


class QueryTimeout(QueryRefused):
    """The query ran past its time limit and was interrupted."""


class QueryFailed(QueryRefused):
    """An allowed query that DuckDB could not run (unknown table, bad cast...)."""


@dataclass
class QueryResult:
    """A query's answer: at most ``row_limit`` rows, and whether the limit cut it."""

    frame: pd.DataFrame
    truncated: bool
    row_limit: int
    seconds: float


#: Table functions a query may use: generators and read-only catalog views.
ALLOWED_TABLE_FUNCTIONS = frozenset({
    "range", "generate_series", "unnest", "repeat", "repeat_row", "json_each", "json_tree",
    "duckdb_tables", "duckdb_columns", "duckdb_views", "duckdb_types", "duckdb_schemas",
    "duckdb_constraints", "duckdb_indexes", "duckdb_sequences", "duckdb_functions",
    "duckdb_keywords", "pragma_table_info", "pragma_show", "summary",
})

# Why a known table function is refused; anything else not allowed gets a generic reason.
_TABLE_FUNCTION_REASONS: dict[str, str] = {
    **{name: "it reads files" for name in (
        "read_csv", "read_csv_auto", "read_single_csv_file", "sniff_csv", "read_json",
        "read_json_auto", "read_json_objects", "read_json_objects_auto", "read_ndjson",
        "read_ndjson_auto", "read_ndjson_objects", "read_single_json_file", "read_parquet",
        "parquet_scan", "read_single_parquet_file", "parquet_metadata", "parquet_file_metadata",
        "parquet_full_metadata", "parquet_kv_metadata", "parquet_schema", "parquet_page_index",
        "parquet_bloom_probe", "read_text", "read_blob", "read_duckdb", "glob", "seq_scan")},
    "query": "it runs SQL text the sandbox cannot check",
    "query_table": "it reads tables or files by name",
    "json_execute_serialized_sql": "it runs SQL the sandbox cannot check",
    **{name: "it changes the database or its settings" for name in (
        "checkpoint", "force_checkpoint", "enable_logging", "disable_logging", "enable_profiling",
        "disable_profiling", "truncate_duckdb_logs", "register_external_resource",
        "register_external_resource_type", "create_external_resource",
        "destroy_external_resource", "deregister_external_resource", "add_grammar_extension",
        "remove_grammar_extension")},
    **{name: "it reads Python objects" for name in (
        "arrow_scan", "arrow_scan_dumb", "python_arrow_scan", "pandas_scan", "python_map_function")},
}

#: Scalar functions refused everywhere in a query, with the reason shown to the user.
REFUSED_FUNCTIONS: dict[str, str] = {
    "nextval": "it advances a sequence, which rollback does not undo",
    "currval": "it reads sequence state",
    "setval": "it changes a sequence",
    "setseed": "it changes the random seed of the session",
    "getenv": "it reveals the server's environment",
    "current_setting": "it reveals server settings such as file paths",
    "write_log": "it writes to the server log",
    "sleep_ms": "it only blocks the server",
    "pg_sleep": "it only blocks the server",
}

#: System views refused by name: they show what current_setting and getenv would.
REFUSED_VIEWS: dict[str, str] = {
    "pg_settings": "it reveals server settings such as file paths",
    "duckdb_databases": "it reveals the database file's path",
    "pragma_database_list": "it reveals the database file's path",
}

# Query nodes that make up a read-only query; an INSERT/UPDATE/DELETE/MERGE node
# can hide inside a CTE of a statement DuckDB still types as SELECT.
_READ_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})
_PATH_CHARS = frozenset("/\\.:~")


def _walk(node: Any) -> Iterator[dict]:
    """Every dict in a JSON tree, depth first."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _check_tree(tree: dict) -> None:
    for node in _walk(tree):
        kind = node.get("type")
        if isinstance(kind, str) and kind.endswith("_NODE") and "class" not in node \
                and kind not in _READ_NODES:
            found = kind.removesuffix("_NODE").removesuffix("_QUERY").replace("_", " ")
            raise QueryRefused(f"only SELECT queries are allowed (found {found} inside the query)")
        if kind == "TABLE_FUNCTION":
            name = str((node.get("function") or {}).get("function_name", "")).lower()
            if name not in ALLOWED_TABLE_FUNCTIONS:
                why = _TABLE_FUNCTION_REASONS.get(
                    name, "only range, generate_series, unnest and the duckdb_* catalog "
                          "functions are allowed")
                raise QueryRefused(f"table function {name} is not allowed ({why})")
        elif kind in ("BASE_TABLE", "SHOW_REF"):
            table = str(node.get("table_name") or "").strip('"')
            if _PATH_CHARS & set(table):
                raise QueryRefused(f"table name {table!r} looks like a file path; "
                                   f"reading files is not allowed")
            if table.lower() in REFUSED_VIEWS:
                raise QueryRefused(f"view {table.lower()} is not allowed "
                                   f"({REFUSED_VIEWS[table.lower()]})")
        name = node.get("function_name")
        if isinstance(name, str) and name.lower() in REFUSED_FUNCTIONS:
            raise QueryRefused(f"function {name.lower()} is not allowed "
                               f"({REFUSED_FUNCTIONS[name.lower()]})")


def check_query(conn: duckdb.DuckDBPyConnection, sql: str) -> str:
    """Return the one statement's text if ``sql`` is an allowed query, else raise QueryRefused."""
    if not sql or not sql.strip():
        raise QueryRefused("the query is empty")
    try:
        statements = conn.extract_statements(sql)
    except duckdb.Error as exc:
        reason = _first_line(exc).removeprefix("Parser Error: ").removeprefix("syntax error ")
        raise QueryRefused(f"syntax error: {reason}") from None
    if not statements:
        raise QueryRefused("the query is empty (only comments?)")
    if len(statements) != 1:
        raise QueryRefused(f"only one statement per query (found {len(statements)})")
    stmt = statements[0]
    if stmt.type != duckdb.StatementType.SELECT:
        found = "PIVOT" if stmt.type.name == "MULTI" else stmt.type.name.replace("_", " ")
        raise QueryRefused(f"only SELECT queries are allowed (found {found})")
    cur = conn.cursor()
    try:
        text = cur.execute("SELECT json_serialize_sql(?)", [stmt.query]).fetchone()[0]
    except duckdb.Error as exc:
        raise QueryRefused(f"cannot check this query: {_first_line(exc)}") from None
    finally:
        cur.close()
    tree = json.loads(text)
    if tree.get("error"):
        raise QueryRefused(f"cannot check this query: {tree.get('error_message', 'unknown form')}")
    _check_tree(tree)
    return stmt.query


def _column_to_pandas(column: pa.ChunkedArray) -> pd.Series:
    """One column, falling back to Python objects, then text, for types pandas cannot hold."""
    try:
        return column.to_pandas(integer_object_nulls=True)
    except (pa.ArrowException, ValueError, OverflowError):
        pass
    try:
        return pd.Series(column.to_pylist(), dtype=object)
    except (pa.ArrowException, ValueError, OverflowError):
        pass
    try:
        return pd.Series(pc.cast(column, pa.string()).to_pylist(), dtype=object)
    except (pa.ArrowException, ValueError, OverflowError):
        return pd.Series([f"<{column.type} value>"] * len(column), dtype=object)


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """The answer as a DataFrame; unusual DuckDB types (unions, infinite dates) still show."""
    try:
        return table.to_pandas(integer_object_nulls=True)
    except (pa.ArrowException, ValueError, OverflowError):
        frame = pd.concat([_column_to_pandas(c).rename(i) for i, c in enumerate(table.columns)],
                          axis=1) if table.num_columns else pd.DataFrame()
        frame.columns = table.column_names
        return frame


def run_query(conn: duckdb.DuckDBPyConnection, sql: str, *, row_limit: int | None = None,
              timeout: float | None = None) -> QueryResult:
    """Run one read-only SELECT; return at most ``row_limit`` rows within ``timeout`` seconds.

    Raises :class:`QueryRefused` for anything else (with a one-line reason),
    :class:`QueryTimeout` when the time limit stops it and :class:`QueryFailed`
    when DuckDB rejects an allowed query. Nothing the query does persists.
    """
    limit = settings.sql_row_limit() if row_limit is None else int(row_limit)
    seconds_allowed = settings.sql_timeout() if timeout is None else float(timeout)
    if limit < 1:
        raise ValueError("row_limit must be at least 1")
    query = check_query(conn, sql)
    cur = conn.cursor()
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        cur.interrupt()

    timer = threading.Timer(seconds_allowed, stop)
    timer.daemon = True
    started = time.perf_counter()
    try:
        with store.transaction(cur, rollback=True):
            timer.start()
            try:
                table = _read(cur, query, limit)
            finally:
                timer.cancel()
    except duckdb.Error as exc:
        elapsed = time.perf_counter() - started
        if timed_out.is_set() or isinstance(exc, duckdb.InterruptException):
            raise QueryTimeout(f"query stopped after {elapsed:.1f} s "
                               f"(limit {seconds_allowed:g} s)") from None
        raise QueryFailed(f"query failed: {_first_line(exc)}") from None
    finally:
        cur.close()
    truncated = table.num_rows > limit
    frame = _to_frame(table.slice(0, limit))
    return QueryResult(frame=frame, truncated=truncated, row_limit=limit,
                       seconds=time.perf_counter() - started)


def _read(cur: duckdb.DuckDBPyConnection, query: str, limit: int) -> pa.Table:
    """At most ``limit + 1`` rows of the query: one past the limit tells whether it was cut,
    read batch by batch without materialising the whole answer."""
    reader = cur.sql(query).to_arrow_reader(batch_size=min(limit + 1, 65_536))
    batches: list[pa.RecordBatch] = []
    rows = 0
    try:
        for batch in reader:
            batches.append(batch)
            rows += batch.num_rows
            if rows > limit:
                break
    finally:
        reader.close()
    return pa.Table.from_batches(batches, schema=reader.schema)
