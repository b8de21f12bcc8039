"""PITCH Explorer's pages: the script that app.py's ``st.App`` runs for every visitor.

The router: page setup, the sample on a fresh database, the folder watcher,
the sidebar with the database's totals, then the chosen page from pages/.

It lives in a folder of its own on purpose. Streamlit gives a main script that
has a ``pages/`` folder beside it its old multipage mode until ``st.navigation``
has run once in the process: a shared link to a page, opened first on a fresh
server, would run that page alone, without this router (no sidebar, the old
page list). Here no ``pages/`` sits beside the main script, so every URL goes
through ``st.navigation`` from the first request on; the pages are named by
absolute path (``ui.PAGES``).
"""

from __future__ import annotations

import streamlit as st

from pitch import settings, ui
from pitch.errors import PitchError

st.set_page_config(page_title="PITCH Explorer", page_icon=":material/candlestick_chart:",
                   layout="wide")

if problem := settings.problem():  # a bad PITCH_* setting: one line, before anything opens
    st.error(problem, icon=":material/settings:")
    st.stop()

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
