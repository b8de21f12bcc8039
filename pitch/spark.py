"""``python -m pitch.spark INPUT... --out DIR``: decode PITCH files on a Spark cluster into the archive.

Also runs as ``spark-submit pitch/spark.py INPUT... --out DIR``. The driver
only lists inputs and writes outputs: Spark's ``binaryFile`` source lists the
inputs (local paths, ``hdfs://``, ``s3a://``: any file system Spark reads)
and hands each file, whole, to one task; the task decodes it with the same
``bytes -> tables`` function as everywhere else (:mod:`pitch.spark_job`,
:mod:`pitch.file_tables`), deriving orders and executions there; Spark
writes each table with ``partitionBy("date", "file")`` and dynamic partition
overwrite, so a rerun replaces a file's folders. The layout is
:mod:`pitch.archive`'s. A file that fails is a ``files`` row whose status is
``failed: <reason>``; the other files land. Exit code 1 when any file failed.

Limits: Spark reads a file whole into one value, so one input file may be at
most 2 GB (compress larger ones: ``.gz`` is decoded on the executor). The
executors need Python with this project's requirements; the ``pitch``
package itself is shipped by the job (``addPyFile``).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

if __package__ in (None, ""):  # spark-submit pitch/spark.py: make `pitch` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pitch import spark_job  # noqa: E402  (absolute: also right under spark-submit)
from pitch.file_tables import ARCHIVE_TABLES, SORT_KEYS, ArchiveError, parse_date  # noqa: E402

#: SQL settings the job sets on its session (also on one it did not create).
SQL_CONF = {
    # A rerun replaces only the (date, file) folders it writes.
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.parquet.compression.codec": "zstd",
    # Parquet's own timestamp type, not the legacy INT96.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.session.timeZone": "UTC",
    # Every file its own task: a file's open cost at least a split's size
    # means no two files ever share one (binaryFile never splits a file).
    "spark.sql.files.maxPartitionBytes": str(128 << 20),
    "spark.sql.files.openCostInBytes": str(128 << 20),
}


@dataclass
class Landed:
    """One input file's outcome."""

    path: str
    date: str
    file: int
    status: str = ""
    rows: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        name = spark_job.file_name(self.path)
        if self.status.startswith(("failed", "duplicate")):
            return f"{name}: {self.status}"
        return (f"{name}: {self.rows.get('messages', 0):,} messages, "
                f"{self.rows.get('rejects', 0):,} rejects -> date={self.date}/file={self.file}")


