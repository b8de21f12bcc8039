"""Ingest files into the database: once, atomically, streaming.

A file lands whole (its messages, rejects, ``files`` row and derived
``orders``/``executions``) in one transaction, or not at all. A file whose
sha256 is already in ``files`` adds nothing. Memory is bounded by the chunk
size, whatever the file's size. ``.gz`` files are recognised by their magic
bytes and read transparently.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import queue
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Callable

import duckdb
import pyarrow as pa

from . import framing
from .derive import BINARY_BUCKET_BYTES, buckets_for, insert_derived
from .errors import IngestError
from .ingest_binary import BinaryStream, binary_chunks
from .ingest_text import TextStream, text_chunks
from .background import prefetch
from .names import safe_name
from . import store, summaries
from .store import registered, transaction

CHUNK_SIZE = 8 << 20  # measured: 8 MB pipelines better than 4, 12 or 16
#: (bytes done, bytes total, stage): stage READING while the file is decoded and
#: loaded, then DERIVING (bytes done == total) while orders and executions are built.
Progress = Callable[[int, int, str], None]
READING, DERIVING = "reading", "deriving"

_GZIP_MAGIC = b"\x1f\x8b"
#: One writer per process (DuckDB has one per file anyway): a file landing and a file
#: leaving never overlap.
WRITE_LOCK = threading.Lock()


@dataclass
class IngestResult:
    """What happened to one file."""

    name: str
    status: str  # 'ingested' or 'duplicate'
    file_id: int | None
    messages: int
    rejects: int
    size: int
    sha256: str
    seconds: float
    first_reject: str = ""  # "line N: reason" of the first reject, if any
    #: Seconds per step: hash, load (decode + insert), orders, executions, commit.
    phases: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        if self.status == "duplicate":
            return f"{self.name}: already ingested as file {self.file_id}, nothing added"
        text = (f"{self.name}: {self.messages:,} messages, {self.rejects:,} rejects "
                f"in {self.seconds:.2f} s")
        if self.first_reject:
            text += f" (first reject {self.first_reject})"
        return text


def _now() -> datetime:
    # DuckDB's now() is the transaction's start; the finish time must be real.
    return datetime.now(timezone.utc)


def sha256_of(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: stream.read(CHUNK_SIZE), b""):
        digest.update(block)
    return digest.hexdigest()


def ingest_path(conn: duckdb.DuckDBPyConnection, path: str | Path, *, name: str | None = None,
                source: str = "cli", progress: Progress | None = None,
                chunk_size: int = CHUNK_SIZE,
                before_commit: Callable[[], None] | None = None) -> IngestResult:
    """Ingest one file from disk. Raises :class:`IngestError` when it cannot land.

    ``before_commit`` (optional) is called once everything is in, just before
    the COMMIT; whatever it raises rolls the file back and reaches the caller
    (the folder watcher checks there that the file did not change meanwhile).
    """
    path = Path(path)
    label = safe_name(name or path.name)
    try:
        with open(path, "rb") as fh:
            return _ingest(conn, fh, label, path.stat().st_size, source, progress, chunk_size,
                           before_commit)
    except OSError as exc:
        raise IngestError(f"{label}: cannot read: {exc.strerror or exc}") from None


def ingest_bytes(conn: duckdb.DuckDBPyConnection, data: bytes, name: str, *,
                 source: str = "upload", progress: Progress | None = None,
                 chunk_size: int = CHUNK_SIZE) -> IngestResult:
    """Ingest an in-memory file (an upload); the name is stored cleaned (:func:`safe_name`)."""
    return _ingest(conn, io.BytesIO(data), safe_name(name), len(data), source, progress,
                   chunk_size)


def _ingest(conn: duckdb.DuckDBPyConnection, fh: BinaryIO, name: str, size: int, source: str,
            progress: Progress | None, chunk_size: int,
            before_commit: Callable[[], None] | None = None) -> IngestResult:
    started = time.perf_counter()
    if size == 0:
        raise IngestError(f"{name}: file is empty")
    # The sha256 is of the content, so a file and its .gz are one file. For a
    # plain file it is known before any work; for a .gz it is computed while
    # decoding and checked before the commit.
    gz = fh.read(2) == _GZIP_MAGIC
    fh.seek(0)
    sha = None if gz else sha256_of(fh)
    fh.seek(0)
    hashed = time.perf_counter()
    with WRITE_LOCK:
        cur = conn.cursor()
        try:
            known = sha and _known(cur, sha)
            if known:
                return IngestResult(name, "duplicate", known, 0, 0, size, sha,
                                    time.perf_counter() - started)
            try:
                with transaction(cur):
                    result = _load(cur, fh, gz, name, size, sha, source, progress, chunk_size,
                                   started)
                    if result.status == "duplicate":  # a .gz of a file already in
                        raise _Duplicate(result)
                    if before_commit:
                        before_commit()  # raises to roll back
                    committing = time.perf_counter()
            except _Duplicate as dup:  # rolled back
                return dup.result
            result.seconds = time.perf_counter() - started
            result.phases = {"hash": hashed - started, **result.phases,
                             "commit": result.seconds - (committing - started)}
        except duckdb.Error as exc:
            raise IngestError(f"{name}: database error: {str(exc).splitlines()[0]}") from None
        finally:
            cur.close()
    return result


class _Duplicate(Exception):
    """Raised inside the ingest transaction to roll it back: the content is already in."""

    def __init__(self, result: IngestResult) -> None:
        super().__init__(result.name)
        self.result = result


def _known(cur: duckdb.DuckDBPyConnection, sha: str) -> int | None:
    row = cur.execute("SELECT file_id FROM files WHERE sha256 = ?", [sha]).fetchone()
    return row[0] if row else None


def _load(cur: duckdb.DuckDBPyConnection, fh: BinaryIO, gz: bool, name: str, size: int,
          sha: str | None, source: str, progress: Progress | None, chunk_size: int,
          started: float) -> IngestResult:
    file_id = cur.execute("SELECT nextval('file_ids')").fetchone()[0]
    digest = hashlib.sha256() if sha is None else None
    loading = time.perf_counter()
    reader = gzip.GzipFile(fileobj=fh, mode="rb") if gz else fh
    try:  # the container, by content: a capture, raw units, else text
        fmt = framing.detect(_head(fh, gz)) or "text"
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(f"{name}: cannot read: {exc}") from None
    cur.execute("INSERT INTO files (file_id, name, size, sha256, status, source, started_at, format) "
                "VALUES (?, ?, ?, ?, 'loading', ?, ?, ?)",
                [file_id, name, size, sha or f"pending-{file_id}", source, _now(), fmt])
    if fmt == "text":
        stream: TextStream | BinaryStream = TextStream(
            prefetch(text_chunks(reader, fh, chunk_size, digest)), buckets_for(size, gz))
    else:
        stream = BinaryStream(prefetch(binary_chunks(reader, fh, chunk_size, digest, fmt)),
                              buckets_for(size, gz, bucket_bytes=BINARY_BUCKET_BYTES))
    try:
        return _land(cur, stream, file_id, name, size, sha, digest, progress, started, loading)
    finally:
        stream.close_spools()


#: Bytes looked at to tell the container (a pcapng section header can be long).
HEAD_BYTES = 64 << 10


def _head(fh: BinaryIO, gz: bool) -> bytes:
    """The first HEAD_BYTES of the (decompressed) content; ``fh`` is left at its start."""
    try:
        if gz:
            with gzip.GzipFile(fileobj=fh, mode="rb") as peek:
                return peek.read(HEAD_BYTES)
        return fh.read(HEAD_BYTES)
    finally:
        fh.seek(0)


def _land(cur: duckdb.DuckDBPyConnection, stream: "TextStream | BinaryStream", file_id: int, name: str,
          size: int, sha: str | None, digest: "hashlib._Hash | None",
          progress: Progress | None, started: float, loading: float) -> IngestResult:
    """Insert the stream, check it, derive orders and executions, finish the files row."""
    try:
        _insert_stream(cur, file_id, stream, size, progress)
    finally:
        stream.close()
    if stream.error is not None:
        raise IngestError(f"{name}: cannot read: {stream.error}")
    for table, spool in ((stream.other_table, stream.other), ("rejects", stream.reject_spool)):
        if spool:
            _insert_spooled(cur, table, file_id, spool.reader())
    messages, n_rejects, first_reject = stream.messages, stream.rejects, stream.first_reject
    first_t, last_t = stream.first_t, stream.last_t
    stream.check(name)  # raises IngestError for a file with nothing in it
    stream.finish(cur, file_id)
    if digest:
        sha = digest.hexdigest()
        known = _known(cur, sha)
        if known:
            return IngestResult(name, "duplicate", known, 0, 0, size, sha,
                                time.perf_counter() - started)
        cur.execute("UPDATE files SET sha256 = ? WHERE file_id = ?", [sha, file_id])
    if progress:  # deriving takes a while on a big file: say so
        progress(size, size, DERIVING)
    phases = {"load": time.perf_counter() - loading}
    phases.update(insert_derived(cur, file_id, stream.lifecycles))
    counting = time.perf_counter()
    summaries.insert(cur, file_id)
    phases["counts"] = time.perf_counter() - counting
    seconds = time.perf_counter() - started
    cur.execute("UPDATE files SET messages = ?, rejects = ?, status = ?, finished_at = ?, "
                "seconds = ?, first_time_ns = ?, last_time_ns = ? WHERE file_id = ?",
                [messages, n_rejects, "ingested with rejects" if n_rejects else "ingested",
                 _now(), seconds, first_t, last_t, file_id])
    first = stream.where(first_reject) if first_reject else ""
    return IngestResult(name, "ingested", file_id, messages, n_rejects, size, sha, seconds, first,
                        phases)


def _insert_stream(cur: duckdb.DuckDBPyConnection, file_id: int,
                   stream: "TextStream | BinaryStream", size: int, progress: Progress | None) -> None:
    """Insert every decoded batch with ONE statement, reporting progress.

    One INSERT reading an Arrow stream keeps DuckDB's memory flat however large
    the file (thousands of INSERTs in one transaction grow it by ~130 bytes a
    row: 2 GB at 10M messages). DuckDB pulls the batches on its own threads,
    so the statement runs in a worker thread and progress is reported here, on
    the caller's thread (a Streamlit script's, for the upload page). An
    exception from ``progress`` (Ctrl-C, a watcher's stop) interrupts the
    statement; the caller then rolls back.
    """
    arrow = pa.RecordBatchReader.from_batches(stream.schema, stream.batches())
    with registered(cur, "_pitch_stream", arrow):
        _run_insert(cur, file_id, stream, size, progress)


def _run_insert(cur: duckdb.DuckDBPyConnection, file_id: int,
                stream: "TextStream | BinaryStream", size: int, progress: Progress | None) -> None:
    failure: list[BaseException] = []

    def run() -> None:
        try:
            cur.execute(f"INSERT INTO {stream.table} BY NAME "
                        "SELECT ? AS file_id, * FROM _pitch_stream", [file_id])
        except BaseException as exc:  # re-raised on the caller's thread
            failure.append(exc)
        finally:
            stream.progress.put(None)  # the end, without waiting for a poll

    worker = threading.Thread(target=run, name="pitch-insert", daemon=True)
    worker.start()
    try:
        while True:
            try:
                done = stream.progress.get(timeout=0.05)
            except queue.Empty:
                continue
            if done is None:
                break
            if progress:
                progress(done, size, READING)
    except BaseException:
        cur.interrupt()
        worker.join()
        raise
    finally:
        worker.join()
    if failure and stream.error is None:
        raise failure[0]


def _insert_spooled(cur: duckdb.DuckDBPyConnection, table: str, file_id: int,
                    rows: pa.RecordBatchReader) -> None:
    with registered(cur, "_pitch_spool", rows):
        cur.execute(f"INSERT INTO {table} BY NAME SELECT ? AS file_id, * FROM _pitch_spool",
                    [file_id])


def remove_file(conn: duckdb.DuckDBPyConnection, file_id: int) -> dict[str, object]:
    """:func:`pitch.store.delete_file` under the ingest lock; raises UnknownFileError."""
    with WRITE_LOCK:
        return store.delete_file(conn, file_id)
