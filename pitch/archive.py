"""The Parquet archive: write it from a database (``pitch export``), open it as DuckDB views.

Layout (the same whether ``pitch export`` or the Spark job wrote it)::

    DIR/<table>/date=<YYYY-MM-DD|unknown>/file=<key>/part-0.parquet

for every table of :data:`~pitch.file_tables.ARCHIVE_TABLES`. ``key`` comes
from the file's content (:func:`~pitch.file_tables.file_key`), so a file
lands in the same folder from any machine, and writing it again replaces that
folder (and any folder of the same key under another date): never twice.
Rows are sorted by time within a file (:data:`~pitch.file_tables.SORT_KEYS`),
zstd-compressed, in row groups of :data:`ROW_GROUP_ROWS` rows; both writers
share :mod:`pitch.archive_write`.

:func:`connect` opens an archive for reading: an in-memory DuckDB database
whose ``messages``, ``orders``, ``executions``, ``rejects``, ``gaps`` and
``files`` are views over ``read_parquet(..., hive_partitioning = true)`` with
the database's columns and types, ``file_id`` being the ``file`` key (a
BIGINT rather than the database's INTEGER sequence number). Every query of
:mod:`pitch.queries` and the sandboxed user SQL run on it unchanged.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import duckdb
import pyarrow as pa

from . import archive_write, settings, store, summaries
from .archive_write import ROW_GROUP_ROWS, STAGING  # noqa: F401  (part of this API)
from .file_tables import (ARCHIVE_TABLES, ArchiveError, db_columns, file_key, parse_date,
                          session_date, table_batches)

#: Glob of one table's data files under the archive root (hidden files, Spark's
#: .crc and _SUCCESS, and staging folders never match).
DATA_GLOB = "{table}/date=*/file=*/*.parquet"


def data_files(root: Path, table: str) -> list[Path]:
    """Every Parquet file of ``table`` in the archive at ``root``."""
    return sorted(root.glob(DATA_GLOB.format(table=table)))


# -- export ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Exported:
    """One file written to the archive."""

    name: str
    date: str
    file: int
    rows: dict[str, int]

    def summary(self) -> str:
        return (f"{self.name}: {self.rows.get('messages', 0):,} messages, "
                f"{self.rows.get('rejects', 0):,} rejects -> date={self.date}/file={self.file}")


def export(db: str | os.PathLike | None, out: str | os.PathLike, *, date: str | None = None,
           report: Callable[[Exported], None] | None = None) -> list[Exported]:
    """Write every file of the database ``db`` into the archive at ``out``.

    The database is opened read-only and locked down as always
    (:func:`pitch.store.connect`): Python reads Arrow batches from it and
    writes the Parquet files (:mod:`pitch.archive_write`), files in parallel
    (one per core, each on its own cursor). Each file is staged, then moved
    into place, replacing what the archive held for it. ``date`` overrides
    the session date of every file.
    """
    fs, root = archive_write.filesystem(str(out))
    fs.create_dir(root, recursive=True)
    staging = f"{root}/{archive_write.STAGING}/{uuid.uuid4().hex}"
    store.connect(db).close()  # creates or migrates the schema; says so when the file is busy
    conn = store.connect(db, read_only=True)
    try:
        files = conn.sql("SELECT file_id, name, sha256 FROM files ORDER BY file_id").fetchall()
        workers = max(1, min(len(files), settings.current().threads or os.cpu_count() or 1))
        with ThreadPoolExecutor(workers, thread_name_prefix="pitch-export") as pool:
            futures = [pool.submit(_export_file, conn, fs, root, staging, file_id, name,
                                   session_date(name, date), file_key(sha))
                       for file_id, name, sha in files]
            done = []
            for future in futures:  # in file order, as each one is in place
                done.append(future.result())
                if report:
                    report(done[-1])
    finally:
        conn.close()
        archive_write.remove_staging(fs, root, staging)
    return done


def _export_file(conn: duckdb.DuckDBPyConnection, fs: Any, root: str, staging: str,
                 file_id: int, name: str, date: str, key: int) -> Exported:
    cur = conn.cursor()
    try:
        rows = archive_write.write_file(
            fs, staging, date, key,
            {t: table_batches(cur, t, file_id) for t in ARCHIVE_TABLES})
    finally:
        cur.close()
    archive_write.commit(fs, root, staging, date, key, rows)
    return Exported(name, date, key, {t: rows.get(t, 0) for t in ARCHIVE_TABLES})


# -- the command line's part (pitch.cli wires these in) -------------------------------------

ARCHIVE_HELP = ("read this Parquet archive (written by `export` or `python -m pitch.spark`) "
                "instead of the database")


def option_parser() -> argparse.ArgumentParser:
    """The ``--archive DIR`` option, as a parent parser for the reading commands."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--archive", metavar="DIR", default=None, help=ARCHIVE_HELP)
    return parser


