"""Binary Multicast PITCH messages and Sequenced Units built from the layout table.

The inverse of :mod:`pitch.binary_reference`, for the session generator and
tests: :func:`encode` writes one message of a layout from column values,
:func:`unit` wraps messages in a Sequenced Unit Header. Reserved bytes are 0.
"""

from __future__ import annotations

import struct
from decimal import Decimal
from typing import Any

from .layouts import BINARY_BY_TYPE_LENGTH, Kind, Layout

_UINT = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}


def _bytes(kind: Kind, width: int, value: Any) -> bytes:
    if kind in (Kind.UINT, Kind.ID, Kind.SECONDS):
        return struct.pack(_UINT[width], int(value))
    if kind is Kind.PRICE_SHORT:
        return struct.pack("<H", int(Decimal(str(value)) * 100))
    if kind is Kind.PRICE_LONG:
        return struct.pack("<Q", int(Decimal(str(value)) * 10_000))
    text = str(value).encode("ascii")
    if len(text) > width:
        raise ValueError(f"{value!r} is wider than {width} bytes")
    return text.ljust(width, b" ")


def encode(layout: Layout, values: dict[str, Any]) -> bytes:
    """One message: its length byte, type byte and every field of ``values`` (by column).

    A field missing from ``values`` is written as zeros (a numeric) or spaces.
    """
    out = bytearray(layout.length)
    out[0], out[1] = layout.length, layout.type_id
    for f in layout.fields:
        if f.column in values and values[f.column] is not None:
            value = values[f.column]
            if f.kind is Kind.SECONDS:
                value = int(value)
        else:
            value = 0 if f.kind not in (Kind.ALPHA, Kind.CODE) else " "
        out[f.offset:f.end] = _bytes(f.kind, f.width, value)
    return bytes(out)


def message(type_byte: int, length: int | None = None, **values: Any) -> bytes:
    """:func:`encode` by type byte (and length, for types that have two)."""
    layouts = [l for (t, _), l in BINARY_BY_TYPE_LENGTH.items() if t == type_byte]
    layout = (BINARY_BY_TYPE_LENGTH[type_byte, length] if length is not None
              else max(layouts, key=lambda l: l.length))
    return encode(layout, values)


def unit(sequence: int, unit_id: int, messages: list[bytes]) -> bytes:
    """A Sequenced Unit: the 8-byte header (length, count, unit, sequence) and the messages."""
    body = b"".join(messages)
    return struct.pack("<HBBI", 8 + len(body), len(messages), unit_id, sequence) + body
