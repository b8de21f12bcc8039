"""File-system events for the folder watcher: watchdog's observer, turned into marks.

The handler never does any work itself: it tells :class:`pitch.watch.Watcher`
which path arrived or changed and how (renamed in, closed after writing,
being written), and the watcher's :class:`pitch.inbox.Candidates` decides
when the file is complete.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from watchdog.events import (FileClosedEvent, FileCreatedEvent, FileDeletedEvent,
                             FileModifiedEvent, FileMovedEvent, FileSystemEvent,
                             FileSystemEventHandler)
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from .inbox import CLOSED, RENAMED, UNKNOWN, WRITING

log = logging.getLogger(__name__)


class _QuietStop(logging.Filter):
    """Drop the error watchdog 7.1 logs for a harmless race while an observer stops."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "called when the thread is inactive" not in record.getMessage()


logging.getLogger("watchdog.observers.inotify").addFilter(_QuietStop())

_EVENTS = [FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileMovedEvent, FileDeletedEvent]


class Marks(Protocol):
    """What the handler tells: the watcher's side of the events."""

    polling: bool

    def _mark(self, path: str, state: str) -> None: ...

    def _forget(self, path: str) -> None: ...


class _Handler(FileSystemEventHandler):
    """Turns events into candidate marks."""

    def __init__(self, marks: Marks) -> None:
        self._w = marks

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


def start_observer(marks: Marks, folder: Path, polling: bool, stable_seconds: float
                   ) -> tuple[BaseObserver, bool]:
    """A started observer on ``folder`` feeding ``marks``, and whether it polls.

    Full inotify events tell a file moved in from elsewhere (complete) from a
    file being created; without inotify (or out of watches) it falls back to
    polling, every half ``stable_seconds`` (0.1 to 1 s).
    """
    observer: BaseObserver | None = None
    if not polling:
        try:
            from watchdog.observers.inotify import InotifyObserver
            observer = InotifyObserver(generate_full_events=True)
            observer.schedule(_Handler(marks), str(folder), event_filter=_EVENTS)
            observer.start()
            return observer, False
        except (ImportError, OSError) as exc:
            if observer is not None:
                observer.stop()
            log.warning("no file-system events for %s (%s); polling instead", folder, exc)
    observer = PollingObserver(timeout=max(0.1, min(1.0, stable_seconds / 2)))
    observer.schedule(_Handler(marks), str(folder), event_filter=_EVENTS)
    observer.start()
    return observer, True
