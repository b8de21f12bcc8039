"""orders and executions of binary captures against the slow replay of the generated events.

The generator says what it sent (every message as column values, in stream
order); tests/book_reference.py replays those one at a time with a dict of
live orders. Ingest (decode, buckets, spools, the vectorised engine, SQL) must
give the same orders and executions, in one bucket and in several.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

import book_reference
from pitch import capture_write, derive, derive_binary, ingest
from pitch.generate_binary import session
from pitch.layouts import ROLES, Role
from pitch.lifecycle import ROLE_IDS, Adds, Events

EVENT_ROLES = (Role.EXECUTE, Role.EXECUTE_AT_PRICE, Role.CANCEL, Role.MODIFY, Role.DELETE,
               Role.CLEAR_UNIT)


def ticks(price) -> int:
    return -1 if price is None else int(Decimal(price) * 10_000)


def reference(messages: list[dict]):
    """(adds, events, the slow replay's lifecycle) of a generated session's messages."""
    adds = [m for m in messages if ROLES[m["type"]] is Role.ADD]
    events = [m for m in messages if ROLES[m["type"]] in EVENT_ROLES]
    got = book_reference.replay(
        Adds.build(line_no=[m["line_no"] for m in adds], order_id=[m["order_id"] for m in adds],
                   side=[ord(m["side"]) for m in adds], shares=[m["shares"] for m in adds],
                   price=[ticks(m["price"]) for m in adds], unit=[m["unit"] for m in adds],
                   time_ns=[m["time_ns"] for m in adds]),
        Events.build(line_no=[m["line_no"] for m in events],
                     order_id=[m.get("order_id", 0) for m in events],
                     role=[ROLE_IDS[ROLES[m["type"]]] for m in events],
                     shares=[m.get("shares", 0) for m in events],
                     price=[ticks(m.get("price")) for m in events],
                     remaining=[m.get("remaining_shares", -1) for m in events],
                     unit=[m["unit"] for m in events], time_ns=[m["time_ns"] for m in events]))
    return adds, events, got


@pytest.mark.parametrize("buckets, lines, part", [(1, None, None), (3, None, None),
                                                 (3, 997, None), (1, None, 1000)])
def test_binary_orders_and_executions_equal_the_slow_replay(db, tmp_path, monkeypatch,
                                                             buckets: int, lines, part) -> None:
    """``lines``: executions inserted that many lines at a time (many ranges); ``part``:
    rows per part of the replay (many parts, on threads)."""
    s = session(30_000, seed=4, gaps=True, retransmissions=True)
    path = tmp_path / "s.pcap"
    path.write_bytes(capture_write.write_pcap(s.units))
    monkeypatch.setattr(ingest, "buckets_for", lambda size, gz=False, **_: buckets)
    if lines:
        monkeypatch.setattr(derive, "EXECUTION_LINES", lines)
    if part:
        monkeypatch.setattr(derive_binary, "PART_ENTRIES", part)
    ingest.ingest_path(db, path, chunk_size=128 << 10)
    adds, events, want = reference(s.messages)
    assert want.modifies.sum() and want.added.sum() and (want.cleared_by >= 0).any()

    got = db.execute("""
        SELECT line_no, executed_shares, cancelled_shares, added_shares, modifies, events,
               coalesce(last_price, price), remaining_shares
        FROM orders ORDER BY line_no""").fetchall()
    expected = [(a["line_no"], int(want.executed[i]), int(want.cancelled[i]), int(want.added[i]),
                 int(want.modifies[i]), int(want.events[i]),
                 Decimal(int(want.last_price[i])) / 10_000, int(want.remaining[i]))
                for i, a in enumerate(adds)]
    assert got == expected

    fills = {}
    for j, m in enumerate(events):
        if ROLES[m["type"]] in (Role.EXECUTE, Role.EXECUTE_AT_PRICE):
            add = int(want.event_add[j])
            price = want.event_price[j]
            fills[m["line_no"]] = (
                adds[add]["symbol"] if add >= 0 else None,
                Decimal(int(price)) / 10_000 if price >= 0 else m.get("price"))
    got_fills = dict((line, (symbol, price)) for line, symbol, price in db.execute(
        "SELECT line_no, symbol, price FROM executions WHERE type IN ('0x23', '0x24')").fetchall())
    assert got_fills == fills
    # trades carry their own symbol and price
    trades = db.execute("SELECT count(*) FROM executions WHERE type IN ('0x2A', '0x2B', '0x30')"
                        ).fetchone()[0]
    assert trades == sum(ROLES[m["type"]] is Role.TRADE for m in s.messages)
    stored = [r[0] for r in db.execute("SELECT line_no FROM executions").fetchall()]
    assert stored == sorted(stored)  # inserted in line order, range after range


def simple_capture(seed: int, n: int) -> tuple[bytes, list[dict]]:
    """A pcap whose order events are only executions, reductions and deletes (as a
    capture of text's events is), with trades; and its messages as stored (line order,
    Time messages included)."""
    from pitch.binary_encode import message, unit

    rng = np.random.default_rng(seed)
    kinds = [0x21, 0x22, 0x22, 0x23, 0x25, 0x26, 0x26, 0x29, 0x2B]
    stored, units, seq, line = [], [], {1: 1, 2: 1}, 0
    for start in range(0, n, 40):
        u = int(rng.integers(1, 3))
        second = 34_200 + start // 400
        body = [message(0x20, time_ns=second)]
        line += 1
        stored.append({"type": "0x20", "line_no": line, "unit": u})
        for kind in rng.choice(kinds, 40):
            m = {"type": f"0x{kind:02X}", "order_id": int(rng.integers(1, 300)),
                 "time_offset_ns": int(rng.integers(0, 10**9)), "unit": u}
            if kind in (0x21, 0x22, 0x2B):
                m |= {"side": "BS"[rng.integers(2)], "symbol": "ZVZZT",
                      "shares": int(rng.integers(0, 400)),
                      "price": Decimal(int(rng.integers(9_900, 10_100))) / 100}
            elif kind != 0x29:
                m["shares"] = int(rng.integers(0, 250))
            if kind in (0x23, 0x2B):
                m["execution_id"] = int(rng.integers(1, 1 << 60))
            body.append(message(kind, **{k: v for k, v in m.items() if k not in ("type", "unit")}))
            line += 1
            stored.append(m | {"line_no": line, "time_ns": second * 10**9 + m["time_offset_ns"]})
        units.append(unit(seq[u], u, body))
        seq[u] += len(body)
    return capture_write.write_pcap(units), stored


def test_a_capture_of_executions_cancels_and_deletes_takes_one_sort(db, tmp_path,
                                                                      monkeypatch) -> None:
    """Such buckets are linked by lifecycle.replay_paired (text's one sort): the same
    orders and executions as the slow replay, in several buckets and pairing parts."""
    from pitch import lifecycle

    raw, messages = simple_capture(11, 12_000)
    (tmp_path / "s.pcap").write_bytes(raw)
    monkeypatch.setattr(ingest, "buckets_for", lambda size, gz=False, **_: 3)
    monkeypatch.setattr(derive, "PART_ROWS", 500)  # pairs in parts, on threads
    used = []
    for name in ("replay_paired", "replay", "replay_parts"):
        monkeypatch.setattr(lifecycle, name, lambda *a, _f=getattr(lifecycle, name), _n=name,
                            **k: used.append(_n) or _f(*a, **k))
    ingest.ingest_path(db, tmp_path / "s.pcap", chunk_size=64 << 10)
    assert used == ["replay_paired"] * 3
    adds, events, want = reference(messages)
    assert (want.remaining < 0).any() and (want.event_add < 0).any() and want.open.any()
    got = db.execute("SELECT line_no, executed_shares, cancelled_shares, events, remaining_shares, "
                     "last_time_ns, end_line_no FROM orders ORDER BY line_no"
                     ).fetchall()
    assert got == [(a["line_no"], int(want.executed[i]), int(want.cancelled[i]),
                    int(want.events[i]), int(want.remaining[i]),
                    int(want.last_time[i]) if want.events[i] else a["time_ns"],
                    None if want.open[i] else int(want.last_line[i] if want.events[i]
                                                  else a["line_no"]))
                   for i, a in enumerate(adds)]
    fills = {m["line_no"]: adds[want.event_add[j]]["price"] if want.event_add[j] >= 0 else None
             for j, m in enumerate(events) if m["type"] == "0x23"}
    assert dict(db.execute("SELECT line_no, price FROM executions WHERE type = '0x23'"
                           ).fetchall()) == fills


def test_real_capture_orders(db) -> None:
    from pathlib import Path

    shared = Path(__file__).resolve().parent.parent.parent / "shared" / "binary"
    ingest.ingest_path(db, shared / "bats_mcastpitch_realtime.pcap")
    # 7 adds (4 long, 3 short); 3 executions at their order's price, 2 modifies
    assert db.execute("SELECT count(*), sum(modifies) FROM orders").fetchone() == (7, 2)
    rows = db.execute("SELECT e.price = coalesce(o.last_price, o.price) FROM executions e "
                      "JOIN orders o USING (order_id) WHERE e.type = '0x23'").fetchall()
    assert rows and all(r[0] for r in rows)
    assert np.all(np.array(db.execute("SELECT remaining_shares FROM orders").fetchall()) >= 0)


def test_the_lifecycle_table_of_every_binary_order_ends_as_orders_says(db, tmp_path) -> None:
    from pitch import queries

    s = session(6_000, seed=5)
    path = tmp_path / "s.units"
    path.write_bytes(capture_write.write_units(s.units))
    ingest.ingest_path(db, path)
    orders = db.execute("SELECT line_no, remaining_shares, events, modifies, "
                        "coalesce(last_price, price) FROM orders").fetchall()
    assert any(o[3] for o in orders)
    # every modified order, every cleared one, and a sample of the rest (a query each)
    cleared = {r[0] for r in db.execute(
        "SELECT line_no FROM orders WHERE status = 'cancelled' AND events > 0").fetchall()}
    picked = [o for i, o in enumerate(orders) if o[3] or o[0] in cleared or i % 25 == 0]
    for line, remaining, events, modifies, price in picked[:150]:
        life = queries.order_lifecycle(db, 1, line)
        assert life["event"].iloc[0] == "add"
        assert (int(life["remaining_shares"].iloc[-1]), len(life) - 1) == (remaining, events)
        modified = life[life["event"] == "modified"]
        assert len(modified) == modifies
        assert (modified["price_before"].notna()).all()
        if modifies:
            assert life[life["event"].isin(["add", "modified"])]["price"].iloc[-1] == price


def test_a_big_capture_gets_a_bucket_per_16_mb(db, tmp_path, monkeypatch) -> None:
    """Binary buckets are smaller than text's: linking one costs memory by its messages."""
    sizes = [derive.buckets_for(mb << 20, bucket_bytes=derive.BINARY_BUCKET_BYTES)
             for mb in (1, 64, 65, 1000, 5000)]
    assert sizes == [1, 1, 5, 63, 313]
    asked = []
    monkeypatch.setattr(ingest, "buckets_for",
                        lambda size, gz=False, **kw: asked.append(kw) or 1)
    path = tmp_path / "s.pcap"
    path.write_bytes(capture_write.write_pcap(session(2_000, seed=5).units))
    ingest.ingest_path(db, path)
    assert asked == [{"bucket_bytes": derive.BINARY_BUCKET_BYTES}]
