"""The best bid and offer by price level (pitch.top_of_book) equals bbo.best_bid_offer.

``top_of_book.top_changes`` derives the best bid and offer from book changes
in any order; ``bbo.best_bid_offer``, the full replay's derivation, from
changes in line order. Random changes: lines with several rows, few or many
levels, counts that go below zero, shuffled.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pitch import bbo, top_of_book


# --- top_changes against best_bid_offer ---------------------------------------------------

def changes(rng: np.random.Generator, n: int, lines: int, prices: int, scale: int = 1,
            sorted_: bool = True) -> tuple[np.ndarray, ...]:
    """Random book changes: lines with several rows, few price levels, orders coming
    and going (a level's count may even go below 0: both sides read only > 0)."""
    line = np.sort(rng.integers(0, lines, n)) * scale
    is_bid = rng.random(n) < 0.5
    price = rng.integers(0, prices, n) * 100 + 10_000
    d_orders = rng.choice([-1, 0, 1, 1], n)
    d_shares = rng.integers(-300, 300, n) * (d_orders != 0) + rng.integers(-5, 6, n)
    out = (line, is_bid, price, d_shares, d_orders)
    return out if sorted_ else tuple(c[rng.permutation(n)] for c in out)


def assert_top_equal(line, is_bid, price, d_shares, d_orders, shuffle_seed: int = 0) -> None:
    want = bbo.best_bid_offer(line, line * 3, is_bid, price, d_shares, d_orders)
    mix = np.random.default_rng(shuffle_seed).permutation(len(line))
    got = top_of_book.top_changes(line[mix], is_bid[mix], price[mix], d_shares[mix],
                                  d_orders[mix])
    for name, w, g in zip(("line", "bid", "bid shares", "ask", "ask shares"),
                          (want[0], *want[2:]), got):
        np.testing.assert_array_equal(g, w, err_msg=name)


@pytest.mark.parametrize("seed", range(8))
def test_top_changes_equals_best_bid_offer(seed: int) -> None:
    rng = np.random.default_rng(seed)
    assert_top_equal(*changes(rng, 5000, 1500, [3, 12, 40, 400][seed % 4]), shuffle_seed=seed)


def test_top_changes_without_packing() -> None:
    """Lines too long for the packed sort, order changes other than -1/0/1, prices too
    far apart to pack: the lexsort road gives the same."""
    rng = np.random.default_rng(5)
    line, is_bid, price, d_shares, d_orders = changes(rng, 3000, 800, 30, scale=1 << 40)
    assert_top_equal(line, is_bid, price, d_shares, d_orders)
    assert_top_equal(line // (1 << 40), is_bid, price, d_shares, d_orders * 2)
    assert_top_equal(line // (1 << 40), is_bid, price * (1 << 40), d_shares, d_orders)


def test_top_changes_on_nothing_and_one_side() -> None:
    empty = np.zeros(0, np.int64)
    assert all(len(c) == 0 for c in top_of_book.top_changes(empty, empty.astype(bool), empty,
                                                            empty, empty))
    one = np.array([5, 7, 9])
    assert_top_equal(one, np.array([True] * 3), np.array([100, 200, 100]),
                     np.array([10, 20, -10]), np.array([1, 1, -1]))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 60), st.integers(1, 20), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_small_random_changes(n: int, lines: int, prices: int, seed: int) -> None:
    assert_top_equal(*changes(np.random.default_rng(seed), n, lines, prices), shuffle_seed=seed)
