"""Ingest throughput against DuckDB's own raw line reader, in one run.

    .venv/bin/python benchmarks/bench_ingest.py [--messages 1000000] [--repeat 1] [--keep]

1. Generates a session file (``python -m pitch generate``, in a child process
   so the generator's memory does not count in this process's peak RSS).
2. Baseline: a plain DuckDB connection loads the file's raw lines into a
   one-column table with ``read_csv`` (no decoding at all: the floor).
3. Ours: ``pitch.ingest.ingest_path`` into a fresh ``store.connect`` database
   (decode, insert, rejects, derived orders and executions, one transaction).

Prints messages per second for both, the time ratio ours/baseline (target
<= 3), the peak RSS, and a markdown table row for the README. With
``--repeat`` the best of the runs counts.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pitch import store  # noqa: E402
from pitch.ingest import ingest_path  # noqa: E402

BASELINE_SQL = ("CREATE TABLE raw AS SELECT * FROM read_csv(?, columns={'line': 'VARCHAR'}, "
                "header=false, delim='\\x01', quote='', escape='', auto_detect=false)")


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(path: Path, messages: int, seed: int) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pitch", "generate", str(path), "--messages",
                    str(messages), "--seed", str(seed)], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def baseline(path: Path, db: Path, messages: int) -> float:
    conn = duckdb.connect(str(db))
    try:
        conn.execute("SET enable_progress_bar = false")
        started = time.perf_counter()
        conn.execute(BASELINE_SQL, [str(path)])
        seconds = time.perf_counter() - started
        rows = conn.execute("SELECT count(*) FROM raw").fetchone()[0]
    finally:
        conn.close()
    if rows != messages:
        raise SystemExit(f"baseline read {rows} lines, expected {messages}")
    return seconds


def ours(path: Path, db: Path, messages: int) -> float:
    conn = store.connect(db)
    try:
        started = time.perf_counter()
        result = ingest_path(conn, path)
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    if (result.messages, result.rejects) != (messages, 0):
        raise SystemExit(f"ingest gave {result.messages} messages, {result.rejects} rejects")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the best counts")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="pitch-bench-"))
    path = tmp / "session.pitch"
    gen_s = generate(path, args.messages, args.seed)
    size_mb = path.stat().st_size / 1e6
    n = args.messages
    print(f"generated {n:,} messages ({size_mb:,.0f} MB) in {gen_s:.1f} s "
          f"({n / gen_s:,.0f} messages/s, child process)")

    base_runs, our_runs = [], []
    for i in range(args.repeat):
        base_runs.append(baseline(path, tmp / f"baseline-{i}.duckdb", n))
        print(f"baseline run {i + 1}: {base_runs[-1]:.2f} s")
        (tmp / f"baseline-{i}.duckdb").unlink()
    rss_base = peak_rss_mb()
    for i in range(args.repeat):
        our_runs.append(ours(path, tmp / f"ours-{i}.duckdb", n))
        print(f"ours     run {i + 1}: {our_runs[-1]:.2f} s")
        if not args.keep:
            (tmp / f"ours-{i}.duckdb").unlink()
    rss_ours = peak_rss_mb()

    base, mine = min(base_runs), min(our_runs)
    ratio = mine / base
    print(f"baseline (DuckDB read_csv of raw lines): {base:.2f} s, {n / base:,.0f} messages/s")
    print(f"ours (decode + insert + derive):        {mine:.2f} s, {n / mine:,.0f} messages/s")
    print(f"ratio ours/baseline (time): {ratio:.2f}  (target <= 3)")
    print(f"peak RSS: {rss_base:,.0f} MB after the baseline, {rss_ours:,.0f} MB after ours")
    print()
    print("| messages | file | baseline | ours | ratio | peak RSS |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {n:,} | {size_mb:,.0f} MB | {base:.2f} s ({n / base / 1e6:.2f} M/s) "
          f"| {mine:.2f} s ({n / mine / 1e6:.2f} M/s) | {ratio:.2f} | {rss_ours:,.0f} MB |")
    if args.keep:
        print(f"kept {tmp}")
    else:
        path.unlink()
        tmp.rmdir()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
