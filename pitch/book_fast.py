"""The book of one symbol at one instant, from the orders live around it (issue 13's 300 ms).

:func:`pitch.book.load` replays every message of a symbol: seconds for the
busiest one of a 10M-message file. The depth at one instant T needs only the
orders that may be live then, which ``orders.end_line_no`` tells (the line of
the message that ended the order, never before the engine's end; NULL while
open, or in a database written before it existed):

- **W**, the file's first line whose time is later than T: every line before
  it is at T or before, or of unknown time, so none is the cut (the symbol's
  first message later than T, :meth:`pitch.book.SymbolBook.cut`): the cut is
  at W or after;
- **L0**, the symbol's first add later than T: the cut is at L0 or before;
- the **candidates**: the symbol's orders added before L0 whose end is not
  before W, or unknown. An order live at the cut ends at the cut or later,
  so it is one. Any other order ended before W: it adds nothing to the book
  at the cut, and none of its messages, all before W, is the cut.

A **quiet** candidate (``events = 0`` and shares left: nothing ever touched it,
not even a unit clear, so it is open to the end of the file) rests on the book
as it was added, and its add is not the cut (it is before L0). The other,
**active** candidates are replayed by the same engine (:func:`pitch.book.build`)
from every add and order event of their order ids between the first one's add
(``lo``) and L0 (other symbols' adds too: they take an id's events while they
are live), and the unit clears before L0. Every order replayed sees the
messages it sees in the full replay up to L0: its events follow its add and
carry its id, and the latest add of an id before an event is among the rows
whenever that event's order is. An event whose add came before ``lo`` is left
out: its order is no active candidate (nor a quiet one, which has no event), so
it ended before W or is another symbol's. Only the active candidates count as
the symbol's in the replay (its other orders there ended before W, or are the
quiet ones, counted apart). So the cut is the same message (an event of an
active candidate, or L0), and the book there is the same: the states of the
orders live then.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from . import book
from .layouts import PRICE_SCALE, TEXT, Role, codes
from .lifecycle import ORDER_ROLES, ROLE_IDS
from .store import registered, sql_list

_NEVER = np.iinfo(np.int64).max
#: L0, then W (NULL: no such line). W is at or before L0 (a line later than T): that
#: bound lets DuckDB skip the row groups after it (a sixth of the time, early in a day).
_L0_SQL = """SELECT min(line_no) FROM orders
WHERE file_id = $f AND symbol = $s AND first_time_ns > $t"""
_W_SQL = """SELECT min(line_no) FROM messages
WHERE file_id = $f AND time_ns > $t AND line_no <= $l0"""
#: The candidates (``quiet``: untouched from its add to the end of the file), but the
#: quiet ones before W that are displayed come summed by price level, at line 0 (they
#: all count, and the busiest symbol has a hundred thousand).
_CANDIDATES_SQL = f"""
WITH c AS (
  SELECT line_no, order_id, coalesce(events = 0 AND remaining_shares > 0, false) AS quiet,
         coalesce(first_time_ns, {book.UNKNOWN_TIME}) AS time_ns,
         ascii(side)::UTINYINT AS side, (price * {PRICE_SCALE})::BIGINT AS price, shares
  FROM orders WHERE file_id = $f AND symbol = $s AND line_no < $l0
    AND (end_line_no IS NULL OR end_line_no >= $w))
