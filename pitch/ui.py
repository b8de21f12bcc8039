"""Streamlit-side helpers shared by app.py and the pages.

One DuckDB connection per server process (:func:`connection`); every query
takes its own cursor. Query results are cached with ``st.cache_data`` under
the database's *data version*, so caches refresh by themselves when a file
lands (upload, folder watcher) or the database is cleared.
"""

from __future__ import annotations

import math
import os
import threading
from typing import Any, Callable

import duckdb
import pandas as pd
import streamlit as st

from . import archive as pitch_archive
from . import fmt, queries, settings, store
from .errors import IngestError, PitchError

#: The page scripts, by short name (paths relative to app.py).
PAGES = {
    "overview": "pages/overview.py", "messages": "pages/messages.py",
    "orders": "pages/orders.py", "symbols": "pages/symbols.py",
    "ingest": "pages/ingest.py", "sql": "pages/sql.py",
}
EMPTY_HINT = ("No data yet: upload a PITCH file on the **Ingest** page or drop one into "
              "`{inbox}/`.")
#: Rows a SQL page CSV export may hold (the on-screen row limit is separate).
SQL_EXPORT_ROWS = 1_000_000

LABELS = {"file_id": "file", "line_no": "line", "message_type": "message type",
          "order_id": "order id", "execution_id": "execution id", "executed_shares": "executed",
          "cancelled_shares": "cancelled", "remaining_shares": "remaining",
          "first_time": "added", "last_time": "last event", "byte_offset": "byte offset"}


_conn_lock = threading.Lock()
_open: dict[str, duckdb.DuckDBPyConnection] = {}


def connection() -> duckdb.DuckDBPyConnection:
    """The process's one connection to ``store.db_path()``.

    A plain process-wide singleton rather than ``st.cache_resource``: the app
    menu's "Clear caches" empties those, and the folder watcher's thread keeps
    using this connection, while DuckDB refuses a second one in the process.
    When ``$PITCH_DB`` changes (tests) the old file is closed first.
    """
    archive = settings.current().archive  # PITCH_ARCHIVE: a Parquet archive, read-only
    path = str((archive or store.db_path()).resolve())
    with _conn_lock:
        conn = _open.get(path)
        if conn is None:
            for old in _open.values():
                old.close()
            _open.clear()
            conn = _open[path] = pitch_archive.connect(path) if archive else store.connect(path)
        return conn


def cursor() -> duckdb.DuckDBPyConnection:
    """A fresh cursor on the shared connection, for this script run or thread."""
    return connection().cursor()


def data_version() -> tuple:
    """Cheap fingerprint of what is loaded; part of every cached query's key."""
    cur = cursor()
    try:
        return queries.data_version(cur)
    finally:
        cur.close()


@st.cache_data(show_spinner=False, max_entries=512)
def _cached(name: str, version: tuple, args: tuple, kwargs: tuple) -> Any:
    cur = cursor()
    try:
        return getattr(queries, name)(cur, *args, **dict(kwargs))
    finally:
        cur.close()


