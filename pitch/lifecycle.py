"""Order lifecycles and book changes from adds and events, in numpy (no loop per message).

The rules (issue 12 "Orders and executions", issue 13):

- An order starts with an add. An event (a :class:`~pitch.layouts.Role` of
  :data:`ORDER_ROLES`) belongs to the latest add of its order id before it, if
  that order is still live; otherwise it belongs to no order and changes
  nothing (an unknown id, or an order already gone).
- EXECUTE executes ``shares`` at the order's current price (after modifies);
  EXECUTE_AT_PRICE executes ``shares`` at its own ``price`` and its
  ``remaining`` sets what is left (the difference counts as cancelled, or as
  added when it is more); CANCEL cancels ``shares``; MODIFY sets a new
  quantity (``shares``) and ``price`` (less counts as cancelled, more as
  added); DELETE cancels what remains; CLEAR_UNIT cancels every live order of
  its unit at that moment. Other roles (trades, breaks, ...) touch no order.
- Quantities count at face value; an order whose remaining reaches 0 or less is
  gone (its id may come back with a later add). An add of 0 shares is gone at
  once.
- Only displayed orders rest on the book; the book never shows less than 0
  shares for an order.

How: adds and order events are merged in line order, then sorted by order id
(stable), so that each add is followed by its own events in line order (one
sort). Within such a group a "set" event (the add, a modify, an execution at
price/size, a delete) fixes the remaining shares and the others subtract: a
running sum from the last set (``np.maximum.accumulate`` of set positions).
An order's applied events are a prefix of its group (up to the one that ends
it, and before the first unit clear after its add); unit clears are found per
add with one ``searchsorted`` over the clears.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .layouts import ROLES, Role

#: Small integer code of each role (the ``role`` column of :class:`Events`).
ROLE_IDS: dict[Role, int] = {role: i for i, role in enumerate(Role)}
#: Roles that change one order, found by its id.
ORDER_ROLES = (Role.EXECUTE, Role.EXECUTE_AT_PRICE, Role.CANCEL, Role.MODIFY, Role.DELETE)

_ADD, _EXEC, _EAP, _CANCEL, _MODIFY, _DELETE, _CLEAR = (ROLE_IDS[r] for r in (
    Role.ADD, Role.EXECUTE, Role.EXECUTE_AT_PRICE, Role.CANCEL, Role.MODIFY, Role.DELETE,
    Role.CLEAR_UNIT))
_ORDER_ROLE_IDS = np.array([ROLE_IDS[r] for r in ORDER_ROLES], np.uint8)
_NEVER = np.iinfo(np.int64).max


def role_of(code: str) -> int:
    """The role code of a message type code (``ROLES`` of :mod:`pitch.layouts`)."""
    return ROLE_IDS[ROLES[code]]


def _columns(cls: type, given: dict[str, Any], defaults: dict[str, Any]) -> dict[str, np.ndarray]:
    """Each field of ``cls`` as an array of its dtype, or filled with its default."""
    n = len(given["line_no"])
    out: dict[str, np.ndarray] = {}
    for f in fields(cls):
        dtype = _DTYPES.get(f.name)
        value = given.get(f.name)
        if value is None:
            value = np.full(n, defaults[f.name], dtype)
        array = np.asarray(value) if dtype is None else np.asarray(value, dtype)
        if len(array) != n:
            raise ValueError(f"column {f.name} has {len(array)} rows, line_no {n}")
        out[f.name] = array
    return out


_DTYPES: dict[str, Any] = {
    "line_no": np.int64, "order_id": np.uint64, "side": np.uint8, "shares": np.int64,
    "price": np.int64, "symbol": None, "unit": np.int64, "time_ns": np.int64,
    "displayed": np.bool_, "role": np.uint8, "remaining": np.int64}


@dataclass(frozen=True)
class Adds:
    """The adds of one file (or of one order-id bucket of it), in line order."""

    line_no: np.ndarray  # int64, strictly ascending
    order_id: np.ndarray  # uint64
    side: np.ndarray  # uint8: ord("B") or ord("S")
    shares: np.ndarray  # int64
    price: np.ndarray  # int64, ten-thousandths of a dollar
    symbol: np.ndarray  # any dtype (codes or strings); copied to the book changes
    unit: np.ndarray  # int64; -1 for text
    time_ns: np.ndarray  # int64; -1 when unknown
    displayed: np.ndarray  # bool: rests on the book

    @classmethod
    def build(cls, **columns: Any) -> Adds:
        """Adds from array-likes; ``unit`` and ``time_ns`` default to -1, ``displayed`` to True."""
        return cls(**_columns(cls, columns, {"unit": -1, "time_ns": -1, "displayed": True,
                                             "symbol": ""}))

    def __len__(self) -> int:
        return len(self.line_no)


@dataclass(frozen=True)
class Events:
    """Every other message that may touch orders, in line order (trades may be left out)."""

    line_no: np.ndarray  # int64, strictly ascending, never an add's line
    order_id: np.ndarray  # uint64 (unused for unit clears)
    role: np.ndarray  # uint8: ROLE_IDS
    shares: np.ndarray  # int64: executed or cancelled quantity, a modify's new quantity
    price: np.ndarray  # int64 ticks: a modify's new price, an execution at price's; -1 none
    remaining: np.ndarray  # int64: an execution at price's Remaining Qty; -1 none
    unit: np.ndarray  # int64; -1 for text
    time_ns: np.ndarray  # int64; -1 when unknown

    @classmethod
    def build(cls, **columns: Any) -> Events:
        """Events from array-likes; ``price``, ``remaining``, ``unit``, ``time_ns`` default to -1."""
        return cls(**_columns(cls, columns, {"price": -1, "remaining": -1, "unit": -1,
                                             "time_ns": -1, "order_id": 0, "shares": 0}))

    def __len__(self) -> int:
        return len(self.line_no)


@dataclass(frozen=True)
class Changes:
    """Changes of displayed orders on the book, in line order (a modify gives two rows:
    the order leaves its old price, then comes back at the new one; a unit clear one
    row per order it cancels, by add)."""

    line_no: np.ndarray  # int64: the message that changed the book
    time_ns: np.ndarray  # int64: its time (-1 unknown)
    add: np.ndarray  # int64: index of the order's add
    symbol: np.ndarray  # the add's symbol
    side: np.ndarray  # uint8
    price: np.ndarray  # int64 ticks
    d_shares: np.ndarray  # int64
    d_orders: np.ndarray  # int64: +1 an order arrives, -1 it leaves, 0 it changes size

    def __len__(self) -> int:
        return len(self.line_no)


@dataclass(frozen=True)
class Lifecycle:
    """What :func:`replay` found; per-add columns are int64 unless noted."""

    executed: np.ndarray
    cancelled: np.ndarray
    added: np.ndarray  # shares added by modifies (or an execution at price that leaves more)
    modifies: np.ndarray
    events: np.ndarray  # events applied to the order (its add not counted; a unit clear counts)
    last_line: np.ndarray  # line of its last applied event; -1 none
    last_time: np.ndarray  # time of its last applied event; -1 none (or unknown)
    last_price: np.ndarray  # its price after the last modify
    remaining: np.ndarray  # shares + added - executed - cancelled (negative after an overrun)
    open: np.ndarray  # bool: still live at the end
    cleared_by: np.ndarray  # index of the unit clear event that cancelled it; -1 none
    event_add: np.ndarray  # per event: the add it was applied to; -1 none (always for clears)
    event_price: np.ndarray  # per event: execution price (ticks); -1 not an execution or unknown
    changes: Changes


def _ascending(name: str, lines: np.ndarray) -> None:
    if len(lines) > 1 and not bool(np.all(lines[1:] > lines[:-1])):
        raise ValueError(f"{name} line numbers must be strictly ascending")


def _first_clear(adds: Adds, events: Events, clears: np.ndarray) -> np.ndarray:
    """Per add, the index (into ``clears``) of the first unit clear of its unit after it; -1."""
    found = np.full(len(adds), -1, np.int64)
    if not len(clears) or not len(adds):
        return found
    units = np.unique(events.unit[clears])
    rank_a = np.searchsorted(units, adds.unit)
    known = units[np.minimum(rank_a, len(units) - 1)] == adds.unit
    span = int(max(events.line_no[clears].max(), adds.line_no.max())) + 1
    if len(units) * span >= 1 << 62:
        raise ValueError("line numbers too large for the unit-clear key")
    # One sorted key (unit rank, line) for all clears: the first clear after an
    # add of the same unit is the next key, if it has that unit.
    rank_c = np.searchsorted(units, events.unit[clears])
    key_c = rank_c * span + events.line_no[clears]
    by_key = np.argsort(key_c, kind="stable")
    j = np.searchsorted(key_c[by_key], rank_a * span + adds.line_no, side="right")
    hit = known & (j < len(clears))
    hit[hit] = rank_c[by_key[j[hit]]] == rank_a[hit]
    found[hit] = by_key[j[hit]]
    return found


def replay(adds: Adds, events: Events) -> Lifecycle:
    """Apply every event to its order; the orders' sums, each event's order, the book changes."""
    _ascending("add", adds.line_no)
    _ascending("event", events.line_no)
    na = len(adds)
    is_ev = np.isin(events.role, _ORDER_ROLE_IDS)
    ev = np.flatnonzero(is_ev)  # events that touch one order, in line order
    ev_line = events.line_no[ev]
    n = na + len(ev)

    # Merge adds and order events by line; then a stable sort by id puts each
    # add right before its own events (in line order), as in pitch.derive.
    pos_a = np.arange(na) + np.searchsorted(ev_line, adds.line_no)
    pos_e = np.arange(len(ev)) + np.searchsorted(adds.line_no, ev_line)
    item = np.empty(n, np.int64)  # add index, or -1 - event index
    item[pos_a] = np.arange(na)
    item[pos_e] = -1 - ev
    line = np.empty(n, np.int64)
    line[pos_a], line[pos_e] = adds.line_no, ev_line
    _ascending("add and event", line)
    ids = np.empty(n, np.uint64)
    ids[pos_a], ids[pos_e] = adds.order_id, events.order_id[ev]
    by_id = np.argsort(ids, kind="stable")
    k = np.arange(n)
    start = item[by_id] >= 0
    latest = np.maximum.accumulate(np.where(start, k, -1))
    sid = ids[by_id]
    linked = ~start & (latest >= 0) & (sid[np.maximum(latest, 0)] == sid)
    keep = start | linked
    seq = by_id[keep]  # merged positions, grouped by order
    return _apply(adds, events, item[seq], line[seq], seq, start[keep], n)


def _apply(adds: Adds, events: Events, item: np.ndarray, line: np.ndarray, seq: np.ndarray,
           start: np.ndarray, n_merged: int) -> Lifecycle:
    """The scans over the grouped sequence (each add followed by its candidate events)."""
    na, m = len(adds), len(item)
    k = np.arange(m)
    group = np.cumsum(start) - 1  # groups in sequence (order id) order
    add_of_group = item[start]  # the add of each group
    add = add_of_group[group]
    is_e = ~start
    e = np.where(start, 0, -1 - item)  # event index (0 for adds: never used)

    def pick(of_add: np.ndarray | int, of_event: np.ndarray) -> np.ndarray:
        out = np.empty(m, of_event.dtype)
        out[start] = of_add[add[start]] if isinstance(of_add, np.ndarray) else of_add
        out[is_e] = of_event[e[is_e]]
        return out

    role = pick(_ADD, events.role)
    q, px = pick(adds.shares, events.shares), pick(adds.price, events.price)
    rem, time = pick(-1, events.remaining), pick(adds.time_ns, events.time_ns)
    mod, eap = is_e & (role == _MODIFY), is_e & (role == _EAP)
    sub = is_e & ((role == _EXEC) | (role == _CANCEL))
    dele = is_e & (role == _DELETE)

    # Remaining after each entry: the last set value minus what was subtracted since.
    is_set = start | mod | eap | dele
    setval = np.where(start | mod, q, np.where(eap, rem, 0))
    total = np.cumsum(np.where(sub, q, 0))
    s = np.maximum.accumulate(np.where(is_set, k, 0))
    r_after = setval[s] - (total - total[s])
    r_before = np.roll(r_after, 1)
    p_after = px[np.maximum.accumulate(np.where(start | mod, k, 0))]
    p_before = np.roll(p_after, 1)

    # Applied: no earlier entry of the group ended the order, and before its unit clear.
    clears = np.flatnonzero(events.role == _CLEAR)
    first = _first_clear(adds, events, clears)
    hit = first >= 0
    clear_ev = np.full(na, -1, np.int64)
    clear_ev[hit] = clears[first[hit]]
    clear_line = np.full(na, _NEVER, np.int64)
    clear_line[hit] = events.line_no[clear_ev[hit]]
    clear_time = np.full(na, -1, np.int64)
    clear_time[hit] = events.time_ns[clear_ev[hit]]
    gone = np.maximum.accumulate(np.where(r_after <= 0, k, -1))
    g_start = np.maximum.accumulate(np.where(start, k, 0))
    ended_before = np.roll(gone, 1) >= g_start
    applied = start | (~ended_before & (line < clear_line[add]))
    applied_e = applied & is_e

    # Per add. Groups are contiguous and start with their add; applied is a prefix.
    count = np.bincount(group, applied, len(add_of_group)).astype(np.int64)
    g_pos = np.flatnonzero(start)
    last = g_pos + count - 1
    by_add = np.empty(na, np.int64)
    by_add[add_of_group] = np.arange(len(add_of_group))
    last_of_add = last[by_add]
    r_end = r_after[last_of_add]
    cleared = (first >= 0) & (r_end > 0)

    diff = np.where(mod, r_before - q, np.where(eap, r_before - q - rem, 0))
    executed = np.where(applied_e & (sub | eap) & (role != _CANCEL), q, 0)
    cancelled = np.where(applied_e, np.where(role == _CANCEL, q, 0)
                         + np.where(dele, r_before, 0) + np.maximum(diff, 0), 0)
    added = np.where(applied_e, np.maximum(-diff, 0), 0)

    def per_add(values: np.ndarray) -> np.ndarray:
        sums = np.bincount(add, values.astype(np.float64), na)  # exact below 2**53
        return sums.astype(np.int64)

    has_events = count[by_add] > 1
    out_cancelled = per_add(cancelled) + np.where(cleared, r_end, 0)
    last_line = np.where(has_events, line[last_of_add], -1)
    last_time = np.where(has_events, time[last_of_add], -1)
    last_line = np.where(cleared, clear_line, last_line)
    last_time = np.where(cleared, clear_time, last_time)
    executed_sum, added_sum = per_add(executed), per_add(added)

    event_add = np.full(len(events), -1, np.int64)
    event_add[e[applied_e]] = add[applied_e]
    event_price = np.where(events.role == _EAP, events.price, -1).astype(np.int64)
    fills = applied_e & (role == _EXEC)
    event_price[e[fills]] = p_before[fills]

    changes = _changes(adds, add, line, time, seq, n_merged, start, mod, applied,
                       r_before, r_after, p_before, p_after, cleared, clear_line, clear_time,
                       r_end, p_after[last_of_add])
    return Lifecycle(
        executed=executed_sum, cancelled=out_cancelled, added=added_sum,
        modifies=np.bincount(add, applied_e & mod, na).astype(np.int64),
        events=count[by_add] - 1 + cleared, last_line=last_line, last_time=last_time,
        last_price=p_after[last_of_add], remaining=np.where(cleared, 0, r_end),
        open=(r_end > 0) & ~cleared, cleared_by=np.where(cleared, clear_ev, -1),
        event_add=event_add, event_price=event_price, changes=changes)


def _changes(adds: Adds, add: np.ndarray, line: np.ndarray, time: np.ndarray,
             seq: np.ndarray, n_merged: int, start: np.ndarray, mod: np.ndarray,
             applied: np.ndarray, r_before: np.ndarray, r_after: np.ndarray,
             p_before: np.ndarray, p_after: np.ndarray, cleared: np.ndarray,
             clear_line: np.ndarray, clear_time: np.ndarray, r_end: np.ndarray,
             p_end: np.ndarray) -> Changes:
    """Book rows in line order: per applied entry an "old" row (the order shrinks or
    leaves at its old price) and a "new" row (it arrives at its new price), then the
    unit clears' rows merged in."""
    m = len(add)
    shown = applied & adds.displayed[add]
    old_sh = np.where(mod, -r_before, np.maximum(r_after, 0) - r_before)
    old_or = np.where(mod | (r_after <= 0), -1, 0)
    old = shown & ~start & ((old_sh != 0) | (old_or != 0))
    new = shown & (start | mod) & (r_after > 0)
    # Back to line order without a sort: two slots per merged position, old first.
    slot = np.full(2 * n_merged, -1, np.int64)
    slot[2 * seq[old]] = np.flatnonzero(old)
    slot[2 * seq[new] + 1] = np.flatnonzero(new) + m
    pick = slot[slot >= 0]
    is_new, j = pick >= m, pick % max(m, 1)
    rows = {"line": line[j], "time": time[j], "add": add[j],
            "price": np.where(is_new, p_after[j], p_before[j]),
            "d_shares": np.where(is_new, r_after[j], old_sh[j]),
            "d_orders": np.where(is_new, 1, old_or[j])}

    # Unit clears: one row per displayed order cancelled, by (line, add).
    gone = np.flatnonzero(cleared & adds.displayed)
    gone = gone[np.lexsort((gone, clear_line[gone]))]
    clear_rows = {"line": clear_line[gone], "time": clear_time[gone],
                  "add": gone, "price": p_end[gone], "d_shares": -r_end[gone],
                  "d_orders": np.full(len(gone), -1, np.int64)}
    at = np.searchsorted(rows["line"], clear_rows["line"])  # a clear's line is no entry's
    merged = {name: np.insert(rows[name], at, clear_rows[name]) for name in rows}
    a = merged["add"]
    return Changes(line_no=merged["line"], time_ns=merged["time"], add=a,
                   symbol=adds.symbol[a], side=adds.side[a], price=merged["price"],
                   d_shares=merged["d_shares"], d_orders=merged["d_orders"])
