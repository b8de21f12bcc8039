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
from .errors import DecodeError
from .arrays import (ALPHA_MARKER, ARROW_TYPES, codes_to_strings, decimal, keys_to_strings,
                     masked, packed_alpha_key, packed_printable)
from .layouts import (BINARY_COMMON_CODES, BINARY_COMMON_COLUMNS, BINARY_FIELD_COLUMNS,
                      BINARY_LAYOUTS, BINARY_NARROW, Kind, Layout)

#: Columns as narrow as their field, as stored (pitch.layouts.BINARY_NARROW).
_NARROW = {col: {1: pa.uint8(), 2: pa.uint16(), 4: pa.uint32()}[width]
           for col, width in BINARY_NARROW.items()}
_HEAD = [("line_no", pa.int64()), ("time_ns", pa.int64()), ("type", ARROW_TYPES[Kind.CODE]),
         ("unit", _NARROW["unit"]), ("sequence", pa.int64()), ("packet", pa.int64())]
_TYPES = {**ARROW_TYPES, Kind.UINT: pa.int64(), Kind.ID: pa.uint64(),
          Kind.PRICE_SHORT: pa.decimal128(18, 4), Kind.PRICE_LONG: pa.decimal128(18, 4)}


def _schema(columns: dict[str, Kind]) -> pa.Schema:
    return pa.schema(_HEAD + [(c, _NARROW.get(c, _TYPES[k])) for c, k in columns.items()])


#: Arrow schema of the rare types' batch (every ``messages_binary_other`` column but file_id).
SCHEMA = _schema(BINARY_FIELD_COLUMNS)
#: Arrow schema of the frequent types' batch: only the columns they use (``messages_binary``).
COMMON_SCHEMA = _schema(BINARY_COMMON_COLUMNS)

#: Layout index by a message's first two bytes as a little-endian u16 (length, then
#: type); -1: not a message we know.
_LAYOUT_BY_HEADER = np.full(1 << 16, -1, np.int16)
for _i, _l in enumerate(BINARY_LAYOUTS):
    _LAYOUT_BY_HEADER[_l.type_id << 8 | _l.length] = _i
_TIME = 0x20
_PRINTABLE = np.zeros(256, bool)
_PRINTABLE[32:127] = True
_INT_DTYPES = {1: "<u1", 2: "<u2", 4: "<u4", 8: "<u8"}
_INTEGERS = (Kind.UINT, Kind.ID, Kind.SECONDS, Kind.PRICE_SHORT, Kind.PRICE_LONG)
#: Bytes a record may read past its message (an alpha field's whole word): the
#: chunk's buffer is padded with as many.
_PAD = 8


def _record(layout: Layout) -> np.dtype:
    """A layout's message as one numpy record: integers little-endian at their offsets,
    an alpha field of up to 8 bytes as the word starting at it (the bytes past the
    field are masked off), codes and longer alpha fields as bytes."""
    formats = [_INT_DTYPES[f.width] if f.kind in _INTEGERS
               else "<u8" if f.kind is Kind.ALPHA and f.width <= 8
               else (np.uint8, (f.width,)) for f in layout.fields]
    return np.dtype({"names": [f.column for f in layout.fields], "formats": formats,
                     "offsets": [f.offset for f in layout.fields],
                     "itemsize": layout.length + _PAD})


