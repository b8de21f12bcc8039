"""The Parquet archive: write it from a database (``pitch export``), open it as DuckDB views.

Layout (the same whether ``pitch export`` or the Spark job wrote it)::

    DIR/<table>/date=<YYYY-MM-DD|unknown>/file=<key>/part-*.parquet

for every table of :data:`~pitch.file_tables.ARCHIVE_TABLES`. ``key`` comes
from the file's content (:func:`~pitch.file_tables.file_key`), so a file
lands in the same folder from any machine, and writing it again replaces that
folder (and any folder of the same key under another date): never twice.
Rows are sorted by time within a file (:data:`~pitch.file_tables.SORT_KEYS`),
zstd-compressed, in row groups of :data:`ROW_GROUP_ROWS`.

:func:`connect` opens an archive for reading: an in-memory DuckDB database
whose ``messages``, ``orders``, ``executions``, ``rejects``, ``gaps`` and
``files`` are views over ``read_parquet(..., hive_partitioning = true)`` with
the database's columns and types, ``file_id`` being the ``file`` key (a
BIGINT rather than the database's INTEGER sequence number). Every query of
:mod:`pitch.queries` and the sandboxed user SQL run on it unchanged.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import duckdb
import pyarrow as pa

from . import settings, store
from .file_tables import (ARCHIVE_TABLES, ArchiveError, db_columns, file_key, order_by,
                          parse_date, select_list, session_date)

#: Rows per Parquet row group: about 10-20 MB of messages compressed, large
#: enough for scans, small enough that time-sorted row groups prune by time.
ROW_GROUP_ROWS = 1_000_000
#: Where a writer stages a file's folders before moving them into place (the
#: readers' globs never look there).
STAGING = ".staging"
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

    The database is opened read-only by this call (close your own connection
    to it first: DuckDB refuses a second one with other settings in one
    process), with file access allowed only under ``out``. Each file is
    written to a staging folder, then moved into place, replacing what the
    archive held for it. ``date`` overrides the session date of every file.
    """
    root = Path(out).resolve()
    root.mkdir(parents=True, exist_ok=True)
    staging = root / STAGING / uuid.uuid4().hex
    staging.mkdir(parents=True)
    store.connect(db).close()  # creates or migrates the schema; says so when the file is busy
    conn = _writer(store.db_path(db), staging)
    done: list[Exported] = []
    try:
        counts = {t: dict(conn.sql(f"SELECT file_id, count(*) FROM {t} GROUP BY 1").fetchall())
                  for t in ARCHIVE_TABLES}
        for file_id, name, sha in conn.sql(
                "SELECT file_id, name, sha256 FROM files ORDER BY file_id").fetchall():
            item = Exported(name, session_date(name, date), file_key(sha),
                            {t: counts[t].get(file_id, 0) for t in ARCHIVE_TABLES})
            _export_file(conn, staging, root, file_id, item)
            done.append(item)
            if report:
                report(item)
    finally:
        conn.close()
        shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(OSError):
            staging.parent.rmdir()  # only when no other export is staging there
    return done


def _writer(db: Path, staging: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to ``db`` that may write files under ``staging`` only."""
    try:
        conn = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as exc:
        raise ArchiveError(f"cannot open database {db}: {str(exc).splitlines()[0]}") from None
    conn.execute("SET enable_progress_bar = false")
    _limits(conn)
    conn.execute("SET allowed_directories = ?", [[f"{staging}/"]])
    _lock(conn)
    return conn


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


def partition(table: str, date: str, file: int) -> str:
    """A file's folder of ``table``, relative to the archive root."""
    return f"{table}/date={date}/file={file}"


def _export_file(conn: duckdb.DuckDBPyConnection, staging: Path, root: Path, file_id: int,
                 item: Exported) -> None:
    for table in ARCHIVE_TABLES:
        if not item.rows[table]:
            continue  # like Spark: no folder for a table without rows
        folder = staging / partition(table, item.date, item.file)
        folder.mkdir(parents=True)
        # file_id is the database's integer: safe to inline (COPY takes no parameters).
        conn.execute(
            f"COPY (SELECT {select_list(table)} FROM {table} WHERE file_id = {int(file_id)} "
            f"{order_by(table)}) TO '{folder / 'part-0.parquet'}' "
            f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_ROWS})")
    replace_file(root, staging, item.file,
                 {t: item.date for t in ARCHIVE_TABLES if item.rows[t]})


def replace_file(root: Path, staging: Path, file: int, written: dict[str, str]) -> None:
    """Make the archive hold exactly what ``staging`` has for ``file``.

    ``written``: table -> date of the folders staged for this file. Every
    folder of this key in the archive goes first (another date, a table that
    now has no rows), then the staged ones move in. A reader in between may
    miss the file for a moment; it never sees it twice.
    """
    trash = staging / f"old-{file}"
    for table in ARCHIVE_TABLES:
        for old in (root / table).glob(f"date=*/file={file}"):
            trash.mkdir(parents=True, exist_ok=True)
            old.rename(trash / f"{table}-{old.parent.name}")
    for table, date in written.items():
        target = root / partition(table, date, file)
        target.parent.mkdir(parents=True, exist_ok=True)
        (staging / partition(table, date, file)).rename(target)
    shutil.rmtree(trash, ignore_errors=True)


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
    conn.execute("SET allowed_directories = ?", [[f"{path}/"]])
    _lock(conn)
    return conn


def _replace_with_view(conn: duckdb.DuckDBPyConnection, root: Path, table: str) -> None:
    cols = []
    for f in db_columns(table):  # the database's columns, in its order, with its types
        if f.name == "file_id":
            cols.append("file AS file_id")
        elif pa.types.is_uint64(f.type):  # stored as DECIMAL(20,0): see pitch.file_tables
            cols.append(f"{f.name}::UBIGINT AS {f.name}")
        else:
            cols.append(f.name)
    glob = str(root / DATA_GLOB.format(table=table)).replace("'", "''")
    if table == "messages":
        conn.execute("DROP VIEW messages")
        for storage in ("messages_common", "messages_other", "messages_binary"):
            conn.execute(f"DROP TABLE {storage}")
    else:
        conn.execute(f"DROP TABLE {table}")
    conn.execute(
        f"CREATE VIEW {table} AS SELECT {', '.join(cols)} FROM read_parquet('{glob}', "
        f"hive_partitioning = true, hive_types = {{'date': VARCHAR, 'file': BIGINT}})")

