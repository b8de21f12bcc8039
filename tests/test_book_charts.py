"""The Book page's figures and the top-of-book columns (pitch.book_charts)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pitch import book_charts as bc

BBO = pd.DataFrame({
    "line_no": [1, 2, 3, 4, 5],
    "time_ns": pd.array([None, 34_200 * 10**9, 34_201 * 10**9, 34_202 * 10**9,
                         34_203 * 10**9], "Int64"),
    "bid_price": [10.0, 10.0, 10.05, 10.10, np.nan],
    "bid_shares": pd.array([100, 300, 100, 200, None], "Int64"),
    "ask_price": [np.nan, 10.05, 10.05, 10.05, 10.05],
    "ask_shares": pd.array([None, 100, 100, 100, 100], "Int64"),
})


def test_top_of_book_spread_imbalance_and_states() -> None:
    top = bc.top_of_book(BBO)
    assert top["spread"].tolist()[1:4] == [0.05, 0.0, -0.05]
    assert math.isnan(top["spread"][0]) and math.isnan(top["spread"][4])
    assert top["imbalance"].tolist()[1:4] == [0.5, 0.0, 1 / 3]
    assert top["state"].tolist() == ["", "", "locked", "crossed", ""]


def test_thin_keeps_every_kth_row() -> None:
    frame = pd.DataFrame({"a": range(10)})
    assert bc.thin(frame, 20)[1] == 1 and len(bc.thin(frame, 20)[0]) == 10
    shown, step = bc.thin(frame, 4)
    assert step == 3 and shown["a"].tolist() == [0, 3, 6, 9]


def test_depth_chart_bids_left_asks_right_by_price() -> None:
    depth = pd.DataFrame({"side": ["B", "B", "S"], "price": [10.0, 9.99, 10.01],
                          "shares": [500, 200, 300], "orders": [2, 1, 3]})
    fig = bc.depth_chart(depth, "XYZ")
    asks, bids = fig.data
    assert (asks.name, list(asks.x), list(asks.y)) == ("Asks", [300], ["10.0100"])
    assert (bids.name, list(bids.x), list(bids.text)) == ("Bids", [-500, -200], ["2", "1"])
    assert list(fig.layout.yaxis.categoryarray) == ["9.9900", "10.0000", "10.0100"]


def test_bbo_chart_steps_trades_states_and_a_range_slider() -> None:
    trades = pd.DataFrame({"time_ns": [34_201 * 10**9], "price": [10.05], "shares": [100]})
    fig = bc.bbo_chart(bc.top_of_book(BBO), trades, "XYZ", at_ns=34_202 * 10**9)
    assert str(fig.layout.shapes[0].x0).startswith("1970-01-01 09:30:02")  # the instant
    names = [t.name for t in fig.data]
    assert names == ["Best bid", "Best ask", "Trades", "Spread", "Crossed", "Locked",
                     "Imbalance"]
    bid = fig.data[0]
    assert bid.line.shape == "hv" and len(bid.x) == 4  # the row of unknown time is left out
    assert fig.layout.xaxis3.rangeslider.visible
    assert len(fig.data[names.index("Crossed")].x) == 1


def test_bbo_chart_without_trades_or_crossings() -> None:
    calm = BBO.iloc[1:3]
    fig = bc.bbo_chart(bc.top_of_book(calm), pd.DataFrame(columns=["time_ns", "price",
                                                                   "shares"]), "XYZ")
    assert [t.name for t in fig.data] == ["Best bid", "Best ask", "Spread", "Locked",
                                          "Imbalance"]


def test_readable_prices_have_4_decimals_and_empty_sides_stay_empty() -> None:
    shown = bc.readable(BBO)
    assert shown["bid_price"].tolist()[:3] == ["10.0000", "10.0000", "10.0500"]
    assert shown["ask_price"][0] == "" and shown["bid_price"][4] == ""
