"""Framing: binary captures to Sequenced Units, held to the public captures, to tables of
synthetic cases, and to the slow reference twin (tests/capture_support.py) under every
chunking, including fuzzed input."""

from __future__ import annotations

import itertools
import random
import struct
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest

from pitch import capture_write as w
from pitch.errors import DecodeError, PitchError
from pitch.framing import FORMATS, MAX_BLOCK, MAX_RECORD, Framer, Packet, Problem, detect, is_gzip
from capture_support import reference_frames

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
BINARY = SHARED / "binary"

# --- building blocks ------------------------------------------------------------------------

TIME = w.message(0x20, struct.pack("<I", 34200))
ADD = w.message(0x22, bytes(range(24)))
DELETE = w.message(0x29, bytes(12))
UNITS = [w.unit(1, 1, [TIME]), w.unit(2, 1, []), w.unit(2, 1, [ADD, DELETE, ADD]),
         w.unit(7, 9, [ADD] * 53), w.unit(5, 1, [])]  # 53 * 26 + 8 = 1386 bytes, a full packet


def ether(ethertype: int, payload: bytes, tags: Iterable[int] = ()) -> bytes:
    head = bytes.fromhex("01005e003e02d4aff7cae505")
    head += b"".join(struct.pack(">HH", tpid, 7) for tpid in tags)
    return (head + struct.pack(">H", ethertype) + payload).ljust(60, b"\0")


def ipv4(payload: bytes, *, protocol: int = 17, ihl: int = 5, total: int | None = None,
         frag: int = 0) -> bytes:
    options = bytes(4 * (ihl - 5)) if ihl > 5 else b""
    length = 4 * max(ihl, 5) + len(payload) if total is None else total
    head = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, length, 0, frag, 64, protocol, 0,
                       bytes(4), bytes([239, 1, 2, 3]))
    return head + options + payload


def udp(payload: bytes, length: int | None = None) -> bytes:
    return struct.pack(">HHHH", 1, 2, 8 + len(payload) if length is None else length, 0) + payload


ARP = ether(0x0806, bytes(28))
TCP = ether(0x0800, ipv4(bytes(20) + UNITS[0], protocol=6))
IPV6 = ether(0x86DD, bytes(40) + udp(UNITS[0]))
LLC = ether(0x0026, bytes(38))  # an 802.3 length field, not an ethertype


def frames_of(units: Iterable[bytes], **kw) -> list[bytes]:
    return [w.udp_frame(u, **kw) for u in units]


def pcap(frames: Iterable[bytes], linktype: int = 1) -> bytes:
    return w.pcap_file(list(frames), linktype=linktype)


def pcapng(*blocks: bytes, big: bool = False) -> bytes:
    return w.pcapng_shb(big_endian=big) + b"".join(blocks)


def epbs(frames: Iterable[bytes], interface: int = 0, big: bool = False) -> bytes:
    return b"".join(w.pcapng_epb(f, interface=interface, big_endian=big) for f in frames)


# --- running the framer and its twin --------------------------------------------------------

def chunked(data: bytes, sizes: Iterator[int]) -> Iterator[bytes]:
    pos = 0
    while pos < len(data):
        size = next(sizes)
        yield data[pos:pos + size]
        pos += size


def stream(data: bytes, fmt: str, sizes: Iterator[int]) -> tuple:
    """Frame ``data`` fed in chunks of ``sizes``; check each batch's arrays on the way."""
    framer, packets, problems = Framer(fmt), [], []
    for batch in [framer.feed(c) for c in chunked(data, sizes)] + [framer.close()]:
        assert framer.pending < {"pcap": 16 + MAX_RECORD, "pcapng": MAX_BLOCK, "units": 1 << 16}[fmt]
        for array in (batch.start, batch.length, batch.packet, batch.offset, batch.dst_ip,
                      batch.dst_port):
            assert array.dtype == np.int64 and len(array) == len(batch)
        assert batch.length.sum() == len(batch.data)  # payloads back to back
        for p in batch.packets():
            assert data[p.offset:p.offset + len(p.payload)] == p.payload
        packets += batch.packets()
        problems += batch.problems
    return packets, problems, +framer.skipped, framer.frames