def run(spark: Any, inputs: Sequence[str], out: str, *, date: str | None = None) -> list[Landed]:
    """Decode every file under ``inputs`` into the archive at ``out`` on ``spark``."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    for key, value in SQL_CONF.items():
        spark.conf.set(key, value)
    _ship_package(spark)
    out = out.rstrip("/")
    files = spark.read.format("binaryFile").load(list(inputs)).select("path", "content")
    decoded = files.mapInArrow(
        functools.partial(spark_job.decode_files, date=date), spark_job.DECODED_DDL
    ).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        rows = decoded.select("path", "tbl", "date", "file", "rows", F.when(
            F.col("tbl") == "files", F.col("payload")).alias("payload")).collect()
        landed = _outcomes(rows)
        winners = _one_per_key(landed)
        if len(winners) < len(landed):  # the same content twice (a file and its .gz)
            decoded = decoded.where(F.col("path").isin([x.path for x in winners]))
        for table in ARCHIVE_TABLES:
            if any(x.rows.get(table) for x in winners):
                _write(decoded, table, f"{out}/{table}")
        _drop_stale(spark, out, winners)
    finally:
        decoded.unpersist()
    return sorted(landed, key=lambda x: x.path)


def _outcomes(rows: list[Any]) -> list[Landed]:
    import pyarrow as pa

    by_path: dict[str, Landed] = {}
    for row in rows:
        item = by_path.setdefault(row.path, Landed(row.path, row.date, row.file))
        item.rows[row.tbl] = item.rows.get(row.tbl, 0) + row.rows
        if row.payload is not None:
            with pa.ipc.open_stream(row.payload) as reader:
                item.status = reader.read_all().column("status")[0].as_py()
    return list(by_path.values())


def _one_per_key(landed: list[Landed]) -> list[Landed]:
    """One input per content key: the first path, as the database keeps the first file."""
    first: dict[int, Landed] = {}
    for item in sorted(landed, key=lambda x: x.path):
        kept = first.setdefault(item.file, item)
        if kept is not item:
            item.status = (f"duplicate of {spark_job.file_name(kept.path)}, nothing added")
            item.rows = {}
    return list(first.values())


def _write(decoded: Any, table: str, target: str) -> None:
    from pyspark.sql import functions as F

    rows = decoded.where(F.col("tbl") == table).select("date", "file", "payload").mapInArrow(
        functools.partial(spark_job.unpack, table=table), _spark_schema(table))
    # Sort by the true keys within each task (one file): the order no longer
    # depends on how Spark's own sort before a partitioned write treats ties.
    rows = rows.sortWithinPartitions("date", "file", *SORT_KEYS[table])
    rows.write.mode("overwrite").partitionBy("date", "file").parquet(target)


@functools.cache
def _spark_schema(table: str) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(spark_job.output_schema(table))


def _drop_stale(spark: Any, out: str, winners: list[Landed]) -> None:
    """Delete this run's files' folders that it did not write (another date; no rows now)."""
    jvm, conf = spark.sparkContext._jvm, spark.sparkContext._jsc.hadoopConfiguration()
    keep = {(t, x.date, x.file) for x in winners for t in ARCHIVE_TABLES if x.rows.get(t)}
    keys = {x.file for x in winners}
    for table in ARCHIVE_TABLES:
        pattern = jvm.org.apache.hadoop.fs.Path(f"{out}/{table}/date=*/file=*")
        fs = pattern.getFileSystem(conf)
        for status in fs.globStatus(pattern) or []:
            folder = status.getPath()
            key = int(folder.getName().partition("=")[2])
            day = folder.getParent().getName().partition("=")[2]
            if key in keys and (table, day, key) not in keep:
                fs.delete(folder, True)


def _ship_package(spark: Any) -> None:
    """Send this ``pitch`` package to the executors (they need its requirements installed)."""
    package = Path(__file__).resolve().parent
    target = Path(tempfile.mkdtemp(prefix="pitch-spark-")) / "pitch.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(package.glob("*.py")):
            zf.write(path, f"pitch/{path.name}")
    spark.sparkContext.addPyFile(str(target))


# -- the command ----------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pitch.spark",
        description="Decode PITCH files (text or binary, .gz too) on Spark into a "
                    "Hive-partitioned Parquet archive.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="file or folder, local or any file system Spark reads "
                             "(hdfs://, s3a://...)")
    parser.add_argument("--out", required=True, metavar="DIR", help="the archive folder")
    parser.add_argument("--master", metavar="URL", default=None,
                        help="Spark master (default: spark-submit's, else local[*])")
    parser.add_argument("--date", default=None, metavar="YYYY-MM-DD",
                        help="session date of every file (default: a date in the file's "
                             "name, else unknown)")
    return parser


def session(master: str | None) -> Any:
    """The Spark session (an existing one in this process is reused)."""
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    # PySpark 4.3 warns about pandas 3 on import; the job does not use pandas.
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas",
                            FutureWarning)
    master = master or SparkConf().get("spark.master", "local[*]")
    if master.startswith("local"):  # the workers are this machine's: use this Python
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (SparkSession.builder.appName("pitch-archive").master(master)
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")  # the job prints one line per file instead
    return spark


def main(argv: list[str] | None = None) -> int:
    """Run the job; 0 when every file landed, 1 when one failed, 2 on a usage error."""
    args = build_parser().parse_args(argv)
    try:
        date = parse_date(args.date) if args.date else None
    except ArchiveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from pyspark.sql import SparkSession

    started = time.perf_counter()
    owned = SparkSession.getActiveSession() is None
    spark = session(args.master)
    try:
        landed = run(spark, args.inputs, args.out, date=date)
    except Exception as exc:  # noqa: BLE001  Spark's errors (no such input...): one line
        print(f"error: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 1
    finally:
        if owned:
            spark.stop()
    failed = [x for x in landed if x.status.startswith("failed")]
    for item in landed:
        print(item.summary(), file=sys.stderr if item in failed else sys.stdout)
    twice = sum(x.status.startswith("duplicate") for x in landed)
    print(f"{args.out}: {len(landed) - len(failed) - twice} files landed, {twice} duplicates, "
          f"{len(failed)} failed, in {time.perf_counter() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
