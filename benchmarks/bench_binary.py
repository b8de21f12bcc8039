"""Binary against text ingest of the same events, and memory on a big capture, in one run.

    .venv/bin/python benchmarks/bench_binary.py [--messages 1000000] [--repeat 3]
    .venv/bin/python benchmarks/bench_binary.py --big-gb 5      # peak RSS on a 5 GB capture

1. Generates a text session (``python -m pitch generate``, child process).
2. Converts the same events to binary Multicast PITCH (each text type to its
   binary twin: A to Add Order Short or Long, E to Order Executed, X to Reduce
   Size, P/r/2 to Trade, ...; Symbol Clear has no twin and is left out) packed
   into Sequenced Units per matching-engine unit, and writes them as a pcap.
3. Ingests each, in fresh child processes, alternating (so each peak RSS is
   its own), and prints the time ratio pcap/text (target <= 1.0).

``--big-gb`` instead writes a capture of about that size (a generated binary
session repeated with its sequence numbers moved on, so it stays one long
session with no duplicates) and reports the ingest's peak RSS (target < 2 GB)
and its throughput.
"""

from __future__ import annotations

import argparse
import json
import resource
import struct
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pitch import capture_write, store  # noqa: E402
from pitch.binary_encode import message, unit  # noqa: E402
from pitch.columns import decode_bytes  # noqa: E402
from pitch.ingest import ingest_path  # noqa: E402

UNITS = 4
MAX_UNIT_BYTES = 1_400
CENT = Decimal("0.01")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def short(price: Decimal, shares: int) -> bool:
    return shares < 65_536 and price <= Decimal("655.35") and price == price.quantize(CENT)


def to_binary(row: dict) -> tuple[int, dict] | None:
    """(type byte, values) of the binary twin of one text message; None for Symbol Clear."""
    t, p, q = row["type"], row.get("price"), row.get("shares")
    base = {k: v for k, v in row.items() if v is not None}
    if t == "A":
        return (0x22 if short(p, q) else 0x21), base | {"flags": 1}
    if t in ("d", "1"):
        return 0x2F, base | {"flags": 1}
    if t == "E":
        return 0x23, base
    if t == "X":
        return (0x26 if q < 65_536 else 0x25), base
    if t == "P":
        return (0x2B if short(p, q) else 0x2A), base
    if t in ("r", "2"):
        return 0x30, base
    if t == "B":
        return 0x2C, base
    if t == "H":
        return 0x31, base
    if t in ("I", "3"):
        return 0x95, base
    if t in ("J", "4"):
        return 0x96, base
    if t == "R":
        return 0x98, base
    return None


def text_to_pcap(text: Path, out: Path) -> int:
    """Write the binary twin of a text session as a pcap; returns its message count."""
    table, _ = decode_bytes(text.read_bytes())
    order_unit: dict[int, int] = {}
    symbol_unit: dict[str, int] = {}
    pending = {u: [] for u in range(1, UNITS + 1)}
    size = {u: 8 for u in pending}
    seq = {u: 1 for u in pending}
    second: dict[int, int] = {}
    units: list[bytes] = []
    count = 0

    def flush(u: int) -> None:
        if pending[u]:
            units.append(unit(seq[u], u, pending[u]))
            seq[u] += len(pending[u])
            pending[u], size[u] = [], 8

    def put(u: int, raw: bytes) -> None:
        if size[u] + len(raw) > MAX_UNIT_BYTES or len(pending[u]) == 255:
            flush(u)
        pending[u].append(raw)
        size[u] += len(raw)

    for row in table.to_pylist():
        twin = to_binary(row)
        if twin is None:
            continue
        kind, values = twin
        symbol = values.get("symbol")
        if symbol is not None:
            u = symbol_unit.setdefault(symbol, len(symbol_unit) % UNITS + 1)
        else:
            u = order_unit.get(values.get("order_id"), 1)
        if kind in (0x21, 0x22, 0x2F):
            order_unit[values["order_id"]] = u
        s, offset = divmod(values.pop("time_ns"), 1_000_000_000)
        if second.get(u) != s:
            second[u] = s
            put(u, message(0x20, time_ns=s))
            count += 1
        put(u, message(kind, time_offset_ns=offset, **values))
        count += 1
    for u in pending:
        flush(u)
    out.write_bytes(capture_write.write_pcap(units))
    return count


