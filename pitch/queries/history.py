"""The ingest history: the files loaded, each file's rejects, and binary files' gaps."""

from __future__ import annotations

import duckdb
import pandas as pd

from .base import PAGE_SIZE, stream_csv

#: Per file: its gaps (count and messages missing), read with ``files`` (a LEFT JOIN).
_GAPS_PER_FILE = """
    LEFT JOIN (SELECT file_id, count(*) AS gaps, sum(missing) AS missing_messages
               FROM gaps GROUP BY file_id) g USING (file_id)
"""
#: What binary PITCH adds to a file's row, appended after the older columns so that
#: scripts reading them by position keep working.
_SEQUENCING = """
    coalesce(f.format, 'text') AS format, coalesce(g.gaps, 0)::BIGINT AS gaps,
    coalesce(g.missing_messages, 0)::BIGINT AS missing_messages,
    coalesce(f.duplicates, 0) AS duplicates, coalesce(f.skipped_packets, 0) AS skipped_packets
"""


def files(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The ingest history, newest first, with each file's format, gaps and duplicates."""
    return conn.execute(f"""
        SELECT file_id, name, size, messages, rejects, status, source, seconds, finished_at,
               first_time_ns, last_time_ns, {_SEQUENCING}
        FROM files f {_GAPS_PER_FILE} ORDER BY file_id DESC
    """).df()


#: The files as ``python -m pitch files`` lists them: oldest first, the new columns last.
#: One read-only SELECT, so the command beside a running app can send it to /query.
FILE_LIST_SQL = f"""
    SELECT file_id, name, size, messages, rejects, status, source,
           finished_at, round(seconds, 3) AS seconds, {_SEQUENCING}
    FROM files f {_GAPS_PER_FILE} ORDER BY file_id
"""


def file_list(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The rows of :data:`FILE_LIST_SQL`."""
    return conn.execute(FILE_LIST_SQL).df()


def is_binary_file(conn: duckdb.DuckDBPyConnection, file_id: int) -> bool:
    """True when the file was binary PITCH (pcap, pcapng or raw units)."""
    row = conn.execute("SELECT coalesce(format, 'text') <> 'text' FROM files WHERE file_id = ?",
                       [file_id]).fetchone()
    return bool(row and row[0])


def reject_count(conn: duckdb.DuckDBPyConnection, file_id: int) -> int:
    """How many rejects a file has."""
    return int(conn.execute("SELECT count(*) FROM rejects WHERE file_id = ?",
                            [file_id]).fetchone()[0])


def _reject_sql(binary: bool) -> str:
    # A binary file's reject also names its packet (the frame number, to find it in
    # Wireshark); its line_no is the reject's ordinal. Text rejects keep their columns.
    columns = "line_no, packet, byte_offset, reason, raw" if binary else \
        "line_no, byte_offset, reason, raw"
    return f"SELECT {columns} FROM rejects WHERE file_id = ? ORDER BY line_no"


def rejects_page(conn: duckdb.DuckDBPyConnection, file_id: int, *, page: int = 1,
                 page_size: int = PAGE_SIZE) -> pd.DataFrame:
    """One page of a file's rejects: line, (packet,) byte offset, reason, raw text."""
    sql = _reject_sql(is_binary_file(conn, file_id))
    return conn.execute(f"{sql} LIMIT ? OFFSET ?",
                        [file_id, page_size, (max(page, 1) - 1) * page_size]).df()


def rejects_csv(conn: duckdb.DuckDBPyConnection, file_id: int) -> bytes:
    """CSV of every reject of a file."""
    return stream_csv(conn, _reject_sql(is_binary_file(conn, file_id)), [file_id])


_GAP_SQL = """
    SELECT file_id, unit, expected_sequence, received_sequence, missing FROM gaps
    WHERE $f IS NULL OR file_id = $f ORDER BY file_id, unit, expected_sequence
"""


def gaps(conn: duckdb.DuckDBPyConnection, file_id: int | None = None) -> pd.DataFrame:
    """Every gap (of one file, or of all): [file_id, unit, expected_sequence,
    received_sequence, missing], in file, unit and sequence order."""
    return conn.execute(_GAP_SQL, {"f": file_id}).df()


def gap_count(conn: duckdb.DuckDBPyConnection, file_id: int) -> int:
    """How many gaps a file has."""
    return int(conn.execute("SELECT count(*) FROM gaps WHERE file_id = ?",
                            [file_id]).fetchone()[0])


def gaps_page(conn: duckdb.DuckDBPyConnection, file_id: int, *, page: int = 1,
              page_size: int = PAGE_SIZE) -> pd.DataFrame:
    """One page of a file's gaps (columns as :func:`gaps`)."""
    return conn.execute(f"{_GAP_SQL} LIMIT $n OFFSET $o", {
        "f": file_id, "n": page_size, "o": (max(page, 1) - 1) * page_size}).df()


def gaps_csv(conn: duckdb.DuckDBPyConnection, file_id: int | None = None) -> bytes:
    """CSV of every gap of a file (or of all files)."""
    return stream_csv(conn, _GAP_SQL, {"f": file_id})


def gap_summary(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Files with gaps, oldest first: [file_id, name, gaps, missing]."""
    return conn.execute("""
        SELECT file_id, f.name, count(*) AS gaps, sum(g.missing)::BIGINT AS missing
        FROM gaps g JOIN files f USING (file_id) GROUP BY ALL ORDER BY file_id
    """).df()
