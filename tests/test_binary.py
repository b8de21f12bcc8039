"""The fast binary decoder equals the struct-based reference, message for message.

Units are built from the layout table (:mod:`pitch.binary_encode`) or read
from the public files in ../shared/binary; every case is decoded whole and
split into chunks of units, and compared row for row and reject for reject.
"""

from __future__ import annotations

import random
import struct
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from pitch.binary import COMMON_SCHEMA, SCHEMA, BinaryDecoder, Units
from pitch.binary_encode import encode, message, unit
from pitch.binary_reference import NS, Unit, decode_units
from pitch.layouts import BINARY_LAYOUTS, BINARY_LENGTHS, Kind

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "binary"


def raw_units(data: bytes) -> list[Unit]:
    """Units back to back (a test-only framer: the real one is pitch.framing)."""
    out, pos, n = [], 0, 0
    while pos < len(data):
        length = struct.unpack_from("<H", data, pos)[0]
        n += 1
        out.append(Unit(n, pos, data[pos:pos + length]))
        pos += length
    return out


def fast(units: list[Unit], chunks: int = 1) -> tuple[list[dict], list, int, list]:
    """Decode with the fast decoder, the units split into ``chunks`` feeds."""
    dec = BinaryDecoder()
    rows, rejects = [], []
    bounds = np.linspace(0, len(units), chunks + 1).astype(int)
    for lo, hi in zip(bounds, bounds[1:]):
        part = units[lo:hi]
        buf = b"".join(u.payload for u in part)
        starts = np.cumsum([0] + [len(u.payload) for u in part])[:-1]
        batch = dec.feed(Units(buf, starts, np.array([u.packet for u in part], np.int64),
                               np.array([u.offset for u in part], np.int64)))
        assert (batch.table.schema, batch.other.schema) == (COMMON_SCHEMA, SCHEMA)
        rows += batch.table.to_pylist() + batch.other.to_pylist()
        rejects += batch.rejects
    rows.sort(key=lambda r: r["line_no"])
    return rows, rejects, dec.duplicates, dec.finish()


def compare(units: list[Unit], chunks: tuple[int, ...] = (1, 2, 5)) -> None:
    want = decode_units(units)
    for n in chunks:
        rows, rejects, duplicates, gaps = fast(units, n)
        assert [{k: v for k, v in r.items() if v is not None} for r in rows] == \
            [{k: v for k, v in m.items() if v is not None} for m in want.messages], n
        assert rejects == want.rejects, n
        assert (duplicates, gaps) == (want.duplicates, want.gaps), n


def test_fpganow_raw_units_decode_as_that_project_printed_them() -> None:
    units = raw_units((SHARED / "fpganow_multi.dat").read_bytes())
    got = decode_units(units)
    assert [(u.packet, struct.unpack_from("<I", u.payload, 4)[0]) for u in units] == \
        [(1, 1), (2, 4), (3, 6), (4, 9)]
    adds = [m for m in got.messages if m["type"] in ("0x21", "0x22")]
    # fpganow_multi.dat.txt: ids, sides, quantities, symbols, prices (printed to the cent:
    # the file holds 331.0299 where it prints $331.03, from that generator's float rounding).
    assert [(m["order_id"].to_bytes(8, "little"), m["side"], m["shares"], m["symbol"],
             round(m["price"], 2)) for m in adds] == [
        (b"ORID0001", "B", 5, "MSFT", Decimal("332.08")),
        (b"ORID0002", "B", 125, "GE", Decimal("51.91")),
        (b"ORID0003", "B", 30, "MSFT", Decimal("331.03")),
        (b"ORID0004", "S", 5, "MSFT", Decimal("323.80")),
        (b"ORID0005", "B", 30, "MSFT", Decimal("325.61")),
        (b"ORID0006", "S", 150, "GE", Decimal("58.99")),
        (b"ORID0007", "S", 150, "GE", Decimal("54.47")),
        (b"ORID0008", "S", 100, "GE", Decimal("53.21")),
    ]
    # Times: 68,254 s then 68,255 s, plus each message's offset.
    assert [m["time_ns"] for m in got.messages] == [
        68_254 * NS, 68_254 * NS, 68_254 * NS + 200_000_000, 68_254 * NS + 400_000_000,
        68_254 * NS + 600_000_000, 68_254 * NS + 800_000_000, 68_255 * NS, 68_255 * NS,
        68_255 * NS + 200_000_000, 68_255 * NS + 400_000_000]
    assert [m["line_no"] for m in got.messages] == list(range(1, 11))
    assert (got.rejects, got.duplicates, got.gaps) == ([], 0, [])
    compare(units)


