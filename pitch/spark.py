"""``python -m pitch.spark INPUT... --out DIR``: decode PITCH files on a Spark cluster into the archive.

Also runs as ``spark-submit pitch/spark.py INPUT... --out DIR``. The driver
lists the inputs and commits the outputs; the executors do the work. Spark's
``binaryFile`` source lists the inputs (local paths, ``hdfs://``, ``s3a://``:
any file system Spark reads) and hands each file, whole, to one task; the
task decodes it with the same ``bytes -> tables`` function as everywhere else
(:mod:`pitch.file_tables`), deriving orders and executions there, and writes
its archive files into this run's staging folder (:mod:`pitch.spark_job`).
The driver then moves each file's folders into place, replacing what the
archive held for that file's key (:func:`pitch.archive_write.commit`): a
rerun replaces, never doubles. The layout is :mod:`pitch.archive`'s, and the
files are the ones ``pitch export`` writes. A file that fails is a ``files``
row whose status is ``failed: <reason>``; the other files land. The same
content twice (a file and its .gz) lands once. Exit code 1 when a file failed.

Limits: Spark reads an input file whole into one value, so one file may be at
most 2 GB (gzip larger ones: a .gz is decoded on the executor). The archive
is written through pyarrow's file systems (:func:`pitch.archive_write.filesystem`:
local or shared paths, HDFS, S3, GCS), which the driver and every executor
must reach at the same address. The executors need Python with this
project's requirements; the ``pitch`` package itself is shipped by the job.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import time
import uuid
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

if __package__ in (None, ""):  # spark-submit pitch/spark.py: make `pitch` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pitch import archive_write, spark_job  # noqa: E402  (absolute: also under spark-submit)
from pitch.file_tables import ArchiveError, parse_date  # noqa: E402

#: SQL settings the job sets on its session (also on one it did not create).
SQL_CONF = {
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
    staging: str
    status: str
    rows: dict[str, int] = field(default_factory=dict)
    cpu: float = 0.0  # CPU seconds on its executor: decode, derive, write

    def summary(self) -> str:
        name = spark_job.file_name(self.path)
        if self.status.startswith(("failed", "duplicate")):
            return f"{name}: {self.status}"
        return (f"{name}: {self.rows.get('messages', 0):,} messages, "
                f"{self.rows.get('rejects', 0):,} rejects -> date={self.date}/file={self.file}")


def run(spark: Any, inputs: Sequence[str], out: str, *, date: str | None = None) -> list[Landed]:
    """Decode every file under ``inputs`` into the archive at ``out`` on ``spark``."""
    for key, value in SQL_CONF.items():
        spark.conf.set(key, value)
    _ship_package(spark)
    fs, root = archive_write.filesystem(out)
    if "://" not in out:
        out = root  # absolute: the executors' working folder may differ
    # Listing first: no input, no archive folder.
    files = spark.read.format("binaryFile").load(list(inputs)).select("path", "content")
    fs.create_dir(root, recursive=True)
    run_id = uuid.uuid4().hex
    try:
        rows = files.mapInArrow(
            functools.partial(spark_job.decode_and_write, out=out, run=run_id, date=date),
            spark_job.RESULT_DDL).collect()
        landed = [Landed(r.path, r.date, r.file, r.staging, r.status, json.loads(r.rows), r.cpu)
                  for r in rows]
        for item in _one_per_key(landed):
            archive_write.commit(fs, root, item.staging, item.date, item.file, item.rows)
    finally:
        archive_write.remove_staging(fs, root, spark_job.run_staging(root, run_id))
    return sorted(landed, key=lambda x: x.path)


def _one_per_key(landed: list[Landed]) -> list[Landed]:
    """One input per content key: the first path, as the database keeps the first file."""
    first: dict[int, Landed] = {}
    for item in sorted(landed, key=lambda x: x.path):
        kept = first.setdefault(item.file, item)
        if kept is not item:
            item.status = f"duplicate of {spark_job.file_name(kept.path)}, nothing added"
            item.rows = {}
    return list(first.values())


def package_zip(folder: Path) -> Path:
    """This ``pitch`` package as ``folder/pitch.zip``, for ``addPyFile``."""
    target = folder / "pitch.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
            zf.write(path, f"pitch/{path.name}")
    return target


def _ship_package(spark: Any) -> None:
    """Send this ``pitch`` package to the executors (they need its requirements installed)."""
    context = spark.sparkContext
    if getattr(context, "_pitch_shipped", False):  # once per context: the name must not change
        return
    context.addPyFile(str(package_zip(Path(tempfile.mkdtemp(prefix="pitch-spark-")))))
    context._pitch_shipped = True


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


def one_line(exc: BaseException) -> str:
    """A Spark error in one line: for a Python worker's, its traceback's last line."""
    lines = []
    for line in str(exc).splitlines():
        if line.startswith("\tat ") or line.strip().startswith("SQLSTATE"):
            break  # the JVM's stack from here on
        if line.strip():
            lines.append(line.strip())
    return lines[-1] if lines else type(exc).__name__


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
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 1
    finally:
        if owned:
            spark.stop()
    failed = [x for x in landed if x.status.startswith("failed")]
    for item in landed:
        print(item.summary(), file=sys.stderr if item in failed else sys.stdout)
    twice = sum(x.status.startswith("duplicate") for x in landed)
    messages, cpu = sum(x.rows.get("messages", 0) for x in landed), sum(x.cpu for x in landed)
    print(f"{args.out}: {len(landed) - len(failed) - twice} files landed, {twice} duplicates, "
          f"{len(failed)} failed, in {time.perf_counter() - started:.1f} s; {messages:,} "
          f"messages in {cpu:.1f} executor CPU-seconds")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
