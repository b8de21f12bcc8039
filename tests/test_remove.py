"""Removing one file: every per-file table, one transaction, the other files untouched.

The store function (:func:`pitch.store.delete_file`) and its transaction
helper, then its two faces: ``python -m pitch remove FILE_ID`` and the Ingest
page's button behind a confirmation.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from pitch import capture_write, ingest, settings, store
from pitch.cli import main
from pitch.generate_binary import session

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "pitch_data.txt"
WITH_REJECT = b"S28800011AXXXX\n"


def counts(conn) -> dict[tuple[str, int], int]:
    """Rows per (table, file_id) in every per-file table."""
    out = {}
    for table in store.FILE_TABLES:
        for file_id, n in conn.execute(f"SELECT file_id, count(*) FROM {table} GROUP BY file_id"
                                       ).fetchall():
            out[(table, file_id)] = n
    return out


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """Three files: the real file, the generated sample with one reject (file 2: rows in
    every table), and a slice of the real file."""
    folder = tmp_path_factory.mktemp("remove")
    (folder / "sample.pitch").write_bytes(WITH_REJECT + settings.SAMPLE_FILE.read_bytes())
    (folder / "part.pitch").write_bytes(b"".join(REAL.read_bytes().splitlines(True)[:3000]))
    # a binary capture with gaps: rows in the binary tables (file 4)
    (folder / "gaps.pcap").write_bytes(capture_write.write_pcap(
        session(5_000, seed=3, gaps=True).units))
    path = folder / "three.duckdb"
    conn = store.connect(path)
    for f in (REAL, folder / "sample.pitch", folder / "part.pitch", folder / "gaps.pcap"):
        ingest.ingest_path(conn, f)
    conn.close()
    return path


@pytest.fixture
def three(template, tmp_path):
    """A connection to a copy of the three-file database."""
    shutil.copy(template, tmp_path / "db.duckdb")
    conn = store.connect(tmp_path / "db.duckdb")
    yield conn
    conn.close()


def test_the_tuple_names_every_table_with_rows_per_file(three) -> None:
    with_file_id = {t for (t,) in three.execute(
        "SELECT table_name FROM duckdb_columns() WHERE column_name = 'file_id' "
        "AND database_name = current_database() AND NOT internal AND table_name IN "
        "(SELECT table_name FROM duckdb_tables() WHERE database_name = current_database())"
    ).fetchall()}
    assert with_file_id == set(store.FILE_TABLES)
    assert store.FILE_TABLES[-1] == "files"


def test_delete_file_removes_one_file_from_every_table_and_nothing_else(three) -> None:
    before = counts(three)
    # files 2 (text) and 4 (binary) have rows in every table between them
    assert {t for t, f in before if f in (2, 4)} == set(store.FILE_TABLES)
    row = store.delete_file(three, 2)
    assert row == {"file_id": 2, "name": "sample.pitch", "messages": 50_000, "rejects": 1}
    after = counts(three)
    assert after == {k: n for k, n in before.items() if k[1] != 2}
    store.delete_file(three, 4)
    assert counts(three) == {k: n for k, n in before.items() if k[1] not in (2, 4)}


def test_unknown_id_is_refused_and_changes_nothing(three) -> None:
    before = counts(three)
    with pytest.raises(store.UnknownFileError, match="^no file with id 9$"):
        store.delete_file(three, 9)
    assert counts(three) == before


def test_a_removed_file_can_be_ingested_again(three, tmp_path) -> None:
    again = tmp_path / "sample-again.pitch"
    again.write_bytes(WITH_REJECT + settings.SAMPLE_FILE.read_bytes())
    assert ingest.ingest_path(three, again).status == "duplicate"
    before = counts(three)
    store.delete_file(three, 2)
    result = ingest.ingest_path(three, again)
    assert (result.status, result.messages, result.rejects) == ("ingested", 50_000, 1)
    after = counts(three)
    assert {(t, f): n for (t, f), n in after.items() if f == result.file_id} == {
        (t, result.file_id): n for (t, f), n in before.items() if f == 2}


class _Interrupt(str):
    """A table name whose use in the statement is Ctrl-C."""

    def __format__(self, spec: str) -> str:
        raise KeyboardInterrupt


@pytest.mark.parametrize("tables, error", [
    (("messages_common", "rejects", "no_such_table", "files"), duckdb.Error),
    (("messages_common", "messages_other", "rejects", _Interrupt("orders"), "files"),
     KeyboardInterrupt),
], ids=["database error", "interrupt"])
def test_a_failure_mid_way_rolls_everything_back(three, monkeypatch, tables, error) -> None:
    before = counts(three)
    monkeypatch.setattr(store, "FILE_TABLES", tables)
    with pytest.raises(error):
        store.delete_file(three, 2)
    monkeypatch.undo()
    assert counts(three) == before
    three.execute("BEGIN")  # no transaction was left open on the connection
    three.execute("ROLLBACK")
    assert store.delete_file(three, 2)["file_id"] == 2


def test_delete_all_empties_every_per_file_table(three) -> None:
    store.delete_all(three)
    assert counts(three) == {}
    assert three.execute("SELECT count(*) FROM message_types").fetchone()[0] > 0


@pytest.mark.parametrize("raised", [ValueError, KeyboardInterrupt])
def test_transaction_commits_or_rolls_back(db, raised) -> None:
    cur = db.cursor()
    cur.execute("CREATE TABLE t (x INTEGER)")
    with store.transaction(cur):
        cur.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(raised):
        with store.transaction(cur):
            cur.execute("INSERT INTO t VALUES (2)")
            raise raised
    with store.transaction(cur, rollback=True):
        cur.execute("INSERT INTO t VALUES (3)")
    assert cur.execute("SELECT list(x) FROM t").fetchone()[0] == [1]
    with pytest.raises(duckdb.Error):  # a failed statement: the rest is undone too
        with store.transaction(cur):
            cur.execute("INSERT INTO t VALUES (4)")
            cur.execute("INSERT INTO t VALUES ('four')")
    assert cur.execute("SELECT list(x) FROM t").fetchone()[0] == [1]


# -- the command line ----------------------------------------------------------------------------

def test_cli_remove(three, capsys) -> None:
    path = three.execute("SELECT path FROM duckdb_databases() WHERE database_name = "
                         "current_database()").fetchone()[0]
    before = counts(three)
    three.close()
    assert main(["--db", path, "remove", "2"]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("removed file 2 (sample.pitch): 50,000 messages, 1 rejects\n", "")
    assert main(["--db", path, "remove", "2"]) == 1  # gone now: unknown
    out, err = capsys.readouterr()
    assert (out, err) == ("", "error: no file with id 2 (python -m pitch files lists them); "
                              "nothing removed\n")
    assert main(["--db", path, "remove", "two"]) == 2
    assert "usage:" in capsys.readouterr().err
    conn = store.connect(path)
    try:
        assert counts(conn) == {k: n for k, n in before.items() if k[1] != 2}
    finally:
        conn.close()


# -- the Ingest page -------------------------------------------------------------------------------

@pytest.fixture
def app(template, tmp_path, monkeypatch):
    st.cache_data.clear()
    st.cache_resource.clear()
    shutil.copy(template, tmp_path / "app.duckdb")
    monkeypatch.setenv("PITCH_DB", str(tmp_path / "app.duckdb"))
    monkeypatch.setenv("PITCH_INBOX", str(tmp_path / "inbox"))
    monkeypatch.setenv("PITCH_NO_WATCH", "1")
    monkeypatch.setenv("PITCH_NO_SAMPLE", "1")
    at = AppTest.from_file(str(ROOT / "explorer" / "router.py"), default_timeout=30)
    at.run()
    at.switch_page("../pages/ingest.py").run()
    assert not at.exception, [e.value for e in at.exception]
    yield at
    st.cache_data.clear()
    st.cache_resource.clear()


def test_ingest_page_removes_one_file_after_a_confirmation(app) -> None:
    button = app.button(key="remove_button")
    assert button.disabled  # nothing picked
    app.selectbox(key="remove_file").set_value(2).run()
    assert app.checkbox(key="confirm_remove").label == "Yes, delete its 50,000 messages"
    assert app.button(key="remove_button").disabled  # not confirmed yet
    app.checkbox(key="confirm_remove").check().run()
    app.button(key="remove_button").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert [s.value for s in app.success] == [
        "Removed file 2 (sample.pitch): 50,000 messages, 1 rejects. The same file can be "
        "loaded again."]
    assert app.selectbox(key="remove_file").value is None
    assert app.checkbox(key="confirm_remove").value is False
    files = app.dataframe[0].value
    assert sorted(files["name"]) == ["gaps.pcap", "part.pitch", "pitch_data.txt"]
