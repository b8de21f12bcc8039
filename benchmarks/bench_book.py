"""How fast is the book of a symbol (issue 13), cold and warm, and how much memory does it take?

    .venv/bin/python benchmarks/bench_book.py --db /tmp/s10m.duckdb      # an ingested file
    .venv/bin/python benchmarks/bench_book.py --messages 1000000         # generate + ingest

For the busiest symbol of the newest file, one in the middle and the least
busy, each in a fresh child process (so that each peak RSS is its own):

- **book cold**: the full replay at a random instant, from nothing
  (``book.load(...).levels_at``: read the symbol's messages, replay them, cut
  at the instant); the median of ``--repeat`` runs, with its SQL read;
- **fast cold**: ``book.book_at`` (:mod:`pitch.book_fast`: only the orders
  live around the instant) at ``--fast`` random instants and at the last
  message's time (the most live orders): the median and the slowest, and the
  process's very first call (DuckDB's buffers empty; the OS cache is warm);
- **book warm**: ``SymbolBook.levels_at`` at ``--instants`` random instants on
  a loaded book (what the Book page does once the symbol is open);
- **BBO cold**: ``book.bbo`` from nothing (:mod:`pitch.bbo_fast`: most orders
  from ``orders``, only the active ones replayed), and the full replay's
  ``book.load(...).bbo()``, run in turn; **warm**: the loaded book's series again;
- the engine alone (:func:`pitch.lifecycle.replay`) in messages per second.

Baseline, in the same process: ``SELECT sum(shares) FROM messages``, a
one-column scan of the file. Targets (issue 13): a book under 300 ms and the
busiest symbol's BBO under 1 s on a 10M-message file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pitch import book, store  # noqa: E402
from pitch.lifecycle import replay  # noqa: E402

BOOK_MS, BBO_MS = 300.0, 1000.0


def ms(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    got = fn()
    return (time.perf_counter() - started) * 1000, got


def measure(db: str, symbol: str, repeat: int, instants: int, fast_instants: int
            ) -> dict[str, Any]:
    """One symbol, in this (fresh) process."""
    conn = store.connect(db, read_only=True)
    fid = book.pick_file(conn, symbol)
    first, last = conn.execute("SELECT first_time_ns, last_time_ns FROM files "
                               "WHERE file_id = ?", [fid]).fetchall()[0]
    rng = random.Random(7)
    very_first = ms(lambda: book.book_at(conn, symbol, (first + last) // 2))[0]
    base = statistics.median(ms(lambda: conn.execute(
        "SELECT sum(shares) FROM messages WHERE file_id = ?", [fid]).fetchone())[0]
        for _ in range(repeat))
    out: dict[str, Any] = {"symbol": symbol, "baseline_ms": base}
    cold, sql, engine = [], [], []
    for _ in range(repeat):
        at = rng.randint(first, last)
        cold.append(ms(lambda: book.load(conn, symbol).levels_at(at))[0])
        sql.append(ms(lambda: conn.execute(book._SQL, {"f": fid, "s": symbol}).fetchnumpy())[0])
    fast = [(ms(lambda: book.book_at(conn, symbol, at))[0], at)
            for at in [rng.randint(first, last) for _ in range(fast_instants)] + [last]]
    out.update(fast_first_ms=very_first, fast_ms=statistics.median(f for f, _ in fast),
               fast_max_ms=max(fast)[0], fast_max_at=book.format_time(max(fast)[1]),
               fast_end_ms=fast[-1][0])
    t, sb = ms(lambda: book.load(conn, symbol))
    out["messages"] = len(sb.stream_line)
    out["changes"] = len(sb.line_no)
    warm = [ms(lambda: sb.levels_at(rng.randint(first, last)))[0] for _ in range(instants)]
    out.update(book_cold_ms=statistics.median(cold), sql_ms=statistics.median(sql),
               load_ms=t, book_warm_ms=statistics.median(warm), book_warm_max_ms=max(warm))
    bbo_cold, bbo_full = [], []
    for _ in range(repeat):  # in turn, so that both see the same load
        bbo_cold.append(ms(lambda: book.bbo(conn, symbol))[0])
        bbo_full.append(ms(lambda: book.load(conn, symbol).bbo())[0])
    first_bbo, frame = ms(sb.bbo)  # from the loaded changes
    bbo_warm = ms(sb.bbo)[0]  # cached now: what the page pays on a rerun
    out.update(bbo_cold_ms=statistics.median(bbo_cold), bbo_cold_max_ms=max(bbo_cold),
               bbo_full_ms=statistics.median(bbo_full), bbo_rows=len(frame),
               bbo_compute_ms=first_bbo, bbo_warm_ms=bbo_warm)
    # before the engine alone, which replays every row at once (no buckets)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    adds, events = _arrays(conn, fid, symbol)
    for _ in range(repeat):
        engine.append(ms(lambda: replay(adds, events))[0])
    out["engine_ms"] = statistics.median(engine)
    out["engine_rows"] = len(adds) + len(events)
    conn.close()
    return out


def _arrays(conn: Any, fid: int, symbol: str) -> tuple[Any, Any]:
    """The engine's input for one symbol, as book.load builds it (to time the engine alone)."""
    captured: dict[str, Any] = {}
    real = book.build

    def keep(file_id: int, sym: str, adds: Any, events: Any) -> Any:
        captured.update(adds=adds, events=events)
        return real(file_id, sym, adds, events)

    book.build = keep  # type: ignore[assignment]
    try:
        book.load(conn, symbol, fid)
    finally:
        book.build = real  # type: ignore[assignment]
    return captured["adds"], captured["events"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="an ingested database (default: generate one)")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--instants", type=int, default=50)
    parser.add_argument("--fast", type=int, default=20,
                        help="random instants of the fast cold book_at (and the last time)")
    parser.add_argument("--symbol", help=argparse.SUPPRESS)  # the child's job
    args = parser.parse_args()
    if args.symbol:
        print(json.dumps(measure(args.db, args.symbol, args.repeat, args.instants, args.fast)))
        return 0
    db = args.db
    if db is None:
        tmp = Path(tempfile.mkdtemp(prefix="bench-book-"))
        pitch_file, db = tmp / "s.pitch", str(tmp / "b.duckdb")
        subprocess.run([sys.executable, "-m", "pitch", "generate", str(pitch_file),
                        "--messages", str(args.messages)], check=True, cwd=ROOT)
        subprocess.run([sys.executable, "-m", "pitch", "--db", db, "ingest", str(pitch_file)],
                       check=True, cwd=ROOT)
    conn = store.connect(db, read_only=True)
    fid, total = conn.execute("SELECT max(file_id), sum(messages) FROM files").fetchone()
    ranked = [r[0] for r in conn.execute(
        "SELECT symbol FROM orders WHERE file_id = ? GROUP BY 1 ORDER BY count(*) DESC, 1",
        [fid]).fetchall()]
    conn.close()
    picks = {"busiest": ranked[0], "middle": ranked[len(ranked) // 2], "least": ranked[-1]}
    print(f"database {db}: file {fid}, {total:,} messages in all; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'symbol':>14} {'msgs':>9} {'book cold':>10} {'(sql)':>7} {'book warm':>10} "
          f"{'max':>6} {'bbo cold':>9} {'bbo rows':>9} {'engine':>8} {'M msg/s':>7} "
          f"{'RSS MB':>7} {'x base':>7} {'fast cold':>9} {'max':>8} {'first':>8}")
    for label, symbol in picks.items():
        got = json.loads(subprocess.run(
            [sys.executable, __file__, "--db", db, "--symbol", symbol, "--repeat",
             str(args.repeat), "--instants", str(args.instants), "--fast", str(args.fast)],
            check=True, capture_output=True, text=True).stdout)
        rate = got["engine_rows"] / got["engine_ms"] / 1000
        print(f"{label + ' ' + symbol:>14} {got['messages']:>9,} {got['book_cold_ms']:>8.0f}ms "
              f"{got['sql_ms']:>5.0f}ms {got['book_warm_ms']:>8.1f}ms "
              f"{got['book_warm_max_ms']:>5.1f} {got['bbo_cold_ms']:>7.0f}ms "
              f"{got['bbo_rows']:>9,} {got['engine_ms']:>6.0f}ms {rate:>7.2f} "
              f"{got['peak_rss_mb']:>7.0f} {got['book_cold_ms'] / got['baseline_ms']:>7.1f} "
              f"{got['fast_ms']:>7.0f}ms {got['fast_max_ms']:>6.0f}ms {got['fast_first_ms']:>6.0f}ms")
        print(f"{'':>14} baseline {got['baseline_ms']:.0f} ms; BBO from loaded changes "
              f"{got['bbo_compute_ms']:.0f} ms, cached {got['bbo_warm_ms']:.1f} ms; targets: "
              f"book {'met' if got['book_cold_ms'] < BOOK_MS else 'NOT met'} cold, "
              f"{'met' if got['book_warm_max_ms'] < BOOK_MS else 'NOT met'} warm; BBO "
              f"{'met' if got['bbo_cold_ms'] < BBO_MS else 'NOT met'} cold")
        print(f"{'':>14} BBO cold: fast median {got['bbo_cold_ms']:.0f} ms (slowest "
              f"{got['bbo_cold_max_ms']:.0f} ms), full replay {got['bbo_full_ms']:.0f} ms: "
              f"{got['bbo_full_ms'] / got['bbo_cold_ms']:.1f}x; load average "
              f"{os.getloadavg()[0]:.2f}")
        print(f"{'':>14} fast cold book_at ({args.fast} random instants and the last time): "
              f"median {got['fast_ms']:.0f} ms, slowest {got['fast_max_ms']:.0f} ms at "
              f"{got['fast_max_at']}, at the last time {got['fast_end_ms']:.0f} ms, first call "
              f"{got['fast_first_ms']:.0f} ms; {got['book_cold_ms'] / got['fast_ms']:.0f}x "
              f"the full replay; target {'met' if got['fast_max_ms'] < BOOK_MS else 'NOT met'}; "
              f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
