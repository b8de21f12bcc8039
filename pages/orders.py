"""Orders: filter the orders, open one and follow its lifecycle."""

from __future__ import annotations

import streamlit as st

from pitch import charts, fmt, queries, ui
from pitch.filters import ORDER_STATUSES, OrderFilter

ui.data_page("orders", "Orders")


files = ui.q(queries.files)
file_names = dict(zip(files["file_id"].astype(int), files["name"]))

with st.container(border=True):
    a, b, c = st.columns([3, 1, 2])
    symbols = a.multiselect("Symbols", ui.q(queries.symbols), key="symbols",
                            bind="query-params", on_change=ui.first_page, placeholder="All symbols")
    side = b.segmented_control("Side", ["Buy", "Sell"], key="side", bind="query-params",
                               on_change=ui.first_page)
    statuses = c.pills("Status", list(ORDER_STATUSES), selection_mode="multi", key="status",
                       bind="query-params", on_change=ui.first_page)
    d, e = st.columns([1, 2])
    order_text = d.text_input("Order id", key="order", bind="query-params", on_change=ui.first_page,
                              placeholder="e.g. 1K27GA00000X", help="Base 36, as in the file")
    file_id = ui.file_picker(e, files, ui.first_page)

try:
    order_id = fmt.parse_b36(order_text) if order_text else None
except ValueError as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()

flt = OrderFilter(symbols=tuple(symbols), side={"Buy": "B", "Sell": "S"}.get(side or ""),
                  statuses=tuple(statuses or ()), order_id=order_id, file_id=file_id,
                  file_name=file_names.get(file_id, "") if file_id is not None else "")
total = ui.q(queries.order_count, flt)
st.markdown(f"{flt.sentence()}: **{fmt.count(total)}**")
if total == 0:
    st.info("No order matches these filters. Check the order id (base 36, 12 characters) "
            "or remove a filter.", icon=":material/filter_alt_off:")
    st.stop()

sort, desc, page, pages = ui.paging_bar(
    total, queries.ORDER_SORTS, "order",
    lambda cur, sort, desc: queries.orders_csv(cur, flt, sort=sort, desc=desc), "orders.csv")

frame = ui.q(queries.orders_page, flt, sort=sort, desc=desc, page=page, total=total)
st.caption(f"Page {page:,} of {pages:,}. Select an order to follow its lifecycle.")
lifecycle_slot = st.container()  # above the table, so a selection shows where one looks
event = ui.table(frame, key="order_rows", select=True, height="rows")

row = ui.selected_row(event)
if row is None and total == 1:
    row = 0  # a search that finds one order opens it
if row is None or row >= len(frame):
    st.stop()

order = frame.iloc[row]
fid, line = int(order["file_id"]), int(order["line_no"])
oid = fmt.b36(order["order_id"])
events = ui.q(queries.order_lifecycle, fid, line)
with lifecycle_slot.container(border=True):
    st.subheader(f"Order {oid}: {'buy' if order['side'] == 'B' else 'sell'} "
                 f"{fmt.count(order['shares'])} {order['symbol']} @ {fmt.price(order['price'])}")
    m = st.columns(5)
    m[0].metric("Status", str(order["status"]))
    m[1].metric("Executed", fmt.count(order["executed_shares"]))
    m[2].metric("Cancelled", fmt.count(order["cancelled_shares"]))
    m[3].metric("Remaining", fmt.count(order["remaining_shares"]))
    m[4].metric("Events", fmt.count(len(events)))
    st.caption(f"Added at {fmt.hms(order['first_time_ns'])} on line {line:,} of "
               f"{file_names.get(fid, fid)}; last event at {fmt.hms(order['last_time_ns'])}.")
    ui.table(events.drop(columns=["type"]), key="lifecycle")
    st.plotly_chart(charts.lifecycle_chart(events), key="lifecycle_chart")
    b1, b2, b3, _ = st.columns([1, 1, 1, 2])
    with b1:
        ui.csv_button("CSV of this lifecycle", lambda cur: fmt.to_csv(events),
                      f"order-{oid}.csv", key="csv_lifecycle")
    if b2.button("Its messages", icon=":material/list:"):
        ui.go("messages", order=oid, file=fid)
    if order["symbol"] and b3.button(f"Symbol {order['symbol']}", icon=":material/finance:"):
        ui.go("symbols", symbol=order["symbol"])
    if order["symbol"]:
        st.page_link(ui.PAGES["book"], label=f"Order book of {order['symbol']}",
                     icon=":material/stacked_bar_chart:", query_params={"symbol": order["symbol"]})
