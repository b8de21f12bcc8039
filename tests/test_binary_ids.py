"""Binary ids in decimal, text ids in base 36, and unknown times: the pure formatters.

Each row's ids take its feed's form: a binary message type code starts with
``0x``; a row without a type column takes its file's format (``FileFeeds``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pitch import export, fmt, ids, links
from pitch.ids import BINARY, TEXT, FileFeeds

BIG = 2 ** 64 - 1
FEEDS = FileFeeds(binary=frozenset({2}), text=frozenset({1}))


@pytest.mark.parametrize("n, text", [(0, "0"), (7, "7"), (123, "123"), (36 ** 12, "4738381338321616896"),
                                     (BIG, "18446744073709551615")])
def test_decimal_both_ways(n: int, text: str) -> None:
    assert ids.format_id(n, binary=True) == ids.decimal(n) == text
    assert ids.parse_id(text, binary=True) == n
    assert ids.parse_id(f" 000{text} ", binary=True) == n  # leading zeros, spaces
    assert ids.format_ids(pa.array([n], pa.uint64()), True).to_pylist() == [text]


@pytest.mark.parametrize("typed, reason", [
    ("", "not a decimal number of 1-20 digits"), ("1K27", "not a decimal number"),
    ("-5", "not a decimal number"), ("1.5", "not a decimal number"), ("²", "not a decimal"),
    ("123456789012345678901", "1-20 digits"),
    ("18446744073709551616", "over 18446744073709551615, the largest 64-bit id"),
])
def test_parse_decimal_refuses(typed: str, reason: str) -> None:
    with pytest.raises(ValueError, match="order id") as err:
        ids.parse_id(typed, binary=True)
    assert reason in str(err.value)


def test_each_row_in_its_feeds_form() -> None:
    values = pa.array([35, 35, BIG, None], pa.uint64())
    binary = np.array([False, True, True, False])
    assert ids.format_ids(values, binary).to_pylist() == [
        "00000000000Z", "35", "18446744073709551615", None]
    assert ids.format_ids(values).to_pylist()[:2] == ["00000000000Z", "00000000000Z"]
    assert ids.format_id(35) == "00000000000Z" and ids.format_id(None, True) == ""
    with pytest.raises(ValueError):
        ids.format_ids(pa.array([-1, 5]), True)  # not an id in any form


ROWS_CASES = [  # (types, file ids, expected binary flags)
    (["A", "0x22", None, "0x2A"], [1, 2, 2, None], [False, True, True, True]),
    (None, [1, 2, None, 9], [False, True, False, False]),  # file 9 is unknown: not binary
    (None, None, [False, False, False, False]),  # a mixed database, nothing to tell by
]


@pytest.mark.parametrize("types, files, expected", ROWS_CASES)
def test_which_rows_are_binary(types, files, expected) -> None:
    arrays = {"types": pa.array(types, pa.string()) if types else None,
              "file_ids": pa.array(files, pa.int32()) if files else None}
    assert ids.binary_rows(4, FEEDS, **arrays).tolist() == expected


def test_a_database_of_binary_files_only_shows_decimal_where_rows_cannot_tell() -> None:
    only = FileFeeds(binary=frozenset({1, 2}))
    assert only.only_binary and not FEEDS.only_binary and not FileFeeds().only_binary
    assert ids.binary_rows(2, only).tolist() == [True, True]
    shown = fmt.display_frame(pd.DataFrame({"order_id": pd.array([35], dtype="UInt64")}), only)
    assert shown["order_id"].tolist() == ["35"]


@pytest.mark.parametrize("feeds, file_id, scope", [
    (FEEDS, None, (TEXT, BINARY)), (FEEDS, 1, (TEXT,)), (FEEDS, 2, (BINARY,)),
    (FEEDS, 9, (TEXT, BINARY)), (FileFeeds(), None, (TEXT,)),
    (FileFeeds(binary=frozenset({4})), None, (BINARY,)),
])
def test_scope(feeds: FileFeeds, file_id, scope) -> None:
    assert feeds.scope(file_id) == scope


def test_frames_and_csv_of_orders_take_their_files_form() -> None:
    orders = pd.DataFrame({"order_id": pd.array([1371, 123, BIG], dtype="UInt64"),
                           "first_time_ns": pd.array([34_200 * 10**9, None, 1], dtype="Int64"),
                           "file_id": [1, 2, 2]})
    shown = fmt.display_frame(orders, FEEDS)
    assert shown.to_dict("list") == {
        "order_id": ["000000000123", "123", "18446744073709551615"],
        "first_time": ["09:30:00.000", "unknown", "00:00:00.000"], "file_id": [1, 2, 2]}
    assert export.to_csv(orders, FEEDS).decode().splitlines() == [
        "order_id,first_time_ns,first_time,file_id",
        "000000000123,34200000000000,09:30:00.000,1",
        "123,,unknown,2",  # the nanoseconds stay empty; the readable time says unknown
        "18446744073709551615,1,00:00:00.000,2"]
    # Without feeds every row is text, as before binary files.
    assert fmt.display_frame(orders)["order_id"].tolist()[1] == "00000000003F"


def test_a_type_column_decides_over_the_file() -> None:
    # An execution's own type decides (a lifecycle table has no file column).
    events = pd.DataFrame({"type": ["0x22", "0x23"], "execution_id": pd.array([None, BIG],
                                                                              dtype="UInt64")})
    assert fmt.display_frame(events)["execution_id"].tolist() == ["", "18446744073709551615"]
    assert export.to_csv(events).decode().splitlines()[2] == "0x23,18446744073709551615"


def test_unknown_time_on_screen() -> None:
    assert fmt.shown_time(None) == "unknown" and fmt.shown_time(0) == "00:00:00.000"
    assert fmt.hms(None) == ""  # the plain formatter stays plain
    assert (fmt.at_time(None), fmt.at_time(0)) == ("at an unknown time", "at 00:00:00.000")
    assert fmt.value("time_ns", None) == "unknown" and fmt.value("last_time_ns", pd.NA) == "unknown"
    empty = pd.DataFrame({"time_ns": pd.array([None], dtype="Int64")})
    assert fmt.display_frame(empty)["time"].tolist() == ["unknown"]


def test_describe_a_binary_message() -> None:
    record = {"type": "0x23", "time_ns": None, "order_id": 123, "execution_id": BIG,
              "packet": 4, "unit": 1, "sequence": 6, "time_offset_ns": 2_000_000}
    got = dict(zip(*fmt.describe(record).to_dict("list").values()))
    assert got == {"type": "0x23", "time": "unknown", "order id": "123",
                   "execution id": "18446744073709551615", "packet": "4", "unit": "1",
                   "sequence": "6", "time offset (ns)": "2,000,000"}
    assert fmt.describe({"type": "A", "order_id": 35})["value"].tolist() == ["A", "00000000000Z"]
    assert fmt.describe({"order_id": 35}, binary=True)["value"].tolist() == ["35"]


def test_links_carry_the_id_in_its_files_form() -> None:
    assert links.of_order(123, 2, binary=True) == {"order": "123", "file": "2"}
    assert links.of_order(BIG, 2, binary=True)["order"] == "18446744073709551615"
    assert links.of_order(1371, 1) == {"order": "000000000123", "file": "1"}
