"""Differential fuzzing of the two decoders and of ingest.

    python benchmarks/fuzz.py --cases 1000000 --seed 1 [--ingest-every 500]

Properties checked on every generated input:

(a) ``decode_line`` returns a record or raises ``DecodeError``, nothing else;
(b) ``columns.decode_bytes`` (at a random chunk size) never raises, its rows
    are exactly the lines ``decode_line`` accepts, with the same values, and
    its rejects exactly the other non-blank lines (with their byte offsets);
(c) ``ingest_bytes`` raises nothing but ``IngestError``; when a file lands,
    messages + rejects == non-blank lines, as the database shows too.

A case is one line (lines are checked in batches, many per decode_bytes call)
or one whole file (truncated, spliced, CR-only, huge lines, NUL bytes...).
tests/test_fuzz.py runs a short version of the same engine.
"""

from __future__ import annotations

import argparse
import gzip
import random
import string
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pitch.columns import MAX_RAW, decode_bytes  # noqa: E402
from pitch.decode import decode_line  # noqa: E402
from pitch.errors import DecodeError, IngestError  # noqa: E402
from pitch.layouts import LAYOUTS, Kind, Layout  # noqa: E402

PRINTABLE = bytes(range(32, 127))
BASE36 = (string.digits + string.ascii_uppercase).encode()
NASTY = b" 09AZaz/:@[`{\x00\x01\t\r\n\x7f\x80\xc3\xa9\xff"
CHUNKS = (1, 2, 3, 7, 45, 64, 100, 4095, 4096, 4097, 5000, 65_536, 1 << 22)


class PropertyFailure(AssertionError):
    """A decoder or ingest broke one of the properties; the message holds the input."""


def valid_line(rng: random.Random, layout: Layout) -> bytes:
    """A well-formed message of ``layout`` with random field values."""
    b = bytearray(rng.choice(PRINTABLE) for _ in range(layout.length))
    b[0:8] = b"%08d" % rng.randrange(100_000_000)
    b[8] = ord(layout.code)
    for f in layout.fields:
        if f.kind in (Kind.NUMERIC, Kind.PRICE):
            b[f.offset:f.end] = bytes(rng.choice(b"0123456789") for _ in range(f.width))
        elif f.kind is Kind.BASE36:
            b[f.offset:f.end] = bytes(rng.choice(BASE36) for _ in range(f.width))
        elif f.kind is Kind.CODE:
            b[f.offset] = ord(rng.choice(f.values))
        else:
            used = rng.randint(1 if f.required else 0, f.width)
            text = bytes(rng.choice(PRINTABLE) for _ in range(used)).ljust(f.width)
            if f.required and not text.strip():
                text = b"X" + text[1:]
            b[f.offset:f.end] = text
    return (b"S" if rng.random() < 0.9 else b"") + bytes(b)


def mutate(rng: random.Random, line: bytes) -> bytes:
    """One to three random edits of a line."""
    b = bytearray(line)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(11)
        at = rng.randrange(len(b) + 1)
        if op == 0 and b:
            b[min(at, len(b) - 1)] = rng.randrange(256)
        elif op == 1 and b:
            b[min(at, len(b) - 1)] = rng.choice(NASTY)
        elif op == 2:
            b.insert(at, rng.choice(NASTY + PRINTABLE))
        elif op == 3 and b:
            del b[min(at, len(b) - 1)]
        elif op == 4:
            del b[at:]
        elif op == 5 and len(b) > 10:  # the type byte becomes another type's
            b[9 if b[:1] == b"S" else 8] = ord(rng.choice(LAYOUTS).code)
        elif op == 6:
            b = b[1:] if b[:1] == b"S" else bytearray(b"S") + b
        elif op == 7:
            b += rng.choice((b"\r", b" ", b"\r\r", b"\x00", "é".encode()))
        elif op == 8 and b:  # blank out or lower-case a stretch
            j = rng.randrange(len(b))
            k = min(len(b), j + rng.randint(1, 12))
            b[j:k] = b" " * (k - j) if rng.random() < 0.5 else bytes(b[j:k]).lower()
        elif op == 9:
            b[at:at] = b[rng.randrange(len(b) + 1):][:rng.randint(1, 8)]
        else:
            b[at:at] = "\u2028é\ufeff".encode()[:rng.randint(1, 8)]
    return bytes(b)


def random_bytes(rng: random.Random) -> bytes:
    alphabet = rng.choice((bytes(range(256)), PRINTABLE, b"S0123456789AXEPdBHIJRsr12 "))
    return bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 90)))


def one_line(rng: random.Random, real: list[bytes]) -> bytes:
    """A line: real, built for some layout, mutated, or noise."""
    r = rng.random()
    base = rng.choice(real) if r < 0.5 else valid_line(rng, rng.choice(LAYOUTS))
    if r < 0.12 or 0.5 <= r < 0.6:
        return base
    if r > 0.95:
        return random_bytes(rng)
    return mutate(rng, base)


