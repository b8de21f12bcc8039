"""The watched folder, with real file-system events (no mocked observer).

Each test drops files into a tmp inbox the way people and programs do (chunked
writes, write-then-rename, moves from elsewhere, files already there) and
waits with a deadline for the database and the folders to show the outcome.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from polling import wait_for
from pitch import watch
from pitch.watch import Watcher, free_name, ignored

ROOT = Path(__file__).resolve().parent.parent
STABLE = 0.3  # seconds: short, so the tests stay fast


SAMPLE = ROOT.parent / "shared" / "pitch_data.txt"


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    """The real sample's lines, each ending in a newline; slices make distinct files."""
    return [ln + b"\n" for ln in SAMPLE.read_bytes().splitlines()]


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    return tmp_path / "inbox"


@pytest.fixture
def make_watcher(db, inbox: Path):
    made: list[Watcher] = []

    def make(**kw) -> Watcher:
        kw.setdefault("stable_seconds", STABLE)
        w = Watcher(db, inbox, **kw)
        made.append(w)
        w.start()
        assert w.running, w.error
        return w

    yield make
    for w in made:
        w.stop()


def files(db) -> list[tuple]:
    return db.cursor().execute(
        "SELECT name, messages, source FROM files ORDER BY file_id").fetchall()


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.exists() else []


def messages_of(db, name: str) -> int:
    return db.cursor().execute("SELECT count(*) FROM messages JOIN files USING (file_id) "
                               "WHERE files.name = ?", [name]).fetchone()[0]


@pytest.mark.parametrize("name, skip", [
    ("day.pitch", False), ("day", False), ("DAY.TXT", False), ("a.pitch.gz", False),
    (".hidden", True), ("day.pitch.tmp", True), ("day.PART", True), ("x.partial", True),
    ("x.crdownload", True), ("day.pitch~", True),
])
def test_ignored_names(name: str, skip: bool) -> None:
    assert ignored(name) is skip


def test_free_name_adds_a_numeric_suffix(tmp_path: Path) -> None:
    assert free_name(tmp_path, "a.pitch") == tmp_path / "a.pitch"
    (tmp_path / "a.pitch").write_text("x")
    (tmp_path / "a-1.pitch.error.txt").write_text("x")  # a failed file's reason holds the name too
    assert free_name(tmp_path, "a.pitch") == tmp_path / "a-2.pitch"


def test_chunked_write_waits_for_close_and_lands_once_whole(make_watcher, inbox, db, lines):
    w = make_watcher()
    part = lines[:2000]
    with open(inbox / "chunks.pitch", "wb") as fh:
        for i in range(0, len(part), 400):
            fh.write(b"".join(part[i:i + 400]))
            fh.flush()
            time.sleep(STABLE * 1.7)  # stalls longer than the stable window: still not done
            assert files(db) == [], "ingested before the writer closed the file"
    wait_for(lambda: names(inbox / "processed") == ["chunks.pitch"])
    assert files(db) == [("chunks.pitch", 2000, "watch")]
    assert messages_of(db, "chunks.pitch") == 2000
    recent = w.status()["recent"]
    assert [(r["name"], r["status"], r["messages"]) for r in recent] == [("chunks.pitch", "ingested", 2000)]


def test_write_then_rename_and_move_from_elsewhere(make_watcher, inbox, db, lines, tmp_path):
    make_watcher()
    (inbox / "day1.pitch.part").write_bytes(b"".join(lines[:1000]))
    (inbox / ".day2.pitch").write_bytes(b"".join(lines[1000:2000]))
    time.sleep(STABLE * 3)
    assert files(db) == [] and names(inbox) == [".day2.pitch", "day1.pitch.part"]
    os.rename(inbox / "day1.pitch.part", inbox / "day1.pitch")
    outside = tmp_path / "elsewhere.pitch"
    outside.write_bytes(b"".join(lines[2000:2500]))
    os.rename(outside, inbox / "elsewhere.pitch")
    wait_for(lambda: len(names(inbox / "processed")) == 2)
    assert sorted(files(db)) == [("day1.pitch", 1000, "watch"), ("elsewhere.pitch", 500, "watch")]
    assert names(inbox) == [".day2.pitch"]  # the hidden file is never taken