def q(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``queries.<fn>`` through the cache: ``ui.q(queries.totals)``."""
    return _cached(fn.__name__, data_version(), args, tuple(sorted(kwargs.items())))


def refresh() -> None:
    """Forget every cached answer (after an upload or a clear)."""
    st.cache_data.clear()


# --- start-up: the sample and the folder watcher ------------------------------------

@st.cache_resource(show_spinner=False)
def load_sample_if_empty() -> str | None:
    """Once per process: ingest the committed sample into an empty database.

    Returns a message for the person, or None when nothing was done. Skipped
    with ``PITCH_NO_SAMPLE=1``.
    """
    if os.environ.get("PITCH_NO_SAMPLE") == "1" or settings.current().archive:
        return None
    cur = cursor()
    try:
        if cur.execute("SELECT count(*) FROM files").fetchone()[0]:
            return None
        if not settings.SAMPLE_FILE.exists():
            return (f"The database is empty and the sample file {settings.SAMPLE_FILE.name} is "
                    "missing: load your own file on the Ingest page.")
        result = load_sample(cur)
        return (f"The database was empty, so the committed sample was loaded "
                f"({result.messages:,} messages). Load your own files on the Ingest page "
                f"or drop them into `{settings.inbox_dir()}/`.")
    except PitchError as exc:
        return f"Could not load the sample: {exc}"
    finally:
        cur.close()


def load_sample(conn: duckdb.DuckDBPyConnection) -> Any:
    """Ingest ``data/sample.pitch`` (source 'sample'); raises IngestError when missing."""
    from .ingest import ingest_path

    if not settings.SAMPLE_FILE.exists():
        raise IngestError(f"{settings.SAMPLE_FILE.name}: the sample file is missing")
    return ingest_path(conn, settings.SAMPLE_FILE, source="sample")


@st.cache_resource(show_spinner=False)
def watcher() -> Any:
    """The folder watcher, started once per server (None with ``PITCH_NO_WATCH=1``).

    pitch.watch keeps the one instance and stops it at exit.
    """
    if os.environ.get("PITCH_NO_WATCH") == "1" or settings.current().archive:
        return None  # an archive is read-only: nothing to ingest into
    from . import watch

    return watch.app_watcher(connection())


# --- display helpers ------------------------------------------------------------------

def column_config(df: pd.DataFrame, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """Labels, and numbers right-aligned, for the columns of a query frame."""
    config: dict[str, Any] = {}
    names = {**LABELS, **(labels or {})}
    for col in df.columns:
        shown = fmt.display_name(col)
        label = names.get(shown, shown.replace("_", " "))
        numeric = fmt.is_numeric(df[col]) and col not in fmt.ID_COLUMNS
        config[shown] = st.column_config.TextColumn(label, alignment="right" if numeric else None)
    return config


def unique_columns(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with repeated column names made unique (``count``, ``count_2``)."""
    seen: dict[str, int] = {}
    names = []
    for col in map(str, df.columns):
        seen[col] = seen.get(col, 0) + 1
        names.append(col if seen[col] == 1 else f"{col}_{seen[col]}")
    return df.set_axis(names, axis=1)


def table(df: pd.DataFrame, *, key: str | None = None, select: bool = False,
          height: int | str = "auto", labels: dict[str, str] | None = None) -> Any:
    """Show a query frame with the display conventions; returns the selection event.

    ``height="rows"`` shows every row without inner scrolling; ``labels``
    overrides column headings (keys are the displayed names, e.g. ``first_time``).
    """
    shown = fmt.display_frame(df)
    if height == "rows":  # every row, no inner scrolling (a 50-row page reads as a page)
        height = 38 + 35 * max(len(shown), 1)
    kwargs: dict[str, Any] = dict(hide_index=True, column_config=column_config(df, labels),
                                  width="stretch", height=height)
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
    conn = connection()  # captured: the callable runs on another thread, without st

    def data() -> bytes:
        cur = conn.cursor()
        try:
            return build(cur)
        finally:
            cur.close()

    st.download_button(label, data=data, file_name=file_name, mime="text/csv", key=key,
                       icon=":material/download:", on_click="ignore", help=help)


def file_label(file_id: int, name: str) -> str:
    """How a file appears in a file picker (and so in the URL): ``3: monday.pitch``."""
    return f"{file_id}: {name}"


def file_picker(container: Any, files: pd.DataFrame, on_change: Callable[[], None] | None = None
                ) -> int | None:
    """A file selectbox bound to the URL as ``file``; returns the file id or None (all)."""
    labels = {int(i): file_label(int(i), n) for i, n in zip(files["file_id"], files["name"])}
    return container.selectbox("File", list(labels), key="file", bind="query-params",
                               on_change=on_change, index=None, placeholder="All files",
                               format_func=lambda i: labels[i])


def through_router() -> None:
    """At the top of every page: make sure app.py (the router) is running it.

    Streamlit still has its old multipage mode for an app with a ``pages/``
    folder: until ``st.navigation`` has run once in the process, a page URL
    opened first (a shared link to a fresh server) runs the page script alone,
    without app.py: no sidebar, no router, the old page list. The flag below
    is what ``st.navigation`` itself sets; setting it and rerunning sends this
    very page through app.py. (Streamlit 1.67 internals, pinned; renaming the
    folder would make this unnecessary.)
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def go(page: str, **widgets: Any) -> None:
    """Open another page with some of its widgets set (then they show in its URL).

    The values travel in session state rather than ``switch_page(query_params=)``
    because a key bound to the URL on *this* page (``order`` is on two pages)
    cannot be set as a query parameter from here. (Where there is no such clash,
    prefer ``query_params``: a multiselect set through session state does not
    show in the URL, in Streamlit 1.67.)
    """
    st.session_state["_goto"] = (page, widgets)
    # query_params={} rather than None: None refuses to drop this page's bound parameters.
    st.switch_page(PAGES[page], query_params={})


def arrive(page: str) -> None:
    """At the top of a page: apply the widget values :func:`go` sent here."""
    goto = st.session_state.pop("_goto", None)
    if goto and goto[0] == page:
        for key, value in goto[1].items():
            st.session_state[key] = value


def first_page() -> None:
    """on_change of every filter and sort: a new selection starts at its first page."""
    st.session_state["page"] = 1


def paging_bar(total: int, sorts: Any, noun: str,
               build_csv: Callable[[duckdb.DuckDBPyConnection, str, bool], bytes], file_name: str, csv_help: str | None = None) -> tuple[str, bool, int, int]:
    """Sort, direction, page buttons, go-to-page and "CSV of all N" above a paged table.

    The widgets are bound to the URL (keys ``sort``, ``desc``, ``page``) and
    the CSV is built on click from every matching row, sorted the same way.
    Returns ``(sort, desc, page, pages)``.
    """
    pages = max(1, math.ceil(total / queries.PAGE_SIZE))
    s1, s2, s3, s5, s4 = st.columns([2, 1.5, 3.7, 1.2, 2], vertical_alignment="bottom")
    sort = s1.selectbox("Sort by", list(sorts), key="sort", bind="query-params",
                        on_change=first_page)
    desc = s2.toggle("Descending", key="desc", bind="query-params", on_change=first_page)
    with s3:
        page = st.pagination(pages, key="page", bind="query-params")
    s5.number_input("Go to page", 1, pages, None, key="goto", on_change=jump_to_page,
                    args=("goto", "page"), placeholder=f"1–{pages:,}")
    with s4:
        csv_button(f"CSV of all {fmt.count(total)} {fmt.plural(total, noun)}",
                   lambda cur: build_csv(cur, sort, desc), file_name, key="csv", help=csv_help)
    return sort, desc, page, pages


def jump_to_page(source: str, target: str) -> None:
    """Callback of a "Go to page" box: move the pagination widget, then empty the box."""
    if st.session_state.get(source):
        st.session_state[target] = int(st.session_state[source])
        st.session_state[source] = None


def data_page(page: str, title: str) -> None:
    """The top of a page that shows loaded data (Messages, Orders, Symbols).

    Runs it through the router, applies the widget values another page sent
    (:func:`go`), draws the title, and stops with an explanation when nothing
    has been loaded yet.
    """
    through_router()
    arrive(page)
    st.title(title)
    if no_data():
        st.stop()


def no_data() -> bool:
    """True (and an explanation on screen) when nothing has been loaded yet."""
    if data_version()[0]:
        return False
    st.info(EMPTY_HINT.format(inbox=settings.inbox_dir()), icon=":material/upload_file:")
    st.page_link(PAGES["ingest"], label="Go to Ingest", icon=":material/upload:")
    return True


def sidebar(message: str | None) -> None:
    """Database in use and its totals, on every page."""
    # One version read for both the totals and the watch: read twice, a file
    # landing in between left the old totals on screen with no rerun to come.
    version = data_version()
    with st.sidebar:
        totals = _cached(queries.totals.__name__, version, (), ())
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
    if data_version() != seen:
        st.rerun(scope="app")
