"""Ingest: every line accounted for, files land whole and once."""

from __future__ import annotations

import gzip
from collections import Counter

import duckdb
import pytest

from pitch import ingest, ingest_text, queries, settings, store
from pitch.errors import IngestError

A1 = b"S28800011AAK27GA0000DTS000100SH    0000619200Y"
A2 = b"S28800012ABK27GA00000KB001000SSO   0000763800Y"
X1 = b"S28800013XAK27GA0000DT000100"


def table_counts(conn) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("files", "messages", "rejects", "orders", "executions")}


def test_real_sample_lands_whole(db, real_sample) -> None:
    result = ingest.ingest_path(db, real_sample)
    assert (result.status, result.messages, result.rejects) == ("ingested", 20_000, 0)
    counts = dict(zip(*[queries.message_type_counts(db)[c] for c in ("code", "count")]))
    assert counts == {"A": 10_361, "X": 9_592, "P": 27, "E": 20}
    # Independent count from the raw bytes: the type is the 10th byte of each line.
    raw = Counter(chr(line[9]) for line in real_sample.read_bytes().split(b"\n"))
    assert counts == dict(raw)
    row = db.execute("SELECT name, size, messages, rejects, status, first_time_ns, last_time_ns "
                     "FROM files").fetchone()
    assert row == ("pitch_data.txt", 767_520, 20_000, 0, "ingested",
                   28_800_011_000_000, 28_963_734_000_000)


def test_columns_are_typed(db, real_sample) -> None:
    ingest.ingest_path(db, real_sample)
    types = dict(db.execute("SELECT column_name, data_type FROM duckdb_columns() "
                            "WHERE table_name = 'messages'").fetchall())
    assert types["order_id"] == "UBIGINT" and types["execution_id"] == "UBIGINT"
    assert types["price"] == "DECIMAL(18,4)" and types["shares"] == "BIGINT"
    assert types["time_ns"] == "BIGINT" and types["line_no"] == "BIGINT"
    price = db.execute("SELECT price::VARCHAR FROM messages WHERE line_no = 1").fetchone()[0]
    assert price == "61.9200"


def test_same_file_twice_adds_nothing(db, real_sample) -> None:
    first = ingest.ingest_path(db, real_sample)
    before = table_counts(db)
    again = ingest.ingest_path(db, real_sample, name="renamed.txt")
    assert again.status == "duplicate" and again.file_id == first.file_id
    assert "already ingested" in again.summary()
    assert table_counts(db) == before


def test_gzip_is_read_and_is_the_same_file(db, real_sample) -> None:
    data = real_sample.read_bytes()
    packed = ingest.ingest_bytes(db, gzip.compress(data), "day.txt.gz")
    assert (packed.status, packed.messages) == ("ingested", 20_000)
    assert ingest.ingest_bytes(db, data, "day.txt").status == "duplicate"
    assert ingest.ingest_bytes(db, gzip.compress(data, 1), "again.gz").status == "duplicate"
    assert table_counts(db)["files"] == 1


@pytest.mark.parametrize("data", [
    A1 + b"\r\n" + A2 + b"\r\n",  # CRLF
    A1 + b"\n" + A2,  # no final newline
    b"\n" + A1 + b"\n\n" + A2 + b"\n\n",  # blank lines
    A1[1:] + b"\n" + A2[1:],  # no leading S
])
def test_real_file_shapes(db, data: bytes) -> None:
    result = ingest.ingest_bytes(db, data, "shapes.txt")
    assert (result.messages, result.rejects) == (2, 0)
    assert db.execute("SELECT symbol FROM messages ORDER BY line_no").fetchall() == [("SH",), ("SSO",)]


