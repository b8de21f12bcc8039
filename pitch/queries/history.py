"""The ingest history: the files loaded and each file's rejects."""

from __future__ import annotations

import duckdb
import pandas as pd

from .base import PAGE_SIZE, stream_csv


def files(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The ingest history, newest first."""
    return conn.execute("""
        SELECT file_id, name, size, messages, rejects, status, source, seconds, finished_at,
               first_time_ns, last_time_ns
        FROM files ORDER BY file_id DESC
    """).df()


def reject_count(conn: duckdb.DuckDBPyConnection, file_id: int) -> int:
    """How many rejects a file has."""
    return int(conn.execute("SELECT count(*) FROM rejects WHERE file_id = ?",
                            [file_id]).fetchone()[0])


_REJECT_SQL = """
    SELECT line_no, byte_offset, reason, raw FROM rejects
    WHERE file_id = ? ORDER BY line_no
"""


def rejects_page(conn: duckdb.DuckDBPyConnection, file_id: int, *, page: int = 1,
                 page_size: int = PAGE_SIZE) -> pd.DataFrame:
    """One page of a file's rejects: line, byte offset, reason, raw text."""
    return conn.execute(f"{_REJECT_SQL} LIMIT ? OFFSET ?",
                        [file_id, page_size, (max(page, 1) - 1) * page_size]).df()


def rejects_csv(conn: duckdb.DuckDBPyConnection, file_id: int) -> bytes:
    """CSV of every reject of a file."""
    return stream_csv(conn, _REJECT_SQL, [file_id])