def check(data: bytes, fmt: str | None = None, seed: int = 0) -> tuple:
    """The streaming framer equals the reference whole, and in 1-byte (small inputs), 7-byte
    and random chunks. Returns (frame numbers, payloads, skip counts, problems)."""
    fmt = fmt or detect(data)
    ref = reference_frames(data, fmt)
    expected = (ref.packets, ref.problems, +ref.skipped, ref.frames)
    rng = random.Random(seed)
    splits = [itertools.repeat(max(len(data), 1)), iter(lambda: rng.randint(1, 300), None),
              iter(lambda: rng.choice([1, 2, 3, 4096]), None)]
    if len(data) <= 100_000:
        splits.append(itertools.repeat(7))
    if len(data) <= 3000:
        splits.append(itertools.repeat(1))
    for sizes in splits:
        assert stream(data, fmt, sizes) == expected
    numbers, payloads = [p.packet for p in ref.packets], [p.payload for p in ref.packets]
    return numbers, payloads, dict(ref.skipped), ref.problems


def reasons(problems: list[Problem]) -> list[str]:
    return [p.reason for p in problems]


# --- the public captures --------------------------------------------------------------------

def messages(payload: bytes) -> list[int]:
    """The message types of a unit, found by its length bytes."""
    types, pos = [], 8
    for _ in range(payload[2]):
        types.append(payload[pos + 1])
        pos += payload[pos]
    assert pos == len(payload)
    return types


def header(payload: bytes) -> tuple[int, int, int, int]:
    return struct.unpack_from("<HBBI", payload)


def test_bats_realtime_capture():
    data = (BINARY / "bats_mcastpitch_realtime.pcap").read_bytes()
    assert detect(data[:4096]) == "pcap"
    numbers, payloads, skipped, problems = check(data)
    assert (len(payloads), numbers[:3], numbers[-1], skipped, problems) == (739, [1, 2, 3], 739, {}, [])
    assert {header(p)[2] for p in payloads} == {1}
    types = Counter(t for p in payloads for t in messages(p))
    assert sum(types.values()) == 40
    assert types == {0x20: 19, 0x21: 4, 0x22: 3, 0x23: 3, 0x26: 2, 0x27: 1, 0x28: 1, 0x29: 4,
                     0x2A: 2, 0x2B: 1}
    assert sum(header(p)[1] == 0 for p in payloads) == 720  # heartbeats are yielded
    # Two multicast feeds in one capture, both saying unit 1: the destination tells them apart.
    batch = Framer("pcap").feed(data)
    found = zip(batch.dst_ip.tolist(), batch.dst_port.tolist())
    assert {(ip >> 24, ip & 0xFF, port) for ip, port in found} == {(239, 190, 32001), (239, 191, 32001)}


@pytest.mark.parametrize("name, expected", [
    ("omi_byx_add_order_short.pcap", [(34, 1, 17, 14003), (40, 2, 15, 47690), (34, 1, 15, 47692),
                                      (60, 2, 15, 47693), (66, 3, 31, 35742)]),
    ("omi_byx_modify_order_short.pcap", [(27, 1, 11, 121843)]),
    ("omi_byx_multiple_messages.pcap", [(66, 3, 31, 35742)]),
])
def test_omi_byx_captures(name, expected):
    data = (BINARY / name).read_bytes()
    assert detect(data) == "pcap"
    numbers, payloads, skipped, problems = check(data)
    assert [header(p) for p in payloads] == expected
    assert (numbers, skipped, problems) == (list(range(1, len(expected) + 1)), {}, [])
    pos, tags = 24, []
    while pos < len(data):  # every frame is 802.1Q tagged
        (size,) = struct.unpack_from("<I", data, pos + 8)
        tags.append(data[pos + 16 + 12:pos + 16 + 14])
        pos += 16 + size
    assert tags == [b"\x81\x00"] * len(expected)
    if name == "omi_byx_multiple_messages.pcap":
        assert messages(payloads[0]) == [0x20, 0x22, 0x22]


def test_fpganow_raw_units():
    data = (BINARY / "fpganow_multi.dat").read_bytes()
    assert detect(data) == "units"
    numbers, payloads, skipped, problems = check(data)
    assert [(header(p)[2], header(p)[3]) for p in payloads] == [(1, 1), (1, 4), (1, 6), (1, 9)]
    assert (numbers, skipped, problems, sum(map(len, payloads))) == ([1, 2, 3, 4], {}, [], len(data))


