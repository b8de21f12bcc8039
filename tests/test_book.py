"""The book (pitch.book, pitch.bbo) against the slow reference replay, from the database.

The real sample, a generated text session, a binary session written straight
into ``messages_binary_other``, and random streams: depth at many instants and the
whole BBO series equal ``book_reference`` (a dict of live orders replaying
the rows of ``messages`` one at a time).
"""

from __future__ import annotations

import random
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

import book_reference as ref
from pitch import book, ingest, store
from pitch.errors import PitchError
from pitch.generate import generate_lines
from pitch.layouts import Role, codes
from pitch.lifecycle import ROLE_IDS, Adds, Events, replay, role_of
from conftest import SHARED_SAMPLE
from test_lifecycle import random_stream, streams

END = 24 * 3600 * 10**9  # after every message
INSTANTS = (0, 28_800_500_000_000, 28_830_000_000_000, 28_900_000_000_000, 28_963_000_000_000,
            END)


def rows_of(conn, file_id: int) -> list[dict]:
    """Every message of a file as a dict, in line order (what the reference replays)."""
    cur = conn.execute("SELECT * FROM messages WHERE file_id = ? ORDER BY line_no", [file_id])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def as_ref_book(frame: pd.DataFrame) -> dict:
    return {(r.side, round(r.price * 10_000)): [r.shares, r.orders] for r in frame.itertuples()}


def as_ref_bbo(frame: pd.DataFrame) -> list[tuple]:
    def num(v, scale=1):
        return None if pd.isna(v) else round(v * scale)
    return [(int(r.line_no), num(r.time_ns), num(r.bid_price, 10_000), num(r.bid_shares),
             num(r.ask_price, 10_000), num(r.ask_shares)) for r in frame.itertuples()]


def check_symbol(sb: book.SymbolBook, rows: list[dict], symbol: str, instants) -> None:
    assert as_ref_bbo(sb.bbo()) == ref.bbo(rows, symbol), symbol
    for at in instants:
        assert as_ref_book(sb.levels_at(at, 10**6)) == ref.book_at(rows, symbol, at), (symbol, at)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    conn = store.connect(tmp_path_factory.mktemp("book") / "sample.duckdb")
    ingest.ingest_path(conn, SHARED_SAMPLE)
    yield conn, rows_of(conn, 1)
    conn.close()


def test_the_end_of_the_real_sample_holds_784_orders_and_1378304_shares(sample) -> None:
    conn, rows = sample
    # Every symbol at once: the engine over the whole file, read here with plain SQL.
    m = conn.execute("""
        SELECT line_no, type, order_id, ascii(side) AS side, shares,
               (price * 10000)::BIGINT AS price, symbol, display = 'Y' AS displayed
        FROM messages WHERE file_id = 1 ORDER BY line_no""").df()
    add = m["type"].isin(codes(Role.ADD))
    event = m["type"].isin(codes(Role.EXECUTE, Role.CANCEL))
    a, e = m[add], m[event]
    life = replay(Adds.build(line_no=a.line_no, order_id=a.order_id, side=a.side,
                             shares=a.shares, price=a.price, symbol=a.symbol.to_numpy(),
                             displayed=a.displayed),
                  Events.build(line_no=e.line_no, order_id=e.order_id, shares=e.shares,
                               role=[role_of(t) for t in e.type]))
    assert (int(life.changes.d_orders.sum()), int(life.changes.d_shares.sum())) == \
        (784, 1_378_304)
    assert int(life.open.sum()) == 784 and int(life.remaining[life.open].sum()) == 1_378_304
    # the reference, one message at a time, says the same
    *_, (_, _, end) = ref.stream(rows, None)
    assert (sum(v[1] for v in end.values()), sum(v[0] for v in end.values())) == \
        (784, 1_378_304)
    # so do the orders the lead's derivation leaves open
    assert conn.execute("SELECT count(*), sum(remaining_shares) FROM orders "
                        "WHERE status = 'open'").fetchone() == (784, 1_378_304)
    # and the public API, symbol by symbol, for the busiest ones
    for symbol in ("IWM", "SPY", "TWM", "QQQQ"):
        depth = book.book_at(conn, symbol, END, levels=10**6)
        assert int(depth["orders"].sum()) == int(
            ((life.changes.symbol == symbol) * life.changes.d_orders).sum())


