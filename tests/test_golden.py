"""Golden files: small PITCH files in tests/data and their expected exports, byte for byte.

Each input is ingested into a fresh database and its messages, orders and
rejects exported as the pages and the API export them (every column, file
order); the bytes must equal the committed ``<input>.<table>.csv``. When an
export changes on purpose, rewrite them with ``PITCH_UPDATE_GOLDEN=1 pytest
tests/test_golden.py`` and read the diff before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pitch import ingest, queries
from pitch.filters import MessageFilter, OrderFilter

DATA = Path(__file__).resolve().parent / "data"
INPUTS = sorted(p for p in DATA.iterdir() if p.suffix in (".pitch", ".pcap", ".dat"))


def exports(db) -> dict[str, bytes]:
    return {
        "messages": queries.messages_csv(db, MessageFilter(), sort="file, line"),
        "orders": queries.orders_csv(db, OrderFilter(), sort="time"),
        "rejects": queries.rejects_csv(db, 1),
    }


@pytest.mark.parametrize("path", INPUTS, ids=[p.name for p in INPUTS])
def test_exports_equal_the_golden_files(db, path: Path) -> None:
    ingest.ingest_path(db, path)
    for table, got in exports(db).items():
        golden = DATA / f"{path.name}.{table}.csv"
        if os.environ.get("PITCH_UPDATE_GOLDEN") == "1":
            golden.write_bytes(got)
        assert golden.exists(), f"{golden.name} is missing: see this module's docstring"
        assert got == golden.read_bytes(), f"{golden.name} differs"


def test_the_golden_inputs_are_there() -> None:
    assert {p.name for p in INPUTS} >= {"edge.pitch", "session.pitch"}
