"""The watched folder, with real file-system events (no mocked observer).

Each test drops files into a tmp inbox the way people and programs do (chunked
writes, write-then-rename, moves from elsewhere, files already there, a writer
still appending while the file is ingested) and waits on the watcher's own
steps (:meth:`Watcher.wait`), never on a sleep. Where the point is that
something does NOT happen yet, the watcher runs on a clock the test moves by
hand (:class:`Clock`): the test moves it past a window, waits until the worker
has looked again (:meth:`Watcher.wait_looked`), and only then checks.
The stability rules themselves are tested without threads on
:class:`pitch.inbox.Candidates`.
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
from types import SimpleNamespace

import pytest

from pitch import ingest, watch
from pitch.generate import write_file
from pitch.inbox import (CLOSED, RENAMED, UNKNOWN, WRITING, WRITING_SECONDS, Candidates,
                         free_name, ignored)
from pitch.watch import Watcher

ROOT = Path(__file__).resolve().parent.parent
STABLE = 0.3  # seconds: short, so the tests stay fast


SAMPLE = ROOT.parent / "shared" / "pitch_data.txt"


class Clock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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


def advance_until(w: Watcher, clock: Clock, done, step: float = 1.0,
                  limit: float = WRITING_SECONDS / 2) -> None:
    """Move the clock ``step`` at a time, letting the worker look after each move, until
    ``done()``; fail once ``limit`` seconds of clock time did not do it. (A late event
    may restart a window after a move: so moves, not one jump.)"""
    moved = 0.0
    while not done():
        assert moved < limit, f"not done after {moved} s on the clock"
        clock.advance(step)
        moved += step
        w.wait_looked()


# -- the rules, without threads: Candidates on a hand-moved clock and a fake stat ------------

def _fake_stat(sizes: dict[str, int]):
    def stat(path: str):
        if path not in sizes:
            raise FileNotFoundError(path)
        return SimpleNamespace(st_size=sizes[path], st_mtime_ns=sizes[path], st_mode=0o100644)
    return stat


@pytest.mark.parametrize("state, size, ready_after", [
    (RENAMED, 10, 0.0),  # a rename is atomic: complete at once
    (CLOSED, 10, STABLE),  # closed after writing: the short window
    (UNKNOWN, 10, 2.0),  # no event vouches for it: the stable window
    (WRITING, 10, WRITING_SECONDS),  # seen being written, no close yet: the long wait
    (RENAMED, 0, 2.0),  # an empty file may be a writer that has not begun
    (CLOSED, 0, 2.0),
])
def test_candidate_windows(state, size, ready_after) -> None:
    clock, sizes = Clock(), {"/in/f": size}
    c = Candidates(Path("/in"), 2.0, clock=clock, stat=_fake_stat(sizes))
    c.short_seconds = STABLE
    assert c.mark("/in/f", state)
    if ready_after:  # the window runs from the first look (the worker looks every tick)
        assert c.pop_ready() is None
        clock.advance(ready_after * 0.9)
        assert c.pop_ready() is None and c.names() == ["f"]
        clock.advance(ready_after * 0.2)
    assert c.pop_ready() == ("/in/f", (size, size)) and c.names() == []


def test_candidates_a_change_restarts_the_window_and_order_is_arrival() -> None:
    clock, sizes = Clock(), {"/in/a": 5, "/in/b": 5}
    c = Candidates(Path("/in"), 2.0, clock=clock, stat=_fake_stat(sizes))
    c.mark("/in/b", UNKNOWN)
    c.mark("/in/a", UNKNOWN)
    assert c.pop_ready() is None  # seen once: both start their window
    clock.advance(1.5)
    sizes["/in/b"] = 9  # b grows: its window starts again
    assert c.pop_ready() is None
    clock.advance(0.5)
    assert c.pop_ready() == ("/in/a", (5, 5))
    assert c.pop_ready() is None
    clock.advance(1.5)
    assert c.pop_ready() == ("/in/b", (9, 9))


def test_candidates_ignore_other_folders_and_temp_names_and_forget_deleted() -> None:
    clock, sizes = Clock(), {"/in/a": 5}
    c = Candidates(Path("/in"), 2.0, clock=clock, stat=_fake_stat(sizes))
    assert not c.mark("/elsewhere/a", RENAMED)
    assert not c.mark("/in/sub/a", RENAMED)
    assert not c.mark("/in/a.part", RENAMED) and not c.mark("/in/.a", RENAMED)
    c.mark("/in/gone", RENAMED)  # deleted before the worker looked
    c.mark("/in/a", WRITING)
    c.add("/in/a")  # a scan or a retry keeps what the events said
    assert c.names() == ["gone", "a"]
    assert c.pop_ready() is None and c.names() == ["a"]
    c.forget("/in/a")
    assert c.names() == []


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


def test_before_commit_failure_rolls_the_file_back(db, lines, tmp_path) -> None:
    path = tmp_path / "x.pitch"
    path.write_bytes(b"".join(lines[:500]))
    calls = []

    def refuse() -> None:
        calls.append(1)
        raise watch.FileChangedError("x.pitch: changed")

    with pytest.raises(watch.FileChangedError):
        ingest.ingest_path(db, path, before_commit=refuse)
    assert calls == [1] and files(db) == []
    assert db.execute("SELECT count(*) FROM messages").fetchone() == (0,)
    result = ingest.ingest_path(db, path, before_commit=lambda: calls.append(2))
    assert result.messages == 500 and calls == [1, 2]
    ingest.ingest_path(db, path, before_commit=refuse)  # a duplicate commits nothing: no check
    assert calls == [1, 2]


# -- the watcher with real events ---------------------------------------------------------------

def test_chunked_write_waits_for_close_and_lands_once_whole(make_watcher, inbox, db, lines):
    clock = Clock()
    w = make_watcher(clock=clock)
    path, part = inbox / "chunks.pitch", lines[:2000]
    with open(path, "wb") as fh:
        for i in range(0, len(part), 400):
            fh.write(b"".join(part[i:i + 400]))
            fh.flush()
            w.wait(lambda: w.candidates.states().get(str(path)) == WRITING)
            w.wait_looked()
            clock.advance(STABLE * 10)  # far past every window but the writer's
            w.wait_looked()
            assert files(db) == [], "ingested before the writer closed the file"
            assert w.status()["queue"] == ["chunks.pitch"]
    w.wait(lambda: w.candidates.states().get(str(path)) == CLOSED)
    advance_until(w, clock, lambda: names(inbox / "processed") == ["chunks.pitch"], step=STABLE)
    assert files(db) == [("chunks.pitch", 2000, "watch")]
    assert messages_of(db, "chunks.pitch") == 2000
    recent = w.status()["recent"]
    assert [(r["name"], r["status"], r["messages"]) for r in recent] == [("chunks.pitch", "ingested", 2000)]


def test_write_then_rename_and_move_from_elsewhere(make_watcher, inbox, db, lines, tmp_path):
    w = make_watcher()
    (inbox / "day1.pitch.part").write_bytes(b"".join(lines[:1000]))
    (inbox / ".day2.pitch").write_bytes(b"".join(lines[1000:2000]))
    # A file renamed in after them: once it is done, the worker has seen their events too.
    marker = tmp_path / "marker.pitch"
    marker.write_bytes(b"".join(lines[3000:3100]))
    os.rename(marker, inbox / "marker.pitch")
    w.wait(lambda: w.finished == 1)
    w.wait_looked()
    assert files(db) == [("marker.pitch", 100, "watch")]
    assert names(inbox) == [".day2.pitch", "day1.pitch.part"] and w.status()["queue"] == []
    os.rename(inbox / "day1.pitch.part", inbox / "day1.pitch")
    outside = tmp_path / "elsewhere.pitch"
    outside.write_bytes(b"".join(lines[2000:2500]))
    os.rename(outside, inbox / "elsewhere.pitch")
    w.wait(lambda: len(names(inbox / "processed")) == 3)
    assert sorted(files(db)) == [("day1.pitch", 1000, "watch"), ("elsewhere.pitch", 500, "watch"),
                                 ("marker.pitch", 100, "watch")]
    assert names(inbox) == [".day2.pitch"]  # the hidden file is never taken


def test_files_present_at_start_are_taken_oldest_first(make_watcher, inbox, db, lines):
    inbox.mkdir()
    now = time.time()
    for name, part, age in [("a_newer.pitch", lines[:300], 10), ("b_older.pitch", lines[300:800], 100)]:
        (inbox / name).write_bytes(b"".join(part))
        os.utime(inbox / name, (now - age, now - age))
    w = make_watcher()
    assert w.status()["queue"] == ["b_older.pitch", "a_newer.pitch"]
    w.wait(lambda: w.finished == 2)
    assert files(db) == [("b_older.pitch", 500, "watch"), ("a_newer.pitch", 300, "watch")]
    assert names(inbox / "processed") == ["a_newer.pitch", "b_older.pitch"]
    assert names(inbox) == []


def test_bad_file_goes_to_failed_with_reason_and_the_next_lands(make_watcher, inbox, db, lines):
    w = make_watcher()
    (inbox / "notes.txt").write_text("hello\nthis is not PITCH\n")
    (inbox / "empty.pitch").write_bytes(b"")
    (inbox / "good.pitch").write_bytes(b"".join(lines[:700]))
    w.wait(lambda: w.finished == 3)
    assert names(inbox / "processed") == ["good.pitch"]
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
    w.wait(lambda: w.finished == 1)
    for name in ("copy.pitch", "a.pitch"):  # the same content again, twice
        (inbox / name).write_bytes(data)
    w.wait(lambda: w.finished == 3)
    assert names(inbox / "processed") == ["a-1.pitch", "a.pitch", "copy.pitch"]
    assert files(db) == [("a.pitch", 600, "watch")]
    assert db.cursor().execute("SELECT count(*) FROM messages").fetchone()[0] == 600
    assert sorted(r["status"] for r in w.status()["recent"]) == ["duplicate", "duplicate", "ingested"]


def test_polling_mode(make_watcher, inbox, db, lines, tmp_path):
    clock = Clock()
    w = make_watcher(polling=True, clock=clock)
    assert w.status()["polling"] is True
    path = inbox / "polled.pitch"
    with open(path, "wb") as fh:
        for i in range(0, 1000, 250):
            fh.write(b"".join(lines[i:i + 250]))
            fh.flush()
            w.wait(lambda: "polled.pitch" in w.status()["queue"])
            w.wait_looked()
            clock.advance(STABLE / 3)  # shorter pauses than the window: one file, not four
            w.wait_looked()
            assert files(db) == [], "taken while its writer paused for less than the window"
    advance_until(w, clock, lambda: names(inbox / "processed") == ["polled.pitch"], step=STABLE)
    outside = tmp_path / "moved.pitch"
    outside.write_bytes(b"".join(lines[1000:1400]))
    os.rename(outside, inbox / "moved.pitch")
    advance_until(w, clock, lambda: len(names(inbox / "processed")) == 2, step=STABLE)
    assert sorted(files(db)) == [("moved.pitch", 400, "watch"), ("polled.pitch", 1000, "watch")]


@pytest.mark.slow
def test_stop_mid_ingest_leaves_the_file_and_the_next_start_takes_it_whole(db, inbox, lines):
    big = b"".join(lines) * 10  # 200,000 messages, 7.6 MB: two 4 MB chunks
    first = Watcher(db, inbox, stable_seconds=STABLE)
    first.start()
    (inbox / "big.pitch").write_bytes(big)
    first.wait(lambda: first.status()["current"] == "big.pitch", timeout=20)
    started = time.monotonic()
    first.stop()
    assert time.monotonic() - started < 5
    assert not first.running
    assert names(inbox) == ["big.pitch"] and names(inbox / "processed") == []
    assert files(db) == [] and db.cursor().execute("SELECT count(*) FROM messages").fetchone() == (0,)
    second = Watcher(db, inbox, stable_seconds=STABLE)
    second.start()
    try:
        second.wait(lambda: names(inbox / "processed") == ["big.pitch"], timeout=60)
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


# -- a writer still appending while the file is ingested (issue 11, item 1) ---------------------

def _appending(monkeypatch, tail: bytes, when: str) -> list[str]:
    """Make the watcher's first ingest see its file grow: ``when`` = "reading" appends at the
    first progress step (before the commit), "committed" right after ingest_path returns,
    "failing" appends and then fails as a half-written file can."""
    real, done = watch.ingest_path, []

    def ingest_path(conn, path, **kw):
        def append() -> None:
            if not done:
                done.append(str(path))
                with open(path, "ab") as fh:
                    fh.write(tail)

        if when == "reading":
            progress = kw["progress"]
            kw["progress"] = lambda *a: (append(), progress(*a))
            return real(conn, path, **kw)
        if when == "failing" and not done:
            append()
            raise ingest.IngestError(f"{Path(path).name}: cannot read: unexpected end of data")
        result = real(conn, path, **kw)
        append()
        return result

    monkeypatch.setattr(watch, "ingest_path", ingest_path)
    return done


def _lands_whole_once(db, inbox: Path, name: str, total: int) -> None:
    assert names(inbox / "processed") == [name] and names(inbox / "failed") == []
    assert names(inbox) == []
    assert files(db) == [(name, total, "watch")]
    count, lines_seen, first, last = db.cursor().execute(
        "SELECT count(*), count(DISTINCT line_no), min(line_no), max(line_no) FROM messages"
    ).fetchone()
    assert (count, lines_seen, first, last) == (total, total, 1, total)


@pytest.mark.parametrize("when, undone", [
    ("reading", "changed while being ingested (still being written?); rolled back"),
    ("committed", "changed while being committed; file 1 removed again"),
    ("failing", "changed while being ingested; rolled back"),
])
def test_a_file_that_grows_while_ingested_is_taken_again_and_lands_whole_once(
        make_watcher, monkeypatch, inbox, db, lines, tmp_path, when, undone):
    appended = _appending(monkeypatch, b"".join(lines[2000:2300]), when)
    reports: list[str] = []
    w = make_watcher(report=reports.append)
    source = tmp_path / "growing.pitch"
    source.write_bytes(b"".join(lines[:2000]))
    os.rename(source, inbox / "growing.pitch")
    w.wait(lambda: w.finished == 1)
    assert appended == [str(inbox / "growing.pitch")] and w.retried == 1
    _lands_whole_once(db, inbox, "growing.pitch", 2300)
    assert [r["status"] for r in w.status()["recent"]] == ["ingested"]
    assert reports[0] == f"growing.pitch: {undone}; taking it again once it is complete"
    assert reports[1].startswith("growing.pitch: 2,300 messages, 0 rejects")


@pytest.mark.slow
def test_a_big_file_appended_while_the_watcher_ingests_it_lands_whole_once(
        make_watcher, inbox, db, tmp_path):
    """The issue's reproduction, at a size a test can afford: a generated multi-MB file is
    renamed into the inbox and a writer appends to it as soon as the watcher takes it."""
    big, more = tmp_path / "big.pitch", tmp_path / "more.pitch"
    write_file(big, 200_000, seed=1)  # about 8 MB
    write_file(more, 20_000, seed=2)
    w = make_watcher()
    os.rename(big, inbox / "big.pitch")
    w.wait(lambda: w.status()["current"] == "big.pitch")
    with open(inbox / "big.pitch", "ab") as fh:  # the ingest has only begun: it is hashing
        fh.write(more.read_bytes())
    w.wait(lambda: w.finished == 1, timeout=120)
    assert w.retried >= 1
    _lands_whole_once(db, inbox, "big.pitch", 220_000)


# -- the command line ---------------------------------------------------------------------------

def _python(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _drained(lines_q: queue.Queue) -> str:
    """All a :func:`_reader` read, once its process has ended (its stream then closes)."""
    lines_q.thread.join(5)  # type: ignore[attr-defined]
    text = []
    while not lines_q.empty():
        text.append(lines_q.get())
    return "".join(text)


def _reader(stream) -> queue.Queue:
    lines_q: queue.Queue = queue.Queue()
    lines_q.thread = threading.Thread(  # type: ignore[attr-defined]
        target=lambda: [lines_q.put(ln) for ln in stream], daemon=True)
    lines_q.thread.start()  # type: ignore[attr-defined]
    return lines_q


RUN_CLI = ("import sys; from pitch.cli import main; "
           "sys.exit(main(['--db', sys.argv[2], 'watch', sys.argv[1]]))")
#: The same with Ctrl-C as a terminal gives it, and every thread's stack printed on
#: SIGUSR1 (for a stop that hangs). A test run started in the background by a
#: non-interactive shell (``cmd &``) ignores SIGINT, and its children inherit that:
#: then SIGINT did nothing and this test hung (found by that stack dump).
RUN_CLI_DUMPABLE = ("import faulthandler, signal; "
                    "signal.signal(signal.SIGINT, signal.default_int_handler); "
                    "faulthandler.register(signal.SIGUSR1, all_threads=True); " + RUN_CLI)


@pytest.mark.slow
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


@pytest.mark.slow
def test_cli_prints_one_line_per_file_and_stops_on_ctrl_c(tmp_path, inbox, lines):
    proc = _python(RUN_CLI_DUMPABLE, str(inbox), str(tmp_path / "cli.duckdb"))
    out, err = _reader(proc.stdout), _reader(proc.stderr)  # a full pipe would block the child
    try:
        assert out.get(timeout=20).startswith(f"watching {inbox} (file-system events)")
        (inbox / "one.pitch").write_bytes(b"".join(lines[:250]))
        line = out.get(timeout=30)
        assert re.fullmatch(r"one\.pitch: 250 messages, 0 rejects in \d+\.\d\d s "
                            r"-> processed/one\.pitch\n", line), line
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # say where it hangs: every thread's stack
            proc.send_signal(signal.SIGUSR1)
            time.sleep(1)
            proc.kill()
            proc.wait()
            pytest.fail("the watcher did not stop within 15 s of Ctrl-C:\n" + _drained(err))
    assert rc == 0 and "Traceback" not in _drained(err)
