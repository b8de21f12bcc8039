"""Best bid and offer changes from book changes given in any order, by price level.

What :func:`pitch.bbo.best_bid_offer` gives (less the times), by another road,
for the fast series of :mod:`pitch.bbo_fast`, whose changes come from several
sources and are not in line order:

- one sort of packed integers, (side and price level, line, row, order
  change): numpy sorts plain integers several times faster than it argsorts
  them, and the order changes come out in level order without a gather;
- a level is not empty over a few long intervals of lines (a busy level
  seldom empties), so the best price is a stab max over the intervals' ends
  only, not over every message;
- the best level's shares can change only at a line that changes that level:
  shares are summed only for the levels that are ever best, and only their
  rows, and the lines where the best price moves, are candidates; both sides
  are read at each candidate and the lines that change either are kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .bbo import NONE, _stab_max


def top_changes(line: np.ndarray, is_bid: np.ndarray, price: np.ndarray, d_shares: np.ndarray,
                d_orders: np.ndarray) -> tuple[np.ndarray, ...]:
    """(line, bid, bid shares, ask, ask shares) of each line that changes the best bid or
    offer, from book changes (int64 but ``is_bid``) in any order; a line may make several.
    Lines are non-negative. An empty side has price 0 and shares -1."""
    n = len(line)
    if not n:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, empty, empty
    codes, prices = pd.factorize(price, sort=True)
    k = len(prices)
    level = codes.astype(np.int64) + (~is_bid) * k  # bids 0..k-1, asks k..2k-1
    lev, m, idx, d_or = _by_level_and_line(level, line, d_orders, 2 * k)
    first = _starts(lev)
    # Each level after each line that changes it: the last row of (level, line).
    last = np.r_[first[1:] | (m[1:] != m[:-1]), True]
    orders = _running(d_or, first)
    end = int(line.max()) + 1
    sides = []
    for ask in (False, True):
        a, z = np.searchsorted(lev, [k * ask, k * (ask + 1)])  # each side is a slice
        sides.append(_side(lev[a:z], m[a:z], orders[a:z], last[a:z], idx[a:z],
                           prices, k * ask, d_shares, end, ask))
    # Both sides at every candidate of either; keep the lines that change them.
    at = np.unique(np.concatenate([sides[0][0], sides[1][0]]))
    top = []
    for cand, best, best_sh in sides:
        j = np.searchsorted(cand, at, side="right") - 1
        top += [np.where(j >= 0, best[j], 0), np.where(j >= 0, best_sh[j], -1)]
    state = np.stack(top)
    before = np.concatenate([[[0], [-1], [0], [-1]], state[:, :-1]], axis=1)
    changed = np.any(state != before, axis=0)
    return (at[changed], *state[:, changed])


def _by_level_and_line(level: np.ndarray, line: np.ndarray, d_orders: np.ndarray,
                       levels: int) -> tuple[np.ndarray, ...]:
    """(level, line, row, order change) of every row, sorted by level, then line: one
    sort of packed integers when they fit in 63 bits (and order changes are -1, 0 or
    1), else a lexsort."""
    n = len(level)
    ib, lb = (n - 1).bit_length(), int(line.max()).bit_length()
    vb = (levels - 1).bit_length()
    if (vb + lb + ib + 2 <= 63 and int(line.min()) >= 0 and int(d_orders.min()) >= -1
            and int(d_orders.max()) <= 1):
        packed = np.sort((level << (lb + ib + 2)) | (line << (ib + 2))
                         | (np.arange(n) << 2) | (d_orders + 1))
        return (packed >> (lb + ib + 2), (packed >> (ib + 2)) & ((1 << lb) - 1),
                (packed >> 2) & ((1 << ib) - 1), (packed & 3) - 1)
    idx = np.lexsort((line, level))
    return level[idx], line[idx], idx, d_orders[idx]


def _side(lev: np.ndarray, m: np.ndarray, orders: np.ndarray, last: np.ndarray,
          idx: np.ndarray, prices: np.ndarray, base: int,
          d_shares: np.ndarray, end: int, ask: bool) -> tuple[np.ndarray, ...]:
    """One side's (candidate lines, best price there, its shares), sorted, from its rows
    sorted by level (``base`` + index into ``prices``), then line: every line where the
    best price or its shares may change. ``orders``: the level's orders after each row;
    ``last``: the row is its level's last on its line."""
    sign = -1 if ask else 1  # the best is the highest of sign * price
    active = orders > 0
    # A level is not empty from a line whose last row leaves orders on it to the next
    # line whose last row leaves none (or to the end).
    state = np.flatnonzero(last)
    on, s_lev = active[state], lev[state]
    was = np.r_[False, on[:-1]][:len(on)] & ~_starts(s_lev)
    flips = state[on != was]  # per level: start, end, start, ...
    s = flips[active[flips]]
    nxt = np.searchsorted(flips, s, side="right")
    closed = nxt < len(flips)
    closed[closed] = lev[flips[nxt[closed]]] == lev[s[closed]]
    lo, hi = m[s], np.full(len(s), end, np.int64)
    hi[closed] = m[flips[nxt[closed]]]
    value = sign * prices[lev[s] - base]
    points = np.unique(np.r_[lo, hi, 0])
    best = _stab_max(np.searchsorted(points, lo), np.searchsorted(points, hi), value,
                     len(points))  # the best over lines [points[j], points[j + 1])
    moved = np.r_[True, best[1:] != best[:-1]] & (points < end)
    # Shares only of the levels that are ever best: their rows, summed per level.
    ever = np.zeros(len(prices), bool)
    ever[np.searchsorted(prices, sign * best[best != NONE])] = True
    rows = np.flatnonzero(ever[lev - base])
    head = _starts(lev[rows])
    shares = _running(d_shares[idx[rows]], head)
    keep = last[rows]
    rows, shares, dense = rows[keep], shares[keep], (np.cumsum(head) - 1)[keep]
    r_lev, r_m = lev[rows], m[rows]
    j = np.searchsorted(points, r_m, side="right") - 1
    on_best = active[rows] & (best[j] == sign * prices[r_lev - base])
    # Where the best moved to a level that did not change on that line: its last state.
    moved_to = best[moved]
    known = moved_to != NONE
    target = np.searchsorted(prices, sign * moved_to[known]) + base
    target = dense[np.searchsorted(r_lev, target)]  # a level that is ever best has rows
    row = np.searchsorted(dense * end + r_m, target * end + points[moved][known],
                          side="right") - 1
    moved_sh = np.full(len(moved_to), -1, np.int64)
    moved_sh[known] = shares[row]
    cand = np.r_[points[moved], r_m[on_best]]
    at, pick = np.unique(cand, return_index=True)
    best_price = np.r_[np.where(known, sign * moved_to, 0), prices[r_lev[on_best] - base]]
    return at, best_price[pick], np.r_[moved_sh, shares[on_best]][pick]


def _running(step: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Running sums of ``step`` that start again at each ``first`` row (np.repeat of
    each run's base: sequential, unlike a gather per row)."""
    cum = np.cumsum(step)
    starts = np.flatnonzero(first)
    base = (cum - step)[starts]
    return cum - np.repeat(base, np.diff(np.r_[starts, len(step)]))


def _starts(keys: np.ndarray) -> np.ndarray:
    """Whether each of sorted ``keys`` is the first of its run."""
    out = np.ones(len(keys), bool)
    np.not_equal(keys[1:], keys[:-1], out=out[1:])
    return out
