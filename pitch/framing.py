"""Framing: binary captures in, Sequenced Units out.

Sans-I/O. :func:`detect` names the container from the first bytes of a
decompressed stream; a :class:`Framer` takes that stream in chunks of any size
and returns, per chunk, a :class:`Batch`: the UDP payloads (one Sequenced Unit
each) back to back in one buffer, with numpy arrays of where each starts, its
length, its frame number (as Wireshark numbers frames) and its offset in the
stream. Frames that are not whole IPv4/UDP datagrams carrying a valid unit are
skipped and counted by reason; damage to the container itself becomes a
:class:`Problem`, which is data, not an exception.

Records are walked in Python, one struct read each (their lengths chain);
link, IP, UDP and unit checks then run in numpy over all records of a chunk,
so there is no per-message Python work. ``tests/capture_support.py`` holds the
slow struct-based twin that the tests hold this equal to.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .errors import DecodeError

FORMATS = ("pcap", "pcapng", "units")
PCAP_MAGICS: dict[bytes, str] = {  # as the bytes appear in the file -> struct byte order
    b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",  # microsecond time stamps
    b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">",  # nanosecond time stamps
}
PCAPNG_BOMS: dict[bytes, str] = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
SHB, IDB, PB, SPB, EPB = 0x0A0D0D0A, 1, 2, 3, 6
# Blocks that Wireshark (4.x) numbers as frames although they hold no packet:
# systemd journal, Sysdig events, custom blocks. Every other block is skipped unnumbered.
RECORD_BLOCKS = frozenset({9, 0x204, 0x208, 0x216, 0x217, 0x221, 0x222, 0xBAD, 0x40000BAD})
_NAMES = {EPB: "EPB", PB: "packet block", SPB: "SPB"}
_U16, _U32, _U32X2, _EPB = ({o: struct.Struct(o + f) for o in "<>"} for f in ("H", "I", "II", "IIII"))
MAX_RECORD = 262_144  # Wireshark's largest packet: a longer pcap record is damage
MAX_BLOCK = 1 << 24  # bounds the memory a damaged pcapng length could make us hold
MAX_VLAN_TAGS = 8
RAW_LIMIT = 1024  # bytes of a damaged record kept in its Problem
VLAN_TYPES = (0x8100, 0x88A8, 0x9100)

# Link types: (how the network layer is found, where its type field is, header length).
# 12 and 14 are DLT_RAW on most systems and on OpenBSD/BSD/OS; Wireshark reads both as raw IP.
LINKS: dict[int, tuple[str, int, int]] = {
    1: ("ether", 12, 14), 113: ("ether", 14, 16), 276: ("ether", 0, 20),
    0: ("family", 0, 4), 108: ("family", 0, 4),
    12: ("ip", 0, 0), 14: ("ip", 0, 0), 101: ("ip", 0, 0), 228: ("ip", 0, 0), 229: ("ip", 0, 0),
}

# Why a frame was skipped; the code is the index. "unsupported link type" gets its number appended.
REASONS = ("", "truncated frame", "not IPv4", "bad IPv4 header", "not UDP", "IPv4 fragment",
           "bad UDP length", f"more than {MAX_VLAN_TAGS} VLAN tags", "unsupported link type",
           "UDP payload shorter than a unit header", "unit length disagrees with UDP length",
           "message shorter than 2 bytes", "messages overrun the unit",
           "bytes left after the messages", "not a packet block")
(TRUNCATED, NOT_IPV4, BAD_IP, NOT_UDP, FRAGMENT, BAD_UDP, TOO_MANY_TAGS, UNSUPPORTED,
 SHORT_UNIT, UNIT_LENGTH, SHORT_MESSAGE, OVERRUN, LEFTOVER, NOT_PACKET) = range(1, len(REASONS))


@dataclass(frozen=True)
class Packet:
    """One Sequenced Unit: its frame number, its stream offset, its bytes."""

    packet: int
    offset: int
    payload: bytes
    dst_ip: int = 0  # the UDP destination (0 in a raw units file): feeds share unit numbers
    dst_port: int = 0


@dataclass(frozen=True)
class Problem:
    """Damage to the container: where (frame number, 0 if not a frame; stream offset), the
    first bytes of the damaged record and a short reason."""

    packet: int
    offset: int
    raw: bytes
    reason: str


@dataclass(frozen=True, eq=False)
class Batch:
    """The units framed from one chunk: payloads back to back in ``data``; ``start``,
    ``length``, ``packet`` and ``offset`` (int64 arrays) say where each is; ``skipped`` counts
    the frames dropped by reason; ``problems`` lists the damage met."""

    data: bytes = b""
    start: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    length: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    packet: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    offset: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    dst_ip: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    dst_port: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    skipped: dict[str, int] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()

    def __len__(self) -> int:
        return len(self.start)

    def packets(self) -> list[Packet]:
        """The units as :class:`Packet` objects (convenient, slower than the arrays)."""
        return [Packet(p, o, self.data[s:s + n], ip, port) for p, o, s, n, ip, port in zip(
            self.packet.tolist(), self.offset.tolist(), self.start.tolist(), self.length.tolist(),
            self.dst_ip.tolist(), self.dst_port.tolist())]


def is_gzip(head: bytes) -> bool:
    """Whether ``head`` starts a gzip stream (magic and the deflate method byte)."""
    return head[:3] == b"\x1f\x8b\x08"


def _frames_exactly(buf: bytes, pos: int, size: int) -> bool:
    end, p = pos + size, pos + 8
    for _ in range(buf[pos + 2]):
        if p >= end or buf[p] < 2 or p + buf[p] > end:
            return False
        p += buf[p]
    return p == end


def detect(head: bytes, units_to_check: int = 4) -> str | None:
    """``"pcap"``, ``"pcapng"``, ``"units"`` or None (maybe text PITCH), by content only.

    ``head`` is the start of the decompressed stream. Raw units need the first unit
    whole in ``head``, and each of the first ``units_to_check`` units present to be
    framed exactly by its messages.
    """
    if head[:4] in PCAP_MAGICS:
        return "pcap"
    if head[:4] == b"\x0a\x0d\x0d\x0a" and head[8:12] in PCAPNG_BOMS:
        return "pcapng"
    line = head[:256].split(b"\n", 1)[0].rstrip(b"\r")
    if line[:1] and line[:1] in b"S0123456789" and all(32 <= b < 127 for b in line):
        return None  # a text PITCH line, whatever its first bytes read as
    pos = 0
    for _ in range(units_to_check):
        if len(head) - pos < 8:
            break
        size = head[pos] | head[pos + 1] << 8
        if size < 8:
            return None
        if pos + size > len(head):
            break  # cut by the size of head, not by the data (but the first must be whole)
        if not _frames_exactly(head, pos, size):
            return None
        pos += size
    return "units" if pos else None


def _u8(a: np.ndarray, at: np.ndarray) -> np.ndarray:
    # Clamped so that lanes already rejected may read anywhere without IndexError.
    return a[np.minimum(at, len(a) - 1)].astype(np.int64)


def _u16be(a: np.ndarray, at: np.ndarray) -> np.ndarray:
    return _u8(a, at) << 8 | _u8(a, at + 1)


def _datagrams(a: np.ndarray, fs: np.ndarray, cl: np.ndarray, link: int) -> tuple[np.ndarray, ...]:
    """(UDP payload start, its length, skip reason or 0, destination address, destination port)
    of the frames at ``fs`` of ``cl`` captured bytes."""
    end, why = fs + cl, np.zeros(len(fs), np.int8)

    def fail(bad: np.ndarray, code: int) -> None:
        why[(why == 0) & bad] = code  # the first failed check is the reason

    kind, at, size = LINKS[link]
    ip = fs + size
    if kind == "ether":
        fail(cl < size, TRUNCATED)
        etype = _u16be(a, fs + at)
        for depth in range(MAX_VLAN_TAGS + 1):
            tag = (why == 0) & np.isin(etype, VLAN_TYPES)
            if not tag.any():
                break
            if depth == MAX_VLAN_TAGS:
                fail(tag, TOO_MANY_TAGS)
                break
            fail(tag & (ip + 4 > end), TRUNCATED)
            tag &= why == 0
            etype = np.where(tag, _u16be(a, ip + 2), etype)
            ip = np.where(tag, ip + 4, ip)
        fail(etype != 0x0800, NOT_IPV4)
    elif kind == "family":  # AF_INET is 2 everywhere, in the writer's byte order
        fail(cl < 4, TRUNCATED)
        b = [_u8(a, fs + i) for i in range(4)]
        little = (b[0] == 2) & (b[1] | b[2] | b[3] == 0)
        fail(~(little | ((b[0] | b[1] | b[2] == 0) & (b[3] == 2))), NOT_IPV4)
    fail(ip + 20 > end, TRUNCATED)
    first = _u8(a, ip)
    fail(first >> 4 != 4, NOT_IPV4)
    ihl = (first & 15) * 4
    fail(ihl < 20, BAD_IP)
    fail(_u8(a, ip + 9) != 17, NOT_UDP)
    fail(_u16be(a, ip + 6) & 0x3FFF != 0, FRAGMENT)  # MF set or a fragment offset
    total = _u16be(a, ip + 2)
    fail(total < ihl + 8, BAD_IP)
    udp = ip + ihl
    fail(udp + 8 > end, TRUNCATED)
    ulen = _u16be(a, udp + 4)
    fail((ulen < 8) | (ulen > total - ihl), BAD_UDP)
    fail(udp + ulen > end, TRUNCATED)  # cut by the snapshot length
    dst = _u16be(a, ip + 16) << 16 | _u16be(a, ip + 18)
    return udp + 8, ulen - 8, why, dst, _u16be(a, udp + 2)


def _check_units(a: np.ndarray, ps: np.ndarray, pl: np.ndarray, why: np.ndarray) -> None:
    """Set ``why`` for payloads that are not Sequenced Units framed exactly by their messages."""
    todo = why == 0
    why[todo & (pl < 8)] = SHORT_UNIT
    why[(why == 0) & (_u8(a, ps) | _u8(a, ps + 1) << 8 != pl)] = UNIT_LENGTH
    idx = np.flatnonzero(why == 0)
    # One step per message index over every unit that has one: with the units taken
    # by count, most first, those are a prefix. A unit that fails stops moving on.
    count = _u8(a, ps[idx] + 2)
    most = np.argsort(-count, kind="stable")
    idx, count = idx[most], count[most]
    pos, end = ps[idx] + 8, ps[idx] + pl[idx]
    bad = np.zeros(len(idx), np.int8)
    having = np.searchsorted(-count, -np.arange(int(count.max()) if len(count) else 0),
                             side="left")
    for n in having.tolist():
        p, e, b = pos[:n], end[:n], bad[:n]  # views: writes land in pos and bad
        size = _u8(a, p)
        over = p >= e
        short = ~over & (size < 2)
        over |= ~short & (p + size > e)
        b[(b == 0) & over] = OVERRUN
        b[(b == 0) & short] = SHORT_MESSAGE
        p += size * (b == 0)
    bad[(bad == 0) & (pos != end)] = LEFTOVER
    failed = bad != 0
    why[idx[failed]] = bad[failed]


class Framer:
    """Streaming framer of one container format (see :data:`FORMATS`).

    Feed the decompressed stream in chunks of any size; each call returns the units
    completed so far, and :meth:`close` says whether the stream ended inside a record.
    Memory stays within one record plus one chunk. ``skipped`` totals the dropped
    frames by reason and ``frames`` the frame numbers used. After damage it cannot
    resync from, the framer has ``stopped`` and counts the bytes it ``ignored``.
    """

    def __init__(self, fmt: str) -> None:
        if fmt not in FORMATS:
            raise DecodeError(f"unknown container format {fmt!r}")
        self.fmt, self.frames, self.ignored, self.stopped = fmt, 0, 0, False
        self.skipped: Counter[str] = Counter()
        self._tail, self._base = b"", 0  # bytes not framed yet, and their stream offset
        self._order: str | None = None  # byte order of the pcap file or pcapng section
        self._link = 0  # the pcap file's link type
        self._ifaces: list[tuple[int, int]] = []  # the section's (link type, snap length)
        # What close() reports if the stream ends here: (frame number, record, its size or 0, least).
        self._wait = {"pcap": (0, "pcap file header", 24, 24), "pcapng": (0, "block", 0, 12),
                      "units": (1, "unit", 0, 8)}[fmt]
        self._held: Problem | None = None  # the stopping problem, until its raw bytes are in

    @property
    def pending(self) -> int:
        """Bytes held for a record that the next chunk should complete."""
        return len(self._tail)

    def feed(self, chunk: bytes) -> Batch:
        """Frame what ``chunk`` completes; a record cut by its end waits for the next chunk."""
        walk = _Walk()
        if self.stopped:
            self.ignored += len(chunk)
            self._hold(bytes(chunk), walk, False)
            return walk.batch(b"", 0, True)
        buf = self._tail + bytes(chunk) if self._tail else bytes(chunk)
        pos = getattr(self, "_" + self.fmt)(buf, walk)
        if self.stopped:
            self.ignored, self._tail = len(buf) - pos, b""
            self._hold(b"", walk, False)
        else:
            self._tail = buf[pos:]
        batch = walk.batch(buf, self._base, self.fmt == "units")
        self._base += pos
        self.skipped.update(batch.skipped)
        return batch

    def close(self) -> Batch:
        """End of stream: a record left incomplete becomes one truncation problem."""
        walk, tail, self._tail = _Walk(), self._tail, b""
        self._hold(b"", walk, True)
        packet, what, whole, least = self._wait
        if not self.stopped and (tail or (self.fmt != "units" and self._order is None)):
            count = f"{len(tail)} of {whole}" if whole else f"{len(tail)} of at least {least}"
            walk.problems.append(Problem(packet, self._base, tail[:RAW_LIMIT],
                                         f"truncated {what}: {count} bytes"))
        self.stopped = True
        return walk.batch(b"", 0, True)

    def _hold(self, more: bytes, walk: _Walk, end: bool) -> None:
        # A stopping problem shows the same 1024 bytes however the stream was chunked.
        if self._held is not None:
            held = self._held
            raw = held.raw + more[:RAW_LIMIT - len(held.raw)]
            self._held = Problem(held.packet, held.offset, raw, held.reason)
            if end or len(raw) >= RAW_LIMIT:
                walk.problems.append(self._held)
                self._held = None

    def _stop(self, buf: bytes, pos: int, packet: int, reason: str) -> int:
        self._held = Problem(packet, self._base + pos, buf[pos:pos + RAW_LIMIT],
                             reason + "; framing stopped")
        self.stopped = True
        return pos

    def _pcap(self, buf: bytes, walk: _Walk) -> int:
        pos, n = 0, len(buf)
        if self._order is None:
            if n < 24:
                return 0
            if buf[:4] not in PCAP_MAGICS:
                return self._stop(buf, 0, 0, f"not a pcap file: magic {buf[:4].hex()}")
            self._order = PCAP_MAGICS[buf[:4]]
            # The top 6 bits may carry FCS information; libpcap masks them the same way.
            self._link, pos = struct.unpack_from(self._order + "I", buf, 20)[0] & 0x03FFFFFF, 24
        read, starts = struct.Struct(self._order + "I").unpack_from, []
        while n - pos >= 16:  # the hot loop: one read and one append a record
            (size,) = read(buf, pos + 8)
            if size > MAX_RECORD or pos + 16 + size > n:
                break
            starts.append(pos)
            pos += 16 + size
        walk.run(starts, pos, 16, self._link, self.frames + 1)
        self.frames += len(starts)
        size = read(buf, pos + 8)[0] if n - pos >= 16 else 0
        if size > MAX_RECORD:
            return self._stop(buf, pos, self.frames + 1,
                              f"record length {size} exceeds {MAX_RECORD}")
        self._wait = (self.frames + 1, "record", 16 + size if n - pos >= 16 else 0, 16)
        return pos

    def _pcapng(self, buf: bytes, walk: _Walk) -> int:
        pos, n, rows = 0, len(buf), walk.rows
        while n - pos >= 12:
            order = self._order or "<"
            kind, size = _U32X2[order].unpack_from(buf, pos)
            if kind == EPB and 32 <= size <= min(n - pos, MAX_BLOCK) and not size % 4:  # the usual
                iface, _, _, cap = _EPB[order].unpack_from(buf, pos + 8)  # block, taken at once
                if cap <= size - 32 and iface < len(self._ifaces) and \
                        _U32[order].unpack_from(buf, pos + size - 4)[0] == size:
                    self.frames += 1
                    rows.append((pos + 28, cap, self._ifaces[iface][0], self.frames))
                    pos += size
                    continue  # anything else about an EPB is told by the general path below
            if kind == SHB or self._order is None:  # SHB reads the same in both byte orders
                order = PCAPNG_BOMS.get(buf[pos + 8:pos + 12], "")
                if kind != SHB:
                    return self._stop(buf, pos, 0, "not a pcapng file: no section header")
                if not order:
                    magic = buf[pos + 8:pos + 12].hex()
                    return self._stop(buf, pos, 0, f"pcapng byte-order magic {magic} is unknown")
                (size,) = _U32[order].unpack_from(buf, pos + 4)
            number = self.frames + 1 if kind in (PB, SPB, EPB) or kind in RECORD_BLOCKS else 0
            if size % 4 or size < 12 or size > MAX_BLOCK:
                rule = ("is not a multiple of 4" if size % 4 else "is less than 12" if size < 12
                        else f"exceeds {MAX_BLOCK}")
                return self._stop(buf, pos, number, f"pcapng block length {size} {rule}")
            if n - pos < size:
                self._wait = (number, "block", size, 12)
                return pos
            (trailer,) = _U32[order].unpack_from(buf, pos + size - 4)
            if trailer != size:
                return self._stop(buf, pos, number, f"pcapng block lengths differ: {size} and {trailer}")
            body, room = pos + 8, size - 12
            if kind == SHB:
                major, minor = struct.unpack_from(order + "HH", buf, body + 4) if room >= 16 else (0, 0)
                if major != 1:
                    why = f"version {major}.{minor} is not supported" if room >= 16 else "is too short"
                    return self._stop(buf, pos, 0, f"pcapng section header {why}")
                self._order, self._ifaces = order, []
            elif kind == IDB:
                if room < 8:
                    return self._stop(buf, pos, 0,
                                      f"pcapng interface block of {size} bytes is too short")
                link, _, snap = struct.unpack_from(order + "HHI", buf, body)
                self._ifaces.append((link, snap))
            elif number:
                self.frames += 1
                why = self._packet_block(kind, buf, body, room, walk)
                if why:  # the block is whole: only this frame is lost
                    raw = buf[pos:pos + min(size, RAW_LIMIT)]
                    walk.problems.append(Problem(number, self._base + pos, raw, why))
            pos += size
        self._wait = (0, "block", 0, 12)
        return pos

    def _packet_block(self, kind: int, buf: bytes, body: int, room: int, walk: _Walk) -> str:
        """Take the frame of an EPB / PB / SPB, or say why it cannot be read."""
        if kind in RECORD_BLOCKS:
            walk.skips[REASONS[NOT_PACKET]] += 1
            return ""
        head = 4 if kind == SPB else 20
        if room < head:
            return f"pcapng {_NAMES[kind]} of {room + 12} bytes is too short"
        if kind == SPB:
            if not self._ifaces:
                return "pcapng SPB before any interface description"
            iface, (size,), snap = 0, _U32[self._order].unpack_from(buf, body), self._ifaces[0][1]
            size = min(size, snap) if snap else size  # an SPB holds at most the snap length
        else:  # EPB: interface u32, time stamp, captured length; PB: interface u16, drops u16, ...
            iface, _, _, size = _EPB[self._order].unpack_from(buf, body)
            iface = iface if kind == EPB else _U16[self._order].unpack_from(buf, body)[0]
        name = _NAMES[kind]
        if size > room - head:
            return f"pcapng {name} captured length {size} exceeds its block"
        if iface >= len(self._ifaces):
            return (f"pcapng {name} on interface {iface}, but the section describes "
                    f"{len(self._ifaces)}")
        walk.rows.append((body + head, size, self._ifaces[iface][0], self.frames))
        return ""

    def _units(self, buf: bytes, walk: _Walk) -> int:
        pos, n, starts = 0, len(buf), []
        while n - pos >= 2:
            size = buf[pos] | buf[pos + 1] << 8
            if size < 8 or pos + size > n:
                break
            starts.append(pos)
            pos += size
        walk.run(starts, pos, 0, 0, self.frames + 1)
        self.frames += len(starts)
        size = buf[pos] | buf[pos + 1] << 8 if n - pos >= 2 else 0
        if n - pos >= 2 and size < 8:
            return self._stop(buf, pos, self.frames + 1,
                              f"unit header length {size} is less than 8")
        self._wait = (self.frames + 1, "unit", size, 8)
        return pos


@dataclass
class _Walk:
    """What one pass over the records found, before the vectorised checks."""

    rows: list[tuple[int, int, int, int]] = field(default_factory=list)  # (frame start in the
    problems: list[Problem] = field(default_factory=list)  # buffer, captured length, link type,
    skips: Counter[str] = field(default_factory=Counter)  # frame number), one a frame
    cols: np.ndarray | None = None  # the same as a 4 x n array, when records were walked in bulk

    def run(self, starts: list[int], end: int, head: int, link: int, first: int) -> None:
        """Records back to back from ``starts`` to ``end``, each behind a ``head``-byte header."""
        at = np.array(starts, np.int64)
        self.cols = np.stack([at + head, np.diff(at, append=end) - head, np.full_like(at, link),
                              np.arange(first, first + len(at))])

    def batch(self, buf: bytes, base: int, units: bool) -> Batch:
        cols = np.array(self.rows, np.int64).reshape(-1, 4).T if self.cols is None else self.cols
        if not cols.shape[1]:
            return Batch(skipped=dict(self.skips), problems=tuple(self.problems))
        a, (ps, pl, links, packets) = np.frombuffer(buf, np.uint8), cols.copy()
        why, dst, port = np.zeros(len(ps), np.int8), np.zeros_like(ps), np.zeros_like(ps)
        for link in [] if units else np.unique(links).tolist():
            lanes = np.flatnonzero(links == link)
            if link not in LINKS:
                why[lanes] = UNSUPPORTED
                self.skips[f"{REASONS[UNSUPPORTED]} {link}"] += len(lanes)
            else:
                ps[lanes], pl[lanes], why[lanes], dst[lanes], port[lanes] = _datagrams(
                    a, ps[lanes], pl[lanes], link)
        _check_units(a, ps, pl, why)
        for code, count in enumerate(np.bincount(why, minlength=len(REASONS)).tolist()):
            if count and code not in (0, UNSUPPORTED):
                self.skips[REASONS[code]] += count
        keep = why == 0
        ps, pl, view = ps[keep], pl[keep], memoryview(buf)
        data = b"".join([view[s:s + n] for s, n in zip(ps.tolist(), pl.tolist())])
        return Batch(data, np.cumsum(pl) - pl, pl, packets[keep], base + ps,
                     dst[keep], port[keep], dict(self.skips), tuple(self.problems))
