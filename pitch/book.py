"""The order book of one symbol in one file: its depth at any instant, its best bid and offer.

Issue 13's rules: per file, messages apply in file order, only displayed
orders rest on the book, trades never touch it. A symbol's book is rebuilt
from its own messages: its adds, the events applied to its orders, and the
unit clears that cancel one of them. Its book *at time T* is the book after
every one of those messages before the first whose timestamp is later than T
(an unknown time never stops it).

:func:`load` reads the symbol's adds, every add and event of the same order
ids (an id may have served another symbol before) and the file's unit clears
with one SQL statement, and runs :func:`pitch.lifecycle.replay`; the answer, a
:class:`SymbolBook`, answers :meth:`~SymbolBook.levels_at` and
:meth:`~SymbolBook.bbo` from its book changes without reading again (the app
keeps it in a cache). The one-call forms read less: :func:`bbo`, the whole
session's best bid and offer, reads most orders from ``orders``
(:mod:`pitch.bbo_fast`); :func:`book_at`, the depth at one instant, only the
orders live around it (:mod:`pitch.book_fast`).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from .bbo import best_bid_offer, by_level
from .errors import PitchError
from .layouts import BINARY, PRICE_SCALE, ROLES, Role, codes
from .lifecycle import ORDER_ROLES, ROLE_IDS, Adds, Events, replay, take
from .store import sql_list

UNKNOWN_TIME = -1
#: Role codes of the types read (a CASE over all ~40 types cost a fifth more).
_ROLE = "CASE type " + " ".join(f"WHEN '{c}' THEN {ROLE_IDS[ROLES[c]]}" for c in codes(
    Role.ADD, Role.CLEAR_UNIT, *ORDER_ROLES)) + " END"
#: What the engine reads of a message (see :func:`from_rows`), less whose and shown.
FIELDS = f"""line_no, coalesce(time_ns, {UNKNOWN_TIME}) AS time_ns,
       ({_ROLE})::UTINYINT AS role, coalesce(order_id, 0) AS order_id,
       coalesce(ascii(side), 0)::UTINYINT AS side, coalesce(shares, 0) AS shares,
       coalesce((price * {PRICE_SCALE})::BIGINT, -1) AS price,
       coalesce(remaining_shares, -1) AS remaining, coalesce(unit, -1) AS unit"""
_COLUMNS = f"""SELECT {FIELDS},
       coalesce(symbol = $s, false) AS mine,
       coalesce(type IN ({sql_list(codes(Role.ADD, feed=BINARY))}) OR display = 'Y', false)
           AS displayed
