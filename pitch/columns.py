"""Fast columnar decoder: chunks of bytes in, Arrow record batches out.

Sans-I/O and streaming in the style of h11: :class:`Decoder` is fed chunks
of any size (a line may be split anywhere) and returns one
:class:`Batch` per call. The work is vectorised with numpy per message
layout; there is no per-line Python loop except for rejected lines, whose
reasons come from the reference decoder (:func:`pitch.decode.decode_line`),
so both decoders agree by construction on what a reject is and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
import pyarrow as pa

from .arrays import ARROW_TYPES, NUMPY_TYPES, alpha_key, arrow
from .decode import decode_line
from .errors import DecodeError
from .layouts import (COMMON_CODES, COMMON_COLUMNS, LAYOUTS, NS_PER_MS, TEXT_FIELD_COLUMNS,
                      TIMESTAMP_WIDTH, TYPE_OFFSET, Kind, Layout)

#: A line longer than this is rejected without being held in memory whole.
MAX_LINE = 4096
#: How many bytes of a rejected line are kept.
MAX_RAW = 1024

_NL, _CR, _S = 10, 13, ord("S")

_BASE36_LUT = np.full(256, 255, dtype=np.uint8)
_BASE36_LUT[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
_BASE36_LUT[np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", np.uint8)] = np.arange(10, 36)

_HEAD = [("line_no", pa.int64()), ("time_ns", pa.int64()), ("type", ARROW_TYPES[Kind.CODE])]

#: Arrow schema of a batch (the ``messages`` columns the text decoder fills).
SCHEMA = pa.schema(_HEAD + [(col, ARROW_TYPES[kind]) for col, kind in TEXT_FIELD_COLUMNS.items()])

#: Arrow schema of the common types' batch when the decoder splits (COMMON_CODES).
COMMON_SCHEMA = pa.schema(_HEAD + [(col, ARROW_TYPES[kind])
                                   for col, kind in COMMON_COLUMNS.items()])



@dataclass
class Reject:
    line_no: int
    byte_offset: int  # of the line's first byte in the stream
    raw: bytes
    reason: str


@dataclass
class Batch:
    """What one :meth:`Decoder.feed` produced."""

    table: pa.Table  # valid messages in line order, columns as SCHEMA (but see ``other``)
    rejects: list[Reject] = field(default_factory=list)
    lines: int = 0  # physical lines completed by this call (blank ones too)
    #: With ``Decoder(split=True)``: ``table`` holds only the COMMON_CODES
    #: messages (columns as COMMON_SCHEMA) and ``other`` the rest (as SCHEMA),
    #: both grouped by message layout (line order within a layout), which
    #: DuckDB stores more cheaply; ``line_no`` gives the order back.
    other: pa.Table | None = None
    #: With split=True: where each layout's rows are, as ``(code, in_other,
    #: start, length)``: the rows of ``other`` (in_other) or ``table``.
    runs: list[tuple[str, bool, int, int]] = field(default_factory=list)


def _digits(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Value and validity of each row of an (n, w) block of ASCII digits.

    Column by column, in place: a reduction along the short second axis
    (``.all(axis=1)``) costs numpy more than the whole conversion.
    """
    d = m - np.uint8(48)  # wraps below '0', so one compare checks both ends
    top = d[:, 0].copy()
    value = d[:, 0].astype(np.int64)
    for j in range(1, m.shape[1]):
        np.maximum(top, d[:, j], out=top)
        value *= 10
        value += d[:, j]
    return value, top <= 9