def join_lines(rng: random.Random, lines: list[bytes], *, cr_only: bool = False) -> bytes:
    """Lines joined with random endings; some blank lines; maybe no final newline."""
    out = bytearray()
    for line in lines:
        if rng.random() < 0.03:
            out += rng.choice((b"\n", b"\r\n"))
        out += line + (b"\r" if cr_only else rng.choice((b"\n", b"\n", b"\n", b"\r\n")))
    if out and rng.random() < 0.2:
        out = out.rstrip(b"\r\n")
    return bytes(out)


def one_file(rng: random.Random, real: list[bytes]) -> bytes:
    """A whole file with one file-level defect (or none)."""
    data = join_lines(rng, [one_line(rng, real) for _ in range(rng.randint(0, 120))],
                      cr_only=rng.random() < 0.05)
    kind = rng.randrange(6)
    if kind == 0 and data:  # truncated anywhere
        data = data[:rng.randrange(len(data))]
    elif kind == 1:  # two files spliced at random points
        other = join_lines(rng, [one_line(rng, real) for _ in range(rng.randint(1, 60))])
        data = data[:rng.randint(0, len(data))] + other[rng.randint(0, len(other)):]
    elif kind == 2:  # a huge line somewhere
        huge = bytes(rng.choice(PRINTABLE) for _ in range(rng.randint(4090, 9000)))
        at = rng.randint(0, len(data))
        data = data[:at] + rng.choice((b"", b"\n")) + huge + rng.choice((b"", b"\n")) + data[at:]
    elif kind == 3 and data:  # NUL / non-ASCII bytes sprinkled
        b = bytearray(data)
        for _ in range(rng.randint(1, 5)):
            b.insert(rng.randrange(len(b) + 1), rng.choice((0, 0x80, 0xC3, 0xFF)))
        data = bytes(b)
    return data


def reference(data: bytes) -> tuple[dict[int, dict], dict[int, tuple[int, bytes, str]]]:
    """What decode_bytes must answer, by splitting lines by hand and calling decode_line.

    Returns (valid: line_no -> record, rejects: line_no -> (offset, line, reason)).
    """
    pieces = data.split(b"\n")
    if pieces[-1] == b"":
        pieces.pop()
    valid: dict[int, dict] = {}
    rejects: dict[int, tuple[int, bytes, str]] = {}
    offset = 0
    for no, piece in enumerate(pieces, 1):
        line = piece[:-1] if piece.endswith(b"\r") else piece
        if line:
            try:
                valid[no] = decode_line(line)
            except DecodeError as exc:
                rejects[no] = (offset, line, exc.reason)
            except Exception as exc:  # property (a)
                raise PropertyFailure(f"decode_line raised {exc!r} on {line!r}") from exc
        offset += len(piece) + 1
    return valid, rejects


def check_decode(data: bytes, chunk_size: int) -> tuple[int, int]:
    """Properties (a) and (b) for one buffer; returns (valid, rejects) counts."""
    valid, rejects = reference(data)
    try:
        table, got = decode_bytes(data, chunk_size=chunk_size)
    except Exception as exc:
        raise PropertyFailure(f"decode_bytes raised {exc!r} (chunk {chunk_size}) on {data!r}") from exc
    columns = table.to_pydict()
    lines = columns.pop("line_no")
    if lines != sorted(valid):
        extra = sorted(set(lines) - set(valid))[:3]
        missing = sorted(set(valid) - set(lines))[:3]
        raise PropertyFailure(f"valid rows differ (chunk {chunk_size}): fast only {extra}, "
                              f"reference only {missing}; data {data!r}")
    for i, no in enumerate(lines):
        record = valid[no]
        for col, values in columns.items():
            if values[i] != record.get(col):
                raise PropertyFailure(f"line {no} column {col}: fast {values[i]!r} != "
                                      f"reference {record.get(col)!r}; data {data!r}")
    if [r.line_no for r in got] != sorted(rejects):
        raise PropertyFailure(f"reject lines differ (chunk {chunk_size}): fast "
                              f"{[r.line_no for r in got][:5]}, reference {sorted(rejects)[:5]}; "
                              f"data {data!r}")
    for r in got:
        offset, line, reason = rejects[r.line_no]
        if r.byte_offset != offset or r.raw != line[:MAX_RAW] or not (
                r.reason.startswith(reason) or r.reason.startswith("line too long")):
            raise PropertyFailure(f"reject of line {r.line_no} differs: fast {r!r}, reference "
                                  f"{(offset, line[:80], reason)!r}")
    return len(valid), len(rejects)


def shrink(data: bytes, chunk_size: int) -> str:
    """The failure of the smallest single line of ``data`` that fails alone, else ''."""
    for line in sorted(data.splitlines(keepends=True), key=len):
        for chunk in (chunk_size, 1 << 22):
            try:
                check_decode(line, chunk)
            except PropertyFailure as exc:
                return str(exc)
    return ""


def check_decode_shrunk(data: bytes, chunk_size: int) -> tuple[int, int]:
    """:func:`check_decode`, reporting a minimal failing line when there is one."""
    try:
        return check_decode(data, chunk_size)
    except PropertyFailure as exc:
        small = shrink(data, chunk_size)
        raise PropertyFailure(f"minimal case: {small}" if small else str(exc)[:4000]) from None


