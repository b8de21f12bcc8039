"""The fast BBO series (pitch.bbo_fast, pitch.top_of_book) equals the full replay and the reference.

``bbo_fast.series`` reads most orders from ``orders`` and replays only the
active ones; ``top_of_book.top_changes`` derives the best bid and offer by
price level from changes in any order. Both are held equal to their slow
twins: ``book.load(...).bbo()`` (the engine over every message, then
``bbo.best_bid_offer``) and the dict replay of ``tests/book_reference.py``, on
the real and committed samples, generated text and binary sessions, a messy
binary session and random streams written into the database (text and
binary, ends stored or unknown). Random changes for ``top_changes``: lines
with several rows, few or many levels, counts that go below zero, shuffled.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import book_reference as ref
from pitch import bbo, bbo_fast, book, generate_binary, ingest, store, top_of_book
from pitch.lifecycle import Adds
from pitch.settings import SAMPLE_FILE
from test_book import as_ref_bbo, rows_of
from test_book_fast import (engine_ends, generated_capture, generated_text,
                            put_messy_binary, put_stream, ranked_symbols,
                            with_ends)
from test_lifecycle import random_stream, streams


def check(conn, symbol: str, fid: int = 1, reference: bool = False) -> pd.DataFrame:
    """The fast series equals the full replay's (and the dict replay's, with
    ``reference``), frame for frame; returns it."""
    got_fid, got = bbo_fast.series(conn, symbol, fid)
    assert got_fid == fid
    pd.testing.assert_frame_equal(got, book.load(conn, symbol, fid).bbo(), obj=symbol)
    if reference:
        assert as_ref_bbo(got) == ref.bbo(rows_of(conn, fid), symbol), symbol
    return got


# --- top_changes against best_bid_offer ---------------------------------------------------

def changes(rng: np.random.Generator, n: int, lines: int, prices: int, scale: int = 1,
            sorted_: bool = True) -> tuple[np.ndarray, ...]:
    """Random book changes: lines with several rows, few price levels, orders coming
    and going (a level's count may even go below 0: both sides read only > 0)."""
    line = np.sort(rng.integers(0, lines, n)) * scale
    is_bid = rng.random(n) < 0.5
    price = rng.integers(0, prices, n) * 100 + 10_000
    d_orders = rng.choice([-1, 0, 1, 1], n)
    d_shares = rng.integers(-300, 300, n) * (d_orders != 0) + rng.integers(-5, 6, n)
    out = (line, is_bid, price, d_shares, d_orders)
    return out if sorted_ else tuple(c[rng.permutation(n)] for c in out)


def assert_top_equal(line, is_bid, price, d_shares, d_orders, shuffle_seed: int = 0) -> None:
    want = bbo.best_bid_offer(line, line * 3, is_bid, price, d_shares, d_orders)
    mix = np.random.default_rng(shuffle_seed).permutation(len(line))
    got = top_of_book.top_changes(line[mix], is_bid[mix], price[mix], d_shares[mix],
                                  d_orders[mix])
    for name, w, g in zip(("line", "bid", "bid shares", "ask", "ask shares"),
                          (want[0], *want[2:]), got):
        np.testing.assert_array_equal(g, w, err_msg=name)


@pytest.mark.parametrize("seed", range(8))
def test_top_changes_equals_best_bid_offer(seed: int) -> None:
    rng = np.random.default_rng(seed)
    assert_top_equal(*changes(rng, 5000, 1500, [3, 12, 40, 400][seed % 4]), shuffle_seed=seed)


def test_top_changes_without_packing() -> None:
    """Lines too long for the packed sort, order changes other than -1/0/1, prices too
    far apart to pack: the lexsort road gives the same."""
    rng = np.random.default_rng(5)
    line, is_bid, price, d_shares, d_orders = changes(rng, 3000, 800, 30, scale=1 << 40)
    assert_top_equal(line, is_bid, price, d_shares, d_orders)
    assert_top_equal(line // (1 << 40), is_bid, price, d_shares, d_orders * 2)
    assert_top_equal(line // (1 << 40), is_bid, price * (1 << 40), d_shares, d_orders)


def test_top_changes_on_nothing_and_one_side() -> None:
    empty = np.zeros(0, np.int64)
    assert all(len(c) == 0 for c in top_of_book.top_changes(empty, empty.astype(bool), empty,
                                                            empty, empty))
    one = np.array([5, 7, 9])
    assert_top_equal(one, np.array([True] * 3), np.array([100, 200, 100]),
                     np.array([10, 20, -10]), np.array([1, 1, -1]))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 60), st.integers(1, 20), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_small_random_changes(n: int, lines: int, prices: int, seed: int) -> None:
    assert_top_equal(*changes(np.random.default_rng(seed), n, lines, prices), shuffle_seed=seed)


# --- sessions ------------------------------------------------------------------------------

@pytest.mark.parametrize("rank", [0, 1, 2, 5, 13, 34, 89])
def test_real_sample(real, rank: int) -> None:
    symbol, = ranked_symbols(real, 1, [rank])
    assert len(check(real, symbol, reference=rank < 2)) > 0


def test_committed_sample(tmp_path) -> None:
    conn = store.connect(tmp_path / "committed.duckdb")
    ingest.ingest_path(conn, SAMPLE_FILE)
    for symbol in ranked_symbols(conn, 1, [0, 5, 20, 40]):
        check(conn, symbol, reference=True)
    conn.close()


def test_generated_text_session(tmp_path) -> None:
    conn = generated_text(tmp_path)
    for symbol in ("SPY", "AAPL", "BRK.A", "GOOGL.WI", "ZVZZT"):
        check(conn, symbol, reference=symbol == "SPY")
    conn.close()


@pytest.mark.parametrize("fmt,seed", [("pcap", 1), ("units", 2)])
def test_generated_binary_sessions(tmp_path, fmt: str, seed: int) -> None:
    conn = generated_capture(tmp_path, fmt, seed)
    for symbol in ranked_symbols(conn, 1, [0, 2, 5]):
        check(conn, symbol, reference=True)
    conn.close()


def test_messy_binary_session(tmp_path) -> None:
    """Modifies, executions at price with what remains, deletes, unit clears, unknown
    times and ids: the engine's road; then without the end lines (a version 5 file)."""
    conn = store.connect(tmp_path / "messy.duckdb")
    put_messy_binary(conn)
    for ends in ("stored", "unknown"):
        with_ends(conn, ends)
        for symbol in ("AAA", "BBB", "CCC"):
            check(conn, symbol, reference=ends == "stored")
    conn.close()


def test_a_single_event_that_ends_an_order_is_its_stored_end(real, tmp_path) -> None:
    """What the whole orders rest on: with one event and an end, the end is the engine's
    (text counts linked events, binary applied ones)."""
    path = tmp_path / "cap.pcap"
    generate_binary.write_file(path, "pcap", 12_000, seed=4)
    other = store.connect(tmp_path / "bin.duckdb")
    ingest.ingest_path(other, path)
    for conn in (real, other):
        stored = conn.execute("SELECT line_no, end_line_no AS stored FROM orders WHERE file_id = 1 "
                              "AND events = 1 AND end_line_no IS NOT NULL").df()
        both = stored.merge(engine_ends(conn, 1), on="line_no", validate="1:1")
        assert len(both) > 500 and (both.stored == both.end).all()
    other.close()


# --- streams written straight into the database --------------------------------------------

@pytest.fixture(scope="module")
def scratch():
    conn = store.connect(":memory:")
    yield conn
    conn.close()


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("text", [False, True])
def test_random_streams(scratch, seed: int, text: bool) -> None:
    adds, events = random_stream(300 + seed, 3000)
    put_stream(scratch, Adds(**{**adds.__dict__, "symbol": adds.symbol.astype(np.int64)}),
               events, text)
    for s in range(3):
        check(scratch, f"S{s}", reference=s == 0)


@settings(max_examples=80, deadline=None)
@given(streams(), st.sampled_from(["stored", "unknown"]), st.booleans(), st.data())
def test_small_random_streams(scratch, data, ends: str, text: bool, draw: st.DataObject) -> None:
    adds, events = data
    adds = Adds(**{**adds.__dict__, "symbol": (adds.line_no * 5 + adds.order_id) % 3,
                   "time_ns": np.where(adds.line_no % 5 == 0, -1, adds.line_no * 7 % 23)})
    put_stream(scratch, adds, events, text)
    with_ends(scratch, ends)
    if len(adds):
        check(scratch, f"S{draw.draw(st.sampled_from(sorted(set(adds.symbol))))}",
              reference=True)


# --- the fast roads are the ones that run ----------------------------------------------------

def test_text_rows_take_the_text_road_and_the_engine_agrees(real, monkeypatch) -> None:
    """On text the active orders go through text_changes, never the engine; forced onto
    the engine's road, the answer is the same."""
    calls = []
    real_text = bbo_fast.text_changes
    monkeypatch.setattr(bbo_fast, "text_changes",
                        lambda *a: calls.append(1) or real_text(*a))
    monkeypatch.setattr(book, "build", lambda *a, **k: pytest.fail("the engine ran"))
    fast = bbo_fast.series(real, "SPY")[1]
    assert calls
    monkeypatch.undo()
    monkeypatch.setattr(bbo_fast, "TEXT_ROLES", ())  # no row passes the text road's check
    pd.testing.assert_frame_equal(bbo_fast.series(real, "SPY")[1], fast)


def test_bbo_and_the_command_use_the_fast_series(real, monkeypatch) -> None:
    monkeypatch.setattr(book, "load", lambda *a, **k: pytest.fail("bbo loaded the symbol"))
    assert len(book.bbo(real, "SPY")) > 0
