"""The furniture of the pages: tables, paging, the page top and the sidebar.

Pages show query frames through :func:`table` (numbers stay numbers, ids and
times read as in the file: base 36 for text files, decimal for binary), page through them with :func:`paging_bar`, and
offer every matching row as CSV with :func:`csv_button`; :func:`go` follows a
drill-down link. The connection and cached answers are in :mod:`pitch.runtime`,
a page's URL and the links' targets in :mod:`pitch.links`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NoReturn

import duckdb
import pandas as pd
import streamlit as st

from . import fmt, links, queries, runtime, settings, store
from .ids import ALL_TEXT, FileFeeds
# Moved to pitch.runtime; re-exported for app.py, pages/ingest.py and pages/sql.py
# (owned elsewhere) until they import pitch.runtime themselves.
from .runtime import (connection, load_sample, load_sample_if_empty, q, refresh,  # noqa: F401
                      watcher)

#: The page scripts, by short name. Absolute paths: Streamlit resolves a relative
#: page path against the main script, explorer/router.py, which has no pages/ beside it.
PAGES = {name: str(settings.ROOT / "pages" / f"{name}.py")
         for name in ("overview", "messages", "orders", "symbols", "book", "ingest", "sql")}
EMPTY_HINT = ("No data yet: upload a PITCH file on the **Ingest** page or drop one into "
              "`{inbox}/`.")
#: Rows a SQL page CSV export may hold (the on-screen row limit is separate).
SQL_EXPORT_ROWS = 1_000_000

LABELS = {"file_id": "file", "line_no": "line", "message_type": "message type",
          "order_id": "order id", "execution_id": "execution id", "executed_shares": "executed",
          "cancelled_shares": "cancelled", "remaining_shares": "remaining",
          "first_time": "added", "last_time": "last event", "byte_offset": "byte offset",
          "missing_messages": "missing messages", "skipped_packets": "skipped frames",
          "expected_sequence": "expected sequence", "received_sequence": "received sequence"}


# --- tables ----------------------------------------------------------------------------

#: NumberColumn formats (sprintf-js, as st.column_config documents): thousands
#: separators, prices with exactly 4 decimals, other floats without float noise.
NUMBER_FORMATS = {"int": "%,d", "price": "%,.4f", "float": "%,.15g"}


def column_config(df: pd.DataFrame, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """Labels and column types for a query frame shown through :func:`fmt.display_frame`.

    Numbers (``fmt.column_kind`` int, price, float) get a ``NumberColumn`` with
    a format, so they sort as numbers; ids, times and other values are text
    (integers too wide for the browser right-aligned).
    """
    config: dict[str, Any] = {}
    names = {**LABELS, **(labels or {})}
    for col in df.columns:
        shown = fmt.display_name(col)
        label = names.get(shown, shown.replace("_", " "))
        kind = fmt.column_kind(col, df[col])
        if kind in NUMBER_FORMATS:
            config[shown] = st.column_config.NumberColumn(label, format=NUMBER_FORMATS[kind])
        else:
            config[shown] = st.column_config.TextColumn(
                label, alignment="right" if kind == "wide_int" else None)
    return config


def table(df: pd.DataFrame, *, key: str | None = None, select: bool = False,
          height: int | str = "auto", labels: dict[str, str] | None = None,
          feeds: FileFeeds | None = None, hidden: tuple[str, ...] = ()) -> Any:
    """Show a query frame with the display conventions; returns the selection event.

    ``height="rows"`` shows every row without inner scrolling; ``labels``
    overrides column headings (keys are the displayed names, e.g. ``first_time``).
    Ids take each row's feed's form: by its type code, else its file in
    ``feeds`` (the loaded files' when not given). ``hidden`` columns still
    decide that (a ``type`` column) but are not shown.
    """
    if feeds is None:
        has_ids = any(c in fmt.ID_COLUMNS for c in df.columns)
        feeds = runtime.q(queries.file_feeds) if has_ids else ALL_TEXT
    names = [fmt.display_name(c) for c in hidden]
    shown = fmt.display_frame(df, feeds).drop(columns=names)
    if height == "rows":  # every row, no inner scrolling (a 50-row page reads as a page)
        height = 38 + 35 * max(len(shown), 1)
    # placeholder="": a missing number (no price on a cancel) is an empty cell, not "None".
    kwargs: dict[str, Any] = dict(hide_index=True, width="stretch", height=height,
                                  column_config=column_config(df.drop(columns=list(hidden)),
                                                              labels), placeholder="")
    if select:
        kwargs.update(key=key, on_select="rerun", selection_mode="single-row")
    elif key:
        kwargs.update(key=key)
    return st.dataframe(shown, **kwargs)


def selected_row(event: Any) -> int | None:
    """The index of the row picked in a selectable table, if any."""
    rows = getattr(getattr(event, "selection", None), "rows", None) or []
    return rows[0] if rows else None


def csv_button(label: str, build: Callable[[duckdb.DuckDBPyConnection], bytes],
               file_name: str, key: str, help: str | None = None) -> None:
    """A download button whose CSV is built only when clicked, on its own cursor."""
    conn = runtime.connection()  # captured: the callable runs on another thread, without st

    def data() -> bytes:
        cur = conn.cursor()
        try:
            return build(cur)
        finally:
            cur.close()

    st.download_button(label, data=data, file_name=file_name, mime="text/csv", key=key,
                       icon=":material/download:", on_click="ignore", help=help)


def go(page: str, params: dict[str, Any]) -> NoReturn:
    """Open a page (a key of :data:`PAGES`) at the URL ``params`` describe (see pitch.links).

    For a choice that is not a link (a table row, a chart bar); a drill-down
    the person clicks is a :func:`link`.
    """
    st.switch_page(PAGES[page], query_params=params)


def link(page: str, params: dict[str, Any], label: str, icon: str | None = None) -> None:
    """A link to a page (a key of :data:`PAGES`) at the URL ``params`` describe.

    A real link: it can be opened in a new tab or copied, and it lands on
    exactly that view (the target reads its state from its URL, pitch.links).
    """
    st.page_link(PAGES[page], label=label, icon=icon, query_params=params)


def first_page() -> None:
    """on_change of every filter and sort: a new selection starts at its first page."""
    links.set_param("page", [])


def paging_bar(total: int, sorts: Any, noun: str,
               build_csv: Callable[[duckdb.DuckDBPyConnection, str, bool], bytes],
               file_name: str, csv_help: str | None = None) -> tuple[str, bool, int, int]:
    """Sort, direction, page buttons, go-to-page and "CSV of all N" above a paged table.

    Sort, direction and page live in the URL (``sort``, ``desc``, ``page``) and
    the CSV is built on click from every matching row, sorted the same way.
    Returns ``(sort, desc, page, pages)``.
    """
    pages = max(1, math.ceil(total / queries.PAGE_SIZE))
    s1, s2, s3, s5, s4 = st.columns([2, 1.5, 3.7, 1.2, 2], vertical_alignment="bottom")
    sort = links.widget(s1.selectbox, "sort", links.one_of(sorts, next(iter(sorts))),
                        "Sort by", list(sorts), on_change=first_page)
    desc = links.widget(s2.toggle, "desc", links.FLAG, "Descending", on_change=first_page)
    with s3:
        page = links.widget(st.pagination, "page", links.page_number(pages), pages)
    s5.number_input("Go to page", 1, pages, None, key="goto", on_change=jump_to_page,
                    placeholder=f"1–{pages:,}")
    with s4:
        csv_button(f"CSV of all {fmt.count(total)} {fmt.plural(total, noun)}",
                   lambda cur: build_csv(cur, sort, desc), file_name, key="csv", help=csv_help)
    return sort, desc, page, pages


def jump_to_page() -> None:
    """Callback of the "Go to page" box: that page in the URL, then an empty box."""
    if st.session_state.get("goto"):
        links.set_param("page", [str(int(st.session_state["goto"]))])
        st.session_state["goto"] = None


def data_page(title: str) -> None:
    """The top of a page that shows loaded data (Messages, Orders, Symbols).

    Draws the title, and stops with an explanation when nothing has been loaded
    yet.
    """
    st.title(title)
    if no_data():
        st.stop()


def no_data() -> bool:
    """True (and an explanation on screen) when nothing has been loaded yet."""
    if runtime.data_version()[0]:
        return False
    st.info(EMPTY_HINT.format(inbox=settings.inbox_dir()), icon=":material/upload_file:")
    st.page_link(PAGES["ingest"], label="Go to Ingest", icon=":material/upload:")
    return True


def sidebar(message: str | None) -> None:
    """Database in use and its totals, on every page."""
    # One version read for both the totals and the watch: read twice, a file
    # landing in between left the old totals on screen with no rerun to come.
    version = runtime.data_version()
    with st.sidebar:
        totals = runtime.q_at(version, queries.totals)
        archive = settings.current().archive
        st.caption(f"Archive `{archive}` (read-only)" if archive else f"Database `{store.db_path()}`")
        st.markdown("  \n".join(f"**{fmt.count(totals[k])}** {fmt.plural(totals[k], k[:-1])}"
                                 for k in ("messages", "files", "rejects")))
        if message:
            st.caption(message)
        _watch_for_new_data(version)


@st.fragment(run_every="3s")
def _watch_for_new_data(seen: tuple) -> None:
    # New data from the folder watcher (another thread): rerun the whole page once.
    if runtime.data_version() != seen:
        st.rerun(scope="app")
