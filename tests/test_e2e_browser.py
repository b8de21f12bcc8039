"""End to end in a real browser: `streamlit run app.py`, headless Debian chromium.

Starts the app on a free local port with a temporary database, uploads the
real sample through the page, checks the counts, visits every page, downloads
the Messages CSV and checks its rows, and saves a screenshot of each page
under test-output/screenshots/ (the README's pictures come from there). Then
opens views by URL and follows a drill-down link. Last, uploads a binary
Multicast PITCH capture and checks its types, decimal ids and CSV.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from browser_support import CHROMIUM, FLAGS, streamlit_server

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test-output" / "screenshots"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    env = {"PITCH_DB": str(tmp / "e2e.duckdb"), "PITCH_INBOX": str(tmp / "inbox"),
           "PITCH_NO_SAMPLE": "1"}
    with streamlit_server(tmp, env) as url:
        yield url


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run ./run-tests.sh"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        pg = context.new_page()
        pg.set_default_timeout(60_000)
        pg.goto(server)
        settle(pg)
        yield pg
        browser.close()


def settle(pg, expect: str | None = None) -> None:
    """Wait until the script has finished (and, if given, some text is on the page)."""
    pg.wait_for_selector('[data-testid="stApp"]')
    if expect:
        pg.wait_for_function("t => document.body.innerText.includes(t)", arg=expect)
    for _ in range(3):  # the idle state can match just before a rerun starts
        pg.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
        pg.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")
        pg.wait_for_timeout(300)
    assert pg.locator('[data-testid="stException"]').count() == 0, exception_text(pg)


def exception_text(pg) -> str:
    return "\n".join(pg.locator('[data-testid="stException"]').all_inner_texts())[:2000]


def nav_links(pg) -> dict[str, object]:
    links = pg.locator('[data-testid="stSidebarNav"] a')
    return {links.nth(i).inner_text().strip(): links.nth(i) for i in range(links.count())}


def go(pg, title: str) -> None:
    links = nav_links(pg)
    name = next(n for n in links if title.lower() in n.lower())
    links[name].click()
    settle(pg, expect=None)


def shot(pg, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(OUT / f"{name}.png"), full_page=True)


def grid_text(pg) -> str:
    cells = pg.locator('[data-testid="stDataFrame"] td[role="gridcell"]')
    return " | ".join(cells.all_inner_texts())


def test_upload_then_every_page(page, real_sample, tmp_path) -> None:
    pg = page
    assert len(nav_links(pg)) >= 6
    go(pg, "Ingest")
    pg.locator('input[type="file"]').first.set_input_files(str(real_sample))
    settle(pg, expect="pitch_data.txt: 20,000 messages")
    shot(pg, "5-ingest")

    go(pg, "Overview")
    html = pg.content() + grid_text(pg)
    for number in ("10,361", "9,592", "20,000"):
        assert number in html, number
    # The grid's cells hold the numbers (it draws them with separators: "10,361").
    counts = {name: int(n.replace(",", "")) for name, n in re.findall(
        r"(Add Order \(Short\)|Order Cancel|Trade \(Short\)|Order Executed)\D{0,40}?([\d,]+)",
        grid_text(pg))}
    assert counts == {"Add Order (Short)": 10_361, "Order Cancel": 9_592,
                      "Trade (Short)": 27, "Order Executed": 20}, grid_text(pg)[:2000]
    assert pg.locator('[data-testid="stPlotlyChart"]').count() >= 2
    shot(pg, "1-overview")

    go(pg, "Messages")
    assert "20,000" in pg.content()
    with pg.expect_download() as info:
        pg.get_by_role("button", name=re.compile("CSV", re.I)).first.click()
    path = tmp_path / "messages.csv"
    info.value.save_as(path)
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 20_000
    assert Counter(r["type"] for r in rows) == {"A": 10_361, "X": 9_592, "P": 27, "E": 20}
    first = next(r for r in rows if r["line_no"] == "1")
    assert (first["symbol"], first["side"], first["shares"], first["price"]) == ("SH", "S", "100", "61.9200")
    assert first["order_id"] == "AK27GA0000DT"
    shot(pg, "2-messages")

    for title, name in (("Orders", "3-orders"), ("Symbols", "4-symbols"), ("SQL", "6-sql")):
        go(pg, title)
        assert pg.locator('[data-testid="stException"]').count() == 0, exception_text(pg)
        shot(pg, name)


def test_links_and_urls_carry_the_view(page, server) -> None:
    """A shared URL opens its view; a drill-down link lands on its target's URL; a filter
    change writes the URL; message types travel as codes. (After the upload above.)"""
    pg = page
    assert pg.locator('[data-testid="stAppDeployButton"]').count() == 0  # toolbarMode viewer

    pg.goto(f"{server}/messages?type=P")
    settle(pg, expect="Trade (Short) messages: 27")
    assert "Trade (Short)" in pg.locator('[data-testid="stMultiSelect"]').first.inner_text()
    pg.get_by_role("radio", name="Buy", exact=True).click()
    settle(pg, expect="Trade (Short) messages on the buy side")
    query = parse_qs(urlsplit(pg.url).query)
    assert query["type"] == ["P"] and query["side"] == ["Buy"], pg.url
    pg.go_back()  # back to the URL without the side, and so to the view without it
    settle(pg, expect="Trade (Short) messages: 27")
    assert parse_qs(urlsplit(pg.url).query) == {"type": ["P"]}, pg.url

    pg.goto(f"{server}/orders?order=AK27GA0000DT&file=1")  # one match: its lifecycle opens
    settle(pg, expect="Order AK27GA0000DT: sell 100 SH @ 61.9200")
    link = pg.get_by_role("link", name=re.compile("Its messages"))
    assert parse_qs(urlsplit(link.get_attribute("href")).query) == {
        "order": ["AK27GA0000DT"], "file": ["1"]}
    link.click()
    settle(pg, expect="All messages of order AK27GA0000DT in file pitch_data.txt: 2")
    assert urlsplit(pg.url).path.endswith("/messages"), pg.url
    assert parse_qs(urlsplit(pg.url).query) == {"order": ["AK27GA0000DT"], "file": ["1"]}
    pg.go_back()  # the browser's history holds views too
    settle(pg, expect="Order AK27GA0000DT: sell 100 SH @ 61.9200")
    assert urlsplit(pg.url).path.endswith("/orders"), pg.url


BATS = ROOT.parent / "shared" / "binary" / "bats_mcastpitch_realtime.pcap"
BATS_TYPES = {"Time": 19, "Add Order Long": 4, "Add Order Short": 3, "Order Executed": 3,
              "Reduce Size Short": 2, "Modify Order Long": 1, "Modify Order Short": 1,
              "Delete Order": 4, "Trade Long": 2, "Trade Short": 1}


def test_a_binary_capture_uploads_and_shows(page, server, tmp_path) -> None:
    """Cboe's own capture (40 messages of unit 1) through the uploader: its type names on
    Overview, its messages with their frame numbers and decimal ids, its CSV. (Runs last:
    the pages above count the text file alone.)"""
    from pitch import ingest, store

    conn = store.connect(tmp_path / "expected.duckdb")  # what the page must show, read here
    ingest.ingest_path(conn, BATS)
    adds = conn.execute("SELECT order_id FROM messages WHERE type = '0x21' ORDER BY line_no"
                        ).fetchall()
    conn.close()
    order_id = adds[0][0]
    assert order_id >= 36 ** 2  # its decimal and base-36 forms differ

    pg = page
    go(pg, "Ingest")
    pg.locator('input[type="file"]').first.set_input_files(str(BATS))
    settle(pg, expect="bats_mcastpitch_realtime.pcap: 40 messages, 0 rejects")
    assert "pcap" in grid_text(pg)

    go(pg, "Overview")
    cells = grid_text(pg)
    for name, n in BATS_TYPES.items():
        assert re.search(rf"{re.escape(name)} \| 0x[0-9A-F]{{2}} \| {n}\b", cells), (name, cells)

    pg.goto(f"{server}/messages?file=2&sort=file%2C+line")
    settle(pg, expect="All messages in file bats_mcastpitch_realtime.pcap: 40")
    html = pg.content() + grid_text(pg)
    for name in BATS_TYPES:
        assert name in html, name
    assert str(order_id) in grid_text(pg)  # decimal, as Wireshark shows it
    shot(pg, "7-binary-messages")
    with pg.expect_download() as info:
        pg.get_by_role("button", name=re.compile("CSV", re.I)).first.click()
    path = tmp_path / "binary.csv"
    info.value.save_as(path)
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 40
    assert Counter(r["message_type"] for r in rows) == BATS_TYPES
    assert rows[0]["packet"] and rows[0]["unit"] == "1"
    assert next(r["order_id"] for r in rows if r["type"] == "0x21") == str(order_id)
