"""One file's bytes -> its archive tables: the pure function every scale-out path calls.

:func:`decoded` (streaming) and :func:`decode_file` (whole tables) run the
very pipeline of :mod:`pitch.ingest` into a private in-memory database and
read each table back, so an archive written from them equals the database by
construction: same decoder, same derivation of ``orders`` and
``executions``, same rejects. The Spark job calls it on its executors, the
tests call it directly; ``pitch export`` writes the same layout from an
existing database (:mod:`pitch.archive`).

Identity comes from the content. A file's archive key is
``file = int(sha256[:13], 16)``: 52 bits of the content hash (the sha256 of the
decompressed content, as in ``files.sha256``, so a file and its .gz are one
file), written in decimal. Decimal because every Hive reader (DuckDB, Spark,
Trino, Polars) then infers the same integer type for the folder name, where a
hex key that happens to be all digits would be read as a number by some of
them; 52 bits because a larger integer loses digits in JavaScript (the app's
tables and URLs). Two different files collide with odds of about n²/2⁵³.

The archive's columns are the database's, less ``file_id`` (the ``file``
folder stands for it), with one change of type: UBIGINT ids (order and
execution ids) are stored as DECIMAL(20,0), because Spark, Hive and Trino have
no unsigned 64-bit integer and a binary PITCH order id uses all 64 bits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import pyarrow as pa

from . import store
from .errors import PitchError
from .names import safe_name

#: The archive's tables, one folder each; ``files`` last (it says what landed).
ARCHIVE_TABLES: tuple[str, ...] = ("messages", "orders", "executions", "rejects", "gaps", "files")
#: Row order within one file: by time, then line (NULL times, binary messages
#: before their unit's first Time message, first). rejects and gaps have no time.
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "messages": ("time_ns", "line_no"), "orders": ("first_time_ns", "line_no"),
    "executions": ("time_ns", "line_no"), "rejects": ("line_no", "packet"),
    "gaps": ("unit", "expected_sequence"), "files": (),
}
#: The Hive partition columns, in folder order.
PARTITION_COLUMNS = ("date", "file")
UNKNOWN_DATE = "unknown"
#: How UBIGINT columns are stored (see the module docstring).
ID_TYPE = "DECIMAL(20,0)"
#: Rows per record batch read back from the private database.
BATCH_ROWS = 1 << 20

_DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4})(-?)(\d{2})\2(\d{2})(?!\d)")


class ArchiveError(PitchError):
    """An archive cannot be written or read (bad date, missing folder...)."""


def file_key(sha256: str) -> int:
    """A file's archive key (its ``file=`` folder) from its content hash."""
    return int(sha256[:13], 16)


def parse_date(text: str) -> str:
    """``--date``: a real calendar date as ``YYYY-MM-DD``, else :class:`ArchiveError`."""
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    raise ArchiveError(f"--date {text!r}: must be a date as YYYY-MM-DD")


def session_date(name: str, date: str | None = None) -> str:
    """The session date of a file: ``date``, else one in its name, else ``unknown``.

    A name date is ``YYYYMMDD`` or ``YYYY-MM-DD`` not inside a longer number,
    and must be a real date from 1970 on (so ``unit12345678`` is not one).
    """
    if date:
        return parse_date(date)
    for match in _DATE_IN_NAME.finditer(name):
        try:
            day = dt.date(int(match[1]), int(match[3]), int(match[4]))
        except ValueError:
            continue
        if day.year >= 1970:
            return day.isoformat()
    return UNKNOWN_DATE


# -- the archive schema, derived from the database's ---------------------------------------

@functools.cache
def _db_schemas() -> dict[str, pa.Schema]:
    conn = store.connect(":memory:", threads=1)
    try:
        return {t: conn.sql(f"SELECT * FROM {t} LIMIT 0").to_arrow_table().schema
                for t in ARCHIVE_TABLES}
    finally:
        conn.close()


def db_columns(table: str) -> list[pa.Field]:
    """The database's columns of ``table`` (``file_id`` included), as Arrow fields."""
    return list(_db_schemas()[table])


def select_list(table: str) -> str:
    """The SELECT list that turns a database table's rows into archive rows."""
    cols = [f"{f.name}::{ID_TYPE} AS {f.name}" if pa.types.is_uint64(f.type) else f.name
            for f in db_columns(table) if f.name != "file_id"]
    return ", ".join(cols)


def order_by(table: str) -> str:
    """``ORDER BY ...`` for one file's rows of ``table`` ("" when the order is free)."""
    keys = SORT_KEYS[table]
    return "ORDER BY " + ", ".join(f"{k} NULLS FIRST" for k in keys) if keys else ""