def big_capture(out: Path, gigabytes: float) -> int:
    """A capture of about ``gigabytes``: one session's units over and over, sequences moved on."""
    from pitch.generate_binary import session

    s = session(200_000, seed=11)
    per_round = {}
    for payload in s.units:
        _, count, u, _ = struct.unpack_from("<HBBI", payload)
        per_round[u] = per_round.get(u, 0) + count
    frames = capture_write.write_pcap(s.units)
    header, body = frames[:24], frames[24:]
    rounds = max(1, int(gigabytes * 1e9 / len(body)))
    records = []  # (start of the record's unit header in body)
    pos = 0
    while pos < len(body):
        incl = struct.unpack_from("<I", body, pos + 8)[0]
        records.append(pos + 16 + 42)  # record header, Ethernet + IPv4 + UDP headers
        pos += 16 + incl
    messages = 0
    with open(out, "wb") as fh:
        fh.write(header)
        chunk = bytearray(body)
        for r in range(rounds):
            if r:
                for at in records:
                    u = chunk[at + 3]
                    seq = struct.unpack_from("<I", chunk, at + 4)[0]
                    struct.pack_into("<I", chunk, at + 4, seq + per_round[u])
            fh.write(chunk)
            messages += len(s.messages)
    return messages


def ingest_child(path: Path, db: Path) -> dict:
    conn = store.connect(db)
    try:
        started = time.perf_counter()
        result = ingest_path(conn, path)
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    return {"seconds": seconds, "rss_mb": peak_rss_mb(), "messages": result.messages,
            "rejects": result.rejects}


def in_child(path: Path, db: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(path), str(db)], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    db.unlink(missing_ok=True)
    return json.loads(out.splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--big-gb", type=float, default=None)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--convert", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(ingest_child(Path(args.child[0]), Path(args.child[1]))))
        return 0
    if args.convert:
        print(text_to_pcap(Path(args.convert[0]), Path(args.convert[1])))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="pitch-bench-binary-"))
    if args.big_gb:
        path = tmp / "big.pcap"
        started = time.perf_counter()
        n = big_capture(path, args.big_gb)
        print(f"wrote {path.stat().st_size / 1e9:.2f} GB, {n:,} messages, in "
              f"{time.perf_counter() - started:.0f} s")
        run = in_child(path, tmp / "big.duckdb")
        path.unlink()
        print(f"ingest: {run['seconds']:.1f} s, {run['messages'] / run['seconds']:,.0f} messages/s,"
              f" peak RSS {run['rss_mb']:,.0f} MB (target < 2,048 MB)")
        return 0 if run["rss_mb"] < 2048 else 1
    text, pcap = tmp / "session.pitch", tmp / "session.pcap"
    subprocess.run([sys.executable, "-m", "pitch", "generate", str(text), "--messages",
                    str(args.messages)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    # In a child too: a child's peak RSS starts from its parent's at fork.
    n = int(subprocess.run([sys.executable, __file__, "--convert", str(text), str(pcap)],
                           check=True, stdout=subprocess.PIPE, text=True).stdout.split()[-1])
    print(f"text {text.stat().st_size / 1e6:,.0f} MB; the same events as a pcap: "
          f"{pcap.stat().st_size / 1e6:,.0f} MB, {n:,} messages (Time messages included)")
    runs: dict[str, list[dict]] = {"text": [], "pcap": []}
    for i in range(args.repeat):
        for name, path in (("text", text), ("pcap", pcap)):
            runs[name].append(in_child(path, tmp / f"{name}-{i}.duckdb"))
            r = runs[name][-1]
            print(f"{name} run {i + 1}: {r['seconds']:.2f} s, {r['messages']:,} messages, "
                  f"peak RSS {r['rss_mb']:,.0f} MB")
    best = {k: min(r["seconds"] for r in v) for k, v in runs.items()}
    ratio = best["pcap"] / best["text"]
    print(f"ratio pcap/text (best of {args.repeat}): {ratio:.2f} (target <= 1.0)")
    text.unlink()
    pcap.unlink()
    return 0 if ratio <= 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
