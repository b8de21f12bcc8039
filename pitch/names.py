"""File names made safe to store, show and save."""

from __future__ import annotations

import re
import unicodedata

#: Longest file name (in UTF-8 bytes) most file systems accept.
NAME_MAX = 255


def safe_name(name: str, max_bytes: int = NAME_MAX) -> str:
    """The last path component of ``name`` without control or invisible characters.

    Directory parts (``/`` or ``\\``) are dropped, control, format (bidi
    overrides, zero-width) and other ``C*`` characters are removed, and a name
    longer than ``max_bytes`` keeps its end (where the extension is). Never
    empty: ``"unnamed"`` stands in.
    """
    base = re.split(r"[/\\]", name)[-1]
    base = "".join(ch for ch in base if not unicodedata.category(ch).startswith("C")).strip()
    if base in ("", ".", ".."):
        base = "unnamed"
    while len(base.encode()) > max_bytes:
        base = base[1:]
    return base


def fit(stem: str, tail: str, max_bytes: int = NAME_MAX) -> str:
    """``stem + tail`` cut from the stem's end so it fits in ``max_bytes``."""
    while stem and len((stem + tail).encode()) > max_bytes:
        stem = stem[:-1]
    return stem + tail
