"""Ingest of text PITCH: the stream side.

:func:`text_chunks` reads the (decompressed) file in chunks and decodes them
on DECODE_THREADS threads (:mod:`pitch.columns`); :class:`TextStream` hands
the messages to DuckDB as Arrow batches for ``messages_common``, spools the
rarer types and the rejects, and sets aside adds and events for orders
(:class:`pitch.derive.Lifecycles`). The twin of :mod:`pitch.ingest_binary`.
"""

from __future__ import annotations

import collections
import hashlib
import queue
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO, Generator, Iterator

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .columns import COMMON_SCHEMA, SCHEMA, Batch, Decoder, Reject
from .derive import Lifecycles
from .errors import IngestError
from .spool import Spool

#: Give up early on a file whose first this-many lines are all rejects.
NOT_PITCH_AFTER = 1000
#: Rows kept in memory before they are spooled to a temporary file: rejects,
#: and the messages of the rarer types (inserted after the common ones).
SPOOL_REJECTS = 20_000
SPOOL_OTHER = 200_000
#: Threads decoding chunks in parallel (each holds one chunk in flight).
DECODE_THREADS = 2


def text_chunks(reader: BinaryIO, fh: BinaryIO, chunk_size: int,
                   digest: "hashlib._Hash | None") -> Iterator[tuple[Batch, int]]:
    """(batch, bytes of the file read so far) for each chunk, then the flush.

    Chunks are read here in order and decoded by DECODE_THREADS threads in
    parallel (numpy releases the GIL), at most that many chunks ahead.
    """
    decoder = Decoder(split=True)
    ahead: collections.deque[tuple[Future, int]] = collections.deque()
    with ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix="pitch-decode") as pool:
        try:
            size = max(1, chunk_size // 4)  # a small first chunk: DuckDB starts sooner
            while block := reader.read(size):
                size = chunk_size
                if digest:
                    digest.update(block)
                ahead.append((pool.submit(decoder.feed_later(block)), fh.tell()))
                if len(ahead) >= DECODE_THREADS:
                    future, done = ahead.popleft()
                    yield future.result(), done
            ahead.append((pool.submit(decoder.close_later()), fh.tell()))
            while ahead:
                future, done = ahead.popleft()
                yield future.result(), done
        finally:
            for future, _ in ahead:  # stopped early: drop what was not started
                future.cancel()


class TextStream:
    """The decoded file as Arrow batches for DuckDB, with its tallies on the side."""

    table, schema, other_table = "messages_common", COMMON_SCHEMA, "messages_other"

    def __init__(self, items: Generator[tuple[Batch, int], None, None], buckets: int) -> None:
        self._items = items
        self.messages = self.rejects = 0
        self.first_reject: Reject | None = None
        self.first_t: int | None = None
        self.last_t: int | None = None
        self.error: BaseException | None = None  # a read error, raised after the INSERT
        self.reject_spool = Spool(REJECT_SCHEMA, SPOOL_REJECTS)
        self.other = Spool(SCHEMA, SPOOL_OTHER)  # messages not of the common types
        self.lifecycles = Lifecycles(buckets)  # adds and events, for orders
        self.progress: queue.Queue[int | None] = queue.Queue()  # None: the INSERT ended

    def batches(self) -> Iterator[pa.RecordBatch]:
        try:
            for batch, done in self._items:
                for table in (batch.table, batch.other):
                    if table.num_rows:
                        self.messages += table.num_rows
                        lo, hi = (v.as_py() for v in pc.min_max(table.column("time_ns")).values())
                        self.first_t = lo if self.first_t is None else min(self.first_t, lo)
                        self.last_t = hi if self.last_t is None else max(self.last_t, hi)
                self.other.add(batch.other)
                self.lifecycles.add(batch)
                if batch.table.num_rows:
                    yield from batch.table.to_batches()
                if batch.rejects:
                    self.first_reject = self.first_reject or batch.rejects[0]
                    self.rejects += len(batch.rejects)
                    self.reject_spool.add(_reject_batch(batch.rejects))
                self.progress.put(done)
                if self.messages == 0 and self.rejects >= NOT_PITCH_AFTER:
                    return  # not PITCH: no need to read the rest
            # All in: link orders while DuckDB inserts the last batches.
            self.lifecycles.start()
        except (OSError, EOFError, zlib.error) as exc:
            self.error = exc

    def close(self) -> None:
        """Stop the decoding thread (the spools stay until their rows are in)."""
        self._items.close()

    def check(self, name: str) -> None:
        """Refuse a file without a single message (nothing has been committed)."""
        if self.messages == 0:
            if self.first_reject:
                r = self.first_reject
                raise IngestError(f"{name}: not a PITCH file: no line is a PITCH message "
                                  f"(line {r.line_no}: {r.reason})")
            raise IngestError(f"{name}: file has no messages (only blank lines)")

    def finish(self, cur: duckdb.DuckDBPyConnection, file_id: int) -> None:
        """Text has nothing more to store."""

    @staticmethod
    def where(reject: Reject) -> str:
        return f"line {reject.line_no}: {reject.reason}"

    def close_spools(self) -> None:
        for spool in (self.other, self.reject_spool):
            spool.close()
        self.lifecycles.close()


REJECT_SCHEMA = pa.schema([("line_no", pa.int64()), ("byte_offset", pa.int64()),
                           ("raw", pa.binary()), ("reason", pa.string())])


def _reject_batch(rejects: list[Reject]) -> pa.RecordBatch:
    return pa.record_batch([
        pa.array([r.line_no for r in rejects], pa.int64()),
        pa.array([r.byte_offset for r in rejects], pa.int64()),
        pa.array([r.raw for r in rejects], pa.binary()),
        pa.array([r.reason for r in rejects], pa.string()),
    ], schema=REJECT_SCHEMA)