def test_text_pitch_is_not_binary():
    text = (SHARED / "pitch_data.txt").read_bytes()
    assert detect(text[:65536]) is None and detect(text) is None
    assert not is_gzip(text)


# --- detection --------------------------------------------------------------------------------

RAW = w.write_units(UNITS)


@pytest.mark.parametrize("head, expected", [
    (w.write_pcap(UNITS[:1], nanos=False), "pcap"),
    (w.write_pcap(UNITS[:1], nanos=True), "pcap"),
    (w.write_pcap(UNITS[:1], nanos=False, big_endian=True), "pcap"),
    (w.write_pcap(UNITS[:1], nanos=True, big_endian=True), "pcap"),
    (w.write_pcapng(UNITS[:1]), "pcapng"),
    (w.write_pcapng(UNITS[:1], big_endian=True), "pcapng"),
    (b"\x0a\x0d\x0d\x0a" + bytes(8), None),  # a section header without its byte-order magic
    (RAW, "units"), (RAW[:len(UNITS[0]) + 3], "units"),  # the second unit cut by the head
    (UNITS[1], "units"),  # one heartbeat
    (RAW[:len(UNITS[0]) - 1], None),  # the first unit not whole
    (w.unit(1, 1, [TIME]) + b"\x03\x00" + bytes(6), None),  # a second header length < 8
    (struct.pack("<HBBI", 14, 1, 1, 1) + b"\x05\x20" + bytes(4), None),  # messages do not frame it
    (struct.pack("<HBBI", 14, 2, 1, 1) + TIME, None),  # count overruns
    (b"S28800011AAK27GA0000DTS000100SH    0000619200Y\n", None),
    (b"28800011AAK27GA0000DTS000100SH    0000619200Y\r\n", None),
    (b"S" + bytes([0x08, 0x00]) * 4000, None),  # not text, and not framed either
    (b"", None), (b"\x1f\x8b\x08\x00", None), (bytes(7), None), (bytes(64), None),
])
def test_detect(head, expected):
    assert detect(head) == expected


def test_a_text_line_never_detects_as_units():
    # A printable line can frame exactly: "0 " is a length of 8240, "z" a count of 122, and
    # 64 messages of 67 bytes and 58 of 68 fill it. It is text all the same...
    body = b"".join(bytes([n]) + b"x" * (n - 1) for n in [67] * 64 + [68] * 58)
    line = b"0 zxyyyy" + body
    assert len(line) == 8240 and detect(line + b"\n") is None
    # ... and the same bytes with one that no text line holds are a unit.
    assert detect(b"0 zx\x01yyy" + body + b"\n") == "units"
    assert is_gzip(b"\x1f\x8b\x08\x00") and not is_gzip(b"\x1f\x8b") and not is_gzip(RAW)


# --- synthetic captures, each checked against the reference at every chunking ------------------

LINKS = [("ethernet", None), ("sll", None), ("sll2", None), ("raw", 101), ("raw", 12), ("raw", 14),
         ("raw", 228), ("null", 0), ("null", 108)]


@pytest.mark.parametrize("link, linktype", LINKS)
@pytest.mark.parametrize("container", ["pcap-us-le", "pcap-ns-le", "pcap-us-be", "pcap-ns-be",
                                       "pcapng-le", "pcapng-be", "pcapng-spb"])
def test_every_link_type_and_container(link, linktype, container):
    kw = {"link": link, "linktype": linktype}
    if container.startswith("pcap-"):
        data = w.write_pcap(UNITS, nanos="ns" in container, big_endian="be" in container, **kw)
    else:
        data = w.write_pcapng(UNITS, big_endian="be" in container, simple="spb" in container, **kw)
    assert detect(data) == container.split("-")[0]
    numbers, payloads, skipped, problems = check(data, seed=len(data))
    assert (numbers, payloads, skipped, problems) == ([1, 2, 3, 4, 5], UNITS, {}, [])


def obsolete_packet_block(frame: bytes, interface: int, drops: int = 3) -> bytes:
    head = struct.pack("<HHIIII", interface, drops, 0, 0, len(frame), len(frame))  # u16 interface
    return w.pcapng_block(2, head + frame)


