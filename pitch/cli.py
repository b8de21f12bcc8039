"""Command line: ``python -m pitch <command>`` (see ``--help`` on each command).

Exit codes: 0 done; 1 a file could not be ingested or removed, a query was
refused or the database is busy; 2 a usage error or a bad ``PITCH_*`` setting
(checked before anything else runs). Errors are one ``error: ...`` line on
stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import duckdb
import pandas as pd

from . import archive, queries, settings, store
from .cli_output import FORMATS, write_frame  # noqa: F401  (write_frame: part of this API)
from .errors import DatabaseBusyError, IngestError, PitchError
from .progress import ByteProgress

Handler = Callable[[argparse.Namespace], int]


def _connect(args: argparse.Namespace) -> duckdb.DuckDBPyConnection:
    # store.connect for every command: it creates a missing database (empty)
    # and a second connection with other settings would fail in one process.
    # --archive DIR (counts, top-symbols, query, files): a Parquet archive, read-only.
    return archive.connect(args.archive) if getattr(args, "archive", None) else store.connect(args.db)


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
    # Binary PITCH's columns (format, gaps, missing_messages, duplicates,
    # skipped_packets) come after the older ones, so scripts reading those keep working.
    with _connect(args) as conn:
        frame = queries.file_list(conn)
    return _show(args, frame)


def cmd_rejects(args: argparse.Namespace) -> int:
    with _connect(args) as conn:
        frame = conn.execute("""
            SELECT file_id, line_no, byte_offset, reason, raw FROM rejects
            WHERE $f IS NULL OR file_id = $f ORDER BY file_id, line_no LIMIT $n""",
                             {"f": args.file, "n": args.limit}).df()
    return _show(args, frame)


def cmd_generate(args: argparse.Namespace) -> int:
    options = {k: getattr(args, k) for k in ("gaps", "retransmissions", "heartbeats")}
    if args.format == "text" and any(options.values()):
        raise PitchError("--gaps, --retransmissions and --heartbeats need --format pcap or units")
    try:
        if args.format == "text":
            from .generate import write_file
            size = write_file(args.out, args.messages, args.seed)
        else:
            from .generate_binary import write_file as write_binary
            size = write_binary(args.out, args.format, args.messages, args.seed, **options)
    except OSError as exc:
        raise PitchError(f"{args.out}: cannot write: {exc.strerror or exc}") from None
    what = "text" if args.format == "text" else f"binary PITCH ({args.format})"
    print(f"{args.out}: {args.messages:,} messages, {size:,} bytes of {what} (seed {args.seed})")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from .ingest import remove_file  # imported here: the read commands do not need it

    with _connect(args) as conn:
        try:
            row = remove_file(conn, args.file_id)
        except store.UnknownFileError as exc:
            raise PitchError(f"{exc} (python -m pitch files lists them); nothing removed") from None
    print(f"removed file {row['file_id']} ({row['name']}): {row['messages'] or 0:,} messages, "
          f"{row['rejects'] or 0:,} rejects")
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    inbox = Path(args.dir) if args.dir else settings.inbox_dir()
    return run_watch(inbox, Path(args.db) if args.db else None,
                     args.polling or settings.current().watch_polling)


def run_watch(inbox: Path, db: Path | None, polling: bool) -> int:
    """``python -m pitch watch [DIR]``: watch until Ctrl-C; one line per file."""
    from .watch import Watcher  # the watcher pulls in watchdog: only load it here

    try:
        conn = store.connect(db)
    except DatabaseBusyError:
        print(f"error: database {store.db_path(db)} is in use by another process; drop the file "
              f"into the running app's inbox ({inbox}) instead", file=sys.stderr)
        return 1
    except PitchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. the database's folder cannot be made
        print(f"error: cannot open database {store.db_path(db)}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    watcher = Watcher(conn, Path(inbox), polling=polling, report=lambda line: print(line, flush=True))
    try:
        watcher.start()
        if watcher.running:
            mode = "polling" if watcher.polling else "file-system events"
            print(f"watching {watcher.inbox} ({mode}); Ctrl-C stops", flush=True)
        while watcher.running:
            time.sleep(0.2)
    except KeyboardInterrupt:
        return 0
    finally:
        watcher.stop()
        conn.close()
    print(f"error: {watcher.error or 'the watcher stopped (was the folder removed?)'}",
          file=sys.stderr)
    return 1


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
    read = (shown, archive.option_parser())  # the commands that also read an archive
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, handler: Handler, help: str, *parents: argparse.ArgumentParser
                ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, parents=[common, *parents])
        p.set_defaults(handler=handler)
        return p

    p = command("ingest", cmd_ingest, "ingest PITCH files (or every file of a folder) once each")
    p.add_argument("paths", nargs="+", metavar="PATH", help="file (.gz too) or folder (not recursive)")
    command("counts", cmd_counts, "messages per type, most frequent first", *read)
    p = command("top-symbols", cmd_top_symbols, "symbols by executed shares (breaks excluded)", *read)
    p.add_argument("-n", type=_positive, default=10, help="how many symbols (default 10)")
    p = command("query", cmd_query, "run one read-only SELECT (row- and time-limited)", *read)
    p.add_argument("sql", metavar="SQL", help="the SELECT statement, or - to read it from stdin")
    p.add_argument("--row-limit", type=_positive, default=None,
                   help=f"rows shown at most (default {settings.sql_row_limit():,}, $PITCH_SQL_ROW_LIMIT)")
    p.add_argument("--timeout", type=float, default=None, metavar="S",
                   help=f"seconds before the query is stopped (default {settings.sql_timeout():g}, "
                        f"$PITCH_SQL_TIMEOUT)")
    command("files", cmd_files, "the ingested files, with each one's format, sequence gaps, "
                                "duplicates and skipped frames (binary captures)", *read)
    archive.add_export_command(command)
    p = command("rejects", cmd_rejects, "rejected lines with their reasons", shown)
    p.add_argument("--file", type=int, default=None, metavar="ID", help="only this file_id")
    p.add_argument("--limit", type=_non_negative, default=1000, help="rows at most (default 1000)")
    p = command("generate", cmd_generate, "write a synthetic but consistent PITCH session")
    p.add_argument("out", metavar="OUT", help="output file (.gz to compress)")
    p.add_argument("--messages", type=_non_negative, required=True, metavar="N", help="how many")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--format", choices=("text", "pcap", "units"), default="text",
                   help="text PITCH (default), a pcap of binary Multicast PITCH, or raw "
                        "Sequenced Units back to back")
    for flag, what in (("gaps", "lose some units (sequence gaps)"),
                       ("retransmissions", "send some units twice (duplicates)"),
                       ("heartbeats", "send heartbeats (units without messages)")):
        p.add_argument(f"--{flag}", action="store_true", help=f"binary only: {what}")
    p = command("remove", cmd_remove, "delete one file's data from every table (see files)")
    p.add_argument("file_id", type=int, metavar="FILE_ID", help="the file's id (files lists them)")
    p = command("watch", cmd_watch, "ingest every file that lands in a folder, until Ctrl-C")
    p.add_argument("dir", nargs="?", metavar="DIR", help="folder to watch (default $PITCH_INBOX "
                                                          "or data/inbox)")
    p.add_argument("--polling", action="store_true",
                   help="poll instead of file-system events (Docker bind mounts, network drives)")
    from .cli_book import register as register_book  # here: cli_book imports this module
    register_book(sub, common, *read)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (argparse's usage errors give 2)."""
    try:  # every PITCH_* setting, before anything runs (the help texts show defaults)
        settings.current()
    except settings.SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        from .remote import dispatch  # through the running app's API when it holds the file

        return dispatch(args)
    except settings.SettingsError as exc:  # a setting changed under us: still a usage error
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