def _archive_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_uint64(t):
        return pa.decimal128(20, 0)
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz="UTC")  # DuckDB says Etc/UTC; Spark wants UTC
    return t


@functools.cache
def archive_schema(table: str) -> pa.Schema:
    """The Arrow schema of one file's rows of ``table`` in the archive (no partition columns)."""
    return pa.schema([pa.field(f.name, _archive_type(f.type)) for f in db_columns(table)
                      if f.name != "file_id"])


# -- decoding one file ------------------------------------------------------------------------

@dataclass
class Decoded:
    """One decoded file: its partition keys and its tables, read on demand."""

    date: str
    file: int
    name: str
    error: str | None = None  # why the file could not land (then only ``files`` has a row)
    _conn: object = field(default=None, repr=False)
    _files_row: pa.Table | None = field(default=None, repr=False)

    def batches(self, table: str, rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """The file's rows of ``table``, sorted (:data:`SORT_KEYS`), in the archive schema."""
        if self._conn is None:  # a failed file: its files row and nothing else
            if table == "files" and self._files_row is not None:
                yield from self._files_row.to_batches()
            return
        yield from table_batches(self._conn, table, rows=rows)


def table_batches(conn: Any, table: str, file_id: int | None = None,
                  rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """One file's rows of ``table`` from a database, sorted, in the archive schema.

    ``file_id``: the file, in a database of many (None: the only one).
    """
    where = "" if file_id is None else f"WHERE file_id = {int(file_id)}"
    if table == "messages":  # a merge of its storage tables: see pitch.message_merge
        from .message_merge import message_batches

        yield from message_batches(conn, where, rows)
        return
    reader = conn.sql(f"SELECT {select_list(table)} FROM {table} {where} {order_by(table)}"
                      ).to_arrow_reader(batch_size=rows)
    schema = archive_schema(table)
    try:
        for batch in reader:
            if batch.num_rows:
                yield batch.cast(schema)
    finally:
        reader.close()


@contextlib.contextmanager
def decoded(data: bytes, name: str, *, date: str | None = None, source: str = "archive",
            threads: int = 1) -> Iterator[Decoded]:
    """Decode ``data`` (a whole file, text or binary, .gz too) for the archive.

    Never raises for a file that cannot land: it comes back with ``error``
    set and a ``files`` row whose status is ``failed: <reason>`` (its sha256
    is then that of the raw bytes). ``threads``: DuckDB threads of
    the private database (an executor core each).
    """
    from .ingest import ingest_bytes  # the ingest pipeline, only where a file is decoded

    label = safe_name(name)
    day = session_date(label, date)
    started = dt.datetime.now(dt.timezone.utc)
    clock = time.perf_counter()
    conn = store.connect(":memory:", threads=threads)
    try:
        reason = None
        try:
            result = ingest_bytes(conn, data, label, source=source)
        except Exception as exc:  # noqa: BLE001  bad content, or a bug this content hits:
            # either way one file's failure, recorded; the other files still land.
            reason = (str(exc).removeprefix(f"{label}: ") if isinstance(exc, PitchError)
                      else f"unexpected error: {type(exc).__name__}: {exc}")
        if reason is None:
            yield Decoded(day, file_key(result.sha256), label, None, conn)
        else:
            sha = hashlib.sha256(data).hexdigest()
            row = _failed_row(label, data, sha, reason, source, started,
                              time.perf_counter() - clock)
            yield Decoded(day, file_key(sha), label, reason, None, row)
    finally:
        conn.close()


def _failed_row(name: str, data: bytes, sha: str, reason: str, source: str,
                started: dt.datetime, seconds: float) -> pa.Table:
    values = {"name": name, "size": len(data), "sha256": sha, "status": f"failed: {reason}",
              "source": source, "started_at": started,
              "finished_at": dt.datetime.now(dt.timezone.utc), "seconds": seconds}
    schema = archive_schema("files")
    return pa.table({f.name: pa.array([values.get(f.name)], f.type) for f in schema},
                    schema=schema)


@dataclass(frozen=True)
class FileTables:
    """A file's archive rows: every table of :data:`ARCHIVE_TABLES`, possibly empty."""

    date: str
    file: int
    tables: dict[str, pa.Table]
    error: str | None = None


def decode_file(data: bytes, name: str, *, date: str | None = None,
                source: str = "archive") -> FileTables:
    """``bytes -> tables``: one file's archive rows, whole (see :func:`decoded`)."""
    with decoded(data, name, date=date, source=source) as d:
        tables = {t: pa.Table.from_batches(list(d.batches(t)), schema=archive_schema(t))
                  for t in ARCHIVE_TABLES}
        return FileTables(d.date, d.file, tables, d.error)
