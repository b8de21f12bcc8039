"""The best bid and offer of one symbol over its file, mostly from ``orders`` (issue 13's 1 s).

:func:`pitch.book.load` reads every message of the symbol's order ids and
replays them: seconds for the busiest symbol of a 10M-message file. Most
orders need none of that: ``orders`` tells, per add, its line, side, price and
shares, how many events were applied to it and ``end_line_no``, the line of the
message that ended it. A displayed order of positive shares is

- **resting** when no event touched it (``events = 0``, not even a unit
  clear): it arrives at its add and stays to the end of the file;
- **whole** when exactly one event touched it and that one ended it
  (``events = 1`` and an end): it arrives at its add and leaves, all its shares
  at once, at ``end_line_no``. With one event the end is that event's line: the
  text ingest counts every event linked to the add and ends it at the last one
  once nothing is left; the binary one counts the engine's applied events;
- **active** otherwise (several events, a partial one, or an end not known, as
  in a version 5 database): only these orders' messages are read, the adds
  and order events of their ids between the first one's add and the last
  one's end (other adds of those ids too: an event belongs to the latest add
  of its id), and replayed: by :func:`text_changes` when the rows hold only
  executions and cancels and the file has no unit clears, else by the engine
  (:func:`pitch.book.from_rows`, with the unit clears). Every event of an
  active order is among those rows, and the latest add of an id before one of
  them is too, so each active order gets the events the full replay gives it.

An add of no shares never rests (nor do its events change the book), and an
undisplayed add never shows: both are left out. The book changes of the three
kinds, in no particular order, go to :func:`pitch.top_of_book.top_changes`,
and the time of each row kept is read back by its line.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from . import book
from .layouts import BINARY, PRICE_SCALE, TEXT, Role, codes
from .lifecycle import ORDER_ROLES, ROLE_IDS
from .store import registered, sql_list
from .top_of_book import top_changes

#: The symbol's orders that may show (``ended``: the end line of a whole one, -1 for a
#: resting one, -2 for an active one: see the module docstring).
_RESTING, _ACTIVE = -1, -2
_ORDERS_SQL = f"""
SELECT line_no, coalesce(ascii(side), 0)::UTINYINT AS side,
       coalesce((price * {PRICE_SCALE})::BIGINT, -1) AS price, shares,
       CASE WHEN events = 1 THEN coalesce(end_line_no, {_ACTIVE})
            WHEN events = 0 AND end_line_no IS NULL THEN {_RESTING}
            ELSE {_ACTIVE} END AS ended, order_id
FROM orders WHERE file_id = $f AND symbol = $s AND shares > 0"""
#: The symbol's text adds not displayed (binary adds all are). Zone maps skip every row
#: group whose adds all say 'Y' (a text add always has a display code).
_HIDDEN_SQL = f"""SELECT line_no FROM messages WHERE file_id = $f AND symbol = $s
  AND type IN ({sql_list(codes(Role.ADD, feed=TEXT))}) AND display <> 'Y'"""
_ROLE_SQL = "CASE type " + " ".join(
    f"WHEN '{c}' THEN {ROLE_IDS[r]}" for r in (Role.ADD, *ORDER_ROLES)
    for c in codes(r)) + " END"
#: The active ids' adds and order events from the first active add on, with each id's
#: rank (``_pitch_bbo_ids``: order_id, id_rank): what :func:`text_changes` reads. A join
#: that returns the rank costs DuckDB less than numpy's lookup of the ids.
_WHERE = f"""WHERE m.file_id = $f AND m.line_no >= $lo
  AND m.type IN ({sql_list(codes(Role.ADD, *ORDER_ROLES))})"""
_ROWS_SQL = f"""SELECT m.line_no, i.id_rank, ({_ROLE_SQL})::UTINYINT AS role,
       coalesce(m.shares, 0) AS shares
FROM messages m JOIN _pitch_bbo_ids i ON i.order_id = m.order_id {_WHERE}"""
#: The same rows as the engine reads them (see :func:`pitch.book.from_rows`).
_ENGINE_SQL = f"""SELECT {book.FIELDS}, false AS mine,
       coalesce(type IN ({sql_list(codes(Role.ADD, feed=BINARY))}) OR display = 'Y', false)
           AS displayed