def test_pcapng_sections_interfaces_and_other_blocks():
    little = [w.pcapng_idb(1), w.pcapng_idb(113),  # two interfaces of different link types
              epbs(frames_of(UNITS[:1])), epbs(frames_of(UNITS[1:2], link="sll"), interface=1),
              w.pcapng_block(4, struct.pack("<HH", 0, 0)),  # name resolution: skipped, unnumbered
              w.pcapng_block(5, bytes(12)),  # interface statistics
              w.pcapng_block(0x0BAD, b"PEN!data"),  # custom: Wireshark numbers it as frame 3
              w.pcapng_block(0x7777, b"unknown"), w.pcapng_block(0xA, bytes(8)),  # unknown, DSB
              w.pcapng_spb(w.udp_frame(UNITS[2])),  # SPB: interface 0, Ethernet
              obsolete_packet_block(w.udp_frame(UNITS[1], link="sll"), interface=1)]
    big = [w.pcapng_idb(101, big_endian=True), w.pcapng_idb(1, big_endian=True),
           epbs(frames_of(UNITS[3:4]), interface=1, big=True),
           w.pcapng_spb(w.udp_frame(UNITS[4], link="raw"), big_endian=True)]
    data = pcapng(*little) + pcapng(*big, big=True)
    numbers, payloads, skipped, problems = check(data)
    assert numbers == [1, 2, 4, 5, 6, 7]  # the custom block is frame 3
    assert payloads == UNITS[:3] + [UNITS[1]] + UNITS[3:]
    assert (skipped, problems) == ({"not a packet block": 1}, [])


def test_spb_captured_length_is_capped_by_the_snap_length():
    frame = w.udp_frame(UNITS[2])
    cut = pcapng(w.pcapng_idb(1, snaplen=40), w.pcapng_spb(frame))  # 40 of the frame's bytes
    assert check(cut)[2] == {"truncated frame": 1}
    whole = pcapng(w.pcapng_idb(1, snaplen=len(frame)), w.pcapng_spb(frame))
    assert check(whole)[1] == [UNITS[2]]


def tagged(tpids: list[int]) -> bytes:
    return ether(0x0800, ipv4(udp(UNITS[0])), tags=tpids)


@pytest.mark.parametrize("frames, skipped", [
    ([w.udp_frame(UNITS[0], vlan=1), w.udp_frame(UNITS[0], vlan=2), w.udp_frame(UNITS[0], vlan=3)], {}),
    ([tagged([0x9100, 0x8100]), tagged([0x88A8]), tagged([0x8100] * 8)], {}),
    ([tagged([0x8100] * 9)], {"more than 8 VLAN tags": 1}),
    ([ARP, TCP, IPV6, LLC], {"not IPv4": 3, "not UDP": 1}),
    ([ether(0x0800, ipv4(udp(UNITS[0]), frag=f)) for f in (0x2000, 0x0001, 0x3FFF, 0x4000, 0x8000)],
     {"IPv4 fragment": 3}),  # MF, offsets; DF and the reserved bit are whole datagrams
    ([ether(0x0800, ipv4(udp(UNITS[0]), ihl=6)), ether(0x0800, ipv4(udp(UNITS[0]), ihl=4)),
      ether(0x0800, ipv4(udp(UNITS[0]), total=27)), ether(0x0800, b"\x60" + bytes(40))],
     {"bad IPv4 header": 2, "not IPv4": 1}),
    ([ether(0x0800, ipv4(udp(UNITS[0], length=7))), ether(0x0800, ipv4(udp(UNITS[0], length=99))),
      ether(0x0800, ipv4(udp(UNITS[0], length=16), total=60))],  # a shorter UDP length is fine
     {"bad UDP length": 2, "unit length disagrees with UDP length": 1}),
    ([w.udp_frame(UNITS[3])[:700], w.udp_frame(UNITS[0])[:13], w.udp_frame(UNITS[0], vlan=1)[:16],
      w.udp_frame(UNITS[0])[:30], w.udp_frame(UNITS[0])[:40]], {"truncated frame": 5}),
    ([w.udp_frame(struct.pack("<HBBI", 15, 1, 1, 1) + TIME), w.udp_frame(UNITS[0][:-1]),
      w.udp_frame(struct.pack("<HBBI", 14, 2, 1, 1) + TIME), w.udp_frame(w.unit(1, 1, [b"\x00\x20"])),
      w.udp_frame(w.unit(1, 1, [b"\x01\x20"])), w.udp_frame(struct.pack("<HBBI", 14, 0, 1, 1) + TIME),
      w.udp_frame(b"\x05\x00\x00\x01\x01"), w.udp_frame(b"")],
     {"unit length disagrees with UDP length": 2, "messages overrun the unit": 1,
      "message shorter than 2 bytes": 2, "bytes left after the messages": 1,
      "UDP payload shorter than a unit header": 2}),
], ids=["802.1Q and QinQ", "0x9100 and deep stacks", "too many tags", "not IPv4 or not UDP",
        "fragments", "IPv4 headers", "UDP lengths", "truncated", "units that do not frame"])
