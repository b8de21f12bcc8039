"""What does the REST API add to a query, and does a big CSV stream in bounded memory?

    .venv/bin/python benchmarks/bench_api.py [--messages 1000000] [--repeat 15]
    .venv/bin/python benchmarks/bench_api.py --messages 10000000 --repeat 5   # the 10M check

Generates a session (``python -m pitch generate`` in a child process), ingests
it into a fresh database and copies the file; then starts ``streamlit run
app.py`` on the original. For each endpoint, the median time of a GET over
one kept-alive HTTP connection (body read whole) is set against the median of
the same ``pitch`` calls run here on the copy, in the same run: the
difference is what the API adds (parameter parsing, the cursor, JSON,
HTTP), the target is under 20 ms. Each GET opens a new connection, as curl,
urllib and the CLI do: on a kept-alive connection Streamlit's server adds
about 40 ms to every answer, its own /_stcore/health included (its listening
socket is made without IPPROTO_TCP, so asyncio never sets TCP_NODELAY and
Nagle waits for the client's delayed ACK). Then every message as CSV and as
Parquet is read from the server in 1 MB pieces while the server's peak RSS
(``VmHWM``) is watched, against the CSV's size and the page function's
in-memory CSV built here. What the peak follows is DuckDB's sort of every
row, held within its memory limit (``PITCH_MEMORY_LIMIT``, 1 GB by default;
it spills to ``<db>.tmp`` beyond), plus a constant (the reader and about a
batch of formatting): so a second server with a 64 MB limit streams half
the rows, then all of them, and its peak must not grow with the rows.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pitch import fmt, ids, queries as q, sandbox, store  # noqa: E402
from pitch.api_queries import files_table, trades_page  # noqa: E402
from pitch.filters import MessageFilter  # noqa: E402
from pitch.ingest import ingest_path  # noqa: E402

TARGET_ADDED_MS = 20.0


def paired_ms(a: Callable[[], Any], b: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Medians of ``a`` and ``b`` run in turn, so that both see the same load on a shared machine."""
    a(), b()  # warm: DuckDB's buffers, Python's imports
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, out in ((a, times[0]), (b, times[1])):
            started = time.perf_counter()
            fn()
            out.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path, port: int, log: Path, memory_limit: str | None = None
                 ) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PITCH_")}
    env.update(PITCH_DB=str(db), PITCH_INBOX=str(db.parent / "inbox"), PITCH_NO_SAMPLE="1",
               PITCH_NO_WATCH="1")
    if memory_limit:
        env["PITCH_MEMORY_LIMIT"] = memory_limit
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"the server did not start:\n{log.read_text()[-2000:]}")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    try:
        run(tmp, args.messages, args.repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: Path, messages: int, repeat: int) -> None:
    data = tmp / "session.pitch"
    subprocess.run([sys.executable, "-m", "pitch", "generate", str(data), "--messages",
                    str(messages), "--seed", "11"], cwd=ROOT, check=True, capture_output=True)
    db = tmp / "served.duckdb"
    conn = store.connect(db)
    ingest_path(conn, data)
    conn.close()
    shutil.copy(db, tmp / "copy.duckdb")
    c = store.connect(tmp / "copy.duckdb", read_only=True)

    sym = q.top_symbols(c, 1)["symbol"].iloc[0]
    fid, line, oid = c.execute("SELECT file_id, line_no, order_id FROM orders "
                               "ORDER BY events DESC, line_no LIMIT 1").fetchone()
    adds = MessageFilter(types=("A",))
    total_a = q.message_count(c, adds)
    deep = total_a // 50 // 2
    sql = ("SELECT symbol, count(*) AS trades, sum(shares) AS shares FROM executions "
           "WHERE NOT broken GROUP BY symbol ORDER BY shares DESC LIMIT 20")

    def messages_page(flt: MessageFilter, **kw: Any) -> Callable[[], Any]:
        return lambda: q.messages_page(c, flt, total=q.message_count(c, flt), **kw)

    cases: list[tuple[str, str, dict, Callable[[], Any]]] = [
        ("health", "/health", {}, lambda: q.data_version(c)),
        ("counts", "/counts", {}, lambda: q.message_type_counts(c)),
        ("top-symbols", "/top-symbols", {"n": 10}, lambda: q.top_symbols(c, 10)),
        ("files", "/files", {}, lambda: files_table(c)),
        ("messages, type A, page 1", "/messages", {"type": "A"}, messages_page(adds)),
        ("messages, type A, middle page by price", "/messages",
         {"type": "A", "sort": "price", "page": deep},
         messages_page(adds, sort="price", page=deep)),
        ("messages, 1,000 rows", "/messages", {"per_page": 1000},
         messages_page(MessageFilter(), page_size=1000)),
        ("an order's lifecycle", f"/orders/{ids.format_id(oid)}", {},
         lambda: [q.order_lifecycle(c, int(a.file_id), int(a.line_no))
                  for a in q.order_instances(c, oid).itertuples()]),
        ("a symbol's trades", f"/symbols/{sym}/trades", {},
         lambda: (q.symbol_summary(c, sym), trades_page(c, sym, 1, 50))),
        ("query (the sandbox)", "/query", {"sql": sql}, lambda: sandbox.run_query(c, sql)),
    ]

    port = free_port()
    server = start_server(db, port, tmp / "server.log")
    try:
        def get(path: str, params: dict) -> bytes:
            http_conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            http_conn.request("GET", f"/api/v1{path}?{urllib.parse.urlencode(params)}")
            response = http_conn.getresponse()
            body = response.read()
            http_conn.close()
            assert response.status == 200, (path, response.status, body[:300])
            return body

        print(f"{messages:,} messages; median of {repeat}, in turn, after one warm-up; "
              f"added = endpoint - direct (target under {TARGET_ADDED_MS:g} ms)\n")
        print(f"{'endpoint':42} {'endpoint':>10} {'direct':>9} {'added':>8} {'ratio':>6}")
        worst = 0.0
        for name, path, params, direct in cases:
            api_ms, direct_ms = paired_ms(lambda: get(path, params), direct, repeat)
            added = api_ms - direct_ms
            worst = max(worst, added)
            print(f"{name:42} {api_ms:8.1f}ms {direct_ms:7.1f}ms {added:6.1f}ms "
                  f"{api_ms / max(direct_ms, 1e-9):6.2f}")
        print(f"\nmost added: {worst:.1f} ms: target {'met' if worst < TARGET_ADDED_MS else 'NOT met'}")
        started = time.perf_counter()
        whole = len(q.messages_csv(c, MessageFilter()))
        print(f"\nevery message, streamed (read in 1 MB pieces, nothing kept); the page's "
              f"messages_csv builds the same {whole / 1e6:,.1f} MB in memory in "
              f"{time.perf_counter() - started:.2f} s here")
        stream(port, server.pid, "DuckDB memory limit 1 GB (default)")
    finally:
        server.terminate()
        server.wait(30)
    server = start_server(db, port, tmp / "server-64.log", "64MB")
    try:
        first, last = q.time_bounds(c)
        half = {"to": fmt.hms((first + last) // 2)}
        stream(port, server.pid, "DuckDB memory limit 64 MB, half the rows", half,
               forms=("csv",))
        stream(port, server.pid, "DuckDB memory limit 64 MB, every row (the peak must not grow)",
               forms=("csv",))
    finally:
        server.terminate()
        server.wait(30)
        c.close()


def stream(port: int, pid: int, label: str, params: dict | None = None,
           forms: tuple[str, ...] = ("csv", "parquet")) -> None:
    before = peak_rss_mb(pid)
    print(f"  {label}: server peak RSS before {before:,.0f} MB")
    for form in forms:
        http_conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        started = time.perf_counter()
        query = urllib.parse.urlencode({"format": form, **(params or {})})
        http_conn.request("GET", f"/api/v1/messages?{query}")
        response = http_conn.getresponse()
        size = 0
        while chunk := response.read(1 << 20):
            size += len(chunk)
        seconds = time.perf_counter() - started
        http_conn.close()
        print(f"    {form:8} {size / 1e6:8,.1f} MB in {seconds:5.2f} s "
              f"({size / 1e6 / seconds:,.0f} MB/s); server peak RSS now "
              f"{peak_rss_mb(pid):,.0f} MB (+{peak_rss_mb(pid) - before:,.0f})")


if __name__ == "__main__":
    main()
