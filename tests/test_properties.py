"""Properties of both decoders, with Hypothesis, built from the layout table.

For every layout, text and binary: any values the layout allows, written the
way the feed writes them, decode back to exactly those values, by the
reference decoder and by the fast one alike; and any bytes at all either
decode or become a reject with a reason, never another exception. The
million-case differential run lives in benchmarks/fuzz.py.
"""

from __future__ import annotations

import struct
from decimal import Decimal

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from pitch.binary import BinaryDecoder, Units
from pitch.binary_encode import encode
from pitch.binary_reference import Unit, decode_message, decode_units
from pitch.columns import decode_bytes
from pitch.decode import decode_line
from pitch.errors import DecodeError
from pitch.generate import TEMPLATES, base36
from pitch.layouts import BINARY_LAYOUTS, LAYOUTS, Field, Kind, Layout

PRINTABLE = "".join(chr(c) for c in range(32, 127))
FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _alpha(f: Field) -> st.SearchStrategy[str]:
    # Right-padded with spaces on the wire: a value never ends in a space.
    text = st.text(PRINTABLE, max_size=f.width).map(lambda s: s.rstrip(" "))
    return text.filter(bool) if f.required else text


def value(f: Field) -> st.SearchStrategy:
    """What a field of this kind may hold, as the decoders give it back."""
    if f.kind is Kind.NUMERIC:
        return st.integers(0, 10 ** f.width - 1)
    if f.kind is Kind.PRICE:
        return st.integers(0, 10 ** f.width - 1).map(lambda n: Decimal(n) / 10_000)
    if f.kind is Kind.BASE36:
        return st.integers(0, 36 ** 12 - 1)
    if f.kind is Kind.CODE:
        return st.sampled_from(f.values)
    if f.kind is Kind.ALPHA:
        return _alpha(f)
    if f.kind in (Kind.UINT, Kind.SECONDS):
        return st.integers(0, 256 ** f.width - 1)
    if f.kind is Kind.ID:
        return st.integers(0, 2 ** 64 - 1)
    if f.kind is Kind.PRICE_SHORT:
        return st.integers(0, 65_535).map(lambda n: Decimal(n) / 100)
    return st.integers(0, 10 ** 18 - 1).map(lambda n: Decimal(n) / 10_000)  # PRICE_LONG


def values(layout: Layout) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({f.column: value(f) for f in layout.fields})


def text_line(layout: Layout, record: dict, time_ms: int) -> bytes:
    args = [base36(record[f.column]) if f.kind is Kind.BASE36 else
            int(record[f.column] * 10_000) if f.kind is Kind.PRICE else record[f.column]
            for f in layout.fields]
    return TEMPLATES[layout.code, layout.length](time_ms, *args).rstrip("\n").encode()


@st.composite
def text_case(draw) -> tuple[Layout, dict, int]:
    layout = draw(st.sampled_from(LAYOUTS))
    return layout, draw(values(layout)), draw(st.integers(0, 86_399_999))


@FAST
@given(st.lists(text_case(), min_size=1, max_size=20), st.integers(1, 200))
def test_text_values_round_trip_through_both_decoders(cases, chunk) -> None:
    lines = [text_line(layout, record, t) for layout, record, t in cases]
    table, rejects = decode_bytes(b"\n".join(lines), chunk_size=chunk)
    assert rejects == []
    rows = table.to_pylist()
    for (layout, record, t), line, row in zip(cases, lines, rows):
        want = {"time_ns": t * 1_000_000, "type": layout.code, **record}
        assert decode_line(line) == want
        assert {k: v for k, v in row.items() if k in want} == want


@st.composite
def binary_case(draw) -> tuple[Layout, dict]:
    layout = draw(st.sampled_from(BINARY_LAYOUTS))
    return layout, draw(values(layout))


def _fast(payloads: list[bytes]) -> tuple[list[dict], list]:
    starts = np.cumsum([0] + [len(p) for p in payloads])[:-1]
    n = len(payloads)
    batch = BinaryDecoder().feed(Units(b"".join(payloads), starts, np.arange(1, n + 1),
                                       starts))
    rows = sorted(batch.table.to_pylist() + batch.other.to_pylist(), key=lambda r: r["line_no"])
    return rows, batch.rejects


@FAST
@given(st.lists(binary_case(), min_size=1, max_size=30))
def test_binary_values_round_trip_through_both_decoders(cases) -> None:
    messages = [encode(layout, record) for layout, record in cases]
    unit = struct.pack("<HBBI", 8 + sum(map(len, messages)), len(messages), 1, 1)
    payload = unit + b"".join(messages)
    want = decode_units([Unit(1, 0, payload)])
    assert want.rejects == []
    for (layout, record), m, raw in zip(cases, want.messages, messages):
        assert decode_message(raw) == {"type": layout.code, **record}
        assert {k: m[k] for k in record if k != "time_ns"} == \
            {k: v for k, v in record.items() if k != "time_ns"}
    rows, rejects = _fast([payload])
    assert rejects == []
    assert [{k: v for k, v in r.items() if v is not None} for r in rows] == \
        [{k: v for k, v in m.items() if v is not None} for m in want.messages]


@FAST
@given(st.binary(min_size=2, max_size=255))
def test_any_message_bytes_decode_or_are_a_reject_with_a_reason(raw) -> None:
    raw = bytes([len(raw)]) + raw[1:]  # its length byte frames it
    try:
        decode_message(raw)
    except DecodeError as exc:
        assert exc.reason
        unit = struct.pack("<HBBI", 8 + len(raw), 1, 1, 1) + raw
        rows, rejects = _fast([unit])
        assert rows == [] and [r.reason for r in rejects] == [exc.reason]


@FAST
@given(st.binary(max_size=300))
def test_any_text_line_decodes_or_raises_our_error(raw) -> None:
    line = raw.replace(b"\n", b"").replace(b"\r", b"")
    try:
        decode_line(line)
    except DecodeError as exc:
        assert exc.reason
