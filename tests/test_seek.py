"""The band seek returns exactly the rows of ORDER BY ... LIMIT/OFFSET.

The seek's limits are made small (:func:`small_seek`) so that a few thousand
rows take it through several narrowing rounds, heavy ties and the NULLs; a spy
checks the seek really ran, so these tests fail if a page quietly takes the
plain road.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pitch import generate, generate_binary, ingest, store, summaries
from pitch.filters import MessageFilter, OrderFilter
from pitch.queries import base, seek
from pitch.queries.base import _rows_at
from pitch.queries.messages import MESSAGE_SORTS, messages_page
from pitch.queries.orders import ORDER_SORTS, orders_page

SIZE = 7  # rows per page: many pages from few rows


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """A text session and a binary capture; some binary times and order fields unknown."""
    folder = tmp_path_factory.mktemp("seek")
    generate.write_file(folder / "s.pitch", 3_000, seed=5)
    generate_binary.write_file(folder / "b.pcap", "pcap", 1_500, seed=6)
    head = (folder / "s.pitch").read_bytes().splitlines(keepends=True)[:1_000]
    (folder / "t.pitch").write_bytes(b"".join(head))  # its order ids among the first's
    conn = store.connect(folder / "seek.duckdb")
    for name in ("s.pitch", "b.pcap", "t.pitch"):
        ingest.ingest_path(conn, folder / name)
    conn.execute("UPDATE messages_binary SET time_ns = NULL WHERE line_no % 5 = 0")
    conn.execute("UPDATE orders SET last_time_ns = NULL, price = NULL WHERE line_no % 4 = 0")
    with pytest.MonkeyPatch.context() as patch, store.transaction(conn):
        patch.setattr(summaries, "BLOCK_LINES", 64)  # many blocks of lines in few rows
        summaries.backfill(conn, list(summaries.TABLES))  # counts of what the rows now hold
    yield conn
    conn.close()


@pytest.fixture
def small_seek(monkeypatch):
    """Seek limits for a few thousand rows (a first round samples, later ones read their
    band); returns the calls of the seek and of its counting rounds."""
    for name, value in (("NEAR", 30), ("FEW_ROWS", 0), ("BAND_ROWS", 40), ("SAMPLE_ROWS", 150),
                        ("READ_ROWS", 2_000)):
        monkeypatch.setattr(seek, name, value)
    calls: dict[str, list] = {"locate": [], "_ranks": []}
    for name, spied in calls.items():
        real = getattr(seek, name)
        monkeypatch.setattr(seek, name, lambda *a, real=real, spied=spied:
                            spied.append(a) or real(*a))
    return calls


def plain(conn, table: str, sorts: dict, where: str, params: list, sort: str, desc: bool,
          offset: int, limit: int) -> list[tuple]:
    """The definition: the keys of ORDER BY ... LIMIT/OFFSET."""
    return conn.execute(f"SELECT file_id, line_no FROM {table} {where} "
                        f"{base._order_by(sorts, sort, desc)} LIMIT ? OFFSET ?",
                        params + [limit, offset]).fetchall()


def pages(total: int, nulls: int) -> set[int]:
    """Start, middle, end, the last (partial) page, and around the first NULL."""
    last = -(-total // SIZE)
    at_null = (total - nulls) // SIZE + 1
    return {p for p in (1, 2, 6, 7, last // 3, last // 2, last // 2 + 1, 2 * last // 3,
                        last - 6, last - 1, last, last + 1, at_null - 1, at_null, at_null + 1,
                        (at_null + last) // 2) if p >= 1}


def check(conn, table, sorts, page_fn, flt, sort, desc, total=True) -> int:
    """Every chosen page of ``page_fn`` equals the definition; returns the pages checked."""
    where, params, _ = flt.where()
    count = conn.execute(f"SELECT count(*), count({sorts[sort]}) FROM {table} {where}",
                         params).fetchone()
    n, nulls = count[0], count[0] - count[1]
    for p in sorted(pages(n, nulls)):
        got = page_fn(conn, flt, sort=sort, desc=desc, page=p, page_size=SIZE,
                      total=n if total else None)
        want = plain(conn, table, sorts, where, params, sort, desc, (p - 1) * SIZE, SIZE)
        assert [tuple(r) for r in got[["file_id", "line_no"]].values.tolist()] == want, \
            (flt, sort, desc, p)
    return n


MESSAGE_FILTERS = [MessageFilter(), MessageFilter(types=("A",)), MessageFilter(symbols=("AAPL",)),
                   MessageFilter(side="S"), MessageFilter(start_ns=34_200 * 10**9,
                                                          end_ns=50_000 * 10**9)]
ORDER_FILTERS = [OrderFilter(), OrderFilter(side="B"), OrderFilter(statuses=("open",)),
                 OrderFilter(symbols=("MSFT", "AAPL"))]


#: Each table the pages show: its sorts, its page function and the filters tried.
PAGES = {"messages": (MESSAGE_SORTS, messages_page, MESSAGE_FILTERS),
         "orders": (ORDER_SORTS, orders_page, ORDER_FILTERS)}


@pytest.mark.parametrize("table, sort", [(table, sort) for table, (sorts, _, _) in PAGES.items()
                                         for sort in sorts])
@pytest.mark.parametrize("desc", [False, True])
def test_pages_equal_limit_offset(mixed, small_seek, table, sort, desc) -> None:
    sorts, page_fn, filters = PAGES[table]
    for flt in filters:
        check(mixed, table, sorts, page_fn, flt, sort, desc)
    assert small_seek["locate"] and small_seek["_ranks"], "no page took the seek"


def test_pages_without_a_total_count_it_first(mixed, small_seek) -> None:
    check(mixed, "messages", MESSAGE_SORTS, messages_page, MessageFilter(), "price", True,
          total=False)
    assert small_seek["locate"]


def test_the_filters_reach_rows(mixed) -> None:
    """Each filter above keeps some rows and leaves some out (else it tests nothing)."""
    for table, flts in (("messages", MESSAGE_FILTERS[1:]), ("orders", ORDER_FILTERS[1:])):
        everything = mixed.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for flt in flts:
            where, params, _ = flt.where()
            kept = mixed.execute(f"SELECT count(*) FROM {table} {where}", params).fetchone()[0]
            assert 10 * SIZE < kept < everything, flt


# Random small tables: few distinct values (heavy ties), many NULLs, several files.
_VALUES = {"BIGINT": st.integers(-3, 3), "VARCHAR": st.sampled_from(["", "a", "ab", "b"]),
           "DECIMAL(18,4)": st.decimals(-2, 2, places=1, allow_nan=False),
           "UBIGINT": st.sampled_from([0, 1, 2**63, 2**64 - 1])}


@st.composite
def tables(draw):
    sql_type = draw(st.sampled_from(list(_VALUES)))
    values = draw(st.lists(st.one_of(st.none(), _VALUES[sql_type]), min_size=1, max_size=300))
    files = draw(st.lists(st.integers(1, 3), min_size=len(values), max_size=len(values)))
    return sql_type, values, files


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=tables(), desc=st.booleans(), limits=st.tuples(
    st.integers(0, 20), st.integers(1, 50), st.integers(1, 80), st.integers(1, 160)),
    size=st.integers(1, 9))
def test_random_tables(data, desc, limits, size) -> None:
    sql_type, values, files = data
    conn = duckdb.connect()
    conn.execute(f"CREATE TABLE t (file_id INTEGER, line_no BIGINT, v {sql_type})")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)",
                     [(f, i, v) for i, (f, v) in enumerate(zip(files, values))])
    saved = seek.NEAR, seek.BAND_ROWS, seek.SAMPLE_ROWS, seek.READ_ROWS, seek.FEW_ROWS
    seek.NEAR, seek.BAND_ROWS, seek.SAMPLE_ROWS, seek.READ_ROWS = limits
    seek.FEW_ROWS = 0
    try:
        sorts = {"v": "v"}
        for p in range(1, len(values) // size + 2):
            got = base._page(conn, "t", ("file_id", "line_no"), sorts, "", [], "v", desc, p,
                             size, len(values))
            want = plain(conn, "t", sorts, "", [], "v", desc, (p - 1) * size, size)
            assert [tuple(r) for r in got.values.tolist()] == want, p
    finally:
        seek.NEAR, seek.BAND_ROWS, seek.SAMPLE_ROWS, seek.READ_ROWS, seek.FEW_ROWS = saved
        conn.close()


def test_a_page_among_the_nulls_is_sought_among_them(mixed, monkeypatch) -> None:
    """Deep in the NULLs the band is found by place among them, not sorted from their start."""
    for name, value in (("BAND_ROWS", 40), ("SAMPLE_ROWS", 150), ("READ_ROWS", 10**9)):
        monkeypatch.setattr(seek, name, value)
    total, known = mixed.execute("SELECT count(*), count(price) FROM messages").fetchone()
    offset = (known + total) // 2
    parts = seek.locate(mixed, seek.Rows("messages", "", []),
                        base._sorts(mixed, "messages", MESSAGE_SORTS, "price", False),
                        offset, SIZE, total)
    assert parts and all("price IS NULL" in part.rows.where for part in parts)
    assert sum(part.offset for part in parts) < (total - known) // 4


@pytest.mark.parametrize("table, sorts, page_fn, flt, sort", [
    ("messages", MESSAGE_SORTS, messages_page, MessageFilter(), "symbol"),
    ("messages", MESSAGE_SORTS, messages_page, MessageFilter(types=("A", "E")), "type"),
    ("messages", MESSAGE_SORTS, messages_page, MessageFilter(symbols=("AAPL",)), "side"),
    ("messages", MESSAGE_SORTS, messages_page, MessageFilter(), "price"),
    ("messages", MESSAGE_SORTS, messages_page, MessageFilter(side="S"), "shares"),
    ("messages", MESSAGE_SORTS, messages_page, MessageFilter(), "time"),
    ("messages", MESSAGE_SORTS, messages_page, MessageFilter(types=("A", "d", "0x21")), "time"),
    ("orders", ORDER_SORTS, orders_page, OrderFilter(statuses=("open", "filled")), "symbol")])
@pytest.mark.parametrize("desc", [False, True])
def test_counts_kept_at_ingest_start_the_seek(mixed, small_seek, monkeypatch, table, sorts,
                                              page_fn, flt, sort, desc) -> None:
    """A sort on a column the per-file counts hold starts at the page's values, exactly."""
    started = []
    real = seek._from_counts
    monkeypatch.setattr(seek, "_from_counts", lambda *a: started.append(a) or real(*a))
    check(mixed, table, sorts, page_fn, flt, sort, desc)
    assert started, "the counts were not used"


