"""Every message type, raw line -> every field; both decoders; every split.

Expected values are written out by hand from pitch-formats.md, not derived
from the layout table.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from pitch.columns import Decoder, decode_bytes
from pitch.decode import decode_line
from pitch.errors import DecodeError

OID, XID = "0000000ABC12", "00000000ZZ01"
OID_INT, XID_INT = int(OID, 36), int(XID, 36)

CASES = [
    ("s", "S28800000sZVZZT   ", {"symbol": "ZVZZT"}),
    ("A real line", "S28800011AAK27GA0000DTS000100SH    0000619200Y",
     {"order_id": 1389564350501069297, "side": "S", "shares": 100, "symbol": "SH",
      "price": Decimal("61.92"), "display": "Y"}),
    ("d 52", f"S28800000d{OID}B000100AAPL    0001830100YRTALR",
     {"order_id": OID_INT, "side": "B", "shares": 100, "symbol": "AAPL",
      "price": Decimal("183.01"), "display": "Y", "participant_id": "RTAL",
      "customer_indicator": "R"}),
    ("d 52 blank tail", f"S28800000d{OID}S000100AAPL    0001830100N     ",
     {"order_id": OID_INT, "side": "S", "shares": 100, "symbol": "AAPL",
      "price": Decimal("183.01"), "display": "N", "participant_id": "",
      "customer_indicator": ""}),
    ("d 51", f"S28800000d{OID}B000100AAPL    0001830100YMPID",
     {"order_id": OID_INT, "side": "B", "shares": 100, "symbol": "AAPL",
      "price": Decimal("183.01"), "display": "Y", "participant_id": "MPID"}),
    ("E", f"S28800318E{OID}000100{XID}",
     {"order_id": OID_INT, "shares": 100, "execution_id": XID_INT}),
    ("X", f"S28800000X{OID}000050", {"order_id": OID_INT, "shares": 50}),
    ("P", f"S28800000P{OID}B000300SPY   0004501200{XID}",
     {"order_id": OID_INT, "side": "B", "shares": 300, "symbol": "SPY",
      "price": Decimal("450.12"), "execution_id": XID_INT}),
    ("r", f"S28800000r{OID}S000100BRK.B   0412345600{XID}",
     {"order_id": OID_INT, "side": "S", "shares": 100, "symbol": "BRK.B",
      "price": Decimal("41234.56"), "execution_id": XID_INT}),
    ("B", f"S28800000B{XID}", {"execution_id": XID_INT}),
    ("H", "S28800000HAAPL    T0  ", {"symbol": "AAPL", "halt_status": "T", "reg_sho_action": "0"}),
    ("I", "S28800000IAAPL    O" "0001830000" "0000005000" "0000003000" "0001830100" "0000183020",
     {"symbol": "AAPL", "auction_type": "O", "reference_price": Decimal("183"),
      "buy_shares": 5000, "sell_shares": 3000, "indicative_price": Decimal("183.01"),
      "auction_only_price": Decimal("18.302")}),
    ("J", "S28800000JAAPL    C00018305000000012345",
     {"symbol": "AAPL", "auction_type": "C", "price": Decimal("183.05"), "shares": 12345}),
    ("R", "S28800000RAAPL    A", {"symbol": "AAPL", "rpi": "A"}),
    ("1", f"S288000001{OID}B000100BRK.A   00000612345678Y    R",
     {"order_id": OID_INT, "side": "B", "shares": 100, "symbol": "BRK.A",
      "price": Decimal("61234.5678"), "display": "Y", "participant_id": "",
      "customer_indicator": "R"}),
    ("2", f"S288000002{OID}S000010BRK.A   99999999999999{XID}",
     {"order_id": OID_INT, "side": "S", "shares": 10, "symbol": "BRK.A",
      "price": Decimal("9999999999.9999"), "execution_id": XID_INT}),
    ("3", "S288000003BRK.A   I" "00000612345678" "0000000100" "0000000200" "00000612300000" "00000612400000",
     {"symbol": "BRK.A", "auction_type": "I", "reference_price": Decimal("61234.5678"),
      "buy_shares": 100, "sell_shares": 200, "indicative_price": Decimal("61230"),
      "auction_only_price": Decimal("61240")}),
    ("4", "S288000004BRK.A   M000006123456780000000042",
     {"symbol": "BRK.A", "auction_type": "M", "price": Decimal("61234.5678"), "shares": 42}),
]
IDS = [c[0] for c in CASES]


def expected(line: str, fields: dict) -> dict:
    return {"time_ns": int(line[1:9]) * 1_000_000, "type": line[9], **fields}


def test_every_type_is_covered() -> None:
    from pitch.layouts import LAYOUTS

    assert {(c[1][9], len(c[1]) - 1) for c in CASES} == {(l.code, l.length) for l in LAYOUTS}


@pytest.mark.parametrize("name,line,fields", CASES, ids=IDS)
def test_reference_decoder(name: str, line: str, fields: dict) -> None:
    assert decode_line(line.encode()) == expected(line, fields)
    assert decode_line(line[1:].encode()) == expected(line, fields)  # the S is optional


def fast_rows(data: bytes, cuts: list[int]) -> tuple[list[dict], list]:
    dec = Decoder()
    rows, rejects, prev = [], [], 0
    for cut in cuts + [len(data)]:
        batch = dec.feed(data[prev:cut])
        rows += batch.table.to_pylist()
        rejects += batch.rejects
        prev = cut
    batch = dec.close()
    return rows + batch.table.to_pylist(), rejects + batch.rejects


def strip_nulls(row: dict) -> dict:
    return {k: v for k, v in row.items() if v is not None and k != "line_no"}


@pytest.mark.parametrize("name,line,fields", CASES, ids=IDS)
def test_fast_decoder_every_split(name: str, line: str, fields: dict) -> None:
    want = expected(line, fields)
    data = f"{line}\r\n\n{line[1:]}".encode()  # CRLF, a blank line, no S, no final newline
    for cut in range(len(data) + 1):
        rows, rejects = fast_rows(data, [cut])
        assert rejects == []
        assert [r["line_no"] for r in rows] == [1, 3]
        assert [strip_nulls(r) for r in rows] == [want, want], cut


def test_many_lines_across_many_chunks() -> None:
    lines = [c[1] for c in CASES] * 20
    data = "\n".join(lines).encode()
    for size in (3, 7, 64, 1000):
        rows, rejects = fast_rows(data, list(range(size, len(data), size)))
        assert not rejects
        assert [r["line_no"] for r in rows] == list(range(1, len(lines) + 1))
        assert [strip_nulls(r) for r in rows] == [decode_line(l.encode()) for l in lines]


A = "S28800011AAK27GA0000DTS000100SH    0000619200Y"
REJECTS = [
    ("unknown type", "S28800011ZAK27GA0000DTS000100SH    0000619200Y", "unknown message type 'Z'"),
    ("too long for A", A + "Y", "wrong length 46 for 'A' Add Order (Short) (expected 45)"),
    ("too short for d", f"S28800000d{OID}B000100AAPL    0001830100YRTA",
     "wrong length 50 for 'd' Add Order (Long) (expected 51 or 52)"),
    ("too short", "S2880", "too short for a message: 4 bytes"),
    ("bad timestamp", A.replace("28800011", "2880001x"), "timestamp is not numeric: '2880001x'"),
    ("bad shares", A.replace("000100", "00a100"), "shares is not numeric: '00a100'"),
    ("bad price", A.replace("0000619200", "00006192.0"), "price is not numeric: '00006192.0'"),
    ("lower-case id", A.replace("AK27GA0000DT", "ak27GA0000DT"),
     "order_id is not base-36: 'ak27GA0000DT'"),
    ("side", A.replace("DTS000100", "DTX000100"), "side must be B/S: 'X'"),
    ("display", A[:-1] + "Q", "display must be Y/N: 'Q'"),
    ("blank symbol", A.replace("SH    ", "      "), "symbol is blank"),
    ("halt status", "S28800000HAAPL    Z0  ", "halt_status must be A/H/Q/S/T: 'Z'"),
    ("non-ASCII", A.replace("SH  ", "SÉ "), "non-ASCII byte 0xc3 at offset 30"),
    ("NUL", A.replace("SH ", "S\0 "), "non-printable byte 0x00 at offset 30"),
    ("tab", "S28800000\tX", "non-printable byte 0x09 at offset 9"),
    ("packet type", "H", "not a sequenced message: packet type 'H'"),
    ("lone S", "S", "too short for a message: 0 bytes"),
]


@pytest.mark.parametrize("name,line,reason", REJECTS, ids=[r[0] for r in REJECTS])
def test_rejects_name_the_problem(name: str, line: str, reason: str) -> None:
    raw = line.encode("utf-8")
    with pytest.raises(DecodeError) as err:
        decode_line(raw)
    assert err.value.reason == reason
    data = A.encode() + b"\n" + raw + b"\n" + A.encode()
    table, rejects = decode_bytes(data, chunk_size=5)
    assert table.column("line_no").to_pylist() == [1, 3]
    assert [(r.line_no, r.byte_offset, r.raw, r.reason) for r in rejects] == [
        (2, len(A) + 1, raw, reason)]


def test_overlong_line_is_rejected_without_holding_it() -> None:
    from pitch.columns import MAX_LINE, MAX_RAW

    big = b"S" + b"9" * (MAX_LINE * 3)
    data = A.encode() + b"\n" + big + b"\n" + A.encode() + b"\n"
    for chunk in (100, MAX_LINE // 2, len(data)):
        table, rejects = decode_bytes(data, chunk_size=chunk)
        assert table.column("line_no").to_pylist() == [1, 3], chunk
        assert len(rejects) == 1 and rejects[0].line_no == 2
        assert len(rejects[0].raw) <= MAX_RAW
        assert "line too long" in rejects[0].reason or "cut to" in rejects[0].reason


def test_blank_and_whitespace_lines() -> None:
    data = b"\n\r\n" + A.encode() + b"\n\n"
    table, rejects = decode_bytes(data)
    assert table.column("line_no").to_pylist() == [3]
    assert rejects == []


def test_real_sample_matches_reference(real_sample) -> None:
    data = real_sample.read_bytes()
    table, rejects = decode_bytes(data, chunk_size=65_536)
    assert rejects == []
    lines = data.split(b"\n")
    assert table.num_rows == len(lines) == 20_000
    for row, line in zip(table.to_pylist(), lines):
        assert strip_nulls(row) == decode_line(line)
