"""Orders: filter the orders, open one and follow its lifecycle."""

from __future__ import annotations

import streamlit as st

from pitch import charts, export, fmt, ids, links, queries, ui
from pitch.filters import ORDER_STATUSES, SIDE_CHOICES, OrderFilter
from pitch.runtime import q

ui.data_page("Orders")

files = q(queries.files)
file_names = dict(zip(files["file_id"].astype(int), files["name"]))
feeds = q(queries.file_feeds)  # which files are binary: how their ids are written and read
all_symbols = q(queries.symbols)

# Every filter lives in the URL (pitch.links): symbols, side, status, order, file.
with st.container(border=True):
    a, b, c = st.columns([3, 1, 2])
    symbols = links.widget(a.multiselect, "symbols", links.some_of(all_symbols), "Symbols",
                           all_symbols, on_change=ui.first_page, placeholder="All symbols")
    side = links.widget(b.segmented_control, "side", links.one_of(SIDE_CHOICES), "Side",
                        list(SIDE_CHOICES), on_change=ui.first_page)
    statuses = links.widget(c.pills, "status", links.some_of(ORDER_STATUSES), "Status",
                            list(ORDER_STATUSES), selection_mode="multi", on_change=ui.first_page)
    d, e = st.columns([1, 2])
    file_id = links.file_picker(e, files, ui.first_page)
    scope = feeds.scope(file_id)  # the feeds in view: the file's, or every one loaded
    order_text = links.order_box(d, ui.first_page, scope)

try:
    order_id = ids.read_id(order_text, scope) if order_text else None
except ValueError as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()

flt = OrderFilter(symbols=tuple(symbols), side=SIDE_CHOICES.get(side or ""),
                  statuses=tuple(statuses or ()), order_id=order_id, file_id=file_id,
                  file_name=file_names.get(file_id, "") if file_id is not None else "")
total = q(queries.order_count, flt)
st.markdown(f"{flt.sentence()}: **{fmt.count(total)}**")
if total == 0:
    st.info("No order matches these filters. Check the order id (as in the file: base 36 for "
            "text files, decimal for binary ones) or remove a filter.",
            icon=":material/filter_alt_off:")
    st.stop()

sort, desc, page, pages = ui.paging_bar(
    total, queries.ORDER_SORTS, "order",
    lambda cur, sort, desc: queries.orders_csv(cur, flt, sort=sort, desc=desc), "orders.csv")

frame = q(queries.orders_page, flt, sort=sort, desc=desc, page=page, total=total)
st.caption(f"Page {page:,} of {pages:,}. Select an order to follow its lifecycle.")
lifecycle_slot = st.container()  # above the table, so a selection shows where one looks
event = ui.table(frame, key="order_rows", select=True, height="rows", feeds=feeds)

row = ui.selected_row(event)
if row is None and total == 1:
    row = 0  # a search that finds one order opens it
if row is None or row >= len(frame):
    st.stop()

order = frame.iloc[row]
fid, line = int(order["file_id"]), int(order["line_no"])
picked_id = int(order["order_id"])
binary = feeds.is_binary(fid)
oid = ids.format_id(picked_id, binary)
events = q(queries.order_lifecycle, fid, line)
with lifecycle_slot.container(border=True):
    st.subheader(f"Order {oid}: {'buy' if order['side'] == 'B' else 'sell'} "
                 f"{fmt.count(order['shares'])} {order['symbol']} @ {fmt.price(order['price'])}")
    m = st.columns(5)
    m[0].metric("Status", str(order["status"]))
    m[1].metric("Executed", fmt.count(order["executed_shares"]))
    m[2].metric("Cancelled", fmt.count(order["cancelled_shares"]))
    m[3].metric("Remaining", fmt.count(order["remaining_shares"]))
    # The add opens the order; its events are what happened after (as in the table).
    m[4].metric("Events", fmt.count(order["events"]))
    where = f"message {line:,}" if binary else f"line {line:,}"
    st.caption(f"Added {fmt.at_time(order['first_time_ns'])} on {where} of "
               f"{file_names.get(fid, fid)}; last event {fmt.at_time(order['last_time_ns'])}.")
    ui.table(events, key="lifecycle", feeds=feeds, hidden=("type",))
    st.plotly_chart(charts.lifecycle_chart(events), key="lifecycle_chart")
    unknown = charts.unknown_times(events, "time_ns")
    if unknown:
        has, is_ = ("has", "is") if unknown == 1 else ("have", "are")
        st.caption(f"{unknown} of its messages {has} an unknown time (before the unit's first "
                   f"Time message) and {is_} not on the chart.")
    b1, b2, b3, _ = st.columns([1, 1, 1, 2])
    with b1:
        ui.csv_button("CSV of this lifecycle", lambda cur: export.to_csv(events),
                      f"order-{oid}.csv", key="csv_lifecycle")
    with b2:
        ui.link("messages", links.of_order(picked_id, fid, binary), "Its messages",
                ":material/list:")
    if order["symbol"]:
        with b3:
            ui.link("symbols", links.symbol(order["symbol"]), f"Symbol {order['symbol']}",
                    ":material/finance:")
        st.page_link(ui.PAGES["book"], label=f"Order book of {order['symbol']}",
                     icon=":material/stacked_bar_chart:",
                     query_params={"symbol": order["symbol"]})