def test_frames_skipped_and_counted(frames, skipped):
    numbers, payloads, found, problems = check(pcap(frames))
    assert (found, problems) == (skipped, [])
    assert len(numbers) == len(frames) - sum(skipped.values())
    assert set(numbers) <= set(range(1, len(frames) + 1))


@pytest.mark.parametrize("linktype", [0, 108])
def test_loopback_address_family_in_either_byte_order(linktype):
    packet = w.ipv4_udp(UNITS[2])
    frames = [family + packet for family in (b"\2\0\0\0", b"\0\0\0\2", b"\x18\0\0\0", b"\0\0\0\x1e",
                                             b"\2\0\0\2", b"\2\0\1\0")] + [b"\2\0\0"]
    expected = ([1, 2], [UNITS[2]] * 2, {"not IPv4": 4, "truncated frame": 1})
    assert check(pcap(frames, linktype))[:3] == expected


def test_frame_numbers_count_skipped_frames():
    data = pcap([w.udp_frame(UNITS[0]), ARP, w.udp_frame(UNITS[2])])
    assert check(data)[:3] == ([1, 3], [UNITS[0], UNITS[2]], {"not IPv4": 1})
    data = w.write_units([UNITS[0], struct.pack("<HBBI", 14, 2, 1, 1) + TIME, UNITS[2]])
    assert check(data, "units")[:3] == ([1, 3], [UNITS[0], UNITS[2]], {"messages overrun the unit": 1})


def test_short_frames_are_padded_and_sized_by_udp_length():
    frame = w.udp_frame(UNITS[1])  # a heartbeat: 14 + 20 + 8 + 8 = 50 bytes on the wire
    assert len(frame) == 60 and frame[50:] == bytes(10)
    assert check(pcap([frame]))[1] == [UNITS[1]]


def test_unsupported_link_type():
    data = pcap([w.udp_frame(UNITS[0])] * 2, linktype=105)
    assert check(data)[2] == {"unsupported link type 105": 2}
    data = pcapng(w.pcapng_idb(105), w.pcapng_idb(1), epbs([w.udp_frame(UNITS[0])] * 2),
                  epbs([w.udp_frame(UNITS[2])], interface=1))
    assert check(data)[:3] == ([3], [UNITS[2]], {"unsupported link type 105": 2})


# --- damage: problems, as data ------------------------------------------------------------------

PCAP = w.write_pcap(UNITS)
NG = w.write_pcapng(UNITS)
NG_HEAD = w.pcapng_shb() + w.pcapng_idb(1)


def record_len(data: bytes, k: int, order: str = "<") -> int:
    """Offset of the k-th pcap record."""
    pos = 24
    for _ in range(k):
        pos += 16 + struct.unpack_from(order + "I", data, pos + 8)[0]
    return pos


