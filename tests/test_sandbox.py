"""The SQL sandbox: a table of attacks that must be refused without a trace, and the
queries, limits and timeouts that must work."""

from __future__ import annotations

import math
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pitch import ingest, sandbox, store
from pitch.errors import QueryRefused
from pitch.sandbox import QueryFailed, QueryTimeout, run_query

# {f}: an existing CSV file; {n}: a path that does not exist yet; {d}: a folder.
ATTACKS: list[tuple[str, str]] = [
    ("SeLeCt * FROM \"read_csv\"('{f}')", "table function read_csv is not allowed (it reads files)"),
    ("select * from \"READ_PARQUET\"('{f}')", "read_parquet is not allowed (it reads files)"),
    ("select * from (select * from read_parquet('{f}'))", "read_parquet is not allowed"),
    ("with a as (select * from glob('*')) select * from a", "table function glob is not allowed"),
    ("select * from (from glob('/etc/*'))", "glob is not allowed"),
    ("select 1; drop table messages", "only one statement per query (found 2)"),
    ("select 1;;select 2", "only one statement per query (found 2)"),
    ("select nextval('file_ids')", "function nextval is not allowed"),
    ("select main.nextval('file_ids')", "function nextval is not allowed"),
    ("select list_transform([1, 2], lambda x: nextval('file_ids'))", "nextval is not allowed"),
    ("select currval('file_ids')", "function currval is not allowed"),
    ("select setval('file_ids', 100)", "function setval is not allowed"),
    ("select setseed(0.5)", "function setseed is not allowed"),
    ("select getenv('HOME')", "function getenv is not allowed"),
    ("select current_setting('temp_directory')", "function current_setting is not allowed"),
    ("select write_log('x')", "function write_log is not allowed"),
    ("select pg_sleep(100)", "function pg_sleep is not allowed"),
    ("COPY messages TO '{n}'", "only SELECT queries are allowed (found COPY)"),
    ("COPY (select 1) TO '{n}' (FORMAT parquet)", "found COPY"),
    ("EXPORT DATABASE '{d}/export'", "found EXPORT"),
    ("ATTACH '{n}' AS other", "found ATTACH"),
    ("DETACH other", "found DETACH"),
    ("INSTALL httpfs", "only SELECT queries are allowed"),
    ("LOAD httpfs", "found LOAD"),
    ("PRAGMA enable_profiling", "found PRAGMA"),
    ("SET threads = 1", "found SET"),
    ("SET VARIABLE x = 1", "found SET"),
    ("RESET threads", "found SET"),
    ("CALL pragma_version()", "found CALL"),
    ("CREATE TABLE x AS SELECT 1", "found CREATE"),
    ("CREATE MACRO m(a) AS a + 1", "found CREATE"),
    ("CREATE SECRET (TYPE s3, KEY_ID 'k', SECRET 's')", "found CREATE"),
    ("INSERT INTO files SELECT * FROM files", "found INSERT"),
    ("UPDATE files SET name = 'x'", "found UPDATE"),
    ("DELETE FROM messages", "found DELETE"),
    ("ALTER TABLE messages ADD COLUMN x INTEGER", "found ALTER"),
    ("DROP TABLE messages", "found DROP"),
    ("VACUUM", "found VACUUM"),
    ("CHECKPOINT", "only SELECT queries are allowed"),
    ("BEGIN", "found TRANSACTION"),
    ("COMMIT", "found TRANSACTION"),
    ("USE system", "only SELECT queries are allowed"),
    ("EXPLAIN ANALYZE SELECT 1", "found EXPLAIN"),
    ("PIVOT messages ON type", "found PIVOT"),
    ("with x as (delete from messages returning *) select count(*) from x", "found DELETE inside"),
    ("with x as (update files set name = 'x' returning *) select * from x", "found UPDATE inside"),
    ("with x as (insert into meta values ('k', 'v') returning *) select * from x", "found INSERT inside"),
    ("SELECT * FROM read_csv_auto('{f}')", "read_csv_auto is not allowed (it reads files)"),
    ("select * from sniff_csv('{f}')", "sniff_csv is not allowed"),
    ("select * from parquet_metadata('{f}')", "parquet_metadata is not allowed"),
    ("select * from read_blob('{f}')", "read_blob is not allowed"),
    ("select * from messages m, lateral (select * from read_text('{f}')) t", "read_text is not allowed"),
    ("select * from main.read_json('{f}')", "read_json is not allowed"),
    ("select (select count(*) from read_ndjson_objects('{f}'))", "read_ndjson_objects is not allowed"),
    ("select * from messages where symbol in (select * from read_csv('{f}'))", "read_csv is not allowed"),
    ("select * from query_table('{f}')", "query_table is not allowed"),
    ("select * from query('drop table messages')", "table function query is not allowed"),
    ("select * from checkpoint()", "checkpoint is not allowed"),
    ("select * from duckdb_settings()", "duckdb_settings is not allowed"),
    ("select * from pg_catalog.PG_SETTINGS", "view pg_settings is not allowed"),
    ("select path from duckdb_databases", "view duckdb_databases is not allowed"),
    ("select * from \"pragma_database_list\"", "view pragma_database_list is not allowed"),
    ("select * from read_csv('https://example.com/x.csv')", "read_csv is not allowed"),
    ("select * from 'https://example.com/x.parquet'", "looks like a file path"),
    ("select * from '{f}'", "looks like a file path"),
    ("DESCRIBE '{f}'", "looks like a file path"),
    ("SUMMARIZE SELECT * FROM read_csv('{f}')", "read_csv is not allowed"),
    ("select * from read_csv(['{f}', '{f}'])", "read_csv is not allowed"),
    ("select 1 +", 'syntax error: at or near "+"'),
    ("   ", "the query is empty"),
    ("-- only a comment", "the query is empty"),
]


