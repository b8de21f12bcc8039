"""The slow, obviously correct twin of pitch.lifecycle and pitch.book.

A dict of live orders, one message at a time, in line order. Tests hold the
vectorised engine and the book queries equal to what this says, on the real
sample, generated sessions and random event streams.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Iterator

import numpy as np

from pitch.layouts import ROLES, Role
from pitch.lifecycle import ROLE_IDS, Adds, Changes, Events, Lifecycle

ROLE_OF_ID = {i: r for r, i in ROLE_IDS.items()}
ORDER_ROLES = (Role.EXECUTE, Role.EXECUTE_AT_PRICE, Role.CANCEL, Role.MODIFY, Role.DELETE)


@dataclass
class Order:
    """One add and what happened to it."""

    index: int
    symbol: Any
    side: int
    price: int
    unit: int
    displayed: bool
    remaining: int
    executed: int = 0
    cancelled: int = 0
    added: int = 0
    modifies: int = 0
    events: int = 0
    last_line: int = -1
    last_time: int = -1
    cleared_by: int = -1


@dataclass
class Replay:
    """Live orders by add index, the latest add of each id, what came out."""

    orders: list[Order] = field(default_factory=list)
    live: dict[int, Order] = field(default_factory=dict)
    latest: dict[int, int] = field(default_factory=dict)
    changes: list[tuple] = field(default_factory=list)  # (line, time, add, price, d_sh, d_or)

    def add(self, line: int, time: int, order_id: int, order: Order) -> None:
        self.orders.append(order)
        self.latest[order_id] = order.index
        if order.remaining > 0:
            self.live[order.index] = order
            self.book(line, time, order, order.price, order.remaining, +1)

    def book(self, line: int, time: int, o: Order, price: int, d_sh: int, d_or: int) -> None:
        if o.displayed and (d_sh or d_or):
            self.changes.append((line, time, o.index, price, d_sh, d_or))

    def target(self, order_id: int) -> Order | None:
        """The live order an event of this id applies to (None: unknown or gone)."""
        index = self.latest.get(order_id)
        return self.live.get(index) if index is not None else None

    def event(self, line: int, time: int, role: Role, o: Order, shares: int, price: int,
              remaining: int) -> int:
        """Apply one event to a live order; returns the execution price (-1 none)."""
        before, fill = o.remaining, -1
        if role is Role.EXECUTE:
            o.executed += shares
            o.remaining -= shares
            fill = o.price
        elif role is Role.CANCEL:
            o.cancelled += shares
            o.remaining -= shares
        elif role is Role.EXECUTE_AT_PRICE:
            o.executed += shares
            left = before - shares
            o.cancelled += max(left - remaining, 0)
            o.added += max(remaining - left, 0)
            o.remaining = remaining
            fill = price
        elif role is Role.MODIFY:
            o.modifies += 1
            o.cancelled += max(before - shares, 0)
            o.added += max(shares - before, 0)
            o.remaining = shares
        elif role is Role.DELETE:
            o.cancelled += before
            o.remaining = 0
        o.events += 1
        o.last_line, o.last_time = line, time
        if role is Role.MODIFY:  # leaves its old price, comes back at the new one
            self.book(line, time, o, o.price, -before, -1)
            o.price = price
            if o.remaining > 0:
                self.book(line, time, o, o.price, o.remaining, +1)
        else:
            self.book(line, time, o, o.price, max(o.remaining, 0) - before,
                      -1 if o.remaining <= 0 else 0)
        if o.remaining <= 0:
            del self.live[o.index]
        return fill

    def clear(self, line: int, time: int, unit: int, event_index: int) -> list[Order]:
        hit = [o for index, o in sorted(self.live.items()) if o.unit == unit]
        for o in hit:
            o.cancelled += o.remaining
            o.events += 1
            o.last_line, o.last_time, o.cleared_by = line, time, event_index
            self.book(line, time, o, o.price, -o.remaining, -1)
            o.remaining = 0
            del self.live[o.index]
        return hit


def replay(adds: Adds, events: Events) -> Lifecycle:
    """What :func:`pitch.lifecycle.replay` must return, one message at a time."""
    messages = sorted([(int(adds.line_no[i]), 0, i) for i in range(len(adds))]
                      + [(int(events.line_no[j]), 1, j) for j in range(len(events))])
    r = Replay()
    event_add = [-1] * len(events)
    event_price = [int(events.price[j]) if ROLE_OF_ID[int(events.role[j])]
                   is Role.EXECUTE_AT_PRICE else -1 for j in range(len(events))]
    for line, kind, i in messages:
        if kind == 0:
            r.add(line, int(adds.time_ns[i]), int(adds.order_id[i]), Order(
                i, adds.symbol[i], int(adds.side[i]), int(adds.price[i]), int(adds.unit[i]),
                bool(adds.displayed[i]), int(adds.shares[i])))
            continue
        role, time = ROLE_OF_ID[int(events.role[i])], int(events.time_ns[i])
        if role is Role.CLEAR_UNIT:
            r.clear(line, time, int(events.unit[i]), i)
        elif role in ORDER_ROLES:
            o = r.target(int(events.order_id[i]))
            if o is not None:
                event_add[i] = o.index
                fill = r.event(line, time, role, o, int(events.shares[i]),
                               int(events.price[i]), int(events.remaining[i]))
                if role is Role.EXECUTE:
                    event_price[i] = fill

    def col(name: str) -> np.ndarray:
        return np.array([getattr(o, name) for o in r.orders], np.int64)

    ch = list(zip(*r.changes)) if r.changes else [()] * 6
    add_ix = np.array(ch[2], np.int64)
    changes = Changes(
        line_no=np.array(ch[0], np.int64), time_ns=np.array(ch[1], np.int64), add=add_ix,
        symbol=adds.symbol[add_ix], side=adds.side[add_ix], price=np.array(ch[3], np.int64),
        d_shares=np.array(ch[4], np.int64), d_orders=np.array(ch[5], np.int64))
    return Lifecycle(
        executed=col("executed"), cancelled=col("cancelled"), added=col("added"),
        modifies=col("modifies"), events=col("events"), last_line=col("last_line"),
        last_time=col("last_time"), last_price=col("price"), remaining=col("remaining"),
        open=np.array([o.index in r.live for o in r.orders], bool),
        cleared_by=col("cleared_by"), event_add=np.array(event_add, np.int64),
        event_price=np.array(event_price, np.int64), changes=changes)


# --- the book of one symbol, straight from the rows of ``messages`` ----------------------

PRICE = Decimal("0.0001")


def _ticks(price: Any) -> int:
    return int(Decimal(str(price)) / PRICE) if price is not None else -1


def _displayed(row: dict) -> bool:
    return row["type"].startswith("0x") or row["display"] == "Y"


def stream(rows: Iterable[dict], symbol: str | None
           ) -> Iterator[tuple[int | None, int | None, dict]]:
    """Replay a file's messages (dicts in line order) and follow one symbol's book
    (``symbol`` None: every symbol's, summed by side and price).

    Yields (line, time, book) for each message of the symbol's own stream (its
    adds, the events applied to its orders, the unit clears that cancel one of
    them) *before* it is applied, then (None, None, book) at the end; the book is
    {(side, price ticks): [shares, orders]}, levels that emptied included.
    """
    r = Replay()
    book: dict[tuple[str, int], list[int]] = {}
    for row in rows:
        role, line, time = ROLES[row["type"]], row["line_no"], row["time_ns"]
        if role is Role.ADD:
            unit = row["unit"] if row["unit"] is not None else -1
            o = Order(len(r.orders), row["symbol"], ord(row["side"]), _ticks(row["price"]),
                      unit, _displayed(row), row["shares"])
            mine = symbol in (None, o.symbol)
        elif role is Role.CLEAR_UNIT:
            mine = any(symbol in (None, o.symbol) and o.unit == row["unit"]
                       for o in r.live.values())
        elif role in ORDER_ROLES:
            o = r.target(row["order_id"])
            if o is None:
                continue
            mine = symbol in (None, o.symbol)
        else:
            continue
        if mine:
            yield line, time, book
        before = len(r.changes)
        if role is Role.ADD:
            r.add(line, -1, row["order_id"], o)
        elif role is Role.CLEAR_UNIT:
            r.clear(line, -1, row["unit"], -1)
        else:
            remaining = row.get("remaining_shares")
            r.event(line, -1, role, o, row["shares"] or 0, _ticks(row["price"]),
                    remaining if remaining is not None else -1)
        for _, _, index, price, d_sh, d_or in r.changes[before:]:
            changed = r.orders[index]
            if symbol in (None, changed.symbol):
                level = book.setdefault(("B" if changed.side == ord("B") else "S", price),
                                        [0, 0])
                level[0] += d_sh
                level[1] += d_or
    yield None, None, book


def book_at(rows: Iterable[dict], symbol: str, at_ns: int) -> dict[tuple[str, int], list[int]]:
    """The symbol's book after every one of its messages before the first later than ``at_ns``."""
    for line, time, book in stream(rows, symbol):
        if line is None or (time is not None and time > at_ns):  # the end, or the cut
            return {k: list(v) for k, v in book.items() if v[1]}
    raise AssertionError("stream() always ends with the end")


def bbo(rows: Iterable[dict], symbol: str) -> list[tuple]:
    """(line, time, bid, bid shares, ask, ask shares) after each message that changes them."""
    out: list[tuple] = []
    last: tuple = (None, None, None, None)
    previous: tuple | None = None  # (line, time) of the message just applied
    for line, time, book in stream(rows, symbol):
        if previous is not None:
            top = _top(book)
            if top != last:
                out.append((*previous, *top))
                last = top
        previous = (line, time)
    return out


def _top(book: dict[tuple[str, int], list[int]]) -> tuple:
    bids = [p for (s, p), v in book.items() if s == "B" and v[1] > 0]
    asks = [p for (s, p), v in book.items() if s == "S" and v[1] > 0]
    bid = max(bids) if bids else None
    ask = min(asks) if asks else None
    return (bid, book[("B", bid)][0] if bid is not None else None,
            ask, book[("S", ask)][0] if ask is not None else None)