@pytest.mark.parametrize("data, fmt, units, expected", [
    (PCAP[:-26], "pcap", 4, [(5, "truncated record: 50 of 76 bytes")]),
    (PCAP[:record_len(PCAP, 4) + 10], "pcap", 4, [(5, "truncated record: 10 of at least 16 bytes")]),
    (PCAP[:10], "pcap", 0, [(0, "truncated pcap file header: 10 of 24 bytes")]),
    (b"", "pcap", 0, [(0, "truncated pcap file header: 0 of 24 bytes")]),
    (PCAP[:24], "pcap", 0, []),
    (PCAP[:record_len(PCAP, 2) + 8] + struct.pack("<I", MAX_RECORD + 1)
     + PCAP[record_len(PCAP, 2) + 12:], "pcap", 2,
     [(3, f"record length {MAX_RECORD + 1} exceeds {MAX_RECORD}; framing stopped")]),
    (b"\0" * 30, "pcap", 0, [(0, "not a pcap file: magic 00000000; framing stopped")]),
    (NG[:-5], "pcapng", 4, [(5, "truncated block: 87 of 92 bytes")]),
    (NG + bytes(5), "pcapng", 5, [(0, "truncated block: 5 of at least 12 bytes")]),
    (b"", "pcapng", 0, [(0, "truncated block: 0 of at least 12 bytes")]),
    (NG + struct.pack("<II", 6, 7) + bytes(20), "pcapng", 5,
     [(6, "pcapng block length 7 is not a multiple of 4; framing stopped")]),
    (NG + struct.pack("<II", 4, 8) + bytes(20), "pcapng", 5,
     [(0, "pcapng block length 8 is less than 12; framing stopped")]),
    (NG + struct.pack("<II", 6, 1 << 25) + bytes(20), "pcapng", 5,
     [(6, f"pcapng block length {1 << 25} exceeds {1 << 24}; framing stopped")]),
    (NG + w.pcapng_epb(w.udp_frame(UNITS[0]))[:-4] + struct.pack("<I", 4) + NG[28:], "pcapng", 5,
     [(6, "pcapng block lengths differ: 92 and 4; framing stopped")]),
    (NG + b"\x0a\x0d\x0d\x0a" + struct.pack("<I", 28) + b"\x12\x34\x56\x78" + bytes(16), "pcapng", 5,
     [(0, "pcapng byte-order magic 12345678 is unknown; framing stopped")]),
    (NG + w.pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 2, 0, -1)) + NG, "pcapng", 5,
     [(0, "pcapng section header version 2.0 is not supported; framing stopped")]),
    (NG + w.pcapng_block(0x0A0D0D0A, struct.pack("<IHH", 0x1A2B3C4D, 1, 0)), "pcapng", 5,
     [(0, "pcapng section header is too short; framing stopped")]),
    (w.pcapng_idb(1) + NG, "pcapng", 0, [(0, "not a pcapng file: no section header; framing stopped")]),
    (NG_HEAD + w.pcapng_block(1, b"\x01\x00") + NG, "pcapng", 0,
     [(0, "pcapng interface block of 16 bytes is too short; framing stopped")]),
    (NG_HEAD + w.pcapng_block(6, bytes(8)) + NG, "pcapng", 5,
     [(1, "pcapng EPB of 20 bytes is too short")]),
    (NG_HEAD + w.pcapng_block(2, bytes(16)) + NG, "pcapng", 5,
     [(1, "pcapng packet block of 28 bytes is too short")]),
    (NG_HEAD + w.pcapng_block(6, struct.pack("<IIIII", 0, 0, 0, 99, 99) + bytes(40)) + NG, "pcapng", 5,
     [(1, "pcapng EPB captured length 99 exceeds its block")]),
    (NG_HEAD + epbs([w.udp_frame(UNITS[0])], interface=1) + NG, "pcapng", 5,
     [(1, "pcapng EPB on interface 1, but the section describes 1")]),
    (w.pcapng_shb() + w.pcapng_spb(w.udp_frame(UNITS[0])) + NG, "pcapng", 5,
     [(1, "pcapng SPB before any interface description")]),
    (NG_HEAD + w.pcapng_block(3, b"") + NG, "pcapng", 5, [(1, "pcapng SPB of 12 bytes is too short")]),
    (NG_HEAD + w.pcapng_block(3, struct.pack("<I", 70) + bytes(60)) + NG, "pcapng", 5,
     [(1, "pcapng SPB captured length 70 exceeds its block")]),
    (RAW[:-3], "units", 4, [(5, "truncated unit: 5 of 8 bytes")]),
    (RAW + b"\x09", "units", 5, [(6, "truncated unit: 1 of at least 8 bytes")]),
    (UNITS[0] + b"\x03\x00" + RAW, "units", 1,
     [(2, "unit header length 3 is less than 8; framing stopped")]),
    (b"", "units", 0, []),
], ids=lambda v: v if isinstance(v, str) and len(v) < 10 else None)
def test_damage_is_a_problem_and_what_came_before_lands(data, fmt, units, expected):
    numbers, payloads, skipped, problems = check(data, fmt)
    assert len(payloads) == units
    assert [(p.packet, p.reason) for p in problems] == expected
    for p in problems:
        assert p.raw == data[p.offset:p.offset + len(p.raw)] and 0 < len(p.raw) <= 1024 or not p.raw


