"""Uploads and saved names are hardened; the server's defaults are safe.

- What is not PITCH (an image, a CSV, noise, terminal escapes) is refused in
  one clear line and stores nothing, in any table (AppTest, database read back).
- A file over the upload limit is stopped by Streamlit in the browser, and a
  client that skips the browser's check gets HTTP 413 from the server
  (headless chromium against `streamlit run app.py --server.maxUploadSize 1`).
- A file's name can carry path separators, control characters and 255 bytes:
  neither the stored name nor the watcher's processed/, failed/ and
  .error.txt files may keep them, and an odd name must not strand a file.
- Binary captures land whatever their extension: tests/test_binary_uploads.py.
- .streamlit/config.toml binds to 127.0.0.1, keeps XSRF protection on and
  sends no usage statistics.

test_app.py already covers: a text file, an empty file and a broken .gz
refused (sidebar counts only), and the page's own size check.
"""

from __future__ import annotations

import os
import random
import struct
import tomllib
import unicodedata
import zlib
from pathlib import Path

import pytest

from polling import wait_for
from pitch import ingest, store
from pitch.watch import Watcher

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "pitch_data.txt"
LINES = SHARED.read_bytes().splitlines(keepends=True)
TABLES = ("files", "messages", "rejects", "orders", "executions")


def png() -> bytes:
    """A real 8x8 red PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
    pixels = b"".join(b"\x00" + b"\xff\x00\x00" * 8 for _ in range(8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b""))


def clean(text: str) -> bool:
    """No control or other invisible-format character (newline, ESC, NUL, bidi marks)."""
    return not any(unicodedata.category(ch).startswith("C") for ch in text)


def db_state(path: Path) -> dict[str, object]:
    """Row counts of every table and the stored file names."""
    conn = store.connect(path)
    try:
        state: dict[str, object] = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                                    for t in TABLES}
        state["names"] = [r[0] for r in conn.execute("SELECT name FROM files ORDER BY file_id")
                          .fetchall()]
        return state
    finally:
        conn.close()


# --- uploads through the Ingest page (AppTest) ----------------------------------------

@pytest.fixture
def app_env(tmp_path, monkeypatch) -> Path:
    """A database holding the real sample; no watcher, no cached resources; yields its path."""
    import streamlit as st

    for key in [k for k in os.environ if k.startswith("PITCH_")]:
        monkeypatch.delenv(key)
    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("PITCH_DB", str(path))
    monkeypatch.setenv("PITCH_INBOX", str(tmp_path / "inbox"))
    monkeypatch.setenv("PITCH_NO_WATCH", "1")
    monkeypatch.setenv("PITCH_NO_SAMPLE", "1")
    conn = store.connect(path)
    ingest.ingest_path(conn, SHARED)
    conn.close()
    st.cache_data.clear()
    st.cache_resource.clear()
    yield path
    st.cache_data.clear()
    st.cache_resource.clear()


def upload(name: str, data: bytes, mime: str = "application/octet-stream"):
    """Open the Ingest page, upload one file, and close the app's connection after."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "explorer" / "router.py"), default_timeout=30)
    at.run()
    at.switch_page("../pages/ingest.py").run()
    at.file_uploader[0].set_value((name, data, mime)).run()
    assert not at.exception, at.exception
    from pitch import ui

    # The app holds one connection per process (pitch.ui.connection): close it so the
    # test can open the file; the next test's $PITCH_DB makes ui open a new one.
    ui.connection().close()
    st.cache_resource.clear()
    return at


@pytest.mark.parametrize("name, data, reason", [
    ("picture.png", png(), "non-ASCII byte 0x89"),
    ("trades.csv", b"time,type,symbol,shares,price\n28800011,A,AAPL,100,61.92\n",
     "not a PITCH file"),
    ("noise.bin", random.Random(1).randbytes(1 << 20), "not a PITCH file"),
    ("escape.txt", b"\x1b[2J\x1b[31mred\r\n\x00\x07", "not a PITCH file"),
    ("empty.pitch", b"", "file is empty"),
], ids=["png", "csv", "noise", "escapes", "empty"])
def test_a_non_pitch_upload_is_refused_in_one_line_and_stores_nothing(app_env, name, data,
                                                                       reason) -> None:
    before = db_state(app_env)
    at = upload(name, data)
    errors = [str(e.value) for e in at.error]
    assert len(errors) == 1, errors
    message = errors[0]
    assert message.startswith(f"{name}: ") and reason in message, message
    assert "nothing was loaded" in message and clean(message) and len(message) < 300, message
    assert not at.success
    assert db_state(app_env) == before  # no row in any table, the same names


