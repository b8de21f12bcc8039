"""Overview: headline totals, message types and the message rate over time."""

from __future__ import annotations

import streamlit as st

from pitch import charts, fmt, links, queries, ui
from pitch.runtime import q

st.title("Overview")
if ui.no_data():
    st.stop()

files = q(queries.files)
if (files["source"] == "sample").all():
    st.info("You are looking at the committed sample. Load your own PITCH files on the "
            "**Ingest** page or drop them into the watched folder.", icon=":material/info:")

# Sequence gaps in binary captures, as Wireshark's expert info would flag them.
for gap in q(queries.gap_summary).itertuples():
    st.warning(f"File {gap.name}: {fmt.count(gap.gaps)} {fmt.plural(gap.gaps, 'gap')}, "
               f"{fmt.count(gap.missing)} {fmt.plural(gap.missing, 'message')} missing "
               "(the Ingest page lists them).", icon=":material/warning:")

totals = q(queries.totals)
METRICS = [("Messages", "messages"), ("Files", "files"), ("Symbols", "symbols"),
           ("Orders", "orders"), ("Executed shares", "executed_shares"), ("Rejects", "rejects")]
for row in (METRICS[:3], METRICS[3:]):
    for col, (label, key) in zip(st.columns(3), row):
        col.metric(label, fmt.count(totals[key]), border=True)
first, last = q(queries.time_bounds)
unknown = q(queries.unknown_times)
unknown_words = (f"{fmt.count(unknown)} {fmt.plural(unknown, 'message')} of binary files "
                 f"{'has' if unknown == 1 else 'have'} an unknown time (before their unit's "
                 "first Time message)") if unknown else ""
span_words = f"Messages from {fmt.hms(first)} to {fmt.hms(last)}" if first is not None else \
    "No message has a known time"
st.caption(f"{span_words}{'; ' + unknown_words if unknown else ''}. Click a bar or a row to "
           "see those messages.")


def open_messages(code: str) -> None:
    """Go to Messages filtered to one type (its code travels in the URL: ``type=A``)."""
    ui.go("messages", links.messages_of_type(code))


counts = q(queries.message_type_counts)
left, right = st.columns([2, 3])
with left:
    st.subheader("Message types")
    shown = counts.assign(percent=(100 * counts["count"] / max(totals["messages"], 1)).round(2))
    event = ui.table(shown, key="type_table", select=True, height="rows")
    row = ui.selected_row(event)
    if row is not None:
        open_messages(counts["code"].iloc[row])
with right:
    st.subheader("Messages by type")
    chosen = st.plotly_chart(charts.type_counts_bar(counts), key="type_chart",
                             on_select="rerun", selection_mode="points")
    points = chosen.selection.points if chosen else []
    if points:
        open_messages(points[0]["customdata"])

st.subheader("Message rate over time")
span = (last or 0) - (first or 0)
auto = queries.pick_bucket(span)
choices = ["auto", *queries.BUCKETS]
bucket = st.segmented_control("Bucket", choices, default="auto", key="bucket",
                              bind="query-params", help="Width of each bar")
label = auto if bucket in (None, "auto") else bucket
width = queries.BUCKETS[label]
if span // width > 5000:  # a bar per second over a whole day would not draw
    st.warning(f"{label} buckets would make {span // width:,} bars; showing {auto} buckets.")
    label, width = auto, queries.BUCKETS[auto]
rate = q(queries.message_rate, width)
st.plotly_chart(charts.rate_chart(rate, label), key="rate_chart")
if unknown:
    st.caption(f"Left out of this chart: {unknown_words}.")