def test_a_record_longer_than_wireshark_reads_stops_framing_even_when_whole():
    big = w.pcap_file([w.udp_frame(UNITS[0]), bytes(MAX_RECORD), bytes(MAX_RECORD + 1),
                       w.udp_frame(UNITS[0])])
    numbers, payloads, skipped, problems = check(big)
    assert (numbers, skipped) == ([1], {"not IPv4": 1})
    assert reasons(problems) == [f"record length {MAX_RECORD + 1} exceeds {MAX_RECORD}; framing stopped"]


def test_a_stop_ignores_the_rest_and_keeps_1024_raw_bytes_whatever_the_chunks():
    data = RAW + b"\x01\x00" + RAW * 20  # a unit header length of 1: the rest cannot be framed
    for size in (1, 3, 100, len(data)):
        framer = Framer("units")
        batches = [framer.feed(c) for c in chunked(data, itertools.repeat(size))] + [framer.close()]
        problems = [p for b in batches for p in b.problems]
        assert sum(len(b) for b in batches) == len(UNITS)
        assert len(problems) == 1 and problems[0].offset == len(RAW) and len(problems[0].raw) == 1024
        assert framer.stopped and framer.ignored == len(data) - len(RAW)


def test_unknown_format_is_our_error():
    with pytest.raises(DecodeError):
        Framer("erf")


# --- fuzz: garbage frames or yields problems, never another exception, and the twins agree ------

SEEDS = [PCAP, NG, RAW, pcapng(w.pcapng_idb(1), w.pcapng_idb(113, big_endian=False),
                               epbs(frames_of(UNITS[:2], vlan=2)), big=False),
         w.write_pcap(UNITS[:3], big_endian=True, link="sll2"),
         w.write_pcapng(UNITS, big_endian=True, simple=True)]


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        action = rng.random()
        at = rng.randrange(len(b) + 1)
        if action < 0.5 and b:
            b[min(at, len(b) - 1)] = rng.randrange(256)
        elif action < 0.7:
            del b[at:at + rng.randint(1, 40)]
        elif action < 0.85:
            b[at:at] = rng.randbytes(rng.randint(1, 40))
        else:
            b = b[:at]
    return bytes(b)


@pytest.mark.parametrize("fmt", ["pcap", "pcapng", "units"])
def test_fuzz_random_bytes(fmt):
    rng = random.Random(FORMATS.index(fmt))
    prefix = {"pcap": PCAP[:24], "pcapng": NG[:len(NG_HEAD)], "units": b""}[fmt]
    for i in range(150):
        data = prefix + rng.randbytes(rng.randint(0, 400))
        fuzz_one(data, fmt, i)


def test_fuzz_mutated_captures():
    rng = random.Random(2024)
    for i in range(400):
        seed = rng.choice(SEEDS)
        data = mutate(rng, seed)
        fmt = detect(seed)
        fuzz_one(data, fmt, i)
        if detect(data) is not None:
            fuzz_one(data, detect(data), i)


def fuzz_one(data: bytes, fmt: str, seed: int) -> None:
    ref = reference_frames(data, fmt)
    rng = random.Random(seed)
    got = stream(data, fmt, iter(lambda: rng.randint(1, 64), None))  # any exception fails
    assert got == (ref.packets, ref.problems, +ref.skipped, ref.frames), data.hex()
    assert all(isinstance(p, Packet) for p in got[0]) and all(isinstance(p, Problem) for p in got[1])


# --- the writer -----------------------------------------------------------------------------------

def test_writer_frames_are_well_formed():
    frame = w.udp_frame(UNITS[2], vlan=2)
    assert frame[12:14] == b"\x88\xa8" and frame[16:18] == b"\x81\x00" and frame[20:22] == b"\x08\x00"
    ip = frame[22:42]
    total = sum(struct.unpack(">10H", ip))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    assert total == 0xFFFF  # the header checksum verifies
    assert struct.unpack_from(">H", frame, 42 + 4)[0] == 8 + len(UNITS[2])
    assert len(w.link_frame(b"x", link="sll")) == 17 and len(w.link_frame(b"x", link="sll2")) == 21
    assert header(w.unit(9, 3, [TIME, ADD])) == (8 + 6 + 26, 2, 3, 9)
    for bad in (lambda: w.message(1, bytes(254)), lambda: w.unit(1, 1, [TIME] * 256),
                lambda: w.link_frame(b"", link="token ring"),
                lambda: w.link_frame(b"", link="raw", vlan=1)):
        with pytest.raises(PitchError):
            bad()