_RECORDS = [_record(layout) for layout in BINARY_LAYOUTS]
#: Per CODE field (by column), its allowed bytes.
_ALLOWED = {}
for _l in BINARY_LAYOUTS:
    for _f in _l.fields:
        if _f.kind is Kind.CODE:
            _ALLOWED[_l.code, _f.column] = np.zeros(256, bool)
            _ALLOWED[_l.code, _f.column][list(_f.values.encode())] = True
            _ALLOWED[_l.code, _f.column] &= _PRINTABLE


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

    table: pa.Table  # the frequent types (COMMON_SCHEMA), grouped by layout; line_no gives order
    other: pa.Table  # the rare types (SCHEMA: status, auctions, RPI, symbol mapping)
    rejects: list[BinaryReject] = field(default_factory=list)
    duplicates: int = 0
    #: Where each layout's rows are: (code, in_other, start, length), as in text batches.
    runs: list[tuple[str, bool, int, int]] = field(default_factory=list)


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
        """Add distinct keys not yet contained (cheapest sorted: then only their runs
        of consecutive keys are merged in, a few per unit and chunk)."""
        if not len(keys):
            return
        if not np.all(keys[1:] > keys[:-1]):
            keys = np.sort(keys)
        starts = np.flatnonzero(np.diff(keys, prepend=keys[:1] - 2) != 1)
        ends = np.append(starts[1:], len(keys)) - 1
        lo = np.concatenate([self.lo, keys[starts]])
        hi = np.concatenate([self.hi, keys[ends]])
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
        """The messages and rejects of one chunk's units (see :func:`prepare`)."""
        return self.finish_chunk(prepare(units))

    def finish_chunk(self, prep: "Prepared") -> BinaryBatch:
        """The part of decoding that needs the stream so far: duplicates, time, line numbers.

        Chunks must come in stream order; :func:`prepare` may run ahead on
        other threads.
        """
        total = len(prep.key)
        # Duplicates: seen in an earlier chunk, or earlier in this one. Usually
        # each unit's sequences only rise within a chunk: then no sort is needed.
        k_sorted = prep.key[prep.by_unit]
        rising = bool(np.all(k_sorted[1:] > k_sorted[:-1]))
        if rising:
            once = np.ones(total, bool)
        else:
            _, first_at = np.unique(prep.key, return_index=True)
            once = np.zeros(total, bool)
            once[first_at] = True
        keep = ~self._received.contains(prep.key) & once
        self._received.add(k_sorted[keep[prep.by_unit]] if rising else prep.key[keep])
        dups = total - int(keep.sum())
        self.duplicates += dups
        valid = prep.ok & keep

        # Time: the last Time message of the same unit, in stream order.
        by_unit = prep.by_unit
        u_sorted = prep.unit[by_unit]
        firsts = np.flatnonzero(np.diff(u_sorted, prepend=-1))  # where each unit's run starts
        group_start = np.repeat(firsts, np.diff(firsts, append=total))
        is_time = (prep.is_time & valid)[by_unit]
        idx = np.arange(total)
        last = np.maximum.accumulate(np.where(is_time, idx, group_start - 1)) if total else idx
        unit_seconds = np.where(last >= group_start, prep.seconds[by_unit][np.maximum(last, 0)],
                                self._seconds[u_sorted])
        base = np.empty(total, np.int64)
        base[by_unit] = unit_seconds
        if total:  # the state for the next chunk: each unit's last Time
            ends = np.flatnonzero(np.append(u_sorted[1:] != u_sorted[:-1], True))
            self._seconds[u_sorted[ends]] = unit_seconds[ends]
        time = np.where(prep.is_time, prep.seconds * NS,
                        np.where(base >= 0, base * NS + prep.offset, -1))

        line_no = np.cumsum(valid) + self._lines
        self._lines += int(valid.sum())
        rejects = []
        for r in np.flatnonzero(~prep.ok & keep).tolist():
            u = int(prep.which[r])
            p = int(prep.pos[r])
            raw = prep.units.buf[p:p + int(prep.units.buf[p])]
            try:
                decode_message(raw)
                reason = "fast decoder rejected a message the reference decoder accepts"
            except DecodeError as exc:
                reason = exc.reason
            self._rejects += 1
            rejects.append(BinaryReject(self._rejects, int(prep.units.packets[u]),
                                        int(prep.units.offsets[u]) + p - int(prep.units.starts[u]),
                                        raw[:MAX_RAW], reason))
        tables, runs = [], []
        for in_other, (table, rows, piece_runs) in enumerate((prep.common, prep.other)):
            kept = keep[rows]
            table = table.set_column(0, "line_no", pa.array(line_no[rows]))
            t = time[rows]
            table = table.set_column(1, "time_ns", masked(t, pa.int64(), t >= 0))
            at = 0
            for code, start, n in piece_runs:
                left = int(kept[start:start + n].sum())
                runs.append((code, bool(in_other), at, left))
                at += left
            tables.append(table if kept.all() else table.filter(pa.array(kept)))
        return BinaryBatch(tables[0], tables[1], rejects, dups, runs)

    def finish(self) -> list[tuple[int, int, int, int]]:
        """The gaps: (unit, expected, received, missing) per run of never-received sequences."""
        lo, hi = self._received.lo, self._received.hi
        same_unit = (lo[1:] >> 40) == (hi[:-1] >> 40)
        mask = (1 << 40) - 1
        return [(int(hi[i] >> 40), int(hi[i] & mask) + 1, int(lo[i + 1] & mask),
                 int((lo[i + 1] & mask) - (hi[i] & mask) - 1))
                for i in np.flatnonzero(same_unit).tolist()]




