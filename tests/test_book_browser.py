"""The Book page in a real browser: `streamlit run app.py`, headless Debian chromium.

The app starts on a database holding the real sample. From the Symbols page's
link the Book page opens with the symbol in its URL; a shared URL with an
instant opens the same view; the depth table and the BBO CSV download hold
what pitch.book says. A screenshot goes to test-output/screenshots/7-book.png.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from browser_support import CHROMIUM, FLAGS, streamlit_server
from pitch import book, ingest, store
from test_e2e_browser import OUT, grid_text, settle

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    from conftest import SHARED_SAMPLE

    tmp = tmp_path_factory.mktemp("book-e2e")
    db = tmp / "book.duckdb"
    conn = store.connect(db)
    ingest.ingest_path(conn, SHARED_SAMPLE)
    expected = {"bbo": book.bbo(conn, "SPY"),
                "depth": book.book_at(conn, "SPY", book.parse_time("08:01:30.250"), 10)}
    conn.close()  # the server opens the file itself
    env = {"PITCH_DB": str(db), "PITCH_INBOX": str(tmp / "inbox"), "PITCH_NO_SAMPLE": "1"}
    with streamlit_server(tmp, env) as url:
        yield url, expected


@pytest.fixture(scope="module")
def page(loaded):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run ./run-tests.sh"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                      accept_downloads=True)
        pg = context.new_page()
        pg.set_default_timeout(60_000)
        yield pg
        browser.close()


def test_symbols_links_to_the_book_with_the_symbol_in_the_url(loaded, page) -> None:
    url, _ = loaded
    page.goto(f"{url}/symbols?symbol=SPY")
    settle(page, expect="Order book of SPY")
    page.get_by_text("Order book of SPY").click()
    settle(page, expect="SPY: best bid and offer")
    assert urlparse(page.url).path.endswith("/book")
    assert parse_qs(urlparse(page.url).query).get("symbol") == ["SPY"]
    assert "SPY: depth at the end of the session" in page.content()


def test_a_shared_url_opens_the_same_view_and_its_csv_holds_the_bbo(loaded, page,
                                                                    tmp_path) -> None:
    url, expected = loaded
    page.goto(f"{url}/book?symbol=SPY&at=08:01:30.250")
    settle(page, expect="SPY: depth at 08:01:30.250")
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 2
    cells = grid_text(page)
    for row in expected["depth"].itertuples():
        # Numbers stay numbers in the grid (formatted on its canvas): its hidden cells
        # hold the plain value.
        shown = (f"{row.price:,.4f}", f"{row.price:g}")
        assert any(f"| {p} | {row.shares} | {row.orders} |" in f"| {cells} |" for p in shown), \
            (row, cells[:500])
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("CSV of all .* changes")).click()
    path = tmp_path / "bbo.csv"
    info.value.save_as(path)
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["line_no", "time_ns", "bid_price", "bid_shares", "ask_price",
                       "ask_shares"]
    assert len(rows) - 1 == len(expected["bbo"])
    assert path.read_bytes() == book.to_csv(expected["bbo"])
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / "7-book.png"), full_page=True)
