"""Does every page answer within 1 s on a database of 1,000,000 messages?

    .venv/bin/python benchmarks/bench_pages.py [--messages 1000000] [--repeat 5]

Generates a session (``python -m pitch generate``, in a child process),
ingests it into a fresh database, then times, uncached, the queries each page
runs on a first visit and on its heaviest usual interactions (a deep page, a
sort on a non-time column, a filter, one order, one symbol). Each is the
median of ``--repeat`` runs. Baseline: ``SELECT count(*) FROM messages``, a
full scan, in the same process; the ratio column is query/baseline. A page's
total is the sum of its queries (the app runs them one after the other).
CSV exports run on click and are timed separately (no 1 s target).
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

TARGET_MS = 1000.0


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def page_queries(c: Any) -> dict[str, list[tuple[str, Callable[[], Any]]]]:
    """What each page asks the database, as the page asks it."""
    first, last = q.time_bounds(c)
    top = q.top_symbols(c, 1)["symbol"].iloc[0]
    busy = c.execute("SELECT file_id, line_no, order_id FROM orders ORDER BY events DESC, "
                     "line_no LIMIT 1").fetchone()
    mid = (first + last) // 2
    window = MessageFilter(start_ns=mid, end_ns=mid + 60 * 10**9)
    adds = MessageFilter(types=("A", "d"), symbols=(top,), side="B")
    span = last - first
    everything = MessageFilter()
    pages = q.message_count(c, everything) // q.PAGE_SIZE
    return {
        "sidebar (every page)": [("data_version", lambda: q.data_version(c)),
                                 ("totals", lambda: q.totals(c))],
        "Overview": [("files", lambda: q.files(c)), ("time_bounds", lambda: q.time_bounds(c)),
                     ("message_type_counts", lambda: q.message_type_counts(c)),
                     ("message_rate auto", lambda: q.message_rate(
                         c, q.BUCKETS[q.pick_bucket(span)]))],
        "Messages": [("symbols", lambda: q.symbols(c)),
                     ("count all", lambda: q.message_count(c, everything)),
                     ("page 1", lambda: q.messages_page(c, everything)),
                     ("middle page by time", lambda: q.messages_page(c, everything,
                                                                     page=pages // 2)),
                     ("last page, shares desc", lambda: q.messages_page(
                         c, everything, sort="shares", desc=True, page=pages)),
                     ("count+page, 1-min window", lambda: (q.message_count(c, window),
                                                           q.messages_page(c, window))),
                     ("count+page, adds of top symbol", lambda: (q.message_count(c, adds),
                                                                 q.messages_page(c, adds))),
                     ("detail", lambda: q.message_detail(c, busy[0], busy[1]))],
        "Orders": [("count all", lambda: q.order_count(c, OrderFilter())),
                   ("page 1", lambda: q.orders_page(c, OrderFilter())),
                   ("open, by remaining desc", lambda: q.orders_page(
                       c, OrderFilter(statuses=("open",)), sort="remaining", desc=True)),
                   ("by order id", lambda: q.order_count(c, OrderFilter(order_id=busy[2]))),
                   ("lifecycle", lambda: q.order_lifecycle(c, busy[0], busy[1]))],
        "Symbols": [("top_symbols 10", lambda: q.top_symbols(c, 10)),
                    ("symbol_summary", lambda: q.symbol_summary(c, top)),
                    ("symbol_trades", lambda: q.symbol_trades(c, top, 5000)),
                    ("symbol_adds", lambda: q.symbol_adds(c, top, q.BUCKETS[
                        q.pick_bucket(span, max_buckets=120)])),
                    ("orders page", lambda: q.orders_page(c, OrderFilter(symbols=(top,))))],
        "Ingest": [("files", lambda: q.files(c)), ("rejects", lambda: q.rejects_page(c, 1))],
        "SQL": [("schema", lambda: q.schema(c)),
                ("example: counts by type", lambda: sandbox.run_query(
                    c, "SELECT type, count(*) FROM messages GROUP BY ALL"))],
    }


def exports(c: Any) -> list[tuple[str, Callable[[], Any]]]:
    top = q.top_symbols(c, 1)["symbol"].iloc[0]
    return [("messages CSV, one symbol", lambda: q.messages_csv(c, MessageFilter(symbols=(top,)))),
            ("orders CSV, all", lambda: q.orders_csv(c, OrderFilter())),
            ("messages CSV, all", lambda: q.messages_csv(c, MessageFilter()))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-export", action="store_true", help="skip the CSV exports")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "session.pitch"
        subprocess.run([sys.executable, "-m", "pitch", "generate", "--messages",
                        str(args.messages), "--seed", "7", str(path)], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        c = store.connect(Path(tmp) / "bench.duckdb")
        result = ingest_path(c, path)
        print(f"{result.summary()}\n")
        base = median_ms(lambda: c.execute("SELECT count(*) FROM messages").fetchone(),
                         args.repeat)
        print(f"baseline SELECT count(*) FROM messages: {base:.1f} ms (median of "
              f"{args.repeat})\n")
        print(f"| page | query | median ms | x baseline |\n|---|---|---:|---:|")
        worst = 0.0
        for page, items in page_queries(c).items():
            total = 0.0
            for label, fn in items:
                ms = median_ms(fn, args.repeat)
                total += ms
                print(f"| {page} | {label} | {ms:.1f} | {ms / base:.1f} |")
            worst = max(worst, total)
            print(f"| **{page}** | **total** | **{total:.1f}** | |")
        if not args.no_export:
            print("\n| export (on click) | seconds |\n|---|---:|")
            for label, fn in exports(c):
                started = time.perf_counter()
                size = len(fn())
                print(f"| {label} ({size / 1e6:.1f} MB) | {time.perf_counter() - started:.2f} |")
        c.close()
    verdict = "OK" if worst < TARGET_MS else "TOO SLOW"
    print(f"\nslowest page total {worst:.0f} ms (target < {TARGET_MS:.0f} ms): {verdict}")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
