"""A plain-text byte progress bar for long ingests on the command line.

Written to stderr so stdout stays clean for summaries and data. On a terminal
it redraws one line (``\\r  42% 120 MB/286 MB``); into a log or pipe it shows
only for big files, as one line per 10 %, so logs stay short. Once the bytes
are in, it says that orders and executions are being derived (about a fifth
of an ingest's time).
"""

from __future__ import annotations

import sys
from typing import TextIO

#: Files at least this big show progress even when stderr is not a terminal.
BIG_FILE = 64 * 1024 * 1024


def _mb(n: int) -> str:
    mb = n / 1e6
    return f"{mb:.1f} MB" if mb < 10 else f"{mb:,.0f} MB"


class ByteProgress:
    """Callable ``(bytes_done, bytes_total)`` as expected by :func:`pitch.ingest.ingest_path`."""

    def __init__(self, size: int, stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.tty = isatty() if tty is None else tty
        self.enabled = self.tty or size >= BIG_FILE
        self._last = -1  # last percent shown (tty) or last tenth shown (log)
        self._width = 0

    def __call__(self, done: int, total: int, stage: str = "reading") -> None:
        if not self.enabled or total <= 0:
            return
        percent = min(100, done * 100 // total)
        text = f"{percent:4d}% {_mb(done)}/{_mb(total)}"
        if stage == "deriving":
            text += ", deriving orders and executions"
            percent = 101  # shown once, after 100 %
        if self.tty:
            if percent != self._last:
                self._last = percent
                self._width = max(self._width, len(text))
                self.stream.write("\r" + text.ljust(self._width))
                self.stream.flush()
        elif percent // 10 > self._last or (percent == 101 and self._last < 11):
            self._last = 11 if percent == 101 else percent // 10
            self.stream.write(text + "\n")
            self.stream.flush()

    def finish(self) -> None:
        """Erase the bar (terminal) so the summary line that follows stands alone."""
        if self.enabled and self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
