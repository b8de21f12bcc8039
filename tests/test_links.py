"""A page's state in its URL: how each widget value is read from and written to it,
and the URLs the drill-down links compute (pitch.links, no Streamlit run needed)."""

from __future__ import annotations

import pytest

from pitch import links

SORTS = {"time": "time_ns", "shares": "shares"}

# (param, the URL's values for the key, the widget's value, what the widget writes back)
CASES = [
    (links.TEXT, [], "", []),
    (links.TEXT, ["AK27GA0000DT"], "AK27GA0000DT", ["AK27GA0000DT"]),
    (links.TEXT, ["a", "b"], "b", ["b"]),  # a repeated key: the last one, as st.query_params
    (links.FLAG, [], False, []),
    (links.FLAG, ["true"], True, ["true"]),
    (links.FLAG, ["True"], True, ["true"]),
    (links.FLAG, ["false"], False, []),
    (links.FLAG, ["yes"], False, []),
    (links.one_of(["Buy", "Sell"]), ["Sell"], "Sell", ["Sell"]),
    (links.one_of(["Buy", "Sell"]), ["Both"], None, []),
    (links.one_of(["Buy", "Sell"]), [], None, []),
    (links.one_of(SORTS, "time"), ["shares"], "shares", ["shares"]),
    (links.one_of(SORTS, "time"), ["time"], "time", []),  # the default is left out
    (links.one_of(SORTS, "time"), ["price; DROP"], "time", []),
    (links.one_of([1, 2]), ["2"], 2, ["2"]),  # options need not be text
    (links.some_of(["A", "E", "X"]), ["E", "A"], ["E", "A"], ["E", "A"]),
    (links.some_of(["A", "E", "X"]), ["A", "Z", "A"], ["A"], ["A"]),
    (links.some_of(["A", "E", "X"]), [], [], []),
    (links.page_number(5), [], 1, []),
    (links.page_number(5), ["3"], 3, ["3"]),
    (links.page_number(5), ["99"], 5, ["5"]),  # beyond the last page: the last page
    (links.page_number(5), ["0"], 1, []),
    (links.page_number(5), ["-2"], 1, []),
    (links.page_number(5), ["two"], 1, []),
]


@pytest.mark.parametrize("param, url, value, written", CASES)
def test_params_read_and_write(param, url, value, written) -> None:
    assert param.read(url) == value
    assert param.write(value) == written
    assert param.read(param.write(value)) == value  # what is written reads back the same


@pytest.mark.parametrize("text, file_id", [
    ("2", 2), ("12", 12), ("2: monday.pitch", 2), (" 2 : x", 2), ("", None), ("two", None),
    ("-1", None), (": x", None)])
def test_file_parameter(text, file_id) -> None:
    assert links.file_id_in(text) == file_id


def test_link_targets() -> None:
    assert links.messages_of_type("P") == {"type": ["P"]}
    assert links.of_order(int("AK27GA0000DT", 36), 2) == {"order": "AK27GA0000DT", "file": "2"}
    assert links.of_order(2 ** 64 - 1, 1)["order"] == "3W5E11264SGSF"  # wide ids whole
    assert links.of_order(35, 1)["order"] == "00000000000Z"
    assert links.symbol("SPY") == {"symbol": "SPY"}
    assert links.orders_of_symbol("SPY") == {"symbols": ["SPY"]}
