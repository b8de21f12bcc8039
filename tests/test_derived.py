"""orders and executions: the lifecycle rules, on small hand-made files and the real sample."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pyarrow as pa
import pytest

from pitch import derive, ingest, queries, store
from pitch.spool import Spool


@pytest.fixture(autouse=True, params=["one bucket", "buckets"])
def derivation(request, monkeypatch) -> str:
    """Every rule holds both ways: a small file in one bucket in memory, or a big one
    in many order-id buckets spilled to temporary files (here: tiny limits)."""
    if request.param == "buckets":
        spill(monkeypatch, buckets=5)
    return request.param


def spill(monkeypatch, buckets: int) -> None:
    """Files of ``buckets`` buckets, every row spilled to a temporary file."""
    monkeypatch.setattr(ingest, "buckets_for", lambda size, gz=False, **_: buckets)
    monkeypatch.setattr(derive, "MEMORY_ADDS", 1)
    monkeypatch.setattr(derive, "MEMORY_EVENTS", 1)
    monkeypatch.setattr(derive, "PART_ROWS", 0)  # and each bucket linked in parts


def add(t: int, oid: str, side: str, shares: int, symbol: str, price: str) -> str:
    return f"S{t:08d}A{oid:>012}{side}{shares:06d}{symbol:<6}{price:>010}Y"


def executed(t: int, oid: str, shares: int, xid: str) -> str:
    return f"S{t:08d}E{oid:>012}{shares:06d}{xid:>012}"


def cancel(t: int, oid: str, shares: int) -> str:
    return f"S{t:08d}X{oid:>012}{shares:06d}"


def trade(t: int, oid: str, side: str, shares: int, symbol: str, price: str, xid: str) -> str:
    return f"S{t:08d}P{oid:>012}{side}{shares:06d}{symbol:<6}{price:>010}{xid:>012}"


def brk(t: int, xid: str) -> str:
    return f"S{t:08d}B{xid:>012}"


LINES = [
    add(34200000, "ORD1", "B", 100, "AAPL", "1830100"),     # 1: first life of ORD1
    cancel(34200001, "ORD1", 100),                            # 2: gone
    add(34200002, "ORD1", "S", 300, "MSFT", "3300000"),     # 3: id reused: a new order
    executed(34200003, "ORD1", 50, "X1"),                    # 4: applies to line 3
    cancel(34200004, "ORD1", 100),                            # 5: partial cancel
    add(34200005, "ORD2", "B", 200, "AAPL", "1830000"),     # 6
    executed(34200006, "ORD2", 120, "X2"),                   # 7
    executed(34200007, "ORD2", 80, "X3"),                    # 8: filled
    trade(34200008, "HIDDEN", "B", 500, "SPY", "4500000", "X4"),  # 9: hidden order trade
    trade(34200009, "HIDDEN", "S", 70, "AAPL", "1830200", "X5"),  # 10
    brk(34200010, "X4"),                                      # 11: breaks the SPY trade
    add(34200011, "ORD3", "B", 10, "IBM", "1000000"),       # 12: partially cancelled then gone
    cancel(34200012, "ORD3", 4),
    cancel(34200013, "ORD3", 6),
]


def load(db, lines=LINES, name="hand.txt"):
    return ingest.ingest_bytes(db, "\n".join(lines).encode(), name)


def test_orders_follow_reused_ids_and_partial_cancels(db) -> None:
    load(db)
    rows = db.execute("""SELECT line_no, order_id, symbol, side, price, shares, executed_shares,
                                cancelled_shares, remaining_shares, status, events,
                                first_time_ns, last_time_ns
                         FROM orders ORDER BY line_no""").fetchall()
    ms = 1_000_000
    assert rows == [
        (1, int("ORD1", 36), "AAPL", "B", Decimal("183.01"), 100, 0, 100, 0, "cancelled", 1,
         34200000 * ms, 34200001 * ms),
        (3, int("ORD1", 36), "MSFT", "S", Decimal("330"), 300, 50, 100, 150, "open", 2,
         34200002 * ms, 34200004 * ms),
        (6, int("ORD2", 36), "AAPL", "B", Decimal("183"), 200, 200, 0, 0, "filled", 2,
         34200005 * ms, 34200007 * ms),
        (12, int("ORD3", 36), "IBM", "B", Decimal("100"), 10, 0, 10, 0, "cancelled", 2,
         34200011 * ms, 34200013 * ms),
    ]


def test_lifecycle_of_a_reused_id_stops_at_the_next_add(db) -> None:
    load(db)
    first = queries.order_lifecycle(db, 1, 1)
    assert first[["line_no", "event", "remaining_shares"]].values.tolist() == [
        [1, "add", 100], [2, "cancelled", 0]]
    second = queries.order_lifecycle(db, 1, 3)
    assert second[["line_no", "event", "remaining_shares"]].values.tolist() == [
        [3, "add", 300], [4, "executed", 250], [5, "cancelled", 150]]


def test_lifecycle_ends_at_the_orders_end_line_when_text_links_more(db) -> None:
    """Text links every event of an id up to its next add, so an order's end_line_no
    may lie after the event that ended it; the lifecycle read up to that line still
    shows only what the engine applied (and an open order reads to the file's end)."""
    load(db, [
        add(34200000, "ORD1", "B", 100, "AAPL", "1830100"),  # 1
        cancel(34200001, "ORD1", 100),                       # 2: gone
        cancel(34200002, "ORD1", 10),                        # 3: linked by text, not applied
        add(34200003, "ORD2", "S", 50, "MSFT", "3300000"),   # 4: open
        executed(34200004, "ORD2", 20, "X1"),                # 5
    ])
    assert db.execute("SELECT line_no, end_line_no FROM orders ORDER BY 1").fetchall() == [
        (1, 3), (4, None)]
    assert queries.order_lifecycle(db, 1, 1)[["line_no", "event", "remaining_shares"]
                                             ].values.tolist() == [[1, "add", 100],
                                                                   [2, "cancelled", 0]]
    assert queries.order_lifecycle(db, 1, 4)[["line_no", "event", "remaining_shares"]
                                             ].values.tolist() == [[4, "add", 50],
                                                                   [5, "executed", 30]]


def test_events_without_an_earlier_add_touch_no_order(db) -> None:
    """An execution or cancel whose order was added before the file (or later in it)."""
    load(db, [
        cancel(34200000, "GHOST", 10),                    # 1: no add at all
        executed(34200001, "LATE", 5, "X7"),               # 2: its add comes later
        add(34200002, "AAA1", "B", 100, "AAPL", "1000000"),
        add(34200003, "LATE", "S", 50, "MSFT", "2000000"),  # 4
        executed(34200004, "ZZZ9", 5, "X9"),               # 5: no add
        executed(34200005, "AAA0", 6, "X8"),               # 6: no add, id sorts first
    ])
    orders = db.execute("SELECT order_id, executed_shares, cancelled_shares, status, events "
                        "FROM orders ORDER BY line_no").fetchall()
    assert [row[1:] for row in orders] == [(0, 0, "open", 0), (0, 0, "open", 0)]
    fills = db.execute("SELECT line_no, shares, symbol, price FROM executions "
                       "ORDER BY line_no").fetchall()
    assert fills == [(2, 5, None, None), (5, 5, None, None), (6, 6, None, None)]


def test_executions_take_symbol_and_price_from_their_order(db) -> None:
    load(db)
    rows = db.execute("""SELECT line_no, execution_id, symbol, shares, price, type, broken
                         FROM executions ORDER BY line_no""").fetchall()
    assert rows == [
        (4, int("X1", 36), "MSFT", 50, Decimal("330"), "E", False),
        (7, int("X2", 36), "AAPL", 120, Decimal("183"), "E", False),
        (8, int("X3", 36), "AAPL", 80, Decimal("183"), "E", False),
        (9, int("X4", 36), "SPY", 500, Decimal("450"), "P", True),
        (10, int("X5", 36), "AAPL", 70, Decimal("183.02"), "P", False),
    ]
    top = queries.top_symbols(db, 10)
    assert list(zip(top.symbol, top.executed_shares)) == [("AAPL", 270), ("MSFT", 50)]


def test_rules_apply_per_file(db) -> None:
    """An execution in another file never attaches to this file's order."""
    load(db, LINES[:1], "one.txt")
    load(db, [executed(34300000, "ORD1", 10, "X9"), add(34300001, "ORD9", "B", 1, "Z", "1")],
         "two.txt")
    assert db.execute("SELECT executed_shares, status FROM orders WHERE line_no = 1 "
                      "AND file_id = 1").fetchone() == (0, "open")
    assert db.execute("SELECT symbol, price FROM executions").fetchone() == (None, None)


def independent_volume(raw: bytes) -> dict[str, int]:
    """Executed shares per symbol, straight from the spec's offsets (with the S)."""
    live: dict[str, tuple[str, int]] = {}  # order id -> symbol of its latest add
    volume: dict[str, int] = defaultdict(int)
    broken: set[str] = set()
    fills: list[tuple[str, str, int]] = []
    for line in raw.decode().split("\n"):
        kind = line[9]
        if kind == "A":
            live[line[10:22]] = line[29:35].rstrip()
        elif kind == "E":
            fills.append((line[28:40], live[line[10:22]], int(line[22:28])))
        elif kind == "P":
            fills.append((line[45:57], line[29:35].rstrip(), int(line[23:29])))
        elif kind == "B":
            broken.add(line[10:22])
    for xid, symbol, shares in fills:
        if xid not in broken:
            volume[symbol] += shares
    return dict(volume)


def test_real_sample_volume_matches_an_independent_computation(db, real_sample) -> None:
    ingest.ingest_path(db, real_sample)
    want = independent_volume(real_sample.read_bytes())
    got = queries.top_symbols(db, 10_000)
    assert dict(zip(got.symbol, got.executed_shares)) == want
    ranked = sorted(want.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert list(zip(*[queries.top_symbols(db, 10)[c] for c in ("symbol", "executed_shares")])) == ranked


def test_real_sample_orders(db, real_sample) -> None:
    ingest.ingest_path(db, real_sample)
    assert db.execute("SELECT count(*) FROM orders").fetchone()[0] == 10_361
    # pitch-formats.md: 784 orders still have shares left at the end of the file.
    assert db.execute("SELECT count(*) FROM orders WHERE status = 'open'").fetchone()[0] == 784
    assert db.execute("SELECT min(remaining_shares) FROM orders").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM executions").fetchone()[0] == 47


# The rule stated independently, in SQL: a window over each order id's adds and
# events in line order gives each event the line of the latest add before it.
REFERENCE_ORDERS = """
WITH events AS (
    SELECT line_no, type, shares, time_ns,
           max(CASE WHEN type IN ('A', 'd', '1') THEN line_no END)
               OVER (PARTITION BY order_id ORDER BY line_no ROWS UNBOUNDED PRECEDING) AS add_line
    FROM messages WHERE type IN ('A', 'd', '1', 'E', 'X')
), per_order AS (
    SELECT add_line,
           coalesce(sum(shares) FILTER (WHERE type = 'E'), 0) AS executed,
           coalesce(sum(shares) FILTER (WHERE type = 'X'), 0) AS cancelled,
           arg_max(time_ns, line_no) AS last_time, count(*) AS events
    FROM events WHERE type IN ('E', 'X') AND add_line IS NOT NULL GROUP BY add_line
)
SELECT a.file_id, a.line_no, a.order_id, a.symbol, a.side, a.price, a.shares,
       coalesce(p.executed, 0) AS x, coalesce(p.cancelled, 0) AS c, a.shares - x - c AS r,
       CASE WHEN r > 0 THEN 'open' WHEN x = a.shares THEN 'filled' ELSE 'cancelled' END,
       a.time_ns, coalesce(p.last_time, a.time_ns), coalesce(p.events, 0)
FROM messages a LEFT JOIN per_order p ON p.add_line = a.line_no
WHERE a.type IN ('A', 'd', '1')
"""
REFERENCE_EXECUTIONS = """
SELECT e.file_id, e.line_no, e.execution_id, e.time_ns, a.symbol, e.shares, a.price, e.type,
       e.order_id, e.execution_id IN (SELECT execution_id FROM messages WHERE type = 'B')
FROM (FROM messages WHERE type = 'E') e
ASOF LEFT JOIN (FROM messages WHERE type IN ('A', 'd', '1')) a
    ON e.order_id = a.order_id AND e.line_no > a.line_no
UNION ALL
SELECT file_id, line_no, execution_id, time_ns, symbol, shares, price, type, order_id,
       execution_id IN (SELECT execution_id FROM messages WHERE type = 'B')
FROM messages WHERE type IN ('P', 'r', '2')
"""


TEXT_ORDER_COLUMNS = ("file_id, line_no, order_id, symbol, side, price, shares, executed_shares, "
                      "cancelled_shares, remaining_shares, status, first_time_ns, last_time_ns, "
                      "events")


def derived_rows(tmp_path, name: str, path, **ingest_args) -> tuple[dict, dict]:
    """(orders and executions as ingested, the same by the reference SQL), one file."""
    from pitch import store

    conn = store.connect(tmp_path / f"{name}.duckdb")
    try:
        ingest.ingest_path(conn, path, **ingest_args)
        got = {t: sorted(conn.execute(f"SELECT {columns} FROM {t}").fetchall(), key=repr)
               for t, columns in (("orders", TEXT_ORDER_COLUMNS), ("executions", "*"))}
        # Text orders are never modified: modifies and added_shares 0, last_price unset.
        assert conn.execute("SELECT DISTINCT modifies, added_shares, last_price "
                            "FROM orders").fetchall() in ([(0, 0, None)], [])
        want = {t: sorted(conn.execute(sql).fetchall(), key=repr)
                for t, sql in (("orders", REFERENCE_ORDERS),
                               ("executions", REFERENCE_EXECUTIONS))}
        return got, want
    finally:
        conn.close()


@pytest.mark.parametrize("derivation", ["one bucket"], indirect=True)
@pytest.mark.parametrize("fixture", ["generated", "real"])
def test_every_way_of_deriving_matches_the_reference_sql(tmp_path, monkeypatch, derivation,
                                                          fixture, real_sample) -> None:
    """One bucket in memory, one linked in parts, and 7 buckets spilled to temporary
    files (in parts too): the rows the reference SQL gives."""
    from pitch import settings

    path = settings.SAMPLE_FILE if fixture == "generated" else real_sample
    got, want = derived_rows(tmp_path, "one", path, chunk_size=50_000)  # many small batches
    assert got == want
    if fixture == "generated":
        assert len(want["orders"]) > 10_000 and len(want["executions"]) > 1_000
        assert any(row[-1] for row in want["executions"])  # broken ones too
        assert {row[10] for row in want["orders"]} == {"open", "filled", "cancelled"}
        assert {row[7] for row in want["executions"]} == {"E", "P", "r", "2"}
    monkeypatch.setattr(derive, "PART_ROWS", 0)
    assert derived_rows(tmp_path, "parts", path) == (want, want)
    spill(monkeypatch, buckets=7)
    assert derived_rows(tmp_path, "buckets", path, chunk_size=50_000) == (want, want)
    # Executions inserted a range of lines at a time (16M lines in use): many ranges
    # give the same rows, stored in line order.
    monkeypatch.setattr(derive, "EXECUTION_LINES", 997)
    assert derived_rows(tmp_path, "ranges", path) == (want, want)
    conn = store.connect(tmp_path / "ranges.duckdb")
    stored = [r[0] for r in conn.execute("SELECT line_no FROM executions").fetchall()]
    conn.close()
    assert stored == sorted(stored) and len(stored) == len(want["executions"])


def test_a_big_file_gets_a_bucket_per_64_mb() -> None:
    assert [derive.buckets_for(mb << 20) for mb in (1, 64, 65, 395, 4000)] == [1, 1, 2, 7, 63]
    assert derive.buckets_for(200 << 20, gz=True) == 16  # a .gz holds about 5 times its size


def test_a_spool_spills_the_rows_it_holds_and_keeps_their_order() -> None:
    schema = pa.schema([("x", pa.int64())])
    rows = lambda *xs: pa.record_batch([pa.array(xs, pa.int64())], schema=schema)  # noqa: E731
    small = Spool(schema, 10)
    small.add(rows(1, 2))
    small.spill()  # not spilling yet: stays in memory, no file
    assert small._file is None and small.reader().read_all().column("x").to_pylist() == [1, 2]
    spool = Spool(schema, 3)
    spool.add(rows(1, 2, 3, 4))  # over the limit: to the file
    spool.add(rows(5, 6))
    assert spool._pending
    spool.spill()
    assert not spool._pending
    spool.add(rows(7))
    assert spool.reader().read_all().column("x").to_pylist() == [1, 2, 3, 4, 5, 6, 7]
    spool.close()


def test_linking_starts_with_nothing_held_in_memory_by_the_buckets(monkeypatch) -> None:
    """The rows a bucket holds in memory are slices of whole chunks: gone before linking."""
    monkeypatch.setattr(derive, "MEMORY_ADDS", 4)
    monkeypatch.setattr(derive, "MEMORY_EVENTS", 4)
    lifecycles = derive.Lifecycles(2)
    n = 5
    adds = pa.table({f.name: pa.nulls(n, f.type) for f in derive.ADD_SCHEMA},
                    schema=derive.ADD_SCHEMA)
    adds = adds.set_column(0, "line_no", pa.array(range(n), pa.int64()))
    adds = adds.set_column(3, "order_id", pa.array(range(n), pa.uint64()))
    for spool, part in zip(lifecycles.adds, derive._partition(adds, 2)):
        spool.add(part)
        spool.add(part.slice(0, 1))
    assert any(s._pending for s in lifecycles.adds)
    try:
        lifecycles.start()
        assert not any(s._pending for s in lifecycles.adds + lifecycles.events)
    finally:
        lifecycles.close()