def test_bad_lines_are_kept_and_good_lines_land(db) -> None:
    data = b"\n".join([A1, b"S28800011ZAK27GA0000DT", A2, b"\xff\xfe", X1])
    result = ingest.ingest_bytes(db, data, "mixed.txt")
    assert (result.status, result.messages, result.rejects) == ("ingested", 3, 2)
    assert result.first_reject == "line 2: unknown message type 'Z'"
    assert db.execute("SELECT line_no FROM messages ORDER BY 1").fetchall() == [(1,), (3,), (5,)]
    rejects = db.execute("SELECT file_id, line_no, byte_offset, raw, reason FROM rejects "
                         "ORDER BY line_no").fetchall()
    assert rejects == [
        (result.file_id, 2, len(A1) + 1, b"S28800011ZAK27GA0000DT", "unknown message type 'Z'"),
        (result.file_id, 4, len(A1) + 1 + 23 + len(A2) + 1, b"\xff\xfe", "non-ASCII byte 0xff at offset 0"),
    ]
    assert db.execute("SELECT status, rejects FROM files").fetchone() == ("ingested with rejects", 2)


@pytest.mark.parametrize("data,reason", [
    (b"", "file is empty"),
    (b"\n\n\r\n", "only blank lines"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8, "not a PITCH file"),
    (b"symbol,price\nAAPL,1.0\n", "not a PITCH file: no line is a PITCH message (line 1:"),
    (gzip.compress(A1 * 1000)[:-30], "cannot read"),  # truncated gzip
])
def test_unusable_files_change_nothing(db, real_sample, data: bytes, reason: str) -> None:
    ingest.ingest_path(db, real_sample)
    before = table_counts(db)
    with pytest.raises(IngestError) as err:
        ingest.ingest_bytes(db, data, "bad.bin")
    assert str(err.value).startswith("bad.bin: ") and reason in str(err.value)
    assert table_counts(db) == before


def test_a_failure_midway_rolls_back_everything(db, real_sample) -> None:
    calls = []

    def stop_after_first_chunk(done: int, total: int, stage: str) -> None:
        calls.append(done)
        if len(calls) == 2:
            raise KeyboardInterrupt  # a user's Ctrl-C in the middle

    with pytest.raises(KeyboardInterrupt):
        ingest.ingest_path(db, real_sample, chunk_size=100_000, progress=stop_after_first_chunk)
    assert table_counts(db) == {t: 0 for t in ("files", "messages", "rejects", "orders", "executions")}
    result = ingest.ingest_path(db, real_sample)  # and it can land afterwards
    assert result.messages == 20_000


def test_progress_reports_real_bytes(db, real_sample) -> None:
    seen = []
    ingest.ingest_path(db, real_sample, chunk_size=100_000,
                       progress=lambda d, t, s: seen.append((d, t, s)))
    assert len(seen) >= 8
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)
    assert seen[-2:] == [(767_520, 767_520, "reading"), (767_520, 767_520, "deriving")]
    assert {s for _, _, s in seen[:-1]} == {"reading"}


def test_a_stop_while_deriving_rolls_back(db, real_sample) -> None:
    def stop_when_deriving(done: int, total: int, stage: str) -> None:
        if stage == "deriving":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest.ingest_path(db, real_sample, progress=stop_when_deriving)
    assert table_counts(db) == {t: 0 for t in ("files", "messages", "rejects", "orders", "executions")}


def test_unreadable_path(db, tmp_path) -> None:
    with pytest.raises(IngestError, match="missing.txt: cannot read"):
        ingest.ingest_path(db, tmp_path / "missing.txt")


