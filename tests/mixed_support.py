"""A small database holding a text file and a binary capture, worked out by hand.

Shared by the tests of how binary files look and filter beside text ones
(tests/test_binary_*.py). The ids are chosen to read both ways: "123" is the
text order 000000000123 (1371) in base 36 and the binary order 123 in decimal,
while the text file also has an order 123 (00000000003F) and the capture an
order 1371, which a typed "123" must not match.
"""

from __future__ import annotations

from pitch import binary_encode as be
from pitch import capture_write, fmt, ids, ingest

MS = 1_000_000
BIG = 2 ** 64 - 1  # the widest id: 18446744073709551615 in decimal


def t(text: str) -> str:
    """``HH:MM:SS.mmm`` as text PITCH's 8-digit milliseconds."""
    return f"{fmt.parse_hms(text) // MS:08d}"


def text_add(at: str, oid: int, side: str, shares: int, sym: str, price: str) -> str:
    return (f"S{t(at)}A{ids.b36(oid)}{side}{shares:06d}{sym:<6}"
            f"{int(float(price) * 10_000):010d}Y")


TEXT_LINES = [
    text_add("09:30:00.000", 1371, "B", 100, "AAPL", "150"),  # line 1: 000000000123
    text_add("09:30:00.500", 123, "S", 200, "MSFT", "300"),  # line 2: 00000000003F
    f"S{t('09:30:01.000')}E{ids.b36(1371)}000030{ids.b36(101)}",  # line 3: 30 of 1371
]
TEXT = ("\n".join(TEXT_LINES) + "\n").encode()


def capture() -> bytes:
    """b.pcap: frames 1-6 on units 1 and 2.

    Frame 1 (unit 1, seq 1-2): an add of order 7 and a hidden trade of 50 AAPL before
    any Time: their time is unknown.
    Frame 2 (unit 1, seq 3-5): Time 09:30:00, add of order 123 at +1 ms, and a
    message of unknown type 0x5A (a reject). Frame 3: frame 2 again (3 duplicates).
    Frame 4 (unit 1, seq 7): order 123 executed, 4 shares, execution BIG; seq 6 is a gap.
    Frame 5 (unit 2, seq 1-3): Time 09:30:01, a long add of order BIG and an add of 1371.
    Messages (lines) 1-8: add 7, trade, Time, add 123, executed, Time, add BIG, add 1371.
    """
    m = be.message
    first = be.unit(1, 1, [m(0x22, time_offset_ns=5, order_id=7, side="B", shares=100,
                             symbol="AAPL", price="1.50"),
                           m(0x2B, time_offset_ns=6, order_id=0, side="B", shares=50,
                             symbol="AAPL", price="1.55", execution_id=900)])
    second = be.unit(3, 1, [m(0x20, time_ns=34_200),
                            m(0x22, time_offset_ns=MS, order_id=123, side="S", shares=10,
                              symbol="AAPL", price="2.00"),
                            bytes([6, 0x5A, 0, 0, 0, 0])])
    executed = be.unit(7, 1, [m(0x23, time_offset_ns=2 * MS, order_id=123, shares=4,
                                execution_id=BIG)])
    other = be.unit(1, 2, [m(0x20, time_ns=34_201),
                           m(0x21, time_offset_ns=0, order_id=BIG, side="B", shares=5,
                             symbol="MSFT", price="10"),
                           m(0x22, time_offset_ns=7 * MS, order_id=1371, side="S", shares=1,
                             symbol="MSFT", price="11")])
    return capture_write.write_pcap([first, second, second, executed, other])


def load(conn) -> None:
    """t.pitch as file 1, b.pcap as file 2."""
    assert ingest.ingest_bytes(conn, TEXT, "t.pitch").messages == 3
    assert ingest.ingest_bytes(conn, capture(), "b.pcap").messages == 8
