"""The pages on binary files beside text ones (AppTest): ids, unknown times, gaps, uploads.

The database is tests/mixed_support.py's: t.pitch (file 1, text) and b.pcap
(file 2: an unknown time, a reject, a gap, three duplicates).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import mixed_support
import pytest
from streamlit.testing.v1 import AppTest

from app_support import count_line, fresh_caches, start, texts  # noqa: F401
from pitch import store

ROOT = Path(__file__).resolve().parent.parent
BATS = ROOT.parent / "shared" / "binary" / "bats_mcastpitch_realtime.pcap"
PAGES = ["overview", "messages", "orders", "symbols", "ingest", "sql"]


@pytest.fixture
def mixed(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "app.duckdb"
    for name, value in {"PITCH_DB": str(path), "PITCH_INBOX": str(tmp_path / "inbox"),
                        "PITCH_NO_WATCH": "1", "PITCH_NO_SAMPLE": "1"}.items():
        monkeypatch.setenv(name, value)
    conn = store.connect(path)
    mixed_support.load(conn)
    conn.close()
    return path


def link_query(at: AppTest, label_start: str) -> dict[str, list[str]]:
    link = next(e.proto for e in at.get("page_link") if e.proto.label.startswith(label_start))
    return parse_qs(link.query_string)


def test_every_page_renders(mixed) -> None:
    for page in PAGES:
        at = start(page)
        assert not at.error, (page, texts(at.error))


def test_overview_warns_of_gaps_and_counts_unknown_times(mixed) -> None:
    at = start("overview")
    assert "File b.pcap: 1 gap, 1 message missing" in texts(at.warning)
    captions = texts(at.caption)
    assert "2 messages of binary files have an unknown time" in captions
    assert "Left out of this chart: 2 messages" in captions


def test_messages_of_a_binary_file(mixed) -> None:
    at = start("messages", file="2", sort="file, line")
    table = at.dataframe[0].value
    assert list(table.columns[:6]) == ["file_id", "line_no", "packet", "unit", "sequence", "time"]
    assert table["order_id"].tolist() == ["7", "0", "", "123", "123", "",
                                          "18446744073709551615", "1371"]
    assert table["time"].tolist()[:3] == ["unknown", "unknown", "09:30:00.000"]
    assert table["message_type"].tolist()[:2] == ["Add Order Short", "Trade Short"]
    at.session_state["message_rows"] = {"selection": {"rows": [4], "columns": [], "cells": []}}
    at.run()
    assert "Order Executed, packet 4 (unit 1, sequence 7) of b.pcap" in texts(at.subheader)
    detail = dict(zip(*at.dataframe[0].value.to_dict("list").values()))
    assert (detail["packet"], detail["unit"], detail["sequence"]) == ("4", "1", "7")
    assert detail["execution id"] == "18446744073709551615"
    assert link_query(at, "Order 123 lifecycle") == {"order": ["123"], "file": ["2"]}
    text_only = start("messages", file="1")  # a text file: no wire columns, ids as before
    assert "packet" not in text_only.dataframe[0].value.columns
    assert text_only.dataframe[0].value["order_id"].tolist()[0] == "000000000123"


def test_unknown_time_in_the_detail_panel(mixed) -> None:
    at = start("messages", file="2", sort="file, line")
    at.session_state["message_rows"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    detail = dict(zip(*at.dataframe[0].value.to_dict("list").values()))
    assert detail["time"] == "unknown" and detail["order id"] == "7"


@pytest.mark.parametrize("query, line", [
    ({"order": "123"}, ("All messages of order 000000000123 (base 36, text files) or 123 "
                        "(decimal, binary files): **4**")),
    ({"order": "123", "file": "2"}, "All messages of order 123 in file b.pcap: **2**"),
    ({"order": "123", "file": "1"}, "All messages of order 000000000123 in file t.pitch: **2**"),
    ({"order": "3f"}, "All messages of order 00000000003F (base 36, text files): **1**"),
])
def test_order_id_filter_takes_the_files_form(mixed, query, line) -> None:
    assert count_line(start("messages", **query)) == line


def test_a_base36_id_in_a_binary_file_is_explained(mixed) -> None:
    at = start("messages", order="1K27", file="2")
    assert "is not a decimal number" in texts(at.error)
    at = start("orders", order="1K27", file="2")
    assert "is not a decimal number" in texts(at.error)


def test_a_time_window_says_unknown_times_are_outside_it(mixed) -> None:
    at = start("messages", **{"from": "09:30"})
    assert count_line(at) == "All messages from 09:30:00.000: **9**"
    assert "2 messages of binary files have an unknown time" in texts(at.caption)


def test_orders_of_a_binary_file(mixed) -> None:
    at = start("orders", order="123", file="2")
    assert "Order 123: sell 10 AAPL @ 2.0000" in texts(at.subheader)
    assert "Added at 09:30:00.001 on message 4 of b.pcap" in texts(at.caption)
    lifecycle = at.dataframe[0].value
    assert "type" not in lifecycle.columns
    assert lifecycle["execution_id"].tolist() == ["", "18446744073709551615"]
    assert link_query(at, "Its messages") == {"order": ["123"], "file": ["2"]}
    at = start("orders", order="7", file="2")
    assert "Added at an unknown time on message 1 of b.pcap; last event at an unknown time" \
        in texts(at.caption)
    assert "1 of its messages has an unknown time" in texts(at.caption)
    both = start("orders", order="123")
    assert count_line(both).endswith("(decimal, binary files): **2**")
    assert both.dataframe[0].value["order_id"].tolist() == ["000000000123", "123"]


def test_symbols_say_what_the_charts_leave_out(mixed) -> None:
    at = start("symbols", symbol="AAPL")
    captions = texts(at.caption)
    assert "1 trade with an unknown time" in captions
    assert "1 order added at an unknown time" in captions


def test_ingest_lists_formats_gaps_and_rejects_with_their_packet(mixed) -> None:
    at = start("ingest")
    files = at.dataframe[0].value
    assert files[["name", "format", "gaps", "missing_messages", "duplicates",
                  "skipped_packets"]].values.tolist() == [["b.pcap", "pcap", 1, 1, 3, 0],
                                                          ["t.pitch", "text", 0, 0, 0, 0]]
    rejects = at.dataframe[1].value
    assert rejects[["line_no", "packet", "reason"]].values.tolist() == [
        [1, 2, "unknown message type 0x5A"]]
    gaps = at.dataframe[2].value
    assert gaps[["unit", "expected_sequence", "received_sequence", "missing"]].values.tolist() \
        == [[1, 6, 7, 1]]
    assert {"CSV of all 1 rejects", "CSV of all 1 gaps"} <= {
        b.label for b in at.get("download_button")}
    assert at.selectbox(key="gaps_file").value == 2


def test_the_uploader_takes_captures_by_content(mixed) -> None:
    at = start("ingest")
    uploader = at.file_uploader[0]
    assert list(uploader.proto.type) == []  # no extension filter: told by content
    for word in (".pcap", ".pcapng", ".dat", ".bin", ".gz"):
        assert word in uploader.proto.label, word
    assert "told from the content" in uploader.proto.help
    uploader.set_value(("capture.pcap", BATS.read_bytes(), "application/vnd.tcpdump.pcap")).run()
    assert not at.exception, at.exception
    assert "capture.pcap: 40 messages, 0 rejects" in texts(at.success)
