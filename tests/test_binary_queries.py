"""Queries and filters over a database holding a text file and a binary capture.

The database is tests/mixed_support.py's, worked out by hand: file 1 is text,
file 2 a pcap with an unknown time, a reject, a gap and three duplicates.
"""

from __future__ import annotations

import mixed_support
import pandas as pd
import pytest

from pitch import charts, fmt, ids, queries, sandbox, sql_export
from pitch.filters import MessageFilter, OrderFilter, type_label
from pitch.ids import BINARY, TEXT, FileFeeds

BIG = mixed_support.BIG
BOTH = (TEXT, BINARY)


@pytest.fixture
def mixed(db):
    mixed_support.load(db)
    return db


def test_file_feeds(mixed) -> None:
    assert queries.file_feeds(mixed) == FileFeeds(binary=frozenset({2}), text=frozenset({1}))
    assert queries.is_binary_file(mixed, 2) and not queries.is_binary_file(mixed, 1)


READ_CASES = [  # (typed, scope, text reading, binary reading)
    ("123", BOTH, 1371, 123),
    ("123", (TEXT,), 1371, None),
    ("123", (BINARY,), None, 123),
    ("3f", BOTH, 123, None),  # not decimal: base 36 only
    ("18446744073709551615", BOTH, None, BIG),  # 20 characters: too long for base 36
    ("0007", BOTH, 7, 7),
]


@pytest.mark.parametrize("typed, scope, text, binary", READ_CASES)
def test_read_id(typed, scope, text, binary) -> None:
    assert ids.read_id(typed, scope) == ids.IdReading(text, binary, mixed=len(scope) == 2)


@pytest.mark.parametrize("typed, scope, reason", [
    ("1K27", (BINARY,), ("is not a decimal number of 1-20 digits (binary files write ids in "
                         "decimal)")),
    ("ab-c", (TEXT,), "is not 1-13 characters of 0-9/A-Z"),
    ("ab-c", BOTH, "is neither base 36 (text files) nor decimal (binary files)"),
])
def test_read_id_refuses(typed, scope, reason) -> None:
    with pytest.raises(ValueError, match="order id") as err:
        ids.read_id(typed, scope)
    assert reason in str(err.value)


ID_FILTER_CASES = [  # (typed, scope, file, messages matched as (file, line), sentence tail)
    ("123", BOTH, None, [(1, 1), (1, 3), (2, 4), (2, 5)],
     "of order 000000000123 (base 36, text files) or 123 (decimal, binary files)"),
    ("123", (TEXT,), 1, [(1, 1), (1, 3)], "of order 000000000123 in file t.pitch"),
    ("123", (BINARY,), 2, [(2, 4), (2, 5)], "of order 123 in file b.pcap"),
    ("3F", BOTH, None, [(1, 2)], "of order 00000000003F (base 36, text files)"),
    ("1371", (BINARY,), 2, [(2, 8)], "of order 1371 in file b.pcap"),
    ("18446744073709551615", BOTH, None, [(2, 7)],
     "of order 18446744073709551615 (decimal, binary files)"),
]


@pytest.mark.parametrize("typed, scope, file_id, matched, words", ID_FILTER_CASES)
def test_order_id_filter_reads_the_id_as_each_file_writes_it(mixed, typed, scope, file_id,
                                                             matched, words) -> None:
    names = {1: "t.pitch", 2: "b.pcap"}
    flt = MessageFilter(order_id=ids.read_id(typed, scope), file_id=file_id,
                        file_name=names.get(file_id, ""))
    page = queries.messages_page(mixed, flt, sort="file, line")
    assert list(zip(page["file_id"], page["line_no"])) == matched
    assert queries.message_count(mixed, flt) == len(matched)
    assert flt.sentence() == f"All messages {words}"
    where, _, _ = flt.where()
    assert typed not in where  # values travel as parameters


def test_orders_filter_in_both_feeds(mixed) -> None:
    flt = OrderFilter(order_id=ids.read_id("123", BOTH))
    page = queries.orders_page(mixed, flt)
    assert page[["file_id", "line_no"]].values.tolist() == [[1, 1], [2, 4]]
    assert flt.sentence() == ("All orders with id 000000000123 (base 36, text files) or 123 "
                              "(decimal, binary files)")
    assert queries.order_count(mixed, OrderFilter(order_id=ids.read_id("1371", (BINARY,)),
                                                  file_id=2)) == 1
    assert queries.order_count(mixed, OrderFilter(order_id=123)) == 2  # an int: any file


def test_csv_exports_write_binary_ids_in_decimal(mixed) -> None:
    orders = queries.orders_csv(mixed, OrderFilter(), sort="time").decode().splitlines()
    assert [line.split(",")[0] for line in orders] == [
        "order_id", "000000000123", "123", "00000000003F", "18446744073709551615", "1371", "7"]
    assert orders[-1].split(",")[9:11] == ["", "unknown"]  # added before any Time message
    messages = queries.messages_csv(mixed, MessageFilter(file_id=2), sort="file, line")
    rows = messages.decode().splitlines()
    header = rows[0].split(",")
    first = dict(zip(header, rows[1].split(",")))
    assert (first["time_ns"], first["time"], first["type"], first["message_type"]) == \
        ("", "unknown", "0x22", "Add Order Short")
    assert (first["unit"], first["sequence"], first["packet"], first["order_id"]) == \
        ("1", "1", "1", "7")
    executed = dict(zip(header, rows[5].split(",")))
    assert (executed["order_id"], executed["execution_id"]) == ("123", "18446744073709551615")
    text = queries.messages_csv(mixed, MessageFilter(file_id=1)).decode().splitlines()
    assert text[1].split(",")[10] == "000000000123"  # text stays base 36


