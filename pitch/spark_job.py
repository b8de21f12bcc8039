"""What the Spark job runs on its executors: Arrow batches in, Arrow batches out.

No pyspark import here: these functions are handed to ``mapInArrow`` and run
in Spark's Python workers, where they only need :mod:`pitch`, pyarrow and
DuckDB.

1. :func:`decode_files` takes batches of ``(path, content)`` rows (Spark's
   ``binaryFile`` source, one file per task) and decodes each file with
   :func:`pitch.file_tables.decoded`: the ingest pipeline, orders and
   executions derived right there. Each table's rows leave as Arrow IPC
   payloads (lz4), one row per record batch: ``(path, tbl, date, file, rows,
   payload)``, :data:`DECODED_DDL`. Spark caches these, so every file is
   decoded once however many tables are then written.
2. :func:`unpack` turns one table's payloads back into rows of that table's
   archive schema plus the partition columns ``date`` and ``file``, which
   Spark writes with ``partitionBy("date", "file")``.
"""

from __future__ import annotations

import functools
from typing import Iterator
from urllib.parse import unquote

import pyarrow as pa

from .file_tables import ARCHIVE_TABLES, archive_schema, decoded

#: Columns of the decoded (cached) frame, as Spark DDL and as Arrow.
DECODED_DDL = "path STRING, tbl STRING, date STRING, file BIGINT, rows BIGINT, payload BINARY"
DECODED_SCHEMA = pa.schema([("path", pa.string()), ("tbl", pa.string()), ("date", pa.string()),
                            ("file", pa.int64()), ("rows", pa.int64()),
                            ("payload", pa.binary())])
#: Rows per payload: about 25 MB of messages before lz4, well under Spark's 2 GB per value.
PAYLOAD_ROWS = 1 << 18
_IPC = pa.ipc.IpcWriteOptions(compression="lz4")


def file_name(path: str) -> str:
    """The file name of a Spark path (``file:/a/b%20c.pitch`` -> ``b c.pitch``)."""
    return unquote(path.rstrip("/").rsplit("/", 1)[-1])


def _task_cpus() -> int:
    # DuckDB threads per file: the cores Spark gave this task (spark.task.cpus).
    try:
        from pyspark import TaskContext

        context = TaskContext.get()
        return max(1, int(context.cpus())) if context else 1
    except (ImportError, AttributeError, TypeError, ValueError):
        return 1


def decode_files(batches: Iterator[pa.RecordBatch], *, date: str | None,
                 source: str = "spark") -> Iterator[pa.RecordBatch]:
    """mapInArrow: ``(path, content)`` rows -> one decoded row per table chunk of each file."""
    threads = _task_cpus()
    for batch in batches:
        paths, contents = batch.column("path"), batch.column("content")
        for i in range(batch.num_rows):
            path = paths[i].as_py()
            yield from _decode_one(path, contents[i].as_py() or b"", date, source, threads)


def _decode_one(path: str, content: bytes, date: str | None, source: str,
                threads: int) -> Iterator[pa.RecordBatch]:
    with decoded(content, file_name(path), date=date, source=source, threads=threads) as d:
        for table in ARCHIVE_TABLES:
            for batch in d.batches(table, PAYLOAD_ROWS):
                sink = pa.BufferOutputStream()
                with pa.ipc.new_stream(sink, batch.schema, options=_IPC) as writer:
                    writer.write_batch(batch)
                yield pa.RecordBatch.from_pylist(
                    [{"path": path, "tbl": table, "date": d.date, "file": d.file,
                      "rows": batch.num_rows, "payload": sink.getvalue().to_pybytes()}],
                    schema=DECODED_SCHEMA)


@functools.cache
def output_schema(table: str) -> pa.Schema:
    """One table's rows as Spark writes them: the archive schema, then ``date`` and ``file``."""
    return archive_schema(table).append(pa.field("date", pa.string())).append(
        pa.field("file", pa.int64()))


def unpack(batches: Iterator[pa.RecordBatch], *, table: str) -> Iterator[pa.RecordBatch]:
    """mapInArrow: ``(date, file, payload)`` rows of one table -> that table's rows."""
    schema = output_schema(table)
    for batch in batches:
        dates, files, payloads = (batch.column(c) for c in ("date", "file", "payload"))
        for i in range(batch.num_rows):
            with pa.ipc.open_stream(payloads[i].as_buffer()) as reader:
                for rows in reader:
                    n = rows.num_rows
                    yield pa.RecordBatch.from_arrays(
                        [*rows.columns, pa.repeat(dates[i], n), pa.repeat(files[i], n)],
                        schema=schema)