def test_files_present_at_start_are_taken_oldest_first(make_watcher, inbox, db, lines):
    inbox.mkdir()
    for name, part, age in [("a_newer.pitch", lines[:300], 10), ("b_older.pitch", lines[300:800], 100)]:
        (inbox / name).write_bytes(b"".join(part))
        past = time.time() - age
        os.utime(inbox / name, (past, past))
    w = make_watcher()
    assert w.status()["queue"] == ["b_older.pitch", "a_newer.pitch"]
    wait_for(lambda: len(files(db)) == 2)
    assert files(db) == [("b_older.pitch", 500, "watch"), ("a_newer.pitch", 300, "watch")]
    wait_for(lambda: names(inbox / "processed") == ["a_newer.pitch", "b_older.pitch"])
    assert names(inbox) == []


def test_bad_file_goes_to_failed_with_reason_and_the_next_lands(make_watcher, inbox, db, lines):
    w = make_watcher()
    (inbox / "notes.txt").write_text("hello\nthis is not PITCH\n")
    (inbox / "empty.pitch").write_bytes(b"")
    (inbox / "good.pitch").write_bytes(b"".join(lines[:700]))
    wait_for(lambda: names(inbox / "processed") == ["good.pitch"])
    wait_for(lambda: len(names(inbox / "failed")) == 4)
    assert names(inbox / "failed") == ["empty.pitch", "empty.pitch.error.txt",
                                      "notes.txt", "notes.txt.error.txt"]
    reason = (inbox / "failed" / "notes.txt.error.txt").read_text()
    assert reason.startswith("notes.txt: not a PITCH file") and "line 1" in reason
    assert (inbox / "failed" / "empty.pitch.error.txt").read_text() == "empty.pitch: file is empty\n"
    assert files(db) == [("good.pitch", 700, "watch")]
    status = w.status()
    assert status["running"] and status["queue"] == [] and status["current"] is None
    failed = {r["name"]: r for r in status["recent"] if r["status"] == "failed"}
    assert failed["notes.txt"]["error"] == reason.strip()
    assert set(failed) == {"notes.txt", "empty.pitch"}


def test_duplicate_adds_nothing_and_names_do_not_collide(make_watcher, inbox, db, lines):
    w = make_watcher()
    data = b"".join(lines[5000:5600])
    (inbox / "a.pitch").write_bytes(data)
    wait_for(lambda: names(inbox / "processed") == ["a.pitch"])
    for name in ("copy.pitch", "a.pitch"):  # the same content again, twice
        (inbox / name).write_bytes(data)
    wait_for(lambda: len(names(inbox / "processed")) == 3)
    assert names(inbox / "processed") == ["a-1.pitch", "a.pitch", "copy.pitch"]
    assert files(db) == [("a.pitch", 600, "watch")]
    assert db.cursor().execute("SELECT count(*) FROM messages").fetchone()[0] == 600
    assert sorted(r["status"] for r in w.status()["recent"]) == ["duplicate", "duplicate", "ingested"]


def test_polling_mode(make_watcher, inbox, db, lines, tmp_path):
    w = make_watcher(polling=True)
    assert w.status()["polling"] is True
    with open(inbox / "polled.pitch", "wb") as fh:
        for i in range(0, 1000, 250):
            fh.write(b"".join(lines[i:i + 250]))
            fh.flush()
            time.sleep(STABLE / 3)  # shorter pauses than the window: one file, not four
    outside = tmp_path / "moved.pitch"
    outside.write_bytes(b"".join(lines[1000:1400]))
    os.rename(outside, inbox / "moved.pitch")
    wait_for(lambda: len(names(inbox / "processed")) == 2)
    assert sorted(files(db)) == [("moved.pitch", 400, "watch"), ("polled.pitch", 1000, "watch")]


