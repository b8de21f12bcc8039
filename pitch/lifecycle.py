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

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .book_rows import Changes, book_rows
from .layouts import ROLES, Role

#: Small integer code of each role (the ``role`` column of :class:`Events`).
ROLE_IDS: dict[Role, int] = {role: i for i, role in enumerate(Role)}
#: Roles that change one order, found by its id.
ORDER_ROLES = (Role.EXECUTE, Role.EXECUTE_AT_PRICE, Role.CANCEL, Role.MODIFY, Role.DELETE)

_ADD, _EXEC, _EAP, _CANCEL, _MODIFY, _DELETE, _CLEAR = (ROLE_IDS[r] for r in (
    Role.ADD, Role.EXECUTE, Role.EXECUTE_AT_PRICE, Role.CANCEL, Role.MODIFY, Role.DELETE,
    Role.CLEAR_UNIT))
_IS_ORDER_ROLE = np.zeros(256, bool)
_IS_ORDER_ROLE[[ROLE_IDS[r] for r in ORDER_ROLES]] = True
_NEVER = np.iinfo(np.int64).max


def role_of(code: str) -> int:
    """The role code of a message type code (``ROLES`` of :mod:`pitch.layouts`)."""
    return ROLE_IDS[ROLES[code]]


_DTYPES: dict[str, Any] = {
    "line_no": np.int64, "order_id": np.uint64, "side": np.uint8, "shares": np.int64,
    "price": np.int64, "unit": np.int64, "time_ns": np.int64, "displayed": np.bool_,
    "role": np.uint8, "remaining": np.int64}


class _Columns:
    """Equal-length arrays, one per field; :meth:`build` coerces and fills defaults."""

    DEFAULTS: dict[str, Any] = {}

    @classmethod
    def build(cls, **given: Any) -> Any:
        """From array-likes; a missing column is filled with its default (see DEFAULTS)."""
        n = len(given["line_no"])
        out = {}
        for f in fields(cls):  # type: ignore[arg-type]
            value = given.get(f.name)
            value = np.full(n, cls.DEFAULTS[f.name]) if value is None else value
            out[f.name] = np.asarray(value, _DTYPES.get(f.name))
            if len(out[f.name]) != n:
                raise ValueError(f"column {f.name} has {len(out[f.name])} rows, line_no {n}")
        return cls(**out)

    def __len__(self) -> int:
        return len(self.line_no)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Adds(_Columns):
    """The adds of one file (or of one order-id bucket of it), in any order."""

    DEFAULTS = {"unit": -1, "time_ns": -1, "displayed": True, "symbol": ""}
    line_no: np.ndarray  # int64, unique
    order_id: np.ndarray  # uint64
    side: np.ndarray  # uint8: ord("B") or ord("S")
    shares: np.ndarray  # int64
    price: np.ndarray  # int64, ten-thousandths of a dollar
    symbol: np.ndarray  # any dtype (codes or strings); copied to the book changes
    unit: np.ndarray  # int64; -1 for text
    time_ns: np.ndarray  # int64; -1 when unknown
    displayed: np.ndarray  # bool: rests on the book


@dataclass(frozen=True)
class Events(_Columns):
    """Every other message that may touch orders, in any order (trades may be left out)."""

    DEFAULTS = {"price": -1, "remaining": -1, "unit": -1, "time_ns": -1, "order_id": 0,
                "shares": 0}
    line_no: np.ndarray  # int64, unique, never an add's line
    order_id: np.ndarray  # uint64 (unused for unit clears)
    role: np.ndarray  # uint8: ROLE_IDS
    shares: np.ndarray  # int64: executed or cancelled quantity, a modify's new quantity
    price: np.ndarray  # int64 ticks: a modify's new price, an execution at price's; -1 none
    remaining: np.ndarray  # int64: an execution at price's Remaining Qty; -1 none
    unit: np.ndarray  # int64; -1 for text
    time_ns: np.ndarray  # int64; -1 when unknown


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
    changes: Changes | None  # None when not asked for

    def end_line(self, add_line: np.ndarray) -> np.ndarray:
        """Per add (``add_line``: their lines), the line of the message that ended the
        order (its add's, when nothing was left to rest); -1 while it is open."""
        return np.where(self.open, -1, np.where(self.last_line >= 0, self.last_line, add_line))