def test_database_busy_is_one_clear_error(tmp_path) -> None:
    import subprocess
    import sys

    path = tmp_path / "held.duckdb"
    holder = subprocess.Popen([sys.executable, "-c",
                               f"import duckdb, sys, time; c = duckdb.connect({str(path)!r}); "
                               "print('ready', flush=True); time.sleep(30)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        from pitch.errors import DatabaseBusyError
        with pytest.raises(DatabaseBusyError, match="in use by another process"):
            store.connect(path)
    finally:
        holder.kill()
        holder.wait()


def test_many_rejects_are_spooled_in_order(db, monkeypatch) -> None:
    monkeypatch.setattr(ingest_text, "SPOOL_REJECTS", 7)
    lines = []
    for i in range(60):
        lines.append(A1 if i % 3 == 0 else b"S2880001%dZ" % (i % 10))
    result = ingest.ingest_bytes(db, b"\n".join(lines), "spooled.txt", chunk_size=64)
    assert (result.messages, result.rejects) == (20, 40)
    got = db.execute("SELECT line_no, raw FROM rejects ORDER BY rowid").fetchall()
    assert [g[0] for g in got] == [i + 1 for i in range(60) if i % 3]
    assert all(raw == lines[n - 1] for n, raw in got)


def test_a_version_1_database_migrates_on_open(tmp_path, real_sample) -> None:
    """Version 1 had one wide messages table and orders.end_line_no."""
    new = store.connect(tmp_path / "v2.duckdb")
    ingest.ingest_path(new, real_sample)
    ingest.ingest_path(new, settings.SAMPLE_FILE)  # every message type
    new.close()
    old = duckdb.connect(str(tmp_path / "v1.duckdb"))
    old.execute(f"ATTACH '{tmp_path / 'v2.duckdb'}' AS v2 (READ_ONLY)")
    for table in ("meta", "message_types", "files", "rejects", "executions"):  # unchanged
        old.execute(f"CREATE TABLE {table} ({store.TABLES[table]})")
        old.execute(f"INSERT INTO {table} SELECT * FROM v2.{table}")
    old.execute("CREATE TABLE messages AS SELECT * FROM v2.messages ORDER BY file_id, line_no")
    # version 1's end_line_no was the line of the id's next add: not schema 6's
    old.execute("CREATE TABLE orders AS SELECT * EXCLUDE (end_line_no), "
                "line_no + 1 AS end_line_no FROM v2.orders")
    old.execute("CREATE SEQUENCE file_ids START 2")
    old.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    old.close()

    conn = store.connect(tmp_path / "v1.duckdb")  # migrates
    assert ingest.ingest_path(conn, real_sample).status == "duplicate"
    conn.close()
    conn = duckdb.connect(str(tmp_path / "v1.duckdb"), read_only=True)
    conn.execute(f"ATTACH '{tmp_path / 'v2.duckdb'}' AS v2 (READ_ONLY)")
    for table in ("messages", "orders", "executions"):
        diff = conn.execute(f"SELECT count(*) FROM (SELECT * EXCLUDE (end_line_no) FROM {table} "
                            f"EXCEPT ALL SELECT * EXCLUDE (end_line_no) FROM v2.{table})"
                            if table == "orders" else
                            f"SELECT count(*) FROM (FROM {table} EXCEPT ALL FROM v2.{table})"
                            ).fetchone()[0]
        assert diff == 0 and table_counts(conn)[table] > 0, table
    kinds = dict(conn.execute("SELECT table_name, table_type FROM information_schema.tables "
                              "WHERE table_catalog = 'v1'").fetchall())
    assert kinds["messages"] == "VIEW" and kinds["messages_common"] == "BASE TABLE"
    assert conn.execute("SELECT count(*) FROM messages_other").fetchone()[0] > 1000
    # version 1's values are dropped: unknown ends (NULL) are exact, wrong ones would not be
    assert conn.execute("SELECT count(end_line_no) FROM orders").fetchone() == (0,)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
        str(store.SCHEMA_VERSION),)
    assert "GENERATED" in conn.execute("SELECT sql FROM duckdb_tables() "
                                       "WHERE table_name = 'orders'").fetchone()[0]
    conn.close()


def test_a_version_2_database_gets_generated_order_columns(tmp_path, real_sample) -> None:
    """Version 2 stored orders.remaining_shares and orders.status."""
    import shutil

    new = store.connect(tmp_path / "v3.duckdb")
    ingest.ingest_path(new, settings.SAMPLE_FILE)
    new.close()
    shutil.copy(tmp_path / "v3.duckdb", tmp_path / "v2.duckdb")
    old = duckdb.connect(str(tmp_path / "v2.duckdb"))
    old.execute("CREATE TABLE stored AS FROM orders")
    old.execute("DROP TABLE orders")
    old.execute("ALTER TABLE stored RENAME TO orders")
    old.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    old.close()

    conn = store.connect(tmp_path / "v2.duckdb")  # migrates
    ingest.ingest_path(conn, real_sample)  # and takes new files
    conn.close()
    conn = duckdb.connect(str(tmp_path / "v2.duckdb"), read_only=True)
    conn.execute(f"ATTACH '{tmp_path / 'v3.duckdb'}' AS v3 (READ_ONLY)")
    assert conn.execute("SELECT count(*) FROM (FROM orders WHERE file_id = 1 "
                        "EXCEPT ALL FROM v3.orders)").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM orders WHERE file_id = 1").fetchone()[0] == \
        conn.execute("SELECT count(*) FROM v3.orders").fetchone()[0] > 10_000
    assert conn.execute("SELECT count(*) FROM orders WHERE file_id = 2").fetchone()[0] == 10_361
    assert "GENERATED" in conn.execute("SELECT sql FROM duckdb_tables() WHERE table_name = 'orders' "
                                       "AND database_name = 'v2'").fetchone()[0]
    conn.close()


def test_a_version_6_database_splits_its_binary_messages(tmp_path) -> None:
    """Version 6 kept every binary type in one wide messages_binary."""
    import shutil

    from pitch import capture_write
    from pitch.generate_binary import session
    from pitch.layouts import BINARY_COMMON_CODES

    capture = tmp_path / "session.pcap"
    capture.write_bytes(capture_write.write_pcap(session(5_000, seed=3).units))
    new = store.connect(tmp_path / "v7.duckdb")
    ingest.ingest_path(new, capture)
    new.close()
    shutil.copy(tmp_path / "v7.duckdb", tmp_path / "v6.duckdb")
    old = duckdb.connect(str(tmp_path / "v6.duckdb"))
    old.execute("DROP VIEW messages")
    old.execute(f"CREATE TABLE messages_binary_v6 ({store.TABLES['messages_binary_other']})")
    old.execute("INSERT INTO messages_binary_v6 BY NAME SELECT * FROM (FROM messages_binary "
                "UNION ALL BY NAME FROM messages_binary_other) ORDER BY file_id, line_no")
    old.execute("DROP TABLE messages_binary")
    old.execute("DROP TABLE messages_binary_other")
    old.execute("ALTER TABLE messages_binary_v6 RENAME TO messages_binary")
    old.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
    old.close()

    conn = store.connect(tmp_path / "v6.duckdb")  # migrates
    ingest.ingest_path(conn, settings.SAMPLE_FILE)  # and takes new files
    conn.close()
    conn = duckdb.connect(str(tmp_path / "v6.duckdb"), read_only=True)
    conn.execute(f"ATTACH '{tmp_path / 'v7.duckdb'}' AS v7 (READ_ONLY)")
    for table, columns in (("messages_binary", store.BINARY_COMMON_MESSAGE_COLUMNS),
                           ("messages_binary_other", store.BINARY_MESSAGE_COLUMNS)):
        assert [c[0] for c in conn.execute(f"FROM {table} LIMIT 0").description] == \
            list(columns), table
        assert conn.execute(f"SELECT count(*) FROM (FROM {table} EXCEPT ALL FROM v7.{table})"
                            ).fetchone()[0] == 0, table
        count = f"SELECT count(*) FROM {{}}{table}"
        assert conn.execute(count.format("")).fetchone() == \
            conn.execute(count.format("v7.")).fetchone() != (0,), table
    frequent = conn.execute("SELECT DISTINCT type FROM messages_binary").fetchall()
    assert {t for t, in frequent} <= set(BINARY_COMMON_CODES)
    assert conn.execute("SELECT count(*) FROM messages WHERE file_id = 1").fetchone() == \
        conn.execute("SELECT count(*) FROM v7.messages").fetchone()
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
        str(store.SCHEMA_VERSION),)
    conn.close()


