"""Writers of binary Multicast PITCH containers: units in, pcap / pcapng / raw bytes out.

For tests and the session generator. Frames look like a capture of a Cboe
multicast feed: Ethernet (optionally 802.1Q / QinQ tagged), Linux cooked
(SLL, SLL2), raw IPv4 or BSD loopback, then IPv4 with a correct header
checksum, UDP with checksum 0 ("none", which IPv4 allows) and one Sequenced
Unit per datagram. Short Ethernet frames are padded to 60 bytes as on the
wire, so readers must size payloads from the UDP length. No I/O.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from .errors import PitchError

LINKTYPES: dict[str, int] = {"ethernet": 1, "sll": 113, "sll2": 276, "raw": 101, "null": 0}
ETHERTYPE_IPV4 = 0x0800
_SOURCE_IP = bytes([10, 0, 0, 1])
_GROUP_IP = bytes([224, 0, 62, 2])
_SOURCE_MAC = bytes.fromhex("d4aff7cae505")
_GROUP_MAC = bytes.fromhex("01005e003e02")  # the multicast MAC of 224.0.62.2
_EPOCH = 1_700_000_000


def message(kind: int, body: bytes = b"") -> bytes:
    """One message: its length byte (the whole message), its type byte, then ``body``."""
    if len(body) + 2 > 255:
        raise PitchError(f"message of {len(body) + 2} bytes does not fit a length byte")
    return bytes([len(body) + 2, kind]) + body


def unit(seq: int, unit: int, messages: Sequence[bytes]) -> bytes:
    """A Sequenced Unit: the 8-byte header (length, count, unit, sequence) and the messages."""
    body = b"".join(messages)
    if len(body) + 8 > 0xFFFF or len(messages) > 255:
        raise PitchError(f"a unit holds at most 255 messages and 65535 bytes, not "
                         f"{len(messages)} and {len(body) + 8}")
    return struct.pack("<HBBI", 8 + len(body), len(messages), unit, seq) + body


def write_units(units: Sequence[bytes]) -> bytes:
    """A raw units file: the units back to back, no capture framing."""
    return b"".join(units)


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f">{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_udp(payload: bytes, *, ident: int = 0, frag: int = 0x4000, protocol: int = 17,
             udp_length: int | None = None) -> bytes:
    """An IPv4 packet holding one UDP datagram with ``payload``.

    ``frag`` is the flags + fragment-offset word (0x4000: don't fragment);
    ``protocol`` and ``udp_length`` may be set to build broken packets for tests.
    """
    ulen = 8 + len(payload) if udp_length is None else udp_length
    udp = struct.pack(">HHHH", 30001, 30001, ulen & 0xFFFF, 0) + payload
    head = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), ident & 0xFFFF, frag, 32,
                       protocol, 0, _SOURCE_IP, _GROUP_IP)
    return head[:10] + struct.pack(">H", _checksum(head)) + head[12:] + udp


def link_frame(packet: bytes, *, link: str = "ethernet", vlan: int = 0,
               ethertype: int = ETHERTYPE_IPV4) -> bytes:
    """``packet`` behind the link-layer header of ``link`` (see ``LINKTYPES``).

    ``vlan`` is the number of VLAN tags (Ethernet only; ``True`` is one): outer
    tags are 802.1ad (0x88A8), the innermost 802.1Q (0x8100).
    """
    if vlan and link != "ethernet":
        raise PitchError(f"VLAN tags are written on Ethernet frames only, not {link}")
    if link == "ethernet":
        tags = b"".join(struct.pack(">HH", 0x8100 if i == vlan - 1 else 0x88A8, 100 + i)
                        for i in range(int(vlan)))
        frame = _GROUP_MAC + _SOURCE_MAC + tags + struct.pack(">H", ethertype) + packet
        return frame.ljust(60, b"\0")  # the Ethernet minimum, FCS not captured
    if link == "sll":  # packet type 2 (multicast), ARPHRD_ETHER, address length 6
        return struct.pack(">HHH8sH", 2, 1, 6, _SOURCE_MAC, ethertype) + packet
    if link == "sll2":
        return struct.pack(">HHIHBB8s", ethertype, 0, 1, 1, 2, 6, _SOURCE_MAC) + packet
    if link == "raw":
        return packet
    if link == "null":  # the address family in the writer's byte order; AF_INET is 2
        return struct.pack("<I", 2) + packet
    raise PitchError(f"unknown link {link!r}: use one of {', '.join(LINKTYPES)}")


def udp_frame(payload: bytes, *, link: str = "ethernet", vlan: int = 0, ident: int = 0) -> bytes:
    """A whole link-layer frame carrying ``payload`` as one UDP datagram."""
    return link_frame(ipv4_udp(payload, ident=ident), link=link, vlan=vlan)


def pcap_file(frames: Sequence[bytes], *, linktype: int = 1, nanos: bool = True,
              big_endian: bool = False, snaplen: int = 65535) -> bytes:
    """A classic pcap file holding ``frames`` as they are (one record each)."""
    e = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = [struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for i, frame in enumerate(frames):
        fraction = (i % 1000) * (1_000_000 if nanos else 1000)  # i milliseconds
        out.append(struct.pack(e + "IIII", _EPOCH + i // 1000, fraction, len(frame), len(frame)))
        out.append(frame)
    return b"".join(out)


def write_pcap(units: Sequence[bytes], *, nanos: bool = True, big_endian: bool = False,
               vlan: int = 0, link: str = "ethernet", linktype: int | None = None) -> bytes:
    """A classic pcap of ``units``, one UDP frame each.

    ``linktype`` overrides the header's link type (e.g. 12, 14 or 228 for raw IPv4).
    """
    frames = [udp_frame(u, link=link, vlan=vlan, ident=i) for i, u in enumerate(units)]
    kind = LINKTYPES.get(link, -1) if linktype is None else linktype
    return pcap_file(frames, linktype=kind, nanos=nanos, big_endian=big_endian)


def pcapng_block(kind: int, body: bytes, *, big_endian: bool = False) -> bytes:
    """One pcapng block: type, total length, ``body`` padded to 4 bytes, total length."""
    e = ">" if big_endian else "<"
    body += b"\0" * (-len(body) % 4)
    return struct.pack(e + "II", kind, len(body) + 12) + body + struct.pack(e + "I", len(body) + 12)


def pcapng_shb(*, big_endian: bool = False) -> bytes:
    """A Section Header Block (version 1.0, section length unknown); it sets the byte order."""
    e = ">" if big_endian else "<"
    return pcapng_block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1),
                        big_endian=big_endian)


def pcapng_idb(linktype: int, *, snaplen: int = 0, big_endian: bool = False) -> bytes:
    """An Interface Description Block (``snaplen`` 0: no limit)."""
    e = ">" if big_endian else "<"
    return pcapng_block(1, struct.pack(e + "HHI", linktype, 0, snaplen), big_endian=big_endian)


def pcapng_epb(frame: bytes, *, interface: int = 0, ts: int = 0, big_endian: bool = False) -> bytes:
    """An Enhanced Packet Block holding ``frame`` on ``interface``."""
    e = ">" if big_endian else "<"
    head = struct.pack(e + "IIIII", interface, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame))
    return pcapng_block(6, head + frame, big_endian=big_endian)


def pcapng_spb(frame: bytes, *, big_endian: bool = False) -> bytes:
    """A Simple Packet Block holding ``frame`` (always interface 0)."""
    e = ">" if big_endian else "<"
    return pcapng_block(3, struct.pack(e + "I", len(frame)) + frame, big_endian=big_endian)


def write_pcapng(units: Sequence[bytes], *, big_endian: bool = False, vlan: int = 0,
                 link: str = "ethernet", linktype: int | None = None,
                 simple: bool = False) -> bytes:
    """A one-section, one-interface pcapng of ``units``: EPBs, or SPBs if ``simple``."""
    kind = LINKTYPES.get(link, -1) if linktype is None else linktype
    out = [pcapng_shb(big_endian=big_endian), pcapng_idb(kind, big_endian=big_endian)]
    for i, u in enumerate(units):
        frame = udp_frame(u, link=link, vlan=vlan, ident=i)
        out.append(pcapng_spb(frame, big_endian=big_endian) if simple else
                   pcapng_epb(frame, ts=(_EPOCH + i) * 10**6, big_endian=big_endian))
    return b"".join(out)
