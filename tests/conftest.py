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


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """A database of the real sample, ingested once for the module that asks."""
    from pitch import ingest, store

    conn = store.connect(tmp_path_factory.mktemp("real") / "real.duckdb")
    ingest.ingest_path(conn, SHARED_SAMPLE)
    yield conn
    conn.close()


def pytest_collection_modifyitems(config, items) -> None:
    """Modules with slow tests first, each module's tests kept in their order: with
    ``-n 2 --dist loadfile`` (pytest-xdist, the second phase of ./run-tests.sh) a
    module runs whole on one worker, in order (some share one server across their
    tests), and the long ones start at once instead of last with one worker idle."""
    slow = {item.module.__name__ for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.module.__name__ not in slow)
