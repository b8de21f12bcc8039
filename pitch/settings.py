"""Settings with their defaults; each can be changed by an environment variable.

Every limit here is listed in the README and shown on screen when it bites.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def _float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def inbox_dir() -> Path:
    """The watched folder: ``$PITCH_INBOX`` or ``data/inbox``."""
    return Path(os.environ.get("PITCH_INBOX") or Path("data") / "inbox")


#: The committed sample the app loads into an empty database.
SAMPLE_FILE = ROOT / "data" / "sample.pitch"


def sql_row_limit() -> int:
    """Rows a user query may return before the answer is cut."""
    return _int("PITCH_SQL_ROW_LIMIT", 10_000)


def sql_timeout() -> float:
    """Seconds a user query may run before it is interrupted."""
    return _float("PITCH_SQL_TIMEOUT", 10.0)


def watch_stable_seconds() -> float:
    """How long a file's size must stay unchanged before the watcher takes it."""
    return _float("PITCH_WATCH_STABLE_SECONDS", 2.0)
