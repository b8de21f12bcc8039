"""Symbols: the most traded, and one symbol's trades, VWAP, adds and orders."""

from __future__ import annotations

import streamlit as st

from pitch import charts, fmt, links, queries, ui
from pitch.filters import OrderFilter
from pitch.runtime import q

TRADE_POINTS = 5000  # the scatter's cap; the CSV has every trade

ui.data_page("Symbols")

all_symbols = q(queries.symbols)


def pick_from_chart() -> None:
    points = st.session_state["top_chart"].selection.points
    if points:
        links.set_param("symbol", [str(points[0]["customdata"])])


left, right = st.columns([2, 3])
with left:
    n = st.slider("Top symbols by executed volume", 5, 50, 10, key="top", bind="query-params")
    top = q(queries.top_symbols, n)
    if top.empty:
        st.info("No executions yet, so no volume ranking. Pick any symbol on the right.",
                icon=":material/info:")
    else:
        st.plotly_chart(charts.top_symbols_bar(top), key="top_chart", on_select=pick_from_chart,
                        selection_mode="points")
        st.caption("Click a bar to open that symbol.")
with right:
    default = (top["symbol"].iloc[0] if not top.empty
               else all_symbols[0] if all_symbols else None)
    # The URL decides (pitch.links.widget), as on Messages and Orders: a key bound
    # with bind="query-params" is dropped from the URL of a link to another page
    # that uses the same key (the Book page's ``symbol``).
    symbol = links.widget(st.selectbox, "symbol", links.one_of(all_symbols, default), "Symbol",
                          all_symbols)
    if symbol is None:
        st.stop()
    s = q(queries.symbol_summary, symbol)
    m = st.columns(3)
    m[0].metric("Trades", fmt.count(s["trades"]), border=True)
    m[1].metric("Executed shares", fmt.count(s["volume"]), border=True)
    m[2].metric("VWAP", fmt.price(s["vwap"]) or "–", border=True)
    m = st.columns(3)
    m[0].metric("Low", fmt.price(s["low"]) or "–", border=True)
    m[1].metric("High", fmt.price(s["high"]) or "–", border=True)
    m[2].metric("Orders", fmt.count(s["orders"]), border=True,
                help=f"{s['buy_orders']:,} buy, {s['sell_orders']:,} sell")
    st.caption(f"{s['buy_orders']:,} buy and {s['sell_orders']:,} sell orders; VWAP over "
               "unbroken executions and trades.")
    st.page_link(ui.PAGES["book"], label=f"Order book of {symbol}",
                 icon=":material/stacked_bar_chart:", query_params={"symbol": symbol})

st.subheader(f"{symbol}: trades over time")
trades, cut = q(queries.symbol_trades, symbol, TRADE_POINTS)
if trades.empty:
    st.info(f"{symbol} has no executions or trades. Its orders are below.",
            icon=":material/info:")
else:
    if cut:
        st.warning(f"Showing the first {TRADE_POINTS:,} trades of {fmt.count(s['trades'])}; "
                   "the CSV has them all.", icon=":material/content_cut:")
    st.plotly_chart(charts.trades_chart(trades, symbol), key="trades_chart")
    unknown = charts.unknown_times(trades, "time_ns")
    if unknown:
        st.caption(f"{unknown:,} {fmt.plural(unknown, 'trade')} with an unknown time (before "
                   "the unit's first Time message) not drawn; the CSV has them.")
    ui.csv_button(f"CSV of all {fmt.count(s['trades'])} trades",
                  lambda cur: queries.symbol_trades_csv(cur, symbol),
                  f"trades-{symbol}.csv", key="csv_trades")

first, last = q(queries.time_bounds)
bucket = queries.pick_bucket((last or 0) - (first or 0), max_buckets=120)
st.subheader(f"{symbol}: orders added per {bucket}, by side")
adds = q(queries.symbol_adds, symbol, queries.BUCKETS[bucket])
if adds.empty:
    st.info(f"No orders were added for {symbol}.", icon=":material/info:")
else:
    st.plotly_chart(charts.adds_by_side_chart(adds, bucket), key="adds_chart")
    unknown = charts.unknown_times(adds, "bucket_ns", "adds")
    if unknown:
        st.caption(f"{unknown:,} {fmt.plural(unknown, 'order')} added at an unknown time (before "
                   "the unit's first Time message) not drawn.")

st.subheader(f"{symbol}: orders")
flt = OrderFilter(symbols=(symbol,))
orders = q(queries.orders_page, flt, sort="time", page=1)
st.caption(f"The first {len(orders):,} of {fmt.count(s['orders'])} orders in time order.")
ui.table(orders, key="symbol_orders")
c1, c2, _ = st.columns([1, 1, 2])
with c1:
    ui.csv_button(f"CSV of all {fmt.count(s['orders'])} orders",
                  lambda cur: queries.orders_csv(cur, flt), f"orders-{symbol}.csv",
                  key="csv_orders")
with c2:
    ui.link("orders", links.orders_of_symbol(symbol), "Open in Orders", ":material/receipt_long:")
