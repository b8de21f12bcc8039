"""Plotly figures for the pages, built from query frames (no I/O, no Streamlit).

Times arrive as nanoseconds since midnight; plotly gets them as datetimes on
1970-01-01 so its axis can show ``HH:MM:SS`` and hovers ``HH:MM:SS.mmm``. A
row whose time is unknown (a binary message before its unit's first Time
message) has no place on a time axis: the charts leave it out, and
:func:`unknown_times` says how many were left out so the page can say so.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from .filters import TYPE_NAMES, type_label

TIME_TICKS = "%H:%M:%S"
TIME_HOVER = "%H:%M:%S.%L"
SIDE_COLORS = {"B": "#2e9d5b", "S": "#d64545"}
SIDE_NAMES = {"B": "Buy", "S": "Sell"}
EVENT_SYMBOLS = {"add": "circle", "executed": "diamond", "cancelled": "x"}
EVENT_COLORS = {"add": "#1f77b4", "executed": "#2e9d5b", "cancelled": "#d64545"}
# One stable colour per message type, so a type looks the same on every chart.
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39",
            "#7b4173", "#3182bd")
TYPE_COLORS = {code: _PALETTE[i % len(_PALETTE)] for i, code in enumerate(TYPE_NAMES)}


def clock(ns: pd.Series) -> pd.Series:
    """Nanoseconds since midnight as datetimes on 1970-01-01 (for plotly's time axis)."""
    return pd.to_datetime(pd.Series(ns, dtype="Int64"), unit="ns")


def unknown_times(frame: pd.DataFrame, column: str, weight: str | None = None) -> int:
    """How many rows (or, with ``weight``, how much of that column) have no time."""
    unknown = frame[column].isna()
    return int(frame.loc[unknown, weight].sum()) if weight else int(unknown.sum())


def _known(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The rows that have a time: the ones a time axis can place."""
    return frame[frame[column].notna()]


def _layout(fig: go.Figure, x: str, y: str, title: str | None = None) -> go.Figure:
    fig.update_layout(title=title, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
                      xaxis_title=x, yaxis_title=y, hovermode="closest")
    return fig


def _time_axis(fig: go.Figure, ns: pd.Series | None = None) -> None:
    # Over a few seconds, whole-second ticks repeat: show milliseconds then.
    short = ns is not None and len(ns) > 0 and int(ns.max()) - int(ns.min()) < 10 * 10**9
    fig.update_xaxes(type="date", tickformat=TIME_HOVER if short else TIME_TICKS,
                     hoverformat=TIME_HOVER)


def type_counts_bar(counts: pd.DataFrame) -> go.Figure:
    """Messages per type as horizontal bars, largest on top; customdata is the type code."""
    fig = go.Figure(go.Bar(
        x=counts["count"], y=[type_label(c) for c in counts["code"]], orientation="h",
        customdata=counts["code"],
        marker_color=[TYPE_COLORS.get(c, "#888") for c in counts["code"]],
        text=[f"{n:,}" for n in counts["count"]], textposition="auto",
        hovertemplate="%{y} (%{customdata}): %{x:,} messages<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(tickformat=",")
    fig.update_layout(height=max(300, 28 * len(counts) + 80))
    return _layout(fig, "Messages", "Message type")


def rate_chart(rate: pd.DataFrame, bucket_label: str) -> go.Figure:
    """Messages per time bucket, stacked by type (frame of :func:`queries.message_rate`)."""
    rate = _known(rate, "bucket_ns")
    fig = go.Figure()
    # Most frequent type first: at the bottom of each stack and first in the legend.
    order = rate.groupby("code")["count"].sum().sort_values(ascending=False).index
    for code in order:
        part = rate[rate["code"] == code]
        name = type_label(code)
        fig.add_trace(go.Bar(
            x=clock(part["bucket_ns"]), y=part["count"], name=name,
            marker_color=TYPE_COLORS.get(code, "#888"),
            hovertemplate=f"{name}<br>%{{x}}: %{{y:,}}<extra></extra>",
        ))
    fig.update_layout(barmode="stack", bargap=0.05)
    fig.update_yaxes(tickformat=",")
    _time_axis(fig)
    return _layout(fig, "Time", f"Messages per {bucket_label}")


def lifecycle_chart(events: pd.DataFrame) -> go.Figure:
    """Remaining shares of one order as a step line, one marker per event."""
    events = _known(events, "time_ns")
    x = clock(events["time_ns"])
    fig = go.Figure(go.Scatter(
        x=x, y=events["remaining_shares"], mode="lines", line_shape="hv",
        line=dict(color="#999", width=2), name="Remaining shares", hoverinfo="skip",
    ))
    for event, part in events.groupby("event", sort=False):
        fig.add_trace(go.Scatter(
            x=clock(part["time_ns"]), y=part["remaining_shares"], mode="markers+text",
            name=str(event).capitalize(), text=[f"{event} {s:,}" for s in part["shares"]],
            textposition="top center",
            marker=dict(size=12, symbol=EVENT_SYMBOLS.get(event, "circle"),
                        color=EVENT_COLORS.get(event, "#888")),
            customdata=part["line_no"],
            hovertemplate="%{text}<br>%{x}<br>remaining %{y:,}<br>line %{customdata}"
                          "<extra></extra>",
        ))
    fig.update_yaxes(tickformat=",", rangemode="tozero")
    _time_axis(fig, events["time_ns"])
    return _layout(fig, "Time", "Remaining shares")


def trades_chart(trades: pd.DataFrame, symbol: str) -> go.Figure:
    """A symbol's trades (marker area by shares) and its running VWAP."""
    trades = _known(trades, "time_ns")
    x = clock(trades["time_ns"])
    shares = trades["shares"].astype(float)
    biggest = float(shares.max()) if len(shares) else 1.0
    sizeref = 2.0 * max(biggest, 1.0) / 30 ** 2  # the largest trade gets a 30 px marker
    fig = go.Figure([
        go.Scatter(x=x, y=trades["price"].astype(float), mode="markers", name="Trades",
                   marker=dict(size=shares, sizemode="area", sizeref=sizeref, sizemin=4,
                               color="#1f77b4", opacity=0.6, line=dict(width=0)),
                   customdata=trades["shares"],
                   hovertemplate="%{x}<br>%{customdata:,} @ %{y:.4f}<extra></extra>"),
        go.Scatter(x=x, y=trades["vwap"].astype(float), mode="lines", name="VWAP",
                   line=dict(color="#ff7f0e", width=2, shape="hv"),
                   hovertemplate="VWAP %{y:.4f}<extra></extra>"),
    ])
    fig.update_yaxes(tickformat=",.4f")
    _time_axis(fig, trades["time_ns"])
    return _layout(fig, "Time", f"{symbol} price")


def adds_by_side_chart(adds: pd.DataFrame, bucket_label: str) -> go.Figure:
    """Orders added per time bucket, buy and sell side by side."""
    adds = _known(adds, "bucket_ns")
    fig = go.Figure()
    for side in ("B", "S"):
        part = adds[adds["side"] == side]
        fig.add_trace(go.Bar(
            x=clock(part["bucket_ns"]), y=part["adds"], name=SIDE_NAMES[side],
            marker_color=SIDE_COLORS[side], customdata=part["shares"],
            hovertemplate=f"{SIDE_NAMES[side]}<br>%{{x}}: %{{y:,}} adds, "
                          "%{customdata:,} shares<extra></extra>",
        ))
    fig.update_layout(barmode="group")
    fig.update_yaxes(tickformat=",")
    _time_axis(fig)
    return _layout(fig, "Time", f"Orders added per {bucket_label}")


def top_symbols_bar(top: pd.DataFrame) -> go.Figure:
    """Symbols by executed volume, the largest on top; a bar's customdata is its symbol."""
    fig = go.Figure(go.Bar(
        x=top["executed_shares"], y=top["symbol"], orientation="h", customdata=top["symbol"],
        text=[f"{n:,}" for n in top["executed_shares"]], textposition="auto",
        marker_color="#1f77b4", hovertemplate="%{y}: %{x:,} shares<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(tickformat=",")
    return _layout(fig, "Executed shares", "Symbol")
