"""Writing the archive: one file's tables to a staging folder, then into place.

Both writers use this: ``pitch export`` (from a database) and the Spark job's
executors (from :func:`pitch.file_tables.decoded`), so their Parquet files are
the same: pyarrow's writer, zstd, row groups of :data:`ROW_GROUP_ROWS` rows,
the archive schema of :mod:`pitch.file_tables`. It writes through pyarrow's
file systems: a local path, ``file://``, ``hdfs://``, ``s3://`` (Hadoop's
``s3a://`` is read as ``s3://``), ``gs://``.

A file is written under ``<archive>/.staging/<run>/...`` first;
:func:`commit` then makes the archive hold exactly that for the file's key:
every folder of the key goes (another date, a table with no rows now), the
staged files move in. A rerun therefore replaces, never doubles. A reader in
between may miss that one file for a moment; it never sees it twice.
"""

from __future__ import annotations

import posixpath
from typing import Iterable, Mapping

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from .file_tables import ARCHIVE_TABLES, archive_schema

#: Rows per Parquet row group (at most): about 10-20 MB of messages compressed,
#: large enough for scans, small enough that time-sorted groups prune by time.
ROW_GROUP_ROWS = 1 << 20
#: Where writers stage files before they move into place (readers never look there).
STAGING = ".staging"
#: The one data file of a (table, date, file) folder.
PART = "part-0.parquet"


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow file system of ``uri`` and the path inside it (local paths made absolute)."""
    if uri.startswith("s3a://"):  # Hadoop's S3 connector; pyarrow's own speaks s3://
        uri = "s3://" + uri[len("s3a://"):]
    if "://" not in uri:
        fs, path = pafs.LocalFileSystem(), posixpath.abspath(uri)
    else:
        fs, path = pafs.FileSystem.from_uri(uri)
    return fs, path.rstrip("/")


def partition(table: str, date: str, file: int) -> str:
    """A file's folder of ``table``, relative to the archive root."""
    return f"{table}/date={date}/file={file}"


def write_file(fs: pafs.FileSystem, staging: str, date: str, file: int,
               tables: Mapping[str, Iterable[pa.RecordBatch]]) -> dict[str, int]:
    """Write one file's tables under ``staging``; returns the rows written per table.

    ``tables``: table -> its rows, sorted, in the archive schema, in batches
    of any size (they are regrouped into row groups of :data:`ROW_GROUP_ROWS`).
    A table without rows gets no folder.
    """
    written = {}
    for table, batches in tables.items():
        rows = _write_table(fs, f"{staging}/{partition(table, date, file)}", table, batches)
        if rows:
            written[table] = rows
    return written


def _write_table(fs: pafs.FileSystem, folder: str, table: str,
                 batches: Iterable[pa.RecordBatch]) -> int:
    """One Parquet file of whole row groups (the last one smaller); returns its rows."""
    writer, rows, held, buffered = None, 0, [], 0
    try:
        for batch in batches:
            if not batch.num_rows:
                continue
            held.append(batch)
            buffered += batch.num_rows
            if buffered < ROW_GROUP_ROWS:
                continue
            if writer is None:
                writer = _open(fs, folder, table)
            whole = pa.Table.from_batches(held)
            cut = buffered - buffered % ROW_GROUP_ROWS
            writer.write_table(whole.slice(0, cut), row_group_size=ROW_GROUP_ROWS)
            held, buffered, rows = whole.slice(cut).to_batches(), buffered - cut, rows + cut
        if buffered:
            writer = writer or _open(fs, folder, table)
            writer.write_table(pa.Table.from_batches(held), row_group_size=ROW_GROUP_ROWS)
            rows += buffered
    finally:
        if writer is not None:
            writer.close()
    return rows


def _open(fs: pafs.FileSystem, folder: str, table: str) -> pq.ParquetWriter:
    fs.create_dir(folder, recursive=True)
    schema = archive_schema(table)
    # Dictionaries for the text columns only: tried on ids, times and prices they
    # overflow and fall back, which cost about a sixth of the messages' write time.
    texts = [f.name for f in schema if pa.types.is_string(f.type)]
    return pq.ParquetWriter(f"{folder}/{PART}", schema, filesystem=fs, compression="zstd",
                            use_dictionary=texts)


def _folders_of(fs: pafs.FileSystem, root: str, table: str, file: int) -> list[str]:
    """Every ``<root>/<table>/date=*/file=<file>`` folder there is."""
    dates = fs.get_file_info(pafs.FileSelector(f"{root}/{table}", allow_not_found=True))
    candidates = [f"{d.path}/file={file}" for d in dates
                  if d.type == pafs.FileType.Directory and d.base_name.startswith("date=")]
    return [i.path for i in fs.get_file_info(candidates) if i.type == pafs.FileType.Directory]


def commit(fs: pafs.FileSystem, root: str, staging: str, date: str, file: int,
           tables: Iterable[str]) -> None:
    """Make the archive at ``root`` hold what ``staging`` has for ``file`` (``tables``)."""
    for table in ARCHIVE_TABLES:
        for old in _folders_of(fs, root, table, file):
            fs.delete_dir(old)
    for table in tables:
        target = f"{root}/{partition(table, date, file)}"
        fs.create_dir(target, recursive=True)
        # File by file: object stores move files, not folders.
        fs.move(f"{staging}/{partition(table, date, file)}/{PART}", f"{target}/{PART}")


def remove_staging(fs: pafs.FileSystem, root: str, staging: str) -> None:
    """Delete a run's staging folder, and the staging root when no other run uses it."""
    for folder in (staging, f"{root}/{STAGING}"):
        info = fs.get_file_info(folder)
        if info.type == pafs.FileType.NotFound:
            continue
        if folder != staging and fs.get_file_info(pafs.FileSelector(folder)):
            return  # another run is staging there
        fs.delete_dir(folder)
