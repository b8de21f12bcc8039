"""PITCH Explorer: `streamlit run app.py`.

The router: page setup, the sample on a fresh database, the folder watcher,
the sidebar with the database's totals, then the chosen page from pages/.
"""

from __future__ import annotations

import streamlit as st

from pitch import ui
from pitch.errors import PitchError

st.set_page_config(page_title="PITCH Explorer", page_icon=":material/candlestick_chart:",
                   layout="wide")

try:
    ui.connection()
except PitchError as exc:  # e.g. another process holds the database file
    st.error(str(exc), icon=":material/lock:")
    st.stop()

sample_message = ui.load_sample_if_empty()
if sample_message and not st.session_state.get("sample_told"):
    st.session_state["sample_told"] = True
    st.toast(sample_message, icon=":material/info:")
ui.watcher()

pages = st.navigation({
    "Explore": [
        st.Page(ui.PAGES["overview"], title="Overview", icon=":material/dashboard:",
                default=True),
        st.Page(ui.PAGES["messages"], title="Messages", icon=":material/list:"),
        st.Page(ui.PAGES["orders"], title="Orders", icon=":material/receipt_long:"),
        st.Page(ui.PAGES["symbols"], title="Symbols", icon=":material/finance:"),
        st.Page(ui.PAGES["book"], title="Book", icon=":material/stacked_bar_chart:"),
    ],
    "Data": [
        st.Page(ui.PAGES["ingest"], title="Ingest", icon=":material/upload_file:"),
        st.Page(ui.PAGES["sql"], title="SQL", icon=":material/terminal:"),
    ],
})
ui.sidebar(sample_message)
pages.run()