FROM messages m {_WHERE} AND m.order_id IN (SELECT order_id FROM _pitch_bbo_ids)"""
_CLEARS_SQL = f"""SELECT {book.FIELDS}, false AS mine, false AS displayed FROM messages
WHERE file_id = $f AND type IN ({sql_list(codes(Role.CLEAR_UNIT))})"""
_TIMES_SQL = f"""SELECT line_no, coalesce(time_ns, {book.UNKNOWN_TIME}) AS time_ns
FROM messages WHERE file_id = $f AND line_no IN (FROM _pitch_bbo_lines)"""
_ADD = ROLE_IDS[Role.ADD]
#: The roles :func:`text_changes` knows (the others go to the engine).
TEXT_ROLES = tuple(ROLE_IDS[r] for r in (Role.ADD, Role.EXECUTE, Role.CANCEL))


def _columns(conn: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]
             ) -> dict[str, np.ndarray]:
    """A query's columns (none NULL) as numpy arrays, through Arrow (a quarter faster
    than ``fetchnumpy`` here)."""
    table = conn.sql(sql, params=params).to_arrow_table()
    return {name: table.column(name).to_numpy() for name in table.column_names}


def series(conn: duckdb.DuckDBPyConnection, symbol: str, file_id: int | None = None
           ) -> tuple[int, pd.DataFrame]:
    """(the file read, the best bid and offer of ``symbol`` over it): the frame of
    ``book.load(conn, symbol, file_id).bbo()``, read faster."""
    fid = book.pick_file(conn, symbol, file_id)
    params = {"f": fid, "s": symbol}
    o = _columns(conn, _ORDERS_SQL, params)
    hidden = _columns(conn, _HIDDEN_SQL, params)["line_no"]
    if len(hidden):
        shown = ~np.isin(o["line_no"], hidden)
        o = {k: v[shown] for k, v in o.items()}
    ended = o["ended"]
    whole = ended >= 0
    # Every order that shows arrives at its add; a whole one leaves at its end, an
    # active one's later changes come from its messages.
    parts = [(o["line_no"], o["side"], o["price"], o["shares"], np.ones(len(ended), np.int64)),
             (ended[whole], o["side"][whole], o["price"][whole], -o["shares"][whole],
              np.full(int(whole.sum()), -1, np.int64))]
    active = ended == _ACTIVE
    if active.any():
        parts.append(_active_changes(conn, fid, symbol, {k: v[active] for k, v in o.items()}))
    line, side, price, d_shares, d_orders = (np.concatenate(c) for c in zip(*parts))
    line, price, d_shares, d_orders = (c.astype(np.int64, copy=False)  # no copy if int64
                                       for c in (line, price, d_shares, d_orders))
    line, bid, bid_sh, ask, ask_sh = top_changes(line, side == ord("B"), price, d_shares,
                                                 d_orders)
    return fid, book.bbo_frame(line, _times(conn, fid, line), bid, bid_sh, ask, ask_sh)


def _active_changes(conn: duckdb.DuckDBPyConnection, fid: int, symbol: str,
                    a: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """(line, side, price, d_shares, d_orders) of the active orders ``a`` after their
    adds (their arrivals are counted apart)."""
    params = {"f": fid, "lo": int(a["line_no"].min())}
    ids = _distinct(a["order_id"])
    ranked = pa.table({"order_id": pa.array(ids, pa.uint64()), "id_rank": np.arange(len(ids))})
    clears = conn.execute(_CLEARS_SQL, {"f": fid}).fetchnumpy()  # read once: rare rows
    with registered(conn, "_pitch_bbo_ids", ranked):
        if not len(clears["line_no"]):
            rows = _columns(conn, _ROWS_SQL, params)
            if np.isin(rows["role"], TEXT_ROLES).all():
                return text_changes(rows, a)
        engine = conn.execute(_ENGINE_SQL, params).fetchnumpy()
    got = {k: np.concatenate([np.asarray(engine[k]), np.asarray(clears[k])]) for k in engine}
    got["mine"] = (got["role"] == _ADD) & np.isin(got["line_no"], a["line_no"])
    sb = book.from_rows(fid, symbol, got)
    after = ~np.isin(sb.line_no, a["line_no"])  # the arrivals are counted apart
    return (sb.line_no[after], sb.side[after], sb.price[after], sb.d_shares[after],
            sb.d_orders[after])


def text_changes(rows: dict[str, np.ndarray], a: dict[str, np.ndarray]
                 ) -> tuple[np.ndarray, ...]:
    """Book changes of the active orders ``a`` (line_no, side, price) after their adds,
    from ``rows`` in any order: line_no, id_rank (one per order id), role and shares of
    the adds of their ids (any symbol's) and those ids' executions and cancels.

    The rules of :mod:`pitch.lifecycle` for these two roles, which both take
    ``shares`` off: an event belongs to the latest add of its id before it while that
    order has shares left; each one applied moves the order's shares on the book, and
    the one that leaves none takes it off.
    """
    order = _by_id_and_line(rows["id_rank"], rows["line_no"])
    ids, line = rows["id_rank"][order], rows["line_no"][order]
    role, shares = rows["role"][order], rows["shares"][order]
    k = np.arange(len(order))
    is_add = role == _ADD
    pos = np.full(len(order), -1, np.int64)  # an active add's index into a
    by_line = np.argsort(a["line_no"])
    adds = np.flatnonzero(is_add)
    at = np.minimum(np.searchsorted(a["line_no"], line[adds], sorter=by_line),
                    len(by_line) - 1)
    found = a["line_no"][by_line[at]] == line[adds]
    pos[adds[found]] = by_line[at[found]]
    owner = np.maximum.accumulate(np.where(is_add, k, -1))  # the latest add, if of this id
    owned = (owner >= 0) & (ids[np.maximum(owner, 0)] == ids)
    start = np.where(owned, owner, 0)
    taken = np.cumsum(np.where(is_add, 0, shares))
    left = shares[start] - (taken - taken[start])  # the order's shares after each row
    ended = np.maximum.accumulate(np.where(owned & (left <= 0), k, -1))
    applied = owned & ~is_add & (pos[start] >= 0) & (np.r_[-1, ended[:-1]] < start)
    ev = np.flatnonzero(applied)
    was, now = left[ev - 1], left[ev]  # the row before an applied event is its order's
    d_shares = np.maximum(now, 0) - was
    d_orders = -(now <= 0).astype(np.int64)
    keep = (d_shares != 0) | (d_orders != 0)
    ev, d_shares, d_orders = ev[keep], d_shares[keep], d_orders[keep]
    of = pos[start[ev]]
    return line[ev], a["side"][of], a["price"][of], d_shares, d_orders


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (a sort: np.unique hashes, slower here)."""
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def _by_id_and_line(rank: np.ndarray, line: np.ndarray) -> np.ndarray:
    """The order of rows by (id rank, line): one sort of packed (rank, line, row) when
    they fit in 63 bits, else a lexsort."""
    n = len(rank)
    if not n:
        return np.zeros(0, np.int64)
    rank = rank.astype(np.int64)
    ib, lb = (n - 1).bit_length(), int(line.max()).bit_length()
    if int(rank.max()).bit_length() + lb + ib <= 63 and int(line.min()) >= 0:
        return np.sort((rank << (lb + ib)) | (line << ib) | np.arange(n)) & ((1 << ib) - 1)
    return np.lexsort((line, rank))


def _times(conn: duckdb.DuckDBPyConnection, fid: int, lines: np.ndarray) -> np.ndarray:
    """The time of each of ``lines`` (UNKNOWN_TIME when unknown)."""
    with registered(conn, "_pitch_bbo_lines", pa.table({"line_no": lines})):
        got = _columns(conn, _TIMES_SQL, {"f": fid})
    by_line = np.argsort(got["line_no"])
    return got["time_ns"][by_line][np.searchsorted(got["line_no"][by_line], lines)]
