"""The depth at one instant from the orders live around it (pitch.book_fast) equals the full replay.

``book.book_at`` reads only the candidates that ``orders.end_line_no`` leaves;
it must give exactly ``book.load(...).levels_at`` at every instant: before the
first message, on message times, between them, after the last, with unknown
times. On the real and committed samples, a generated text session, generated
binary captures, a messy binary session and random streams written into the
database, with the ends stored at ingest, unknown (a version 5 database) or
later than the truth (allowed: only slower).
"""

from __future__ import annotations

from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pitch import book, book_fast, derive, derive_binary, generate_binary, ingest, store
from pitch.generate import generate_lines
from pitch.layouts import ROLES, Role, codes
from pitch.lifecycle import ORDER_ROLES, ROLE_IDS, Adds, Events, replay, role_of
from pitch.settings import SAMPLE_FILE
from pitch.store import registered
from test_book import binary_session
from test_lifecycle import random_stream, streams

END = 24 * 3600 * 10**9
ROLE_OF_ID = {i: r for r, i in ROLE_IDS.items()}


def instants(conn, fid: int, count: int = 12) -> list[int | None]:
    """Before the first message, after the last, None, and ``count`` known times of the
    file spread over it, each with one ns before it and one after."""
    times = [r[0] for r in conn.execute("SELECT DISTINCT time_ns FROM messages WHERE file_id = ? "
                                        "AND time_ns IS NOT NULL ORDER BY 1", [fid]).fetchall()]
    out: list[int | None] = [-1, 0, END, None]
    for t in times[::max(1, len(times) // count)]:
        out += [t - 1, t, t + 1]
    return out


def check(conn, symbol: str, fid: int, at_list, levels=(10**6,)) -> int:
    """The fast depth equals the full replay's at every instant; how many were checked."""
    full = book.load(conn, symbol, fid)
    for at in at_list:
        for n in levels:
            got_fid, got = book_fast.depth_at(conn, symbol, at, n, fid)
            assert got_fid == fid
            pd.testing.assert_frame_equal(got, full.levels_at(at, n), obj=f"{symbol} at {at}")
    return len(at_list)


def ranked_symbols(conn, fid: int, ranks) -> list[str]:
    names = [r[0] for r in conn.execute("SELECT symbol FROM orders WHERE file_id = ? GROUP BY 1 "
                                        "ORDER BY count(*) DESC, 1", [fid]).fetchall()]
    return [names[r] for r in ranks if r < len(names)]


# --- the ends stored at ingest ---------------------------------------------------------

def engine_ends(conn, fid: int) -> pd.DataFrame:
    """Every add of the file with its end by the book's engine over the whole file."""
    m = conn.execute(f"SELECT {book.FIELDS}, type FROM messages WHERE file_id = ? "
                     f"ORDER BY line_no", [fid]).df()
    m = m[m["role"].notna()]
    add = m["role"] == ROLE_IDS[Role.ADD]
    a, e = m[add], m[~add]
    adds = Adds.build(line_no=a.line_no, order_id=a.order_id, side=a.side, shares=a.shares,
                      price=a.price, unit=a.unit, time_ns=a.time_ns)
    events = Events.build(line_no=e.line_no, order_id=e.order_id, role=e.role, shares=e.shares,
                          price=e.price, remaining=e.remaining, unit=e.unit, time_ns=e.time_ns)
    life = replay(adds, events, book=False)
    return pd.DataFrame({"line_no": adds.line_no, "end": life.end_line(adds.line_no)})


def stored_ends(conn, fid: int) -> pd.DataFrame:
    return conn.execute("SELECT line_no, coalesce(end_line_no, -1) AS stored FROM orders "
                        "WHERE file_id = ? ORDER BY line_no", [fid]).df()


def test_text_ends_are_never_before_the_engines_and_open_orders_have_none(real, tmp_path) -> None:
    other = store.connect(tmp_path / "gen.duckdb")
    ingest.ingest_bytes(other, b"".join(generate_lines(20_000, seed=3)), "gen.pitch")
    for conn in (real, other):
        both = engine_ends(conn, 1).merge(stored_ends(conn, 1), on="line_no", validate="1:1")
        assert len(both) == conn.execute("SELECT count(*) FROM orders").fetchone()[0] > 5000
        assert ((both.stored == -1) == (both.end == -1)).all()  # open: NULL, and only then
        assert (both.stored >= both.end).all()
        assert (both.stored == both.end).mean() > 0.99  # in a consistent session, the same
    other.close()


@pytest.mark.parametrize("fmt", ["pcap", "units"])
def test_binary_ends_are_the_engines(tmp_path, fmt: str) -> None:
    path = tmp_path / f"cap.{fmt}"
    generate_binary.write_file(path, fmt, 20_000, seed=5, gaps=True, retransmissions=True)
    conn = store.connect(tmp_path / "bin.duckdb")
    ingest.ingest_path(conn, path)
    both = engine_ends(conn, 1).merge(stored_ends(conn, 1), on="line_no", validate="1:1")
    assert len(both) > 5000 and (both.stored == both.end).all()
    assert (both.end == -1).any() and (both.end > both.line_no).any()
    conn.close()


# --- sessions --------------------------------------------------------------------------

@pytest.mark.parametrize("rank", [0, 1, 3, 8, 21, 55, 144])
def test_real_sample(real, rank: int) -> None:
    symbol, = ranked_symbols(real, 1, [rank])
    assert check(real, symbol, 1, instants(real, 1), levels=(10**6, 3)) > 36


def test_committed_sample(tmp_path) -> None:
    conn = store.connect(tmp_path / "committed.duckdb")
    ingest.ingest_path(conn, SAMPLE_FILE)
    for symbol in ranked_symbols(conn, 1, [0, 5, 20, 40]):
        check(conn, symbol, 1, instants(conn, 1))
    conn.close()


def generated_text(tmp_path) -> duckdb.DuckDBPyConnection:
    """A database of a generated 20k-message text session (file 1)."""
    conn = store.connect(tmp_path / "gen.duckdb")
    ingest.ingest_bytes(conn, b"".join(generate_lines(20_000, seed=11)), "gen.pitch")
    return conn


def generated_capture(tmp_path, fmt: str, seed: int) -> duckdb.DuckDBPyConnection:
    """A database of a generated 12k-message capture with gaps and retransmissions."""
    path = tmp_path / f"cap.{fmt}"
    generate_binary.write_file(path, fmt, 12_000, seed=seed, gaps=True, retransmissions=True)
    conn = store.connect(tmp_path / "bin.duckdb")
    ingest.ingest_path(conn, path)
    return conn


def put_messy_binary(conn) -> None:
    """test_book's messy binary session (modifies, executions at price, deletes, unit
    clears, unknown times) as file 1, with its orders."""
    new_file(conn)
    with registered(conn, "_rows", binary_session(seed=3, n=6000)):
        conn.execute("INSERT INTO messages_binary_other BY NAME SELECT 1 AS file_id, * FROM _rows")
    derive_orders(conn, text=False)


def test_generated_text_session(tmp_path) -> None:
    conn = generated_text(tmp_path)
    for symbol in ("SPY", "AAPL", "BRK.A", "GOOGL.WI", "ZVZZT"):
        check(conn, symbol, 1, instants(conn, 1, count=8))
    conn.close()


@pytest.mark.parametrize("fmt,seed", [("pcap", 1), ("units", 2)])
def test_generated_binary_sessions(tmp_path, fmt: str, seed: int) -> None:
    conn = generated_capture(tmp_path, fmt, seed)
    kinds = {r[0] for r in conn.execute("SELECT DISTINCT type FROM messages").fetchall()}
    assert {"0x24", "0x27", "0x29"} <= kinds  # executions at price, modifies, deletes
    for symbol in ranked_symbols(conn, 1, [0, 2, 5]):
        check(conn, symbol, 1, instants(conn, 1))
    conn.close()


# --- streams written straight into the database ------------------------------------------

BINARY_CODE = {Role.EXECUTE: "0x23", Role.EXECUTE_AT_PRICE: "0x24", Role.CANCEL: "0x25",
               Role.MODIFY: "0x27", Role.DELETE: "0x29", Role.CLEAR_UNIT: "0x97",
               Role.TRADE: "0x2A", Role.BREAK: "0x2C"}
TEXT_CODE = {Role.EXECUTE: "E", Role.CANCEL: "X"}


def new_file(conn) -> None:
    store.delete_all(conn)
    conn.execute("INSERT INTO files (file_id, name, size, sha256, status, format) "
                 "VALUES (1, 'f', 1, 'x', 'done', 'pcap')")


def put_stream(conn, adds: Adds, events: Events, text: bool = False) -> None:
    """A stream as file 1's messages: binary (displayed adds and every event in
    messages_binary_other, undisplayed adds as text ``d`` with display N, which has no unit),
    or ``text`` (``A`` with its display, ``E`` and ``X``; times known)."""
    new_file(conn)
    rows_b, rows_t = [], []
    for i in range(len(adds)):
        t = int(adds.time_ns[i])
        row = {"line_no": int(adds.line_no[i]), "order_id": int(adds.order_id[i]),
               "symbol": f"S{adds.symbol[i]}", "side": chr(adds.side[i]),
               "shares": int(adds.shares[i]), "price": Decimal(int(adds.price[i])) / 10_000}
        if text or not adds.displayed[i]:
            rows_t.append({**row, "type": "A" if text else "d", "time_ns": max(t, 0),
                           "display": "Y" if adds.displayed[i] else "N"})
        else:
            rows_b.append({**row, "type": "0x21", "time_ns": None if t < 0 else t,
                           "unit": int(adds.unit[i])})
    for j in range(len(events)):
        role = ROLE_OF_ID[int(events.role[j])]
        t = int(events.time_ns[j])
        row = {"line_no": int(events.line_no[j]), "order_id": int(events.order_id[j]),
               "shares": int(events.shares[j])}
        if text:
            if role in TEXT_CODE:
                rows_t.append({**row, "type": TEXT_CODE[role], "time_ns": max(t, 0)})
            continue
        rows_b.append({**row, "type": BINARY_CODE[role], "time_ns": None if t < 0 else t,
                       "price": Decimal(int(events.price[j])) / 10_000,
                       "remaining_shares": int(events.remaining[j]),
                       "unit": int(events.unit[j])})
    for table, rows in (("messages_binary_other", rows_b), ("messages_other", rows_t)):
        if rows:
            with registered(conn, "_rows", pd.DataFrame(rows)):
                conn.execute(f"INSERT INTO {table} BY NAME SELECT 1 AS file_id, * FROM _rows")
    derive_orders(conn, text)


def derive_orders(conn, text: bool) -> None:
    """File 1's orders from its messages, by the ingest's own link (text or binary)."""
    kinds = derive if text else derive_binary
    adds = conn.sql(f"SELECT {', '.join(kinds.ADD_SCHEMA.names)} FROM messages "
                        f"WHERE file_id = 1 AND type IN ({store.sql_list(codes(Role.ADD))})"
                        ).to_arrow_table().cast(kinds.ADD_SCHEMA)
    names = [n for n in kinds.EVENT_SCHEMA.names if n not in ("executed", "role")]
    ev = conn.sql(f"SELECT {', '.join(names)}, type FROM messages WHERE file_id = 1 AND type "
                      f"IN ({store.sql_list(codes(*ORDER_ROLES, Role.CLEAR_UNIT))})"
                      ).to_arrow_table()
    kind = ev.column("type").to_pylist()
    ev = ev.drop_columns(["type"])
    if text:
        ev = ev.append_column("executed", pa.array([ROLES[k] is Role.EXECUTE for k in kind]))
    else:
        ev = ev.append_column("role", pa.array([role_of(k) for k in kind], pa.uint8()))
    got = kinds.link(adds, ev.cast(kinds.EVENT_SCHEMA))
    with registered(conn, "_pitch_orders", got.orders):
        conn.execute(kinds.Lifecycles.orders_sql if text else kinds.BinaryLifecycles.orders_sql,
                     {"f": 1})


def with_ends(conn, ends: str, seed: int = 0) -> None:
    """``stored``: as derived; ``unknown``: all NULL (a version 5 database); ``late``: some
    NULL, the others later than the truth by 0-6 lines (still exact, only slower)."""
    if ends == "unknown":
        conn.execute("UPDATE orders SET end_line_no = NULL")
    elif ends == "late":
        conn.execute("UPDATE orders SET end_line_no = CASE WHEN (line_no + $k) % 3 = 0 THEN NULL "
                     "ELSE end_line_no + (line_no * 7 + $k) % 7 END", {"k": seed})


def stream_instants(adds: Adds, events: Events) -> list[int | None]:
    times = {int(t) for t in np.concatenate([adds.time_ns, events.time_ns]) if t >= 0}
    return [-1, 0, END, None] + sorted({x for t in times for x in (t - 1, t, t + 1)})


@pytest.fixture(scope="module")
def scratch():
    conn = store.connect(":memory:")
    yield conn
    conn.close()


def test_messy_binary_session(scratch) -> None:
    put_messy_binary(scratch)
    for ends in ("stored", "late", "unknown"):
        with_ends(scratch, ends, 3)
        for symbol in ("AAA", "BBB", "CCC"):
            check(scratch, symbol, 1, instants(scratch, 1, count=8))


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("text", [False, True])
def test_random_streams(scratch, seed: int, text: bool) -> None:
    adds, events = random_stream(200 + seed, 1500)
    adds = Adds(**{**adds.__dict__, "symbol": adds.symbol.astype(np.int64)})
    put_stream(scratch, adds, events, text)
    at_list = stream_instants(adds, events)[::100] + [-1, END, None]
    for s in range(3):
        check(scratch, f"S{s}", 1, at_list)


@settings(max_examples=60, deadline=None)
@given(streams(), st.sampled_from(["stored", "late", "unknown"]), st.booleans(), st.data())
def test_small_random_streams(scratch, data: tuple[Adds, Events], ends: str, text: bool,
                              draw: st.DataObject) -> None:
    adds, events = data
    # symbols apart from ids (an id serves several), times that repeat, step back, and
    # are unknown for every fifth line (binary)
    adds = Adds(**{**adds.__dict__, "symbol": (adds.line_no * 5 + adds.order_id) % 3,
                   "time_ns": np.where(adds.line_no % 5 == 0, -1, adds.line_no * 7 % 23)})
    events = Events(**{**events.__dict__,
                       "time_ns": np.where(events.line_no % 5 == 0, -1, events.line_no * 7 % 23)})
    put_stream(scratch, adds, events, text)
    with_ends(scratch, ends, len(adds))
    if len(adds):  # one symbol, a few instants: each costs a few statements
        at_list = draw.draw(st.lists(st.sampled_from(stream_instants(adds, events)),
                                     min_size=1, max_size=8))
        check(scratch, f"S{draw.draw(st.sampled_from(sorted(set(adds.symbol))))}", 1, at_list)


# --- the fast path is the one that runs ----------------------------------------------------

def test_book_at_reads_only_the_orders_live_around_the_instant(real, monkeypatch) -> None:
    """A spy on the engine: book_at never loads the whole symbol, and in mid-session it
    replays a small part of what load does (a candidate query without the W bound
    replays nearly everything, and fails here)."""
    replayed: list[int] = []
    real_build = book.build

    def spy(file_id, symbol, adds, events, *args):
        replayed.append(len(adds) + len(events))
        return real_build(file_id, symbol, adds, events, *args)

    monkeypatch.setattr(book, "build", spy)
    full = book.load(real, "SPY")
    monkeypatch.setattr(book, "load", lambda *a, **k: pytest.fail("book_at loaded the symbol"))
    for at in (28_830_000_000_000, 28_900_000_000_000, END):
        assert book.book_at(real, "SPY", at, 10**6).equals(full.levels_at(at, 10**6))
    whole, *fast = replayed
    assert len(fast) == 3 and max(fast) < whole / 4, replayed


def first_difference(conn, at_list) -> tuple[str, int | None] | None:
    """The first (symbol, instant) where book_at differs from the full replay, or None."""
    full = {s: book.load(conn, s, 1) for s in ("S0", "S1", "S2")}
    for at in at_list:
        for s, sb in full.items():
            if not book.book_at(conn, s, at, 10**6, 1).equals(sb.levels_at(at, 10**6)):
                return s, at
    return None


@pytest.mark.parametrize("mutant,ends", [
    (">= $w|> $w", "stored"), ("end_line_no IS NULL OR |", "stored"),
    (" AND remaining_shares > 0|", "unknown"),
    (" AND line_no NOT IN (FROM _pitch_book_hidden)|", "stored")])
def test_an_injected_bug_in_the_candidates_is_caught(scratch, monkeypatch, mutant: str,
                                                     ends: str) -> None:
    """What the streams above hold: the end compared with W by > instead of >= (the
    order that the cut itself ends is dropped), open orders dropped, an order of 0 shares
    taken for a resting one (unknown ends), hidden quiet orders summed with shown ones."""
    old, new = mutant.split("|")
    assert old in book_fast._CANDIDATES_SQL
    adds, events = random_stream(2, 200)
    put_stream(scratch, Adds(**{**adds.__dict__, "symbol": adds.symbol.astype(np.int64)}), events)
    with_ends(scratch, ends)
    with monkeypatch.context() as patch:
        patch.setattr(book_fast, "_CANDIDATES_SQL", book_fast._CANDIDATES_SQL.replace(old, new))
        found = first_difference(scratch, stream_instants(adds, events))
    assert found is not None, "the mutant went unnoticed"
    assert first_difference(scratch, [found[1]]) is None  # where the real code is right