def check_ingest(conn, data: bytes, name: str, chunk_size: int) -> str:
    """Property (c) for one file; returns the outcome ('landed', 'refused', 'duplicate')."""
    from pitch.ingest import ingest_bytes
    from pitch.ingest_text import NOT_PITCH_AFTER

    plain = data
    if data[:2] == b"\x1f\x8b":
        try:
            plain = gzip.decompress(data)
        except Exception:
            plain = None  # a broken .gz: only "IngestError or lands consistently" applies
    before = conn.execute("SELECT count(*) FROM files").fetchone()[0]
    try:
        result = ingest_bytes(conn, data, name, chunk_size=chunk_size)
    except IngestError as exc:
        if conn.execute("SELECT count(*) FROM files").fetchone()[0] != before:
            raise PropertyFailure(f"{exc} but the database changed") from None
        if plain is not None:
            valid, rejects = reference(plain)
            if valid and sum(1 for r in rejects if r < min(valid)) < NOT_PITCH_AFTER:
                raise PropertyFailure(f"refused a file with PITCH messages: {exc}; {data[:300]!r}")
        return "refused"
    except Exception as exc:
        raise PropertyFailure(f"ingest raised {exc!r} on {data[:300]!r}") from exc
    if result.status == "duplicate":
        return "duplicate"
    stored = conn.execute("SELECT (SELECT count(*) FROM messages WHERE file_id = $f), "
                          "(SELECT count(*) FROM rejects WHERE file_id = $f)",
                          {"f": result.file_id}).fetchone()
    if stored != (result.messages, result.rejects):
        raise PropertyFailure(f"{name}: result says {result.summary()}, database holds {stored}")
    if plain is not None:
        valid, rejects = reference(plain)
        if (result.messages, result.rejects) != (len(valid), len(rejects)):
            raise PropertyFailure(f"{name}: {result.messages} messages + {result.rejects} rejects, "
                                  f"expected {len(valid)} + {len(rejects)}; {data[:300]!r}")
    return "landed"


def real_lines(limit: int = 5000) -> list[bytes]:
    """Real lines: the committed sample if present, else the shared real file, else none."""
    for path in (ROOT / "data" / "sample.pitch", ROOT.parent / "shared" / "pitch_data.txt"):
        if path.exists():
            return [l.rstrip(b"\r") for l in path.read_bytes().splitlines()[:limit] if l.strip()]
    return []


def pick_chunk(rng: random.Random, size: int) -> int:
    """A random chunk size, but not so small that one buffer needs thousands of feeds."""
    return rng.choice([c for c in CHUNKS if c * 2000 >= size] or [1 << 22])


def run(cases: int, seed: int, *, batch: int = 2000, files_per_batch: int = 20,
        ingest_every: int = 0, conn=None, real: list[bytes] | None = None) -> Counter:
    """Run about ``cases`` cases; returns counts. Raises PropertyFailure on the first failure.

    Each round checks one buffer of ``batch`` lines, then ``files_per_batch``
    whole files; every ``ingest_every``-th file is also ingested into ``conn``.
    """
    rng = random.Random(seed)
    real = real if real is not None else real_lines()
    real = real or [valid_line(rng, l) for l in LAYOUTS]
    stats: Counter = Counter()
    while stats["cases"] < cases:
        n = min(batch, cases - stats["cases"])
        data = join_lines(rng, [one_line(rng, real) for _ in range(n)])
        v, r = check_decode_shrunk(data, pick_chunk(rng, len(data)))
        stats.update({"cases": n, "line cases": n, "valid lines": v, "rejected lines": r})
        for _ in range(min(files_per_batch, cases - stats["cases"])):
            data = one_file(rng, real)
            v, r = check_decode_shrunk(data, pick_chunk(rng, len(data)))
            stats.update({"cases": 1, "file cases": 1, "valid lines": v, "rejected lines": r})
            if conn is not None and ingest_every and stats["file cases"] % ingest_every == 0:
                if rng.random() < 0.1:  # the same file gzipped, sometimes cut short
                    data = gzip.compress(data)
                    data = data[:rng.randint(2, len(data))] if rng.random() < 0.3 else data
                outcome = check_ingest(conn, data, f"fuzz-{stats['file cases']}",
                                       rng.choice((4096, 65_536, 1 << 22)))
                stats["ingest " + outcome] += 1
    return stats


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ingest-every", type=int, default=20,
                   help="ingest every Nth file case into a temporary database (0: never)")
    args = p.parse_args(argv)
    import tempfile

    from pitch import store

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        conn = store.connect(Path(tmp) / "fuzz.duckdb") if args.ingest_every else None
        try:
            stats = run(args.cases, args.seed, ingest_every=args.ingest_every, conn=conn)
        except PropertyFailure as exc:
            print(f"FAILED (seed {args.seed}): {str(exc)[:2000]}")
            return 1
        finally:
            if conn is not None:
                conn.close()
    seconds = time.perf_counter() - started
    print(f"seed {args.seed}: {stats['cases']:,} cases in {seconds:.0f} s, all properties held")
    for key in sorted(stats):
        print(f"  {key:18} {stats[key]:>12,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
