"""The Book page driven headless with AppTest: its state in the URL, what it shows, its errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app_support import fresh_caches  # noqa: F401 (autouse)
from pitch import book, ingest, store

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT.parent / "shared" / "pitch_data.txt"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("book-page") / "loaded.duckdb"
    conn = store.connect(path)
    ingest.ingest_path(conn, SAMPLE)
    conn.close()
    return path


@pytest.fixture
def loaded(tmp_path, monkeypatch, template) -> Path:
    for name, value in (("PITCH_DB", tmp_path / "app.duckdb"), ("PITCH_INBOX", tmp_path / "in"),
                        ("PITCH_NO_WATCH", "1"), ("PITCH_NO_SAMPLE", "1")):
        monkeypatch.setenv(name, str(value))
    shutil.copy(template, tmp_path / "app.duckdb")
    return tmp_path


def book_page(**query: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "explorer" / "router.py"), default_timeout=60)
    at.run()
    at.query_params.update(query)
    at.switch_page("../pages/book.py").run()
    assert not at.exception, at.exception
    return at


def text(at: AppTest) -> str:
    parts = [e.value for kind in ("subheader", "caption", "info", "error", "markdown")
             for e in getattr(at, kind)]
    return " | ".join(map(str, parts))


def test_symbol_and_instant_from_the_url(loaded) -> None:
    at = book_page(symbol="SPY", at="08:01:30.250", levels="3")
    shown = text(at)
    assert "SPY: depth at 08:01:30.250" in shown
    assert "SPY: best bid and offer" in shown
    assert "changes of the best bid or offer" in shown
    assert at.selectbox(key="symbol").value == "SPY"
    assert at.text_input(key="at").value == "08:01:30.250"
    depth = at.dataframe[0].value
    assert list(depth.columns) == ["side", "price", "shares", "orders"] and len(depth) == 6
    labels = [b.label for b in at.get("download_button")]
    assert "CSV of these 6 levels" in labels and any(l.startswith("CSV of all") for l in labels)


def test_end_of_session_by_default(loaded) -> None:
    at = book_page(symbol="SPY")
    assert "SPY: depth at the end of the session" in text(at)


def test_no_symbol_yet(loaded) -> None:
    at = book_page()
    assert "Pick a symbol" in text(at)


def test_a_bad_instant_is_said(loaded) -> None:
    at = book_page(symbol="SPY", at="8 o'clock")
    assert "not a time of day" in text(at)


def test_empty_database(tmp_path, monkeypatch) -> None:
    for name, value in (("PITCH_DB", tmp_path / "e.duckdb"), ("PITCH_INBOX", tmp_path / "in"),
                        ("PITCH_NO_WATCH", "1"), ("PITCH_NO_SAMPLE", "1")):
        monkeypatch.setenv(name, str(value))
    at = book_page()
    assert "No data yet" in text(at)


def test_the_page_shows_what_the_full_replay_gives(loaded, template) -> None:
    """The page reads the fast paths (book_fast, bbo_fast): its depth table and the head
    of its BBO table equal the slow, obviously correct replay of every message."""
    at = book_page(symbol="SPY", at="08:01:30.250", levels="5")
    conn = store.connect(template, read_only=True)  # the app's copy is open in-process
    whole = book.load(conn, "SPY")
    conn.close()
    depth = at.dataframe[0].value.reset_index(drop=True)
    pd.testing.assert_frame_equal(depth, whole.levels_at(book.parse_time("08:01:30.250"), 5),
                                  check_dtype=False)
    shown = at.dataframe[1].value.reset_index(drop=True)
    assert len(shown) == min(1_000, len(whole.bbo())) > 10
    assert shown["line_no"].tolist() == whole.bbo()["line_no"].head(len(shown)).tolist()
