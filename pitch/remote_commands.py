"""``counts``, ``top-symbols``, ``query``, ``files``, ``rejects`` and ``ingest`` through a
running app's API, printing what :mod:`pitch.cli` prints when it opens the file itself.

Each mirrors its ``cmd_*`` twin in cli.py (same columns, same notes, same
error lines); tests/test_remote.py compares the two byte for byte.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import urllib.parse
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from . import queries, settings
from .cli import _files_in, write_frame
from .errors import PitchError
from .names import safe_name
from .progress import ByteProgress
from .remote import Client, upload_limit_message
from .sandbox import _to_frame


def _counts(client: Client, args: argparse.Namespace) -> int:
    write_frame(client.frame("/counts")[["message_type", "count"]], args.format, sys.stdout)
    return 0


def _top_symbols(client: Client, args: argparse.Namespace) -> int:
    frame = client.frame("/top-symbols", n=args.n)
    write_frame(frame[["symbol", "executed_shares"]], args.format, sys.stdout)
    return 0


def _query(client: Client, args: argparse.Namespace) -> int:
    sql = sys.stdin.read() if args.sql == "-" else args.sql
    # This shell's limits, as the local command would use them.
    row_limit = settings.sql_row_limit() if args.row_limit is None else args.row_limit
    timeout = settings.sql_timeout() if args.timeout is None else args.timeout
    table, headers = client.table("/query", sql=sql, row_limit=row_limit, timeout=timeout)
    write_frame(_to_frame(table), args.format, sys.stdout)
    if headers.get("X-Pitch-Truncated") == "true":
        print(f"note: only the first {int(headers['X-Pitch-Row-Limit']):,} rows are shown (row "
              f"limit; change it with --row-limit or $PITCH_SQL_ROW_LIMIT)", file=sys.stderr)
    return 0


#: Files a listing through /query may hold (the API's QUERY_MAX_ROWS).
_MAX_FILES = 1_000_000


def _files(client: Client, args: argparse.Namespace) -> int:
    # The local command's own SQL (its columns include binary PITCH's format, gaps,
    # duplicates and skipped frames, which /files does not serve), through the API's
    # read-only /query; every row, or an error rather than a cut listing.
    table, headers = client.table("/query", sql=queries.FILE_LIST_SQL, row_limit=_MAX_FILES)
    if headers.get("X-Pitch-Truncated") == "true":
        raise PitchError(f"more than {_MAX_FILES:,} files: stop the app to list them all")
    with duckdb.connect() as scratch:  # converted as the local command's .df() converts
        frame = scratch.from_arrow(table).df()
    write_frame(frame, args.format, sys.stdout)
    return 0


def _rejects(client: Client, args: argparse.Namespace) -> int:
    frame = client.frame("/rejects", max_rows=args.limit, file=args.file)
    write_frame(frame, args.format, sys.stdout)
    return 0


def _ingest(client: Client, args: argparse.Namespace) -> int:
    files, problems = _files_in(args.paths)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    failed = len(problems)
    limit = client.app.upload_limit
    for path in files:
        name = safe_name(path.name)
        size = path.stat().st_size
        bar = ByteProgress(size)
        try:
            if limit is not None and size > limit:
                raise PitchError(upload_limit_message(name, size, limit))
            result = client.upload(Path(path), name, progress=bar)
        except OSError as exc:
            failed += 1
            bar.finish()
            print(f"error: {name}: cannot read: {exc.strerror or exc}", file=sys.stderr, flush=True)
            continue
        except PitchError as exc:  # not PITCH, empty, too big: the database is unchanged
            failed += 1
            bar.finish()
            print(f"error: {exc}", file=sys.stderr, flush=True)
            continue
        bar.finish()
        print(result["summary"], flush=True)
    return 1 if failed else 0


def _book_frame(data: bytes) -> pd.DataFrame:
    """A book or BBO CSV (:func:`pitch.book.to_csv`) back into the frame the command writes:
    prices exact Decimals, counts integers, empty fields None (as :func:`book.exact`)."""
    rows = list(csv.reader(io.StringIO(data.decode())))
    def cell(column: str, text: str) -> Any:
        if text == "":
            return None
        if column.endswith("price"):
            return Decimal(text)
        return text if column == "side" else int(text)
    return pd.DataFrame([[cell(c, v) for c, v in zip(rows[0], row)] for row in rows[1:]],
                        columns=rows[0], dtype=object)


def _book(client: Client, args: argparse.Namespace) -> int:
    from . import book
    data = client.csv(f"/book/{urllib.parse.quote(args.symbol, safe='')}",
                      at=book.format_time(args.at), levels=args.levels, file=args.file)
    write_frame(_book_frame(data), args.format, sys.stdout)
    return 0


def _bbo(client: Client, args: argparse.Namespace) -> int:
    data = client.csv(f"/bbo/{urllib.parse.quote(args.symbol, safe='')}", file=args.file)
    write_frame(_book_frame(data), args.format, sys.stdout)
    return 0


COMMANDS = {"counts": _counts, "top-symbols": _top_symbols, "query": _query, "files": _files,
            "rejects": _rejects, "ingest": _ingest, "book": _book, "bbo": _bbo}


def run(client: Client, args: argparse.Namespace) -> int:
    """Run one of :data:`pitch.remote.COMMANDS` through the API."""
    return COMMANDS[args.command](client, args)
