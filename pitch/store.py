"""The DuckDB database: where it lives, how to open it, its schema.

The ``messages`` columns derive from :mod:`pitch.layouts`; the other tables
are declared here. ``messages`` is a view over four tables:
``messages_common`` holds the high-volume text types
(:data:`pitch.layouts.COMMON_CODES`) with only their own columns,
``messages_other`` every other text type with every text column;
``messages_binary`` and ``messages_binary_other`` do the same for binary
Multicast PITCH (:data:`pitch.layouts.BINARY_COMMON_CODES`), with the unit,
sequence and packet of every message. DuckDB spends write time on every stored
column, even one that is all NULL (about 40 ns a row each): the common text
types use 7 of the 18 text field columns, the frequent binary types 8 of 23.
``orders`` and ``executions`` are materialised per file at ingest time (see
:mod:`pitch.derive`), so reading them costs a scan, not a join over every
message.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

import duckdb

from . import settings, summaries
from .errors import DatabaseBusyError, PitchError
from .layouts import (ALL_LAYOUTS, BINARY_COMMON_CODES, BINARY_COMMON_COLUMNS,
                      BINARY_FIELD_COLUMNS, BINARY_NARROW, COMMON_CODES, COMMON_COLUMNS,
                      FIELD_COLUMNS, MESSAGE_TYPES, ROLES, SQL_TYPES, TEXT_FIELD_COLUMNS)

#: 2: messages split into messages_common + messages_other behind a view;
#: orders lost end_line_no (computed where needed).
#: 3: orders.remaining_shares and orders.status are generated (virtual) columns.
#: 4: binary PITCH: messages_binary, gaps, files.format/skipped_packets/duplicates,
#: rejects.packet, orders.modifies/added_shares/last_price, message_types.role.
#: 5: per-file counts (pitch.summaries: message_counts, message_seconds, order_counts,
#: order_minutes), filled at ingest;
#: orders.remaining_shares stored.
#: 6: message_prices, message_shares, message_blocks, message_ids, execution_minutes
#: (pitch.summaries); orders.end_line_no, the line that ended the order (NULL: open,
#: or not known), so that the book at an instant reads only the orders live then
#: (pitch.book_fast).
#: 7: messages_binary keeps the frequent binary types with only their columns; the
#: rare ones moved to messages_binary_other.
#: Older files migrate when opened.
SCHEMA_VERSION = 7
# The defaults live in pitch.settings (one validated object); these names stay for callers.
DEFAULT_DB = settings.Settings.db
DEFAULT_MEMORY_LIMIT = settings.Settings.memory_limit


def db_path(path: str | os.PathLike | None = None) -> Path:
    """The database file: ``path``, else ``$PITCH_DB``, else ``data/pitch.duckdb``."""
    return Path(path or settings.current().db)


def sql_list(codes: tuple[str, ...]) -> str:
    """``'a', 'b'``: codes for an SQL ``IN (...)``."""
    return ", ".join(f"'{c}'" for c in codes)


_HEAD = {
    "file_id": "INTEGER NOT NULL",
    "line_no": "BIGINT NOT NULL",
    "time_ns": "BIGINT NOT NULL",
    "type": "VARCHAR NOT NULL",
}
#: Binary messages: the time is unknown before their unit's first Time message.
_BINARY_HEAD = {**_HEAD, "time_ns": "BIGINT", "unit": "BIGINT", "sequence": "BIGINT",
                "packet": "BIGINT"}
_SEQUENCING = ("unit", "sequence", "packet")


def _typed(columns: dict) -> dict[str, str]:
    return {col: SQL_TYPES[kind] for col, kind in columns.items()}


#: Columns of the ``messages`` view.
MESSAGE_COLUMNS: dict[str, str] = {**_BINARY_HEAD, **_typed(FIELD_COLUMNS)}
#: Columns of ``messages_other`` (every text column).
OTHER_MESSAGE_COLUMNS: dict[str, str] = {**_HEAD, **_typed(TEXT_FIELD_COLUMNS)}
#: Columns of ``messages_common``.
COMMON_MESSAGE_COLUMNS: dict[str, str] = {**_HEAD, **_typed(COMMON_COLUMNS)}
#: Binary columns stored narrower than the ``messages`` view shows them (BIGINT),
#: as wide as their field (pitch.layouts.BINARY_NARROW): about a quarter less of
#: those columns' cost to write.
_STORED_NARROW: dict[str, str] = {
    col: {1: "UTINYINT", 2: "USMALLINT", 4: "UINTEGER"}[width]
    for col, width in BINARY_NARROW.items()}


def _narrow(columns: dict[str, str]) -> dict[str, str]:
    return {col: _STORED_NARROW.get(col, sql) for col, sql in columns.items()}


#: Columns of ``messages_binary_other`` (every binary column).
BINARY_MESSAGE_COLUMNS: dict[str, str] = _narrow({**_BINARY_HEAD,
                                                  **_typed(BINARY_FIELD_COLUMNS)})
#: Columns of ``messages_binary`` (the frequent binary types').
BINARY_COMMON_MESSAGE_COLUMNS: dict[str, str] = _narrow({**_BINARY_HEAD,
                                                         **_typed(BINARY_COMMON_COLUMNS)})


def _spec(columns: dict[str, str]) -> str:
    return ", ".join(f"{c} {t}" for c, t in columns.items())

TABLES: dict[str, str] = {
    "meta": "key VARCHAR PRIMARY KEY, value VARCHAR",
    "message_types": "code VARCHAR PRIMARY KEY, type_id INTEGER NOT NULL, name VARCHAR NOT NULL, "
                     "length VARCHAR NOT NULL, feed VARCHAR NOT NULL, role VARCHAR NOT NULL",
    "files": "file_id INTEGER PRIMARY KEY, name VARCHAR NOT NULL, size BIGINT NOT NULL, "
             "sha256 VARCHAR NOT NULL UNIQUE, messages BIGINT, rejects BIGINT, status VARCHAR NOT NULL, "
             "source VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, seconds DOUBLE, "
             "first_time_ns BIGINT, last_time_ns BIGINT, format VARCHAR, "
             "skipped_packets BIGINT DEFAULT 0, duplicates BIGINT DEFAULT 0",
    "messages_common": _spec(COMMON_MESSAGE_COLUMNS),
    "messages_other": _spec(OTHER_MESSAGE_COLUMNS),
    "messages_binary": _spec(BINARY_COMMON_MESSAGE_COLUMNS),
    "messages_binary_other": _spec(BINARY_MESSAGE_COLUMNS),
    "rejects": "file_id INTEGER NOT NULL, line_no BIGINT NOT NULL, byte_offset BIGINT, raw BLOB, "
               "reason VARCHAR NOT NULL, packet BIGINT",
    "gaps": "file_id INTEGER NOT NULL, unit BIGINT NOT NULL, expected_sequence BIGINT NOT NULL, "
            "received_sequence BIGINT NOT NULL, missing BIGINT NOT NULL",
    # status is computed when read (storing it cost a tenth of the time of
    # writing orders); remaining_shares is stored (schema 5), so that zone maps
    # serve the largest open orders at 100M orders instead of a computed scan.
    "orders": "file_id INTEGER NOT NULL, line_no BIGINT NOT NULL, order_id UBIGINT NOT NULL, "
              "symbol VARCHAR, side VARCHAR, price DECIMAL(18,4), shares BIGINT, "
              "executed_shares BIGINT, cancelled_shares BIGINT, remaining_shares BIGINT, "
              "status VARCHAR GENERATED ALWAYS AS (CASE WHEN remaining_shares > 0 THEN 'open' "
              "WHEN executed_shares = shares + added_shares THEN 'filled' ELSE 'cancelled' END) "
              "VIRTUAL, "
              "first_time_ns BIGINT, last_time_ns BIGINT, events BIGINT, "
              "modifies BIGINT NOT NULL DEFAULT 0, added_shares BIGINT NOT NULL DEFAULT 0, "
              "last_price DECIMAL(18,4), end_line_no BIGINT",
    "executions": "file_id INTEGER NOT NULL, line_no BIGINT NOT NULL, execution_id UBIGINT, "
                  "time_ns BIGINT, symbol VARCHAR, shares BIGINT, price DECIMAL(18,4), "
                  "type VARCHAR, order_id UBIGINT, broken BOOLEAN",
    **summaries.TABLES,
}


def _select(stored: dict[str, str]) -> str:
    """The ``messages`` columns from a table holding ``stored`` (NULL for the others)."""
    return ", ".join(c if stored.get(c) == t else f"{c}::{t} AS {c}" if c in stored
                     else f"NULL::{t} AS {c}" for c, t in MESSAGE_COLUMNS.items())


#: The tables behind the ``messages`` view, with their columns (file_id included).
MESSAGE_STORAGE: tuple[tuple[str, dict[str, str]], ...] = (
    ("messages_common", COMMON_MESSAGE_COLUMNS),
    ("messages_other", OTHER_MESSAGE_COLUMNS),
    ("messages_binary", BINARY_COMMON_MESSAGE_COLUMNS),
    ("messages_binary_other", BINARY_MESSAGE_COLUMNS))


def _messages_view(sample: str = "") -> str:
    return " UNION ALL ".join(f"SELECT {_select(columns)} FROM {table}{sample}"
                              for table, columns in MESSAGE_STORAGE)


#: Views (name -> SELECT). ``messages`` is the documented interface.
VIEWS: dict[str, str] = {"messages": _messages_view()}


def sampled(name: str, percent: float, seed: int = 1) -> str:
    """FROM text for a system sample (whole vectors, about ``percent`` of them) of a table
    or of the ``messages`` view.

    DuckDB samples a view only after reading all of it; sampling each table
    behind it skips the vectors left out, so a 1% sample costs about 1% of a scan.
    """
    clause = f" TABLESAMPLE {float(percent):.6f}% (system, {int(seed)})"
    return f"({_messages_view(clause)})" if name == "messages" else f"{name}{clause}"


def connect(path: str | os.PathLike | None = None, *, read_only: bool = False,
            threads: int | None = None, memory_limit: str | None = None
            ) -> duckdb.DuckDBPyConnection:
    """Open (and if needed create) the database with its schema, locked down.

    The instance never touches files or the network on SQL's behalf: ingest
    hands it Arrow batches from Python, and exports go through Python too. So
    external access is off and the configuration locked for every connection,
    which makes user SQL unable to reach beyond the database whatever it says
    (see :mod:`pitch.sandbox` for the statement checks on top).
    Raises :class:`DatabaseBusyError` when another process holds the file.
    """
    target = db_path(path)
    if not read_only:
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = duckdb.connect(str(target), read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise DatabaseBusyError(
                f"database {target} is in use by another process (is the app running?); "
                f"drop the file into the running app's inbox instead") from None
        raise PitchError(f"cannot open database {target}: {text.splitlines()[0]}") from None
    except duckdb.Error as exc:
        raise PitchError(f"cannot open database {target}: {str(exc).splitlines()[0]}") from None
    conn.execute("SET enable_progress_bar = false")
    threads = threads or settings.current().threads
    # A bounded buffer pool: ingest and queries spill to disk rather than grow
    # with the data (DuckDB's own default is 80 % of the machine's memory).
    memory_limit = memory_limit or settings.current().memory_limit
    if threads:
        conn.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        conn.execute("SET memory_limit = ?", [memory_limit])
    if not read_only:
        init_schema(conn)
    conn.execute("SET allowed_directories = []")
    conn.execute("SET enable_external_access = false")
    conn.execute("SET autoinstall_known_extensions = false")
    conn.execute("SET autoload_known_extensions = false")
    conn.execute("SET lock_configuration = true")
    return conn


def init_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables and views, migrate a version 1 file, (re)fill ``message_types``.

    Idempotent.
    """
    conn.execute("CREATE SEQUENCE IF NOT EXISTS file_ids START 1")
    if _is_version_1(conn):
        _migrate_from_1(conn)
    if _orders_stored(conn) or _remaining_generated(conn) or _lacks(conn, "orders", "modifies"):
        _migrate_orders(conn)
    _migrate_to_4(conn)
    if _lacks(conn, "orders", "end_line_no"):  # version 5: NULL, still exact (just slower)
        conn.execute("ALTER TABLE orders ADD COLUMN end_line_no BIGINT")
    _migrate_to_7(conn)
    uncounted = [name for name in summaries.TABLES if not exists(conn, name)]
    for name, columns in TABLES.items():
        conn.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
    for name, select in VIEWS.items():
        conn.execute(f"CREATE OR REPLACE VIEW {name} AS {select}")
    if uncounted:  # an older file (or a new one): count what is already in
        with transaction(conn):
            summaries.backfill(conn, uncounted)
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
    lengths: dict[str, list[int]] = {}
    feeds: dict[str, str] = {}
    for l in ALL_LAYOUTS:
        lengths.setdefault(l.code, []).append(l.length)
        feeds[l.code] = l.feed
    for code, type_id, name in MESSAGE_TYPES:
        conn.execute("INSERT OR REPLACE INTO message_types VALUES (?, ?, ?, ?, ?, ?)",
                     [code, type_id, name, " or ".join(map(str, sorted(lengths[code]))),
                      feeds[code], ROLES[code].value])


