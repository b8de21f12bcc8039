"""Book: one symbol's depth at an instant, and its best bid and offer over the session."""

from __future__ import annotations

import streamlit as st

from pitch import book, book_charts, fmt, links, queries, runtime, ui
from pitch.errors import PitchError

BBO_POINTS = 20_000  # the chart's cap; the table's CSV has every row
TRADE_POINTS = 5_000
TABLE_ROWS = 1_000

ui.data_page("Book")


@st.cache_resource(max_entries=4, show_spinner="Rebuilding the book from its messages…")
def symbol_book(version: tuple, symbol: str, file_id: int | None) -> book.SymbolBook:
    """One symbol's book, kept for the process: it never changes, sessions share it."""
    cur = runtime.cursor()
    try:
        return book.load(cur, symbol, file_id)
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
    sb = symbol_book(runtime.data_version(), symbol, file_id)
except (ValueError, PitchError) as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()

depth = sb.levels_at(at_ns, int(levels))
when = "the end of the session" if at_ns is None else fmt.hms(at_ns)
st.subheader(f"{symbol}: depth at {when}")
st.caption(f"File {links.file_label(sb.file_id, names.get(sb.file_id, ''))}: the book after "
           f"every message of {symbol} before its first one later than {when} "
           f"({fmt.count(len(sb.stream_line))} messages in all).")
if depth.empty:
    st.info(f"{symbol} has no displayed order on the book at {when}.", icon=":material/info:")
else:
    left, right = st.columns([3, 2])
    left.plotly_chart(book_charts.depth_chart(depth, symbol), key="depth_chart")
    with right:
        ui.table(depth, key="depth_table", height="rows")
        st.download_button(f"CSV of these {len(depth)} levels", book.to_csv(depth),
                           f"book-{symbol}.csv", "text/csv", key="csv_depth",
                           icon=":material/download:", on_click="ignore")

bbo = sb.bbo()
st.subheader(f"{symbol}: best bid and offer")
if bbo.empty:
    st.info(f"{symbol} never had a displayed order on the book.", icon=":material/info:")
    st.stop()
top = book_charts.top_of_book(bbo)
shown, step = book_charts.thin(top, BBO_POINTS)
prints, cut = trades(runtime.data_version(), symbol, sb.file_id)
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
st.download_button(f"CSV of all {fmt.count(len(bbo))} changes", lambda: book.to_csv(sb.bbo()),
                   f"bbo-{symbol}.csv", "text/csv", key="csv_bbo", icon=":material/download:",
                   on_click="ignore")
