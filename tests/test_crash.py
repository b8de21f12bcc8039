"""A process killed in the middle of an ingest leaves the database as if it never started.

A child process ingests a large generated file and reports progress to a file;
the test SIGKILLs it at several points (early, mid-way, late, and just after the
last chunk while it derives and commits), reopens the database each time, and
finally ingests the same file to completion.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pitch import ingest, store

pytestmark = pytest.mark.slow  # SIGKILLs four child ingests of an 800,000-line file

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "pitch_data.txt"
REPEATS = 40  # x 20,000 real lines = 800,000 lines, about 37 MB
BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

CHILD = """
import sys
from pitch import ingest, store
db, path, progress_file = sys.argv[1:4]
def progress(done, total, stage):
    with open(progress_file, "w") as fh:
        fh.write(f"{done} {total}")
conn = store.connect(db)
ingest.ingest_path(conn, path, progress=progress, chunk_size=1 << 20)
with open(progress_file, "w") as fh:
    fh.write("committed")
"""


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> tuple[Path, int]:
    """The real lines repeated, each copy with its own order ids (chars 1-2 of the id)."""
    lines = [l for l in REAL.read_bytes().splitlines() if l.strip()]
    assert all(l[:1] == b"S" and chr(l[9]) in "AXEP" for l in lines)  # order id at 10..21
    heads, tails = [l[:10] for l in lines], [l[12:] + b"\n" for l in lines]
    path = tmp_path_factory.mktemp("big") / "big.pitch"
    with open(path, "wb") as fh:
        for rep in range(REPEATS):
            tag = (BASE36[rep // 36] + BASE36[rep % 36]).encode()
            fh.write(b"".join(h + tag + t for h, t in zip(heads, tails)))
    return path, len(lines) * REPEATS


def read_progress(path: Path) -> float | str | None:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    if text == "committed":
        return text
    try:
        done, total = map(int, text.split())
    except ValueError:
        return None  # caught between truncate and write
    return done / total


def kill_at(db: Path, data: Path, tmp: Path, fraction: float) -> str:
    """Run the child until its progress reaches ``fraction``, SIGKILL it; return what it reached."""
    progress = tmp / f"progress-{fraction}"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(data), str(progress)],
                             cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 60
    reached: float | str | None = None
    try:
        while time.monotonic() < deadline and child.poll() is None:
            reached = read_progress(progress)
            if reached == "committed" or (isinstance(reached, float) and reached >= fraction):
                break
            time.sleep(0.005)
        assert child.poll() is None, f"child ended before the kill (exit {child.returncode})"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    return "committed" if reached == "committed" else f"{reached:.0%}"


def test_killed_ingest_leaves_nothing_and_can_be_redone(tmp_path, big_file):
    data, lines = big_file
    db = tmp_path / "crash.duckdb"
    store.connect(db).close()  # schema exists before the first kill
    survived = []
    for fraction in (0.2, 0.5, 0.85, 1.0):  # 1.0: after the last chunk, deriving/committing
        reached = kill_at(db, data, tmp_path, fraction)
        conn = store.connect(db)  # the database opens after every kill
        try:
            files = conn.execute("SELECT count(*), coalesce(sum(messages), 0) FROM files").fetchone()
            counts = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                      for t in ("messages", "rejects", "orders", "executions")]
        finally:
            conn.close()
        if files[0] and (reached == "committed" or fraction == 1.0):
            # Killed just after its COMMIT: then the file must be whole.
            assert files == (1, lines) and counts[0] == lines, (reached, files, counts)
            break
        assert files == (0, 0) and counts == [0, 0, 0, 0], (fraction, reached, files, counts)
        survived.append(reached)
    assert len(survived) >= 3, survived
    print(f"kills survived at progress {survived}")
    conn = store.connect(db)
    try:
        result = ingest.ingest_path(conn, data)
        if result.status == "ingested":
            assert (result.messages, result.rejects) == (lines, 0)
        stored = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        files = conn.execute("SELECT count(*), min(status) FROM files").fetchone()
        orders = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
        adds = conn.execute("SELECT count(*) FROM messages WHERE type = 'A'").fetchone()[0]
    finally:
        conn.close()
    assert stored == lines and files == (1, "ingested") and orders == adds == 10_361 * REPEATS
