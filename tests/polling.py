"""Waiting for something that happens on another thread or process, in tests."""

from __future__ import annotations

import time
from typing import Callable


def wait_for(check: Callable[[], object], timeout: float = 30.0) -> object:
    """Poll ``check`` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {check.__name__}")
