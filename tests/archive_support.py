"""Shared by the archive and Spark tests: the inputs, and tables compared row for row."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa

from pitch import archive, store
from pitch.cli import main
from pitch.file_tables import ARCHIVE_TABLES, file_key

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample.pitch"
#: One good line and one that is not a message: a file with a reject.
WITH_REJECT = b"S28800011AAK27GA0000DTS000100SH    0000619200Y\nSthis is not a message\n"
#: Not PITCH at all: no file row in the database, a failed row in the Spark archive.
BROKEN = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
#: The files row's columns that say when and how a file was decoded, not what it holds.
RUN_COLUMNS = ("source", "started_at", "finished_at", "seconds")


def make_inputs(folder: Path, messages: int = 3000) -> list[Path]:
    """The seed sample (named with a date), a generated text and a binary session, a file
    with a reject: the files every archive test lands."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLE, folder / "sample_20240102.pitch")
    for argv in (["generate", str(folder / "text-2024-01-03.pitch.gz"), "--messages",
                  str(messages), "--seed", "3"],
                 ["generate", str(folder / "binary.pcap"), "--messages", str(messages),
                  "--seed", "4", "--format", "pcap", "--gaps", "--retransmissions"]):
        assert main(argv) == 0
    (folder / "rejects.pitch").write_bytes(WITH_REJECT)
    return sorted(folder.iterdir())


def ingest_all(db: Path, paths: list[Path]) -> None:
    """The database the archive must equal (through the CLI, as a person would)."""
    assert main(["--db", str(db), "ingest", *map(str, paths)]) == 0


def gz_copy(source: Path, target: Path) -> Path:
    target.write_bytes(gzip.compress(source.read_bytes()))
    return target


def _sorted(table: pa.Table) -> pa.Table:
    keys = [(c, "ascending") for c in table.column_names
            if not pa.types.is_binary(table.schema.field(c).type)]
    return table.sort_by(keys)


def database_tables(db: Path) -> dict[str, pa.Table]:
    """Every archive table as the database holds it, ``file_id`` turned into the file's key."""
    conn = store.connect(db, read_only=True)
    try:
        keys = {i: file_key(s) for i, s in conn.sql("SELECT file_id, sha256 FROM files").fetchall()}
        out = {}
        for table in ARCHIVE_TABLES:
            t = conn.sql(f"SELECT * FROM {table}").to_arrow_table()
            ids = pa.array([keys[i] for i in t.column("file_id").to_pylist()], pa.int64())
            out[table] = _sorted(t.set_column(0, "file_id", ids))
        return out
    finally:
        conn.close()


def archive_tables(root: Path) -> dict[str, pa.Table]:
    """Every table of the archive at ``root``, through its DuckDB views."""
    conn = archive.connect(root)
    try:
        return {t: _sorted(conn.cursor().sql(f"SELECT * FROM {t}").to_arrow_table())
                for t in ARCHIVE_TABLES}
    finally:
        conn.close()


def without(table: pa.Table, columns: tuple[str, ...]) -> pa.Table:
    return _sorted(table.drop_columns([c for c in columns if c in table.column_names]))


def assert_same(left: dict[str, pa.Table], right: dict[str, pa.Table],
                ignore: dict[str, tuple[str, ...]] | None = None) -> None:
    """Table by table: the same columns, types and rows (``ignore``: columns left out)."""
    for table in ARCHIVE_TABLES:
        a, b = left[table], right[table]
        if ignore and table in ignore:
            a, b = without(a, ignore[table]), without(b, ignore[table])
        assert a.schema.names == b.schema.names, table
        assert a.schema.types == b.schema.types, table
        assert a.num_rows == b.num_rows, table
        assert a.equals(b), f"{table}: rows differ"


def data_files(root: Path) -> list[str]:
    """Every Parquet file under the archive, relative, sorted."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))


def describe(conn: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in conn.cursor().sql(f"DESCRIBE {table}").fetchall()]
