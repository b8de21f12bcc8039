"""What the Spark job runs on its executors: one file's bytes in, its archive files staged.

No pyspark import at module level: :func:`decode_and_write` is handed to
``mapInArrow`` and runs in Spark's Python workers, where it needs only
:mod:`pitch`, pyarrow and DuckDB. It takes batches of ``(path, content)``
rows (Spark's ``binaryFile`` source, one file per task), decodes each file
with :func:`pitch.file_tables.decoded` (the ingest pipeline: orders and
executions are derived right there), writes its tables with
:func:`pitch.archive_write.write_file` into this run's staging folder, and
returns one small row per file (:data:`RESULT_DDL`: what landed where, and
the CPU seconds it took). The driver then moves
the staged files into place (:func:`pitch.archive_write.commit`).

Why the executors write the Parquet themselves rather than hand rows back to
Spark's writer: the rows would cross from Python to the JVM, be converted
row by row, sorted and encoded again there; on ``local[2]`` that made the
job about nine times slower per core than plain ingest (measured, see
benchmarks/README.md). Both writers of the archive now share one writer, so
the job's files are the export's.
"""

from __future__ import annotations

import json
import time
from typing import Iterator
from urllib.parse import unquote

import pyarrow as pa

from .archive_write import STAGING, filesystem, write_file
from .file_tables import ARCHIVE_TABLES, decoded

#: One row per input file, as Spark DDL and as Arrow.
RESULT_DDL = ("path STRING, date STRING, file BIGINT, staging STRING, status STRING, "
              "rows STRING, cpu DOUBLE")
RESULT_SCHEMA = pa.schema([("path", pa.string()), ("date", pa.string()), ("file", pa.int64()),
                           ("staging", pa.string()), ("status", pa.string()),
                           ("rows", pa.string()), ("cpu", pa.float64())])


def file_name(path: str) -> str:
    """The file name of a Spark path (``file:/a/b%20c.pitch`` -> ``b c.pitch``)."""
    return unquote(path.rstrip("/").rsplit("/", 1)[-1])


def _task() -> tuple[int, int]:
    """(cores this task may use, its attempt id): DuckDB threads, a unique staging folder."""
    try:
        from pyspark import TaskContext

        context = TaskContext.get()
        if context is not None:
            return max(1, int(context.cpus())), int(context.taskAttemptId())
    except (ImportError, AttributeError, TypeError, ValueError):
        pass
    return 1, 0


def run_staging(root: str, run: str) -> str:
    """A run's staging folder under the archive root."""
    return f"{root}/{STAGING}/{run}"


def decode_and_write(batches: Iterator[pa.RecordBatch], *, out: str, run: str,
                     date: str | None, source: str = "spark") -> Iterator[pa.RecordBatch]:
    """mapInArrow: ``(path, content)`` rows -> one :data:`RESULT_DDL` row per file."""
    fs, root = filesystem(out)
    threads, attempt = _task()
    n = 0
    for batch in batches:
        paths, contents = batch.column("path"), batch.column("content")
        for i in range(batch.num_rows):
            path = paths[i].as_py()
            # One folder per input: two inputs may hold the same content (same key).
            staging = f"{run_staging(root, run)}/{attempt}-{n}"
            n += 1
            started = time.process_time()  # this worker runs one task: its CPU is the file's
            with decoded(contents[i].as_py() or b"", file_name(path), date=date,
                         source=source, threads=threads) as d:
                rows = write_file(fs, staging, d.date, d.file,
                                  {t: d.batches(t) for t in ARCHIVE_TABLES})
                status = pa.Table.from_batches(list(d.batches("files")))["status"][0].as_py()
            yield pa.RecordBatch.from_pylist(
                [{"path": path, "date": d.date, "file": d.file, "staging": staging,
                  "status": status, "rows": json.dumps(rows),
                  "cpu": time.process_time() - started}], schema=RESULT_SCHEMA)