@pytest.fixture(scope="module")
def conn(tmp_path_factory, real_sample_path: Path):
    """One locked-down database holding the real sample (ingested once for the module)."""
    con = store.connect(tmp_path_factory.mktemp("db") / "sandbox.duckdb")
    ingest.ingest_path(con, real_sample_path)
    yield con
    con.close()


@pytest.fixture(scope="module")
def real_sample_path() -> Path:
    path = Path(__file__).resolve().parents[2] / "shared" / "pitch_data.txt"
    assert path.exists(), f"{path} is missing"
    return path


def snapshot(con: duckdb.DuckDBPyConnection, folder: Path) -> dict:
    """Everything an attack could change: row counts, sequence, settings, catalog, files."""
    cur = con.cursor()
    counts = {t: cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in store.TABLES}
    return {
        "counts": counts,
        "sequence": cur.execute("SELECT last_value FROM duckdb_sequences()").fetchall(),
        "settings": cur.execute("SELECT name, value FROM duckdb_settings() ORDER BY name").fetchall(),
        "catalog": cur.execute("SELECT table_name, column_count FROM duckdb_tables() ORDER BY 1").fetchall(),
        "views": cur.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchall(),
        "macros": cur.execute("SELECT count(*) FROM duckdb_functions() WHERE NOT internal").fetchall(),
        "databases": cur.execute("SELECT database_name FROM duckdb_databases() ORDER BY 1").fetchall(),
        "files": sorted(str(p.relative_to(folder)) for p in folder.rglob("*")),
    }


@pytest.mark.parametrize("template, message", ATTACKS, ids=[a[0][:40] for a in ATTACKS])
def test_attack_is_refused_and_leaves_no_trace(conn, tmp_path, monkeypatch, template, message):
    monkeypatch.chdir(tmp_path)  # relative paths an attack uses land here too
    existing = tmp_path / "input.csv"
    existing.write_text("a,b\n1,2\n")
    sql = template.format(f=existing, n=tmp_path / "new.csv", d=tmp_path)
    before = snapshot(conn, tmp_path)
    with pytest.raises(QueryRefused) as caught:
        run_query(conn, sql, row_limit=10, timeout=5)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not isinstance(caught.value, (QueryFailed, QueryTimeout))
    assert snapshot(conn, tmp_path) == before


def test_at_least_thirty_attacks():
    assert len(ATTACKS) >= 30


ACCEPTED: list[str] = [
    "SELECT count(*) FROM messages",
    "select type, count(*) AS n from messages group by type order by type",
    "WITH adds AS (SELECT * FROM messages WHERE type = 'A') SELECT count(*) FROM adds",
    "SELECT o.status, count(*) FROM orders o JOIN messages m ON m.file_id = o.file_id "
    "AND m.order_id = o.order_id AND m.line_no = o.line_no GROUP BY 1 ORDER BY 1",
    "SELECT table_name FROM duckdb_tables() ORDER BY 1",
    "SELECT * FROM main.messages ORDER BY line_no LIMIT 3",
    "FROM range(5)",
    "SELECT * FROM generate_series(1, 3)",
    "SELECT unnest([1, 2, 3]) AS x",
    "SELECT * FROM pragma_table_info('messages')",
    "SELECT 1 UNION ALL SELECT 2",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 4) SELECT * FROM r",
    "SELECT symbol, row_number() OVER (ORDER BY symbol) FROM (SELECT DISTINCT symbol FROM messages "
    "WHERE symbol IS NOT NULL) ORDER BY 1",
    "SELECT list_transform([1, 2], lambda x: x * 2)",
    "SELECT name FROM message_types ORDER BY code",
    "VALUES (1, 'a'), (2, 'b')",
]


