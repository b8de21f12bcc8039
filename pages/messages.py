"""Messages: filter, page, sort, drill into one message, export every match."""

from __future__ import annotations

import streamlit as st

from pitch import fmt, queries, ui
from pitch.filters import TYPE_CODES, TYPE_NAMES, MessageFilter

ui.data_page("messages", "Messages")


files = ui.q(queries.files)
file_names = dict(zip(files["file_id"].astype(int), files["name"]))
first, last = ui.q(queries.time_bounds)

with st.container(border=True):
    a, b, c = st.columns([3, 3, 1])
    type_names = a.multiselect("Message types", list(TYPE_NAMES.values()), key="types",
                               bind="query-params", on_change=ui.first_page,
                               placeholder="All types")
    symbols = b.multiselect("Symbols", ui.q(queries.symbols), key="symbols",
                            bind="query-params", on_change=ui.first_page, placeholder="All symbols")
    side = c.segmented_control("Side", ["Buy", "Sell"], key="side", bind="query-params",
                               on_change=ui.first_page)
    d, e, f, g = st.columns([2, 2, 2, 3])
    start = d.text_input("From", key="from", bind="query-params", on_change=ui.first_page,
                         placeholder=fmt.hms(first), help="HH:MM:SS.mmm, inclusive")
    end = e.text_input("To", key="to", bind="query-params", on_change=ui.first_page,
                       placeholder=fmt.hms(last), help="HH:MM:SS.mmm, inclusive")
    order_text = f.text_input("Order id", key="order", bind="query-params", on_change=ui.first_page,
                              placeholder="e.g. 1K27GA00000X", help="Base 36, as in the file")
    file_id = ui.file_picker(g, files, ui.first_page)

errors = []
try:
    start_ns = fmt.parse_hms(start) if start else None
    end_ns = fmt.parse_hms(end) if end else None
except ValueError as exc:
    errors.append(str(exc))
try:
    order_id = fmt.parse_id(order_text) if order_text else None
except ValueError as exc:
    errors.append(str(exc))
if errors:
    for message in errors:
        st.error(message, icon=":material/error:")
    st.stop()

flt = MessageFilter(
    types=tuple(TYPE_CODES[n] for n in type_names), symbols=tuple(symbols),
    start_ns=start_ns, end_ns=end_ns, order_id=order_id,
    side={"Buy": "B", "Sell": "S"}.get(side or ""), file_id=file_id,
    file_name=file_names.get(file_id, "") if file_id is not None else "",
)
total = ui.q(queries.message_count, flt)
st.markdown(f"{flt.sentence()}: **{fmt.count(total)}**")
if symbols and not type_names:
    st.caption("Executions (E) and cancels (X) carry no symbol in PITCH, so a symbol filter "
               "leaves them out: filter by order id, or see the order on the Orders page.")
if total == 0:
    st.info("No message matches these filters. Widen the time window or remove a filter.",
            icon=":material/filter_alt_off:")
    st.stop()

sort, desc, page, pages = ui.paging_bar(
    total, queries.MESSAGE_SORTS, "row",
    lambda cur, sort, desc: queries.messages_csv(cur, flt, sort=sort, desc=desc), "messages.csv",
    csv_help="Every matching message, every column")

frame = ui.q(queries.messages_page, flt, sort=sort, desc=desc, page=page, total=total)
st.caption(f"Page {page:,} of {pages:,} · rows {(page - 1) * queries.PAGE_SIZE + 1:,}–"
           f"{(page - 1) * queries.PAGE_SIZE + len(frame):,}. Select a row for its details.")
detail_slot = st.container()  # above the 50 rows, so a selection shows where one looks
event = ui.table(frame, key="message_rows", select=True, height="rows")

row = ui.selected_row(event)
if row is None or row >= len(frame):
    st.stop()
picked = frame.iloc[row]
fid, line = int(picked["file_id"]), int(picked["line_no"])
detail = ui.q(queries.message_detail, fid, line)
with detail_slot.container(border=True):
    st.subheader(f"{detail.get('message_type', '')}, line {line:,} of {detail.get('file', '')}")
    left, right = st.columns([2, 1])
    left.dataframe(fmt.describe(detail), hide_index=True, width="stretch")
    with right:
        if "order_id" in detail:
            oid = fmt.format_id(detail["order_id"])
            if st.button(f"Order {oid} lifecycle", icon=":material/receipt_long:"):
                ui.go("orders", order=oid, file=fid)
            if st.button(f"Every message of order {oid}", icon=":material/filter_alt:"):
                ui.go("messages", order=oid, file=fid, types=[], symbols=[], side=None,
                      **{"from": "", "to": ""})
        if detail.get("symbol"):
            if st.button(f"Symbol {detail['symbol']}", icon=":material/finance:"):
                ui.go("symbols", symbol=detail["symbol"])
