"""Reference decoder: one line in, one typed record out.

Straightforward and slow on purpose: it is the specification the fast
columnar decoder (:mod:`pitch.columns`) is tested against, and it writes the
reason of every reject. No I/O.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .errors import DecodeError
from .layouts import (BY_CODE, BY_CODE_LENGTH, NS_PER_MS, PRICE_SCALE, TIMESTAMP_WIDTH,
                      TYPE_OFFSET, Field, Kind)

_BASE36 = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = frozenset(b"0123456789")

Record = dict[str, Any]


def _show(raw: bytes) -> str:
    return repr(raw.decode("ascii"))


def _field(f: Field, raw: bytes, at: int) -> Any:
    if f.kind in (Kind.NUMERIC, Kind.PRICE):
        if not all(b in _DIGITS for b in raw):
            raise DecodeError(f"{f.column} is not numeric: {_show(raw)}", at)
        value = int(raw)
        return Decimal(value) / PRICE_SCALE if f.kind is Kind.PRICE else value
    if f.kind is Kind.BASE36:
        if not all(b in _BASE36 for b in raw):
            raise DecodeError(f"{f.column} is not base-36: {_show(raw)}", at)
        return int(raw, 36)
    text = raw.decode("ascii")
    if f.kind is Kind.CODE:
        if text not in f.values:
            allowed = "/".join(f.values)
            raise DecodeError(f"{f.column} must be {allowed}: {text!r}", at)
        return text
    text = text.rstrip(" ")
    if f.required and not text:
        raise DecodeError(f"{f.column} is blank", at)
    return text


def decode_line(line: bytes) -> Record:
    """Decode one line (without its line ending) into ``{column: value}``.

    The record has ``time_ns`` and ``type`` plus the columns of the message's
    layout. Raises :class:`DecodeError` for anything that is not a message.
    """
    for i, b in enumerate(line):
        if b < 32 or b > 126:
            kind = "non-ASCII" if b > 127 else "non-printable"
            raise DecodeError(f"{kind} byte 0x{b:02x} at offset {i}", i)
    skip = 1 if line[:1] == b"S" else 0
    msg = line[skip:]
    if msg[:1] and not skip and msg[:1] not in b"0123456789":
        raise DecodeError(f"not a sequenced message: packet type {chr(msg[0])!r}", 0)
    if len(msg) <= TYPE_OFFSET:
        raise DecodeError(f"too short for a message: {len(msg)} bytes", skip)
    code = chr(msg[TYPE_OFFSET])
    layouts = BY_CODE.get(code)
    if layouts is None:
        raise DecodeError(f"unknown message type {code!r}", skip + TYPE_OFFSET)
    layout = BY_CODE_LENGTH.get((code, len(msg)))
    if layout is None:
        expected = " or ".join(str(n) for n in sorted(l.length for l in layouts))
        raise DecodeError(f"wrong length {len(msg)} for {code!r} {layouts[0].name} "
                          f"(expected {expected})", skip)
    stamp = msg[:TIMESTAMP_WIDTH]
    if not all(b in _DIGITS for b in stamp):
        raise DecodeError(f"timestamp is not numeric: {_show(stamp)}", skip)
    record: Record = {"time_ns": int(stamp) * NS_PER_MS, "type": code}
    for f in layout.fields:
        record[f.column] = _field(f, msg[f.offset:f.end], skip + f.offset)
    return record
