"""Watch a folder: PITCH files dropped into it land in the database on their own.

Event-driven (watchdog), and nothing is lost: the event handler only marks a
path as a candidate; one worker thread takes candidates one at a time, in
arrival order among those that are complete, ingests each in one transaction
(:func:`pitch.ingest.ingest_path`) and only then moves it to ``processed/`` (or
to ``failed/`` beside a ``<name>.error.txt`` saying why). A crash or a stop in
the middle rolls the ingest back and leaves the file in the inbox, where the
start-up scan finds it again; a re-ingest of a committed file is a duplicate.

A file is complete when it was closed after writing or renamed into the folder
and then stayed unchanged (size and mtime) for a short window. A file seen
being written (inotify) waits for its close, however long the writer stalls.
Where no event tells (polling observer for network and container mounts, files
present at start-up) it must stay unchanged for ``stable_seconds``.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import stat
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import duckdb
from watchdog.events import (FileClosedEvent, FileCreatedEvent, FileDeletedEvent,
                             FileModifiedEvent, FileMovedEvent, FileSystemEvent,
                             FileSystemEventHandler)
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from . import settings, store
from .errors import DatabaseBusyError, PitchError
from .ingest import CHUNK_SIZE as INGEST_CHUNK_SIZE, ingest_path
from .names import NAME_MAX, fit, safe_name

log = logging.getLogger(__name__)


class _QuietStop(logging.Filter):
    """Drop the error watchdog 7.1 logs for a harmless race while an observer stops."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "called when the thread is inactive" not in record.getMessage()


logging.getLogger("watchdog.observers.inotify").addFilter(_QuietStop())

PROCESSED, FAILED = "processed", "failed"
#: Names a writer uses while a file is unfinished; ignored until renamed.
TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", "~")
SHORT_SECONDS = 0.5  # unchanged time asked of a file closed after writing or renamed in
# With inotify, a file whose writing we saw start waits for its close event: a
# writer that stalls is not done. Only after this long unchanged (a hard link
# made into the folder sends no close) is it taken anyway.
WRITING_SECONDS = 60.0
TICK = 0.1  # how often the worker looks at its candidates
RECENT = 20  # finished files kept for status()
STOP_TIMEOUT = 10.0
# Ingest's own chunk size: a progress step (and a chance to stop) every 8 MB,
# about a tenth of a second (4 MB chunks measured slower: 0.72 s against 0.49 s
# to load 1M messages).
CHUNK_SIZE = INGEST_CHUNK_SIZE
_EVENTS = [FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileMovedEvent, FileDeletedEvent]


ERROR_SUFFIX = ".error.txt"


def ignored(name: str) -> bool:
    """True for hidden and temporary names, which wait until renamed."""
    return name.startswith(".") or name.lower().endswith(TEMP_SUFFIXES)