def plain(value: object) -> object:
    """One cell as a comparable Python value (arrays to lists, every missing value to None)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def rows_of(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(map(plain, row)) for row in frame.itertuples(index=False)]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_accepted_query_matches_duckdb(conn, sql):
    result = run_query(conn, sql, row_limit=100_000, timeout=10)
    expected = conn.cursor().execute(sql).fetchall()
    assert rows_of(result.frame) == [tuple(map(plain, r)) for r in expected]
    assert result.truncated is False
    assert result.seconds >= 0


@pytest.mark.parametrize("sql", ["SHOW TABLES", "DESCRIBE messages", "SUMMARIZE orders"])
def test_describe_and_show_run(conn, sql):
    result = run_query(conn, sql, row_limit=1000)
    assert len(result.frame) > 0


def test_row_limit_cuts_and_flags(conn):
    result = run_query(conn, "SELECT * FROM messages ORDER BY line_no", row_limit=100)
    assert len(result.frame) == 100 and result.truncated and result.row_limit == 100
    assert list(result.frame["line_no"]) == list(range(1, 101))
    assert run_query(conn, "FROM range(100)", row_limit=100).truncated is False
    assert run_query(conn, "FROM range(101)", row_limit=100).truncated is True


def test_row_limit_default_comes_from_settings(conn, monkeypatch):
    monkeypatch.setenv("PITCH_SQL_ROW_LIMIT", "7")
    result = run_query(conn, "SELECT * FROM messages")
    assert (len(result.frame), result.truncated, result.row_limit) == (7, True, 7)


def test_large_limit_streams_more_than_one_batch(conn):
    result = run_query(conn, "FROM range(200000)", row_limit=150_000)
    assert len(result.frame) == 150_000 and result.truncated
    assert result.frame.iloc[-1, 0] == 149_999


def test_timeout_interrupts_slow_query(conn, tmp_path):
    before = snapshot(conn, tmp_path)
    started = time.perf_counter()
    with pytest.raises(QueryTimeout) as caught:
        run_query(conn, "SELECT count(*) FROM range(100000000) a, range(100000) b "
                        "WHERE a.range * b.range = 7", timeout=1)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.5, elapsed
    assert "query stopped after" in str(caught.value) and "limit 1 s" in str(caught.value)
    assert snapshot(conn, tmp_path) == before
    # The connection is still usable and holds no open transaction.
    assert run_query(conn, "SELECT 42 AS x").frame["x"][0] == 42
    cur = conn.cursor()
    cur.execute("BEGIN")
    cur.execute("ROLLBACK")


def test_types_pandas_cannot_hold_still_come_back(conn):
    sql = ("SELECT union_value(k := 1) AS u, '-infinity'::DATE AS d, 1::HUGEINT AS h, "
           "{'a': 1} AS s, [1, 2] AS l, 1.5::DECIMAL(18, 4) AS p, 2 AS h")
    frame = run_query(conn, sql).frame
    assert list(frame.columns) == ["u", "d", "h", "s", "l", "p", "h"] and len(frame) == 1
    assert frame.iloc[0, 0] == 1 and str(frame.iloc[0, 5]) == "1.5000"


def test_failed_query_says_why_in_one_line(conn):
    with pytest.raises(QueryFailed) as caught:
        run_query(conn, "SELECT * FROM no_such_table")
    assert "no_such_table" in str(caught.value) and "\n" not in str(caught.value)


def test_check_query_returns_the_statement(conn):
    assert sandbox.check_query(conn, "  select 1 ").strip() == "select 1"


# Defence in depth: even SQL that skips the sandbox's checks cannot reach files or settings.
RAW_BLOCKED = [
    "SELECT * FROM read_csv('{f}')",
    "COPY (SELECT 1) TO '{n}'",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "SET allowed_directories = ['/']",
    "ATTACH '{n}' AS other",
    "INSTALL httpfs",
]


@pytest.mark.parametrize("template", RAW_BLOCKED)
def test_connection_itself_is_locked_down(conn, tmp_path, template):
    existing = tmp_path / "input.csv"
    existing.write_text("a,b\n1,2\n")
    new = tmp_path / "new.csv"
    with pytest.raises(duckdb.Error):
        conn.cursor().execute(template.format(f=existing, n=new))
    assert not new.exists()
    cur = conn.cursor()
    assert cur.execute("SELECT current_setting('enable_external_access')").fetchone()[0] is False
    assert cur.execute("SELECT current_setting('lock_configuration')").fetchone()[0] is True


def test_ids_keep_every_digit_next_to_nulls(tmp_path) -> None:
    """A nullable UBIGINT column must not pass through float64 on its way out."""
    from pitch import ingest, sandbox, store

    conn = store.connect(tmp_path / "ids.duckdb")
    line = b"S28800000E0000000ABC12000100ZZZZZZZZZZZZ"  # execution id 36**12 - 1
    ingest.ingest_bytes(conn, line + b"\nS28800001X0000000ABC12000050", "ids.txt")
    frame = sandbox.run_query(conn, "SELECT execution_id FROM messages ORDER BY line_no").frame
    assert list(frame.execution_id) == [36**12 - 1, None]
    conn.close()