FROM messages WHERE file_id = $f"""
#: The symbol's adds, every other add of the same order ids (an id may have served
#: another symbol first: the engine needs those to link events right) and their
#: events, in one scan (a second scan cost more than splitting the rows in numpy).
_SQL = f"""WITH ids AS (SELECT order_id FROM messages
             WHERE file_id = $f AND symbol = $s AND type IN ({sql_list(codes(Role.ADD))}))
{_COLUMNS} AND type IN ({sql_list(codes(Role.ADD, *ORDER_ROLES))}) AND order_id IN (FROM ids)"""
#: Unit clears (rare; an OR with the above would cost its semi-join).
_CLEARS_SQL = f"{_COLUMNS} AND type IN ({sql_list(codes(Role.CLEAR_UNIT))})"


_TIME = re.compile(r"^(\d{1,2}):([0-5]\d):([0-5]\d)(?:\.(\d{1,9}))?$")


def format_time(ns: int) -> str:
    """``HH:MM:SS.fffffffff`` of nanoseconds since midnight: :func:`parse_time` reads it back."""
    s, frac = divmod(int(ns), 10**9)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{frac:09d}"


def parse_time(text: str) -> int:
    """Nanoseconds since midnight of ``HH:MM:SS[.fraction]`` (up to 9 fraction digits)."""
    match = _TIME.match(text.strip())
    if not match or int(match.group(1)) > 23:
        raise ValueError(f"not a time of day HH:MM:SS[.fraction]: {text!r}")
    h, m, s, fraction = match.groups()
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 10**9 + int((fraction or "").ljust(9, "0"))


def pick_file(conn: duckdb.DuckDBPyConnection, symbol: str, file_id: int | None = None) -> int:
    """``file_id`` if the symbol is in it, else the most recent file holding the symbol.

    Raises :class:`PitchError` (a one-line reason) when there is none.
    """
    # Newest first by when it was ingested, which an archive keeps too (its file ids
    # are content keys, not a sequence).
    files = [r[0] for r in conn.execute(
        "SELECT file_id FROM files ORDER BY started_at DESC NULLS LAST, file_id DESC").fetchall()]
    if file_id is not None and file_id not in files:
        raise PitchError(f"no file {file_id}")
    for fid in [file_id] if file_id is not None else files:
        # LIMIT 1 stops the scan at the first hit: the newest file usually has it.
        if conn.execute("SELECT 1 FROM messages WHERE file_id = ? AND symbol = ? LIMIT 1",
                        [fid, symbol]).fetchall():  # (all: no result left unfinished)
            return int(fid)
    where = f" in file {file_id}" if file_id is not None else ""
    raise PitchError(f"unknown symbol {symbol!r}{where}")


@dataclass(frozen=True)
class SymbolBook:
    """One symbol's own messages and its book changes in one file (arrays in line order)."""

    file_id: int
    symbol: str
    stream_line: np.ndarray  # int64: the symbol's messages
    stream_time: np.ndarray  # int64: their times (UNKNOWN_TIME when unknown)
    line_no: np.ndarray  # int64: its book changes (a message may make several)
    time_ns: np.ndarray
    side: np.ndarray  # uint8: ord("B") or ord("S")
    price: np.ndarray  # int64 ticks
    d_shares: np.ndarray
    d_orders: np.ndarray

    def cut(self, at_ns: int | None) -> int:
        """The line before which the book at ``at_ns`` is complete (its first message later
        than ``at_ns``; past the last line when there is none, or ``at_ns`` is None)."""
        if at_ns is None:
            return np.iinfo(np.int64).max
        later = np.flatnonzero((self.stream_time != UNKNOWN_TIME) & (self.stream_time > at_ns))
        return int(self.stream_line[later[0]]) if len(later) else np.iinfo(np.int64).max

    @cached_property
    def _levels(self) -> tuple[np.ndarray, ...]:
        """Changes sorted by (side, price, line) with running totals per level."""
        key = self.price * 2 + (self.side == ord("S"))  # one key per (side, price)
        order = by_level(key)  # keeps line order within a level
        k, line = key[order], self.line_no[order]
        first = np.flatnonzero(np.r_[True, k[1:] != k[:-1]]) if len(k) else np.zeros(0, int)
        rank = np.cumsum(np.r_[True, k[1:] != k[:-1]]) - 1 if len(k) else k
        span = int(self.line_no.max()) + 2 if len(k) else 1
        return (k[first], rank * span + line, span,
                np.cumsum(self.d_shares[order]), np.cumsum(self.d_orders[order]), first)

    def levels_at(self, at_ns: int | None, levels: int = 10) -> pd.DataFrame:
        """Depth at ``at_ns`` (None: after every message): [side, price, shares, orders],
        bids best first, then asks; at most ``levels`` a side."""
        keys, sorted_key, span, cum_sh, cum_or, first = self._levels
        cut = min(self.cut(at_ns), span - 1)
        rank = np.arange(len(keys))
        upto = np.searchsorted(sorted_key, rank * span + cut) - 1  # last change before the cut
        base = first - 1  # totals run across levels: subtract what came before each
        has = upto >= first

        def total(cum: np.ndarray) -> np.ndarray:
            at = np.where(has, cum[np.maximum(upto, 0)], 0)
            return at - np.where(base >= 0, cum[np.maximum(base, 0)], 0) * has

        shares, orders = total(cum_sh), total(cum_or)
        live = orders > 0
        side = np.where(keys % 2 == 1, "S", "B")[live]
        price, shares, orders = keys[live] // 2, shares[live], orders[live]
        bids = np.flatnonzero(side == "B")[::-1][:levels]  # keys ascend: best bid last
        asks = np.flatnonzero(side == "S")[:levels]
        pick = np.concatenate([bids, asks]).astype(np.int64)
        return pd.DataFrame({"side": side[pick], "price": price[pick] / PRICE_SCALE,
                             "shares": shares[pick], "orders": orders[pick]})

    def bbo(self) -> pd.DataFrame:
        """One row per message that changes the best bid or offer (price or shares):
        [line_no, time_ns, bid_price, bid_shares, ask_price, ask_shares]; empty side: NA."""
        return self._bbo.copy()

    @cached_property
    def _bbo(self) -> pd.DataFrame:
        return bbo_frame(*best_bid_offer(
            self.line_no, self.time_ns, self.side == ord("B"), self.price, self.d_shares,
            self.d_orders))