@pytest.mark.parametrize("flt, sort, desc", [
    (MessageFilter(), "side", False), (MessageFilter(), "side", True),
    (MessageFilter(types=("A", "E")), "type", False), (MessageFilter(side="B"), "symbol", True),
    (MessageFilter(), "file, line", False), (MessageFilter(), "file, line", True),
    (MessageFilter(symbols=("AAPL",)), "file, line", False)])
def test_block_counts_kept_at_ingest_seek_in_file_order(mixed, small_seek, monkeypatch, flt,
                                                        sort, desc) -> None:
    """Among one value's ties, or in file order, the seek starts at the page's blocks."""
    assert mixed.execute("SELECT count(DISTINCT block) FROM message_blocks").fetchone()[0] > 20
    started = []
    real = seek._from_blocks
    monkeypatch.setattr(seek, "_from_blocks", lambda *a: started.append(a) or real(*a))
    check(mixed, "messages", MESSAGE_SORTS, messages_page, flt, sort, desc)
    assert any(a[0] for a in started), "the block counts were not used"


@pytest.mark.parametrize("flt", [MessageFilter(), MessageFilter(types=("A", "E", "0x22")),
                                 MessageFilter(side="S"), MessageFilter(file_id=1)])
@pytest.mark.parametrize("desc", [False, True])
def test_order_id_buckets_kept_at_ingest_start_the_seek(mixed, small_seek, monkeypatch, flt,
                                                         desc) -> None:
    """A page by order id starts at its buckets of ids (several files' merged), exactly."""
    assert mixed.execute("SELECT count(DISTINCT file_id) FROM message_ids").fetchone()[0] == 3
    started = []
    real = seek._from_counts
    monkeypatch.setattr(seek, "_from_counts", lambda *a: started.append(a) or real(*a))
    check(mixed, "messages", MESSAGE_SORTS, messages_page, flt, "order id", desc)
    assert started and len(started[0][0]) > 20, "the id buckets were not used"


