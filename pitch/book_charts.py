"""Plotly figures of the Book page, from :mod:`pitch.book` frames (no I/O, no Streamlit).

Times arrive as nanoseconds since midnight and are drawn with
:func:`pitch.charts.clock`, as on the other pages.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import fmt
from .charts import SIDE_COLORS, TIME_HOVER, TIME_TICKS, clock

STATE_COLORS = {"crossed": "#d62728", "locked": "#ff7f0e"}


def top_of_book(bbo: pd.DataFrame) -> pd.DataFrame:
    """The BBO rows with ``spread`` (ask - bid), top-of-book ``imbalance``
    ((bid shares - ask shares) / both, from -1 all asks to +1 all bids) and ``state``
    (``crossed`` when the bid is above the ask, ``locked`` when equal, else empty)."""
    out = bbo.copy()
    bid, ask = bbo["bid_price"].astype(float), bbo["ask_price"].astype(float)
    bid_sh = bbo["bid_shares"].astype("Float64").to_numpy(float, na_value=np.nan)
    ask_sh = bbo["ask_shares"].astype("Float64").to_numpy(float, na_value=np.nan)
    out["spread"] = (ask - bid).round(4)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["imbalance"] = (bid_sh - ask_sh) / (bid_sh + ask_sh)
    out["state"] = np.select([out["spread"] < 0, out["spread"] == 0], ["crossed", "locked"], "")
    return out


def readable(bbo: pd.DataFrame) -> pd.DataFrame:
    """BBO rows for a table on screen: prices as text with 4 decimals (the app's
    tables only know the ``price`` column as a price)."""
    return bbo.assign(**{c: bbo[c].map(fmt.price) for c in ("bid_price", "ask_price")})


def thin(frame: pd.DataFrame, max_rows: int) -> tuple[pd.DataFrame, int]:
    """At most about ``max_rows`` rows, every k-th (k returned, 1 when nothing was left out)."""
    step = max(1, -(-len(frame) // max_rows))
    return (frame.iloc[::step] if step > 1 else frame), step


def depth_chart(levels: pd.DataFrame, symbol: str) -> go.Figure:
    """The depth ladder: one bar per price level, asks above bids, bids to the left;
    the label of each bar is its order count."""
    labels = [f"{p:,.4f}" for p in levels["price"]]
    order = [labels[i] for i in np.argsort(levels["price"].to_numpy(), kind="stable")]
    fig = go.Figure()
    for side, name, sign in (("S", "Asks", 1), ("B", "Bids", -1)):
        part = levels["side"] == side
        fig.add_trace(go.Bar(
            x=sign * levels.loc[part, "shares"], y=[l for l, p in zip(labels, part) if p],
            orientation="h", name=name, marker_color=SIDE_COLORS[side],
            customdata=np.stack([levels.loc[part, "shares"], levels.loc[part, "orders"]],
                                axis=-1) if part.any() else None,
            text=[f"{n:,}" for n in levels.loc[part, "orders"]], textposition="auto",
            hovertemplate=f"{name[:-1]} %{{y}}: %{{customdata[0]:,}} shares, "
                          "%{customdata[1]:,} orders<extra></extra>"))
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=order,
                     title=f"{symbol} price")
    fig.update_xaxes(title="Shares (bids left, asks right; labels: orders)", tickformat=",")
    fig.update_layout(barmode="relative", height=max(320, 26 * len(levels) + 120),
                      margin=dict(l=10, r=10, t=10, b=10), hovermode="closest",
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    return fig


def bbo_chart(top: pd.DataFrame, trades: pd.DataFrame, symbol: str, at_ns: int | None = None
              ) -> go.Figure:
    """Best bid and offer as step lines with trades on top; spread (crossed and locked
    moments marked) and top-of-book imbalance under it; a range slider to zoom; a dotted
    line at ``at_ns`` (the depth's instant).

    ``top`` is :func:`top_of_book` (rows of unknown time are left out); ``trades`` has
    time_ns, price, shares.
    """
    top = top[top["time_ns"].notna()]
    x = clock(top["time_ns"].astype("int64"))
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        row_heights=[0.6, 0.2, 0.2])
    for col, name, side in (("bid_price", "Best bid", "B"), ("ask_price", "Best ask", "S")):
        shares = top[col.replace("price", "shares")].astype("Float64").fillna(0)
        fig.add_trace(go.Scatter(
            x=x, y=top[col], mode="lines", line=dict(shape="hv", color=SIDE_COLORS[side]),
            name=name, customdata=shares,
            hovertemplate=f"{name} %{{y:.4f}} x %{{customdata:,}}<extra></extra>"), 1, 1)
    if len(trades):
        fig.add_trace(go.Scatter(
            x=clock(trades["time_ns"]), y=trades["price"].astype(float), mode="markers",
            name="Trades", marker=dict(color="#1f77b4", size=6, opacity=0.7),
            customdata=trades["shares"],
            hovertemplate="Trade %{customdata:,} @ %{y:.4f}<extra></extra>"), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=top["spread"], mode="lines", name="Spread",
                             line=dict(shape="hv", color="#7f7f7f"),
                             hovertemplate="Spread %{y:.4f}<extra></extra>"), 2, 1)
    for state, color in STATE_COLORS.items():
        hit = (top["state"] == state).to_numpy()
        if hit.any():
            fig.add_trace(go.Scatter(
                x=x[hit], y=top["spread"][hit], mode="markers", name=state.capitalize(),
                marker=dict(color=color, size=7, symbol="x"),
                hovertemplate=f"{state} %{{y:.4f}}<extra></extra>"), 2, 1)
    fig.add_trace(go.Scatter(x=x, y=top["imbalance"], mode="lines", name="Imbalance",
                             line=dict(shape="hv", color="#9467bd"),
                             hovertemplate="Imbalance %{y:.2f}<extra></extra>"), 3, 1)
    fig.update_yaxes(title_text=f"{symbol} price", tickformat=",.2f", row=1, col=1)
    fig.update_yaxes(title_text="Spread", tickformat=",.2f", row=2, col=1)
    fig.update_yaxes(title_text="Imbalance", range=[-1.05, 1.05], row=3, col=1)
    fig.update_xaxes(type="date", tickformat=TIME_TICKS, hoverformat=TIME_HOVER)
    fig.update_xaxes(rangeslider=dict(visible=True, thickness=0.06), row=3, col=1)
    if at_ns is not None:
        at = clock(pd.Series([at_ns]))[0]
        fig.add_shape(type="line", x0=at, x1=at, xref="x", yref="paper", y0=0, y1=1,
                      line=dict(color="#444", width=1, dash="dot"))
    fig.update_layout(height=720, margin=dict(l=10, r=10, t=10, b=10), hovermode="x unified",
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    return fig
