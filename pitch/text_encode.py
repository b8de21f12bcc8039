"""Text PITCH lines built from the layout table: the inverse of the text decoders.

For the session generator and tests (the twin of :mod:`pitch.binary_encode`):
:data:`TEMPLATES` formats one line of each layout from its field values, so a
generator cannot drift from the decoder.
"""

from __future__ import annotations

from typing import Callable

from .layouts import BY_CODE_LENGTH, TIMESTAMP_WIDTH, TYPE_OFFSET, Kind, Layout


def _template(layout: Layout) -> Callable[..., str]:
    """``format(time_ms, *field values)`` for one layout, giving a file line.

    Arguments follow ``layout.fields``; base-36 fields take their 12-char
    text (see :func:`base36`). Gaps between fields (reserved bytes) are spaces.
    """
    parts = [f"S{{0:0{TIMESTAMP_WIDTH}d}}{layout.code}"]
    pos = TYPE_OFFSET + 1
    for index, f in sorted(enumerate(layout.fields, 1), key=lambda p: p[1].offset):
        parts.append(" " * (f.offset - pos))
        if f.kind in (Kind.NUMERIC, Kind.PRICE):
            parts.append(f"{{{index}:0{f.width}d}}")
        elif f.kind is Kind.ALPHA:
            parts.append(f"{{{index}:<{f.width}}}")
        else:  # BASE36 (already 12 chars) and one-char CODE
            parts.append(f"{{{index}}}")
        pos = f.end
    parts.append(" " * (layout.length - pos) + "\n")
    return "".join(parts).format


#: Line formatters by (type code, message length).
TEMPLATES: dict[tuple[str, int], Callable[..., str]] = {
    key: _template(layout) for key, layout in BY_CODE_LENGTH.items()}

_DIGITS36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_TRIPLES = [a + b + c for a in _DIGITS36 for b in _DIGITS36 for c in _DIGITS36]
_T = 36 ** 3


def base36(n: int) -> str:
    """12-character base-36 text of ``0 <= n < 36**12`` (table lookups, no loop)."""
    return (_TRIPLES[n // _T ** 3] + _TRIPLES[n // _T ** 2 % _T]
            + _TRIPLES[n // _T % _T] + _TRIPLES[n % _T])