SELECT *, 1::BIGINT AS orders FROM c
WHERE NOT quiet OR line_no >= $w OR line_no IN (FROM _pitch_book_hidden)
UNION ALL
SELECT 0, 0::UBIGINT, true, {book.UNKNOWN_TIME}, side, price, sum(shares)::BIGINT, count(*) FROM c
WHERE quiet AND line_no < $w AND line_no NOT IN (FROM _pitch_book_hidden)
GROUP BY side, price"""
#: The symbol's text adds not displayed, before L0 (binary adds all are). Zone maps
#: skip every row group whose adds all say 'Y' (a text add always has a display code).
_HIDDEN_SQL = f"""SELECT line_no FROM messages WHERE file_id = $f AND symbol = $s
  AND type IN ({sql_list(codes(Role.ADD, feed=TEXT))}) AND display <> 'Y' AND line_no < $hi"""
#: The ids' adds and events in [lo, hi): a bound line range lets DuckDB skip the row
#: groups outside it; symbol and display are not read (see :func:`symbol_book`).
_ROWS_SQL = f"""SELECT {book.FIELDS} FROM messages WHERE file_id = $f
  AND line_no >= $lo AND line_no < $hi AND type IN ({sql_list(codes(Role.ADD, *ORDER_ROLES))})
  AND order_id IN (FROM _pitch_book_ids)"""
_CLEARS_SQL = f"""SELECT {book.FIELDS} FROM messages WHERE file_id = $f
  AND type IN ({sql_list(codes(Role.CLEAR_UNIT))}) AND line_no < $hi"""


def bounds(conn: duckdb.DuckDBPyConnection, file_id: int, symbol: str, at_ns: int | None
           ) -> tuple[int, int]:
    """(W, L0) of the module docstring; past every line when there is none (or no T)."""
    if at_ns is None:
        return _NEVER, _NEVER
    l0 = conn.execute(_L0_SQL, {"f": file_id, "s": symbol, "t": at_ns}).fetchall()[0][0]
    l0 = _NEVER if l0 is None else int(l0)
    w = conn.execute(_W_SQL, {"f": file_id, "t": at_ns, "l0": l0}).fetchall()[0][0]
    return (_NEVER if w is None else int(w)), l0


def symbol_book(conn: duckdb.DuckDBPyConnection, file_id: int, symbol: str,
                at_ns: int | None) -> book.SymbolBook:
    """A book of ``symbol`` made of the orders that may be live at ``at_ns`` (None: after
    every message). Its :meth:`~pitch.book.SymbolBook.levels_at` at ``at_ns``, and only
    there, is the full replay's (:func:`pitch.book.load`)."""
    w, l0 = bounds(conn, file_id, symbol, at_ns)
    hidden = np.asarray(conn.execute(_HIDDEN_SQL, {"f": file_id, "s": symbol, "hi": l0})
                        .fetchnumpy()["line_no"])
    with registered(conn, "_pitch_book_hidden", pa.table({"line_no": hidden})):
        cand = {k: np.asarray(v) for k, v in conn.execute(
            _CANDIDATES_SQL, {"f": file_id, "s": symbol, "l0": l0, "w": w}).fetchnumpy().items()}
    quiet = cand["quiet"].astype(bool)
    active = cand["line_no"][~quiet]
    lo = int(active.min()) if len(active) else l0
    ids = pa.table({"order_id": pa.array(np.unique(cand["order_id"][~quiet]), pa.uint64())})
    with registered(conn, "_pitch_book_ids", ids):
        rows = conn.execute(_ROWS_SQL, {"f": file_id, "lo": lo, "hi": l0}).fetchnumpy()
    clears = conn.execute(_CLEARS_SQL, {"f": file_id, "hi": l0}).fetchnumpy()
    got = {k: np.concatenate([np.asarray(rows[k]), np.asarray(clears[k])]) for k in rows}
    is_add = got["role"] == ROLE_IDS[Role.ADD]
    got["mine"] = is_add & np.isin(got["line_no"], active)  # only candidates: see above
    got["displayed"] = ~np.isin(got["line_no"], hidden)  # (used for adds only)
    replayed = book.from_rows(file_id, symbol, got)
    return _with_resting(replayed, {k: v[quiet] for k, v in cand.items()}, hidden)


def _with_resting(sb: book.SymbolBook, q: dict[str, np.ndarray], hidden: np.ndarray
                  ) -> book.SymbolBook:
    """``sb`` with the quiet orders ``q`` (or their sums by level, at line 0): their
    adds in its stream, and their arrival on the book unless ``hidden``, in line order."""
    shown = ~np.isin(q["line_no"], hidden)
    line = np.concatenate([sb.line_no, q["line_no"][shown]])
    order = np.argsort(line, kind="stable")

    def changes(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
        return np.concatenate([mine, theirs[shown].astype(mine.dtype)])[order]

    alone = q["line_no"] > 0
    stream = np.concatenate([sb.stream_line, q["line_no"][alone]])
    in_stream = np.argsort(stream, kind="stable")
    return book.SymbolBook(
        sb.file_id, sb.symbol, stream[in_stream],
        np.concatenate([sb.stream_time, q["time_ns"][alone]])[in_stream], line[order],
        changes(sb.time_ns, q["time_ns"]), changes(sb.side, q["side"]),
        changes(sb.price, q["price"]), changes(sb.d_shares, q["shares"]),
        changes(sb.d_orders, q["orders"]))


def depth_at(conn: duckdb.DuckDBPyConnection, symbol: str, at_ns: int | None,
             levels: int = 10, file_id: int | None = None) -> tuple[int, pd.DataFrame]:
    """(the file read, the depth of ``symbol`` at ``at_ns``): what
    ``book.load(conn, symbol, file_id).levels_at(at_ns, levels)`` gives, read faster."""
    fid = book.pick_file(conn, symbol, file_id)
    return fid, symbol_book(conn, fid, symbol, at_ns).levels_at(at_ns, levels)