def _base36(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.take(_BASE36_LUT, m)
    top = d[:, 0].copy()
    value = d[:, 0].astype(np.uint64)
    for j in range(1, m.shape[1]):
        np.maximum(top, d[:, j], out=top)
        value *= np.uint64(36)
        value += d[:, j]
    return value, top < 36


@dataclass
class _Piece:
    """The valid messages of one layout in one chunk: line indices and column values."""

    layout: Layout
    rows: np.ndarray  # line indices in the chunk, ascending
    values: dict[str, np.ndarray]  # time_ns and the layout's field columns


def _decode_layout(arr: np.ndarray, starts: np.ndarray, layout: Layout
                   ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Decode the messages of one layout starting at ``starts``: (validity, columns)."""
    # One row of ``length`` bytes per message: a sliding-window view indexed by
    # row copies whole rows, far cheaper than a 2-D fancy index.
    m = sliding_window_view(arr, layout.length)[starts]
    stamp, ok = _digits(m[:, :TIMESTAMP_WIDTH])
    values = {"time_ns": stamp * NS_PER_MS}
    for f in layout.fields:
        block = m[:, f.offset:f.end]
        if f.kind in (Kind.NUMERIC, Kind.PRICE):
            value, good = _digits(block)
        elif f.kind is Kind.BASE36:
            value, good = _base36(block)
        elif f.kind is Kind.CODE:
            value = block[:, 0].copy()
            good = np.isin(value, np.frombuffer(f.values.encode(), np.uint8))
        else:
            value = alpha_key(block)
            good = (block != 32).any(axis=1) if f.required else np.ones(len(block), bool)
        ok &= good
        values[f.column] = value
    return ok, values


def _table(pieces: list[_Piece], lines_before: int, schema: pa.Schema,
           fields: dict[str, Kind]) -> pa.Table:
    """One table of the pieces' messages, piece after piece (so grouped by type).

    Grouping by type makes long runs of equal types and of NULLs, which DuckDB
    stores about a quarter cheaper than the same rows in line order.
    """
    if not pieces:
        return schema.empty_table()
    sizes = [len(p.rows) for p in pieces]
    line_no = np.concatenate([p.rows for p in pieces]) + (lines_before + 1)
    codes = np.repeat(np.frombuffer("".join(p.layout.code for p in pieces).encode(), np.uint8),
                      sizes)
    arrays = [pa.array(line_no), arrow(Kind.NUMERIC, np.concatenate(
        [p.values["time_ns"] for p in pieces]), None), arrow(Kind.CODE, codes, None)]
    for column, kind in fields.items():
        if not any(column in p.values for p in pieces):
            arrays.append(pa.nulls(len(line_no), ARROW_TYPES[kind]))
            continue
        dtype = NUMPY_TYPES[kind]
        values = np.concatenate([p.values.get(column, np.zeros(n, dtype)).astype(dtype, copy=False)
                                 for p, n in zip(pieces, sizes)])
        present = (None if all(column in p.values for p in pieces) else
                   np.repeat(np.array([column in p.values for p in pieces]), sizes))
        arrays.append(arrow(kind, values, present))
    return pa.Table.from_arrays(arrays, schema=schema)


class Decoder:
    """Streaming decoder of text PITCH.

    ``feed(chunk)`` returns the messages and rejects of every line completed
    so far; ``close()`` flushes a last line that has no newline. Line numbers
    are 1-based physical lines (blank lines count but produce nothing).
    """

    def __init__(self, split: bool = False) -> None:
        self._split = split  # see Batch.other
        self._tail = b""  # bytes of the line not yet complete
        self._lines = 0  # lines completed before the tail
        self._offset = 0  # stream offset of the tail's first byte
        self._overlong: int | None = None  # line_no being skipped, too long to keep
        self._closed = False

    def feed(self, data: bytes) -> Batch:
        return self.feed_later(data)()

    def feed_later(self, data: bytes) -> Callable[[], Batch]:
        """Take ``data`` now; return the decoding of its complete lines as a call.

        The call touches no decoder state, so calls for successive chunks may
        run on other threads, in parallel; :meth:`feed` runs it at once.
        """
        if self._closed:
            raise RuntimeError("decoder is closed")
        extra: list[Reject] = []
        if self._overlong is not None:  # drop bytes up to the end of the long line
            cut = data.find(b"\n")
            if cut < 0:
                self._offset += len(data)
                return self._later(self._empty([]))
            self._overlong = None
            self._lines += 1
            self._offset += cut + 1
            data = data[cut + 1:]
        buf = self._tail + data if self._tail else data
        last = buf.rfind(b"\n")
        if last < 0:
            self._tail = buf
            if len(buf) > MAX_LINE:
                extra.append(self._too_long(buf))
            return self._later(self._empty(extra))
        complete, self._tail = buf[:last + 1], buf[last + 1:]
        lines_before, offset = self._lines, self._offset
        self._lines += complete.count(b"\n")
        self._offset += len(complete)
        if len(self._tail) > MAX_LINE:
            extra.append(self._too_long(self._tail))

        def decode() -> Batch:
            batch = self._decode(complete, lines_before, offset)
            batch.rejects += extra
            return batch
        return decode

    def close(self) -> Batch:
        """Flush the last line if the stream did not end with a newline."""
        return self.close_later()()

    def close_later(self) -> Callable[[], Batch]:
        """:meth:`close`, with the decoding as a call (see :meth:`feed_later`)."""
        self._closed = True
        if self._overlong is not None or not self._tail:
            return self._later(self._empty([]))
        tail, self._tail = self._tail, b""
        lines_before, offset = self._lines, self._offset
        return lambda: self._decode(tail + b"\n", lines_before, offset)

    @staticmethod
    def _later(batch: Batch) -> Callable[[], Batch]:
        return lambda: batch

    @property
    def lines(self) -> int:
        """Physical lines completed so far."""
        return self._lines

    def _empty(self, rejects: list[Reject]) -> Batch:
        if self._split:
            return Batch(COMMON_SCHEMA.empty_table(), rejects, 0, SCHEMA.empty_table())
        return Batch(SCHEMA.empty_table(), rejects, 0)

    def _too_long(self, buf: bytes) -> Reject:
        line_no = self._lines + 1
        self._overlong = line_no
        self._tail = b""
        reject = Reject(line_no, self._offset, buf[:MAX_RAW],
                        f"line too long: more than {MAX_LINE} bytes")
        self._offset += len(buf)
        return reject

    def _decode(self, buf: bytes, lines_before: int, offset: int) -> Batch:
        arr = np.frombuffer(buf, np.uint8)
        ends = np.flatnonzero(arr == _NL)
        n = len(ends)
        starts = np.empty(n, np.int64)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        cr = (ends > starts) & (arr[np.maximum(ends - 1, 0)] == _CR)
        ends = ends - cr
        length = ends - starts
        nonblank = length > 0
        has_s = nonblank & (arr[np.minimum(starts, len(arr) - 1)] == _S)
        mstart = starts + has_s
        mlen = length - has_s
        # Any byte outside printable ASCII spoils its line (the terminators are excluded).
        bad = (arr < 32) | (arr > 126)
        bad[ends[cr]] = False
        bad[ends + cr] = False
        ok = nonblank.copy()
        bad_pos = np.flatnonzero(bad)
        if len(bad_pos):
            ok[np.searchsorted(ends + cr, bad_pos)] = False
        code = np.zeros(n, np.uint8)
        long_enough = mlen > TYPE_OFFSET
        code[long_enough] = arr[mstart[long_enough] + TYPE_OFFSET]
        valid = np.zeros(n, bool)
        pieces: list[_Piece] = []
        for layout in LAYOUTS:
            rows = np.flatnonzero(ok & (code == ord(layout.code)) & (mlen == layout.length))
            if len(rows):
                good, values = _decode_layout(arr, mstart[rows], layout)
                valid[rows] = good
                if not good.all():
                    rows = rows[good]
                    values = {c: v[good] for c, v in values.items()}
                pieces.append(_Piece(layout, rows, values))
        rejects = []
        for i in np.flatnonzero(nonblank & ~valid).tolist():
            raw = buf[starts[i]:ends[i]]
            try:
                decode_line(raw)
                reason = "fast decoder rejected a line the reference decoder accepts"
            except DecodeError as exc:
                reason = exc.reason
            if len(raw) > MAX_RAW:
                reason = f"{reason} (raw text cut to {MAX_RAW} of {len(raw)} bytes)"
            rejects.append(Reject(lines_before + i + 1, offset + int(starts[i]),
                                  raw[:MAX_RAW], reason))
        if self._split:  # grouped by type
            common = [p for p in pieces if p.layout.code in COMMON_CODES]
            other = [p for p in pieces if p.layout.code not in COMMON_CODES]
            runs = []
            for in_other, group in ((False, common), (True, other)):
                at = 0
                for p in group:
                    runs.append((p.layout.code, in_other, at, len(p.rows)))
                    at += len(p.rows)
            return Batch(_table(common, lines_before, COMMON_SCHEMA, COMMON_COLUMNS), rejects, n,
                         _table(other, lines_before, SCHEMA, TEXT_FIELD_COLUMNS), runs)
        table = _table(pieces, lines_before, SCHEMA, TEXT_FIELD_COLUMNS)
        order = np.argsort(table.column("line_no").to_numpy(), kind="stable")
        return Batch(table.take(order), rejects, n)  # in line order


def decode_bytes(data: bytes, chunk_size: int = 1 << 22) -> tuple[pa.Table, list[Reject]]:
    """Decode a whole buffer (convenience for tests and small inputs)."""
    dec = Decoder()
    tables, rejects = [], []
    for i in range(0, len(data), chunk_size):
        b = dec.feed(data[i:i + chunk_size])
        tables.append(b.table)
        rejects += b.rejects
    b = dec.close()
    tables.append(b.table)
    rejects += b.rejects
    return pa.concat_tables(tables), rejects
