"""Deep pages: LIMIT/OFFSET (read from the nearer end) against the band seek, same process.

    .venv/bin/python benchmarks/bench_seek.py DATABASE [--repeat 5] [--repeat-before N]

Opens DATABASE read only and times, uncached, one page of the Messages and
Orders tables at the middle (and a few other places) under several sorts:
first the page query as it was before the seek (``old_page`` below, kept
here as the baseline), then as it is now. Each figure is the median of
``--repeat`` runs (``--repeat-before`` for the old query, which takes seconds a
page at 100M messages); "same" says both returned the same rows in the same order.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pitch import store  # noqa: E402
from pitch.filters import MessageFilter, OrderFilter  # noqa: E402
from pitch.queries import base, messages as qm, orders as qo  # noqa: E402


def old_page(conn, table, columns, sorts, where, params, sort, desc, page, page_size, total):
    """``queries.base._page`` before the seek: LIMIT/OFFSET, the second half read backwards."""
    offset, limit = (max(page, 1) - 1) * page_size, page_size
    reverse = total is not None and offset > total // 2
    if reverse:
        limit = max(min(page_size, total - offset), 0)
        offset = max(total - offset - limit, 0)
    column = sorts.get(sort, next(iter(sorts.values())))
    direction = "DESC" if desc != reverse else "ASC"
    nulls, tie = ("NULLS FIRST", "DESC") if reverse else ("NULLS LAST", "ASC")
    order = f"ORDER BY {column} {direction} {nulls}, file_id {tie}, line_no {tie}"
    df = conn.execute(f"""
        SELECT {', '.join(columns)} FROM {table} SEMI JOIN (
            SELECT file_id, line_no FROM {table} {where} {order} LIMIT ? OFFSET ?
        ) keys USING (file_id, line_no)
        {order}
    """, params + [limit, offset]).df()
    return df.iloc[::-1].reset_index(drop=True) if reverse else df


def cases(conn: Any) -> dict[str, Callable[[], Any]]:
    """Each page, as the app asks for it (with the total it has already counted)."""
    every, orders = MessageFilter(), OrderFilter()
    n, m = qm.message_count(conn, every), qo.order_count(conn, orders)
    aapl = MessageFilter(symbols=("AAPL",))
    n_aapl = qm.message_count(conn, aapl)
    mid, last, mid_orders = n // 100, -(-n // 50), m // 100

    def msg(flt, total, **kw):
        return lambda: qm.messages_page(conn, flt, total=total, **kw)

    return {
        "messages, middle page by time": msg(every, n, sort="time", page=mid),
        "messages, middle page by price": msg(every, n, sort="price", page=mid),
        "messages, middle page by shares desc": msg(every, n, sort="shares", desc=True,
                                                    page=mid),
        "messages, middle page by symbol": msg(every, n, sort="symbol", page=mid),
        "messages, middle page by order id": msg(every, n, sort="order id", page=mid),
        "messages, last page by time": msg(every, n, sort="time", page=last),
        "messages, page at 1/3 by side": msg(every, n, sort="side", page=n // 150),
        "messages, page at 1/3 by type desc": msg(every, n, sort="type", desc=True,
                                                  page=n // 150),
        "messages, page at 2/3 by file, line": msg(every, n, sort="file, line",
                                                   page=n // 75),
        "messages, page at 3/4 by price (NULLs)": msg(every, n, sort="price",
                                                      page=n * 3 // 200),
        "messages AAPL, middle page by price": msg(aapl, n_aapl, sort="price",
                                                   page=n_aapl // 100),
        "orders, middle page by shares": lambda: qo.orders_page(conn, orders, sort="shares",
                                                                page=mid_orders, total=m),
        "orders, middle page by remaining": lambda: qo.orders_page(
            conn, orders, sort="remaining", page=mid_orders, total=m),
    }


def median_ms(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--repeat-before", type=int)
    args = parser.parse_args()
    conn = store.connect(args.database, read_only=True)
    print(f"load average at start: {os.getloadavg()}")
    print("| page | before ms | after ms | before/after | same |\n|---|---:|---:|---:|---|")
    for name, fn in cases(conn).items():
        qm._page = qo._page = old_page  # the page functions call _page by these names
        before, old = median_ms(fn, args.repeat_before or args.repeat)
        qm._page = qo._page = base._page
        after, new = median_ms(fn, args.repeat)
        same = old[["file_id", "line_no"]].values.tolist() == \
            new[["file_id", "line_no"]].values.tolist()
        print(f"| {name} | {before:.0f} | {after:.0f} | {before / after:.1f} | {same} |",
              flush=True)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