@pytest.mark.parametrize("rank", [0, 1, 3, 8, 21, 55, 144, 233])
def test_real_sample_equals_the_reference(sample, rank: int) -> None:
    conn, rows = sample
    symbol = conn.execute("SELECT symbol FROM orders WHERE file_id = 1 GROUP BY 1 "
                          "ORDER BY count(*) DESC, 1 LIMIT 1 OFFSET ?", [rank]).fetchone()[0]
    times = sorted({r["time_ns"] for r in rows})
    instants = INSTANTS + tuple(times[i] for i in range(0, len(times), len(times) // 7))
    check_symbol(book.load(conn, symbol), rows, symbol, instants)


def test_depth_is_best_first_and_cut_at_n_levels(sample) -> None:
    conn, _ = sample
    full = book.book_at(conn, "SPY", END, levels=10**6)
    top = book.book_at(conn, "SPY", END, levels=3)
    bids, asks = full[full.side == "B"], full[full.side == "S"]
    assert list(bids.price) == sorted(bids.price, reverse=True)
    assert list(asks.price) == sorted(asks.price)
    assert top.equals(pd.concat([bids.head(3), asks.head(3)]).reset_index(drop=True))
    assert list(top.columns) == ["side", "price", "shares", "orders"]


def test_before_the_first_message_the_book_is_empty(sample) -> None:
    conn, _ = sample
    assert book.book_at(conn, "SPY", 0).empty


def test_errors_and_the_default_file(sample, tmp_path, real_sample) -> None:
    conn, _ = sample
    with pytest.raises(PitchError, match="unknown symbol 'NOPE'"):
        book.book_at(conn, "NOPE", END)
    with pytest.raises(PitchError, match="no file 9"):
        book.bbo(conn, "SPY", file_id=9)
    other = store.connect(tmp_path / "two.duckdb")
    ingest.ingest_path(other, real_sample)
    ingest.ingest_bytes(other, b"".join(generate_lines(3000, seed=5)), "gen.pitch")
    assert book.load(other, "SPY").file_id == 2  # the newest file that holds it
    assert book.load(other, "SPY", file_id=1).file_id == 1
    with pytest.raises(PitchError, match="unknown symbol 'SH' in file 2"):
        book.load(other, "SH", file_id=2)
    other.close()


def test_csv_has_the_scripted_header_and_4_decimals(sample) -> None:
    conn, _ = sample
    text = book.to_csv(book.book_at(conn, "SPY", END, levels=2)).decode()
    assert text.splitlines()[0] == "side,price,shares,orders"
    assert all(len(line.split(",")[1].split(".")[1]) == 4 for line in text.splitlines()[1:])
    text = book.to_csv(book.bbo(conn, "SPY")).decode()
    assert text.splitlines()[0] == "line_no,time_ns,bid_price,bid_shares,ask_price,ask_shares"
    exact = book.exact(book.bbo(conn, "SPY").head(1))
    assert isinstance(exact["bid_price"].iloc[0], (Decimal, type(None)))


def test_generated_text_session_equals_the_reference(tmp_path) -> None:
    conn = store.connect(tmp_path / "gen.duckdb")
    ingest.ingest_bytes(conn, b"".join(generate_lines(20_000, seed=11)), "gen.pitch")
    rows = rows_of(conn, 1)
    times = [r["time_ns"] for r in rows]
    instants = (0, END) + tuple(times[i] for i in range(0, len(times), 2500))
    for symbol in ("SPY", "AAPL", "BRK.A", "GOOGL.WI", "ZVZZT"):
        check_symbol(book.load(conn, symbol), rows, symbol, instants)
    conn.close()


# --- binary: rows written straight into messages_binary_other --------------------------

def binary_session(seed: int, n: int) -> pd.DataFrame:
    """A messy binary session: 3 units, 3 symbols, modifies, executions at price, deletes,
    unit clears, trades, unknown ids, times unknown at first in each unit and stepping back."""
    rng = random.Random(seed)
    live: list[int] = []
    rows = []
    seconds: dict[int, int] = {}
    for line in range(1, n + 1):
        unit = rng.randint(1, 3)
        if unit not in seconds and rng.random() < 0.2:
            seconds[unit] = 34_200 + line // 50
        t = None if unit not in seconds else seconds[unit] * 10**9 + rng.randint(0, 10**6) * line
        r = rng.random()
        row = {"line_no": line, "time_ns": t, "unit": unit, "sequence": line, "packet": line}
        if r < 0.4 or not live:
            oid = rng.choice(live) if live and rng.random() < 0.05 else rng.randint(1, 10**12)
            live.append(oid)
            row.update(type=rng.choice(codes(Role.ADD, feed="binary")), order_id=oid,
                       side=rng.choice("BS"), shares=rng.choice([100, 200, 300, 50]),
                       symbol=rng.choice(["AAA", "BBB", "CCC"]),
                       price=Decimal(rng.randint(995, 1005)) / 100)
        else:
            oid = rng.choice(live) if rng.random() < 0.95 else rng.randint(1, 10**12)
            role = rng.choices([Role.EXECUTE, Role.EXECUTE_AT_PRICE, Role.CANCEL, Role.MODIFY,
                                Role.DELETE, Role.CLEAR_UNIT, Role.TRADE],
                               [20, 8, 30, 15, 15, 1, 5])[0]
            row.update(type=codes(role, feed="binary")[0], order_id=oid,
                       shares=rng.choice([10, 50, 100, 300]))
            if role in (Role.EXECUTE_AT_PRICE, Role.MODIFY, Role.TRADE):
                row["price"] = Decimal(rng.randint(995, 1005)) / 100
            if role is Role.EXECUTE_AT_PRICE:
                row["remaining_shares"] = rng.choice([0, 0, 40, 100])
            if role is Role.TRADE:
                row.update(symbol="AAA", side="B")
            if role is Role.CLEAR_UNIT:
                row.update(order_id=None, shares=None)
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("bucket_rows", [book.BUCKET_ROWS, 700])
def test_binary_session_equals_the_reference(tmp_path, monkeypatch, bucket_rows) -> None:
    monkeypatch.setattr(book, "BUCKET_ROWS", bucket_rows)  # 700: replayed in buckets
    conn = store.connect(tmp_path / "bin.duckdb")
    frame = binary_session(seed=3, n=6000)
    conn.execute("INSERT INTO files (file_id, name, size, sha256, status, format) "
                 "VALUES (1, 'cap.pcap', 1, 'x', 'done', 'pcap')")
    conn.register("frame", frame)
    # The table with every binary column: the book reads the messages view, whichever table.
    conn.execute("INSERT INTO messages_binary_other BY NAME SELECT 1 AS file_id, * FROM frame")
    rows = rows_of(conn, 1)
    assert any(r["time_ns"] is None for r in rows) and any(r["type"] == "0x97" for r in rows)
    times = sorted(r["time_ns"] for r in rows if r["time_ns"] is not None)
    instants = (0, END) + tuple(times[i] for i in range(0, len(times), 400))
    for symbol in ("AAA", "BBB", "CCC"):
        check_symbol(book.load(conn, symbol), rows, symbol, instants)
    conn.close()


# --- random streams, without the database --------------------------------------------

CODE = {Role.EXECUTE: "E", Role.CANCEL: "X", Role.EXECUTE_AT_PRICE: "0x24",
        Role.MODIFY: "0x27", Role.DELETE: "0x29", Role.CLEAR_UNIT: "0x97", Role.TRADE: "P",
        Role.BREAK: "B"}
ROLE_OF_ID = {i: r for r, i in ROLE_IDS.items()}


def as_rows(adds: Adds, events: Events) -> list[dict]:
    """The stream as rows of ``messages`` (text adds carry their display flag)."""
    out = []
    for i in range(len(adds)):
        out.append({"line_no": int(adds.line_no[i]), "type": "A",
                    "time_ns": None if adds.time_ns[i] < 0 else int(adds.time_ns[i]),
                    "symbol": f"S{adds.symbol[i]}", "order_id": int(adds.order_id[i]),
                    "side": chr(adds.side[i]), "shares": int(adds.shares[i]),
                    "price": Decimal(int(adds.price[i])) / 10_000, "unit": int(adds.unit[i]),
                    "display": "Y" if adds.displayed[i] else "N"})
    for j in range(len(events)):
        role = ROLE_OF_ID[int(events.role[j])]
        out.append({"line_no": int(events.line_no[j]), "type": CODE[role],
                    "time_ns": None if events.time_ns[j] < 0 else int(events.time_ns[j]),
                    "order_id": int(events.order_id[j]), "shares": int(events.shares[j]),
                    "price": Decimal(int(events.price[j])) / 10_000, "unit": int(events.unit[j]),
                    "remaining_shares": int(events.remaining[j])})
    return sorted(out, key=lambda r: r["line_no"])


def check_stream(adds: Adds, events: Events) -> None:
    rows = as_rows(adds, events)
    times = sorted({r["time_ns"] for r in rows if r["time_ns"] is not None})
    for s in range(3):
        mine = Adds(**{**adds.__dict__, "symbol": adds.symbol == s})
        instants = (-1, END) + tuple(times[:: max(1, len(times) // 6)])
        check_symbol(book.build(1, f"S{s}", mine, events), rows, f"S{s}", instants)
        # replayed by order-id bucket (as a big symbol is): the same book
        check_symbol(book.build(1, f"S{s}", mine, events, bucket_rows=max(50, len(rows) // 5)),
                     rows, f"S{s}", instants)


@pytest.mark.parametrize("seed", range(6))
def test_random_streams_equal_the_reference(seed: int) -> None:
    check_stream(*random_stream(100 + seed, 3000))


@settings(max_examples=80, deadline=None)
@given(streams())
def test_small_random_streams_equal_the_reference(data: tuple[Adds, Events]) -> None:
    adds, events = data
    adds = Adds(**{**adds.__dict__, "symbol": (adds.order_id % 3).astype(np.int64),
                   "time_ns": adds.line_no * 7 % 23})
    check_stream(adds, Events(**{**events.__dict__, "time_ns": events.line_no * 7 % 23}))
