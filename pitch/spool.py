"""Arrow batches kept in order, in memory up to a limit, then in a temporary file."""

from __future__ import annotations

import tempfile
from typing import BinaryIO

import pyarrow as pa
import pyarrow.ipc  # noqa: F401  (pa.ipc)


class Spool:
    """Arrow batches kept in order without holding millions of rows in memory.

    Up to ``limit`` rows stay in memory; beyond that they go to a temporary
    Arrow IPC file, read back as a stream.
    """

    def __init__(self, schema: pa.Schema, limit: int) -> None:
        self._schema = schema
        self._limit = limit
        self._pending: list[pa.RecordBatch] = []
        self._rows = 0
        self._file: BinaryIO | None = None
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None

    def __bool__(self) -> bool:
        return bool(self._pending) or self._file is not None

    def add(self, table: pa.Table | pa.RecordBatch) -> None:
        if not table.num_rows:
            return
        self._pending += table.to_batches() if isinstance(table, pa.Table) else [table]
        self._rows += table.num_rows
        if self._rows >= self._limit:
            self._flush()

    def spill(self) -> None:
        """Send the rows held in memory to the temporary file (a spool already spilling).

        A held batch may be a slice of a bigger table (a chunk split by bucket): it
        keeps all of that table in memory, so spilling frees more than its rows.
        """
        if self._file is not None and self._pending:
            self._flush()

    def _flush(self) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile()
            self._writer = pa.ipc.new_stream(self._file, self._schema)
        for batch in self._pending:
            self._writer.write_batch(batch)
        self._pending, self._rows = [], 0

    def reader(self) -> pa.RecordBatchReader:
        if self._file is None:
            return pa.RecordBatchReader.from_batches(self._schema, self._pending)
        if self._pending:
            self._flush()
        self._writer.close()
        self._file.seek(0)
        return pa.ipc.open_stream(self._file)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
