"""Shared fixtures: a fresh database per test and the real sample from ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_SAMPLE = ROOT.parent / "shared" / "pitch_data.txt"


@pytest.fixture
def real_sample() -> Path:
    """The 20,000-line real file the team keeps beside the repo (tests only)."""
    assert SHARED_SAMPLE.exists(), f"{SHARED_SAMPLE} is missing: clone the repo beside shared/"
    return SHARED_SAMPLE


@pytest.fixture
def db(tmp_path):
    """A new, empty database connection in a temporary folder."""
    from pitch import store

    conn = store.connect(tmp_path / "test.duckdb")
    yield conn
    conn.close()


def pytest_collection_modifyitems(config, items) -> None:
    """Slow tests first (the order is otherwise kept): with ``-n 2`` (pytest-xdist, the
    second phase of ./run-tests.sh) the long ones start at once, one per worker, instead
    of last with one worker idle."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