def test_a_version_4_database_gets_stored_remaining_shares_and_counts(tmp_path) -> None:
    """Version 4 computed orders.remaining_shares when read and had no per-file counts."""
    old = _current_and_a_copy(tmp_path, "v5", "v4")
    v4 = store.TABLES["orders"].replace(
        "remaining_shares BIGINT, ", "remaining_shares BIGINT GENERATED ALWAYS AS "
        "(shares + added_shares - executed_shares - cancelled_shares) VIRTUAL, ")
    assert v4 != store.TABLES["orders"]
    stored = [c for c in store.ORDER_STORED_COLUMNS if c != "remaining_shares"]
    old.execute("ALTER TABLE orders RENAME TO orders_v5")
    old.execute(f"CREATE TABLE orders ({v4})")
    old.execute(f"INSERT INTO orders ({', '.join(stored)}) SELECT {', '.join(stored)} FROM orders_v5")
    old.execute("DROP TABLE orders_v5")
    for table in ("message_counts", "message_seconds", "order_counts", "order_minutes"):
        old.execute(f"DROP TABLE {table}")
    old.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    old.close()

    store.connect(tmp_path / "v4.duckdb").close()  # migrates
    conn = duckdb.connect(str(tmp_path / "v4.duckdb"), read_only=True)
    conn.execute(f"ATTACH '{tmp_path / 'v5.duckdb'}' AS v5 (READ_ONLY)")
    _assert_same_rows(conn, "v5", ("orders", "message_counts", "message_seconds",
                                    "order_counts", "order_minutes"))
    assert "REMAINING_SHARES BIGINT," in conn.execute(
        "SELECT upper(sql) FROM duckdb_tables() WHERE table_name = 'orders' "
        "AND database_name = 'v4'").fetchone()[0]
    conn.close()


