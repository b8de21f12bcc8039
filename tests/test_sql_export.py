"""The SQL page's CSV: capped at PITCH_SQL_EXPORT_ROWS, and saying so when it may cut.

The offer (button label, file name) and the bytes are plain functions of
:mod:`pitch.sql_export`; one AppTest checks the page uses them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from pitch import ids, sql_export
from pitch.sandbox import QueryResult, run_query

ROOT = Path(__file__).resolve().parent.parent


def _result(rows: int, truncated: bool) -> QueryResult:
    return QueryResult(pd.DataFrame({"x": range(rows)}), truncated, max(rows, 1), 0.0)


@pytest.mark.parametrize("rows, truncated, cap, label, file_name, complete", [
    (5, False, 10, "CSV of all 5 rows", "query.csv", True),
    (1, False, 10, "CSV of all 1 row", "query.csv", True),
    (10, False, 10, "CSV of all 10 rows", "query.csv", True),
    (10, True, 1_000_000, "CSV of the first 1,000,000 rows", "query-first-1000000-rows.csv",
     False),  # the page's answer was cut: the CSV may be too
    (8, False, 3, "CSV of the first 3 rows", "query-first-3-rows.csv", False),  # shown > cap
])
def test_offer_says_the_cap_on_the_button_and_in_the_file_name(rows, truncated, cap, label,
                                                              file_name, complete) -> None:
    offer = sql_export.csv_offer(_result(rows, truncated), cap)
    assert (offer.label, offer.file_name, offer.row_cap, offer.complete) == (
        label, file_name, cap, complete)
    if not complete:
        assert f"{cap:,}" in offer.help and "PITCH_SQL_EXPORT_ROWS" in offer.help


def test_cap_defaults_to_the_setting(monkeypatch) -> None:
    monkeypatch.setenv("PITCH_SQL_EXPORT_ROWS", "3")
    offer = sql_export.csv_offer(_result(5, True))
    assert (offer.label, offer.file_name, offer.row_cap) == (
        "CSV of the first 3 rows", "query-first-3-rows.csv", 3)


@pytest.mark.parametrize("cap, expected", [
    (3, "x\n0\n1\n2\n"),  # cut at the cap
    (10, "x\n0\n1\n2\n3\n4\n"),  # the whole answer
])
def test_query_csv_holds_at_most_the_cap(db, cap, expected) -> None:
    sql = "SELECT range AS x FROM range(5) ORDER BY x"
    assert sql_export.query_csv(db, sql, cap, 10.0).decode() == expected
    assert len(run_query(db, sql, row_limit=cap).frame) == min(cap, 5)


@pytest.fixture
def sql_page(tmp_path, monkeypatch):
    st.cache_data.clear()
    st.cache_resource.clear()
    monkeypatch.setenv("PITCH_DB", str(tmp_path / "app.duckdb"))
    monkeypatch.setenv("PITCH_INBOX", str(tmp_path / "inbox"))
    monkeypatch.setenv("PITCH_NO_WATCH", "1")
    monkeypatch.setenv("PITCH_NO_SAMPLE", "1")
    monkeypatch.setenv("PITCH_SQL_EXPORT_ROWS", "3")

    def open_with(sql: str, rows: int) -> AppTest:
        at = AppTest.from_file(str(ROOT / "explorer" / "router.py"), default_timeout=30)
        at.run()
        at.query_params.update(sql=sql, rows=str(rows))
        at.switch_page("../pages/sql.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    yield open_with
    st.cache_data.clear()
    st.cache_resource.clear()


def test_sql_page_button_says_when_the_csv_is_cut(sql_page) -> None:
    at = sql_page("SELECT range AS x FROM range(10)", 5)
    assert "the CSV below has the first 3 rows at most" in " ".join(w.value for w in at.warning)
    [button] = [b for b in at.get("download_button") if b.key == "csv_sql"]
    assert button.label == "CSV of the first 3 rows"
    assert "first 3 rows at most" in button.help
    at = sql_page("SELECT range AS x FROM range(2)", 5)
    [button] = [b for b in at.get("download_button") if b.key == "csv_sql"]
    assert button.label == "CSV of all 2 rows"


def test_columns_named_alike_export_each_one(db) -> None:
    """SQL may repeat a name (two ``a``, a join's two ``type``): the CSV names them as
    the page does (``a``, ``a_2``), each column its own; the first ``type`` decides the
    ids' form. It raised ``KeyError: 0`` before."""
    from pitch import ingest

    ingest.ingest_path(db, ROOT / "data" / "sample.pitch")
    sql = ("SELECT 1 AS a, 2 AS a, type, type, time_ns, time_ns, order_id "
           "FROM messages WHERE type = 'A' ORDER BY line_no LIMIT 1")
    want = db.execute(sql).fetchone()
    lines = sql_export.query_csv(db, sql, 10, 10.0).decode().splitlines()
    assert lines[0] == "a,a_2,type,type_2,time_ns,time,time_ns_2,order_id"
    row = lines[1].split(",")
    assert row[:4] == ["1", "2", "A", "A"] and row[4] == row[6] == str(want[4])
    assert row[7] == ids.format_id(want[6])
    assert sql_export.query_csv(db, "SELECT 1 AS a, 2 AS a_2, 3 AS a", 10, 10.0
                                ).decode().splitlines()[0] == "a,a_2,a_3"


def test_the_page_shows_and_offers_columns_named_alike(sql_page) -> None:
    at = sql_page("SELECT 1 AS a, 2 AS a", 5)
    assert list(at.dataframe[0].value.columns) == ["a", "a_2"]
    [button] = [b for b in at.get("download_button") if b.key == "csv_sql"]
    assert button.label == "CSV of all 1 row"
