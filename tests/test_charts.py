"""Figure builders: the right traces, data and axis titles for given frames."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from pitch import charts

MS = 1_000_000
S = 1000 * MS


def times(fig_trace) -> list[str]:
    return [pd.Timestamp(x).strftime("%H:%M:%S.%f")[:-3] for x in fig_trace.x]


def test_clock_turns_nanoseconds_into_times_of_day() -> None:
    got = charts.clock(pd.Series([0, 34_200_001 * MS]))
    assert [t.strftime("%H:%M:%S.%f") for t in got] == ["00:00:00.000000", "09:30:00.001000"]


def test_type_counts_bar() -> None:
    counts = pd.DataFrame({"message_type": ["Add Order (Short)", "Order Cancel"],
                           "code": ["A", "X"], "count": [1200, 30]})
    fig = charts.type_counts_bar(counts)
    (bar,) = fig.data
    assert isinstance(bar, go.Bar) and bar.orientation == "h"
    assert list(bar.y) == ["Add Order (Short)", "Order Cancel"] and list(bar.x) == [1200, 30]
    assert list(bar.customdata) == ["A", "X"]  # what a click hands to the Messages page
    assert list(bar.text) == ["1,200", "30"]
    assert fig.layout.xaxis.title.text == "Messages"
    assert fig.layout.yaxis.title.text == "Message type"
    assert fig.layout.yaxis.autorange == "reversed"  # largest on top


def test_rate_chart_stacks_one_trace_per_type_most_frequent_first() -> None:
    rate = pd.DataFrame({"bucket_ns": [0, 0, S, S], "code": ["X", "A", "A", "X"],
                         "count": [1, 5, 7, 2]})
    fig = charts.rate_chart(rate, "1 s")
    assert [t.name for t in fig.data] == ["Add Order (Short)", "Order Cancel"]
    assert list(fig.data[0].y) == [5, 7] and list(fig.data[1].y) == [1, 2]
    assert times(fig.data[0]) == ["00:00:00.000", "00:00:01.000"]
    assert fig.layout.barmode == "stack"
    assert fig.layout.yaxis.title.text == "Messages per 1 s"
    assert fig.layout.xaxis.title.text == "Time"
    assert fig.layout.xaxis.tickformat == "%H:%M:%S"
    assert fig.data[0].marker.color == charts.TYPE_COLORS["A"]


def test_lifecycle_chart() -> None:
    events = pd.DataFrame({"line_no": [1, 3, 7], "time_ns": [0, S, 2 * S],
                           "event": ["add", "executed", "cancelled"], "shares": [100, 30, 70],
                           "remaining_shares": [100, 70, 0]})
    fig = charts.lifecycle_chart(events)
    step, *markers = fig.data
    assert step.line.shape == "hv" and list(step.y) == [100, 70, 0]
    assert [m.name for m in markers] == ["Add", "Executed", "Cancelled"]
    assert [list(m.y) for m in markers] == [[100], [70], [0]]
    assert [m.marker.symbol for m in markers] == ["circle", "diamond", "x"]
    assert list(markers[1].text) == ["executed 30"]
    assert fig.layout.yaxis.title.text == "Remaining shares"
    assert fig.layout.xaxis.tickformat == "%H:%M:%S.%L"  # 2 s of events: ticks need ms
    longer = events.assign(time_ns=[0, 60 * S, 120 * S])
    assert charts.lifecycle_chart(longer).layout.xaxis.tickformat == "%H:%M:%S"


def test_trades_chart_sizes_by_shares_and_draws_vwap() -> None:
    trades = pd.DataFrame({"time_ns": [0, S], "price": [10.0, 12.0], "shares": [100, 300],
                           "vwap": [10.0, 11.5]})
    fig = charts.trades_chart(trades, "AAPL")
    scatter, vwap = fig.data
    assert scatter.mode == "markers" and list(scatter.marker.size) == [100.0, 300.0]
    assert scatter.marker.sizemode == "area"
    assert vwap.name == "VWAP" and list(vwap.y) == [10.0, 11.5]
    assert fig.layout.yaxis.title.text == "AAPL price"
    assert fig.layout.yaxis.tickformat == ",.4f"


def test_adds_by_side_chart() -> None:
    adds = pd.DataFrame({"bucket_ns": [0, 0, 60 * S], "side": ["B", "S", "B"],
                         "adds": [3, 1, 2], "shares": [300, 100, 200]})
    fig = charts.adds_by_side_chart(adds, "1 min")
    buy, sell = fig.data
    assert (buy.name, list(buy.y), list(buy.customdata)) == ("Buy", [3, 2], [300, 200])
    assert (sell.name, list(sell.y)) == ("Sell", [1])
    assert times(buy) == ["00:00:00.000", "00:01:00.000"]
    assert fig.layout.barmode == "group"
    assert fig.layout.yaxis.title.text == "Orders added per 1 min"


def test_top_symbols_bar() -> None:
    top = pd.DataFrame({"symbol": ["SPY", "QQQ"], "executed_shares": [5000, 1234]})
    fig = charts.top_symbols_bar(top)
    (bar,) = fig.data
    assert list(bar.y) == ["SPY", "QQQ"] and list(bar.x) == [5000, 1234]
    assert list(bar.customdata) == ["SPY", "QQQ"] and list(bar.text) == ["5,000", "1,234"]
    assert fig.layout.xaxis.title.text == "Executed shares"


def test_empty_frames_still_make_figures() -> None:
    empty_rate = pd.DataFrame({"bucket_ns": [], "code": [], "count": []})
    assert len(charts.rate_chart(empty_rate, "1 s").data) == 0
    empty_trades = pd.DataFrame({"time_ns": [], "price": [], "shares": [], "vwap": []})
    assert len(charts.trades_chart(empty_trades, "X").data) == 2
