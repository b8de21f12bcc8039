"""Messages: filter, page, sort, drill into one message, export every match."""

from __future__ import annotations

import streamlit as st

from pitch import fmt, ids, links, queries, ui
from pitch.filters import SIDE_CHOICES, MessageFilter
from pitch.runtime import q

ui.data_page("Messages")

files = q(queries.files)
file_names = dict(zip(files["file_id"].astype(int), files["name"]))
feeds = q(queries.file_feeds)  # which files are binary: how their ids are written and read
first, last = q(queries.time_bounds)
all_symbols = q(queries.symbols)

# Every filter lives in the URL (pitch.links): type=A&type=E, symbols, side, from, to,
# order, file; a change starts again at page 1.
with st.container(border=True):
    a, b, c = st.columns([3, 3, 1])
    types = links.type_picker(a, ui.first_page)
    symbols = links.widget(b.multiselect, "symbols", links.some_of(all_symbols), "Symbols",
                           all_symbols, on_change=ui.first_page, placeholder="All symbols")
    side = links.widget(c.segmented_control, "side", links.one_of(SIDE_CHOICES), "Side",
                        list(SIDE_CHOICES), on_change=ui.first_page)
    d, e, f, g = st.columns([2, 2, 2, 3])
    start = links.widget(d.text_input, "from", links.TEXT, "From", on_change=ui.first_page,
                         placeholder=fmt.hms(first), help="HH:MM:SS.mmm, inclusive")
    end = links.widget(e.text_input, "to", links.TEXT, "To", on_change=ui.first_page,
                       placeholder=fmt.hms(last), help="HH:MM:SS.mmm, inclusive")
    file_id = links.file_picker(g, files, ui.first_page)
    scope = feeds.scope(file_id)  # the feeds in view: the file's, or every one loaded
    order_text = links.order_box(f, ui.first_page, scope)

errors = []
try:
    start_ns = fmt.parse_hms(start) if start else None
    end_ns = fmt.parse_hms(end) if end else None
except ValueError as exc:
    errors.append(str(exc))
try:
    order_id = ids.read_id(order_text, scope) if order_text else None
except ValueError as exc:
    errors.append(str(exc))
if errors:
    for message in errors:
        st.error(message, icon=":material/error:")
    st.stop()

flt = MessageFilter(
    types=types, symbols=tuple(symbols),
    start_ns=start_ns, end_ns=end_ns, order_id=order_id,
    side=SIDE_CHOICES.get(side or ""), file_id=file_id,
    file_name=file_names.get(file_id, "") if file_id is not None else "",
)
total = q(queries.message_count, flt)
st.markdown(f"{flt.sentence()}: **{fmt.count(total)}**")
unknown = q(queries.unknown_times)
if (start_ns is not None or end_ns is not None) and unknown:
    st.caption(f"{fmt.count(unknown)} {fmt.plural(unknown, 'message')} of binary files have "
               "an unknown time (before their unit's first Time message): they are outside "
               "any time window.")
if symbols and not types:
    st.caption("Executions and cancels (E, X; in binary PITCH also reduces, modifies and "
               "deletes) carry no symbol, so a symbol filter leaves them out: filter by order "
               "id, or see the order on the Orders page.")
if total == 0:
    st.info("No message matches these filters. Widen the time window or remove a filter.",
            icon=":material/filter_alt_off:")
    st.stop()

sort, desc, page, pages = ui.paging_bar(
    total, queries.MESSAGE_SORTS, "row",
    lambda cur, sort, desc: queries.messages_csv(cur, flt, sort=sort, desc=desc), "messages.csv",
    csv_help="Every matching message, every column")

# Binary messages show where they were on the wire (frame, unit, sequence), for Wireshark.
frame = q(queries.messages_page, flt, sort=sort, desc=desc, page=page, total=total,
          sequencing=ids.BINARY in scope)
st.caption(f"Page {page:,} of {pages:,} · rows {(page - 1) * queries.PAGE_SIZE + 1:,}–"
           f"{(page - 1) * queries.PAGE_SIZE + len(frame):,}. Select a row for its details.")
detail_slot = st.container()  # above the 50 rows, so a selection shows where one looks
event = ui.table(frame, key="message_rows", select=True, height="rows", feeds=feeds)

row = ui.selected_row(event)
if row is None or row >= len(frame):
    st.stop()
picked = frame.iloc[row]
fid, line = int(picked["file_id"]), int(picked["line_no"])
detail = q(queries.message_detail, fid, line)
binary = feeds.is_binary(fid)
where = (f"packet {detail.get('packet', 0):,} (unit {detail.get('unit')}, sequence "
         f"{detail.get('sequence'):,})" if binary else f"line {line:,}")
with detail_slot.container(border=True):
    st.subheader(f"{detail.get('message_type', '')}, {where} of {detail.get('file', '')}")
    left, right = st.columns([2, 1])
    left.dataframe(fmt.describe(detail, binary), hide_index=True, width="stretch")
    with right:  # links, not buttons: each is the URL of its view, to open or share
        if "order_id" in detail:
            oid = int(detail["order_id"])
            shown = ids.format_id(oid, binary)
            ui.link("orders", links.of_order(oid, fid, binary), f"Order {shown} lifecycle",
                    ":material/receipt_long:")
            ui.link("messages", links.of_order(oid, fid, binary),
                    f"Every message of order {shown}", ":material/filter_alt:")
        if detail.get("symbol"):
            ui.link("symbols", links.symbol(detail["symbol"]), f"Symbol {detail['symbol']}",
                    ":material/finance:")