def _fields(buf: bytes, pos: np.ndarray, i: int
            ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(validity, column values) of the messages of layout ``i`` at ``pos`` in ``buf``
    (padded with _PAD bytes)."""
    layout, record = BINARY_LAYOUTS[i], _RECORDS[i]
    # One record per message: an overlapping view of the buffer indexed by
    # position copies whole messages (one copy each, not one per byte), and its
    # fields are strided views read once into their columns.
    whole = np.dtype((np.void, record.itemsize))  # copied as bytes, then read as fields
    messages = np.ndarray((len(buf) - record.itemsize + 1,), whole, buf, strides=(1,))[pos]
    messages = messages.view(record)
    good = np.ones(len(pos), bool)
    values: dict[str, np.ndarray] = {}
    for f in layout.fields:
        raw = messages[f.column]
        if f.kind is Kind.PRICE_LONG:  # DECIMAL(18,4) holds less than a u64
            good &= raw < PRICE_LIMIT
            v = np.minimum(raw, PRICE_LIMIT - 1).astype(np.int64)
        elif f.kind is Kind.PRICE_SHORT:
            v = raw.astype(np.int64) * 100
        elif f.kind is Kind.ID:
            v = raw.astype(np.uint64)
        elif f.kind in _INTEGERS:
            v = raw.astype(np.int64)
        elif f.kind is Kind.CODE:
            v = raw[:, 0].copy()
            good &= _ALLOWED[layout.code, f.column][v]
        elif f.width <= 8:  # alpha: its bytes in one word
            packed = raw & np.uint64((1 << 8 * f.width) - 1)
            good &= packed_printable(packed, f.width)
            v = packed_alpha_key(packed, f.width)
            if f.required:  # all spaces: only the marker bit is left
                good &= v != ALPHA_MARKER
        else:
            v = raw
            for j in range(f.width):  # column by column: cheaper than .all(axis=1)
                good &= _PRINTABLE[raw[:, j]]
            if f.required:
                good &= (raw != 32).any(axis=1)
        values[f.column] = v
    return good, values

@dataclass
class Prepared:
    """One chunk decoded as far as it can be alone (see :func:`prepare`)."""

    units: Units
    pos: np.ndarray  # of each message in units.buf, in stream order
    which: np.ndarray  # its unit's index in the chunk
    unit: np.ndarray  # its matching-engine unit
    key: np.ndarray  # unit << 40 | sequence
    by_unit: np.ndarray  # a stable order of the messages by unit
    ok: np.ndarray  # of a known layout with every field in its domain
    is_time: np.ndarray  # a Time message (seconds in ``seconds``)
    seconds: np.ndarray
    offset: np.ndarray  # the Time Offset (0 where none)
    #: (table, message index of each row, runs (code, start, length)) for the
    #: frequent and the rare types; line_no and time_ns are filled later.
    common: tuple[pa.Table, np.ndarray, list[tuple[str, int, int]]]
    other: tuple[pa.Table, np.ndarray, list[tuple[str, int, int]]]


def prepare(units: Units) -> Prepared:
    """Frame the messages of a chunk's units and read every field, touching no state.

    Pure, so chunks may be prepared on several threads at once (numpy releases
    the GIL); :meth:`BinaryDecoder.finish_chunk` then applies the stream's order.
    """
    buf = bytes(units.buf) + bytes(_PAD)  # see _PAD
    a = np.frombuffer(buf, np.uint8)
    starts = np.asarray(units.starts, np.int64)
    count = a[starts + 2].astype(np.int64)
    seq0 = np.ndarray((len(buf) - 3,), "<u4", buf, strides=(1,))[starts + 4].astype(np.int64)
    total = int(count.sum())
    # Message k of every unit at once: positions written in stream order. With
    # the units taken by count, most first, the units that have a message k
    # are a prefix.
    first = np.cumsum(count) - count
    which = np.repeat(np.arange(len(starts)), count)
    pos = np.empty(total, np.int64)
    most = np.argsort(-count, kind="stable")
    at, slot = starts[most] + 8, first[most]
    having = np.searchsorted(-count[most], -np.arange(int(count.max()) if len(count) else 0),
                             side="left")  # units with more than k messages, for each k
    for k, n in enumerate(having.tolist()):
        here = at[:n]
        pos[slot[:n] + k] = here
        at[:n] = here + a[here]
    unit = np.repeat(a[starts + 3].astype(np.int64), count)
    seq = np.repeat(seq0 - first, count) + np.arange(total)
    header = np.ndarray((len(buf) - 1,), "<u2", buf, strides=(1,))[pos]  # length, type
    layout_of = _LAYOUT_BY_HEADER[header]
    ok = layout_of >= 0
    pieces: list[tuple[Layout, np.ndarray, dict[str, np.ndarray]]] = []
    # Each layout's messages, in stream order: one radix sort of the layout numbers.
    by_layout = np.argsort(layout_of, kind="stable")
    ends = np.cumsum(np.bincount(layout_of + 1, minlength=len(BINARY_LAYOUTS) + 1))
    for i, layout in enumerate(BINARY_LAYOUTS):
        rows = by_layout[ends[i]:ends[i + 1]]
        if not len(rows):
            continue
        good, values = _fields(buf, pos[rows], i)
        if not good.all():
            ok[rows[~good]] = False
            rows = rows[good]
            values = {c: v[good] for c, v in values.items()}
        if len(rows):
            pieces.append((layout, rows, values))
    seconds = np.zeros(total, np.int64)
    offset = np.zeros(total, np.int64)
    is_time = np.zeros(total, bool)
    for layout, rows, values in pieces:
        if layout.type_id == _TIME:
            seconds[rows] = values["time_ns"]
            is_time[rows] = True
        elif "time_offset_ns" in values:
            offset[rows] = values["time_offset_ns"]
    packet = np.repeat(np.asarray(units.packets, np.int64), count)
    common = [p for p in pieces if p[0].code in BINARY_COMMON_CODES]
    rare = [p for p in pieces if p[0].code not in BINARY_COMMON_CODES]
    return Prepared(units, pos, which, unit, (unit << 40) | seq,
                    np.argsort(unit.astype(np.uint8), kind="stable"), ok, is_time, seconds,
                    offset, _table(common, COMMON_SCHEMA, unit, seq, packet),
                    _table(rare, SCHEMA, unit, seq, packet))

def _table(pieces: list, schema: pa.Schema, unit: np.ndarray, seq: np.ndarray,
           packet: np.ndarray) -> tuple[pa.Table, np.ndarray, list[tuple[str, int, int]]]:
    """(table, message index of each row, runs) of the pieces, piece after piece.

    Grouped by layout, since DuckDB stores runs of one type and of NULLs more
    cheaply; line_no (then time_ns) give the stream order back. They are
    placeholders here, set by :meth:`BinaryDecoder.finish_chunk`.
    """
    if not pieces:
        return schema.empty_table(), np.zeros(0, np.int64), []
    rows = np.concatenate([p[1] for p in pieces])
    sizes = [len(p[1]) for p in pieces]
    kinds = {f.column: f.kind for p in pieces for f in p[0].fields}
    type_codes = list(dict.fromkeys(p[0].code for p in pieces))
    type_index = np.repeat(np.array([type_codes.index(p[0].code) for p in pieces], np.int32),
                           sizes)
    placeholder = pa.nulls(len(rows), pa.int64())
    arrays = [placeholder, placeholder,
              pa.DictionaryArray.from_arrays(pa.array(type_index), pa.array(type_codes)),
              masked(unit[rows], _NARROW["unit"], None), pa.array(seq[rows]),
              pa.array(packet[rows])]
    for column in schema.names[len(_HEAD):]:
        present = [column in p[2] for p in pieces]
        if not any(present):
            arrays.append(pa.nulls(len(rows), schema.field(column).type))
            continue
        mask = None if all(present) else ~np.repeat(np.array(present), sizes)
        arrays.append(_column(kinds[column], [p[2].get(column) for p in pieces], sizes, mask,
                              schema.field(column).type))
    runs, at = [], 0
    for layout, r, _ in pieces:
        runs.append((layout.code, at, len(r)))
        at += len(r)
    return pa.Table.from_arrays(arrays, schema=schema), rows, runs


def _column(kind: Kind, parts: list, sizes: list[int], mask: np.ndarray | None,
            type_: pa.DataType) -> pa.Array:
    """One Arrow column (of ``type_``) from each piece's values (None where the piece
    lacks it)."""
    n = sum(sizes)
    present = np.ones(n, bool) if mask is None else ~mask
    if kind in (Kind.ALPHA,) and any(p is not None and p.ndim == 2 for p in parts):
        words: list = []
        for p, size in zip(parts, sizes):
            words += [None] * size if p is None else [
                bytes(row).decode("ascii").rstrip(" ") for row in p]
        return pa.array(words, pa.string()).dictionary_encode()
    dtype = {Kind.ALPHA: np.uint64, Kind.CODE: np.uint8, Kind.ID: np.uint64}.get(kind, np.int64)
    # Where a piece lacks the column the values are masked: any will do, but an
    # alpha key must decode, so those are zeros (the empty string).
    fill = np.zeros if kind is Kind.ALPHA else np.empty
    values = np.concatenate([fill(s, dtype) if p is None else p.astype(dtype, copy=False)
                             for p, s in zip(parts, sizes)])
    if kind in (Kind.PRICE_SHORT, Kind.PRICE_LONG):
        return decimal(values, present)
    if kind is Kind.CODE:
        return codes_to_strings(values, present)
    if kind is Kind.ALPHA:
        return keys_to_strings(values, present)
    return masked(values, type_, present)
