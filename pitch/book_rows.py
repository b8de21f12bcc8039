"""Changes of the book, in line order, from the order states :mod:`pitch.lifecycle` computes.

The engine works in order groups (each add then its events); the book wants
line order. Each applied entry gives at most two rows (an "old" one where the
order shrinks or leaves, a "new" one where it arrives), put back in line order
with a flag per line position and two ``searchsorted`` merges: no sort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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



def book_rows(displayed: np.ndarray, symbol: np.ndarray, side: np.ndarray,
              x: dict[str, np.ndarray], n_pos: int, clears: dict[str, np.ndarray]) -> Changes:
    """Book rows in line order from the engine's entries (``x``, in order groups; per
    add: ``displayed``, ``symbol``, ``side``): per applied entry an "old" row (the
    order shrinks or leaves at its old price) and a "new" row (it arrives at its new
    price); then the rows of the orders unit clears cancelled (``clears``, per add)."""
    mod, r_before, r_after = x["mod"], x["r_before"], x["r_after"]
    shown = x["applied"] & displayed[x["add"]]
    ends = r_after <= 0
    old_sh = np.maximum(r_after, 0) * ~mod - r_before
    old_or = -(mod | ends).astype(np.int64)
    old = shown & ~x["start"] & ((old_sh != 0) | (old_or != 0))
    new = shown & (x["start"] | mod) & ~ends
    entry = np.empty(n_pos, np.int64)  # entry at each line position
    entry[x["at"]] = np.arange(len(x["at"]))

    def in_line_order(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flag = np.zeros(n_pos, bool)
        flag[x["at"][mask]] = True
        where = np.flatnonzero(flag)
        return where, entry[where]

    (p_old, e_old), (p_new, e_new) = in_line_order(old), in_line_order(new)
    # Old before new at the same position (a modify leaves, then comes back).
    to_old = np.arange(len(p_old)) + np.searchsorted(p_new, p_old, side="left")
    to_new = np.arange(len(p_new)) + np.searchsorted(p_old, p_new, side="right")
    rows: dict[str, np.ndarray] = {}
    for name, of_old, of_new in (
            ("line", x["line"], x["line"]), ("time", x["time"], x["time"]),
            ("add", x["add"], x["add"]), ("price", x["p_before"], x["p_after"]),
            ("d_shares", old_sh, r_after), ("d_orders", old_or, None)):
        column = np.empty(len(p_old) + len(p_new), np.int64)
        column[to_old] = of_old[e_old]
        column[to_new] = 1 if of_new is None else of_new[e_new]
        rows[name] = column
    gone = np.flatnonzero(clears["cleared"] & displayed)
    if len(gone):  # one row per displayed order cancelled, by (line, add)
        c = {name: values[gone] for name, values in clears.items()}
        by = np.lexsort((gone, c["line"]))
        extra = {"line": c["line"], "time": c["time"], "add": gone, "price": c["p_end"],
                 "d_shares": -c["r_end"], "d_orders": np.full(len(gone), -1, np.int64)}
        at = np.searchsorted(rows["line"], c["line"][by])  # a clear's line is no entry's
        rows = {name: np.insert(rows[name], at, extra[name][by]) for name in rows}
    a = rows["add"]
    return Changes(line_no=rows["line"], time_ns=rows["time"], add=a, symbol=symbol[a],
                   side=side[a], price=rows["price"], d_shares=rows["d_shares"],
                   d_orders=rows["d_orders"])
