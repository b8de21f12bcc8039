"""Watch a folder: PITCH files dropped into it land in the database on their own.

Events (:mod:`pitch.watch_events`) only mark candidates, and
:class:`pitch.inbox.Candidates` says when one is complete; one worker thread
takes complete files in arrival order, ingests each in one transaction and
only then moves it to ``processed/`` (or ``failed/`` with the reason). A stop
or a crash mid-way rolls back and leaves the file in the inbox for the next
start. A file that changed while being ingested (a writer still appending) is
rolled back before the commit, or deleted again if it changed during the
commit, and taken again once complete: it lands whole, once.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import duckdb
from watchdog.observers.api import BaseObserver

from . import settings, store
from .errors import PitchError
from .inbox import FAILED, PROCESSED, Candidates, Key, file_key, ignored, put_away
from .ingest import CHUNK_SIZE as INGEST_CHUNK_SIZE, ingest_path
from .names import safe_name
from .watch_events import start_observer

log = logging.getLogger(__name__)
TICK = 0.1  # how often the worker looks at its candidates
RECENT = 20  # finished files kept for status()
STOP_TIMEOUT = 10.0
# Ingest's own chunk size: a progress step (and a chance to stop) every 8 MB,
# about a tenth of a second (4 MB chunks measured slower: 0.72 s against 0.49 s
# to load 1M messages).
CHUNK_SIZE = INGEST_CHUNK_SIZE


class FileChangedError(PitchError):
    """The file changed while it was being ingested; the ingest is rolled back."""


class _Stopped(Exception):
    """Raised from the progress callback so stop() rolls an ingest back."""


class Watcher:
    """Ingest every complete file that appears in ``inbox``, one at a time.

    Observable without sleeping: :meth:`wait` blocks until a condition on the
    watcher holds, re-checked at each of its steps (an event marked a file, a
    file was taken, finished or rolled back, a look found nothing ready);
    ``scans``, ``finished`` and ``retried`` count those steps.
    """

    def __init__(self, conn: duckdb.DuckDBPyConnection, inbox: Path, *, polling: bool = False,
                 stable_seconds: float | None = None,
                 report: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``report`` (optional) gets one summary line per finished file; ``clock``
        (monotonic seconds) times the stability windows: tests pass one they move."""
        self.conn = conn
        self.inbox = Path(inbox).absolute()
        self.polling = polling
        self.stable_seconds = (settings.watch_stable_seconds() if stable_seconds is None
                               else stable_seconds)
        self.error: str | None = None
        self.scans = 0  # looks that found nothing ready
        self.finished = 0  # files moved to processed/ or failed/
        self.retried = 0  # ingests undone because the file changed meanwhile
        self._candidates = Candidates(self.inbox, self.stable_seconds, clock=clock)
        self.short_seconds = self._candidates.short_seconds  # shown by benchmarks/bench_watch.py
        self._report = report
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by events so a renamed file waits no tick
        self._steps = threading.Condition()
        self._step = 0  # bumped at every step, under _steps
        self._current: str | None = None
        self._progress: float | None = None
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self._observer: BaseObserver | None = None
        self._worker: threading.Thread | None = None

    @property
    def candidates(self) -> Candidates:
        """The files waiting to be complete (to read: the watcher feeds it)."""
        return self._candidates

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
            self._observer, self.polling = start_observer(self, self.inbox, self.polling,
                                                          self.stable_seconds)
            present = [p for p in self.inbox.iterdir() if p.is_file() and not ignored(p.name)]
        except OSError as exc:
            self.error = f"cannot watch {self.inbox}: {exc.strerror or exc}"
            log.info(self.error)  # status() and run_cli show it
            return
        # Events seen since the observer started know better (add keeps them).
        for path in sorted(present, key=lambda p: (file_key(str(p)) or (0, 0))[1]):
            self._candidates.add(str(path))
        self.error = None
        self._worker = threading.Thread(target=self._run, name="pitch-watch", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        """Stop promptly; a file being ingested is rolled back and stays in the inbox."""
        self._stop.set()
        self._wake.set()
        if self._observer:
            self._observer.stop()
            self._observer.join(STOP_TIMEOUT)
        if self._worker and self._worker is not threading.current_thread():
            self._worker.join(STOP_TIMEOUT)
        self._stepped()

    def status(self) -> dict[str, Any]:
        """What the Ingest page shows: folder, running, polling, queue, current, progress,
        recent (newest first), error."""
        queue = self._candidates.names()
        with self._lock:
            return {"folder": str(self.inbox), "running": self.running, "polling": self.polling,
                    "queue": queue, "current": self._current, "progress": self._progress,
                    "recent": [dict(r) for r in reversed(self._recent)], "error": self.error}

    def wait(self, condition: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Block until ``condition()`` is truthy and return it; TimeoutError at the deadline.

        The condition is checked now and after each step of the watcher (no
        polling loop, no sleep), without any of the watcher's locks held.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._steps:
                step = self._step
            if value := condition():
                return value
            with self._steps:
                while self._step == step:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(f"watcher: condition not met after {timeout} s")
                    self._steps.wait(left)

    def wait_looked(self, timeout: float = 30.0) -> None:
        """Block until the worker has looked at every candidate, all of it after this call,
        and found none ready (two looks: the one under way may have begun before)."""
        target = self.scans + 2
        self.wait(lambda: self.scans >= target, timeout)

    def _stepped(self) -> None:
        # Never called with _lock held: wait() checks conditions that take it.
        with self._steps:
            self._step += 1
            self._steps.notify_all()

    # -- event side (observer thread) --
    def _mark(self, path: str, state: str) -> None:
        if self._candidates.mark(path, state):
            self._wake.set()
            self._stepped()

    def _forget(self, path: str) -> None:
        self._candidates.forget(path)

    # -- worker side --
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready = self._candidates.pop_ready()
                if ready:
                    self._take(*ready)
                    continue
                self.scans += 1
                self._stepped()
            except Exception:  # the loop outlives anything one file can do
                log.exception("watcher: unexpected error")
            self._wake.wait(TICK)
            self._wake.clear()

    def _on_progress(self, done: int, total: int, stage: str) -> None:
        if self._stop.is_set():
            raise _Stopped
        self._progress = min(1.0, done / total) if total else None

    def _take(self, path: str, key: Key) -> None:
        name = safe_name(Path(path).name)
        with self._lock:
            self._current, self._progress = name, 0.0
        self._stepped()

        def unchanged() -> None:  # just before the commit: the file must be as it was taken
            if file_key(path) != key:
                raise FileChangedError(f"{name}: changed while being ingested")

        entry: dict[str, Any] = {"name": name, "messages": 0, "rejects": 0, "seconds": 0.0,
                                 "error": None}
        result = None
        try:
            result = ingest_path(self.conn, path, source="watch", progress=self._on_progress,
                                 chunk_size=CHUNK_SIZE, before_commit=unchanged)
        except _Stopped:
            return  # rolled back; the start-up scan takes it again
        except FileChangedError as exc:
            return self._again(path, f"{exc} (still being written?); rolled back")
        except Exception as exc:  # a bad file, never the watcher's end
            if self._stop.is_set():
                return  # the connection may be closing under us: not the file's fault
            if file_key(path) != key:  # what failed was a file still being written
                return self._again(path, f"{name}: changed while being ingested; rolled back")
            reason = str(exc) if isinstance(exc, PitchError) else f"{name}: {exc!r}"
            entry.update(status="failed", error=reason)
        else:
            entry.update(status=result.status, messages=result.messages, rejects=result.rejects,
                         seconds=round(result.seconds, 3))
        finally:
            with self._lock:
                self._current, self._progress = None, None
            self._stepped()
        if result is not None and file_key(path) != key:  # changed during the commit itself
            return self._undo(path, entry, result)
        self._finish(path, entry, result)

    def _undo(self, path: str, entry: dict[str, Any], result: Any) -> None:
        """Delete what landed of a file that changed during its commit; take it again later."""
        name, file_id = entry["name"], result.file_id
        if result.status == "duplicate":  # nothing was added
            return self._again(path, f"{name}: changed while being checked")
        try:
            store.delete_file(self.conn, file_id)
        except (PitchError, duckdb.Error) as exc:
            entry.update(status="failed", error=(
                f"{name}: changed while being committed as file {file_id}, which could not be "
                f"removed ({exc}); remove it (python -m pitch remove {file_id}, or on the "
                f"Ingest page) and drop the file again"))
            return self._finish(path, entry, None)
        self._again(path, f"{name}: changed while being committed; file {file_id} removed again")

    def _again(self, path: str, why: str) -> None:
        """Leave the file in the inbox, queued: it is taken again once it is complete."""
        self.retried += 1
        self._candidates.add(path)
        line = f"{why}; taking it again once it is complete"
        log.info(line)
        if self._report:
            self._report(line)
        self._stepped()

    def _finish(self, path: str, entry: dict[str, Any], result: Any) -> None:
        failed = entry["status"] == "failed"
        try:
            where = put_away(self.inbox, path, entry["name"], entry["error"] if failed else None)
        except OSError as exc:
            where = f"left in the inbox: cannot move it: {exc.strerror or exc}"
            entry["error"] = entry["error"] or where
        entry["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._lock:
            self._recent.append(entry)
        self.finished += 1
        line = f"{entry['error'] if failed else result.summary()} -> {where}"
        log.info(line)
        if self._report:
            self._report(line)
        self._stepped()


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
            _app = Watcher(conn, settings.inbox_dir(), polling=settings.current().watch_polling)
            _app.start()
            atexit.register(_app.stop)
        return _app