def free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/<stem>-<n><suffix>`` if that is taken.

    The name is cleaned (:func:`safe_name`) and cut so that it and its
    ``.error.txt`` companion both fit the file system's name limit.
    """
    name = safe_name(name, NAME_MAX - len(ERROR_SUFFIX))
    stem, suffix = Path(name).stem, Path(name).suffix
    dest = folder / name
    n = 1
    while dest.exists() or dest.with_name(dest.name + ERROR_SUFFIX).exists():
        dest = folder / fit(stem, f"-{n}{suffix}", NAME_MAX - len(ERROR_SUFFIX))
        n += 1
    return dest


# RENAMED: moved in whole (a rename is atomic); CLOSED: closed after writing;
# WRITING: being written (inotify saw it); UNKNOWN: no event tells.
RENAMED, CLOSED, WRITING, UNKNOWN = "renamed", "closed", "writing", "unknown"


@dataclass
class _Candidate:
    state: str = UNKNOWN
    seen: tuple[int, int] | None = None  # (size, mtime_ns) at the worker's last look
    since: float = 0.0  # monotonic time of the last event or change of `seen`


class _Stopped(Exception):
    """Raised from the progress callback so stop() rolls an ingest back."""


class _Handler(FileSystemEventHandler):
    """Turns events into candidate marks; never does any work itself."""

    def __init__(self, watcher: Watcher) -> None:
        self._w = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        w, src, dest = self._w, str(event.src_path), str(event.dest_path)
        if isinstance(event, FileMovedEvent):  # src or dest is "" when outside the folder
            if src:
                w._forget(src)
            if dest:
                w._mark(dest, RENAMED)
        elif isinstance(event, FileDeletedEvent):
            w._forget(src)
        elif isinstance(event, FileClosedEvent):
            w._mark(src, CLOSED)
        elif isinstance(event, (FileCreatedEvent, FileModifiedEvent)):
            # Only inotify promises a close event to follow a write.
            w._mark(src, UNKNOWN if w.polling else WRITING)


class Watcher:
    """Ingest every complete file that appears in ``inbox``, one at a time."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, inbox: Path, *, polling: bool = False,
                 stable_seconds: float | None = None,
                 report: Callable[[str], None] | None = None) -> None:
        """``report`` (optional) gets one summary line per finished file."""
        self.conn = conn
        self.inbox = Path(inbox).absolute()
        self.polling = polling
        self.stable_seconds = (settings.watch_stable_seconds() if stable_seconds is None
                               else stable_seconds)
        self.short_seconds = min(SHORT_SECONDS, self.stable_seconds)
        self.error: str | None = None
        self._report = report
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by events so a renamed file waits no tick
        self._candidates: dict[str, _Candidate] = {}  # insertion order = arrival order
        self._current: str | None = None
        self._progress: float | None = None
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self._observer: BaseObserver | None = None
        self._worker: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """The observer and the worker are both alive."""
        return bool(self._worker and self._worker.is_alive() and self._observer
                    and self._observer.is_alive() and not self._stop.is_set())

    def start(self) -> None:
        """Watch the folder, then queue what is already in it (oldest first)."""
        if self.running:
            return
        self._stop.clear()
        try:
            for sub in (PROCESSED, FAILED):
                (self.inbox / sub).mkdir(parents=True, exist_ok=True)
            self._observer = self._start_observer()
            present = [p for p in self.inbox.iterdir() if p.is_file() and not ignored(p.name)]
        except OSError as exc:
            self.error = f"cannot watch {self.inbox}: {exc.strerror or exc}"
            log.info(self.error)  # status() and run_cli show it
            return
        with self._lock:  # events seen since the observer started know better
            for path in sorted(present, key=lambda p: (_key(str(p)) or (0, 0))[1]):
                self._candidates.setdefault(str(path), _Candidate(since=time.monotonic()))
        self.error = None
        self._worker = threading.Thread(target=self._run, name="pitch-watch", daemon=True)
        self._worker.start()

    def _start_observer(self) -> BaseObserver:
        # Full inotify events tell a file moved in from elsewhere (complete) from a
        # file being created; without inotify (or out of watches) fall back to polling.
        observer: BaseObserver | None = None
        if not self.polling:
            try:
                from watchdog.observers.inotify import InotifyObserver
                observer = InotifyObserver(generate_full_events=True)
                observer.schedule(_Handler(self), str(self.inbox), event_filter=_EVENTS)
                observer.start()
                return observer
            except (ImportError, OSError) as exc:
                if observer is not None:
                    observer.stop()
                log.warning("no file-system events for %s (%s); polling instead", self.inbox, exc)
                self.polling = True
        observer = PollingObserver(timeout=max(0.1, min(1.0, self.stable_seconds / 2)))
        observer.schedule(_Handler(self), str(self.inbox), event_filter=_EVENTS)
        observer.start()
        return observer

    def stop(self) -> None:
        """Stop promptly; a file being ingested is rolled back and stays in the inbox."""
        self._stop.set()
        self._wake.set()
        if self._observer:
            self._observer.stop()
            self._observer.join(STOP_TIMEOUT)
        if self._worker and self._worker is not threading.current_thread():
            self._worker.join(STOP_TIMEOUT)

    def status(self) -> dict[str, Any]:
        """What the Ingest page shows; see the keys in the project brief."""
        with self._lock:
            return {"folder": str(self.inbox), "running": self.running, "polling": self.polling,
                    "queue": [Path(p).name for p in self._candidates],
                    "current": self._current, "progress": self._progress,
                    "recent": [dict(r) for r in reversed(self._recent)], "error": self.error}

    # -- event side (observer thread) --
    def _mark(self, path: str, state: str) -> None:
        p = Path(path)
        if p.parent != self.inbox or ignored(p.name):
            return
        with self._lock:
            cand = self._candidates.setdefault(path, _Candidate())
            cand.state, cand.since = state, time.monotonic()
        self._wake.set()

    def _forget(self, path: str) -> None:
        with self._lock:
            self._candidates.pop(path, None)

    # -- worker side --
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready = self._next_ready()
                if ready:
                    self._take(*ready)
                    continue
            except Exception:  # the loop outlives anything one file can do
                log.exception("watcher: unexpected error")
            self._wake.wait(TICK)
            self._wake.clear()

    def _next_ready(self) -> tuple[str, tuple[int, int]] | None:
        """Pop the earliest-arrived complete candidate, with its (size, mtime)."""
        with self._lock:
            items = list(self._candidates.items())
        for path, cand in items:
            try:
                st = os.stat(path)
            except OSError:
                st = None
            now = time.monotonic()
            with self._lock:
                if st is None or not stat.S_ISREG(st.st_mode):
                    self._candidates.pop(path, None)
                    continue
                key = (st.st_size, st.st_mtime_ns)
                if cand.seen != key:
                    cand.seen, cand.since = key, now
                if now - cand.since >= self._window(cand.state, st.st_size):
                    if self._candidates.get(path) is cand:
                        del self._candidates[path]
                        return path, key
        return None

    def _window(self, state: str, size: int) -> float:
        """Seconds a candidate must stay unchanged before it is taken."""
        if state == WRITING:
            return max(WRITING_SECONDS, self.stable_seconds)
        if not size:  # an empty file may be a writer that has not begun
            return self.stable_seconds
        return {RENAMED: 0.0, CLOSED: self.short_seconds}.get(state, self.stable_seconds)

    def _on_progress(self, done: int, total: int, stage: str) -> None:
        if self._stop.is_set():
            raise _Stopped
        self._progress = min(1.0, done / total) if total else None

    def _take(self, path: str, key: tuple[int, int]) -> None:
        name = safe_name(Path(path).name)
        with self._lock:
            self._current, self._progress = name, 0.0
        entry: dict[str, Any] = {"name": name, "messages": 0, "rejects": 0, "seconds": 0.0,
                                 "error": None}
        try:
            result = ingest_path(self.conn, path, source="watch", progress=self._on_progress,
                                 chunk_size=CHUNK_SIZE)
        except _Stopped:
            return  # rolled back; the start-up scan takes it again
        except Exception as exc:  # a bad file, never the watcher's end
            if self._stop.is_set():
                return  # the connection may be closing under us: not the file's fault
            reason = str(exc) if isinstance(exc, PitchError) else f"{name}: {exc!r}"
            entry.update(status="failed", error=reason)
        else:
            entry.update(status=result.status, messages=result.messages, rejects=result.rejects,
                         seconds=round(result.seconds, 3))
            if _key(path) != key:  # a writer was still at it: say so rather than lose its tail
                entry.update(status="failed", error=(
                    f"{name}: changed while being ingested (still being written?); the database "
                    f"holds what was read as file {result.file_id}: delete it and drop the file again"))
        finally:
            with self._lock:
                self._current, self._progress = None, None
        self._finish(path, entry, result if entry["status"] != "failed" else None)

    def _finish(self, path: str, entry: dict[str, Any], result: Any) -> None:
        failed = entry["status"] == "failed"
        try:
            dest = free_name(self.inbox / (FAILED if failed else PROCESSED), entry["name"])
            shutil.move(path, dest)
            if failed:
                dest.with_name(dest.name + ERROR_SUFFIX).write_text(entry["error"] + "\n")
            where = f"{dest.parent.name}/{dest.name}"
        except OSError as exc:
            where = f"left in the inbox: cannot move it: {exc.strerror or exc}"
            entry["error"] = entry["error"] or where
        entry["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._lock:
            self._recent.append(entry)
        line = f"{entry['error'] if failed else result.summary()} -> {where}"
        log.info(line)
        if self._report:
            self._report(line)


def _key(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


_app: Watcher | None = None
_app_lock = threading.Lock()


def app_watcher(conn: duckdb.DuckDBPyConnection) -> Watcher:
    """The server's one watcher on ``settings.inbox_dir()``, started on first call.

    Polls instead of using events when ``$PITCH_WATCH_POLLING=1`` (container
    and network mounts).
    """
    global _app
    with _app_lock:
        if _app is None:
            _app = Watcher(conn, settings.inbox_dir(),
                           polling=os.environ.get("PITCH_WATCH_POLLING") == "1")
            _app.start()
            atexit.register(_app.stop)
        return _app


def run_cli(inbox: Path, db: Path | None, polling: bool) -> int:
    """``python -m pitch watch [DIR]``: watch until Ctrl-C; one line per file."""
    try:
        conn = store.connect(db)
    except DatabaseBusyError:
        print(f"error: database {store.db_path(db)} is in use by another process; drop the file "
              f"into the running app's inbox ({inbox}) instead", file=sys.stderr)
        return 1
    except PitchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. the database's folder cannot be made
        print(f"error: cannot open database {store.db_path(db)}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    watcher = Watcher(conn, Path(inbox), polling=polling, report=lambda line: print(line, flush=True))
    try:
        watcher.start()
        if watcher.running:
            mode = "polling" if watcher.polling else "file-system events"
            print(f"watching {watcher.inbox} ({mode}); Ctrl-C stops", flush=True)
        while watcher.running:
            time.sleep(0.2)
    except KeyboardInterrupt:
        return 0
    finally:
        watcher.stop()
        conn.close()
    print(f"error: {watcher.error or 'the watcher stopped (was the folder removed?)'}",
          file=sys.stderr)
    return 1