@pytest.mark.parametrize("name, keeps", [
    ("../../etc/cron.d/evil.pitch", "evil.pitch"),
    ("..\\..\\windows\\evil.pitch", "evil.pitch"),
    ("two\nlines\x1b[31m.pitch", ".pitch"),
    ("nul\x00byte\u202eright-to-left.pitch", ".pitch"),
    ("x" * 5000 + ".pitch", ".pitch"),
], ids=["unix-path", "windows-path", "newline-escape", "nul-bidi", "5000-chars"])
def test_an_uploaded_name_is_stored_cleaned(app_env, name, keeps) -> None:
    at = upload(name, b"".join(LINES[:300]), "text/plain")
    assert [e.value for e in at.error] == []
    stored = db_state(app_env)["names"][-1]
    assert stored != "pitch_data.txt", "the upload did not land"
    assert "/" not in stored and "\\" not in stored and clean(stored), repr(stored)
    assert 0 < len(stored.encode()) <= 255 and stored.endswith(keeps), repr(stored)
    shown = " ".join(str(s.value) for s in at.success)
    assert clean(shown), repr(shown)
    # An upload is decoded in memory: nothing was written beside the database.
    assert sorted(p.name for p in app_env.parent.rglob("*") if "evil" in p.name) == []


# --- names the folder watcher saves (real file-system events) -------------------------

@pytest.fixture
def watcher(tmp_path):
    """A running watcher on tmp_path/inbox with its own database; yields (watcher, conn)."""
    conn = store.connect(tmp_path / "watch.duckdb")
    w = Watcher(conn, tmp_path / "inbox", stable_seconds=0.3)
    w.start()
    assert w.running, w.error
    yield w, conn
    w.stop()
    conn.close()


def drop(inbox: Path, name: str, data: bytes) -> None:
    """Write outside the inbox, then rename in: the watcher sees one complete file."""
    temp = inbox.parent / "incoming.tmp"
    temp.write_bytes(data)
    os.rename(temp, inbox / name)


def finished(w: Watcher, n: int) -> list[dict]:
    """The watcher's first n finished files, oldest first (waits for them)."""
    return wait_for(lambda: len(w.status()["recent"]) >= n and
                    list(reversed(w.status()["recent"]))[:n], timeout=15.0)


LONG = "L" * 249 + ".pitch"  # 255 bytes: the longest name Linux allows


@pytest.mark.parametrize("name", ["two\nlines\x1b[31m.pitch", LONG, "ok name é.pitch"],
                         ids=["newline-escape", "255-bytes", "plain"])
@pytest.mark.parametrize("good", [True, False], ids=["pitch", "not-pitch"])
def test_watcher_moves_any_name_out_of_the_inbox_and_saves_clean_names(watcher, name,
                                                                        good) -> None:
    w, conn = watcher
    drop(w.inbox, name, b"".join(LINES[:200]) if good else b"hello\x1b[2J\n")
    entry = finished(w, 1)[0]
    assert entry["status"] == ("ingested" if good else "failed"), entry
    assert clean(entry["name"]) and (entry["error"] is None) == good, entry
    left = [p.name for p in w.inbox.iterdir() if p.is_file()]
    assert left == [], f"stranded in the inbox: {left!r} ({entry['error']})"
    folder = w.inbox / ("processed" if good else "failed")
    saved = sorted(p.name for p in folder.iterdir())
    assert all(clean(n) and len(n.encode()) <= 255 for n in saved), saved
    if good:
        assert len(saved) == 1
        stored = conn.execute("SELECT name FROM files").fetchall()
        assert len(stored) == 1 and clean(stored[0][0]), stored
    else:
        reasons = [n for n in saved if n.endswith(".error.txt")]
        assert len(saved) == 2 and len(reasons) == 1, saved
        text = (folder / reasons[0]).read_text()
        assert text.endswith("\n") and clean(text[:-1]) and "not a PITCH file" in text, text


