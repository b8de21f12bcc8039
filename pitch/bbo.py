"""Best bid and offer after every message, from book changes, without a loop per message.

Each price level is non-empty over intervals of messages (from its running
order count); the best bid after message m is the highest price whose level
covers m. All intervals go into a segment tree over the messages at once (one
pass per tree level: ``log2`` of the message count), a max is pushed down to
the leaves, and the best level's shares are looked up with one
``searchsorted``. The ask is the same with prices negated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NONE = np.iinfo(np.int64).min


def by_level(keys: np.ndarray) -> np.ndarray:
    """The stable order of ``keys`` (price levels: few distinct values among many rows):
    a radix sort of their ranks, about twice as fast as sorting the keys."""
    ranks, levels = pd.factorize(keys, sort=True)
    if len(levels) <= 1 << 16:
        return np.argsort(ranks.astype(np.uint16), kind="stable")
    return np.argsort(keys, kind="stable")


def best_bid_offer(line: np.ndarray, time: np.ndarray, is_bid: np.ndarray, price: np.ndarray,
                   d_shares: np.ndarray, d_orders: np.ndarray) -> tuple[np.ndarray, ...]:
    """(line, time, bid, bid shares, ask, ask shares) of each message that changes them.

    Inputs are book changes in line order (a message may make several). An empty
    side has price 0 and shares -1.
    """
    if not len(line):
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, empty, empty, empty
    new = np.r_[True, line[1:] != line[:-1]]
    msg = np.cumsum(new) - 1
    n = int(msg[-1]) + 1
    bid, bid_sh = _best(msg[is_bid], n, price[is_bid], d_shares[is_bid], d_orders[is_bid])
    ask, ask_sh = _best(msg[~is_bid], n, -price[~is_bid], d_shares[~is_bid], d_orders[~is_bid])
    top = np.stack([bid, bid_sh, -ask, ask_sh])
    before = np.concatenate([[[0], [-1], [0], [-1]], top[:, :-1]], axis=1)
    changed = np.any(top != before, axis=0)
    return (line[new][changed], time[new][changed], *top[:, changed])


def _best(msg: np.ndarray, n: int, value: np.ndarray, d_sh: np.ndarray, d_or: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Per message 0..n-1, the highest ``value`` with orders on its level and its shares
    (0 and -1 when none)."""
    order = by_level(value)  # by level, messages ascending within
    v, m = value[order], msg[order]
    level_start = np.r_[True, v[1:] != v[:-1]] if len(v) else np.zeros(0, bool)
    level = np.cumsum(level_start) - 1
    first = np.flatnonzero(level_start)
    cum_sh, cum_or = np.cumsum(d_sh[order]), np.cumsum(d_or[order])
    shares = cum_sh - np.r_[0, cum_sh][first][level]
    orders = cum_or - np.r_[0, cum_or][first][level]
    # The level as it is after each message: the last change of each (level, message).
    last = np.r_[(v[1:] != v[:-1]) | (m[1:] != m[:-1]), True] if len(v) else level_start
    v, m, shares, orders, level = v[last], m[last], shares[last], orders[last], level[last]
    active = orders > 0
    was = np.r_[False, active[:-1]] & ~np.r_[True, v[1:] != v[:-1]] if len(v) else active
    starts, ends = np.flatnonzero(active & ~was), np.flatnonzero(~active & was)
    # Each start's interval runs to the next end if it is on the same level, else to n.
    j = np.searchsorted(ends, starts)
    closed = j < len(ends)
    closed[closed] = v[ends[j[closed]]] == v[starts[closed]]
    hi = np.where(closed, m[ends[np.minimum(j, max(len(ends) - 1, 0))]] if len(ends) else n, n)
    best = _stab_max(m[starts], hi, v[starts], n)
    # Shares of the best level after message k: its last row at or before k.
    level_value = v[np.r_[True, v[1:] != v[:-1]]] if len(v) else v
    found = best != NONE
    rank = np.searchsorted(level_value, best[found])
    row = np.searchsorted(level * (n + 1) + m, rank * (n + 1) + np.flatnonzero(found),
                          side="right") - 1
    out_sh = np.full(n, -1, np.int64)
    out_sh[found] = shares[row]
    return np.where(found, best, 0), out_sh


def _stab_max(lo: np.ndarray, hi: np.ndarray, value: np.ndarray, n: int) -> np.ndarray:
    """Per point 0..n-1, the max ``value`` of the intervals [lo, hi) covering it (NONE)."""
    size = 1 << max(0, (n - 1).bit_length())
    tree = np.full(2 * size, NONE, np.int64)
    keep = lo < hi
    left, right, value = lo[keep] + size, hi[keep] + size, value[keep]
    while len(left):  # the bottom-up walk of an iterative segment tree, every interval at once
        odd = (left & 1) == 1
        np.maximum.at(tree, left[odd], value[odd])
        left = left + odd
        odd = (right & 1) == 1
        right = right - odd
        np.maximum.at(tree, right[odd], value[odd])
        left, right = left >> 1, right >> 1
        keep = left < right
        left, right, value = left[keep], right[keep], value[keep]
    width = 2
    while width <= size:  # push each node's max down to its children
        tree[width:2 * width] = np.maximum(tree[width:2 * width],
                                           np.repeat(tree[width // 2:width], 2))
        width *= 2
    return tree[size:size + n]
