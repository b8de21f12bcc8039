"""The Parquet archive: ``pitch export``, the ``bytes -> tables`` function, ``--archive``, the app.

The archive must equal the database table by table and row for row (the
file's key standing for the database's file id), for the seed sample, a
generated text session (gzipped), a generated binary capture with gaps and
retransmissions, and a file with a reject.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from pitch import archive, fmt, queries, store
from pitch.cli import main
from pitch.file_tables import (ARCHIVE_TABLES, ArchiveError, archive_schema, decode_file,
                               file_key, parse_date, session_date)
from pitch.errors import QueryRefused
from pitch.sandbox import run_query
from tests.archive_support import (BROKEN, RUN_COLUMNS, ROOT, archive_tables, assert_same,
                                   data_files, database_tables, describe, ingest_all, make_inputs,
                                   without)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[Path]:
    return make_inputs(tmp_path_factory.mktemp("inputs"))


@pytest.fixture(scope="module")
def db(tmp_path_factory, inputs) -> Path:
    path = tmp_path_factory.mktemp("db") / "pitch.duckdb"
    ingest_all(path, inputs)
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory, db) -> Path:
    out = tmp_path_factory.mktemp("archive") / "archive"
    assert main(["--db", str(db), "export", str(out)]) == 0
    return out


# -- the layout --------------------------------------------------------------------------------

def test_layout_is_table_date_file_with_content_keys(db, exported) -> None:
    conn = store.connect(db, read_only=True)
    files = conn.sql("SELECT name, sha256 FROM files").fetchall()
    rejects = conn.sql("SELECT count(*) FROM rejects").fetchall()[0][0]
    conn.close()
    expected_dates = {"sample_20240102.pitch": "2024-01-02",
                      "text-2024-01-03.pitch.gz": "2024-01-03",
                      "binary.pcap": "unknown", "rejects.pitch": "unknown"}
    found = data_files(exported)
    assert not (exported / archive.STAGING).exists()
    for name, sha in files:
        folder = f"date={expected_dates[name]}/file={file_key(sha)}"
        for table in ("messages", "orders", "files"):
            assert f"{table}/{folder}/part-0.parquet" in found, (name, table)
    assert rejects == 1 and len([f for f in found if f.startswith("rejects/")]) == 1
    assert len([f for f in found if f.startswith("gaps/")]) == 1  # only the capture has gaps
    for rel in found:
        meta = pq.ParquetFile(exported / rel).metadata
        assert meta.row_group(0).column(0).compression == "ZSTD"
        assert all(meta.row_group(i).num_rows <= archive.ROW_GROUP_ROWS
                   for i in range(meta.num_row_groups))
        table = rel.split("/")[0]
        written = [(f.name, f.type) for f in pq.read_schema(exported / rel)]
        assert written == [(f.name, f.type) for f in archive_schema(table)]


def test_rows_are_sorted_by_time_then_line_within_each_file(exported) -> None:
    for rel in data_files(exported):
        if rel.startswith(("messages/", "executions/")):
            rows = pq.read_table(exported / rel, columns=["time_ns", "line_no"]).to_pylist()
            keys = [(-1 if r["time_ns"] is None else r["time_ns"], r["line_no"]) for r in rows]
            assert keys == sorted(keys), rel


# -- equal to the database -----------------------------------------------------------------------

def test_archive_equals_the_database_table_by_table_row_for_row(db, exported) -> None:
    assert_same(database_tables(db), archive_tables(exported))


def test_views_have_the_database_columns_and_types(db, exported) -> None:
    conn, arc = store.connect(db, read_only=True), archive.connect(exported)
    try:
        for table in ARCHIVE_TABLES:
            ours, theirs = describe(conn, table), describe(arc, table)
            assert ours[0] == ("file_id", "INTEGER") and theirs[0] == ("file_id", "BIGINT")
            assert ours[1:] == theirs[1:], table
    finally:
        conn.close()
        arc.close()


def test_decode_file_is_the_database_pipeline(db, exported, inputs) -> None:
    """The pure function gives each file's rows exactly as the database holds them."""
    stored = archive_tables(exported)
    for path in inputs:
        got = decode_file(path.read_bytes(), path.name)
        assert got.error is None
        assert got.date == session_date(path.name)
        for table in ARCHIVE_TABLES:
            mine = stored[table].filter(stored[table]["file_id"].to_numpy() == got.file)
            left_out = ("file_id", *RUN_COLUMNS) if table == "files" else ("file_id",)
            mine = without(mine, left_out)
            theirs = without(got.tables[table], left_out)
            assert theirs.cast(mine.schema).equals(mine), (path.name, table)


