"""Page queries over a small hand-made day whose answers are worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from pitch import fmt, ids, ingest, queries
from pitch.filters import MessageFilter, OrderFilter

MS = 1_000_000


def t(text: str) -> str:
    """``HH:MM:SS.mmm`` as the 8-digit milliseconds field."""
    return f"{fmt.parse_hms(text) // MS:08d}"


def oid(n: int) -> str:
    return ids.b36(n)


def add(at: str, o: int, side: str, shares: int, sym: str, price: str) -> str:
    return f"S{t(at)}A{oid(o)}{side}{shares:06d}{sym:<6}{int(float(price) * 10_000):010d}Y"


def execd(at: str, o: int, shares: int, ex: int) -> str:
    return f"S{t(at)}E{oid(o)}{shares:06d}{oid(ex)}"


def cancel(at: str, o: int, shares: int) -> str:
    return f"S{t(at)}X{oid(o)}{shares:06d}"


def trade(at: str, o: int, side: str, shares: int, sym: str, price: str, ex: int) -> str:
    return (f"S{t(at)}P{oid(o)}{side}{shares:06d}{sym:<6}{int(float(price) * 10_000):010d}"
            f"{oid(ex)}")


DAY = [
    add("09:30:00.000", 1, "B", 100, "AAPL", "150"),       # line 1
    add("09:30:00.500", 2, "S", 200, "MSFT", "300"),       # line 2
    execd("09:30:01.000", 1, 30, 101),                     # line 3: AAPL 30 @ 150
    cancel("09:30:01.200", 2, 50),                         # line 4
    execd("09:30:02.000", 1, 20, 102),                     # line 5: AAPL 20 @ 150
    trade("09:30:02.500", 0, "B", 100, "AAPL", "151", 103),  # line 6: AAPL 100 @ 151
    cancel("09:31:00.000", 1, 50),                         # line 7: order 1 done
    add("09:31:30.000", 3, "B", 10, "AAPL", "149.5"),      # line 8
]
OTHER = [add("10:00:00.000", 9, "S", 5, "IBM", "120.25")]


@pytest.fixture
def day(db):
    """The database with DAY (file 1, one reject) and OTHER (file 2)."""
    data = ("\n".join(DAY) + "\nSnot a pitch line\n").encode()
    assert ingest.ingest_bytes(db, data, "day.pitch").messages == len(DAY)
    ingest.ingest_bytes(db, ("\n".join(OTHER) + "\n").encode(), "other.pitch")
    return db


def at(text: str) -> int:
    return fmt.parse_hms(text)


FILTER_CASES = [
    (MessageFilter(), 9),
    (MessageFilter(file_id=1), 8),
    (MessageFilter(file_id=2), 1),
    (MessageFilter(types=("A",)), 4),
    (MessageFilter(types=("E", "X"), file_id=1), 4),
    (MessageFilter(symbols=("AAPL",)), 3),
    (MessageFilter(symbols=("AAPL", "IBM")), 4),
    (MessageFilter(side="B"), 3),
    (MessageFilter(start_ns=at("09:30:01"), end_ns=at("09:30:02")), 3),  # both ends included
    (MessageFilter(start_ns=at("09:31:00")), 3),
    (MessageFilter(end_ns=at("09:30:00.499")), 1),
    (MessageFilter(order_id=1), 4),
    (MessageFilter(types=("A",), symbols=("AAPL",), side="B"), 2),
    (MessageFilter(symbols=("x'; DROP TABLE messages; --",)), 0),
]


@pytest.mark.parametrize("flt, expected", FILTER_CASES)
def test_message_count(day, flt, expected) -> None:
    assert queries.message_count(day, flt) == expected
    assert len(queries.messages_page(day, flt)) == expected  # all fit on one page


def test_filter_sql_holds_no_values() -> None:
    flt = MessageFilter(types=("A", "d"), symbols=("AAPL",), start_ns=1, end_ns=2, order_id=3,
                        side="B", file_id=4)
    where, params, _ = flt.where()
    assert where == ("WHERE type IN (?, ?) AND symbol IN (?) AND time_ns >= ? AND time_ns <= ? "
                     "AND order_id = ? AND side = ? AND file_id = ?")
    assert params == ["A", "d", "AAPL", 1, 2, 3, "B", 4]
    assert MessageFilter().where() == ("", [], "All messages")


SENTENCES = [
    (MessageFilter(), "All messages"),
    (MessageFilter(types=("A",), symbols=("AAPL",), start_ns=at("09:30"), end_ns=at("10:00")),
     "Add Order (Short) messages for AAPL between 09:30:00.000 and 10:00:00.000"),
    (MessageFilter(types=("E", "X"), side="S", order_id=35, file_id=2, file_name="b.pitch"),
     "Order Executed, Order Cancel messages on the sell side of order 00000000000Z "
     "in file b.pitch"),
    (MessageFilter(symbols=tuple("ABCDEFG"), start_ns=0), "All messages for A, B, C, D, E and "
                                                           "2 more from 00:00:00.000"),
    (OrderFilter(), "All orders"),
    (OrderFilter(statuses=("open", "filled"), side="B", symbols=("AAPL",)),
     "Open or filled buy orders for AAPL"),
]


@pytest.mark.parametrize("flt, sentence", SENTENCES)
def test_sentences(flt, sentence) -> None:
    assert flt.where()[2] == sentence


def test_paging_and_sorting(day) -> None:
    lines = lambda **kw: list(queries.messages_page(day, MessageFilter(file_id=1), **kw)["line_no"])
    assert lines() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert lines(page=2, page_size=3) == [4, 5, 6]
    assert lines(page=3, page_size=3) == [7, 8]
    assert lines(page=9, page_size=3) == []
    # Ties (100, 100 and 50, 50) fall back to file order.
    assert lines(sort="shares", desc=True) == [2, 1, 6, 4, 7, 3, 5, 8]
    assert lines(sort="time", desc=True) == [8, 7, 6, 5, 4, 3, 2, 1]
    # Only known sort keys reach ORDER BY; anything else sorts by time.
    assert lines(sort="time_ns; DROP TABLE messages") == [1, 2, 3, 4, 5, 6, 7, 8]
    page = queries.messages_page(day, MessageFilter(file_id=1), page_size=1)
    assert list(page.columns) == ["file_id", "line_no", "time_ns", "type", "message_type",
                                  "symbol", "order_id", "side", "shares", "price", "execution_id"]
    assert page.iloc[0]["message_type"] == "Add Order (Short)"


def test_messages_csv_is_every_match_every_column(day) -> None:
    text = queries.messages_csv(day, MessageFilter(types=("E",))).decode()
    # Every column of the messages view, text or binary: one header whatever the file.
    assert text.splitlines() == [
        "file_id,line_no,time_ns,time,type,message_type,unit,sequence,packet,symbol,order_id,"
        "side,shares,price,display,participant_id,customer_indicator,execution_id,halt_status,"
        "reg_sho_action,auction_type,reference_price,buy_shares,sell_shares,indicative_price,"
        "auction_only_price,rpi,time_offset_ns,flags,remaining_shares,osi_symbol,"
        "symbol_condition,underlying",
        "1,3,34201000000000,09:30:01.000,E,Order Executed,,,,,000000000001,,30,,,,,00000000002T"
        ",,,,,,,,,,,,,,,",
        "1,5,34202000000000,09:30:02.000,E,Order Executed,,,,,000000000001,,20,,,,,00000000002U"
        ",,,,,,,,,,,,,,,",
    ]
    empty = queries.messages_csv(day, MessageFilter(symbols=("NONE",))).decode()
    assert empty.count("\n") == 1 and empty.startswith("file_id,line_no,time_ns,time,")


def test_many_rows_stream_in_batches(day) -> None:
    text = queries.stream_csv(day, "SELECT range AS shares FROM range(250)", batch_rows=100)
    assert text.decode().splitlines() == ["shares", *map(str, range(250))]


def test_order_lifecycle(day) -> None:
    events = queries.order_lifecycle(day, 1, 1)
    assert events[["line_no", "event", "shares", "remaining_shares"]].values.tolist() == [
        [1, "add", 100, 100], [3, "executed", 30, 70], [5, "executed", 20, 50],
        [7, "cancelled", 50, 0]]
    assert [float(p) for p in events["price"]] == [150.0] * 4
    assert list(events["execution_id"].fillna(0)) == [0, 101, 102, 0]
    assert queries.order_lifecycle(day, 1, 2)["remaining_shares"].tolist() == [200, 150]
    assert queries.order_lifecycle(day, 1, 3).empty  # line 3 is not an add


def test_an_orders_events_are_its_lifecycle_without_the_add(day) -> None:
    orders = queries.orders_page(day, OrderFilter())
    assert sorted(orders["events"].tolist()) == [0, 0, 1, 3]
    for o in orders.itertuples():
        lifecycle = queries.order_lifecycle(day, o.file_id, o.line_no)
        assert lifecycle["event"].iloc[0] == "add"
        assert len(lifecycle) - 1 == o.events, o.order_id


def test_orders(day) -> None:
    assert queries.order_count(day, OrderFilter()) == 4
    assert queries.order_count(day, OrderFilter(statuses=("open",))) == 3
    assert queries.order_count(day, OrderFilter(symbols=("AAPL",), side="B")) == 2
    assert queries.order_count(day, OrderFilter(order_id=2, file_id=1)) == 1
    page = queries.orders_page(day, OrderFilter(), sort="remaining", desc=True)
    assert page[["order_id", "remaining_shares", "status"]].values.tolist() == [
        [2, 150, "open"], [3, 10, "open"], [9, 5, "open"], [1, 0, "cancelled"]]
    assert list(queries.order_instances(day, 1)["line_no"]) == [1]
    csv = queries.orders_csv(day, OrderFilter(order_id=1)).decode().splitlines()
    assert csv[1] == ("000000000001,AAPL,B,150.0000,100,50,50,0,cancelled,"
                             "34200000000000,09:30:00.000,34260000000000,09:31:00.000,3,1,1")


def test_symbol_summary_and_trades(day) -> None:
    s = queries.symbol_summary(day, "AAPL")
    assert (s["trades"], s["volume"], s["orders"], s["buy_orders"], s["sell_orders"]) == \
        (3, 150, 2, 2, 0)
    assert float(s["vwap"]) == pytest.approx((30 * 150 + 20 * 150 + 100 * 151) / 150)
    assert (float(s["low"]), float(s["high"])) == (150.0, 151.0)
    trades, cut = queries.symbol_trades(day, "AAPL")
    assert not cut and trades["shares"].tolist() == [30, 20, 100]
    assert [round(float(v), 6) for v in trades["vwap"]] == [150.0, 150.0, round(22600 / 150, 6)]
    first_two, cut = queries.symbol_trades(day, "AAPL", limit=2)
    assert cut and len(first_two) == 2
    assert queries.symbol_trades_csv(day, "AAPL").decode().count("\n") == 4
    assert queries.symbol_summary(day, "NONE")["trades"] == 0
    adds = queries.symbol_adds(day, "AAPL", 60 * 10**9)
    assert adds[["bucket_ns", "side", "adds", "shares"]].values.tolist() == [
        [at("09:30"), "B", 1, 100], [at("09:31"), "B", 1, 10]]


def test_top_symbols_and_totals(day) -> None:
    assert queries.top_symbols(day, 5).values.tolist() == [["AAPL", 150]]
    assert queries.totals(day) == {"files": 2, "messages": 9, "rejects": 1, "symbols": 3,
                                   "orders": 4, "executed_shares": 150}
    assert queries.symbols(day) == ["AAPL", "IBM", "MSFT"]


def test_message_rate(day) -> None:
    rate = queries.message_rate(day, 10**9)
    got = {(fmt.hms(b), c): n for b, c, n in rate[["bucket_ns", "code", "count"]].values}
    assert got == {("09:30:00.000", "A"): 2, ("09:30:01.000", "E"): 1,
                   ("09:30:01.000", "X"): 1, ("09:30:02.000", "E"): 1,
                   ("09:30:02.000", "P"): 1, ("09:31:00.000", "X"): 1,
                   ("09:31:30.000", "A"): 1, ("10:00:00.000", "A"): 1}
    assert rate["count"].sum() == 9


@pytest.mark.parametrize("span, label", [(0, "1 s"), (599 * 10**9, "1 s"), (600 * 10**9, "10 s"),
                                         (6.5 * 3600 * 10**9, "1 min"),
                                         (24 * 3600 * 10**9, "5 min")])
def test_pick_bucket(span, label) -> None:
    assert queries.pick_bucket(int(span)) == label


def test_files_rejects_and_version(day) -> None:
    files = queries.files(day)
    assert files[["file_id", "name", "messages", "rejects"]].values.tolist() == [
        [2, "other.pitch", 1, 0], [1, "day.pitch", 8, 1]]
    assert queries.time_bounds(day) == (at("09:30"), at("10:00"))
    assert queries.reject_count(day, 1) == 1
    rejects = queries.rejects_page(day, 1)
    assert rejects[["line_no", "raw"]].values.tolist() == [[9, b"Snot a pitch line"]]
    csv = queries.rejects_csv(day, 1).decode().splitlines()
    assert csv[0] == "line_no,byte_offset,reason,raw" and csv[1].endswith(",Snot a pitch line")
    before = queries.data_version(day)
    ingest.ingest_bytes(day, (add("11:00:00.000", 5, "B", 1, "X", "1") + "\n").encode(), "c")
    assert queries.data_version(day) != before


def test_message_detail_and_schema(day) -> None:
    detail = queries.message_detail(day, 1, 6)
    assert detail["file"] == "day.pitch" and detail["message_type"] == "Trade (Short)"
    assert (detail["symbol"], detail["shares"], detail["execution_id"]) == ("AAPL", 100, 103)
    assert "halt_status" not in detail  # empty fields are left out
    assert queries.message_detail(day, 1, 99) == {}
    schema = queries.schema(day)
    assert {"messages", "orders", "executions", "files", "rejects"} <= set(schema["table_name"])
    assert ("messages", "time_ns", "BIGINT") in schema.itertuples(index=False, name=None)


def test_real_sample_counts(db, real_sample) -> None:
    ingest.ingest_path(db, real_sample)
    counts = queries.message_type_counts(db)
    assert counts[["code", "count"]].values.tolist() == [["A", 10_361], ["X", 9_592],
                                                         ["P", 27], ["E", 20]]
    assert queries.message_count(db, MessageFilter(types=("P", "E"))) == 47
    assert isinstance(queries.message_rate(db, 60 * 10**9), pd.DataFrame)


@pytest.mark.parametrize("sort, desc", [("time", False), ("time", True), ("shares", True),
                                        ("price", False), ("price", True), ("symbol", False)])
def test_every_page_is_the_same_read_from_either_end(day, sort, desc) -> None:
    everything = MessageFilter()
    total = queries.message_count(day, everything)
    whole = queries.messages_page(day, everything, sort=sort, desc=desc, page_size=100)
    for size in (1, 2, 4):
        pages = [queries.messages_page(day, everything, sort=sort, desc=desc, page=p,
                                       page_size=size, total=total)
                 for p in range(1, total // size + 3)]
        joined = pd.concat(pages, ignore_index=True)
        assert joined[["file_id", "line_no"]].values.tolist() == \
            whole[["file_id", "line_no"]].values.tolist(), (sort, desc, size)
    # Nulls (no price on E/X) come last either way, ties in file order.
    if sort == "price":
        assert whole["price"].isna().tolist()[-5:] == [False] + [True] * 4
    orders = queries.orders_page(day, OrderFilter(), sort="shares", page=4, page_size=1, total=4)
    assert orders["order_id"].tolist() == [2]  # the largest of 10, 100, 5, 200 shares, read back


def test_wide_ids_filter_show_and_export(day) -> None:
    """An unsigned 64-bit id (binary PITCH) keeps all 13 characters everywhere."""
    wide = 2 ** 64 - 1  # "3W5E11264SGSF"
    day.execute("UPDATE messages_common SET order_id = ? WHERE file_id = 1 AND order_id = 2",
                [wide])
    flt = MessageFilter(order_id=ids.parse_id("3w5e11264sgsf"))  # as a person may type it
    assert flt.sentence() == "All messages of order 3W5E11264SGSF"
    assert queries.message_count(day, flt) == 2
    page = queries.messages_page(day, flt)
    assert [int(v) for v in page["order_id"]] == [wide, wide]
    assert fmt.display_frame(page)["order_id"].tolist() == ["3W5E11264SGSF"] * 2
    csv = queries.messages_csv(day, flt).decode().splitlines()
    assert len(csv) == 3 and all(",3W5E11264SGSF," in line for line in csv[1:])
