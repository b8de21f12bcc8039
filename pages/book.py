"""Book: one symbol's depth at an instant, and its best bid and offer over the session."""

from __future__ import annotations

import streamlit as st

from pitch import bbo_fast, book, book_charts, book_fast, fmt, links, queries, runtime, ui
from pitch.errors import PitchError

BBO_POINTS = 20_000  # the chart's cap; the table's CSV has every row
TRADE_POINTS = 5_000
TABLE_ROWS = 1_000

ui.data_page("Book")


@st.cache_data(max_entries=64, show_spinner="Reading the orders live at that instant…")
def depth(version: tuple, symbol: str, file_id: int | None, at_ns: int | None,
          levels: int) -> tuple:
    """(the file read, the depth at ``at_ns``) from the orders live then (pitch.book_fast)."""
    cur = runtime.cursor()
    try:
        return book_fast.depth_at(cur, symbol, at_ns, levels, file_id)
    finally:
        cur.close()


@st.cache_data(max_entries=16, show_spinner="Rebuilding the best bid and offer…")
def best(version: tuple, symbol: str, file_id: int) -> tuple:
    """(the file read, the best bid and offer over it) from ``orders`` and the active
    orders' messages (pitch.bbo_fast): under a second for the busiest symbol of 10M."""
    cur = runtime.cursor()
    try:
        return bbo_fast.series(cur, symbol, file_id)
    finally:
        cur.close()


@st.cache_data(max_entries=64, show_spinner=False)
def trades(version: tuple, symbol: str, file_id: int) -> tuple:
    cur = runtime.cursor()
    try:
        return book.trades(cur, symbol, file_id, TRADE_POINTS)
    finally:
        cur.close()


files = ui.q(queries.files)
names = dict(zip(files["file_id"].astype(int), files["name"]))
with st.container(border=True):
    a, b, c, d = st.columns([2, 2, 1, 3])
    # The URL decides every widget on every run (pitch.links.widget): a key such as
    # ``symbol`` is on other pages too, and a page switch must not carry theirs here.
    symbols = ui.q(queries.symbols)
    symbol = links.widget(a.selectbox, "symbol", links.one_of(symbols), "Symbol", symbols,
                          index=None, placeholder="Pick a symbol")
    at_text = links.widget(b.text_input, "at", links.TEXT, "At", placeholder="end of session",
                           help="HH:MM:SS[.fraction]: the book after the symbol's messages "
                                "up to this time (empty: after all of them)")
    levels = links.widget(c.number_input, "levels", links.one_of(range(1, 501), 10),
                          "Levels a side", 1, 500)
    labels = {i: links.file_label(i, n) for i, n in names.items()}
    file_id = links.widget(d.selectbox, "file", links.Param(
        lambda v: next((i for i in map(links.file_id_in, v[-1:]) if i in labels), None),
        lambda i: [] if i is None else [str(i)]), "File", list(labels), index=None,
        placeholder="the newest that holds the symbol", format_func=labels.get)
if symbol is None:
    st.info("Pick a symbol to rebuild its order book.", icon=":material/stacked_bar_chart:")
    st.stop()
try:
    at_ns = book.parse_time(at_text) if at_text else None
    read, ladder = depth(runtime.data_version(), symbol, file_id, at_ns, int(levels))
except (ValueError, PitchError) as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()

when = "the end of the session" if at_ns is None else fmt.hms(at_ns)
st.subheader(f"{symbol}: depth at {when}")
st.caption(f"File {links.file_label(read, names.get(read, ''))}: the book after every message "
           f"of {symbol} before its first one later than {when}.")
if ladder.empty:
    st.info(f"{symbol} has no displayed order on the book at {when}.", icon=":material/info:")
else:
    left, right = st.columns([3, 2])
    left.plotly_chart(book_charts.depth_chart(ladder, symbol), key="depth_chart")
    with right:
        ui.table(ladder, key="depth_table", height="rows")
        st.download_button(f"CSV of these {len(ladder)} levels", book.to_csv(ladder),
                           f"book-{symbol}.csv", "text/csv", key="csv_depth",
                           icon=":material/download:", on_click="ignore")

_, bbo = best(runtime.data_version(), symbol, read)
st.subheader(f"{symbol}: best bid and offer")
if bbo.empty:
    st.info(f"{symbol} never had a displayed order on the book.", icon=":material/info:")
    st.stop()
top = book_charts.top_of_book(bbo)
shown, step = book_charts.thin(top, BBO_POINTS)
prints, cut = trades(runtime.data_version(), symbol, read)
states = top["state"].value_counts()
notes = [f"{fmt.count(len(bbo))} changes of the best bid or offer",
         f"{fmt.count(states.get('crossed', 0))} crossed and "
         f"{fmt.count(states.get('locked', 0))} locked moments (marked on the spread)"]
if step > 1:
    notes.append(f"the chart shows every {step}th change (the CSV has them all)")
if cut:
    notes.append(f"the first {TRADE_POINTS:,} trades are drawn")
if top["time_ns"].isna().any():
    notes.append(f"{fmt.count(int(top['time_ns'].isna().sum()))} changes of unknown time "
                 "are in the table only")
st.caption("; ".join(notes) + ". Drag the range under the chart to zoom.")
st.plotly_chart(book_charts.bbo_chart(shown, prints, symbol, at_ns), key="bbo_chart")
st.caption(f"The first {min(len(bbo), TABLE_ROWS):,} of {fmt.count(len(bbo))} changes.")
ui.table(book_charts.readable(bbo.head(TABLE_ROWS)), key="bbo_table")
st.download_button(f"CSV of all {fmt.count(len(bbo))} changes", lambda: book.to_csv(bbo),
                   f"bbo-{symbol}.csv", "text/csv", key="csv_bbo", icon=":material/download:",
                   on_click="ignore")
