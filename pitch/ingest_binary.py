"""Ingest of binary Multicast PITCH (pcap, pcapng, raw Sequenced Units): the stream side.

:func:`binary_chunks` reads the (decompressed) file in chunks, frames each
(:mod:`pitch.framing`) and decodes its units (:mod:`pitch.binary`);
:class:`BinaryStream` hands the messages to DuckDB as Arrow batches for
``messages_binary`` (the rare types are spooled for ``messages_binary_other``)
and keeps the tallies that :mod:`pitch.ingest` writes in ``files``: rejects
(bad messages and damage to the capture itself), skipped frames, duplicates
and gaps. Memory is bounded by the chunk size.
"""

from __future__ import annotations

import collections
import hashlib
import queue
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import BinaryIO, Generator, Iterator

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from . import binary, framing
from .binary_reference import BinaryReject
from .derive_binary import BinaryLifecycles
from .errors import IngestError
from .spool import Spool
from .store import registered

#: Rows kept in memory before they go to a temporary file.
SPOOL_REJECTS = 20_000
SPOOL_OTHER = 200_000
#: Threads reading fields (each holds one chunk in flight).
DECODE_THREADS = 2

REJECT_SCHEMA = pa.schema([("line_no", pa.int64()), ("byte_offset", pa.int64()),
                           ("raw", pa.binary()), ("reason", pa.string()),
                           ("packet", pa.int64())])
GAP_SCHEMA = pa.schema([("unit", pa.int64()), ("expected_sequence", pa.int64()),
                        ("received_sequence", pa.int64()), ("missing", pa.int64())])


@dataclass
class Chunk:
    """One chunk of the file, framed and decoded."""

    batch: binary.BinaryBatch
    problems: tuple[framing.Problem, ...] = ()
    units: int = 0  # valid units framed (heartbeats too)
    #: After the last chunk: the gaps, and the frames skipped by reason.
    gaps: list[tuple[int, int, int, int]] | None = None
    skipped: dict[str, int] = field(default_factory=dict)


def binary_chunks(reader: BinaryIO, fh: BinaryIO, chunk_size: int,
                  digest: "hashlib._Hash | None", fmt: str) -> Iterator[tuple[Chunk, int]]:
    """(chunk, bytes of the file read so far) for each chunk, then the end of the stream."""
    framer = framing.Framer(fmt)
    decoder = binary.BinaryDecoder()
    ahead: collections.deque[tuple[Future, framing.Batch, int]] = collections.deque()

    def done(item: tuple[Future, framing.Batch, int]) -> tuple[Chunk, int]:
        future, framed, read = item
        return Chunk(decoder.finish_chunk(future.result()), tuple(framed.problems),
                     len(framed)), read

    # Framing walks records in Python; reading the fields of each chunk's units
    # runs on DECODE_THREADS threads (numpy releases the GIL), in order after.
    with ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix="pitch-binary") as pool:
        try:
            while block := reader.read(chunk_size):
                if digest:
                    digest.update(block)
                framed = framer.feed(block)
                ahead.append((pool.submit(binary.prepare, _units(framed)), framed, fh.tell()))
                if len(ahead) >= DECODE_THREADS:
                    yield done(ahead.popleft())
            framed = framer.close()
            ahead.append((pool.submit(binary.prepare, _units(framed)), framed, fh.tell()))
            while len(ahead) > 1:
                yield done(ahead.popleft())
            last, read = done(ahead.popleft())
        finally:
            for future, _, _ in ahead:
                future.cancel()
    last.gaps = decoder.finish()
    last.skipped = dict(framer.skipped)
    yield last, read


def _units(framed: framing.Batch) -> binary.Units:
    return binary.Units(framed.data, framed.start, framed.packet, framed.offset)