def date_arg(text: str) -> str:
    """argparse type of ``--date``: a usage error (exit 2) when it is not a date."""
    try:
        return parse_date(text)
    except ArchiveError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--date {text!r}: ")) from None


def add_export_command(command: Callable[..., argparse.ArgumentParser]) -> None:
    """``export DIR [--date D]``, added with the CLI's own ``command`` helper."""
    p = command("export", cmd_export, "write the database as a Parquet archive (see README: "
                "Scale out)")
    p.add_argument("dir", metavar="DIR", help="the archive folder (a file already there is "
                                               "replaced, never doubled)")
    p.add_argument("--date", type=date_arg, default=None, metavar="YYYY-MM-DD",
                   help="session date of every file (default: a date in its name, else unknown)")


def cmd_export(args: argparse.Namespace) -> int:
    """``python -m pitch export DIR``: one line per file, then the totals."""
    started = time.perf_counter()
    done = export(args.db, args.dir, date=args.date,
                  report=lambda item: print(item.summary(), flush=True))
    seconds = time.perf_counter() - started
    messages = sum(item.rows["messages"] for item in done)
    print(f"{args.dir}: {len(done):,} files, {messages:,} messages in {seconds:.2f} s")
    return 0


# -- reading --------------------------------------------------------------------------------

def _limits(conn: duckdb.DuckDBPyConnection) -> None:
    current = settings.current()
    if current.threads:
        conn.execute(f"SET threads = {int(current.threads)}")
    conn.execute("SET memory_limit = ?", [current.memory_limit])


def _lock(conn: duckdb.DuckDBPyConnection) -> None:
    for statement in ("SET enable_external_access = false",
                      "SET autoinstall_known_extensions = false",
                      "SET autoload_known_extensions = false", "SET lock_configuration = true"):
        conn.execute(statement)


def connect(root: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    """Open the archive at ``root`` read-only, as views with the database's names and columns.

    The connection is locked down like :func:`pitch.store.connect`, except that
    files under ``root`` may be read (the views need them; user SQL still
    cannot name a file, :mod:`pitch.sandbox` refuses it). A table without any
    Parquet file yet is an empty table of the database's schema.
    """
    path = Path(root).resolve()
    if not path.is_dir():
        raise ArchiveError(f"no archive at {root}: not a folder")
    if not any(data_files(path, "files")):
        raise ArchiveError(f"no archive at {root}: no files/date=*/file=*/*.parquet under it")
    conn = duckdb.connect(":memory:")
    conn.execute("SET enable_progress_bar = false")
    _limits(conn)
    store.init_schema(conn)  # message_types and meta, and empty tables of every kind
    for table in ARCHIVE_TABLES:
        if data_files(path, table):
            _replace_with_view(conn, path, table)
    summaries.archive_views(conn)  # counted from the archive's messages when read
    conn.execute("SET allowed_directories = ?", [[f"{path}/"]])
    _lock(conn)
    return conn


def _replace_with_view(conn: duckdb.DuckDBPyConnection, root: Path, table: str) -> None:
    glob = str(root / DATA_GLOB.format(table=table)).replace("'", "''")
    # A column newer than some files (orders.end_line_no, schema 6) is NULL in them:
    # in none, a NULL of its type; in some, read by name from those that have it.
    files = len(data_files(root, table))
    held = dict(conn.execute(f"SELECT name, count(DISTINCT file_name) FROM "
                             f"parquet_schema('{glob}') GROUP BY name").fetchall())
    types = dict(conn.execute(f"SELECT column_name, column_type FROM (DESCRIBE {table})"
                              ).fetchall())
    cols = []
    for f in db_columns(table):  # the database's columns, in its order, with its types
        if f.name == "file_id":
            cols.append("file AS file_id")
        elif f.name not in held:
            cols.append(f"NULL::{types[f.name]} AS {f.name}")
        elif pa.types.is_uint64(f.type):  # stored as DECIMAL(20,0): see pitch.file_tables
            cols.append(f"{f.name}::UBIGINT AS {f.name}")
        else:
            cols.append(f.name)
    mixed = any(0 < held.get(f.name, 0) < files for f in db_columns(table))
    if table == "messages":
        conn.execute("DROP VIEW messages")
        for storage, _ in store.MESSAGE_STORAGE:
            conn.execute(f"DROP TABLE {storage}")
    else:
        conn.execute(f"DROP TABLE {table}")
    conn.execute(
        f"CREATE VIEW {table} AS SELECT {', '.join(cols)} FROM read_parquet('{glob}', "
        f"hive_partitioning = true, hive_types = {{'date': VARCHAR, 'file': BIGINT}}"
        f"{', union_by_name = true' if mixed else ''})")

