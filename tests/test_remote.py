"""The command line beside a running app: the same bytes through its API as from the file.

A real `streamlit run app.py` holds the database. Every command is run while it
does (through the API, since DuckDB refuses the file to a second process) and
again once it has stopped (opening the file): stdout, stderr and the exit code
must be the same. Then the address record: removed at exit, and a stale one
(dead process, nothing answering, another process) is not trusted.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from browser_support import ROOT, clean_env, free_port, streamlit_server
from conftest import SHARED_SAMPLE
from pitch import cli, remote, store

BAD_FILE = (b"S28800011AAK27GA0000DTS000100SH    0000619200Y\n"
            b"Sthis is not a message\n"
            b'Sbad,line "quoted"\n')
TYPES_SQL = ("SELECT file_id, name, size, messages, rejects, finished_at, seconds, "
             "CASE WHEN file_id = 3 THEN NULL ELSE file_id * 10 END AS maybe, "
             "(size / 7)::DECIMAL(18,4) AS price, DATE '2026-11-30' + file_id AS day, "
             "file_id > 1 AS later, [file_id, file_id + 1] AS ids, {'a': file_id} AS s, "
             "'x,y \"q\"' AS text, 'AB'::BLOB AS raw, 2::UBIGINT ** 40 AS big, "
             "NULL AS nothing, 1 AS n, 2 AS n FROM files ORDER BY file_id")
#: (argv, stdin) run through the app and then from the file; outputs compared byte for byte.
COMMANDS: list[tuple[list[str], str | None]] = [
    *[(["counts", *f], None) for f in ([], ["--format", "csv"], ["--format", "json"])],
    (["top-symbols", "-n", "5"], None), (["top-symbols", "--format", "json"], None),
    (["top-symbols", "-n", "3", "--format", "csv"], None),
    *[(["files", *f], None) for f in ([], ["--format", "csv"], ["--format", "json"])],
    (["rejects"], None), (["rejects", "--file", "3", "--format", "csv"], None),
    (["rejects", "--limit", "1", "--format", "json"], None), (["rejects", "--limit", "0"], None),
    (["rejects", "--file", "99"], None),
    *[(["query", TYPES_SQL, *f], None) for f in ([], ["--format", "csv"], ["--format", "json"])],
    (["query", "SELECT * FROM messages ORDER BY file_id, line_no", "--row-limit", "3"], None),
    (["query", "-", "--format", "csv"], "SELECT symbol, count(*) AS n FROM orders GROUP BY ALL "
                                         "ORDER BY n DESC, symbol LIMIT 4"),
    (["query", "DROP TABLE files"], None), (["query", "SELECT * FROM nowhere"], None),
    (["query", "SELECT 1; SELECT 2"], None),
    (["ingest", str(SHARED_SAMPLE)], None),  # already there: no timing in its line
    *[(["book", "SH", "--at", "08:01:00.5", "--levels", "3", *f], None)
      for f in ([], ["--format", "csv"], ["--format", "json"])],
    (["book", "SH", "--at", "08:00:00"], None), (["book", "NOPE", "--at", "08:00"], None),
    *[(["bbo", "SH", *f], None) for f in ([], ["--format", "csv"])],
]


def run_cli(argv: list[str], stdin: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin or "")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
    finally:
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()


def timeless(text: str) -> str:
    return re.sub(r" in \d+\.\d\d s", " in N s", text)


@pytest.fixture
def env(tmp_path, monkeypatch):
    db = tmp_path / "cli.duckdb"
    monkeypatch.setenv("PITCH_DB", str(db))
    monkeypatch.delenv("PITCH_API_TOKEN", raising=False)
    for name in ("PITCH_SQL_ROW_LIMIT", "PITCH_SQL_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def server_env(tmp: Path, **extra: str) -> dict[str, str]:
    return {"PITCH_DB": str(tmp / "cli.duckdb"), "PITCH_INBOX": str(tmp / "inbox"),
            "PITCH_NO_SAMPLE": "1", "PITCH_NO_WATCH": "1", **extra}


def test_the_cli_beside_the_app_prints_what_it_prints_alone(env) -> None:
    db = env / "cli.duckdb"
    generated = env / "generated.pitch"
    assert run_cli(["generate", str(generated), "--messages", "20000", "--seed", "3"])[0] == 0
    (env / "bad.pitch").write_bytes(BAD_FILE)
    (env / "notes.txt").write_bytes(b"hello\n" * 100)
    ingest_all = ["ingest", str(SHARED_SAMPLE), str(generated), str(env / "bad.pitch"),
                  str(env / "notes.txt"), str(env / "missing.pitch")]
    with streamlit_server(env, server_env(env)):
        app = remote.find_app(db.resolve())
        assert app is not None and app.pid == json.loads(
            remote.record_path(db).read_text())["pid"]
        landed = run_cli(ingest_all)
        through_app = [run_cli(argv, stdin) for argv, stdin in COMMANDS]
        # And from another process, as a person would type it.
        typed = subprocess.run([sys.executable, "-m", "pitch", "counts", "--format", "csv"],
                               cwd=ROOT, env={**clean_env(), "PITCH_DB": str(db)},
                               capture_output=True, text=True, timeout=120)
    assert not remote.record_path(db).exists(), "the record outlived the app"
    code, out, err = landed
    assert code == 1 and out.splitlines()[0].startswith("pitch_data.txt: 20,000 messages, 0 rejects")
    assert f"error: {env / 'missing.pitch'}: no such file or folder" in err
    assert "error: notes.txt: not a PITCH file" in err
    assert (typed.returncode, typed.stdout) == (0, run_cli(["counts", "--format", "csv"])[1])
    alone = [run_cli(argv, stdin) for argv, stdin in COMMANDS]
    for (argv, _), got, want in zip(COMMANDS, through_app, alone):
        assert got == want, argv
    assert "already ingested as file 1" in through_app[COMMANDS.index(
        (["ingest", str(SHARED_SAMPLE)], None))][1]
    assert "note: only the first 3 rows are shown" in through_app[COMMANDS.index(
        (["query", "SELECT * FROM messages ORDER BY file_id, line_no", "--row-limit", "3"],
         None))][2]
    # The same files ingested without the app: the same lines, but for the timings.
    os.remove(db)
    assert timeless(run_cli(ingest_all)[1]) == timeless(out)
    assert run_cli(ingest_all)[2] == err


def test_with_a_token_the_cli_needs_it_too(env, monkeypatch) -> None:
    (env / "bad.pitch").write_bytes(BAD_FILE)
    with streamlit_server(env, server_env(env, PITCH_API_TOKEN="tok-123")):
        code, out, err = run_cli(["counts"])
        assert (code, out) == (1, "")
        assert err.startswith("error: the app holding the database needs its token: set "
                              "PITCH_API_TOKEN"), err
        monkeypatch.setenv("PITCH_API_TOKEN", "tok-123")
        assert run_cli(["ingest", str(env / "bad.pitch")])[1].startswith("bad.pitch: 1 messages")
        through_app = run_cli(["files", "--format", "csv"])
    monkeypatch.delenv("PITCH_API_TOKEN")
    assert through_app == run_cli(["files", "--format", "csv"])


def test_a_record_left_behind_is_not_trusted(env) -> None:
    db = env / "cli.duckdb"
    store.connect(db).close()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    port = free_port()  # nothing listens there
    for record in ({"pid": dead.pid, "port": port}, {"pid": os.getpid(), "port": port},
                   "not json"):
        text = record if isinstance(record, str) else json.dumps({
            "host": "127.0.0.1", "port": record["port"], "pid": record["pid"],
            "token_required": False, "url": f"http://127.0.0.1:{record['port']}/api/v1"})
        remote.record_path(db).write_text(text)
        assert remote.find_app(db.resolve()) is None, record
        assert run_cli(["counts"]) == (0, "message_type  count\n------------  -----\n(no rows)\n", "")
    # Stale record, and the file held by another process: the usual "in use".
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pitch import store; "
                               f"c = store.connect({str(db)!r}); print('open', flush=True); "
                               "sys.stdin.read()"], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        code, out, err = run_cli(["counts"])
        assert (code, out) == (1, "") and "is in use by another process" in err, err
    finally:
        holder.stdin.close()
        holder.wait(30)


def test_a_record_answered_by_another_process_is_not_trusted(env) -> None:
    other = env / "other"
    other.mkdir()
    db = env / "cli.duckdb"
    store.connect(db).close()
    with streamlit_server(other, server_env(other)) as base:
        real = json.loads(remote.record_path(other / "cli.duckdb").read_text())
        # A record beside our file naming that server, but not its process.
        remote.record_path(db).write_text(json.dumps({**real, "pid": os.getpid()}))
        assert remote.find_app(db.resolve()) is None
        assert run_cli(["counts"])[0] == 0  # opened the file itself
        assert remote.find_app((other / "cli.duckdb").resolve()).url == f"{base}/api/v1"


def test_the_record_is_written_and_removed_by_its_own_process(tmp_path) -> None:
    db = tmp_path / "x.duckdb"
    path = remote.write_record(db, "0.0.0.0", 8501, True)
    data = json.loads(path.read_text())
    assert data == {"host": "127.0.0.1", "port": 8501, "pid": os.getpid(), "token_required": True,
                    "url": "http://127.0.0.1:8501/api/v1", "database": str(db)}
    assert remote.write_record(db, "::", 1, False).read_text().count('"http://[::1]:1/api/v1"') == 1
    path.write_text(json.dumps({**data, "pid": 1}))  # another app wrote it since
    remote.remove_record(path)
    assert path.exists()
    remote.write_record(db, "127.0.0.1", 8501, False)
    remote.remove_record(path)
    assert not path.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary file left either
