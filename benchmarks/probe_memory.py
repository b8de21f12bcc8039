"""Peak RSS of one ingest, per phase: what grows with the capture?

    .venv/bin/python benchmarks/probe_memory.py CAPTURE DB [--write-gb 1]

``--write-gb`` first writes CAPTURE as ``bench_binary.big_capture`` does. The
ingest runs in this process; a thread samples RSS (``/proc/self/status``),
Arrow's allocations and DuckDB's ``duckdb_memory()`` (on a second cursor)
and keeps each one's peak per phase: load (decode + the messages insert),
spooled (the rare types and rejects), derive (orders), executions. Prints
JSON; ``peak_rss_mb`` is ``ru_maxrss``. DB is deleted afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from pitch import derive, ingest, store  # noqa: E402


def rss_mb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture", type=Path)
    parser.add_argument("db", type=Path)
    parser.add_argument("--write-gb", type=float)
    args = parser.parse_args()
    if args.write_gb:
        import bench_binary
        bench_binary.big_capture(args.capture, args.write_gb)
    phase = ["start"]
    peaks: dict[str, dict[str, int]] = {}
    conn = store.connect(args.db)
    side = conn.cursor()
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            p = peaks.setdefault(phase[0], {"rss_mb": 0, "arrow_mb": 0, "duckdb_mb": 0})
            p["rss_mb"] = max(p["rss_mb"], rss_mb())
            p["arrow_mb"] = max(p["arrow_mb"], pa.total_allocated_bytes() >> 20)
            with contextlib.suppress(Exception):
                used = side.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()"
                                    ).fetchone()[0]
                p["duckdb_mb"] = max(p["duckdb_mb"], int(used or 0) >> 20)
            time.sleep(0.1)

    def entering(name: str, f):
        def wrapped(*a, **k):
            phase[0] = name
            return f(*a, **k)
        return wrapped

    ingest._insert_stream = entering("load", ingest._insert_stream)
    ingest._insert_spooled = entering("spooled", ingest._insert_spooled)
    ingest.insert_derived = entering("derive", ingest.insert_derived)
    registered = derive.registered

    @contextlib.contextmanager
    def marking(cur, name, data):
        if name == "_pitch_fills":
            phase[0] = "executions"
        with registered(cur, name, data) as got:
            yield got

    derive.registered = marking
    worker = threading.Thread(target=sample, daemon=True)
    worker.start()
    try:
        result = ingest.ingest_path(conn, args.capture)
    finally:
        done.set()
        worker.join()
        side.close()
        conn.close()
        for path in (args.db, Path(f"{args.db}.wal")):
            path.unlink(missing_ok=True)
    print(json.dumps({"messages": result.messages, "seconds": round(result.seconds, 1),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                      "phases": peaks}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