def _random_value(kind: Kind, width: int, values: str, rng: random.Random):
    if kind is Kind.SECONDS:
        return rng.randrange(34_200, 57_600)
    if kind in (Kind.UINT, Kind.ID):
        return rng.randrange(256 ** width)
    if kind is Kind.PRICE_SHORT:
        return Decimal(rng.randrange(65536)) / 100
    if kind is Kind.PRICE_LONG:
        return Decimal(rng.randrange(10 ** 12)) / 10_000
    if kind is Kind.CODE:
        return rng.choice(values)
    return "".join(rng.choice("ABCXYZ.") for _ in range(rng.randrange(1, width + 1)))


def random_message(rng: random.Random) -> bytes:
    """A valid message of any layout, or now and then a broken one."""
    roll = rng.random()
    if roll < 0.03:  # unknown type
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 12)))
        t = rng.choice([t for t in range(256) if t not in BINARY_LENGTHS])
        return bytes([len(body) + 2, t]) + body
    if roll < 0.06:  # known type, wrong length
        t = rng.choice(list(BINARY_LENGTHS))
        n = rng.choice([n for n in range(2, 60) if n not in BINARY_LENGTHS[t]])
        return bytes([n, t]) + bytes(rng.randrange(256) for _ in range(n - 2))
    layout = rng.choice(BINARY_LAYOUTS)
    values = {f.column: _random_value(f.kind, f.width, f.values, rng) for f in layout.fields}
    raw = bytearray(encode(layout, values))
    if roll < 0.10 and len(layout.fields) > 1:  # one field out of its domain
        f = rng.choice(layout.fields)
        if f.kind in (Kind.CODE, Kind.ALPHA):  # any byte of it, printable or just not
            raw[rng.randrange(f.offset, f.end)] = rng.choice([0, 7, 31, 127, 128, 200, ord("z")])
        elif f.kind is Kind.PRICE_LONG:
            raw[f.offset:f.end] = struct.pack("<Q", 2 ** 64 - 1)
    return bytes(raw)


def random_session(seed: int, n_units: int = 300) -> list[Unit]:
    """Units on 4 matching-engine units, with gaps, retransmissions and heartbeats."""
    rng = random.Random(seed)
    next_seq = {u: rng.randrange(1, 10_000) for u in (1, 2, 7, 200)}
    sent: list[bytes] = []
    units, offset = [], 0
    for packet in range(1, n_units + 1):
        roll = rng.random()
        if roll < 0.08 and sent:  # a retransmission of an earlier unit
            payload = rng.choice(sent)
        else:
            u = rng.choice(list(next_seq))
            count = 0 if roll < 0.15 else rng.randrange(1, 12)
            if count and rng.random() < 0.3:  # a Time message first
                msgs = [message(0x20, time_ns=rng.randrange(34_200, 57_600))]
                msgs += [random_message(rng) for _ in range(count - 1)]
            else:
                msgs = [random_message(rng) for _ in range(count)]
            payload = unit(next_seq[u], u, msgs)
            if count:
                sent.append(payload)
            next_seq[u] += count + (rng.randrange(1, 5) if rng.random() < 0.05 else 0)
        units.append(Unit(packet, offset, payload))
        offset += len(payload) + 42
    return units


@pytest.mark.parametrize("seed", range(12))
def test_fast_decoder_equals_the_reference_on_random_sessions(seed: int) -> None:
    units = random_session(seed)
    want = decode_units(units)
    assert want.messages and want.rejects and want.duplicates and want.gaps  # every case
    assert any(m["time_ns"] is None for m in want.messages)  # before a unit's first Time
    compare(units, (1, 3, 17))


def test_every_layout_round_trips_through_both_decoders() -> None:
    rng = random.Random(5)
    msgs, expected = [], []
    for layout in BINARY_LAYOUTS:
        values = {f.column: _random_value(f.kind, f.width, f.values, rng) for f in layout.fields}
        msgs.append(encode(layout, values))
        expected.append((layout.code, values))
    got = decode_units([Unit(1, 0, unit(1, 1, msgs))])
    assert got.rejects == []
    for m, (code, values) in zip(got.messages, expected):
        assert m["type"] == code
        for column, value in values.items():
            if column != "time_ns":
                assert m[column] == value, (code, column)
    compare([Unit(1, 0, unit(1, 1, msgs))])


def test_a_blank_required_field_is_a_reject_in_both_decoders() -> None:
    """Every layout with a field that may not be blank (a symbol): all spaces is a reject,
    one letter is not."""
    rng = random.Random(6)
    msgs, blank = [], 0
    for layout in BINARY_LAYOUTS:
        for f in (f for f in layout.fields if f.required):
            values = {g.column: _random_value(g.kind, g.width, g.values, rng)
                      for g in layout.fields}
            raw = bytearray(encode(layout, values))
            raw[f.offset:f.end] = b" " * f.width
            msgs.append(bytes(raw))
            raw[f.end - 1] = ord("Z")  # trailing letter, leading spaces: not blank
            msgs.append(bytes(raw))
            blank += 1
    units = [Unit(1, 0, unit(1, 1, msgs))]
    want = decode_units(units)
    assert blank > 3 and len(want.rejects) == blank and len(want.messages) == blank
    compare(units)
