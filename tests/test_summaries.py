"""The counts kept at ingest (pitch.summaries) equal counting the messages themselves.

Every query that reads ``message_counts`` or ``message_seconds`` is compared with
the same question asked of ``messages``: on text and binary files side by side
(binary ones have messages of unknown time), after a file is removed, on a
database made before the tables existed, and on an archive.
"""

from __future__ import annotations

import mixed_support
import pandas as pd
import pytest

from pitch import archive, generate, generate_binary, queries, sandbox, store
from pitch.sql_examples import EXAMPLES
from pitch.filters import MessageFilter, OrderFilter
from pitch.ingest import ingest_path, remove_file
from pitch.queries.base import range_counts, second_counts, value_counts
from pitch.queries.messages import COUNTED_SORTS, _counted
from pitch.queries.overview import BUCKETS

#: Filters the counts can answer, and ones that count messages (a time window, an order).
FILTERS = [MessageFilter(), MessageFilter(types=("A", "0x22")), MessageFilter(symbols=("AAPL",)),
           MessageFilter(side="B"), MessageFilter(types=("E",), symbols=("MSFT", "AAPL"), side="S"),
           MessageFilter(file_id=2), MessageFilter(file_id=3, types=("0x20",)),
           MessageFilter(start_ns=34_200 * 10**9, end_ns=36_000 * 10**9),
           MessageFilter(order_id=7), MessageFilter(symbols=("NOPE",))]
ORDER_FILTERS = [OrderFilter(), OrderFilter(statuses=("open",)),
                 OrderFilter(statuses=("filled", "cancelled"), side="S"),
                 OrderFilter(symbols=("AAPL", "MSFT")), OrderFilter(file_id=3, statuses=("open",)),
                 OrderFilter(order_id=123), OrderFilter(symbols=("NOPE",))]


@pytest.fixture
def files(tmp_path, db):
    """Three files: the hand-made mixed pair, a generated text session and a capture."""
    mixed_support.load(db)
    text = tmp_path / "s.pitch"
    generate.write_file(text, 4_000, seed=11)
    capture = tmp_path / "s.pcap"
    generate_binary.write_file(capture, "pcap", 3_000, seed=12, gaps=True)
    for path in (text, capture):
        ingest_path(db, path)
    return db


def counted(conn) -> dict[str, object]:
    """Everything that reads the counts, as the pages ask."""
    return {"types": queries.message_type_counts(conn),
            "rates": [queries.message_rate(conn, width) for width in BUCKETS.values()],
            "unknown": queries.unknown_times(conn), "symbols": queries.symbols(conn),
            "totals": queries.totals(conn),
            "counts": [queries.message_count(conn, f) for f in FILTERS],
            "orders": [queries.order_count(conn, f) for f in ORDER_FILTERS],
            "by_side": [queries.symbol_summary(conn, s) for s in ("AAPL", "MSFT", "NOPE")],
            "adds": [queries.symbol_adds(conn, s, w) for s in ("AAPL", "MSFT")
                     for w in BUCKETS.values()],
            "values": [value_counts(conn, COUNTED_SORTS, "messages", *f.where()[:2])(c, desc)
                       for f in FILTERS if _counted(f) for c in COUNTED_SORTS
                       for desc in (False, True)]}


