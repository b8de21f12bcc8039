"""One error family for the whole package.

Decode problems are data (they become rejects); the other errors are what a
caller reports to a person in one line.
"""

from __future__ import annotations


class PitchError(Exception):
    """Base of every error this package raises on purpose."""


class DecodeError(PitchError):
    """A line that is not a valid PITCH message.

    ``reason`` is short and factual and names the field, e.g.
    ``shares is not numeric: '00a100'``; ``offset`` is the byte offset of the
    problem inside the line (leading ``S`` included) when known.
    """

    def __init__(self, reason: str, offset: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offset = offset


class IngestError(PitchError):
    """A whole file could not be ingested (unreadable, empty, not PITCH)."""


class DatabaseBusyError(PitchError):
    """Another process holds the database file."""


class QueryRefused(PitchError):
    """User SQL that the sandbox will not run."""