def _ascending(lines: np.ndarray) -> bool:
    return len(lines) < 2 or bool(np.all(lines[1:] > lines[:-1]))


def _first_clear(adds: Adds, events: Events, clears: np.ndarray) -> np.ndarray:
    """Per add, the index (into ``clears``) of the first unit clear of its unit after it; -1."""
    found = np.full(len(adds.line_no), -1, np.int64)
    if not len(clears) or not len(adds.line_no):
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


def replay(adds: Adds, events: Events, book: bool = True) -> Lifecycle:
    """Apply every event to its order: the orders' sums, each event's order and, with
    ``book``, the book changes."""
    na = len(adds.line_no)
    touch = _IS_ORDER_ROLE[events.role]  # events that touch one order
    # Their indices, or a slice when they all do (as in a link): no copies then.
    ev = slice(None) if touch.all() else np.flatnonzero(touch)
    ev_line = events.line_no[ev]
    n = na + len(ev_line)
    # Sources 0..na-1 are the adds, na.. the order events. Put in line order (when
    # they come as a few sorted runs, as chunks give them, a stable sort merges the
    # runs), then a stable sort by id puts each add right before its own events (as
    # in pitch.derive); events before any add of their id are dropped.
    lines = np.concatenate([adds.line_no, ev_line])
    runs = np.count_nonzero(lines[1:] < lines[:-1]) + 1
    by_line = np.argsort(lines, kind="stable" if runs <= 1 + len(lines) // 1024 else "quicksort")
    line = lines[by_line]
    if not _ascending(line):
        raise ValueError("line numbers must be unique (an add and an event, or two of either)")
    ids = np.concatenate([adds.order_id, events.order_id[ev]])[by_line]
    by_id = np.argsort(ids, kind="stable")
    src = by_line[by_id]
    start = src < na
    latest = np.maximum.accumulate(np.where(start, np.arange(n), -1))
    sid = ids[by_id]
    keep = start | ((latest >= 0) & (sid[np.maximum(latest, 0)] == sid))
    return _scan(adds, events, ev, src[keep], by_id[keep], start[keep], line, book)


#: The per-add fields of a :class:`Lifecycle` (the others are per event, or changes).
_PER_ADD = ("executed", "cancelled", "added", "modifies", "events", "last_line", "last_time",
            "last_price", "remaining", "open")


def replay_parts(adds: Adds, events: Events, parts: int,
                 map_: Callable[..., Iterable[None]] = map) -> Lifecycle:
    """``replay(adds, events, book=False)``, computed in ``parts`` by order id.

    An order and the events of its id share a part (``order_id % parts``); unit
    clears go to every part, since they cancel every live order of their unit.
    Each part's arrays stay small enough for the CPU's caches (parts of 15-40k
    rows took two thirds of the time of one replay of a million), and the parts
    are independent, so ``map_`` may be a thread pool's: each part gathers its
    own rows and writes its results straight to theirs.
    """
    if not 1 <= parts < 1 << 16:
        raise ValueError(f"parts must be 1 to 65535, not {parts}")
    key = np.uint64(parts)
    order_ev = _IS_ORDER_ROLE[events.role]
    by_a, at_a = _by_part((adds.order_id % key).astype(np.uint16), parts)
    # Events of no order are part ``parts``: the unit clears among them join every part.
    by_e, at_e = _by_part(np.where(order_ev, events.order_id % key, parts).astype(np.uint16),
                          parts + 1)
    clears = np.flatnonzero(events.role == _CLEAR)
    na, ne = len(by_a), len(events.line_no)
    out = {name: np.empty(na, bool if name == "open" else np.int64) for name in _PER_ADD}
    cleared_by = np.empty(na, np.int64)
    event_add = np.full(ne, -1, np.int64)
    event_price = np.where(events.role == _EAP, events.price, -1).astype(np.int64)
    clear_events = take(events, clears)

    def one(k: int) -> None:  # the parts' rows are disjoint
        ra, re = by_a[at_a[k]:at_a[k + 1]], by_e[at_e[k]:at_e[k + 1]]
        mine = take(events, re)
        got = replay(take(adds, ra, _BOOK_ONLY), _concat(mine, clear_events) if len(clears)
                     else mine, book=False)
        for name in _PER_ADD:
            out[name][ra] = getattr(got, name)
        own = len(re)  # then the part's copy of the unit clears
        cleared_by[ra] = _through(clears, np.where(got.cleared_by >= 0,
                                                   got.cleared_by - own, -1))
        event_add[re] = _through(ra, got.event_add[:own])
        event_price[re] = got.event_price[:own]

    for _ in map_(one, range(parts)):
        pass
    return Lifecycle(**out, cleared_by=cleared_by, event_add=event_add, event_price=event_price,
                     changes=None)


#: Roles :func:`replay_paired` applies: each changes its own order only, and none
#: sets a new quantity or price.
SIMPLE_ROLES = (Role.EXECUTE, Role.CANCEL, Role.DELETE)
_IS_SIMPLE = np.zeros(256, bool)
_IS_SIMPLE[[ROLE_IDS[r] for r in SIMPLE_ROLES]] = True


def simple(events: Events) -> bool:
    """Whether every event is of :data:`SIMPLE_ROLES` (then :func:`replay_paired` applies)."""
    return bool(_IS_SIMPLE[events.role].all())


def replay_paired(adds: Adds, events: Events, on: np.ndarray, to: np.ndarray) -> Lifecycle:
    """``replay(adds, events, book=False)`` when :func:`simple` holds, from the events'
    pairs with their adds: ``on`` the events that have an add (the latest of their id
    before them), ``to`` that add, grouped by add and each add's events in line
    order, as :func:`pitch.derive.pairs` gives them (one sort, as text's link).

    With no modify, execution at price or unit clear, what remains after an event
    is the add's shares less a running sum of the group's executions and cancels
    (a delete takes the rest), and an order's applied events are those up to the
    first that leaves nothing: no second sort and no per-part scatter, about half
    the time of :func:`replay_parts` on a bucket of a million rows.
    """
    if not simple(events):
        raise ValueError("replay_paired applies executions, cancels and deletes only")
    na, ne, m = len(adds.line_no), len(events.line_no), len(on)
    role, q = events.role[on], events.shares[on]
    dele = role == _DELETE
    sub = q * ~dele
    k = np.arange(m)
    first = np.ones(m, bool)
    first[1:] = to[1:] != to[:-1]
    g0 = np.maximum.accumulate(k * first)  # where each pair's group starts
    total = np.cumsum(sub)
    shares = adds.shares[to]
    r_before = shares - (total - sub - (total - sub)[g0])
    r_after = r_before - sub
    ended = np.maximum.accumulate(np.where((r_after <= 0) | dele, k, -1))
    applied = shares > 0  # an add of 0 shares is gone at once
    applied[1:] &= ended[:-1] < g0[1:]  # nothing before it in its group ended the order
    on_a, to_a, q_a, role_a = on[applied], to[applied], q[applied], role[applied]
    fill = role_a == _EXEC

    def per_add(values: np.ndarray) -> np.ndarray:  # sums stay < 2**53
        return np.bincount(to_a, values.astype(np.float64), na).astype(np.int64)

    executed = per_add(q_a * fill)
    cancelled = per_add(np.where(role_a == _DELETE, r_before[applied], q_a * ~fill))
    count = np.bincount(to_a, minlength=na).astype(np.int64)
    last = np.flatnonzero(np.append(to_a[1:] != to_a[:-1], True)) if len(to_a) else to_a
    last_line, last_time = np.full(na, -1, np.int64), np.full(na, -1, np.int64)
    last_line[to_a[last]] = events.line_no[on_a[last]]
    last_time[to_a[last]] = events.time_ns[on_a[last]]
    remaining = adds.shares - executed - cancelled
    event_add, event_price = np.full(ne, -1, np.int64), np.full(ne, -1, np.int64)
    event_add[on_a] = to_a
    event_price[on_a[fill]] = adds.price[to_a[fill]]
    return Lifecycle(
        executed=executed, cancelled=cancelled, added=np.zeros(na, np.int64),
        modifies=np.zeros(na, np.int64), events=count, last_line=last_line,
        last_time=last_time, last_price=adds.price.astype(np.int64, copy=True),
        remaining=remaining, open=remaining > 0, cleared_by=np.full(na, -1, np.int64),
        event_add=event_add, event_price=event_price, changes=None)


def _through(rows: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``rows[index]``, -1 where ``index`` is -1 (none)."""
    out = np.full(len(index), -1, np.int64)
    some = index >= 0
    out[some] = rows[index[some]]
    return out


def _by_part(part: np.ndarray, parts: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows in part order, ascending within each part; where each part starts, and the end)."""
    order = np.argsort(part, kind="stable")  # a radix sort for 16-bit keys
    return order, np.concatenate([[0], np.cumsum(np.bincount(part, minlength=parts))])


#: Fields of :class:`Adds` that only the book changes read.
_BOOK_ONLY = ("side", "symbol", "displayed")


def take(columns: Any, rows: np.ndarray, unread: tuple[str, ...] = ()) -> Any:
    """:class:`Adds` or :class:`Events` at ``rows``; the ``unread`` fields only sized to
    match, not copied."""
    out = {}
    for f in fields(columns):
        values = getattr(columns, f.name)
        out[f.name] = (np.broadcast_to(values[:1], len(rows)) if f.name in unread
                       else values[rows])
    return type(columns)(**out)


def _concat(first: Any, second: Any) -> Any:
    return type(first)(**{f.name: np.concatenate([getattr(first, f.name),
                                                  getattr(second, f.name)])
                          for f in fields(first)})


def _scan(adds: Adds, events: Events, ev: np.ndarray | slice, src: np.ndarray, at: np.ndarray,
          start: np.ndarray, line_by_pos: np.ndarray, book: bool) -> Lifecycle:
    """The running state of each order: ``src`` in order groups (each add then its
    candidate events), ``at`` their positions in line order. (Masks multiply rather
    than ``np.where``: no branches on random data.)"""
    na, m = len(adds.line_no), len(src)
    k = np.arange(m)

    def col(of_adds: np.ndarray | int, of_events: np.ndarray) -> np.ndarray:
        first = np.broadcast_to(np.asarray(of_adds, of_events.dtype), (na,))
        return np.concatenate([first, of_events[ev]])[src]

    role = col(_ADD, events.role)
    q, px, time = col(adds.shares, events.shares), col(adds.price, events.price), \
        col(adds.time_ns, events.time_ns)
    eap = role == _EAP
    rem = col(-1, events.remaining) if eap.any() else np.zeros(m, np.int64)
    line = line_by_pos[at]
    g_pos = np.flatnonzero(start)  # groups are contiguous and start with their add
    group = np.cumsum(start) - 1
    add_g = src[g_pos]  # the add of each group
    mod, dele, cancel = role == _MODIFY, role == _DELETE, role == _CANCEL
    sub = (role == _EXEC) | cancel
    fixed = start | mod  # entries that set quantity and price

    # Remaining after each entry: the last set value minus what was subtracted since.
    total = np.cumsum(q * sub)
    s = np.maximum.accumulate(k * (fixed | eap | dele))
    r_after = (q * fixed + rem * eap)[s] - (total - total[s])
    r_before = _shifted(r_after)
    p_after = px[np.maximum.accumulate(k * fixed)]
    p_before = _shifted(p_after)

    # Applied: a prefix of each group, up to the entry that ends the order and
    # before the first unit clear of its unit after its add.
    gone = np.maximum.accumulate((k + 1) * (r_after <= 0)) - 1  # last entry that ended one
    applied = start.copy()
    applied[1:] |= gone[:-1] < g_pos[group[1:]]
    clears = np.flatnonzero(events.role == _CLEAR)
    first = _first_clear(adds, events, clears)  # per add, into clears; -1 none
    has_clear = first >= 0
    clear_ev = np.full(na, -1, np.int64)
    clear_ev[has_clear] = clears[first[has_clear]]
    clear_line, clear_time = np.full(na, _NEVER, np.int64), np.full(na, -1, np.int64)
    clear_line[has_clear] = events.line_no[clear_ev[has_clear]]
    clear_time[has_clear] = events.time_ns[clear_ev[has_clear]]
    if len(clears):
        applied &= start | (line < clear_line[add_g][group])
    applied_e = applied & ~start

    def per_add(*values: np.ndarray) -> list[np.ndarray]:
        """Sums per add of each of ``values`` (per entry). One 1-D reduceat per value:
        a reduceat over the values stacked as columns took five times as long."""
        sums = []
        for v in values:
            out = np.zeros(na, np.int64)
            if m:
                out[add_g] = np.add.reduceat(v.astype(np.int64, copy=False), g_pos)
            sums.append(out)
        return sums

    count, = per_add(applied)  # the add and its applied events
    last = np.empty(na, np.int64)
    last[add_g] = g_pos
    last += count - 1
    r_end, p_end = r_after[last], p_after[last]
    cleared = has_clear & (r_end > 0)
    diff = (r_before - q) * (mod | eap) - rem * eap  # a lower new quantity: cancelled
    fills = applied_e & (role == _EXEC)
    event_add = np.full(len(events.line_no), -1, np.int64)
    event_add[_event(ev, src[applied_e] - na)] = add_g[group[applied_e]]
    event_price = np.where(events.role == _EAP, events.price, -1).astype(np.int64)
    event_price[_event(ev, src[fills] - na)] = p_before[fills]
    has_events = count > 1
    executed, cancelled, added, modifies = per_add(
        q * (fills | (applied_e & eap)),
        (q * cancel + r_before * dele + np.maximum(diff, 0)) * applied_e,
        np.maximum(-diff, 0) * applied_e, applied_e & mod)
    out = Lifecycle(
        executed=executed, cancelled=cancelled + r_end * cleared, added=added,
        modifies=modifies, events=count - 1 + cleared,
        last_line=np.where(cleared, clear_line, np.where(has_events, line[last], -1)),
        last_time=np.where(cleared, clear_time, np.where(has_events, time[last], -1)),
        last_price=p_end, remaining=r_end * ~cleared, open=(r_end > 0) & ~cleared,
        cleared_by=np.where(cleared, clear_ev, -1), event_add=event_add,
        event_price=event_price, changes=None)
    if not book:
        return out
    entries = dict(add=add_g[group], line=line, time=time, at=at, start=start, mod=mod,
                   applied=applied, r_before=r_before, r_after=r_after, p_before=p_before,
                   p_after=p_after)
    clears_rows = dict(cleared=cleared, line=clear_line, time=clear_time, r_end=r_end,
                       p_end=p_end)
    changes = book_rows(adds.displayed, adds.symbol, adds.side, entries, len(line_by_pos),
                        clears_rows)
    return dataclasses.replace(out, changes=changes)


def _event(ev: np.ndarray | slice, k: np.ndarray) -> np.ndarray:
    """The events' indices of order events ``k`` (indices into ``events[ev]``)."""
    return k if isinstance(ev, slice) else ev[k]


def _shifted(values: np.ndarray) -> np.ndarray:
    """``values`` one place later (the state before each entry), 0 first."""
    out = np.zeros_like(values)
    out[1:] = values[:-1]
    return out
