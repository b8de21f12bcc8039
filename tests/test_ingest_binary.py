"""Binary captures through ingest: every public file as its README describes it, round
trips of generated sessions in every container, and bad captures."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from pitch import capture_write, ingest
from pitch.binary_reference import NS
from pitch.errors import IngestError
from pitch.generate_binary import session

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "binary"


def counts(db, file_id: int | None = None) -> dict[str, int]:
    where = "" if file_id is None else f"WHERE file_id = {file_id}"
    return dict(db.execute(f"SELECT type, count(*) FROM messages {where} GROUP BY type").fetchall())


def test_bats_realtime_capture(db) -> None:
    r = ingest.ingest_path(db, SHARED / "bats_mcastpitch_realtime.pcap")
    assert (r.status, r.messages, r.rejects) == ("ingested", 40, 0)
    assert counts(db) == {"0x20": 19, "0x21": 4, "0x22": 3, "0x23": 3, "0x26": 2, "0x27": 1,
                          "0x28": 1, "0x29": 4, "0x2A": 2, "0x2B": 1}
    assert db.execute("SELECT format, skipped_packets, duplicates FROM files").fetchone() == \
        ("pcap", 0, 0)
    assert db.execute("SELECT DISTINCT unit FROM messages").fetchall() == [(1,)]
    # 739 frames, mostly heartbeats: the packet numbers of the messages lie among them.
    lo, hi = db.execute("SELECT min(packet), max(packet) FROM messages").fetchone()
    assert 1 <= lo <= hi <= 739
    assert db.execute("SELECT list(line_no ORDER BY line_no) FROM messages").fetchone()[0] == \
        list(range(1, 41))


def test_byx_add_order_short_starts_mid_stream(db) -> None:
    ingest.ingest_path(db, SHARED / "omi_byx_add_order_short.pcap")
    assert sorted(r[0] for r in db.execute("SELECT DISTINCT unit FROM messages").fetchall()) == \
        [15, 17, 31]
    # unit 17's add (sequence 14003) comes before any Time message of unit 17: time unknown.
    row = db.execute("SELECT type, time_ns FROM messages WHERE unit = 17 AND sequence = 14003"
                     ).fetchone()
    assert row == ("0x22", None)
    assert db.execute("SELECT DISTINCT time_ns // 1000000000 FROM messages WHERE type = '0x20'"
                      ).fetchall() == [(34_200,)]
    # every other message has its time: 09:30:00 plus its offset
    assert db.execute("SELECT count(*) FROM messages WHERE time_ns IS NULL").fetchone()[0] == 1


def test_byx_modify_and_multiple_messages(db) -> None:
    ingest.ingest_path(db, SHARED / "omi_byx_modify_order_short.pcap")
    assert db.execute("SELECT type, unit, sequence, time_ns FROM messages").fetchall() == \
        [("0x28", 11, 121843, None)]
    ingest.ingest_path(db, SHARED / "omi_byx_multiple_messages.pcap")
    rows = db.execute("SELECT type, unit, sequence FROM messages WHERE file_id = 2 ORDER BY line_no"
                      ).fetchall()
    assert rows == [("0x20", 31, 35742), ("0x22", 31, 35743), ("0x22", 31, 35744)]
    prices = [p for (p,) in db.execute("SELECT price FROM messages WHERE type = '0x22'").fetchall()]
    assert all(isinstance(p, Decimal) and p > 0 for p in prices)


def test_fpganow_raw_units(db) -> None:
    r = ingest.ingest_path(db, SHARED / "fpganow_multi.dat")
    assert r.messages == 10
    assert db.execute("SELECT format FROM files").fetchone()[0] == "units"
    assert db.execute("SELECT list(packet ORDER BY line_no) FROM messages").fetchone()[0] == \
        [1, 1, 1, 2, 2, 3, 3, 3, 4, 4]


def stored(db, file_id: int) -> list[dict]:
    cur = db.execute(f"SELECT * FROM messages WHERE file_id = {file_id} ORDER BY line_no")
    names = [d[0] for d in cur.description]
    return [{k: v for k, v in zip(names, row) if v not in (None, "") and k != "file_id"}
            for row in cur.fetchall()]


def expected(messages: list[dict]) -> list[dict]:
    return [{k: v for k, v in m.items() if v is not None and v != ""} for m in messages]


@pytest.mark.parametrize("container", ["pcap", "pcap.gz", "units", "units.gz", "pcapng",
                                       "sll-be-micro"])
def test_generated_session_round_trips(db, tmp_path, container: str) -> None:
    s = session(30_000, seed=7, gaps=True, retransmissions=True, heartbeats=True)
    if container.startswith("pcapng"):
        data = capture_write.write_pcapng(s.units)
    elif container.startswith("pcap"):
        data = capture_write.write_pcap(s.units)
    elif container == "sll-be-micro":
        data = capture_write.write_pcap(s.units, link="sll", big_endian=True, nanos=False)
    else:
        data = capture_write.write_units(s.units)
    path = tmp_path / f"session.{container}"
    path.write_bytes(gzip.compress(data) if container.endswith(".gz") else data)
    r = ingest.ingest_path(db, path, chunk_size=64 << 10)  # many chunks
    assert (r.messages, r.rejects) == (len(s.messages), 0)
    assert stored(db, r.file_id) == expected(s.messages)
    assert db.execute("SELECT unit, expected_sequence, received_sequence, missing FROM gaps "
                      "ORDER BY unit, expected_sequence").fetchall() == s.gaps
    assert db.execute("SELECT duplicates FROM files").fetchone()[0] == s.duplicates
    assert s.gaps and s.duplicates  # the case is really exercised
    # the same file again adds nothing
    assert ingest.ingest_path(db, path).status == "duplicate"


def test_a_truncated_capture_lands_everything_before_the_cut(db, tmp_path) -> None:
    s = session(5_000, seed=2)
    data = capture_write.write_pcap(s.units)
    last_len = len(s.units[-1])
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[:-10])
    r = ingest.ingest_path(db, path)
    # every unit but the last lands; the cut record is one reject
    n_last = s.units[-1][2]
    assert r.messages == len(s.messages) - n_last
    assert r.rejects == 1
    reason, packet = db.execute("SELECT reason, packet FROM rejects").fetchone()
    assert "truncated" in reason and packet == len(s.units)
    assert last_len > 10


def test_a_bad_message_is_a_reject_and_its_unit_still_lands(db, tmp_path) -> None:
    from pitch.binary_encode import message, unit

    good = message(0x22, time_offset_ns=5, order_id=1, side="B", shares=100, symbol="AAPL",
                   price=Decimal("1.23"), flags=1)
    unknown = bytes([6, 0x5A, 0, 0, 0, 0])
    wrong = bytes([10, 0x22]) + bytes(8)
    units = [unit(1, 1, [message(0x20, time_ns=36_000), good, unknown, wrong, good])]
    path = tmp_path / "bad.dat"
    path.write_bytes(capture_write.write_units(units))
    r = ingest.ingest_path(db, path)
    assert (r.messages, r.rejects) == (3, 2)
    rows = db.execute("SELECT line_no, packet, byte_offset, reason, raw FROM rejects "
                      "ORDER BY line_no").fetchall()
    assert rows == [
        (1, 1, 8 + 6 + 26, "unknown message type 0x5A", unknown),
        (2, 1, 8 + 6 + 26 + 6, "wrong length 10 for 0x22 Add Order Short (expected 26)", wrong)]
    times = db.execute("SELECT list(time_ns ORDER BY line_no) FROM messages").fetchone()[0]
    assert times == [36_000 * NS, 36_000 * NS + 5, 36_000 * NS + 5]


@pytest.mark.parametrize("data", [
    capture_write.write_pcap([b"\x01\x02\x03"]),  # a frame that is no unit
    capture_write.pcap_file([b"\x00" * 60]),  # a frame that is no IPv4
])
def test_a_capture_without_a_valid_unit_is_not_pitch_and_changes_nothing(db, tmp_path,
                                                                         data) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(data)
    with pytest.raises(IngestError, match="not PITCH"):
        ingest.ingest_path(db, path)
    assert db.execute("SELECT count(*) FROM files").fetchone()[0] == 0
