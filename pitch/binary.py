"""Fast decoder of binary Multicast PITCH messages: framed units in, Arrow tables out.

Sans-I/O and streaming: :class:`BinaryDecoder` is fed the Sequenced Units of
a chunk of the stream (as framed by :mod:`pitch.framing`) and returns their
messages and rejects; :meth:`BinaryDecoder.finish` gives the gaps. It follows
exactly the rules of :mod:`pitch.binary_reference` (duplicates, rejects,
time, line numbers, gaps), which tests hold it to, without a Python loop per
message: units are stepped "message k of every unit" at once, and each
layout's fields are read for all its messages with one gather.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from .binary_reference import MAX_RAW, NS, PRICE_LIMIT, BinaryReject, decode_message
from .columns import _ARROW_TYPES, _alpha_key, _codes_to_strings, _decimal, _keys_to_strings
from .layouts import BINARY_FIELD_COLUMNS, BINARY_LAYOUTS, Kind, Layout

_HEAD = [("line_no", pa.int64()), ("time_ns", pa.int64()), ("type", _ARROW_TYPES[Kind.CODE]),
         ("unit", pa.int64()), ("sequence", pa.int64()), ("packet", pa.int64())]
_TYPES = {**_ARROW_TYPES, Kind.UINT: pa.int64(), Kind.ID: pa.uint64(),
          Kind.PRICE_SHORT: pa.decimal128(18, 4), Kind.PRICE_LONG: pa.decimal128(18, 4)}
#: Arrow schema of a binary batch (the ``messages_binary`` columns but file_id).
SCHEMA = pa.schema(_HEAD + [(c, _TYPES[k]) for c, k in BINARY_FIELD_COLUMNS.items()])

#: Layout index by (type byte, length byte); -1: not a message we know.
_LAYOUT_AT = np.full((256, 256), -1, np.int16)
for _i, _l in enumerate(BINARY_LAYOUTS):
    _LAYOUT_AT[_l.type_id, _l.length] = _i
_TIME = 0x20
_PRINTABLE = np.zeros(256, bool)
_PRINTABLE[32:127] = True
_INT_DTYPES = {1: "<u1", 2: "<u2", 4: "<u4", 8: "<u8"}


@dataclass
class Units:
    """The Sequenced Units of one chunk: one buffer and where each unit starts.

    ``starts`` index ``buf``; ``packets`` are frame numbers (or unit ordinals
    in a raw unit file) and ``offsets`` each unit's byte offset in the stream.
    Every unit is already known to be well framed (its header length is its
    size and its messages fill it exactly).
    """

    buf: bytes
    starts: np.ndarray
    packets: np.ndarray
    offsets: np.ndarray


@dataclass
class BinaryBatch:
    """What one :meth:`BinaryDecoder.feed` produced."""

    table: pa.Table  # valid messages, grouped by layout; line_no gives stream order
    rejects: list[BinaryReject] = field(default_factory=list)
    duplicates: int = 0
    #: Where each layout's rows are in ``table``: (code, start, length).
    runs: list[tuple[str, int, int]] = field(default_factory=list)


def _gather(a: np.ndarray, pos: np.ndarray, offset: int, width: int) -> np.ndarray:
    """The bytes ``[pos + offset, pos + offset + width)`` of every message: (n, width)."""
    return a[(pos + offset)[:, None] + np.arange(width)]


def _uint(block: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(block).view(_INT_DTYPES[block.shape[1]]).ravel()


class _Intervals:
    """Disjoint, sorted ranges of received keys (unit << 40 | sequence): small however long."""

    def __init__(self) -> None:
        self.lo = np.zeros(0, np.int64)
        self.hi = np.zeros(0, np.int64)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        if not len(self.lo):
            return np.zeros(len(keys), bool)
        i = np.searchsorted(self.lo, keys, side="right") - 1
        return (i >= 0) & (keys <= self.hi[np.maximum(i, 0)])

    def add(self, keys: np.ndarray) -> None:
        """Add distinct keys not yet contained."""
        lo = np.concatenate([self.lo, keys])
        hi = np.concatenate([self.hi, keys])
        order = np.argsort(lo, kind="stable")
        lo, hi = lo[order], hi[order]
        reach = np.maximum.accumulate(hi)
        new = np.ones(len(lo), bool)
        new[1:] = lo[1:] > reach[:-1] + 1
        starts = np.flatnonzero(new)
        self.lo = lo[starts]
        self.hi = np.maximum.reduceat(hi, starts) if len(starts) else hi[:0]


class BinaryDecoder:
    """Streaming decoder of Sequenced Units (see the module docstring)."""

    def __init__(self) -> None:
        self._lines = 0  # messages stored so far
        self._rejects = 0
        self._seconds = np.full(256, -1, np.int64)  # last Time of each unit, -1: none yet
        self._received = _Intervals()
        self.duplicates = 0

    def feed(self, units: Units) -> BinaryBatch:
        a = np.frombuffer(units.buf, np.uint8)
        starts = np.asarray(units.starts, np.int64)
        count = a[starts + 2].astype(np.int64)
        unit_of = a[starts + 3].astype(np.int64)
        seq0 = _uint(_gather(a, starts, 4, 4)).astype(np.int64)
        total = int(count.sum())
        # Message k of every unit at once: positions written in stream order.
        first = np.cumsum(count) - count
        pos = np.empty(total, np.int64)
        which = np.empty(total, np.int64)  # the unit (index) of each message
        k_of = np.empty(total, np.int64)
        at = starts + 8
        live = np.arange(len(starts))
        for k in range(int(count.max()) if len(count) else 0):
            live = live[count[live] > k]
            dest = first[live] + k
            pos[dest], which[dest], k_of[dest] = at[live], live, k
            at[live] += a[at[live]]
        unit = unit_of[which]
        seq = seq0[which] + k_of
        key = (unit << 40) | seq
        # Duplicates: seen in an earlier chunk, or earlier in this one.
        fresh = ~self._received.contains(key)
        _, first_at = np.unique(key, return_index=True)
        once = np.zeros(total, bool)
        once[first_at] = True
        keep = fresh & once
        self._received.add(key[keep])
        dups = total - int(keep.sum())
        self.duplicates += dups
        pos, which, unit, seq = pos[keep], which[keep], unit[keep], seq[keep]

        length, type_byte = a[pos], a[pos + 1]
        layout_of = _LAYOUT_AT[type_byte, length]
        ok = layout_of >= 0
        pieces: list[tuple[Layout, np.ndarray, dict[str, np.ndarray]]] = []
        for i, layout in enumerate(BINARY_LAYOUTS):
            rows = np.flatnonzero(layout_of == i)
            if not len(rows):
                continue
            good, values = self._fields(a, pos[rows], layout)
            if not good.all():
                ok[rows[~good]] = False
                rows = rows[good]
                values = {c: v[good] for c, v in values.items()}
            if len(rows):
                pieces.append((layout, rows, values))

        # Time: the last Time message of the same unit, in stream order.
        n = len(pos)
        seconds = np.full(n, -1, np.int64)
        is_time = np.zeros(n, bool)
        for layout, rows, values in pieces:
            if layout.type_id == _TIME:
                seconds[rows] = values["time_ns"]
                is_time[rows] = True
        by_unit = np.argsort(unit, kind="stable")
        u_sorted = unit[by_unit]
        group_start = np.searchsorted(u_sorted, u_sorted, side="left")
        idx = np.arange(n)
        last = np.maximum.accumulate(np.where(is_time[by_unit], idx, group_start - 1)) if n else idx
        known = last >= group_start
        unit_seconds = np.where(known, seconds[by_unit][np.maximum(last, 0)],
                                self._seconds[u_sorted])
        base = np.empty(n, np.int64)
        base[by_unit] = unit_seconds
        if n:  # the state for the next chunk: each unit's last Time
            ends = np.flatnonzero(np.append(u_sorted[1:] != u_sorted[:-1], True))
            self._seconds[u_sorted[ends]] = unit_seconds[ends]

        line_no = np.cumsum(ok) + self._lines
        self._lines += int(ok.sum())
        rejects = []
        for r in np.flatnonzero(~ok).tolist():
            p = int(pos[r])
            raw = units.buf[p:p + int(length[r])]
            try:
                decode_message(raw)
                reason = "fast decoder rejected a message the reference decoder accepts"
            except ValueError as exc:
                reason = str(exc)
            self._rejects += 1
            u = int(which[r])
            rejects.append(BinaryReject(self._rejects, int(units.packets[u]),
                                        int(units.offsets[u]) + p - int(starts[u]),
                                        raw[:MAX_RAW], reason))
        table, runs = self._table(pieces, line_no, base, unit, seq,
                                  np.asarray(units.packets, np.int64)[which])
        return BinaryBatch(table, rejects, dups, runs)

    def _fields(self, a: np.ndarray, pos: np.ndarray, layout: Layout
                ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(validity, column values) of the messages of one layout at ``pos``."""
        good = np.ones(len(pos), bool)
        values: dict[str, np.ndarray] = {}
        for f in layout.fields:
            block = _gather(a, pos, f.offset, f.width)
            if f.kind in (Kind.UINT, Kind.ID, Kind.SECONDS, Kind.PRICE_SHORT, Kind.PRICE_LONG):
                v = _uint(block)
                if f.kind is Kind.PRICE_LONG:  # DECIMAL(18,4) holds less than a u64
                    good &= v < PRICE_LIMIT
                    v = np.minimum(v, PRICE_LIMIT - 1).astype(np.int64)
                elif f.kind is Kind.PRICE_SHORT:
                    v = v.astype(np.int64) * 100
                elif f.kind is not Kind.ID:
                    v = v.astype(np.int64)
                values[f.column] = v
                continue
            good &= _PRINTABLE[block].all(axis=1)
            if f.kind is Kind.CODE:
                v = block[:, 0].copy()
                good &= np.isin(v, np.frombuffer(f.values.encode(), np.uint8))
            else:
                if f.required:
                    good &= (block != 32).any(axis=1)
                v = block if f.width > 8 else _alpha_key(block)
            values[f.column] = v
        return good, values

    def _table(self, pieces: list, line_no: np.ndarray, base: np.ndarray, unit: np.ndarray,
               seq: np.ndarray, packet: np.ndarray) -> tuple[pa.Table, list[tuple[str, int, int]]]:
        if not pieces:
            return SCHEMA.empty_table(), []
        rows = np.concatenate([p[1] for p in pieces])
        sizes = [len(p[1]) for p in pieces]
        kinds = {c: k for p in pieces for f in p[0].fields for c, k in [(f.column, f.kind)]}
        time = np.empty(len(rows), np.int64)
        at = 0
        for layout, r, values in pieces:
            if layout.type_id == _TIME:
                time[at:at + len(r)] = values["time_ns"] * NS
            else:
                offset = values.get("time_offset_ns", np.zeros(len(r), np.int64))
                b = base[r]
                time[at:at + len(r)] = np.where(b >= 0, b * NS + offset, -1)
            at += len(r)
        type_codes = list(dict.fromkeys(p[0].code for p in pieces))
        type_dict = pa.array(type_codes, pa.string())
        type_index = np.repeat(np.array([type_codes.index(p[0].code) for p in pieces],
                                        np.int32), sizes)
        arrays = [pa.array(line_no[rows]), pa.array(time, mask=time < 0),
                  pa.DictionaryArray.from_arrays(pa.array(type_index), type_dict),
                  pa.array(unit[rows]), pa.array(seq[rows]), pa.array(packet[rows])]
        for column, kind in BINARY_FIELD_COLUMNS.items():
            present = [column in p[2] for p in pieces]
            if not any(present):
                arrays.append(pa.nulls(len(rows), SCHEMA.field(column).type))
                continue
            kind = kinds[column]
            mask = None if all(present) else ~np.repeat(np.array(present), sizes)
            arrays.append(_column(kind, [p[2].get(column) for p in pieces], sizes, mask))
        runs, at = [], 0
        for layout, r, _ in pieces:
            runs.append((layout.code, at, len(r)))
            at += len(r)
        return pa.Table.from_arrays(arrays, schema=SCHEMA), runs

    def finish(self) -> list[tuple[int, int, int, int]]:
        """The gaps: (unit, expected, received, missing) per run of never-received sequences."""
        lo, hi = self._received.lo, self._received.hi
        same_unit = (lo[1:] >> 40) == (hi[:-1] >> 40)
        mask = (1 << 40) - 1
        return [(int(hi[i] >> 40), int(hi[i] & mask) + 1, int(lo[i + 1] & mask),
                 int((lo[i + 1] & mask) - (hi[i] & mask) - 1))
                for i in np.flatnonzero(same_unit).tolist()]


def _column(kind: Kind, parts: list, sizes: list[int], mask: np.ndarray | None) -> pa.Array:
    """One Arrow column from each piece's values (None where the piece lacks it)."""
    n = sum(sizes)
    present = np.ones(n, bool) if mask is None else ~mask
    if kind in (Kind.ALPHA,) and any(p is not None and p.ndim == 2 for p in parts):
        words: list = []
        for p, size in zip(parts, sizes):
            words += [None] * size if p is None else [
                bytes(row).decode("ascii").rstrip(" ") for row in p]
        return pa.array(words, pa.string()).dictionary_encode()
    dtype = {Kind.ALPHA: np.uint64, Kind.CODE: np.uint8, Kind.ID: np.uint64}.get(kind, np.int64)
    values = np.concatenate([np.zeros(s, dtype) if p is None else p.astype(dtype, copy=False)
                             for p, s in zip(parts, sizes)])
    if kind in (Kind.PRICE_SHORT, Kind.PRICE_LONG):
        return _decimal(values, present)
    if kind is Kind.CODE:
        return _codes_to_strings(values, present)
    if kind is Kind.ALPHA:
        return _keys_to_strings(values, present)
    return pa.array(values, _TYPES[kind], mask=mask)