def test_stop_mid_ingest_leaves_the_file_and_the_next_start_takes_it_whole(db, inbox, lines):
    big = b"".join(lines) * 10  # 200,000 messages, 7.6 MB: two 4 MB chunks
    first = Watcher(db, inbox, stable_seconds=STABLE)
    first.start()
    (inbox / "big.pitch").write_bytes(big)
    wait_for(lambda: first.status()["current"] == "big.pitch", timeout=20)
    started = time.monotonic()
    first.stop()
    assert time.monotonic() - started < 5
    assert not first.running
    assert names(inbox) == ["big.pitch"] and names(inbox / "processed") == []
    assert files(db) == [] and db.cursor().execute("SELECT count(*) FROM messages").fetchone() == (0,)
    second = Watcher(db, inbox, stable_seconds=STABLE)
    second.start()
    try:
        wait_for(lambda: names(inbox / "processed") == ["big.pitch"], timeout=60)
    finally:
        second.stop()
    assert files(db) == [("big.pitch", 200_000, "watch")]


def test_app_watcher_is_one_per_process(monkeypatch, db, inbox):
    monkeypatch.setenv("PITCH_INBOX", str(inbox))
    monkeypatch.setenv("PITCH_WATCH_POLLING", "1")
    monkeypatch.setattr(watch, "_app", None)
    got: list[Watcher] = []
    threads = [threading.Thread(target=lambda: got.append(watch.app_watcher(db))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert len(got) == 4 and all(w is got[0] for w in got)
        status = got[0].status()
        assert status["running"] and status["polling"] and status["folder"] == str(inbox)
        assert (inbox / "processed").is_dir() and (inbox / "failed").is_dir()
    finally:
        got[0].stop()


def _python(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _reader(stream) -> queue.Queue:
    lines_q: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines_q.put(ln) for ln in stream], daemon=True).start()
    return lines_q


RUN_CLI = ("import sys; from pathlib import Path; from pitch.watch import run_cli; "
           "sys.exit(run_cli(Path(sys.argv[1]), Path(sys.argv[2]), False))")


def test_cli_says_in_one_line_when_the_database_is_held(tmp_path, inbox):
    db_file = tmp_path / "held.duckdb"
    holder = _python("import sys, time; from pitch import store; c = store.connect(sys.argv[1]); "
                     "print('ready', flush=True); time.sleep(30)", str(db_file))
    try:
        assert holder.stdout.readline().strip() == "ready"
        cli = subprocess.run([sys.executable, "-c", RUN_CLI, str(inbox), str(db_file)], cwd=ROOT,
                             text=True, capture_output=True, timeout=30)
    finally:
        holder.kill()
        holder.wait()
    assert cli.returncode == 1 and cli.stdout == ""
    assert cli.stderr == (f"error: database {db_file} is in use by another process; drop the "
                          f"file into the running app's inbox ({inbox}) instead\n")


def test_cli_prints_one_line_per_file_and_stops_on_ctrl_c(tmp_path, inbox, lines):
    proc = _python(RUN_CLI, str(inbox), str(tmp_path / "cli.duckdb"))
    out = _reader(proc.stdout)
    try:
        assert out.get(timeout=20).startswith(f"watching {inbox} (file-system events)")
        (inbox / "one.pitch").write_bytes(b"".join(lines[:250]))
        line = out.get(timeout=30)
        assert re.fullmatch(r"one\.pitch: 250 messages, 0 rejects in \d+\.\d\d s "
                            r"-> processed/one\.pitch\n", line), line
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=15)
    assert rc == 0 and "Traceback" not in proc.stderr.read()
