"""What the app's server process holds once: the connection, cached answers, start-up work.

One DuckDB connection per server process (:func:`connection`); every query
takes its own cursor. Query results are cached with ``st.cache_data`` under
the database's *data version*, so caches refresh by themselves when a file
lands (upload, folder watcher) or the database is cleared. At start-up a
fresh database gets the committed sample and the folder watcher starts.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, Callable

import duckdb
import streamlit as st

from . import archive as pitch_archive
from . import queries, settings, store
from .errors import IngestError, PitchError

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
            conn = _open[path] = (pitch_archive.connect(path) if archive
                                  else store.connect(path))
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
    module, _, function = name.rpartition(".")
    cur = cursor()
    try:
        return getattr(importlib.import_module(module), function)(cur, *args, **dict(kwargs))
    finally:
        cur.close()


def query_name(fn: Callable[..., Any]) -> str:
    """``module.function`` of a query function: its key in the answer cache."""
    return f"{fn.__module__}.{fn.__name__}"


def q(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a query function through the cache: ``q(queries.totals)``.

    ``fn`` takes a cursor first; the other arguments must be hashable.
    """
    return _cached(query_name(fn), data_version(), args, tuple(sorted(kwargs.items())))


def q_at(version: tuple, fn: Callable[..., Any], *args: Any) -> Any:
    """:func:`q` for a data version already read (so an answer and a watch agree)."""
    return _cached(query_name(fn), version, args, ())


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
    if settings.current().no_sample or settings.current().archive:
        return None
    cur = cursor()
    try:
        if queries.data_version(cur)[0]:  # files already loaded
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
    if settings.current().no_watch or settings.current().archive:  # an archive is read-only
        return None
    from . import watch

    return watch.app_watcher(connection())
