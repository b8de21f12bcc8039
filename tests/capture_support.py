"""The slow twin of pitch.framing: whole buffer in, struct reads, one plain loop per layer.

Written from the formats, not from the fast code: every rule is a line here, in the
order the checks are made, with its reason spelled out. The tests hold
``pitch.framing.Framer`` equal to ``reference_frames`` on every input.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field

from pitch.framing import Packet, Problem

PCAP_ORDER = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",
              b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">"}
PCAPNG_ORDER = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
SHB_TYPE = b"\x0a\x0d\x0d\x0a"
NUMBERED_BLOCKS = {2, 3, 6, 9, 0x204, 0x208, 0x216, 0x217, 0x221, 0x222, 0xBAD, 0x40000BAD}
STOPPED = "; framing stopped"


def be16(b: bytes, at: int) -> int:
    return struct.unpack_from(">H", b, at)[0]


def udp_payload(frame: bytes, link: int) -> tuple[int, int, int, int] | str:
    """(payload offset in the frame, payload length, destination address, port), or why not."""
    if link in (1, 113, 276):  # Ethernet, Linux cooked v1, v2: an ethertype, maybe VLAN tags
        type_at, pos = {1: (12, 14), 113: (14, 16), 276: (0, 20)}[link]
        if len(frame) < pos:
            return "truncated frame"
        ethertype, tags = be16(frame, type_at), 0
        while ethertype in (0x8100, 0x88A8, 0x9100):
            if tags == 8:
                return "more than 8 VLAN tags"
            if len(frame) < pos + 4:
                return "truncated frame"
            ethertype, pos, tags = be16(frame, pos + 2), pos + 4, tags + 1
        if ethertype != 0x0800:
            return "not IPv4"
    elif link in (0, 108):  # BSD loopback: a 4-byte address family, AF_INET = 2
        if len(frame) < 4:
            return "truncated frame"
        if frame[:4] not in (b"\x02\0\0\0", b"\0\0\0\x02"):
            return "not IPv4"
        pos = 4
    elif link in (12, 14, 101, 228, 229):  # raw IP
        pos = 0
    else:
        return f"unsupported link type {link}"
    if len(frame) < pos + 20:
        return "truncated frame"
    version, ihl = frame[pos] >> 4, (frame[pos] & 0x0F) * 4
    if version != 4:
        return "not IPv4"
    if ihl < 20:
        return "bad IPv4 header"
    if frame[pos + 9] != 17:
        return "not UDP"
    if be16(frame, pos + 6) & 0x3FFF:
        return "IPv4 fragment"
    total = be16(frame, pos + 2)
    if total < ihl + 8:
        return "bad IPv4 header"
    udp = pos + ihl
    if len(frame) < udp + 8:
        return "truncated frame"
    udp_length = be16(frame, udp + 4)
    if udp_length < 8 or udp_length > total - ihl:
        return "bad UDP length"
    if len(frame) < udp + udp_length:
        return "truncated frame"
    dst = struct.unpack_from(">I", frame, pos + 16)[0]
    return udp + 8, udp_length - 8, dst, be16(frame, udp + 2)


def unit_problem(unit: bytes) -> str | None:
    """Why ``unit`` is not a Sequenced Unit framed exactly by its messages, or None."""
    if len(unit) < 8:
        return "UDP payload shorter than a unit header"
    length, count = struct.unpack_from("<HB", unit)
    if length != len(unit):
        return "unit length disagrees with UDP length"
    pos = 8
    for _ in range(count):
        if pos >= len(unit):
            return "messages overrun the unit"
        if unit[pos] < 2:
            return "message shorter than 2 bytes"
        if pos + unit[pos] > len(unit):
            return "messages overrun the unit"
        pos += unit[pos]
    if pos != len(unit):
        return "bytes left after the messages"
    return None


@dataclass
class Reference:
    """What the reference framer found in a whole stream."""

    data: bytes
    packets: list[Packet] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    frames: int = 0

    def problem(self, packet: int, offset: int, reason: str, size: int = 1024) -> None:
        self.problems.append(Problem(packet, offset, self.data[offset:offset + min(size, 1024)], reason))

    def frame(self, packet: int, start: int, caplen: int, link: int) -> None:
        frame = self.data[start:start + caplen]
        found = udp_payload(frame, link)
        if isinstance(found, str):
            self.skipped[found] += 1
            return
        at, length, dst, port = found
        self.unit(packet, start + at, frame[at:at + length], dst, port)

    def unit(self, packet: int, offset: int, unit: bytes, dst: int = 0, port: int = 0) -> None:
        why = unit_problem(unit)
        if why:
            self.skipped[why] += 1
        else:
            self.packets.append(Packet(packet, offset, unit, dst, port))


def reference_frames(data: bytes, fmt: str) -> Reference:
    """Frame a whole stream of format ``fmt`` the slow way."""
    ref = Reference(data)
    {"pcap": _pcap, "pcapng": _pcapng, "units": _units}[fmt](ref, data)
    return ref


def _pcap(ref: Reference, d: bytes) -> None:
    if len(d) < 24:
        return ref.problem(0, 0, f"truncated pcap file header: {len(d)} of 24 bytes")
    if d[:4] not in PCAP_ORDER:
        return ref.problem(0, 0, f"not a pcap file: magic {d[:4].hex()}" + STOPPED)
    order = PCAP_ORDER[d[:4]]
    link = struct.unpack_from(order + "I", d, 20)[0] & 0x03FFFFFF  # libpcap's LT_LINKTYPE()
    pos = 24
    while pos < len(d):
        number, left = ref.frames + 1, len(d) - pos
        if left < 16:
            return ref.problem(number, pos, f"truncated record: {left} of at least 16 bytes")
        _, _, caplen, _ = struct.unpack_from(order + "IIII", d, pos)
        if caplen > 262144:
            return ref.problem(number, pos, f"record length {caplen} exceeds 262144" + STOPPED)
        if left < 16 + caplen:
            return ref.problem(number, pos, f"truncated record: {left} of {16 + caplen} bytes")
        ref.frames += 1
        ref.frame(number, pos + 16, caplen, link)
        pos += 16 + caplen


def _pcapng(ref: Reference, d: bytes) -> None:  # noqa: C901 - one branch per block type
    if not d:  # an empty stream: not even a section header
        return ref.problem(0, 0, "truncated block: 0 of at least 12 bytes")
    pos, order, interfaces = 0, None, []
    while pos < len(d):
        left = len(d) - pos
        if left < 12:
            return ref.problem(0, pos, f"truncated block: {left} of at least 12 bytes")
        block_order = order
        if d[pos:pos + 4] == SHB_TYPE:
            block_order = PCAPNG_ORDER.get(d[pos + 8:pos + 12])
            if block_order is None:
                return ref.problem(0, pos, f"pcapng byte-order magic {d[pos + 8:pos + 12].hex()} "
                                   "is unknown" + STOPPED)
        elif order is None:
            return ref.problem(0, pos, "not a pcapng file: no section header" + STOPPED)
        kind, size = struct.unpack_from(block_order + "II", d, pos)
        number = ref.frames + 1 if kind in NUMBERED_BLOCKS else 0
        for bad, rule in ((size % 4, "is not a multiple of 4"), (size < 12, "is less than 12"),
                          (size > 1 << 24, f"exceeds {1 << 24}")):
            if bad:
                return ref.problem(number, pos, f"pcapng block length {size} {rule}" + STOPPED)
        if left < size:
            return ref.problem(number, pos, f"truncated block: {left} of {size} bytes")
        (trailer,) = struct.unpack_from(block_order + "I", d, pos + size - 4)
        if trailer != size:
            return ref.problem(number, pos,
                               f"pcapng block lengths differ: {size} and {trailer}" + STOPPED)
        body = d[pos + 8:pos + size - 4]
        if kind == 0x0A0D0D0A:
            if len(body) < 16:
                return ref.problem(0, pos, "pcapng section header is too short" + STOPPED)
            major, minor = struct.unpack_from(block_order + "HH", body, 4)
            if major != 1:
                return ref.problem(0, pos, f"pcapng section header version {major}.{minor} is not "
                                   "supported" + STOPPED)
            order, interfaces = block_order, []
        elif kind == 1:
            if len(body) < 8:
                return ref.problem(0, pos,
                                   f"pcapng interface block of {size} bytes is too short" + STOPPED)
            link, _, snaplen = struct.unpack_from(order + "HHI", body)
            interfaces.append((link, snaplen))
        elif kind in (2, 6):  # (obsolete) Packet Block, Enhanced Packet Block
            ref.frames += 1
            name = "EPB" if kind == 6 else "packet block"
            if len(body) < 20:
                ref.problem(number, pos, f"pcapng {name} of {size} bytes is too short", size)
            else:
                iface = struct.unpack_from(order + ("I" if kind == 6 else "H"), body)[0]
                (caplen,) = struct.unpack_from(order + "I", body, 12)
                if caplen > len(body) - 20:
                    ref.problem(number, pos,
                                f"pcapng {name} captured length {caplen} exceeds its block", size)
                elif iface >= len(interfaces):
                    ref.problem(number, pos, f"pcapng {name} on interface {iface}, but the section "
                                f"describes {len(interfaces)}", size)
                else:
                    ref.frame(number, pos + 28, caplen, interfaces[iface][0])
        elif kind == 3:  # Simple Packet Block: interface 0, captured = min(length, snap length)
            ref.frames += 1
            if len(body) < 4:
                ref.problem(number, pos, f"pcapng SPB of {size} bytes is too short", size)
            elif not interfaces:
                ref.problem(number, pos, "pcapng SPB before any interface description", size)
            else:
                (length,) = struct.unpack_from(order + "I", body)
                link, snaplen = interfaces[0]
                caplen = min(length, snaplen) if snaplen else length
                if caplen > len(body) - 4:
                    ref.problem(number, pos,
                                f"pcapng SPB captured length {caplen} exceeds its block", size)
                else:
                    ref.frame(number, pos + 12, caplen, link)
        elif number:
            ref.frames += 1
            ref.skipped["not a packet block"] += 1
        pos += size


def _units(ref: Reference, d: bytes) -> None:
    pos = 0
    while pos < len(d):
        number, left = ref.frames + 1, len(d) - pos
        if left < 2:
            return ref.problem(number, pos, f"truncated unit: {left} of at least 8 bytes")
        (size,) = struct.unpack_from("<H", d, pos)
        if size < 8:
            return ref.problem(number, pos, f"unit header length {size} is less than 8" + STOPPED)
        if left < size:
            return ref.problem(number, pos, f"truncated unit: {left} of {size} bytes")
        ref.frames += 1
        ref.unit(number, pos, d[pos:pos + size])
        pos += size