def test_a_version_5_database_gets_end_line_no_unknown(tmp_path) -> None:
    """Version 5 had no orders.end_line_no: it is added empty (NULL: the book reads more);
    nor the counts of schema 6, which are counted from its rows."""
    old = _current_and_a_copy(tmp_path, "v6", "v5")
    old.execute("ALTER TABLE orders DROP COLUMN end_line_no")
    for table in SCHEMA_6_COUNTS:
        old.execute(f"DROP TABLE {table}")
    old.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    old.close()

    store.connect(tmp_path / "v5.duckdb").close()  # migrates
    conn = duckdb.connect(str(tmp_path / "v5.duckdb"), read_only=True)
    conn.execute(f"ATTACH '{tmp_path / 'v6.duckdb'}' AS v6 (READ_ONLY)")
    assert conn.execute("SELECT count(*), count(end_line_no) FROM orders").fetchone() == \
        (conn.execute("SELECT count(*) FROM v6.orders").fetchone()[0], 0)
    assert conn.execute("SELECT count(*) FROM (SELECT * EXCLUDE (end_line_no) FROM orders "
                        "EXCEPT ALL SELECT * EXCLUDE (end_line_no) FROM v6.orders)"
                        ).fetchone() == (0,)
    _assert_same_rows(conn, "v6", SCHEMA_6_COUNTS)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
        str(store.SCHEMA_VERSION),)
    conn.close()


#: The per-file counts that schema 6 added.
SCHEMA_6_COUNTS = ("message_prices", "message_shares", "message_blocks", "message_ids",
                   "execution_minutes")


def _current_and_a_copy(tmp_path, current: str, old: str) -> duckdb.DuckDBPyConnection:
    """The sample ingested into ``current``.duckdb, and a connection to a copy of it,
    ``old``.duckdb, for the test to turn into an older schema."""
    import shutil

    new = store.connect(tmp_path / f"{current}.duckdb")
    ingest.ingest_path(new, settings.SAMPLE_FILE)
    new.close()
    shutil.copy(tmp_path / f"{current}.duckdb", tmp_path / f"{old}.duckdb")
    return duckdb.connect(str(tmp_path / f"{old}.duckdb"))


def _assert_same_rows(conn: duckdb.DuckDBPyConnection, other: str, tables: tuple[str, ...]
                      ) -> None:
    """Each table holds the same rows as in the attached database ``other``, and some."""
    for table in tables:
        assert conn.execute(f"SELECT count(*) FROM (FROM {table} EXCEPT ALL FROM "
                            f"{other}.{table})").fetchone()[0] == 0, table
        count = f"SELECT count(*) FROM {{}}{table}"
        assert conn.execute(count.format("")).fetchone() == \
            conn.execute(count.format(f"{other}.")).fetchone() != (0,), table