def bbo_frame(line: np.ndarray, time: np.ndarray, bid: np.ndarray, bid_sh: np.ndarray,
              ask: np.ndarray, ask_sh: np.ndarray) -> pd.DataFrame:
    """The BBO frame of :meth:`SymbolBook.bbo` from its columns (prices in ticks, an
    empty side with shares -1, times UNKNOWN_TIME when unknown)."""
    def nullable(values: np.ndarray, known: np.ndarray) -> pd.Series:
        return pd.Series(values, dtype="Int64").where(known)

    return pd.DataFrame({
        "line_no": line, "time_ns": nullable(time, time != UNKNOWN_TIME),
        "bid_price": np.where(bid_sh < 0, np.nan, bid / PRICE_SCALE),
        "bid_shares": nullable(bid_sh, bid_sh >= 0),
        "ask_price": np.where(ask_sh < 0, np.nan, ask / PRICE_SCALE),
        "ask_shares": nullable(ask_sh, ask_sh >= 0)})


def load(conn: duckdb.DuckDBPyConnection, symbol: str, file_id: int | None = None
         ) -> SymbolBook:
    """Read one symbol's messages of one file (default: the newest holding it) and replay them."""
    fid = pick_file(conn, symbol, file_id)
    params = {"f": fid, "s": symbol}
    return from_rows(fid, symbol, conn.execute(_SQL, params).fetchnumpy(),
                     conn.execute(_CLEARS_SQL, params).fetchnumpy())


def from_rows(file_id: int, symbol: str, *parts: dict[str, Any]) -> SymbolBook:
    """Replay rows of :data:`_COLUMNS` (``fetchnumpy`` results, in any order: the engine
    sorts what it needs) into the book of ``symbol``."""
    parts = tuple(p for p in parts if len(p["line_no"])) or parts[:1]
    got = {k: np.concatenate([np.asarray(p[k]) for p in parts]) if len(parts) > 1
           else np.asarray(parts[0][k]) for k in parts[0]}
    is_add = got["role"] == ROLE_IDS[Role.ADD]
    a, e = ({k: got[k][mask] for k in names} for mask, names in (
        (is_add, ("line_no", "order_id", "side", "shares", "price", "mine", "unit",
                  "time_ns", "displayed")),
        (~is_add, ("line_no", "order_id", "role", "shares", "price", "remaining", "unit",
                   "time_ns"))))
    adds = Adds.build(symbol=a.pop("mine"), **a)
    events = Events.build(**e)
    return build(file_id, symbol, adds, events)


#: Rows replayed at once: a bigger symbol is replayed one order-id bucket at a time
#: (an order and all its events share one; every bucket sees the unit clears),
#: which bounds the engine's own memory (a few hundred bytes a row).
BUCKET_ROWS = 1_000_000