def test_messages_page_shows_where_binary_messages_were(mixed) -> None:
    page = queries.messages_page(mixed, MessageFilter(), sort="file, line", sequencing=True)
    assert list(page.columns[:7]) == ["file_id", "line_no", "packet", "unit", "sequence",
                                      "time_ns", "type"]
    assert page[["packet", "unit", "sequence"]].iloc[3:6].values.tolist() == [
        [1, 1, 1], [1, 1, 2], [2, 1, 3]]
    assert page["packet"].iloc[:3].isna().all()  # text messages have none
    assert "packet" not in queries.messages_page(mixed, MessageFilter()).columns
    detail = queries.message_detail(mixed, 2, 5)
    assert (detail["packet"], detail["unit"], detail["sequence"]) == (4, 1, 7)
    assert queries.message_detail(mixed, 2, 1)["time_ns"] is None  # kept, to say "unknown"


def test_unknown_times_break_nothing(mixed) -> None:
    assert queries.unknown_times(mixed) == 2
    rate = queries.message_rate(mixed, 10**9)
    assert rate["count"].sum() == 9 and rate["bucket_ns"].notna().all()
    window = MessageFilter(start_ns=fmt.parse_hms("09:30"), end_ns=fmt.parse_hms("09:30:00.999"))
    assert queries.message_count(mixed, window) == 5  # the unknown one is in no window
    assert queries.time_bounds(mixed) == (fmt.parse_hms("09:30"), fmt.parse_hms("09:30:01.007"))
    trades, _ = queries.symbol_trades(mixed, "AAPL")
    assert trades["shares"].tolist() == [4, 30, 50]  # the unknown time last
    assert charts.unknown_times(trades, "time_ns") == 1
    figure = charts.trades_chart(trades, "AAPL")
    assert [len(trace.x) for trace in figure.data] == [2, 2]  # drawn without it
    adds = queries.symbol_adds(mixed, "AAPL", 10**9)
    assert charts.unknown_times(adds, "bucket_ns", "adds") == 1  # order 7's add
    assert charts.adds_by_side_chart(adds, "1 s").data  # drawn, the unknown left out


def test_gaps_duplicates_and_rejects(mixed) -> None:
    assert queries.gaps(mixed).values.tolist() == [[2, 1, 6, 7, 1]]
    assert queries.gaps(mixed, 1).empty and queries.gap_count(mixed, 2) == 1
    assert queries.gaps_page(mixed, 2).values.tolist() == [[2, 1, 6, 7, 1]]
    assert queries.gaps_csv(mixed, 2).decode() == (
        "file_id,unit,expected_sequence,received_sequence,missing\n2,1,6,7,1\n")
    assert queries.gap_summary(mixed).values.tolist() == [[2, "b.pcap", 1, 1]]
    files = queries.files(mixed)
    assert list(files.columns[-5:]) == ["format", "gaps", "missing_messages", "duplicates",
                                        "skipped_packets"]
    assert files[["file_id", "format", "gaps", "missing_messages", "duplicates",
                  "skipped_packets"]].values.tolist() == [[2, "pcap", 1, 1, 3, 0],
                                                          [1, "text", 0, 0, 0, 0]]
    rejects = queries.rejects_page(mixed, 2)
    assert rejects[["line_no", "packet", "byte_offset", "reason"]].values.tolist() == [
        [1, 2, 247, "unknown message type 0x5A"]]
    assert queries.rejects_csv(mixed, 2).decode().splitlines()[0] == \
        "line_no,packet,byte_offset,reason,raw"


def test_binary_type_labels_are_told_apart() -> None:
    assert type_label("E") == "Order Executed" and type_label("A") == "Add Order (Short)"
    assert type_label("0x23") == "Order Executed (0x23)"
    assert type_label("0x5A") == "0x5A"  # no such type: its code
    flt = MessageFilter(types=("E", "0x23"))
    assert flt.sentence() == "Order Executed, Order Executed (0x23) messages"


def test_charts_leave_unknown_times_out(mixed) -> None:
    rate = pd.DataFrame({"bucket_ns": pd.array([None, 34_200 * 10**9], dtype="Int64"),
                         "code": ["0x22", "0x22"], "message_type": ["Add Order Short"] * 2,
                         "count": [2, 3]})
    assert [list(t.y) for t in charts.rate_chart(rate, "1 s").data] == [[3]]
    assert charts.rate_chart(rate, "1 s").data[0].name == "Add Order Short (0x22)"
    events = queries.order_lifecycle(mixed, 2, 1)  # order 7, added at an unknown time
    assert events["event"].tolist() == ["add"] and charts.unknown_times(events, "time_ns") == 1
    assert all(len(t.x) == 0 for t in charts.lifecycle_chart(events).data)


def test_sql_answers_show_and_export_ids_by_their_rows_file(mixed) -> None:
    sql = "SELECT file_id, order_id FROM orders ORDER BY file_id, line_no"
    assert sql_export.query_csv(mixed, sql, 100, 10.0).decode().splitlines() == [
        "file_id,order_id", "1,000000000123", "1,00000000003F", "2,7", "2,123",
        "2,18446744073709551615", "2,1371"]
    frame = sandbox.run_query(mixed, sql + " LIMIT 3").frame  # ids arrive as Python ints
    shown = fmt.display_frame(frame, queries.file_feeds(mixed))
    assert shown["order_id"].tolist() == ["000000000123", "00000000003F", "7"]
