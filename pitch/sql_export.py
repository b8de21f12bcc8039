"""The SQL page's CSV of a query: capped, and saying so on the button and in the file name.

Why a cap rather than every row: the SQL page runs whatever SELECT a visitor
writes, and Streamlit holds a download's bytes in the server's memory. One
``SELECT * FROM messages`` over a 100M-message database would be a
multi-gigabyte CSV built in the server process that every other session
shares; the time limit does not bound that (a plain scan is fast). The other
exports (Messages, Orders, rejects) stream every matching row because their
queries are ours and their columns known; user SQL gets the same treatment as
its on-screen answer: limited, and the limit is said. The cap is
``PITCH_SQL_EXPORT_ROWS`` (1,000,000 by default; see the README's settings).

The page knows before the click whether the CSV can be cut: when its own
answer was not cut and fits the cap, the CSV is that whole answer
("CSV of all 1,234 rows", ``query.csv``); otherwise the button says "CSV of
the first 1,000,000 rows" and the file is ``query-first-1000000-rows.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from . import export, fmt, settings
from .queries import file_feeds
from .sandbox import QueryResult, run_query


@dataclass(frozen=True)
class CsvOffer:
    """How the page offers a query's CSV: what the button and the file name say."""

    label: str
    file_name: str
    help: str
    row_cap: int  # the row limit the export runs with
    complete: bool  # the CSV holds the whole answer


def csv_offer(result: QueryResult, cap: int | None = None) -> CsvOffer:
    """The CSV offer for a result shown on the page; ``cap`` defaults to the setting."""
    cap = settings.current().sql_export_rows if cap is None else cap
    rows = len(result.frame)
    if not result.truncated and rows <= cap:
        return CsvOffer(f"CSV of all {fmt.count(rows)} {fmt.plural(rows, 'row')}", "query.csv",
                        "Runs the query again and saves every row of its answer",
                        cap, True)
    return CsvOffer(f"CSV of the first {cap:,} rows", f"query-first-{cap}-rows.csv",
                    f"Runs the query again and saves its first {cap:,} rows at most: the CSV of "
                    f"a query is cut there (PITCH_SQL_EXPORT_ROWS)", cap, False)


def query_csv(conn: duckdb.DuckDBPyConnection, sql: str, row_cap: int, timeout: float) -> bytes:
    """CSV bytes (header first) of at most ``row_cap`` rows of one sandboxed query.

    Ids take their file's form where a row shows it (a ``type`` or ``file_id``
    column), as on the page; columns named alike are told apart as on the page
    (``a``, ``a_2``).
    """
    frame = run_query(conn, sql, row_limit=row_cap, timeout=timeout).frame
    return export.to_csv(export.unique_columns(frame), file_feeds(conn))