def by_scanning(conn) -> dict[str, object]:
    """The same answers from every message (what the queries did before the counts)."""
    types = conn.execute("""
        SELECT t.name AS message_type, m.type AS code, count(*) AS count
        FROM messages m JOIN message_types t ON t.code = m.type
        GROUP BY ALL ORDER BY count DESC, message_type""").df()
    rates = [conn.execute("""
        SELECT time_ns // $b * $b AS bucket_ns, type AS code, count(*) AS count
        FROM messages WHERE time_ns IS NOT NULL GROUP BY ALL ORDER BY bucket_ns, code""",
                          {"b": width}).df() for width in BUCKETS.values()]
    counts = []
    for flt in FILTERS:
        where, params, _ = flt.where()
        counts.append(conn.execute(f"SELECT count(*) FROM messages {where}", params).fetchone()[0])
    orders = []
    for flt in ORDER_FILTERS:
        where, params, _ = flt.where()
        orders.append(conn.execute(f"SELECT count(*) FROM orders {where}", params).fetchone()[0])
    by_side = [conn.execute("SELECT count(*), count(*) FILTER (WHERE side = 'B'), "
                            "count(*) FILTER (WHERE side = 'S') FROM orders WHERE symbol = ?",
                            [s]).fetchone() for s in ("AAPL", "MSFT", "NOPE")]
    adds = [conn.execute("""
        SELECT first_time_ns // $b * $b AS bucket_ns, side, count(*) AS adds,
               sum(shares)::BIGINT AS shares
        FROM orders WHERE symbol = $s GROUP BY ALL ORDER BY bucket_ns, side""",
                         {"b": w, "s": s}).df() for s in ("AAPL", "MSFT") for w in BUCKETS.values()]
    values = [conn.execute(f"SELECT {c}, {c}, count(*) FROM messages {f.where()[0]} GROUP BY 1 "
                           f"ORDER BY 1 {'DESC' if desc else 'ASC'} NULLS LAST",
                           f.where()[1]).fetchall()
              for f in FILTERS if _counted(f) for c in COUNTED_SORTS for desc in (False, True)]
    return {"types": types, "rates": rates, "values": values, "orders": orders,
            "by_side": by_side, "adds": adds,
            "unknown": conn.execute("SELECT count(*) FROM messages WHERE time_ns IS NULL"
                                    ).fetchone()[0],
            "symbols": [r[0] for r in conn.execute("SELECT DISTINCT symbol FROM messages "
                                                   "WHERE symbol IS NOT NULL ORDER BY 1").fetchall()],
            "messages": conn.execute("SELECT count(*) FROM messages").fetchone()[0],
            "distinct": conn.execute("SELECT count(DISTINCT symbol) FROM messages").fetchone()[0],
            "counts": counts}


def assert_same(conn) -> None:
    got, want = counted(conn), by_scanning(conn)
    pd.testing.assert_frame_equal(got["types"], want["types"], check_dtype=False)
    for mine, theirs in zip(got["rates"], want["rates"]):
        pd.testing.assert_frame_equal(mine.drop(columns="message_type"), theirs,
                                      check_dtype=False)
    assert got["unknown"] == want["unknown"]
    assert got["symbols"] == want["symbols"]
    assert got["totals"]["messages"] == want["messages"]
    assert got["totals"]["symbols"] == want["distinct"]
    assert got["counts"] == want["counts"]
    assert got["orders"] == want["orders"]
    assert [(d["orders"], d["buy_orders"], d["sell_orders"]) for d in got["by_side"]] == \
        want["by_side"]
    for mine, theirs in zip(got["adds"], want["adds"]):
        pd.testing.assert_frame_equal(mine, theirs, check_dtype=False)
    assert any(len(a) > 2 for a in got["adds"])
    assert got["values"] == want["values"]
    assert max(len(v) for v in got["values"]) > 100  # many prices, not a handful


def test_counts_equal_counting_messages(files) -> None:
    assert_same(files)
    assert queries.unknown_times(files) > 0  # the capture's messages before their Time
    assert len(set(queries.message_count(files, f) for f in FILTERS)) > 5  # they differ
    assert len(set(queries.order_count(files, f) for f in ORDER_FILTERS)) > 4


def test_a_removed_file_leaves_the_counts(files) -> None:
    before = queries.totals(files)["messages"]
    gone = remove_file(files, 3)
    assert queries.totals(files)["messages"] == before - gone["messages"]
    assert files.execute("SELECT count(*) FROM message_counts WHERE file_id = 3").fetchone() == (0,)
    assert_same(files)


