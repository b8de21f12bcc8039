"""Display conventions: times, ids, prices, counts, and the frames built from them."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pitch import export, fmt, ids

MS = 1_000_000

HMS_CASES = [
    (0, "00:00:00.000"),
    (1 * MS, "00:00:00.001"),
    (1_999_999, "00:00:00.001"),  # truncated, never rounded up into the next ms
    (28_800_011 * MS, "08:00:00.011"),
    (34_200_000 * MS, "09:30:00.000"),
    (86_399_999 * MS, "23:59:59.999"),
    (None, ""),
    (pd.NA, ""),
]


@pytest.mark.parametrize("ns, text", HMS_CASES)
def test_hms(ns, text) -> None:
    assert fmt.hms(ns) == text


PARSE_CASES = [
    ("09:30", 34_200_000 * MS),
    ("9:30", 34_200_000 * MS),
    ("09:30:01", 34_201_000 * MS),
    ("09:30:01.5", 34_201_500 * MS),
    ("09:30:01.05", 34_201_050 * MS),
    ("09:30:01.005", 34_201_005 * MS),
    (" 08:00:00.011 ", 28_800_011 * MS),
    ("23:59:59.999", 86_399_999 * MS),
]


@pytest.mark.parametrize("text, ns", PARSE_CASES)
def test_parse_hms(text, ns) -> None:
    assert fmt.parse_hms(text) == ns


@pytest.mark.parametrize("text", ["", "9", "9.30", "24:00", "09:60", "09:30:60", "09:30:00.1234",
                                  "09:30:00,5", "ab:cd", "-1:00"])
def test_parse_hms_refuses(text) -> None:
    with pytest.raises(ValueError, match="time"):
        fmt.parse_hms(text)


@pytest.mark.parametrize("ns", [0, 1 * MS, 28_800_011 * MS, 86_399_999 * MS])
def test_hms_round_trip(ns) -> None:
    assert fmt.parse_hms(fmt.hms(ns)) == ns


B36_CASES = [
    (0, "000000000000"),
    (35, "00000000000Z"),
    (36, "000000000010"),
    (int("1K27GA00000X", 36), "1K27GA00000X"),
    (36 ** 12 - 1, "ZZZZZZZZZZZZ"),  # the widest id a text file holds
    (36 ** 12, "1000000000000"),  # from here on 13 characters (binary PITCH)
    (2 ** 63, "1Y2P0IJ32E8E8"),
    (2 ** 64 - 1, "3W5E11264SGSF"),  # the largest unsigned 64-bit id
]


@pytest.mark.parametrize("n, text", B36_CASES)
def test_b36_both_ways(n, text) -> None:
    assert ids.b36(n) == text
    assert ids.format_id(n) == text
    assert ids.parse_b36(text) == n
    assert ids.parse_id(text) == n
    assert ids.parse_b36(text.lower().lstrip("0") or "0") == n  # as a person may type it
    assert ids.b36_array(pa.array([n], pa.uint64())).to_pylist() == [text]


@pytest.mark.parametrize("text, reason", [
    ("", "1-13 characters"), ("   ", "1-13 characters"),
    ("10000000000000", "1-13 characters"),  # 14 characters
    ("1K27-GA", "1-13 characters"), ("ÄBC", "1-13 characters"), ("1.5", "1-13 characters"),
    ("3W5E11264SGSG", "over 3W5E11264SGSF, the largest 64-bit id"),  # 2**64
    ("ZZZZZZZZZZZZZ", "over 3W5E11264SGSF"),
])
def test_parse_b36_refuses(text, reason) -> None:
    with pytest.raises(ValueError, match="order id") as err:
        ids.parse_b36(text)
    assert reason in str(err.value)


def test_b36_missing_and_out_of_range() -> None:
    assert ids.b36(None) == "" and ids.format_id(None) == ""
    for bad in (-1, 2 ** 64):
        with pytest.raises(ValueError, match="outside 0 to 2\\*\\*64-1"):
            ids.b36(bad)
        with pytest.raises(ValueError):
            ids.format_id(bad)
    with pytest.raises(ValueError):
        ids.b36_array(pa.array([5, -1], pa.int64()))  # the array version refuses it too


def test_ids_round_trip_and_array_agrees_with_scalar_on_random_u64s() -> None:
    rng = np.random.default_rng(11)
    values = np.concatenate([
        rng.integers(0, 2 ** 64 - 1, 2000, dtype=np.uint64, endpoint=True),  # mostly 13 chars
        rng.integers(0, 36 ** 12, 2000, dtype=np.uint64),  # 12 characters
        np.array([0, 36 ** 12 - 1, 36 ** 12, 2 ** 63, 2 ** 64 - 1], dtype=np.uint64)])
    ints = [int(v) for v in values]
    texts = ids.b36_array(pa.array(values)).to_pylist()
    assert texts == [ids.b36(v) for v in ints]
    assert ids.format_ids(pa.array(values)).to_pylist() == texts
    assert [ids.parse_b36(t) for t in texts] == ints
    assert all(len(t) == (12 if v < 36 ** 12 else 13) for t, v in zip(texts, ints))
    with_nulls = pa.array([2 ** 64 - 1, None, 7], pa.uint64())
    assert ids.b36_array(with_nulls).to_pylist() == ["3W5E11264SGSF", None, "000000000007"]


def test_wide_ids_in_csv_and_on_screen() -> None:
    frame = pd.DataFrame({"order_id": pd.array([2 ** 64 - 1, 36 ** 12, 35, None], dtype="UInt64"),
                          "execution_id": pd.array([2 ** 63, None, 1, 2], dtype="UInt64")})
    assert export.to_csv(frame).decode().splitlines() == [
        "order_id,execution_id", "3W5E11264SGSF,1Y2P0IJ32E8E8", "1000000000000,",
        "00000000000Z,000000000001", ",000000000002"]
    shown = fmt.display_frame(frame)
    assert shown["order_id"].tolist() == ["3W5E11264SGSF", "1000000000000", "00000000000Z", ""]
    assert fmt.describe({"order_id": 2 ** 64 - 1})["value"].tolist() == ["3W5E11264SGSF"]


VALUE_CASES = [
    (fmt.price, 61.92, "61.9200"),
    (fmt.price, Decimal("1234.5"), "1,234.5000"),
    (fmt.price, Decimal("0.0001"), "0.0001"),
    (fmt.price, None, ""),
    (fmt.count, 0, "0"),
    (fmt.count, 1234567, "1,234,567"),
    (fmt.count, pd.NA, ""),
    (fmt.size, 512, "512 B"),
    (fmt.size, 1536, "1.5 KB"),
    (fmt.size, 200 * 1024 * 1024, "200.0 MB"),
    (fmt.seconds, 0.0912, "0.09 s"),
    (fmt.seconds, 12.34, "12.3 s"),
    (fmt.seconds, 125, "2 min 5 s"),
    (fmt.number, 46.95, "46.95"),
    (fmt.number, 1234.5, "1,234.5"),
    (fmt.number, 3.0, "3"),
    (fmt.raw_text, b"S123\xffX", "S123\\xffX"),
]


@pytest.mark.parametrize("func, value, text", VALUE_CASES)
def test_values(func, value, text) -> None:
    assert func(value) == text


def test_plural() -> None:
    assert [fmt.plural(n, "file") for n in (0, 1, 2)] == ["files", "file", "files"]


def sample_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "time_ns": pd.array([28_800_011 * MS, 34_200_000 * MS], dtype="Int64"),
        "order_id": pd.array([int("1K27GA00000X", 36), None], dtype="UInt64"),
        "side": ["B", None],
        "shares": pd.array([1500, None], dtype="Int64"),
        "price": [61.92, None],
        "first_time_ns": pd.array([0, 1 * MS], dtype="Int64"),
    })


def test_display_frame_keeps_numbers_numeric() -> None:
    shown = fmt.display_frame(sample_frame())
    assert list(shown.columns) == ["time", "order_id", "side", "shares", "price", "first_time"]
    assert {c: dtype(shown[c]) for c in shown} == {
        "time": "text", "order_id": "text", "side": "text", "shares": "Int64",
        "price": "Float64", "first_time": "text"}
    first, second = shown.to_dict("records")
    assert first == {"time": "08:00:00.011", "order_id": "1K27GA00000X", "side": "B",
                     "shares": 1500, "price": 61.92, "first_time": "00:00:00.000"}
    assert (second["time"], second["order_id"], second["side"]) == ("09:30:00.000", "", "")
    assert shown[["shares", "price"]].iloc[1].isna().all()  # missing, not 0


def dtype(values: pd.Series) -> str:
    """The dtype of a number column, or 'text' for a column of strings."""
    if all(isinstance(v, str) for v in values):
        return "text"
    return str(values.dtype)


KIND_CASES = [  # (column, values, kind, dtype shown, first value shown)
    ("time_ns", pd.array([28_800_011 * MS, None], dtype="Int64"), "time", "text",
     "08:00:00.011"),
    ("order_id", pd.array([35, None], dtype="UInt64"), "id", "text", "00000000000Z"),
    ("execution_id", np.array([2 ** 64 - 1, 1], dtype=np.uint64), "id", "text",
     "3W5E11264SGSF"),
    ("price", [1234.56, None], "price", "Float64", 1234.56),
    ("vwap", [Decimal("61.92"), None], "price", "Float64", 61.92),
    ("shares", pd.array([1000, None], dtype="Int64"), "int", "Int64", 1000),
    ("line_no", np.array([41, 1000], dtype=np.int64), "int", "Int64", 41),
    ("count", np.array([2 ** 53, 1], dtype=np.uint64), "wide_int", "text",
     "9,007,199,254,740,992"),
    ("percent", [51.81, 0.5], "float", "Float64", 51.81),
    ("broken", pd.array([True, None], dtype="boolean"), "bool", "text", "yes"),
    ("symbol", ["AAPL", None], "text", "text", "AAPL"),
    ("raw", [b"S12\xff", None], "text", "text", "S12\\xff"),
]


@pytest.mark.parametrize("column, values, kind, expected, first", KIND_CASES)
def test_column_kinds_and_what_the_table_gets(column, values, kind, expected, first) -> None:
    frame = pd.DataFrame({column: values})
    assert fmt.column_kind(column, frame[column]) == kind
    shown = fmt.display_frame(frame)
    name = fmt.display_name(column)
    assert dtype(shown[name]) == expected
    assert shown[name].iloc[0] == first


def test_column_config_declares_numbers_as_number_columns() -> None:
    from pitch import ui

    frame = pd.DataFrame({k: v for k, v, *_ in KIND_CASES})
    config = ui.column_config(frame, labels={"count": "n"})
    types = {name: (c["type_config"]["type"], c["type_config"].get("format"))
             for name, c in config.items()}
    assert types == {
        "time": ("text", None), "order_id": ("text", None), "execution_id": ("text", None),
        "price": ("number", "%,.4f"), "vwap": ("number", "%,.4f"),
        "shares": ("number", "%,d"), "line_no": ("number", "%,d"),
        "count": ("text", None), "percent": ("number", "%,.15g"),
        "broken": ("text", None), "symbol": ("text", None), "raw": ("text", None)}
    assert config["count"]["label"] == "n" and config["count"]["alignment"] == "right"
    assert config["line_no"]["label"] == "line" and config["order_id"]["label"] == "order id"
    # Every shown column has its config, under the name the table shows.
    assert set(config) == set(fmt.display_frame(frame).columns)


def test_export_csv_keeps_raw_values_beside_readable_ones() -> None:
    assert export.to_csv(sample_frame()).decode() == (
        "time_ns,time,order_id,side,shares,price,first_time_ns,first_time\n"
        "28800011000000,08:00:00.011,1K27GA00000X,B,1500,61.9200,0,00:00:00.000\n"
        "34200000000000,09:30:00.000,,,,,1000000,00:00:00.001\n"
    )


def test_describe_lists_fields_as_text() -> None:
    described = fmt.describe({"time_ns": 1 * MS, "order_id": 35, "price": 1.5, "shares": 1000,
                              "symbol": "AAPL"})
    assert described.to_dict("list") == {
        "field": ["time", "order id", "price", "shares", "symbol"],
        "value": ["00:00:00.001", "00000000000Z", "1.5000", "1,000", "AAPL"],
    }


def test_column_formatters_match_the_scalar_ones() -> None:
    some = pa.array([0, 35, 36, int("1K27GA00000X", 36), 36 ** 12 - 1, None], pa.uint64())
    assert ids.b36_array(some).to_pylist() == [ids.b36(v) or None for v in some.to_pylist()]
    times = pa.array([0, 1_999_999, 28_800_011 * MS, 86_399_999 * MS, None], pa.int64())
    assert export.hms_array(times).to_pylist() == [fmt.hms(v) or None for v in times.to_pylist()]
    prices = pa.array([61.92, 0.0001, 1234.5, 99_999_999.9999, -0.5, None])
    assert export.price_array(prices).to_pylist() == [
        "61.9200", "0.0001", "1234.5000", "99999999.9999", "-0.5000", None]
    decimals = pa.array([Decimal("61.92"), Decimal("99999999999999.9999"), None],
                        pa.decimal128(18, 4))
    assert export.price_array(decimals).to_pylist() == ["61.9200", "99999999999999.9999", None]
    assert ids.b36_array(pa.array([], pa.uint64())).to_pylist() == []
    odd = pa.array([-MS, 100 * 3600 * 1000 * MS])  # not times of day: still formatted, slowly
    assert export.hms_array(odd).to_pylist() == [fmt.hms(-MS), fmt.hms(100 * 3600 * 1000 * MS)]


@pytest.mark.parametrize("values, text", [
    (["plain", None], "col\nplain\n\n"),
    (["a,b", 'say "hi"'], 'col\n"a,b"\n"say ""hi"""\n'),
])
def test_csv_quotes_only_when_needed(values, text) -> None:
    assert export.csv_bytes(pa.table({"col": pa.array(values, pa.string())})).decode() == text
    assert export.csv_bytes(pa.table({"a,b": pa.array([1])})).decode() == '"a,b"\n1\n'


def test_csv_of_odd_sql_results() -> None:
    frame = pd.DataFrame({"mixed": [1, "a", None], "total": [1.5, None, 2.0],
                          "when": pd.to_datetime(["2024-01-02", None, "2024-01-03"])})
    assert export.to_csv(frame).decode().splitlines() == [
        "mixed,total,when", "1,1.5,2024-01-02 00:00:00.000000", "a,,",
        ",2,2024-01-03 00:00:00.000000"]


def test_to_csv_is_still_reachable_through_fmt() -> None:
    # pages/sql.py (owned elsewhere) calls fmt.to_csv; it moved to pitch.export.
    assert fmt.to_csv is export.to_csv
    with pytest.raises(AttributeError):
        fmt.no_such_thing  # noqa: B018
