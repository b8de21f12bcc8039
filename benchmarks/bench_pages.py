"""Does every page answer within 1 s on a database of 1,000,000 messages?

    .venv/bin/python benchmarks/bench_pages.py [--messages 1000000] [--repeat 5]
    .venv/bin/python benchmarks/bench_pages.py --db DB [--messages N]   # reuse a database

Generates a session (``python -m pitch generate``, in a child process),
ingests it into a fresh database (or, with ``--db``, builds that database once
and reuses it on the next runs: 100M messages take minutes to build), then times, uncached, the queries each page
runs on a first visit and on its heaviest usual interactions (a deep page, a
sort on a non-time column, a filter, one order, one symbol), sidebar
included. Each is the median of ``--repeat`` runs. Baseline: ``SELECT
sum(shares) FROM messages``, a one-column scan, in the same process; the
ratio column is view/baseline. First, the five single queries with a 200 ms
target (``targets``; issue 15 asks it at 100,000,000 messages too).
CSV exports run on click and are timed separately (no 1 s target). Exits 1
unless every view is under 1 s and every target query under 200 ms.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pitch import queries as q, sandbox, store  # noqa: E402
from pitch.filters import MessageFilter, OrderFilter  # noqa: E402
from pitch.ingest import ingest_path  # noqa: E402
from pitch.queries.messages import MESSAGE_SORTS  # noqa: E402
from pitch.queries.orders import ORDER_SORTS  # noqa: E402
from pitch.sql_examples import EXAMPLES  # noqa: E402

TARGET_MS = 1000.0  # a whole page view
QUERY_TARGET_MS = 200.0  # one query of targets() (issue 15: at 100M messages too)


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def views(c: Any) -> dict[str, list[Callable[[], Any]]]:
    """Each view (a page as first opened, or after a usual interaction) and the queries
    it runs, all uncached: the worst case, right after new data lands."""
    first, last = q.time_bounds(c)
    span = last - first
    top = q.top_symbols(c, 1)["symbol"].iloc[0]
    busy = c.execute("SELECT file_id, line_no, order_id FROM orders ORDER BY events DESC, "
                     "line_no LIMIT 1").fetchone()
    everything = MessageFilter()
    pages = -(-q.message_count(c, everything) // q.PAGE_SIZE)  # the last page holds rows
    order_pages = -(-q.order_count(c, OrderFilter()) // q.PAGE_SIZE)
    mid = (first + last) // 2

    sidebar = [lambda: q.data_version(c), lambda: q.totals(c), lambda: q.files(c)]

    def messages(flt: MessageFilter, **kw: Any) -> list[Callable[[], Any]]:
        def count_and_page() -> None:  # as the page does: the count, then that page
            q.messages_page(c, flt, total=q.message_count(c, flt), **kw)

        return sidebar + [lambda: q.time_bounds(c), lambda: q.symbols(c), count_and_page]

    def orders(flt: OrderFilter, **kw: Any) -> list[Callable[[], Any]]:
        def count_and_page() -> None:
            q.orders_page(c, flt, total=q.order_count(c, flt), **kw)

        return sidebar + [lambda: q.symbols(c), count_and_page]

    return {
        "Overview": sidebar + [lambda: q.time_bounds(c), lambda: q.message_type_counts(c),
                               lambda: q.message_rate(c, q.BUCKETS[q.pick_bucket(span)])],
        "Overview, 1 s buckets": sidebar + [lambda: q.message_rate(c, q.BUCKETS["1 s"])],
        "Messages": messages(everything),
        "Messages, middle page": messages(everything, page=pages // 2),
        "Messages, middle page by price": messages(everything, sort="price", page=pages // 2),
        "Messages, last page by shares desc": messages(everything, sort="shares", desc=True,
                                                       page=pages),
        "Messages, 1-minute window": messages(MessageFilter(start_ns=mid,
                                                            end_ns=mid + 60 * 10**9)),
        "Messages, buy adds of top symbol": messages(MessageFilter(types=("A", "d", "1"),
                                                                   symbols=(top,), side="B")),
        "Messages, one row's detail": messages(everything) + [
            lambda: q.message_detail(c, busy[0], busy[1])],
        **{f"Messages, middle page by {label}": messages(everything, sort=label, page=pages // 2)
           for label in MESSAGE_SORTS if label not in ("time", "price")},
        **{f"Messages, last page by {label}": messages(everything, sort=label, page=pages)
           for label in MESSAGE_SORTS},
        "Orders": orders(OrderFilter()),
        "Orders, open by remaining desc": orders(OrderFilter(statuses=("open",)),
                                                 sort="remaining", desc=True),
        "Orders, middle page by shares": orders(OrderFilter(), sort="shares",
                                                page=q.order_count(c, OrderFilter()) // 100),
        **{f"Orders, middle page by {label}": orders(OrderFilter(), sort=label,
                                                     page=order_pages // 2)
           for label in ORDER_SORTS if label != "shares"},
        **{f"Orders, last page by {label}": orders(OrderFilter(), sort=label, page=order_pages)
           for label in ORDER_SORTS},
        "Orders, one order's lifecycle": orders(OrderFilter(order_id=busy[2])) + [
            lambda: q.order_lifecycle(c, busy[0], busy[1])],
        "Symbols (top symbol)": sidebar + [
            lambda: q.symbols(c), lambda: q.top_symbols(c, 10), lambda: q.symbol_summary(c, top),
            lambda: q.symbol_trades(c, top, 5000), lambda: q.time_bounds(c),
            lambda: q.symbol_adds(c, top, q.BUCKETS[q.pick_bucket(span, max_buckets=120)]),
            lambda: q.orders_page(c, OrderFilter(symbols=(top,)))],
        "Ingest": sidebar + [lambda: q.reject_count(c, 1), lambda: q.rejects_page(c, 1)],
        **{f"SQL, example: {name}": sidebar + [lambda: q.schema(c), lambda sql=sql: sandbox.run_query(
            c, sql)] for name, sql in EXAMPLES.items()},
    }


def targets(c: Any) -> dict[str, Callable[[], Any]]:
    """The five queries of the 10M-message target (each < 200 ms), as the pages run them."""
    top = q.top_symbols(c, 1)["symbol"].iloc[0]
    busy = c.execute("SELECT file_id, line_no FROM orders ORDER BY events DESC, line_no "
                     "LIMIT 1").fetchone()
    adds = MessageFilter(types=("A", "d", "1"))
    offset_page = 500_000 // q.PAGE_SIZE + 1  # rows 500,001-500,050
    return {
        "message type counts": lambda: q.message_type_counts(c),
        "top 10 symbols by executed volume": lambda: q.top_symbols(c, 10),
        "adds page at offset 500,000 (count + page)": lambda: q.messages_page(
            c, adds, page=offset_page, total=q.message_count(c, adds)),
        "one order's lifecycle": lambda: q.order_lifecycle(c, busy[0], busy[1]),
        "one symbol's trades": lambda: q.symbol_trades(c, top, 5000),
    }


def exports(c: Any) -> list[tuple[str, Callable[[], Any]]]:
    top = q.top_symbols(c, 1)["symbol"].iloc[0]
    return [("messages CSV, one symbol", lambda: q.messages_csv(c, MessageFilter(symbols=(top,)))),
            ("orders CSV, all", lambda: q.orders_csv(c, OrderFilter())),
            ("messages CSV, all", lambda: q.messages_csv(c, MessageFilter()))]


def open_database(args: argparse.Namespace, tmp: Path) -> Any:
    """The database to time: ``--db`` as it is when it holds files, else built now."""
    db = args.db or tmp / "bench.duckdb"
    c = store.connect(db)
    held = c.execute("SELECT count(*), coalesce(sum(messages), 0) FROM files").fetchone()
    if held[0]:
        print(f"{db}: {held[0]} file(s), {held[1]:,} messages (reused)\n")
        return c
    path = args.file or tmp / "session.pitch"
    if not args.file:
        subprocess.run([sys.executable, "-m", "pitch", "generate", "--messages",
                        str(args.messages), "--seed", "7", str(path)], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    print(f"{ingest_path(c, path).summary()}\n")
    return c


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-export", action="store_true", help="skip the CSV exports")
    parser.add_argument("--db", type=Path, help="database to build once (from --messages "
                        "generated messages, or --file) and reuse when it exists")
    parser.add_argument("--file", type=Path, help="a session file to ingest instead of generating")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        c = open_database(args, Path(tmp))
        base = median_ms(lambda: c.execute("SELECT sum(shares) FROM messages").fetchone(),
                         args.repeat)
        print(f"baseline SELECT sum(shares) FROM messages (one column scan): {base:.1f} ms, "
              f"median of {args.repeat}\n")
        print(f"| target query (< {QUERY_TARGET_MS:.0f} ms) | median ms | x baseline |\n"
              "|---|---:|---:|")
        slowest = 0.0
        for label, fn in targets(c).items():
            ms = median_ms(fn, args.repeat)
            slowest = max(slowest, ms)
            print(f"| {label} | {ms:.0f} | {ms / base:.1f} |")
        print(f"slowest target query {slowest:.0f} ms: "
              f"{'OK' if slowest < QUERY_TARGET_MS else 'TOO SLOW'}\n")
        print("| view (all its queries, uncached) | median ms | x baseline |\n|---|---:|---:|")
        worst = 0.0
        for view, calls in views(c).items():
            ms = median_ms(lambda: [call() for call in calls], args.repeat)
            worst = max(worst, ms)
            print(f"| {view} | {ms:.0f} | {ms / base:.1f} |")
        if not args.no_export:
            print("\n| export (on click) | seconds |\n|---|---:|")
            for label, fn in exports(c):
                started = time.perf_counter()
                size = len(fn())
                print(f"| {label} ({size / 1e6:.1f} MB) | {time.perf_counter() - started:.2f} |")
        c.close()
    verdict = "OK" if worst < TARGET_MS else "TOO SLOW"
    print(f"\nslowest view {worst:.0f} ms (target < {TARGET_MS:.0f} ms): {verdict}")
    # Passes only when both hold: every view under 1 s, every dashboard query under 200 ms.
    return 0 if worst < TARGET_MS and slowest < QUERY_TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
