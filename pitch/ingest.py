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
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Callable, Generator, Iterator, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .columns import Batch, Decoder, Reject
from .errors import IngestError
from .store import derive_file

CHUNK_SIZE = 16 << 20
#: Give up early on a file whose first this-many lines are all rejects.
NOT_PITCH_AFTER = 1000

T = TypeVar("T")
Progress = Callable[[int, int], None]  # (bytes done, bytes total)

_GZIP_MAGIC = b"\x1f\x8b"
_write_lock = threading.Lock()  # one writer per process: DuckDB has one per file anyway


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
                chunk_size: int = CHUNK_SIZE) -> IngestResult:
    """Ingest one file from disk. Raises :class:`IngestError` when it cannot land."""
    path = Path(path)
    label = name or path.name
    try:
        with open(path, "rb") as fh:
            return _ingest(conn, fh, label, path.stat().st_size, source, progress, chunk_size)
    except OSError as exc:
        raise IngestError(f"{label}: cannot read: {exc.strerror or exc}") from None


def ingest_bytes(conn: duckdb.DuckDBPyConnection, data: bytes, name: str, *,
                 source: str = "upload", progress: Progress | None = None,
                 chunk_size: int = CHUNK_SIZE) -> IngestResult:
    """Ingest an in-memory file (an upload)."""
    return _ingest(conn, io.BytesIO(data), name, len(data), source, progress, chunk_size)


def _ingest(conn: duckdb.DuckDBPyConnection, fh: BinaryIO, name: str, size: int, source: str,
            progress: Progress | None, chunk_size: int) -> IngestResult:
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
    with _write_lock:
        cur = conn.cursor()
        try:
            known = sha and _known(cur, sha)
            if known:
                return IngestResult(name, "duplicate", known, 0, 0, size, sha,
                                    time.perf_counter() - started)
            cur.execute("BEGIN")
            try:
                result = _load(cur, fh, gz, name, size, sha, source, progress, chunk_size, started)
                cur.execute("ROLLBACK" if result.status == "duplicate" else "COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        except duckdb.Error as exc:
            raise IngestError(f"{name}: database error: {str(exc).splitlines()[0]}") from None
        finally:
            cur.close()
    return result


def _known(cur: duckdb.DuckDBPyConnection, sha: str) -> int | None:
    row = cur.execute("SELECT file_id FROM files WHERE sha256 = ?", [sha]).fetchone()
    return row[0] if row else None


def _load(cur: duckdb.DuckDBPyConnection, fh: BinaryIO, gz: bool, name: str, size: int,
          sha: str | None, source: str, progress: Progress | None, chunk_size: int,
          started: float) -> IngestResult:
    file_id = cur.execute("SELECT nextval('file_ids')").fetchone()[0]
    cur.execute("INSERT INTO files (file_id, name, size, sha256, status, source, started_at) "
                "VALUES (?, ?, ?, ?, 'loading', ?, ?)",
                [file_id, name, size, sha or f"pending-{file_id}", source, _now()])
    digest = hashlib.sha256() if sha is None else None
    messages = n_rejects = 0
    first_reject = None
    first_t: int | None = None
    last_t: int | None = None
    reader = gzip.GzipFile(fileobj=fh, mode="rb") if gz else fh
    batches = _prefetch(_decode_stream(reader, fh, chunk_size, digest))
    try:
        for batch, done in batches:
            table = batch.table
            if table.num_rows:
                cur.register("_pitch_batch", table)
                cur.execute("INSERT INTO messages BY NAME SELECT ? AS file_id, * FROM _pitch_batch",
                            [file_id])
                cur.unregister("_pitch_batch")
                messages += table.num_rows
                lo, hi = pc.min_max(table.column("time_ns")).values()
                first_t = lo.as_py() if first_t is None else min(first_t, lo.as_py())
                last_t = hi.as_py() if last_t is None else max(last_t, hi.as_py())
            if batch.rejects:
                first_reject = first_reject or batch.rejects[0]
                n_rejects += len(batch.rejects)
                _insert_rejects(cur, file_id, batch.rejects)
            if messages == 0 and n_rejects >= NOT_PITCH_AFTER:
                break
            if progress:
                progress(done, size)
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(f"{name}: cannot read: {exc}") from None
    finally:
        batches.close()
    if messages == 0:
        if first_reject:
            r = first_reject
            raise IngestError(f"{name}: not a PITCH file: no line is a PITCH message "
                              f"(line {r.line_no}: {r.reason})")
        raise IngestError(f"{name}: file has no messages (only blank lines)")
    if digest:
        sha = digest.hexdigest()
        known = _known(cur, sha)
        if known:
            return IngestResult(name, "duplicate", known, 0, 0, size, sha,
                                time.perf_counter() - started)
        cur.execute("UPDATE files SET sha256 = ? WHERE file_id = ?", [sha, file_id])
    derive_file(cur, file_id)
    seconds = time.perf_counter() - started
    cur.execute("UPDATE files SET messages = ?, rejects = ?, status = ?, finished_at = ?, "
                "seconds = ?, first_time_ns = ?, last_time_ns = ? WHERE file_id = ?",
                [messages, n_rejects, "ingested with rejects" if n_rejects else "ingested",
                 _now(), seconds, first_t, last_t, file_id])
    first = f"line {first_reject.line_no}: {first_reject.reason}" if first_reject else ""
    return IngestResult(name, "ingested", file_id, messages, n_rejects, size, sha, seconds, first)


def _decode_stream(reader: BinaryIO, fh: BinaryIO, chunk_size: int,
                   digest: "hashlib._Hash | None") -> Iterator[tuple[Batch, int]]:
    """(batch, bytes of the file read so far) for each chunk, then the flush."""
    decoder = Decoder()
    while block := reader.read(chunk_size):
        if digest:
            digest.update(block)
        yield decoder.feed(block), fh.tell()
    yield decoder.close(), fh.tell()


def _prefetch(items: Iterator[T], depth: int = 2) -> Generator[T, None, None]:
    """Run ``items`` in a thread, ``depth`` ahead of the consumer.

    Reading and decoding the next chunk (numpy, GIL mostly released) overlaps
    DuckDB inserting the previous one. Exceptions reach the consumer; closing
    the generator stops the thread.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((end, None))
        except BaseException as exc:  # handed to the consumer, raised there
            q.put((end, exc))

    worker = threading.Thread(target=produce, name="pitch-decode", daemon=True)
    worker.start()
    try:
        while True:
            item, exc = q.get()
            if item is end:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        # A consumer that leaves early (an error, a stop) may leave the producer
        # blocked on a full queue with its last put: drain until it is gone.
        while worker.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                worker.join(0.01)


def _insert_rejects(cur: duckdb.DuckDBPyConnection, file_id: int, rejects: list[Reject]) -> None:
    cur.register("_pitch_rejects", pa.table({
        "line_no": pa.array([r.line_no for r in rejects], pa.int64()),
        "byte_offset": pa.array([r.byte_offset for r in rejects], pa.int64()),
        "raw": pa.array([r.raw for r in rejects], pa.binary()),
        "reason": pa.array([r.reason for r in rejects], pa.string()),
    }))
    cur.execute("INSERT INTO rejects BY NAME SELECT ? AS file_id, * FROM _pitch_rejects", [file_id])
    cur.unregister("_pitch_rejects")
