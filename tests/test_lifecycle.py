"""The vectorised order-state engine (pitch.lifecycle) against its slow twin and by hand.

Hand-written cases say what the rules mean; Hypothesis and bigger seeded random
streams hold :func:`pitch.lifecycle.replay` equal to ``book_reference.replay``
(a dict of live orders, one message at a time) on every output, exactly.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import book_reference as ref
from pitch.layouts import Role, codes
from pitch import derive
from pitch.lifecycle import (ROLE_IDS, SIMPLE_ROLES, Adds, Changes, Events, Lifecycle, replay,
                             replay_paired, replay_parts, role_of, simple)

R = ROLE_IDS
B, S = ord("B"), ord("S")


def assert_same_lifecycle(got: Lifecycle, want: Lifecycle) -> None:
    """Every per-add and per-event field equal (the book changes left out)."""
    for f in dataclasses.fields(Lifecycle):
        if f.name != "changes":
            np.testing.assert_array_equal(getattr(got, f.name), getattr(want, f.name), f.name)


def assert_same(got: Lifecycle, want: Lifecycle) -> None:
    assert_same_lifecycle(got, want)
    for f in dataclasses.fields(Changes):
        np.testing.assert_array_equal(getattr(got.changes, f.name),
                                      getattr(want.changes, f.name), f"changes.{f.name}")


def stream(*messages: tuple) -> tuple[Adds, Events]:
    """Adds and events from (line, kind, ...) tuples: ("add", id, side, shares, price[, unit,
    displayed]) or (role, id, shares[, price, remaining, unit])."""
    adds, events = [], []
    for line, kind, *rest in messages:
        if kind == "add":
            oid, side, shares, price, *more = rest
            unit, displayed = (more + [-1, True])[:2] if len(more) < 2 else more
            adds.append((line, oid, side, shares, price, unit, displayed))
        else:
            oid, shares, *more = rest
            price, remaining, unit = (list(more) + [-1, -1, -1])[:3]
            events.append((line, oid, R[kind], shares, price, remaining, unit))
    a = list(zip(*adds)) if adds else [()] * 7
    e = list(zip(*events)) if events else [()] * 7
    return (Adds.build(line_no=a[0], order_id=a[1], side=a[2], shares=a[3], price=a[4],
                       unit=a[5], displayed=a[6], symbol=np.array(["X"] * len(adds), object),
                       time_ns=np.array(a[0], np.int64) * 10),
            Events.build(line_no=e[0], order_id=e[1], role=e[2], shares=e[3], price=e[4],
                         remaining=e[5], unit=e[6], time_ns=np.array(e[0], np.int64) * 10))


def rows(life: Lifecycle) -> list[tuple]:
    c = life.changes
    return list(zip(c.line_no.tolist(), c.add.tolist(), c.price.tolist(), c.d_shares.tolist(),
                    c.d_orders.tolist()))


# --- the rules, by hand ---------------------------------------------------------------

def test_execute_at_the_price_after_a_modify_and_cancel_partly() -> None:
    adds, events = stream((1, "add", 7, B, 100, 500), (2, Role.MODIFY, 7, 80, 510),
                          (3, Role.EXECUTE, 7, 30), (4, Role.CANCEL, 7, 20))
    life = replay(adds, events)
    assert_same(life, ref.replay(adds, events))
    # the modify down to 80 cancels 20, the cancel 20 more
    assert (life.executed[0], life.cancelled[0], life.added[0], life.modifies[0]) == (30, 40, 0, 1)
    assert (life.remaining[0], life.events[0], life.last_line[0], life.last_price[0]) == \
        (30, 3, 4, 510)
    assert life.event_price.tolist() == [-1, 510, -1]  # the execution at the modified price
    assert rows(life) == [(1, 0, 500, 100, 1), (2, 0, 500, -100, -1), (2, 0, 510, 80, 1),
                          (3, 0, 510, -30, 0), (4, 0, 510, -20, 0)]


def test_modify_up_counts_added_shares() -> None:
    life = replay(*stream((1, "add", 7, S, 100, 500), (2, Role.MODIFY, 7, 300, 500)))
    assert (life.added[0], life.cancelled[0], life.remaining[0]) == (200, 0, 300)
    assert rows(life) == [(1, 0, 500, 100, 1), (2, 0, 500, -100, -1), (2, 0, 500, 300, 1)]


def test_execute_at_price_sets_what_is_left() -> None:
    # 100 open, 30 executed at 495, 50 left: the other 20 count as cancelled.
    life = replay(*stream((1, "add", 7, B, 100, 500),
                          (2, Role.EXECUTE_AT_PRICE, 7, 30, 495, 50)))
    assert (life.executed[0], life.cancelled[0], life.remaining[0]) == (30, 20, 50)
    assert life.event_price.tolist() == [495]
    assert rows(life) == [(1, 0, 500, 100, 1), (2, 0, 500, -50, 0)]


def test_delete_and_a_gone_order_takes_no_more_events() -> None:
    adds, events = stream((1, "add", 7, B, 100, 500), (2, Role.DELETE, 7, 0),
                          (3, Role.CANCEL, 7, 10), (4, Role.EXECUTE, 8, 5))
    life = replay(adds, events)
    assert_same(life, ref.replay(adds, events))
    assert (life.cancelled[0], life.events[0], bool(life.open[0])) == (100, 1, False)
    assert life.event_add.tolist() == [0, -1, -1]  # after the delete; an unknown id


def test_id_reuse_links_to_the_latest_add() -> None:
    life = replay(*stream((1, "add", 7, B, 100, 500), (2, Role.CANCEL, 7, 100),
                          (3, "add", 7, S, 40, 520), (4, Role.EXECUTE, 7, 40)))
    assert life.event_add.tolist() == [0, 1]
    assert life.event_price.tolist() == [-1, 520]
    assert (life.cancelled.tolist(), life.executed.tolist()) == ([100, 0], [0, 40])


def test_unit_clear_cancels_the_live_orders_of_its_unit_only() -> None:
    adds, events = stream((1, "add", 1, B, 100, 500, 3, True), (2, "add", 2, S, 50, 510, 4, True),
                          (3, "add", 3, S, 60, 520, 3, False),
                          (4, Role.CLEAR_UNIT, 0, 0, -1, -1, 3),
                          (5, Role.CANCEL, 1, 10), (6, "add", 1, B, 10, 500, 3, True))
    life = replay(adds, events)
    assert_same(life, ref.replay(adds, events))
    assert life.cancelled.tolist() == [100, 0, 60, 0]
    assert life.cleared_by.tolist() == [0, -1, 0, -1]
    assert life.event_add.tolist() == [-1, -1]  # the clear (many orders); a cancel too late
    assert rows(life) == [(1, 0, 500, 100, 1), (2, 1, 510, 50, 1), (4, 0, 500, -100, -1),
                          (6, 3, 500, 10, 1)]  # add 2 is not displayed


def test_overrun_ends_the_order_and_the_book_never_goes_below_zero() -> None:
    life = replay(*stream((1, "add", 7, B, 100, 500), (2, Role.EXECUTE, 7, 150)))
    assert (life.executed[0], life.remaining[0], bool(life.open[0])) == (150, -50, False)
    assert rows(life) == [(1, 0, 500, 100, 1), (2, 0, 500, -100, -1)]


def test_zero_share_add_never_rests_and_trades_touch_nothing() -> None:
    life = replay(*stream((1, "add", 7, B, 0, 500), (2, Role.CANCEL, 7, 0),
                          (3, Role.TRADE, 7, 100), (4, "add", 8, B, 5, 500, -1, False)))
    assert rows(life) == [] and life.event_add.tolist() == [-1, -1]
    assert life.events.tolist() == [0, 0]


def test_line_numbers_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        replay(*stream((1, "add", 7, B, 1, 1), (1, "add", 8, B, 1, 1)))
    with pytest.raises(ValueError, match="unique"):
        replay(*stream((1, "add", 7, B, 1, 1), (1, Role.CANCEL, 7, 1)))


def shuffled(adds: Adds, events: Events, seed: int) -> tuple[Adds, Events, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pa, pe = rng.permutation(len(adds)), rng.permutation(len(events))
    return (Adds(**{k: v[pa] for k, v in adds.__dict__.items()}),
            Events(**{k: v[pe] for k, v in events.__dict__.items()}), pa, pe)


@pytest.mark.parametrize("seed", range(4))
def test_rows_may_come_in_any_order(seed: int) -> None:
    adds, events = random_stream(seed, 3000)
    want = replay(adds, events)
    a, e, pa, pe = shuffled(adds, events, seed)
    got = replay(a, e)
    for name in ("executed", "cancelled", "added", "modifies", "events", "last_line",
                 "last_time", "last_price", "remaining", "open"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name)[pa], name)
    # indices point into the shuffled inputs: map them back
    np.testing.assert_array_equal(np.where(got.event_add >= 0, pa[np.maximum(got.event_add, 0)],
                                           -1), want.event_add[pe])
    np.testing.assert_array_equal(got.event_price, want.event_price[pe])
    # the same rows; a unit clear's rows come by add, so by the adds' new order
    g, w = got.changes, want.changes
    got_rows = sorted(zip(g.line_no.tolist(), pa[g.add].tolist(), g.price.tolist(),
                          g.d_shares.tolist(), g.d_orders.tolist()), key=lambda r: r[:2])
    want_rows = sorted(zip(w.line_no.tolist(), w.add.tolist(), w.price.tolist(),
                           w.d_shares.tolist(), w.d_orders.tolist()), key=lambda r: r[:2])
    assert got_rows == want_rows


def test_roles_come_from_the_layout_table() -> None:
    for code in codes(Role.EXECUTE):
        assert role_of(code) == R[Role.EXECUTE]
    assert role_of("0x24") == R[Role.EXECUTE_AT_PRICE] and role_of("0x97") == R[Role.CLEAR_UNIT]


# --- against the reference, on random streams ----------------------------------------

KINDS = ["add"] * 4 + [Role.EXECUTE, Role.CANCEL, Role.CANCEL, Role.EXECUTE_AT_PRICE,
                       Role.MODIFY, Role.DELETE, Role.CLEAR_UNIT, Role.TRADE]


@st.composite
def streams(draw: st.DrawFn, kinds: list = KINDS) -> tuple[Adds, Events]:
    n = draw(st.integers(0, 50))
    pool = draw(st.integers(1, 8))  # few ids: reuse, re-adds of live ids, unknown ids
    qty = st.integers(0, 250)
    out = []
    line = 0
    for _ in range(n):
        line += draw(st.integers(1, 3))
        kind = draw(st.sampled_from(kinds))
        oid = draw(st.integers(1, pool + 1))
        if kind == "add":
            out.append((line, "add", oid, draw(st.sampled_from([B, S])),
                        draw(st.integers(0, 250) | st.just(100)), draw(st.integers(98, 102)),
                        draw(st.integers(0, 2)), draw(st.booleans() | st.just(True))))
        else:
            out.append((line, kind, oid, draw(qty | st.just(100)), draw(st.integers(98, 102)),
                        draw(qty), draw(st.integers(0, 2))))
    return stream(*out)


@settings(max_examples=400, deadline=None)
@given(streams())
def test_engine_equals_the_reference_on_random_streams(data: tuple[Adds, Events]) -> None:
    adds, events = data
    assert_same(replay(adds, events), ref.replay(adds, events))


ROLE_WEIGHTS = {Role.EXECUTE: .2, Role.CANCEL: .45, Role.EXECUTE_AT_PRICE: .08,
                Role.MODIFY: .12, Role.DELETE: .1, Role.CLEAR_UNIT: .01, Role.BREAK: .04}


def random_stream(seed: int, n: int, weights: dict = ROLE_WEIGHTS) -> tuple[Adds, Events]:
    """A bigger stream: many orders, mostly valid events, some noise, times that step back."""
    rng = np.random.default_rng(seed)
    line = np.cumsum(rng.integers(1, 4, n))
    is_add = rng.random(n) < 0.4
    ids = rng.integers(1, max(2, n // 6), n).astype(np.uint64)
    kinds = np.array([R[r] for r in weights])
    p = np.array(list(weights.values()))
    role = kinds[rng.choice(len(kinds), n, p=p / p.sum())]
    time = np.maximum(line * 1000 + rng.integers(-3000, 3000, n), 0)  # times are never < 0
    time[rng.random(n) < 0.05] = -1
    a, e = is_add, ~is_add
    adds = Adds.build(line_no=line[a], order_id=ids[a], side=rng.choice([B, S], a.sum()),
                      shares=rng.integers(0, 500, a.sum()), price=rng.integers(990, 1010, a.sum()),
                      symbol=rng.integers(0, 3, a.sum()), unit=rng.integers(0, 4, a.sum()),
                      time_ns=time[a], displayed=rng.random(a.sum()) < 0.9)
    events = Events.build(line_no=line[e], order_id=ids[e], role=role[e],
                          shares=rng.integers(0, 300, e.sum()),
                          price=rng.integers(990, 1010, e.sum()),
                          remaining=rng.integers(0, 300, e.sum()), unit=rng.integers(0, 4, e.sum()),
                          time_ns=time[e])
    return adds, events


@pytest.mark.parametrize("seed", range(12))
def test_engine_equals_the_reference_on_bigger_streams(seed: int) -> None:
    adds, events = random_stream(seed, 4000)
    assert_same(replay(adds, events), ref.replay(adds, events))


@pytest.mark.parametrize("seed", range(6))
def test_replay_in_parts_equals_replay(seed: int) -> None:
    """Split by order id (unit clears in every part), on threads, put back together."""
    from concurrent.futures import ThreadPoolExecutor

    adds, events = random_stream(seed, 4000)
    if seed % 2:  # rows in any order
        adds, events, _, _ = shuffled(adds, events, seed)
    want = replay(adds, events, book=False)
    assert (want.cleared_by >= 0).any() and want.modifies.any() and (want.event_add >= 0).any()
    with ThreadPoolExecutor(2) as pool:
        for parts, map_ in ((1, map), (3, map), (16, pool.map), (5000, pool.map)):
            got = replay_parts(adds, events, parts, map_)
            for f in dataclasses.fields(Lifecycle):
                if f.name != "changes":
                    np.testing.assert_array_equal(getattr(got, f.name), getattr(want, f.name),
                                                  f"{parts} parts: {f.name}")


def test_replay_in_parts_of_nothing() -> None:
    adds, events = stream()
    got = replay_parts(adds, events, 4)
    assert len(got.executed) == len(got.event_add) == 0
    adds, events = stream((1, Role.CANCEL, 7, 1), (2, Role.CLEAR_UNIT, 0, 0))  # no adds
    assert replay_parts(adds, events, 4).event_add.tolist() == [-1, -1]


# --- the one-sort rule for executions, cancels and deletes only -----------------------

SIMPLE_KINDS = ["add"] * 4 + [Role.EXECUTE, Role.CANCEL, Role.CANCEL, Role.DELETE]


def paired(adds: Adds, events: Events) -> Lifecycle:
    return replay_paired(adds, events, *derive.pairs(adds.order_id, adds.line_no,
                                                     events.order_id, events.line_no))


@settings(max_examples=400, deadline=None)
@given(streams(SIMPLE_KINDS))
def test_the_paired_rule_equals_the_engine_on_simple_streams(data: tuple[Adds, Events]) -> None:
    adds, events = data
    want = ref.replay(adds, events)
    assert_same_lifecycle(paired(adds, events), want)
    assert_same_lifecycle(paired(adds, events), replay(adds, events, book=False))


@pytest.mark.parametrize("seed", range(6))
def test_the_paired_rule_equals_the_engine_on_bigger_simple_streams(seed: int, monkeypatch) -> None:
    """Seeded streams with overruns, deletes, unknown ids and reused ids, rows in any order;
    the odd seeds pair in many parts (on threads), as a big bucket does."""
    adds, events = random_stream(seed, 6000, {Role.EXECUTE: .3, Role.CANCEL: .55,
                                              Role.DELETE: .15})
    if seed % 2:
        adds, events, _, _ = shuffled(adds, events, seed)
        monkeypatch.setattr(derive, "PART_ROWS", 100)
    want = replay(adds, events, book=False)
    assert want.events.any() and (want.remaining < 0).any() and (want.event_add < 0).any()
    assert (want.cancelled > 0).any() and (~want.open).any() and want.open.any()
    assert_same_lifecycle(paired(adds, events), want)


def test_the_paired_rule_refuses_what_it_cannot_apply() -> None:
    for role in (Role.MODIFY, Role.EXECUTE_AT_PRICE, Role.CLEAR_UNIT, Role.TRADE):
        adds, events = stream((1, "add", 7, B, 100, 500), (2, role, 7, 10, 500, 5))
        assert not simple(events)
        with pytest.raises(ValueError, match="only"):
            paired(adds, events)
    assert simple(stream(*[(i + 2, r, 7, 1) for i, r in enumerate(SIMPLE_ROLES)])[1])