def test_a_database_made_before_the_counts_gets_them(files, tmp_path) -> None:
    path = files.execute("SELECT path FROM duckdb_databases() WHERE database_name = "
                         "current_database()").fetchone()[0]
    files.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    for table in ("message_counts", "message_seconds", "order_counts", "order_minutes",
                  "message_prices", "message_shares", "message_blocks", "execution_minutes",
                  "message_ids"):
        files.execute(f"DROP TABLE {table}")
    files.close()
    conn = store.connect(path)
    try:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
            str(store.SCHEMA_VERSION),)
        assert conn.execute("SELECT count(*) FROM message_counts").fetchone()[0] > 0
        assert_same(conn)
    finally:
        conn.close()


def test_an_archive_counts_its_messages(files, tmp_path) -> None:
    want = counted(files)
    files.close()  # the export opens the database itself, read-only
    archive.export(tmp_path / "test.duckdb", tmp_path / "archive")
    conn = archive.connect(tmp_path / "archive")
    try:
        got = counted(conn)
        assert got["totals"]["messages"] == want["totals"]["messages"]
        assert got["counts"] == want["counts"][:5] + got["counts"][5:7] + want["counts"][7:]
        assert got["orders"][:4] == want["orders"][:4]
        assert_same(conn)
    finally:
        conn.close()


def test_the_sql_examples_run_and_count_as_messages_do(files) -> None:
    answers = {name: sandbox.run_query(files, sql) for name, sql in EXAMPLES.items()}
    assert all(len(a.frame) for name, a in answers.items() if "gaps" not in name.lower())
    per_minute = files.execute("SELECT time_ns // 60000000000 AS minute, count(*) AS messages "
                               "FROM messages WHERE time_ns IS NOT NULL GROUP BY minute "
                               "ORDER BY minute").fetchall()
    got = answers["Messages per minute"].frame
    assert [tuple(map(int, r)) for r in got.itertuples(index=False)] == per_minute
    by_type = answers["Message counts by type"].frame
    assert int(by_type["messages"].sum()) == queries.totals(files)["messages"]


@pytest.mark.parametrize("statuses", [("open",), ("filled",), ("cancelled",), ("open", "filled"),
                                      ("cancelled", "open"), ("open", "filled", "cancelled")])
def test_the_status_filter_picks_the_orders_of_those_statuses(files, statuses) -> None:
    """"open" is written as remaining_shares > 0 (a test on a stored column): the same rows."""
    where, params, _ = OrderFilter(statuses=statuses).where()
    picked = files.execute(f"SELECT file_id, line_no FROM orders {where} ORDER BY ALL",
                           params).fetchall()
    listed = ", ".join(f"'{s}'" for s in statuses)
    want = files.execute(f"SELECT file_id, line_no FROM orders WHERE status IN ({listed}) "
                         "ORDER BY ALL").fetchall()
    assert picked == want and want


def test_a_symbols_first_trades_come_from_the_minutes_that_hold_them(files) -> None:
    """symbol_trades reads only the minutes before its limit is reached: the same rows as
    the top-N over every execution of the symbol, at every limit."""
    plain = """
        WITH first AS (
            SELECT time_ns, price, shares, type, execution_id, order_id, file_id, line_no
            FROM executions WHERE symbol = ? AND NOT broken
            ORDER BY time_ns, file_id, line_no LIMIT ?)
        SELECT time_ns, price, shares, type, execution_id, order_id,
               sum(price * shares) OVER w / sum(shares) OVER w AS vwap, file_id, line_no
        FROM first
        WINDOW w AS (ORDER BY time_ns, file_id, line_no ROWS UNBOUNDED PRECEDING)
        ORDER BY time_ns, file_id, line_no"""
    busy = [r[0] for r in files.execute(
        "SELECT symbol FROM executions GROUP BY 1 ORDER BY count(*) DESC LIMIT 3").fetchall()]
    assert files.execute("SELECT count(*) FROM execution_minutes WHERE minute IS NULL"
                         ).fetchone()[0] > 0  # the capture's trades of unknown time
    for symbol in busy + ["NOPE"]:
        total = files.execute("SELECT count(*) FROM executions WHERE symbol = ? AND NOT broken",
                              [symbol]).fetchone()[0]
        for limit in sorted({1, 2, 3, 5, 8, 13, 21, 34, total // 2, total - 1, total,
                             total + 1} - {0, -1}):
            got, cut = queries.symbol_trades(files, symbol, limit)
            want = files.execute(plain, [symbol, limit + 1]).df()
            pd.testing.assert_frame_equal(got, want.head(limit))
            assert cut == (len(want) > limit)