def test_a_page_after_a_count_on_the_same_connection(mixed, small_seek) -> None:
    """A count leaves its result unfinished (fetchone); the seek still runs after it."""
    flt = MessageFilter()
    total = mixed.execute("SELECT count(*) FROM messages").fetchone()[0]  # left unfinished
    got = messages_page(mixed, flt, sort="file, line", page=total // SIZE // 2, page_size=SIZE,
                        total=total)
    want = plain(mixed, "messages", MESSAGE_SORTS, "", [], "file, line", False,
                 (total // SIZE // 2 - 1) * SIZE, SIZE)
    assert [tuple(r) for r in got[["file_id", "line_no"]].values.tolist()] == want
    assert small_seek["locate"]


def test_order_rows_are_fetched_by_rowid_and_checked(mixed, monkeypatch) -> None:
    """A page of orders reads its rows by rowid; keys whose rowids no longer hold them
    (rows moved between the two statements) are read by their line numbers instead."""
    keys = mixed.execute("SELECT file_id, line_no, rowid FROM orders "
                         "ORDER BY hash(line_no) LIMIT 9").fetchall()
    columns = ("order_id", "symbol", "shares", "line_no")
    want = pd.concat([mixed.execute("SELECT order_id, symbol, shares, line_no FROM orders "
                                    "WHERE file_id = ? AND line_no = ?", [f, l]).df()
                      for f, l, _ in keys], ignore_index=True)
    sqls: list[str] = []
    real = mixed.execute

    class Spy:
        def execute(self, sql, *args):
            sqls.append(sql)
            return real(sql, *args)

    got = base._rows_at(Spy(), "orders", columns, keys)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert len(sqls) == 1 and "rowid IN" in sqls[0]
    moved = [(f, l, r + 1) for f, l, r in keys]  # each rowid now another row's
    sqls.clear()
    got = base._rows_at(Spy(), "orders", columns, moved)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert len(sqls) == 2 and "line_no IN" in sqls[1]
    pages = []
    monkeypatch.setattr(base, "_rows_at", lambda *a: pages.append(a[3]) or _rows_at(*a))
    orders_page(mixed, OrderFilter(), sort="price", page=3, page_size=SIZE)
    assert pages and len(pages[0][0]) == 3  # the page's keys carry rowids
