"""Command line: ``python -m pitch <command>`` (see ``--help`` on each command).

Exit codes: 0 done; 1 a file could not be ingested, a query was refused or
the database is busy; 2 a usage error. Errors are one ``error: ...`` line on
stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

import duckdb
import numpy as np
import pandas as pd

from . import queries, settings, store
from .errors import IngestError, PitchError
from .progress import ByteProgress

Handler = Callable[[argparse.Namespace], int]


def _connect(args: argparse.Namespace) -> duckdb.DuckDBPyConnection:
    # store.connect for every command: it creates a missing database (empty)
    # and a second connection with other settings would fail in one process.
    return store.connect(args.db)


# -- output formats -------------------------------------------------------------------------

FORMATS = ("table", "csv", "json")
_MAX_CELL = 60  # characters of a table cell; csv and json are never cut


def _plain(value: Any) -> Any:
    """A pandas/numpy cell as a plain Python value (None for every kind of null)."""
    if isinstance(value, (list, tuple, dict, np.ndarray)):
        return value.tolist() if isinstance(value, np.ndarray) else value
    if value is None or value is pd.NaT or (not isinstance(value, (str, bytes)) and pd.isna(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        # raw lines (rejects): printable ASCII as is, anything else as \xNN
        return "".join(chr(b) if 32 <= b < 127 else f"\\x{b:02x}" for b in bytes(value))
    return value


def _text(value: Any) -> str:
    """csv text of a plain value: decimals keep their scale (61.9200), ids stay integers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return str(value)


def _json(value: Any) -> str:
    if isinstance(value, Decimal):  # a JSON number with its exact digits
        return str(value) if value.is_finite() else "null"
    if isinstance(value, float) and not math.isfinite(value):
        return "null"
    return json.dumps(value, default=str)


def _table_cell(value: Any, column: str) -> str:
    if isinstance(value, bool) or value is None:
        return _text(value)
    if isinstance(value, int):
        # ids read better without separators (they are copied into queries)
        return str(value) if column.endswith("id") else f"{value:,}"
    if isinstance(value, Decimal):  # keep the scale: prices 61.9200, sums of shares 1,200
        return f"{value:,.{max(0, -value.as_tuple().exponent)}f}" if value.is_finite() else str(value)
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 1e15 else repr(value)
    text = _text(value)
    return text if len(text) <= _MAX_CELL else text[:_MAX_CELL - 1] + "\u2026"


def write_frame(frame: pd.DataFrame, fmt: str, out: TextIO) -> None:
    """Write a result as an aligned table, csv (header row first) or a json list of objects."""
    columns = [str(c) for c in frame.columns]
    rows = [[_plain(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_text(v) for v in row] for row in rows)
    elif fmt == "json":
        items = ["{" + ", ".join(f"{json.dumps(c)}: {_json(v)}" for c, v in zip(columns, row)) + "}"
                 for row in rows]
        out.write("[\n" + ",\n".join("  " + item for item in items) + "\n]\n" if items else "[]\n")
    else:
        cells = [[_table_cell(v, c) for v, c in zip(row, columns)] for row in rows]
        numeric = [all(isinstance(row[i], (int, float, Decimal)) or row[i] is None for row in rows)
                   and any(row[i] is not None for row in rows) for i in range(len(columns))]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]

        def line(values: list[str]) -> str:
            return "  ".join(v.rjust(w) if num else v.ljust(w)
                             for v, w, num in zip(values, widths, numeric)).rstrip()

        out.write(line(columns) + "\n" + line(["-" * w for w in widths]) + "\n")
        for row in cells:
            out.write(line(row) + "\n")
        if not rows:
            out.write("(no rows)\n")


# -- commands -------------------------------------------------------------------------------

def _files_in(paths: Sequence[str]) -> tuple[list[Path], list[str]]:
    """Expand folders (not recursively, hidden files skipped); also return problems."""
    files, problems = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            if not found:
                problems.append(f"{raw}: no files in this folder")
            files += found
        elif path.exists():
            files.append(path)
        else:
            problems.append(f"{raw}: no such file or folder")
    return files, problems


def cmd_ingest(args: argparse.Namespace) -> int:
    from .ingest import ingest_path  # imported here: the read commands do not need it

    files, problems = _files_in(args.paths)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    failed = len(problems)
    if files:
        conn = _connect(args)
        try:
            for path in files:
                bar = ByteProgress(path.stat().st_size)
                try:
                    result = ingest_path(conn, path, source="cli", progress=bar)
                except IngestError as exc:  # the database is unchanged: go on with the next
                    failed += 1
                    bar.finish()
                    print(f"error: {exc}", file=sys.stderr, flush=True)
                    continue
                bar.finish()
                print(result.summary(), flush=True)
        finally:
            conn.close()
    return 1 if failed else 0


def _show(args: argparse.Namespace, frame: pd.DataFrame) -> int:
    write_frame(frame, args.format, sys.stdout)
    return 0


def cmd_counts(args: argparse.Namespace) -> int:
    with _connect(args) as conn:
        frame = queries.message_type_counts(conn)
    return _show(args, frame[["message_type", "count"]])