def test_watcher_same_long_name_twice_gets_a_free_name_that_fits(watcher) -> None:
    w, _ = watcher
    drop(w.inbox, LONG, b"".join(LINES[:100]))
    finished(w, 1)
    drop(w.inbox, LONG, b"".join(LINES[100:200]))
    entries = finished(w, 2)
    assert [e["status"] for e in entries] == ["ingested", "ingested"], entries
    saved = sorted(p.name for p in (w.inbox / "processed").iterdir())
    assert len(saved) == 2 and all(len(n.encode()) <= 255 for n in saved), saved
    assert [p.name for p in w.inbox.iterdir() if p.is_file()] == []


# --- the size limit, in the browser and at the server ---------------------------------

@pytest.mark.browser
def test_upload_over_the_limit_is_stopped_in_the_browser_and_by_the_server(tmp_path) -> None:
    from playwright.sync_api import sync_playwright

    from browser_support import CHROMIUM, FLAGS, streamlit_server

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run ./run-tests.sh"
    db = tmp_path / "limit.duckdb"
    env = {"PITCH_DB": str(db), "PITCH_INBOX": str(tmp_path / "inbox"), "PITCH_NO_SAMPLE": "1",
           "PITCH_NO_WATCH": "1"}
    big = b"".join(LINES) * 3  # 2.3 MB of real PITCH: only its size is wrong
    with streamlit_server(tmp_path, env, "--server.maxUploadSize", "1") as url, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        pg = browser.new_page()
        pg.set_default_timeout(60_000)
        puts = []
        pg.on("request", lambda r: puts.append(r) if r.method == "PUT" else None)
        pg.goto(f"{url}/ingest")
        pg.wait_for_function("() => document.body.innerText.includes('1 MB per file')")
        chooser = pg.locator('input[type="file"]').first

        # A small image goes up and is refused by the page, in one line.
        chooser.set_input_files({"name": "picture.png", "mimeType": "image/png", "buffer": png()})
        pg.wait_for_function("() => document.body.innerText.includes('nothing was loaded')")
        alert = pg.locator('[data-testid="stAlertContentError"]').first.inner_text()
        assert "picture.png: not a PITCH file" in alert, alert
        assert len(puts) == 1
        put_url, headers = puts[0].url, puts[0].all_headers()

        # 2.3 MB: Streamlit's uploader refuses it before sending a byte.
        chooser.set_input_files({"name": "big.pitch", "mimeType": "text/plain", "buffer": big})
        pg.wait_for_function("() => document.body.innerText.includes('File must be 1.0MB or "
                             "smaller')")
        pg.wait_for_timeout(1000)
        assert len(puts) == 1, [r.url for r in puts]

        # A client that skips the browser's check: the server answers 413 and keeps nothing;
        # without the XSRF token it answers 403.
        token = headers["x-xsrftoken"]
        form = {"file": {"name": "big.pitch", "mimeType": "text/plain", "buffer": big}}
        assert pg.request.put(put_url, multipart=form, headers={"X-Xsrftoken": token}
                              ).status == 413
        small = {"file": {"name": "a.pitch", "mimeType": "text/plain", "buffer": LINES[0]}}
        assert pg.request.put(put_url, multipart=small).status == 403
        assert pg.request.put(put_url, multipart=small, headers={"X-Xsrftoken": "2|0|0|0"}
                              ).status == 403
        pg.wait_for_function("""() => /\\b0 messages\\s+0 files/.test(document.querySelector(
            '[data-testid="stSidebarUserContent"]')?.innerText || '')""")
        assert pg.locator('[data-testid="stException"]').count() == 0
        browser.close()
    assert db_state(db) == {**{t: 0 for t in TABLES}, "names": []}


# --- the server's defaults ------------------------------------------------------------

def test_config_binds_locally_keeps_xsrf_and_sends_no_statistics() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"].get("enableCORS", True) is True  # not turned off
    assert config["browser"]["gatherUsageStats"] is False
    assert isinstance(config["server"]["maxUploadSize"], int)
    assert 0 < config["server"]["maxUploadSize"] <= 1024
    # run-app.sh must not undo them on the command line.
    script = (ROOT / "run-app.sh").read_text()
    for flag in ("server.address", "enableXsrfProtection", "enableCORS", "gatherUsageStats"):
        assert flag not in script, flag
