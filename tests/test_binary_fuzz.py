"""Fuzzed captures: ingest (fast framing, fast decoding, in chunks) equals the slow path.

The slow path is tests/capture_support.py's reference framer and
pitch.binary_reference's decoder, both plain loops over the whole buffer.
Every case is a generated session, damaged in one of the ways captures are:
truncated records, wrong lengths, zero-length messages, counts that overrun,
random bytes written over it. Row for row, reject for reject, gap for gap.
"""

from __future__ import annotations

import gzip
import random
import struct

import pytest

from capture_support import reference_frames
from pitch import capture_write, ingest
from pitch.binary_reference import Unit, decode_units
from pitch.errors import IngestError
from pitch.generate_binary import session

SESSION = session(4_000, seed=9, gaps=True, retransmissions=True, heartbeats=True)


def damaged(rng: random.Random, fmt: str) -> bytes:
    units = list(SESSION.units)
    how = rng.choice(["length", "zero", "overrun", "noise", "truncate", "unit-length"])
    for _ in range(rng.randrange(1, 6)):
        i = rng.randrange(len(units))
        u = bytearray(units[i])
        if how == "length" and len(u) > 9:  # a message's length byte off by a little
            u[8] = max(0, u[8] + rng.choice((-3, -1, 1, 2)))
        elif how == "zero" and len(u) > 9:
            u[8] = 0
        elif how == "overrun":
            u[2] = min(255, u[2] + rng.randrange(1, 4))
        elif how == "unit-length":
            struct.pack_into("<H", u, 0, len(u) + rng.choice((-2, 3)))
        units[i] = bytes(u)
    data = bytearray(capture_write.write_pcap(units) if fmt == "pcap"
                     else capture_write.write_units(units))
    if how == "noise":
        for _ in range(rng.randrange(1, 20)):
            at = rng.randrange(24 if fmt == "pcap" else 0, len(data))
            data[at] = rng.randrange(256)
    if how == "truncate" or rng.random() < 0.3:
        data = data[:rng.randrange(len(data) // 2, len(data))]
    return bytes(data)


def slow(data: bytes, fmt: str):
    ref = reference_frames(data, fmt)
    return ref, decode_units([Unit(p.packet, p.offset, p.payload) for p in ref.packets])


def clean(row: dict) -> dict:
    return {k: v for k, v in row.items() if v not in (None, "") and k != "file_id"}


@pytest.mark.parametrize("case", range(24))
def test_damaged_captures_ingest_as_the_slow_path_reads_them(db, tmp_path, case: int) -> None:
    rng = random.Random(case)
    fmt = "pcap" if case % 2 else "units"
    data = damaged(rng, fmt)
    ref, want = slow(data, fmt)
    path = tmp_path / f"case.{fmt}"
    path.write_bytes(data)
    try:
        result = ingest.ingest_path(db, path, chunk_size=rng.choice((4096, 65536, 1 << 20)))
    except IngestError as exc:  # only when not one unit frames: the slow path agrees
        assert not ref.packets, exc
        assert db.execute("SELECT count(*) FROM files").fetchone()[0] == 0
        return
    cur = db.execute("SELECT * FROM messages ORDER BY line_no")
    names = [d[0] for d in cur.description]
    assert [clean(dict(zip(names, r))) for r in cur.fetchall()] == \
        [clean(m) for m in want.messages]
    got_rejects = sorted(db.execute("SELECT packet, byte_offset, reason FROM rejects").fetchall(),
                         key=repr)
    want_rejects = sorted([(r.packet, r.byte_offset, r.reason) for r in want.rejects] +
                          [(p.packet or None, p.offset, p.reason) for p in ref.problems], key=repr)
    assert got_rejects == want_rejects
    assert result.rejects == len(want_rejects)
    assert db.execute("SELECT unit, expected_sequence, received_sequence, missing FROM gaps "
                      "ORDER BY unit, expected_sequence").fetchall() == want.gaps
    assert db.execute("SELECT duplicates, skipped_packets FROM files").fetchone() == \
        (want.duplicates, sum(ref.skipped.values()))


def test_a_gzip_cut_short_is_refused_and_changes_nothing(db, tmp_path) -> None:
    data = gzip.compress(capture_write.write_pcap(SESSION.units))
    path = tmp_path / "cut.pcap.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IngestError, match="cannot read"):
        ingest.ingest_path(db, path)
    assert db.execute("SELECT count(*) FROM files").fetchone()[0] == 0