def cmd_top_symbols(args: argparse.Namespace) -> int:
    with _connect(args) as conn:
        frame = queries.top_symbols(conn, args.n)
    return _show(args, frame[["symbol", "executed_shares"]])


def cmd_query(args: argparse.Namespace) -> int:
    from .sandbox import run_query

    sql = sys.stdin.read() if args.sql == "-" else args.sql
    with _connect(args) as conn:
        result = run_query(conn, sql, row_limit=args.row_limit, timeout=args.timeout)
    _show(args, result.frame)
    if result.truncated:
        print(f"note: only the first {result.row_limit:,} rows are shown (row limit; "
              f"change it with --row-limit or $PITCH_SQL_ROW_LIMIT)", file=sys.stderr)
    return 0


def cmd_files(args: argparse.Namespace) -> int:
    with _connect(args) as conn:
        frame = conn.execute("""
            SELECT file_id, name, size, messages, rejects, status, source,
                   finished_at, round(seconds, 3) AS seconds
            FROM files ORDER BY file_id""").df()
    return _show(args, frame)


def cmd_rejects(args: argparse.Namespace) -> int:
    with _connect(args) as conn:
        frame = conn.execute("""
            SELECT file_id, line_no, byte_offset, reason, raw FROM rejects
            WHERE $f IS NULL OR file_id = $f ORDER BY file_id, line_no LIMIT $n""",
                             {"f": args.file, "n": args.limit}).df()
    return _show(args, frame)


def cmd_generate(args: argparse.Namespace) -> int:
    from .generate import write_file

    try:
        size = write_file(args.out, args.messages, args.seed)
    except OSError as exc:
        raise PitchError(f"{args.out}: cannot write: {exc.strerror or exc}") from None
    print(f"{args.out}: {args.messages:,} messages, {size:,} bytes of text (seed {args.seed})")
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from .watch import run_cli  # the watcher pulls in watchdog: only load it here

    inbox = Path(args.dir) if args.dir else settings.inbox_dir()
    return run_cli(inbox, Path(args.db) if args.db else None, args.polling)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: global ``--db`` plus one sub-command per action."""
    db_help = "database file (default: $PITCH_DB, else data/pitch.duckdb)"
    parser = argparse.ArgumentParser(
        prog="python -m pitch", description="Decode Cboe text PITCH files into DuckDB and explore them.")
    parser.add_argument("--db", metavar="PATH", default=None, help=db_help)
    common = argparse.ArgumentParser(add_help=False)  # lets --db also follow the command
    common.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help=db_help)
    shown = argparse.ArgumentParser(add_help=False)
    shown.add_argument("--format", choices=FORMATS, default="table",
                       help="table (aligned text), csv or json (list of objects); default table")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, handler: Handler, help: str, *parents: argparse.ArgumentParser
                ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, parents=[common, *parents])
        p.set_defaults(handler=handler)
        return p

    p = command("ingest", cmd_ingest, "ingest PITCH files (or every file of a folder) once each")
    p.add_argument("paths", nargs="+", metavar="PATH", help="file (.gz too) or folder (not recursive)")
    command("counts", cmd_counts, "messages per type, most frequent first", shown)
    p = command("top-symbols", cmd_top_symbols, "symbols by executed shares (breaks excluded)", shown)
    p.add_argument("-n", type=_positive, default=10, help="how many symbols (default 10)")
    p = command("query", cmd_query, "run one read-only SELECT (row- and time-limited)", shown)
    p.add_argument("sql", metavar="SQL", help="the SELECT statement, or - to read it from stdin")
    p.add_argument("--row-limit", type=_positive, default=None,
                   help=f"rows shown at most (default {settings.sql_row_limit():,}, $PITCH_SQL_ROW_LIMIT)")
    p.add_argument("--timeout", type=float, default=None, metavar="S",
                   help=f"seconds before the query is stopped (default {settings.sql_timeout():g}, "
                        f"$PITCH_SQL_TIMEOUT)")
    command("files", cmd_files, "the ingested files", shown)
    p = command("rejects", cmd_rejects, "rejected lines with their reasons", shown)
    p.add_argument("--file", type=int, default=None, metavar="ID", help="only this file_id")
    p.add_argument("--limit", type=_non_negative, default=1000, help="rows at most (default 1000)")
    p = command("generate", cmd_generate, "write a synthetic but consistent PITCH session")
    p.add_argument("out", metavar="OUT", help="output file (.gz to compress)")
    p.add_argument("--messages", type=_non_negative, required=True, metavar="N", help="how many")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p = command("watch", cmd_watch, "ingest every file that lands in a folder, until Ctrl-C")
    p.add_argument("dir", nargs="?", metavar="DIR", help="folder to watch (default $PITCH_INBOX "
                                                          "or data/inbox)")
    p.add_argument("--polling", action="store_true",
                   help="poll instead of file-system events (Docker bind mounts, network drives)")
    from .cli_book import register as register_book  # here: cli_book imports this module
    register_book(sub, common, shown)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (argparse's usage errors give 2)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.handler(args)
    except PitchError as exc:  # includes DatabaseBusyError and QueryRefused
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `| head` left early: stop quietly (before OSError: a subclass)
        return 1
    except OSError as exc:  # e.g. a file that vanished between listing and reading it
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except duckdb.Error as exc:
        print(f"error: database error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