def build(file_id: int, symbol: str, adds: Adds, events: Events,
          bucket_rows: int | None = None) -> SymbolBook:
    """Replay adds and events of one file; keep the book of the adds whose ``symbol`` is
    true (the others are there because they share an order id with them)."""
    k = max(1, -(-(len(adds) + len(events)) // (bucket_rows or BUCKET_ROWS)))
    clears = np.flatnonzero(events.role == ROLE_IDS[Role.CLEAR_UNIT])
    a_key = (adds.order_id % np.uint64(k)).astype(np.int64)
    e_key = (events.order_id % np.uint64(k)).astype(np.int64)
    e_key[clears] = k  # in no bucket: added to each
    a_order, e_order = np.argsort(a_key, kind="stable"), np.argsort(e_key, kind="stable")
    a_cut = np.searchsorted(a_key[a_order], np.arange(k + 1))
    e_cut = np.searchsorted(e_key[e_order], np.arange(k + 1))
    parts = []
    for j in range(k):  # a loop over buckets, not messages
        ai = a_order[a_cut[j]:a_cut[j + 1]] if k > 1 else np.arange(len(adds))
        ei = np.concatenate([e_order[e_cut[j]:e_cut[j + 1]], clears]) if k > 1 else \
            np.arange(len(events))
        parts.append(_own(take(adds, ai), take(events, ei), ai))
    stream_line, at = np.unique(np.concatenate([p[0] for p in parts]), return_index=True)
    stream_time = np.concatenate([p[1] for p in parts])[at]  # a clear may be in every bucket
    ch = [np.concatenate([p[2][c] for p in parts]) for c in range(7)]
    if k > 1:  # each bucket's rows are in (line, add) order: a stable sort merges them
        span = len(adds) + 1
        key_fits = (int(ch[0].max(initial=0)) + 1) * span < 1 << 63
        order = (np.argsort(ch[0] * span + ch[2], kind="stable") if key_fits
                 else np.lexsort((ch[2], ch[0])))
        ch = [c[order] for c in ch]
    line, time, _, side, price, d_shares, d_orders = ch
    return SymbolBook(file_id, symbol, stream_line, stream_time, line, time, side, price,
                      d_shares, d_orders)


def _own(adds: Adds, events: Events, add_index: np.ndarray) -> tuple[Any, ...]:
    """Replay one bucket: the lines and times of the symbol's own messages (its adds, the
    events applied to its orders, the clears that cancelled one), and its book changes."""
    life = replay(adds, events)
    mine = adds.symbol.astype(bool)
    applied = life.event_add >= 0
    applied[applied] = mine[life.event_add[applied]]
    cleared = np.unique(life.cleared_by[mine & (life.cleared_by >= 0)])
    line = np.concatenate([adds.line_no[mine], events.line_no[applied],
                           events.line_no[cleared]])
    time = np.concatenate([adds.time_ns[mine], events.time_ns[applied],
                           events.time_ns[cleared]])
    c = life.changes
    own = c.symbol.astype(bool)
    return line, time, (c.line_no[own], c.time_ns[own], add_index[c.add[own]], c.side[own],
                        c.price[own], c.d_shares[own], c.d_orders[own])


def book_at(conn: duckdb.DuckDBPyConnection, symbol: str, at_ns: int, levels: int = 10,
            file_id: int | None = None) -> pd.DataFrame:
    """Depth of ``symbol``'s book at ``at_ns`` (ns since midnight): [side, price, shares,
    orders], bids best first, then asks best first, at most ``levels`` a side.

    Reads only the orders live around ``at_ns`` (:mod:`pitch.book_fast`); the same as
    ``load(conn, symbol, file_id).levels_at(at_ns, levels)``."""
    from .book_fast import depth_at  # it builds on this module

    return depth_at(conn, symbol, at_ns, levels, file_id)[1]


def bbo(conn: duckdb.DuckDBPyConnection, symbol: str, file_id: int | None = None
        ) -> pd.DataFrame:
    """Best bid and offer of ``symbol`` over its file: see :meth:`SymbolBook.bbo`.

    Reads most orders from ``orders`` and replays only the others
    (:mod:`pitch.bbo_fast`); the same as ``load(conn, symbol, file_id).bbo()``."""
    from .bbo_fast import series  # it builds on this module

    return series(conn, symbol, file_id)[1]


def trades(conn: duckdb.DuckDBPyConnection, symbol: str, file_id: int, limit: int = 5000
           ) -> tuple[pd.DataFrame, bool]:
    """(the first ``limit`` unbroken executions and trades of a symbol in one file, in time
    order: [time_ns, price, shares], cut?). Those of unknown time are left out."""
    frame = conn.execute("""
        SELECT time_ns, price, shares FROM executions
        WHERE file_id = ? AND symbol = ? AND NOT broken AND time_ns IS NOT NULL
        ORDER BY time_ns, line_no LIMIT ?""", [file_id, symbol, limit + 1]).df()
    return frame.head(limit), len(frame) > limit


def exact(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with prices as exact 4-decimal :class:`~decimal.Decimal` and missing
    values as None: what the CLI and the CSV exports write."""
    out = frame.astype(object).where(frame.notna(), None)
    for col in [c for c in frame.columns if c.endswith("price")]:
        out[col] = [None if pd.isna(v) else Decimal(round(v * PRICE_SCALE)).scaleb(-4)
                    for v in frame[col]]
    return out


def to_csv(frame: pd.DataFrame) -> bytes:
    """CSV bytes of a book or BBO frame, exactly as ``python -m pitch book|bbo --format csv``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(frame.columns)
    writer.writerows(["" if v is None else str(v) for v in row]
                     for row in exact(frame).itertuples(index=False, name=None))
    return out.getvalue().encode()