@pytest.mark.parametrize("desc", [False, True])
def test_order_id_ranges_are_disjoint_and_count_their_rows(files, desc) -> None:
    """The buckets of order ids, merged where files' ids overlap, are disjoint ranges in
    the sort's order, each counting exactly the rows whose id lies in it."""
    for flt in [f for f in FILTERS if _counted(f) and not f.symbols]:
        where, params, _ = flt.where()
        ranges = range_counts(files, "message_ids", "messages", where, params)(desc)
        known = [r for r in ranges if r[0] is not None]
        lows = [min(a, b) for a, b, _ in known]
        highs = [max(a, b) for a, b, _ in known]
        order = sorted(range(len(known)), key=lambda i: lows[i], reverse=desc)
        assert order == list(range(len(known)))
        assert all(highs[i] < lows[i + 1] for i in range(len(known) - 1)) if not desc else \
            all(lows[i] > highs[i + 1] for i in range(len(known) - 1))
        extra = f"{where} AND" if where else "WHERE"
        for low, high, n in zip(lows, highs, [r[2] for r in known]):
            assert files.execute(f"SELECT count(*) FROM messages {extra} order_id BETWEEN ? "
                                 "AND ?", params + [low, high]).fetchone()[0] == n
        nulls = files.execute(f"SELECT count(*) FROM messages {extra} order_id IS NULL",
                              params).fetchone()[0]
        assert [r[2] for r in ranges if r[0] is None] == ([nulls] if nulls else [])
        assert sum(r[2] for r in ranges) == files.execute(
            f"SELECT count(*) FROM messages {where}", params).fetchone()[0]
    merged = range_counts(files, "message_ids", "messages", "", [])(False)
    buckets = files.execute("SELECT count(DISTINCT (file_id, bucket)) FROM message_ids "
                            "WHERE bucket IS NOT NULL").fetchone()[0]
    assert 20 < len(merged) < buckets  # two text files' ids overlap: some buckets merged


@pytest.mark.parametrize("desc", [False, True])
def test_whole_seconds_count_the_messages_of_their_times(files, desc) -> None:
    """A page sorted by time starts from message_seconds: each second is a range of
    times holding exactly the rows it counts, in the sort's order, the unknown last."""
    seen = 0
    for flt in [f for f in FILTERS if _counted(f) and not f.symbols and not f.side]:
        where, params, _ = flt.where()
        ranges = second_counts(files, where, params)(desc)
        extra = f"{where} AND" if where else "WHERE"
        known = [r for r in ranges if r[0] is not None]
        seen += len(known)
        assert all((a > b) == desc for a, b, _ in known)
        for first, last, n in known:
            assert files.execute(f"SELECT count(*) FROM messages {extra} time_ns BETWEEN ? "
                                 "AND ?", params + [min(first, last), max(first, last)]
                                 ).fetchone()[0] == n
        assert sum(r[2] for r in ranges) == files.execute(
            f"SELECT count(*) FROM messages {where}", params).fetchone()[0]
        assert not ranges or ranges[-1][0] is not None or ranges[-1][2] == files.execute(
            f"SELECT count(*) FROM messages {extra} time_ns IS NULL", params).fetchone()[0]
    assert seen > 100