def exists(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether ``table`` is a table (not a view) of the database's main schema."""
    return bool(conn.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = "
                             "current_database() AND schema_name = 'main' AND table_name = ?",
                             [table]).fetchone()[0])


def _is_version_1(conn: duckdb.DuckDBPyConnection) -> bool:
    return exists(conn, "messages")  # a table then; a view since version 2


def _migrate_from_1(conn: duckdb.DuckDBPyConnection) -> None:
    """Version 1 kept one wide ``messages`` table and ``orders.end_line_no``."""
    common = sql_list(COMMON_CODES)
    conn.execute("BEGIN")
    try:
        conn.execute("ALTER TABLE messages RENAME TO messages_v1")
        for name in ("messages_common", "messages_other"):
            conn.execute(f"CREATE TABLE {name} ({TABLES[name]})")
        conn.execute(f"INSERT INTO messages_common SELECT {', '.join(COMMON_MESSAGE_COLUMNS)} "
                     f"FROM messages_v1 WHERE type IN ({common}) ORDER BY file_id, line_no")
        conn.execute(f"INSERT INTO messages_other SELECT {', '.join(OTHER_MESSAGE_COLUMNS)} "
                     f"FROM messages_v1 WHERE type NOT IN ({common}) ORDER BY file_id, line_no")
        conn.execute("DROP TABLE messages_v1")
        conn.execute("ALTER TABLE orders DROP COLUMN IF EXISTS end_line_no")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


