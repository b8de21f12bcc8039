"""The watched folder's rules: which names wait, where done files go, when a file is complete.

No threads and no observer here: :class:`Candidates` is fed marks (from
file-system events, or a scan) and asked which file is ready, with the clock
and ``stat`` injectable, so the stability rules are tested without sleeping.
:mod:`pitch.watch` runs it.

A file is complete when it was closed after writing or renamed into the
folder and then stayed unchanged (size and mtime) for a short window. A file
seen being written (inotify) waits for its close, however long the writer
stalls. Where no event tells (polling observer for network and container
mounts, files present at start-up) it must stay unchanged for
``stable_seconds``.
"""

from __future__ import annotations

import os
import shutil
import stat as stat_mod
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .names import NAME_MAX, fit, safe_name

PROCESSED, FAILED = "processed", "failed"
#: Names a writer uses while a file is unfinished; ignored until renamed.
TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", "~")
ERROR_SUFFIX = ".error.txt"
SHORT_SECONDS = 0.5  # unchanged time asked of a file closed after writing or renamed in
# With inotify, a file whose writing we saw start waits for its close event: a
# writer that stalls is not done. Only after this long unchanged (a hard link
# made into the folder sends no close) is it taken anyway.
WRITING_SECONDS = 60.0

# RENAMED: moved in whole (a rename is atomic); CLOSED: closed after writing;
# WRITING: being written (inotify saw it); UNKNOWN: no event tells.
RENAMED, CLOSED, WRITING, UNKNOWN = "renamed", "closed", "writing", "unknown"

#: (size, mtime_ns): what "unchanged" compares.
Key = tuple[int, int]


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


def put_away(folder: Path, path: str, name: str, error: str | None) -> str:
    """Move a finished file into ``processed/``, or with an ``error`` into ``failed/``
    beside ``<name>.error.txt`` saying why; return where (``processed/<name>``).

    Never overwrites (:func:`free_name`); raises OSError when it cannot move.
    """
    dest = free_name(folder / (FAILED if error else PROCESSED), name)
    shutil.move(path, dest)
    if error:
        dest.with_name(dest.name + ERROR_SUFFIX).write_text(error + "\n")
    return f"{dest.parent.name}/{dest.name}"


def file_key(path: str, stat: Callable[[str], os.stat_result] = os.stat) -> Key | None:
    """``(size, mtime_ns)`` of a regular file, None when it is gone or not a file."""
    try:
        st = stat(path)
    except OSError:
        return None
    if not stat_mod.S_ISREG(st.st_mode):
        return None
    return st.st_size, st.st_mtime_ns


@dataclass
class Candidate:
    """One file that may be ready: how it arrived and since when it is unchanged."""

    state: str = UNKNOWN
    seen: Key | None = None  # (size, mtime_ns) at the last look
    since: float = 0.0  # clock time of the last event or change of `seen`


class Candidates:
    """Files of one folder that may be ready, in arrival order; thread-safe.

    ``clock`` (monotonic seconds) and ``stat`` are injectable: tests move time
    by hand instead of sleeping.
    """

    def __init__(self, folder: Path, stable_seconds: float, *,
                 clock: Callable[[], float] = time.monotonic,
                 stat: Callable[[str], os.stat_result] = os.stat) -> None:
        self.folder = Path(folder)
        self.stable_seconds = stable_seconds
        self.short_seconds = min(SHORT_SECONDS, stable_seconds)
        self.clock = clock
        self._stat = stat
        self._lock = threading.Lock()
        self._items: dict[str, Candidate] = {}  # insertion order = arrival order

    def mark(self, path: str, state: str) -> bool:
        """An event said ``path`` arrived or changed (``state``); False when it is not ours."""
        p = Path(path)
        if p.parent != self.folder or ignored(p.name):
            return False
        with self._lock:
            cand = self._items.setdefault(path, Candidate())
            cand.state, cand.since = state, self.clock()
        return True

    def add(self, path: str) -> None:
        """Queue ``path`` with no event to vouch for it (start-up scan, a retry).

        A candidate already queued keeps what its events said.
        """
        with self._lock:
            self._items.setdefault(path, Candidate(since=self.clock()))

    def forget(self, path: str) -> None:
        """``path`` was deleted or moved away."""
        with self._lock:
            self._items.pop(path, None)

    def names(self) -> list[str]:
        """The queued file names, in arrival order."""
        with self._lock:
            return [Path(p).name for p in self._items]

    def states(self) -> dict[str, str]:
        """What the events said of each queued path (renamed, closed, writing, unknown)."""
        with self._lock:
            return {p: c.state for p, c in self._items.items()}

    def pop_ready(self) -> tuple[str, Key] | None:
        """Remove and return the earliest-arrived complete file, with its key; else None."""
        with self._lock:
            items = list(self._items.items())
        for path, cand in items:
            key = file_key(path, self._stat)  # outside the lock: a stat can be slow
            now = self.clock()
            with self._lock:
                if key is None:  # gone, or not a regular file
                    self._items.pop(path, None)
                    continue
                if cand.seen != key:
                    cand.seen, cand.since = key, now
                if now - cand.since >= self.window(cand.state, key[0]):
                    if self._items.get(path) is cand:
                        del self._items[path]
                        return path, key
        return None

    def window(self, state: str, size: int) -> float:
        """Seconds a candidate must stay unchanged before it is taken."""
        if state == WRITING:
            return max(WRITING_SECONDS, self.stable_seconds)
        if not size:  # an empty file may be a writer that has not begun
            return self.stable_seconds
        return {RENAMED: 0.0, CLOSED: self.short_seconds}.get(state, self.stable_seconds)
