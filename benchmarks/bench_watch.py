"""How long after a dropped file is complete is it in the database?

Baseline: ingest one generated file directly (``ingest_path``, same chunk size
as the watcher). Then, in the same process and on the same database, a
watcher on a tmp inbox gets two more files with other content:

- ``rename``: written beside the inbox, then renamed into it (the file is
  complete at the rename);
- ``write``: written straight into the inbox (complete when the writer closes it).

For each, the clock starts when the file is complete and stops when its row
is in ``files``. The overhead is that latency minus the file's ingest time
(the watcher's own figure, and the baseline's). Target: under 2 s.

Run:  .venv/bin/python benchmarks/bench_watch.py [--messages 1000000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pitch import store  # noqa: E402
from pitch.ingest import ingest_path  # noqa: E402
from pitch.watch import CHUNK_SIZE, Watcher  # noqa: E402


def lines(n: int, seed: int):
    """Generated PITCH lines; a plain add/cancel stream if pitch.generate is missing."""
    try:
        from pitch.generate import generate_lines
        return generate_lines(n, seed)
    except ImportError:
        def adds():
            for i in range(n):
                if i % 2:
                    yield f"S{34200000 + i // 100:08d}X{i - 1 + seed * n:012d}000100\n".encode()
                else:
                    yield (f"S{34200000 + i // 100:08d}A{i + seed * n:012d}B000100"
                           f"{'AAPL':<6}{1_000_000 + i % 5000:010d}Y\n").encode()
        return adds()


def write(path: Path, n: int, seed: int) -> int:
    it = lines(n, seed)
    with open(path, "wb") as fh:
        while chunk := b"".join(islice(it, 50_000)):
            fh.write(chunk)
    return path.stat().st_size


def wait_row(db, name: str, timeout: float = 120.0) -> float:
    """perf_counter() when ``name`` has a row in ``files``."""
    cur = db.cursor()
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if cur.execute("SELECT count(*) FROM files WHERE name = ?", [name]).fetchone()[0]:
            return time.perf_counter()
        time.sleep(0.02)  # not faster: a busy poll slows the ingest it waits for
    raise SystemExit(f"{name} not in the database after {timeout} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    args = ap.parse_args()
    n = args.messages
    work = Path(tempfile.mkdtemp(prefix="bench_watch_"))
    try:
        db = store.connect(work / "bench.duckdb")
        files = {name: work / f"{name}.pitch" for name in ("direct", "rename", "write")}
        t = time.perf_counter()
        for seed, path in enumerate(files.values(), 1):
            size = write(path, n, seed)
        print(f"generated 3 files of {n:,} messages ({size / 1e6:.1f} MB each) "
              f"in {time.perf_counter() - t:.1f} s")

        t = time.perf_counter()
        base = ingest_path(db, files["direct"], chunk_size=CHUNK_SIZE)
        direct = time.perf_counter() - t
        print(f"direct ingest:   {base.messages:,} messages in {direct:.2f} s "
              f"({base.messages / direct / 1e6:.2f} M msg/s; its own figure {base.seconds:.2f} s, "
              f"the rest is the commit)")

        inbox = work / "inbox"
        watcher = Watcher(db, inbox)  # default settings, as the app runs it
        watcher.start()
        print(f"watcher: {'polling' if watcher.polling else 'inotify'}, "
              f"stable window {watcher.stable_seconds} s, short window {watcher.short_seconds} s")
        for how in ("rename", "write"):
            name = f"{how}.pitch"
            if how == "rename":
                t0 = time.perf_counter()
                os.rename(files[how], inbox / name)
            else:
                with open(files[how], "rb") as src, open(inbox / name, "wb") as dst:
                    shutil.copyfileobj(src, dst, 16 << 20)
                t0 = time.perf_counter()  # complete: closed
            latency = wait_row(db, name) - t0
            while not (done := [r for r in watcher.status()["recent"] if r["name"] == name]):
                time.sleep(0.01)  # moved after the commit
            ingest_s = done[0]["seconds"]
            print(f"{how:>7} into inbox: in the database {latency:.2f} s after complete; "
                  f"its ingest {ingest_s:.2f} s -> {latency - ingest_s:.2f} s beyond its ingest "
                  f"time, of which the commit ~{direct - base.seconds:.2f} s (target < 2 s); "
                  f"{latency - direct:+.2f} s vs the direct ingest")
        watcher.stop()
        db.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