#: The columns of ``orders`` that are written (the others are generated).
ORDER_STORED_COLUMNS = ("file_id", "line_no", "order_id", "symbol", "side", "price", "shares",
                        "executed_shares", "cancelled_shares", "remaining_shares",
                        "first_time_ns", "last_time_ns", "events", "modifies", "added_shares",
                        "last_price", "end_line_no")


def _columns(conn: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The columns ``table`` has (none when it does not exist)."""
    return [r[0] for r in conn.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ?", [table]).fetchall()]


def _lacks(conn: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    """Whether ``table`` exists without ``column`` (an older schema)."""
    names = _columns(conn, table)
    return bool(names) and column not in names


def _migrate_to_4(conn: duckdb.DuckDBPyConnection) -> None:
    """Version 3 had no binary PITCH: add its columns (message_types is refilled anyway)."""
    if _lacks(conn, "message_types", "role"):
        conn.execute("DROP TABLE message_types")
    if _lacks(conn, "files", "format"):
        for column in ("format VARCHAR DEFAULT 'text'", "skipped_packets BIGINT DEFAULT 0",
                       "duplicates BIGINT DEFAULT 0"):
            conn.execute(f"ALTER TABLE files ADD COLUMN {column}")
    if _lacks(conn, "rejects", "packet"):
        conn.execute("ALTER TABLE rejects ADD COLUMN packet BIGINT")


def _migrate_to_7(conn: duckdb.DuckDBPyConnection) -> None:
    """Versions 4-6 kept every binary type in one wide ``messages_binary``: split it."""
    old = _columns(conn, "messages_binary")
    if not old or set(old) == set(BINARY_COMMON_MESSAGE_COLUMNS):
        return
    common = sql_list(BINARY_COMMON_CODES)
    with transaction(conn):
        conn.execute("DROP VIEW IF EXISTS messages")  # over the old table; made again below
        conn.execute("ALTER TABLE messages_binary RENAME TO messages_binary_v6")
        for name, columns in (("messages_binary", BINARY_COMMON_MESSAGE_COLUMNS),
                              ("messages_binary_other", BINARY_MESSAGE_COLUMNS)):
            conn.execute(f"CREATE TABLE {name} ({TABLES[name]})")
            where = "IN" if name == "messages_binary" else "NOT IN"
            conn.execute(f"INSERT INTO {name} SELECT {', '.join(columns)} FROM messages_binary_v6 "
                         f"WHERE type {where} ({common}) ORDER BY file_id, line_no")
        conn.execute("DROP TABLE messages_binary_v6")


def _orders_sql(conn: duckdb.DuckDBPyConnection) -> str:
    row = conn.execute("SELECT sql FROM duckdb_tables() WHERE database_name = current_database() "
                       "AND schema_name = 'main' AND table_name = 'orders'").fetchone()
    return row[0].upper() if row else ""


def _orders_stored(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``orders`` exists with a stored status (versions 1-2)."""
    sql = _orders_sql(conn)
    return bool(sql) and "GENERATED" not in sql


def _remaining_generated(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``orders.remaining_shares`` is computed when read (versions 3-4)."""
    return "REMAINING_SHARES BIGINT GENERATED" in _orders_sql(conn)


def _migrate_orders(conn: duckdb.DuckDBPyConnection) -> None:
    """Rebuild ``orders`` as today's (DuckDB cannot change a generated column in place).

    Every stored column the old table can give is copied (remaining_shares
    too, generated or not); the newer ones take their defaults.
    """
    old = _columns(conn, "orders")
    cols = ", ".join(c for c in ORDER_STORED_COLUMNS if c in old)
    conn.execute("BEGIN")
    try:
        conn.execute("ALTER TABLE orders RENAME TO orders_v2")
        conn.execute(f"CREATE TABLE orders ({TABLES['orders']})")
        conn.execute(f"INSERT INTO orders ({cols}) SELECT {cols} FROM orders_v2")
        conn.execute("DROP TABLE orders_v2")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


# -- transactions and deleting ----------------------------------------------------------------

@contextlib.contextmanager
def transaction(cur: duckdb.DuckDBPyConnection, *, rollback: bool = False
                ) -> Iterator[duckdb.DuckDBPyConnection]:
    """``with transaction(cur):`` BEGIN, then COMMIT, or ROLLBACK on any exception.

    The exception (Ctrl-C included) is re-raised; a ROLLBACK that fails itself
    (an interrupt may already have ended the transaction) does not hide it. A
    COMMIT that fails is rolled back too, so the cursor is never left inside a
    transaction. ``rollback=True`` rolls back even on success: for work that
    must leave nothing behind (user SQL).
    """
    cur.execute("BEGIN TRANSACTION")
    try:
        yield cur
        if not rollback:
            cur.execute("COMMIT")
            return
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            cur.execute("ROLLBACK")
        raise
    cur.execute("ROLLBACK")


@contextlib.contextmanager
def registered(cur: duckdb.DuckDBPyConnection, name: str, data: object) -> Iterator[str]:
    """``with registered(cur, "_pitch_x", arrow):`` an Arrow table or stream visible to SQL.

    Unregistered on the way out, whatever happened; an unregister that fails
    because the transaction was aborted under it does not hide the error.
    """
    cur.register(name, data)
    try:
        yield name
    finally:
        with contextlib.suppress(duckdb.Error):
            cur.unregister(name)


#: Every table that holds rows of one file, by ``file_id``; ``files`` last.
#: A new per-file table (binary PITCH's ``gaps``) is one more entry here.
FILE_TABLES: tuple[str, ...] = ("messages_common", "messages_other", "messages_binary",
                                "messages_binary_other", "rejects", "gaps", "orders",
                                "executions", *summaries.TABLES, "files")


class UnknownFileError(PitchError):
    """No file with that id in the database."""


def delete_all(conn: duckdb.DuckDBPyConnection) -> None:
    """Empty every data table (the schema and message_types stay)."""
    cur = conn.cursor()
    try:
        with transaction(cur):
            for table in FILE_TABLES:
                cur.execute(f"DELETE FROM {table}")
    finally:
        cur.close()


def delete_file(conn: duckdb.DuckDBPyConnection, file_id: int) -> dict[str, object]:
    """Delete one file's rows from every table of :data:`FILE_TABLES`, in one transaction.

    Returns the removed file's ``files`` row as a dict (``file_id``, ``name``,
    ``messages``, ``rejects``). Raises :class:`UnknownFileError` when there is
    no such file; then, as on any failure, nothing has changed. The same
    content can be ingested again afterwards (its sha256 goes with the row).
    """
    cur = conn.cursor()
    try:
        with transaction(cur):
            row = cur.execute("SELECT file_id, name, messages, rejects FROM files "
                              "WHERE file_id = ?", [file_id]).fetchone()
            if row is None:
                raise UnknownFileError(f"no file with id {file_id}")
            for table in FILE_TABLES:
                cur.execute(f"DELETE FROM {table} WHERE file_id = ?", [file_id])
    finally:
        cur.close()
    return dict(zip(("file_id", "name", "messages", "rejects"), row))