class BinaryStream:
    """The decoded capture as Arrow batches for DuckDB, with its tallies on the side.

    The same interface as the text stream of :mod:`pitch.ingest`.
    """

    table, schema, other_table = "messages_binary", binary.COMMON_SCHEMA, "messages_binary_other"

    def __init__(self, items: Generator[tuple[Chunk, int], None, None], buckets: int) -> None:
        self._items = items
        self.messages = self.rejects = self.units = self.duplicates = 0
        self.first_reject: BinaryReject | None = None
        self.first_t: int | None = None
        self.last_t: int | None = None
        self.error: BaseException | None = None
        self.reject_spool = Spool(REJECT_SCHEMA, SPOOL_REJECTS)
        self.other = Spool(binary.SCHEMA, SPOOL_OTHER)  # the rare types, inserted after
        self.gaps: list[tuple[int, int, int, int]] = []
        self.skipped: dict[str, int] = {}
        self.lifecycles = BinaryLifecycles(buckets)
        self.progress: queue.Queue[int | None] = queue.Queue()

    def batches(self) -> Iterator[pa.RecordBatch]:
        try:
            for chunk, done in self._items:
                self.units += chunk.units
                self.duplicates += chunk.batch.duplicates
                for table in (chunk.batch.table, chunk.batch.other):
                    if table.num_rows:
                        self.messages += table.num_rows
                        lo, hi = (v.as_py() for v in pc.min_max(table.column("time_ns")).values())
                        if lo is not None:
                            self.first_t = lo if self.first_t is None else min(self.first_t, lo)
                            self.last_t = hi if self.last_t is None else max(self.last_t, hi)
                self.other.add(chunk.batch.other)
                self.lifecycles.add(chunk.batch)
                if chunk.batch.table.num_rows:
                    yield from chunk.batch.table.to_batches()
                self._reject(chunk)
                if chunk.gaps is not None:
                    self.gaps, self.skipped = chunk.gaps, chunk.skipped
                self.progress.put(done)
            self.lifecycles.start()
        except (OSError, EOFError, zlib.error) as exc:
            self.error = exc

    def _reject(self, chunk: Chunk) -> None:
        """Decode rejects and damage to the capture, numbered in the order met."""
        found = list(chunk.batch.rejects) + [
            BinaryReject(0, p.packet, p.offset, p.raw, p.reason) for p in chunk.problems]
        if not found:
            return
        first = self.rejects + 1
        self.rejects += len(found)
        found = [BinaryReject(first + i, r.packet, r.byte_offset, r.raw, r.reason)
                 for i, r in enumerate(found)]
        self.first_reject = self.first_reject or found[0]
        self.reject_spool.add(pa.record_batch([
            pa.array([r.line_no for r in found], pa.int64()),
            pa.array([r.byte_offset for r in found], pa.int64()),
            pa.array([r.raw for r in found], pa.binary()),
            pa.array([r.reason for r in found], pa.string()),
            pa.array([r.packet or None for r in found], pa.int64()),
        ], schema=REJECT_SCHEMA))

    def close(self) -> None:
        self._items.close()

    def check(self, name: str) -> None:
        """Refuse a capture without one valid Sequenced Unit (nothing has been committed)."""
        if self.units == 0:
            why = ", ".join(f"{n:,} {reason}" for reason, n in sorted(
                self.skipped.items(), key=lambda kv: -kv[1])) or "no frames"
            detail = f" (first problem: {self.where(self.first_reject)})" if self.first_reject else ""
            raise IngestError(f"{name}: not PITCH: no valid Sequenced Unit in the file "
                              f"(skipped: {why}){detail}")

    def finish(self, cur: duckdb.DuckDBPyConnection, file_id: int) -> None:
        """Store the gaps, the skipped frames and the duplicates."""
        if self.gaps:
            gaps = pa.Table.from_pylist([dict(zip(GAP_SCHEMA.names, g)) for g in self.gaps],
                                        schema=GAP_SCHEMA)
            with registered(cur, "_pitch_gaps", gaps):
                cur.execute("INSERT INTO gaps BY NAME SELECT ? AS file_id, * FROM _pitch_gaps",
                            [file_id])
        cur.execute("UPDATE files SET skipped_packets = ?, duplicates = ? WHERE file_id = ?",
                    [sum(self.skipped.values()), self.duplicates, file_id])

    @staticmethod
    def where(reject: BinaryReject) -> str:
        place = f"packet {reject.packet}, " if reject.packet else ""
        return f"{place}offset {reject.byte_offset}: {reject.reason}"

    def close_spools(self) -> None:
        self.reject_spool.close()
        self.other.close()
        self.lifecycles.close()