def test_a_broken_file_is_a_failed_files_row_and_nothing_else() -> None:
    got = decode_file(BROKEN, "broken.png")
    assert got.error and got.error.startswith("not a PITCH file")
    assert [t for t in ARCHIVE_TABLES if got.tables[t].num_rows] == ["files"]
    row = got.tables["files"].to_pylist()[0]
    assert row["status"] == f"failed: {got.error}" and row["messages"] is None
    assert row["size"] == len(BROKEN) and got.file == file_key(row["sha256"])
    empty = decode_file(b"", "empty.pitch")
    assert empty.tables["files"].to_pylist()[0]["status"] == "failed: file is empty"


# -- reruns ----------------------------------------------------------------------------------------

def test_a_rerun_changes_nothing_and_a_new_date_moves_rather_than_doubles(db, exported,
                                                                           tmp_path) -> None:
    out = tmp_path / "archive"
    shutil.copytree(exported, out)
    before, files_before = archive_tables(out), data_files(out)
    assert main(["--db", str(db), "export", str(out)]) == 0
    assert data_files(out) == files_before
    assert_same(before, archive_tables(out))
    assert main(["--db", str(db), "export", str(out), "--date", "2024-05-06"]) == 0
    assert {f.split("/")[1] for f in data_files(out)} == {"date=2024-05-06"}
    assert len(data_files(out)) == len(files_before)
    moved = archive_tables(out)
    assert_same(before, moved)


# -- the command line and the settings -------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["counts"], ["top-symbols", "-n", "5"], ["files"],
    ["query", ("SELECT type, count(*) AS n, sum(shares) AS shares FROM messages GROUP BY type "
               "ORDER BY type")],
    ["query", ("SELECT symbol, side, count(*) AS n, sum(remaining_shares) AS open FROM orders "
               "GROUP BY ALL ORDER BY ALL")],
    ["query", "SELECT reason, raw FROM rejects"],
    ["query", "SELECT unit, sum(missing) AS missing FROM gaps GROUP BY unit ORDER BY unit"],
    ["book", "SPY", "--at", "12:00:00", "--levels", "5"], ["bbo", "SPY"],
])
def test_archive_answers_equal_the_database_answers(db, exported, capsys, argv) -> None:
    assert main(["--db", str(db), *argv, "--format", "json"]) == 0
    ours = json.loads(capsys.readouterr().out)
    assert main([*argv, "--archive", str(exported), "--format", "json"]) == 0
    theirs = json.loads(capsys.readouterr().out)
    assert ours, argv
    if argv == ["files"]:  # ids differ (a sequence number, a content key): compare the rest
        ours, theirs = ([{k: v for k, v in r.items() if k != "file_id"} for r in rows]
                        for rows in (ours, theirs))
        ours, theirs = (sorted(rows, key=lambda r: r["name"]) for rows in (ours, theirs))
    assert theirs == ours


