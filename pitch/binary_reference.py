"""Reference decoder of binary Multicast PITCH messages: slow, plain, obviously correct.

It is the specification the fast decoder (:mod:`pitch.binary`) is tested
against, message by message, with :mod:`struct` and loops. Input is what the
framing layer (:mod:`pitch.framing`) yields: Sequenced Units with the packet
(frame) they came in and their byte offset in the stream. No I/O.

The rules, in one place:

- Units are read in stream order; the k-th message of a unit has sequence
  ``header sequence + k``; sequences are per unit (the header's unit byte).
- A message whose (unit, sequence) was already received (a retransmission,
  or both A and B feeds captured) is a *duplicate*: dropped and counted, even
  when its bytes differ. The first copy wins.
- A message of an unknown type, or whose length byte is not one of its type's
  lengths, or with a field out of its domain, is a *reject* (packet, offset,
  raw bytes, reason); the unit's other messages still land.
- ``time_ns`` = the seconds of the last Time message (0x20) of the same unit
  x 10^9 + the message's Time Offset; NULL (None) before the unit's first Time
  message in the stream (a capture that starts mid-stream). A Time message's
  own time is its seconds.
- Stored messages are numbered 1, 2, ... in stream order (``line_no``);
  rejects are numbered 1, 2, ... among the file's rejects.
- Gaps: per unit, the sequence numbers never received between the lowest and
  the highest received (rejects count as received). Heartbeats (count 0)
  carry no message and count for nothing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

from .errors import DecodeError
from .layouts import BINARY_BY_TYPE_LENGTH, BINARY_LENGTHS, TYPE_NAMES, Field, Kind

NS = 1_000_000_000
#: DECIMAL(18,4) holds prices below this many ten-thousandths.
PRICE_LIMIT = 10 ** 18
#: Bytes of a rejected message kept (a message is at most 255 bytes anyway).
MAX_RAW = 1024

_UINT = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}


@dataclass(frozen=True)
class Unit:
    """One Sequenced Unit as framed: its frame number, stream offset and bytes."""

    packet: int
    offset: int
    payload: bytes


@dataclass(frozen=True)
class BinaryReject:
    line_no: int  # 1-based among the file's rejects
    packet: int
    byte_offset: int  # of the message in the (decompressed) stream
    raw: bytes
    reason: str


@dataclass
class Decoded:
    """Everything the reference decoder read from a stream of units."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[BinaryReject] = field(default_factory=list)
    duplicates: int = 0
    gaps: list[tuple[int, int, int, int]] = field(default_factory=list)  # unit, expected, received, missing


def type_code(type_byte: int) -> str:
    """``0x22``: how a binary type is stored and shown."""
    return f"0x{type_byte:02X}"


def _value(f: Field, raw: bytes) -> Any:
    """One field's value, or raise DecodeError with the reason."""
    if f.kind in (Kind.UINT, Kind.ID, Kind.SECONDS):
        return struct.unpack(_UINT[f.width], raw)[0]
    if f.kind is Kind.PRICE_SHORT:
        return Decimal(struct.unpack("<H", raw)[0]) / 100
    if f.kind is Kind.PRICE_LONG:
        ticks = struct.unpack("<Q", raw)[0]
        if ticks >= PRICE_LIMIT:
            raise DecodeError(f"{f.column} out of range: {ticks}")
        return Decimal(ticks) / 10_000
    if any(b < 32 or b > 126 for b in raw):
        raise DecodeError(f"{f.column} is not printable ASCII: {raw!r}")
    text = raw.decode("ascii")
    if f.kind is Kind.CODE:
        if text not in f.values:
            raise DecodeError(f"{f.column} must be {'/'.join(f.values)}: {text!r}")
        return text
    text = text.rstrip(" ")
    if f.required and not text:
        raise DecodeError(f"{f.column} is blank")
    return text


def decode_message(raw: bytes) -> dict[str, Any]:
    """The fields of one message (its length byte first); DecodeError with the reason."""
    length, type_byte = raw[0], raw[1]
    if type_byte not in BINARY_LENGTHS:
        raise DecodeError(f"unknown message type {type_code(type_byte)}")
    layout = BINARY_BY_TYPE_LENGTH.get((type_byte, length))
    if layout is None:
        expected = " or ".join(map(str, BINARY_LENGTHS[type_byte]))
        raise DecodeError(f"wrong length {length} for {type_code(type_byte)} "
                         f"{TYPE_NAMES[type_code(type_byte)]} (expected {expected})")
    record: dict[str, Any] = {"type": layout.code}
    for f in layout.fields:
        try:
            record[f.column] = _value(f, raw[f.offset:f.end])
        except DecodeError as exc:
            raise DecodeError(exc.reason, f.offset) from None
    return record


def decode_units(units: Iterable[Unit]) -> Decoded:
    """Decode a stream of units by the rules in this module's docstring."""
    out = Decoded()
    last_seconds: dict[int, int] = {}
    received: dict[int, set[int]] = {}
    for u in units:
        _, count, unit, sequence = struct.unpack_from("<HBBI", u.payload, 0)
        pos = 8
        for k in range(count):
            length = u.payload[pos]
            raw = u.payload[pos:pos + length]
            seen = received.setdefault(unit, set())
            if sequence + k in seen:
                out.duplicates += 1
                pos += length
                continue
            seen.add(sequence + k)
            try:
                record = decode_message(raw)
            except DecodeError as exc:
                out.rejects.append(BinaryReject(len(out.rejects) + 1, u.packet, u.offset + pos,
                                                raw[:MAX_RAW], exc.reason))
                pos += length
                continue
            if record["type"] == "0x20":
                last_seconds[unit] = record.pop("time_ns")
                record["time_ns"] = last_seconds[unit] * NS
            elif unit in last_seconds:
                record["time_ns"] = last_seconds[unit] * NS + record.get("time_offset_ns", 0)
            else:
                record["time_ns"] = None
            record.update(line_no=len(out.messages) + 1, unit=unit, sequence=sequence + k,
                          packet=u.packet)
            out.messages.append(record)
            pos += length
    for unit in sorted(received):
        seqs = sorted(received[unit])
        for a, b in zip(seqs, seqs[1:]):
            if b > a + 1:
                out.gaps.append((unit, a + 1, b, b - a - 1))
    return out