def test_archive_errors_are_one_line(tmp_path, capsys) -> None:
    assert main(["counts", "--archive", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err == f"error: no archive at {tmp_path / 'none'}: not a folder\n"
    assert main(["export", str(tmp_path / "a"), "--date", "2024-02-30"]) == 2
    assert "must be a date as YYYY-MM-DD" in capsys.readouterr().err


@pytest.mark.parametrize("name, date, expected", [
    ("pitch_20240102.dat.gz", None, "2024-01-02"), ("BZX-2024-01-03-unit1.pcap", None, "2024-01-03"),
    ("unit12345678.pitch", None, "unknown"), ("x20241301_20240105", None, "2024-01-05"),
    ("2024010203.pitch", None, "unknown"), ("sample.pitch", None, "unknown"),
    ("pitch_20240102.gz", "2023-12-29", "2023-12-29"),
])
def test_session_dates(name, date, expected) -> None:
    assert session_date(name, date) == expected


@pytest.mark.parametrize("bad", ["2024-02-30", "20240102", "yesterday", "2024-1-2", ""])
def test_bad_dates_are_refused(bad) -> None:
    with pytest.raises(ArchiveError, match="must be a date"):
        parse_date(bad)


def test_file_key_is_52_bits_of_the_content_hash() -> None:
    assert file_key("f" * 64) == 2**52 - 1 and file_key("0" * 12 + "1" + "f" * 51) == 1


@pytest.mark.parametrize("older", ["every", "one"])
def test_an_archive_without_end_line_no_still_opens_and_books_exactly(exported, tmp_path,
                                                                      older) -> None:
    """Orders files written before schema 6 have no end_line_no: NULL there (every file,
    or one among newer ones, which DuckDB then reads by name), and the book is exact."""
    from pitch import book

    copy = tmp_path / "archive"
    shutil.copytree(exported, copy)
    parts = sorted((copy / "orders").glob("date=*/file=*/*.parquet"))
    for part in parts if older == "every" else parts[-1:]:
        pq.write_table(pq.read_table(part).drop_columns(["end_line_no"]), part)
    conn = archive.connect(copy)
    try:
        known, total = conn.execute("SELECT count(end_line_no), count(*) FROM orders").fetchone()
        assert total > 0 and (known == 0) == (older == "every") and known < total
        fid = conn.execute("SELECT file_id FROM files WHERE name LIKE 'sample%'").fetchone()[0]
        full = book.load(conn, "SPY", fid)
        for at in (28_800_500_000_000, 28_900_000_000_000, None):
            assert book.book_at(conn, "SPY", at, 10**6, fid).equals(full.levels_at(at, 10**6))
    finally:
        conn.close()


# -- read-only and sandboxed -----------------------------------------------------------------------

def test_the_archive_connection_reads_only_the_archive(exported, tmp_path) -> None:
    conn = archive.connect(exported)
    try:
        for sql in (f"SELECT * FROM read_parquet('{exported}/files/*/*/*.parquet')",
                    "SELECT * FROM read_csv('/etc/passwd')", "DELETE FROM files"):
            with pytest.raises(QueryRefused):
                run_query(conn, sql)
        for sql in ("SELECT * FROM read_csv('/etc/passwd')",
                    f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'",
                    "SET allowed_directories = ['/']"):
            with pytest.raises(Exception, match="disabled by configuration|locked"):
                conn.cursor().execute(sql)
        assert not (tmp_path / "x.csv").exists()
        assert run_query(conn, "SELECT count(*) AS n FROM messages").frame["n"][0] > 0
    finally:
        conn.close()


# -- the app ----------------------------------------------------------------------------------------

@pytest.fixture
def app_on_archive(exported, tmp_path, monkeypatch):
    st.cache_data.clear()
    st.cache_resource.clear()
    monkeypatch.setenv("PITCH_ARCHIVE", str(exported))
    monkeypatch.setenv("PITCH_DB", str(tmp_path / "unused.duckdb"))
    monkeypatch.setenv("PITCH_INBOX", str(tmp_path / "inbox"))
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def test_every_page_works_on_an_archive_and_ingest_says_read_only(app_on_archive, db,
                                                                    exported, tmp_path) -> None:
    at = AppTest.from_file(str(ROOT / "explorer" / "router.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    conn = store.connect(db, read_only=True)
    totals = queries.totals(conn)
    conn.close()
    expected = "  \n".join(f"**{fmt.count(totals[k])}** {fmt.plural(totals[k], k[:-1])}"
                           for k in ("messages", "files", "rejects"))
    assert expected in [str(m.value) for m in at.sidebar.markdown]  # the database's totals
    assert any("read-only" in str(c.value) for c in at.sidebar.caption)
    for page in ("overview", "messages", "orders", "symbols", "ingest", "sql"):
        at.switch_page(f"../pages/{page}.py").run()
        assert not at.exception, (page, at.exception)
        notes = " ".join(str(i.value) for i in at.info)
        assert "No data yet" not in notes, page
        if page == "ingest":
            assert "read-only" in notes
            assert not at.get("file_uploader") and not at.button  # nothing to load or remove
            names = set(at.dataframe[0].value["name"])
            assert names == {"sample_20240102.pitch", "text-2024-01-03.pitch.gz", "binary.pcap",
                             "rejects.pitch"}
    # A file picked by its key (52 bits: more than a JavaScript int32, less than 2**53).
    conn = store.connect(db, read_only=True)
    name, sha, count = conn.sql("SELECT name, sha256, messages FROM files "
                                "WHERE name = 'sample_20240102.pitch'").fetchall()[0]
    conn.close()
    at.switch_page("../pages/messages.py").run()
    at.selectbox(key="file").select(file_key(sha)).run()
    assert not at.exception, at.exception
    line = next(m.value for m in at.main.markdown if ": **" in str(m.value))
    assert line.endswith(f"**{fmt.count(count)}**"), (name, line)
    assert not (tmp_path / "unused.duckdb").exists()  # the database was never opened
    assert not (tmp_path / "inbox").exists()  # and no folder was watched
